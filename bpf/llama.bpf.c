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
#include "llama_abi.h"

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
/* Level switching (collector-c/src/level_switch.h): the level a token
 * starting now runs at (2 token, 3 graph, 4 node), read once per
 * llama_decode. With level_gate set, graphs and nodes of a token are
 * recorded only at the level its call began with, so a token is recorded
 * whole or not at all whatever the collector attaches or detaches meanwhile.
 * Sampling (sample_every > 1): only the sample_at'th llama_decode call to
 * start runs at node level (level_now 4 says the probes are ready). */
__u32 level_now = 4;
bool level_gate = false;
__u32 sample_every = 0;
__u64 sample_at = 0;
__u64 sample_granted = 0; /* the last call that got node level */
__u64 tokens_started = 0;

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
	__u32 nodes_off; /* level gate: this graph runs below node level */
	__u32 pad;
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
	/* The by-value llama_batch starts with n_tokens (llama_abi.h). */
	bpf_probe_read_user(&n_tokens, sizeof(n_tokens),
			    (void *)pi_llama_batch_addr(PT_REGS_SP(ctx), PT_REGS_PARM2(ctx)));
	s->token_ctx = (__u64)lctx;
	s->token_n_tokens = n_tokens;
	s->token_level = level_now;
	s->token_graphs = 0;
	if (level_gate && sample_every > 1) {
		__u64 n = __sync_fetch_and_add(&tokens_started, 1) + 1;

		if (s->token_level >= 4 && n != sample_at)
			s->token_level = 3;
		else if (s->token_level >= 4)
			sample_granted = n;
	}
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
	e->hdr.flags = s->token_level; /* the level the call ran at */
	e->start_ns = s->token_start_ns;
	e->end_ns = now;
	e->ctx = s->token_ctx;
	e->n_tokens = s->token_n_tokens;
	e->result = ret;
	e->graphs = s->token_graphs;
	e->pad = 0;
	s->token_start_ns = 0;
	/* Tokens are rare and drive the live QoS view and level switching:
	 * wake the reader (0 would not: the kernel wakes it only when it has
	 * read everything before, and hot records never wake it). */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
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
	if (s && s->token_start_ns)
		s->token_graphs++;
	/* Stopping: only graphs of a token still in flight. */
	if (stopping && (!s || !s->token_start_ns))
		return 0;
	/* Level gate: a graph outside a token runs at the level in force. */
	if (level_gate && (s && s->token_start_ns ? s->token_level : level_now) < 3)
		return 0;
	bpf_probe_read_user(&n_nodes, sizeof(n_nodes), cgraph + layout.cgraph_n_nodes);
	bpf_probe_read_user(&nodes, sizeof(nodes), cgraph + layout.cgraph_nodes);
	if (layout.cgraph_uid)
		bpf_probe_read_user(&uid, sizeof(uid), cgraph + layout.cgraph_uid);

	ps.graph_id = __sync_fetch_and_add(&next_graph_id, 1) + 1;
	if (s)
		s->graph_id = ps.graph_id;
	/* Level gate: below node level, node probes record nothing. */
	ps.nodes_off = level_gate && (s && s->token_start_ns ? s->token_level : level_now) < 4;
	bpf_map_update_elem(&procs, &tgid, &ps, BPF_ANY);

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

/* Counters per node (--counters, collector-c/src/perf_counters.c): how many
 * live counters the collector opened; 0 leaves every counter read out. */
const volatile __u32 n_counters = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, PI_PMC_SLOTS); /* resized: cpus * PI_PMC_SLOTS */
	__type(key, __u32);
	__type(value, __u32);
} pmc SEC(".maps");

/* A thread's last counter reading: the base of its next delta. */
struct pmc_reading {
	__u64 ts_ns;
	__u64 graph_id;
	__u64 guard;
	__u32 cpu;
	__u32 ok; /* bit k: value[k] was read; bit PI_PMC_GUARD: guard was */
	__u64 value[PI_MAX_COUNTERS];
	__u64 stopped[PI_MAX_COUNTERS]; /* enabled - running: time not counting */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct pmc_reading);
} pmc_last SEC(".maps");

