/* enroll.c - enrollment with a server, and acceptance sent to it.
 *
 * Trust on first use is replaced by the token: the token carries SHA-256
 * fingerprints of the server's CA certificate and lease key, so the one
 * unverified fetch (GET /v1/ca) is checked before anything is written, and
 * the token's secret travels only over TLS verified against that CA. */
#include "enroll.h"

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/upload.h"
#include "core/client.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/token.h"

#define PEM_LINE 64
#define HOST_MAX 256
#define B64_MAX(n) (((n) + 2) / 3 * 4 + 1)

/* Decodes standard base64 of at most cap bytes. */
static int unb64(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	return s && sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) == 0
		       ? 0
		       : -1;
}

bool st_enrolled_with_server(const struct st_agent_paths *p)
{
	char path[ST_PATH_MAX];
	st_agent_path(p, ST_SERVER_FILE, path);
	return access(path, F_OK) == 0;
}

/* ca.pem from the DER bytes: base64 in 64-character lines. */
static int write_pem(const char *path, const uint8_t *der, size_t len,
		     struct st_error *err)
{
	size_t bl = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(bl);
	struct st_buf pem;
	if (!b)
		return st_fail(err, ST_E_NOMEM, "%s: out of memory", path);
	sodium_bin2base64(b, bl, der, len, sodium_base64_VARIANT_ORIGINAL);
	st_buf_init(&pem, false);
	const char *begin = "-----BEGIN CERTIFICATE-----\n";
	const char *end = "-----END CERTIFICATE-----\n";
	st_buf_put(&pem, begin, strlen(begin));
	size_t n = strlen(b);
	for (size_t i = 0; i < n; i += PEM_LINE) {
		st_buf_put(&pem, b + i, n - i < PEM_LINE ? n - i : PEM_LINE);
		st_buf_put(&pem, "\n", 1);
	}
	st_buf_put(&pem, end, strlen(end));
	free(b);
	int rc = pem.oom ? st_fail(err, ST_E_NOMEM, "%s: out of memory", path)
			 : st_file_write_atomic(path, pem.p, pem.len, 0644, err);
	st_buf_fini(&pem);
	return rc;
}

/* GET /v1/ca without trust, checked against the token's fingerprints. */
static int fetch_ca(const char *url, const uint8_t ca_fp[32],
		    const uint8_t lease_fp[32], uint8_t *der, size_t *der_len,
		    uint8_t lease_pk[32], struct st_error *err)
{
	struct st_client_cfg cc = {.url = url, .insecure = true,
				   .answer_max = 4 * ST_CA_DER_MAX};
	struct st_client *c = NULL;
	struct st_buf b;
	long status = 0;
	int rc = st_client_new(&cc, &c, err);
	if (rc < 0)
		return rc;
	st_buf_init(&b, false);
	struct st_client_req req = {.method = "GET", .path = "/v1/ca"};
	rc = st_client_call(c, &req, &status, &b, err);
	st_client_free(c);
	json_t *o = rc == 0 ? json_loadb((const char *)b.p, b.len, 0, NULL) : NULL;
	st_buf_fini(&b);
	if (rc < 0) {
		st_error_prefix(err, "enroll: cannot fetch the server's CA: ");
		return rc;
	}
	size_t kl = 0;
	if (unb64(json_string_value(json_object_get(o, "ca_der")), der,
		  ST_CA_DER_MAX, der_len) < 0 || *der_len == 0 ||
	    unb64(json_string_value(json_object_get(o, "lease_public_key")),
		  lease_pk, 32, &kl) < 0 || kl != 32) {
		json_decref(o);
		return st_fail(err, ST_E_JSON, "enroll: GET %s/v1/ca: the "
			       "answer is not {\"ca_der\", \"lease_public_key\"} "
			       "(a CA of at most %u bytes); is this the "
			       "sealtrace server?", url, ST_CA_DER_MAX);
	}
	json_decref(o);
	uint8_t fp[32];
	st_fingerprint(der, *der_len, fp);
	if (sodium_memcmp(fp, ca_fp, 32) != 0)
		return st_fail(err, ST_E_PIN, "enroll: the server at %s is "
			       "not the one this token was made for: its CA "
			       "certificate does not match the token's "
			       "fingerprint; nothing was written. Check the URL "
			       "(or ask for a token made by this server)", url);
	st_fingerprint(lease_pk, 32, fp);
	if (sodium_memcmp(fp, lease_fp, 32) != 0)
		return st_fail(err, ST_E_PIN, "enroll: the server at %s is "
			       "not the one this token was made for: its lease "
			       "key does not match the token's fingerprint; "
			       "nothing was written. Check the URL", url);
	return 0;
}

