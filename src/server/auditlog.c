/* auditlog.c - the server's audit log writer. */
#include "server/auditlog.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/keys.h"

struct st_auditlog {
	uint8_t (*leaves)[32];
	uint64_t n, cap;
	uint64_t committed;              /* entries before the open append */
	uint8_t last_hash[32];           /* chain hash of entry n */
	uint8_t committed_hash[32];
	uint64_t broken_at;
	uint8_t *sk;                     /* locked, 64 bytes */
	uint8_t pk[32];
	uint32_t every_entries, every_s;
	uint64_t cp_size;                /* size of the newest checkpoint */
	int64_t cp_time;
	bool have_cp;
};

void st_auditlog_to_entry(const struct st_store_audit *r,
			  struct st_audit_entry *e)
{
	memset(e, 0, sizeof *e);
	e->seq = r->seq;
	e->time_s = r->time_s;
	memcpy(e->actor, r->actor, sizeof e->actor);
	memcpy(e->role, r->role, sizeof e->role);
	memcpy(e->action, r->action, sizeof e->action);
	memcpy(e->object, r->object, sizeof e->object);
	memcpy(e->purpose, r->purpose, sizeof e->purpose);
	memcpy(e->result, r->result, sizeof e->result);
	memcpy(e->prev, r->prev, 32);
	memcpy(e->hash, r->hash, 32);
}

_Static_assert(ST_STORE_AUDIT_ACTOR_MAX == ST_AUDIT_ACTOR_MAX &&
		       ST_STORE_AUDIT_ROLE_MAX == ST_AUDIT_ROLE_MAX &&
		       ST_STORE_AUDIT_ACTION_MAX == ST_AUDIT_ACTION_MAX &&
		       ST_STORE_AUDIT_OBJECT_MAX == ST_AUDIT_OBJECT_MAX &&
		       ST_STORE_AUDIT_PURPOSE_MAX == ST_AUDIT_PURPOSE_MAX &&
		       ST_STORE_AUDIT_RESULT_MAX == ST_AUDIT_RESULT_MAX,
	       "the store's audit columns hold what the audit module encodes");

static int push_leaf(struct st_auditlog *l, const uint8_t leaf[32],
		     struct st_error *err)
{
	if (l->n == l->cap) {
		uint64_t nc = l->cap ? l->cap * 2 : 1024;
		void *p = realloc(l->leaves, nc * 32);
		if (!p)
			return st_fail(err, ST_E_NOMEM,
				       "audit log: out of memory for %llu "
				       "leaf hashes",
				       (unsigned long long)nc);
		l->leaves = p;
		l->cap = nc;
	}
	memcpy(l->leaves[l->n++], leaf, 32);
	return 0;
}

struct load_ctx {
	struct st_auditlog *l;
	struct st_error *err;
	int rc;
	uint64_t last;
};

static int load_row(void *ctx, const struct st_store_audit *r)
{
	struct load_ctx *c = ctx;
	struct st_audit_entry e;
	st_auditlog_to_entry(r, &e);
	uint8_t leaf[32], h[32];
	if (!c->l->broken_at) {
		bool ok = r->seq == c->l->n + 1 &&
			  memcmp(r->prev, c->l->last_hash, 32) == 0 &&
			  st_audit_entry_hash(&e, h, NULL) == 0 &&
			  memcmp(h, r->hash, 32) == 0;
		if (!ok)
			c->l->broken_at = c->l->n + 1;
	}
	if (st_audit_leaf_hash(&e, leaf, NULL) < 0)
		memset(leaf, 0, 32); /* unencodable: verify names it */
	if ((c->rc = push_leaf(c->l, leaf, c->err)) < 0)
		return 1;
	memcpy(c->l->last_hash, r->hash, 32);
	c->last = r->seq;
	return 0;
}

