/* test_roles.c - the roles of the API (access/roles.h): each role's name
 * and its parse back, the refusal of any other name (case, plural, blank,
 * prefix) with the valid ones listed, and which grants need a privacy
 * officer: officer and steward, and no other. */
#include "helpers.h"

#include "access/roles.h"

static const struct {
	enum st_role role;
	const char *name;
	bool needs_officer;
} ROLES[] = {
	{ST_ROLE_ADMIN, "admin", false},
	{ST_ROLE_OFFICER, "officer", true},
	{ST_ROLE_STEWARD, "steward", true},
	{ST_ROLE_AUDITOR, "auditor", false},
	{ST_ROLE_PERSON, "person", false},
};
#define N_ROLES (sizeof ROLES / sizeof ROLES[0])

static void names_each_role(void **state)
{
	(void)state;
	assert_int_equal(N_ROLES, ST_ROLE_COUNT);
	for (size_t i = 0; i < N_ROLES; i++) {
		const char *n = st_role_name(ROLES[i].role);
		assert_non_null(n);
		assert_string_equal(n, ROLES[i].name);
	}
	/* the enum's values are stored and compared: pin them */
	assert_int_equal(ST_ROLE_ADMIN, 0);
	assert_int_equal(ST_ROLE_OFFICER, 1);
	assert_int_equal(ST_ROLE_STEWARD, 2);
	assert_int_equal(ST_ROLE_AUDITOR, 3);
	assert_int_equal(ST_ROLE_PERSON, 4);
	assert_int_equal(ST_ROLE_BIT(ST_ROLE_STEWARD), 4u);
}

static void names_nothing_outside_the_roles(void **state)
{
	(void)state;
	assert_null(st_role_name(ST_ROLE_COUNT));
	assert_null(st_role_name((enum st_role)(ST_ROLE_COUNT + 1)));
	assert_null(st_role_name((enum st_role)-1));
	assert_null(st_role_name((enum st_role)0x7fffffff));
}

static void parses_each_name_back_to_its_role(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROLES; i++) {
		enum st_role r = (enum st_role)99;
		struct st_error e = {0};
		assert_int_equal(st_role_parse(ROLES[i].name, &r, &e), 0);
		assert_int_equal(r, ROLES[i].role);
		assert_int_equal(e.code, 0);
		/* and st_error is optional */
		r = (enum st_role)99;
		assert_int_equal(st_role_parse(ROLES[i].name, &r, NULL), 0);
		assert_int_equal(r, ROLES[i].role);
	}
}

static void refuses_any_other_name_listing_the_valid_ones(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"Admin",   "OFFICER", "officers", "steward ", " steward",
		"",        "root",    "adm",      "admin\n", "privacy-officer",
		"everyone", "*",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum st_role r = (enum st_role)99;
		struct st_error e = {0};
		assert_fails_with(st_role_parse(bad[i], &r, &e), ST_E_INVAL, &e,
				  "not a role; use admin, officer, steward, "
				  "auditor or person");
		assert_int_equal(e.code, ST_E_INVAL);
		/* the message names the input, control characters shown as
		 * '?' so that a name cannot forge a line */
		char quoted[64], shown[32];
		size_t k = 0;
		for (; bad[i][k] && k < sizeof shown - 1; k++)
			shown[k] = (unsigned char)bad[i][k] < 0x20 ? '?'
								    : bad[i][k];
		shown[k] = 0;
		snprintf(quoted, sizeof quoted, "role \"%s\"", shown);
		assert_non_null(strstr(e.msg, quoted));
		/* nothing is written on refusal */
		assert_int_equal(r, 99);
	}
	struct st_error e = {0};
	enum st_role r = (enum st_role)99;
	assert_fails_with(st_role_parse(NULL, &r, &e), ST_E_INVAL, &e,
			  "not a role");
	assert_int_equal(r, 99);
	assert_int_equal(st_role_parse("auditors", &r, NULL), ST_E_INVAL);
}

static void officer_and_steward_grants_need_an_officer(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROLES; i++)
		if (st_role_needs_officer(ROLES[i].role) !=
		    ROLES[i].needs_officer)
			fail_msg("%s: needs_officer should be %d", ROLES[i].name,
				 ROLES[i].needs_officer);
	assert_false(st_role_needs_officer(ST_ROLE_COUNT));
	assert_false(st_role_needs_officer((enum st_role)-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_each_role),
		cmocka_unit_test(names_nothing_outside_the_roles),
		cmocka_unit_test(parses_each_name_back_to_its_role),
		cmocka_unit_test(refuses_any_other_name_listing_the_valid_ones),
		cmocka_unit_test(officer_and_steward_grants_need_an_officer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
