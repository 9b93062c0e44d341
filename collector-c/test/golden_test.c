/* golden_test.c: the C encoder against protoc. Each case builds, in C, the
 * message of proto/testdata/<case>.textproto and checks the bytes equal
 * <case>.bin (made by `protoc --encode`, scripts/gen_testdata.sh) byte for
 * byte. The TS twin, host/src/decode/golden.test.ts, decodes the same .bin. */
#include <errno.h>
#include <unistd.h>

#include <pb_encode.h>

#include "encode.h"
#include "stream_writer.h"
#include "test_util.h"

#define CAP 4096

typedef int (*build_fn)(uint8_t *buf, size_t cap, size_t *len);

static int session_info(uint8_t *buf, size_t cap, size_t *len)
{
	static uint32_t pids[] = { 4242, 4243 };
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_SessionInfo *s = &p.data.session;
	profinfer_v1_SessionConfig *c = &s->config;
	profinfer_v1_LayoutProfile *l = &s->layout;

	p.which_data = profinfer_v1_TracePacket_session_tag;
	s->session_id = "s-0001";
	s->collector_version = "profinferd 0.1.0";
	s->libbpf_version = "1.4.6";
	s->build_target = "x86_64-linux-gnu-static";
	s->hostname = "devbox";
	s->os_release = "Debian GNU/Linux 12";
	s->kernel_release = "6.18.0";
	s->arch = "x86_64";
	s->cpu_count = 2;
	s->clock_monotonic_ns = 123456789012345ull;
	s->clock_realtime_ns = 1735689600123456789ull;
	s->clock = "CLOCK_MONOTONIC";

	s->has_config = true;
	c->level = profinfer_v1_TRACE_LEVEL_NODE;
	c->structure = true;
	c->sched = true;
	strcpy(c->counters[0], "cycles");
	strcpy(c->counters[1], "page-faults");
	c->counters_count = 2;
	c->moe = true;
	strcpy(c->probes[0].library, "libggml-opencl.so");
	strcpy(c->probes[0].function, "ggml_cl_compute_forward");
	c->probes[0].tensor_arg = 1;
	strcpy(c->probes[0].backend, "OpenCL");
	c->probes_count = 1;
	strcpy(c->op_filter[0], "MUL_MAT");
	strcpy(c->op_filter[1], "FLASH_ATTN_EXT");
	c->op_filter_count = 2;
	c->sample_every_n_tokens = 4;
	c->has_qos_rule = true;
	c->qos_rule.min_tokens_per_s = 5;
	c->qos_rule.resume_tokens_per_s = 8.5;
	c->qos_rule.window_tokens = 16;
	c->qos_rule.degraded_level = profinfer_v1_TRACE_LEVEL_GRAPH;
	strcpy(c->layout_profile, "auto");
	c->has_layout_override = true;
	strcpy(c->layout_override.name, "user");
	c->layout_override.user_override = true;
	c->layout_override.tensor_ne_offset = 16;
	c->layout_override.max_src = 6;
	c->ring_buffer_kib = 4096;
	strcpy(c->output_path, "/data/local/tmp/profinfer/s-0001.profinfer");

	s->has_layout = true;
	strcpy(l->name, "ggml-2025-max-src-10");
	l->tensor_type_offset = 0;
	l->tensor_ne_offset = 16;
	l->tensor_nb_offset = 48;
	l->tensor_op_offset = 80;
	l->tensor_op_params_offset = 84;
	l->tensor_flags_offset = 148;
	l->tensor_src_offset = 152;
	l->max_src = 10;
	l->tensor_view_src_offset = 232;
	l->tensor_data_offset = 248;
	l->tensor_name_offset = 256;
	l->max_name = 64;
	l->cgraph_n_nodes_offset = 4;
	l->cgraph_nodes_offset = 16;
	l->cgraph_n_leafs_offset = 8;
	l->cgraph_leafs_offset = 24;
	s->target_pids = pids;
	s->target_pids_count = 2;
	return pi_encode_packet(&p, buf, cap, len);
}

static int token_event(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_token_tag;
	p.data.token = (profinfer_v1_TokenEvent){
		.pid = 4242,
		.tid = 4242,
		.start_ns = 1000000000,
		.duration_ns = 52000000,
		.n_tokens = 1,
		.context_id = 0x55d0c0ffee00,
		.result = -1,
		.seq = 17,
		.node_level = true,
	};
	return pi_encode_packet(&p, buf, cap, len);
}

static int graph_event(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_graph_tag;
	p.data.graph = (profinfer_v1_GraphEvent){
		.pid = 4242,
		.tid = 4242,
		.graph_id = 5,
		.start_ns = 1000400000,
		.duration_ns = 48000000,
		.n_nodes = 1234,
		.backend_iid = 1,
		.structure_id = 2,
		.cgraph_addr = 0x55d0c0a1b000,
		.n_threads = 2,
	};
	return pi_encode_packet(&p, buf, cap, len);
}

