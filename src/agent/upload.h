/* upload.h - owns the uploader: sends the spool to the server in sequence
 * order, removes a segment only after the server's 200 (stored or
 * duplicate), moves a refused one to quarantine with its reason, backs off
 * with full jitter, sends the person's forget requests, and fetches a new
 * notice when the server names one. Never opens a segment and never logs
 * content or bodies; all its state is on disk (the spool and
 * forget-requests.jsonl), so a restart resumes where it stopped.
 *
 * An idle uploader asks GET /v1/device/policy every notice_check_ms: a
 * notice other than the accepted one becomes pending, as from an upload
 * answer.
 *
 * What happens to each answer to POST /v1/segments (docs/api.md):
 *   200 stored|duplicate      remove the segment; count it
 *   403/422 device_revoked    stop uploading (state "revoked"), keep it
 *   400, 409, 413, 415, 422   quarantine it with a .reason naming the id
 *   no answer, 5xx, 503,      retry later: backoff with full jitter,
 *   other 4xx (401, 404,...)  delay uniform in [0, min(max, min * 2^k)]
 * Other 4xx are retried rather than quarantined: they are not about the
 * segment (a proxy, a wrong URL), and quarantining would empty the spool.
 *
 * Leases (docs/api.md, "Ingest with leases"): a segment recorded before a
 * pause is refused 422 paused until the agent has confirmed that pause. So
 * while run.c holds the uploader (st_upload_hold: a pause obeyed, its
 * confirm not yet sent) no segment is sent, and a paused
 * refusal is retried with backoff ST_UPLOAD_PAUSED_TRIES times (the pause
 * may have reached the server before this agent) before it is
 * quarantined like any refusal. */
#ifndef ST_UPLOAD_H
#define ST_UPLOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/consent.h"
#include "agent/spool.h"
#include "core/client.h"
#include "core/clock.h"
#include "core/err.h"

#define ST_UPLOAD_BACKOFF_MIN_MS_DEFAULT 1000u
#define ST_UPLOAD_BACKOFF_MAX_MS_DEFAULT (5u * 60 * 1000)
/* Largest backoff either bound may be set to (a day). */
#define ST_UPLOAD_BACKOFF_LIMIT_MS (24u * 3600 * 1000)
/* An idle uploader (nothing to send, so no upload answer names the
 * current notice) asks the server for its notice this often, so a policy
 * change reaches an agent that records nothing. */
#define ST_UPLOAD_NOTICE_CHECK_MS_DEFAULT 60000u
/* Empty spool: look again after this long (a kick wakes it sooner). */
#define ST_UPLOAD_IDLE_MS 1000u
/* Largest answer read from the server (JSON answers are small). */
#define ST_UPLOAD_ANSWER_MAX (512u << 10)
/* Largest forget-requests.jsonl read; appends past it are refused. */
#define ST_FORGET_FILE_MAX (1u << 20)
#define ST_FORGET_NAME "forget-requests.jsonl"
#define ST_FORGET_REFUSED_NAME "forget-requests.refused.jsonl"
/* Pending notice and policy fetched from the server, waiting for accept. */
#define ST_PENDING_NOTICE "notice.pending.txt"
#define ST_PENDING_POLICY "policy.pending.json"
#define ST_PENDING_RECIPIENT "recipient.pending.pub"
#define ST_SERVER_FILE "server.json"
/* A segment refused 422 paused is sent again this many times (with
 * backoff) before it is quarantined: see above. */
#define ST_UPLOAD_PAUSED_TRIES 5u

/* The network seam (STYLE.md): the uploader talks to the server only
 * through this. The real one wraps core/client; tests answer from a
 * script. call has st_client_call's contract. */
struct st_upload_transport {
	int (*call)(struct st_upload_transport *t,
		    const struct st_client_req *req, long *status,
		    struct st_buf *answer, struct st_error *err);
	void (*free)(struct st_upload_transport *t);
};

/* A transport over core/client with cfg (answer_max defaults to
 * ST_UPLOAD_ANSWER_MAX). Freed with st_upload_transport_free. */
int st_upload_transport_client(const struct st_client_cfg *cfg,
			       struct st_upload_transport **out,
			       struct st_error *err);
void st_upload_transport_free(struct st_upload_transport *t); /* NULL ok */

/* Reads server.json of an enrolled folder into url (cap bytes) and the
 * pinned CA's path (ST_PATH_MAX). ST_E_NOT_FOUND for a development
 * (--local) enrollment, which has no server. */
int st_server_config(const struct st_agent_paths *p, char *url, size_t cap,
		     char ca_file[ST_PATH_MAX], struct st_error *err);

