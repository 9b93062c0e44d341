// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* serve_client.c: one client connection of profinferd serve (see
 * serve_internal.h): frames in, requests handled, replies and trace chunks
 * out through a bounded output buffer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve_internal.h"
#include "version.h"

/* ---- output to clients -------------------------------------------------- */

static size_t unsent(const struct client *cl)
{
	return cl->out_len - cl->out_off;
}

static void update_events(struct server *sv, struct client *cl)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (!cl->closing && unsent(cl) < OUT_HARD_BYTES)
		want |= EPOLLIN;
	if (unsent(cl))
		want |= EPOLLOUT;
	if (want == cl->ep_events)
		return;
	ev = (struct epoll_event){ .events = want, .data.ptr = &cl->ref };
	if (!epoll_ctl(sv->epfd, EPOLL_CTL_MOD, cl->fd, &ev))
		cl->ep_events = want;
}

static void start_closing(struct client *cl)
{
	if (!cl->closing) {
		cl->closing = true;
		cl->closing_ns = pi_serve__now_ns();
	}
}

/* Queues one ServerMessage. Returns 0, or -ENOBUFS when it cannot be
 * queued (the client is then closed: it stopped reading). */
static int send_msg(struct client *cl, const profinfer_v1_ServerMessage *m, const uint8_t *chunk, size_t chunk_len)
{
	size_t need = pi_control__encoded_size(m, chunk_len), n;

	if (!need || need > PI_CONTROL_MAX_SERVER_FRAME)
		return -EMSGSIZE;
	if (cl->out_off && cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	if (cl->out_cap - cl->out_len < need) {
		size_t cap;
		uint8_t *p;

		if (cl->out_off) { /* compact first */
			memmove(cl->out, cl->out + cl->out_off, unsent(cl));
			cl->out_len -= cl->out_off;
			cl->out_off = 0;
		}
		cap = cl->out_cap ? cl->out_cap : 64 << 10;
		while (cap - cl->out_len < need)
			cap *= 2;
		if (cap > OUT_HARD_BYTES + 2 * PI_CONTROL_MAX_SERVER_FRAME) {
			start_closing(cl);
			return -ENOBUFS;
		}
		if (cap != cl->out_cap) {
			if (!(p = realloc(cl->out, cap)))
				return -ENOMEM;
			cl->out = p;
			cl->out_cap = cap;
		}
	}
	n = pi_control__encode(m, chunk, chunk_len, cl->out + cl->out_len, cl->out_cap - cl->out_len);
	if (!n)
		return -EMSGSIZE;
	cl->out_len += n;
	return 0;
}

static void send_error(struct client *cl, uint64_t request_id, int code, const char *fmt, ...)
{
	profinfer_v1_ServerMessage m = { .request_id = request_id, .which_msg = profinfer_v1_ServerMessage_error_tag };
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	m.msg.error.code = (profinfer_v1_ErrorCode)code;
	m.msg.error.message = text;
	send_msg(cl, &m, NULL, 0);
}

static void send_ack(struct client *cl, uint64_t request_id)
{
	profinfer_v1_ServerMessage m = { .request_id = request_id, .which_msg = profinfer_v1_ServerMessage_ack_tag };

	send_msg(cl, &m, NULL, 0);
}

void pi_serve__close_client(struct server *sv, struct client *cl)
{
	struct client **pp;

	for (pp = &sv->clients; *pp && *pp != cl; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = cl->next;
	for (int i = 0; i < MAX_FEEDS; i++)
		if (cl->feeds[i].active)
			close(cl->feeds[i].fd);
	epoll_ctl(sv->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	if (sv->o.verbose)
		fprintf(stderr, "profinferd: client %u (%s) disconnected\n", cl->id, cl->peer);
	sv->n_clients--;
	/* Later events of this round may still point at it. */
	cl->dead = true;
	cl->next = sv->dead_clients;
	sv->dead_clients = cl;
}

void pi_serve__free_dead_clients(struct server *sv)
{
	while (sv->dead_clients) {
		struct client *cl = sv->dead_clients;

		sv->dead_clients = cl->next;
		free(cl->out);
		free(cl);
	}
}

/* Returns false when the client was closed. */
bool pi_serve__flush_client(struct server *sv, struct client *cl)
{
	while (unsent(cl)) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, unsent(cl), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			cl->out_off += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		pi_serve__close_client(sv, cl);
		return false;
	}
	if (cl->closing && (!unsent(cl) || pi_serve__now_ns() - cl->closing_ns > CLOSE_LINGER_NS)) {
		pi_serve__close_client(sv, cl);
		return false;
	}
	update_events(sv, cl);
	return true;
}

/* ---- feeds -------------------------------------------------------------- */

static struct feed *new_feed(struct client *cl)
{
	for (int i = 0; i < MAX_FEEDS; i++)
		if (!cl->feeds[i].active)
			return &cl->feeds[i];
	return NULL;
}

/* Opens a feed of trace e from offset (of session_id's, or NULL for a
 * fetch); the Ack is sent by the caller. */
static int open_feed(struct server *sv, struct client *cl, uint64_t request_id, const struct pi_trace_entry *e,
		     const char *session_id, uint64_t offset)
{
	struct feed *f = new_feed(cl);
	struct stat st;
	int fd;

	if (!f) {
		send_error(cl, request_id, profinfer_v1_ErrorCode_ERROR_CODE_BUSY,
			   "this connection already streams %d traces: wait for one to end", MAX_FEEDS);
		return -EBUSY;
	}
	fd = pi_trace_store__open_file(sv->env.store, e);
	if (fd < 0) {
		send_error(cl, request_id, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "cannot open trace %s: %s",
			   e->trace_id, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) || offset > (uint64_t)st.st_size) {
		send_error(cl, request_id, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST,
			   "offset %llu is beyond the end of trace %s (%llu bytes so far)", (unsigned long long)offset,
			   e->trace_id, (unsigned long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	*f = (struct feed){ .active = true, .request_id = request_id, .fd = fd, .offset = offset };
	snprintf(f->trace_id, sizeof(f->trace_id), "%s", e->trace_id);
	snprintf(f->session_id, sizeof(f->session_id), "%s", session_id ? session_id : "");
	return 0;
}

/* Whether the trace will not grow any more (finished, or deleted). */
static bool trace_final(struct server *sv, const char *trace_id)
{
	const struct pi_trace_entry *e = pi_trace_store__find(sv->env.store, trace_id);

	return !e || e->status != PI_TRACE_RUNNING;
}

/* Moves file bytes into the client's output while it has room: the file is
 * the buffer, so a slow client only falls behind. */
static void pump_feeds(struct server *sv, struct client *cl)
{
	for (int i = 0; i < MAX_FEEDS && !cl->closing; i++) {
		struct feed *f = &cl->feeds[i];

		while (f->active && unsent(cl) < OUT_SOFT_BYTES) {
			profinfer_v1_ServerMessage m = { .request_id = f->request_id,
							 .which_msg = profinfer_v1_ServerMessage_chunk_tag };
			/* Decided before reading: bytes read after the trace
			 * became final are its last. */
			bool final = trace_final(sv, f->trace_id);
			ssize_t n = pread(f->fd, sv->chunk, sizeof(sv->chunk), (off_t)f->offset);

			if (n < 0 && errno == EINTR)
				continue;
			m.msg.chunk.trace_id = f->trace_id;
			m.msg.chunk.offset = f->offset;
			if (n > 0) {
				if (send_msg(cl, &m, sv->chunk, n))
					break;
				f->offset += n;
				continue;
			}
			if (n < 0 || final) {
				/* The end: an empty chunk with eof (or an Error). */
				if (n < 0)
					send_error(cl, f->request_id, profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL,
						   "cannot read trace %s: %s", f->trace_id, strerror(errno));
				else {
					m.msg.chunk.eof = true;
					send_msg(cl, &m, NULL, 0);
				}
				close(f->fd);
				f->active = false;
			}
			break;
		}
	}
}

/* ---- requests ----------------------------------------------------------- */

static void handle_hello(struct server *sv, struct client *cl, uint64_t rid, const profinfer_v1_Hello *h)
{
	profinfer_v1_ServerMessage m = { .request_id = rid, .which_msg = profinfer_v1_ServerMessage_hello_tag };

	if (cl->authenticated) {
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST, "already authenticated: send Hello once");
		return;
	}
	/* The version first: a client of another version gets told so even if
	 * the way it sends its token changed. */
	if (h->protocol_version != PI_PROTOCOL_VERSION) {
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_VERSION_MISMATCH,
			   "protocol version mismatch: the client speaks control protocol %u, this profinferd %s speaks "
			   "%d: use a profinfer-host / app of the same release as profinferd",
			   h->protocol_version, PI_VERSION, PI_PROTOCOL_VERSION);
		fprintf(stderr, "profinferd: client %u (%s): refused, protocol %u (ours: %d)\n", cl->id, cl->peer,
			h->protocol_version, PI_PROTOCOL_VERSION);
		start_closing(cl);
		return;
	}
	if (!pi_auth_token__equal(sv->token, h->auth_token)) {
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_UNAUTHENTICATED,
			   "wrong auth token: read it from %s on the device (root, or the --token-group)",
			   sv->o.token_file);
		fprintf(stderr, "profinferd: client %u (%s): refused, wrong auth token\n", cl->id, cl->peer);
		start_closing(cl);
		return;
	}
	cl->authenticated = true;
	m.msg.hello.protocol_version = PI_PROTOCOL_VERSION;
	m.msg.hello.server_version = (char *)PI_VERSION;
	m.msg.hello.arch = sv->uts.machine;
	m.msg.hello.device_model = sv->device_model;
	send_msg(cl, &m, NULL, 0);
	if (sv->o.verbose)
		fprintf(stderr, "profinferd: client %u (%s) is %s\n", cl->id, cl->peer,
			h->client_name[0] ? h->client_name : "unnamed");
}

static void handle_start(struct server *sv, struct client *cl, uint64_t rid, const profinfer_v1_StartSession *req)
{
	profinfer_v1_ServerMessage m = { .request_id = rid, .which_msg = profinfer_v1_ServerMessage_started_tag };
	struct pi_session *s = NULL;
	char err[1024] = "";
	int code;

	if (pi_serve__live_sessions(sv) >= MAX_LIVE_SESSIONS) {
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_BUSY,
			   "%d sessions are running already: stop one first", MAX_LIVE_SESSIONS);
		return;
	}
	code = pi_session__start(&sv->env, req, sv->sessions, &s, err, sizeof(err));
	if (code) {
		send_error(cl, rid, code, "%s", err);
		return;
	}
	s->next = sv->sessions;
	sv->sessions = s;
	pi_serve__watch_session(sv, s);
	fprintf(stderr, "profinferd: session %s %s %s (client %u): trace %s\n", s->id,
		s->state == PI_SESSION_WAITING ? "waiting for a process named" : "recording", s->target_name, cl->id,
		s->trace_id);
	m.msg.started.session_id = s->id;
	m.msg.started.trace_id = s->trace_id;
	send_msg(cl, &m, NULL, 0);
}

static void handle_status(struct server *sv, struct client *cl, uint64_t rid)
{
	profinfer_v1_ServerMessage m = { .request_id = rid, .which_msg = profinfer_v1_ServerMessage_status_tag };
	profinfer_v1_SessionStatus st[MAX_LIVE_SESSIONS + MAX_STOPPED_SESSIONS + 1];
	uint32_t pids[MAX_LIVE_SESSIONS + MAX_STOPPED_SESSIONS + 1];
	size_t n = 0;

	for (struct pi_session *s = sv->sessions; s && n < sizeof(st) / sizeof(st[0]); s = s->next, n++)
		pi_session__status(s, &st[n], &pids[n]);
	m.msg.status.sessions = n ? st : NULL;
	m.msg.status.sessions_count = (pb_size_t)n;
	send_msg(cl, &m, NULL, 0);
}

static void handle_list(struct server *sv, struct client *cl, uint64_t rid)
{
	profinfer_v1_ServerMessage m = { .request_id = rid, .which_msg = profinfer_v1_ServerMessage_traces_tag };
	struct pi_trace_store *ts = sv->env.store;
	profinfer_v1_TraceEntry *te;
	size_t first, n;
	bool over;

	pi_trace_store__enforce_quota(ts, &over); /* refreshes running sizes */
	first = ts->n > MAX_LISTED_TRACES ? ts->n - MAX_LISTED_TRACES : 0;
	n = ts->n - first;
	te = n ? calloc(n, sizeof(*te)) : NULL;
	if (n && !te) {
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct pi_trace_entry *e = &ts->entries[first + i];

		te[i] = (profinfer_v1_TraceEntry){
			.trace_id = e->trace_id,
			.session_id = e->session_id,
			.target = e->target,
			.start_unix_ns = e->start_unix_ns,
			.end_unix_ns = e->end_unix_ns,
			.size_bytes = e->size_bytes,
			.status = (char *)pi_trace_status__name(e->status),
			.marked_for_pull = e->marked_for_pull,
		};
	}
	m.msg.traces.traces = te;
	m.msg.traces.traces_count = (pb_size_t)(n > 65535 ? 65535 : n);
	if (send_msg(cl, &m, NULL, 0))
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_TOO_LARGE, "the trace list is too large to send");
	free(te);
}

