// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "expert_routing.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "trace_emit.h"

#define PI_GGML_TYPE_I32 26	   /* fixed in ggml.h since the enum got explicit values */
#define PI_ROUTING_MAX_IDS 65535   /* ExpertRouting.expert_ids: nanopb's 16-bit count */
#define PI_ROUTING_MAX_PENDING 65536 /* nodes waiting for their graph's end */
/* GGML_TENSOR_FLAG_COMPUTE: the loop skips nodes without it (GGML that has
 * it), as graph_assembler.c knows too. */
#define PI_TENSOR_FLAG_COMPUTE 16

/* The ids of one MUL_MAT_ID node of one graph, gathered from its chunks. */
struct pending {
	uint64_t graph_id, tensor, ids, ts_ns;
	uint32_t tgid;
	uint32_t type;
	int64_t ne[4];
	uint64_t nb1;
	uint32_t rows;	/* rows received, in order */
	bool broken;	/* a chunk did not fit the ones before */
	bool too_large;
	int32_t *vals;	/* ne[1] rows of ne[0] ids, stride removed */
};

struct pi_routing {
	struct pending *p;
	size_t n, cap;
	int op;
	struct pi_emit *emit;
	struct pi_routing_stats stats;
};

struct pi_routing *pi_routing__new(void)
{
	struct pi_routing *r = calloc(1, sizeof(*r));

	if (r)
		r->op = -1;
	return r;
}

void pi_routing__free(struct pi_routing *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->p[i].vals);
	free(r->p);
	free(r);
}

void pi_routing__set_op(struct pi_routing *r, int op_mul_mat_id)
{
	r->op = op_mul_mat_id;
}

const struct pi_routing_stats *pi_routing__stats(const struct pi_routing *r)
{
	return &r->stats;
}

uint64_t pi_routing__dropped(const struct pi_routing *r)
{
	return r->stats.missing + r->stats.unplaced;
}

int pi_routing__layer(const char *name)
{
	const char *dash = strrchr(name, '-');
	long layer = 0;

	if (!dash || !dash[1])
		return -1;
	for (const char *c = dash + 1; *c; c++) {
		if (*c < '0' || *c > '9' || layer > 1000000)
			return -1;
		layer = layer * 10 + (*c - '0');
	}
	return (int)layer;
}

static struct pending *find(struct pi_routing *r, const struct pi_expert_event *e)
{
	for (size_t i = r->n; i-- > 0;)
		if (r->p[i].graph_id == e->graph_id && r->p[i].tensor == e->tensor &&
		    r->p[i].tgid == e->hdr.tgid)
			return &r->p[i];
	return NULL;
}

static struct pending *add(struct pi_routing *r, const struct pi_expert_event *e)
{
	struct pending *p;

	if (r->n == PI_ROUTING_MAX_PENDING)
		return NULL; /* counted missing when its graph ends */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *np = realloc(r->p, cap * sizeof(*r->p));

		if (!np)
			return NULL;
		r->p = np;
		r->cap = cap;
	}
	p = &r->p[r->n++];
	*p = (struct pending){
		.graph_id = e->graph_id, .tensor = e->tensor, .ids = e->ids, .ts_ns = e->ts_ns,
		.tgid = e->hdr.tgid, .type = e->type, .nb1 = e->nb1,
	};
	memcpy(p->ne, e->ne, sizeof(p->ne));
	if (p->ne[0] * p->ne[1] > PI_ROUTING_MAX_IDS) {
		p->too_large = true;
		return p;
	}
	p->vals = malloc(p->ne[0] * p->ne[1] * sizeof(int32_t));
	if (!p->vals) {
		r->n--;
		return NULL;
	}
	return p;
}

int pi_routing__record(struct pi_routing *r, const void *data, size_t size)
{
	const size_t head = offsetof(struct pi_expert_event, data);
	struct pi_expert_event e;
	struct pending *p;

	if (size < head) {
		r->stats.invalid++;
		return 0;
	}
	memcpy(&e, data, head);
	/* Shape checks first: the sizes below are computed from it. */
	if (e.ne[0] < 1 || e.ne[0] > PI_EXPERT_MAX_USED || e.ne[1] < 1 || e.ne[1] > (1 << 24) ||
	    e.nb1 < (uint64_t)e.ne[0] * 4 || e.nb1 > PI_EXPERT_CHUNK_BYTES || e.n_rows < 1 ||
	    e.n_bytes > PI_EXPERT_CHUNK_BYTES || e.n_bytes > size - head ||
	    e.n_bytes != (uint64_t)(e.n_rows - 1) * e.nb1 + e.ne[0] * 4 ||
	    (uint64_t)e.row_first + e.n_rows > (uint64_t)e.ne[1]) {
		r->stats.invalid++;
		return 0;
	}
	p = find(r, &e);
	if (e.row_first == 0 && !p) {
		if (!(p = add(r, &e)))
			return r->n == PI_ROUTING_MAX_PENDING ? 0 : -ENOMEM;
	} else if (!p) {
		return 0; /* its first chunk was lost: the node is counted missing */
	}
	if (p->too_large || p->broken)
		return 0;
	if (e.row_first != p->rows || e.ids != p->ids || memcmp(e.ne, p->ne, sizeof(p->ne)) ||
	    e.nb1 != p->nb1) {
		p->broken = true;
		return 0;
	}
	for (uint32_t row = 0; row < e.n_rows; row++)
		memcpy(&p->vals[(uint64_t)(e.row_first + row) * p->ne[0]],
		       (const uint8_t *)data + head + (uint64_t)row * e.nb1, p->ne[0] * sizeof(int32_t));
	p->rows += e.n_rows;
	return 0;
}

