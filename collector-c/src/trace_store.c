/* trace_store.c: see trace_store.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trace_store.h"

#define INDEX_NAME "index.tsv"
/* v2 added `marked`; v1 lines (seven fields, no mark) still load. */
#define INDEX_HEADER "# profinfer trace index v2: trace_id session_id status start_unix_ns end_unix_ns size_bytes marked target"
#define INDEX_HEADER_V1 "# profinfer trace index v1: trace_id session_id status start_unix_ns end_unix_ns size_bytes target"
#define TRACE_SUFFIX ".pftrace"
#define INDEX_LINE_MAX 1024

static const char *const status_names[] = { "running", "complete", "truncated" };

const char *pi_trace_status__name(enum pi_trace_status s)
{
	return (unsigned)s < 3 ? status_names[s] : "unknown";
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool valid_id(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= PI_TRACE_ID_MAX ||
		    !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') || s[n] == '-'))
			return false;
	return n > 0;
}

static bool valid_target(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= PI_TRACE_TARGET_MAX - 1 || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return true;
}

void pi_trace_store__new_id(const char *prefix, char *out, size_t len)
{
	unsigned char r[6] = { 0 };
	time_t t = time(NULL);
	struct tm tm;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* Ids only need to be unique here; fall back to the clock. */
		uint64_t ns = unix_ns();

		memcpy(r, &ns, sizeof(r));
	}
	gmtime_r(&t, &tm);
	snprintf(out, len, "%s%04d%02d%02d-%02d%02d%02d-%02x%02x%02x%02x%02x%02x", prefix, tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, r[0], r[1], r[2], r[3], r[4], r[5]);
}

static void trace_path(const struct pi_trace_store *s, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/%s" TRACE_SUFFIX, s->dir, id);
}

static int save_index(struct pi_trace_store *s)
{
	char tmp[4200], path[4200];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/." INDEX_NAME ".tmp", s->dir);
	snprintf(path, sizeof(path), "%s/" INDEX_NAME, s->dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		int e = -errno;

		if (fd >= 0)
			close(fd);
		fprintf(stderr, "warning: failed to write the trace index %s: %s\n", tmp, strerror(-e));
		return e;
	}
	fprintf(f, "%s\n", INDEX_HEADER);
	for (size_t i = 0; i < s->n; i++) {
		const struct pi_trace_entry *e = &s->entries[i];

		fprintf(f, "%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%d\t%s\n", e->trace_id,
			e->session_id, pi_trace_status__name(e->status), e->start_unix_ns, e->end_unix_ns,
			e->size_bytes, e->marked_for_pull ? 1 : 0, e->target);
	}
	if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "warning: failed to write the trace index %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int push(struct pi_trace_store *s, const struct pi_trace_entry *e)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pi_trace_entry *p;

		if (s->n >= PI_TRACE_STORE_MAX_ENTRIES)
			return -E2BIG;
		p = realloc(s->entries, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->entries = p;
		s->cap = cap;
	}
	s->entries[s->n++] = *e;
	return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9' || strlen(s) > 20)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && !errno;
}

/* One index line (v2, or v1 without `marked`) into e; false when any field
 * is wrong. */
static bool parse_line(char *line, struct pi_trace_entry *e)
{
	char *f[8];
	int n = 0, fields = 1;

	memset(e, 0, sizeof(*e));
	for (const char *p = line; *p; p++)
		fields += *p == '\t';
	if (fields != 7 && fields != 8)
		return false;
	for (char *p = line, *tab; n < fields; n++) {
		f[n] = p;
		tab = strchr(p, '\t');
		if (tab) {
			*tab = '\0';
			p = tab + 1;
		}
	}
	if (fields == 8) {
		if (strcmp(f[6], "0") && strcmp(f[6], "1"))
			return false;
		e->marked_for_pull = f[6][0] == '1';
		f[6] = f[7];
	}
	if (!valid_id(f[0]) || !valid_id(f[1]) || !valid_target(f[6]))
		return false;
	if (!parse_u64(f[3], &e->start_unix_ns) || !parse_u64(f[4], &e->end_unix_ns) ||
	    !parse_u64(f[5], &e->size_bytes))
		return false;
	for (e->status = PI_TRACE_RUNNING; e->status <= PI_TRACE_TRUNCATED; e->status++)
		if (!strcmp(f[2], status_names[e->status]))
			break;
	if (e->status > PI_TRACE_TRUNCATED)
		return false;
	strcpy(e->trace_id, f[0]);
	strcpy(e->session_id, f[1]);
	strcpy(e->target, f[6]);
	return true;
}

