/* test_store.c - the store front and its SQLite backend on real database
 * files: migrations from an empty file and idempotent re-opens, every row
 * type, exactly-once segment puts, transaction rules, and the fault seam
 * failing every call of a group commit (all of the batch or nothing). */
#include "helpers.h"
#include "db_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "core/clock.h"
#include "server/store.h"

/* ---- fixture: a fresh folder and database per test ---- */

struct fx {
	char dir[256];
	char db[PATH_MAX];
	struct st_store *s;
	struct st_manual_clock mc;
	struct st_clock clock;
};

static struct st_store_cfg cfg_of(struct fx *f)
{
	return (struct st_store_cfg){.path = f->db, .clock = &f->clock};
}

static void reopen(struct fx *f)
{
	st_store_close(f->s);
	f->s = NULL;
	struct st_store_cfg c = cfg_of(f);
	struct st_error e = {0};
	if (st_store_open(&st_store_sqlite, &c, &f->s, &e) < 0)
		fail_msg("open: %s", e.msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/st-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/sealtrace.db", f->dir);
	f->mc.wall = 1790000000ull * 1000000000ull;
	st_clock_manual(&f->clock, &f->mc);
	reopen(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	st_store_close(f->s);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void raw_exec(const char *db, const char *q)
{
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(h, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(h);
}

static void id_of(uint8_t id[16], uint8_t tag)
{
	memset(id, tag, 16);
}

static void add_person(struct fx *f, uint8_t tag, const char *name)
{
	struct st_person p = {0};
	id_of(p.id, tag);
	snprintf(p.name, sizeof p.name, "%s", name);
	snprintf(p.group, sizeof p.group, "research");
	memset(p.public_key, tag ^ 0x55, 32);
	memset(p.sealed_secret, tag ^ 0xaa, sizeof p.sealed_secret);
	p.created_s = 100;
	struct st_error e = {0};
	if (st_store_person_add(f->s, &p, &e) < 0)
		fail_msg("person add: %s", e.msg);
}

static void add_device(struct fx *f, uint8_t tag, uint8_t person)
{
	struct st_device d = {0};
	id_of(d.id, tag);
	id_of(d.person_id, person);
	memset(d.public_key, tag ^ 0x33, 32);
	d.active = true;
	d.enrolled_s = 200;
	struct st_error e = {0};
	if (st_store_device_add(f->s, &d, &e) < 0)
		fail_msg("device add: %s", e.msg);
}

static const uint8_t NOTICE[] = "You are recorded: pointer only.\n";

static void notice_hash(uint8_t nh[32])
{
	crypto_hash_sha256(nh, NOTICE, sizeof NOTICE - 1);
}

static void add_policy(struct fx *f)
{
	struct st_store_policy p = {0};
	memset(p.hash, 0x77, 32);
	notice_hash(p.notice_hash);
	p.json = "{\"version\":1}";
	p.json_len = strlen(p.json);
	p.notice = NOTICE;
	p.notice_len = sizeof NOTICE - 1;
	p.created_s = 300;
	struct st_error e = {0};
	if (st_store_policy_put(f->s, &p, &e) < 0)
		fail_msg("policy put: %s", e.msg);
}

/* A segment record with a header whose ids agree with the columns (the
 * store neither verifies nor opens: these bytes need not be sealed). */
struct fake_seg {
	uint8_t header[ST_STORE_HEADER_LEN];
	uint8_t body[64];
	struct st_store_segment g;
};

static void fake(struct fake_seg *s, uint8_t dev, uint8_t person,
		 uint64_t seq, uint8_t fill)
{
	memset(s, 0, sizeof *s);
	memcpy(s->header, "STSG", 4);
	memset(s->header + 8, dev, 16);
	memset(s->header + 24, person, 16);
	for (int i = 0; i < 8; i++)
		s->header[40 + i] = (uint8_t)(seq >> (8 * i));
	notice_hash(s->header + 64);
	memset(s->header + 244, fill, 64); /* a "signature" */
	memset(s->body, fill, sizeof s->body);
	id_of(s->g.device_id, dev);
	id_of(s->g.person_id, person);
	s->g.seq = seq;
	s->g.lease_seq = 1;
	s->g.t_start_min = 1000;
	s->g.t_end_min = 1001;
	s->g.level = 2;
	s->g.kinds = 0x8;
	notice_hash(s->g.notice_hash);
	s->g.received_s = 500 + (int64_t)seq;
	s->g.header = s->header;
	s->g.body = s->body;
	s->g.body_len = sizeof s->body;
}

static uint64_t count(struct fx *f, const uint8_t *dev)
{
	uint64_t n = 99;
	struct st_error e = {0};
	if (st_store_segment_count(f->s, dev, &n, &e) < 0)
		fail_msg("count: %s", e.msg);
	return n;
}

/* the usual world: person 1 with device 0xd1, person 2 with 0xd2 */
static void world(struct fx *f)
{
	add_person(f, 1, "ann@example.com");
	add_person(f, 2, "ben@example.com");
	add_device(f, 0xd1, 1);
	add_device(f, 0xd2, 2);
	add_policy(f);
}

/* ---- migrations ---- */

static void migrates_an_empty_file_and_reopens_idempotently(void **state)
{
	struct fx *f = *state;
	/* an existing empty file (as `init` might leave one) migrates too */
	st_store_close(f->s);
	f->s = NULL;
	unlink(f->db);
	int fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	reopen(f);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT max(version) FROM "
					"schema_version"),
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM schema_version"),
			 1790000000);
	world(f);
	long long tables = raw_int(f->db, "SELECT count(*) FROM sqlite_schema "
					  "WHERE type = 'table'");
	assert_int_equal(tables, 7);
	/* re-open: nothing re-applied, nothing lost */
	f->mc.wall += 3600ull * 1000000000ull;
	for (int i = 0; i < 3; i++)
		reopen(f);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM schema_version"),
			 1790000000);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema "
					"WHERE type = 'table'"),
			 tables);
	struct st_person p;
	uint8_t id[16];
	id_of(id, 1);
	assert_int_equal(st_store_person_get(f->s, id, &p, NULL), 0);
	assert_string_equal(p.name, "ann@example.com");
	/* WAL (file format bytes 18-19 are 2), and the files are the
	 * owner's alone */
	uint8_t hdr[20];
	int rfd = open(f->db, O_RDONLY);
	assert_int_equal(read(rfd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	close(rfd);
	assert_int_equal(hdr[18], 2);
	assert_int_equal(hdr[19], 2);
	struct stat sb;
	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", f->db);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void refuses_a_newer_schema(void **state)
{
	struct fx *f = *state;
	st_store_close(f->s);
	f->s = NULL;
	raw_exec(f->db, "INSERT INTO schema_version VALUES (99, 0)");
	struct st_store_cfg c = cfg_of(f);
	struct st_error e = {0};
	struct st_store *s = (struct st_store *)1;
	assert_fails_with(st_store_open(&st_store_sqlite, &c, &s, &e),
			  ST_E_VERSION, &e, "upgrade sealtrace");
	assert_null(s);
}

static void refuses_a_file_others_can_read(void **state)
{
	struct fx *f = *state;
	st_store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(f->db, 0644), 0);
	struct st_store_cfg c = cfg_of(f);
	struct st_error e = {0};
	struct st_store *s = NULL;
	assert_fails_with(st_store_open(&st_store_sqlite, &c, &s, &e),
			  ST_E_KEY_MODE, &e, "chmod 600");
	assert_null(s);
}

static void refuses_a_file_that_is_not_a_database(void **state)
{
	struct fx *f = *state;
	st_store_close(f->s);
	f->s = NULL;
	unlink(f->db);
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", f->db);
	unlink(wal);
	int fd = open(f->db, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 'x', sizeof junk);
	assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	struct st_store_cfg c = cfg_of(f);
	struct st_error e = {0};
	struct st_store *s = NULL;
	int rc = st_store_open(&st_store_sqlite, &c, &s, &e);
	assert_int_equal(rc, ST_E_SQLITE_BASE - SQLITE_NOTADB);
	assert_non_null(strstr(e.msg, "backup"));
	assert_string_equal(st_strerror(rc), "database error");
}

/* ---- rows ---- */

static int collect_people(void *ctx, const struct st_person *p)
{
	char *names = ctx;
	strcat(names, p->name);
	strcat(names, ";");
	return 0;
}

static void people_add_get_list(void **state)
{
	struct fx *f = *state;
	add_person(f, 3, "cy@example.com");
	add_person(f, 1, "ann@example.com");
	add_person(f, 2, "ben@example.com");
	struct st_person p;
	struct st_error e = {0};
	uint8_t id[16];
	id_of(id, 2);
	assert_int_equal(st_store_person_get(f->s, id, &p, &e), 0);
	assert_string_equal(p.name, "ben@example.com");
	assert_string_equal(p.group, "research");
	assert_false(p.erased);
	assert_int_equal(p.sealed_secret[0], 2 ^ 0xaa);
	id_of(id, 9);
	assert_fails_with(st_store_person_get(f->s, id, &p, &e), ST_E_NOT_FOUND,
			  &e, "not found");
	/* same id, same name: refused */
	struct st_person q = {0};
	id_of(q.id, 1);
	strcpy(q.name, "other@example.com");
	assert_fails_with(st_store_person_add(f->s, &q, &e), ST_E_EXISTS, &e,
			  "already");
	id_of(q.id, 4);
	strcpy(q.name, "ann@example.com");
	assert_fails_with(st_store_person_add(f->s, &q, &e), ST_E_EXISTS, &e,
			  "already");
	q.name[0] = 0;
	assert_fails_with(st_store_person_add(f->s, &q, &e), ST_E_INVAL, &e,
			  "name");
	/* list in id order, paged */
	char names[512] = "";
	assert_int_equal(st_store_person_list(f->s, NULL, 2, collect_people,
					      names, &e),
			 0);
	assert_string_equal(names, "ann@example.com;ben@example.com;");
	names[0] = 0;
	id_of(id, 2);
	assert_int_equal(st_store_person_list(f->s, id, 10, collect_people,
					      names, &e),
			 0);
	assert_string_equal(names, "cy@example.com;");
	assert_fails_with(st_store_person_list(f->s, NULL, 0, collect_people,
					       names, &e),
			  ST_E_INVAL, &e, "limit");
}

static void devices_add_get_revoke_touch(void **state)
{
	struct fx *f = *state;
	add_person(f, 1, "ann@example.com");
	add_device(f, 0xd1, 1);
	struct st_error e = {0};
	/* a device of nobody */
	struct st_device d = {0};
	id_of(d.id, 0xd9);
	id_of(d.person_id, 9);
	memset(d.public_key, 0x99, 32);
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_NOT_FOUND,
			  &e, "missing");
	/* a key already enrolled */
	id_of(d.person_id, 1);
	memset(d.public_key, 0xd1 ^ 0x33, 32);
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_EXISTS, &e,
			  "already");
	uint8_t id[16];
	id_of(id, 0xd1);
	assert_int_equal(st_store_device_get(f->s, id, &d, &e), 0);
	assert_true(d.active);
	assert_int_equal(d.enrolled_s, 200);
	assert_int_equal(d.last_seen_s, 0);
	assert_int_equal(st_store_device_touch(f->s, id, 900, &e), 0);
	assert_int_equal(st_store_device_touch(f->s, id, 800, &e), 0);
	assert_int_equal(st_store_device_set_active(f->s, id, false, &e), 0);
	assert_int_equal(st_store_device_get(f->s, id, &d, &e), 0);
	assert_false(d.active);
	assert_int_equal(d.last_seen_s, 900); /* never goes back */
	id_of(id, 0xd9);
	assert_fails_with(st_store_device_set_active(f->s, id, true, &e),
			  ST_E_NOT_FOUND, &e, "not found");
	assert_fails_with(st_store_device_touch(f->s, id, 1, &e),
			  ST_E_NOT_FOUND, &e, "not found");
	assert_fails_with(st_store_device_get(f->s, id, &d, &e),
			  ST_E_NOT_FOUND, &e, "not found");
}

