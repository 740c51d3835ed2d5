/* test_upload.c - the uploader against a scripted fake transport (the
 * network seam), a manual clock and an injected sleep and random: sequence
 * order, removal only after a 200, duplicates as success, refusals to
 * quarantine with the error id, backoff that grows, is capped and jittered
 * within bounds, restarts that resume, forget requests retried with the
 * same id, revocation, and a new notice kept as pending. */
#include "helpers.h"
#include "fixtures.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/consent.h"
#include "agent/spool.h"
#include "agent/upload.h"
#include "core/devreq.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/seal.h"
#include "fs_faulty.c"

#define NSEG 6
#define SCRIPT_MAX 64
#define REQ_MAX 64

static uint8_t DPK[32], PPK[32], *DSK, *PSK, NOTICE[32];
static struct st_buf SEGS[NSEG + 1];

/* ---- the fake transport ---- */

/* status 200 with body NULL: {"result":"stored"} for the seq sent and the
 * accepted notice; dup: "duplicate" instead. rc != 0 with status 0: a
 * transport failure. Otherwise an API error with id. */
struct step {
	long status;
	int rc;
	const char *id;   /* error id for a refusal */
	const char *body; /* answer body as is */
	bool dup;
};

struct seen {
	char method[8];
	char path[64];
	char backlog[64];
	char device[40], time[32], sig[128];
	struct st_buf body;
	uint64_t seq; /* segments: the header's */
};

struct fake {
	struct st_upload_transport base;
	struct step script[SCRIPT_MAX];
	size_t n, at;
	struct seen req[REQ_MAX];
	size_t nreq;
};

static const char *hdr(const struct st_client_req *r, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; r->headers && r->headers[i]; i++)
		if (!strncmp(r->headers[i], name, l) && r->headers[i][l] == ':')
			return r->headers[i] + l + 2;
	return "";
}

static int fake_call(struct st_upload_transport *t,
		     const struct st_client_req *r, long *status,
		     struct st_buf *answer, struct st_error *err)
{
	struct fake *f = (struct fake *)t;
	assert_true(f->nreq < REQ_MAX);
	struct seen *s = &f->req[f->nreq++];
	snprintf(s->method, sizeof s->method, "%s", r->method);
	snprintf(s->path, sizeof s->path, "%s", r->path);
	snprintf(s->backlog, sizeof s->backlog, "%s", hdr(r, "Sealtrace-Backlog"));
	snprintf(s->device, sizeof s->device, "%s", hdr(r, ST_DEVREQ_HDR_DEVICE));
	snprintf(s->time, sizeof s->time, "%s", hdr(r, ST_DEVREQ_HDR_TIME));
	snprintf(s->sig, sizeof s->sig, "%s", hdr(r, ST_DEVREQ_HDR_SIG));
	st_buf_init(&s->body, false);
	if (r->body_len)
		st_buf_put(&s->body, r->body, r->body_len);
	struct st_segment_header h;
	if (!strcmp(r->path, "/v1/segments") &&
	    st_segment_parse_header(r->body, r->body_len, &h, NULL) == 0)
		s->seq = h.seq;
	if (answer)
		st_buf_reset(answer);
	if (f->at >= f->n)
		fail_msg("the uploader made request %zu (%s %s) beyond the "
			 "script", f->nreq, r->method, r->path);
	const struct step *st = &f->script[f->at++];
	*status = st->status;
	if (st->status == 0)
		return st_fail(err, st->rc, "%s %s: transport failure",
			       r->method, r->path);
	char buf[512];
	const char *body = st->body;
	if (!body && st->status == 200) {
		char nh[65];
		sodium_bin2hex(nh, sizeof nh, NOTICE, 32);
		snprintf(buf, sizeof buf, "{\"result\":\"%s\",\"device\":\"x\","
			 "\"seq\":%" PRIu64 ",\"notice_hash\":\"%s\"}",
			 st->dup ? "duplicate" : "stored", s->seq, nh);
		body = buf;
	} else if (!body && st->id) {
		snprintf(buf, sizeof buf, "{\"error\":{\"id\":\"%s\","
			 "\"message\":\"refused for the test\"}}", st->id);
		body = buf;
	}
	if (answer && body)
		st_buf_put(answer, body, strlen(body));
	if (st->status >= 200 && st->status < 300)
		return 0;
	int code = st->id ? st_err_from_id(st->id) : ST_E_HTTP;
	return st_fail(err, code ? code : ST_E_HTTP, "%s %s: HTTP %ld: %s",
		       r->method, r->path, st->status,
		       st->id ? st->id : "error");
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof *f);
	f->base.call = fake_call;
}

