// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probe_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "code_scan.h"

static const char *const kind_names[PI_PROBE_KIND_COUNT] = {
	[PI_PROBE_TOKEN_ENTER] = "token_enter",	    [PI_PROBE_TOKEN_EXIT] = "token_exit",
	[PI_PROBE_GRAPH_ENTER] = "graph_enter",	    [PI_PROBE_GRAPH_EXIT] = "graph_exit",
	[PI_PROBE_NODE_DISPATCH] = "node_dispatch", [PI_PROBE_NODE_FUSED] = "node_fused",
	[PI_PROBE_NODE_BARRIER] = "node_barrier",   [PI_PROBE_LIB_LOADED] = "lib_loaded",
};

const char *const pi_probe_plan__symbol_prefixes[] = {
	"llama_", "ggml_", "GGML_", "GOMP_barrier", "__kmpc_barrier", "_dl_debug_state", NULL,
};

const char *pi_probe_kind__name(enum pi_probe_kind k)
{
	return k < PI_PROBE_KIND_COUNT ? kind_names[k] : "?";
}

/* The CPU backend's compute loop lives in functions named like this:
 * ggml_graph_compute_thread(.isra.0), ggml_graph_compute(._omp_fn.0). */
#define COMPUTE_LOOP_PREFIX "ggml_graph_compute"
#define DISPATCH_FN "ggml_cpu_extra_compute_forward"
#define BARRIER_FN "ggml_barrier"

/* With OpenMP, ggml_barrier is inlined and the loop calls the runtime's
 * barrier directly: GNU libgomp or LLVM libomp. */
static bool is_barrier(const char *name)
{
	return !strcmp(name, BARRIER_FN) || !strcmp(name, "GOMP_barrier") ||
	       !strcmp(name, "__kmpc_barrier");
}

static bool is_fused_kernel(const char *name)
{
	size_t n = strlen(name);

	return !strncmp(name, "ggml_compute_forward_", 21) && n > 6 && !strcmp(name + n - 6, "_fused");
}

static int add(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
	       enum pi_probe_kind kind, uint64_t vaddr, const char *symbol, const char *site,
	       bool cheap)
{
	int64_t off = pi_elf_file__offset_of(f, vaddr);

	if (off < 0)
		return -ERANGE;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->probes[i].kind == kind && plan->probes[i].vaddr == vaddr)
			return 0;
	if (plan->n == *cap) {
		void *p = realloc(plan->probes, (*cap = *cap ? *cap * 2 : 16) * sizeof(*plan->probes));

		if (!p)
			return -ENOMEM;
		plan->probes = p;
	}
	plan->probes[plan->n++] = (struct pi_probe){
		.kind = kind, .vaddr = vaddr, .offset = off, .symbol = symbol, .site = site, .cheap = cheap,
	};
	return 0;
}

static void missing(struct pi_probe_plan *plan, const char *symbol, const char *lost)
{
	if (plan->n_missing < sizeof(plan->missing) / sizeof(plan->missing[0]))
		plan->missing[plan->n_missing++] = (struct pi_missing){ symbol, lost };
}

static int plan_entry_exit(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
			   const struct pi_elf_sym *s, enum pi_probe_kind enter, enum pi_probe_kind exit)
{
	bool cheap;
	uint64_t at = pi_code_scan__entry_probe(f, s, &cheap);
	int err = add(plan, cap, f, enter, at, s->name, NULL, cheap);

	return err ? err : add(plan, cap, f, exit, at, s->name, NULL, cheap);
}

/* Node level: probe the call instructions of the compute loop, so that every
 * node is seen on every thread whether or not its op function is inlined. */
static int plan_node_sites(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f)
{
	size_t loops = 0, dispatch = 0, barrier = 0;
	int err = 0;

	for (size_t i = 0; i < f->n_syms && !err; i++) {
		const struct pi_elf_sym *s = &f->syms[i];
		struct pi_call_site *sites;
		size_t n;

		if (!s->func || strncmp(s->name, COMPUTE_LOOP_PREFIX, strlen(COMPUTE_LOOP_PREFIX)))
			continue;
		if (pi_code_scan__calls(f, s, &sites, &n))
			continue;
		loops++;
		for (size_t k = 0; k < n && !err; k++) {
			const char *callee = sites[k].callee;
			enum pi_probe_kind kind;

			if (!strcmp(callee, DISPATCH_FN))
				kind = PI_PROBE_NODE_DISPATCH, dispatch++;
			else if (is_barrier(callee))
				kind = PI_PROBE_NODE_BARRIER, barrier++;
			else if (is_fused_kernel(callee))
				kind = PI_PROBE_NODE_FUSED;
			else
				continue;
			err = add(plan, cap, f, kind, sites[k].vaddr, s->name, callee, sites[k].emulated);
		}
		free(sites);
	}
	if (err)
		return err;
	if (!loops)
		return 0;
	if (!dispatch)
		missing(plan, DISPATCH_FN " call site", "node level: no per-node start on any thread");
	if (!barrier)
		missing(plan, BARRIER_FN " call site", "node level: no per-node end or barrier wait");
	plan->has_node = dispatch && barrier;
	return 0;
}

int pi_probe_plan__build(const struct pi_elf_file *f, enum pi_level level,
			 struct pi_probe_plan *plan)
{
	const struct pi_elf_sym *s;
	size_t cap = 0;
	int err = 0;

	memset(plan, 0, sizeof(*plan));
	if ((s = pi_elf_file__find(f, "llama_decode"))) {
		err = plan_entry_exit(plan, &cap, f, s, PI_PROBE_TOKEN_ENTER, PI_PROBE_TOKEN_EXIT);
		plan->has_token = !err;
	}
	if (!err && level >= PI_LEVEL_GRAPH && (s = pi_elf_file__find(f, "ggml_graph_compute"))) {
		err = plan_entry_exit(plan, &cap, f, s, PI_PROBE_GRAPH_ENTER, PI_PROBE_GRAPH_EXIT);
		plan->has_graph = !err;
	}
	if (!err && level >= PI_LEVEL_NODE && plan->has_graph)
		err = plan_node_sites(plan, &cap, f);
	if (!err && (s = pi_elf_file__find(f, "_dl_debug_state")))
		err = add(plan, &cap, f, PI_PROBE_LIB_LOADED, s->vaddr, s->name, NULL, false);
	if (err)
		pi_probe_plan__free(plan);
	return err;
}

void pi_probe_plan__free(struct pi_probe_plan *plan)
{
	free(plan->probes);
	memset(plan, 0, sizeof(*plan));
}
