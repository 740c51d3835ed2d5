/* api_access.c - the least-privilege endpoints of docs/api.md: tokens and
 * role grants, purposes and their two-person approval, the audit log (its
 * entries, checkpoints and proofs, and a person's own access history),
 * erasure, the retention sweep, and the master-key rotation's two halves.
 * Who may call each is in api.c's route table; what is checked here is
 * what depends on the object (own data, the two-person rule). */
#include "api_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "access/purpose.h"
#include "access/roles.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/token.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define DAY_S 86400
/* Tokens live at most a year; 90 days unless asked otherwise. */
#define TOKEN_DAYS_DEFAULT 90
#define TOKEN_DAYS_MAX 365
/* Entries one GET /v1/audit/entries answers. */
#define AUDIT_PAGE_MAX 10000u
/* Entries GET /v1/access answers with their proofs. */
#define ACCESS_MAX 1000u
/* People per page of GET /v1/keys/people, and per rotation. */
#define KEYS_PAGE_MAX 1000u
#define ROTATE_MAX 100000u

/* ---- transactions that carry audit entries ---- */

int api_tx_begin(struct st_api *a, struct st_error *err)
{
	return st_store_begin(a->admin_store, err);
}

int api_tx_commit(struct st_api *a, struct st_error *err)
{
	int rc = st_store_commit(a->admin_store, err);
	if (rc < 0)
		st_auditlog_abort(a->audit);
	else
		st_auditlog_commit(a->audit);
	return rc;
}

void api_tx_rollback(struct st_api *a)
{
	if (st_store_in_tx(a->admin_store))
		st_store_rollback(a->admin_store, NULL);
	st_auditlog_abort(a->audit);
}

int api_actor(struct st_api *a, const struct st_token *t,
	      char out[ST_STORE_AUDIT_ACTOR_MAX + 1], struct st_error *err)
{
	if (!t->has_person) {
		snprintf(out, ST_STORE_AUDIT_ACTOR_MAX + 1, "token:%.58s",
			 t->name);
		return 0;
	}
	char p[ST_STORE_PSEUDONYM_MAX + 1];
	int rc = st_store_pseudonym(a->admin_store, t->person_id, true, p,
				    err);
	if (rc < 0)
		return rc;
	snprintf(out, ST_STORE_AUDIT_ACTOR_MAX + 1, "%s", p);
	return 0;
}

int api_audit(struct st_api *a, const struct areq *q, const char *action,
	      const char *object, const char *purpose, int result,
	      struct st_error *err)
{
	struct st_store_audit e;
	memset(&e, 0, sizeof e);
	e.time_s = api_now_s(a);
	snprintf(e.actor, sizeof e.actor, "%s",
		 q->actor[0] ? q->actor : "unknown");
	snprintf(e.role, sizeof e.role, "%.16s",
		 q->token.role[0] ? q->token.role : "none");
	snprintf(e.action, sizeof e.action, "%s", action);
	snprintf(e.object, sizeof e.object, "%s", object ? object : "");
	snprintf(e.purpose, sizeof e.purpose, "%s", purpose ? purpose : "");
	snprintf(e.result, sizeof e.result, "%s",
		 result == 0 ? "ok" : st_err_id(result));
	return st_auditlog_append(a->audit, a->admin_store, &e, err);
}

void api_audit_now(struct st_api *a, const struct areq *q,
		   const char *action, const char *object,
		   const char *purpose, int result)
{
	struct st_error e = {0};
	int rc = api_tx_begin(a, &e);
	if (rc == 0)
		rc = api_audit(a, q, action, object, purpose, result, &e);
	if (rc == 0)
		rc = api_tx_commit(a, &e);
	else
		api_tx_rollback(a);
	if (rc < 0)
		api_log(a, "audit: an entry for %s was not written: %s", action,
			e.msg);
}

/* "person:<pseudonym>" for the audit log (the pseudonym is made when
 * missing: store_mu held, inside or outside a transaction). */
static int person_object(struct st_api *a, const uint8_t id[16],
			 char out[ST_STORE_AUDIT_OBJECT_MAX + 1],
			 struct st_error *err)
{
	char p[ST_STORE_PSEUDONYM_MAX + 1];
	int rc = st_store_pseudonym(a->admin_store, id, true, p, err);
	if (rc == 0)
		snprintf(out, ST_STORE_AUDIT_OBJECT_MAX + 1, "person:%s", p);
	return rc;
}

/* ---- every person, every device: the store's pages in turn ---- */

struct each {
	st_store_person_cb pcb;
	st_store_device_cb dcb;
	void *ctx;
	uint8_t last[16];
	size_t rows;
	bool stopped; /* the callback said stop (a positive answer) */
};

static int each_person_row(void *ctx, const struct st_person *p)
{
	struct each *e = ctx;
	memcpy(e->last, p->id, 16);
	e->rows++;
	int c = e->pcb(e->ctx, p);
	e->stopped = c > 0;
	return c;
}

static int each_device_row(void *ctx, const struct st_device *d)
{
	struct each *e = ctx;
	memcpy(e->last, d->id, 16);
	e->rows++;
	int c = e->dcb(e->ctx, d);
	e->stopped = c > 0;
	return c;
}

int api_each_person(struct st_api *a, st_store_person_cb cb, void *ctx,
		    struct st_error *err)
{
	struct each e = {.pcb = cb, .ctx = ctx};
	int rc = 0;
	for (unsigned pg = 0; rc == 0 && pg < ST_API_LIST_PAGES_MAX; pg++) {
		e.rows = 0;
		rc = st_store_person_list(a->admin_store, pg ? e.last : NULL,
					  ST_STORE_LIST_MAX, each_person_row,
					  &e, err);
		if (e.stopped || e.rows < ST_STORE_LIST_MAX)
			break;
	}
	return rc;
}

int api_each_device(struct st_api *a, st_store_device_cb cb, void *ctx,
		    struct st_error *err)
{
	struct each e = {.dcb = cb, .ctx = ctx};
	int rc = 0;
	for (unsigned pg = 0; rc == 0 && pg < ST_API_LIST_PAGES_MAX; pg++) {
		e.rows = 0;
		rc = st_store_device_list(a->admin_store, pg ? e.last : NULL,
					  ST_STORE_LIST_MAX, each_device_row,
					  &e, err);
		if (e.stopped || e.rows < ST_STORE_LIST_MAX)
			break;
	}
	return rc;
}

/* ---- small helpers ---- */