static void fake_fini(struct fake *f)
{
	for (size_t i = 0; i < f->nreq; i++)
		st_buf_fini(&f->req[i].body);
}

static void push(struct fake *f, struct step s)
{
	assert_true(f->n < SCRIPT_MAX);
	f->script[f->n++] = s;
}

#define OK200 ((struct step){.status = 200})
#define DUP200 ((struct step){.status = 200, .dup = true})
#define DOWN ((struct step){.status = 0, .rc = ST_E_CURL_BASE - 7})
#define HTTP(st, ident) ((struct step){.status = (st), .id = (ident)})

/* ---- clock, sleep and random seams ---- */

struct seams {
	struct st_manual_clock mc;
	struct st_clock clock;
	uint64_t waits[256];
	size_t nwait;
	int random_mode; /* 0 = bound (the ceiling), 1 = 0, 2 = libsodium */
};

static void fake_sleep(void *ctx, uint64_t ms)
{
	struct seams *s = ctx;
	if (s->nwait < 256)
		s->waits[s->nwait++] = ms;
	s->mc.wall += ms * 1000000ull;
	s->mc.mono += ms * 1000000ull;
}

static uint64_t fake_random(void *ctx, uint64_t bound)
{
	struct seams *s = ctx;
	if (s->random_mode == 0)
		return bound;
	if (s->random_mode == 1)
		return 0;
	return randombytes_uniform((uint32_t)(bound + 1));
}

/* ---- fixture ---- */

static char *D;
static struct st_agent_paths P;
static struct st_agent_identity ID;
static struct seams S;

static int group_setup(void **st)
{
	(void)st;
	if (sodium_init() < 0)
		return -1;
	DSK = st_secret_new(ST_SIGN_SK_LEN);
	PSK = st_secret_new(ST_BOX_SK_LEN);
	st_sign_keypair(DPK, DSK);
	st_box_keypair(PPK, PSK);
	memset(NOTICE, 0xab, 32);
	struct st_events evs;
	st_events_init(&evs, true);
	fx_every_type(&evs);
	for (uint64_t q = 1; q <= NSEG; q++) {
		struct st_seal_params p;
		memset(&p, 0, sizeof p);
		memset(p.device_id, 0xd1, 16);
		memset(p.person_id, 0x9e, 16);
		p.seq = q;
		memcpy(p.notice_hash, NOTICE, 32);
		p.level = 2;
		st_buf_init(&SEGS[q], false);
		struct st_error e = {0};
		if (st_segment_seal(&p, &evs, PPK, DSK, NULL, &SEGS[q], &e) < 0)
			return -1;
	}
	st_events_fini(&evs);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	for (int q = 1; q <= NSEG; q++)
		st_buf_fini(&SEGS[q]);
	st_secret_free(DSK);
	st_secret_free(PSK);
	return 0;
}

static int setup(void **st)
{
	(void)st;
	D = fs_mkdtemp("upload");
	struct st_error e = {0};
	char sock[300];
	snprintf(sock, sizeof sock, "%s/sock", D);
	if (st_agent_paths_init(&P, D, sock, &e) < 0)
		return -1;
	memset(&ID, 0, sizeof ID);
	memset(ID.device_id, 0xd1, 16);
	memset(ID.person_id, 0x9e, 16);
	memcpy(ID.notice_hash, NOTICE, 32);
	memcpy(ID.device_pk, DPK, 32);
	memcpy(ID.person_pk, PPK, 32);
	ID.device_sk = DSK; /* borrowed: never st_identity_fini'ed here */
	memset(&S, 0, sizeof S);
	S.mc.wall = 1790000000ull * 1000000000ull;
	S.mc.mono = 1000;
	st_clock_manual(&S.clock, &S.mc);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	fs_rm_rf(D);
	free(D);
	return 0;
}

static struct st_spool *spool_with(int n)
{
	struct st_spool_cfg c = {.dir = P.spool, .device_pk = DPK};
	struct st_spool *sp = NULL;
	struct st_error e = {0};
	if (st_spool_open(&c, &sp, NULL, &e) < 0)
		fail_msg("spool: %s", e.msg);
	for (int i = 0; i < n; i++) {
		uint64_t q;
		assert_int_equal(st_spool_next_seq(sp, &q, &e), 0);
		assert_true(q <= NSEG);
		if (st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e) < 0)
			fail_msg("put: %s", e.msg);
	}
	return sp;
}

