/* fs_faulty.c - test doubles of the st_fs seam: fail the N-th call, and a
 * power-loss model (tests only; #include this file from a test program). */
#include "fs_faulty.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

void fs_rm_rf(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

char *fs_mkdtemp(const char *tag)
{
	char *p = malloc(PATH_MAX);
	if (!p)
		abort();
	snprintf(p, PATH_MAX, "/tmp/st-%s-XXXXXX", tag);
	if (!mkdtemp(p))
		abort();
	return p;
}

/* out = a "/" b; aborts rather than truncate a path */
static void pathcat(char out[PATH_MAX], const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + 1 + lb >= PATH_MAX)
		abort();
	memcpy(out, a, la);
	out[la] = '/';
	memcpy(out + la + 1, b, lb + 1);
}

/* ---- (a) fail the N-th call ---- */

static bool ff_hit(struct st_fs *fs, enum fs_op op)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (f->op != FS_OP_ANY && f->op != op)
		return false;
	f->calls++;
	if (f->fail_at > 0 && (f->calls == f->fail_at ||
			       (f->sticky && f->calls > f->fail_at))) {
		f->failed++;
		return true;
	}
	return false;
}

static int ff_open(struct st_fs *fs, const char *path, int flags, mode_t mode)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_OPEN))
		return -EIO;
	return f->inner->open(f->inner, path, flags, mode);
}

static ssize_t ff_write(struct st_fs *fs, int fd, const void *p, size_t n)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_WRITE))
		return -EIO;
	return f->inner->write(f->inner, fd, p, n);
}

static ssize_t ff_read(struct st_fs *fs, int fd, void *p, size_t n)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_READ))
		return -EIO;
	return f->inner->read(f->inner, fd, p, n);
}

static int ff_fsync(struct st_fs *fs, int fd)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_FSYNC))
		return -EIO;
	return f->inner->fsync(f->inner, fd);
}

static int ff_close(struct st_fs *fs, int fd)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	bool fail = ff_hit(fs, FS_OP_CLOSE);
	int rc = f->inner->close(f->inner, fd); /* Linux closes even on error */
	return fail ? -EIO : rc;
}

static int ff_rename(struct st_fs *fs, const char *a, const char *b)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_RENAME))
		return -EIO;
	return f->inner->rename(f->inner, a, b);
}

static int ff_unlink(struct st_fs *fs, const char *path)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_UNLINK))
		return -EIO;
	return f->inner->unlink(f->inner, path);
}

static int ff_mkdir(struct st_fs *fs, const char *path, mode_t mode)
{
	struct fs_fault *f = (struct fs_fault *)fs;
	if (ff_hit(fs, FS_OP_MKDIR))
		return -EIO;
	return f->inner->mkdir(f->inner, path, mode);
}

void fs_fault_init(struct fs_fault *f, struct st_fs *inner)
{
	memset(f, 0, sizeof *f);
	f->base = (struct st_fs){ ff_open, ff_write, ff_read, ff_fsync,
				  ff_close, ff_rename, ff_unlink, ff_mkdir };
	f->inner = inner;
}

void fs_fault_arm(struct fs_fault *f, enum fs_op op, long fail_at)
{
	f->op = op;
	f->fail_at = fail_at;
	f->calls = 0;
	f->failed = 0;
	f->sticky = false;
}

void fs_fault_arm_from(struct fs_fault *f, enum fs_op op, long fail_at)
{
	fs_fault_arm(f, op, fail_at);
	f->sticky = true;
}

/* ---- (b) power loss ---- */

#define PL_FDS_MAX 256
#define PL_DEPTH_MAX 16
#define PL_ENTRIES_MAX 100000 /* per folder scanned at start */

struct pl_node;

struct pl_ent {
	char *name;
	struct pl_node *node;
};

struct pl_ents {
	struct pl_ent *v;
	size_t n, cap;
};

struct pl_node {
	bool dir;
	mode_t mode;
	uint8_t *cur, *dur; /* file bytes now / as of the last fsync */
	size_t cur_len, cur_cap, dur_len;
	struct pl_ents cur_e, dur_e; /* folder entries now / as of its fsync */
	struct pl_ents init_e, fz_e; /* at the start / after a fuzzed cut */
	const uint8_t *out; /* the bytes a cut leaves (pl_choose_bytes) */
	size_t out_len;
	struct pl_node *all_next;
};

