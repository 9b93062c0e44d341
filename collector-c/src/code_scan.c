// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "code_scan.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef EM_X86_64
#define EM_X86_64 62
#endif
#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif

#define PI_MAX_FUNC_BYTES (1u << 20)

static int open_cs(const struct pi_elf_file *f, csh *h)
{
	cs_err err;

	if (f->machine == EM_X86_64)
		err = cs_open(CS_ARCH_X86, CS_MODE_64, h);
	else if (f->machine == EM_AARCH64)
		err = cs_open(CS_ARCH_ARM64, CS_MODE_ARM, h);
	else
		return -ENOTSUP;
	if (err != CS_ERR_OK)
		return -ENOTSUP;
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return 0;
}

/* The address a call instruction transfers to, or to whose GOT slot. */
static uint64_t call_target(const struct pi_elf_file *f, const cs_insn *insn, bool *direct)
{
	*direct = false;
	if (f->machine == EM_X86_64) {
		const cs_x86 *x = &insn->detail->x86;

		if (insn->id != X86_INS_CALL || x->op_count != 1)
			return 0;
		if (x->operands[0].type == X86_OP_IMM) {
			*direct = true;
			return x->operands[0].imm;
		}
		if (x->operands[0].type == X86_OP_MEM && x->operands[0].mem.base == X86_REG_RIP)
			return insn->address + insn->size + x->operands[0].mem.disp;
		return 0;
	}
	if (insn->id == ARM64_INS_BL && insn->detail->arm64.op_count == 1 &&
	    insn->detail->arm64.operands[0].type == ARM64_OP_IMM) {
		*direct = true;
		return insn->detail->arm64.operands[0].imm;
	}
	return 0;
}

int pi_code_scan__calls(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
			struct pi_call_site **out, size_t *n)
{
	struct pi_call_site *sites = NULL;
	size_t cap = 0, count = 0, size, off = 0;
	uint8_t *code = NULL;
	cs_insn *insn = NULL;
	uint64_t addr;
	csh h;
	int err;

	*out = NULL;
	*n = 0;
	if (!fn->size || fn->size > PI_MAX_FUNC_BYTES)
		return -ERANGE;
	if ((err = open_cs(f, &h)))
		return err;
	code = malloc(fn->size);
	insn = cs_malloc(h);
	if (!code || !insn) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = pi_elf_file__read_code(f, fn->vaddr, code, fn->size)))
		goto out;
	const uint8_t *p = code;
	size = fn->size;
	addr = fn->vaddr;
	/* Linear sweep; on bytes that do not decode, skip one unit and go on
	 * (padding, jump tables). A call found after such a skip is still a
	 * real boundary in practice, but only direct calls are trusted. */
	while (off < fn->size) {
		bool direct;
		uint64_t target;
		const char *name;

		if (!cs_disasm_iter(h, &p, &size, &addr, insn)) {
			size_t step = f->machine == EM_AARCH64 ? 4 : 1;

			off += step;
			p = code + off;
			size = fn->size - off;
			addr = fn->vaddr + off;
			continue;
		}
		off = p - code;
		target = call_target(f, insn, &direct);
		if (!target || !(name = pi_elf_file__name_at(f, target)))
			continue;
		if (count == cap) {
			void *np = realloc(sites, (cap = cap ? cap * 2 : 64) * sizeof(*sites));

			if (!np) {
				err = -ENOMEM;
				goto out;
			}
			sites = np;
		}
		sites[count++] = (struct pi_call_site){ .vaddr = insn->address, .callee = name,
							.emulated = direct };
	}
	*out = sites;
	*n = count;
	sites = NULL;
out:
	free(sites);
	free(code);
	if (insn)
		cs_free(insn, 1);
	cs_close(&h);
	return err;
}

uint64_t pi_code_scan__entry_probe(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
				   bool *cheap)
{
	static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t b[6];

	*cheap = false;
	if (f->machine != EM_X86_64 || fn->size < sizeof(b) ||
	    pi_elf_file__read_code(f, fn->vaddr, b, sizeof(b)))
		return fn->vaddr;
	if (memcmp(b, endbr64, 4)) {
		/* No endbr64: cheap when the first instruction is a push. */
		*cheap = (b[0] >= 0x50 && b[0] <= 0x57) || (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57);
		return fn->vaddr;
	}
	/* push %reg (50+r) or push %r8-15 (41 50+r): emulated by x86 uprobes. */
	if ((b[4] >= 0x50 && b[4] <= 0x57) || (b[4] == 0x41 && b[5] >= 0x50 && b[5] <= 0x57)) {
		*cheap = true;
		return fn->vaddr + 4;
	}
	return fn->vaddr;
}
