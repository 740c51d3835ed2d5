/* policy.c - the collection policy: parse and check every rule, report every
 * problem with its key path, normalise, canonical JSON and hash, notice. */
#include "policy.h"

#include <ctype.h>
#include <fnmatch.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Quoted outside strings in messages are cut to this many bytes: a message
 * names the place, it does not echo the input back at length. */
#define QUOTE_MAX 48

/* --- problems ------------------------------------------------------------ */

struct ctx {
	struct st_policy_diag *diag;
	int first_code;
	char first[ST_ERROR_MSG_MAX];
	bool broad;
	char broad_msg[ST_ERROR_MSG_MAX];
	size_t count;
};

static void problem(struct ctx *c, int code, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct ctx *c, int code, const char *path,
		    const char *fmt, ...)
{
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->count++;
	if (!c->first_code) {
		c->first_code = code;
		if (snprintf(c->first, sizeof c->first, "%s: %s", path, msg) < 0)
			c->first[0] = 0;
	}
	if (code == ST_E_BROAD_GRANT && !c->broad) {
		c->broad = true;
		if (snprintf(c->broad_msg, sizeof c->broad_msg, "%s: %s", path,
			     msg) < 0)
			c->broad_msg[0] = 0;
	}
	if (!c->diag)
		return;
	if (c->diag->n >= ST_POLICY_DIAG_MAX) {
		c->diag->dropped++;
		return;
	}
	struct st_policy_problem *it = &c->diag->item[c->diag->n++];
	it->code = code;
	snprintf(it->path, sizeof it->path, "%s", path);
	memcpy(it->msg, msg, sizeof it->msg);
}

/* s made safe to quote in a message: printable ASCII kept, every other byte
 * a '?', cut at QUOTE_MAX with "...". */
static const char *quote(char out[QUOTE_MAX + 4], const char *s)
{
	size_t i = 0;
	for (; s[i] && i < QUOTE_MAX; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
	return out;
}

static bool plain_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return false;
	return true;
}

/* parent.key or parent[i]; "$" is the document itself. A key that is
 * empty or holds other characters is written parent["key"], so a path
 * always names one place. */
static void path_key(char out[ST_POLICY_PATH_MAX], const char *parent,
		     const char *key)
{
	char q[QUOTE_MAX + 4];
	bool top = !strcmp(parent, "$");
	int n;
	if (!plain_key(key))
		n = snprintf(out, ST_POLICY_PATH_MAX, "%s[\"%s\"]",
			     top ? "$" : parent, quote(q, key));
	else if (top)
		n = snprintf(out, ST_POLICY_PATH_MAX, "%s", key);
	else
		n = snprintf(out, ST_POLICY_PATH_MAX, "%s.%s", parent, key);
	if (n < 0 || n >= ST_POLICY_PATH_MAX)
		out[ST_POLICY_PATH_MAX - 1] = 0;
}

static void path_idx(char out[ST_POLICY_PATH_MAX], const char *parent,
		     size_t i)
{
	int n = snprintf(out, ST_POLICY_PATH_MAX, "%s[%zu]", parent, i);
	if (n < 0 || n >= ST_POLICY_PATH_MAX)
		out[ST_POLICY_PATH_MAX - 1] = 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "a whole number";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "true or false";
	case JSON_NULL: return "null";
	}
	return "something else";
}

/* Reports every key of o not in known (NULL-terminated). */
static void unknown_keys(struct ctx *c, const json_t *o, const char *path,
			 const char *const *known, const char *hint)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok = ok || !strcmp(k, known[i]);
		if (ok)
			continue;
		char p[ST_POLICY_PATH_MAX];
		path_key(p, path, k);
		problem(c, ST_E_POLICY, p,
			"unknown key; the keys allowed here are %s (spelling "
			"and case matter): remove it or correct its name",
			hint);
	}
}

static bool want_object(struct ctx *c, const json_t *v, const char *path,
			const char *example)
{
	if (json_is_object(v))
		return true;
	problem(c, ST_E_POLICY, path, "is %s; write an object, e.g. %s",
		type_name(v), example);
	return false;
}

static bool want_bool(struct ctx *c, const json_t *v, const char *path,
		      bool *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	problem(c, ST_E_POLICY, path,
		"is %s; write true or false (without quotes)", type_name(v));
	return false;
}

static bool want_int(struct ctx *c, const json_t *v, const char *path,
		     long long min, long long max, const char *what, int *out)
{
	if (!json_is_integer(v)) {
		problem(c, ST_E_POLICY, path,
			"is %s; write %s as a whole number from %lld to %lld "
			"(without quotes)",
			type_name(v), what, min, max);
		return false;
	}
	json_int_t x = json_integer_value(v);
	if (x < min || x > max) {
		problem(c, ST_E_POLICY, path,
			"is %lld; write %s as a whole number from %lld to %lld",
			(long long)x, what, min, max);
		return false;
	}
	*out = (int)x;
	return true;
}

/* Offset of the first C1 control (U+0080..U+009F), line or paragraph
 * separator (U+2028, U+2029) or text-direction control (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) in the UTF-8 s[0..n), or -1.
 * These would let a policy reorder or hide words of the notice people
 * read, while its bytes (and hash) stay what was checked. */
static long invisible_at(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i + 1 < n; i++) {
		if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return (long)i;
		if (u[i] == 0xd8 && u[i + 1] == 0x9c)
			return (long)i;
		if (u[i] != 0xe2 || i + 2 >= n)
			continue;
		unsigned b = u[i + 1], x = u[i + 2];
		if ((b == 0x80 && (x == 0x8e || x == 0x8f ||
				   (x >= 0xa8 && x <= 0xae))) ||
		    (b == 0x81 && x >= 0xa6 && x <= 0xa9))
			return (long)i;
	}
	return -1;
}

/* A string that will be shown in the notice or matched: no control
 * characters (they could rewrite the notice on a terminal), at most max
 * bytes, and not empty unless allow_empty. */
static bool want_text(struct ctx *c, const json_t *v, const char *path,
		      size_t max, bool allow_empty, const char *what)
{
	if (!json_is_string(v)) {
		problem(c, ST_E_POLICY, path, "is %s; write %s as a string",
			type_name(v), what);
		return false;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n > max) {
		problem(c, ST_E_CAP, path,
			"is %zu bytes long; write %s in at most %zu bytes", n,
			what, max);
		return false;
	}
	if (!n && !allow_empty) {
		problem(c, ST_E_POLICY, path, "is empty; write %s", what);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			problem(c, ST_E_POLICY, path,
				"contains a control character (byte %zu); write "
				"%s on one line, in plain characters",
				i, what);
			return false;
		}
	long at = invisible_at(s, n);
	if (at >= 0) {
		problem(c, ST_E_POLICY, path,
			"contains a line-separator or text-direction character "
			"(byte %ld); write %s on one line, in plain characters",
			at, what);
		return false;
	}
	return true;
}

static bool want_array(struct ctx *c, const json_t *v, const char *path,
		       size_t max, const char *example)
{
	if (!json_is_array(v)) {
		problem(c, ST_E_POLICY, path, "is %s; write an array, e.g. %s",
			type_name(v), example);
		return false;
	}
	if (json_array_size(v) > max) {
		problem(c, ST_E_CAP, path,
			"has %zu entries; at most %zu are allowed: merge "
			"entries (a glob may cover several)",
			json_array_size(v), max);
		return false;
	}
	return true;
}