static const struct pmc_reading zero_reading;

/* Reads this CPU's counters and fills the deltas since the thread's last
 * reading. `rebase`: the reading becomes the base of the next delta (a
 * node start, or any one-probe end); a two-probe barrier call keeps the
 * node start as base, since a node may call the barrier more than once. */
static __always_inline void pmc_read(struct pi_pmc_delta *out, __u64 now, __u64 graph_id, bool rebase)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), cpu = bpf_get_smp_processor_id();
	struct bpf_perf_event_value v;
	struct pmc_reading *last;
	__u32 ok = 0, valid = 0;
	__u64 guard = 0;
	__u8 why;

	last = bpf_map_lookup_elem(&pmc_last, &tid);
	if (!last) {
		bpf_map_update_elem(&pmc_last, &tid, &zero_reading, BPF_NOEXIST);
		last = bpf_map_lookup_elem(&pmc_last, &tid);
		if (!last) {
			out->why = PI_PMC_NO_BASE;
			return;
		}
	}
	if (!bpf_perf_event_read_value(&pmc, cpu * PI_PMC_SLOTS + PI_PMC_GUARD, &v, sizeof(v))) {
		guard = v.counter;
		ok |= 1u << PI_PMC_GUARD;
	}
	if (!last->ts_ns || last->graph_id != graph_id)
		why = PI_PMC_NO_BASE;
	else if (last->cpu != cpu)
		why = PI_PMC_MIGRATED;
	else if (!(ok & last->ok & (1u << PI_PMC_GUARD)) || last->guard != guard)
		why = PI_PMC_SWITCHED;
	else
		why = PI_PMC_OK;
	out->base_ts_ns = last->ts_ns;
	out->base_cpu = last->cpu;
	out->why = why;
	for (__u32 k = 0; k < PI_MAX_COUNTERS && k < n_counters; k++) {
		if (bpf_perf_event_read_value(&pmc, cpu * PI_PMC_SLOTS + k, &v, sizeof(v)))
			continue;
		ok |= 1u << k;
		if (why == PI_PMC_OK && (last->ok & (1u << k)) &&
		    v.enabled - v.running == last->stopped[k]) {
			out->delta[k] = v.counter - last->value[k];
			valid |= 1u << k;
		}
		if (rebase) {
			last->value[k] = v.counter;
			last->stopped[k] = v.enabled - v.running;
		}
	}
	out->valid = valid;
	if (rebase) {
		last->ok = ok;
		last->guard = guard;
		last->cpu = cpu;
		last->ts_ns = now;
		last->graph_id = graph_id;
	}
}

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
	if (!ps || !ps->graph_id || ps->nodes_off) {
		s->node_start_ns = 0;
		return 0;
	}
	bpf_probe_read_user(&ith, sizeof(ith), (void *)PT_REGS_PARM1(ctx) + layout.params_ith);
	s->node_start_ns = now;
	s->node_tensor = PT_REGS_PARM2(ctx);
	s->node_fused = fused;
	s->node_ith = ith;
	s->node_graph_id = ps->graph_id;
	if (n_counters) {
		struct pi_pmc_delta unused = {};

		pmc_read(&unused, now, ps->graph_id, true);
	}
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
	if (!ps || !ps->graph_id || ps->nodes_off || ps->graph_id != s->node_graph_id) {
		s->node_start_ns = 0;
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, n_counters ? sizeof(struct pi_node_pmc_event) : sizeof(*e), 0);
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
	if (n_counters) {
		struct pi_pmc_delta *d = &((struct pi_node_pmc_event *)e)->pmc;

		__builtin_memset(d, 0, sizeof(*d));
		pmc_read(d, now, s->node_graph_id, false);
	}
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
	if (!ps || !ps->graph_id || ps->nodes_off)
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
	e = bpf_ringbuf_reserve(&events, n_counters ? sizeof(struct pi_node_end_pmc_event) : sizeof(*e), 0);
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
	if (n_counters) {
		struct pi_pmc_delta *d = &((struct pi_node_end_pmc_event *)e)->pmc;

		__builtin_memset(d, 0, sizeof(*d));
		pmc_read(d, now, ps->graph_id, true);
	}
	bpf_ringbuf_submit(e, submit_flags());
