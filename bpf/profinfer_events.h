/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Records shared by the BPF programs (bpf/NAME.bpf.c) and the collector
 * (collector-c/src/event_reader.c). Nothing else belongs in this file. */
#ifndef PROFINFER_EVENTS_H
#define PROFINFER_EVENTS_H

#ifndef PI_MAX_NAME
#define PI_MAX_NAME 64
#endif
#ifndef PI_STRUCT_SRCS
#define PI_STRUCT_SRCS 4 /* sources recorded per node in a structure capture */
#endif
#ifndef PI_STRUCT_OP_PARAMS
#define PI_STRUCT_OP_PARAMS 4
#endif
#ifndef PI_MAX_GRAPH_NODES
#define PI_MAX_GRAPH_NODES 65536
#endif

enum pi_event_kind {
	PI_EV_TOKEN = 1,	 /* one llama_decode call, emitted on return */
	PI_EV_GRAPH_BEGIN = 2,	 /* a CPU graph compute started */
	PI_EV_GRAPH_END = 3,	 /* ... and returned */
	PI_EV_NODE = 4,		 /* one node (or fused group) on one thread */
	PI_EV_STRUCT_NODE = 5,	 /* structure capture: one graph node */
	PI_EV_STRUCT_SRC = 6,	 /* structure capture: one source of a node */
	PI_EV_LIB_LOADED = 7,	 /* the dynamic loader added a library */
	PI_EV_THREAD = 8,	 /* first record of a thread: its name */
	PI_EV_NODE_END = 9,	 /* one-probe node level: a unit ended on one thread */
	PI_EV_EXPERT = 10,	 /* --moe: expert ids of one MUL_MAT_ID node (a chunk) */
	PI_EV_BACKEND_GRAPH_BEGIN = 11, /* ggml_backend_graph_compute_async entry */
	PI_EV_BACKEND_GRAPH_END = 12,	/* ... and return */
	PI_EV_BACKEND_NODE = 13,	/* one call of a backend probe spec's function */
	PI_EV_KIND_MAX = 14,
};

/* Indexes of the per-kind loss counters (map `lost`). */
#define PI_LOST_SLOTS PI_EV_KIND_MAX

/* Which probe site closed or opened a node row. */
enum pi_node_site {
	PI_SITE_DISPATCH = 0, /* call of the per-node dispatcher (tensor in arg 2) */
	PI_SITE_FUSED = 1,    /* call of a fused kernel (first tensor in arg 2) */
};

struct pi_hdr {
	__u8 kind;
	__u8 flags;
	__u16 aux;
	__u32 tid;
	__u32 tgid;
	__u32 cpu;
};

struct pi_token_event {
	struct pi_hdr hdr;
	__u64 start_ns;
	__u64 end_ns;
	__u64 ctx;
	__s32 n_tokens;
	__s32 result;
	/* CPU compute graphs (and graphs of other backends) the call ran while
	 * its probes were attached: 0 for a successful call means its graphs
	 * ran before the engine's library was attached. */
	__u32 graphs;
	__u32 pad;
};

struct pi_graph_begin_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 ts_ns;
	__u64 cgraph;
	__u64 uid;
	__u64 structure_id; /* 0: structure not captured for this graph */
	__s32 n_nodes;
	__u32 captured;	    /* 1: STRUCT_* records for structure_id follow */
};

struct pi_graph_end_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 ts_ns;
};

/* hdr.flags: number of extra nodes fused into this row; hdr.aux: thread index (ith). */
struct pi_node_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 tensor;
	__u64 start_ns;
	__u64 end_ns;
};

/* One-probe node level (node_loop_barrier): a barrier call of the compute
 * loop. hdr.flags: PI_NODE_END_FINAL at the barrier after the loop; hdr.aux:
 * thread index (ith), PI_ITH_UNKNOWN when not read. */
