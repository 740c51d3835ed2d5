/* admin_access.c - the least-privilege commands of `sealtrace`: token,
 * purpose, erase, audit (list, checkpoint, verify), access and retention.
 * `audit verify` checks the log here, on the machine that runs it, from
 * the entries the API hands out: the chain, the tree root at every saved
 * checkpoint, the server's checkpoint signature and consistency proofs; a
 * server that rewrote its log cannot make it pass. */
#include "server/admin_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "access/audit.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/token.h"

#define CHECKPOINTS_MAX 64
#define AUDIT_PAGE 10000
#define ENTRIES_MAX 100000000ull /* a log over this is refused by verify */
#define SCOPE_NAMES_MAX 256
#define UNTIL_DEFAULT_S 4102444800LL /* 2100-01-01 */

static bool is(const char *a, const char *b)
{
	return !strcmp(a, b);
}

/* Seconds since the epoch from "1700000000" or "2026-12-01" or
 * "2026-12-01T10:00:00Z"; -1 when malformed. */
static int call_json(const struct admin_target *t, const char *method,
		     const char *path, json_t *body, json_t **out,
		     struct st_buf *raw, struct st_error *err)
{
	char *text = NULL;
	int rc = 0;
	if (body && (rc = adm_body_of(body, &text, err)) < 0)
		return rc;
	struct call c = {method, path, text, text ? strlen(text) : 0,
			 NULL, 0, 0};
	rc = adm_api_json(t, &c, out, raw, err);
	free(text);
	return rc;
}

/* ---- token ---- */

static int token_print(const json_t *a, int json, const struct st_buf *raw,
		       FILE *out)
{
	if (json) {
		adm_print_raw(raw, out);
		return 0;
	}
	if (json_object_get(a, "pending")) {
		fprintf(out, "request %lld: %s\n", adm_jint(a, "request"),
			adm_jstr(a, "message"));
		return 0;
	}
	char when[32];
	adm_fmt_time(adm_jint(a, "expires_s"), when, sizeof when);
	fprintf(stderr,
		"token \"%s\" for %s as %s, expires %s; shown once: keep it "
		"secret\n",
		adm_jstr(a, "name"), adm_jstr(a, "person"), adm_jstr(a, "role"),
		when);
	fprintf(out, "%s\n", adm_jstr(a, "token"));
	return 0;
}