struct st_upload_cfg {
	const struct st_agent_paths *paths;
	struct st_spool *spool;              /* shared with the recorder */
	struct st_upload_transport *transport; /* borrowed */
	const struct st_agent_identity *id;  /* borrowed: ids, device key,
						accepted notice hash */
	const struct st_clock *clock;        /* NULL = system */
	uint64_t backoff_min_ms, backoff_max_ms; /* 0 = defaults */
	bool until_empty; /* st_upload_run returns once nothing is left */
	/* Idle notice check interval (0 = ST_UPLOAD_NOTICE_CHECK_MS_DEFAULT);
	 * never with until_empty. Every upload answer counts as a check. */
	uint64_t notice_check_ms;
	/* Test seams. sleep_ms waits ms (NULL: a wait that st_upload_stop and
	 * st_upload_kick cut short); random returns a uniform value in
	 * [0, bound] (NULL: libsodium's randombytes). */
	void (*sleep_ms)(void *ctx, uint64_t ms);
	uint64_t (*random)(void *ctx, uint64_t bound);
	void *seam_ctx;
};

enum st_upload_state {
	ST_UPLOAD_IDLE = 1,   /* nothing to send */
	ST_UPLOAD_UPLOADING,  /* sending */
	ST_UPLOAD_BACKOFF,    /* waiting until backoff_until_wall_ns */
	ST_UPLOAD_REVOKED,    /* the server revoked this device: stopped */
	ST_UPLOAD_HELD,       /* segments wait for a pause's confirm */
};

struct st_upload_stats {
	enum st_upload_state state;
	uint64_t backoff_until_wall_ns;
	uint64_t last_upload_wall_ns; /* 0 = none yet in this process */
	uint64_t uploaded;            /* removed after 200, duplicates too */
	uint64_t duplicates;          /* of which the server had already */
	uint64_t refused;             /* quarantined after a refusal */
	uint64_t forgets_sent;
	uint32_t attempt;             /* failures in a row */
	bool notice_pending;          /* a new notice waits for accept */
	char last_error[ST_ERROR_MSG_MAX]; /* of the last failure; "" = none */
};

struct st_upload;

/* Loads what is already pending on disk (a fetched notice). The caller
 * keeps cfg's borrowed objects alive until st_upload_free. */
int st_upload_new(const struct st_upload_cfg *cfg, struct st_upload **out,
		  struct st_error *err);
void st_upload_free(struct st_upload *u); /* stops its thread first */

/* One unit of work: a due policy fetch, else the oldest forget request,
 * else the oldest segment. *wait_ms: how long to wait before the next step
 * (0: go on at once). Returns 0, or ST_E_DEVICE_REVOKED once revoked; a
 * failed send is not an error here (it is a backoff and last_error). *done
 * (may be NULL) is set when nothing is left to send. */
int st_upload_step(struct st_upload *u, uint64_t *wait_ms, bool *done,
		   struct st_error *err);

/* Steps and waits until st_upload_stop, revocation, or (until_empty)
 * nothing left. Returns 0, or ST_E_DEVICE_REVOKED. */
int st_upload_run(struct st_upload *u, struct st_error *err);

/* st_upload_run on its own thread; st_upload_stop ends it (cuts a wait
 * short; a request in flight finishes or times out first) and joins. */
int st_upload_start(struct st_upload *u, struct st_error *err);
void st_upload_stop(struct st_upload *u);
/* New segments or forget requests: end an idle wait now. */
void st_upload_kick(struct st_upload *u);
/* Holds segment uploads (forget requests and notice checks still go) until
 * called again with false. Thread-safe. */
void st_upload_hold(struct st_upload *u, bool hold);
/* Whether the thread has returned (until_empty finished, or revoked). */
bool st_upload_finished(struct st_upload *u);

void st_upload_stats(struct st_upload *u, struct st_upload_stats *out);

/* Appends a deletion request for the server to <dir>/forget-requests.jsonl:
 * a random 16-byte request_id made here and kept with the request, so every
 * retry sends the same id; minutes since the epoch, inclusive. Durable
 * (fsync) when it returns 0. Safe from any thread. */
int st_forget_request_add(const struct st_agent_paths *p, uint64_t since_ns,
			  uint64_t until_ns, struct st_error *err);
/* Requests waiting in the file (0 when there is none). */
size_t st_forget_requests_pending(const struct st_agent_paths *p);

/* Checks a notice and policy the server sent: notice_hash = SHA-256 of the
 * notice bytes, policy_hash = st_policy_hash of the policy, which passes
 * the policy check. ST_E_CONSENT names the mismatch. */
int st_notice_check(const char *policy, size_t policy_len, const char *notice,
		    size_t notice_len, const char *policy_hash_hex,
		    const char *notice_hash_hex, struct st_error *err);

/* One bounded wait on cv (made with CLOCK_MONOTONIC) with mu held, until
 * the monotonic deadline: true once the deadline has passed, false when
 * woken (or after a short nap when the wait ended before its deadline,
 * which an interposed time library such as faketime causes), so the
 * caller checks its condition and calls again. Never returns past the
 * deadline without saying so. */
bool st_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
			const struct timespec *deadline);

/* Signs a device request (core/devreq.h) at wall time now_s and calls it
 * through t. Used by the uploader, enroll and accept. */
int st_device_call(struct st_upload_transport *t,
		   const struct st_agent_identity *id, const char *method,
		   const char *path, const char *content_type,
		   const uint8_t *body, size_t body_len, int64_t now_s,
		   long *status, struct st_buf *answer, struct st_error *err);

#endif
