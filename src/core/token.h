/* token.h - owns the bearer secrets of the API: admin tokens and the
 * single-use enrollment tokens, their text form and the hash under which a
 * server keeps them. A server stores only hashes; the text is shown once.
 *
 * Admin token:       "sta_" + base64url(32 random bytes), 47 characters.
 * Enrollment token:  "ste1." + base64url(secret 32) + "." +
 *                    base64url(SHA-256 of the CA certificate, DER) + "." +
 *                    base64url(SHA-256 of the lease public key), 136
 *                    characters. The agent pins both fingerprints before it
 *                    sends the secret anywhere.
 * Hash: BLAKE2b-256 of the whole token text (admin) or of the 32-byte
 * secret (enrollment), with the key-less personalisation of the kind. */
#ifndef ST_TOKEN_H
#define ST_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_TOKEN_SECRET_LEN 32
#define ST_TOKEN_HASH_LEN 32
#define ST_TOKEN_FP_LEN 32
#define ST_ADMIN_TOKEN_LEN 47  /* characters, without the NUL */
#define ST_ENROLL_TOKEN_LEN 136
#define ST_TOKEN_TEXT_MAX 160  /* buffer for either, NUL included */

/* Makes a new admin token into out (ST_TOKEN_TEXT_MAX bytes) and its hash. */
int st_admin_token_new(char out[ST_TOKEN_TEXT_MAX],
		       uint8_t hash[ST_TOKEN_HASH_LEN]);
/* Hash of an admin token as presented; ST_E_AUTH when it is not shaped like
 * one (so a server answers the same for malformed and unknown tokens). */
int st_admin_token_hash(const char *text, uint8_t hash[ST_TOKEN_HASH_LEN],
			struct st_error *err);

/* Makes an enrollment token carrying the two fingerprints; hash is what
 * the server stores. */
int st_enroll_token_new(const uint8_t ca_fp[ST_TOKEN_FP_LEN],
			const uint8_t lease_fp[ST_TOKEN_FP_LEN],
			char out[ST_TOKEN_TEXT_MAX],
			uint8_t hash[ST_TOKEN_HASH_LEN]);
/* Splits an enrollment token. ST_E_TOKEN_INVALID names what is wrong. The
 * secret is written to secret (ST_TOKEN_SECRET_LEN bytes: the caller wipes
 * it). */
int st_enroll_token_parse(const char *text, uint8_t *secret,
			  uint8_t ca_fp[ST_TOKEN_FP_LEN],
			  uint8_t lease_fp[ST_TOKEN_FP_LEN],
			  struct st_error *err);
/* The stored hash of an enrollment secret. */
void st_enroll_secret_hash(const uint8_t *secret,
			   uint8_t hash[ST_TOKEN_HASH_LEN]);

/* SHA-256 fingerprint of bytes (a DER certificate, a public key). */
void st_fingerprint(const uint8_t *data, size_t len,
		    uint8_t fp[ST_TOKEN_FP_LEN]);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL included). */
void st_hex_encode(char *out, const uint8_t *b, size_t n);
/* Decodes exactly n bytes from 2n hex digits (NUL-terminated s; NULL is
 * refused); ST_E_INVAL for anything else. */
int st_hex_decode(uint8_t *out, size_t n, const char *s);

/* base64url without padding of len bytes into out (cap bytes, NUL
 * included); ST_E_CAP when it does not fit. */
int st_b64url(const uint8_t *data, size_t len, char *out, size_t cap);
/* Decodes exactly want bytes of base64url without padding; ST_E_INVAL when
 * the text is not that. */
int st_b64url_dec(const char *text, size_t text_len, uint8_t *out,
		  size_t want);

#endif
