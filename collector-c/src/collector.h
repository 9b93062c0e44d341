/* The collector core: one profiling session of one or more llama.cpp
 * processes. Loads the BPF programs, finds the engine's code in every target
 * (executable, libraries, libraries dlopen'ed later), attaches the probes,
 * drains the ring buffer and writes the v1 trace. Front ends (main.c, the
 * service, the node addon) drive it with pi_collector__poll(). */
#ifndef PI_COLLECTOR_H
#define PI_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "probe_plan.h"

struct pi_collector;

struct pi_collector_opts {
	enum pi_level level;
	bool structure;		   /* capture graph structure (node level needs it) */
	uint32_t ring_buffer_kib;  /* 0: default (16 MiB) */
	int out_fd;		   /* trace output, owned by the caller */
	const char *layout;	   /* NULL/"auto", a profile name, or key=offset overrides */
	const char *session_id;
	enum pi_node_probes node_probes; /* node level: auto (default), two, one */
	bool verbose;
};

struct pi_collector_stats {
	uint64_t events;	     /* records read from the ring buffer */
	uint64_t tokens, graphs, node_rows, structures;
	uint64_t lost[16];	     /* per pi_event_kind: dropped in BPF */
	uint64_t lost_total;
	uint64_t unattributed;	     /* node records without their graph */
	uint64_t bytes_written;
	uint64_t modules_attached;
};

/* Returns 0 or -errno; writes a one-line reason into err. */
int pi_collector__new(const struct pi_collector_opts *o, struct pi_collector **out, char *err,
		      size_t errlen);
void pi_collector__free(struct pi_collector *c);

/* Profiles `pid` from now on: attaches to every engine file it has mapped
 * and to its dynamic loader, so libraries it loads later are found too. */
int pi_collector__add_pid(struct pi_collector *c, pid_t pid, char *err, size_t errlen);
/* For a child that has not exec'ed yet: attaches to `exe` (and its
 * interpreter) for `pid` before it runs. */
int pi_collector__add_pid_before_exec(struct pi_collector *c, pid_t pid, const char *exe, char *err,
				      size_t errlen);

/* Whether any probe of the engine is attached (token level at least). */
bool pi_collector__has_engine(const struct pi_collector *c);

/* Whether the session had to stop (a wrong struct layout): the front end
 * exits non-zero. */
bool pi_collector__failed(const struct pi_collector *c);

/* Waits up to timeout_ms for records and processes them. Returns the number
 * of records handled, or -errno (-EINTR when interrupted). */
int pi_collector__poll(struct pi_collector *c, int timeout_ms);

/* Detaches every probe, drains what is left, writes the loss totals and
 * SessionEnd. */
int pi_collector__finish(struct pi_collector *c, const char *reason, int exit_code);

void pi_collector__stats(const struct pi_collector *c, struct pi_collector_stats *s);

#endif
