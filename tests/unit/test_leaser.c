/* test_leaser.c - the agent's control channel (agent/lease.h) against a
 * scripted fake server (the network seam) and a manual clock: what each
 * poll carries, validity counted from when the poll was sent, expiry,
 * pause and its confirm in the next poll, refusal (and disbelief) of
 * forged, replayed, foreign, older and malformed leases, backoff, and
 * revocation; and a shutdown that a held poll cannot delay. */
#include "helpers.h"

#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "agent/lease.h"
#include "agent/recorder.h"
#include "agent/spool.h"
#include "core/devreq.h"
#include "core/keys.h"
#include "core/lease.h"
#include "core/seal.h"
#include "fs_faulty.c"

#define SCRIPT_MAX 32
#define REQ_MAX 32
#define S(x) ((uint64_t)(x) * 1000000000ull)

static uint8_t LPK[32], LSK[64], OPK[32], OSK[64], DPK[32], DSK[64];
static const uint8_t DEV[16] = {0xd0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

enum kind {
	K_LEASE = 1, /* a lease echoing this poll's nonce, signed with LSK */
	K_FAIL,      /* a transport failure */
	K_ERROR,     /* an API error: status and id */
	K_BODY,      /* a 200 with this body as is */
	K_RAW,       /* a 200 carrying raw (a lease made beforehand) */
};

struct step {
	enum kind kind;
	uint8_t state;
	uint64_t seq;
	uint32_t validity_ms;
	uint8_t flags;
	const char *reason;
	bool other_key, other_device;
	long status;
	const char *id;
	const char *body;
	uint64_t delay_ms; /* the clock moves this much during the call */
};

struct seen {
	char nonce[40];
	uint64_t have_seq;
	char state[24];
	bool confirm;
	uint64_t cseq, clast;
	bool signed_ok;
};

static struct fake {
	struct st_upload_transport base;
	struct step script[SCRIPT_MAX];
	size_t n, at;
	struct seen req[REQ_MAX];
	size_t nreq;
	struct st_manual_clock *mc;
	uint8_t raw[ST_LEASE_MAX]; /* for K_RAW */
	size_t rawlen;
	uint8_t last_lease[ST_LEASE_MAX]; /* the last K_LEASE answered */
	size_t last_len;
	uint64_t block_ms; /* a real wait inside the call (thread tests) */
	bool freed;
} F;

static const char *hdr(const struct st_client_req *r, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; r->headers && r->headers[i]; i++)
		if (!strncmp(r->headers[i], name, l) && r->headers[i][l] == ':')
			return r->headers[i] + l + 2;
	return "";
}

static void answer_b64(struct st_buf *answer, const uint8_t *b, size_t n,
		       uint64_t seq, const char *state)
{
	char b64[2 * ST_LEASE_MAX];
	sodium_bin2base64(b64, sizeof b64, b, n, sodium_base64_VARIANT_ORIGINAL);
	char body[3 * ST_LEASE_MAX];
	snprintf(body, sizeof body, "{\"lease\":\"%s\",\"seq\":%" PRIu64
		 ",\"state\":\"%s\"}", b64, seq, state);
	st_buf_put(answer, body, strlen(body));
}

