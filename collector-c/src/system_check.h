/* `profinferd --check`: what this kernel and this binary support, each
 * feature with what a session loses without it. Probes the kernel the way
 * libbpf does (load a two-instruction program, create a link that must fail
 * in a known way), so it needs the same privileges as a session. */
#ifndef PI_SYSTEM_CHECK_H
#define PI_SYSTEM_CHECK_H

#include <stdbool.h>
#include <stdio.h>

/* Prints the report (a table, or one JSON object) to `to`. Returns 0 when a
 * session can record at least token and graph level, 1 when it cannot. */
int pi_system_check(FILE *to, bool json);

#endif
