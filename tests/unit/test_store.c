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
	snprintf(d.local_user, sizeof d.local_user, "user%02x", tag);
	snprintf(d.hostname, sizeof d.hostname, "ws-%02x.example.com", tag);
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
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->db, "SELECT max(version) FROM "
					"schema_version"),
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version "
					"WHERE applied_s = 1790000000"),
			 ST_STORE_SCHEMA_VERSION);
	world(f);
	long long tables = raw_int(f->db, "SELECT count(*) FROM sqlite_schema "
					  "WHERE type = 'table'");
	/* version 1: 7 (schema_version included); version 2: + tokens,
	 * enroll_tokens, settings, forgets; version 3: + pauses,
	 * pause_confirms; version 4: + token_requests, purposes,
	 * purpose_approvals, audit, audit_checkpoints, pseudonyms,
	 * tombstones, exports, export_people */
	assert_int_equal(tables, 22);
	/* re-open: nothing re-applied, nothing lost */
	f->mc.wall += 3600ull * 1000000000ull;
	for (int i = 0; i < 3; i++)
		reopen(f);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"),
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version "
					"WHERE applied_s = 1790000000"),
			 ST_STORE_SCHEMA_VERSION);
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
	/* the local user is required (acceptances are checked against it) */
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_INVAL, &e,
			  "local user");
	memset(d.local_user, 'u', ST_STORE_USER_MAX + 1);
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_INVAL, &e,
			  "local user");
	strcpy(d.local_user, "ann\nforged");
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_INVAL, &e,
			  "control");
	strcpy(d.local_user, "ann");
	memset(d.hostname, 'h', ST_STORE_HOST_MAX + 1);
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_INVAL, &e,
			  "hostname");
	d.hostname[0] = 0;
	d.backlog_bytes = (uint64_t)INT64_MAX + 1;
	assert_fails_with(st_store_device_add(f->s, &d, &e), ST_E_CAP, &e,
			  "backlog");
	d.backlog_bytes = 0;
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
	assert_string_equal(d.local_user, "userd1");
	assert_string_equal(d.hostname, "ws-d1.example.com");
	assert_int_equal(d.backlog_segments, 0);
	assert_int_equal(d.backlog_s, 0);
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

/* ---- schema 2: upgrade from version 1 ---- */

/* Migration 1 exactly as it shipped (frozen here on purpose: the test must
 * keep building version 1 databases after the backend's list grows). */
static const char V1_SQL[] =
	"CREATE TABLE schema_version ("
	" version INTEGER PRIMARY KEY,"
	" applied_s INTEGER NOT NULL);"
	"CREATE TABLE people ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 254),"
	" grp TEXT NOT NULL DEFAULT '' CHECK (length(grp) <= 128),"
	" public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
	" sealed_secret BLOB CHECK (sealed_secret IS NULL OR"
	"  length(sealed_secret) = 80),"
	" erased INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),"
	" created_s INTEGER NOT NULL,"
	" CHECK (erased = 1 OR sealed_secret IS NOT NULL),"
	" CHECK (erased = 0 OR sealed_secret IS NULL));"
	"CREATE TABLE devices ("
	" id BLOB PRIMARY KEY CHECK (length(id) = 16),"
	" person_id BLOB NOT NULL REFERENCES people(id),"
	" public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	" active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
	" enrolled_s INTEGER NOT NULL,"
	" last_seen_s INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (id, person_id));"
	"CREATE INDEX devices_by_person ON devices(person_id);"
	"CREATE TABLE policies ("
	" hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
	" canonical_json TEXT NOT NULL,"
	" notice BLOB NOT NULL,"
	" notice_hash BLOB NOT NULL UNIQUE CHECK (length(notice_hash) = 32),"
	" created_s INTEGER NOT NULL);"
	"CREATE TABLE acceptances ("
	" id INTEGER PRIMARY KEY,"
	" person_id BLOB NOT NULL,"
	" device_id BLOB NOT NULL,"
	" notice_hash BLOB NOT NULL REFERENCES policies(notice_hash),"
	" local_user TEXT NOT NULL CHECK (length(local_user) BETWEEN 1 AND 64),"
	" accepted_s INTEGER NOT NULL,"
	" FOREIGN KEY (device_id, person_id) REFERENCES devices(id, person_id));"
	"CREATE INDEX acceptances_by_key ON"
	" acceptances(person_id, device_id, notice_hash);"
	"CREATE TABLE segments ("
	" id INTEGER PRIMARY KEY,"
	" device_id BLOB NOT NULL,"
	" seq INTEGER NOT NULL CHECK (seq >= 0),"
	" person_id BLOB NOT NULL,"
	" header BLOB NOT NULL CHECK (length(header) = 308),"
	" ciphertext BLOB NOT NULL,"
	" t_start_min INTEGER NOT NULL,"
	" t_end_min INTEGER NOT NULL CHECK (t_end_min > t_start_min),"
	" lease_seq INTEGER NOT NULL,"
	" level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),"
	" kinds INTEGER NOT NULL,"
	" notice_hash BLOB NOT NULL REFERENCES policies(notice_hash),"
	" received_s INTEGER NOT NULL,"
	" UNIQUE (device_id, seq),"
	" FOREIGN KEY (device_id, person_id) REFERENCES devices(id, person_id));"
	"CREATE INDEX segments_by_person ON segments(person_id, t_start_min);"
	"CREATE TABLE flags ("
	" id INTEGER PRIMARY KEY,"
	" kind TEXT NOT NULL,"
	" device_id BLOB NOT NULL REFERENCES devices(id),"
	" seq INTEGER NOT NULL,"
	" evidence BLOB NOT NULL,"
	" created_s INTEGER NOT NULL);"
	"INSERT INTO schema_version VALUES (1, 1700000000);";

/* A version 1 database as a version 1 server left it: ann with device
 * 0xd1, the policy, an acceptance, segments 1 and 3 (2 never came) and a
 * conflict flag. Hex literals: X'01..' ids as the tests' id_of makes. */
