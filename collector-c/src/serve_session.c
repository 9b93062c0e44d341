/* serve_session.c: see serve_session.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve_session.h"

/* The kernel keeps 15 characters of a process name (TASK_COMM_LEN - 1). */
#define COMM_LEN 15

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *pi_session_state__name(enum pi_session_state st)
{
	switch (st) {
	case PI_SESSION_WAITING: return "waiting";
	case PI_SESSION_RUNNING: return "running";
	default: return "stopped";
	}
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return (int)n;
}

static void process_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = read_small(path, out, len);
	if (n <= 0) {
		snprintf(out, len, "?");
		return;
	}
	if (out[n - 1] == '\n')
		out[n - 1] = '\0';
}

static bool tried_before(const struct pi_session *s, pid_t pid)
{
	for (size_t i = 0; i < s->n_tried && i < sizeof(s->tried) / sizeof(s->tried[0]); i++)
		if (s->tried[i] == pid)
			return true;
	return false;
}

static void refuse(struct pi_session *s, pid_t pid, const char *why)
{
	s->tried[s->n_tried++ % (sizeof(s->tried) / sizeof(s->tried[0]))] = pid;
	if (strcmp(s->refused, why)) {
		fprintf(stderr, "profinferd: session %s: %s\n", s->id, why);
		snprintf(s->refused, sizeof(s->refused), "%s", why);
	}
}

static bool pid_taken(const struct pi_session *others, pid_t pid)
{
	for (const struct pi_session *o = others; o; o = o->next)
		if (o->state != PI_SESSION_STOPPED && o->pid == pid)
			return true;
	return false;
}

/* The collector options a SessionConfig asks for, validated by the
 * collector core's rules (session_config.h). */
static int config_to_opts(const profinfer_v1_StartSession *req, struct pi_session *s, char *err, size_t errlen)
{
	if (req->has_config)
		s->cfg = req->config;
	if (pi_session_config__to_opts(&s->cfg, "SessionConfig", &s->sopts, err, errlen))
		return -EINVAL;
	if (s->sopts.output_path) {
		snprintf(err, errlen, "SessionConfig.output_path is for `profinferd record`: the service names its "
				      "trace files itself (leave it empty)");
		return -EINVAL;
	}
	return 0;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	return -1;
#endif
}

/* Attaches the session's collector to pid. A PID session needs engine code
 * mapped already; a process found by name may load it later (dlopen, seen
 * through the dynamic loader's probe), as an app does. */
static int attach(struct pi_session *s, pid_t pid, bool need_engine, char *err, size_t errlen)
{
	int e = pi_collector__add_pid(s->c, pid, err, errlen);

	if (e)
		return e;
	if (need_engine && !pi_collector__has_engine(s->c)) {
		set_err(err, errlen, "process %d has no llama.cpp / GGML code mapped (no llama_decode or "
				     "ggml_graph_compute in any of its files): pass the process that runs inference",
			(int)pid);
		return -ENOENT;
	}
	s->pid = pid;
	s->pidfd = open_pidfd(pid);
	s->state = PI_SESSION_RUNNING;
	process_comm(pid, s->target_name, sizeof(s->target_name));
	return 0;
}

static void discard(const struct pi_session_env *env, struct pi_session *s)
{
	pi_collector__free(s->c);
	s->c = NULL;
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
	if (s->trace_id[0]) {
		pi_trace_store__finish(env->store, s->trace_id, PI_TRACE_TRUNCATED, 0);
		pi_trace_store__delete(env->store, s->trace_id);
	}
	pi_session__free(s);
}

