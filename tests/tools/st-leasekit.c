/* st-leasekit.c - test tool for the kill-switch test (never installed): one
 * real lease from a real server, checked as an agent checks it. Owns no
 * state; never prints a key, a token or recorded content.
 *
 *   st-leasekit poll STATE_DIR URL [HAVE_SEQ]
 *
 * Signs POST /v1/device/lease with the device key of an enrolled agent
 * folder (a fresh 16-byte nonce, have_seq HAVE_SEQ, default 0 so that the
 * server answers at once), then verifies the lease in the answer with
 * core/lease.h against the folder's pinned lease.pub, its device id and
 * the nonce sent. Then it shows that the same bytes are refused when the
 * expectation is wrong, each with its own code: another nonce
 * (lease_replay), another device id (lease_device), another pinned key and
 * one flipped signature bit (signature), a sequence above the lease's
 * (lease_old). Prints one line per check:
 *   verified seq=N state=record|pause validity_ms=V reason_len=R
 *   other_nonce lease_replay
 *   other_device lease_device
 *   other_key signature
 *   flipped signature
 *   newer_held lease_old
 * Exit 0 when the lease verified and every wrong expectation was refused
 * with its expected code; 1 otherwise; 2 for a usage error.
 *
 *   st-leasekit bind STATE_DIR URL [THEN_FILE]
 *
 * The connection binding of lease polls: see bind_check below. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "agent/consent.h"
#include "core/buf.h"
#include "core/client.h"
#include "core/devreq.h"
#include "core/keys.h"
#include "core/lease.h"

/* A lease answer is a few hundred bytes; anything past this is wrong. */
#define ANSWER_MAX (64u << 10)
/* have_seq 0 is answered at once; a held poll ends within lease_hold_s,
 * far below this. */
#define POLL_TIMEOUT_MS 60000L

