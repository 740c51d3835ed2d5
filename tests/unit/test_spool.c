/* test_spool.c - the crash-safe spool: round trip with real sealed segments,
 * 0700 folders, the bound, recovery (partials, corrupt and truncated
 * segments), sequence numbers that never repeat, a fault at every call of
 * each operation, power loss at hundreds of seeded cut points, and kill -9
 * during a stream of puts. */
#include "helpers.h"
#include "fixtures.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "core/keys.h"
#include "core/seal.h"
#include "fs_faulty.c"

/* Pre-sealed segments, SEGS[seq] for seq 1..NSEG: sealing is the slow part,
 * so every test shares them. */
#define NSEG 240
static uint8_t DPK[32], PPK[32], *DSK, *PSK;
static struct st_buf SEGS[NSEG + 1];

static char *D;              /* per test: a fresh temporary folder */
static char SP[256];         /* D/spool */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int FDS_AT_START;

static int group_setup(void **s)
{
	(void)s;
	FDS_AT_START = count_fds();
	DSK = st_secret_new(ST_SIGN_SK_LEN);
	PSK = st_secret_new(ST_BOX_SK_LEN);
	if (st_sign_keypair(DPK, DSK) || st_box_keypair(PPK, PSK))
		return -1;
	struct st_events evs;
	st_events_init(&evs, true);
	fx_every_type(&evs);
	for (uint64_t q = 1; q <= NSEG; q++) {
		struct st_seal_params p;
		memset(&p, 0, sizeof p);
		memset(p.device_id, 0xd1, 16);
		memset(p.person_id, 0x9e, 16);
		p.seq = q;
		p.lease_seq = 3;
		memset(p.notice_hash, 0xab, 32);
		p.level = 2;
		st_buf_init(&SEGS[q], false);
		struct st_error e = {0};
		if (st_segment_seal(&p, &evs, PPK, DSK, NULL, &SEGS[q],
				    &e) < 0) {
			fprintf(stderr, "seal: %s\n", e.msg);
			return -1;
		}
	}
	st_events_fini(&evs);
	return 0;
}

static int group_teardown(void **s)
{
	(void)s;
	for (int q = 1; q <= NSEG; q++)
		st_buf_fini(&SEGS[q]);
	st_secret_free(DSK);
	st_secret_free(PSK);
	return 0;
}

static int setup(void **s)
{
	(void)s;
	D = fs_mkdtemp("spool");
	snprintf(SP, sizeof SP, "%s/spool", D);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	fs_rm_rf(D);
	free(D);
	return 0;
}

/* ---- helpers ---- */

static const char *spath(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], PATH_MAX, "%s/%s", SP, name);
	return buf[k];
}

static const char *segfile(uint64_t seq)
{
	char n[32];
	snprintf(n, sizeof n, "%020llu.seg", (unsigned long long)seq);
	return spath(n);
}

static int try_open(struct st_fs *fs, uint64_t max, struct st_spool **sp,
		    struct st_spool_recovery *rec, struct st_error *e)
{
	struct st_spool_cfg c = { .dir = SP, .max_bytes = max, .fs = fs,
				  .device_pk = DPK };
	return st_spool_open(&c, sp, rec, e);
}

static struct st_spool *open_ok(struct st_fs *fs, uint64_t max,
				struct st_spool_recovery *rec)
{
	struct st_error e = {0};
	struct st_spool *sp = NULL;
	if (try_open(fs, max, &sp, rec, &e) < 0)
		fail_msg("open %s: %s", SP, e.msg);
	return sp;
}

static uint64_t reserve(struct st_spool *sp)
{
	struct st_error e = {0};
	uint64_t q = 0;
	if (st_spool_next_seq(sp, &q, &e) < 0)
		fail_msg("next_seq: %s", e.msg);
	return q;
}

static void put_ok(struct st_spool *sp, uint64_t q)
{
	struct st_error e = {0};
	assert_true(q >= 1 && q <= NSEG);
	if (st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e) < 0)
		fail_msg("put %llu: %s", (unsigned long long)q, e.msg);
}

/* Reserves and puts the next n segments; returns the last seq. */
static uint64_t fill(struct st_spool *sp, int n)
{
	uint64_t q = 0;
	for (int i = 0; i < n; i++) {
		q = reserve(sp);
		put_ok(sp, q);
	}
	return q;
}

/* The spooled bytes of seq equal what was put, and they verify. */
static void assert_intact(struct st_spool *sp, uint64_t q)
{
	struct st_buf b;
	struct st_error e = {0};
	st_buf_init(&b, false);
	if (st_spool_read(sp, q, &b, &e) < 0)
		fail_msg("read %llu: %s", (unsigned long long)q, e.msg);
	assert_true(q >= 1 && q <= NSEG);
	assert_int_equal(b.len, SEGS[q].len);
	assert_memory_equal(b.p, SEGS[q].p, b.len);
	struct st_segment_header h;
	assert_int_equal(st_segment_verify(b.p, b.len, DPK, &h, &e), 0);
	assert_int_equal(h.seq, q);
	st_buf_fini(&b);
}

