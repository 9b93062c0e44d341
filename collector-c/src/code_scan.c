// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "code_scan.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

/* ---- one-probe node level (x86-64) ------------------------------------ */

/* The pt_regs index of a general-purpose register of any width; -1 for
 * others (rsp, rip, vector registers). */
static int x86_preg(unsigned r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL: case X86_REG_AH:
		return PI_PREG_RAX;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL: case X86_REG_BH:
		return PI_PREG_RBX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL: case X86_REG_CH:
		return PI_PREG_RCX;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH:
		return PI_PREG_RDX;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL: return PI_PREG_RSI;
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL: return PI_PREG_RDI;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL: return PI_PREG_RBP;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B: return PI_PREG_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B: return PI_PREG_R9;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B: return PI_PREG_R10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B: return PI_PREG_R11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B: return PI_PREG_R12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B: return PI_PREG_R13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B: return PI_PREG_R14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B: return PI_PREG_R15;
	default: return -1;
	}
}

/* Decoded code of one function: every instruction (linear sweep, skipping
 * bytes that do not decode) and every direct jump target. */
struct decoded {
	csh h;
	cs_insn **insn; /* pointers into the blocks below */
	size_t n;
	cs_insn **blocks;
	size_t *block_n, n_blocks;
	uint64_t *targets; /* sorted */
	size_t n_targets;
};

static void decoded_free(struct decoded *d)
{
	for (size_t i = 0; i < d->n_blocks; i++)
		cs_free(d->blocks[i], d->block_n[i]);
	free(d->blocks);
	free(d->block_n);
	free(d->insn);
	free(d->targets);
	if (d->h)
		cs_close(&d->h);
	memset(d, 0, sizeof(*d));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_jump(const cs_insn *i)
{
	for (uint8_t k = 0; k < i->detail->groups_count; k++)
		if (i->detail->groups[k] == CS_GRP_JUMP)
			return true;
	return false;
}

static bool is_cond_jump(const cs_insn *i)
{
	return is_jump(i) && i->id != X86_INS_JMP;
}

static bool ends_flow(const cs_insn *i)
{
	return i->id == X86_INS_JMP || i->id == X86_INS_RET || i->id == X86_INS_CALL ||
	       i->id == X86_INS_UD2 || i->id == X86_INS_HLT;
}

static uint64_t jump_target(const cs_insn *i)
{
	const cs_x86 *x = &i->detail->x86;

	return is_jump(i) && x->op_count == 1 && x->operands[0].type == X86_OP_IMM ? x->operands[0].imm : 0;
}

static int decode_x86(const uint8_t *code, size_t size, uint64_t vaddr, struct decoded *d)
{
	size_t off = 0, cap = 0, cap_t = 0;
	int err = -ENOMEM;

	memset(d, 0, sizeof(*d));
	if (size > PI_MAX_FUNC_BYTES)
		return -ERANGE;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->h) != CS_ERR_OK)
		return -ENOTSUP;
	cs_option(d->h, CS_OPT_DETAIL, CS_OPT_ON);
	while (off < size) {
		cs_insn *blk = NULL;
		size_t got = cs_disasm(d->h, code + off, size - off, vaddr + off, 0, &blk);
		void *p;

		if (!got) {
			off++; /* padding or data: skip a byte */
			continue;
		}
		if (!(p = realloc(d->blocks, (d->n_blocks + 1) * sizeof(*d->blocks))))
			goto fail_blk;
		d->blocks = p;
		if (!(p = realloc(d->block_n, (d->n_blocks + 1) * sizeof(*d->block_n))))
			goto fail_blk;
		d->block_n = p;
		d->blocks[d->n_blocks] = blk;
		d->block_n[d->n_blocks++] = got;
		if (d->n + got > cap) {
			while (cap < d->n + got)
				cap = cap ? cap * 2 : 1024;
			if (!(p = realloc(d->insn, cap * sizeof(*d->insn))))
				goto fail;
			d->insn = p;
		}
		for (size_t k = 0; k < got; k++) {
			uint64_t t = jump_target(&blk[k]);

			d->insn[d->n++] = &blk[k];
			if (!t)
				continue;
			if (d->n_targets == cap_t) {
				cap_t = cap_t ? cap_t * 2 : 256;
				if (!(p = realloc(d->targets, cap_t * sizeof(*d->targets))))
					goto fail;
				d->targets = p;
			}
			d->targets[d->n_targets++] = t;
		}
		off = blk[got - 1].address + blk[got - 1].size - vaddr;
		continue;
fail_blk:
		cs_free(blk, got);
		goto fail;
	}
	if (d->n_targets) /* qsort(NULL, 0) is undefined */
		qsort(d->targets, d->n_targets, sizeof(*d->targets), cmp_u64);
	return 0;