static void policies_by_notice_hash(void **state)
{
	struct fx *f = *state;
	add_policy(f);
	add_policy(f); /* the same again: fine */
	struct st_error e = {0};
	uint8_t nh[32];
	notice_hash(nh);
	struct st_store_policy p;
	assert_int_equal(st_store_policy_get_by_notice(f->s, nh, &p, &e), 0);
	assert_int_equal(p.notice_len, sizeof NOTICE - 1);
	assert_memory_equal(p.notice, NOTICE, p.notice_len);
	assert_string_equal(p.json, "{\"version\":1}");
	assert_int_equal(p.hash[0], 0x77);
	st_store_policy_fini(&p);
	/* a notice hash that is not the notice's */
	struct st_store_policy q = {0};
	memset(q.hash, 0x78, 32);
	memset(q.notice_hash, 0x11, 32);
	q.json = "{}";
	q.json_len = 2;
	q.notice = NOTICE;
	q.notice_len = sizeof NOTICE - 1;
	assert_fails_with(st_store_policy_put(f->s, &q, &e), ST_E_INVAL, &e,
			  "SHA-256");
	/* another policy under a used notice */
	notice_hash(q.notice_hash);
	assert_fails_with(st_store_policy_put(f->s, &q, &e), ST_E_EXISTS, &e,
			  "already");
	/* the same policy with another notice */
	static const uint8_t other[] = "another notice";
	memset(q.hash, 0x77, 32);
	q.notice = other;
	q.notice_len = sizeof other - 1;
	crypto_hash_sha256(q.notice_hash, other, sizeof other - 1);
	assert_fails_with(st_store_policy_put(f->s, &q, &e), ST_E_EXISTS, &e,
			  "another notice");
	assert_fails_with(st_store_policy_get_by_notice(f->s, q.notice_hash, &p,
							&e),
			  ST_E_NOT_FOUND, &e, "notice hash");
}

