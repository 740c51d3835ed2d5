/* file.c - bounded reads and durable atomic writes of small files. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int st_file_read(const char *path, size_t cap, struct st_buf *out,
		 struct st_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_fail(err, ST_E_INVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > cap) {
		close(fd);
		return st_fail(err, ST_E_CAP, "%s: %lld bytes, over the cap of %zu",
			       path, (long long)st.st_size, cap);
	}
	size_t total = 0;
	for (;;) {
		if (!st_buf_reserve(out, 4096)) {
			close(fd);
			return st_fail(err, ST_E_NOMEM, "%s: out of memory", path);
		}
		ssize_t r = read(fd, out->p + out->len, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return st_fail(err, st_errno(e), "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		total += (size_t)r;
		if (total > cap) {
			close(fd);
			return st_fail(err, ST_E_CAP, "%s: over the cap of %zu", path,
				       cap);
		}
	}
	close(fd);
	return 0;
}

static int write_replace(const char *path, const void *data, size_t len,
			 mode_t mode, bool durable, struct st_error *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return st_fail(err, ST_E_CAP, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      mode);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "%s: %s", tmp, strerror(errno));
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno ? errno : EIO;
			close(fd);
			unlink(tmp);
			return st_fail(err, st_errno(e), "%s: %s", tmp, strerror(e));
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0) ||
	    close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return st_fail(err, st_errno(e), "%s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return st_fail(err, st_errno(e), "%s: %s", path, strerror(e));
	}
	if (!durable)
		return 0;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int st_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode, struct st_error *err)
{
	return write_replace(path, data, len, mode, true, err);
}

int st_file_replace(const char *path, const void *data, size_t len,
		    mode_t mode, struct st_error *err)
{
	return write_replace(path, data, len, mode, false, err);
}

int st_dir_private(const char *path, struct st_error *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return st_fail(err, st_errno(errno), "%s: cannot create: %s", path,
			       strerror(errno));
	struct stat st;
	if (lstat(path, &st) < 0)
		return st_fail(err, st_errno(errno), "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return st_fail(err, ST_E_INVAL, "%s: not a folder", path);
	if (st.st_uid != geteuid())
		return st_fail(err, ST_E_STATE,
			       "%s belongs to uid %u, not to you (uid %u); each "
			       "person's agent keeps its own folder",
			       path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return st_fail(err, ST_E_KEY_MODE,
			       "%s is mode %04o; run chmod 700 %s", path,
			       (unsigned)(st.st_mode & 07777), path);
	return 0;
}