/* Files of an earlier attempt that never completed (no identity.json):
 * replaced, since key files are never overwritten in place. */
static void remove_leftovers(const struct st_agent_paths *p)
{
	static const char *const names[] = {
		"ca.pem", "lease.pub", "device.key", "device.pub",
		"recipient.pub", "policy.json", "notice.txt", ST_SERVER_FILE,
		"consent.json", ST_PENDING_NOTICE, ST_PENDING_POLICY,
		ST_PENDING_RECIPIENT,
	};
	char path[ST_PATH_MAX];
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		st_agent_path(p, names[i], path);
		unlink(path);
	}
}

/* The enrollment answer, checked, written to the folder. */
static int keep_answer(const struct st_agent_paths *p, const char *url,
		       json_t *o, const uint8_t lease_pk[32],
		       const char *local_user, const char *host,
		       struct st_error *err)
{
	const char *dev = json_string_value(json_object_get(o, "device_id"));
	const char *per = json_string_value(json_object_get(o, "person_id"));
	const char *name = json_string_value(json_object_get(o, "person_name"));
	const char *ppk = json_string_value(json_object_get(o, "person_public_key"));
	const char *lpk = json_string_value(json_object_get(o, "lease_public_key"));
	json_t *pj = json_object_get(o, "policy"), *nj = json_object_get(o, "notice");
	uint8_t dev_id[16], per_id[16], pk[32], lk[32];
	size_t pkl = 0, lkl = 0;
	if (st_hex_decode(dev_id, 16, dev) < 0 || st_hex_decode(per_id, 16, per) < 0 ||
	    unb64(ppk, pk, 32, &pkl) < 0 || pkl != 32 || !json_is_string(pj) ||
	    !json_is_string(nj))
		return st_fail(err, ST_E_JSON, "enroll: POST /v1/enroll: the "
			       "answer lacks device_id, person_id, "
			       "person_public_key, policy or notice; the token "
			       "may be used up now: ask for a new one");
	if (lpk && (unb64(lpk, lk, 32, &lkl) < 0 || lkl != 32 ||
		    sodium_memcmp(lk, lease_pk, 32) != 0))
		return st_fail(err, ST_E_PIN, "enroll: the lease key in the "
			       "enrollment answer is not the one pinned from "
			       "the token; nothing is recorded with this "
			       "server: report it to your organisation");
	const char *pol = json_string_value(pj), *not = json_string_value(nj);
	size_t pl = json_string_length(pj), nl = json_string_length(nj);
	int rc = st_notice_check(pol, pl, not, nl,
				 json_string_value(json_object_get(o, "policy_hash")),
				 json_string_value(json_object_get(o, "notice_hash")),
				 err);
	if (rc < 0) {
		st_error_prefix(err, "enroll: ");
		return rc;
	}
	char path[ST_PATH_MAX];
	st_agent_path(p, "recipient.pub", path);
	if ((rc = st_key_write(path, ST_KEY_PERSON_PUBLIC, pk, 32, false, err)) < 0)
		return rc;
	/* exactly the bytes received: their hashes are what was checked */
	st_agent_path(p, "policy.json", path);
	if ((rc = st_file_write_atomic(path, pol, pl, 0600, err)) < 0)
		return rc;
	st_agent_path(p, "notice.txt", path);
	if ((rc = st_file_write_atomic(path, not, nl, 0600, err)) < 0)
		return rc;
	char lb64[B64_MAX(32)];
	sodium_bin2base64(lb64, sizeof lb64, lease_pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	json_t *s = json_pack("{s:s, s:s, s:s}", "url", url, "ca", "ca.pem",
			      "lease_public_key", lb64);
	char *txt = json_dumps(s, JSON_INDENT(2));
	json_decref(s);
	st_agent_path(p, ST_SERVER_FILE, path);
	rc = txt ? st_file_write_atomic(path, txt, strlen(txt), 0600, err)
		 : st_fail(err, ST_E_NOMEM, "enroll: out of memory");
	free(txt);
	if (rc < 0)
		return rc;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *id = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "device_id",
			       dev, "person_id", per, "mode", "server",
			       "person_name", name ? name : "", "local_user",
			       local_user, "hostname", host, "enrolled_at", when);
	txt = json_dumps(id, JSON_INDENT(2));
	json_decref(id);
	st_agent_path(p, "identity.json", path);
	rc = txt ? st_file_write_atomic(path, txt, strlen(txt), 0600, err)
		 : st_fail(err, ST_E_NOMEM, "enroll: out of memory");
	free(txt);
	return rc;
}

