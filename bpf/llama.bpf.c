// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Token, graph and node probes for llama.cpp / GGML.
 *
 * The collector attaches these programs to addresses it found in the
 * engine's own code (collector-c/src/probe_plan.c):
 *   token_enter / token_exit   llama_decode entry and return
 *   graph_enter / graph_exit   ggml_graph_compute entry and return (CPU)
 *   node_dispatch              the call of the per-node dispatcher inside the
 *                              compute loop (every non-fused node, any op,
 *                              inlined or not: the tensor is its argument 2)
 *   node_fused                 the call of a fused kernel (same argument)
 *   node_barrier               the call of ggml_barrier inside the loop
 *   node_loop_barrier          one probe per unit instead of the three above:
 *                              the loop's guarded barrier calls, reading the
 *                              loop counter where the BPF cookie says
 * Probes sit on `call` instructions, which the kernel emulates instead of
 * single-stepping, and on function entries just after `endbr64`.
 *
 * Hot records are submitted without waking the reader (it polls on a timer)
 * unless a quarter of the ring is waiting: no probe pays for a wake-up.
 */
#include "uprobe_regs.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "profinfer_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the collector once it knows the engine's GGML version, before the
 * probes that read it are attached (a global, not rodata, for that reason). */
struct pi_layout layout = {};
const volatile bool capture_structure = true;
/* Wake the reader only once this much is waiting (set to a quarter of the
 * ring): no wake-up per event, yet a burst cannot fill the ring between two
 * timed polls. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* Set by the collector when it stops: no new token starts, tokens in flight
 * finish, so the trace ends on a token boundary. */
bool stopping = false;
/* Benchmarks only (PROFINFER_TRAP_ONLY=1): node probes return at once, so
 * what remains is the cost of the trap itself. */
bool trap_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the collector before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PI_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* LRU: engines that make a thread pool per graph leave dead threads behind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct pi_thread_state);
} threads SEC(".maps");

struct proc_state {
	__u64 graph_id; /* the graph this process is computing now */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, struct proc_state);
} procs SEC(".maps");

/* Distinct graphs already captured: (tgid, cgraph, uid) -> structure id. */
struct graph_key {
	__u64 cgraph;
	__u64 uid;
	__u32 tgid;
	__u32 n_nodes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct graph_key);
	__type(value, __u64);
} seen_graphs SEC(".maps");

__u64 next_graph_id = 0;
__u64 next_structure_id = 0;

static const struct pi_thread_state zero_state;

static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									      : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_lost(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &kind);

	if (n)
		*n += 1;
}

static __always_inline void fill_hdr(struct pi_hdr *h, __u8 kind)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->kind = kind;
	h->flags = 0;
	h->aux = 0;
	h->tid = (__u32)id;
	h->tgid = id >> 32;
	h->cpu = bpf_get_smp_processor_id();
}

/* A thread's name, once, when it is first seen: the collector may read the
 * records after the thread (or the whole process) is gone. */
static __always_inline void announce_thread(void)
{
	struct pi_thread_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_lost(PI_EV_THREAD);
		return;
	}
	fill_hdr(&e->hdr, PI_EV_THREAD);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline struct pi_thread_state *thread_state(__u32 tid)
{
	struct pi_thread_state *s = bpf_map_lookup_elem(&threads, &tid);

	if (s)
		return s;
	if (!bpf_map_update_elem(&threads, &tid, &zero_state, BPF_NOEXIST))
		announce_thread();
	return bpf_map_lookup_elem(&threads, &tid);
}

/* ---- token level ------------------------------------------------------ */

