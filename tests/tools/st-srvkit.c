/* st-srvkit.c - test tool for the server tests (never installed): fills an
 * enrolled agent's spool with real sealed segments, and writes single
 * segments that are good or broken in one named way, for upload by curl.
 *
 *   st-srvkit spool-fill STATE_DIR N [SEED]
 *   st-srvkit segment STATE_DIR OUT MODE SEQ
 *     MODE: ok | tamper | truncate | unsigned | foreign | over-level |
 *           extra-kinds
 *   st-srvkit strings STATE_DIR N [SEED]
 *     prints the window titles spool-fill N SEED records, one per line (the
 *     plaintext a test then looks for in the server's files)
 *   st-srvkit post-accept STATE_DIR URL NOTICE_HASH LOCAL_USER
 *     posts an acceptance signed by the device, claiming LOCAL_USER;
 *     prints "STATUS ERROR_ID" (or "STATUS ok")
 * Segments are one minute each of the trace generator, anchored so that
 * the last one ends about now (inside the server's time window). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <sodium.h>

#include "agent/consent.h"
#include "agent/spool.h"
#include "core/client.h"
#include "core/devreq.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/seal.h"
#include "core/tracegen.h"

struct fill {
	struct st_agent_identity *id;
	struct st_spool *sp; /* spool-fill */
	struct st_zctx *z;
	struct st_buf out;
	uint64_t seq;        /* segment: the one to write */
	const char *mode;
	const char *path;
	uint64_t want;
	uint64_t done;
	bool strings; /* print titles instead of sealing */
	char seen[4096];
};

static int seal_one(struct fill *f, struct st_events *seg, uint64_t seq,
		    struct st_error *err)
{
	/* lease sequence 1: a server's first epoch (0 is a development
	 * agent's, refused by every server); ST_SRVKIT_LEASE_SEQ chooses
	 * another, e.g. an old one to be refused after a pause */
	uint64_t lease = 1;
	const char *ls = getenv("ST_SRVKIT_LEASE_SEQ");
	if (ls && *ls) {
		char *end = NULL;
		unsigned long long v = strtoull(ls, &end, 10);
		if (*end || v > INT64_MAX)
			return st_fail(err, ST_E_INVAL, "ST_SRVKIT_LEASE_SEQ "
				       "'%s': not a number up to 2^63-1", ls);
		lease = v;
	}
	struct st_seal_params p = {.seq = seq, .lease_seq = lease, .level = 2};
	memcpy(p.device_id, f->id->device_id, 16);
	memcpy(p.person_id, f->id->person_id, 16);
	memcpy(p.notice_hash, f->id->notice_hash, 32);
	const uint8_t *sk = f->id->device_sk;
	uint8_t *fsk = NULL;
	const char *m = f->mode ? f->mode : "ok";
	if (!strcmp(m, "over-level"))
		p.level = 3;
	if (!strcmp(m, "extra-kinds")) {
		struct st_event e = {.t = seg->n ? seg->ev[seg->n - 1].t : 0,
				     .type = ST_EV_KEYFRAME};
		e.u.keyframe.frame = 1;
		int rc = st_events_push(seg, &e, err);
		if (rc < 0)
			return rc;
	}
	if (!strcmp(m, "foreign")) {
		uint8_t pk[32];
		fsk = st_secret_new(64);
		st_sign_keypair(pk, fsk);
		randombytes_buf(p.device_id, 16);
		sk = fsk;
	}
	st_buf_reset(&f->out);
	int rc = st_segment_seal(&p, seg, f->id->person_pk, sk, f->z, &f->out,
				 err);
	st_secret_free(fsk);
	if (rc < 0)
		return rc;
	if (!strcmp(m, "tamper"))
		f->out.p[f->out.len - 5] ^= 0x40; /* a ciphertext byte */
	else if (!strcmp(m, "truncate"))
		f->out.len -= 100;
	else if (!strcmp(m, "unsigned"))
		memset(f->out.p + ST_SEG_OFF_SIG, 0, ST_SEG_SIG_LEN);
	return 0;
}

static int on_segment(void *ctx, uint64_t index, struct st_events *seg,
		      struct st_error *err)
{
	struct fill *f = ctx;
	int rc;
	if (f->strings) {
		for (size_t i = 0; i < seg->n; i++) {
			if (seg->ev[i].type != ST_EV_FOCUS)
				continue;
			size_t len;
			const char *t = st_events_str(seg, seg->ev[i].u.focus.title, &len);
			if (!t || len < 8 || len > 200)
				continue;
			char line[256];
			snprintf(line, sizeof line, "\n%.*s\n", (int)len, t);
			if (strstr(f->seen, line) || strlen(f->seen) + len + 3 > sizeof f->seen)
				continue;
			strcat(f->seen, line + 1);
			strcat(f->seen, "\n");
			printf("%.*s\n", (int)len, t);
		}
		return 0;
	}
	if (f->sp) {
		uint64_t seq;
		if ((rc = st_spool_next_seq(f->sp, &seq, err)) < 0 ||
		    (rc = seal_one(f, seg, seq, err)) < 0)
			return rc;
		if ((rc = st_spool_put(f->sp, seq, f->out.p, f->out.len,
				       err)) < 0)
			return rc;
		f->done++;
		return 0;
	}
	if (index > 0)
		return 1;
	if ((rc = seal_one(f, seg, f->seq, err)) < 0)
		return rc;
	return st_file_write_atomic(f->path, f->out.p, f->out.len, 0644, err);
}