int st_auditlog_open(const struct st_auditlog_cfg *c, struct st_store *s,
		     int64_t now_s, struct st_auditlog **out,
		     struct st_error *err)
{
	*out = NULL;
	struct st_auditlog *l = calloc(1, sizeof *l);
	if (!l)
		return st_fail(err, ST_E_NOMEM, "audit log: out of memory");
	l->every_entries = c->every_entries ? c->every_entries : 1000;
	l->every_s = c->every_s ? c->every_s : 600;
	int rc;
	l->sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!l->sk) {
		rc = st_fail(err, ST_E_NOMEM,
			     "audit log: no locked memory for the audit key");
		goto fail;
	}
	if ((rc = st_key_read(c->key_path, ST_KEY_AUDIT_SECRET, l->sk,
			      ST_SIGN_SK_LEN, true, err)) < 0 ||
	    (rc = st_key_read(c->pub_path, ST_KEY_AUDIT_PUBLIC, l->pk, 32,
			      false, err)) < 0)
		goto fail;
	if (sodium_memcmp(l->sk + 32, l->pk, 32) != 0) {
		rc = st_fail(err, ST_E_KEY_FORMAT,
			     "audit key %s does not belong to %s; restore the "
			     "pair whose public half auditors hold",
			     c->key_path, c->pub_path);
		goto fail;
	}
	struct load_ctx lc = {l, err, 0, 0};
	for (;;) {
		uint64_t before = l->n;
		rc = st_store_audit_list(s, lc.last, ST_STORE_LIST_MAX, NULL,
					 load_row, &lc, err);
		if (lc.rc < 0) {
			rc = lc.rc;
			goto fail;
		}
		if (rc < 0)
			goto fail;
		if (l->n - before < ST_STORE_LIST_MAX)
			break;
	}
	l->committed = l->n;
	memcpy(l->committed_hash, l->last_hash, 32);
	struct st_store_checkpoint cp;
	rc = st_store_checkpoint_last(s, &cp, err);
	if (rc == 0) {
		l->have_cp = true;
		l->cp_size = cp.size;
		l->cp_time = cp.time_s;
		/* fewer entries than the server once signed for: cut short */
		if (cp.size > l->n && !l->broken_at)
			l->broken_at = l->n + 1;
	} else if (rc != ST_E_NOT_FOUND) {
		goto fail;
	} else {
		l->cp_time = now_s;
	}
	*out = l;
	return 0;
fail:
	st_auditlog_free(l);
	return rc;
}

void st_auditlog_free(struct st_auditlog *l)
{
	if (!l)
		return;
	st_secret_free(l->sk);
	free(l->leaves);
	free(l);
}

uint64_t st_auditlog_size(const struct st_auditlog *l)
{
	return l->n;
}

uint64_t st_auditlog_broken_at(const struct st_auditlog *l)
{
	return l->broken_at;
}

const uint8_t *st_auditlog_public(const struct st_auditlog *l)
{
	return l->pk;
}

int st_auditlog_append(struct st_auditlog *l, struct st_store *s,
		       const struct st_store_audit *in, struct st_error *err)
{
	struct st_store_audit r = *in;
	r.seq = l->n + 1;
	struct st_audit_entry e;
	st_auditlog_to_entry(&r, &e);
	uint8_t leaf[32];
	int rc = st_audit_seal(&e, l->n ? l->last_hash : NULL, err);
	if (rc < 0 || (rc = st_audit_leaf_hash(&e, leaf, err)) < 0)
		return rc;
	memcpy(r.prev, e.prev, 32);
	memcpy(r.hash, e.hash, 32);
	if ((rc = st_store_audit_append(s, &r, err)) < 0)
		return rc;
	if ((rc = push_leaf(l, leaf, err)) < 0)
		return rc;
	memcpy(l->last_hash, r.hash, 32);
	return 0;
}

void st_auditlog_commit(struct st_auditlog *l)
{
	l->committed = l->n;
	memcpy(l->committed_hash, l->last_hash, 32);
}

void st_auditlog_abort(struct st_auditlog *l)
{
	l->n = l->committed;
	memcpy(l->last_hash, l->committed_hash, 32);
}

