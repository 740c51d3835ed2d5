/* store.h - owns the server's store interface: a small type struct per
 * backend (SQLite here; PostgreSQL and test doubles are other types), the
 * generic front that checks validity around every call, and the row types.
 * Never opens, verifies or interprets a segment: it keeps the sealed bytes
 * ingest hands it, and never holds anything that could open them.
 *
 * Tables (SQLite: src/server/store_sqlite.c; schema version 1, then the
 * additions of version 2 below):
 *
 *   schema_version  one row per applied migration (version, applied_s)
 *   people          id BLOB(16) PK, name TEXT UNIQUE, grp TEXT, public_key
 *                   BLOB(32) (X25519), sealed_secret BLOB(80) or NULL
 *                   (crypto_box_seal of the secret half to the master public
 *                   key; NULL once erased), erased 0/1, created_s
 *   devices         id BLOB(16) PK, person_id -> people, public_key BLOB(32)
 *                   UNIQUE (Ed25519), active 0/1, enrolled_s, last_seen_s;
 *                   UNIQUE(id, person_id) so that rows naming a device and a
 *                   person can only name the device's own person
 *   policies        hash BLOB(32) PK (policy hash), canonical_json TEXT,
 *                   notice BLOB, notice_hash BLOB(32) UNIQUE, created_s
 *   acceptances     id PK, (device_id, person_id) -> devices(id, person_id),
 *                   notice_hash -> policies(notice_hash), local_user TEXT,
 *                   accepted_s; every act is a row (history, not a flag)
 *   segments        id PK, device_id, seq, person_id, header BLOB(308),
 *                   ciphertext BLOB, t_start_min, t_end_min, lease_seq,
 *                   level 1-3, kinds, notice_hash -> policies, received_s;
 *                   UNIQUE(device_id, seq); (device_id, person_id) ->
 *                   devices(id, person_id)
 *   flags           id PK, kind TEXT ('conflict'), device_id -> devices,
 *                   seq, evidence BLOB (the refused segment's signed header:
 *                   the device's own statement that it used seq twice; never
 *                   its ciphertext), created_s
 *
 * Schema version 2 adds:
 *   devices         + local_user TEXT (the account the agent records, set at
 *                   enrollment), hostname TEXT, backlog_segments,
 *                   backlog_bytes, backlog_s (what the agent last said waits
 *                   in its spool, and when)
 *   tokens          id BLOB(16) PK, name TEXT UNIQUE, role TEXT, hash
 *                   BLOB(32) UNIQUE (st_admin_token_hash), created_s,
 *                   expires_s (0 = never), revoked 0/1
 *   enroll_tokens   hash BLOB(32) PK, person_id -> people, created_s,
 *                   expires_s, used_s (0 = unused), device_id (who used it)
 *   settings        key TEXT PK, value BLOB: 'current_policy' = policy hash
 *   policies        + applied_s (when it last became current; 0 = never)
 *   forgets         device_id -> devices, request_id BLOB(16), from_min,
 *                   to_min, received_s, deleted; PK(device_id, request_id)
 *
 * Schema version 3 adds the kill switch (docs/api.md, "Control"):
 *   settings        + 'epoch' = the server's lease epoch (an integer,
 *                   starting at 1), raised by every pause and resume
 *   pauses          id PK, scope TEXT ('all', 'group', 'user', 'device'),
 *                   value TEXT ('' for all; a group, a person's name, or a
 *                   device id in lower-case hex), epoch UNIQUE (the epoch
 *                   this pause raised), reason, paused_by (the API token's
 *                   name), discard 0/1, created_s, then resumed_epoch,
 *                   resumed_s, resumed_by, resume_reason: all NULL while
 *                   the pause is in force
 *   pause_confirms  device_id -> devices, epoch -> pauses(epoch), last_seq
 *                   (the highest segment sequence the agent keeps from
 *                   before that pause), confirmed_s; PK(device_id, epoch):
 *                   the first confirmation of a pause by a device counts
 *
 * Schema 4 (least privilege; docs/security.md):
 *   tokens.person_id  the person a token is bound to (NULL only for the
 *                   first admin token that init prints)
 *   token_requests  officer and steward grants asked for by an admin,
 *                   waiting for a privacy officer's approval
 *   purposes        proposed/approved/revoked purposes: name (from the
 *                   policy), description, scope and stewards (JSON),
 *                   proposer, expiry; purpose_approvals: one row per
 *                   approving officer (people, not tokens)
 *   audit           the append-only audit log, hash-chained (seq, time,
 *                   actor pseudonym, role, action, object, purpose, result,
 *                   prev, hash); audit_checkpoints: signed tree heads;
 *                   pseudonyms: person -> pseudonym, kept apart from the log
 *                   and deleted at erasure
 *   tombstones      erased people: when and by whom (no name)
 *   exports, export_people  what each export held, so erasure lists it
 *
 * Room for later migrations: a new migration is appended to the
 * list in the backend and bumps ST_STORE_SCHEMA_VERSION; existing versions
 * are never edited. */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* The schema version this build writes and reads. A database with a newer
 * one is refused (ST_E_VERSION) rather than half understood. */
#define ST_STORE_SCHEMA_VERSION 4

#define ST_STORE_ID_LEN 16
#define ST_STORE_HASH_LEN 32
#define ST_STORE_PK_LEN 32
#define ST_STORE_SEALED_SK_LEN 80 /* crypto_box_SEALBYTES + 32 */
#define ST_STORE_HEADER_LEN 308   /* = ST_SEG_HEADER_LEN */

/* Bounds on what a row may hold, checked by the front before any call. */
#define ST_STORE_NAME_MAX 254      /* a person's name: an e-mail address */
#define ST_STORE_GROUP_MAX 128     /* a person's group */
#define ST_STORE_USER_MAX 64       /* local user name at acceptance */
#define ST_STORE_NOTICE_MAX (1u << 20) /* bytes of notice text */
#define ST_STORE_POLICY_JSON_MAX (256u << 10) /* = ST_POLICY_JSON_MAX */
#define ST_STORE_BODY_MAX ((64u << 20) + 16u) /* = ST_SEG_CIPHER_MAX */
#define ST_STORE_HOST_MAX 253
#define ST_STORE_TOKEN_NAME_MAX 64
#define ST_STORE_ROLE_MAX 32
/* Rows one list call hands out; callers page on with the last key. */
#define ST_STORE_LIST_MAX 10000
/* Segments one batch put may carry (one transaction). */
#define ST_STORE_BATCH_MAX 1024
/* Default wait for another writer's lock before SQLITE_BUSY. */
#define ST_STORE_BUSY_MS_DEFAULT 5000

