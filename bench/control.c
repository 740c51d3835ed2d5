/* control.c - bench-control: the kill switch under a fleet's worth of held
 * long-polls. It enrolls N devices through the real API (untimed, with
 * libcurl), then plays N agents from one thread over one epoll: each keeps
 * one kept-alive HTTPS connection (its own GnuTLS session, the server
 * verified against the CA; answers parsed by http_parser) with one POST
 * /v1/device/lease in flight, verifies every lease it is answered
 * (core/lease.h, against its own nonce) and polls again at once with
 * have_seq and, under a pause lease, a confirm. With every poll held it
 * reads the server's memory and its CPU over an idle window, then POSTs
 * /v1/admin/pause scope all and measures how long the pause takes to
 * reach each simulated agent and to be confirmed at the server.
 * bench/README.md says what each printed line means. Never prints the
 * admin token or a key. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <http_parser.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "core/devreq.h"
#include "core/err.h"
#include "core/keys.h"
#include "core/lease.h"
#include "core/mem.h"
#include "core/token.h"

#define DEFAULT_AGENTS 10000u
#define DEFAULT_SETUP_WORKERS 16u
#define DEFAULT_MAX_SECONDS 1800u
#define DEFAULT_IDLE_SECONDS 10u
#define DEFAULT_RAMP 200u
#define DEFAULT_CONTROL_POLL_MS 20u

/* One process may hold at most 20,000 open files here; keep room for the
 * epoll fd, the setup connections, the monitor's and libc's own. */
#define AGENTS_MAX 19000u
#define SETUP_WORKERS_MAX 128u
#define MAX_SECONDS_MAX 86400u
#define IDLE_SECONDS_MAX 600u
#define RAMP_MAX 5000u
/* A lease answer is a few hundred bytes of JSON; a longer body is a
 * failed poll. */
#define ANSWER_MAX 2048u
/* A poll's request: headers, three signature headers and a body under
 * 256 bytes. */
#define REQUEST_MAX 1024u
/* Setup answers (policy and notice inside the enroll answer) are larger. */
#define SETUP_ANSWER_MAX (256u << 10)
/* A held poll is answered after lease_hold_s (at most a minute or two in
 * any sane config): a poll outstanding longer than this failed. */
#define POLL_TIMEOUT_MS 180000L
#define CONNECT_TIMEOUT_MS 30000L
/* Both are enforced by one sweep over the fleet this often, not by a timer
 * per poll. */
#define SWEEP_MS 250u
/* Bounds on the GnuTLS calls for one socket event: a request is one
 * record, an answer one or two (a longer one fails on ANSWER_MAX first),
 * a handshake step returns at the first wait. */
#define SEND_CALLS_MAX 4
#define READ_CALLS_MAX 16
#define HANDSHAKE_CALLS_MAX 16
/* A failed poll is retried after a jittered delay, at most this many times
 * in a row per agent before the run is declared invalid. */
#define RETRY_MIN_MS 100u
#define RETRY_JITTER_MS 400u
#define RETRIES_MAX 20u
/* How long the pause phase waits for every confirmation. */
#define PAUSE_PHASE_MAX_S 60u
#define EPOLL_BATCH 512
#define LOCAL_USER "bench"
#define NAME_MAX_LEN 64
#define FAILURES_SHOWN 5u

/* The targets (bench/README.md, design invariant 7). */
#define TARGET_LAST_CONFIRM_MS 1000.0
#define TARGET_RSS_MIB 512.0
#define TARGET_RSS_AT 10000u

enum agent_phase {
	A_IDLE = 0,   /* not started yet */
	A_WAITING,    /* a retry is scheduled */
	A_INFLIGHT,   /* a poll is out: queued on its connection, being
			 written, or held by the server */
};

enum conn_state {
	C_CLOSED = 0,
	C_CONNECTING, /* TCP connect in progress */
	C_HANDSHAKE,  /* TLS handshake in progress */
	C_OPEN,
};

/* An answer (two TLS records of a few hundred bytes) fits in one. */
#define IN_BUF 2048u

struct agent {
	uint8_t id[16];
	uint8_t *sk; /* st_secret_new */
	char user[NAME_MAX_LEN];
	/* its connection: one socket, one GnuTLS session */
	enum conn_state conn;
	bool bound;           /* a poll on this connection was answered: the
				 server bound it to the device, later polls
				 on it go unsigned (docs/api.md) */
	int fd;
	gnutls_session_t tls;
	bool want_out;        /* EPOLLOUT is in its epoll registration */
	uint64_t conn_t0_ns;  /* the connect began */
	/* the poll in flight: request, answer, parser state */
	char req[REQUEST_MAX];
	size_t req_len, req_off; /* req_off: written so far */
	bool confirm;         /* it carries the confirmation */
	uint64_t poll_t0_ns;
	http_parser hp;
	unsigned status;
	bool answered, keep_alive;
	bool extra;           /* the connection is out of step (bytes past
				 the answer, or an answer before the whole
				 request went out): dropped after this poll */
	/* what one recv brought and GnuTLS has not taken yet (agent_pull):
	 * an answer's records in one read, not a header and a body each */
	uint8_t in[IN_BUF];
	size_t in_off, in_len;
	char resp[ANSWER_MAX + 1]; /* the answer's body */
	size_t rlen;
	bool cut;             /* the body passed ANSWER_MAX */
	uint8_t nonce[ST_LEASE_NONCE_LEN];
	uint64_t have_seq;
	uint8_t lease_state;  /* of the newest lease held; 0: none */
	uint64_t pause_seq;   /* the pause this agent obeys (0: none) */
	uint64_t leases;      /* verified leases */
	uint64_t t_pause_ns;  /* pause lease verified (0: not yet) */
	uint64_t t_confirm_ns;/* the poll carrying the confirm was written to
				 its connection */
	uint64_t retry_at_ns;
	unsigned retries;
	bool held;            /* holds a lease and has its next poll out */
	enum agent_phase phase;
};

/* The server's lease key, fetched from GET /v1/ca over the verified
 * connection: what every agent pins at enrollment. */
static uint8_t lease_pk[32];

struct opts {
	const char *url, *ca, *token_file, *prefix, *server_log;
	uint64_t agents, setup_workers, max_seconds, idle_seconds, ramp;
	uint64_t control_poll_ms;
	long server_pid;
};

/* CPU seconds of a process, every thread (/proc/PID/stat); < 0 when
 * unreadable. */
/* VmRSS of a process in KiB (0 = this one); < 0 when unreadable. */
static double proc_rss_kib(long pid)
{
	char path[64], line[128];
	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%ld/status", pid);
	else
		snprintf(path, sizeof path, "/proc/self/status");
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	double v = -1;
	unsigned long long k;
	for (int i = 0; i < 80 && fgets(line, sizeof line, f); i++)
		if (sscanf(line, "VmRSS: %llu kB", &k) == 1) {
			v = (double)k;
			break;
		}
	fclose(f);
	return v;
}

/* Nearest-rank percentile of sorted v[0..n), ns to ms. */
/* ---- blocking HTTPS for setup and administration ------------------------ */

struct answer {
	char *p;
	size_t len, cap;
	bool cut;
};

static size_t answer_write(char *data, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n, room = a->cap - a->len;
	size_t k = len < room ? len : room;
	memcpy(a->p + a->len, data, k);
	a->len += k;
	a->p[a->len] = 0;
	if (k < len)
		a->cut = true;
	return len;
}

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
	    curl_easy_setopt(h, CURLOPT_CAPATH, NULL) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L) == CURLE_OK &&
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

/* One request; body NULL for a GET. Returns the HTTP status, or -1 for a
 * transport failure (described in a->p). */
