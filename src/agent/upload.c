/* upload.c - the uploader (see upload.h for what each answer does).
 *
 * Order: segments go oldest first, one at a time, and a segment leaves the
 * spool only after the server's 200. Forget requests go before segments:
 * the uploader is one thread, so a segment in flight when the person asks
 * to forget reaches the server before the request that deletes it.
 *
 * Locks: the spool has its own mutex; u->mu guards the stats, the stop and
 * kick flags; forget_mu (process-wide) guards forget-requests.jsonl, which
 * the control thread appends to and the uploader rewrites. */
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/token.h"
#include "core/devreq.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/policy.h"

#define SEGMENT_TYPE "application/vnd.sealtrace.segment"
#define JSON_TYPE "application/json"
#define SERVER_FILE_MAX (16u << 10)
#define URL_MAX 1024
/* Lines of forget-requests.jsonl looked at, at most (each is < 256 bytes,
 * so the file cap bounds this too). */
#define FORGET_LINES_MAX 8192u
#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_MIN UINT64_C(60000000000)
/* st_cond_wait_until: the nap after a wait that ended early */
#define WAIT_NAP_NS 5000000L

static pthread_mutex_t forget_mu = PTHREAD_MUTEX_INITIALIZER;

struct st_upload {
	struct st_upload_cfg cfg;
	const struct st_clock *clock;
	uint64_t bmin, bmax;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kicked, running, finished;
	pthread_t thread;
	int thread_rc;
	struct st_upload_stats st;
	bool fetch_due;            /* the server named a notice we lack */
	uint8_t pending_hash[32];  /* of notice.pending.txt, when pending */
	bool have_pending;
	uint64_t last_check_ns;    /* last answer that named the notice */
	uint64_t check_ns;         /* idle notice check interval */
	bool hold;                 /* st_upload_hold: no segments for now */
	uint64_t paused_seq;       /* the segment last refused paused */
	uint32_t paused_tries;     /* and how often in a row */
};

/* ---- small helpers ---- */

static void path_of(const struct st_agent_paths *p, const char *name,
		    char out[ST_PATH_MAX])
{
	st_agent_path(p, name, out);
}

/* ---- the real transport ---- */

struct client_transport {
	struct st_upload_transport base;
	struct st_client *c;
};

static int ct_call(struct st_upload_transport *t,
		   const struct st_client_req *req, long *status,
		   struct st_buf *answer, struct st_error *err)
{
	return st_client_call(((struct client_transport *)t)->c, req, status,
			      answer, err);
}

static void ct_free(struct st_upload_transport *t)
{
	st_client_free(((struct client_transport *)t)->c);
	free(t);
}

int st_upload_transport_client(const struct st_client_cfg *cfg,
			       struct st_upload_transport **out,
			       struct st_error *err)
{
	*out = NULL;
	struct client_transport *t = calloc(1, sizeof *t);
	if (!t)
		return st_fail(err, ST_E_NOMEM, "uploader: out of memory");
	struct st_client_cfg c = *cfg;
	if (!c.answer_max)
		c.answer_max = ST_UPLOAD_ANSWER_MAX;
	int rc = st_client_new(&c, &t->c, err);
	if (rc < 0) {
		free(t);
		return rc;
	}
	t->base.call = ct_call;
	t->base.free = ct_free;
	*out = &t->base;
	return 0;
}

void st_upload_transport_free(struct st_upload_transport *t)
{
	if (t && t->free)
		t->free(t);
}

int st_server_config(const struct st_agent_paths *p, char *url, size_t cap,
		     char ca_file[ST_PATH_MAX], struct st_error *err)
{
	char path[ST_PATH_MAX];
	path_of(p, ST_SERVER_FILE, path);
	if (access(path, F_OK) != 0)
		return st_fail(err, ST_E_NOT_FOUND, "%s: no server: this "
			       "folder was enrolled with --local, or not at "
			       "all; enroll with 'sealtrace-agent enroll URL "
			       "TOKEN'", path);
	struct st_buf b;
	st_buf_init(&b, false);
	int rc = st_file_read(path, SERVER_FILE_MAX, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		return rc;
	}
	json_t *o = json_loadb((const char *)b.p, b.len, 0, NULL);
	st_buf_fini(&b);
	const char *u = json_string_value(json_object_get(o, "url"));
	const char *ca = json_string_value(json_object_get(o, "ca"));
	rc = 0;
	if (!u || !ca || strchr(ca, '/') || strlen(u) >= cap ||
	    strlen(u) >= URL_MAX)
		rc = st_fail(err, ST_E_CORRUPT, "%s is malformed (need "
			     "{\"url\", \"ca\"}); enroll again", path);
	else {
		snprintf(url, cap, "%s", u);
		path_of(p, ca, ca_file);
	}
	json_decref(o);
	return rc;
}

