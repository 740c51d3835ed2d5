/* api.c - the handlers of docs/api.md and the ingest committer. */
#include "api.h"
#include "api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/devreq.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/lease.h"
#include "core/policy.h"
#include "access/keywrap.h"
#include "access/roles.h"
#include "server/tls.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

/* ---- status table ---- */

unsigned st_api_status(int code, enum st_api_kind kind)
{
	switch (code) {
	case ST_E_JSON: case ST_E_TRUNCATED: case ST_E_BAD_MAGIC:
	case ST_E_VERSION: case ST_E_FLAGS: case ST_E_LEVEL: case ST_E_KINDS:
	case ST_E_ORDER: case ST_E_CAP: case ST_E_CORRUPT: case ST_E_INVAL:
	case ST_E_POLICY: case ST_E_BROAD_GRANT:
		return 400;
	case ST_E_AUTH: case ST_E_REQUEST_TIME:
		return 401;
	case ST_E_SIGNATURE:
		return kind == ST_API_SEGMENT ? 422 : 401;
	case ST_E_DEVICE_REVOKED:
	case ST_E_PAUSED: /* a segment under an old lease; enrollment paused */
		return kind == ST_API_SEGMENT ? 422 : 403;
	case ST_E_FORBIDDEN: case ST_E_TOKEN_INVALID: case ST_E_TOKEN_EXPIRED:
	case ST_E_TOKEN_USED: case ST_E_USER_MISMATCH: case ST_E_PURPOSE:
	case ST_E_TWO_PERSON: case ST_E_SCOPE:
		return 403;
	case ST_E_ERASED:
		return 410;
	case ST_E_STATE:
		return 409;
	case ST_E_NOT_FOUND:
		return 404;
	case ST_E_CONFLICT: case ST_E_EXISTS:
		return 409;
	case ST_E_TOO_LARGE:
		return 413;
	case ST_E_CONTENT_TYPE:
		return 415;
	case ST_E_DEVICE_UNKNOWN: case ST_E_BODY_MISMATCH:
	case ST_E_PERSON_MISMATCH: case ST_E_NOTICE_NOT_ACCEPTED:
	case ST_E_NOT_IN_NOTICE: case ST_E_OVER_KEEP: case ST_E_TIME_WINDOW:
	case ST_E_NO_LEASE:
		return 422;
	case ST_E_UNAVAILABLE:
		return 503;
	default:
		return 500;
	}
}

/* ---- the api ---- */

/* The kill switch's memory (further down), for the handlers before it. */
static struct ctl_dev *dev_get(struct st_api *a, const uint8_t id[16],
			       bool make);
static void wake(struct st_api *a, int scope, const char *value,
		 const uint8_t *dev);

int64_t api_now_s(const struct st_api *a)
{
	return (int64_t)(st_wall_ns(a->clock) / 1000000000ull);
}

void api_log(struct st_api *a, const char *fmt, ...)
{
	if (!a->log)
		return;
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(a->log, "%s\n", line);
	fflush(a->log);
}

/* ---- answers ---- */

void api_reply_json(struct st_http_req *r, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) {
		st_http_reply_error(r, 500, ST_E_NOMEM,
				    "server: could not format the answer; "
				    "retry later");
		return;
	}
	st_http_reply(r, status, ST_API_CT_JSON, s, strlen(s));
	free(s);
}

void api_reply_err(struct st_http_req *r, enum st_api_kind kind, int code,
		      const struct st_error *e)
{
	const char *msg = e && e->code == code && e->msg[0] ? e->msg
							     : st_strerror(code);
	st_http_reply_error(r, st_api_status(code, kind), code, msg);
}

void api_reply_fail(struct st_http_req *r, enum st_api_kind kind, int code,
		       const char *fmt, ...)
{
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	st_http_reply_error(r, st_api_status(code, kind), code, msg);
}

void api_hex(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, n * 2 + 1, p, n);
}

json_t *api_j_hex(const uint8_t *p, size_t n)
{
	char s[129];
	if (n > 64)
		return NULL;
	api_hex(p, n, s);
	return json_string(s);
}

json_t *api_j_b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_encoded_len(n, B64);
	char *s = malloc(cap);
	if (!s)
		return NULL;
	sodium_bin2base64(s, cap, p, n, B64);
	json_t *j = json_string(s);
	free(s);
	return j;
}

json_t *api_j_int(int64_t v)
{
	return json_integer((json_int_t)v);
}

json_t *api_j_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* ---- request bodies ---- */

int api_load_obj(const uint8_t *body, size_t len, json_t **out,
		    struct st_error *err)
{
	json_error_t je;
	if (len > ST_API_JSON_MAX)
		return st_fail(err, ST_E_TOO_LARGE,
			       "request body: %zu bytes of JSON, over %u",
			       len, ST_API_JSON_MAX);
	json_t *j = json_loadb((const char *)body, len,
			       JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return st_fail(err, ST_E_JSON,
			       "request body: not JSON (line %d, column %d: "
			       "%.120s); send one JSON object",
			       je.line, je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return st_fail(err, ST_E_JSON,
			       "request body: not a JSON object; send one "
			       "JSON object");
	}
	*out = j;
	return 0;
}

/* Every key of o must be in keys (NULL-terminated). */
int api_only_keys(json_t *o, const char *const *keys, struct st_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		(void)v;
		bool ok = false;
		for (size_t i = 0; keys[i]; i++)
			if (strcmp(k, keys[i]) == 0)
				ok = true;
		if (!ok) {
			char safe[41];
			size_t n = 0;
			for (; k[n] && n < 40; n++)
				safe[n] = (k[n] > 0x20 && k[n] < 0x7f) ? k[n]
								       : '?';
			safe[n] = 0;
			return st_fail(err, ST_E_JSON,
				       "request body: unknown key \"%s\"; see "
				       "docs/api.md for this endpoint's keys",
				       safe);
		}
	}
	return 0;
}

/* A string of 0..max bytes without control characters into out. */
int api_get_str(json_t *o, const char *key, bool required, size_t min,
		   size_t max, char *out, size_t cap, struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	out[0] = 0;
	if (!v) {
		if (!required)
			return 0;
		return st_fail(err, ST_E_JSON, "request body: \"%s\" is "
			       "required", key);
	}
	if (!json_is_string(v))
		return st_fail(err, ST_E_JSON,
			       "request body: \"%s\" must be a string", key);
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n < min || n > max || n >= cap)
		return st_fail(err, ST_E_INVAL,
			       "request body: \"%s\" must be %zu to %zu "
			       "bytes, not %zu",
			       key, min, max, n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return st_fail(err, ST_E_INVAL,
				       "request body: \"%s\" holds a control "
				       "character",
				       key);
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

int api_get_hex(json_t *o, const char *key, uint8_t *out, size_t n,
		   struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return st_fail(err, ST_E_JSON, "request body: \"%s\" is "
			       "required", key);
	size_t got = 0;
	const char *end = NULL;
	if (!json_is_string(v) || json_string_length(v) != n * 2 ||
	    sodium_hex2bin(out, n, json_string_value(v), n * 2, NULL, &got,
			   &end) != 0 ||
	    got != n)
		return st_fail(err, ST_E_INVAL,
			       "request body: \"%s\" must be %zu hex digits",
			       key, n * 2);
	return 0;
}

int api_get_b64(json_t *o, const char *key, uint8_t *out, size_t n,
		   struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return st_fail(err, ST_E_JSON, "request body: \"%s\" is "
			       "required", key);
	size_t got = 0;
	const char *end = NULL;
	if (!json_is_string(v) ||
	    sodium_base642bin(out, n, json_string_value(v),
			      json_string_length(v), NULL, &got, &end,
			      B64) != 0 ||
	    got != n || *end)
		return st_fail(err, ST_E_INVAL,
			       "request body: \"%s\" must be standard base64 "
			       "of %zu bytes",
			       key, n);
	return 0;
}

int api_get_int(json_t *o, const char *key, bool required, int64_t min,
		   int64_t max, int64_t *out, struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (!required)
			return 0;
		return st_fail(err, ST_E_JSON, "request body: \"%s\" is "
			       "required", key);
	}
	if (!json_is_integer(v))
		return st_fail(err, ST_E_JSON,
			       "request body: \"%s\" must be an integer", key);
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return st_fail(err, ST_E_INVAL,
			       "request body: \"%s\" must be %" PRId64
			       "..%" PRId64,
			       key, min, max);
	*out = (int64_t)x;
	return 0;
}

int st_api_parse_enroll(const uint8_t *body, size_t len,
			struct st_api_enroll_req *out, struct st_error *err)
{
	static const char *const keys[] = {"token", "device_public_key",
					   "local_user", "hostname", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_str(o, "token", true, 1, ST_TOKEN_TEXT_MAX - 1,
			  out->token, sizeof out->token, err)) < 0 ||
	    (rc = api_get_b64(o, "device_public_key", out->device_pk, 32, err)) <
		    0 ||
	    (rc = api_get_str(o, "local_user", true, 1, ST_STORE_USER_MAX,
			  out->local_user, sizeof out->local_user, err)) < 0 ||
	    (rc = api_get_str(o, "hostname", false, 0, ST_STORE_HOST_MAX,
			  out->hostname, sizeof out->hostname, err)) < 0) {
		/* falls through to the wipe */
	}
	/* The token text is a secret: wipe jansson's copy before freeing. */
	json_t *t = json_object_get(o, "token");
	if (json_is_string(t))
		sodium_memzero((char *)json_string_value(t),
			       json_string_length(t));
	json_decref(o);
	if (rc < 0)
		sodium_memzero(out->token, sizeof out->token);
	return rc;
}

int st_api_parse_acceptance(const uint8_t *body, size_t len,
			    struct st_api_accept_req *out,
			    struct st_error *err)
{
	static const char *const keys[] = {"notice_hash", "local_user",
					   "accepted_s", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_hex(o, "notice_hash", out->notice_hash, 32, err)) < 0 ||
	    (rc = api_get_str(o, "local_user", true, 1, ST_STORE_USER_MAX,
			  out->local_user, sizeof out->local_user, err)) < 0 ||
	    (rc = api_get_int(o, "accepted_s", true, 1, INT64_MAX / 2,
			  &out->accepted_s, err)) < 0) {
	}
	json_decref(o);
	return rc;
}

int st_api_parse_forget(const uint8_t *body, size_t len,
			struct st_api_forget_req *out, struct st_error *err)
{
	static const char *const keys[] = {"request_id", "from_min", "to_min",
					   NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	int64_t from = 0, to = 0;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_hex(o, "request_id", out->request_id, 16, err)) < 0 ||
	    (rc = api_get_int(o, "from_min", true, 0, UINT32_MAX, &from, err)) <
		    0 ||
	    (rc = api_get_int(o, "to_min", true, 0, UINT32_MAX, &to, err)) < 0) {
	} else if (from > to) {
		rc = st_fail(err, ST_E_INVAL,
			     "request body: from_min %" PRId64
			     " is after to_min %" PRId64 "; swap them",
			     from, to);
	}
	json_decref(o);
	out->from_min = (uint32_t)from;
	out->to_min = (uint32_t)to;
	return rc;
}

int st_api_parse_user_add(const uint8_t *body, size_t len,
			  struct st_api_user_req *out, struct st_error *err)
{
	static const char *const keys[] = {"name", "group", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_str(o, "name", true, 1, ST_STORE_NAME_MAX, out->name,
			  sizeof out->name, err)) < 0 ||
	    (rc = api_get_str(o, "group", false, 0, ST_STORE_GROUP_MAX, out->group,
			  sizeof out->group, err)) < 0) {
	}
	json_decref(o);
	return rc;
}

int st_api_parse_enroll_token(const uint8_t *body, size_t len,
			      uint32_t ttl_default_s,
			      struct st_api_etoken_req *out,
			      struct st_error *err)
{
	static const char *const keys[] = {"user", "ttl_s", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	int64_t ttl = ttl_default_s ? ttl_default_s : 86400;
	if (ttl > ST_API_ENROLL_TTL_MAX_S)
		ttl = ST_API_ENROLL_TTL_MAX_S;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_str(o, "user", true, 1, ST_STORE_NAME_MAX, out->user,
			  sizeof out->user, err)) < 0 ||
	    (rc = api_get_int(o, "ttl_s", false, 1, ST_API_ENROLL_TTL_MAX_S, &ttl,
			  err)) < 0) {
	}
	json_decref(o);
	out->ttl_s = (uint32_t)ttl;
	return rc;
}

static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	*p = s;
	return true;
}

int st_api_parse_backlog(const char *v, uint64_t *segments, uint64_t *bytes,
			 struct st_error *err)
{
	const char *p = v;
	if (!p || !parse_u64(&p, segments) || *p++ != ' ' ||
	    !parse_u64(&p, bytes) || *p || *segments > INT64_MAX ||
	    *bytes > INT64_MAX)
		return st_fail(err, ST_E_INVAL,
			       ST_API_HDR_BACKLOG
			       ": not \"SEGMENTS BYTES\" (two decimal "
			       "numbers)");
	return 0;
}

static int parse_scope(json_t *o, struct st_api_pause_req *out,
		       struct st_error *err)
{
	char scope[16];
	int rc = api_get_str(o, "scope", true, 1, 15, scope, sizeof scope, err);
	if (rc < 0)
		return rc;
	out->scope = st_scope_from_name(scope);
	if (!out->scope)
		return st_fail(err, ST_E_INVAL,
			       "request body: \"scope\" must be all, group, "
			       "user or device");
	size_t max = out->scope == ST_SCOPE_GROUP ? ST_STORE_GROUP_MAX
		     : out->scope == ST_SCOPE_DEVICE ? 32
						     : ST_STORE_NAME_MAX;
	bool all = out->scope == ST_SCOPE_ALL;
	if (all && json_object_get(o, "value") &&
	    !(json_is_string(json_object_get(o, "value")) &&
	      json_string_length(json_object_get(o, "value")) == 0))
		return st_fail(err, ST_E_INVAL,
			       "request body: scope all takes no \"value\"");
	if ((rc = api_get_str(o, "value", !all, all ? 0 : 1, max, out->value,
			  sizeof out->value, err)) < 0)
		return rc;
	if (out->scope == ST_SCOPE_DEVICE) {
		bool ok = strlen(out->value) == 32;
		for (size_t i = 0; ok && i < 32; i++) {
			char c = out->value[i];
			if (c >= 'A' && c <= 'F')
				out->value[i] = (char)(c - 'A' + 'a');
			ok = (c >= '0' && c <= '9') ||
			     (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		}
		if (!ok)
			return st_fail(err, ST_E_INVAL,
				       "request body: a device \"value\" is the "
				       "device id, 32 hex digits (see "
				       "`sealtrace device list`)");
	}
	return 0;
}

int st_api_parse_pause(const uint8_t *body, size_t len,
		       struct st_api_pause_req *out, struct st_error *err)
{
	static const char *const keys[] = {"scope", "value", "reason",
					   "discard_unsent", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	json_t *d = json_object_get(o, "discard_unsent");
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = parse_scope(o, out, err)) < 0 ||
	    (rc = api_get_str(o, "reason", true, 1, ST_STORE_REASON_MAX,
			  out->reason, sizeof out->reason, err)) < 0) {
	} else if (d && !json_is_boolean(d)) {
		rc = st_fail(err, ST_E_JSON, "request body: \"discard_unsent\" "
			     "must be true or false");
	} else {
		out->discard = json_is_true(d);
	}
	json_decref(o);
	return rc;
}