/* One metadata change, in the order it was made (for the fuzzed cut). */
struct pl_op {
	struct pl_node *from_dir, *to_dir; /* either may be NULL */
	char *from_name, *to_name;
	struct pl_node *node;
};

struct pl_fd {
	int fd;
	struct pl_node *node; /* NULL: untracked */
	size_t off;
	bool append;
};

struct fs_pl {
	struct st_fs base; /* first */
	struct st_fs *inner;
	char root[PATH_MAX];
	size_t rootlen;
	struct pl_node *rootn, *all;
	struct pl_fd fds[PL_FDS_MAX];
	size_t nfds;
	mode_t umask;
	long calls, cut_at;
	bool cut;
	bool fuzz;
	uint64_t fuzz_state;
	struct pl_op *log;
	size_t nlog, logcap;
	size_t synced_upto; /* log length at the last folder fsync */
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

static char *xstrdup(const char *s)
{
	char *c = strdup(s);
	if (!c)
		abort();
	return c;
}

static struct pl_node *pl_node_new(struct fs_pl *pl, bool dir, mode_t mode)
{
	struct pl_node *n = calloc(1, sizeof *n);
	if (!n)
		abort();
	n->dir = dir;
	n->mode = mode & 07777;
	n->all_next = pl->all;
	pl->all = n;
	return n;
}

static struct pl_node *ents_get(const struct pl_ents *e, const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].name, name) == 0)
			return e->v[i].node;
	return NULL;
}

static void ents_del(struct pl_ents *e, const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].name, name) == 0) {
			free(e->v[i].name);
			e->v[i] = e->v[--e->n];
			return;
		}
}

static void ents_set(struct pl_ents *e, const char *name, struct pl_node *n)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].name, name) == 0) {
			e->v[i].node = n;
			return;
		}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	e->v[e->n++] = (struct pl_ent){ xstrdup(name), n };
}

static void ents_clear(struct pl_ents *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	e->n = 0;
}

static void ents_copy(struct pl_ents *to, const struct pl_ents *from)
{
	ents_clear(to);
	for (size_t i = 0; i < from->n; i++)
		ents_set(to, from->v[i].name, from->v[i].node);
}

/* Records "node left from_dir/from_name and/or arrived at to_dir/to_name". */
static void pl_log(struct fs_pl *pl, struct pl_node *from_dir,
		   const char *from_name, struct pl_node *to_dir,
		   const char *to_name, struct pl_node *node)
{
	if (pl->nlog == pl->logcap) {
		pl->logcap = pl->logcap ? pl->logcap * 2 : 64;
		pl->log = xrealloc(pl->log, pl->logcap * sizeof *pl->log);
	}
	pl->log[pl->nlog++] = (struct pl_op){
		from_dir, to_dir, from_dir ? xstrdup(from_name) : NULL,
		to_dir ? xstrdup(to_name) : NULL, node };
}

static void file_sync(struct pl_node *n)
{
	n->dur = xrealloc(n->dur, n->cur_len);
	if (n->cur_len)
		memcpy(n->dur, n->cur, n->cur_len);
	n->dur_len = n->cur_len;
}

static void file_write(struct pl_node *n, size_t off, const void *p, size_t k)
{
	if (off + k > n->cur_cap) {
		size_t c = n->cur_cap ? n->cur_cap : 256;
		while (c < off + k)
			c *= 2;
		n->cur = xrealloc(n->cur, c);
		n->cur_cap = c;
	}
	if (off > n->cur_len)
		memset(n->cur + n->cur_len, 0, off - n->cur_len);
	memcpy(n->cur + off, p, k);
	if (off + k > n->cur_len)
		n->cur_len = off + k;
}

/* Splits path (under root) into its folder's node and its last name. false
 * when untracked. For root itself *parent is NULL and *self the root. */
static bool pl_resolve(struct fs_pl *pl, const char *path,
		       struct pl_node **parent, char name[NAME_MAX + 1],
		       struct pl_node **self)
{
	*parent = NULL;
	*self = NULL;
	if (strncmp(path, pl->root, pl->rootlen) != 0)
		return false;
	const char *r = path + pl->rootlen;
	if (*r && *r != '/')
		return false;
	struct pl_node *d = pl->rootn, *prev = NULL;
	char comp[NAME_MAX + 1] = "";
	bool any = false;
	while (*r) {
		while (*r == '/')
			r++;
		if (!*r)
			break;
		size_t k = strcspn(r, "/");
		if (k > NAME_MAX)
			return false;
		if (any) { /* descend into the previous component */
			struct pl_node *n = ents_get(&d->cur_e, comp);
			if (!n || !n->dir)
				return false;
			d = n;
		}
		memcpy(comp, r, k);
		comp[k] = 0;
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
			return false;
		any = true;
		prev = d;
		r += k;
	}
	if (!any) {
		*self = pl->rootn;
		return true;
	}
	*parent = prev;
	strcpy(name, comp);
	*self = ents_get(&prev->cur_e, comp);
	return true;
}

