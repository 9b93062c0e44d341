// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collector.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backend_ids.h"
#include "backend_probes.h"
#include "backend_sites.h"
#include "code_scan.h"
#include "elf_file.h"
#include "engine_info.h"
#include "expert_routing.h"
#include "graph_assembler.h"
#include "layout.h"
#include "level_switch.h"
#include "llama.skel.h"
#include "perf_counters.h"
#include "proc_maps.h"
#include "qos.h"
#include "sched_tracer.h"
#include "exit_watch.h"
#include "stream_writer.h"
#include "trace_emit.h"
#include "uprobe_attach.h"

#define PI_DEFAULT_RINGBUF_KIB (4 * 1024)
#define PI_MAX_TARGETS 64
/* (process, file) pairs looked at, engine or not. */
#define PI_MAX_MODULES 1024

struct module {
	pid_t pid;
	uint64_t dev, inode;
};

struct pending_names {
	pid_t pid;
	struct pi_engine_names names;
};

/* Level switching, sampling and QoS (the block before pi_collector__free). */
#define PI_MAX_PENDING_CHANGES 16
#define PI_MAX_NODE_SPANS 32

struct pending_change {
	uint64_t ts_ns;	   /* when level_now changed (CLOCK_MONOTONIC) */
	enum pi_level from, to;
	char reason[96];
};

struct level_state {
	struct pi_level_switch *ls;
	struct pi_qos qos;
	enum pi_level level;	 /* policy: the session's, a client's or the QoS rule's */
	enum pi_level bpf_level; /* level_now in BPF: what tokens starting now record */
	bool gated;		 /* level_gate set in BPF */
	/* Node probes attached over [from, to) (to 0: still attached). */
	uint64_t span_from[PI_MAX_NODE_SPANS], span_to[PI_MAX_NODE_SPANS];
	unsigned n_spans;
	/* Lowering waits for tokens begun at the higher level (or a deadline). */
	bool detach_pending;
	enum pi_level detach_to;
	uint64_t detach_before_ns, detach_deadline_ns;
	/* LevelChange packets wait for their first complete token. */
	struct pending_change pending[PI_MAX_PENDING_CHANGES];
	unsigned n_pending;
	/* Sampling: node level on one token in N. */
	uint32_t sample_n;
	uint64_t last_token_ns; /* duration of the last single-token call */
	uint64_t last_qos_ns;
	struct pi_qos_sample last_sample;
};

struct pi_collector {
	struct pi_collector_opts o;
	struct llama_bpf *skel;
	struct ring_buffer *rb;
	struct pi_writer *w;
	struct pi_emit *emit;
	struct pi_assembler *assembler;
	struct pi_routing *routing; /* --moe only */
	struct pi_sched_tracer *sched; /* --sched only */
	/* Targets it did not start (add_pid): loaded with the first one; NULL
	 * before, or where it cannot load. */
	struct pi_exit_watch *exit_watch;
	bool exit_watch_tried;
	struct pi_counter_set counters; /* --counters only (n == 0: off) */
	struct bpf_link **links;
	size_t n_links, cap_links;
	struct module modules[PI_MAX_MODULES];
	size_t n_modules;
	pid_t pids[PI_MAX_TARGETS];
	bool described[PI_MAX_TARGETS]; /* ProcessInfo written */
	size_t n_pids;
	pid_t rescan[PI_MAX_TARGETS]; /* targets that loaded a library */
	size_t n_rescan;
	struct pi_layout layout;
	char layout_name[64];
	bool layout_user;
	bool layout_chosen;  /* and SessionInfo written */
	bool saw_graph_uid;  /* some engine file has ggml_graph_next_uid */
	/* Some file's compute loop has node probes: tokens are node-complete
	 * only from then on (a library dlopen'ed just before its first graph
	 * runs is attached a few ms after its code starts). */
	bool node_code_attached;
	struct pending_names pending_names[PI_MAX_TARGETS]; /* until SessionInfo */
	size_t n_pending_names;
	bool layout_checked;
	unsigned n_ops;
	int op_unary, op_glu; /* ops whose function is in op_params[0]; -1: unknown */
	bool has_engine;
	bool multi; /* uprobe_multi links */
	bool finished;
	uint64_t token_seq;
	struct pi_collector_stats stats;
	uint64_t recorded[PI_EV_KIND_MAX];
	char *err;
	size_t errlen;
	struct level_state lv; /* level switching, sampling, QoS: see on_token() */
	/* Backends: the specs in force (the session's, then the built-ins), the
	 * latest ggml_backend_graph_compute_async calls (a ring), GGML's op names. */
	struct pi_probe_spec specs[PI_MAX_BACKEND_SPECS + 4];
	size_t n_specs;
	bool builtin_found;
	struct backend_graph_call {
		uint32_t tgid, tid;
		uint64_t graph_id, start_ns, end_ns, cgraph;
		int32_t n_nodes;
		char name[48];
	} bcalls[64];
	size_t next_bcall;
	char **op_names;
	size_t n_op_names;
	/* op_filter (SessionConfig.op_filter): which ops' rows are written, by op
	 * number and, for UNARY / GLU, by function; resolved from the engine's
	 * names. Empty filter: every row. */
	bool op_keep[256], unary_keep[64], glu_keep[64];
	uint64_t rows_filtered;
};

static void choose_layout_now(struct pi_collector *c);
static void open_node_span(struct level_state *lv, uint64_t ts);
static void rescan_now(struct pi_collector *c);
static void on_token(struct pi_collector *c, const struct pi_token_event *e);
static int level_init(struct pi_collector *c, char *err, size_t errlen);
static void level_poll(struct pi_collector *c);
static void level_finish(struct pi_collector *c);
static void read_lost(struct pi_collector *c);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- sink: assembled graphs go to the trace --------------------------- */

static void on_structure(void *ctx, const struct pi_structure *s)
{
	struct pi_collector *c = ctx;

	c->stats.structures++;
	/* A wrong layout reads garbage: refuse it instead of recording it. */
	if (!c->layout_checked && s->n_nodes) {
		unsigned bad = 0;

		for (uint32_t i = 0; i < s->n_nodes; i++)
			bad += s->nodes[i].tensor && !pi_layout__node_plausible(&s->nodes[i], c->n_ops);
		c->layout_checked = true;
		if (bad * 10 > s->n_nodes) {
			fprintf(stderr,
				"error: layout profile '%s' does not match this GGML: %u of %u graph nodes "
				"read as implausible (op/type out of range, bad shape or name). Pass "
				"--layout with the right profile or offsets (see --list-layouts).\n",
				c->layout_name, bad, s->n_nodes);
			c->finished = true;
		}
	}
	if (c->finished)
		return; /* never write what a wrong layout read */
	pi_emit__structure(c->emit, s, c->op_unary, c->op_glu);
}

/* ---- backends --------------------------------------------------------- */

/* The backend call (ggml_backend_graph_compute_async) that ran graph `g` on
 * its thread, if the generic probe saw it. */
static const struct backend_graph_call *backend_call_of(const struct pi_collector *c, const struct pi_graph *g)
{
	for (size_t i = 0; i < sizeof(c->bcalls) / sizeof(c->bcalls[0]); i++) {
		const struct backend_graph_call *b = &c->bcalls[i];

		if (b->tid == g->tid && b->tgid == g->tgid && b->start_ns && b->start_ns <= g->start_ns &&
		    (!b->end_ns || b->end_ns >= g->end_ns))
			return b;
	}
	return NULL;
}

static void on_backend_graph_begin(struct pi_collector *c, const struct pi_backend_graph_event *e)
{
	struct backend_graph_call *b = &c->bcalls[c->next_bcall++ % (sizeof(c->bcalls) / sizeof(c->bcalls[0]))];

	*b = (struct backend_graph_call){ .tgid = e->hdr.tgid, .tid = e->hdr.tid, .graph_id = e->graph_id,
					  .start_ns = e->ts_ns, .cgraph = e->cgraph, .n_nodes = e->n_nodes };
	pi_backend__name(e->guid, e->hdr.flags & PI_BACKEND_GUID_READ, b->name, sizeof(b->name));
}

/* A non-CPU backend's graph ends: its GraphEvent (CPU graphs get theirs
 * from the CPU probe, named in on_graph). */
static void on_backend_graph_end(struct pi_collector *c, const struct pi_backend_graph_event *e)
{
	for (size_t i = 0; i < sizeof(c->bcalls) / sizeof(c->bcalls[0]); i++) {
		struct backend_graph_call *b = &c->bcalls[i];
		struct pi_graph g;

		if (b->tid != e->hdr.tid || b->tgid != e->hdr.tgid || b->end_ns || !b->start_ns)
			continue;
		b->end_ns = e->ts_ns;
		if (!b->graph_id)
			return;
		memset(&g, 0, sizeof(g));
		g.graph_id = b->graph_id;
		g.tgid = b->tgid;
		g.tid = b->tid;
		g.start_ns = b->start_ns;
		g.end_ns = b->end_ns;
		g.cgraph = b->cgraph;
		g.n_nodes = b->n_nodes;
		g.ended = true;
		c->stats.graphs++;
		c->stats.backend_graphs++;
		pi_emit__graph_on(c->emit, &g, b->name);
		return;
	}
}