static void make_v1_database(struct fx *f)
{
	st_store_close(f->s);
	f->s = NULL;
	char p[PATH_MAX + 8];
	unlink(f->db);
	snprintf(p, sizeof p, "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->db);
	unlink(p);
	int fd = open(f->db, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	raw_exec(f->db, V1_SQL);
	uint8_t nh[32];
	notice_hash(nh);
	char nhx[65];
	for (int i = 0; i < 32; i++)
		snprintf(nhx + 2 * i, 3, "%02x", nh[i]);
	char q[4096];
	snprintf(q, sizeof q,
		 "INSERT INTO people VALUES"
		 " (X'01010101010101010101010101010101', 'ann@example.com',"
		 "  'research', randomblob(32), randomblob(80), 0, 100);"
		 "INSERT INTO devices VALUES"
		 " (X'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1',"
		 "  X'01010101010101010101010101010101', randomblob(32), 1,"
		 "  200, 650);"
		 "INSERT INTO policies VALUES (zeroblob(32), '{\"version\":1}',"
		 " CAST('You are recorded: pointer only.' || char(10) AS BLOB),"
		 " X'%s', 300);"
		 "INSERT INTO acceptances (person_id, device_id, notice_hash,"
		 " local_user, accepted_s) VALUES"
		 " (X'01010101010101010101010101010101',"
		 "  X'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', X'%s', 'ann', 400);"
		 "INSERT INTO segments (device_id, seq, person_id, header,"
		 " ciphertext, t_start_min, t_end_min, lease_seq, level, kinds,"
		 " notice_hash, received_s) VALUES"
		 " (X'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', 1,"
		 "  X'01010101010101010101010101010101', zeroblob(308),"
		 "  randomblob(64), 1000, 1001, 1, 2, 8, X'%s', 600),"
		 " (X'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', 3,"
		 "  X'01010101010101010101010101010101', zeroblob(308),"
		 "  randomblob(40), 1010, 1011, 1, 2, 8, X'%s', 650);"
		 "INSERT INTO flags (kind, device_id, seq, evidence, created_s)"
		 " VALUES ('conflict', X'd1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1', 1,"
		 "  zeroblob(308), 660);",
		 nhx, nhx, nhx, nhx);
	raw_exec(f->db, q);
}

static void upgrades_a_version_1_database_in_place(void **state)
{
	struct fx *f = *state;
	make_v1_database(f);
	assert_int_equal(raw_int(f->db, "SELECT max(version) FROM "
					"schema_version"),
			 1);
	reopen(f);
	/* versions 2 to 4 applied once, version 1 remembered as it was */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"),
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM schema_version "
					"WHERE version = 3"),
			 1790000000);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM schema_version "
					"WHERE version = 1"),
			 1700000000);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM schema_version "
					"WHERE version = 2"),
			 1790000000);
	/* the data survived */
	struct st_error e = {0};
	uint8_t ann[16], d1[16];
	id_of(ann, 1);
	id_of(d1, 0xd1);
	struct st_person p;
	assert_int_equal(st_store_person_get(f->s, ann, &p, &e), 0);
	assert_string_equal(p.name, "ann@example.com");
	struct st_device d;
	assert_int_equal(st_store_device_get(f->s, d1, &d, &e), 0);
	assert_memory_equal(d.person_id, ann, 16);
	assert_true(d.active);
	assert_int_equal(d.enrolled_s, 200);
	assert_int_equal(d.last_seen_s, 650);
	assert_string_equal(d.local_user, ""); /* unknown before version 2 */
	assert_string_equal(d.hostname, "");
	assert_int_equal(d.backlog_s, 0);
	assert_int_equal(count(f, d1), 2);
	uint8_t nh[32];
	notice_hash(nh);
	bool has = false;
	assert_int_equal(st_store_acceptance_has(f->s, ann, d1, nh, &has, &e),
			 0);
	assert_true(has);
	struct st_store_segment g;
	assert_int_equal(st_store_segment_get(f->s, d1, 3, &g, &e), 0);
	assert_int_equal(g.body_len, 40);
	st_store_segment_fini(&g);
	/* and the new operations work on it */
	struct st_device_stats ds;
	assert_int_equal(st_store_device_stats(f->s, d1, &ds, &e), 0);
	assert_int_equal(ds.segments, 2);
	assert_int_equal(ds.bytes, 104);
	assert_int_equal(ds.max_seq, 3);
	assert_int_equal(ds.gaps, 1);
	assert_int_equal(st_store_device_backlog(f->s, d1, 4, 900, 700, &e), 0);
	assert_int_equal(st_store_device_get(f->s, d1, &d, &e), 0);
	assert_int_equal(d.backlog_segments, 4);
	uint8_t ph[32] = {0}; /* the v1 policy's hash: zeroblob(32) */
	assert_int_equal(st_store_policy_set_current(f->s, ph, 800, &e), 0);
	struct st_store_policy cur;
	assert_int_equal(st_store_policy_get_current(f->s, &cur, &e), 0);
	assert_string_equal(cur.json, "{\"version\":1}");
	assert_memory_equal(cur.notice_hash, nh, 32);
	st_store_policy_fini(&cur);
	struct st_token t = {0};
	memset(t.id, 0x71, 16);
	strcpy(t.name, "first-admin");
	strcpy(t.role, "admin");
	memset(t.hash, 0x72, 32);
	t.created_s = 900;
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	struct st_enroll_token et = {0};
	memset(et.hash, 0xe1, 32);
	id_of(et.person_id, 1);
	et.created_s = 900;
	et.expires_s = 2000;
	assert_int_equal(st_store_enroll_token_add(f->s, &et, &e), 0);
	struct st_device nd = {0};
	id_of(nd.id, 0xd3);
	id_of(nd.person_id, 1);
	memset(nd.public_key, 0xd3, 32);
	nd.active = true;
	nd.enrolled_s = 1000;
	strcpy(nd.local_user, "ann");
	assert_int_equal(st_store_enroll(f->s, et.hash, &nd, 1000, NULL, &e), 0);
	struct st_forget fg = {.from_min = 1010, .to_min = 1010,
			       .received_s = 1100};
	id_of(fg.device_id, 0xd1);
	memset(fg.request_id, 0x5a, 16);
	uint64_t n = 0;
	assert_int_equal(st_store_forget(f->s, &fg, &n, &e), 0);
	assert_int_equal(n, 1);
	struct st_store_counts c;
	assert_int_equal(st_store_counts(f->s, &c, &e), 0);
	assert_int_equal(c.people, 1);
	assert_int_equal(c.devices, 2);
	assert_int_equal(c.segments, 1);
	assert_int_equal(c.flags, 1);
	assert_int_equal(c.tokens, 1);
	/* the epoch of an upgraded store starts where a new one does */
	uint64_t ep = 0;
	assert_int_equal(st_store_epoch_get(f->s, &ep, &e), 0);
	assert_int_equal(ep, ST_STORE_EPOCH_FIRST);
	/* re-open: nothing re-applied */
	reopen(f);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"),
			 ST_STORE_SCHEMA_VERSION);
	assert_int_equal(st_store_device_get(f->s, d1, &d, &e), 0);
	assert_int_equal(d.backlog_segments, 4);
}

/* ---- schema 2: people by name, device list, backlog, stats ---- */

static void person_find_by_exact_name(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	struct st_person p;
	assert_int_equal(st_store_person_find(f->s, "ben@example.com", &p, &e),
			 0);
	assert_int_equal(p.id[0], 2);
	assert_string_equal(p.name, "ben@example.com");
	assert_fails_with(st_store_person_find(f->s, "BEN@example.com", &p, &e),
			  ST_E_NOT_FOUND, &e, "no one");
	/* a personal name is not echoed into a message */
	assert_null(strstr(e.msg, "BEN"));
	assert_fails_with(st_store_person_find(f->s, "", &p, &e), ST_E_INVAL,
			  &e, "name");
	char longname[ST_STORE_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	assert_fails_with(st_store_person_find(f->s, longname, &p, &e),
			  ST_E_INVAL, &e, "name");
}

struct dev_seen {
	char ids[64];
	int n, stop_after;
};

static int collect_devices(void *ctx, const struct st_device *d)
{
	struct dev_seen *s = ctx;
	char one[8];
	snprintf(one, sizeof one, "%02x/%s;", d->id[0],
		 d->local_user[0] ? "u" : "-");
	strcat(s->ids, one);
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 1 : 0;
}

static int fail_devices(void *ctx, const struct st_device *d)
{
	(void)ctx, (void)d;
	return ST_E_NOMEM;
}

static void device_list_backlog_and_stats_with_gaps(void **state)
{
	struct fx *f = *state;
	world(f);
	add_device(f, 0xd3, 1);
	struct st_error e = {0};
	struct dev_seen s = {0};
	assert_int_equal(st_store_device_list(f->s, NULL, 2, collect_devices,
					      &s, &e),
			 0);
	assert_string_equal(s.ids, "d1/u;d2/u;");
	memset(&s, 0, sizeof s);
	uint8_t after[16];
	id_of(after, 0xd2);
	assert_int_equal(st_store_device_list(f->s, after, 10, collect_devices,
					      &s, &e),
			 0);
	assert_string_equal(s.ids, "d3/u;");
	memset(&s, 0, sizeof s);
	s.stop_after = 1; /* a positive answer stops without error */
	assert_int_equal(st_store_device_list(f->s, NULL, 10, collect_devices,
					      &s, &e),
			 0);
	assert_int_equal(s.n, 1);
	assert_fails_with(st_store_device_list(f->s, NULL, 10, fail_devices,
					       NULL, &e),
			  ST_E_NOMEM, &e, "stopped");
	assert_fails_with(st_store_device_list(f->s, NULL, 0, collect_devices,
					       &s, &e),
			  ST_E_INVAL, &e, "limit");
	assert_fails_with(st_store_device_list(f->s, NULL, ST_STORE_LIST_MAX + 1,
					       collect_devices, &s, &e),
			  ST_E_INVAL, &e, "limit");
	/* backlog */
	uint8_t d1[16], d2[16], d9[16];
	id_of(d1, 0xd1);
	id_of(d2, 0xd2);
	id_of(d9, 0xd9);
	assert_int_equal(st_store_device_backlog(f->s, d1, 5, 4096, 1234, &e),
			 0);
	struct st_device d;
	assert_int_equal(st_store_device_get(f->s, d1, &d, &e), 0);
	assert_int_equal(d.backlog_segments, 5);
	assert_int_equal(d.backlog_bytes, 4096);
	assert_int_equal(d.backlog_s, 1234);
	assert_int_equal(st_store_device_get(f->s, d2, &d, &e), 0);
	assert_int_equal(d.backlog_s, 0); /* only the one named */
	assert_fails_with(st_store_device_backlog(f->s, d9, 1, 1, 1, &e),
			  ST_E_NOT_FOUND, &e, "not found");
	assert_fails_with(st_store_device_backlog(f->s, d1, 1,
						  (uint64_t)INT64_MAX + 1, 1,
						  &e),
			  ST_E_CAP, &e, "2^63");
	/* stats: d1 holds 1, 2, 5 and 7 (3, 4, 6 missing) */
	int o;
	static const uint64_t seqs[] = {1, 2, 5, 7};
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
		struct fake_seg x;
		fake(&x, 0xd1, 1, seqs[i], (uint8_t)i);
		x.g.body_len = 16 + 8 * i; /* 16, 24, 32, 40 */
		assert_int_equal(st_store_segment_put(f->s, &x.g, &o, &e), 0);
		assert_int_equal(o, ST_STORE_STORED);
	}
	struct st_device_stats ds;
	assert_int_equal(st_store_device_stats(f->s, d1, &ds, &e), 0);
	assert_int_equal(ds.segments, 4);
	assert_int_equal(ds.bytes, 112);
	assert_int_equal(ds.max_seq, 7);
	assert_int_equal(ds.gaps, 3);
	memset(&ds, 0xff, sizeof ds);
	assert_int_equal(st_store_device_stats(f->s, d2, &ds, &e), 0);
	assert_int_equal(ds.segments, 0);
	assert_int_equal(ds.bytes, 0);
	assert_int_equal(ds.max_seq, 0);
	assert_int_equal(ds.gaps, 0);
	assert_fails_with(st_store_device_stats(f->s, d9, &ds, &e),
			  ST_E_NOT_FOUND, &e, "not found");
}

