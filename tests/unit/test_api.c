/* test_api.c - the running server, in process: st_serve on 127.0.0.1 port 0
 * with real TLS (a CA and server certificate made by tls.h), spoken to with
 * libcurl as a client would. Pins the contract of docs/api.md: statuses and
 * error ids, admin authentication, enrollment, signed device requests,
 * segment upload with every ingest refusal, body limits, content types,
 * forget, backup, policy changes reaching upload answers, refusals to
 * start, the request log (no tokens), and a clean stop. */
#include "helpers.h"

#include "access/roles.h"
#include "db_helpers.h"
#include "fixtures.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/devreq.h"
#include "core/event.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/lease.h"
#include "core/policy.h"
#include "core/seal.h"
#include "core/token.h"
#include "server/api.h"
#include "server/config.h"
#include "server/serve.h"
#include "server/store.h"
#include "server/tls.h"

#define NS 1000000000ull
#define BODY_MAX (256u << 10) /* small, so that 413 is cheap to reach */

static const char FULL_JSON[] =
	"{\"version\": 1,"
	" \"capture\": {\"pointer\": true, \"keys\": true, \"text\": true,"
	"  \"titles\": true, \"apps\": true},"
	" \"apps\": {\"exclude\": [\"keepassxc*\"]},"
	" \"levels\": {\"keep\": 2, \"export\": 1},"
	" \"retention_days\": 30}";
static const char NARROW_JSON[] =
	"{\"version\": 1, \"capture\": {\"pointer\": true},"
	" \"levels\": {\"keep\": 1, \"export\": 1}, \"retention_days\": 7}";
static const char BROAD_JSON[] =
	"{\"version\": 1, \"capture\": {\"pointer\": true},"
	" \"levels\": {\"keep\": 1, \"export\": 1}, \"retention_days\": 7,"
	" \"purposes\": [{\"name\": \"x\", \"description\": \"y\"}],"
	" \"readers\": [{\"name\": \"everyone@example.com\","
	" \"purposes\": [\"x\"]}]}";

struct pol {
	struct st_buf json, notice;
	uint8_t hash[32], nh[32];
};

struct dev {
	uint8_t id[16]; /* given by the server at enrollment */
	uint8_t pk[32], *sk;
	uint8_t person_id[16], person_pk[32];
};

/* Everything the tests share: one server for the whole group. */
static struct {
	char dir[256], db[ST_CFG_PATH_MAX], url_file[512], log_path[512];
	char ca_pem[ST_CFG_PATH_MAX], ca_key[512], cert[ST_CFG_PATH_MAX];
	char key[ST_CFG_PATH_MAX];
	char url[300];
	struct st_server_config cfg;
	uint8_t master_pk[32], *master_sk;
	struct pol full, narrow;
	char admin[ST_TOKEN_TEXT_MAX], revoked[ST_TOKEN_TEXT_MAX];
	char expired[ST_TOKEN_TEXT_MAX], reader[ST_TOKEN_TEXT_MAX];
	int stop_pipe[2];
	pthread_t th;
	int serve_rc;
	struct st_error serve_err;
	FILE *log;
	CURL *curl;
	struct dev alice; /* enrolled as local user "alice" */
	struct dev bob;   /* enrolled, later revoked */
	struct dev stray; /* never enrolled */
	bool have_alice, have_bob;
	uint32_t seg_start_min, seg_end_min;
} S;

/* ---- helpers ---- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void make_policy(const char *src, struct pol *o)
{
	struct st_policy p;
	struct st_error e = {0};
	if (st_policy_parse(src, strlen(src), &p, NULL, &e) < 0)
		fail_msg("policy: %s", e.msg);
	st_buf_init(&o->json, false);
	st_buf_init(&o->notice, false);
	assert_int_equal(st_policy_canonical(&p, &o->json), 0);
	assert_int_equal(st_policy_hash(&p, o->hash), 0);
	assert_int_equal(st_policy_notice(&p, &o->notice, &e), 0);
	crypto_hash_sha256(o->nh, o->notice.p, o->notice.len);
	st_policy_fini(&p);
}

static void put_policy(struct st_store *s, const struct pol *p, bool current)
{
	struct st_store_policy r = {0};
	memcpy(r.hash, p->hash, 32);
	memcpy(r.notice_hash, p->nh, 32);
	r.json = (const char *)p->json.p;
	r.json_len = p->json.len;
	r.notice = p->notice.p;
	r.notice_len = p->notice.len;
	r.created_s = now_s();
	struct st_error e = {0};
	if (st_store_policy_put(s, &r, &e) < 0)
		fail_msg("policy put: %s", e.msg);
	if (current && st_store_policy_set_current(s, p->hash, now_s(), &e) < 0)
		fail_msg("policy current: %s", e.msg);
}

static void add_token(struct st_store *s, const char *name, const char *role,
		      int64_t expires_s, bool revoke, char *text)
{
	struct st_token t = {0};
	assert_int_equal(st_admin_token_new(text, t.hash), 0);
	randombytes_buf(t.id, sizeof t.id);
	snprintf(t.name, sizeof t.name, "%s", name);
	snprintf(t.role, sizeof t.role, "%s", role);
	t.created_s = now_s() - 10;
	t.expires_s = expires_s;
	struct st_error e = {0};
	if (st_store_token_add(s, &t, &e) < 0)
		fail_msg("token add: %s", e.msg);
	if (revoke && st_store_token_revoke(s, name, &e) < 0)
		fail_msg("token revoke: %s", e.msg);
}

/* A thread's own handle (a held poll waits on one thread while another
 * pauses); NULL: the shared one. */
static __thread CURL *tl_curl;

struct resp {
	long status;
	struct st_buf body;
	json_t *j;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
	struct st_buf *b = ctx;
	st_buf_put(b, p, sz * n);
	return b->oom ? 0 : sz * n;
}

static void resp_fini(struct resp *r)
{
	st_buf_fini(&r->body);
	json_decref(r->j);
	memset(r, 0, sizeof *r);
}

/* One request. ctype NULL: no Content-Type at all. extra: NULL-terminated
 * header lines. Returns the status; r->j holds a JSON answer. */
/* The next call (of this thread) goes over a new connection. */
static _Thread_local bool fresh_next;