/* Works before any acceptance: reads the device id and key directly. */
static int post_accept(const struct st_agent_paths *paths, const char *url,
		       const char *hash, const char *user)
{
	struct st_error e = {0};
	char ca[ST_PATH_MAX], path_id[ST_PATH_MAX], path_key[ST_PATH_MAX];
	st_agent_path(paths, "ca.pem", ca);
	st_agent_path(paths, "identity.json", path_id);
	st_agent_path(paths, "device.key", path_key);
	json_t *ident = json_load_file(path_id, 0, NULL);
	const char *dh = json_string_value(json_object_get(ident, "device_id"));
	uint8_t device_id[16];
	size_t got = 0;
	uint8_t *device_sk = st_secret_new(64);
	if (!dh || sodium_hex2bin(device_id, 16, dh, strlen(dh), NULL, &got,
				  NULL) != 0 || got != 16 ||
	    st_key_read(path_key, ST_KEY_DEVICE_SECRET, device_sk, 64, true,
			&e) < 0) {
		fprintf(stderr, "st-srvkit: %s: no device identity (%s)\n",
			paths->dir, e.msg);
		json_decref(ident);
		st_secret_free(device_sk);
		return 1;
	}
	json_decref(ident);
	json_t *o = json_pack("{s:s, s:s, s:I}", "notice_hash", hash,
			      "local_user", user, "accepted_s",
			      (json_int_t)time(NULL));
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	const char *path = "/v1/device/acceptances";
	struct st_devreq_sig sig;
	if (st_devreq_sign(device_id, device_sk, "POST", path,
			   (const uint8_t *)body, strlen(body), time(NULL),
			   &sig, &e) < 0) {
		fprintf(stderr, "st-srvkit: %s\n", e.msg);
		return 1;
	}
	char h1[80], h2[64], h3[128];
	snprintf(h1, sizeof h1, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(h2, sizeof h2, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(h3, sizeof h3, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	const char *hdrs[] = {h1, h2, h3, NULL};
	struct st_client_cfg cc = {.url = url, .ca_file = ca};
	struct st_client *c = NULL;
	long status = 0;
	int rc = st_client_new(&cc, &c, &e);
	if (rc == 0) {
		struct st_client_req rq = {.method = "POST", .path = path,
					   .content_type = "application/json",
					   .body = (const uint8_t *)body,
					   .body_len = strlen(body),
					   .headers = hdrs};
		rc = st_client_call(c, &rq, &status, NULL, &e);
	}
	st_client_free(c);
	st_secret_free(device_sk);
	free(body);
	printf("%ld %s\n", status, rc == 0 ? "ok" : st_err_id(rc));
	return 0;
}

static int usage(void)
{
	fputs("usage: st-srvkit spool-fill STATE_DIR N [SEED]\n"
	      "       st-srvkit strings STATE_DIR N [SEED]\n"
	      "       st-srvkit post-accept STATE_DIR URL NOTICE_HASH LOCAL_USER\n"
	      "       st-srvkit segment STATE_DIR OUT MODE SEQ\n"
	      "MODE: ok tamper truncate unsigned foreign over-level "
	      "extra-kinds\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	if (sodium_init() < 0)
		return 1;
	struct st_error e = {0};
	struct st_agent_paths paths;
	struct st_agent_identity id = {0};
	struct fill f = {.id = &id};
	int rc = st_agent_paths_init(&paths, argv[2], NULL, &e);
	if (rc < 0)
		goto fail;
	if (!strcmp(argv[1], "post-accept") && argc == 6)
		return post_accept(&paths, argv[3], argv[4], argv[5]);
	if ((rc = st_identity_load(&paths, &id, &e)) < 0)
		goto fail;
	f.z = st_zctx_new();
	st_buf_init(&f.out, false);
	uint64_t n = 1, seed = 1;

	if (!strcmp(argv[1], "strings") && argc >= 4) {
		n = strtoull(argv[3], NULL, 10);
		seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
		f.strings = true;
		f.seen[0] = '\n';
	} else if (!strcmp(argv[1], "spool-fill")) {
		n = strtoull(argv[3], NULL, 10);
		seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
		struct st_spool_cfg sc = {.dir = paths.spool,
					  .device_pk = id.device_pk};
		if (n == 0 || n > 100000) {
			fprintf(stderr, "st-srvkit: N must be 1..100000\n");
			return 2;
		}
		if ((rc = st_spool_open(&sc, &f.sp, NULL, &e)) < 0)
			goto fail;
	} else if (!strcmp(argv[1], "segment") && argc == 6) {
		f.path = argv[3];
		f.mode = argv[4];
		f.seq = strtoull(argv[5], NULL, 10);
	} else {
		return usage();
	}
	uint64_t now_ns = (uint64_t)time(NULL) * 1000000000ull;
	struct st_tracegen_cfg tc = {
		.seed = seed,
		.duration_ms = n * ST_TRACEGEN_SEGMENT_MS,
		.anchor_ns = now_ns - (n + 1) * 60000000000ull,
	};
	rc = st_tracegen_run(&tc, on_segment, &f, &e);
	if (rc < 0)
		goto fail;
	if (f.sp)
		printf("spooled: %llu segments\n", (unsigned long long)f.done);
	st_spool_close(f.sp);
	st_buf_fini(&f.out);
	st_zctx_free(f.z);
	st_identity_fini(&id);
	return 0;
fail:
	fprintf(stderr, "st-srvkit: %s\n", e.msg[0] ? e.msg : st_strerror(rc));
	return 1;
}