int pi_session__start(const struct pi_session_env *env, const profinfer_v1_StartSession *req,
		      const struct pi_session *others, struct pi_session **out, char *err, size_t errlen)
{
	struct pi_session *s = calloc(1, sizeof(*s));
	char target[PI_TRACE_TARGET_MAX];
	pid_t pid = 0;
	int e;

	if (!s) {
		set_err(err, errlen, "out of memory");
		return profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL;
	}
	s->out_fd = -1;
	s->pidfd = -1;
	if ((e = config_to_opts(req, s, err, errlen))) {
		free(s);
		return profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST;
	}
	s->sopts.opts.node_probes = env->node_probes;
	s->sopts.opts.verbose = env->verbose;
	s->level = (profinfer_v1_TraceLevel)s->sopts.opts.level;
	if (req->which_target == profinfer_v1_StartSession_pid_tag) {
		pid = (pid_t)req->target.pid;
		if (pid_taken(others, pid)) {
			set_err(err, errlen, "process %d is already being profiled: subscribe to its session instead",
				(int)pid);
			free(s);
			return profinfer_v1_ErrorCode_ERROR_CODE_BUSY;
		}
		if ((e = pi_allow__check(env->allow, pid, err, errlen))) {
			free(s);
			return e == -ESRCH ? profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND
					   : profinfer_v1_ErrorCode_ERROR_CODE_NOT_ALLOWED;
		}
		process_comm(pid, s->target_name, sizeof(s->target_name));
		snprintf(target, sizeof(target), "pid %d %.200s", (int)pid, s->target_name);
	} else {
		snprintf(s->process_name, sizeof(s->process_name), "%s", req->target.process_name);
		snprintf(s->target_name, sizeof(s->target_name), "%s", s->process_name);
		snprintf(target, sizeof(target), "name %.200s", s->process_name);
	}
	pi_trace_store__new_id("s-", s->id, sizeof(s->id));
	if ((e = pi_trace_store__create(env->store, s->id, target, s->trace_id, &s->out_fd, err, errlen))) {
		s->trace_id[0] = '\0';
		discard(env, s);
		return profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL;
	}
	s->sopts.opts.out_fd = s->out_fd;
	s->sopts.opts.session_id = s->id;
	/* BPF is loaded now, even for a process that does not exist yet, so
	 * that attaching later is quick. */
	if ((e = pi_collector__new(&s->sopts.opts, &s->c, err, errlen))) {
		discard(env, s);
		return profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL;
	}
	if (pid && (e = attach(s, pid, true, err, errlen))) {
		discard(env, s);
		return e == -ENOENT || e == -ESRCH ? profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND
						   : profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL;
	}
	if (!pid)
		s->state = PI_SESSION_WAITING;
	*out = s;
	return 0;
}

/* Whether /proc/PID is a process called `name`: its comm (cut to 15
 * characters by the kernel), and for longer names its executable's or
 * argv[0]'s file name. */
static bool process_named(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	const char *base;
	int n;

	process_comm(pid, buf, sizeof(buf));
	if (strncmp(buf, name, COMM_LEN) || (strlen(name) <= COMM_LEN && strcmp(buf, name)))
		return false;
	if (strlen(name) <= COMM_LEN)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = (int)readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		base = strrchr(buf, '/');
		if (!strcmp(base ? base + 1 : buf, name))
			return true;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	base = strrchr(buf, '/');
	return !strcmp(base ? base + 1 : buf, name);
}

bool pi_session__try_attach(const struct pi_session_env *env, struct pi_session *s,
			    const struct pi_session *others)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	bool attached = false;

	if (!d)
		return false;
	while (!attached && (de = readdir(d))) {
		char why[512], *end;
		long v = strtol(de->d_name, &end, 10);
		pid_t pid = (pid_t)v;

		if (*end || v <= 0 || pid == self || tried_before(s, pid) || pid_taken(others, pid) ||
		    !process_named(pid, s->process_name))
			continue;
		if (pi_allow__check(env->allow, pid, why, sizeof(why))) {
			refuse(s, pid, why);
			continue;
		}
		if (attach(s, pid, false, why, sizeof(why))) {
			/* Gone already: keep waiting for another. */
			refuse(s, pid, why);
			continue;
		}
		fprintf(stderr, "profinferd: session %s: attached to process %d (%s)%s\n", s->id, (int)pid,
			s->process_name,
			pi_collector__has_engine(s->c) ? "" : ", no llama.cpp code mapped yet: waiting for it to load it");
		attached = true;
	}
	closedir(d);
	return attached;
}