static struct pl_fd *pl_fd_get(struct fs_pl *pl, int fd)
{
	for (size_t i = 0; i < pl->nfds; i++)
		if (pl->fds[i].fd == fd)
			return &pl->fds[i];
	return NULL;
}

static void pl_fd_drop(struct fs_pl *pl, int fd)
{
	for (size_t i = 0; i < pl->nfds; i++)
		if (pl->fds[i].fd == fd) {
			pl->fds[i] = pl->fds[--pl->nfds];
			return;
		}
}

/* Counts the call; false when it must fail (cut before or by this call). */
static bool pl_enter(struct fs_pl *pl)
{
	if (pl->cut)
		return false;
	pl->calls++;
	if (pl->cut_at > 0 && pl->calls == pl->cut_at) {
		fs_pl_cut(pl);
		return false;
	}
	return true;
}

static int pl_open(struct st_fs *fs, const char *path, int flags, mode_t mode)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	struct pl_node *parent, *self;
	char name[NAME_MAX + 1];
	bool tr = pl_resolve(pl, path, &parent, name, &self);
	int fd = pl->inner->open(pl->inner, path, flags, mode);
	if (fd < 0)
		return fd;
	struct pl_node *node = NULL;
	if (tr) {
		node = self;
		if (!node && parent && (flags & O_CREAT)) {
			node = pl_node_new(pl, false, mode & ~pl->umask);
			ents_set(&parent->cur_e, name, node);
			pl_log(pl, NULL, NULL, parent, name, node);
		} else if (node && !node->dir && (flags & O_TRUNC)) {
			node->cur_len = 0;
		}
	}
	if (pl->nfds == PL_FDS_MAX)
		abort();
	pl->fds[pl->nfds++] = (struct pl_fd){ fd, node, 0,
					      (flags & O_APPEND) != 0 };
	return fd;
}

static ssize_t pl_write(struct st_fs *fs, int fd, const void *p, size_t n)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	ssize_t w = pl->inner->write(pl->inner, fd, p, n);
	struct pl_fd *f = pl_fd_get(pl, fd);
	if (w > 0 && f && f->node && !f->node->dir) {
		if (f->append)
			f->off = f->node->cur_len;
		file_write(f->node, f->off, p, (size_t)w);
		f->off += (size_t)w;
	}
	return w;
}

static ssize_t pl_read(struct st_fs *fs, int fd, void *p, size_t n)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	ssize_t r = pl->inner->read(pl->inner, fd, p, n);
	struct pl_fd *f = pl_fd_get(pl, fd);
	if (r > 0 && f)
		f->off += (size_t)r;
	return r;
}

static int pl_fsync(struct st_fs *fs, int fd)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	if (fcntl(fd, F_GETFD) < 0)
		return -errno;
	/* not passed to the disk: the model decides what a cut keeps */
	struct pl_fd *f = pl_fd_get(pl, fd);
	if (f && f->node) {
		if (f->node->dir) {
			ents_copy(&f->node->dur_e, &f->node->cur_e);
			pl->synced_upto = pl->nlog;
		} else {
			file_sync(f->node);
		}
	}
	return 0;
}

static int pl_close(struct st_fs *fs, int fd)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	bool ok = pl_enter(pl);
	pl_fd_drop(pl, fd);
	int rc = pl->inner->close(pl->inner, fd); /* even after a cut */
	return ok ? rc : -EIO;
}

static int pl_rename(struct st_fs *fs, const char *a, const char *b)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	struct pl_node *pa, *sa, *pb, *sb;
	char na[NAME_MAX + 1], nb[NAME_MAX + 1];
	bool ta = pl_resolve(pl, a, &pa, na, &sa);
	bool tb = pl_resolve(pl, b, &pb, nb, &sb);
	int rc = pl->inner->rename(pl->inner, a, b);
	if (rc < 0)
		return rc;
	if (ta && pa && sa) {
		ents_del(&pa->cur_e, na);
		if (tb && pb)
			ents_set(&pb->cur_e, nb, sa);
		pl_log(pl, pa, na, tb ? pb : NULL, nb, sa);
	}
	return 0;
}

