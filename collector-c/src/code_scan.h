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

/* One-probe node level (x86-64): the compute loop's own barrier calls.
 *
 * GGML's loop ends each executed unit with
 *     if (node_n + 1 < cgraph->n_nodes) barrier();   (in-loop site)
 * and the graph with one barrier after the loop (final site, where the
 * guard's jump lands). At an in-loop site the guard's compared value is
 * node_n + 1, node_n being the unit's last node: reading it there tells which
 * unit just ended, so one trap per unit and thread is enough. */
enum pi_counter_loc {
	PI_COUNTER_NONE = 0,  /* final site: closes the last unit, no value read */
	PI_COUNTER_STACK = 1, /* u32 at [rsp + disp] */
	PI_COUNTER_REG = 2,   /* low 32 bits of a register (pt_regs index) */
};

struct pi_loop_barrier {
	uint64_t vaddr; /* the barrier call */
	bool final;
	enum pi_counter_loc loc;
	int32_t disp;	/* PI_COUNTER_STACK */
	uint8_t reg;	/* PI_COUNTER_REG: index into x86-64 struct pt_regs */
};

/* x86-64 struct pt_regs order (uapi asm/ptrace.h), for PI_COUNTER_REG. */
enum pi_x86_preg {
	PI_PREG_R15, PI_PREG_R14, PI_PREG_R13, PI_PREG_R12, PI_PREG_RBP, PI_PREG_RBX, PI_PREG_R11,
	PI_PREG_R10, PI_PREG_R9, PI_PREG_R8, PI_PREG_RAX, PI_PREG_RCX, PI_PREG_RDX, PI_PREG_RSI,
	PI_PREG_RDI,
};

/* Whether the call at `target` is a barrier (callback for the scans below). */
typedef bool (*pi_is_barrier_fn)(void *ctx, uint64_t target);

/* Finds the guarded in-loop barrier sites of x86-64 code `code` (at `vaddr`)
 * and the final sites their guards jump to. n_nodes_off: offsetof(ggml_cgraph,
 * n_nodes). Sites that do not match the pattern exactly are left out (a
 * barrier inside an inlined op, one before the loop). *out is malloc'ed;
 * returns 0 or -errno. */
int pi_code_scan__loop_barriers_code(const uint8_t *code, size_t size, uint64_t vaddr,
				     uint32_t n_nodes_off, pi_is_barrier_fn is_barrier, void *ctx,
				     struct pi_loop_barrier **out, size_t *n);

/* For the call at `call_vaddr` in x86-64 code: the stack slot whose address
 * is its first argument (`lea disp(%rsp), %rdi`, possibly through register
 * copies). Returns 0 and *disp, or -ENOENT. */
int pi_code_scan__arg1_stack_code(const uint8_t *code, size_t size, uint64_t vaddr,
				  uint64_t call_vaddr, int32_t *disp);

/* The same two on a function of an ELF file (callees named by its symbols). */
int pi_code_scan__loop_barriers(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
				uint32_t n_nodes_off, bool (*is_barrier_name)(const char *name),
				struct pi_loop_barrier **out, size_t *n);
int pi_code_scan__arg1_stack(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
			     uint64_t call_vaddr, int32_t *disp);

#endif
