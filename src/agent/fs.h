/* fs.h - owns the file-system seam of the agent: every file operation the
 * spool makes goes through a struct st_fs, so tests can fail the N-th call or
 * simulate a power loss. Never interprets file contents. */
#ifndef ST_FS_H
#define ST_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/* Operations return 0 / a byte count, or a negative st_err (-errno). */
struct st_fs {
	int (*open)(struct st_fs *fs, const char *path, int flags, mode_t mode);
	ssize_t (*write)(struct st_fs *fs, int fd, const void *p, size_t n);
	ssize_t (*read)(struct st_fs *fs, int fd, void *p, size_t n);
	int (*fsync)(struct st_fs *fs, int fd);
	int (*close)(struct st_fs *fs, int fd);
	int (*rename)(struct st_fs *fs, const char *from, const char *to);
	int (*unlink)(struct st_fs *fs, const char *path);
	int (*mkdir)(struct st_fs *fs, const char *path, mode_t mode);
};

/* The real file system (POSIX calls, EINTR retried). */
struct st_fs *st_fs_posix(void);

#endif
