/* api_export.c - the server's half of an export (docs/api.md, "Export"):
 * it checks that the caller is a steward named on an approved, unexpired
 * purpose and that the filters stay inside its scope, writes the audit
 * entries (the export, and one per person whose data it hands out) before
 * it hands out anything, and then serves the sealed segments and sealed
 * person keys in scope. It opens nothing: the export host does. */
#include "api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "access/purpose.h"
#include "core/policy.h"
#include "core/token.h"

#define EXPORT_NAMES_MAX 256
#define EXPORT_SEGMENTS_MAX 1000000u

struct names {
	char (*v)[ST_PURPOSE_NAME_LEN + 1];
	size_t n;
};

static bool in_names(const struct names *n, const char *s)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], s))
			return true;
	return false;
}

static bool in_list(char (*v)[ST_PURPOSE_NAME_LEN + 1], size_t n,
		    const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* A JSON array of at most EXPORT_NAMES_MAX short strings into names. */
static int get_names(json_t *o, const char *key, struct names *out,
		     struct st_error *err)
{
	json_t *a = json_object_get(o, key);
	out->v = NULL;
	out->n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > EXPORT_NAMES_MAX)
		return st_fail(err, ST_E_JSON,
			       "request body: \"%s\" must be an array of at "
			       "most %d names",
			       key, EXPORT_NAMES_MAX);
	out->v = calloc(json_array_size(a) + 1, sizeof *out->v);
	if (!out->v)
		return st_fail(err, ST_E_NOMEM, "export: out of memory");
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);
		if (!json_is_string(e) || json_string_length(e) < 1 ||
		    json_string_length(e) > ST_PURPOSE_NAME_LEN)
			return st_fail(err, ST_E_INVAL,
				       "request body: \"%s\"[%zu] must be a "
				       "name",
				       key, i);
		strcpy(out->v[out->n++], json_string_value(e));
	}
	return 0;
}

/* Everything one export request decides, for the answer. */
struct plan {
	struct st_api *a;
	struct st_purpose p;
	struct st_purpose_scope sc;
	struct names users, groups;
	int64_t from_s, until_s;
	json_t *people, *devices, *segments, *policies, *notices;
	uint8_t (*pids)[16];
	size_t n_pids, cap_pids;
	uint64_t n_segments;
	/* notice hashes already judged: listed or not */
	struct notice_memo {
		uint8_t h[32];
		bool ok;
	} memo[64];
	size_t n_memo;
	struct st_error *err;
	int rc;
};

static bool notice_allowed(struct plan *pl, const uint8_t h[32])
{
	for (size_t i = 0; i < pl->n_memo; i++)
		if (!memcmp(pl->memo[i].h, h, 32))
			return pl->memo[i].ok;
	bool ok = false;
	struct st_store_policy sp;
	memset(&sp, 0, sizeof sp);
	if (st_store_policy_get_by_notice(pl->a->admin_store, h, &sp, NULL) ==
	    0) {
		struct st_policy pol;
		st_policy_init(&pol);
		if (st_policy_parse(sp.json, strlen(sp.json), &pol, NULL,
				    NULL) == 0)
			for (size_t k = 0; k < pol.n_purposes; k++)
				ok = ok || !strcmp(pol.purposes[k].name,
						   pl->p.name);
		if (ok) {
			char ph[65], nh[65];
			api_hex(sp.hash, 32, ph);
			api_hex(h, 32, nh);
			json_array_append_new(pl->policies, json_string(ph));
			json_array_append_new(pl->notices, json_string(nh));
		}
		st_policy_fini(&pol);
		st_store_policy_fini(&sp);
	}
	if (pl->n_memo < 64) {
		memcpy(pl->memo[pl->n_memo].h, h, 32);
		pl->memo[pl->n_memo++].ok = ok;
	}
	return ok;
}

struct seg_ctx {
	struct plan *pl;
	char dev[33], person[33];
	uint64_t last;
	size_t rows;
};