/* The rows of node_event_batch.textproto, as the collector holds them. */
static const uint32_t rows_node_index[] = { 0, 1, 2, 5, 6 };
static const uint64_t rows_compute_ns[] = { 2500, 40000, 12000, 127, 3100 };
static const uint64_t rows_barrier_ns[] = { 150, 20000, 90, 16384, 0 };
static const uint32_t rows_fused[] = { 0, 0, 2, 0, 0 };
static const uint64_t rows_counter1[] = { 3, 0, 1, 0, 2 };
static const uint64_t rows_counter2[] = { 1200, 98000, 5000, 40, 900 };

static int node_event_batch_fast(uint8_t *buf, size_t cap, size_t *len)
{
	const struct pi_counter_rows counters[] = {
		{ .counter_id = 1, .delta = rows_counter1 },
		{ .counter_id = 2, .delta = rows_counter2 },
	};
	const struct pi_node_rows rows = {
		.pid = 4242,
		.tid = 4243,
		.thread_index = 1,
		.graph_id = 5,
		.start_ns = 1000500000,
		.n_rows = 5,
		.node_index = rows_node_index,
		.compute_ns = rows_compute_ns,
		.barrier_ns = rows_barrier_ns,
		.fused = rows_fused,
		.n_counters = 2,
		.counters = counters,
	};
	return pi_encode_node_events(&rows, buf, cap, len);
}

static int node_event_batch_nanopb(uint8_t *buf, size_t cap, size_t *len)
{
	uint32_t delta[] = { 0, 1, 1, 3, 1 };
	profinfer_v1_CounterColumn counters[] = {
		{ .counter_id = 1, .delta_count = 5, .delta = (uint64_t *)rows_counter1 },
		{ .counter_id = 2, .delta_count = 5, .delta = (uint64_t *)rows_counter2 },
	};
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_node_events_tag;
	p.data.node_events = (profinfer_v1_NodeEventBatch){
		.pid = 4242,
		.tid = 4243,
		.graph_id = 5,
		.start_ns = 1000500000,
		.node_index_delta_count = 5,
		.node_index_delta = delta,
		.compute_ns_count = 5,
		.compute_ns = (uint64_t *)rows_compute_ns,
		.barrier_ns_count = 5,
		.barrier_ns = (uint64_t *)rows_barrier_ns,
		.fused_count = 5,
		.fused = (uint32_t *)rows_fused,
		.counters_count = 2,
		.counters = counters,
		.thread_index = 1,
	};
	return pi_encode_packet(&p, buf, cap, len);
}

static int graph_structure(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_GraphNode nodes[3] = {
		{
			.tensor_id = 0x7f3a10000000,
			.op = 5,
			.type = 0,
			.ne_count = 4,
			.ne = { 2048, 7, 1, 1 },
			.name_iid = 10,
			.src_tensor_ids_count = 2,
			.src_tensor_ids = { 0x7f3a00001000, 0x7f3a00002000 },
		},
		{
			.tensor_id = 0x7f3a10001000,
			.op = 74,
			.ne_count = 4,
			.ne = { 2048, 7, 1, 1 },
			.name_iid = 11,
			.src_tensor_ids_count = 1,
			.src_tensor_ids = { 0x7f3a10000000 },
			.sub_op = 10,
			.op_params_count = 1,
			.op_params = { 10 },
		},
		{
			.tensor_id = 0x7f3a10002000,
			.op = 33,
			.ne_count = 4,
			.ne = { 2048, 1, 1, 1 },
			.name_iid = 12,
			.src_tensor_ids_count = 1,
			.src_tensor_ids = { 0x7f3a10001000 },
			.flags = 2,
			.view_src_id = 0x7f3a10001000,
			.op_params_count = 4,
			.op_params = { 8192, 0, -1, 0 },
		},
	};
	profinfer_v1_TensorInfo inputs[2] = {
		{
			.tensor_id = 0x7f3a00001000,
			.type = 8,
			.ne_count = 4,
			.ne = { 2048, 32000, 1, 1 },
			.name_iid = 3,
			.data_addr = 0x7f39f0000000,
		},
		{
			.tensor_id = 0x7f3a00002000,
			.type = 26,
			.ne_count = 4,
			.ne = { 7, 1, 1, 1 },
			.name_iid = 4,
		},
	};
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;

	p.which_data = profinfer_v1_TracePacket_graph_structure_tag;
	p.data.graph_structure = (profinfer_v1_GraphStructure){
		.structure_id = 2,
		.pid = 4242,
		.nodes_count = 3,
		.nodes = nodes,
		.inputs_count = 2,
		.inputs = inputs,
		.cgraph_addr = 0x55d0c0a1b000,
	};
	return pi_encode_packet(&p, buf, cap, len);
}

