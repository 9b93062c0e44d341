/* serve_allow.c: see serve_allow.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve_allow.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int pi_allow__lookup_id(const char *file, const char *name, unsigned *id)
{
	char line[1024], *end;
	size_t n = strlen(name);
	unsigned long v;
	FILE *f;
	int e = -ENOENT;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && !errno && v < 0xfffffffful) {
		*id = (unsigned)v;
		return 0;
	}
	if (!n || !(f = fopen(file, "re")))
		return -ENOENT;
	/* name:password:id:... */
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, name, n) || line[n] != ':' || !(p = strchr(line + n + 1, ':')))
			continue;
		errno = 0;
		v = strtoul(p + 1, &end, 10);
		if (end != p + 1 && *end == ':' && !errno && v < 0xfffffffful) {
			*id = (unsigned)v;
			e = 0;
		}
		break;
	}
	fclose(f);
	return e;
}

int pi_allow__add(struct pi_allow *a, const char *spec, char *err, size_t errlen)
{
	struct pi_allow_rule r = { 0 };
	struct pi_allow_rule *p;

	if (!strncmp(spec, "uid:", 4)) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(spec + 4, &end, 10);
		if (!spec[4] || *end || errno || v > 0xfffffffeul)
			goto bad;
		r.kind = PI_ALLOW_UID;
		r.uid = (uid_t)v;
	} else if (!strncmp(spec, "user:", 5)) {
		unsigned uid;

		if (pi_allow__lookup_id("/etc/passwd", spec + 5, &uid)) {
			set_err(err, errlen, "--allow %s: no such user in /etc/passwd", spec);
			return -EINVAL;
		}
		r.kind = PI_ALLOW_UID;
		r.uid = uid;
	} else if (!strncmp(spec, "exe:/", 5)) {
		size_t n = strlen(spec + 4);

		if (n >= sizeof(r.path) || strstr(spec, "/../") || strstr(spec, "/./"))
			goto bad;
		memcpy(r.path, spec + 4, n + 1);
		r.kind = r.path[n - 1] == '/' ? PI_ALLOW_EXE_DIR : PI_ALLOW_EXE;
	} else {
		goto bad;
	}
	p = realloc(a->rules, (a->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	a->rules = p;
	a->rules[a->n++] = r;
	return 0;
bad:
	set_err(err, errlen, "--allow wants uid:N, user:NAME, exe:/PATH or exe:/DIR/, not '%s'", spec);
	return -EINVAL;
}

void pi_allow__free(struct pi_allow *a)
{
	free(a->rules);
	a->rules = NULL;
	a->n = 0;
}

static int read_real_uid(pid_t pid, uid_t *uid)
{
	char path[64], line[256];
	FILE *f;
	int e = -ESRCH;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		unsigned v;

		if (sscanf(line, "Uid:\t%u", &v) == 1) {
			*uid = v;
			e = 0;
			break;
		}
	}
	fclose(f);
	return e;
}

int pi_allow__check(const struct pi_allow *a, pid_t pid, char *why, size_t whylen)
{
	char path[64], exe[4096] = "";
	uid_t uid = (uid_t)-1;
	ssize_t n;

	if (read_real_uid(pid, &uid)) {
		set_err(why, whylen, "no process with PID %d", (int)pid);
		return -ESRCH;
	}
	if (!a->n)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		const struct pi_allow_rule *r = &a->rules[i];

		if (r->kind == PI_ALLOW_UID && r->uid == uid)
			return 0;
		if (r->kind == PI_ALLOW_EXE && n > 0 && !strcmp(exe, r->path))
			return 0;
		if (r->kind == PI_ALLOW_EXE_DIR && n > 0 && !strncmp(exe, r->path, strlen(r->path)))
			return 0;
	}
	set_err(why, whylen, "process %d (uid %u, %s) is not allowed by this profinferd's --allow rules", (int)pid,
		(unsigned)uid, n > 0 ? exe : "executable unknown");
	return -EPERM;
}
