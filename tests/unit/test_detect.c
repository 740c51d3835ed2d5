/* test_detect.c - the detectors' validators by known answers, through
 * st_detect: Luhn, IBAN mod 97, SSN area/group/serial rules, IPv4 octets,
 * version strings, UUIDs and git hashes against the entropy rule, JWT
 * headers; the shape of the result (sorted, inside the text) and failing
 * closed at the candidate cap. Real detector, real keyword lists. */
#include "helpers.h"

#include <math.h>
#include <sodium.h>
#include <stdbool.h>

#include "filter/detect.h"

#include "detector_fixture.h"

static struct st_match m[ST_DETECT_MATCHES_MAX];

static size_t scan(const char *t)
{
	size_t n = 99;
	struct st_error e = {0};
	int rc = st_detect(det, t, strlen(t), m, ST_DETECT_MATCHES_MAX, &n, &e);
	if (rc < 0)
		fail_msg("st_detect(\"%s\"): %s", t, e.msg);
	return n;
}

/* The match of kind in t, or NULL. */
static const struct st_match *find(const char *t, uint16_t kind)
{
	size_t n = scan(t);
	for (size_t i = 0; i < n; i++)
		if (m[i].kind == kind)
			return &m[i];
	return NULL;
}

static bool has_cred(const char *t)
{
	size_t n = scan(t);
	for (size_t i = 0; i < n; i++)
		if (st_detect_outcome(m[i].kind) == ST_OUT_CREDENTIAL)
			return true;
	return false;
}

/* Asserts a match of kind covering exactly the substring val of t. */
static void assert_span(const char *t, uint16_t kind, const char *val)
{
	const struct st_match *x = find(t, kind);
	if (!x)
		fail_msg("no %s in \"%s\"", st_detect_kind_name(kind), t);
	const char *at = strstr(t, val);
	assert_non_null(at);
	assert_int_equal(x->start, (uint32_t)(at - t));
	assert_int_equal(x->end, (uint32_t)(at - t + strlen(val)));
}

static void assert_none_of(const char *t, uint16_t kind)
{
	if (find(t, kind))
		fail_msg("unexpected %s in \"%s\"", st_detect_kind_name(kind), t);
}

/* Published test numbers (Visa, Mastercard 5- and 2-series, Amex, Discover,
 * Diners, JCB, UnionPay); each with its last digit moved by one fails Luhn. */
static void card_needs_luhn_one_digit_off_is_refused(void **s)
{
	(void)s;
	static const char *good[] = {
		"4111111111111111", "5555555555554444", "2223003122003222",
		"378282246310005",  "6011111111111117", "36227206271667",
		"3566002020360505", "6200000000000005", "4222222222222",
	};
	char t[96], v[32];
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(t, sizeof t, "card %s ok", good[i]);
		assert_span(t, ST_DET_CARD, good[i]);
		snprintf(v, sizeof v, "%s", good[i]);
		size_t l = strlen(v);
		v[l - 1] = (char)('0' + (v[l - 1] - '0' + 1) % 10);
		snprintf(t, sizeof t, "card %s ok", v);
		assert_none_of(t, ST_DET_CARD);
	}
	/* grouped as printed on the card */
	assert_span("pay with 4111 1111 1111 1111 now", ST_DET_CARD,
		    "4111 1111 1111 1111");
	assert_span("amex 3782-822463-10005.", ST_DET_CARD, "3782-822463-10005");
	/* Luhn-valid but grouped like no card, or separators mixed */
	assert_none_of("card 41-11111111-111111 x", ST_DET_CARD);
	assert_none_of("card 4111 1111-1111 1111", ST_DET_CARD);
	/* Luhn-valid but no card network starts with 1 or 9 */
	assert_none_of("id 1000000000000008 x", ST_DET_CARD);
	/* glued to letters: part of an identifier */
	assert_none_of("x4111111111111111", ST_DET_CARD);
}

static void iban_needs_mod97_and_country_length(void **s)
{
	(void)s;
	assert_span("to DE89370400440532013000 now", ST_DET_IBAN,
		    "DE89370400440532013000");
	assert_span("IBAN GB29 NWBK 6016 1331 9268 19.", ST_DET_IBAN,
		    "GB29 NWBK 6016 1331 9268 19");
	assert_span("NO9386011117947", ST_DET_IBAN, "NO9386011117947");
	/* one digit off, check digits swapped, wrong country length */
	assert_none_of("to DE89370400440532013001 now", ST_DET_IBAN);
	assert_none_of("to DE98370400440532013000 now", ST_DET_IBAN);
	assert_none_of("to DE8937040044053201300 now", ST_DET_IBAN);
	/* unknown country code */
	assert_none_of("to ZZ89370400440532013000 now", ST_DET_IBAN);
}

