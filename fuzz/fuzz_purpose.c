/* fuzz_purpose.c - libFuzzer target for a purpose proposal as a steward
 * posts it (POST /v1/purposes): st_purpose_parse on any bytes, and
 * st_purpose_scope_parse on the same bytes (the form the store keeps).
 * Properties: no crash, leak or undefined behaviour; every refusal carries
 * a code and a message; a proposal that parses has a canonical scope JSON
 * that scope_parse reads back to an equal scope whose JSON is the same
 * bytes, and a stewards JSON that stewards_parse reads back to the same
 * names; the check against a fixed policy answers one of its documented
 * codes, with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/purpose.h"
#include "core/policy.h"
#include "fuzz_check.h"

/* The fuzz policy: two purposes, a reader for each and one for both, so
 * that check reaches every one of its refusals. */
static const char POLICY[] =
	"{\"version\":1,\"capture\":{\"pointer\":true,\"apps\":true},"
	"\"levels\":{\"keep\":3,\"export\":2},\"retention_days\":30,"
	"\"purposes\":[{\"name\":\"computer-use-training\",\"description\":"
	"\"Training data.\"},{\"name\":\"support-quality\",\"description\":"
	"\"Support review.\"}],\"readers\":[{\"name\":\"stella@example.com\","
	"\"purposes\":[\"computer-use-training\"]},{\"name\":"
	"\"sam@example.com\",\"purposes\":[\"support-quality\"]},"
	"\"tess@example.com\"]}";

static struct st_policy pol;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct st_error e = {0};
	st_policy_init(&pol);
	if (st_policy_parse(POLICY, strlen(POLICY), &pol, NULL, &e) != 0)
		fuzz_die("the fuzz policy is refused", &e);
	return 0;
}

static void names_equal(char (*a)[ST_PURPOSE_NAME_LEN + 1],
			char (*b)[ST_PURPOSE_NAME_LEN + 1], size_t n,
			const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			fuzz_die(what, NULL);
}

/* The canonical scope reads back to an equal scope with the same JSON. */
static void scope_round_trip(const struct st_purpose_scope *s)
{
	char *j = st_purpose_scope_json(s);
	if (!j)
		fuzz_die("an accepted scope has no JSON form", NULL);
	struct st_purpose_scope back;
	struct st_error e = {0};
	if (st_purpose_scope_parse(j, strlen(j), &back, &e) != 0)
		fuzz_die("the canonical JSON of an accepted scope is refused",
			 &e);
	if (back.n_people != s->n_people || back.n_groups != s->n_groups ||
	    back.n_apps != s->n_apps || back.from_s != s->from_s ||
	    back.until_s != s->until_s || back.level != s->level ||
	    back.fields != s->fields)
		fuzz_die("a scope read back from its JSON differs", NULL);
	names_equal(back.people, s->people, s->n_people,
		    "a scope's people differ after a round trip");
	names_equal(back.groups, s->groups, s->n_groups,
		    "a scope's groups differ after a round trip");
	names_equal(back.apps, s->apps, s->n_apps,
		    "a scope's apps differ after a round trip");
	char *j2 = st_purpose_scope_json(&back);
	if (!j2 || strcmp(j, j2) != 0)
		fuzz_die("a scope's JSON is not canonical: a round trip "
			 "changed it",
			 NULL);
	free(j2);
	free(j);
	st_purpose_scope_fini(&back);
}

static void refusal_ok(int rc, const struct st_error *e, const char *what)
{
	if (rc >= 0)
		return;
	if (e->code != rc || e->msg[0] == 0)
		fuzz_die(what, e);
	if (rc != ST_E_JSON && rc != ST_E_INVAL && rc != ST_E_CAP &&
	    rc != ST_E_NOMEM)
		fuzz_die("a parse refusal with an undocumented code", e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * ST_PURPOSE_JSON_MAX)
		return 0;
	const char *json = (const char *)data;
	struct st_error e = {0};

	struct st_purpose_scope sc;
	int rc = st_purpose_scope_parse(json, size, &sc, &e);
	refusal_ok(rc, &e, "a scope refusal without a code and message");
	if (rc == 0) {
		scope_round_trip(&sc);
		st_purpose_scope_fini(&sc);
	}

	struct st_purpose_req r;
	memset(&e, 0, sizeof e);
	rc = st_purpose_parse(json, size, &r, &e);
	refusal_ok(rc, &e, "a proposal refusal without a code and message");
	if (rc != 0) {
		st_purpose_req_fini(&r);
		return 0;
	}
	if (r.n_stewards < 1 || r.n_stewards > ST_PURPOSE_STEWARDS_MAX ||
	    r.expires_days < 1 || r.expires_days > ST_PURPOSE_DAYS_MAX ||
	    r.scope.level < 1 || r.scope.level > 3 ||
	    r.scope.until_s <= r.scope.from_s ||
	    r.scope.n_people + r.scope.n_groups == 0 || !r.scope.fields ||
	    (r.scope.fields & ~(unsigned)ST_PURPOSE_F_ALL))
		fuzz_die("an accepted proposal is outside its bounds", NULL);
	scope_round_trip(&r.scope);

	char *sj = st_purpose_stewards_json(&r);
	if (!sj)
		fuzz_die("accepted stewards have no JSON form", NULL);
	char names[ST_PURPOSE_STEWARDS_MAX][ST_PURPOSE_NAME_LEN + 1];
	size_t n = 0;
	if (st_purpose_stewards_parse(sj, names, ST_PURPOSE_STEWARDS_MAX, &n,
				      &e) != 0)
		fuzz_die("the JSON of accepted stewards is refused", &e);
	if (n != r.n_stewards)
		fuzz_die("stewards read back are not as many", NULL);
	names_equal(names, r.stewards, n,
		    "a steward differs after a round trip");
	free(sj);

	memset(&e, 0, sizeof e);
	rc = st_purpose_check(&r, &pol, &e);
	if (rc != 0 &&
	    (e.code != rc || !e.msg[0] ||
	     (rc != ST_E_PURPOSE && rc != ST_E_BROAD_GRANT &&
	      rc != ST_E_FORBIDDEN && rc != ST_E_INVAL)))
		fuzz_die("a check refusal without its code and message", &e);
	st_purpose_req_fini(&r);
	return 0;
}