static struct st_upload *uploader(struct st_spool *sp, struct fake *f,
				  uint64_t bmin, uint64_t bmax)
{
	struct st_upload_cfg c = {.paths = &P, .spool = sp,
				  .transport = &f->base, .id = &ID,
				  .clock = &S.clock, .backoff_min_ms = bmin,
				  .backoff_max_ms = bmax, .until_empty = true,
				  .sleep_ms = fake_sleep,
				  .random = fake_random, .seam_ctx = &S};
	struct st_upload *u = NULL;
	struct st_error e = {0};
	if (st_upload_new(&c, &u, &e) < 0)
		fail_msg("uploader: %s", e.msg);
	return u;
}

static void step_ok(struct st_upload *u, uint64_t *wait)
{
	struct st_error e = {0};
	uint64_t w;
	if (st_upload_step(u, wait ? wait : &w, NULL, &e) < 0)
		fail_msg("step: %s", e.msg);
}

static bool exists(const char *name)
{
	char p[ST_PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", D, name);
	return access(p, F_OK) == 0;
}

/* ---- tests ---- */

static void uploads_in_sequence_order_and_empties_the_spool(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(3);
	struct fake f;
	fake_init(&f);
	push(&f, OK200);
	push(&f, OK200);
	push(&f, OK200);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	struct st_error e = {0};
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(f.req[i].path, "/v1/segments");
		assert_int_equal(f.req[i].seq, i + 1);
		assert_int_equal(f.req[i].body.len, SEGS[i + 1].len);
		assert_memory_equal(f.req[i].body.p, SEGS[i + 1].p,
				    SEGS[i + 1].len);
	}
	char want[64];
	snprintf(want, sizeof want, "3 %zu",
		 SEGS[1].len + SEGS[2].len + SEGS[3].len);
	assert_string_equal(f.req[0].backlog, want);
	assert_int_equal(st_spool_count(sp), 0);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.uploaded, 3);
	assert_int_equal(s.state, ST_UPLOAD_IDLE);
	assert_true(s.last_upload_wall_ns >= S.mc.wall - 1);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void removes_a_segment_only_after_a_200(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(2);
	struct fake f;
	fake_init(&f);
	push(&f, DOWN);
	push(&f, HTTP(503, "unavailable"));
	push(&f, HTTP(500, "sqlite_5"));
	push(&f, HTTP(404, "not_found")); /* not about the segment: retried */
	push(&f, (struct step){.status = 200, .body = "{\"result\":\"odd\"}"});
	push(&f, OK200);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	for (int i = 0; i < 5; i++) {
		uint64_t w = 0;
		step_ok(u, &w);
		assert_int_equal(st_spool_count(sp), 2);
		assert_true(w > 0 || S.random_mode == 1);
		struct st_upload_stats s;
		st_upload_stats(u, &s);
		assert_int_equal(s.state, ST_UPLOAD_BACKOFF);
		assert_int_equal(s.uploaded, 0);
		assert_true(s.last_error[0] != 0);
	}
	step_ok(u, NULL);
	assert_int_equal(st_spool_count(sp), 1);
	for (size_t i = 0; i < f.nreq; i++)
		assert_int_equal(f.req[i].seq, 1); /* never skipped ahead */
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.uploaded, 1);
	assert_int_equal(s.attempt, 0);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void a_duplicate_counts_as_success(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(1);
	struct fake f;
	fake_init(&f);
	push(&f, DUP200);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	step_ok(u, NULL);
	assert_int_equal(st_spool_count(sp), 0);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.uploaded, 1);
	assert_int_equal(s.duplicates, 1);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void a_refusal_moves_the_segment_to_quarantine_with_its_reason(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(3);
	struct fake f;
	fake_init(&f);
	push(&f, HTTP(422, "not_in_notice"));
	push(&f, HTTP(409, "conflict"));
	push(&f, OK200);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	struct st_error e = {0};
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(st_spool_count(sp), 0);
	assert_int_equal(st_spool_quarantined(sp), 2);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.refused, 2);
	assert_int_equal(s.uploaded, 1);
	/* kept, byte for byte, with a reason naming the error id */
	struct st_buf b;
	st_buf_init(&b, false);
	char p[ST_PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/quarantine/%020d.seg", P.spool, 1);
	assert_int_equal(st_file_read(p, 1 << 20, &b, &e), 0);
	assert_int_equal(b.len, SEGS[1].len);
	assert_memory_equal(b.p, SEGS[1].p, b.len);
	st_buf_reset(&b);
	snprintf(p, sizeof p, "%s/quarantine/%020d.seg.reason", P.spool, 1);
	assert_int_equal(st_file_read(p, 4096, &b, &e), 0);
	st_buf_put(&b, "", 1);
	assert_non_null(strstr((char *)b.p, "not_in_notice"));
	assert_non_null(strstr((char *)b.p, "422"));
	st_buf_reset(&b);
	snprintf(p, sizeof p, "%s/quarantine/%020d.seg.reason", P.spool, 2);
	assert_int_equal(st_file_read(p, 4096, &b, &e), 0);
	st_buf_put(&b, "", 1);
	assert_non_null(strstr((char *)b.p, "conflict"));
	st_buf_fini(&b);
	st_upload_free(u);
	st_spool_close(sp);
	/* a reopened spool counts them and does not re-send them */
	sp = spool_with(0);
	assert_int_equal(st_spool_quarantined(sp), 2);
	assert_int_equal(st_spool_count(sp), 0);
	st_spool_close(sp);
	fake_fini(&f);
}

