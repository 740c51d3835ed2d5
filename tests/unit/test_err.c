/* test_err.c - the error space: ranges map to distinct names, messages. */
#include "helpers.h"

#include <errno.h>

static void errno_range_uses_strerror(void **s)
{
	(void)s;
	assert_string_equal(st_strerror(-ENOENT), strerror(ENOENT));
	assert_int_equal(st_errno(ENOENT), -ENOENT);
	assert_int_equal(st_errno(0), ST_E_INVAL);
}

static void every_own_code_has_a_distinct_name(void **s)
{
	(void)s;
	for (int c = ST_E_INVAL; c >= ST_E_OWN_LAST; c--) {
		const char *n = st_strerror(c);
		assert_non_null(n);
		assert_string_not_equal(n, "unknown sealtrace error");
		for (int d = c - 1; d >= ST_E_OWN_LAST; d--)
			assert_string_not_equal(n, st_strerror(d));
	}
	assert_string_equal(st_strerror(ST_E_SQLITE_BASE - 5), "database error");
	assert_string_equal(st_strerror(ST_E_CURL_BASE - 7), "HTTP client error");
}

static void every_own_code_has_a_distinct_id_that_maps_back(void **s)
{
	(void)s;
	for (int c = ST_E_INVAL; c >= ST_E_OWN_LAST; c--) {
		const char *id = st_err_id(c);
		assert_string_not_equal(id, "unknown");
		for (const char *p = id; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_' ||
				    (*p >= '0' && *p <= '9'));
		assert_int_equal(st_err_from_id(id), c);
	}
	assert_string_equal(st_err_id(-ENOENT), "errno_2");
	assert_int_equal(st_err_from_id("errno_2"), -ENOENT);
	assert_string_equal(st_err_id(ST_E_SQLITE_BASE - 5), "sqlite_5");
	assert_int_equal(st_err_from_id("no_such_id"), 0);
	assert_int_equal(st_err_from_id(NULL), 0);
}

static void fail_records_code_and_message(void **s)
{
	(void)s;
	struct st_error e = {0};
	assert_int_equal(st_fail(&e, ST_E_TRUNCATED, "segment %d: at %d", 42, 7),
			 ST_E_TRUNCATED);
	assert_int_equal(e.code, ST_E_TRUNCATED);
	assert_string_equal(e.msg, "segment 42: at 7");
	st_error_prefix(&e, "spool/%s: ", "a.seg");
	assert_string_equal(e.msg, "spool/a.seg: segment 42: at 7");
	assert_int_equal(st_fail(NULL, ST_E_CAP, "x"), ST_E_CAP);
}

static void long_prefix_is_cut_not_overrun(void **s)
{
	(void)s;
	struct st_error e = {0};
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	st_fail(&e, ST_E_INVAL, "%s", big);
	st_error_prefix(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ST_ERROR_MSG_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(errno_range_uses_strerror),
		cmocka_unit_test(every_own_code_has_a_distinct_name),
		cmocka_unit_test(every_own_code_has_a_distinct_id_that_maps_back),
		cmocka_unit_test(fail_records_code_and_message),
		cmocka_unit_test(long_prefix_is_cut_not_overrun),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
