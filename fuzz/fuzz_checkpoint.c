/* fuzz_checkpoint.c - libFuzzer target for a checkpoint file a user kept
 * off the host and hands to `audit verify`: st_audit_checkpoint_parse on
 * any bytes. Properties: no crash or leak; a refusal has a code and a
 * message naming a line or the cap; a text that parses formats back to
 * exactly its own bytes (plus the final newline when it lacked one) and
 * re-parses to the same struct; verification against the fuzz key never
 * crashes, and a checkpoint it accepts signs again to the same signature.
 *
 * The fuzz audit key is derived from FUZZ_CHECKPOINT_SEED below, so the
 * seeds in fuzz/corpus/checkpoint/ (signed with it) stay valid and
 * mutations reach the signature check. Never use this key for anything
 * else: its seed is in this file. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "fuzz_check.h"

#define FUZZ_CHECKPOINT_SEED 0x5a

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	uint8_t seed[crypto_sign_SEEDBYTES];
	for (size_t i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)(FUZZ_CHECKPOINT_SEED + i * 3u);
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

static int same(const struct st_audit_checkpoint *a,
		const struct st_audit_checkpoint *b)
{
	return a->size == b->size && a->time_s == b->time_s &&
	       memcmp(a->root, b->root, sizeof a->root) == 0 &&
	       memcmp(a->key_id, b->key_id, sizeof a->key_id) == 0 &&
	       memcmp(a->sig, b->sig, sizeof a->sig) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * ST_AUDIT_CHECKPOINT_TEXT_MAX)
		return 0;
	/* a private copy, so that a read past size is caught by ASan */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	struct st_audit_checkpoint cp;
	struct st_error e = {0};
	int rc = st_audit_checkpoint_parse(text, size, &cp, &e);
	if (rc != 0) {
		free(text);
		if (e.code != rc || e.msg[0] == 0)
			fuzz_die("a refusal without a code and message", &e);
		if (!strstr(e.msg, "line") && rc != ST_E_CAP)
			fuzz_die("a refusal that names no line", &e);
		return 0;
	}
	char out[ST_AUDIT_CHECKPOINT_BUF];
	size_t n = 0;
	if (st_audit_checkpoint_format(&cp, out, sizeof out, &n, &e) != 0)
		fuzz_die("a parsed checkpoint does not format", &e);
	int final_nl = size && text[size - 1] == '\n';
	if (n != size + (final_nl ? 0 : 1) || memcmp(out, text, size) != 0)
		fuzz_die("a parsed checkpoint formats to other bytes", NULL);
	free(text);
	struct st_audit_checkpoint again;
	if (st_audit_checkpoint_parse(out, n, &again, &e) != 0)
		fuzz_die("a formatted checkpoint does not parse", &e);
	if (!same(&cp, &again))
		fuzz_die("format and parse do not give the same checkpoint", NULL);
	if (st_audit_checkpoint_verify(&cp, pk, &e) == 0) {
		/* Ed25519 is deterministic: only the fuzz key's own signature
		 * over exactly these fields verifies */
		struct st_audit_checkpoint re = cp;
		if (st_audit_checkpoint_sign(&re, sk, pk, &e) != 0)
			fuzz_die("an accepted checkpoint does not sign again", &e);
		if (!same(&cp, &re))
			fuzz_die("an accepted checkpoint signs to another "
				 "signature", NULL);
	} else if (e.code != ST_E_SIGNATURE) {
		fuzz_die("a refused signature without ST_E_SIGNATURE", &e);
	}
	return 0;
}
