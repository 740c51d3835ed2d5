/* store.c - the generic store front: checks arguments and the instance
 * around every backend call, keeps the transaction state, wraps lone writes
 * in a transaction, and the group commit. Also the fault-injection type.
 * Never interprets segment contents beyond the header's ids. */
#include "store.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"

/* ---- helpers ---- */

void st_store_id_hex(const uint8_t id[16], char out[33])
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hx[id[i] >> 4];
		out[2 * i + 1] = hx[id[i] & 15];
	}
	out[32] = 0;
}

void st_store_policy_fini(struct st_store_policy *p)
{
	if (!p)
		return;
	free(p->owned_);
	p->owned_ = NULL;
	p->json = NULL;
	p->notice = NULL;
	p->json_len = p->notice_len = 0;
}

void st_store_segment_fini(struct st_store_segment *s)
{
	if (!s)
		return;
	free(s->owned_);
	s->owned_ = NULL;
	s->header = s->body = NULL;
	s->body_len = 0;
}

bool st_store_is_valid(const struct st_store *s)
{
	return s && s->type && s->type->is_valid && s->type->is_valid(s);
}

/* A backend that failed without saying why still gives the caller a
 * message; one that returned a positive value broke the contract. */
static int after_call(const struct st_store *s, const char *op, int rc,
		      struct st_error *err)
{
	if (rc > 0)
		return st_fail(err, ST_E_STATE,
			       "store %s: %s returned %d, outside the contract",
			       s->type->name, op, rc);
	if (rc < 0 && err && err->code != rc)
		st_fail(err, rc, "store %s: %s failed: %s", s->type->name, op,
			st_strerror(rc));
	if (rc == 0 && !st_store_is_valid(s))
		return st_fail(err, ST_E_STATE,
			       "store %s: %s left the store invalid; reopen it",
			       s->type->name, op);
	return rc;
}

#define CHECK_VALID(s, op)                                                 \
	do {                                                               \
		if (!st_store_is_valid(s))                                 \
			return st_fail(err, ST_E_STATE,                    \
				       "store: %s on a store that is not open", \
				       (op));                              \
	} while (0)

static bool str_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n = strnlen(s, max + 1);
	return n <= max && (empty_ok || n > 0);
}

/* str_ok, and no control bytes: these names end up in listings and logs,
 * where a newline or an escape sequence could forge a line. */