static int loss_stats(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_LossStats *l = &p.data.loss;

	p.which_data = profinfer_v1_TracePacket_loss_tag;
	l->ts_ns = 9000000000ull;
	l->lost[0] = (profinfer_v1_LossCount){ profinfer_v1_EVENT_KIND_NODE, 12 };
	l->lost[1] = (profinfer_v1_LossCount){ profinfer_v1_EVENT_KIND_OUTPUT, 1 };
	l->lost_count = 2;
	l->recorded[0] = (profinfer_v1_LossCount){ profinfer_v1_EVENT_KIND_TOKEN, 64 };
	l->recorded[1] = (profinfer_v1_LossCount){ profinfer_v1_EVENT_KIND_NODE, 120000 };
	l->recorded_count = 2;
	return pi_encode_packet(&p, buf, cap, len);
}

static int encode_client(const profinfer_v1_ClientMessage *m, uint8_t *buf, size_t cap,
			 size_t *len)
{
	pb_ostream_t s = pb_ostream_from_buffer(buf, cap);

	if (!pb_encode(&s, profinfer_v1_ClientMessage_fields, m))
		return -ENOSPC;
	*len = s.bytes_written;
	return 0;
}

static int client_hello(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_ClientMessage m = profinfer_v1_ClientMessage_init_zero;

	m.request_id = 1;
	m.which_msg = profinfer_v1_ClientMessage_hello_tag;
	m.msg.hello.protocol_version = 1;
	strcpy(m.msg.hello.auth_token, "3b9f0c2a7d41e8b6");
	strcpy(m.msg.hello.client_name, "profinfer-host 0.1.0");
	return encode_client(&m, buf, cap, len);
}

static int client_start(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_ClientMessage m = profinfer_v1_ClientMessage_init_zero;
	profinfer_v1_StartSession *s = &m.msg.start;

	m.request_id = 2;
	m.which_msg = profinfer_v1_ClientMessage_start_tag;
	s->which_target = profinfer_v1_StartSession_pid_tag;
	s->target.pid = 4242;
	s->has_config = true;
	s->config.level = profinfer_v1_TRACE_LEVEL_NODE;
	s->config.structure = true;
	strcpy(s->config.counters[0], "page-faults");
	s->config.counters_count = 1;
	strcpy(s->config.op_filter[0], "MUL_MAT");
	s->config.op_filter_count = 1;
	s->config.has_qos_rule = true;
	s->config.qos_rule = (profinfer_v1_QosRule){ 5, 8, 16, profinfer_v1_TRACE_LEVEL_TOKEN };
	strcpy(s->config.layout_profile, "auto");
	return encode_client(&m, buf, cap, len);
}

static int server_error(uint8_t *buf, size_t cap, size_t *len)
{
	profinfer_v1_ServerMessage m = profinfer_v1_ServerMessage_init_zero;

	m.request_id = 2;
	m.which_msg = profinfer_v1_ServerMessage_error_tag;
	m.msg.error.code = profinfer_v1_ERROR_CODE_NOT_ALLOWED;
	m.msg.error.message = "failed to attach to pid 4242: Operation not permitted";
	return pi_encode_server_message(&m, buf, cap, len);
}

