/* test_ingest.c - verified, exactly-once ingest on a real SQLite store with
 * real sealed segments: every refusal with its own code and nothing stored,
 * the documented order of the checks, duplicates as success with one copy,
 * conflicts refused and flagged, group commits that are all or nothing at
 * every injected failure, and no plaintext in the database files. */
#include "helpers.h"
#include "db_helpers.h"
#include "fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/seal.h"
#include "core/segment.h"
#include "server/ingest.h"
#include "server/store.h"

/* A string that is inside every full segment's sealed body and must never
 * appear in any database file (invariant 4). */
#define CANARY "CANARY-7f3a9c"

#define T0_S 1790000000ull /* anchor of the recordings */
#define NS 1000000000ull

static const char FULL_JSON[] =
	"{\"version\": 1,"
	" \"capture\": {\"pointer\": true, \"keys\": true, \"text\": true,"
	"  \"titles\": true, \"apps\": true},"
	" \"apps\": {\"exclude\": [\"keepassxc*\"]},"
	" \"levels\": {\"keep\": 2, \"export\": 1},"
	" \"retention_days\": 30}";
static const char NARROW_JSON[] =
	"{\"version\": 1, \"capture\": {\"pointer\": true},"
	" \"levels\": {\"keep\": 1, \"export\": 1}, \"retention_days\": 7}";

/* ---- keys and segments, made once ---- */

struct dev {
	uint8_t id[16];
	uint8_t pk[32], *sk;
};

struct person {
	uint8_t id[16];
	uint8_t pk[32], *sk;
};

static struct {
	uint8_t master_pk[32], *master_sk;
	struct person ann, ben, cy;    /* cy is erased */
	struct dev da, da2, db, dc, dx; /* dx is never enrolled */
	uint8_t full_nh[32], narrow_nh[32];
	struct st_events full, small;
} K;

static void make_dev(struct dev *d, uint8_t tag)
{
	memset(d->id, tag, 16);
	d->sk = st_secret_new(ST_SIGN_SK_LEN);
	assert_int_equal(st_sign_keypair(d->pk, d->sk), 0);
}

static void make_person(struct person *p, uint8_t tag)
{
	memset(p->id, tag, 16);
	p->sk = st_secret_new(ST_BOX_SK_LEN);
	assert_int_equal(st_box_keypair(p->pk, p->sk), 0);
}

/* Canonical form, hash, notice and notice hash of a policy. */
struct pol {
	struct st_buf json, notice;
	uint8_t hash[32], nh[32];
};

static void make_policy(const char *src, struct pol *o)
{
	struct st_policy p;
	struct st_error e = {0};
	if (st_policy_parse(src, strlen(src), &p, NULL, &e) < 0)
		fail_msg("policy: %s", e.msg);
	st_buf_init(&o->json, false);
	st_buf_init(&o->notice, false);
	assert_int_equal(st_policy_canonical(&p, &o->json), 0);
	assert_int_equal(st_policy_hash(&p, o->hash), 0);
	assert_int_equal(st_policy_notice(&p, &o->notice, &e), 0);
	crypto_hash_sha256(o->nh, o->notice.p, o->notice.len);
	st_policy_fini(&p);
}

/* focus with app, class and a title, typed text, pointer, click, scroll */
static void full_events(struct st_events *evs)
{
	evs->anchor_ns = T0_S * NS;
	evs->tick_ns = 1000000;
	struct st_event e;
	uint64_t t = 0;
#define E(ty) (memset(&e, 0, sizeof e), e.t = (t += 40), e.type = (ty))
	E(ST_EV_SESSION);
	e.u.session.marker = ST_SESSION_START;
	fx_push(evs, e);
	E(ST_EV_FOCUS);
	e.u.focus.app = fx_str(evs, "org.gnome.Terminal");
	e.u.focus.cls = fx_str(evs, "XTerm");
	e.u.focus.title = fx_str(evs, "tax return " CANARY " draft");
	fx_push(evs, e);
	E(ST_EV_KEY_PRESS);
	e.u.key.keycode = 38, e.u.key.keysym = 0x61;
	e.u.key.text = fx_str(evs, CANARY);
	fx_push(evs, e);
	E(ST_EV_KEY_RELEASE);
	e.u.key.keycode = 38, e.u.key.keysym = 0x61;
	fx_push(evs, e);
	E(ST_EV_POINTER);
	e.u.ptr.x = 100, e.u.ptr.y = 200;
	fx_push(evs, e);
	E(ST_EV_BUTTON_PRESS);
	e.u.btn.x = 100, e.u.btn.y = 200, e.u.btn.button = 1;
	fx_push(evs, e);
	E(ST_EV_BUTTON_RELEASE);
	e.u.btn.x = 100, e.u.btn.y = 200, e.u.btn.button = 1;
	fx_push(evs, e);
	E(ST_EV_SCROLL);
	e.u.scroll.x = 100, e.u.scroll.y = 200, e.u.scroll.dy = -2;
	fx_push(evs, e);
}

/* a session marker and one pointer sample: the smallest real segment */
static void small_events(struct st_events *evs)
{
	evs->anchor_ns = T0_S * NS;
	evs->tick_ns = 1000000;
	struct st_event e;
	uint64_t t = 0;
	E(ST_EV_SESSION);
	e.u.session.marker = ST_SESSION_START;
	fx_push(evs, e);
	E(ST_EV_POINTER);
	e.u.ptr.x = 5, e.u.ptr.y = 6;
	fx_push(evs, e);
#undef E
}