static void on_backend_node(struct pi_collector *c, const struct pi_backend_node_event *e)
{
	const struct pi_probe_spec *spec = e->hdr.aux < c->n_specs ? &c->specs[e->hdr.aux] : NULL;
	const char *op = NULL;
	bool named = true;

	if (!spec)
		return;
	/* A tensor read whole, with an op of this engine and a printable name. */
	for (int i = 0; i < PI_MAX_NAME && e->name[i]; i++)
		named &= e->name[i] >= 0x20 && e->name[i] < 0x7f;
	if ((e->hdr.flags & 1) && named && e->op < c->n_op_names && e->type < 256)
		op = c->op_names[e->op];
	c->stats.backend_nodes++;
	c->stats.backend_nodes_unread += !op;
	pi_emit__backend_node(c->emit, e, spec->backend, spec->function, op);
}

/* The assembler freed these structures: drop BPF's (tgid, cgraph, uid) ->
 * structure entries for them, so a graph that comes back is captured anew
 * instead of pointing at a structure the collector no longer has. */
static void on_structures_evicted(void *ctx, const uint64_t *ids, size_t n)
{
	struct pi_collector *c = ctx;
	int fd = bpf_map__fd(c->skel->maps.seen_graphs);
	size_t ksize = bpf_map__key_size(c->skel->maps.seen_graphs), n_drop = 0, cap;
	uint8_t key[64], *drop;
	bool first = true;
	uint64_t value;

	if (fd < 0 || ksize > sizeof(key))
		return;
	cap = bpf_map__max_entries(c->skel->maps.seen_graphs);
	drop = malloc(cap * ksize);
	if (!drop)
		return;
	/* Collect first, delete after: deleting during iteration restarts it. */
	while (n_drop < cap && !bpf_map_get_next_key(fd, first ? NULL : key, key)) {
		first = false;
		if (bpf_map_lookup_elem(fd, key, &value))
			continue;
		for (size_t i = 0; i < n; i++)
			if (value == ids[i]) {
				memcpy(drop + n_drop++ * ksize, key, ksize);
				break;
			}
	}
	for (size_t i = 0; i < n_drop; i++)
		bpf_map_delete_elem(fd, drop + i * ksize);
	free(drop);
}

static bool in_filter(const struct pi_collector *c, const char *name)
{
	for (size_t i = 0; i < c->o.n_op_filter; i++)
		if (name && !strcmp(c->o.op_filter[i], name))
			return true;
	return false;
}

/* Whether a row of node `index` passes op_filter (a fused row: by its first node). */
static bool row_kept(const struct pi_collector *c, const struct pi_structure *s, uint32_t index)
{
	const struct pi_struct_node_event *n;
	uint32_t sub;

	if (!s || index >= s->n_nodes)
		return false;
	n = &s->nodes[index];
	if (n->op < 256 && c->op_keep[n->op])
		return true;
	sub = (uint32_t)n->op_params[0];
	if ((int)n->op == c->op_unary && sub < 64)
		return c->unary_keep[sub];
	if ((int)n->op == c->op_glu && sub < 64)
		return c->glu_keep[sub];
	return false;
}

/* Drops the rows op_filter does not keep, keeping the parallel columns in step. */
static void filter_rows(struct pi_collector *c, struct pi_graph *g, const struct pi_structure *s)
{
	for (size_t t = 0; t < g->n_threads; t++) {
		struct pi_thread_rows *r = &g->threads[t];
		size_t kept = 0;

		for (size_t i = 0; i < r->n; i++) {
			if (!row_kept(c, s, r->rows[i].node_index)) {
				c->rows_filtered++;
				continue;
			}
			r->rows[kept] = r->rows[i];
			if (r->compute_ns)
				r->compute_ns[kept] = r->compute_ns[i];
			if (r->barrier_ns)
				r->barrier_ns[kept] = r->barrier_ns[i];
			if (r->row_pmc)
				r->row_pmc[kept] = r->row_pmc[i];
			kept++;
		}
		r->n = kept;
	}
}

static void on_graph(void *ctx, const struct pi_graph *g, const struct pi_structure *s)
{
	struct pi_collector *c = ctx;
	const struct backend_graph_call *b = backend_call_of(c, g);

	c->stats.graphs++;
	c->stats.cpu_graphs_by_guid += b != NULL;
	if (c->routing)
		pi_routing__graph(c->routing, g, s, c->emit);
	/* The assembler hands the graph over and frees it afterwards. */
	if (c->o.n_op_filter)
		filter_rows(c, (struct pi_graph *)g, s);
	pi_emit__graph_on(c->emit, g, b ? b->name : "CPU");
}

/* ---- ring buffer ------------------------------------------------------ */

static bool is_target(struct pi_collector *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_pids; i++)
		if (c->pids[i] == pid)
			return true;
	return false;
}

/* ProcessInfo once the target runs its own program: a record from it proves
 * a launched target has exec'ed (before that /proc shows profinferd). */
static void describe_target(struct pi_collector *c, pid_t pid)
{
	for (size_t i = 0; i < c->n_pids; i++)
		if (c->pids[i] == pid && !c->described[i] && c->layout_chosen) {
			c->described[i] = true;
			pi_emit__process(c->emit, pid);
		}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct pi_collector *c = ctx;
	struct pi_hdr hdr;
	int err = 0;

	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	c->stats.events++;
	if (hdr.kind != PI_EV_LIB_LOADED) {
		/* The engine runs: SessionInfo must precede its records. The
		 * libraries the loader announced first decide the layout. */
		if (!c->layout_chosen)
			rescan_now(c);
		choose_layout_now(c);
	}
	describe_target(c, hdr.tgid);
	if (hdr.kind < PI_EV_KIND_MAX)
		c->recorded[hdr.kind]++;

#define RECORD(type, var)                                  \
	type var;                                          \
	if (size < sizeof(var))                            \
		return 0;                                  \
	memcpy(&var, data, sizeof(var))

	switch (hdr.kind) {
	case PI_EV_TOKEN: {
		RECORD(struct pi_token_event, e);
		c->stats.tokens++;
		on_token(c, &e);
		break;
	}
	case PI_EV_GRAPH_BEGIN: {
		RECORD(struct pi_graph_begin_event, e);
		err = pi_assembler__graph_begin(c->assembler, &e);
		break;
	}
	case PI_EV_GRAPH_END: {
		RECORD(struct pi_graph_end_event, e);
		err = pi_assembler__graph_end(c->assembler, &e);
		if (err == -ENOENT)
			err = 0; /* its begin was lost (and counted) */
		break;
	}
	case PI_EV_NODE: {
		RECORD(struct pi_node_event, e);
		if (c->counters.n_live && size >= sizeof(struct pi_node_pmc_event)) {
			struct pi_node_pmc_event pe;

			memcpy(&pe, data, sizeof(pe));
			err = pi_assembler__node_pmc(c->assembler, &e, &pe.pmc);
			break;
		}
		err = pi_assembler__node(c->assembler, &e);
		break;
	}
	case PI_EV_NODE_END: {
		RECORD(struct pi_node_end_event, e);
		if (c->counters.n_live && size >= sizeof(struct pi_node_end_pmc_event)) {
			struct pi_node_end_pmc_event pe;

			memcpy(&pe, data, sizeof(pe));
			err = pi_assembler__node_end_pmc(c->assembler, &e, &pe.pmc);
			break;
		}
		err = pi_assembler__node_end(c->assembler, &e);
		break;
	}
	case PI_EV_STRUCT_NODE: {
		RECORD(struct pi_struct_node_event, e);
		err = pi_assembler__struct_node(c->assembler, &e);
		break;
	}
	case PI_EV_STRUCT_SRC: {
		RECORD(struct pi_struct_src_event, e);
		err = pi_assembler__struct_src(c->assembler, &e);
		break;
	}
	case PI_EV_EXPERT: /* variable size: the routing module checks it */
		if (c->routing)
			err = pi_routing__record(c->routing, data, size);
		break;
	case PI_EV_BACKEND_GRAPH_BEGIN: {
		RECORD(struct pi_backend_graph_event, e);
		on_backend_graph_begin(c, &e);
		break;
	}
	case PI_EV_BACKEND_GRAPH_END: {
		RECORD(struct pi_backend_graph_event, e);
		on_backend_graph_end(c, &e);
		break;
	}
	case PI_EV_BACKEND_NODE: {
		RECORD(struct pi_backend_node_event, e);
		on_backend_node(c, &e);
		break;
	}
	case PI_EV_THREAD: {
		RECORD(struct pi_thread_event, e);
		char name[sizeof(e.comm) + 1];

		memcpy(name, e.comm, sizeof(e.comm));
		name[sizeof(e.comm)] = '\0';
		pi_emit__thread_named(c->emit, e.hdr.tgid, e.hdr.tid, name);
		break;
	}
	case PI_EV_LIB_LOADED:
		if (c->n_rescan < PI_MAX_TARGETS && is_target(c, hdr.tgid)) {
			bool queued = false;

			for (size_t i = 0; i < c->n_rescan; i++)
				queued |= c->rescan[i] == (pid_t)hdr.tgid;
			if (!queued)
				c->rescan[c->n_rescan++] = hdr.tgid;
		}
		break;
	default:
		break;
	}
#undef RECORD
	if (err && c->o.verbose)
		fprintf(stderr, "debug: record kind %u: %s\n", hdr.kind, strerror(-err));
	if (err == -ENOMEM)
		return err;
	return 0;
}

/* ---- attach ----------------------------------------------------------- */

