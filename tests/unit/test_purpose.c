/* test_purpose.c - purpose proposals (access/purpose.h): the strict parse
 * and its refusal of every missing, unknown, repeated or ill-typed key and
 * every value out of its bounds; the check against a collection policy
 * (a purpose it lists, stewards who are named readers for that purpose and
 * never a group, a pattern or everyone, a level within the export level);
 * the two-person rule, people compared by id; and the canonical scope and
 * stewards JSON, each read back to the same thing. */
#include "helpers.h"

#include <jansson.h>

#include "access/purpose.h"
#include "core/policy.h"

#define PURPOSE "computer-use-training"
#define OTHER "support-quality"

/* Stella may be named for the training purpose, Sam only for the other:
 * export level 2 below keep level 3. */
static const char POLICY[] =
	"{\"version\":1,\"capture\":{\"pointer\":true,\"apps\":true},"
	"\"levels\":{\"keep\":3,\"export\":2},\"retention_days\":30,"
	"\"purposes\":[{\"name\":\"" PURPOSE "\",\"description\":\"Training "
	"data for models that operate applications.\"},{\"name\":\"" OTHER
	"\",\"description\":\"Reviewing support answers.\"}],"
	"\"readers\":[{\"name\":\"stella@example.com\",\"purposes\":[\"" PURPOSE
	"\"]},{\"name\":\"sam@example.com\",\"purposes\":[\"" OTHER "\"]},"
	"\"tess@example.com\"]}";

static struct st_policy POL;

static int setup(void **state)
{
	(void)state;
	struct st_error e = {0};
	st_policy_init(&POL);
	if (st_policy_parse(POLICY, strlen(POLICY), &POL, NULL, &e) != 0) {
		fprintf(stderr, "test policy refused: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	st_policy_fini(&POL);
	return 0;
}

/* ---- fixtures ---- */

/* A full proposal every test starts from; it passes parse and check. */
static json_t *base(void)
{
	json_t *o = json_pack(
		"{s:s,s:s,s:[s],s:i,s:{s:[s,s],s:[s],s:[s],s:I,s:I,s:i,"
		"s:[s,s]}}",
		"name", PURPOSE, "description",
		"Pointer and app data of the eng team for the agent model.",
		"stewards", "stella@example.com", "expires_days", 30, "scope",
		"people", "alice@example.com", "bob@example.com", "groups",
		"eng", "apps", "*firefox*", "from", (json_int_t)1764000000,
		"until", (json_int_t)1766000000, "level", 2, "fields",
		"pointer", "apps");
	assert_non_null(o);
	return o;
}

/* o with key replaced by v (NULL: removed); "scope.K" reaches into the
 * scope. Takes v's reference. */
static json_t *with(json_t *o, const char *key, json_t *v)
{
	json_t *at = o;
	if (!strncmp(key, "scope.", 6)) {
		at = json_object_get(o, "scope");
		key += 6;
	}
	assert_non_null(at);
	if (v)
		json_object_set_new(at, key, v);
	else
		json_object_del(at, key);
	return o;
}

/* Parses o (consumed). */
static int parse_obj(json_t *o, struct st_purpose_req *r, struct st_error *e)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(s);
	int rc = st_purpose_parse(s, strlen(s), r, e);
	free(s);
	return rc;
}

/* o (consumed) is refused with code and a message containing word. */
static void refused(json_t *o, int code, const char *word)
{
	struct st_purpose_req r;
	struct st_error e = {0};
	int rc = parse_obj(o, &r, &e);
	if (rc != code)
		fail_msg("expected %s (%s), got %d: %s", st_strerror(code),
			 word, rc, e.msg);
	assert_fails_with(rc, code, &e, word);
	assert_int_equal(e.code, code);
	/* a refusal leaves nothing to free; a second fini is harmless */
	assert_null(r.scope.people);
	assert_null(r.scope.groups);
	assert_null(r.scope.apps);
	st_purpose_req_fini(&r);
}

static void accepted(json_t *o, struct st_purpose_req *r)
{
	struct st_error e = {0};
	int rc = parse_obj(o, r, &e);
	if (rc != 0)
		fail_msg("refused: %s", e.msg);
}

static void parse_str_refused(const char *s, int code, const char *word)
{
	struct st_purpose_req r;
	struct st_error e = {0};
	assert_fails_with(st_purpose_parse(s, strlen(s), &r, &e), code, &e,
			  word);
	st_purpose_req_fini(&r);
}

/* A list of n distinct names "p<i>@example.com". */
static json_t *names(size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char b[64];
		snprintf(b, sizeof b, "p%zu@example.com", i);
		json_array_append_new(a, json_string(b));
	}
	return a;
}

/* ---- parse ---- */