SEC("uprobe")
int BPF_UPROBE(token_enter, void *lctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pi_thread_state *s;
	__s32 n_tokens = 0;

	if (stopping)
		return 0;
	s = thread_state(tid);
	if (!s)
		return 0;
#if defined(__TARGET_ARCH_x86)
	/* llama_batch is passed by value in memory: it starts just above the
	 * return address. */
	bpf_probe_read_user(&n_tokens, sizeof(n_tokens), (void *)(PT_REGS_SP(ctx) + 8));
#else
	/* AAPCS64: a struct larger than 16 bytes is passed by reference in x1. */
	bpf_probe_read_user(&n_tokens, sizeof(n_tokens), (void *)PT_REGS_PARM2(ctx));
#endif
	s->token_ctx = (__u64)lctx;
	s->token_n_tokens = n_tokens;
	s->token_start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(token_exit, int ret)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pi_thread_state *s = bpf_map_lookup_elem(&threads, &tid);
	struct pi_token_event *e;

	if (!s || !s->token_start_ns)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_TOKEN);
		s->token_start_ns = 0;
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_TOKEN);
	e->start_ns = s->token_start_ns;
	e->end_ns = now;
	e->ctx = s->token_ctx;
	e->n_tokens = s->token_n_tokens;
	e->result = ret;
	s->token_start_ns = 0;
	/* Tokens are rare and drive the live QoS view: wake the reader. */
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- graph level and structure capture -------------------------------- */

struct capture_ctx {
	__u64 nodes;
	__u64 structure_id;
	__u32 n_nodes;
	__u32 failed;
};

static __always_inline void read_tensor_name(char *dst, __u64 t)
{
	bpf_probe_read_user_str(dst, PI_MAX_NAME, (void *)(t + layout.tensor_name));
}

static __always_inline void capture_src(struct capture_ctx *c, __u64 t)
{
	struct pi_struct_src_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_STRUCT_SRC);
		c->failed = 1;
		return;
	}
	fill_hdr(&e->hdr, PI_EV_STRUCT_SRC);
	e->structure_id = c->structure_id;
	e->tensor = t;
	bpf_probe_read_user(&e->type, sizeof(e->type), (void *)(t + layout.tensor_type));
	bpf_probe_read_user(&e->op, sizeof(e->op), (void *)(t + layout.tensor_op));
	bpf_probe_read_user(e->ne, sizeof(e->ne), (void *)(t + layout.tensor_ne));
	bpf_probe_read_user(&e->data, sizeof(e->data), (void *)(t + layout.tensor_data));
	read_tensor_name(e->name, t);
	bpf_ringbuf_submit(e, submit_flags());
}

static long capture_node(__u64 i, struct capture_ctx *c)
{
	struct pi_struct_node_event *e;
	__u64 t = 0;

	if (i >= c->n_nodes)
		return 1;
	if (bpf_probe_read_user(&t, sizeof(t), (void *)(c->nodes + i * 8)) || !t) {
		c->failed = 1;
		return 1;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_STRUCT_NODE);
		c->failed = 1;
		return 1;
	}
	fill_hdr(&e->hdr, PI_EV_STRUCT_NODE);
	e->structure_id = c->structure_id;
	e->index = i;
	e->tensor = t;
	bpf_probe_read_user(&e->type, sizeof(e->type), (void *)(t + layout.tensor_type));
	bpf_probe_read_user(&e->op, sizeof(e->op), (void *)(t + layout.tensor_op));
	bpf_probe_read_user(&e->flags, sizeof(e->flags), (void *)(t + layout.tensor_flags));
	bpf_probe_read_user(e->ne, sizeof(e->ne), (void *)(t + layout.tensor_ne));
	bpf_probe_read_user(e->src, sizeof(e->src), (void *)(t + layout.tensor_src));
	bpf_probe_read_user(&e->view_src, sizeof(e->view_src), (void *)(t + layout.tensor_view_src));
	bpf_probe_read_user(e->op_params, sizeof(e->op_params), (void *)(t + layout.tensor_op_params));
	read_tensor_name(e->name, t);
	bpf_ringbuf_submit(e, submit_flags());

	/* Sources: weights and inputs are not nodes, so record what they are.
	 * The collector drops duplicates (a source produced by a node). */
	for (int k = 0; k < PI_STRUCT_SRCS; k++) {
		__u64 src = 0;

		if (bpf_probe_read_user(&src, sizeof(src), (void *)(t + layout.tensor_src + k * 8)) || !src)
			continue;
		capture_src(c, src);
	}
	return c->failed ? 1 : 0;
}

