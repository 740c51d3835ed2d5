/* spool.h - owns the agent's crash-safe, bounded spool of sealed segments
 * and its durable sequence counter. Never drops, overwrites or opens one. */
#ifndef ST_SPOOL_H
#define ST_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/fs.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/seal.h"

/* Layout of the spool folder (created 0700, refused when group or others
 * can enter it):
 *   <20-digit seq>.seg       one sealed segment, named after its header seq
 *   <name>.tmp               a write in progress; removed on open
 *   state                    "next_seq" and "last_put_seq" (see below)
 *   lock                     flock'ed while a spool is open: one writer only
 *   quarantine/              (0700) segments that failed verification on
 *                            open or that the server refused
 *                            (st_spool_quarantine), each with a
 *                            <name>.reason file beside it
 * Anything else in the folder is left alone.
 *
 * Threads: every call below takes the spool's own mutex, so the recorder
 * and the uploader may share one spool from two threads. open and close
 * are not shared: one thread opens before the other starts and closes
 * after it ended. */

#define ST_SPOOL_MAX_DEFAULT (256ull << 20) /* bytes of segments, 256 MiB */
/* Bound on directory entries one open will look at (spool folder and
 * quarantine each): a folder with more is refused, not half-recovered. */
#define ST_SPOOL_FILES_MAX 1000000u
/* Largest spooled file read back: one sealed segment at its cap. */
#define ST_SPOOL_SEG_MAX ((size_t)ST_SEG_HEADER_LEN + ST_SEG_CIPHER_MAX)
/* Largest state file accepted; the real one is under 100 bytes. */
#define ST_SPOOL_STATE_MAX 256u
/* Largest .reason text written by st_spool_quarantine. */
#define ST_SPOOL_REASON_MAX 1024u

struct st_spool_cfg {
	const char *dir;            /* the spool folder; its parent exists */
	uint64_t max_bytes;         /* 0 = ST_SPOOL_MAX_DEFAULT */
	struct st_fs *fs;           /* NULL = st_fs_posix() */
	const uint8_t *device_pk;   /* 32 bytes, Ed25519: recovery verifies
				       every spooled segment with it */
};

/* What st_spool_open found and did. Sequence numbers start at 1; 0 = none.
 *
 * The state file holds two numbers, each written durably (tmp, fsync,
 * rename, fsync folder):
 *   next_seq      the next number st_spool_next_seq hands out; written
 *                 before the number is returned, so a number is never
 *                 handed out twice, even after its segment was uploaded and
 *                 removed and the device lost power.
 *   last_put_seq  the highest seq st_spool_put ever stored; written after
 *                 the segment's folder fsync (and again before any remove,
 *                 should that write have failed).
 * missing = the reserved numbers above the highest one known to have been
 * stored: (next_seq - 1) - max(last_put_seq, highest .seg in the spool or in
 * quarantine), or 0. These are segments that were sealed (or about to be)
 * when the agent stopped and never reached the spool: a crash gap. Numbers
 * at or below last_put_seq with no file were uploaded and removed and are
 * not counted. missing is reported by every open until a later put stores a
 * higher number. */
struct st_spool_recovery {
	size_t partial_removed; /* *.tmp files removed */
	size_t quarantined;     /* *.seg moved to quarantine/ on this open */
	size_t intact;          /* *.seg verified and kept */
	uint64_t first_seq, last_seq; /* of the intact ones; 0 when none */
	uint64_t missing;       /* see above */
	uint64_t next_seq;      /* what st_spool_next_seq will hand out */
	/* The state file was absent although segments were present (someone
	 * removed it): next_seq was rebuilt from the highest file seq, so
	 * numbers of segments already uploaded and removed could repeat. */
	int state_rebuilt;
	/* The gap marker the recorder should write for what this open found
	 * (enum st_gap_reason): ST_REASON_CORRUPT when a segment was
	 * quarantined, else ST_REASON_CRASH when a partial write was removed
	 * or numbers are missing, else ST_REASON_NONE. */
	uint16_t gap_reason;
};

struct st_spool;

