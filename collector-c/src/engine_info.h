/* What the engine calls its ops: GGML's own name tables (GGML_OP_NAME,
 * GGML_UNARY_OP_NAME, GGML_GLU_OP_NAME), because op numbering changes
 * between GGML versions. Read from the file (pointers resolved through
 * their relocations), so neither a live process nor its timing matters. */
#ifndef PI_ENGINE_INFO_H
#define PI_ENGINE_INFO_H

#include <stddef.h>
#include "elf_file.h"

struct pi_engine_names {
	char **ops, **unary, **glu;
	size_t n_ops, n_unary, n_glu;
};

/* Returns 0, -ENOENT when `f` has no GGML_OP_NAME, or -errno. */
int pi_engine_info__read(const struct pi_elf_file *f, struct pi_engine_names *out);
void pi_engine_info__free(struct pi_engine_names *n);

#endif