static size_t list(struct st_spool *sp, uint64_t **v)
{
	struct st_error e = {0};
	size_t n = 0;
	if (st_spool_list(sp, v, &n, &e) < 0)
		fail_msg("list: %s", e.msg);
	return n;
}

static bool listed(const uint64_t *v, size_t n, uint64_t q)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == q)
			return true;
	return false;
}

/* Number of entries of a folder whose name ends with suffix. */
static size_t count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0, sl = strlen(suffix);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l >= sl && !strcmp(de->d_name + l - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static char *read_text(const char *path)
{
	static char buf[1024];
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static uint64_t rng_state;
static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("ST_TEST_SEED");
	return s ? strtoull(s, NULL, 0) : 0x5ea17ace2024ull;
}

/* ---- behaviour ---- */

static void put_list_read_remove_round_trip(void **s)
{
	(void)s;
	struct st_spool_recovery rec;
	struct st_spool *sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.intact, 0);
	assert_int_equal(rec.next_seq, 1);
	assert_int_equal(rec.gap_reason, ST_REASON_NONE);
	for (uint64_t q = 1; q <= 3; q++) {
		assert_int_equal(reserve(sp), q);
		put_ok(sp, q);
	}
	assert_int_equal(st_spool_count(sp), 3);
	assert_int_equal(st_spool_bytes(sp),
			 SEGS[1].len + SEGS[2].len + SEGS[3].len);
	uint64_t *v;
	assert_int_equal(list(sp, &v), 3);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	assert_int_equal(v[2], 3);
	free(v);
	for (uint64_t q = 1; q <= 3; q++)
		assert_intact(sp, q);
	/* on disk under the documented name, nothing else left over */
	struct stat st;
	assert_int_equal(stat(segfile(2), &st), 0);
	assert_int_equal(st.st_size, (off_t)SEGS[2].len);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_suffix(SP, ".tmp"), 0);

	struct st_error e = {0};
	assert_int_equal(st_spool_remove(sp, 2, &e), 0);
	assert_false(stat(segfile(2), &st) == 0);
	assert_int_equal(st_spool_count(sp), 2);
	assert_int_equal(st_spool_bytes(sp), SEGS[1].len + SEGS[3].len);
	assert_int_equal(list(sp, &v), 2);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 3);
	free(v);
	struct st_buf b;
	st_buf_init(&b, false);
	assert_fails_with(st_spool_read(sp, 2, &b, &e), ST_E_NOT_FOUND, &e,
			  "not spooled");
	assert_fails_with(st_spool_remove(sp, 2, &e), ST_E_NOT_FOUND, &e,
			  "not spooled");
	st_buf_fini(&b);
	st_spool_close(sp);

	sp = open_ok(NULL, 0, &rec); /* and it all comes back */
	assert_int_equal(rec.intact, 2);
	assert_int_equal(rec.first_seq, 1);
	assert_int_equal(rec.last_seq, 3);
	assert_int_equal(rec.missing, 0);
	assert_intact(sp, 1);
	assert_intact(sp, 3);
	assert_int_equal(list(sp, &v), 2);
	free(v);
	st_spool_close(sp);
}

static void empty_list_is_null_and_zero(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	uint64_t *v = (uint64_t *)1;
	assert_int_equal(list(sp, &v), 0);
	assert_null(v);
	assert_int_equal(st_spool_bytes(sp), 0);
	st_spool_close(sp);
}

