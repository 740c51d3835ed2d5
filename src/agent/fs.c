/* fs.c - the real file system behind the st_fs seam: POSIX calls with EINTR
 * retried, O_CLOEXEC always added, errors as -errno in the st_err space. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* EINTR retries are bounded so a signal storm cannot spin us forever; a
 * call interrupted this many times in a row reports -EINTR. */
#define ST_FS_EINTR_MAX 1000

static int px_open(struct st_fs *fs, const char *path, int flags, mode_t mode)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		int fd = open(path, flags | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static ssize_t px_write(struct st_fs *fs, int fd, const void *p, size_t n)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		ssize_t w = write(fd, p, n);
		if (w >= 0)
			return w;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static ssize_t px_read(struct st_fs *fs, int fd, void *p, size_t n)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		ssize_t r = read(fd, p, n);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static int px_fsync(struct st_fs *fs, int fd)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		if (fsync(fd) == 0)
			return 0;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static int px_close(struct st_fs *fs, int fd)
{
	(void)fs;
	/* Never retry close on EINTR: on Linux the descriptor is already gone
	 * and a retry could close a descriptor another thread just opened. */
	if (close(fd) == 0 || errno == EINTR)
		return 0;
	return st_errno(errno);
}

static int px_rename(struct st_fs *fs, const char *from, const char *to)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		if (rename(from, to) == 0)
			return 0;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static int px_unlink(struct st_fs *fs, const char *path)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		if (unlink(path) == 0)
			return 0;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static int px_mkdir(struct st_fs *fs, const char *path, mode_t mode)
{
	(void)fs;
	for (int i = 0; i < ST_FS_EINTR_MAX; i++) {
		if (mkdir(path, mode) == 0)
			return 0;
		if (errno != EINTR)
			return st_errno(errno);
	}
	return st_errno(EINTR);
}

static struct st_fs posix_fs = {
	.open = px_open,
	.write = px_write,
	.read = px_read,
	.fsync = px_fsync,
	.close = px_close,
	.rename = px_rename,
	.unlink = px_unlink,
	.mkdir = px_mkdir,
};

struct st_fs *st_fs_posix(void)
{
	return &posix_fs;
}