static int fake_call(struct st_upload_transport *t,
		     const struct st_client_req *r, long *status,
		     struct st_buf *answer, struct st_error *err)
{
	struct fake *f = (struct fake *)t;
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, "/v1/device/lease");
	assert_true(f->nreq < REQ_MAX);
	struct seen *s = &f->req[f->nreq++];
	memset(s, 0, sizeof *s);
	s->signed_ok = st_devreq_verify(DPK, r->method, r->path, r->body,
					r->body_len, hdr(r, ST_DEVREQ_HDR_TIME),
					hdr(r, ST_DEVREQ_HDR_SIG),
					(int64_t)(f->mc->wall / 1000000000u), 300,
					NULL) == 0;
	json_t *o = json_loadb((const char *)r->body, r->body_len, 0, NULL);
	assert_non_null(o);
	snprintf(s->nonce, sizeof s->nonce, "%s",
		 json_string_value(json_object_get(o, "nonce")));
	s->have_seq = (uint64_t)json_integer_value(json_object_get(o, "have_seq"));
	snprintf(s->state, sizeof s->state, "%s",
		 json_string_value(json_object_get(o, "state")));
	json_t *c = json_object_get(o, "confirm");
	if (c) {
		s->confirm = true;
		s->cseq = (uint64_t)json_integer_value(json_object_get(c, "seq"));
		s->clast = (uint64_t)json_integer_value(json_object_get(c, "last_seq"));
	}
	json_decref(o);
	if (f->block_ms) {
		struct timespec ts = {(time_t)(f->block_ms / 1000),
				      (long)(f->block_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (answer)
		st_buf_reset(answer);
	if (f->at >= f->n) {
		*status = 0;
		return st_fail(err, ST_E_CURL_BASE - 7, "POST /v1/device/lease: "
			       "script ended");
	}
	const struct step *st = &f->script[f->at++];
	f->mc->mono += st->delay_ms * 1000000ull;
	f->mc->wall += st->delay_ms * 1000000ull;
	switch (st->kind) {
	case K_FAIL:
		*status = 0;
		return st_fail(err, ST_E_CURL_BASE - 7, "POST /v1/device/lease: "
			       "cannot connect");
	case K_ERROR: {
		*status = st->status;
		char b[256];
		snprintf(b, sizeof b, "{\"error\":{\"id\":\"%s\",\"message\":"
			 "\"for the test\"}}", st->id);
		st_buf_put(answer, b, strlen(b));
		return st_fail(err, st_err_from_id(st->id), "POST "
			       "/v1/device/lease: HTTP %ld: %s", st->status,
			       st->id);
	}
	case K_BODY:
		*status = 200;
		st_buf_put(answer, st->body, strlen(st->body));
		return 0;
	case K_RAW:
		*status = 200;
		answer_b64(answer, f->raw, f->rawlen, 0, "record");
		return 0;
	case K_LEASE:
		break;
	}
	struct st_lease l;
	memset(&l, 0, sizeof l);
	l.state = st->state;
	l.flags = st->flags;
	memcpy(l.device_id, DEV, 16);
	if (st->other_device)
		l.device_id[0] ^= 1;
	l.seq = st->seq;
	l.validity_ms = st->validity_ms ? st->validity_ms : 60000;
	size_t got = 0;
	assert_int_equal(sodium_hex2bin(l.nonce, 16, s->nonce, strlen(s->nonce),
					NULL, &got, NULL), 0);
	assert_int_equal(got, 16);
	snprintf(l.reason, sizeof l.reason, "%s", st->reason ? st->reason : "");
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	assert_int_equal(st_lease_sign(&l, st->other_key ? OSK : LSK, b,
				       sizeof b, &n, NULL), 0);
	memcpy(f->last_lease, b, n);
	f->last_len = n;
	*status = 200;
	answer_b64(answer, b, n, l.seq, l.state == 1 ? "record" : "pause");
	return 0;
}

static void fake_free(struct st_upload_transport *t)
{
	((struct fake *)t)->freed = true;
}

static struct st_manual_clock MC;
static struct st_clock CLOCK;
static uint64_t RANDOM_AT_BOUND(void *ctx, uint64_t bound)
{
	(void)ctx;
	return bound;
}

static void push(struct step s)
{
	assert_true(F.n < SCRIPT_MAX);
	F.script[F.n++] = s;
}

static struct st_leaser *make(void)
{
	memset(&F, 0, sizeof F);
	F.base.call = fake_call;
	F.base.free = fake_free;
	MC.wall = S(1764000000);
	MC.mono = S(1000);
	F.mc = &MC;
	st_clock_manual(&CLOCK, &MC);
	struct st_leaser_cfg c = {.device_id = DEV,
				  .device_sk = DSK,
				  .lease_pk = LPK,
				  .transport = &F.base,
				  .clock = &CLOCK,
				  .backoff_min_ms = 100,
				  .backoff_max_ms = 1000,
				  .random = RANDOM_AT_BOUND};
	struct st_leaser *l;
	struct st_error e = {0};
	if (st_leaser_new(&c, &l, &e) < 0)
		fail_msg("leaser: %s", e.msg);
	return l;
}

static uint64_t step(struct st_leaser *l)
{
	uint64_t ms = 0;
	struct st_error e = {0};
	int rc = st_leaser_step(l, &ms, &e);
	if (rc < 0)
		fail_msg("step: %s", e.msg);
	return ms;
}

static struct st_leaser_view view(struct st_leaser *l)
{
	struct st_leaser_view v;
	st_leaser_view(l, &v);
	return v;
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(LPK, LSK);
	crypto_sign_keypair(OPK, OSK);
	crypto_sign_keypair(DPK, DSK);
	return 0;
}

static void first_poll_holds_nothing_and_every_nonce_is_fresh(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	assert_int_equal(view(l).state, ST_LEASER_NONE);
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 3});
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 3});
	step(l);
	st_leaser_report(l, ST_LEASER_REPORT_RECORDING);
	step(l);
	assert_int_equal(F.nreq, 2);
	assert_int_equal(F.req[0].have_seq, 0);
	assert_string_equal(F.req[0].state, "stopped");
	assert_false(F.req[0].confirm);
	assert_true(F.req[0].signed_ok); /* device-signed (core/devreq.h) */
	assert_int_equal(strlen(F.req[0].nonce), 32);
	assert_int_equal(F.req[1].have_seq, 3);
	assert_string_equal(F.req[1].state, "recording");
	assert_string_not_equal(F.req[0].nonce, F.req[1].nonce);
	struct st_leaser_view v = view(l);
	assert_int_equal(v.state, ST_LEASER_RECORD);
	assert_int_equal(v.seq, 3);
	assert_int_equal(v.received, 2);
	assert_int_equal(v.polls, 2);
	st_leaser_free(l);
	assert_true(F.freed); /* the leaser owns its transport */
}

