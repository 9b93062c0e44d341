/* test_util.h: the little the C tests share: CHECK, file reading, hex diffs.
 * Each test binary gets the testdata directory (proto/testdata) as argv[1]. */
#ifndef PI_TEST_UTIL_H
#define PI_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failures++;                                             \
		}                                                                    \
	} while (0)

/* Reads a whole small file; returns a malloc'd buffer (NULL on failure). */
static inline uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "failed to open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline void hex_dump(const char *label, const uint8_t *p, size_t n)
{
	fprintf(stderr, "  %s (%zu bytes):", label, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fprintf(stderr, "\n");
}

/* Byte-for-byte equality, with both dumps and the first difference on failure. */
static inline int bytes_equal(const char *what, const uint8_t *got, size_t got_len,
			      const uint8_t *want, size_t want_len)
{
	size_t i = 0;

	if (got_len == want_len && memcmp(got, want, got_len) == 0)
		return 1;
	while (i < got_len && i < want_len && got[i] == want[i])
		i++;
	fprintf(stderr, "%s: bytes differ at offset %zu\n", what, i);
	hex_dump("got", got, got_len);
	hex_dump("want", want, want_len);
	test_failures++;
	return 0;
}

static inline int test_exit(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif /* PI_TEST_UTIL_H */