SEC("uprobe")
int BPF_UPROBE(graph_enter, void *cgraph)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct pi_graph_begin_event *e;
	struct graph_key key = {};
	struct proc_state ps = {};
	struct pi_thread_state *s;
	__u64 nodes = 0, uid = 0, *seen;
	__s32 n_nodes = 0;

	s = thread_state(tid);
	/* Stopping: only graphs of a token still in flight. */
	if (stopping && (!s || !s->token_start_ns))
		return 0;
	bpf_probe_read_user(&n_nodes, sizeof(n_nodes), cgraph + layout.cgraph_n_nodes);
	bpf_probe_read_user(&nodes, sizeof(nodes), cgraph + layout.cgraph_nodes);
	if (layout.cgraph_uid)
		bpf_probe_read_user(&uid, sizeof(uid), cgraph + layout.cgraph_uid);

	ps.graph_id = __sync_fetch_and_add(&next_graph_id, 1) + 1;
	bpf_map_update_elem(&procs, &tgid, &ps, BPF_ANY);
	if (s)
		s->graph_id = ps.graph_id;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_GRAPH_BEGIN);
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_GRAPH_BEGIN);
	e->graph_id = ps.graph_id;
	e->ts_ns = now;
	e->cgraph = (__u64)cgraph;
	e->uid = uid;
	e->n_nodes = n_nodes;
	e->structure_id = 0;
	e->captured = 0;

	if (capture_structure && n_nodes > 0 && n_nodes <= PI_MAX_GRAPH_NODES) {
		key.cgraph = (__u64)cgraph;
		key.uid = uid;
		key.tgid = tgid;
		key.n_nodes = n_nodes;
		seen = uid ? bpf_map_lookup_elem(&seen_graphs, &key) : NULL;
		if (seen) {
			e->structure_id = *seen;
		} else {
			struct capture_ctx c = {
				.nodes = nodes,
				.n_nodes = n_nodes,
				.structure_id = __sync_fetch_and_add(&next_structure_id, 1) + 1,
			};

			/* Submit the begin record first so the structure follows it. */
			e->structure_id = c.structure_id;
			e->captured = 1;
			bpf_ringbuf_submit(e, submit_flags());
			bpf_loop(n_nodes, capture_node, &c, 0);
			if (!c.failed && uid)
				bpf_map_update_elem(&seen_graphs, &key, &c.structure_id, BPF_ANY);
			return 0;
		}
	}
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(graph_exit)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct pi_thread_state *s = bpf_map_lookup_elem(&threads, &tid);
	struct pi_graph_end_event *e;
	struct proc_state *ps;

	if (!s || !s->graph_id)
		return 0;
	/* No graph runs now: node probes between graphs record nothing. */
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (ps && ps->graph_id == s->graph_id)
		ps->graph_id = 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_GRAPH_END);
		s->graph_id = 0;
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_GRAPH_END);
	e->graph_id = s->graph_id;
	e->ts_ns = now;
	s->graph_id = 0;
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

/* ---- node level --------------------------------------------------------- */

static __always_inline int node_start(struct pt_regs *ctx, __u32 fused)
{
	if (trap_only)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct pi_thread_state *s = thread_state(tid);
	struct proc_state *ps;
	__s32 ith = 0;

	if (!s)
		return 0;
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps || !ps->graph_id) {
		s->node_start_ns = 0;
		return 0;
	}
	bpf_probe_read_user(&ith, sizeof(ith), (void *)PT_REGS_PARM1(ctx) + layout.params_ith);
	s->node_start_ns = now;
	s->node_tensor = PT_REGS_PARM2(ctx);
	s->node_fused = fused;
	s->node_ith = ith;
	s->node_graph_id = ps->graph_id;
	return 0;
}

SEC("uprobe")
int node_dispatch(struct pt_regs *ctx)
{
	return node_start(ctx, 0);
}

SEC("uprobe")
int node_fused(struct pt_regs *ctx)
{
	return node_start(ctx, 1);
}

