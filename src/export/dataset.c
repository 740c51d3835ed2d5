/* dataset.c - `sealtrace-export dataset`: see dataset.h. */
#include "export/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/client.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/segment.h"
#include "core/token.h"
#include "export/actions.h"
#include "export/open.h"
#include "export/rotate.h"
#include "filter/detect.h"
#include "filter/filter.h"

#define PLAN_MAX ((size_t)1 << 30)  /* bytes of the export's plan */
#define SEGMENT_MAX ((size_t)80 << 20)
#define FILES_MAX 100000
#define PATH_MAX_ 4096
#define B64 sodium_base64_VARIANT_ORIGINAL

#ifndef ST_DATADIR
#define ST_DATADIR "/usr/share/sealtrace"
#endif

struct out_file {
	char path[96]; /* relative: episodes/<id>.jsonl */
	uint8_t sha[32];
	uint64_t bytes;
};

struct writer {
	int dirfd;      /* the episodes folder */
	int fd;         /* the open episode, -1 */
	crypto_hash_sha256_state h;
	struct out_file *files;
	size_t n, cap;
	struct st_error *err;
	int rc;
};

static int w_begin(void *ctx, const char *id)
{
	struct writer *w = ctx;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		if (nc > FILES_MAX) {
			w->rc = st_fail(w->err, ST_E_CAP,
					"dataset: more than %d episodes",
					FILES_MAX);
			return -1;
		}
		void *p = realloc(w->files, nc * sizeof *w->files);
		if (!p) {
			w->rc = st_fail(w->err, ST_E_NOMEM, "out of memory");
			return -1;
		}
		w->files = p;
		w->cap = nc;
	}
	struct out_file *f = &w->files[w->n];
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "episodes/%s.jsonl", id);
	w->fd = openat(w->dirfd, f->path + 9,
		       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		w->rc = st_fail(w->err, st_errno(errno), "%s: %s", f->path,
				strerror(errno));
		return -1;
	}
	crypto_hash_sha256_init(&w->h);
	return 0;
}

static int w_step(void *ctx, const char *line, size_t len)
{
	struct writer *w = ctx;
	struct out_file *f = &w->files[w->n];
	size_t off = 0;
	while (off < len) {
		ssize_t k = write(w->fd, line + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->rc = st_fail(w->err, st_errno(errno),
					"%s: cannot write: %s", f->path,
					strerror(errno));
			return -1;
		}
		off += (size_t)k;
	}
	crypto_hash_sha256_update(&w->h, (const uint8_t *)line, len);
	f->bytes += len;
	return 0;
}

static int w_end(void *ctx, const char *id, uint64_t steps)
{
	(void)id;
	(void)steps;
	struct writer *w = ctx;
	struct out_file *f = &w->files[w->n];
	int rc = fsync(w->fd);
	if (close(w->fd) < 0 || rc < 0) {
		w->fd = -1;
		w->rc = st_fail(w->err, st_errno(errno), "%s: %s", f->path,
				strerror(errno));
		return -1;
	}
	w->fd = -1;
	crypto_hash_sha256_final(&w->h, f->sha);
	w->n++;
	return 0;
}

/* A new folder (0700), or an empty one of ours that is 0700 already. */
static int make_out(const char *dir, int *dirfd, int *epfd,
		    struct st_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return st_fail(err, st_errno(errno), "%s: cannot make it: %s",
			       dir, strerror(errno));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "%s: %s", dir,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE,
			       "%s: must be yours and closed to group and "
			       "others (chmod 700): the export holds recorded "
			       "content",
			       dir);
	}
	if (mkdirat(fd, "episodes", 0700) < 0) {
		int e = errno;
		close(fd);
		return st_fail(err, st_errno(e),
			       "%s: %s; give a new or empty folder",
			       dir, e == EEXIST ? "holds an export already"
						: strerror(e));
	}
	if (faccessat(fd, "manifest.json", F_OK, 0) == 0) {
		close(fd);
		return st_fail(err, ST_E_EXISTS,
			       "%s: holds a manifest already; give a new or "
			       "empty folder",
			       dir);
	}
	int ep = openat(fd, "episodes",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ep < 0) {
		close(fd);
		return st_fail(err, st_errno(errno), "%s/episodes: %s", dir,
			       strerror(errno));
	}
	*dirfd = fd;
	*epfd = ep;
	return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

