/* test_fs.c - the POSIX file system seam (errors as -errno, O_CLOEXEC) and
 * the test doubles the spool tests rely on: the N-th-call fault and the
 * power-loss model (what an fsync makes durable and what a cut takes). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/fs.h"
#include "fs_faulty.c"

static char *D;

static int setup(void **s)
{
	(void)s;
	D = fs_mkdtemp("fs");
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	fs_rm_rf(D);
	free(D);
	return 0;
}

static const char *P(const char *name)
{
	static char buf[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], PATH_MAX, "%s/%s", D, name);
	return buf[k];
}

/* Real-file helpers, outside the seam. */
static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Contents, or NULL when the file is absent. */
static char *get_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	size_t n = fread(buf[k], 1, sizeof buf[k] - 1, f);
	buf[k][n] = 0;
	fclose(f);
	return buf[k];
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Durable write through fs: create, write, fsync, close, fsync folder. */
static void durable_write(struct st_fs *fs, const char *dir, const char *path,
			  const char *text)
{
	int fd = fs->open(fs, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, text, strlen(text)),
			 (ssize_t)strlen(text));
	assert_int_equal(fs->fsync(fs, fd), 0);
	assert_int_equal(fs->close(fs, fd), 0);
	int dfd = fs->open(fs, dir, O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	assert_int_equal(fs->fsync(fs, dfd), 0);
	assert_int_equal(fs->close(fs, dfd), 0);
}

static void sync_folder(struct st_fs *fs, const char *dir)
{
	int dfd = fs->open(fs, dir, O_RDONLY | O_DIRECTORY, 0);
	assert_true(dfd >= 0);
	assert_int_equal(fs->fsync(fs, dfd), 0);
	assert_int_equal(fs->close(fs, dfd), 0);
}

/* ---- POSIX ---- */