/* Seals evs as device d for person p (public key ppk), under lease
 * sequence lease (1: a store's first epoch). */
static void seal_under(struct st_buf *out, const struct dev *d,
		       const uint8_t person_id[16], const uint8_t ppk[32],
		       uint64_t seq, uint64_t lease, const uint8_t nh[32],
		       uint8_t level, const struct st_events *evs)
{
	struct st_seal_params sp = {0};
	memcpy(sp.device_id, d->id, 16);
	memcpy(sp.person_id, person_id, 16);
	sp.seq = seq;
	sp.lease_seq = lease;
	memcpy(sp.notice_hash, nh, 32);
	sp.level = level;
	st_buf_init(out, false);
	struct st_error e = {0};
	if (st_segment_seal(&sp, evs, ppk, d->sk, NULL, out, &e) < 0)
		fail_msg("seal: %s", e.msg);
}

static void seal(struct st_buf *out, const struct dev *d,
		 const uint8_t person_id[16], const uint8_t ppk[32],
		 uint64_t seq, const uint8_t nh[32], uint8_t level,
		 const struct st_events *evs)
{
	seal_under(out, d, person_id, ppk, seq, 1, nh, level, evs);
}

/* ann's usual segment: full events, her device, the full notice */
static void seal_ann(struct st_buf *out, uint64_t seq)
{
	seal(out, &K.da, K.ann.id, K.ann.pk, seq, K.full_nh, 2, &K.full);
}

static int group_setup(void **s)
{
	(void)s;
	if (sodium_init() < 0)
		return -1;
	K.master_sk = st_secret_new(ST_BOX_SK_LEN);
	assert_int_equal(st_box_keypair(K.master_pk, K.master_sk), 0);
	make_person(&K.ann, 0xa1);
	make_person(&K.ben, 0xb1);
	make_person(&K.cy, 0xc1);
	make_dev(&K.da, 0xd1);
	make_dev(&K.da2, 0xd7);
	make_dev(&K.db, 0xd2);
	make_dev(&K.dc, 0xd3);
	make_dev(&K.dx, 0xdd);
	st_events_init(&K.full, true);
	st_events_init(&K.small, true);
	full_events(&K.full);
	small_events(&K.small);
	struct pol a, b;
	make_policy(FULL_JSON, &a);
	make_policy(NARROW_JSON, &b);
	memcpy(K.full_nh, a.nh, 32);
	memcpy(K.narrow_nh, b.nh, 32);
	st_buf_fini(&a.json), st_buf_fini(&a.notice);
	st_buf_fini(&b.json), st_buf_fini(&b.notice);
	return 0;
}

static int group_teardown(void **s)
{
	(void)s;
	st_secret_free(K.master_sk);
	st_secret_free(K.ann.sk), st_secret_free(K.ben.sk);
	st_secret_free(K.cy.sk);
	struct dev *ds[] = {&K.da, &K.da2, &K.db, &K.dc, &K.dx};
	for (size_t i = 0; i < 5; i++)
		st_secret_free(ds[i]->sk);
	st_events_fini(&K.full);
	st_events_fini(&K.small);
	return 0;
}

/* ---- the server's world, per test ---- */

struct fx {
	char dir[256];
	char db[512];
	struct st_store *s;
	struct st_manual_clock mc;
	struct st_clock clock;
	struct st_ingest_cfg cfg;
};

static void open_store(struct fx *f)
{
	struct st_store_cfg c = {.path = f->db, .clock = &f->clock};
	struct st_error e = {0};
	if (st_store_open(&st_store_sqlite, &c, &f->s, &e) < 0)
		fail_msg("open: %s", e.msg);
}

static void add_person(struct fx *f, const struct person *p,
		       const char *name, bool erased)
{
	struct st_person r = {0};
	memcpy(r.id, p->id, 16);
	snprintf(r.name, sizeof r.name, "%s", name);
	memcpy(r.public_key, p->pk, 32);
	/* the server's custody: the secret half sealed to the master key */
	assert_int_equal(crypto_box_seal(r.sealed_secret, p->sk, 32,
					 K.master_pk),
			 0);
	r.erased = erased;
	r.created_s = (int64_t)T0_S;
	struct st_error e = {0};
	if (st_store_person_add(f->s, &r, &e) < 0)
		fail_msg("person add: %s", e.msg);
}

static void add_device(struct fx *f, const struct dev *d,
		       const struct person *p)
{
	struct st_device r = {0};
	memcpy(r.id, d->id, 16);
	memcpy(r.person_id, p->id, 16);
	memcpy(r.public_key, d->pk, 32);
	r.active = true;
	r.enrolled_s = (int64_t)T0_S;
	/* the account the acceptances below name */
	snprintf(r.local_user, sizeof r.local_user, "%s", "someone");
	snprintf(r.hostname, sizeof r.hostname, "%s", "ws-1.example.com");
	struct st_error e = {0};
	if (st_store_device_add(f->s, &r, &e) < 0)
		fail_msg("device add: %s", e.msg);
}

