/* encode.h: protobuf bytes from C structs and back. Pure functions: no I/O,
 * no allocation, nothing written past `cap`.
 *
 * Encoders write one message (a TracePacket or a ServerMessage, not framed:
 * stream_writer.h frames packets) into buf[0..cap), set *len and return 0, or
 * return a negative errno and leave nothing usable in buf:
 *   -ENOSPC  the message does not fit in `cap` bytes
 *   -EINVAL  the struct is inconsistent (e.g. a count above its array size)
 *
 * Structs are the nanopb ones from collector-c/gen/profinfer.pb.h; their
 * representation (bounded arrays vs borrowed pointers) is chosen in
 * proto/profinfer/v1/profinfer.options. Borrowed pointers may be NULL
 * ("absent"); a non-NULL "" is encoded as an empty field.
 */
#ifndef PI_ENCODE_H
#define PI_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profinfer.pb.h"

/* Any TracePacket: metadata, token, graph, graph structure, loss, ... */
int pi_encode_packet(const profinfer_v1_TracePacket *p, uint8_t *buf, size_t cap, size_t *len);

/* A control reply. The caller frames it (varint length, then the bytes). */
int pi_encode_server_message(const profinfer_v1_ServerMessage *m, uint8_t *buf, size_t cap,
			     size_t *len);

/* Decodes a control request from an untrusted client. Every string and array
 * of ClientMessage is bounded, so this never allocates; anything over a
 * bound is rejected. Returns 0 or -EBADMSG with *why (if non-NULL) set to a
 * static description. */
int pi_decode_client_message(const uint8_t *buf, size_t len, profinfer_v1_ClientMessage *out,
			     const char **why);

/* ---------------------------------------------------------------------------
 * The hot path: one thread's node rows in one graph, from plain arrays, as a
 * TracePacket { node_events: NodeEventBatch }. Byte-identical to
 * pi_encode_packet() on the same data (collector-c/test/encode_test.c). */

struct pi_counter_rows {
	uint32_t counter_id;	/* CounterDescriptor.counter_id */
	const uint64_t *delta;	/* n_rows - n_unmeasured values: the measured rows */
	size_t n_unmeasured;
	const uint32_t *unmeasured; /* ascending row indexes without a value */
	bool includes_previous_barrier;
};

struct pi_node_rows {
	uint32_t pid;
	uint32_t tid;
	uint32_t thread_index;
	uint64_t graph_id;
	uint64_t start_ns;		/* CLOCK_MONOTONIC start of row 0 */
	size_t n_rows;
	const uint32_t *node_index;	/* absolute; delta-coded (mod 2^32) on the wire */
	const uint64_t *compute_ns;
	const uint64_t *barrier_ns;
	const uint32_t *fused;		/* NULL or all 0: the column is left out */
	size_t n_counters;
	const struct pi_counter_rows *counters;
};

int pi_encode_node_events(const struct pi_node_rows *rows, uint8_t *buf, size_t cap, size_t *len);

/* An upper bound of pi_encode_node_events()'s output, to size buffers. */
size_t pi_node_events_max_size(size_t n_rows, size_t n_counters);

#endif /* PI_ENCODE_H */