#endif
	return 0;
}

/* ---- MoE expert routing (--moe) ---------------------------------------- */

/* GGML_OP_MUL_MAT_ID of this engine (the number differs per GGML version),
 * set by the collector once it has read the op names; 0: routing off. */
__u32 moe_op = 0;

/* One record at a time per CPU: the ring buffer takes a copy of its used
 * part (bpf_ringbuf_output), so a decode step sends bytes, not a whole chunk.
 * Uprobe programs can be preempted: `busy` keeps a second task on this CPU
 * from writing into a record still being sent (it counts its node lost). */
struct expert_scratch_val {
	__u64 busy;
	struct pi_expert_event e;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct expert_scratch_val);
} expert_scratch SEC(".maps");

struct expert_ctx {
	__u64 data;
	__u32 rows_per_chunk;
	__u32 failed;
};

static long send_expert_chunk(__u64 i, struct expert_ctx *x)
{
	__u32 key = 0;
	struct expert_scratch_val *v = bpf_map_lookup_elem(&expert_scratch, &key);
	struct pi_expert_event *e;
	__u64 first, n, len;

	if (!v) {
		x->failed = 1;
		return 1;
	}
	e = &v->e;
	first = i * x->rows_per_chunk;
	if (first >= (__u64)e->ne[1])
		return 1;
	n = e->ne[1] - first;
	if (n > x->rows_per_chunk)
		n = x->rows_per_chunk;
	len = (n - 1) * e->nb1 + e->ne[0] * 4;
	if (len > PI_EXPERT_CHUNK_BYTES) {
		x->failed = 1;
		return 1;
	}
	e->row_first = first;
	e->n_rows = n;
	e->n_bytes = len;
	if (bpf_probe_read_user(e->data, len, (void *)(x->data + first * e->nb1)) ||
	    bpf_ringbuf_output(&events, e, offsetof(struct pi_expert_event, data) + len, submit_flags())) {
		x->failed = 1;
		return 1;
	}
	return 0;
}

/* At the dispatcher call of every node (the node_dispatch sites): the ids a
 * MUL_MAT_ID node is about to use, sent by thread 0 only. The op itself is
 * inlined into the compute loop, and the graph's end is too late (the ids'
 * memory is reused by later nodes of the same graph). */
