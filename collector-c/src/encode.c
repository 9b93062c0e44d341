/* encode.c: see encode.h. Generic messages go through nanopb; the node-row
 * hot path is written by hand below, because it runs tens of thousands of
 * times a second and nanopb would need a struct of pointers per batch and a
 * sizing pass per submessage. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "encode.h"

/* ---------------------------------------------------------------------------
 * Through nanopb. */

static int encode_with(const pb_msgdesc_t *fields, const void *msg, uint8_t *buf, size_t cap,
		       size_t *len)
{
	pb_ostream_t s = pb_ostream_from_buffer(buf, cap);

	if (!pb_encode(&s, fields, msg)) {
		/* nanopb's only overflow message; anything else is a bad struct
		 * (e.g. "array max size exceeded"). */
		return strcmp(PB_GET_ERROR(&s), "stream full") == 0 ? -ENOSPC : -EINVAL;
	}
	*len = s.bytes_written;
	return 0;
}

int pi_encode_packet(const profinfer_v1_TracePacket *p, uint8_t *buf, size_t cap, size_t *len)
{
	return encode_with(profinfer_v1_TracePacket_fields, p, buf, cap, len);
}

int pi_encode_server_message(const profinfer_v1_ServerMessage *m, uint8_t *buf, size_t cap,
			     size_t *len)
{
	return encode_with(profinfer_v1_ServerMessage_fields, m, buf, cap, len);
}

