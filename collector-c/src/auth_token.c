/* auth_token.c: see auth_token.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_token.h"

#define TOKEN_MODE 0640

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_hex_token(const char *s, size_t n)
{
	if (n != PI_AUTH_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* mkdir -p for the token's directory, 0750. */
static int make_parent(const char *path)
{
	char dir[4096];
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int create_token(const char *path, gid_t gid, char *token, char *err, size_t errlen)
{
	unsigned char raw[PI_AUTH_TOKEN_LEN / 2];
	int fd, e;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		e = -errno;
		set_err(err, errlen, "failed to get random bytes for the auth token: %s", strerror(-e));
		return e;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	if ((e = make_parent(path))) {
		set_err(err, errlen, "cannot create the directory of %s: %s", path, strerror(-e));
		return e;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TOKEN_MODE);
	if (fd < 0) {
		e = -errno;
		set_err(err, errlen, "cannot create the auth token file %s: %s", path, strerror(-e));
		return e;
	}
	/* The umask may have cleared group read; the group is the operator's. */
	if (fchmod(fd, TOKEN_MODE) || (gid != (gid_t)-1 && fchown(fd, geteuid(), gid)) ||
	    write(fd, token, PI_AUTH_TOKEN_LEN) != PI_AUTH_TOKEN_LEN || write(fd, "\n", 1) != 1 || fsync(fd)) {
		e = -errno;
		close(fd);
		unlink(path);
		set_err(err, errlen, "cannot write the auth token file %s: %s", path, strerror(-e ? -e : EIO));
		return e ? e : -EIO;
	}
	close(fd);
	return 0;
}

static int read_token(const char *path, gid_t gid, char *token, char *err, size_t errlen)
{
	char buf[PI_AUTH_TOKEN_LEN + 2];
	struct stat st;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		set_err(err, errlen, "cannot open the auth token file %s: %s%s", path, strerror(-e),
			e == -ELOOP ? " (it is a symbolic link: remove it)" : "");
		return e;
	}
	if (fstat(fd, &st)) {
		e = -errno;
		goto fail_errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0027)) {
		close(fd);
		set_err(err, errlen, "refusing the auth token file %s: it must be a regular file owned by uid %u "
				     "with mode 0640 or stricter (it is uid %u, mode %04o); remove it to create a new one",
			path, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (gid != (gid_t)-1 && st.st_gid != gid && fchown(fd, geteuid(), gid)) {
		e = -errno;
		goto fail_errno;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n < 0 || !is_hex_token(buf, (size_t)n)) {
		set_err(err, errlen, "the auth token file %s is corrupt (want %d hex digits): remove it to create "
				     "a new one", path, PI_AUTH_TOKEN_LEN);
		return -EINVAL;
	}
	memcpy(token, buf, PI_AUTH_TOKEN_LEN);
	token[PI_AUTH_TOKEN_LEN] = '\0';
	return 0;
fail_errno:
	close(fd);
	set_err(err, errlen, "cannot read the auth token file %s: %s", path, strerror(-e));
	return e;
}

int pi_auth_token__load_or_create(const char *path, gid_t gid, char *token, bool *created, char *err,
				  size_t errlen)
{
	int e;

	*created = false;
	e = read_token(path, gid, token, err, errlen);
	if (e != -ENOENT)
		return e;
	e = create_token(path, gid, token, err, errlen);
	if (e == -EEXIST) /* another instance won the race: use its token */
		return read_token(path, gid, token, err, errlen);
	*created = !e;
	return e;
}

bool pi_auth_token__equal(const char *ours, const char *theirs)
{
	size_t n = strnlen(theirs, PI_AUTH_TOKEN_LEN + 1);
	unsigned char diff = n != PI_AUTH_TOKEN_LEN;

	for (size_t i = 0; i < PI_AUTH_TOKEN_LEN; i++)
		diff |= (unsigned char)ours[i] ^ (unsigned char)(i < n ? theirs[i] : 0);
	return diff == 0;
}