static bool name_ok(const char *s, size_t max, bool empty_ok)
{
	if (!str_ok(s, max, empty_ok))
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* ---- open, close, transactions ---- */

int st_store_open(const struct st_store_type *type,
		  const struct st_store_cfg *cfg, struct st_store **out,
		  struct st_error *err)
{
	if (!type || !cfg || !out || type->size < sizeof(struct st_store) ||
	    !type->open || !type->close || !type->is_valid)
		return st_fail(err, ST_E_INVAL, "store: bad open arguments");
	*out = NULL;
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium init failed");
	struct st_store *s = calloc(1, type->size);
	if (!s)
		return st_fail(err, ST_E_NOMEM, "store %s: out of memory",
			       type->name);
	s->type = type;
	int rc = after_call(s, "open", type->open(s, cfg, err), err);
	if (rc == 0 && !st_store_is_valid(s))
		rc = st_fail(err, ST_E_STATE, "store %s: open left it invalid",
			     type->name);
	if (rc < 0) {
		type->close(s);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void st_store_close(struct st_store *s)
{
	if (!s || !s->type)
		return;
	s->type->close(s);
	free(s);
}

bool st_store_in_tx(const struct st_store *s)
{
	return s && s->in_tx;
}

int st_store_begin(struct st_store *s, struct st_error *err)
{
	CHECK_VALID(s, "begin");
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "store: begin inside a transaction; commit or "
			       "roll back first");
	int rc = after_call(s, "begin", s->type->begin(s, err), err);
	if (rc == 0)
		s->in_tx = true;
	return rc;
}

int st_store_begin_read(struct st_store *s, struct st_error *err)
{
	CHECK_VALID(s, "begin read");
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "store: begin inside a transaction; commit or "
			       "roll back first");
	int rc = after_call(s, "begin read", s->type->begin_read(s, err), err);
	if (rc == 0)
		s->in_tx = true;
	return rc;
}

int st_store_rollback(struct st_store *s, struct st_error *err)
{
	CHECK_VALID(s, "rollback");
	if (!s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "store: rollback outside a transaction");
	s->in_tx = false; /* the backend leaves none open either way */
	return after_call(s, "rollback", s->type->rollback(s, err), err);
}

int st_store_commit(struct st_store *s, struct st_error *err)
{
	CHECK_VALID(s, "commit");
	if (!s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "store: commit outside a transaction");
	int rc = after_call(s, "commit", s->type->commit(s, err), err);
	if (rc < 0) {
		/* A failed COMMIT may leave the transaction open (SQLITE_BUSY);
		 * nothing of it may be taken as durable, so roll it back. */
		s->type->rollback(s, NULL);
	}
	s->in_tx = false;
	return rc;
}

/* Runs one write in its own transaction when none is open. */
#define WRITE_OP(s, opname, call)                                          \
	do {                                                               \
		CHECK_VALID(s, opname);                                    \
		bool own_ = !(s)->in_tx;                                   \
		int rc_;                                                   \
		if (own_ && (rc_ = st_store_begin((s), err)) < 0)          \
			return rc_;                                        \
		rc_ = after_call((s), (opname), (call), err);              \
		if (own_) {                                                \
			if (rc_ < 0)                                       \
				st_store_rollback((s), NULL);              \
			else                                               \
				rc_ = st_store_commit((s), err);           \
		}                                                          \
		return rc_;                                                \
	} while (0)

#define READ_OP(s, opname, call)                                           \
	do {                                                               \
		CHECK_VALID(s, opname);                                    \
		return after_call((s), (opname), (call), err);             \
	} while (0)

/* ---- people and devices ---- */

int st_store_person_add(struct st_store *s, const struct st_person *p,
			struct st_error *err)
{
	if (!p)
		return st_fail(err, ST_E_INVAL, "person add: no person");
	if (!str_ok(p->name, ST_STORE_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "person add: name empty or over %d bytes",
			       ST_STORE_NAME_MAX);
	if (!str_ok(p->group, ST_STORE_GROUP_MAX, true))
		return st_fail(err, ST_E_INVAL,
			       "person add: group over %d bytes",
			       ST_STORE_GROUP_MAX);
	WRITE_OP(s, "person add", s->type->person_add(s, p, err));
}

int st_store_person_get(struct st_store *s, const uint8_t id[16],
			struct st_person *out, struct st_error *err)
{
	if (!id || !out)
		return st_fail(err, ST_E_INVAL, "person get: no id or output");
	READ_OP(s, "person get", s->type->person_get(s, id, out, err));
}

int st_store_person_list(struct st_store *s, const uint8_t *after,
			 size_t limit, st_store_person_cb cb, void *ctx,
			 struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "person list: limit %zu outside 1..%d, or no "
			       "callback",
			       limit, ST_STORE_LIST_MAX);
	READ_OP(s, "person list",
		s->type->person_list(s, after, limit, cb, ctx, err));
}

/* What a device row must hold before any backend sees it. */
static int check_device(const struct st_device *d, const char *op,
			struct st_error *err)
{
	if (!d)
		return st_fail(err, ST_E_INVAL, "%s: no device", op);
	if (!name_ok(d->local_user, ST_STORE_USER_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "%s: local user empty, over %d bytes or with "
			       "control characters; give the account the agent "
			       "records",
			       op, ST_STORE_USER_MAX);
	if (!name_ok(d->hostname, ST_STORE_HOST_MAX, true))
		return st_fail(err, ST_E_INVAL,
			       "%s: hostname over %d bytes or with control "
			       "characters",
			       op, ST_STORE_HOST_MAX);
	if (d->backlog_segments > INT64_MAX || d->backlog_bytes > INT64_MAX)
		return st_fail(err, ST_E_CAP, "%s: backlog over 2^63-1", op);
	return 0;
}

int st_store_device_add(struct st_store *s, const struct st_device *d,
			struct st_error *err)
{
	int rc = check_device(d, "device add", err);
	if (rc < 0)
		return rc;
	WRITE_OP(s, "device add", s->type->device_add(s, d, err));
}

int st_store_device_get(struct st_store *s, const uint8_t id[16],
			struct st_device *out, struct st_error *err)
{
	if (!id || !out)
		return st_fail(err, ST_E_INVAL, "device get: no id or output");
	READ_OP(s, "device get", s->type->device_get(s, id, out, err));
}

int st_store_device_set_active(struct st_store *s, const uint8_t id[16],
			       bool active, struct st_error *err)
{
	if (!id)
		return st_fail(err, ST_E_INVAL, "device set active: no id");
	WRITE_OP(s, "device set active",
		 s->type->device_set_active(s, id, active, err));
}

int st_store_device_touch(struct st_store *s, const uint8_t id[16],
			  int64_t now_s, struct st_error *err)
{
	if (!id)
		return st_fail(err, ST_E_INVAL, "device touch: no id");
	WRITE_OP(s, "device touch", s->type->device_touch(s, id, now_s, err));
}

/* ---- policies and acceptances ---- */

int st_store_policy_put(struct st_store *s, const struct st_store_policy *p,
			struct st_error *err)
{
	if (!p || !p->json || !p->notice)
		return st_fail(err, ST_E_INVAL, "policy put: no policy");
	if (p->json_len < 2 || p->json_len > ST_STORE_POLICY_JSON_MAX ||
	    memchr(p->json, 0, p->json_len))
		return st_fail(err, ST_E_CAP,
			       "policy put: JSON of %zu bytes (2..%u, no NUL)",
			       p->json_len, ST_STORE_POLICY_JSON_MAX);
	if (p->notice_len < 1 || p->notice_len > ST_STORE_NOTICE_MAX)
		return st_fail(err, ST_E_CAP,
			       "policy put: notice of %zu bytes (1..%u)",
			       p->notice_len, ST_STORE_NOTICE_MAX);
	/* The notice hash is the key segments name: it must be the notice's. */
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, p->notice, p->notice_len);
	if (memcmp(h, p->notice_hash, sizeof h) != 0)
		return st_fail(err, ST_E_INVAL,
			       "policy put: notice hash is not the SHA-256 of "
			       "the notice bytes; hash exactly the bytes the "
			       "agent shows");
	WRITE_OP(s, "policy put", s->type->policy_put(s, p, err));
}

int st_store_policy_get_by_notice(struct st_store *s,
				  const uint8_t notice_hash[32],
				  struct st_store_policy *out,
				  struct st_error *err)
{
	if (!notice_hash || !out)
		return st_fail(err, ST_E_INVAL,
			       "policy get: no notice hash or output");
	memset(out, 0, sizeof *out);
	READ_OP(s, "policy get",
		s->type->policy_get_by_notice(s, notice_hash, out, err));
}

int st_store_acceptance_add(struct st_store *s, const struct st_acceptance *a,
			    struct st_error *err)
{
	if (!a)
		return st_fail(err, ST_E_INVAL, "acceptance add: none given");
	if (!str_ok(a->local_user, ST_STORE_USER_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "acceptance add: local user empty or over %d "
			       "bytes",
			       ST_STORE_USER_MAX);
	WRITE_OP(s, "acceptance add", s->type->acceptance_add(s, a, err));
}

int st_store_acceptance_has(struct st_store *s, const uint8_t person[16],
			    const uint8_t device[16],
			    const uint8_t notice_hash[32], bool *out,
			    struct st_error *err)
{
	if (!person || !device || !notice_hash || !out)
		return st_fail(err, ST_E_INVAL, "acceptance has: missing key");
	*out = false;
	READ_OP(s, "acceptance has",
		s->type->acceptance_has(s, person, device, notice_hash, out,
					err));
}

/* ---- segments ---- */

/* The columns must say what the header says: (device, seq) is the key of
 * exactly-once delivery and person the key of erasure. Offsets are
 * docs/format.md's. */
static int check_segment(const struct st_store_segment *g,
			 struct st_error *err)
{
	if (!g || !g->header || !g->body)
		return st_fail(err, ST_E_INVAL, "segment put: no segment");
	if (g->seq > INT64_MAX || g->lease_seq > INT64_MAX)
		return st_fail(err, ST_E_CAP,
			       "segment put: sequence over 2^63-1");
	if (g->body_len < 16 || g->body_len > ST_STORE_BODY_MAX)
		return st_fail(err, ST_E_CAP,
			       "segment put: body of %zu bytes outside 16..%u",
			       g->body_len, ST_STORE_BODY_MAX);
	if (g->level < 1 || g->level > 3)
		return st_fail(err, ST_E_LEVEL, "segment put: level %u",
			       g->level);
	if (memcmp(g->header + 8, g->device_id, 16) != 0 ||
	    memcmp(g->header + 24, g->person_id, 16) != 0 ||
	    st_le64(g->header + 40) != g->seq ||
	    memcmp(g->header + 64, g->notice_hash, 32) != 0)
		return st_fail(err, ST_E_INVAL,
			       "segment put: columns disagree with the header "
			       "bytes");
	return 0;
}

int st_store_segment_put(struct st_store *s, const struct st_store_segment *g,
			 int *outcome, struct st_error *err)
{
	if (!outcome)
		return st_fail(err, ST_E_INVAL, "segment put: no outcome");
	int rc = check_segment(g, err);
	if (rc < 0)
		return rc;
	WRITE_OP(s, "segment put", s->type->segment_put(s, g, outcome, err));
}

int st_store_segment_put_batch(struct st_store *s,
			       const struct st_store_segment *g, size_t n,
			       int *outcomes, struct st_error *err)
{
	CHECK_VALID(s, "segment put batch");
	if (!g || !outcomes || n < 1 || n > ST_STORE_BATCH_MAX)
		return st_fail(err, ST_E_INVAL,
			       "segment put batch: %zu segments (1..%d)", n,
			       ST_STORE_BATCH_MAX);
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "segment put batch: a transaction is open; the "
			       "batch commits its own");
	for (size_t i = 0; i < n; i++) {
		int rc = check_segment(&g[i], err);
		if (rc < 0)
			return st_error_prefix(err, "batch item %zu: ", i);
	}
	int *tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return st_fail(err, ST_E_NOMEM, "segment put batch: no memory");
	int rc = st_store_begin(s, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		tmp[i] = 0;
		rc = after_call(s, "segment put",
				s->type->segment_put(s, &g[i], &tmp[i], err),
				err);
		if (rc == 0 && (tmp[i] < ST_STORE_STORED ||
				tmp[i] > ST_STORE_CONFLICT))
			rc = st_fail(err, ST_E_STATE,
				     "store %s: segment put answered %d",
				     s->type->name, tmp[i]);
	}
	/* last seen: once per device, at its latest accepted segment */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (tmp[i] == ST_STORE_CONFLICT)
			continue;
		bool later = false;
		int64_t t = g[i].received_s;
		for (size_t j = 0; j < n && !later; j++)
			if (j != i && tmp[j] != ST_STORE_CONFLICT &&
			    !memcmp(g[j].device_id, g[i].device_id, 16) &&
			    (g[j].received_s > t ||
			     (g[j].received_s == t && j > i)))
				later = true;
		if (!later)
			rc = after_call(s, "device touch",
					s->type->device_touch(s, g[i].device_id,
							      t, err),
					err);
	}
	if (rc == 0)
		rc = st_store_commit(s, err);
	else if (s->in_tx)
		st_store_rollback(s, NULL);
	if (rc == 0) /* answers only once COMMIT returned */
		memcpy(outcomes, tmp, n * sizeof *tmp);
	free(tmp);
	return rc;
}

int st_store_segment_get(struct st_store *s, const uint8_t device[16],
			 uint64_t seq, struct st_store_segment *out,
			 struct st_error *err)
{
	if (!device || !out)
		return st_fail(err, ST_E_INVAL, "segment get: no id or output");
	memset(out, 0, sizeof *out);
	if (seq > INT64_MAX)
		return st_fail(err, ST_E_NOT_FOUND,
			       "segment %llu: not found (over 2^63-1)",
			       (unsigned long long)seq);
	READ_OP(s, "segment get",
		s->type->segment_get(s, device, seq, out, err));
}

int st_store_segment_list(struct st_store *s, const uint8_t device[16],
			  uint64_t after_seq, size_t limit,
			  st_store_segment_cb cb, void *ctx,
			  struct st_error *err)
{
	if (!device || !cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "segment list: limit %zu outside 1..%d, or no "
			       "device or callback",
			       limit, ST_STORE_LIST_MAX);
	if (after_seq >= INT64_MAX)
		return 0;
	READ_OP(s, "segment list",
		s->type->segment_list(s, device, after_seq, limit, cb, ctx,
				      err));
}

int st_store_segment_count(struct st_store *s, const uint8_t *device,
			   uint64_t *out, struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "segment count: no output");
	*out = 0;
	READ_OP(s, "segment count",
		s->type->segment_count(s, device, out, err));
}

int st_store_flag_list(struct st_store *s, int64_t after_id, size_t limit,
		       st_store_flag_cb cb, void *ctx, struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "flag list: limit %zu outside 1..%d, or no "
			       "callback",
			       limit, ST_STORE_LIST_MAX);
	READ_OP(s, "flag list",
		s->type->flag_list(s, after_id, limit, cb, ctx, err));
}

/* ---- schema 2: administration, enrollment, policy, forget ---- */