static int token_create(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err)
{
	const char *person = NULL, *role = NULL, *name = NULL, *days = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((v = adm_opt_value(argc, argv, &i, "--person", &bad)))
			person = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--role", &bad)))
			role = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--name", &bad)))
			name = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--expires-days",
					    &bad)))
			days = v;
		else
			return adm_usage(err, "token create: unknown argument "
					 "\"%s\"; see 'sealtrace token --help'",
					 argv[i]);
		if (bad)
			return adm_usage(err, "token create: %s needs a value",
					 argv[i]);
	}
	if (!person || !role)
		return adm_usage(err, "token create: --person NAME and --role "
				 "ROLE are required%s", "");
	char def[65];
	if (!name) {
		snprintf(def, sizeof def, "%s-%.40s-%04x", role, person,
			 (unsigned)(randombytes_uniform(0x10000)));
		for (char *p = def; *p; p++)
			if (*p == '@' || *p == ' ')
				*p = '.';
		name = def;
	}
	json_t *b = json_pack("{s:s,s:s,s:s}", "name", name, "person", person,
			      "role", role);
	if (b && days) {
		long long d = atoll(days);
		if (d < 1 || d > 365) {
			json_decref(b);
			return adm_usage(err, "token create: --expires-days "
					 "\"%s\": 1 to 365", days);
		}
		json_object_set_new(b, "expires_days", json_integer(d));
	}
	struct st_buf raw;
	st_buf_init(&raw, true);
	json_t *a = NULL;
	int rc = call_json(t, "POST", "/v1/tokens", b, &a, &raw, err);
	if (rc == 0)
		rc = token_print(a, json, &raw, out);
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int token_approve(const struct admin_target *t, const char *id,
			 int json, FILE *out, struct st_error *err)
{
	long long n = atoll(id);
	if (n < 1)
		return adm_usage(err, "token approve \"%s\": give the request "
				 "number 'token create' printed", id);
	struct st_buf raw;
	st_buf_init(&raw, true);
	json_t *a = NULL;
	int rc = call_json(t, "POST", "/v1/tokens/approve",
			   json_pack("{s:I}", "request", (json_int_t)n), &a,
			   &raw, err);
	if (rc == 0)
		rc = token_print(a, json, &raw, out);
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int token_list(const struct admin_target *t, int json, FILE *out,
		      struct st_error *err)
{
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "GET", "/v1/tokens", NULL, &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		struct table tb = {.cols = 6};
		const char *h[] = {"NAME", "ROLE", "PERSON", "CREATED",
				   "EXPIRES", "REVOKED"};
		adm_table_row(&tb, h);
		size_t i;
		json_t *u;
		json_array_foreach(json_object_get(a, "tokens"), i, u) {
			char c[32], x[32];
			adm_fmt_time(adm_jint(u, "created_s"), c, sizeof c);
			adm_fmt_time(adm_jint(u, "expires_s"), x, sizeof x);
			const char *row[] = {
				adm_jstr(u, "name"), adm_jstr(u, "role"),
				*adm_jstr(u, "person") ? adm_jstr(u, "person")
						       : "-",
				c, x,
				json_is_true(json_object_get(u, "revoked"))
					? "yes"
					: "no"};
			adm_table_row(&tb, row);
		}
		adm_table_print(&tb, out);
		adm_table_fini(&tb);
	}
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int simple_post(const struct admin_target *t, const char *path,
		       json_t *body, int json, FILE *out, const char *done,
		       struct st_error *err)
{
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "POST", path, body, &a, &raw, err);
	if (rc == 0 && json)
		adm_print_raw(&raw, out);
	else if (rc == 0)
		fprintf(out, "%s\n", done);
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* ---- purpose ---- */

static int add_name(json_t *arr, const char *v, const char *what,
		    struct st_error *err)
{
	if (!adm_name_ok(v, ADMIN_NAME_MAX) ||
	    json_array_size(arr) >= SCOPE_NAMES_MAX)
		return adm_usage(err, "purpose propose: %s: empty, too long, "
				 "or too many",
				 what);
	json_array_append_new(arr, json_string(v));
	return 0;
}

static int purpose_propose(const struct admin_target *t, int argc,
			   char **argv, int json, FILE *out,
			   struct st_error *err)
{
	const char *name = NULL, *desc = NULL, *file = NULL;
	long long from = 0, until = UNTIL_DEFAULT_S, level = 0, days = 0;
	json_t *stew = json_array(), *people = json_array(),
	       *groups = json_array(), *apps = json_array(),
	       *fields = json_array();
	int rc = 0;
	for (int i = 0; rc == 0 && i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((v = adm_opt_value(argc, argv, &i, "--file", &bad)))
			file = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--name", &bad)))
			name = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--description",
					    &bad)))
			desc = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--steward",
					    &bad)))
			rc = add_name(stew, v, "--steward", err);
		else if ((v = adm_opt_value(argc, argv, &i, "--user", &bad)))
			rc = add_name(people, v, "--user", err);
		else if ((v = adm_opt_value(argc, argv, &i, "--group", &bad)))
			rc = add_name(groups, v, "--group", err);
		else if ((v = adm_opt_value(argc, argv, &i, "--app", &bad)))
			rc = add_name(apps, v, "--app", err);
		else if ((v = adm_opt_value(argc, argv, &i, "--field", &bad)))
			rc = add_name(fields, v, "--field", err);
		else if ((v = adm_opt_value(argc, argv, &i, "--from", &bad))) {
			if ((from = st_time_parse(v)) < 0)
				rc = adm_usage(err, "purpose propose: --from "
					       "\"%s\": seconds or YYYY-MM-DD",
					       v);
		} else if ((v = adm_opt_value(argc, argv, &i, "--until",
					      &bad))) {
			if ((until = st_time_parse(v)) < 0)
				rc = adm_usage(err, "purpose propose: --until "
					       "\"%s\": seconds or YYYY-MM-DD",
					       v);
		} else if ((v = adm_opt_value(argc, argv, &i, "--level",
					      &bad)))
			level = atoll(v);
		else if ((v = adm_opt_value(argc, argv, &i, "--expires-days",
					    &bad)))
			days = atoll(v);
		else
			rc = adm_usage(err, "purpose propose: unknown argument "
				       "\"%s\"; see 'sealtrace purpose --help'",
				       argv[i]);
		if (rc == 0 && bad)
			rc = adm_usage(err, "purpose propose: %s needs a value",
				       argv[i]);
	}
	json_t *body = NULL;
	if (rc == 0 && file) {
		json_error_t je;
		body = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
		if (!body)
			rc = st_fail(err, ST_E_JSON, "%s: line %d: %s", file,
				     je.line, je.text);
	} else if (rc == 0) {
		if (!name || !desc || json_array_size(stew) == 0 || !level ||
		    !days)
			rc = adm_usage(err, "purpose propose: --name, "
				       "--description, --steward, --level and "
				       "--expires-days are required (or "
				       "--file)%s",
				       "");
		else if (json_array_size(people) + json_array_size(groups) ==
			 0)
			rc = adm_usage(err, "purpose propose: name the people "
				       "(--user) or groups (--group) it "
				       "covers%s",
				       "");
	}
	if (rc == 0 && !body) {
		json_t *scope = json_pack("{s:O,s:O,s:O,s:I,s:I,s:I}", "people",
					  people, "groups", groups, "apps",
					  apps, "from", (json_int_t)from,
					  "until", (json_int_t)until, "level",
					  (json_int_t)level);
		if (scope && json_array_size(fields))
			json_object_set(scope, "fields", fields);
		body = json_pack("{s:s,s:s,s:O,s:I,s:o}", "name", name,
				 "description", desc, "stewards", stew,
				 "expires_days", (json_int_t)days, "scope",
				 scope);
		if (!body)
			rc = st_fail(err, ST_E_NOMEM, "out of memory");
	}
	json_decref(stew);
	json_decref(people);
	json_decref(groups);
	json_decref(apps);
	json_decref(fields);
	if (rc < 0) {
		json_decref(body);
		return rc;
	}
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	rc = call_json(t, "POST", "/v1/purposes", body, &a, &raw, err);
	if (rc == 0 && json)
		adm_print_raw(&raw, out);
	else if (rc == 0)
		fprintf(out,
			"purpose %lld (%s) proposed; two privacy officers, "
			"neither you nor a steward on it, must approve it: "
			"sealtrace purpose approve %lld\n",
			adm_jint(a, "id"), adm_jstr(a, "name"),
			adm_jint(a, "id"));
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int purpose_id_cmd(const struct admin_target *t, const char *path,
			  const char *id, int json, FILE *out,
			  struct st_error *err)
{
	long long n = atoll(id);
	if (n < 1)
		return adm_usage(err, "purpose: \"%s\" is not a purpose number "
				 "(see 'sealtrace purpose list')", id);
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "POST", path,
			   json_pack("{s:I}", "id", (json_int_t)n), &a, &raw,
			   err);
	if (rc == 0 && json)
		adm_print_raw(&raw, out);
	else if (rc == 0)
		fprintf(out, "purpose %lld: %s%s%s\n", n,
			adm_jstr(a, "state"),
			*adm_jstr(a, "message") ? ": " : "",
			adm_jstr(a, "message"));
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static void join(const json_t *arr, char *out, size_t cap)
{
	size_t i;
	json_t *v;
	out[0] = 0;
	json_array_foreach(arr, i, v) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", i ? "," : "",
			 json_string_value(v) ? json_string_value(v) : "?");
	}
	if (!out[0])
		snprintf(out, cap, "-");
}