static int body_obj(struct st_http_req *r, const char *const *keys,
		    json_t **out, struct st_error *err)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	int rc = api_load_obj(body, len, out, err);
	if (rc == 0 && (rc = api_only_keys(*out, keys, err)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int person_named(struct st_api *a, const char *name,
			struct st_person *p, struct st_error *err)
{
	int rc = st_store_person_find(a->admin_store, name, p, err);
	if (rc == ST_E_NOT_FOUND)
		return st_fail(err, ST_E_NOT_FOUND,
			       "person \"%.64s\": not known to this server; "
			       "add them with `sealtrace user add`",
			       name);
	if (rc == 0 && p->erased)
		return st_fail(err, ST_E_ERASED, "person \"%.64s\": erased",
			       name);
	return rc;
}

static int current_policy(struct st_api *a, struct st_policy *pol,
			  struct st_error *err)
{
	struct st_store_policy sp;
	memset(&sp, 0, sizeof sp);
	int rc = st_store_policy_get_current(a->admin_store, &sp, err);
	if (rc == ST_E_NOT_FOUND)
		return st_fail(err, ST_E_PURPOSE,
			       "server: no policy yet; apply one with "
			       "`sealtrace policy apply`");
	if (rc < 0)
		return rc;
	st_policy_init(pol);
	rc = st_policy_parse(sp.json, strlen(sp.json), pol, NULL, err);
	st_store_policy_fini(&sp);
	return rc;
}

static bool query_u64(struct st_http_req *r, const char *key, uint64_t *out,
		      bool *present)
{
	const char *v = st_http_query(r, key);
	*present = v != NULL;
	if (!v)
		return true;
	if (!*v || strlen(v) > 19)
		return false;
	uint64_t x = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x > INT64_MAX)
		return false;
	*out = x;
	return true;
}

static void reply_in(struct st_api *a, struct st_http_req *r, int rc,
		     struct st_error *e)
{
	(void)a;
	api_reply_err(r, ST_API_GENERAL, rc, e);
}

/* ---- tokens ---- */

struct tok_page {
	struct st_api *a;
	json_t *arr;
};

static int token_row(void *ctx, const struct st_token *t)
{
	struct tok_page *pg = ctx;
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b}", "name", t->name,
			      "role", t->role, "created_s",
			      (json_int_t)t->created_s, "expires_s",
			      (json_int_t)t->expires_s, "revoked",
			      t->revoked);
	if (!o)
		return -1;
	if (t->has_person) {
		struct st_person p;
		if (st_store_person_get(pg->a->admin_store, t->person_id, &p,
					NULL) == 0)
			json_object_set_new(o, "person", json_string(p.name));
	}
	json_array_append_new(pg->arr, o);
	return 0;
}

static void h_tokens_list(struct st_api *a, struct st_http_req *r)
{
	struct tok_page pg = {a, json_array()};
	struct st_error e = {0};
	pthread_mutex_lock(&a->store_mu);
	int rc = st_store_token_list(a->admin_store, token_row, &pg, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:o}", "tokens", pg.arr));
}

/* Makes and stores a token for person p (store_mu held, transaction
 * open); text receives the secret, shown once. */
static int token_make(struct st_api *a, const char *name,
		      const struct st_person *p, const char *role,
		      int64_t expires_s, char text[ST_TOKEN_TEXT_MAX],
		      struct st_error *err)
{
	struct st_token t;
	memset(&t, 0, sizeof t);
	randombytes_buf(t.id, sizeof t.id);
	snprintf(t.name, sizeof t.name, "%s", name);
	snprintf(t.role, sizeof t.role, "%s", role);
	t.created_s = api_now_s(a);
	t.expires_s = expires_s;
	t.has_person = true;
	memcpy(t.person_id, p->id, 16);
	int rc = st_admin_token_new(text, t.hash);
	if (rc < 0)
		return st_fail(err, rc, "token: could not make one");
	rc = st_store_token_add(a->admin_store, &t, err);
	if (rc == ST_E_EXISTS)
		return st_fail(err, ST_E_EXISTS,
			       "token \"%s\": the name is taken; choose "
			       "another",
			       name);
	return rc;
}

static void h_tokens_create(struct st_api *a, struct st_http_req *r,
			    struct areq *q)
{
	static const char *const keys[] = {"name", "person", "role",
					   "expires_days", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	char name[ST_STORE_TOKEN_NAME_MAX + 1], person[ST_STORE_NAME_MAX + 1];
	char role_s[ST_STORE_ROLE_MAX + 1];
	int64_t days = TOKEN_DAYS_DEFAULT;
	enum st_role role;
	int rc = body_obj(r, keys, &j, &e);
	if (rc == 0)
		rc = api_get_str(j, "name", true, 1, ST_STORE_TOKEN_NAME_MAX,
				 name, sizeof name, &e);
	if (rc == 0)
		rc = api_get_str(j, "person", true, 1, ST_STORE_NAME_MAX,
				 person, sizeof person, &e);
	if (rc == 0)
		rc = api_get_str(j, "role", true, 1, ST_STORE_ROLE_MAX, role_s,
				 sizeof role_s, &e);
	if (rc == 0)
		rc = api_get_int(j, "expires_days", false, 1, TOKEN_DAYS_MAX,
				 &days, &e);
	json_decref(j);
	if (rc == 0)
		rc = st_role_parse(role_s, &role, &e);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	int64_t now = api_now_s(a);
	int64_t expires = now + days * DAY_S;
	char text[ST_TOKEN_TEXT_MAX] = "";
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "token:%s", name);
	struct st_person p;
	struct st_token_request req;
	memset(&req, 0, sizeof req);
	bool pending = false;
	pthread_mutex_lock(&a->store_mu);
	rc = person_named(a, person, &p, &e);
	if (rc == 0 && q->token.has_person &&
	    !memcmp(q->token.person_id, p.id, 16))
		rc = st_fail(&e, ST_E_TWO_PERSON,
			     "token: you may not grant yourself a role (%s); "
			     "ask another administrator or privacy officer",
			     role_s);
	if (rc == 0)
		rc = api_tx_begin(a, &e);
	if (rc == 0) {
		if (st_role_needs_officer(role)) {
			/* one person asks, another privacy officer decides
			 * (and receives the token): no single officer makes
			 * an officer or a steward alone */
			snprintf(req.token_name, sizeof req.token_name, "%s",
				 name);
			memcpy(req.person_id, p.id, 16);
			snprintf(req.role, sizeof req.role, "%s", role_s);
			req.expires_s = expires;
			snprintf(req.requested_by, sizeof req.requested_by,
				 "%s", q->token.name);
			req.created_s = now;
			rc = st_store_token_request_add(a->admin_store, &req,
							&e);
			pending = true;
		} else {
			rc = token_make(a, name, &p, role_s, expires, text, &e);
		}
	}
	if (rc == 0)
		rc = api_audit(a, q, pending ? "token.request" : "token.create",
			       obj, "", 0, &e);
	if (rc == 0)
		rc = api_tx_commit(a, &e);
	else
		api_tx_rollback(a);
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "token.create", obj, "", rc);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		sodium_memzero(text, sizeof text);
		reply_in(a, r, rc, &e);
		return;
	}
	if (pending) {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "the %s role needs a privacy officer's approval: "
			 "`sealtrace token approve %" PRId64 "`",
			 role_s, req.id);
		api_reply_json(r, 202,
			       json_pack("{s:I,s:s,s:s,s:b,s:s}", "request",
					 (json_int_t)req.id, "name", name,
					 "role", role_s, "pending", 1,
					 "message", msg));
		return;
	}
	api_reply_json(r, 201,
		       json_pack("{s:s,s:s,s:s,s:s,s:I}", "token", text, "name",
				 name, "role", role_s, "person", p.name,
				 "expires_s", (json_int_t)expires));
	sodium_memzero(text, sizeof text);
}

struct find_tok {
	const char *name;
	struct st_token t;
	bool found;
};

