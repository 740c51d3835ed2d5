/* api_int.h - what the API's source files share inside the server: the
 * api's state, a request's state between phases, and the answer and
 * request-body helpers. Not an interface: docs/api.md is. */
#ifndef ST_API_INT_H
#define ST_API_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "server/api.h"
#include "server/auditlog.h"

struct job {
	struct st_http_req *r;
	const uint8_t *seg;
	size_t len;
	bool has_backlog;
	uint64_t bl_segments, bl_bytes;
	struct st_ingest_result res;
};

struct policy_cache {
	bool have;
	uint8_t hash[32], notice_hash[32];
	int64_t applied_s;
};

struct st_api {
	const struct st_server_config *cfg;
	const struct st_clock *clock;
	FILE *log;
	int64_t started_s;

	pthread_mutex_t store_mu; /* admin_store */
	struct st_store *admin_store;
	struct st_store *ingest_store;
	struct st_store *check_store;

	pthread_mutex_t pol_mu;
	struct policy_cache pol;

	uint8_t *ca_der;
	size_t ca_der_len;
	uint8_t ca_fp[32];
	uint8_t lease_pk[32], lease_fp[32];
	uint8_t master_pk[32];

	/* committer queue: a ring of ST_API_QUEUE_MAX jobs */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	struct job *q[ST_API_QUEUE_MAX];
	size_t q_head, q_n, q_bytes;
	bool draining, committer_up, writer_up;
	pthread_t committer, writer;
	struct st_ingest_cfg icfg;
	/* Two batches: the checker fills one while the writer commits the
	 * other. ready: the one handed to the writer (NULL: none); busy[i]:
	 * stage i is in the writer's hands. */
	struct stage {
		struct job **batch;            /* ST_INGEST_BATCH_MAX each */
		struct st_ingest_item *items;
		struct st_ingest_result *res;
		size_t n;
		struct st_ingest_prep *prep;   /* NULL when the check failed */
		int rc;
		struct st_error e;
	} stage[2];
	pthread_mutex_t h_mu;
	pthread_cond_t h_cv;
	struct stage *ready;
	bool busy[2];
	bool checker_done;
	struct backlog {
		uint8_t id[16];
		uint64_t segs, bytes;
	} *bl;

	/* control: everything below under ctl_mu (taken after store_mu,
	 * never before it) */
	pthread_mutex_t ctl_mu;
	pthread_cond_t tick_cv;
	/* Pause confirmations believed (in ctl_dev) and not yet stored: the
	 * ticker stores them in one transaction once none came for
	 * confirm_quiet_ms or the first waited confirm_batch_ms, so that
	 * 10,000 agents confirming a pause cost one commit after the
	 * fan-out, none during it. Under ctl_mu. */
	struct pending_confirm {
		uint8_t dev[16];
		char dev_hex[33];
		uint64_t epoch, last_seq;
		int64_t t;
	} *pconf;
	size_t n_pconf;
	uint64_t pconf_first_ns, pconf_last_ns; /* st_mono_ns of a->clock */
	uint64_t confirm_quiet_ns, confirm_batch_ns;
	uint64_t epoch;
	struct ctl_scope *scopes;  /* every scope a pause ever named */
	size_t n_scopes, cap_scopes;
	struct st_pause *force;    /* the pauses in force */
	size_t n_force, cap_force;
	struct ctl_dev *devs;      /* open addressing by device id */
	size_t dev_cap, dev_n;
	struct areq *held_head, *held_tail; /* held polls, oldest first */
	size_t n_held;
	bool ctl_closing, ticker_stop, ticker_up;
	pthread_t ticker;
	uint8_t *lease_sk;         /* sodium_malloc'ed, 64 bytes */
	/* The audit log's writer (auditlog.h), under store_mu. */
	struct st_auditlog *audit;
	int64_t last_sweep_s; /* under store_mu */
	uint32_t validity_ms, hold_s;
};

/* Per scope a pause ever named: the newest pause and the newest pause or
 * resume (a device's lease sequence is the largest last_event over the
 * scopes covering it). Scopes are acts of officers: few, so a linear scan
 * per lookup is cheap beside the request it serves. */
struct ctl_scope {
	int scope;
	char value[ST_STORE_SCOPE_VALUE_MAX + 1];
	uint64_t last_event, last_pause;
};

/* What the server knows of one device's control channel. */
struct ctl_dev {
	uint8_t id[16];
	bool used;
	bool revoked;          /* revoked since start: held polls get 403 */
	unsigned held;         /* polls held now */
	int64_t last_answer_s; /* last lease answered (0: none since start) */
	int64_t last_poll_s;
	int agent_state;       /* as the agent last said */
	uint64_t conf_epoch;   /* newest pause it confirmed (0: none) */
	uint64_t conf_last_seq;
	/* its person's name and group ("name\0group\0"), kept from the
	 * first verified lease poll: neither changes for a stored person,
	 * and erasure and revocation reach `revoked` (api_device_revoked).
	 * NULL until then. */
	char *who;
};