static struct bpf_program *program_for(struct pi_collector *c, enum pi_probe_kind k)
{
	switch (k) {
	case PI_PROBE_TOKEN_ENTER: return c->skel->progs.token_enter;
	case PI_PROBE_TOKEN_EXIT: return c->skel->progs.token_exit;
	case PI_PROBE_GRAPH_ENTER: return c->skel->progs.graph_enter;
	case PI_PROBE_GRAPH_EXIT: return c->skel->progs.graph_exit;
	case PI_PROBE_NODE_DISPATCH: return c->skel->progs.node_dispatch;
	case PI_PROBE_NODE_FUSED: return c->skel->progs.node_fused;
	case PI_PROBE_NODE_BARRIER: return c->skel->progs.node_barrier;
	case PI_PROBE_LIB_LOADED: return c->skel->progs.lib_loaded;
	case PI_PROBE_NODE_LOOP_BARRIER: return c->skel->progs.node_loop_barrier;
	default: return NULL;
	}
}

static int keep_link(void *ctx, struct bpf_link *l)
{
	struct pi_collector *c = ctx;

	if (c->n_links == c->cap_links) {
		size_t cap = c->cap_links ? c->cap_links * 2 : 64;
		void *p = realloc(c->links, cap * sizeof(*c->links));

		if (!p)
			return -ENOMEM;
		c->links = p;
		c->cap_links = cap;
	}
	c->links[c->n_links++] = l;
	return 0;
}

static bool is_return_probe(enum pi_probe_kind k)
{
	return k == PI_PROBE_TOKEN_EXIT || k == PI_PROBE_GRAPH_EXIT;
}

/* One attach per probe kind, with all of its addresses in this file. */
static int attach_plan(struct pi_collector *c, pid_t pid, const char *path,
		       const struct pi_probe_plan *plan, char *err, size_t errlen)
{
	unsigned long offsets[64];
	__u64 cookies[64];

	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++) {
		const char *symbol = NULL;
		size_t n = 0;
		int e;

		for (size_t i = 0; i < plan->n && n < 64; i++)
			if (plan->probes[i].kind == (enum pi_probe_kind)k) {
				cookies[n] = plan->probes[i].cookie;
				offsets[n++] = plan->probes[i].offset;
				symbol = plan->probes[i].symbol;
			}
		if (!n || pi_level_switch__kind_level(k))
			continue; /* graph and node probes: level_switch.c */
		e = pi_uprobe__attach(program_for(c, k), c->multi, is_return_probe(k), pid, path, offsets,
				      k == PI_PROBE_NODE_LOOP_BARRIER ? cookies : NULL, n, keep_link, c);
		if (e) {
			set_err(err, errlen, "failed to attach %s (%s) in %s: %s", pi_probe_kind__name(k),
				symbol, path, strerror(-e));
			return e;
		}
	}
	return 0;
}

static struct module *find_module(struct pi_collector *c, pid_t pid, uint64_t dev, uint64_t inode)
{
	for (size_t i = 0; i < c->n_modules; i++)
		if (c->modules[i].pid == pid && c->modules[i].dev == dev && c->modules[i].inode == inode)
			return &c->modules[i];
	return NULL;
}

/* GGML's op names of this engine file, once per process. */
static void emit_engine_names(struct pi_collector *c, pid_t pid, const struct pi_elf_file *f)
{
	struct pi_engine_names names;
	int e = pi_engine_info__read(f, &names);

	if (e == -ENOENT)
		return;
	if (e) {
		fprintf(stderr, "warning: could not read GGML's op names from %s: %s; ops will be shown by "
				"number\n", f->path, strerror(-e));
		return;
	}
	c->n_ops = names.n_ops;
	if (!c->op_names && (c->op_names = calloc(names.n_ops ? names.n_ops : 1, sizeof(char *)))) {
		for (size_t i = 0; i < names.n_ops; i++)
			c->op_names[i] = strdup(names.ops[i] ? names.ops[i] : "?");
		c->n_op_names = names.n_ops;
	}
	pi_assembler__set_op_names(c->assembler, (const char *const *)names.ops, names.n_ops);
	for (size_t i = 0; i < names.n_ops && i < 256; i++)
		c->op_keep[i] |= in_filter(c, names.ops[i]);
	for (size_t i = 0; i < names.n_unary && i < 64; i++)
		c->unary_keep[i] |= in_filter(c, names.unary[i]);
	for (size_t i = 0; i < names.n_glu && i < 64; i++)
		c->glu_keep[i] |= in_filter(c, names.glu[i]);
	for (size_t i = 0; i < names.n_ops; i++) {
		if (!strcmp(names.ops[i], "UNARY"))
			c->op_unary = i;
		else if (!strcmp(names.ops[i], "GLU"))
			c->op_glu = i;
		else if (!strcmp(names.ops[i], "MUL_MAT_ID") && c->routing) {
			pi_routing__set_op(c->routing, i);
			c->skel->bss->moe_op = i; /* moe_dispatch starts reading */
		}
	}
	if (c->layout_chosen) {
		pi_emit__engine(c->emit, pid, names.ops, names.n_ops, names.unary, names.n_unary,
				names.glu, names.n_glu);
		pi_engine_info__free(&names);
	} else if (c->n_pending_names < PI_MAX_TARGETS) {
		c->pending_names[c->n_pending_names++] = (struct pending_names){ pid, names };
	} else {
		pi_engine_info__free(&names);
	}
}

static void write_session(struct pi_collector *c);

/* The layout profile is decided when the CPU backend's file is attached (or at the first record),
 * unless the user chose a profile: GGML with a graph uid has
 * ggml_graph_next_uid (in ggml-base, loaded before any backend). SessionInfo,
 * which names the profile, is then written, and what waited for it. */
static void choose_layout_now(struct pi_collector *c)
{
	const struct pi_layout_profile *p;

	if (!c->layout_user && !c->layout_chosen) {
		p = pi_layout__auto(c->saw_graph_uid);
		c->layout = p->layout;
		snprintf(c->layout_name, sizeof(c->layout_name), "%s", p->name);
	}
	if (!c->layout_chosen) {
		c->skel->bss->layout = c->layout;
		c->layout_chosen = true;
		write_session(c);
		for (size_t i = 0; i < c->n_pending_names; i++) {
			struct pending_names *pn = &c->pending_names[i];

			pi_emit__engine(c->emit, pn->pid, pn->names.ops, pn->names.n_ops, pn->names.unary,
					pn->names.n_unary, pn->names.glu, pn->names.n_glu);
			pi_engine_info__free(&pn->names);
		}
		c->n_pending_names = 0;
	}
}

/* --moe: moe_dispatch on the compute loop's dispatcher calls (the sites of
 * two-probe node level), whatever the level and node-probe mode. */
static int attach_moe(struct pi_collector *c, pid_t pid, const char *path,
		      const struct pi_elf_file *f, char *err, size_t errlen)
{
	struct pi_probe_plan plan;
	unsigned long offsets[64];
	size_t n = 0;
	int e;

	if ((e = pi_probe_plan__build(f, PI_LEVEL_NODE, PI_NODE_PROBES_TWO, &plan))) {
		set_err(err, errlen, "failed to plan the --moe probes for %s: %s", path, strerror(-e));
		return e;
	}
	for (size_t i = 0; i < plan.n && n < 64; i++)
		if (plan.probes[i].kind == PI_PROBE_NODE_DISPATCH)
			offsets[n++] = plan.probes[i].offset;
	if (!n)
		fprintf(stderr, "warning: %s: no dispatcher call in the compute loop: no expert routing "
				"(--moe) from it\n", path);
	else if ((e = pi_uprobe__attach(c->skel->progs.moe_dispatch, c->multi, false, pid, path, offsets,
				       NULL, n, keep_link, c)))
		set_err(err, errlen, "failed to attach moe_dispatch in %s: %s", path, strerror(-e));
	pi_probe_plan__free(&plan);
	return e;
}

/* Backends: the generic graph entry (graph level) and the probe specs'
 * functions (node level) in this file. */
