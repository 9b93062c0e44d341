/* serve_allow.h: which processes profinferd serve may profile (--allow).
 *
 * No rule: every process. Otherwise a process is allowed when any rule
 * matches it:
 *   uid:N         its real user id is N
 *   user:NAME     its real user id is NAME's
 *   exe:/PATH     its executable (/proc/PID/exe) is exactly PATH
 *   exe:/DIR/     its executable is under DIR
 * The process's uid and executable come from the kernel (/proc), never
 * from the client.
 */
#ifndef PI_SERVE_ALLOW_H
#define PI_SERVE_ALLOW_H

#include <stddef.h>
#include <sys/types.h>

struct pi_allow_rule {
	enum { PI_ALLOW_UID, PI_ALLOW_EXE, PI_ALLOW_EXE_DIR } kind;
	uid_t uid;
	char path[4096];
};

struct pi_allow {
	struct pi_allow_rule *rules;
	size_t n;
};

/* Parses one --allow RULE. Returns 0 or -EINVAL with err. */
int pi_allow__add(struct pi_allow *a, const char *spec, char *err, size_t errlen);
void pi_allow__free(struct pi_allow *a);

/* The id of a user or group name from /etc/passwd or /etc/group (a
 * static binary cannot use NSS), or a number. Returns 0 or -ENOENT. */
int pi_allow__lookup_id(const char *file, const char *name, unsigned *id);

/* 0 when pid may be profiled; -EPERM (not allowed) or -ESRCH (gone) with a
 * one-line reason in why. */
int pi_allow__check(const struct pi_allow *a, pid_t pid, char *why, size_t whylen);

#endif /* PI_SERVE_ALLOW_H */
