/* libFuzzer target: loading the trace directory's index (trace_store.c).
 * index.tsv is outside input on every start of profinferd serve (a previous
 * run, a full disk, another program may have written it), so whatever it
 * holds must give a store of valid entries only: ids of [0-9a-z-], known
 * statuses, printable targets, and no entry without its file.
 *
 * Each input is written as index.tsv into a scratch trace directory that
 * also holds two trace files, so that entries naming them survive the
 * check against the directory. Built and run like control_frame_fuzz.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_store.h"

static char dir[64];

static void put(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	close(fd);
}

static void remove_dir(void)
{
	static const char *const names[] = { "20260101-000000-000000000000.pftrace", "a.pftrace", "index.tsv",
					     ".index.tsv.tmp" };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "/tmp/pi-trace-index-fuzz-XXXXXX");
	assert(mkdtemp(dir));
	atexit(remove_dir);
	return 0;
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > PI_TRACE_ID_MAX)
		return false;
	return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz-") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pi_trace_store *s = NULL;
	char err[256];

	/* Files that entries may name; anything else the store adopts or drops. */
	put("20260101-000000-000000000000.pftrace", (const uint8_t *)"\x0a\x00", 2);
	put("a.pftrace", (const uint8_t *)"", 0);
	put("index.tsv", data, size);
	if (pi_trace_store__open(dir, 1 << 20, &s, err, sizeof(err)))
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct pi_trace_entry *e = &s->entries[i];

		assert(valid_id(e->trace_id) && (valid_id(e->session_id) || !strcmp(e->session_id, "unknown")));
		assert(e->status == PI_TRACE_COMPLETE || e->status == PI_TRACE_TRUNCATED); /* never running */
		assert(strlen(e->target) < PI_TRACE_TARGET_MAX);
		for (const char *p = e->target; *p; p++)
			assert(*p >= 0x20 && *p <= 0x7e);
		assert(pi_trace_store__find(s, e->trace_id) == e); /* no duplicates */
		if (i)
			assert(s->entries[i - 1].start_unix_ns <= e->start_unix_ns);
	}
	pi_trace_store__free(s);
	return 0;
}
