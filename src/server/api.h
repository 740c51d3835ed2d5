/* api.h - owns the handlers of docs/api.md behind the HTTP front: routing,
 * the three kinds of credentials (admin tokens, device signatures,
 * enrollment tokens), JSON in and out, the st_err -> HTTP status table, the
 * cached current policy, and the ingest committer (group commit of
 * uploaded segments). Never opens a segment (ingest checks them with public
 * keys); never logs a body, a token or recorded content; never holds a
 * person's secret key longer than one sealing, in locked memory.
 *
 * Threads and the store: three store connections to one database (SQLite's
 * WAL lets readers and a writer work at once).
 *   - check_store: the checker thread's, for st_ingest_check of a batch
 *     (signatures and the reads of steps 2-8, no write lock).
 *   - ingest_store: the writer thread's, for st_ingest_commit and the
 *     backlog reports. The checker checks batch k+1 while the writer waits
 *     on the disk for batch k; commits stay in order on this one
 *     connection. Segment handlers never touch a store: they queue the
 *     body and suspend; the writer answers after COMMIT.
 *   - admin_store: every other handler, serialised by one mutex (they run
 *     on libmicrohttpd's polling thread or pool).
 * The queue between handlers and committer is bounded in segments and in
 * bytes; when full, uploads are answered 503 `unavailable` at once.
 *
 * Control (docs/api.md, "Control"): the epoch, the pauses in force and,
 * per scope, the newest pause and resume are kept in memory, loaded at
 * start and changed only together with the store (under store_mu), so
 * lease polls and ingest's lease check never read the database for them.
 * Per device, in memory too: its newest confirmation, when it was last
 * answered a lease and whether a poll is held. A held poll is suspended
 * (no thread, no timer of its own): it sits in one list in arrival order,
 * so the ticker thread resumes the expired ones from the list's head, and
 * a change walks the list once and resumes those it covers. A poll never
 * reads the store for the kill switch; it reads it only to authenticate
 * the device (device and person rows), as every signed request does. */
#ifndef ST_API_H
#define ST_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/token.h"
#include "server/config.h"
#include "server/http.h"
#include "server/ingest.h"
#include "server/store.h"

#define ST_API_VERSION "0.1.0"

#define ST_API_CT_JSON "application/json"
#define ST_API_CT_SEGMENT "application/vnd.sealtrace.segment"
#define ST_API_CT_SQLITE "application/vnd.sqlite3"
#define ST_API_HDR_BACKLOG "Sealtrace-Backlog"

/* Segments waiting for the committer, and their bytes: beyond either,
 * uploads get 503 at once (the agent retries with backoff). With
 * connections_max connections each holding at most one body, memory is
 * bounded by both. */
#define ST_API_QUEUE_MAX (4u * ST_INGEST_BATCH_MAX)
#define ST_API_QUEUE_BYTES_MAX (256u << 20)
/* Largest JSON request body (a policy is at most ST_POLICY_JSON_MAX). */
#define ST_API_JSON_MAX (1u << 20)
/* Enrollment tokens live at most this long. */
#define ST_API_ENROLL_TTL_MAX_S (30u * 86400u)
/* Pause confirmations believed and waiting to be stored (confirm_quiet_ms,
 * confirm_batch_ms; at once from half this many); past this many, a
 * confirmation is stored as it comes. */
#define ST_API_CONFIRM_PENDING_MAX 65536u
/* List answers: pages of ST_STORE_LIST_MAX rows, at most this many pages. */
#define ST_API_LIST_PAGES_MAX 100u
/* How often the ticker answers held lease polls whose hold ran out: a
 * renewal comes at most this late after lease_hold_s. */
#define ST_API_LEASE_TICK_MS 100u
/* While confirmations wait to be stored, the ticker writes the log lines
 * that say they were received this often (instead of every tick). */
#define ST_API_CONFIRM_LOG_MS 10u
/* Device ids GET /v1/admin/control lists per pause as pending or offline
 * (the counts are always whole). */
#define ST_API_CONTROL_IDS_MAX 100u

/* Which table column of docs/api.md a refusal falls under: the same id
 * means different statuses for a segment (422) and a signed request. */
enum st_api_kind {
	ST_API_GENERAL = 0,
	ST_API_DEVICE,  /* signed device requests */
	ST_API_SEGMENT, /* POST /v1/segments */
};
/* The HTTP status of an st_err code (docs/api.md, "Errors"). */
unsigned st_api_status(int code, enum st_api_kind kind);

struct st_api_cfg {
	const struct st_server_config *cfg;
	struct st_store *ingest_store; /* taken: the writer thread's alone */
	struct st_store *check_store;  /* taken: the checker thread's alone */
	struct st_store *admin_store;  /* taken: handlers', under a mutex */
	const struct st_clock *clock;  /* NULL = st_clock_system */
	FILE *log;                     /* state changes; NULL = none */
};

struct st_api;

/* Loads what answers need (the CA certificate unless plain_http, the lease
 * and master public keys, the current policy) and starts the committer.
 * On failure the stores are closed too. */
int st_api_new(const struct st_api_cfg *c, struct st_api **out,
	       struct st_error *err);
