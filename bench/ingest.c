/* ingest.c - bench-ingest: a load generator for `sealtrace serve`. It makes
 * N people and N devices through the real API, pre-seals S one-minute
 * segments per device from the synthetic trace, then W threads post them
 * over kept-alive, verified HTTPS and time each acknowledgement. With
 * --peer-journal the same segments, wrapped as journal export entries, go
 * to systemd-journal-remote in the same order and number of requests.
 * bench/README.md says what each printed line means. Never prints the
 * admin token or any recorded content (the trace is synthetic anyway). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "core/buf.h"
#include "core/devreq.h"
#include "core/err.h"
#include "core/event.h"
#include "core/keys.h"
#include "core/mem.h"
#include "core/seal.h"
#include "core/segment.h"
#include "core/token.h"
#include "core/tracegen.h"

/* Defaults: sized so that bench/ingest.sh (setup, sealing, both timed
 * phases) finishes in about a minute on a 2-core VM. */
#define DEFAULT_DEVICES 256u
#define DEFAULT_SEGMENTS 180u
#define DEFAULT_WORKERS 32u
#define DEFAULT_MAX_SECONDS 120u
#define DEFAULT_SEED UINT64_C(20261124)

/* Bounds on what the command line may ask for. SEGMENTS_MAX keeps the
 * oldest minute at most 23 h back, inside the server's default one-day
 * window with an hour to spare for sealing and both timed phases. */
#define DEVICES_MAX 100000u
#define SEGMENTS_MAX 1380u
#define REQUESTS_MAX 2000000u /* devices x segments: all held in memory */
#define WORKERS_MAX 1024u
#define SEALERS_MAX 64u
#define MAX_SECONDS_MAX 86400u
/* Largest answer body kept (longer ones are cut and flagged). */
#define ANSWER_MAX (64u << 10)
/* Whole-request timeout: an ack slower than this is a failure. */
#define REQUEST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 10000L
/* Failures described on stderr per phase; the rest are only counted. */
#define FAILURES_SHOWN 5u
#define LOCAL_USER "bench"
#define NAME_MAX_LEN 64

/* The targets (bench/README.md). */
#define TARGET_SEGMENTS_PER_S 5000.0
#define TARGET_P99_MS 100.0

struct seg {
	uint8_t *p; /* sealed segment */
	size_t len;
	uint8_t *j; /* the same as one journal export entry */
	size_t jlen;
};

struct device {
	char user[NAME_MAX_LEN];
	uint8_t pk[ST_SIGN_PK_LEN];
	uint8_t *sk; /* st_secret_new */
	uint8_t id[16], person_id[16];
	uint8_t person_pk[ST_BOX_PK_LEN];
	uint8_t notice_hash[32];
	struct seg *segs; /* S of them, seq 1..S */
};

struct opts {
	const char *url, *ca, *token_file, *peer_url, *peer_ca, *prefix;
	uint64_t devices, segments, workers, max_seconds, seed;
	long server_pid, peer_pid;
};

struct answer {
	char p[ANSWER_MAX + 1];
	size_t len;
	bool cut;
};

static size_t answer_write(char *data, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;
	size_t room = ANSWER_MAX - a->len;
	size_t k = len < room ? len : room;
	memcpy(a->p + a->len, data, k);
	a->len += k;
	a->p[a->len] = 0;
	if (k < len)
		a->cut = true;
	return len; /* keep reading: the connection stays usable */
}

/* One kept-alive HTTPS connection: the handle reuses it across requests. */
static CURL *http_new(const char *ca, struct answer *a)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	bool ok =
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
			     (long)CURL_HTTP_VERSION_1_1) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CAINFO, ca) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS) ==
		CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			     CONNECT_TIMEOUT_MS) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_write) ==
		CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, a) == CURLE_OK;
	if (!ok) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* POST body to url. Returns the CURLcode; *status the HTTP status (0 when
 * none came), *conns the new connections this request opened. */
static CURLcode http_post(CURL *h, const char *url, struct curl_slist *hdrs,
			  const void *body, size_t len, struct answer *a,
			  long *status, long *conns)
{
	a->len = 0;
	a->cut = false;
	a->p[0] = 0;
	*status = 0;
	*conns = 0;
	CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, conns);
	return rc;
}

/* Appends a header line; false (list untouched) when out of memory. */
static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) of this process, every thread. */
/* CPU seconds of another process, every thread, exited ones included
 * (/proc/PID/stat utime + stime, in clock ticks); < 0 when unreadable. */
/* Bytes another process caused to be written to storage (/proc/PID/io
 * write_bytes: counted when write() dirties pages; pages dirtied through
 * mmap are not counted); < 0 when unreadable. */
static double proc_write_bytes(long pid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/%ld/io", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	double v = -1;
	unsigned long long n;
	for (int i = 0; i < 16 && fgets(line, sizeof line, f); i++)
		if (sscanf(line, "write_bytes: %llu", &n) == 1) {
			v = (double)n;
			break;
		}
	fclose(f);
	return v;
}

/* The one CPU a process is pinned to, or -1 when it may run on several. */
static int pinned_cpu(long pid)
{
	cpu_set_t set;
	if (sched_getaffinity((pid_t)pid, sizeof set, &set) < 0 ||
	    CPU_COUNT(&set) != 1)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}

/* Busy seconds of one CPU since boot (/proc/stat: user, nice, system,
 * irq, softirq, steal; idle and iowait are not busy); < 0 on failure. */