static int purpose_list(const struct admin_target *t, int json, FILE *out,
			struct st_error *err)
{
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "GET", "/v1/purposes", NULL, &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		struct table tb = {.cols = 7};
		const char *h[] = {"ID", "NAME", "STATE", "STEWARDS",
				   "APPROVERS", "LEVEL", "EXPIRES"};
		adm_table_row(&tb, h);
		size_t i;
		json_t *u;
		json_array_foreach(json_object_get(a, "purposes"), i, u) {
			char id[24], x[32], st[512], ap[512], lv[8];
			snprintf(id, sizeof id, "%lld", adm_jint(u, "id"));
			adm_fmt_time(adm_jint(u, "expires_s"), x, sizeof x);
			join(json_object_get(u, "stewards"), st, sizeof st);
			join(json_object_get(u, "approvers"), ap, sizeof ap);
			snprintf(lv, sizeof lv, "%lld",
				 adm_jint(json_object_get(u, "scope"),
					  "level"));
			const char *row[] = {id, adm_jstr(u, "name"),
					     adm_jstr(u, "state"), st, ap, lv,
					     x};
			adm_table_row(&tb, row);
		}
		if (tb.rows == 1)
			fprintf(out, "no purposes yet; a data steward proposes "
				"one with 'sealtrace purpose propose'\n");
		else
			adm_table_print(&tb, out);
		adm_table_fini(&tb);
	}
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* ---- erase ---- */

