// SPDX-License-Identifier: MIT
/*
 * Synthetic target for bench/throughput.mjs: calls a function named
 * llama_decode (so profinferd's planner probes it at token level, entry and
 * return) at a controlled rate, or makes each call take a known time.
 *
 *   rate_target --rate HZ --seconds S       paced calls, near-empty body
 *   rate_target --work-ns NS --calls N      back-to-back calls of NS each
 *
 * Prints one JSON line on stdout: calls made, the achieved rate, and the
 * duration of each call as the target itself saw it (median, mean), so the
 * bench can compare the tracer's durations and the probe's bias with it.
 * Built by the bench with: cc -O2 -g -fno-inline -o rate_target rate_target.c
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static volatile uint64_t sink;

/* Named like llama.cpp's entry point so profinferd's planner finds it. Spins
 * for work_ns (0: returns at once) and returns 0 as llama_decode does. */
__attribute__((noinline, used)) int llama_decode(void *ctx, uint64_t work_ns)
{
	uint64_t end;

	(void)ctx;
	if (!work_ns)
		return (int)(sink++ & 0);
	end = now_ns() + work_ns;
	while (now_ns() < end)
		sink++;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t rate = 0, seconds = 0, work_ns = 0, calls = 0, max_calls, i, n = 0;
	uint64_t *durations, t0, t_end, next, step_ns = 0, sum = 0;

	for (int a = 1; a + 1 < argc; a += 2) {
		uint64_t *dst = !strcmp(argv[a], "--rate") ? &rate :
				!strcmp(argv[a], "--seconds") ? &seconds :
				!strcmp(argv[a], "--work-ns") ? &work_ns :
				!strcmp(argv[a], "--calls") ? &calls : NULL;

		if (!dst || parse_u64(argv[a + 1], dst)) {
			fprintf(stderr, "rate_target: bad argument '%s'; use --rate HZ --seconds S | --work-ns NS --calls N\n", argv[a]);
			return 2;
		}
	}
	if (!((rate && seconds && !calls) || (calls && !rate))) {
		fprintf(stderr, "rate_target: use --rate HZ --seconds S (paced) or --work-ns NS --calls N (timed)\n");
		return 2;
	}
	max_calls = calls ? calls : rate * seconds;
	durations = calloc(max_calls, sizeof(*durations));
	if (!durations) {
		fprintf(stderr, "rate_target: out of memory for %llu calls\n", (unsigned long long)max_calls);
		return 1;
	}
	if (rate)
		step_ns = 1000000000ull / rate;
	t0 = now_ns();
	t_end = t0 + seconds * 1000000000ull;
	next = t0;
	for (i = 0; i < max_calls; i++) {
		uint64_t s, e;

		if (rate) {
			/* Pace against the schedule, not the last call: a late call
			 * is followed at once, so the mean rate holds. */
			while (now_ns() < next)
				;
			next += step_ns;
			if (now_ns() >= t_end + step_ns)
				break;
		}
		s = now_ns();
		llama_decode(NULL, work_ns);
		e = now_ns();
		durations[n++] = e - s;
		sum += e - s;
	}
	t_end = now_ns();
	qsort(durations, n, sizeof(*durations), cmp_u64);
	printf("{\"calls\":%llu,\"elapsed_ns\":%llu,\"rate_hz\":%.1f,\"work_ns\":%llu,"
	       "\"call_ns_median\":%llu,\"call_ns_mean\":%.1f,\"call_ns_p90\":%llu}\n",
	       (unsigned long long)n, (unsigned long long)(t_end - t0),
	       n * 1e9 / (double)(t_end - t0), (unsigned long long)work_ns,
	       (unsigned long long)(n ? durations[n / 2] : 0), n ? (double)sum / n : 0.0,
	       (unsigned long long)(n ? durations[n * 9 / 10] : 0));
	free(durations);
	return 0;
}
