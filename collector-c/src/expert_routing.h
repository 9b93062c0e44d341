/* MoE expert routing (--moe): turns the chunked PI_EV_EXPERT records of
 * bpf/llama.bpf.c (moe_dispatch) into one ExpertRouting packet per
 * MUL_MAT_ID node per graph. The records of a graph are held until the
 * graph ends, when its structure says which node each one belongs to, its
 * layer (from the node's name) and how many experts its weights have. What
 * does not check out is counted lost (EVENT_KIND_EXPERT), never written. */
#ifndef PI_EXPERT_ROUTING_H
#define PI_EXPERT_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "graph_assembler.h"
#include "profinfer_events.h"

struct pi_emit;
struct pi_routing;

/* Lost = missing + unplaced; the other drop counters say why nodes went
 * missing. */
struct pi_routing_stats {
	uint64_t emitted;   /* ExpertRouting packets written */
	uint64_t missing;   /* MUL_MAT_ID nodes of ended graphs without a packet */
	uint64_t unplaced;  /* records of no ended graph's MUL_MAT_ID node */
	uint64_t invalid;   /* of missing: wrong type or shape, id out of range */
	uint64_t too_large; /* of missing: more ids than one packet holds */
	uint64_t partial;   /* of missing: a chunk lost in BPF */
};

struct pi_routing *pi_routing__new(void);
void pi_routing__free(struct pi_routing *r);

/* GGML_OP_MUL_MAT_ID of the engine (-1: unknown): nodes of another op are
 * never routing. */
void pi_routing__set_op(struct pi_routing *r, int op_mul_mat_id);

/* One PI_EV_EXPERT record of `size` bytes (checked here). Returns 0 or
 * -errno (-ENOMEM). */
int pi_routing__record(struct pi_routing *r, const void *data, size_t size);

/* Graph `g` ended: writes the routing of its nodes (s: its structure, NULL
 * when not captured) and forgets them. */
void pi_routing__graph(struct pi_routing *r, const struct pi_graph *g, const struct pi_structure *s,
		       struct pi_emit *emit);

/* The session ends: what waits for a graph that never ended is lost. */
void pi_routing__flush(struct pi_routing *r);

const struct pi_routing_stats *pi_routing__stats(const struct pi_routing *r);
/* MUL_MAT_ID nodes whose routing is not in the trace (EVENT_KIND_EXPERT). */
uint64_t pi_routing__dropped(const struct pi_routing *r);

/* The layer of a node named like "ffn_moe_gate-12" (digits after the last
 * '-', to the end), or -1. */
int pi_routing__layer(const char *name);

#endif