static long http_call(CURL *h, const char *url, struct curl_slist *hdrs,
		      const char *body, struct answer *a)
{
	a->len = 0;
	a->cut = false;
	a->p[0] = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(a->p, a->cap, "%s", curl_easy_strerror(rc));
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* The three signature headers of a device request, appended to *l. */
static bool sig_hdrs(struct curl_slist **l, const uint8_t id[16],
		     const uint8_t *sk, const char *path, const char *body)
{
	struct st_devreq_sig sig;
	struct st_error e = {0};
	if (st_devreq_sign(id, sk, "POST", path, (const uint8_t *)body,
			   strlen(body), (int64_t)time(NULL), &sig, &e) < 0)
		return false;
	char hd[80], ht[80], hs[160];
	snprintf(hd, sizeof hd, ST_DEVREQ_HDR_DEVICE ": %s", sig.device);
	snprintf(ht, sizeof ht, ST_DEVREQ_HDR_TIME ": %s", sig.time);
	snprintf(hs, sizeof hs, ST_DEVREQ_HDR_SIG ": %s", sig.sig);
	return bench_hdr_add(l, hd) && bench_hdr_add(l, ht) && bench_hdr_add(l, hs);
}

static const char *answer_msg(const struct answer *a, char *out, size_t cap)
{
	json_t *j = json_loadb(a->p, a->len, 0, NULL);
	const char *m = json_string_value(
	    json_object_get(json_object_get(j, "error"), "message"));
	snprintf(out, cap, "%s", m ? m : a->len ? a->p : "(empty answer)");
	json_decref(j);
	return out;
}

static int unb64(const char *t, uint8_t *out, size_t cap, size_t *len)
{
	if (!t)
		return -1;
	if (sodium_base642bin(out, cap, t, strlen(t), NULL, len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0)
		return 0;
	return sodium_base642bin(out, cap, t, strlen(t), NULL, len, NULL,
				 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- setup: people, tokens, enrollment, acceptance ---------------------- */

struct setup_worker {
	pthread_t th;
	const struct opts *o;
	struct agent *ag;
	uint64_t first, step;
	const char *auth; /* "Authorization: Bearer ..." */
	uint64_t deadline_ns;
	atomic_uint_fast64_t *done;
	int rc;
	char msg[512];
};

/* POSTs JSON; the parsed answer when the status is want, else NULL with
 * w->msg saying why. */
static json_t *setup_post(struct setup_worker *w, CURL *h, struct answer *a,
			  const char *path, struct curl_slist *hdrs,
			  json_t *body, long want, const char *what)
{
	char url[1024], m[512];
	snprintf(url, sizeof url, "%s%s", w->o->url, path);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text) {
		snprintf(w->msg, sizeof w->msg, "%s: out of memory", what);
		return NULL;
	}
	long st = http_call(h, url, hdrs, text, a);
	free(text);
	if (st != want) {
		snprintf(w->msg, sizeof w->msg, "%s: POST %s: %s%ld: %s", what,
			 path, st < 0 ? "transport failure " : "HTTP ", st,
			 st < 0 ? a->p : answer_msg(a, m, sizeof m));
		return NULL;
	}
	json_t *j = json_loadb(a->p, a->len, 0, NULL);
	if (!j)
		snprintf(w->msg, sizeof w->msg, "%s: POST %s: not JSON", what,
			 path);
	return j;
}

static int setup_one(struct setup_worker *w, CURL *h, struct answer *a,
		     struct curl_slist *admin, struct agent *d, uint64_t i)
{
	char what[128];
	snprintf(d->user, sizeof d->user, "%s-%06" PRIu64, w->o->prefix, i);
	snprintf(what, sizeof what, "agent %" PRIu64 " (%s)", i, d->user);
	json_t *j = setup_post(w, h, a, "/v1/admin/users", admin,
			       json_pack("{ss}", "name", d->user), 201, what);
	if (!j)
		return -1;
	json_decref(j);
	j = setup_post(w, h, a, "/v1/admin/enroll-tokens", admin,
		       json_pack("{ss}", "user", d->user), 201, what);
	if (!j)
		return -1;
	char token[ST_TOKEN_TEXT_MAX];
	const char *t = json_string_value(json_object_get(j, "token"));
	if (!t || strlen(t) >= sizeof token) {
		json_decref(j);
		snprintf(w->msg, sizeof w->msg, "%s: no token", what);
		return -1;
	}
	snprintf(token, sizeof token, "%s", t);
	json_decref(j);

	uint8_t pk[ST_SIGN_PK_LEN];
	d->sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!d->sk || st_sign_keypair(pk, d->sk) < 0) {
		snprintf(w->msg, sizeof w->msg, "%s: cannot make a device key",
			 what);
		return -1;
	}
	char pk64[sodium_base64_ENCODED_LEN(ST_SIGN_PK_LEN,
					    sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(pk64, sizeof pk64, pk, sizeof pk,
			  sodium_base64_VARIANT_ORIGINAL);
	char host[NAME_MAX_LEN];
	snprintf(host, sizeof host, "ctl-%06" PRIu64, i);
	struct curl_slist *jh = NULL;
	if (!bench_hdr_add(&jh, "Content-Type: application/json") ||
	    !bench_hdr_add(&jh, "Expect:")) {
		curl_slist_free_all(jh);
		return -1;
	}
	j = setup_post(w, h, a, "/v1/enroll", jh,
		       json_pack("{ss ss ss ss}", "token", token,
				 "device_public_key", pk64, "local_user",
				 LOCAL_USER, "hostname", host),
		       201, what);
	sodium_memzero(token, sizeof token);
	curl_slist_free_all(jh);
	if (!j)
		return -1;
	const char *nh = json_string_value(json_object_get(j, "notice_hash"));
	char notice[65];
	bool ok = bench_get_hex(j, "device_id", d->id, sizeof d->id) && nh &&
		  strlen(nh) == 64;
	if (ok)
		snprintf(notice, sizeof notice, "%s", nh);
	json_decref(j);
	if (!ok) {
		snprintf(w->msg, sizeof w->msg,
			 "%s: enroll answer lacks device_id or notice_hash",
			 what);
		return -1;
	}

	json_t *body = json_pack("{ss ss sI}", "notice_hash", notice,
				 "local_user", LOCAL_USER, "accepted_s",
				 (json_int_t)time(NULL));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	const char *path = "/v1/device/acceptances";
	jh = NULL;
	if (!text || !bench_hdr_add(&jh, "Content-Type: application/json") ||
	    !bench_hdr_add(&jh, "Expect:") ||
	    !sig_hdrs(&jh, d->id, d->sk, path, text)) {
		free(text);
		curl_slist_free_all(jh);
		snprintf(w->msg, sizeof w->msg, "%s: cannot sign", what);
		return -1;
	}
	char url[1024], m[512];
	snprintf(url, sizeof url, "%s%s", w->o->url, path);
	long st = http_call(h, url, jh, text, a);
	free(text);
	curl_slist_free_all(jh);
	if (st != 201) {
		snprintf(w->msg, sizeof w->msg, "%s: POST %s: %ld: %s", what,
			 path, st, st < 0 ? a->p : answer_msg(a, m, sizeof m));
		return -1;
	}
	return 0;
}

static void *setup_main(void *arg)
{
	struct setup_worker *w = arg;
	struct answer a = {.cap = SETUP_ANSWER_MAX};
	struct curl_slist *admin = NULL;
	CURL *h = NULL;
	w->rc = -1;
	if (!(a.p = malloc(a.cap + 1)) || !(h = http_new(w->o->ca, &a)) ||
	    !bench_hdr_add(&admin, w->auth) ||
	    !bench_hdr_add(&admin, "Content-Type: application/json") ||
	    !bench_hdr_add(&admin, "Expect:")) {
		snprintf(w->msg, sizeof w->msg, "out of memory");
		goto out;
	}
	for (uint64_t i = w->first; i < w->o->agents; i += w->step) {
		if (bench_mono_ns() > w->deadline_ns) {
			snprintf(w->msg, sizeof w->msg,
				 "setup passed --max-seconds %" PRIu64,
				 w->o->max_seconds);
			goto out;
		}
		if (setup_one(w, h, &a, admin, &w->ag[i], i) < 0)
			goto out;
		atomic_fetch_add(w->done, 1);
	}
	w->rc = 0;
out:
	curl_slist_free_all(admin); /* holds the token */
	if (h)
		curl_easy_cleanup(h);
	free(a.p);
	return NULL;
}

/* ---- the simulated fleet: GnuTLS sessions over one epoll ---------------- */

/* Each agent's connection is its own non-blocking socket and GnuTLS
 * session, driven by one level-triggered epoll in this one thread: a poll
 * costs a send, a receive, http_parser and the two signatures, with no
 * per-poll allocation but jansson's for the answer (libcurl's multi
 * machinery cost the fleet more CPU than the crypto it must do). */

struct fleet {
	const struct opts *o;
	struct agent *ag;
	uint64_t n;
	int ep;
	/* where every agent connects, from --url */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	/* verified against the certificate, and the SNI when it is a name;
	 * GnuTLS keeps the pointer for the session's life */
	char host[256];
	bool host_is_ip;
	char authority[300]; /* the Host header: host[:port] as in --url */
	char target[1024];   /* --url's path + /v1/device/lease */
	gnutls_certificate_credentials_t cred; /* the CA, loaded once */
	uint64_t started;      /* agents whose first poll was issued */
	uint64_t first_inflight; /* first polls not yet answered */
	uint64_t holding;      /* agents with a lease and a poll in flight */
	uint64_t waiting;      /* agents with a retry scheduled */
	uint64_t leases, renewals_window, verify_fail, poll_fail;
	uint64_t retries_exhausted;
	uint64_t next_sweep_ns;
	unsigned shown;
	/* the pause, set by the monitor thread */
	_Atomic uint64_t pause_t0_ns;
	uint64_t pause_leases, confirms_sent;
	atomic_bool stop;
	bool counting_renewals;
	/* what one gnutls_record_recv hands over: one TLS record at most */
	char rbuf[16384];
	/* nonces, drawn from randombytes_buf a page at a time */
	uint8_t rnd[4096];
	size_t rnd_off;
};

static void fail_note(struct fleet *f, struct agent *a, const char *what)
{
	if (f->shown++ < FAILURES_SHOWN)
		fprintf(stderr, "bench-control: %s: %s\n", a->user, what);
}

/* Splits --url (https://HOST[:PORT][/PREFIX]) with http_parser's URL
 * parser and resolves HOST once: every agent connects to that address. */
static int fleet_target(struct fleet *f, const char *url)
{
	struct http_parser_url u;
	http_parser_url_init(&u);
	size_t len = strlen(url);
	if (http_parser_parse_url(url, len, 0, &u) != 0 ||
	    !(u.field_set & (1u << UF_SCHEMA)) ||
	    !(u.field_set & (1u << UF_HOST)) ||
	    u.field_data[UF_SCHEMA].len != 5 ||
	    strncasecmp(url + u.field_data[UF_SCHEMA].off, "https", 5) != 0 ||
	    (u.field_set & ((1u << UF_USERINFO) | (1u << UF_QUERY) |
			    (1u << UF_FRAGMENT))) ||
	    u.field_data[UF_HOST].len >= sizeof f->host) {
		fprintf(stderr, "bench-control: --url %s: not "
				"https://HOST[:PORT][/PATH]\n", url);
		return -1;
	}
	size_t ho = u.field_data[UF_HOST].off, hl = u.field_data[UF_HOST].len;
	memcpy(f->host, url + ho, hl);
	f->host[hl] = 0;
	/* the authority as written, brackets of an IPv6 literal and port
	 * included, is what libcurl put in Host: */
	size_t a0 = ho > 0 && url[ho - 1] == '[' ? ho - 1 : ho;
	size_t a1 = u.field_set & (1u << UF_PORT)
			? (size_t)u.field_data[UF_PORT].off +
			      u.field_data[UF_PORT].len
			: ho + hl + (url[ho + hl] == ']');
	const char *path = u.field_set & (1u << UF_PATH)
			       ? url + u.field_data[UF_PATH].off
			       : "";
	size_t pl = u.field_set & (1u << UF_PATH) ? u.field_data[UF_PATH].len
						  : 0;
	while (pl && path[pl - 1] == '/')
		pl--;
	if (a1 - a0 >= sizeof f->authority ||
	    pl + sizeof "/v1/device/lease" > sizeof f->target) {
		fprintf(stderr, "bench-control: --url %s: too long\n", url);
		return -1;
	}
	snprintf(f->authority, sizeof f->authority, "%.*s", (int)(a1 - a0),
		 url + a0);
	snprintf(f->target, sizeof f->target, "%.*s/v1/device/lease", (int)pl,
		 path);
	struct in6_addr ip;
	f->host_is_ip = inet_pton(AF_INET, f->host, &ip) == 1 ||
			inet_pton(AF_INET6, f->host, &ip) == 1;
	char port[8];
	snprintf(port, sizeof port, "%u",
		 u.field_set & (1u << UF_PORT) ? u.port : 443u);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV}, *res = NULL;
	int g = getaddrinfo(f->host, port, &hints, &res);
	if (g != 0 || !res || res->ai_addrlen > sizeof f->addr) {
		fprintf(stderr, "bench-control: --url %s: cannot resolve %s: "
				"%s\n", url, f->host,
			g ? gai_strerror(g) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(&f->addr, res->ai_addr, res->ai_addrlen);
	f->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A GnuTLS error, with the socket's errno when the socket failed
 * (GnuTLS says only "Error in the pull function"). */
static const char *tls_why(int g, int err, char *out, size_t cap)
{
	if ((g == GNUTLS_E_PULL_ERROR || g == GNUTLS_E_PUSH_ERROR) && err)
		snprintf(out, cap, "%s (%s)", gnutls_strerror(g), strerror(err));
	else
		snprintf(out, cap, "%s", gnutls_strerror(g));
	return out;
}

/* The trust every session shares: the server's CA only, as libcurl had
 * with CAINFO and no CAPATH. */
static int fleet_trust(struct fleet *f, const char *ca)
{
	int g = gnutls_certificate_allocate_credentials(&f->cred);
	if (g < 0) {
		f->cred = NULL;
		fprintf(stderr, "bench-control: gnutls credentials: %s\n",
			gnutls_strerror(g));
		return -1;
	}
	g = gnutls_certificate_set_x509_trust_file(f->cred, ca,
						   GNUTLS_X509_FMT_PEM);
	if (g <= 0) {
		fprintf(stderr, "bench-control: --ca %s: %s\n", ca,
			g < 0 ? gnutls_strerror(g) : "no certificate in it");
		return -1;
	}
	return 0;
}

static void conn_close(struct agent *a)
{
	if (a->conn == C_CLOSED)
		return;
	/* no close_notify: the connection is simply dropped, and closing the
	 * descriptor takes it out of the epoll set */
	gnutls_deinit(a->tls);
	a->tls = NULL;
	close(a->fd);
	a->fd = -1;
	a->conn = C_CLOSED;
	a->bound = false;
	a->want_out = false;
	a->in_off = a->in_len = 0;
}

/* GnuTLS's transport: one recv fills the agent's buffer, GnuTLS takes the
 * record header and body from it (its own reads ask for one, then the
 * other). */
static ssize_t agent_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct agent *a = p;
	if (a->in_off == a->in_len) {
		ssize_t r = recv(a->fd, a->in, sizeof a->in, 0);
		if (r < 0) {
			gnutls_transport_set_errno(a->tls, errno);
			return -1;
		}
		if (r == 0)
			return 0;
		a->in_off = 0;
		a->in_len = (size_t)r;
	}
	size_t n = a->in_len - a->in_off;
	if (n > len)
		n = len;
	memcpy(buf, a->in + a->in_off, n);
	a->in_off += n;
	return (ssize_t)n;
}

static int agent_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	struct agent *a = p;
	if (a->in_off < a->in_len)
		return 1;
	struct pollfd pfd = {.fd = a->fd, .events = POLLIN};
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t agent_push(gnutls_transport_ptr_t p, const giovec_t *iov,
			  int n)
{
	struct agent *a = p;
	struct msghdr m = {.msg_iov = (struct iovec *)iov,
			   .msg_iovlen = (size_t)n};
	ssize_t r = sendmsg(a->fd, &m, MSG_NOSIGNAL);
	if (r < 0)
		gnutls_transport_set_errno(a->tls, errno);
	return r;
}

/* EPOLLIN always; EPOLLOUT only while a write (or the connect, or a
 * handshake step) waits for room. */
static int epoll_out(struct fleet *f, struct agent *a, bool out)
{
	if (a->want_out == out)
		return 0;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
				 .data.ptr = a};
	if (epoll_ctl(f->ep, EPOLL_CTL_MOD, a->fd, &ev) < 0)
		return -1;
	a->want_out = out;
	return 0;
}

static void schedule_retry(struct fleet *f, struct agent *a)
{
	if (++a->retries > RETRIES_MAX) {
		f->retries_exhausted++;
		a->phase = A_IDLE;
		return;
	}
	a->phase = A_WAITING;
	f->waiting++;
	a->retry_at_ns = bench_mono_ns() + (RETRY_MIN_MS +
				      randombytes_uniform(RETRY_JITTER_MS)) *
					 1000000ull;
}

static void unhold(struct fleet *f, struct agent *a)
{
	if (a->held) {
		a->held = false;
		f->holding--;
	}
}

/* The poll in flight failed: counted, retried later. The connection is
 * kept only when its last answer ended cleanly and may be reused. */
static void poll_failed(struct fleet *f, struct agent *a, const char *why)
{
	if (a->phase != A_INFLIGHT) {
		/* a kept connection between polls: nothing was lost */
		conn_close(a);
		return;
	}
	char m[320];
	snprintf(m, sizeof m, "poll: %s", why);
	fail_note(f, a, m);
	f->poll_fail++;
	if (!(a->answered && a->keep_alive && !a->extra))
		conn_close(a);
	unhold(f, a);
	schedule_retry(f, a);
}

/* Writes what is left of the request. GnuTLS sends it as one record; after
 * GNUTLS_E_AGAIN it wants the very same buffer and length again, which is
 * what req + req_off and req_len - req_off are until a call succeeds. */
static void conn_send(struct fleet *f, struct agent *a)
{
	for (int i = 0; i < SEND_CALLS_MAX && a->req_off < a->req_len; i++) {
		errno = 0;
		ssize_t r = gnutls_record_send(a->tls, a->req + a->req_off,
					       a->req_len - a->req_off);
		int err = errno;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (epoll_out(f, a, true) < 0)
				poll_failed(f, a, "epoll_ctl failed");
			return;
		}
		if (r <= 0) {
			char m[200], t[160];
			snprintf(m, sizeof m, "sending the request: %s",
				 tls_why((int)r, err, t, sizeof t));
			poll_failed(f, a, m);
			return;
		}
		a->req_off += (size_t)r;
	}
	if (a->req_off < a->req_len) {
		poll_failed(f, a, "the request would not go out");
		return;
	}
	if (epoll_out(f, a, false) < 0) {
		poll_failed(f, a, "epoll_ctl failed");
		return;
	}
	if (a->confirm && !a->t_confirm_ns) {
		a->t_confirm_ns = bench_mono_ns();
		f->confirms_sent++;
	}
}

/* A TCP connection and a TLS session for the agent, its handshake left to
 * the loop; the poll waiting in a->req goes out once it is done. */
static int conn_open(struct fleet *f, struct agent *a)
{
	char m[160];
	int fd = socket(f->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(m, sizeof m, "socket: %s", strerror(errno));
		poll_failed(f, a, m);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&f->addr, f->addr_len) < 0 &&
	    errno != EINPROGRESS) {
		snprintf(m, sizeof m, "connect: %s", strerror(errno));
		close(fd);
		poll_failed(f, a, m);
		return -1;
	}
	/* writable once connected: the first EPOLLOUT starts the handshake */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = a};
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		snprintf(m, sizeof m, "epoll_ctl: %s", strerror(errno));
		close(fd);
		poll_failed(f, a, m);
		return -1;
	}
	a->fd = fd;
	a->want_out = true;
	a->conn_t0_ns = bench_mono_ns();
	int g = gnutls_init(&a->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
					 GNUTLS_NO_SIGNAL);
	if (g < 0) {
		a->tls = NULL;
		close(fd);
		a->fd = -1;
		snprintf(m, sizeof m, "gnutls_init: %s", gnutls_strerror(g));
		poll_failed(f, a, m);
		return -1;
	}
	a->conn = C_CONNECTING;
	/* libcurl's checks with VERIFYPEER 1 and VERIFYHOST 2: the chain to
	 * the CA, then the name or address in the URL against the
	 * certificate's (GnuTLS matches an IP literal against its IP
	 * addresses); SNI only for a name, as libcurl */
	if ((g = gnutls_set_default_priority(a->tls)) < 0 ||
	    (g = gnutls_credentials_set(a->tls, GNUTLS_CRD_CERTIFICATE,
					f->cred)) < 0 ||
	    (!f->host_is_ip &&
	     (g = gnutls_server_name_set(a->tls, GNUTLS_NAME_DNS, f->host,
					 strlen(f->host))) < 0)) {
		snprintf(m, sizeof m, "TLS setup: %s", gnutls_strerror(g));
		poll_failed(f, a, m);
		return -1;
	}
	gnutls_session_set_verify_cert(a->tls, f->host, 0);
	gnutls_transport_set_ptr(a->tls, a);
	gnutls_transport_set_pull_function(a->tls, agent_pull);
	gnutls_transport_set_pull_timeout_function(a->tls, agent_pull_timeout);
	gnutls_transport_set_vec_push_function(a->tls, agent_push);
	a->in_off = a->in_len = 0;
	return 0;
}