static int find_tok_row(void *ctx, const struct st_token *t)
{
	struct find_tok *f = ctx;
	if (!strcmp(t->name, f->name)) {
		f->t = *t;
		f->found = true;
		return 1;
	}
	return 0;
}

static void h_tokens_approve(struct st_api *a, struct st_http_req *r,
			     struct areq *q)
{
	static const char *const keys[] = {"request", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	int64_t id = 0;
	int rc = body_obj(r, keys, &j, &e);
	if (rc == 0)
		rc = api_get_int(j, "request", true, 1, INT64_MAX, &id, &e);
	json_decref(j);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	char text[ST_TOKEN_TEXT_MAX] = "";
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "token-request:%" PRId64, id);
	struct st_token_request req;
	struct st_person p;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_token_request_get(a->admin_store, id, &req, &e);
	if (rc == 0 && req.closed_s)
		rc = st_fail(&e, ST_E_STATE,
			     "token request %" PRId64 ": already decided", id);
	if (rc == 0)
		rc = st_store_person_get(a->admin_store, req.person_id, &p,
					 &e);
	if (rc == 0 && p.erased)
		rc = st_fail(&e, ST_E_ERASED, "token request %" PRId64
			     ": its person was erased", id);
	if (rc == 0 && (!q->token.has_person ||
			!memcmp(q->token.person_id, req.person_id, 16)))
		rc = st_fail(&e, ST_E_TWO_PERSON,
			     "token request %" PRId64 ": you may not approve "
			     "a role for yourself; another privacy officer "
			     "must",
			     id);
	if (rc == 0) {
		struct find_tok f = {.name = req.requested_by};
		int lr = st_store_token_list(a->admin_store, find_tok_row, &f,
					     NULL);
		(void)lr;
		if (f.found && f.t.has_person &&
		    !memcmp(f.t.person_id, q->token.person_id, 16))
			rc = st_fail(&e, ST_E_TWO_PERSON,
				     "token request %" PRId64 ": you asked "
				     "for it, so another privacy officer "
				     "must approve it",
				     id);
	}
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		rc = st_store_token_request_close(a->admin_store, id,
						  api_now_s(a), &e);
		if (rc == 0)
			rc = token_make(a, req.token_name, &p, req.role,
					req.expires_s, text, &e);
		if (rc == 0)
			rc = api_audit(a, q, "token.approve", obj, "", 0, &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	if (rc < 0)
		api_audit_now(a, q, "token.approve", obj, "", rc);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		sodium_memzero(text, sizeof text);
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 201,
		       json_pack("{s:s,s:s,s:s,s:s,s:I}", "token", text, "name",
				 req.token_name, "role", req.role, "person",
				 p.name, "expires_s",
				 (json_int_t)req.expires_s));
	sodium_memzero(text, sizeof text);
}

static void h_tokens_revoke(struct st_api *a, struct st_http_req *r,
			    struct areq *q)
{
	static const char *const keys[] = {"name", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	char name[ST_STORE_TOKEN_NAME_MAX + 1];
	int rc = body_obj(r, keys, &j, &e);
	if (rc == 0)
		rc = api_get_str(j, "name", true, 1, ST_STORE_TOKEN_NAME_MAX,
				 name, sizeof name, &e);
	json_decref(j);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "token:%s", name);
	pthread_mutex_lock(&a->store_mu);
	rc = api_tx_begin(a, &e);
	if (rc == 0) {
		rc = st_store_token_revoke(a->admin_store, name, &e);
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "token \"%s\": no such token; see "
				"`sealtrace token list`", name);
		if (rc == 0)
			rc = api_audit(a, q, "token.revoke", obj, "", 0, &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:s,s:b}", "name", name, "revoked",
					 1));
}

/* ---- purposes ---- */

static const char *state_name(const struct st_purpose *p, int64_t now)
{
	if (p->state == ST_PURPOSE_REVOKED)
		return "revoked";
	if (now >= p->expires_s)
		return "expired";
	return p->state == ST_PURPOSE_APPROVED ? "approved" : "proposed";
}

/* Person ids of names (store_mu held). */
static int ids_of(struct st_api *a, char names[][ST_PURPOSE_NAME_LEN + 1],
		  size_t n, uint8_t (*ids)[16], struct st_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct st_person p;
		int rc = person_named(a, names[i], &p, err);
		if (rc < 0)
			return rc;
		memcpy(ids[i], p.id, 16);
	}
	return 0;
}

struct purpose_people {
	struct st_api *a;
	const struct st_purpose_scope *sc;
	const char *purpose;
	struct st_error *err;
	int rc;
};

/* Whether a notice the person accepted lists the purpose. */
static int notices_list(struct st_api *a, const uint8_t person[16],
			const char *purpose, bool *listed,
			struct st_error *err)
{
	uint8_t nh[64][32];
	size_t n = 0;
	*listed = false;
	int rc = st_store_person_notices(a->admin_store, person, nh, 64, &n,
					 err);
	for (size_t i = 0; rc == 0 && i < n && !*listed; i++) {
		struct st_store_policy sp;
		memset(&sp, 0, sizeof sp);
		rc = st_store_policy_get_by_notice(a->admin_store, nh[i], &sp,
						   err);
		if (rc < 0)
			break;
		struct st_policy pol;
		st_policy_init(&pol);
		if (st_policy_parse(sp.json, strlen(sp.json), &pol, NULL,
				    NULL) == 0)
			for (size_t k = 0; k < pol.n_purposes; k++)
				*listed = *listed ||
					  !strcmp(pol.purposes[k].name, purpose);
		st_policy_fini(&pol);
		st_store_policy_fini(&sp);
	}
	return rc;
}

static int scope_person_row(void *ctx, const struct st_person *p)
{
	struct purpose_people *c = ctx;
	bool in = false;
	for (size_t i = 0; i < c->sc->n_people && !in; i++)
		in = !strcmp(c->sc->people[i], p->name);
	for (size_t i = 0; i < c->sc->n_groups && !in; i++)
		in = p->group[0] && !strcmp(c->sc->groups[i], p->group);
	if (!in || p->erased)
		return 0;
	bool listed = false;
	int rc = notices_list(c->a, p->id, c->purpose, &listed, c->err);
	if (rc < 0) {
		c->rc = rc;
		return 1;
	}
	/* A person with no acceptance has nothing recorded to read. */
	uint8_t nh[1][32];
	size_t n = 0;
	st_store_person_notices(c->a->admin_store, p->id, nh, 1, &n, NULL);
	if (n > 0 && !listed) {
		c->rc = st_fail(c->err, ST_E_PURPOSE,
				"scope: a person in it (\"%.64s\") accepted no "
				"notice that lists \"%s\"; they must accept "
				"a policy that does first",
				p->name, c->purpose);
		return 1;
	}
	return 0;
}

