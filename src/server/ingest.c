/* ingest.c - verified, exactly-once ingest of sealed segments: header,
 * device, signature, person, notice, kinds, level, time window, lease,
 * then the group commit. Public keys only; never opens a segment. */
#include "ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/seal.h"

_Static_assert(ST_STORE_HEADER_LEN == ST_SEG_HEADER_LEN, "header length");
_Static_assert(ST_STORE_BODY_MAX == ST_SEG_CIPHER_MAX, "body cap");
_Static_assert(ST_STORE_ID_LEN == ST_SEG_ID_LEN, "id length");
_Static_assert(ST_STORE_POLICY_JSON_MAX == ST_POLICY_JSON_MAX, "policy cap");

/* Kinds bit of one event type. */
#define KB(t) ST_KIND_BIT(t)

uint32_t st_ingest_kinds_allowed(const struct st_policy_capture *c)
{
	uint32_t k = KB(ST_EV_SESSION) | KB(ST_EV_REDACTION);
	if (c->pointer || c->keys || c->titles || c->apps)
		k |= KB(ST_EV_FOCUS) | KB(ST_EV_SCREEN) | KB(ST_EV_IDLE_START) |
		     KB(ST_EV_IDLE_END);
	if (c->keys)
		k |= KB(ST_EV_KEY_PRESS) | KB(ST_EV_KEY_RELEASE);
	if (c->keys && c->text)
		k |= ST_KIND_TEXT;
	if (c->pointer)
		k |= KB(ST_EV_POINTER) | KB(ST_EV_BUTTON_PRESS) |
		     KB(ST_EV_BUTTON_RELEASE) | KB(ST_EV_SCROLL);
	if (c->titles)
		k |= ST_KIND_TITLE;
	if (c->apps)
		k |= ST_KIND_APP;
	if (c->screenshots)
		k |= KB(ST_EV_KEYFRAME);
	return k;
}

/* What a notice allows, parsed once per batch per notice hash. */
#define POLICY_CACHE_MAX 8

struct notice_rule {
	uint8_t notice_hash[32];
	uint32_t kinds;
	int keep_level;
};

/* A notice hash always names the same policy (the store refuses another
 * policy under a used notice hash), so its rule may be kept across
 * batches; devices and acceptances change and are read every time. */
struct st_ingest_cache {
	struct notice_rule rule[POLICY_CACHE_MAX];
	size_t n, next;
};

struct ctx {
	struct st_store *store;
	uint64_t now_s;
	uint64_t past_s, future_s;
	struct st_ingest_cache own;
	struct st_ingest_cache *cache; /* the caller's, or own */
	st_ingest_lease_fn lease_check;
	void *lease_ctx;
};

int st_ingest_cache_new(struct st_ingest_cache **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : ST_E_NOMEM;
}

void st_ingest_cache_free(struct st_ingest_cache *c)
{
	free(c);
}

/* "segment 42 of device 0a1b…" for messages. */
static void seg_name(const struct st_segment_header *h, char *out, size_t n)
{
	char hex[33];
	st_store_id_hex(h->device_id, hex);
	snprintf(out, n, "segment %llu of device %s",
		 (unsigned long long)h->seq, hex);
}

static int refuse(struct st_ingest_result *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct st_ingest_result *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	r->code = code;
	r->err.code = code;
	vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
	va_end(ap);
	return 0; /* a refusal is an answer, not a failure of the call */
}

/* Loads the rule of a notice from the store, through the cache. *found is
 * false when no policy has that notice hash. */
static int notice_rule(struct ctx *c, const uint8_t nh[32],
		       const struct notice_rule **out, struct st_error *err)
{
	struct st_ingest_cache *k = c->cache;
	for (size_t i = 0; i < k->n; i++)
		if (!memcmp(k->rule[i].notice_hash, nh, 32)) {
			*out = &k->rule[i];
			return 0;
		}
	struct st_store_policy sp;
	int rc = st_store_policy_get_by_notice(c->store, nh, &sp, err);
	if (rc < 0)
		return rc;
	struct st_policy p;
	struct st_error perr = {0};
	rc = st_policy_parse(sp.json, sp.json_len, &p, NULL, &perr);
	struct notice_rule nr;
	memcpy(nr.notice_hash, nh, 32);
	if (rc == 0) {
		struct st_policy_capture cap;
		st_policy_capture_get(&p, &cap);
		nr.kinds = st_ingest_kinds_allowed(&cap);
		nr.keep_level = st_policy_keep_level(&p);
	}
	st_policy_fini(&p);
	st_store_policy_fini(&sp);
	if (rc < 0) /* the server's own data: not the segment's fault */
		return st_fail(err, ST_E_POLICY,
			       "stored policy for this notice fails its check "
			       "(%s); apply a policy that passes `sealtrace "
			       "policy check`",
			       perr.msg);
	size_t slot = k->n < POLICY_CACHE_MAX ? k->n++
					      : k->next++ % POLICY_CACHE_MAX;
	k->rule[slot] = nr;
	*out = &k->rule[slot];
	return 0;
}

