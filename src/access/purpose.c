/* purpose.c - purpose proposals, their check against the policy, and the
 * two-person rule. */
#include "access/purpose.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct {
	const char *name;
	unsigned bit;
} field_names[] = {
	{"apps", ST_PURPOSE_F_APPS},       {"keys", ST_PURPOSE_F_KEYS},
	{"pointer", ST_PURPOSE_F_POINTER}, {"text", ST_PURPOSE_F_TEXT},
	{"titles", ST_PURPOSE_F_TITLES},
};
#define N_FIELDS (sizeof field_names / sizeof field_names[0])

void st_purpose_scope_fini(struct st_purpose_scope *s)
{
	free(s->people);
	free(s->groups);
	free(s->apps);
	memset(s, 0, sizeof *s);
}

void st_purpose_req_fini(struct st_purpose_req *r)
{
	st_purpose_scope_fini(&r->scope);
}

static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int only(json_t *o, const char *const *keys, const char *where,
		struct st_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		(void)v;
		bool ok = false;
		for (size_t i = 0; keys[i]; i++)
			ok = ok || !strcmp(k, keys[i]);
		if (!ok)
			return st_fail(err, ST_E_JSON,
				       "%s: unknown key \"%.40s\"; see "
				       "docs/security.md for the keys",
				       where, text_ok(k, strlen(k)) ? k : "?");
	}
	return 0;
}

/* A string array of at most cap entries of 1..ST_PURPOSE_NAME_LEN bytes,
 * without control characters or repeats. */
static int str_array(json_t *o, const char *key, bool required, size_t cap,
		     char (**out)[ST_PURPOSE_NAME_LEN + 1], size_t *n,
		     struct st_error *err)
{
	json_t *a = json_object_get(o, key);
	*n = 0;
	if (!a) {
		if (required)
			return st_fail(err, ST_E_JSON, "\"%s\" is required",
				       key);
		return 0;
	}
	if (!json_is_array(a))
		return st_fail(err, ST_E_JSON, "\"%s\" must be an array of "
			       "strings", key);
	size_t m = json_array_size(a);
	if (m > cap)
		return st_fail(err, ST_E_CAP, "\"%s\": %zu entries, over %zu",
			       key, m, cap);
	char (*v)[ST_PURPOSE_NAME_LEN + 1] = NULL;
	if (out) {
		v = calloc(m ? m : 1, sizeof *v);
		if (!v)
			return st_fail(err, ST_E_NOMEM, "\"%s\": out of memory",
				       key);
	}
	for (size_t i = 0; i < m; i++) {
		json_t *e = json_array_get(a, i);
		size_t len = json_is_string(e) ? json_string_length(e) : 0;
		const char *s = json_is_string(e) ? json_string_value(e) : "";
		if (!json_is_string(e) || len < 1 ||
		    len > ST_PURPOSE_NAME_LEN || !text_ok(s, len) ||
		    strlen(s) != len) {
			free(v);
			return st_fail(err, ST_E_INVAL,
				       "\"%s\"[%zu]: must be a string of 1 to "
				       "%d bytes without control characters",
				       key, i, ST_PURPOSE_NAME_LEN);
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(json_string_value(json_array_get(a, j)),
				    s)) {
				free(v);
				return st_fail(err, ST_E_INVAL,
					       "\"%s\"[%zu]: \"%.64s\" is "
					       "listed twice",
					       key, i, s);
			}
		if (v)
			memcpy(v[i], s, len + 1);
	}
	if (out)
		*out = v;
	*n = m;
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t min, int64_t max,
		   int64_t *out, struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return st_fail(err, ST_E_JSON, "\"%s\" is required", key);
	if (!json_is_integer(v))
		return st_fail(err, ST_E_JSON, "\"%s\" must be an integer",
			       key);
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return st_fail(err, ST_E_INVAL,
			       "\"%s\" must be %lld to %lld, not %lld", key,
			       (long long)min, (long long)max, (long long)x);
	*out = x;
	return 0;
}

