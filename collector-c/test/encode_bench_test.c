/* encode_bench_test.c: size and speed of the hot encoders on realistic data.
 * Prints the numbers; fails only if a NodeEventBatch row costs 16 bytes or
 * more on the wire (the budget in the design). */
#include <time.h>

#include "encode.h"
#include "test_util.h"

#define ROWS 400
#define GRAPH_NODES 5000

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x9e3779b97f4a7c15ull;
}

static uint64_t uniform(uint64_t lo, uint64_t hi)
{
	return lo + rng() % (hi - lo + 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint32_t node_index[ROWS], fused[ROWS];
static uint64_t compute_ns[ROWS], barrier_ns[ROWS], faults[ROWS], cycles[ROWS];

/* One thread's rows in one graph: compute 2-40 us, barrier 0.1-20 us, node
 * index steps of 1-3, one row in 20 fused with 1-2 more nodes. */
static void make_rows(void)
{
	uint32_t node = 0;

	for (size_t i = 0; i < ROWS; i++) {
		node_index[i] = node;
		node += (uint32_t)uniform(1, 3);
		compute_ns[i] = uniform(2000, 40000);
		barrier_ns[i] = uniform(100, 20000);
		fused[i] = rng() % 20 ? 0 : (uint32_t)uniform(1, 2);
		faults[i] = rng() % 10 ? 0 : uniform(1, 3);
		cycles[i] = compute_ns[i] * 3; /* a 3 GHz core */
	}
}

static volatile uint8_t sink;

static void bench_node_rows(const char *label, const struct pi_node_rows *rows)
{
	static uint8_t buf[1 << 16];
	size_t len = 0;
	long iters = 0;
	double start = now_s(), elapsed;

	CHECK(pi_encode_node_events(rows, buf, sizeof(buf), &len) == 0);
	do {
		for (int k = 0; k < 1000; k++) {
			pi_encode_node_events(rows, buf, sizeof(buf), &len);
			sink = buf[len - 1]; /* keep the loop from being optimized away */
		}
		iters += 1000;
		elapsed = now_s() - start;
	} while (elapsed < 0.3);
	printf("  %-34s %5zu bytes, %5.2f bytes/row, %6.1f M rows/s (%.2f us/batch)\n", label,
	       len, (double)len / ROWS, (double)iters * ROWS / elapsed / 1e6,
	       elapsed / (double)iters * 1e6);
	CHECK((double)len / ROWS < 16);
}

static void bench_nanopb_rows(void)
{
	static uint8_t buf[1 << 16];
	static uint32_t delta[ROWS];
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	size_t len = 0;
	long iters = 0;
	double start = now_s(), elapsed;

	for (size_t i = 0; i < ROWS; i++)
		delta[i] = node_index[i] - (i ? node_index[i - 1] : 0);
	p.which_data = profinfer_v1_TracePacket_node_events_tag;
	p.data.node_events = (profinfer_v1_NodeEventBatch){
		.pid = 4242, .tid = 4243, .graph_id = 77, .start_ns = 123456789012345ull,
		.node_index_delta_count = ROWS, .node_index_delta = delta,
		.compute_ns_count = ROWS, .compute_ns = compute_ns,
		.barrier_ns_count = ROWS, .barrier_ns = barrier_ns,
		.fused_count = ROWS, .fused = fused, .thread_index = 1,
	};
	do {
		for (int k = 0; k < 100; k++)
			CHECK(pi_encode_packet(&p, buf, sizeof(buf), &len) == 0);
		iters += 100;
		elapsed = now_s() - start;
	} while (elapsed < 0.3);
	printf("  %-34s %5zu bytes, %5.2f bytes/row, %6.1f M rows/s (%.2f us/batch)\n",
	       "nanopb, same rows (for comparison)", len, (double)len / ROWS,
	       (double)iters * ROWS / elapsed / 1e6, elapsed / (double)iters * 1e6);
}

/* A GraphStructure of GRAPH_NODES nodes through nanopb (borrowed array). */
static void bench_graph_structure(void)
{
	static profinfer_v1_GraphNode nodes[GRAPH_NODES];
	static uint8_t buf[4 << 20];
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	size_t len = 0;
	long iters = 0;
	double start, elapsed;

	for (size_t i = 0; i < GRAPH_NODES; i++) {
		uint64_t id = 0x7f3a10000000ull + i * 0x170;

		nodes[i] = (profinfer_v1_GraphNode){
			.tensor_id = id,
			.op = (uint32_t)uniform(1, 80),
			.type = (uint32_t)uniform(0, 1),
			.ne_count = 4,
			.ne = { 2048, (int64_t)uniform(1, 512), 1, 1 },
			.name_iid = (uint32_t)uniform(1, 400),
			.src_tensor_ids_count = 2,
			.src_tensor_ids = { id - 0x170, 0x7f3a00000000ull + uniform(0, 300) * 0x1000 },
			.op_params_count = i % 4 ? 0 : 4,
			.op_params = { 1, 0, -1, 0 },
		};
	}
	p.which_data = profinfer_v1_TracePacket_graph_structure_tag;
	p.data.graph_structure = (profinfer_v1_GraphStructure){
		.structure_id = 1, .pid = 4242, .nodes_count = GRAPH_NODES, .nodes = nodes,
		.cgraph_addr = 0x55d0c0a1b000,
	};
	start = now_s();
	do {
		CHECK(pi_encode_packet(&p, buf, sizeof(buf), &len) == 0);
		iters++;
		elapsed = now_s() - start;
	} while (elapsed < 0.3);
	printf("  %-34s %5zu bytes, %5.1f bytes/node, %.2f ms/graph (%.0f ns/node)\n",
	       "GraphStructure, 5000 nodes, nanopb", len, (double)len / GRAPH_NODES,
	       elapsed / (double)iters * 1e3, elapsed / (double)iters / GRAPH_NODES * 1e9);
}

int main(void)
{
	const struct pi_counter_rows counters[] = { { 1, faults }, { 2, cycles } };
	struct pi_node_rows rows = {
		.pid = 4242, .tid = 4243, .thread_index = 1, .graph_id = 77,
		.start_ns = 123456789012345ull, .n_rows = ROWS, .node_index = node_index,
		.compute_ns = compute_ns, .barrier_ns = barrier_ns, .fused = fused,
	};

	make_rows();
	printf("NodeEventBatch of %d rows (compute 2-40 us, barrier 0.1-20 us, steps 1-3):\n", ROWS);
	bench_node_rows("pi_encode_node_events", &rows);
	bench_nanopb_rows();
	rows.n_counters = 2;
	rows.counters = counters;
	bench_node_rows("+ 2 counters (faults, cycles)", &rows);
	bench_graph_structure();
	return test_exit("encode_bench_test");
}