int st_api_parse_resume(const uint8_t *body, size_t len,
			struct st_api_pause_req *out, struct st_error *err)
{
	static const char *const keys[] = {"scope", "value", "reason", NULL};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = parse_scope(o, out, err)) < 0 ||
	    (rc = api_get_str(o, "reason", false, 0, ST_STORE_REASON_MAX,
			  out->reason, sizeof out->reason, err)) < 0) {
	}
	json_decref(o);
	return rc;
}

int st_api_parse_lease(const uint8_t *body, size_t len,
		       struct st_api_lease_req *out, struct st_error *err)
{
	static const char *const keys[] = {"nonce", "have_seq", "state",
					   "confirm", NULL};
	static const char *const ckeys[] = {"seq", "last_seq", NULL};
	static const char *const states[] = {NULL, "recording",
					     "paused_by_person", "paused",
					     "stopped"};
	memset(out, 0, sizeof *out);
	json_t *o = NULL;
	int rc = api_load_obj(body, len, &o, err);
	if (rc < 0)
		return rc;
	int64_t have = 0, cs = 0, cl = 0;
	char state[24];
	json_t *c = json_object_get(o, "confirm");
	if ((rc = api_only_keys(o, keys, err)) < 0 ||
	    (rc = api_get_hex(o, "nonce", out->nonce, 16, err)) < 0 ||
	    (rc = api_get_int(o, "have_seq", true, 0, INT64_MAX, &have, err)) <
		    0 ||
	    (rc = api_get_str(o, "state", true, 1, 20, state, sizeof state,
			  err)) < 0)
		goto out;
	for (int i = ST_API_AGENT_RECORDING; i <= ST_API_AGENT_STOPPED; i++)
		if (!strcmp(state, states[i]))
			out->state = i;
	if (!out->state) {
		rc = st_fail(err, ST_E_INVAL,
			     "request body: \"state\" must be recording, "
			     "paused_by_person, paused or stopped");
		goto out;
	}
	out->have_seq = (uint64_t)have;
	if (c) {
		if (!json_is_object(c)) {
			rc = st_fail(err, ST_E_JSON, "request body: \"confirm\" "
				     "must be an object {\"seq\", "
				     "\"last_seq\"}");
			goto out;
		}
		if ((rc = api_only_keys(c, ckeys, err)) < 0 ||
		    (rc = api_get_int(c, "seq", true, 1, INT64_MAX, &cs, err)) <
			    0 ||
		    (rc = api_get_int(c, "last_seq", true, 0, INT64_MAX, &cl,
				  err)) < 0) {
			st_error_prefix(err, "confirm: ");
			goto out;
		}
		out->has_confirm = true;
		out->confirm_seq = (uint64_t)cs;
		out->confirm_last_seq = (uint64_t)cl;
	}
out:
	json_decref(o);
	return rc;
}

/* ---- the current policy ---- */

static void cache_get(struct st_api *a, struct policy_cache *out)
{
	pthread_mutex_lock(&a->pol_mu);
	*out = a->pol;
	pthread_mutex_unlock(&a->pol_mu);
}

static void cache_set(struct st_api *a, const struct policy_cache *in)
{
	pthread_mutex_lock(&a->pol_mu);
	a->pol = *in;
	pthread_mutex_unlock(&a->pol_mu);
}

/* With store_mu held. */
static int load_current(struct st_api *a, struct st_store_policy *p,
			struct st_error *err)
{
	memset(p, 0, sizeof *p);
	return st_store_policy_get_current(a->admin_store, p, err);
}

static json_t *policy_json(const struct st_store_policy *p)
{
	json_t *j = json_object();
	json_object_set_new(j, "policy", json_stringn(p->json, p->json_len));
	json_object_set_new(j, "policy_hash", api_j_hex(p->hash, 32));
	json_object_set_new(j, "notice",
			    json_stringn((const char *)p->notice,
					 p->notice_len));
	json_object_set_new(j, "notice_hash", api_j_hex(p->notice_hash, 32));
	/* a member that failed to format is missing: caught below */
	if (json_object_size(j) != 4) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- committer ---- */

/* The checker: takes what the handlers queued, checks it (signatures and
 * reads, on check_store) and hands it to the writer. */
static void *committer_main(void *arg)
{
	struct st_api *a = arg;
	int cur = 0;

	pthread_mutex_lock(&a->q_mu);
	for (;;) {
		while (a->q_n == 0 && !a->draining)
			pthread_cond_wait(&a->q_cv, &a->q_mu);
		if (a->q_n == 0)
			break; /* draining and nothing left */
		pthread_mutex_unlock(&a->q_mu);
		/* a stage the writer is done with */
		pthread_mutex_lock(&a->h_mu);
		while (a->busy[cur])
			pthread_cond_wait(&a->h_cv, &a->h_mu);
		pthread_mutex_unlock(&a->h_mu);
		struct stage *sg = &a->stage[cur];
		pthread_mutex_lock(&a->q_mu);
		size_t n = a->q_n < ST_INGEST_BATCH_MAX ? a->q_n
							: ST_INGEST_BATCH_MAX;
		for (size_t i = 0; i < n; i++) {
			sg->batch[i] = a->q[(a->q_head + i) % ST_API_QUEUE_MAX];
			a->q_bytes -= sg->batch[i]->len;
		}
		a->q_head = (a->q_head + n) % ST_API_QUEUE_MAX;
		a->q_n -= n;
		pthread_mutex_unlock(&a->q_mu);

		sg->n = n;
		for (size_t i = 0; i < n; i++) {
			sg->items[i].seg = sg->batch[i]->seg;
			sg->items[i].len = sg->batch[i]->len;
		}
		memset(sg->res, 0, n * sizeof sg->res[0]);
		sg->e = (struct st_error){0};
		sg->prep = NULL;
		sg->rc = st_ingest_check(a->check_store, sg->items, n, &a->icfg,
					 sg->res, &sg->prep, &sg->e);
		/* hand it over once the writer took the previous one */
		pthread_mutex_lock(&a->h_mu);
		while (a->ready)
			pthread_cond_wait(&a->h_cv, &a->h_mu);
		a->ready = sg;
		a->busy[cur] = true;
		pthread_cond_broadcast(&a->h_cv);
		pthread_mutex_unlock(&a->h_mu);
		cur ^= 1;
		pthread_mutex_lock(&a->q_mu);
	}
	pthread_mutex_unlock(&a->q_mu);
	pthread_mutex_lock(&a->h_mu);
	a->checker_done = true;
	pthread_cond_broadcast(&a->h_cv);
	pthread_mutex_unlock(&a->h_mu);
	return NULL;
}

/* The writer: commits what the checker passed, in order, on ingest_store,
 * then answers (only after COMMIT) and records backlog reports. */
static void *writer_main(void *arg)
{
	struct st_api *a = arg;
	struct backlog *bl = a->bl;
	for (;;) {
		pthread_mutex_lock(&a->h_mu);
		while (!a->ready && !a->checker_done)
			pthread_cond_wait(&a->h_cv, &a->h_mu);
		struct stage *sg = a->ready;
		a->ready = NULL;
		pthread_cond_broadcast(&a->h_cv);
		pthread_mutex_unlock(&a->h_mu);
		if (!sg)
			break; /* the checker is done and nothing waits */
		size_t n = sg->n;
		struct st_ingest_result *res = sg->res;
		struct job **batch = sg->batch;
		int rc = sg->rc;
		struct st_error e = sg->e;
		if (rc == 0)
			rc = st_ingest_commit(a->ingest_store, sg->prep, res, &e);
		sg->prep = NULL;
		if (rc < 0)
			api_log(a, "ingest: a batch of %zu segments was not "
				 "committed: %s", n, e.msg);
		size_t nb = 0;
		for (size_t i = 0; i < n; i++) {
			struct job *j = batch[i];
			j->res = res[i];
			if (rc < 0 && j->res.code == 0) {
				j->res.code = rc;
				j->res.err = e;
			}
			/* The backlog header is believed only with a segment
			 * whose signature held: the device said it. */
			if (j->has_backlog && j->res.code == 0 &&
			    j->res.parsed) {
				size_t k = 0;
				while (k < nb &&
				       memcmp(bl[k].id, j->res.device_id, 16))
					k++;
				if (k == nb)
					nb++;
				memcpy(bl[k].id, j->res.device_id, 16);
				bl[k].segs = j->bl_segments;
				bl[k].bytes = j->bl_bytes;
			}
		}
		/* Answers first (they only needed COMMIT); the request is
		 * not ours after st_http_resume. */
		for (size_t i = 0; i < n; i++)
			st_http_resume(batch[i]->r);
		pthread_mutex_lock(&a->h_mu);
		a->busy[sg - a->stage] = false;
		pthread_cond_broadcast(&a->h_cv);
		pthread_mutex_unlock(&a->h_mu);
		if (nb) {
			int64_t t = api_now_s(a);
			struct st_error be = {0};
			int brc = st_store_begin(a->ingest_store, &be);
			for (size_t k = 0; brc == 0 && k < nb; k++)
				brc = st_store_device_backlog(
					a->ingest_store, bl[k].id, bl[k].segs,
					bl[k].bytes, t, &be);
			if (brc == 0)
				brc = st_store_commit(a->ingest_store, &be);
			else if (st_store_in_tx(a->ingest_store))
				st_store_rollback(a->ingest_store, NULL);
			if (brc < 0)
				api_log(a, "ingest: backlog reports not "
					 "recorded: %s", be.msg);
		}
	}
	return NULL;
}

/* Queues a segment and suspends its request; false when the queue is
 * full or closed. */
static bool submit(struct st_api *a, struct job *j)
{
	pthread_mutex_lock(&a->q_mu);
	bool ok = !a->draining && a->q_n < ST_API_QUEUE_MAX &&
		  j->len <= ST_API_QUEUE_BYTES_MAX - a->q_bytes;
	if (ok) {
		st_http_suspend(j->r);
		a->q[(a->q_head + a->q_n) % ST_API_QUEUE_MAX] = j;
		a->q_n++;
		a->q_bytes += j->len;
		pthread_cond_signal(&a->q_cv);
	}
	pthread_mutex_unlock(&a->q_mu);
	return ok;
}

/* ---- authentication ---- */

/* Authorization: Bearer sta_...; every failure is the same 401. With
 * store_mu held; t receives the token's row. */
static int token_auth(struct st_api *a, struct st_http_req *r,
		      struct st_token *t, struct st_error *err)
{
	static const char msg[] =
		"API token: missing, malformed, unknown, expired or revoked; "
		"send Authorization: Bearer with a token from `sealtrace "
		"init` or `sealtrace token create`";
	const char *h = st_http_header(r, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return st_fail(err, ST_E_AUTH, "%s", msg);
	h += 7;
	while (*h == ' ')
		h++;
	uint8_t hash[ST_TOKEN_HASH_LEN];
	if (st_admin_token_hash(h, hash, NULL) < 0)
		return st_fail(err, ST_E_AUTH, "%s", msg);
	memset(t, 0, sizeof *t);
	int rc = st_store_token_find(a->admin_store, hash, t, err);
	if (rc == ST_E_NOT_FOUND)
		return st_fail(err, ST_E_AUTH, "%s", msg);
	if (rc < 0)
		return rc;
	if (t->revoked || (t->expires_s != 0 && api_now_s(a) >= t->expires_s))
		return st_fail(err, ST_E_AUTH, "%s", msg);
	return 0;
}

/* The device a request names (its Sealtrace-Device header), as bytes and
 * hex. */
static int req_device(struct st_http_req *r, uint8_t id[16], char hex[33],
		      struct st_error *err)
{
	int rc = st_devreq_device(st_http_header(r, ST_DEVREQ_HDR_DEVICE), id,
				  err);
	if (rc == 0)
		api_hex(id, 16, hex);
	return rc;
}

static int revoked_fail(struct st_error *err, const char *hex)
{
	return st_fail(err, ST_E_DEVICE_REVOKED,
		       "device %s: revoked; enroll again with a new token if "
		       "it should record",
		       hex);
}

/* A signed device request: the device, active, its person not erased,
 * the signature over method, target and body, the time. With store_mu
 * held; dev and person receive the rows. */
static int device_auth(struct st_api *a, struct st_http_req *r,
		       struct st_device *dev, struct st_person *person,
		       struct st_error *err)
{
	uint8_t id[16];
	char idh[33];
	int rc = req_device(r, id, idh, err);
	if (rc < 0)
		return rc;
	rc = st_store_device_get(a->admin_store, id, dev, err);
	if (rc == ST_E_NOT_FOUND)
		return st_fail(err, ST_E_AUTH,
			       "device %s: not enrolled on this server; "
			       "enroll it with a new token",
			       idh);
	if (rc < 0)
		return rc;
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	rc = st_devreq_verify(dev->public_key, st_http_method(r),
			      st_http_target(r), body, len,
			      st_http_header(r, ST_DEVREQ_HDR_TIME),
			      st_http_header(r, ST_DEVREQ_HDR_SIG), api_now_s(a),
			      a->cfg->request_window_s, err);
	if (rc < 0)
		return rc;
	if (!dev->active)
		return revoked_fail(err, idh);
	rc = st_store_person_get(a->admin_store, dev->person_id, person, err);
	if (rc < 0)
		return rc;
	if (person->erased)
		return st_fail(err, ST_E_DEVICE_REVOKED,
			       "device %s: its person was erased", idh);
	return 0;
}

/* ---- handlers: public and enrollment ---- */

static void h_health(struct st_api *a, struct st_http_req *r)
{
	(void)a;
	api_reply_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "version",
				     ST_API_VERSION));
}

static void h_ca(struct st_api *a, struct st_http_req *r)
{
	if (!a->ca_der) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOT_FOUND,
			   "CA: this server runs plain HTTP without a CA");
		return;
	}
	json_t *j = json_object();
	json_object_set_new(j, "ca_der", api_j_b64(a->ca_der, a->ca_der_len));
	json_object_set_new(j, "lease_public_key", api_j_b64(a->lease_pk, 32));
	api_reply_json(r, 200, j);
}

/* The device row leaves its person all zero: the store gives it the
 * token's person inside the enrollment transaction (store.h), and *tok
 * says which. */
static int enroll_store(struct st_store *s, const uint8_t hash[32],
			struct st_device *d, int64_t t,
			struct st_enroll_token *tok, struct st_error *err)
{
	memset(tok, 0, sizeof *tok);
	memset(d->person_id, 0, sizeof d->person_id);
	int rc = st_store_enroll(s, hash, d, t, tok, err);
	if (rc == 0)
		memcpy(d->person_id, tok->person_id, 16);
	return rc;
}