static void acceptances_only_for_a_persons_own_device(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	struct st_acceptance a = {0};
	id_of(a.person_id, 1);
	id_of(a.device_id, 0xd1);
	notice_hash(a.notice_hash);
	strcpy(a.local_user, "ann");
	a.accepted_s = 400;
	bool has = true;
	assert_int_equal(st_store_acceptance_has(f->s, a.person_id, a.device_id,
						 a.notice_hash, &has, &e),
			 0);
	assert_false(has);
	assert_int_equal(st_store_acceptance_add(f->s, &a, &e), 0);
	assert_int_equal(st_store_acceptance_add(f->s, &a, &e), 0); /* again */
	assert_int_equal(st_store_acceptance_has(f->s, a.person_id, a.device_id,
						 a.notice_hash, &has, &e),
			 0);
	assert_true(has);
	/* ann cannot accept on ben's device, nor for an unknown notice */
	id_of(a.device_id, 0xd2);
	assert_fails_with(st_store_acceptance_add(f->s, &a, &e),
			  ST_E_NOT_FOUND, &e, "missing");
	id_of(a.device_id, 0xd1);
	memset(a.notice_hash, 0x44, 32);
	assert_fails_with(st_store_acceptance_add(f->s, &a, &e),
			  ST_E_NOT_FOUND, &e, "missing");
	a.local_user[0] = 0;
	assert_fails_with(st_store_acceptance_add(f->s, &a, &e), ST_E_INVAL,
			  &e, "local user");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM acceptances"), 2);
}

