// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* struct ggml_tensor since GGML_MAX_SRC became 10 (2024), 64-bit:
 * type 0, buffer 8, ne 16, nb 48, op 80, op_params 84, flags 148,
 * src[10] 152, view_src 232, view_offs 240, data 248, name[64] 256.
 * struct ggml_cgraph: size 0, n_nodes 4, n_leafs 8, nodes 16, ..., uid 88
 * (uid exists where ggml_graph_next_uid does). ggml_compute_params: ith 0. */
#define GGML_2025_TENSOR                                                                        \
	.tensor_type = 0, .tensor_ne = 16, .tensor_op = 80, .tensor_op_params = 84,             \
	.tensor_flags = 148, .tensor_src = 152, .max_src = 10, .tensor_view_src = 232,          \
	.tensor_data = 248, .tensor_name = 256, .cgraph_n_nodes = 4, .cgraph_nodes = 16,        \
	.params_ith = 0

static const struct pi_layout_profile profiles[] = {
	{ "ggml-2025-uid", "GGML with GGML_MAX_SRC 10 and ggml_cgraph.uid (llama.cpp 2025-)",
	  { GGML_2025_TENSOR, .cgraph_uid = 88 } },
	{ "ggml-2024", "GGML with GGML_MAX_SRC 10, no graph uid (llama.cpp 2024)",
	  { GGML_2025_TENSOR, .cgraph_uid = 0 } },
};

const struct pi_layout_profile *pi_layout__find(const char *name)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const struct pi_layout_profile *pi_layout__auto(bool has_graph_uid)
{
	return has_graph_uid ? &profiles[0] : &profiles[1];
}

void pi_layout__list(void)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		printf("%-16s %s\n", profiles[i].name, profiles[i].describes);
}

#define FIELD(f) { #f, offsetof(struct pi_layout, f) }
static const struct {
	const char *key;
	size_t off;
} fields[] = {
	FIELD(tensor_type), FIELD(tensor_ne), FIELD(tensor_op), FIELD(tensor_op_params),
	FIELD(tensor_flags), FIELD(tensor_src), FIELD(max_src), FIELD(tensor_view_src),
	FIELD(tensor_data), FIELD(tensor_name), FIELD(cgraph_n_nodes), FIELD(cgraph_nodes),
	FIELD(cgraph_uid), FIELD(params_ith),
};

int pi_layout__parse_override(const char *spec, struct pi_layout *inout, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "layout override is too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long v;
		size_t i;

		if (!eq) {
			snprintf(err, errlen, "layout override '%s' is not key=offset", tok);
			return -EINVAL;
		}
		*eq = '\0';
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strcmp(fields[i].key, tok))
				break;
		if (i == sizeof(fields) / sizeof(fields[0])) {
			snprintf(err, errlen, "unknown layout field '%s' (see --list-layouts)", tok);
			return -EINVAL;
		}
		errno = 0;
		v = strtoul(eq + 1, &end, 0);
		if (errno || *end || end == eq + 1 || v > 4096) {
			snprintf(err, errlen, "layout field '%s': '%s' is not an offset 0..4096", tok, eq + 1);
			return -EINVAL;
		}
		*(__u32 *)((char *)inout + fields[i].off) = (__u32)v;
	}
	return 0;
}

/* What a graph node read through the right layout looks like: a real op
 * (never NONE, never out of the engine's op table), a known type, a shape in
 * range, a printable non-empty name, and a first source. A wrong offset
 * reads pointers or zeros into these fields and fails several at once. */
bool pi_layout__node_plausible(const struct pi_struct_node_event *n, unsigned n_ops)
{
	size_t len = strnlen(n->name, PI_MAX_NAME);

	if (n->op == 0 || (n_ops && n->op >= n_ops) || n->type >= 64 || n->type == 4 || n->type == 5)
		return false;
	if (len == 0 || len == PI_MAX_NAME || !n->src[0])
		return false;
	for (int i = 0; i < 4; i++)
		if (n->ne[i] < 0 || n->ne[i] > (1ll << 40))
			return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)n->name[i] < 0x20 || (unsigned char)n->name[i] > 0x7e)
			return false;
	return true;
}