static void put_policy(struct fx *f, const char *src)
{
	struct pol p;
	make_policy(src, &p);
	struct st_store_policy r = {0};
	memcpy(r.hash, p.hash, 32);
	memcpy(r.notice_hash, p.nh, 32);
	r.json = (const char *)p.json.p;
	r.json_len = p.json.len;
	r.notice = p.notice.p;
	r.notice_len = p.notice.len;
	r.created_s = (int64_t)T0_S;
	struct st_error e = {0};
	if (st_store_policy_put(f->s, &r, &e) < 0)
		fail_msg("policy put: %s", e.msg);
	st_buf_fini(&p.json);
	st_buf_fini(&p.notice);
}

static void accept(struct fx *f, const struct person *p, const struct dev *d,
		   const uint8_t nh[32])
{
	struct st_acceptance a = {0};
	memcpy(a.person_id, p->id, 16);
	memcpy(a.device_id, d->id, 16);
	memcpy(a.notice_hash, nh, 32);
	strcpy(a.local_user, "someone");
	a.accepted_s = (int64_t)T0_S;
	struct st_error e = {0};
	if (st_store_acceptance_add(f->s, &a, &e) < 0)
		fail_msg("acceptance add: %s", e.msg);
}

/* ann on da (and da2, which has accepted nothing), ben on db, cy (erased)
 * on dc; both policies known, the full one accepted. */
static void world(struct fx *f)
{
	add_person(f, &K.ann, "ann@example.com", false);
	add_person(f, &K.ben, "ben@example.com", false);
	add_person(f, &K.cy, "cy@example.com", true);
	add_device(f, &K.da, &K.ann);
	add_device(f, &K.da2, &K.ann);
	add_device(f, &K.db, &K.ben);
	add_device(f, &K.dc, &K.cy);
	put_policy(f, FULL_JSON);
	put_policy(f, NARROW_JSON);
	accept(f, &K.ann, &K.da, K.full_nh);
	accept(f, &K.ben, &K.db, K.full_nh);
	accept(f, &K.cy, &K.dc, K.full_nh);
}