/* ---- schema 2: API tokens ---- */

static void make_token(struct st_token *t, uint8_t tag, const char *name)
{
	memset(t, 0, sizeof *t);
	memset(t->id, tag, 16);
	snprintf(t->name, sizeof t->name, "%s", name);
	strcpy(t->role, "admin");
	memset(t->hash, tag ^ 0x0f, 32);
	t->created_s = 1000 + tag;
	t->expires_s = tag & 1 ? 0 : 5000;
}

static int collect_tokens(void *ctx, const struct st_token *t)
{
	char *s = ctx;
	strcat(s, t->name);
	strcat(s, t->revoked ? "(r);" : ";");
	return 0;
}

static void tokens_add_find_list_revoke(void **state)
{
	struct fx *f = *state;
	struct st_error e = {0};
	struct st_token t, u;
	make_token(&t, 0x21, "ops");
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	make_token(&t, 0x22, "ci");
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	/* taken id, name or hash */
	make_token(&u, 0x21, "other");
	memset(u.hash, 0x99, 32);
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_EXISTS, &e,
			  "already");
	make_token(&u, 0x23, "ci");
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_EXISTS, &e,
			  "already");
	make_token(&u, 0x23, "new");
	memset(u.hash, 0x22 ^ 0x0f, 32);
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_EXISTS, &e,
			  "already");
	/* argument checks */
	make_token(&u, 0x24, "");
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "name");
	memset(u.name, 'n', ST_STORE_TOKEN_NAME_MAX + 1);
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "name");
	strcpy(u.name, "tab\there");
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "control");
	strcpy(u.name, "fine");
	u.role[0] = 0;
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "role");
	memset(u.role, 'r', ST_STORE_ROLE_MAX + 1);
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "role");
	strcpy(u.role, "admin");
	u.expires_s = u.created_s;
	assert_fails_with(st_store_token_add(f->s, &u, &e), ST_E_INVAL, &e,
			  "expires");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM tokens"), 2);
	/* find by hash */
	uint8_t h[32];
	memset(h, 0x21 ^ 0x0f, 32);
	assert_int_equal(st_store_token_find(f->s, h, &u, &e), 0);
	assert_string_equal(u.name, "ops");
	assert_string_equal(u.role, "admin");
	assert_int_equal(u.id[0], 0x21);
	assert_int_equal(u.created_s, 1000 + 0x21);
	assert_int_equal(u.expires_s, 0);
	assert_false(u.revoked);
	memset(h, 0x22 ^ 0x0f, 32);
	assert_int_equal(st_store_token_find(f->s, h, &u, &e), 0);
	assert_string_equal(u.name, "ci");
	assert_int_equal(u.expires_s, 5000);
	memset(h, 0x44, 32);
	assert_fails_with(st_store_token_find(f->s, h, &u, &e), ST_E_NOT_FOUND,
			  &e, "not found");
	/* list in name order; revoke by name, twice; revoked ones are found */
	char names[256] = "";
	assert_int_equal(st_store_token_list(f->s, collect_tokens, names, &e),
			 0);
	assert_string_equal(names, "ci;ops;");
	assert_int_equal(st_store_token_revoke(f->s, "ops", &e), 0);
	assert_int_equal(st_store_token_revoke(f->s, "ops", &e), 0);
	assert_fails_with(st_store_token_revoke(f->s, "nope", &e),
			  ST_E_NOT_FOUND, &e, "no token");
	assert_fails_with(st_store_token_revoke(f->s, "", &e), ST_E_INVAL, &e,
			  "name");
	names[0] = 0;
	assert_int_equal(st_store_token_list(f->s, collect_tokens, names, &e),
			 0);
	assert_string_equal(names, "ci;ops(r);");
	memset(h, 0x21 ^ 0x0f, 32);
	assert_int_equal(st_store_token_find(f->s, h, &u, &e), 0);
	assert_true(u.revoked);
	memset(h, 0x22 ^ 0x0f, 32);
	assert_int_equal(st_store_token_find(f->s, h, &u, &e), 0);
	assert_false(u.revoked); /* only the one named */
}

/* ---- schema 2: enrollment ---- */

static void add_enroll_token(struct st_store *s, uint8_t tag, uint8_t person,
			     int64_t created, int64_t expires)
{
	struct st_enroll_token t = {0};
	memset(t.hash, tag, 32);
	id_of(t.person_id, person);
	t.created_s = created;
	t.expires_s = expires;
	struct st_error e = {0};
	if (st_store_enroll_token_add(s, &t, &e) < 0)
		fail_msg("enroll token add: %s", e.msg);
}

static void new_device(struct st_device *d, uint8_t tag, uint8_t person)
{
	memset(d, 0, sizeof *d);
	id_of(d->id, tag);
	id_of(d->person_id, person);
	memset(d->public_key, tag ^ 0x33, 32);
	d->active = true;
	d->enrolled_s = 1500;
	strcpy(d->local_user, "ann");
	strcpy(d->hostname, "laptop-7");
}

/* What the database holds of enrollment, from a fresh connection. */
static long long devices_now(struct fx *f)
{
	return raw_int(f->db, "SELECT count(*) FROM devices");
}

/* used_s + 1 once a device is recorded: 0 means unused in both columns */
static long long token_used_s(struct fx *f, uint8_t tag)
{
	char q[200];
	int n = snprintf(q, sizeof q,
			 "SELECT used_s + (device_id IS NOT NULL) FROM "
			 "enroll_tokens WHERE hash = X'");
	for (int i = 0; i < 32; i++)
		n += snprintf(q + n, sizeof q - (size_t)n, "%02x", tag);
	snprintf(q + n, sizeof q - (size_t)n, "'");
	return raw_int(f->db, q);
}

static void refused(struct fx *f, int rc, int code, struct st_error *e,
		    const char *word, long long devices)
{
	assert_fails_with(rc, code, e, word);
	assert_non_null(strstr(e->msg, "enrollment token"));
	/* never the token: not even its hash's hex */
	assert_null(strstr(e->msg, "e1e1e1e1"));
	assert_null(strstr(e->msg, "E1E1E1E1"));
	assert_false(st_store_in_tx(f->s));
	assert_int_equal(devices_now(f), devices);
}

/* A server learns whose device it is from the token alone: a device with
 * no person is enrolled for the token's person. */
static void enrollment_takes_the_tokens_person(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	add_enroll_token(f->s, 0xe7, 2, 1000, 5000);
	uint8_t h[32];
	memset(h, 0xe7, 32);
	struct st_device d;
	new_device(&d, 0xd7, 0);
	assert_int_equal(st_store_enroll(f->s, h, &d, 1200, NULL, &e), 0);
	struct st_device got;
	assert_int_equal(st_store_device_get(f->s, d.id, &got, &e), 0);
	uint8_t two[16];
	id_of(two, 2);
	assert_memory_equal(got.person_id, two, 16);
}

