/* control_frame.c: see control_frame.h. Twin of host/src/device/control_frame.ts. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "control_frame.h"

/* Linux PID_MAX_LIMIT (4M): no pid is larger. */
#define PI_PID_MAX_LIMIT (1u << 22)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

enum pi_frame_result pi_frame__split(const uint8_t *buf, size_t len, size_t max_body, size_t *hdr_len,
				     size_t *body_len)
{
	uint64_t v = 0;
	size_t i;

	/* A length needs at most 10 bytes; ours are far smaller. */
	for (i = 0; i < len && i < 10; i++) {
		v |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
		if (buf[i] & 0x80)
			continue;
		if (i > 0 && buf[i] == 0)
			return PI_FRAME_BAD_LENGTH; /* over-long encoding */
		*hdr_len = i + 1;
		*body_len = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
		if (v > max_body)
			return PI_FRAME_TOO_LARGE;
		return len - *hdr_len >= *body_len ? PI_FRAME_WHOLE : PI_FRAME_NEED_MORE;
	}
	if (i == 10)
		return PI_FRAME_BAD_LENGTH;
	/* Already more than the limit, even before the last byte arrives. */
	if (i > 0 && (v >> 7 * i) == 0 && v > max_body) {
		*body_len = v;
		return PI_FRAME_TOO_LARGE;
	}
	return PI_FRAME_NEED_MORE;
}

size_t pi_frame__put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)v | 0x80;
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

bool pi_control__valid_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= PI_CONTROL_MAX_ID || !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-'))
			return false;
	}
	return n > 0;
}

const char *pi_control__request_name(pb_size_t which_msg)
{
	switch (which_msg) {
	case profinfer_v1_ClientMessage_hello_tag: return "Hello";
	case profinfer_v1_ClientMessage_start_tag: return "StartSession";
	case profinfer_v1_ClientMessage_stop_tag: return "StopSession";
	case profinfer_v1_ClientMessage_status_tag: return "GetStatus";
	case profinfer_v1_ClientMessage_set_level_tag: return "SetLevel";
	case profinfer_v1_ClientMessage_list_tag: return "ListTraces";
	case profinfer_v1_ClientMessage_fetch_tag: return "FetchTrace";
	case profinfer_v1_ClientMessage_delete_tag: return "DeleteTrace";
	case profinfer_v1_ClientMessage_subscribe_tag: return "Subscribe";
	case profinfer_v1_ClientMessage_mark_tag: return "MarkTrace";
	default: return "an empty request";
	}
}

/* Printable ASCII without '/', so that a name can never become a path. */
static bool printable_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '/')
			return false;
	return true;
}

static bool valid_level(profinfer_v1_TraceLevel l, bool unspecified_ok)
{
	return (unspecified_ok && l == profinfer_v1_TraceLevel_TRACE_LEVEL_UNSPECIFIED) ||
	       (l >= profinfer_v1_TraceLevel_TRACE_LEVEL_OFF && l <= profinfer_v1_TraceLevel_TRACE_LEVEL_NODE);
}

static int check_config(const profinfer_v1_SessionConfig *c, char *err, size_t errlen)
{
	if (!valid_level(c->level, true)) {
		set_err(err, errlen, "SessionConfig.level %d is not a TraceLevel", (int)c->level);
		return -EINVAL;
	}
	if (c->output_path[0]) {
		set_err(err, errlen, "SessionConfig.output_path is for `profinferd record`: the service names its "
				     "trace files itself (leave it empty)");
		return -EINVAL;
	}
	if (c->ring_buffer_kib && (c->ring_buffer_kib < 64 || c->ring_buffer_kib > (1u << 21))) {
		set_err(err, errlen, "SessionConfig.ring_buffer_kib must be 0 (default) or 64..2097152, not %u",
			c->ring_buffer_kib);
		return -EINVAL;
	}
	if (c->layout_profile[0] && !printable_name(c->layout_profile)) {
		set_err(err, errlen, "SessionConfig.layout_profile must be a profile name (printable, no '/')");
		return -EINVAL;
	}
	for (pb_size_t i = 0; i < c->counters_count; i++)
		if (!printable_name(c->counters[i])) {
			set_err(err, errlen, "SessionConfig.counters[%u] is empty or not printable", (unsigned)i);
			return -EINVAL;
		}
	for (pb_size_t i = 0; i < c->op_filter_count; i++)
		if (!printable_name(c->op_filter[i])) {
			set_err(err, errlen, "SessionConfig.op_filter[%u] is empty or not printable", (unsigned)i);
			return -EINVAL;
		}
	if (c->has_qos_rule && !valid_level(c->qos_rule.degraded_level, true)) {
		set_err(err, errlen, "QosRule.degraded_level %d is not a TraceLevel", (int)c->qos_rule.degraded_level);
		return -EINVAL;
	}
	return 0;
}

static int check_id(const char *what, const char *id, char *err, size_t errlen)
{
	if (pi_control__valid_id(id))
		return 0;
	set_err(err, errlen, "%s must be an id from profinferd (1-%d characters of 0-9, a-z, '-')", what,
		PI_CONTROL_MAX_ID);
	return -EINVAL;
}

