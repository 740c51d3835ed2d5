/* keywrap.c - a person's key pair, sealed to the master at birth. */
#include "access/keywrap.h"

#include <sodium.h>

#include "core/keys.h"

_Static_assert(ST_KEYWRAP_SEALED_LEN == crypto_box_SEALBYTES + ST_BOX_SK_LEN,
	       "a sealed person secret is the secret and the seal's overhead");

int st_person_keys_new(const uint8_t master_pk[32], uint8_t pk[32],
		       uint8_t sealed[ST_KEYWRAP_SEALED_LEN],
		       struct st_error *err)
{
	uint8_t *sk = st_secret_new(ST_BOX_SK_LEN);
	if (!sk)
		return st_fail(err, ST_E_NOMEM,
			       "person key: no locked memory; retry");
	int rc = st_box_keypair(pk, sk);
	if (rc == 0 && crypto_box_seal(sealed, sk, ST_BOX_SK_LEN, master_pk) !=
			       0)
		rc = ST_E_CRYPTO_INIT;
	st_secret_free(sk);
	if (rc < 0)
		return st_fail(err, rc,
			       "person key: could not make or seal it");
	return 0;
}
