// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* serve.c: see serve.h. Options, listeners, sessions over time, the event
 * loop; a client's connection is serve_client.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"
#include "serve_internal.h"
#include "version.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = sig;
}

uint64_t pi_serve__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------ */

#define STR_(x) #x
#define STR(x) STR_(x)

static const char serve_usage[] =
	"Usage: profinferd serve [options]\n"
	"\n"
	"Runs the device service that profinfer-host (connect, record, pull) and the\n"
	"on-device app talk to: a control socket that starts, stops and lists\n"
	"profiling sessions, streams their traces live, and keeps every trace in a\n"
	"trace directory with a size quota. Runs as root (it loads BPF programs);\n"
	"every client must present the auth token from --token-file.\n"
	"\n"
	"Options:\n"
	"  --listen HOST:PORT   TCP address (default 127.0.0.1:7420; port 0 picks a\n"
	"                       free one; 'none' for no TCP). Only loopback unless\n"
	"                       --listen-remote is given too\n"
	"  --listen-remote      allow a non-loopback --listen address (anyone who can\n"
	"                       reach it and has the token can profile: prefer\n"
	"                       hdc fport / adb forward to a loopback port)\n"
	"  --unix PATH          Unix socket (default STATE/profinferd.sock; 'none'\n"
	"                       for no Unix socket)\n"
	"  --state-dir DIR      default for the paths below (default\n"
	"                       /data/local/tmp/profinfer where /data/local/tmp\n"
	"                       exists, as on OpenHarmony and Android; otherwise\n"
	"                       /var/lib/profinfer)\n"
	"  --trace-dir DIR      where traces and their index live (default STATE/traces)\n"
	"  --quota-mib N        keep traces under N MiB: the oldest finished traces\n"
	"                       are removed first; running ones and the one that\n"
	"                       finished last never (default 1024; 0: no quota)\n"
	"  --token-file PATH    the auth token, created on first start (mode 0640,\n"
	"                       owner root; default STATE/auth_token)\n"
	"  --token-group GROUP  group that may read the token file (e.g. the app's\n"
	"                       user's group), so that it can connect\n"
	"  --allow RULE         profile only processes a rule allows (repeatable;\n"
	"                       default: all): uid:N, user:NAME, exe:/PATH (exactly\n"
	"                       this executable), exe:/DIR/ (any under DIR)\n"
	"  --foreground         stay in the foreground and log to stderr (default:\n"
	"                       detach and log to STATE/profinferd.log)\n"
	"  -v, --verbose        more diagnostics\n"
	"\n"
	"Sessions: StartSession on a PID, or on a process name (attached when a\n"
	"process of that name appears; /proc is scanned every 100 ms). A session ends\n"
	"when its target exits or a client stops it; every client sees every session.\n"
	"Subscribe streams a session's trace file from a byte offset (TraceChunks, the\n"
	"last with eof, and a QosSample about once a second); FetchTrace does the same\n"
	"for a stored trace. A client that lost its connection resumes from the offset\n"
	"it has: the file is the buffer, so nothing is lost and nobody waits for it.\n"
	"\n"
	"Protocol: varint-length-delimited ClientMessage / ServerMessage frames\n"
	"(proto/profinfer/v1/profinfer.proto), control protocol version " STR(PI_PROTOCOL_VERSION) ";\n"
	"Hello (version, token) first, within 10 s; client frames up to 64 KiB; at\n"
	"most 64 connections, the oldest one that has not authenticated making room\n"
	"for a new one.\n"
	"\n"
	"Examples:\n"
	"  profinferd serve --foreground\n"
	"  profinferd serve --token-group app_user --allow user:app_user --quota-mib 256\n"
	"  hdc fport tcp:7420 tcp:7420 && profinfer-host connect --tcp 127.0.0.1:7420\n";

