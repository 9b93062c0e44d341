/* Node-level probes for non-CPU backends: probe specs (ProbeSpec, --probe
 * LIB:FUNC:ARG[:BACKEND]) name a per-node function and the argument that
 * holds its ggml_tensor *; the collector attaches an entry and a return
 * probe to it in every matching library (backend_node_enter/_exit). */
#ifndef PI_BACKEND_PROBES_H
#define PI_BACKEND_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include "collector.h"

#define PI_MAX_BACKEND_SPECS 16

/* Argument registers a uprobe reads (x86-64: 6, aarch64: 8). */
#if defined(__aarch64__)
#define PI_BACKEND_REG_ARGS 8
#else
#define PI_BACKEND_REG_ARGS 6
#endif

/* Specs used wherever their function exists: OpenCL's
 * ggml_cl_compute_forward(backend, tensor), the Rockchip NPU fork's
 * ggml_rk_compute_forward(backend, tensor) and CUDA's static
 * ggml_cuda_compute_forward(ctx, dst) (where the library keeps .symtab). */
extern const struct pi_probe_spec pi_backend__builtin_specs[];
extern const size_t pi_backend__n_builtin_specs;

/* Parses "LIB:FUNC:ARG[:BACKEND]" into `out` (pointing into `s`, which it
 * splits in place). On error writes a line naming the field. */
int pi_probe_spec__parse(char *s, struct pi_probe_spec *out, char *err, size_t errlen);

/* Whether `path` is a library `spec` applies to: "*" any; a pattern with a
 * '/' against the whole path, otherwise against the file name (fnmatch). */
bool pi_probe_spec__library_matches(const struct pi_probe_spec *spec, const char *path);

/* Whether symbol `sym` is function `func`: the same name, or a C++ name
 * mangled from it (_Z<len>func..., _ZL<len>func... for static ones). */
bool pi_probe_spec__symbol_is(const char *sym, const char *func);

/* The symbol prefixes that find `func` (for pi_elf_file__open): func,
 * _Z<len>func and _ZL<len>func, in `buf` (3 strings) and `out` (4, NULL
 * terminated). */
void pi_probe_spec__prefixes(const char *func, char buf[3][160], const char *out[4]);

#endif