static void parses_a_full_proposal(void **state)
{
	(void)state;
	struct st_purpose_req r;
	accepted(base(), &r);
	assert_string_equal(r.name, PURPOSE);
	assert_string_equal(
		r.description,
		"Pointer and app data of the eng team for the agent model.");
	assert_int_equal(r.n_stewards, 1);
	assert_string_equal(r.stewards[0], "stella@example.com");
	assert_int_equal(r.expires_days, 30);
	assert_int_equal(r.scope.n_people, 2);
	assert_string_equal(r.scope.people[0], "alice@example.com");
	assert_string_equal(r.scope.people[1], "bob@example.com");
	assert_int_equal(r.scope.n_groups, 1);
	assert_string_equal(r.scope.groups[0], "eng");
	assert_int_equal(r.scope.n_apps, 1);
	assert_string_equal(r.scope.apps[0], "*firefox*");
	assert_int_equal(r.scope.from_s, 1764000000);
	assert_int_equal(r.scope.until_s, 1766000000);
	assert_int_equal(r.scope.level, 2);
	assert_int_equal(r.scope.fields,
			 ST_PURPOSE_F_POINTER | ST_PURPOSE_F_APPS);
	st_purpose_req_fini(&r);
	assert_null(r.scope.people);
}

static void apps_and_fields_take_their_defaults(void **state)
{
	(void)state;
	struct st_purpose_req r;
	accepted(with(with(base(), "scope.apps", NULL), "scope.fields", NULL),
		 &r);
	assert_int_equal(r.scope.n_apps, 0);
	assert_int_equal(r.scope.fields, ST_PURPOSE_F_ALL);
	st_purpose_req_fini(&r);
	/* "apps": [] is every app, the same as leaving it out */
	accepted(with(base(), "scope.apps", json_array()), &r);
	assert_int_equal(r.scope.n_apps, 0);
	st_purpose_req_fini(&r);
}

