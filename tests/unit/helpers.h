/* helpers.h - small shared test fixtures (header-only, tests only). */
#ifndef ST_TEST_HELPERS_H
#define ST_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"

/* Asserts rc == code and that the message contains word. */
#define assert_fails_with(rc, code, errp, word)                            \
	do {                                                               \
		assert_int_equal((rc), (code));                            \
		if (!strstr((errp)->msg, (word)))                          \
			fail_msg("message '%s' lacks '%s'", (errp)->msg,   \
				 (word));                                  \
	} while (0)

#endif
