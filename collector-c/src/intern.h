/* String interning for the trace: each distinct string gets an iid once and
 * is written once, in an InternedStrings packet before its first use. */
#ifndef PI_INTERN_H
#define PI_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pi_intern;

struct pi_intern *pi_intern__new(void);
void pi_intern__free(struct pi_intern *t);
/* Returns the iid of `s` (> 0), 0 on allocation failure. *is_new tells
 * whether the caller must write it out. */
uint32_t pi_intern__get(struct pi_intern *t, const char *s, bool *is_new);
/* The string of an iid, or NULL. */
const char *pi_intern__str(const struct pi_intern *t, uint32_t iid);

#endif
