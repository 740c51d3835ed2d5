/* mem.c - plain or sodium-locked allocation behind one pair of calls. */
#include "mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int st_crypto_init(void)
{
	return sodium_init() < 0 ? ST_E_CRYPTO_INIT : 0;
}

void *st_mem_realloc(void *p, size_t old, size_t new_size, bool locked)
{
	if (!locked)
		return realloc(p, new_size ? new_size : 1);
	if (sodium_init() < 0)
		return NULL;
	void *q = sodium_malloc(new_size ? new_size : 1);
	if (!q)
		return NULL;
	if (p) {
		memcpy(q, p, old < new_size ? old : new_size);
		sodium_free(p); /* zeroes before unmapping */
	}
	return q;
}

void st_mem_free(void *p, size_t size, bool locked)
{
	(void)size;
	if (!p)
		return;
	if (locked)
		sodium_free(p);
	else
		free(p);
}
