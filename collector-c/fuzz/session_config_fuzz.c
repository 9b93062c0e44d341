/* libFuzzer target: session configuration files (session_config.c), read
 * by `profinferd record --config FILE` as root. Any bytes must give either a
 * validated configuration or one error line; ASan and UBSan catch reads out
 * of bounds in the JSON walk, the asserts catch a validator that lets
 * through what its checks promise to refuse. Built and run like
 * control_frame_fuzz; seeds in config_corpus/.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "session_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static profinfer_v1_SessionConfig cfg;
	static struct pi_session_opts so;
	char err[512];

	memset(err, 0, sizeof(err));
	if (pi_session_config__from_json((const char *)data, size, "fuzz.json", &cfg, err, sizeof(err))) {
		assert(err[0] && memchr(err, '\0', sizeof(err)));
		return 0;
	}
	memset(err, 0, sizeof(err));
	memset(&so, 0, sizeof(so));
	if (pi_session_config__to_opts(&cfg, "fuzz.json", &so, err, sizeof(err))) {
		assert(err[0] && memchr(err, '\0', sizeof(err)));
		return 0;
	}
	/* Accepted: every field within what the collector handles. */
	assert(so.opts.level >= PI_LEVEL_TOKEN && so.opts.level <= PI_LEVEL_NODE);
	assert(so.opts.n_op_filter <= 64 && so.opts.n_probes <= 8);
	for (size_t i = 0; i < so.opts.n_op_filter; i++)
		assert(pi_session_config__known_op(so.opts.op_filter[i]));
	assert(!so.opts.counters || strlen(so.opts.counters) < sizeof(so.counters));
	return 0;
}