SEC("uprobe")
int moe_dispatch(struct pt_regs *ctx)
{
	__u64 t = PT_REGS_PARM2(ctx), ids = 0, data = 0, n_chunks;
	__u32 tgid, op = 0, key = 0;
	struct expert_scratch_val *v;
	struct expert_ctx x = {};
	struct pi_expert_event *e;
	struct proc_state *ps;
	__s32 ith = -1;

	if (!moe_op || bpf_probe_read_user(&op, sizeof(op), (void *)(t + layout.tensor_op)) ||
	    op != moe_op)
		return 0;
	bpf_probe_read_user(&ith, sizeof(ith), (void *)PT_REGS_PARM1(ctx) + layout.params_ith);
	if (ith != 0)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	ps = bpf_map_lookup_elem(&procs, &tgid);
	if (!ps || !ps->graph_id) /* no graph of ours runs (stopping, or not started under us) */
		return 0;
	v = bpf_map_lookup_elem(&expert_scratch, &key);
	if (!v)
		return 0;
	if (__sync_fetch_and_add(&v->busy, 1)) {
		__sync_fetch_and_add(&v->busy, -1);
		count_lost(PI_EV_EXPERT);
		return 0;
	}
	e = &v->e;
	fill_hdr(&e->hdr, PI_EV_EXPERT);
	e->graph_id = ps->graph_id;
	e->tensor = t;
	e->ts_ns = bpf_ktime_get_ns();
	if (bpf_probe_read_user(&ids, sizeof(ids), (void *)(t + layout.tensor_src + 2 * 8)) || !ids)
		goto lost;
	e->ids = ids;
	e->type = ~0u;
	e->nb1 = 0;
	/* nb[] follows ne[] in every GGML: size_t nb[4] after int64_t ne[4]. */
	if (bpf_probe_read_user(&e->type, sizeof(e->type), (void *)(ids + layout.tensor_type)) ||
	    bpf_probe_read_user(e->ne, sizeof(e->ne), (void *)(ids + layout.tensor_ne)) ||
	    bpf_probe_read_user(&e->nb1, sizeof(e->nb1), (void *)(ids + layout.tensor_ne + 32 + 8)) ||
	    bpf_probe_read_user(&data, sizeof(data), (void *)(ids + layout.tensor_data)) || !data)
		goto lost;
	if (e->ne[0] < 1 || e->ne[0] > PI_EXPERT_MAX_USED || e->ne[1] < 1 ||
	    e->nb1 < (__u64)e->ne[0] * 4 || e->nb1 > PI_EXPERT_CHUNK_BYTES)
		goto lost;
	x.data = data;
	x.rows_per_chunk = (PI_EXPERT_CHUNK_BYTES - e->ne[0] * 4) / e->nb1 + 1;
	n_chunks = (e->ne[1] + x.rows_per_chunk - 1) / x.rows_per_chunk;
	if (n_chunks > PI_EXPERT_MAX_CHUNKS)
		goto lost;
	bpf_loop(n_chunks, send_expert_chunk, &x, 0);
	if (!x.failed)
		goto out;
lost:
	count_lost(PI_EV_EXPERT);
out:
	__sync_fetch_and_add(&v->busy, -1);
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

/* ---- backends (collector-c/src/backend_probes.c) ------------------------ */

/* The CPU backend's guid (set by the collector): its graphs keep coming
 * from graph_enter, so the generic entry gives them no graph id of their own. */
__u8 cpu_guid[PI_GUID_LEN] = {};

struct backend_call {
	__u64 graph_id;
	__u64 start_ns;
	__u64 tensor; /* backend_node_enter: the tensor of the open call */
	__u64 node_start_ns; /* 0: no probe spec call open */
	__u32 spec;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct backend_call);
} backend_calls SEC(".maps");

static const struct backend_call zero_call;

static __always_inline bool is_cpu_guid(const __u8 *g)
{
	__u8 any = 0, diff = 0;

	for (int i = 0; i < PI_GUID_LEN; i++) {
		any |= cpu_guid[i];
		diff |= cpu_guid[i] ^ g[i];
	}
	return any && !diff;
}

static __always_inline struct backend_call *backend_call_of(__u32 tid)
{
	struct backend_call *b = bpf_map_lookup_elem(&backend_calls, &tid);

	if (b)
		return b;
	bpf_map_update_elem(&backend_calls, &tid, &zero_call, BPF_NOEXIST);
	return bpf_map_lookup_elem(&backend_calls, &tid);
}

/* ggml_backend_graph_compute_async(backend, cgraph) entry: every backend's
 * graph goes through it (where the caller does not inline it). */