/* --- memory -------------------------------------------------------------- */

static char *dup(const char *s)
{
	return strdup(s);
}

static void strs_fini(struct st_policy_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and removes repeats: sets compare equal whatever their order. */
static void strs_normalise(struct st_policy_strs *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, cmp_str);
	size_t w = 1;
	for (size_t r = 1; r < s->n; r++) {
		if (!strcmp(s->v[r], s->v[w - 1]))
			free(s->v[r]);
		else
			s->v[w++] = s->v[r];
	}
	s->n = w;
}

static bool strs_has(const struct st_policy_strs *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return true;
	return false;
}

void st_policy_init(struct st_policy *p)
{
	memset(p, 0, sizeof *p);
	p->version = ST_POLICY_VERSION;
	p->key_backup_days = ST_POLICY_KEY_BACKUP_DAYS_DEFAULT;
	p->key_coarsen_ms = ST_POLICY_KEY_COARSEN_MS_DEFAULT;
}

void st_policy_fini(struct st_policy *p)
{
	strs_fini(&p->include);
	strs_fini(&p->exclude);
	strs_fini(&p->private_chat);
	for (size_t i = 0; i < p->n_title_rules; i++) {
		free(p->title_rules[i].match);
		free(p->title_rules[i].replace);
	}
	free(p->title_rules);
	for (size_t i = 0; i < p->n_purposes; i++) {
		free(p->purposes[i].name);
		free(p->purposes[i].description);
	}
	free(p->purposes);
	for (size_t i = 0; i < p->n_readers; i++) {
		free(p->readers[i].name);
		strs_fini(&p->readers[i].purposes);
	}
	free(p->readers);
	free(p->contact);
	st_policy_init(p);
}

/* --- the broad-grant rule ------------------------------------------------ */

/* Words that name a collective or a role, never one person. A reader whose
 * name (its local part, for an e-mail address) contains one of them as a
 * word, between '-', '_', '.', '+' or spaces, is refused: "data-team",
 * "all-employees@", "hr.managers@", "alice+all@". A real person whose name
 * is one of these words must use another address: false refusals beat a
 * leak. */
static const char *const broad_words[] = {
	"*", "all", "any", "anyone", "anybody", "every", "everyone",
	"everybody", "world", "public", "internal", "staff", "employee",
	"employees", "personnel", "workforce", "people", "person", "users",
	"members", "member", "team", "teams", "group", "groups", "grp", "list",
	"lists", "dl", "distro", "role", "roles", "dept", "department",
	"departments", "division", "org", "orgs", "organisation",
	"organization", "company", "corp", "unit", "managers", "management",
	"leads", "leadership", "admin", "admins", "administrators", "hr", "it",
	"ops", "support", "owners", "readers", "reviewers", "analysts",
	"engineers", "engineering", "committee", "board", "office", "desk",
	"security", "privacy", "legal", "finance", "sales", "marketing",
	"contractors", "interns", "default", "nobody", "noreply",
	NULL,
};

/* Words run together with another ("allstaff", "allhands",
 * "everyone2024"): found anywhere in the local part, because the word
 * lookup cannot see them. None occurs inside a person's name. */
static const char *const broad_runs[] = {
	"everyone", "everybody", "anyone", "anybody", "allstaff", "allhands",
	"allemployee", "allusers", "allpeople", "allcompany", "wholecompany",
	"employees", NULL,
};

/* Domain labels that host mailing lists rather than mailboxes. */
static const char *const broad_domain_labels[] = {
	"lists", "list", "groups", "group", "googlegroups", NULL,
};

static bool is_word_in(const char *w, size_t n, const char *const *set)
{
	for (size_t i = 0; set[i]; i++)
		if (strlen(set[i]) == n && !strncmp(w, set[i], n))
			return true;
	return false;
}

/* Splits s[0..n) on the separators and looks each word up. */
static bool has_word(const char *s, size_t n, const char *seps,
		     const char *const *set)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && !strchr(seps, s[j]))
			j++;
		/* "admins2", "everyone1": a number does not make a person */
		size_t w = j - i;
		while (w > 1 && isdigit((unsigned char)s[i + w - 1]))
			w--;
		if (j > i && is_word_in(s + i, w, set))
			return true;
		i = j + 1;
	}
	return false;
}

bool st_policy_reader_is_broad(const char *name)
{
	char low[ST_POLICY_READER_NAME_MAX + 1];
	size_t n = 0;
	/* leading and trailing blanks would hide a word from the lookup */
	while (*name == ' ' || *name == '\t')
		name++;
	for (; name[n] && n < ST_POLICY_READER_NAME_MAX; n++)
		low[n] = (char)tolower((unsigned char)name[n]);
	while (n && (low[n - 1] == ' ' || low[n - 1] == '\t'))
		n--;
	low[n] = 0;
	if (!n)
		return true; /* nobody in particular */
	/* wildcards and patterns match more than one person */
	if (strpbrk(low, "*?[]%{}"))
		return true;
	/* "@group", "@example.com": a handle or a whole domain */
	if (low[0] == '@')
		return true;
	/* "group:x", "role:x", "team:x", LDAP "cn=x,ou=y", "a, b", "a;b" */
	if (strpbrk(low, ":=,;/\\|<>"))
		return true;
	const char *at = strchr(low, '@');
	size_t local = at ? (size_t)(at - low) : n;
	if (has_word(low, local, "-_.+ \t", broad_words))
		return true;
	for (size_t i = 0; broad_runs[i]; i++) {
		const char *f = strstr(low, broad_runs[i]);
		if (f && (size_t)(f - low) < local)
			return true;
	}
	if (at && has_word(at + 1, strlen(at + 1), ".", broad_domain_labels))
		return true;
	/* a second '@' hides a list behind a mailbox-looking name */
	if (at && strchr(at + 1, '@'))
		return true;
	return false;
}

/* One person's e-mail address, already lower-case: local@domain.tld. */
static bool is_email(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@'))
		return false;
	for (const char *q = s; q < at; q++)
		if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
		      strchr("._+-'", *q)))
			return false;
	const char *d = at + 1;
	const char *dot = strrchr(d, '.');
	if (!*d || !dot || dot == d || !dot[1] || d[0] == '.' ||
	    strstr(d, ".."))
		return false;
	for (const char *q = d; *q; q++)
		if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
		      *q == '.' || *q == '-'))
			return false;
	return true;
}

static bool is_slug(const char *s)
{
	if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

/* --- parsing ------------------------------------------------------------- */

struct seen {
	bool version, capture, levels, retention, keep, export_;
	bool readers_all[ST_POLICY_READERS_MAX]; /* string form: every purpose */
	size_t reader_index[ST_POLICY_READERS_MAX]; /* position in the input */
};

#define OOM(c) problem((c), ST_E_NOMEM, "$", "out of memory while reading " \
			"the policy; retry with more memory")

