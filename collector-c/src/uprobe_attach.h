/* Attaching uprobes: one uprobe_multi link per program and file where the
 * kernel has it (Linux 6.6+), one perf-event uprobe per address otherwise. */
#ifndef PI_UPROBE_ATTACH_H
#define PI_UPROBE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct bpf_program;
struct bpf_link;

/* Whether this kernel supports uprobe_multi links (probed once). */
bool pi_uprobe_multi__supported(void);

/* Prepares a program, before load, for the attach mode in use. */
int pi_uprobe__prepare(struct bpf_program *prog, bool multi);

/* Whether BPF programs here can read a per-address cookie
 * (bpf_get_attach_cookie for uprobes, Linux 5.15+; probed once). */
bool pi_uprobe_cookie__supported(void);

/* Attaches `prog` at `n` file offsets of `path` for `pid`, with a BPF cookie
 * per offset (cookies may be NULL). Each link made is passed to keep(); on
 * failure, links already kept stay with the caller. */
int pi_uprobe__attach(struct bpf_program *prog, bool multi, bool retprobe, pid_t pid,
		      const char *path, const unsigned long *offsets, const __u64 *cookies, size_t n,
		      int (*keep)(void *ctx, struct bpf_link *l), void *ctx);

#endif