static void enroll_tokens_and_every_refusal(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	add_enroll_token(f->s, 0xe1, 1, 1000, 2000);
	/* refused adds */
	struct st_enroll_token t = {0};
	memset(t.hash, 0xe1, 32);
	id_of(t.person_id, 1);
	t.created_s = 1000;
	t.expires_s = 2000;
	assert_fails_with(st_store_enroll_token_add(f->s, &t, &e), ST_E_EXISTS,
			  &e, "already");
	memset(t.hash, 0xe5, 32);
	id_of(t.person_id, 9);
	assert_fails_with(st_store_enroll_token_add(f->s, &t, &e),
			  ST_E_NOT_FOUND, &e, "missing");
	id_of(t.person_id, 1);
	t.used_s = 5;
	assert_fails_with(st_store_enroll_token_add(f->s, &t, &e), ST_E_INVAL,
			  &e, "unused");
	t.used_s = 0;
	t.device_id[3] = 1;
	assert_fails_with(st_store_enroll_token_add(f->s, &t, &e), ST_E_INVAL,
			  &e, "unused");
	t.device_id[3] = 0;
	t.expires_s = t.created_s;
	assert_fails_with(st_store_enroll_token_add(f->s, &t, &e), ST_E_INVAL,
			  &e, "expires");
	struct st_store_counts c;
	assert_int_equal(st_store_counts(f->s, &c, &e), 0);
	assert_int_equal(c.enroll_tokens_unused, 1);

	long long before = devices_now(f);
	struct st_device d;
	new_device(&d, 0xd3, 1);
	uint8_t h[32], unknown[32];
	memset(h, 0xe1, 32);
	memset(unknown, 0xe9, 32);
	struct st_enroll_token out;
	memset(&out, 0x5c, sizeof out);
	refused(f, st_store_enroll(f->s, unknown, &d, 1500, &out, &e),
		ST_E_TOKEN_INVALID, &e, "unknown", before);
	assert_int_equal(out.hash[0], 0x5c); /* untouched on failure */
	/* expiry is at expires_s itself */
	refused(f, st_store_enroll(f->s, h, &d, 2000, &out, &e),
		ST_E_TOKEN_EXPIRED, &e, "expired", before);
	refused(f, st_store_enroll(f->s, h, &d, 9999, &out, &e),
		ST_E_TOKEN_EXPIRED, &e, "expired", before);
	/* the token is ann's: a device of ben's is refused */
	struct st_device bd;
	new_device(&bd, 0xd4, 2);
	refused(f, st_store_enroll(f->s, h, &bd, 1500, &out, &e),
		ST_E_PERSON_MISMATCH, &e, "another person", before);
	/* a device that cannot be added leaves the token unused */
	struct st_device dup;
	new_device(&dup, 0xd5, 1);
	memset(dup.public_key, 0xd1 ^ 0x33, 32); /* device 0xd1's key */
	assert_fails_with(st_store_enroll(f->s, h, &dup, 1500, &out, &e),
			  ST_E_EXISTS, &e, "already");
	assert_int_equal(devices_now(f), before);
	dup.local_user[0] = 0;
	assert_fails_with(st_store_enroll(f->s, h, &dup, 1500, &out, &e),
			  ST_E_INVAL, &e, "local user");
	assert_fails_with(st_store_enroll(f->s, h, &d, 0, &out, &e), ST_E_INVAL,
			  &e, "time");
	/* not inside a transaction of the caller's */
	assert_int_equal(st_store_begin(f->s, &e), 0);
	assert_fails_with(st_store_enroll(f->s, h, &d, 1500, &out, &e),
			  ST_E_STATE, &e, "transaction");
	assert_int_equal(st_store_rollback(f->s, &e), 0);
	assert_int_equal(token_used_s(f, 0xe1), 0);

	/* the last second before expiry is fine */
	assert_int_equal(st_store_enroll(f->s, h, &d, 1999, &out, &e), 0);
	assert_int_equal(out.used_s, 0); /* the row as it was before use */
	assert_int_equal(out.expires_s, 2000);
	assert_int_equal(out.person_id[0], 1);
	assert_int_equal(devices_now(f), before + 1);
	assert_int_equal(token_used_s(f, 0xe1), 1999 + 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM enroll_tokens "
					"WHERE device_id = "
					"X'd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3'"),
			 1);
	struct st_device got;
	uint8_t d3[16];
	id_of(d3, 0xd3);
	assert_int_equal(st_store_device_get(f->s, d3, &got, &e), 0);
	assert_string_equal(got.local_user, "ann");
	assert_string_equal(got.hostname, "laptop-7");
	assert_int_equal(st_store_counts(f->s, &c, &e), 0);
	assert_int_equal(c.enroll_tokens_unused, 0);
	/* used: by this device again, or by another */
	refused(f, st_store_enroll(f->s, h, &d, 1600, NULL, &e), ST_E_TOKEN_USED,
		&e, "already used", before + 1);
	struct st_device d6;
	new_device(&d6, 0xd6, 1);
	refused(f, st_store_enroll(f->s, h, &d6, 1600, NULL, &e),
		ST_E_TOKEN_USED, &e, "already used", before + 1);
	assert_non_null(strstr(e.msg, "d3d3d3d3")); /* by whom */
	assert_int_equal(token_used_s(f, 0xe1), 1999 + 1);
}

/* Enrollment under a failure at every call of it (before the call, or
 * after it with the answer lost): all or nothing. */
static void enrollment_all_or_nothing_under_faults(void **state)
{
	struct fx *f = *state;
	struct st_store *w = NULL;
	struct st_device d;
	new_device(&d, 0xd3, 1);
	uint8_t h[32];
	memset(h, 0xe1, 32);
	struct st_error e = {0};
	fresh_wrapped(f, &w);
	add_enroll_token(w, 0xe1, 1, 1000, 2000);
	st_store_fault_arm(w, &(struct st_store_fault_cfg){0});
	assert_int_equal(st_store_enroll(w, h, &d, 1500, NULL, &e), 0);
	long total = st_store_fault_calls(w);
	/* begin, token get, device add, token use, commit */
	assert_int_equal(total, 5);
	for (int mode = 0; mode < 3; mode++) {
		bool after = mode == 1, sticky = mode == 2;
		for (long n = 1; n <= total; n++) {
			fresh_wrapped(f, &w);
			add_enroll_token(w, 0xe1, 1, 1000, 2000);
			st_store_fault_arm(w, &(struct st_store_fault_cfg){
						      .fail_at = n,
						      .after = after,
						      .sticky = sticky});
			e = (struct st_error){0};
			int rc = st_store_enroll(w, h, &d, 1500, NULL, &e);
			assert_int_equal(rc, ST_STORE_FAULT_RC);
			assert_non_null(strstr(e.msg, "injected"));
			assert_false(st_store_in_tx(w));
			/* only a lost COMMIT answer leaves the work done */
			bool done_ = after && n == total;
			if (devices_now(f) != (done_ ? 3 : 2) ||
			    token_used_s(f, 0xe1) != (done_ ? 1501 : 0))
				fail_msg("mode %d call %ld: %lld devices, token "
					 "used %lld",
					 mode, n, devices_now(f),
					 token_used_s(f, 0xe1));
			/* a retry then finds the token used, or enrolls */
			st_store_fault_arm(w, NULL);
			rc = st_store_enroll(w, h, &d, 1600, NULL, &e);
			assert_int_equal(rc, done_ ? ST_E_TOKEN_USED : 0);
			assert_int_equal(devices_now(f), 3);
		}
	}
	close_all(f, &w);
}

/* ---- schema 2: the current policy ---- */

static const uint8_t NOTICE2[] = "You are recorded: pointer and keys.\n";

static void policy_current_set_and_get(void **state)
{
	struct fx *f = *state;
	struct st_error e = {0};
	struct st_store_policy p;
	assert_fails_with(st_store_policy_get_current(f->s, &p, &e),
			  ST_E_NOT_FOUND, &e, "no current policy");
	assert_null(p.owned_);
	uint8_t h1[32], h2[32];
	memset(h1, 0x77, 32);
	memset(h2, 0x78, 32);
	assert_fails_with(st_store_policy_set_current(f->s, h1, 5000, &e),
			  ST_E_NOT_FOUND, &e, "no stored policy");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM settings "
					"WHERE key = 'current_policy'"),
			 0);
	add_policy(f);
	struct st_store_policy q = {0};
	memcpy(q.hash, h2, 32);
	crypto_hash_sha256(q.notice_hash, NOTICE2, sizeof NOTICE2 - 1);
	q.json = "{\"version\":2}";
	q.json_len = strlen(q.json);
	q.notice = NOTICE2;
	q.notice_len = sizeof NOTICE2 - 1;
	q.created_s = 310;
	assert_int_equal(st_store_policy_put(f->s, &q, &e), 0);
	assert_fails_with(st_store_policy_get_current(f->s, &p, &e),
			  ST_E_NOT_FOUND, &e, "no current policy");
	assert_int_equal(st_store_policy_set_current(f->s, h1, 5000, &e), 0);
	assert_int_equal(st_store_policy_get_current(f->s, &p, &e), 0);
	assert_memory_equal(p.hash, h1, 32);
	assert_string_equal(p.json, "{\"version\":1}");
	assert_int_equal(p.notice_len, sizeof NOTICE - 1);
	assert_memory_equal(p.notice, NOTICE, p.notice_len);
	assert_int_equal(p.created_s, 300);
	st_store_policy_fini(&p);
	assert_int_equal(st_store_policy_set_current(f->s, h2, 6000, &e), 0);
	assert_int_equal(st_store_policy_get_current(f->s, &p, &e), 0);
	assert_memory_equal(p.hash, h2, 32);
	assert_string_equal(p.json, "{\"version\":2}");
	assert_memory_equal(p.notice, NOTICE2, p.notice_len);
	st_store_policy_fini(&p);
	/* applied_s: when each last became current */
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM policies WHERE "
					"canonical_json = '{\"version\":1}'"),
			 5000);
	assert_int_equal(raw_int(f->db, "SELECT applied_s FROM policies WHERE "
					"canonical_json = '{\"version\":2}'"),
			 6000);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM settings"), 2);
	/* a failed set changes nothing */
	uint8_t h3[32];
	memset(h3, 0x79, 32);
	assert_fails_with(st_store_policy_set_current(f->s, h3, 7000, &e),
			  ST_E_NOT_FOUND, &e, "no stored policy");
	reopen(f);
	assert_int_equal(st_store_policy_get_current(f->s, &p, &e), 0);
	assert_memory_equal(p.hash, h2, 32);
	st_store_policy_fini(&p);
}