static int scope_from(json_t *o, struct st_purpose_scope *s,
		      struct st_error *err)
{
	static const char *const keys[] = {"people", "groups", "apps",
					   "from",   "until",  "level",
					   "fields", NULL};
	memset(s, 0, sizeof *s);
	if (!json_is_object(o))
		return st_fail(err, ST_E_JSON, "\"scope\" must be an object");
	int rc = only(o, keys, "scope", err);
	int64_t v;
	if (rc < 0 ||
	    (rc = str_array(o, "people", true, ST_PURPOSE_NAMES_MAX,
			    &s->people, &s->n_people, err)) < 0 ||
	    (rc = str_array(o, "groups", true, ST_PURPOSE_NAMES_MAX,
			    &s->groups, &s->n_groups, err)) < 0 ||
	    (rc = str_array(o, "apps", false, ST_PURPOSE_APPS_MAX, &s->apps,
			    &s->n_apps, err)) < 0)
		goto fail;
	if (s->n_people + s->n_groups == 0 ||
	    s->n_people + s->n_groups > ST_PURPOSE_NAMES_MAX) {
		rc = st_fail(err, ST_E_INVAL,
			     "scope: name 1 to %d people or groups; a purpose "
			     "never covers everyone by default",
			     ST_PURPOSE_NAMES_MAX);
		goto fail;
	}
	if ((rc = get_int(o, "from", 0, INT64_MAX / 2, &s->from_s, err)) < 0 ||
	    (rc = get_int(o, "until", 1, INT64_MAX / 2, &s->until_s, err)) <
		    0 ||
	    (rc = get_int(o, "level", 1, 3, &v, err)) < 0)
		goto fail;
	s->level = (int)v;
	if (s->until_s <= s->from_s) {
		rc = st_fail(err, ST_E_INVAL,
			     "scope: \"until\" must be after \"from\"");
		goto fail;
	}
	json_t *f = json_object_get(o, "fields");
	if (!f) {
		s->fields = ST_PURPOSE_F_ALL;
	} else {
		size_t n;
		if ((rc = str_array(o, "fields", true, N_FIELDS, NULL, &n,
				    err)) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			const char *name = json_string_value(
				json_array_get(f, i));
			unsigned bit = 0;
			for (size_t k = 0; k < N_FIELDS; k++)
				if (!strcmp(name, field_names[k].name))
					bit = field_names[k].bit;
			if (!bit) {
				rc = st_fail(err, ST_E_INVAL,
					     "scope.fields[%zu]: \"%.32s\" is "
					     "not a field; use pointer, keys, "
					     "text, titles or apps",
					     i, name);
				goto fail;
			}
			s->fields |= bit;
		}
		if (!s->fields) {
			rc = st_fail(err, ST_E_INVAL,
				     "scope.fields: name at least one field");
			goto fail;
		}
	}
	return 0;
fail:
	st_purpose_scope_fini(s);
	return rc;
}