/* ---- segments ---- */

static int collect_seqs(void *ctx, const struct st_store_segment *g)
{
	char *s = ctx;
	char one[32];
	assert_null(g->header);
	assert_null(g->body);
	snprintf(one, sizeof one, "%llu/%zu;", (unsigned long long)g->seq,
		 g->body_len);
	strcat(s, one);
	return 0;
}

static int collect_flags(void *ctx, const struct st_store_flag *fl)
{
	struct st_store_flag *out = ctx;
	*out = *fl;
	return 0;
}

static void segments_exactly_once(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	struct fake_seg a, a2, b, c;
	fake(&a, 0xd1, 1, 1, 0x10);
	fake(&a2, 0xd1, 1, 1, 0x10);
	fake(&b, 0xd1, 1, 1, 0x20); /* other bytes, same sequence */
	fake(&c, 0xd2, 2, 1, 0x30); /* same sequence, another device */
	int o = 0;
	assert_int_equal(st_store_segment_put(f->s, &a.g, &o, &e), 0);
	assert_int_equal(o, ST_STORE_STORED);
	assert_int_equal(st_store_segment_put(f->s, &a2.g, &o, &e), 0);
	assert_int_equal(o, ST_STORE_DUPLICATE);
	assert_int_equal(st_store_segment_put(f->s, &b.g, &o, &e), 0);
	assert_int_equal(o, ST_STORE_CONFLICT);
	assert_int_equal(st_store_segment_put(f->s, &c.g, &o, &e), 0);
	assert_int_equal(o, ST_STORE_STORED);
	uint8_t d1[16];
	id_of(d1, 0xd1);
	assert_int_equal(count(f, d1), 1);
	assert_int_equal(count(f, NULL), 2);
	/* the first bytes stayed */
	struct st_store_segment g;
	assert_int_equal(st_store_segment_get(f->s, d1, 1, &g, &e), 0);
	assert_memory_equal(g.header, a.header, ST_STORE_HEADER_LEN);
	assert_int_equal(g.body_len, sizeof a.body);
	assert_memory_equal(g.body, a.body, sizeof a.body);
	assert_int_equal(g.received_s, 501);
	assert_int_equal(g.level, 2);
	assert_int_equal(g.kinds, 0x8);
	st_store_segment_fini(&g);
	assert_fails_with(st_store_segment_get(f->s, d1, 2, &g, &e),
			  ST_E_NOT_FOUND, &e, "not found");
	/* the conflict is flagged with the refused header as evidence */
	struct st_store_flag fl = {0};
	assert_int_equal(st_store_flag_list(f->s, 0, 10, collect_flags, &fl, &e),
			 0);
	assert_string_equal(fl.kind, "conflict");
	assert_int_equal(fl.seq, 1);
	assert_int_equal(fl.device_id[0], 0xd1);
	assert_int_equal(fl.evidence_len, ST_STORE_HEADER_LEN);
	assert_memory_equal(fl.evidence, b.header, ST_STORE_HEADER_LEN);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM flags"), 1);
	/* list, paged by sequence */
	for (uint64_t s = 2; s <= 5; s++) {
		struct fake_seg x;
		fake(&x, 0xd1, 1, s, (uint8_t)s);
		assert_int_equal(st_store_segment_put(f->s, &x.g, &o, &e), 0);
		assert_int_equal(o, ST_STORE_STORED);
	}
	char seqs[256] = "";
	assert_int_equal(st_store_segment_list(f->s, d1, 1, 3, collect_seqs,
					       seqs, &e),
			 0);
	assert_string_equal(seqs, "2/64;3/64;4/64;");
	/* the person must be the device's */
	struct fake_seg y;
	fake(&y, 0xd1, 2, 9, 0x40);
	assert_fails_with(st_store_segment_put(f->s, &y.g, &o, &e),
			  ST_E_NOT_FOUND, &e, "missing");
	/* columns must agree with the header */
	fake(&y, 0xd1, 1, 9, 0x40);
	y.g.seq = 10;
	assert_fails_with(st_store_segment_put(f->s, &y.g, &o, &e), ST_E_INVAL,
			  &e, "disagree");
	y.g.seq = (uint64_t)INT64_MAX + 1;
	assert_fails_with(st_store_segment_put(f->s, &y.g, &o, &e), ST_E_CAP,
			  &e, "2^63");
	assert_int_equal(count(f, NULL), 6);
}