static int erase_cmd(const struct admin_target *t, int argc, char **argv,
		     int json, FILE *out, struct st_error *err)
{
	const char *user = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, &i, "--user", &bad);
		if (!v || bad)
			return adm_usage(err, "erase: \"%s\": use erase --user "
					 "NAME", argv[i]);
		user = v;
	}
	if (!user)
		return adm_usage(err, "erase: --user NAME is required%s", "");
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "POST", "/v1/erase",
			   json_pack("{s:s}", "user", user), &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		char until[32];
		adm_fmt_time(adm_jint(a, "key_backups_gone_by_s"), until,
			     sizeof until);
		fprintf(out,
			"%s erased: their key is destroyed, %lld devices "
			"revoked, %lld segments deleted, %lld tokens "
			"revoked\n",
			user, adm_jint(a, "devices_revoked"),
			adm_jint(a, "segments_deleted"),
			adm_jint(a, "tokens_revoked"));
		json_t *ex = json_object_get(a, "exports");
		if (json_array_size(ex) == 0) {
			fprintf(out, "no export held their data\n");
		} else {
			fprintf(out, "exports that held their data (delete "
				"them where they are kept):\n");
			size_t i;
			json_t *e;
			json_array_foreach(ex, i, e) {
				char w[32];
				adm_fmt_time(adm_jint(e, "made_s"), w,
					     sizeof w);
				fprintf(out, "  %s  made %s\n",
					adm_jstr(e, "id"), w);
			}
		}
		fprintf(out, "complete when no key backup older than now "
			"remains: by %s\n", until);
	}
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* ---- audit ---- */

/* Appends SEP "user=" and the name, percent-encoded by libcurl, to path. */
static int add_user_query(char *path, size_t cap, const char *sep,
			  const char *user, struct st_error *err)
{
	char *esc = curl_easy_escape(NULL, user, 0);
	if (!esc)
		return st_fail(err, ST_E_NOMEM, "out of memory");
	size_t l = strlen(path);
	int n = snprintf(path + l, cap - l, "%suser=%s", sep, esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= cap - l)
		return st_fail(err, ST_E_CAP, "--user: the name is too long");
	return 0;
}

/* One page of entries after `after`, as the audit module's structs. */
static int fetch_page(const struct admin_target *t, uint64_t after,
		      const char *user, struct st_audit_entry *out, size_t cap,
		      size_t *n, uint64_t *size, uint8_t *pk,
		      struct st_error *err)
{
	char path[600];
	snprintf(path, sizeof path, "/v1/audit/entries?after=%" PRIu64
		 "&limit=%zu", after, cap);
	int rc0;
	if (user && (rc0 = add_user_query(path, sizeof path, "&", user, err)) < 0)
		return rc0;
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "GET", path, NULL, &a, &raw, err);
	*n = 0;
	if (rc == 0 && pk &&
	    st_hex_decode(pk, 32, adm_jstr(a, "public_key")) < 0)
		rc = st_fail(err, ST_E_HTTP, "the server sent no audit key");
	if (rc == 0) {
		*size = (uint64_t)adm_jint(a, "size");
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(a, "entries"), i, e) {
			if (*n >= cap)
				break;
			struct st_audit_entry *x = &out[(*n)++];
			memset(x, 0, sizeof *x);
			x->seq = (uint64_t)adm_jint(e, "seq");
			x->time_s = adm_jint(e, "time_s");
			snprintf(x->actor, sizeof x->actor, "%s",
				 adm_jstr(e, "actor"));
			snprintf(x->role, sizeof x->role, "%s",
				 adm_jstr(e, "role"));
			snprintf(x->action, sizeof x->action, "%s",
				 adm_jstr(e, "action"));
			snprintf(x->object, sizeof x->object, "%s",
				 adm_jstr(e, "object"));
			snprintf(x->purpose, sizeof x->purpose, "%s",
				 adm_jstr(e, "purpose"));
			snprintf(x->result, sizeof x->result, "%s",
				 adm_jstr(e, "result"));
			if (st_hex_decode(x->prev, 32, adm_jstr(e, "prev")) <
				    0 ||
			    st_hex_decode(x->hash, 32, adm_jstr(e, "hash")) < 0)
				rc = st_fail(err, ST_E_HTTP,
					     "audit entry %" PRIu64 ": the "
					     "server sent a malformed hash",
					     x->seq);
		}
	}
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int audit_list(const struct admin_target *t, int argc, char **argv,
		      int json, FILE *out, struct st_error *err)
{
	const char *user = NULL;
	long long since = 0;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((v = adm_opt_value(argc, argv, &i, "--user", &bad)))
			user = v;
		else if ((v = adm_opt_value(argc, argv, &i, "--since", &bad))) {
			if ((since = st_time_parse(v)) < 0)
				return adm_usage(err, "audit list: --since "
						 "\"%s\": seconds or "
						 "YYYY-MM-DD", v);
		} else
			return adm_usage(err, "audit list: unknown argument "
					 "\"%s\"", argv[i]);
		if (bad)
			return adm_usage(err, "audit list: %s needs a value",
					 argv[i]);
	}
	struct st_audit_entry *pg = calloc(AUDIT_PAGE, sizeof *pg);
	if (!pg)
		return st_fail(err, ST_E_NOMEM, "out of memory");
	struct table tb = {.cols = 8};
	const char *h[] = {"SEQ",    "TIME",    "ACTOR",  "ROLE",
			   "ACTION", "OBJECT", "PURPOSE", "RESULT"};
	if (!json)
		adm_table_row(&tb, h);
	if (json)
		fprintf(out, "[");
	uint64_t after = 0, size = 0;
	size_t n = 0, shown = 0;
	int rc;
	do {
		rc = fetch_page(t, after, user, pg, AUDIT_PAGE, &n, &size,
				NULL, err);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const struct st_audit_entry *x = &pg[i];
			after = x->seq;
			if (x->time_s < since)
				continue;
			if (json) {
				json_t *o = json_pack(
					"{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s}",
					"seq", (json_int_t)x->seq, "time_s",
					(json_int_t)x->time_s, "actor",
					x->actor, "role", x->role, "action",
					x->action, "object", x->object,
					"purpose", x->purpose, "result",
					x->result);
				char *s = o ? json_dumps(o, JSON_COMPACT)
					    : NULL;
				fprintf(out, "%s%s", shown ? "," : "",
					s ? s : "null");
				free(s);
				json_decref(o);
			} else {
				char seq[24], w[32];
				snprintf(seq, sizeof seq, "%" PRIu64, x->seq);
				adm_fmt_time(x->time_s, w, sizeof w);
				const char *row[] = {
					seq, w, x->actor, x->role, x->action,
					x->object[0] ? x->object : "-",
					x->purpose[0] ? x->purpose : "-",
					x->result};
				adm_table_row(&tb, row);
			}
			shown++;
		}
	} while (rc == 0 && n == AUDIT_PAGE);
	if (json)
		fprintf(out, "]\n");
	else if (rc == 0 && shown == 0)
		fprintf(out, "no audit entries%s\n",
			user ? " about this person" : "");
	else if (rc == 0)
		adm_table_print(&tb, out);
	adm_table_fini(&tb);
	free(pg);
	return rc;
}