int st_store_person_find(struct st_store *s, const char *name,
			 struct st_person *out, struct st_error *err)
{
	if (!name || !out)
		return st_fail(err, ST_E_INVAL, "person find: no name or output");
	if (!str_ok(name, ST_STORE_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "person find: name empty or over %d bytes",
			       ST_STORE_NAME_MAX);
	READ_OP(s, "person find", s->type->person_find(s, name, out, err));
}

int st_store_device_list(struct st_store *s, const uint8_t *after,
			 size_t limit, st_store_device_cb cb, void *ctx,
			 struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "device list: limit %zu outside 1..%d, or no "
			       "callback",
			       limit, ST_STORE_LIST_MAX);
	READ_OP(s, "device list",
		s->type->device_list(s, after, limit, cb, ctx, err));
}

int st_store_device_backlog(struct st_store *s, const uint8_t id[16],
			    uint64_t segments, uint64_t bytes, int64_t now_s,
			    struct st_error *err)
{
	if (!id)
		return st_fail(err, ST_E_INVAL, "device backlog: no id");
	if (segments > INT64_MAX || bytes > INT64_MAX)
		return st_fail(err, ST_E_CAP,
			       "device backlog: %llu segments, %llu bytes: over "
			       "2^63-1",
			       (unsigned long long)segments,
			       (unsigned long long)bytes);
	WRITE_OP(s, "device backlog",
		 s->type->device_backlog(s, id, segments, bytes, now_s, err));
}

int st_store_device_stats(struct st_store *s, const uint8_t id[16],
			  struct st_device_stats *out, struct st_error *err)
{
	if (!id || !out)
		return st_fail(err, ST_E_INVAL, "device stats: no id or output");
	memset(out, 0, sizeof *out);
	READ_OP(s, "device stats", s->type->device_stats(s, id, out, err));
}

int st_store_token_add(struct st_store *s, const struct st_token *t,
		       struct st_error *err)
{
	if (!t)
		return st_fail(err, ST_E_INVAL, "token add: no token");
	if (!name_ok(t->name, ST_STORE_TOKEN_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "token add: name empty, over %d bytes or with "
			       "control characters",
			       ST_STORE_TOKEN_NAME_MAX);
	if (!name_ok(t->role, ST_STORE_ROLE_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "token add: role empty, over %d bytes or with "
			       "control characters",
			       ST_STORE_ROLE_MAX);
	if (t->expires_s < 0 || (t->expires_s && t->expires_s <= t->created_s))
		return st_fail(err, ST_E_INVAL,
			       "token add: expires at %lld, not after its "
			       "creation at %lld (0 means never)",
			       (long long)t->expires_s,
			       (long long)t->created_s);
	WRITE_OP(s, "token add", s->type->token_add(s, t, err));
}

int st_store_token_find(struct st_store *s, const uint8_t hash[32],
			struct st_token *out, struct st_error *err)
{
	if (!hash || !out)
		return st_fail(err, ST_E_INVAL, "token find: no hash or output");
	READ_OP(s, "token find", s->type->token_find(s, hash, out, err));
}

int st_store_token_list(struct st_store *s, st_store_token_cb cb, void *ctx,
			struct st_error *err)
{
	if (!cb)
		return st_fail(err, ST_E_INVAL, "token list: no callback");
	READ_OP(s, "token list", s->type->token_list(s, cb, ctx, err));
}

int st_store_token_revoke(struct st_store *s, const char *name,
			  struct st_error *err)
{
	if (!name || !str_ok(name, ST_STORE_TOKEN_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "token revoke: name missing, empty or over %d "
			       "bytes",
			       ST_STORE_TOKEN_NAME_MAX);
	WRITE_OP(s, "token revoke", s->type->token_revoke(s, name, err));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int st_store_enroll_token_add(struct st_store *s,
			      const struct st_enroll_token *t,
			      struct st_error *err)
{
	if (!t)
		return st_fail(err, ST_E_INVAL,
			       "enrollment token add: no token");
	if (t->used_s != 0 || !all_zero(t->device_id, sizeof t->device_id))
		return st_fail(err, ST_E_INVAL,
			       "enrollment token add: a new token is unused "
			       "(used_s 0, no device)");
	if (t->expires_s <= t->created_s)
		return st_fail(err, ST_E_INVAL,
			       "enrollment token add: expires at %lld, not "
			       "after its creation at %lld",
			       (long long)t->expires_s,
			       (long long)t->created_s);
	WRITE_OP(s, "enrollment token add",
		 s->type->enroll_token_add(s, t, err));
}

/* The refusals are decided here, in one place for every backend, and
 * never quote the token: a message may reach a log. */
static int enroll_check(const struct st_enroll_token *t,
			const struct st_device *d, int64_t now_s,
			struct st_error *err)
{
	if (t->used_s != 0) {
		char hex[33];
		st_store_id_hex(t->device_id, hex);
		return st_fail(err, ST_E_TOKEN_USED,
			       "enrollment token: already used (by device "
			       "%s); ask an administrator for a new one",
			       hex);
	}
	if (now_s >= t->expires_s)
		return st_fail(err, ST_E_TOKEN_EXPIRED,
			       "enrollment token: expired; ask an "
			       "administrator for a new one");
	if (memcmp(t->person_id, d->person_id, ST_STORE_ID_LEN) != 0)
		return st_fail(err, ST_E_PERSON_MISMATCH,
			       "enrollment token: made for another person than "
			       "the device names; enroll with the token made "
			       "for this person");
	return 0;
}

int st_store_enroll(struct st_store *s, const uint8_t token_hash[32],
		    const struct st_device *d, int64_t now_s,
		    struct st_enroll_token *out, struct st_error *err)
{
	CHECK_VALID(s, "enroll");
	if (!token_hash)
		return st_fail(err, ST_E_INVAL, "enroll: no enrollment token");
	int rc = check_device(d, "enroll", err);
	if (rc < 0)
		return rc;
	/* used_s 0 means unused: a use must have a time after 0 */
	if (now_s < 1)
		return st_fail(err, ST_E_INVAL, "enroll: time %lld before 1",
			       (long long)now_s);
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "enroll: a transaction is open; enrollment "
			       "commits its own");
	struct st_enroll_token t;
	memset(&t, 0, sizeof t);
	if ((rc = st_store_begin(s, err)) < 0)
		return rc;
	rc = after_call(s, "enrollment token get",
			s->type->enroll_token_get(s, token_hash, &t, err), err);
	if (rc == ST_E_NOT_FOUND)
		rc = st_fail(err, ST_E_TOKEN_INVALID,
			     "enrollment token: unknown; check it was copied "
			     "whole, or ask an administrator for a new one");
	/* An all-zero person means "the token's": a server learns whose
	 * device it is only from the token. */
	struct st_device dd = *d;
	if (rc == 0 && sodium_is_zero(dd.person_id, sizeof dd.person_id))
		memcpy(dd.person_id, t.person_id, sizeof dd.person_id);
	if (rc == 0)
		rc = enroll_check(&t, &dd, now_s, err);
	if (rc == 0)
		rc = after_call(s, "device add", s->type->device_add(s, &dd, err),
				err);
	if (rc == 0)
		rc = after_call(s, "enrollment token use",
				s->type->enroll_token_use(s, token_hash, dd.id,
							  now_s, err),
				err);
	if (rc == 0)
		rc = st_store_commit(s, err);
	else if (s->in_tx)
		st_store_rollback(s, NULL);
	if (rc == 0 && out)
		*out = t;
	return rc;
}

int st_store_policy_set_current(struct st_store *s, const uint8_t hash[32],
				int64_t now_s, struct st_error *err)
{
	if (!hash)
		return st_fail(err, ST_E_INVAL, "policy set current: no hash");
	WRITE_OP(s, "policy set current",
		 s->type->policy_set_current(s, hash, now_s, err));
}

int st_store_policy_get_current(struct st_store *s, struct st_store_policy *out,
				struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "policy get current: no output");
	memset(out, 0, sizeof *out);
	READ_OP(s, "policy get current",
		s->type->policy_get_current(s, out, err));
}

int st_store_forget(struct st_store *s, const struct st_forget *f,
		    uint64_t *deleted, struct st_error *err)
{
	CHECK_VALID(s, "forget");
	if (!f || !deleted)
		return st_fail(err, ST_E_INVAL, "forget: no request or output");
	if (f->from_min > f->to_min)
		return st_fail(err, ST_E_ORDER,
			       "forget: from minute %u after to minute %u",
			       f->from_min, f->to_min);
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "forget: a transaction is open; forget commits "
			       "its own");
	uint64_t n = 0;
	int rc = st_store_begin(s, err);
	if (rc < 0)
		return rc;
	rc = after_call(s, "forget", s->type->forget(s, f, &n, err), err);
	if (rc == 0)
		rc = st_store_commit(s, err);
	else
		st_store_rollback(s, NULL);
	if (rc == 0) /* only once COMMIT returned */
		*deleted = n;
	return rc;
}

int st_store_checkpoint(struct st_store *s, struct st_error *err)
{
	CHECK_VALID(s, "checkpoint");
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "checkpoint: a transaction is open; commit or "
			       "roll back first");
	return after_call(s, "checkpoint", s->type->checkpoint(s, err), err);
}