/* ---- schema 2: forget ---- */

static void put_range(struct fx *f, uint8_t dev, uint8_t person, uint64_t seq,
		      uint32_t a, uint32_t b)
{
	struct fake_seg x;
	fake(&x, dev, person, seq, (uint8_t)seq);
	x.g.t_start_min = a;
	x.g.t_end_min = b;
	int o = 0;
	struct st_error e = {0};
	if (st_store_segment_put(f->s, &x.g, &o, &e) < 0 ||
	    o != ST_STORE_STORED)
		fail_msg("segment put: %s", e.msg);
}

static void seqs_of(struct fx *f, uint8_t dev, char *out)
{
	uint8_t id[16];
	id_of(id, dev);
	out[0] = 0;
	struct st_error e = {0};
	if (st_store_segment_list(f->s, id, 0, 100, collect_seqs, out, &e) < 0)
		fail_msg("segment list: %s", e.msg);
}

/* Whether a file holds a byte string anywhere (0 for a missing file). */
static bool file_has(const char *path, const uint8_t *needle, size_t n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	rewind(fp);
	uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
	size_t got = fread(b, 1, len > 0 ? (size_t)len : 0, fp);
	fclose(fp);
	bool found = got >= n && memmem(b, got, needle, n) != NULL;
	free(b);
	return found;
}

/* Forget is real on disk: with secure_delete on and the log checkpointed
 * and truncated, no file of the store holds the forgotten ciphertext. */
static void forget_and_checkpoint_leave_no_copy_in_any_file(void **state)
{
	struct fx *f = *state;
	world(f);
	struct fake_seg x;
	fake(&x, 0xd1, 1, 7, 0);
	static const char mark[] = "forgotten ciphertext 4f1c";
	for (size_t i = 0; i + sizeof mark <= sizeof x.body; i += sizeof mark)
		memcpy(x.body + i, mark, sizeof mark - 1);
	int o = 0;
	struct st_error e = {0};
	assert_int_equal(st_store_segment_put(f->s, &x.g, &o, &e), 0);
	char wal[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", f->db);
	assert_true(file_has(wal, (const uint8_t *)mark, sizeof mark - 1) ||
		    file_has(f->db, (const uint8_t *)mark, sizeof mark - 1));
	struct st_forget fg = {.from_min = 1000, .to_min = 1001,
			       .received_s = 2000};
	id_of(fg.device_id, 0xd1);
	memset(fg.request_id, 0x07, 16);
	uint64_t n = 0;
	assert_int_equal(st_store_forget(f->s, &fg, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st_store_checkpoint(f->s, &e), 0);
	assert_false(file_has(wal, (const uint8_t *)mark, sizeof mark - 1));
	assert_false(file_has(f->db, (const uint8_t *)mark, sizeof mark - 1));
	/* not inside a transaction */
	assert_int_equal(st_store_begin(f->s, &e), 0);
	assert_fails_with(st_store_checkpoint(f->s, &e), ST_E_STATE, &e,
			  "transaction");
	assert_int_equal(st_store_rollback(f->s, &e), 0);
}

static void forget_deletes_overlapping_segments_once(void **state)
{
	struct fx *f = *state;
	world(f);
	put_range(f, 0xd1, 1, 1, 1000, 1001);
	put_range(f, 0xd1, 1, 2, 1010, 1015);
	put_range(f, 0xd1, 1, 3, 1020, 1030);
	put_range(f, 0xd1, 1, 4, 1040, 1041);
	put_range(f, 0xd2, 2, 1, 1010, 1030); /* another device's */
	struct st_error e = {0};
	struct st_forget fg = {.from_min = 1015, .to_min = 1020,
			       .received_s = 2000};
	id_of(fg.device_id, 0xd1);
	memset(fg.request_id, 0x01, 16);
	uint64_t n = 99;
	/* [1015, 1020] touches 2 at its end and 3 at its start */
	assert_int_equal(st_store_forget(f->s, &fg, &n, &e), 0);
	assert_int_equal(n, 2);
	char seqs[256];
	seqs_of(f, 0xd1, seqs);
	assert_string_equal(seqs, "1/64;4/64;");
	seqs_of(f, 0xd2, seqs);
	assert_string_equal(seqs, "1/64;");
	/* the same request again: the first answer, nothing more deleted,
	 * whatever range the retry names */
	struct st_forget again = fg;
	again.from_min = 0;
	again.to_min = UINT32_MAX;
	n = 99;
	assert_int_equal(st_store_forget(f->s, &again, &n, &e), 0);
	assert_int_equal(n, 2);
	seqs_of(f, 0xd1, seqs);
	assert_string_equal(seqs, "1/64;4/64;");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM forgets"), 1);
	assert_int_equal(raw_int(f->db, "SELECT deleted FROM forgets"), 2);
	/* a request id is the device's: another device may reuse it */
	struct st_forget other = fg;
	id_of(other.device_id, 0xd2);
	assert_int_equal(st_store_forget(f->s, &other, &n, &e), 0);
	assert_int_equal(n, 1);
	/* a new request that matches nothing is recorded with 0 */
	struct st_forget none = fg;
	memset(none.request_id, 0x02, 16);
	none.from_min = none.to_min = 5000;
	assert_int_equal(st_store_forget(f->s, &none, &n, &e), 0);
	assert_int_equal(n, 0);
	/* the gaps show what was forgotten */
	uint8_t d1[16];
	id_of(d1, 0xd1);
	struct st_device_stats ds;
	assert_int_equal(st_store_device_stats(f->s, d1, &ds, &e), 0);
	assert_int_equal(ds.segments, 2);
	assert_int_equal(ds.max_seq, 4);
	assert_int_equal(ds.gaps, 2);
	/* refusals */
	struct st_forget bad = fg;
	memset(bad.request_id, 0x03, 16);
	id_of(bad.device_id, 0xd9);
	n = 99;
	assert_fails_with(st_store_forget(f->s, &bad, &n, &e), ST_E_NOT_FOUND,
			  &e, "not found");
	assert_int_equal(n, 99);
	id_of(bad.device_id, 0xd1);
	bad.from_min = 10;
	bad.to_min = 9;
	assert_fails_with(st_store_forget(f->s, &bad, &n, &e), ST_E_ORDER, &e,
			  "after");
	assert_int_equal(st_store_begin(f->s, &e), 0);
	bad.to_min = 2000;
	assert_fails_with(st_store_forget(f->s, &bad, &n, &e), ST_E_STATE, &e,
			  "transaction");
	assert_int_equal(st_store_rollback(f->s, &e), 0);
	seqs_of(f, 0xd1, seqs);
	assert_string_equal(seqs, "1/64;4/64;");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM forgets"), 3);
}

static void forget_under_faults_is_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct st_store *w = NULL;
	struct st_error e = {0};
	struct st_forget fg = {.from_min = 0, .to_min = 5000,
			       .received_s = 2000};
	id_of(fg.device_id, 0xd1);
	memset(fg.request_id, 0x01, 16);
	/* begin (1), forget (2), commit (3); before, after, sticky */
	for (int mode = 0; mode < 3; mode++) {
		for (long at = 1; at <= 3; at++) {
			fresh_wrapped(f, &w);
			struct st_store *plain = f->s;
			f->s = w; /* put_range through the wrapper */
			put_range(f, 0xd1, 1, 1, 1000, 1001);
			put_range(f, 0xd1, 1, 2, 1010, 1011);
			f->s = plain;
			bool after = mode == 1;
			st_store_fault_arm(w, &(struct st_store_fault_cfg){
						      .fail_at = at,
						      .after = after,
						      .sticky = mode == 2});
			uint64_t n = 77;
			assert_int_equal(st_store_forget(w, &fg, &n, &e),
					 ST_STORE_FAULT_RC);
			assert_int_equal(n, 77);
			assert_false(st_store_in_tx(w));
			bool done_ = after && at == 3;
			assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
							"segments"),
					 done_ ? 0 : 2);
			assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
							"forgets"),
					 done_ ? 1 : 0);
			/* the retry answers 2 either way and leaves 0 */
			st_store_fault_arm(w, NULL);
			assert_int_equal(st_store_forget(w, &fg, &n, &e), 0);
			assert_int_equal(n, 2);
			assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
							"segments"),
					 0);
		}
	}
	close_all(f, &w);
}