/* The server's newest checkpoint (made now if the log grew). */
static int server_checkpoint(const struct admin_target *t,
			     struct st_audit_checkpoint *cp, uint8_t pk[32],
			     char *text, size_t cap, struct st_error *err)
{
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "POST", "/v1/audit/checkpoint", NULL, &a, &raw,
			   err);
	if (rc == 0) {
		const char *s = adm_jstr(a, "checkpoint");
		snprintf(text, cap, "%s", s);
		rc = st_audit_checkpoint_parse(s, strlen(s), cp, err);
		if (rc < 0)
			st_error_prefix(err, "the server's checkpoint: ");
		if (rc == 0 && pk &&
		    st_hex_decode(pk, 32, adm_jstr(a, "public_key")) < 0)
			rc = st_fail(err, ST_E_HTTP, "the server sent a "
				     "malformed audit key");
	}
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int audit_checkpoint(const struct admin_target *t, int argc,
			    char **argv, int json, FILE *out,
			    struct st_error *err)
{
	const char *file = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, &i, "--out", &bad);
		if (!v || bad)
			return adm_usage(err, "audit checkpoint: \"%s\": use "
					 "--out FILE", argv[i]);
		file = v;
	}
	if (!file)
		return adm_usage(err, "audit checkpoint: --out FILE is "
				 "required%s", "");
	struct st_audit_checkpoint cp;
	uint8_t pk[32];
	char text[ST_AUDIT_CHECKPOINT_BUF];
	int rc = server_checkpoint(t, &cp, pk, text, sizeof text, err);
	if (rc == 0)
		rc = st_audit_checkpoint_verify(&cp, pk, err);
	if (rc == 0)
		rc = adm_write_new_0600(file, (const uint8_t *)text,
					strlen(text), err);
	if (rc == 0 && json) {
		char root[65];
		sodium_bin2hex(root, sizeof root, cp.root, 32);
		fprintf(out, "{\"file\":\"%s\",\"size\":%" PRIu64
			",\"root\":\"%s\"}\n",
			file, cp.size, root);
	} else if (rc == 0) {
		fprintf(out, "checkpoint of %" PRIu64 " entries written to %s; "
			"keep it off this host, and verify later with "
			"'sealtrace audit verify --checkpoint %s'\n",
			cp.size, file, file);
	}
	return rc;
}

static int cmp_expect(const void *x, const void *y)
{
	const struct st_audit_expect *a = x, *b = y;
	return a->size < b->size ? -1 : a->size > b->size;
}

