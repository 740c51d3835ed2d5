/* consent.h - owns the agent's state folder and the consent gate: the
 * identity and keys made at enrollment, the notice and policy the person was
 * shown, and their acceptance. Never records without an acceptance that
 * matches the notice on disk; never accepts for another user. */
#ifndef ST_CONSENT_H
#define ST_CONSENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/capture.h"
#include "core/err.h"
#include "core/policy.h"
#include "core/seal.h"

#define ST_PATH_MAX 1024
#define ST_NOTICE_MAX (256u << 10) /* notice bytes */
#define ST_POLICY_MAX (256u << 10)
#define ST_ACCEPT_PHRASE "I accept"

struct st_agent_paths {
	char dir[ST_PATH_MAX];
	char spool[ST_PATH_MAX];
	char socket[ST_PATH_MAX];
	char state_file[ST_PATH_MAX];
	char running[ST_PATH_MAX];
	char forget[ST_PATH_MAX];
};

/* Resolves the folder: state_dir, else $SEALTRACE_AGENT_DIR, else
 * $XDG_STATE_HOME/sealtrace, else ~/.local/state/sealtrace. The socket:
 * socket_path, else $SEALTRACE_AGENT_SOCKET, else
 * $XDG_RUNTIME_DIR/sealtrace-agent.sock, else <dir>/run/agent.sock (run/ is
 * 0700). */
int st_agent_paths_init(struct st_agent_paths *p, const char *state_dir,
			const char *socket_path, struct st_error *err);
/* Builds "<dir>/<name>" into out. */
void st_agent_path(const struct st_agent_paths *p, const char *name, char *out);

/* Development enrollment: copies policy and notice, reads the person's
 * public key, makes the device key pair and ids. Refuses an enrolled
 * folder (move it away to enroll again). */
int st_enroll_local(const struct st_agent_paths *p, const char *policy_file,
		    const char *notice_file, const char *recipient_file,
		    struct st_error *err);

/* Shows the notice on out and records acceptance when the person types
 * ST_ACCEPT_PHRASE on in (a terminal), or when given_hash (hex SHA-256 of the
 * shown notice) matches. Refuses when the folder belongs to another user. */
int st_accept(const struct st_agent_paths *p, const char *given_hash, FILE *in,
	      FILE *out, struct st_error *err);

/* What `run` needs, checked: an acceptance of the notice now on disk. */
struct st_agent_identity {
	uint8_t device_id[ST_SEG_ID_LEN], person_id[ST_SEG_ID_LEN];
	uint8_t notice_hash[32], policy_hash[32];
	uint8_t person_pk[32];
	uint8_t device_pk[32];
	uint8_t *device_sk; /* st_secret_new'ed, freed by st_identity_fini */
	bool dev;           /* enrolled with --local */
	struct st_capture_kinds kinds;
	struct st_policy policy; /* checked; configures capture and filter */
};
int st_identity_load(const struct st_agent_paths *p,
		     struct st_agent_identity *id, struct st_error *err);
void st_identity_fini(struct st_agent_identity *id);

/* Parses and checks a policy and gives the capture kinds it lists; anything
 * not listed as true is off, and a policy that fails the check refuses all. */
int st_agent_policy(const char *json, size_t len, struct st_policy *p,
		    struct st_capture_kinds *k, struct st_error *err);

#endif