int st_store_backup(struct st_store *s, const char *path,
		    struct st_error *err)
{
	CHECK_VALID(s, "backup");
	if (!path || !*path || strnlen(path, PATH_MAX) >= PATH_MAX)
		return st_fail(err, ST_E_INVAL,
			       "backup: path missing, empty or over %d bytes",
			       PATH_MAX - 1);
	/* the copy is read through this connection: inside a transaction it
	 * would hold rows that may yet be rolled back */
	if (s->in_tx)
		return st_fail(err, ST_E_STATE,
			       "backup: a transaction is open; commit or roll "
			       "back first");
	return after_call(s, "backup", s->type->backup(s, path, err), err);
}

int st_store_counts(struct st_store *s, struct st_store_counts *out,
		    struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "counts: no output");
	memset(out, 0, sizeof *out);
	READ_OP(s, "counts", s->type->counts(s, out, err));
}

/* ---- schema 3: the kill switch ---- */

const char *st_scope_name(int scope)
{
	switch (scope) {
	case ST_SCOPE_ALL: return "all";
	case ST_SCOPE_GROUP: return "group";
	case ST_SCOPE_USER: return "user";
	case ST_SCOPE_DEVICE: return "device";
	default: return NULL;
	}
}

int st_scope_from_name(const char *name)
{
	for (int k = ST_SCOPE_ALL; name && k <= ST_SCOPE_DEVICE; k++)
		if (!strcmp(name, st_scope_name(k)))
			return k;
	return 0;
}

/* A scope and its value as a pause or resume must name them. */
static int check_scope(int scope, const char *value, const char *op,
		       struct st_error *err)
{
	if (!st_scope_name(scope))
		return st_fail(err, ST_E_INVAL,
			       "%s: scope %d is none of all, group, user, "
			       "device", op, scope);
	size_t max = scope == ST_SCOPE_GROUP ? ST_STORE_GROUP_MAX
		     : scope == ST_SCOPE_DEVICE ? 32
						: ST_STORE_SCOPE_VALUE_MAX;
	bool empty_ok = scope == ST_SCOPE_ALL;
	if (!name_ok(value, max, empty_ok) || (empty_ok && value[0]))
		return st_fail(err, ST_E_INVAL,
			       "%s: scope %s needs %s", op,
			       st_scope_name(scope),
			       empty_ok ? "no value"
					: "a value without control characters "
					  "(a group, a person's name or a "
					  "device id)");
	if (scope == ST_SCOPE_DEVICE) {
		bool ok = strlen(value) == 32;
		for (size_t i = 0; ok && i < 32; i++)
			ok = (value[i] >= '0' && value[i] <= '9') ||
			     (value[i] >= 'a' && value[i] <= 'f');
		if (!ok)
			return st_fail(err, ST_E_INVAL,
				       "%s: a device scope is the device id "
				       "in 32 lower-case hex digits",
				       op);
	}
	return 0;
}

int st_store_epoch_get(struct st_store *s, uint64_t *out,
		       struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "epoch get: no output");
	*out = 0;
	READ_OP(s, "epoch get", s->type->epoch_get(s, out, err));
}

/* Runs one backend call that raises the epoch in a transaction of its
 * own: ST_E_STATE when one is open (the new epoch must be durable before
 * anyone is told of it). */
#define OWN_TX(s, opname, call)                                            \
	do {                                                               \
		CHECK_VALID(s, opname);                                    \
		if ((s)->in_tx)                                            \
			return st_fail(err, ST_E_STATE,                    \
				       "%s: a transaction is open; it commits " \
				       "its own", (opname));               \
		int rc_ = st_store_begin((s), err);                        \
		if (rc_ < 0)                                               \
			return rc_;                                        \
		rc_ = after_call((s), (opname), (call), err);              \
		if (rc_ == 0)                                              \
			rc_ = st_store_commit((s), err);                   \
		else                                                       \
			st_store_rollback((s), NULL);                      \
		if (rc_ < 0)                                               \
			return rc_;                                        \
	} while (0)

int st_store_pause_add(struct st_store *s, struct st_pause *p,
		       struct st_error *err)
{
	if (!p)
		return st_fail(err, ST_E_INVAL, "pause add: no pause");
	int rc = check_scope(p->scope, p->value, "pause add", err);
	if (rc < 0)
		return rc;
	if (!name_ok(p->reason, ST_STORE_REASON_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "pause add: reason empty, over %d bytes or with "
			       "control characters; say why, in a line",
			       ST_STORE_REASON_MAX);
	if (!name_ok(p->by, ST_STORE_TOKEN_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "pause add: no token name for \"by\"");
	struct st_pause tmp = *p;
	OWN_TX(s, "pause add", s->type->pause_add(s, &tmp, err));
	p->id = tmp.id; /* only once COMMIT returned */
	p->epoch = tmp.epoch;
	return 0;
}

int st_store_resume(struct st_store *s, const struct st_resume *r,
		    uint64_t *epoch, uint64_t *resumed, struct st_error *err)
{
	if (!r || !epoch || !resumed)
		return st_fail(err, ST_E_INVAL, "resume: no scope or output");
	int rc = check_scope(r->scope, r->value, "resume", err);
	if (rc < 0)
		return rc;
	if (!name_ok(r->reason, ST_STORE_REASON_MAX, true))
		return st_fail(err, ST_E_INVAL,
			       "resume: reason over %d bytes or with control "
			       "characters",
			       ST_STORE_REASON_MAX);
	if (!name_ok(r->by, ST_STORE_TOKEN_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "resume: no token name for \"by\"");
	uint64_t e = 0, n = 0;
	OWN_TX(s, "resume", s->type->resume(s, r, &e, &n, err));
	*epoch = e;
	*resumed = n;
	return 0;
}

int st_store_pause_list(struct st_store *s, bool in_force, int64_t after_id,
			size_t limit, st_store_pause_cb cb, void *ctx,
			struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "pause list: limit %zu outside 1..%d, or no "
			       "callback",
			       limit, ST_STORE_LIST_MAX);
	READ_OP(s, "pause list",
		s->type->pause_list(s, in_force, after_id, limit, cb, ctx,
				    err));
}

int st_store_pause_confirm(struct st_store *s, const uint8_t device[16],
			   uint64_t epoch, uint64_t last_seq, int64_t now_s,
			   bool *recorded, struct st_error *err)
{
	if (recorded)
		*recorded = false;
	if (!device)
		return st_fail(err, ST_E_INVAL, "pause confirm: no device");
	if (epoch > INT64_MAX || last_seq > INT64_MAX)
		return st_fail(err, ST_E_CAP,
			       "pause confirm: epoch or last sequence over "
			       "2^63-1");
	WRITE_OP(s, "pause confirm",
		 s->type->pause_confirm(s, device, epoch, last_seq, now_s,
					recorded, err));
}

int st_store_pause_confirms_get(struct st_store *s, uint64_t epoch,
				const uint8_t *after, size_t limit,
				st_store_confirm_cb cb, void *ctx,
				struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX)
		return st_fail(err, ST_E_INVAL,
			       "pause confirms: limit %zu outside 1..%d, or no "
			       "callback",
			       limit, ST_STORE_LIST_MAX);
	if (epoch > INT64_MAX)
		return 0;
	READ_OP(s, "pause confirms",
		s->type->pause_confirms_get(s, epoch, after, limit, cb, ctx,
					    err));
}

int st_store_scope_devices(struct st_store *s, int scope, const char *value,
			   uint64_t *out, struct st_error *err)
{
	if (!out || !value || !st_scope_name(scope))
		return st_fail(err, ST_E_INVAL,
			       "scope devices: unknown scope %d, or no value "
			       "or output",
			       scope);
	*out = 0;
	READ_OP(s, "scope devices",
		s->type->scope_devices(s, scope, value, out, err));
}

/* ---- schema 4: least privilege ---- */

static bool key_ok(const char *k)
{
	return k && name_ok(k, 64, false);
}

int st_store_setting_get(struct st_store *s, const char *key, uint8_t *out,
			 size_t cap, size_t *len, struct st_error *err)
{
	if (!key_ok(key) || !out || !len)
		return st_fail(err, ST_E_INVAL, "setting get: bad key or output");
	READ_OP(s, "setting get",
		s->type->setting_get(s, key, out, cap, len, err));
}

int st_store_setting_put(struct st_store *s, const char *key,
			 const uint8_t *val, size_t len, struct st_error *err)
{
	if (!key_ok(key) || !val || len > ST_STORE_SETTING_MAX)
		return st_fail(err, ST_E_INVAL,
			       "setting put: bad key, no value or over %d "
			       "bytes",
			       ST_STORE_SETTING_MAX);
	WRITE_OP(s, "setting put",
		 s->type->setting_put(s, key, val, len, err));
}

int st_store_token_request_add(struct st_store *s,
			       struct st_token_request *r,
			       struct st_error *err)
{
	if (!r || !name_ok(r->token_name, ST_STORE_TOKEN_NAME_MAX, false) ||
	    !name_ok(r->role, ST_STORE_ROLE_MAX, false) ||
	    !name_ok(r->requested_by, ST_STORE_TOKEN_NAME_MAX, false))
		return st_fail(err, ST_E_INVAL,
			       "token request add: name, role or requester "
			       "empty, too long or with control characters");
	WRITE_OP(s, "token request add",
		 s->type->token_request_add(s, r, err));
}

int st_store_token_request_get(struct st_store *s, int64_t id,
			       struct st_token_request *out,
			       struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "token request get: no output");
	READ_OP(s, "token request get",
		s->type->token_request_get(s, id, out, err));
}