struct st_person {
	uint8_t id[ST_STORE_ID_LEN];
	char name[ST_STORE_NAME_MAX + 1];   /* UTF-8, non-empty, unique */
	char group[ST_STORE_GROUP_MAX + 1]; /* may be empty */
	uint8_t public_key[ST_STORE_PK_LEN];
	/* Sealed to the master public key; meaningless when erased. */
	uint8_t sealed_secret[ST_STORE_SEALED_SK_LEN];
	bool erased; /* the sealed secret has been destroyed */
	int64_t created_s;
};

struct st_device {
	uint8_t id[ST_STORE_ID_LEN];
	uint8_t person_id[ST_STORE_ID_LEN];
	uint8_t public_key[ST_STORE_PK_LEN]; /* Ed25519: verifies segments */
	bool active;                         /* false: revoked */
	int64_t enrolled_s;
	int64_t last_seen_s; /* 0: never */
	/* Schema 2. On add, local_user must be non-empty (what acceptances
	 * are checked against); hostname may be empty. */
	char local_user[ST_STORE_USER_MAX + 1];
	char hostname[ST_STORE_HOST_MAX + 1];
	uint64_t backlog_segments, backlog_bytes; /* as last reported */
	int64_t backlog_s;                        /* when; 0 = never */
};

/* A policy as the server serves it. For put the pointers are only read;
 * policy_get fills them with one allocation that st_store_policy_fini
 * frees. json is NUL-terminated after get. */
struct st_store_policy {
	uint8_t hash[ST_STORE_HASH_LEN];        /* st_policy_hash */
	uint8_t notice_hash[ST_STORE_HASH_LEN]; /* SHA-256 of notice */
	const char *json;                       /* canonical JSON */
	size_t json_len;
	const uint8_t *notice; /* the bytes the agent shows */
	size_t notice_len;
	int64_t created_s;
	int64_t applied_s; /* get_current: when it last became current */
	void *owned_; /* get: the allocation behind json and notice */
};
void st_store_policy_fini(struct st_store_policy *p);

struct st_acceptance {
	uint8_t person_id[ST_STORE_ID_LEN];
	uint8_t device_id[ST_STORE_ID_LEN];
	uint8_t notice_hash[ST_STORE_HASH_LEN];
	char local_user[ST_STORE_USER_MAX + 1]; /* who accepted, in session */
	int64_t accepted_s;
};

/* One stored segment. The columns repeat header fields so that the store
 * can be queried without parsing; the front checks that device, person and
 * seq agree with the header bytes. For put the pointers are only read;
 * segment_get fills them (free with st_store_segment_fini); list leaves
 * them NULL. */
struct st_store_segment {
	uint8_t device_id[ST_STORE_ID_LEN];
	uint8_t person_id[ST_STORE_ID_LEN];
	uint64_t seq;       /* <= INT64_MAX */
	uint64_t lease_seq; /* <= INT64_MAX */
	uint32_t t_start_min, t_end_min;
	uint8_t level; /* 1..3 */
	uint32_t kinds;
	uint8_t notice_hash[ST_STORE_HASH_LEN];
	int64_t received_s;
	const uint8_t *header; /* ST_STORE_HEADER_LEN bytes */
	const uint8_t *body;   /* ciphertext, body_len bytes */
	size_t body_len;
	void *owned_;
};
void st_store_segment_fini(struct st_store_segment *s);

/* What a segment put did. Refusals (CONFLICT) are answers, not errors:
 * the call returns 0 and the transaction may go on. */
enum st_store_put {
	ST_STORE_STORED = 1,    /* new (device, seq): stored */
	ST_STORE_DUPLICATE = 2, /* same bytes already stored: nothing written */
	ST_STORE_CONFLICT = 3,  /* other bytes under that (device, seq): not
				 * stored; a 'conflict' flag row written */
};

struct st_store_flag {
	int64_t id;
	char kind[16]; /* "conflict" */
	uint8_t device_id[ST_STORE_ID_LEN];
	uint64_t seq;
	uint8_t evidence[ST_STORE_HEADER_LEN]; /* refused signed header */
	size_t evidence_len;
	int64_t created_s;
};

/* List callbacks: return 0 to go on, a positive value to stop early (the
 * list call then returns 0), or a negative st_err to fail the call. */
typedef int (*st_store_person_cb)(void *ctx, const struct st_person *p);
typedef int (*st_store_segment_cb)(void *ctx,
				   const struct st_store_segment *s);
typedef int (*st_store_flag_cb)(void *ctx, const struct st_store_flag *f);
/* Schema 2 callbacks (their row types are declared further down). */
struct st_token;
typedef int (*st_store_device_cb)(void *ctx, const struct st_device *d);
typedef int (*st_store_token_cb)(void *ctx, const struct st_token *t);

struct st_clock;
/* Schema 2 row types, declared with their functions below. */
struct st_enroll_token;
struct st_device_stats;
struct st_forget;
struct st_store_counts;
/* Schema 3 row types, declared with their functions below. */
struct st_pause;
struct st_resume;
struct st_pause_confirm;
/* Schema 4 row types. */
struct st_token_request;
struct st_purpose;
struct st_store_audit;
struct st_store_checkpoint;
struct st_erase_result;
struct st_export;
typedef int (*st_store_purpose_cb)(void *ctx, const struct st_purpose *p);
typedef int (*st_store_audit_cb)(void *ctx, const struct st_store_audit *e);
typedef int (*st_store_pause_cb)(void *ctx, const struct st_pause *p);
typedef int (*st_store_confirm_cb)(void *ctx,
				   const struct st_pause_confirm *c);

struct st_store_cfg {
	const char *path; /* SQLite: the database file (created 0600) */
	int busy_ms;      /* 0 = ST_STORE_BUSY_MS_DEFAULT */
	const struct st_clock *clock; /* for schema_version; NULL = system */
};

struct st_store;

/* A backend's operations (after tlog's reader types). Every operation
 * returns 0 or a negative st_err and, on failure, fills err with a message
 * naming the object. The front checks arguments before and the instance's
 * validity before and after each call; a backend may assume both. Writes
 * outside a transaction are wrapped in one by the front. */