/* ---- schema 2: backup and counts ---- */

static void backup_is_a_whole_private_copy(void **state)
{
	struct fx *f = *state;
	world(f);
	put_range(f, 0xd1, 1, 1, 1000, 1001);
	put_range(f, 0xd1, 1, 2, 1002, 1003);
	struct st_token t;
	make_token(&t, 0x21, "ops");
	struct st_error e = {0};
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	char bk[PATH_MAX + 16];
	snprintf(bk, sizeof bk, "%s/backup.db", f->dir);
	/* a restrictive umask still gives a file the owner can write */
	mode_t old = umask(0377);
	int rc = st_store_backup(f->s, bk, &e);
	umask(old);
	if (rc < 0)
		fail_msg("backup: %s", e.msg);
	struct stat sb;
	assert_int_equal(stat(bk, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* an existing file is never overwritten */
	assert_fails_with(st_store_backup(f->s, bk, &e), ST_E_EXISTS, &e,
			  "already exists");
	assert_int_equal(stat(bk, &sb), 0);
	char nodir[PATH_MAX + 32];
	snprintf(nodir, sizeof nodir, "%s/no/such/dir.db", f->dir);
	assert_fails_with(st_store_backup(f->s, nodir, &e), -ENOENT, &e,
			  "cannot create");
	assert_fails_with(st_store_backup(f->s, "", &e), ST_E_INVAL, &e, "path");
	assert_int_equal(st_store_begin(f->s, &e), 0);
	char bk2[PATH_MAX + 16];
	snprintf(bk2, sizeof bk2, "%s/backup2.db", f->dir);
	assert_fails_with(st_store_backup(f->s, bk2, &e), ST_E_STATE, &e,
			  "transaction");
	assert_int_equal(st_store_rollback(f->s, &e), 0);
	assert_int_not_equal(access(bk2, F_OK), 0);
	/* rows written after the backup are not in it */
	put_range(f, 0xd1, 1, 3, 1004, 1005);
	/* the copy opens as a store and holds the rows */
	struct st_store *b = NULL;
	struct st_store_cfg c = {.path = bk, .clock = &f->clock};
	if (st_store_open(&st_store_sqlite, &c, &b, &e) < 0)
		fail_msg("open backup: %s", e.msg);
	struct st_store_counts n;
	assert_int_equal(st_store_counts(b, &n, &e), 0);
	assert_int_equal(n.people, 2);
	assert_int_equal(n.devices, 2);
	assert_int_equal(n.segments, 2);
	assert_int_equal(n.tokens, 1);
	uint8_t d1[16];
	id_of(d1, 0xd1);
	struct st_store_segment g;
	assert_int_equal(st_store_segment_get(b, d1, 2, &g, &e), 0);
	assert_int_equal(g.body_len, 64);
	assert_int_equal(g.body[0], 2);
	st_store_segment_fini(&g);
	struct st_person p;
	uint8_t ann[16];
	id_of(ann, 1);
	assert_int_equal(st_store_person_get(b, ann, &p, &e), 0);
	assert_int_equal(p.sealed_secret[0], 1 ^ 0xaa);
	st_store_close(b);
	assert_int_equal(count(f, NULL), 3); /* the original goes on */
}

static void counts_of_every_kind(void **state)
{
	struct fx *f = *state;
	struct st_error e = {0};
	struct st_store_counts c;
	memset(&c, 0xff, sizeof c);
	assert_int_equal(st_store_counts(f->s, &c, &e), 0);
	struct st_store_counts zero = {0};
	assert_memory_equal(&c, &zero, sizeof c);
	world(f);
	add_person(f, 3, "cy@example.com");
	add_device(f, 0xd3, 1);
	add_device(f, 0xd4, 3);
	uint8_t id[16];
	id_of(id, 0xd2);
	assert_int_equal(st_store_device_set_active(f->s, id, false, &e), 0);
	put_range(f, 0xd1, 1, 1, 1000, 1001);
	put_range(f, 0xd1, 1, 2, 1000, 1001);
	put_range(f, 0xd2, 2, 1, 1000, 1001);
	struct fake_seg x;
	fake(&x, 0xd1, 1, 1, 0x55); /* a conflict: one flag */
	int o;
	assert_int_equal(st_store_segment_put(f->s, &x.g, &o, &e), 0);
	assert_int_equal(o, ST_STORE_CONFLICT);
	struct st_token t;
	make_token(&t, 0x21, "ops");
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	make_token(&t, 0x22, "ci");
	assert_int_equal(st_store_token_add(f->s, &t, &e), 0);
	assert_int_equal(st_store_token_revoke(f->s, "ci", &e), 0);
	add_enroll_token(f->s, 0xe1, 1, 1000, 2000);
	add_enroll_token(f->s, 0xe2, 2, 1000, 2000);
	add_enroll_token(f->s, 0xe3, 3, 1000, 2000);
	struct st_device d;
	new_device(&d, 0xd5, 1);
	uint8_t h[32];
	memset(h, 0xe1, 32);
	assert_int_equal(st_store_enroll(f->s, h, &d, 1500, NULL, &e), 0);
	assert_int_equal(st_store_counts(f->s, &c, &e), 0);
	assert_int_equal(c.people, 3);
	assert_int_equal(c.devices, 5);
	assert_int_equal(c.devices_active, 4);
	assert_int_equal(c.segments, 3);
	assert_int_equal(c.segment_bytes, 3 * 64);
	assert_int_equal(c.flags, 1);
	assert_int_equal(c.tokens, 2); /* revoked ones too */
	assert_int_equal(c.enroll_tokens_unused, 2);
}

/* ---- schema 2: the fault seam forwards and counts every new call ---- */

/* Calls new operation i through w; *name is the backend call the fault
 * message names, *calls how many backend calls a clean run makes and
 * *at which of them is the operation itself. Returns -1 past the end. */
static int call_new_op(struct fx *f, struct st_store *w, int i,
		       const char **name, long *calls, long *at,
		       struct st_error *e)
{
	uint8_t id[16], h[32];
	*calls = 1;
	*at = 1;
	switch (i) {
	case 0: {
		*name = "person find";
		struct st_person p;
		return st_store_person_find(w, "ann@example.com", &p, e);
	}
	case 1: {
		*name = "device list";
		struct dev_seen s = {0};
		return st_store_device_list(w, NULL, 5, collect_devices, &s, e);
	}
	case 2:
		*name = "device backlog";
		*calls = 3;
		*at = 2;
		id_of(id, 0xd1);
		return st_store_device_backlog(w, id, 1, 2, 3, e);
	case 3: {
		*name = "device stats";
		struct st_device_stats ds;
		id_of(id, 0xd1);
		return st_store_device_stats(w, id, &ds, e);
	}
	case 4: {
		*name = "token add";
		*calls = 3;
		*at = 2;
		struct st_token t;
		make_token(&t, 0x21, "ops");
		return st_store_token_add(w, &t, e);
	}
	case 5: {
		*name = "token find";
		struct st_token t;
		memset(h, 0x21 ^ 0x0f, 32);
		return st_store_token_find(w, h, &t, e);
	}
	case 6: {
		*name = "token list";
		char names[128] = "";
		return st_store_token_list(w, collect_tokens, names, e);
	}
	case 7:
		*name = "token revoke";
		*calls = 3;
		*at = 2;
		return st_store_token_revoke(w, "ops", e);
	case 8: {
		*name = "enrollment token add";
		*calls = 3;
		*at = 2;
		struct st_enroll_token t = {0};
		memset(t.hash, 0xe1, 32);
		id_of(t.person_id, 1);
		t.created_s = 1000;
		t.expires_s = 2000;
		return st_store_enroll_token_add(w, &t, e);
	}
	case 9: {
		*name = "enrollment token use";
		*calls = 5;
		*at = 4;
		struct st_device d;
		new_device(&d, 0xd3, 1);
		memset(h, 0xe1, 32);
		return st_store_enroll(w, h, &d, 1500, NULL, e);
	}
	case 10:
		*name = "policy set current";
		*calls = 3;
		*at = 2;
		memset(h, 0x77, 32);
		return st_store_policy_set_current(w, h, 5000, e);
	case 11: {
		*name = "policy get current";
		struct st_store_policy p;
		int rc = st_store_policy_get_current(w, &p, e);
		if (rc == 0)
			st_store_policy_fini(&p);
		else
			assert_null(p.owned_);
		return rc;
	}
	case 12: {
		*name = "forget";
		*calls = 3;
		*at = 2;
		struct st_forget fg = {.from_min = 0, .to_min = 9};
		id_of(fg.device_id, 0xd1);
		uint64_t n;
		return st_store_forget(w, &fg, &n, e);
	}
	case 13: {
		*name = "backup";
		char bk[PATH_MAX + 16];
		snprintf(bk, sizeof bk, "%s/fault-backup.db", f->dir);
		return st_store_backup(w, bk, e);
	}
	case 14: {
		*name = "counts";
		struct st_store_counts c;
		return st_store_counts(w, &c, e);
	}
	default:
		return -1;
	}
}

static void fault_seam_forwards_and_counts_every_new_call(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_store *w = NULL;
	struct st_error e = {0};
	assert_int_equal(st_store_fault_wrap(f->s, &w, &e), 0);
	f->s = w;
	int ops = 0;
	for (int i = 0;; i++) {
		const char *name = NULL;
		long calls = 0, at = 0;
		char want[64];
		/* learn the case's numbers with a run that fails from its
		 * first call on, so does nothing */
		st_store_fault_arm(w, &(struct st_store_fault_cfg){
					      .fail_at = 1, .sticky = true});
		int rc = call_new_op(f, w, i, &name, &calls, &at, &e);
		if (rc == -1)
			break;
		assert_int_equal(rc, ST_STORE_FAULT_RC);
		/* failing at the operation's own call: that call is named */
		st_store_fault_arm(w, &(struct st_store_fault_cfg){.fail_at = at});
		e = (struct st_error){0};
		rc = call_new_op(f, w, i, &name, &calls, &at, &e);
		snprintf(want, sizeof want, "(%s)", name);
		assert_fails_with(rc, ST_STORE_FAULT_RC, &e, want);
		assert_int_equal(st_store_fault_failed(w), 1);
		assert_false(st_store_in_tx(w));
		/* a clean run: forwarded, and every backend call counted */
		st_store_fault_arm(w, NULL);
		rc = call_new_op(f, w, i, &name, &calls, &at, &e);
		if (rc < 0)
			fail_msg("op %d (%s): %s", i, name, e.msg);
		assert_int_equal(st_store_fault_calls(w), calls);
		ops++;
	}
	assert_int_equal(ops, 15);
	/* the clean runs did their work through the wrapper */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM forgets"), 1);
	assert_int_equal(raw_int(f->db, "SELECT revoked FROM tokens"), 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM devices"), 3);
}

/* ---- schema 3: pauses, resumes, confirmations ---- */

static void make_pause(struct st_pause *p, int scope, const char *value,
		       const char *reason)
{
	memset(p, 0, sizeof *p);
	p->scope = scope;
	snprintf(p->value, sizeof p->value, "%s", value);
	snprintf(p->reason, sizeof p->reason, "%s", reason);
	snprintf(p->by, sizeof p->by, "officer");
	p->created_s = 5000;
}

static uint64_t epoch_now(struct fx *f)
{
	uint64_t e = 0;
	struct st_error err = {0};
	if (st_store_epoch_get(f->s, &e, &err) < 0)
		fail_msg("epoch: %s", err.msg);
	return e;
}

struct pause_seen {
	char text[2048];
	int n;
};

static int collect_pauses(void *ctx, const struct st_pause *p)
{
	struct pause_seen *s = ctx;
	char row[400];
	snprintf(row, sizeof row, "%s:%s@%llu%s;", st_scope_name(p->scope),
		 p->value, (unsigned long long)p->epoch,
		 p->resumed_epoch ? "/resumed" : "");
	strcat(s->text, row);
	s->n++;
	return 0;
}

static uint64_t scope_devices(struct fx *f, int scope, const char *value)
{
	uint64_t n = 99;
	struct st_error e = {0};
	if (st_store_scope_devices(f->s, scope, value, &n, &e) < 0)
		fail_msg("scope devices: %s", e.msg);
	return n;
}

/* The pause answer's count: active devices of people on record, by the
 * same rules as covers() in the API. */
static void scope_devices_counts_what_a_pause_covers(void **state)
{
	struct fx *f = *state;
	world(f);
	add_person(f, 3, "cat@example.com");
	add_device(f, 0xd3, 3);
	add_device(f, 0xd4, 3);
	raw_exec(f->db, "UPDATE people SET grp = 'sales' WHERE name = "
			"'cat@example.com'");
	raw_exec(f->db, "UPDATE devices SET active = 0 WHERE id = "
			"x'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4'");
	add_person(f, 4, "dan@example.com");
	add_device(f, 0xd5, 4);
	raw_exec(f->db, "UPDATE people SET grp = '' WHERE name = "
			"'dan@example.com'");
	assert_int_equal(scope_devices(f, ST_SCOPE_ALL, ""), 4);
	assert_int_equal(scope_devices(f, ST_SCOPE_GROUP, "research"), 2);
	assert_int_equal(scope_devices(f, ST_SCOPE_GROUP, "sales"), 1);
	/* no group is not a group */
	assert_int_equal(scope_devices(f, ST_SCOPE_GROUP, ""), 0);
	assert_int_equal(scope_devices(f, ST_SCOPE_GROUP, "nobody"), 0);
	assert_int_equal(scope_devices(f, ST_SCOPE_USER, "cat@example.com"), 1);
	assert_int_equal(scope_devices(f, ST_SCOPE_USER, "eve@example.com"), 0);
	char dev[33];
	uint8_t d[16];
	id_of(d, 0xd3);
	st_store_id_hex(d, dev);
	assert_int_equal(scope_devices(f, ST_SCOPE_DEVICE, dev), 1);
	id_of(d, 0xd4); /* inactive */
	st_store_id_hex(d, dev);
	assert_int_equal(scope_devices(f, ST_SCOPE_DEVICE, dev), 0);
	assert_int_equal(scope_devices(f, ST_SCOPE_DEVICE, "d3d3"), 0);
	assert_int_equal(scope_devices(f, ST_SCOPE_DEVICE,
				       "zzd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3"),
			 0);
	struct st_error e = {0};
	uint64_t n;
	assert_int_equal(st_store_scope_devices(f->s, 9, "", &n, &e),
			 ST_E_INVAL);
}

static void pauses_raise_the_epoch_and_resume_ends_exactly_a_scope(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	assert_int_equal(epoch_now(f), 1);
	struct st_pause p;
	make_pause(&p, ST_SCOPE_ALL, "", "incident 42");
	p.discard = true;
	assert_int_equal(st_store_pause_add(f->s, &p, &e), 0);
	assert_int_equal(p.epoch, 2);
	assert_true(p.id > 0);
	make_pause(&p, ST_SCOPE_GROUP, "research", "audit of research");
	assert_int_equal(st_store_pause_add(f->s, &p, &e), 0);
	assert_int_equal(p.epoch, 3);
	make_pause(&p, ST_SCOPE_USER, "ann@example.com", "ann asked");
	assert_int_equal(st_store_pause_add(f->s, &p, &e), 0);
	assert_int_equal(p.epoch, 4);
	char dev[33];
	uint8_t d1[16];
	id_of(d1, 0xd1);
	st_store_id_hex(d1, dev);
	make_pause(&p, ST_SCOPE_DEVICE, dev, "laptop lost");
	assert_int_equal(st_store_pause_add(f->s, &p, &e), 0);
	assert_int_equal(p.epoch, 5);
	assert_int_equal(epoch_now(f), 5);

	/* a resume ends exactly its scope: the group's, not ann's */
	struct st_resume r = {.scope = ST_SCOPE_GROUP, .resumed_s = 6000};
	snprintf(r.value, sizeof r.value, "research");
	snprintf(r.by, sizeof r.by, "second-officer");
	snprintf(r.reason, sizeof r.reason, "audit done");
	uint64_t ep = 0, n = 0;
	assert_int_equal(st_store_resume(f->s, &r, &ep, &n, &e), 0);
	assert_int_equal(ep, 6);
	assert_int_equal(n, 1);
	/* nothing of that scope in force any more: refused, epoch kept */
	e = (struct st_error){0};
	assert_fails_with(st_store_resume(f->s, &r, &ep, &n, &e),
			  ST_E_NOT_FOUND, &e, "sealtrace status");
	assert_int_equal(epoch_now(f), 6);
	assert_int_equal(ep, 6); /* untouched on failure */

	struct pause_seen seen = {0};
	assert_int_equal(st_store_pause_list(f->s, true, 0, 100,
					     collect_pauses, &seen, &e),
			 0);
	char want[300];
	snprintf(want, sizeof want,
		 "all:@2;user:ann@example.com@4;device:%s@5;", dev);
	assert_string_equal(seen.text, want);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(st_store_pause_list(f->s, false, 0, 100,
					     collect_pauses, &seen, &e),
			 0);
	assert_int_equal(seen.n, 4);
	assert_non_null(strstr(seen.text, "group:research@3/resumed;"));
	/* paging: after the second row */
	memset(&seen, 0, sizeof seen);
	assert_int_equal(st_store_pause_list(f->s, false, 2, 1,
					     collect_pauses, &seen, &e),
			 0);
	assert_string_equal(seen.text, "user:ann@example.com@4;");
	/* who and why are kept on both sides */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pauses WHERE "
					"resumed_by = 'second-officer' AND "
					"resume_reason = 'audit done' AND "
					"resumed_s = 6000 AND resumed_epoch = 6 "
					"AND paused_by = 'officer'"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT discard FROM pauses WHERE "
					"epoch = 2"),
			 1);
	/* the epoch outlives the process */
	reopen(f);
	assert_int_equal(epoch_now(f), 6);
}

static void pause_and_resume_refuse_what_they_cannot_record(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	struct st_pause p;
	make_pause(&p, ST_SCOPE_ALL, "", "");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "reason");
	make_pause(&p, ST_SCOPE_ALL, "x", "why");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "no value");
	make_pause(&p, ST_SCOPE_GROUP, "", "why");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "value");
	make_pause(&p, ST_SCOPE_DEVICE, "D1D1", "why");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "hex");
	make_pause(&p, 9, "", "why");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "scope");
	make_pause(&p, ST_SCOPE_USER, "ann@example.com", "line\nbreak");
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_INVAL, &e,
			  "control");
	/* inside a transaction: the epoch must be durable on its own */
	make_pause(&p, ST_SCOPE_ALL, "", "why");
	assert_int_equal(st_store_begin(f->s, &e), 0);
	assert_fails_with(st_store_pause_add(f->s, &p, &e), ST_E_STATE, &e,
			  "transaction");
	assert_int_equal(st_store_rollback(f->s, &e), 0);
	assert_int_equal(epoch_now(f), 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pauses"), 0);
}