static void load_index(struct pi_trace_store *s)
{
	char path[4200], line[INDEX_LINE_MAX + 2];
	size_t lineno = 0, bad = 0;
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" INDEX_NAME, s->dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (errno != ENOENT)
			fprintf(stderr, "warning: cannot read the trace index %s: %s; rebuilding it\n", path,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		struct pi_trace_entry e;
		size_t n = strlen(line);

		lineno++;
		if (n == 0 || line[n - 1] != '\n') {
			int ch;

			bad++; /* too long, or cut off at the end */
			while (n && line[n - 1] != '\n' && (ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		line[n - 1] = '\0';
		if (lineno == 1 && (!strcmp(line, INDEX_HEADER) || !strcmp(line, INDEX_HEADER_V1)))
			continue;
		if (!parse_line(line, &e) || pi_trace_store__find(s, e.trace_id) || push(s, &e)) {
			bad++;
			continue;
		}
	}
	fclose(f);
	if (bad)
		fprintf(stderr, "warning: dropped %zu malformed or duplicate lines of the trace index %s\n", bad, path);
}

/* Checks every entry against its file, and adopts trace files the index
 * does not know (a crash between creating a file and saving the index). */
static void reconcile(struct pi_trace_store *s)
{
	char path[4200];
	struct stat st;
	DIR *d;
	struct dirent *de;

	for (size_t i = 0; i < s->n;) {
		struct pi_trace_entry *e = &s->entries[i];

		trace_path(s, e->trace_id, path, sizeof(path));
		if (lstat(path, &st) || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "warning: trace %s is indexed but %s is missing: dropping it\n", e->trace_id, path);
			memmove(e, e + 1, (s->n - i - 1) * sizeof(*e));
			s->n--;
			continue;
		}
		if (e->status == PI_TRACE_RUNNING) {
			/* The service stopped without finishing it: the file ends at
			 * its last whole packet. */
			e->status = PI_TRACE_TRUNCATED;
			e->end_unix_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
		}
		e->size_bytes = st.st_size;
		i++;
	}
	if (!(d = opendir(s->dir)))
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), sl = strlen(TRACE_SUFFIX);
		struct pi_trace_entry e = { .status = PI_TRACE_TRUNCATED };

		if (n <= sl || n - sl > PI_TRACE_ID_MAX || strcmp(de->d_name + n - sl, TRACE_SUFFIX))
			continue;
		memcpy(e.trace_id, de->d_name, n - sl);
		e.trace_id[n - sl] = '\0';
		if (!valid_id(e.trace_id) || pi_trace_store__find(s, e.trace_id))
			continue;
		trace_path(s, e.trace_id, path, sizeof(path));
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		strcpy(e.session_id, "unknown");
		strcpy(e.target, "unknown (adopted from the trace directory)");
		e.start_unix_ns = e.end_unix_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
		e.size_bytes = st.st_size;
		if (!push(s, &e))
			fprintf(stderr, "warning: adopted %s, which the trace index did not list, as truncated\n", path);
	}
	closedir(d);
	/* Oldest first, for the quota. */
	for (size_t i = 1; i < s->n; i++)
		for (size_t j = i; j > 0 && s->entries[j - 1].start_unix_ns > s->entries[j].start_unix_ns; j--) {
			struct pi_trace_entry t = s->entries[j];

			s->entries[j] = s->entries[j - 1];
			s->entries[j - 1] = t;
		}
}

static int make_dirs(const char *dir)
{
	char p[4096];
	size_t n = strlen(dir);

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0750) && errno != EEXIST)
			return -errno;
		p[i] = dir[i];
	}
	return 0;
}

int pi_trace_store__open(const char *dir, uint64_t quota_bytes, struct pi_trace_store **out, char *err,
			 size_t errlen)
{
	struct pi_trace_store *s;
	struct stat st;
	int e;

	if (dir[0] != '/' || strlen(dir) >= sizeof(s->dir) - 64) {
		set_err(err, errlen, "the trace directory must be an absolute path, not '%s'", dir);
		return -EINVAL;
	}
	if ((e = make_dirs(dir))) {
		set_err(err, errlen, "cannot create the trace directory %s: %s", dir, strerror(-e));
		return e;
	}
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "the trace directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_mode & 0002) {
		set_err(err, errlen, "refusing the trace directory %s: anyone can write to it (chmod o-w)", dir);
		return -EPERM;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->quota_bytes = quota_bytes;
	load_index(s);
	reconcile(s);
	save_index(s);
	*out = s;
	return 0;
}

void pi_trace_store__free(struct pi_trace_store *s)
{
	if (!s)
		return;
	free(s->entries);
	free(s);
}