static void h_purpose_propose(struct st_api *a, struct st_http_req *r,
			      struct areq *q)
{
	struct st_error e = {0};
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_purpose_req pr;
	int rc = st_purpose_parse((const char *)body, len, &pr, &e);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	struct st_policy pol;
	bool have_pol = false;
	struct st_purpose *sp = calloc(1, sizeof *sp);
	char *scope = st_purpose_scope_json(&pr.scope);
	char *stew = st_purpose_stewards_json(&pr);
	uint8_t ids[ST_PURPOSE_STEWARDS_MAX][16];
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1] = "purpose:new";
	pthread_mutex_lock(&a->store_mu);
	if (!sp || !scope || !stew)
		rc = st_fail(&e, ST_E_NOMEM, "purpose: out of memory");
	if (rc == 0 && !q->token.has_person)
		rc = st_fail(&e, ST_E_FORBIDDEN,
			     "purpose: your token is bound to no person");
	if (rc == 0 && (rc = current_policy(a, &pol, &e)) == 0)
		have_pol = true;
	if (rc == 0)
		rc = st_purpose_check(&pr, &pol, &e);
	if (rc == 0)
		rc = ids_of(a, pr.stewards, pr.n_stewards, ids, &e);
	for (size_t i = 0; rc == 0 && i < pr.scope.n_people; i++) {
		struct st_person p;
		rc = person_named(a, pr.scope.people[i], &p, &e);
	}
	if (rc == 0) {
		struct purpose_people c = {a, &pr.scope, pr.name, &e, 0};
		rc = api_each_person(a, scope_person_row, &c, &e);
		if (c.rc < 0)
			rc = c.rc;
	}
	if (rc == 0) {
		snprintf(sp->name, sizeof sp->name, "%s", pr.name);
		snprintf(sp->description, sizeof sp->description, "%s",
			 pr.description);
		snprintf(sp->scope_json, sizeof sp->scope_json, "%s", scope);
		snprintf(sp->stewards_json, sizeof sp->stewards_json, "%s",
			 stew);
		memcpy(sp->proposer, q->token.person_id, 16);
		sp->created_s = api_now_s(a);
		sp->expires_s = sp->created_s +
				(int64_t)pr.expires_days * DAY_S;
		if (strlen(scope) > ST_STORE_PURPOSE_JSON_MAX ||
		    strlen(stew) > ST_STORE_PURPOSE_JSON_MAX)
			rc = st_fail(&e, ST_E_CAP, "purpose: scope too long");
	}
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		rc = st_store_purpose_add(a->admin_store, sp, &e);
		if (rc == 0) {
			snprintf(obj, sizeof obj, "purpose:%" PRId64, sp->id);
			rc = api_audit(a, q, "purpose.propose", obj, pr.name,
				       0, &e);
		}
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "purpose.propose", obj, pr.name, rc);
	pthread_mutex_unlock(&a->store_mu);
	if (have_pol)
		st_policy_fini(&pol);
	free(scope);
	free(stew);
	st_purpose_req_fini(&pr);
	if (rc < 0) {
		free(sp);
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 201,
		       json_pack("{s:I,s:s,s:s,s:I,s:i}", "id",
				 (json_int_t)sp->id, "name", sp->name, "state",
				 "proposed", "expires_s",
				 (json_int_t)sp->expires_s, "approvals_needed",
				 ST_PURPOSE_APPROVALS));
	free(sp);
}

static int purpose_id_of(struct st_http_req *r, int64_t *id,
			 struct st_error *err)
{
	static const char *const keys[] = {"id", NULL};
	json_t *j = NULL;
	int rc = body_obj(r, keys, &j, err);
	if (rc == 0)
		rc = api_get_int(j, "id", true, 1, INT64_MAX, id, err);
	json_decref(j);
	return rc;
}

static void h_purpose_approve(struct st_api *a, struct st_http_req *r,
			      struct areq *q)
{
	struct st_error e = {0};
	int64_t id = 0;
	int rc = purpose_id_of(r, &id, &e);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "purpose:%" PRId64, id);
	struct st_purpose *p = calloc(1, sizeof *p);
	char names[ST_PURPOSE_STEWARDS_MAX][ST_PURPOSE_NAME_LEN + 1];
	uint8_t stew[ST_PURPOSE_STEWARDS_MAX][16];
	uint8_t appr[8][16];
	size_t n_stew = 0, n_appr = 0, count = 0;
	int64_t now = api_now_s(a);
	pthread_mutex_lock(&a->store_mu);
	if (!p)
		rc = st_fail(&e, ST_E_NOMEM, "purpose: out of memory");
	if (rc == 0)
		rc = st_store_purpose_get(a->admin_store, id, p, &e);
	if (rc == 0 && p->state == ST_PURPOSE_REVOKED)
		rc = st_fail(&e, ST_E_PURPOSE, "purpose %" PRId64
			     ": revoked; propose a new one", id);
	if (rc == 0 && now >= p->expires_s)
		rc = st_fail(&e, ST_E_PURPOSE, "purpose %" PRId64
			     ": expired; propose a new one", id);
	if (rc == 0 && p->state == ST_PURPOSE_APPROVED)
		rc = st_fail(&e, ST_E_STATE, "purpose %" PRId64
			     ": approved already", id);
	if (rc == 0 && !q->token.has_person)
		rc = st_fail(&e, ST_E_FORBIDDEN,
			     "purpose: your token is bound to no person");
	if (rc == 0)
		rc = st_purpose_stewards_parse(p->stewards_json, names,
					       ST_PURPOSE_STEWARDS_MAX,
					       &n_stew, &e);
	for (size_t i = 0; rc == 0 && i < n_stew; i++) {
		struct st_person sp;
		int fr = st_store_person_find(a->admin_store, names[i], &sp,
					      NULL);
		if (fr == 0)
			memcpy(stew[i], sp.id, 16);
		else
			memset(stew[i], 0, 16);
	}
	if (rc == 0)
		rc = st_store_purpose_approvers(a->admin_store, id, appr, 8,
						&n_appr, &e);
	if (rc == 0)
		rc = st_purpose_may_approve(
			q->token.person_id, p->proposer,
			(const uint8_t(*)[16])stew, n_stew,
			(const uint8_t(*)[16])appr, n_appr < 8 ? n_appr : 8,
			&e);
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		rc = st_store_purpose_approve(a->admin_store, id,
					      q->token.person_id, now, &count,
					      &e);
		if (rc == 0 && count >= ST_PURPOSE_APPROVALS)
			rc = st_store_purpose_set_state(a->admin_store, id,
							ST_PURPOSE_APPROVED,
							now, &e);
		if (rc == 0)
			rc = api_audit(a, q, "purpose.approve", obj, p->name, 0,
				       &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "purpose.approve", obj, p ? p->name : "",
			      rc);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		free(p);
		reply_in(a, r, rc, &e);
		return;
	}
	bool done = count >= ST_PURPOSE_APPROVALS;
	api_reply_json(r, 200,
		       json_pack("{s:I,s:s,s:I,s:s}", "id", (json_int_t)id,
				 "state", done ? "approved" : "proposed",
				 "approvals", (json_int_t)count, "message",
				 done ? "usable by its stewards "
					"until it expires"
				      : "one more privacy officer must "
					"approve it"));
	free(p);
}

