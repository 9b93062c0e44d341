/* Turns the raw BPF records of bpf/llama.bpf.c into whole graphs: the
 * structure of each distinct graph, and per graph and thread the rows of
 * node events with compute and barrier time. Pure: no I/O; results go to a
 * sink. */
#ifndef PI_GRAPH_ASSEMBLER_H
#define PI_GRAPH_ASSEMBLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "profinfer_events.h"

struct pi_structure {
	uint64_t id;
	uint32_t tgid;
	uint64_t cgraph;
	uint32_t n_nodes;
	uint32_t n_received;
	bool emitted;
	struct pi_struct_node_event *nodes; /* by index; tensor 0: not received */
	struct pi_struct_src_event *srcs;   /* distinct non-node sources */
	size_t n_srcs, cap_srcs;
	struct pi_tensor_index *by_tensor;  /* sorted, built on first use */
	uint64_t last_use;		    /* assembler clock of the last graph using it */
};

/* Structures kept in memory: beyond this many, the least recently used are
 * evicted (llama.cpp rebuilds graphs with new uids, e.g. at a context
 * shift, and BPF captures each anew: the old ones are never used again). */
#define PI_MAX_LIVE_STRUCTURES 64
#define PI_LIVE_STRUCTURES_AFTER_EVICTION 48

struct pi_tensor_index {
	uint64_t tensor;
	uint32_t index;
};

struct pi_node_row {
	uint64_t tensor;
	uint64_t start_ns;
	uint64_t end_first_ns; /* first barrier call after the start */
	uint64_t end_last_ns;  /* last barrier call before the next start */
	uint32_t node_index;
	uint32_t last_index; /* one-probe mode: the unit's last node */
	uint32_t end_index;  /* one-probe mode: the end that closed it */
	uint8_t fused;
};

/* One-probe node level: a barrier call that ended a unit on one thread. */
struct pi_node_end {
	uint64_t ts_ns;
	uint32_t counter; /* node_n + 1 (0 at the final site) */
	bool final;
};

struct pi_thread_rows {
	uint32_t tid;
	uint32_t ith;
	struct pi_node_row *rows;
	size_t n, cap;
	struct pi_node_end *ends; /* one-probe mode, in arrival order */
	size_t n_ends, cap_ends;
	bool ith_known;
	/* Counters (pi_assembler__set_counters): parallel to rows (two-probe:
	 * the first and the last barrier call) and to ends (one-probe). */
	struct pi_pmc_delta *pmc_first, *pmc_last, *end_pmc;
	size_t cap_pmc, cap_end_pmc;
	/* Filled at graph end. */
	uint64_t *compute_ns, *barrier_ns;
	/* Per row: the deltas; bit k of .valid set only where counter k was
	 * measured over exactly this row's span (see counter_spans_barrier). */
	struct pi_pmc_delta *row_pmc;
};

struct pi_graph {
	uint64_t graph_id;
	uint32_t tgid, tid;
	uint64_t start_ns, end_ns;
	uint64_t cgraph, uid;
	int32_t n_nodes;
	uint64_t structure_id;
	struct pi_thread_rows *threads;
	size_t n_threads, cap_threads;
	bool ended;
	/* One probe per node: a row's counter deltas run from the thread's
	 * previous barrier call, so they include the previous row's barrier. */
	bool counter_spans_barrier;
};

struct pi_assembler_stats {
	uint64_t node_rows;	     /* rows delivered */
	uint64_t node_unattributed;  /* node records of a graph never seen begin */
	uint64_t node_unresolved;    /* tensor not in the graph's structure */
	uint64_t node_ith_derived;   /* one-probe threads whose ith was not read */
	uint64_t structures;
	uint64_t structures_incomplete;
	uint64_t structures_evicted;
	uint64_t graphs;
	uint64_t graphs_unfinished;  /* still open at the end (target died mid-graph) */
	/* Counters: row x counter cells measured or not, and why rows were not. */
	uint64_t counter_measured;
	uint64_t counter_unmeasured;
	uint64_t counter_rows_no_base;	  /* first row of a thread, or its base record lost */
	uint64_t counter_rows_migrated;
	uint64_t counter_rows_switched;
	uint64_t counter_cells_not_read;  /* read failed or counter not running throughout */
};

struct pi_assembler_sink {
	void *ctx;
	/* Called once per structure, before the first graph that uses it. */
	void (*structure)(void *ctx, const struct pi_structure *s);
	/* Called at graph end with every thread's rows resolved. */
	void (*graph)(void *ctx, const struct pi_graph *g, const struct pi_structure *s);
	/* Called with the ids of structures evicted from memory: BPF must not
	 * map a graph to them any more. */
	void (*evicted)(void *ctx, const uint64_t *ids, size_t n);
};

struct pi_assembler;

/* The index of the node computing `tensor` (index may be NULL). */
bool pi_structure__node_index(const struct pi_structure *s, uint64_t tensor, uint32_t *index);

struct pi_assembler *pi_assembler__new(const struct pi_assembler_sink *sink);
void pi_assembler__free(struct pi_assembler *a);

/* Feeds one record (already checked for its size). Returns 0 or -errno. */
int pi_assembler__graph_begin(struct pi_assembler *a, const struct pi_graph_begin_event *e);
int pi_assembler__graph_end(struct pi_assembler *a, const struct pi_graph_end_event *e);
int pi_assembler__node(struct pi_assembler *a, const struct pi_node_event *e);
int pi_assembler__node_end(struct pi_assembler *a, const struct pi_node_end_event *e);
/* The same with counter deltas (records of pi_node_pmc_event and
 * pi_node_end_pmc_event); needs pi_assembler__set_counters() first. */
int pi_assembler__node_pmc(struct pi_assembler *a, const struct pi_node_event *e,
			   const struct pi_pmc_delta *pmc);
int pi_assembler__node_end_pmc(struct pi_assembler *a, const struct pi_node_end_event *e,
			       const struct pi_pmc_delta *pmc);
/* How many counter slots the node records carry (0: none, the default). */
int pi_assembler__set_counters(struct pi_assembler *a, uint32_t n);

/* GGML's op names of the engine (EngineInfo.op_names): one-probe rows skip
 * the nodes GGML's loop skips, the empty ops among them, by name. */
int pi_assembler__set_op_names(struct pi_assembler *a, const char *const *names, size_t n);
int pi_assembler__struct_node(struct pi_assembler *a, const struct pi_struct_node_event *e);
int pi_assembler__struct_src(struct pi_assembler *a, const struct pi_struct_src_event *e);

/* Delivers graphs still open (their end is the last row seen). */
void pi_assembler__flush(struct pi_assembler *a, uint64_t now_ns);
const struct pi_assembler_stats *pi_assembler__stats(const struct pi_assembler *a);

#endif
