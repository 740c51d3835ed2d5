/* rotate.c - master rotation: list, re-seal, post (see rotate.h).
 *
 * Order matters for custody: the listing is fetched first, with no secret
 * loaded; the master is then loaded, used to re-seal everyone and wiped;
 * only then is the request sent. A person's plain secret lives in one
 * locked 32-byte buffer, wiped after each person. */
#include "export/rotate.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/client.h"

#define USAGE_E (-EINVAL)
#define B64_LEN sodium_base64_ENCODED_LEN(ST_MASTER_SEALED_LEN, \
					  sodium_base64_VARIANT_ORIGINAL)

/* ---- where the server is ---- */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* http:// carries the token in clear: only to this host. */
static bool loopback_url(const char *url)
{
	const char *h = url + 7;
	size_t n = strcspn(h, "/");
	char host[256];
	if (n >= sizeof host)
		return false;
	memcpy(host, h, n);
	host[n] = 0;
	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5) && (!host[5] || host[5] == ':');
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = 0;
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4);
}

int st_rotate_target_resolve(struct st_rotate_target *t, struct st_error *err)
{
	if (!t->url)
		t->url = env_nonempty("SEALTRACE_URL");
	if (!t->token)
		t->token = env_nonempty("SEALTRACE_TOKEN");
	if (!t->ca)
		t->ca = env_nonempty("SEALTRACE_CA");
	if (!t->url)
		return st_fail(err, USAGE_E, "no server URL: give --url "
			       "https://HOST:PORT or set SEALTRACE_URL");
	if (!t->token)
		return st_fail(err, USAGE_E, "no token: set SEALTRACE_TOKEN to a "
			       "privacy officer's token (or give --token)");
	if (strlen(t->token) > ST_ROTATE_TOKEN_MAX)
		return st_fail(err, USAGE_E, "the token is over %d bytes",
			       ST_ROTATE_TOKEN_MAX);
	bool https = !strncmp(t->url, "https://", 8);
	bool http = !strncmp(t->url, "http://", 7);
	if (!https && !http)
		return st_fail(err, USAGE_E, "URL %.300s: must start with "
			       "https://", t->url);
	if (http && !loopback_url(t->url))
		return st_fail(err, USAGE_E, "URL %.300s: plain http would send "
			       "the token in clear; use https:// (http:// only "
			       "to a loopback address)", t->url);
	return 0;
}

/* ---- the listing ---- */

void st_rotate_list_init(struct st_rotate_list *l)
{
	memset(l, 0, sizeof *l);
}