/* Issues the agent's next poll: a fresh nonce, have_seq, its state and,
 * while it obeys a pause, the confirmation; the request is formatted into
 * the agent's own buffer and goes out on its connection (opened first if
 * it has none). -1 only when the request cannot be made; a connection
 * that fails is a failed poll, counted and retried. */
static int poll_start(struct fleet *f, struct agent *a)
{
	if (f->rnd_off == 0 || f->rnd_off + sizeof a->nonce > sizeof f->rnd) {
		randombytes_buf(f->rnd, sizeof f->rnd);
		f->rnd_off = 0;
	}
	memcpy(a->nonce, f->rnd + f->rnd_off, sizeof a->nonce);
	f->rnd_off += sizeof a->nonce;
	char nh[2 * ST_LEASE_NONCE_LEN + 1];
	sodium_bin2hex(nh, sizeof nh, a->nonce, sizeof a->nonce);
	bool paused = a->lease_state == ST_LEASE_PAUSE;
	char body[256];
	int n;
	if (paused)
		/* last_seq 0: the simulated agent keeps no segment */
		n = snprintf(body, sizeof body,
			     "{\"nonce\":\"%s\",\"have_seq\":%" PRIu64
			     ",\"state\":\"paused\",\"confirm\":{\"seq\":%" PRIu64
			     ",\"last_seq\":0}}",
			     nh, a->have_seq, a->pause_seq);
	else
		n = snprintf(body, sizeof body,
			     "{\"nonce\":\"%s\",\"have_seq\":%" PRIu64
			     ",\"state\":\"%s\"}",
			     nh, a->have_seq,
			     a->lease_state == ST_LEASE_RECORD ? "recording"
							       : "stopped");
	if (n < 0 || (size_t)n >= sizeof body)
		return -1;
	/* the first poll of a connection is signed; once the server
	 * answered one on it, the connection is bound to the device and the
	 * next polls carry only the device header (docs/api.md) */
	struct st_devreq_sig sig;
	struct st_error e = {0};
	char sig_lines[256];
	if (a->conn == C_OPEN && a->bound) {
		sodium_bin2hex(sig.device, sizeof sig.device, a->id, 16);
		sig_lines[0] = 0;
	} else {
		if (st_devreq_sign(a->id, a->sk, "POST", "/v1/device/lease",
				   (const uint8_t *)body, (size_t)n,
				   (int64_t)time(NULL), &sig, &e) < 0)
			return -1;
		snprintf(sig_lines, sizeof sig_lines,
			 ST_DEVREQ_HDR_TIME ": %s\r\n" ST_DEVREQ_HDR_SIG
			 ": %s\r\n",
			 sig.time, sig.sig);
	}
	/* what libcurl sent, less its "Expect:" (an empty one removed the
	 * header); HTTP/1.1 keeps the connection alive unless told not to */
	int len = snprintf(a->req, sizeof a->req,
			   "POST %s HTTP/1.1\r\n"
			   "Host: %s\r\n"
			   "Accept: */*\r\n"
			   "Content-Type: application/json\r\n"
			   ST_DEVREQ_HDR_DEVICE ": %s\r\n"
			   "%s"
			   "Content-Length: %d\r\n"
			   "\r\n"
			   "%s",
			   f->target, f->authority, sig.device, sig_lines, n,
			   body);
	if (len < 0 || (size_t)len >= sizeof a->req)
		return -1;
	a->req_len = (size_t)len;
	a->req_off = 0;
	a->confirm = paused;
	http_parser_init(&a->hp, HTTP_RESPONSE);
	a->hp.data = a;
	a->rlen = 0;
	a->resp[0] = 0;
	a->cut = a->answered = a->keep_alive = a->extra = false;
	a->status = 0;
	a->phase = A_INFLIGHT;
	a->poll_t0_ns = bench_mono_ns();
	if (a->conn == C_CLOSED)
		conn_open(f, a); /* sends once the handshake is done */
	else if (a->conn == C_OPEN)
		conn_send(f, a);
	return 0;
}

