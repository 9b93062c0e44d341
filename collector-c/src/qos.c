// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "qos.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PI_QOS_DEFAULT_WINDOW 16
#define PI_QOS_MAX_BACKOFF 6 /* hold at most 64 windows */
/* Node-level tracing costs about 5-6 % of decode speed on the 1.1B model
 * (BENCHMARKS.md), more on tiny models with few ms per token. */
#define PI_QOS_MAX_SLOWDOWN 1.5

int pi_qos__init(struct pi_qos *q, const struct pi_qos_rule *rule, enum pi_level full_level,
		 char *err, size_t errlen)
{
	struct pi_qos_rule r = rule ? *rule : (struct pi_qos_rule){ 0 };

	memset(q, 0, sizeof(*q));
	if (!r.window_tokens)
		r.window_tokens = PI_QOS_DEFAULT_WINDOW;
	if (!r.degraded_level)
		r.degraded_level = PI_LEVEL_GRAPH;
	if (!isfinite(r.min_tokens_per_s) || r.min_tokens_per_s < 0) {
		snprintf(err, errlen, "qos_rule.min_tokens_per_s must be a number >= 0");
		return -EINVAL;
	}
	if (!r.resume_tokens_per_s)
		r.resume_tokens_per_s = r.min_tokens_per_s;
	if (!isfinite(r.resume_tokens_per_s) || r.resume_tokens_per_s < r.min_tokens_per_s) {
		snprintf(err, errlen, "qos_rule.resume_tokens_per_s (%g) must be >= min_tokens_per_s (%g)",
			 r.resume_tokens_per_s, r.min_tokens_per_s);
		return -EINVAL;
	}
	if (r.window_tokens < 2 || r.window_tokens > PI_QOS_MAX_WINDOW) {
		snprintf(err, errlen, "qos_rule.window_tokens must be 2..%d, not %u", PI_QOS_MAX_WINDOW,
			 r.window_tokens);
		return -EINVAL;
	}
	if (r.degraded_level < PI_LEVEL_TOKEN || r.degraded_level > PI_LEVEL_GRAPH) {
		snprintf(err, errlen, "qos_rule.degraded_level must be TRACE_LEVEL_TOKEN or TRACE_LEVEL_GRAPH");
		return -EINVAL;
	}
	q->rule = r;
	q->rule_on = r.min_tokens_per_s > 0;
	q->full_level = q->level = full_level;
	q->slowdown = 1.0;
	return 0;
}

double pi_qos__tokens_per_s(const struct pi_qos *q)
{
	uint32_t cap = q->rule.window_tokens, last, first;
	uint64_t span;

	if (q->win_fill < 2)
		return 0;
	last = (q->win_head + cap - 1) % cap;
	first = (q->win_head + cap - q->win_fill) % cap;
	span = q->win_end[last] > q->win_end[first] ? q->win_end[last] - q->win_end[first] : 0;
	return span ? (q->win_fill - 1) * 1e9 / span : 0;
}

static double tpot_ms(const struct pi_qos *q)
{
	uint32_t cap = q->rule.window_tokens;
	uint64_t sum = 0;

	if (!q->win_fill)
		return 0;
	for (uint32_t i = 0; i < q->win_fill; i++) {
		uint32_t k = (q->win_head + cap - 1 - i) % cap;

		sum += q->win_end[k] - q->win_start[k];
	}
	return sum / 1e6 / q->win_fill;
}

static void track_ttft(struct pi_qos *q, uint64_t start_ns, uint64_t end_ns, uint32_t n_tokens,
		       uint64_t ctx)
{
	if (q->ttft_known)
		return;
	if (!q->ttft_ctx)
		q->ttft_ctx = ctx;
	if (ctx != q->ttft_ctx)
		return;
	if (n_tokens > 1) {
		if (!q->prompt_start_ns)
			q->prompt_start_ns = start_ns;
		q->prompt_end_ns = end_ns;
	} else if (n_tokens == 1 && q->prompt_start_ns) {
		q->ttft_ms = (q->prompt_end_ns - q->prompt_start_ns) / 1e6;
		q->ttft_known = true;
	}
}

enum pi_level pi_qos__token(struct pi_qos *q, uint64_t start_ns, uint64_t end_ns, uint32_t n_tokens,
			    uint64_t ctx, char *why, size_t whylen)
{
	uint32_t cap = q->rule.window_tokens, w = cap;
	uint64_t since;
	double rate, need;

	track_ttft(q, start_ns, end_ns, n_tokens, ctx);
	if (n_tokens != 1 || end_ns < start_ns || start_ns < q->count_after_ns)
		return q->level;
	q->win_start[q->win_head] = start_ns;
	q->win_end[q->win_head] = end_ns;
	q->win_head = (q->win_head + 1) % cap;
	if (q->win_fill < cap)
		q->win_fill++;
	q->decode_calls++;
	if (!q->rule_on || q->win_fill < cap || q->full_level <= q->rule.degraded_level)
		return q->level;
	rate = pi_qos__tokens_per_s(q);
	since = q->decode_calls - q->changed_at_call;
	if (q->level == q->full_level) {
		if (since >= 8ull * w)
			q->backoff = 0;
		if (rate >= q->rule.min_tokens_per_s)
			return q->level;
		if (q->restored_once && since <= 2ull * w) {
			/* A flap: the probes themselves cost this much. */
			if (q->rate_before_restore > rate)
				q->slowdown = q->rate_before_restore / rate;
			if (q->backoff < PI_QOS_MAX_BACKOFF)
				q->backoff++;
		}
		snprintf(why, whylen, "qos: %.2f tok/s < %g", rate, q->rule.min_tokens_per_s);
		return q->rule.degraded_level;
	}
	if (q->level != q->rule.degraded_level)
		return q->level;
	/* A flap during a workload that itself comes and goes would teach a
	 * slowdown no tracing causes: capped at what node probes cost at worst. */
	need = q->rule.min_tokens_per_s * (q->slowdown < PI_QOS_MAX_SLOWDOWN ? q->slowdown : PI_QOS_MAX_SLOWDOWN) * 1.05;
	if (need < q->rule.resume_tokens_per_s)
		need = q->rule.resume_tokens_per_s;
	if (since < ((uint64_t)w << q->backoff) || rate < need)
		return q->level;
	q->rate_before_restore = rate;
	q->restored_once = true;
	snprintf(why, whylen, "qos: %.2f tok/s >= %.3g", rate, need);
	return q->full_level;
}

void pi_qos__level_changed(struct pi_qos *q, enum pi_level level, uint64_t ts_ns, bool by_client)
{
	if (by_client)
		q->full_level = level;
	q->level = level;
	q->win_fill = 0;
	q->win_head = 0;
	q->count_after_ns = ts_ns;
	q->changed_at_call = q->decode_calls;
}

void pi_qos__sample(struct pi_qos *q, uint64_t now_ns, uint64_t events, uint64_t lost,
		    struct pi_qos_sample *out)
{
	*out = (struct pi_qos_sample){
		.ts_ns = now_ns,
		.tokens_per_s = pi_qos__tokens_per_s(q),
		.ttft_ms = q->ttft_known ? q->ttft_ms : 0,
		.tpot_ms = tpot_ms(q),
		.level = q->level,
		.lost_events = lost,
		.window_fill = q->win_fill,
	};
	if (q->last_sample_ns && now_ns > q->last_sample_ns && events >= q->last_events)
		out->events_per_s = (events - q->last_events) * 1e9 / (now_ns - q->last_sample_ns);
	q->last_sample_ns = now_ns;
	q->last_events = events;
}