static double cpu_busy_s(int cpu)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	char line[512], want[32];
	snprintf(want, sizeof want, "cpu%d ", cpu);
	double v = -1;
	/* bounded: one line per CPU, plus a few */
	for (int i = 0; i < CPU_SETSIZE + 64 && fgets(line, sizeof line, f);
	     i++) {
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		unsigned long long us, ni, sy, id, io, irq, sirq, st;
		if (sscanf(line + strlen(want),
			   "%llu %llu %llu %llu %llu %llu %llu %llu", &us, &ni,
			   &sy, &id, &io, &irq, &sirq, &st) == 8)
			v = (double)(us + ni + sy + irq + sirq + st) /
			    (double)sysconf(_SC_CLK_TCK);
		break;
	}
	fclose(f);
	return v;
}

/* ---- setup through the API ---------------------------------------------- */

struct setup {
	CURL *h;
	struct answer *a;
	const struct opts *o;
	struct curl_slist *admin_hdrs, *json_hdrs;
};

/* The server's error message from an answer, for stderr (never content:
 * the API's messages never hold any). */
static const char *answer_msg(const struct answer *a, char *out, size_t cap)
{
	json_t *j = json_loadb(a->p, a->len, 0, NULL);
	const char *m = NULL;
	if (j)
		m = json_string_value(
		    json_object_get(json_object_get(j, "error"), "message"));
	snprintf(out, cap, "%s", m ? m : (a->len ? "(answer not an API error)"
						 : "(empty answer)"));
	json_decref(j);
	return out;
}

/* POSTs a JSON object; on the expected status returns the parsed answer
 * (caller decrefs), else prints why and returns NULL. */
static json_t *api_post(struct setup *s, const char *path,
			struct curl_slist *hdrs, json_t *body, long want,
			const char *what)
{
	char url[1024], msg[ST_ERROR_MSG_MAX];
	snprintf(url, sizeof url, "%s%s", s->o->url, path);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text) {
		fprintf(stderr, "bench-ingest: %s: out of memory\n", what);
		return NULL;
	}
	long status, conns;
	CURLcode rc = http_post(s->h, url, hdrs, text, strlen(text), s->a,
				&status, &conns);
	free(text);
	if (rc != CURLE_OK) {
		fprintf(stderr,
			"bench-ingest: %s: POST %s: %s (is the server up, and "
			"--ca its CA?)\n",
			what, url, curl_easy_strerror(rc));
		return NULL;
	}
	if (status != want) {
		fprintf(stderr, "bench-ingest: %s: POST %s: HTTP %ld: %s\n",
			what, path, status, answer_msg(s->a, msg, sizeof msg));
		return NULL;
	}
	json_t *j = json_loadb(s->a->p, s->a->len, 0, NULL);
	if (!j)
		fprintf(stderr,
			"bench-ingest: %s: POST %s: answer is not JSON\n",
			what, path);
	return j;
}