/* A complete answer: verify the lease against this poll's nonce, then
 * poll again at once, on the same connection when it was kept alive. */
static void poll_done(struct fleet *f, struct agent *a)
{
	bool first = a->leases == 0;
	char why[256];
	if (a->status != 200 || a->cut) {
		snprintf(why, sizeof why, "HTTP %u%s%.120s", a->status,
			 a->rlen ? ": " : "", a->resp);
		poll_failed(f, a, why);
		return;
	}
	json_t *j = json_loadb(a->resp, a->rlen, 0, NULL);
	uint8_t lease[ST_LEASE_MAX + 1];
	size_t llen = 0;
	int urc = j ? unb64(json_string_value(json_object_get(j, "lease")),
			    lease, sizeof lease, &llen)
		    : -1;
	json_decref(j);
	struct st_lease l;
	struct st_error e = {0};
	/* what the agent expects: the pinned key, itself, this poll's
	 * nonce, nothing older than what it holds */
	struct st_lease_expect x = {.server_pk = lease_pk,
				    .device_id = a->id,
				    .nonce = a->nonce,
				    .min_seq = a->have_seq};
	if (!(a->keep_alive && !a->extra))
		conn_close(a); /* the next poll opens a new connection */
	if (urc != 0 || st_lease_verify(lease, llen, &x, &l, &e) < 0) {
		snprintf(why, sizeof why, "lease does not verify: %.200s",
			 urc ? "no base64 \"lease\" in the answer" : e.msg);
		fail_note(f, a, why);
		f->verify_fail++;
		unhold(f, a);
		schedule_retry(f, a);
		return;
	}
	a->retries = 0;
	a->bound = a->conn == C_OPEN;
	a->leases++;
	f->leases++;
	if (f->counting_renewals)
		f->renewals_window++;
	if (first)
		f->first_inflight--;
	uint64_t t0 = atomic_load(&f->pause_t0_ns);
	if (l.state == ST_LEASE_PAUSE && l.seq != a->pause_seq) {
		a->pause_seq = l.seq;
		if (t0 && !a->t_pause_ns) {
			a->t_pause_ns = bench_mono_ns();
			f->pause_leases++;
		}
	}
	a->lease_state = l.state;
	a->have_seq = l.seq;
	if (poll_start(f, a) < 0) {
		fail_note(f, a, "cannot issue the next poll");
		f->poll_fail++;
		unhold(f, a);
		schedule_retry(f, a);
		return;
	}
	/* a connection that failed at once already made it a failed poll */
	if (a->phase == A_INFLIGHT && !a->held) {
		a->held = true;
		f->holding++;
	}
}

/* http_parser's callbacks: the body into the agent's buffer, and the
 * status and keep-alive of the complete answer. */
