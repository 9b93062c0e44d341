// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "graph_assembler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Graphs in flight at once: one per process computing, so a handful. */
#define PI_MAX_OPEN_GRAPHS 256

struct pi_assembler {
	struct pi_assembler_sink sink;
	struct pi_structure **structures; /* by id - 1; NULL once evicted */
	size_t n_structures, n_live;
	uint64_t clock;			  /* graphs begun */
	struct pi_graph *open[PI_MAX_OPEN_GRAPHS];
	size_t n_open;
	struct pi_assembler_stats stats;
	bool *empty_op; /* by op number: GGML's loop skips these nodes */
	size_t n_ops;
	uint32_t n_counters; /* counter slots in node records */
};

/* GGML_TENSOR_FLAG_COMPUTE: the loop skips nodes without it (GGML that has it). */
#define PI_TENSOR_FLAG_COMPUTE 16

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

struct pi_assembler *pi_assembler__new(const struct pi_assembler_sink *sink)
{
	struct pi_assembler *a = calloc(1, sizeof(*a));

	if (a)
		a->sink = *sink;
	return a;
}

static void structure_free(struct pi_structure *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s->srcs);
	free(s->by_tensor);
	free(s);
}

static void graph_free(struct pi_graph *g)
{
	for (size_t i = 0; i < g->n_threads; i++) {
		free(g->threads[i].rows);
		free(g->threads[i].ends);
		free(g->threads[i].compute_ns);
		free(g->threads[i].barrier_ns);
		free(g->threads[i].pmc_first);
		free(g->threads[i].pmc_last);
		free(g->threads[i].end_pmc);
		free(g->threads[i].row_pmc);
	}
	free(g->threads);
	free(g);
}

void pi_assembler__free(struct pi_assembler *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_structures; i++)
		structure_free(a->structures[i]);
	free(a->structures);
	for (size_t i = 0; i < a->n_open; i++)
		graph_free(a->open[i]);
	free(a->empty_op);
	free(a);
}

static struct pi_structure *structure(struct pi_assembler *a, uint64_t id)
{
	return id && id <= a->n_structures ? a->structures[id - 1] : NULL;
}

static bool used_by_open_graph(const struct pi_assembler *a, uint64_t id)
{
	for (size_t i = 0; i < a->n_open; i++)
		if (a->open[i]->structure_id == id)
			return true;
	return false;
}

/* Keeps memory bounded: frees the least recently used structures that no
 * open graph uses, and tells the sink which, in one batch. */
static void evict_structures(struct pi_assembler *a)
{
	uint64_t ids[PI_MAX_LIVE_STRUCTURES];
	size_t n = 0;

	while (a->n_live > PI_LIVE_STRUCTURES_AFTER_EVICTION && n < PI_MAX_LIVE_STRUCTURES) {
		struct pi_structure *oldest = NULL;

		for (size_t i = 0; i < a->n_structures; i++) {
			struct pi_structure *s = a->structures[i];

			if (s && (!oldest || s->last_use < oldest->last_use) && !used_by_open_graph(a, s->id))
				oldest = s;
		}
		if (!oldest)
			break;
		ids[n++] = oldest->id;
		a->structures[oldest->id - 1] = NULL;
		structure_free(oldest);
		a->n_live--;
		a->stats.structures_evicted++;
	}
	if (n && a->sink.evicted)
		a->sink.evicted(a->sink.ctx, ids, n);
}

static struct pi_graph *open_graph(struct pi_assembler *a, uint64_t graph_id)
{
	for (size_t i = a->n_open; i-- > 0;)
		if (a->open[i]->graph_id == graph_id)
			return a->open[i];
	return NULL;
}

