/* client.c - the HTTPS client over libcurl: one easy handle per client,
 * reused so the connection stays alive between calls.
 *
 * Trust: with ca_file, that file is the only trust anchor (CURLOPT_CAINFO,
 * CURLOPT_CAPATH NULL, so the system store is never consulted) and both
 * peer and host are verified. insecure turns verification off: enrollment
 * uses it once, to fetch the CA that it then pins by fingerprint.
 *
 * Secrets: the bearer token is kept in locked memory, sent only in the
 * Authorization header, wiped on free and never put in a message. Answers
 * are bounded by answer_max in the write callback. Messages quote the path
 * and the server's error message, never a body. */
#include "client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 2048
#define HEADER_MAX 1024        /* one "Name: value" line we build */
#define HEADERS_MAX 32         /* caller headers per request */
#define SERVER_MSG_MAX 300     /* the server's message quoted in ours */
#define ERROR_BODY_MAX (64u << 10) /* error JSON parsed at most */
#define PATH_ROOM 1100         /* a path with its query (devreq caps 1024) */

struct st_client {
	CURL *h;
	char base[URL_MAX];
	char *auth; /* "Authorization: Bearer ..." in sodium_malloc memory */
	size_t auth_cap;
	size_t answer_max;
	struct st_buf *sink; /* the answer of the call in progress */
	bool over;           /* the answer passed answer_max */
	char errbuf[CURL_ERROR_SIZE];
};

/* Appends one header; on failure frees the list and returns NULL. */
static struct curl_slist *add(struct curl_slist *l, const char *line)
{
	if (!l)
		return NULL;
	struct curl_slist *t = curl_slist_append(l, line);
	if (!t)
		curl_slist_free_all(l);
	return t;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* libssh2's flag for libssh2_init (libssh2.h): leave the crypto library
 * alone. */
#define SSH2_INIT_NO_CRYPTO 0x0001

static void global_init(void)
{
	/* libcurl initialises libssh2 in curl_global_init whatever protocols
	 * are used, and libssh2 then initialises OpenSSL's libcrypto: 1.4 MiB
	 * more resident memory in every process (measured in the agent,
	 * bench/agent.sh), for a protocol no client speaks (the handles
	 * allow https and http only). libssh2_init counts its callers and
	 * skips that step when its first caller asks: when libcurl brought
	 * libssh2 in, it is called here first. */
	int (*ssh2_init)(int) = NULL;
	*(void **)&ssh2_init = dlsym(RTLD_DEFAULT, "libssh2_init");
	if (ssh2_init)
		ssh2_init(SSH2_INIT_NO_CRYPTO);
	/* curl_global_init is not thread-safe on every libcurl version:
	 * pthread_once makes the first client of any thread do it once */
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
	struct st_client *c = ctx;
	size_t len = size * n;
	if (c->sink->len + len > c->answer_max || c->sink->len + len < len) {
		c->over = true;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	st_buf_put(c->sink, p, len);
	return c->sink->oom ? 0 : len;
}

/* One message line safe to print: control characters become spaces. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int st_client_new(const struct st_client_cfg *cfg, struct st_client **out,
		  struct st_error *err)
{
	*out = NULL;
	if (!cfg || !cfg->url || !*cfg->url)
		return st_fail(err, ST_E_INVAL, "client: a server URL is needed "
			       "(https://HOST:PORT)");
	if (strncmp(cfg->url, "https://", 8) && strncmp(cfg->url, "http://", 7))
		return st_fail(err, ST_E_INVAL, "client: URL %.200s is not "
			       "https://HOST[:PORT]", cfg->url);
	size_t ul = strlen(cfg->url);
	while (ul > 0 && cfg->url[ul - 1] == '/')
		ul--;
	if (ul >= URL_MAX - PATH_ROOM)
		return st_fail(err, ST_E_CAP, "client: URL longer than %d "
			       "bytes", URL_MAX - PATH_ROOM);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return st_fail(err, ST_E_CURL_BASE - (int)global_rc,
			       "client: libcurl cannot initialise: %s",
			       curl_easy_strerror(global_rc));
	struct st_client *c = calloc(1, sizeof *c);
	if (!c)
		return st_fail(err, ST_E_NOMEM, "client: out of memory");
	memcpy(c->base, cfg->url, ul);
	c->base[ul] = 0;
	c->answer_max = cfg->answer_max ? cfg->answer_max
					: ST_CLIENT_ANSWER_MAX_DEFAULT;
	if (cfg->token) {
		c->auth_cap = strlen(cfg->token) + 32;
		c->auth = sodium_malloc(c->auth_cap);
		if (!c->auth) {
			free(c);
			return st_fail(err, ST_E_NOMEM, "client: out of locked "
				       "memory");
		}
		snprintf(c->auth, c->auth_cap, "Authorization: Bearer %s",
			 cfg->token);
	}
	c->h = curl_easy_init();
	if (!c->h) {
		st_client_free(c);
		return st_fail(err, ST_E_CURL_BASE - CURLE_FAILED_INIT,
			       "client: libcurl cannot make a handle");
	}
	CURL *h = c->h;
	CURLcode r = CURLE_OK;
#define SET(opt, val)                                                       \
	do {                                                                \
		if (r == CURLE_OK)                                          \
			r = curl_easy_setopt(h, opt, val);                  \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROTOCOLS_STR, "https,http");
	SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms > 0
					? cfg->timeout_ms
					: (long)ST_CLIENT_TIMEOUT_MS_DEFAULT);
	SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_ms > 0
					       ? cfg->connect_ms
					       : (long)ST_CLIENT_CONNECT_MS_DEFAULT);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
		if (cfg->ca_file) {
			/* the pinned CA alone: no system store */
			SET(CURLOPT_CAINFO, cfg->ca_file);
			SET(CURLOPT_CAPATH, (char *)NULL);
		}
	}