static bool get_b64(json_t *j, const char *key, uint8_t *out, size_t len)
{
	const char *t = json_string_value(json_object_get(j, key));
	size_t got = 0;
	if (!t)
		return false;
	if (sodium_base642bin(out, len, t, strlen(t), NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    got == len)
		return true;
	return sodium_base642bin(out, len, t, strlen(t), NULL, &got, NULL,
				 sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
		   0 &&
	       got == len;
}

/* One person, one enroll token, one enrolled device, the notice accepted. */
static int setup_device(struct setup *s, struct device *d, uint64_t i)
{
	char what[96];
	snprintf(d->user, sizeof d->user, "%s-%06" PRIu64, s->o->prefix, i);
	snprintf(what, sizeof what, "device %" PRIu64 " (user %s)", i,
		 d->user);

	json_t *j = api_post(s, "/v1/admin/users", s->admin_hdrs,
			     json_pack("{ss}", "name", d->user), 201, what);
	if (!j)
		return -1;
	json_decref(j);

	j = api_post(s, "/v1/admin/enroll-tokens", s->admin_hdrs,
		     json_pack("{ss}", "user", d->user), 201, what);
	if (!j)
		return -1;
	char token[ST_TOKEN_TEXT_MAX];
	const char *t = json_string_value(json_object_get(j, "token"));
	if (!t || strlen(t) >= sizeof token) {
		fprintf(stderr, "bench-ingest: %s: enroll-token answer has "
				"no token\n", what);
		json_decref(j);
		return -1;
	}
	snprintf(token, sizeof token, "%s", t);
	json_decref(j);

	d->sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!d->sk || st_sign_keypair(d->pk, d->sk) < 0) {
		fprintf(stderr, "bench-ingest: %s: cannot make a device key "
				"(libsodium or locked memory)\n", what);
		return -1;
	}
	char pk64[sodium_base64_ENCODED_LEN(ST_SIGN_PK_LEN,
					    sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(pk64, sizeof pk64, d->pk, sizeof d->pk,
			  sodium_base64_VARIANT_ORIGINAL);
	char host[NAME_MAX_LEN];
	snprintf(host, sizeof host, "bench-%06" PRIu64, i);
	j = api_post(s, "/v1/enroll", s->json_hdrs,
		     json_pack("{ss ss ss ss}", "token", token,
			       "device_public_key", pk64, "local_user",
			       LOCAL_USER, "hostname", host),
		     201, what);
	sodium_memzero(token, sizeof token);
	if (!j)
		return -1;
	bool ok = bench_get_hex(j, "device_id", d->id, sizeof d->id) &&
		  bench_get_hex(j, "person_id", d->person_id, sizeof d->person_id) &&
		  bench_get_hex(j, "notice_hash", d->notice_hash,
			  sizeof d->notice_hash) &&
		  get_b64(j, "person_public_key", d->person_pk,
			  sizeof d->person_pk);
	json_decref(j);
	if (!ok) {
		fprintf(stderr,
			"bench-ingest: %s: enroll answer lacks device_id, "
			"person_id, notice_hash or person_public_key (or "
			"they are malformed)\n",
			what);
		return -1;
	}

	/* the acceptance, signed by the device as the agent signs it */
	char nh[65];
	sodium_bin2hex(nh, sizeof nh, d->notice_hash, sizeof d->notice_hash);
	int64_t now = (int64_t)time(NULL);
	json_t *body = json_pack("{ss ss sI}", "notice_hash", nh, "local_user",
				 LOCAL_USER, "accepted_s", (json_int_t)now);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		fprintf(stderr, "bench-ingest: %s: out of memory\n", what);
		return -1;
	}
	const char *path = "/v1/device/acceptances";
	struct st_devreq_sig sig;
	struct st_error err = {0};
	if (st_devreq_sign(d->id, d->sk, "POST", path, (const uint8_t *)text,
			   strlen(text), now, &sig, &err) < 0) {
		fprintf(stderr, "bench-ingest: %s: %s\n", what, err.msg);
		free(text);
		return -1;
	}
	char hd[80], ht[80], hs[160];
	snprintf(hd, sizeof hd, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(ht, sizeof ht, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(hs, sizeof hs, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	struct curl_slist *hdrs = NULL;
	const char *lines[] = {"Content-Type: application/json", "Expect:", hd,
			       ht, hs};
	for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++)
		if (!bench_hdr_add(&hdrs, lines[k])) {
			curl_slist_free_all(hdrs);
			free(text);
			fprintf(stderr, "bench-ingest: out of memory\n");
			return -1;
		}
	char url[1024], msg[ST_ERROR_MSG_MAX];
	snprintf(url, sizeof url, "%s%s", s->o->url, path);
	long status, conns;
	CURLcode rc = http_post(s->h, url, hdrs, text, strlen(text), s->a,
				&status, &conns);
	curl_slist_free_all(hdrs);
	free(text);
	if (rc != CURLE_OK || status != 201) {
		fprintf(stderr, "bench-ingest: %s: POST %s: %s%s\n", what,
			path,
			rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP ",
			rc != CURLE_OK ? ""
				       : answer_msg(s->a, msg, sizeof msg));
		if (rc == CURLE_OK)
			fprintf(stderr, "  (status %ld)\n", status);
		return -1;
	}
	return 0;
}

/* ---- pre-sealing ------------------------------------------------------- */

/* One journal export entry around a segment: text fields, then the segment
 * as a binary field (name "\n" le64 length, bytes, "\n"), then the empty
 * line that ends the entry. */
static int wrap_journal(struct seg *s, uint64_t realtime_us)
{
	char head[128];
	int hn = snprintf(head, sizeof head,
			  "__REALTIME_TIMESTAMP=%" PRIu64
			  "\nMESSAGE=sealtrace segment\nSEALTRACE_SEGMENT\n",
			  realtime_us);
	if (hn < 0 || (size_t)hn >= sizeof head)
		return -1;
	size_t n = (size_t)hn + 8 + s->len + 2;
	uint8_t *p = malloc(n), *q = p;
	if (!p)
		return -1;
	memcpy(q, head, (size_t)hn), q += hn;
	for (unsigned b = 0; b < 8; b++)
		*q++ = (uint8_t)((uint64_t)s->len >> (8 * b));
	memcpy(q, s->p, s->len), q += s->len;
	*q++ = '\n';
	*q++ = '\n';
	s->j = p;
	s->jlen = n;
	return 0;
}

struct seal_ctx {
	struct device *d;
	struct st_zctx *z;
	struct st_buf out;
	bool journal;
};

static int seal_one(void *ctx, uint64_t index, struct st_events *seg,
		    struct st_error *err)
{
	struct seal_ctx *c = ctx;
	struct st_seal_params p = {.seq = index + 1, .lease_seq = 1,
				   .level = 2};
	memcpy(p.device_id, c->d->id, sizeof p.device_id);
	memcpy(p.person_id, c->d->person_id, sizeof p.person_id);
	memcpy(p.notice_hash, c->d->notice_hash, sizeof p.notice_hash);
	st_buf_reset(&c->out);
	int rc = st_segment_seal(&p, seg, c->d->person_pk, c->d->sk, c->z,
				 &c->out, err);
	if (rc < 0)
		return rc;
	if (c->out.oom)
		return st_fail(err, ST_E_NOMEM, "seal: out of memory");
	struct seg *s = &c->d->segs[index];
	if (!(s->p = malloc(c->out.len)))
		return st_fail(err, ST_E_NOMEM, "seal: out of memory");
	memcpy(s->p, c->out.p, c->out.len);
	s->len = c->out.len;
	if (c->journal && wrap_journal(s, seg->anchor_ns / 1000u) < 0)
		return st_fail(err, ST_E_NOMEM, "journal entry: out of memory");
	return 0;
}

struct sealer {
	pthread_t th;
	struct device *dev;
	uint64_t first, step, ndev, segments, seed;
	uint64_t anchor_ns;
	bool journal;
	int rc;
	struct st_error err;
};

static void *sealer_main(void *arg)
{
	struct sealer *w = arg;
	struct seal_ctx c = {.journal = w->journal};
	st_buf_init(&c.out, false); /* ciphertext: not secret */
	if (!(c.z = st_zctx_new())) {
		w->rc = st_fail(&w->err, ST_E_NOMEM, "zstd context");
		return NULL;
	}
	for (uint64_t i = w->first; i < w->ndev; i += w->step) {
		c.d = &w->dev[i];
		/* plain memory: the trace is synthetic, and a locked list per
		 * segment would cost mappings, not realism at the server */
		struct st_tracegen_cfg cfg = {
		    .seed = w->seed + i,
		    .duration_ms = w->segments * ST_TRACEGEN_SEGMENT_MS,
		    .anchor_ns = w->anchor_ns,
		    .locked = false};
		if ((w->rc = st_tracegen_run(&cfg, seal_one, &c, &w->err)) <
		    0) {
			st_error_prefix(&w->err, "device %" PRIu64 ": ", i);
			break;
		}
	}
	st_zctx_free(c.z);
	st_buf_fini(&c.out);
	return NULL;
}

/* ---- timed phases ------------------------------------------------------ */

enum phase { PHASE_INGEST, PHASE_JOURNAL };

struct run {
	enum phase phase;
	const struct opts *o;
	struct device *dev;
	const char *url; /* full URL of the POST */
	const char *ca;
	double deadline; /* mono_s() after which workers stop */
	pthread_barrier_t start;
	atomic_uint shown; /* failures described so far */
};

struct worker {
	pthread_t th;
	struct run *run;
	uint64_t index;
	uint64_t *lat_ns; /* one per request sent */
	uint64_t nlat, cap;
	uint64_t ok, failed, transport, bytes;
	long conns;
	bool stopped; /* the deadline cut it short */
	bool init_failed;
	char warm_msg[128];
};

static void fail_note(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_note(struct run *r, const char *fmt, ...)
{
	if (atomic_fetch_add(&r->shown, 1) >= FAILURES_SHOWN)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-ingest: %s: ",
		r->phase == PHASE_INGEST ? "ingest" : "journal");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Whether a sealtrace answer says "stored". */
static bool stored(const struct answer *a)
{
	json_t *j = json_loadb(a->p, a->len, 0, NULL);
	const char *r = json_string_value(json_object_get(j, "result"));
	bool ok = r && strcmp(r, "stored") == 0;
	json_decref(j);
	return ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	const struct opts *o = r->o;
	struct answer *a = malloc(sizeof *a);
	CURL *h = a ? http_new(r->ca, a) : NULL;
	struct curl_slist *hdrs = NULL;
	const char *ct = r->phase == PHASE_INGEST
			     ? "Content-Type: application/vnd.sealtrace.segment"
			     : "Content-Type: application/vnd.fdo.journal";
	/* "Expect:" drops curl's 100-continue round trip */
	bool hok = bench_hdr_add(&hdrs, ct) && bench_hdr_add(&hdrs, "Expect:");
	w->init_failed = !h || !hok;
	/* Connect before the clock starts, with a request that changes
	 * nothing: the figures are for a steady state of kept-alive
	 * connections, as agents hold them. journal-remote closes the
	 * connection after a GET, but answers an empty upload with 202 and
	 * keeps it. */
	if (!w->init_failed) {
		long status = 0, conns = 0;
		CURLcode rc;
		if (r->phase == PHASE_INGEST) {
			char url[1024];
			snprintf(url, sizeof url, "%s/v1/health", o->url);
			curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(h, CURLOPT_URL, url);
			a->len = 0;
			rc = curl_easy_perform(h);
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		} else {
			rc = http_post(h, r->url, hdrs, "", 0, a, &status,
				       &conns);
		}
		if (rc != CURLE_OK || status < 200 || status > 299) {
			snprintf(w->warm_msg, sizeof w->warm_msg,
				 "warm-up request: %s, HTTP %ld",
				 rc != CURLE_OK ? curl_easy_strerror(rc)
						: "answered",
				 status);
			w->init_failed = true;
		}
	}
	pthread_barrier_wait(&r->start);
	if (w->init_failed)
		goto out;

	uint64_t W = o->workers;
	char msg[ST_ERROR_MSG_MAX];
	/* round-robin over this worker's devices, one request in flight */
	for (uint64_t seq = 0; seq < o->segments; seq++)
		for (uint64_t d = w->index; d < o->devices; d += W) {
			if (mono_s() > r->deadline) {
				w->stopped = true;
				goto out;
			}
			const struct seg *s = &r->dev[d].segs[seq];
			const void *body =
			    r->phase == PHASE_INGEST ? (void *)s->p : s->j;
			size_t len =
			    r->phase == PHASE_INGEST ? s->len : s->jlen;
			long status, conns;
			uint64_t t0 = bench_mono_ns();
			CURLcode rc = http_post(h, r->url, hdrs, body, len, a,
						&status, &conns);
			uint64_t t1 = bench_mono_ns();
			w->conns += conns;
			if (rc != CURLE_OK) {
				w->transport++;
				fail_note(r,
					  "device %" PRIu64 " seq %" PRIu64
					  ": %s",
					  d, seq + 1, curl_easy_strerror(rc));
				continue;
			}
			if (w->nlat < w->cap)
				w->lat_ns[w->nlat++] = t1 - t0;
			bool ok;
			if (r->phase == PHASE_INGEST)
				ok = status == 200 && stored(a);
			else /* journal-remote answers 202 "OK." */
				ok = status >= 200 && status < 300;
			if (ok) {
				w->ok++;
				w->bytes += len;
			} else {
				w->failed++;
				fail_note(r,
					  "device %" PRIu64 " seq %" PRIu64
					  ": HTTP %ld: %s",
					  d, seq + 1, status,
					  r->phase == PHASE_INGEST
					      ? answer_msg(a, msg, sizeof msg)
					      : a->p);
			}
		}
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(a);
	return NULL;
}

/* Nearest-rank percentile of sorted v[0..n). */
struct result {
	uint64_t requests, ok, failed, transport, bytes;
	long conns;
	double wall_s, seg_per_s, mb_per_s, p50, p99, max, client_cpu,
	    server_cpu, server_write, core_busy;
	int core;
	bool stopped;
};

static int run_phase(enum phase ph, const struct opts *o, struct device *dev,
		     const char *url, const char *ca, long pid,
		     struct result *res)
{
	struct run r = {.phase = ph, .o = o, .dev = dev, .url = url,
			.ca = ca};
	uint64_t W = o->workers;
	struct worker *w = calloc(W, sizeof *w);
	if (!w)
		return -1;
	int rc = -1;
	pthread_barrier_init(&r.start, NULL, (unsigned)W + 1);
	uint64_t started = 0;
	for (uint64_t i = 0; i < W; i++) {
		w[i].run = &r;
		w[i].index = i;
		uint64_t mine = (o->devices - i + W - 1) / W * o->segments;
		w[i].cap = mine;
		w[i].lat_ns = calloc(mine ? mine : 1, sizeof *w[i].lat_ns);
		if (!w[i].lat_ns)
			break;
	}
	for (uint64_t i = 0; i < W; i++)
		if (!w[i].lat_ns) {
			fprintf(stderr, "bench-ingest: out of memory\n");
			goto out;
		}
	for (; started < W; started++)
		if (pthread_create(&w[started].th, NULL, worker_main,
				   &w[started]) != 0)
			break;
	if (started < W) {
		/* threads already started wait at the barrier forever: the
		 * only safe way out is to exit */
		fprintf(stderr, "bench-ingest: cannot start %" PRIu64
				" threads (ulimit -u?)\n", W);
		exit(1);
	}
	/* the workers read the deadline after the barrier (which orders
	 * this write before their reads) */
	r.deadline = mono_s() + (double)o->max_seconds;
	pthread_barrier_wait(&r.start);
	double t0 = mono_s(), c0 = bench_self_cpu_s();
	double s0 = pid > 0 ? bench_proc_cpu_s(pid) : -1;
	double b0 = pid > 0 ? proc_write_bytes(pid) : -1;
	int core = pid > 0 ? pinned_cpu(pid) : -1;
	double q0 = core >= 0 ? cpu_busy_s(core) : -1;
	for (uint64_t i = 0; i < W; i++)
		pthread_join(w[i].th, NULL);
	double t1 = mono_s(), c1 = bench_self_cpu_s();
	double s1 = pid > 0 ? bench_proc_cpu_s(pid) : -1;
	double b1 = pid > 0 ? proc_write_bytes(pid) : -1;
	double q1 = core >= 0 ? cpu_busy_s(core) : -1;

	memset(res, 0, sizeof *res);
	uint64_t nlat = 0;
	for (uint64_t i = 0; i < W; i++) {
		if (w[i].init_failed) {
			fprintf(stderr, "bench-ingest: worker %" PRIu64
					": %s\n", i,
				w[i].warm_msg[0] ? w[i].warm_msg
						 : "cannot make a curl handle");
			goto out;
		}
		res->ok += w[i].ok;
		res->failed += w[i].failed;
		res->transport += w[i].transport;
		res->bytes += w[i].bytes;
		res->conns += w[i].conns;
		res->stopped |= w[i].stopped;
		nlat += w[i].nlat;
	}
	res->requests = res->ok + res->failed + res->transport;
	uint64_t *all = malloc((nlat ? nlat : 1) * sizeof *all), k = 0;
	if (!all) {
		fprintf(stderr, "bench-ingest: out of memory\n");
		goto out;
	}
	for (uint64_t i = 0; i < W; i++) {
		memcpy(all + k, w[i].lat_ns, w[i].nlat * sizeof *all);
		k += w[i].nlat;
	}
	qsort(all, nlat, sizeof *all, bench_cmp_u64);
	res->wall_s = t1 - t0;
	res->seg_per_s = (double)res->ok / res->wall_s;
	res->mb_per_s = (double)res->bytes / res->wall_s / 1e6;
	res->p50 = bench_pct_ms(all, nlat, 0.50);
	res->p99 = bench_pct_ms(all, nlat, 0.99);
	res->max = nlat ? (double)all[nlat - 1] * 1e-6 : 0;
	res->client_cpu = (c1 - c0) / res->wall_s * 100;
	res->server_cpu = s0 >= 0 && s1 >= 0 ? (s1 - s0) / res->wall_s * 100
					      : -1;
	res->server_write = b0 >= 0 && b1 >= 0 ? b1 - b0 : -1;
	res->core = core;
	res->core_busy = q0 >= 0 && q1 >= 0 ? (q1 - q0) / res->wall_s * 100
					    : -1;
	free(all);
	rc = 0;
out:
	pthread_barrier_destroy(&r.start);
	for (uint64_t i = 0; i < W; i++)
		free(w[i].lat_ns);
	free(w);
	return rc;
}

/* writes: print the server's write_bytes (left out for journal-remote,
 * whose journal file is written through mmap, which it does not count). */
static void print_result(const char *pfx, const struct result *r,
			 const char *server_name, bool writes)
{
	printf("%s_requests: %" PRIu64 " requests\n", pfx, r->requests);
	printf("%s_failures: %" PRIu64 " requests\n", pfx,
	       r->failed + r->transport);
	printf("%s_connections: %ld connections\n", pfx, r->conns);
	printf("%s_wall_s: %.3f s\n", pfx, r->wall_s);
	printf("%s_segments_per_s: %.0f segments/s\n", pfx, r->seg_per_s);
	printf("%s_mb_per_s: %.2f MB/s\n", pfx, r->mb_per_s);
	printf("%s_ack_p50_ms: %.2f ms\n", pfx, r->p50);
	printf("%s_ack_p99_ms: %.2f ms\n", pfx, r->p99);
	printf("%s_ack_max_ms: %.2f ms\n", pfx, r->max);
	printf("%s_client_cpu: %.0f %% of one core\n", pfx, r->client_cpu);
	if (r->server_cpu >= 0) {
		printf("%s_%s_cpu: %.0f %% of one core\n", pfx, server_name,
		       r->server_cpu);
		/* the pinned core's whole use: what is not the server's
		 * was other work taken from it */
		if (r->core_busy >= 0) {
			double other = r->core_busy - r->server_cpu;
			printf("%s_%s_core_busy: %.0f %% of cpu%d\n", pfx,
			       server_name, r->core_busy, r->core);
			printf("%s_%s_core_other: %.0f %% of cpu%d (work other "
			       "than the %s)\n",
			       pfx, server_name, other > 0 ? other : 0, r->core,
			       server_name);
		}
		/* what one core would take if CPU were the only limit: less
		 * sensitive than the rate to other work on a shared core */
		if (r->server_cpu > 0)
			printf("%s_segments_per_%s_cpu_s: %.0f segments/s\n",
			       pfx, server_name,
			       r->seg_per_s / (r->server_cpu / 100));
	}
	if (writes && r->server_write >= 0 && r->ok)
		printf("%s_%s_write_bytes_per_segment: %.0f bytes\n", pfx,
		       server_name, r->server_write / (double)r->ok);
	if (r->failed + r->transport)
		printf("%s_valid: no (%" PRIu64 " failed requests: the figures "
		       "above are invalid)\n", pfx, r->failed + r->transport);
	else if (r->stopped)
		printf("%s_valid: no (stopped at --max-seconds: not every "
		       "segment was sent)\n", pfx);
	else
		printf("%s_valid: yes\n", pfx);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-ingest --url URL --ca FILE [options]\n"
		"  --url URL            sealtrace server, https://HOST:PORT\n"
		"  --ca FILE            the server's CA certificate (PEM)\n"
		"  --token-file FILE    admin token (else $SEALTRACE_TOKEN)\n"
		"  --devices N          simulated devices, 1-%u (default %u)\n"
		"  --segments S         one-minute segments per device, 1-%u "
		"(default %u)\n"
		"  --workers W          threads, one request in flight each, "
		"1-%u (default %u)\n"
		"  --max-seconds T      bound on each timed phase (default "
		"%u)\n"
		"  --seed N             trace seed of device 0; device i gets "
		"N+i\n"
		"  --prefix NAME        user name prefix (default "
		"bench-PID-TIME)\n"
		"  --server-pid PID     report that process's CPU during the "
		"timed phase\n"
		"  --peer-journal URL   also post the same segments to "
		"systemd-journal-remote at URL\n"
		"  --peer-ca FILE       CA of the peer (default: --ca)\n"
		"  --peer-pid PID       report the peer's CPU during its "
		"phase\n",
		DEVICES_MAX, DEFAULT_DEVICES, SEGMENTS_MAX, DEFAULT_SEGMENTS,
		WORKERS_MAX, DEFAULT_WORKERS, DEFAULT_MAX_SECONDS);
}

static int read_token(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "bench-ingest: cannot open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
		     out[n - 1] == ' '))
		out[--n] = 0;
	return n ? 0 : -1;
}

int main(int argc, char **argv)
{
	static char prefix_buf[NAME_MAX_LEN];
	struct opts o = {.devices = DEFAULT_DEVICES,
			 .segments = DEFAULT_SEGMENTS,
			 .workers = DEFAULT_WORKERS,
			 .max_seconds = DEFAULT_MAX_SECONDS,
			 .seed = DEFAULT_SEED};
	static const struct option lopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"ca", required_argument, NULL, 'c'},
	    {"token-file", required_argument, NULL, 't'},
	    {"devices", required_argument, NULL, 'd'},
	    {"segments", required_argument, NULL, 's'},
	    {"workers", required_argument, NULL, 'w'},
	    {"max-seconds", required_argument, NULL, 'm'},
	    {"seed", required_argument, NULL, 'S'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"server-pid", required_argument, NULL, 'P'},
	    {"peer-journal", required_argument, NULL, 'j'},
	    {"peer-ca", required_argument, NULL, 'C'},
	    {"peer-pid", required_argument, NULL, 'Q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'u': o.url = optarg; break;
		case 'c': o.ca = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'p': o.prefix = optarg; break;
		case 'j': o.peer_url = optarg; break;
		case 'C': o.peer_ca = optarg; break;
		case 'd':
			if (bench_parse_u64(optarg, 1, DEVICES_MAX, &o.devices) < 0)
				bad = "--devices";
			break;
		case 's':
			if (bench_parse_u64(optarg, 1, SEGMENTS_MAX, &o.segments) < 0)
				bad = "--segments";
			break;
		case 'w':
			if (bench_parse_u64(optarg, 1, WORKERS_MAX, &o.workers) < 0)
				bad = "--workers";
			break;
		case 'm':
			if (bench_parse_u64(optarg, 1, MAX_SECONDS_MAX,
				      &o.max_seconds) < 0)
				bad = "--max-seconds";
			break;
		case 'S':
			if (bench_parse_u64(optarg, 0, UINT64_MAX / 2, &o.seed) < 0)
				bad = "--seed";
			break;
		case 'P':
		case 'Q':
			if (bench_parse_u64(optarg, 1, INT32_MAX, &v) < 0)
				bad = c == 'P' ? "--server-pid" : "--peer-pid";
			else if (c == 'P')
				o.server_pid = (long)v;
			else
				o.peer_pid = (long)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr,
				"bench-ingest: %s %s: out of range (see "
				"--help)\n",
				bad, optarg);
			return 2;
		}
	}
	if (optind != argc || !o.url || !o.ca) {
		fprintf(stderr, "bench-ingest: --url and --ca are required\n");
		usage(stderr);
		return 2;
	}
	if (o.devices * o.segments > REQUESTS_MAX) {
		fprintf(stderr,
			"bench-ingest: %" PRIu64 " x %" PRIu64
			" segments is over %u: all are held in memory; give "
			"fewer devices or segments\n",
			o.devices, o.segments, REQUESTS_MAX);
		return 2;
	}
	if (o.workers > o.devices) {
		fprintf(stderr,
			"bench-ingest: %" PRIu64 " workers for %" PRIu64
			" devices: give at most one worker per device\n",
			o.workers, o.devices);
		return 2;
	}
	if (!o.peer_ca)
		o.peer_ca = o.ca;
	if (!o.prefix) {
		snprintf(prefix_buf, sizeof prefix_buf, "bench-%ld-%ld",
			 (long)getpid(), (long)time(NULL));
		o.prefix = prefix_buf;
	}
	char token[ST_TOKEN_TEXT_MAX] = {0};
	if (o.token_file) {
		if (read_token(o.token_file, token, sizeof token) < 0) {
			fprintf(stderr, "bench-ingest: no token in %s\n",
				o.token_file);
			return 2;
		}
	} else {
		const char *e = getenv("SEALTRACE_TOKEN");
		if (!e || !*e || strlen(e) >= sizeof token) {
			fprintf(stderr,
				"bench-ingest: no admin token: give "
				"--token-file FILE or set SEALTRACE_TOKEN\n");
			return 2;
		}
		snprintf(token, sizeof token, "%s", e);
	}
	if (st_crypto_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != 0) {
		fprintf(stderr, "bench-ingest: libsodium or libcurl could not "
				"initialise\n");
		return 1;
	}

	int status = 1;
	struct device *dev = calloc(o.devices, sizeof *dev);
	struct answer *a = malloc(sizeof *a);
	struct setup s = {.o = &o, .a = a};
	char auth[ST_TOKEN_TEXT_MAX + 32];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	sodium_memzero(token, sizeof token);
	bool hok = bench_hdr_add(&s.json_hdrs, "Content-Type: application/json") &&
		   bench_hdr_add(&s.json_hdrs, "Expect:") &&
		   bench_hdr_add(&s.admin_hdrs, auth) &&
		   bench_hdr_add(&s.admin_hdrs, "Content-Type: application/json") &&
		   bench_hdr_add(&s.admin_hdrs, "Expect:");
	sodium_memzero(auth, sizeof auth);
	if (!dev || !a || !hok || !(s.h = http_new(o.ca, a))) {
		fprintf(stderr, "bench-ingest: out of memory\n");
		goto out;
	}

	/* setup, untimed, through the API as an administrator and agents */
	double ts = mono_s();
	for (uint64_t i = 0; i < o.devices; i++) {
		if (mono_s() - ts > (double)o.max_seconds) {
			fprintf(stderr,
				"bench-ingest: setup passed --max-seconds "
				"%" PRIu64 " after %" PRIu64 " devices\n",
				o.max_seconds, i);
			goto out;
		}
		if (setup_device(&s, &dev[i], i) < 0)
			goto out;
		if (!(dev[i].segs = calloc(o.segments, sizeof *dev[i].segs))) {
			fprintf(stderr, "bench-ingest: out of memory\n");
			goto out;
		}
	}
	double setup_s = mono_s() - ts;

	/* pre-seal, untimed: all minutes end before now and start less than
	 * SEGMENTS_MAX + 2 minutes back */
	cpu_set_t cpus;
	uint64_t nsealers = 1;
	if (sched_getaffinity(0, sizeof cpus, &cpus) == 0)
		nsealers = (uint64_t)CPU_COUNT(&cpus);
	if (nsealers > SEALERS_MAX)
		nsealers = SEALERS_MAX;
	if (nsealers > o.devices)
		nsealers = o.devices;
	uint64_t now_min = (uint64_t)time(NULL) / 60;
	uint64_t anchor_ns = (now_min - o.segments - 2) * 60 * 1000000000ull;
	struct sealer *sl = calloc(nsealers, sizeof *sl);
	if (!sl) {
		fprintf(stderr, "bench-ingest: out of memory\n");
		goto out;
	}
	ts = mono_s();
	uint64_t nstarted = 0;
	for (; nstarted < nsealers; nstarted++) {
		sl[nstarted] = (struct sealer){.dev = dev,
					       .first = nstarted,
					       .step = nsealers,
					       .ndev = o.devices,
					       .segments = o.segments,
					       .seed = o.seed,
					       .anchor_ns = anchor_ns,
					       .journal = o.peer_url != NULL};
		if (pthread_create(&sl[nstarted].th, NULL, sealer_main,
				   &sl[nstarted]) != 0)
			break;
	}
	bool seal_ok = nstarted == nsealers;
	for (uint64_t i = 0; i < nstarted; i++) {
		pthread_join(sl[i].th, NULL);
		if (sl[i].rc < 0) {
			fprintf(stderr, "bench-ingest: seal: %s\n",
				sl[i].err.msg);
			seal_ok = false;
		}
	}
	free(sl);
	if (!seal_ok)
		goto out;
	double seal_s = mono_s() - ts;
	uint64_t nseg = o.devices * o.segments, seg_bytes = 0, j_bytes = 0;
	for (uint64_t i = 0; i < o.devices; i++)
		for (uint64_t k = 0; k < o.segments; k++) {
			seg_bytes += dev[i].segs[k].len;
			j_bytes += dev[i].segs[k].jlen;
		}

	printf("input: %" PRIu64 " devices x %" PRIu64
	       " segments = %" PRIu64 " segments, mean %.0f bytes, %" PRIu64
	       " workers\n",
	       o.devices, o.segments, nseg, (double)seg_bytes / (double)nseg,
	       o.workers);
	printf("devices: %" PRIu64 " devices\n", o.devices);
	printf("segments: %" PRIu64 " segments\n", nseg);
	printf("segment_mean_bytes: %.0f bytes\n",
	       (double)seg_bytes / (double)nseg);
	printf("workers: %" PRIu64 " threads\n", o.workers);
	printf("setup_s: %.2f s\n", setup_s);
	printf("seal_s: %.2f s\n", seal_s);
	fflush(stdout);

	char url[1024];
	snprintf(url, sizeof url, "%s/v1/segments", o.url);
	struct result ri, rj;
	if (run_phase(PHASE_INGEST, &o, dev, url, o.ca, o.server_pid, &ri) < 0)
		goto out;
	print_result("ingest", &ri, "server", true);
	bool met_rate = ri.seg_per_s >= TARGET_SEGMENTS_PER_S;
	bool met_p99 = ri.p99 < TARGET_P99_MS;
	bool valid = ri.failed + ri.transport == 0 && !ri.stopped;
	printf("target_segments_per_s: %.0f segments/s\n",
	       TARGET_SEGMENTS_PER_S);
	printf("target_ack_p99_ms: %.0f ms\n", TARGET_P99_MS);
	if (!valid)
		printf("targets: not judged (the run is invalid)\n");
	else if (met_rate && met_p99)
		printf("targets: met\n");
	else
		printf("targets: missed (%s%s%s)\n",
		       met_rate ? "" : "segments/s below 5000",
		       met_rate || met_p99 ? "" : "; ",
		       met_p99 ? "" : "p99 not under 100 ms");
	fflush(stdout);

	if (o.peer_url) {
		snprintf(url, sizeof url, "%s/upload", o.peer_url);
		if (run_phase(PHASE_JOURNAL, &o, dev, url, o.peer_ca,
			      o.peer_pid, &rj) < 0)
			goto out;
		printf("journal_request_mean_bytes: %.0f bytes\n",
		       (double)j_bytes / (double)nseg);
		print_result("journal", &rj, "peer", false);
		bool jvalid = rj.failed + rj.transport == 0 && !rj.stopped;
		if (rj.mb_per_s > 0)
			printf("ingest_to_journal_bytes_ratio: %.3f ratio%s\n",
			       ri.mb_per_s / rj.mb_per_s,
			       valid && jvalid ? "" : " (invalid run)");
		if (rj.seg_per_s > 0)
			printf("ingest_to_journal_segments_ratio: %.3f "
			       "ratio\n",
			       ri.seg_per_s / rj.seg_per_s);
		if (!jvalid)
			valid = false;
	}
	status = valid ? 0 : 3;
out:
	if (s.h)
		curl_easy_cleanup(s.h);
	curl_slist_free_all(s.admin_hdrs); /* holds the token: libcurl's
					      copy is freed, not wiped */
	curl_slist_free_all(s.json_hdrs);
	free(a);
	if (dev) {
		for (uint64_t i = 0; i < o.devices; i++) {
			st_secret_free(dev[i].sk);
			if (dev[i].segs)
				for (uint64_t k = 0; k < o.segments; k++) {
					free(dev[i].segs[k].p);
					free(dev[i].segs[k].j);
				}
			free(dev[i].segs);
		}
		free(dev);
	}
	curl_global_cleanup();
	return status;
}
