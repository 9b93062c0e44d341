/* exit_watch.h: the exit status of target processes the collector did not
 * start (bpf/proc_exit.bpf.c), so a session that ends with its target says
 * how the target ended instead of "unknown". Best effort: where the program
 * cannot load (no BTF and no --btf), every status stays unknown. */
#ifndef PI_EXIT_WATCH_H
#define PI_EXIT_WATCH_H

#include <sys/types.h>

struct pi_exit_watch;

/* Loads and attaches the program; NULL where it cannot (the reason, one
 * line, in err). btf_path: as pi_sched_tracer__new's. */
struct pi_exit_watch *pi_exit_watch__new(const char *btf_path, char *err, size_t errlen);
void pi_exit_watch__free(struct pi_exit_watch *w);

/* Watches process `tgid` from now on. Returns 0 or -errno. */
int pi_exit_watch__add(struct pi_exit_watch *w, pid_t tgid);

/* 0 and *exit_code (the code, or -signal, as trace_emit.h's SessionEnd
 * wants it) once `tgid` has exited; -EAGAIN while it runs; -ENOENT when it
 * is not watched. */
int pi_exit_watch__status(const struct pi_exit_watch *w, pid_t tgid, int *exit_code);

#endif