static int seg_row(void *ctx, const struct st_store_segment *g)
{
	struct seg_ctx *c = ctx;
	struct plan *pl = c->pl;
	c->last = g->seq;
	c->rows++;
	int64_t start = (int64_t)g->t_start_min * 60;
	int64_t end = (int64_t)g->t_end_min * 60;
	if (start < pl->from_s || end > pl->until_s ||
	    g->level > pl->sc.level || !notice_allowed(pl, g->notice_hash))
		return 0;
	if (++pl->n_segments > EXPORT_SEGMENTS_MAX) {
		pl->rc = st_fail(pl->err, ST_E_CAP,
				 "export: more than %u segments; narrow it "
				 "with --since/--until or --user",
				 EXPORT_SEGMENTS_MAX);
		return 1;
	}
	json_t *o = json_pack("{s:s,s:I,s:s,s:i,s:I,s:I,s:I}", "device",
			      c->dev, "seq", (json_int_t)g->seq, "person",
			      c->person, "level", (int)g->level, "t_start_min",
			      (json_int_t)g->t_start_min, "t_end_min",
			      (json_int_t)g->t_end_min, "bytes",
			      (json_int_t)g->body_len);
	if (!o)
		return -1;
	json_array_append_new(pl->segments, o);
	return 0;
}

struct dev_ctx {
	struct plan *pl;
	const struct st_person *p;
	uint8_t (*ids)[16];
	uint8_t (*pks)[32];
	size_t n, cap;
};

static int dev_row(void *ctx, const struct st_device *d)
{
	struct dev_ctx *c = ctx;
	if (memcmp(d->person_id, c->p->id, 16) != 0)
		return 0;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 8;
		void *a = realloc(c->ids, nc * 16), *b = NULL;
		if (a)
			c->ids = a;
		b = realloc(c->pks, nc * 32);
		if (!a || !b)
			return -1;
		c->pks = b;
		c->cap = nc;
	}
	memcpy(c->ids[c->n], d->id, 16);
	memcpy(c->pks[c->n], d->public_key, 32);
	c->n++;
	return 0;
}

/* One person in scope: their devices and segments (store_mu held). */
static int plan_person(struct plan *pl, const struct st_person *p)
{
	struct dev_ctx dc = {.pl = pl, .p = p};
	int rc = api_each_device(pl->a, dev_row, &dc, pl->err);
	char pid[33];
	api_hex(p->id, 16, pid);
	size_t before = json_array_size(pl->segments);
	for (size_t i = 0; rc == 0 && i < dc.n; i++) {
		struct seg_ctx sc = {.pl = pl};
		api_hex(dc.ids[i], 16, sc.dev);
		memcpy(sc.person, pid, sizeof pid);
		size_t dev_before = json_array_size(pl->segments);
		for (unsigned pg = 0; rc == 0 && pg < ST_API_LIST_PAGES_MAX;
		     pg++) {
			sc.rows = 0;
			rc = st_store_segment_list(pl->a->admin_store,
						   dc.ids[i], sc.last,
						   ST_STORE_LIST_MAX, seg_row,
						   &sc, pl->err);
			if (pl->rc < 0)
				rc = pl->rc;
			if (sc.rows < ST_STORE_LIST_MAX)
				break;
		}
		if (rc == 0 && json_array_size(pl->segments) > dev_before) {
			char pk[65];
			api_hex(dc.pks[i], 32, pk);
			json_array_append_new(
				pl->devices,
				json_pack("{s:s,s:s,s:s}", "id", sc.dev,
					  "person", pid, "public_key", pk));
		}
	}
	free(dc.ids);
	free(dc.pks);
	if (rc < 0)
		return rc;
	if (json_array_size(pl->segments) == before)
		return 0; /* nothing of theirs leaves: not in the export */
	char pk[65];
	api_hex(p->public_key, 32, pk);
	json_array_append_new(
		pl->people,
		json_pack("{s:s,s:s,s:o}", "id", pid, "public_key", pk,
			  "sealed_secret",
			  api_j_b64(p->sealed_secret, ST_STORE_SEALED_SK_LEN)));
	if (pl->n_pids == pl->cap_pids) {
		size_t nc = pl->cap_pids ? pl->cap_pids * 2 : 16;
		void *x = realloc(pl->pids, nc * 16);
		if (!x)
			return st_fail(pl->err, ST_E_NOMEM, "out of memory");
		pl->pids = x;
		pl->cap_pids = nc;
	}
	memcpy(pl->pids[pl->n_pids++], p->id, 16);
	return 0;
}

