// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probe_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "code_scan.h"
#include "profinfer_events.h"

static const char *const kind_names[PI_PROBE_KIND_COUNT] = {
	[PI_PROBE_TOKEN_ENTER] = "token_enter",	    [PI_PROBE_TOKEN_EXIT] = "token_exit",
	[PI_PROBE_GRAPH_ENTER] = "graph_enter",	    [PI_PROBE_GRAPH_EXIT] = "graph_exit",
	[PI_PROBE_NODE_DISPATCH] = "node_dispatch", [PI_PROBE_NODE_FUSED] = "node_fused",
	[PI_PROBE_NODE_BARRIER] = "node_barrier",   [PI_PROBE_LIB_LOADED] = "lib_loaded",
	[PI_PROBE_NODE_LOOP_BARRIER] = "node_loop_barrier",
};

int pi_node_probes__parse(const char *s, enum pi_node_probes *out)
{
	if (!strcmp(s, "auto"))
		*out = PI_NODE_PROBES_AUTO;
	else if (!strcmp(s, "two"))
		*out = PI_NODE_PROBES_TWO;
	else if (!strcmp(s, "one"))
		*out = PI_NODE_PROBES_ONE;
	else
		return -EINVAL;
	return 0;
}

const char *pi_probe_plan__how(const struct pi_probe_plan *plan, const struct pi_probe *p)
{
	(void)plan;
	if (p->kind == PI_PROBE_NODE_LOOP_BARRIER)
		return "call-site+counter";
	return p->site ? "call-site" : NULL;
}

const char *const pi_probe_plan__symbol_prefixes[] = {
	"llama_", "ggml_", "GGML_", "GOMP_barrier", "__kmpc_barrier", "_dl_debug_state",
	/* backends (backend_sites.h, backend_probes.h): static C++ functions */
	"_ZL33ggml_backend_sched_compute_splits", "_ZL25ggml_cuda_compute_forward", NULL,
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
/* offsetof(struct ggml_cgraph, n_nodes): `int size; int n_nodes;` in every GGML. */
#define CGRAPH_N_NODES_OFF 4

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

static int add_cookie(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
		      enum pi_probe_kind kind, uint64_t vaddr, const char *symbol, const char *site,
		      bool cheap, uint64_t cookie)
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
		.cookie = cookie,
	};
	return 0;
}