static void refuses_each_missing_required_key(void **state)
{
	(void)state;
	static const struct {
		const char *key;
		int code;
		const char *word;
	} k[] = {
		{"name", ST_E_INVAL, "\"name\""},
		{"description", ST_E_INVAL, "\"description\""},
		{"stewards", ST_E_JSON, "\"stewards\" is required"},
		{"expires_days", ST_E_JSON, "\"expires_days\" is required"},
		{"scope", ST_E_JSON, "\"scope\" is required"},
		{"scope.people", ST_E_JSON, "\"people\" is required"},
		{"scope.groups", ST_E_JSON, "\"groups\" is required"},
		{"scope.from", ST_E_JSON, "\"from\" is required"},
		{"scope.until", ST_E_JSON, "\"until\" is required"},
		{"scope.level", ST_E_JSON, "\"level\" is required"},
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		refused(with(base(), k[i].key, NULL), k[i].code, k[i].word);
}

static void refuses_unknown_keys(void **state)
{
	(void)state;
	refused(with(base(), "steward", json_string("sam@example.com")),
		ST_E_JSON, "unknown key \"steward\"");
	refused(with(base(), "approved", json_true()), ST_E_JSON,
		"unknown key \"approved\"");
	refused(with(base(), "scope.everyone", json_true()), ST_E_JSON,
		"scope: unknown key \"everyone\"");
	refused(with(base(), "scope.screenshots", json_true()), ST_E_JSON,
		"unknown key \"screenshots\"");
}

static void refuses_duplicate_keys(void **state)
{
	(void)state;
	/* a second "stewards" must not replace the first unseen */
	parse_str_refused(
		"{\"name\":\"" PURPOSE "\",\"description\":\"d\","
		"\"stewards\":[\"stella@example.com\"],\"stewards\":"
		"[\"everyone\"],\"expires_days\":1,\"scope\":{\"people\":"
		"[\"a\"],\"groups\":[],\"from\":0,\"until\":1,\"level\":1}}",
		ST_E_JSON, "duplicate");
	parse_str_refused(
		"{\"name\":\"" PURPOSE "\",\"description\":\"d\","
		"\"stewards\":[\"stella@example.com\"],\"expires_days\":1,"
		"\"scope\":{\"people\":[\"a\"],\"groups\":[],\"from\":0,"
		"\"until\":1,\"level\":1,\"level\":3}}",
		ST_E_JSON, "duplicate");
	/* the same text without the repeat parses: the key is the cause */
	const char *ok =
		"{\"name\":\"" PURPOSE "\",\"description\":\"d\","
		"\"stewards\":[\"stella@example.com\"],\"expires_days\":1,"
		"\"scope\":{\"people\":[\"a\"],\"groups\":[],\"from\":0,"
		"\"until\":1,\"level\":1}}";
	struct st_purpose_req r;
	struct st_error e = {0};
	assert_int_equal(st_purpose_parse(ok, strlen(ok), &r, &e), 0);
	st_purpose_req_fini(&r);
}

static void refuses_wrong_types(void **state)
{
	(void)state;
	refused(with(base(), "name", json_integer(7)), ST_E_INVAL, "\"name\"");
	refused(with(base(), "description", json_true()), ST_E_INVAL,
		"\"description\"");
	refused(with(base(), "stewards", json_string("stella@example.com")),
		ST_E_JSON, "\"stewards\" must be an array");
	refused(with(base(), "stewards", json_pack("[i]", 7)), ST_E_INVAL,
		"\"stewards\"[0]");
	refused(with(base(), "stewards", json_pack("[s,n]", "a@example.com")),
		ST_E_INVAL, "\"stewards\"[1]");
	refused(with(base(), "expires_days", json_string("30")), ST_E_JSON,
		"\"expires_days\" must be an integer");
	refused(with(base(), "expires_days", json_real(30.0)), ST_E_JSON,
		"\"expires_days\" must be an integer");
	refused(with(base(), "scope", json_pack("[]")), ST_E_JSON,
		"\"scope\" must be an object");
	refused(with(base(), "scope", json_string("everyone")), ST_E_JSON,
		"\"scope\" must be an object");
	refused(with(base(), "scope.people", json_string("alice@example.com")),
		ST_E_JSON, "\"people\" must be an array");
	refused(with(base(), "scope.groups", json_object()), ST_E_JSON,
		"\"groups\" must be an array");
	refused(with(base(), "scope.apps", json_string("*")), ST_E_JSON,
		"\"apps\" must be an array");
	refused(with(base(), "scope.level", json_string("2")), ST_E_JSON,
		"\"level\" must be an integer");
	refused(with(base(), "scope.from", json_null()), ST_E_JSON,
		"\"from\" must be an integer");
	refused(with(base(), "scope.until", json_real(1766000000.5)),
		ST_E_JSON, "\"until\" must be an integer");
	refused(with(base(), "scope.fields", json_string("pointer")),
		ST_E_JSON, "\"fields\" must be an array");
	refused(with(base(), "scope.fields", json_pack("[b]", 1)), ST_E_INVAL,
		"\"fields\"[0]");
	parse_str_refused("[]", ST_E_JSON, "not a JSON object");
	parse_str_refused("\"purpose\"", ST_E_JSON, "not a JSON object");
	parse_str_refused("{\"name\":", ST_E_JSON, "not a JSON object");
	parse_str_refused("", ST_E_JSON, "not a JSON object");
}

static void bounds_expires_days_to_1_through_90(void **state)
{
	(void)state;
	refused(with(base(), "expires_days", json_integer(0)), ST_E_INVAL,
		"\"expires_days\" must be 1 to 90, not 0");
	refused(with(base(), "expires_days", json_integer(91)), ST_E_INVAL,
		"\"expires_days\" must be 1 to 90, not 91");
	refused(with(base(), "expires_days", json_integer(-1)), ST_E_INVAL,
		"not -1");
	struct st_purpose_req r;
	accepted(with(base(), "expires_days", json_integer(1)), &r);
	assert_int_equal(r.expires_days, 1);
	st_purpose_req_fini(&r);
	accepted(with(base(), "expires_days", json_integer(90)), &r);
	assert_int_equal(r.expires_days, 90);
	st_purpose_req_fini(&r);
}

static void bounds_level_to_1_through_3(void **state)
{
	(void)state;
	refused(with(base(), "scope.level", json_integer(0)), ST_E_INVAL,
		"\"level\" must be 1 to 3, not 0");
	refused(with(base(), "scope.level", json_integer(4)), ST_E_INVAL,
		"\"level\" must be 1 to 3, not 4");
	for (int l = 1; l <= 3; l++) {
		struct st_purpose_req r;
		accepted(with(base(), "scope.level", json_integer(l)), &r);
		assert_int_equal(r.scope.level, l);
		st_purpose_req_fini(&r);
	}
}

static void refuses_a_scope_naming_no_one(void **state)
{
	(void)state;
	refused(with(with(base(), "scope.people", json_array()), "scope.groups",
		     json_array()),
		ST_E_INVAL, "never covers everyone");
	struct st_purpose_req r;
	accepted(with(base(), "scope.people", json_array()), &r);
	assert_int_equal(r.scope.n_people, 0);
	assert_int_equal(r.scope.n_groups, 1);
	st_purpose_req_fini(&r);
	accepted(with(base(), "scope.groups", json_array()), &r);
	assert_int_equal(r.scope.n_people, 2);
	assert_int_equal(r.scope.n_groups, 0);
	st_purpose_req_fini(&r);
	/* 256 names in all is the cap, split over people and groups */
	json_t *g = json_array();
	for (int i = 0; i < 56; i++) {
		char b[16];
		snprintf(b, sizeof b, "g%d", i);
		json_array_append_new(g, json_string(b));
	}
	accepted(with(with(base(), "scope.people", names(200)), "scope.groups",
		      json_deep_copy(g)),
		 &r);
	assert_int_equal(r.scope.n_people + r.scope.n_groups,
			 ST_PURPOSE_NAMES_MAX);
	st_purpose_req_fini(&r);
	json_array_append_new(g, json_string("one-more"));
	refused(with(with(base(), "scope.people", names(200)), "scope.groups",
		     g),
		ST_E_INVAL, "name 1 to 256 people or groups");
	refused(with(base(), "scope.people", names(ST_PURPOSE_NAMES_MAX + 1)),
		ST_E_CAP, "\"people\": 257 entries, over 256");
}

static void refuses_until_not_after_from(void **state)
{
	(void)state;
	refused(with(base(), "scope.until", json_integer(1764000000)),
		ST_E_INVAL, "\"until\" must be after \"from\"");
	refused(with(base(), "scope.until", json_integer(1763999999)),
		ST_E_INVAL, "\"until\" must be after \"from\"");
	refused(with(base(), "scope.from", json_integer(-1)), ST_E_INVAL,
		"\"from\" must be");
	refused(with(base(), "scope.until", json_integer(0)), ST_E_INVAL,
		"\"until\" must be");
	struct st_purpose_req r;
	accepted(with(base(), "scope.until", json_integer(1764000001)), &r);
	assert_int_equal(r.scope.until_s, 1764000001);
	st_purpose_req_fini(&r);
}

static void reads_each_field_name_to_its_bit(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned bit;
	} f[] = {
		{"pointer", ST_PURPOSE_F_POINTER}, {"keys", ST_PURPOSE_F_KEYS},
		{"text", ST_PURPOSE_F_TEXT},       {"titles", ST_PURPOSE_F_TITLES},
		{"apps", ST_PURPOSE_F_APPS},
	};
	json_t *all = json_array();
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		struct st_purpose_req r;
		accepted(with(base(), "scope.fields",
			      json_pack("[s]", f[i].name)),
			 &r);
		assert_int_equal(r.scope.fields, f[i].bit);
		st_purpose_req_fini(&r);
		json_array_append_new(all, json_string(f[i].name));
	}
	struct st_purpose_req r;
	accepted(with(base(), "scope.fields", all), &r);
	assert_int_equal(r.scope.fields, ST_PURPOSE_F_ALL);
	st_purpose_req_fini(&r);
	refused(with(base(), "scope.fields", json_pack("[s,s]", "pointer",
						       "screenshots")),
		ST_E_INVAL, "scope.fields[1]: \"screenshots\" is not a field");
	refused(with(base(), "scope.fields", json_pack("[s]", "Keys")),
		ST_E_INVAL, "not a field");
	refused(with(base(), "scope.fields", json_array()), ST_E_INVAL,
		"name at least one field");
	refused(with(base(), "scope.fields", json_pack("[s,s]", "keys", "keys")),
		ST_E_INVAL, "listed twice");
	refused(with(base(), "scope.fields",
		     json_pack("[s,s,s,s,s,s]", "pointer", "keys", "text",
			       "titles", "apps", "pointer")),
		ST_E_CAP, "\"fields\": 6 entries, over 5");
}