static void record_lease_is_valid_until_send_time_plus_validity(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	/* the answer takes 20 s: those 20 s come off the lease */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 1,
			   .validity_ms = 60000, .delay_ms = 20000});
	uint64_t sent = MC.mono;
	step(l);
	struct st_leaser_view v = view(l);
	assert_int_equal(v.state, ST_LEASER_RECORD);
	assert_int_equal(v.valid_until_mono_ns, sent + S(60));
	MC.mono = sent + S(60) - 1;
	assert_int_equal(view(l).state, ST_LEASER_RECORD);
	MC.mono = sent + S(60);
	v = view(l);
	assert_int_equal(v.state, ST_LEASER_EXPIRED);
	assert_int_equal(v.seq, 1);
	st_leaser_free(l);
}

static void expires_when_the_server_cannot_be_reached(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 2,
			   .validity_ms = 30000});
	for (int i = 0; i < 6; i++)
		push((struct step){.kind = K_FAIL, .delay_ms = 5000});
	uint64_t sent = MC.mono;
	step(l);
	for (int i = 0; i < 5; i++) {
		step(l);
		assert_int_equal(view(l).state, ST_LEASER_RECORD);
	}
	step(l); /* 30 s gone */
	struct st_leaser_view v = view(l);
	assert_int_equal(MC.mono, sent + S(30));
	assert_int_equal(v.state, ST_LEASER_EXPIRED);
	assert_int_equal(v.failures, 6);
	assert_int_equal(v.refused, 0);
	assert_non_null(strstr(v.last_error, "cannot connect"));
	/* a new lease after expiry records again, counted afresh */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 2});
	step(l);
	v = view(l);
	assert_int_equal(v.state, ST_LEASER_RECORD);
	assert_int_equal(v.failures, 0);
	assert_string_equal(v.last_error, "");
	st_leaser_free(l);
}

