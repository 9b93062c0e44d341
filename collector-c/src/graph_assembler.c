// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "graph_assembler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Graphs in flight at once: one per process computing, so a handful. */
#define PI_MAX_OPEN_GRAPHS 256

struct pi_assembler {
	struct pi_assembler_sink sink;
	struct pi_structure **structures; /* by id - 1 */
	size_t n_structures;
	struct pi_graph *open[PI_MAX_OPEN_GRAPHS];
	size_t n_open;
	struct pi_assembler_stats stats;
};

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
		free(g->threads[i].compute_ns);
		free(g->threads[i].barrier_ns);
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
	free(a);
}

static struct pi_structure *structure(struct pi_assembler *a, uint64_t id)
{
	return id && id <= a->n_structures ? a->structures[id - 1] : NULL;
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
		a->stats.structures++;
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

int pi_assembler__node(struct pi_assembler *a, const struct pi_node_event *e)
{
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
	if (last && last->start_ns == e->start_ns && last->tensor == e->tensor) {
		/* Another barrier call before the next node started. */
		if (e->end_ns > last->end_last_ns)
			last->end_last_ns = e->end_ns;
		return 0;
	}
	if (grow((void **)&t->rows, &t->cap, t->n + 1, sizeof(*t->rows)))
		return -ENOMEM;
	t->rows[t->n++] = (struct pi_node_row){
		.tensor = e->tensor, .start_ns = e->start_ns, .end_first_ns = e->end_ns,
		.end_last_ns = e->end_ns, .fused = e->hdr.flags,
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
		t->rows[kept++] = r;
	}
	t->n = kept;
	t->compute_ns = calloc(kept ? kept : 1, sizeof(uint64_t));
	t->barrier_ns = calloc(kept ? kept : 1, sizeof(uint64_t));
	if (!t->compute_ns || !t->barrier_ns)
		return -ENOMEM;
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

static int deliver(struct pi_assembler *a, struct pi_graph *g)
{
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
	for (size_t i = 0; i < g->n_threads && !err; i++)
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

		for (size_t t = 0; t < g->n_threads; t++)
			for (size_t r = 0; r < g->threads[t].n; r++)
				if (g->threads[t].rows[r].end_last_ns > end)
					end = g->threads[t].rows[r].end_last_ns;
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