static void transactions_one_at_a_time(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	assert_fails_with(st_store_commit(f->s, &e), ST_E_STATE, &e, "outside");
	assert_fails_with(st_store_rollback(f->s, &e), ST_E_STATE, &e,
			  "outside");
	assert_int_equal(st_store_begin(f->s, &e), 0);
	assert_fails_with(st_store_begin(f->s, &e), ST_E_STATE, &e, "inside");
	struct fake_seg a;
	fake(&a, 0xd1, 1, 1, 0x10);
	int o;
	assert_int_equal(st_store_segment_put(f->s, &a.g, &o, &e), 0);
	assert_fails_with(st_store_segment_put_batch(f->s, &a.g, 1, &o, &e),
			  ST_E_STATE, &e, "transaction is open");
	assert_int_equal(count(f, NULL), 1); /* our own transaction sees it */
	assert_int_equal(st_store_rollback(f->s, &e), 0);
	assert_false(st_store_in_tx(f->s));
	assert_int_equal(count(f, NULL), 0);
	/* an open transaction is rolled back by close */
	assert_int_equal(st_store_begin(f->s, &e), 0);
	assert_int_equal(st_store_segment_put(f->s, &a.g, &o, &e), 0);
	reopen(f);
	assert_int_equal(count(f, NULL), 0);
	/* a closed store refuses every call */
	assert_fails_with(st_store_begin(NULL, &e), ST_E_STATE, &e, "not open");
	uint64_t n;
	assert_fails_with(st_store_segment_count(NULL, NULL, &n, &e), ST_E_STATE,
			  &e, "not open");
}

