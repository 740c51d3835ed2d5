/* http.h - owns the HTTP front of `sealtrace serve`: a libmicrohttpd daemon
 * (HTTPS through GnuTLS; plain HTTP only on a loopback address, asked for
 * explicitly), request bodies bounded by body_max, the connection limits,
 * suspend/resume for answers that another thread gives later, the error
 * body of docs/api.md, and one log line per request.
 * Never interprets a path or a body (api.h does); never logs a body, a
 * header value, a token or a query string.
 *
 * Threads: the handler runs on libmicrohttpd's polling thread(s) (one, or a
 * pool of cfg.threads). Only st_http_resume may be called from another
 * thread, and only on a request its handler suspended. */
#ifndef ST_HTTP_H
#define ST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

/* Memory libmicrohttpd may use per connection for the request line, the
 * headers and its read buffer (MHD_OPTION_CONNECTION_MEMORY_LIMIT): a
 * request whose headers do not fit is refused by libmicrohttpd itself.
 * Bodies are copied out of it as they arrive, so it need not hold one.
 * Every held lease poll keeps this much, and libmicrohttpd zeroes all of
 * it after each request: 8 KiB (about 6 KiB of headers: test_api) costs
 * 23 KiB a held poll in bench/control, 16 KiB cost 31, 64 KiB 77. */
#define ST_HTTP_CONN_MEMORY (8u << 10)
/* Longest request target (path and query) we keep; longer ones are 404. */
#define ST_HTTP_URI_MAX 1024
/* Bytes of a too-large chunked body we read and drop (after body_max) to
 * be able to answer 413 before we cut the connection instead. */
#define ST_HTTP_DISCARD_MAX (1u << 20)
/* Per-request text the handler adds to the log line ("device=... seq=4"). */
#define ST_HTTP_DETAIL_MAX 96
/* TLS 1.2 and 1.3 only. */
#define ST_HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct st_http;
/* One request: made when its request line arrives, freed by the front
 * after the answer went out (or the connection broke). */
struct st_http_req;

/* When the front calls the handler for one request. */
enum st_http_phase {
	/* Headers are in; no body read yet. The handler may answer now
	 * (the body is then never read and the connection closed after the
	 * answer) or return to let the body come. */
	ST_HTTP_HEADERS = 1,
	/* The whole body is in (st_http_body). The handler answers, or
	 * suspends the request (st_http_suspend) to answer later. */
	ST_HTTP_BODY,
	/* A suspended request was resumed: the handler answers now. */
	ST_HTTP_RESUMED,
	/* The request is over (answered, or the connection broke): the
	 * handler frees what it hung on st_http_user. No answer possible. */
	ST_HTTP_DONE,
};

/* Returns nothing: a handler answers with st_http_reply*. A handler that
 * neither answers nor suspends in the BODY or RESUMED phase gets a 500. */
typedef void (*st_http_handler)(void *ctx, struct st_http_req *r,
				enum st_http_phase phase);

struct st_http_cfg {
	const char *listen;      /* "127.0.0.1:8443", "[::1]:0" (port 0: any) */
	bool plain_http;         /* refused unless listen is loopback */
	const char *cert_pem;    /* NUL-terminated PEM (chain); TLS only */
	const char *key_pem;     /* NUL-terminated PEM; must outlive the
				    daemon (the caller wipes it after stop) */
	uint32_t body_max;       /* 413 above it */
	uint32_t connections_max;
	uint32_t connection_timeout_s;
	uint32_t threads;        /* 1 = one polling thread; more = a pool */
	FILE *log;               /* one line per request, never flushed here
				  * (its owner flushes it); NULL = none */
	st_http_handler handler;
	void *ctx;
};

/* Binds and starts serving. ST_E_INVAL (naming the setting) for an address
 * that does not parse or plain HTTP off loopback; ST_E_TLS_BASE-range or
 * -errno codes when libmicrohttpd cannot start (port taken, bad key). */
int st_http_start(const struct st_http_cfg *cfg, struct st_http **out,
		  struct st_error *err);
/* The port bound (the one the system chose for port 0). */
uint16_t st_http_port(const struct st_http *h);
/* "https://127.0.0.1:43211" (or http:// for plain) into out. */
int st_http_url(const struct st_http *h, char *out, size_t cap);
/* Stops accepting new connections; requests in flight go on. */
void st_http_quiesce(struct st_http *h);
/* Requests begun and not yet over (answered and sent, or broken). */
unsigned st_http_in_flight(const struct st_http *h);
/* Stops the daemon (every request must be resumed first) and frees h.
 * NULL is fine. */
void st_http_stop(struct st_http *h);

/* ---- for handlers ---- */

const char *st_http_method(const struct st_http_req *r);
/* The path without query, as sent ("/v1/admin/users"). */
const char *st_http_path(const struct st_http_req *r);
/* The request target as sent, query included (what devices sign). */
const char *st_http_target(const struct st_http_req *r);
/* A request header's value (case-insensitive name); NULL when absent. */
const char *st_http_header(const struct st_http_req *r, const char *name);
/* A query argument, percent-decoded by libmicrohttpd; NULL when absent. */
const char *st_http_query(const struct st_http_req *r, const char *name);
/* The body (after ST_HTTP_BODY); *len = 0 and a non-NULL pointer when
 * there is none. The front wipes it when the request is over. */
const uint8_t *st_http_body(const struct st_http_req *r, size_t *len);
/* A slot for the handler's per-request data (freed by the handler in the
 * DONE phase). */
void **st_http_user(struct st_http_req *r);
/* The connection's binding: a 16-byte id (a device's) that a handler
 * vouched for on an earlier request of the same HTTPS connection, after
 * checking that request's signature. TLS keeps every later request on the
 * connection from the same peer, so a handler may take the binding in
 * place of checking each request again. st_http_bind does nothing on
 * plain HTTP; st_http_bound is then always false. One binding per
 * connection: binding another id replaces it. Polling thread only. */
void st_http_bind(struct st_http_req *r, const uint8_t id[16]);
bool st_http_bound(const struct st_http_req *r, const uint8_t id[16]);
/* Text added to the request's log line; never a token or content. */
void st_http_detail(struct st_http_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Answers: each copies what it is given. A second answer is ignored. */
int st_http_reply(struct st_http_req *r, unsigned status,
		  const char *content_type, const void *body, size_t len);
/* {"error": {"id": st_err_id(code), "code": code, "message": msg}}. */
int st_http_reply_error(struct st_http_req *r, unsigned status, int code,
			const char *msg);
/* Streams size bytes of fd (taken: closed by the front). */
int st_http_reply_fd(struct st_http_req *r, unsigned status,
		     const char *content_type, int fd, uint64_t size);
bool st_http_answered(const struct st_http_req *r);

/* Suspends the request (only in the BODY phase): the front neither reads
 * nor times it out until st_http_resume, after which the handler runs
 * again in the RESUMED phase. */
void st_http_suspend(struct st_http_req *r);
/* From any thread, exactly once per suspend. The request must not be
 * touched by the caller after this call. */
void st_http_resume(struct st_http_req *r);

#endif
