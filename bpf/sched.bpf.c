// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Scheduler events of the target processes: sched_switch and sched_waking,
 * kept only when a thread of a target (by tgid, map `sched_targets`, filled
 * by the collector) is involved:
 *   sched_switch   prev or next is a target thread: it stops or starts
 *                  running on this CPU; prev_state 0 means it was preempted
 *                  and is still runnable, and next is who took the CPU
 *   sched_waking   a target thread is woken: runnable from here until its
 *                  next switch-in
 *   sched_wakeup_new  a new target thread is runnable for the first time
 *                  (written as a wakeup: the same meaning to the reader)
 * Loaded only with `profinferd record --sched` (collector-c/src/sched_tracer.c),
 * with its own ring buffer. Records are submitted without waking the reader
 * unless a quarter of the ring is waiting (as llama.bpf.c does): a context
 * switch must not cost a wake-up, which would itself switch.
 *
 * tp_btf programs, raw_tp twins for kernels whose tracepoints cannot be
 * attached by BTF; task fields are read with CO-RE either way. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sched_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 wakeup_bytes = 256 << 10;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* resized by the collector before load */
} sched_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PI_SCHED_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} sched_lost SEC(".maps");

/* tgid -> 1 for every target process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} sched_targets SEC(".maps");

/* Kernels before 5.14 call task_struct.__state `state` (a long). */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __s64 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline bool is_target(__u32 tgid)
{
	return tgid && bpf_map_lookup_elem(&sched_targets, &tgid);
}

static __always_inline void count_lost(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&sched_lost, &kind);

	if (n)
		(*n)++;
}

static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&sched_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
										    : BPF_RB_NO_WAKEUP;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_tgid = BPF_CORE_READ(prev, tgid), next_tgid = BPF_CORE_READ(next, tgid);
	struct pi_sched_event *e;

	if (!is_target(prev_tgid) && !is_target(next_tgid))
		return 0;
	e = bpf_ringbuf_reserve(&sched_events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_SCHED_SWITCH);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = PI_SCHED_SWITCH;
	e->cpu = bpf_get_smp_processor_id();
	e->a_tid = BPF_CORE_READ(prev, pid);
	e->a_tgid = prev_tgid;
	e->b_tid = BPF_CORE_READ(next, pid);
	e->b_tgid = next_tgid;
	/* A preempted task may have set a sleeping state it had not acted on
	 * yet: it is runnable all the same (the kernel reports it as R+). */
	e->prev_state = preempt ? 0 : task_state(prev);
	e->b_prio = BPF_CORE_READ(next, prio);
	e->target_cpu = 0;
	BPF_CORE_READ_STR_INTO(&e->a_comm, prev, comm);
	BPF_CORE_READ_STR_INTO(&e->b_comm, next, comm);
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

static __always_inline int on_waking(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct task_struct *cur;
	struct pi_sched_event *e;
	__u64 id;

	if (!is_target(tgid))
		return 0;
	e = bpf_ringbuf_reserve(&sched_events, sizeof(*e), 0);
	if (!e) {
		count_lost(PI_SCHED_WAKING);
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	cur = (struct task_struct *)bpf_get_current_task();
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = PI_SCHED_WAKING;
	e->cpu = bpf_get_smp_processor_id();
	e->a_tid = (__u32)id;
	e->a_tgid = id >> 32;
	e->b_tid = BPF_CORE_READ(p, pid);
	e->b_tgid = tgid;
	e->prev_state = 0;
	e->b_prio = BPF_CORE_READ(p, prio);
	e->target_cpu = bpf_core_field_exists(p->wake_cpu) ? BPF_CORE_READ(p, wake_cpu) : 0; /* !SMP: 0 */
	BPF_CORE_READ_STR_INTO(&e->a_comm, cur, comm);
	BPF_CORE_READ_STR_INTO(&e->b_comm, p, comm);
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(sched_waking_btf, struct task_struct *p)
{
	return on_waking(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
	return on_waking(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(sched_waking_raw, struct task_struct *p)
{
	return on_waking(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	return on_waking(p);
}