/* What a request carries between phases. */
enum route {
	R_NONE = 0,
	R_HEALTH, R_CA, R_ENROLL, R_SEGMENTS,
	R_DEV_POLICY, R_DEV_ACCEPT, R_DEV_FORGET,
	R_A_STATUS, R_A_USERS_ADD, R_A_USERS_LIST, R_A_DEVICES,
	R_A_REVOKE, R_A_ETOKENS, R_A_POLICY_GET, R_A_POLICY_APPLY,
	R_A_BACKUP, R_A_FLAGS,
	R_DEV_LEASE, R_A_PAUSE, R_A_RESUME, R_A_CONTROL,
	/* least privilege (api_access.c) */
	R_TOKENS_LIST, R_TOKENS_CREATE, R_TOKENS_REVOKE, R_TOKENS_APPROVE,
	R_PURPOSES_LIST, R_PURPOSES_PROPOSE, R_PURPOSES_APPROVE,
	R_PURPOSES_REVOKE, R_AUDIT_ENTRIES, R_AUDIT_CHECKPOINT, R_AUDIT_PROOF,
	R_PERSON_ACCESS, R_ERASE, R_SWEEP, R_KEYS_PEOPLE, R_KEYS_ROTATE,
	/* export (api_export.c) */
	R_EXPORT_START, R_EXPORT_SEGMENT, R_EXPORT_FINISH,
};

struct areq {
	enum route route;
	uint8_t path_id[16]; /* /v1/admin/devices/{id}/revoke */
	struct job job;      /* R_SEGMENTS */
	char token_name[ST_STORE_TOKEN_NAME_MAX + 1]; /* token routes */
	struct st_token token;                        /* token routes */
	char actor[ST_STORE_AUDIT_ACTOR_MAX + 1];     /* for the audit log */
	char path_name[ST_STORE_NAME_MAX + 1];        /* /v1/people/{name}/... */
	/* R_DEV_LEASE: the poll, kept while it is held */
	struct st_http_req *r;
	uint8_t dev[16];
	char dev_hex[33];
	char person[ST_STORE_NAME_MAX + 1];
	char group[ST_STORE_GROUP_MAX + 1];
	uint8_t nonce[16];
	uint64_t have_seq;
	uint64_t deadline_ns; /* monotonic */
	bool held;            /* in the held list (under ctl_mu) */
	atomic_bool in_list;  /* the same, readable without the lock */
	struct areq *prev, *next;
};


int64_t api_now_s(const struct st_api *a);
void api_log(struct st_api *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void api_reply_json(struct st_http_req *r, unsigned status, json_t *j);
void api_reply_err(struct st_http_req *r, enum st_api_kind kind, int code,
		   const struct st_error *e);
void api_reply_fail(struct st_http_req *r, enum st_api_kind kind, int code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void api_hex(const uint8_t *p, size_t n, char *out);
json_t *api_j_hex(const uint8_t *p, size_t n);
json_t *api_j_b64(const uint8_t *p, size_t n);
json_t *api_j_int(int64_t v);
json_t *api_j_u64(uint64_t v);

int api_load_obj(const uint8_t *body, size_t len, json_t **out,
		 struct st_error *err);
int api_only_keys(json_t *o, const char *const *keys, struct st_error *err);
int api_get_str(json_t *o, const char *key, bool required, size_t min,
		size_t max, char *out, size_t cap, struct st_error *err);
int api_get_hex(json_t *o, const char *key, uint8_t *out, size_t n,
		struct st_error *err);
int api_get_b64(json_t *o, const char *key, uint8_t *out, size_t n,
		struct st_error *err);
int api_get_int(json_t *o, const char *key, bool required, int64_t min,
		int64_t max, int64_t *out, struct st_error *err);

/* Tells the control channel a device was revoked (its held poll learns it
 * at once). Without store_mu or ctl_mu held. */
void api_device_revoked(struct st_api *a, const uint8_t id[16]);

/* api_access.c: the least-privilege endpoints (tokens, purposes, audit,
 * erasure, retention, keys). */
void api_access_handle(struct st_api *a, struct st_http_req *r,
		       struct areq *q);
/* api_export.c: an export's start, its segments, its end. */
void api_export_handle(struct st_api *a, struct st_http_req *r,
		       struct areq *q);

/* The caller's name in the audit log: the pseudonym of the token's person
 * (made on first use), or the token's name for init's person-less admin
 * token. store_mu held, no transaction open. */
int api_actor(struct st_api *a, const struct st_token *t,
	      char out[ST_STORE_AUDIT_ACTOR_MAX + 1], struct st_error *err);
/* Opens the audit log at start (api.c calls it from st_api_new). */
int api_access_start(struct st_api *a, struct st_error *err);
/* The ticker's periodic work: a due checkpoint, a due retention sweep.
 * Takes store_mu itself. */
void api_access_tick(struct st_api *a);

/* Calls cb for every person (device) of the admin store, page after page
 * (store_mu held); a positive answer from cb stops early, a negative one
 * fails the call. */
int api_each_person(struct st_api *a, st_store_person_cb cb, void *ctx,
		    struct st_error *err);
int api_each_device(struct st_api *a, st_store_device_cb cb, void *ctx,
		    struct st_error *err);

/* A store transaction whose audit entries commit or vanish with it
 * (store_mu held). */
int api_tx_begin(struct st_api *a, struct st_error *err);
int api_tx_commit(struct st_api *a, struct st_error *err);
void api_tx_rollback(struct st_api *a);

/* Appends an audit entry for q's caller in the store transaction that is
 * open (store_mu held); object and purpose may be "". */
int api_audit(struct st_api *a, const struct areq *q, const char *action,
	      const char *object, const char *purpose, int result,
	      struct st_error *err);
/* The same in a transaction of its own (store_mu held, none open): for
 * refusals and reads. Failures are logged, not answered. */
void api_audit_now(struct st_api *a, const struct areq *q,
		   const char *action, const char *object,
		   const char *purpose, int result);

#endif
