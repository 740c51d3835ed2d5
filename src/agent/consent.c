/* consent.c - the state folder, development enrollment and acceptance. */
#include "consent.h"

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/enroll.h"
#include "agent/upload.h"
#include "core/token.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/keys.h"

static int join(char *out, const char *a, const char *b, struct st_error *err)
{
	if (snprintf(out, ST_PATH_MAX, "%s/%s", a, b) >= ST_PATH_MAX)
		return st_fail(err, ST_E_CAP, "path %s/%s is too long", a, b);
	return 0;
}

void st_agent_path(const struct st_agent_paths *p, const char *name, char *out)
{
	/* paths_init keeps dir 64 bytes short of the cap; names are ours */
	int n = snprintf(out, ST_PATH_MAX, "%s/%s", p->dir, name);
	if (n < 0 || n >= ST_PATH_MAX)
		out[0] = 0;
}

int st_agent_paths_init(struct st_agent_paths *p, const char *state_dir,
			const char *socket_path, struct st_error *err)
{
	memset(p, 0, sizeof *p);
	const char *d = state_dir ? state_dir : getenv("SEALTRACE_AGENT_DIR");
	int n;
	if (d && *d)
		n = snprintf(p->dir, sizeof p->dir, "%s", d);
	else if (getenv("XDG_STATE_HOME") && *getenv("XDG_STATE_HOME"))
		n = snprintf(p->dir, sizeof p->dir, "%s/sealtrace",
			     getenv("XDG_STATE_HOME"));
	else if (getenv("HOME"))
		n = snprintf(p->dir, sizeof p->dir, "%s/.local/state/sealtrace",
			     getenv("HOME"));
	else
		return st_fail(err, ST_E_INVAL,
			       "no state folder: pass --state-dir or set HOME");
	if (n >= (int)sizeof p->dir - 64)
		return st_fail(err, ST_E_CAP, "state folder path too long");
	int rc;
	if ((rc = join(p->spool, p->dir, "spool", err)) < 0 ||
	    (rc = join(p->state_file, p->dir, "state.json", err)) < 0 ||
	    (rc = join(p->running, p->dir, "running", err)) < 0 ||
	    (rc = join(p->forget, p->dir, "forget-requests.jsonl", err)) < 0)
		return rc;
	const char *s = socket_path ? socket_path : getenv("SEALTRACE_AGENT_SOCKET");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if (s && *s)
		n = snprintf(p->socket, sizeof p->socket, "%s", s);
	else if (rt && *rt)
		n = snprintf(p->socket, sizeof p->socket,
			     "%s/sealtrace-agent.sock", rt);
	else
		n = snprintf(p->socket, sizeof p->socket, "%s/run/agent.sock",
			     p->dir);
	if (n >= (int)sizeof p->socket)
		return st_fail(err, ST_E_CAP, "socket path too long");
	return 0;
}

int st_agent_policy(const char *json, size_t len, struct st_policy *p,
		    struct st_capture_kinds *k, struct st_error *err)
{
	memset(k, 0, sizeof *k);
	int rc = st_policy_parse(json, len, p, NULL, err);
	if (rc < 0) {
		st_error_prefix(err, "policy refused (see 'sealtrace policy check'): ");
		return rc;
	}
	struct st_policy_capture c;
	st_policy_capture_get(p, &c);
	k->pointer = c.pointer;
	k->keys = c.keys;
	k->text = c.keys && c.text;
	k->titles = c.titles;
	k->apps = c.apps;
	return 0;
}