/* Steps 2-9 for one parsed segment. Returns 0 with r->code set (0: passes,
 * < 0: refused), or a negative st_err when the store failed. */
static int check_one(struct ctx *c, const uint8_t *seg, size_t len,
		     const struct st_segment_header *h,
		     struct st_ingest_result *r, struct st_error *err)
{
	char name[96];
	seg_name(h, name, sizeof name);

	/* 2. device enrolled, active, person not erased */
	struct st_device d;
	struct st_error e = {0};
	int rc = st_store_device_get(c->store, h->device_id, &d, &e);
	if (rc == ST_E_NOT_FOUND)
		return refuse(r, ST_E_DEVICE_UNKNOWN,
			      "%s: device not enrolled; enroll it with an "
			      "enroll token",
			      name);
	if (rc < 0) {
		*err = e;
		return rc;
	}
	if (!d.active)
		return refuse(r, ST_E_DEVICE_REVOKED,
			      "%s: device revoked; enroll the computer again "
			      "if it should record",
			      name);
	struct st_person p;
	rc = st_store_person_get(c->store, d.person_id, &p, err);
	if (rc < 0)
		return rc;
	if (p.erased)
		return refuse(r, ST_E_DEVICE_REVOKED,
			      "%s: the device's person was erased; nothing "
			      "more is kept for them",
			      name);

	/* 3. signature and body hash, with the stored public key */
	struct st_segment_header vh;
	e = (struct st_error){0};
	rc = st_segment_verify(seg, len, d.public_key, &vh, &e);
	if (rc < 0)
		return refuse(r, rc, "%s: %s", name, e.msg);

	/* 4. the header's person is the device's */
	if (memcmp(h->person_id, d.person_id, 16) != 0)
		return refuse(r, ST_E_PERSON_MISMATCH,
			      "%s: header names another person than the one "
			      "the device is enrolled for",
			      name);

	/* 5. the notice was accepted by that person on that device */
	bool ok = false;
	rc = st_store_acceptance_has(c->store, d.person_id, d.id,
				     h->notice_hash, &ok, err);
	if (rc < 0)
		return rc;
	if (!ok)
		return refuse(r, ST_E_NOTICE_NOT_ACCEPTED,
			      "%s: recorded under a notice the person has not "
			      "accepted on this device; run sealtrace-agent "
			      "accept",
			      name);
	const struct notice_rule *nr = NULL;
	e = (struct st_error){0};
	rc = notice_rule(c, h->notice_hash, &nr, &e);
	if (rc == ST_E_NOT_FOUND) /* acceptances reference policies: rare */
		return refuse(r, ST_E_NOTICE_NOT_ACCEPTED,
			      "%s: no policy has this notice hash", name);
	if (rc < 0) {
		*err = e;
		return rc;
	}

	/* 6. kinds within the notice */
	uint32_t extra = h->kinds & ~nr->kinds;
	if (extra)
		return refuse(r, ST_E_NOT_IN_NOTICE,
			      "%s: kinds 0x%08x include 0x%08x that the "
			      "accepted notice does not list; the agent must "
			      "capture only what the notice says",
			      name, h->kinds, extra);

	/* 7. level within the policy's keep level */
	if (h->level > nr->keep_level)
		return refuse(r, ST_E_OVER_KEEP,
			      "%s: level %u, the policy keeps at most level %d",
			      name, h->level, nr->keep_level);

	/* 8. time window around the server clock */
	uint64_t start_s = (uint64_t)h->t_start_min * 60u;
	uint64_t end_s = (uint64_t)h->t_end_min * 60u;
	/* end is the ceiling of the last event: one minute of slack */
	if (start_s + c->past_s < c->now_s ||
	    end_s > c->now_s + c->future_s + 60u)
		return refuse(r, ST_E_TIME_WINDOW,
			      "%s: minutes %u..%u are outside the accepted "
			      "window (%llu s before to %llu s after the "
			      "server clock); check the device's clock",
			      name, h->t_start_min, h->t_end_min,
			      (unsigned long long)c->past_s,
			      (unsigned long long)c->future_s);