int pi_assembler__graph_begin(struct pi_assembler *a, const struct pi_graph_begin_event *e)
{
	struct pi_graph *g;

	if (e->captured) {
		struct pi_structure *s;
		size_t cap = a->n_structures;

		/* Structure ids come from one BPF counter: 1, 2, 3... */
		if (e->structure_id != a->n_structures + 1 || e->n_nodes <= 0 ||
		    e->n_nodes > PI_MAX_GRAPH_NODES)
			return -EINVAL;
		if (grow((void **)&a->structures, &cap, a->n_structures + 1, sizeof(*a->structures)))
			return -ENOMEM;
		s = calloc(1, sizeof(*s));
		if (!s || !(s->nodes = calloc(e->n_nodes, sizeof(*s->nodes)))) {
			free(s);
			return -ENOMEM;
		}
		s->id = e->structure_id;
		s->tgid = e->hdr.tgid;
		s->cgraph = e->cgraph;
		s->n_nodes = e->n_nodes;
		a->structures[a->n_structures++] = s;
		a->n_live++;
		a->stats.structures++;
	}
	{
		struct pi_structure *used = structure(a, e->structure_id);

		if (used)
			used->last_use = ++a->clock;
	}
	if (a->n_open == PI_MAX_OPEN_GRAPHS) {
		/* A graph whose end was lost: deliver it so memory stays bounded. */
		a->stats.graphs_unfinished++;
		graph_free(a->open[0]);
		memmove(a->open, a->open + 1, (--a->n_open) * sizeof(a->open[0]));
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->graph_id = e->graph_id;
	g->tgid = e->hdr.tgid;
	g->tid = e->hdr.tid;
	g->start_ns = e->ts_ns;
	g->cgraph = e->cgraph;
	g->uid = e->uid;
	g->n_nodes = e->n_nodes;
	g->structure_id = e->structure_id;
	a->open[a->n_open++] = g;
	if (a->n_live > PI_MAX_LIVE_STRUCTURES)
		evict_structures(a);
	return 0;
}

int pi_assembler__struct_node(struct pi_assembler *a, const struct pi_struct_node_event *e)
{
	struct pi_structure *s = structure(a, e->structure_id);

	if (!s || e->index >= s->n_nodes || !e->tensor)
		return -EINVAL;
	if (!s->nodes[e->index].tensor)
		s->n_received++;
	s->nodes[e->index] = *e;
	return 0;
}

int pi_assembler__struct_src(struct pi_assembler *a, const struct pi_struct_src_event *e)
{
	struct pi_structure *s = structure(a, e->structure_id);

	if (!s || !e->tensor)
		return -EINVAL;
	for (size_t i = 0; i < s->n_srcs; i++)
		if (s->srcs[i].tensor == e->tensor)
			return 0;
	if (grow((void **)&s->srcs, &s->cap_srcs, s->n_srcs + 1, sizeof(*s->srcs)))
		return -ENOMEM;
	s->srcs[s->n_srcs++] = *e;
	return 0;
}

static struct pi_thread_rows *thread_rows(struct pi_graph *g, uint32_t tid)
{
	for (size_t i = 0; i < g->n_threads; i++)
		if (g->threads[i].tid == tid)
			return &g->threads[i];
	if (grow((void **)&g->threads, &g->cap_threads, g->n_threads + 1, sizeof(*g->threads)))
		return NULL;
	memset(&g->threads[g->n_threads], 0, sizeof(g->threads[0]));
	g->threads[g->n_threads].tid = tid;
	return &g->threads[g->n_threads++];
}

int pi_assembler__set_counters(struct pi_assembler *a, uint32_t n)
{
	if (n > PI_MAX_COUNTERS)
		return -EINVAL;
	a->n_counters = n;
	return 0;
}

int pi_assembler__node(struct pi_assembler *a, const struct pi_node_event *e)
{
	return pi_assembler__node_pmc(a, e, NULL);
}

int pi_assembler__node_pmc(struct pi_assembler *a, const struct pi_node_event *e,
			   const struct pi_pmc_delta *pmc)
{
	static const struct pi_pmc_delta none = { .why = PI_PMC_NO_BASE };
	struct pi_graph *g = open_graph(a, e->graph_id);
	struct pi_thread_rows *t;
	struct pi_node_row *last;

	if (!g) {
		a->stats.node_unattributed++;
		return 0;
	}
	t = thread_rows(g, e->hdr.tid);
	if (!t)
		return -ENOMEM;
	t->ith = e->hdr.aux;
	last = t->n ? &t->rows[t->n - 1] : NULL;
	if (a->n_counters && !pmc)
		pmc = &none;
	if (last && last->start_ns == e->start_ns && last->tensor == e->tensor) {
		/* Another barrier call before the next node started. */
		if (e->end_ns > last->end_last_ns) {
			last->end_last_ns = e->end_ns;
			if (pmc)
				t->pmc_last[t->n - 1] = *pmc;
		}
		return 0;
	}
	if (grow((void **)&t->rows, &t->cap, t->n + 1, sizeof(*t->rows)))
		return -ENOMEM;
	if (pmc) {
		size_t cap = t->cap_pmc;

		if (grow((void **)&t->pmc_first, &cap, t->n + 1, sizeof(*pmc)) ||
		    grow((void **)&t->pmc_last, &t->cap_pmc, t->n + 1, sizeof(*pmc)))
			return -ENOMEM;
		t->pmc_first[t->n] = t->pmc_last[t->n] = *pmc;
	}
	t->rows[t->n++] = (struct pi_node_row){
		.tensor = e->tensor, .start_ns = e->start_ns, .end_first_ns = e->end_ns,
		.end_last_ns = e->end_ns, .fused = e->hdr.flags,
	};
	return 0;
}

int pi_assembler__set_op_names(struct pi_assembler *a, const char *const *names, size_t n)
{
	static const char *const empty[] = { "NONE", "RESHAPE", "VIEW", "PERMUTE", "TRANSPOSE" };
	bool *e = calloc(n ? n : 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(empty) / sizeof(empty[0]); k++)
			e[i] |= names[i] && !strcmp(names[i], empty[k]);
	free(a->empty_op);
	a->empty_op = e;
	a->n_ops = n;
	return 0;
}

int pi_assembler__node_end(struct pi_assembler *a, const struct pi_node_end_event *e)
{
	return pi_assembler__node_end_pmc(a, e, NULL);
}

int pi_assembler__node_end_pmc(struct pi_assembler *a, const struct pi_node_end_event *e,
			       const struct pi_pmc_delta *pmc)
{
	static const struct pi_pmc_delta none = { .why = PI_PMC_NO_BASE };
	struct pi_graph *g = open_graph(a, e->graph_id);
	struct pi_thread_rows *t;

	if (!g) {
		a->stats.node_unattributed++;
		return 0;
	}
	t = thread_rows(g, e->hdr.tid);
	if (!t)
		return -ENOMEM;
	if (e->hdr.aux != PI_ITH_UNKNOWN) {
		t->ith = e->hdr.aux;
		t->ith_known = true;
	}
	if (a->n_counters) {
		if (grow((void **)&t->end_pmc, &t->cap_end_pmc, t->n_ends + 1, sizeof(*t->end_pmc)))
			return -ENOMEM;
		t->end_pmc[t->n_ends] = pmc ? *pmc : none;
	}
	if (grow((void **)&t->ends, &t->cap_ends, t->n_ends + 1, sizeof(*t->ends)))
		return -ENOMEM;
	t->ends[t->n_ends++] = (struct pi_node_end){
		.ts_ns = e->ts_ns, .counter = e->counter, .final = e->hdr.flags & PI_NODE_END_FINAL,
	};
	return 0;
}

static int cmp_tensor(const void *x, const void *y)
{
	const struct pi_tensor_index *a = x, *b = y;

	return a->tensor < b->tensor ? -1 : a->tensor > b->tensor;
}

static int index_structure(struct pi_structure *s)
{
	size_t n = 0;

	if (s->by_tensor)
		return 0;
	s->by_tensor = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*s->by_tensor));
	if (!s->by_tensor)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i].tensor)
			s->by_tensor[n++] = (struct pi_tensor_index){ s->nodes[i].tensor, i };
	qsort(s->by_tensor, n, sizeof(*s->by_tensor), cmp_tensor);
	s->n_received = n;
	return 0;
}