static void h_purpose_revoke(struct st_api *a, struct st_http_req *r,
			     struct areq *q)
{
	struct st_error e = {0};
	int64_t id = 0;
	int rc = purpose_id_of(r, &id, &e);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	snprintf(obj, sizeof obj, "purpose:%" PRId64, id);
	pthread_mutex_lock(&a->store_mu);
	rc = api_tx_begin(a, &e);
	if (rc == 0) {
		rc = st_store_purpose_set_state(a->admin_store, id,
						ST_PURPOSE_REVOKED,
						api_now_s(a), &e);
		if (rc == 0)
			rc = api_audit(a, q, "purpose.revoke", obj, "", 0, &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id,
					 "state", "revoked"));
}

struct purpose_page {
	struct st_api *a;
	json_t *arr;
	int64_t now;
};

static int purpose_row(void *ctx, const struct st_purpose *p)
{
	struct purpose_page *pg = ctx;
	uint8_t appr[8][16];
	size_t n = 0;
	json_t *ap = json_array();
	if (st_store_purpose_approvers(pg->a->admin_store, p->id, appr, 8, &n,
				       NULL) == 0)
		for (size_t i = 0; i < n && i < 8; i++) {
			struct st_person pp;
			if (st_store_person_get(pg->a->admin_store, appr[i],
						&pp, NULL) == 0)
				json_array_append_new(ap,
						      json_string(pp.name));
		}
	struct st_person prop;
	const char *proposer = "";
	if (st_store_person_get(pg->a->admin_store, p->proposer, &prop,
				NULL) == 0)
		proposer = prop.name;
	json_t *sc = json_loads(p->scope_json, 0, NULL);
	json_t *st = json_loads(p->stewards_json, 0, NULL);
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:I,s:I}",
			      "id", (json_int_t)p->id, "name", p->name,
			      "description", p->description, "state",
			      state_name(p, pg->now), "scope",
			      sc ? sc : json_null(), "stewards",
			      st ? st : json_null(), "proposer", proposer,
			      "approvers", ap, "created_s",
			      (json_int_t)p->created_s, "expires_s",
			      (json_int_t)p->expires_s);
	if (!o)
		return -1;
	json_array_append_new(pg->arr, o);
	return 0;
}

static void h_purpose_list(struct st_api *a, struct st_http_req *r)
{
	struct purpose_page pg = {a, json_array(), api_now_s(a)};
	struct st_error e = {0};
	pthread_mutex_lock(&a->store_mu);
	int rc = st_store_purpose_list(a->admin_store, purpose_row, &pg, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:o}", "purposes", pg.arr));
}

/* ---- the audit log ---- */

static json_t *entry_json(const struct st_store_audit *x)
{
	char prev[65], hash[65];
	api_hex(x->prev, 32, prev);
	api_hex(x->hash, 32, hash);
	return json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
			 (json_int_t)x->seq, "time_s", (json_int_t)x->time_s,
			 "actor", x->actor, "role", x->role, "action",
			 x->action, "object", x->object, "purpose",
			 x->purpose, "result", x->result, "prev", prev,
			 "hash", hash);
}

struct entry_page {
	json_t *arr;
	uint64_t last;
	size_t n;
};

static int entry_row(void *ctx, const struct st_store_audit *x)
{
	struct entry_page *pg = ctx;
	json_t *o = entry_json(x);
	if (!o)
		return -1;
	json_array_append_new(pg->arr, o);
	pg->last = x->seq;
	pg->n++;
	return 0;
}

/* The object that names a person in the log ("person:p-..."), for ?user=
 * (store_mu held). ST_E_NOT_FOUND when the person has no pseudonym: then
 * nothing about them is in the log (or they were erased). */
static int user_object(struct st_api *a, const char *user,
		       char obj[ST_STORE_AUDIT_OBJECT_MAX + 1],
		       uint8_t id[16], struct st_error *err)
{
	struct st_person p;
	int rc = st_store_person_find(a->admin_store, user, &p, err);
	if (rc == ST_E_NOT_FOUND)
		return st_fail(err, rc, "person \"%.64s\": not known to this "
			       "server", user);
	if (rc < 0)
		return rc;
	if (id)
		memcpy(id, p.id, 16);
	char ps[ST_STORE_PSEUDONYM_MAX + 1];
	obj[0] = 0;
	rc = st_store_pseudonym(a->admin_store, p.id, false, ps, err);
	if (rc == ST_E_NOT_FOUND)
		return 0; /* never in the log */
	if (rc == 0)
		snprintf(obj, ST_STORE_AUDIT_OBJECT_MAX + 1, "person:%s", ps);
	return rc;
}

static void h_audit_entries(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	uint64_t after = 0, limit = 1000;
	bool has;
	if (!query_u64(r, "after", &after, &has) ||
	    !query_u64(r, "limit", &limit, &has) || limit < 1 ||
	    limit > AUDIT_PAGE_MAX) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_INVAL,
			       "query: after must be a number, limit 1 to %u",
			       AUDIT_PAGE_MAX);
		return;
	}
	const char *user = st_http_query(r, "user");
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1] = "";
	struct entry_page pg = {json_array(), after, 0};
	int rc = 0;
	pthread_mutex_lock(&a->store_mu);
	if (user && user[0]) {
		rc = user_object(a, user, obj, NULL, &e);
		if (rc == 0 && !obj[0])
			limit = 0; /* no pseudonym: nothing in the log */
	}
	if (rc == 0 && limit > 0)
		rc = st_store_audit_list(a->admin_store, after, limit,
					 obj[0] ? obj : NULL, entry_row, &pg,
					 &e);
	uint64_t size = st_auditlog_size(a->audit);
	uint64_t broken = st_auditlog_broken_at(a->audit);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		reply_in(a, r, rc, &e);
		return;
	}
	json_t *o = json_pack("{s:o,s:I,s:o}", "entries", pg.arr, "size",
			      (json_int_t)size, "next",
			      pg.n == limit ? json_integer((json_int_t)pg.last)
					    : json_null());
	if (o && broken)
		json_object_set_new(o, "server_saw_break_at",
				    json_integer((json_int_t)broken));
	if (o)
		json_object_set_new(o, "public_key",
				    api_j_hex(st_auditlog_public(a->audit), 32));
	api_reply_json(r, 200, o);
}

static json_t *checkpoint_json(struct st_api *a,
			       const struct st_audit_checkpoint *cp)
{
	char text[ST_AUDIT_CHECKPOINT_BUF];
	size_t len = 0;
	if (st_audit_checkpoint_format(cp, text, sizeof text, &len, NULL) < 0)
		return NULL;
	char root[65], pk[65];
	api_hex(cp->root, 32, root);
	api_hex(st_auditlog_public(a->audit), 32, pk);
	return json_pack("{s:s,s:I,s:s,s:I,s:s}", "checkpoint", text, "size",
			 (json_int_t)cp->size, "root", root, "time_s",
			 (json_int_t)cp->time_s, "public_key", pk);
}

static void h_audit_checkpoint(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	struct st_audit_checkpoint cp;
	bool made = false;
	pthread_mutex_lock(&a->store_mu);
	int rc = st_auditlog_checkpoint(a->audit, a->admin_store, api_now_s(a),
					true, &made, &cp, &e);
	if (rc == ST_E_NOT_FOUND)
		rc = st_fail(&e, rc, "audit log: empty, so no checkpoint yet");
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, checkpoint_json(a, &cp));
}

