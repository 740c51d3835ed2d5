/* roles.h - owns the roles of sealtrace's API and what each may be granted
 * by whom (issue "Least privilege"; docs/security.md). Which role may call
 * which endpoint is not here: the server's route table says it, in one
 * place (src/server/api.c). */
#ifndef ST_ROLES_H
#define ST_ROLES_H

#include <stdbool.h>

#include "core/err.h"

enum st_role {
	ST_ROLE_ADMIN = 0,   /* people, devices, pause; never content */
	ST_ROLE_OFFICER = 1, /* privacy officer: approves purposes, pauses,
				reads the audit log */
	ST_ROLE_STEWARD = 2, /* data steward: proposes purposes, exports
				under approved ones */
	ST_ROLE_AUDITOR = 3, /* reads and verifies the audit log */
	ST_ROLE_PERSON = 4,  /* their own data's access history */
	ST_ROLE_COUNT = 5,
};

/* One bit per role, for permission masks. */
#define ST_ROLE_BIT(r) (1u << (unsigned)(r))

/* "admin", "officer", "steward", "auditor", "person"; NULL outside. */
const char *st_role_name(enum st_role r);
/* The role of a name; ST_E_INVAL naming the valid ones. */
int st_role_parse(const char *name, enum st_role *out, struct st_error *err);
/* Whether granting r needs a privacy officer's approval (officer and
 * steward: an admin cannot grant them alone). */
bool st_role_needs_officer(enum st_role r);

#endif
