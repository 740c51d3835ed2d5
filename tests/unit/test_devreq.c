/* test_devreq.c - signed device requests: a round trip verifies; a
 * signature over another method, path, body or time, or by another key,
 * is refused (ST_E_SIGNATURE); a time outside the window is refused
 * (ST_E_REQUEST_TIME); malformed headers are ST_E_AUTH. */
#include "helpers.h"

#include <sodium.h>

#include "core/devreq.h"

static uint8_t pk[32], sk[64], pk2[32], sk2[64];
static const uint8_t id[16] = {0x0a, 0x1b, 0x2c, 0x3d, 4, 5, 6, 7,
			       8, 9, 10, 11, 12, 13, 14, 0xff};
static const char body[] = "{\"request_id\":\"00\",\"from_min\":1,\"to_min\":2}";
#define NOW 1764000000
#define W ST_DEVREQ_WINDOW_DEFAULT_S

static int setup(void **s)
{
	(void)s;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	return 0;
}

static void sign(struct st_devreq_sig *g, const char *method,
		 const char *path, const char *b, int64_t t)
{
	struct st_error e = {0};
	assert_int_equal(st_devreq_sign(id, sk, method, path,
					(const uint8_t *)b, b ? strlen(b) : 0,
					t, g, &e), 0);
}

static int verify(const struct st_devreq_sig *g, const uint8_t *key,
		  const char *method, const char *path, const char *b,
		  int64_t now, struct st_error *e)
{
	return st_devreq_verify(key, method, path, (const uint8_t *)b,
				b ? strlen(b) : 0, g->time, g->sig, now, W, e);
}

static void round_trip_verifies(void **s)
{
	(void)s;
	struct st_devreq_sig g;
	sign(&g, "POST", "/v1/device/forget", body, NOW);
	assert_string_equal(g.device, "0a1b2c3d0405060708090a0b0c0d0eff");
	assert_string_equal(g.time, "1764000000");
	assert_int_equal(strlen(g.sig), ST_DEVREQ_SIG_TEXT);
	struct st_error e = {0};
	assert_int_equal(verify(&g, pk, "POST", "/v1/device/forget", body, NOW,
				&e), 0);
	uint8_t back[16];
	assert_int_equal(st_devreq_device(g.device, back, &e), 0);
	assert_memory_equal(back, id, 16);
	/* a GET signs the hash of no body */
	sign(&g, "GET", "/v1/device/policy?x=1", NULL, NOW);
	assert_int_equal(verify(&g, pk, "GET", "/v1/device/policy?x=1", NULL,
				NOW, &e), 0);
	assert_int_equal(verify(&g, pk, "GET", "/v1/device/policy?x=1", "",
				NOW, &e), 0);
}