static void bounds_the_stewards(void **state)
{
	(void)state;
	refused(with(base(), "stewards", json_array()), ST_E_INVAL,
		"name at least one data steward");
	struct st_purpose_req r;
	accepted(with(base(), "stewards", names(ST_PURPOSE_STEWARDS_MAX)), &r);
	assert_int_equal(r.n_stewards, ST_PURPOSE_STEWARDS_MAX);
	assert_string_equal(r.stewards[15], "p15@example.com");
	st_purpose_req_fini(&r);
	refused(with(base(), "stewards", names(ST_PURPOSE_STEWARDS_MAX + 1)),
		ST_E_CAP, "\"stewards\": 17 entries, over 16");
	/* names: 1..254 bytes, no control characters */
	char longest[ST_PURPOSE_NAME_LEN + 2];
	memset(longest, 'a', sizeof longest);
	longest[ST_PURPOSE_NAME_LEN] = 0;
	accepted(with(base(), "stewards", json_pack("[s]", longest)), &r);
	assert_int_equal(strlen(r.stewards[0]), ST_PURPOSE_NAME_LEN);
	st_purpose_req_fini(&r);
	longest[ST_PURPOSE_NAME_LEN] = 'a';
	longest[ST_PURPOSE_NAME_LEN + 1] = 0;
	refused(with(base(), "stewards", json_pack("[s]", longest)),
		ST_E_INVAL, "\"stewards\"[0]: must be a string of 1 to 254");
	refused(with(base(), "stewards", json_pack("[s]", "")), ST_E_INVAL,
		"\"stewards\"[0]");
	refused(with(base(), "stewards", json_pack("[s,s]", "a@example.com",
						   "b@exa\nmple.com")),
		ST_E_INVAL, "\"stewards\"[1]");
	refused(with(base(), "scope.people", json_pack("[s]", "al\x7f")),
		ST_E_INVAL, "\"people\"[0]");
	/* an embedded NUL would make the name C sees shorter than the one
	 * checked */
	parse_str_refused(
		"{\"name\":\"" PURPOSE "\",\"description\":\"d\","
		"\"stewards\":[\"stella@example.com\\u0000x\"],"
		"\"expires_days\":1,\"scope\":{\"people\":[\"a\"],"
		"\"groups\":[],\"from\":0,\"until\":1,\"level\":1}}",
		ST_E_JSON, "not a JSON object");
}