static void h_audit_proof(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	const char *kind = st_http_query(r, "kind");
	uint64_t x = 0, y = 0;
	bool hx = false, hy = false;
	struct st_audit_proof pf;
	int rc;
	bool incl = kind && !strcmp(kind, "inclusion");
	bool cons = kind && !strcmp(kind, "consistency");
	if ((!incl && !cons) ||
	    !query_u64(r, incl ? "seq" : "size1", &x, &hx) ||
	    !query_u64(r, incl ? "size" : "size2", &y, &hy) || !hx || !hy) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_INVAL,
			       "query: kind=inclusion&seq=N&size=M or "
			       "kind=consistency&size1=M&size2=N");
		return;
	}
	pthread_mutex_lock(&a->store_mu);
	rc = incl ? st_auditlog_inclusion(a->audit, x, y, &pf, &e)
		  : st_auditlog_consistency(a->audit, x, y, &pf, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, st_audit_proof_json(&pf));
}

struct access_page {
	struct st_api *a;
	json_t *arr;
	uint64_t size;
	int rc;
	struct st_error *err;
	size_t n;
};

static int access_row(void *ctx, const struct st_store_audit *x)
{
	struct access_page *pg = ctx;
	if (pg->n >= ACCESS_MAX || x->seq > pg->size)
		return 1;
	struct st_audit_proof pf;
	int rc = st_auditlog_inclusion(pg->a->audit, x->seq, pg->size, &pf,
				       pg->err);
	if (rc < 0) {
		pg->rc = rc;
		return 1;
	}
	json_t *o = entry_json(x);
	json_t *p = st_audit_proof_json(&pf);
	if (!o || !p) {
		json_decref(o);
		json_decref(p);
		return -1;
	}
	json_object_set_new(o, "proof", p);
	json_array_append_new(pg->arr, o);
	pg->n++;
	return 0;
}

/* Who accessed a person's data, under which purpose, each entry with its
 * inclusion proof in the checkpoint that comes with the answer. A person
 * reads only their own; officers and auditors anyone's. */
static void h_access(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	struct st_error e = {0};
	const char *user = st_http_query(r, "user");
	enum st_role role;
	st_role_parse(q->token.role, &role, NULL);
	struct st_person me;
	int rc = 0;
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1] = "";
	struct access_page pg = {a, json_array(), 0, 0, &e, 0};
	struct st_audit_checkpoint cp;
	bool made, have_cp = false;
	pthread_mutex_lock(&a->store_mu);
	if (role == ST_ROLE_PERSON) {
		if (!q->token.has_person)
			rc = st_fail(&e, ST_E_FORBIDDEN,
				     "access: your token is bound to no "
				     "person");
		if (rc == 0)
			rc = st_store_person_get(a->admin_store,
						 q->token.person_id, &me, &e);
		if (rc == 0 && user && user[0] && strcmp(user, me.name) != 0)
			rc = st_fail(&e, ST_E_FORBIDDEN,
				     "access: a person may read only their "
				     "own access history");
		if (rc == 0)
			user = me.name;
	} else if (!user || !user[0]) {
		rc = st_fail(&e, ST_E_INVAL, "query: user=NAME is required");
	}
	if (rc < 0)
		api_audit_now(a, q, "access.read", "", "", rc);
	if (rc == 0) {
		rc = user_object(a, user, obj, NULL, &e);
	}
	if (rc == 0) {
		rc = st_auditlog_checkpoint(a->audit, a->admin_store,
					    api_now_s(a), true, &made, &cp,
					    &e);
		if (rc == 0)
			have_cp = true;
		else if (rc == ST_E_NOT_FOUND)
			rc = 0;
	}
	if (rc == 0 && obj[0] && have_cp) {
		pg.size = cp.size;
		rc = st_store_audit_list(a->admin_store, 0, ST_STORE_LIST_MAX,
					 obj, access_row, &pg, &e);
		if (pg.rc < 0)
			rc = pg.rc;
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		reply_in(a, r, rc, &e);
		return;
	}
	json_t *o = json_pack("{s:s,s:o}", "user", user, "entries", pg.arr);
	if (o && have_cp)
		json_object_set_new(o, "checkpoint", checkpoint_json(a, &cp));
	api_reply_json(r, 200, o);
}

/* ---- erasure and retention ---- */

struct dev_of {
	uint8_t person[16];
	uint8_t (*ids)[16];
	size_t n, cap;
};

static int dev_of_row(void *ctx, const struct st_device *d)
{
	struct dev_of *c = ctx;
	if (memcmp(d->person_id, c->person, 16) != 0 || !d->active)
		return 0;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->ids, nc * 16);
		if (!p)
			return -1;
		c->ids = p;
		c->cap = nc;
	}
	memcpy(c->ids[c->n++], d->id, 16);
	return 0;
}

static void h_erase(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	static const char *const keys[] = {"user", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	char user[ST_STORE_NAME_MAX + 1];
	int rc = body_obj(r, keys, &j, &e);
	if (rc == 0)
		rc = api_get_str(j, "user", true, 1, ST_STORE_NAME_MAX, user,
				 sizeof user, &e);
	json_decref(j);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	struct st_person p;
	struct st_erase_result res;
	memset(&res, 0, sizeof res);
	struct dev_of devs;
	memset(&devs, 0, sizeof devs);
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1] = "person:unknown";
	uint8_t ex_ids[64][16];
	int64_t ex_made[64];
	size_t n_ex = 0;
	int key_days = 7;
	pthread_mutex_lock(&a->store_mu);
	rc = person_named(a, user, &p, &e);
	if (rc == 0)
		rc = person_object(a, p.id, obj, &e);
	if (rc == 0) {
		memcpy(devs.person, p.id, 16);
		rc = api_each_device(a, dev_of_row, &devs, &e);
	}
	if (rc == 0)
		rc = st_store_person_exports(a->admin_store, p.id, ex_ids,
					     ex_made, 64, &n_ex, &e);
	struct st_policy pol;
	if (rc == 0 && current_policy(a, &pol, NULL) == 0) {
		key_days = pol.key_backup_days;
		st_policy_fini(&pol);
	}
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		rc = st_store_person_erase(a->admin_store, p.id, api_now_s(a),
					   q->actor, &res, &e);
		if (rc == 0)
			rc = api_audit(a, q, "erase", obj, "", 0, &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	/* The sealed secret's pages leave the write-ahead log now, so that
	 * neither file holds it (secure_delete zeroed the freed page). */
	if (rc == 0 && st_store_checkpoint(a->admin_store, &e) < 0)
		api_log(a, "erase: WAL checkpoint failed: %s", e.msg);
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "erase", obj, "", rc);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		free(devs.ids);
		reply_in(a, r, rc, &e);
		return;
	}
	for (size_t i = 0; i < devs.n; i++)
		api_device_revoked(a, devs.ids[i]);
	free(devs.ids);
	json_t *ex = json_array();
	for (size_t i = 0; i < n_ex && i < 64; i++) {
		char h[33];
		api_hex(ex_ids[i], 16, h);
		json_array_append_new(ex, json_pack("{s:s,s:I}", "id", h,
						    "made_s",
						    (json_int_t)ex_made[i]));
	}
	int64_t until = api_now_s(a) + (int64_t)key_days * DAY_S;
	api_log(a, "erase: a person was erased (%llu devices revoked, %llu "
		"segments deleted)",
		(unsigned long long)res.devices_revoked,
		(unsigned long long)res.segments_deleted);
	api_reply_json(
		r, 200,
		json_pack("{s:s,s:b,s:I,s:I,s:I,s:o,s:I}", "user", user,
			  "erased", 1, "devices_revoked",
			  (json_int_t)res.devices_revoked, "segments_deleted",
			  (json_int_t)res.segments_deleted, "tokens_revoked",
			  (json_int_t)res.tokens_revoked, "exports", ex,
			  "key_backups_gone_by_s", (json_int_t)until));
}