static long call(const char *method, const char *path, const char *ctype,
		 const void *body, size_t len, const char *const *extra,
		 struct resp *r)
{
	memset(r, 0, sizeof *r);
	st_buf_init(&r->body, false);
	CURL *c = tl_curl ? tl_curl : S.curl;
	curl_easy_reset(c);
	if (fresh_next) {
		/* a new connection, closed after: no lease-poll binding */
		fresh_next = false;
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
	char url[600];
	snprintf(url, sizeof url, "%s%s", S.url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, S.ca_pem);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	struct curl_slist *h = NULL;
	char ct[200];
	if (ctype)
		snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
	else
		snprintf(ct, sizeof ct, "Content-Type:"); /* none at all */
	h = curl_slist_append(h, ct);
	for (size_t i = 0; extra && extra[i]; i++)
		h = curl_slist_append(h, extra[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->j = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
	return r->status;
}

static long admin_call(const char *method, const char *path,
		       const char *json, struct resp *r)
{
	char auth[200];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", S.admin);
	const char *extra[] = {auth, NULL};
	return call(method, path, json ? ST_API_CT_JSON : NULL, json,
		    json ? strlen(json) : 0, extra, r);
}

/* A signed device request, at time t. */
static long device_call(const struct dev *d, const uint8_t *sk,
			const char *method, const char *path,
			const char *json, int64_t t, struct resp *r)
{
	struct st_devreq_sig sig;
	struct st_error e = {0};
	size_t len = json ? strlen(json) : 0;
	if (st_devreq_sign(d->id, sk, method, path, (const uint8_t *)json,
			   len, t, &sig, &e) < 0)
		fail_msg("sign: %s", e.msg);
	char h1[100], h2[100], h3[200];
	snprintf(h1, sizeof h1, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(h2, sizeof h2, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(h3, sizeof h3, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	const char *extra[] = {h1, h2, h3, NULL};
	return call(method, path, json ? ST_API_CT_JSON : NULL, json, len,
		    extra, r);
}

/* Asserts an error answer: status, id, and a word of the message. */
static void assert_error(struct resp *r, long status, const char *id,
			 const char *word)
{
	if (r->status != status)
		fail_msg("want %ld, got %ld: %.*s", status, r->status,
			 (int)r->body.len, (const char *)r->body.p);
	json_t *e = json_object_get(r->j, "error");
	assert_non_null(e);
	const char *got = json_string_value(json_object_get(e, "id"));
	assert_non_null(got);
	if (strcmp(got, id) != 0)
		fail_msg("want id %s, got %s: %s", id, got,
			 json_string_value(json_object_get(e, "message")));
	assert_int_equal(json_integer_value(json_object_get(e, "code")),
			 st_err_from_id(id));
	const char *msg = json_string_value(json_object_get(e, "message"));
	assert_non_null(msg);
	if (word && !strstr(msg, word))
		fail_msg("message '%s' lacks '%s'", msg, word);
	resp_fini(r);
}

static const char *jstr(struct resp *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r->j, key));
	if (!s)
		fail_msg("answer lacks string \"%s\": %.*s", key,
			 (int)r->body.len, (const char *)r->body.p);
	return s;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	assert_int_equal(sodium_hex2bin(out, n, s, strlen(s), NULL, &got, NULL),
			 0);
	assert_int_equal(got, n);
}

static void unb64(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	assert_int_equal(sodium_base642bin(out, n, s, strlen(s), NULL, &got,
					   NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(got, n);
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
	sodium_bin2hex(out, n * 2 + 1, p, n);
}

/* ---- segments ---- */

/* A session marker and pointer motion, or with keys and a focus too
 * (full), anchored `ago` seconds before now. */
static void events(struct st_events *evs, bool full, int64_t ago)
{
	st_events_init(evs, true);
	evs->anchor_ns = (uint64_t)(now_s() - ago) * NS;
	evs->tick_ns = 1000000;
	struct st_event e;
	uint64_t t = 0;
#define E(ty) (memset(&e, 0, sizeof e), e.t = (t += 40), e.type = (ty))
	E(ST_EV_SESSION);
	e.u.session.marker = ST_SESSION_START;
	fx_push(evs, e);
	E(ST_EV_POINTER);
	e.u.ptr.x = 5, e.u.ptr.y = 6;
	fx_push(evs, e);
	if (full) {
		E(ST_EV_FOCUS);
		e.u.focus.app = fx_str(evs, "org.gnome.Terminal");
		e.u.focus.cls = fx_str(evs, "XTerm");
		e.u.focus.title = fx_str(evs, "terminal");
		fx_push(evs, e);
		E(ST_EV_KEY_PRESS);
		e.u.key.keycode = 38, e.u.key.keysym = 0x61;
		e.u.key.text = fx_str(evs, "a");
		fx_push(evs, e);
		E(ST_EV_KEY_RELEASE);
		e.u.key.keycode = 38, e.u.key.keysym = 0x61;
		fx_push(evs, e);
	}
#undef E
}

struct segopt {
	bool full;
	int64_t ago;
	uint8_t level;
	const uint8_t *nh;        /* NULL: the full policy's notice */
	const uint8_t *person_id; /* NULL: the device's person */
	const uint8_t *device_id; /* NULL: the device's id */
	int64_t lease;            /* 0: 1 (the first epoch); -1: none (0) */
};

static void seal_seg(struct st_buf *out, const struct dev *d, uint64_t seq,
		     const struct segopt *o)
{
	struct st_events evs;
	events(&evs, o->full, o->ago);
	struct st_seal_params sp = {0};
	memcpy(sp.device_id, o->device_id ? o->device_id : d->id, 16);
	memcpy(sp.person_id, o->person_id ? o->person_id : d->person_id, 16);
	sp.seq = seq;
	sp.lease_seq = o->lease == 0 ? 1 : o->lease < 0 ? 0 : (uint64_t)o->lease;
	memcpy(sp.notice_hash, o->nh ? o->nh : S.full.nh, 32);
	sp.level = o->level ? o->level : 1;
	st_buf_init(out, false);
	struct st_error e = {0};
	if (st_segment_seal(&sp, &evs, d->person_pk, d->sk, NULL, out, &e) < 0)
		fail_msg("seal: %s", e.msg);
	st_events_minutes(&evs, &S.seg_start_min, &S.seg_end_min, NULL);
	st_events_fini(&evs);
}

static long upload(const struct st_buf *seg, const char *backlog,
		   struct resp *r)
{
	char h[100];
	const char *extra[] = {h, NULL};
	if (backlog)
		snprintf(h, sizeof h, ST_API_HDR_BACKLOG ": %s", backlog);
	return call("POST", "/v1/segments", ST_API_CT_SEGMENT, seg->p,
		    seg->len, backlog ? extra : NULL, r);
}

/* ---- the server ---- */

static void *serve_main(void *arg)
{
	(void)arg;
	struct st_serve_opts o = {.log = S.log,
				  .url_file = S.url_file,
				  .stop_fd = S.stop_pipe[0]};
	S.serve_rc = st_serve(&S.cfg, &o, &S.serve_err);
	return NULL;
}

static void fill_cfg(struct st_server_config *c, const char *dir)
{
	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "%s", dir);
	snprintf(c->listen, sizeof c->listen, "127.0.0.1:0");
	snprintf(c->db, sizeof c->db, "%s/sealtrace.db", dir);
	snprintf(c->tls_cert, sizeof c->tls_cert, "%s/tls/server.pem", dir);
	snprintf(c->tls_key, sizeof c->tls_key, "%s/tls/server.key", dir);
	snprintf(c->tls_ca, sizeof c->tls_ca, "%s/tls/ca.pem", dir);
	snprintf(c->master_public, sizeof c->master_public, "%s/master.pub",
		 dir);
	snprintf(c->lease_key, sizeof c->lease_key, "%s/keys/lease.key", dir);
	snprintf(c->lease_pub, sizeof c->lease_pub, "%s/keys/lease.pub", dir);
	snprintf(c->audit_key, sizeof c->audit_key, "%s/keys/audit.key", dir);
	snprintf(c->audit_pub, sizeof c->audit_pub, "%s/keys/audit.pub", dir);
	c->body_max = BODY_MAX;
	c->connections_max = 64;
	c->connection_timeout_s = 5;
	c->request_window_s = 300;
	c->ingest_window_past_s = 86400;
	c->ingest_window_future_s = 86400;
	c->threads = 1;
	c->enroll_ttl_default_s = 86400;
	/* short, so that a renewal at the hold's end is quick to see */
	c->lease_validity_ms = 5000;
	c->lease_hold_s = 2;
	/* a confirmation waits a second of quiet before it is stored */
	c->confirm_quiet_ms = 1000;
	c->confirm_batch_ms = 60000;
}

static void make_dir(const char *p)
{
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	snprintf(S.dir, sizeof S.dir, "/tmp/st-api-XXXXXX");
	if (!mkdtemp(S.dir))
		return -1;
	char p[600];
	snprintf(p, sizeof p, "%s/tls", S.dir);
	make_dir(p);
	snprintf(p, sizeof p, "%s/keys", S.dir);
	make_dir(p);
	fill_cfg(&S.cfg, S.dir);
	snprintf(S.ca_pem, sizeof S.ca_pem, "%s", S.cfg.tls_ca);
	snprintf(S.ca_key, sizeof S.ca_key, "%s/tls/ca.key", S.dir);
	snprintf(S.cert, sizeof S.cert, "%s", S.cfg.tls_cert);
	snprintf(S.key, sizeof S.key, "%s", S.cfg.tls_key);
	snprintf(S.db, sizeof S.db, "%s", S.cfg.db);
	snprintf(S.url_file, sizeof S.url_file, "%s/url", S.dir);
	snprintf(S.log_path, sizeof S.log_path, "%s/serve.log", S.dir);

	struct st_error e = {0};
	if (st_tls_make_ca(S.ca_pem, S.ca_key, "sealtrace test CA", &e) < 0)
		fail_msg("CA: %s", e.msg);
	const char *hosts[] = {"127.0.0.1", "localhost"};
	if (st_tls_make_server(S.ca_pem, S.ca_key, hosts, 2, 30, S.cert,
			       S.key, &e) < 0)
		fail_msg("server cert: %s", e.msg);

	/* the lease pair; the master's public half only (its secret stays
	 * with the test, as on an export host) */
	uint8_t lpk[32], *lsk = st_secret_new(ST_SIGN_SK_LEN);
	assert_int_equal(st_sign_keypair(lpk, lsk), 0);
	if (st_key_write(S.cfg.lease_key, ST_KEY_LEASE_SECRET, lsk, 64, true,
			 &e) < 0 ||
	    st_key_write(S.cfg.lease_pub, ST_KEY_LEASE_PUBLIC, lpk, 32, false,
			 &e) < 0)
		fail_msg("lease key: %s", e.msg);
	/* the audit pair: a separate key, as init makes it */
	uint8_t apk[32];
	assert_int_equal(st_sign_keypair(apk, lsk), 0);
	if (st_key_write(S.cfg.audit_key, ST_KEY_AUDIT_SECRET, lsk, 64, true,
			 &e) < 0 ||
	    st_key_write(S.cfg.audit_pub, ST_KEY_AUDIT_PUBLIC, apk, 32, false,
			 &e) < 0)
		fail_msg("audit key: %s", e.msg);
	st_secret_free(lsk);
	S.master_sk = st_secret_new(ST_BOX_SK_LEN);
	assert_int_equal(st_box_keypair(S.master_pk, S.master_sk), 0);
	if (st_key_write(S.cfg.master_public, ST_KEY_MASTER_PUBLIC,
			 S.master_pk, 32, false, &e) < 0)
		fail_msg("master public: %s", e.msg);

	make_policy(FULL_JSON, &S.full);
	make_policy(NARROW_JSON, &S.narrow);
	struct st_store *s = NULL;
	struct st_store_cfg sc = {.path = S.db};
	if (st_store_open(&st_store_sqlite, &sc, &s, &e) < 0)
		fail_msg("store: %s", e.msg);
	put_policy(s, &S.narrow, false);
	put_policy(s, &S.full, true);
	add_token(s, "admin", "admin", 0, false, S.admin);
	add_token(s, "old", "admin", 0, true, S.revoked);
	add_token(s, "late", "admin", now_s() - 5, false, S.expired);
	add_token(s, "reader", "reader", 0, false, S.reader);
	st_store_close(s);

	S.log = fopen(S.log_path, "w");
	assert_non_null(S.log);
	assert_int_equal(pipe(S.stop_pipe), 0);
	assert_int_equal(pthread_create(&S.th, NULL, serve_main, NULL), 0);
	/* the URL file says the server listens */
	for (int i = 0; i < 1000; i++) {
		struct st_buf b;
		st_buf_init(&b, false);
		if (st_file_read(S.url_file, 299, &b, NULL) == 0 && b.len) {
			memcpy(S.url, b.p, b.len);
			S.url[b.len] = 0;
			S.url[strcspn(S.url, "\n")] = 0;
			st_buf_fini(&b);
			break;
		}
		st_buf_fini(&b);
		usleep(10000);
	}
	if (!S.url[0])
		fail_msg("server did not start: %s", S.serve_err.msg);
	S.curl = curl_easy_init();
	assert_non_null(S.curl);

	S.alice.sk = st_secret_new(ST_SIGN_SK_LEN);
	S.bob.sk = st_secret_new(ST_SIGN_SK_LEN);
	S.stray.sk = st_secret_new(ST_SIGN_SK_LEN);
	assert_int_equal(st_sign_keypair(S.alice.pk, S.alice.sk), 0);
	assert_int_equal(st_sign_keypair(S.bob.pk, S.bob.sk), 0);
	assert_int_equal(st_sign_keypair(S.stray.pk, S.stray.sk), 0);
	randombytes_buf(S.stray.id, 16);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (S.stop_pipe[1] > 0) {
		(void)!write(S.stop_pipe[1], "x", 1);
		pthread_join(S.th, NULL);
	}
	curl_easy_cleanup(S.curl);
	if (S.log)
		fclose(S.log);
	st_secret_free(S.master_sk);
	st_secret_free(S.alice.sk);
	st_secret_free(S.bob.sk);
	st_secret_free(S.stray.sk);
	st_buf_fini(&S.full.json), st_buf_fini(&S.full.notice);
	st_buf_fini(&S.narrow.json), st_buf_fini(&S.narrow.notice);
	nftw(S.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	curl_global_cleanup();
	return 0;
}

/* ---- public ---- */

static void health_answers_ok_with_version(void **state)
{
	(void)state;
	struct resp r;
	assert_int_equal(call("GET", "/v1/health", NULL, NULL, 0, NULL, &r),
			 200);
	assert_true(json_is_true(json_object_get(r.j, "ok")));
	assert_string_equal(jstr(&r, "version"), ST_API_VERSION);
	resp_fini(&r);
	assert_true(strncmp(S.url, "https://127.0.0.1:", 18) == 0);
}

/* When a batch of pause confirmations is stored: after the quiet time, or
 * the batch time from the first, or at once when the queue is half full. */
static void confirmations_are_due_quiet_batched_or_half_full(void **state)
{
	(void)state;
	const uint64_t ms = 1000000u;
	assert_true(st_api_confirm_due(0, 5 * ms, 9 * ms, 50 * ms,
				       1000 * ms) == UINT64_MAX);
	/* a lone one: its quiet time */
	assert_true(st_api_confirm_due(1, 5 * ms, 5 * ms, 50 * ms,
				       1000 * ms) == 55 * ms);
	/* a stream: the quiet time moves with the last one... */
	assert_true(st_api_confirm_due(900, 5 * ms, 700 * ms, 50 * ms,
				       1000 * ms) == 750 * ms);
	/* ...up to the batch time from the first */
	assert_true(st_api_confirm_due(9000, 5 * ms, 990 * ms, 50 * ms,
				       1000 * ms) == 1005 * ms);
	/* half the queue: now, whatever the times */
	assert_true(st_api_confirm_due(ST_API_CONFIRM_PENDING_MAX / 2, 5 * ms,
				       6 * ms, 50 * ms, 1000 * ms) == 0);
	assert_true(st_api_confirm_due(ST_API_CONFIRM_PENDING_MAX / 2 - 1,
				       5 * ms, 6 * ms, 50 * ms,
				       1000 * ms) == 56 * ms);
}

/* ST_HTTP_CONN_MEMORY (8 KiB) holds the request line and headers: 6 KiB
 * of headers are served, 16 KiB refused with 431 by libmicrohttpd. */
static void headers_fit_the_connection_memory(void **state)
{
	(void)state;
	static char big[16384 + 32];
	const char *extra[] = {big, NULL};
	struct resp r;
	snprintf(big, sizeof big, "X-Pad: %06000d", 7);
	assert_int_equal(call("GET", "/v1/health", NULL, NULL, 0, extra, &r),
			 200);
	resp_fini(&r);
	snprintf(big, sizeof big, "X-Pad: %016384d", 7);
	fresh_next = true;
	assert_int_equal(call("GET", "/v1/health", NULL, NULL, 0, extra, &r),
			 431);
	resp_fini(&r);
}

static void ca_answers_what_tokens_fingerprint(void **state)
{
	(void)state;
	struct resp r;
	assert_int_equal(call("GET", "/v1/ca", NULL, NULL, 0, NULL, &r), 200);
	const char *b = jstr(&r, "ca_der");
	size_t cap = strlen(b), got = 0;
	uint8_t *der = malloc(cap);
	assert_int_equal(sodium_base642bin(der, cap, b, strlen(b), NULL, &got,
					   NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	uint8_t fp[32], want[32];
	st_fingerprint(der, got, fp);
	free(der);
	assert_int_equal(st_tls_cert_der(S.ca_pem, NULL, NULL, want, NULL), 0);
	assert_memory_equal(fp, want, 32);
	uint8_t lpk[32], file_pk[32];
	unb64(jstr(&r, "lease_public_key"), lpk, 32);
	assert_int_equal(st_key_read(S.cfg.lease_pub, ST_KEY_LEASE_PUBLIC,
				     file_pk, 32, false, NULL),
			 0);
	assert_memory_equal(lpk, file_pk, 32);
	resp_fini(&r);
}

static void unknown_paths_and_methods_are_404_and_405(void **state)
{
	(void)state;
	struct resp r;
	call("GET", "/v1/nothing", NULL, NULL, 0, NULL, &r);
	assert_error(&r, 404, "not_found", "path");
	call("GET", "/v2/health", NULL, NULL, 0, NULL, &r);
	assert_error(&r, 404, "not_found", NULL);
	call("DELETE", "/v1/health", NULL, NULL, 0, NULL, &r);
	assert_error(&r, 405, "inval", "not allowed");
	call("GET", "/v1/segments", NULL, NULL, 0, NULL, &r);
	assert_error(&r, 405, "inval", "GET");
}

/* ---- administration ---- */

static void admin_refuses_every_bad_token_alike(void **state)
{
	(void)state;
	struct resp r;
	call("GET", "/v1/admin/status", NULL, NULL, 0, NULL, &r);
	assert_error(&r, 401, "auth", "token");
	char h[300], unknown[ST_TOKEN_TEXT_MAX];
	uint8_t hash[32];
	assert_int_equal(st_admin_token_new(unknown, hash), 0);
	const char *bad[] = {"Authorization: Bearer sta_short",
			     "Authorization: Basic YWxhZGRpbjpvcGVu",
			     "Authorization: Bearer", NULL};
	for (size_t i = 0; bad[i]; i++) {
		const char *extra[] = {bad[i], NULL};
		call("GET", "/v1/admin/status", NULL, NULL, 0, extra, &r);
		assert_error(&r, 401, "auth", "token");
	}
	const char *toks[] = {unknown, S.revoked, S.expired};
	char first[ST_ERROR_MSG_MAX] = "";
	for (size_t i = 0; i < 3; i++) {
		snprintf(h, sizeof h, "Authorization: Bearer %s", toks[i]);
		const char *extra[] = {h, NULL};
		call("GET", "/v1/admin/status", NULL, NULL, 0, extra, &r);
		/* the same words for unknown, revoked and expired */
		const char *m = json_string_value(json_object_get(
			json_object_get(r.j, "error"), "message"));
		assert_non_null(m);
		if (!first[0])
			snprintf(first, sizeof first, "%s", m);
		assert_string_equal(m, first);
		assert_error(&r, 401, "auth", NULL);
	}
	snprintf(h, sizeof h, "Authorization: Bearer %s", S.reader);
	const char *extra[] = {h, NULL};
	call("GET", "/v1/admin/status", NULL, NULL, 0, extra, &r);
	assert_error(&r, 403, "forbidden", "admin");
	/* and the good one */
	assert_int_equal(admin_call("GET", "/v1/admin/status", NULL, &r), 200);
	assert_string_equal(jstr(&r, "version"), ST_API_VERSION);
	char nh[65];
	hexs(S.full.nh, 32, nh);
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	resp_fini(&r);
}

static void user_add_seals_the_secret_to_the_master_key(void **state)
{
	(void)state;
	struct resp r;
	assert_int_equal(admin_call("POST", "/v1/admin/users",
				    "{\"name\": \"alice@example.com\","
				    " \"group\": \"eng\"}",
				    &r),
			 201);
	assert_string_equal(jstr(&r, "name"), "alice@example.com");
	assert_string_equal(jstr(&r, "group"), "eng");
	uint8_t id[16], pk[32];
	unhex(jstr(&r, "id"), id, 16);
	unb64(jstr(&r, "public_key"), pk, 32);
	resp_fini(&r);
	/* the stored sealed secret opens with the master secret to the
	 * secret half of that public key */
	struct st_store *s = NULL;
	struct st_store_cfg sc = {.path = S.db};
	assert_int_equal(st_store_open(&st_store_sqlite, &sc, &s, NULL), 0);
	struct st_person p;
	assert_int_equal(st_store_person_get(s, id, &p, NULL), 0);
	st_store_close(s);
	uint8_t *sk = st_secret_new(32), derived[32];
	assert_int_equal(crypto_box_seal_open(sk, p.sealed_secret, 80,
					      S.master_pk, S.master_sk),
			 0);
	crypto_scalarmult_base(derived, sk);
	st_secret_free(sk);
	assert_memory_equal(derived, pk, 32);

	assert_int_equal(admin_call("POST", "/v1/admin/users",
				    "{\"name\": \"bob@example.com\"}", &r),
			 201);
	resp_fini(&r);
	admin_call("POST", "/v1/admin/users",
		   "{\"name\": \"alice@example.com\"}", &r);
	assert_error(&r, 409, "exists", "alice@example.com");
	admin_call("POST", "/v1/admin/users", "{\"name\": \"\"}", &r);
	assert_error(&r, 400, "inval", "name");
	admin_call("POST", "/v1/admin/users", "{\"nam\": \"x\"}", &r);
	assert_error(&r, 400, "json", "nam");

	assert_int_equal(admin_call("GET", "/v1/admin/users", NULL, &r), 200);
	json_t *users = json_object_get(r.j, "users");
	assert_int_equal(json_array_size(users), 2);
	bool seen = false;
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u) {
		const char *n = json_string_value(json_object_get(u, "name"));
		if (strcmp(n, "alice@example.com") == 0) {
			seen = true;
			assert_true(json_is_false(json_object_get(u, "erased")));
			assert_true(json_integer_value(
					    json_object_get(u, "created_s")) > 0);
		}
	}
	assert_true(seen);
	resp_fini(&r);
}

static void malformed_json_is_400_and_wrong_type_415(void **state)
{
	(void)state;
	struct resp r;
	admin_call("POST", "/v1/admin/users", "{not json", &r);
	assert_error(&r, 400, "json", "JSON");
	admin_call("POST", "/v1/admin/users", "[1, 2]", &r);
	assert_error(&r, 400, "json", "object");
	char auth[200];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", S.admin);
	const char *extra[] = {auth, NULL};
	const char body[] = "{\"name\": \"carol@example.com\"}";
	call("POST", "/v1/admin/users", "text/plain", body, strlen(body),
	     extra, &r);
	assert_error(&r, 415, "content_type", "application/json");
	call("POST", "/v1/segments", "application/octet-stream", "abc", 3,
	     NULL, &r);
	assert_error(&r, 415, "content_type", ST_API_CT_SEGMENT);
	call("POST", "/v1/enroll", NULL, "{}", 2, NULL, &r);
	assert_error(&r, 415, "content_type", NULL);
	/* charset parameters are fine */
	call("POST", "/v1/admin/users", "application/json; charset=utf-8",
	     body, strlen(body), extra, &r);
	assert_int_equal(r.status, 201);
	resp_fini(&r);
}

/* ---- enrollment ---- */

static void new_token(const char *user, long ttl, char *out)
{
	char body[300];
	if (ttl)
		snprintf(body, sizeof body,
			 "{\"user\": \"%s\", \"ttl_s\": %ld}", user, ttl);
	else
		snprintf(body, sizeof body, "{\"user\": \"%s\"}", user);
	struct resp r;
	if (admin_call("POST", "/v1/admin/enroll-tokens", body, &r) != 201)
		fail_msg("enroll-token: %ld %.*s", r.status, (int)r.body.len,
			 (const char *)r.body.p);
	snprintf(out, ST_TOKEN_TEXT_MAX, "%s", jstr(&r, "token"));
	assert_string_equal(jstr(&r, "user"), user);
	int64_t exp = json_integer_value(json_object_get(r.j, "expires_s"));
	assert_true(exp > now_s() && exp <= now_s() + (ttl ? ttl : 86400) + 5);
	resp_fini(&r);
}

static long enroll(const char *token, const struct dev *d, const char *user,
		   struct resp *r)
{
	char pk[64], body[600];
	sodium_bin2base64(pk, sizeof pk, d->pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, sizeof body,
		 "{\"token\": \"%s\", \"device_public_key\": \"%s\","
		 " \"local_user\": \"%s\", \"hostname\": \"ws-042\"}",
		 token, pk, user);
	return call("POST", "/v1/enroll", ST_API_CT_JSON, body, strlen(body),
		    NULL, r);
}

static void enroll_token_carries_the_pinned_fingerprints(void **state)
{
	(void)state;
	char tok[ST_TOKEN_TEXT_MAX];
	new_token("alice@example.com", 0, tok);
	uint8_t secret[32], ca_fp[32], lease_fp[32], want[32], lpk[32];
	assert_int_equal(st_enroll_token_parse(tok, secret, ca_fp, lease_fp,
					       NULL),
			 0);
	assert_int_equal(st_tls_cert_der(S.ca_pem, NULL, NULL, want, NULL), 0);
	assert_memory_equal(ca_fp, want, 32);
	assert_int_equal(st_key_read(S.cfg.lease_pub, ST_KEY_LEASE_PUBLIC, lpk,
				     32, false, NULL),
			 0);
	st_fingerprint(lpk, 32, want);
	assert_memory_equal(lease_fp, want, 32);
	struct resp r;
	admin_call("POST", "/v1/admin/enroll-tokens",
		   "{\"user\": \"nobody@example.com\"}", &r);
	assert_error(&r, 404, "not_found", "nobody@example.com");
	admin_call("POST", "/v1/admin/enroll-tokens",
		   "{\"user\": \"alice@example.com\", \"ttl_s\": 99999999}",
		   &r);
	assert_error(&r, 400, "inval", "ttl_s");
}

static void enroll_gives_the_current_policy_once_per_token(void **state)
{
	(void)state;
	char tok[ST_TOKEN_TEXT_MAX];
	new_token("alice@example.com", 3600, tok);
	struct resp r;
	if (enroll(tok, &S.alice, "alice", &r) != 201)
		fail_msg("enroll: %ld %.*s", r.status, (int)r.body.len,
			 (const char *)r.body.p);
	unhex(jstr(&r, "device_id"), S.alice.id, 16);
	unhex(jstr(&r, "person_id"), S.alice.person_id, 16);
	unb64(jstr(&r, "person_public_key"), S.alice.person_pk, 32);
	assert_string_equal(jstr(&r, "person_name"), "alice@example.com");
	const char *pol = jstr(&r, "policy");
	assert_int_equal(strlen(pol), S.full.json.len);
	assert_memory_equal(pol, S.full.json.p, S.full.json.len);
	const char *notice = jstr(&r, "notice");
	assert_int_equal(strlen(notice), S.full.notice.len);
	assert_memory_equal(notice, S.full.notice.p, S.full.notice.len);
	char h[65];
	hexs(S.full.nh, 32, h);
	assert_string_equal(jstr(&r, "notice_hash"), h);
	hexs(S.full.hash, 32, h);
	assert_string_equal(jstr(&r, "policy_hash"), h);
	jstr(&r, "lease_public_key");
	resp_fini(&r);
	S.have_alice = true;

	/* the same token again: used, even for another key */
	enroll(tok, &S.bob, "bob", &r);
	assert_error(&r, 403, "token_used", NULL);
	/* a well-formed token the server never made */
	char other[ST_TOKEN_TEXT_MAX];
	uint8_t fp[32] = {0}, hash[32];
	assert_int_equal(st_enroll_token_new(fp, fp, other, hash), 0);
	enroll(other, &S.bob, "bob", &r);
	assert_error(&r, 403, "token_invalid", NULL);
	enroll("ste1.nope", &S.bob, "bob", &r);
	assert_error(&r, 403, "token_invalid", "token");
	/* local_user is required */
	new_token("bob@example.com", 0, tok);
	enroll(tok, &S.bob, "", &r);
	assert_error(&r, 400, "inval", "local_user");
	/* an expired one, put behind the server's back */
	char late[ST_TOKEN_TEXT_MAX];
	struct st_enroll_token t = {0};
	assert_int_equal(st_enroll_token_new(fp, fp, late, t.hash), 0);
	memcpy(t.person_id, S.alice.person_id, 16);
	t.created_s = now_s() - 100;
	t.expires_s = now_s() - 10;
	struct st_store *s = NULL;
	struct st_store_cfg sc = {.path = S.db};
	assert_int_equal(st_store_open(&st_store_sqlite, &sc, &s, NULL), 0);
	assert_int_equal(st_store_enroll_token_add(s, &t, NULL), 0);
	st_store_close(s);
	enroll(late, &S.bob, "bob", &r);
	assert_error(&r, 403, "token_expired", NULL);
	/* the unused bob token still works */
	assert_int_equal(enroll(tok, &S.bob, "bob", &r), 201);
	unhex(jstr(&r, "device_id"), S.bob.id, 16);
	unhex(jstr(&r, "person_id"), S.bob.person_id, 16);
	unb64(jstr(&r, "person_public_key"), S.bob.person_pk, 32);
	resp_fini(&r);
	S.have_bob = true;
}

/* ---- signed device requests ---- */

static void acceptance_is_the_enrolled_users_act(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	char nh[65], body[300];
	hexs(S.full.nh, 32, nh);
	struct resp r;
	snprintf(body, sizeof body,
		 "{\"notice_hash\": \"%s\", \"local_user\": \"root\","
		 " \"accepted_s\": %lld}",
		 nh, (long long)now_s());
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/acceptances",
		    body, now_s(), &r);
	assert_error(&r, 403, "user_mismatch", "alice");
	/* signed by another key */
	device_call(&S.alice, S.bob.sk, "POST", "/v1/device/acceptances",
		    body, now_s(), &r);
	assert_error(&r, 401, "signature", NULL);
	/* too old a signature */
	snprintf(body, sizeof body,
		 "{\"notice_hash\": \"%s\", \"local_user\": \"alice\","
		 " \"accepted_s\": %lld}",
		 nh, (long long)now_s());
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/acceptances",
		    body, now_s() - 3600, &r);
	assert_error(&r, 401, "request_time", "clock");
	/* a device the server does not know */
	device_call(&S.stray, S.stray.sk, "POST", "/v1/device/acceptances",
		    body, now_s(), &r);
	assert_error(&r, 401, "auth", "enroll");
	/* no signature headers at all */
	call("POST", "/v1/device/acceptances", ST_API_CT_JSON, body,
	     strlen(body), NULL, &r);
	assert_error(&r, 401, "auth", NULL);
	/* an unknown notice */
	char bad[300];
	snprintf(bad, sizeof bad,
		 "{\"notice_hash\": \"%064d\", \"local_user\": \"alice\","
		 " \"accepted_s\": %lld}",
		 0, (long long)now_s());
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/acceptances",
		    bad, now_s(), &r);
	assert_error(&r, 404, "not_found", "notice");
	/* the real thing */
	assert_int_equal(device_call(&S.alice, S.alice.sk, "POST",
				     "/v1/device/acceptances", body, now_s(),
				     &r),
			 201);
	assert_true(json_is_true(json_object_get(r.j, "ok")));
	resp_fini(&r);
	/* the narrow notice too (for the not_in_notice refusal) */
	hexs(S.narrow.nh, 32, nh);
	snprintf(body, sizeof body,
		 "{\"notice_hash\": \"%s\", \"local_user\": \"alice\","
		 " \"accepted_s\": %lld}",
		 nh, (long long)now_s());
	assert_int_equal(device_call(&S.alice, S.alice.sk, "POST",
				     "/v1/device/acceptances", body, now_s(),
				     &r),
			 201);
	resp_fini(&r);
	/* bob accepts the full notice */
	hexs(S.full.nh, 32, nh);
	snprintf(body, sizeof body,
		 "{\"notice_hash\": \"%s\", \"local_user\": \"bob\","
		 " \"accepted_s\": %lld}",
		 nh, (long long)now_s());
	assert_int_equal(device_call(&S.bob, S.bob.sk, "POST",
				     "/v1/device/acceptances", body, now_s(),
				     &r),
			 201);
	resp_fini(&r);
}

static void device_policy_is_the_current_one(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct resp r;
	assert_int_equal(device_call(&S.alice, S.alice.sk, "GET",
				     "/v1/device/policy", NULL, now_s(), &r),
			 200);
	char nh[65];
	hexs(S.full.nh, 32, nh);
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	uint8_t pk[32];
	unb64(jstr(&r, "person_public_key"), pk, 32);
	assert_memory_equal(pk, S.alice.person_pk, 32);
	resp_fini(&r);
}

/* ---- segments ---- */

static void upload_stores_then_duplicate_then_conflict(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct st_buf seg, other;
	struct segopt o = {.full = true, .level = 2};
	seal_seg(&seg, &S.alice, 1, &o);
	struct resp r;
	if (upload(&seg, "7 12345", &r) != 200)
		fail_msg("upload: %ld %.*s", r.status, (int)r.body.len,
			 (const char *)r.body.p);
	assert_string_equal(jstr(&r, "result"), "stored");
	char idh[33], nh[65];
	hexs(S.alice.id, 16, idh);
	hexs(S.full.nh, 32, nh);
	assert_string_equal(jstr(&r, "device"), idh);
	assert_int_equal(json_integer_value(json_object_get(r.j, "seq")), 1);
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	resp_fini(&r);
	assert_int_equal(upload(&seg, NULL, &r), 200);
	assert_string_equal(jstr(&r, "result"), "duplicate");
	resp_fini(&r);
	o.full = false;
	seal_seg(&other, &S.alice, 1, &o);
	upload(&other, NULL, &r);
	assert_error(&r, 409, "conflict", NULL);
	st_buf_fini(&seg);
	st_buf_fini(&other);
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM segments"), 1);
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM flags"), 1);

	/* device list: stats, person, the backlog the agent reported */
	assert_int_equal(admin_call("GET", "/v1/admin/devices", NULL, &r), 200);
	json_t *ds = json_object_get(r.j, "devices");
	size_t i;
	json_t *d;
	bool seen = false;
	json_array_foreach(ds, i, d) {
		if (strcmp(json_string_value(json_object_get(d, "id")), idh))
			continue;
		seen = true;
		assert_string_equal(
			json_string_value(json_object_get(d, "person")),
			"alice@example.com");
		assert_string_equal(
			json_string_value(json_object_get(d, "local_user")),
			"alice");
		assert_int_equal(
			json_integer_value(json_object_get(d, "segments")), 1);
		assert_int_equal(
			json_integer_value(json_object_get(d, "last_seq")), 1);
		assert_int_equal(json_integer_value(
					 json_object_get(d, "backlog_segments")),
				 7);
		assert_int_equal(json_integer_value(
					 json_object_get(d, "backlog_bytes")),
				 12345);
		assert_true(json_is_true(json_object_get(d, "active")));
	}
	assert_true(seen);
	resp_fini(&r);
	assert_int_equal(admin_call("GET", "/v1/admin/flags", NULL, &r), 200);
	json_t *f = json_array_get(json_object_get(r.j, "flags"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "kind")),
			    "conflict");
	assert_string_equal(json_string_value(json_object_get(f, "device")),
			    idh);
	resp_fini(&r);
}

static void upload_refusals_have_their_own_ids(void **state)
{
	(void)state;
	if (!S.have_alice || !S.have_bob)
		skip();
	struct st_buf seg;
	struct resp r;
	struct segopt o = {.full = true, .level = 2};

	upload(&(struct st_buf){.p = (uint8_t *)"abc", .len = 3}, NULL, &r);
	assert_error(&r, 400, "truncated", NULL);
	upload(&(struct st_buf){.p = (uint8_t *)"nonsense", .len = 8}, NULL,
	       &r);
	assert_error(&r, 400, "bad_magic", NULL);
	seal_seg(&seg, &S.alice, 10, &o);
	uint8_t *copy = malloc(seg.len);
	memcpy(copy, seg.p, seg.len);
	copy[0] = 'X';
	upload(&(struct st_buf){.p = copy, .len = seg.len}, NULL, &r);
	assert_error(&r, 400, "bad_magic", NULL);
	memcpy(copy, seg.p, seg.len);
	upload(&(struct st_buf){.p = copy, .len = 100}, NULL, &r);
	assert_error(&r, 400, "truncated", NULL);
	/* a flipped signature byte, a flipped ciphertext byte */
	memcpy(copy, seg.p, seg.len);
	copy[ST_SEG_OFF_SIG + 3] ^= 1;
	upload(&(struct st_buf){.p = copy, .len = seg.len}, NULL, &r);
	assert_error(&r, 422, "signature", NULL);
	memcpy(copy, seg.p, seg.len);
	copy[seg.len - 1] ^= 1;
	upload(&(struct st_buf){.p = copy, .len = seg.len}, NULL, &r);
	assert_error(&r, 422, "body_mismatch", NULL);
	free(copy);
	st_buf_fini(&seg);

	struct {
		struct segopt o;
		const struct dev *d;
		long status;
		const char *id;
	} cases[] = {
		{{.full = true, .level = 2}, &S.stray, 422, "device_unknown"},
		{{.full = true, .level = 2, .person_id = S.bob.person_id},
		 &S.alice, 422, "person_mismatch"},
		{{.full = true, .level = 2, .nh = S.bob.person_pk /* any */},
		 &S.alice, 422, "notice_not_accepted"},
		{{.full = true, .level = 1, .nh = S.narrow.nh}, &S.alice, 422,
		 "not_in_notice"},
		{{.full = true, .level = 3}, &S.alice, 422, "over_keep"},
		{{.full = false, .level = 1, .ago = 4 * 86400}, &S.alice, 422,
		 "time_window"},
	};
	/* the stray device seals to a real person key */
	memcpy(S.stray.person_pk, S.alice.person_pk, 32);
	memcpy(S.stray.person_id, S.alice.person_id, 16);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		seal_seg(&seg, cases[i].d, 20 + i, &cases[i].o);
		upload(&seg, NULL, &r);
		assert_error(&r, cases[i].status, cases[i].id, NULL);
		st_buf_fini(&seg);
	}
	/* nothing of them was stored */
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM segments"), 1);

	/* a revoked device */
	char path[100], idh[33];
	hexs(S.bob.id, 16, idh);
	snprintf(path, sizeof path, "/v1/admin/devices/%s/revoke", idh);
	assert_int_equal(admin_call("POST", path, NULL, &r), 200);
	assert_true(json_is_false(json_object_get(r.j, "active")));
	resp_fini(&r);
	o.level = 2;
	seal_seg(&seg, &S.bob, 1, &o);
	upload(&seg, NULL, &r);
	assert_error(&r, 422, "device_revoked", NULL);
	st_buf_fini(&seg);
	device_call(&S.bob, S.bob.sk, "GET", "/v1/device/policy", NULL,
		    now_s(), &r);
	assert_error(&r, 403, "device_revoked", NULL);
	snprintf(path, sizeof path, "/v1/admin/devices/%032d/revoke", 0);
	admin_call("POST", path, NULL, &r);
	assert_error(&r, 404, "not_found", NULL);
}

static void oversized_bodies_are_413_at_once(void **state)
{
	(void)state;
	size_t n = BODY_MAX + 4096;
	uint8_t *big = calloc(1, n);
	struct resp r;
	/* announced by Content-Length: refused before the body is read */
	const char *expect[] = {"Expect: 100-continue", NULL};
	call("POST", "/v1/segments", ST_API_CT_SEGMENT, big, n, expect, &r);
	assert_error(&r, 413, "too_large", "body_max");
	/* chunked: refused once the body passes the limit */
	curl_easy_reset(S.curl);
	char url[600];
	snprintf(url, sizeof url, "%s/v1/segments", S.url);
	struct st_buf out;
	st_buf_init(&out, false);
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Content-Type: " ST_API_CT_SEGMENT);
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	curl_easy_setopt(S.curl, CURLOPT_URL, url);
	curl_easy_setopt(S.curl, CURLOPT_CAINFO, S.ca_pem);
	curl_easy_setopt(S.curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(S.curl, CURLOPT_POST, 1L);
	curl_easy_setopt(S.curl, CURLOPT_POSTFIELDS, big);
	curl_easy_setopt(S.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(S.curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(S.curl, CURLOPT_WRITEDATA, &out);
	CURLcode rc = curl_easy_perform(S.curl);
	curl_slist_free_all(h);
	long status = 0;
	curl_easy_getinfo(S.curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK)
		assert_int_equal(status, 413);
	st_buf_fini(&out);
	free(big);
	/* and the server goes on */
	assert_int_equal(call("GET", "/v1/health", NULL, NULL, 0, NULL, &r),
			 200);
	resp_fini(&r);
}

static void policy_apply_changes_upload_answers(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct resp r;
	admin_call("POST", "/v1/admin/policy", BROAD_JSON, &r);
	assert_error(&r, 400, "broad_grant", NULL);
	admin_call("POST", "/v1/admin/policy", "{\"version\": 1}", &r);
	assert_int_equal(r.status, 400);
	resp_fini(&r);
	char nh[65], full_nh[65];
	hexs(S.narrow.nh, 32, nh);
	hexs(S.full.nh, 32, full_nh);
	assert_int_equal(admin_call("POST", "/v1/admin/policy", NARROW_JSON,
				    &r),
			 200);
	assert_true(json_is_true(json_object_get(r.j, "changed")));
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	resp_fini(&r);
	assert_int_equal(admin_call("POST", "/v1/admin/policy", NARROW_JSON,
				    &r),
			 200);
	assert_true(json_is_false(json_object_get(r.j, "changed")));
	resp_fini(&r);
	assert_int_equal(admin_call("GET", "/v1/admin/policy", NULL, &r), 200);
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	assert_int_equal(strlen(jstr(&r, "policy")), S.narrow.json.len);
	assert_memory_equal(jstr(&r, "policy"), S.narrow.json.p,
			    S.narrow.json.len);
	assert_true(json_integer_value(json_object_get(r.j, "applied_s")) > 0);
	resp_fini(&r);
	/* a segment under the old (accepted) notice is still stored, and
	 * the answer names the new notice: the agent stops and asks */
	struct st_buf seg;
	struct segopt o = {.full = true, .level = 2};
	seal_seg(&seg, &S.alice, 2, &o);
	assert_int_equal(upload(&seg, NULL, &r), 200);
	assert_string_equal(jstr(&r, "result"), "stored");
	assert_string_equal(jstr(&r, "notice_hash"), nh);
	resp_fini(&r);
	st_buf_fini(&seg);
	/* back to the full policy for what follows */
	assert_int_equal(admin_call("POST", "/v1/admin/policy", FULL_JSON, &r),
			 200);
	assert_string_equal(jstr(&r, "notice_hash"), full_nh);
	resp_fini(&r);
}

static void forget_deletes_once_per_request_id(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	uint32_t from = S.seg_start_min - 5, to = S.seg_end_min + 5;
	char body[300];
	snprintf(body, sizeof body,
		 "{\"request_id\": \"%032d\", \"from_min\": %u,"
		 " \"to_min\": %u}",
		 7, from, to);
	struct resp r;
	assert_int_equal(device_call(&S.alice, S.alice.sk, "POST",
				     "/v1/device/forget", body, now_s(), &r),
			 200);
	long long deleted =
		json_integer_value(json_object_get(r.j, "deleted"));
	assert_true(deleted >= 1);
	resp_fini(&r);
	assert_int_equal(device_call(&S.alice, S.alice.sk, "POST",
				     "/v1/device/forget", body, now_s(), &r),
			 200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "deleted")),
			 deleted);
	resp_fini(&r);
	snprintf(body, sizeof body,
		 "{\"request_id\": \"%032d\", \"from_min\": 10,"
		 " \"to_min\": 5}",
		 8);
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/forget", body,
		    now_s(), &r);
	assert_error(&r, 400, "inval", "from_min");
}

/* ---- the kill switch: leases, pause, resume ---- */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct poll_res {
	long status;
	struct st_lease l;
	int verify_rc;
	double took_s, answered_at;
	char state[16];
	uint64_t seq;
};

/* One lease poll by d holding have_seq (confirm: NULL or a JSON object),
 * checked with st_lease_verify against the pinned lease key and the
 * poll's own nonce. */
static void lease_poll(const struct dev *d, uint64_t have_seq,
		       const char *confirm, struct poll_res *out)
{
	uint8_t nonce[16];
	randombytes_buf(nonce, sizeof nonce);
	char nh[33], body[400];
	hexs(nonce, 16, nh);
	snprintf(body, sizeof body,
		 "{\"nonce\": \"%s\", \"have_seq\": %llu, \"state\": "
		 "\"recording\"%s%s}",
		 nh, (unsigned long long)have_seq,
		 confirm ? ", \"confirm\": " : "", confirm ? confirm : "");
	memset(out, 0, sizeof *out);
	struct resp r;
	double t0 = mono();
	out->status = device_call(d, d->sk, "POST", "/v1/device/lease", body,
				  now_s(), &r);
	out->answered_at = mono();
	out->took_s = out->answered_at - t0;
	if (out->status != 200) {
		resp_fini(&r);
		return;
	}
	const char *b64 = json_string_value(json_object_get(r.j, "lease"));
	assert_non_null(b64);
	uint8_t buf[ST_LEASE_MAX];
	size_t got = 0;
	assert_int_equal(sodium_base642bin(buf, sizeof buf, b64, strlen(b64),
					   NULL, &got, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	uint8_t pk[32];
	assert_int_equal(st_key_read(S.cfg.lease_pub, ST_KEY_LEASE_PUBLIC, pk,
				     32, false, NULL),
			 0);
	struct st_lease_expect x = {.server_pk = pk, .device_id = d->id,
				    .nonce = nonce, .min_seq = 0};
	struct st_error e = {0};
	out->verify_rc = st_lease_verify(buf, got, &x, &out->l, &e);
	if (out->verify_rc < 0)
		fail_msg("lease verify: %s", e.msg);
	snprintf(out->state, sizeof out->state, "%s",
		 json_string_value(json_object_get(r.j, "state")));
	out->seq = (uint64_t)json_integer_value(json_object_get(r.j, "seq"));
	/* the fields for people say what the signed bytes say */
	assert_int_equal(out->seq, out->l.seq);
	assert_memory_equal(out->l.nonce, nonce, 16);
	resp_fini(&r);
}

static void lease_is_answered_at_once_signed_and_echoes_the_nonce(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct poll_res p;
	lease_poll(&S.alice, 0, NULL, &p);
	assert_int_equal(p.status, 200);
	assert_true(p.took_s < 1.0);
	assert_int_equal(p.l.seq, 1); /* no pause ever: the first epoch */
	assert_int_equal(p.l.state, ST_LEASE_RECORD);
	assert_string_equal(p.state, "record");
	assert_int_equal(p.l.validity_ms, 5000);
	assert_memory_equal(p.l.device_id, S.alice.id, 16);
	assert_memory_equal(p.l.policy_hash, S.full.hash, 32);
	assert_true(p.l.issued_s >= now_s() - 5);
	/* a malformed poll, a foreign signature */
	struct resp r;
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/lease",
		    "{\"nonce\": \"00\", \"have_seq\": 0, \"state\": "
		    "\"recording\"}",
		    now_s(), &r);
	assert_error(&r, 400, "inval", "nonce");
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/lease",
		    "{\"nonce\": \"00000000000000000000000000000000\", "
		    "\"have_seq\": 0, \"state\": \"dancing\"}",
		    now_s(), &r);
	assert_error(&r, 400, "inval", "state");
	/* the connection that carried alice's verified polls is bound to
	 * her device (docs/api.md): a poll on it is taken without a second
	 * signature check; on a new connection the signature is checked */
	device_call(&S.alice, S.bob.sk, "POST", "/v1/device/lease",
		    "{\"nonce\": \"00000000000000000000000000000000\", "
		    "\"have_seq\": 0, \"state\": \"recording\"}",
		    now_s(), &r);
	assert_int_equal(r.status, 200);
	resp_fini(&r);
	fresh_next = true;
	device_call(&S.alice, S.bob.sk, "POST", "/v1/device/lease",
		    "{\"nonce\": \"00000000000000000000000000000000\", "
		    "\"have_seq\": 0, \"state\": \"recording\"}",
		    now_s(), &r);
	assert_error(&r, 401, "signature", NULL);
	/* a clock 5 minutes off still polls (request_window_s 900 by
	 * default; the test server says 300 and so allows 299 s) */
	fresh_next = true;
	device_call(&S.alice, S.alice.sk, "POST", "/v1/device/lease",
		    "{\"nonce\": \"00000000000000000000000000000000\", "
		    "\"have_seq\": 0, \"state\": \"stopped\"}",
		    now_s() - 290, &r);
	assert_int_equal(r.status, 200);
	resp_fini(&r);
}

static void lease_is_held_then_renewed_when_the_hold_ends(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct poll_res p;
	lease_poll(&S.alice, 1, NULL, &p);
	assert_int_equal(p.status, 200);
	/* lease_hold_s is 2: held that long (plus at most a tick) */
	if (p.took_s < 1.9 || p.took_s > 3.0)
		fail_msg("held %.3f s, want about 2", p.took_s);
	assert_int_equal(p.l.seq, 1);
	assert_int_equal(p.l.state, ST_LEASE_RECORD);
}

struct bg_poll {
	const struct dev *d;
	uint64_t have;
	struct poll_res res;
};

static void *bg_poll_main(void *arg)
{
	struct bg_poll *b = arg;
	tl_curl = curl_easy_init();
	lease_poll(b->d, b->have, NULL, &b->res);
	curl_easy_cleanup(tl_curl);
	tl_curl = NULL;
	return NULL;
}

static json_t *control_pause(struct resp *r, const char *scope)
{
	assert_int_equal(admin_call("GET", "/v1/admin/control", NULL, r), 200);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(r->j, "pauses"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "scope")),
			    scope))
			return p;
	return NULL;
}