struct st_store_type {
	const char *name;
	size_t size; /* instance size, struct st_store first */
	int (*open)(struct st_store *s, const struct st_store_cfg *cfg,
		    struct st_error *err);
	/* close is also called after a failed open: it copes with a partly
	 * opened instance (fields still zero). Rolls back an open
	 * transaction. */
	void (*close)(struct st_store *s);
	bool (*is_valid)(const struct st_store *s);
	int (*begin)(struct st_store *s, struct st_error *err);
	/* A read transaction: one snapshot for several reads, taking no
	 * write lock (SQLite: BEGIN DEFERRED). Ended by commit or rollback. */
	int (*begin_read)(struct st_store *s, struct st_error *err);
	/* Returns only once the transaction is durable (synchronous=FULL). */
	int (*commit)(struct st_store *s, struct st_error *err);
	/* Must leave no transaction open even when it reports a failure. */
	int (*rollback)(struct st_store *s, struct st_error *err);

	int (*person_add)(struct st_store *s, const struct st_person *p,
			  struct st_error *err);
	int (*person_get)(struct st_store *s, const uint8_t id[16],
			  struct st_person *out, struct st_error *err);
	int (*person_list)(struct st_store *s, const uint8_t *after,
			   size_t limit, st_store_person_cb cb, void *ctx,
			   struct st_error *err);
	int (*device_add)(struct st_store *s, const struct st_device *d,
			  struct st_error *err);
	int (*device_get)(struct st_store *s, const uint8_t id[16],
			  struct st_device *out, struct st_error *err);
	int (*device_set_active)(struct st_store *s, const uint8_t id[16],
				 bool active, struct st_error *err);
	int (*device_touch)(struct st_store *s, const uint8_t id[16],
			    int64_t now_s, struct st_error *err);
	int (*policy_put)(struct st_store *s, const struct st_store_policy *p,
			  struct st_error *err);
	int (*policy_get_by_notice)(struct st_store *s,
				    const uint8_t notice_hash[32],
				    struct st_store_policy *out,
				    struct st_error *err);
	int (*acceptance_add)(struct st_store *s, const struct st_acceptance *a,
			      struct st_error *err);
	int (*acceptance_has)(struct st_store *s, const uint8_t person[16],
			      const uint8_t device[16],
			      const uint8_t notice_hash[32], bool *out,
			      struct st_error *err);
	/* Inside a transaction (the front sees to it). *outcome: enum
	 * st_store_put. On CONFLICT also writes the flag row. */
	int (*segment_put)(struct st_store *s, const struct st_store_segment *g,
			   int *outcome, struct st_error *err);
	int (*segment_get)(struct st_store *s, const uint8_t device[16],
			   uint64_t seq, struct st_store_segment *out,
			   struct st_error *err);
	int (*segment_list)(struct st_store *s, const uint8_t device[16],
			    uint64_t after_seq, size_t limit,
			    st_store_segment_cb cb, void *ctx,
			    struct st_error *err);
	/* device NULL: every segment. */
	int (*segment_count)(struct st_store *s, const uint8_t *device,
			     uint64_t *out, struct st_error *err);
	int (*flag_list)(struct st_store *s, int64_t after_id, size_t limit,
			 st_store_flag_cb cb, void *ctx, struct st_error *err);

	/* Schema 2. The refusals of enrollment (invalid, used, expired,
	 * person mismatch) are decided by the front from enroll_token_get,
	 * so that every backend refuses alike; the backend only reads, adds
	 * and marks. */
	int (*person_find)(struct st_store *s, const char *name,
			   struct st_person *out, struct st_error *err);
	int (*device_list)(struct st_store *s, const uint8_t *after,
			   size_t limit, st_store_device_cb cb, void *ctx,
			   struct st_error *err);
	int (*device_backlog)(struct st_store *s, const uint8_t id[16],
			      uint64_t segments, uint64_t bytes, int64_t now_s,
			      struct st_error *err);
	int (*device_stats)(struct st_store *s, const uint8_t id[16],
			    struct st_device_stats *out, struct st_error *err);
	int (*token_add)(struct st_store *s, const struct st_token *t,
			 struct st_error *err);
	int (*token_find)(struct st_store *s, const uint8_t hash[32],
			  struct st_token *out, struct st_error *err);
	/* At most ST_STORE_LIST_MAX rows; more is ST_E_CAP. */
	int (*token_list)(struct st_store *s, st_store_token_cb cb, void *ctx,
			  struct st_error *err);
	int (*token_revoke)(struct st_store *s, const char *name,
			    struct st_error *err);
	/* Adds an unused enrollment token. */
	int (*enroll_token_add)(struct st_store *s,
				const struct st_enroll_token *t,
				struct st_error *err);
	/* By hash; ST_E_NOT_FOUND when unknown. */
	int (*enroll_token_get)(struct st_store *s, const uint8_t hash[32],
				struct st_enroll_token *out,
				struct st_error *err);
	/* Marks an unused token used by device at now_s; ST_E_TOKEN_USED when
	 * it is no longer unused. */
	int (*enroll_token_use)(struct st_store *s, const uint8_t hash[32],
				const uint8_t device[16], int64_t now_s,
				struct st_error *err);
	int (*policy_set_current)(struct st_store *s, const uint8_t hash[32],
				  int64_t now_s, struct st_error *err);
	int (*policy_get_current)(struct st_store *s,
				  struct st_store_policy *out,
				  struct st_error *err);
	/* Inside a transaction (the front opens it): looks the request up,
	 * and when new, deletes and records. */
	int (*forget)(struct st_store *s, const struct st_forget *f,
		      uint64_t *deleted, struct st_error *err);
	/* Outside any transaction (the front sees to it). */
	int (*backup)(struct st_store *s, const char *path,
		      struct st_error *err);
	/* Outside any transaction: moves every committed page out of the
	 * write-ahead log into the database and empties the log. */
	int (*checkpoint)(struct st_store *s, struct st_error *err);
	int (*counts)(struct st_store *s, struct st_store_counts *out,
		      struct st_error *err);