static void parse_capture(struct ctx *c, struct st_policy *p, const json_t *o,
			  const char *path)
{
	static const char *const known[] = {"pointer", "keys", "text", "titles",
					    "apps", "screenshots", NULL};
	if (!want_object(c, o, path, "{\"pointer\": true, \"keys\": true}"))
		return;
	unknown_keys(c, o, path, known,
		     "pointer, keys, text, titles, apps and screenshots");
	bool *field[] = {&p->capture.pointer, &p->capture.keys,
			 &p->capture.text, &p->capture.titles,
			 &p->capture.apps, &p->capture.screenshots};
	for (size_t i = 0; known[i]; i++) {
		json_t *v = json_object_get(o, known[i]);
		char k[ST_POLICY_PATH_MAX];
		bool b = false;
		if (!v)
			continue;
		path_key(k, path, known[i]);
		if (!want_bool(c, v, k, &b))
			continue;
		*field[i] = b;
	}
	if (p->capture.screenshots) {
		char k[ST_POLICY_PATH_MAX];
		path_key(k, path, "screenshots");
		problem(c, ST_E_POLICY, k,
			"screenshots are not built in this version; write "
			"\"screenshots\": false or leave the key out");
		p->capture.screenshots = false;
	}
	if (p->capture.text && !p->capture.keys) {
		char k[ST_POLICY_PATH_MAX];
		path_key(k, path, "text");
		problem(c, ST_E_POLICY, k,
			"text is made from key presses: write \"keys\": true "
			"as well, or \"text\": false");
	}
}

static void parse_globs(struct ctx *c, struct st_policy_strs *out,
			const json_t *a, const char *path)
{
	if (!want_array(c, a, path, ST_POLICY_GLOBS_MAX,
			"[\"keepassxc*\", \"signal*\"]"))
		return;
	out->v = calloc(json_array_size(a) + 1, sizeof *out->v);
	if (!out->v) {
		OOM(c);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		char k[ST_POLICY_PATH_MAX];
		path_idx(k, path, i);
		if (!want_text(c, v, k, ST_POLICY_GLOB_MAX, false,
			       "an application id or window class glob such "
			       "as \"keepassxc*\""))
			continue;
		if (!(out->v[out->n] = dup(json_string_value(v)))) {
			OOM(c);
			return;
		}
		out->n++;
	}
	strs_normalise(out);
}

static void parse_apps(struct ctx *c, struct st_policy *p, const json_t *o,
		       const char *path)
{
	static const char *const known[] = {"include", "exclude",
					    "private_chat", NULL};
	if (!want_object(c, o, path, "{\"exclude\": [\"keepassxc*\"]}"))
		return;
	unknown_keys(c, o, path, known, "include, exclude and private_chat");
	struct st_policy_strs *field[] = {&p->include, &p->exclude,
					  &p->private_chat};
	for (size_t i = 0; known[i]; i++) {
		json_t *v = json_object_get(o, known[i]);
		char k[ST_POLICY_PATH_MAX];
		if (!v)
			continue;
		path_key(k, path, known[i]);
		parse_globs(c, field[i], v, k);
	}
}

static void parse_titles(struct ctx *c, struct st_policy *p, const json_t *o,
			 const char *path)
{
	static const char *const known[] = {"rules", NULL};
	static const char *const rule_keys[] = {"match", "replace", NULL};
	if (!want_object(c, o, path,
			 "{\"rules\": [{\"match\": \"*incognito*\", "
			 "\"replace\": \"(private window)\"}]}"))
		return;
	unknown_keys(c, o, path, known, "rules");
	json_t *a = json_object_get(o, "rules");
	char ap[ST_POLICY_PATH_MAX];
	path_key(ap, path, "rules");
	if (!a || !want_array(c, a, ap, ST_POLICY_TITLE_RULES_MAX,
			      "[{\"match\": \"*incognito*\", \"replace\": "
			      "\"(private window)\"}]"))
		return;
	p->title_rules = calloc(json_array_size(a) + 1, sizeof *p->title_rules);
	if (!p->title_rules) {
		OOM(c);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach(a, i, r) {
		char rp[ST_POLICY_PATH_MAX], mp[ST_POLICY_PATH_MAX],
			xp[ST_POLICY_PATH_MAX];
		path_idx(rp, ap, i);
		if (!want_object(c, r, rp,
				 "{\"match\": \"*incognito*\", \"replace\": "
				 "\"(private window)\"}"))
			continue;
		unknown_keys(c, r, rp, rule_keys, "match and replace");
		path_key(mp, rp, "match");
		path_key(xp, rp, "replace");
		json_t *m = json_object_get(r, "match");
		json_t *x = json_object_get(r, "replace");
		bool ok = true;
		if (!m) {
			problem(c, ST_E_POLICY, mp,
				"missing; write the glob a whole title must "
				"match, e.g. \"match\": \"*incognito*\"");
			ok = false;
		} else if (!want_text(c, m, mp, ST_POLICY_GLOB_MAX, false,
				      "a title glob such as \"*incognito*\"")) {
			ok = false;
		}
		if (!x) {
			problem(c, ST_E_POLICY, xp,
				"missing; write the title to keep instead, e.g. "
				"\"replace\": \"(private window)\", or \"\" to "
				"drop it");
			ok = false;
		} else if (!want_text(c, x, xp, ST_POLICY_REPLACE_MAX, true,
				      "the title to keep instead")) {
			ok = false;
		}
		if (!ok)
			continue;
		struct st_policy_title_rule *t = &p->title_rules[p->n_title_rules];
		t->match = dup(json_string_value(m));
		t->replace = dup(json_string_value(x));
		p->n_title_rules++; /* counted first, so fini frees a half */
		if (!t->match || !t->replace) {
			OOM(c);
			return;
		}
	}
}

static void parse_levels(struct ctx *c, struct st_policy *p, struct seen *s,
			 const json_t *o, const char *path)
{
	static const char *const known[] = {"keep", "export", NULL};
	if (!want_object(c, o, path, "{\"keep\": 2, \"export\": 2}"))
		return;
	unknown_keys(c, o, path, known, "keep and export");
	const char *names[] = {"keep", "export"};
	int *field[] = {&p->keep_level, &p->export_level};
	bool *got[] = {&s->keep, &s->export_};
	for (size_t i = 0; i < 2; i++) {
		char k[ST_POLICY_PATH_MAX];
		path_key(k, path, names[i]);
		json_t *v = json_object_get(o, names[i]);
		if (!v) {
			problem(c, ST_E_POLICY, k,
				"missing; write the highest sensitivity level %s, "
				"1 to 3, e.g. \"%s\": 2",
				i ? "an export may contain" : "kept", names[i]);
			continue;
		}
		if (json_is_integer(v) && json_integer_value(v) == 4) {
			problem(c, ST_E_LEVEL, k,
				"level 4 (health, tax, private conversations) is "
				"never kept or exported; write 3 or lower");
			continue;
		}
		if (want_int(c, v, k, 1, ST_POLICY_LEVEL_MAX_KEPT,
			     "a sensitivity level", field[i]))
			*got[i] = true;
	}
}

static void parse_timing(struct ctx *c, struct st_policy *p, const json_t *o,
			 const char *path)
{
	static const char *const known[] = {"key_coarsen_ms", NULL};
	if (!want_object(c, o, path, "{\"key_coarsen_ms\": 50}"))
		return;
	unknown_keys(c, o, path, known, "key_coarsen_ms");
	json_t *v = json_object_get(o, "key_coarsen_ms");
	char k[ST_POLICY_PATH_MAX];
	path_key(k, path, "key_coarsen_ms");
	if (v)
		want_int(c, v, k, ST_POLICY_KEY_COARSEN_MS_MIN,
			 ST_POLICY_KEY_COARSEN_MS_MAX,
			 "the key timing step in milliseconds",
			 &p->key_coarsen_ms);
}

static int cmp_purpose(const void *a, const void *b)
{
	return strcmp(((const struct st_policy_purpose *)a)->name,
		      ((const struct st_policy_purpose *)b)->name);
}

static void parse_purposes(struct ctx *c, struct st_policy *p, const json_t *a,
			   const char *path)
{
	static const char *const known[] = {"name", "description", NULL};
	if (!want_array(c, a, path, ST_POLICY_PURPOSES_MAX,
			"[{\"name\": \"model-training\", \"description\": "
			"\"...\"}]"))
		return;
	p->purposes = calloc(json_array_size(a) + 1, sizeof *p->purposes);
	if (!p->purposes) {
		OOM(c);
		return;
	}
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o) {
		char ip[ST_POLICY_PATH_MAX], np[ST_POLICY_PATH_MAX],
			dp[ST_POLICY_PATH_MAX];
		path_idx(ip, path, i);
		if (!want_object(c, o, ip,
				 "{\"name\": \"model-training\", "
				 "\"description\": \"...\"}"))
			continue;
		unknown_keys(c, o, ip, known, "name and description");
		path_key(np, ip, "name");
		path_key(dp, ip, "description");
		json_t *n = json_object_get(o, "name");
		json_t *d = json_object_get(o, "description");
		bool ok = true;
		if (!n) {
			problem(c, ST_E_POLICY, np,
				"missing; write a short name, e.g. \"name\": "
				"\"model-training\"");
			ok = false;
		} else if (!want_text(c, n, np, ST_POLICY_PURPOSE_NAME_MAX,
				      false, "the purpose's name")) {
			ok = false;
		} else if (!is_slug(json_string_value(n))) {
			char q[QUOTE_MAX + 4];
			problem(c, ST_E_POLICY, np,
				"\"%s\" is not a purpose name; write lower-case "
				"letters, digits, '-' and '_', starting with a "
				"letter or digit, e.g. \"model-training\"",
				quote(q, json_string_value(n)));
			ok = false;
		} else {
			for (size_t j = 0; j < p->n_purposes; j++)
				if (!strcmp(p->purposes[j].name,
					    json_string_value(n))) {
					problem(c, ST_E_POLICY, np,
						"purpose \"%s\" is defined twice; "
						"give each purpose one entry",
						json_string_value(n));
					ok = false;
				}
		}
		if (!d) {
			problem(c, ST_E_POLICY, dp,
				"missing; write one plain sentence saying what "
				"the data is used for: it is shown in the notice");
			ok = false;
		} else if (!want_text(c, d, dp, ST_POLICY_DESCRIPTION_MAX,
				      false, "one plain sentence for the notice")) {
			ok = false;
		}
		if (!ok)
			continue;
		struct st_policy_purpose *u = &p->purposes[p->n_purposes++];
		u->name = dup(json_string_value(n));
		u->description = dup(json_string_value(d));
		if (!u->name || !u->description) {
			OOM(c);
			return;
		}
	}
	if (p->n_purposes > 1)
		qsort(p->purposes, p->n_purposes, sizeof *p->purposes,
		      cmp_purpose);
}