static int attach_backends(struct pi_collector *c, pid_t pid, const char *path, const struct pi_elf_file *f,
			   char *err, size_t errlen)
{
	const struct pi_elf_sym *s;
	bool cheap;
	int e;

	/* Each probe below reads tensors and graphs with the layout: it is
	 * chosen before the first one attaches (not for a file with none). */
	if (c->o.level >= PI_LEVEL_GRAPH && (s = pi_elf_file__find(f, "ggml_backend_graph_compute_async"))) {
		int64_t off = pi_elf_file__file_offset(f, pi_code_scan__entry_probe(f, s, &cheap));
		unsigned long at = off;

		choose_layout_now(c);
		if (off < 0 ||
		    (e = pi_uprobe__attach(c->skel->progs.backend_graph_enter, c->multi, false, pid, path, &at,
					   NULL, 1, keep_link, c)) ||
		    (e = pi_uprobe__attach(c->skel->progs.backend_graph_exit, c->multi, true, pid, path, &at,
					   NULL, 1, keep_link, c))) {
			set_err(err, errlen, "failed to attach backend_graph (ggml_backend_graph_compute_async) in %s: %s",
				path, off < 0 ? "no file offset" : strerror(-e));
			return off < 0 ? -ENOENT : e;
		}
		c->has_engine = true; /* GGML's own code: libggml-base */
		if (c->o.verbose)
			fprintf(stderr, "debug: %s: backend graphs from ggml_backend_graph_compute_async\n", path);
	}
	if (c->o.level >= PI_LEVEL_GRAPH) {
		struct pi_backend_site sites[8];
		unsigned long calls[8], afters[8];
		int n = pi_backend_sites__find(f, sites, 8);

		for (int i = 0; i < n; i++) {
			int64_t a = pi_elf_file__file_offset(f, sites[i].call), b = pi_elf_file__file_offset(f, sites[i].after);

			if (a < 0 || b < 0) {
				n = i;
				break;
			}
			calls[i] = a;
			afters[i] = b;
		}
		if (n > 0)
			choose_layout_now(c);
		if (n > 0 &&
		    ((e = pi_uprobe__attach(c->skel->progs.backend_graph_enter, c->multi, false, pid, path, calls, NULL,
					    n, keep_link, c)) ||
		     (e = pi_uprobe__attach(c->skel->progs.backend_graph_site_exit, c->multi, false, pid, path, afters,
					    NULL, n, keep_link, c)))) {
			set_err(err, errlen, "failed to attach backend_graph at the scheduler's graph_compute calls in %s: %s",
				path, strerror(-e));
			return e;
		}
		if (n > 0 && c->o.verbose)
			fprintf(stderr, "debug: %s: backend graphs from %d inlined graph_compute call(s)\n", path, n);
	}
	if (c->o.level < PI_LEVEL_NODE)
		return 0;
	for (size_t i = 0; i < c->n_specs; i++) {
		const struct pi_probe_spec *spec = &c->specs[i];
		struct pi_elf_file *g = NULL;
		const struct pi_elf_sym *fn = NULL;
		unsigned long at;
		__u64 cookie = ((__u64)i << 8) | spec->tensor_arg;
		int64_t off;

		if (!pi_probe_spec__library_matches(spec, path))
			continue;
		for (size_t k = 0; k < f->n_syms && !fn; k++)
			if (f->syms[k].func && pi_probe_spec__symbol_is(f->syms[k].name, spec->function))
				fn = &f->syms[k];
		/* Not among the engine's prefixes: this file again, for this function only. */
		if (!fn && strcmp(spec->library, "*")) {
			char buf[3][160];
			const char *prefixes[4];

			pi_probe_spec__prefixes(spec->function, buf, prefixes);
			if (!pi_elf_file__open(path, prefixes, &g))
				for (size_t k = 0; k < g->n_syms && !fn; k++)
					if (g->syms[k].func && pi_probe_spec__symbol_is(g->syms[k].name, spec->function))
						fn = &g->syms[k];
		}
		if (!fn) {
			pi_elf_file__free(g);
			continue;
		}
		off = pi_elf_file__file_offset(g ? g : f, pi_code_scan__entry_probe(g ? g : f, fn, &cheap));
		at = off;
		choose_layout_now(c);
		e = off < 0 ? -ENOENT
			    : pi_uprobe__attach(c->skel->progs.backend_node_enter, c->multi, false, pid, path, &at,
						&cookie, 1, keep_link, c);
		if (!e)
			e = pi_uprobe__attach(c->skel->progs.backend_node_exit, c->multi, true, pid, path, &at, NULL,
					      1, keep_link, c);
		if (e) {
			set_err(err, errlen, "failed to attach the probe spec %s:%s:%u in %s: %s", spec->library,
				spec->function, spec->tensor_arg, path, strerror(-e));
			pi_elf_file__free(g);
			return e;
		}
		c->builtin_found |= i >= c->n_specs - pi_backend__n_builtin_specs;
		c->has_engine = true;
		fprintf(stderr, "profinferd: %s: node-level probe on %s (tensor in argument %u, backend %s)\n",
			path, fn->name, spec->tensor_arg, spec->backend);
		pi_elf_file__free(g);
	}
	return 0;
}

/* Registers one mapped file of a target and opens it (with its debug file).
 * *out stays NULL for a file seen before or one that is no ELF file we can
 * read: nothing of ours in it. Returns 0, or -E2BIG at the module limit. */
static int open_module(struct pi_collector *c, pid_t pid, const char *path, uint64_t dev, uint64_t inode,
		       struct pi_elf_file **out)
{
	struct pi_elf_file *f = NULL;
	char *dbg;

	*out = NULL;
	if (find_module(c, pid, dev, inode))
		return 0;
	if (c->n_modules == PI_MAX_MODULES)
		return -E2BIG;
	c->modules[c->n_modules++] = (struct module){ .pid = pid, .dev = dev, .inode = inode };
	if (pi_elf_file__open(path, pi_probe_plan__symbol_prefixes, &f))
		return 0;
	if (!f->has_symtab && (dbg = pi_elf_file__find_debug_file(f))) {
		pi_elf_file__add_debug_file(f, dbg);
		free(dbg);
	}
	c->saw_graph_uid |= pi_elf_file__find(f, "ggml_graph_next_uid") != NULL;
	*out = f;
	return 0;
}

/* Plans and attaches the probes of one opened file for one target; frees it. */
static int attach_opened(struct pi_collector *c, pid_t pid, const char *path, struct pi_elf_file *f, char *err,
			 size_t errlen)
{
	struct pi_probe_plan plan;
	int e;

	e = pi_probe_plan__build(f, c->o.level, c->o.node_probes, &plan);
	if (e) {
		set_err(err, errlen, "failed to plan probes for %s: %s", path, strerror(-e));
		pi_elf_file__free(f);
		return e;
	}
	if (plan.n) {
		bool engine = plan.has_token || plan.has_graph;

		if (plan.has_graph)
			choose_layout_now(c);
		e = attach_plan(c, pid, path, &plan, err, errlen);
		if (!e)
			e = pi_level_switch__add(c->lv.ls, pid, path, &plan, err, errlen);
		if (!e && plan.has_graph && c->routing)
			e = attach_moe(c, pid, path, f, err, errlen);
		if (!e && engine) {
			c->has_engine = true;
			c->stats.modules_attached++;
			pi_emit__module(c->emit, pid, path, f->build_id, &plan, c->multi ? "uprobe_multi" : "uprobe",
					now_ns());
			for (size_t i = 0; i < plan.n_missing; i++)
				fprintf(stderr, "warning: %s: no %s: %s\n", path, plan.missing[i].symbol,
					plan.missing[i].detail_lost);
			if (plan.has_node && !c->node_code_attached) {
				c->node_code_attached = true;
				if (c->lv.bpf_level >= PI_LEVEL_NODE)
					open_node_span(&c->lv, now_ns());
			}
			if (c->o.level >= PI_LEVEL_NODE && plan.has_graph && !plan.has_node)
				fprintf(stderr, "warning: %s: node level unavailable, recording graphs only\n",
					path);
			if (plan.has_node && plan.node_one_failed &&
			    (c->o.node_probes == PI_NODE_PROBES_ONE || c->o.verbose))
				fprintf(stderr, "%s: %s: two probes per node: %s\n",
					c->o.node_probes == PI_NODE_PROBES_ONE ? "warning" : "debug", path,
					plan.node_one_failed);
		}
	}
	if (!e)
		e = attach_backends(c, pid, path, f, err, errlen);
	if (!e)
		emit_engine_names(c, pid, f);
	pi_probe_plan__free(&plan);
	pi_elf_file__free(f);
	return e;
}

static int attach_file(struct pi_collector *c, pid_t pid, const char *path, uint64_t dev,
		       uint64_t inode, char *err, size_t errlen)
{
	struct pi_elf_file *f;
	int e = open_module(c, pid, path, dev, inode, &f);

	return e || !f ? e : attach_opened(c, pid, path, f, err, errlen);
}

static int scan_pid(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	struct pi_mapped_file *files;
	struct pi_elf_file **opened;
	size_t n;
	int e;

	if ((e = pi_proc_maps__exec_files(pid, &files, &n))) {
		set_err(err, errlen, "failed to read the mappings of process %d: %s", (int)pid,
			strerror(-e));
		return e;
	}
	/* Every new file is opened before any is attached: the layout is chosen
	 * when the first file with graph code attaches, from whether any file
	 * defines ggml_graph_next_uid (libggml-base), and mappings come in
	 * address order, where a dlopen'ed CPU backend can precede libggml-base. */
	if (!(opened = calloc(n ? n : 1, sizeof(*opened)))) {
		free(files);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !e; i++)
		e = open_module(c, pid, files[i].path, files[i].dev, files[i].inode, &opened[i]);
	/* Each registered file is attached even after one fails (a later scan
	 * would skip it as known); the first error is returned. */
	for (size_t i = 0; i < n; i++) {
		char why[512];
		int ea;

		if (!opened[i])
			continue;
		ea = attach_opened(c, pid, files[i].path, opened[i], e ? why : err, e ? sizeof(why) : errlen);
		if (!e)
			e = ea;
	}
	free(opened);
	free(files);
	return e;
}

/* ---- lifecycle -------------------------------------------------------- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static int libbpf_print_verbose(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int choose_layout(struct pi_collector *c, char *err, size_t errlen)
{
	const struct pi_layout_profile *p;
	const char *spec = c->o.layout;

	/* Every GGML with a graph uid exports ggml_graph_next_uid; without a
	 * process to look at yet, start from the newest profile. */
	p = pi_layout__auto(true);
	if (spec && *spec && strcmp(spec, "auto")) {
		const char *comma = strchr(spec, ',');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(comma ? (size_t)(comma - spec) : strlen(spec)), spec);
		if (strchr(name, '=')) {
			comma = spec - 1; /* overrides only, on the default profile */
		} else if (!(p = pi_layout__find(name))) {
			set_err(err, errlen, "unknown layout profile '%s' (see --list-layouts)", name);
			return -EINVAL;
		}
		c->layout = p->layout;
		c->layout_user = true;
		if (comma && pi_layout__parse_override(comma + 1, &c->layout, err, errlen))
			return -EINVAL;
		snprintf(c->layout_name, sizeof(c->layout_name), "%s%s", p->name, comma ? "+override" : "");
		return 0;
	}
	c->layout = p->layout;
	snprintf(c->layout_name, sizeof(c->layout_name), "%s", p->name);
	return 0;
}