	/* Schema 3. pause_add and resume run inside the transaction the
	 * front opens; they read and raise the epoch themselves. */
	int (*epoch_get)(struct st_store *s, uint64_t *out,
			 struct st_error *err);
	int (*pause_add)(struct st_store *s, struct st_pause *p,
			 struct st_error *err);
	int (*resume)(struct st_store *s, const struct st_resume *r,
		      uint64_t *epoch, uint64_t *resumed,
		      struct st_error *err);
	int (*pause_list)(struct st_store *s, bool in_force, int64_t after_id,
			  size_t limit, st_store_pause_cb cb, void *ctx,
			  struct st_error *err);
	int (*pause_confirm)(struct st_store *s, const uint8_t device[16],
			     uint64_t epoch, uint64_t last_seq, int64_t now_s,
			     bool *recorded, struct st_error *err);
	int (*pause_confirms_get)(struct st_store *s, uint64_t epoch,
				  const uint8_t *after, size_t limit,
				  st_store_confirm_cb cb, void *ctx,
				  struct st_error *err);
	int (*scope_devices)(struct st_store *s, int scope,
			     const char *value, uint64_t *out,
			     struct st_error *err);

	/* Schema 4: least privilege. person_erase runs inside the
	 * transaction the front opens. */
	int (*setting_get)(struct st_store *s, const char *key, uint8_t *out,
			   size_t cap, size_t *len, struct st_error *err);
	int (*setting_put)(struct st_store *s, const char *key,
			   const uint8_t *val, size_t len,
			   struct st_error *err);
	int (*token_request_add)(struct st_store *s,
				 struct st_token_request *r,
				 struct st_error *err);
	int (*token_request_get)(struct st_store *s, int64_t id,
				 struct st_token_request *out,
				 struct st_error *err);
	int (*token_request_close)(struct st_store *s, int64_t id,
				   int64_t now_s, struct st_error *err);
	int (*purpose_add)(struct st_store *s, struct st_purpose *p,
			   struct st_error *err);
	int (*purpose_get)(struct st_store *s, int64_t id,
			   struct st_purpose *out, struct st_error *err);
	int (*purpose_list)(struct st_store *s, st_store_purpose_cb cb,
			    void *ctx, struct st_error *err);
	int (*purpose_approve)(struct st_store *s, int64_t id,
			       const uint8_t officer[16], int64_t now_s,
			       size_t *count, struct st_error *err);
	int (*purpose_approvers)(struct st_store *s, int64_t id,
				 uint8_t approvers[][16], size_t cap,
				 size_t *count, struct st_error *err);
	int (*purpose_set_state)(struct st_store *s, int64_t id, int state,
				 int64_t now_s, struct st_error *err);
	int (*audit_append)(struct st_store *s,
			    const struct st_store_audit *e,
			    struct st_error *err);
	int (*audit_last)(struct st_store *s, struct st_store_audit *out,
			  struct st_error *err);
	int (*audit_list)(struct st_store *s, uint64_t after, size_t limit,
			  const char *object, st_store_audit_cb cb, void *ctx,
			  struct st_error *err);
	int (*checkpoint_add)(struct st_store *s,
			      const struct st_store_checkpoint *c,
			      struct st_error *err);
	int (*checkpoint_last)(struct st_store *s,
			       struct st_store_checkpoint *out,
			       struct st_error *err);
	int (*pseudonym)(struct st_store *s, const uint8_t person[16],
			 bool create, char *out, struct st_error *err);
	int (*person_notices)(struct st_store *s, const uint8_t person[16],
			      uint8_t out[][32], size_t cap, size_t *count,
			      struct st_error *err);
	int (*person_reseal)(struct st_store *s, const uint8_t person[16],
			     const uint8_t *sealed, struct st_error *err);
	int (*person_erase)(struct st_store *s, const uint8_t person[16],
			    int64_t now_s, const char *by,
			    struct st_erase_result *out,
			    struct st_error *err);
	int (*person_exports)(struct st_store *s, const uint8_t person[16],
			      uint8_t ids[][16], int64_t *made_s, size_t cap,
			      size_t *count, struct st_error *err);
	int (*segment_sweep)(struct st_store *s, int64_t before_min,
			     uint64_t *deleted, struct st_error *err);
	int (*export_add)(struct st_store *s, const struct st_export *x,
			  struct st_error *err);
	int (*export_person)(struct st_store *s, const uint8_t export_id[16],
			     const uint8_t person[16], struct st_error *err);
	int (*export_get)(struct st_store *s, const uint8_t id[16],
			  struct st_export *out, struct st_error *err);
	int (*export_has)(struct st_store *s, const uint8_t export_id[16],
			  const uint8_t person[16], bool *out,
			  struct st_error *err);
	int (*export_finish)(struct st_store *s, const uint8_t id[16],
			     const uint8_t manifest_hash[32], int64_t now_s,
			     struct st_error *err);
};

struct st_store {
	const struct st_store_type *type;
	bool in_tx; /* kept by the front */
};

extern const struct st_store_type st_store_sqlite;

/* Opens a store of the given type; *out is freed with st_store_close. */
int st_store_open(const struct st_store_type *type,
		  const struct st_store_cfg *cfg, struct st_store **out,
		  struct st_error *err);
/* Rolls back an open transaction and frees s (NULL is fine). */
void st_store_close(struct st_store *s);
bool st_store_is_valid(const struct st_store *s);

/* One transaction at a time: begin inside one, or commit/rollback outside
 * one, is ST_E_STATE. A failed commit rolls back, so afterwards no
 * transaction is open either way. */
int st_store_begin(struct st_store *s, struct st_error *err);
int st_store_commit(struct st_store *s, struct st_error *err);
int st_store_rollback(struct st_store *s, struct st_error *err);
bool st_store_in_tx(const struct st_store *s);
/* A read-only transaction: every read until commit or rollback sees one
 * snapshot and the locks are taken once (ingest checks a batch in one).
 * Writes inside it are the caller's error. */
int st_store_begin_read(struct st_store *s, struct st_error *err);

/* ST_E_EXISTS when the id, name (people) or public key (devices) is taken;
 * ST_E_NOT_FOUND when a referenced row is missing. */
int st_store_person_add(struct st_store *s, const struct st_person *p,
			struct st_error *err);
int st_store_person_get(struct st_store *s, const uint8_t id[16],
			struct st_person *out, struct st_error *err);
/* People in id order after `after` (NULL: from the first), at most limit
 * (1..ST_STORE_LIST_MAX). */