/* Deletes what is past the policy's retention (store_mu held). */
static int sweep(struct st_api *a, const struct areq *q, uint64_t *deleted,
		 struct st_error *err)
{
	struct st_policy pol;
	*deleted = 0;
	int rc = current_policy(a, &pol, err);
	if (rc == ST_E_PURPOSE)
		return 0; /* no policy: nothing was ever accepted */
	if (rc < 0)
		return rc;
	int64_t days = pol.retention_days;
	st_policy_fini(&pol);
	int64_t before_min = api_now_s(a) / 60 - days * 1440;
	if ((rc = api_tx_begin(a, err)) < 0)
		return rc;
	rc = st_store_segment_sweep(a->admin_store, before_min, deleted, err);
	char obj[64];
	snprintf(obj, sizeof obj, "segments:%llu",
		 (unsigned long long)*deleted);
	if (rc == 0 && (*deleted > 0 || q->token.name[0]))
		rc = api_audit(a, q, "retention.sweep", obj, "", 0, err);
	if (rc == 0)
		rc = api_tx_commit(a, err);
	else
		api_tx_rollback(a);
	a->last_sweep_s = api_now_s(a);
	return rc;
}

static void h_sweep(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	struct st_error e = {0};
	uint64_t n = 0;
	pthread_mutex_lock(&a->store_mu);
	int rc = sweep(a, q, &n, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)n));
}

/* ---- master key rotation (the export host does the sealing) ---- */

struct key_page {
	json_t *arr;
	uint8_t last[16];
	size_t rows, listed;
};

static int key_row(void *ctx, const struct st_person *p)
{
	struct key_page *pg = ctx;
	memcpy(pg->last, p->id, 16);
	pg->rows++;
	if (p->erased)
		return 0;
	char id[33], pk[65];
	api_hex(p->id, 16, id);
	api_hex(p->public_key, 32, pk);
	json_t *o = json_pack("{s:s,s:s,s:o}", "id", id, "public_key", pk,
			      "sealed_secret",
			      api_j_b64(p->sealed_secret,
					ST_STORE_SEALED_SK_LEN));
	if (!o)
		return -1;
	json_array_append_new(pg->arr, o);
	pg->listed++;
	return 0;
}

static void h_keys_people(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	const char *after = st_http_query(r, "after");
	uint8_t aid[16];
	if (after && st_hex_decode(aid, 16, after) < 0) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_INVAL,
			       "query: after must be 32 hex digits");
		return;
	}
	struct key_page pg = {.arr = json_array()};
	pthread_mutex_lock(&a->store_mu);
	int rc = st_store_person_list(a->admin_store, after ? aid : NULL,
				      KEYS_PAGE_MAX, key_row, &pg, &e);
	char mpk[65];
	api_hex(a->master_pk, 32, mpk);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		reply_in(a, r, rc, &e);
		return;
	}
	char next[33];
	api_hex(pg.last, 16, next);
	api_reply_json(r, 200,
		       json_pack("{s:s,s:o,s:o}", "master_public", mpk,
				 "people", pg.arr, "next",
				 pg.rows == KEYS_PAGE_MAX ? json_string(next)
							  : json_null()));
}

static int count_live_row(void *ctx, const struct st_person *p)
{
	size_t *n = ctx;
	if (!p->erased)
		(*n)++;
	return 0;
}

static int cmp_id(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

static void h_keys_rotate(struct st_api *a, struct st_http_req *r,
			  struct areq *q)
{
	static const char *const keys[] = {"old_master_public",
					   "new_master_public", "people", NULL};
	struct st_error e = {0};
	json_t *j = NULL;
	uint8_t old_pk[32], new_pk[32];
	int rc = body_obj(r, keys, &j, &e);
	if (rc == 0)
		rc = api_get_hex(j, "old_master_public", old_pk, 32, &e);
	if (rc == 0)
		rc = api_get_hex(j, "new_master_public", new_pk, 32, &e);
	json_t *arr = j ? json_object_get(j, "people") : NULL;
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (rc == 0 && (!json_is_array(arr) || n > ROTATE_MAX))
		rc = st_fail(&e, ST_E_JSON,
			     "request body: \"people\" must be an array of at "
			     "most %u",
			     ROTATE_MAX);
	uint8_t(*ids)[16] = rc == 0 ? calloc(n ? n : 1, 16) : NULL;
	uint8_t(*sealed)[ST_STORE_SEALED_SK_LEN] =
		rc == 0 ? calloc(n ? n : 1, ST_STORE_SEALED_SK_LEN) : NULL;
	if (rc == 0 && (!ids || !sealed))
		rc = st_fail(&e, ST_E_NOMEM, "rotate: out of memory");
	static const char *const pkeys[] = {"id", "sealed_secret", NULL};
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *o = json_array_get(arr, i);
		if (!json_is_object(o)) {
			rc = st_fail(&e, ST_E_JSON, "people[%zu]: not an "
				     "object", i);
			break;
		}
		if ((rc = api_only_keys(o, pkeys, &e)) < 0 ||
		    (rc = api_get_hex(o, "id", ids[i], 16, &e)) < 0 ||
		    (rc = api_get_b64(o, "sealed_secret", sealed[i],
				      ST_STORE_SEALED_SK_LEN, &e)) < 0)
			st_error_prefix(&e, "people[%zu]: ", i);
	}
	json_decref(j);
	if (rc == 0 && n > 1) {
		/* sort a copy of the ids to find repeats */
		uint8_t(*s)[16] = malloc(n * 16);
		if (!s) {
			rc = st_fail(&e, ST_E_NOMEM, "rotate: out of memory");
		} else {
			memcpy(s, ids, n * 16);
			qsort(s, n, 16, cmp_id);
			for (size_t i = 1; rc == 0 && i < n; i++)
				if (!memcmp(s[i - 1], s[i], 16))
					rc = st_fail(&e, ST_E_INVAL,
						     "people: a person is "
						     "listed twice");
			free(s);
		}
	}
	if (rc < 0) {
		free(ids);
		free(sealed);
		reply_in(a, r, rc, &e);
		return;
	}
	char obj[ST_STORE_AUDIT_OBJECT_MAX + 1];
	char nh[17];
	api_hex(new_pk, 8, nh);
	snprintf(obj, sizeof obj, "master:%s", nh);
	pthread_mutex_lock(&a->store_mu);
	if (sodium_memcmp(old_pk, a->master_pk, 32) != 0)
		rc = st_fail(&e, ST_E_CONFLICT,
			     "rotate: old_master_public is not this server's "
			     "master key; fetch /v1/keys/people again");
	size_t live = 0;
	if (rc == 0)
		rc = api_each_person(a, count_live_row, &live, &e);
	if (rc == 0 && live != n)
		rc = st_fail(&e, ST_E_CONFLICT,
			     "rotate: %zu people sent, the server holds %zu "
			     "not erased; every one must be resealed at once",
			     n, live);
	if (rc == 0 && (rc = api_tx_begin(a, &e)) == 0) {
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = st_store_person_reseal(a->admin_store, ids[i],
						    sealed[i], &e);
			if (rc == ST_E_NOT_FOUND)
				rc = st_fail(&e, ST_E_CONFLICT,
					     "rotate: people[%zu] is not a "
					     "person here, or was erased",
					     i);
		}
		if (rc == 0)
			rc = st_store_setting_put(a->admin_store,
						  "master_public", new_pk, 32,
						  &e);
		if (rc == 0)
			rc = api_audit(a, q, "keys.rotate", obj, "", 0, &e);
		if (rc == 0)
			rc = api_tx_commit(a, &e);
		else
			api_tx_rollback(a);
	}
	if (rc == 0)
		memcpy(a->master_pk, new_pk, 32);
	if (rc < 0 && rc != ST_E_NOMEM)
		api_audit_now(a, q, "keys.rotate", obj, "", rc);
	pthread_mutex_unlock(&a->store_mu);
	free(ids);
	free(sealed);
	if (rc < 0) {
		reply_in(a, r, rc, &e);
		return;
	}
	api_log(a, "keys: %zu people resealed to a new master key", n);
	api_reply_json(r, 200, json_pack("{s:I}", "rotated", (json_int_t)n));
}

