/* fs_faulty.h - test doubles of the st_fs seam (tests only): one that fails
 * the N-th call, one that models durability and simulates a power loss.
 * Never used outside tests; include fs_faulty.c into the test program. */
#ifndef ST_TEST_FS_FAULTY_H
#define ST_TEST_FS_FAULTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/fs.h"

enum fs_op {
	FS_OP_ANY = 0,
	FS_OP_OPEN, FS_OP_WRITE, FS_OP_READ, FS_OP_FSYNC, FS_OP_CLOSE,
	FS_OP_RENAME, FS_OP_UNLINK, FS_OP_MKDIR,
	FS_OP_COUNT,
};

/* (a) Forwards to inner, but the fail_at-th call of op (FS_OP_ANY: of any
 * operation), counted from 1 since the last fs_fault_arm, fails with -EIO
 * and does nothing, except close, which still closes (as Linux does). Only
 * that one call fails. fail_at 0 only counts. */
struct fs_fault {
	struct st_fs base; /* first: a struct fs_fault * is a struct st_fs * */
	struct st_fs *inner;
	enum fs_op op;
	long fail_at;
	long calls;        /* of op since arming */
	long failed;       /* how many calls failed */
	bool sticky;       /* fail every call from fail_at on */
};

void fs_fault_init(struct fs_fault *f, struct st_fs *inner);
void fs_fault_arm(struct fs_fault *f, enum fs_op op, long fail_at);
/* Like arm, but every matching call from the fail_at-th on fails: a disk
 * that has gone away, or a process that will never get to run them. */
void fs_fault_arm_from(struct fs_fault *f, enum fs_op op, long fail_at);

/* (b) Power loss. Forwards to the real file system under root and keeps a
 * model of what is durable:
 *   - a file's bytes are durable as of its last fsync (a new file: empty);
 *   - a folder's entries (create, mkdir, rename in or out, unlink) are
 *     durable as of the last fsync of that folder.
 * fs_pl_cut rewrites the real tree under root to exactly the durable state
 * (unsynced creations vanish, unsynced renames revert, unsynced unlinks come
 * back, contents revert to their last fsynced bytes) and from then on every
 * call fails with -EIO (close still closes the descriptor). With cut_at K >
 * 0, the K-th call (any operation, counted from 1) cuts instead of running.
 * fsync is not passed to the disk: durability is the model's, which keeps
 * hundreds of runs fast. Paths outside root are forwarded untracked. */
struct fs_pl;

struct fs_pl *fs_pl_new(const char *root);
void fs_pl_free(struct fs_pl *pl);
struct st_fs *fs_pl_fs(struct fs_pl *pl);
void fs_pl_set_cut_at(struct fs_pl *pl, long k);
long fs_pl_calls(const struct fs_pl *pl);
bool fs_pl_was_cut(const struct fs_pl *pl);
/* Harsher cut, closer to a journaling file system: metadata changes
 * (create, mkdir, rename, unlink) reach the disk in the order they were
 * made, so the cut keeps a random prefix of them, never less than the last
 * folder fsync covered (a rename lands whole or not at all); a file's
 * unsynced bytes become the durable ones, the current ones or a torn prefix
 * of the current ones. What was durable always stays. Choices come from
 * seed. */
void fs_pl_set_fuzz(struct fs_pl *pl, uint64_t seed);
void fs_pl_cut(struct fs_pl *pl);

/* Test helpers: rm -rf, a fresh temporary folder (caller frees). */
void fs_rm_rf(const char *path);
char *fs_mkdtemp(const char *tag);

#endif