int st_enroll_local(const struct st_agent_paths *p, const char *policy_file,
		    const char *notice_file, const char *recipient_file,
		    struct st_error *err)
{
	char path[ST_PATH_MAX];
	struct st_buf policy, notice;
	uint8_t person_pk[32], device_pk[32];
	int rc;
	st_buf_init(&policy, false);
	st_buf_init(&notice, false);
	if ((rc = st_file_read(policy_file, ST_POLICY_MAX, &policy, err)) < 0 ||
	    (rc = st_file_read(notice_file, ST_NOTICE_MAX, &notice, err)) < 0 ||
	    (rc = st_key_read(recipient_file, ST_KEY_PERSON_PUBLIC, person_pk, 32,
			      false, err)) < 0)
		goto out;
	struct st_capture_kinds k;
	struct st_policy pol;
	st_policy_init(&pol);
	rc = st_agent_policy((char *)policy.p, policy.len, &pol, &k, err);
	if (rc == 0) {
		/* notice = policy: the notice shown must be the one the policy
		 * renders, byte for byte */
		struct st_buf want;
		st_buf_init(&want, false);
		rc = st_policy_notice(&pol, &want, err);
		if (rc == 0 && (want.len != notice.len ||
				memcmp(want.p, notice.p, want.len) != 0))
			rc = st_fail(err, ST_E_CONSENT,
				     "%s is not the notice %s renders; make it "
				     "with 'sealtrace policy notice %s'",
				     notice_file, policy_file, policy_file);
		st_buf_fini(&want);
	}
	st_policy_fini(&pol);
	if (rc < 0)
		goto out;
	if ((rc = st_dir_private(p->dir, err)) < 0)
		goto out;
	st_agent_path(p, "identity.json", path);
	if (access(path, F_OK) == 0) {
		rc = st_fail(err, ST_E_EXISTS,
			     "%s is enrolled already; move the folder away to "
			     "enroll again",
			     p->dir);
		goto out;
	}
	uint8_t *sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!sk) {
		rc = st_fail(err, ST_E_NOMEM, "out of locked memory");
		goto out;
	}
	st_sign_keypair(device_pk, sk);
	st_agent_path(p, "device.key", path);
	rc = st_key_write(path, ST_KEY_DEVICE_SECRET, sk, ST_SIGN_SK_LEN, true, err);
	st_secret_free(sk);
	if (rc < 0)
		goto out;
	st_agent_path(p, "device.pub", path);
	if ((rc = st_key_write(path, ST_KEY_DEVICE_PUBLIC, device_pk, 32, false,
			       err)) < 0)
		goto out;
	st_agent_path(p, "recipient.pub", path);
	if ((rc = st_key_write(path, ST_KEY_PERSON_PUBLIC, person_pk, 32, false,
			       err)) < 0)
		goto out;
	st_agent_path(p, "policy.json", path);
	if ((rc = st_file_write_atomic(path, policy.p, policy.len, 0600, err)) < 0)
		goto out;
	st_agent_path(p, "notice.txt", path);
	if ((rc = st_file_write_atomic(path, notice.p, notice.len, 0600, err)) < 0)
		goto out;
	uint8_t dev_id[16], person_id[16];
	randombytes_buf(dev_id, 16);
	randombytes_buf(person_id, 16);
	char dh[33], ph[33];
	st_hex_encode(dh, dev_id, 16);
	st_hex_encode(ph, person_id, 16);
	json_t *o = json_pack("{s:s, s:s, s:s}", "device_id", dh, "person_id", ph,
			      "mode", "dev");
	char *txt = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	st_agent_path(p, "identity.json", path);
	rc = st_file_write_atomic(path, txt, strlen(txt), 0600, err);
	free(txt);
out:
	st_buf_fini(&policy);
	st_buf_fini(&notice);
	return rc;
}

