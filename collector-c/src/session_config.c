// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "session_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "layout.h"
#include "perf_counters.h"

/* Ops by name, for op_filter. The engine's own names (EngineInfo) are only
 * known once a target's files are read, and a session may start before its
 * target exists (a process name), while the configuration must be checked
 * before anything is attached: so it is checked against every op, unary op
 * and GLU op name of GGML (current, from ggml.c GGML_OP_NAME, plus names
 * older versions had). A name the engine turns out not to have matches
 * nothing. */
static const char *const known_ops[] = {
	"NONE", "DUP", "ADD", "ADD_ID", "ADD1", "ACC", "SUB", "MUL", "DIV", "SQR", "SQRT", "LOG",
	"SIN", "COS", "SUM", "SUM_ROWS", "CUMSUM", "MEAN", "ARGMAX", "COUNT_EQUAL", "REPEAT",
	"REPEAT_BACK", "CONCAT", "SILU_BACK", "NORM", "RMS_NORM", "RMS_NORM_BACK", "GROUP_NORM",
	"L2_NORM", "MUL_MAT", "MUL_MAT_ID", "OUT_PROD", "SCALE", "SET", "CPY", "CONT", "RESHAPE",
	"VIEW", "PERMUTE", "TRANSPOSE", "GET_ROWS", "GET_ROWS_BACK", "SET_ROWS", "DIAG",
	"DIAG_MASK_INF", "DIAG_MASK_ZERO", "SOFT_MAX", "SOFT_MAX_BACK", "ROPE", "ROPE_BACK", "CLAMP",
	"CONV_TRANSPOSE_1D", "IM2COL", "IM2COL_BACK", "IM2COL_3D", "COL2IM_1D", "CONV_2D", "CONV_3D",
	"CONV_2D_DW", "CONV_TRANSPOSE_2D", "POOL_1D", "POOL_2D", "POOL_2D_BACK", "UPSCALE", "PAD",
	"PAD_REFLECT_1D", "ROLL", "ARANGE", "TIMESTEP_EMBEDDING", "ARGSORT", "TOP_K", "LEAKY_RELU",
	"TRI", "FILL", "FLASH_ATTN_EXT", "FLASH_ATTN_BACK", "SSM_CONV", "SSM_SCAN", "WIN_PART",
	"WIN_UNPART", "GET_REL_POS", "ADD_REL_POS", "RWKV_WKV6", "GATED_LINEAR_ATTN", "RWKV_WKV7",
	"SOLVE_TRI", "GATED_DELTA_NET", "LIGHTNING_INDEXER", "DSV4_HC_COMB", "DSV4_HC_PRE",
	"DSV4_HC_POST", "UNARY", "MAP_CUSTOM1", "MAP_CUSTOM2", "MAP_CUSTOM3", "CUSTOM",
	"CROSS_ENTROPY_LOSS", "CROSS_ENTROPY_LOSS_BACK", "OPT_STEP_ADAMW", "OPT_STEP_SGD", "GLU",
	/* older GGML */
	"ALIBI", "CONV_1D", "CONV_1D_STAGE_0", "CONV_1D_STAGE_1", "CONV_2D_STAGE_0",
	"CONV_2D_STAGE_1", "FLASH_ATTN", "FLASH_FF", "MAP_UNARY", "MAP_BINARY", "MAP_CUSTOM1_F32",
	"MAP_CUSTOM2_F32", "MAP_CUSTOM3_F32", "RWKV_WKV", "GET_ROWS_BACK",
	/* unary */
	"ABS", "SGN", "NEG", "STEP", "TANH", "ELU", "RELU", "SIGMOID", "GELU", "GELU_QUICK", "SILU",
	"HARDSWISH", "HARDSIGMOID", "EXP", "EXPM1", "SOFTPLUS", "GELU_ERF", "XIELU", "FLOOR", "CEIL",
	"ROUND", "TRUNC",
	/* glu */
	"REGLU", "GEGLU", "SWIGLU", "SWIGLU_OAI", "GEGLU_ERF", "GEGLU_QUICK", "SWIGLU_CLAMP",
};