int st_store_token_request_close(struct st_store *s, int64_t id,
				 int64_t now_s, struct st_error *err)
{
	WRITE_OP(s, "token request close",
		 s->type->token_request_close(s, id, now_s, err));
}

int st_store_purpose_add(struct st_store *s, struct st_purpose *p,
			 struct st_error *err)
{
	if (!p || !name_ok(p->name, ST_STORE_PURPOSE_NAME_MAX, false) ||
	    !str_ok(p->description, ST_STORE_PURPOSE_DESC_MAX, false) ||
	    !str_ok(p->scope_json, ST_STORE_PURPOSE_JSON_MAX, false) ||
	    !str_ok(p->stewards_json, ST_STORE_PURPOSE_JSON_MAX, false) ||
	    p->expires_s <= p->created_s)
		return st_fail(err, ST_E_INVAL,
			       "purpose add: name, description, scope or "
			       "stewards missing or too long, or expiry not "
			       "after creation");
	WRITE_OP(s, "purpose add", s->type->purpose_add(s, p, err));
}

int st_store_purpose_get(struct st_store *s, int64_t id,
			 struct st_purpose *out, struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "purpose get: no output");
	READ_OP(s, "purpose get", s->type->purpose_get(s, id, out, err));
}

int st_store_purpose_list(struct st_store *s, st_store_purpose_cb cb,
			  void *ctx, struct st_error *err)
{
	if (!cb)
		return st_fail(err, ST_E_INVAL, "purpose list: no callback");
	READ_OP(s, "purpose list", s->type->purpose_list(s, cb, ctx, err));
}

int st_store_purpose_approve(struct st_store *s, int64_t id,
			     const uint8_t officer[16], int64_t now_s,
			     size_t *count, struct st_error *err)
{
	if (!officer || !count)
		return st_fail(err, ST_E_INVAL, "purpose approve: no officer");
	WRITE_OP(s, "purpose approve",
		 s->type->purpose_approve(s, id, officer, now_s, count, err));
}

int st_store_purpose_approvers(struct st_store *s, int64_t id,
			       uint8_t approvers[][16], size_t cap,
			       size_t *count, struct st_error *err)
{
	if (!approvers || !count)
		return st_fail(err, ST_E_INVAL, "purpose approvers: no output");
	READ_OP(s, "purpose approvers",
		s->type->purpose_approvers(s, id, approvers, cap, count, err));
}

int st_store_purpose_set_state(struct st_store *s, int64_t id, int state,
			       int64_t now_s, struct st_error *err)
{
	if (state < ST_PURPOSE_PROPOSED || state > ST_PURPOSE_REVOKED)
		return st_fail(err, ST_E_INVAL,
			       "purpose set state: state %d unknown", state);
	WRITE_OP(s, "purpose set state",
		 s->type->purpose_set_state(s, id, state, now_s, err));
}

static bool audit_ok(const struct st_store_audit *e)
{
	return e->seq >= 1 && e->seq <= INT64_MAX &&
	       name_ok(e->actor, ST_STORE_AUDIT_ACTOR_MAX, false) &&
	       name_ok(e->role, ST_STORE_AUDIT_ROLE_MAX, false) &&
	       name_ok(e->action, ST_STORE_AUDIT_ACTION_MAX, false) &&
	       name_ok(e->object, ST_STORE_AUDIT_OBJECT_MAX, true) &&
	       name_ok(e->purpose, ST_STORE_AUDIT_PURPOSE_MAX, true) &&
	       name_ok(e->result, ST_STORE_AUDIT_RESULT_MAX, false);
}

int st_store_audit_append(struct st_store *s, const struct st_store_audit *e,
			  struct st_error *err)
{
	if (!e || !audit_ok(e))
		return st_fail(err, ST_E_INVAL,
			       "audit append: entry with seq 0, an empty or "
			       "too long field, or control characters");
	WRITE_OP(s, "audit append", s->type->audit_append(s, e, err));
}

int st_store_audit_last(struct st_store *s, struct st_store_audit *out,
			struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "audit last: no output");
	READ_OP(s, "audit last", s->type->audit_last(s, out, err));
}

int st_store_audit_list(struct st_store *s, uint64_t after, size_t limit,
			const char *object, st_store_audit_cb cb, void *ctx,
			struct st_error *err)
{
	if (!cb || limit < 1 || limit > ST_STORE_LIST_MAX ||
	    after > INT64_MAX ||
	    (object && !str_ok(object, ST_STORE_AUDIT_OBJECT_MAX, false)))
		return st_fail(err, ST_E_INVAL,
			       "audit list: no callback, limit outside 1..%d "
			       "or a bad object",
			       ST_STORE_LIST_MAX);
	READ_OP(s, "audit list",
		s->type->audit_list(s, after, limit, object, cb, ctx, err));
}

int st_store_checkpoint_add(struct st_store *s,
			    const struct st_store_checkpoint *c,
			    struct st_error *err)
{
	if (!c || c->size > INT64_MAX)
		return st_fail(err, ST_E_INVAL, "checkpoint add: bad checkpoint");
	WRITE_OP(s, "checkpoint add", s->type->checkpoint_add(s, c, err));
}

int st_store_checkpoint_last(struct st_store *s,
			     struct st_store_checkpoint *out,
			     struct st_error *err)
{
	if (!out)
		return st_fail(err, ST_E_INVAL, "checkpoint last: no output");
	READ_OP(s, "checkpoint last", s->type->checkpoint_last(s, out, err));
}

int st_store_pseudonym(struct st_store *s, const uint8_t person[16],
		       bool create, char out[ST_STORE_PSEUDONYM_MAX + 1],
		       struct st_error *err)
{
	if (!person || !out)
		return st_fail(err, ST_E_INVAL, "pseudonym: no person or output");
	if (create)
		WRITE_OP(s, "pseudonym",
			 s->type->pseudonym(s, person, true, out, err));
	READ_OP(s, "pseudonym", s->type->pseudonym(s, person, false, out, err));
}

int st_store_person_notices(struct st_store *s, const uint8_t person[16],
			    uint8_t out[][32], size_t cap, size_t *count,
			    struct st_error *err)
{
	if (!person || !out || !count)
		return st_fail(err, ST_E_INVAL, "person notices: no output");
	READ_OP(s, "person notices",
		s->type->person_notices(s, person, out, cap, count, err));
}

int st_store_person_reseal(struct st_store *s, const uint8_t person[16],
			   const uint8_t sealed[ST_STORE_SEALED_SK_LEN],
			   struct st_error *err)
{
	if (!person || !sealed)
		return st_fail(err, ST_E_INVAL, "person reseal: no key");
	WRITE_OP(s, "person reseal",
		 s->type->person_reseal(s, person, sealed, err));
}

int st_store_person_erase(struct st_store *s, const uint8_t person[16],
			  int64_t now_s, const char *by,
			  struct st_erase_result *out, struct st_error *err)
{
	if (!person || !out || !by || !name_ok(by, ST_STORE_AUDIT_ACTOR_MAX,
					       false))
		return st_fail(err, ST_E_INVAL, "person erase: bad arguments");
	memset(out, 0, sizeof *out);
	WRITE_OP(s, "person erase",
		 s->type->person_erase(s, person, now_s, by, out, err));
}

int st_store_person_exports(struct st_store *s, const uint8_t person[16],
			    uint8_t ids[][16], int64_t *made_s, size_t cap,
			    size_t *count, struct st_error *err)
{
	if (!person || !ids || !made_s || !count)
		return st_fail(err, ST_E_INVAL, "person exports: no output");
	READ_OP(s, "person exports",
		s->type->person_exports(s, person, ids, made_s, cap, count,
					err));
}

int st_store_segment_sweep(struct st_store *s, int64_t before_min,
			   uint64_t *deleted, struct st_error *err)
{
	if (!deleted)
		return st_fail(err, ST_E_INVAL, "segment sweep: no output");
	WRITE_OP(s, "segment sweep",
		 s->type->segment_sweep(s, before_min, deleted, err));
}

int st_store_export_add(struct st_store *s, const struct st_export *x,
			struct st_error *err)
{
	if (!x || strnlen(x->out_dir, sizeof x->out_dir) >= sizeof x->out_dir)
		return st_fail(err, ST_E_INVAL, "export add: bad export");
	WRITE_OP(s, "export add", s->type->export_add(s, x, err));
}

