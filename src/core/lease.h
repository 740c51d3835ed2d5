/* lease.h - owns the lease: the server's signed permission for one device
 * to record (or order to pause), its byte layout, signing and every check
 * an agent makes before it believes one. Agent and server meet here and in
 * docs/api.md. Never reads a clock: callers pass what they compare.
 *
 * A lease, v1 (little-endian integers), then an Ed25519 signature by the
 * server's lease key over "sealtrace-lease-v1\0" || the bytes before it:
 *   0   4  magic "STLS"
 *   4   1  version 1
 *   5   1  state: 1 record, 2 pause
 *   6   1  flags: bit 0 discard_unsent (pause: delete what was recorded
 *          before it and not yet sent)
 *   7   1  reason length R (0..ST_LEASE_REASON_MAX)
 *   8  16  device id
 *  24   8  lease sequence: the server's epoch, raised by every pause and
 *          resume; segments carry the one they were recorded under
 *  32  32  policy hash the lease was issued under
 *  64  16  nonce: the one the agent sent with its poll, echoed
 *  80   4  validity in ms, counted by the agent from when it sent the poll
 *  84   8  issued, server Unix seconds (for people; never compared)
 *  92   R  reason, UTF-8 (the pause's reason; empty for record)
 *  92+R 64 signature
 * Old (sequence below the newest the agent holds), replayed (nonce not the
 * one outstanding), forged (signature), foreign (another device) and
 * malformed leases are refused, each with its own code. */
#ifndef ST_LEASE_H
#define ST_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_LEASE_MAGIC "STLS"
#define ST_LEASE_VERSION 1
#define ST_LEASE_RECORD 1
#define ST_LEASE_PAUSE 2
#define ST_LEASE_FLAG_DISCARD 0x01
#define ST_LEASE_REASON_MAX 200
#define ST_LEASE_FIXED_LEN 92
#define ST_LEASE_SIG_LEN 64
#define ST_LEASE_MAX (ST_LEASE_FIXED_LEN + ST_LEASE_REASON_MAX + ST_LEASE_SIG_LEN)
#define ST_LEASE_NONCE_LEN 16
#define ST_LEASE_VALIDITY_DEFAULT_MS 60000u
#define ST_LEASE_VALIDITY_MAX_MS (24u * 3600 * 1000)

struct st_lease {
	uint8_t state;               /* ST_LEASE_RECORD or ST_LEASE_PAUSE */
	uint8_t flags;
	uint8_t device_id[16];
	uint64_t seq;
	uint8_t policy_hash[32];
	uint8_t nonce[ST_LEASE_NONCE_LEN];
	uint32_t validity_ms;        /* 1..ST_LEASE_VALIDITY_MAX_MS */
	int64_t issued_s;
	char reason[ST_LEASE_REASON_MAX + 1]; /* NUL-terminated */
};

/* Writes the signed lease into out (cap >= ST_LEASE_MAX); *len its size.
 * sk: the lease key's Ed25519 secret (64 bytes). ST_E_INVAL for a state,
 * validity or reason out of range. */
int st_lease_sign(const struct st_lease *l, const uint8_t *sk, uint8_t *out,
		  size_t cap, size_t *len, struct st_error *err);

/* What the agent expects of the next lease. */
struct st_lease_expect {
	const uint8_t *server_pk;  /* pinned lease public key, 32 bytes */
	const uint8_t *device_id;  /* 16 */
	const uint8_t *nonce;      /* the outstanding poll's, 16 */
	uint64_t min_seq;          /* newest sequence already held (0: none) */
};

/* Parses and checks a lease: structure (ST_E_TRUNCATED, ST_E_BAD_MAGIC,
 * ST_E_VERSION, ST_E_CORRUPT), signature by the pinned key
 * (ST_E_SIGNATURE), device (ST_E_LEASE_DEVICE), nonce (ST_E_LEASE_REPLAY),
 * sequence not below min_seq (ST_E_LEASE_OLD). out receives it only when
 * every check passed. */
int st_lease_verify(const uint8_t *p, size_t len,
		    const struct st_lease_expect *x, struct st_lease *out,
		    struct st_error *err);

#endif