int st_device_call(struct st_upload_transport *t,
		   const struct st_agent_identity *id, const char *method,
		   const char *path, const char *content_type,
		   const uint8_t *body, size_t body_len, int64_t now_s,
		   long *status, struct st_buf *answer, struct st_error *err)
{
	struct st_devreq_sig sig;
	int rc = st_devreq_sign(id->device_id, id->device_sk, method, path,
				body, body_len, now_s, &sig, err);
	if (rc < 0)
		return rc;
	char h1[64], h2[64], h3[128];
	snprintf(h1, sizeof h1, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(h2, sizeof h2, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(h3, sizeof h3, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	const char *hdrs[] = {h1, h2, h3, NULL};
	struct st_client_req req = {.method = method,
				    .path = path,
				    .content_type = body ? content_type : NULL,
				    .body = body,
				    .body_len = body_len,
				    .headers = hdrs};
	return t->call(t, &req, status, answer, err);
}

/* ---- notices ---- */

int st_notice_check(const char *policy, size_t policy_len, const char *notice,
		    size_t notice_len, const char *policy_hash_hex,
		    const char *notice_hash_hex, struct st_error *err)
{
	uint8_t want[32], got[32];
	if (policy_len > ST_POLICY_MAX || notice_len > ST_NOTICE_MAX)
		return st_fail(err, ST_E_CAP, "the server's policy or notice "
			       "is over its cap (%u bytes)", ST_NOTICE_MAX);
	if (st_hex_decode(want, 32, notice_hash_hex) < 0)
		return st_fail(err, ST_E_CONSENT, "the server sent no valid "
			       "notice_hash; retry later");
	crypto_hash_sha256(got, (const uint8_t *)notice, notice_len);
	if (sodium_memcmp(want, got, 32) != 0)
		return st_fail(err, ST_E_CONSENT, "the notice the server sent "
			       "does not hash to its notice_hash: nothing of "
			       "it is kept; retry later");
	struct st_policy pol;
	struct st_capture_kinds k;
	st_policy_init(&pol);
	int rc = st_agent_policy(policy, policy_len, &pol, &k, err);
	if (rc == 0) {
		st_policy_hash(&pol, got);
		if (st_hex_decode(want, 32, policy_hash_hex) < 0 ||
		    sodium_memcmp(want, got, 32) != 0)
			rc = st_fail(err, ST_E_CONSENT, "the policy the server "
				     "sent does not hash to its policy_hash: "
				     "nothing of it is kept; retry later");
	}
	st_policy_fini(&pol);
	return rc;
}

/* Fetches the current policy and keeps it as pending for accept. */
static void notice_seen(struct st_upload *u, const char *nh_hex);

/* Whether the person has already accepted this notice on disk (accept
 * moved it into place) while this uploader still runs with the identity
 * it started with: then nothing is pending, the run loop reloads. */
static bool accepted_on_disk(struct st_upload *u, const uint8_t nh[32])
{
	char path[ST_PATH_MAX];
	path_of(u->cfg.paths, "notice.txt", path);
	struct st_buf b;
	st_buf_init(&b, false);
	bool same = false;
	if (st_file_read(path, ST_NOTICE_MAX, &b, NULL) == 0) {
		uint8_t h[32];
		crypto_hash_sha256(h, b.p ? b.p : (const uint8_t *)"", b.len);
		same = sodium_memcmp(h, nh, 32) == 0;
	}
	st_buf_fini(&b);
	return same;
}

static int fetch_policy(struct st_upload *u, struct st_error *err)
{
	const struct st_agent_paths *p = u->cfg.paths;
	struct st_buf b;
	long status = 0;
	st_buf_init(&b, false);
	int64_t now = (int64_t)(st_wall_ns(u->clock) / 1000000000ull);
	int rc = st_device_call(u->cfg.transport, u->cfg.id, "GET",
				"/v1/device/policy", NULL, NULL, 0, now,
				&status, &b, err);
	json_t *o = rc == 0 ? json_loadb((const char *)b.p, b.len, 0, NULL)
			    : NULL;
	st_buf_fini(&b);
	if (rc < 0)
		return rc;
	json_t *pj = json_object_get(o, "policy"), *nj = json_object_get(o, "notice");
	const char *ph = json_string_value(json_object_get(o, "policy_hash"));
	const char *nh = json_string_value(json_object_get(o, "notice_hash"));
	const char *pk64 = json_string_value(json_object_get(o, "person_public_key"));
	uint8_t pk[32], nhash[32];
	size_t pkl = 0;
	if (!json_is_string(pj) || !json_is_string(nj) || !pk64 ||
	    sodium_base642bin(pk, sizeof pk, pk64, strlen(pk64), NULL, &pkl,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    pkl != 32) {
		json_decref(o);
		return st_fail(err, ST_E_JSON, "GET /v1/device/policy: the "
			       "answer lacks policy, notice or "
			       "person_public_key; retry later");
	}
	const char *pol = json_string_value(pj), *not = json_string_value(nj);
	size_t pl = json_string_length(pj), nl = json_string_length(nj);
	if ((rc = st_notice_check(pol, pl, not, nl, ph, nh, err)) < 0) {
		json_decref(o);
		st_error_prefix(err, "GET /v1/device/policy: ");
		return rc;
	}
	u->last_check_ns = st_mono_ns(u->clock);
	crypto_hash_sha256(nhash, (const uint8_t *)not, nl);
	if (sodium_memcmp(nhash, u->cfg.id->notice_hash, 32) == 0 ||
	    accepted_on_disk(u, nhash)) {
		/* still the accepted notice (an idle check, or a change that
		 * was withdrawn): nothing waits */
		char nhx[65];
		st_hex_encode(nhx, nhash, 32);
		json_decref(o);
		notice_seen(u, nhx);
		return 0;
	}
	char path[ST_PATH_MAX];
	/* the policy (and key) first, the notice last: the pending notice
	 * is what marks the set complete (accept reads it first) */
	path_of(p, ST_PENDING_RECIPIENT, path);
	unlink(path);
	if (sodium_memcmp(pk, u->cfg.id->person_pk, 32) != 0)
		rc = st_key_write(path, ST_KEY_PERSON_PUBLIC, pk, 32, false, err);
	if (rc == 0) {
		path_of(p, ST_PENDING_POLICY, path);
		rc = st_file_write_atomic(path, pol, pl, 0600, err);
	}
	if (rc == 0) {
		path_of(p, ST_PENDING_NOTICE, path);
		rc = st_file_write_atomic(path, not, nl, 0600, err);
	}
	/* hash before the decref: not points into o */
	crypto_hash_sha256(nhash, (const uint8_t *)not, nl);
	json_decref(o);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&u->mu);
	memcpy(u->pending_hash, nhash, 32);
	u->have_pending = true;
	u->st.notice_pending = true;
	pthread_mutex_unlock(&u->mu);
	return 0;
}

/* The notice hash of an upload answer: the server's current notice. */
static void notice_seen(struct st_upload *u, const char *nh_hex)
{
	uint8_t nh[32];
	if (st_hex_decode(nh, 32, nh_hex) < 0)
		return;
	u->last_check_ns = st_mono_ns(u->clock);
	pthread_mutex_lock(&u->mu);
	if (sodium_memcmp(nh, u->cfg.id->notice_hash, 32) == 0) {
		if (u->have_pending) {
			/* the change was withdrawn: the accepted notice is
			 * current again, so nothing waits for acceptance */
			char path[ST_PATH_MAX];
			path_of(u->cfg.paths, ST_PENDING_NOTICE, path);
			unlink(path);
			path_of(u->cfg.paths, ST_PENDING_POLICY, path);
			unlink(path);
			path_of(u->cfg.paths, ST_PENDING_RECIPIENT, path);
			unlink(path);
			u->have_pending = false;
			u->st.notice_pending = false;
		}
		u->fetch_due = false;
	} else if ((!u->have_pending ||
		    sodium_memcmp(nh, u->pending_hash, 32) != 0) &&
		   !accepted_on_disk(u, nh)) {
		u->fetch_due = true;
	}
	pthread_mutex_unlock(&u->mu);
}

/* ---- forget requests ---- */

struct forget_req {
	char id[33];
	uint64_t from_min, to_min;
};

/* Reads the file's requests under forget_mu (held by the caller); lines
 * without a request_id (an older agent's) get one and the file is
 * rewritten, so retries reuse it. Malformed lines (a torn last write) are
 * skipped. *v is malloc'ed. */
static int forget_load(const struct st_agent_paths *p, struct forget_req **v,
		       size_t *n, struct st_error *err)
{
	char path[ST_PATH_MAX];
	path_of(p, ST_FORGET_NAME, path);
	*v = NULL;
	*n = 0;
	struct st_buf b;
	st_buf_init(&b, false);
	int rc = st_file_read(path, ST_FORGET_FILE_MAX, &b, err);
	if (rc == st_errno(ENOENT)) {
		st_buf_fini(&b);
		return 0;
	}
	if (rc < 0) {
		st_buf_fini(&b);
		return rc;
	}
	struct forget_req *out = NULL;
	size_t cnt = 0, cap = 0;
	bool rewrite = false;
	size_t pos = 0;
	for (unsigned lines = 0; pos < b.len && lines < FORGET_LINES_MAX;
	     lines++) {
		uint8_t *nl = memchr(b.p + pos, '\n', b.len - pos);
		size_t end = nl ? (size_t)(nl - b.p) : b.len;
		json_t *o = json_loadb((const char *)b.p + pos, end - pos, 0,
				       NULL);
		pos = end + 1;
		if (!json_is_object(o)) {
			json_decref(o);
			rewrite = true;
			continue;
		}
		struct forget_req r = {0};
		const char *id = json_string_value(json_object_get(o, "request_id"));
		json_t *fm = json_object_get(o, "from_min");
		json_t *tm = json_object_get(o, "to_min");
		json_t *sn = json_object_get(o, "since_ns");
		json_t *un = json_object_get(o, "until_ns");
		uint8_t raw[16];
		if (json_is_integer(fm) && json_is_integer(tm)) {
			r.from_min = (uint64_t)json_integer_value(fm);
			r.to_min = (uint64_t)json_integer_value(tm);
		} else if (json_is_integer(sn) && json_is_integer(un)) {
			r.from_min = (uint64_t)json_integer_value(sn) / NS_PER_MIN;
			r.to_min = (uint64_t)json_integer_value(un) / NS_PER_MIN;
			rewrite = true;
		} else {
			json_decref(o);
			rewrite = true;
			continue;
		}
		if (id && st_hex_decode(raw, 16, id) == 0) {
			memcpy(r.id, id, 33);
		} else {
			randombytes_buf(raw, 16);
			st_hex_encode(r.id, raw, 16);
			rewrite = true;
		}
		json_decref(o);
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct forget_req *q = realloc(out, nc * sizeof *q);
			if (!q) {
				free(out);
				st_buf_fini(&b);
				return st_fail(err, ST_E_NOMEM, "%s: out of "
					       "memory", path);
			}
			out = q;
			cap = nc;
		}
		out[cnt++] = r;
	}
	st_buf_fini(&b);
	*v = out;
	*n = cnt;
	if (!rewrite)
		return 0;
	/* persist the ids now, before any is sent */
	struct st_buf w;
	st_buf_init(&w, false);
	for (size_t i = 0; i < cnt; i++) {
		char line[160];
		int k = snprintf(line, sizeof line,
				 "{\"request_id\":\"%s\",\"from_min\":%" PRIu64
				 ",\"to_min\":%" PRIu64 "}\n",
				 out[i].id, out[i].from_min, out[i].to_min);
		st_buf_put(&w, line, (size_t)k);
	}
	rc = w.oom ? st_fail(err, ST_E_NOMEM, "%s: out of memory", path)
		   : st_file_write_atomic(path, w.p ? (const void *)w.p : "",
					  w.len, 0600, err);
	st_buf_fini(&w);
	return rc;
}

/* Rewrites the file without request id (under forget_mu). */
static int forget_drop(const struct st_agent_paths *p, const char *id,
		       struct st_error *err)
{
	struct forget_req *v;
	size_t n;
	int rc = forget_load(p, &v, &n, err);
	if (rc < 0)
		return rc;
	char path[ST_PATH_MAX];
	path_of(p, ST_FORGET_NAME, path);
	struct st_buf w;
	st_buf_init(&w, false);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].id, id))
			continue;
		char line[160];
		int k = snprintf(line, sizeof line,
				 "{\"request_id\":\"%s\",\"from_min\":%" PRIu64
				 ",\"to_min\":%" PRIu64 "}\n",
				 v[i].id, v[i].from_min, v[i].to_min);
		st_buf_put(&w, line, (size_t)k);
	}
	free(v);
	rc = w.oom ? st_fail(err, ST_E_NOMEM, "%s: out of memory", path)
		   : st_file_write_atomic(path, w.p ? (const void *)w.p : "",
					  w.len, 0600, err);
	st_buf_fini(&w);
	return rc;
}