fail:
	decoded_free(d);
	return err;
}

static bool is_target(const struct decoded *d, uint64_t addr)
{
	return d->n_targets && bsearch(&addr, d->targets, d->n_targets, sizeof(addr), cmp_u64) != NULL;
}

static ssize_t index_at(const struct decoded *d, uint64_t addr)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->insn[mid]->address == addr)
			return mid;
		if (d->insn[mid]->address < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Whether instruction i writes register family `preg` (any width). */
static bool writes_reg(const struct decoded *d, const cs_insn *i, int preg)
{
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0;

	if (i->id == X86_INS_CALL)
		return true; /* conservatively: a callee may clobber it */
	if (cs_regs_access(d->h, i, rd, &nrd, wr, &nwr))
		return true;
	for (uint8_t k = 0; k < nwr; k++)
		if (x86_preg(wr[k]) == preg)
			return true;
	return false;
}

/* Whether instruction i stores to memory [rsp + disp, rsp + disp + 4). */
static bool writes_stack_slot(const cs_insn *i, int32_t disp)
{
	const cs_x86 *x = &i->detail->x86;

	for (uint8_t k = 0; k < x->op_count; k++) {
		const cs_x86_op *o = &x->operands[k];

		if (o->type != X86_OP_MEM || !(o->access & CS_AC_WRITE))
			continue;
		if (o->mem.base != X86_REG_RSP || o->mem.index != X86_REG_INVALID)
			return true; /* unknown address: assume it may alias */
		if (o->mem.disp < (int64_t)disp + 4 && o->mem.disp + o->size > (int64_t)disp)
			return true;
	}
	return false;
}

static bool is_barrier_call(const cs_insn *i, pi_is_barrier_fn is_barrier, void *ctx)
{
	const cs_x86 *x = &i->detail->x86;
	uint64_t t;

	if (i->id != X86_INS_CALL || x->op_count != 1)
		return false;
	if (x->operands[0].type == X86_OP_IMM)
		t = x->operands[0].imm;
	else if (x->operands[0].type == X86_OP_MEM && x->operands[0].mem.base == X86_REG_RIP &&
		 x->operands[0].mem.index == X86_REG_INVALID)
		t = i->address + i->size + x->operands[0].mem.disp;
	else
		return false;
	return is_barrier(ctx, t);
}

/* The guard of the barrier call at index c: `cmp X, n_nodes(R)` + a jump
 * over the call when n_nodes <= X. Returns the index of the cmp or -1. */
static ssize_t find_guard(const struct decoded *d, size_t c, uint32_t n_nodes_off, int *preg)
{
	const cs_insn *call = d->insn[c];
	uint64_t after = call->address + call->size;

	for (size_t back = 1; back <= 16 && back <= c; back++) {
		const cs_insn *i = d->insn[c - back];
		const cs_x86 *x = &i->detail->x86;
		const cs_x86_op *m, *r;
		const cs_insn *j;

		if (ends_flow(i))
			return -1;
		if (i->id != X86_INS_CMP || x->op_count != 2)
			continue;
		/* Intel order: cmp [R+off], X (jle skips) or cmp X, [R+off] (jge skips). */
		m = &x->operands[0];
		r = &x->operands[1];
		if (m->type == X86_OP_REG)
			m = &x->operands[1], r = &x->operands[0];
		if (m->type != X86_OP_MEM || r->type != X86_OP_REG || r->size != 4 ||
		    m->mem.disp != n_nodes_off || m->mem.index != X86_REG_INVALID ||
		    m->mem.base == X86_REG_RIP || m->mem.base == X86_REG_RSP || x86_preg(r->reg) < 0)
			continue; /* another test (ggml_barrier's n_threads == 1) */
		j = d->insn[c - back + 1];
		if (j->id != (m == &x->operands[0] ? X86_INS_JLE : X86_INS_JGE) ||
		    jump_target(j) <= call->address || is_target(d, j->address))
			return -1;
		/* Between the jump and the call: no other way in, X unchanged, and
		 * conditional jumps only over the call (ggml_barrier's n_threads == 1). */
		for (size_t k = c - back + 2; k <= c; k++) {
			const cs_insn *b = d->insn[k];

			if (is_target(d, b->address))
				return -1;
			if (k == c)
				break;
			if (is_cond_jump(b) ? jump_target(b) != after : ends_flow(b))
				return -1;
			if (writes_reg(d, b, x86_preg(r->reg)))
				return -1;
		}
		*preg = x86_preg(r->reg);
		return c - back;
	}
	return -1;
}

/* Where register `preg` compared at index `cmp` was loaded from the stack:
 * `mov disp(%rsp), X` on the only path to the call at index c. */
static bool stack_source(const struct decoded *d, size_t cmp, size_t c, int preg, int32_t *disp)
{
	for (size_t k = cmp; k-- > 0 && cmp - k <= 16;) {
		const cs_insn *i = d->insn[k];
		const cs_x86 *x = &i->detail->x86;

		if (ends_flow(i) || is_jump(i))
			return false;
		if (writes_reg(d, i, preg)) {
			if (i->id != X86_INS_MOV || x->op_count != 2 || x->operands[1].type != X86_OP_MEM ||
			    x->operands[0].type != X86_OP_REG || x->operands[0].size != 4 ||
			    x->operands[1].mem.base != X86_REG_RSP || x->operands[1].mem.index != X86_REG_INVALID)
				return false;
			*disp = (int32_t)x->operands[1].mem.disp;
			for (size_t m = k + 1; m < c; m++)
				if (writes_stack_slot(d->insn[m], *disp) || d->insn[m]->id == X86_INS_CALL)
					return false;
			return true;
		}
		if (is_target(d, i->address))
			return false; /* another path joins before the load */
	}
	return false;
}

static int push_site(struct pi_loop_barrier **out, size_t *n, size_t *cap, struct pi_loop_barrier s)
{
	for (size_t i = 0; i < *n; i++)
		if ((*out)[i].vaddr == s.vaddr)
			return (*out)[i].final == s.final ? 0 : -EINVAL;
	if (*n == *cap) {
		void *p = realloc(*out, (*cap = *cap ? *cap * 2 : 8) * sizeof(**out));

		if (!p)
			return -ENOMEM;
		*out = p;
	}
	(*out)[(*n)++] = s;
	return 0;
}

/* The final barrier: the first barrier call from `at` on, straight-line
 * except for jumps over that call. Returns its index or -1. */
static ssize_t find_final(const struct decoded *d, uint64_t at, pi_is_barrier_fn is_barrier, void *ctx)
{
	ssize_t s = index_at(d, at);

	if (s < 0)
		return -1;
	for (size_t k = s; k < d->n && k < (size_t)s + 12; k++) {
		const cs_insn *i = d->insn[k];

		if (is_barrier_call(i, is_barrier, ctx)) {
			for (size_t m = s; m < k; m++)
				if (is_cond_jump(d->insn[m]) &&
				    (jump_target(d->insn[m]) <= i->address ||
				     jump_target(d->insn[m]) > i->address + i->size))
					return -1;
			return k;
		}
		if (ends_flow(i))
			return -1;
	}
	return -1;
}

int pi_code_scan__loop_barriers_code(const uint8_t *code, size_t size, uint64_t vaddr,
				     uint32_t n_nodes_off, pi_is_barrier_fn is_barrier, void *ctx,
				     struct pi_loop_barrier **out, size_t *n)
{
	struct decoded d;
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = decode_x86(code, size, vaddr, &d)))
		return err;
	for (size_t c = 0; c < d.n && !err; c++) {
		struct pi_loop_barrier site = { .vaddr = d.insn[c]->address };
		ssize_t cmp, fin;
		int preg;

		if (!is_barrier_call(d.insn[c], is_barrier, ctx) ||
		    (cmp = find_guard(&d, c, n_nodes_off, &preg)) < 0)
			continue;
		fin = find_final(&d, jump_target(d.insn[cmp + 1]), is_barrier, ctx);
		if (fin < 0)
			continue;
		if (stack_source(&d, cmp, c, preg, &site.disp)) {
			site.loc = PI_COUNTER_STACK;
		} else {
			site.loc = PI_COUNTER_REG;
			site.reg = preg;
		}
		err = push_site(out, n, &cap, site);
		if (!err)
			err = push_site(out, n, &cap,
					(struct pi_loop_barrier){ .vaddr = d.insn[fin]->address, .final = true });
	}
	decoded_free(&d);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