int st_enroll_keep_answer(const struct st_agent_paths *p, const char *url,
			  const uint8_t *answer, size_t len,
			  const uint8_t lease_pk[32], const char *local_user,
			  const char *host, struct st_error *err)
{
	json_t *o = json_loadb((const char *)answer, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return st_fail(err, ST_E_JSON, "enroll: the server's answer "
			       "is not a JSON object");
	}
	int rc = keep_answer(p, url, o, lease_pk, local_user, host, err);
	json_decref(o);
	return rc;
}

int st_enroll_server(const struct st_agent_paths *p, const char *url,
		     const char *token, struct st_error *err)
{
	uint8_t ca_fp[32], lease_fp[32], lease_pk[32], device_pk[32];
	uint8_t *secret = st_secret_new(ST_TOKEN_SECRET_LEN);
	uint8_t *der = malloc(ST_CA_DER_MAX);
	uint8_t *sk = NULL;
	char *body = NULL;
	size_t body_len = 0, der_len = 0;
	json_t *ans = NULL;
	int rc;
	if (!secret || !der) {
		rc = st_fail(err, ST_E_NOMEM, "enroll: out of memory");
		goto out;
	}
	/* the secret itself is not needed here: the whole token is sent */
	rc = st_enroll_token_parse(token, secret, ca_fp, lease_fp, err);
	if (rc < 0) {
		st_error_prefix(err, "enroll: ");
		goto out;
	}
	if ((rc = st_dir_private(p->dir, err)) < 0)
		goto out;
	char path[ST_PATH_MAX], ca_file[ST_PATH_MAX];
	st_agent_path(p, "identity.json", path);
	if (access(path, F_OK) == 0) {
		rc = st_fail(err, ST_E_EXISTS, "%s is enrolled already; move "
			     "the folder away to enroll again", p->dir);
		goto out;
	}
	if ((rc = fetch_ca(url, ca_fp, lease_fp, der, &der_len, lease_pk,
			   err)) < 0)
		goto out;
	remove_leftovers(p);
	st_agent_path(p, "ca.pem", ca_file);
	if ((rc = write_pem(ca_file, der, der_len, err)) < 0)
		goto out;
	st_agent_path(p, "lease.pub", path);
	if ((rc = st_key_write(path, ST_KEY_LEASE_PUBLIC, lease_pk, 32, false,
			       err)) < 0)
		goto out;
	sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!sk) {
		rc = st_fail(err, ST_E_NOMEM, "enroll: out of locked memory");
		goto out;
	}
	st_sign_keypair(device_pk, sk);
	st_agent_path(p, "device.key", path);
	if ((rc = st_key_write(path, ST_KEY_DEVICE_SECRET, sk, ST_SIGN_SK_LEN,
			       true, err)) < 0)
		goto out;
	st_agent_path(p, "device.pub", path);
	if ((rc = st_key_write(path, ST_KEY_DEVICE_PUBLIC, device_pk, 32, false,
			       err)) < 0)
		goto out;

	struct passwd *pw = getpwuid(getuid());
	char host[HOST_MAX] = "";
	if (!pw) {
		rc = st_fail(err, ST_E_STATE, "enroll: uid %u has no account "
			     "name; enroll as the person to be recorded",
			     (unsigned)getuid());
		goto out;
	}
	gethostname(host, sizeof host - 1);
	char pk64[B64_MAX(32)];
	sodium_bin2base64(pk64, sizeof pk64, device_pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "token", token,
			      "device_public_key", pk64, "local_user",
			      pw->pw_name, "hostname", host);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body) {
		rc = st_fail(err, ST_E_NOMEM, "enroll: out of memory");
		goto out;
	}
	body_len = strlen(body);

	struct st_client_cfg cc = {.url = url, .ca_file = ca_file,
				   .answer_max = ST_ENROLL_ANSWER_MAX};
	struct st_client *c = NULL;
	struct st_buf b;
	long status = 0;
	if ((rc = st_client_new(&cc, &c, err)) < 0)
		goto out;
	st_buf_init(&b, false);
	struct st_client_req req = {.method = "POST", .path = "/v1/enroll",
				    .content_type = "application/json",
				    .body = (const uint8_t *)body,
				    .body_len = body_len};
	rc = st_client_call(c, &req, &status, &b, err);
	st_client_free(c);
	if (rc == 0)
		ans = json_loadb((const char *)b.p, b.len, 0, NULL);
	st_buf_fini(&b);
	if (rc < 0) {
		if (rc != ST_E_PIN)
			st_error_prefix(err, "enroll: the server refused or "
					"could not be reached (nothing "
					"enrolled): ");
		goto out;
	}
	if (status != 201 && status != 200) {
		rc = st_fail(err, ST_E_HTTP, "enroll: POST /v1/enroll answered "
			     "HTTP %ld, expected 201", status);
		goto out;
	}
	rc = keep_answer(p, url, ans, lease_pk, pw->pw_name, host, err);