static void folders_are_created_0700(void **s)
{
	(void)s;
	mode_t old = umask(0); /* even with a permissive umask */
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	umask(old);
	struct stat st;
	assert_int_equal(stat(SP, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(spath("quarantine"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	st_spool_close(sp);
}

static void refuses_a_folder_others_can_enter(void **s)
{
	(void)s;
	assert_int_equal(mkdir(SP, 0700), 0);
	assert_int_equal(chmod(SP, 0750), 0);
	struct st_spool *sp = (struct st_spool *)1;
	struct st_error e = {0};
	assert_fails_with(try_open(NULL, 0, &sp, NULL, &e), -EPERM, &e,
			  "chmod 700");
	assert_null(sp);
	assert_non_null(strstr(e.msg, SP));
	assert_int_equal(chmod(SP, 0700), 0);
	assert_int_equal(mkdir(spath("quarantine"), 0755), 0);
	assert_int_equal(chmod(spath("quarantine"), 0755), 0);
	assert_fails_with(try_open(NULL, 0, &sp, NULL, &e), -EPERM, &e,
			  "chmod 700");
	assert_non_null(strstr(e.msg, "quarantine"));
}

static void refuses_a_spool_folder_that_is_a_file(void **s)
{
	(void)s;
	write_file(SP, "x", 1);
	struct st_spool *sp;
	struct st_error e = {0};
	int rc = try_open(NULL, 0, &sp, NULL, &e);
	assert_int_equal(rc, -ENOTDIR);
	assert_non_null(strstr(e.msg, "folder"));
}

static void one_spool_per_folder_at_a_time(void **s)
{
	(void)s;
	struct st_spool *a = open_ok(NULL, 0, NULL), *b = NULL;
	struct st_error e = {0};
	assert_fails_with(try_open(NULL, 0, &b, NULL, &e), ST_E_STATE, &e,
			  "in use");
	st_spool_close(a);
	b = open_ok(NULL, 0, NULL); /* released by close */
	st_spool_close(b);
}

static void full_spool_refuses_and_writes_nothing(void **s)
{
	(void)s;
	uint64_t max = SEGS[1].len + SEGS[2].len + SEGS[3].len / 2;
	struct st_spool *sp = open_ok(NULL, max, NULL);
	fill(sp, 2);
	uint64_t q = reserve(sp);
	struct st_error e = {0};
	assert_fails_with(st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e),
			  ST_E_SPOOL_FULL, &e, "recording stops");
	char want[64];
	snprintf(want, sizeof want, "%llu bytes",
		 (unsigned long long)(SEGS[1].len + SEGS[2].len));
	assert_non_null(strstr(e.msg, want)); /* says how much waits */
	/* nothing of it on disk, the others untouched */
	struct stat st;
	assert_false(stat(segfile(q), &st) == 0);
	assert_int_equal(count_suffix(SP, ".tmp"), 0);
	assert_int_equal(st_spool_count(sp), 2);
	assert_intact(sp, 1);
	assert_intact(sp, 2);
	/* once one is sent and removed, the same seq goes in */
	assert_int_equal(st_spool_remove(sp, 1, &e), 0);
	put_ok(sp, q);
	assert_intact(sp, q);
	st_spool_close(sp);

	/* a segment bigger than the whole bound never goes in */
	sp = open_ok(NULL, 100, NULL);
	q = reserve(sp);
	assert_fails_with(st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e),
			  ST_E_SPOOL_FULL, &e, "full");
	st_spool_close(sp);
}

static void put_checks_header_reservation_and_duplicates(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	struct st_error e = {0};
	/* not reserved yet */
	assert_fails_with(st_spool_put(sp, 1, SEGS[1].p, SEGS[1].len, &e),
			  ST_E_INVAL, &e, "never reserved");
	assert_int_equal(reserve(sp), 1);
	assert_int_equal(reserve(sp), 2);
	/* header names another seq */
	assert_fails_with(st_spool_put(sp, 1, SEGS[2].p, SEGS[2].len, &e),
			  ST_E_INVAL, &e, "header says seq 2");
	/* not a segment at all */
	uint8_t junk[400];
	memset(junk, 0x5a, sizeof junk);
	assert_fails_with(st_spool_put(sp, 1, junk, sizeof junk, &e),
			  ST_E_BAD_MAGIC, &e, "refusing segment 1");
	/* truncated by one byte */
	assert_fails_with(st_spool_put(sp, 1, SEGS[1].p, SEGS[1].len - 1, &e),
			  ST_E_TRUNCATED, &e, "refusing");
	assert_int_equal(st_spool_count(sp), 0);
	put_ok(sp, 1);
	assert_fails_with(st_spool_put(sp, 1, SEGS[1].p, SEGS[1].len, &e),
			  ST_E_EXISTS, &e, "already spooled");
	assert_int_equal(st_spool_count(sp), 1);
	assert_intact(sp, 1);
	st_spool_close(sp);
}

static void sequence_numbers_never_repeat(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	assert_int_equal(fill(sp, 3), 3);
	struct st_error e = {0};
	for (uint64_t q = 1; q <= 3; q++)
		assert_int_equal(st_spool_remove(sp, q, &e), 0);
	st_spool_close(sp);

	struct st_spool_recovery rec;
	sp = open_ok(NULL, 0, &rec); /* empty, yet it remembers */
	assert_int_equal(rec.intact, 0);
	assert_int_equal(rec.missing, 0); /* uploaded, not missing */
	assert_int_equal(rec.next_seq, 4);
	assert_int_equal(reserve(sp), 4);
	assert_int_equal(reserve(sp), 5); /* reserved, never stored */
	st_spool_close(sp);

	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(reserve(sp), 6);
	st_spool_close(sp);
	assert_non_null(strstr(read_text(spath("state")), "next_seq 7"));
}

static void missing_counts_reserved_numbers_never_stored(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	fill(sp, 1);
	reserve(sp); /* 2: sealed, then the agent died */
	reserve(sp); /* 3 */
	st_spool_close(sp);
	struct st_spool_recovery rec;
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.missing, 2);
	assert_int_equal(rec.gap_reason, ST_REASON_CRASH);
	assert_int_equal(rec.intact, 1);
	assert_int_equal(rec.next_seq, 4);
	/* a later put covers them: reported once per crash, not forever */
	put_ok(sp, reserve(sp));
	st_spool_close(sp);
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.missing, 0);
	assert_int_equal(rec.gap_reason, ST_REASON_NONE);
	st_spool_close(sp);
}