int st_accept(const struct st_agent_paths *p, const char *given_hash, FILE *in,
	      FILE *out, struct st_error *err)
{
	char path[ST_PATH_MAX];
	struct st_buf notice, policy;
	int rc;
	if ((rc = st_dir_private(p->dir, err)) < 0)
		return rc; /* also refuses another user's folder */
	st_buf_init(&notice, false);
	st_buf_init(&policy, false);
	/* A new notice fetched by the uploader waits as *.pending until the
	 * person accepts it here; while one waits, it is what is shown. */
	char pnotice[ST_PATH_MAX], ppolicy[ST_PATH_MAX], precip[ST_PATH_MAX];
	st_agent_path(p, ST_PENDING_NOTICE, pnotice);
	st_agent_path(p, ST_PENDING_POLICY, ppolicy);
	st_agent_path(p, ST_PENDING_RECIPIENT, precip);
	bool pending = access(pnotice, F_OK) == 0;
	bool server = st_enrolled_with_server(p);
	if (pending)
		snprintf(path, sizeof path, "%s", pnotice);
	else
		st_agent_path(p, "notice.txt", path);
	if ((rc = st_file_read(path, ST_NOTICE_MAX, &notice, err)) < 0) {
		st_error_prefix(err, "not enrolled (enroll first): ");
		goto out;
	}
	/* without a pending policy beside a pending notice, policy.json is
	 * already the new one (an accept stopped between its two moves) */
	if (pending && access(ppolicy, F_OK) == 0)
		snprintf(path, sizeof path, "%s", ppolicy);
	else
		st_agent_path(p, "policy.json", path);
	if ((rc = st_file_read(path, ST_POLICY_MAX, &policy, err)) < 0)
		goto out;
	uint8_t nh[32], ph[32];
	crypto_hash_sha256(nh, notice.p, notice.len);
	{
		/* the policy hash is the canonical form's (DESIGN.md) */
		struct st_policy pol;
		struct st_capture_kinds k;
		st_policy_init(&pol);
		rc = st_agent_policy((char *)policy.p, policy.len, &pol, &k, err);
		if (rc == 0)
			st_policy_hash(&pol, ph);
		st_policy_fini(&pol);
		if (rc < 0)
			goto out;
	}
	char nhex[65], phex[65];
	st_hex_encode(nhex, nh, 32);
	st_hex_encode(phex, ph, 32);
	/* exactly the notice bytes, then their hash */
	fwrite(notice.p, 1, notice.len, out);
	fprintf(out, "\n-- notice sha256 %s --\n", nhex);
	if (given_hash) {
		if (strcmp(given_hash, nhex) != 0) {
			rc = st_fail(err, ST_E_CONSENT,
				     "--accept-notice %.16s... does not match the "
				     "notice shown (sha256 %s); read the notice and "
				     "pass its hash",
				     given_hash, nhex);
			goto out;
		}
	} else {
		if (!in || !isatty(fileno(in))) {
			rc = st_fail(err, ST_E_CONSENT,
				     "acceptance needs the person at a terminal: "
				     "type the phrase, or pass --accept-notice %s "
				     "after reading the notice",
				     nhex);
			goto out;
		}
		fprintf(out, "Type \"%s\" to accept this notice: ", ST_ACCEPT_PHRASE);
		fflush(out);
		char line[64] = "";
		if (!fgets(line, sizeof line, in) ||
		    strncmp(line, ST_ACCEPT_PHRASE, strlen(ST_ACCEPT_PHRASE)) != 0 ||
		    (line[strlen(ST_ACCEPT_PHRASE)] != '\n' &&
		     line[strlen(ST_ACCEPT_PHRASE)] != 0)) {
			rc = st_fail(err, ST_E_CONSENT,
				     "not accepted: nothing will be recorded");
			goto out;
		}
	}
	/* the server records the acceptance first: if it cannot, nothing is
	 * accepted here (the message says to retry) */
	if (server && (rc = st_accept_server(p, nhex, err)) < 0)
		goto out;
	if (pending) {
		/* Without consent.json nothing records while the files move;
		 * policy (and key) before the notice, whose pending copy
		 * marks what is left to move (see the read above). */
		st_agent_path(p, "consent.json", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = st_fail(err, st_errno(errno), "%s: %s", path,
				     strerror(errno));
			goto out;
		}
		char to[ST_PATH_MAX];
		st_agent_path(p, "recipient.pub", to);
		if (access(precip, F_OK) == 0 && rename(precip, to) < 0)
			rc = st_errno(errno);
		st_agent_path(p, "policy.json", to);
		if (rc == 0 && access(ppolicy, F_OK) == 0 && rename(ppolicy, to) < 0)
			rc = st_errno(errno);
		st_agent_path(p, "notice.txt", to);
		if (rc == 0 && rename(pnotice, to) < 0)
			rc = st_errno(errno);
		if (rc < 0) {
			rc = st_fail(err, rc, "accepted by the server, but the "
				     "new notice could not be put in place in "
				     "%s (%s); run 'sealtrace-agent accept' "
				     "again", p->dir, st_strerror(rc));
			goto out;
		}
	}
	struct passwd *pw = getpwuid(getuid());
	char when[32];
	time_t now = time(NULL);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "notice_sha256",
			      nhex, "policy_sha256", phex, "uid", (int)getuid(),
			      "user", pw ? pw->pw_name : "?", "accepted_at", when,
			      "how", given_hash ? "hash" : "phrase");
	char *txt = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	st_agent_path(p, "consent.json", path);
	rc = st_file_write_atomic(path, txt, strlen(txt), 0600, err);
	free(txt);
	if (rc == 0)
		fprintf(out, "Accepted. Recording may start; pause at any time with "
			     "'sealtrace-agent pause'.\n");
out:
	st_buf_fini(&notice);
	st_buf_fini(&policy);
	return rc;
}

static int load_json(const char *path, json_t **o, struct st_error *err)
{
	json_error_t je;
	*o = json_load_file(path, 0, &je);
	if (!*o)
		return st_fail(err, errno == ENOENT ? ST_E_NOT_FOUND : ST_E_JSON,
			       "%s: %s", path, je.text);
	return 0;
}

