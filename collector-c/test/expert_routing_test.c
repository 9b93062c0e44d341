// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* expert_routing: PI_EV_EXPERT records (as bpf/llama.bpf.c moe_dispatch sends
 * them) placed by a graph's structure from the real assembler: chunked rows
 * with a stride put back together, and every hostile or incomplete record
 * counted, never written: short records, ids out of range or repeated in a
 * token, a missing chunk, a node that sent nothing, a graph that never ended. */
#include <stddef.h>
#include <unistd.h>

#include "expert_routing.h"
#include "graph_assembler.h"
#include "stream_writer.h"
#include "trace_emit.h"

#include "test_util.h"

enum { NONE, MUL_MAT, MUL_MAT_ID };
static const char *const OPS[] = { "NONE", "MUL_MAT", "MUL_MAT_ID" };

#define WEIGHTS 0x9000
#define IDS 0x8000
#define N_EXPERT 8

static struct pi_routing *routing;
static struct pi_emit *emit;

static void on_graph(void *ctx, const struct pi_graph *g, const struct pi_structure *s)
{
	(void)ctx;
	pi_routing__graph(routing, g, s, emit);
}

static uint64_t node_tensor(uint32_t i)
{
	return 0x10000 + i * 0x100;
}

/* Graph `graph_id` of structure 1: node 0 MUL_MAT, nodes 1 and 2 MUL_MAT_ID
 * (ffn_moe_gate-7, ffn_moe_down-7) reading ids IDS, weights with 8 experts;
 * node 3 a MUL_MAT_ID with no token (GGML skips it: no routing expected). */
static void begin(struct pi_assembler *a, uint64_t graph_id, bool capture)
{
	struct pi_graph_begin_event b = {
		.hdr = { .kind = PI_EV_GRAPH_BEGIN, .tid = 100, .tgid = 100 }, .graph_id = graph_id,
		.ts_ns = graph_id * 1000, .cgraph = 0x1000, .uid = 1, .structure_id = 1, .n_nodes = 4,
		.captured = capture,
	};
	static const char *const names[] = { "attn_q-7", "ffn_moe_gate-7", "ffn_moe_down-7", "ffn_moe_up-8" };
	struct pi_struct_src_event w = {
		.hdr = { .kind = PI_EV_STRUCT_SRC, .tid = 100, .tgid = 100 }, .structure_id = 1,
		.tensor = WEIGHTS, .ne = { 256, 256, N_EXPERT, 1 }, .name = "blk.7.ffn_gate_exps.weight",
	};

	CHECK(pi_assembler__graph_begin(a, &b) == 0);
	for (uint32_t i = 0; capture && i < 4; i++) {
		struct pi_struct_node_event e = {
			.hdr = { .kind = PI_EV_STRUCT_NODE, .tid = 100, .tgid = 100 },
			.structure_id = 1, .index = i, .op = i ? MUL_MAT_ID : MUL_MAT,
			.tensor = node_tensor(i), .src = { WEIGHTS, 0x7000, i ? IDS : 0 },
			.ne = { 256, 2, i == 3 ? 0 : 4, 1 },
		};

		snprintf(e.name, sizeof(e.name), "%s", names[i]);
		CHECK(pi_assembler__struct_node(a, &e) == 0);
		CHECK(pi_assembler__struct_src(a, &w) == 0);
	}
}

static void end(struct pi_assembler *a, uint64_t graph_id)
{
	struct pi_graph_end_event e = {
		.hdr = { .kind = PI_EV_GRAPH_END, .tid = 100, .tgid = 100 }, .graph_id = graph_id,
		.ts_ns = graph_id * 1000 + 500,
	};

	CHECK(pi_assembler__graph_end(a, &e) == 0);
}

/* A chunk of node `node`'s ids: rows [first, first + n) of `ids` (2 per
 * token), stored 8 ints (one argsort row) apart as GGML's view has them. */
static int send(uint64_t graph_id, uint32_t node, const int32_t (*ids)[2], uint32_t n_tokens,
		uint32_t first, uint32_t n, size_t cut)
{
	static struct pi_expert_event e;
	size_t head = offsetof(struct pi_expert_event, data);

	memset(&e, 0, sizeof(e));
	e.hdr = (struct pi_hdr){ .kind = PI_EV_EXPERT, .tid = 100, .tgid = 100 };
	e.graph_id = graph_id;
	e.tensor = node_tensor(node);
	e.ids = IDS;
	e.ts_ns = graph_id * 1000 + node;
	e.ne[0] = 2;
	e.ne[1] = n_tokens;
	e.ne[2] = e.ne[3] = 1;
	e.nb1 = N_EXPERT * 4;
	e.type = 26; /* GGML_TYPE_I32 */
	e.row_first = first;
	e.n_rows = n;
	e.n_bytes = (n - 1) * e.nb1 + 2 * 4;
	for (uint32_t r = 0; r < n; r++) {
		memcpy(&e.data[r * e.nb1], ids[first + r], 8);
		memset(&e.data[r * e.nb1 + 8], 0x7f, e.nb1 - 8); /* the rest of the argsort row */
	}
	return pi_routing__record(routing, &e, head + e.n_bytes - cut);
}