static int person_row(void *ctx, const struct st_person *p)
{
	struct plan *pl = ctx;
	if (p->erased)
		return 0;
	bool in = in_list(pl->sc.people, pl->sc.n_people, p->name) ||
		  (p->group[0] && in_list(pl->sc.groups, pl->sc.n_groups,
					  p->group));
	if (!in)
		return 0;
	if (pl->users.n && !in_names(&pl->users, p->name))
		return 0;
	if (pl->groups.n && !in_names(&pl->groups, p->group))
		return 0;
	int rc = plan_person(pl, p);
	if (rc < 0) {
		pl->rc = rc;
		return 1;
	}
	return 0;
}

/* The filters must stay inside the purpose's scope. */
static int check_filters(struct plan *pl, struct st_error *err)
{
	for (size_t i = 0; i < pl->users.n; i++) {
		const char *u = pl->users.v[i];
		bool ok = in_list(pl->sc.people, pl->sc.n_people, u);
		if (!ok && pl->sc.n_groups) {
			struct st_person p;
			if (st_store_person_find(pl->a->admin_store, u, &p,
						 NULL) == 0)
				ok = p.group[0] &&
				     in_list(pl->sc.groups, pl->sc.n_groups,
					     p.group);
		}
		if (!ok)
			return st_fail(err, ST_E_SCOPE,
				       "export: --user \"%.64s\" is outside "
				       "the purpose's scope",
				       u);
	}
	for (size_t i = 0; i < pl->groups.n; i++)
		if (!in_list(pl->sc.groups, pl->sc.n_groups, pl->groups.v[i]))
			return st_fail(err, ST_E_SCOPE,
				       "export: --group \"%.64s\" is outside "
				       "the purpose's scope",
				       pl->groups.v[i]);
	if (pl->from_s < pl->sc.from_s || pl->until_s > pl->sc.until_s ||
	    pl->from_s >= pl->until_s)
		return st_fail(err, ST_E_SCOPE,
			       "export: the time range must lie inside the "
			       "purpose's (%" PRId64 " to %" PRId64 ")",
			       pl->sc.from_s, pl->sc.until_s);
	return 0;
}

static void plan_fini(struct plan *pl)
{
	st_purpose_scope_fini(&pl->sc);
	free(pl->users.v);
	free(pl->groups.v);
	free(pl->pids);
	json_decref(pl->people);
	json_decref(pl->devices);
	json_decref(pl->segments);
	json_decref(pl->policies);
	json_decref(pl->notices);
}

/* The caller is a steward named on p (store_mu held). */
static int named_steward(struct st_api *a, const struct areq *q,
			 const struct st_purpose *p, json_t **stewards,
			 struct st_error *err)
{
	char names[ST_PURPOSE_STEWARDS_MAX][ST_PURPOSE_NAME_LEN + 1];
	size_t n = 0;
	int rc = st_purpose_stewards_parse(p->stewards_json, names,
					   ST_PURPOSE_STEWARDS_MAX, &n, err);
	if (rc < 0)
		return rc;
	bool named = false;
	*stewards = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(*stewards, json_string(names[i]));
		struct st_person sp;
		if (q->token.has_person &&
		    st_store_person_find(a->admin_store, names[i], &sp, NULL) ==
			    0 &&
		    !memcmp(sp.id, q->token.person_id, 16))
			named = true;
	}
	if (!named)
		return st_fail(err, ST_E_PURPOSE,
			       "purpose %" PRId64 ": you are not a steward "
			       "named on it",
			       p->id);
	return 0;
}

static int usable(const struct st_purpose *p, int64_t now,
		  struct st_error *err)
{
	if (p->state == ST_PURPOSE_REVOKED)
		return st_fail(err, ST_E_PURPOSE,
			       "purpose %" PRId64 ": revoked", p->id);
	if (now >= p->expires_s)
		return st_fail(err, ST_E_PURPOSE,
			       "purpose %" PRId64 ": expired; propose a new one",
			       p->id);
	if (p->state != ST_PURPOSE_APPROVED)
		return st_fail(err, ST_E_PURPOSE,
			       "purpose %" PRId64 ": not approved by two "
			       "privacy officers yet",
			       p->id);
	return 0;
}

