/* Where a static GGML build runs a backend's graph: the scheduler's split
 * loop (ggml_backend_sched_compute_splits) inlines
 * ggml_backend_graph_compute_async into `call *DISP(%reg)`, the call of
 * backend->iface.graph_compute(backend, cgraph), so no probe on the exported
 * function sees it. DISP is read from the exported function's own
 * `jmp *DISP(%rdi)`; the arguments are in rdi/rsi at the call. x86-64. */
#ifndef PI_BACKEND_SITES_H
#define PI_BACKEND_SITES_H

#include <stddef.h>
#include <stdint.h>
#include "elf_file.h"

#define PI_SCHED_SPLITS_SYMBOL "_ZL33ggml_backend_sched_compute_splitsP18ggml_backend_sched"

struct pi_backend_site {
	uint64_t call;	/* vaddr of the indirect call: entry probe */
	uint64_t after; /* vaddr of the next instruction: return probe */
};

/* Finds up to `max` sites in `f`; returns how many (0: none or not x86-64),
 * or -errno. */
int pi_backend_sites__find(const struct pi_elf_file *f, struct pi_backend_site *out, size_t max);

#endif