#undef SET
	if (r != CURLE_OK) {
		st_client_free(c);
		return st_fail(err, ST_E_CURL_BASE - (int)r, "client: libcurl "
			       "option refused: %s", curl_easy_strerror(r));
	}
	*out = c;
	return 0;
}

void st_client_free(struct st_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	if (c->auth)
		sodium_free(c->auth); /* wipes the token */
	free(c);
}

/* The code and message of an API error answer. */
static int api_error(const struct st_buf *b, long status, char *msg,
		     size_t cap);

int st_client_error_answer(const uint8_t *body, size_t len, long status,
			   char *msg, size_t cap)
{
	const struct st_buf b = {.p = (uint8_t *)body, .len = len, .cap = len};
	return api_error(&b, status, msg, cap);
}

static int api_error(const struct st_buf *b, long status, char *msg,
		     size_t cap)
{
	int code = 0;
	msg[0] = 0;
	json_t *o = b->len && b->len <= ERROR_BODY_MAX
			    ? json_loadb((const char *)b->p, b->len, 0, NULL)
			    : NULL;
	json_t *e = json_object_get(o, "error");
	if (json_is_object(e)) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *m = json_string_value(json_object_get(e, "message"));
		json_t *n = json_object_get(e, "code");
		code = st_err_from_id(id);
		if (!code && json_is_integer(n)) {
			/* an id of another range (sqlite_5): trust its number
			 * when it lies in sealtrace's error space */
			json_int_t v = json_integer_value(n);
			if (v < 0 && v > ST_E_OWN_LAST)
				code = (int)v;
		}
		if (m)
			snprintf(msg, cap, "%.*s", SERVER_MSG_MAX, m);
		else if (id)
			snprintf(msg, cap, "%.*s", SERVER_MSG_MAX, id);
	}
	json_decref(o);
	if (!code)
		code = status == 503 ? ST_E_UNAVAILABLE : ST_E_HTTP;
	clean(msg);
	return code;
}

