// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Counters per node without root or a PMU: --counters parsing (names, raw
 * codes, ARMv8 event numbers, every error), which rows the assembler keeps a
 * delta for in both node-probe modes (lost base records, CPU moves, task
 * switches, counters that did not run), and the encoder's unmeasured rows
 * read back by nanopb. */
#include <errno.h>
#include <linux/perf_event.h>

#include <pb_decode.h>

#include "encode.h"
#include "graph_assembler.h"
#include "perf_counters.h"
#include "test_util.h"

static void test_parse(void)
{
	struct pi_counter_set s;
	char err[1024];

	CHECK(pi_counters__parse("cycles, page-faults ,raw:0x11,armv8:l3d_cache_refill,mem_access_wr,"
				 "stall_backend,task-clock,ref-cycles", &s, err, sizeof(err)) == 0);
	CHECK(s.n == 8);
	CHECK(s.counters[0].id == 1 && !strcmp(s.counters[0].name, "cycles") &&
	      !strcmp(s.counters[0].kind, "hardware") && s.counters[0].perf_type == PERF_TYPE_HARDWARE &&
	      s.counters[0].perf_config == PERF_COUNT_HW_CPU_CYCLES);
	CHECK(!strcmp(s.counters[1].name, "page-faults") && !strcmp(s.counters[1].kind, "software") &&
	      s.counters[1].perf_config == PERF_COUNT_SW_PAGE_FAULTS);
	CHECK(!strcmp(s.counters[2].kind, "raw") && s.counters[2].perf_type == PERF_TYPE_RAW &&
	      s.counters[2].perf_config == 0x11);
	/* Arm ARM PMUv3 common events / arm_pmuv3.h recommended IMPDEF events. */
	CHECK(!strcmp(s.counters[3].kind, "armv8") && s.counters[3].perf_config == 0x2a);
	CHECK(s.counters[4].perf_config == 0x67 && s.counters[5].perf_config == 0x24);
	CHECK(s.counters[6].perf_config == PERF_COUNT_SW_TASK_CLOCK && s.counters[7].id == 8);

	CHECK(pi_counters__parse("L1D_CACHE_REFILL,inst_retired,cpu_cycles,bus_access,l2d_cache_refill", &s,
				 err, sizeof(err)) == 0);
	CHECK(s.counters[0].perf_config == 0x03 && s.counters[1].perf_config == 0x08 &&
	      s.counters[2].perf_config == 0x11 && s.counters[3].perf_config == 0x19 &&
	      s.counters[4].perf_config == 0x17);

	CHECK(pi_counters__parse("task-clock,bogus", &s, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "unknown counter 'bogus'") && strstr(err, "valid: hardware: cycles"));
	CHECK(pi_counters__parse("raw:", &s, err, sizeof(err)) == -EINVAL);
	CHECK(pi_counters__parse("raw:-1", &s, err, sizeof(err)) == -EINVAL);
	CHECK(pi_counters__parse("raw:0x1g", &s, err, sizeof(err)) == -EINVAL);
	CHECK(pi_counters__parse("", &s, err, sizeof(err)) == -EINVAL);
	CHECK(pi_counters__parse("cycles,", &s, err, sizeof(err)) == -EINVAL && strstr(err, "ends with a comma"));
	CHECK(pi_counters__parse("cycles,cpu-cycles", &s, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "listed twice"));
	CHECK(pi_counters__parse("cs,cpu-clock,task-clock,page-faults,minor-faults,major-faults,migrations,"
				 "alignment-faults,emulation-faults", &s, err, sizeof(err)) == -E2BIG &&
	      strstr(err, "at most 8"));
}

/* ---- assembler ----------------------------------------------------------- */

static struct pi_pmc_delta got[16];
static uint32_t got_node[16];
static bool spans_barrier;
static size_t n_got;

static void on_graph(void *ctx, const struct pi_graph *g, const struct pi_structure *s)
{
	(void)ctx;
	(void)s;
	spans_barrier = g->counter_spans_barrier;
	for (size_t t = 0; t < g->n_threads; t++)
		for (size_t r = 0; r < g->threads[t].n && n_got < 16; r++) {
			got_node[n_got] = g->threads[t].rows[r].node_index;
			got[n_got++] = g->threads[t].row_pmc[r];
		}
}

static void begin(struct pi_assembler *a, uint64_t graph_id, uint64_t structure_id, uint32_t n,
		  uint64_t ts)
{
	struct pi_graph_begin_event b = {
		.hdr = { .kind = PI_EV_GRAPH_BEGIN, .tid = 100, .tgid = 100 }, .graph_id = graph_id,
		.ts_ns = ts, .structure_id = structure_id, .n_nodes = n, .captured = 1,
	};

	CHECK(pi_assembler__graph_begin(a, &b) == 0);
	for (uint32_t i = 0; i < n; i++) {
		struct pi_struct_node_event e = {
			.hdr = { .kind = PI_EV_STRUCT_NODE, .tid = 100, .tgid = 100 },
			.structure_id = structure_id, .index = i, .op = 1, .flags = 16,
			.tensor = 0x10000 + i * 0x100,
		};

		CHECK(pi_assembler__struct_node(a, &e) == 0);
	}
}