#ifndef PI_NODE_END_FINAL
#define PI_NODE_END_FINAL 1
#define PI_ITH_UNKNOWN 0xffff
#endif
struct pi_node_end_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 ts_ns;
	__u32 counter; /* node_n + 1 of the unit that ended (in-loop sites) */
	__u32 pad;
};

/* node_loop_barrier's BPF cookie, per attach address:
 *   bits  0-31  s32: [rsp + disp] holds node_n + 1 (PI_NLB_STACK)
 *   bits 32-39  where node_n + 1 is: PI_NLB_FINAL (not read), _STACK, _REG
 *   bits 40-47  pt_regs index (PI_NLB_REG)
 *   bits 48-63  1 + rsp displacement of the loop's ggml_compute_params
 *               (its ith is at layout.params_ith), 0: unknown */
#ifndef PI_NLB_FINAL
#define PI_NLB_FINAL 0
#define PI_NLB_STACK 1
#define PI_NLB_REG 2
#define PI_NLB_LOC_SHIFT 32
#define PI_NLB_REG_SHIFT 40
#define PI_NLB_PARAMS_SHIFT 48
#endif

/* Counters per node (--counters): one perf event per CPU and counter in the
 * map `pmc`, at index cpu * PI_PMC_SLOTS + slot; the last slot of each CPU
 * is the guard (context switches on that CPU), which tells whether the
 * thread was switched out between two readings. */
#ifndef PI_MAX_COUNTERS
#define PI_MAX_COUNTERS 8
#define PI_PMC_SLOTS (PI_MAX_COUNTERS + 1)
#define PI_PMC_GUARD PI_MAX_COUNTERS
/* pi_pmc_delta.why: whether the row's two readings can be compared at all. */
#define PI_PMC_OK 0
#define PI_PMC_NO_BASE 1  /* no earlier reading of this thread in this graph */
#define PI_PMC_MIGRATED 2 /* the readings were taken on different CPUs */
#define PI_PMC_SWITCHED 3 /* the CPU switched tasks in between (guard moved) */
#endif

/* Counter deltas carried by node records when counters are on: the record is
 * then struct pi_node_pmc_event / pi_node_end_pmc_event (told by its size). */
struct pi_pmc_delta {
	__u64 base_ts_ns; /* when the earlier reading was taken (0: none) */
	__u32 base_cpu;
	__u8 why;	  /* PI_PMC_* */
	__u8 valid;	  /* bit k: delta[k] read at both ends, counter ran throughout */
	__u16 pad;
	__u64 delta[PI_MAX_COUNTERS];
};

struct pi_node_pmc_event {
	struct pi_node_event node; /* delta: node start to this barrier call */
	struct pi_pmc_delta pmc;
};

struct pi_node_end_pmc_event {
	struct pi_node_end_event end; /* delta: this thread's previous end to this one */
	struct pi_pmc_delta pmc;
};

/* --moe: the ids tensor (src[2], I32, ne[0] x ne[1], rows nb[1] apart) of a
 * MUL_MAT_ID node, read by thread 0 when the node starts (its inputs are
 * final then; by the graph's end GGML's allocator has reused their memory).
 * A node's rows come in chunks: data holds the raw bytes from row row_first
 * to the end of row row_first + n_rows - 1, stride included. BPF counts a
 * node it could not send whole in `lost` (a diagnostic: the trace's count
 * comes from the structure, collector-c/src/expert_routing.c). */
#ifndef PI_EXPERT_CHUNK_BYTES
#define PI_EXPERT_CHUNK_BYTES 8192
#define PI_EXPERT_MAX_CHUNKS 64
#define PI_EXPERT_MAX_USED 64 /* ne[0] above this is not an ids tensor we read */
#endif
struct pi_expert_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 tensor; /* the MUL_MAT_ID node */
	__u64 ids;    /* its src[2] */
	__u64 ts_ns;
	__s64 ne[4];  /* of the ids tensor */
	__u64 nb1;
	__u32 type;   /* of the ids tensor (GGML_TYPE_I32) */
	__u32 row_first;
	__u32 n_rows;
	__u32 n_bytes; /* of data that follow */
	__u8 data[PI_EXPERT_CHUNK_BYTES];
};