static void recovery_removes_partials_and_quarantines_bad_segments(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	fill(sp, 4);
	st_spool_close(sp);

	/* 2: one bit flipped in the sealed body */
	struct st_buf flip;
	st_buf_init(&flip, false);
	st_buf_put(&flip, SEGS[2].p, SEGS[2].len);
	flip.p[flip.len - 20] ^= 0x04;
	write_file(segfile(2), flip.p, flip.len);
	st_buf_fini(&flip);
	/* 3: cut short */
	assert_int_equal(truncate(segfile(3), (off_t)SEGS[3].len / 2), 0);
	/* 5: a good segment under another seq's name */
	write_file(segfile(5), SEGS[1].p, SEGS[1].len);
	/* a partial write and a file that is none of the spool's business */
	write_file(spath("00000000000000000006.seg.tmp"), SEGS[1].p, 100);
	write_file(spath("state.tmp"), "next", 4);
	write_file(spath("notes.txt"), "hi", 2);

	struct st_spool_recovery rec;
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.partial_removed, 2);
	assert_int_equal(rec.quarantined, 3);
	assert_int_equal(rec.intact, 2);
	assert_int_equal(rec.first_seq, 1);
	assert_int_equal(rec.last_seq, 4);
	assert_int_equal(rec.gap_reason, ST_REASON_CORRUPT);
	assert_int_equal(rec.missing, 0);
	assert_true(rec.next_seq >= 6); /* never reuses a quarantined seq */
	uint64_t *v;
	assert_int_equal(list(sp, &v), 2);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 4);
	free(v);
	assert_intact(sp, 1);
	assert_intact(sp, 4);
	assert_int_equal(st_spool_bytes(sp), SEGS[1].len + SEGS[4].len);
	assert_int_equal(count_suffix(SP, ".tmp"), 0);
	assert_int_equal(count_suffix(SP, ".seg"), 2);
	assert_non_null(read_text(spath("notes.txt"))); /* left alone */
	/* the quarantine keeps the evidence and says why */
	char q[512];
	snprintf(q, sizeof q, "%s/quarantine", SP);
	assert_int_equal(count_suffix(q, ".seg"), 3);
	assert_int_equal(count_suffix(q, ".reason"), 3);
	snprintf(q, sizeof q, "%s/quarantine/%020d.seg.reason", SP, 5);
	assert_non_null(strstr(read_text(q), "header says 1"));
	snprintf(q, sizeof q, "%s/quarantine/%020d.seg.reason", SP, 3);
	assert_non_null(strstr(read_text(q), "truncated"));
	snprintf(q, sizeof q, "%s/quarantine/%020d.seg.reason", SP, 2);
	assert_non_null(read_text(q));
	uint64_t n = reserve(sp);
	assert_true(n >= 6);
	st_spool_close(sp);

	sp = open_ok(NULL, 0, &rec); /* a second open has nothing to do */
	assert_int_equal(rec.quarantined, 0);
	assert_int_equal(rec.partial_removed, 0);
	assert_int_equal(rec.intact, 2);
	st_spool_close(sp);
}

static void recovery_quarantines_an_oversized_file(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	fill(sp, 1);
	st_spool_close(sp);
	/* sparse: past the cap without writing 64 MiB */
	assert_int_equal(truncate(segfile(1), (off_t)ST_SPOOL_SEG_MAX + 1), 0);
	struct st_spool_recovery rec;
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.quarantined, 1);
	assert_int_equal(rec.intact, 0);
	st_spool_close(sp);
}

static void malformed_state_is_refused_and_missing_state_rebuilt(void **s)
{
	(void)s;
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	fill(sp, 3);
	st_spool_close(sp);
	char *good = strdup(read_text(spath("state")));
	const char *bad[] = {
		"garbage",
		"sealtrace-spool-state 1\nnext_seq 0\nlast_put_seq 0\n",
		"sealtrace-spool-state 1\nnext_seq +4\nlast_put_seq 3\n",
		"sealtrace-spool-state 1\nnext_seq 4\nlast_put_seq 3\nx",
		"sealtrace-spool-state 1\nnext_seq 4\nlast_put_seq 9\n",
	};
	struct st_error e = {0};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(spath("state"), bad[i], strlen(bad[i]));
		assert_fails_with(try_open(NULL, 0, &sp, NULL, &e),
				  ST_E_CORRUPT, &e, "malformed");
	}
	write_file(spath("state"), good, strlen(good));
	free(good);
	struct st_spool_recovery rec;
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.state_rebuilt, 0);
	st_spool_close(sp);

	assert_int_equal(unlink(spath("state")), 0);
	sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.state_rebuilt, 1);
	assert_int_equal(rec.next_seq, 4);
	assert_int_equal(reserve(sp), 4);
	st_spool_close(sp);
}

/* ---- a fault at every call ---- */

/* After a failed call and a reopen on the real file system, the spool holds
 * seq whole or not at all, nothing partial and nothing quarantined. */
