/* Records of bpf/sched.bpf.c, shared with collector-c/src/sched_tracer.c.
 * Kept apart from profinfer_events.h: the scheduler programs are a separate
 * object with their own ring buffer, loaded only with `record --sched`. */
#ifndef PI_SCHED_EVENTS_H
#define PI_SCHED_EVENTS_H

#ifndef PI_SCHED_COMM_LEN
#define PI_SCHED_COMM_LEN 16
#endif

enum pi_sched_kind {
	PI_SCHED_SWITCH = 1,
	PI_SCHED_WAKING = 2,
	PI_SCHED_KIND_MAX = 3,
};

/* Slots of the `sched_lost` map: records BPF could not reserve, per kind. */
#ifndef PI_SCHED_LOST_SLOTS
#define PI_SCHED_LOST_SLOTS 4
#endif

/* One sched_switch or sched_waking that involves a target thread.
 *   switch: a = prev (leaves the CPU), b = next (gets it)
 *   waking: a = the waker (current), b = the woken task */
struct pi_sched_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u32 kind;		/* enum pi_sched_kind */
	__u32 cpu;		/* where the program ran */
	__u32 a_tid, a_tgid;
	__u32 b_tid, b_tgid;
	/* switch: prev's state bits as the kernel keeps them (task_struct
	 * __state), forced to 0 when the switch is a preemption: 0 means prev
	 * is still runnable. waking: unused. */
	__s64 prev_state;
	__s32 b_prio;		/* next's prio (kernel scale: 100..139 normal) */
	__u32 target_cpu;	/* waking: the CPU the woken task last ran on */
	char a_comm[PI_SCHED_COMM_LEN];
	char b_comm[PI_SCHED_COMM_LEN];
};

#endif
