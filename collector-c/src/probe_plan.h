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
	PI_PROBE_KIND_COUNT,
};

enum pi_level { PI_LEVEL_TOKEN = 2, PI_LEVEL_GRAPH = 3, PI_LEVEL_NODE = 4 };

struct pi_probe {
	enum pi_probe_kind kind;
	uint64_t vaddr;
	uint64_t offset;    /* file offset, what uprobes attach to */
	const char *symbol; /* owned by the pi_elf_file */
	const char *site;   /* callee, for call-site probes */
	bool cheap;	    /* emulated, not single-stepped */
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
};

const char *pi_probe_kind__name(enum pi_probe_kind k);

/* Name prefixes of every symbol planning looks at (for pi_elf_file__open). */
extern const char *const pi_probe_plan__symbol_prefixes[];

/* Plans the probes of `level` for `f`. A file with none of the engine's
 * symbols gives an empty plan (not an error). */
int pi_probe_plan__build(const struct pi_elf_file *f, enum pi_level level,
			 struct pi_probe_plan *plan);
void pi_probe_plan__free(struct pi_probe_plan *plan);

#endif