static void ssn_follows_area_group_serial_rules(void **s)
{
	(void)s;
	assert_span("SSN 512-44-3098.", ST_DET_SSN, "512-44-3098");
	assert_span("ssn 529 81 3342", ST_DET_SSN, "529 81 3342");
	static const char *bad[] = {
		"SSN 000-12-3456", /* area 000 */
		"SSN 666-12-3456", /* area 666 */
		"SSN 900-12-3456", /* area 9xx: ITINs */
		"SSN 999-12-3456",
		"SSN 123-00-4567", /* group 00 */
		"SSN 123-45-0000", /* serial 0000 */
		"SSN 078-05-1120", /* the SSA's advertising number */
		"SSN 512-44 3098", /* separators mixed */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_none_of(bad[i], ST_DET_SSN);
	/* nine bare digits only when the text says SSN */
	assert_span("SSN 302486715", ST_DET_SSN, "302486715");
	assert_none_of("order 302486715", ST_DET_SSN);
}

static void ipv4_refuses_octets_over_255_and_versions(void **s)
{
	(void)s;
	assert_span("from 192.0.2.10 today", ST_DET_IP, "192.0.2.10");
	assert_span("[2001:db8::1]:443", ST_DET_IP, "2001:db8::1");
	assert_none_of("from 192.0.2.256 today", ST_DET_IP);
	assert_none_of("from 300.0.2.1 today", ST_DET_IP);
	assert_none_of("driver version 1.2.3.4 installed", ST_DET_IP);
	assert_none_of("Updated to v2.14.1.3", ST_DET_IP);
	assert_none_of("build 10.0.19045.3693", ST_DET_IP);
	/* C++ and Rust paths and times are not IPv6 */
	assert_none_of("std::vector<int> v;", ST_DET_IP);
	assert_none_of("let v = Vec::new();", ST_DET_IP);
	assert_none_of("at 12:30:45 UTC", ST_DET_IP);
}

static void uuid_and_git_hash_are_not_secrets(void **s)
{
	(void)s;
	assert_false(has_cred("id 550e8400-e29b-41d4-a716-446655440000 x"));
	assert_false(has_cred("commit 9fceb02d0ae598e95dc970b74767f19372d61af8"));
	assert_false(has_cred("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
			      "649b934ca495991b7852b855"));
	/* while a random mixed-case token is */
	assert_non_null(find("API_TOKEN=q8Zr2Lx7VfK1pN4sW9tB3mY6cH0dJ5gE",
			     ST_DET_SECRET));
}

static void b64url(const char *in, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, (const unsigned char *)in, strlen(in),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void jwt_needs_alg_in_header(void **s)
{
	(void)s;
	char h[128], p[128], t[400];
	b64url("{\"sub\":\"1234567890\",\"iat\":1516239022}", p, sizeof p);
	b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", h, sizeof h);
	snprintf(t, sizeof t, "Bearer %s.%s.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y", h, p);
	assert_non_null(find(t, ST_DET_JWT));
	b64url("{\"typ\":\"JWT\",\"kid\":\"k1\"}", h, sizeof h);
	snprintf(t, sizeof t, "Bearer %s.%s.SflKxwRJSMeKKF2QT4fwpMeJf36POk6y", h, p);
	assert_null(find(t, ST_DET_JWT));
}

static void matches_are_sorted_and_inside_the_text(void **s)
{
	(void)s;
	const char *t = "mail bob@example.org, card 4111 1111 1111 1111, "
			"ip 203.0.113.7, AKIAIOSFODNN7EXAMPLE and "
			"ssn 512-44-3098; my tax return is late";
	size_t n = scan(t);
	assert_true(n >= 6);
	size_t len = strlen(t);
	for (size_t i = 0; i < n; i++) {
		assert_true(m[i].start < m[i].end);
		assert_true(m[i].end <= len);
		if (i)
			assert_true(m[i - 1].start <= m[i].start);
	}
	assert_non_null(find(t, ST_DET_EMAIL));
	assert_non_null(find(t, ST_DET_CARD));
	assert_non_null(find(t, ST_DET_IP));
	assert_non_null(find(t, ST_DET_AWS_KEY));
	assert_non_null(find(t, ST_DET_SSN));
	assert_non_null(find(t, ST_DET_CAT_TAX));
}

/* A text with more candidate spans than the detector keeps: the scan stops
 * and st_detect fails with ST_E_CAP and no matches, so that the filter drops
 * the text ("when in doubt, drop") instead of passing a half-checked one. */
static void over_candidate_cap_fails_closed(void **s)
{
	(void)s;
	/* 6000 addresses in 60000 bytes: under ST_DETECT_TEXT_MAX, so the
	 * bound that trips is the count of candidates, not the length */
	const char *one = "192.0.2.1 ";
	size_t ol = strlen(one), len = 6000 * ol;
	char *t = malloc(len);
	assert_non_null(t);
	assert_true(len <= ST_DETECT_TEXT_MAX);
	for (size_t i = 0; i < len; i += ol)
		memcpy(t + i, one, ol);
	size_t n = 99;
	struct st_error e = {0};
	int rc = st_detect(det, t, len, m, ST_DETECT_MATCHES_MAX, &n, &e);
	assert_fails_with(rc, ST_E_CAP, &e, "candidate");
	assert_int_equal(n, 0);
	free(t);
	/* the detector is usable again afterwards */
	assert_non_null(find("mail bob@example.org", ST_DET_EMAIL));
}

static void over_match_cap_fails_closed(void **s)
{
	(void)s;
	const char *t = "a@example.com b@example.com c@example.com";
	size_t n = 99;
	struct st_error e = {0};
	int rc = st_detect(det, t, strlen(t), m, 2, &n, &e);
	assert_fails_with(rc, ST_E_CAP, &e, "matches");
	assert_int_equal(n, 0);
}

static void acronym_keywords_match_their_case_only(void **s)
{
	(void)s;
	/* "PIP" is a performance plan, "pip" the Python installer */
	assert_non_null(find("he is on a PIP until June", ST_DET_CAT_PERFORMANCE));
	assert_null(find("pip install requests", ST_DET_CAT_PERFORMANCE));
	assert_non_null(find("my HIV test", ST_DET_CAT_HEALTH));
	assert_null(find("we used visual aids", ST_DET_CAT_HEALTH));
	/* ordinary words stay caseless */
	assert_non_null(find("DIAGNOSED last week", ST_DET_CAT_HEALTH));
}

/* The validators by known answers, without a scan around them. */
static void validators_give_known_answers(void **s)
{
	(void)s;
	/* Luhn: 79927398713 is the textbook example */
	assert_true(st_detect_luhn("79927398713", 11));
	assert_false(st_detect_luhn("79927398710", 11));
	assert_true(st_detect_luhn("4111111111111111", 16));
	assert_false(st_detect_luhn("4111111111111112", 16));
	assert_false(st_detect_luhn("41111111x1111111", 16));
	assert_false(st_detect_luhn("", 0));
	/* IBAN: the registry's examples, plain and printed in fours */
	assert_true(st_detect_iban_valid("GB82WEST12345698765432", 22));
	assert_true(st_detect_iban_valid("DE89 3704 0044 0532 0130 00", 27));
	assert_true(st_detect_iban_valid("BE68539007547034", 16));
	assert_false(st_detect_iban_valid("GB82WEST12345698765433", 22));
	assert_false(st_detect_iban_valid("GB28WEST12345698765432", 22));
	assert_false(st_detect_iban_valid("GB82 WEST1234 5698 7654 32", 26));
	assert_false(st_detect_iban_valid("GB82WEST1234569876543", 21));
	assert_false(st_detect_iban_valid("QQ82WEST12345698765432", 22));
	/* SSN: area, group, serial; the voided published numbers */
	assert_true(st_detect_ssn_valid("536904399"));
	assert_true(st_detect_ssn_valid("001010001"));
	assert_true(st_detect_ssn_valid("899999999"));
	static const char *const bad[] = {"000123456", "666123456", "900123456",
					  "123004567", "123450000", "078051120",
					  "219099999", "12345678x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (st_detect_ssn_valid(bad[i]))
			fail_msg("%s accepted as an SSN", bad[i]);
	/* entropy in bits per byte */
	assert_true(fabs(st_detect_entropy("aaaa", 4) - 0.0) < 1e-9);
	assert_true(fabs(st_detect_entropy("aabb", 4) - 1.0) < 1e-9);
	assert_true(fabs(st_detect_entropy("abcd", 4) - 2.0) < 1e-9);
	assert_true(fabs(st_detect_entropy("0123456789abcdef", 16) - 4.0) < 1e-9);
	assert_true(fabs(st_detect_entropy("", 0)) < 1e-9);
}

/* The entropy rule of detect.c: random tokens are secrets, identifiers,
 * paths and placeholders are not; a git hash or a UUID alone is not, but
 * is as the value of a token or key. */
static void entropy_rule_tells_tokens_from_identifiers(void **s)
{
	(void)s;
	assert_span("here: gX7vQm2kLp9wRt4zHb8nYc3", ST_DET_SECRET,
		    "gX7vQm2kLp9wRt4zHb8nYc3");
	assert_none_of("getUserAccountSettingsFromDatabase2()", ST_DET_SECRET);
	assert_none_of("ST_DETECT_MATCHES_MAX and CANDIDATES_MAX_FOR_SCAN",
		       ST_DET_SECRET);
	assert_none_of("/usr/lib/x86_64-linux-gnu/libhs.so.5", ST_DET_SECRET);
	assert_none_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", ST_DET_SECRET);
	assert_none_of("integrity sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6"
		       "c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
		       ST_DET_SECRET);
	assert_none_of("commit 3f786850e387550fdab836ed7e6dc881de23001b",
		       ST_DET_SECRET);
	assert_span("token=3f786850e387550fdab836ed7e6dc881de23001b",
		    ST_DET_SECRET, "3f786850e387550fdab836ed7e6dc881de23001b");
	assert_span("api_key: 123e4567-e89b-12d3-a456-426614174000",
		    ST_DET_SECRET, "123e4567-e89b-12d3-a456-426614174000");
	/* vendor prefixes with a placeholder body are documentation */
	assert_null(find("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ST_DET_GITHUB_TOKEN));
	/* the password of a URL, but not "password" itself */
	assert_span("postgres://app:Vn8Kq3Zx7Lp2Rt9Wm4Bc1Hf6Jd0Gs5Y@db:5432/app",
		    ST_DET_SECRET, "Vn8Kq3Zx7Lp2Rt9Wm4Bc1Hf6Jd0Gs5Y");
	assert_false(has_cred("postgres://user:password@localhost/db"));
}

/* No error message quotes the text it was about: only lengths and counts. */
static void error_messages_never_hold_matched_text(void **s)
{
	(void)s;
	static const char *const vals[] = {
		"4111 1111 1111 1111", "bob@example.org", "AKIAIOSFODNN7EXAMPLE",
		"512-44-3098", "DE89370400440532013000", "203.0.113.7",
	};
	char t[512] = "";
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
		strcat(t, vals[i]);
		strcat(t, " and ");
	}
	/* over the caller's cap */
	size_t n = 0;
	struct st_error e = {0};
	assert_fails_with(st_detect(det, t, strlen(t), m, 1, &n, &e), ST_E_CAP,
			  &e, "matches");
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
		if (strstr(e.msg, vals[i]))
			fail_msg("error message quotes a match: %s", e.msg);
	assert_null(strstr(e.msg, "4111"));
	assert_null(strstr(e.msg, "example"));
	/* over the candidate cap */
	const char *one = "bob@example.org ";
	size_t ol = strlen(one), len = 4000 * ol;
	char *big = malloc(len);
	assert_non_null(big);
	for (size_t i = 0; i < len; i += ol)
		memcpy(big + i, one, ol);
	memset(&e, 0, sizeof e);
	assert_true(st_detect(det, big, len, m, ST_DETECT_MATCHES_MAX, &n, &e) < 0);
	assert_null(strstr(e.msg, "bob"));
	assert_null(strstr(e.msg, "example"));
	free(big);
	/* a missing data folder: the path, never any content */
	struct st_detector *d2 = NULL;
	memset(&e, 0, sizeof e);
	assert_true(st_detector_new("/nonexistent-sealtrace-data", &d2, &e) < 0);
	assert_null(d2);
	assert_non_null(strstr(e.msg, "/nonexistent-sealtrace-data"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(card_needs_luhn_one_digit_off_is_refused),
		cmocka_unit_test(iban_needs_mod97_and_country_length),
		cmocka_unit_test(ssn_follows_area_group_serial_rules),
		cmocka_unit_test(ipv4_refuses_octets_over_255_and_versions),
		cmocka_unit_test(uuid_and_git_hash_are_not_secrets),
		cmocka_unit_test(jwt_needs_alg_in_header),
		cmocka_unit_test(matches_are_sorted_and_inside_the_text),
		cmocka_unit_test(over_candidate_cap_fails_closed),
		cmocka_unit_test(over_match_cap_fails_closed),
		cmocka_unit_test(acronym_keywords_match_their_case_only),
		cmocka_unit_test(validators_give_known_answers),
		cmocka_unit_test(entropy_rule_tells_tokens_from_identifiers),
		cmocka_unit_test(error_messages_never_hold_matched_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