int st_identity_load(const struct st_agent_paths *p,
		     struct st_agent_identity *id, struct st_error *err)
{
	char path[ST_PATH_MAX];
	json_t *ident = NULL, *consent = NULL;
	struct st_buf notice, policy;
	int rc;
	memset(id, 0, sizeof *id);
	st_policy_init(&id->policy);
	st_buf_init(&notice, false);
	st_buf_init(&policy, false);
	if ((rc = st_dir_private(p->dir, err)) < 0)
		goto out;
	st_agent_path(p, "identity.json", path);
	if (load_json(path, &ident, err) < 0) {
		rc = st_fail(err, ST_E_CONSENT,
			     "not enrolled: run 'sealtrace-agent enroll URL "
			     "TOKEN' (or, for development, 'enroll --local "
			     "--policy FILE --notice FILE --recipient PUBKEY') "
			     "(state folder %s)",
			     p->dir);
		goto out;
	}
	st_agent_path(p, "consent.json", path);
	if (load_json(path, &consent, err) < 0) {
		rc = st_fail(err, ST_E_CONSENT,
			     "no accepted notice: nothing is recorded until the "
			     "person runs 'sealtrace-agent accept' and accepts it");
		goto out;
	}
	st_agent_path(p, "notice.txt", path);
	if ((rc = st_file_read(path, ST_NOTICE_MAX, &notice, err)) < 0)
		goto out;
	st_agent_path(p, "policy.json", path);
	if ((rc = st_file_read(path, ST_POLICY_MAX, &policy, err)) < 0)
		goto out;
	crypto_hash_sha256(id->notice_hash, notice.p, notice.len);
	uint8_t accepted[32];
	if (st_hex_decode(accepted, 32, json_string_value(
				       json_object_get(consent, "notice_sha256"))) < 0 ||
	    sodium_memcmp(accepted, id->notice_hash, 32) != 0) {
		rc = st_fail(err, ST_E_CONSENT,
			     "the notice changed since it was accepted: nothing "
			     "is recorded until the person runs "
			     "'sealtrace-agent accept' again");
		goto out;
	}
	if (json_integer_value(json_object_get(consent, "uid")) != (json_int_t)getuid()) {
		rc = st_fail(err, ST_E_CONSENT,
			     "the notice was accepted by uid %lld, not by you "
			     "(uid %u): the person recorded must accept it",
			     (long long)json_integer_value(
				     json_object_get(consent, "uid")),
			     (unsigned)getuid());
		goto out;
	}
	if (st_hex_decode(id->device_id, 16, json_string_value(
					     json_object_get(ident, "device_id"))) < 0 ||
	    st_hex_decode(id->person_id, 16, json_string_value(
					     json_object_get(ident, "person_id"))) < 0) {
		rc = st_fail(err, ST_E_CORRUPT, "%s/identity.json: bad ids", p->dir);
		goto out;
	}
	const char *mode = json_string_value(json_object_get(ident, "mode"));
	id->dev = mode && !strcmp(mode, "dev");
	if ((rc = st_agent_policy((char *)policy.p, policy.len, &id->policy,
				  &id->kinds, err)) < 0)
		goto out;
	st_policy_hash(&id->policy, id->policy_hash);
	{
		/* the policy that configures capture is the one accepted with
		 * the notice (consent.json names both) */
		uint8_t ph[32];
		const char *phx = json_string_value(
			json_object_get(consent, "policy_sha256"));
		if (phx && (st_hex_decode(ph, 32, phx) < 0 ||
			    sodium_memcmp(ph, id->policy_hash, 32) != 0)) {
			rc = st_fail(err, ST_E_CONSENT,
				     "the policy changed since the notice was "
				     "accepted: nothing is recorded until the "
				     "person runs 'sealtrace-agent accept' "
				     "again");
			goto out;
		}
	}
	st_agent_path(p, "recipient.pub", path);
	if ((rc = st_key_read(path, ST_KEY_PERSON_PUBLIC, id->person_pk, 32, false,
			      err)) < 0)
		goto out;
	st_agent_path(p, "device.pub", path);
	if ((rc = st_key_read(path, ST_KEY_DEVICE_PUBLIC, id->device_pk, 32, false,
			      err)) < 0)
		goto out;
	id->device_sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!id->device_sk) {
		rc = st_fail(err, ST_E_NOMEM, "out of locked memory");
		goto out;
	}
	st_agent_path(p, "device.key", path);
	rc = st_key_read(path, ST_KEY_DEVICE_SECRET, id->device_sk, ST_SIGN_SK_LEN,
			 true, err);
out:
	json_decref(ident);
	json_decref(consent);
	st_buf_fini(&notice);
	st_buf_fini(&policy);
	if (rc < 0)
		st_identity_fini(id);
	return rc;
}

void st_identity_fini(struct st_agent_identity *id)
{
	st_policy_fini(&id->policy);
	st_secret_free(id->device_sk);
	id->device_sk = NULL;
}