static void handle_request(struct server *sv, struct client *cl, uint64_t rid, const profinfer_v1_ClientMessage *msg)
{
	struct pi_trace_entry *e;
	struct pi_session *s;
	char err[512];
	int code;

	switch (msg->which_msg) {
	case profinfer_v1_ClientMessage_start_tag:
		handle_start(sv, cl, rid, &msg->msg.start);
		return;
	case profinfer_v1_ClientMessage_stop_tag:
		if (!(s = pi_serve__find_session(sv, msg->msg.stop.session_id))) {
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no session %s",
				   msg->msg.stop.session_id);
			return;
		}
		pi_serve__stop_session(sv, s, "client stop");
		send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_status_tag:
		handle_status(sv, cl, rid);
		return;
	case profinfer_v1_ClientMessage_set_level_tag:
		if (!(s = pi_serve__find_session(sv, msg->msg.set_level.session_id))) {
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no session %s",
				   msg->msg.set_level.session_id);
			return;
		}
		if ((code = pi_session__set_level(s, msg->msg.set_level.level, err, sizeof(err))))
			send_error(cl, rid, code, "%s", err);
		else
			send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_list_tag:
		handle_list(sv, cl, rid);
		return;
	case profinfer_v1_ClientMessage_fetch_tag:
		if (!(e = pi_trace_store__find(sv->env.store, msg->msg.fetch.trace_id))) {
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no trace %s (ListTraces names them)",
				   msg->msg.fetch.trace_id);
			return;
		}
		if (!open_feed(sv, cl, rid, e, NULL, msg->msg.fetch.offset))
			send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_delete_tag:
		code = pi_trace_store__delete(sv->env.store, msg->msg.delete.trace_id);
		if (code == -EBUSY)
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_BUSY,
				   "trace %s is being recorded: stop its session first", msg->msg.delete.trace_id);
		else if (code)
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no trace %s",
				   msg->msg.delete.trace_id);
		else
			send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_subscribe_tag:
		if (!(s = pi_serve__find_session(sv, msg->msg.subscribe.session_id)) ||
		    !(e = pi_trace_store__find(sv->env.store, s->trace_id))) {
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no session %s%s",
				   msg->msg.subscribe.session_id, s ? " (its trace was deleted)" : "");
			return;
		}
		if (!open_feed(sv, cl, rid, e, s->id, msg->msg.subscribe.offset))
			send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_mark_tag:
		if (pi_trace_store__mark(sv->env.store, msg->msg.mark.trace_id, msg->msg.mark.marked))
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_NOT_FOUND, "no trace %s (ListTraces names them)",
				   msg->msg.mark.trace_id);
		else
			send_ack(cl, rid);
		return;
	case profinfer_v1_ClientMessage_hello_tag:
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST, "Hello was sent already");
		return;
	default:
		send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST, "an empty or unknown request");
	}
}