static int on_begin(http_parser *p)
{
	struct agent *a = p->data;
	/* a second answer to one request: the connection is out of step */
	if (a->answered) {
		a->extra = true;
		return 1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct agent *a = p->data;
	if (len > ANSWER_MAX - a->rlen) {
		a->cut = true; /* a failed poll, no need to read the rest */
		return 1;
	}
	memcpy(a->resp + a->rlen, at, len);
	a->rlen += len;
	a->resp[a->rlen] = 0;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct agent *a = p->data;
	a->answered = true;
	a->status = p->status_code;
	a->keep_alive = http_should_keep_alive(p) != 0;
	return 0;
}

static const http_parser_settings answer_parser = {
	.on_message_begin = on_begin,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

/* The socket is readable: read until GnuTLS has nothing more, decrypted
 * data it holds included (epoll cannot see that), feeding http_parser. */
static void conn_read(struct fleet *f, struct agent *a)
{
	char m[240], t[160];
	for (int i = 0; i < READ_CALLS_MAX; i++) {
		errno = 0;
		ssize_t r = gnutls_record_recv(a->tls, f->rbuf, sizeof f->rbuf);
		int err = errno;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (gnutls_record_check_pending(a->tls) == 0)
				return;
			continue;
		}
		if (r < 0 && !gnutls_error_is_fatal((int)r))
			continue; /* a warning alert, a session ticket */
		bool eof = r <= 0; /* closed, cleanly (0) or not */
		if (a->phase != A_INFLIGHT) {
			/* an idle connection closed by the server, or bytes
			 * nobody asked for: drop it, the next poll opens
			 * another */
			conn_close(a);
			return;
		}
		/* at the end, an answer delimited by the close completes */
		size_t got = eof ? 0 : (size_t)r;
		size_t used = http_parser_execute(&a->hp, &answer_parser,
						  f->rbuf, got);
		if (a->answered) {
			if (eof)
				a->keep_alive = false;
			/* more than the answer, or an answer before the whole
			 * request went out (GnuTLS still owes that write):
			 * this connection ends with this poll */
			if (used != got || a->req_off < a->req_len ||
			    gnutls_record_check_pending(a->tls) ||
			    a->in_off < a->in_len)
				a->extra = true;
			poll_done(f, a);
			return;
		}
		if (eof) {
			snprintf(m, sizeof m, "connection lost before the "
				 "answer: %s",
				 r ? tls_why((int)r, err, t, sizeof t)
				   : "closed by the server");
			poll_failed(f, a, m);
			return;
		}
		if (a->cut) {
			snprintf(m, sizeof m, "answer longer than %u bytes",
				 ANSWER_MAX);
			poll_failed(f, a, m);
			return;
		}
		if (HTTP_PARSER_ERRNO(&a->hp) != HPE_OK || used != got) {
			snprintf(m, sizeof m, "bad HTTP answer: %s",
				 http_errno_description(
				     HTTP_PARSER_ERRNO(&a->hp)));
			poll_failed(f, a, m);
			return;
		}
	}
	/* an answer is a few hundred bytes: this many records is not one */
	poll_failed(f, a, "answer too long");
}

static void conn_handshake(struct fleet *f, struct agent *a)
{
	char m[512], t[160];
	for (int i = 0; i < HANDSHAKE_CALLS_MAX; i++) {
		errno = 0;
		int g = gnutls_handshake(a->tls);
		int err = errno;
		if (g == 0) {
			a->conn = C_OPEN;
			if (epoll_out(f, a, false) < 0) {
				poll_failed(f, a, "epoll_ctl failed");
				return;
			}
			if (a->phase == A_INFLIGHT)
				conn_send(f, a);
			return;
		}
		if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED) {
			/* the direction it blocked in: writing only while
			 * the socket is full */
			if (epoll_out(f, a, gnutls_record_get_direction(a->tls) ==
						1) < 0)
				poll_failed(f, a, "epoll_ctl failed");
			return;
		}
		if (!gnutls_error_is_fatal(g))
			continue;
		if (g == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t txt = {0};
			unsigned st = gnutls_session_get_verify_cert_status(a->tls);
			if (gnutls_certificate_verification_status_print(
				st, GNUTLS_CRT_X509, &txt, 0) == 0) {
				snprintf(m, sizeof m, "TLS handshake: %s",
					 (const char *)txt.data);
				gnutls_free(txt.data);
			} else {
				snprintf(m, sizeof m, "TLS handshake: %s",
					 gnutls_strerror(g));
			}
		} else {
			snprintf(m, sizeof m, "TLS handshake: %s",
				 tls_why(g, err, t, sizeof t));
		}
		poll_failed(f, a, m);
		return;
	}
	poll_failed(f, a, "TLS handshake: too many warnings");
}

/* One epoll event for an agent's socket. */
static void conn_event(struct fleet *f, struct agent *a, uint32_t events)
{
	if (a->conn == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			char m[160];
			snprintf(m, sizeof m, "connect: %s", strerror(err));
			poll_failed(f, a, m);
			return;
		}
		a->conn = C_HANDSHAKE;
	}
	if (a->conn == C_HANDSHAKE) {
		conn_handshake(f, a);
		return;
	}
	if (a->conn != C_OPEN)
		return;
	if (events & EPOLLOUT) {
		if (a->phase == A_INFLIGHT && a->req_off < a->req_len)
			conn_send(f, a);
		else if (epoll_out(f, a, false) < 0)
			poll_failed(f, a, "epoll_ctl failed");
		if (a->conn != C_OPEN)
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_read(f, a);
}

/* Every SWEEP_MS: polls past their time, connections past theirs, in
 * place of a timer per poll. */
static void fleet_sweep(struct fleet *f, uint64_t now)
{
	char m[128];
	for (uint64_t i = 0; i < f->started; i++) {
		struct agent *a = &f->ag[i];
		if (a->phase != A_INFLIGHT)
			continue;
		if (a->conn != C_OPEN &&
		    now - a->conn_t0_ns > CONNECT_TIMEOUT_MS * 1000000ull) {
			snprintf(m, sizeof m, "no connection after %ld ms",
				 CONNECT_TIMEOUT_MS);
			poll_failed(f, a, m);
		} else if (now - a->poll_t0_ns > POLL_TIMEOUT_MS * 1000000ull) {
			snprintf(m, sizeof m, "no answer after %ld ms",
				 POLL_TIMEOUT_MS);
			poll_failed(f, a, m);
		}
	}
}

/* One turn of the loop: wait at most wait_ms for sockets, handle each,
 * then time out stale polls and restart due retries. */
static void fleet_turn(struct fleet *f, int wait_ms)
{
	struct epoll_event ev[EPOLL_BATCH];
	uint64_t now = bench_mono_ns();
	if (f->next_sweep_ns > now &&
	    (f->next_sweep_ns - now) / 1000000 < (uint64_t)wait_ms)
		wait_ms = (int)((f->next_sweep_ns - now) / 1000000);
	int n = epoll_wait(f->ep, ev, EPOLL_BATCH, wait_ms);
	/* each socket at most once per batch, and handling one agent's
	 * event touches no other agent's connection */
	for (int i = 0; i < n; i++)
		conn_event(f, ev[i].data.ptr, ev[i].events);
	now = bench_mono_ns();
	if (now >= f->next_sweep_ns) {
		fleet_sweep(f, now);
		f->next_sweep_ns = now + SWEEP_MS * 1000000ull;
	}
	if (!f->waiting)
		return;
	for (uint64_t i = 0; i < f->started; i++) {
		struct agent *a = &f->ag[i];
		if (a->phase != A_WAITING || a->retry_at_ns > now)
			continue;
		f->waiting--;
		if (poll_start(f, a) < 0)
			schedule_retry(f, a);
	}
}

/* ---- the monitor: the pause and the server's count of confirmations ---- */

struct monitor {
	pthread_t th;
	const struct opts *o;
	struct fleet *f;
	const char *auth;
	atomic_bool go;   /* set by main: every poll is held, idle measured */
	atomic_bool done;
	int rc;
	char msg[512];
	uint64_t t_answer_ns; /* the pause request's answer */
	uint64_t seq, devices;
	uint64_t t_p99_ns, t_all_ns; /* from t0; 0: never reached */
	uint64_t samples;
	uint64_t confirmed_last, pending_last, offline_last;
	double server_cpu0, server_cpu1, client_cpu0, client_cpu1;
	uint64_t t_end_ns;
	/* counted from the server's log instead, when --server-log is given */
	uint64_t read_ns; /* the last GET /v1/admin/control, request to answer */
	bool by_log;
	uint64_t log_p99_ns, log_all_ns, log_confirms;
	uint64_t log_stored, log_stored_ns; /* "stored N ..." lines */
};

/* The server logs "device D confirmed the pause of lease sequence S" once
 * per device and pause when it receives the confirmation (its HTTP thread
 * writes it into the buffered log, which its ticker flushes: as soon as it
 * is woken by the confirmation, at most a tick later), and "stored N pause
 * confirmations" once a batch is in its database. Counting those lines
 * as they land reads the server's own record without asking the server
 * anything (GET /v1/admin/control costs it work while it delivers the
 * pause). */
#define CONFIRM_NEEDLE "confirmed the pause of lease sequence "
#define STORED_NEEDLE "stored "
#define STORED_TAIL " pause confirmations"
#define LOG_CHUNK (64u << 10)

struct log_tail {
	FILE *f;
	char buf[LOG_CHUNK + 256];
	size_t have; /* an unfinished line carried over */
};

/* Reads what was appended; returns the confirmation lines it held and
 * adds the stored counts to *stored. */
