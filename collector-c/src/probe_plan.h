/* Which probes go where in one ELF file of the engine, and what detail is
 * lost when a needed symbol is missing. Pure: reads the file, attaches
 * nothing (attach.c does). */
#ifndef PI_PROBE_PLAN_H
#define PI_PROBE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include "elf_file.h"

enum pi_probe_kind {
	PI_PROBE_TOKEN_ENTER,
	PI_PROBE_TOKEN_EXIT,
	PI_PROBE_GRAPH_ENTER,
	PI_PROBE_GRAPH_EXIT,
	PI_PROBE_NODE_DISPATCH,
	PI_PROBE_NODE_FUSED,
	PI_PROBE_NODE_BARRIER,
	PI_PROBE_LIB_LOADED,
	PI_PROBE_NODE_LOOP_BARRIER, /* one-probe node level: cookie says where node_n + 1 is */
	PI_PROBE_KIND_COUNT,
};

enum pi_level { PI_LEVEL_TOKEN = 2, PI_LEVEL_GRAPH = 3, PI_LEVEL_NODE = 4 };

/* How node level is probed (--node-probes):
 *   two   the dispatcher / fused-kernel call opens a row, the barrier call
 *         closes it: two traps per unit and thread, works on any build whose
 *         loop calls them;
 *   one   only the compute loop's guarded barrier calls, reading the loop
 *         counter there (code_scan.h): one trap per unit and thread; x86-64,
 *         where the loop matches the pattern;
 *   auto  one where the analysis succeeds, two otherwise. */
enum pi_node_probes { PI_NODE_PROBES_AUTO, PI_NODE_PROBES_TWO, PI_NODE_PROBES_ONE };

/* Parses "auto" / "two" / "one"; returns 0 or -EINVAL. */
int pi_node_probes__parse(const char *s, enum pi_node_probes *out);

struct pi_probe {
	enum pi_probe_kind kind;
	uint64_t vaddr;
	uint64_t offset;    /* file offset, what uprobes attach to */
	const char *symbol; /* owned by the pi_elf_file */
	const char *site;   /* callee, for call-site probes */
	bool cheap;	    /* emulated, not single-stepped */
	uint64_t cookie;    /* BPF cookie (node_loop_barrier: PI_NLB_*) */
};

struct pi_missing {
	const char *symbol;
	const char *detail_lost;
};

struct pi_probe_plan {
	struct pi_probe *probes;
	size_t n;
	struct pi_missing missing[8];
	size_t n_missing;
	bool has_token, has_graph, has_node;
	/* Node level: true when one probe per unit (node_loop_barrier) is used. */
	bool node_one;
	/* Why node level was not planned with one probe (NULL when it was, or
	 * when it was not asked for). */
	const char *node_one_failed;
};

/* AttachedProbe.how of a call-site probe of this plan. */
const char *pi_probe_plan__how(const struct pi_probe_plan *plan, const struct pi_probe *p);

const char *pi_probe_kind__name(enum pi_probe_kind k);

/* Name prefixes of every symbol planning looks at (for pi_elf_file__open). */
extern const char *const pi_probe_plan__symbol_prefixes[];

/* Plans the probes of `level` for `f`. A file with none of the engine's
 * symbols gives an empty plan (not an error). */
int pi_probe_plan__build(const struct pi_elf_file *f, enum pi_level level,
			 enum pi_node_probes node_probes, struct pi_probe_plan *plan);
void pi_probe_plan__free(struct pi_probe_plan *plan);

#endif