static void default_state_dir(char *out, size_t len)
{
	struct stat st;

	if (!stat("/data/local/tmp", &st) && S_ISDIR(st.st_mode))
		snprintf(out, len, "/data/local/tmp/profinfer");
	else
		snprintf(out, len, "/var/lib/profinfer");
}

/* Relative paths are taken from the directory profinferd started in (it
 * moves to / when it detaches). */
static int absolute(char *path, size_t len, const char *what)
{
	char cwd[2048], tmp[4096];

	if (path[0] == '/' || !path[0] || !strcmp(path, "none"))
		return 0;
	if (!getcwd(cwd, sizeof(cwd)) || snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >= (int)len) {
		fprintf(stderr, "error: %s %s: the absolute path is too long\n", what, path);
		return -ENAMETOOLONG;
	}
	snprintf(path, len, "%s", tmp);
	return 0;
}

static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	bool trace_set = false, token_set = false, unix_set = false;
	char err[512];
	int opt;
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-remote", no_argument, NULL, 'R' },
		{ "unix", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "trace-dir", required_argument, NULL, 'd' },
		{ "quota-mib", required_argument, NULL, 'q' },
		{ "token-file", required_argument, NULL, 't' },
		{ "token-group", required_argument, NULL, 'g' },
		{ "allow", required_argument, NULL, 'a' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};

	snprintf(o->listen, sizeof(o->listen), "127.0.0.1:%d", DEFAULT_PORT);
	default_state_dir(o->state_dir, sizeof(o->state_dir));
	o->quota_mib = DEFAULT_QUOTA_MIB;
	while ((opt = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'l': snprintf(o->listen, sizeof(o->listen), "%s", optarg); break;
		case 'R': o->remote = true; break;
		case 'u':
			if (strlen(optarg) >= sizeof(o->unix_path)) {
				fprintf(stderr, "error: --unix path is longer than %zu bytes\n", sizeof(o->unix_path) - 1);
				return 2;
			}
			snprintf(o->unix_path, sizeof(o->unix_path), "%s", optarg);
			unix_set = true;
			break;
		case 's': snprintf(o->state_dir, sizeof(o->state_dir), "%s", optarg); break;
		case 'd': snprintf(o->trace_dir, sizeof(o->trace_dir), "%s", optarg); trace_set = true; break;
		case 'q':
			errno = 0;
			o->quota_mib = strtoull(optarg, &end, 10);
			if (!*optarg || *end || errno || o->quota_mib > (1ull << 30)) {
				fprintf(stderr, "error: --quota-mib wants a number of MiB, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 't': snprintf(o->token_file, sizeof(o->token_file), "%s", optarg); token_set = true; break;
		case 'g': o->token_group = optarg; break;
		case 'a':
			if (pi_allow__add(&o->allow, optarg, err, sizeof(err))) {
				fprintf(stderr, "error: %s\n", err);
				return 2;
			}
			break;
		case 'f': o->foreground = true; break;
		case 'v': o->verbose = true; break;
		case 'h': fputs(serve_usage, stdout); return 0;
		default: fputs(serve_usage, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "error: unexpected argument '%s' (see profinferd serve --help)\n", argv[optind]);
		return 2;
	}
	if (absolute(o->state_dir, sizeof(o->state_dir), "--state-dir") ||
	    absolute(o->trace_dir, sizeof(o->trace_dir), "--trace-dir") ||
	    absolute(o->token_file, sizeof(o->token_file), "--token-file") ||
	    absolute(o->unix_path, sizeof(o->unix_path), "--unix"))
		return 2;
	if (!trace_set)
		snprintf(o->trace_dir, sizeof(o->trace_dir), "%s/traces", o->state_dir);
	if (!token_set)
		snprintf(o->token_file, sizeof(o->token_file), "%s/auth_token", o->state_dir);
	if (!unix_set && snprintf(o->unix_path, sizeof(o->unix_path), "%s/profinferd.sock", o->state_dir) >=
				 (int)sizeof(o->unix_path)) {
		fprintf(stderr, "error: the default Unix socket path under %s is too long: pass --unix PATH\n",
			o->state_dir);
		return 2;
	}
	return -1;
}

/* ---- listeners ---------------------------------------------------------- */

int pi_serve__add_ep(struct server *sv, int fd, uint32_t events, struct ep_ref *ref)
{
	struct epoll_event ev = { .events = events, .data.ptr = ref };

	return epoll_ctl(sv->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* HOST:PORT with a numeric IPv4 or [IPv6] host into sa; no resolver (a
 * static binary has no NSS, and a name is not what an operator means). */
static int parse_listen(const char *spec, struct sockaddr_storage *sa, socklen_t *len)
{
	const char *colon = strrchr(spec, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;
	unsigned long port;
	size_t hl;

	if (!colon || colon == spec || !colon[1])
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535)
		return -EINVAL;
	hl = colon - spec;
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']' && hl - 2 < sizeof(host)) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;

		memcpy(host, spec + 1, hl - 2);
		host[hl - 2] = '\0';
		*a = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons(port) };
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	if (hl < sizeof(host)) {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;

		memcpy(host, spec, hl);
		host[hl] = '\0';
		*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port) };
		*len = sizeof(*a);
		return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
	}
	return -EINVAL;
}