	/* 9. recorded under a lease, and not under one a pause made old */
	if (h->lease_seq == 0)
		return refuse(r, ST_E_NO_LEASE,
			      "%s: recorded without a lease (lease sequence 0: "
			      "a development agent); no server keeps such "
			      "data: run the agent without --dev",
			      name);
	if (c->lease_check) {
		struct st_ingest_lease_q lq = {
			.device_id = h->device_id,
			.person = p.name,
			.group = p.group,
			.lease_seq = h->lease_seq,
			.seq = h->seq,
		};
		e = (struct st_error){0};
		rc = c->lease_check(c->lease_ctx, &lq, &e);
		if (rc < 0)
			return refuse(r, rc, "%s: %s", name,
				      e.msg[0] ? e.msg : st_strerror(rc));
	}
	r->code = 0;
	return 0;
}

static void to_record(const uint8_t *seg, size_t len,
		      const struct st_segment_header *h, uint64_t now_s,
		      struct st_store_segment *g)
{
	memset(g, 0, sizeof *g);
	memcpy(g->device_id, h->device_id, 16);
	memcpy(g->person_id, h->person_id, 16);
	g->seq = h->seq;
	g->lease_seq = h->lease_seq;
	g->t_start_min = h->t_start_min;
	g->t_end_min = h->t_end_min;
	g->level = h->level;
	g->kinds = h->kinds;
	memcpy(g->notice_hash, h->notice_hash, 32);
	g->received_s = (int64_t)now_s;
	g->header = seg;
	g->body = seg + ST_SEG_HEADER_LEN;
	g->body_len = len - ST_SEG_HEADER_LEN;
}

/* Marks every segment that had passed its checks as failed with rc. */
static void fail_pending(struct st_ingest_result *res, const bool *pending,
			 size_t n, int rc, const struct st_error *e)
{
	for (size_t i = 0; i < n; i++)
		if (pending[i]) {
			res[i].code = rc;
			res[i].err.code = rc;
			snprintf(res[i].err.msg, sizeof res[i].err.msg,
				 "not stored: %.480s", e ? e->msg : st_strerror(rc));
		}
}

struct st_ingest_prep {
	size_t n, k;                    /* segments, of which passed */
	uint64_t now_s;
	struct st_segment_header *hs;   /* n */
	struct st_store_segment *recs;  /* k used */
	size_t *idx;                    /* recs[j] is segment idx[j] */
	int *outc;
	bool *pending;                  /* n: passed, answer after COMMIT */
};

void st_ingest_prep_free(struct st_ingest_prep *p)
{
	if (!p)
		return;
	free(p->hs);
	free(p->recs);
	free(p->idx);
	free(p->outc);
	free(p->pending);
	free(p);
}

int st_ingest_check(struct st_store *store, const struct st_ingest_item *items,
		    size_t n, const struct st_ingest_cfg *cfg,
		    struct st_ingest_result *res, struct st_ingest_prep **out,
		    struct st_error *err)
{
	if (out)
		*out = NULL;
	if (!store || !items || !res || !out || n < 1 ||
	    n > ST_INGEST_BATCH_MAX)
		return st_fail(err, ST_E_INVAL,
			       "ingest: %zu segments (1..%d), or no store",
			       n, ST_INGEST_BATCH_MAX);
	struct st_ingest_cfg def = {0};
	if (!cfg)
		cfg = &def;
	if (cfg->window_past_s > ST_INGEST_WINDOW_MAX_S ||
	    cfg->window_future_s > ST_INGEST_WINDOW_MAX_S)
		return st_fail(err, ST_E_INVAL,
			       "ingest: time window over %u s",
			       ST_INGEST_WINDOW_MAX_S);
	const struct st_clock *clk = cfg->clock ? cfg->clock : &st_clock_system;
	struct ctx *c = calloc(1, sizeof *c);
	struct st_ingest_prep *p = calloc(1, sizeof *p);
	int rc = 0;
	if (p) {
		p->n = n;
		p->hs = calloc(n, sizeof *p->hs);
		p->recs = calloc(n, sizeof *p->recs);
		p->idx = calloc(n, sizeof *p->idx);
		p->outc = calloc(n, sizeof *p->outc);
		p->pending = calloc(n, sizeof *p->pending);
	}
	if (!c || !p || !p->hs || !p->recs || !p->idx || !p->outc ||
	    !p->pending) {
		free(c);
		st_ingest_prep_free(p);
		return st_fail(err, ST_E_NOMEM, "ingest: out of memory");
	}
	c->store = store;
	c->cache = cfg->cache ? cfg->cache : &c->own;
	c->lease_check = cfg->lease_check;
	c->lease_ctx = cfg->lease_ctx;
	c->now_s = st_wall_ns(clk) / 1000000000u;
	p->now_s = c->now_s;
	c->past_s = cfg->window_past_s ? cfg->window_past_s
				       : ST_INGEST_WINDOW_DEFAULT_S;
	c->future_s = cfg->window_future_s ? cfg->window_future_s
					   : ST_INGEST_WINDOW_DEFAULT_S;

