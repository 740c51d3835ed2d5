/* keys.c - key generation and key files. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "sealtrace-key v1 "

uint8_t *st_secret_new(size_t len)
{
	if (sodium_init() < 0)
		return NULL;
	return sodium_malloc(len);
}

void st_secret_free(uint8_t *p)
{
	if (p)
		sodium_free(p);
}

int st_sign_keypair(uint8_t pk[ST_SIGN_PK_LEN], uint8_t *sk)
{
	if (sodium_init() < 0)
		return ST_E_CRYPTO_INIT;
	return crypto_sign_keypair(pk, sk) == 0 ? 0 : ST_E_INVAL;
}

int st_box_keypair(uint8_t pk[ST_BOX_PK_LEN], uint8_t *sk)
{
	if (sodium_init() < 0)
		return ST_E_CRYPTO_INIT;
	return crypto_box_keypair(pk, sk) == 0 ? 0 : ST_E_INVAL;
}

static int fsync_dir_of(const char *path)
{
	char tmp[4096];
	if (strlen(path) >= sizeof tmp)
		return ST_E_INVAL;
	strcpy(tmp, path);
	int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return st_errno(errno);
	int rc = fsync(fd) < 0 ? st_errno(errno) : 0;
	close(fd);
	return rc;
}

int st_key_write(const char *path, const char *label, const uint8_t *key,
		 size_t len, bool secret, struct st_error *err)
{
	if (len > (ST_KEYFILE_MAX - 100) / 2)
		return st_fail(err, ST_E_INVAL, "%s: key of %zu bytes too long",
			       path, len);
	char text[ST_KEYFILE_MAX];
	int n = snprintf(text, sizeof text, KEY_MAGIC "%s\n", label);
	if (n < 0 || (size_t)n + 2 * len + 2 > sizeof text)
		return st_fail(err, ST_E_INVAL, "%s: label too long", path);
	sodium_bin2hex(text + n, sizeof text - (size_t)n, key, len);
	n += (int)(2 * len);
	text[n++] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      secret ? 0600 : 0644);
	if (fd < 0) {
		int e = errno;
		sodium_memzero(text, sizeof text);
		return st_fail(err, st_errno(e), "%s: cannot create key file: %s%s",
			       path, strerror(e),
			       e == EEXIST ? "; move the old key away first, a "
					     "key is never overwritten"
					   : "");
	}
	/* umask may have narrowed, never widened; make it exact */
	if (fchmod(fd, secret ? 0600 : 0644) < 0 ||
	    write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		sodium_memzero(text, sizeof text);
		return st_fail(err, st_errno(e ? e : EIO),
			       "%s: cannot write key file: %s", path,
			       strerror(e ? e : EIO));
	}
	sodium_memzero(text, sizeof text);
	close(fd);
	int rc = fsync_dir_of(path);
	if (rc < 0)
		return st_fail(err, rc, "%s: cannot sync its folder: %s", path,
			       st_strerror(rc));
	return 0;
}

int st_key_read(const char *path, const char *label, uint8_t *out, size_t len,
		bool secret, struct st_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		return st_fail(err, st_errno(e), "%s: cannot open key file: %s",
			       path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_fail(err, ST_E_KEY_FORMAT, "%s: not a regular file",
			       path);
	}
	if (secret && (st.st_mode & 077)) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE,
			       "key file %s is mode %04o; run chmod 600 %s", path,
			       (unsigned)(st.st_mode & 07777), path);
	}
	uint8_t *text = sodium_malloc(ST_KEYFILE_MAX + 1);
	if (!text) {
		close(fd);
		return st_fail(err, ST_E_NOMEM, "%s: out of locked memory", path);
	}
	ssize_t n = read(fd, text, ST_KEYFILE_MAX + 1);
	close(fd);
	int rc = 0;
	char want[128];
	int wl = snprintf(want, sizeof want, KEY_MAGIC "%s\n", label);
	const char *hex_end = NULL;
	size_t bin_len = 0;
	if (n < 0) {
		rc = st_fail(err, ST_E_KEY_FORMAT, "%s: cannot read", path);
	} else if (n > ST_KEYFILE_MAX) {
		rc = st_fail(err, ST_E_KEY_FORMAT,
			     "%s: over %d bytes, not a sealtrace key file", path,
			     ST_KEYFILE_MAX);
	} else if (n < wl || memcmp(text, want, (size_t)wl) != 0) {
		rc = st_fail(err, ST_E_KEY_FORMAT,
			     "%s: not a '%s' key file (first line must be "
			     "'%.*s')",
			     path, label, wl - 1, want);
	} else if (sodium_hex2bin(out, len, (const char *)text + wl,
				  (size_t)n - (size_t)wl, "\n", &bin_len,
				  &hex_end) != 0 ||
		   bin_len != len ||
		   hex_end != (const char *)text + n) {
		rc = st_fail(err, ST_E_KEY_FORMAT,
			     "%s: key must be %zu bytes of hex after the first "
			     "line",
			     path, len);
	}
	sodium_free(text);
	if (rc < 0)
		sodium_memzero(out, len);
	return rc;
}