static int listen_tcp(struct server *sv)
{
	struct listener *l = &sv->listeners[sv->n_listeners];
	struct sockaddr_storage addr, bound;
	socklen_t alen = 0, blen = sizeof(bound);
	char shown[INET6_ADDRSTRLEN];
	int one = 1, e;

	if (parse_listen(sv->o.listen, &addr, &alen)) {
		fprintf(stderr, "error: --listen wants HOST:PORT with a numeric host (127.0.0.1:7420, [::1]:7420), "
				"not '%s'\n", sv->o.listen);
		return -EINVAL;
	}
	if (!is_loopback((struct sockaddr *)&addr)) {
		if (!sv->o.remote) {
			fprintf(stderr, "error: --listen %s is not a loopback address: anyone who can reach it could "
					"talk to this root service. Forward a loopback port instead (hdc fport, adb "
					"forward), or add --listen-remote if you mean it\n", sv->o.listen);
			return -EPERM;
		}
		fprintf(stderr, "warning: listening on %s, which is not loopback: the auth token is all that "
				"protects this root service, and the connection is not encrypted\n", sv->o.listen);
	}
	l->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l->fd, (struct sockaddr *)&addr, alen) || listen(l->fd, 16) ||
	    getsockname(l->fd, (struct sockaddr *)&bound, &blen)) {
		e = -errno;
		fprintf(stderr, "error: cannot listen on %s: %s%s\n", sv->o.listen, strerror(-e),
			e == -EADDRINUSE ? " (is another profinferd serving? pick another --listen port)" : "");
		if (l->fd >= 0)
			close(l->fd);
		return e;
	}
	if (bound.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, shown, sizeof(shown));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, shown, sizeof(shown));
	snprintf(l->what, sizeof(l->what), "tcp %s%s%s:%u", bound.ss_family == AF_INET6 ? "[" : "", shown,
		 bound.ss_family == AF_INET6 ? "]" : "",
		 ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
						  : ((struct sockaddr_in6 *)&bound)->sin6_port));
	l->ref = (struct ep_ref){ EP_LISTEN, l };
	sv->n_listeners++;
	return pi_serve__add_ep(sv, l->fd, EPOLLIN, &l->ref);
}