static void held_poll_is_woken_by_a_pause_within_a_second(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct bg_poll b = {.d = &S.alice, .have = 1};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, bg_poll_main, &b), 0);
	usleep(300000); /* the poll is held by now */
	struct resp r;
	double t0 = mono();
	assert_int_equal(admin_call("POST", "/v1/admin/pause",
				    "{\"scope\": \"user\", \"value\": "
				    "\"alice@example.com\", \"reason\": "
				    "\"incident 7 drill\", \"discard_unsent\": "
				    "true}",
				    &r),
			 201);
	assert_int_equal(json_integer_value(json_object_get(r.j, "seq")), 2);
	assert_int_equal(json_integer_value(json_object_get(r.j, "devices")), 1);
	assert_string_equal(jstr(&r, "scope"), "user");
	resp_fini(&r);
	pthread_join(th, NULL);
	assert_int_equal(b.res.status, 200);
	double delay = b.res.answered_at - t0;
	if (delay > 1.0 || b.res.took_s > 1.5)
		fail_msg("the pause reached the held poll after %.3f s", delay);
	assert_int_equal(b.res.l.state, ST_LEASE_PAUSE);
	assert_string_equal(b.res.state, "pause");
	assert_int_equal(b.res.l.seq, 2);
	assert_string_equal(b.res.l.reason, "incident 7 drill");
	assert_int_equal(b.res.l.flags, ST_LEASE_FLAG_DISCARD);

	/* stored with who and why */
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM pauses WHERE "
				       "paused_by = 'admin' AND reason = "
				       "'incident 7 drill' AND scope = 'user'"),
			 1);
	/* the control view: alice answered, not yet confirmed */
	json_t *p = control_pause(&r, "user");
	assert_non_null(p);
	assert_int_equal(json_integer_value(json_object_get(p, "devices")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "confirmed")), 0);
	assert_int_equal(json_integer_value(json_object_get(p, "pending")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "offline")), 0);
	assert_string_equal(json_string_value(json_object_get(p, "by")),
			    "admin");
	resp_fini(&r);

	/* a segment recorded under the old lease, sent now: refused */
	struct st_buf seg;
	struct segopt o = {.full = true, .level = 2, .lease = 1};
	seal_seg(&seg, &S.alice, 42, &o);
	upload(&seg, NULL, &r);
	assert_error(&r, 422, "paused", "older than the pause");
	st_buf_fini(&seg);

	/* alice obeys: she keeps up to segment 41 from before the pause */
	struct poll_res c;
	lease_poll(&S.alice, 0, "{\"seq\": 2, \"last_seq\": 41}", &c);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.l.state, ST_LEASE_PAUSE);
	/* believed at once (the control view below), stored once none came
	 * for confirm_quiet_ms (1 s) */
	double tc = mono();
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM pause_confirms "
				       "WHERE epoch = 2"),
			 0);
	p = control_pause(&r, "user");
	assert_int_equal(json_integer_value(json_object_get(p, "confirmed")), 1);
	resp_fini(&r);
	for (int i = 0; i < 200 && raw_int(S.db, "SELECT count(*) FROM "
					       "pause_confirms WHERE epoch = 2") == 0;
	     i++)
		usleep(20000);
	if (mono() - tc < 0.5)
		fail_msg("the confirmation was stored after %.3f s, before its "
			 "quiet second", mono() - tc);
	assert_int_equal(raw_int(S.db, "SELECT last_seq FROM pause_confirms "
				       "WHERE epoch = 2"),
			 41);
	/* a second confirmation changes nothing */
	lease_poll(&S.alice, 0, "{\"seq\": 2, \"last_seq\": 99}", &c);
	assert_int_equal(raw_int(S.db, "SELECT last_seq FROM pause_confirms "
				       "WHERE epoch = 2"),
			 41);
	p = control_pause(&r, "user");
	assert_int_equal(json_integer_value(json_object_get(p, "confirmed")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "pending")), 0);
	resp_fini(&r);
	/* what she kept goes in; anything later under the old lease not */
	seal_seg(&seg, &S.alice, 41, &o);
	assert_int_equal(upload(&seg, NULL, &r), 200);
	assert_string_equal(jstr(&r, "result"), "stored");
	resp_fini(&r);
	st_buf_fini(&seg);
	seal_seg(&seg, &S.alice, 43, &o);
	upload(&seg, NULL, &r);
	assert_error(&r, 422, "paused", NULL);
	st_buf_fini(&seg);
	/* no lease at all: refused everywhere */
	o.lease = -1;
	seal_seg(&seg, &S.alice, 44, &o);
	upload(&seg, NULL, &r);
	assert_error(&r, 422, "no_lease", "without a lease");
	st_buf_fini(&seg);

	/* resume: exactly that scope, a new epoch, a record lease */
	admin_call("POST", "/v1/admin/resume", "{\"scope\": \"all\"}", &r);
	assert_error(&r, 404, "not_found", "exactly the scope");
	assert_int_equal(admin_call("POST", "/v1/admin/resume",
				    "{\"scope\": \"user\", \"value\": "
				    "\"alice@example.com\", \"reason\": "
				    "\"drill over\"}",
				    &r),
			 200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "seq")), 3);
	assert_int_equal(json_integer_value(json_object_get(r.j, "resumed")), 1);
	resp_fini(&r);
	lease_poll(&S.alice, 2, NULL, &c); /* holds 2: answered at once */
	assert_true(c.took_s < 1.0);
	assert_int_equal(c.l.state, ST_LEASE_RECORD);
	assert_int_equal(c.l.seq, 3);
	o.lease = 3;
	seal_seg(&seg, &S.alice, 45, &o);
	assert_int_equal(upload(&seg, NULL, &r), 200);
	resp_fini(&r);
	st_buf_fini(&seg);
	p = control_pause(&r, "user");
	assert_null(p); /* nothing in force */
	resp_fini(&r);
	/* pauses of unknown people or devices stop no one: refused */
	admin_call("POST", "/v1/admin/pause",
		   "{\"scope\": \"user\", \"value\": \"nobody@example.com\", "
		   "\"reason\": \"x\"}",
		   &r);
	assert_error(&r, 404, "not_found", "no user");
	admin_call("POST", "/v1/admin/pause",
		   "{\"scope\": \"all\", \"reason\": \"\"}", &r);
	assert_error(&r, 400, "inval", "reason");
}