static int audit_verify(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err)
{
	const char *files[CHECKPOINTS_MAX];
	size_t nf = 0;
	const char *keyfile = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((v = adm_opt_value(argc, argv, &i, "--checkpoint", &bad))) {
			if (nf == CHECKPOINTS_MAX)
				return adm_usage(err, "audit verify: at most "
						 "%s checkpoints", "64");
			files[nf++] = v;
		} else if ((v = adm_opt_value(argc, argv, &i, "--audit-key",
					      &bad))) {
			keyfile = v;
		} else {
			return adm_usage(err, "audit verify: unknown argument "
					 "\"%s\"", argv[i]);
		}
		if (bad)
			return adm_usage(err, "audit verify: %s needs a value",
					 argv[i]);
	}
	uint8_t pk[32], server_pk[32];
	struct st_audit_checkpoint scp;
	char stext[ST_AUDIT_CHECKPOINT_BUF];
	struct st_error se = {0};
	int rc = server_checkpoint(t, &scp, server_pk, stext, sizeof stext,
				   &se);
	/* A server that finds its own log damaged signs nothing over it:
	 * the entries are still checked here, against the saved
	 * checkpoints, with the key given. */
	bool empty = rc == ST_E_NOT_FOUND || rc == ST_E_AUDIT;
	if (rc == ST_E_AUDIT)
		fprintf(stderr, "sealtrace audit verify: the server says: %s\n",
			se.msg);
	if (empty && !keyfile) {
		/* no checkpoint to take the key from: the entries' answer
		 * names it */
		struct st_audit_entry one;
		size_t n1 = 0;
		uint64_t s1 = 0;
		rc = fetch_page(t, 0, NULL, &one, 1, &n1, &s1, server_pk, err);
		if (rc < 0)
			return rc;
	}
	if (empty)
		rc = 0;
	if (rc < 0) {
		if (err)
			*err = se;
		return rc;
	}
	if (keyfile) {
		rc = st_key_read(keyfile, ST_KEY_AUDIT_PUBLIC, pk, 32, false,
				 err);
		if (rc < 0)
			return rc;
	} else {
		memcpy(pk, server_pk, 32);
	}
	if (!empty && (rc = st_audit_checkpoint_verify(&scp, pk, err)) < 0) {
		st_error_prefix(err, "the server's checkpoint: ");
		return rc;
	}
	struct st_audit_checkpoint saved[CHECKPOINTS_MAX];
	struct st_audit_expect ex[CHECKPOINTS_MAX + 1];
	size_t ne = 0;
	for (size_t i = 0; i < nf; i++) {
		struct st_buf b;
		st_buf_init(&b, false);
		rc = st_file_read(files[i], ST_AUDIT_CHECKPOINT_TEXT_MAX + 1, &b,
				  err);
		if (rc == 0)
			rc = st_audit_checkpoint_parse((const char *)b.p, b.len,
						       &saved[i], err);
		if (rc == 0)
			rc = st_audit_checkpoint_verify(&saved[i], pk, err);
		st_buf_fini(&b);
		if (rc < 0) {
			st_error_prefix(err, "%s: ", files[i]);
			return rc;
		}
		ex[ne].size = saved[i].size;
		memcpy(ex[ne].root, saved[i].root, 32);
		ex[ne].name = files[i];
		ne++;
	}
	if (!empty) {
		ex[ne].size = scp.size;
		memcpy(ex[ne].root, scp.root, 32);
		ex[ne].name = "the server's newest checkpoint";
		ne++;
	}
	qsort(ex, ne, sizeof ex[0], cmp_expect);
	struct st_audit_verifier v;
	if ((rc = st_audit_verifier_init(&v, ex, ne, err)) < 0)
		return rc;
	struct st_audit_entry *pg = calloc(AUDIT_PAGE, sizeof *pg);
	if (!pg)
		return st_fail(err, ST_E_NOMEM, "out of memory");
	uint64_t after = 0, size = 0;
	size_t n = 0;
	do {
		rc = fetch_page(t, after, NULL, pg, AUDIT_PAGE, &n, &size,
				NULL, err);
		if (rc == 0 && n)
			rc = st_audit_verifier_feed(&v, pg, n, err);
		if (n)
			after = pg[n - 1].seq;
		if (after > ENTRIES_MAX)
			rc = st_fail(err, ST_E_CAP, "audit log: over %llu "
				     "entries", ENTRIES_MAX);
	} while (rc == 0 && n == AUDIT_PAGE);
	free(pg);
	uint8_t root[32];
	if (rc == 0)
		rc = st_audit_verifier_finish(&v, root, err);
	if (rc < 0)
		return rc;
	/* Each saved checkpoint must also be provably a prefix of the
	 * server's newest, by the server's own consistency proof. */
	for (size_t i = 0; !empty && i < nf; i++) {
		char path[160];
		snprintf(path, sizeof path,
			 "/v1/audit/proof?kind=consistency&size1=%" PRIu64
			 "&size2=%" PRIu64,
			 saved[i].size, scp.size);
		struct st_buf raw;
		st_buf_init(&raw, false);
		struct call c = {"GET", path, NULL, 0, NULL, 0, 0};
		rc = adm_api(t, &c, &raw, err);
		struct st_audit_proof pf;
		if (rc == 0)
			rc = st_audit_proof_parse((const char *)raw.p, raw.len,
						  &pf, err);
		if (rc == 0)
			rc = st_audit_consistency_verify(
				saved[i].size, scp.size, saved[i].root,
				scp.root, pf.hashes, pf.count, err);
		st_buf_fini(&raw);
		if (rc < 0) {
			st_error_prefix(err, "%s: consistency with the "
					"server's checkpoint: ",
					files[i]);
			return rc;
		}
	}
	if (se.code == ST_E_AUDIT)
		return st_fail(err, ST_E_AUDIT,
			       "the entries check here, but the server found "
			       "its log damaged: %s",
			       se.msg);
	char rh[65];
	sodium_bin2hex(rh, sizeof rh, root, 32);
	uint64_t entries = v.tree.size;
	if (json)
		fprintf(out, "{\"ok\":true,\"entries\":%" PRIu64
			",\"root\":\"%s\",\"checkpoints\":%zu}\n",
			entries, rh, nf);
	else
		fprintf(out,
			"audit log ok: %" PRIu64 " entries, chain intact, root "
			"%s; %zu saved checkpoint%s consistent%s\n",
			entries, rh, nf, nf == 1 ? "" : "s",
			keyfile ? ""
				: " (signatures checked with the key the "
				  "server reports; pin one with --audit-key)");
	return 0;
}

