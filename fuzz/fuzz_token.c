/* fuzz_token.c - libFuzzer target for what a server reads from a request's
 * credentials: enrollment tokens (st_enroll_token_parse), admin tokens
 * (st_admin_token_hash) and the three device-signature headers
 * (st_devreq_device, st_devreq_verify). Properties: no crash or leak; a
 * token that parses re-encodes to the same text; an accepted signature is
 * one that st_devreq_sign made for exactly those inputs. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/devreq.h"
#include "core/token.h"
#include "fuzz_check.h"

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	uint8_t seed[32] = {7};
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

/* Splits the input into up to 4 NUL-terminated parts at '\n'. */
static size_t split(const uint8_t *d, size_t n, char *buf, char **part)
{
	memcpy(buf, d, n);
	buf[n] = 0;
	size_t k = 0;
	part[k++] = buf;
	for (size_t i = 0; i < n && k < 4; i++)
		if (buf[i] == '\n') {
			buf[i] = 0;
			part[k++] = buf + i + 1;
		}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1), *part[4] = {0};
	size_t k = split(data, size, buf, part);
	struct st_error e = {0};

	uint8_t secret[32], ca[32], lease[32];
	if (st_enroll_token_parse(part[0], secret, ca, lease, &e) == 0) {
		/* same text back: rebuild it from the parts */
		char t[ST_TOKEN_TEXT_MAX], b[3][64];
		st_b64url(secret, 32, b[0], sizeof b[0]);
		st_b64url(ca, 32, b[1], sizeof b[1]);
		st_b64url(lease, 32, b[2], sizeof b[2]);
		snprintf(t, sizeof t, "ste1.%s.%s.%s", b[0], b[1], b[2]);
		if (strcmp(t, part[0]) != 0)
			fuzz_die("an enrollment token did not re-encode", NULL);
	} else if (e.code != ST_E_TOKEN_INVALID) {
		fuzz_die("a bad enrollment token gave another code", &e);
	}
	uint8_t h[32];
	if (st_admin_token_hash(part[0], h, &e) < 0 && e.code != ST_E_AUTH)
		fuzz_die("a bad admin token gave another code", &e);

	uint8_t dev[16];
	(void)st_devreq_device(part[0], dev, &e);
	if (k >= 3) {
		const char *body = k > 3 ? part[3] : "";
		int rc = st_devreq_verify(pk, "POST", part[0],
					  (const uint8_t *)body, strlen(body),
					  part[1], part[2], 1000, 300, &e);
		if (rc == 0) {
			/* only a real signature verifies: re-sign and compare */
			struct st_devreq_sig s;
			memset(dev, 0, sizeof dev);
			long long t = strtoll(part[1], NULL, 10);
			if (st_devreq_sign(dev, sk, "POST", part[0],
					   (const uint8_t *)body, strlen(body),
					   t, &s, &e) < 0 ||
			    strcmp(s.sig, part[2]) != 0)
				fuzz_die("a signature verified that signing did "
					 "not make", NULL);
		}
	}
	sodium_memzero(secret, sizeof secret);
	free(buf);
	return 0;
}
