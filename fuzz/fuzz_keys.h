/* fuzz_keys.h - owns the fixed device and person key pairs that fuzz_open and
 * mkseeds share, derived from fixed seeds (header-only, fuzzing only).
 * Never use these keys for anything else: their seeds are in this file. */
#ifndef ST_FUZZ_KEYS_H
#define ST_FUZZ_KEYS_H

#include <sodium.h>
#include <stdint.h>

#include "core/keys.h"

/* The secret halves sit in plain arrays on purpose: they are public test
 * keys, and keeping them out of sodium_malloc keeps them visible to ASan. */
struct fuzz_keys {
	uint8_t device_pk[ST_SIGN_PK_LEN];
	uint8_t device_sk[ST_SIGN_SK_LEN];
	uint8_t person_pk[ST_BOX_PK_LEN];
	uint8_t person_sk[ST_BOX_SK_LEN];
};

/* Seeds are a byte pattern rather than a string so that each is exactly
 * crypto_*_SEEDBYTES long. Changing them invalidates fuzz/corpus/open/: rerun
 * mkseeds (ninja -C build-fuzz fuzz-seeds). */
static inline void fuzz_seed(uint8_t *seed, size_t len, uint8_t base)
{
	for (size_t i = 0; i < len; i++)
		seed[i] = (uint8_t)(base + i * 7u);
}

/* 0, or -1 when libsodium cannot start. */
static inline int fuzz_keys_derive(struct fuzz_keys *k)
{
	uint8_t dseed[crypto_sign_SEEDBYTES], pseed[crypto_box_SEEDBYTES];

	if (sodium_init() < 0)
		return -1;
	fuzz_seed(dseed, sizeof dseed, 0x5e);
	fuzz_seed(pseed, sizeof pseed, 0xa1);
	if (crypto_sign_seed_keypair(k->device_pk, k->device_sk, dseed) != 0 ||
	    crypto_box_seed_keypair(k->person_pk, k->person_sk, pseed) != 0)
		return -1;
	return 0;
}

#endif