/* A person's access history, each entry's inclusion proof checked
 * against the checkpoint that comes with it. */
static int access_cmd(const struct admin_target *t, int argc, char **argv,
		      int json, FILE *out, struct st_error *err)
{
	const char *user = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, &i, "--user", &bad);
		if (!v || bad)
			return adm_usage(err, "access: \"%s\": use access "
					 "[--user NAME]", argv[i]);
		user = v;
	}
	char path[600] = "/v1/access";
	int rc0;
	if (user && (rc0 = add_user_query(path, sizeof path, "?", user, err)) < 0)
		return rc0;
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = call_json(t, "GET", path, NULL, &a, &raw, err);
	struct st_audit_checkpoint cp;
	uint8_t pk[32];
	json_t *cj = a ? json_object_get(a, "checkpoint") : NULL;
	size_t n_ok = 0;
	if (rc == 0 && cj) {
		const char *s = adm_jstr(cj, "checkpoint");
		rc = st_audit_checkpoint_parse(s, strlen(s), &cp, err);
		if (rc == 0 && st_hex_decode(pk, 32, adm_jstr(cj, "public_key")) < 0)
			rc = st_fail(err, ST_E_HTTP, "malformed audit key");
		if (rc == 0)
			rc = st_audit_checkpoint_verify(&cp, pk, err);
	}
	struct table tb = {.cols = 6};
	const char *h[] = {"SEQ", "TIME", "WHO", "ROLE", "ACTION", "PURPOSE"};
	adm_table_row(&tb, h);
	size_t i;
	json_t *e;
	json_array_foreach(rc == 0 ? json_object_get(a, "entries") : NULL, i,
			   e) {
		struct st_audit_entry x;
		memset(&x, 0, sizeof x);
		x.seq = (uint64_t)adm_jint(e, "seq");
		x.time_s = adm_jint(e, "time_s");
		snprintf(x.actor, sizeof x.actor, "%s", adm_jstr(e, "actor"));
		snprintf(x.role, sizeof x.role, "%s", adm_jstr(e, "role"));
		snprintf(x.action, sizeof x.action, "%s",
			 adm_jstr(e, "action"));
		snprintf(x.object, sizeof x.object, "%s",
			 adm_jstr(e, "object"));
		snprintf(x.purpose, sizeof x.purpose, "%s",
			 adm_jstr(e, "purpose"));
		snprintf(x.result, sizeof x.result, "%s",
			 adm_jstr(e, "result"));
		st_hex_decode(x.prev, 32, adm_jstr(e, "prev"));
		char *ps = json_dumps(json_object_get(e, "proof"),
				      JSON_COMPACT);
		struct st_audit_proof pf;
		uint8_t leaf[32];
		rc = ps ? st_audit_proof_parse(ps, strlen(ps), &pf, err)
			: st_fail(err, ST_E_HTTP, "entry without a proof");
		free(ps);
		if (rc == 0)
			rc = st_audit_leaf_hash(&x, leaf, err);
		if (rc == 0 && (!cj || pf.size != cp.size ||
				pf.index != x.seq - 1))
			rc = st_fail(err, ST_E_AUDIT,
				     "entry %" PRIu64 ": its proof is not for "
				     "this entry in the checkpoint",
				     x.seq);
		if (rc == 0)
			rc = st_audit_inclusion_verify(pf.index, pf.size, leaf,
						       pf.hashes, pf.count,
						       cp.root, err);
		if (rc < 0) {
			st_error_prefix(err, "access history: ");
			break;
		}
		n_ok++;
		char seq[24], w[32];
		snprintf(seq, sizeof seq, "%" PRIu64, x.seq);
		adm_fmt_time(x.time_s, w, sizeof w);
		const char *row[] = {seq, w, x.actor, x.role, x.action,
				     x.purpose[0] ? x.purpose : "-"};
		adm_table_row(&tb, row);
	}
	if (rc == 0 && json)
		adm_print_raw(&raw, out);
	else if (rc == 0 && n_ok == 0)
		fprintf(out, "no one has accessed %s's data\n",
			adm_jstr(a, "user"));
	else if (rc == 0) {
		adm_table_print(&tb, out);
		fprintf(out, "%zu entr%s, each proven in the signed checkpoint "
			"of %" PRIu64 " entries\n",
			n_ok, n_ok == 1 ? "y" : "ies", cp.size);
	}
	adm_table_fini(&tb);
	json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* ---- dispatch ---- */