int st_store_person_list(struct st_store *s, const uint8_t *after,
			 size_t limit, st_store_person_cb cb, void *ctx,
			 struct st_error *err);
int st_store_device_add(struct st_store *s, const struct st_device *d,
			struct st_error *err);
int st_store_device_get(struct st_store *s, const uint8_t id[16],
			struct st_device *out, struct st_error *err);
int st_store_device_set_active(struct st_store *s, const uint8_t id[16],
			       bool active, struct st_error *err);
/* last_seen_s = max(last_seen_s, now_s). */
int st_store_device_touch(struct st_store *s, const uint8_t id[16],
			  int64_t now_s, struct st_error *err);
/* Putting the same policy again is 0; another policy under a used notice
 * hash is ST_E_EXISTS. The front checks notice_hash = SHA-256(notice). */
int st_store_policy_put(struct st_store *s, const struct st_store_policy *p,
			struct st_error *err);
int st_store_policy_get_by_notice(struct st_store *s,
				  const uint8_t notice_hash[32],
				  struct st_store_policy *out,
				  struct st_error *err);
/* ST_E_NOT_FOUND when the device is not that person's, or the notice is
 * unknown. */
int st_store_acceptance_add(struct st_store *s, const struct st_acceptance *a,
			    struct st_error *err);
int st_store_acceptance_has(struct st_store *s, const uint8_t person[16],
			    const uint8_t device[16],
			    const uint8_t notice_hash[32], bool *out,
			    struct st_error *err);

/* Puts one segment (in a transaction of its own when none is open); the
 * answer is in *outcome. Outside a transaction it returns only after
 * COMMIT, so STORED means durable. */
int st_store_segment_put(struct st_store *s, const struct st_store_segment *g,
			 int *outcome, struct st_error *err);
/* Group commit: puts n segments (1..ST_STORE_BATCH_MAX) in one transaction
 * that this call opens (ST_E_STATE if one is open) and commits, and in it
 * sets each device's last_seen_s to the latest received_s of its segments
 * that were stored or duplicates. outcomes[i] is written only after COMMIT
 * returned: on any failure the whole batch is rolled back, outcomes are
 * left untouched and nothing of it is stored. */
int st_store_segment_put_batch(struct st_store *s,
			       const struct st_store_segment *g, size_t n,
			       int *outcomes, struct st_error *err);
int st_store_segment_get(struct st_store *s, const uint8_t device[16],
			 uint64_t seq, struct st_store_segment *out,
			 struct st_error *err);
/* A device's segments in seq order after after_seq, metadata only (header
 * and body NULL), at most limit (1..ST_STORE_LIST_MAX). */
int st_store_segment_list(struct st_store *s, const uint8_t device[16],
			  uint64_t after_seq, size_t limit,
			  st_store_segment_cb cb, void *ctx,
			  struct st_error *err);
int st_store_segment_count(struct st_store *s, const uint8_t *device,
			   uint64_t *out, struct st_error *err);
int st_store_flag_list(struct st_store *s, int64_t after_id, size_t limit,
		       st_store_flag_cb cb, void *ctx, struct st_error *err);

/* ---- schema 2: administration, enrollment, policy, forget ---- */

struct st_token {
	uint8_t id[ST_STORE_ID_LEN];
	char name[ST_STORE_TOKEN_NAME_MAX + 1]; /* unique, non-empty */
	char role[ST_STORE_ROLE_MAX + 1];       /* st_role_name */
	uint8_t hash[ST_STORE_HASH_LEN];        /* st_admin_token_hash */
	int64_t created_s;
	int64_t expires_s; /* 0: never */
	bool revoked;
	/* Schema 4: the person the token is bound to; has_person false only
	 * for the first admin token of init. */
	bool has_person;
	uint8_t person_id[ST_STORE_ID_LEN];
};
/* ST_E_EXISTS when the id, name or hash is taken. */
int st_store_token_add(struct st_store *s, const struct st_token *t,
		       struct st_error *err);
/* By hash; ST_E_NOT_FOUND when none (revoked and expired ones are found:
 * the caller decides). */
int st_store_token_find(struct st_store *s, const uint8_t hash[32],
			struct st_token *out, struct st_error *err);
/* Every token in name order (hash included: it is not the secret); more
 * than ST_STORE_LIST_MAX tokens is ST_E_CAP rather than a silent cut. */
int st_store_token_list(struct st_store *s, st_store_token_cb cb, void *ctx,
			struct st_error *err);
/* By name; ST_E_NOT_FOUND when no such token. Revoking twice is 0. */
int st_store_token_revoke(struct st_store *s, const char *name,
			  struct st_error *err);

struct st_enroll_token {
	uint8_t hash[ST_STORE_HASH_LEN]; /* st_enroll_secret_hash */
	uint8_t person_id[ST_STORE_ID_LEN];
	int64_t created_s, expires_s;
	int64_t used_s;                     /* 0: unused */
	uint8_t device_id[ST_STORE_ID_LEN]; /* who used it; zero if unused */
};
/* ST_E_NOT_FOUND when the person is missing; ST_E_EXISTS for a used hash. */
int st_store_enroll_token_add(struct st_store *s,
			      const struct st_enroll_token *t,
			      struct st_error *err);
/* Enrollment in one transaction (this call opens it: ST_E_STATE if one is
 * open, and commits it): checks the token by hash - ST_E_TOKEN_INVALID when
 * unknown, ST_E_TOKEN_USED when used (even by this device),
 * ST_E_TOKEN_EXPIRED when now_s >= expires_s - then adds the device (its
 * person_id must be the token's: ST_E_PERSON_MISMATCH; all zero means the
 * token's, as a server learns whose device it is only from the token) and
 * marks the token
 * used by it at now_s (>= 1: used_s 0 means unused). On any failure
 * nothing changes. *out (may be NULL) receives the token row as it was
 * before use, and is written only on success. No message names the token
 * or its hash. */
int st_store_enroll(struct st_store *s, const uint8_t token_hash[32],
		    const struct st_device *d, int64_t now_s,
		    struct st_enroll_token *out, struct st_error *err);

/* By exact name; ST_E_NOT_FOUND when none. */
int st_store_person_find(struct st_store *s, const char *name,
			 struct st_person *out, struct st_error *err);

/* Devices in id order after `after` (NULL: from the first), at most limit
 * (1..ST_STORE_LIST_MAX). */
