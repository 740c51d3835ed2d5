/* roles.c - role names and the grant rule. */
#include "access/roles.h"

#include <string.h>

static const char *const names[ST_ROLE_COUNT] = {
	[ST_ROLE_ADMIN] = "admin",     [ST_ROLE_OFFICER] = "officer",
	[ST_ROLE_STEWARD] = "steward", [ST_ROLE_AUDITOR] = "auditor",
	[ST_ROLE_PERSON] = "person",
};

const char *st_role_name(enum st_role r)
{
	if ((unsigned)r >= ST_ROLE_COUNT)
		return NULL;
	return names[r];
}

int st_role_parse(const char *name, enum st_role *out, struct st_error *err)
{
	for (unsigned i = 0; name && i < ST_ROLE_COUNT; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum st_role)i;
			return 0;
		}
	char safe[65];
	size_t i = 0;
	for (; name && name[i] && i < sizeof safe - 1; i++)
		safe[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	safe[i] = 0;
	return st_fail(err, ST_E_INVAL,
		       "role \"%s\": not a role; use admin, officer, "
		       "steward, auditor or person",
		       safe);
}

bool st_role_needs_officer(enum st_role r)
{
	return r == ST_ROLE_OFFICER || r == ST_ROLE_STEWARD;
}