static void refuses_repeated_names(void **state)
{
	(void)state;
	refused(with(base(), "stewards",
		     json_pack("[s,s,s]", "stella@example.com", "x@example.com",
			       "stella@example.com")),
		ST_E_INVAL, "\"stewards\"[2]: \"stella@example.com\" is listed "
			    "twice");
	refused(with(base(), "scope.people",
		     json_pack("[s,s]", "alice@example.com", "alice@example.com")),
		ST_E_INVAL, "\"people\"[1]: \"alice@example.com\" is listed twice");
	refused(with(base(), "scope.groups", json_pack("[s,s]", "eng", "eng")),
		ST_E_INVAL, "\"groups\"[1]");
	refused(with(base(), "scope.apps", json_pack("[s,s]", "*vim*", "*vim*")),
		ST_E_INVAL, "\"apps\"[1]");
	/* names differing only in case are two names here; the policy check
	 * decides whether each may be named */
	struct st_purpose_req r;
	accepted(with(base(), "scope.people",
		      json_pack("[s,s]", "alice@example.com",
				"Alice@example.com")),
		 &r);
	assert_int_equal(r.scope.n_people, 2);
	st_purpose_req_fini(&r);
}

static void bounds_name_description_and_size(void **state)
{
	(void)state;
	char n[80];
	memset(n, 'p', 64);
	n[64] = 0;
	struct st_purpose_req r;
	accepted(with(base(), "name", json_string(n)), &r);
	assert_int_equal(strlen(r.name), 64);
	st_purpose_req_fini(&r);
	n[64] = 'p';
	n[65] = 0;
	refused(with(base(), "name", json_string(n)), ST_E_INVAL,
		"\"name\": required, 1 to 64 bytes");
	refused(with(base(), "name", json_string("")), ST_E_INVAL, "\"name\"");
	refused(with(base(), "name", json_string("computer\tuse")), ST_E_INVAL,
		"\"name\"");
	char d[610];
	memset(d, 'd', 600);
	d[600] = 0;
	accepted(with(base(), "description", json_string(d)), &r);
	assert_int_equal(strlen(r.description), 600);
	st_purpose_req_fini(&r);
	d[600] = 'd';
	d[601] = 0;
	refused(with(base(), "description", json_string(d)), ST_E_INVAL,
		"\"description\": required, 1 to 600 bytes");
	refused(with(base(), "description", json_string("")), ST_E_INVAL,
		"\"description\"");
	/* the whole text is capped before it is parsed */
	char *big = malloc(ST_PURPOSE_JSON_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', ST_PURPOSE_JSON_MAX + 1);
	big[0] = '{';
	big[ST_PURPOSE_JSON_MAX] = '}';
	big[ST_PURPOSE_JSON_MAX + 1] = 0;
	struct st_error e = {0};
	assert_fails_with(st_purpose_parse(big, ST_PURPOSE_JSON_MAX + 1, &r,
					   &e),
			  ST_E_CAP, &e, "8193 bytes of JSON, over 8192");
	st_purpose_req_fini(&r);
	/* the same at the cap is parsed (and refused for what it lacks) */
	assert_fails_with(st_purpose_parse(big, ST_PURPOSE_JSON_MAX, &r, &e),
			  ST_E_JSON, &e, "not a JSON object");
	free(big);
	/* st_error is optional */
	assert_int_equal(st_purpose_parse("[]", 2, &r, NULL), ST_E_JSON);
	st_purpose_req_fini(&r);
}

/* ---- check against the policy ---- */

static void checked(json_t *o, int code, const char *word)
{
	struct st_purpose_req r;
	accepted(o, &r);
	struct st_error e = {0};
	int rc = st_purpose_check(&r, &POL, &e);
	st_purpose_req_fini(&r);
	if (code == 0) {
		if (rc != 0)
			fail_msg("check refused: %s", e.msg);
		return;
	}
	if (rc != code)
		fail_msg("expected %s (%s), got %d: %s", st_strerror(code),
			 word, rc, e.msg);
	assert_fails_with(rc, code, &e, word);
}

static void check_passes_a_proposal_within_the_policy(void **state)
{
	(void)state;
	checked(base(), 0, NULL);
	/* a reader given as a plain string may be named for every purpose */
	checked(with(base(), "stewards",
		     json_pack("[s,s]", "stella@example.com", "tess@example.com")),
		0, NULL);
	checked(with(with(base(), "name", json_string(OTHER)), "stewards",
		     json_pack("[s,s]", "sam@example.com", "tess@example.com")),
		0, NULL);
}

static void check_refuses_a_purpose_the_policy_does_not_list(void **state)
{
	(void)state;
	checked(with(base(), "name", json_string("performance-review")),
		ST_E_PURPOSE, "purpose \"performance-review\": not a purpose");
	/* names are exact: no prefix or case folding */
	checked(with(base(), "name", json_string("computer-use")), ST_E_PURPOSE,
		"not a purpose of the current policy");
	checked(with(base(), "name", json_string("Computer-Use-Training")),
		ST_E_PURPOSE, "not a purpose");
}

static void check_refuses_broad_stewards(void **state)
{
	(void)state;
	static const char *const broad[] = {
		"everyone",  "Everyone",         "all-staff@example.com",
		"*@example.com", "@example.com", "team:eng",
		"employees@example.com", "stella@example.com,sam@example.com",
		"*",
	};
	for (size_t i = 0; i < sizeof broad / sizeof broad[0]; i++) {
		char word[80];
		snprintf(word, sizeof word, "stewards[1]: broad grant: \"%s\"",
			 broad[i]);
		checked(with(base(), "stewards",
			     json_pack("[s,s]", "stella@example.com", broad[i])),
			ST_E_BROAD_GRANT, word);
	}
	/* a broad steward is a broad grant even if a reader comes after */
	checked(with(base(), "stewards",
		     json_pack("[s,s]", "everyone", "stella@example.com")),
		ST_E_BROAD_GRANT, "stewards[0]");
}

static void check_refuses_a_steward_who_is_not_a_reader_for_it(void **state)
{
	(void)state;
	checked(with(base(), "stewards", json_pack("[s]", "mallory@example.com")),
		ST_E_FORBIDDEN, "\"mallory@example.com\" is not a reader");
	/* Sam is a reader, but not for this purpose */
	checked(with(base(), "stewards",
		     json_pack("[s,s]", "stella@example.com", "sam@example.com")),
		ST_E_FORBIDDEN, "stewards[1]: \"sam@example.com\" is not a "
				"reader the policy lets be named for \"" PURPOSE
				"\"");
	/* and Stella not for his */
	checked(with(with(base(), "name", json_string(OTHER)), "stewards",
		     json_pack("[s]", "stella@example.com")),
		ST_E_FORBIDDEN, "\"stella@example.com\"");
	/* a reader is matched exactly */
	checked(with(base(), "stewards", json_pack("[s]", "Stella@example.com")),
		ST_E_FORBIDDEN, "not a reader");
}

static void check_refuses_patterns_in_the_scope(void **state)
{
	(void)state;
	checked(with(base(), "scope.people", json_pack("[s]", "*@example.com")),
		ST_E_BROAD_GRANT, "scope.people[0]: broad grant");
	checked(with(base(), "scope.groups", json_pack("[s,s]", "eng", "*")),
		ST_E_BROAD_GRANT, "scope.groups[1]: broad grant");
}

static void check_bounds_the_level_by_the_export_level(void **state)
{
	(void)state;
	checked(with(base(), "scope.level", json_integer(3)), ST_E_INVAL,
		"scope.level 3: over the policy's export level 2");
	checked(with(base(), "scope.level", json_integer(2)), 0, NULL);
	checked(with(base(), "scope.level", json_integer(1)), 0, NULL);
}

static void check_bounds_the_expiry_of_a_built_request(void **state)
{
	(void)state;
	struct st_purpose_req r;
	accepted(base(), &r);
	struct st_error e = {0};
	r.expires_days = 91;
	assert_fails_with(st_purpose_check(&r, &POL, &e), ST_E_INVAL, &e,
			  "expires_days 91");
	r.expires_days = 0;
	assert_fails_with(st_purpose_check(&r, &POL, &e), ST_E_INVAL, &e,
			  "expires_days 0");
	r.expires_days = 90;
	assert_int_equal(st_purpose_check(&r, &POL, &e), 0);
	st_purpose_req_fini(&r);
}

/* ---- the two-person rule ---- */

static const uint8_t PROPOSER[16] = {1, 1, 1, 1, 1, 1, 1, 1,
				     1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t STEW[2][16] = {
	{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
	{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
};
static const uint8_t OFF_A[16] = {9, 9, 9, 9, 9, 9, 9, 9,
				  9, 9, 9, 9, 9, 9, 9, 0xa};
/* OFF_B differs from OFF_A in the last byte only */
static const uint8_t OFF_B[16] = {9, 9, 9, 9, 9, 9, 9, 9,
				  9, 9, 9, 9, 9, 9, 9, 0xb};

static void the_proposer_may_not_approve(void **state)
{
	(void)state;
	struct st_error e = {0};
	uint8_t same[16];
	memcpy(same, PROPOSER, 16); /* the same person, another buffer */
	assert_fails_with(st_purpose_may_approve(same, PROPOSER, STEW, 2, NULL,
						 0, &e),
			  ST_E_TWO_PERSON, &e, "you proposed it");
	assert_int_equal(e.code, ST_E_TWO_PERSON);
}

static void a_steward_on_it_may_not_approve(void **state)
{
	(void)state;
	struct st_error e = {0};
	uint8_t s1[16];
	memcpy(s1, STEW[1], 16);
	assert_fails_with(st_purpose_may_approve(s1, PROPOSER, STEW, 2, NULL, 0,
						 &e),
			  ST_E_TWO_PERSON, &e, "you are a steward named on it");
	/* not one of the first n: the count is honoured */
	assert_int_equal(st_purpose_may_approve(s1, PROPOSER, STEW, 1, NULL, 0,
						&e),
			 0);
}

static void an_officer_may_not_approve_twice(void **state)
{
	(void)state;
	struct st_error e = {0};
	uint8_t appr[2][16];
	memcpy(appr[0], OFF_B, 16);
	memcpy(appr[1], OFF_A, 16);
	uint8_t a[16];
	memcpy(a, OFF_A, 16);
	assert_fails_with(st_purpose_may_approve(a, PROPOSER, STEW, 2,
						 (const uint8_t(*)[16])appr, 2,
						 &e),
			  ST_E_TWO_PERSON, &e, "you approved it already");
	/* with another token too: the message says people are compared */
	assert_non_null(strstr(e.msg, "another token"));
}

static void a_distinct_officer_may_approve(void **state)
{
	(void)state;
	struct st_error e = {0};
	assert_int_equal(st_purpose_may_approve(OFF_A, PROPOSER, STEW, 2, NULL,
						0, &e),
			 0);
	/* OFF_B approved; OFF_A, one byte away, is someone else */
	assert_int_equal(st_purpose_may_approve(OFF_A, PROPOSER, STEW, 2,
						&OFF_B, 1, &e),
			 0);
	assert_int_equal(st_purpose_may_approve(OFF_B, PROPOSER, NULL, 0,
						&OFF_A, 1, NULL),
			 0);
	assert_int_equal(st_purpose_may_approve(OFF_B, PROPOSER, NULL, 0,
						&OFF_B, 1, NULL),
			 ST_E_TWO_PERSON);
}

/* ---- canonical JSON ---- */

static void scope_json_reads_back_to_the_same(void **state)
{
	(void)state;
	json_t *variants[] = {
		base(),
		with(with(base(), "scope.apps", NULL), "scope.fields", NULL),
		with(with(base(), "scope.people", json_array()), "scope.fields",
		     json_pack("[s,s,s]", "titles", "keys", "text")),
		with(base(), "scope.people",
		     json_pack("[s,s]", "zoë@example.com", "\"quoted\"\\back")),
	};
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		struct st_purpose_req r;
		accepted(variants[i], &r);
		char *j = st_purpose_scope_json(&r.scope);
		assert_non_null(j);
		struct st_purpose_scope s;
		struct st_error e = {0};
		if (st_purpose_scope_parse(j, strlen(j), &s, &e) != 0)
			fail_msg("%s: %s", j, e.msg);
		assert_int_equal(s.n_people, r.scope.n_people);
		for (size_t k = 0; k < s.n_people; k++)
			assert_string_equal(s.people[k], r.scope.people[k]);
		assert_int_equal(s.n_groups, r.scope.n_groups);
		for (size_t k = 0; k < s.n_groups; k++)
			assert_string_equal(s.groups[k], r.scope.groups[k]);
		assert_int_equal(s.n_apps, r.scope.n_apps);
		for (size_t k = 0; k < s.n_apps; k++)
			assert_string_equal(s.apps[k], r.scope.apps[k]);
		assert_int_equal(s.from_s, r.scope.from_s);
		assert_int_equal(s.until_s, r.scope.until_s);
		assert_int_equal(s.level, r.scope.level);
		assert_int_equal(s.fields, r.scope.fields);
		char *j2 = st_purpose_scope_json(&s);
		assert_non_null(j2);
		assert_string_equal(j2, j);
		free(j2);
		free(j);
		st_purpose_scope_fini(&s);
		st_purpose_req_fini(&r);
	}
}

static void scope_json_is_canonical(void **state)
{
	(void)state;
	struct st_purpose_req r;
	accepted(base(), &r);
	char *j = st_purpose_scope_json(&r.scope);
	assert_string_equal(
		j, "{\"apps\":[\"*firefox*\"],\"fields\":[\"apps\",\"pointer\"],"
		   "\"from\":1764000000,\"groups\":[\"eng\"],\"level\":2,"
		   "\"people\":[\"alice@example.com\",\"bob@example.com\"],"
		   "\"until\":1766000000}");
	free(j);
	st_purpose_req_fini(&r);
	/* the fields' order in the proposal does not change the form */
	accepted(with(base(), "scope.fields", json_pack("[s,s]", "apps",
							"pointer")),
		 &r);
	j = st_purpose_scope_json(&r.scope);
	assert_non_null(strstr(j, "\"fields\":[\"apps\",\"pointer\"]"));
	free(j);
	st_purpose_req_fini(&r);
	/* and scope_parse is as strict as the proposal's scope */
	struct st_purpose_scope s;
	struct st_error e = {0};
	const char *bad = "{\"people\":[\"a\"],\"groups\":[],\"from\":0,"
			  "\"until\":1,\"level\":1,\"admin\":true}";
	assert_fails_with(st_purpose_scope_parse(bad, strlen(bad), &s, &e),
			  ST_E_JSON, &e, "unknown key \"admin\"");
	bad = "{\"people\":[],\"groups\":[],\"from\":0,\"until\":1,"
	      "\"level\":1}";
	assert_fails_with(st_purpose_scope_parse(bad, strlen(bad), &s, &e),
			  ST_E_INVAL, &e, "never covers everyone");
}

static void stewards_json_reads_back_to_the_same(void **state)
{
	(void)state;
	struct st_purpose_req r;
	accepted(with(base(), "stewards",
		      json_pack("[s,s,s]", "stella@example.com", "zoë@example.com",
				"o\"brien@example.com")),
		 &r);
	char *j = st_purpose_stewards_json(&r);
	assert_string_equal(j, "[\"stella@example.com\",\"zoë@example.com\","
			       "\"o\\\"brien@example.com\"]");
	char got[ST_PURPOSE_STEWARDS_MAX][ST_PURPOSE_NAME_LEN + 1];
	size_t n = 99;
	struct st_error e = {0};
	assert_int_equal(st_purpose_stewards_parse(j, got,
						   ST_PURPOSE_STEWARDS_MAX, &n,
						   &e),
			 0);
	assert_int_equal(n, r.n_stewards);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(got[i], r.stewards[i]);
	/* over the caller's cap: refused, not written past it */
	assert_fails_with(st_purpose_stewards_parse(j, got, 2, &n, &e),
			  ST_E_CORRUPT, &e, "at most 2 names");
	assert_int_equal(n, 0);
	free(j);
	st_purpose_req_fini(&r);
	/* a damaged stored value is refused */
	assert_fails_with(st_purpose_stewards_parse("{\"a\":1}", got, 16, &n,
						    &e),
			  ST_E_CORRUPT, &e, "not a list");
	assert_fails_with(st_purpose_stewards_parse("[\"a\",7]", got, 16, &n,
						    &e),
			  ST_E_CORRUPT, &e, "steward 1 malformed");
	assert_fails_with(st_purpose_stewards_parse("[\"a\"", got, 16, &n, &e),
			  ST_E_CORRUPT, &e, "not a list");
	/* a stored name longer than a row is refused, never copied */
	char stored[ST_PURPOSE_NAME_LEN + 8];
	memset(stored, 'n', sizeof stored);
	stored[0] = '[';
	stored[1] = '"';
	stored[ST_PURPOSE_NAME_LEN + 3] = '"';
	stored[ST_PURPOSE_NAME_LEN + 4] = ']';
	stored[ST_PURPOSE_NAME_LEN + 5] = 0; /* a name of 255 bytes */
	assert_fails_with(st_purpose_stewards_parse(stored, got, 16, &n, &e),
			  ST_E_CORRUPT, &e, "steward 0 malformed");
	stored[ST_PURPOSE_NAME_LEN + 2] = '"';
	stored[ST_PURPOSE_NAME_LEN + 3] = ']';
	stored[ST_PURPOSE_NAME_LEN + 4] = 0; /* 254 bytes: fits */
	assert_int_equal(st_purpose_stewards_parse(stored, got, 16, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(got[0]), ST_PURPOSE_NAME_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_full_proposal),
		cmocka_unit_test(apps_and_fields_take_their_defaults),
		cmocka_unit_test(refuses_each_missing_required_key),
		cmocka_unit_test(refuses_unknown_keys),
		cmocka_unit_test(refuses_duplicate_keys),
		cmocka_unit_test(refuses_wrong_types),
		cmocka_unit_test(bounds_expires_days_to_1_through_90),
		cmocka_unit_test(bounds_level_to_1_through_3),
		cmocka_unit_test(refuses_a_scope_naming_no_one),
		cmocka_unit_test(refuses_until_not_after_from),
		cmocka_unit_test(reads_each_field_name_to_its_bit),
		cmocka_unit_test(bounds_the_stewards),
		cmocka_unit_test(refuses_repeated_names),
		cmocka_unit_test(bounds_name_description_and_size),
		cmocka_unit_test(check_passes_a_proposal_within_the_policy),
		cmocka_unit_test(check_refuses_a_purpose_the_policy_does_not_list),
		cmocka_unit_test(check_refuses_broad_stewards),
		cmocka_unit_test(check_refuses_a_steward_who_is_not_a_reader_for_it),
		cmocka_unit_test(check_refuses_patterns_in_the_scope),
		cmocka_unit_test(check_bounds_the_level_by_the_export_level),
		cmocka_unit_test(check_bounds_the_expiry_of_a_built_request),
		cmocka_unit_test(the_proposer_may_not_approve),
		cmocka_unit_test(a_steward_on_it_may_not_approve),
		cmocka_unit_test(an_officer_may_not_approve_twice),
		cmocka_unit_test(a_distinct_officer_may_approve),
		cmocka_unit_test(scope_json_reads_back_to_the_same),
		cmocka_unit_test(scope_json_is_canonical),
		cmocka_unit_test(stewards_json_reads_back_to_the_same),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