static void fresh(struct fx *f)
{
	char p[600];
	unlink(f->db);
	snprintf(p, sizeof p, "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->db);
	unlink(p);
	open_store(f);
	world(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/st-ingest-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/sealtrace.db", f->dir);
	f->mc.wall = (T0_S + 120) * NS;
	st_clock_manual(&f->clock, &f->mc);
	f->cfg.clock = &f->clock;
	fresh(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	st_store_close(f->s);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static long long n_segments(struct fx *f)
{
	return raw_int(f->db, "SELECT count(*) FROM segments");
}

static long long n_flags(struct fx *f)
{
	return raw_int(f->db, "SELECT count(*) FROM flags");
}

static void assert_nothing_stored(struct fx *f)
{
	assert_int_equal(n_segments(f), 0);
	assert_int_equal(n_flags(f), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM devices WHERE "
					"last_seen_s > 0"),
			 0);
}

/* Ingests seg and checks it is refused with code and word, storing
 * nothing. */
static void refused(struct fx *f, const struct st_buf *seg, int code,
		    const char *word)
{
	struct st_ingest_result r;
	struct st_error e = {0};
	int rc = st_ingest_segment(f->s, seg->p, seg->len, &f->cfg, &r, &e);
	if (rc != code)
		fail_msg("want %s (%d), got %s (%d): %s", st_strerror(code),
			 code, st_strerror(rc), rc, e.msg);
	assert_int_equal(r.code, code);
	if (!strstr(e.msg, word))
		fail_msg("message '%s' lacks '%s'", e.msg, word);
	assert_string_equal(e.msg, r.err.msg);
	assert_nothing_stored(f);
}

static int stored(struct fx *f, const struct st_buf *seg)
{
	struct st_ingest_result r;
	struct st_error e = {0};
	int rc = st_ingest_segment(f->s, seg->p, seg->len, &f->cfg, &r, &e);
	if (rc < 0)
		fail_msg("ingest: %s", e.msg);
	assert_int_equal(r.code, 0);
	assert_true(r.parsed);
	return r.outcome;
}

/* ---- success, duplicates, conflicts ---- */

static void stores_a_verified_segment_after_commit(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal_ann(&seg, 1);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	/* durable: a fresh connection sees it, byte for byte */
	assert_int_equal(n_segments(f), 1);
	struct st_store_segment g;
	struct st_error e = {0};
	assert_int_equal(st_store_segment_get(f->s, K.da.id, 1, &g, &e), 0);
	assert_memory_equal(g.header, seg.p, ST_SEG_HEADER_LEN);
	assert_int_equal(g.body_len, seg.len - ST_SEG_HEADER_LEN);
	assert_memory_equal(g.body, seg.p + ST_SEG_HEADER_LEN, g.body_len);
	assert_memory_equal(g.person_id, K.ann.id, 16);
	assert_memory_equal(g.notice_hash, K.full_nh, 32);
	assert_int_equal(g.level, 2);
	assert_int_equal(g.kinds, st_events_kinds(&K.full));
	assert_int_equal(g.received_s, T0_S + 120);
	st_store_segment_fini(&g);
	struct st_device d;
	assert_int_equal(st_store_device_get(f->s, K.da.id, &d, &e), 0);
	assert_int_equal(d.last_seen_s, T0_S + 120);
	st_buf_fini(&seg);
}

static void duplicate_upload_is_success_and_one_copy(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal_ann(&seg, 7);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	for (int i = 0; i < 3; i++)
		assert_int_equal(stored(f, &seg), ST_STORE_DUPLICATE);
	assert_int_equal(n_segments(f), 1);
	assert_int_equal(n_flags(f), 0);
	st_buf_fini(&seg);
}

static void conflicting_content_is_refused_and_flagged(void **state)
{
	struct fx *f = *state;
	struct st_buf a, b;
	seal_ann(&a, 3);
	/* the same sequence, properly signed, other content */
	seal(&b, &K.da, K.ann.id, K.ann.pk, 3, K.full_nh, 1, &K.small);
	assert_int_equal(stored(f, &a), ST_STORE_STORED);
	struct st_ingest_result r;
	struct st_error e = {0};
	assert_fails_with(st_ingest_segment(f->s, b.p, b.len, &f->cfg, &r, &e),
			  ST_E_CONFLICT, &e, "flagged");
	assert_int_equal(r.code, ST_E_CONFLICT);
	assert_int_equal(n_segments(f), 1);
	assert_int_equal(n_flags(f), 1);
	struct st_store_segment g;
	assert_int_equal(st_store_segment_get(f->s, K.da.id, 3, &g, &e), 0);
	assert_memory_equal(g.header, a.p, ST_SEG_HEADER_LEN); /* first kept */
	st_store_segment_fini(&g);
	assert_int_equal(raw_int(f->db, "SELECT seq FROM flags"), 3);
	assert_int_equal(raw_int(f->db, "SELECT length(evidence) FROM flags"),
			 ST_SEG_HEADER_LEN);
	/* the first upload again is still a duplicate */
	assert_int_equal(stored(f, &a), ST_STORE_DUPLICATE);
	st_buf_fini(&a);
	st_buf_fini(&b);
}

/* ---- refusals, each with its own code ---- */

static void rejects_every_single_bit_flip(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 9, K.full_nh, 1, &K.small);
	uint8_t *c = malloc(seg.len);
	size_t flips = 0;
	for (size_t i = 0; i < seg.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(c, seg.p, seg.len);
			c[i] ^= (uint8_t)(1u << bit);
			struct st_ingest_result r;
			struct st_error e = {0};
			int rc = st_ingest_segment(f->s, c, seg.len, &f->cfg, &r,
						   &e);
			if (rc >= 0 || rc > ST_E_OWN_BASE)
				fail_msg("flip of bit %d of byte %zu: %d (%s)",
					 bit, i, rc, e.msg);
			/* the region says which check must catch it */
			int want = 0;
			if (i >= 8 && i < 24)
				want = ST_E_DEVICE_UNKNOWN;
			else if ((i >= 24 && i < 40) || (i >= 64 && i < 96) ||
				 (i >= 108 && i < ST_SEG_HEADER_LEN))
				want = ST_E_SIGNATURE;
			else if (i >= ST_SEG_HEADER_LEN)
				want = ST_E_BODY_MISMATCH;
			if (want && rc != want)
				fail_msg("flip of bit %d of byte %zu: want %s, "
					 "got %s",
					 bit, i, st_strerror(want),
					 st_strerror(rc));
			flips++;
		}
	}
	assert_int_equal(flips, seg.len * 8);
	assert_nothing_stored(f);
	/* and the untouched segment still goes in */
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	free(c);
	st_buf_fini(&seg);
}

static void rejects_every_truncation(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 9, K.full_nh, 1, &K.small);
	for (size_t n = 0; n < seg.len; n++) {
		struct st_ingest_result r;
		struct st_error e = {0};
		int rc = st_ingest_segment(f->s, seg.p, n, &f->cfg, &r, &e);
		if (rc != ST_E_TRUNCATED || !strstr(e.msg, "truncated"))
			fail_msg("cut at %zu: %s (%s)", n, st_strerror(rc),
				 e.msg);
	}
	/* one byte too many */
	uint8_t *longer = malloc(seg.len + 1);
	memcpy(longer, seg.p, seg.len);
	longer[seg.len] = 0;
	struct st_error e = {0};
	assert_fails_with(st_ingest_segment(f->s, longer, seg.len + 1, &f->cfg,
					    NULL, &e),
			  ST_E_CORRUPT, &e, "after the body");
	free(longer);
	assert_nothing_stored(f);
	st_buf_fini(&seg);
}

static void rejects_an_unsigned_segment(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal_ann(&seg, 1);
	memset(seg.p + ST_SEG_OFF_SIG, 0, ST_SEG_SIG_LEN);
	refused(f, &seg, ST_E_SIGNATURE, "bad signature");
	st_buf_fini(&seg);
}

static void rejects_a_foreign_device(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	/* a device this server never enrolled */
	seal(&seg, &K.dx, K.ann.id, K.ann.pk, 1, K.full_nh, 2, &K.full);
	refused(f, &seg, ST_E_DEVICE_UNKNOWN, "not enrolled");
	st_buf_fini(&seg);
	/* an enrolled device's id, signed with another key */
	struct dev impostor = K.dx;
	memcpy(impostor.id, K.da.id, 16);
	seal(&seg, &impostor, K.ann.id, K.ann.pk, 1, K.full_nh, 2, &K.full);
	refused(f, &seg, ST_E_SIGNATURE, "bad signature");
	st_buf_fini(&seg);
}

static void rejects_a_revoked_device(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal_ann(&seg, 1);
	struct st_error e = {0};
	assert_int_equal(st_store_device_set_active(f->s, K.da.id, false, &e), 0);
	refused(f, &seg, ST_E_DEVICE_REVOKED, "revoked");
	/* that was the only reason */
	assert_int_equal(st_store_device_set_active(f->s, K.da.id, true, &e), 0);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
}