static int listen_unix(struct server *sv, gid_t gid)
{
	struct listener *l = &sv->listeners[sv->n_listeners];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int e;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sv->o.unix_path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	/* A socket left by a profinferd that died: remove it, unless someone
	 * still answers on it. Never remove anything but a socket. */
	if (!lstat(sa.sun_path, &st)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa));

		if (probe >= 0)
			close(probe);
		if (!S_ISSOCK(st.st_mode) || live) {
			fprintf(stderr, "error: %s %s: pass another --unix PATH\n", sa.sun_path,
				live ? "is in use by another profinferd" : "exists and is not a socket");
			close(l->fd);
			return -EEXIST;
		}
		unlink(sa.sun_path);
	}
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(l->fd, 16)) {
		e = -errno;
		fprintf(stderr, "error: cannot listen on %s: %s\n", sa.sun_path, strerror(-e));
		close(l->fd);
		return e;
	}
	/* The token is the gate; the mode keeps other users from even trying. */
	if (chmod(sa.sun_path, gid != (gid_t)-1 ? 0660 : 0600) || (gid != (gid_t)-1 && chown(sa.sun_path, 0, gid)))
		fprintf(stderr, "warning: cannot set the mode of %s: %s\n", sa.sun_path, strerror(errno));
	snprintf(l->what, sizeof(l->what), "unix %s", sa.sun_path);
	l->ref = (struct ep_ref){ EP_LISTEN, l };
	sv->n_listeners++;
	return pi_serve__add_ep(sv, l->fd, EPOLLIN, &l->ref);
}

/* ---- sessions ---------------------------------------------------------- */

struct pi_session *pi_serve__find_session(struct server *sv, const char *id)
{
	for (struct pi_session *s = sv->sessions; s; s = s->next)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

size_t pi_serve__live_sessions(const struct server *sv)
{
	size_t n = 0;

	for (const struct pi_session *s = sv->sessions; s; s = s->next)
		n += s->state != PI_SESSION_STOPPED;
	return n;
}

/* Session fds only wake the loop: its tick polls every session, so their
 * events need no pointer to a session (which may be gone by then). */
static struct ep_ref collector_ref = { EP_COLLECTOR, NULL }, pidfd_ref = { EP_PIDFD, NULL };

void pi_serve__watch_session(struct server *sv, struct pi_session *s)
{
	if (s->c && !s->ep_collector && !pi_serve__add_ep(sv, pi_collector__fd(s->c), EPOLLIN, &collector_ref))
		s->ep_collector = &collector_ref;
	if (s->pidfd >= 0 && !s->ep_pidfd && !pi_serve__add_ep(sv, s->pidfd, EPOLLIN, &pidfd_ref))
		s->ep_pidfd = &pidfd_ref;
}

void pi_serve__stop_session(struct server *sv, struct pi_session *s, const char *reason)
{
	if (s->state == PI_SESSION_STOPPED)
		return;
	/* The fds are closed by pi_session__stop: leave epoll first. */
	if (s->ep_collector && s->c)
		epoll_ctl(sv->epfd, EPOLL_CTL_DEL, pi_collector__fd(s->c), NULL);
	if (s->ep_pidfd && s->pidfd >= 0)
		epoll_ctl(sv->epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
	s->ep_collector = s->ep_pidfd = NULL;
	pi_session__stop(&sv->env, s, reason);
	fprintf(stderr, "profinferd: session %s stopped (%s): trace %s, %.2f MB, %llu events, %llu lost\n", s->id,
		reason, s->trace_id, s->stats.bytes_written / 1e6, (unsigned long long)s->stats.events,
		(unsigned long long)pi_collector_stats__lost(&s->stats));
	sv->last_quota_ns = 0; /* check the quota now */
}

/* ---- sessions over time ------------------------------------------------- */

static void tick_sessions(struct server *sv)
{
	uint64_t now = pi_serve__now_ns();
	bool scan = now - sv->last_scan_ns >= NAME_SCAN_NS;
	size_t stopped = 0;

	if (scan)
		sv->last_scan_ns = now;
	for (struct pi_session *s = sv->sessions; s; s = s->next) {
		if (s->state == PI_SESSION_WAITING && scan && pi_session__try_attach(&sv->env, s, sv->sessions))
			pi_serve__watch_session(sv, s);
		if (s->state == PI_SESSION_STOPPED)
			continue;
		if (pi_session__poll(s)) {
			pi_serve__stop_session(sv, s, s->end_reason);
			continue;
		}
		if (pi_session__target_gone(s))
			pi_serve__stop_session(sv, s, "target exited");
	}
	/* Forget the oldest stopped sessions (their traces stay in the store). */
	for (struct pi_session **pp = &sv->sessions; *pp;) {
		struct pi_session *s = *pp;

		if (s->state == PI_SESSION_STOPPED && ++stopped > MAX_STOPPED_SESSIONS) {
			*pp = s->next;
			pi_session__free(s);
			continue;
		}
		pp = &s->next;
	}
	if (now - sv->last_quota_ns >= QUOTA_CHECK_NS) {
		bool over;

		sv->last_quota_ns = now;
		pi_trace_store__enforce_quota(sv->env.store, &over);
		if (over && sv->o.verbose)
			fprintf(stderr, "warning: running sessions alone exceed --quota-mib %llu\n",
				(unsigned long long)sv->o.quota_mib);
	}
}

/* ---- setup and the loop ------------------------------------------------- */

static void read_device_model(char *out, size_t len)
{
	static const char *const paths[] = { "/proc/device-tree/model", "/sys/devices/virtual/dmi/id/product_name" };

	snprintf(out, len, "unknown");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "re");
		size_t n;

		if (!f)
			continue;
		n = fread(out, 1, len - 1, f);
		fclose(f);
		out[n] = '\0';
		while (n && (out[n - 1] == '\n' || out[n - 1] == '\0'))
			out[--n] = '\0';
		for (size_t k = 0; k < n; k++)
			if (out[k] < 0x20 || out[k] > 0x7e)
				out[k] = '?';
		if (n)
			return;
	}
	snprintf(out, len, "unknown");
}