SEC("uprobe")
int BPF_UPROBE(backend_graph_enter, void *backend, void *cgraph)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pi_backend_graph_event *e;
	struct backend_call *b;
	__u64 guid_ptr = 0;

	if (stopping || level_now < 3)
		return 0;
	b = backend_call_of(tid);
	if (!b)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_BACKEND_GRAPH_BEGIN);
		b->graph_id = 0;
		b->start_ns = 0;
		return 0;
	}
	fill_hdr(&e->hdr, PI_EV_BACKEND_GRAPH_BEGIN);
	__builtin_memset(e->guid, 0, sizeof(e->guid));
	if (!bpf_probe_read_user(&guid_ptr, sizeof(guid_ptr), backend) && guid_ptr &&
	    !bpf_probe_read_user(e->guid, sizeof(e->guid), (void *)guid_ptr))
		e->hdr.flags = PI_BACKEND_GUID_READ;
	e->n_nodes = 0;
	e->pad = 0;
	bpf_probe_read_user(&e->n_nodes, sizeof(e->n_nodes), cgraph + layout.cgraph_n_nodes);
	e->graph_id = is_cpu_guid(e->guid) ? 0 : __sync_fetch_and_add(&next_graph_id, 1) + 1;
	if (e->graph_id) { /* CPU graphs are counted by graph_enter, in the CPU library */
		struct pi_thread_state *s = bpf_map_lookup_elem(&threads, &tid);

		if (s && s->token_start_ns)
			s->token_graphs++;
	}
	e->ts_ns = now;
	e->backend = (__u64)backend;
	e->cgraph = (__u64)cgraph;
	b->graph_id = e->graph_id;
	b->start_ns = now;
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

static __always_inline int backend_graph_done(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct backend_call *b = bpf_map_lookup_elem(&backend_calls, &tid);
	struct pi_backend_graph_event *e;

	if (!b || !b->start_ns)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_BACKEND_GRAPH_END);
	} else {
		__builtin_memset(e, 0, sizeof(*e));
		fill_hdr(&e->hdr, PI_EV_BACKEND_GRAPH_END);
		e->graph_id = b->graph_id;
		e->ts_ns = bpf_ktime_get_ns();
		bpf_ringbuf_submit(e, submit_flags());
	}
	b->graph_id = 0;
	b->start_ns = 0;
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(backend_graph_exit)
{
	return backend_graph_done();
}

/* Static builds: the instruction after the split loop's inlined call of
 * backend->iface.graph_compute (collector-c/src/backend_sites.h). */
SEC("uprobe")
int backend_graph_site_exit(struct pt_regs *ctx)
{
	return backend_graph_done();
}

/* A probe spec's function entry: the cookie is (spec index << 8) | the
 * argument that holds the ggml_tensor *. */
SEC("uprobe")
int backend_node_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct backend_call *b;
	__u64 t = 0;

	if (stopping || level_now < 4)
		return 0;
	b = backend_call_of(tid);
	if (!b)
		return 0;
	/* Every argument register read at a fixed context offset, then picked:
	 * the verifier refuses a context read at a computed offset. */
	{
		__u64 args[8] = { PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx),
				  PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), PT_REGS_PARM6(ctx) };
		__u32 k = cookie & 0xff;

#if defined(__TARGET_ARCH_arm64)
		args[6] = PT_REGS_PARM7(ctx);
		args[7] = PT_REGS_PARM8(ctx);
#endif
		asm volatile("" ::: "memory");
		if (k >= 8)
			return 0;
		t = args[k];
	}
	b->tensor = t;
	b->spec = cookie >> 8;
	b->node_start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int backend_node_exit(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct backend_call *b = bpf_map_lookup_elem(&backend_calls, &tid);
	struct pi_backend_node_event *e;
	__u64 t;

	if (!b || !b->node_start_ns)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_EV_BACKEND_NODE);
		b->node_start_ns = 0;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, PI_EV_BACKEND_NODE);
	e->hdr.aux = b->spec;
	e->graph_id = b->graph_id;
	e->start_ns = b->node_start_ns;
	e->end_ns = now;
	t = b->tensor;
	e->tensor = t;
	if (t && !bpf_probe_read_user(&e->op, sizeof(e->op), (void *)t + layout.tensor_op) &&
	    !bpf_probe_read_user(&e->type, sizeof(e->type), (void *)t + layout.tensor_type) &&
	    !bpf_probe_read_user(e->ne, sizeof(e->ne), (void *)t + layout.tensor_ne)) {
		bpf_probe_read_user_str(e->name, sizeof(e->name), (void *)t + layout.tensor_name);
		e->hdr.flags = 1;
	}
	b->node_start_ns = 0;
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}