/* trace_multi: six packets through the stream writer into a file. */
static int trace_multi(uint8_t *buf, size_t cap, size_t *len)
{
	static const uint32_t index[] = { 0, 1, 2 };
	static const uint64_t compute[] = { 300000, 250000, 330000 };
	static const uint64_t barrier[] = { 2000, 3000, 5000 };
	profinfer_v1_TracePacket p[5];
	const struct pi_node_rows rows = {
		.pid = 4242, .tid = 4242, .graph_id = 1, .start_ns = 2100, .n_rows = 3,
		.node_index = index, .compute_ns = compute, .barrier_ns = barrier,
	};
	uint8_t packet[512];
	size_t n;
	char path[] = "/tmp/pi_golden_XXXXXX";
	int fd = mkstemp(path), err = 0;
	struct pi_writer *w;
	ssize_t got;

	if (fd < 0)
		return -errno;
	unlink(path);
	w = pi_writer__new_fd(fd);
	memset(p, 0, sizeof(p));

	p[0].which_data = profinfer_v1_TracePacket_session_tag;
	p[0].data.session.session_id = "s-0002";
	p[0].data.session.collector_version = "profinferd 0.1.0";
	p[0].data.session.cpu_count = 2;
	p[0].data.session.clock_monotonic_ns = 1000;
	p[0].data.session.clock_realtime_ns = 1735689600000000000ull;
	p[0].data.session.clock = "CLOCK_MONOTONIC";
	p[0].data.session.has_config = true;
	p[0].data.session.config.level = profinfer_v1_TRACE_LEVEL_NODE;

	p[1].which_data = profinfer_v1_TracePacket_thread_tag;
	p[1].data.thread = (profinfer_v1_ThreadInfo){ 4242, 4243, "llama-cli" };

	p[2].which_data = profinfer_v1_TracePacket_token_tag;
	p[2].data.token = (profinfer_v1_TokenEvent){
		.pid = 4242, .tid = 4242, .start_ns = 2000, .duration_ns = 900000,
		.n_tokens = 1, .seq = 1, .node_level = true,
	};

	p[3].which_data = profinfer_v1_TracePacket_graph_tag;
	p[3].data.graph = (profinfer_v1_GraphEvent){
		.pid = 4242, .tid = 4242, .graph_id = 1, .start_ns = 2100,
		.duration_ns = 890000, .n_nodes = 3, .n_threads = 1,
	};

	p[4].which_data = profinfer_v1_TracePacket_session_end_tag;
	p[4].data.session_end.ts_ns = 1000000;
	p[4].data.session_end.reason = "target exited";
	p[4].data.session_end.has_totals = true;
	p[4].data.session_end.totals.ts_ns = 1000000;
	p[4].data.session_end.totals.recorded[0] =
		(profinfer_v1_LossCount){ profinfer_v1_EVENT_KIND_NODE, 3 };
	p[4].data.session_end.totals.recorded_count = 1;

	for (int i = 0; i < 4 && !err; i++)
		err = pi_encode_packet(&p[i], packet, sizeof(packet), &n) ?:
		      pi_writer__append(w, packet, n);
	if (!err)
		err = pi_encode_node_events(&rows, packet, sizeof(packet), &n) ?:
		      pi_writer__append(w, packet, n);
	if (!err)
		err = pi_encode_packet(&p[4], packet, sizeof(packet), &n) ?:
		      pi_writer__append(w, packet, n);
	if (!err) {
		struct pi_writer_stats st;

		err = pi_writer__flush(w);
		st = pi_writer__stats(w);
		CHECK(st.packets_written == 6);
		CHECK(st.packets_failed == 0);
		CHECK(st.bytes_written == (uint64_t)lseek(fd, 0, SEEK_CUR));
	}
	pi_writer__free(w);
	got = err ? -1 : pread(fd, buf, cap, 0);
	close(fd);
	if (err)
		return err;
	if (got < 0)
		return -errno;
	*len = (size_t)got;
	return 0;
}

static const struct {
	const char *name;
	const char *how;
	build_fn build;
} cases[] = {
	{ "session_info", "nanopb", session_info },
	{ "token_event", "nanopb", token_event },
	{ "graph_event", "nanopb", graph_event },
	{ "node_event_batch", "pi_encode_node_events", node_event_batch_fast },
	{ "node_event_batch", "nanopb", node_event_batch_nanopb },
	{ "graph_structure", "nanopb", graph_structure },
	{ "loss_stats", "nanopb", loss_stats },
	{ "client_hello", "nanopb", client_hello },
	{ "client_start", "nanopb", client_start },
	{ "server_error", "nanopb", server_error },
	{ "trace_multi", "pi_writer", trace_multi },
};

/* The collector decodes ClientMessages: decoding a golden and encoding it
 * again must give the same bytes. */
static void check_client_round_trip(const char *dir, const char *name)
{
	char file[256];
	size_t want_len, len = 0;
	uint8_t *want, got[CAP];
	profinfer_v1_ClientMessage m;
	const char *why = NULL;

	snprintf(file, sizeof(file), "%s.bin", name);
	want = read_file(dir, file, &want_len);
	CHECK(want != NULL);
	if (!want)
		return;
	CHECK(pi_decode_client_message(want, want_len, &m, &why) == 0);
	CHECK(encode_client(&m, got, sizeof(got), &len) == 0);
	bytes_equal(name, got, len, want, want_len);
	free(want);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "proto/testdata";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char file[256], what[256];
		uint8_t got[CAP];
		size_t got_len = 0, want_len;
		uint8_t *want;
		int err;

		snprintf(file, sizeof(file), "%s.bin", cases[i].name);
		snprintf(what, sizeof(what), "%s (%s)", cases[i].name, cases[i].how);
		want = read_file(dir, file, &want_len);
		CHECK(want != NULL);
		if (!want)
			continue;
		err = cases[i].build(got, sizeof(got), &got_len);
		if (err) {
			fprintf(stderr, "%s: failed to encode: %s\n", what, strerror(-err));
			test_failures++;
		} else if (bytes_equal(what, got, got_len, want, want_len)) {
			printf("  %-18s %-22s %4zu bytes == %s\n", cases[i].name, cases[i].how,
			       got_len, file);
		}
		free(want);
	}
	check_client_round_trip(dir, "client_hello");
	check_client_round_trip(dir, "client_start");
	return test_exit("golden_test");
}
