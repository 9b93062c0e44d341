/* serve_internal.h: what serve.c (options, listeners, sessions, the loop)
 * and serve_client.c (a client's connection: its requests, its output and
 * the feeds that stream trace files to it) share. Private to profinferd
 * serve: see serve.h. */
#ifndef PI_SERVE_INTERNAL_H
#define PI_SERVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/utsname.h>

#include "auth_token.h"
#include "control_frame.h"
#include "serve_allow.h"
#include "serve_session.h"
#include "trace_store.h"

#define DEFAULT_PORT 7420
#define DEFAULT_QUOTA_MIB 1024
#define MAX_CLIENTS 64
#define MAX_LIVE_SESSIONS 8
/* Stopped sessions stay visible in Status for a while. */
#define MAX_STOPPED_SESSIONS 16
#define MAX_FEEDS 8
/* Feeds stop reading the file while a client has this much unsent. */
#define OUT_SOFT_BYTES (256u << 10)
/* Requests are not read while a client has this much unsent. */
#define OUT_HARD_BYTES (1u << 20)
/* A client must authenticate within this time. */
#define HELLO_TIMEOUT_NS (10ull * 1000000000ull)
/* A closing client's last messages get this long to leave. */
#define CLOSE_LINGER_NS (2ull * 1000000000ull)
#define TICK_MS 100
/* How often waiting sessions look for their process. */
#define NAME_SCAN_NS (100ull * 1000000ull)
#define QUOTA_CHECK_NS (1000ull * 1000000ull)
#define MAX_LISTED_TRACES 20000

enum ep_kind { EP_LISTEN, EP_CLIENT, EP_COLLECTOR, EP_PIDFD };

struct ep_ref {
	enum ep_kind kind;
	void *obj;
};

/* A trace file streamed to a client from a byte offset: Subscribe (by
 * session) or FetchTrace (by trace). */
struct feed {
	bool active;
	uint64_t request_id;
	char trace_id[PI_TRACE_ID_MAX + 1];
	char session_id[PI_TRACE_ID_MAX + 1]; /* Subscribe: QoS samples follow too */
	uint64_t qos_sent_ns;		       /* ts of the last QosSample sent */
	int fd;
	uint64_t offset;
};

struct client {
	int fd;
	struct ep_ref ref;
	unsigned id;
	char peer[80];
	bool authenticated;
	bool closing;		/* send what is queued, then close */
	bool dead;		/* closed; freed after this round of events */
	uint64_t connected_ns, closing_ns;
	uint32_t ep_events;
	size_t in_len;
	uint8_t in[PI_CONTROL_MAX_CLIENT_FRAME + 16];
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct feed feeds[MAX_FEEDS];
	struct client *next;
};

struct listener {
	int fd;
	struct ep_ref ref;
	char what[300];
};

struct serve_opts {
	char listen[300];
	bool remote;
	char unix_path[108];
	char state_dir[3800];
	char trace_dir[4096];
	char token_file[4096];
	const char *token_group;
	uint64_t quota_mib;
	bool foreground;
	bool verbose;
	struct pi_allow allow;
};

struct server {
	struct serve_opts o;
	int epfd;
	struct listener listeners[2];
	size_t n_listeners;
	struct client *clients;
	struct client *dead_clients;
	size_t n_clients;
	unsigned next_client_id;
	struct pi_session *sessions;
	struct pi_session_env env;
	char token[PI_AUTH_TOKEN_LEN + 1];
	struct utsname uts;
	char device_model[128];
	uint64_t last_scan_ns, last_quota_ns;
	uint8_t chunk[PI_CONTROL_CHUNK_BYTES];
};

uint64_t pi_serve__now_ns(void);
int pi_serve__add_ep(struct server *sv, int fd, uint32_t events, struct ep_ref *ref);

/* Sessions (serve.c). */
struct pi_session *pi_serve__find_session(struct server *sv, const char *id);
size_t pi_serve__live_sessions(const struct server *sv);
void pi_serve__watch_session(struct server *sv, struct pi_session *s);
void pi_serve__stop_session(struct server *sv, struct pi_session *s, const char *reason);

/* Clients (serve_client.c). */
void pi_serve__accept_clients(struct server *sv, struct listener *l);
/* Reads and handles what the client sent; false when it was closed. */
bool pi_serve__read_client(struct server *sv, struct client *cl);
/* Sends what is queued; false when the client was closed. */
bool pi_serve__flush_client(struct server *sv, struct client *cl);
void pi_serve__close_client(struct server *sv, struct client *cl);
/* Frees the clients closed in this round of events. */
void pi_serve__free_dead_clients(struct server *sv);
/* Hello timeouts, held-back requests, QoS samples, feeds, output. */
void pi_serve__tick_clients(struct server *sv);

#endif /* PI_SERVE_INTERNAL_H */