out:
	if (body) {
		sodium_memzero(body, body_len); /* it holds the token */
		free(body);
	}
	json_decref(ans);
	st_secret_free(secret);
	st_secret_free(sk);
	free(der);
	return rc;
}

int st_accept_server(const struct st_agent_paths *p, const char *notice_hex,
		     struct st_error *err)
{
	char path[ST_PATH_MAX], url[1024], ca[ST_PATH_MAX];
	struct st_agent_identity id;
	struct st_upload_transport *t = NULL;
	struct st_buf ident;
	int rc;
	memset(&id, 0, sizeof id);
	st_buf_init(&ident, false);
	if ((rc = st_server_config(p, url, sizeof url, ca, err)) < 0)
		goto out;
	st_agent_path(p, "identity.json", path);
	if ((rc = st_file_read(path, 16u << 10, &ident, err)) < 0)
		goto out;
	json_t *o = json_loadb((const char *)ident.p, ident.len, 0, NULL);
	rc = st_hex_decode(id.device_id, 16,
		   json_string_value(json_object_get(o, "device_id")));
	json_decref(o);
	if (rc < 0) {
		rc = st_fail(err, ST_E_CORRUPT, "%s: no device_id; enroll "
			     "again", path);
		goto out;
	}
	id.device_sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!id.device_sk) {
		rc = st_fail(err, ST_E_NOMEM, "out of locked memory");
		goto out;
	}
	st_agent_path(p, "device.key", path);
	if ((rc = st_key_read(path, ST_KEY_DEVICE_SECRET, id.device_sk,
			      ST_SIGN_SK_LEN, true, err)) < 0)
		goto out;
	struct passwd *pw = getpwuid(getuid());
	json_t *b = json_pack("{s:s, s:s, s:I}", "notice_hash", notice_hex,
			      "local_user", pw ? pw->pw_name : "?",
			      "accepted_s", (json_int_t)time(NULL));
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!body) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	struct st_client_cfg cc = {.url = url, .ca_file = ca};
	if ((rc = st_upload_transport_client(&cc, &t, err)) == 0) {
		long status = 0;
		rc = st_device_call(t, &id, "POST", "/v1/device/acceptances",
				    "application/json", (const uint8_t *)body,
				    strlen(body), (int64_t)time(NULL), &status,
				    NULL, err);
	}
	free(body);
out:
	if (rc < 0)
		st_error_prefix(err, "the server did not record your "
				"acceptance, so nothing was accepted here; "
				"retry 'sealtrace-agent accept' (%s): ",
				rc == ST_E_USER_MISMATCH
					? "as the account this device was "
					  "enrolled for"
					: "once the server is reachable");
	st_upload_transport_free(t);
	st_buf_fini(&ident);
	st_secret_free(id.device_sk);
	return rc;
}
