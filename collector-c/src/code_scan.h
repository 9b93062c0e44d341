/* Machine-code facts for probe placement, decoded with capstone:
 * the call sites inside a function (and whom they call), and where an entry
 * probe is cheapest. */
#ifndef PI_CODE_SCAN_H
#define PI_CODE_SCAN_H

#include <stdbool.h>
#include "elf_file.h"

struct pi_call_site {
	uint64_t vaddr;	    /* address of the call instruction */
	const char *callee; /* owned by the pi_elf_file */
	bool emulated;	    /* a direct call: the kernel emulates it */
};

/* Lists the calls in `fn` whose callee has a name. Returns 0 or -errno;
 * *out is malloc'ed. */
int pi_code_scan__calls(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
			struct pi_call_site **out, size_t *n);

/* Address for an entry probe of `fn`: just past `endbr64` when the next
 * instruction is one the kernel emulates (push), because a single-stepped
 * instruction costs ~10x more under a uprobe. *cheap tells which. */
uint64_t pi_code_scan__entry_probe(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
				   bool *cheap);

#endif