int pi_code_scan__arg1_stack_code(const uint8_t *code, size_t size, uint64_t vaddr,
				  uint64_t call_vaddr, int32_t *disp)
{
	struct decoded d;
	ssize_t c;
	int preg = PI_PREG_RDI, err;

	if ((err = decode_x86(code, size, vaddr, &d)))
		return err;
	err = -ENOENT;
	if ((c = index_at(&d, call_vaddr)) < 0 || d.insn[c]->id != X86_INS_CALL)
		goto out;
	if (is_target(&d, call_vaddr))
		goto out;
	for (size_t k = c; k-- > 0 && c - k <= 16;) {
		const cs_insn *i = d.insn[k];
		const cs_x86 *x = &i->detail->x86;

		if (ends_flow(i) || is_jump(i))
			break;
		if (writes_reg(&d, i, preg)) {
			if (x->op_count != 2 || x->operands[0].type != X86_OP_REG || x->operands[0].size != 8)
				break;
			if (i->id == X86_INS_MOV && x->operands[1].type == X86_OP_REG &&
			    x->operands[1].size == 8 && x86_preg(x->operands[1].reg) >= 0) {
				preg = x86_preg(x->operands[1].reg); /* a copy: follow its source */
			} else if (i->id == X86_INS_LEA && x->operands[1].type == X86_OP_MEM &&
				   x->operands[1].mem.base == X86_REG_RSP &&
				   x->operands[1].mem.index == X86_REG_INVALID) {
				*disp = (int32_t)x->operands[1].mem.disp;
				err = 0;
				break;
			} else {
				break;
			}
		}
		if (is_target(&d, i->address))
			break;
	}
out:
	decoded_free(&d);
	return err;
}

