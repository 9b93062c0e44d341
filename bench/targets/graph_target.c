// SPDX-License-Identifier: MIT
/*
 * Node-level synthetic target for bench/throughput.mjs: the REAL GGML CPU
 * backend (node-llama-cpp's prebuilt libggml-base.so and one of its
 * libggml-cpu-<variant>.so) computes a graph of --nodes cheap nodes (a chain
 * of ADD and SCALE on 32 floats) with --threads threads, once per call of a
 * function named llama_decode, paced at --rate calls per second for --seconds.
 * So profinferd's planner finds what it finds in llama.cpp: llama_decode here
 * (token level) and ggml_graph_compute plus the compute loop's barrier calls
 * in the variant (graph and node level).
 *
 *   graph_target --rate HZ --seconds S [--nodes N] [--threads T] [--warmup-ms MS] [--cpu-lib PATH]
 *
 * The variant is chosen as ggml_backend_load_best() does: dlopen every
 * libggml-cpu-*.so next to libggml-base.so, call its ggml_backend_score(),
 * keep the highest (or the one --cpu-lib names). The backend gets its own
 * threadpool, as llama.cpp's does (without one GGML starts and joins threads
 * for every graph), and the graph goes through ggml_backend_sched, allocated
 * once and then reused, as llama.cpp's is between decode steps.
 *
 * What profinferd records per graph (measured: profinferd 0.1.0, node level,
 * on node-llama-cpp 3.22.1's GGML 0.25.1 prebuilt, libggml-cpu-zen4.so; e.g.
 * 1000 graphs of 64 nodes on 2 threads: "Recorded 1000 tokens, 1000 graphs,
 * 128000 node events; lost 0", and `summary` shows 64000 executed nodes,
 * 128000 node events on 2 threads): 1 token (entry + return), 1 graph (entry
 * + return) and exactly nodes * threads node events. GGML's loop
 * (ggml_graph_compute_thread) runs on every thread and calls ggml_barrier
 * after each node but the last (`if (node_n + 1 < n_nodes)`), then once
 * after the loop; profinferd probes exactly those two call sites
 * (node_loop_barrier), so each thread hits one probe per node, the last node
 * included. That holds because every node here is computed (no empty op, no
 * fusion: no RMS_NORM) and the first node is an ADD, so the plan uses all T
 * threads (a plan of only single-task ops would run on fewer).
 *
 * profinferd attaches a dlopen'ed library a few milliseconds after the loader
 * announces it, so the first graphs may run unseen; their tokens are marked
 * not node-complete (test/collector/late_library.test.ts runs this target
 * with --warmup-ms 0). --warmup-ms pauses between loading the backend and the
 * first graph, as loading a model does in an app, so a rate sweep counts
 * every graph.
 *
 * Prints one JSON line on stdout: calls, nodes_per_graph (the graph's own
 * n_nodes), threads, elapsed_ns, rate_hz (graphs per second achieved),
 * cpu_lib, ggml_version. The result is checked against the same chain
 * computed in plain C, so a graph that did not run fails the target.
 *
 * Built by the bench with the GGML headers of the same release and
 * -DGGML_HEADERS_VERSION; the library's ggml_version() must match it.
 */
#define _GNU_SOURCE /* dladdr, realpath */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#ifndef GGML_HEADERS_VERSION
#error "build with -DGGML_HEADERS_VERSION='\"x.y.z\"' (the headers' ggml/CMakeLists.txt version)"
#endif

#define VEC_LEN 32
#define MAX_NODES 100000
#define MAX_THREADS 256
#define ADD_VALUE 1.0f
#define SCALE_VALUE 0.5f

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

struct cpu_variant {
	void *handle;
	char path[PATH_MAX];
	int score;
};

typedef int (*score_fn)(void);
typedef ggml_backend_reg_t (*init_fn)(void);

/* Opens one variant and scores it; 0 when it cannot run on this CPU. */
static int score_variant(const char *path, struct cpu_variant *v)
{
	score_fn score;

	v->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!v->handle)
		return -1;
	score = (score_fn)dlsym(v->handle, "ggml_backend_score");
	v->score = score ? score() : 0;
	snprintf(v->path, sizeof(v->path), "%s", path);
	return 0;
}

