/* test_policy.c - the collection policy: the default passes; every rule
 * refuses with its code and key path; the broad-grant incident is refused by
 * code; canonical form, hash and notice are deterministic; the agent's
 * accessors give only what the policy lists. */
#include "helpers.h"

#include <dirent.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/policy.h"

/* A policy that passes, used as the base of the hand-written cases. */
static const char good[] =
	"{\"version\": 1,"
	" \"capture\": {\"pointer\": true, \"keys\": true, \"text\": true,"
	"  \"titles\": true, \"apps\": true},"
	" \"apps\": {\"exclude\": [\"keepassxc*\", \"bitwarden*\"],"
	"  \"private_chat\": [\"signal*\"]},"
	" \"titles\": {\"rules\": [{\"match\": \"*Incognito*\","
	"  \"replace\": \"private window\"}]},"
	" \"levels\": {\"keep\": 2, \"export\": 1},"
	" \"retention_days\": 30,"
	" \"timing\": {\"key_coarsen_ms\": 40},"
	" \"purposes\": [{\"name\": \"model-training\", \"description\": "
	"  \"Training models.\"}, {\"name\": \"audit\", \"description\": "
	"  \"Checking exports.\"}],"
	" \"readers\": [\"Bob@Example.com\", {\"name\": \"alice@example.com\","
	"  \"purposes\": [\"audit\"]}],"
	" \"contact\": \"privacy@example.com\"}";

/* The same policy: keys in another order, other whitespace, sets in
 * another order and with a repeat, the reader string form written out. */
static const char good_shuffled[] =
	"{\"contact\":\"privacy@example.com\",\"readers\":[{\"purposes\":"
	"[\"audit\"],\"name\":\"alice@example.com\"},{\"name\":"
	"\"bob@example.com\",\"purposes\":[\"model-training\",\"audit\","
	"\"audit\"]}],\"retention_days\":30,\"levels\":{\"export\":1,"
	"\"keep\":2},\"purposes\":[{\"description\":\"Checking exports.\","
	"\"name\":\"audit\"},{\"name\":\"model-training\",\"description\":"
	"\"Training models.\"}],\"timing\":{\"key_coarsen_ms\":40},\"titles\":"
	"{\"rules\":[{\"replace\":\"private window\",\"match\":\"*Incognito*\"}]},"
	"\"apps\":{\"private_chat\":[\"signal*\"],\"exclude\":[\"bitwarden*\","
	"\"keepassxc*\",\"bitwarden*\"],\"include\":[]},\"capture\":{\"apps\":"
	"true,\"titles\":true,\"text\":true,\"keys\":true,\"pointer\":true,"
	"\"screenshots\":false},\"version\":1}";

static const char *src_root(void)
{
	const char *r = getenv("ST_SOURCE_ROOT");
	return r ? r : ".";
}

static void read_src(const char *rel, struct st_buf *b)
{
	char path[1024];
	struct st_error e = {0};
	snprintf(path, sizeof path, "%s/%s", src_root(), rel);
	st_buf_init(b, false);
	if (st_file_read(path, ST_POLICY_JSON_MAX, b, &e) < 0)
		fail_msg("%s", e.msg);
}

static int parse_str(const char *s, struct st_policy *p,
		     struct st_policy_diag *d, struct st_error *e)
{
	return st_policy_parse(s, strlen(s), p, d, e);
}

/* Index of the problem with code and path, or -1. */
static int find(const struct st_policy_diag *d, int code, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->item[i].code == code && !strcmp(d->item[i].path, path))
			return (int)i;
	return -1;
}

static void dump(const struct st_policy_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		print_message("  %d %s: %s\n", d->item[i].code, d->item[i].path,
			      d->item[i].msg);
}

static void hash_of(const char *s, uint8_t h[32])
{
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	if (parse_str(s, &p, &d, &e) != 0) {
		dump(&d);
		fail_msg("%s", e.msg);
	}
	assert_int_equal(st_policy_hash(&p, h), 0);
	st_policy_fini(&p);
}

