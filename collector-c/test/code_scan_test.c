// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* code_scan: the one-probe analysis of GGML's compute loop on small x86-64
 * sequences shaped like the two real builds (node-llama-cpp's prebuilt
 * libggml-cpu-*.so and the static OpenMP llama.cpp), and the shapes it must
 * refuse. Each sequence is assembled at 0x1000; the barrier is at 0x5000,
 * another callee at 0x6000. The bytes sit under the lines they encode. */
#include "code_scan.h"

#include <errno.h>
#include "test_util.h"

#define BASE 0x1000
#define BARRIER 0x5000

static bool is_barrier(void *ctx, uint64_t target)
{
	(void)ctx;
	return target == BARRIER;
}

static size_t scan(const uint8_t *code, size_t size, struct pi_loop_barrier **out)
{
	size_t n = 0;
	int err = pi_code_scan__loop_barriers_code(code, size, BASE, 4, is_barrier, NULL, out, &n);

	CHECK(err == 0);
	return n;
}

static const struct pi_loop_barrier *site(const struct pi_loop_barrier *s, size_t n, uint64_t at)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].vaddr == at)
			return &s[i];
	return NULL;
}

/* node-llama-cpp shape: node_n + 1 reloaded from its stack slot before the
 * guard; the guard jumps straight onto the final barrier call. */
static void test_stack_slot(void)
{
	static const uint8_t code[] = {
		/* 1000: mov 0x68(%rsp),%edx */ 0x8b, 0x54, 0x24, 0x68,
		/* 1004: mov 0x210(%rax),%rdi */ 0x48, 0x8b, 0xb8, 0x10, 0x02, 0x00, 0x00,
		/* 100b: mov 0x58(%rsp),%rax */ 0x48, 0x8b, 0x44, 0x24, 0x58,
		/* 1010: cmp %edx,0x4(%rax) */ 0x39, 0x50, 0x04,
		/* 1013: jle 1020 */ 0x7e, 0x0b,
		/* 1015: call barrier */ 0xe8, 0xe6, 0x3f, 0x00, 0x00,
		/* 101a: mov 0x68(%rsp),%ebp */ 0x8b, 0x6c, 0x24, 0x68,
		/* 101e: jmp 1000 */ 0xeb, 0xe0,
		/* 1020: call barrier (final) */ 0xe8, 0xdb, 0x3f, 0x00, 0x00,
		/* 1025: ret */ 0xc3,
	};
	struct pi_loop_barrier *s;
	size_t n = scan(code, sizeof(code), &s);
	const struct pi_loop_barrier *in = site(s, n, 0x1015), *fin = site(s, n, 0x1020);

	CHECK(n == 2);
	CHECK(in && !in->final && in->loc == PI_COUNTER_STACK && in->disp == 0x68);
	CHECK(fin && fin->final && fin->loc == PI_COUNTER_NONE);
	free(s);
}

/* Static OpenMP shape: node_n + 1 in a callee-saved register; the inlined
 * ggml_barrier skips the call when n_threads == 1; the guard lands a few
 * instructions before the final call. */
static void test_register_and_thread_check(void)
{
	static const uint8_t code[] = {
		/* 1000: lea 0x1(%r9),%r12d */ 0x45, 0x8d, 0x61, 0x01,
		/* 1004: mov 0x48(%rsp),%rax */ 0x48, 0x8b, 0x44, 0x24, 0x48,
		/* 1009: cmp %r12d,0x4(%rax) */ 0x44, 0x39, 0x60, 0x04,
		/* 100d: jle 1022 */ 0x7e, 0x13,
		/* 100f: mov 0x68(%rbx),%eax */ 0x8b, 0x43, 0x68,
		/* 1012: cmp $0x1,%ax */ 0x66, 0x83, 0xf8, 0x01,
		/* 1016: je 101d */ 0x74, 0x05,
		/* 1018: call barrier */ 0xe8, 0xe3, 0x3f, 0x00, 0x00,
		/* 101d: mov %r12d,%r9d */ 0x45, 0x89, 0xe1,
		/* 1020: jmp 1000 */ 0xeb, 0xde,
		/* 1022: mov 0x68(%rbx),%eax */ 0x8b, 0x43, 0x68,
		/* 1025: cmp $0x1,%ax */ 0x66, 0x83, 0xf8, 0x01,
		/* 1029: je 1030 */ 0x74, 0x05,
		/* 102b: call barrier (final) */ 0xe8, 0xd0, 0x3f, 0x00, 0x00,
		/* 1030: ret */ 0xc3,
	};
	struct pi_loop_barrier *s;
	size_t n = scan(code, sizeof(code), &s);
	const struct pi_loop_barrier *in = site(s, n, 0x1018), *fin = site(s, n, 0x102b);

	CHECK(n == 2);
	CHECK(in && !in->final && in->loc == PI_COUNTER_REG && in->reg == PI_PREG_R12);
	CHECK(fin && fin->final);
	free(s);
}

/* The slot is overwritten after the load: the register compared is used
 * instead. A barrier call right after another call has no guard: left out. */