int pi_collector__new(const struct pi_collector_opts *o, struct pi_collector **out, char *err,
		      size_t errlen)
{
	struct pi_assembler_sink sink;
	struct pi_collector *c = calloc(1, sizeof(*c));
	uint32_t kib;
	int e;

	if (!c)
		return -ENOMEM;
	c->o = *o;
	c->op_unary = c->op_glu = -1;
	/* Probe specs: the session's first (its indexes are the BPF cookies), then the built-ins. */
	for (size_t i = 0; i < o->n_probes && c->n_specs < PI_MAX_BACKEND_SPECS; i++)
		c->specs[c->n_specs++] = o->probes[i];
	for (size_t i = 0; i < pi_backend__n_builtin_specs; i++)
		c->specs[c->n_specs++] = pi_backend__builtin_specs[i];
	if (c->o.node_probes != PI_NODE_PROBES_TWO && !pi_uprobe_cookie__supported()) {
		if (c->o.node_probes == PI_NODE_PROBES_ONE)
			fprintf(stderr, "warning: this kernel has no BPF cookies for uprobes: two probes per "
					"node\n");
		c->o.node_probes = PI_NODE_PROBES_TWO;
	}
	if (!c->o.structure && c->o.level >= PI_LEVEL_NODE)
		c->o.structure = true; /* node rows are placed by their structure */
	if (c->o.moe && c->o.level < PI_LEVEL_GRAPH) {
		e = -EINVAL;
		set_err(err, errlen, "--moe needs graph or node level (it reads the ids while a graph runs)");
		goto fail;
	}
	if (c->o.moe)
		c->o.structure = true; /* routing is placed by its node's structure */
	libbpf_set_print(o->verbose ? libbpf_print_verbose : libbpf_print);
	if ((e = choose_layout(c, err, errlen)))
		goto fail;

	/* Counters: a bad name fails here, before anything is loaded or attached;
	 * one that cannot be opened is said up front and recorded as not live. */
	if (o->counters) {
		if ((e = pi_counters__parse(o->counters, &c->counters, err, errlen)))
			goto fail;
		if ((e = pi_counters__open(&c->counters, err, errlen)))
			goto fail;
		for (size_t i = 0; i < c->counters.n; i++)
			if (!c->counters.counters[i].live)
				fprintf(stderr, "warning: counter '%s' not recorded: %s\n",
					c->counters.counters[i].name, c->counters.counters[i].error);
	}
	c->skel = llama_bpf__open();
	if (!c->skel) {
		e = -errno;
		set_err(err, errlen, "failed to open the BPF programs: %s", strerror(-e));
		goto fail;
	}
	kib = o->ring_buffer_kib ? o->ring_buffer_kib : PI_DEFAULT_RINGBUF_KIB;
	/* A power of two number of pages, as the ring buffer requires. */
	while (kib & (kib - 1))
		kib &= kib - 1;
	if (kib < 64)
		kib = 64;
	c->o.ring_buffer_kib = kib;
	bpf_map__set_max_entries(c->skel->maps.events, kib * 1024);
	c->multi = pi_uprobe_multi__supported();
	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++)
		pi_uprobe__prepare(program_for(c, k), c->multi);
	pi_uprobe__prepare(c->skel->progs.moe_dispatch, c->multi);
	pi_uprobe__prepare(c->skel->progs.backend_graph_enter, c->multi);
	pi_uprobe__prepare(c->skel->progs.backend_graph_exit, c->multi);
	pi_uprobe__prepare(c->skel->progs.backend_graph_site_exit, c->multi);
	pi_uprobe__prepare(c->skel->progs.backend_node_enter, c->multi);
	pi_uprobe__prepare(c->skel->progs.backend_node_exit, c->multi);
	bpf_program__set_autoload(c->skel->progs.moe_dispatch, c->o.moe);
	/* bpf_get_attach_cookie would not load here: leave the program out. */
	if (c->o.node_probes == PI_NODE_PROBES_TWO)
		bpf_program__set_autoload(c->skel->progs.node_loop_barrier, false);
	c->skel->rodata->capture_structure = c->o.structure;
	c->skel->rodata->wakeup_bytes = (uint64_t)kib * 1024 / 4;
	c->skel->bss->trap_only = getenv("PROFINFER_TRAP_ONLY") != NULL; /* bench/ only */
	memcpy(c->skel->bss->cpu_guid, pi_backend__cpu_guid, sizeof(c->skel->bss->cpu_guid));
	c->skel->rodata->n_counters = c->counters.n_live;
	if (c->counters.n_live)
		bpf_map__set_max_entries(c->skel->maps.pmc, c->counters.ncpu * PI_PMC_SLOTS);
	e = llama_bpf__load(c->skel);
	if (e) {
		set_err(err, errlen, "failed to load the BPF programs: %s%s", strerror(-e),
			e == -EPERM ? " (run as root, or grant CAP_BPF and CAP_PERFMON)" : "");
		goto fail;
	}
	if (c->counters.n_live &&
	    (e = pi_counters__fill_map(&c->counters, bpf_map__fd(c->skel->maps.pmc), err, errlen)))
		goto fail;
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), handle_event, c, NULL);
	if (!c->rb) {
		e = -errno;
		set_err(err, errlen, "failed to create the ring buffer reader: %s", strerror(-e));
		goto fail;
	}
	if ((e = level_init(c, err, errlen)))
		goto fail;
	c->w = pi_writer__new_fd(o->out_fd);
	c->emit = c->w ? pi_emit__new(c->w) : NULL;
	sink = (struct pi_assembler_sink){
		.ctx = c, .structure = on_structure, .graph = on_graph, .evicted = on_structures_evicted
	};
	c->assembler = pi_assembler__new(&sink);
	c->routing = c->o.moe ? pi_routing__new() : NULL;
	if (!c->w || !c->emit || !c->assembler || (c->o.moe && !c->routing)) {
		e = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	if (c->counters.n_live) {
		uint32_t ids[PI_MAX_COUNTERS];

		for (size_t k = 0; k < c->counters.n_live; k++)
			ids[k] = pi_counters__by_slot(&c->counters, k)->id;
		pi_assembler__set_counters(c->assembler, c->counters.n_live);
		pi_emit__set_counters(c->emit, ids, c->counters.n_live);
	}
	if (o->sched && (e = pi_sched_tracer__new(c->rb, c->w, c->emit, 0, o->btf_path, &c->sched, err, errlen)))
		goto fail;
	*out = c;
	return 0;
fail:
	pi_collector__free(c);
	return e;
}

static void write_session(struct pi_collector *c)
{
	struct pi_session_desc d = {
		.session_id = c->o.session_id ? c->o.session_id : "",
		.level = c->o.level,
		.structure = c->o.structure,
		.layout_name = c->layout_name,
		.layout = &c->layout,
		.layout_override = c->layout_user,
		.pids = c->pids,
		.n_pids = c->n_pids,
		.ring_buffer_kib = c->o.ring_buffer_kib,
		.sample_every_n_tokens = c->lv.sample_n,
		.qos = c->lv.qos.rule_on ? &c->lv.qos.rule : NULL,
		.sched = c->sched != NULL,
		.moe = c->routing != NULL,
		.op_filter = c->o.op_filter,
		.n_op_filter = c->o.n_op_filter,
	};
	const char *counters[PI_MAX_COUNTERS];

	for (size_t i = 0; i < c->counters.n; i++)
		counters[i] = c->counters.counters[i].name;
	d.counters = counters;
	d.n_counters = c->counters.n;

	pi_emit__session(c->emit, &d);
	for (size_t i = 0; i < c->counters.n; i++) {
		const struct pi_counter *k = &c->counters.counters[i];

		pi_emit__counter(c->emit, k->id, k->name, k->kind, k->perf_type, k->perf_config, k->live,
				 k->error);
	}
}

static int add_target(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	if (is_target(c, pid))
		return 0;
	if (c->n_pids == PI_MAX_TARGETS) {
		set_err(err, errlen, "too many target processes (at most %d)", PI_MAX_TARGETS);
		return -E2BIG;
	}
	c->pids[c->n_pids++] = pid;
	if (c->sched) {
		int e = pi_sched_tracer__add_target(c->sched, pid);

		if (e) {
			set_err(err, errlen, "failed to add process %d to the scheduler filter: %s", (int)pid,
				strerror(-e));
			return e;
		}
	}
	return 0;
}

/* A target the caller did not start, so cannot wait() for: the kernel will
 * tell how it ends. Best effort: its status stays unknown otherwise. */
static void watch_exit(struct pi_collector *c, pid_t pid)
{
	if (!c->exit_watch_tried) {
		char why[256];

		c->exit_watch_tried = true;
		c->exit_watch = pi_exit_watch__new(c->o.btf_path, why, sizeof(why));
		if (!c->exit_watch && c->o.verbose)
			fprintf(stderr, "debug: %s\n", why);
	}
	if (c->exit_watch)
		pi_exit_watch__add(c->exit_watch, pid);
}