static void backoff_grows_is_capped_and_jittered_within_bounds(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(1);
	struct fake f;
	fake_init(&f);
	for (int i = 0; i < 8; i++)
		push(&f, DOWN);
	push(&f, OK200);
	struct st_upload *u = uploader(sp, &f, 100, 1000);
	/* random at its bound shows the ceiling: 100, 200, 400, 800, 1000 */
	static const uint64_t ceil[] = {100, 200, 400, 800, 1000, 1000, 1000, 1000};
	S.random_mode = 0;
	for (int i = 0; i < 8; i++) {
		uint64_t w;
		uint64_t before = S.mc.wall;
		step_ok(u, &w);
		assert_int_equal(w, ceil[i]);
		struct st_upload_stats s;
		st_upload_stats(u, &s);
		assert_int_equal(s.backoff_until_wall_ns, before + w * 1000000ull);
		fake_sleep(&S, w);
	}
	step_ok(u, NULL);
	assert_int_equal(st_spool_count(sp), 0);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);

	/* real jitter: never above the ceiling, and not always at it */
	sp = spool_with(1);
	fake_init(&f);
	for (int i = 0; i < 40; i++)
		push(&f, DOWN);
	u = uploader(sp, &f, 100, 1000);
	S.random_mode = 2;
	bool below = false;
	for (int i = 0; i < 40; i++) {
		uint64_t w;
		step_ok(u, &w);
		uint64_t c = i < 4 ? 100ull << i : 1000;
		assert_true(w <= c);
		below |= w < c;
	}
	assert_true(below);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void the_uploader_thread_stops_promptly_in_a_long_backoff(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(1);
	struct fake f;
	fake_init(&f);
	push(&f, DOWN);
	struct st_upload_cfg c = {.paths = &P, .spool = sp,
				  .transport = &f.base, .id = &ID,
				  .backoff_min_ms = 60000,
				  .backoff_max_ms = 60000,
				  .random = fake_random, .seam_ctx = &S};
	struct st_upload *u = NULL;
	struct st_error e = {0};
	assert_int_equal(st_upload_new(&c, &u, &e), 0);
	assert_int_equal(st_upload_start(u, &e), 0);
	for (int i = 0; i < 500 && f.nreq == 0; i++)
		usleep(2000);
	usleep(20000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st_upload_stop(u);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms < 1000);
	assert_int_equal(st_spool_count(sp), 1);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void a_restart_resumes_where_it_stopped(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(3);
	struct fake f;
	fake_init(&f);
	push(&f, OK200);
	push(&f, DOWN);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	step_ok(u, NULL);
	step_ok(u, NULL);
	st_upload_free(u);
	st_spool_close(sp); /* the process ends here */
	fake_fini(&f);

	sp = spool_with(0);
	assert_int_equal(st_spool_count(sp), 2);
	fake_init(&f);
	push(&f, OK200);
	push(&f, OK200);
	u = uploader(sp, &f, 0, 0);
	struct st_error e = {0};
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 2);
	assert_int_equal(f.req[0].seq, 2);
	assert_int_equal(f.req[1].seq, 3);
	assert_int_equal(st_spool_count(sp), 0);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

/* The signature check of docs/api.md, written out here from the contract
 * (not through core/devreq, so the two are checked against each other). */
static bool signed_by_device(const struct seen *s)
{
	char want_dev[33];
	sodium_bin2hex(want_dev, sizeof want_dev, ID.device_id, 16);
	if (strcmp(s->device, want_dev) != 0)
		return false;
	uint8_t h[32], sig[64];
	char hx[65], msg[1400];
	crypto_generichash(h, 32, s->body.p, s->body.len, NULL, 0);
	sodium_bin2hex(hx, sizeof hx, h, 32);
	int n = snprintf(msg, sizeof msg, "sealtrace-request-v1\n%s\n%s\n%s\n%s",
			 s->method, s->path, s->time, hx);
	size_t got = 0;
	if (sodium_base642bin(sig, sizeof sig, s->sig, strlen(s->sig), NULL,
			      &got, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    got != 64)
		return false;
	long long t = atoll(s->time);
	long long now = (long long)(S.mc.wall / 1000000000ull);
	return crypto_sign_verify_detached(sig, (uint8_t *)msg, (size_t)n,
					   DPK) == 0 &&
	       t <= now && t > now - 300;
}

static void a_forget_request_is_retried_with_the_same_id(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(1);
	struct st_error e = {0};
	uint64_t now = 1790000000ull * 1000000000ull;
	assert_int_equal(st_forget_request_add(&P, now - 600ull * 1000000000ull,
					       now, &e), 0);
	assert_int_equal(st_forget_requests_pending(&P), 1);
	struct fake f;
	fake_init(&f);
	push(&f, DOWN);
	push(&f, HTTP(503, "unavailable"));
	push(&f, (struct step){.status = 200, .body = "{\"deleted\":3}"});
	push(&f, OK200);
	struct st_upload *u = uploader(sp, &f, 0, 0);
	step_ok(u, NULL);
	st_upload_free(u); /* a restart between the retries */
	u = uploader(sp, &f, 0, 0);
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 4);
	char id0[40] = "";
	for (int i = 0; i < 3; i++) {
		struct seen *s = &f.req[i];
		assert_string_equal(s->path, "/v1/device/forget");
		json_t *o = json_loadb((char *)s->body.p, s->body.len, 0, NULL);
		assert_non_null(o);
		const char *id = json_string_value(json_object_get(o, "request_id"));
		assert_non_null(id);
		assert_int_equal(strlen(id), 32);
		if (i == 0)
			snprintf(id0, sizeof id0, "%s", id);
		assert_string_equal(id, id0);
		assert_int_equal(json_integer_value(json_object_get(o, "to_min")),
				 (json_int_t)(now / 60000000000ull));
		assert_int_equal(json_integer_value(json_object_get(o, "from_min")),
				 (json_int_t)(now / 60000000000ull) - 10);
		json_decref(o);
		/* signed by the device, as docs/api.md writes it */
		assert_true(signed_by_device(s));
	}
	/* the forget goes before the segment */
	assert_string_equal(f.req[3].path, "/v1/segments");
	assert_int_equal(st_forget_requests_pending(&P), 0);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.forgets_sent, 1);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void an_old_forget_line_gets_an_id_that_is_kept(void **st)
{
	(void)st;
	char p[ST_PATH_MAX];
	snprintf(p, sizeof p, "%s/" ST_FORGET_NAME, D);
	const char *old = "{\"since_ns\":1790000000000000000,\"until_ns\":1790000600000000000}\n";
	struct st_error e = {0};
	assert_int_equal(st_file_write_atomic(p, old, strlen(old), 0600, &e), 0);
	struct st_spool *sp = spool_with(0);
	struct fake f;
	fake_init(&f);
	push(&f, DOWN);
	push(&f, (struct step){.status = 200, .body = "{\"deleted\":0}"});
	struct st_upload *u = uploader(sp, &f, 0, 0);
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 2);
	assert_int_equal(f.req[0].body.len, f.req[1].body.len);
	assert_memory_equal(f.req[0].body.p, f.req[1].body.p, f.req[0].body.len);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static void a_revoked_device_stops_uploading_and_keeps_its_segments(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(2);
	struct fake f;
	fake_init(&f);
	push(&f, HTTP(403, "device_revoked"));
	struct st_upload *u = uploader(sp, &f, 0, 0);
	struct st_error e = {0};
	assert_fails_with(st_upload_run(u, &e), ST_E_DEVICE_REVOKED, &e,
			  "revoked");
	uint64_t w;
	assert_int_equal(st_upload_step(u, &w, NULL, &e), ST_E_DEVICE_REVOKED);
	assert_int_equal(f.nreq, 1); /* nothing more was sent */
	assert_int_equal(st_spool_count(sp), 2);
	assert_int_equal(st_spool_quarantined(sp), 0);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_int_equal(s.state, ST_UPLOAD_REVOKED);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

static char *policy_text(size_t *len, struct st_buf *notice, char ph[65],
			 char nh[65])
{
	char path[1024];
	const char *root = getenv("ST_SOURCE_ROOT");
	snprintf(path, sizeof path, "%s/policies/default.json", root ? root : ".");
	struct st_buf b;
	struct st_error e = {0};
	st_buf_init(&b, false);
	if (st_file_read(path, 1 << 20, &b, &e) < 0)
		fail_msg("%s", e.msg);
	struct st_policy pol;
	st_policy_init(&pol);
	assert_int_equal(st_policy_parse((char *)b.p, b.len, &pol, NULL, &e), 0);
	struct st_buf canon;
	st_buf_init(&canon, false);
	assert_int_equal(st_policy_canonical(&pol, &canon), 0);
	uint8_t h[32];
	st_policy_hash(&pol, h);
	sodium_bin2hex(ph, 65, h, 32);
	st_buf_init(notice, false);
	assert_int_equal(st_policy_notice(&pol, notice, &e), 0);
	crypto_hash_sha256(h, notice->p, notice->len);
	sodium_bin2hex(nh, 65, h, 32);
	st_policy_fini(&pol);
	st_buf_fini(&b);
	char *out = malloc(canon.len + 1);
	memcpy(out, canon.p, canon.len);
	out[canon.len] = 0;
	*len = canon.len;
	st_buf_fini(&canon);
	return out;
}

static void a_new_notice_is_fetched_and_kept_as_pending(void **st)
{
	(void)st;
	size_t pl;
	struct st_buf notice;
	char ph[65], nh[65];
	char *pol = policy_text(&pl, &notice, ph, nh);
	char pk[64];
	sodium_bin2base64(pk, sizeof pk, PPK, 32, sodium_base64_VARIANT_ORIGINAL);
	json_t *o = json_pack("{s:s, s:s, s:s%, s:s, s:s}", "policy", pol,
			      "policy_hash", ph, "notice", (char *)notice.p,
			      notice.len, "notice_hash", nh,
			      "person_public_key", pk);
	char *pbody = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char seg_ans[256], seg_ans2[256];
	snprintf(seg_ans, sizeof seg_ans, "{\"result\":\"stored\",\"seq\":1,"
		 "\"notice_hash\":\"%s\"}", nh);
	snprintf(seg_ans2, sizeof seg_ans2, "{\"result\":\"stored\",\"seq\":2,"
		 "\"notice_hash\":\"%s\"}", nh);

	struct st_spool *sp = spool_with(2);
	struct fake f;
	fake_init(&f);
	push(&f, (struct step){.status = 200, .body = seg_ans});
	push(&f, DOWN); /* the first fetch fails: retried */
	push(&f, (struct step){.status = 200, .body = pbody});
	push(&f, (struct step){.status = 200, .body = seg_ans2});
	struct st_upload *u = uploader(sp, &f, 0, 0);
	struct st_error e = {0};
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 4);
	assert_string_equal(f.req[1].method, "GET");
	assert_string_equal(f.req[1].path, "/v1/device/policy");
	assert_true(signed_by_device(&f.req[2]));
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	if (!exists(ST_PENDING_NOTICE))
		fail_msg("no pending notice: %s", s.last_error);
	assert_true(exists(ST_PENDING_POLICY));
	assert_false(exists(ST_PENDING_RECIPIENT)); /* same person key */
	struct st_buf b;
	st_buf_init(&b, false);
	char p[ST_PATH_MAX];
	snprintf(p, sizeof p, "%s/" ST_PENDING_NOTICE, D);
	assert_int_equal(st_file_read(p, 1 << 20, &b, &e), 0);
	assert_int_equal(b.len, notice.len);
	assert_memory_equal(b.p, notice.p, b.len); /* exactly the bytes */
	st_buf_fini(&b);
	st_upload_stats(u, &s);
	assert_true(s.notice_pending);
	assert_int_equal(s.uploaded, 2); /* uploading goes on */
	st_upload_free(u);
	/* a restart still knows it waits */
	fake_fini(&f);
	fake_init(&f);
	u = uploader(sp, &f, 0, 0);
	st_upload_stats(u, &s);
	assert_true(s.notice_pending);
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
	free(pbody);
	free(pol);
	st_buf_fini(&notice);
}

static void a_notice_that_does_not_match_its_hash_is_not_kept(void **st)
{
	(void)st;
	size_t pl;
	struct st_buf notice;
	char ph[65], nh[65];
	char *pol = policy_text(&pl, &notice, ph, nh);
	char pk[64];
	sodium_bin2base64(pk, sizeof pk, PPK, 32, sodium_base64_VARIANT_ORIGINAL);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "policy", pol,
			      "policy_hash", ph, "notice", "a different text",
			      "notice_hash", nh, "person_public_key", pk);
	char *pbody = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char seg_ans[256];
	snprintf(seg_ans, sizeof seg_ans, "{\"result\":\"stored\",\"seq\":1,"
		 "\"notice_hash\":\"%s\"}", nh);
	struct st_spool *sp = spool_with(1);
	struct fake f;
	fake_init(&f);
	push(&f, (struct step){.status = 200, .body = seg_ans});
	push(&f, (struct step){.status = 200, .body = pbody});
	struct st_upload *u = uploader(sp, &f, 0, 0);
	step_ok(u, NULL);
	uint64_t w;
	step_ok(u, &w);
	assert_false(exists(ST_PENDING_NOTICE));
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_false(s.notice_pending);
	assert_int_equal(s.state, ST_UPLOAD_BACKOFF);
	assert_non_null(strstr(s.last_error, "notice_hash"));
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
	free(pbody);
	free(pol);
	st_buf_fini(&notice);
}