static int detach(const char *log_path)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/"))
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	return 0;
}

static enum pi_node_probes default_node_probes(void)
{
	enum pi_node_probes m = PI_NODE_PROBES_AUTO;
	const char *env = getenv("PROFINFER_NODE_PROBES");

	if (env && *env && pi_node_probes__parse(env, &m))
		fprintf(stderr, "warning: ignoring PROFINFER_NODE_PROBES='%s' (auto, one or two)\n", env);
	return m;
}

static void run_loop(struct server *sv)
{
	struct epoll_event evs[64];

	while (!exiting) {
		int n = epoll_wait(sv->epfd, evs, 64, TICK_MS);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct ep_ref *r = evs[i].data.ptr;

			/* A client closed earlier in this batch is not looked
			 * up again: its events were removed with it. */
			if (r->kind == EP_LISTEN) {
				pi_serve__accept_clients(sv, r->obj);
			} else if (r->kind == EP_CLIENT) {
				struct client *cl = r->obj;

				if (cl->dead)
					continue;
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
					if (!pi_serve__read_client(sv, cl))
						continue;
				}
				pi_serve__flush_client(sv, cl);
			}
			/* Collector and pidfd events are handled by the tick
			 * below, which polls every session. */
		}
		tick_sessions(sv);
		pi_serve__tick_clients(sv);
		pi_serve__free_dead_clients(sv);
	}
}