int pi_collector__add_pid(struct pi_collector *c, pid_t pid, char *err, size_t errlen)
{
	int e = add_target(c, pid, err, errlen);

	if (!e) {
		watch_exit(c, pid);
		e = scan_pid(c, pid, err, errlen);
	}
	describe_target(c, pid); /* running already: /proc describes it */
	return e;
}

int pi_collector__add_pid_before_exec(struct pi_collector *c, pid_t pid, const char *exe, char *err,
				      size_t errlen)
{
	struct pi_elf_file *f = NULL;
	struct stat st;
	int e;

	if ((e = add_target(c, pid, err, errlen)))
		return e;
	if (stat(exe, &st)) {
		e = -errno;
		set_err(err, errlen, "cannot read %s: %s", exe, strerror(-e));
		return e;
	}
	if ((e = attach_file(c, pid, exe, st.st_dev, st.st_ino, err, errlen)))
		return e;
	/* The dynamic loader announces every library it maps (DT_NEEDED at
	 * start-up and dlopen later) through _dl_debug_state. */
	if (!pi_elf_file__open(exe, pi_probe_plan__symbol_prefixes, &f)) {
		char interp[4096];

		if (!pi_elf_file__interpreter(f, interp, sizeof(interp)) && !stat(interp, &st))
			e = attach_file(c, pid, interp, st.st_dev, st.st_ino, err, errlen);
		pi_elf_file__free(f);
	}
	return e;
}

bool pi_collector__has_engine(const struct pi_collector *c)
{
	return c->has_engine;
}

bool pi_collector__failed(const struct pi_collector *c)
{
	return c->finished;
}

static void read_lost(struct pi_collector *c)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		return;
	c->stats.lost_total = 0;
	for (uint32_t k = 0; k < PI_LOST_SLOTS; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.lost), &k, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		c->stats.lost[k] = sum;
		c->stats.lost_total += sum;
	}
	free(vals);
}

/* Libraries loaded since: attach as soon as possible (their code may run
 * meanwhile; tokens are node-complete only once a compute loop is attached). */
static void rescan_now(struct pi_collector *c)
{
	while (c->n_rescan) {
		pid_t pid = c->rescan[--c->n_rescan];
		char err[512];

		if (scan_pid(c, pid, err, sizeof(err)) && c->o.verbose)
			fprintf(stderr, "warning: %s\n", err);
	}
}

int pi_collector__poll(struct pi_collector *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	/* Hot records are submitted without a wake-up, and epoll reports
	 * nothing for them: the timeout is the wake-up, so read them now. */
	if (n == 0)
		n = ring_buffer__consume(c->rb);
	if (n < 0)
		return n;
	rescan_now(c);
	/* Scheduler batches follow SessionInfo, which the layout decision writes. */
	if (c->sched && c->layout_chosen)
		pi_sched_tracer__flush(c->sched, now_ns(), false);
	level_poll(c);
	/* Whole packets reach the file at every poll: a reader (or a crash)
	 * sees at most one poll interval less than was recorded. */
	pi_writer__flush(c->w);
	if (c->finished)
		return -ECANCELED;
	return n;
}

int pi_collector__target_exit_code(const struct pi_collector *c)
{
	int code;

	for (size_t i = 0; c->exit_watch && i < c->n_pids; i++)
		if (!pi_exit_watch__status(c->exit_watch, c->pids[i], &code))
			return code;
	return PI_EXIT_CODE_UNKNOWN;
}

int pi_collector__fd(const struct pi_collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

/* The collector's loss accounting uses the trace's EventKind numbering. */
static void to_event_kinds(const uint64_t *by_bpf_kind, uint64_t *out)
{
	memset(out, 0, 9 * sizeof(*out));
	out[1] = by_bpf_kind[PI_EV_TOKEN];
	out[2] = by_bpf_kind[PI_EV_GRAPH_BEGIN] + by_bpf_kind[PI_EV_GRAPH_END] +
		 by_bpf_kind[PI_EV_BACKEND_GRAPH_BEGIN] + by_bpf_kind[PI_EV_BACKEND_GRAPH_END];
	out[3] = by_bpf_kind[PI_EV_NODE] + by_bpf_kind[PI_EV_NODE_END] + by_bpf_kind[PI_EV_BACKEND_NODE];
	out[4] = by_bpf_kind[PI_EV_STRUCT_NODE] + by_bpf_kind[PI_EV_STRUCT_SRC];
}

/* Whether a target thread is inside llama_decode (map `threads`). */
static bool token_in_flight(struct pi_collector *c)
{
	int fd = bpf_map__fd(c->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct pi_thread_state st;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char path[64];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st) || !st.token_start_ns)
			continue;
		snprintf(path, sizeof(path), "/proc/%u", key);
		if (!access(path, F_OK))
			return true; /* a dead thread's token never ends */
	}
	return false;
}

/* Ends recording on a token boundary: no token starts any more, and the
 * ones in flight may finish (for at most `timeout_ms`). */
static void stop_at_token_boundary(struct pi_collector *c, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;

	c->skel->bss->stopping = true;
	while (token_in_flight(c) && now_ns() < deadline)
		ring_buffer__poll(c->rb, 10);
}

int pi_collector__finish(struct pi_collector *c, const char *reason, int exit_code)
{
	const struct pi_assembler_stats *as;
	uint64_t lost[9], recorded[9];

	choose_layout_now(c);
	stop_at_token_boundary(c, 2000);
	for (size_t i = 0; i < c->n_pids; i++)
		describe_target(c, c->pids[i]);
	/* Detach so nothing new arrives, then drain. */
	for (size_t i = 0; i < c->n_links; i++)
		bpf_link__destroy(c->links[i]);
	c->n_links = 0;
	pi_level_switch__detach_all(c->lv.ls);
	if (c->sched)
		pi_sched_tracer__detach(c->sched);
	ring_buffer__consume(c->rb);
	if (c->sched)
		pi_sched_tracer__flush(c->sched, now_ns(), true);
	pi_assembler__flush(c->assembler, now_ns());
	read_lost(c);
	as = pi_assembler__stats(c->assembler);
	to_event_kinds(c->stats.lost, lost);
	to_event_kinds(c->recorded, recorded);
	if (c->routing) {
		const struct pi_routing_stats *rs = pi_routing__stats(c->routing);

		pi_routing__flush(c->routing);
		/* Counted against the structure, so a record lost in BPF counts once. */
		lost[7] = pi_routing__dropped(c->routing);
		recorded[7] = rs->emitted;
		if (c->o.verbose)
			fprintf(stderr, "debug: expert routing: %llu written, %llu missing (%llu invalid, "
					"%llu too large, %llu partial), %llu unplaced\n",
				(unsigned long long)rs->emitted, (unsigned long long)rs->missing,
				(unsigned long long)rs->invalid, (unsigned long long)rs->too_large,
				(unsigned long long)rs->partial, (unsigned long long)rs->unplaced);
	}
	lost[3] += as->node_unattributed + as->node_unresolved;
	recorded[3] = as->node_rows - c->rows_filtered + c->stats.backend_nodes;
	if (c->o.n_op_filter)
		fprintf(stderr, "profinferd: op filter: %llu node rows of other ops not written (SessionConfig.op_filter)\n",
			(unsigned long long)c->rows_filtered);
	recorded[2] = as->graphs + c->stats.backend_graphs;
	/* A lost graph may have lost its begin record, its end record or both:
	 * count graphs, from the ids BPF handed out, not dropped records. */
	if (c->skel->bss->next_graph_id >= recorded[2])
		lost[2] = c->skel->bss->next_graph_id - recorded[2];
	if (c->counters.n_live) {
		/* EVENT_KIND_COUNTER: row x counter values written, and not measured. */
		recorded[6] = as->counter_measured;
		lost[6] = as->counter_unmeasured;
		if (as->counter_unmeasured)
			fprintf(stderr,
				"profinferd: counters: %llu of %llu node values measured; rows not measured: %llu "
				"without a base reading (first row of a thread, or a record lost), %llu "
				"moved CPU, %llu switched out; %llu values not read\n",
				(unsigned long long)as->counter_measured,
				(unsigned long long)(as->counter_measured + as->counter_unmeasured),
				(unsigned long long)as->counter_rows_no_base,
				(unsigned long long)as->counter_rows_migrated,
				(unsigned long long)as->counter_rows_switched,
				(unsigned long long)as->counter_cells_not_read);
	}
	if (c->sched)
		pi_sched_tracer__counts(c->sched, &recorded[5], &lost[5]); /* EVENT_KIND_SCHED */
	lost[8] = pi_emit__failed(c->emit) + pi_writer__stats(c->w).packets_failed;
	if (c->o.backend_probes && !c->builtin_found && c->o.level >= PI_LEVEL_NODE)
		fprintf(stderr, "warning: --backend-probes: none of ggml_cl_compute_forward, ggml_rk_compute_forward, "
				"ggml_cuda_compute_forward was found in the target's libraries (stripped, or no such "
				"backend loaded): no backend node rows\n");
	if (c->o.verbose) {
		for (int k = 1; k < PI_EV_KIND_MAX; k++)
			fprintf(stderr, "debug: kind %d: %llu records, %llu lost in BPF\n", k,
				(unsigned long long)c->recorded[k], (unsigned long long)c->stats.lost[k]);
		fprintf(stderr, "debug: unattributed %llu unresolved %llu graphs %llu, threads with derived ith %llu\n",
			(unsigned long long)as->node_unattributed, (unsigned long long)as->node_unresolved,
			(unsigned long long)as->graphs, (unsigned long long)as->node_ith_derived);
	}
	if (c->finished)
		reason = "stopped: wrong struct layout";
	level_finish(c);
	pi_emit__loss(c->emit, now_ns(), lost, recorded, 9);
	pi_emit__end(c->emit, now_ns(), reason, exit_code, lost, recorded, 9);
	pi_writer__flush(c->w);
	return 0;
}