bool pi_structure__node_index(const struct pi_structure *s, uint64_t tensor, uint32_t *index)
{
	struct pi_tensor_index key = { tensor, 0 }, *hit;

	if (!s->by_tensor)
		return false;
	hit = bsearch(&key, s->by_tensor, s->n_received, sizeof(key), cmp_tensor);
	if (hit && index)
		*index = hit->index;
	return hit;
}

/* Keeps a row's counter deltas only where they cover exactly the row's span:
 * both readings comparable (same CPU, no task switch, same graph) and the
 * base reading the one expected (a lost or dropped record breaks the chain).
 * Everything else is counted, never written as a number. */
static void check_row_pmc(struct pi_assembler *a, struct pi_pmc_delta *p, bool has_base,
			  uint64_t base_ts_ns)
{
	uint32_t all = (1u << a->n_counters) - 1;

	if (p->why == PI_PMC_MIGRATED)
		a->stats.counter_rows_migrated++;
	else if (p->why == PI_PMC_SWITCHED)
		a->stats.counter_rows_switched++;
	else if (p->why != PI_PMC_OK || !has_base || p->base_ts_ns != base_ts_ns)
		a->stats.counter_rows_no_base++;
	if (p->why != PI_PMC_OK || !has_base || p->base_ts_ns != base_ts_ns) {
		p->valid = 0;
	} else {
		p->valid &= all;
		a->stats.counter_cells_not_read += a->n_counters - __builtin_popcount(p->valid);
	}
	a->stats.counter_measured += __builtin_popcount(p->valid);
	a->stats.counter_unmeasured += a->n_counters - __builtin_popcount(p->valid);
}