/* Handles every whole frame in the client's input. */
static void process_input(struct server *sv, struct client *cl)
{
	size_t used = 0;

	while (!cl->closing && unsent(cl) < OUT_HARD_BYTES) {
		profinfer_v1_ClientMessage msg;
		size_t hdr = 0, body = 0;
		uint64_t rid;
		char err[512];
		enum pi_frame_result r = pi_frame__split(cl->in + used, cl->in_len - used, PI_CONTROL_MAX_CLIENT_FRAME,
							 &hdr, &body);
		int code;

		if (r == PI_FRAME_NEED_MORE)
			break;
		if (r == PI_FRAME_TOO_LARGE) {
			/* The stream cannot be resynchronized: answer and close. */
			send_error(cl, 0, profinfer_v1_ErrorCode_ERROR_CODE_TOO_LARGE,
				   "frame of %zu bytes exceeds the limit of %u bytes: closing the connection", body,
				   PI_CONTROL_MAX_CLIENT_FRAME);
			start_closing(cl);
			break;
		}
		if (r == PI_FRAME_BAD_LENGTH) {
			send_error(cl, 0, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST,
				   "frame length is not a valid varint: closing the connection");
			start_closing(cl);
			break;
		}
		code = pi_control__decode(cl->in + used + hdr, body, &msg, &rid, err, sizeof(err));
		used += hdr + body;
		if (code) {
			/* The framing is intact: the connection can go on, once
			 * authenticated. */
			send_error(cl, rid, code, "%s", err);
			if (!cl->authenticated)
				start_closing(cl);
			continue;
		}
		if (!cl->authenticated && msg.which_msg != profinfer_v1_ClientMessage_hello_tag) {
			send_error(cl, rid, profinfer_v1_ErrorCode_ERROR_CODE_UNAUTHENTICATED,
				   "%s before Hello: send Hello with the protocol version and the auth token first",
				   pi_control__request_name(msg.which_msg));
			start_closing(cl);
			continue;
		}
		if (msg.which_msg == profinfer_v1_ClientMessage_hello_tag)
			handle_hello(sv, cl, rid, &msg.msg.hello);
		else
			handle_request(sv, cl, rid, &msg);
	}
	if (used) {
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
	}
}