static int unb64(const char *t, uint8_t *out, size_t cap, size_t *len)
{
	if (!t)
		return -1;
	if (sodium_base642bin(out, cap, t, strlen(t), NULL, len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0)
		return 0;
	return sodium_base642bin(out, cap, t, strlen(t), NULL, len, NULL,
				 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* One wrong expectation: prints its name and the code it got; true when
 * that code is the one expected. */
static bool refused(const char *name, const uint8_t *p, size_t len,
		    const struct st_lease_expect *x, int want)
{
	struct st_lease l;
	struct st_error e = {0};
	int rc = st_lease_verify(p, len, x, &l, &e);
	printf("%s %s\n", name, rc == 0 ? "accepted" : st_err_id(rc));
	return rc == want;
}

static int poll_once(const char *dir, const char *url, uint64_t have_seq)
{
	struct st_error e = {0};
	struct st_agent_paths paths;
	struct st_agent_identity id = {0};
	char ca[ST_PATH_MAX], lpath[ST_PATH_MAX];
	uint8_t lease_pk[32];
	int status = 1;
	char *body = NULL;
	struct st_client *c = NULL;
	struct st_buf ans;
	st_buf_init(&ans, false);
	json_t *j = NULL;

	if (st_agent_paths_init(&paths, dir, NULL, &e) < 0 ||
	    st_identity_load(&paths, &id, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s: %s\n", dir, e.msg);
		goto out;
	}
	st_agent_path(&paths, "ca.pem", ca);
	st_agent_path(&paths, "lease.pub", lpath);
	if (st_key_read(lpath, ST_KEY_LEASE_PUBLIC, lease_pk, 32, false, &e) <
	    0) {
		fprintf(stderr, "st-leasekit: %s\n", e.msg);
		goto out;
	}

	uint8_t nonce[ST_LEASE_NONCE_LEN];
	char nonce_hex[2 * ST_LEASE_NONCE_LEN + 1];
	randombytes_buf(nonce, sizeof nonce);
	sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
	json_t *o = json_pack("{s:s, s:I, s:s}", "nonce", nonce_hex,
			      "have_seq", (json_int_t)have_seq, "state",
			      "stopped");
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body) {
		fprintf(stderr, "st-leasekit: out of memory\n");
		goto out;
	}
	const char *path = "/v1/device/lease";
	struct st_devreq_sig sig;
	if (st_devreq_sign(id.device_id, id.device_sk, "POST", path,
			   (const uint8_t *)body, strlen(body), time(NULL),
			   &sig, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s\n", e.msg);
		goto out;
	}
	char h1[80], h2[64], h3[128];
	snprintf(h1, sizeof h1, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(h2, sizeof h2, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(h3, sizeof h3, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	const char *hdrs[] = {h1, h2, h3, NULL};
	struct st_client_cfg cc = {.url = url, .ca_file = ca,
				   .timeout_ms = POLL_TIMEOUT_MS,
				   .answer_max = ANSWER_MAX};
	long http = 0;
	if (st_client_new(&cc, &c, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s\n", e.msg);
		goto out;
	}
	struct st_client_req rq = {.method = "POST", .path = path,
				   .content_type = "application/json",
				   .body = (const uint8_t *)body,
				   .body_len = strlen(body), .headers = hdrs};
	if (st_client_call(c, &rq, &http, &ans, &e) < 0) {
		fprintf(stderr, "st-leasekit: POST %s: %s\n", path, e.msg);
		goto out;
	}
	j = json_loadb((const char *)ans.p, ans.len, 0, NULL);
	uint8_t lease[ST_LEASE_MAX + 1];
	size_t llen = 0;
	if (!j || unb64(json_string_value(json_object_get(j, "lease")), lease,
			sizeof lease, &llen) != 0) {
		fprintf(stderr, "st-leasekit: the answer (HTTP %ld) holds no "
				"base64 \"lease\"\n", http);
		goto out;
	}

	struct st_lease_expect x = {.server_pk = lease_pk,
				    .device_id = id.device_id,
				    .nonce = nonce,
				    .min_seq = 0};
	struct st_lease l;
	int rc = st_lease_verify(lease, llen, &x, &l, &e);
	if (rc < 0) {
		printf("verify %s\n", st_err_id(rc));
		fprintf(stderr, "st-leasekit: the server's lease does not "
				"verify: %s\n", e.msg);
		goto out;
	}
	printf("verified seq=%" PRIu64 " state=%s validity_ms=%" PRIu32
	       " reason_len=%zu\n",
	       l.seq, l.state == ST_LEASE_RECORD ? "record" : "pause",
	       l.validity_ms, strlen(l.reason));

	bool all = true;
	uint8_t other[ST_LEASE_NONCE_LEN];
	memcpy(other, nonce, sizeof other);
	other[0] ^= 1;
	struct st_lease_expect y = x;
	y.nonce = other;
	all &= refused("other_nonce", lease, llen, &y, ST_E_LEASE_REPLAY);
	uint8_t dev[16];
	memcpy(dev, id.device_id, 16);
	dev[15] ^= 0x80;
	y = x;
	y.device_id = dev;
	all &= refused("other_device", lease, llen, &y, ST_E_LEASE_DEVICE);
	uint8_t kpk[32], *ksk = st_secret_new(64);
	if (!ksk || st_sign_keypair(kpk, ksk) < 0) {
		st_secret_free(ksk);
		fprintf(stderr, "st-leasekit: cannot make a key pair\n");
		goto out;
	}
	st_secret_free(ksk);
	y = x;
	y.server_pk = kpk;
	all &= refused("other_key", lease, llen, &y, ST_E_SIGNATURE);
	lease[llen - 1] ^= 0x01; /* the signature's last byte */
	all &= refused("flipped", lease, llen, &x, ST_E_SIGNATURE);
	lease[llen - 1] ^= 0x01;
	y = x;
	y.min_seq = l.seq + 1;
	all &= refused("newer_held", lease, llen, &y, ST_E_LEASE_OLD);
	status = all ? 0 : 1;
out:
	json_decref(j);
	st_client_free(c);
	st_buf_fini(&ans);
	free(body);
	st_identity_fini(&id);
	return status;
}

enum sig_mode { SIG_GOOD, SIG_WRONG, SIG_NONE };

/* One lease poll (have_seq 0: answered at once) on client c as device
 * dev: signed (SIG_GOOD), with a signature that does not verify (its last
 * base64 character changed) or with the device header alone (SIG_NONE).
 * Prints "NAME ok" or "NAME ERROR_ID"; returns the call's code. */
static int bind_poll(struct st_client *c, const char *name,
		     const uint8_t dev[16], const uint8_t *sk,
		     enum sig_mode mode)
{
	struct st_error e = {0};
	uint8_t nonce[ST_LEASE_NONCE_LEN];
	char nonce_hex[2 * ST_LEASE_NONCE_LEN + 1], body[160];
	randombytes_buf(nonce, sizeof nonce);
	sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
	snprintf(body, sizeof body,
		 "{\"nonce\":\"%s\",\"have_seq\":0,\"state\":\"stopped\"}",
		 nonce_hex);
	const char *path = "/v1/device/lease";
	struct st_devreq_sig sig;
	if (st_devreq_sign(dev, sk, "POST", path, (const uint8_t *)body,
			   strlen(body), time(NULL), &sig, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s\n", e.msg);
		return ST_E_INVAL;
	}
	if (mode == SIG_WRONG) {
		size_t n = strlen(sig.sig);
		sig.sig[n - 2] = sig.sig[n - 2] == 'A' ? 'B' : 'A';
	}
	char h1[80], h2[64], h3[128];
	snprintf(h1, sizeof h1, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(h2, sizeof h2, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(h3, sizeof h3, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	const char *hdrs[] = {h1, mode == SIG_NONE ? NULL : h2, h3, NULL};
	struct st_client_req rq = {.method = "POST", .path = path,
				   .content_type = "application/json",
				   .body = (const uint8_t *)body,
				   .body_len = strlen(body), .headers = hdrs};
	long http = 0;
	struct st_buf ans;
	st_buf_init(&ans, false);
	int rc = st_client_call(c, &rq, &http, &ans, &e);
	st_buf_fini(&ans);
	printf("%s %s\n", name, rc == 0 ? "ok" : st_err_id(rc));
	fflush(stdout);
	return rc;
}

/* st-leasekit bind STATE_DIR URL [THEN_FILE]: the connection binding
 * (docs/api.md, POST /v1/device/lease). On one kept-alive connection: a
 * signed poll (first), then one whose signature does not verify
 * (bound_wrong_sig: answered, the connection is bound), one with no time
 * or signature header (bound_unsigned: answered), then one naming another
 * device (bound_other: refused). On a new connection the same unsigned
 * and wrong-signature polls (fresh_unsigned, fresh_wrong_sig: refused). With THEN_FILE it then waits
 * (at most 60 s) for that file and polls once more on the bound
 * connection (after: what the server says then, e.g. device_revoked). */
static int bind_check(const char *dir, const char *url, const char *then)
{
	struct st_error e = {0};
	struct st_agent_paths paths;
	struct st_agent_identity id = {0};
	char ca[ST_PATH_MAX];
	struct st_client *c1 = NULL, *c2 = NULL;
	int status = 1;
	if (st_agent_paths_init(&paths, dir, NULL, &e) < 0 ||
	    st_identity_load(&paths, &id, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s: %s\n", dir, e.msg);
		goto out;
	}
	st_agent_path(&paths, "ca.pem", ca);
	struct st_client_cfg cc = {.url = url, .ca_file = ca,
				   .timeout_ms = POLL_TIMEOUT_MS,
				   .answer_max = ANSWER_MAX};
	if (st_client_new(&cc, &c1, &e) < 0 || st_client_new(&cc, &c2, &e) < 0) {
		fprintf(stderr, "st-leasekit: %s\n", e.msg);
		goto out;
	}
	uint8_t other[16];
	memcpy(other, id.device_id, 16);
	other[15] ^= 0x80;
	const uint8_t *sk = id.device_sk;
	bool ok = bind_poll(c1, "first", id.device_id, sk, SIG_GOOD) == 0;
	ok &= bind_poll(c1, "bound_wrong_sig", id.device_id, sk, SIG_WRONG) ==
	      0;
	ok &= bind_poll(c1, "bound_unsigned", id.device_id, sk, SIG_NONE) == 0;
	ok &= bind_poll(c1, "bound_other", other, sk, SIG_WRONG) < 0;
	ok &= bind_poll(c2, "fresh_unsigned", id.device_id, sk, SIG_NONE) < 0;
	ok &= bind_poll(c2, "fresh_wrong_sig", id.device_id, sk, SIG_WRONG) <
	      0;
	if (then) {
		int i = 0;
		for (; i < 600 && access(then, F_OK) != 0; i++)
			nanosleep(&(struct timespec){0, 100000000L}, NULL);
		if (i == 600) {
			fprintf(stderr, "st-leasekit: %s never came\n", then);
			goto out;
		}
		bind_poll(c1, "after", id.device_id, sk, SIG_WRONG);
	}
	status = ok ? 0 : 1;
out:
	st_client_free(c1);
	st_client_free(c2);
	st_identity_fini(&id);
	return status;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "bind") == 0) {
		if (sodium_init() < 0)
			return 1;
		return bind_check(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	}
	if (argc < 4 || argc > 5 || strcmp(argv[1], "poll") != 0) {
		fputs("usage: st-leasekit poll STATE_DIR URL [HAVE_SEQ]\n"
		      "       st-leasekit bind STATE_DIR URL [THEN_FILE]\n",
		      stderr);
		return 2;
	}
	uint64_t have = 0;
	if (argc == 5) {
		char *end;
		have = strtoull(argv[4], &end, 10);
		if (end == argv[4] || *end) {
			fputs("st-leasekit: HAVE_SEQ must be a number\n",
			      stderr);
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	return poll_once(argv[2], argv[3], have);
}