static void broad_problem(struct ctx *c, const char *path, const char *name)
{
	char q[QUOTE_MAX + 4];
	problem(c, ST_E_BROAD_GRANT, path,
		"broad grant: \"%s\" names a group, a role or everyone, not "
		"one person; content is only ever read by named people through "
		"purposes: write one person's e-mail address per entry, e.g. "
		"\"alice@example.com\"",
		quote(q, name));
}

/* Checks one reader's name and, when it passes, returns it lower-cased. */
static char *reader_name(struct ctx *c, const json_t *v, const char *path)
{
	if (!want_text(c, v, path, ST_POLICY_READER_NAME_MAX, false,
		       "one person's e-mail address"))
		return NULL;
	const char *s = json_string_value(v);
	if (st_policy_reader_is_broad(s)) {
		broad_problem(c, path, s);
		return NULL;
	}
	char *low = dup(s);
	if (!low) {
		OOM(c);
		return NULL;
	}
	for (char *q = low; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!is_email(low)) {
		char q[QUOTE_MAX + 4];
		problem(c, ST_E_POLICY, path,
			"\"%s\" is not one person's e-mail address; write one "
			"address such as \"alice@example.com\"",
			quote(q, s));
		free(low);
		return NULL;
	}
	return low;
}

static void parse_readers(struct ctx *c, struct st_policy *p, struct seen *s,
			  const json_t *a, const char *path)
{
	static const char *const known[] = {"name", "purposes", NULL};
	/* "readers": "everyone" or true is the incident written another
	 * way: it is refused as what it is, not as a mere wrong type */
	if (json_is_true(a) || (json_is_string(a) &&
				st_policy_reader_is_broad(json_string_value(a)))) {
		broad_problem(c, path, json_is_true(a) ? "true"
						       : json_string_value(a));
		return;
	}
	if (!json_is_array(a)) {
		want_array(c, a, path, ST_POLICY_READERS_MAX,
			   "[\"alice@example.com\"]");
		return;
	}
	size_t total = json_array_size(a);
	if (total > ST_POLICY_READERS_MAX)
		problem(c, ST_E_CAP, path,
			"has %zu entries; at most %d people may be named: "
			"name only the people who read content",
			total, ST_POLICY_READERS_MAX);
	p->readers = calloc(ST_POLICY_READERS_MAX, sizeof *p->readers);
	if (!p->readers) {
		OOM(c);
		return;
	}
	/* Every entry is checked for a broad grant, even past the cap: that
	 * refusal must never hide behind another. */
	size_t i;
	json_t *r;
	json_array_foreach(a, i, r) {
		char ip[ST_POLICY_PATH_MAX], np[ST_POLICY_PATH_MAX],
			pp[ST_POLICY_PATH_MAX];
		path_idx(ip, path, i);
		const json_t *nv = r, *pv = NULL;
		const char *namepath = ip;
		if (json_is_object(r)) {
			unknown_keys(c, r, ip, known, "name and purposes");
			path_key(np, ip, "name");
			path_key(pp, ip, "purposes");
			namepath = np;
			nv = json_object_get(r, "name");
			pv = json_object_get(r, "purposes");
			if (!nv) {
				problem(c, ST_E_POLICY, np,
					"missing; write one person's e-mail "
					"address, e.g. \"name\": "
					"\"alice@example.com\"");
				continue;
			}
			if (!pv) {
				problem(c, ST_E_POLICY, pp,
					"missing; list the purposes this person "
					"may read for, e.g. \"purposes\": "
					"[\"model-training\"], or write the "
					"reader as a plain string for every "
					"purpose");
			}
		} else if (!json_is_string(r)) {
			problem(c, ST_E_POLICY, ip,
				"is %s; write \"alice@example.com\" or "
				"{\"name\": \"alice@example.com\", \"purposes\": "
				"[\"model-training\"]}",
				type_name(r));
			continue;
		}
		char *name = reader_name(c, nv, namepath);
		if (!name)
			continue;
		bool dupl = false;
		for (size_t j = 0; j < p->n_readers && !dupl; j++)
			dupl = !strcmp(p->readers[j].name, name);
		if (dupl || i >= ST_POLICY_READERS_MAX) {
			if (dupl)
				problem(c, ST_E_POLICY, namepath,
					"%s is named twice; give each person "
					"one entry listing all their purposes",
					name);
			free(name);
			continue;
		}
		size_t k = p->n_readers++;
		struct st_policy_reader *rd = &p->readers[k];
		rd->name = name;
		s->reader_index[k] = i;
		s->readers_all[k] = !json_is_object(r);
		if (!pv)
			continue;
		if (!want_array(c, pv, pp, ST_POLICY_PURPOSES_MAX,
				"[\"model-training\"]"))
			continue;
		if (!json_array_size(pv)) {
			problem(c, ST_E_POLICY, pp,
				"is empty; list the purposes %s may read for, or "
				"remove the reader",
				name);
			continue;
		}
		rd->purposes.v = calloc(json_array_size(pv) + 1,
					sizeof *rd->purposes.v);
		if (!rd->purposes.v) {
			OOM(c);
			return;
		}
		size_t j;
		json_t *u;
		json_array_foreach(pv, j, u) {
			char up[ST_POLICY_PATH_MAX];
			path_idx(up, pp, j);
			if (!want_text(c, u, up, ST_POLICY_PURPOSE_NAME_MAX, false,
				       "the name of a purpose listed in "
				       "\"purposes\""))
				continue;
			if (!(rd->purposes.v[rd->purposes.n] =
				      dup(json_string_value(u)))) {
				OOM(c);
				return;
			}
			rd->purposes.n++;
		}
	}
}

