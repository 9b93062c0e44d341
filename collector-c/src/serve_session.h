/* serve_session.h: one profiling session of profinferd serve.
 *
 * A session is the collector core (collector.h) on one target process,
 * writing its trace file in the trace store. It starts on a PID, or waits
 * for a process of a given name and attaches when one appears (the service
 * scans /proc on a timer). It ends when the target exits, a client stops it,
 * the collector fails, or the service stops; its trace is then complete.
 * Sessions are the service's, not a client's: every client sees all of them.
 */
#ifndef PI_SERVE_SESSION_H
#define PI_SERVE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector.h"
#include "probe_plan.h"
#include "profinfer.pb.h"
#include "serve_allow.h"
#include "session_config.h"
#include "trace_store.h"

enum pi_session_state { PI_SESSION_WAITING, PI_SESSION_RUNNING, PI_SESSION_STOPPED };

struct pi_session {
	char id[PI_TRACE_ID_MAX + 1];
	char trace_id[PI_TRACE_ID_MAX + 1];
	char target_name[PI_TRACE_TARGET_MAX]; /* the process name (waiting or found) */
	char process_name[256];		       /* name to wait for; empty for a PID session */
	enum pi_session_state state;
	pid_t pid;			/* 0 while waiting */
	int pidfd;			/* readable when the target exits; -1 if unsupported */
	int out_fd;			/* the trace file, while running */
	struct pi_collector *c;
	/* Refreshed at every poll, final once stopped: the level in force
	 * (the QoS rule may lower it), counts, and the latest QoS figures. */
	profinfer_v1_TraceLevel level;
	struct pi_collector_stats stats;
	struct pi_qos_sample qos;
	uint64_t stopped_ns;		/* CLOCK_MONOTONIC */
	char end_reason[64];
	char refused[512];		/* last process of that name the rules refused */
	/* Processes of that name tried and refused (not allowed, no engine):
	 * not tried again, so a scan costs no more than reading names. */
	pid_t tried[64];
	size_t n_tried;
	/* The request's configuration and the options made from it (whose
	 * strings point into both): kept for the session's life. */
	profinfer_v1_SessionConfig cfg;
	struct pi_session_opts sopts;
	void *ep_collector, *ep_pidfd;	/* the service's epoll references */
	struct pi_session *next;
};

struct pi_session_env {
	struct pi_trace_store *store;
	const struct pi_allow *allow;
	enum pi_node_probes node_probes;
	bool verbose;
};

/* Validates the request against the service's rules and starts a session:
 * running on a PID, or waiting for a process name. `others` are the live
 * sessions (a process is profiled by one session at a time). Returns 0, or
 * a profinfer_v1_ErrorCode with a one-line reason in err. */
int pi_session__start(const struct pi_session_env *env, const profinfer_v1_StartSession *req,
		      const struct pi_session *others, struct pi_session **out, char *err, size_t errlen);

/* A waiting session looks for its process in /proc; true once attached. */
bool pi_session__try_attach(const struct pi_session_env *env, struct pi_session *s,
			    const struct pi_session *others);

/* Drains the collector. Returns 0, or a negative errno when the session
 * must end (reason in s->end_reason). */
int pi_session__poll(struct pi_session *s);

/* Whether the target has exited (checks the pidfd or the PID). */
bool pi_session__target_gone(const struct pi_session *s);

/* Finishes the trace (SessionEnd with `reason`), frees the collector and
 * marks the trace complete in the store. */
void pi_session__stop(const struct pi_session_env *env, struct pi_session *s, const char *reason);

/* Fills a SessionStatus whose strings point into s. pids: 1 slot. */
void pi_session__status(const struct pi_session *s, profinfer_v1_SessionStatus *st, uint32_t *pids);

/* The latest QoS figures as a QosSample; false when none is known yet. */
bool pi_session__qos(const struct pi_session *s, profinfer_v1_QosSample *out);

/* Changes the tracing level of a running session. Returns 0 or a
 * profinfer_v1_ErrorCode with err. */
int pi_session__set_level(struct pi_session *s, profinfer_v1_TraceLevel level, char *err, size_t errlen);

void pi_session__free(struct pi_session *s);

const char *pi_session_state__name(enum pi_session_state st);

#endif /* PI_SERVE_SESSION_H */