int st_forget_request_add(const struct st_agent_paths *p, uint64_t since_ns,
			  uint64_t until_ns, struct st_error *err)
{
	char path[ST_PATH_MAX], id[33], line[200];
	uint8_t raw[16];
	randombytes_buf(raw, 16);
	st_hex_encode(id, raw, 16);
	path_of(p, ST_FORGET_NAME, path);
	/* since/until kept for people reading the file; minutes are what is
	 * sent (inclusive: the minutes that hold since and until) */
	int k = snprintf(line, sizeof line,
			 "{\"request_id\":\"%s\",\"from_min\":%" PRIu64
			 ",\"to_min\":%" PRIu64 ",\"since_ns\":%" PRIu64
			 ",\"until_ns\":%" PRIu64 "}\n",
			 id, (uint64_t)(since_ns / NS_PER_MIN),
			 (uint64_t)(until_ns / NS_PER_MIN),
			 since_ns, until_ns);
	pthread_mutex_lock(&forget_mu);
	int rc = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = st_fail(err, st_errno(errno), "%s: %s; the deletion "
			     "request could not be kept", path,
			     strerror(errno));
	} else {
		off_t size = lseek(fd, 0, SEEK_END);
		if (size >= 0 && (uint64_t)size + (size_t)k > ST_FORGET_FILE_MAX)
			rc = st_fail(err, ST_E_CAP, "%s holds %lld bytes of "
				     "unsent deletion requests, the most it "
				     "keeps; let the agent reach the server "
				     "first", path, (long long)size);
		else if (write(fd, line, (size_t)k) != k || fsync(fd) < 0)
			rc = st_fail(err, st_errno(errno ? errno : EIO),
				     "%s: cannot write the deletion request: "
				     "%s", path, strerror(errno ? errno : EIO));
		close(fd);
	}
	pthread_mutex_unlock(&forget_mu);
	return rc;
}