/* Experts the node's weights (src[0], [n_embd, n_ff, n_expert]) have; 0: unknown. */
static int64_t n_experts_of(const struct pi_structure *s, const struct pi_struct_node_event *node)
{
	uint32_t index;

	for (size_t i = 0; i < s->n_srcs; i++)
		if (s->srcs[i].tensor == node->src[0])
			return s->srcs[i].ne[2];
	if (pi_structure__node_index(s, node->src[0], &index))
		return s->nodes[index].ne[2];
	return 0;
}

/* Every id names one of the node's experts, and a token's ids differ
 * (GGML's top-k picks distinct experts): garbage rarely passes both. */
static bool ids_valid(const struct pending *p, int64_t n_expert)
{
	for (int64_t t = 0; t < p->ne[1]; t++) {
		const int32_t *row = &p->vals[t * p->ne[0]];

		for (int64_t k = 0; k < p->ne[0]; k++) {
			if (row[k] < 0 || row[k] >= n_expert)
				return false;
			for (int64_t j = 0; j < k; j++)
				if (row[j] == row[k])
					return false;
		}
	}
	return true;
}

/* Whether GGML's loop runs this node's dispatcher call: not for nodes
 * without the COMPUTE flag, nor for empty ones (a last layer computing no
 * output row in this ubatch: ggml_compute_forward returns first). */
static bool runs(const struct pi_struct_node_event *node, bool use_flag)
{
	for (int k = 0; k < 4; k++)
		if (node->ne[k] == 0)
			return false;
	return !use_flag || (node->flags & PI_TENSOR_FLAG_COMPUTE);
}

/* Writes one node's routing; false when it is not a node of this graph's
 * structure (unplaced) or did not check out (counted by reason). */
static bool settle(struct pi_routing *r, struct pending *p, const struct pi_graph *g,
		   const struct pi_structure *s, bool *placed)
{
	const struct pi_struct_node_event *node;
	uint32_t index;
	int64_t n_expert;

	*placed = false;
	if (!s || !pi_structure__node_index(s, p->tensor, &index) || (int)s->nodes[index].op != r->op)
		return false;
	*placed = true;
	node = &s->nodes[index];
	if (p->too_large) {
		r->stats.too_large++;
		return false;
	}
	if (p->broken || p->rows != p->ne[1]) {
		r->stats.partial++; /* a chunk was lost in BPF */
		return false;
	}
	n_expert = n_experts_of(s, node);
	if (node->src[2] != p->ids || p->type != PI_GGML_TYPE_I32 || p->ne[2] != 1 || p->ne[3] != 1 ||
	    n_expert < p->ne[0] || !ids_valid(p, n_expert)) {
		r->stats.invalid++;
		return false;
	}
	return !pi_emit__expert_routing(r->emit, g->tgid, g->graph_id, index,
					pi_routing__layer(node->name), p->ne[0], p->ne[1], p->vals,
					p->ts_ns);
}

void pi_routing__graph(struct pi_routing *r, const struct pi_graph *g, const struct pi_structure *s,
		       struct pi_emit *emit)
{
	uint64_t expected = 0, emitted = 0;
	bool use_flag = false, placed;
	size_t kept = 0;

	r->emit = emit;
	/* Every MUL_MAT_ID node the loop ran should have sent its ids: those that
	 * did not (a lost record, the op learned late) are lost. */
	if (s && r->op >= 0) {
		for (uint32_t i = 0; i < s->n_nodes && !use_flag; i++)
			use_flag = s->nodes[i].flags & PI_TENSOR_FLAG_COMPUTE;
		for (uint32_t i = 0; i < s->n_nodes; i++)
			expected += s->nodes[i].tensor && (int)s->nodes[i].op == r->op &&
				    runs(&s->nodes[i], use_flag);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct pending *p = &r->p[i];

		if (p->graph_id == g->graph_id && p->tgid == g->tgid) {
			emitted += settle(r, p, g, s, &placed);
			r->stats.unplaced += !placed;
			free(p->vals);
		} else {
			r->p[kept++] = *p;
		}
	}
	r->n = kept;
	r->stats.emitted += emitted;
	r->stats.missing += expected > emitted ? expected - emitted : 0;
}

void pi_routing__flush(struct pi_routing *r)
{
	for (size_t i = 0; i < r->n; i++) {
		r->stats.unplaced++;
		free(r->p[i].vals);
	}
	r->n = 0;
}
