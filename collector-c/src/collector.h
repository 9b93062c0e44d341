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
#include "qos.h"

struct pi_collector;

/* An extra node-level probe for a non-CPU backend (SessionConfig.probes). */
struct pi_probe_spec {
	const char *library;  /* file name or path pattern */
	const char *function;
	uint32_t tensor_arg;  /* 0-based argument holding the ggml_tensor * */
	const char *backend;
};

struct pi_collector_opts {
	enum pi_level level;
	bool structure;		   /* capture graph structure (node level needs it) */
	uint32_t ring_buffer_kib;  /* 0: default (16 MiB) */
	int out_fd;		   /* trace output, owned by the caller */
	const char *layout;	   /* NULL/"auto", a profile name, or key=offset overrides */
	const char *session_id;
	enum pi_node_probes node_probes; /* node level: auto (default), two, one */
	bool moe;		   /* expert ids of every MUL_MAT_ID node (expert_routing.h) */
	bool sched;		   /* sched_switch / sched_waking of the targets' threads */
	const char *btf_path;	   /* NULL, or a BTF file for kernels without their own (--sched; the
				    * exit status of targets it did not start) */
	const char *counters;	   /* NULL or "page-faults,cycles,...": counters per node (perf_counters.h) */
	/* Level switching (pi_collector__set_level) and QoS (qos.h). */
	uint32_t sample_every_n_tokens; /* node level on one token in N (0, 1: every token) */
	struct pi_qos_rule qos;		/* min_tokens_per_s 0: measure only */
	const char *const *op_filter;	/* validated op names; not applied in BPF yet */
	size_t n_op_filter;
	const struct pi_probe_spec *probes; /* validated (config and --probe) */
	size_t n_probes;
	bool backend_probes; /* --backend-probes: warn when no built-in spec's function exists */
	bool verbose;
};

struct pi_collector_stats {
	uint64_t events;	     /* records read from the ring buffer */
	uint64_t tokens, graphs, node_rows, structures;
	uint64_t lost[16];	     /* per pi_event_kind: dropped in BPF */
	uint64_t lost_total;
	uint64_t unattributed;	     /* node records without their graph */
	uint64_t bytes_written;
	uint64_t output_lost;	     /* packets that could not be written (full disk...) */
	uint64_t modules_attached;
	/* Backends (backend_probes.h): graphs of non-CPU backends, CPU graphs
	 * named from their backend's guid, probe spec calls recorded, and
	 * those whose tensor could not be read (recorded without op/name). */
	uint64_t backend_graphs, cpu_graphs_by_guid, backend_nodes, backend_nodes_unread;
	/* --sched: scheduler events recorded, and lost (not reserved in BPF,
	 * or dropped before they were written). */
	uint64_t sched_events, sched_lost;
};

/* Every event not recorded: dropped in BPF, unattributed, unwritten,
 * scheduler events lost. What the closing line and SessionStatus report. */
static inline uint64_t pi_collector_stats__lost(const struct pi_collector_stats *s)
{
	return s->lost_total + s->unattributed + s->output_lost + s->sched_lost;
}

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

/* An fd that becomes readable when the ring buffer has records (epoll it
 * in an event loop, then call pi_collector__poll(c, 0)). The BPF side wakes
 * it only every quarter of the buffer, so poll on a timer too. */
int pi_collector__fd(const struct pi_collector *c);

/* Detaches every probe, drains what is left, writes the loss totals and
 * SessionEnd. */
/* exit_code: the target's exit code or -signal; INT32_MIN (PI_EXIT_CODE_UNKNOWN)
 * when the caller cannot know it (not the target's parent). */
int pi_collector__finish(struct pi_collector *c, const char *reason, int exit_code);

/* For a target the caller did not start: how it ended (its exit code or
 * -signal, seen by bpf/proc_exit.bpf.c), or INT32_MIN while it runs or where
 * that cannot be known (no BTF). The first target that has exited. */
int pi_collector__target_exit_code(const struct pi_collector *c);

void pi_collector__stats(const struct pi_collector *c, struct pi_collector_stats *s);

/* Changes the tracing level while the session runs (a client's SetLevel):
 * detaches the probes above `level`, or attaches them again, in every
 * attached file of every target; token and graph events go on. Tokens
 * record at the level their llama_decode began with (TokenEvent.node_level),
 * and a LevelChange packet names the first token recorded whole at the new
 * level. Up to the session's own level only (-EOPNOTSUPP above it: its
 * probes were not planned). Returns 0 or -errno. */
int pi_collector__set_level(struct pi_collector *c, enum pi_level level, const char *reason);

/* The level in force (the QoS rule may have lowered it). */
enum pi_level pi_collector__level(const struct pi_collector *c);

/* The latest QoS figures (qos.h): the last periodic sample, with the
 * current window rate and level. */
void pi_collector__qos(const struct pi_collector *c, struct pi_qos_sample *out);

struct pi_level_switch_cost;
/* What attaching / detaching probes has cost so far (level_switch.h). */
void pi_collector__level_cost(const struct pi_collector *c, struct pi_level_switch_cost *out);

#endif
