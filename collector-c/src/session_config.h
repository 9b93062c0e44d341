/* One session's configuration: the SessionConfig message that the control
 * protocol carries (nanopb-decoded by the service) or a JSON file on the
 * device (`profinferd record --config FILE`), validated field by field into
 * collector options before anything is attached.
 *
 * JSON follows the proto3 JSON mapping of SessionConfig: lowerCamelCase
 * field names (the proto names are accepted too), enums by name
 * ("TRACE_LEVEL_GRAPH", or the short "graph"), numbers or quoted numbers,
 * null for a default. Anything else is an error naming the field:
 *   config.json: counters[2]: unknown counter "cylces" (did you mean "cycles"?)
 *   config.json:3:17: malformed JSON: ...
 * The tokenizer is jsmn (header-only, MIT, Debian libjsmn-dev): no archive
 * to cross-build for aarch64 / musl, no allocation. */
#ifndef PI_SESSION_CONFIG_H
#define PI_SESSION_CONFIG_H

#include <stddef.h>
#include "collector.h"
#include "profinfer.pb.h"

/* Largest configuration file read. */
#define PI_SESSION_CONFIG_MAX_BYTES (256 * 1024)

/* Validated options and the storage their strings need. Strings in `opts`
 * point into this struct or into the SessionConfig it was made from: keep
 * both alive as long as the options are used. */
struct pi_session_opts {
	struct pi_collector_opts opts;
	char counters[16 * 65];	    /* comma-separated, for opts.counters */
	const char *op_filter[64];  /* opts.op_filter */
	struct pi_probe_spec probes[8];
	const char *output_path;    /* NULL: not given */
};

/* Parses JSON `text` into `cfg` (zeroed first). `source` names the input in
 * messages (a file name). Returns 0 or -EINVAL with one line in err. */
int pi_session_config__from_json(const char *text, size_t len, const char *source,
				 profinfer_v1_SessionConfig *cfg, char *err, size_t errlen);

/* Reads and parses a JSON file (at most PI_SESSION_CONFIG_MAX_BYTES). */
int pi_session_config__read_file(const char *path, profinfer_v1_SessionConfig *cfg, char *err,
				 size_t errlen);

/* Validates every field of `cfg` and fills `out` (opts.out_fd, session_id
 * and verbose are left for the caller). `source` prefixes messages ("" or
 * NULL for none). Returns 0 or -EINVAL with one line in err. */
int pi_session_config__to_opts(const profinfer_v1_SessionConfig *cfg, const char *source,
			       struct pi_session_opts *out, char *err, size_t errlen);

/* Whether `name` is an op, unary op or GLU op of some GGML version. */
bool pi_session_config__known_op(const char *name);

#endif
