/* db_helpers.h - what the store and ingest tests share (header-only, tests
 * only): removing a test folder, and reading the database file behind the
 * store's back. */
#ifndef ST_TEST_DB_HELPERS_H
#define ST_TEST_DB_HELPERS_H

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

/* nftw callback: remove one entry (FTW_DEPTH makes folders come last). */
static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

/* Runs one query on the database file and gives its first column. */
static long long raw_int(const char *db, const char *q)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h, q, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", q, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

#endif