struct confirm_seen {
	int n;
	uint64_t last_seq[8];
};

static int collect_confirms(void *ctx, const struct st_pause_confirm *c)
{
	struct confirm_seen *s = ctx;
	if (s->n < 8)
		s->last_seq[s->n] = c->last_seq;
	s->n++;
	return 0;
}

static void confirms_count_once_per_device_and_pause(void **state)
{
	struct fx *f = *state;
	world(f);
	struct st_error e = {0};
	struct st_pause p;
	make_pause(&p, ST_SCOPE_ALL, "", "drill");
	assert_int_equal(st_store_pause_add(f->s, &p, &e), 0);
	uint8_t d1[16], d2[16], stray[16];
	id_of(d1, 0xd1);
	id_of(d2, 0xd2);
	id_of(stray, 0xee);
	bool rec = false;
	assert_int_equal(st_store_pause_confirm(f->s, d1, p.epoch, 7, 5100,
						&rec, &e),
			 0);
	assert_true(rec);
	/* again, with another answer: the first one stands */
	assert_int_equal(st_store_pause_confirm(f->s, d1, p.epoch, 9, 5200,
						&rec, &e),
			 0);
	assert_false(rec);
	assert_int_equal(st_store_pause_confirm(f->s, d2, p.epoch, 0, 5300,
						NULL, &e),
			 0);
	assert_fails_with(st_store_pause_confirm(f->s, stray, p.epoch, 1, 5300,
						 &rec, &e),
			  ST_E_NOT_FOUND, &e, "unknown");
	assert_fails_with(st_store_pause_confirm(f->s, d1, 77, 1, 5300, &rec,
						 &e),
			  ST_E_NOT_FOUND, &e, "epoch 77");
	assert_fails_with(st_store_pause_confirm(f->s, d1, p.epoch,
						 (uint64_t)INT64_MAX + 1, 1,
						 &rec, &e),
			  ST_E_CAP, &e, "2^63");
	struct confirm_seen seen = {0};
	assert_int_equal(st_store_pause_confirms_get(f->s, p.epoch, NULL, 10,
						     collect_confirms, &seen,
						     &e),
			 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.last_seq[0], 7); /* d1 sorts first */
	assert_int_equal(seen.last_seq[1], 0);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(st_store_pause_confirms_get(f->s, p.epoch, d1, 10,
						     collect_confirms, &seen,
						     &e),
			 0);
	assert_int_equal(seen.n, 1);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(st_store_pause_confirms_get(f->s, p.epoch + 1, NULL,
						     10, collect_confirms,
						     &seen, &e),
			 0);
	assert_int_equal(seen.n, 0);
}