int pi_decode_client_message(const uint8_t *buf, size_t len, profinfer_v1_ClientMessage *out,
			     const char **why)
{
	pb_istream_t s = pb_istream_from_buffer(buf, len);

	if (!pb_decode(&s, profinfer_v1_ClientMessage_fields, out)) {
		if (why)
			*why = PB_GET_ERROR(&s);
		return -EBADMSG;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * By hand: wire-format primitives (protobuf.dev/programming-guides/encoding).
 * All field numbers used here are below 16, so every tag is one byte. */

#define WT_VARINT 0
#define WT_LEN 2
#define TAG(field, wire_type) ((uint8_t)(((field) << 3) | (wire_type)))

static inline size_t varint_size(uint64_t v)
{
	/* 7 payload bits per byte; v | 1 keeps clz defined for 0. */
	return 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A proto3 scalar field: left out when 0, as protoc does. */
static inline size_t scalar_size(uint64_t v)
{
	return v ? 1 + varint_size(v) : 0;
}

static inline uint8_t *put_scalar(uint8_t *p, unsigned field, uint64_t v)
{
	if (!v)
		return p;
	*p++ = TAG(field, WT_VARINT);
	return put_varint(p, v);
}

/* A packed repeated field: left out when empty. */
static inline size_t packed_size(size_t payload)
{
	return payload ? 1 + varint_size(payload) + payload : 0;
}

/* A (sub)message field: always present, even when empty. */
static inline size_t message_size(size_t payload)
{
	return 1 + varint_size(payload) + payload;
}

static inline uint8_t *put_len(uint8_t *p, unsigned field, size_t payload)
{
	*p++ = TAG(field, WT_LEN);
	return put_varint(p, payload);
}

/* ---------------------------------------------------------------------------
 * Node rows. Field numbers of TracePacket / NodeEventBatch / CounterColumn. */

enum {
	PACKET_NODE_EVENTS = 1,
	BATCH_PID = 1,
	BATCH_TID = 2,
	BATCH_GRAPH_ID = 3,
	BATCH_START_NS = 4,
	BATCH_NODE_INDEX_DELTA = 5,
	BATCH_COMPUTE_NS = 6,
	BATCH_BARRIER_NS = 7,
	BATCH_FUSED = 8,
	BATCH_COUNTERS = 9,
	BATCH_THREAD_INDEX = 10,
	COUNTER_ID = 1,
	COUNTER_DELTA = 2,
	COUNTER_UNMEASURED_ROW = 3,
	COUNTER_INCLUDES_PREVIOUS_BARRIER = 4,
};

static size_t u64_column_size(const uint64_t *v, size_t n)
{
	size_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += varint_size(v[i]);
	return s;
}

static size_t u32_column_size(const uint32_t *v, size_t n)
{
	size_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += varint_size(v[i]);
	return s;
}

static size_t delta_column_size(const uint32_t *index, size_t n)
{
	uint32_t prev = 0;
	size_t s = 0;

	for (size_t i = 0; i < n; i++) {
		s += varint_size((uint32_t)(index[i] - prev));
		prev = index[i];
	}
	return s;
}

static uint8_t *put_u64_column(uint8_t *p, unsigned field, const uint64_t *v, size_t n,
			       size_t payload)
{
	if (!payload)
		return p;
	p = put_len(p, field, payload);
	for (size_t i = 0; i < n; i++)
		p = put_varint(p, v[i]);
	return p;
}

static uint8_t *put_u32_column(uint8_t *p, unsigned field, const uint32_t *v, size_t n,
			       size_t payload)
{
	if (!payload)
		return p;
	p = put_len(p, field, payload);
	for (size_t i = 0; i < n; i++)
		p = put_varint(p, v[i]);
	return p;
}

static uint8_t *put_delta_column(uint8_t *p, unsigned field, const uint32_t *index, size_t n,
				 size_t payload)
{
	uint32_t prev = 0;

	if (!payload)
		return p;
	p = put_len(p, field, payload);
	for (size_t i = 0; i < n; i++) {
		p = put_varint(p, (uint32_t)(index[i] - prev));
		prev = index[i];
	}
	return p;
}

static size_t counter_payload(const struct pi_counter_rows *c, size_t n)
{
	return scalar_size(c->counter_id) + packed_size(u64_column_size(c->delta, n - c->n_unmeasured)) +
	       packed_size(u32_column_size(c->unmeasured, c->n_unmeasured)) +
	       scalar_size(c->includes_previous_barrier);
}

static int check_rows(const struct pi_node_rows *r)
{
	if (r->n_rows && (!r->node_index || !r->compute_ns || !r->barrier_ns))
		return -EINVAL;
	if (r->n_counters && !r->counters)
		return -EINVAL;
	for (size_t c = 0; c < r->n_counters; c++) {
		const struct pi_counter_rows *col = &r->counters[c];

		if (col->n_unmeasured > r->n_rows || (col->n_unmeasured && !col->unmeasured))
			return -EINVAL;
		if (r->n_rows > col->n_unmeasured && !col->delta)
			return -EINVAL;
		for (size_t i = 0; i < col->n_unmeasured; i++)
			if (col->unmeasured[i] >= r->n_rows || (i && col->unmeasured[i] <= col->unmeasured[i - 1]))
				return -EINVAL;
	}
	return 0;
}

int pi_encode_node_events(const struct pi_node_rows *r, uint8_t *buf, size_t cap, size_t *len)
{
	const size_t n = r->n_rows;
	const uint32_t *fused = NULL;
	size_t delta_sz, compute_sz, barrier_sz, fused_sz = 0, counters_sz = 0, batch_sz, total;
	uint8_t *p = buf;
	int err;

	err = check_rows(r);
	if (err)
		return err;
	/* The schema reads an absent fused column as all 0: save a byte a row. */
	for (size_t i = 0; r->fused && i < n && !fused; i++)
		if (r->fused[i])
			fused = r->fused;

	/* Pass 1: sizes, so every length prefix is known before it is written. */
	delta_sz = delta_column_size(r->node_index, n);
	compute_sz = u64_column_size(r->compute_ns, n);
	barrier_sz = u64_column_size(r->barrier_ns, n);
	if (fused)
		fused_sz = u32_column_size(fused, n);
	for (size_t c = 0; c < r->n_counters; c++)
		counters_sz += message_size(counter_payload(&r->counters[c], n));
	batch_sz = scalar_size(r->pid) + scalar_size(r->tid) + scalar_size(r->graph_id) +
		   scalar_size(r->start_ns) + packed_size(delta_sz) + packed_size(compute_sz) +
		   packed_size(barrier_sz) + packed_size(fused_sz) + counters_sz +
		   scalar_size(r->thread_index);
	total = message_size(batch_sz);
	if (total > cap)
		return -ENOSPC;

	/* Pass 2: bytes, in field-number order like protoc. */
	p = put_len(p, PACKET_NODE_EVENTS, batch_sz);
	p = put_scalar(p, BATCH_PID, r->pid);
	p = put_scalar(p, BATCH_TID, r->tid);
	p = put_scalar(p, BATCH_GRAPH_ID, r->graph_id);
	p = put_scalar(p, BATCH_START_NS, r->start_ns);
	p = put_delta_column(p, BATCH_NODE_INDEX_DELTA, r->node_index, n, delta_sz);
	p = put_u64_column(p, BATCH_COMPUTE_NS, r->compute_ns, n, compute_sz);
	p = put_u64_column(p, BATCH_BARRIER_NS, r->barrier_ns, n, barrier_sz);
	p = put_u32_column(p, BATCH_FUSED, fused, n, fused_sz);
	for (size_t c = 0; c < r->n_counters; c++) {
		const struct pi_counter_rows *col = &r->counters[c];

		size_t m = n - col->n_unmeasured;

		p = put_len(p, BATCH_COUNTERS, counter_payload(col, n));
		p = put_scalar(p, COUNTER_ID, col->counter_id);
		p = put_u64_column(p, COUNTER_DELTA, col->delta, m, u64_column_size(col->delta, m));
		p = put_u32_column(p, COUNTER_UNMEASURED_ROW, col->unmeasured, col->n_unmeasured,
				   u32_column_size(col->unmeasured, col->n_unmeasured));
		p = put_scalar(p, COUNTER_INCLUDES_PREVIOUS_BARRIER, col->includes_previous_barrier);
	}
	p = put_scalar(p, BATCH_THREAD_INDEX, r->thread_index);

	assert((size_t)(p - buf) == total);
	*len = total;
	return 0;
}

size_t pi_node_events_max_size(size_t n_rows, size_t n_counters)
{
	/* Per column: tag + 10-byte length + widest varints. */
	const size_t column = 1 + 10;
	size_t batch = 4 * (1 + 10) + (1 + 5) +	/* pid, tid, graph_id, start_ns, thread_index */
		       4 * column + n_rows * (5 + 10 + 10 + 5) +
		       n_counters * (column + (1 + 5) + 2 * column + n_rows * 10 + 2);

	return 1 + 10 + batch;
}