/* Resolves node indexes, drops rows that cannot be placed (counted), and
 * splits each row into compute and barrier time. The last row of a thread
 * ends at its first barrier call: a second one there is the final barrier
 * after trailing no-op nodes, not part of the node. */
static int finish_thread(struct pi_assembler *a, struct pi_graph *g, const struct pi_structure *s,
			 struct pi_thread_rows *t)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct pi_node_row r = t->rows[i];

		if (!s || !pi_structure__node_index(s, r.tensor, &r.node_index)) {
			a->stats.node_unresolved++;
			continue;
		}
		if (t->pmc_first) {
			t->pmc_first[kept] = t->pmc_first[i];
			t->pmc_last[kept] = t->pmc_last[i];
		}
		t->rows[kept++] = r;
	}
	t->n = kept;
	t->compute_ns = calloc(kept ? kept : 1, sizeof(uint64_t));
	t->barrier_ns = calloc(kept ? kept : 1, sizeof(uint64_t));
	if (!t->compute_ns || !t->barrier_ns)
		return -ENOMEM;
	if (a->n_counters) {
		/* A row's delta is the one of the barrier call that ends it. */
		if (!(t->row_pmc = calloc(kept ? kept : 1, sizeof(*t->row_pmc))))
			return -ENOMEM;
		for (size_t i = 0; i < kept; i++) {
			t->row_pmc[i] = i + 1 < kept ? t->pmc_last[i] : t->pmc_first[i];
			check_row_pmc(a, &t->row_pmc[i], true, t->rows[i].start_ns);
		}
	}
	for (size_t i = 0; i < kept; i++) {
		const struct pi_node_row *r = &t->rows[i];
		uint64_t end = i + 1 < kept ? r->end_last_ns : r->end_first_ns;
		uint64_t next = i + 1 < kept ? t->rows[i + 1].start_ns : g->end_ns;

		t->compute_ns[i] = end > r->start_ns ? end - r->start_ns : 0;
		t->barrier_ns[i] = next > end ? next - end : 0;
	}
	a->stats.node_rows += kept;
	return 0;
}

/* Whether GGML's compute loop runs node i (and ends it with a barrier):
 * not an empty op, and flagged for compute where this GGML has the flag. */
