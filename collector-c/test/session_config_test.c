// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* session_config: a good JSON file becomes the options it says; every kind
 * of bad file is rejected with the exact one-line message naming the field;
 * the nanopb-decoded SessionConfig goes through the same validator. */
#include "session_config.h"

#include <errno.h>
#include <unistd.h>

#include "test_util.h"

static char dir[] = "/tmp/pi_session_config_XXXXXX";

static const char *write_config(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void good_file(void)
{
	const char *path = write_config("good.json",
		"{\n"
		"  \"level\": \"TRACE_LEVEL_NODE\",\n"
		"  \"sched\": true,\n"
		"  \"counters\": [\"page-faults\", \"task-clock\"],\n"
		"  \"moe\": false,\n"
		"  \"probes\": [{\"library\": \"libggml-opencl.so\", \"function\": \"ggml_cl_compute_forward\",\n"
		"               \"tensorArg\": 1, \"backend\": \"OpenCL\"}],\n"
		"  \"opFilter\": [\"MUL_MAT\", \"SOFT_MAX\"],\n"
		"  \"sampleEveryNTokens\": 4,\n"
		"  \"qosRule\": {\"minTokensPerS\": 5, \"resumeTokensPerS\": 6.5, \"windowTokens\": \"8\",\n"
		"              \"degradedLevel\": \"graph\"},\n"
		"  \"layout_profile\": \"ggml-2025-uid,tensor_op=80\",\n"
		"  \"ringBufferKib\": 8192,\n"
		"  \"outputPath\": \"/data/local/tmp/run.pftrace\"\n"
		"}\n");
	profinfer_v1_SessionConfig cfg;
	struct pi_session_opts so;
	char err[512] = "";

	CHECK(!pi_session_config__read_file(path, &cfg, err, sizeof(err)));
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK(!pi_session_config__to_opts(&cfg, path, &so, err, sizeof(err)));
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK(so.opts.level == PI_LEVEL_NODE && so.opts.structure && so.opts.sched && !so.opts.moe);
	CHECK(so.opts.counters && !strcmp(so.opts.counters, "page-faults,task-clock"));
	CHECK(so.opts.n_probes == 1 && so.opts.probes[0].tensor_arg == 1 &&
	      !strcmp(so.opts.probes[0].function, "ggml_cl_compute_forward") &&
	      !strcmp(so.opts.probes[0].backend, "OpenCL"));
	CHECK(so.opts.n_op_filter == 2 && !strcmp(so.opts.op_filter[1], "SOFT_MAX"));
	CHECK(so.opts.sample_every_n_tokens == 4);
	CHECK(so.opts.qos.min_tokens_per_s == 5 && so.opts.qos.resume_tokens_per_s == 6.5 &&
	      so.opts.qos.window_tokens == 8 && so.opts.qos.degraded_level == PI_LEVEL_GRAPH);
	CHECK(so.opts.layout && !strcmp(so.opts.layout, "ggml-2025-uid,tensor_op=80"));
	CHECK(so.opts.ring_buffer_kib == 8192);
	CHECK(so.output_path && !strcmp(so.output_path, "/data/local/tmp/run.pftrace"));
}

/* Defaults: {} is node level with structure, no rule, auto layout. */
static void empty_object(void)
{
	profinfer_v1_SessionConfig cfg;
	struct pi_session_opts so;
	char err[512] = "";

	CHECK(!pi_session_config__from_json("{}", 2, "x", &cfg, err, sizeof(err)));
	CHECK(!pi_session_config__to_opts(&cfg, "x", &so, err, sizeof(err)));
	CHECK(so.opts.level == PI_LEVEL_NODE && so.opts.structure && !so.opts.layout && !so.opts.counters);
	CHECK(so.opts.qos.min_tokens_per_s == 0 && !so.output_path);
}

static const struct {
	const char *json;
	const char *message; /* after "<path>: " */
} bad[] = {
	/* unknown field, with a suggestion */
	{ "{\"levle\": \"node\"}", "levle: unknown field (did you mean \"level\"?)" },
	{ "{\"qosRule\": {\"minTokensPerSecond\": 5}}",
	  "qosRule.minTokensPerSecond: unknown field (did you mean \"minTokensPerS\"?)" },
	{ "{\"colour\": 1}", "colour: unknown field" },
	/* wrong type */
	{ "{\"sched\": \"yes\"}", "sched: expected true or false" },
	{ "{\"counters\": \"cycles\"}", "counters: expected an array of strings" },
	{ "{\"sampleEveryNTokens\": -3}", "sampleEveryNTokens: expected an integer 0..4294967295, not -3" },
	{ "{\"sampleEveryNTokens\": 2.5}", "sampleEveryNTokens: expected an integer 0..4294967295, not 2.5" },
	{ "{\"counters\": [\"page-faults\", 7]}", "counters[1]: expected a string" },
	{ "{\"probes\": [{\"library\": \"libggml-opencl.so\", \"tensorArg\": true}]}",
	  "probes[0].tensorArg: expected a number" },
	/* unknown level */
	{ "{\"level\": \"TRACE_LEVEL_OPS\"}",
	  "level: unknown level \"TRACE_LEVEL_OPS\" (TRACE_LEVEL_TOKEN, TRACE_LEVEL_GRAPH, TRACE_LEVEL_NODE or "
	  "token, graph, node)" },
	{ "{\"level\": 9}", "level: unknown level 9" },
	{ "{\"level\": \"off\"}",
	  "level: TRACE_LEVEL_OFF is not a level the collector records (use TRACE_LEVEL_TOKEN, "
	  "TRACE_LEVEL_GRAPH or TRACE_LEVEL_NODE)" },
	/* unknown op */
	{ "{\"opFilter\": [\"MUL_MAT\", \"SOFTMAX\"]}", "opFilter[1]: unknown op \"SOFTMAX\" (did you mean \"SOFT_MAX\"?)" },
	{ "{\"opFilter\": [\"attention\"]}",
	  "opFilter[0]: unknown op \"attention\" (GGML op names, e.g. \"MUL_MAT\", \"SOFT_MAX\", \"SILU\")" },
	/* unknown counter */
	{ "{\"counters\": [\"page-faults\", \"task-clock\", \"cylces\"]}",
	  "counters[2]: unknown counter \"cylces\" (did you mean \"cycles\"?)" },
	{ "{\"counters\": [\"page-faults\", \"page-faults\"]}",
	  "counters[1]: \"page-faults\" is listed twice (counters[0])" },
	/* values out of range or inconsistent */
	{ "{\"level\": \"graph\", \"sampleEveryNTokens\": 4}",
	  "sampleEveryNTokens: samples node level: it needs level TRACE_LEVEL_NODE" },
	{ "{\"qosRule\": {\"minTokensPerS\": 5, \"resumeTokensPerS\": 4}}",
	  "qos_rule.resume_tokens_per_s (4) must be >= min_tokens_per_s (5)" },
	{ "{\"qosRule\": {\"minTokensPerS\": 5, \"degradedLevel\": \"node\"}}",
	  "qosRule.degradedLevel: must be TRACE_LEVEL_TOKEN or TRACE_LEVEL_GRAPH" },
	{ "{\"ringBufferKib\": 10}", "ringBufferKib: 10 is not 64..2097152" },
	{ "{\"layoutProfile\": \"ggml-1999\"}",
	  "layoutProfile: unknown layout profile \"ggml-1999\" (see profinferd --list-layouts)" },
	{ "{\"probes\": [{\"library\": \"libggml-opencl.so\", \"function\": \"ggml cl\"}]}",
	  "probes[0].function: \"ggml cl\" is not a function symbol" },
	{ "{\"level\": \"node\", \"level\": \"graph\"}", "level: given twice" },
	/* malformed JSON */
	{ "{\n  \"level\": \"node\",\n  \"sched\": tru\n}", "3:12: malformed JSON: \"tru\" is not a value" },
	{ "{\"level\": \"node\"", "1:17: malformed JSON: unexpected end (unclosed string, object or array)" },
	{ "[1, 2]", "expected a JSON object (a SessionConfig), e.g. {\"level\": \"TRACE_LEVEL_NODE\"}" },
	{ "", "malformed JSON: empty (expected a SessionConfig object)" },
	{ "{} {}", "1:4: malformed JSON: more than one value" },
	{ "{\"level\": \"node\",}", "1:17: malformed JSON: misplaced ','" },
	{ "{\"counters\": [\"page-faults\" \"task-clock\"]}", "1:29: malformed JSON: expected ','" },
	{ "{\"ringBufferKib\": 0x40}", "1:19: malformed JSON: \"0x40\" is not a value" },
};

static void bad_files(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_config("config.json", bad[i].json);
		profinfer_v1_SessionConfig cfg;
		struct pi_session_opts so;
		char err[512] = "", want[1024];
		int e = pi_session_config__read_file(path, &cfg, err, sizeof(err));

		if (!e)
			e = pi_session_config__to_opts(&cfg, path, &so, err, sizeof(err));
		snprintf(want, sizeof(want), "%s: %s", path, bad[i].message);
		CHECK(e == -EINVAL);
		if (strcmp(err, want)) {
			fprintf(stderr, "  case %zu: %s\n    got:  %s\n    want: %s\n", i, bad[i].json, err, want);
			test_failures++;
		}
	}
}