static struct pi_pmc_delta pmc(uint64_t base_ts, uint8_t why, uint8_t valid, uint64_t d0, uint64_t d1)
{
	return (struct pi_pmc_delta){ .base_ts_ns = base_ts, .why = why, .valid = valid,
				      .delta = { d0, d1 } };
}

static void graph_end(struct pi_assembler *a, uint64_t graph_id, uint64_t ts)
{
	struct pi_graph_end_event ge = { .hdr = { .kind = PI_EV_GRAPH_END, .tid = 100, .tgid = 100 },
					 .graph_id = graph_id, .ts_ns = ts };

	CHECK(pi_assembler__graph_end(a, &ge) == 0);
}

static void test_one_probe_rows(void)
{
	struct pi_assembler_sink sink = { .graph = on_graph };
	struct pi_assembler *a = pi_assembler__new(&sink);
	struct pi_node_end_event e = { .hdr = { .kind = PI_EV_NODE_END, .tid = 100, .tgid = 100 },
				       .graph_id = 1 };
	struct pi_pmc_delta d;
	const struct pi_assembler_stats *st;

	CHECK(a && pi_assembler__set_counters(a, 2) == 0);
	CHECK(pi_assembler__set_counters(a, PI_MAX_COUNTERS + 1) == -EINVAL);
	begin(a, 1, 1, 6, 100);
	/* Unit ends at 110 (node 0), 150 (1), 200 (2), 260 (3), 300 (4), 350 (5). */
	e.ts_ns = 110, e.counter = 1, d = pmc(90, PI_PMC_NO_BASE, 0, 0, 0); /* first: no base */
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	e.ts_ns = 150, e.counter = 2, d = pmc(110, PI_PMC_OK, 3, 40, 1); /* good */
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	e.ts_ns = 200, e.counter = 3, d = pmc(150, PI_PMC_SWITCHED, 0, 0, 0);
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	/* The record that ended node 3 was lost: node 4's base (the lost 260) is not row 2's end. */
	e.ts_ns = 300, e.counter = 5, d = pmc(260, PI_PMC_OK, 3, 40, 0);
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	e.ts_ns = 350, e.counter = 6, d = pmc(300, PI_PMC_OK, 1, 50, 9); /* counter 1 not read */
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	n_got = 0;
	graph_end(a, 1, 400);

	CHECK(n_got == 5 && spans_barrier);
	CHECK(got_node[0] == 0 && got[0].valid == 0);
	CHECK(got_node[1] == 1 && got[1].valid == 3 && got[1].delta[0] == 40 && got[1].delta[1] == 1);
	CHECK(got_node[2] == 2 && got[2].valid == 0);
	CHECK(got_node[3] == 3 && got[3].valid == 0); /* nodes 3+4 became one unit: base mismatch */
	CHECK(got_node[4] == 5 && got[4].valid == 1 && got[4].delta[0] == 50);
	st = pi_assembler__stats(a);
	CHECK(st->counter_measured == 3 && st->counter_unmeasured == 7 && st->counter_cells_not_read == 1);
	CHECK(st->counter_rows_switched == 1 && st->counter_rows_no_base == 2);
	pi_assembler__free(a);
}

static void test_one_probe_partial(void)
{
	struct pi_assembler_sink sink = { .graph = on_graph };
	struct pi_assembler *a = pi_assembler__new(&sink);
	struct pi_node_end_event e = { .hdr = { .kind = PI_EV_NODE_END, .tid = 100, .tgid = 100 },
				       .graph_id = 1 };
	struct pi_pmc_delta d;
	const struct pi_assembler_stats *st;

	CHECK(a && pi_assembler__set_counters(a, 2) == 0);
	begin(a, 1, 1, 3, 100);
	e.ts_ns = 110, e.counter = 1, d = pmc(0, PI_PMC_NO_BASE, 0, 0, 0);
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	e.ts_ns = 150, e.counter = 2, d = pmc(110, PI_PMC_MIGRATED, 3, 1, 1); /* valid bits ignored */
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	e.ts_ns = 190, e.counter = 3, d = pmc(150, PI_PMC_OK, 1 | 0x80, 7, 9); /* bit 7: no such counter */
	CHECK(pi_assembler__node_end_pmc(a, &e, &d) == 0);
	n_got = 0;
	graph_end(a, 1, 200);
	CHECK(n_got == 3 && got[1].valid == 0 && got[2].valid == 1 && got[2].delta[0] == 7);
	st = pi_assembler__stats(a);
	CHECK(st->counter_rows_migrated == 1 && st->counter_cells_not_read == 1);
	CHECK(st->counter_measured == 1 && st->counter_unmeasured == 5);
	pi_assembler__free(a);
}