static void rejects_an_erased_persons_device(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal(&seg, &K.dc, K.cy.id, K.cy.pk, 1, K.full_nh, 2, &K.full);
	refused(f, &seg, ST_E_DEVICE_REVOKED, "erased");
	st_buf_fini(&seg);
}

static void rejects_another_persons_id(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	/* ben's device, properly signed, claims to record ann */
	seal(&seg, &K.db, K.ann.id, K.ann.pk, 1, K.full_nh, 2, &K.full);
	refused(f, &seg, ST_E_PERSON_MISMATCH, "another person");
	st_buf_fini(&seg);
}

static void rejects_an_unaccepted_notice(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	/* a notice the server has, but ann never accepted */
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.narrow_nh, 1, &K.small);
	refused(f, &seg, ST_E_NOTICE_NOT_ACCEPTED, "not accepted");
	st_buf_fini(&seg);
	/* a notice no policy has */
	uint8_t nh[32];
	memset(nh, 0x5e, 32);
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, nh, 1, &K.small);
	refused(f, &seg, ST_E_NOTICE_NOT_ACCEPTED, "not accepted");
	st_buf_fini(&seg);
	/* accepted by ann, but on her other computer only */
	seal(&seg, &K.da2, K.ann.id, K.ann.pk, 1, K.full_nh, 2, &K.full);
	refused(f, &seg, ST_E_NOTICE_NOT_ACCEPTED, "accept");
	accept(f, &K.ann, &K.da2, K.full_nh);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
}

static void rejects_kinds_the_notice_does_not_list(void **state)
{
	struct fx *f = *state;
	accept(f, &K.ann, &K.da, K.narrow_nh);
	struct st_buf seg;
	/* keys, text, titles, apps under a pointer-only notice */
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.narrow_nh, 1, &K.full);
	refused(f, &seg, ST_E_NOT_IN_NOTICE, "does not list");
	st_buf_fini(&seg);
	/* what it lists goes in */
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.narrow_nh, 1, &K.small);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
}

static void rejects_a_level_above_keep(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.full_nh, 3, &K.full);
	refused(f, &seg, ST_E_OVER_KEEP, "keeps at most level 2");
	st_buf_fini(&seg);
}

static void rejects_times_outside_the_window(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	seal_ann(&seg, 1);
	/* recorded two days ago */
	f->mc.wall = (T0_S + 2 * 86400) * NS;
	refused(f, &seg, ST_E_TIME_WINDOW, "window");
	/* recorded two days from now (the device's clock is ahead) */
	f->mc.wall = (T0_S - 2 * 86400) * NS;
	refused(f, &seg, ST_E_TIME_WINDOW, "clock");
	/* within a day either side it goes in */
	f->mc.wall = (T0_S + 86400 - 120) * NS;
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	/* the window is configurable */
	struct st_buf seg2;
	seal_ann(&seg2, 2);
	f->mc.wall = (T0_S + 3 * 86400) * NS;
	struct st_error e = {0};
	assert_fails_with(st_ingest_segment(f->s, seg2.p, seg2.len, &f->cfg,
					    NULL, &e),
			  ST_E_TIME_WINDOW, &e, "window");
	f->cfg.window_past_s = 4 * 86400;
	assert_int_equal(stored(f, &seg2), ST_STORE_STORED);
	assert_int_equal(n_segments(f), 2);
	f->cfg.window_past_s = ST_INGEST_WINDOW_MAX_S + 1;
	assert_fails_with(st_ingest_segment(f->s, seg2.p, seg2.len, &f->cfg,
					    NULL, &e),
			  ST_E_INVAL, &e, "window");
	st_buf_fini(&seg);
	st_buf_fini(&seg2);
}

static void checks_run_in_the_documented_order(void **state)
{
	struct fx *f = *state;
	struct st_error e = {0};
	struct st_buf seg;
	/* revoked and unsigned: the device check comes first */
	seal_ann(&seg, 1);
	memset(seg.p + ST_SEG_OFF_SIG, 0, ST_SEG_SIG_LEN);
	assert_int_equal(st_store_device_set_active(f->s, K.da.id, false, &e), 0);
	refused(f, &seg, ST_E_DEVICE_REVOKED, "revoked");
	assert_int_equal(st_store_device_set_active(f->s, K.da.id, true, &e), 0);
	st_buf_fini(&seg);
	/* another person and an unaccepted notice: the person comes first */
	seal(&seg, &K.db, K.ann.id, K.ann.pk, 1, K.narrow_nh, 1, &K.small);
	refused(f, &seg, ST_E_PERSON_MISMATCH, "another person");
	st_buf_fini(&seg);
	/* more kinds and a higher level: kinds come first */
	accept(f, &K.ann, &K.da, K.narrow_nh);
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.narrow_nh, 3, &K.full);
	refused(f, &seg, ST_E_NOT_IN_NOTICE, "does not list");
	st_buf_fini(&seg);
	/* a higher level and out of the window: the level comes first */
	seal(&seg, &K.da, K.ann.id, K.ann.pk, 1, K.narrow_nh, 2, &K.small);
	f->mc.wall = (T0_S + 9 * 86400) * NS;
	refused(f, &seg, ST_E_OVER_KEEP, "keeps at most level 1");
	st_buf_fini(&seg);
}

