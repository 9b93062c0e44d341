/* sched_encode_test.c: sched_encode.c round trips. Batches of random rows
 * are encoded, decoded back with nanopb and compared column by column; a
 * hand-checked vector pins the bytes; bad input (time going backwards, too
 * many rows, missing columns, a small buffer) is refused. */
#include <errno.h>

#include <pb_common.h>
#include <pb_decode.h>

#include "profinfer.pb.h"
#include "sched_encode.h"
#include "test_util.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static bool decode(const uint8_t *buf, size_t len, profinfer_v1_TracePacket *p)
{
	pb_istream_t s = pb_istream_from_buffer(buf, len);

	memset(p, 0, sizeof(*p));
	if (!pb_decode(&s, profinfer_v1_TracePacket_fields, p)) {
		fprintf(stderr, "decode: %s\n", PB_GET_ERROR(&s));
		return false;
	}
	return true;
}

static void test_switch_round_trip(size_t n)
{
	uint64_t ts[PI_SCHED_BATCH_MAX], scratch[PI_SCHED_BATCH_MAX], t = 1ull << 40;
	uint32_t prev[PI_SCHED_BATCH_MAX], next[PI_SCHED_BATCH_MAX], iid[PI_SCHED_BATCH_MAX];
	int64_t state[PI_SCHED_BATCH_MAX];
	int32_t prio[PI_SCHED_BATCH_MAX];
	size_t cap = pi_sched_batch_max_size(n), len = 0;
	uint8_t *buf = malloc(cap);
	profinfer_v1_TracePacket p;
	const profinfer_v1_SchedSwitchBatch *b = &p.data.sched_switch;
	struct pi_sched_switch_rows rows = { .cpu = 3, .n = n, .ts_ns = ts, .prev_tid = prev,
					     .prev_state = state, .next_tid = next, .next_prio = prio,
					     .next_comm_iid = iid };
	bool same = true;

	for (size_t i = 0; i < n; i++) {
		t += rng() % 3 ? rng() % 100000 : 0; /* equal stamps happen */
		ts[i] = t;
		prev[i] = (uint32_t)rng();
		next[i] = (uint32_t)rng() % 5 ? (uint32_t)rng() % 70000 : 0; /* 0: the idle task */
		state[i] = rng() % 2 ? 0 : (int64_t)(rng() % 0x2000);
		prio[i] = (int32_t)(rng() % 140) - (rng() % 8 ? 0 : 200); /* a few negatives */
		iid[i] = (1u << 30) + (uint32_t)(rng() % 50);
	}
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, cap, &len) == 0);
	CHECK(len <= cap);
	CHECK(decode(buf, len, &p));
	CHECK(p.which_data == profinfer_v1_TracePacket_sched_switch_tag);
	CHECK(b->cpu == 3 && b->base_ts_ns == ts[0]);
	CHECK(b->ts_delta_ns_count == n && b->prev_tid_count == n && b->prev_state_count == n &&
	      b->next_tid_count == n && b->next_prio_count == n && b->next_comm_iid_count == n);
	for (size_t i = 0, acc = 0; same && i < n && b->ts_delta_ns_count == n; i++) {
		acc += b->ts_delta_ns[i];
		same = b->base_ts_ns + acc == ts[i] && b->prev_tid[i] == prev[i] &&
		       b->prev_state[i] == state[i] && b->next_tid[i] == next[i] &&
		       b->next_prio[i] == prio[i] && b->next_comm_iid[i] == iid[i];
		if (!same)
			fprintf(stderr, "row %zu of %zu differs\n", i, n);
	}
	CHECK(same);
	CHECK(b->ts_delta_ns_count == 0 || b->ts_delta_ns[0] == 0);
	pb_release(profinfer_v1_TracePacket_fields, &p);
	/* One byte short: refused, not cut. */
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, len - 1, &len) == -ENOSPC);
	free(buf);
}