int pi_trace_store__create(struct pi_trace_store *s, const char *session_id, const char *target, char *trace_id,
			   int *fd, char *err, size_t errlen)
{
	struct pi_trace_entry e = { .status = PI_TRACE_RUNNING };
	char path[4200];
	int r;

	pi_trace_store__new_id("", e.trace_id, sizeof(e.trace_id));
	snprintf(e.session_id, sizeof(e.session_id), "%s", session_id);
	snprintf(e.target, sizeof(e.target), "%s", target);
	for (char *p = e.target; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	e.start_unix_ns = unix_ns();
	trace_path(s, e.trace_id, path, sizeof(path));
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (*fd < 0) {
		r = -errno;
		set_err(err, errlen, "cannot create the trace file %s: %s", path, strerror(-r));
		return r;
	}
	if ((r = push(s, &e))) {
		close(*fd);
		unlink(path);
		set_err(err, errlen, "the trace index is full (%d traces): delete some", PI_TRACE_STORE_MAX_ENTRIES);
		return r;
	}
	save_index(s);
	strcpy(trace_id, e.trace_id);
	return 0;
}

void pi_trace_store__finish(struct pi_trace_store *s, const char *trace_id, enum pi_trace_status status,
			    uint64_t size_bytes)
{
	struct pi_trace_entry *e = pi_trace_store__find(s, trace_id);

	if (!e)
		return;
	e->status = status;
	e->end_unix_ns = unix_ns();
	e->size_bytes = size_bytes;
	save_index(s);
}

struct pi_trace_entry *pi_trace_store__find(struct pi_trace_store *s, const char *trace_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->entries[i].trace_id, trace_id))
			return &s->entries[i];
	return NULL;
}

int pi_trace_store__open_file(const struct pi_trace_store *s, const struct pi_trace_entry *e)
{
	char path[4200];
	int fd;

	trace_path(s, e->trace_id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void remove_at(struct pi_trace_store *s, size_t i)
{
	char path[4200];

	trace_path(s, s->entries[i].trace_id, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		fprintf(stderr, "warning: failed to remove %s: %s\n", path, strerror(errno));
	memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof(s->entries[0]));
	s->n--;
}

int pi_trace_store__mark(struct pi_trace_store *s, const char *trace_id, bool marked)
{
	struct pi_trace_entry *e = pi_trace_store__find(s, trace_id);

	if (!e)
		return -ENOENT;
	if (e->marked_for_pull != marked) {
		e->marked_for_pull = marked;
		save_index(s);
	}
	return 0;
}

int pi_trace_store__delete(struct pi_trace_store *s, const char *trace_id)
{
	struct pi_trace_entry *e = pi_trace_store__find(s, trace_id);

	if (!e)
		return -ENOENT;
	if (e->status == PI_TRACE_RUNNING)
		return -EBUSY;
	remove_at(s, e - s->entries);
	save_index(s);
	return 0;
}

uint64_t pi_trace_store__total_bytes(const struct pi_trace_store *s)
{
	uint64_t t = 0;

	for (size_t i = 0; i < s->n; i++)
		t += s->entries[i].size_bytes;
	return t;
}

size_t pi_trace_store__enforce_quota(struct pi_trace_store *s, bool *over)
{
	char path[4200];
	struct stat st;
	size_t deleted = 0, keep = SIZE_MAX;
	uint64_t total, last_end = 0;

	*over = false;
	for (size_t i = 0; i < s->n; i++) {
		struct pi_trace_entry *e = &s->entries[i];

		trace_path(s, e->trace_id, path, sizeof(path));
		if (e->status == PI_TRACE_RUNNING && !stat(path, &st))
			e->size_bytes = st.st_size;
		if (e->status != PI_TRACE_RUNNING && e->end_unix_ns >= last_end) {
			last_end = e->end_unix_ns;
			keep = i;
		}
	}
	if (!s->quota_bytes)
		return 0;
	total = pi_trace_store__total_bytes(s);
	for (size_t i = 0; i < s->n && total > s->quota_bytes;) {
		if (s->entries[i].status == PI_TRACE_RUNNING || i == keep) {
			i++;
			continue;
		}
		if (keep != SIZE_MAX && keep > i)
			keep--;
		fprintf(stderr, "profinferd: quota %.1f MiB exceeded (%.1f MiB): removing the oldest trace %s (%.1f MiB)\n",
			s->quota_bytes / 1048576.0, total / 1048576.0, s->entries[i].trace_id,
			s->entries[i].size_bytes / 1048576.0);
		total -= s->entries[i].size_bytes;
		remove_at(s, i);
		deleted++;
	}
	*over = total > s->quota_bytes;
	if (deleted)
		save_index(s);
	return deleted;
}