int st_store_export_person(struct st_store *s, const uint8_t export_id[16],
			   const uint8_t person[16], struct st_error *err)
{
	if (!export_id || !person)
		return st_fail(err, ST_E_INVAL, "export person: no ids");
	WRITE_OP(s, "export person",
		 s->type->export_person(s, export_id, person, err));
}

int st_store_export_get(struct st_store *s, const uint8_t id[16],
			struct st_export *out, struct st_error *err)
{
	if (!id || !out)
		return st_fail(err, ST_E_INVAL, "export get: no id or output");
	READ_OP(s, "export get", s->type->export_get(s, id, out, err));
}

int st_store_export_has(struct st_store *s, const uint8_t export_id[16],
			const uint8_t person[16], bool *out,
			struct st_error *err)
{
	if (!export_id || !person || !out)
		return st_fail(err, ST_E_INVAL, "export has: no ids");
	READ_OP(s, "export has",
		s->type->export_has(s, export_id, person, out, err));
}

int st_store_export_finish(struct st_store *s, const uint8_t id[16],
			   const uint8_t manifest_hash[32], int64_t now_s,
			   struct st_error *err)
{
	if (!id || !manifest_hash)
		return st_fail(err, ST_E_INVAL, "export finish: no id or hash");
	WRITE_OP(s, "export finish",
		 s->type->export_finish(s, id, manifest_hash, now_s, err));
}

/* ---- fault injection: a type that wraps another store ---- */

struct fault_store {
	struct st_store base; /* first */
	struct st_store *inner;
	struct st_store_fault_cfg cfg;
	long calls, failed;
};


static int fault_fail(struct fault_store *f, const char *op,
		      struct st_error *err)
{
	f->failed++;
	return st_fail(err, ST_STORE_FAULT_RC,
		       "store fault: injected I/O error at call %ld (%s)",
		       f->calls, op);
}

/* Counts the call; true when it must fail. */
static bool fault_hit(struct fault_store *f)
{
	f->calls++;
	return f->cfg.fail_at > 0 &&
	       (f->calls == f->cfg.fail_at ||
		(f->cfg.sticky && f->calls > f->cfg.fail_at));
}

#define F(s) ((struct fault_store *)(s))
#define IN(s) (F(s)->inner)
/* before: the failed call does nothing; after: it runs, then "fails". */
#define FAULT_FWD(s, opname, call)                                         \
	do {                                                               \
		struct fault_store *f_ = F(s);                             \
		bool hit_ = fault_hit(f_);                                 \
		if (hit_ && !f_->cfg.after)                                \
			return fault_fail(f_, (opname), err);              \
		int rc_ = (call);                                          \
		if (hit_ && rc_ == 0)                                      \
			return fault_fail(f_, (opname), err);              \
		return rc_;                                                \
	} while (0)

static int fault_open(struct st_store *s, const struct st_store_cfg *cfg,
		      struct st_error *err)
{
	(void)s, (void)cfg;
	return st_fail(err, ST_E_INVAL,
		       "store fault: made by st_store_fault_wrap only");
}

static void fault_close(struct st_store *s)
{
	st_store_close(IN(s));
	F(s)->inner = NULL;
}

static bool fault_is_valid(const struct st_store *s)
{
	return st_store_is_valid(((const struct fault_store *)s)->inner);
}

static int fault_begin(struct st_store *s, struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	if (hit && !f->cfg.after)
		return fault_fail(f, "begin", err);
	int rc = IN(s)->type->begin(IN(s), err);
	if (hit && rc == 0) {
		/* a begin that reports failure must leave no transaction */
		IN(s)->type->rollback(IN(s), NULL);
		return fault_fail(f, "begin", err);
	}
	return rc;
}

static int fault_begin_read(struct st_store *s, struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	if (hit && !f->cfg.after)
		return fault_fail(f, "begin read", err);
	int rc = IN(s)->type->begin_read(IN(s), err);
	if (hit && rc == 0) {
		IN(s)->type->rollback(IN(s), NULL);
		return fault_fail(f, "begin read", err);
	}
	return rc;
}

static int fault_commit(struct st_store *s, struct st_error *err)
{
	FAULT_FWD(s, "commit", IN(s)->type->commit(IN(s), err));
}

static int fault_rollback(struct st_store *s, struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	int rc = IN(s)->type->rollback(IN(s), err); /* always rolls back */
	return hit ? fault_fail(f, "rollback", err) : rc;
}

static int fault_person_add(struct st_store *s, const struct st_person *p,
			    struct st_error *err)
{
	FAULT_FWD(s, "person add", IN(s)->type->person_add(IN(s), p, err));
}

static int fault_person_get(struct st_store *s, const uint8_t id[16],
			    struct st_person *out, struct st_error *err)
{
	FAULT_FWD(s, "person get",
		  IN(s)->type->person_get(IN(s), id, out, err));
}

static int fault_person_list(struct st_store *s, const uint8_t *after,
			     size_t limit, st_store_person_cb cb, void *ctx,
			     struct st_error *err)
{
	FAULT_FWD(s, "person list",
		  IN(s)->type->person_list(IN(s), after, limit, cb, ctx, err));
}

static int fault_device_add(struct st_store *s, const struct st_device *d,
			    struct st_error *err)
{
	FAULT_FWD(s, "device add", IN(s)->type->device_add(IN(s), d, err));
}

static int fault_device_get(struct st_store *s, const uint8_t id[16],
			    struct st_device *out, struct st_error *err)
{
	FAULT_FWD(s, "device get",
		  IN(s)->type->device_get(IN(s), id, out, err));
}

static int fault_device_set_active(struct st_store *s, const uint8_t id[16],
				   bool active, struct st_error *err)
{
	FAULT_FWD(s, "device set active",
		  IN(s)->type->device_set_active(IN(s), id, active, err));
}

static int fault_device_touch(struct st_store *s, const uint8_t id[16],
			      int64_t now_s, struct st_error *err)
{
	FAULT_FWD(s, "device touch",
		  IN(s)->type->device_touch(IN(s), id, now_s, err));
}

static int fault_policy_put(struct st_store *s,
			    const struct st_store_policy *p,
			    struct st_error *err)
{
	FAULT_FWD(s, "policy put", IN(s)->type->policy_put(IN(s), p, err));
}

static int fault_policy_get(struct st_store *s, const uint8_t nh[32],
			    struct st_store_policy *out, struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	if (hit && !f->cfg.after)
		return fault_fail(f, "policy get", err);
	int rc = IN(s)->type->policy_get_by_notice(IN(s), nh, out, err);
	if (hit && rc == 0) {
		st_store_policy_fini(out); /* the caller frees nothing on error */
		return fault_fail(f, "policy get", err);
	}
	return rc;
}

static int fault_acceptance_add(struct st_store *s,
				const struct st_acceptance *a,
				struct st_error *err)
{
	FAULT_FWD(s, "acceptance add",
		  IN(s)->type->acceptance_add(IN(s), a, err));
}

static int fault_acceptance_has(struct st_store *s, const uint8_t person[16],
				const uint8_t device[16], const uint8_t nh[32],
				bool *out, struct st_error *err)
{
	FAULT_FWD(s, "acceptance has",
		  IN(s)->type->acceptance_has(IN(s), person, device, nh, out,
					      err));
}

static int fault_segment_put(struct st_store *s,
			     const struct st_store_segment *g, int *outcome,
			     struct st_error *err)
{
	FAULT_FWD(s, "segment put",
		  IN(s)->type->segment_put(IN(s), g, outcome, err));
}

static int fault_segment_get(struct st_store *s, const uint8_t device[16],
			     uint64_t seq, struct st_store_segment *out,
			     struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	if (hit && !f->cfg.after)
		return fault_fail(f, "segment get", err);
	int rc = IN(s)->type->segment_get(IN(s), device, seq, out, err);
	if (hit && rc == 0) {
		st_store_segment_fini(out);
		return fault_fail(f, "segment get", err);
	}
	return rc;
}

static int fault_segment_list(struct st_store *s, const uint8_t device[16],
			      uint64_t after_seq, size_t limit,
			      st_store_segment_cb cb, void *ctx,
			      struct st_error *err)
{
	FAULT_FWD(s, "segment list",
		  IN(s)->type->segment_list(IN(s), device, after_seq, limit, cb,
					    ctx, err));
}

static int fault_segment_count(struct st_store *s, const uint8_t *device,
			       uint64_t *out, struct st_error *err)
{
	FAULT_FWD(s, "segment count",
		  IN(s)->type->segment_count(IN(s), device, out, err));
}

static int fault_flag_list(struct st_store *s, int64_t after_id, size_t limit,
			   st_store_flag_cb cb, void *ctx, struct st_error *err)
{
	FAULT_FWD(s, "flag list",
		  IN(s)->type->flag_list(IN(s), after_id, limit, cb, ctx, err));
}

