/* spool.c - the crash-safe spool: every change is a write to a .tmp name,
 * fsync, rename and folder fsync, so a crash or power loss leaves either the
 * old state or the new one, and open() cleans up whatever was in between.
 *
 * Every change to the disk goes through the st_fs seam. Three read-only
 * queries do not, because fs.h has no operation for them and they change
 * nothing on disk: listing a folder (opendir), fstat of a descriptor the
 * seam opened, and flock on the lock file the seam opened.
 *
 * Threads: the recorder (main thread) and the uploader share one spool, so
 * every public call runs under the spool's mutex; the internal helpers
 * assume it is held. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_DIGITS 20
#define SEG_SUFFIX ".seg"
#define TMP_SUFFIX ".tmp"
#define REASON_SUFFIX ".reason"
#define STATE_NAME "state"
#define LOCK_NAME "lock"
#define QUARANTINE_NAME "quarantine"
#define STATE_MAGIC "sealtrace-spool-state 1"
/* Room a path needs beyond the folder name: "/quarantine/" + a segment
 * name + ".reason" fits with margin. */
#define PATH_TAIL_MAX 64
#define IO_CHUNK ((size_t)64 << 10)
#define WRITE_CHUNK ((size_t)1 << 30)
/* flock with LOCK_NB never blocks; EINTR retries are still bounded. */
#define FLOCK_TRIES 100

struct ent {
	uint64_t seq;
	uint64_t size;
};

struct st_spool {
	struct st_fs *fs;
	char dir[PATH_MAX];
	char qdir[PATH_MAX];
	uint64_t max;
	uint8_t dpk[32];
	struct ent *ix; /* spooled segments, ascending seq */
	size_t n, cap;
	uint64_t bytes;
	uint64_t next_seq;  /* in memory == on disk after every success */
	uint64_t last_put;  /* true value; on disk may lag while dirty */
	bool state_dirty;
	int lock_fd;
	size_t quarantined; /* segments in quarantine/ */
	pthread_mutex_t mu; /* held by every public call */
};

/* ---- names and paths ---- */

static int join(char *out, const char *dir, const char *name,
		struct st_error *err)
{
	int k = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	if (k < 0 || k >= PATH_MAX)
		return st_fail(err, ST_E_CAP, "spool %s: path to %s is longer "
			       "than %d bytes; use a shorter spool folder",
			       dir, name, PATH_MAX);
	return 0;
}

static void seg_name(char out[32], uint64_t seq)
{
	snprintf(out, 32, "%020" PRIu64 SEG_SUFFIX, seq);
}

/* Exactly 20 digits then ".seg" (or, for quarantine, anything after). */
static bool parse_seq_prefix(const char *name, uint64_t *seq, bool exact)
{
	uint64_t v = 0;
	for (int i = 0; i < SEG_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	const char *rest = name + SEG_DIGITS;
	size_t sl = strlen(SEG_SUFFIX);
	if (strncmp(rest, SEG_SUFFIX, sl) != 0)
		return false;
	if (exact && rest[sl] != 0)
		return false;
	*seq = v;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a > b && memcmp(s + a - b, suffix, b) == 0;
}

/* The folder that holds path ("." when none, "/" for a top-level one). */
static void parent_of(const char *path, char out[PATH_MAX])
{
	size_t n = strnlen(path, PATH_MAX - 1);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0) {
		strcpy(out, ".");
		return;
	}
	memcpy(out, path, n);
	out[n] = 0;
}

/* ---- small I/O helpers over the seam ---- */

static int write_all(struct st_fs *fs, int fd, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		size_t want = n - off < WRITE_CHUNK ? n - off : WRITE_CHUNK;
		ssize_t w = fs->write(fs, fd, p + off, want);
		if (w < 0)
			return (int)w;
		if (w == 0)
			return st_errno(EIO); /* no progress: do not spin */
		off += (size_t)w;
	}
	return 0;
}