int pi_serve__main(int argc, char **argv)
{
	struct server *sv = calloc(1, sizeof(*sv));
	gid_t gid = (gid_t)-1;
	char err[1024];
	bool created;
	int rc = 1, e;

	if (!sv)
		return 1;
	sv->epfd = -1;
	if ((e = parse_args(argc, argv, &sv->o)) >= 0) {
		rc = e;
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "error: profinferd serve needs root to load BPF programs: run it with sudo\n");
		goto out;
	}
	if (sv->o.token_group) {
		unsigned g;

		if (pi_allow__lookup_id("/etc/group", sv->o.token_group, &g)) {
			fprintf(stderr, "error: --token-group %s: no such group in /etc/group (a gid works too)\n",
				sv->o.token_group);
			goto out;
		}
		gid = g;
	}
	if (pi_auth_token__load_or_create(sv->o.token_file, gid, sv->token, &created, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	if (created)
		fprintf(stderr, "profinferd: created the auth token %s (mode 0640%s%s)\n", sv->o.token_file,
			sv->o.token_group ? ", group " : "", sv->o.token_group ? sv->o.token_group : "");
	if (pi_trace_store__open(sv->o.trace_dir, sv->o.quota_mib << 20, &sv->env.store, err, sizeof(err))) {
		fprintf(stderr, "error: %s\n", err);
		goto out;
	}
	sv->env.allow = &sv->o.allow;
	sv->env.node_probes = default_node_probes();
	sv->env.verbose = sv->o.verbose;
	uname(&sv->uts);
	read_device_model(sv->device_model, sizeof(sv->device_model));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sv->epfd < 0) {
		fprintf(stderr, "error: failed to create an epoll instance: %s\n", strerror(errno));
		goto out;
	}
	if (strcmp(sv->o.listen, "none") && listen_tcp(sv))
		goto out;
	if (strcmp(sv->o.unix_path, "none") && listen_unix(sv, gid))
		goto out;
	if (!sv->n_listeners) {
		fprintf(stderr, "error: nothing to listen on: pass --listen HOST:PORT or --unix PATH\n");
		goto out;
	}
	for (size_t i = 0; i < sv->n_listeners; i++)
		fprintf(stderr, "profinferd: listening on %s\n", sv->listeners[i].what);
	fprintf(stderr, "profinferd: serving (protocol %d), traces in %s (quota %llu MiB, %zu traces, %.1f MiB), "
			"token in %s, %s\n",
		PI_PROTOCOL_VERSION, sv->o.trace_dir, (unsigned long long)sv->o.quota_mib, sv->env.store->n,
		pi_trace_store__total_bytes(sv->env.store) / 1048576.0, sv->o.token_file,
		sv->o.allow.n ? "profiling only what --allow allows" : "any process may be profiled");
	if (!sv->o.foreground) {
		char log_path[4200];

		snprintf(log_path, sizeof(log_path), "%s/profinferd.log", sv->o.state_dir);
		fprintf(stderr, "profinferd: detaching; logging to %s\n", log_path);
		if ((e = detach(log_path))) {
			fprintf(stderr, "error: failed to detach: %s\n", strerror(-e));
			goto out;
		}
	}
	run_loop(sv);
	fprintf(stderr, "profinferd: %s: stopping every session\n",
		exiting == SIGINT ? "interrupted" : exiting ? "terminated" : "event loop failed");
	for (struct pi_session *s = sv->sessions; s; s = s->next)
		pi_serve__stop_session(sv, s, "service stopped");
	/* Give subscribers the ends of their traces. */
	for (int round = 0; round < 50 && sv->clients; round++) {
		pi_serve__tick_clients(sv);
		pi_serve__free_dead_clients(sv);
		usleep(20000);
	}
	rc = exiting ? 0 : 1;
out:
	while (sv->clients)
		pi_serve__close_client(sv, sv->clients);
	pi_serve__free_dead_clients(sv);
	while (sv->sessions) {
		struct pi_session *s = sv->sessions;

		sv->sessions = s->next;
		pi_session__free(s);
	}
	for (size_t i = 0; i < sv->n_listeners; i++) {
		close(sv->listeners[i].fd);
		if (!strncmp(sv->listeners[i].what, "unix ", 5))
			unlink(sv->listeners[i].what + 5);
	}
	if (sv->epfd >= 0)
		close(sv->epfd);
	pi_trace_store__free(sv->env.store);
	pi_allow__free(&sv->o.allow);
	free(sv);
	return rc;
}