/* One person of the plan: their key, unsealed. */
struct person {
	uint8_t id[16];
	uint8_t pk[32];
	uint8_t *sk; /* locked; NULL when it could not be opened */
	int rc;      /* why not */
};

struct device {
	uint8_t id[16];
	uint8_t pk[32];
};

static struct person *person_of(struct person *pp, size_t n,
				const uint8_t id[16])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(pp[i].id, id, 16))
			return &pp[i];
	return NULL;
}

static struct device *device_of(struct device *dd, size_t n,
				const uint8_t id[16])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(dd[i].id, id, 16))
			return &dd[i];
	return NULL;
}

/* Keeps only events while an allowed application is in front (focus
 * events themselves stay, so the app is known); returns whether any event
 * was dropped. */
static bool keep_apps(struct st_events *evs, const char *const *globs,
		      size_t n)
{
	if (!n)
		return false;
	bool allowed = false, dropped = false;
	size_t k = 0;
	for (size_t i = 0; i < evs->n; i++) {
		struct st_event *e = &evs->ev[i];
		if (e->type == ST_EV_FOCUS) {
			allowed = false;
			uint32_t ids[2] = {e->u.focus.app, e->u.focus.cls};
			for (int j = 0; j < 2 && !allowed; j++) {
				if (!ids[j])
					continue;
				const char *s =
					evs->arena + evs->str_off[ids[j] - 1];
				size_t len = evs->str_len[ids[j] - 1];
				for (size_t g = 0; g < n && !allowed; g++)
					allowed = st_glob_match(globs[g], s,
								len);
			}
		}
		bool keep = allowed || e->type == ST_EV_SCREEN ||
			    e->type == ST_EV_SESSION ||
			    e->type == ST_EV_IDLE_START ||
			    e->type == ST_EV_IDLE_END;
		if (keep)
			evs->ev[k++] = *e;
		else
			dropped = true;
	}
	evs->n = k;
	return dropped;
}

static void progress(int on, uint64_t done, uint64_t total, uint64_t t0)
{
	if (!on)
		return;
	double el = (double)(st_mono_ns(&st_clock_system) - t0) / 1e9;
	double rate = el > 0 ? (double)done / el : 0;
	double left = rate > 0 ? (double)(total - done) / rate : 0;
	int width = 30;
	int fill = total ? (int)((double)done / (double)total * width) : width;
	char bar[40];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	fprintf(stderr, "\r[%s] segments %" PRIu64 "/%" PRIu64
		" %.1f/s, %.0f s left  ",
		bar, done, total, rate, left);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static int call(struct st_client *c, const char *method, const char *path,
		const char *body, struct st_buf *ans, struct st_error *err)
{
	struct st_client_req req = {
		.method = method,
		.path = path,
		.content_type = body ? "application/json" : NULL,
		.body = (const uint8_t *)body,
		.body_len = body ? strlen(body) : 0,
	};
	long status = 0;
	st_buf_reset(ans);
	return st_client_call(c, &req, &status, ans, err);
}

static int write_file_at(int dirfd, const char *name, const char *text,
			 size_t len, uint8_t sha[32], struct st_error *err)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "%s: %s", name,
			       strerror(errno));
	size_t off = 0;
	while (off < len) {
		ssize_t k = write(fd, text + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(fd);
			return st_fail(err, st_errno(errno), "%s: %s", name,
				       strerror(errno));
		}
		off += (size_t)k;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return st_fail(err, st_errno(errno), "%s: %s", name,
			       strerror(errno));
	crypto_hash_sha256(sha, (const uint8_t *)text, len);
	return 0;
}