static void a_withdrawn_notice_change_clears_the_pending_one(void **st)
{
	(void)st;
	char p[ST_PATH_MAX + 32];
	struct st_error e = {0};
	snprintf(p, sizeof p, "%s/" ST_PENDING_NOTICE, D);
	assert_int_equal(st_file_write_atomic(p, "new\n", 4, 0600, &e), 0);
	snprintf(p, sizeof p, "%s/" ST_PENDING_POLICY, D);
	assert_int_equal(st_file_write_atomic(p, "{}", 2, 0600, &e), 0);
	struct st_spool *sp = spool_with(1);
	struct fake f;
	fake_init(&f);
	push(&f, OK200); /* names the accepted notice again */
	struct st_upload *u = uploader(sp, &f, 0, 0);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_true(s.notice_pending);
	step_ok(u, NULL);
	st_upload_stats(u, &s);
	assert_false(s.notice_pending);
	assert_false(exists(ST_PENDING_NOTICE));
	assert_false(exists(ST_PENDING_POLICY));
	st_upload_free(u);
	st_spool_close(sp);
	fake_fini(&f);
}

/* An idle uploader sends nothing, so no upload answer names the current
 * notice: it asks for it every notice_check_ms, and only a notice other
 * than the accepted one becomes pending. until_empty never asks. */
