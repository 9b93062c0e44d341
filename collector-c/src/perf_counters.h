/* Counters per node (--counters): parses counter names, opens one perf
 * event per CPU and counter (pid -1, cpu N) and puts them in the BPF map
 * that the node probes read (bpf/llama.bpf.c, map `pmc`). A counter that
 * cannot be opened is kept, not live, with the reason: the session goes on
 * with the others and never records it. */
#ifndef PI_PERF_COUNTERS_H
#define PI_PERF_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "profinfer_events.h"

struct pi_counter {
	uint32_t id;	     /* CounterDescriptor.counter_id: 1-based position in the list */
	char name[64];	     /* as requested */
	const char *kind;    /* "hardware", "software", "raw", "armv8" */
	uint32_t perf_type;
	uint64_t perf_config;
	bool live;
	int slot;	     /* BPF slot (0..n_live-1) when live, else -1 */
	char error[256];     /* why not live: one line, says what to do */
};

struct pi_counter_set {
	struct pi_counter counters[PI_MAX_COUNTERS];
	size_t n;
	size_t n_live;
	int *fds;	     /* ncpu * PI_PMC_SLOTS, -1: none */
	int ncpu;
};

/* Parses a comma-separated list ("page-faults,cycles,raw:0x11,
 * armv8:l3d_cache_refill"). Returns 0 or -EINVAL with a one-line reason
 * naming the bad entry and the valid forms in err. */
int pi_counters__parse(const char *list, struct pi_counter_set *set, char *err, size_t errlen);

/* Opens every counter on every CPU (and the context-switch guard). Sets
 * live/slot/error per counter; never fails because one counter cannot be
 * opened. Returns 0 or -errno when nothing can work (no perf events). */
int pi_counters__open(struct pi_counter_set *set, char *err, size_t errlen);

/* Puts the open events into the BPF map (after the BPF object is loaded). */
int pi_counters__fill_map(const struct pi_counter_set *set, int map_fd, char *err, size_t errlen);

/* Closes the perf events. */
void pi_counters__close(struct pi_counter_set *set);

/* The live counter in BPF slot `slot`. */
const struct pi_counter *pi_counters__by_slot(const struct pi_counter_set *set, int slot);

/* Every name accepted, one line per group, for --help and errors. */
extern const char pi_counters__valid_forms[];

#endif
