/* test_seal.c - sealing, verification and opening: round trip, every bit
 * flip and truncation rejected, each wrong key with its own error, and an
 * independent second sealer written from docs/format.md. */
#include "helpers.h"
#include "fixtures.h"

#include <sodium.h>

#include "core/keys.h"
#include "core/seal.h"
#include "export/open.h"

struct keys {
	uint8_t dpk[32], *dsk, ppk[32], *psk;
};

static struct keys K, K2; /* K2: another device and another person */
static struct st_events EVS;
static struct st_buf SEG;

static void params(struct st_seal_params *p, uint64_t seq)
{
	memset(p, 0, sizeof *p);
	memset(p->device_id, 0xd1, 16);
	memset(p->person_id, 0x9e, 16);
	p->seq = seq;
	p->lease_seq = 77;
	memset(p->notice_hash, 0xab, 32);
	p->level = 2;
}

static void make_keys(struct keys *k)
{
	k->dsk = st_secret_new(ST_SIGN_SK_LEN);
	k->psk = st_secret_new(ST_BOX_SK_LEN);
	assert_int_equal(st_sign_keypair(k->dpk, k->dsk), 0);
	assert_int_equal(st_box_keypair(k->ppk, k->psk), 0);
}

static int setup(void **s)
{
	(void)s;
	make_keys(&K);
	make_keys(&K2);
	st_events_init(&EVS, true);
	fx_every_type(&EVS);
	st_buf_init(&SEG, false);
	struct st_seal_params p;
	params(&p, 5);
	struct st_error e = {0};
	if (st_segment_seal(&p, &EVS, K.ppk, K.dsk, NULL, &SEG, &e) < 0) {
		fprintf(stderr, "seal: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	st_secret_free(K.dsk), st_secret_free(K.psk);
	st_secret_free(K2.dsk), st_secret_free(K2.psk);
	st_events_fini(&EVS);
	st_buf_fini(&SEG);
	return 0;
}

static int open_seg(const uint8_t *p, size_t n, const struct keys *dev,
		    const struct keys *person, struct st_events *out,
		    struct st_error *e)
{
	struct st_segment_header h;
	return st_segment_open(p, n, dev->dpk, person->ppk, person->psk, NULL, &h,
			       out, e);
}

static void seals_verifies_and_opens(void **s)
{
	(void)s;
	struct st_segment_header h;
	struct st_error e = {0};
	assert_int_equal(st_segment_verify(SEG.p, SEG.len, K.dpk, &h, &e), 0);
	assert_int_equal(h.seq, 5);
	assert_int_equal(h.lease_seq, 77);
	assert_int_equal(h.level, 2);
	assert_int_equal(h.kinds, st_events_kinds(&EVS));
	assert_int_equal(h.t_start_min, EVS.anchor_ns / 60000000000ull);
	assert_true(h.t_end_min > h.t_start_min);
	struct st_events out;
	st_events_init(&out, true);
	if (open_seg(SEG.p, SEG.len, &K, &K, &out, &e) < 0)
		fail_msg("open: %s", e.msg);
	assert_true(fx_equal(&EVS, &out));
	st_events_fini(&out);
	/* no plaintext string of the body is visible in the sealed bytes */
	assert_null(memmem(SEG.p, SEG.len, "XTerm", 5));
}

static void rejects_every_single_bit_flip(void **s)
{
	(void)s;
	uint8_t *c = malloc(SEG.len);
	size_t verified = 0, opened = 0;
	for (size_t i = 0; i < SEG.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(c, SEG.p, SEG.len);
			c[i] ^= (uint8_t)(1u << bit);
			struct st_segment_header h;
			struct st_error e = {0};
			if (st_segment_verify(c, SEG.len, K.dpk, &h, &e) == 0)
				verified++;
			struct st_events out;
			st_events_init(&out, true);
			if (open_seg(c, SEG.len, &K, &K, &out, &e) == 0)
				opened++;
			st_events_fini(&out);
		}
	}
	free(c);
	if (verified || opened)
		fail_msg("%zu flips verified, %zu opened (of %zu)", verified,
			 opened, SEG.len * 8);
}

static void rejects_every_truncation(void **s)
{
	(void)s;
	for (size_t n = 0; n < SEG.len; n++) {
		struct st_segment_header h;
		struct st_error e = {0};
		int rc = st_segment_verify(SEG.p, n, K.dpk, &h, &e);
		assert_int_equal(rc, ST_E_TRUNCATED);
		assert_non_null(strstr(e.msg, "truncated at byte"));
		struct st_events out;
		st_events_init(&out, true);
		assert_int_equal(open_seg(SEG.p, n, &K, &K, &out, &e), ST_E_TRUNCATED);
		st_events_fini(&out);
	}
}

static void wrong_keys_each_have_their_own_error(void **s)
{
	(void)s;
	struct st_error e = {0};
	struct st_events out;
	st_events_init(&out, true);
	/* another device's public key: signature */
	struct keys mixed = K;
	memcpy(mixed.dpk, K2.dpk, 32);
	assert_fails_with(open_seg(SEG.p, SEG.len, &mixed, &K, &out, &e),
			  ST_E_SIGNATURE, &e, "bad signature");
	/* another person's key: not sealed to it */
	assert_fails_with(open_seg(SEG.p, SEG.len, &K, &K2, &out, &e),
			  ST_E_NOT_FOR_KEY, &e, "not sealed to this");
	/* a header moved from another segment of the same device */
	struct st_seal_params p;
	struct st_buf other;
	st_buf_init(&other, false);
	params(&p, 6);
	assert_int_equal(st_segment_seal(&p, &EVS, K.ppk, K.dsk, NULL, &other, &e),
			 0);
	assert_int_equal(other.len, SEG.len);
	uint8_t *c = malloc(SEG.len);
	memcpy(c, other.p, ST_SEG_HEADER_LEN);
	memcpy(c + ST_SEG_HEADER_LEN, SEG.p + ST_SEG_HEADER_LEN,
	       SEG.len - ST_SEG_HEADER_LEN);
	assert_fails_with(open_seg(c, SEG.len, &K, &K, &out, &e),
			  ST_E_BODY_MISMATCH, &e, "another segment");
	free(c);
	st_buf_fini(&other);
	st_events_fini(&out);
}

static void rejects_bad_magic_version_and_level(void **s)
{
	(void)s;
	struct st_error e = {0};
	struct st_segment_header h;
	uint8_t *c = malloc(SEG.len);
	memcpy(c, SEG.p, SEG.len);
	c[0] = 'X';
	assert_fails_with(st_segment_verify(c, SEG.len, K.dpk, &h, &e),
			  ST_E_BAD_MAGIC, &e, "magic");
	memcpy(c, SEG.p, SEG.len);
	c[4] = 9;
	assert_fails_with(st_segment_verify(c, SEG.len, K.dpk, &h, &e),
			  ST_E_VERSION, &e, "version 9");
	/* a level-4 header, correctly re-signed by the device: still refused */
	memcpy(c, SEG.p, SEG.len);
	c[96] = 4;
	crypto_sign_detached(c + ST_SEG_OFF_SIG, NULL, c, ST_SEG_OFF_SIG, K.dsk);
	assert_fails_with(st_segment_verify(c, SEG.len, K.dpk, &h, &e),
			  ST_E_LEVEL, &e, "level 4");
	free(c);
	struct st_seal_params p;
	params(&p, 1);
	p.level = 4;
	struct st_buf b;
	st_buf_init(&b, false);
	assert_fails_with(st_segment_seal(&p, &EVS, K.ppk, K.dsk, NULL, &b, &e),
			  ST_E_LEVEL, &e, "never stored");
	assert_int_equal(b.len, 0);
	st_buf_fini(&b);
}

/* A second sealer, written from docs/format.md with libsodium calls only,
 * so that the document and the code cannot drift apart unnoticed. */
static void manual_seal(const struct st_events *evs, uint32_t kinds,
			uint32_t t0, uint32_t t1, struct st_buf *out)
{
	struct st_buf body, z;
	st_buf_init(&body, false);
	st_buf_init(&z, false);
	assert_int_equal(st_body_encode(evs, &body, NULL), 0);
	assert_int_equal(st_body_compress(NULL, 3, body.p, body.len, &z, NULL), 0);
	uint8_t key[32], hdr[ST_SEG_HEADER_LEN] = {0};
	randombytes_buf(key, 32);
	memcpy(hdr, "STSG", 4);
	hdr[4] = 1, hdr[5] = 1, hdr[6] = ST_SEG_HEADER_LEN & 0xff,
	hdr[7] = ST_SEG_HEADER_LEN >> 8;
	memset(hdr + 8, 0xd1, 16);
	memset(hdr + 24, 0x9e, 16);
	hdr[40] = 9;  /* seq 9 */
	hdr[48] = 3;  /* lease seq 3 */
	memcpy(hdr + 56, &t0, 4); /* little-endian host (x86, arm) */
	memcpy(hdr + 60, &t1, 4);
	memset(hdr + 64, 0xab, 32);
	hdr[96] = 1;
	memcpy(hdr + 100, &kinds, 4);
	uint32_t blen = (uint32_t)z.len + 16;
	memcpy(hdr + 104, &blen, 4);
	randombytes_buf(hdr + 108, 24);
	assert_int_equal(crypto_box_seal(hdr + 132, key, 32, K.ppk), 0);
	uint8_t *ct = malloc(blen);
	unsigned long long clen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, z.p, z.len, hdr,
						   212, NULL, hdr + 108, key);
	crypto_generichash(hdr + 212, 32, ct, clen, NULL, 0);
	crypto_sign_detached(hdr + 244, NULL, hdr, 244, K.dsk);
	st_buf_put(out, hdr, sizeof hdr);
	st_buf_put(out, ct, clen);
	free(ct);
	st_buf_fini(&body);
	st_buf_fini(&z);
}

