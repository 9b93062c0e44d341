/* What the engine calls its ops: GGML's own name tables (GGML_OP_NAME,
 * GGML_UNARY_OP_NAME, GGML_GLU_OP_NAME), read from the target's memory
 * because op numbering changes between GGML versions. */
#ifndef PI_ENGINE_INFO_H
#define PI_ENGINE_INFO_H

#include <stddef.h>
#include <sys/types.h>
#include "elf_file.h"

struct pi_engine_names {
	char **ops, **unary, **glu;
	size_t n_ops, n_unary, n_glu;
};

/* Reads the tables of `f` as mapped in `pid`. Returns 0 or -errno. */
int pi_engine_info__read(pid_t pid, const struct pi_elf_file *f, struct pi_engine_names *out);
void pi_engine_info__free(struct pi_engine_names *n);

#endif