static bool executes(const struct pi_assembler *a, const struct pi_structure *s, uint32_t i,
		     bool use_flag)
{
	const struct pi_struct_node_event *n = &s->nodes[i];

	if (!n->tensor)
		return true; /* not captured: assume it runs */
	if (n->op < a->n_ops && a->empty_op[n->op])
		return false;
	return !use_flag || (n->flags & PI_TENSOR_FLAG_COMPUTE);
}

/* One-probe mode: the rows of one thread from its barrier calls. An in-loop
 * call reads node_n + 1 of the unit's last node; the unit starts at the first
 * node GGML runs after the previous unit. The call after the loop ends the
 * unit that reaches the graph's last node, if one is still open. */
static int rows_from_ends(struct pi_assembler *a, const struct pi_structure *s,
			  struct pi_thread_rows *t, bool use_flag)
{
	int64_t prev_last = -1;
	uint32_t n = s->n_nodes;

	t->n = 0;
	for (size_t k = 0; k < t->n_ends; k++) {
		const struct pi_node_end *e = &t->ends[k];
		uint32_t first, last;

		if (e->final) {
			if (prev_last >= (int64_t)n - 1)
				continue; /* trailing nodes were skipped: nothing open */
			last = n - 1;
		} else {
			if (!e->counter || e->counter > n || (int64_t)e->counter - 1 <= prev_last) {
				a->stats.node_unresolved++;
				continue;
			}
			last = e->counter - 1;
		}
		for (first = prev_last + 1; first < last && !executes(a, s, first, use_flag); first++)
			;
		if (e->final && !executes(a, s, first, use_flag))
			continue; /* only skipped nodes after the last unit */
		prev_last = last;
		if (grow((void **)&t->rows, &t->cap, t->n + 1, sizeof(*t->rows)))
			return -ENOMEM;
		t->rows[t->n++] = (struct pi_node_row){
			.tensor = s->nodes[first].tensor, .end_first_ns = e->ts_ns, .end_last_ns = e->ts_ns,
			.node_index = first, .last_index = last, .end_index = k, .fused = last - first,
		};
	}
	return 0;
}

/* One-probe mode, whole graph: a unit's barrier releases when the last
 * thread reaches it, and the next unit starts then on every thread. Rows are
 * contiguous: start, compute until this thread's barrier call, barrier wait
 * until the release (the last unit: until the graph ends). */
static int assemble_ends(struct pi_assembler *a, struct pi_graph *g, const struct pi_structure *s)
{
	uint64_t *release = NULL;
	bool use_flag = false;
	uint32_t next_ith = 1;
	int err = 0;

	if (!s) {
		for (size_t i = 0; i < g->n_threads; i++) {
			a->stats.node_unresolved += g->threads[i].n_ends;
			g->threads[i].n = 0;
		}
		return 0;
	}
	for (uint32_t i = 0; i < s->n_nodes && !use_flag; i++)
		use_flag = s->nodes[i].flags & PI_TENSOR_FLAG_COMPUTE;
	if (!(release = calloc(s->n_nodes ? s->n_nodes : 1, sizeof(*release))))
		return -ENOMEM;
	for (size_t i = 0; i < g->n_threads && !err; i++) {
		struct pi_thread_rows *t = &g->threads[i];

		if ((err = rows_from_ends(a, s, t, use_flag)))
			break;
		for (size_t r = 0; r < t->n; r++)
			if (t->rows[r].end_last_ns > release[t->rows[r].last_index])
				release[t->rows[r].last_index] = t->rows[r].end_last_ns;
	}
	for (size_t i = 0; i < g->n_threads && !err; i++) {
		struct pi_thread_rows *t = &g->threads[i];

		/* Thread index not read: the thread that entered the graph is 0. */
		if (!t->ith_known) {
			t->ith = t->tid == g->tid ? 0 : next_ith++;
			a->stats.node_ith_derived++;
		}
		t->compute_ns = calloc(t->n ? t->n : 1, sizeof(uint64_t));
		t->barrier_ns = calloc(t->n ? t->n : 1, sizeof(uint64_t));
		if (!t->compute_ns || !t->barrier_ns) {
			err = -ENOMEM;
			break;
		}
		for (size_t r = 0; r < t->n; r++) {
			struct pi_node_row *row = &t->rows[r];
			uint64_t start = r ? release[t->rows[r - 1].last_index] : g->start_ns;
			uint64_t end = row->end_last_ns;
			uint64_t next = r + 1 < t->n ? release[row->last_index] : g->end_ns;

			if (end < start)
				end = start;
			if (next < end)
				next = end;
			row->start_ns = start;
			t->compute_ns[r] = end - start;
			t->barrier_ns[r] = next - end;
		}
		if (a->n_counters && t->end_pmc) {
			/* Each delta runs from this thread's previous barrier call: the
			 * previous row's end. The first row has no such base. */
			if (!(t->row_pmc = calloc(t->n ? t->n : 1, sizeof(*t->row_pmc)))) {
				err = -ENOMEM;
				break;
			}
			for (size_t r = 0; r < t->n; r++) {
				t->row_pmc[r] = t->end_pmc[t->rows[r].end_index];
				check_row_pmc(a, &t->row_pmc[r], r > 0, r ? t->rows[r - 1].end_last_ns : 0);
			}
		}
		a->stats.node_rows += t->n;
	}
	free(release);
	return err;
}