static int add(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
	       enum pi_probe_kind kind, uint64_t vaddr, const char *symbol, const char *site,
	       bool cheap)
{
	return add_cookie(plan, cap, f, kind, vaddr, symbol, site, cheap, 0);
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

/* One probe per unit: replaces the two-probe node sites of `plan` by the
 * loop's guarded barrier calls when every compute-loop function with a
 * dispatcher call has them, and the dispatcher's params (for ith) sit at a
 * fixed stack slot. Leaves the plan alone and returns why not otherwise. */
static const char *plan_one_probe(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
				  int *err)
{
	struct pi_probe *two = NULL;
	size_t n_two = 0, loops = 0;
	const char *why = NULL;

	*err = 0;
	if (f->machine != 62 /* EM_X86_64 */)
		return "one probe per node needs x86-64 code analysis";
	/* Keep the two-probe sites aside: they come back if this fails. */
	for (size_t i = 0; i < plan->n; i++)
		n_two += plan->probes[i].kind == PI_PROBE_NODE_DISPATCH ||
			 plan->probes[i].kind == PI_PROBE_NODE_FUSED ||
			 plan->probes[i].kind == PI_PROBE_NODE_BARRIER;
	if (!(two = malloc((n_two ? n_two : 1) * sizeof(*two)))) {
		*err = -ENOMEM;
		return "out of memory";
	}
	n_two = 0;
	{
		size_t kept = 0;

		for (size_t i = 0; i < plan->n; i++) {
			const struct pi_probe *p = &plan->probes[i];

			if (p->kind == PI_PROBE_NODE_DISPATCH || p->kind == PI_PROBE_NODE_FUSED ||
			    p->kind == PI_PROBE_NODE_BARRIER)
				two[n_two++] = *p;
			else
				plan->probes[kept++] = *p;
		}
		plan->n = kept;
	}
	for (size_t i = 0; i < f->n_syms && !why; i++) {
		const struct pi_elf_sym *s = &f->syms[i];
		struct pi_loop_barrier *sites = NULL;
		size_t n_sites = 0, in_loop = 0, finals = 0;
		int32_t params = 0;
		bool any_dispatch = false;

		if (!s->func || strncmp(s->name, COMPUTE_LOOP_PREFIX, strlen(COMPUTE_LOOP_PREFIX)))
			continue;
		/* The functions whose dispatcher calls the two-probe plan found. */
		for (size_t k = 0; k < n_two && !why; k++) {
			int32_t d;

			if (two[k].kind != PI_PROBE_NODE_DISPATCH || two[k].vaddr < s->vaddr ||
			    two[k].vaddr >= s->vaddr + s->size)
				continue;
			if (pi_code_scan__arg1_stack(f, s, two[k].vaddr, &d) || d < 0 || d >= 0xfffe)
				why = "the dispatcher's params are not at a fixed stack slot (thread index)";
			else if (any_dispatch && d != params)
				why = "the dispatcher calls pass different params";
			params = d;
			any_dispatch = true;
		}
		if (why || !any_dispatch)
			continue;
		loops++;
		*err = pi_code_scan__loop_barriers(f, s, CGRAPH_N_NODES_OFF, is_barrier, &sites, &n_sites);
		if (*err) {
			why = "the compute loop could not be decoded";
			break;
		}
		for (size_t k = 0; k < n_sites; k++)
			sites[k].final ? finals++ : in_loop++;
		if (!in_loop || !finals)
			why = "no barrier call guarded by `node_n + 1 < n_nodes` in the compute loop";
		for (size_t k = 0; k < n_sites && !why && !*err; k++) {
			const struct pi_loop_barrier *b = &sites[k];
			uint64_t cookie = (uint64_t)(params + 1) << PI_NLB_PARAMS_SHIFT;

			if (b->final)
				cookie |= (uint64_t)PI_NLB_FINAL << PI_NLB_LOC_SHIFT;
			else if (b->loc == PI_COUNTER_STACK)
				cookie |= (uint64_t)PI_NLB_STACK << PI_NLB_LOC_SHIFT | (uint32_t)b->disp;
			else
				cookie |= (uint64_t)PI_NLB_REG << PI_NLB_LOC_SHIFT |
					  (uint64_t)b->reg << PI_NLB_REG_SHIFT;
			*err = add_cookie(plan, cap, f, PI_PROBE_NODE_LOOP_BARRIER, b->vaddr, s->name,
					  "barrier", true, cookie);
		}
		free(sites);
	}
	if (!why && !*err && !loops)
		why = "no dispatcher call in the compute loop";
	if (why || *err) {
		/* Back to the two-probe sites. */
		size_t kept = 0;

		for (size_t i = 0; i < plan->n; i++)
			if (plan->probes[i].kind != PI_PROBE_NODE_LOOP_BARRIER)
				plan->probes[kept++] = plan->probes[i];
		plan->n = kept;
		for (size_t k = 0; k < n_two && !*err; k++) {
			const struct pi_probe *p = &two[k];

			*err = add_cookie(plan, cap, f, p->kind, p->vaddr, p->symbol, p->site, p->cheap, 0);
		}
	} else {
		/* The probes name what they call: the barrier. */
		for (size_t i = 0; i < plan->n; i++)
			if (plan->probes[i].kind == PI_PROBE_NODE_LOOP_BARRIER)
				for (size_t k = 0; k < n_two; k++)
					if (two[k].vaddr == plan->probes[i].vaddr)
						plan->probes[i].site = two[k].site;
		plan->node_one = true;
	}
	free(two);
	return why;
}

/* Node level: probe the call instructions of the compute loop, so that every
 * node is seen on every thread whether or not its op function is inlined. */
static int plan_node_sites(struct pi_probe_plan *plan, size_t *cap, const struct pi_elf_file *f,
			   enum pi_node_probes mode)
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
	if (plan->has_node && mode != PI_NODE_PROBES_TWO)
		plan->node_one_failed = plan_one_probe(plan, cap, f, &err);
	return err;
}

int pi_probe_plan__build(const struct pi_elf_file *f, enum pi_level level,
			 enum pi_node_probes node_probes, struct pi_probe_plan *plan)
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
		err = plan_node_sites(plan, &cap, f, node_probes);
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