static int load(const char *json, size_t len, json_t **out,
		struct st_error *err)
{
	*out = NULL;
	if (len > ST_PURPOSE_JSON_MAX)
		return st_fail(err, ST_E_CAP,
			       "purpose: %zu bytes of JSON, over %d", len,
			       ST_PURPOSE_JSON_MAX);
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		int rc = st_fail(err, ST_E_JSON,
				 "purpose: not a JSON object (line %d: %.80s)",
				 je.line, j ? "not an object" : je.text);
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

int st_purpose_scope_parse(const char *json, size_t len,
			   struct st_purpose_scope *out, struct st_error *err)
{
	json_t *j;
	int rc = load(json, len, &j, err);
	if (rc < 0)
		return rc;
	rc = scope_from(j, out, err);
	json_decref(j);
	return rc;
}

int st_purpose_parse(const char *json, size_t len, struct st_purpose_req *out,
		     struct st_error *err)
{
	static const char *const keys[] = {"name",     "description",
					   "stewards", "expires_days",
					   "scope",    NULL};
	memset(out, 0, sizeof *out);
	json_t *j;
	int rc = load(json, len, &j, err);
	if (rc < 0)
		return rc;
	rc = only(j, keys, "purpose", err);
	if (rc < 0)
		goto done;
	json_t *n = json_object_get(j, "name");
	json_t *d = json_object_get(j, "description");
	if (!json_is_string(n) || json_string_length(n) < 1 ||
	    json_string_length(n) >= sizeof out->name ||
	    !text_ok(json_string_value(n), json_string_length(n))) {
		rc = st_fail(err, ST_E_INVAL,
			     "\"name\": required, 1 to 64 bytes: a purpose "
			     "the policy lists");
		goto done;
	}
	if (!json_is_string(d) || json_string_length(d) < 1 ||
	    json_string_length(d) >= sizeof out->description ||
	    strlen(json_string_value(d)) != json_string_length(d)) {
		rc = st_fail(err, ST_E_INVAL,
			     "\"description\": required, 1 to 600 bytes");
		goto done;
	}
	strcpy(out->name, json_string_value(n));
	strcpy(out->description, json_string_value(d));
	char(*st)[ST_PURPOSE_NAME_LEN + 1] = NULL;
	if ((rc = str_array(j, "stewards", true, ST_PURPOSE_STEWARDS_MAX, &st,
			    &out->n_stewards, err)) < 0)
		goto done;
	memcpy(out->stewards, st, out->n_stewards * sizeof *st);
	free(st);
	if (out->n_stewards == 0) {
		rc = st_fail(err, ST_E_INVAL,
			     "\"stewards\": name at least one data steward "
			     "by name");
		goto done;
	}
	int64_t days;
	if ((rc = get_int(j, "expires_days", 1, ST_PURPOSE_DAYS_MAX, &days,
			  err)) < 0)
		goto done;
	out->expires_days = (int)days;
	json_t *sc = json_object_get(j, "scope");
	if (!sc) {
		rc = st_fail(err, ST_E_JSON, "\"scope\" is required");
		goto done;
	}
	rc = scope_from(sc, &out->scope, err);
done:
	json_decref(j);
	if (rc < 0)
		st_purpose_req_fini(out);
	return rc;
}

static json_t *names_json(char (*v)[ST_PURPOSE_NAME_LEN + 1], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

char *st_purpose_scope_json(const struct st_purpose_scope *s)
{
	json_t *f = json_array();
	for (size_t k = 0; f && k < N_FIELDS; k++)
		if (s->fields & field_names[k].bit)
			json_array_append_new(f,
					      json_string(field_names[k].name));
	json_t *o = json_pack("{s:o,s:o,s:o,s:I,s:I,s:i,s:o}", "people",
			      names_json(s->people, s->n_people), "groups",
			      names_json(s->groups, s->n_groups), "apps",
			      names_json(s->apps, s->n_apps), "from",
			      (json_int_t)s->from_s, "until",
			      (json_int_t)s->until_s, "level", s->level,
			      "fields", f);
	char *out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return out;
}

char *st_purpose_stewards_json(const struct st_purpose_req *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n_stewards; i++)
		json_array_append_new(a, json_string(r->stewards[i]));
	char *out = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return out;
}

int st_purpose_stewards_parse(const char *json,
			      char names[][ST_PURPOSE_NAME_LEN + 1],
			      size_t cap, size_t *n, struct st_error *err)
{
	json_error_t je;
	json_t *a = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > cap) {
		json_decref(a);
		return st_fail(err, ST_E_CORRUPT,
			       "purpose: stored stewards are not a list of "
			       "at most %zu names",
			       cap);
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);
		if (!json_is_string(e) ||
		    json_string_length(e) > ST_PURPOSE_NAME_LEN) {
			json_decref(a);
			return st_fail(err, ST_E_CORRUPT,
				       "purpose: stored steward %zu malformed",
				       i);
		}
		strcpy(names[i], json_string_value(e));
		(*n)++;
	}
	json_decref(a);
	return 0;
}

