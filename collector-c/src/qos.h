/* The QoS controller: live inference metrics from the token probes and the
 * rule that drops node-level tracing when decoding gets slow (QosRule in
 * profinfer.proto). Pure: fed llama_decode calls and counters, attaches
 * nothing; the collector applies the level it asks for (collector.c).
 *
 * Definitions (all from TokenEvent times, CLOCK_MONOTONIC):
 *   TTFT    from the start of the first llama_decode with n_tokens > 1 of
 *           the first context seen, to the end of the last such prompt call
 *           before that context's first single-token call: the time until
 *           the logits of the first generated token exist. The same as
 *           profinfer-host summary. Known once that single-token call ends.
 *   TPOT    mean duration of the single-token calls in the window.
 *   tokens/s  decode rate over the window of the last `window_tokens`
 *           single-token calls: (n - 1) / (end[last] - end[first]). Gaps
 *           between calls count (sampling, a stalled process): it is the
 *           rate a user sees, not the engine's busy time.
 * Values not known yet are 0 (proto3 leaves them out).
 *
 * Hysteresis without oscillation: node-level probes slow decoding a bit,
 * so restoring them can push the rate back under the minimum. Three guards:
 *   1. after every level change the window starts empty and only calls
 *      that began after the change count: each decision sees a full window
 *      at the level in force;
 *   2. a drop within 2 windows of a restore is a flap: the slowdown the
 *      probes caused (rate before restore / rate at the drop) is learned, and
 *      the next restore waits for rate >= min * slowdown * 1.05 (and at
 *      least resume_tokens_per_s), slowdown capped at 1.5 so that a flap the
 *      workload caused cannot keep node level off for good;
 *   3. after each flap the degraded level is held twice as many tokens
 *      (1, 2, 4 ... 64 windows); 8 windows at full level clear it. */
#ifndef PI_QOS_H
#define PI_QOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe_plan.h"

#define PI_QOS_MAX_WINDOW 1024

struct pi_qos_rule {
	double min_tokens_per_s;    /* below: degrade (0: rule off) */
	double resume_tokens_per_s; /* at or above: restore */
	uint32_t window_tokens;	    /* 2..PI_QOS_MAX_WINDOW */
	enum pi_level degraded_level;
};

/* What the service shows and the trace records (QosSample). */
struct pi_qos_sample {
	uint64_t ts_ns;
	double tokens_per_s;
	double ttft_ms;
	double tpot_ms;
	enum pi_level level;
	double events_per_s;
	uint64_t lost_events;
	uint32_t window_fill; /* single-token calls in the window now */
};

struct pi_qos {
	struct pi_qos_rule rule;
	bool rule_on;
	enum pi_level full_level; /* the level asked for (session, client) */
	enum pi_level level;	  /* the level in force */
	/* Window of single-token calls: ring of (start, end). */
	uint64_t win_start[PI_QOS_MAX_WINDOW], win_end[PI_QOS_MAX_WINDOW];
	uint32_t win_head, win_fill;
	uint64_t count_after_ns; /* calls that began before this are ignored */
	/* TTFT. */
	uint64_t ttft_ctx;
	uint64_t prompt_start_ns, prompt_end_ns;
	bool ttft_known;
	double ttft_ms;
	/* Hysteresis state. */
	uint64_t decode_calls;	   /* single-token calls seen */
	uint64_t changed_at_call;  /* decode_calls at the last change */
	double rate_before_restore;
	double slowdown;	   /* learned at a flap; 1: none seen */
	unsigned backoff;	   /* hold 2^backoff windows degraded */
	bool restored_once;
	/* Events/s between two samples. */
	uint64_t last_sample_ns, last_events;
};

/* `full_level`: the session's level. A rule with min_tokens_per_s 0 only
 * measures. Returns 0 or -EINVAL with the reason in err. */
int pi_qos__init(struct pi_qos *q, const struct pi_qos_rule *rule, enum pi_level full_level,
		 char *err, size_t errlen);

/* Feeds one llama_decode call. Returns the level the rule wants now (the
 * level in force when nothing changes) and, on a change, why in `why`. */
enum pi_level pi_qos__token(struct pi_qos *q, uint64_t start_ns, uint64_t end_ns, uint32_t n_tokens,
			    uint64_t ctx, char *why, size_t whylen);

/* The level in force changed at `ts_ns` (by the rule or a client): the
 * window restarts with calls that begin after ts_ns. A client's change also
 * sets what "full" is (`by_client`). */
void pi_qos__level_changed(struct pi_qos *q, enum pi_level level, uint64_t ts_ns, bool by_client);

/* The decode rate over the window, 0 until two calls are in it. */
double pi_qos__tokens_per_s(const struct pi_qos *q);

/* A sample at `now_ns`; events and lost are the collector's running totals. */
void pi_qos__sample(struct pi_qos *q, uint64_t now_ns, uint64_t events, uint64_t lost,
		    struct pi_qos_sample *out);

#endif
