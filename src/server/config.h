/* config.h - owns the server's configuration: the data folder's layout,
 * config.json and its defaults, and the rule that no master secret may be
 * anywhere the server reads. Never opens the database; never reads a key's
 * secret bytes (it reads key-file header lines only, to refuse a master
 * secret).
 *
 * Data folder (0700, made by `sealtrace init`):
 *   config.json        this file's settings (0600)
 *   sealtrace.db       the SQLite store (+ -wal, -shm), 0600
 *   master.pub         the master public key (X25519), from the export host
 *   tls/ca.pem         the CA certificate agents pin (made by init, or the
 *   tls/ca.key         operator's own; ca.key absent then), 0600
 *   tls/server.pem     the server certificate chain, server.key 0600
 *   keys/lease.key     lease-signing Ed25519 secret (0600) and lease.pub
 *   keys/audit.key     audit-checkpoint Ed25519 secret (0600) and audit.pub
 *   tmp/               backups being made (0700)
 * Relative paths in config.json are relative to the data folder. */
#ifndef ST_SERVER_CONFIG_H
#define ST_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define ST_CFG_PATH_MAX 1024
#define ST_CFG_LISTEN_DEFAULT "127.0.0.1:8443"
#define ST_CFG_BODY_MAX_DEFAULT (16u << 20)
#define ST_CFG_BODY_MAX_CAP (64u << 20)
/* Every agent keeps one long-poll open (POST /v1/device/lease), so each
 * connected agent holds a connection: a fleet needs connections_max above
 * its agent count (10,000 agents = 10,000 connections, and as many file
 * descriptors: raise `ulimit -n` / LimitNOFILE too). 1024 suits a pilot. */
#define ST_CFG_CONNECTIONS_DEFAULT 1024u
#define ST_CFG_CONN_TIMEOUT_DEFAULT_S 30u
#define ST_CFG_THREADS_DEFAULT 1u
#define ST_CFG_THREADS_MAX 64u
#define ST_CFG_FILE_MAX (64u << 10) /* config.json bytes */
/* Signed device requests: how far the device's clock may be from ours.
 * 900 s and not less: the lease poll is a signed request, and an agent
 * whose clock is 5 minutes off must still be able to poll and so be
 * paused; the signature binds method, path and body, and every signed
 * request is idempotent, so a wide window costs no safety (leases never
 * depend on device clocks: the agent counts validity on its monotonic
 * clock from when it sent the poll). */
#define ST_CFG_REQUEST_WINDOW_DEFAULT_S 900u
/* A lease is valid this long after the agent sent its poll: how long an
 * agent cut off from the server goes on recording at most. */
#define ST_CFG_LEASE_VALIDITY_DEFAULT_MS 60000u /* = ST_LEASE_VALIDITY_DEFAULT_MS */
#define ST_CFG_LEASE_VALIDITY_MIN_MS 1000u
/* How long the server holds a long-poll whose lease has not changed
 * before it answers a renewed lease; must be below the validity, so that
 * a connected agent renews before its lease runs out. */
#define ST_CFG_LEASE_HOLD_DEFAULT_S 25u
#define ST_CFG_LEASE_HOLD_MAX_S 300u
/* Pause confirmations are believed when they come and stored in one
 * transaction once none came for confirm_quiet_ms, or once the first of
 * them waited confirm_batch_ms: a fleet confirming a pause costs one
 * commit after the fan-out, not commits during it. */
#define ST_CFG_CONFIRM_QUIET_DEFAULT_MS 50u
#define ST_CFG_CONFIRM_BATCH_DEFAULT_MS 1000u
#define ST_CFG_CONFIRM_MAX_MS 60000u
#define ST_CFG_AUDIT_CP_ENTRIES_DEFAULT 1000u
#define ST_CFG_AUDIT_CP_S_DEFAULT 600u
#define ST_CFG_SWEEP_S_DEFAULT 3600u

struct st_server_config {
	char dir[ST_CFG_PATH_MAX];    /* the data folder, absolute */
	char listen[256];             /* "127.0.0.1:8443", "[::1]:0" (0: any
					 free port; serve prints the one it
					 got) */
	bool plain_http;              /* only ever on a loopback address */
	/* Absolute after load (relative ones resolved against dir). */
	char db[ST_CFG_PATH_MAX];
	char tls_cert[ST_CFG_PATH_MAX], tls_key[ST_CFG_PATH_MAX];
	char tls_ca[ST_CFG_PATH_MAX];
	char master_public[ST_CFG_PATH_MAX];
	char lease_key[ST_CFG_PATH_MAX], lease_pub[ST_CFG_PATH_MAX];
	char audit_key[ST_CFG_PATH_MAX], audit_pub[ST_CFG_PATH_MAX];
	uint32_t body_max;             /* bytes, <= ST_CFG_BODY_MAX_CAP */
	uint32_t connections_max;
	uint32_t connection_timeout_s;
	uint32_t request_window_s;     /* signed device requests */
	uint32_t ingest_window_past_s, ingest_window_future_s;
	uint32_t threads;              /* 1..ST_CFG_THREADS_MAX */
	uint32_t enroll_ttl_default_s; /* 86400 */
	/* The kill switch (docs/api.md, "Control"). 0 in a struct filled by
	 * hand means the default. lease_hold_s * 1000 < lease_validity_ms. */
	uint32_t lease_validity_ms;    /* 1000..ST_LEASE_VALIDITY_MAX_MS */
	uint32_t lease_hold_s;         /* 1..ST_CFG_LEASE_HOLD_MAX_S */
	uint32_t confirm_quiet_ms;     /* 1..ST_CFG_CONFIRM_MAX_MS */
	uint32_t confirm_batch_ms;     /* 1..ST_CFG_CONFIRM_MAX_MS */
	/* The audit log signs a checkpoint after this many new entries or
	 * this many seconds with new entries, whichever comes first. */
	uint32_t audit_checkpoint_entries; /* 1..1000000, default 1000 */
	uint32_t audit_checkpoint_s;       /* 1..86400, default 600 */
	/* How often the retention sweeper runs (it also runs at start). */
	uint32_t retention_sweep_s;        /* 1..86400, default 3600 */
};

/* Fills every field with its default for data folder dir (made absolute). */
int st_server_config_defaults(struct st_server_config *c, const char *dir,
			      struct st_error *err);
/* Reads dir/config.json over the defaults. Unknown keys, wrong types and
 * out-of-range values are ST_E_JSON naming the key; a key that names a
 * master secret ("master_secret", "master_key") is ST_E_MASTER_SECRET. */
int st_server_config_load(const char *dir, struct st_server_config *c,
			  struct st_error *err);
/* Writes dir/config.json (0600, atomically) with every field, paths
 * relative to dir where they lie inside it. */
int st_server_config_save(const struct st_server_config *c,
			  struct st_error *err);
/* Refuses (ST_E_MASTER_SECRET, naming the file and saying to move it to the
 * export host) when any regular file in dir, or one level below it, is a
 * key file labelled ST_KEY_MASTER_SECRET, or when master_public holds a
 * secret. Reads only the first line of each file. */
int st_server_config_check_no_master_secret(const struct st_server_config *c,
					    struct st_error *err);
/* Whether listen names a loopback address (127.0.0.0/8, ::1, localhost). */
bool st_server_config_listen_is_loopback(const char *listen);

#endif