/* A barrier call in the compute loop closes the open row. Ops inlined into
 * the loop may call the barrier too (mul_mat_id): each call emits the row
 * again with a later end, and the collector keeps the last one. */
SEC("uprobe")
int node_barrier(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct pi_thread_state *s = bpf_map_lookup_elem(&threads, &tid);
	struct proc_state *ps;
	struct pi_node_event *e;

	if (trap_only || !s || !s->node_start_ns)
		return 0;
	/* A barrier before this thread's first node of a new graph (OpenMP's
	 * implicit one) must not extend the last node of the previous graph. */
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps || !ps->graph_id || ps->graph_id != s->node_graph_id) {
		s->node_start_ns = 0;
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_NODE);
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_NODE);
	e->hdr.flags = s->node_fused;
	e->hdr.aux = s->node_ith;
	e->graph_id = s->node_graph_id;
	e->tensor = s->node_tensor;
	e->start_ns = s->node_start_ns;
	e->end_ns = now;
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

/* One probe per unit and thread: the compute loop's barrier call after a
 * unit (`if (node_n + 1 < n_nodes) barrier`) or after the loop. The cookie
 * (PI_NLB_*) says where node_n + 1 and the thread's params are; the collector
 * rebuilds the rows from these ends and the graph's structure. */
#if defined(__TARGET_ARCH_x86)
/* Low 32 bits of general-purpose register r (struct pt_regs order). The
 * verifier allows only constant offsets into ctx, so copy the registers. */
static __always_inline __u32 preg_low32(struct pt_regs *ctx, __u32 r)
{
	__u64 regs[16] = {}; /* 15 registers; the mask below keeps reads inside */

	if (r >= 15 || bpf_probe_read_kernel(regs, 15 * sizeof(regs[0]), ctx))
		return 0;
	asm volatile("" : "+r"(r)); /* the compiler must not drop the mask */
	return regs[r & 15];
}
#endif

SEC("uprobe")
int node_loop_barrier(struct pt_regs *ctx)
{
#if defined(__TARGET_ARCH_x86)
	__u64 now, id, cookie, sp;
	__u32 tgid, tid, loc, counter = 0, params;
	struct pi_node_end_event *e;
	struct proc_state *ps;
	__s32 ith = -1;

	if (trap_only)
		return 0;
	now = bpf_ktime_get_ns();
	id = bpf_get_current_pid_tgid();
	tgid = id >> 32;
	tid = (__u32)id;
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps || !ps->graph_id)
		return 0;
	if (!thread_state(tid)) /* announces the thread the first time */
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	sp = PT_REGS_SP(ctx);
	loc = (cookie >> PI_NLB_LOC_SHIFT) & 0xff;
	if (loc == PI_NLB_STACK)
		bpf_probe_read_user(&counter, sizeof(counter), (void *)(sp + (__s64)(__s32)cookie));
	else if (loc == PI_NLB_REG)
		counter = preg_low32(ctx, (cookie >> PI_NLB_REG_SHIFT) & 0xff);
	params = cookie >> PI_NLB_PARAMS_SHIFT;
	if (params)
		bpf_probe_read_user(&ith, sizeof(ith), (void *)(sp + params - 1 + layout.params_ith));
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_NODE_END);
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_NODE_END);
	e->hdr.flags = loc == PI_NLB_FINAL ? PI_NODE_END_FINAL : 0;
	e->hdr.aux = ith >= 0 && ith < PI_ITH_UNKNOWN ? ith : PI_ITH_UNKNOWN;
	e->graph_id = ps->graph_id;
	e->ts_ns = now;
	e->counter = counter;
	e->pad = 0;
	bpf_ringbuf_submit(e, submit_flags());
#endif
	return 0;
}

/* ---- libraries loaded later (dlopen) ---------------------------------- */

SEC("uprobe")
int lib_loaded(struct pt_regs *ctx)
{
	struct pi_lib_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_LIB_LOADED);
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_LIB_LOADED);
	e->ts_ns = bpf_ktime_get_ns();
	/* The collector must attach before the new code runs: wake it now. */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}
