// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* graph_assembler: rows rebuilt from one-probe node records (PI_EV_NODE_END),
 * on a small graph with a skipped view, a fused RMS_NORM + MUL and trailing
 * empty nodes, for two threads; and a graph whose last unit only the final
 * barrier closes. */
#include "graph_assembler.h"

#include "test_util.h"

static const char *const OPS[] = { "NONE", "ADD", "VIEW", "RMS_NORM", "MUL" };
enum { NONE, ADD, VIEW, RMS_NORM, MUL };

struct seen_row {
	uint32_t tid, ith, node, fused;
	uint64_t start, compute, barrier;
};
static struct seen_row seen[64];
static size_t n_seen;

static void on_graph(void *ctx, const struct pi_graph *g, const struct pi_structure *s)
{
	(void)ctx;
	(void)s;
	for (size_t t = 0; t < g->n_threads; t++)
		for (size_t r = 0; r < g->threads[t].n && n_seen < 64; r++)
			seen[n_seen++] = (struct seen_row){
				g->threads[t].tid, g->threads[t].ith, g->threads[t].rows[r].node_index,
				g->threads[t].rows[r].fused, g->threads[t].rows[r].start_ns,
				g->threads[t].compute_ns[r], g->threads[t].barrier_ns[r],
			};
}

static const struct seen_row *row(uint32_t tid, uint32_t node)
{
	for (size_t i = 0; i < n_seen; i++)
		if (seen[i].tid == tid && seen[i].node == node)
			return &seen[i];
	return NULL;
}

static void begin(struct pi_assembler *a, uint64_t graph_id, uint64_t structure_id, bool captured,
		  const uint32_t *ops, const int32_t *flags, uint32_t n, uint64_t ts)
{
	struct pi_graph_begin_event b = {
		.hdr = { .kind = PI_EV_GRAPH_BEGIN, .tid = 100, .tgid = 100 }, .graph_id = graph_id,
		.ts_ns = ts, .cgraph = 0x1000, .structure_id = structure_id, .n_nodes = n,
		.captured = captured,
	};

	CHECK(pi_assembler__graph_begin(a, &b) == 0);
	for (uint32_t i = 0; captured && i < n; i++) {
		struct pi_struct_node_event e = {
			.hdr = { .kind = PI_EV_STRUCT_NODE, .tid = 100, .tgid = 100 },
			.structure_id = structure_id, .index = i, .op = ops[i], .flags = flags[i],
			.tensor = 0x10000 + i * 0x100,
		};

		CHECK(pi_assembler__struct_node(a, &e) == 0);
	}
}

static void end_at(struct pi_assembler *a, uint64_t graph_id, uint32_t tid, uint16_t ith,
		   uint64_t ts, uint32_t counter, bool final)
{
	struct pi_node_end_event e = {
		.hdr = { .kind = PI_EV_NODE_END, .flags = final ? PI_NODE_END_FINAL : 0, .aux = ith,
			 .tid = tid, .tgid = 100 },
		.graph_id = graph_id, .ts_ns = ts, .counter = counter,
	};

	CHECK(pi_assembler__node_end(a, &e) == 0);
}

int main(void)
{
	struct pi_assembler_sink sink = { .graph = on_graph };
	struct pi_assembler *a = pi_assembler__new(&sink);
	/* 0 ADD | 1 VIEW (skipped) | 2 RMS_NORM + 3 MUL (fused) | 4 ADD | 5 VIEW (skipped) */
	static const uint32_t ops1[] = { ADD, VIEW, RMS_NORM, MUL, ADD, VIEW };
	static const int32_t flags1[] = { 16, 0, 16, 16, 16, 0 };
	/* 0 ADD | 1 ADD (not computed: no COMPUTE flag) | 2 ADD, closed by the final barrier */
	static const uint32_t ops2[] = { ADD, ADD, ADD };
	static const int32_t flags2[] = { 16, 0, 16 };
	struct pi_graph_end_event ge = { .hdr = { .kind = PI_EV_GRAPH_END, .tid = 100, .tgid = 100 } };
	const struct seen_row *r;

	CHECK(a && pi_assembler__set_op_names(a, OPS, 5) == 0);

	begin(a, 1, 1, true, ops1, flags1, 6, 100);
	/* Thread 0 (tid 100) and thread 1 (tid 101): node_n + 1 at each barrier. */
	end_at(a, 1, 100, 0, 110, 1, false);
	end_at(a, 1, 101, 1, 120, 1, false);
	end_at(a, 1, 101, 1, 200, 4, false);
	end_at(a, 1, 100, 0, 210, 4, false);
	end_at(a, 1, 100, 0, 310, 5, false);
	end_at(a, 1, 101, 1, 330, 5, false);
	end_at(a, 1, 100, 0, 320, 0, true); /* only skipped nodes after the last unit */
	end_at(a, 1, 101, 1, 335, 0, true);
	ge.graph_id = 1;
	ge.ts_ns = 400;
	CHECK(pi_assembler__graph_end(a, &ge) == 0);

	CHECK(n_seen == 6);
	/* Unit releases: max over threads = 120, 210, 330. */
	CHECK((r = row(100, 0)) && r->ith == 0 && r->fused == 0 && r->start == 100 && r->compute == 10 &&
	      r->barrier == 10);
	CHECK((r = row(101, 0)) && r->ith == 1 && r->start == 100 && r->compute == 20 && r->barrier == 0);
	CHECK((r = row(100, 2)) && r->fused == 1 && r->start == 120 && r->compute == 90 && r->barrier == 0);
	CHECK((r = row(101, 2)) && r->fused == 1 && r->start == 120 && r->compute == 80 && r->barrier == 10);
	CHECK((r = row(100, 4)) && r->fused == 0 && r->start == 210 && r->compute == 100 && r->barrier == 90);
	CHECK((r = row(101, 4)) && r->start == 210 && r->compute == 120 && r->barrier == 70);
	CHECK(!row(100, 1) && !row(100, 3) && !row(100, 5));

	/* Same structure reused by a later graph would not be captured again;
	 * a new one here: the last unit has no in-loop barrier. */
	n_seen = 0;
	begin(a, 2, 2, true, ops2, flags2, 3, 1000);
	end_at(a, 2, 100, PI_ITH_UNKNOWN, 1010, 1, false);
	end_at(a, 2, 100, PI_ITH_UNKNOWN, 1030, 0, true);
	ge.graph_id = 2;
	ge.ts_ns = 1040;
	CHECK(pi_assembler__graph_end(a, &ge) == 0);
	CHECK(n_seen == 2);
	CHECK((r = row(100, 0)) && r->ith == 0 && r->compute == 10 && r->barrier == 0);
	CHECK((r = row(100, 2)) && r->start == 1010 && r->compute == 20 && r->barrier == 10);
	CHECK(pi_assembler__stats(a)->node_rows == 8);
	CHECK(pi_assembler__stats(a)->node_unresolved == 0);

	pi_assembler__free(a);
	if (test_failures)
		fprintf(stderr, "graph_assembler_test: %d failure(s)\n", test_failures);
	return test_failures ? 1 : 0;
}
