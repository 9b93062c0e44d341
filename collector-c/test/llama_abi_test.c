// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The token probe's argument decoding (bpf/llama_abi.h) against registers
 * recorded at a real call compiled for this architecture: a trampoline with
 * llama_decode's signature saves sp and the second argument register at its
 * first instruction, exactly what a uprobe there sees, then jumps to the
 * body. The cross build runs this under qemu-aarch64-static. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "llama_abi.h"

/* llama.h's llama_batch (56 bytes on 64-bit targets). */
struct llama_batch {
	int32_t n_tokens;
	int32_t *token;
	float *embd;
	int32_t *pos;
	int32_t *n_seq_id;
	int32_t **seq_id;
	int8_t *logits;
};

struct regs_at_entry {
	uint64_t sp;
	uint64_t arg2;
};

struct regs_at_entry recorded;
static struct llama_batch seen_by_callee;
static struct llama_batch decoded; /* read where llama_abi.h says, during the call */

int32_t fake_llama_decode(void *ctx, struct llama_batch batch);

__attribute__((used, noinline)) int32_t fake_llama_decode_body(void *ctx, struct llama_batch batch)
{
	seen_by_callee = batch;
	/* As the probe does, while the call is in progress. */
	memcpy(&decoded, (const void *)(uintptr_t)pi_llama_batch_addr(recorded.sp, recorded.arg2),
	       sizeof(decoded));
	return ctx ? 0 : -1;
}

#if defined(__x86_64__)
__asm__(".text\n.globl fake_llama_decode\n.type fake_llama_decode,@function\n"
	"fake_llama_decode:\n"
	"	movq %rsp, recorded(%rip)\n"
	"	movq %rsi, recorded+8(%rip)\n"
	"	jmp fake_llama_decode_body\n");
#elif defined(__aarch64__)
__asm__(".text\n.globl fake_llama_decode\n.type fake_llama_decode,%function\n"
	"fake_llama_decode:\n"
	"	adrp x9, recorded\n"
	"	add x9, x9, :lo12:recorded\n"
	"	mov x10, sp\n"
	"	str x10, [x9]\n"
	"	str x1, [x9, #8]\n"
	"	b fake_llama_decode_body\n");
#endif

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", what);
		failures++;
	}
}

int main(void)
{
	int32_t tokens[3] = { 1, 2, 3 };
	const int32_t sizes[] = { 1, 7, 512, 65536 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct llama_batch b = { .n_tokens = sizes[i], .token = tokens };

		memset(&recorded, 0, sizeof(recorded));
		check(fake_llama_decode(&b, b) == 0, "the call returned");
		check(seen_by_callee.n_tokens == sizes[i], "the callee saw the batch");
		check(decoded.n_tokens == sizes[i], "n_tokens decoded from the registers at entry");
		check(decoded.token == tokens, "the rest of the batch is where the decoding says");
	}
	printf("%s: llama_decode batch decoding %s\n",
#if defined(PI_ABI_X86_64)
	       "x86-64",
#else
	       "aarch64",
#endif
	       failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