static json_t *names_json(char (*v)[ST_PURPOSE_NAME_LEN + 1], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void h_export_start(struct st_api *a, struct st_http_req *r,
			   struct areq *q)
{
	static const char *const keys[] = {"purpose", "users", "groups",
					   "since",   "until", "out_dir",
					   NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	struct plan pl;
	memset(&pl, 0, sizeof pl);
	pl.a = a;
	pl.err = &e;
	pl.people = json_array();
	pl.devices = json_array();
	pl.segments = json_array();
	pl.policies = json_array();
	pl.notices = json_array();
	int64_t pid = 0, since = -1, until = -1;
	char out_dir[1024] = "";
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	int rc = api_load_obj(body, len, &j, &e);
	if (rc == 0)
		rc = api_only_keys(j, keys, &e);
	if (rc == 0)
		rc = api_get_int(j, "purpose", true, 1, INT64_MAX, &pid, &e);
	if (rc == 0)
		rc = api_get_int(j, "since", false, 0, INT64_MAX / 2, &since,
				 &e);
	if (rc == 0)
		rc = api_get_int(j, "until", false, 1, INT64_MAX / 2, &until,
				 &e);
	if (rc == 0)
		rc = api_get_str(j, "out_dir", false, 0, sizeof out_dir - 1,
				 out_dir, sizeof out_dir, &e);
	if (rc == 0)
		rc = get_names(j, "users", &pl.users, &e);
	if (rc == 0)
		rc = get_names(j, "groups", &pl.groups, &e);
	json_decref(j);
	if (rc < 0) {
		plan_fini(&pl);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "purpose:%" PRId64, pid);
	int64_t now = api_now_s(a);
	json_t *stewards = NULL, *approvers = json_array();
	struct st_export x;
	memset(&x, 0, sizeof x);
	randombytes_buf(x.id, 16);
	char xid[33];
	api_hex(x.id, 16, xid);
	struct st_store_policy cur;
	memset(&cur, 0, sizeof cur);
	uint64_t start_seq = 0;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_purpose_get(a->admin_store, pid, &pl.p, &e);
	if (rc == 0)
		rc = usable(&pl.p, now, &e);
	if (rc == 0)
		rc = named_steward(a, q, &pl.p, &stewards, &e);
	if (rc == 0)
		rc = st_purpose_scope_parse(pl.p.scope_json,
					    strlen(pl.p.scope_json), &pl.sc,
					    &e);
	if (rc == 0) {
		pl.from_s = since >= 0 ? since : pl.sc.from_s;
		pl.until_s = until >= 0 ? until : pl.sc.until_s;
		rc = check_filters(&pl, &e);
	}
	if (rc == 0)
		rc = st_store_policy_get_current(a->admin_store, &cur, &e);
	if (rc == 0)
		rc = api_each_person(a, person_row, &pl, &e);
	if (rc == 0 && pl.rc < 0)
		rc = pl.rc;
	if (rc == 0) {
		uint8_t ap[8][16];
		size_t n = 0;
		if (st_store_purpose_approvers(a->admin_store, pid, ap, 8, &n,
					       NULL) == 0)
			for (size_t i = 0; i < n && i < 8; i++) {
				struct st_person pp;
				if (st_store_person_get(a->admin_store, ap[i],
							&pp, NULL) == 0)
					json_array_append_new(
						approvers, json_string(pp.name));
			}
	}
	/* Nothing leaves before the audit log says who took whose data
	 * under which purpose: one entry for the export, one per person. */
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		memcpy(x.steward, q->token.person_id, 16);
		x.purpose_id = pid;
		x.created_s = now;
		snprintf(x.out_dir, sizeof x.out_dir, "%s", out_dir);
		rc = st_store_export_add(a->admin_store, &x, &e);
		char xo[ST_STORE_AUDIT_OBJECT_MAX + 1];
		snprintf(xo, sizeof xo, "export:%s", xid);
		if (rc == 0)
			rc = api_audit(a, q, "export.start", xo, pl.p.name, 0,
				       &e);
		start_seq = st_auditlog_size(a->audit);
		for (size_t i = 0; rc == 0 && i < pl.n_pids; i++) {
			char po[ST_STORE_AUDIT_OBJECT_MAX + 1];
			rc = st_store_export_person(a->admin_store, x.id,
						    pl.pids[i], &e);
			char ps[ST_STORE_PSEUDONYM_MAX + 1];
			if (rc == 0)
				rc = st_store_pseudonym(a->admin_store,
							pl.pids[i], true, ps,
							&e);
			snprintf(po, sizeof po, "person:%s", ps);
			if (rc == 0)
				rc = api_audit(a, q, "export.person", po,
					       pl.p.name, 0, &e);
		}
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	/* A checkpoint that covers the entries just written, for the
	 * manifest: anyone can later prove the export was logged. */
	char cp_text[ST_AUDIT_CHECKPOINT_BUF] = "";
	if (rc == 0) {
		struct st_audit_checkpoint cp;
		bool made = false;
		size_t cl = 0;
		rc = st_auditlog_checkpoint(a->audit, a->admin_store, now, true,
					    &made, &cp, &e);
		if (rc == 0)
			rc = st_audit_checkpoint_format(&cp, cp_text,
							sizeof cp_text, &cl,
							&e);
	}
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "export.start", obj, pl.p.name, rc);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(stewards);
		json_decref(approvers);
		st_store_policy_fini(&cur);
		plan_fini(&pl);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	json_t *fields = json_array();
	static const char *const fnames[] = {"pointer", "keys", "text",
					     "titles", "apps"};
	for (int i = 0; i < 5; i++)
		if (pl.sc.fields & (1u << i))
			json_array_append_new(fields, json_string(fnames[i]));
	json_t *purpose = json_pack(
		"{s:I,s:s,s:s,s:o,s:o,s:i,s:o,s:o,s:I,s:I,s:I}", "id",
		(json_int_t)pid, "name", pl.p.name, "description",
		pl.p.description, "approvers", approvers, "stewards", stewards,
		"level", pl.sc.level, "fields", fields, "apps",
		names_json(pl.sc.apps, pl.sc.n_apps), "from",
		(json_int_t)pl.from_s, "until", (json_int_t)pl.until_s,
		"expires_s", (json_int_t)pl.p.expires_s);
	json_t *o = json_pack("{s:s,s:o,s:s,s:O,s:O,s:O,s:O,s:O,s:I,s:s}",
			      "export_id", xid, "purpose", purpose, "policy",
			      cur.json, "policy_hashes", pl.policies,
			      "notice_hashes", pl.notices, "people", pl.people,
			      "devices", pl.devices, "segments", pl.segments,
			      "audit_start_seq", (json_int_t)start_seq,
			      "audit_checkpoint", cp_text);
	st_store_policy_fini(&cur);
	plan_fini(&pl);
	api_log(a, "export %s started: %zu segments", xid,
		json_array_size(json_object_get(o, "segments")));
	api_reply_json(r, 201, o);
}

/* The export (hex id in the query or body) and that it is the caller's
 * own, unfinished, under a purpose still usable (store_mu held). */
static int own_export(struct st_api *a, const struct areq *q, const char *hx,
		      struct st_export *x, struct st_purpose *p,
		      struct st_error *err)
{
	uint8_t id[16];
	if (!hx || st_hex_decode(id, 16, hx) < 0)
		return st_fail(err, ST_E_INVAL,
			       "export: give the export id (32 hex digits)");
	int rc = st_store_export_get(a->admin_store, id, x, err);
	if (rc < 0)
		return rc;
	if (!q->token.has_person || memcmp(x->steward, q->token.person_id, 16))
		return st_fail(err, ST_E_FORBIDDEN,
			       "export %s: not yours", hx);
	if (x->finished)
		return st_fail(err, ST_E_STATE, "export %s: finished", hx);
	rc = st_store_purpose_get(a->admin_store, x->purpose_id, p, err);
	if (rc == 0)
		rc = usable(p, api_now_s(a), err);
	return rc;
}

static void h_export_segment(struct st_api *a, struct st_http_req *r,
			     struct areq *q)
{
	struct st_error e = {0};
	const char *ex = st_http_query(r, "export");
	const char *dv = st_http_query(r, "device");
	const char *sq = st_http_query(r, "seq");
	uint8_t dev[16];
	char *end = NULL;
	unsigned long long seq = sq ? strtoull(sq, &end, 10) : 0;
	if (!dv || st_hex_decode(dev, 16, dv) < 0 || !sq || !*sq || *end ||
	    seq > INT64_MAX) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_INVAL,
			       "query: export=ID&device=ID&seq=N");
		return;
	}
	struct st_export x;
	struct st_purpose *p = calloc(1, sizeof *p);
	struct st_store_segment g;
	memset(&g, 0, sizeof g);
	bool has = false;
	pthread_mutex_lock(&a->store_mu);
	int rc = p ? own_export(a, q, ex, &x, p, &e)
		   : st_fail(&e, ST_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = st_store_segment_get(a->admin_store, dev, seq, &g, &e);
	if (rc == 0)
		rc = st_store_export_has(a->admin_store, x.id, g.person_id,
					 &has, &e);
	if (rc == 0 && !has)
		rc = st_fail(&e, ST_E_SCOPE,
			     "segment %llu: not in this export", seq);
	pthread_mutex_unlock(&a->store_mu);
	free(p);
	if (rc < 0) {
		st_store_segment_fini(&g);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	size_t n = ST_STORE_HEADER_LEN + g.body_len;
	uint8_t *buf = malloc(n);
	if (!buf) {
		st_store_segment_fini(&g);
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOMEM, "out of memory");
		return;
	}
	memcpy(buf, g.header, ST_STORE_HEADER_LEN);
	memcpy(buf + ST_STORE_HEADER_LEN, g.body, g.body_len);
	st_store_segment_fini(&g);
	st_http_reply(r, 200, ST_API_CT_SEGMENT, buf, n);
	free(buf);
}

