// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "backend_sites.h"

#include <capstone/capstone.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>

/* The displacement of iface.graph_compute in struct ggml_backend: the
 * exported function tail-calls it, `jmp qword ptr [rdi + DISP]`. */
static int graph_compute_disp(csh h, const struct pi_elf_file *f, int64_t *disp)
{
	const struct pi_elf_sym *s = pi_elf_file__find(f, "ggml_backend_graph_compute_async");
	uint8_t code[64];
	cs_insn *insn;
	size_t n, size;
	int found = -ENOENT;

	if (!s || !s->size)
		return -ENOENT;
	size = s->size < sizeof(code) ? s->size : sizeof(code);
	if (pi_elf_file__read_code(f, s->vaddr, code, size))
		return -EIO;
	n = cs_disasm(h, code, size, s->vaddr, 0, &insn);
	for (size_t i = 0; i < n && found; i++) {
		cs_x86 *x = &insn[i].detail->x86;

		if (insn[i].id == X86_INS_JMP && x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
		    x->operands[0].mem.base == X86_REG_RDI && x->operands[0].mem.index == X86_REG_INVALID) {
			*disp = x->operands[0].mem.disp;
			found = 0;
		}
	}
	if (n)
		cs_free(insn, n);
	return found;
}

int pi_backend_sites__find(const struct pi_elf_file *f, struct pi_backend_site *out, size_t max)
{
	const struct pi_elf_sym *fn = pi_elf_file__find(f, PI_SCHED_SPLITS_SYMBOL);
	uint8_t *code;
	cs_insn *insn;
	size_t n, found = 0;
	int64_t disp;
	csh h;
	int e;

	if (f->machine != EM_X86_64 || !fn || !fn->size || fn->size > (1 << 20))
		return 0;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	if ((e = graph_compute_disp(h, f, &disp))) {
		cs_close(&h);
		return e == -ENOENT ? 0 : e;
	}
	if (!(code = malloc(fn->size))) {
		cs_close(&h);
		return -ENOMEM;
	}
	if (pi_elf_file__read_code(f, fn->vaddr, code, fn->size)) {
		free(code);
		cs_close(&h);
		return -EIO;
	}
	n = cs_disasm(h, code, fn->size, fn->vaddr, 0, &insn);
	for (size_t i = 0; i + 1 < n && found < max; i++) {
		cs_x86 *x = &insn[i].detail->x86;

		/* call qword ptr [reg + DISP]: a backend's graph_compute. */
		if (insn[i].id == X86_INS_CALL && x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
		    x->operands[0].mem.disp == disp && x->operands[0].mem.index == X86_REG_INVALID &&
		    x->operands[0].mem.base != X86_REG_RIP && x->operands[0].mem.base != X86_REG_INVALID)
			out[found++] = (struct pi_backend_site){ insn[i].address, insn[i + 1].address };
	}
	if (n)
		cs_free(insn, n);
	free(code);
	cs_close(&h);
	return found;
}
