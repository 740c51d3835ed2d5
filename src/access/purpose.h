/* purpose.h - owns what a purpose grant may say and who may approve it:
 * the proposal's JSON form, its check against the collection policy (the
 * purpose is one the policy lists; every steward is one named person the
 * policy lets be named for it, never a group, a role or everyone; expiry
 * at most ST_PURPOSE_DAYS_MAX days; level at most the policy's export
 * level) and the two-person rule. Pure: the server brings the people,
 * their notices and the approvals from its store.
 *
 * Proposal JSON (POST /v1/purposes; docs/security.md):
 *   {"name": "<a purpose of the policy>", "description": "...",
 *    "stewards": ["ann@example.com", ...],        1..ST_PURPOSE_STEWARDS_MAX
 *    "expires_days": 1..90,
 *    "scope": {"people": [names], "groups": [names],  at least one name
 *              "apps": [globs],                       [] = every app
 *              "from": unix s, "until": unix s,       recorded between
 *              "level": 1..3,                         highest level
 *              "fields": ["pointer","keys","text","titles","apps"]}}
 * Every key is required but apps (default []) and fields (default all). */
#ifndef ST_PURPOSE_H
#define ST_PURPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/policy.h"

#define ST_PURPOSE_DAYS_MAX 90
#define ST_PURPOSE_STEWARDS_MAX 16
#define ST_PURPOSE_NAMES_MAX 256 /* people + groups in a scope */
#define ST_PURPOSE_APPS_MAX 32
#define ST_PURPOSE_NAME_LEN 254
#define ST_PURPOSE_JSON_MAX 8192

/* Scope fields (bits). */
enum {
	ST_PURPOSE_F_POINTER = 1u << 0,
	ST_PURPOSE_F_KEYS = 1u << 1,
	ST_PURPOSE_F_TEXT = 1u << 2,
	ST_PURPOSE_F_TITLES = 1u << 3,
	ST_PURPOSE_F_APPS = 1u << 4,
	ST_PURPOSE_F_ALL = 0x1f,
};

struct st_purpose_scope {
	char (*people)[ST_PURPOSE_NAME_LEN + 1];
	size_t n_people;
	char (*groups)[ST_PURPOSE_NAME_LEN + 1];
	size_t n_groups;
	char (*apps)[ST_PURPOSE_NAME_LEN + 1];
	size_t n_apps;
	int64_t from_s, until_s; /* from < until */
	int level;               /* 1..3 */
	unsigned fields;         /* ST_PURPOSE_F_* */
};

struct st_purpose_req {
	char name[65];
	char description[601];
	char stewards[ST_PURPOSE_STEWARDS_MAX][ST_PURPOSE_NAME_LEN + 1];
	size_t n_stewards;
	int expires_days;
	struct st_purpose_scope scope;
};

void st_purpose_req_fini(struct st_purpose_req *r);
void st_purpose_scope_fini(struct st_purpose_scope *s);

/* Strict parse of a proposal (unknown keys, wrong types, bounds: ST_E_JSON
 * or ST_E_INVAL naming the key). */
int st_purpose_parse(const char *json, size_t len, struct st_purpose_req *out,
		     struct st_error *err);
/* The scope object alone (as stored: canonical JSON of the scope). */
int st_purpose_scope_parse(const char *json, size_t len,
			   struct st_purpose_scope *out, struct st_error *err);
/* Canonical JSON of the scope (sorted keys), malloc'ed, NUL-terminated. */
char *st_purpose_scope_json(const struct st_purpose_scope *s);
/* Canonical JSON array of the stewards. */
char *st_purpose_stewards_json(const struct st_purpose_req *r);
/* Parses a stored stewards array into names (at most cap). */
int st_purpose_stewards_parse(const char *json,
			      char names[][ST_PURPOSE_NAME_LEN + 1],
			      size_t cap, size_t *n, struct st_error *err);

/* The proposal against the policy: ST_E_PURPOSE (not a purpose of the
 * policy), ST_E_BROAD_GRANT (a steward who is a group, a role, a pattern
 * or everyone, or a scope naming "*"), ST_E_FORBIDDEN (a steward the
 * policy does not let be named for this purpose), ST_E_INVAL (level over
 * the policy's export level, expiry out of 1..90 days). */
int st_purpose_check(const struct st_purpose_req *r,
		     const struct st_policy *p, struct st_error *err);

/* The two-person rule for one approval: the officer is neither the
 * proposer nor a named steward, and has not approved already; people are
 * compared (ids), never tokens. ST_E_TWO_PERSON naming the reason. */
int st_purpose_may_approve(const uint8_t officer[16],
			   const uint8_t proposer[16],
			   const uint8_t (*stewards)[16], size_t n_stewards,
			   const uint8_t (*approvers)[16], size_t n_approvers,
			   struct st_error *err);

/* Approvals a purpose needs before it can be used. */
#define ST_PURPOSE_APPROVALS 2

#endif
