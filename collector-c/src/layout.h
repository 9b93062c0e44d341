/* Layout profiles: where GGML keeps the fields the probes read, per GGML
 * version. Offsets are data, not code: chosen automatically from the
 * engine's symbols, checked against what the first captured graph looks
 * like, and overridable by the user (--layout). */
#ifndef PI_LAYOUT_H
#define PI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "profinfer_events.h"

struct pi_layout_profile {
	const char *name;
	const char *describes;
	struct pi_layout layout;
};

const struct pi_layout_profile *pi_layout__find(const char *name);
/* The default profile for an engine that has (or lacks) a graph uid. */
const struct pi_layout_profile *pi_layout__auto(bool has_graph_uid);
/* Parses "name" or "key=value,..." overrides (e.g. "tensor_op=80,tensor_name=256")
 * on top of `base`. Returns 0 or -EINVAL with a message in err. */
int pi_layout__parse_override(const char *spec, struct pi_layout *inout, char *err, size_t errlen);

/* Plausibility of one captured node under the layout: op and type in
 * range, shape positive and bounded, name a C string of printable bytes. */
bool pi_layout__node_plausible(const struct pi_struct_node_event *n, unsigned n_ops);

void pi_layout__list(void);

#endif