int main(void)
{
	static const int32_t ids[4][2] = { { 1, 2 }, { 2, 1 }, { 7, 0 }, { 3, 4 } };
	static const int32_t out_of_range[1][2] = { { 1, N_EXPERT } };
	static const int32_t repeated[1][2] = { { 5, 5 } };
	struct pi_assembler_sink sink = { .graph = on_graph };
	const struct pi_routing_stats *st;
	struct pi_assembler *a;
	struct pi_writer *w = NULL;
	FILE *f = tmpfile();

	CHECK(pi_routing__layer("ffn_moe_gate-12") == 12);
	CHECK(pi_routing__layer("ffn_moe_gate-0") == 0);
	CHECK(pi_routing__layer("ffn_moe_gate") == -1);
	CHECK(pi_routing__layer("ffn_moe_gate-") == -1);
	CHECK(pi_routing__layer("ffn_moe_gate-1 (reshaped)") == -1);
	CHECK(pi_routing__layer("a-99999999999") == -1);

	CHECK(f && (w = pi_writer__new_fd(fileno(f))) && (emit = pi_emit__new(w)));
	CHECK((routing = pi_routing__new()) && (a = pi_assembler__new(&sink)));
	CHECK(pi_assembler__set_op_names(a, OPS, 3) == 0);
	pi_routing__set_op(routing, MUL_MAT_ID);
	st = pi_routing__stats(routing);

	/* Graph 1: node 1 in two chunks (rows 0-2, 3), node 2 whole: both written. */
	begin(a, 1, true);
	CHECK(send(1, 1, ids, 4, 0, 3, 0) == 0);
	CHECK(send(1, 1, ids, 4, 3, 1, 0) == 0);
	CHECK(send(1, 2, ids, 4, 0, 4, 0) == 0);
	end(a, 1);
	CHECK(st->emitted == 2 && pi_routing__dropped(routing) == 0);

	/* Graph 2 (structure reused): node 1's second chunk lost, node 2 sent nothing. */
	begin(a, 2, false);
	CHECK(send(2, 1, ids, 4, 0, 3, 0) == 0);
	end(a, 2);
	CHECK(st->emitted == 2 && st->missing == 2 && st->partial == 1);

	/* Graph 3: an id past the last expert, a token with one expert twice. */
	begin(a, 3, false);
	CHECK(send(3, 1, out_of_range, 1, 0, 1, 0) == 0);
	CHECK(send(3, 2, repeated, 1, 0, 1, 0) == 0);
	end(a, 3);
	CHECK(st->emitted == 2 && st->missing == 4 && st->invalid == 2);

	/* Graph 4: records cut short, a chunk out of order, a tensor of no node. */
	begin(a, 4, false);
	CHECK(send(4, 1, ids, 4, 0, 1, 1) == 0);	/* data shorter than n_bytes */
	CHECK(send(4, 1, ids, 4, 0, 1, offsetof(struct pi_expert_event, data) + 8) == 0); /* no header */
	CHECK(send(4, 2, ids, 4, 0, 1, 0) == 0);
	CHECK(send(4, 2, ids, 4, 2, 2, 0) == 0);	/* rows 1 skipped: broken */
	{
		static struct pi_expert_event stray = {
			.hdr = { .kind = PI_EV_EXPERT, .tgid = 100 }, .graph_id = 4, .tensor = 0xdead0,
			.ids = IDS, .ne = { 2, 1, 1, 1 }, .nb1 = 8, .type = 26, .n_rows = 1, .n_bytes = 8,
			.data = { 1, 0, 0, 0, 2 },
		};

		CHECK(pi_routing__record(routing, &stray, offsetof(struct pi_expert_event, data) + 8) == 0);
	}
	end(a, 4);
	CHECK(st->emitted == 2 && st->missing == 6 && st->invalid == 4 && st->partial == 2);
	CHECK(st->unplaced == 1);

	/* Graph 5 never ends: its node waits, then the session ends. */
	begin(a, 5, false);
	CHECK(send(5, 1, ids, 1, 0, 1, 0) == 0);
	pi_routing__flush(routing);
	CHECK(st->unplaced == 2 && pi_routing__dropped(routing) == 8);

	/* What was written: the two packets of graph 1, nothing else. */
	pi_writer__flush(w);
	CHECK(pi_emit__failed(emit) == 0);
	CHECK(ftell(f) > 0 || lseek(fileno(f), 0, SEEK_END) > 0);

	pi_assembler__free(a);
	pi_routing__free(routing);
	pi_emit__free(emit);
	pi_writer__free(w);
	fclose(f);
	if (test_failures)
		fprintf(stderr, "expert_routing_test: %d failure(s)\n", test_failures);
	return test_failures ? 1 : 0;
}