size_t st_forget_requests_pending(const struct st_agent_paths *p)
{
	struct forget_req *v = NULL;
	size_t n = 0;
	pthread_mutex_lock(&forget_mu);
	forget_load(p, &v, &n, NULL);
	pthread_mutex_unlock(&forget_mu);
	free(v);
	return n;
}

/* Keeps a refused request beside the queue, with the reason. */
static void forget_refused(const struct st_agent_paths *p,
			   const struct forget_req *r, int code, long status)
{
	char path[ST_PATH_MAX], line[256];
	path_of(p, ST_FORGET_REFUSED_NAME, path);
	int k = snprintf(line, sizeof line,
			 "{\"request_id\":\"%s\",\"from_min\":%" PRIu64
			 ",\"to_min\":%" PRIu64 ",\"status\":%ld,\"error\":\"%s\"}\n",
			 r->id, r->from_min, r->to_min, status, st_err_id(code));
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)k) == k)
			fsync(fd);
		close(fd);
	}
}

/* ---- the uploader ---- */

int st_upload_new(const struct st_upload_cfg *cfg, struct st_upload **out,
		  struct st_error *err)
{
	*out = NULL;
	if (!cfg || !cfg->paths || !cfg->spool || !cfg->transport || !cfg->id)
		return st_fail(err, ST_E_INVAL, "uploader: paths, spool, "
			       "transport and identity are required");
	uint64_t lo = cfg->backoff_min_ms ? cfg->backoff_min_ms
					  : ST_UPLOAD_BACKOFF_MIN_MS_DEFAULT;
	uint64_t hi = cfg->backoff_max_ms ? cfg->backoff_max_ms
					  : ST_UPLOAD_BACKOFF_MAX_MS_DEFAULT;
	if (hi < lo && !cfg->backoff_max_ms)
		hi = lo;
	if (lo > ST_UPLOAD_BACKOFF_LIMIT_MS || hi > ST_UPLOAD_BACKOFF_LIMIT_MS ||
	    hi < lo)
		return st_fail(err, ST_E_INVAL, "uploader: backoff %" PRIu64
			       "..%" PRIu64 " ms: the minimum must not pass "
			       "the maximum, and neither a day (%u ms)", lo,
			       hi, ST_UPLOAD_BACKOFF_LIMIT_MS);
	struct st_upload *u = calloc(1, sizeof *u);
	if (!u)
		return st_fail(err, ST_E_NOMEM, "uploader: out of memory");
	u->cfg = *cfg;
	u->clock = cfg->clock ? cfg->clock : &st_clock_system;
	u->bmin = lo;
	u->bmax = hi;
	pthread_mutex_init(&u->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cv, &ca);
	pthread_condattr_destroy(&ca);
	u->st.state = ST_UPLOAD_IDLE;
	u->check_ns = (cfg->notice_check_ms ? cfg->notice_check_ms
					    : ST_UPLOAD_NOTICE_CHECK_MS_DEFAULT) *
		      1000000ull;
	u->last_check_ns = st_mono_ns(u->clock);
	/* a notice fetched before a restart still waits for acceptance */
	char path[ST_PATH_MAX];
	path_of(cfg->paths, ST_PENDING_NOTICE, path);
	struct st_buf b;
	st_buf_init(&b, false);
	if (st_file_read(path, ST_NOTICE_MAX, &b, NULL) == 0) {
		crypto_hash_sha256(u->pending_hash, b.p ? b.p : (const uint8_t *)"",
				   b.len);
		if (sodium_memcmp(u->pending_hash, cfg->id->notice_hash, 32) == 0) {
			/* a stale copy of the notice now accepted */
			unlink(path);
			path_of(cfg->paths, ST_PENDING_POLICY, path);
			unlink(path);
			path_of(cfg->paths, ST_PENDING_RECIPIENT, path);
			unlink(path);
		} else {
			u->have_pending = true;
			u->st.notice_pending = true;
		}
	}
	st_buf_fini(&b);
	*out = u;
	return 0;
}

