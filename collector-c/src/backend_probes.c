// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "backend_probes.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pi_probe_spec pi_backend__builtin_specs[] = {
	{ "*", "ggml_cl_compute_forward", 1, "OpenCL" },
	{ "*", "ggml_rk_compute_forward", 1, "RKNPU" },
	{ "*", "ggml_cuda_compute_forward", 1, "CUDA" },
};
const size_t pi_backend__n_builtin_specs =
	sizeof(pi_backend__builtin_specs) / sizeof(pi_backend__builtin_specs[0]);

static bool is_identifier(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int pi_probe_spec__parse(char *s, struct pi_probe_spec *out, char *err, size_t errlen)
{
	char *lib = s, *func, *arg, *backend = NULL, *end;
	unsigned long n;

	func = strchr(lib, ':');
	arg = func ? strchr(func + 1, ':') : NULL;
	if (!func || !arg) {
		snprintf(err, errlen, "--probe '%s': expected LIB:FUNC:ARG[:BACKEND], e.g. "
				      "libggml-opencl.so:ggml_cl_compute_forward:1:OpenCL", s);
		return -EINVAL;
	}
	*func++ = '\0';
	*arg++ = '\0';
	if ((backend = strchr(arg, ':')))
		*backend++ = '\0';
	if (!*lib || !printable(lib)) {
		snprintf(err, errlen, "--probe: library: a library file name, path or pattern is needed "
				      "(e.g. libggml-opencl.so, or * for any)");
		return -EINVAL;
	}
	if (!is_identifier(func)) {
		snprintf(err, errlen, "--probe: function: '%s' is not a function symbol", func);
		return -EINVAL;
	}
	n = strtoul(arg, &end, 10);
	if (!*arg || *end || n >= PI_BACKEND_REG_ARGS) {
		snprintf(err, errlen, "--probe: tensor_arg: '%s' is not a register argument (0..%d on this "
				      "architecture, 0-based)", arg, PI_BACKEND_REG_ARGS - 1);
		return -EINVAL;
	}
	if (backend && (!*backend || !printable(backend) || strlen(backend) > 63)) {
		snprintf(err, errlen, "--probe: backend: '%s' is not a backend name (1..63 printable "
				      "characters)", backend);
		return -EINVAL;
	}
	*out = (struct pi_probe_spec){ lib, func, (uint32_t)n, backend && *backend ? backend : func };
	return 0;
}

bool pi_probe_spec__library_matches(const struct pi_probe_spec *spec, const char *path)
{
	const char *base = strrchr(path, '/');

	if (!strcmp(spec->library, "*"))
		return true;
	if (strchr(spec->library, '/'))
		return !fnmatch(spec->library, path, 0);
	base = base ? base + 1 : path;
	/* "libggml-opencl.so" also matches libggml-opencl.so.1 and friends. */
	return !fnmatch(spec->library, base, 0) ||
	       (!strncmp(base, spec->library, strlen(spec->library)) && base[strlen(spec->library)] == '.');
}

bool pi_probe_spec__symbol_is(const char *sym, const char *func)
{
	char len[24];
	size_t n = snprintf(len, sizeof(len), "%zu", strlen(func));

	if (!strcmp(sym, func))
		return true;
	if (strncmp(sym, "_Z", 2))
		return false;
	sym += 2;
	if (*sym == 'L')
		sym++;
	return !strncmp(sym, len, n) && !strncmp(sym + n, func, strlen(func));
}

void pi_probe_spec__prefixes(const char *func, char buf[3][160], const char *out[4])
{
	snprintf(buf[0], 160, "%s", func);
	snprintf(buf[1], 160, "_Z%zu%s", strlen(func), func);
	snprintf(buf[2], 160, "_ZL%zu%s", strlen(func), func);
	out[0] = buf[0];
	out[1] = buf[1];
	out[2] = buf[2];
	out[3] = NULL;
}