static void kinds_map_follows_the_policy(void **state)
{
	(void)state;
	const uint32_t markers = ST_KIND_BIT(ST_EV_SESSION) |
				 ST_KIND_BIT(ST_EV_REDACTION);
	const uint32_t context = ST_KIND_BIT(ST_EV_FOCUS) |
				 ST_KIND_BIT(ST_EV_SCREEN) |
				 ST_KIND_BIT(ST_EV_IDLE_START) |
				 ST_KIND_BIT(ST_EV_IDLE_END);
	const uint32_t keys = ST_KIND_BIT(1) | ST_KIND_BIT(2);
	const uint32_t pointer = ST_KIND_BIT(3) | ST_KIND_BIT(4) |
				 ST_KIND_BIT(5) | ST_KIND_BIT(6);
	struct {
		struct st_policy_capture c;
		uint32_t want;
	} cases[] = {
		{{0}, markers},
		{{.pointer = true}, markers | context | pointer},
		{{.keys = true}, markers | context | keys},
		{{.keys = true, .text = true},
		 markers | context | keys | ST_KIND_TEXT},
		{{.text = true}, markers}, /* text without keys: nothing */
		{{.titles = true}, markers | context | ST_KIND_TITLE},
		{{.apps = true}, markers | context | ST_KIND_APP},
		{{.pointer = true, .keys = true, .text = true, .titles = true,
		  .apps = true},
		 ST_KIND_ALL & ~ST_KIND_BIT(ST_EV_KEYFRAME)},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (st_ingest_kinds_allowed(&cases[i].c) != cases[i].want)
			fail_msg("case %zu: 0x%08x, want 0x%08x", i,
				 st_ingest_kinds_allowed(&cases[i].c),
				 cases[i].want);
	/* every segment the full policy's agent can make is admitted */
	struct st_policy_capture all = {true, true, true, true, true, false};
	assert_int_equal(st_events_kinds(&K.full) &
				 ~st_ingest_kinds_allowed(&all),
			 0);
}

/* ---- batches ---- */

static void batch_answers_each_segment_after_one_commit(void **state)
{
	struct fx *f = *state;
	struct st_buf s1, s2, s3, s4;
	seal_ann(&s1, 1);
	seal_ann(&s2, 2);
	s2.p[s2.len - 1] ^= 1; /* tampered body */
	seal_ann(&s3, 3);
	seal(&s4, &K.da, K.ann.id, K.ann.pk, 3, K.full_nh, 1, &K.small);
	struct st_ingest_item it[] = {
		{s1.p, s1.len}, {s2.p, s2.len}, {s3.p, s3.len},
		{s1.p, s1.len}, {s4.p, s4.len}, {NULL, 0},
	};
	struct st_ingest_result r[6];
	struct st_error e = {0};
	assert_int_equal(st_ingest_batch(f->s, it, 6, &f->cfg, r, &e), 0);
	assert_int_equal(r[0].code, 0);
	assert_int_equal(r[0].outcome, ST_STORE_STORED);
	assert_int_equal(r[1].code, ST_E_BODY_MISMATCH);
	assert_true(r[1].parsed);
	assert_int_equal(r[1].seq, 2);
	assert_non_null(strstr(r[1].err.msg, "segment 2 of device d1d1"));
	assert_int_equal(r[2].code, 0);
	assert_int_equal(r[2].outcome, ST_STORE_STORED);
	assert_int_equal(r[3].code, 0);
	assert_int_equal(r[3].outcome, ST_STORE_DUPLICATE);
	assert_int_equal(r[4].code, ST_E_CONFLICT);
	assert_int_equal(r[5].code, ST_E_INVAL);
	assert_false(r[5].parsed);
	assert_int_equal(n_segments(f), 2);
	assert_int_equal(n_flags(f), 1);
	assert_fails_with(st_ingest_batch(f->s, it, 0, &f->cfg, r, &e),
			  ST_E_INVAL, &e, "segments");
	st_buf_fini(&s1), st_buf_fini(&s2), st_buf_fini(&s3), st_buf_fini(&s4);
}

#define NB 5

/* A batch under fault injection: either every good segment is stored and
 * said so, or none is stored and none is said stored. */
static void run_faults(struct fx *f, bool sticky, bool after)
{
	struct st_buf b[NB];
	for (int i = 0; i < 3; i++)
		seal_ann(&b[i], (uint64_t)i + 1);
	seal(&b[3], &K.db, K.ben.id, K.ben.pk, 1, K.full_nh, 2, &K.full);
	seal(&b[4], &K.dx, K.ann.id, K.ann.pk, 1, K.full_nh, 2, &K.full);
	struct st_ingest_item it[NB];
	for (int i = 0; i < NB; i++)
		it[i] = (struct st_ingest_item){b[i].p, b[i].len};
	struct st_ingest_result r[NB];
	struct st_error e = {0};
	struct st_store *w = NULL;

	/* a clean run, counting the store calls */
	assert_int_equal(st_store_fault_wrap(f->s, &w, &e), 0);
	f->s = w;
	st_store_fault_arm(w, NULL);
	assert_int_equal(st_ingest_batch(w, it, NB, &f->cfg, r, &e), 0);
	long total = st_store_fault_calls(w);
	assert_true(total > NB);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i].outcome, ST_STORE_STORED);
	assert_int_equal(r[4].code, ST_E_DEVICE_UNKNOWN);

	for (long n = 1; n <= total + 1; n++) {
		st_store_close(f->s);
		fresh(f);
		assert_int_equal(st_store_fault_wrap(f->s, &w, &e), 0);
		f->s = w;
		st_store_fault_arm(w, &(struct st_store_fault_cfg){
					      .fail_at = n, .sticky = sticky,
					      .after = after});
		e = (struct st_error){0};
		int rc = st_ingest_batch(w, it, NB, &f->cfg, r, &e);
		long long segs = n_segments(f);
		bool lost = after && n == total; /* COMMIT done, answer lost */
		if (rc == 0) {
			for (int i = 0; i < 4; i++)
				assert_int_equal(r[i].code, 0);
			assert_int_equal(segs, 4);
		} else {
			assert_int_equal(rc, ST_STORE_FAULT_RC);
			for (int i = 0; i < NB; i++)
				if (r[i].code == 0)
					fail_msg("call %ld: segment %d said "
						 "stored in a failed batch",
						 n, i);
			if (segs != (lost ? 4 : 0))
				fail_msg("call %ld: batch failed, %lld "
					 "segments stored", n, segs);
		}
		assert_int_equal(n_flags(f), 0);
		if (lost) {
			/* the agent retries: success, nothing twice */
			st_store_fault_arm(w, NULL);
			assert_int_equal(st_ingest_batch(w, it, NB, &f->cfg, r,
							 &e),
					 0);
			for (int i = 0; i < 4; i++) {
				assert_int_equal(r[i].code, 0);
				assert_int_equal(r[i].outcome,
						 ST_STORE_DUPLICATE);
			}
			assert_int_equal(n_segments(f), 4);
		}
	}
	for (int i = 0; i < NB; i++)
		st_buf_fini(&b[i]);
}