struct elf_barrier_ctx {
	const struct pi_elf_file *f;
	bool (*is_barrier_name)(const char *name);
};

static bool elf_is_barrier(void *ctx, uint64_t target)
{
	struct elf_barrier_ctx *b = ctx;
	const char *name = pi_elf_file__name_at(b->f, target);

	return name && b->is_barrier_name(name);
}

static int read_fn(const struct pi_elf_file *f, const struct pi_elf_sym *fn, uint8_t **code)
{
	int err;

	*code = NULL;
	if (f->machine != EM_X86_64)
		return -ENOTSUP;
	if (!fn->size || fn->size > PI_MAX_FUNC_BYTES)
		return -ERANGE;
	if (!(*code = malloc(fn->size)))
		return -ENOMEM;
	if ((err = pi_elf_file__read_code(f, fn->vaddr, *code, fn->size))) {
		free(*code);
		*code = NULL;
	}
	return err;
}

int pi_code_scan__loop_barriers(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
				uint32_t n_nodes_off, bool (*is_barrier_name)(const char *name),
				struct pi_loop_barrier **out, size_t *n)
{
	struct elf_barrier_ctx ctx = { f, is_barrier_name };
	uint8_t *code;
	int err;

	*out = NULL;
	*n = 0;
	if ((err = read_fn(f, fn, &code)))
		return err;
	err = pi_code_scan__loop_barriers_code(code, fn->size, fn->vaddr, n_nodes_off, elf_is_barrier,
					       &ctx, out, n);
	free(code);
	return err;
}

int pi_code_scan__arg1_stack(const struct pi_elf_file *f, const struct pi_elf_sym *fn,
			     uint64_t call_vaddr, int32_t *disp)
{
	uint8_t *code;
	int err;

	if ((err = read_fn(f, fn, &code)))
		return err;
	err = pi_code_scan__arg1_stack_code(code, fn->size, fn->vaddr, call_vaddr, disp);
	free(code);
	return err;
}