static bool whole_or_none(uint64_t q)
{
	struct st_spool_recovery rec;
	struct st_spool *sp = open_ok(NULL, 0, &rec);
	assert_int_equal(rec.quarantined, 0);
	assert_int_equal(count_suffix(SP, ".tmp"), 0);
	uint64_t *v;
	size_t n = list(sp, &v);
	bool there = listed(v, n, q);
	free(v);
	if (there)
		assert_intact(sp, q);
	st_spool_close(sp);
	return there;
}

static void fault_at_every_call_of_a_put(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	/* count the calls one put makes */
	struct st_spool *sp = open_ok(&f.base, 0, NULL);
	uint64_t q = reserve(sp);
	fs_fault_arm(&f, FS_OP_ANY, 0);
	put_ok(sp, q);
	long calls = f.calls;
	st_spool_close(sp);
	assert_true(calls >= 8); /* open, write, fsync, close, rename, dir */

	int failed = 0;
	for (long k = 1; k <= calls; k++) {
		fs_rm_rf(SP);
		fs_fault_arm(&f, FS_OP_ANY, 0);
		sp = open_ok(&f.base, 0, NULL);
		q = reserve(sp);
		fs_fault_arm(&f, FS_OP_ANY, k);
		struct st_error e = {0};
		int rc = st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e);
		assert_int_equal(f.failed, 1);
		if (rc < 0) {
			failed++;
			assert_int_equal(e.code, rc);
			assert_non_null(strstr(e.msg, SP)); /* names the path */
			/* the same put can simply be retried */
			put_ok(sp, q);
			assert_intact(sp, q);
			st_spool_close(sp);
			fs_rm_rf(SP);
			sp = open_ok(&f.base, 0, NULL);
			q = reserve(sp);
			fs_fault_arm(&f, FS_OP_ANY, k);
			rc = st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e);
			assert_true(rc < 0);
			st_spool_close(sp);
			bool there = whole_or_none(q);
			/* and after a restart the retry is safe either way */
			sp = open_ok(NULL, 0, NULL);
			rc = st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e);
			assert_int_equal(rc, there ? ST_E_EXISTS : 0);
			assert_intact(sp, q);
			st_spool_close(sp);
		} else {
			/* only bookkeeping after the durable point failed */
			assert_intact(sp, q);
			st_spool_close(sp);
			assert_true(whole_or_none(q));
			/* and once sent and removed, a crash (every later
			 * call fails) must not make it look missing */
			sp = open_ok(&f.base, 0, NULL);
			q = reserve(sp);
			fs_fault_arm(&f, FS_OP_ANY, k);
			assert_int_equal(st_spool_put(sp, q, SEGS[q].p,
						      SEGS[q].len, &e), 0);
			assert_int_equal(st_spool_remove(sp, q, &e), 0);
			fs_fault_arm_from(&f, FS_OP_ANY, 1);
			st_spool_close(sp);
			struct st_spool_recovery rec;
			sp = open_ok(NULL, 0, &rec);
			assert_int_equal(rec.missing, 0);
			st_spool_close(sp);
		}
	}
	assert_true(failed >= 6);
}

static void fault_at_every_call_of_next_seq_never_repeats(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_spool *sp = open_ok(&f.base, 0, NULL);
	fs_fault_arm(&f, FS_OP_ANY, 0);
	uint64_t handed = reserve(sp);
	long calls = f.calls;
	for (long k = 1; k <= calls; k++) {
		fs_fault_arm(&f, FS_OP_ANY, k);
		struct st_error e = {0};
		uint64_t q = 0;
		int rc = st_spool_next_seq(sp, &q, &e);
		if (rc == 0) {
			assert_true(q > handed);
			handed = q;
		} else {
			assert_non_null(strstr(e.msg, "state"));
		}
		/* a restart after the failure never hands out an old one */
		st_spool_close(sp);
		sp = open_ok(&f.base, 0, NULL);
		fs_fault_arm(&f, FS_OP_ANY, 0);
		q = reserve(sp);
		assert_true(q > handed);
		handed = q;
	}
	st_spool_close(sp);
}

static void fault_at_every_call_of_a_remove(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_spool *sp = open_ok(&f.base, 0, NULL);
	uint64_t q = fill(sp, 1);
	fs_fault_arm(&f, FS_OP_ANY, 0);
	struct st_error e = {0};
	assert_int_equal(st_spool_remove(sp, q, &e), 0);
	long calls = f.calls;
	st_spool_close(sp);
	for (long k = 1; k <= calls; k++) {
		fs_rm_rf(SP);
		sp = open_ok(&f.base, 0, NULL);
		q = fill(sp, 1);
		fs_fault_arm(&f, FS_OP_ANY, k);
		int rc = st_spool_remove(sp, q, &e);
		assert_true(rc < 0);
		st_spool_close(sp);
		whole_or_none(q);
	}
}

/* Builds a spool with 1, 2 intact, 3 corrupt and a partial write in
 * D/template, once; each run copies it. */
static void copy_tree(const char *from, const char *to)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from,
		 to);
	assert_int_equal(system(cmd), 0);
}

/* Spool with 1, 2 intact, 3 bit-flipped and a partial write, copied to
 * tmpl. */