static void iso_time(int64_t s, char out[32])
{
	time_t t = (time_t)s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The manifest (docs/dataset.md), as canonical JSON text. */
static char *manifest(const json_t *plan, const struct st_dataset_opts *o,
		      const struct st_actions_stats *as,
		      const uint64_t levels[4], uint64_t people,
		      uint64_t devices, uint64_t segs, uint64_t failed,
		      const struct writer *w, const char *steward)
{
	const json_t *pp = json_object_get(plan, "purpose");
	int64_t now = (int64_t)time(NULL);
	char when[32];
	iso_time(now, when);
	json_t *files = json_array();
	for (size_t i = 0; i < w->n; i++) {
		char h[65];
		sodium_bin2hex(h, sizeof h, w->files[i].sha, 32);
		json_array_append_new(
			files, json_pack("{s:s,s:s,s:I}", "path",
					 w->files[i].path, "sha256", h, "bytes",
					 (json_int_t)w->files[i].bytes));
	}
	json_t *actions = json_object();
	for (unsigned i = 0; i < ST_ACT_TYPES; i++)
		json_object_set_new(actions, st_action_type_name(i),
				    json_integer((json_int_t)as->by_type[i]));
	json_t *red = json_object();
	for (size_t i = 0; i <= ST_REDACTION_KIND_MAX; i++)
		if (as->redactions[i]) {
			const char *k = st_detect_kind_name((uint16_t)i);
			json_object_set_new(
				red, k ? k : "unknown",
				json_integer((json_int_t)as->redactions[i]));
		}
	if (as->text_withheld)
		json_object_set_new(red, "text_withheld",
				    json_integer((json_int_t)as->text_withheld));
	json_t *purpose = json_pack(
		"{s:I,s:s,s:s,s:O,s:O,s:I,s:O,s:I}", "id",
		(json_int_t)jint(pp, "id"), "name", jstr(pp, "name"),
		"description", jstr(pp, "description"), "approvers",
		json_object_get(pp, "approvers"), "stewards",
		json_object_get(pp, "stewards"), "level",
		(json_int_t)jint(pp, "level"), "fields",
		json_object_get(pp, "fields"), "expires_s",
		(json_int_t)jint(pp, "expires_s"));
	json_t *m = json_pack(
		"{s:s,s:s,s:s,s:I,s:o,s:s,s:O,s:O,s:I,s:I,"
		"s:{s:I,s:I},s:I,s:I,s:o,s:o,s:{s:I,s:I,s:I},"
		"s:{s:I,s:s},s:o}",
		"format", "sealtrace-dataset-v1", "export_id",
		jstr(plan, "export_id"), "created", when, "created_s",
		(json_int_t)now, "purpose", purpose, "steward", steward,
		"policy_hashes", json_object_get(plan, "policy_hashes"),
		"notice_hashes", json_object_get(plan, "notice_hashes"),
		"people", (json_int_t)people, "devices", (json_int_t)devices,
		"segments", "exported", (json_int_t)segs, "failed",
		(json_int_t)failed, "episodes", (json_int_t)as->episodes,
		"steps", (json_int_t)as->steps, "actions", actions,
		"redactions", red, "levels", "1", (json_int_t)levels[1], "2",
		(json_int_t)levels[2], "3", (json_int_t)levels[3], "audit",
		"start_seq", (json_int_t)jint(plan, "audit_start_seq"),
		"checkpoint", jstr(plan, "audit_checkpoint"), "files", files);
	(void)o;
	char *text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(m);
	return text;
}

int st_dataset_run(const struct st_dataset_opts *o,
		   struct st_dataset_result *res, struct st_error *err)
{
	memset(res, 0, sizeof *res);
	struct st_rotate_target tg = {o->url, o->token, o->ca, 0};
	int rc = st_rotate_target_resolve(&tg, err);
	if (rc < 0)
		return rc;
	rc = st_master_src_check(&o->master, false, err);
	if (rc < 0)
		return rc;
	char abs[PATH_MAX_];
	int dirfd = -1, epfd = -1;
	if ((rc = make_out(o->out_dir, &dirfd, &epfd, err)) < 0)
		return rc;
	if (!realpath(o->out_dir, abs))
		snprintf(abs, sizeof abs, "%s", o->out_dir);

	struct st_client_cfg cc = {.url = tg.url, .ca_file = tg.ca,
				   .token = tg.token, .timeout_ms = 600000,
				   .answer_max = PLAN_MAX};
	struct st_client *cl = NULL;
	struct st_buf ans;
	st_buf_init(&ans, false);
	json_t *plan = NULL, *req = NULL;
	struct person *pp = NULL;
	struct device *dd = NULL;
	size_t np = 0, nd = 0;
	struct st_master m;
	memset(&m, 0, sizeof m);
	struct st_policy pol;
	bool have_pol = false;
	struct st_detector *det = NULL;
	struct st_filter *flt = NULL;
	struct st_actions *act = NULL;
	struct st_zctx *z = NULL;
	struct writer w = {.dirfd = epfd, .fd = -1, .err = err};
	char *man = NULL;
	const char **apps = NULL;
	size_t n_apps = 0;
	uint64_t levels[4] = {0};

	if ((rc = st_client_new(&cc, &cl, err)) < 0)
		goto out;
	req = json_pack("{s:I,s:s}", "purpose", (json_int_t)o->purpose,
			"out_dir", abs);
	if (!req) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	if (o->n_users) {
		json_t *a = json_array();
		for (size_t i = 0; i < o->n_users; i++)
			json_array_append_new(a, json_string(o->users[i]));
		json_object_set_new(req, "users", a);
	}
	if (o->n_groups) {
		json_t *a = json_array();
		for (size_t i = 0; i < o->n_groups; i++)
			json_array_append_new(a, json_string(o->groups[i]));
		json_object_set_new(req, "groups", a);
	}
	if (o->since >= 0)
		json_object_set_new(req, "since", json_integer(o->since));
	if (o->until >= 0)
		json_object_set_new(req, "until", json_integer(o->until));
	char *body = json_dumps(req, JSON_COMPACT);
	rc = body ? call(cl, "POST", "/v1/exports", body, &ans, err)
		  : st_fail(err, ST_E_NOMEM, "out of memory");
	free(body);
	if (rc < 0) {
		st_error_prefix(err, "export refused: ");
		goto out;
	}
	json_error_t je;
	plan = json_loadb((const char *)ans.p, ans.len, 0, &je);
	if (!json_is_object(plan)) {
		rc = st_fail(err, ST_E_HTTP, "the server's export answer is "
			     "not JSON");
		goto out;
	}
	snprintf(res->export_id, sizeof res->export_id, "%s",
		 jstr(plan, "export_id"));
	const json_t *purpose = json_object_get(plan, "purpose");
	int level = (int)jint(purpose, "level");
	unsigned fields = 0;
	{
		static const char *const fn[] = {"pointer", "keys", "text",
						 "titles", "apps"};
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(purpose, "fields"), i, f)
			for (unsigned k = 0; k < 5; k++)
				if (!strcmp(json_string_value(f) ?
					    json_string_value(f) : "", fn[k]))
					fields |= 1u << k;
	}
	/* The applications: the purpose's globs, narrowed by --app (each
	 * one of the purpose's; with none, every app). */
	const json_t *papps = json_object_get(purpose, "apps");
	apps = calloc(json_array_size(papps) + o->n_apps + 1, sizeof *apps);
	if (!apps) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->n_apps; i++) {
		bool in = json_array_size(papps) == 0;
		size_t k;
		json_t *g;
		json_array_foreach(papps, k, g) in =
			in || !strcmp(json_string_value(g), o->apps[i]);
		if (!in) {
			rc = st_fail(err, ST_E_SCOPE,
				     "--app \"%.64s\": not one of the "
				     "purpose's applications",
				     o->apps[i]);
			goto out;
		}
		apps[n_apps++] = o->apps[i];
	}
	if (!o->n_apps) {
		size_t k;
		json_t *g;
		json_array_foreach(papps, k, g) apps[n_apps++] =
			json_string_value(g);
	}
	/* the policy the segments were filtered under, to filter again */
	st_policy_init(&pol);
	have_pol = true;
	const char *pj = jstr(plan, "policy");
	if ((rc = st_policy_parse(pj, strlen(pj), &pol, NULL, err)) < 0) {
		st_error_prefix(err, "the server's policy: ");
		goto out;
	}
	rc = st_detector_new(o->filter_data ? o->filter_data
					    : ST_DATADIR "/filter",
			     &det, err);
	if (rc < 0)
		goto out;

	/* keys: the master for this export only */
	if ((rc = st_master_open(&o->master, &m, err)) < 0)
		goto out;
	const json_t *jp = json_object_get(plan, "people");
	pp = calloc(json_array_size(jp) + 1, sizeof *pp);
	const json_t *jd = json_object_get(plan, "devices");
	dd = calloc(json_array_size(jd) + 1, sizeof *dd);
	if (!pp || !dd) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	{
		size_t i;
		json_t *e;
		json_array_foreach(jp, i, e) {
			struct person *p = &pp[np++];
			uint8_t sealed[ST_MASTER_SEALED_LEN];
			size_t got = 0;
			const char *sb = jstr(e, "sealed_secret");
			bool have = *sb && sodium_base642bin(
						   sealed, sizeof sealed, sb,
						   strlen(sb), NULL, &got,
						   NULL, B64) == 0 &&
				    got == sizeof sealed;
			if (st_hex_decode(p->id, 16, jstr(e, "id")) < 0 ||
			    st_hex_decode(p->pk, 32, jstr(e, "public_key")) <
				    0) {
				rc = st_fail(err, ST_E_HTTP, "the server sent a "
					     "malformed person");
				goto out;
			}
			p->sk = st_secret_new(32);
			if (!p->sk) {
				rc = st_fail(err, ST_E_NOMEM, "no locked memory");
				goto out;
			}
			struct st_error pe = {0};
			p->rc = st_master_open_person(&m, have ? sealed : NULL,
						      p->pk, p->sk, &pe);
			if (p->rc < 0) {
				fprintf(stderr, "sealtrace-export: person %s: "
					"%s; their segments are not exported\n",
					jstr(e, "id"), pe.msg);
				st_secret_free(p->sk);
				p->sk = NULL;
			}
		}
		json_array_foreach(jd, i, e) {
			struct device *d = &dd[nd++];
			if (st_hex_decode(d->id, 16, jstr(e, "id")) < 0 ||
			    st_hex_decode(d->pk, 32, jstr(e, "public_key")) <
				    0) {
				rc = st_fail(err, ST_E_HTTP, "the server sent a "
					     "malformed device");
				goto out;
			}
		}
	}
	st_master_close(&m); /* the people's keys are all it was for */

	struct st_actions_cfg acfg = {
		.idle_ms = (o->idle_s ? o->idle_s : 60) * 1000u,
		.wait_min_ms = 1000,
		.click_slop_px = 4,
		.double_ms = 400,
		.fields = fields,
	};
	struct st_actions_out aout = {w_begin, w_step, w_end, &w};
	char prefix[24];
	snprintf(prefix, sizeof prefix, "e%.8s", res->export_id);
	if ((rc = st_actions_new(&acfg, &aout, prefix, &act, err)) < 0)
		goto out;
	z = st_zctx_new();
	if (!z) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	const json_t *segs = json_object_get(plan, "segments");
	uint64_t total = json_array_size(segs), t0 = st_mono_ns(&st_clock_system);
	int bar = o->progress < 0 ? isatty(STDERR_FILENO) : o->progress;
	uint8_t last_dev[16] = {0};
	uint64_t last_seq = 0, people_out = 0, devices_out = 0;
	uint8_t (*seen_people)[16] = calloc(np + 1, 16);
	if (!seen_people) {
		rc = st_fail(err, ST_E_NOMEM, "out of memory");
		goto out;
	}
	struct st_filter_title_rule rules[ST_FILTER_TITLE_RULES_MAX];
	struct st_filter_cfg fc;
	st_filter_cfg_from_policy(&pol, level, rules, &fc);
	struct st_events evs;
	st_events_init(&evs, true);
	size_t i;
	json_t *g;
	json_array_foreach(segs, i, g) {
		uint8_t dev[16], pid[16];
		uint64_t seq = (uint64_t)jint(g, "seq");
		if (st_hex_decode(dev, 16, jstr(g, "device")) < 0 ||
		    st_hex_decode(pid, 16, jstr(g, "person")) < 0) {
			rc = st_fail(err, ST_E_HTTP, "the server sent a "
				     "malformed segment entry");
			break;
		}
		bool new_dev = memcmp(dev, last_dev, 16) != 0;
		if (new_dev || seq != last_seq + 1) {
			/* another device, or a gap: a new episode, and the
			 * filter starts afresh (it remembers lines per
			 * window) */
			if ((rc = st_actions_cut(act, err)) < 0)
				break;
			st_filter_free(flt);
			flt = NULL;
			if ((rc = st_filter_new(&fc, det, &flt, err)) < 0)
				break;
		}
		if (new_dev)
			devices_out++;
		memcpy(last_dev, dev, 16);
		last_seq = seq;
		struct person *p = person_of(pp, np, pid);
		struct device *d = device_of(dd, nd, dev);
		char path[200];
		snprintf(path, sizeof path,
			 "/v1/exports/segment?export=%s&device=%s&seq=%" PRIu64,
			 res->export_id, jstr(g, "device"), seq);
		struct st_error se = {0};
		int sr = (!p || !d) ? st_fail(&se, ST_E_HTTP, "no key for it")
			 : !p->sk   ? st_fail(&se, p->rc, "its person's key "
					      "could not be opened")
				    : call(cl, "GET", path, NULL, &ans, &se);
		st_events_clear(&evs); /* one locked list, its buffers reused */
		struct st_segment_header h;
		uint8_t seg_level = 0;
		if (sr == 0)
			sr = st_segment_open(ans.p, ans.len, d->pk, p->pk,
					     p->sk, z, &h, &evs, &se);
		if (sr == 0)
			sr = st_filter_apply(flt, &evs, true, NULL, &seg_level,
					     &se);
		if (sr == 0 && keep_apps(&evs, apps, n_apps) && evs.n == 0)
			sr = 0;
		if (sr == 0)
			sr = st_actions_feed(act, &evs, seg_level, &se);
		if (sr == 0 && w.rc < 0)
			sr = w.rc;
		if (sr < 0 && (w.rc < 0 || sr == ST_E_NOMEM)) {
			rc = w.rc < 0 ? w.rc : st_fail(err, sr, "%s", se.msg);
			break;
		}
		if (sr < 0) {
			res->failed++;
			fprintf(stderr, "%ssealtrace-export: segment %s/%" PRIu64
				": %s; not exported\n",
				bar ? "\n" : "", jstr(g, "device"), seq,
				se.msg);
			st_actions_cut(act, NULL);
		} else {
			res->segments++;
			res->events += evs.n;
			if (seg_level >= 1 && seg_level <= 3)
				levels[seg_level]++;
			bool seen = false;
			for (uint64_t k = 0; k < people_out && !seen; k++)
				seen = !memcmp(seen_people[k], pid, 16);
			if (!seen)
				memcpy(seen_people[people_out++], pid, 16);
		}
		progress(bar, i + 1, total, t0);
	}
	st_events_fini(&evs);
	free(seen_people);
	if (rc == 0)
		rc = st_actions_finish(act, err);
	if (rc == 0 && w.rc < 0)
		rc = w.rc;
	if (rc < 0)
		goto out;
	struct st_actions_stats as;
	st_actions_stats(act, &as);
	res->people = people_out;
	res->episodes = as.episodes;
	res->steps = as.steps;
	/* the steward's name is the one the server listed that is theirs:
	 * the plan does not say which; the manifest names the stewards */
	const json_t *stew = json_object_get(purpose, "stewards");
	man = manifest(plan, o, &as, levels, people_out, devices_out,
		       res->segments, res->failed, &w,
		       json_array_size(stew) == 1
			       ? json_string_value(json_array_get(stew, 0))
			       : "");
	if (!man) {
		rc = st_fail(err, ST_E_NOMEM, "manifest: out of memory");
		goto out;
	}
	size_t ml = strlen(man);
	man = realloc(man, ml + 2);
	man[ml++] = '\n';
	man[ml] = 0;
	if ((rc = write_file_at(dirfd, "manifest.json", man, ml,
				res->manifest_sha256, err)) < 0)
		goto out;
	char mh[65];
	sodium_bin2hex(mh, sizeof mh, res->manifest_sha256, 32);
	json_t *fin = json_pack("{s:s,s:s,s:I,s:I}", "export",
				res->export_id, "manifest_sha256", mh,
				"segments_exported", (json_int_t)res->segments,
				"segments_failed", (json_int_t)res->failed);
	body = fin ? json_dumps(fin, JSON_COMPACT) : NULL;
	json_decref(fin);
	rc = body ? call(cl, "POST", "/v1/exports/finish", body, &ans, err)
		  : st_fail(err, ST_E_NOMEM, "out of memory");
	free(body);
	if (rc < 0)
		st_error_prefix(err, "the export is written but the server "
				"did not record its end: ");
out:
	st_master_close(&m);
	for (size_t k = 0; k < np; k++)
		st_secret_free(pp[k].sk);
	free(pp);
	free(dd);
	free(apps);
	free(man);
	free(w.files);
	if (w.fd >= 0)
		close(w.fd);
	st_actions_free(act);
	st_filter_free(flt);
	st_detector_free(det);
	st_zctx_free(z);
	if (have_pol)
		st_policy_fini(&pol);
	json_decref(plan);
	json_decref(req);
	st_buf_fini(&ans);
	st_client_free(cl);
	if (dirfd >= 0)
		close(dirfd);
	if (epfd >= 0)
		close(epfd);
	return rc;
}
