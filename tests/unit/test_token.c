/* test_token.c - admin and enrollment tokens: round trips, and every
 * truncated, malformed or altered token refused (ST_E_AUTH for admin
 * tokens, ST_E_TOKEN_INVALID for enrollment tokens, or a different hash or
 * fingerprint, which the server and the agent's pin then refuse). */
#include "helpers.h"

#include <sodium.h>
#include <stdbool.h>

#include "core/token.h"

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void admin_token_round_trip(void **s)
{
	(void)s;
	char t[ST_TOKEN_TEXT_MAX];
	uint8_t h[32], h2[32];
	assert_int_equal(st_admin_token_new(t, h), 0);
	assert_int_equal(strlen(t), ST_ADMIN_TOKEN_LEN);
	assert_memory_equal(t, "sta_", 4);
	assert_null(strpbrk(t + 4, "+/="));
	struct st_error e = {0};
	assert_int_equal(st_admin_token_hash(t, h2, &e), 0);
	assert_memory_equal(h, h2, 32);
	char t2[ST_TOKEN_TEXT_MAX];
	assert_int_equal(st_admin_token_new(t2, h2), 0);
	assert_string_not_equal(t, t2);
	assert_memory_not_equal(h, h2, 32);
}

static void admin_rejects_every_truncation_and_extension(void **s)
{
	(void)s;
	char t[ST_TOKEN_TEXT_MAX], cut[ST_TOKEN_TEXT_MAX + 8];
	uint8_t h[32], h2[32];
	assert_int_equal(st_admin_token_new(t, h), 0);
	struct st_error e = {0};
	for (size_t n = 0; n < ST_ADMIN_TOKEN_LEN; n++) {
		memcpy(cut, t, n);
		cut[n] = 0;
		assert_fails_with(st_admin_token_hash(cut, h2, &e), ST_E_AUTH,
				  &e, "admin token");
	}
	snprintf(cut, sizeof cut, "%sA", t);
	assert_fails_with(st_admin_token_hash(cut, h2, &e), ST_E_AUTH, &e,
			  "admin token");
	snprintf(cut, sizeof cut, " %s", t);
	assert_fails_with(st_admin_token_hash(cut, h2, &e), ST_E_AUTH, &e,
			  "admin token");
	assert_fails_with(st_admin_token_hash(NULL, h2, &e), ST_E_AUTH, &e,
			  "admin token");
}

static void admin_rejects_malformed(void **s)
{
	(void)s;
	char t[ST_TOKEN_TEXT_MAX], bad[ST_TOKEN_TEXT_MAX];
	uint8_t h[32], h2[32];
	assert_int_equal(st_admin_token_new(t, h), 0);
	struct st_error e = {0};
	/* the wrong prefix, the enrollment prefix, other alphabets */
	static const char *const prefixes[] = {"STA_", "stb_", "sta-", "ste1"};
	for (size_t i = 0; i < 4; i++) {
		memcpy(bad, t, sizeof bad);
		memcpy(bad, prefixes[i], 4);
		assert_fails_with(st_admin_token_hash(bad, h2, &e), ST_E_AUTH,
				  &e, "admin token");
	}
	static const char outside[] = "+/=.% \n\x01\xff";
	for (size_t pos = 4; pos < ST_ADMIN_TOKEN_LEN; pos++)
		for (size_t k = 0; k < sizeof outside - 1; k++) {
			memcpy(bad, t, sizeof bad);
			bad[pos] = outside[k];
			assert_int_equal(st_admin_token_hash(bad, h2, NULL),
					 ST_E_AUTH);
		}
}

static void admin_every_altered_character_changes_or_fails(void **s)
{
	(void)s;
	char t[ST_TOKEN_TEXT_MAX], bad[ST_TOKEN_TEXT_MAX];
	uint8_t h[32], h2[32];
	assert_int_equal(st_admin_token_new(t, h), 0);
	for (size_t pos = 0; pos < ST_ADMIN_TOKEN_LEN; pos++)
		for (size_t k = 0; k < sizeof b64url - 1; k++) {
			if (b64url[k] == t[pos])
				continue;
			memcpy(bad, t, sizeof bad);
			bad[pos] = b64url[k];
			int rc = st_admin_token_hash(bad, h2, NULL);
			if (rc == 0)
				assert_memory_not_equal(h, h2, 32);
			else
				assert_int_equal(rc, ST_E_AUTH);
		}
}