static void posix_round_trip_of_every_operation(void **s)
{
	(void)s;
	struct st_fs *fs = st_fs_posix();
	assert_int_equal(fs->mkdir(fs, P("d"), 0700), 0);
	int fd = fs->open(fs, P("d/a"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, "hello", 5), 5);
	assert_int_equal(fs->fsync(fs, fd), 0);
	assert_int_equal(fs->close(fs, fd), 0);
	assert_int_equal(fs->rename(fs, P("d/a"), P("d/b")), 0);
	assert_false(exists(P("d/a")));
	fd = fs->open(fs, P("d/b"), O_RDONLY, 0);
	assert_true(fd >= 0);
	char buf[16] = {0};
	assert_int_equal(fs->read(fs, fd, buf, sizeof buf), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(fs->read(fs, fd, buf, sizeof buf), 0); /* EOF */
	assert_int_equal(fs->close(fs, fd), 0);
	assert_int_equal(fs->unlink(fs, P("d/b")), 0);
	assert_false(exists(P("d/b")));
	fd = fs->open(fs, P("d"), O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fs->fsync(fs, fd), 0); /* folders can be synced */
	assert_int_equal(fs->close(fs, fd), 0);
	assert_int_equal(rmdir(P("d")), 0);
}

static void posix_reports_errors_as_negative_errno(void **s)
{
	(void)s;
	struct st_fs *fs = st_fs_posix();
	assert_int_equal(fs->open(fs, P("missing"), O_RDONLY, 0), -ENOENT);
	assert_int_equal(fs->unlink(fs, P("missing")), -ENOENT);
	assert_int_equal(fs->rename(fs, P("missing"), P("x")), -ENOENT);
	assert_int_equal(fs->mkdir(fs, D, 0700), -EEXIST);
	int fd = fs->open(fs, P("f"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->close(fs, fd), 0);
	assert_int_equal(fs->open(fs, P("f"), O_WRONLY | O_CREAT | O_EXCL,
				  0600), -EEXIST);
	char c;
	assert_int_equal(fs->write(fs, 999, "x", 1), -EBADF);
	assert_int_equal(fs->read(fs, 999, &c, 1), -EBADF);
	assert_int_equal(fs->fsync(fs, 999), -EBADF);
	assert_int_equal(fs->close(fs, 999), -EBADF);
	/* the names come from the one error space */
	assert_string_equal(st_strerror(-ENOENT), strerror(ENOENT));
}

static void posix_opens_close_on_exec(void **s)
{
	(void)s;
	struct st_fs *fs = st_fs_posix();
	int fd = fs->open(fs, P("cloexec"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	int fl = fcntl(fd, F_GETFD);
	assert_true(fl >= 0 && (fl & FD_CLOEXEC));
	assert_int_equal(fs->close(fs, fd), 0);
}

static void posix_creates_with_the_mode_asked(void **s)
{
	(void)s;
	struct st_fs *fs = st_fs_posix();
	assert_int_equal(fs->mkdir(fs, P("m"), 0700), 0);
	struct stat st;
	assert_int_equal(stat(P("m"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	int fd = fs->open(fs, P("m/f"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	fs->close(fs, fd);
	assert_int_equal(stat(P("m/f"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* ---- fault at the N-th call ---- */

static void fault_fails_only_the_nth_call_and_does_nothing(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_fs *fs = &f.base;
	fs_fault_arm(&f, FS_OP_ANY, 2);
	assert_int_equal(fs->mkdir(fs, P("n1"), 0700), 0);
	assert_int_equal(fs->mkdir(fs, P("n2"), 0700), -EIO);
	assert_false(exists(P("n2"))); /* the failed call did nothing */
	assert_int_equal(fs->mkdir(fs, P("n3"), 0700), 0);
	assert_int_equal(f.failed, 1);
	assert_int_equal(f.calls, 3);
}

static void fault_can_target_one_operation(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_fs *fs = &f.base;
	fs_fault_arm(&f, FS_OP_FSYNC, 2);
	int fd = fs->open(fs, P("t"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, "x", 1), 1);
	assert_int_equal(fs->fsync(fs, fd), 0);
	assert_int_equal(fs->fsync(fs, fd), -EIO);
	assert_int_equal(fs->fsync(fs, fd), 0);
	assert_int_equal(fs->close(fs, fd), 0);
	assert_int_equal(f.calls, 3); /* only fsyncs counted */
	assert_int_equal(f.failed, 1);
}

static void fault_from_n_on_fails_every_later_call(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_fs *fs = &f.base;
	fs_fault_arm_from(&f, FS_OP_MKDIR, 2);
	assert_int_equal(fs->mkdir(fs, P("s1"), 0700), 0);
	assert_int_equal(fs->unlink(fs, P("nothing")), -ENOENT); /* not mkdir */
	assert_int_equal(fs->mkdir(fs, P("s2"), 0700), -EIO);
	assert_int_equal(fs->mkdir(fs, P("s3"), 0700), -EIO);
	assert_false(exists(P("s2")) || exists(P("s3")));
	assert_int_equal(f.failed, 2);
}

static void fault_on_close_still_closes_the_descriptor(void **s)
{
	(void)s;
	struct fs_fault f;
	fs_fault_init(&f, st_fs_posix());
	struct st_fs *fs = &f.base;
	fs_fault_arm(&f, FS_OP_CLOSE, 1);
	int fd = fs->open(fs, P("c"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->close(fs, fd), -EIO);
	assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
}

/* ---- power loss ---- */

static void powerloss_keeps_what_was_fsynced_and_dir_synced(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	durable_write(fs, D, P("kept"), "durable bytes");
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("kept")), "durable bytes");
	fs_pl_free(pl);
}

static void powerloss_drops_a_new_file_whose_folder_was_not_synced(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	int fd = fs->open(fs, P("new"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, "abc", 3), 3);
	assert_int_equal(fs->fsync(fs, fd), 0); /* data, but not the name */
	assert_int_equal(fs->close(fs, fd), 0);
	assert_true(exists(P("new")));
	fs_pl_cut(pl);
	assert_false(exists(P("new")));
	fs_pl_free(pl);
}

static void powerloss_empties_an_unfsynced_file_whose_name_is_durable(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	int fd = fs->open(fs, P("nodata"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, "lost", 4), 4);
	assert_int_equal(fs->close(fs, fd), 0);
	sync_folder(fs, D);
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("nodata")), "");
	fs_pl_free(pl);
}

static void powerloss_reverts_contents_to_the_last_fsync(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	durable_write(fs, D, P("v"), "version one");
	int fd = fs->open(fs, P("v"), O_WRONLY | O_TRUNC, 0);
	assert_true(fd >= 0);
	assert_int_equal(fs->write(fs, fd, "two", 3), 3);
	assert_int_equal(fs->close(fs, fd), 0);
	assert_string_equal(get_file(P("v")), "two");
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("v")), "version one");
	fs_pl_free(pl);
}

static void powerloss_reverts_an_unsynced_rename(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	durable_write(fs, D, P("old"), "payload");
	assert_int_equal(fs->rename(fs, P("old"), P("renamed")), 0);
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("old")), "payload");
	assert_false(exists(P("renamed")));
	fs_pl_free(pl);
}

static void powerloss_keeps_a_synced_rename_over_an_old_file(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	durable_write(fs, D, P("target"), "old");
	durable_write(fs, D, P("target.tmp"), "new");
	assert_int_equal(fs->rename(fs, P("target.tmp"), P("target")), 0);
	sync_folder(fs, D);
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("target")), "new");
	assert_false(exists(P("target.tmp")));
	fs_pl_free(pl);
}

static void powerloss_undoes_an_unsynced_unlink(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	durable_write(fs, D, P("gone"), "still here");
	durable_write(fs, D, P("really"), "bye");
	assert_int_equal(fs->unlink(fs, P("gone")), 0);
	assert_int_equal(fs->unlink(fs, P("really")), 0);
	assert_false(exists(P("gone")));
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("gone")), "still here");
	assert_string_equal(get_file(P("really")), "bye");
	fs_pl_free(pl);

	pl = fs_pl_new(D); /* now with the unlink made durable */
	fs = fs_pl_fs(pl);
	assert_int_equal(fs->unlink(fs, P("really")), 0);
	sync_folder(fs, D);
	fs_pl_cut(pl);
	assert_false(exists(P("really")));
	fs_pl_free(pl);
}

static void powerloss_drops_an_unsynced_folder_with_its_files(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	assert_int_equal(fs->mkdir(fs, P("sub"), 0700), 0);
	durable_write(fs, P("sub"), P("sub/f"), "inside");
	fs_pl_cut(pl);
	assert_false(exists(P("sub")));
	fs_pl_free(pl);

	pl = fs_pl_new(D);
	fs = fs_pl_fs(pl);
	assert_int_equal(fs->mkdir(fs, P("sub"), 0700), 0);
	sync_folder(fs, D);
	durable_write(fs, P("sub"), P("sub/f"), "inside");
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("sub/f")), "inside");
	struct stat st;
	assert_int_equal(stat(P("sub"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700); /* modes survive */
	fs_pl_free(pl);
}

static void powerloss_keeps_files_that_were_there_before(void **s)
{
	(void)s;
	put_file(P("before"), "pre-existing");
	struct fs_pl *pl = fs_pl_new(D);
	fs_pl_cut(pl);
	assert_string_equal(get_file(P("before")), "pre-existing");
	fs_pl_free(pl);
}

static void powerloss_fails_every_call_after_the_cut(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	int fd = fs->open(fs, P("open-at-cut"), O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	fs_pl_cut(pl);
	char c;
	assert_int_equal(fs->open(fs, P("x"), O_WRONLY | O_CREAT, 0600), -EIO);
	assert_int_equal(fs->write(fs, fd, "x", 1), -EIO);
	assert_int_equal(fs->read(fs, fd, &c, 1), -EIO);
	assert_int_equal(fs->fsync(fs, fd), -EIO);
	assert_int_equal(fs->rename(fs, P("a"), P("b")), -EIO);
	assert_int_equal(fs->unlink(fs, P("a")), -EIO);
	assert_int_equal(fs->mkdir(fs, P("a"), 0700), -EIO);
	assert_int_equal(fs->close(fs, fd), -EIO);
	assert_true(fcntl(fd, F_GETFD) < 0); /* but the descriptor is closed */
	assert_false(exists(P("x")));
	fs_pl_free(pl);
}

static void powerloss_cuts_at_the_kth_call_without_running_it(void **s)
{
	(void)s;
	struct fs_pl *pl = fs_pl_new(D);
	struct st_fs *fs = fs_pl_fs(pl);
	fs_pl_set_cut_at(pl, 4);
	assert_int_equal(fs->mkdir(fs, P("k1"), 0700), 0);      /* 1 */
	int dfd = fs->open(fs, D, O_RDONLY | O_DIRECTORY, 0);  /* 2 */
	assert_true(dfd >= 0);
	assert_int_equal(fs->fsync(fs, dfd), 0);                /* 3 */
	assert_int_equal(fs->mkdir(fs, P("k2"), 0700), -EIO);  /* 4: cut */
	assert_true(fs_pl_was_cut(pl));
	assert_int_equal(fs_pl_calls(pl), 4);
	assert_true(exists(P("k1")));  /* made durable by call 3 */
	assert_false(exists(P("k2"))); /* never ran */
	assert_int_equal(fs->close(fs, dfd), -EIO);
	fs_pl_free(pl);
}

static void powerloss_fuzz_keeps_the_durable_and_varies_the_rest(void **s)
{
	(void)s;
	int kept_new = 0, dropped_new = 0, torn = 0;
	for (uint64_t seed = 1; seed <= 64; seed++) {
		fs_rm_rf(P("f"));
		fs_rm_rf(P("durable"));
		fs_rm_rf(P("unsynced"));
		struct fs_pl *pl = fs_pl_new(D);
		fs_pl_set_fuzz(pl, seed);
		struct st_fs *fs = fs_pl_fs(pl);
		durable_write(fs, D, P("durable"), "0123456789");
		int fd = fs->open(fs, P("unsynced"), O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fs->write(fs, fd, "abcdefghij", 10), 10);
		assert_int_equal(fs->close(fs, fd), 0);
		fs_pl_cut(pl);
		fs_pl_free(pl);
		/* what was durable always stays */
		assert_string_equal(get_file(P("durable")), "0123456789");
		const char *u = get_file(P("unsynced"));
		if (!u) {
			dropped_new++;
			continue;
		}
		kept_new++;
		/* whatever stays is a prefix of what was written */
		assert_int_equal(strncmp(u, "abcdefghij", strlen(u)), 0);
		if (strlen(u) > 0 && strlen(u) < 10)
			torn++;
	}
	/* and the seeds reach every outcome */
	assert_true(kept_new > 0 && dropped_new > 0 && torn > 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(posix_round_trip_of_every_operation),
		T(posix_reports_errors_as_negative_errno),
		T(posix_opens_close_on_exec),
		T(posix_creates_with_the_mode_asked),
		T(fault_fails_only_the_nth_call_and_does_nothing),
		T(fault_can_target_one_operation),
		T(fault_from_n_on_fails_every_later_call),
		T(fault_on_close_still_closes_the_descriptor),
		T(powerloss_keeps_what_was_fsynced_and_dir_synced),
		T(powerloss_drops_a_new_file_whose_folder_was_not_synced),
		T(powerloss_empties_an_unfsynced_file_whose_name_is_durable),
		T(powerloss_reverts_contents_to_the_last_fsync),
		T(powerloss_reverts_an_unsynced_rename),
		T(powerloss_keeps_a_synced_rename_over_an_old_file),
		T(powerloss_undoes_an_unsynced_unlink),
		T(powerloss_drops_an_unsynced_folder_with_its_files),
		T(powerloss_keeps_files_that_were_there_before),
		T(powerloss_fails_every_call_after_the_cut),
		T(powerloss_cuts_at_the_kth_call_without_running_it),
		T(powerloss_fuzz_keeps_the_durable_and_varies_the_rest),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
