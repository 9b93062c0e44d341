/* Builds v1 trace packets from what the collector learned and appends them
 * to the trace (stream_writer.h). Owns string interning and remembers which
 * threads, processes and structures were already described. */
#ifndef PI_TRACE_EMIT_H
#define PI_TRACE_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "graph_assembler.h"
#include "probe_plan.h"
#include "profinfer_events.h"
#include "qos.h"

struct pi_writer;
struct pi_emit;

struct pi_session_desc {
	const char *session_id;
	int level;	   /* TraceLevel */
	bool structure;
	const char *layout_name;
	const struct pi_layout *layout;
	bool layout_override;
	const pid_t *pids;
	size_t n_pids;
	uint32_t ring_buffer_kib;
	const char *const *counters; /* --counters entries, as requested */
	size_t n_counters;
	uint32_t sample_every_n_tokens;
	const struct pi_qos_rule *qos; /* NULL: none */
	bool sched;			/* --sched: scheduler events of the targets */
	bool moe;			/* --moe: expert ids of MUL_MAT_ID nodes */
	const char *const *op_filter;	/* node rows of these ops only (empty: all) */
	size_t n_op_filter;
};

struct pi_emit *pi_emit__new(struct pi_writer *w);
void pi_emit__free(struct pi_emit *e);

int pi_emit__session(struct pi_emit *e, const struct pi_session_desc *d);
int pi_emit__process(struct pi_emit *e, pid_t pid);
/* Describes a thread the first time it is seen (name from /proc, or given). */
int pi_emit__thread(struct pi_emit *e, uint32_t tgid, uint32_t tid);
int pi_emit__thread_named(struct pi_emit *e, uint32_t tgid, uint32_t tid, const char *name);
int pi_emit__module(struct pi_emit *e, pid_t pid, const char *path, const char *build_id,
		    const struct pi_probe_plan *plan, const char *how, uint64_t attached_at_ns);
int pi_emit__engine(struct pi_emit *e, pid_t pid, char *const *op_names, size_t n_ops,
		    char *const *unary_names, size_t n_unary, char *const *glu_names, size_t n_glu);
int pi_emit__token(struct pi_emit *e, const struct pi_token_event *t, uint64_t seq, bool node_level);
/* op_unary / op_glu: the engine's UNARY and GLU op numbers (-1: unknown),
 * whose function (GraphNode.sub_op) is op_params[0]. */
int pi_emit__structure(struct pi_emit *e, const struct pi_structure *s, int op_unary, int op_glu);
int pi_emit__graph(struct pi_emit *e, const struct pi_graph *g);
/* The same, naming the backend that ran it (pi_emit__graph: "CPU"). */
int pi_emit__graph_on(struct pi_emit *e, const struct pi_graph *g, const char *backend);
/* One call of a backend probe spec's function; op_name NULL: the tensor
 * was not read (or its op is out of range), its fields are left out. */
int pi_emit__backend_node(struct pi_emit *e, const struct pi_backend_node_event *n, const char *backend,
			  const char *function, const char *op_name);
/* Counters per node (perf_counters.h): a CounterDescriptor, once per
 * counter near the session start, and the counter id of each BPF slot, so
 * node batches carry their rows' deltas (n == 0: none). */
int pi_emit__counter(struct pi_emit *e, uint32_t id, const char *name, const char *kind,
		     uint32_t perf_type, uint64_t perf_config, bool live, const char *error);
int pi_emit__set_counters(struct pi_emit *e, const uint32_t *id_by_slot, size_t n);
/* --moe: the expert ids one MUL_MAT_ID node chose (expert_routing.h), n_tokens
 * rows of n_expert_used. */
int pi_emit__expert_routing(struct pi_emit *e, uint32_t pid, uint64_t graph_id, uint32_t node_index,
			    int32_t layer, uint32_t n_expert_used, uint32_t n_tokens,
			    const int32_t *ids, uint64_t ts_ns);
/* lost/recorded are indexed by EventKind; n entries each. */
int pi_emit__loss(struct pi_emit *e, uint64_t ts_ns, const uint64_t *lost, const uint64_t *recorded,
		  size_t n);
/* A waitpid()-style status as SessionEnd's exit code: the code, or -signal. */
static inline int pi_exit_code_of(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : 0;
}

/* exit_code: the target's wait status (code, or -signal); PI_EXIT_CODE_UNKNOWN
 * where the collector could not learn it. */
#define PI_EXIT_CODE_UNKNOWN INT32_MIN

int pi_emit__end(struct pi_emit *e, uint64_t ts_ns, const char *reason, int exit_code,
		 const uint64_t *lost, const uint64_t *recorded, size_t n);

/* Levels are enum pi_level, which has TraceLevel's numbers. seq: the first
 * TokenEvent.seq recorded whole at `to` (0: none before the session ended). */
int pi_emit__level_change(struct pi_emit *e, uint64_t ts_ns, enum pi_level from, enum pi_level to,
			  const char *reason, uint64_t first_complete_token_seq);
int pi_emit__qos(struct pi_emit *e, const struct pi_qos_sample *q);

/* Packets that could not be encoded or written. */
uint64_t pi_emit__failed(const struct pi_emit *e);

#endif