int st_store_device_list(struct st_store *s, const uint8_t *after,
			 size_t limit, st_store_device_cb cb, void *ctx,
			 struct st_error *err);
/* Records what the agent says waits in its spool, at now_s. */
int st_store_device_backlog(struct st_store *s, const uint8_t id[16],
			    uint64_t segments, uint64_t bytes, int64_t now_s,
			    struct st_error *err);
/* What the server holds of a device: segments and their ciphertext bytes,
 * the highest seq, and gaps = sequence numbers from 1 to that highest one
 * that are not stored (never uploaded, or forgotten). */
struct st_device_stats {
	uint64_t segments, bytes, max_seq, gaps;
};
int st_store_device_stats(struct st_store *s, const uint8_t id[16],
			  struct st_device_stats *out, struct st_error *err);

/* Makes a stored policy (by policy hash) the current one, applied at now_s
 * (ST_E_NOT_FOUND when not stored). The current policy is what enrollment
 * hands out and what agents must accept. */
int st_store_policy_set_current(struct st_store *s, const uint8_t hash[32],
				int64_t now_s, struct st_error *err);
/* The current policy (free with st_store_policy_fini); ST_E_NOT_FOUND when
 * none was ever set. */
int st_store_policy_get_current(struct st_store *s, struct st_store_policy *out,
				struct st_error *err);

/* A person's request to forget what one device recorded between two
 * minutes (inclusive), sent signed by that device. */
struct st_forget {
	uint8_t device_id[ST_STORE_ID_LEN];
	uint8_t request_id[ST_STORE_ID_LEN]; /* chosen by the device */
	uint32_t from_min, to_min;           /* from <= to */
	int64_t received_s;
};
/* In one transaction (opened here; ST_E_STATE if one is open): records the
 * request and deletes that device's segments whose [t_start_min, t_end_min]
 * overlaps [from_min, to_min]; *deleted = how many. The same request id
 * again deletes nothing new and gives the first answer's count (idempotent
 * for retries, whatever range the retry names); ST_E_NOT_FOUND for an
 * unknown device, ST_E_ORDER when from_min > to_min. *deleted is written
 * only once COMMIT returned. */
int st_store_forget(struct st_store *s, const struct st_forget *f,
		    uint64_t *deleted, struct st_error *err);

/* Online backup (SQLite backup API) of the whole database into a new file
 * at path, created 0600 (ST_E_EXISTS when path exists; a failed copy is
 * removed). Consistent even while ingest writes. Outside a transaction
 * (ST_E_STATE inside one: the copy would hold uncommitted rows). */
int st_store_backup(struct st_store *s, const char *path,
		    struct st_error *err);

/* tokens counts revoked and expired ones too; enroll_tokens_unused counts
 * tokens no device has used, expired or not. */
/* Checkpoints and truncates the write-ahead log (outside a transaction;
 * ST_E_STATE inside one). With secure_delete on, deleted rows are then
 * gone from the files, not only from the tables: forget and erase call it.
 * A reader holding an old snapshot can keep the log from emptying; the
 * call then reports SQLITE_BUSY and should be retried. */
int st_store_checkpoint(struct st_store *s, struct st_error *err);

struct st_store_counts {
	uint64_t people, devices, devices_active, segments, segment_bytes,
		flags, tokens, enroll_tokens_unused;
};
int st_store_counts(struct st_store *s, struct st_store_counts *out,
		    struct st_error *err);

/* ---- schema 3: the kill switch (pauses, resumes, confirmations) ---- */

/* What a pause covers. A device is covered by a pause of scope all, of its
 * person's group, of its person's name, or of its own id. */
enum st_scope {
	ST_SCOPE_ALL = 1,
	ST_SCOPE_GROUP = 2,
	ST_SCOPE_USER = 3,
	ST_SCOPE_DEVICE = 4,
};
/* A scope's value: a group (<= ST_STORE_GROUP_MAX), a person's name
 * (<= ST_STORE_NAME_MAX) or a device id as 32 lower-case hex digits. */
#define ST_STORE_SCOPE_VALUE_MAX ST_STORE_NAME_MAX
/* A pause's or resume's reason: it travels in the lease
 * (= ST_LEASE_REASON_MAX). */
#define ST_STORE_REASON_MAX 200
/* The epoch a store starts at: a device no pause ever covered records
 * under lease sequence 1; 0 means "no lease" (development agents). */
#define ST_STORE_EPOCH_FIRST 1

/* "all", "group", "user", "device"; NULL for anything else. */
const char *st_scope_name(int scope);
/* The inverse; 0 when unknown. */
int st_scope_from_name(const char *name);

struct st_pause {
	int64_t id;
	int scope;                                 /* enum st_scope */
	char value[ST_STORE_SCOPE_VALUE_MAX + 1];  /* "" for ST_SCOPE_ALL */
	uint64_t epoch;                            /* the epoch it raised */
	char reason[ST_STORE_REASON_MAX + 1];      /* non-empty */
	char by[ST_STORE_TOKEN_NAME_MAX + 1];      /* the token's name */
	bool discard;                              /* discard_unsent */
	int64_t created_s;
	/* Zero and empty while in force. */
	uint64_t resumed_epoch;
	int64_t resumed_s;
	char resumed_by[ST_STORE_TOKEN_NAME_MAX + 1];
	char resume_reason[ST_STORE_REASON_MAX + 1]; /* may be empty */
};

/* The current epoch (ST_STORE_EPOCH_FIRST on a new store). */
int st_store_epoch_get(struct st_store *s, uint64_t *out,
		       struct st_error *err);
/* In one transaction (opened here: ST_E_STATE if one is open): raises the
 * epoch by one and records the pause under it. p gives scope, value,
 * reason, by, discard and created_s (checked: ST_E_INVAL naming the field);
 * p->id and p->epoch are written only once COMMIT returned. The front does
 * not check that the group, person or device exists: the caller does. */
int st_store_pause_add(struct st_store *s, struct st_pause *p,
		       struct st_error *err);
/* Ends every pause in force of exactly that scope and value (a resume of
 * a group does not end a pause of one of its people) in one transaction
 * (opened here) that raises the epoch by one and records who, when and
 * why on each ended pause. *epoch = the new epoch, *resumed = how many
 * pauses ended; both written only once COMMIT returned. ST_E_NOT_FOUND,
 * with nothing changed and the epoch not raised, when none was in force.
 * reason may be empty. */
