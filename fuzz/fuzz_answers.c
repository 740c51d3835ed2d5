/* fuzz_answers.c - libFuzzer target for what the agent reads from a server:
 * the answer bodies of every call the uploader makes (segment uploads, the
 * policy fetch, forget requests) through the uploader's transport seam, the
 * error answers core/client maps to codes, and the enrollment answer
 * enroll checks and keeps. The first input byte picks the HTTP status, the
 * rest is the body. Property beyond no crash, leak or UB: a segment leaves
 * the spool only after a 200 or into quarantine, never silently. Works in
 * a scratch folder it empties as it goes. */
#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/enroll.h"
#include "agent/spool.h"
#include "agent/upload.h"
#include "core/client.h"
#include "core/keys.h"
#include "core/seal.h"
#include "fuzz_check.h"

static struct st_agent_paths P, P2;
static struct st_agent_identity ID;
static struct st_spool *SP;
static struct st_zctx *Z;
static uint8_t DSK[64];

struct fake {
	struct st_upload_transport base;
	const uint8_t *body;
	size_t len;
	long status;
};

static int fake_call(struct st_upload_transport *t,
		     const struct st_client_req *r, long *status,
		     struct st_buf *answer, struct st_error *err)
{
	struct fake *f = (struct fake *)t;
	(void)r;
	*status = f->status;
	if (answer) {
		st_buf_reset(answer);
		st_buf_put(answer, f->body, f->len);
	}
	if (f->status >= 200 && f->status < 300)
		return 0;
	char msg[256];
	int rc = st_client_error_answer(f->body, f->len, f->status, msg,
					sizeof msg);
	return st_fail(err, rc, "fuzz answer %ld: %s", f->status, msg);
}

static void fake_free(struct st_upload_transport *t) { (void)t; }

/* Durability is not what this target checks: the spool's file-system seam
 * without fsync lets it run a hundred times more inputs. */
static struct st_fs NOSYNC;
static int no_fsync(struct st_fs *fs, int fd)
{
	(void)fs;
	(void)fd;
	return 0;
}
static void no_sleep(void *ctx, uint64_t ms) { (void)ctx; (void)ms; }
static uint64_t no_random(void *ctx, uint64_t bound)
{
	(void)ctx;
	return bound / 2;
}

static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char p[ST_PATH_MAX + 300];
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
}

/* One sealed segment in the spool, so that there is always one to send. */
static void refill(void)
{
	if (st_spool_count(SP))
		return;
	struct st_error e = {0};
	uint64_t seq;
	if (st_spool_next_seq(SP, &seq, &e) < 0)
		fuzz_die("next seq", &e);
	struct st_events evs;
	st_events_init(&evs, false);
	evs.anchor_ns = (uint64_t)time(NULL) * 1000000000ull;
	evs.tick_ns = 1000000;
	struct st_event ev = {.t = 0, .type = ST_EV_SCREEN};
	ev.u.screen.w = 1280;
	ev.u.screen.h = 1024;
	st_events_push(&evs, &ev, &e);
	struct st_seal_params sp = {.seq = seq, .level = 1};
	memcpy(sp.device_id, ID.device_id, 16);
	memcpy(sp.person_id, ID.person_id, 16);
	memcpy(sp.notice_hash, ID.notice_hash, 32);
	struct st_buf out;
	st_buf_init(&out, false);
	if (st_segment_seal(&sp, &evs, ID.person_pk, DSK, Z, &out, &e) < 0 ||
	    st_spool_put(SP, seq, out.p, out.len, &e) < 0)
		fuzz_die("refill", &e);
	st_buf_fini(&out);
	st_events_fini(&evs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	static char tmpl[] = "/tmp/fuzz-answers.XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct st_error e = {0};
	char a[ST_PATH_MAX], b[ST_PATH_MAX], sock[ST_PATH_MAX];
	snprintf(a, sizeof a, "%s/agent", dir);
	snprintf(b, sizeof b, "%s/enroll", dir);
	snprintf(sock, sizeof sock, "%s/s", dir);
	mkdir(a, 0700);
	mkdir(b, 0700);
	if (!dir || st_agent_paths_init(&P, a, sock, &e) < 0 ||
	    st_agent_paths_init(&P2, b, sock, &e) < 0)
		fuzz_die("paths", &e);
	crypto_sign_keypair(ID.device_pk, DSK);
	uint8_t psk[32];
	crypto_box_keypair(ID.person_pk, psk);
	randombytes_buf(ID.device_id, 16);
	randombytes_buf(ID.person_id, 16);
	randombytes_buf(ID.notice_hash, 32);
	ID.device_sk = DSK;
	Z = st_zctx_new();
	NOSYNC = *st_fs_posix();
	NOSYNC.fsync = no_fsync;
	struct st_spool_cfg sc = {.dir = P.spool, .device_pk = ID.device_pk,
				  .fs = &NOSYNC};
	if (st_spool_open(&sc, &SP, NULL, &e) < 0)
		fuzz_die("spool", &e);
	return 0;
}

static const long statuses[] = {200, 200, 200, 400, 401, 403, 404, 409,
				413, 415, 422, 500, 503, 201, 302};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (64u << 10))
		return 0;
	struct fake f = {.base = {.call = fake_call, .free = fake_free},
			 .body = data + 1, .len = size - 1,
			 .status = statuses[data[0] % (sizeof statuses /
						      sizeof *statuses)]};
	char q[ST_PATH_MAX + 16];
	snprintf(q, sizeof q, "%s/quarantine", P.spool);
	empty_dir(q);
	refill();
	struct st_upload_cfg c = {.paths = &P, .spool = SP,
				  .transport = &f.base, .id = &ID,
				  .until_empty = true, .sleep_ms = no_sleep,
				  .random = no_random};
	struct st_upload *u = NULL;
	struct st_error e = {0};
	if (st_upload_new(&c, &u, &e) < 0)
		fuzz_die("uploader", &e);
	for (int i = 0; i < 3; i++) {
		size_t before = st_spool_count(SP) + st_spool_quarantined(SP);
		uint64_t w;
		bool done;
		if (st_upload_step(u, &w, &done, &e) < 0 || done)
			break;
		size_t after = st_spool_count(SP) + st_spool_quarantined(SP);
		if (after < before && f.status != 200)
			fuzz_die("a segment left the spool without a 200 and "
				 "without quarantine", NULL);
	}
	st_upload_free(u);
	/* what a fetched notice left behind */
	char p[ST_PATH_MAX];
	st_agent_path(&P, ST_PENDING_NOTICE, p);
	unlink(p);
	st_agent_path(&P, ST_PENDING_POLICY, p);
	unlink(p);
	st_agent_path(&P, ST_PENDING_RECIPIENT, p);
	unlink(p);

	char msg[256];
	int rc = st_client_error_answer(data + 1, size - 1, f.status, msg,
					sizeof msg);
	if (rc >= 0)
		fuzz_die("an error answer mapped to success", NULL);
	for (const char *m = msg; *m; m++)
		if ((unsigned char)*m < 0x20)
			fuzz_die("a control character reached a message", NULL);

	uint8_t lease[32] = {1};
	if (st_enroll_keep_answer(&P2, "https://127.0.0.1:1", data + 1,
				  size - 1, lease, "fuzz", "host", &e) == 0)
		empty_dir(P2.dir); /* a whole valid answer: start again */
	return 0;
}