static void h_export_finish(struct st_api *a, struct st_http_req *r,
			    struct areq *q)
{
	static const char *const keys[] = {"export", "manifest_sha256",
					   "segments_exported",
					   "segments_failed", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	char ex[33];
	uint8_t mh[32];
	int64_t ok_n = 0, bad_n = 0;
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	int rc = api_load_obj(body, len, &j, &e);
	if (rc == 0)
		rc = api_only_keys(j, keys, &e);
	if (rc == 0)
		rc = api_get_str(j, "export", true, 32, 32, ex, sizeof ex, &e);
	if (rc == 0)
		rc = api_get_hex(j, "manifest_sha256", mh, 32, &e);
	if (rc == 0)
		rc = api_get_int(j, "segments_exported", true, 0, INT64_MAX,
				 &ok_n, &e);
	if (rc == 0)
		rc = api_get_int(j, "segments_failed", true, 0, INT64_MAX,
				 &bad_n, &e);
	json_decref(j);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_export x;
	struct st_purpose *p = calloc(1, sizeof *p);
	char mhx[65], obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	api_hex(mh, 32, mhx);
	snprintf(obj, sizeof obj, "export:%s manifest:%s", ex, mhx);
	uint64_t seq = 0;
	pthread_mutex_lock(&a->store_mu);
	rc = p ? own_export(a, q, ex, &x, p, &e)
	       : st_fail(&e, ST_E_NOMEM, "out of memory");
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		rc = st_store_export_finish(a->admin_store, x.id, mh,
					    api_now_s(a), &e);
		if (rc == 0)
			rc = api_audit(a, q, "export.finish", obj, p->name, 0,
				       &e);
		seq = st_auditlog_size(a->audit);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	pthread_mutex_unlock(&a->store_mu);
	free(p);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	api_log(a, "export %s finished: %lld segments, %lld failed", ex,
		(long long)ok_n, (long long)bad_n);
	api_reply_json(r, 200, json_pack("{s:s,s:I}", "export", ex,
					 "audit_seq", (json_int_t)seq));
}

void api_export_handle(struct st_api *a, struct st_http_req *r,
		       struct areq *q)
{
	switch (q->route) {
	case R_EXPORT_START: h_export_start(a, r, q); break;
	case R_EXPORT_SEGMENT: h_export_segment(a, r, q); break;
	case R_EXPORT_FINISH: h_export_finish(a, r, q); break;
	default:
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOT_FOUND,
			       "no such path; see docs/api.md");
		break;
	}
}