/* Creates the folder (0700) and quarantine/ if needed, locks it, and
 * recovers: removes *.tmp, verifies every *.seg with cfg->device_pk (the
 * name must match the header seq) and moves any that fails to quarantine/
 * with a .reason file. rec (may be NULL) receives the report. Refuses a
 * folder that is group/other accessible or owned by another user (-EPERM,
 * the message says to chmod 700), a folder another spool holds open
 * (ST_E_STATE), a malformed state file (ST_E_CORRUPT) and a folder with
 * more than ST_SPOOL_FILES_MAX entries (ST_E_CAP). The caller frees *out
 * with st_spool_close. */
int st_spool_open(const struct st_spool_cfg *cfg, struct st_spool **out,
		  struct st_spool_recovery *rec, struct st_error *err);
/* Releases the lock and frees sp (NULL is fine). Nothing is lost by not
 * calling it: every change was durable when its call returned. */
void st_spool_close(struct st_spool *sp);

/* Reserves the next sequence number durably (see the state file above), so
 * sequence numbers never repeat, even after segments are uploaded and
 * removed. On failure no number was handed out. */
int st_spool_next_seq(struct st_spool *sp, uint64_t *seq,
		      struct st_error *err);

/* Durably stores one sealed segment as <dir>/<seq as %020llu>.seg: a .tmp
 * name, write all, fsync, rename, fsync the folder. seq must have been
 * reserved with st_spool_next_seq (ST_E_INVAL), the header must parse (its
 * error) and name seq (ST_E_INVAL), and seq must not be spooled already
 * (ST_E_EXISTS). If the spooled bytes plus len would pass the bound it
 * returns ST_E_SPOOL_FULL and writes nothing: recording must stop until
 * segments are sent and removed. On any error nothing of the segment is
 * left behind (after a crash, the next open removes what was), and the put
 * may be retried with the same seq. Returns 0 once the segment is durable,
 * even if updating last_put_seq failed (that write is retried by the next
 * next_seq or remove). */
int st_spool_put(struct st_spool *sp, uint64_t seq, const uint8_t *seg,
		 size_t len, struct st_error *err);

/* Reads a spooled segment into out (replacing its contents). ST_E_NOT_FOUND
 * when seq is not spooled; ST_E_CAP past ST_SPOOL_SEG_MAX. */
int st_spool_read(struct st_spool *sp, uint64_t seq, struct st_buf *out,
		  struct st_error *err);

/* Removes a spooled segment (after the server acknowledged it): unlink and
 * fsync the folder. ST_E_NOT_FOUND when not spooled. If the folder fsync
 * fails the segment is already out of the spool's count but may reappear
 * after a crash; it is then uploaded again, which ingest treats as the same
 * segment (idempotent by device and seq). */
int st_spool_remove(struct st_spool *sp, uint64_t seq, struct st_error *err);

/* Sequence numbers spooled, ascending; *seqs is malloc'ed (NULL when *n is
 * 0) and the caller frees it with free(). */
int st_spool_list(struct st_spool *sp, uint64_t **seqs, size_t *n,
		  struct st_error *err);

/* The lowest spooled seq: what an uploader sends next. ST_E_NOT_FOUND when
 * the spool is empty. */
int st_spool_oldest(struct st_spool *sp, uint64_t *seq, struct st_error *err);

/* Moves a spooled segment to quarantine/ with <name>.reason holding reason
 * (at most ST_SPOOL_REASON_MAX bytes; the caller names the error id and
 * never puts content in it): the reason file is written and synced first,
 * then the rename, then quarantine/ and the spool folder are synced. The
 * segment leaves the spool's count and is never deleted. ST_E_NOT_FOUND
 * when seq is not spooled. */
int st_spool_quarantine(struct st_spool *sp, uint64_t seq, const char *reason,
			struct st_error *err);

uint64_t st_spool_bytes(const struct st_spool *sp); /* spooled .seg bytes */
size_t st_spool_count(const struct st_spool *sp);   /* spooled segments */
/* Segments in quarantine/ (found at open, plus those moved since). */
size_t st_spool_quarantined(const struct st_spool *sp);

#endif