static void enrollment_is_refused_while_everything_is_paused(void **state)
{
	(void)state;
	if (!S.have_alice)
		skip();
	struct resp r;
	char tok[ST_TOKEN_TEXT_MAX];
	new_token("alice@example.com", 3600, tok);
	assert_int_equal(admin_call("POST", "/v1/admin/pause",
				    "{\"scope\": \"all\", \"reason\": "
				    "\"kill switch\"}",
				    &r),
			 201);
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(r.j, "seq"));
	resp_fini(&r);
	enroll(tok, &S.stray, "alice", &r);
	assert_error(&r, 403, "paused", "resume --all");
	struct poll_res c;
	lease_poll(&S.alice, 0, NULL, &c);
	assert_int_equal(c.l.state, ST_LEASE_PAUSE);
	assert_int_equal(c.l.seq, seq);
	assert_string_equal(c.l.reason, "kill switch");
	json_t *p = control_pause(&r, "all");
	assert_non_null(p);
	/* alice is pending (answered), bob is revoked: not counted */
	assert_int_equal(json_integer_value(json_object_get(p, "devices")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "pending")), 1);
	resp_fini(&r);
	assert_int_equal(admin_call("POST", "/v1/admin/resume",
				    "{\"scope\": \"all\", \"reason\": "
				    "\"all clear\"}",
				    &r),
			 200);
	resp_fini(&r);
	/* the unused token works after the resume */
	assert_int_equal(enroll(tok, &S.stray, "alice", &r), 201);
	resp_fini(&r);
}