bool adm_access_known(int argc, char **argv)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	return (is(cmd, "token") &&
		(is(sub, "create") || (is(sub, "list") && argc == 2) ||
		 (is(sub, "revoke") && argc == 3) ||
		 (is(sub, "approve") && argc == 3))) ||
	       (is(cmd, "purpose") &&
		(is(sub, "propose") || (is(sub, "list") && argc == 2) ||
		 (is(sub, "approve") && argc == 3) ||
		 (is(sub, "revoke") && argc == 3))) ||
	       is(cmd, "erase") || is(cmd, "access") ||
	       (is(cmd, "audit") &&
		(is(sub, "list") || is(sub, "verify") ||
		 is(sub, "checkpoint"))) ||
	       (is(cmd, "retention") && is(sub, "sweep") && argc == 2);
}

int adm_access_dispatch(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	if (is(cmd, "token") && is(sub, "create"))
		return token_create(t, argc - 2, argv + 2, json, out, err);
	if (is(cmd, "token") && is(sub, "list"))
		return token_list(t, json, out, err);
	if (is(cmd, "token") && is(sub, "approve"))
		return token_approve(t, argv[2], json, out, err);
	if (is(cmd, "token") && is(sub, "revoke")) {
		char done[120];
		snprintf(done, sizeof done, "token \"%.64s\" revoked",
			 argv[2]);
		return simple_post(t, "/v1/tokens/revoke",
				   json_pack("{s:s}", "name", argv[2]), json,
				   out, done, err);
	}
	if (is(cmd, "purpose") && is(sub, "propose"))
		return purpose_propose(t, argc - 2, argv + 2, json, out, err);
	if (is(cmd, "purpose") && is(sub, "list"))
		return purpose_list(t, json, out, err);
	if (is(cmd, "purpose") && is(sub, "approve"))
		return purpose_id_cmd(t, "/v1/purposes/approve", argv[2], json,
				      out, err);
	if (is(cmd, "purpose") && is(sub, "revoke"))
		return purpose_id_cmd(t, "/v1/purposes/revoke", argv[2], json,
				      out, err);
	if (is(cmd, "erase"))
		return erase_cmd(t, argc - 1, argv + 1, json, out, err);
	if (is(cmd, "access"))
		return access_cmd(t, argc - 1, argv + 1, json, out, err);
	if (is(cmd, "audit") && is(sub, "list"))
		return audit_list(t, argc - 2, argv + 2, json, out, err);
	if (is(cmd, "audit") && is(sub, "checkpoint"))
		return audit_checkpoint(t, argc - 2, argv + 2, json, out, err);
	if (is(cmd, "audit") && is(sub, "verify"))
		return audit_verify(t, argc - 2, argv + 2, json, out, err);
	if (is(cmd, "retention") && is(sub, "sweep")) {
		struct st_buf raw;
		st_buf_init(&raw, false);
		json_t *a = NULL;
		int rc = call_json(t, "POST", "/v1/retention/sweep", NULL, &a,
				   &raw, err);
		if (rc == 0 && json)
			adm_print_raw(&raw, out);
		else if (rc == 0)
			fprintf(out, "retention sweep: %lld segments past the "
				"policy's retention deleted\n",
				adm_jint(a, "deleted"));
		json_decref(a);
		st_buf_fini(&raw);
		return rc;
	}
	return st_fail(err, ADMIN_E_USAGE, "%s %s: not a command", cmd, sub);
}