static void signature_over_changed_parts_refused(void **s)
{
	(void)s;
	struct st_devreq_sig g;
	struct st_error e = {0};
	sign(&g, "POST", "/v1/device/forget", body, NOW);
	assert_fails_with(verify(&g, pk, "GET", "/v1/device/forget", body, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
	assert_fails_with(verify(&g, pk, "post", "/v1/device/forget", body, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
	assert_fails_with(verify(&g, pk, "POST", "/v1/device/acceptances", body,
				 NOW, &e), ST_E_SIGNATURE, &e, "signature");
	assert_fails_with(verify(&g, pk, "POST", "/v1/device/forget?a=1", body,
				 NOW, &e), ST_E_SIGNATURE, &e, "signature");
	assert_fails_with(verify(&g, pk, "POST", "/v1/device/forget", "{}",
				 NOW, &e), ST_E_SIGNATURE, &e, "signature");
	assert_fails_with(verify(&g, pk, "POST", "/v1/device/forget", NULL, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
	/* every single byte of the body altered */
	char b2[sizeof body];
	for (size_t i = 0; i < sizeof body - 1; i++) {
		memcpy(b2, body, sizeof body);
		b2[i] ^= 0x01;
		assert_int_equal(verify(&g, pk, "POST", "/v1/device/forget", b2,
					NOW, NULL), ST_E_SIGNATURE);
	}
	/* the time header changed, even within the window */
	struct st_devreq_sig g2 = g;
	snprintf(g2.time, sizeof g2.time, "%d", NOW + 1);
	assert_fails_with(verify(&g2, pk, "POST", "/v1/device/forget", body, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
	snprintf(g2.time, sizeof g2.time, "0%d", NOW);
	assert_fails_with(verify(&g2, pk, "POST", "/v1/device/forget", body, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
	/* another device's key */
	assert_fails_with(verify(&g, pk2, "POST", "/v1/device/forget", body, NOW,
				 &e), ST_E_SIGNATURE, &e, "signature");
}

static void every_altered_signature_character_refused(void **s)
{
	(void)s;
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct st_devreq_sig g;
	sign(&g, "POST", "/v1/device/forget", body, NOW);
	for (size_t pos = 0; pos < ST_DEVREQ_SIG_TEXT; pos++)
		for (size_t k = 0; k < sizeof alpha - 1; k += 5) {
			if (alpha[k] == g.sig[pos])
				continue;
			struct st_devreq_sig g2 = g;
			g2.sig[pos] = alpha[k];
			int rc = verify(&g2, pk, "POST", "/v1/device/forget",
					body, NOW, NULL);
			/* the last character carries spare bits: a value
			 * with them set is not base64url of 64 bytes */
			assert_true(rc == ST_E_SIGNATURE || rc == ST_E_AUTH);
		}
}

static void time_window_is_inclusive_and_bounded(void **s)
{
	(void)s;
	struct st_devreq_sig g;
	struct st_error e = {0};
	sign(&g, "POST", "/v1/device/forget", body, NOW);
	const char *p = "/v1/device/forget";
	assert_int_equal(verify(&g, pk, "POST", p, body, NOW + W, &e), 0);
	assert_int_equal(verify(&g, pk, "POST", p, body, NOW - W, &e), 0);
	assert_fails_with(verify(&g, pk, "POST", p, body, NOW + W + 1, &e),
			  ST_E_REQUEST_TIME, &e, "clock");
	assert_fails_with(verify(&g, pk, "POST", p, body, NOW - W - 1, &e),
			  ST_E_REQUEST_TIME, &e, "clock");
	assert_int_equal(st_devreq_verify(pk, "POST", p, (const uint8_t *)body,
					  strlen(body), g.time, g.sig, NOW + 10,
					  5, NULL), ST_E_REQUEST_TIME);
}

static void malformed_headers_are_auth(void **s)
{
	(void)s;
	struct st_devreq_sig g;
	struct st_error e = {0};
	const char *p = "/v1/device/forget";
	const uint8_t *b = (const uint8_t *)body;
	size_t bl = strlen(body);
	sign(&g, "POST", p, body, NOW);
	assert_fails_with(st_devreq_verify(pk, "POST", p, b, bl, NULL, g.sig,
					   NOW, W, &e), ST_E_AUTH, &e, "Time");
	assert_fails_with(st_devreq_verify(pk, "POST", p, b, bl, g.time, NULL,
					   NOW, W, &e), ST_E_AUTH, &e,
			  "Signature");
	assert_fails_with(st_devreq_verify(pk, "POST", p, b, bl, "", g.sig,
					   NOW, W, &e), ST_E_AUTH, &e, "Time");
	static const char *const bad_times[] = {"12x", "-5", "1.5", "1e9",
						"123456789012345678901"};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(st_devreq_verify(pk, "POST", p, b, bl,
						  bad_times[i], g.sig, NOW, W,
						  NULL), ST_E_AUTH);
	/* a signature of every wrong length, and one outside the alphabet */
	char sig[ST_DEVREQ_SIG_TEXT + 2];
	for (size_t n = 0; n < ST_DEVREQ_SIG_TEXT; n++) {
		memcpy(sig, g.sig, n);
		sig[n] = 0;
		assert_int_equal(st_devreq_verify(pk, "POST", p, b, bl, g.time,
						  sig, NOW, W, NULL), ST_E_AUTH);
	}
	snprintf(sig, sizeof sig, "%sA", g.sig);
	assert_int_equal(st_devreq_verify(pk, "POST", p, b, bl, g.time, sig,
					  NOW, W, NULL), ST_E_AUTH);
	memcpy(sig, g.sig, sizeof g.sig);
	sig[10] = '+';
	assert_fails_with(st_devreq_verify(pk, "POST", p, b, bl, g.time, sig,
					   NOW, W, &e), ST_E_AUTH, &e,
			  "base64url");
	/* a path that could smuggle another line into the signed text */
	assert_int_equal(st_devreq_verify(pk, "POST", "/v1/x\nGET", b, bl,
					  g.time, g.sig, NOW, W, NULL),
			 ST_E_AUTH);
	assert_int_equal(st_devreq_verify(pk, "POST", "v1/x", b, bl, g.time,
					  g.sig, NOW, W, NULL), ST_E_AUTH);
}

static void sign_refuses_malformed_parts(void **s)
{
	(void)s;
	struct st_devreq_sig g;
	struct st_error e = {0};
	assert_fails_with(st_devreq_sign(id, sk, "POST", "/a\nb", NULL, 0, NOW,
					 &g, &e), ST_E_INVAL, &e, "path");
	assert_fails_with(st_devreq_sign(id, sk, "POST", "relative", NULL, 0,
					 NOW, &g, &e), ST_E_INVAL, &e, "path");
	assert_fails_with(st_devreq_sign(id, sk, "", "/a", NULL, 0, NOW, &g,
					 &e), ST_E_INVAL, &e, "method");
	static char longp[ST_DEVREQ_PATH_MAX + 2];
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	assert_int_equal(st_devreq_sign(id, sk, "POST", longp, NULL, 0, NOW, &g,
					NULL), ST_E_INVAL);
}

static void device_header_parsing(void **s)
{
	(void)s;
	uint8_t out[16];
	struct st_error e = {0};
	assert_int_equal(st_devreq_device("0a1b2c3d0405060708090a0b0c0d0eff",
					  out, &e), 0);
	assert_memory_equal(out, id, 16);
	static const char *const bad[] = {
		NULL, "", "0a1b2c3d0405060708090a0b0c0d0e",
		"0a1b2c3d0405060708090a0b0c0d0eff00",
		"0a1b2c3d0405060708090a0b0c0d0exx",
		"0a1b2c3d 405060708090a0b0c0d0eff"};
	for (size_t i = 0; i < 6; i++)
		assert_fails_with(st_devreq_device(bad[i], out, &e), ST_E_AUTH,
				  &e, ST_DEVREQ_HDR_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_verifies),
		cmocka_unit_test(signature_over_changed_parts_refused),
		cmocka_unit_test(every_altered_signature_character_refused),
		cmocka_unit_test(time_window_is_inclusive_and_bounded),
		cmocka_unit_test(malformed_headers_are_auth),
		cmocka_unit_test(sign_refuses_malformed_parts),
		cmocka_unit_test(device_header_parsing),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
