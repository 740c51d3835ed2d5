/* file.h - owns small whole-file reads and atomic replacements (tmp, fsync,
 * rename, fsync the folder; or without the fsyncs). Never follows a symlink
 * on write; never reads more than the caller's cap. */
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
/* The same without the fsyncs: readers see the old or the new file whole,
 * and after a crash either may remain. For files rewritten every few
 * seconds that hold nothing to keep (the agent's state.json), where two
 * fsyncs per write would be most of the writer's cost. */
int st_file_replace(const char *path, const void *data, size_t len,
		    mode_t mode, struct st_error *err);
/* Creates a folder 0700 if missing; refuses an existing one that group or
 * others may enter (with the chmod to run) or that another user owns. */
int st_dir_private(const char *path, struct st_error *err);

#endif
