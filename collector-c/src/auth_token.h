/* auth_token.h: the control protocol's shared secret.
 *
 * profinferd serve creates a random token on its first start in a file only
 * root can write (mode 0640, owner root, group configurable so that an app's
 * user can read it) and requires it in every client's Hello. The file is
 * outside input on later starts: it is opened without following links and
 * refused, with a reason, when its owner, mode or contents are wrong.
 */
#ifndef PI_AUTH_TOKEN_H
#define PI_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* 32 random bytes as hex. */
#define PI_AUTH_TOKEN_LEN 64

/* Reads the token at path, or creates it (and its directory) when missing.
 * `gid` (or (gid_t)-1 for root's group) becomes the file's group. token gets
 * PI_AUTH_TOKEN_LEN + 1 bytes. Sets *created. Returns 0 or -errno with a
 * one-line reason in err. */
int pi_auth_token__load_or_create(const char *path, gid_t gid, char *token, bool *created, char *err,
				  size_t errlen);

/* Compares a client's token with ours in time independent of where they
 * differ. */
bool pi_auth_token__equal(const char *ours, const char *theirs);

#endif /* PI_AUTH_TOKEN_H */