/* The directory libggml-base.so was loaded from (the variants lie beside it). */
static int base_dir(char *dir, size_t cap)
{
	Dl_info info;
	char *slash;

	if (!dladdr((void *)ggml_init, &info) || !info.dli_fname)
		return -1;
	if (!realpath(info.dli_fname, dir))
		snprintf(dir, cap, "%s", info.dli_fname);
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* Highest-scoring libggml-cpu-*.so in dir, as ggml_backend_load_best() picks. */
static int best_variant(struct cpu_variant *best)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *e;
	DIR *d;

	best->handle = NULL;
	best->score = 0;
	if (base_dir(dir, sizeof(dir)))
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		struct cpu_variant v;
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, "libggml-cpu-", 12) || n < 3 || strcmp(e->d_name + n - 3, ".so"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (score_variant(path, &v))
			continue;
		if (v.score > best->score) {
			if (best->handle)
				dlclose(best->handle);
			*best = v;
		} else {
			dlclose(v.handle);
		}
	}
	closedir(d);
	return best->handle ? 0 : -1;
}

/* llama.cpp's batch, passed by value as there (in memory on x86-64), so the
 * token probe reads n_tokens where it reads it in llama.cpp. */
struct llama_batch {
	int32_t n_tokens;
	void *token, *embd, *pos, *n_seq_id, *seq_id, *logits;
};

struct decode_ctx {
	ggml_backend_sched_t sched;
	struct ggml_cgraph *graph;
};

/* Named like llama.cpp's entry point so profinferd's planner finds it: one
 * call computes the graph once, as one llama_decode of a token does. */