static void make_recovery_case(const char *tmpl)
{
	struct st_spool *sp = open_ok(NULL, 0, NULL);
	fill(sp, 3);
	st_spool_close(sp);
	struct st_buf flip;
	st_buf_init(&flip, false);
	st_buf_put(&flip, SEGS[3].p, SEGS[3].len);
	flip.p[100] ^= 1;
	write_file(segfile(3), flip.p, flip.len);
	st_buf_fini(&flip);
	write_file(spath("00000000000000000004.seg.tmp"), "part", 4);
	copy_tree(SP, tmpl);
}

/* After whatever happened to a recovery of make_recovery_case, a reopen on
 * the real file system finds 1 and 2 intact and 3 in quarantine (never in
 * neither place), and no partial write. */
static void assert_recovered(void)
{
	struct st_spool_recovery rec;
	struct st_spool *sp = open_ok(NULL, 0, &rec);
	uint64_t *v;
	size_t n = list(sp, &v);
	assert_int_equal(n, 2); /* the good ones are never moved */
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	free(v);
	assert_intact(sp, 1);
	assert_intact(sp, 2);
	assert_int_equal(count_suffix(SP, ".tmp"), 0);
	char q[512];
	snprintf(q, sizeof q, "%s/quarantine", SP);
	assert_int_equal(count_suffix(q, ".seg"), 1);
	assert_true(reserve(sp) >= 4);
	st_spool_close(sp);
}

static void fault_at_every_call_of_a_recovery(void **s)
{
	(void)s;
	char tmpl[512];
	snprintf(tmpl, sizeof tmpl, "%s/template", D);
	make_recovery_case(tmpl);
	struct st_spool *sp;

	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	fs_fault_arm(&f, FS_OP_ANY, 0);
	struct st_spool_recovery rec;
	sp = open_ok(&f.base, 0, &rec);
	assert_int_equal(rec.quarantined, 1);
	long calls = f.calls;
	st_spool_close(sp);
	for (long k = 1; k <= calls; k++) {
		copy_tree(tmpl, SP);
		fs_fault_arm(&f, FS_OP_ANY, k);
		struct st_error e = {0};
		sp = NULL;
		int rc = try_open(&f.base, 0, &sp, &rec, &e);
		if (rc < 0) {
			assert_null(sp);
			assert_int_equal(e.code, rc);
			assert_true(e.msg[0] != 0);
		}
		st_spool_close(sp);
		assert_recovered();
	}
}

static void power_loss_during_recovery_never_loses_the_evidence(void **s)
{
	(void)s;
	char tmpl[512];
	snprintf(tmpl, sizeof tmpl, "%s/template", D);
	make_recovery_case(tmpl);
	copy_tree(tmpl, SP);
	struct fs_pl *pl = fs_pl_new(D);
	struct st_spool *sp = open_ok(fs_pl_fs(pl), 0, NULL);
	st_spool_close(sp);
	long calls = fs_pl_calls(pl);
	fs_pl_free(pl);
	for (long k = 1; k <= calls; k++)
		for (int fuzz = 0; fuzz < 2; fuzz++) {
			copy_tree(tmpl, SP);
			pl = fs_pl_new(D);
			fs_pl_set_cut_at(pl, k);
			if (fuzz)
				fs_pl_set_fuzz(pl, (uint64_t)k);
			struct st_error e = {0};
			sp = NULL;
			if (try_open(fs_pl_fs(pl), 0, &sp, NULL, &e) == 0)
				st_spool_close(sp);
			fs_pl_free(pl);
			assert_recovered();
		}
}

/* ---- power loss ---- */

/* The script makes ~450 file-system calls; each cut point replays it up to
 * the cut, then checks a reopen on the real file system. */
#define PL_STEPS 16
#define PL_CUTS 240

struct pl_log {
	uint64_t reserved_max;  /* highest seq next_seq returned */
	bool put_ok[NSEG + 1];  /* put returned 0 */
	bool removed[NSEG + 1]; /* remove returned 0 */
	uint64_t put_max;
	int in_flight;          /* 'n' next_seq, 'p' put, 'r' remove, 0 */
	uint64_t in_flight_seq;
};

/* A day in the life of a spool: reserve and put, remove what was "sent",
 * read and list, and once restart. Stops at the first failure. */
static void pl_script(struct st_fs *fs, struct pl_log *lg)
{
	struct st_error e = {0};
	struct st_spool *sp = NULL;
	memset(lg, 0, sizeof *lg);
	if (try_open(fs, 0, &sp, NULL, &e) < 0)
		return;
	uint64_t oldest = 1;
	for (int i = 0; i < PL_STEPS; i++) {
		uint64_t q = 0;
		lg->in_flight = 'n';
		if (st_spool_next_seq(sp, &q, &e) < 0)
			break;
		lg->reserved_max = q;
		lg->in_flight = 'p', lg->in_flight_seq = q;
		if (st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, &e) < 0)
			break;
		lg->put_ok[q] = true;
		lg->put_max = q;
		lg->in_flight = 0;
		if (i % 3 == 2) { /* the uploader acknowledged the oldest */
			lg->in_flight = 'r', lg->in_flight_seq = oldest;
			if (st_spool_remove(sp, oldest, &e) < 0)
				break;
			lg->removed[oldest++] = true;
			lg->in_flight = 0;
		}
		if (i % 5 == 4) {
			struct st_buf b;
			st_buf_init(&b, false);
			int rc = st_spool_read(sp, q, &b, &e);
			st_buf_fini(&b);
			if (rc < 0)
				break;
		}
		if (i == PL_STEPS / 2) { /* an orderly restart */
			st_spool_close(sp);
			sp = NULL;
			if (try_open(fs, 0, &sp, NULL, &e) < 0)
				break;
		}
	}
	st_spool_close(sp);
}