static void enroll_token_round_trip(void **s)
{
	(void)s;
	uint8_t ca[32], lease[32], h[32], secret[32], ca2[32], lease2[32],
		h2[32];
	randombytes_buf(ca, 32);
	randombytes_buf(lease, 32);
	char t[ST_TOKEN_TEXT_MAX];
	assert_int_equal(st_enroll_token_new(ca, lease, t, h), 0);
	assert_int_equal(strlen(t), ST_ENROLL_TOKEN_LEN);
	assert_memory_equal(t, "ste1.", 5);
	struct st_error e = {0};
	assert_int_equal(st_enroll_token_parse(t, secret, ca2, lease2, &e), 0);
	assert_memory_equal(ca, ca2, 32);
	assert_memory_equal(lease, lease2, 32);
	st_enroll_secret_hash(secret, h2);
	assert_memory_equal(h, h2, 32);
	/* two tokens for the same server differ in their secret only */
	char t2[ST_TOKEN_TEXT_MAX];
	assert_int_equal(st_enroll_token_new(ca, lease, t2, h2), 0);
	assert_memory_not_equal(h, h2, 32);
	assert_memory_equal(t + 5 + 44, t2 + 5 + 44, ST_ENROLL_TOKEN_LEN - 49);
}

static void enroll_rejects_every_truncation(void **s)
{
	(void)s;
	uint8_t ca[32] = {1}, lease[32] = {2}, h[32], secret[32], o1[32],
		o2[32];
	char t[ST_TOKEN_TEXT_MAX], cut[ST_TOKEN_TEXT_MAX + 8];
	assert_int_equal(st_enroll_token_new(ca, lease, t, h), 0);
	struct st_error e = {0};
	for (size_t n = 0; n < ST_ENROLL_TOKEN_LEN; n++) {
		memcpy(cut, t, n);
		cut[n] = 0;
		assert_fails_with(st_enroll_token_parse(cut, secret, o1, o2, &e),
				  ST_E_TOKEN_INVALID, &e, "enrollment token");
	}
	snprintf(cut, sizeof cut, "%s.", t);
	assert_fails_with(st_enroll_token_parse(cut, secret, o1, o2, &e),
			  ST_E_TOKEN_INVALID, &e, "enrollment token");
	assert_int_equal(st_enroll_token_parse(NULL, secret, o1, o2, NULL),
			 ST_E_TOKEN_INVALID);
}

static void enroll_rejects_malformed(void **s)
{
	(void)s;
	uint8_t ca[32] = {3}, lease[32] = {4}, h[32], secret[32], o1[32],
		o2[32];
	char t[ST_TOKEN_TEXT_MAX], bad[ST_TOKEN_TEXT_MAX];
	assert_int_equal(st_enroll_token_new(ca, lease, t, h), 0);
	struct st_error e = {0};
	/* prefix, and the two separators moved or replaced */
	static const size_t seps[] = {4, 48, 92};
	for (size_t i = 0; i < 3; i++) {
		memcpy(bad, t, sizeof bad);
		bad[seps[i]] = 'A';
		assert_fails_with(st_enroll_token_parse(bad, secret, o1, o2, &e),
				  ST_E_TOKEN_INVALID, &e, "enrollment token");
	}
	memcpy(bad, t, sizeof bad);
	memcpy(bad, "sta1", 4);
	assert_int_equal(st_enroll_token_parse(bad, secret, o1, o2, NULL),
			 ST_E_TOKEN_INVALID);
	/* a character outside base64url in any part */
	for (size_t pos = 5; pos < ST_ENROLL_TOKEN_LEN; pos++) {
		if (pos == 48 || pos == 92)
			continue;
		memcpy(bad, t, sizeof bad);
		bad[pos] = pos % 2 ? '+' : '/';
		assert_fails_with(st_enroll_token_parse(bad, secret, o1, o2, &e),
				  ST_E_TOKEN_INVALID, &e, "base64url");
	}
}

