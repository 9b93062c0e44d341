/* sched_encode.h: one CPU's scheduler events as a TracePacket carrying a
 * SchedSwitchBatch or a SchedWakeupBatch (packed columns, timestamps as
 * deltas from base_ts_ns). Pure: no I/O, no allocation, nothing written past
 * `cap`. The host reads them back in host/src/analysis/sched.ts.
 *
 * Return 0 with *len set, or -ENOSPC (does not fit), -EINVAL (a NULL column,
 * more rows than the wire's array counts hold, or timestamps that go
 * backwards: deltas are unsigned). */
#ifndef PI_SCHED_ENCODE_H
#define PI_SCHED_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Rows per batch: nanopb's array counts are 16-bit here (see CMakeLists). */
#define PI_SCHED_BATCH_MAX 4096

struct pi_sched_switch_rows {
	uint32_t cpu;
	size_t n;
	const uint64_t *ts_ns;		/* absolute CLOCK_MONOTONIC, non-decreasing */
	const uint32_t *prev_tid;
	const int64_t *prev_state;	/* 0: preempted while runnable */
	const uint32_t *next_tid;
	const int32_t *next_prio;
	const uint32_t *next_comm_iid;	/* InternedString iid of next's comm */
};

struct pi_sched_wakeup_rows {
	uint32_t cpu;			/* where the wakeup ran */
	size_t n;
	const uint64_t *ts_ns;
	const uint32_t *tid;		/* woken */
	const uint32_t *target_cpu;
	const uint32_t *waker_tid;
};

/* `scratch` holds n uint64 values (the delta column). */
int pi_encode_sched_switch(const struct pi_sched_switch_rows *r, uint64_t *scratch, uint8_t *buf,
			   size_t cap, size_t *len);
int pi_encode_sched_wakeup(const struct pi_sched_wakeup_rows *r, uint64_t *scratch, uint8_t *buf,
			   size_t cap, size_t *len);

/* An upper bound of either encoder's output for n rows. */
size_t pi_sched_batch_max_size(size_t n);

#endif