static int cmp_reader(const void *a, const void *b)
{
	return strcmp(((const struct st_policy_reader *)a)->name,
		      ((const struct st_policy_reader *)b)->name);
}

/* The readers' purposes must be purposes of the policy; a plain-string
 * reader reads for every purpose (written out in the canonical form). */
static void check_reader_purposes(struct ctx *c, struct st_policy *p,
				  const struct seen *s)
{
	for (size_t k = 0; k < p->n_readers; k++) {
		struct st_policy_reader *rd = &p->readers[k];
		char ip[ST_POLICY_PATH_MAX], pp[ST_POLICY_PATH_MAX];
		path_idx(ip, "readers", s->reader_index[k]);
		if (s->readers_all[k]) {
			if (!p->n_purposes) {
				problem(c, ST_E_POLICY, ip,
					"%s is named, but the policy has no "
					"purposes to read for; add a purpose to "
					"\"purposes\" or remove the reader",
					rd->name);
				continue;
			}
			rd->purposes.v = calloc(p->n_purposes + 1,
						sizeof *rd->purposes.v);
			if (!rd->purposes.v) {
				OOM(c);
				return;
			}
			for (size_t j = 0; j < p->n_purposes; j++) {
				if (!(rd->purposes.v[j] = dup(p->purposes[j].name))) {
					OOM(c);
					return;
				}
				rd->purposes.n++;
			}
			continue;
		}
		path_key(pp, ip, "purposes");
		for (size_t j = 0; j < rd->purposes.n; j++) {
			bool found = false;
			for (size_t q = 0; q < p->n_purposes && !found; q++)
				found = !strcmp(p->purposes[q].name,
						rd->purposes.v[j]);
			if (found)
				continue;
			char up[ST_POLICY_PATH_MAX], q[QUOTE_MAX + 4];
			path_idx(up, pp, j);
			problem(c, ST_E_POLICY, up,
				"\"%s\" is not a purpose of this policy; write "
				"the name of an entry of \"purposes\", or add "
				"the purpose there first",
				quote(q, rd->purposes.v[j]));
		}
		strs_normalise(&rd->purposes);
	}
	if (p->n_readers > 1)
		qsort(p->readers, p->n_readers, sizeof *p->readers, cmp_reader);
}

static void parse_root(struct ctx *c, struct st_policy *p, const json_t *root)
{
	struct seen s;
	memset(&s, 0, sizeof s);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)root, k, v) {
		char path[ST_POLICY_PATH_MAX];
		path_key(path, "$", k);
		if (!strcmp(k, "version")) {
			s.version = true;
			if (!json_is_integer(v) ||
			    json_integer_value(v) != ST_POLICY_VERSION)
				problem(c, ST_E_VERSION, path,
					"this build reads policy version %d "
					"only; write \"version\": %d",
					ST_POLICY_VERSION, ST_POLICY_VERSION);
		} else if (!strcmp(k, "capture")) {
			s.capture = true;
			parse_capture(c, p, v, path);
		} else if (!strcmp(k, "apps")) {
			parse_apps(c, p, v, path);
		} else if (!strcmp(k, "titles")) {
			parse_titles(c, p, v, path);
		} else if (!strcmp(k, "levels")) {
			s.levels = true;
			parse_levels(c, p, &s, v, path);
		} else if (!strcmp(k, "retention_days")) {
			s.retention = true;
			if (!want_int(c, v, path, 1, ST_POLICY_RETENTION_DAYS_MAX,
				      "how many days recordings are kept",
				      &p->retention_days))
				p->retention_days = 0;
		} else if (!strcmp(k, "key_backup_days")) {
			want_int(c, v, path, 1, ST_POLICY_KEY_BACKUP_DAYS_MAX,
				 "how many days backups of person keys are kept",
				 &p->key_backup_days);
		} else if (!strcmp(k, "timing")) {
			parse_timing(c, p, v, path);
		} else if (!strcmp(k, "purposes")) {
			parse_purposes(c, p, v, path);
		} else if (!strcmp(k, "readers")) {
			parse_readers(c, p, &s, v, path);
		} else if (!strcmp(k, "contact")) {
			if (want_text(c, v, path, ST_POLICY_CONTACT_MAX, false,
				      "where people ask to see or erase their "
				      "data, e.g. \"privacy@example.com\"") &&
			    !(p->contact = dup(json_string_value(v))))
				OOM(c);
		} else {
			problem(c, ST_E_POLICY, path,
				"unknown key; the keys allowed at the top are "
				"version, capture, apps, titles, levels, "
				"retention_days, key_backup_days, timing, "
				"purposes, readers and contact: remove it or "
				"correct its name");
		}
	}
	/* rules across keys */
	if (s.keep && s.export_ && p->export_level > p->keep_level)
		problem(c, ST_E_POLICY, "levels.export",
			"is %d, above levels.keep (%d): an export cannot hold "
			"what is not kept; write %d or lower",
			p->export_level, p->keep_level, p->keep_level);
	if (p->capture.text && !p->exclude.n)
		problem(c, ST_E_POLICY, "capture.text",
			"text capture needs exclusions: list at least password "
			"managers in apps.exclude (e.g. \"keepassxc*\", "
			"\"1password*\", \"bitwarden*\"), or write "
			"\"text\": false");
	check_reader_purposes(c, p, &s);
	if (!s.version)
		problem(c, ST_E_POLICY, "version",
			"missing; write \"version\": %d", ST_POLICY_VERSION);
	if (!s.capture)
		problem(c, ST_E_POLICY, "capture",
			"missing; say what is captured, e.g. \"capture\": "
			"{\"pointer\": true, \"apps\": true}");
	if (!s.levels)
		problem(c, ST_E_POLICY, "levels",
			"missing; write the highest levels kept and exported, "
			"e.g. \"levels\": {\"keep\": 2, \"export\": 2}");
	if (!s.retention)
		problem(c, ST_E_POLICY, "retention_days",
			"missing; write how many days recordings are kept, 1 "
			"to %d, e.g. \"retention_days\": 90",
			ST_POLICY_RETENTION_DAYS_MAX);
}

