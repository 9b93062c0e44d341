/* control_frame.h: the control protocol's framing and message checks.
 * Twin of host/src/device/control_frame.ts.
 *
 * A control connection carries frames: a varint length, then one protobuf
 * message (ClientMessage from a client, ServerMessage from profinferd). The
 * client side is hostile until checked: a frame is bounded before it is
 * buffered, decoded by nanopb into fixed-size structs (profinfer.options
 * bounds every string and array), and then checked field by field here, so
 * the service only ever sees requests it can act on. Pure: no I/O, no
 * allocation (the fuzz target in collector-c/fuzz/ drives it).
 */
#ifndef PI_CONTROL_FRAME_H
#define PI_CONTROL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profinfer.pb.h"

/* The largest ClientMessage accepted (the biggest valid one is
 * profinfer_v1_ClientMessage_size, about 7 kB). */
#define PI_CONTROL_MAX_CLIENT_FRAME (64u << 10)
/* Trace bytes per TraceChunk. */
#define PI_CONTROL_CHUNK_BYTES (64u << 10)
/* The largest ServerMessage profinferd sends (a TraceList of every trace);
 * MAX_SERVER_FRAME_BYTES in control_frame.ts. */
#define PI_CONTROL_MAX_SERVER_FRAME (4u << 20)
/* Longest id (session or trace) profinferd makes, without its NUL. */
#define PI_CONTROL_MAX_ID 48

enum pi_frame_result {
	PI_FRAME_NEED_MORE = 0,	  /* not a whole frame yet */
	PI_FRAME_WHOLE = 1,	  /* *hdr_len + *body_len bytes are one frame */
	PI_FRAME_TOO_LARGE = -1,  /* the length prefix exceeds the limit */
	PI_FRAME_BAD_LENGTH = -2, /* the length prefix is not a valid varint */
};

/* Finds the first frame of buf[0..len). On PI_FRAME_TOO_LARGE, *body_len is
 * the announced length. */
enum pi_frame_result pi_frame__split(const uint8_t *buf, size_t len, size_t max_body, size_t *hdr_len,
				     size_t *body_len);

/* Writes the varint of v into p (at least 10 bytes); returns its length. */
size_t pi_frame__put_varint(uint8_t *p, uint64_t v);

/* Decodes and checks one ClientMessage body. Returns 0, or a
 * profinfer_v1_ErrorCode (BAD_REQUEST) with a one-line reason in err.
 * *request_id is set whenever the id could be read, so that even a rejected
 * request gets its Error under the right id. */
int pi_control__decode(const uint8_t *body, size_t len, profinfer_v1_ClientMessage *msg,
		       uint64_t *request_id, char *err, size_t errlen);

/* Whether s looks like an id profinferd made: 1..PI_CONTROL_MAX_ID of
 * [0-9a-z-]. Ids from clients are only ever looked up, never used as paths;
 * this rejects junk early with a precise message. */
bool pi_control__valid_id(const char *s);

/* Encodes m as one frame (varint length + message) into out[0..cap).
 * Returns the frame's length, or 0 when it does not fit or fails. A
 * TraceChunk's bytes come from `chunk_data` / `chunk_len` (its data field is
 * a callback in profinfer.options). */
size_t pi_control__encode(const profinfer_v1_ServerMessage *m, const uint8_t *chunk_data, size_t chunk_len,
			  uint8_t *out, size_t cap);

/* The encoded size of m's frame, or 0 on failure. */
size_t pi_control__encoded_size(const profinfer_v1_ServerMessage *m, size_t chunk_len);

/* Name of a ClientMessage oneof member, for logs and errors. */
const char *pi_control__request_name(pb_size_t which_msg);

#endif /* PI_CONTROL_FRAME_H */