int st_client_call(struct st_client *c, const struct st_client_req *req,
		   long *status, struct st_buf *answer, struct st_error *err)
{
	long dummy;
	if (!status)
		status = &dummy;
	*status = 0;
	if (!c || !req || !req->method || !req->path || req->path[0] != '/')
		return st_fail(err, ST_E_INVAL, "client: a request needs a "
			       "method and a path starting with /");
	const char *path = req->path;
	char url[URL_MAX];
	if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
		return st_fail(err, ST_E_CAP, "client: path %.100s is too long",
			       path);
	struct st_buf local;
	st_buf_init(&local, false);
	c->sink = answer ? answer : &local;
	st_buf_reset(c->sink);
	c->over = false;
	c->errbuf[0] = 0;

	struct curl_slist *hl = NULL;
	char line[HEADER_MAX];
	int rc = 0;
	/* no "Expect: 100-continue" round trip for bodies */
	hl = curl_slist_append(hl, "Expect:");
	if (hl && req->content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
		hl = add(hl, line);
	}
	if (hl && c->auth)
		hl = add(hl, c->auth);
	for (size_t i = 0; hl && req->headers && req->headers[i]; i++) {
		if (i >= HEADERS_MAX || strpbrk(req->headers[i], "\r\n")) {
			curl_slist_free_all(hl);
			st_buf_fini(&local);
			return st_fail(err, ST_E_INVAL, "client: %s %s: header "
				       "%zu malformed or too many", req->method,
				       path, i);
		}
		hl = add(hl, req->headers[i]);
	}
	if (!hl) {
		st_buf_fini(&local);
		return st_fail(err, ST_E_NOMEM, "client: out of memory");
	}

	CURL *h = c->h;
	CURLcode r = curl_easy_setopt(h, CURLOPT_URL, url);
	if (r == CURLE_OK)
		r = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	if (r == CURLE_OK && !strcmp(req->method, "GET")) {
		r = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		if (r == CURLE_OK)
			r = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, (char *)NULL);
	} else if (r == CURLE_OK) {
		/* POST carries the body; CUSTOMREQUEST renames it (DELETE) */
		r = curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (r == CURLE_OK)
			r = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
					     (curl_off_t)req->body_len);
		if (r == CURLE_OK)
			r = curl_easy_setopt(h, CURLOPT_POSTFIELDS,
					     req->body ? (const char *)req->body : "");
		if (r == CURLE_OK)
			r = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
					     strcmp(req->method, "POST")
						     ? req->method
						     : (char *)NULL);
	}
	if (r == CURLE_OK)
		r = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	curl_slist_free_all(hl);

	if (r != CURLE_OK) {
		c->errbuf[sizeof c->errbuf - 1] = 0;
		clean(c->errbuf);
		const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(r);
		if (r == CURLE_WRITE_ERROR && c->over) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
			rc = st_fail(err, ST_E_CAP, "%s %s: the answer is over "
				     "the %zu-byte cap; is %s the sealtrace "
				     "server?", req->method, path, c->answer_max,
				     c->base);
		} else if (r == CURLE_PEER_FAILED_VERIFICATION ||
			   r == CURLE_SSL_CACERT) {
			rc = st_fail(err, ST_E_PIN, "%s %s: the server's "
				     "certificate does not verify against the "
				     "CA pinned at enrollment (%s): this is not "
				     "the server this device enrolled with; "
				     "check the URL, or enroll again with a new "
				     "token", req->method, path, why);
		} else if (r == CURLE_SSL_CACERT_BADFILE) {
			rc = st_fail(err, ST_E_CURL_BASE - (int)r, "%s %s: the "
				     "pinned CA file cannot be read (%s); "
				     "enroll again", req->method, path, why);
		} else {
			rc = st_fail(err, ST_E_CURL_BASE - (int)r, "%s %s%s: %s; "
				     "check that the server is running and "
				     "reachable, then retry", req->method,
				     c->base, path, why);
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300) {
		rc = 0;
		goto out;
	}
	char smsg[SERVER_MSG_MAX + 1];
	rc = api_error(c->sink, *status, smsg, sizeof smsg);
	rc = st_fail(err, rc, "%s %s: HTTP %ld %s: %s", req->method, path,
		     *status, st_err_id(rc), smsg[0] ? smsg : st_strerror(rc));
out:
	c->sink = NULL;
	st_buf_fini(&local);
	return rc;
}

bool st_client_retryable(int rc, long status)
{
	if (rc == 0)
		return false;
	if (status >= 500 || rc == ST_E_UNAVAILABLE || rc == ST_E_TIMEOUT)
		return true;
	if (status == 0 && rc <= ST_E_CURL_BASE && rc > ST_E_TLS_BASE)
		return true; /* transport: no answer came */
	return false;
}