static int deliver(struct pi_assembler *a, struct pi_graph *g)
{
	bool one_probe = false;
	struct pi_structure *s = structure(a, g->structure_id);
	int err = 0;

	if (s) {
		if ((err = index_structure(s)))
			return err;
		if (!s->emitted) {
			if (s->n_received != s->n_nodes)
				a->stats.structures_incomplete++;
			s->emitted = true;
			if (a->sink.structure)
				a->sink.structure(a->sink.ctx, s);
		}
	}
	for (size_t i = 0; i < g->n_threads; i++)
		one_probe |= g->threads[i].n_ends > 0;
	if (one_probe)
		err = assemble_ends(a, g, s);
	g->counter_spans_barrier = one_probe;
	for (size_t i = 0; i < g->n_threads && !err && !one_probe; i++)
		err = finish_thread(a, g, s, &g->threads[i]);
	a->stats.graphs++;
	if (!err && a->sink.graph)
		a->sink.graph(a->sink.ctx, g, s);
	return err;
}

static void close_graph(struct pi_assembler *a, size_t i)
{
	graph_free(a->open[i]);
	memmove(a->open + i, a->open + i + 1, (a->n_open - i - 1) * sizeof(a->open[0]));
	a->n_open--;
}

int pi_assembler__graph_end(struct pi_assembler *a, const struct pi_graph_end_event *e)
{
	int err;

	for (size_t i = a->n_open; i-- > 0;) {
		struct pi_graph *g = a->open[i];

		if (g->graph_id != e->graph_id)
			continue;
		g->end_ns = e->ts_ns;
		g->ended = true;
		err = deliver(a, g);
		close_graph(a, i);
		return err;
	}
	return -ENOENT;
}

void pi_assembler__flush(struct pi_assembler *a, uint64_t now_ns)
{
	while (a->n_open) {
		struct pi_graph *g = a->open[0];
		uint64_t end = g->start_ns;

		for (size_t t = 0; t < g->n_threads; t++) {
			for (size_t r = 0; r < g->threads[t].n; r++)
				if (g->threads[t].rows[r].end_last_ns > end)
					end = g->threads[t].rows[r].end_last_ns;
			for (size_t r = 0; r < g->threads[t].n_ends; r++)
				if (g->threads[t].ends[r].ts_ns > end)
					end = g->threads[t].ends[r].ts_ns;
		}
		g->end_ns = end;
		a->stats.graphs_unfinished++;
		deliver(a, g);
		close_graph(a, 0);
	}
	(void)now_ns;
}

const struct pi_assembler_stats *pi_assembler__stats(const struct pi_assembler *a)
{
	return &a->stats;
}
