/* auditlog.h - owns the server's side of the audit log: appending entries
 * in the caller's store transaction (chain hash from src/access/audit.h),
 * the leaf hashes in memory for proofs, and signed checkpoints with the
 * audit key (never the lease key). One instance per server, used under the
 * api's store mutex: it is not thread-safe by itself.
 *
 * The leaves are rebuilt from the store at open (a million entries take
 * about a second and 32 MiB); a log whose chain is broken still opens, so
 * that `sealtrace audit verify` can name the damage through the API, and
 * broken_at says where. */
#ifndef ST_AUDITLOG_H
#define ST_AUDITLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "access/audit.h"
#include "core/err.h"
#include "server/store.h"

struct st_auditlog;

struct st_auditlog_cfg {
	const char *key_path;  /* the audit Ed25519 secret, 0600 */
	const char *pub_path;  /* its public half */
	uint32_t every_entries; /* checkpoint after this many new entries */
	uint32_t every_s;       /* or this many seconds with new entries */
};

int st_auditlog_open(const struct st_auditlog_cfg *c, struct st_store *s,
		     int64_t now_s, struct st_auditlog **out,
		     struct st_error *err);
void st_auditlog_free(struct st_auditlog *l);

/* Entries in the log (the committed ones and those of the open
 * transaction); broken_at: the first entry whose chain check failed at
 * open, or the first missing one when the log is shorter than a stored
 * checkpoint (0: none). A broken log gets no new checkpoint. */
uint64_t st_auditlog_size(const struct st_auditlog *l);
uint64_t st_auditlog_broken_at(const struct st_auditlog *l);
const uint8_t *st_auditlog_public(const struct st_auditlog *l);

/* Appends e's fields (seq, prev and hash are made here) inside the store
 * transaction the caller holds open; then exactly one of commit (after
 * the store committed) or abort (after it rolled back). */
int st_auditlog_append(struct st_auditlog *l, struct st_store *s,
		       const struct st_store_audit *e, struct st_error *err);
void st_auditlog_commit(struct st_auditlog *l);
void st_auditlog_abort(struct st_auditlog *l);

/* Signs and stores a checkpoint of the current size when one is due (or
 * force and the size grew since the last), outside any transaction.
 * *made tells whether one was made; out (may be NULL) receives the newest
 * checkpoint either way (ST_E_NOT_FOUND when there is none at all). */
int st_auditlog_checkpoint(struct st_auditlog *l, struct st_store *s,
			   int64_t now_s, bool force, bool *made,
			   struct st_audit_checkpoint *out,
			   struct st_error *err);

/* Proofs from the leaves in memory (sizes up to st_auditlog_size). */
int st_auditlog_inclusion(const struct st_auditlog *l, uint64_t seq,
			  uint64_t size, struct st_audit_proof *out,
			  struct st_error *err);
int st_auditlog_consistency(const struct st_auditlog *l, uint64_t size1,
			    uint64_t size2, struct st_audit_proof *out,
			    struct st_error *err);

/* Conversions between the store's row and the audit module's entry. */
void st_auditlog_to_entry(const struct st_store_audit *r,
			  struct st_audit_entry *e);

#endif
