/* client.h - owns sealtrace's HTTPS client (libcurl): one connection kept
 * alive per client, the server's CA pinned from a file, bounded answers,
 * and the API's error answers turned back into st_err codes. Used by the
 * agent (enroll, upload, accept, forget), the administration commands and
 * the export host. Never logs bodies or tokens. Not thread-safe: one client
 * per thread.
 *
 * Error answers of the API are JSON (docs/api.md):
 *   {"error": {"id": "device_revoked", "code": -40031, "message": "..."}}
 * st_client_call maps them to their code (st_err_from_id of id) with the
 * server's message, prefixed with the HTTP status. */
#ifndef ST_CLIENT_H
#define ST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define ST_CLIENT_ANSWER_MAX_DEFAULT (64u << 20)
#define ST_CLIENT_TIMEOUT_MS_DEFAULT 30000
#define ST_CLIENT_CONNECT_MS_DEFAULT 10000

struct st_client_cfg {
	const char *url;   /* base, "https://127.0.0.1:8443" (no trailing /) */
	const char *ca_file; /* PEM: the only CA trusted; NULL = system store */
	bool insecure;     /* no certificate check at all: only to fetch the
			      CA that is then pinned by fingerprint */
	const char *token; /* admin bearer token or NULL */
	long timeout_ms;   /* whole request; 0 = default */
	long connect_ms;   /* 0 = default */
	size_t answer_max; /* 0 = ST_CLIENT_ANSWER_MAX_DEFAULT */
};

/* One request. headers: NULL-terminated "Name: value" strings or NULL. */
struct st_client_req {
	const char *method; /* "GET", "POST", "DELETE" */
	const char *path;   /* "/v1/segments" (with query) */
	const char *content_type; /* for a body */
	const uint8_t *body;
	size_t body_len;
	const char *const *headers;
};

struct st_client;

int st_client_new(const struct st_client_cfg *cfg, struct st_client **out,
		  struct st_error *err);
void st_client_free(struct st_client *c); /* NULL is fine; wipes the token */

/* Sends one request and reads the answer into answer (replaced; may be
 * NULL). *status gets the HTTP status (0 when none came). Returns 0 for a
 * 2xx answer; for an API error answer the code it names (or ST_E_HTTP when
 * it names none); for a transport failure ST_E_CURL_BASE - CURLcode, and
 * ST_E_PIN when the server's certificate does not verify against ca_file.
 * The message names the URL path and what to do. */
int st_client_call(struct st_client *c, const struct st_client_req *req,
		   long *status, struct st_buf *answer, struct st_error *err);

/* The code an error answer body names (as st_client_call maps it) and its
 * message, cleaned of control characters, into msg (cap bytes). Exposed
 * for the fuzz target: a server's answer is outside input. */
int st_client_error_answer(const uint8_t *body, size_t len, long status,
			   char *msg, size_t cap);

/* Whether a failed call is worth retrying later: transport failures,
 * timeouts, 5xx answers, ST_E_UNAVAILABLE. A refusal (4xx) is not. */
bool st_client_retryable(int rc, long status);

#endif