static uint64_t log_count(struct log_tail *t, uint64_t *stored)
{
	uint64_t n = 0;
	for (int rounds = 0; rounds < 64; rounds++) {
		size_t got = fread(t->buf + t->have, 1, LOG_CHUNK, t->f);
		if (!got) {
			clearerr(t->f);
			break;
		}
		t->have += got;
		t->buf[t->have] = 0;
		char *p = t->buf, *nl;
		while ((nl = memchr(p, '\n', t->have - (size_t)(p - t->buf)))) {
			*nl = 0;
			const char *sn;
			unsigned long long k;
			int used = 0;
			if (strstr(p, CONFIRM_NEEDLE))
				n++;
			else if ((sn = strstr(p, STORED_NEEDLE)) &&
				 strstr(sn, STORED_TAIL) &&
				 sscanf(sn, STORED_NEEDLE "%llu%n", &k, &used) == 1 &&
				 used > 0)
				*stored += k;
			p = nl + 1;
		}
		size_t rest = t->have - (size_t)(p - t->buf);
		if (rest > 255) /* a line longer than any the server writes */
			rest = 0;
		memmove(t->buf, p, rest);
		t->have = rest;
	}
	return n;
}

/* The control answer lists the ids of pending and offline devices: up to
 * ~40 bytes per device. */
#define CONTROL_ANSWER_MAX (8u << 20)

static void *monitor_main(void *arg)
{
	struct monitor *mo = arg;
	struct answer a = {.cap = CONTROL_ANSWER_MAX};
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	mo->rc = -1;
	if (!(a.p = malloc(a.cap + 1)) || !(h = http_new(mo->o->ca, &a)) ||
	    !bench_hdr_add(&hdrs, mo->auth) ||
	    !bench_hdr_add(&hdrs, "Content-Type: application/json") ||
	    !bench_hdr_add(&hdrs, "Expect:")) {
		snprintf(mo->msg, sizeof mo->msg, "out of memory");
		goto out;
	}
	char url[1024], m[512];
	/* warm the admin connection, so that the pause does not pay for a
	 * TLS handshake */
	snprintf(url, sizeof url, "%s/v1/admin/control", mo->o->url);
	if (http_call(h, url, hdrs, NULL, &a) != 200) {
		snprintf(mo->msg, sizeof mo->msg, "GET /v1/admin/control: %s",
			 answer_msg(&a, m, sizeof m));
		goto out;
	}
	while (!atomic_load(&mo->go) && !atomic_load(&mo->f->stop))
		usleep(10000);
	if (atomic_load(&mo->f->stop))
		goto out;

	struct log_tail *lt = NULL;
	if (mo->o->server_log) {
		lt = calloc(1, sizeof *lt);
		if (!lt || !(lt->f = fopen(mo->o->server_log, "re"))) {
			snprintf(mo->msg, sizeof mo->msg, "cannot read %s",
				 mo->o->server_log);
			free(lt);
			goto out;
		}
		fseek(lt->f, 0, SEEK_END);
		mo->by_log = true;
	}
	mo->server_cpu0 = mo->o->server_pid ? bench_proc_cpu_s(mo->o->server_pid) : -1;
	mo->client_cpu0 = bench_self_cpu_s();
	snprintf(url, sizeof url, "%s/v1/admin/pause", mo->o->url);
	uint64_t t0 = bench_mono_ns();
	atomic_store(&mo->f->pause_t0_ns, t0);
	long st = http_call(h, url, hdrs,
			    "{\"scope\":\"all\",\"reason\":\"bench-control\"}",
			    &a);
	mo->t_answer_ns = bench_mono_ns() - t0;
	if (st != 201) {
		snprintf(mo->msg, sizeof mo->msg, "POST /v1/admin/pause: %ld: %s",
			 st, st < 0 ? a.p : answer_msg(&a, m, sizeof m));
		goto out;
	}
	json_t *j = json_loadb(a.p, a.len, 0, NULL);
	json_int_t seq = json_integer_value(json_object_get(j, "seq"));
	json_int_t devs = json_integer_value(json_object_get(j, "devices"));
	json_t *pid = json_object_get(j, "id");
	char *pause_id = pid ? json_dumps(pid, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	mo->seq = (uint64_t)seq;
	mo->devices = (uint64_t)devs;
	uint64_t need99 = (mo->devices * 99 + 99) / 100;
	snprintf(url, sizeof url, "%s/v1/admin/control", mo->o->url);
	uint64_t limit = t0 + (uint64_t)PAUSE_PHASE_MAX_S * 1000000000u;
	while (lt && bench_mono_ns() < limit) {
		mo->log_confirms += log_count(lt, &mo->log_stored);
		uint64_t t = bench_mono_ns() - t0;
		if (!mo->log_p99_ns && mo->log_confirms >= need99)
			mo->log_p99_ns = t;
		if (!mo->log_all_ns && mo->log_confirms >= mo->devices)
			mo->log_all_ns = t;
		if (mo->log_stored >= mo->devices) {
			mo->log_stored_ns = t;
			break;
		}
		usleep(2000);
	}
	if (lt) {
		fclose(lt->f);
		free(lt);
	}
	/* with the log, one control read afterwards cross-checks the count */
	while (bench_mono_ns() < limit) {
		uint64_t r0 = bench_mono_ns();
		st = http_call(h, url, hdrs, NULL, &a);
		uint64_t t = bench_mono_ns() - t0;
		mo->read_ns = bench_mono_ns() - r0;
		if (st != 200) {
			snprintf(mo->msg, sizeof mo->msg,
				 "GET /v1/admin/control: %ld: %s", st,
				 st < 0 ? a.p : answer_msg(&a, m, sizeof m));
			break;
		}
		mo->samples++;
		j = json_loadb(a.p, a.len, 0, NULL);
		json_t *ps = json_object_get(j, "pauses"), *p;
		size_t i;
		json_array_foreach(ps, i, p) {
			json_t *id = json_object_get(p, "id");
			char *s = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
			bool same = s && pause_id && !strcmp(s, pause_id);
			free(s);
			if (!same)
				continue;
			mo->confirmed_last = (uint64_t)json_integer_value(
			    json_object_get(p, "confirmed"));
			mo->pending_last = (uint64_t)json_integer_value(
			    json_object_get(p, "pending"));
			mo->offline_last = (uint64_t)json_integer_value(
			    json_object_get(p, "offline"));
		}
		json_decref(j);
		if (!mo->t_p99_ns && mo->confirmed_last >= need99)
			mo->t_p99_ns = t;
		if (mo->confirmed_last >= mo->devices) {
			mo->t_all_ns = t;
			break;
		}
		if (mo->by_log && !mo->log_all_ns)
			break; /* the log never counted them all: say so below */
		usleep((useconds_t)mo->o->control_poll_ms * 1000);
	}
	free(pause_id);
	mo->t_end_ns = bench_mono_ns() - t0;
	mo->server_cpu1 = mo->o->server_pid ? bench_proc_cpu_s(mo->o->server_pid) : -1;
	mo->client_cpu1 = bench_self_cpu_s();
	mo->rc = mo->t_all_ns && (!mo->by_log || (mo->log_all_ns &&
						  mo->log_stored_ns))
			 ? 0
			 : -1;
	if (mo->by_log && (!mo->log_all_ns || !mo->log_stored_ns) &&
	    !mo->msg[0])
		snprintf(mo->msg, sizeof mo->msg,
			 "the server's log shows %" PRIu64 " of %" PRIu64
			 " confirmations received and %" PRIu64 " stored "
			 "after %u s",
			 mo->log_confirms, mo->devices, mo->log_stored,
			 PAUSE_PHASE_MAX_S);
	if (!mo->t_all_ns && !mo->msg[0])
		snprintf(mo->msg, sizeof mo->msg,
			 "only %" PRIu64 " of %" PRIu64
			 " confirmed after %u s (pending %" PRIu64
			 ", offline %" PRIu64 ")",
			 mo->confirmed_last, mo->devices, PAUSE_PHASE_MAX_S,
			 mo->pending_last, mo->offline_last);
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(a.p);
	atomic_store(&mo->done, true);
	return NULL;
}

static int fetch_lease_key(const struct opts *o)
{
	struct answer a = {.cap = SETUP_ANSWER_MAX};
	CURL *h = NULL;
	int rc = -1;
	char url[1024];
	snprintf(url, sizeof url, "%s/v1/ca", o->url);
	if (!(a.p = malloc(a.cap + 1)) || !(h = http_new(o->ca, &a)))
		goto out;
	long st = http_call(h, url, NULL, NULL, &a);
	json_t *j = st == 200 ? json_loadb(a.p, a.len, 0, NULL) : NULL;
	size_t len = 0;
	uint8_t pk[64];
	if (j && unb64(json_string_value(json_object_get(j, "lease_public_key")),
		       pk, sizeof pk, &len) == 0 && len == 32) {
		memcpy(lease_pk, pk, 32);
		rc = 0;
	} else {
		fprintf(stderr, "bench-control: GET /v1/ca: no lease_public_key "
				"(HTTP %ld)\n", st);
	}
	json_decref(j);
out:
	if (h)
		curl_easy_cleanup(h);
	free(a.p);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-control --url URL --ca FILE [options]\n"
		"  --url URL            sealtrace server, https://HOST:PORT\n"
		"  --ca FILE            the server's CA certificate (PEM)\n"
		"  --token-file FILE    admin token (else $SEALTRACE_TOKEN)\n"
		"  --agents N           simulated agents, 1-%u (default %u)\n"
		"  --setup-workers W    setup threads (default %u)\n"
		"  --max-seconds T      bound on setup, and on connecting the "
		"fleet (default %u)\n"
		"  --idle-seconds S     idle window for the server's CPU "
		"(default %u)\n"
		"  --ramp R             first polls in flight at once while "
		"connecting (default %u)\n"
		"  --control-poll-ms M  GET /v1/admin/control every M ms "
		"during the pause (default %u)\n"
		"  --prefix NAME        user name prefix (default "
		"ctl-PID-TIME)\n"
		"  --server-pid PID     the server, for its memory and CPU\n"
		"  --server-log FILE    the server's log: count confirmations "
		"as it logs them\n"
		"                       (else by reading GET "
		"/v1/admin/control)\n"
		"The agents' connections are GnuTLS sessions over one epoll in "
		"one thread, their\n"
		"answers parsed by http_parser (there is no --shards any more: "
		"it split libcurl's\n"
		"connection cache); setup and the admin calls use libcurl.\n",
		AGENTS_MAX, DEFAULT_AGENTS, DEFAULT_SETUP_WORKERS,
		DEFAULT_MAX_SECONDS, DEFAULT_IDLE_SECONDS, DEFAULT_RAMP,
		DEFAULT_CONTROL_POLL_MS);
}