static void backup_is_a_sqlite_file_and_leaves_nothing(void **state)
{
	(void)state;
	struct resp r;
	assert_int_equal(admin_call("POST", "/v1/admin/backup", NULL, &r), 200);
	assert_true(r.body.len > 100);
	assert_memory_equal(r.body.p, "SQLite format 3", 16);
	char p[600];
	snprintf(p, sizeof p, "%s/backup.db", S.dir);
	assert_int_equal(st_file_write_atomic(p, r.body.p, r.body.len, 0600,
					      NULL),
			 0);
	resp_fini(&r);
	assert_true(raw_int(p, "SELECT count(*) FROM people") >= 2);
	unlink(p);
	/* the copy was unlinked as soon as it was open */
	snprintf(p, sizeof p, "%s/tmp", S.dir);
	DIR *d = opendir(p);
	assert_non_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	assert_int_equal(n, 0);
}

static void server_keeps_serving_and_logs_no_tokens(void **state)
{
	(void)state;
	struct resp r;
	for (int i = 0; i < 20; i++) {
		call("POST", "/v1/segments", ST_API_CT_SEGMENT, "\x01\x02", 2,
		     NULL, &r);
		assert_int_equal(r.status, 400);
		resp_fini(&r);
	}
	assert_int_equal(call("GET", "/v1/health", NULL, NULL, 0, NULL, &r),
			 200);
	resp_fini(&r);
	fflush(S.log);
	struct st_buf log;
	st_buf_init(&log, false);
	assert_int_equal(st_file_read(S.log_path, 16u << 20, &log, NULL), 0);
	st_buf_put(&log, "", 1);
	const char *text = (const char *)log.p;
	assert_non_null(strstr(text, "GET /v1/health 200 "));
	assert_non_null(strstr(text, "POST /v1/segments 200 "));
	assert_non_null(strstr(text, "seq=1"));
	assert_null(strstr(text, S.admin));
	assert_null(strstr(text, "ste1."));
	assert_null(strstr(text, "sta_"));
	st_buf_fini(&log);
}

