/* serve.h: `profinferd serve`, the long-running device service.
 *
 * One thread, one epoll loop over the listeners (TCP on loopback, a Unix
 * socket), the clients, and every session's collector (serve_session.h).
 * Clients speak the control protocol (control_frame.h): Hello with the
 * protocol version and the auth token (auth_token.h) first, then any
 * request. A session's trace is written to the trace store
 * (trace_store.h) and subscribers are fed from that file by byte offset,
 * so a slow or vanished client never blocks the collector or loses data.
 * serve.c holds the options, listeners, sessions and the loop;
 * serve_client.c a client's connection (serve_internal.h between them).
 */
#ifndef PI_SERVE_H
#define PI_SERVE_H

/* argv[0] is "serve". Returns the process exit status. */
int pi_serve__main(int argc, char **argv);

#endif /* PI_SERVE_H */
