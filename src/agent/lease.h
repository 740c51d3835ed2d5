/* lease.h - owns the agent's control channel (module st_leaser): one
 * long-poll at a time to POST /v1/device/lease, each answer checked with
 * core/lease.h against the lease key pinned at enrollment before it is
 * believed, and the lease the agent holds now. Never records, never logs
 * content; it only says what the server allows, and run.c obeys.
 *
 * Fail closed: the validity of a lease counts from when its poll was SENT,
 * on the monotonic clock, so a slow answer shortens it and never stretches
 * it. A refused answer (forged, replayed, foreign, older, malformed) is
 * counted and ignored: the lease held before stays what it was, and runs
 * out at its own deadline. A restarted agent holds nothing (have_seq 0).
 *
 * Each poll carries a fresh random nonce, have_seq (the sequence of the
 * newest lease held), the agent's state and, after a pause lease was
 * obeyed, the confirm that run.c gave (st_leaser_confirm), sent until a
 * lease answers a poll that carried it. After a pause lease the next poll
 * waits (at most ST_LEASER_CONFIRM_WAIT_MS) for that confirm, so the
 * server learns of it at once and not one hold later. */
#ifndef ST_AGENT_LEASE_H
#define ST_AGENT_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/consent.h"
#include "agent/upload.h"
#include "core/clock.h"
#include "core/lease.h"

#define ST_LEASE_PUB_NAME "lease.pub"
#define ST_LEASE_PATH "/v1/device/lease"
/* A poll is held by the server up to its lease_hold_s (default 25 s): the
 * real transport's timeout must be above that, and below the validity
 * (default 60 s), so a stalled poll is cut before the lease runs out. */
#define ST_LEASER_TIMEOUT_MS_DEFAULT 40000
/* Retries after a failure or a refused answer: full jitter in
 * [0, min(max, min * 2^k)]. The maximum stays well below the validity, so
 * a server that comes back is found before a lease would run out. */
#define ST_LEASER_BACKOFF_MIN_MS_DEFAULT 500u
#define ST_LEASER_BACKOFF_MAX_MS_DEFAULT 15000u
#define ST_LEASER_BACKOFF_LIMIT_MS (3600u * 1000)
/* Polls start at least this far apart, so a server that answers every
 * poll at once cannot make the agent spin. */
#define ST_LEASER_POLL_GAP_MS 100u
/* After a pause lease: how long the next poll waits for run.c's confirm. */
#define ST_LEASER_CONFIRM_WAIT_MS 2000u
/* st_leaser_free waits this long for a poll in flight before it leaves
 * the thread to end by itself (the thread owns what it uses). */
#define ST_LEASER_STOP_WAIT_MS 200u
/* Largest answer read (the lease in base64 and three small fields). */
#define ST_LEASER_ANSWER_MAX (16u << 10)

/* What the agent does now, as the poll reports it (docs/api.md). */
enum st_leaser_report {
	ST_LEASER_REPORT_STOPPED = 0,
	ST_LEASER_REPORT_RECORDING,
	ST_LEASER_REPORT_PAUSED_BY_PERSON,
	ST_LEASER_REPORT_PAUSED,
};

enum st_leaser_state {
	ST_LEASER_NONE = 0, /* no lease yet (a restart starts here) */
	ST_LEASER_RECORD,   /* may record until valid_until_mono_ns */
	ST_LEASER_PAUSE,    /* paused by the organisation */
	ST_LEASER_EXPIRED,  /* the record lease ran out: cannot reach server */
	ST_LEASER_REVOKED,  /* the server revoked this device: polling ended */
};

struct st_leaser_view {
	enum st_leaser_state state;
	uint64_t seq;                 /* of the lease held; 0 = none */
	uint64_t valid_until_mono_ns; /* deadline of the lease held; 0 = none */
	uint32_t validity_ms;         /* of the lease held */
	bool discard;                 /* pause: delete unsent recording */
	char reason[ST_LEASE_REASON_MAX + 1]; /* the pause's, one line */
	uint64_t received;            /* leases believed */
	uint64_t refused;             /* answers refused and ignored */
	uint64_t polls;               /* polls sent */
	uint32_t failures;            /* failed or refused in a row */
	uint64_t confirm_sent_seq;    /* newest pause confirm sent in a poll */
	uint64_t confirmed_seq;       /* newest pause confirm a lease answered
					 (the server may hold that poll for
					 its whole lease_hold_s) */
	char last_error[ST_ERROR_MSG_MAX]; /* "" = none since the last lease */
};

struct st_leaser_cfg {
	/* device id and key are copied (the key into locked memory) */
	const uint8_t *device_id;   /* 16 */
	const uint8_t *device_sk;   /* 64 */
	const uint8_t *lease_pk;    /* 32: pinned at enrollment, copied */
	/* owned from st_leaser_new on (also when it fails): freed by the
	 * leaser, which may outlive st_leaser_free while a poll is in flight */
	struct st_upload_transport *transport;
	const struct st_clock *clock; /* NULL = system; must outlive the
					 leaser's thread (static or test) */
	uint64_t backoff_min_ms, backoff_max_ms; /* 0 = defaults */
	/* Test seams, as in upload.h: sleep_ms waits ms (NULL: a wait that
	 * stop cuts short); random gives a uniform value in [0, bound]. */
	void (*sleep_ms)(void *ctx, uint64_t ms);
	uint64_t (*random)(void *ctx, uint64_t bound);
	void *seam_ctx;
};

struct st_leaser;

int st_leaser_new(const struct st_leaser_cfg *cfg, struct st_leaser **out,
		  struct st_error *err);
/* Stops the thread (a wait ends at once; a poll in flight is waited for
 * ST_LEASER_STOP_WAIT_MS, then left to end by itself and free what it
 * owns). NULL is fine. The fd of st_leaser_fd is closed. */
void st_leaser_free(struct st_leaser *l);

/* One poll and the handling of its answer. *wait_ms: how long to wait
 * before the next. Returns 0, or ST_E_DEVICE_REVOKED once revoked (a
 * failed poll or refused answer is not an error here: it is a backoff,
 * a count and last_error). */
int st_leaser_step(struct st_leaser *l, uint64_t *wait_ms,
		   struct st_error *err);

/* Polls on a thread of its own until st_leaser_free or revocation. */
int st_leaser_start(struct st_leaser *l, struct st_error *err);

/* An eventfd that becomes readable when the view changed (a lease was
 * believed, revocation); st_leaser_view drains it. */
int st_leaser_fd(const struct st_leaser *l);

/* The lease held, judged at the leaser clock's monotonic time now: a
 * record lease past its deadline reads ST_LEASER_EXPIRED. Thread-safe. */
void st_leaser_view(struct st_leaser *l, struct st_leaser_view *out);

/* What the next poll reports the agent doing. Thread-safe. */
void st_leaser_report(struct st_leaser *l, enum st_leaser_report r);

/* The agent obeyed the pause lease of sequence seq; last_seq: the highest
 * segment sequence it keeps from before it. Sent with the next poll (and
 * again until a lease answers it); a newer pause replaces an older one.
 * Thread-safe; ends the confirm wait at once. */
void st_leaser_confirm(struct st_leaser *l, uint64_t seq, uint64_t last_seq);

/* Reads <dir>/lease.pub, the lease key pinned at enrollment. */
int st_lease_key_load(const struct st_agent_paths *p, uint8_t pk[32],
		      struct st_error *err);

/* The poll's state word for a report ("recording", ...). */
const char *st_leaser_report_name(enum st_leaser_report r);

#endif
