// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "engine_info.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PI_MAX_TABLE 1024
#define PI_MAX_OP_NAME 64

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static int read_table(const struct pi_elf_file *f, const char *sym, char ***out, size_t *n)
{
	const struct pi_elf_sym *s = pi_elf_file__find_object(f, sym);
	size_t count;
	char **names;

	*out = NULL;
	*n = 0;
	if (!s || !s->size || s->size % 8)
		return -ENOENT;
	count = s->size / 8;
	if (count > PI_MAX_TABLE)
		return -E2BIG;
	names = calloc(count, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		char buf[PI_MAX_OP_NAME];
		uint64_t ptr;

		if (pi_elf_file__read_pointer(f, s->vaddr + 8 * i, &ptr) ||
		    pi_elf_file__read_string(f, ptr, buf, sizeof(buf)))
			buf[0] = '\0';
		if (!(names[i] = strdup(buf))) {
			free_list(names, count);
			return -ENOMEM;
		}
	}
	*out = names;
	*n = count;
	return 0;
}

int pi_engine_info__read(const struct pi_elf_file *f, struct pi_engine_names *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = read_table(f, "GGML_OP_NAME", &out->ops, &out->n_ops)))
		return err;
	read_table(f, "GGML_UNARY_OP_NAME", &out->unary, &out->n_unary);
	read_table(f, "GGML_GLU_OP_NAME", &out->glu, &out->n_glu);
	return 0;
}

void pi_engine_info__free(struct pi_engine_names *n)
{
	free_list(n->ops, n->n_ops);
	free_list(n->unary, n->n_unary);
	free_list(n->glu, n->n_glu);
	memset(n, 0, sizeof(*n));
}