static int check_request(const profinfer_v1_ClientMessage *m, char *err, size_t errlen)
{
	switch (m->which_msg) {
	case profinfer_v1_ClientMessage_hello_tag:
	case profinfer_v1_ClientMessage_status_tag:
	case profinfer_v1_ClientMessage_list_tag:
		return 0;
	case profinfer_v1_ClientMessage_start_tag: {
		const profinfer_v1_StartSession *s = &m->msg.start;

		if (s->which_target == profinfer_v1_StartSession_pid_tag) {
			if (s->target.pid == 0 || s->target.pid >= PI_PID_MAX_LIMIT) {
				set_err(err, errlen, "StartSession.pid %u is not a process id", s->target.pid);
				return -EINVAL;
			}
		} else if (s->which_target == profinfer_v1_StartSession_process_name_tag) {
			if (!printable_name(s->target.process_name)) {
				set_err(err, errlen, "StartSession.process_name must be a process name (printable, "
						     "no '/'), e.g. llama-cli");
				return -EINVAL;
			}
		} else {
			set_err(err, errlen, "StartSession needs a target: set pid or process_name");
			return -EINVAL;
		}
		return s->has_config ? check_config(&s->config, err, errlen) : 0;
	}
	case profinfer_v1_ClientMessage_stop_tag:
		return check_id("StopSession.session_id", m->msg.stop.session_id, err, errlen);
	case profinfer_v1_ClientMessage_set_level_tag:
		if (!valid_level(m->msg.set_level.level, false)) {
			set_err(err, errlen, "SetLevel.level must be OFF, TOKEN, GRAPH or NODE, not %d",
				(int)m->msg.set_level.level);
			return -EINVAL;
		}
		return check_id("SetLevel.session_id", m->msg.set_level.session_id, err, errlen);
	case profinfer_v1_ClientMessage_fetch_tag:
		return check_id("FetchTrace.trace_id", m->msg.fetch.trace_id, err, errlen);
	case profinfer_v1_ClientMessage_delete_tag:
		return check_id("DeleteTrace.trace_id", m->msg.delete.trace_id, err, errlen);
	case profinfer_v1_ClientMessage_subscribe_tag:
		return check_id("Subscribe.session_id", m->msg.subscribe.session_id, err, errlen);
	case profinfer_v1_ClientMessage_mark_tag:
		return check_id("MarkTrace.trace_id", m->msg.mark.trace_id, err, errlen);
	default:
		set_err(err, errlen, "empty or unknown request: set one of hello, start, stop, status, set_level, "
				     "list, fetch, delete, subscribe, mark (is the client newer than this profinferd?)");
		return -EINVAL;
	}
}

int pi_control__decode(const uint8_t *body, size_t len, profinfer_v1_ClientMessage *msg,
		       uint64_t *request_id, char *err, size_t errlen)
{
	pb_istream_t s = pb_istream_from_buffer(body, len);

	memset(msg, 0, sizeof(*msg));
	*request_id = 0;
	if (!pb_decode(&s, profinfer_v1_ClientMessage_fields, msg)) {
		*request_id = msg->request_id;
		set_err(err, errlen, "malformed ClientMessage: %s", PB_GET_ERROR(&s));
		return profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST;
	}
	*request_id = msg->request_id;
	if (check_request(msg, err, errlen))
		return profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST;
	return 0;
}

/* TraceChunk.data: bytes from the caller's buffer. */
struct chunk_src {
	const uint8_t *data;
	size_t len;
};

static bool encode_chunk_data(pb_ostream_t *s, const pb_field_t *field, void *const *arg)
{
	const struct chunk_src *src = *arg;

	return pb_encode_tag_for_field(s, field) && pb_encode_string(s, src->data, src->len);
}

static bool message_size(profinfer_v1_ServerMessage *m, struct chunk_src *src, size_t *size)
{
	if (m->which_msg == profinfer_v1_ServerMessage_chunk_tag) {
		m->msg.chunk.data.funcs.encode = encode_chunk_data;
		m->msg.chunk.data.arg = src;
	}
	return pb_get_encoded_size(size, profinfer_v1_ServerMessage_fields, m);
}

size_t pi_control__encoded_size(const profinfer_v1_ServerMessage *m, size_t chunk_len)
{
	static const uint8_t zeros[1];
	profinfer_v1_ServerMessage copy = *m;
	struct chunk_src src = { zeros, chunk_len };
	uint8_t hdr[10];
	size_t n;

	/* The size of a length-delimited field does not depend on its bytes,
	 * only on their count; pb_get_encoded_size never reads them. */
	if (!message_size(&copy, &src, &n))
		return 0;
	return pi_frame__put_varint(hdr, n) + n;
}

size_t pi_control__encode(const profinfer_v1_ServerMessage *m, const uint8_t *chunk_data, size_t chunk_len,
			  uint8_t *out, size_t cap)
{
	profinfer_v1_ServerMessage copy = *m;
	struct chunk_src src = { chunk_data, chunk_len };
	pb_ostream_t s;
	size_t n, hdr;
	uint8_t varint[10];

	if (!message_size(&copy, &src, &n))
		return 0;
	hdr = pi_frame__put_varint(varint, n);
	if (n > PI_CONTROL_MAX_SERVER_FRAME || hdr + n > cap)
		return 0;
	memcpy(out, varint, hdr);
	s = pb_ostream_from_buffer(out + hdr, n);
	if (!pb_encode(&s, profinfer_v1_ServerMessage_fields, &copy) || s.bytes_written != n)
		return 0;
	return hdr + n;
}
