/* libFuzzer target: the control protocol's decoder (control_frame.c), fed
 * what a hostile client could send on a connection: a byte stream split into
 * frames, each frame decoded and checked, and an Error answer encoded for
 * each rejected one, exactly as serve.c does. ASan and UBSan catch any read
 * or write out of bounds; the asserts catch a decoder that accepts what its
 * checks promise to reject.
 *
 * Built with clang (-fsanitize=fuzzer,address,undefined) by
 * collector-c/fuzz/CMakeLists.txt; ctest runs it for a bounded time from the
 * seed corpus in corpus/ (make_corpus.py writes it).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control_frame.h"

static void check_accepted(const profinfer_v1_ClientMessage *m)
{
	assert(m->which_msg >= profinfer_v1_ClientMessage_hello_tag &&
	       m->which_msg <= profinfer_v1_ClientMessage_mark_tag);
	switch (m->which_msg) {
	case profinfer_v1_ClientMessage_start_tag:
		if (m->msg.start.which_target == profinfer_v1_StartSession_process_name_tag)
			assert(m->msg.start.target.process_name[0] && !strchr(m->msg.start.target.process_name, '/'));
		else
			assert(m->msg.start.target.pid > 0);
		assert(!m->msg.start.has_config || !m->msg.start.config.output_path[0]);
		break;
	case profinfer_v1_ClientMessage_fetch_tag:
		assert(pi_control__valid_id(m->msg.fetch.trace_id) && !strchr(m->msg.fetch.trace_id, '/'));
		break;
	case profinfer_v1_ClientMessage_delete_tag:
		assert(pi_control__valid_id(m->msg.delete.trace_id) && !strchr(m->msg.delete.trace_id, '.'));
		break;
	case profinfer_v1_ClientMessage_mark_tag:
		assert(pi_control__valid_id(m->msg.mark.trace_id) && !strchr(m->msg.mark.trace_id, '/'));
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4096];
	size_t used = 0;

	while (used < size) {
		profinfer_v1_ClientMessage msg;
		profinfer_v1_ServerMessage reply = { .which_msg = profinfer_v1_ServerMessage_error_tag };
		size_t hdr = 0, body = 0;
		uint64_t rid;
		char err[512];
		enum pi_frame_result r = pi_frame__split(data + used, size - used, PI_CONTROL_MAX_CLIENT_FRAME, &hdr, &body);
		int code;

		if (r != PI_FRAME_WHOLE)
			break; /* need more, too large or bad length: the service answers and closes */
		assert(hdr >= 1 && hdr <= 10 && body <= PI_CONTROL_MAX_CLIENT_FRAME && hdr + body <= size - used);
		code = pi_control__decode(data + used + hdr, body, &msg, &rid, err, sizeof(err));
		used += hdr + body;
		if (!code) {
			check_accepted(&msg);
			continue;
		}
		assert(memchr(err, '\0', sizeof(err)));
		reply.request_id = rid;
		reply.msg.error.code = (profinfer_v1_ErrorCode)code;
		reply.msg.error.message = err;
		assert(pi_control__encode(&reply, NULL, 0, out, sizeof(out)) > 0);
	}
	return 0;
}