static void test_wakeup_round_trip(size_t n)
{
	uint64_t ts[PI_SCHED_BATCH_MAX], scratch[PI_SCHED_BATCH_MAX], t = 5;
	uint32_t tid[PI_SCHED_BATCH_MAX], cpu[PI_SCHED_BATCH_MAX], waker[PI_SCHED_BATCH_MAX];
	size_t cap = pi_sched_batch_max_size(n), len = 0;
	uint8_t *buf = malloc(cap);
	profinfer_v1_TracePacket p;
	const profinfer_v1_SchedWakeupBatch *b = &p.data.sched_wakeup;
	struct pi_sched_wakeup_rows rows = { .cpu = 0, .n = n, .ts_ns = ts, .tid = tid,
					     .target_cpu = cpu, .waker_tid = waker };
	bool same = true;

	for (size_t i = 0; i < n; i++) {
		t += rng() % 1000000;
		ts[i] = t;
		tid[i] = (uint32_t)rng() % 100000 + 1;
		cpu[i] = (uint32_t)rng() % 256;
		waker[i] = (uint32_t)rng() % 100000;
	}
	CHECK(pi_encode_sched_wakeup(&rows, scratch, buf, cap, &len) == 0);
	CHECK(decode(buf, len, &p));
	CHECK(p.which_data == profinfer_v1_TracePacket_sched_wakeup_tag);
	CHECK(b->cpu == 0 && b->base_ts_ns == ts[0]);
	CHECK(b->ts_delta_ns_count == n && b->tid_count == n && b->target_cpu_count == n &&
	      b->waker_tid_count == n);
	for (size_t i = 0, acc = 0; same && i < n && b->tid_count == n; i++) {
		acc += b->ts_delta_ns[i];
		same = b->base_ts_ns + acc == ts[i] && b->tid[i] == tid[i] && b->target_cpu[i] == cpu[i] &&
		       b->waker_tid[i] == waker[i];
	}
	CHECK(same);
	pb_release(profinfer_v1_TracePacket_fields, &p);
	free(buf);
}

static void test_hand_checked(void)
{
	/* cpu 1, two switches at 1000 and 1300 ns:
	 * tid 7 (preempted, state 0) -> tid 9 prio 120 "iid 2", then 9 (state 1) -> 0 */
	static const uint8_t want[] = {
		0x22, 0x1e,			/* TracePacket.sched_switch (4), 30 bytes */
		0x08, 0x01,			/* cpu 1 */
		0x10, 0xe8, 0x07,		/* base_ts_ns 1000 */
		0x1a, 0x03, 0x00, 0xac, 0x02,	/* ts_delta_ns [0, 300] */
		0x22, 0x02, 0x07, 0x09,		/* prev_tid [7, 9] */
		0x2a, 0x02, 0x00, 0x01,		/* prev_state [0, 1] */
		0x32, 0x02, 0x09, 0x00,		/* next_tid [9, 0] */
		0x3a, 0x02, 0x78, 0x78,		/* next_prio [120, 120] */
		0x42, 0x02, 0x02, 0x01,		/* next_comm_iid [2, 1] */
	};
	const uint64_t ts[] = { 1000, 1300 };
	const uint32_t prev[] = { 7, 9 }, next[] = { 9, 0 }, iid[] = { 2, 1 };
	const int64_t state[] = { 0, 1 };
	const int32_t prio[] = { 120, 120 };
	struct pi_sched_switch_rows rows = { .cpu = 1, .n = 2, .ts_ns = ts, .prev_tid = prev,
					     .prev_state = state, .next_tid = next, .next_prio = prio,
					     .next_comm_iid = iid };
	uint64_t scratch[2];
	uint8_t buf[256];
	size_t len = 0;

	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == 0);
	CHECK(bytes_equal("hand-checked switch batch", buf, len, want, sizeof(want)));
}

static void test_refused(void)
{
	const uint64_t back[] = { 2000, 1999 };
	const uint32_t u[] = { 1, 2 };
	const int64_t s[] = { 0, 0 };
	const int32_t i[] = { 0, 0 };
	struct pi_sched_switch_rows rows = { .n = 2, .ts_ns = back, .prev_tid = u, .prev_state = s,
					     .next_tid = u, .next_prio = i, .next_comm_iid = u };
	struct pi_sched_wakeup_rows wrows = { .n = 2, .ts_ns = back, .tid = u, .target_cpu = u,
					      .waker_tid = u };
	uint64_t scratch[PI_SCHED_BATCH_MAX + 1];
	uint8_t buf[512];
	size_t len;

	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == -EINVAL);
	CHECK(pi_encode_sched_wakeup(&wrows, scratch, buf, sizeof(buf), &len) == -EINVAL);
	rows.ts_ns = (const uint64_t[]){ 1, 2 };
	rows.next_comm_iid = NULL;
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == -EINVAL);
	rows.next_comm_iid = u;
	rows.n = 0;
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == -EINVAL);
	rows.n = PI_SCHED_BATCH_MAX + 1;
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == -EINVAL);
	rows.n = 2;
	CHECK(pi_encode_sched_switch(&rows, scratch, buf, sizeof(buf), &len) == 0);
}

int main(void)
{
	test_hand_checked();
	test_refused();
	for (size_t n = 1; n <= PI_SCHED_BATCH_MAX; n = n * 3 + 1) {
		test_switch_round_trip(n);
		test_wakeup_round_trip(n);
	}
	test_switch_round_trip(PI_SCHED_BATCH_MAX);
	test_wakeup_round_trip(PI_SCHED_BATCH_MAX);
	if (test_failures)
		fprintf(stderr, "sched_encode_test: %d failures\n", test_failures);
	else
		printf("sched_encode_test: ok\n");
	return test_failures ? 1 : 0;
}