static void pl_check(const struct pl_log *lg, uint64_t seed, long k)
{
	struct st_spool_recovery rec;
	struct st_error e = {0};
	struct st_spool *sp = NULL;
	if (try_open(NULL, 0, &sp, &rec, &e) < 0)
		fail_msg("seed %llu cut %ld: reopen failed: %s",
			 (unsigned long long)seed, k, e.msg);
	if (rec.quarantined != 0)
		fail_msg("seed %llu cut %ld: %zu corrupt segments",
			 (unsigned long long)seed, k, rec.quarantined);
	uint64_t *v;
	size_t n = list(sp, &v);
	uint64_t pmax = 0;
	for (size_t i = 0; i < n; i++) {
		assert_intact(sp, v[i]); /* nothing corrupt is ever listed */
		if (v[i] > pmax)
			pmax = v[i];
		assert_true(v[i] <= lg->reserved_max + 1);
		if (lg->removed[v[i]] &&
		    !(lg->in_flight == 'r' && lg->in_flight_seq == v[i]))
			fail_msg("seed %llu cut %ld: removed %llu came back",
				 (unsigned long long)seed, k,
				 (unsigned long long)v[i]);
	}
	uint64_t hi = lg->put_max > pmax ? lg->put_max : pmax;
	for (uint64_t q = 1; q <= lg->reserved_max; q++) {
		bool there = listed(v, n, q);
		bool removing = lg->in_flight == 'r' && lg->in_flight_seq == q;
		if (lg->put_ok[q] && !lg->removed[q] && !there && !removing)
			fail_msg("seed %llu cut %ld: acknowledged put %llu "
				 "lost", (unsigned long long)seed, k,
				 (unsigned long long)q);
		/* every number is accounted for: there, removed, or
		 * reported missing */
		if (!there && !lg->removed[q] && q <= hi && !removing)
			fail_msg("seed %llu cut %ld: seq %llu vanished "
				 "without a trace", (unsigned long long)seed,
				 k, (unsigned long long)q);
	}
	/* an interrupted next_seq may or may not have reserved one more */
	uint64_t miss = lg->reserved_max > hi ? lg->reserved_max - hi : 0;
	bool extra = lg->in_flight == 'n' &&
		     rec.next_seq == lg->reserved_max + 2;
	if (!(rec.next_seq == lg->reserved_max + 1 || extra))
		fail_msg("seed %llu cut %ld: next_seq %llu after reserving "
			 "%llu", (unsigned long long)seed, k,
			 (unsigned long long)rec.next_seq,
			 (unsigned long long)lg->reserved_max);
	if (rec.missing != miss + (extra ? 1 : 0))
		fail_msg("seed %llu cut %ld: missing %llu, expected %llu",
			 (unsigned long long)seed, k,
			 (unsigned long long)rec.missing,
			 (unsigned long long)(miss + (extra ? 1 : 0)));
	if ((rec.partial_removed || rec.missing) &&
	    rec.gap_reason != ST_REASON_CRASH)
		fail_msg("seed %llu cut %ld: gap not reported",
			 (unsigned long long)seed, k);
	free(v);
	/* the spool goes on: the next number is new */
	uint64_t q = reserve(sp);
	assert_true(q > lg->reserved_max);
	st_spool_close(sp);
}

static void power_loss_at_seeded_cut_points(void **s)
{
	(void)s;
	struct pl_log lg;
	/* a dry run counts the calls of the whole script */
	struct fs_pl *pl = fs_pl_new(D);
	pl_script(fs_pl_fs(pl), &lg);
	long total = fs_pl_calls(pl);
	fs_pl_free(pl);
	assert_int_equal(lg.reserved_max, PL_STEPS);
	assert_true(total > 100);

	uint64_t seed = test_seed();
	rng_state = seed;
	for (int i = 0; i < PL_CUTS; i++) {
		/* a few fixed ones (the first calls, the very last), the
		 * rest random over the whole run */
		long k = i < 8 ? i + 1
			 : i == 8 ? total
				  : (long)(rng() % (uint64_t)total) + 1;
		fs_rm_rf(SP);
		pl = fs_pl_new(D);
		fs_pl_set_cut_at(pl, k);
		/* every other cut also lets some unsynced changes through */
		if (i % 2)
			fs_pl_set_fuzz(pl, rng());
		pl_script(fs_pl_fs(pl), &lg);
		assert_true(fs_pl_was_cut(pl));
		fs_pl_free(pl);
		pl_check(&lg, seed, k);
	}
}

