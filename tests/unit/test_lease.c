/* test_lease.c - the signed lease (core/lease.h): its byte layout, a round
 * trip, and every refusal an agent makes: truncation, any flipped bit, a
 * key other than the pinned one, another device, a nonce other than the
 * outstanding one, a sequence below the newest held; and the signer's
 * refusal of fields no agent would accept. */
#include "helpers.h"

#include <sodium.h>

#include "core/keys.h"
#include "core/lease.h"

static uint8_t PK[32], SK[64], PK2[32], SK2[64];
static const uint8_t DEV[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t NONCE[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
				  0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(PK, SK);
	crypto_sign_keypair(PK2, SK2);
	return 0;
}

static struct st_lease pause_lease(void)
{
	struct st_lease l;
	memset(&l, 0, sizeof l);
	l.state = ST_LEASE_PAUSE;
	l.flags = ST_LEASE_FLAG_DISCARD;
	memcpy(l.device_id, DEV, 16);
	l.seq = 9;
	memset(l.policy_hash, 0x5c, 32);
	memcpy(l.nonce, NONCE, 16);
	l.validity_ms = ST_LEASE_VALIDITY_DEFAULT_MS;
	l.issued_s = 1764000000;
	snprintf(l.reason, sizeof l.reason, "incident 42: pausing — sorry");
	return l;
}

static struct st_lease_expect expect(const uint8_t *pk, uint64_t min_seq)
{
	struct st_lease_expect x = {.server_pk = pk, .device_id = DEV,
				    .nonce = NONCE, .min_seq = min_seq};
	return x;
}

static void sign(const struct st_lease *l, uint8_t *out, size_t *len)
{
	struct st_error e = {0};
	int rc = st_lease_sign(l, SK, out, ST_LEASE_MAX, len, &e);
	if (rc != 0)
		fail_msg("sign: %s", e.msg);
}

static void round_trips_with_every_field(void **state)
{
	(void)state;
	struct st_lease l = pause_lease(), got;
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	size_t rlen = strlen(l.reason);
	assert_int_equal(n, ST_LEASE_FIXED_LEN + rlen + ST_LEASE_SIG_LEN);
	/* the layout of lease.h, byte for byte */
	assert_memory_equal(b, "STLS", 4);
	assert_int_equal(b[4], 1);
	assert_int_equal(b[5], ST_LEASE_PAUSE);
	assert_int_equal(b[6], ST_LEASE_FLAG_DISCARD);
	assert_int_equal(b[7], rlen);
	assert_memory_equal(b + 8, DEV, 16);
	assert_int_equal(b[24], 9);
	assert_int_equal(b[25], 0);
	assert_int_equal(b[32], 0x5c);
	assert_memory_equal(b + 64, NONCE, 16);
	assert_int_equal(b[80] | b[81] << 8 | b[82] << 16, 60000);
	assert_memory_equal(b + 92, l.reason, rlen);
	struct st_lease_expect x = expect(PK, 9); /* equal seq: a renewal */
	struct st_error e = {0};
	assert_int_equal(st_lease_verify(b, n, &x, &got, &e), 0);
	assert_int_equal(got.state, l.state);
	assert_int_equal(got.flags, l.flags);
	assert_int_equal(got.seq, 9);
	assert_int_equal(got.validity_ms, 60000);
	assert_int_equal(got.issued_s, 1764000000);
	assert_memory_equal(got.policy_hash, l.policy_hash, 32);
	assert_string_equal(got.reason, l.reason);
	/* a record lease with no reason too */
	l.state = ST_LEASE_RECORD;
	l.flags = 0;
	l.reason[0] = 0;
	l.seq = 10;
	sign(&l, b, &n);
	assert_int_equal(n, ST_LEASE_FIXED_LEN + ST_LEASE_SIG_LEN);
	assert_int_equal(st_lease_verify(b, n, &x, &got, &e), 0);
	assert_int_equal(got.state, ST_LEASE_RECORD);
	assert_string_equal(got.reason, "");
	/* the longest reason fits ST_LEASE_MAX exactly */
	memset(l.reason, 'r', ST_LEASE_REASON_MAX);
	l.reason[ST_LEASE_REASON_MAX] = 0;
	sign(&l, b, &n);
	assert_int_equal(n, ST_LEASE_MAX);
	assert_int_equal(st_lease_verify(b, n, &x, &got, &e), 0);
}

static void rejects_every_truncation(void **state)
{
	(void)state;
	struct st_lease l = pause_lease(), got;
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	struct st_lease_expect x = expect(PK, 0);
	for (size_t k = 0; k < n; k++) {
		struct st_error e = {0};
		memset(&got, 0x77, sizeof got);
		int rc = st_lease_verify(b, k, &x, &got, &e);
		if (rc != ST_E_TRUNCATED)
			fail_msg("truncated to %zu of %zu: rc %d (%s)", k, n, rc,
				 e.msg);
		assert_non_null(strstr(e.msg, "lease"));
		assert_int_equal(((uint8_t *)&got)[0], 0x77); /* untouched */
	}
	/* and a byte too many */
	uint8_t longer[ST_LEASE_MAX + 1];
	memcpy(longer, b, n);
	longer[n] = 0;
	struct st_error e = {0};
	assert_fails_with(st_lease_verify(longer, n + 1, &x, NULL, &e),
			  ST_E_CORRUPT, &e, "after its signature");
}

static void rejects_every_bit_flip(void **state)
{
	(void)state;
	struct st_lease l = pause_lease(), got;
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	struct st_lease_expect x = expect(PK, 0);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			struct st_error e = {0};
			memset(&got, 0x77, sizeof got);
			int rc = st_lease_verify(b, n, &x, &got, &e);
			if (rc >= 0)
				fail_msg("byte %zu bit %d flipped: accepted", i, bit);
			assert_int_equal(((uint8_t *)&got)[0], 0x77);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	struct st_error e = {0};
	assert_int_equal(st_lease_verify(b, n, &x, &got, &e), 0);
}

static void refuses_structure_errors_by_code(void **state)
{
	(void)state;
	struct st_lease l = pause_lease();
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	struct st_lease_expect x = expect(PK, 0);
	struct st_error e = {0};
	b[0] = 'X';
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e), ST_E_BAD_MAGIC,
			  &e, "not a lease");
	b[0] = 'S';
	b[4] = 2;
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e), ST_E_VERSION,
			  &e, "upgrade");
	b[4] = 1;
	b[5] = 3;
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e), ST_E_CORRUPT,
			  &e, "state");
	b[5] = ST_LEASE_PAUSE;
	b[7] = ST_LEASE_REASON_MAX + 1;
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e), ST_E_CORRUPT,
			  &e, "reason length");
}