static void independent_sealer_interoperates_and_lies_are_caught(void **s)
{
	(void)s;
	uint32_t t0, t1;
	assert_int_equal(st_events_minutes(&EVS, &t0, &t1, NULL), 0);
	uint32_t kinds = st_events_kinds(&EVS);
	struct st_error e = {0};
	struct st_events out;
	struct st_buf b;

	st_buf_init(&b, false);
	manual_seal(&EVS, kinds, t0, t1, &b);
	st_events_init(&out, true);
	if (open_seg(b.p, b.len, &K, &K, &out, &e) < 0)
		fail_msg("manual segment: %s", e.msg);
	assert_true(fx_equal(&EVS, &out));
	st_events_fini(&out);

	/* a header that hides the text and titles the body carries */
	st_buf_reset(&b);
	manual_seal(&EVS, kinds & ~(ST_KIND_TEXT | ST_KIND_TITLE), t0, t1, &b);
	st_events_init(&out, true);
	assert_fails_with(open_seg(b.p, b.len, &K, &K, &out, &e), ST_E_KINDS,
			  &e, "kinds");
	assert_int_equal(out.n, 0);
	st_events_fini(&out);

	/* a header whose minutes do not cover the events */
	st_buf_reset(&b);
	manual_seal(&EVS, kinds, t0 - 10, t0 - 9, &b);
	st_events_init(&out, true);
	assert_fails_with(open_seg(b.p, b.len, &K, &K, &out, &e), ST_E_ORDER, &e,
			  "minutes");
	st_events_fini(&out);
	st_buf_fini(&b);
}