static void enroll_every_altered_character_is_caught(void **s)
{
	(void)s;
	uint8_t ca[32], lease[32], h[32], secret[32], o1[32], o2[32], h2[32];
	randombytes_buf(ca, 32);
	randombytes_buf(lease, 32);
	char t[ST_TOKEN_TEXT_MAX], bad[ST_TOKEN_TEXT_MAX];
	assert_int_equal(st_enroll_token_new(ca, lease, t, h), 0);
	for (size_t pos = 5; pos < ST_ENROLL_TOKEN_LEN; pos++) {
		if (pos == 48 || pos == 92)
			continue;
		for (size_t k = 0; k < sizeof b64url - 1; k += 7) {
			if (b64url[k] == t[pos])
				continue;
			memcpy(bad, t, sizeof bad);
			bad[pos] = b64url[k];
			int rc = st_enroll_token_parse(bad, secret, o1, o2, NULL);
			if (rc < 0) {
				assert_int_equal(rc, ST_E_TOKEN_INVALID);
				continue;
			}
			/* it parsed: then the part it sits in differs, so the
			 * server's hash or the agent's pin refuses it */
			st_enroll_secret_hash(secret, h2);
			bool same = !memcmp(h, h2, 32) && !memcmp(o1, ca, 32) &&
				    !memcmp(o2, lease, 32);
			assert_false(same);
		}
	}
}

static void b64url_round_trip_and_caps(void **s)
{
	(void)s;
	uint8_t in[40], out[40];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 37 + 1);
	char text[64];
	for (size_t n = 1; n <= sizeof in; n++) {
		assert_int_equal(st_b64url(in, n, text, sizeof text), 0);
		assert_null(strchr(text, '='));
		assert_int_equal(st_b64url_dec(text, strlen(text), out, n), 0);
		assert_memory_equal(in, out, n);
		/* asking for another length is refused */
		assert_int_equal(st_b64url_dec(text, strlen(text), out, n - 1 + 2 *
					       (n == 1)), ST_E_INVAL);
	}
	assert_int_equal(st_b64url(in, 32, text, 43), ST_E_CAP);
	assert_int_equal(st_b64url(in, 32, text, 44), 0);
	assert_int_equal(st_b64url_dec("AA==", 4, out, 1), ST_E_INVAL);
}

static void fingerprint_is_sha256(void **s)
{
	(void)s;
	uint8_t fp[32], want[32];
	static const char abc_hex[] =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	st_fingerprint((const uint8_t *)"abc", 3, fp);
	assert_int_equal(sodium_hex2bin(want, 32, abc_hex, 64, NULL, NULL, NULL),
			 0);
	assert_memory_equal(fp, want, 32);
}

static void hex_round_trips_and_refuses_anything_else(void **st)
{
	(void)st;
	uint8_t b[4] = {0x00, 0xab, 0x7f, 0xff}, back[4];
	char h[9];
	st_hex_encode(h, b, 4);
	assert_string_equal(h, "00ab7fff");
	assert_int_equal(st_hex_decode(back, 4, h), 0);
	assert_memory_equal(back, b, 4);
	assert_int_equal(st_hex_decode(back, 4, "00AB7FFF"), 0);
	assert_int_equal(st_hex_decode(back, 4, "00ab7ff"), ST_E_INVAL);
	assert_int_equal(st_hex_decode(back, 4, "00ab7fff0"), ST_E_INVAL);
	assert_int_equal(st_hex_decode(back, 4, "00ab7fgf"), ST_E_INVAL);
	assert_int_equal(st_hex_decode(back, 4, " 0ab7fff"), ST_E_INVAL);
	assert_int_equal(st_hex_decode(back, 4, NULL), ST_E_INVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admin_token_round_trip),
		cmocka_unit_test(admin_rejects_every_truncation_and_extension),
		cmocka_unit_test(admin_rejects_malformed),
		cmocka_unit_test(admin_every_altered_character_changes_or_fails),
		cmocka_unit_test(enroll_token_round_trip),
		cmocka_unit_test(enroll_rejects_every_truncation),
		cmocka_unit_test(enroll_rejects_malformed),
		cmocka_unit_test(enroll_every_altered_character_is_caught),
		cmocka_unit_test(b64url_round_trip_and_caps),
		cmocka_unit_test(fingerprint_is_sha256),
		cmocka_unit_test(hex_round_trips_and_refuses_anything_else),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