static const struct st_policy_reader *reader_of(const struct st_policy *p,
						const char *name)
{
	for (size_t i = 0; i < p->n_readers; i++)
		if (!strcmp(p->readers[i].name, name))
			return &p->readers[i];
	return NULL;
}

int st_purpose_check(const struct st_purpose_req *r,
		     const struct st_policy *p, struct st_error *err)
{
	bool listed = false;
	for (size_t i = 0; i < p->n_purposes; i++)
		listed = listed || !strcmp(p->purposes[i].name, r->name);
	if (!listed)
		return st_fail(err, ST_E_PURPOSE,
			       "purpose \"%s\": not a purpose of the current "
			       "policy, so no accepted notice lists it; add it "
			       "to the policy's \"purposes\" first",
			       r->name);
	for (size_t i = 0; i < r->n_stewards; i++) {
		const char *s = r->stewards[i];
		if (st_policy_reader_is_broad(s) || strchr(s, '*'))
			return st_fail(err, ST_E_BROAD_GRANT,
				       "stewards[%zu]: broad grant: \"%.64s\" "
				       "names a group, a role or everyone; "
				       "name one person",
				       i, s);
		const struct st_policy_reader *rd = reader_of(p, s);
		bool ok = false;
		for (size_t k = 0; rd && k < rd->purposes.n; k++)
			ok = ok || !strcmp(rd->purposes.v[k], r->name);
		if (!ok)
			return st_fail(err, ST_E_FORBIDDEN,
				       "stewards[%zu]: \"%.64s\" is not a "
				       "reader the policy lets be named for "
				       "\"%s\"; add them to the policy's "
				       "\"readers\" first",
				       i, s, r->name);
	}
	for (size_t i = 0; i < r->scope.n_people; i++)
		if (strchr(r->scope.people[i], '*'))
			return st_fail(err, ST_E_BROAD_GRANT,
				       "scope.people[%zu]: broad grant: a "
				       "pattern; name the people",
				       i);
	for (size_t i = 0; i < r->scope.n_groups; i++)
		if (strchr(r->scope.groups[i], '*'))
			return st_fail(err, ST_E_BROAD_GRANT,
				       "scope.groups[%zu]: broad grant: a "
				       "pattern; name the groups",
				       i);
	if (r->scope.level > p->export_level)
		return st_fail(err, ST_E_INVAL,
			       "scope.level %d: over the policy's export "
			       "level %d",
			       r->scope.level, p->export_level);
	if (r->expires_days < 1 || r->expires_days > ST_PURPOSE_DAYS_MAX)
		return st_fail(err, ST_E_INVAL,
			       "expires_days %d: must be 1 to %d",
			       r->expires_days, ST_PURPOSE_DAYS_MAX);
	return 0;
}

int st_purpose_may_approve(const uint8_t officer[16],
			   const uint8_t proposer[16],
			   const uint8_t (*stewards)[16], size_t n_stewards,
			   const uint8_t (*approvers)[16], size_t n_approvers,
			   struct st_error *err)
{
	if (!memcmp(officer, proposer, 16))
		return st_fail(err, ST_E_TWO_PERSON,
			       "purpose: you proposed it, so you may not "
			       "approve it; two other privacy officers must");
	for (size_t i = 0; i < n_stewards; i++)
		if (!memcmp(officer, stewards[i], 16))
			return st_fail(err, ST_E_TWO_PERSON,
				       "purpose: you are a steward named on "
				       "it, so you may not approve it");
	for (size_t i = 0; i < n_approvers; i++)
		if (!memcmp(officer, approvers[i], 16))
			return st_fail(err, ST_E_TWO_PERSON,
				       "purpose: you approved it already (with "
				       "this or another token); a second "
				       "privacy officer must");
	return 0;
}
