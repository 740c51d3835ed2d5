/* fuzz_lease.c - libFuzzer target for what an agent reads from the server's
 * control answer: st_lease_verify on any bytes. Properties: no crash or
 * leak; a lease accepted with the fuzz key signs again to exactly the same
 * bytes (sign and verify agree on what a lease is); a lease accepted under
 * one expectation is refused under another device, nonce or a higher
 * min_seq, each with its own code.
 *
 * The fuzz lease key is derived from a fixed seed below, so the seeds in
 * fuzz/corpus/lease/ (made by signing with it: see FUZZ_LEASE_SEED) stay
 * valid; Ed25519 is deterministic, so re-signing gives the same bytes.
 * Never use this key for anything else: its seed is in this file. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/lease.h"
#include "fuzz_check.h"

#define FUZZ_LEASE_SEED 0x3c

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	uint8_t seed[crypto_sign_SEEDBYTES];
	for (size_t i = 0; i < sizeof seed; i++)
		seed[i] = (uint8_t)(FUZZ_LEASE_SEED + i * 5u);
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * ST_LEASE_MAX)
		return 0;
	/* expect what the input names (so mutations reach the signature
	 * check), else fixed values; the signature is the gate */
	uint8_t dev[16] = {0}, nonce[16] = {0};
	if (size >= 80) {
		memcpy(dev, data + 8, 16);
		memcpy(nonce, data + 64, 16);
	}
	struct st_lease_expect x = {.server_pk = pk, .device_id = dev,
				    .nonce = nonce, .min_seq = 0};
	struct st_lease l;
	struct st_error e = {0};
	if (st_lease_verify(data, size, &x, &l, &e) != 0) {
		if (e.code == 0 || e.msg[0] == 0)
			fuzz_die("a refusal without a code and message", &e);
		return 0;
	}
	uint8_t again[ST_LEASE_MAX];
	size_t n = 0;
	if (st_lease_sign(&l, sk, again, sizeof again, &n, &e) != 0)
		fuzz_die("an accepted lease does not sign again", &e);
	if (n != size || memcmp(again, data, size) != 0)
		fuzz_die("an accepted lease signs again to other bytes", NULL);
	if (memcmp(l.device_id, dev, 16) || memcmp(l.nonce, nonce, 16))
		fuzz_die("accepted fields differ from the bytes", NULL);

	uint8_t other[16];
	memcpy(other, dev, 16);
	other[0] ^= 1;
	x.device_id = other;
	if (st_lease_verify(data, size, &x, NULL, &e) != ST_E_LEASE_DEVICE)
		fuzz_die("a lease for another device was not refused as such", &e);
	x.device_id = dev;
	memcpy(other, nonce, 16);
	other[15] ^= 0x80;
	x.nonce = other;
	if (st_lease_verify(data, size, &x, NULL, &e) != ST_E_LEASE_REPLAY)
		fuzz_die("a lease with another nonce was not refused as such", &e);
	x.nonce = nonce;
	if (l.seq < UINT64_MAX) {
		x.min_seq = l.seq + 1;
		if (st_lease_verify(data, size, &x, NULL, &e) != ST_E_LEASE_OLD)
			fuzz_die("an old lease was not refused as such", &e);
	}
	return 0;
}