/* Reads a whole file into out (appended), refusing more than cap bytes. */
static int read_capped(struct st_fs *fs, const char *path, size_t cap,
		       struct st_buf *out, struct st_error *err)
{
	int fd = fs->open(fs, path, O_RDONLY, 0);
	if (fd < 0)
		return st_fail(err, fd, "cannot open %s: %s", path,
			       st_strerror(fd));
	size_t got = 0;
	int rc = 0;
	for (;;) {
		/* ask for at most one byte past the cap: enough to see it */
		size_t room = cap + 1 - got;
		size_t want = room < IO_CHUNK ? room : IO_CHUNK;
		if (!st_buf_reserve(out, want)) {
			rc = st_fail(err, ST_E_NOMEM, "%s: out of memory "
				     "reading %zu bytes", path, got + want);
			break;
		}
		ssize_t r = fs->read(fs, fd, out->p + out->len, want);
		if (r < 0) {
			rc = st_fail(err, (int)r, "cannot read %s at byte "
				     "%zu: %s", path, got, st_strerror((int)r));
			break;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		got += (size_t)r;
		if (got > cap) {
			rc = st_fail(err, ST_E_CAP, "%s is larger than the "
				     "%zu-byte cap", path, cap);
			break;
		}
	}
	fs->close(fs, fd);
	return rc;
}

static int sync_dir(struct st_fs *fs, const char *path, struct st_error *err)
{
	int fd = fs->open(fs, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return st_fail(err, fd, "cannot open folder %s to sync it: %s",
			       path, st_strerror(fd));
	int rc = fs->fsync(fs, fd);
	int rc2 = fs->close(fs, fd);
	if (rc == 0)
		rc = rc2;
	if (rc < 0)
		return st_fail(err, rc, "cannot sync folder %s: %s; the "
			       "last change in it may not survive a power "
			       "loss; check the disk", path, st_strerror(rc));
	return 0;
}

/* Writes data to dir/tmp, fsyncs, closes and renames it to dir/final. On an
 * error before the rename the tmp file is removed (best effort: open() also
 * removes it). The folder is not synced here. */
static int write_renamed(struct st_fs *fs, const char *dir, const char *tmp,
			 const char *final, const uint8_t *data, size_t len,
			 struct st_error *err)
{
	char tp[PATH_MAX], fp[PATH_MAX];
	int rc;
	if ((rc = join(tp, dir, tmp, err)) < 0 ||
	    (rc = join(fp, dir, final, err)) < 0)
		return rc;
	int fd = fs->open(fs, tp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return st_fail(err, fd, "cannot create %s: %s; check that the "
			       "spool folder is writable and the disk has "
			       "room", tp, st_strerror(fd));
	const char *what = "write";
	rc = write_all(fs, fd, data, len);
	if (rc == 0) {
		what = "fsync";
		rc = fs->fsync(fs, fd);
	}
	int rc2 = fs->close(fs, fd);
	if (rc == 0 && rc2 < 0) {
		what = "close";
		rc = rc2;
	}
	if (rc == 0) {
		what = "rename";
		rc = fs->rename(fs, tp, fp);
	}
	if (rc < 0) {
		fs->unlink(fs, tp);
		return st_fail(err, rc, "cannot %s %s: %s; check the disk "
			       "(free space, errors)", what, tp,
			       st_strerror(rc));
	}
	return 0;
}

/* ---- state file ---- */

static int format_state(char *out, size_t cap, uint64_t next, uint64_t last)
{
	return snprintf(out, cap, STATE_MAGIC "\nnext_seq %" PRIu64
			"\nlast_put_seq %" PRIu64 "\n", next, last);
}

static int write_state(struct st_spool *sp, uint64_t next, uint64_t last,
		       struct st_error *err)
{
	char s[ST_SPOOL_STATE_MAX];
	int k = format_state(s, sizeof s, next, last);
	int rc = write_renamed(sp->fs, sp->dir, STATE_NAME TMP_SUFFIX,
			       STATE_NAME, (const uint8_t *)s, (size_t)k, err);
	if (rc == 0)
		rc = sync_dir(sp->fs, sp->dir, err);
	if (rc < 0)
		st_error_prefix(err, "spool %s: sequence state not saved: ",
				sp->dir);
	return rc;
}

/* *have = false when there is no state file. */
static int load_state(struct st_spool *sp, bool *have, uint64_t *next,
		      uint64_t *last, struct st_error *err)
{
	char path[PATH_MAX];
	int rc;
	*have = false;
	if ((rc = join(path, sp->dir, STATE_NAME, err)) < 0)
		return rc;
	struct st_buf b;
	struct st_error e = {0};
	st_buf_init(&b, false);
	rc = read_capped(sp->fs, path, ST_SPOOL_STATE_MAX, &b, &e);
	if (rc < 0) {
		st_buf_fini(&b);
		if (rc == st_errno(ENOENT))
			return 0; /* a new spool, or see state_rebuilt */
		return st_fail(err, rc, "spool state: %s", e.msg);
	}
	/* Strict: the numbers must re-format to exactly the bytes read, so
	 * signs, spaces, leading zeros and trailing junk are all refused. */
	char s[ST_SPOOL_STATE_MAX + 1], again[ST_SPOOL_STATE_MAX];
	memcpy(s, b.p, b.len);
	s[b.len] = 0;
	size_t len = b.len;
	st_buf_fini(&b);
	uint64_t n = 0, l = 0;
	bool ok = strlen(s) == len &&
		  sscanf(s, STATE_MAGIC "\nnext_seq %" SCNu64
			 "\nlast_put_seq %" SCNu64, &n, &l) == 2;
	if (ok) {
		int k = format_state(again, sizeof again, n, l);
		ok = (size_t)k == len && memcmp(again, s, len) == 0 && n >= 1 &&
		     l < n;
	}
	if (!ok)
		return st_fail(err, ST_E_CORRUPT, "spool state file %s is "
			       "malformed, so the next sequence number is "
			       "unknown; restore it, or move it aside to "
			       "rebuild it from the spooled segments (numbers "
			       "of segments already uploaded could then "
			       "repeat)", path);
	*have = true;
	*next = n;
	*last = l;
	return 0;
}

/* ---- index of spooled segments ---- */

/* Position of seq, or where it would go. */
static size_t ix_find(const struct st_spool *sp, uint64_t seq, bool *found)
{
	size_t lo = 0, hi = sp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->ix[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < sp->n && sp->ix[lo].seq == seq;
	return lo;
}

static int ix_reserve(struct st_spool *sp, struct st_error *err)
{
	if (sp->n < sp->cap)
		return 0;
	if (sp->cap >= ST_SPOOL_FILES_MAX)
		return st_fail(err, ST_E_CAP, "spool %s holds %zu segments, "
			       "the most it tracks; send some first",
			       sp->dir, sp->n);
	size_t nc = sp->cap ? sp->cap * 2 : 64;
	struct ent *q = realloc(sp->ix, nc * sizeof *q);
	if (!q)
		return st_fail(err, ST_E_NOMEM, "spool %s: out of memory",
			       sp->dir);
	sp->ix = q;
	sp->cap = nc;
	return 0;
}

/* Room must have been reserved. */
static void ix_insert(struct st_spool *sp, uint64_t seq, uint64_t size)
{
	bool found;
	size_t at = ix_find(sp, seq, &found);
	memmove(sp->ix + at + 1, sp->ix + at, (sp->n - at) * sizeof *sp->ix);
	sp->ix[at] = (struct ent){ seq, size };
	sp->n++;
	sp->bytes += size;
}

/* ---- open and recovery ---- */

/* Creates path 0700 unless present, then checks it is a folder of ours that
 * nobody else can enter. *created tells whether mkdir made it. */
static int prepare_dir(struct st_spool *sp, const char *path, bool *created,
		       struct st_error *err)
{
	struct st_fs *fs = sp->fs;
	int rc = fs->mkdir(fs, path, 0700);
	*created = rc == 0;
	if (rc < 0 && rc != st_errno(EEXIST))
		return st_fail(err, rc, "cannot create spool folder %s: %s; "
			       "check that its parent exists and is writable",
			       path, st_strerror(rc));
	int fd = fs->open(fs, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return st_fail(err, fd, "cannot open spool folder %s: %s; it "
			       "must be a real folder, not a file or a "
			       "symbolic link", path, st_strerror(fd));
	struct stat st;
	rc = fstat(fd, &st) == 0 ? 0 : st_errno(errno);
	fs->close(fs, fd);
	if (rc < 0)
		return st_fail(err, rc, "cannot inspect spool folder %s: %s",
			       path, st_strerror(rc));
	if (st.st_uid != geteuid())
		return st_fail(err, st_errno(EPERM), "spool folder %s belongs "
			       "to uid %u, not to this user (uid %u); use a "
			       "folder of your own", path, (unsigned)st.st_uid,
			       (unsigned)geteuid());
	if (st.st_mode & 077)
		return st_fail(err, st_errno(EPERM), "spool folder %s is mode "
			       "%04o, so others could read or replace "
			       "segments; run chmod 700 %s", path,
			       (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int take_lock(struct st_spool *sp, struct st_error *err)
{
	char path[PATH_MAX];
	int rc;
	if ((rc = join(path, sp->dir, LOCK_NAME, err)) < 0)
		return rc;
	int fd = sp->fs->open(sp->fs, path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return st_fail(err, fd, "cannot open lock file %s: %s", path,
			       st_strerror(fd));
	rc = st_errno(EINTR);
	for (int i = 0; i < FLOCK_TRIES && rc == st_errno(EINTR); i++)
		rc = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : st_errno(errno);
	if (rc < 0) {
		sp->fs->close(sp->fs, fd);
		if (rc == st_errno(EWOULDBLOCK))
			return st_fail(err, ST_E_STATE, "spool %s is in use by "
				       "another sealtrace-agent (it holds %s); "
				       "stop that agent first", sp->dir, path);
		return st_fail(err, rc, "cannot lock %s: %s", path,
			       st_strerror(rc));
	}
	sp->lock_fd = fd;
	return 0;
}

struct scan {
	char **tmps;
	size_t ntmp, tmpcap;
	uint64_t *segs;
	size_t nseg, segcap;
	uint64_t qmax; /* highest seq in quarantine/, 0 = none */
	bool qany;
	size_t qn;     /* segments in quarantine/ */
};

static void scan_fini(struct scan *s)
{
	for (size_t i = 0; i < s->ntmp; i++)
		free(s->tmps[i]);
	free(s->tmps);
	free(s->segs);
}

static bool grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Lists the spool folder (quarantine == false) or quarantine/ without
 * changing anything; changes come after, so readdir never sees its own. */
static int scan_dir(struct st_spool *sp, bool quarantine, struct scan *s,
		    struct st_error *err)
{
	const char *path = quarantine ? sp->qdir : sp->dir;
	DIR *d = opendir(path);
	if (!d)
		return st_fail(err, st_errno(errno), "cannot list spool "
			       "folder %s: %s", path, strerror(errno));
	int rc = 0;
	size_t seen = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				rc = st_fail(err, st_errno(errno), "cannot "
					     "list spool folder %s: %s", path,
					     strerror(errno));
			break;
		}
		if (++seen > ST_SPOOL_FILES_MAX) {
			rc = st_fail(err, ST_E_CAP, "spool folder %s has more "
				     "than %u entries; move the extra files "
				     "out of it", path, ST_SPOOL_FILES_MAX);
			break;
		}
		const char *nm = de->d_name;
		uint64_t seq;
		if (quarantine) {
			if (parse_seq_prefix(nm, &seq, false)) {
				s->qany = true;
				if (parse_seq_prefix(nm, &seq, true))
					s->qn++;
				if (seq > s->qmax)
					s->qmax = seq;
			}
			continue;
		}
		bool oom = false;
		if (ends_with(nm, TMP_SUFFIX)) {
			/* only regular files: a folder named x.tmp is not
			 * ours to remove */
			struct stat st;
			if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISREG(st.st_mode))
				continue;
			char *c = strdup(nm);
			oom = !c || !grow((void **)&s->tmps, &s->tmpcap,
					  s->ntmp, sizeof *s->tmps);
			if (oom)
				free(c);
			else
				s->tmps[s->ntmp++] = c;
		} else if (parse_seq_prefix(nm, &seq, true)) {
			oom = !grow((void **)&s->segs, &s->segcap, s->nseg,
				    sizeof *s->segs);
			if (!oom)
				s->segs[s->nseg++] = seq;
		}
		if (oom) {
			rc = st_fail(err, ST_E_NOMEM, "spool %s: out of memory "
				     "listing it", path);
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Moves dir/name to quarantine/ with a .reason file saying why. The
 * quarantine folder is synced before the spool folder, so a power loss in
 * between leaves the segment in both places (and the next open moves it
 * again), never in neither. */
static int quarantine_as(struct st_spool *sp, const char *name,
			 const char *reason, struct st_error *err)
{
	struct st_fs *fs = sp->fs;
	char from[PATH_MAX], to[PATH_MAX], rname[64];
	int rc;
	snprintf(rname, sizeof rname, "%s" REASON_SUFFIX, name);
	if ((rc = join(from, sp->dir, name, err)) < 0 ||
	    (rc = join(to, sp->qdir, name, err)) < 0)
		return rc;
	size_t k = strnlen(reason, ST_SPOOL_REASON_MAX);
	char rpath[PATH_MAX];
	if ((rc = join(rpath, sp->qdir, rname, err)) < 0)
		return rc;
	int fd = fs->open(fs, rpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return st_fail(err, fd, "cannot create %s: %s", rpath,
			       st_strerror(fd));
	rc = write_all(fs, fd, (const uint8_t *)reason, k);
	if (rc == 0)
		rc = fs->fsync(fs, fd);
	int rc2 = fs->close(fs, fd);
	if (rc == 0)
		rc = rc2;
	if (rc < 0)
		return st_fail(err, rc, "cannot write %s: %s", rpath,
			       st_strerror(rc));
	if ((rc = fs->rename(fs, from, to)) < 0)
		return st_fail(err, rc, "cannot move segment %s to "
			       "%s: %s", from, to, st_strerror(rc));
	sp->quarantined++;
	if ((rc = sync_dir(fs, sp->qdir, err)) < 0 ||
	    (rc = sync_dir(fs, sp->dir, err)) < 0)
		return rc;
	return 0;
}

static int quarantine(struct st_spool *sp, const char *name, int why_code,
		      const char *why, struct st_error *err)
{
	/* The reason is the verifier's message about the header: no
	 * content can be in it, the body is never opened here. */
	char reason[ST_ERROR_MSG_MAX + 64];
	snprintf(reason, sizeof reason, "%s: %s\n", st_strerror(why_code),
		 why);
	return quarantine_as(sp, name, reason, err);
}

/* *qmax: the highest seq in quarantine/ afterwards (0 = none), *qany: it
 * holds any segment at all. */
static int recover(struct st_spool *sp, struct st_spool_recovery *rec,
		   uint64_t *qmax, bool *qany, struct st_error *err)
{
	struct scan s = {0};
	struct st_buf b;
	st_buf_init(&b, false);
	int rc;
	if ((rc = scan_dir(sp, false, &s, err)) < 0 ||
	    (rc = scan_dir(sp, true, &s, err)) < 0)
		goto out;
	sp->quarantined = s.qn;

	/* partial writes: a .tmp never became anything */
	for (size_t i = 0; i < s.ntmp; i++) {
		char p[PATH_MAX];
		if ((rc = join(p, sp->dir, s.tmps[i], err)) < 0)
			goto out;
		rc = sp->fs->unlink(sp->fs, p);
		if (rc < 0 && rc != st_errno(ENOENT)) {
			rc = st_fail(err, rc, "cannot remove partial write "
				     "%s: %s", p, st_strerror(rc));
			goto out;
		}
		rec->partial_removed++;
	}
	if (s.ntmp && (rc = sync_dir(sp->fs, sp->dir, err)) < 0)
		goto out;

	if (s.nseg)
		qsort(s.segs, s.nseg, sizeof *s.segs, cmp_u64);
	for (size_t i = 0; i < s.nseg; i++) {
		char name[32], p[PATH_MAX];
		uint64_t seq = s.segs[i];
		seg_name(name, seq);
		if ((rc = join(p, sp->dir, name, err)) < 0)
			goto out;
		st_buf_reset(&b);
		struct st_error why = {0};
		rc = read_capped(sp->fs, p, ST_SPOOL_SEG_MAX, &b, &why);
		if (rc < 0 && rc != ST_E_CAP) {
			/* a read error is the disk's problem, not the
			 * segment's: stop rather than quarantine good data */
			rc = st_fail(err, rc, "spool recovery: %s", why.msg);
			goto out;
		}
		if (rc == 0) {
			struct st_segment_header h;
			rc = st_segment_verify(b.p, b.len, sp->dpk, &h, &why);
			if (rc == 0 && h.seq != seq)
				rc = st_fail(&why, ST_E_CORRUPT, "file name "
					     "says seq %" PRIu64 " but the "
					     "header says %" PRIu64, seq,
					     h.seq);
		}
		if (rc < 0) {
			if ((rc = quarantine(sp, name, rc, why.msg, err)) < 0)
				goto out;
			rec->quarantined++;
			s.qany = true;
			if (seq > s.qmax)
				s.qmax = seq;
			continue;
		}
		if ((rc = ix_reserve(sp, err)) < 0)
			goto out;
		ix_insert(sp, seq, b.len);
		rec->intact++;
	}
	rc = 0;
out:
	*qmax = s.qmax;
	*qany = s.qany;
	st_buf_fini(&b);
	scan_fini(&s);
	return rc;
}

int st_spool_open(const struct st_spool_cfg *cfg, struct st_spool **out,
		  struct st_spool_recovery *rec, struct st_error *err)
{
	struct st_spool_recovery dummy;
	if (!rec)
		rec = &dummy;
	memset(rec, 0, sizeof *rec);
	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->dir || !cfg->dir[0] || !cfg->device_pk)
		return st_fail(err, ST_E_INVAL, "spool: a folder, a device "
			       "public key and an out pointer are required");
	size_t dl = strlen(cfg->dir);
	if (dl + PATH_TAIL_MAX >= PATH_MAX)
		return st_fail(err, ST_E_CAP, "spool folder name is %zu bytes, "
			       "over the %d this allows; use a shorter path",
			       dl, PATH_MAX - PATH_TAIL_MAX);
	struct st_spool *sp = calloc(1, sizeof *sp);
	if (!sp)
		return st_fail(err, ST_E_NOMEM, "spool %s: out of memory",
			       cfg->dir);
	sp->fs = cfg->fs ? cfg->fs : st_fs_posix();
	sp->max = cfg->max_bytes ? cfg->max_bytes : ST_SPOOL_MAX_DEFAULT;
	memcpy(sp->dpk, cfg->device_pk, sizeof sp->dpk);
	memcpy(sp->dir, cfg->dir, dl + 1);
	sp->lock_fd = -1;
	pthread_mutex_init(&sp->mu, NULL);

	int rc;
	if ((rc = join(sp->qdir, sp->dir, QUARANTINE_NAME, err)) < 0)
		goto fail;
	bool created, have = false;
	uint64_t next = 1, last = 0;
	char parent[PATH_MAX];
	parent_of(sp->dir, parent);
	if ((rc = prepare_dir(sp, sp->dir, &created, err)) < 0)
		goto fail;
	/* always: a folder made just before a crash may not be durable yet */
	if ((rc = sync_dir(sp->fs, parent, err)) < 0)
		goto fail;
	if ((rc = take_lock(sp, err)) < 0)
		goto fail;
	if ((rc = prepare_dir(sp, sp->qdir, &created, err)) < 0)
		goto fail;
	if (created && (rc = sync_dir(sp->fs, sp->dir, err)) < 0)
		goto fail;
	if ((rc = load_state(sp, &have, &next, &last, err)) < 0)
		goto fail;
	uint64_t qmax = 0;
	bool qany = false;
	if ((rc = recover(sp, rec, &qmax, &qany, err)) < 0)
		goto fail;

	/* the highest number known to have been stored */
	uint64_t seen = sp->n ? sp->ix[sp->n - 1].seq : 0;
	if (qmax > seen)
		seen = qmax;
	if (seen == UINT64_MAX) {
		rc = st_fail(err, ST_E_CAP, "spool %s: sequence numbers are "
			     "exhausted", sp->dir);
		goto fail;
	}
	uint64_t want_next = next > seen + 1 ? next : seen + 1;
	uint64_t hi = last > seen ? last : seen;
	rec->state_rebuilt = !have && (seen > 0 || qany);
	sp->next_seq = want_next;
	sp->last_put = hi;
	if (!have || want_next != next) {
		if ((rc = write_state(sp, want_next, sp->last_put, err)) < 0)
			goto fail;
	} else if (hi != last) {
		/* a put whose last_put write never landed: fix it before any
		 * remove can make the number look missing */
		sp->state_dirty = true;
	}
	rec->missing = want_next - 1 > hi ? want_next - 1 - hi : 0;
	rec->next_seq = want_next;
	if (sp->n) {
		rec->first_seq = sp->ix[0].seq;
		rec->last_seq = sp->ix[sp->n - 1].seq;
	}
	rec->gap_reason = rec->quarantined ? ST_REASON_CORRUPT
			  : (rec->partial_removed || rec->missing)
				  ? ST_REASON_CRASH
				  : ST_REASON_NONE;
	*out = sp;
	return 0;
fail:
	st_spool_close(sp);
	return rc;
}

void st_spool_close(struct st_spool *sp)
{
	if (!sp)
		return;
	if (sp->state_dirty && sp->lock_fd >= 0)
		write_state(sp, sp->next_seq, sp->last_put, NULL);
	if (sp->lock_fd >= 0)
		sp->fs->close(sp->fs, sp->lock_fd); /* releases the flock */
	free(sp->ix);
	pthread_mutex_destroy(&sp->mu);
	free(sp);
}

/* ---- operations ---- */

static int spool_next_seq(struct st_spool *sp, uint64_t *seq, struct st_error *err)
{
	if (!sp || !seq)
		return st_fail(err, ST_E_INVAL, "spool: next_seq needs a spool "
			       "and an out pointer");
	if (sp->next_seq == UINT64_MAX)
		return st_fail(err, ST_E_CAP, "spool %s: sequence numbers are "
			       "exhausted", sp->dir);
	int rc = write_state(sp, sp->next_seq + 1, sp->last_put, err);
	if (rc < 0)
		return rc;
	sp->state_dirty = false;
	*seq = sp->next_seq++;
	return 0;
}

static int spool_put(struct st_spool *sp, uint64_t seq, const uint8_t *seg,
		 size_t len, struct st_error *err)
{
	if (!sp || !seg || !len)
		return st_fail(err, ST_E_INVAL, "spool: put needs a spool and "
			       "a segment");
	int rc;
	struct st_segment_header h;
	if ((rc = st_segment_parse_header(seg, len, &h, err)) < 0) {
		st_error_prefix(err, "spool %s: refusing segment %" PRIu64
				": ", sp->dir, seq);
		return rc;
	}
	if (h.seq != seq)
		return st_fail(err, ST_E_INVAL, "spool %s: segment header says "
			       "seq %" PRIu64 " but it was put as seq %" PRIu64,
			       sp->dir, h.seq, seq);
	if (seq == 0 || seq >= sp->next_seq)
		return st_fail(err, ST_E_INVAL, "spool %s: seq %" PRIu64 " was "
			       "never reserved with st_spool_next_seq (next "
			       "is %" PRIu64 ")", sp->dir, seq, sp->next_seq);
	bool found;
	ix_find(sp, seq, &found);
	if (found)
		return st_fail(err, ST_E_EXISTS, "spool %s: segment %" PRIu64
			       " is already spooled; a sequence number is "
			       "never written twice", sp->dir, seq);
	if (len > sp->max || sp->bytes > sp->max - len)
		return st_fail(err, ST_E_SPOOL_FULL, "spool %s is full: "
			       "%" PRIu64 " bytes in %zu segments wait to be "
			       "sent and segment %" PRIu64 " needs %zu more "
			       "(bound %" PRIu64 " bytes); recording stops "
			       "until they are uploaded", sp->dir, sp->bytes,
			       sp->n, seq, len, sp->max);
	/* memory first: nothing may fail after the segment is durable */
	if ((rc = ix_reserve(sp, err)) < 0)
		return rc;

	char name[32], tmp[40], fp[PATH_MAX];
	seg_name(name, seq);
	snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, name);
	if ((rc = join(fp, sp->dir, name, err)) < 0)
		return rc;
	if ((rc = write_renamed(sp->fs, sp->dir, tmp, name, seg, len,
				err)) < 0)
		return rc;
	if ((rc = sync_dir(sp->fs, sp->dir, err)) < 0) {
		/* Not known durable: take it back so the put can be retried.
		 * Should it survive a crash anyway it is whole and verified,
		 * the same bytes a retry would write. */
		sp->fs->unlink(sp->fs, fp);
		return rc;
	}
	ix_insert(sp, seq, len);
	if (seq > sp->last_put) {
		sp->last_put = seq;
		struct st_error ignored = {0};
		/* the segment is durable: a failed state write is retried
		 * by the next next_seq or remove, not reported as a failed
		 * put (a retry would find the segment present) */
		sp->state_dirty = write_state(sp, sp->next_seq, sp->last_put,
					      &ignored) < 0;
	}
	return 0;
}

static int spool_read(struct st_spool *sp, uint64_t seq, struct st_buf *out,
		  struct st_error *err)
{
	if (!sp || !out)
		return st_fail(err, ST_E_INVAL, "spool: read needs a spool and "
			       "a buffer");
	bool found;
	size_t at = ix_find(sp, seq, &found);
	if (!found)
		return st_fail(err, ST_E_NOT_FOUND, "spool %s: segment %" PRIu64
			       " is not spooled", sp->dir, seq);
	char name[32], p[PATH_MAX];
	int rc;
	seg_name(name, seq);
	if ((rc = join(p, sp->dir, name, err)) < 0)
		return rc;
	st_buf_reset(out);
	if ((rc = read_capped(sp->fs, p, ST_SPOOL_SEG_MAX, out, err)) < 0)
		return rc;
	if (out->len != sp->ix[at].size)
		return st_fail(err, ST_E_CORRUPT, "spooled segment %s is %zu "
			       "bytes but was %" PRIu64 " when spooled; "
			       "something outside sealtrace changed it", p,
			       out->len, sp->ix[at].size);
	return 0;
}

static int spool_remove(struct st_spool *sp, uint64_t seq, struct st_error *err)
{
	if (!sp)
		return st_fail(err, ST_E_INVAL, "spool: remove needs a spool");
	bool found;
	size_t at = ix_find(sp, seq, &found);
	if (!found)
		return st_fail(err, ST_E_NOT_FOUND, "spool %s: segment %" PRIu64
			       " is not spooled", sp->dir, seq);
	int rc;
	/* last_put_seq must cover seq on disk before the file goes, or a
	 * crash would make an uploaded segment look missing */
	if (sp->state_dirty) {
		if ((rc = write_state(sp, sp->next_seq, sp->last_put, err)) < 0)
			return rc;
		sp->state_dirty = false;
	}
	char name[32], p[PATH_MAX];
	seg_name(name, seq);
	if ((rc = join(p, sp->dir, name, err)) < 0)
		return rc;
	if ((rc = sp->fs->unlink(sp->fs, p)) < 0)
		return st_fail(err, rc, "cannot remove spooled segment %s: %s",
			       p, st_strerror(rc));
	sp->bytes -= sp->ix[at].size;
	memmove(sp->ix + at, sp->ix + at + 1,
		(sp->n - at - 1) * sizeof *sp->ix);
	sp->n--;
	if ((rc = sync_dir(sp->fs, sp->dir, err)) < 0) {
		st_error_prefix(err, "segment %" PRIu64 " removed, but it may "
				"come back after a crash (and be sent again): ",
				seq);
		return rc;
	}
	return 0;
}

static int spool_list(struct st_spool *sp, uint64_t **seqs, size_t *n,
		  struct st_error *err)
{
	if (!sp || !seqs || !n)
		return st_fail(err, ST_E_INVAL, "spool: list needs a spool and "
			       "out pointers");
	*seqs = NULL;
	*n = 0;
	if (sp->n == 0)
		return 0;
	uint64_t *v = malloc(sp->n * sizeof *v);
	if (!v)
		return st_fail(err, ST_E_NOMEM, "spool %s: out of memory "
			       "listing %zu segments", sp->dir, sp->n);
	for (size_t i = 0; i < sp->n; i++)
		v[i] = sp->ix[i].seq;
	*seqs = v;
	*n = sp->n;
	return 0;
}

/* ---- the public calls: each under the spool's mutex ---- */

static void lock(const struct st_spool *sp)
{
	/* the mutex is the one mutable part of a const spool */
	pthread_mutex_lock((pthread_mutex_t *)&sp->mu);
}

static void unlock(const struct st_spool *sp)
{
	pthread_mutex_unlock((pthread_mutex_t *)&sp->mu);
}

int st_spool_next_seq(struct st_spool *sp, uint64_t *seq, struct st_error *err)
{
	if (!sp)
		return spool_next_seq(sp, seq, err);
	lock(sp);
	int rc = spool_next_seq(sp, seq, err);
	unlock(sp);
	return rc;
}

int st_spool_put(struct st_spool *sp, uint64_t seq, const uint8_t *seg,
		 size_t len, struct st_error *err)
{
	if (!sp)
		return spool_put(sp, seq, seg, len, err);
	lock(sp);
	int rc = spool_put(sp, seq, seg, len, err);
	unlock(sp);
	return rc;
}

int st_spool_read(struct st_spool *sp, uint64_t seq, struct st_buf *out,
		  struct st_error *err)
{
	if (!sp)
		return spool_read(sp, seq, out, err);
	lock(sp);
	int rc = spool_read(sp, seq, out, err);
	unlock(sp);
	return rc;
}

int st_spool_remove(struct st_spool *sp, uint64_t seq, struct st_error *err)
{
	if (!sp)
		return spool_remove(sp, seq, err);
	lock(sp);
	int rc = spool_remove(sp, seq, err);
	unlock(sp);
	return rc;
}

int st_spool_list(struct st_spool *sp, uint64_t **seqs, size_t *n,
		  struct st_error *err)
{
	if (!sp)
		return spool_list(sp, seqs, n, err);
	lock(sp);
	int rc = spool_list(sp, seqs, n, err);
	unlock(sp);
	return rc;
}

int st_spool_oldest(struct st_spool *sp, uint64_t *seq, struct st_error *err)
{
	if (!sp || !seq)
		return st_fail(err, ST_E_INVAL, "spool: oldest needs a spool "
			       "and an out pointer");
	lock(sp);
	int rc = 0;
	if (sp->n)
		*seq = sp->ix[0].seq;
	else
		rc = st_fail(err, ST_E_NOT_FOUND, "spool %s is empty", sp->dir);
	unlock(sp);
	return rc;
}

int st_spool_quarantine(struct st_spool *sp, uint64_t seq, const char *reason,
			struct st_error *err)
{
	if (!sp || !reason)
		return st_fail(err, ST_E_INVAL, "spool: quarantine needs a "
			       "spool and a reason");
	lock(sp);
	bool found;
	size_t at = ix_find(sp, seq, &found);
	int rc = 0;
	if (!found) {
		rc = st_fail(err, ST_E_NOT_FOUND, "spool %s: segment %" PRIu64
			     " is not spooled", sp->dir, seq);
		goto out;
	}
	/* as for remove: last_put_seq must cover seq before the file goes */
	if (sp->state_dirty) {
		if ((rc = write_state(sp, sp->next_seq, sp->last_put, err)) < 0)
			goto out;
		sp->state_dirty = false;
	}
	char name[32];
	seg_name(name, seq);
	size_t before = sp->quarantined;
	rc = quarantine_as(sp, name, reason, err);
	if (rc == 0 || sp->quarantined != before) {
		/* moved (a failed folder sync after the rename still moved
		 * it): it is out of the spool's count */
		sp->bytes -= sp->ix[at].size;
		memmove(sp->ix + at, sp->ix + at + 1,
			(sp->n - at - 1) * sizeof *sp->ix);
		sp->n--;
	}
out:
	unlock(sp);
	return rc;
}

uint64_t st_spool_bytes(const struct st_spool *sp)
{
	if (!sp)
		return 0;
	lock(sp);
	uint64_t v = sp->bytes;
	unlock(sp);
	return v;
}

size_t st_spool_count(const struct st_spool *sp)
{
	if (!sp)
		return 0;
	lock(sp);
	size_t v = sp->n;
	unlock(sp);
	return v;
}

size_t st_spool_quarantined(const struct st_spool *sp)
{
	if (!sp)
		return 0;
	lock(sp);
	size_t v = sp->quarantined;
	unlock(sp);
	return v;
}