int st_policy_parse(const char *json, size_t len, struct st_policy *p,
		    struct st_policy_diag *diag, struct st_error *err)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	c.diag = diag;
	if (diag)
		memset(diag, 0, sizeof *diag);
	st_policy_init(p);
	if (!json) {
		problem(&c, ST_E_INVAL, "$", "no policy given");
	} else if (len > ST_POLICY_JSON_MAX) {
		problem(&c, ST_E_CAP, "$",
			"policy is %zu bytes; at most %u are read: shorten the "
			"lists (a glob may cover several applications)",
			len, ST_POLICY_JSON_MAX);
	} else {
		json_error_t je;
		/* duplicate keys would let a reader see one value and the
		 * check another */
		json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
		if (!root) {
			problem(&c, ST_E_JSON, "$",
				"not valid JSON at line %d, column %d: %s; fix the "
				"syntax (every key once, no trailing commas)",
				je.line, je.column, je.text);
		} else if (!json_is_object(root)) {
			problem(&c, ST_E_JSON, "$",
				"the policy is %s; write one JSON object, "
				"{\"version\": 1, ...}",
				type_name(root));
		} else {
			parse_root(&c, p, root);
		}
		json_decref(root);
	}
	if (!c.count)
		return 0;
	st_policy_fini(p);
	int code = c.broad ? ST_E_BROAD_GRANT : c.first_code;
	st_fail(err, code, "%s", c.broad ? c.broad_msg : c.first);
	return code;
}

/* --- canonical form and hash --------------------------------------------- */