static void default_policy_passes(void **s)
{
	(void)s;
	struct st_buf b;
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	read_src("policies/default.json", &b);
	int rc = st_policy_parse((char *)b.p, b.len, &p, &d, &e);
	if (rc)
		dump(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_true(p.capture.pointer && p.capture.keys && p.capture.text &&
		    p.capture.titles && p.capture.apps);
	assert_false(p.capture.screenshots);
	assert_int_equal(p.keep_level, 2);
	assert_int_equal(p.export_level, 2);
	assert_int_equal(p.retention_days, 90);
	st_policy_fini(&p);
	st_buf_fini(&b);
}

static void default_excludes_secrets_and_private_apps_not_terminals(void **s)
{
	(void)s;
	struct st_buf b;
	struct st_policy p;
	read_src("policies/default.json", &b);
	assert_int_equal(st_policy_parse((char *)b.p, b.len, &p, NULL, NULL), 0);
	static const char *const excluded[] = {
		"keepassxc", "org.keepassxc.KeePassXC", "KeePass2", "1Password",
		"Bitwarden", "enpass", "LastPass", "seahorse",
		"org.gnome.seahorse.Application", "gnome-keyring-prompt",
		"pinentry-gtk-2", "Signal", "signal-desktop", "WhatsApp",
		"telegram-desktop", "TelegramDesktop", "discord",
		"facebook-messenger", "Element", "threema", "gnucash",
		"homebank", "org.gnome.Health", "MyChart", NULL};
	for (size_t i = 0; excluded[i]; i++)
		if (st_policy_app_rule(&p, excluded[i]) != ST_POLICY_APP_EXCLUDED)
			fail_msg("%s is not excluded by the default policy",
				 excluded[i]);
	static const char *const chats[] = {"signal-desktop", "WhatsApp",
					    "telegram-desktop", "discord",
					    "Element", NULL};
	struct st_policy q = p; /* exclusion wins: look at private_chat alone */
	q.exclude.n = 0;
	for (size_t i = 0; chats[i]; i++)
		assert_int_equal(st_policy_app_rule(&q, chats[i]),
				 ST_POLICY_APP_PRIVATE_CHAT);
	static const char *const recorded[] = {
		"xterm", "XTerm", "UXTerm", "bash", "gnome-terminal-server",
		"org.gnome.Terminal", "firefox", "Navigator", "code", "gedit",
		"libreoffice-writer", "konsole", "slack", NULL};
	for (size_t i = 0; recorded[i]; i++)
		if (st_policy_app_rule(&p, recorded[i]) != ST_POLICY_APP_RECORDED)
			fail_msg("%s would not be recorded by the default policy",
				 recorded[i]);
	st_policy_fini(&p);
	st_buf_fini(&b);
}

static void hash_ignores_key_order_whitespace_and_set_order(void **s)
{
	(void)s;
	uint8_t a[32], b[32];
	hash_of(good, a);
	hash_of(good_shuffled, b);
	assert_memory_equal(a, b, 32);
	/* and a real change changes it */
	char changed[sizeof good];
	memcpy(changed, good, sizeof good);
	char *r = strstr(changed, "\"retention_days\": 30");
	assert_non_null(r);
	r[19] = '1'; /* 31 days */
	hash_of(changed, b);
	assert_memory_not_equal(a, b, 32);
}

static void canonical_parses_back_to_itself(void **s)
{
	(void)s;
	struct st_policy p, q;
	struct st_buf c1, c2;
	st_buf_init(&c1, false);
	st_buf_init(&c2, false);
	assert_int_equal(parse_str(good, &p, NULL, NULL), 0);
	assert_int_equal(st_policy_canonical(&p, &c1), 0);
	assert_int_equal(st_policy_parse((char *)c1.p, c1.len, &q, NULL, NULL), 0);
	assert_int_equal(st_policy_canonical(&q, &c2), 0);
	assert_int_equal(c1.len, c2.len);
	assert_memory_equal(c1.p, c2.p, c1.len);
	/* compact, sorted, defaults written out, names lower-cased */
	assert_int_equal(memchr(c1.p, '\n', c1.len) == NULL, 1);
	st_buf_u8(&c1, 0);
	const char *t = (const char *)c1.p;
	assert_non_null(strstr(t, "{\"apps\":{\"exclude\":[\"bitwarden*\","
				  "\"keepassxc*\"],\"include\":[]"));
	assert_non_null(strstr(t, "\"key_backup_days\":7"));
	assert_non_null(strstr(t, "\"screenshots\":false"));
	assert_non_null(strstr(t, "{\"name\":\"bob@example.com\",\"purposes\":"
				  "[\"audit\",\"model-training\"]}"));
	/* the hash is SHA-256 of exactly these bytes */
	uint8_t h[32], h2[32];
	assert_int_equal(st_policy_hash(&p, h), 0);
	crypto_hash_sha256(h2, c1.p, c1.len - 1);
	assert_memory_equal(h, h2, 32);
	st_policy_fini(&p);
	st_policy_fini(&q);
	st_buf_fini(&c1);
	st_buf_fini(&c2);
}

static void notice_is_deterministic_and_lists_what_policy_says(void **s)
{
	(void)s;
	struct st_policy p, q;
	struct st_buf n1, n2;
	struct st_error e = {0};
	st_buf_init(&n1, false);
	st_buf_init(&n2, false);
	assert_int_equal(parse_str(good, &p, NULL, NULL), 0);
	assert_int_equal(parse_str(good_shuffled, &q, NULL, NULL), 0);
	assert_int_equal(st_policy_notice(&p, &n1, &e), 0);
	assert_int_equal(st_policy_notice(&q, &n2, &e), 0);
	assert_int_equal(n1.len, n2.len);
	assert_memory_equal(n1.p, n2.p, n1.len);
	st_buf_u8(&n1, 0);
	const char *t = (const char *)n1.p;
	static const char *const must[] = {
		"1. What is recorded", "2. What is never recorded",
		"3. How it is filtered, on your computer",
		"4. How long it is kept", "5. What it may be used for",
		"6. Who can see it, and how", "7. How to pause, see and erase",
		"rounded to 40 milliseconds", "deleted 30 days",
		"model-training: Training models.",
		"alice@example.com, for audit;",
		"bob@example.com, for audit and model-training.",
		"two privacy", "audit log", "\"keepassxc*\"", "\"signal*\"",
		"      sealtrace-agent pause\n", "      sealtrace-agent status\n",
		"      sealtrace-agent forget MINUTES\n", "privacy@example.com",
		"screenshots", "levels up to 2 (typed text", NULL};
	for (size_t i = 0; must[i]; i++)
		if (!strstr(t, must[i]))
			fail_msg("notice lacks '%s':\n%s", must[i], t);
	/* every line fits the width, in code points */
	size_t col = 0;
	for (const char *c = t; *c; c++) {
		if (*c == '\n') {
			col = 0;
			continue;
		}
		col += ((unsigned char)*c & 0xc0) != 0x80;
		assert_true(col <= ST_POLICY_NOTICE_WIDTH ||
			    strstr(t, "sha256") < c);
	}
	st_policy_fini(&p);
	st_policy_fini(&q);
	st_buf_fini(&n1);
	st_buf_fini(&n2);
}

static void notice_says_what_is_not_captured(void **s)
{
	(void)s;
	static const char pointer_only[] =
		"{\"version\": 1, \"capture\": {\"pointer\": true},"
		" \"levels\": {\"keep\": 1, \"export\": 1},"
		" \"retention_days\": 7}";
	struct st_policy p;
	struct st_buf n;
	st_buf_init(&n, false);
	assert_int_equal(parse_str(pointer_only, &p, NULL, NULL), 0);
	assert_int_equal(st_policy_notice(&p, &n, NULL), 0);
	st_buf_u8(&n, 0);
	const char *t = (const char *)n.p;
	const char *never = strstr(t, "2. What is never recorded");
	assert_non_null(never);
	assert_non_null(strstr(never, "the keys you press;"));
	assert_non_null(strstr(never, "the text your typing produces;"));
	assert_non_null(strstr(never, "the titles of your windows;"));
	assert_null(strstr(t, "rounded to"));
	assert_non_null(strstr(t, "names nobody"));
	st_policy_fini(&p);
	st_buf_fini(&n);
}

static void default_notice_matches_docs(void **s)
{
	(void)s;
	struct st_buf pol, doc, out;
	struct st_policy p;
	struct st_error e = {0};
	read_src("policies/default.json", &pol);
	read_src("docs/notice-default.txt", &doc);
	st_buf_init(&out, false);
	assert_int_equal(st_policy_parse((char *)pol.p, pol.len, &p, NULL, &e), 0);
	assert_int_equal(st_policy_notice(&p, &out, &e), 0);
	if (out.len != doc.len || memcmp(out.p, doc.p, out.len))
		fail_msg("docs/notice-default.txt is not the renderer's output; "
			 "regenerate it with 'sealtrace policy notice "
			 "policies/default.json > docs/notice-default.txt'");
	st_policy_fini(&p);
	st_buf_fini(&pol);
	st_buf_fini(&doc);
	st_buf_fini(&out);
}

static int code_of(const char *name)
{
	static const struct {
		const char *n;
		int c;
	} t[] = {{"ST_E_POLICY", ST_E_POLICY},
		 {"ST_E_BROAD_GRANT", ST_E_BROAD_GRANT},
		 {"ST_E_LEVEL", ST_E_LEVEL},
		 {"ST_E_JSON", ST_E_JSON},
		 {"ST_E_VERSION", ST_E_VERSION},
		 {"ST_E_CAP", ST_E_CAP}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(t[i].n, name))
			return t[i].c;
	fail_msg("expected.tsv: unknown code %s", name);
	return 0;
}

/* Every tests/data/policies/bad-*.json is listed in expected.tsv with the
 * code, path and message word of its problem, and is refused so. */
static void every_bad_policy_refused_with_code_and_path(void **s)
{
	(void)s;
	struct st_buf tsv;
	read_src("tests/data/policies/expected.tsv", &tsv);
	st_buf_u8(&tsv, 0);
	char listed[128][96];
	size_t nlisted = 0;
	char *save = NULL;
	for (char *line = strtok_r((char *)tsv.p, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		char *f[4], *s2 = NULL;
		size_t nf = 0;
		for (char *x = strtok_r(line, "\t", &s2); x && nf < 4;
		     x = strtok_r(NULL, "\t", &s2))
			f[nf++] = x;
		assert_int_equal(nf, 4);
		assert_true(nlisted < 128);
		snprintf(listed[nlisted++], 96, "%s", f[0]);
		char rel[256];
		snprintf(rel, sizeof rel, "tests/data/policies/%s", f[0]);
		struct st_buf b;
		struct st_policy p;
		struct st_policy_diag d;
		struct st_error e = {0};
		read_src(rel, &b);
		int code = code_of(f[1]);
		int rc = st_policy_parse((char *)b.p, b.len, &p, &d, &e);
		if (rc >= 0)
			fail_msg("%s passed the check", f[0]);
		int at = find(&d, code, f[2]);
		if (at < 0) {
			dump(&d);
			fail_msg("%s: no %s problem at %s", f[0], f[1], f[2]);
		}
		if (!strstr(d.item[at].msg, f[3]))
			fail_msg("%s: message '%s' lacks '%s'", f[0],
				 d.item[at].msg, f[3]);
		/* broad grant outranks everything; else the first problem */
		assert_int_equal(rc, code == ST_E_BROAD_GRANT ? ST_E_BROAD_GRANT
							     : d.item[0].code);
		assert_int_equal(e.code, rc);
		/* a refused policy is left empty: nothing to capture */
		assert_false(p.capture.pointer || p.capture.keys ||
			     p.capture.text || p.capture.titles ||
			     p.capture.apps);
		st_policy_fini(&p);
		st_buf_fini(&b);
	}
	assert_true(nlisted >= 20);
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/tests/data/policies", src_root());
	DIR *dp = opendir(dir);
	assert_non_null(dp);
	struct dirent *de;
	size_t nbad = 0;
	while ((de = readdir(dp))) {
		if (strncmp(de->d_name, "bad-", 4))
			continue;
		nbad++;
		bool ok = false;
		for (size_t i = 0; i < nlisted && !ok; i++)
			ok = !strcmp(listed[i], de->d_name);
		if (!ok)
			fail_msg("%s is not listed in expected.tsv", de->d_name);
	}
	closedir(dp);
	assert_int_equal(nbad, nlisted);
	st_buf_fini(&tsv);
}

/* The known incident: a schema-valid policy that would let every employee
 * read recordings, chats and performance data. */
static void incident_everyone_refused_as_broad_grant(void **s)
{
	(void)s;
	struct st_buf b;
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	read_src("tests/data/policies/incident-everyone.json", &b);
	int rc = st_policy_parse((char *)b.p, b.len, &p, &d, &e);
	assert_int_equal(rc, ST_E_BROAD_GRANT);
	assert_int_equal(e.code, ST_E_BROAD_GRANT);
	assert_true(find(&d, ST_E_BROAD_GRANT, "readers[0]") >= 0);
	assert_true(find(&d, ST_E_BROAD_GRANT, "readers[1].name") >= 0);
	/* nothing else is wrong with it: the broad grant is the refusal */
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.item[i].code, ST_E_BROAD_GRANT);
	assert_int_equal(p.n_readers, 0);
	st_policy_fini(&p);
	st_buf_fini(&b);
}

/* A broad grant is the code returned even when other problems come first. */
static void broad_grant_outranks_earlier_problems(void **s)
{
	(void)s;
	static const char j[] =
		"{\"version\": 9, \"capture\": {\"pointer\": \"yes\"},"
		" \"levels\": {\"keep\": 4, \"export\": 1},"
		" \"purposes\": [{\"name\": \"x\", \"description\": \"y\"}],"
		" \"readers\": [\"alice@example.com\", \"everyone\"]}";
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	int rc = parse_str(j, &p, &d, &e);
	assert_fails_with(rc, ST_E_BROAD_GRANT, &e, "readers[1]: broad grant");
	/* and every other problem is reported too */
	assert_true(find(&d, ST_E_VERSION, "version") >= 0);
	assert_true(find(&d, ST_E_POLICY, "capture.pointer") >= 0);
	assert_true(find(&d, ST_E_LEVEL, "levels.keep") >= 0);
	assert_true(find(&d, ST_E_POLICY, "retention_days") >= 0);
	assert_true(find(&d, ST_E_BROAD_GRANT, "readers[1]") >= 0);
	assert_int_equal(d.item[0].code, ST_E_VERSION);
	st_policy_fini(&p);
}

static void broad_rule_refuses_groups_roles_everyone(void **s)
{
	(void)s;
	static const char *const broad[] = {
		"*", "all", "ALL", "everyone", " everyone ", "Everybody",
		"all-employees", "all-employees@example.com", "@group",
		"@example.com", "group:ml", "role:admin", "team:data",
		"cn=readers,ou=groups", "staff", "employees", "data-team",
		"ml-group", "company-all", "hr@example.com",
		"hr.managers@example.com", "alice+all@example.com",
		"*@example.com", "a?ice@example.com", "ml@lists.example.com",
		"x@googlegroups.com", "alice@example.com, bob@example.com",
		"security-team@example.com", "eng_all", "public", "", NULL};
	for (size_t i = 0; broad[i]; i++)
		if (!st_policy_reader_is_broad(broad[i]))
			fail_msg("\"%s\" is not refused as a broad grant",
				 broad[i]);
	static const char *const people[] = {
		"alice@example.com", "Bob.Smith@Example.COM",
		"j.doe+ml@example.co.uk", "allison@example.com",
		"teamaker@example.com", "grouper@example.com",
		"o'neil@example.com", NULL};
	for (size_t i = 0; people[i]; i++)
		if (st_policy_reader_is_broad(people[i]))
			fail_msg("\"%s\" is refused as a broad grant", people[i]);
}

static void every_problem_is_reported_up_to_the_cap(void **s)
{
	(void)s;
	struct st_buf j;
	st_buf_init(&j, false);
	const char *head = "{\"version\": 1, \"capture\": {}, \"levels\": "
			   "{\"keep\": 1, \"export\": 1}, \"retention_days\": 1";
	st_buf_put(&j, head, strlen(head));
	for (int i = 0; i < ST_POLICY_DIAG_MAX + 10; i++) {
		char k[32];
		int n = snprintf(k, sizeof k, ", \"bogus%d\": 1", i);
		st_buf_put(&j, k, (size_t)n);
	}
	st_buf_put(&j, "}", 1);
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	int rc = st_policy_parse((char *)j.p, j.len, &p, &d, &e);
	assert_fails_with(rc, ST_E_POLICY, &e, "bogus0: unknown key");
	assert_int_equal(d.n, ST_POLICY_DIAG_MAX);
	assert_int_equal(d.dropped, 10);
	assert_string_equal(d.item[5].path, "bogus5");
	st_policy_fini(&p);
	st_buf_fini(&j);
}

static void oversized_and_malformed_input_refused(void **s)
{
	(void)s;
	struct st_policy p;
	struct st_policy_diag d;
	struct st_error e = {0};
	size_t n = ST_POLICY_JSON_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	assert_fails_with(st_policy_parse(big, n, &p, &d, &e), ST_E_CAP, &e,
			  "at most");
	free(big);
	assert_fails_with(parse_str("{\"version\": 1,", &p, &d, &e), ST_E_JSON,
			  &e, "$: not valid JSON at line 1");
	assert_fails_with(st_policy_parse(NULL, 0, &p, &d, &e), ST_E_INVAL, &e,
			  "no policy");
	/* control characters never reach the notice */
	assert_fails_with(parse_str("{\"version\": 1, \"capture\": {},"
				    " \"levels\": {\"keep\": 1, \"export\": 1},"
				    " \"retention_days\": 1, \"purposes\": "
				    "[{\"name\": \"a\", \"description\": "
				    "\"x\\u001b[2Jy\"}]}",
				    &p, &d, &e),
			  ST_E_POLICY, &e, "purposes[0].description: contains a "
					   "control character");
	/* an unknown key with terminal escapes is quoted safely */
	assert_int_equal(parse_str("{\"\\u001b]0;x\": 1}", &p, &d, &e),
			 ST_E_POLICY);
	for (size_t i = 0; i < d.n; i++)
		assert_null(strchr(d.item[i].path, 0x1b));
	st_policy_fini(&p);
}

/* Per capture kind: a policy listing only that kind true gives true for it
 * and false for every other, through both accessors. */
static void capture_accessor_is_false_unless_listed_true(void **s)
{
	(void)s;
	static const char *const kinds[] = {"pointer", "keys", "text",
					    "titles", "apps"};
	for (size_t k = 0; k < 5; k++) {
		char j[512];
		/* text needs keys, and exclusions */
		snprintf(j, sizeof j,
			 "{\"version\": 1, \"capture\": {\"%s\": true%s%s},"
			 " \"apps\": {\"exclude\": [\"keepassxc*\"]},"
			 " \"levels\": {\"keep\": 1, \"export\": 1},"
			 " \"retention_days\": 1}",
			 kinds[k], k == 2 ? ", \"keys\": true" : "",
			 k == 0 ? ", \"titles\": false" : "");
		struct st_policy p;
		struct st_policy_capture c, c2;
		struct st_error e = {0};
		if (parse_str(j, &p, NULL, &e))
			fail_msg("%s: %s", kinds[k], e.msg);
		st_policy_capture_get(&p, &c);
		assert_int_equal(st_policy_capture_kinds_json(j, strlen(j), &c2,
							      &e),
				 0);
		assert_memory_equal(&c, &c2, sizeof c);
		bool got[5] = {c.pointer, c.keys, c.text, c.titles, c.apps};
		for (size_t o = 0; o < 5; o++) {
			bool want = o == k || (k == 2 && o == 1);
			if (got[o] != want)
				fail_msg("policy with only %s: %s is %d",
					 kinds[k], kinds[o], got[o]);
		}
		assert_false(c.screenshots);
		st_policy_fini(&p);
	}
	/* a refused policy gives nothing, even kinds it lists */
	struct st_policy_capture c;
	struct st_error e = {0};
	const char *bad = "{\"version\": 1, \"capture\": {\"pointer\": true},"
			  " \"levels\": {\"keep\": 4, \"export\": 1},"
			  " \"retention_days\": 1}";
	memset(&c, 0xff, sizeof c);
	assert_fails_with(st_policy_capture_kinds_json(bad, strlen(bad), &c, &e),
			  ST_E_LEVEL, &e, "levels.keep");
	assert_false(c.pointer || c.keys || c.text || c.titles || c.apps ||
		     c.screenshots);
}

static void filter_accessors_give_the_policy_lists(void **s)
{
	(void)s;
	struct st_policy p;
	size_t n;
	assert_int_equal(parse_str(good, &p, NULL, NULL), 0);
	const char *const *x = st_policy_exclude(&p, &n);
	assert_int_equal(n, 2);
	assert_string_equal(x[0], "bitwarden*");
	assert_string_equal(x[1], "keepassxc*");
	x = st_policy_private_chat(&p, &n);
	assert_int_equal(n, 1);
	assert_string_equal(x[0], "signal*");
	const struct st_policy_title_rule *r = st_policy_title_rules(&p, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].match, "*Incognito*");
	assert_string_equal(r[0].replace, "private window");
	assert_int_equal(st_policy_keep_level(&p), 2);
	assert_int_equal(st_policy_export_level(&p), 1);
	assert_int_equal(st_policy_key_coarsen_ms(&p), 40);
	assert_int_equal(st_policy_app_rule(&p, "KeePassXC"),
			 ST_POLICY_APP_EXCLUDED);
	assert_int_equal(st_policy_app_rule(&p, "signal-desktop"),
			 ST_POLICY_APP_PRIVATE_CHAT);
	assert_int_equal(st_policy_app_rule(&p, "xterm"),
			 ST_POLICY_APP_RECORDED);
	st_policy_fini(&p);
	/* defaults, and include */
	const char *j = "{\"version\": 1, \"capture\": {\"pointer\": true},"
			" \"apps\": {\"include\": [\"xterm\"]},"
			" \"levels\": {\"keep\": 1, \"export\": 1},"
			" \"retention_days\": 1}";
	assert_int_equal(parse_str(j, &p, NULL, NULL), 0);
	assert_int_equal(st_policy_key_coarsen_ms(&p),
			 ST_POLICY_KEY_COARSEN_MS_DEFAULT);
	assert_int_equal(st_policy_app_rule(&p, "XTerm"), ST_POLICY_APP_RECORDED);
	assert_int_equal(st_policy_app_rule(&p, "firefox"),
			 ST_POLICY_APP_NOT_INCLUDED);
	st_policy_fini(&p);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(default_policy_passes),
		cmocka_unit_test(default_excludes_secrets_and_private_apps_not_terminals),
		cmocka_unit_test(hash_ignores_key_order_whitespace_and_set_order),
		cmocka_unit_test(canonical_parses_back_to_itself),
		cmocka_unit_test(notice_is_deterministic_and_lists_what_policy_says),
		cmocka_unit_test(notice_says_what_is_not_captured),
		cmocka_unit_test(default_notice_matches_docs),
		cmocka_unit_test(every_bad_policy_refused_with_code_and_path),
		cmocka_unit_test(incident_everyone_refused_as_broad_grant),
		cmocka_unit_test(broad_grant_outranks_earlier_problems),
		cmocka_unit_test(broad_rule_refuses_groups_roles_everyone),
		cmocka_unit_test(every_problem_is_reported_up_to_the_cap),
		cmocka_unit_test(oversized_and_malformed_input_refused),
		cmocka_unit_test(capture_accessor_is_false_unless_listed_true),
		cmocka_unit_test(filter_accessors_give_the_policy_lists),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