int st_auditlog_checkpoint(struct st_auditlog *l, struct st_store *s,
			   int64_t now_s, bool force, bool *made,
			   struct st_audit_checkpoint *out,
			   struct st_error *err)
{
	*made = false;
	if (l->broken_at)
		return st_fail(err, ST_E_AUDIT,
			       "audit log: damaged at entry %llu (found when "
			       "the server started); no checkpoint is signed "
			       "over it: run `sealtrace audit verify` and "
			       "restore the log",
			       (unsigned long long)l->broken_at);
	uint64_t size = l->committed;
	bool grew = !l->have_cp || size > l->cp_size;
	bool due = grew && (force || size - l->cp_size >= l->every_entries ||
			    now_s - l->cp_time >= (int64_t)l->every_s);
	if (l->have_cp && size < l->cp_size)
		due = false; /* a truncated log: verify says so */
	if (due) {
		struct st_audit_checkpoint cp;
		memset(&cp, 0, sizeof cp);
		cp.size = size;
		cp.time_s = now_s < 0 ? 0 : now_s;
		st_audit_root(l->leaves ? l->leaves[0] : NULL, size, cp.root);
		int rc = st_audit_checkpoint_sign(&cp, l->sk, l->pk, err);
		if (rc < 0)
			return rc;
		struct st_store_checkpoint sc;
		sc.size = cp.size;
		memcpy(sc.root, cp.root, 32);
		sc.time_s = cp.time_s;
		memcpy(sc.key_id, cp.key_id, 8);
		memcpy(sc.sig, cp.sig, 64);
		if ((rc = st_store_checkpoint_add(s, &sc, err)) < 0)
			return rc;
		l->have_cp = true;
		l->cp_size = size;
		l->cp_time = cp.time_s;
		*made = true;
	} else if (!grew) {
		l->cp_time = now_s; /* nothing new: nothing is due */
	}
	if (!out)
		return 0;
	struct st_store_checkpoint sc;
	int rc = st_store_checkpoint_last(s, &sc, err);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->size = sc.size;
	memcpy(out->root, sc.root, 32);
	out->time_s = sc.time_s;
	memcpy(out->key_id, sc.key_id, 8);
	memcpy(out->sig, sc.sig, 64);
	return 0;
}

int st_auditlog_inclusion(const struct st_auditlog *l, uint64_t seq,
			  uint64_t size, struct st_audit_proof *out,
			  struct st_error *err)
{
	if (seq < 1 || size > l->committed || seq > size)
		return st_fail(err, ST_E_NOT_FOUND,
			       "audit proof: entry %llu in a log of %llu: "
			       "the log holds %llu entries",
			       (unsigned long long)seq,
			       (unsigned long long)size,
			       (unsigned long long)l->committed);
	memset(out, 0, sizeof *out);
	out->kind = ST_AUDIT_PROOF_INCLUSION;
	out->index = seq - 1;
	out->size = size;
	return st_audit_inclusion_proof(l->leaves[0], size, seq - 1,
					out->hashes, ST_AUDIT_PROOF_MAX,
					&out->count, err);
}

int st_auditlog_consistency(const struct st_auditlog *l, uint64_t size1,
			    uint64_t size2, struct st_audit_proof *out,
			    struct st_error *err)
{
	if (size1 > size2 || size2 > l->committed)
		return st_fail(err, ST_E_NOT_FOUND,
			       "audit proof: sizes %llu and %llu: the log "
			       "holds %llu entries",
			       (unsigned long long)size1,
			       (unsigned long long)size2,
			       (unsigned long long)l->committed);
	memset(out, 0, sizeof *out);
	out->kind = ST_AUDIT_PROOF_CONSISTENCY;
	out->size1 = size1;
	out->size2 = size2;
	return st_audit_consistency_proof(l->leaves ? l->leaves[0] : NULL,
					  size1, size2, out->hashes,
					  ST_AUDIT_PROOF_MAX, &out->count,
					  err);
}