static void pause_is_confirmed_in_the_next_poll(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 4});
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 5,
			   .flags = ST_LEASE_FLAG_DISCARD,
			   .reason = "incident 7"});
	push((struct step){.kind = K_FAIL}); /* the confirm is not lost */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 5,
			   .flags = ST_LEASE_FLAG_DISCARD,
			   .reason = "incident 7"});
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 5});
	step(l);
	uint64_t ms = step(l);
	/* the next poll waits for run.c to obey, not a whole hold */
	assert_int_equal(ms, ST_LEASER_CONFIRM_WAIT_MS);
	struct st_leaser_view v = view(l);
	assert_int_equal(v.state, ST_LEASER_PAUSE);
	assert_int_equal(v.seq, 5);
	assert_true(v.discard);
	assert_string_equal(v.reason, "incident 7");
	/* a pause does not run out into recording */
	MC.mono += S(3600);
	assert_int_equal(view(l).state, ST_LEASER_PAUSE);
	st_leaser_report(l, ST_LEASER_REPORT_PAUSED);
	assert_int_equal(view(l).confirm_sent_seq, 0);
	st_leaser_confirm(l, 5, 41);
	step(l); /* fails */
	/* sent (run.c lets the uploader go on), not yet answered */
	assert_int_equal(view(l).confirm_sent_seq, 5);
	assert_int_equal(view(l).confirmed_seq, 0);
	step(l);
	step(l);
	assert_int_equal(F.nreq, 5);
	assert_false(F.req[1].confirm);
	assert_true(F.req[2].confirm);
	assert_int_equal(F.req[2].cseq, 5);
	assert_int_equal(F.req[2].clast, 41);
	assert_string_equal(F.req[2].state, "paused");
	assert_true(F.req[3].confirm); /* sent again after the failure */
	assert_int_equal(F.req[3].clast, 41);
	assert_false(F.req[4].confirm); /* the server has it */
	assert_int_equal(F.req[4].have_seq, 5);
	assert_int_equal(view(l).confirmed_seq, 5);
	/* an older confirm never replaces the one the server has */
	st_leaser_confirm(l, 4, 3);
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 6});
	step(l);
	assert_false(F.req[5].confirm);
	assert_int_equal(view(l).state, ST_LEASER_RECORD);
	st_leaser_free(l);
}

static void refuses_and_disbelieves_bad_leases(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 7,
			   .validity_ms = 60000});
	/* forged: a pause signed by another key */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 8,
			   .other_key = true, .reason = "forged"});
	/* replayed: the first lease again, with the first poll's nonce */
	push((struct step){.kind = K_RAW});
	/* foreign: made for another device */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 9,
			   .other_device = true, .validity_ms = 3600000});
	/* older: below the seq held */
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 6});
	/* malformed answers */
	push((struct step){.kind = K_BODY, .body = "{\"lease\":\"!!\"}"});
	push((struct step){.kind = K_BODY, .body = "not json"});
	uint64_t sent = MC.mono;
	step(l);
	memcpy(F.raw, F.last_lease, F.last_len);
	F.rawlen = F.last_len;
	const char *words[] = {"pinned", "replay", "another device", "below",
			       "base64", "base64"};
	for (size_t i = 0; i < 6; i++) {
		uint64_t ms = step(l);
		struct st_leaser_view v = view(l);
		if (!strstr(v.last_error, words[i]))
			fail_msg("answer %zu: '%s' lacks '%s'", i, v.last_error,
				 words[i]);
		assert_int_equal(v.refused, i + 1);
		assert_true(ms > 0); /* retried after a backoff */
		/* never believed: the lease held is still the first */
		assert_int_equal(v.state, ST_LEASER_RECORD);
		assert_int_equal(v.seq, 7);
		assert_int_equal(v.valid_until_mono_ns, sent + S(60));
		assert_int_equal(v.received, 1);
	}
	/* every poll after the first asked with have_seq 7 */
	for (size_t i = 1; i < F.nreq; i++)
		assert_int_equal(F.req[i].have_seq, 7);
	MC.mono = sent + S(60);
	assert_int_equal(view(l).state, ST_LEASER_EXPIRED);
	st_leaser_free(l);
}

static void retries_back_off_and_are_capped(void **state)
{
	(void)state;
	struct st_leaser *l = make(); /* backoff 100..1000 ms, random = bound */
	for (int i = 0; i < 6; i++)
		push((struct step){.kind = K_FAIL});
	push((struct step){.kind = K_ERROR, .status = 503, .id = "unavailable"});
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 1});
	push((struct step){.kind = K_FAIL});
	const uint64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(step(l), want[i]);
	assert_int_equal(view(l).state, ST_LEASER_NONE);
	assert_int_equal(view(l).failures, 7);
	/* a lease resets the backoff; polls are never closer than the gap */
	assert_int_equal(step(l), ST_LEASER_POLL_GAP_MS);
	assert_int_equal(step(l), 100);
	st_leaser_free(l);
}