static void stops_cleanly_on_stop_fd(void **state)
{
	(void)state;
	assert_int_equal(write(S.stop_pipe[1], "x", 1), 1);
	pthread_join(S.th, NULL);
	S.stop_pipe[1] = -1;
	if (S.serve_rc != 0)
		fail_msg("serve: %s", S.serve_err.msg);
	/* the store is closed and whole: the conflict flag outlived the
	 * forgotten segments */
	assert_true(raw_int(S.db, "SELECT count(*) FROM people") >= 2);
	assert_int_equal(raw_int(S.db, "SELECT count(*) FROM flags"), 1);
	struct st_buf log;
	st_buf_init(&log, false);
	assert_int_equal(st_file_read(S.log_path, 16u << 20, &log, NULL), 0);
	st_buf_put(&log, "", 1);
	assert_non_null(strstr((const char *)log.p, "sealtrace: stopped"));
	st_buf_fini(&log);
}

/* ---- refusals to start (no server runs) ---- */

static void refuses_plain_http_off_loopback(void **state)
{
	(void)state;
	struct st_server_config c = S.cfg;
	c.plain_http = true;
	snprintf(c.listen, sizeof c.listen, "0.0.0.0:0");
	struct st_error e = {0};
	struct st_serve_opts o = {.stop_fd = -1};
	int rc = st_serve(&c, &o, &e);
	assert_fails_with(rc, ST_E_INVAL, &e, "loopback");
}