/* The permission of a command (`sealtrace token list`, or
 * `sealtrace-export dataset`): the roles (ST_ROLE_BIT of access/roles.h)
 * of the first endpoint it calls, from the one permission table; method
 * and path name that endpoint. ST_E_NOT_FOUND for a command that calls no
 * token endpoint. */
/* When `queued` pause confirmations (the first queued at first_ns, the
 * last at last_ns, on the monotonic clock) are to be stored: once none
 * came for quiet_ns, or once the first waited batch_ns, whichever is
 * sooner; 0 (now) from ST_API_CONFIRM_PENDING_MAX / 2 queued; UINT64_MAX
 * when none is queued. */
uint64_t st_api_confirm_due(size_t queued, uint64_t first_ns,
			    uint64_t last_ns, uint64_t quiet_ns,
			    uint64_t batch_ns);

int st_api_command_roles(const char *command, unsigned *roles,
			 const char **method, const char **path);

/* The st_http_handler; ctx is the struct st_api. */
void st_api_handle(void *ctx, struct st_http_req *r, enum st_http_phase ph);
/* Answers every held lease poll now (a renewed lease) and holds no more
 * from now on: a stopping server must not keep agents' requests until
 * the connection timeout. Idempotent. */
void st_api_quiesce(struct st_api *a);
/* Stops taking segments (503 from now on), lets the committer commit and
 * answer everything queued, and joins it. Idempotent. */
void st_api_drain(struct st_api *a);
/* Drains, closes both stores, frees. NULL is fine. */
void st_api_free(struct st_api *a);

/* ---- request bodies (pure functions: fuzzed by fuzz/fuzz_api.c) ----
 * Each parses len bytes of JSON with exactly the documented keys: ST_E_JSON
 * for malformed JSON, a wrong type or an unknown key, ST_E_INVAL for a
 * value out of range, each naming the key. */

struct st_api_enroll_req {
	char token[ST_TOKEN_TEXT_MAX]; /* a secret: the caller wipes it */
	uint8_t device_pk[32];
	char local_user[ST_STORE_USER_MAX + 1];
	char hostname[ST_STORE_HOST_MAX + 1];
};
int st_api_parse_enroll(const uint8_t *body, size_t len,
			struct st_api_enroll_req *out, struct st_error *err);

struct st_api_accept_req {
	uint8_t notice_hash[32];
	char local_user[ST_STORE_USER_MAX + 1];
	int64_t accepted_s;
};
int st_api_parse_acceptance(const uint8_t *body, size_t len,
			    struct st_api_accept_req *out,
			    struct st_error *err);

struct st_api_forget_req {
	uint8_t request_id[16];
	uint32_t from_min, to_min; /* from <= to */
};
int st_api_parse_forget(const uint8_t *body, size_t len,
			struct st_api_forget_req *out, struct st_error *err);

struct st_api_user_req {
	char name[ST_STORE_NAME_MAX + 1];
	char group[ST_STORE_GROUP_MAX + 1];
};
int st_api_parse_user_add(const uint8_t *body, size_t len,
			  struct st_api_user_req *out, struct st_error *err);

struct st_api_etoken_req {
	char user[ST_STORE_NAME_MAX + 1];
	uint32_t ttl_s; /* 1..ST_API_ENROLL_TTL_MAX_S */
};
/* ttl_default_s is used when ttl_s is absent. */
int st_api_parse_enroll_token(const uint8_t *body, size_t len,
			      uint32_t ttl_default_s,
			      struct st_api_etoken_req *out,
			      struct st_error *err);

/* POST /v1/device/lease. */
enum st_api_agent_state {
	ST_API_AGENT_RECORDING = 1,
	ST_API_AGENT_PAUSED_BY_PERSON,
	ST_API_AGENT_PAUSED,
	ST_API_AGENT_STOPPED,
};
struct st_api_lease_req {
	uint8_t nonce[16];
	uint64_t have_seq;               /* 0: holds none */
	int state;                       /* enum st_api_agent_state */
	bool has_confirm;
	uint64_t confirm_seq, confirm_last_seq;
};
int st_api_parse_lease(const uint8_t *body, size_t len,
		       struct st_api_lease_req *out, struct st_error *err);

/* POST /v1/admin/pause and /v1/admin/resume. The value is checked for its
 * scope (none for all; a device id is 32 hex digits, kept lower-case). */
struct st_api_pause_req {
	int scope; /* enum st_scope */
	char value[ST_STORE_SCOPE_VALUE_MAX + 1];
	char reason[ST_STORE_REASON_MAX + 1];
	bool discard;
};
int st_api_parse_pause(const uint8_t *body, size_t len,
		       struct st_api_pause_req *out, struct st_error *err);
/* reason optional; discard_unsent not allowed. */
int st_api_parse_resume(const uint8_t *body, size_t len,
			struct st_api_pause_req *out, struct st_error *err);

/* "SEGMENTS BYTES", two decimal numbers. ST_E_INVAL otherwise. */
int st_api_parse_backlog(const char *v, uint64_t *segments, uint64_t *bytes,
			 struct st_error *err);

#endif