/* ---- fault injection: a group commit is all or nothing ---- */

#define BATCH 6

static void batch_of(struct fake_seg *b)
{
	/* new segments of two devices, a repeat and a conflict inside */
	fake(&b[0], 0xd1, 1, 1, 0x10);
	fake(&b[1], 0xd1, 1, 2, 0x11);
	fake(&b[2], 0xd2, 2, 1, 0x12);
	fake(&b[3], 0xd1, 1, 1, 0x10); /* duplicate of 0 */
	fake(&b[4], 0xd1, 1, 2, 0x66); /* conflicts with 1 */
	fake(&b[5], 0xd2, 2, 7, 0x13);
}

/* What the database holds of the batch, seen from a fresh connection. */
static void expect_all_or_nothing(struct fx *f, bool all, long n)
{
	long long segs = raw_int(f->db, "SELECT count(*) FROM segments");
	long long flags = raw_int(f->db, "SELECT count(*) FROM flags");
	long long seen = raw_int(f->db, "SELECT count(*) FROM devices WHERE "
					"last_seen_s > 0");
	if (all && (segs != 4 || flags != 1 || seen != 2))
		fail_msg("call %ld: batch answered success but %lld segments, "
			 "%lld flags, %lld devices seen",
			 n, segs, flags, seen);
	if (!all && (segs || flags || seen))
		fail_msg("call %ld: batch failed but %lld segments, %lld "
			 "flags, %lld devices seen are stored",
			 n, segs, flags, seen);
}

/* Closes w (and the store inside it), or the plain store. */
static void close_all(struct fx *f, struct st_store **w)
{
	st_store_close(*w ? *w : f->s);
	*w = NULL;
	f->s = NULL;
}

