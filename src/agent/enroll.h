/* enroll.h - owns enrollment with a server and the server's side of
 * acceptance: pinning the server's CA and lease key from the fingerprints
 * inside the enrollment token, the device's key pair, and the signed
 * acceptance record. Never sends the token before the CA is pinned; never
 * writes the token, or prints it, anywhere. */
#ifndef ST_ENROLL_H
#define ST_ENROLL_H

#include "agent/consent.h"
#include "core/err.h"
#include "core/keys.h"

#define ST_CA_DER_MAX (16u << 10) /* the server's CA certificate, DER */
#define ST_ENROLL_ANSWER_MAX (1u << 20)

/* `sealtrace-agent enroll URL TOKEN`: parses the token, fetches GET /v1/ca
 * without trusting the connection, checks the CA certificate's and the
 * lease key's SHA-256 against the token (ST_E_PIN, nothing written), writes
 * ca.pem and lease.pub, then POSTs /v1/enroll over TLS verified against
 * that CA alone (a server the CA did not sign: ST_E_PIN) with a new device
 * key pair, this account's name and the host name, and writes the folder
 * (identity.json last: it marks the folder enrolled). Refuses an enrolled
 * folder. Leftovers of a failed attempt (no identity.json) are replaced. */
int st_enroll_server(const struct st_agent_paths *p, const char *url,
		     const char *token, struct st_error *err);

/* The checks and writes enroll makes of the server's answer to POST
 * /v1/enroll (answer: its body): ids, person key, policy and notice against
 * their hashes, then the folder's files. Exposed for the fuzz target. */
int st_enroll_keep_answer(const struct st_agent_paths *p, const char *url,
			  const uint8_t *answer, size_t len,
			  const uint8_t lease_pk[32], const char *local_user,
			  const char *host, struct st_error *err);
/* Whether the folder was enrolled with a server (server.json present). */
bool st_enrolled_with_server(const struct st_agent_paths *p);

/* POST /v1/device/acceptances for notice_hash (hex), signed by the device,
 * as the account running this. On any failure the message says that
 * nothing was accepted and to retry. */
int st_accept_server(const struct st_agent_paths *p, const char *notice_hex,
		     struct st_error *err);

#endif