struct st_resume {
	int scope;
	char value[ST_STORE_SCOPE_VALUE_MAX + 1];
	char by[ST_STORE_TOKEN_NAME_MAX + 1];
	char reason[ST_STORE_REASON_MAX + 1];
	int64_t resumed_s;
};
int st_store_resume(struct st_store *s, const struct st_resume *r,
		    uint64_t *epoch, uint64_t *resumed, struct st_error *err);
/* Pauses in id order after after_id (0: from the first), at most limit
 * (1..ST_STORE_LIST_MAX); in_force: only those not resumed. */
int st_store_pause_list(struct st_store *s, bool in_force, int64_t after_id,
			size_t limit, st_store_pause_cb cb, void *ctx,
			struct st_error *err);
/* Records that device obeyed the pause that raised epoch, keeping the
 * segments up to last_seq from before it. Once per (device, pause): a
 * second confirmation changes nothing and is 0 (*recorded, which may be
 * NULL, says whether this call recorded it). ST_E_NOT_FOUND for an unknown
 * device or an epoch no pause raised; ST_E_CAP for last_seq over 2^63-1. */
int st_store_pause_confirm(struct st_store *s, const uint8_t device[16],
			   uint64_t epoch, uint64_t last_seq, int64_t now_s,
			   bool *recorded, struct st_error *err);
struct st_pause_confirm {
	uint8_t device_id[ST_STORE_ID_LEN];
	uint64_t epoch, last_seq;
	int64_t confirmed_s;
};
/* The confirmations of the pause that raised epoch, in device id order
 * after `after` (NULL: from the first), at most limit
 * (1..ST_STORE_LIST_MAX). */
int st_store_pause_confirms_get(struct st_store *s, uint64_t epoch,
				const uint8_t *after, size_t limit,
				st_store_confirm_cb cb, void *ctx,
				struct st_error *err);
/* How many active devices a pause of scope/value would cover (those of a
 * person on record): one counting query, for the pause's answer. A device
 * value that is not 32 hex digits covers none. */
int st_store_scope_devices(struct st_store *s, int scope, const char *value,
			   uint64_t *out, struct st_error *err);

/* ---- Schema 4: least privilege (the data behind src/access) ---- */

#define ST_STORE_SETTING_MAX 4096
#define ST_STORE_PURPOSE_NAME_MAX 64
#define ST_STORE_PURPOSE_DESC_MAX 600
#define ST_STORE_PURPOSE_JSON_MAX 8192
#define ST_STORE_AUDIT_ACTOR_MAX 64
#define ST_STORE_AUDIT_ROLE_MAX 16
#define ST_STORE_AUDIT_ACTION_MAX 48
#define ST_STORE_AUDIT_OBJECT_MAX 256
#define ST_STORE_AUDIT_PURPOSE_MAX 64
#define ST_STORE_AUDIT_RESULT_MAX 48
#define ST_STORE_PSEUDONYM_MAX 32

/* A settings value by key; ST_E_NOT_FOUND when unset, ST_E_CAP when
 * longer than cap. */
int st_store_setting_get(struct st_store *s, const char *key, uint8_t *out,
			 size_t cap, size_t *len, struct st_error *err);
int st_store_setting_put(struct st_store *s, const char *key,
			 const uint8_t *val, size_t len, struct st_error *err);

/* An officer or steward grant waiting for a privacy officer. */
struct st_token_request {
	int64_t id; /* given by add */
	char token_name[ST_STORE_TOKEN_NAME_MAX + 1];
	uint8_t person_id[ST_STORE_ID_LEN]; /* who gets the role */
	char role[ST_STORE_ROLE_MAX + 1];
	int64_t expires_s; /* of the token to be made */
	char requested_by[ST_STORE_TOKEN_NAME_MAX + 1]; /* token name */
	int64_t created_s;
	int64_t closed_s; /* 0: pending */
};
int st_store_token_request_add(struct st_store *s,
			       struct st_token_request *r,
			       struct st_error *err);
int st_store_token_request_get(struct st_store *s, int64_t id,
			       struct st_token_request *out,
			       struct st_error *err);
/* Marks it closed at now_s; ST_E_STATE when already closed. */
int st_store_token_request_close(struct st_store *s, int64_t id,
				 int64_t now_s, struct st_error *err);

enum st_purpose_state {
	ST_PURPOSE_PROPOSED = 0,
	ST_PURPOSE_APPROVED = 1,
	ST_PURPOSE_REVOKED = 2,
};
struct st_purpose {
	int64_t id; /* given by add */
	char name[ST_STORE_PURPOSE_NAME_MAX + 1]; /* a purpose of the policy */
	char description[ST_STORE_PURPOSE_DESC_MAX + 1];
	char scope_json[ST_STORE_PURPOSE_JSON_MAX + 1];    /* JSON object */
	char stewards_json[ST_STORE_PURPOSE_JSON_MAX + 1]; /* JSON array */
	uint8_t proposer[ST_STORE_ID_LEN];                 /* a person */
	int64_t created_s, expires_s;
	int state; /* enum st_purpose_state */
	int64_t approved_s, revoked_s; /* 0: not (yet) */
};
int st_store_purpose_add(struct st_store *s, struct st_purpose *p,
			 struct st_error *err);
int st_store_purpose_get(struct st_store *s, int64_t id,
			 struct st_purpose *out, struct st_error *err);
/* Every purpose in id order (at most ST_STORE_LIST_MAX: ST_E_CAP). */
int st_store_purpose_list(struct st_store *s, st_store_purpose_cb cb,
			  void *ctx, struct st_error *err);
/* Records officer's approval (ST_E_EXISTS when that person approved it
 * already) and returns in *count the approvals it now has, and in
 * approvers[0..count) (up to 8) who gave them. */
int st_store_purpose_approve(struct st_store *s, int64_t id,
			     const uint8_t officer[16], int64_t now_s,
			     size_t *count, struct st_error *err);
int st_store_purpose_approvers(struct st_store *s, int64_t id,
			       uint8_t approvers[][16], size_t cap,
			       size_t *count, struct st_error *err);
/* Sets the state, with approved_s or revoked_s = now_s. */
int st_store_purpose_set_state(struct st_store *s, int64_t id, int state,
			       int64_t now_s, struct st_error *err);