static void h_enroll(struct st_api *a, struct st_http_req *r)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_enroll_req q;
	struct st_error e = {0};
	int rc = st_api_parse_enroll(body, len, &q, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	uint8_t secret[ST_TOKEN_SECRET_LEN], ca_fp[32], lease_fp[32];
	uint8_t hash[ST_TOKEN_HASH_LEN];
	rc = st_enroll_token_parse(q.token, secret, ca_fp, lease_fp, &e);
	sodium_memzero(q.token, sizeof q.token);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	st_enroll_secret_hash(secret, hash);
	sodium_memzero(secret, sizeof secret);

	/* No new recorder while every device is paused: the token stays
	 * unused for after the resume. */
	char why[ST_STORE_REASON_MAX + 1] = "";
	bool paused = false;
	pthread_mutex_lock(&a->ctl_mu);
	for (size_t i = 0; i < a->n_force && !paused; i++)
		if (a->force[i].scope == ST_SCOPE_ALL) {
			paused = true;
			memcpy(why, a->force[i].reason, sizeof why);
		}
	pthread_mutex_unlock(&a->ctl_mu);
	if (paused) {
		sodium_memzero(hash, sizeof hash);
		api_reply_fail(r, ST_API_GENERAL, ST_E_PAUSED,
			   "enroll: every device is paused (\"%s\"); enroll "
			   "after `sealtrace resume --all`",
			   why);
		return;
	}

	struct st_device d;
	memset(&d, 0, sizeof d);
	randombytes_buf(d.id, sizeof d.id);
	memcpy(d.public_key, q.device_pk, 32);
	d.active = true;
	d.enrolled_s = api_now_s(a);
	memcpy(d.local_user, q.local_user, sizeof d.local_user);
	memcpy(d.hostname, q.hostname, sizeof d.hostname);

	struct st_store_policy p;
	struct st_person person;
	struct st_enroll_token tok;
	pthread_mutex_lock(&a->store_mu);
	/* No policy, no enrollment: the token stays unused. */
	rc = load_current(a, &p, &e);
	if (rc == ST_E_NOT_FOUND) {
		pthread_mutex_unlock(&a->store_mu);
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOT_FOUND,
			   "enroll: the server has no policy yet; an "
			   "administrator runs `sealtrace policy apply`");
		return;
	}
	if (rc == 0)
		rc = enroll_store(a->admin_store, hash, &d, d.enrolled_s, &tok,
				  &e);
	if (rc == 0)
		rc = st_store_person_get(a->admin_store, d.person_id, &person,
					 &e);
	pthread_mutex_unlock(&a->store_mu);
	sodium_memzero(hash, sizeof hash);
	if (rc < 0) {
		if (rc == ST_E_EXISTS)
			st_fail(&e, rc, "enroll: this device key is enrolled "
				"already; make a new device key");
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		st_store_policy_fini(&p);
		return;
	}
	json_t *j = policy_json(&p);
	st_store_policy_fini(&p);
	if (j) {
		json_object_set_new(j, "device_id", api_j_hex(d.id, 16));
		json_object_set_new(j, "person_id", api_j_hex(person.id, 16));
		json_object_set_new(j, "person_name", json_string(person.name));
		json_object_set_new(j, "person_public_key",
				    api_j_b64(person.public_key, 32));
		json_object_set_new(j, "lease_public_key",
				    api_j_b64(a->lease_pk, 32));
	}
	char idh[33];
	api_hex(d.id, 16, idh);
	st_http_detail(r, "device=%s", idh);
	api_reply_json(r, 201, j);
}

/* ---- handlers: device ---- */

static void h_segment_body(struct st_api *a, struct st_http_req *r,
			   struct areq *q)
{
	size_t len;
	q->job.r = r;
	q->job.seg = st_http_body(r, &len);
	q->job.len = len;
	const char *bl = st_http_header(r, ST_API_HDR_BACKLOG);
	/* The backlog is a report, not part of the segment: a malformed
	 * one is dropped rather than refusing durable data. */
	q->job.has_backlog =
		bl && st_api_parse_backlog(bl, &q->job.bl_segments,
					   &q->job.bl_bytes, NULL) == 0;
	if (!submit(a, &q->job))
		api_reply_fail(r, ST_API_SEGMENT, ST_E_UNAVAILABLE,
			   "segments: the server is %s; retry later",
			   a->draining ? "shutting down" : "busy");
}

static void h_segment_done(struct st_api *a, struct st_http_req *r,
			   struct areq *q)
{
	const struct st_ingest_result *res = &q->job.res;
	char dev[33] = "-";
	if (res->parsed) {
		api_hex(res->device_id, 16, dev);
		st_http_detail(r, "device=%s seq=%" PRIu64, dev, res->seq);
	}
	if (res->code < 0) {
		api_reply_err(r, ST_API_SEGMENT, res->code, &res->err);
		return;
	}
	struct policy_cache pc;
	cache_get(a, &pc);
	json_t *j = json_object();
	json_object_set_new(j, "result",
			    json_string(res->outcome == ST_STORE_DUPLICATE
						? "duplicate"
						: "stored"));
	json_object_set_new(j, "device", json_string(dev));
	json_object_set_new(j, "seq", api_j_u64(res->seq));
	json_object_set_new(j, "notice_hash",
			    pc.have ? api_j_hex(pc.notice_hash, 32) : json_null());
	api_reply_json(r, 200, j);
}

static void h_dev_policy(struct st_api *a, struct st_http_req *r,
			 const struct st_person *person)
{
	struct st_store_policy p;
	struct st_error e = {0};
	pthread_mutex_lock(&a->store_mu);
	int rc = load_current(a, &p, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "policy: none is current yet");
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	json_t *j = policy_json(&p);
	st_store_policy_fini(&p);
	if (j)
		json_object_set_new(j, "person_public_key",
				    api_j_b64(person->public_key, 32));
	api_reply_json(r, 200, j);
}

static void h_dev_accept(struct st_api *a, struct st_http_req *r,
			 const struct st_device *dev)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_accept_req q;
	struct st_error e = {0};
	int rc = st_api_parse_acceptance(body, len, &q, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	char idh[33];
	api_hex(dev->id, 16, idh);
	if (strcmp(q.local_user, dev->local_user) != 0) {
		/* Acceptance is an act of the recorded person, in their own
		 * session: an installer running as root cannot accept. */
		api_reply_fail(r, ST_API_DEVICE, ST_E_USER_MISMATCH,
			   "acceptance for device %s: given as local user "
			   "\"%s\", but the device records \"%s\"; the "
			   "person accepts in their own session",
			   idh, q.local_user, dev->local_user);
		return;
	}
	int64_t t = api_now_s(a);
	if (q.accepted_s > t + (int64_t)a->cfg->request_window_s) {
		api_reply_fail(r, ST_API_DEVICE, ST_E_INVAL,
			   "acceptance for device %s: accepted_s is in the "
			   "future; set the device's clock",
			   idh);
		return;
	}
	struct st_acceptance ac;
	memset(&ac, 0, sizeof ac);
	memcpy(ac.person_id, dev->person_id, 16);
	memcpy(ac.device_id, dev->id, 16);
	memcpy(ac.notice_hash, q.notice_hash, 32);
	memcpy(ac.local_user, q.local_user, sizeof ac.local_user);
	ac.accepted_s = q.accepted_s;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_acceptance_add(a->admin_store, &ac, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc,
				"acceptance for device %s: unknown notice; "
				"fetch /v1/device/policy and show that one",
				idh);
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	st_http_detail(r, "device=%s", idh);
	api_reply_json(r, 201, json_pack("{s:b}", "ok", 1));
}