void st_rotate_list_fini(struct st_rotate_list *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

static bool is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static bool hex_bytes(const char *s, uint8_t *out, size_t n)
{
	return is_hex(s, 2 * n) &&
	       sodium_hex2bin(out, n, s, 2 * n, NULL, NULL, NULL) == 0;
}

static bool b64_sealed(const char *s, uint8_t out[ST_MASTER_SEALED_LEN])
{
	size_t n = 0;
	if (!s || strlen(s) > B64_LEN)
		return false;
	if (sodium_base642bin(out, ST_MASTER_SEALED_LEN, s, strlen(s), NULL, &n,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 &&
	    sodium_base642bin(out, ST_MASTER_SEALED_LEN, s, strlen(s), NULL, &n,
			      NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
		return false;
	return n == ST_MASTER_SEALED_LEN;
}

static void hex16(const uint8_t *pk, char out[17])
{
	sodium_bin2hex(out, 17, pk, 8);
}

int st_rotate_parse_page(const uint8_t *body, size_t len,
			 struct st_rotate_list *l, char next[33],
			 struct st_error *err)
{
	next[0] = 0;
	json_error_t je;
	json_t *root = json_loadb((const char *)body, len,
				  JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (!json_is_object(root)) {
		rc = st_fail(err, ST_E_JSON, "the people listing is not a JSON "
			     "object%s%s: is this a sealtrace server with the "
			     "/v1/keys API?", root ? "" : ": ",
			     root ? "" : je.text);
		goto out;
	}
	uint8_t mpk[ST_BOX_PK_LEN];
	const char *ms = json_string_value(json_object_get(root, "master_public"));
	json_t *people = json_object_get(root, "people");
	json_t *nx = json_object_get(root, "next");
	if (!hex_bytes(ms, mpk, sizeof mpk)) {
		rc = st_fail(err, ST_E_JSON, "the people listing: \"master_public\" "
			     "must be 64 hex digits");
		goto out;
	}
	if (l->have_master && sodium_memcmp(mpk, l->master_public, sizeof mpk)) {
		rc = st_fail(err, ST_E_CONFLICT, "the server's master public key "
			     "changed during the listing (another rotation?); "
			     "nothing was changed: run rotate again");
		goto out;
	}
	if (!json_is_array(people)) {
		rc = st_fail(err, ST_E_JSON, "the people listing: \"people\" must "
			     "be an array");
		goto out;
	}
	if (!json_is_null(nx) && !(json_is_string(nx) &&
				   is_hex(json_string_value(nx), 32))) {
		rc = st_fail(err, ST_E_JSON, "the people listing: \"next\" must be "
			     "null or 32 hex digits");
		goto out;
	}
	size_t count = json_array_size(people);
	if (count > ST_ROTATE_PAGE_MAX) {
		rc = st_fail(err, ST_E_CAP, "the people listing: %zu people in one "
			     "page, over the API's %d", count, ST_ROTATE_PAGE_MAX);
		goto out;
	}
	if (l->n + count > ST_ROTATE_PEOPLE_MAX) {
		rc = st_fail(err, ST_E_CAP, "over %d people: one rotation carries "
			     "at most that many (rotate.h)", ST_ROTATE_PEOPLE_MAX);
		goto out;
	}
	if (json_is_string(nx) && count == 0) {
		rc = st_fail(err, ST_E_JSON, "the people listing: an empty page "
			     "with a \"next\" cursor would never end");
		goto out;
	}
	if (l->n + count > l->cap) {
		size_t nc = l->cap ? l->cap : 64;
		while (nc < l->n + count)
			nc *= 2;
		struct st_rotate_person *v = realloc(l->v, nc * sizeof *v);
		if (!v) {
			rc = st_fail(err, ST_E_NOMEM, "out of memory");
			goto out;
		}
		l->v = v;
		l->cap = nc;
	}
	size_t i;
	json_t *o;
	json_array_foreach(people, i, o) {
		struct st_rotate_person *p = &l->v[l->n + i];
		const char *id = json_string_value(json_object_get(o, "id"));
		if (!is_hex(id, 32)) {
			rc = st_fail(err, ST_E_JSON, "the people listing: person "
				     "%zu of the page: \"id\" must be 32 hex "
				     "digits", i + 1);
			goto out;
		}
		memcpy(p->id, id, 33);
		if (!hex_bytes(json_string_value(json_object_get(o, "public_key")),
			       p->public_key, sizeof p->public_key)) {
			rc = st_fail(err, ST_E_JSON, "person %s: \"public_key\" must "
				     "be 64 hex digits", id);
			goto out;
		}
		json_t *ss = json_object_get(o, "sealed_secret");
		if (!json_is_string(ss)) {
			rc = st_fail(err, ST_E_JSON, "person %s: no \"sealed_secret\" "
				     "(an erased person must not be listed): the "
				     "server does not keep the contract", id);
			goto out;
		}
		if (!b64_sealed(json_string_value(ss), p->sealed)) {
			rc = st_fail(err, ST_E_JSON, "person %s: \"sealed_secret\" "
				     "must be base64 of %d bytes", id,
				     ST_MASTER_SEALED_LEN);
			goto out;
		}
	}
	l->n += count;
	memcpy(l->master_public, mpk, sizeof mpk);
	l->have_master = true;
	if (json_is_string(nx))
		memcpy(next, json_string_value(nx), 33);
out:
	json_decref(root);
	return rc;
}

static int by_id(const void *a, const void *b)
{
	return strcasecmp(((const struct st_rotate_person *)a)->id,
			  ((const struct st_rotate_person *)b)->id);
}

int st_rotate_check_unique(struct st_rotate_list *l, struct st_error *err)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, by_id);
	for (size_t i = 1; i < l->n; i++)
		if (!strcasecmp(l->v[i - 1].id, l->v[i].id))
			return st_fail(err, ST_E_JSON, "the people listing names "
				       "person %s twice: the server's paging is "
				       "inconsistent; nothing was changed",
				       l->v[i].id);
	return 0;
}

/* ---- re-sealing ---- */

int st_rotate_reseal(struct st_rotate_list *l, const struct st_master *old,
		     const uint8_t new_pk[ST_BOX_PK_LEN], struct st_error *err)
{
	uint8_t *psk = st_secret_new(ST_BOX_SK_LEN);
	uint8_t (*fresh)[ST_MASTER_SEALED_LEN] =
		l->n ? malloc(l->n * sizeof *fresh) : NULL;
	int rc = 0;
	if (!psk || (l->n && !fresh)) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct st_rotate_person *p = &l->v[i];
		rc = st_master_open_person(old, p->sealed, p->public_key, psk, err);
		if (rc < 0) {
			st_error_prefix(err, "person %s: ", p->id);
			break;
		}
		if (crypto_box_seal(fresh[i], psk, ST_BOX_SK_LEN, new_pk) != 0)
			rc = st_fail(err, ST_E_INVAL, "person %s: cannot seal to "
				     "the new master public key (not a usable "
				     "X25519 key); check --new-public", p->id);
		sodium_memzero(psk, ST_BOX_SK_LEN);
		if (rc < 0)
			break;
	}
	/* all or nothing: a half re-sealed list must never be sent */
	for (size_t i = 0; rc == 0 && i < l->n; i++)
		memcpy(l->v[i].sealed, fresh[i], ST_MASTER_SEALED_LEN);
out:
	free(fresh);
	st_secret_free(psk);
	return rc;
}

int st_rotate_body(const struct st_rotate_list *l,
		   const uint8_t old_pk[ST_BOX_PK_LEN],
		   const uint8_t new_pk[ST_BOX_PK_LEN], char **out,
		   struct st_error *err)
{
	*out = NULL;
	char oh[65], nh[65];
	sodium_bin2hex(oh, sizeof oh, old_pk, ST_BOX_PK_LEN);
	sodium_bin2hex(nh, sizeof nh, new_pk, ST_BOX_PK_LEN);
	json_t *root = json_object();
	json_t *arr = json_array();
	bool ok = root && arr &&
		  !json_object_set_new(root, "old_master_public", json_string(oh)) &&
		  !json_object_set_new(root, "new_master_public", json_string(nh));
	for (size_t i = 0; ok && i < l->n; i++) {
		char b64[B64_LEN];
		sodium_bin2base64(b64, sizeof b64, l->v[i].sealed,
				  ST_MASTER_SEALED_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		json_t *o = json_object();
		ok = o && !json_object_set_new(o, "id", json_string(l->v[i].id)) &&
		     !json_object_set_new(o, "sealed_secret", json_string(b64)) &&
		     !json_array_append_new(arr, o);
		if (!ok && o)
			json_decref(o);
	}
	if (ok)
		ok = !json_object_set_new(root, "people", arr);
	else
		json_decref(arr);
	if (ok)
		*out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!*out)
		return st_fail(err, ST_E_NOMEM, "out of memory for the request");
	return 0;
}

/* ---- the whole ---- */

/* Adds advice to a failed call's message (it keeps the server's). */
static int advise(struct st_error *err, int rc, long status, const char *what)
{
	char m[ST_ERROR_MSG_MAX];
	snprintf(m, sizeof m, "%s", err ? err->msg : "");
	const char *tip =
		status == 404 ? "this server has no /v1/keys API: update it"
		: status == 401 ? "the token is unknown, expired or revoked: give "
				  "a privacy officer's token"
		: status == 403 ? "this needs a privacy officer's token"
		: rc == ST_E_CONFLICT
			? "the server's master or its people changed since the "
			  "listing (a person added or erased, or another "
			  "rotation); nothing was changed: run rotate again"
			: NULL;
	if (tip)
		return st_fail(err, rc, "%s: %.300s; %s", what, m, tip);
	return st_fail(err, rc, "%s: %.400s", what, m);
}

static int list_all(struct st_client *c, struct st_rotate_list *l,
		    struct st_error *err)
{
	char after[33] = "", next[33];
	struct st_buf ans;
	st_buf_init(&ans, false);
	int rc = 0;
	for (;;) {
		char path[96];
		if (after[0])
			snprintf(path, sizeof path, "/v1/keys/people?after=%s", after);
		else
			snprintf(path, sizeof path, "/v1/keys/people");
		struct st_client_req req = {.method = "GET", .path = path};
		long status = 0;
		rc = st_client_call(c, &req, &status, &ans, err);
		if (rc < 0) {
			advise(err, rc, status, "listing the people");
			break;
		}
		if ((rc = st_rotate_parse_page(ans.p, ans.len, l, next, err)) < 0)
			break;
		if (!next[0])
			break;
		/* a cursor that does not move would page for ever */
		if (!strcasecmp(next, after)) {
			rc = st_fail(err, ST_E_JSON, "the people listing returned "
				     "the cursor it was given (%s): the server's "
				     "paging does not advance", next);
			break;
		}
		memcpy(after, next, sizeof after);
	}
	st_buf_fini(&ans);
	if (rc == 0 && !l->have_master)
		rc = st_fail(err, ST_E_JSON, "the people listing named no master "
			     "public key");
	if (rc == 0)
		rc = st_rotate_check_unique(l, err);
	return rc;
}

int st_rotate_run(const struct st_rotate_target *t,
		  const struct st_master_src *src,
		  const uint8_t new_pk[ST_BOX_PK_LEN], size_t *rotated,
		  struct st_error *err)
{
	*rotated = 0;
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium cannot initialise");
	struct st_client_cfg cfg = {
		.url = t->url,
		.ca_file = t->ca,
		.token = t->token,
		.timeout_ms = t->timeout_ms > 0 ? t->timeout_ms
						: ST_ROTATE_TIMEOUT_MS,
		.answer_max = ST_ROTATE_ANSWER_MAX,
	};
	struct st_client *c = NULL;
	int rc = st_client_new(&cfg, &c, err);
	if (rc < 0)
		return rc;
	struct st_rotate_list l;
	st_rotate_list_init(&l);
	struct st_master m = {0};
	char *body = NULL;
	char nh[17], sh[17];
	hex16(new_pk, nh);
	if ((rc = list_all(c, &l, err)) < 0)
		goto out;
	hex16(l.master_public, sh);
	if (!sodium_memcmp(l.master_public, new_pk, ST_BOX_PK_LEN)) {
		rc = st_fail(err, ST_E_STATE, "the server's master is already "
			     "%s... (the --new-public key): nothing to rotate; "
			     "an earlier rotate may have succeeded", nh);
		goto out;
	}
	if ((rc = st_master_open(src, &m, err)) < 0)
		goto out;
	if (sodium_memcmp(m.pk, l.master_public, ST_BOX_PK_LEN)) {
		char mh[17];
		hex16(m.pk, mh);
		rc = st_fail(err, ST_E_NOT_FOR_KEY, "the server's current master "
			     "is %s..., but %.900s is the secret of %s...: give "
			     "the current master's secret", sh, m.what, mh);
		goto out;
	}
	rc = st_rotate_reseal(&l, &m, new_pk, err);
	uint8_t old_pk[ST_BOX_PK_LEN];
	memcpy(old_pk, m.pk, sizeof old_pk);
	st_master_close(&m); /* the secret's one operation ends here */
	if (rc < 0)
		goto out;
	if ((rc = st_rotate_body(&l, old_pk, new_pk, &body, err)) < 0)
		goto out;
	struct st_client_req req = {
		.method = "POST",
		.path = "/v1/keys/rotate",
		.content_type = "application/json",
		.body = (const uint8_t *)body,
		.body_len = strlen(body),
	};
	struct st_buf ans;
	st_buf_init(&ans, false);
	long status = 0;
	rc = st_client_call(c, &req, &status, &ans, err);
	if (rc < 0) {
		advise(err, rc, status, "rotating");
	} else {
		json_t *a = json_loadb((const char *)ans.p, ans.len, 0, NULL);
		json_t *n = json_object_get(a, "rotated");
		if (!json_is_integer(n) || json_integer_value(n) < 0)
			rc = st_fail(err, ST_E_HTTP, "rotating: the server "
				     "answered %ld without {\"rotated\": N}; "
				     "check with a new listing whether the "
				     "master is %s...", status, nh);
		else if ((size_t)json_integer_value(n) != l.n)
			rc = st_fail(err, ST_E_HTTP, "rotating: the server says "
				     "it rotated %lld people, but %zu were sent",
				     (long long)json_integer_value(n), l.n);
		else
			*rotated = l.n;
		json_decref(a);
	}
	st_buf_fini(&ans);
out:
	st_master_close(&m);
	free(body);
	st_rotate_list_fini(&l);
	st_client_free(c);
	return rc;
}