/* ---- life ---- */

int api_access_start(struct st_api *a, struct st_error *err)
{
	/* The stored policy is checked again: a store edited behind the
	 * server's back (the incident this refusal exists for) must not
	 * start a server that grants content broadly, nor one whose policy
	 * is not the one its hash names. */
	struct st_store_policy sp;
	memset(&sp, 0, sizeof sp);
	int prc = st_store_policy_get_current(a->admin_store, &sp, err);
	if (prc == 0) {
		struct st_policy pol;
		st_policy_init(&pol);
		prc = st_policy_parse(sp.json, strlen(sp.json), &pol, NULL,
				      err);
		uint8_t h[32];
		if (prc == 0 && (st_policy_hash(&pol, h) < 0 ||
				 sodium_memcmp(h, sp.hash, 32) != 0))
			prc = st_fail(err, ST_E_POLICY,
				      "its text does not hash to the policy "
				      "hash stored with it: the database was "
				      "edited");
		st_policy_fini(&pol);
		st_store_policy_fini(&sp);
		if (prc < 0)
			return st_error_prefix(err,
					       "refusing to start: the current "
					       "policy in the store fails its "
					       "check; restore the database "
					       "from a backup taken before it "
					       "was changed: "),
			       prc;
	} else if (prc != ST_E_NOT_FOUND) {
		return prc;
	}
	struct st_auditlog_cfg c = {
		.key_path = a->cfg->audit_key,
		.pub_path = a->cfg->audit_pub,
		.every_entries = a->cfg->audit_checkpoint_entries,
		.every_s = a->cfg->audit_checkpoint_s,
	};
	int rc = st_auditlog_open(&c, a->admin_store, api_now_s(a), &a->audit,
				  err);
	if (rc < 0)
		return rc;
	if (st_auditlog_broken_at(a->audit))
		api_log(a, "audit: the log's chain is broken at entry %llu; "
			"run `sealtrace audit verify`",
			(unsigned long long)st_auditlog_broken_at(a->audit));
	/* A rotation replaced the master key the config file names. */
	size_t len = 0;
	uint8_t pk[ST_STORE_SETTING_MAX];
	rc = st_store_setting_get(a->admin_store, "master_public", pk,
				  sizeof pk, &len, err);
	if (rc == 0 && len == 32)
		memcpy(a->master_pk, pk, 32);
	else if (rc < 0 && rc != ST_E_NOT_FOUND)
		return rc;
	struct areq sys;
	memset(&sys, 0, sizeof sys);
	snprintf(sys.actor, sizeof sys.actor, "server");
	snprintf(sys.token.role, sizeof sys.token.role, "server");
	uint64_t n = 0;
	struct st_error se = {0};
	if (sweep(a, &sys, &n, &se) < 0)
		api_log(a, "retention: sweep failed: %s", se.msg);
	return 0;
}

void api_access_tick(struct st_api *a)
{
	struct st_error e = {0};
	bool made = false;
	pthread_mutex_lock(&a->store_mu);
	if (a->audit &&
	    st_auditlog_checkpoint(a->audit, a->admin_store, api_now_s(a),
				   false, &made, NULL, &e) < 0)
		api_log(a, "audit: checkpoint failed: %s", e.msg);
	uint32_t every = a->cfg->retention_sweep_s ? a->cfg->retention_sweep_s
						   : ST_CFG_SWEEP_S_DEFAULT;
	if (a->audit && api_now_s(a) - a->last_sweep_s >= (int64_t)every) {
		struct areq sys;
		memset(&sys, 0, sizeof sys);
		snprintf(sys.actor, sizeof sys.actor, "server");
		snprintf(sys.token.role, sizeof sys.token.role, "server");
		uint64_t n = 0;
		if (sweep(a, &sys, &n, &e) < 0)
			api_log(a, "retention: sweep failed: %s", e.msg);
		else if (n)
			api_log(a, "retention: %llu segments past retention "
				"deleted",
				(unsigned long long)n);
	}
	pthread_mutex_unlock(&a->store_mu);
}

void api_access_handle(struct st_api *a, struct st_http_req *r,
		       struct areq *q)
{
	switch (q->route) {
	case R_TOKENS_LIST: h_tokens_list(a, r); break;
	case R_TOKENS_CREATE: h_tokens_create(a, r, q); break;
	case R_TOKENS_REVOKE: h_tokens_revoke(a, r, q); break;
	case R_TOKENS_APPROVE: h_tokens_approve(a, r, q); break;
	case R_PURPOSES_LIST: h_purpose_list(a, r); break;
	case R_PURPOSES_PROPOSE: h_purpose_propose(a, r, q); break;
	case R_PURPOSES_APPROVE: h_purpose_approve(a, r, q); break;
	case R_PURPOSES_REVOKE: h_purpose_revoke(a, r, q); break;
	case R_AUDIT_ENTRIES: h_audit_entries(a, r); break;
	case R_AUDIT_CHECKPOINT: h_audit_checkpoint(a, r); break;
	case R_AUDIT_PROOF: h_audit_proof(a, r); break;
	case R_PERSON_ACCESS: h_access(a, r, q); break;
	case R_ERASE: h_erase(a, r, q); break;
	case R_SWEEP: h_sweep(a, r, q); break;
	case R_KEYS_PEOPLE: h_keys_people(a, r); break;
	case R_KEYS_ROTATE: h_keys_rotate(a, r, q); break;
	default:
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOT_FOUND,
			       "no such path; see docs/api.md");
		break;
	}
}
