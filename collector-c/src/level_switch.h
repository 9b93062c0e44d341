/* Level switching: the graph- and node-level probes of every attached file
 * of every target, kept so they can be detached and attached again while a
 * session runs (QoS rule, sampling, a client's SetLevel). A probe that is
 * attached but told to do nothing still traps, and the trap is the cost
 * (about 1-12 us per hit here): so lowering the level detaches, it does not
 * flag. Token probes stay attached for the whole session (collector.c).
 *
 * What a token records is decided in BPF when its llama_decode begins
 * (bpf/llama.bpf.c level_now / level_gate): the collector attaches first and
 * then raises level_now, and lowers level_now first and detaches once no
 * token that began at the higher level is still running. So a token is
 * recorded whole at one level, and TokenEvent.node_level says which. */
#ifndef PI_LEVEL_SWITCH_H
#define PI_LEVEL_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "probe_plan.h"

struct bpf_program;
struct pi_level_switch;

/* What attaching and detaching cost so far (CLOCK_MONOTONIC wall time).
 * Attaching runs in the collector's thread (attach_ns: per level raise);
 * destroying links runs in a thread of its own (detach_ns: per link, since
 * each waits for RCU grace periods in the kernel). */
struct pi_level_switch_cost {
	uint64_t attaches, attach_ns, attach_ns_max, links_created;
	uint64_t detaches, detach_ns, detach_ns_max, links_destroyed;
};

/* The level a probe kind belongs to: PI_LEVEL_GRAPH or PI_LEVEL_NODE for
 * switchable probes, 0 for those always attached (token, loader). */
int pi_level_switch__kind_level(enum pi_probe_kind k);

/* progs: the BPF program of each probe kind (PI_PROBE_KIND_COUNT). */
struct pi_level_switch *pi_level_switch__new(struct bpf_program *const *progs, bool multi,
					     enum pi_level level);
void pi_level_switch__free(struct pi_level_switch *ls);

/* Keeps the switchable probes of `plan` (one file of one target) and
 * attaches those the current level needs. */
int pi_level_switch__add(struct pi_level_switch *ls, pid_t pid, const char *path,
			 const struct pi_probe_plan *plan, char *err, size_t errlen);

/* Attaches or detaches so that exactly the probes of `level` are attached,
 * in every file added. */
int pi_level_switch__apply(struct pi_level_switch *ls, enum pi_level level, char *err, size_t errlen);

/* The level whose probes are attached now. */
enum pi_level pi_level_switch__attached(const struct pi_level_switch *ls);

/* Detaches everything (end of session). */
void pi_level_switch__detach_all(struct pi_level_switch *ls);

void pi_level_switch__cost(const struct pi_level_switch *ls, struct pi_level_switch_cost *out);

/* The last raise's attach time (0 before the first). */
uint64_t pi_level_switch__last_attach_ns(const struct pi_level_switch *ls);

#endif