/* ---- kill -9 ---- */

#define KILL_ROUNDS 8

static void child_run(int wfd)
{
	struct st_spool_cfg c = { .dir = SP, .device_pk = DPK };
	struct st_spool *sp;
	if (st_spool_open(&c, &sp, NULL, NULL) < 0)
		_exit(2);
	for (int i = 0;; i++) {
		uint64_t q;
		if (st_spool_next_seq(sp, &q, NULL) < 0)
			_exit(3);
		if (q > NSEG)
			for (;;)
				pause(); /* out of segments: await the kill */
		if (st_spool_put(sp, q, SEGS[q].p, SEGS[q].len, NULL) < 0)
			_exit(4);
		uint8_t rec[9] = { 'P' };
		memcpy(rec + 1, &q, 8);
		if (write(wfd, rec, 9) != 9)
			_exit(5);
		uint64_t *v = NULL;
		size_t n = 0;
		if (i % 2 && st_spool_list(sp, &v, &n, NULL) == 0 && n > 2) {
			uint64_t r = v[0];
			free(v);
			/* announced first: a kill mid-remove may go
			 * either way */
			rec[0] = 'r';
			memcpy(rec + 1, &r, 8);
			if (write(wfd, rec, 9) != 9)
				_exit(8);
			if (st_spool_remove(sp, r, NULL) < 0)
				_exit(6);
			rec[0] = 'R';
			memcpy(rec + 1, &r, 8);
			if (write(wfd, rec, 9) != 9)
				_exit(7);
		} else if (i % 2) {
			free(v);
		}
	}
}

static void kill_9_during_puts_loses_nothing_acknowledged(void **s)
{
	(void)s;
	static bool put[NSEG + 2], removed[NSEG + 2], removing[NSEG + 2];
	memset(put, 0, sizeof put);
	memset(removed, 0, sizeof removed);
	memset(removing, 0, sizeof removing);
	uint64_t seed = test_seed() ^ 0x9;
	rng_state = seed;
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_run(p[1]);
			_exit(0);
		}
		close(p[1]);
		struct timespec ts = { 0, (long)(5 + rng() % 80) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			fail_msg("round %d: child ended by itself (%d)", round,
				 st);
		uint8_t rec[9];
		while (read(p[0], rec, 9) == 9) {
			uint64_t q;
			memcpy(&q, rec + 1, 8);
			assert_true(q >= 1 && q <= NSEG);
			bool *mark = rec[0] == 'P'   ? put
				     : rec[0] == 'r' ? removing
						     : removed;
			mark[q] = true;
		}
		close(p[0]);

		struct st_spool_recovery r;
		struct st_spool *sp = open_ok(NULL, 0, &r);
		assert_int_equal(r.quarantined, 0);
		uint64_t *v;
		size_t n = list(sp, &v);
		for (size_t i = 0; i < n; i++)
			assert_intact(sp, v[i]);
		for (uint64_t q = 1; q <= NSEG; q++) {
			if (put[q] && !removing[q] && !listed(v, n, q))
				fail_msg("round %d: acknowledged %llu lost",
					 round, (unsigned long long)q);
			if (removed[q] && listed(v, n, q))
				fail_msg("round %d: removed %llu is back",
					 round, (unsigned long long)q);
		}
		free(v);
		st_spool_close(sp);
	}
	size_t acked = 0;
	for (uint64_t q = 1; q <= NSEG; q++)
		acked += put[q];
	assert_true(acked > 0); /* the kills did land among puts */
}

/* Runs last: every descriptor the spool and the doubles opened in all the
 * tests above (failed calls, cuts, recoveries) was closed. */
static void no_descriptor_leaked(void **s)
{
	(void)s;
	assert_int_equal(count_fds(), FDS_AT_START);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(put_list_read_remove_round_trip),
		T(empty_list_is_null_and_zero),
		T(folders_are_created_0700),
		T(refuses_a_folder_others_can_enter),
		T(refuses_a_spool_folder_that_is_a_file),
		T(one_spool_per_folder_at_a_time),
		T(full_spool_refuses_and_writes_nothing),
		T(put_checks_header_reservation_and_duplicates),
		T(sequence_numbers_never_repeat),
		T(missing_counts_reserved_numbers_never_stored),
		T(recovery_removes_partials_and_quarantines_bad_segments),
		T(recovery_quarantines_an_oversized_file),
		T(malformed_state_is_refused_and_missing_state_rebuilt),
		T(fault_at_every_call_of_a_put),
		T(fault_at_every_call_of_next_seq_never_repeats),
		T(fault_at_every_call_of_a_remove),
		T(fault_at_every_call_of_a_recovery),
		T(power_loss_during_recovery_never_loses_the_evidence),
		T(power_loss_at_seeded_cut_points),
		T(kill_9_during_puts_loses_nothing_acknowledged),
		cmocka_unit_test(no_descriptor_leaked),
	};
#undef T
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