int pi_session__poll(struct pi_session *s)
{
	int n;

	if (!s->c)
		return 0;
	n = pi_collector__poll(s->c, 0);
	pi_collector__stats(s->c, &s->stats);
	s->level = (profinfer_v1_TraceLevel)pi_collector__level(s->c);
	pi_collector__qos(s->c, &s->qos);
	if (n >= 0 || n == -EINTR)
		return 0;
	snprintf(s->end_reason, sizeof(s->end_reason), "%s",
		 n == -ECANCELED ? "stopped: wrong struct layout" : "stopped: ring buffer error");
	return n;
}

bool pi_session__target_gone(const struct pi_session *s)
{
	if (s->state != PI_SESSION_RUNNING)
		return false;
	if (s->pidfd >= 0) {
		struct pollfd p = { .fd = s->pidfd, .events = POLLIN };

		return poll(&p, 1, 0) > 0;
	}
	return kill(s->pid, 0) && errno == ESRCH;
}

void pi_session__stop(const struct pi_session_env *env, struct pi_session *s, const char *reason)
{
	struct stat st;
	uint64_t size = 0;

	if (s->state == PI_SESSION_STOPPED)
		return;
	snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	if (s->c) {
		/* Not the target's parent: the kernel told the collector how it
		 * ended (unknown while it runs, or without BTF). */
		pi_collector__finish(s->c, reason, pi_collector__target_exit_code(s->c));
		pi_collector__stats(s->c, &s->stats);
		pi_collector__free(s->c);
		s->c = NULL;
	}
	if (s->out_fd >= 0) {
		if (!fstat(s->out_fd, &st))
			size = st.st_size;
		fdatasync(s->out_fd);
		close(s->out_fd);
		s->out_fd = -1;
	}
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	pi_trace_store__finish(env->store, s->trace_id, PI_TRACE_COMPLETE, size);
	s->state = PI_SESSION_STOPPED;
	s->stopped_ns = mono_ns();
}

void pi_session__status(const struct pi_session *s, profinfer_v1_SessionStatus *st, uint32_t *pids)
{
	memset(st, 0, sizeof(*st));
	st->session_id = (char *)s->id;
	st->trace_id = (char *)s->trace_id;
	if (s->pid) {
		pids[0] = (uint32_t)s->pid;
		st->target_pids = pids;
		st->target_pids_count = 1;
	}
	st->target_name = (char *)s->target_name;
	st->level = s->level;
	st->has_qos = pi_session__qos(s, &st->qos);
	st->state = (char *)pi_session_state__name(s->state);
	st->bytes_written = s->stats.bytes_written;
	st->events = s->stats.events;
	st->lost_events = pi_collector_stats__lost(&s->stats);
}

bool pi_session__qos(const struct pi_session *s, profinfer_v1_QosSample *out)
{
	if (!s->qos.ts_ns)
		return false;
	*out = (profinfer_v1_QosSample){
		.ts_ns = s->qos.ts_ns,
		.tokens_per_s = s->qos.tokens_per_s,
		.ttft_ms = s->qos.ttft_ms,
		.tpot_ms = s->qos.tpot_ms,
		.level = (profinfer_v1_TraceLevel)s->qos.level,
		.events_per_s = s->qos.events_per_s,
		.lost_events = s->qos.lost_events,
	};
	return true;
}

int pi_session__set_level(struct pi_session *s, profinfer_v1_TraceLevel level, char *err, size_t errlen)
{
	int e;

	if (s->state == PI_SESSION_STOPPED || !s->c) {
		set_err(err, errlen, "session %s has stopped", s->id);
		return profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND;
	}
	if (level < profinfer_v1_TraceLevel_TRACE_LEVEL_TOKEN) {
		set_err(err, errlen, "a running session records at token, graph or node level; stop it to record "
				     "nothing");
		return profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST;
	}
	e = pi_collector__set_level(s->c, (enum pi_level)level, "client");
	if (e == -EOPNOTSUPP) {
		set_err(err, errlen, "session %s started at a lower level: its probes for this level were not "
				     "planned (start a session at the highest level you will want)", s->id);
		return profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST;
	}
	if (e) {
		set_err(err, errlen, "failed to change the level of session %s: %s", s->id, strerror(-e));
		return profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL;
	}
	s->level = (profinfer_v1_TraceLevel)pi_collector__level(s->c);
	return 0;
}

void pi_session__free(struct pi_session *s)
{
	if (!s)
		return;
	pi_collector__free(s->c);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s);
}
