/* mem.h - owns allocation of buffers that may hold secrets or plaintext.
 * Locked buffers come from sodium_malloc (guard pages, mlock, wiped on free);
 * never use plain free() on them. */
#ifndef ST_MEM_H
#define ST_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Grows (or allocates, when p is NULL) a buffer from old to new bytes,
 * keeping the first min(old,new) bytes. Returns NULL on failure and leaves p
 * untouched. Locked buffers are moved and the old copy wiped. */
void *st_mem_realloc(void *p, size_t old, size_t new_size, bool locked);
/* Frees p; locked buffers are wiped first (by sodium_free). */
void st_mem_free(void *p, size_t size, bool locked);
/* Initialises libsodium once; 0 or ST_E_CRYPTO_INIT. */
int st_crypto_init(void);

#endif