static void batch_fails_at_every_call_all_or_nothing(void **state)
{
	run_faults(*state, false, false);
}

static void batch_fails_from_every_call_on_all_or_nothing(void **state)
{
	run_faults(*state, true, false);
}

static void batch_answer_lost_at_every_call_retry_is_duplicate(void **state)
{
	run_faults(*state, false, true);
}

/* ---- invariant 4: no plaintext at rest ---- */

/* true when the file exists and holds needle */
static bool file_has(const char *path, const char *needle)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	size_t n = (size_t)sb.st_size;
	uint8_t *p = malloc(n ? n : 1);
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		assert_true(k > 0);
		got += (size_t)k;
	}
	close(fd);
	bool hit = memmem(p, n, needle, strlen(needle)) != NULL;
	free(p);
	return hit;
}

static void scan_files(struct fx *f, int *seen)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s%s", f->db, sfx[i]);
		if (access(p, F_OK) == 0)
			(*seen)++;
		if (file_has(p, CANARY))
			fail_msg("%s holds the plaintext canary", p);
	}
}

static void no_plaintext_in_any_database_file(void **state)
{
	struct fx *f = *state;
	/* the canary really is in what was recorded */
	struct st_buf body;
	st_buf_init(&body, false);
	assert_int_equal(st_body_encode(&K.full, &body, NULL), 0);
	assert_non_null(memmem(body.p, body.len, CANARY, strlen(CANARY)));
	st_buf_fini(&body);
	for (uint64_t seq = 1; seq <= 20; seq++) {
		struct st_buf seg;
		seal_ann(&seg, seq);
		assert_int_equal(stored(f, &seg), ST_STORE_STORED);
		assert_int_equal(stored(f, &seg), ST_STORE_DUPLICATE);
		st_buf_fini(&seg);
	}
	/* a conflict leaves its evidence: a header, still no content */
	struct st_buf other;
	seal(&other, &K.da, K.ann.id, K.ann.pk, 1, K.full_nh, 1, &K.full);
	struct st_error e = {0};
	assert_int_equal(st_ingest_segment(f->s, other.p, other.len, &f->cfg,
					   NULL, &e),
			 ST_E_CONFLICT);
	st_buf_fini(&other);
	int seen = 0;
	scan_files(f, &seen); /* live: main file and WAL */
	assert_true(seen >= 2);
	st_store_close(f->s); /* checkpoint into the main file */
	f->s = NULL;
	seen = 0;
	scan_files(f, &seen);
	assert_true(seen >= 1);
	open_store(f);
	assert_int_equal(n_segments(f), 20);
}

/* ---- step 9: leases ---- */

static void rejects_a_segment_recorded_without_a_lease(void **state)
{
	struct fx *f = *state;
	struct st_buf seg;
	/* a development agent records under lease sequence 0: refused by
	 * every server, with no lease check configured at all */
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 1, 0, K.full_nh, 2,
		   &K.full);
	refused(f, &seg, ST_E_NO_LEASE, "without a lease");
	/* after the time window in the documented order */
	f->mc.wall = (T0_S + 9 * 86400) * NS;
	refused(f, &seg, ST_E_TIME_WINDOW, "window");
	f->mc.wall = (T0_S + 120) * NS;
	st_buf_fini(&seg);
	/* lease 1, the first epoch, goes in */
	seal_ann(&seg, 1);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
}

/* A stand-in for the server's pause table: ann ("ann@example.com") was
 * paused at epoch 4 and confirmed it keeping segments up to 5. The rule
 * itself is the server's (pinned in test_api.c); here: what ingest asks
 * and what it does with the answer. */