static void refuses_a_key_other_than_the_pinned_one(void **state)
{
	(void)state;
	struct st_lease l = pause_lease();
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	struct st_error e = {0};
	assert_int_equal(st_lease_sign(&l, SK2, b, sizeof b, &n, &e), 0);
	struct st_lease_expect x = expect(PK, 0);
	struct st_lease got;
	assert_fails_with(st_lease_verify(b, n, &x, &got, &e), ST_E_SIGNATURE,
			  &e, "pinned");
	x.server_pk = PK2;
	assert_int_equal(st_lease_verify(b, n, &x, &got, &e), 0);
	/* a signature over the bytes without the lease context is refused:
	 * the key's other signatures never pass for a lease */
	size_t body = n - ST_LEASE_SIG_LEN;
	crypto_sign_detached(b + body, NULL, b, body, SK2);
	assert_fails_with(st_lease_verify(b, n, &x, &got, &e), ST_E_SIGNATURE,
			  &e, "signature");
}

static void refuses_a_lease_for_another_device(void **state)
{
	(void)state;
	struct st_lease l = pause_lease();
	l.device_id[15] ^= 1;
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	struct st_lease_expect x = expect(PK, 0);
	struct st_error e = {0};
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e),
			  ST_E_LEASE_DEVICE, &e, "another device");
}

static void refuses_a_replayed_nonce(void **state)
{
	(void)state;
	struct st_lease l = pause_lease();
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	uint8_t other[16];
	memcpy(other, NONCE, 16);
	other[0] ^= 0x80;
	struct st_lease_expect x = expect(PK, 0);
	x.nonce = other;
	struct st_error e = {0};
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e),
			  ST_E_LEASE_REPLAY, &e, "replay");
}

static void refuses_a_sequence_below_the_newest_held(void **state)
{
	(void)state;
	struct st_lease l = pause_lease();
	uint8_t b[ST_LEASE_MAX];
	size_t n;
	sign(&l, b, &n);
	struct st_lease_expect x = expect(PK, 10);
	struct st_error e = {0};
	assert_fails_with(st_lease_verify(b, n, &x, NULL, &e), ST_E_LEASE_OLD,
			  &e, "below 10");
	x.min_seq = 9;
	assert_int_equal(st_lease_verify(b, n, &x, NULL, &e), 0);
}

static void sign_refuses_fields_no_agent_accepts(void **state)
{
	(void)state;
	uint8_t b[ST_LEASE_MAX];
	size_t n = 123;
	struct st_error e = {0};
	struct st_lease l = pause_lease();
	l.state = 0;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "state");
	assert_int_equal(n, 0);
	l.state = 3;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "state");
	l = pause_lease();
	l.validity_ms = 0;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "validity");
	l.validity_ms = ST_LEASE_VALIDITY_MAX_MS + 1;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "validity");
	l.validity_ms = ST_LEASE_VALIDITY_MAX_MS;
	assert_int_equal(st_lease_sign(&l, SK, b, sizeof b, &n, &e), 0);
	l = pause_lease();
	memset(l.reason, 'x', sizeof l.reason); /* no NUL within the cap */
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "reason");
	l = pause_lease();
	snprintf(l.reason, sizeof l.reason, "two\nlines");
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "reason");
	snprintf(l.reason, sizeof l.reason, "bad \xc3\x28 utf-8");
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "reason");
	snprintf(l.reason, sizeof l.reason, "overlong \xc0\xaf");
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "reason");
	l = pause_lease();
	l.flags = 0x02;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "flag");
	l.state = ST_LEASE_RECORD;
	l.flags = ST_LEASE_FLAG_DISCARD;
	assert_fails_with(st_lease_sign(&l, SK, b, sizeof b, &n, &e),
			  ST_E_INVAL, &e, "discard");
	l = pause_lease();
	assert_fails_with(st_lease_sign(&l, SK, b, ST_LEASE_FIXED_LEN, &n, &e),
			  ST_E_CAP, &e, "need");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips_with_every_field),
		cmocka_unit_test(rejects_every_truncation),
		cmocka_unit_test(rejects_every_bit_flip),
		cmocka_unit_test(refuses_structure_errors_by_code),
		cmocka_unit_test(refuses_a_key_other_than_the_pinned_one),
		cmocka_unit_test(refuses_a_lease_for_another_device),
		cmocka_unit_test(refuses_a_replayed_nonce),
		cmocka_unit_test(refuses_a_sequence_below_the_newest_held),
		cmocka_unit_test(sign_refuses_fields_no_agent_accepts),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