/* Returns false when the client was closed. */
bool pi_serve__read_client(struct server *sv, struct client *cl)
{
	while (!cl->closing && cl->in_len < sizeof(cl->in) && unsent(cl) < OUT_HARD_BYTES) {
		ssize_t n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);

		if (n > 0) {
			cl->in_len += n;
			process_input(sv, cl);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n == 0 && cl->in_len) {
			size_t hdr = 0, body = 0;

			pi_frame__split(cl->in, cl->in_len, PI_CONTROL_MAX_CLIENT_FRAME, &hdr, &body);
			send_error(cl, 0, profinfer_v1_ErrorCode_ERROR_CODE_BAD_REQUEST,
				   "truncated frame: the connection ended after %zu of %zu bytes", cl->in_len - hdr,
				   body);
			start_closing(cl);
			break;
		}
		if (n == 0) {
			/* Half-closed: answer what it asked, then close. */
			start_closing(cl);
			break;
		}
		/* The peer is gone (or reset): its feeds simply end; a
		 * reconnecting client resumes from the offset it has. */
		pi_serve__close_client(sv, cl);
		return false;
	}
	return true;
}

/* At the client limit, the oldest connection that has not authenticated
 * makes room: otherwise anyone able to connect could hold every slot with
 * silent connections, each for HELLO_TIMEOUT_NS, and lock the owner out. */