static void revocation_ends_polling(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_RECORD, .seq = 1});
	push((struct step){.kind = K_ERROR, .status = 403, .id = "device_revoked"});
	step(l);
	uint64_t ms;
	struct st_error e = {0};
	assert_fails_with(st_leaser_step(l, &ms, &e), ST_E_DEVICE_REVOKED, &e,
			  "revoked");
	assert_int_equal(view(l).state, ST_LEASER_REVOKED);
	assert_fails_with(st_leaser_step(l, &ms, &e), ST_E_DEVICE_REVOKED, &e,
			  "revoked");
	assert_int_equal(F.nreq, 2);
	st_leaser_free(l);
}

static void thread_signals_a_lease_on_its_fd(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	push((struct step){.kind = K_LEASE, .state = ST_LEASE_PAUSE, .seq = 2,
			   .reason = "now"});
	struct st_error e = {0};
	assert_int_equal(st_leaser_start(l, &e), 0);
	struct pollfd p = {.fd = st_leaser_fd(l), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	struct st_leaser_view v = view(l);
	assert_int_equal(v.state, ST_LEASER_PAUSE);
	assert_string_equal(v.reason, "now");
	/* drained by the view */
	assert_int_equal(poll(&p, 1, 0), 0);
	st_leaser_free(l);
}

static void shutdown_is_not_held_up_by_a_held_poll(void **state)
{
	(void)state;
	struct st_leaser *l = make();
	F.block_ms = 800; /* a poll the server holds */
	struct st_error e = {0};
	assert_int_equal(st_leaser_start(l, &e), 0);
	struct timespec a, b, nap = {0, 50000000L};
	nanosleep(&nap, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	st_leaser_free(l);
	clock_gettime(CLOCK_MONOTONIC, &b);
	uint64_t took = (uint64_t)(((int64_t)b.tv_sec - a.tv_sec) * 1000000000 +
				   (b.tv_nsec - a.tv_nsec)) / 1000000;
	if (took >= ST_LEASER_STOP_WAIT_MS + 300)
		fail_msg("free took %" PRIu64 " ms", took);
	assert_false(F.freed);
	/* the thread ends by itself once the poll returns, and frees */
	for (int i = 0; i < 40 && !F.freed; i++)
		nanosleep(&nap, NULL);
	assert_true(F.freed);
}

static void loads_the_pinned_key_and_refuses_a_missing_one(void **state)
{
	(void)state;
	char dir[] = "/tmp/st-leaser-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct st_agent_paths p;
	assert_int_equal(st_agent_paths_init(&p, dir, NULL, NULL), 0);
	uint8_t pk[32];
	struct st_error e = {0};
	assert_fails_with(st_lease_key_load(&p, pk, &e), -2, &e, "enroll again");
	char path[ST_PATH_MAX];
	st_agent_path(&p, "lease.pub", path);
	assert_int_equal(st_key_write(path, ST_KEY_LEASE_PUBLIC, LPK, 32, false,
				      NULL), 0);
	assert_int_equal(st_lease_key_load(&p, pk, &e), 0);
	assert_memory_equal(pk, LPK, 32);
	unlink(path);
	rmdir(dir);
}


/* ---- the recorder under leases: what run.c relies on ---- */

struct rec_rig {
	char *dir;
	char spool[512];
	struct st_spool *sp;
	struct st_recorder *r;
	struct st_manual_clock mc;
	struct st_clock clk;
	uint8_t ppk[32], psk[32];
};

static void rec_start(struct rec_rig *g, enum st_rec_state start)
{
	memset(g, 0, sizeof *g);
	g->dir = fs_mkdtemp("leaser");
	snprintf(g->spool, sizeof g->spool, "%s/spool", g->dir);
	crypto_box_keypair(g->ppk, g->psk);
	g->mc.wall = S(1790000040);
	g->mc.mono = S(5000);
	st_clock_manual(&g->clk, &g->mc);
	struct st_spool_cfg sc = {.dir = g->spool, .device_pk = DPK};
	struct st_error e = {0};
	if (st_spool_open(&sc, &g->sp, NULL, &e) < 0)
		fail_msg("spool: %s", e.msg);
	struct st_recorder_cfg c = {.clock = &g->clk, .tick_ns = 1000000,
				    .person_pk = g->ppk, .device_sk = DSK,
				    .spool = g->sp, .start_state = start,
				    .start_reason = ST_REASON_LEASE};
	memcpy(c.seal.device_id, DEV, 16);
	if (st_recorder_new(&c, &g->r, &e) < 0)
		fail_msg("recorder: %s", e.msg);
}

static void rec_stop(struct rec_rig *g)
{
	st_recorder_free(g->r);
	st_spool_close(g->sp);
	fs_rm_rf(g->dir);
	free(g->dir);
}

static void rec_key(struct rec_rig *g, uint64_t ms)
{
	g->mc.mono += ms * 1000000ull;
	g->mc.wall += ms * 1000000ull;
	struct st_cap_event ev = {0};
	ev.e.type = ST_EV_KEY_PRESS;
	ev.e.u.key.keycode = 38;
	ev.e.u.key.keysym = 97;
	ev.t_ns = g->mc.mono;
	struct st_error e = {0};
	if (st_recorder_event(g->r, &ev, &e) < 0)
		fail_msg("event: %s", e.msg);
}

/* lease sequence of every spooled segment, in order */
static size_t spooled_leases(struct rec_rig *g, uint64_t *out, size_t cap)
{
	uint64_t *seqs = NULL;
	size_t n = 0;
	assert_int_equal(st_spool_list(g->sp, &seqs, &n, NULL), 0);
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		struct st_buf b;
		struct st_segment_header h;
		st_buf_init(&b, false);
		assert_int_equal(st_spool_read(g->sp, seqs[i], &b, NULL), 0);
		assert_int_equal(st_segment_verify(b.p, b.len, DPK, &h, NULL), 0);
		out[i] = h.lease_seq;
		st_buf_fini(&b);
	}
	free(seqs);
	return n;
}

static void a_stopped_start_records_nothing_until_resumed(void **state)
{
	(void)state;
	struct rec_rig g;
	rec_start(&g, ST_REC_STOPPED);
	struct st_recorder_stats s;
	st_recorder_stats(g.r, &s);
	assert_int_equal(s.state, ST_REC_STOPPED);
	assert_int_equal(s.reason, ST_REASON_LEASE);
	rec_key(&g, 10);
	/* stopping again (no lease) and sealing seal nothing: no segment
	 * under lease 0 ever reaches the spool */
	struct st_error e = {0};
	assert_int_equal(st_recorder_stop(g.r, ST_REASON_LEASE, &e), 0);
	assert_int_equal(st_recorder_cut(g.r, &e), 0);
	assert_int_equal(st_spool_count(g.sp), 0);
	st_recorder_stats(g.r, &s);
	assert_int_equal(s.events_dropped, 1);
	assert_int_equal(st_recorder_set_lease_seq(g.r, 4, &e), 0);
	assert_int_equal(st_recorder_resume(g.r, &e), 0);
	rec_key(&g, 10);
	assert_int_equal(st_recorder_cut(g.r, &e), 0);
	uint64_t l[4];
	assert_int_equal(spooled_leases(&g, l, 4), 1);
	assert_int_equal(l[0], 4);
	rec_stop(&g);
}

static void every_segment_carries_the_lease_it_was_recorded_under(void **state)
{
	(void)state;
	struct rec_rig g;
	rec_start(&g, ST_REC_STOPPED);
	struct st_error e = {0};
	assert_int_equal(st_recorder_set_lease_seq(g.r, 3, &e), 0);
	assert_int_equal(st_recorder_resume(g.r, &e), 0);
	rec_key(&g, 10);
	rec_key(&g, 10);
	/* a renewal with the same sequence cuts nothing */
	assert_int_equal(st_recorder_set_lease_seq(g.r, 3, &e), 0);
	assert_int_equal(st_spool_count(g.sp), 0);
	/* a new sequence seals the open segment under the old one first */
	assert_int_equal(st_recorder_set_lease_seq(g.r, 5, &e), 0);
	assert_int_equal(st_spool_count(g.sp), 1);
	rec_key(&g, 10);
	/* a pause seals under the lease held; after it, the next lease */
	assert_int_equal(st_recorder_pause(g.r, ST_REASON_SERVER, &e), 0);
	assert_int_equal(st_recorder_set_lease_seq(g.r, 6, &e), 0);
	assert_int_equal(st_recorder_resume(g.r, &e), 0);
	rec_key(&g, 10);
	assert_int_equal(st_recorder_cut(g.r, &e), 0);
	uint64_t l[8];
	assert_int_equal(spooled_leases(&g, l, 8), 3);
	assert_int_equal(l[0], 3);
	assert_int_equal(l[1], 5);
	assert_int_equal(l[2], 6);
	struct st_recorder_stats s;
	st_recorder_stats(g.r, &s);
	assert_int_equal(s.lease_seq, 6);
	assert_int_equal(s.last_seq, 3);
	rec_stop(&g);
}

static void discard_unsent_deletes_only_what_came_before_the_pause(void **state)
{
	(void)state;
	struct rec_rig g;
	rec_start(&g, ST_REC_STOPPED);
	struct st_error e = {0};
	assert_int_equal(st_recorder_set_lease_seq(g.r, 2, &e), 0);
	assert_int_equal(st_recorder_resume(g.r, &e), 0);
	for (int i = 0; i < 3; i++) {
		rec_key(&g, 10);
		assert_int_equal(st_recorder_cut(g.r, &e), 0);
	}
	/* one of them was uploaded and removed already */
	assert_int_equal(st_spool_remove(g.sp, 1, &e), 0);
	rec_key(&g, 10);
	assert_int_equal(st_recorder_pause(g.r, ST_REASON_SERVER, &e), 0);
	assert_int_equal(st_spool_count(g.sp), 3); /* 2, 3 and the paused 4 */
	size_t removed = 0;
	uint64_t first = 0;
	assert_int_equal(st_recorder_discard_unsent(g.r, 7, &removed, &first,
						    &e), 0);
	assert_int_equal(removed, 3);
	assert_int_equal(first, 2); /* confirm: last_seq = 1, the one sent */
	assert_int_equal(st_spool_count(g.sp), 0);
	/* what comes after the next lease is kept */
	assert_int_equal(st_recorder_set_lease_seq(g.r, 8, &e), 0);
	assert_int_equal(st_recorder_resume(g.r, &e), 0);
	rec_key(&g, 10);
	assert_int_equal(st_recorder_cut(g.r, &e), 0);
	assert_int_equal(st_recorder_discard_unsent(g.r, 7, &removed, &first,
						    &e), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(first, 0);
	uint64_t l[4];
	assert_int_equal(spooled_leases(&g, l, 4), 1);
	assert_int_equal(l[0], 8);
	rec_stop(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_poll_holds_nothing_and_every_nonce_is_fresh),
		cmocka_unit_test(record_lease_is_valid_until_send_time_plus_validity),
		cmocka_unit_test(expires_when_the_server_cannot_be_reached),
		cmocka_unit_test(pause_is_confirmed_in_the_next_poll),
		cmocka_unit_test(refuses_and_disbelieves_bad_leases),
		cmocka_unit_test(retries_back_off_and_are_capped),
		cmocka_unit_test(revocation_ends_polling),
		cmocka_unit_test(thread_signals_a_lease_on_its_fd),
		cmocka_unit_test(shutdown_is_not_held_up_by_a_held_poll),
		cmocka_unit_test(loads_the_pinned_key_and_refuses_a_missing_one),
		cmocka_unit_test(a_stopped_start_records_nothing_until_resumed),
		cmocka_unit_test(every_segment_carries_the_lease_it_was_recorded_under),
		cmocka_unit_test(discard_unsent_deletes_only_what_came_before_the_pause),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
