// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sched_encode.c: see sched_encode.h. Through nanopb: the batch messages'
 * repeated fields are borrowed pointers (profinfer.options), so the columns
 * are encoded in place; only the delta column is computed. */
#include "sched_encode.h"

#include <errno.h>

#include "encode.h"
#include "profinfer.pb.h"

/* ts[i] = base + sum(delta[0..i]); the first delta is 0. */
static int deltas(const uint64_t *ts, size_t n, uint64_t *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i && ts[i] < ts[i - 1])
			return -EINVAL;
		out[i] = i ? ts[i] - ts[i - 1] : 0;
	}
	return 0;
}

int pi_encode_sched_switch(const struct pi_sched_switch_rows *r, uint64_t *scratch, uint8_t *buf,
			   size_t cap, size_t *len)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_SchedSwitchBatch *b = &p.data.sched_switch;
	pb_size_t n = (pb_size_t)r->n;
	int err;

	if (r->n > PI_SCHED_BATCH_MAX || !r->n || !scratch || !r->ts_ns || !r->prev_tid ||
	    !r->prev_state || !r->next_tid || !r->next_prio || !r->next_comm_iid)
		return -EINVAL;
	if ((err = deltas(r->ts_ns, r->n, scratch)))
		return err;
	p.which_data = profinfer_v1_TracePacket_sched_switch_tag;
	b->cpu = r->cpu;
	b->base_ts_ns = r->ts_ns[0];
	b->ts_delta_ns_count = b->prev_tid_count = b->prev_state_count = n;
	b->next_tid_count = b->next_prio_count = b->next_comm_iid_count = n;
	b->ts_delta_ns = scratch;
	b->prev_tid = (uint32_t *)r->prev_tid;
	b->prev_state = (int64_t *)r->prev_state;
	b->next_tid = (uint32_t *)r->next_tid;
	b->next_prio = (int32_t *)r->next_prio;
	b->next_comm_iid = (uint32_t *)r->next_comm_iid;
	return pi_encode_packet(&p, buf, cap, len);
}

int pi_encode_sched_wakeup(const struct pi_sched_wakeup_rows *r, uint64_t *scratch, uint8_t *buf,
			   size_t cap, size_t *len)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_SchedWakeupBatch *b = &p.data.sched_wakeup;
	pb_size_t n = (pb_size_t)r->n;
	int err;

	if (r->n > PI_SCHED_BATCH_MAX || !r->n || !scratch || !r->ts_ns || !r->tid || !r->target_cpu ||
	    !r->waker_tid)
		return -EINVAL;
	if ((err = deltas(r->ts_ns, r->n, scratch)))
		return err;
	p.which_data = profinfer_v1_TracePacket_sched_wakeup_tag;
	b->cpu = r->cpu;
	b->base_ts_ns = r->ts_ns[0];
	b->ts_delta_ns_count = b->tid_count = b->target_cpu_count = b->waker_tid_count = n;
	b->ts_delta_ns = scratch;
	b->tid = (uint32_t *)r->tid;
	b->target_cpu = (uint32_t *)r->target_cpu;
	b->waker_tid = (uint32_t *)r->waker_tid;
	return pi_encode_packet(&p, buf, cap, len);
}

size_t pi_sched_batch_max_size(size_t n)
{
	/* Packet and batch headers, then six packed columns of at most 10-byte
	 * varints (prev_state and next_prio are int64/int32: negatives take 10). */
	return 2 * (1 + 10) + 2 * (1 + 10) + 6 * (1 + 10) + n * 6 * 10;
}