/* One audit log row; hashing and the tree live in src/access/audit.h. */
struct st_store_audit {
	uint64_t seq; /* 1, 2, ... */
	int64_t time_s;
	char actor[ST_STORE_AUDIT_ACTOR_MAX + 1];
	char role[ST_STORE_AUDIT_ROLE_MAX + 1];
	char action[ST_STORE_AUDIT_ACTION_MAX + 1];
	char object[ST_STORE_AUDIT_OBJECT_MAX + 1];
	char purpose[ST_STORE_AUDIT_PURPOSE_MAX + 1];
	char result[ST_STORE_AUDIT_RESULT_MAX + 1];
	uint8_t prev[32], hash[32];
};
/* Appends e (its seq must be the last + 1: ST_E_CONFLICT otherwise). */
int st_store_audit_append(struct st_store *s, const struct st_store_audit *e,
			  struct st_error *err);
/* The last entry; ST_E_NOT_FOUND when the log is empty. */
int st_store_audit_last(struct st_store *s, struct st_store_audit *out,
			struct st_error *err);
/* Entries with seq > after in seq order, at most limit
 * (1..ST_STORE_LIST_MAX); object, when not NULL, keeps only those with
 * exactly that object. */
int st_store_audit_list(struct st_store *s, uint64_t after, size_t limit,
			const char *object, st_store_audit_cb cb, void *ctx,
			struct st_error *err);
struct st_store_checkpoint {
	uint64_t size;
	uint8_t root[32];
	int64_t time_s;
	uint8_t key_id[8];
	uint8_t sig[64];
};
int st_store_checkpoint_add(struct st_store *s,
			    const struct st_store_checkpoint *c,
			    struct st_error *err);
/* The newest (largest size); ST_E_NOT_FOUND when none. */
int st_store_checkpoint_last(struct st_store *s,
			     struct st_store_checkpoint *out,
			     struct st_error *err);
/* The person's pseudonym for the audit log ("p-" + 16 hex, random);
 * made when create and none exists, else ST_E_NOT_FOUND. */
int st_store_pseudonym(struct st_store *s, const uint8_t person[16],
		       bool create, char out[ST_STORE_PSEUDONYM_MAX + 1],
		       struct st_error *err);

/* The distinct notice hashes the person accepted (at most 64). */
int st_store_person_notices(struct st_store *s, const uint8_t person[16],
			    uint8_t out[][32], size_t cap, size_t *count,
			    struct st_error *err);
/* Replaces a (not erased) person's sealed secret (key rotation). */
int st_store_person_reseal(struct st_store *s, const uint8_t person[16],
			   const uint8_t sealed[ST_STORE_SEALED_SK_LEN],
			   struct st_error *err);

/* What one erasure did. */
struct st_erase_result {
	uint64_t devices_revoked, segments_deleted, enroll_tokens_deleted;
	uint64_t tokens_revoked;
};
/* Erases a person in the open transaction: destroys the sealed secret
 * (secure_delete overwrites it; the caller checkpoints the WAL after
 * commit), revokes the devices and the person's tokens, deletes the
 * segments, unused enrollment tokens and the pseudonym, and leaves a
 * tombstone (erased_s, by). ST_E_ERASED when erased already. */
int st_store_person_erase(struct st_store *s, const uint8_t person[16],
			  int64_t now_s, const char *by,
			  struct st_erase_result *out, struct st_error *err);
/* The exports that held the person's data: each export id (16 bytes) and
 * when it was made, at most cap. */
int st_store_person_exports(struct st_store *s, const uint8_t person[16],
			    uint8_t ids[][16], int64_t *made_s, size_t cap,
			    size_t *count, struct st_error *err);
/* Deletes segments whose last minute ended before before_min (minutes
 * since the epoch); *deleted receives how many. */
int st_store_segment_sweep(struct st_store *s, int64_t before_min,
			   uint64_t *deleted, struct st_error *err);

/* An export: what a steward took under a purpose (its people in
 * export_people), so that erasure can list it. */
struct st_export {
	uint8_t id[ST_STORE_ID_LEN];
	int64_t purpose_id;
	uint8_t steward[ST_STORE_ID_LEN]; /* a person */
	int64_t created_s;
	char out_dir[1024];
	bool finished;
	uint8_t manifest_hash[32]; /* when finished */
	int64_t finished_s;
};
int st_store_export_add(struct st_store *s, const struct st_export *x,
			struct st_error *err);
int st_store_export_person(struct st_store *s, const uint8_t export_id[16],
			   const uint8_t person[16], struct st_error *err);
/* ST_E_NOT_FOUND when unknown. */
int st_store_export_get(struct st_store *s, const uint8_t id[16],
			struct st_export *out, struct st_error *err);
/* Whether the person's data is in the export. */
int st_store_export_has(struct st_store *s, const uint8_t export_id[16],
			const uint8_t person[16], bool *out,
			struct st_error *err);
/* Records the manifest's hash; ST_E_STATE when finished already. */
int st_store_export_finish(struct st_store *s, const uint8_t id[16],
			   const uint8_t manifest_hash[32], int64_t now_s,
			   struct st_error *err);

/* Fault injection seam (tests and drills; never configured by `serve`):
 * a store type that forwards to an inner store and fails the fail_at-th
 * call, counted from 1 since the last arm, over every operation but close.
 * The failed call does nothing and returns ST_STORE_FAULT_RC, except
 * rollback, which still rolls back (a real rollback must leave no
 * transaction open), and, when `after` is set, any call, which runs first
 * and then reports the failure (a lost answer: the work is done, the caller
 * believes it is not; a begin is undone). sticky: every call from fail_at
 * on fails. fail_at 0 only counts. A test double is just another type. */
#define ST_STORE_FAULT_RC (ST_E_SQLITE_BASE - 10) /* SQLITE_IOERR */
struct st_store_fault_cfg {
	long fail_at;
	bool sticky;
	bool after;
};
/* Wraps inner (taking ownership: st_store_close closes both). */
int st_store_fault_wrap(struct st_store *inner, struct st_store **out,
			struct st_error *err);
void st_store_fault_arm(struct st_store *s, const struct st_store_fault_cfg *c);
long st_store_fault_calls(const struct st_store *s);  /* since arming */
long st_store_fault_failed(const struct st_store *s); /* failed so far */

/* Lower-case hex of an id, for messages ("0123…": all 32 digits). */
void st_store_id_hex(const uint8_t id[16], char out[33]);

#endif