static json_t *strs_json(const struct st_policy_strs *s)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < s->n; i++)
		if (json_array_append_new(a, json_string(s->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *policy_json(const struct st_policy *p)
{
	json_t *rules = json_array(), *purposes = json_array(),
	       *readers = json_array();
	bool ok = rules && purposes && readers;
	for (size_t i = 0; ok && i < p->n_title_rules; i++)
		ok = json_array_append_new(
			     rules, json_pack("{s:s, s:s}", "match",
					      p->title_rules[i].match, "replace",
					      p->title_rules[i].replace)) == 0;
	for (size_t i = 0; ok && i < p->n_purposes; i++)
		ok = json_array_append_new(
			     purposes,
			     json_pack("{s:s, s:s}", "name", p->purposes[i].name,
				       "description",
				       p->purposes[i].description)) == 0;
	for (size_t i = 0; ok && i < p->n_readers; i++)
		ok = json_array_append_new(
			     readers,
			     json_pack("{s:s, s:o}", "name", p->readers[i].name,
				       "purposes",
				       strs_json(&p->readers[i].purposes))) == 0;
	if (!ok) {
		json_decref(rules);
		json_decref(purposes);
		json_decref(readers);
		return NULL;
	}
	const struct st_policy_capture *k = &p->capture;
	/* "o" steals each reference, also when json_pack fails, and fails
	 * on a NULL one: a key is never silently left out */
	json_t *o = json_pack(
		"{s:i, s:{s:b, s:b, s:b, s:b, s:b, s:b},"
		" s:{s:o, s:o, s:o}, s:{s:o}, s:{s:i, s:i}, s:i, s:i,"
		" s:{s:i}, s:o, s:o}",
		"version", p->version, "capture", "pointer", k->pointer, "keys",
		k->keys, "text", k->text, "titles", k->titles, "apps", k->apps,
		"screenshots", k->screenshots, "apps", "include",
		strs_json(&p->include), "exclude", strs_json(&p->exclude),
		"private_chat", strs_json(&p->private_chat), "titles", "rules",
		rules, "levels", "keep", p->keep_level, "export",
		p->export_level, "retention_days", p->retention_days,
		"key_backup_days", p->key_backup_days, "timing",
		"key_coarsen_ms", p->key_coarsen_ms, "purposes", purposes,
		"readers", readers);
	if (o && p->contact &&
	    json_object_set_new(o, "contact", json_string(p->contact)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int st_policy_canonical(const struct st_policy *p, struct st_buf *out)
{
	json_t *o = policy_json(p);
	if (!o)
		return ST_E_NOMEM;
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!s)
		return ST_E_NOMEM;
	st_buf_put(out, s, strlen(s));
	free(s);
	return out->oom ? ST_E_NOMEM : 0;
}

int st_policy_hash(const struct st_policy *p, uint8_t out[32])
{
	struct st_buf b;
	int rc;
	if ((rc = st_crypto_init()) < 0)
		return rc;
	st_buf_init(&b, false);
	if ((rc = st_policy_canonical(p, &b)) == 0)
		crypto_hash_sha256(out, b.p, b.len);
	st_buf_fini(&b);
	return rc;
}

/* --- accessors ----------------------------------------------------------- */

void st_policy_capture_get(const struct st_policy *p,
			   struct st_policy_capture *out)
{
	*out = p->capture;
	out->text = p->capture.text && p->capture.keys;
	out->screenshots = false;
}

int st_policy_capture_kinds_json(const char *json, size_t len,
				 struct st_policy_capture *out,
				 struct st_error *err)
{
	struct st_policy p;
	memset(out, 0, sizeof *out);
	int rc = st_policy_parse(json, len, &p, NULL, err);
	if (rc == 0)
		st_policy_capture_get(&p, out);
	st_policy_fini(&p);
	return rc;
}

const char *const *st_policy_exclude(const struct st_policy *p, size_t *n)
{
	*n = p->exclude.n;
	return (const char *const *)p->exclude.v;
}

const char *const *st_policy_private_chat(const struct st_policy *p,
					  size_t *n)
{
	*n = p->private_chat.n;
	return (const char *const *)p->private_chat.v;
}

const struct st_policy_title_rule *
st_policy_title_rules(const struct st_policy *p, size_t *n)
{
	*n = p->n_title_rules;
	return p->title_rules;
}

int st_policy_keep_level(const struct st_policy *p)
{
	return p->keep_level;
}

int st_policy_export_level(const struct st_policy *p)
{
	return p->export_level;
}

unsigned st_policy_key_coarsen_ms(const struct st_policy *p)
{
	return (unsigned)p->key_coarsen_ms;
}

static bool any_match(const struct st_policy_strs *s, const char *app)
{
	for (size_t i = 0; i < s->n; i++)
		if (fnmatch(s->v[i], app, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

enum st_policy_app st_policy_app_rule(const struct st_policy *p,
				      const char *app)
{
	if (any_match(&p->exclude, app))
		return ST_POLICY_APP_EXCLUDED;
	if (any_match(&p->private_chat, app))
		return ST_POLICY_APP_PRIVATE_CHAT;
	if (p->include.n && !any_match(&p->include, app))
		return ST_POLICY_APP_NOT_INCLUDED;
	return ST_POLICY_APP_RECORDED;
}

/* --- the notice ---------------------------------------------------------- */

/* A non-breaking space: keeps a command or a number with its unit on one
 * line; written out as a plain space. */
#define NB "\x01"

static void put(struct st_buf *b, const char *s)
{
	st_buf_put(b, s, strlen(s));
}

static void putf(struct st_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct st_buf *b, const char *fmt, ...)
{
	va_list ap, aq;
	va_start(ap, fmt);
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0 && st_buf_reserve(b, (size_t)n + 1)) {
		vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, aq);
		b->len += (size_t)n;
	}
	va_end(aq);
}

/* Columns a word takes: UTF-8 code points, not bytes. */
static size_t cols(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Writes text as one paragraph wrapped at ST_POLICY_NOTICE_WIDTH: first
 * starts the first line, indent every other. A word longer than a line
 * stands alone on its line. */
static void wrap(struct st_buf *out, const char *first, const char *indent,
		 const char *text)
{
	size_t col = 0, i = 0, n = strlen(text);
	bool line_empty = true;
	put(out, first);
	col = cols(first, strlen(first));
	size_t indent_cols = cols(indent, strlen(indent));
	while (i < n) {
		while (i < n && text[i] == ' ')
			i++;
		size_t j = i;
		while (j < n && text[j] != ' ')
			j++;
		if (j == i)
			break;
		size_t w = cols(text + i, j - i);
		if (!line_empty && col + 1 + w > ST_POLICY_NOTICE_WIDTH) {
			put(out, "\n");
			put(out, indent);
			col = indent_cols;
			line_empty = true;
		}
		if (!line_empty) {
			put(out, " ");
			col++;
		}
		for (size_t q = i; q < j; q++)
			st_buf_u8(out, text[q] == '\x01' ? ' ' : (uint8_t)text[q]);
		col += w;
		line_empty = false;
		i = j;
	}
	put(out, "\n");
}

/* A scratch string built with putf, NUL-terminated for wrap(). */
static const char *str(struct st_buf *b)
{
	st_buf_u8(b, 0);
	b->len--;
	return b->oom ? "" : (const char *)b->p;
}

static void para(struct st_buf *out, struct st_buf *tmp)
{
	wrap(out, "", "", str(tmp));
	put(out, "\n");
	st_buf_reset(tmp);
}

static void bullet(struct st_buf *out, struct st_buf *tmp)
{
	wrap(out, "  - ", "    ", str(tmp));
	st_buf_reset(tmp);
}

static void heading(struct st_buf *out, const char *h)
{
	put(out, h);
	put(out, "\n\n");
}

/* "a, b and c" for a list of globs, each in quotes. */
static void put_list(struct st_buf *b, const struct st_policy_strs *s,
		     const struct st_policy_strs *skip)
{
	size_t shown = 0, total = 0;
	for (size_t i = 0; i < s->n; i++)
		total += !(skip && strs_has(skip, s->v[i]));
	for (size_t i = 0; i < s->n; i++) {
		if (skip && strs_has(skip, s->v[i]))
			continue;
		if (shown)
			put(b, shown + 1 == total ? " and " : ", ");
		putf(b, "\"%s\"", s->v[i]);
		shown++;
	}
}

static size_t count_not_in(const struct st_policy_strs *s,
			   const struct st_policy_strs *skip)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += !strs_has(skip, s->v[i]);
	return n;
}

static const char *const level_names[] = {
	"", "1 (pointer and window context only)",
	"2 (typed text, after redaction)",
	"3 (text about HR matters, performance or personal relationships)",
};

int st_policy_notice(const struct st_policy *p, struct st_buf *out,
		     struct st_error *err)
{
	if (!p || !out || p->keep_level < 1 ||
	    p->keep_level > ST_POLICY_LEVEL_MAX_KEPT || p->export_level < 1 ||
	    p->export_level > p->keep_level || p->retention_days < 1)
		return st_fail(err, ST_E_INVAL,
			       "notice: the policy has not passed its check; "
			       "parse it with st_policy_parse first");
	uint8_t h[32];
	char hex[65];
	int rc;
	if ((rc = st_policy_hash(p, h)) < 0)
		return st_fail(err, rc, "notice: cannot hash the policy: %s",
			       st_strerror(rc));
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);

	struct st_policy_capture k;
	st_policy_capture_get(p, &k);
	struct st_buf t;
	st_buf_init(&t, false);
	size_t start = out->len;

	put(out, "NOTICE: RECORDING OF YOUR WORK ON THIS COMPUTER\n\n");
	putf(&t, "Your organisation uses sealtrace to record how people use "
		 "their work computers, and to turn these recordings into "
		 "training data for AI models that learn to operate "
		 "computers. This notice says exactly what this computer "
		 "records and what happens to it. Nothing is recorded until "
		 "you accept this notice, the recording agent always shows "
		 "whether it is recording, and you can pause it at any time.");
	para(out, &t);

	heading(out, "1. What is recorded");
	if (!k.pointer && !k.keys && !k.titles && !k.apps) {
		putf(&t, "Nothing: this policy turns every kind of recording "
			 "off.");
		para(out, &t);
	} else {
		putf(&t, "While recording is on, and only in applications that "
			 "are not excluded (part 2)");
		if (p->include.n) {
			putf(&t, ", and only in these applications: ");
			put_list(&t, &p->include, NULL);
		}
		putf(&t, ", this computer records:");
		para(out, &t);
		if (k.pointer) {
			putf(&t, "pointer movement, clicks and scrolling;");
			bullet(out, &t);
		}
		if (k.keys) {
			putf(&t, "the keys you press, with their timing rounded "
				 "to %d" NB "milliseconds;",
			     p->key_coarsen_ms);
			bullet(out, &t);
		}
		if (k.text) {
			putf(&t, "the text your typing produces, after the "
				 "filtering in part 3;");
			bullet(out, &t);
		}
		if (k.titles) {
			putf(&t, "the titles of your windows, after the filtering "
				 "in part 3;");
			bullet(out, &t);
		}
		if (k.apps) {
			putf(&t, "which application is in front (its application "
				 "id or window class).");
			bullet(out, &t);
		}
		put(out, "\n");
	}

	heading(out, "2. What is never recorded");
	if (!k.pointer) {
		putf(&t, "pointer movement, clicks and scrolling;");
		bullet(out, &t);
	}
	if (!k.keys) {
		putf(&t, "the keys you press;");
		bullet(out, &t);
	}
	if (!k.text) {
		putf(&t, "the text your typing produces;");
		bullet(out, &t);
	}
	if (!k.titles) {
		putf(&t, "the titles of your windows;");
		bullet(out, &t);
	}
	if (!k.apps) {
		putf(&t, "which application is in front;");
		bullet(out, &t);
	}
	putf(&t, "screenshots, or anything else shown on your screen;");
	bullet(out, &t);
	putf(&t, "sound, camera images and the contents of your files;");
	bullet(out, &t);
	if (p->exclude.n) {
		putf(&t, "anything you do in these excluded applications, "
			 "matched by their names (\"*\" stands for any "
			 "characters); only the moment one of them comes to "
			 "the front is kept: ");
		put_list(&t, &p->exclude, NULL);
		putf(&t, ";");
		bullet(out, &t);
	}
	if ((k.keys || k.text) && count_not_in(&p->private_chat, &p->exclude)) {
		putf(&t, "what you type in private chat applications: ");
		put_list(&t, &p->private_chat, &p->exclude);
		putf(&t, ";");
		bullet(out, &t);
	}
	putf(&t, "passwords, access keys, tokens and other credentials: a "
		 "marker saying that something was removed takes their place;");
	bullet(out, &t);
	putf(&t, "anything about health, tax or private conversations "
		 "(level" NB "4): it is dropped before anything is stored, and "
		 "a gap marker shows that something was left out;");
	bullet(out, &t);
	if (p->keep_level < 3) {
		putf(&t, "text about HR matters, performance or personal "
			 "relationships (level" NB "3): it is dropped the same "
			 "way;");
		bullet(out, &t);
	}
	if (p->keep_level < 2 && k.keys) {
		putf(&t, "typed text of any kind (level" NB "2): it is dropped "
			 "the same way;");
		bullet(out, &t);
	}
	putf(&t, "anything at all while recording is paused or before you "
		 "accept this notice.");
	bullet(out, &t);
	put(out, "\n");

	heading(out, "3. How it is filtered, on your computer");
	putf(&t, "Filtering runs on this computer, in memory, before anything "
		 "is written to its disk. What you type is put back together "
		 "line by line and checked. Credentials and personal data, "
		 "such as card numbers, bank account numbers, social security "
		 "numbers, e-mail addresses, phone numbers and network "
		 "addresses, are replaced by markers that say only what kind "
		 "of thing was removed. A line that looks like a password is "
		 "removed together with the timing of its keys.");
	para(out, &t);
	putf(&t, "Every recording gets a sensitivity level: 1 is pointer and "
		 "window context only; 2 is typed text after redaction; 3 is "
		 "text about HR matters, performance or personal "
		 "relationships; 4 is health, tax and private conversations. "
		 "This policy keeps levels up to %s. Level" NB "4 is never "
		 "kept.",
	     level_names[p->keep_level]);
	para(out, &t);
	if (k.keys) {
		putf(&t, "Key timing is rounded to %d" NB "milliseconds, so that "
			 "the rhythm of your typing cannot be used to "
			 "recognise you.",
		     p->key_coarsen_ms);
		para(out, &t);
	}
	if (k.titles) {
		putf(&t, "Window titles go through the same checks as typed "
			 "text.");
		if (p->n_title_rules)
			putf(&t, " Before that, these rules rewrite them (the "
				 "first that matches the whole title applies):");
		para(out, &t);
		for (size_t i = 0; i < p->n_title_rules; i++) {
			const struct st_policy_title_rule *r = &p->title_rules[i];
			const char *end = i + 1 == p->n_title_rules ? "." : ";";
			if (r->replace[0])
				putf(&t, "a title matching \"%s\" is kept as "
					 "\"%s\"%s",
				     r->match, r->replace, end);
			else
				putf(&t, "a title matching \"%s\" is not "
					 "kept%s",
				     r->match, end);
			bullet(out, &t);
		}
		if (p->n_title_rules)
			put(out, "\n");
	}
	putf(&t, "Each recording is then sealed (encrypted) on this computer "
		 "to a key of your own. The servers that receive and store "
		 "recordings cannot open them.");
	para(out, &t);

	heading(out, "4. How long it is kept");
	putf(&t, "Recordings are deleted %d" NB "days after they were made. "
		 "Backups of the keys that open them are kept for at most "
		 "%d" NB "days, so when you erase your data, no copy can be "
		 "opened after %d" NB "days at the latest.",
	     p->retention_days, p->key_backup_days, p->key_backup_days);
	para(out, &t);

	heading(out, "5. What it may be used for");
	if (!p->n_purposes) {
		putf(&t, "This policy sets no purpose, so nobody may open the "
			 "content of your recordings.");
		para(out, &t);
	} else {
		putf(&t, "Your recordings may be used only for these purposes:");
		para(out, &t);
		for (size_t i = 0; i < p->n_purposes; i++) {
			putf(&t, "%s: %s", p->purposes[i].name,
			     p->purposes[i].description);
			bullet(out, &t);
		}
		put(out, "\n");
		putf(&t, "They may not be used for anything else, such as "
			 "judging your work or your performance, unless a "
			 "purpose above says so.");
		para(out, &t);
	}

	heading(out, "6. Who can see it, and how");
	putf(&t, "By default nobody can read the content of your recordings. "
		 "Content is opened only for one of the purposes above, under "
		 "a grant that names one person and one purpose, expires, and "
		 "was approved by two privacy officers.");
	para(out, &t);
	if (!p->n_readers) {
		putf(&t, "This policy names nobody who may be given such a "
			 "grant, so nobody can read the content.");
		para(out, &t);
	} else {
		putf(&t, "Only these people can ever be named in such a "
			 "grant:");
		para(out, &t);
		for (size_t i = 0; i < p->n_readers; i++) {
			const struct st_policy_reader *r = &p->readers[i];
			putf(&t, "%s, for ", r->name);
			for (size_t j = 0; j < r->purposes.n; j++) {
				if (j)
					put(&t, j + 1 == r->purposes.n ? " and "
								       : ", ");
				put(&t, r->purposes.v[j]);
			}
			put(&t, i + 1 == p->n_readers ? "." : ";");
			bullet(out, &t);
		}
		put(out, "\n");
	}
	putf(&t, "No group, role or \"everyone\" can ever be given access. "
		 "Exports made for a purpose hold levels up to %d, are "
		 "checked for redaction a second time, and are listed. Every "
		 "access is written to a tamper-evident audit log: you can see "
		 "who opened your data, when, and for which purpose.",
	     p->export_level);
	para(out, &t);

	heading(out, "7. How to pause, see and erase");
	static const char *const cmds[][2] = {
		{"To pause recording now, until you resume it:",
		 "sealtrace-agent pause"},
		{"To pause for a set time (30s, 10m, 2h or 1d):",
		 "sealtrace-agent pause 10m"},
		{"To resume after your pause:", "sealtrace-agent resume"},
		{"To see whether it is recording, and what waits to be sent:",
		 "sealtrace-agent status"},
		{"To erase what was recorded in the last MINUTES minutes:",
		 "sealtrace-agent forget MINUTES"},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		wrap(out, "  ", "  ", cmds[i][0]);
		putf(out, "      %s\n", cmds[i][1]);
	}
	put(out, "\n");
	putf(&t, "Recordings already sent when you run forget are deleted on "
		 "request. To see what was taken from you, who accessed it and "
		 "why, or to erase all of it, ask %s. Erasing destroys your "
		 "personal key, so every stored copy of your recordings "
		 "becomes unreadable.",
	     p->contact ? p->contact : "your privacy officer");
	para(out, &t);

	putf(out, "This notice was generated from the collection policy with "
		  "sha256\n%s.\n",
	     hex);
	st_buf_fini(&t);
	if (out->oom || t.oom) {
		out->len = start;
		return st_fail(err, ST_E_NOMEM, "notice: out of memory");
	}
	return 0;
}