static void seals_the_largest_time_that_fits(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, true);
	/* the latest anchor the body can hold (year 2554) */
	evs.anchor_ns = UINT64_MAX;
	evs.tick_ns = 1000000;
	fx_push(&evs, (struct st_event){.t = 59999, .type = ST_EV_IDLE_START});
	struct st_seal_params p;
	params(&p, 1);
	struct st_buf b;
	struct st_error e = {0};
	st_buf_init(&b, false);
	assert_int_equal(st_segment_seal(&p, &evs, K.ppk, K.dsk, NULL, &b, &e), 0);
	struct st_events out;
	st_events_init(&out, true);
	assert_int_equal(open_seg(b.p, b.len, &K, &K, &out, &e), 0);
	assert_true(fx_equal(&evs, &out));
	st_events_fini(&out);
	/* an event past minute 2^32 does not fit the header */
	evs.ev[0].t = (uint64_t)UINT32_MAX * 60000;
	st_buf_reset(&b);
	assert_fails_with(st_segment_seal(&p, &evs, K.ppk, K.dsk, NULL, &b, &e),
			  ST_E_CAP, &e, "2^32");
	st_buf_fini(&b);
	st_events_fini(&evs);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(seals_verifies_and_opens),
		cmocka_unit_test(rejects_every_single_bit_flip),
		cmocka_unit_test(rejects_every_truncation),
		cmocka_unit_test(wrong_keys_each_have_their_own_error),
		cmocka_unit_test(rejects_bad_magic_version_and_level),
		cmocka_unit_test(independent_sealer_interoperates_and_lies_are_caught),
		cmocka_unit_test(seals_the_largest_time_that_fits),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
