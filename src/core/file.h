/* file.h - owns small whole-file reads and atomic replacements (tmp, fsync,
 * rename, fsync the folder). Never follows a symlink on write; never reads
 * more than the caller's cap. */
#ifndef ST_FILE_H
#define ST_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Appends the whole file to out; ST_E_CAP if it is larger than cap. */
int st_file_read(const char *path, size_t cap, struct st_buf *out,
		 struct st_error *err);
/* Replaces path with data atomically and durably, created with mode. */
int st_file_write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode, struct st_error *err);
/* Creates a folder 0700 if missing; refuses an existing one that group or
 * others may enter (with the chmod to run) or that another user owns. */
int st_dir_private(const char *path, struct st_error *err);

#endif