void pi_collector__stats(const struct pi_collector *c, struct pi_collector_stats *s)
{
	const struct pi_assembler_stats *as = pi_assembler__stats(c->assembler);

	*s = c->stats;
	s->node_rows = as->node_rows - c->rows_filtered;
	s->unattributed = as->node_unattributed + as->node_unresolved;
	s->bytes_written = pi_writer__stats(c->w).bytes_written;
	s->output_lost = pi_emit__failed(c->emit) + pi_writer__stats(c->w).packets_failed;
	if (c->sched)
		pi_sched_tracer__counts(c->sched, &s->sched_events, &s->sched_lost);
}

/* ---- level switching, sampling and QoS ---------------------------------
 *
 * Two levels: the policy (lv.level: the session's, a client's, or what the
 * QoS rule asks) and what BPF records (lv.bpf_level = level_now). Raising
 * attaches first, then sets level_now; lowering sets level_now first and
 * detaches once no token begun at the higher level is still running (at
 * most PI_DETACH_WAIT_NS). A token records at the level it began with.
 *
 * Sampling (sample_every_n_tokens = N > 1): node level for one llama_decode
 * call in N, counted in BPF as calls start (tokens_started, sample_at).
 * Measured here (x86-64 VM, 2 cores, Linux 6.18, uprobe_multi, profinferd -v):
 * attaching the node probes of one file takes 0.04 ms before the target
 * runs, 5-20 ms into a running tiny-model process and up to 85 ms into a
 * 1.1B one; destroying a link takes 40-300 ms on average, up to 1.1 s (the
 * kernel waits for RCU grace periods; one synchronous 0.74 s detach held
 * the reader that long). So links are destroyed in a thread of their own
 * (level_switch.c), and attaching starts `lead` calls ahead of the
 * sampled one: enough calls, at the current TPOT, to cover the last attach
 * time and a poll interval. Where that is N - 1 calls or more (a small model
 * decoding in a few ms), the probes stay attached and only the BPF gate
 * moves: the trap cost stays, the recorded data is the same. A sampled call
 * that began before its probes were ready is not recorded at node level and
 * the next call to start is sampled instead. */

#define PI_DETACH_WAIT_NS (5ull * 1000000000ull)
#define PI_QOS_PERIOD_NS 1000000000ull

static bool node_span_covers(const struct level_state *lv, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < lv->n_spans; i++)
		if (lv->span_from[i] <= start && (!lv->span_to[i] || end <= lv->span_to[i]))
			return true;
	return false;
}

static void open_node_span(struct level_state *lv, uint64_t ts)
{
	if (lv->n_spans && !lv->span_to[lv->n_spans - 1])
		return;
	if (lv->n_spans == PI_MAX_NODE_SPANS) { /* forget the oldest */
		memmove(lv->span_from, lv->span_from + 1, (PI_MAX_NODE_SPANS - 1) * sizeof(uint64_t));
		memmove(lv->span_to, lv->span_to + 1, (PI_MAX_NODE_SPANS - 1) * sizeof(uint64_t));
		lv->n_spans--;
	}
	lv->span_from[lv->n_spans] = ts;
	lv->span_to[lv->n_spans++] = 0;
}

static void close_node_span(struct level_state *lv, uint64_t ts)
{
	if (lv->n_spans && !lv->span_to[lv->n_spans - 1])
		lv->span_to[lv->n_spans - 1] = ts;
}

static const char *level_name(enum pi_level l)
{
	return l >= PI_LEVEL_NODE ? "node" : l == PI_LEVEL_GRAPH ? "graph" : "token";
}

/* Whether a target thread is inside a llama_decode it began before
 * `before_ns` at a level above `level`. */
static bool token_above_in_flight(struct pi_collector *c, uint64_t before_ns, enum pi_level level)
{
	int fd = bpf_map__fd(c->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct pi_thread_state st;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char path[64];

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st) || !st.token_start_ns ||
		    st.token_start_ns >= before_ns || st.token_level <= (__u32)level)
			continue;
		snprintf(path, sizeof(path), "/proc/%u", key);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

static void try_detach(struct pi_collector *c, bool force)
{
	struct level_state *lv = &c->lv;
	uint64_t now = now_ns();

	if (!lv->detach_pending)
		return;
	if (!force && now < lv->detach_deadline_ns &&
	    token_above_in_flight(c, lv->detach_before_ns, lv->detach_to))
		return;
	if (lv->detach_to < PI_LEVEL_NODE)
		close_node_span(lv, now);
	pi_level_switch__apply(lv->ls, lv->detach_to, NULL, 0);
	lv->detach_pending = false;
	if (c->o.verbose)
		fprintf(stderr, "debug: level %s: probes handed to the detach thread\n", level_name(lv->detach_to));
}

/* Makes BPF record `to` for tokens that begin from now on. `record`: a
 * LevelChange packet waits for its first complete token. */
static int set_bpf_level(struct pi_collector *c, enum pi_level to, const char *reason, bool record)
{
	struct level_state *lv = &c->lv;
	enum pi_level from = lv->bpf_level;
	char err[512];
	uint64_t t0, ts;
	int e;

	if (!lv->gated) {
		c->skel->bss->level_gate = true;
		lv->gated = true;
	}
	if (to == from)
		return 0;
	if (to > from) {
		if (lv->detach_pending && lv->detach_to < to)
			lv->detach_pending = false; /* still attached: keep them */
		if (pi_level_switch__attached(lv->ls) < to) {
			t0 = now_ns();
			e = pi_level_switch__apply(lv->ls, to, err, sizeof(err));
			if (e) {
				fprintf(stderr, "warning: cannot raise the level to %s: %s\n", level_name(to), err);
				return e;
			}
			if (c->o.verbose)
				fprintf(stderr, "debug: level %s: probes attached in %.3f ms\n", level_name(to),
					(now_ns() - t0) / 1e6);
		}
		if (to >= PI_LEVEL_NODE && c->node_code_attached)
			open_node_span(lv, now_ns());
	}
	c->skel->data->level_now = to;
	ts = now_ns();
	lv->bpf_level = to;
	if (to < from) {
		lv->detach_pending = true;
		lv->detach_to = to;
		lv->detach_before_ns = ts;
		lv->detach_deadline_ns = ts + PI_DETACH_WAIT_NS;
	}
	if (record) {
		struct pending_change *p;

		if (lv->n_pending == PI_MAX_PENDING_CHANGES) { /* never completed: say so */
			p = &lv->pending[0];
			pi_emit__level_change(c->emit, p->ts_ns, p->from, p->to, p->reason, 0);
			memmove(lv->pending, lv->pending + 1, (PI_MAX_PENDING_CHANGES - 1) * sizeof(*p));
			lv->n_pending--;
		}
		p = &lv->pending[lv->n_pending++];
		*p = (struct pending_change){ .ts_ns = ts, .from = from, .to = to };
		snprintf(p->reason, sizeof(p->reason), "%s", reason);
	}
	try_detach(c, false);
	return 0;
}

static void emit_qos_sample(struct pi_collector *c)
{
	struct level_state *lv = &c->lv;
	uint64_t now = now_ns();

	if (!c->layout_chosen)
		return; /* nothing before SessionInfo */
	read_lost(c);
	pi_qos__sample(&lv->qos, now, c->stats.events, c->stats.lost_total, &lv->last_sample);
	lv->last_sample.level = lv->level;
	lv->last_qos_ns = now;
	pi_emit__qos(c->emit, &lv->last_sample);
}

static int change_level(struct pi_collector *c, enum pi_level to, const char *reason, bool by_client)
{
	struct level_state *lv = &c->lv;
	enum pi_level bpf_to = to;
	int e;

	if (lv->sample_n > 1 && to >= PI_LEVEL_NODE) {
		/* Sampling resumes: node level again N calls from now. */
		bpf_to = PI_LEVEL_GRAPH;
		c->skel->bss->sample_at = c->skel->bss->tokens_started + lv->sample_n;
	}
	if ((e = set_bpf_level(c, bpf_to, reason, !(lv->sample_n > 1 && lv->bpf_level == bpf_to))))
		return e;
	lv->level = to;
	pi_qos__level_changed(&lv->qos, to, now_ns(), by_client);
	if (c->o.verbose)
		fprintf(stderr, "debug: level %s (%s)\n", level_name(to), reason);
	emit_qos_sample(c);
	return 0;
}

/* Writes the LevelChange packets this token completes: a change is
 * complete at the first token that began after it, at its level. */
static void resolve_pending(struct pi_collector *c, const struct pi_token_event *e, uint64_t seq,
			    enum pi_level ran, bool node)
{
	struct level_state *lv = &c->lv;