static void h_dev_forget(struct st_api *a, struct st_http_req *r,
			 const struct st_device *dev)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_forget_req q;
	struct st_error e = {0};
	int rc = st_api_parse_forget(body, len, &q, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	struct st_forget f;
	memset(&f, 0, sizeof f);
	memcpy(f.device_id, dev->id, 16);
	memcpy(f.request_id, q.request_id, 16);
	f.from_min = q.from_min;
	f.to_min = q.to_min;
	f.received_s = api_now_s(a);
	uint64_t deleted = 0;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_forget(a->admin_store, &f, &deleted, &e);
	if (rc == 0 && deleted) {
		/* forgotten means gone from the files too: with
		 * secure_delete on, the log must not keep the old pages.
		 * A reader holding the log open can make this fail; the
		 * next checkpoint (SQLite's own, or the next forget) then
		 * does it, so the answer does not depend on it. */
		struct st_error ce = {0};
		if (st_store_checkpoint(a->admin_store, &ce) < 0 && a->log)
			fprintf(a->log, "sealtrace serve: checkpoint after "
				"forget: %s\n", ce.msg);
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	char idh[33];
	api_hex(dev->id, 16, idh);
	st_http_detail(r, "device=%s", idh);
	api_reply_json(r, 200, json_pack("{s:o}", "deleted", api_j_u64(deleted)));
}

static void h_device(struct st_api *a, struct st_http_req *r,
		     enum route route)
{
	struct st_device dev;
	struct st_person person;
	struct st_error e = {0};
	memset(&dev, 0, sizeof dev);
	pthread_mutex_lock(&a->store_mu);
	int rc = device_auth(a, r, &dev, &person, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	if (route == R_DEV_POLICY)
		h_dev_policy(a, r, &person);
	else if (route == R_DEV_ACCEPT)
		h_dev_accept(a, r, &dev);
	else
		h_dev_forget(a, r, &dev);
}

/* ---- handlers: administration ---- */

static void h_status(struct st_api *a, struct st_http_req *r)
{
	struct st_store_counts c;
	struct st_error e = {0};
	memset(&c, 0, sizeof c);
	pthread_mutex_lock(&a->store_mu);
	int rc = st_store_counts(a->admin_store, &c, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct policy_cache pc;
	cache_get(a, &pc);
	json_t *j = json_object();
	json_object_set_new(j, "version", json_string(ST_API_VERSION));
	json_object_set_new(j, "uptime_s", api_j_int(api_now_s(a) - a->started_s));
	json_object_set_new(j, "people", api_j_u64(c.people));
	json_object_set_new(j, "devices", api_j_u64(c.devices));
	json_object_set_new(j, "devices_active", api_j_u64(c.devices_active));
	json_object_set_new(j, "segments", api_j_u64(c.segments));
	json_object_set_new(j, "segment_bytes", api_j_u64(c.segment_bytes));
	json_object_set_new(j, "flags", api_j_u64(c.flags));
	json_object_set_new(j, "policy_hash",
			    pc.have ? api_j_hex(pc.hash, 32) : json_null());
	json_object_set_new(j, "notice_hash",
			    pc.have ? api_j_hex(pc.notice_hash, 32) : json_null());
	api_reply_json(r, 200, j);
}

static void h_user_add(struct st_api *a, struct st_http_req *r)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_user_req q;
	struct st_error e = {0};
	int rc = st_api_parse_user_add(body, len, &q, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_person p;
	memset(&p, 0, sizeof p);
	randombytes_buf(p.id, sizeof p.id);
	memcpy(p.name, q.name, sizeof p.name);
	memcpy(p.group, q.group, sizeof p.group);
	p.created_s = api_now_s(a);
	/* The person's secret half exists only inside st_person_keys_new,
	 * in locked memory, for as long as it takes to seal it. */
	pthread_mutex_lock(&a->store_mu); /* master_pk changes on rotation */
	uint8_t mpk[32];
	memcpy(mpk, a->master_pk, 32);
	pthread_mutex_unlock(&a->store_mu);
	rc = st_person_keys_new(mpk, p.public_key, p.sealed_secret, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_person_add(a->admin_store, &p, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_EXISTS)
			st_fail(&e, rc, "user add: \"%s\" exists already; "
				"choose another name", p.name);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	json_t *j = json_object();
	json_object_set_new(j, "id", api_j_hex(p.id, 16));
	json_object_set_new(j, "name", json_string(p.name));
	json_object_set_new(j, "group", json_string(p.group));
	json_object_set_new(j, "public_key", api_j_b64(p.public_key, 32));
	api_reply_json(r, 201, j);
}

static int user_row(void *ctx, const struct st_person *p)
{
	json_t *arr = ctx;
	json_t *o = json_object();
	json_object_set_new(o, "id", api_j_hex(p->id, 16));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "group", json_string(p->group));
	json_object_set_new(o, "public_key", api_j_b64(p->public_key, 32));
	json_object_set_new(o, "erased", json_boolean(p->erased));
	json_object_set_new(o, "created_s", api_j_int(p->created_s));
	return json_array_append_new(arr, o) == 0 ? 0 : ST_E_NOMEM;
}

/* Pages through a list: after each page, the last row's key. */
struct page {
	json_t *arr;
	size_t rows;
	uint8_t last[16];
	void *api;
};

static int user_page_row(void *ctx, const struct st_person *p)
{
	struct page *pg = ctx;
	pg->rows++;
	memcpy(pg->last, p->id, 16);
	return user_row(pg->arr, p);
}

static void h_user_list(struct st_api *a, struct st_http_req *r)
{
	struct page pg = {.arr = json_array()};
	struct st_error e = {0};
	int rc = 0;
	pthread_mutex_lock(&a->store_mu);
	for (unsigned i = 0; i < ST_API_LIST_PAGES_MAX; i++) {
		pg.rows = 0;
		rc = st_store_person_list(a->admin_store, i ? pg.last : NULL,
					  ST_STORE_LIST_MAX, user_page_row,
					  &pg, &e);
		if (rc < 0 || pg.rows < ST_STORE_LIST_MAX)
			break;
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:o}", "users", pg.arr));
}

struct dev_page {
	struct st_api *a;
	json_t *arr;
	size_t rows;
	uint8_t last[16];
	struct st_person person; /* the last one looked up */
	bool have_person;
	struct st_error *e;
};

static int device_row(void *ctx, const struct st_device *d)
{
	struct dev_page *pg = ctx;
	pg->rows++;
	memcpy(pg->last, d->id, 16);
	struct st_device_stats s;
	memset(&s, 0, sizeof s);
	int rc = st_store_device_stats(pg->a->admin_store, d->id, &s, pg->e);
	if (rc < 0)
		return rc;
	if (!pg->have_person ||
	    memcmp(pg->person.id, d->person_id, 16) != 0) {
		rc = st_store_person_get(pg->a->admin_store, d->person_id,
					 &pg->person, pg->e);
		if (rc < 0)
			return rc;
		pg->have_person = true;
	}
	json_t *o = json_object();
	json_object_set_new(o, "id", api_j_hex(d->id, 16));
	json_object_set_new(o, "person_id", api_j_hex(d->person_id, 16));
	json_object_set_new(o, "person", json_string(pg->person.name));
	json_object_set_new(o, "active", json_boolean(d->active));
	json_object_set_new(o, "local_user", json_string(d->local_user));
	json_object_set_new(o, "hostname", json_string(d->hostname));
	json_object_set_new(o, "enrolled_s", api_j_int(d->enrolled_s));
	json_object_set_new(o, "last_seen_s", api_j_int(d->last_seen_s));
	json_object_set_new(o, "segments", api_j_u64(s.segments));
	json_object_set_new(o, "bytes", api_j_u64(s.bytes));
	json_object_set_new(o, "last_seq", api_j_u64(s.max_seq));
	json_object_set_new(o, "gaps", api_j_u64(s.gaps));
	json_object_set_new(o, "backlog_segments", api_j_u64(d->backlog_segments));
	json_object_set_new(o, "backlog_bytes", api_j_u64(d->backlog_bytes));
	json_object_set_new(o, "backlog_s", api_j_int(d->backlog_s));
	return json_array_append_new(pg->arr, o) == 0 ? 0 : ST_E_NOMEM;
}

static void h_device_list(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	struct dev_page pg = {.a = a, .arr = json_array(), .e = &e};
	int rc = 0;
	pthread_mutex_lock(&a->store_mu);
	for (unsigned i = 0; i < ST_API_LIST_PAGES_MAX; i++) {
		pg.rows = 0;
		rc = st_store_device_list(a->admin_store, i ? pg.last : NULL,
					  ST_STORE_LIST_MAX, device_row, &pg,
					  &e);
		if (rc < 0 || pg.rows < ST_STORE_LIST_MAX)
			break;
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:o}", "devices", pg.arr));
}

void api_device_revoked(struct st_api *a, const uint8_t id[16])
{
	pthread_mutex_lock(&a->ctl_mu);
	struct ctl_dev *cd = dev_get(a, id, true);
	if (cd)
		cd->revoked = true;
	pthread_mutex_unlock(&a->ctl_mu);
	wake(a, 0, NULL, id); /* its held poll learns it at once */
}

static void h_revoke(struct st_api *a, struct st_http_req *r,
		     const uint8_t id[16])
{
	struct st_error e = {0};
	char idh[33];
	api_hex(id, 16, idh);
	pthread_mutex_lock(&a->store_mu);
	int rc = st_store_device_set_active(a->admin_store, id, false, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "device %s: no such device; see "
				"`sealtrace device list`", idh);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	api_device_revoked(a, id);
	api_log(a, "device %s revoked", idh);
	api_reply_json(r, 200, json_pack("{s:s,s:b}", "id", idh, "active", 0));
}

static void h_enroll_token(struct st_api *a, struct st_http_req *r)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_etoken_req q;
	struct st_error e = {0};
	int rc = st_api_parse_enroll_token(body, len,
					   a->cfg->enroll_ttl_default_s, &q,
					   &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_person p;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_person_find(a->admin_store, q.user, &p, &e);
	if (rc == 0 && p.erased)
		rc = st_fail(&e, ST_E_FORBIDDEN,
			     "enroll-token: \"%s\" was erased; add the person "
			     "again under a new name",
			     q.user);
	char text[ST_TOKEN_TEXT_MAX];
	struct st_enroll_token t;
	memset(&t, 0, sizeof t);
	if (rc == 0)
		rc = st_enroll_token_new(a->ca_fp, a->lease_fp, text, t.hash);
	if (rc == 0) {
		memcpy(t.person_id, p.id, 16);
		t.created_s = api_now_s(a);
		t.expires_s = t.created_s + q.ttl_s;
		rc = st_store_enroll_token_add(a->admin_store, &t, &e);
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		sodium_memzero(text, sizeof text);
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "enroll-token: no user \"%s\"; see "
				"`sealtrace user list`", q.user);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	json_t *j = json_object();
	json_object_set_new(j, "token", json_string(text));
	json_object_set_new(j, "user", json_string(q.user));
	json_object_set_new(j, "expires_s", api_j_int(t.expires_s));
	sodium_memzero(text, sizeof text);
	char *s = json_dumps(j, JSON_COMPACT);
	/* the token's copy inside j is wiped before it is freed */
	json_t *tv = json_object_get(j, "token");
	if (json_is_string(tv))
		sodium_memzero((char *)json_string_value(tv),
			       json_string_length(tv));
	json_decref(j);
	if (!s) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOMEM,
			   "enroll-token: out of memory; retry");
		return;
	}
	st_http_reply(r, 201, ST_API_CT_JSON, s, strlen(s));
	sodium_memzero(s, strlen(s));
	free(s);
}

static void h_policy_get(struct st_api *a, struct st_http_req *r)
{
	struct st_store_policy p;
	struct st_error e = {0};
	pthread_mutex_lock(&a->store_mu);
	int rc = load_current(a, &p, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "policy: none is current yet; run "
				"`sealtrace policy apply FILE`");
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct policy_cache pc;
	cache_get(a, &pc);
	json_t *j = policy_json(&p);
	if (j)
		json_object_set_new(j, "applied_s",
				    api_j_int(p.applied_s ? p.applied_s
						      : p.created_s));
	st_store_policy_fini(&p);
	api_reply_json(r, 200, j);
}

static void h_policy_apply(struct st_api *a, struct st_http_req *r)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_error e = {0};
	struct st_policy pol;
	int rc = st_policy_parse((const char *)body, len, &pol, NULL, &e);
	if (rc < 0) {
		st_policy_fini(&pol);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_buf json, notice;
	st_buf_init(&json, false);
	st_buf_init(&notice, false);
	struct st_store_policy sp;
	memset(&sp, 0, sizeof sp);
	rc = st_policy_canonical(&pol, &json);
	if (rc == 0)
		rc = st_policy_hash(&pol, sp.hash);
	if (rc == 0)
		rc = st_policy_notice(&pol, &notice, &e);
	st_policy_fini(&pol);
	if (rc == 0 && (json.oom || notice.oom))
		rc = ST_E_NOMEM;
	if (rc < 0) {
		st_buf_fini(&json);
		st_buf_fini(&notice);
		api_reply_fail(r, ST_API_GENERAL, rc,
			   "policy: could not render it (%s)",
			   e.msg[0] ? e.msg : st_strerror(rc));
		return;
	}
	crypto_hash_sha256(sp.notice_hash, notice.p, notice.len);
	sp.json = (const char *)json.p;
	sp.json_len = json.len;
	sp.notice = notice.p;
	sp.notice_len = notice.len;
	int64_t t = api_now_s(a);
	sp.created_s = t;

	struct policy_cache pc;
	cache_get(a, &pc);
	bool changed = !pc.have || memcmp(pc.hash, sp.hash, 32) != 0;
	if (changed) {
		pthread_mutex_lock(&a->store_mu);
		rc = st_store_policy_put(a->admin_store, &sp, &e);
		if (rc == 0)
			rc = st_store_policy_set_current(a->admin_store,
							 sp.hash, t, &e);
		pthread_mutex_unlock(&a->store_mu);
		if (rc == 0) {
			pc.have = true;
			memcpy(pc.hash, sp.hash, 32);
			memcpy(pc.notice_hash, sp.notice_hash, 32);
			pc.applied_s = t;
			cache_set(a, &pc);
		}
	}
	st_buf_fini(&json);
	st_buf_fini(&notice);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	char ph[65];
	api_hex(sp.hash, 32, ph);
	if (changed) {
		api_log(a, "policy %s is now current", ph);
		wake(a, 0, NULL, NULL); /* leases carry the policy hash */
	}
	json_t *j = json_object();
	json_object_set_new(j, "policy_hash", api_j_hex(sp.hash, 32));
	json_object_set_new(j, "notice_hash", api_j_hex(sp.notice_hash, 32));
	json_object_set_new(j, "changed", json_boolean(changed));
	api_reply_json(r, 200, j);
}

static void h_backup(struct st_api *a, struct st_http_req *r)
{
	char dir[ST_CFG_PATH_MAX + 8], path[ST_CFG_PATH_MAX + 64];
	struct st_error e = {0};
	snprintf(dir, sizeof dir, "%s/tmp", a->cfg->dir);
	int rc = st_dir_private(dir, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	uint8_t rnd[16];
	char rh[33];
	randombytes_buf(rnd, sizeof rnd);
	api_hex(rnd, sizeof rnd, rh);
	snprintf(path, sizeof path, "%s/backup-%s.db", dir, rh);
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_backup(a->admin_store, path, &e);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		unlink(path);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int saved = errno;
	/* Unlinked at once: the copy lives only as long as the answer. */
	unlink(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			saved = errno, close(fd);
		api_reply_fail(r, ST_API_GENERAL, st_errno(saved),
			   "backup: cannot read the copy in %s: %s", dir,
			   strerror(saved));
		return;
	}
	api_log(a, "backup made (%lld bytes)", (long long)st.st_size);
	st_http_reply_fd(r, 200, ST_API_CT_SQLITE, fd, (uint64_t)st.st_size);
}

struct flag_page {
	json_t *arr;
	size_t rows;
	int64_t last;
};

static int flag_row(void *ctx, const struct st_store_flag *f)
{
	struct flag_page *pg = ctx;
	pg->rows++;
	pg->last = f->id;
	json_t *o = json_object();
	json_object_set_new(o, "id", api_j_int(f->id));
	json_object_set_new(o, "kind", json_string(f->kind));
	json_object_set_new(o, "device", api_j_hex(f->device_id, 16));
	json_object_set_new(o, "seq", api_j_u64(f->seq));
	json_object_set_new(o, "created_s", api_j_int(f->created_s));
	return json_array_append_new(pg->arr, o) == 0 ? 0 : ST_E_NOMEM;
}

static void h_flags(struct st_api *a, struct st_http_req *r)
{
	struct flag_page pg = {.arr = json_array()};
	struct st_error e = {0};
	int rc = 0;
	pthread_mutex_lock(&a->store_mu);
	for (unsigned i = 0; i < ST_API_LIST_PAGES_MAX; i++) {
		pg.rows = 0;
		rc = st_store_flag_list(a->admin_store, pg.last,
					ST_STORE_LIST_MAX, flag_row, &pg, &e);
		if (rc < 0 || pg.rows < ST_STORE_LIST_MAX)
			break;
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		json_decref(pg.arr);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	api_reply_json(r, 200, json_pack("{s:o}", "flags", pg.arr));
}

/* ---- control: the kill switch ---- */

/* Whether a pause of scope/value covers a device (its id in hex, its
 * person's name and group). */
static bool covers(int scope, const char *value, const char *dev_hex,
		   const char *person, const char *group)
{
	switch (scope) {
	case ST_SCOPE_ALL: return true;
	case ST_SCOPE_GROUP: return group[0] && !strcmp(value, group);
	case ST_SCOPE_USER: return !strcmp(value, person);
	case ST_SCOPE_DEVICE: return !strcmp(value, dev_hex);
	default: return false;
	}
}

/* A device as the kill switch sees it. */
struct dview {
	uint64_t seq;                 /* its lease sequence */
	uint64_t newest_pause;        /* newest pause covering it (0: none) */
	const struct st_pause *pause; /* newest one in force (NULL: none) */
};

/* With ctl_mu held. */
static void view_of(const struct st_api *a, const char *dev_hex,
		    const char *person, const char *group, struct dview *v)
{
	v->seq = ST_STORE_EPOCH_FIRST;
	v->newest_pause = 0;
	v->pause = NULL;
	for (size_t i = 0; i < a->n_scopes; i++) {
		const struct ctl_scope *c = &a->scopes[i];
		if (!covers(c->scope, c->value, dev_hex, person, group))
			continue;
		if (c->last_event > v->seq)
			v->seq = c->last_event;
		if (c->last_pause > v->newest_pause)
			v->newest_pause = c->last_pause;
	}
	for (size_t i = 0; i < a->n_force; i++) {
		const struct st_pause *p = &a->force[i];
		if (covers(p->scope, p->value, dev_hex, person, group) &&
		    (!v->pause || p->epoch > v->pause->epoch))
			v->pause = p;
	}
}

/* The scope's entry, made when absent (NULL when out of memory). With
 * ctl_mu held. */
static struct ctl_scope *scope_get(struct st_api *a, int scope,
				   const char *value)
{
	for (size_t i = 0; i < a->n_scopes; i++)
		if (a->scopes[i].scope == scope &&
		    !strcmp(a->scopes[i].value, value))
			return &a->scopes[i];
	if (a->n_scopes == a->cap_scopes) {
		size_t cap = a->cap_scopes ? a->cap_scopes * 2 : 16;
		struct ctl_scope *n = realloc(a->scopes, cap * sizeof *n);
		if (!n)
			return NULL;
		a->scopes = n;
		a->cap_scopes = cap;
	}
	struct ctl_scope *c = &a->scopes[a->n_scopes++];
	memset(c, 0, sizeof *c);
	c->scope = scope;
	snprintf(c->value, sizeof c->value, "%s", value);
	return c;
}

static int force_add(struct st_api *a, const struct st_pause *p)
{
	if (a->n_force == a->cap_force) {
		size_t cap = a->cap_force ? a->cap_force * 2 : 16;
		struct st_pause *n = realloc(a->force, cap * sizeof *n);
		if (!n)
			return ST_E_NOMEM;
		a->force = n;
		a->cap_force = cap;
	}
	a->force[a->n_force++] = *p;
	return 0;
}

/* Takes a stored pause (or resume) into memory. With ctl_mu held. */
static int ctl_take(struct st_api *a, const struct st_pause *p)
{
	struct ctl_scope *c = scope_get(a, p->scope, p->value);
	if (!c)
		return ST_E_NOMEM;
	uint64_t ev = p->resumed_epoch > p->epoch ? p->resumed_epoch : p->epoch;
	if (ev > c->last_event)
		c->last_event = ev;
	if (p->epoch > c->last_pause)
		c->last_pause = p->epoch;
	if (ev > a->epoch)
		a->epoch = ev;
	return p->resumed_epoch ? 0 : force_add(a, p);
}

/* The device's entry (NULL when absent and !make, or out of memory).
 * Open addressing on the id's first 8 bytes: ids are random. With ctl_mu
 * held. */
static struct ctl_dev *dev_get(struct st_api *a, const uint8_t id[16],
			       bool make)
{
	if (a->dev_cap) {
		size_t m = a->dev_cap - 1;
		for (size_t i = st_le64(id) & m;; i = (i + 1) & m) {
			if (!a->devs[i].used)
				break;
			if (!memcmp(a->devs[i].id, id, 16))
				return &a->devs[i];
		}
	}
	if (!make)
		return NULL;
	if ((a->dev_n + 1) * 2 > a->dev_cap) { /* at most half full */
		size_t cap = a->dev_cap ? a->dev_cap * 2 : 1024;
		struct ctl_dev *n = calloc(cap, sizeof *n);
		if (!n)
			return NULL;
		for (size_t k = 0; k < a->dev_cap; k++) {
			if (!a->devs[k].used)
				continue;
			size_t i = st_le64(a->devs[k].id) & (cap - 1);
			while (n[i].used)
				i = (i + 1) & (cap - 1);
			n[i] = a->devs[k];
		}
		free(a->devs);
		a->devs = n;
		a->dev_cap = cap;
	}
	size_t m = a->dev_cap - 1;
	size_t i = st_le64(id) & m;
	while (a->devs[i].used)
		i = (i + 1) & m;
	struct ctl_dev *d = &a->devs[i];
	memset(d, 0, sizeof *d);
	memcpy(d->id, id, 16);
	d->used = true;
	a->dev_n++;
	return d;
}

/* The held list, oldest first: every poll is held for the same time, so
 * the first to expire is always at the head. With ctl_mu held. */
static void held_add(struct st_api *a, struct areq *q)
{
	q->prev = a->held_tail;
	q->next = NULL;
	if (a->held_tail)
		a->held_tail->next = q;
	else
		a->held_head = q;
	a->held_tail = q;
	q->held = true;
	atomic_store(&q->in_list, true);
	a->n_held++;
	struct ctl_dev *d = dev_get(a, q->dev, true);
	if (d)
		d->held++;
}

static void held_del(struct st_api *a, struct areq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		a->held_head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		a->held_tail = q->prev;
	q->prev = q->next = NULL;
	q->held = false;
	atomic_store(&q->in_list, false);
	a->n_held--;
	struct ctl_dev *d = dev_get(a, q->dev, false);
	if (d && d->held)
		d->held--;
}

/* Takes q off the list onto a chain of polls to resume (linked through
 * next). With ctl_mu held. */
static void held_take(struct st_api *a, struct areq *q, struct areq **chain)
{
	held_del(a, q);
	q->next = *chain;
	*chain = q;
}

/* Resumes a chain made by held_take, without ctl_mu: once resumed, a
 * request may be answered and freed at once, so next is read first. */
static void resume_chain(struct areq *q)
{
	while (q) {
		struct areq *next = q->next;
		q->next = NULL;
		st_http_resume(q->r);
		q = next;
	}
}

/* Every held poll a change of scope/value covers (scope 0: every one),
 * or of one device (dev non-NULL). O(held polls), once per change. */
static void wake(struct st_api *a, int scope, const char *value,
		 const uint8_t *dev)
{
	struct areq *chain = NULL;
	pthread_mutex_lock(&a->ctl_mu);
	for (struct areq *q = a->held_head, *next; q; q = next) {
		next = q->next;
		bool hit = dev ? !memcmp(q->dev, dev, 16)
			       : scope == 0 || covers(scope, value, q->dev_hex,
						      q->person, q->group);
		if (hit)
			held_take(a, q, &chain);
	}
	pthread_mutex_unlock(&a->ctl_mu);
	resume_chain(chain);
}

/* Stores the queued pause confirmations in one transaction (called with
 * ctl_mu held; releases it while writing). Whether it took a batch off the
 * queue (stored, or logged as not stored). */
static bool flush_confirms(struct st_api *a)
{
	size_t n = a->n_pconf;
	if (!n)
		return false;
	struct pending_confirm *batch = malloc(n * sizeof *batch);
	if (!batch)
		return false; /* kept queued: the next tick tries again */
	memcpy(batch, a->pconf, n * sizeof *batch);
	a->n_pconf = 0;
	pthread_mutex_unlock(&a->ctl_mu);
	struct st_error e = {0};
	bool *rec = calloc(n, sizeof *rec);
	pthread_mutex_lock(&a->store_mu);
	int rc = rec ? st_store_begin(a->admin_store, &e) : ST_E_NOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = st_store_pause_confirm(a->admin_store, batch[i].dev,
					    batch[i].epoch, batch[i].last_seq,
					    batch[i].t, &rec[i], &e);
	if (rc == 0)
		rc = st_store_commit(a->admin_store, &e);
	else if (st_store_in_tx(a->admin_store))
		st_store_rollback(a->admin_store, NULL);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0)
		api_log(a, "control: %zu pause confirmations not stored (they "
			 "hold until a restart): %s", n, e.msg);
	/* each confirmation was logged when it came (h_lease); here the
	 * batch is said stored, in one line */
	size_t stored = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		stored += rec[i];
	if (rc == 0 && stored)
		api_log(a, "stored %zu pause confirmations", stored);
	free(rec);
	free(batch);
	pthread_mutex_lock(&a->ctl_mu);
	return true;
}

uint64_t st_api_confirm_due(size_t queued, uint64_t first_ns,
			    uint64_t last_ns, uint64_t quiet_ns,
			    uint64_t batch_ns)
{
	if (!queued)
		return UINT64_MAX;
	/* half full: at once, before the queue overflows into one commit
	 * per confirmation on the HTTP thread */
	if (queued >= ST_API_CONFIRM_PENDING_MAX / 2)
		return 0;
	uint64_t quiet = last_ns + quiet_ns;
	uint64_t batch = first_ns + batch_ns;
	return quiet < batch ? quiet : batch;
}

/* With ctl_mu held. */
static uint64_t confirm_due(const struct st_api *a)
{
	return st_api_confirm_due(a->n_pconf, a->pconf_first_ns,
				  a->pconf_last_ns, a->confirm_quiet_ns,
				  a->confirm_batch_ns);
}

static void *ticker_main(void *arg)
{
	struct st_api *a = arg;
	uint64_t access_ns = 0; /* last audit checkpoint / sweep check */
	pthread_mutex_lock(&a->ctl_mu);
	while (!a->ticker_stop) {
		uint64_t now = st_mono_ns(a->clock);
		struct areq *chain = NULL;
		while (a->held_head && a->held_head->deadline_ns <= now)
			held_take(a, a->held_head, &chain);
		pthread_mutex_unlock(&a->ctl_mu);
		resume_chain(chain);
		if (now - access_ns >= 1000000000ull) {
			api_access_tick(a); /* takes store_mu: not under ctl_mu */
			access_ns = now;
		}
		if (a->log)
			fflush(a->log); /* access and confirmation lines */
		pthread_mutex_lock(&a->ctl_mu);
		/* a batch that could not be taken (out of memory) waits a
		 * tick */
		bool failed = confirm_due(a) <= st_mono_ns(a->clock) &&
			      !flush_confirms(a);
		if (a->ticker_stop)
			break;
		/* a tick; while a batch waits, until it is due or 10 ms (the
		 * "confirmed" lines go out that often) */
		uint64_t due = confirm_due(a);
		now = st_mono_ns(a->clock);
		uint64_t wait_ns = (uint64_t)ST_API_LEASE_TICK_MS * 1000000u;
		if (!failed && due != UINT64_MAX) {
			uint64_t log_ns = (uint64_t)ST_API_CONFIRM_LOG_MS *
					  1000000u;
			wait_ns = due <= now ? 0 : due - now;
			if (wait_ns > log_ns)
				wait_ns = log_ns;
		}
		if (wait_ns) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + wait_ns;
			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
			pthread_cond_timedwait(&a->tick_cv, &a->ctl_mu, &ts);
		}
	}
	flush_confirms(a); /* nothing believed is left unstored at a stop */
	if (a->log)
		fflush(a->log);
	pthread_mutex_unlock(&a->ctl_mu);
	return NULL;
}

void st_api_quiesce(struct st_api *a)
{
	if (!a)
		return;
	struct areq *chain = NULL;
	pthread_mutex_lock(&a->ctl_mu);
	a->ctl_closing = true;
	while (a->held_head)
		held_take(a, a->held_head, &chain);
	pthread_mutex_unlock(&a->ctl_mu);
	resume_chain(chain);
}

/* Loads the epoch, every pause and the confirmations of the newest pause
 * of each scope (the only ones ingest can ask about). */
struct ctl_load {
	struct st_api *a;
	int64_t last_id;
	size_t rows;
	int rc;
	uint8_t last_dev[16];
};

static int load_pause_row(void *ctx, const struct st_pause *p)
{
	struct ctl_load *l = ctx;
	l->rows++;
	l->last_id = p->id;
	return ctl_take(l->a, p) < 0 ? ST_E_NOMEM : 0;
}

static int load_confirm_row(void *ctx, const struct st_pause_confirm *c)
{
	struct ctl_load *l = ctx;
	l->rows++;
	memcpy(l->last_dev, c->device_id, 16);
	struct ctl_dev *d = dev_get(l->a, c->device_id, true);
	if (!d)
		return ST_E_NOMEM;
	if (c->epoch > d->conf_epoch) {
		d->conf_epoch = c->epoch;
		d->conf_last_seq = c->last_seq;
	}
	return 0;
}

static int ctl_load(struct st_api *a, struct st_error *err)
{
	struct st_store *s = a->admin_store;
	uint64_t e = 0;
	int rc = st_store_epoch_get(s, &e, err);
	if (rc < 0)
		return rc;
	a->epoch = e;
	struct ctl_load l = {.a = a};
	do {
		l.rows = 0;
		rc = st_store_pause_list(s, false, l.last_id, ST_STORE_LIST_MAX,
					 load_pause_row, &l, err);
	} while (rc == 0 && l.rows == ST_STORE_LIST_MAX);
	for (size_t i = 0; rc == 0 && i < a->n_scopes; i++) {
		uint64_t ep = a->scopes[i].last_pause;
		bool first = true;
		do {
			l.rows = 0;
			rc = st_store_pause_confirms_get(
				s, ep, first ? NULL : l.last_dev,
				ST_STORE_LIST_MAX, load_confirm_row, &l, err);
			first = false;
		} while (rc == 0 && l.rows == ST_STORE_LIST_MAX);
	}
	if (rc == 0 && a->epoch < e)
		a->epoch = e;
	return rc;
}

/* Ingest's step 9 (st_ingest_lease_fn), from memory alone. */
static int lease_check(void *ctx, const struct st_ingest_lease_q *q,
		       struct st_error *err)
{
	struct st_api *a = ctx;
	char hx[33];
	api_hex(q->device_id, 16, hx);
	struct dview v;
	pthread_mutex_lock(&a->ctl_mu);
	view_of(a, hx, q->person, q->group, &v);
	bool ok = v.newest_pause <= q->lease_seq;
	if (!ok) {
		const struct ctl_dev *d = dev_get(a, q->device_id, false);
		/* recorded before the pause, kept, and said so when the
		 * agent obeyed it */
		ok = d && d->conf_epoch == v.newest_pause &&
		     q->seq <= d->conf_last_seq;
	}
	pthread_mutex_unlock(&a->ctl_mu);
	if (ok)
		return 0;
	return st_fail(err, ST_E_PAUSED,
		       "recorded under lease %" PRIu64 ", older than the "
		       "pause of lease sequence %" PRIu64 " covering this "
		       "device, and not among the segments the agent kept "
		       "when it confirmed that pause; it is not stored",
		       q->lease_seq, v.newest_pause);
}

/* Signs and sends the device's lease as it stands now. */
static void lease_reply(struct st_api *a, struct st_http_req *r,
			struct areq *q)
{
	struct st_lease l;
	memset(&l, 0, sizeof l);
	int64_t t = api_now_s(a);
	struct dview v;
	bool revoked = false;
	pthread_mutex_lock(&a->ctl_mu);
	struct ctl_dev *d = dev_get(a, q->dev, true);
	revoked = d && d->revoked;
	view_of(a, q->dev_hex, q->person, q->group, &v);
	if (v.pause) {
		l.state = ST_LEASE_PAUSE;
		l.flags = v.pause->discard ? ST_LEASE_FLAG_DISCARD : 0;
		snprintf(l.reason, sizeof l.reason, "%s", v.pause->reason);
	} else {
		l.state = ST_LEASE_RECORD;
	}
	if (d && !revoked)
		d->last_answer_s = t;
	pthread_mutex_unlock(&a->ctl_mu);
	if (revoked) {
		struct st_error e = {0};
		api_reply_err(r, ST_API_DEVICE,
			      revoked_fail(&e, q->dev_hex), &e);
		return;
	}
	struct policy_cache pc;
	cache_get(a, &pc);
	memcpy(l.device_id, q->dev, 16);
	l.seq = v.seq;
	if (pc.have)
		memcpy(l.policy_hash, pc.hash, 32);
	memcpy(l.nonce, q->nonce, 16);
	l.validity_ms = a->validity_ms;
	l.issued_s = t;
	uint8_t buf[ST_LEASE_MAX];
	size_t len = 0;
	struct st_error e = {0};
	int rc = st_lease_sign(&l, a->lease_sk, buf, sizeof buf, &len, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	st_http_detail(r, "device=%s lease=%" PRIu64 " %s", q->dev_hex, l.seq,
		       l.state == ST_LEASE_PAUSE ? "pause" : "record");
	/* written out, not built with jansson: every value is base64, a
	 * number or a fixed word (nothing to escape), and at fleet size a
	 * pause answers 10,000 of these at once */
	char b64[sodium_base64_ENCODED_LEN(ST_LEASE_MAX,
					   sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, buf, len,
			  sodium_base64_VARIANT_ORIGINAL);
	char answer[sizeof b64 + 96];
	int n = snprintf(answer, sizeof answer,
			 "{\"lease\":\"%s\",\"seq\":%" PRIu64
			 ",\"state\":\"%s\"}",
			 b64, l.seq,
			 l.state == ST_LEASE_PAUSE ? "pause" : "record");
	if (n < 0 || (size_t)n >= sizeof answer) {
		api_reply_fail(r, ST_API_DEVICE, ST_E_CAP,
			       "lease: the answer does not fit; report this");
		return;
	}
	st_http_reply(r, 200, ST_API_CT_JSON, answer, (size_t)n);
}

/* Who polls: on a connection that an earlier verified poll of the same
 * device bound (st_http_bind), from memory alone; else the full check
 * (signature, time window, store), after which the connection is bound
 * and the device's person kept in its ctl_dev. Fills q's device, person
 * and group. A confirming poll thus costs no signature check and no
 * store read: what the kill switch needs at 10,000 agents. */
static int lease_auth(struct st_api *a, struct st_http_req *r, struct areq *q,
		      struct st_error *err)
{
	uint8_t id[16];
	int rc = req_device(r, id, q->dev_hex, err);
	if (rc < 0)
		return rc;
	memcpy(q->dev, id, 16);
	if (st_http_bound(r, id)) {
		bool known = false, revoked = false;
		pthread_mutex_lock(&a->ctl_mu);
		const struct ctl_dev *d = dev_get(a, id, false);
		if (d && d->who) {
			known = true;
			revoked = d->revoked;
			const char *g = d->who + strlen(d->who) + 1;
			snprintf(q->person, sizeof q->person, "%s", d->who);
			snprintf(q->group, sizeof q->group, "%s", g);
		}
		pthread_mutex_unlock(&a->ctl_mu);
		if (revoked)
			return revoked_fail(err, q->dev_hex);
		if (known)
			return 0;
	}
	struct st_device dev;
	struct st_person person;
	memset(&dev, 0, sizeof dev);
	pthread_mutex_lock(&a->store_mu);
	rc = device_auth(a, r, &dev, &person, err);
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0)
		return rc;
	memcpy(q->person, person.name, sizeof q->person);
	memcpy(q->group, person.group, sizeof q->group);
	size_t nl = strlen(person.name), gl = strlen(person.group);
	pthread_mutex_lock(&a->ctl_mu);
	struct ctl_dev *d = dev_get(a, id, true);
	bool revoked = d && d->revoked; /* revoked after the store read */
	if (d && !d->who && (d->who = malloc(nl + gl + 2))) {
		memcpy(d->who, person.name, nl + 1);
		memcpy(d->who + nl + 1, person.group, gl + 1);
	}
	pthread_mutex_unlock(&a->ctl_mu);
	if (revoked)
		return revoked_fail(err, q->dev_hex);
	st_http_bind(r, id);
	return 0;
}

/* POST /v1/device/lease: answers at once when the device's lease differs
 * from the one it holds, else holds the poll (suspended) until a change
 * covering the device or lease_hold_s. */
static void h_lease(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	struct st_error e = {0};
	int rc = lease_auth(a, r, q, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_lease_req lq;
	if ((rc = st_api_parse_lease(body, len, &lq, &e)) < 0) {
		api_reply_err(r, ST_API_DEVICE, rc, &e);
		return;
	}
	q->r = r;
	memcpy(q->nonce, lq.nonce, 16);
	q->have_seq = lq.have_seq;
	int64_t t = api_now_s(a);

	/* A confirmation counts for a pause that covers the device and that
	 * it has not confirmed yet; anything else is ignored (the lease
	 * answered below tells the agent where it stands). */
	bool record = false, received = false;
	struct dview v;
	pthread_mutex_lock(&a->ctl_mu);
	struct ctl_dev *d = dev_get(a, q->dev, true);
	if (d) {
		d->last_poll_s = t;
		d->agent_state = lq.state;
	}
	view_of(a, q->dev_hex, q->person, q->group, &v);
	if (lq.has_confirm && d && lq.confirm_seq > d->conf_epoch) {
		bool covering = lq.confirm_seq == v.newest_pause;
		for (size_t i = 0; !covering && i < a->n_force; i++)
			covering = a->force[i].epoch == lq.confirm_seq &&
				   covers(a->force[i].scope, a->force[i].value,
					  q->dev_hex, q->person, q->group);
		record = covering;
	}
	if (record && a->pconf && a->n_pconf < ST_API_CONFIRM_PENDING_MAX) {
		/* believed at once (ingest and the control view read
		 * ctl_dev); stored by the ticker when they stop coming
		 * (confirm_quiet_ms) or at most confirm_batch_ms later. A
		 * crash in between loses the confirmation: the device's
		 * segments from before the pause are then refused
		 * (`paused`), which fails closed. */
		d->conf_epoch = lq.confirm_seq;
		d->conf_last_seq = lq.confirm_last_seq;
		struct pending_confirm *pc = &a->pconf[a->n_pconf++];
		memcpy(pc->dev, q->dev, 16);
		memcpy(pc->dev_hex, q->dev_hex, sizeof pc->dev_hex);
		pc->epoch = lq.confirm_seq;
		pc->last_seq = lq.confirm_last_seq;
		pc->t = t;
		/* the ticker is woken by the first of a batch, to know when
		 * to store it (confirm_due), and when the queue is half
		 * full */
		a->pconf_last_ns = st_mono_ns(a->clock);
		if (a->n_pconf == 1)
			a->pconf_first_ns = a->pconf_last_ns;
		if (a->n_pconf == 1 ||
		    a->n_pconf == ST_API_CONFIRM_PENDING_MAX / 2)
			pthread_cond_broadcast(&a->tick_cv);
		record = false;
		received = true;
	}
	pthread_mutex_unlock(&a->ctl_mu);
	if (received && a->log)
		/* received: what the kill switch promises within a second
		 * (bench/control.sh counts these lines); the ticker flushes
		 * the log within a tick and says when it stored the batch
		 * ("stored N pause confirmations") */
		fprintf(a->log, "device %s confirmed the pause of lease "
				"sequence %" PRIu64 "\n",
			q->dev_hex, lq.confirm_seq);
	if (record) {
		/* the queue is full: store it here, as it comes */
		bool recorded = false;
		pthread_mutex_lock(&a->store_mu);
		rc = st_store_pause_confirm(a->admin_store, q->dev,
					    lq.confirm_seq, lq.confirm_last_seq,
					    t, &recorded, &e);
		pthread_mutex_unlock(&a->store_mu);
		if (rc < 0) {
			api_reply_err(r, ST_API_DEVICE, rc, &e);
			return;
		}
		pthread_mutex_lock(&a->ctl_mu);
		d = dev_get(a, q->dev, true);
		if (d && lq.confirm_seq > d->conf_epoch) {
			d->conf_epoch = lq.confirm_seq;
			/* an earlier confirmation stands; not knowing its
			 * answer, keep nothing rather than too much */
			d->conf_last_seq = recorded ? lq.confirm_last_seq : 0;
		}
		pthread_mutex_unlock(&a->ctl_mu);
		if (recorded) {
			api_log(a, "device %s confirmed the pause of lease "
				 "sequence %" PRIu64,
			      q->dev_hex, lq.confirm_seq);
			api_log(a, "stored 1 pause confirmations");
		}
	}

	pthread_mutex_lock(&a->ctl_mu);
	view_of(a, q->dev_hex, q->person, q->group, &v);
	bool now = q->have_seq == 0 || q->have_seq != v.seq || a->ctl_closing;
	if (!now) {
		/* registered and suspended under one lock: a change cannot
		 * slip between the look and the hold */
		q->deadline_ns = st_mono_ns(a->clock) +
				 (uint64_t)a->hold_s * 1000000000ull;
		held_add(a, q);
		st_http_suspend(r);
	}
	pthread_mutex_unlock(&a->ctl_mu);
	if (now)
		lease_reply(a, r, q);
}

/* ---- handlers: the kill switch, for administrators ---- */

/* What GET /v1/admin/control says of one pause. */
struct pview {
	struct st_pause p;
	uint64_t devices, confirmed, pending, offline;
	int64_t stop_by_s;
	json_t *pending_ids, *offline_ids;
};

struct person_key {
	uint8_t id[16];
	char name[ST_STORE_NAME_MAX + 1];
	char group[ST_STORE_GROUP_MAX + 1];
};

struct ctl_count {
	struct st_api *a;
	struct pview *pv;
	size_t n;
	struct person_key *people;
	size_t n_people, cap_people;
	size_t rows;
	uint8_t last[16];
	int64_t now_s;
};

static int person_key_row(void *ctx, const struct st_person *p)
{
	struct ctl_count *c = ctx;
	c->rows++;
	memcpy(c->last, p->id, 16);
	if (c->n_people == c->cap_people) {
		size_t cap = c->cap_people ? c->cap_people * 2 : 256;
		struct person_key *n = realloc(c->people, cap * sizeof *n);
		if (!n)
			return ST_E_NOMEM;
		c->people = n;
		c->cap_people = cap;
	}
	struct person_key *k = &c->people[c->n_people++];
	memcpy(k->id, p->id, 16);
	memcpy(k->name, p->name, sizeof k->name);
	memcpy(k->group, p->group, sizeof k->group);
	return 0;
}

static int cmp_person_key(const void *x, const void *y)
{
	return memcmp(((const struct person_key *)x)->id,
		      ((const struct person_key *)y)->id, 16);
}

/* One device against every pause viewed: with ctl_mu held. */
static int count_device_row(void *ctx, const struct st_device *dv)
{
	struct ctl_count *c = ctx;
	c->rows++;
	memcpy(c->last, dv->id, 16);
	if (!dv->active)
		return 0;
	struct person_key key;
	memcpy(key.id, dv->person_id, 16);
	const struct person_key *pk = bsearch(&key, c->people, c->n_people,
					      sizeof key, cmp_person_key);
	if (!pk)
		return 0;
	char hx[33];
	api_hex(dv->id, 16, hx);
	struct st_api *a = c->a;
	const struct ctl_dev *d = dev_get(a, dv->id, false);
	int64_t valid_s = (int64_t)(a->validity_ms + 999) / 1000;
	for (size_t i = 0; i < c->n; i++) {
		struct pview *v = &c->pv[i];
		if (!covers(v->p.scope, v->p.value, hx, pk->name, pk->group))
			continue;
		v->devices++;
		if (d && d->conf_epoch >= v->p.epoch) {
			v->confirmed++;
		} else if (d && (d->held ||
				 (d->last_answer_s &&
				  c->now_s - d->last_answer_s <= valid_s))) {
			v->pending++;
			if (json_array_size(v->pending_ids) <
			    ST_API_CONTROL_IDS_MAX)
				json_array_append_new(v->pending_ids,
						      json_string(hx));
		} else {
			v->offline++;
			int64_t stop = (d && d->last_answer_s
						? d->last_answer_s
						: a->started_s) + valid_s;
			if (stop > v->stop_by_s)
				v->stop_by_s = stop;
			if (json_array_size(v->offline_ids) <
			    ST_API_CONTROL_IDS_MAX)
				json_array_append_new(v->offline_ids,
						      json_string(hx));
		}
	}
	return 0;
}

static int count_page(void *ctx, const struct st_device *dv)
{
	struct ctl_count *c = ctx;
	pthread_mutex_lock(&c->a->ctl_mu);
	int rc = count_device_row(ctx, dv);
	pthread_mutex_unlock(&c->a->ctl_mu);
	return rc;
}

/* Counts, for each of n pauses, the active devices it covers and where
 * each stands: confirmed, pending (connected) or offline. Reads people and
 * devices from the store (an administrator's question, O(devices)). */
static int control_count(struct st_api *a, struct pview *pv, size_t n,
			 struct st_error *err)
{
	struct ctl_count c = {.a = a, .pv = pv, .n = n, .now_s = api_now_s(a)};
	for (size_t i = 0; i < n; i++) {
		pv[i].pending_ids = json_array();
		pv[i].offline_ids = json_array();
	}
	int rc = 0;
	pthread_mutex_lock(&a->store_mu);
	for (unsigned i = 0; rc == 0 && i < ST_API_LIST_PAGES_MAX; i++) {
		c.rows = 0;
		rc = st_store_person_list(a->admin_store, i ? c.last : NULL,
					  ST_STORE_LIST_MAX, person_key_row, &c,
					  err);
		if (c.rows < ST_STORE_LIST_MAX)
			break;
	}
	for (unsigned i = 0; rc == 0 && i < ST_API_LIST_PAGES_MAX; i++) {
		c.rows = 0;
		rc = st_store_device_list(a->admin_store, i ? c.last : NULL,
					  ST_STORE_LIST_MAX, count_page, &c,
					  err);
		if (c.rows < ST_STORE_LIST_MAX)
			break;
	}
	pthread_mutex_unlock(&a->store_mu);
	free(c.people);
	return rc;
}

static json_t *pview_json(const struct pview *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", api_j_int(v->p.id));
	json_object_set_new(o, "seq", api_j_u64(v->p.epoch));
	json_object_set_new(o, "scope", json_string(st_scope_name(v->p.scope)));
	json_object_set_new(o, "value", json_string(v->p.value));
	json_object_set_new(o, "reason", json_string(v->p.reason));
	json_object_set_new(o, "by", json_string(v->p.by));
	json_object_set_new(o, "since_s", api_j_int(v->p.created_s));
	json_object_set_new(o, "discard_unsent", json_boolean(v->p.discard));
	json_object_set_new(o, "devices", api_j_u64(v->devices));
	json_object_set_new(o, "confirmed", api_j_u64(v->confirmed));
	json_object_set_new(o, "pending", api_j_u64(v->pending));
	json_object_set_new(o, "offline", api_j_u64(v->offline));
	json_object_set_new(o, "offline_stop_by_s",
			    v->offline ? api_j_int(v->stop_by_s) : json_null());
	json_object_set_new(o, "pending_ids", json_incref(v->pending_ids));
	json_object_set_new(o, "offline_ids", json_incref(v->offline_ids));
	return o;
}

static void pviews_free(struct pview *pv, size_t n)
{
	for (size_t i = 0; pv && i < n; i++) {
		json_decref(pv[i].pending_ids);
		json_decref(pv[i].offline_ids);
	}
	free(pv);
}

/* Checks that the user or device a scope names exists (a pause of a typo
 * would stop no one and say it did). With store_mu held. */
static int scope_exists(struct st_api *a, const struct st_api_pause_req *q,
			struct st_error *err)
{
	if (q->scope == ST_SCOPE_USER) {
		struct st_person p;
		int rc = st_store_person_find(a->admin_store, q->value, &p,
					      err);
		if (rc == ST_E_NOT_FOUND)
			return st_fail(err, rc, "pause: no user \"%s\"; see "
				       "`sealtrace user list`", q->value);
		return rc;
	}
	if (q->scope == ST_SCOPE_DEVICE) {
		uint8_t id[16];
		size_t got = 0;
		struct st_device d;
		if (sodium_hex2bin(id, 16, q->value, 32, NULL, &got, NULL) ||
		    got != 16)
			return st_fail(err, ST_E_INVAL, "pause: bad device id");
		int rc = st_store_device_get(a->admin_store, id, &d, err);
		if (rc == ST_E_NOT_FOUND)
			return st_fail(err, rc, "pause: no device %s; see "
				       "`sealtrace device list`", q->value);
		return rc;
	}
	return 0;
}

static void h_pause(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_pause_req pq;
	struct st_error e = {0};
	int rc = st_api_parse_pause(body, len, &pq, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_pause p;
	memset(&p, 0, sizeof p);
	p.scope = pq.scope;
	memcpy(p.value, pq.value, sizeof p.value);
	memcpy(p.reason, pq.reason, sizeof p.reason);
	memcpy(p.by, q->token_name, sizeof p.by);
	p.discard = pq.discard;
	p.created_s = api_now_s(a);
	pthread_mutex_lock(&a->store_mu);
	rc = scope_exists(a, &pq, &e);
	if (rc == 0)
		rc = st_store_pause_add(a->admin_store, &p, &e);
	if (rc == 0) {
		/* memory follows the store under store_mu, so that two
		 * changes reach it in the order they were committed */
		pthread_mutex_lock(&a->ctl_mu);
		rc = ctl_take(a, &p);
		pthread_mutex_unlock(&a->ctl_mu);
		if (rc < 0)
			st_fail(&e, rc, "pause: stored as lease sequence %"
				PRIu64 " but not taken into memory; restart "
				"the server", p.epoch);
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	/* the fan-out first: counting devices can wait */
	wake(a, p.scope, p.value, NULL);
	api_log(a, "pause %" PRId64 " (lease sequence %" PRIu64 ", scope %s%s%s) "
		 "by %s",
	      p.id, p.epoch, st_scope_name(p.scope), p.value[0] ? " " : "",
	      p.value, p.by);
	/* one counting query, not the control view's walk of every device:
	 * the resumed polls wait for this thread until the answer is made */
	uint64_t devices = 0;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_scope_devices(a->admin_store, p.scope, p.value, &devices,
				    &e);
	pthread_mutex_unlock(&a->store_mu);
	json_t *j = json_object();
	json_object_set_new(j, "id", api_j_int(p.id));
	json_object_set_new(j, "seq", api_j_u64(p.epoch));
	json_object_set_new(j, "scope", json_string(st_scope_name(p.scope)));
	json_object_set_new(j, "value", json_string(p.value));
	json_object_set_new(j, "reason", json_string(p.reason));
	json_object_set_new(j, "discard_unsent", json_boolean(p.discard));
	/* the pause holds even when the count failed: null then */
	json_object_set_new(j, "devices",
			    rc == 0 ? api_j_u64(devices) : json_null());
	st_http_detail(r, "pause=%" PRId64 " seq=%" PRIu64, p.id, p.epoch);
	api_reply_json(r, 201, j);
}

static void h_resume(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	size_t len;
	const uint8_t *body = st_http_body(r, &len);
	struct st_api_pause_req pq;
	struct st_error e = {0};
	int rc = st_api_parse_resume(body, len, &pq, &e);
	if (rc < 0) {
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	struct st_resume rs;
	memset(&rs, 0, sizeof rs);
	rs.scope = pq.scope;
	memcpy(rs.value, pq.value, sizeof rs.value);
	memcpy(rs.by, q->token_name, sizeof rs.by);
	memcpy(rs.reason, pq.reason, sizeof rs.reason);
	rs.resumed_s = api_now_s(a);
	uint64_t epoch = 0, n = 0;
	pthread_mutex_lock(&a->store_mu);
	rc = st_store_resume(a->admin_store, &rs, &epoch, &n, &e);
	if (rc == 0) {
		pthread_mutex_lock(&a->ctl_mu);
		size_t k = 0;
		for (size_t i = 0; i < a->n_force; i++) {
			struct st_pause *p = &a->force[i];
			if (p->scope == rs.scope && !strcmp(p->value, rs.value))
				continue; /* ended */
			a->force[k++] = *p;
		}
		a->n_force = k;
		struct ctl_scope *c = scope_get(a, rs.scope, rs.value);
		if (c && epoch > c->last_event)
			c->last_event = epoch;
		if (epoch > a->epoch)
			a->epoch = epoch;
		pthread_mutex_unlock(&a->ctl_mu);
		if (!c)
			rc = st_fail(&e, ST_E_NOMEM, "resume: stored but not "
				     "taken into memory; restart the server");
	}
	pthread_mutex_unlock(&a->store_mu);
	if (rc < 0) {
		if (rc == ST_E_NOT_FOUND)
			st_fail(&e, rc, "resume: no pause of scope %s%s%s is in "
				"force; a resume ends the pauses of exactly the "
				"scope given (see `sealtrace status`)",
				st_scope_name(rs.scope), rs.value[0] ? " " : "",
				rs.value);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	wake(a, rs.scope, rs.value, NULL);
	api_log(a, "resume (lease sequence %" PRIu64 ", scope %s%s%s, %" PRIu64
		 " pause(s)) by %s",
	      epoch, st_scope_name(rs.scope), rs.value[0] ? " " : "",
	      rs.value, n, rs.by);
	st_http_detail(r, "resume seq=%" PRIu64, epoch);
	json_t *j = json_object();
	json_object_set_new(j, "seq", api_j_u64(epoch));
	json_object_set_new(j, "resumed", api_j_u64(n));
	api_reply_json(r, 200, j);
}

static void h_control(struct st_api *a, struct st_http_req *r)
{
	struct st_error e = {0};
	pthread_mutex_lock(&a->ctl_mu);
	size_t n = a->n_force;
	uint64_t epoch = a->epoch;
	struct pview *pv = calloc(n ? n : 1, sizeof *pv);
	for (size_t i = 0; pv && i < n; i++)
		pv[i].p = a->force[i];
	pthread_mutex_unlock(&a->ctl_mu);
	if (!pv) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOMEM,
			   "control: out of memory; retry");
		return;
	}
	int rc = control_count(a, pv, n, &e);
	if (rc < 0) {
		pviews_free(pv, n);
		api_reply_err(r, ST_API_GENERAL, rc, &e);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, pview_json(&pv[i]));
	pviews_free(pv, n);
	json_t *j = json_object();
	json_object_set_new(j, "epoch", api_j_u64(epoch));
	json_object_set_new(j, "lease_validity_ms", api_j_u64(a->validity_ms));
	json_object_set_new(j, "pauses", arr);
	api_reply_json(r, 200, j);
}

/* ---- routing: the permission table ---- */

enum auth { AUTH_NONE, AUTH_DEVICE, AUTH_TOKEN };

#define RA ST_ROLE_BIT(ST_ROLE_ADMIN)
#define RO ST_ROLE_BIT(ST_ROLE_OFFICER)
#define RS ST_ROLE_BIT(ST_ROLE_STEWARD)
#define RU ST_ROLE_BIT(ST_ROLE_AUDITOR)
#define RP ST_ROLE_BIT(ST_ROLE_PERSON)

/* Every endpoint, the one place that says who may call it: a token route
 * lists the roles allowed per method; a role not listed, a method not
 * listed and a path not listed are all refused (deny by default). Device
 * routes take a device-signed request instead; AUTH_NONE routes are
 * public or carry their own proof (an enrollment token, a signed
 * segment). GET /v1/access also lets a person read their own history
 * only: its handler compares the person, not the token. The CLI's
 * commands each call one of these (docs/security.md lists them). */
static const struct route_def {
	const char *path;
	enum route get;
	unsigned get_roles;
	enum route post;
	unsigned post_roles;
	enum auth auth;
	const char *post_type;
	/* the command (of `sealtrace`, or of `sealtrace-export` when it
	 * says so) that calls the GET and the POST: its permission is the
	 * endpoint's */
	const char *get_cmd, *post_cmd;
} routes[] = {
	{"/v1/health", R_HEALTH, 0, R_NONE, 0, AUTH_NONE, NULL, NULL, NULL},
	{"/v1/ca", R_CA, 0, R_NONE, 0, AUTH_NONE, NULL, NULL, NULL},
	{"/v1/enroll", R_NONE, 0, R_ENROLL, 0, AUTH_NONE, ST_API_CT_JSON, NULL, NULL},
	{"/v1/segments", R_NONE, 0, R_SEGMENTS, 0, AUTH_NONE,
	 ST_API_CT_SEGMENT, NULL, NULL},
	{"/v1/device/policy", R_DEV_POLICY, 0, R_NONE, 0, AUTH_DEVICE, NULL, NULL, NULL},
	{"/v1/device/acceptances", R_NONE, 0, R_DEV_ACCEPT, 0, AUTH_DEVICE,
	 ST_API_CT_JSON, NULL, NULL},
	{"/v1/device/forget", R_NONE, 0, R_DEV_FORGET, 0, AUTH_DEVICE,
	 ST_API_CT_JSON, NULL, NULL},
	{"/v1/device/lease", R_NONE, 0, R_DEV_LEASE, 0, AUTH_DEVICE,
	 ST_API_CT_JSON, NULL, NULL},
	{"/v1/admin/status", R_A_STATUS, RA | RO, R_NONE, 0, AUTH_TOKEN,
	 NULL, "status", NULL},
	{"/v1/admin/users", R_A_USERS_LIST, RA | RO, R_A_USERS_ADD, RA,
	 AUTH_TOKEN, ST_API_CT_JSON, "user list", "user add"},
	{"/v1/admin/devices", R_A_DEVICES, RA, R_NONE, 0, AUTH_TOKEN, NULL, "device list", NULL},
	{"/v1/admin/enroll-tokens", R_NONE, 0, R_A_ETOKENS, RA, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "enroll-token"},
	{"/v1/admin/policy", R_A_POLICY_GET, RA | RO | RS | RU,
	 R_A_POLICY_APPLY, RA | RO, AUTH_TOKEN, ST_API_CT_JSON, NULL, "policy apply"},
	{"/v1/admin/backup", R_NONE, 0, R_A_BACKUP, RA, AUTH_TOKEN, NULL, NULL, "backup"},
	{"/v1/admin/flags", R_A_FLAGS, RA, R_NONE, 0, AUTH_TOKEN, NULL, NULL, NULL},
	{"/v1/admin/pause", R_NONE, 0, R_A_PAUSE, RA | RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "pause"},
	{"/v1/admin/resume", R_NONE, 0, R_A_RESUME, RA | RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "resume"},
	{"/v1/admin/control", R_A_CONTROL, RA | RO, R_NONE, 0, AUTH_TOKEN,
	 NULL, "status", NULL},
	{"/v1/tokens", R_TOKENS_LIST, RA | RO, R_TOKENS_CREATE, RA | RO,
	 AUTH_TOKEN, ST_API_CT_JSON, "token list", "token create"},
	{"/v1/tokens/revoke", R_NONE, 0, R_TOKENS_REVOKE, RA | RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "token revoke"},
	{"/v1/tokens/approve", R_NONE, 0, R_TOKENS_APPROVE, RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "token approve"},
	{"/v1/purposes", R_PURPOSES_LIST, RO | RS | RU, R_PURPOSES_PROPOSE, RS,
	 AUTH_TOKEN, ST_API_CT_JSON, "purpose list", "purpose propose"},
	{"/v1/purposes/approve", R_NONE, 0, R_PURPOSES_APPROVE, RO,
	 AUTH_TOKEN, ST_API_CT_JSON, NULL, "purpose approve"},
	{"/v1/purposes/revoke", R_NONE, 0, R_PURPOSES_REVOKE, RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "purpose revoke"},
	{"/v1/audit/entries", R_AUDIT_ENTRIES, RO | RU, R_NONE, 0, AUTH_TOKEN,
	 NULL, "audit list", NULL},
	{"/v1/audit/checkpoint", R_NONE, 0, R_AUDIT_CHECKPOINT, RO | RU,
	 AUTH_TOKEN, NULL, NULL, "audit checkpoint"},
	{"/v1/audit/proof", R_AUDIT_PROOF, RO | RU, R_NONE, 0, AUTH_TOKEN,
	 NULL, "audit verify", NULL},
	{"/v1/access", R_PERSON_ACCESS, RO | RU | RP, R_NONE, 0, AUTH_TOKEN,
	 NULL, "access", NULL},
	{"/v1/erase", R_NONE, 0, R_ERASE, RO, AUTH_TOKEN, ST_API_CT_JSON, NULL, "erase"},
	{"/v1/retention/sweep", R_NONE, 0, R_SWEEP, RA | RO, AUTH_TOKEN,
	 NULL, NULL, "retention sweep"},
	{"/v1/keys/people", R_KEYS_PEOPLE, RO, R_NONE, 0, AUTH_TOKEN, NULL, "sealtrace-export rotate", NULL},
	{"/v1/keys/rotate", R_NONE, 0, R_KEYS_ROTATE, RO, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "sealtrace-export rotate"},
	{"/v1/exports", R_NONE, 0, R_EXPORT_START, RS, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "sealtrace-export dataset"},
	{"/v1/exports/segment", R_EXPORT_SEGMENT, RS, R_NONE, 0, AUTH_TOKEN,
	 NULL, "sealtrace-export dataset", NULL},
	{"/v1/exports/finish", R_NONE, 0, R_EXPORT_FINISH, RS, AUTH_TOKEN,
	 ST_API_CT_JSON, NULL, "sealtrace-export dataset"},
	/* matched by match() below: the id is in the path */
	{"/v1/admin/devices/{id}/revoke", R_NONE, 0, R_A_REVOKE, RA,
	 AUTH_TOKEN, NULL, NULL, "device revoke"},
};

int st_api_command_roles(const char *command, unsigned *roles,
			 const char **method, const char **path)
{
	for (size_t i = 0; command && i < sizeof routes / sizeof routes[0];
	     i++) {
		const struct route_def *t = &routes[i];
		bool g = t->get_cmd && !strcmp(t->get_cmd, command);
		bool p = t->post_cmd && !strcmp(t->post_cmd, command);
		if (!g && !p)
			continue;
		if (roles)
			*roles = g ? t->get_roles : t->post_roles;
		if (method)
			*method = g ? "GET" : "POST";
		if (path)
			*path = t->path;
		return 0;
	}
	return ST_E_NOT_FOUND;
}

struct route_info {
	enum route route;
	enum auth auth;
	unsigned roles;        /* AUTH_TOKEN: the roles allowed */
	const char *body_type; /* required Content-Type, or NULL */
};

/* The route of method + path; R_NONE with *status 404 or 405. */
static struct route_info match(const char *method, const char *path,
			       uint8_t id[16], unsigned *status)
{
	struct route_info ri = {R_NONE, AUTH_NONE, 0, NULL};
	bool get = strcmp(method, "GET") == 0;
	bool post = strcmp(method, "POST") == 0;
	*status = 404;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route_def *t = &routes[i];
		if (strchr(t->path, '{') || strcmp(path, t->path) != 0)
			continue;
		ri.auth = t->auth;
		if (get && t->get != R_NONE) {
			ri.route = t->get;
			ri.roles = t->get_roles;
		} else if (post && t->post != R_NONE) {
			ri.route = t->post;
			ri.roles = t->post_roles;
			ri.body_type = t->post_type;
		} else {
			*status = 405;
		}
		return ri;
	}
	static const char pre[] = "/v1/admin/devices/";
	static const char suf[] = "/revoke";
	size_t pl = sizeof pre - 1, sl = sizeof suf - 1;
	if (strncmp(path, pre, pl) == 0 && strlen(path) == pl + 32 + sl &&
	    strcmp(path + pl + 32, suf) == 0) {
		size_t got = 0;
		const char *end = NULL;
		if (sodium_hex2bin(id, 16, path + pl, 32, NULL, &got, &end) ||
		    got != 16)
			return ri;
		ri.auth = AUTH_TOKEN;
		for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
			if (routes[i].post == R_A_REVOKE)
				ri.roles = routes[i].post_roles;
		if (post)
			ri.route = R_A_REVOKE;
		else
			*status = 405;
	}
	return ri;
}

/* "application/json" or "application/json; charset=utf-8". */
static bool type_is(const char *have, const char *want)
{
	if (!have)
		return false;
	size_t n = strlen(want);
	if (strncasecmp(have, want, n) != 0)
		return false;
	have += n;
	while (*have == ' ')
		have++;
	return *have == 0 || *have == ';';
}

static void on_headers(struct st_api *a, struct st_http_req *r)
{
	unsigned status = 404;
	uint8_t id[16] = {0};
	const char *path = st_http_path(r);
	struct route_info ri = match(st_http_method(r), path, id, &status);
	if (ri.route == R_NONE) {
		if (status == 405) {
			char msg[ST_ERROR_MSG_MAX];
			char m[16];
			size_t i = 0;
			for (const char *p = st_http_method(r); p[i] && i < 15;
			     i++)
				m[i] = (p[i] > 0x20 && p[i] < 0x7f) ? p[i] : '?';
			m[i] = 0;
			snprintf(msg, sizeof msg,
				 "%s: method %s not allowed on this path; see "
				 "docs/api.md",
				 path, m);
			st_http_reply_error(r, 405, ST_E_INVAL, msg);
		} else {
			st_http_reply_error(r, 404, ST_E_NOT_FOUND,
					    "no such path; see docs/api.md");
		}
		return;
	}
	struct st_token tok;
	memset(&tok, 0, sizeof tok);
	char actor[ST_STORE_AUDIT_ACTOR_MAX + 1] = "";
	if (ri.auth == AUTH_TOKEN) {
		struct st_error e = {0};
		pthread_mutex_lock(&a->store_mu);
		int rc = token_auth(a, r, &tok, &e);
		if (rc == 0)
			rc = api_actor(a, &tok, actor, &e);
		enum st_role role;
		bool allowed = rc == 0 &&
			       st_role_parse(tok.role, &role, NULL) == 0 &&
			       (ri.roles & ST_ROLE_BIT(role));
		if (rc == 0 && !allowed) {
			rc = st_fail(&e, ST_E_FORBIDDEN,
				     "%s %s: the role \"%s\" may not do this; "
				     "ask for a token with a role that may "
				     "(docs/security.md, \"Roles\")",
				     st_http_method(r), path, tok.role);
			struct areq dq;
			memset(&dq, 0, sizeof dq);
			dq.token = tok;
			memcpy(dq.actor, actor, sizeof dq.actor);
			api_audit_now(a, &dq, "denied", path, "", rc);
		}
		pthread_mutex_unlock(&a->store_mu);
		if (rc < 0) {
			api_reply_err(r, ST_API_GENERAL, rc, &e);
			return;
		}
	}
	if (ri.body_type &&
	    !type_is(st_http_header(r, "Content-Type"), ri.body_type)) {
		api_reply_fail(r, ri.route == R_SEGMENTS ? ST_API_SEGMENT
						      : ST_API_GENERAL,
			   ST_E_CONTENT_TYPE,
			   "%s: send Content-Type: %s", path, ri.body_type);
		return;
	}
	struct areq *q = calloc(1, sizeof *q);
	if (!q) {
		api_reply_fail(r, ST_API_GENERAL, ST_E_NOMEM,
			   "server: out of memory; retry later");
		return;
	}
	q->route = ri.route;
	memcpy(q->path_id, id, 16);
	memcpy(q->token_name, tok.name, sizeof q->token_name);
	q->token = tok;
	memcpy(q->actor, actor, sizeof q->actor);
	*st_http_user(r) = q;
}

static void on_body(struct st_api *a, struct st_http_req *r, struct areq *q)
{
	switch (q->route) {
	case R_HEALTH: h_health(a, r); break;
	case R_CA: h_ca(a, r); break;
	case R_ENROLL: h_enroll(a, r); break;
	case R_SEGMENTS: h_segment_body(a, r, q); break;
	case R_DEV_POLICY: case R_DEV_ACCEPT: case R_DEV_FORGET:
		h_device(a, r, q->route);
		break;
	case R_A_STATUS: h_status(a, r); break;
	case R_A_USERS_ADD: h_user_add(a, r); break;
	case R_A_USERS_LIST: h_user_list(a, r); break;
	case R_A_DEVICES: h_device_list(a, r); break;
	case R_A_REVOKE: h_revoke(a, r, q->path_id); break;
	case R_A_ETOKENS: h_enroll_token(a, r); break;
	case R_A_POLICY_GET: h_policy_get(a, r); break;
	case R_A_POLICY_APPLY: h_policy_apply(a, r); break;
	case R_A_BACKUP: h_backup(a, r); break;
	case R_A_FLAGS: h_flags(a, r); break;
	case R_DEV_LEASE: h_lease(a, r, q); break;
	case R_A_PAUSE: h_pause(a, r, q); break;
	case R_A_RESUME: h_resume(a, r, q); break;
	case R_A_CONTROL: h_control(a, r); break;
	case R_TOKENS_LIST: case R_TOKENS_CREATE: case R_TOKENS_REVOKE:
	case R_TOKENS_APPROVE: case R_PURPOSES_LIST: case R_PURPOSES_PROPOSE:
	case R_PURPOSES_APPROVE: case R_PURPOSES_REVOKE: case R_AUDIT_ENTRIES:
	case R_AUDIT_CHECKPOINT: case R_AUDIT_PROOF: case R_PERSON_ACCESS:
	case R_ERASE: case R_SWEEP: case R_KEYS_PEOPLE: case R_KEYS_ROTATE:
		api_access_handle(a, r, q);
		break;
	case R_EXPORT_START: case R_EXPORT_SEGMENT: case R_EXPORT_FINISH:
		api_export_handle(a, r, q);
		break;
	case R_NONE: break;
	}
}

void st_api_handle(void *ctx, struct st_http_req *r, enum st_http_phase ph)
{
	struct st_api *a = ctx;
	struct areq *q = *st_http_user(r);
	switch (ph) {
	case ST_HTTP_HEADERS:
		on_headers(a, r);
		break;
	case ST_HTTP_BODY:
		if (q)
			on_body(a, r, q);
		break;
	case ST_HTTP_RESUMED:
		if (q && q->route == R_DEV_LEASE)
			lease_reply(a, r, q);
		else if (q)
			h_segment_done(a, r, q);
		break;
	case ST_HTTP_DONE:
		/* A held poll is taken off the list before it is resumed, so
		 * it is on it here only when the connection ended while
		 * suspended (a daemon stopped without st_api_quiesce). */
		if (q && atomic_load(&q->in_list)) {
			pthread_mutex_lock(&a->ctl_mu);
			if (q->held)
				held_del(a, q);
			pthread_mutex_unlock(&a->ctl_mu);
		}
		free(q);
		*st_http_user(r) = NULL;
		break;
	}
}

/* ---- life ---- */

int st_api_new(const struct st_api_cfg *c, struct st_api **out,
	       struct st_error *err)
{
	*out = NULL;
	struct st_api *a = calloc(1, sizeof *a);
	if (!a) {
		st_store_close(c->ingest_store);
		st_store_close(c->admin_store);
		st_store_close(c->check_store);
		return st_fail(err, ST_E_NOMEM, "server: out of memory");
	}
	a->cfg = c->cfg;
	a->clock = c->clock ? c->clock : &st_clock_system;
	a->log = c->log;
	a->admin_store = c->admin_store;
	a->ingest_store = c->ingest_store;
	a->check_store = c->check_store;
	a->started_s = api_now_s(a);
	pthread_mutex_init(&a->store_mu, NULL);
	pthread_mutex_init(&a->pol_mu, NULL);
	pthread_mutex_init(&a->q_mu, NULL);
	pthread_cond_init(&a->q_cv, NULL);
	pthread_mutex_init(&a->h_mu, NULL);
	pthread_cond_init(&a->h_cv, NULL);
	pthread_mutex_init(&a->ctl_mu, NULL);
	pthread_cond_init(&a->tick_cv, NULL);
	a->pconf = calloc(ST_API_CONFIRM_PENDING_MAX, sizeof *a->pconf);
	a->validity_ms = c->cfg->lease_validity_ms
				 ? c->cfg->lease_validity_ms
				 : ST_CFG_LEASE_VALIDITY_DEFAULT_MS;
	a->hold_s = c->cfg->lease_hold_s ? c->cfg->lease_hold_s
					 : ST_CFG_LEASE_HOLD_DEFAULT_S;
	a->confirm_quiet_ns = (uint64_t)(c->cfg->confirm_quiet_ms
						 ? c->cfg->confirm_quiet_ms
						 : ST_CFG_CONFIRM_QUIET_DEFAULT_MS) *
			      1000000u;
	a->confirm_batch_ns = (uint64_t)(c->cfg->confirm_batch_ms
						 ? c->cfg->confirm_batch_ms
						 : ST_CFG_CONFIRM_BATCH_DEFAULT_MS) *
			      1000000u;
	a->icfg.lease_check = lease_check;
	a->icfg.lease_ctx = a;
	a->icfg.clock = a->clock;
	a->icfg.window_past_s = c->cfg->ingest_window_past_s;
	a->icfg.window_future_s = c->cfg->ingest_window_future_s;

	int rc = 0;
	bool mem = true;
	for (int i = 0; i < 2; i++) {
		struct stage *sg = &a->stage[i];
		sg->batch = calloc(ST_INGEST_BATCH_MAX, sizeof *sg->batch);
		sg->items = calloc(ST_INGEST_BATCH_MAX, sizeof *sg->items);
		sg->res = calloc(ST_INGEST_BATCH_MAX, sizeof *sg->res);
		mem = mem && sg->batch && sg->items && sg->res;
	}
	a->bl = calloc(ST_INGEST_BATCH_MAX, sizeof *a->bl);
	if (mem && st_ingest_cache_new(&a->icfg.cache) < 0)
		mem = false;
	if (!mem || !a->bl || !a->check_store) {
		rc = st_fail(err, ST_E_NOMEM, "server: out of memory");
		goto fail;
	}
	if (!c->cfg->plain_http || access(c->cfg->tls_ca, R_OK) == 0) {
		rc = st_tls_cert_der(c->cfg->tls_ca, &a->ca_der,
				     &a->ca_der_len, a->ca_fp, err);
		if (rc < 0)
			goto fail;
	}
	rc = st_key_read(c->cfg->lease_pub, ST_KEY_LEASE_PUBLIC, a->lease_pk,
			 32, false, err);
	if (rc < 0)
		goto fail;
	st_fingerprint(a->lease_pk, 32, a->lease_fp);
	if (a->validity_ms < ST_CFG_LEASE_VALIDITY_MIN_MS ||
	    a->validity_ms > ST_LEASE_VALIDITY_MAX_MS ||
	    (uint64_t)a->hold_s * 1000u >= a->validity_ms) {
		rc = st_fail(err, ST_E_INVAL,
			     "config: lease_hold_s %u s must be below "
			     "lease_validity_ms %u ms (1000..%u)",
			     a->hold_s, a->validity_ms, ST_LEASE_VALIDITY_MAX_MS);
		goto fail;
	}
	/* The lease key's secret: locked memory, for the server's life. */
	a->lease_sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!a->lease_sk) {
		rc = st_fail(err, ST_E_NOMEM,
			     "server: no locked memory for the lease key");
		goto fail;
	}
	rc = st_key_read(c->cfg->lease_key, ST_KEY_LEASE_SECRET, a->lease_sk,
			 ST_SIGN_SK_LEN, true, err);
	if (rc < 0)
		goto fail;
	/* An Ed25519 secret carries its public half: a mismatch would sign
	 * leases no enrolled agent believes. */
	if (sodium_memcmp(a->lease_sk + 32, a->lease_pk, 32) != 0) {
		rc = st_fail(err, ST_E_KEY_FORMAT,
			     "lease key %s does not belong to %s; restore the "
			     "pair agents pinned at enrollment",
			     c->cfg->lease_key, c->cfg->lease_pub);
		goto fail;
	}
	rc = st_key_read(c->cfg->master_public, ST_KEY_MASTER_PUBLIC,
			 a->master_pk, 32, false, err);
	if (rc < 0)
		goto fail;

	struct st_store_policy p;
	memset(&p, 0, sizeof p);
	rc = st_store_policy_get_current(a->admin_store, &p, err);
	if (rc == 0) {
		a->pol.have = true;
		memcpy(a->pol.hash, p.hash, 32);
		memcpy(a->pol.notice_hash, p.notice_hash, 32);
		a->pol.applied_s = 0; /* unknown here: the row's time is used */
		st_store_policy_fini(&p);
	} else if (rc != ST_E_NOT_FOUND) {
		goto fail;
	}
	if ((rc = ctl_load(a, err)) < 0) {
		st_error_prefix(err, "control state: ");
		goto fail;
	}
	if ((rc = api_access_start(a, err)) < 0)
		goto fail;
	rc = pthread_create(&a->ticker, NULL, ticker_main, a);
	if (rc != 0) {
		rc = st_fail(err, st_errno(rc),
			     "server: cannot start the lease ticker");
		goto fail;
	}
	a->ticker_up = true;
	rc = pthread_create(&a->writer, NULL, writer_main, a);
	if (rc != 0) {
		rc = st_fail(err, st_errno(rc),
			     "server: cannot start the ingest writer");
		goto fail;
	}
	a->writer_up = true;
	rc = pthread_create(&a->committer, NULL, committer_main, a);
	if (rc != 0) {
		rc = st_fail(err, st_errno(rc),
			     "server: cannot start the ingest checker");
		goto fail;
	}
	a->committer_up = true;
	*out = a;
	return 0;
fail:
	st_api_free(a);
	return rc;
}

void st_api_drain(struct st_api *a)
{
	if (!a)
		return;
	st_api_quiesce(a);
	if (a->ticker_up) {
		pthread_mutex_lock(&a->ctl_mu);
		a->ticker_stop = true;
		pthread_cond_broadcast(&a->tick_cv);
		pthread_mutex_unlock(&a->ctl_mu);
		pthread_join(a->ticker, NULL);
		a->ticker_up = false;
	}
	pthread_mutex_lock(&a->q_mu);
	a->draining = true;
	pthread_cond_broadcast(&a->q_cv);
	pthread_mutex_unlock(&a->q_mu);
	if (a->committer_up) {
		pthread_join(a->committer, NULL);
		a->committer_up = false;
	} else {
		/* the checker never ran: the writer must not wait for it */
		pthread_mutex_lock(&a->h_mu);
		a->checker_done = true;
		pthread_cond_broadcast(&a->h_cv);
		pthread_mutex_unlock(&a->h_mu);
	}
	if (a->writer_up) {
		pthread_join(a->writer, NULL);
		a->writer_up = false;
	}
}

void st_api_free(struct st_api *a)
{
	if (!a)
		return;
	st_api_drain(a);
	st_store_close(a->ingest_store);
	st_store_close(a->admin_store);
	st_store_close(a->check_store);
	free(a->pconf);
	free(a->ca_der);
	for (int i = 0; i < 2; i++) {
		st_ingest_prep_free(a->stage[i].prep);
		free(a->stage[i].batch);
		free(a->stage[i].items);
		free(a->stage[i].res);
	}
	free(a->bl);
	st_ingest_cache_free(a->icfg.cache);
	st_secret_free(a->lease_sk);
	st_auditlog_free(a->audit);
	free(a->scopes);
	free(a->force);
	for (size_t i = 0; i < a->dev_cap; i++)
		free(a->devs[i].who);
	free(a->devs);
	pthread_cond_destroy(&a->tick_cv);
	pthread_mutex_destroy(&a->ctl_mu);
	pthread_cond_destroy(&a->h_cv);
	pthread_mutex_destroy(&a->h_mu);
	pthread_cond_destroy(&a->q_cv);
	pthread_mutex_destroy(&a->q_mu);
	pthread_mutex_destroy(&a->pol_mu);
	pthread_mutex_destroy(&a->store_mu);
	free(a);
}