static int read_token(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
		     out[n - 1] == ' '))
		out[--n] = 0;
	return n ? 0 : -1;
}

/* Raises the soft limit on open files to the hard one; the fleet needs
 * one descriptor per simulated agent. */
static int raise_nofile(uint64_t need)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return -1;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
		getrlimit(RLIMIT_NOFILE, &r);
	}
	if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < need) {
		fprintf(stderr,
			"bench-control: %" PRIu64 " agents need about %" PRIu64
			" open files, the limit is %llu: give fewer agents or "
			"raise the hard limit (ulimit -Hn)\n",
			need - 64, need, (unsigned long long)r.rlim_cur);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char prefix_buf[NAME_MAX_LEN];
	struct opts o = {.agents = DEFAULT_AGENTS,
			 .setup_workers = DEFAULT_SETUP_WORKERS,
			 .max_seconds = DEFAULT_MAX_SECONDS,
			 .idle_seconds = DEFAULT_IDLE_SECONDS,
			 .ramp = DEFAULT_RAMP,
			 .control_poll_ms = DEFAULT_CONTROL_POLL_MS};
	static const struct option lopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"ca", required_argument, NULL, 'c'},
	    {"token-file", required_argument, NULL, 't'},
	    {"agents", required_argument, NULL, 'n'},
	    {"setup-workers", required_argument, NULL, 'w'},
	    {"max-seconds", required_argument, NULL, 'm'},
	    {"idle-seconds", required_argument, NULL, 'i'},
	    {"ramp", required_argument, NULL, 'r'},
	    {"control-poll-ms", required_argument, NULL, 'C'},
	    {"server-log", required_argument, NULL, 'L'},
	    {"prefix", required_argument, NULL, 'p'},
	    {"server-pid", required_argument, NULL, 'P'},
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
		case 'L': o.server_log = optarg; break;
		case 'n':
			if (bench_parse_u64(optarg, 1, AGENTS_MAX, &o.agents) < 0)
				bad = "--agents";
			break;
		case 'w':
			if (bench_parse_u64(optarg, 1, SETUP_WORKERS_MAX,
				      &o.setup_workers) < 0)
				bad = "--setup-workers";
			break;
		case 'm':
			if (bench_parse_u64(optarg, 1, MAX_SECONDS_MAX,
				      &o.max_seconds) < 0)
				bad = "--max-seconds";
			break;
		case 'i':
			if (bench_parse_u64(optarg, 1, IDLE_SECONDS_MAX,
				      &o.idle_seconds) < 0)
				bad = "--idle-seconds";
			break;
		case 'r':
			if (bench_parse_u64(optarg, 1, RAMP_MAX, &o.ramp) < 0)
				bad = "--ramp";
			break;
		case 'C':
			if (bench_parse_u64(optarg, 1, 1000, &o.control_poll_ms) < 0)
				bad = "--control-poll-ms";
			break;
		case 'P':
			if (bench_parse_u64(optarg, 1, INT32_MAX, &v) < 0)
				bad = "--server-pid";
			else
				o.server_pid = (long)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "bench-control: %s %s: out of range "
					"(see --help)\n", bad, optarg);
			return 2;
		}
	}
	if (optind != argc || !o.url || !o.ca) {
		fprintf(stderr, "bench-control: --url and --ca are required\n");
		usage(stderr);
		return 2;
	}
	if (o.setup_workers > o.agents)
		o.setup_workers = o.agents;
	if (!o.prefix) {
		snprintf(prefix_buf, sizeof prefix_buf, "ctl-%ld-%ld",
			 (long)getpid(), (long)time(NULL));
		o.prefix = prefix_buf;
	}
	if (raise_nofile(o.agents + o.setup_workers + 64) < 0)
		return 2;
	char token[ST_TOKEN_TEXT_MAX] = {0};
	if (o.token_file) {
		if (read_token(o.token_file, token, sizeof token) < 0) {
			fprintf(stderr, "bench-control: no token in %s\n",
				o.token_file);
			return 2;
		}
	} else {
		const char *e = getenv("SEALTRACE_TOKEN");
		if (!e || !*e || strlen(e) >= sizeof token) {
			fprintf(stderr, "bench-control: no admin token: give "
					"--token-file FILE or set "
					"SEALTRACE_TOKEN\n");
			return 2;
		}
		snprintf(token, sizeof token, "%s", e);
	}
	if (st_crypto_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != 0) {
		fprintf(stderr, "bench-control: libsodium or libcurl could not "
				"initialise\n");
		return 1;
	}
	char auth[ST_TOKEN_TEXT_MAX + 32];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	sodium_memzero(token, sizeof token);

	int status = 1;
	struct agent *ag = calloc(o.agents, sizeof *ag);
	struct setup_worker *sw = calloc(o.setup_workers, sizeof *sw);
	struct fleet f = {.o = &o, .ag = ag, .n = o.agents, .ep = -1,
			  };
	struct monitor mo = {.o = &o, .f = &f, .auth = auth};
	bool mo_started = false;
	if (!ag || !sw) {
		fprintf(stderr, "bench-control: out of memory\n");
		goto out;
	}
	if (fetch_lease_key(&o) < 0 || fleet_target(&f, o.url) < 0 ||
	    fleet_trust(&f, o.ca) < 0)
		goto out;

	/* ---- setup, untimed ---- */
	atomic_uint_fast64_t done = 0;
	uint64_t ts = bench_mono_ns();
	uint64_t nstarted = 0;
	for (; nstarted < o.setup_workers; nstarted++) {
		sw[nstarted] = (struct setup_worker){
		    .o = &o, .ag = ag, .first = nstarted,
		    .step = o.setup_workers, .auth = auth,
		    .deadline_ns = ts + o.max_seconds * 1000000000ull,
		    .done = &done};
		if (pthread_create(&sw[nstarted].th, NULL, setup_main,
				   &sw[nstarted]) != 0)
			break;
	}
	bool setup_ok = nstarted == o.setup_workers;
	for (uint64_t i = 0; i < nstarted; i++) {
		pthread_join(sw[i].th, NULL);
		if (sw[i].rc < 0) {
			fprintf(stderr, "bench-control: setup: %s\n",
				sw[i].msg);
			setup_ok = false;
		}
	}
	if (!setup_ok)
		goto out;
	double setup_s = (double)(bench_mono_ns() - ts) * 1e-9;
	double rss_before = o.server_pid ? proc_rss_kib(o.server_pid) : -1;

	printf("input: %" PRIu64 " agents, one held HTTPS long-poll each, "
	       "one client thread (a GnuTLS session per agent, answers parsed "
	       "by http_parser, one epoll)\n", o.agents);
	printf("agents: %" PRIu64 " agents\n", o.agents);
	printf("setup_s: %.1f s\n", setup_s);
	fflush(stdout);

	/* ---- connect the fleet: every agent holds a poll ---- */
	f.ep = epoll_create1(EPOLL_CLOEXEC);
	if (f.ep < 0) {
		fprintf(stderr, "bench-control: epoll_create1: %s\n",
			strerror(errno));
		goto out;
	}
	uint64_t tc = bench_mono_ns(), deadline = tc + o.max_seconds * 1000000000ull;
	while (f.holding < o.agents) {
		while (f.started < o.agents && f.first_inflight < o.ramp) {
			struct agent *a = &ag[f.started++];
			f.first_inflight++;
			if (poll_start(&f, a) < 0)
				schedule_retry(&f, a);
		}
		fleet_turn(&f, 20);
		if (f.retries_exhausted) {
			fprintf(stderr, "bench-control: %" PRIu64 " agents "
					"failed %u polls in a row\n",
				f.retries_exhausted, RETRIES_MAX);
			goto out;
		}
		if (bench_mono_ns() > deadline) {
			fprintf(stderr, "bench-control: only %" PRIu64 " of "
					"%" PRIu64 " agents hold a poll after "
					"%" PRIu64 " s\n",
				f.holding, o.agents, o.max_seconds);
			goto out;
		}
	}
	double connect_s = (double)(bench_mono_ns() - tc) * 1e-9;
	printf("connect_s: %.1f s (every agent verified a first lease and "
	       "holds its next poll)\n", connect_s);
	fflush(stdout);

	/* ---- idle holding: memory, CPU ---- */
	uint64_t settle = bench_mono_ns() + 2000000000ull;
	while (bench_mono_ns() < settle)
		fleet_turn(&f, 50);
	double s0 = o.server_pid ? bench_proc_cpu_s(o.server_pid) : -1;
	double c0 = bench_self_cpu_s();
	uint64_t ti = bench_mono_ns();
	f.counting_renewals = true;
	while (bench_mono_ns() < ti + o.idle_seconds * 1000000000ull)
		fleet_turn(&f, 50);
	f.counting_renewals = false;
	double idle_wall = (double)(bench_mono_ns() - ti) * 1e-9;
	double s1 = o.server_pid ? bench_proc_cpu_s(o.server_pid) : -1;
	double c1 = bench_self_cpu_s();
	double rss = o.server_pid ? proc_rss_kib(o.server_pid) : -1;
	printf("polls_held: %" PRIu64 " polls\n", f.holding);
	if (rss >= 0) {
		printf("server_rss_before_mib: %.1f MiB (after setup, before "
		       "the fleet connected)\n", rss_before / 1024);
		printf("server_rss_mib: %.1f MiB (VmRSS, every poll held)\n",
		       rss / 1024);
		printf("server_rss_per_poll_kib: %.1f KiB ((with - before) / "
		       "polls)\n",
		       (rss - rss_before) / (double)f.holding);
	}
	if (s0 >= 0 && s1 >= 0)
		printf("server_idle_cpu_pct: %.2f %% of one core (over %.1f s "
		       "of idle holding)\n",
		       (s1 - s0) / idle_wall * 100, idle_wall);
	printf("idle_renewals: %" PRIu64 " leases (renewals answered in the "
	       "idle window)\n", f.renewals_window);
	printf("client_idle_cpu_pct: %.2f %% of one core\n",
	       (c1 - c0) / idle_wall * 100);
	printf("client_rss_mib: %.1f MiB\n", proc_rss_kib(0) / 1024);
	fflush(stdout);

	/* ---- the pause ---- */
	if (pthread_create(&mo.th, NULL, monitor_main, &mo) != 0) {
		fprintf(stderr, "bench-control: cannot start the monitor\n");
		goto out;
	}
	mo_started = true;
	atomic_store(&mo.go, true);
	while (!atomic_load(&mo.done))
		fleet_turn(&f, 5);
	pthread_join(mo.th, NULL);
	mo_started = false;
	if (mo.rc < 0) {
		fprintf(stderr, "bench-control: pause: %s\n", mo.msg);
		printf("valid: no (%s)\n", mo.msg);
		status = 3;
		goto out;
	}
	uint64_t t0 = atomic_load(&f.pause_t0_ns);
	uint64_t *lat = malloc(o.agents * sizeof *lat), nl = 0;
	uint64_t *cs = malloc(o.agents * sizeof *cs), nc = 0;
	if (!lat || !cs) {
		free(lat);
		free(cs);
		fprintf(stderr, "bench-control: out of memory\n");
		goto out;
	}
	for (uint64_t i = 0; i < o.agents; i++) {
		if (ag[i].t_pause_ns)
			lat[nl++] = ag[i].t_pause_ns - t0;
		if (ag[i].t_confirm_ns && ag[i].t_confirm_ns >= t0)
			cs[nc++] = ag[i].t_confirm_ns - t0;
	}
	qsort(lat, nl, sizeof *lat, bench_cmp_u64);
	qsort(cs, nc, sizeof *cs, bench_cmp_u64);
	double pause_wall = (double)mo.t_end_ns * 1e-9;
	printf("pause_devices: %" PRIu64 " devices (the pause answer's "
	       "count)\n", mo.devices);
	printf("pause_answer_ms: %.1f ms (POST /v1/admin/pause answered)\n",
	       (double)mo.t_answer_ns * 1e-6);
	printf("pause_leases_received: %" PRIu64 " agents\n", nl);
	printf("pause_to_lease_first_ms: %.1f ms (client: pause lease "
	       "verified)\n", nl ? (double)lat[0] * 1e-6 : 0);
	printf("pause_to_lease_p10_ms: %.1f ms\n", bench_pct_ms(lat, nl, 0.10));
	printf("pause_to_lease_p50_ms: %.1f ms\n", bench_pct_ms(lat, nl, 0.50));
	printf("pause_to_lease_p99_ms: %.1f ms\n", bench_pct_ms(lat, nl, 0.99));
	printf("pause_to_lease_max_ms: %.1f ms\n",
	       nl ? (double)lat[nl - 1] * 1e-6 : 0);
	printf("pause_to_confirm_sent_p99_ms: %.1f ms (client: confirm poll "
	       "written to its connection)\n", bench_pct_ms(cs, nc, 0.99));
	printf("pause_to_confirm_sent_max_ms: %.1f ms\n",
	       nc ? (double)cs[nc - 1] * 1e-6 : 0);
	if (mo.by_log) {
		printf("pause_to_confirm_p99_ms: %.1f ms (server: its log "
		       "holds 99%% of the confirmations)\n",
		       (double)mo.log_p99_ns * 1e-6);
		printf("pause_to_last_confirm_max_ms: %.1f ms (server: its log "
		       "holds every confirmation received)\n",
		       (double)mo.log_all_ns * 1e-6);
		printf("pause_to_all_stored_ms: %.1f ms (server: its log says "
		       "every confirmation stored in its database)\n",
		       (double)mo.log_stored_ns * 1e-6);
		printf("confirmed_by_control: %" PRIu64 " devices (GET "
		       "/v1/admin/control read %.1f ms after t0, as a "
		       "cross-check)\n",
		       mo.confirmed_last, (double)mo.t_all_ns * 1e-6);
		printf("control_read_ms: %.1f ms (that read, request to "
		       "answer)\n", (double)mo.read_ns * 1e-6);
	} else {
		printf("pause_to_confirm_p99_ms: %.1f ms (server: GET "
		       "/v1/admin/control first counted 99%% confirmed)\n",
		       (double)mo.t_p99_ns * 1e-6);
		printf("pause_to_last_confirm_max_ms: %.1f ms (server: GET "
		       "/v1/admin/control first counted all confirmed)\n",
		       (double)mo.t_all_ns * 1e-6);
		printf("control_poll_ms: %" PRIu64 " ms (%" PRIu64 " control "
		       "reads; the server-side figures are late by up to one "
		       "interval plus one read)\n",
		       o.control_poll_ms, mo.samples);
	}
	if (mo.server_cpu0 >= 0 && mo.server_cpu1 >= 0)
		printf("pause_server_cpu: %.0f %% of one core (over %.2f s)\n",
		       (mo.server_cpu1 - mo.server_cpu0) / pause_wall * 100,
		       pause_wall);
	printf("pause_client_cpu: %.0f %% of one core\n",
	       (mo.client_cpu1 - mo.client_cpu0) / pause_wall * 100);
	printf("leases_verified: %" PRIu64 " leases\n", f.leases);
	printf("lease_verify_failures: %" PRIu64 " leases\n", f.verify_fail);
	printf("poll_failures: %" PRIu64 " polls (retried)\n", f.poll_fail);
	free(lat);
	free(cs);
	bool valid = f.verify_fail == 0 && mo.devices == o.agents &&
		     nl == o.agents && mo.confirmed_last == mo.devices;
	double last = (double)(mo.by_log ? mo.log_all_ns : mo.t_all_ns) * 1e-6;
	printf("target_pause_to_last_confirm_ms: %.0f ms\n",
	       TARGET_LAST_CONFIRM_MS);
	printf("target_server_rss_mib: %.0f MiB at %u polls\n", TARGET_RSS_MIB,
	       TARGET_RSS_AT);
	if (!valid) {
		printf("valid: no (%s)\n",
		       f.verify_fail ? "a lease did not verify"
				     : "not every agent was paused");
		printf("targets: not judged (the run is invalid)\n");
		status = 3;
		goto out;
	}
	printf("valid: yes\n");
	bool met_t = last < TARGET_LAST_CONFIRM_MS;
	/* the memory target is for 10,000 held polls; smaller runs are not
	 * judged on it */
	bool judge_m = rss >= 0 && o.agents >= TARGET_RSS_AT;
	bool met_m = !judge_m || rss / 1024 < TARGET_RSS_MIB;
	if (met_t && met_m)
		printf("targets: met%s\n",
		       judge_m ? "" : " (memory not judged: fewer than 10,000 "
				      "polls or no --server-pid)");
	else
		printf("targets: missed (%s%s%s)\n",
		       met_t ? "" : "last confirmation not under 1 s",
		       met_t || met_m ? "" : "; ",
		       met_m ? "" : "server memory not under 512 MiB");
	status = 0;
out:
	atomic_store(&f.stop, true);
	if (mo_started)
		pthread_join(mo.th, NULL);
	sodium_memzero(auth, sizeof auth);
	if (ag) {
		for (uint64_t i = 0; i < o.agents; i++) {
			conn_close(&ag[i]);
			st_secret_free(ag[i].sk);
		}
		free(ag);
	}
	if (f.cred)
		gnutls_certificate_free_credentials(f.cred);
	if (f.ep >= 0)
		close(f.ep);
	free(sw);
	curl_global_cleanup();
	return status;
}