static void test_clobbered_slot_and_unguarded(void)
{
	static const uint8_t code[] = {
		/* 1000: mov 0x68(%rsp),%edx */ 0x8b, 0x54, 0x24, 0x68,
		/* 1004: movl $0x0,0x68(%rsp) */ 0xc7, 0x44, 0x24, 0x68, 0x00, 0x00, 0x00, 0x00,
		/* 100c: mov 0x58(%rsp),%rax */ 0x48, 0x8b, 0x44, 0x24, 0x58,
		/* 1011: cmp %edx,0x4(%rax) */ 0x39, 0x50, 0x04,
		/* 1014: jle 1020 */ 0x7e, 0x0a,
		/* 1016: call barrier */ 0xe8, 0xe5, 0x3f, 0x00, 0x00,
		/* 101b: call barrier (no guard of its own) */ 0xe8, 0xe0, 0x3f, 0x00, 0x00,
		/* 1020: call barrier (final) */ 0xe8, 0xdb, 0x3f, 0x00, 0x00,
		/* 1025: ret */ 0xc3,
	};
	struct pi_loop_barrier *s;
	size_t n = scan(code, sizeof(code), &s);
	const struct pi_loop_barrier *in = site(s, n, 0x1016);

	CHECK(n == 2);
	CHECK(in && in->loc == PI_COUNTER_REG && in->reg == PI_PREG_RDX);
	CHECK(!site(s, n, 0x101b));
	CHECK(site(s, n, 0x1020) && site(s, n, 0x1020)->final);
	free(s);
}

/* The compared register is written between the guard and the call: that
 * site is refused; a second, clean site sharing the final one is kept, its
 * register taken as is because a jump target sits before its compare. */
static void test_written_register(void)
{
	static const uint8_t code[] = {
		/* 1000: mov 0x58(%rsp),%rax */ 0x48, 0x8b, 0x44, 0x24, 0x58,
		/* 1005: cmp %edx,0x4(%rax) */ 0x39, 0x50, 0x04,
		/* 1008: jle 1022 */ 0x7e, 0x18,
		/* 100a: xor %edx,%edx */ 0x31, 0xd2,
		/* 100c: call barrier */ 0xe8, 0xef, 0x3f, 0x00, 0x00,
		/* 1011: mov 0x58(%rsp),%rax (jump target) */ 0x48, 0x8b, 0x44, 0x24, 0x58,
		/* 1016: cmp %ecx,0x4(%rax) */ 0x39, 0x48, 0x04,
		/* 1019: jle 1022 */ 0x7e, 0x07,
		/* 101b: call barrier */ 0xe8, 0xe0, 0x3f, 0x00, 0x00,
		/* 1020: jmp 1011 */ 0xeb, 0xef,
		/* 1022: call barrier (final) */ 0xe8, 0xd9, 0x3f, 0x00, 0x00,
		/* 1027: ret */ 0xc3,
	};
	struct pi_loop_barrier *s;
	size_t n = scan(code, sizeof(code), &s);

	CHECK(n == 2);
	CHECK(!site(s, n, 0x100c));
	CHECK(site(s, n, 0x101b) && site(s, n, 0x101b)->loc == PI_COUNTER_REG &&
	      site(s, n, 0x101b)->reg == PI_PREG_RCX);
	CHECK(site(s, n, 0x1022) && site(s, n, 0x1022)->final);
	free(s);
}

/* No barrier at all, or code that does not decode: no site, no error. */
static void test_nothing(void)
{
	static const uint8_t code[] = { 0x0f, 0x0b, 0xff, 0xff, 0xc3 };
	struct pi_loop_barrier *s;

	CHECK(scan(code, sizeof(code), &s) == 0);
	free(s);
}

/* The dispatcher's params: `lea disp(%rsp)` reaching %rdi through a copy. */
static void test_arg1_stack(void)
{
	static const uint8_t code[] = {
		/* 1000: lea 0x1e0(%rsp),%rax */ 0x48, 0x8d, 0x84, 0x24, 0xe0, 0x01, 0x00, 0x00,
		/* 1008: mov 0x28(%rsp),%rsi */ 0x48, 0x8b, 0x74, 0x24, 0x28,
		/* 100d: mov %rax,%rdi */ 0x48, 0x89, 0xc7,
		/* 1010: call 6000 */ 0xe8, 0xeb, 0x4f, 0x00, 0x00,
		/* 1015: mov 0x10(%rbx),%rdi */ 0x48, 0x8b, 0x7b, 0x10,
		/* 1019: call 6000 */ 0xe8, 0xe2, 0x4f, 0x00, 0x00,
	};
	int32_t disp = 0;

	CHECK(pi_code_scan__arg1_stack_code(code, sizeof(code), BASE, 0x1010, &disp) == 0);
	CHECK(disp == 0x1e0);
	CHECK(pi_code_scan__arg1_stack_code(code, sizeof(code), BASE, 0x1019, &disp) == -ENOENT);
	CHECK(pi_code_scan__arg1_stack_code(code, sizeof(code), BASE, 0x1008, &disp) == -ENOENT);
}

int main(void)
{
	test_stack_slot();
	test_register_and_thread_check();
	test_clobbered_slot_and_unguarded();
	test_written_register();
	test_nothing();
	test_arg1_stack();
	if (test_failures)
		fprintf(stderr, "code_scan_test: %d failure(s)\n", test_failures);
	return test_failures ? 1 : 0;
}