static void evict_unauthenticated(struct server *sv)
{
	struct client *oldest = NULL;

	for (struct client *cl = sv->clients; cl; cl = cl->next)
		if (!cl->authenticated && (!oldest || cl->connected_ns < oldest->connected_ns))
			oldest = cl;
	if (!oldest)
		return;
	fprintf(stderr, "profinferd: %d clients: closing the oldest unauthenticated one (%s) for a new one\n",
		MAX_CLIENTS, oldest->peer);
	pi_serve__close_client(sv, oldest);
}

void pi_serve__accept_clients(struct server *sv, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(l->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *cl;
		char host[INET6_ADDRSTRLEN] = "";

		if (fd < 0)
			return;
		if (sv->n_clients >= MAX_CLIENTS)
			evict_unauthenticated(sv);
		if (sv->n_clients >= MAX_CLIENTS || !(cl = calloc(1, sizeof(*cl)))) {
			fprintf(stderr, "profinferd: refusing a connection: %d authenticated clients already\n",
				MAX_CLIENTS);
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->id = ++sv->next_client_id;
		cl->connected_ns = pi_serve__now_ns();
		if (sa.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof(host));
		else if (sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof(host));
		snprintf(cl->peer, sizeof(cl->peer), "%s", sa.ss_family == AF_UNIX ? "unix" : host);
		cl->ref = (struct ep_ref){ EP_CLIENT, cl };
		cl->ep_events = EPOLLIN;
		if (pi_serve__add_ep(sv, fd, EPOLLIN, &cl->ref)) {
			close(fd);
			free(cl);
			continue;
		}
		cl->next = sv->clients;
		sv->clients = cl;
		sv->n_clients++;
		if (sv->o.verbose)
			fprintf(stderr, "profinferd: client %u connected (%s)\n", cl->id, cl->peer);
	}
}

/* Subscribers of a running session get each new QoS sample (about one a
 * second) under their Subscribe's request id: the live view. */
static void send_qos(struct server *sv, struct client *cl)
{
	for (int i = 0; i < MAX_FEEDS && !cl->closing; i++) {
		struct feed *f = &cl->feeds[i];
		profinfer_v1_ServerMessage m = { .request_id = f->request_id,
						 .which_msg = profinfer_v1_ServerMessage_qos_tag };
		const struct pi_session *s;

		if (!f->active || !f->session_id[0] || !(s = pi_serve__find_session(sv, f->session_id)) ||
		    s->state != PI_SESSION_RUNNING || s->qos.ts_ns == f->qos_sent_ns ||
		    !pi_session__qos(s, &m.msg.qos))
			continue;
		if (!send_msg(cl, &m, NULL, 0))
			f->qos_sent_ns = s->qos.ts_ns;
	}
}

void pi_serve__tick_clients(struct server *sv)
{
	uint64_t now = pi_serve__now_ns();

	for (struct client *cl = sv->clients, *next; cl; cl = next) {
		next = cl->next;
		if (!cl->authenticated && !cl->closing && now - cl->connected_ns > HELLO_TIMEOUT_NS) {
			send_error(cl, 0, profinfer_v1_ErrorCode_ERROR_CODE_UNAUTHENTICATED,
				   "no Hello within %llu s: closing the connection", HELLO_TIMEOUT_NS / 1000000000ull);
			start_closing(cl);
		}
		/* Requests held back while its output was full. */
		if (cl->in_len && !cl->closing && unsent(cl) < OUT_HARD_BYTES)
			process_input(sv, cl);
		send_qos(sv, cl);
		pump_feeds(sv, cl);
		pi_serve__flush_client(sv, cl);
	}
}