static void test_two_probe_rows(void)
{
	struct pi_assembler_sink sink = { .graph = on_graph };
	struct pi_assembler *a = pi_assembler__new(&sink);
	struct pi_node_event e = { .hdr = { .kind = PI_EV_NODE, .tid = 100, .tgid = 100 }, .graph_id = 1 };
	struct pi_pmc_delta d;

	CHECK(a && pi_assembler__set_counters(a, 1) == 0);
	begin(a, 1, 1, 3, 100);
	/* Node 0: two barrier calls; the row ends at the last, so its delta does. */
	e.tensor = 0x10000, e.start_ns = 100, e.end_ns = 120, d = pmc(100, PI_PMC_OK, 1, 20, 0);
	CHECK(pi_assembler__node_pmc(a, &e, &d) == 0);
	e.end_ns = 140, d = pmc(100, PI_PMC_OK, 1, 40, 0);
	CHECK(pi_assembler__node_pmc(a, &e, &d) == 0);
	/* Node 1: base is not this node's start (a start record of another node). */
	e.tensor = 0x10100, e.start_ns = 150, e.end_ns = 170, d = pmc(145, PI_PMC_OK, 1, 20, 0);
	CHECK(pi_assembler__node_pmc(a, &e, &d) == 0);
	/* Node 2, the last: two barrier calls, the row ends at the first. */
	e.tensor = 0x10200, e.start_ns = 180, e.end_ns = 190, d = pmc(180, PI_PMC_OK, 1, 10, 0);
	CHECK(pi_assembler__node_pmc(a, &e, &d) == 0);
	e.end_ns = 195, d = pmc(180, PI_PMC_OK, 1, 15, 0);
	CHECK(pi_assembler__node_pmc(a, &e, &d) == 0);
	n_got = 0;
	graph_end(a, 1, 200);
	CHECK(n_got == 3 && !spans_barrier);
	CHECK(got[0].valid == 1 && got[0].delta[0] == 40);
	CHECK(got[1].valid == 0);
	CHECK(got[2].valid == 1 && got[2].delta[0] == 10);
	pi_assembler__free(a);
}

/* ---- encoder ----------------------------------------------------------- */

static void test_encode_unmeasured(void)
{
	const uint32_t index[] = { 0, 1, 2, 3 };
	const uint64_t compute[] = { 10, 20, 30, 40 }, barrier[] = { 1, 2, 3, 4 };
	const uint64_t pf[] = { 5, 0 };	      /* rows 1 and 3 */
	const uint32_t pf_missing[] = { 0, 2 };
	const uint64_t tc[] = { 9, 19, 29, 39 }; /* every row */
	const uint32_t bad_missing[] = { 2, 1 };
	struct pi_counter_rows cols[] = {
		{ .counter_id = 2, .delta = pf, .n_unmeasured = 2, .unmeasured = pf_missing,
		  .includes_previous_barrier = true },
		{ .counter_id = 1, .delta = tc },
	};
	struct pi_node_rows rows = {
		.pid = 1, .tid = 2, .graph_id = 3, .start_ns = 100, .n_rows = 4, .node_index = index,
		.compute_ns = compute, .barrier_ns = barrier, .n_counters = 2, .counters = cols,
	};
	static uint8_t buf[4096];
	profinfer_v1_TracePacket p;
	pb_istream_t s;
	size_t len = 0;

	CHECK(pi_encode_node_events(&rows, buf, sizeof(buf), &len) == 0);
	CHECK(len <= pi_node_events_max_size(4, 2));
	s = pb_istream_from_buffer(buf, len);
	memset(&p, 0, sizeof(p));
	CHECK(pb_decode(&s, profinfer_v1_TracePacket_fields, &p));
	CHECK(p.data.node_events.counters_count == 2);
	if (p.data.node_events.counters_count == 2) {
		const profinfer_v1_CounterColumn *c = p.data.node_events.counters;

		CHECK(c[0].counter_id == 2 && c[0].delta_count == 2 && c[0].delta[0] == 5 && c[0].delta[1] == 0);
		CHECK(c[0].unmeasured_row_count == 2 && c[0].unmeasured_row[0] == 0 && c[0].unmeasured_row[1] == 2);
		CHECK(c[0].includes_previous_barrier);
		CHECK(c[1].counter_id == 1 && c[1].delta_count == 4 && c[1].delta[3] == 39);
		CHECK(c[1].unmeasured_row_count == 0 && !c[1].includes_previous_barrier);
	}
	pb_release(profinfer_v1_TracePacket_fields, &p);

	/* Inconsistent columns are refused, not encoded. */
	cols[0].unmeasured = bad_missing;
	CHECK(pi_encode_node_events(&rows, buf, sizeof(buf), &len) == -EINVAL);
	cols[0].unmeasured = pf_missing;
	cols[0].n_unmeasured = 5;
	CHECK(pi_encode_node_events(&rows, buf, sizeof(buf), &len) == -EINVAL);
}

int main(void)
{
	test_parse();
	test_one_probe_rows();
	test_one_probe_partial();
	test_two_probe_rows();
	test_encode_unmeasured();
	if (test_failures)
		fprintf(stderr, "perf_counters_test: %d failure(s)\n", test_failures);
	return test_failures ? 1 : 0;
}
