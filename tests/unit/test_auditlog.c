/* test_auditlog.c - the server's audit log writer on a real SQLite store:
 * appends chain and commit with the store's transaction, an abort forgets
 * the appended leaves, a reopened log rebuilds the same tree, checkpoints
 * are signed with the audit key and made only when due, proofs verify, and
 * a log edited behind the server's back opens with the break noted. */
#include "helpers.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/audit.h"
#include "core/keys.h"
#include "core/mem.h"
#include "server/auditlog.h"
#include "server/store.h"

struct fx {
	char dir[64], db[128], key[128], pub[128];
	uint8_t pk[32];
	struct st_store *s;
	struct st_auditlog *l;
};

static struct st_auditlog_cfg cfg(struct fx *f, uint32_t every)
{
	struct st_auditlog_cfg c = {f->key, f->pub, every, 600};
	return c;
}

static void open_all(struct fx *f, uint32_t every)
{
	struct st_error e = {0};
	struct st_store_cfg sc = {.path = f->db};
	if (st_store_open(&st_store_sqlite, &sc, &f->s, &e) < 0)
		fail_msg("store: %s", e.msg);
	struct st_auditlog_cfg c = cfg(f, every);
	if (st_auditlog_open(&c, f->s, 1000, &f->l, &e) < 0)
		fail_msg("auditlog: %s", e.msg);
}

static void close_all(struct fx *f)
{
	st_auditlog_free(f->l);
	st_store_close(f->s);
	f->l = NULL;
	f->s = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/st-auditlog-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/st.db", f->dir);
	snprintf(f->key, sizeof f->key, "%s/audit.key", f->dir);
	snprintf(f->pub, sizeof f->pub, "%s/audit.pub", f->dir);
	uint8_t *sk = st_secret_new(ST_SIGN_SK_LEN);
	struct st_error e = {0};
	if (!sk || st_sign_keypair(f->pk, sk) < 0 ||
	    st_key_write(f->key, ST_KEY_AUDIT_SECRET, sk, 64, true, &e) < 0 ||
	    st_key_write(f->pub, ST_KEY_AUDIT_PUBLIC, f->pk, 32, false, &e) <
		    0)
		return -1;
	st_secret_free(sk);
	open_all(f, 5);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close_all(f);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void append(struct fx *f, unsigned i, bool commit)
{
	struct st_error e = {0};
	struct st_store_audit x;
	memset(&x, 0, sizeof x);
	x.time_s = 1000 + i;
	snprintf(x.actor, sizeof x.actor, "p-%016x", i);
	snprintf(x.role, sizeof x.role, "officer");
	snprintf(x.action, sizeof x.action, "purpose.approve");
	snprintf(x.object, sizeof x.object, "purpose:%u", i);
	snprintf(x.result, sizeof x.result, "ok");
	assert_int_equal(st_store_begin(f->s, &e), 0);
	if (st_auditlog_append(f->l, f->s, &x, &e) < 0)
		fail_msg("append: %s", e.msg);
	if (commit) {
		assert_int_equal(st_store_commit(f->s, &e), 0);
		st_auditlog_commit(f->l);
	} else {
		assert_int_equal(st_store_rollback(f->s, &e), 0);
		st_auditlog_abort(f->l);
	}
}

/* The whole stored log, checked by the audit module's verifier. */
static int verify_stored(struct fx *f, uint8_t root[32], uint64_t *n)
{
	struct st_audit_entry *v = calloc(1000, sizeof *v);
	size_t got = 0;
	struct st_error e = {0};
	/* read with the sqlite3 library, not the store: what is on disk */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time_s, actor, "
					    "role, action, object, purpose, "
					    "result, prev, hash FROM audit "
					    "ORDER BY seq",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && got < 1000) {
		struct st_audit_entry *x = &v[got++];
		memset(x, 0, sizeof *x);
		x->seq = (uint64_t)sqlite3_column_int64(st, 0);
		x->time_s = sqlite3_column_int64(st, 1);
		snprintf(x->actor, sizeof x->actor, "%s",
			 sqlite3_column_text(st, 2));
		snprintf(x->role, sizeof x->role, "%s",
			 sqlite3_column_text(st, 3));
		snprintf(x->action, sizeof x->action, "%s",
			 sqlite3_column_text(st, 4));
		snprintf(x->object, sizeof x->object, "%s",
			 sqlite3_column_text(st, 5));
		snprintf(x->purpose, sizeof x->purpose, "%s",
			 sqlite3_column_text(st, 6));
		snprintf(x->result, sizeof x->result, "%s",
			 sqlite3_column_text(st, 7));
		memcpy(x->prev, sqlite3_column_blob(st, 8), 32);
		memcpy(x->hash, sqlite3_column_blob(st, 9), 32);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	struct st_audit_verifier vf;
	assert_int_equal(st_audit_verifier_init(&vf, NULL, 0, &e), 0);
	int rc = st_audit_verifier_feed(&vf, v, got, &e);
	if (rc == 0)
		rc = st_audit_verifier_finish(&vf, root, &e);
	*n = got;
	free(v);
	return rc;
}

static void appends_chain_and_verify(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < 12; i++)
		append(f, i, true);
	assert_int_equal(st_auditlog_size(f->l), 12);
	uint8_t root[32];
	uint64_t n = 0;
	assert_int_equal(verify_stored(f, root, &n), 0);
	assert_int_equal(n, 12);
	/* the server's checkpoint has the same root, signed with its key */
	struct st_error e = {0};
	struct st_audit_checkpoint cp;
	bool made = false;
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 2000, true, &made,
						&cp, &e),
			 0);
	assert_true(made);
	assert_int_equal(cp.size, 12);
	assert_memory_equal(cp.root, root, 32);
	assert_int_equal(st_audit_checkpoint_verify(&cp, f->pk, &e), 0);
}