void st_upload_free(struct st_upload *u)
{
	if (!u)
		return;
	st_upload_stop(u);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

static uint64_t rand_upto(struct st_upload *u, uint64_t bound)
{
	if (u->cfg.random) {
		uint64_t v = u->cfg.random(u->cfg.seam_ctx, bound);
		return v > bound ? bound : v;
	}
	uint64_t v;
	randombytes_buf(&v, sizeof v);
	return bound == UINT64_MAX ? v : v % (bound + 1);
}

/* A failure worth retrying: full jitter over an exponential ceiling. */
static uint64_t backoff(struct st_upload *u, const struct st_error *e)
{
	pthread_mutex_lock(&u->mu);
	uint32_t k = u->st.attempt < 63 ? u->st.attempt : 63;
	u->st.attempt++;
	uint64_t ceil = u->bmin;
	for (uint32_t i = 0; i < k && ceil < u->bmax; i++)
		ceil *= 2;
	if (ceil > u->bmax)
		ceil = u->bmax;
	pthread_mutex_unlock(&u->mu);
	uint64_t d = rand_upto(u, ceil);
	pthread_mutex_lock(&u->mu);
	u->st.state = ST_UPLOAD_BACKOFF;
	u->st.backoff_until_wall_ns = st_wall_ns(u->clock) + d * NS_PER_MS;
	if (e)
		snprintf(u->st.last_error, sizeof u->st.last_error, "%s", e->msg);
	pthread_mutex_unlock(&u->mu);
	return d;
}

static void succeeded(struct st_upload *u)
{
	pthread_mutex_lock(&u->mu);
	u->st.attempt = 0;
	u->st.backoff_until_wall_ns = 0;
	u->st.state = ST_UPLOAD_UPLOADING;
	pthread_mutex_unlock(&u->mu);
}

static int revoked(struct st_upload *u, const struct st_error *e,
		   struct st_error *err)
{
	pthread_mutex_lock(&u->mu);
	u->st.state = ST_UPLOAD_REVOKED;
	snprintf(u->st.last_error, sizeof u->st.last_error, "%s", e->msg);
	pthread_mutex_unlock(&u->mu);
	return st_fail(err, ST_E_DEVICE_REVOKED, "the server revoked this "
		       "device: uploading stopped, segments stay in the spool "
		       "(%s); ask your organisation, then enroll again",
		       e->msg);
}

static bool is_refusal(long status)
{
	return status == 400 || status == 409 || status == 413 ||
	       status == 415 || status == 422;
}

/* Sends the oldest forget request: 1 when there was one. */
static int step_forget(struct st_upload *u, uint64_t *wait_ms,
		       struct st_error *err)
{
	struct forget_req *v = NULL;
	size_t n = 0;
	struct st_error e = {0};
	pthread_mutex_lock(&forget_mu);
	int rc = forget_load(u->cfg.paths, &v, &n, &e);
	pthread_mutex_unlock(&forget_mu);
	if (rc < 0) {
		free(v);
		*wait_ms = backoff(u, &e);
		return 1;
	}
	if (n == 0) {
		free(v);
		return 0;
	}
	struct forget_req r = v[0];
	free(v);
	char body[160];
	int k = snprintf(body, sizeof body,
			 "{\"request_id\":\"%s\",\"from_min\":%" PRIu64
			 ",\"to_min\":%" PRIu64 "}",
			 r.id, r.from_min, r.to_min);
	long status = 0;
	struct st_buf ans;
	st_buf_init(&ans, false);
	int64_t now = (int64_t)(st_wall_ns(u->clock) / 1000000000ull);
	rc = st_device_call(u->cfg.transport, u->cfg.id, "POST",
			    "/v1/device/forget", JSON_TYPE,
			    (const uint8_t *)body, (size_t)k, now, &status,
			    &ans, &e);
	st_buf_fini(&ans);
	*wait_ms = 0;
	if (rc == 0 && status == 200) {
		pthread_mutex_lock(&forget_mu);
		rc = forget_drop(u->cfg.paths, r.id, &e);
		pthread_mutex_unlock(&forget_mu);
		if (rc < 0) {
			*wait_ms = backoff(u, &e);
			return 1;
		}
		succeeded(u);
		pthread_mutex_lock(&u->mu);
		u->st.forgets_sent++;
		pthread_mutex_unlock(&u->mu);
		return 1;
	}
	if (rc == ST_E_DEVICE_REVOKED)
		return revoked(u, &e, err);
	if (rc < 0 && is_refusal(status)) {
		/* the server will never take it as is: kept aside, not lost */
		pthread_mutex_lock(&forget_mu);
		forget_refused(u->cfg.paths, &r, rc, status);
		int drc = forget_drop(u->cfg.paths, r.id, &e);
		pthread_mutex_unlock(&forget_mu);
		if (drc < 0)
			*wait_ms = backoff(u, &e);
		return 1;
	}
	if (rc == 0)
		st_fail(&e, ST_E_HTTP, "POST /v1/device/forget: HTTP %ld, "
			"expected 200; retrying", status);
	*wait_ms = backoff(u, &e);
	return 1;
}

static int step_segment(struct st_upload *u, uint64_t seq, uint64_t *wait_ms,
			struct st_error *err)
{
	struct st_error e = {0};
	struct st_buf seg, ans;
	st_buf_init(&seg, false);
	int rc = st_spool_read(u->cfg.spool, seq, &seg, &e);
	*wait_ms = 0;
	if (rc == ST_E_NOT_FOUND) {
		/* forgotten (removed) since it was listed */
		st_buf_fini(&seg);
		return 0;
	}
	if (rc < 0) {
		st_buf_fini(&seg);
		*wait_ms = backoff(u, &e);
		return 0;
	}
	pthread_mutex_lock(&u->mu);
	if (u->st.state != ST_UPLOAD_BACKOFF)
		u->st.state = ST_UPLOAD_UPLOADING;
	pthread_mutex_unlock(&u->mu);
	char backlog[96];
	snprintf(backlog, sizeof backlog, "Sealtrace-Backlog: %zu %" PRIu64,
		 st_spool_count(u->cfg.spool), st_spool_bytes(u->cfg.spool));
	const char *hdrs[] = {backlog, NULL};
	struct st_client_req req = {.method = "POST",
				    .path = "/v1/segments",
				    .content_type = SEGMENT_TYPE,
				    .body = seg.p,
				    .body_len = seg.len,
				    .headers = hdrs};
	long status = 0;
	st_buf_init(&ans, false);
	rc = u->cfg.transport->call(u->cfg.transport, &req, &status, &ans, &e);
	st_buf_fini(&seg);
	if (rc == 0 && status == 200) {
		json_t *o = json_loadb((const char *)ans.p, ans.len, 0, NULL);
		const char *res = json_string_value(json_object_get(o, "result"));
		json_t *sq = json_object_get(o, "seq");
		const char *nh = json_string_value(json_object_get(o, "notice_hash"));
		bool dup = res && !strcmp(res, "duplicate");
		bool ok = res && (dup || !strcmp(res, "stored")) &&
			  json_is_integer(sq) &&
			  (uint64_t)json_integer_value(sq) == seq;
		if (ok && nh)
			notice_seen(u, nh);
		json_decref(o);
		st_buf_fini(&ans);
		if (!ok) {
			st_fail(&e, ST_E_HTTP, "POST /v1/segments: segment "
				"%" PRIu64 ": a 200 answer without "
				"\"result\": stored or duplicate for this seq; "
				"kept, retrying", seq);
			*wait_ms = backoff(u, &e);
			return 0;
		}
		rc = st_spool_remove(u->cfg.spool, seq, &e);
		if (rc < 0 && rc != ST_E_NOT_FOUND) {
			/* acknowledged; if it stays, it is sent again and
			 * counts as a duplicate */
			*wait_ms = backoff(u, &e);
			return 0;
		}
		succeeded(u);
		pthread_mutex_lock(&u->mu);
		u->st.uploaded++;
		if (dup)
			u->st.duplicates++;
		u->st.last_upload_wall_ns = st_wall_ns(u->clock);
		pthread_mutex_unlock(&u->mu);
		return 0;
	}
	st_buf_fini(&ans);
	if (rc == ST_E_DEVICE_REVOKED)
		return revoked(u, &e, err);
	if (rc == ST_E_PAUSED && status == 422) {
		/* the pause may have reached the server before this agent
		 * obeyed and confirmed it: retried, a bounded number of times */
		if (u->paused_seq != seq)
			u->paused_tries = 0;
		u->paused_seq = seq;
		if (++u->paused_tries < ST_UPLOAD_PAUSED_TRIES) {
			*wait_ms = backoff(u, &e);
			return 0;
		}
	}
	if (rc < 0 && is_refusal(status)) {
		char reason[ST_SPOOL_REASON_MAX];
		snprintf(reason, sizeof reason,
			 "refused by the server: %s (HTTP %ld): %s\n",
			 st_err_id(rc), status, e.msg);
		struct st_error qe = {0};
		int qrc = st_spool_quarantine(u->cfg.spool, seq, reason, &qe);
		if (qrc < 0 && qrc != ST_E_NOT_FOUND) {
			*wait_ms = backoff(u, &qe);
			return 0;
		}
		pthread_mutex_lock(&u->mu);
		u->st.refused++;
		u->st.attempt = 0;
		u->st.state = ST_UPLOAD_UPLOADING;
		snprintf(u->st.last_error, sizeof u->st.last_error,
			 "segment %" PRIu64 " quarantined: %.400s", seq,
			 e.msg);
		pthread_mutex_unlock(&u->mu);
		return 0;
	}
	if (rc == 0)
		st_fail(&e, ST_E_HTTP, "POST /v1/segments: HTTP %ld, expected "
			"200; retrying", status);
	*wait_ms = backoff(u, &e);
	return 0;
}

int st_upload_step(struct st_upload *u, uint64_t *wait_ms, bool *done,
		   struct st_error *err)
{
	bool dummy;
	if (!done)
		done = &dummy;
	*done = false;
	*wait_ms = 0;
	pthread_mutex_lock(&u->mu);
	bool gone = u->st.state == ST_UPLOAD_REVOKED, fetch = u->fetch_due;
	pthread_mutex_unlock(&u->mu);
	if (gone)
		return st_fail(err, ST_E_DEVICE_REVOKED, "the server revoked "
			       "this device: uploading stopped");
	struct st_error e = {0};
	if (fetch) {
		int rc = fetch_policy(u, &e);
		if (rc == ST_E_DEVICE_REVOKED)
			return revoked(u, &e, err);
		if (rc < 0) {
			*wait_ms = backoff(u, &e);
			return 0;
		}
		pthread_mutex_lock(&u->mu);
		u->fetch_due = false;
		pthread_mutex_unlock(&u->mu);
		succeeded(u);
		return 0;
	}
	int rc = step_forget(u, wait_ms, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	pthread_mutex_lock(&u->mu);
	bool hold = u->hold;
	if (hold)
		u->st.state = ST_UPLOAD_HELD;
	pthread_mutex_unlock(&u->mu);
	if (hold) {
		*wait_ms = ST_UPLOAD_IDLE_MS; /* a release kicks it sooner */
		return 0;
	}
	uint64_t seq;
	if (st_spool_oldest(u->cfg.spool, &seq, NULL) < 0) {
		if (!u->cfg.until_empty &&
		    st_mono_ns(u->clock) - u->last_check_ns >= u->check_ns) {
			/* idle: ask for the notice (see upload.h) */
			pthread_mutex_lock(&u->mu);
			u->fetch_due = true;
			pthread_mutex_unlock(&u->mu);
			u->last_check_ns = st_mono_ns(u->clock);
			return 0;
		}
		pthread_mutex_lock(&u->mu);
		u->st.state = ST_UPLOAD_IDLE;
		pthread_mutex_unlock(&u->mu);
		*done = true;
		*wait_ms = ST_UPLOAD_IDLE_MS;
		return 0;
	}
	return step_segment(u, seq, wait_ms, err);
}

/* Waits ms, or less when stopped (or kicked, when kickable: an idle wait
 * ends for new work, a backoff does not). */
static void wait_for(struct st_upload *u, uint64_t ms, bool kickable)
{
	if (u->cfg.sleep_ms) {
		u->cfg.sleep_ms(u->cfg.seam_ctx, ms);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&u->mu);
	while (!u->stop && !(kickable && u->kicked))
		if (st_cond_wait_until(&u->cv, &u->mu, &ts))
			break;
	u->kicked = false;
	pthread_mutex_unlock(&u->mu);
}

bool st_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
			const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec ||
	    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
		return true;
	if (pthread_cond_timedwait(cv, mu, deadline) != ETIMEDOUT)
		return false; /* woken: the caller looks at its condition */
	clock_gettime(CLOCK_MONOTONIC, &now);
	long left_ns = (long)(deadline->tv_sec - now.tv_sec) * 1000000000L +
		       (deadline->tv_nsec - now.tv_nsec);
	if (left_ns <= 0)
		return true;
	/* the wait ended before its deadline by our own reading of the
	 * clock: a time library interposed on it (faketime), or a bug. Nap
	 * a little, unlocked, rather than spin; the caller waits again. */
	struct timespec nap = {0, left_ns < WAIT_NAP_NS ? left_ns : WAIT_NAP_NS};
	pthread_mutex_unlock(mu);
	nanosleep(&nap, NULL);
	pthread_mutex_lock(mu);
	return false;
}

void st_upload_hold(struct st_upload *u, bool hold)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	bool was = u->hold;
	u->hold = hold;
	if (was && !hold) {
		u->st.state = ST_UPLOAD_IDLE;
		u->kicked = true;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
}

int st_upload_run(struct st_upload *u, struct st_error *err)
{
	for (;;) {
		pthread_mutex_lock(&u->mu);
		bool stop = u->stop;
		pthread_mutex_unlock(&u->mu);
		if (stop)
			return 0;
		uint64_t ms;
		bool done;
		int rc = st_upload_step(u, &ms, &done, err);
		if (rc < 0)
			return rc;
		if (done && u->cfg.until_empty)
			return 0;
		pthread_mutex_lock(&u->mu);
		bool held = u->st.state == ST_UPLOAD_HELD;
		pthread_mutex_unlock(&u->mu);
		if (ms)
			wait_for(u, ms, done || held); /* a release kicks */
	}
}

static void *thread_main(void *arg)
{
	struct st_upload *u = arg;
	struct st_error e = {0};
	int rc = st_upload_run(u, &e);
	pthread_mutex_lock(&u->mu);
	u->thread_rc = rc;
	u->finished = true;
	if (rc < 0 && !u->st.last_error[0])
		snprintf(u->st.last_error, sizeof u->st.last_error, "%s", e.msg);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

int st_upload_start(struct st_upload *u, struct st_error *err)
{
	if (u->running)
		return st_fail(err, ST_E_STATE, "uploader: already running");
	int e = pthread_create(&u->thread, NULL, thread_main, u);
	if (e)
		return st_fail(err, st_errno(e), "uploader: cannot start its "
			       "thread: %s", strerror(e));
	u->running = true;
	return 0;
}

void st_upload_stop(struct st_upload *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	u->stop = true;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	if (u->running) {
		pthread_join(u->thread, NULL);
		u->running = false;
	}
}

void st_upload_kick(struct st_upload *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	u->kicked = true;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

bool st_upload_finished(struct st_upload *u)
{
	pthread_mutex_lock(&u->mu);
	bool f = u->finished;
	pthread_mutex_unlock(&u->mu);
	return f;
}

void st_upload_stats(struct st_upload *u, struct st_upload_stats *out)
{
	pthread_mutex_lock(&u->mu);
	*out = u->st;
	pthread_mutex_unlock(&u->mu);
}