static void an_idle_uploader_checks_the_notice_every_interval(void **st)
{
	(void)st;
	size_t pl;
	struct st_buf notice;
	char ph[65], nh[65];
	char *pol = policy_text(&pl, &notice, ph, nh);
	char pk[64];
	sodium_bin2base64(pk, sizeof pk, PPK, 32, sodium_base64_VARIANT_ORIGINAL);
	json_t *o = json_pack("{s:s, s:s, s:s%, s:s, s:s}", "policy", pol,
			      "policy_hash", ph, "notice", (char *)notice.p,
			      notice.len, "notice_hash", nh,
			      "person_public_key", pk);
	char *pbody = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	uint8_t saved[32];
	memcpy(saved, ID.notice_hash, 32);
	/* the server's notice is the accepted one */
	crypto_hash_sha256(ID.notice_hash, notice.p, notice.len);

	struct st_spool *sp = spool_with(0);
	struct fake f;
	fake_init(&f);
	push(&f, (struct step){.status = 200, .body = pbody});
	push(&f, (struct step){.status = 200, .body = pbody});
	struct st_upload_cfg c = {.paths = &P, .spool = sp,
				  .transport = &f.base, .id = &ID,
				  .clock = &S.clock, .notice_check_ms = 60000,
				  .sleep_ms = fake_sleep,
				  .random = fake_random, .seam_ctx = &S};
	struct st_upload *u = NULL;
	struct st_error e = {0};
	assert_int_equal(st_upload_new(&c, &u, &e), 0);
	uint64_t w;
	bool done;
	assert_int_equal(st_upload_step(u, &w, &done, &e), 0);
	assert_true(done);
	assert_int_equal(f.nreq, 0); /* not yet due */
	S.mc.mono += 59999ull * 1000000ull;
	assert_int_equal(st_upload_step(u, &w, &done, &e), 0);
	assert_int_equal(f.nreq, 0);
	S.mc.mono += 1000000ull;
	for (int i = 0; i < 3 && f.nreq == 0; i++)
		assert_int_equal(st_upload_step(u, &w, &done, &e), 0);
	assert_int_equal(f.nreq, 1);
	assert_string_equal(f.req[0].path, "/v1/device/policy");
	assert_true(signed_by_device(&f.req[0]));
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	assert_false(s.notice_pending); /* the same notice: nothing waits */
	assert_false(exists(ST_PENDING_NOTICE));
	/* the next interval, and the server has a new notice */
	ID.notice_hash[0] ^= 1;
	S.mc.mono += 60000ull * 1000000ull;
	for (int i = 0; i < 3 && f.nreq == 1; i++)
		assert_int_equal(st_upload_step(u, &w, &done, &e), 0);
	assert_int_equal(f.nreq, 2);
	st_upload_stats(u, &s);
	assert_true(s.notice_pending);
	assert_true(exists(ST_PENDING_NOTICE));
	st_upload_free(u);
	/* the upload command (until_empty) never asks */
	c.until_empty = true;
	assert_int_equal(st_upload_new(&c, &u, &e), 0);
	S.mc.mono += 120000ull * 1000000ull;
	assert_int_equal(st_upload_run(u, &e), 0);
	assert_int_equal(f.nreq, 2);
	st_upload_free(u);
	memcpy(ID.notice_hash, saved, 32);
	char path[ST_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" ST_PENDING_NOTICE, D);
	unlink(path);
	snprintf(path, sizeof path, "%s/" ST_PENDING_POLICY, D);
	unlink(path);
	st_spool_close(sp);
	fake_fini(&f);
	free(pbody);
	free(pol);
	st_buf_fini(&notice);
}

static void bad_backoff_bounds_are_refused(void **st)
{
	(void)st;
	struct st_spool *sp = spool_with(0);
	struct fake f;
	fake_init(&f);
	struct st_upload_cfg c = {.paths = &P, .spool = sp,
				  .transport = &f.base, .id = &ID,
				  .backoff_min_ms = 5000, .backoff_max_ms = 10};
	struct st_upload *u = NULL;
	struct st_error e = {0};
	assert_fails_with(st_upload_new(&c, &u, &e), ST_E_INVAL, &e, "backoff");
	assert_null(u);
	st_spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest t[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(uploads_in_sequence_order_and_empties_the_spool),
		T(removes_a_segment_only_after_a_200),
		T(a_duplicate_counts_as_success),
		T(a_refusal_moves_the_segment_to_quarantine_with_its_reason),
		T(backoff_grows_is_capped_and_jittered_within_bounds),
		T(the_uploader_thread_stops_promptly_in_a_long_backoff),
		T(a_restart_resumes_where_it_stopped),
		T(a_forget_request_is_retried_with_the_same_id),
		T(an_old_forget_line_gets_an_id_that_is_kept),
		T(a_revoked_device_stops_uploading_and_keeps_its_segments),
		T(a_new_notice_is_fetched_and_kept_as_pending),
		T(a_notice_that_does_not_match_its_hash_is_not_kept),
		T(a_withdrawn_notice_change_clears_the_pending_one),
		T(an_idle_uploader_checks_the_notice_every_interval),
		T(bad_backoff_bounds_are_refused),
	};
	return cmocka_run_group_tests(t, group_setup, group_teardown);
}
