// SPDX-License-Identifier: GPL-2.0
/*
 * The exit status of the processes being profiled, for a collector that is
 * not their parent and so cannot wait() for them (profinferd serve, record
 * --pid): at sched_process_exit of a watched thread-group leader, its
 * task->exit_code, which is what waitpid() would report (code << 8, or the
 * signal, | 0x80 with a core dump). do_exit() sets it before the tracepoint,
 * and the pidfd that tells the collector the process is gone becomes
 * readable only after (exit_notify), so the status is there when it looks.
 *
 * tp_btf where the kernel has BTF; raw_tp otherwise, with CO-RE resolved
 * against a BTF file the user gives (--btf), as the scheduler programs do.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "proc_exit_events.h"

/* tgid -> wait status; PI_EXIT_PENDING while the process runs. Keys are
 * added by the collector, so no other process is ever recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PI_EXIT_MAX_WATCHED);
	__type(key, __u32);
	__type(value, __s32);
} exit_status SEC(".maps");

static __always_inline int record_exit(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid), tgid = BPF_CORE_READ(p, tgid);
	__s32 *status;

	if (pid != tgid)
		return 0;
	status = bpf_map_lookup_elem(&exit_status, &tgid);
	if (status)
		*status = BPF_CORE_READ(p, exit_code);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit_btf, struct task_struct *p)
{
	return record_exit(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(proc_exit_raw, struct task_struct *p)
{
	return record_exit(p);
}

char LICENSE[] SEC("license") = "GPL";
