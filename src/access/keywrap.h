/* keywrap.h - owns making a person's key pair the way DESIGN.md's "Key
 * custody" says: the X25519 secret exists only in locked memory, long
 * enough to be sealed to the master public key (crypto_box_seal), then is
 * wiped. What the server keeps: the public key and the sealed secret. */
#ifndef ST_KEYWRAP_H
#define ST_KEYWRAP_H

#include <stdint.h>

#include "core/err.h"

#define ST_KEYWRAP_SEALED_LEN 80 /* crypto_box_SEALBYTES + 32 */

int st_person_keys_new(const uint8_t master_pk[32], uint8_t pk[32],
		       uint8_t sealed[ST_KEYWRAP_SEALED_LEN],
		       struct st_error *err);

#endif