	memset(res, 0, n * sizeof *res);
	/* one snapshot and one set of locks for every read of the batch */
	bool in_read = false;
	for (size_t i = 0; i < n; i++) {
		struct st_ingest_result *r = &res[i];
		const uint8_t *seg = items[i].seg;
		size_t len = items[i].len;
		struct st_error e = {0};
		/* 1. header structure */
		int prc = seg ? st_segment_parse_header(seg, len, &p->hs[i], &e)
			      : st_fail(&e, ST_E_INVAL, "segment: no bytes");
		if (prc < 0) {
			refuse(r, prc, "%s", e.msg);
			continue;
		}
		r->parsed = true;
		memcpy(r->device_id, p->hs[i].device_id, 16);
		r->seq = p->hs[i].seq;
		if (p->hs[i].seq > INT64_MAX || p->hs[i].lease_seq > INT64_MAX) {
			char name[96];
			seg_name(&p->hs[i], name, sizeof name);
			refuse(r, ST_E_CAP,
			       "%s: sequence or lease sequence over 2^63-1",
			       name);
			continue;
		}
		if (!in_read && !st_store_in_tx(store)) {
			if ((rc = st_store_begin_read(store, err)) < 0) {
				for (size_t j = i; j < n; j++)
					p->pending[j] = true;
				fail_pending(res, p->pending, n, rc, err);
				goto fail;
			}
			in_read = true;
		}
		rc = check_one(c, seg, len, &p->hs[i], r, err);
		if (rc < 0) {
			/* the store failed: no answer for this segment, those
			 * after it, or those that had passed */
			for (size_t j = i; j < n; j++)
				p->pending[j] = true;
			fail_pending(res, p->pending, n, rc, err);
			goto fail;
		}
		if (r->code < 0)
			continue;
		p->pending[i] = true;
		to_record(seg, len, &p->hs[i], c->now_s, &p->recs[p->k]);
		p->idx[p->k++] = i;
	}
	if (in_read)
		st_store_rollback(store, NULL); /* read only: nothing to keep */
	free(c);
	*out = p;
	return 0;
fail:
	if (in_read && st_store_in_tx(store))
		st_store_rollback(store, NULL);
	free(c);
	st_ingest_prep_free(p);
	return rc;
}

int st_ingest_commit(struct st_store *store, struct st_ingest_prep *p,
		     struct st_ingest_result *res, struct st_error *err)
{
	if (!store || !p || !res) {
		st_ingest_prep_free(p);
		return st_fail(err, ST_E_INVAL, "ingest commit: no store, "
			       "batch or answers");
	}
	int rc = 0;
	if (p->k == 0)
		goto out;
	rc = st_store_segment_put_batch(store, p->recs, p->k, p->outc, err);
	if (rc < 0) {
		fail_pending(res, p->pending, p->n, rc, err);
		goto out;
	}
	/* COMMIT has returned: now, and only now, the answers. */
	for (size_t j = 0; j < p->k; j++) {
		struct st_ingest_result *r = &res[p->idx[j]];
		if (p->outc[j] == ST_STORE_CONFLICT) {
			char name[96];
			seg_name(&p->hs[p->idx[j]], name, sizeof name);
			refuse(r, ST_E_CONFLICT,
			       "%s: this sequence already holds other content; "
			       "refused and flagged (a device must never reuse "
			       "a sequence)",
			       name);
		} else {
			r->code = 0;
			r->outcome = p->outc[j];
		}
	}
out:
	st_ingest_prep_free(p);
	return rc;
}

int st_ingest_batch(struct st_store *store, const struct st_ingest_item *items,
		    size_t n, const struct st_ingest_cfg *cfg,
		    struct st_ingest_result *res, struct st_error *err)
{
	struct st_ingest_prep *p = NULL;
	int rc = st_ingest_check(store, items, n, cfg, res, &p, err);
	if (rc < 0)
		return rc;
	return st_ingest_commit(store, p, res, err);
}

int st_ingest_segment(struct st_store *store, const uint8_t *seg, size_t len,
		      const struct st_ingest_cfg *cfg,
		      struct st_ingest_result *res, struct st_error *err)
{
	struct st_ingest_result local;
	struct st_ingest_result *r = res ? res : &local;
	struct st_ingest_item it = {seg, len};
	int rc = st_ingest_batch(store, &it, 1, cfg, r, err);
	if (rc < 0)
		return rc;
	if (r->code < 0) {
		if (err)
			*err = r->err;
		return r->code;
	}
	return 0;
}