static void fresh_wrapped(struct fx *f, struct st_store **w)
{
	close_all(f, w);
	unlink(f->db);
	char p[PATH_MAX + 8];
	snprintf(p, sizeof p, "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->db);
	unlink(p);
	reopen(f);
	world(f);
	struct st_error e = {0};
	assert_int_equal(st_store_fault_wrap(f->s, w, &e), 0);
}

static void run_faults(struct fx *f, bool sticky, bool after)
{
	struct fake_seg b[BATCH];
	struct st_store_segment g[BATCH];
	batch_of(b);
	for (int i = 0; i < BATCH; i++)
		g[i] = b[i].g;
	struct st_store *w = NULL;
	/* count the calls of a clean run */
	fresh_wrapped(f, &w);
	st_store_fault_arm(w, &(struct st_store_fault_cfg){0});
	int out[BATCH];
	struct st_error e = {0};
	assert_int_equal(st_store_segment_put_batch(w, g, BATCH, out, &e), 0);
	long total = st_store_fault_calls(w);
	assert_true(total >= BATCH + 2);
	static const int want[BATCH] = {ST_STORE_STORED, ST_STORE_STORED,
					ST_STORE_STORED, ST_STORE_DUPLICATE,
					ST_STORE_CONFLICT, ST_STORE_STORED};
	assert_memory_equal(out, want, sizeof want);
	expect_all_or_nothing(f, true, 0);
	for (long n = 1; n <= total + 1; n++) {
		fresh_wrapped(f, &w);
		st_store_fault_arm(w, &(struct st_store_fault_cfg){
					      .fail_at = n, .sticky = sticky,
					      .after = after});
		for (int i = 0; i < BATCH; i++)
			out[i] = -12345;
		e = (struct st_error){0};
		int rc = st_store_segment_put_batch(w, g, BATCH, out, &e);
		assert_false(st_store_in_tx(w));
		if (rc < 0) {
			/* no answer before COMMIT returned */
			for (int i = 0; i < BATCH; i++)
				assert_int_equal(out[i], -12345);
			assert_non_null(strstr(e.msg, "injected"));
		} else {
			assert_memory_equal(out, want, sizeof want);
		}
		assert_int_equal(st_store_fault_failed(w) > 0, n <= total);
		/* what a fresh connection sees, and after a restart */
		bool lost_answer = after && n == total; /* the COMMIT itself */
		expect_all_or_nothing(f, rc == 0 || lost_answer, n);
		close_all(f, &w);
		reopen(f);
		expect_all_or_nothing(f, rc == 0 || lost_answer, n);
		if (lost_answer) {
			/* the retry of a lost answer changes nothing */
			assert_int_equal(st_store_segment_put_batch(f->s, g, BATCH,
								    out, &e),
					 0);
			for (int i = 0; i < BATCH; i++)
				assert_int_equal(out[i], i == 4
								 ? ST_STORE_CONFLICT
								 : ST_STORE_DUPLICATE);
			assert_int_equal(count(f, NULL), 4);
		}
	}
	if (w)
		close_all(f, &w);
}

static void batch_fails_at_every_call_all_or_nothing(void **state)
{
	run_faults(*state, false, false);
}

static void batch_fails_from_every_call_on_all_or_nothing(void **state)
{
	run_faults(*state, true, false);
}

static void batch_answer_lost_at_every_call(void **state)
{
	run_faults(*state, false, true);
}

static void lone_write_failing_commit_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct st_store *w = NULL;
	struct st_error e = {0};
	assert_int_equal(st_store_fault_wrap(f->s, &w, &e), 0);
	f->s = w;
	/* person add outside a transaction: begin (1), insert (2), commit (3) */
	st_store_fault_arm(w, &(struct st_store_fault_cfg){.fail_at = 3});
	struct st_person p = {0};
	id_of(p.id, 1);
	strcpy(p.name, "ann@example.com");
	assert_fails_with(st_store_person_add(w, &p, &e), ST_STORE_FAULT_RC, &e,
			  "injected");
	assert_false(st_store_in_tx(w));
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM people"), 0);
	st_store_fault_arm(w, NULL);
	assert_int_equal(st_store_person_add(w, &p, &e), 0);
	assert_int_equal(st_store_fault_calls(w), 3);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM people"), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(migrates_an_empty_file_and_reopens_idempotently),
		T(refuses_a_newer_schema),
		T(refuses_a_file_others_can_read),
		T(refuses_a_file_that_is_not_a_database),
		T(people_add_get_list),
		T(devices_add_get_revoke_touch),
		T(policies_by_notice_hash),
		T(acceptances_only_for_a_persons_own_device),
		T(segments_exactly_once),
		T(transactions_one_at_a_time),
		T(batch_fails_at_every_call_all_or_nothing),
		T(batch_fails_from_every_call_on_all_or_nothing),
		T(batch_answer_lost_at_every_call),
		T(lone_write_failing_commit_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