/* The service's path: a decoded message, no JSON. */
static void decoded_message(void)
{
	profinfer_v1_SessionConfig cfg = profinfer_v1_SessionConfig_init_zero;
	struct pi_session_opts so;
	char err[512] = "";

	cfg.level = profinfer_v1_TraceLevel_TRACE_LEVEL_GRAPH;
	cfg.has_qos_rule = true;
	cfg.qos_rule.min_tokens_per_s = 5;
	cfg.qos_rule.degraded_level = profinfer_v1_TraceLevel_TRACE_LEVEL_GRAPH;
	CHECK(pi_session_config__to_opts(&cfg, NULL, &so, err, sizeof(err)) == -EINVAL);
	CHECK(!strcmp(err, "qosRule.degradedLevel: must be below the session's level"));
	cfg.level = profinfer_v1_TraceLevel_TRACE_LEVEL_NODE;
	CHECK(!pi_session_config__to_opts(&cfg, NULL, &so, err, sizeof(err)));
	cfg.level = (profinfer_v1_TraceLevel)42;
	CHECK(pi_session_config__to_opts(&cfg, NULL, &so, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "level: ") == err);
	cfg.level = profinfer_v1_TraceLevel_TRACE_LEVEL_NODE;
	cfg.counters_count = 1;
	strcpy(cfg.counters[0], "instructionz");
	CHECK(pi_session_config__to_opts(&cfg, NULL, &so, err, sizeof(err)) == -EINVAL);
	CHECK(!strcmp(err, "counters[0]: unknown counter \"instructionz\" (did you mean \"instructions\"?)"));
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	good_file();
	empty_object();
	bad_files();
	decoded_message();
	unlink(write_config("good.json", ""));
	unlink(write_config("config.json", ""));
	rmdir(dir);
	if (test_failures)
		fprintf(stderr, "session_config_test: %d failures\n", test_failures);
	else
		printf("session_config_test: ok\n");
	return test_failures ? 1 : 0;
}