static void refuses_a_tls_key_others_may_read(void **state)
{
	(void)state;
	assert_int_equal(chmod(S.key, 0644), 0);
	struct st_error e = {0};
	struct st_serve_opts o = {.stop_fd = -1};
	int rc = st_serve(&S.cfg, &o, &e);
	assert_int_equal(chmod(S.key, 0600), 0);
	assert_fails_with(rc, ST_E_KEY_MODE, &e, "chmod 600");
}

static void refuses_a_master_secret_in_the_folder(void **state)
{
	(void)state;
	char p[600];
	snprintf(p, sizeof p, "%s/keys/master.key", S.dir);
	uint8_t *sk = st_secret_new(32);
	memset(sk, 1, 32);
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_SECRET, sk, 32, true,
				      NULL),
			 0);
	st_secret_free(sk);
	struct st_error e = {0};
	struct st_serve_opts o = {.stop_fd = -1};
	int rc = st_serve(&S.cfg, &o, &e);
	unlink(p);
	assert_fails_with(rc, ST_E_MASTER_SECRET, &e, "master.key");
}

/* Every command of `sealtrace` and `sealtrace-export` that talks to the
 * API, with the roles that may run it, written down here by hand: the
 * permission table (routes[] in api.c) must give exactly these. */
static void every_command_declares_its_roles_in_the_table(void **state)
{
	(void)state;
	enum { A = 1, O = 2, S = 4, U = 8, P = 16 };
	static const struct {
		const char *cmd;
		unsigned roles;
	} want[] = {
		{"status", A | O},
		{"user add", A},
		{"user list", A | O},
		{"device list", A},
		{"device revoke", A},
		{"enroll-token", A},
		{"policy apply", A | O},
		{"backup", A},
		{"pause", A | O},
		{"resume", A | O},
		{"token create", A | O},
		{"token list", A | O},
		{"token revoke", A | O},
		{"token approve", O},
		{"purpose propose", S},
		{"purpose list", O | S | U},
		{"purpose approve", O},
		{"purpose revoke", O},
		{"audit list", O | U},
		{"audit checkpoint", O | U},
		{"audit verify", O | U},
		{"access", O | U | P},
		{"erase", O},
		{"retention sweep", A | O},
		{"sealtrace-export rotate", O},
		{"sealtrace-export dataset", S},
	};
	_Static_assert(ST_ROLE_BIT(ST_ROLE_ADMIN) == A &&
			       ST_ROLE_BIT(ST_ROLE_OFFICER) == O &&
			       ST_ROLE_BIT(ST_ROLE_STEWARD) == S &&
			       ST_ROLE_BIT(ST_ROLE_AUDITOR) == U &&
			       ST_ROLE_BIT(ST_ROLE_PERSON) == P,
		       "role bits as written above");
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		unsigned roles = 0;
		const char *method = NULL, *path = NULL;
		if (st_api_command_roles(want[i].cmd, &roles, &method,
					 &path) != 0)
			fail_msg("%s: not in the permission table", want[i].cmd);
		if (roles != want[i].roles)
			fail_msg("%s (%s %s): roles 0x%x, expected 0x%x",
				 want[i].cmd, method, path, roles,
				 want[i].roles);
	}
	assert_int_equal(st_api_command_roles("frobnicate", NULL, NULL, NULL),
			 ST_E_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_command_declares_its_roles_in_the_table),
		cmocka_unit_test(health_answers_ok_with_version),
		cmocka_unit_test(headers_fit_the_connection_memory),
		cmocka_unit_test(confirmations_are_due_quiet_batched_or_half_full),
		cmocka_unit_test(ca_answers_what_tokens_fingerprint),
		cmocka_unit_test(unknown_paths_and_methods_are_404_and_405),
		cmocka_unit_test(admin_refuses_every_bad_token_alike),
		cmocka_unit_test(user_add_seals_the_secret_to_the_master_key),
		cmocka_unit_test(malformed_json_is_400_and_wrong_type_415),
		cmocka_unit_test(enroll_token_carries_the_pinned_fingerprints),
		cmocka_unit_test(enroll_gives_the_current_policy_once_per_token),
		cmocka_unit_test(acceptance_is_the_enrolled_users_act),
		cmocka_unit_test(device_policy_is_the_current_one),
		cmocka_unit_test(upload_stores_then_duplicate_then_conflict),
		cmocka_unit_test(upload_refusals_have_their_own_ids),
		cmocka_unit_test(oversized_bodies_are_413_at_once),
		cmocka_unit_test(policy_apply_changes_upload_answers),
		cmocka_unit_test(forget_deletes_once_per_request_id),
		cmocka_unit_test(
			lease_is_answered_at_once_signed_and_echoes_the_nonce),
		cmocka_unit_test(lease_is_held_then_renewed_when_the_hold_ends),
		cmocka_unit_test(held_poll_is_woken_by_a_pause_within_a_second),
		cmocka_unit_test(enrollment_is_refused_while_everything_is_paused),
		cmocka_unit_test(backup_is_a_sqlite_file_and_leaves_nothing),
		cmocka_unit_test(server_keeps_serving_and_logs_no_tokens),
		cmocka_unit_test(stops_cleanly_on_stop_fd),
		cmocka_unit_test(refuses_plain_http_off_loopback),
		cmocka_unit_test(refuses_a_tls_key_others_may_read),
		cmocka_unit_test(refuses_a_master_secret_in_the_folder),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