static int pl_unlink(struct st_fs *fs, const char *path)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	struct pl_node *parent, *self;
	char name[NAME_MAX + 1];
	bool tr = pl_resolve(pl, path, &parent, name, &self);
	int rc = pl->inner->unlink(pl->inner, path);
	if (rc < 0)
		return rc;
	if (tr && parent) {
		ents_del(&parent->cur_e, name);
		pl_log(pl, parent, name, NULL, NULL, self);
	}
	return 0;
}

static int pl_mkdir(struct st_fs *fs, const char *path, mode_t mode)
{
	struct fs_pl *pl = (struct fs_pl *)fs;
	if (!pl_enter(pl))
		return -EIO;
	struct pl_node *parent, *self;
	char name[NAME_MAX + 1];
	bool tr = pl_resolve(pl, path, &parent, name, &self);
	int rc = pl->inner->mkdir(pl->inner, path, mode);
	if (rc < 0)
		return rc;
	if (tr && parent) {
		struct pl_node *n = pl_node_new(pl, true, mode & ~pl->umask);
		ents_set(&parent->cur_e, name, n);
		pl_log(pl, NULL, NULL, parent, name, n);
	}
	return 0;
}

/* Loads what is on disk under path into dir, as durable. */
static void pl_import(struct fs_pl *pl, const char *path, struct pl_node *dir,
		      int depth)
{
	if (depth > PL_DEPTH_MAX)
		abort();
	DIR *d = opendir(path);
	if (!d)
		abort();
	struct dirent *de;
	size_t seen = 0;
	while ((de = readdir(d))) {
		if (++seen > PL_ENTRIES_MAX)
			abort();
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[PATH_MAX];
		pathcat(p, path, de->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			abort();
		struct pl_node *n;
		if (S_ISDIR(st.st_mode)) {
			n = pl_node_new(pl, true, st.st_mode);
			pl_import(pl, p, n, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			n = pl_node_new(pl, false, st.st_mode);
			FILE *f = fopen(p, "rb");
			if (!f)
				abort();
			uint8_t buf[4096];
			size_t k;
			while ((k = fread(buf, 1, sizeof buf, f)) > 0)
				file_write(n, n->cur_len, buf, k);
			fclose(f);
			file_sync(n);
		} else {
			continue; /* links and devices are not modelled */
		}
		ents_set(&dir->cur_e, de->d_name, n);
	}
	closedir(d);
	ents_copy(&dir->dur_e, &dir->cur_e);
	ents_copy(&dir->init_e, &dir->cur_e);
}

static uint64_t pl_rand(struct fs_pl *pl) /* splitmix64 */
{
	uint64_t z = (pl->fuzz_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Decides, once per file, which bytes the cut leaves: the durable ones, or
 * with fuzz, when there are unsynced changes, possibly the current ones or a
 * torn prefix of them. */
static void pl_choose_bytes(struct fs_pl *pl)
{
	for (struct pl_node *n = pl->all; n; n = n->all_next) {
		n->out = n->dur;
		n->out_len = n->dur_len;
		if (n->dir || !pl->fuzz)
			continue;
		if (n->cur_len == n->dur_len &&
		    (!n->cur_len || !memcmp(n->cur, n->dur, n->cur_len)))
			continue;
		switch (pl_rand(pl) % 3) {
		case 0:
			break;
		case 1:
			n->out = n->cur;
			n->out_len = n->cur_len;
			break;
		default:
			n->out = n->cur;
			n->out_len = (size_t)(pl_rand(pl) % (n->cur_len + 1));
		}
	}
}

static void pl_make(const char *p, const struct pl_node *n, int depth,
		    struct fs_pl *pl);

/* With fuzz: metadata changes reach the disk in the order they were made
 * (as a journal commits them), so the cut keeps a random prefix of the
 * log, never shorter than what the last folder fsync covered. A rename is
 * one change: it lands whole or not at all. */
static void pl_choose_entries(struct fs_pl *pl)
{
	if (!pl->fuzz)
		return;
	size_t span = pl->nlog - pl->synced_upto;
	size_t m = pl->synced_upto + (size_t)(pl_rand(pl) % (span + 1));
	for (struct pl_node *n = pl->all; n; n = n->all_next)
		if (n->dir)
			ents_copy(&n->fz_e, &n->init_e);
	for (size_t i = 0; i < m; i++) {
		const struct pl_op *o = &pl->log[i];
		if (o->from_dir)
			ents_del(&o->from_dir->fz_e, o->from_name);
		if (o->to_dir)
			ents_set(&o->to_dir->fz_e, o->to_name, o->node);
	}
}

static void pl_materialize(struct fs_pl *pl, const char *path,
			   const struct pl_node *dir, int depth)
{
	if (depth > PL_DEPTH_MAX)
		abort();
	const struct pl_ents *e = pl->fuzz ? &dir->fz_e : &dir->dur_e;
	for (size_t i = 0; i < e->n; i++) {
		char p[PATH_MAX];
		pathcat(p, path, e->v[i].name);
		pl_make(p, e->v[i].node, depth, pl);
	}
}

static void pl_make(const char *p, const struct pl_node *n, int depth,
		    struct fs_pl *pl)
{
	if (n->dir) {
		if (mkdir(p, 0700) != 0)
			abort();
		pl_materialize(pl, p, n, depth + 1);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);
		if (fd < 0)
			abort();
		if (n->out_len &&
		    write(fd, n->out, n->out_len) != (ssize_t)n->out_len)
			abort();
		close(fd);
	}
	if (chmod(p, n->mode) != 0)
		abort();
}

void fs_pl_cut(struct fs_pl *pl)
{
	if (pl->cut)
		return;
	pl->cut = true;
	DIR *d = opendir(pl->root);
	if (!d)
		abort();
	struct dirent *de;
	char p[PATH_MAX];
	/* collect first: removing while reading a folder is unspecified */
	char **names = NULL;
	size_t n = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		pathcat(p, pl->root, names[i]);
		fs_rm_rf(p);
		free(names[i]);
	}
	free(names);
	pl_choose_bytes(pl);
	pl_choose_entries(pl);
	pl_materialize(pl, pl->root, pl->rootn, 0);
}

struct fs_pl *fs_pl_new(const char *root)
{
	struct fs_pl *pl = calloc(1, sizeof *pl);
	if (!pl)
		abort();
	pl->base = (struct st_fs){ pl_open, pl_write, pl_read, pl_fsync,
				   pl_close, pl_rename, pl_unlink, pl_mkdir };
	pl->inner = st_fs_posix();
	pl->rootlen = strlen(root);
	if (pl->rootlen >= sizeof pl->root)
		abort();
	memcpy(pl->root, root, pl->rootlen + 1);
	while (pl->rootlen > 1 && pl->root[pl->rootlen - 1] == '/')
		pl->root[--pl->rootlen] = 0;
	mode_t um = umask(0);
	umask(um);
	pl->umask = um;
	struct stat st;
	if (stat(pl->root, &st) != 0)
		abort();
	pl->rootn = pl_node_new(pl, true, st.st_mode);
	pl_import(pl, pl->root, pl->rootn, 0);
	return pl;
}

void fs_pl_free(struct fs_pl *pl)
{
	if (!pl)
		return;
	struct pl_node *n = pl->all;
	while (n) {
		struct pl_node *next = n->all_next;
		free(n->cur);
		free(n->dur);
		struct pl_ents *all[] = { &n->cur_e, &n->dur_e, &n->init_e,
					  &n->fz_e };
		for (size_t i = 0; i < 4; i++) {
			ents_clear(all[i]);
			free(all[i]->v);
		}
		free(n);
		n = next;
	}
	for (size_t i = 0; i < pl->nlog; i++) {
		free(pl->log[i].from_name);
		free(pl->log[i].to_name);
	}
	free(pl->log);
	free(pl);
}

struct st_fs *fs_pl_fs(struct fs_pl *pl)
{
	return &pl->base;
}

void fs_pl_set_cut_at(struct fs_pl *pl, long k)
{
	pl->cut_at = k;
}

long fs_pl_calls(const struct fs_pl *pl)
{
	return pl->calls;
}

void fs_pl_set_fuzz(struct fs_pl *pl, uint64_t seed)
{
	pl->fuzz = true;
	pl->fuzz_state = seed;
}

bool fs_pl_was_cut(const struct fs_pl *pl)
{
	return pl->cut;
}