static void pause_and_resume_all_or_nothing_under_faults(void **state)
{
	struct fx *f = *state;
	struct st_store *w = NULL;
	struct st_error e = {0};
	struct st_pause p;
	fresh_wrapped(f, &w);
	make_pause(&p, ST_SCOPE_ALL, "", "drill");
	st_store_fault_arm(w, &(struct st_store_fault_cfg){0});
	assert_int_equal(st_store_pause_add(w, &p, &e), 0);
	long total = st_store_fault_calls(w);
	assert_int_equal(total, 3); /* begin, pause add, commit */
	for (int mode = 0; mode < 3; mode++) {
		bool after = mode == 1, sticky = mode == 2;
		for (long n = 1; n <= total; n++) {
			fresh_wrapped(f, &w);
			st_store_fault_arm(w, &(struct st_store_fault_cfg){
						      .fail_at = n,
						      .after = after,
						      .sticky = sticky});
			make_pause(&p, ST_SCOPE_ALL, "", "drill");
			e = (struct st_error){0};
			int rc = st_store_pause_add(w, &p, &e);
			assert_int_equal(rc, ST_STORE_FAULT_RC);
			assert_int_equal(p.epoch, 0); /* no answer given */
			assert_false(st_store_in_tx(w));
			bool done_ = after && n == total;
			assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
							"pauses"),
					 done_ ? 1 : 0);
			assert_int_equal(raw_int(f->db, "SELECT value FROM "
							"settings WHERE key = "
							"'epoch'"),
					 done_ ? 2 : 1);
		}
	}
	/* a resume failing at its own call leaves the pause in force */
	fresh_wrapped(f, &w);
	make_pause(&p, ST_SCOPE_ALL, "", "drill");
	assert_int_equal(st_store_pause_add(w, &p, &e), 0);
	struct st_resume r = {.scope = ST_SCOPE_ALL, .resumed_s = 9};
	snprintf(r.by, sizeof r.by, "officer");
	uint64_t ep = 0, n = 0;
	st_store_fault_arm(w, &(struct st_store_fault_cfg){.fail_at = 2});
	assert_fails_with(st_store_resume(w, &r, &ep, &n, &e),
			  ST_STORE_FAULT_RC, &e, "(resume)");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pauses WHERE "
					"resumed_epoch IS NULL"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT value FROM settings WHERE "
					"key = 'epoch'"),
			 2);
	st_store_fault_arm(w, NULL);
	assert_int_equal(st_store_resume(w, &r, &ep, &n, &e), 0);
	assert_int_equal(ep, 3);
	close_all(f, &w);
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
		T(upgrades_a_version_1_database_in_place),
		T(person_find_by_exact_name),
		T(device_list_backlog_and_stats_with_gaps),
		T(tokens_add_find_list_revoke),
		T(enrollment_takes_the_tokens_person),
		T(enroll_tokens_and_every_refusal),
		T(enrollment_all_or_nothing_under_faults),
		T(policy_current_set_and_get),
		T(forget_deletes_overlapping_segments_once),
		T(forget_and_checkpoint_leave_no_copy_in_any_file),
		T(forget_under_faults_is_all_or_nothing),
		T(backup_is_a_whole_private_copy),
		T(counts_of_every_kind),
		T(fault_seam_forwards_and_counts_every_new_call),
		T(scope_devices_counts_what_a_pause_covers),
		T(pauses_raise_the_epoch_and_resume_ends_exactly_a_scope),
		T(pause_and_resume_refuse_what_they_cannot_record),
		T(confirms_count_once_per_device_and_pause),
		T(pause_and_resume_all_or_nothing_under_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