struct pi_struct_node_event {
	struct pi_hdr hdr;
	__u64 structure_id;
	__u32 index;
	__u32 op;
	__u32 type;
	__s32 flags;
	__u64 tensor;
	__s64 ne[4];
	__u64 src[PI_STRUCT_SRCS];
	__u64 view_src;
	__s32 op_params[PI_STRUCT_OP_PARAMS];
	char name[PI_MAX_NAME];
};

struct pi_struct_src_event {
	struct pi_hdr hdr;
	__u64 structure_id;
	__u64 tensor;
	__u64 data;
	__u32 op;
	__u32 type;
	__s64 ne[4];
	char name[PI_MAX_NAME];
};

struct pi_thread_event {
	struct pi_hdr hdr;
	char comm[16];
};

struct pi_lib_event {
	struct pi_hdr hdr;
	__u64 ts_ns;
};

/* Per-thread state (map `threads`); the collector reads it to see whether a
 * token is still in flight when it stops. */
struct pi_thread_state {
	__u64 token_start_ns; /* 0: not inside llama_decode */
	__u64 token_ctx;
	__s32 token_n_tokens;
	__u32 node_fused;
	__u64 node_start_ns; /* 0: no node open on this thread */
	__u64 node_tensor;
	__u64 node_graph_id;
	__u32 node_ith;
	__u32 token_level; /* level_now when this thread's llama_decode began (enum pi_level) */
	__u64 graph_id; /* graph this thread started (graph_enter) */
	__u32 token_graphs; /* graphs seen inside this thread's llama_decode */
	__u32 pad;
};

/* Backends (collector-c/src/backend_ids.c, backend_probes.c): the generic
 * graph entry reads ggml_backend.guid (a pointer at offset 0 of struct
 * ggml_backend) and the 16 bytes it points to. hdr.flags: 1 when the guid
 * was read. graph_id: 0 for the CPU backend's graphs (cpu_guid), whose
 * GraphEvent comes from graph_enter; a fresh id otherwise. */
#ifndef PI_GUID_LEN
#define PI_GUID_LEN 16
#define PI_BACKEND_GUID_READ 1
#endif
struct pi_backend_graph_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 ts_ns;	/* entry (BEGIN) or return (END) */
	__u64 backend;	/* ggml_backend_t */
	__u64 cgraph;
	__s32 n_nodes;
	__u32 pad;
	__u8 guid[PI_GUID_LEN];
};

/* One call of a probe spec's function (entry to return) on one thread.
 * hdr.aux: the spec's index (the BPF cookie); hdr.flags: 1 when the tensor
 * was read. graph_id: the backend graph this thread is in (0: none seen). */
struct pi_backend_node_event {
	struct pi_hdr hdr;
	__u64 graph_id;
	__u64 tensor;
	__u64 start_ns;
	__u64 end_ns;
	__u32 op;
	__u32 type;
	__s64 ne[4];
	char name[PI_MAX_NAME];
};

/* Offsets into the target's structs (a layout profile, set as rodata). */
struct pi_layout {
	__u32 tensor_type;
	__u32 tensor_ne;
	__u32 tensor_op;
	__u32 tensor_op_params;
	__u32 tensor_flags;
	__u32 tensor_src;
	__u32 max_src;
	__u32 tensor_view_src;
	__u32 tensor_data;
	__u32 tensor_name;
	__u32 cgraph_n_nodes;
	__u32 cgraph_nodes;
	__u32 cgraph_uid; /* 0: this GGML has no graph uid */
	__u32 params_ith;
};

#endif /* PROFINFER_EVENTS_H */