static int fault_person_find(struct st_store *s, const char *name,
			     struct st_person *out, struct st_error *err)
{
	FAULT_FWD(s, "person find",
		  IN(s)->type->person_find(IN(s), name, out, err));
}

static int fault_device_list(struct st_store *s, const uint8_t *after,
			     size_t limit, st_store_device_cb cb, void *ctx,
			     struct st_error *err)
{
	FAULT_FWD(s, "device list",
		  IN(s)->type->device_list(IN(s), after, limit, cb, ctx, err));
}

static int fault_device_backlog(struct st_store *s, const uint8_t id[16],
				uint64_t segments, uint64_t bytes,
				int64_t now_s, struct st_error *err)
{
	FAULT_FWD(s, "device backlog",
		  IN(s)->type->device_backlog(IN(s), id, segments, bytes, now_s,
					      err));
}

static int fault_device_stats(struct st_store *s, const uint8_t id[16],
			      struct st_device_stats *out, struct st_error *err)
{
	FAULT_FWD(s, "device stats",
		  IN(s)->type->device_stats(IN(s), id, out, err));
}

static int fault_token_add(struct st_store *s, const struct st_token *t,
			   struct st_error *err)
{
	FAULT_FWD(s, "token add", IN(s)->type->token_add(IN(s), t, err));
}

static int fault_token_find(struct st_store *s, const uint8_t hash[32],
			    struct st_token *out, struct st_error *err)
{
	FAULT_FWD(s, "token find",
		  IN(s)->type->token_find(IN(s), hash, out, err));
}

static int fault_token_list(struct st_store *s, st_store_token_cb cb,
			    void *ctx, struct st_error *err)
{
	FAULT_FWD(s, "token list", IN(s)->type->token_list(IN(s), cb, ctx, err));
}

static int fault_token_revoke(struct st_store *s, const char *name,
			      struct st_error *err)
{
	FAULT_FWD(s, "token revoke",
		  IN(s)->type->token_revoke(IN(s), name, err));
}

static int fault_enroll_token_add(struct st_store *s,
				  const struct st_enroll_token *t,
				  struct st_error *err)
{
	FAULT_FWD(s, "enrollment token add",
		  IN(s)->type->enroll_token_add(IN(s), t, err));
}

static int fault_enroll_token_get(struct st_store *s, const uint8_t hash[32],
				  struct st_enroll_token *out,
				  struct st_error *err)
{
	FAULT_FWD(s, "enrollment token get",
		  IN(s)->type->enroll_token_get(IN(s), hash, out, err));
}

static int fault_enroll_token_use(struct st_store *s, const uint8_t hash[32],
				  const uint8_t device[16], int64_t now_s,
				  struct st_error *err)
{
	FAULT_FWD(s, "enrollment token use",
		  IN(s)->type->enroll_token_use(IN(s), hash, device, now_s,
						err));
}

static int fault_policy_set_current(struct st_store *s, const uint8_t hash[32],
				    int64_t now_s, struct st_error *err)
{
	FAULT_FWD(s, "policy set current",
		  IN(s)->type->policy_set_current(IN(s), hash, now_s, err));
}

static int fault_policy_get_current(struct st_store *s,
				    struct st_store_policy *out,
				    struct st_error *err)
{
	struct fault_store *f = F(s);
	bool hit = fault_hit(f);
	if (hit && !f->cfg.after)
		return fault_fail(f, "policy get current", err);
	int rc = IN(s)->type->policy_get_current(IN(s), out, err);
	if (hit && rc == 0) {
		st_store_policy_fini(out); /* the caller frees nothing on error */
		return fault_fail(f, "policy get current", err);
	}
	return rc;
}

static int fault_forget(struct st_store *s, const struct st_forget *fg,
			uint64_t *deleted, struct st_error *err)
{
	FAULT_FWD(s, "forget", IN(s)->type->forget(IN(s), fg, deleted, err));
}

static int fault_backup(struct st_store *s, const char *path,
			struct st_error *err)
{
	FAULT_FWD(s, "backup", IN(s)->type->backup(IN(s), path, err));
}

static int fault_checkpoint(struct st_store *s, struct st_error *err)
{
	FAULT_FWD(s, "checkpoint", IN(s)->type->checkpoint(IN(s), err));
}

static int fault_counts(struct st_store *s, struct st_store_counts *out,
			struct st_error *err)
{
	FAULT_FWD(s, "counts", IN(s)->type->counts(IN(s), out, err));
}

static int fault_epoch_get(struct st_store *s, uint64_t *out,
			   struct st_error *err)
{
	FAULT_FWD(s, "epoch get", IN(s)->type->epoch_get(IN(s), out, err));
}

static int fault_pause_add(struct st_store *s, struct st_pause *p,
			   struct st_error *err)
{
	FAULT_FWD(s, "pause add", IN(s)->type->pause_add(IN(s), p, err));
}

static int fault_resume(struct st_store *s, const struct st_resume *r,
			uint64_t *epoch, uint64_t *resumed,
			struct st_error *err)
{
	FAULT_FWD(s, "resume",
		  IN(s)->type->resume(IN(s), r, epoch, resumed, err));
}

static int fault_pause_list(struct st_store *s, bool in_force,
			    int64_t after_id, size_t limit,
			    st_store_pause_cb cb, void *ctx,
			    struct st_error *err)
{
	FAULT_FWD(s, "pause list",
		  IN(s)->type->pause_list(IN(s), in_force, after_id, limit, cb,
					  ctx, err));
}

static int fault_pause_confirm(struct st_store *s, const uint8_t device[16],
			       uint64_t epoch, uint64_t last_seq,
			       int64_t now_s, bool *recorded,
			       struct st_error *err)
{
	FAULT_FWD(s, "pause confirm",
		  IN(s)->type->pause_confirm(IN(s), device, epoch, last_seq,
					     now_s, recorded, err));
}

static int fault_pause_confirms_get(struct st_store *s, uint64_t epoch,
				    const uint8_t *after, size_t limit,
				    st_store_confirm_cb cb, void *ctx,
				    struct st_error *err)
{
	FAULT_FWD(s, "pause confirms",
		  IN(s)->type->pause_confirms_get(IN(s), epoch, after, limit,
						  cb, ctx, err));
}

static int fault_scope_devices(struct st_store *s, int scope,
			       const char *value, uint64_t *out,
			       struct st_error *err)
{
	FAULT_FWD(s, "scope devices",
		  IN(s)->type->scope_devices(IN(s), scope, value, out, err));
}