struct fake_pauses {
	int calls;
	char person[64], group[64];
	uint64_t lease_seq, seq;
};

static int fake_lease_check(void *ctx, const struct st_ingest_lease_q *q,
			    struct st_error *err)
{
	struct fake_pauses *fp = ctx;
	fp->calls++;
	snprintf(fp->person, sizeof fp->person, "%s", q->person);
	snprintf(fp->group, sizeof fp->group, "%s", q->group);
	fp->lease_seq = q->lease_seq;
	fp->seq = q->seq;
	if (strcmp(q->person, "ann@example.com") != 0 || q->lease_seq >= 4)
		return 0;
	if (q->seq <= 5) /* kept from before the pause, confirmed */
		return 0;
	return st_fail(err, ST_E_PAUSED,
		       "recorded under lease %llu, older than the pause of "
		       "epoch 4",
		       (unsigned long long)q->lease_seq);
}

static void lease_check_refuses_what_a_pause_made_old(void **state)
{
	struct fx *f = *state;
	struct fake_pauses fp = {0};
	f->cfg.lease_check = fake_lease_check;
	f->cfg.lease_ctx = &fp;
	struct st_buf seg;
	/* recorded under lease 2, after what the agent kept: refused */
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 6, 2, K.full_nh, 2,
		   &K.full);
	refused(f, &seg, ST_E_PAUSED, "older than the pause");
	/* the message names the segment too */
	struct st_error e = {0};
	assert_int_equal(st_ingest_segment(f->s, seg.p, seg.len, &f->cfg, NULL,
					   &e),
			 ST_E_PAUSED);
	assert_non_null(strstr(e.msg, "segment 6 of device"));
	assert_string_equal(fp.person, "ann@example.com");
	assert_int_equal(fp.lease_seq, 2);
	assert_int_equal(fp.seq, 6);
	st_buf_fini(&seg);
	/* recorded before the pause and kept when it was confirmed */
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 5, 2, K.full_nh, 2,
		   &K.full);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
	/* recorded under the lease after the pause */
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 7, 4, K.full_nh, 2,
		   &K.full);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	st_buf_fini(&seg);
	/* ben is not covered */
	seal_under(&seg, &K.db, K.ben.id, K.ben.pk, 9, 2, K.full_nh, 2,
		   &K.full);
	assert_int_equal(stored(f, &seg), ST_STORE_STORED);
	assert_string_equal(fp.person, "ben@example.com");
	st_buf_fini(&seg);
	/* never asked about a segment an earlier step refused, nor about
	 * one without a lease */
	int calls = fp.calls;
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 8, 0, K.full_nh, 2,
		   &K.full);
	assert_fails_with(st_ingest_segment(f->s, seg.p, seg.len, &f->cfg,
					    NULL, &e),
			  ST_E_NO_LEASE, &e, "lease");
	st_buf_fini(&seg);
	seal_under(&seg, &K.da, K.ann.id, K.ann.pk, 8, 2, K.full_nh, 3,
		   &K.full);
	assert_fails_with(st_ingest_segment(f->s, seg.p, seg.len, &f->cfg,
					    NULL, &e),
			  ST_E_OVER_KEEP, &e, "level");
	st_buf_fini(&seg);
	assert_int_equal(fp.calls, calls);
	assert_int_equal(n_segments(f), 3);
	/* in a batch, the refused one alone stays out */
	struct st_buf a, b;
	seal_under(&a, &K.da, K.ann.id, K.ann.pk, 10, 2, K.full_nh, 2,
		   &K.full);
	seal_under(&b, &K.da, K.ann.id, K.ann.pk, 11, 4, K.full_nh, 2,
		   &K.full);
	struct st_ingest_item it[2] = {{a.p, a.len}, {b.p, b.len}};
	struct st_ingest_result res[2];
	assert_int_equal(st_ingest_batch(f->s, it, 2, &f->cfg, res, &e), 0);
	assert_int_equal(res[0].code, ST_E_PAUSED);
	assert_int_equal(res[1].code, 0);
	assert_int_equal(res[1].outcome, ST_STORE_STORED);
	assert_int_equal(n_segments(f), 4);
	st_buf_fini(&a);
	st_buf_fini(&b);
	f->cfg.lease_check = NULL;
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(stores_a_verified_segment_after_commit),
		T(duplicate_upload_is_success_and_one_copy),
		T(conflicting_content_is_refused_and_flagged),
		T(rejects_every_single_bit_flip),
		T(rejects_every_truncation),
		T(rejects_an_unsigned_segment),
		T(rejects_a_foreign_device),
		T(rejects_a_revoked_device),
		T(rejects_an_erased_persons_device),
		T(rejects_another_persons_id),
		T(rejects_an_unaccepted_notice),
		T(rejects_kinds_the_notice_does_not_list),
		T(rejects_a_level_above_keep),
		T(rejects_times_outside_the_window),
		T(checks_run_in_the_documented_order),
		T(kinds_map_follows_the_policy),
		T(batch_answers_each_segment_after_one_commit),
		T(batch_fails_at_every_call_all_or_nothing),
		T(batch_fails_from_every_call_on_all_or_nothing),
		T(batch_answer_lost_at_every_call_retry_is_duplicate),
		T(no_plaintext_in_any_database_file),
		T(rejects_a_segment_recorded_without_a_lease),
		T(lease_check_refuses_what_a_pause_made_old),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