	for (unsigned k = 0; k < lv->n_pending; k++) {
		struct pending_change *p = &lv->pending[k];

		if (e->start_ns < p->ts_ns || ran != p->to || (p->to >= PI_LEVEL_NODE && !node))
			continue;
		/* Earlier changes no token ran under whole. */
		for (unsigned i = 0; i < k; i++)
			pi_emit__level_change(c->emit, lv->pending[i].ts_ns, lv->pending[i].from, lv->pending[i].to,
					      lv->pending[i].reason, 0);
		pi_emit__level_change(c->emit, p->ts_ns, p->from, p->to, p->reason, seq);
		memmove(lv->pending, lv->pending + k + 1, (lv->n_pending - k - 1) * sizeof(*p));
		lv->n_pending -= k + 1;
		k = (unsigned)-1; /* the next may complete at this token too */
	}
}

/* Calls to attach ahead of the sampled one: the last attach time plus a
 * poll interval, in calls of the current TPOT. */
static uint64_t sample_lead(struct pi_collector *c)
{
	uint64_t attach = pi_level_switch__last_attach_ns(c->lv.ls);
	double tpot_ns = c->lv.last_token_ns;

	if (!attach)
		attach = 20 * 1000000ull; /* before the first one: a guess above what was measured */
	if (tpot_ns < 1e5)
		tpot_ns = 1e5;
	return 1 + (uint64_t)((attach + 100 * 1000000ull) / tpot_ns);
}

/* Arms the next sample (attaches the node probes) in time, and moves a
 * sample whose call began before the probes were ready to the next call. */
static void sample_arm(struct pi_collector *c)
{
	struct level_state *lv = &c->lv;
	__u64 started = c->skel->bss->tokens_started, at = c->skel->bss->sample_at;
	char why[64];

	if (lv->sample_n < 2 || lv->level < PI_LEVEL_NODE)
		return;
	snprintf(why, sizeof(why), "sampling: 1 token in %u", lv->sample_n);
	if (lv->bpf_level < PI_LEVEL_NODE && started + sample_lead(c) >= at &&
	    set_bpf_level(c, PI_LEVEL_NODE, why, false)) {
		fprintf(stderr, "warning: sampling stopped: the node probes cannot be attached\n");
		lv->sample_n = 0;
		c->skel->bss->sample_every = 0;
		return;
	}
	if (lv->bpf_level >= PI_LEVEL_NODE && started >= at && c->skel->bss->sample_granted != at)
		c->skel->bss->sample_at = started + 1;
}

/* The sampled call ended: its LevelChange pair, the next sample, and the
 * probes detached unless the next sample is too close to re-attach. */
static void sample_done(struct pi_collector *c, const struct pi_token_event *e, uint64_t seq, bool node)
{
	struct level_state *lv = &c->lv;
	char why[64];

	snprintf(why, sizeof(why), "sampling: 1 token in %u", lv->sample_n);
	pi_emit__level_change(c->emit, e->start_ns, PI_LEVEL_GRAPH, PI_LEVEL_NODE, why, node ? seq : 0);
	pi_emit__level_change(c->emit, e->end_ns, PI_LEVEL_NODE, PI_LEVEL_GRAPH, why, seq + 1);
	c->skel->bss->sample_at = c->skel->bss->sample_granted + lv->sample_n;
	if (sample_lead(c) + 1 < lv->sample_n)
		set_bpf_level(c, PI_LEVEL_GRAPH, why, false);
}

static void on_token(struct pi_collector *c, const struct pi_token_event *e)
{
	struct level_state *lv = &c->lv;
	uint64_t seq = ++c->token_seq;
	enum pi_level ran = e->hdr.flags >= PI_LEVEL_TOKEN && e->hdr.flags <= PI_LEVEL_NODE
				    ? (enum pi_level)e->hdr.flags : PI_LEVEL_TOKEN;
	/* Node-complete: node probes attached over the whole call, and they saw
	 * its graphs (none seen by a call that succeeded: its graphs ran before
	 * the library computing them was attached, e.g. just dlopen'ed). */
	bool node = ran >= PI_LEVEL_NODE && node_span_covers(lv, e->start_ns, e->end_ns) &&
		    (e->graphs > 0 || e->result != 0 || e->n_tokens <= 0);
	char why[128] = "";
	enum pi_level want;

	pi_emit__token(c->emit, e, seq, node);
	if (e->n_tokens == 1)
		lv->last_token_ns = e->end_ns - e->start_ns;
	resolve_pending(c, e, seq, ran, node);
	if (lv->sample_n > 1 && lv->level >= PI_LEVEL_NODE && ran >= PI_LEVEL_NODE)
		sample_done(c, e, seq, node);
	sample_arm(c);
	want = pi_qos__token(&lv->qos, e->start_ns, e->end_ns, e->n_tokens > 0 ? (uint32_t)e->n_tokens : 0,
			     e->ctx, why, sizeof(why));
	if (want != lv->level && change_level(c, want, why, false))
		pi_qos__level_changed(&lv->qos, lv->level, now_ns(), false); /* retry after a window */
}

static int level_init(struct pi_collector *c, char *err, size_t errlen)
{
	struct level_state *lv = &c->lv;
	struct bpf_program *progs[PI_PROBE_KIND_COUNT];
	int e;

	if ((e = pi_qos__init(&lv->qos, &c->o.qos, c->o.level, err, errlen)))
		return e;
	lv->level = lv->bpf_level = c->o.level;
	lv->sample_n = c->o.sample_every_n_tokens > 1 && c->o.level >= PI_LEVEL_NODE ? c->o.sample_every_n_tokens : 0;
	if (lv->sample_n > 2)
		lv->bpf_level = PI_LEVEL_GRAPH; /* attached a call ahead of each sample */
	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++)
		progs[k] = program_for(c, k);
	lv->ls = pi_level_switch__new(progs, c->multi, lv->bpf_level);
	if (!lv->ls) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* The node span opens when the first compute loop is attached. */
	c->skel->data->level_now = lv->bpf_level;
	/* The gate is set from the start where the level will move, and at the
	 * first pi_collector__set_level otherwise. */
	lv->gated = lv->sample_n > 1 || lv->qos.rule_on;
	c->skel->bss->level_gate = lv->gated;
	c->skel->bss->sample_every = lv->sample_n;
	c->skel->bss->sample_at = lv->sample_n;
	c->skel->bss->tokens_started = 0;
	return 0;
}

/* Every poll: lowering waits for tokens in flight; a QosSample a second. */
static void level_poll(struct pi_collector *c)
{
	try_detach(c, false);
	sample_arm(c);
	if (now_ns() - c->lv.last_qos_ns >= PI_QOS_PERIOD_NS)
		emit_qos_sample(c);
}

/* End of session: changes no token completed are written with seq 0. */
static void level_finish(struct pi_collector *c)
{
	struct level_state *lv = &c->lv;
	struct pi_level_switch_cost cost, *k = &cost;

	pi_level_switch__cost(lv->ls, &cost);
	for (unsigned i = 0; i < lv->n_pending; i++)
		pi_emit__level_change(c->emit, lv->pending[i].ts_ns, lv->pending[i].from, lv->pending[i].to,
				      lv->pending[i].reason, 0);
	lv->n_pending = 0;
	emit_qos_sample(c);
	if (c->o.verbose && (k->attaches || k->detaches))
		fprintf(stderr, "debug: level switching: %llu attaches (mean %.3f ms, max %.3f ms, %llu links), "
				"%llu detaches (%llu links destroyed, mean %.3f ms per link, max %.3f ms)\n",
			(unsigned long long)k->attaches, k->attach_ns / 1e6 / (k->attaches ? k->attaches : 1),
			k->attach_ns_max / 1e6, (unsigned long long)k->links_created,
			(unsigned long long)k->detaches, (unsigned long long)k->links_destroyed,
			k->detach_ns / 1e6 / (k->links_destroyed ? k->links_destroyed : 1), k->detach_ns_max / 1e6);
}

int pi_collector__set_level(struct pi_collector *c, enum pi_level level, const char *reason)
{
	if (level < PI_LEVEL_TOKEN || level > PI_LEVEL_NODE)
		return -EINVAL;
	/* Probes are planned for the session's level: above it there are none. */
	if (level > c->o.level)
		return -EOPNOTSUPP;
	if (level == c->lv.level)
		return 0;
	return change_level(c, level, reason && *reason ? reason : "client", true);
}

enum pi_level pi_collector__level(const struct pi_collector *c)
{
	return c->lv.level;
}

void pi_collector__qos(const struct pi_collector *c, struct pi_qos_sample *out)
{
	*out = c->lv.last_sample;
	out->ts_ns = now_ns();
	out->tokens_per_s = pi_qos__tokens_per_s(&c->lv.qos);
	out->level = c->lv.level;
}

void pi_collector__level_cost(const struct pi_collector *c, struct pi_level_switch_cost *out)
{
	pi_level_switch__cost(c->lv.ls, out);
}

void pi_collector__free(struct pi_collector *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_links; i++)
		bpf_link__destroy(c->links[i]);
	free(c->links);
	for (size_t i = 0; i < c->n_pending_names; i++)
		pi_engine_info__free(&c->pending_names[i].names);
	for (size_t i = 0; i < c->n_op_names; i++)
		free(c->op_names[i]);
	free(c->op_names);
	ring_buffer__free(c->rb);
	pi_level_switch__free(c->lv.ls);
	pi_sched_tracer__free(c->sched); /* after the reader of its ring */
	pi_exit_watch__free(c->exit_watch);
	llama_bpf__destroy(c->skel);
	pi_assembler__free(c->assembler);
	pi_counters__close(&c->counters);
	pi_routing__free(c->routing);
	pi_emit__free(c->emit);
	if (c->w)
		pi_writer__free(c->w);
	free(c);
}