static int fault_setting_get(struct st_store *s, const char *key,
			     uint8_t *out, size_t cap, size_t *len,
			     struct st_error *err)
{
	FAULT_FWD(s, "setting get",
		  IN(s)->type->setting_get(IN(s), key, out, cap, len, err));
}
static int fault_setting_put(struct st_store *s, const char *key,
			     const uint8_t *val, size_t len,
			     struct st_error *err)
{
	FAULT_FWD(s, "setting put",
		  IN(s)->type->setting_put(IN(s), key, val, len, err));
}
static int fault_token_request_add(struct st_store *s,
				   struct st_token_request *r,
				   struct st_error *err)
{
	FAULT_FWD(s, "token request add",
		  IN(s)->type->token_request_add(IN(s), r, err));
}
static int fault_token_request_get(struct st_store *s, int64_t id,
				   struct st_token_request *out,
				   struct st_error *err)
{
	FAULT_FWD(s, "token request get",
		  IN(s)->type->token_request_get(IN(s), id, out, err));
}
static int fault_token_request_close(struct st_store *s, int64_t id,
				     int64_t now_s, struct st_error *err)
{
	FAULT_FWD(s, "token request close",
		  IN(s)->type->token_request_close(IN(s), id, now_s, err));
}
static int fault_purpose_add(struct st_store *s, struct st_purpose *p,
			     struct st_error *err)
{
	FAULT_FWD(s, "purpose add", IN(s)->type->purpose_add(IN(s), p, err));
}
static int fault_purpose_get(struct st_store *s, int64_t id,
			     struct st_purpose *out, struct st_error *err)
{
	FAULT_FWD(s, "purpose get",
		  IN(s)->type->purpose_get(IN(s), id, out, err));
}
static int fault_purpose_list(struct st_store *s, st_store_purpose_cb cb,
			      void *ctx, struct st_error *err)
{
	FAULT_FWD(s, "purpose list",
		  IN(s)->type->purpose_list(IN(s), cb, ctx, err));
}
static int fault_purpose_approve(struct st_store *s, int64_t id,
				 const uint8_t officer[16], int64_t now_s,
				 size_t *count, struct st_error *err)
{
	FAULT_FWD(s, "purpose approve",
		  IN(s)->type->purpose_approve(IN(s), id, officer, now_s,
					       count, err));
}
static int fault_purpose_approvers(struct st_store *s, int64_t id,
				   uint8_t approvers[][16], size_t cap,
				   size_t *count, struct st_error *err)
{
	FAULT_FWD(s, "purpose approvers",
		  IN(s)->type->purpose_approvers(IN(s), id, approvers, cap,
						 count, err));
}
static int fault_purpose_set_state(struct st_store *s, int64_t id,
				   int state, int64_t now_s,
				   struct st_error *err)
{
	FAULT_FWD(s, "purpose set state",
		  IN(s)->type->purpose_set_state(IN(s), id, state, now_s,
						 err));
}
static int fault_audit_append(struct st_store *s,
			      const struct st_store_audit *e,
			      struct st_error *err)
{
	FAULT_FWD(s, "audit append", IN(s)->type->audit_append(IN(s), e, err));
}
static int fault_audit_last(struct st_store *s, struct st_store_audit *out,
			    struct st_error *err)
{
	FAULT_FWD(s, "audit last", IN(s)->type->audit_last(IN(s), out, err));
}
static int fault_audit_list(struct st_store *s, uint64_t after, size_t limit,
			    const char *object, st_store_audit_cb cb,
			    void *ctx, struct st_error *err)
{
	FAULT_FWD(s, "audit list",
		  IN(s)->type->audit_list(IN(s), after, limit, object, cb,
					  ctx, err));
}
static int fault_checkpoint_add(struct st_store *s,
				const struct st_store_checkpoint *c,
				struct st_error *err)
{
	FAULT_FWD(s, "checkpoint add",
		  IN(s)->type->checkpoint_add(IN(s), c, err));
}
static int fault_checkpoint_last(struct st_store *s,
				 struct st_store_checkpoint *out,
				 struct st_error *err)
{
	FAULT_FWD(s, "checkpoint last",
		  IN(s)->type->checkpoint_last(IN(s), out, err));
}
static int fault_pseudonym(struct st_store *s, const uint8_t person[16],
			   bool create, char *out, struct st_error *err)
{
	FAULT_FWD(s, "pseudonym",
		  IN(s)->type->pseudonym(IN(s), person, create, out, err));
}
static int fault_person_notices(struct st_store *s, const uint8_t person[16],
				uint8_t out[][32], size_t cap, size_t *count,
				struct st_error *err)
{
	FAULT_FWD(s, "person notices",
		  IN(s)->type->person_notices(IN(s), person, out, cap, count,
					      err));
}
static int fault_person_reseal(struct st_store *s, const uint8_t person[16],
			       const uint8_t *sealed, struct st_error *err)
{
	FAULT_FWD(s, "person reseal",
		  IN(s)->type->person_reseal(IN(s), person, sealed, err));
}
static int fault_person_erase(struct st_store *s, const uint8_t person[16],
			      int64_t now_s, const char *by,
			      struct st_erase_result *out,
			      struct st_error *err)
{
	FAULT_FWD(s, "person erase",
		  IN(s)->type->person_erase(IN(s), person, now_s, by, out,
					    err));
}
static int fault_person_exports(struct st_store *s, const uint8_t person[16],
				uint8_t ids[][16], int64_t *made_s,
				size_t cap, size_t *count,
				struct st_error *err)
{
	FAULT_FWD(s, "person exports",
		  IN(s)->type->person_exports(IN(s), person, ids, made_s, cap,
					      count, err));
}
static int fault_segment_sweep(struct st_store *s, int64_t before_min,
			       uint64_t *deleted, struct st_error *err)
{
	FAULT_FWD(s, "segment sweep",
		  IN(s)->type->segment_sweep(IN(s), before_min, deleted, err));
}

static int fault_export_add(struct st_store *s, const struct st_export *x,
			    struct st_error *err)
{
	FAULT_FWD(s, "export add", IN(s)->type->export_add(IN(s), x, err));
}
static int fault_export_person(struct st_store *s, const uint8_t e[16],
			       const uint8_t p[16], struct st_error *err)
{
	FAULT_FWD(s, "export person",
		  IN(s)->type->export_person(IN(s), e, p, err));
}
static int fault_export_get(struct st_store *s, const uint8_t id[16],
			    struct st_export *out, struct st_error *err)
{
	FAULT_FWD(s, "export get", IN(s)->type->export_get(IN(s), id, out, err));
}
static int fault_export_has(struct st_store *s, const uint8_t e[16],
			    const uint8_t p[16], bool *out,
			    struct st_error *err)
{
	FAULT_FWD(s, "export has",
		  IN(s)->type->export_has(IN(s), e, p, out, err));
}
static int fault_export_finish(struct st_store *s, const uint8_t id[16],
			       const uint8_t h[32], int64_t now_s,
			       struct st_error *err)
{
	FAULT_FWD(s, "export finish",
		  IN(s)->type->export_finish(IN(s), id, h, now_s, err));
}

static const struct st_store_type fault_type = {
	.name = "fault",
	.size = sizeof(struct fault_store),
	.open = fault_open,
	.close = fault_close,
	.is_valid = fault_is_valid,
	.begin = fault_begin,
	.begin_read = fault_begin_read,
	.commit = fault_commit,
	.rollback = fault_rollback,
	.person_add = fault_person_add,
	.person_get = fault_person_get,
	.person_list = fault_person_list,
	.device_add = fault_device_add,
	.device_get = fault_device_get,
	.device_set_active = fault_device_set_active,
	.device_touch = fault_device_touch,
	.policy_put = fault_policy_put,
	.policy_get_by_notice = fault_policy_get,
	.acceptance_add = fault_acceptance_add,
	.acceptance_has = fault_acceptance_has,
	.segment_put = fault_segment_put,
	.segment_get = fault_segment_get,
	.segment_list = fault_segment_list,
	.segment_count = fault_segment_count,
	.flag_list = fault_flag_list,
	.person_find = fault_person_find,
	.device_list = fault_device_list,
	.device_backlog = fault_device_backlog,
	.device_stats = fault_device_stats,
	.token_add = fault_token_add,
	.token_find = fault_token_find,
	.token_list = fault_token_list,
	.token_revoke = fault_token_revoke,
	.enroll_token_add = fault_enroll_token_add,
	.enroll_token_get = fault_enroll_token_get,
	.enroll_token_use = fault_enroll_token_use,
	.policy_set_current = fault_policy_set_current,
	.policy_get_current = fault_policy_get_current,
	.forget = fault_forget,
	.backup = fault_backup,
	.checkpoint = fault_checkpoint,
	.counts = fault_counts,
	.epoch_get = fault_epoch_get,
	.pause_add = fault_pause_add,
	.resume = fault_resume,
	.pause_list = fault_pause_list,
	.pause_confirm = fault_pause_confirm,
	.pause_confirms_get = fault_pause_confirms_get,
	.scope_devices = fault_scope_devices,
	.setting_get = fault_setting_get,
	.setting_put = fault_setting_put,
	.token_request_add = fault_token_request_add,
	.token_request_get = fault_token_request_get,
	.token_request_close = fault_token_request_close,
	.purpose_add = fault_purpose_add,
	.purpose_get = fault_purpose_get,
	.purpose_list = fault_purpose_list,
	.purpose_approve = fault_purpose_approve,
	.purpose_approvers = fault_purpose_approvers,
	.purpose_set_state = fault_purpose_set_state,
	.audit_append = fault_audit_append,
	.audit_last = fault_audit_last,
	.audit_list = fault_audit_list,
	.checkpoint_add = fault_checkpoint_add,
	.checkpoint_last = fault_checkpoint_last,
	.pseudonym = fault_pseudonym,
	.person_notices = fault_person_notices,
	.person_reseal = fault_person_reseal,
	.person_erase = fault_person_erase,
	.person_exports = fault_person_exports,
	.segment_sweep = fault_segment_sweep,
	.export_add = fault_export_add,
	.export_person = fault_export_person,
	.export_get = fault_export_get,
	.export_has = fault_export_has,
	.export_finish = fault_export_finish,
};

int st_store_fault_wrap(struct st_store *inner, struct st_store **out,
			struct st_error *err)
{
	if (!out || !st_store_is_valid(inner) || inner->in_tx)
		return st_fail(err, ST_E_INVAL,
			       "store fault: wrap an open store outside a "
			       "transaction");
	struct fault_store *f = calloc(1, sizeof *f);
	if (!f)
		return st_fail(err, ST_E_NOMEM, "store fault: out of memory");
	f->base.type = &fault_type;
	f->inner = inner;
	*out = &f->base;
	return 0;
}

static struct fault_store *as_fault(const struct st_store *s)
{
	return s && s->type == &fault_type ? (struct fault_store *)s : NULL;
}

void st_store_fault_arm(struct st_store *s, const struct st_store_fault_cfg *c)
{
	struct fault_store *f = as_fault(s);
	if (!f)
		return;
	f->cfg = c ? *c : (struct st_store_fault_cfg){0};
	f->calls = 0;
	f->failed = 0;
}

long st_store_fault_calls(const struct st_store *s)
{
	const struct fault_store *f = as_fault(s);
	return f ? f->calls : -1;
}

long st_store_fault_failed(const struct st_store *s)
{
	const struct fault_store *f = as_fault(s);
	return f ? f->failed : -1;
}