static int fail(char *err, size_t errlen, const char *source, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (source && *source)
		snprintf(err, errlen, "%s: %s", source, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The closest of `n` candidates within a third of the name's length, at
 * least 2 edits (or NULL). */
static const char *closest(const char *name, const char *const *cands, size_t n)
{
	size_t limit = strlen(name) / 3 > 2 ? strlen(name) / 3 : 2, bd = limit + 1;
	const char *best = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = distance(name, cands[i]);

		if (d < bd) {
			bd = d;
			best = cands[i];
		}
	}
	return best;
}

bool pi_session_config__known_op(const char *name)
{
	for (size_t i = 0; i < sizeof(known_ops) / sizeof(known_ops[0]); i++)
		if (!strcmp(known_ops[i], name))
			return true;
	return false;
}

/* Counter names worth suggesting: the words of perf_counters' list. */
static const char *closest_counter(const char *name, char *buf, size_t len)
{
	const char *words[96], *best;
	char forms[2048], *save = NULL, *w;
	size_t n = 0;

	snprintf(forms, sizeof(forms), "%s", pi_counters__valid_forms);
	for (w = strtok_r(forms, " ;:(),.", &save); w && n < 96; w = strtok_r(NULL, " ;:(),.", &save))
		if (strlen(w) > 2 && strcmp(w, "hardware") && strcmp(w, "software") && strcmp(w, "with") &&
		    strcmp(w, "without") && strcmp(w, "names") && strcmp(w, "ARMv8") && strcmp(w, "PMUv3") &&
		    strcmp(w, "armv8"))
			words[n++] = w;
	best = closest(name, words, n);
	if (!best)
		return NULL;
	snprintf(buf, len, "%s", best);
	return buf;
}

/* ---- to_opts: every field checked, nothing attached ---------------------- */

static int to_level(int v, enum pi_level *out)
{
	switch (v) {
	case profinfer_v1_TraceLevel_TRACE_LEVEL_TOKEN: *out = PI_LEVEL_TOKEN; return 0;
	case profinfer_v1_TraceLevel_TRACE_LEVEL_GRAPH: *out = PI_LEVEL_GRAPH; return 0;
	case profinfer_v1_TraceLevel_TRACE_LEVEL_NODE: *out = PI_LEVEL_NODE; return 0;
	default: return -EINVAL;
	}
}

static bool is_identifier(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.' || *s == '$'))
			return false;
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Register arguments a uprobe can read the tensor from. */
#if defined(__aarch64__)
#define PI_MAX_REG_ARGS 8
#else
#define PI_MAX_REG_ARGS 6
#endif

int pi_session_config__to_opts(const profinfer_v1_SessionConfig *cfg, const char *source,
			       struct pi_session_opts *out, char *err, size_t errlen)
{
	struct pi_collector_opts *o = &out->opts;
	struct pi_counter_set *set = NULL;
	struct pi_qos q;
	char msg[256];
	size_t used = 0;

	memset(out, 0, sizeof(*out));
	o->level = PI_LEVEL_NODE;
	if (cfg->level != profinfer_v1_TraceLevel_TRACE_LEVEL_UNSPECIFIED && to_level(cfg->level, &o->level))
		return fail(err, errlen, source, "level: %s is not a level the collector records (use "
						 "TRACE_LEVEL_TOKEN, TRACE_LEVEL_GRAPH or TRACE_LEVEL_NODE)",
			    cfg->level == profinfer_v1_TraceLevel_TRACE_LEVEL_OFF ? "TRACE_LEVEL_OFF" : "this value");
	o->structure = cfg->structure || o->level >= PI_LEVEL_NODE;
	o->sched = cfg->sched;
	o->moe = cfg->moe;

	if (cfg->counters_count > 16)
		return fail(err, errlen, source, "counters: at most 16");
	for (pb_size_t i = 0; i < cfg->counters_count; i++) {
		const char *name = cfg->counters[i];
		char hint[64];
		int e;

		if (!*name || strchr(name, ',') || !printable(name)) {
			free(set); /* allocated for an earlier entry */
			return fail(err, errlen, source, "counters[%u]: \"%s\" is not a counter name", i, name);
		}
		if (!set && !(set = malloc(sizeof(*set))))
			return fail(err, errlen, source, "out of memory");
		e = pi_counters__parse(name, set, msg, sizeof(msg));
		if (e) {
			const char *near = closest_counter(name, hint, sizeof(hint));

			free(set);
			if (near)
				return fail(err, errlen, source, "counters[%u]: unknown counter \"%s\" (did you mean \"%s\"?)",
					    i, name, near);
			return fail(err, errlen, source, "counters[%u]: unknown counter \"%s\"; valid: %s", i, name,
				    pi_counters__valid_forms);
		}
		for (pb_size_t j = 0; j < i; j++)
			if (!strcmp(cfg->counters[j], name)) {
				free(set);
				return fail(err, errlen, source, "counters[%u]: \"%s\" is listed twice (counters[%u])", i,
					    name, j);
			}
		used += snprintf(out->counters + used, sizeof(out->counters) - used, "%s%s", i ? "," : "", name);
	}
	if (cfg->counters_count) {
		/* The list as a whole: two names for the same event. */
		if (pi_counters__parse(out->counters, set, msg, sizeof(msg))) {
			free(set);
			return fail(err, errlen, source, "counters: %s", msg);
		}
		o->counters = out->counters;
	}
	free(set);

	if (cfg->probes_count > 8)
		return fail(err, errlen, source, "probes: at most 8");
	for (pb_size_t i = 0; i < cfg->probes_count; i++) {
		const profinfer_v1_ProbeSpec *p = &cfg->probes[i];

		if (!*p->library || !printable(p->library))
			return fail(err, errlen, source, "probes[%u].library: a library file name or path is needed "
							 "(e.g. \"libggml-opencl.so\")", i);
		if (!is_identifier(p->function))
			return fail(err, errlen, source, "probes[%u].function: \"%s\" is not a function symbol", i,
				    p->function);
		if (p->tensor_arg >= PI_MAX_REG_ARGS)
			return fail(err, errlen, source, "probes[%u].tensorArg: %u is not a register argument "
							 "(0..%d on this architecture)", i, p->tensor_arg,
				    PI_MAX_REG_ARGS - 1);
		if (!printable(p->backend))
			return fail(err, errlen, source, "probes[%u].backend: not printable", i);
		if (o->level < PI_LEVEL_NODE)
			return fail(err, errlen, source, "probes[%u]: extra node-level probes need level "
							 "TRACE_LEVEL_NODE", i);
		out->probes[i] = (struct pi_probe_spec){ p->library, p->function, p->tensor_arg, p->backend };
	}
	o->probes = out->probes;
	o->n_probes = cfg->probes_count;

	if (cfg->op_filter_count > 64)
		return fail(err, errlen, source, "opFilter: at most 64 ops");
	for (pb_size_t i = 0; i < cfg->op_filter_count; i++) {
		const char *op = cfg->op_filter[i];

		if (!pi_session_config__known_op(op)) {
			const char *near = closest(op, known_ops, sizeof(known_ops) / sizeof(known_ops[0]));

			if (near)
				return fail(err, errlen, source, "opFilter[%u]: unknown op \"%s\" (did you mean \"%s\"?)", i,
					    op, near);
			return fail(err, errlen, source, "opFilter[%u]: unknown op \"%s\" (GGML op names, e.g. "
							 "\"MUL_MAT\", \"SOFT_MAX\", \"SILU\")", i, op);
		}
		for (pb_size_t j = 0; j < i; j++)
			if (!strcmp(cfg->op_filter[j], op))
				return fail(err, errlen, source, "opFilter[%u]: \"%s\" is listed twice", i, op);
		if (o->level < PI_LEVEL_NODE)
			return fail(err, errlen, source, "opFilter: filters node-level events: it needs level "
							 "TRACE_LEVEL_NODE");
		out->op_filter[i] = op;
	}
	o->op_filter = out->op_filter;
	o->n_op_filter = cfg->op_filter_count;

	if (cfg->sample_every_n_tokens > 1) {
		if (o->level < PI_LEVEL_NODE)
			return fail(err, errlen, source, "sampleEveryNTokens: samples node level: it needs level "
							 "TRACE_LEVEL_NODE");
		if (cfg->sample_every_n_tokens > 1000000)
			return fail(err, errlen, source, "sampleEveryNTokens: %u is more than 1000000",
				    cfg->sample_every_n_tokens);
	}
	o->sample_every_n_tokens = cfg->sample_every_n_tokens;

	if (cfg->has_qos_rule) {
		const profinfer_v1_QosRule *r = &cfg->qos_rule;
		enum pi_level degraded = PI_LEVEL_GRAPH;

		if (r->degraded_level != profinfer_v1_TraceLevel_TRACE_LEVEL_UNSPECIFIED &&
		    (to_level(r->degraded_level, &degraded) || degraded == PI_LEVEL_NODE))
			return fail(err, errlen, source, "qosRule.degradedLevel: must be TRACE_LEVEL_TOKEN or "
							 "TRACE_LEVEL_GRAPH");
		o->qos = (struct pi_qos_rule){ r->min_tokens_per_s, r->resume_tokens_per_s, r->window_tokens,
					       degraded };
		if (pi_qos__init(&q, &o->qos, o->level, msg, sizeof(msg)))
			return fail(err, errlen, source, "%s", msg);
		if (o->qos.min_tokens_per_s > 0 && degraded >= o->level)
			return fail(err, errlen, source, "qosRule.degradedLevel: must be below the session's level");
	}

	if (cfg->layout_profile[0] && strcmp(cfg->layout_profile, "auto")) {
		struct pi_layout scratch = { 0 };
		const char *spec = cfg->layout_profile, *comma = strchr(spec, ',');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(comma ? (size_t)(comma - spec) : strlen(spec)), spec);
		if (strchr(name, '='))
			comma = spec - 1;
		else if (!pi_layout__find(name))
			return fail(err, errlen, source, "layoutProfile: unknown layout profile \"%s\" (see "
							 "profinferd --list-layouts)", name);
		if (comma && pi_layout__parse_override(comma + 1, &scratch, msg, sizeof(msg)))
			return fail(err, errlen, source, "layoutProfile: %s", msg);
		o->layout = cfg->layout_profile;
	}
	if (cfg->has_layout_override && cfg->layout_override.name[0])
		return fail(err, errlen, source, "layoutOverride: not supported by this collector (proto3 "
						 "cannot tell an unset offset from 0); put overrides in layoutProfile as "
						 "\"PROFILE,key=offset,...\"");
	if (cfg->ring_buffer_kib && (cfg->ring_buffer_kib < 64 || cfg->ring_buffer_kib > (1u << 21)))
		return fail(err, errlen, source, "ringBufferKib: %u is not 64..2097152", cfg->ring_buffer_kib);
	o->ring_buffer_kib = cfg->ring_buffer_kib;
	if (cfg->output_path[0]) {
		if (!printable(cfg->output_path))
			return fail(err, errlen, source, "outputPath: not printable");
		out->output_path = cfg->output_path;
	}
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

struct json {
	const char *text;
	size_t len;
	jsmntok_t *tok;
	int n;
	const char *source;
	char *err;
	size_t errlen;
};

/* The path of the field being read, for messages ("qosRule.windowTokens"). */
static int jfail(struct json *j, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(j->err, j->errlen, j->source, "%s: %s", path, msg);
}

/* Index of the token after token i and everything inside it. */
static int skip(const struct json *j, int i)
{
	int end = j->tok[i].end;

	i++;
	while (i < j->n && j->tok[i].start < end)
		i++;
	return i;
}

static bool tok_is(const struct json *j, int i, const char *lit)
{
	size_t n = j->tok[i].end - j->tok[i].start;

	return strlen(lit) == n && !memcmp(j->text + j->tok[i].start, lit, n);
}

static bool is_null(const struct json *j, int i)
{
	return j->tok[i].type == JSMN_PRIMITIVE && tok_is(j, i, "null");
}

/* Decodes a JSON string token into out[cap] (NUL-terminated). */
static int get_string(struct json *j, int i, const char *path, char *out, size_t cap)
{
	const char *p = j->text + j->tok[i].start, *end = j->text + j->tok[i].end;
	size_t n = 0;

	if (j->tok[i].type != JSMN_STRING)
		return jfail(j, path, "expected a string");
	while (p < end) {
		unsigned c = (unsigned char)*p++;

		if (c == '\\') {
			c = (unsigned char)*p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				char hex[5] = { 0 };

				memcpy(hex, p, 4);
				p += 4;
				c = strtoul(hex, NULL, 16);
				if (!c || c > 0x7f)
					return jfail(j, path, "\\u%s: only ASCII escapes are accepted", hex);
				break;
			}
			default: return jfail(j, path, "bad escape");
			}
		} else if (c < 0x20) {
			return jfail(j, path, "control character in string");
		}
		if (n + 1 >= cap)
			return jfail(j, path, "too long (at most %zu bytes)", cap - 1);
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

static int get_bool(struct json *j, int i, const char *path, bool *out)
{
	if (tok_is(j, i, "true") && j->tok[i].type == JSMN_PRIMITIVE)
		*out = true;
	else if (tok_is(j, i, "false") && j->tok[i].type == JSMN_PRIMITIVE)
		*out = false;
	else if (is_null(j, i))
		*out = false;
	else
		return jfail(j, path, "expected true or false");
	return 0;
}

/* A number token, or a quoted number (proto3 JSON allows both). */
static int get_number_text(struct json *j, int i, const char *path, char *buf, size_t cap)
{
	size_t n = j->tok[i].end - j->tok[i].start;

	if ((j->tok[i].type != JSMN_PRIMITIVE && j->tok[i].type != JSMN_STRING) || n == 0 || n >= cap ||
	    tok_is(j, i, "true") || tok_is(j, i, "false"))
		return jfail(j, path, "expected a number");
	memcpy(buf, j->text + j->tok[i].start, n);
	buf[n] = '\0';
	return 0;
}

static int get_u32(struct json *j, int i, const char *path, uint32_t *out)
{
	char buf[32], *end;
	double v;

	if (is_null(j, i)) {
		*out = 0;
		return 0;
	}
	if (get_number_text(j, i, path, buf, sizeof(buf)))
		return -EINVAL;
	errno = 0;
	v = strtod(buf, &end);
	if (errno || *end || buf[0] == '-' || v > UINT32_MAX || v != (double)(uint32_t)v)
		return jfail(j, path, "expected an integer 0..4294967295, not %s", buf);
	*out = (uint32_t)v;
	return 0;
}

static int get_double(struct json *j, int i, const char *path, double *out)
{
	char buf[64], *end;

	if (is_null(j, i)) {
		*out = 0;
		return 0;
	}
	if (get_number_text(j, i, path, buf, sizeof(buf)))
		return -EINVAL;
	errno = 0;
	*out = strtod(buf, &end);
	if (errno || *end || !isfinite(*out))
		return jfail(j, path, "expected a finite number, not %s", buf);
	return 0;
}

static int get_level(struct json *j, int i, const char *path, profinfer_v1_TraceLevel *out)
{
	static const struct {
		const char *name, *alias;
		profinfer_v1_TraceLevel v;
	} levels[] = {
		{ "TRACE_LEVEL_UNSPECIFIED", NULL, profinfer_v1_TraceLevel_TRACE_LEVEL_UNSPECIFIED },
		{ "TRACE_LEVEL_OFF", "off", profinfer_v1_TraceLevel_TRACE_LEVEL_OFF },
		{ "TRACE_LEVEL_TOKEN", "token", profinfer_v1_TraceLevel_TRACE_LEVEL_TOKEN },
		{ "TRACE_LEVEL_GRAPH", "graph", profinfer_v1_TraceLevel_TRACE_LEVEL_GRAPH },
		{ "TRACE_LEVEL_NODE", "node", profinfer_v1_TraceLevel_TRACE_LEVEL_NODE },
	};
	char name[40];

	if (is_null(j, i)) {
		*out = profinfer_v1_TraceLevel_TRACE_LEVEL_UNSPECIFIED;
		return 0;
	}
	if (j->tok[i].type == JSMN_PRIMITIVE) {
		uint32_t v;

		if (get_u32(j, i, path, &v))
			return -EINVAL;
		if (v > profinfer_v1_TraceLevel_TRACE_LEVEL_NODE)
			return jfail(j, path, "unknown level %u", v);
		*out = (profinfer_v1_TraceLevel)v;
		return 0;
	}
	if (j->tok[i].type != JSMN_STRING || j->tok[i].end - j->tok[i].start >= (int)sizeof(name))
		return jfail(j, path, "expected a level name (\"TRACE_LEVEL_NODE\" or \"node\")");
	if (get_string(j, i, path, name, sizeof(name)))
		return -EINVAL;
	for (size_t k = 0; k < sizeof(levels) / sizeof(levels[0]); k++)
		if (!strcmp(name, levels[k].name) || (levels[k].alias && !strcmp(name, levels[k].alias))) {
			*out = levels[k].v;
			return 0;
		}
	return jfail(j, path, "unknown level \"%s\" (TRACE_LEVEL_TOKEN, TRACE_LEVEL_GRAPH, TRACE_LEVEL_NODE "
			      "or token, graph, node)", name);
}

/* Matches a key against a field's JSON (lowerCamelCase) and proto names. */
static bool key_is(const char *key, const char *json_name, const char *proto_name)
{
	return !strcmp(key, json_name) || !strcmp(key, proto_name);
}

/* Walks an object's members: calls field() for each, rejects duplicates. */
typedef int (*field_fn)(struct json *j, int val, const char *key, const char *path, void *out);

static int walk_object(struct json *j, int obj, const char *path, const char *const *names,
		       size_t n_names, field_fn field, void *out)
{
	char keys[32][48];
	int n_keys = 0, i = obj + 1, e;

	if (j->tok[obj].type != JSMN_OBJECT)
		return jfail(j, path[0] ? path : "config", "expected an object");
	for (int m = 0; m < j->tok[obj].size; m++) {
		char key[48], sub[160];
		const char *near;

		if (j->tok[i].type != JSMN_STRING || get_string(j, i, path[0] ? path : "config", key, sizeof(key)))
			return jfail(j, path[0] ? path : "config", "bad member name");
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		for (int k = 0; k < n_keys; k++)
			if (!strcmp(keys[k], key))
				return jfail(j, sub, "given twice");
		if (n_keys < 32)
			snprintf(keys[n_keys++], sizeof(keys[0]), "%s", key);
		e = field(j, i + 1, key, sub, out);
		if (e == -ENOENT) {
			near = closest(key, names, n_names);
			if (near)
				return jfail(j, sub, "unknown field (did you mean \"%s\"?)", near);
			return jfail(j, sub, "unknown field");
		}
		if (e)
			return e;
		i = skip(j, i + 1);
	}
	return 0;
}

static const char *const qos_names[] = { "minTokensPerS", "resumeTokensPerS", "windowTokens",
					  "degradedLevel" };

static int qos_field(struct json *j, int v, const char *key, const char *path, void *out)
{
	profinfer_v1_QosRule *r = out;

	if (key_is(key, "minTokensPerS", "min_tokens_per_s"))
		return get_double(j, v, path, &r->min_tokens_per_s);
	if (key_is(key, "resumeTokensPerS", "resume_tokens_per_s"))
		return get_double(j, v, path, &r->resume_tokens_per_s);
	if (key_is(key, "windowTokens", "window_tokens"))
		return get_u32(j, v, path, &r->window_tokens);
	if (key_is(key, "degradedLevel", "degraded_level"))
		return get_level(j, v, path, &r->degraded_level);
	return -ENOENT;
}

static const char *const probe_names[] = { "library", "function", "tensorArg", "backend" };

static int probe_field(struct json *j, int v, const char *key, const char *path, void *out)
{
	profinfer_v1_ProbeSpec *p = out;

	if (key_is(key, "library", "library"))
		return get_string(j, v, path, p->library, sizeof(p->library));
	if (key_is(key, "function", "function"))
		return get_string(j, v, path, p->function, sizeof(p->function));
	if (key_is(key, "tensorArg", "tensor_arg"))
		return get_u32(j, v, path, &p->tensor_arg);
	if (key_is(key, "backend", "backend"))
		return get_string(j, v, path, p->backend, sizeof(p->backend));
	return -ENOENT;
}

/* An array of strings into char[max][cap]. */
static int get_strings(struct json *j, int v, const char *path, char *out, size_t cap, size_t max,
		       pb_size_t *count)
{
	int i = v + 1;

	*count = 0;
	if (is_null(j, v))
		return 0;
	if (j->tok[v].type != JSMN_ARRAY)
		return jfail(j, path, "expected an array of strings");
	if ((size_t)j->tok[v].size > max)
		return jfail(j, path, "at most %zu entries", max);
	for (int k = 0; k < j->tok[v].size; k++) {
		char sub[160];

		snprintf(sub, sizeof(sub), "%s[%d]", path, k);
		if (get_string(j, i, sub, out + (size_t)k * cap, cap))
			return -EINVAL;
		i = skip(j, i);
		(*count)++;
	}
	return 0;
}

static const char *const config_names[] = {
	"level", "structure", "sched", "counters", "moe", "probes", "opFilter", "sampleEveryNTokens",
	"qosRule", "layoutProfile", "layoutOverride", "ringBufferKib", "outputPath",
};

static int config_field(struct json *j, int v, const char *key, const char *path, void *out)
{
	profinfer_v1_SessionConfig *c = out;

	if (key_is(key, "level", "level"))
		return get_level(j, v, path, &c->level);
	if (key_is(key, "structure", "structure"))
		return get_bool(j, v, path, &c->structure);
	if (key_is(key, "sched", "sched"))
		return get_bool(j, v, path, &c->sched);
	if (key_is(key, "moe", "moe"))
		return get_bool(j, v, path, &c->moe);
	if (key_is(key, "counters", "counters"))
		return get_strings(j, v, path, &c->counters[0][0], sizeof(c->counters[0]), 16, &c->counters_count);
	if (key_is(key, "opFilter", "op_filter"))
		return get_strings(j, v, path, &c->op_filter[0][0], sizeof(c->op_filter[0]), 64,
				   &c->op_filter_count);
	if (key_is(key, "sampleEveryNTokens", "sample_every_n_tokens"))
		return get_u32(j, v, path, &c->sample_every_n_tokens);
	if (key_is(key, "ringBufferKib", "ring_buffer_kib"))
		return get_u32(j, v, path, &c->ring_buffer_kib);
	if (key_is(key, "layoutProfile", "layout_profile"))
		return get_string(j, v, path, c->layout_profile, sizeof(c->layout_profile));
	if (key_is(key, "outputPath", "output_path"))
		return get_string(j, v, path, c->output_path, sizeof(c->output_path));
	if (key_is(key, "qosRule", "qos_rule")) {
		if (is_null(j, v))
			return 0;
		c->has_qos_rule = true;
		return walk_object(j, v, path, qos_names, 4, qos_field, &c->qos_rule);
	}
	if (key_is(key, "layoutOverride", "layout_override")) {
		if (is_null(j, v))
			return 0;
		/* Only its presence matters (to_opts rejects it): any object. */
		if (j->tok[v].type != JSMN_OBJECT)
			return jfail(j, path, "expected an object");
		c->has_layout_override = true;
		snprintf(c->layout_override.name, sizeof(c->layout_override.name), "given");
		return 0;
	}
	if (key_is(key, "probes", "probes")) {
		int i = v + 1;

		if (is_null(j, v))
			return 0;
		if (j->tok[v].type != JSMN_ARRAY)
			return jfail(j, path, "expected an array of probe specs");
		if (j->tok[v].size > 8)
			return jfail(j, path, "at most 8 probe specs");
		for (int k = 0; k < j->tok[v].size; k++) {
			char sub[160];

			snprintf(sub, sizeof(sub), "%s[%d]", path, k);
			if (walk_object(j, i, sub, probe_names, 4, probe_field, &c->probes[k]))
				return -EINVAL;
			c->probes_count++;
			i = skip(j, i);
		}
		return 0;
	}
	return -ENOENT;
}

/* Byte span of token i as written (strings with their quotes). */
static int tok_begin(const struct json *j, int i)
{
	return j->tok[i].start - (j->tok[i].type == JSMN_STRING);
}

static int tok_end(const struct json *j, int i)
{
	return j->tok[i].end + (j->tok[i].type == JSMN_STRING);
}

/* text[a, b) must be blanks around exactly one `sep` (none when 0).
 * Returns -1 when it is, else the offending offset. */
static int check_gap(const struct json *j, int a, int b, char sep, char *missing)
{
	bool seen = !sep;

	for (int k = a; k < b; k++) {
		char ch = j->text[k];

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
			continue;
		if (ch == sep && !seen) {
			seen = true;
			continue;
		}
		return k;
	}
	if (seen)
		return -1;
	*missing = sep;
	return b;
}

/* jsmn is lenient about separators ({"a": 1,}, [1 2]): check what lies
 * between the members of every object and array. Returns -1 or the
 * offset of the first misplaced character. */
static int check_separators(const struct json *j, char *missing)
{
	for (int c = 0; c < j->n; c++) {
		bool obj = j->tok[c].type == JSMN_OBJECT;
		int pos, i = c + 1, bad;

		if (!obj && j->tok[c].type != JSMN_ARRAY)
			continue;
		pos = j->tok[c].start + 1;
		for (int k = 0; k < j->tok[c].size; k++) {
			int v = obj ? i + 1 : i;

			if (i >= j->n || (bad = check_gap(j, pos, tok_begin(j, i), k ? ',' : 0, missing)) >= 0)
				return i >= j->n ? j->tok[c].start : bad;
			if (obj && (v >= j->n || (bad = check_gap(j, tok_end(j, i), tok_begin(j, v), ':', missing)) >= 0))
				return v >= j->n ? j->tok[c].start : bad;
			pos = tok_end(j, v);
			i = skip(j, v);
		}
		if ((bad = check_gap(j, pos, j->tok[c].end - 1, 0, missing)) >= 0)
			return bad;
	}
	return -1;
}

/* Line and column of byte `pos`, for malformed JSON. */
static void line_col(const char *text, size_t pos, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int pi_session_config__from_json(const char *text, size_t len, const char *source,
				 profinfer_v1_SessionConfig *cfg, char *err, size_t errlen)
{
	struct json j = { .text = text, .len = len, .source = source, .err = err, .errlen = errlen };
	jsmn_parser p;
	char missing = 0;
	unsigned line, col;
	int n, e;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	if (len > PI_SESSION_CONFIG_MAX_BYTES)
		return fail(err, errlen, source, "larger than %d bytes: not a session configuration",
			    PI_SESSION_CONFIG_MAX_BYTES);
	if (memchr(text, '\0', len))
		return fail(err, errlen, source, "malformed JSON: NUL byte");
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, NULL, 0);
	if (n < 0) {
		line_col(text, p.pos < len ? p.pos : len, &line, &col);
		return fail(err, errlen, source, "%u:%u: malformed JSON: %s", line, col,
			    n == JSMN_ERROR_PART ? "unexpected end (unclosed string, object or array)"
			    : "invalid character");
	}
	if (n == 0)
		return fail(err, errlen, source, "malformed JSON: empty (expected a SessionConfig object)");
	j.tok = calloc(n, sizeof(*j.tok));
	if (!j.tok)
		return fail(err, errlen, source, "out of memory");
	jsmn_init(&p);
	j.n = jsmn_parse(&p, text, len, j.tok, n);
	if (j.n != n) {
		free(j.tok);
		line_col(text, p.pos < len ? p.pos : len, &line, &col);
		return fail(err, errlen, source, "%u:%u: malformed JSON: %s", line, col,
			    j.n == JSMN_ERROR_PART ? "unexpected end (unclosed string, object or array)"
			    : "invalid character");
	}
	if ((e = check_separators(&j, &missing)) >= 0) {
		line_col(text, e, &line, &col);
		free(j.tok);
		if (missing)
			return fail(err, errlen, source, "%u:%u: malformed JSON: expected '%c'", line, col, missing);
		return fail(err, errlen, source, "%u:%u: malformed JSON: misplaced '%c'", line, col, text[e]);
	}
	/* jsmn takes any word for a literal: check each one. */
	for (int i = 0; i < n; i++) {
		char buf[64], *end;

		if (j.tok[i].type != JSMN_PRIMITIVE || tok_is(&j, i, "true") || tok_is(&j, i, "false") ||
		    tok_is(&j, i, "null"))
			continue;
		snprintf(buf, sizeof(buf), "%.*s", j.tok[i].end - j.tok[i].start, text + j.tok[i].start);
		if (strspn(buf, "-+.0123456789eE") == strlen(buf) && buf[0] != '+' &&
		    (strtod(buf, &end), !*end))
			continue;
		line_col(text, j.tok[i].start, &line, &col);
		free(j.tok);
		return fail(err, errlen, source, "%u:%u: malformed JSON: \"%s\" is not a value", line, col, buf);
	}
	if (skip(&j, 0) != n) {
		line_col(text, j.tok[skip(&j, 0)].start, &line, &col);
		free(j.tok);
		return fail(err, errlen, source, "%u:%u: malformed JSON: more than one value", line, col);
	}
	if (j.tok[0].type != JSMN_OBJECT) {
		free(j.tok);
		return fail(err, errlen, source, "expected a JSON object (a SessionConfig), e.g. "
						 "{\"level\": \"TRACE_LEVEL_NODE\"}");
	}
	e = walk_object(&j, 0, "", config_names, sizeof(config_names) / sizeof(config_names[0]),
			config_field, cfg);
	free(j.tok);
	return e ? -EINVAL : 0;
}

int pi_session_config__read_file(const char *path, profinfer_v1_SessionConfig *cfg, char *err,
				 size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, "cannot read: %s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, path, "not a regular file");
	}
	if (st.st_size > PI_SESSION_CONFIG_MAX_BYTES) {
		close(fd);
		return fail(err, errlen, path, "larger than %d bytes: not a session configuration",
			    PI_SESSION_CONFIG_MAX_BYTES);
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return fail(err, errlen, path, "out of memory");
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return fail(err, errlen, path, "short read");
	}
	e = pi_session_config__from_json(buf, n, path, cfg, err, errlen);
	free(buf);
	return e;
}
