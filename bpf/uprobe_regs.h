/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The register file a uprobe program sees, as the kernel's user-space ABI
 * defines it (uapi asm/ptrace.h). Uprobe programs need nothing else from the
 * kernel, so they carry no CO-RE relocations: they load without kernel BTF
 * (OpenHarmony kernels may have none) and without parsing vmlinux BTF. */
#ifndef PI_UPROBE_REGS_H
#define PI_UPROBE_REGS_H

#include <linux/types.h>
#include <stdbool.h>

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
struct pt_regs; /* the kernel's starts with struct user_pt_regs */
#else
#error "uprobe_regs.h: add the register layout of this architecture"
#endif

#endif
