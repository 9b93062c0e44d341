/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where llama.cpp's arguments are at a probe, per architecture. Shared by
 * the BPF programs and the collector's unit tests, which check it against
 * registers recorded at a real call on each architecture
 * (collector-c/test/llama_abi_test.c, run under qemu for aarch64). */
#ifndef PI_LLAMA_ABI_H
#define PI_LLAMA_ABI_H

#if defined(__TARGET_ARCH_x86) || (!defined(__bpf__) && defined(__x86_64__))
#define PI_ABI_X86_64 1
#elif defined(__TARGET_ARCH_arm64) || (!defined(__bpf__) && defined(__aarch64__))
#define PI_ABI_AARCH64 1
#else
#error "llama_abi.h: add this architecture's calling convention"
#endif

/* llama_decode(struct llama_context *ctx, struct llama_batch batch), at its
 * first instruction: the address of the by-value batch (56 bytes, n_tokens
 * first). x86-64 SysV passes a struct over 16 bytes in memory, just above
 * the return address; AAPCS64 copies it and passes a pointer in x1.
 * sp: the stack pointer; arg2: the second integer argument register. */
static inline unsigned long long pi_llama_batch_addr(unsigned long long sp, unsigned long long arg2)
{
#if defined(PI_ABI_X86_64)
	return sp + 8;
#else
	return arg2;
#endif
}

#endif