__attribute__((noinline, used)) int llama_decode(struct decode_ctx *ctx, struct llama_batch batch)
{
	if (batch.n_tokens != 1)
		return -1;
	return ggml_backend_sched_graph_compute(ctx->sched, ctx->graph) == GGML_STATUS_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint64_t rate = 0, seconds = 0, nodes = 64, threads = 2, warmup_ms = 0, n = 0, i, max_calls;
	uint64_t t0, t_end, next, step_ns;
	const char *cpu_lib = NULL;
	struct cpu_variant variant = { 0 };
	struct ggml_threadpool_params tpp;
	struct ggml_threadpool *tp = NULL;
	struct ggml_threadpool *(*tp_new)(struct ggml_threadpool_params *);
	void (*tp_free)(struct ggml_threadpool *);
	void (*set_tp)(ggml_backend_t, struct ggml_threadpool *);
	void (*set_threads)(ggml_backend_t, int);
	ggml_backend_sched_t sched = NULL;
	struct ggml_context *ctx = NULL;
	struct ggml_cgraph *graph;
	ggml_backend_t backend;
	struct decode_ctx dctx;
	struct llama_batch batch = { .n_tokens = 1 };
	struct ggml_tensor *x, *bias, *out;
	float in[VEC_LEN], res[VEC_LEN], want;
	char real[PATH_MAX];
	ggml_backend_reg_t reg;
	init_fn init;
	int err = 1;

	for (int a = 1; a < argc; a += 2) {
		uint64_t *dst = !strcmp(argv[a], "--rate") ? &rate :
				!strcmp(argv[a], "--seconds") ? &seconds :
				!strcmp(argv[a], "--nodes") ? &nodes :
				!strcmp(argv[a], "--threads") ? &threads :
				!strcmp(argv[a], "--warmup-ms") ? &warmup_ms : NULL;

		if (a + 1 >= argc) {
			fprintf(stderr, "graph_target: '%s' needs a value; use --rate HZ --seconds S [--nodes N] [--threads T] [--warmup-ms MS] [--cpu-lib PATH]\n", argv[a]);
			return 2;
		}
		if (!strcmp(argv[a], "--cpu-lib")) {
			cpu_lib = argv[a + 1];
			continue;
		}
		if (!dst || parse_u64(argv[a + 1], dst)) {
			fprintf(stderr, "graph_target: bad argument '%s %s'; use --rate HZ --seconds S [--nodes N] [--threads T] [--warmup-ms MS] [--cpu-lib PATH]\n", argv[a], argv[a + 1]);
			return 2;
		}
	}
	if (!rate || !seconds || rate > 1000000000ull || seconds > 86400) {
		fprintf(stderr, "graph_target: give --rate HZ (1..1e9) and --seconds S (1..86400)\n");
		return 2;
	}
	if (!nodes || nodes > MAX_NODES || !threads || threads > MAX_THREADS || warmup_ms > 60000) {
		fprintf(stderr, "graph_target: --nodes must be 1..%d, --threads 1..%d and --warmup-ms 0..60000\n", MAX_NODES, MAX_THREADS);
		return 2;
	}
	if (strcmp(ggml_version(), GGML_HEADERS_VERSION)) {
		fprintf(stderr, "graph_target: libggml-base.so is GGML %s but it was built with %s headers; rebuild against the matching llama.cpp source\n",
			ggml_version(), GGML_HEADERS_VERSION);
		return 1;
	}

	if (cpu_lib) {
		if (score_variant(cpu_lib, &variant)) {
			fprintf(stderr, "graph_target: cannot load --cpu-lib %s: %s\n", cpu_lib, dlerror());
			return 1;
		}
		if (variant.score <= 0) {
			fprintf(stderr, "graph_target: %s does not run on this CPU (ggml_backend_score %d); pick another libggml-cpu-*.so\n", cpu_lib, variant.score);
			return 1;
		}
	} else if (best_variant(&variant)) {
		fprintf(stderr, "graph_target: no usable libggml-cpu-*.so beside libggml-base.so; pass --cpu-lib PATH\n");
		return 1;
	}
	if (realpath(variant.path, real))
		snprintf(variant.path, sizeof(variant.path), "%s", real);
	if (strpbrk(variant.path, "\"\\")) {
		fprintf(stderr, "graph_target: the library path %s has a quote or backslash; move node-llama-cpp elsewhere\n", variant.path);
		return 1;
	}

	init = (init_fn)dlsym(variant.handle, "ggml_backend_init");
	tp_new = (struct ggml_threadpool *(*)(struct ggml_threadpool_params *))dlsym(variant.handle, "ggml_threadpool_new");
	tp_free = (void (*)(struct ggml_threadpool *))dlsym(variant.handle, "ggml_threadpool_free");
	set_tp = (void (*)(ggml_backend_t, struct ggml_threadpool *))dlsym(variant.handle, "ggml_backend_cpu_set_threadpool");
	set_threads = (void (*)(ggml_backend_t, int))dlsym(variant.handle, "ggml_backend_cpu_set_n_threads");
	if (!init || !tp_new || !tp_free || !set_tp || !set_threads) {
		fprintf(stderr, "graph_target: %s lacks ggml_backend_init / ggml_threadpool_new / ggml_backend_cpu_set_*; is it a GGML CPU backend?\n", variant.path);
		return 1;
	}
	reg = init();
	backend = reg && ggml_backend_reg_dev_count(reg) ? ggml_backend_dev_init(ggml_backend_reg_dev_get(reg, 0), NULL) : NULL;
	if (!backend) {
		fprintf(stderr, "graph_target: %s gave no CPU backend\n", variant.path);
		return 1;
	}
	set_threads(backend, (int)threads);
	tpp = ggml_threadpool_params_default((int)threads);
	tp = tp_new(&tpp);
	if (!tp) {
		fprintf(stderr, "graph_target: failed to create a threadpool of %llu threads\n", (unsigned long long)threads);
		goto cleanup;
	}
	set_tp(backend, tp);

	/* The context holds only tensor headers and the graph, x (input) -> add
	 * bias -> scale 0.5 -> add bias -> ...; the scheduler allocates the
	 * tensors once and keeps the graph (and the uid it gives it), as
	 * llama.cpp's graph reuse does between decode steps. */
	ctx = ggml_init((struct ggml_init_params){
		.mem_size = ggml_tensor_overhead() * (nodes + 2) + ggml_graph_overhead_custom(nodes + 2, false),
		.mem_buffer = NULL,
		.no_alloc = true,
	});
	if (!ctx) {
		fprintf(stderr, "graph_target: failed to create a GGML context for %llu nodes\n", (unsigned long long)nodes);
		goto cleanup;
	}
	x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, VEC_LEN);
	bias = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, VEC_LEN);
	ggml_set_input(x);
	ggml_set_input(bias);
	out = x;
	for (i = 0; i < nodes; i++)
		out = i % 2 ? ggml_scale(ctx, out, SCALE_VALUE) : ggml_add(ctx, out, bias);
	ggml_set_output(out);
	graph = ggml_new_graph_custom(ctx, nodes + 2, false);
	ggml_build_forward_expand(graph, out);
	if ((uint64_t)ggml_graph_n_nodes(graph) != nodes) {
		fprintf(stderr, "graph_target: the graph has %d nodes, not %llu\n", ggml_graph_n_nodes(graph), (unsigned long long)nodes);
		goto cleanup;
	}
	sched = ggml_backend_sched_new(&backend, NULL, 1, nodes + 2, false, false);
	if (!sched || !ggml_backend_sched_alloc_graph(sched, graph)) {
		fprintf(stderr, "graph_target: failed to allocate the graph in the CPU backend's scheduler\n");
		goto cleanup;
	}
	for (i = 0; i < VEC_LEN; i++)
		in[i] = (float)i;
	ggml_backend_tensor_set(x, in, 0, sizeof(in));
	for (i = 0; i < VEC_LEN; i++)
		in[i] = ADD_VALUE;
	ggml_backend_tensor_set(bias, in, 0, sizeof(in));

	dctx.sched = sched;
	dctx.graph = graph;
	/* A tracer that attaches to the variant only after seeing it loaded
	 * (profinferd: when its reader next polls) gets this long to do so
	 * before the first graph, as an app loading a model would give it. */
	if (warmup_ms) {
		struct timespec ts = { .tv_sec = warmup_ms / 1000, .tv_nsec = (warmup_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}

	/* Pace against the schedule, not the last call: a late call is followed
	 * at once, so the mean rate holds (as in rate_target.c). */
	max_calls = rate * seconds;
	step_ns = 1000000000ull / rate;
	t0 = now_ns();
	t_end = t0 + seconds * 1000000000ull;
	next = t0;
	for (i = 0; i < max_calls; i++) {
		while (now_ns() < next)
			;
		next += step_ns;
		if (now_ns() >= t_end + step_ns)
			break;
		if (llama_decode(&dctx, batch)) {
			fprintf(stderr, "graph_target: ggml_backend_graph_compute failed on call %llu\n", (unsigned long long)i);
			goto cleanup;
		}
		n++;
	}
	t_end = now_ns();

	/* The same chain in plain C: element j starts at j. */
	ggml_backend_tensor_get(out, res, 0, sizeof(res));
	for (i = 0; i < VEC_LEN; i++) {
		want = (float)i;
		for (uint64_t k = 0; k < nodes; k++)
			want = k % 2 ? want * SCALE_VALUE : want + ADD_VALUE;
		if (fabsf(res[i] - want) > 1e-4f * (1.0f + fabsf(want))) {
			fprintf(stderr, "graph_target: graph result [%llu] = %g, expected %g: the graph did not compute\n",
				(unsigned long long)i, res[i], want);
			goto cleanup;
		}
	}
	printf("{\"calls\":%llu,\"nodes_per_graph\":%d,\"threads\":%llu,\"elapsed_ns\":%llu,\"rate_hz\":%.1f,"
	       "\"cpu_lib\":\"%s\",\"ggml_version\":\"%s\"}\n",
	       (unsigned long long)n, ggml_graph_n_nodes(graph), (unsigned long long)threads,
	       (unsigned long long)(t_end - t0), n * 1e9 / (double)(t_end - t0), variant.path, ggml_version());
	err = 0;
cleanup:
	if (sched)
		ggml_backend_sched_free(sched);
	if (ctx)
		ggml_free(ctx);
	ggml_backend_free(backend);
	if (tp)
		tp_free(tp);
	return err;
}