static void an_aborted_append_leaves_nothing(void **state)
{
	struct fx *f = *state;
	append(f, 1, true);
	append(f, 2, false);
	assert_int_equal(st_auditlog_size(f->l), 1);
	append(f, 3, true);
	uint8_t root[32];
	uint64_t n = 0;
	assert_int_equal(verify_stored(f, root, &n), 0);
	assert_int_equal(n, 2);
}

static int take_row(void *ctx, const struct st_store_audit *r)
{
	*(struct st_store_audit *)ctx = *r;
	return 0;
}

static void reopen_rebuilds_the_same_tree_and_proofs_verify(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < 9; i++)
		append(f, i, true);
	struct st_error e = {0};
	struct st_audit_checkpoint a, b;
	bool made;
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 2000, true, &made,
						&a, &e),
			 0);
	close_all(f);
	open_all(f, 5);
	assert_int_equal(st_auditlog_size(f->l), 9);
	assert_int_equal(st_auditlog_broken_at(f->l), 0);
	for (unsigned i = 9; i < 14; i++)
		append(f, i, true);
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 3000, true, &made,
						&b, &e),
			 0);
	assert_int_equal(b.size, 14);
	struct st_audit_proof p;
	assert_int_equal(st_auditlog_consistency(f->l, a.size, b.size, &p, &e),
			 0);
	assert_int_equal(st_audit_consistency_verify(a.size, b.size, a.root,
						     b.root, p.hashes, p.count,
						     &e),
			 0);
	/* inclusion of entry 4 in the newest tree, from the stored row */
	struct st_store_audit r;
	assert_int_equal(st_store_audit_list(f->s, 3, 1, NULL, take_row, &r,
					     &e),
			 0);
	assert_int_equal(r.seq, 4);
	struct st_audit_entry x;
	st_auditlog_to_entry(&r, &x);
	uint8_t leaf[32];
	assert_int_equal(st_audit_leaf_hash(&x, leaf, &e), 0);
	assert_int_equal(st_auditlog_inclusion(f->l, 4, 14, &p, &e), 0);
	assert_int_equal(st_audit_inclusion_verify(p.index, p.size, leaf,
						   p.hashes, p.count, b.root,
						   &e),
			 0);
	leaf[0] ^= 1; /* another entry's leaf is not included there */
	assert_int_equal(st_audit_inclusion_verify(p.index, p.size, leaf,
						   p.hashes, p.count, b.root,
						   &e),
			 ST_E_AUDIT);
	/* beyond the log: refused */
	assert_int_equal(st_auditlog_inclusion(f->l, 15, 15, &p, &e),
			 ST_E_NOT_FOUND);
}

static void checkpoints_only_when_due(void **state)
{
	struct fx *f = *state; /* every 5 entries or 600 s */
	struct st_error e = {0};
	bool made = true;
	/* an empty log: nothing to sign until forced */
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 1001, false, &made,
						NULL, &e),
			 0);
	assert_false(made);
	for (unsigned i = 0; i < 4; i++)
		append(f, i, true);
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 1002, false, &made,
						NULL, &e),
			 0);
	assert_false(made); /* 4 < 5 and 2 s < 600 s */
	append(f, 4, true);
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 1003, false, &made,
						NULL, &e),
			 0);
	assert_true(made); /* 5 new entries */
	append(f, 5, true);
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 1100, false, &made,
						NULL, &e),
			 0);
	assert_false(made);
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 1700, false, &made,
						NULL, &e),
			 0);
	assert_true(made); /* 600 s with a new entry */
	/* nothing new: not even when forced */
	assert_int_equal(st_auditlog_checkpoint(f->l, f->s, 9000, true, &made,
						NULL, &e),
			 0);
	assert_false(made);
}

static void an_edited_log_opens_with_the_break_noted(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < 6; i++)
		append(f, i, true);
	close_all(f);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE audit SET result = 'denied' "
					  "WHERE seq = 4",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	open_all(f, 5);
	assert_int_equal(st_auditlog_broken_at(f->l), 4);
	uint8_t root[32];
	uint64_t n;
	assert_int_equal(verify_stored(f, root, &n), ST_E_AUDIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(appends_chain_and_verify, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_aborted_append_leaves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			reopen_rebuilds_the_same_tree_and_proofs_verify, setup,
			teardown),
		cmocka_unit_test_setup_teardown(checkpoints_only_when_due, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_edited_log_opens_with_the_break_noted, setup,
			teardown),
	};
	if (st_crypto_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
