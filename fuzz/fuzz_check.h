/* fuzz_check.h - owns how a fuzz target reports a broken property: print what
 * broke to stderr and abort, so libFuzzer saves the input (header-only).
 * Never used outside fuzz/: library code returns errors, it does not abort. */
#ifndef ST_FUZZ_CHECK_H
#define ST_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"

/* A target's own entry points; libFuzzer declares them nowhere we include. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static inline void
fuzz_die(const char *what, const struct st_error *err)
{
	if (err && err->code)
		fprintf(stderr, "fuzz: %s: %s (%s)\n", what, err->msg,
			st_strerror(err->code));
	else
		fprintf(stderr, "fuzz: %s\n", what);
	abort();
}

#endif
