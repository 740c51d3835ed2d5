/* token.c - admin and enrollment tokens: text form and stored hash. */
#include "token.h"

#include <sodium.h>
#include <string.h>

#define B64V sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define ADMIN_PREFIX "sta_"
#define ENROLL_PREFIX "ste1."
#define B64_32 43 /* characters of base64url(32 bytes) */

static const char admin_ctx[] = "sealtrace admin token v1";
static const char enroll_ctx[] = "sealtrace enroll token v1";

void st_hex_encode(char *out, const uint8_t *b, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

int st_hex_decode(uint8_t *out, size_t n, const char *s)
{
	size_t got = 0;
	if (!s || strlen(s) != 2 * n ||
	    sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL) != 0 ||
	    got != n)
		return ST_E_INVAL;
	return 0;
}

int st_b64url(const uint8_t *data, size_t len, char *out, size_t cap)
{
	if (sodium_base64_encoded_len(len, B64V) > cap)
		return ST_E_CAP;
	sodium_bin2base64(out, cap, data, len, B64V);
	return 0;
}

int st_b64url_dec(const char *text, size_t text_len, uint8_t *out,
		  size_t want)
{
	/* libsodium 1.0.18 lets some bytes outside the alphabet through
	 * (0xff): check the alphabet first. */
	for (size_t i = 0; i < text_len; i++) {
		char c = text[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return ST_E_INVAL;
	}
	size_t got = 0;
	const char *end = NULL;
	if (sodium_base642bin(out, want, text, text_len, NULL, &got, &end,
			      B64V) != 0 ||
	    got != want || end != text + text_len)
		return ST_E_INVAL;
	return 0;
}

static void keyed_hash(const char *ctx, const void *data, size_t len,
		       uint8_t hash[ST_TOKEN_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, ST_TOKEN_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)ctx, strlen(ctx) + 1);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, hash, ST_TOKEN_HASH_LEN);
}

int st_admin_token_new(char out[ST_TOKEN_TEXT_MAX],
		       uint8_t hash[ST_TOKEN_HASH_LEN])
{
	uint8_t secret[ST_TOKEN_SECRET_LEN];
	randombytes_buf(secret, sizeof secret);
	memcpy(out, ADMIN_PREFIX, sizeof ADMIN_PREFIX - 1);
	int rc = st_b64url(secret, sizeof secret, out + sizeof ADMIN_PREFIX - 1,
			   ST_TOKEN_TEXT_MAX - (sizeof ADMIN_PREFIX - 1));
	sodium_memzero(secret, sizeof secret);
	if (rc < 0)
		return rc;
	keyed_hash(admin_ctx, out, strlen(out), hash);
	return 0;
}

int st_admin_token_hash(const char *text, uint8_t hash[ST_TOKEN_HASH_LEN],
			struct st_error *err)
{
	uint8_t tmp[ST_TOKEN_SECRET_LEN];
	if (!text || strlen(text) != ST_ADMIN_TOKEN_LEN ||
	    strncmp(text, ADMIN_PREFIX, sizeof ADMIN_PREFIX - 1) != 0 ||
	    st_b64url_dec(text + sizeof ADMIN_PREFIX - 1, B64_32, tmp,
			  sizeof tmp) < 0)
		return st_fail(err, ST_E_AUTH,
			       "API token: not an admin token (\"sta_\" and 43 "
			       "characters); give the token `sealtrace init` "
			       "or `sealtrace token create` printed");
	sodium_memzero(tmp, sizeof tmp);
	keyed_hash(admin_ctx, text, strlen(text), hash);
	return 0;
}

void st_enroll_secret_hash(const uint8_t *secret,
			   uint8_t hash[ST_TOKEN_HASH_LEN])
{
	keyed_hash(enroll_ctx, secret, ST_TOKEN_SECRET_LEN, hash);
}

int st_enroll_token_new(const uint8_t ca_fp[ST_TOKEN_FP_LEN],
			const uint8_t lease_fp[ST_TOKEN_FP_LEN],
			char out[ST_TOKEN_TEXT_MAX],
			uint8_t hash[ST_TOKEN_HASH_LEN])
{
	uint8_t secret[ST_TOKEN_SECRET_LEN];
	randombytes_buf(secret, sizeof secret);
	char *p = out;
	memcpy(p, ENROLL_PREFIX, sizeof ENROLL_PREFIX - 1);
	p += sizeof ENROLL_PREFIX - 1;
	const uint8_t *parts[3] = {secret, ca_fp, lease_fp};
	for (int i = 0; i < 3; i++) {
		if (i) *p++ = '.';
		st_b64url(parts[i], 32, p, B64_32 + 1);
		p += B64_32;
	}
	*p = 0;
	st_enroll_secret_hash(secret, hash);
	sodium_memzero(secret, sizeof secret);
	return 0;
}

int st_enroll_token_parse(const char *text, uint8_t *secret,
			  uint8_t ca_fp[ST_TOKEN_FP_LEN],
			  uint8_t lease_fp[ST_TOKEN_FP_LEN],
			  struct st_error *err)
{
	const size_t pre = sizeof ENROLL_PREFIX - 1;
	if (!text || strlen(text) != ST_ENROLL_TOKEN_LEN ||
	    strncmp(text, ENROLL_PREFIX, pre) != 0 ||
	    text[pre + B64_32] != '.' || text[pre + 2 * B64_32 + 1] != '.')
		return st_fail(err, ST_E_TOKEN_INVALID,
			       "enrollment token: not one (\"ste1.\" and three "
			       "parts, %d characters); copy the whole token "
			       "`sealtrace enroll-token` printed",
			       ST_ENROLL_TOKEN_LEN);
	uint8_t *outs[3] = {secret, ca_fp, lease_fp};
	static const char *const names[3] = {"secret", "CA fingerprint",
					     "lease key fingerprint"};
	for (int i = 0; i < 3; i++)
		if (st_b64url_dec(text + pre + (size_t)i * (B64_32 + 1), B64_32,
				  outs[i], 32) < 0) {
			sodium_memzero(secret, ST_TOKEN_SECRET_LEN);
			return st_fail(err, ST_E_TOKEN_INVALID,
				       "enrollment token: its %s part is not "
				       "base64url; copy the whole token",
				       names[i]);
		}
	return 0;
}

void st_fingerprint(const uint8_t *data, size_t len,
		    uint8_t fp[ST_TOKEN_FP_LEN])
{
	crypto_hash_sha256(fp, data, len);
}
