/* trace_store.h: the device's trace directory.
 *
 * One file per session, <trace id>.pftrace, named by ids this module makes
 * (never by a client), and an index (index.tsv: trace id, session id, status,
 * start, end, size, target) rewritten atomically on every change. The index
 * and the directory are outside input on start: every line is checked, bad
 * ones are dropped with a warning, traces still "running" from a previous
 * run become "truncated", and files the index lost are adopted as truncated.
 * A size quota removes the oldest finished traces first, never a running one,
 * and never the trace that finished last (so a trace bigger than the quota
 * can still be pulled once it ends).
 */
#ifndef PI_TRACE_STORE_H
#define PI_TRACE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PI_TRACE_ID_MAX 48      /* = PI_CONTROL_MAX_ID */
#define PI_TRACE_TARGET_MAX 256
#define PI_TRACE_STORE_MAX_ENTRIES 100000

enum pi_trace_status { PI_TRACE_RUNNING, PI_TRACE_COMPLETE, PI_TRACE_TRUNCATED };

struct pi_trace_entry {
	char trace_id[PI_TRACE_ID_MAX + 1];
	char session_id[PI_TRACE_ID_MAX + 1];
	char target[PI_TRACE_TARGET_MAX];	/* "pid 4242 llama-cli", "name llama-cli" */
	uint64_t start_unix_ns, end_unix_ns, size_bytes;
	enum pi_trace_status status;
	bool marked_for_pull;	/* MarkTrace: the host's next batch pull takes it */
};

struct pi_trace_store {
	char dir[4096];
	uint64_t quota_bytes;	/* 0: no quota */
	struct pi_trace_entry *entries;	/* oldest first */
	size_t n, cap;
};

const char *pi_trace_status__name(enum pi_trace_status s);

/* Creates dir (0750) when missing and loads its index. Warnings about what
 * was dropped or adopted go to stderr. Returns 0 or -errno with err. */
int pi_trace_store__open(const char *dir, uint64_t quota_bytes, struct pi_trace_store **out, char *err,
			 size_t errlen);
void pi_trace_store__free(struct pi_trace_store *s);

/* A fresh random id of `prefix` + time + 48 random bits, [0-9a-z-] only. */
void pi_trace_store__new_id(const char *prefix, char *out, size_t len);

/* Starts a running trace: creates its file (returned in *fd, write-only,
 * 0640) and indexes it. trace_id gets PI_TRACE_ID_MAX + 1 bytes. */
int pi_trace_store__create(struct pi_trace_store *s, const char *session_id, const char *target, char *trace_id,
			   int *fd, char *err, size_t errlen);

/* Marks a trace finished with its final size. */
void pi_trace_store__finish(struct pi_trace_store *s, const char *trace_id, enum pi_trace_status status,
			    uint64_t size_bytes);

/* The entry of trace_id, or NULL. Valid until the next change. */
struct pi_trace_entry *pi_trace_store__find(struct pi_trace_store *s, const char *trace_id);

/* Opens a trace's file read-only; -errno. */
int pi_trace_store__open_file(const struct pi_trace_store *s, const struct pi_trace_entry *e);

/* Removes a finished trace; -ENOENT, or -EBUSY while it is running. */
int pi_trace_store__delete(struct pi_trace_store *s, const char *trace_id);

/* Marks a trace for the next batch pull, or clears the mark; -ENOENT. */
int pi_trace_store__mark(struct pi_trace_store *s, const char *trace_id, bool marked);

/* Refreshes the sizes of running traces and deletes the oldest finished
 * ones (but not the one that finished last) until the total fits the quota. Returns how many were deleted;
 * *over is set when running traces alone exceed the quota. */
size_t pi_trace_store__enforce_quota(struct pi_trace_store *s, bool *over);

/* Total bytes of every indexed trace. */
uint64_t pi_trace_store__total_bytes(const struct pi_trace_store *s);

#endif /* PI_TRACE_STORE_H */
