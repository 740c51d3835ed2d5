/* admin.c - the administration commands of `sealtrace`: where to reach the
 * server, one or two API calls each, and tables for people to read.
 *
 * Usage errors (an unknown command, a missing or malformed argument, no URL
 * or token anywhere) return ADMIN_E_USAGE (-EINVAL): the program exits 2 for
 * them and 1 for everything else. */
#include "server/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/client.h"
#include "core/file.h"
#include "core/policy.h"
#include "server/admin_int.h"
#include "server/config.h"


static void target_fini(struct admin_target *t)
{
	if (t->token)
		sodium_free(t->token);
	t->token = NULL;
}

/* jansson's allocations may hold a token while a config file or an answer
 * is parsed: wipe every block before it goes back to the heap. */
static void wiping_free(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

static int set_str(char *out, size_t cap, const char *v, const char *what,
		   struct st_error *err)
{
	if (strlen(v) >= cap)
		return st_fail(err, ADMIN_E_USAGE, "%s: over %zu bytes", what,
			       cap - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* The config file's path: --config, SEALTRACE_CONFIG, then the default
 * under $XDG_CONFIG_HOME or ~/.config. explicit says whether it was named
 * (then it must exist). */
static int config_path(const struct st_admin_conn *conn, char *out,
		       bool *explicit, struct st_error *err)
{
	const char *v = conn && conn->config ? conn->config
					     : getenv("SEALTRACE_CONFIG");
	*explicit = v && *v;
	int n;
	if (*explicit) {
		n = snprintf(out, ADMIN_PATH_MAX, "%s", v);
	} else if ((v = getenv("XDG_CONFIG_HOME")) && v[0] == '/') {
		n = snprintf(out, ADMIN_PATH_MAX, "%s/sealtrace/admin.json", v);
	} else if ((v = getenv("HOME")) && *v) {
		n = snprintf(out, ADMIN_PATH_MAX,
			     "%s/.config/sealtrace/admin.json", v);
	} else {
		out[0] = 0;
		return 0;
	}
	if (n < 0 || n >= ADMIN_PATH_MAX)
		return st_fail(err, ADMIN_E_USAGE, "config file path over %d "
			       "bytes", ADMIN_PATH_MAX - 1);
	return 0;
}

/* Reads {"url", "token", "ca"} from path into the parts still empty. A
 * file that group or others may use is refused: it holds a token. A
 * relative "ca" is relative to the file's folder. */
static int read_config(const char *path, struct admin_target *t,
		       bool want_url, bool want_token, bool want_ca,
		       struct st_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "config file %s: %s", path,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_fail(err, ST_E_INVAL, "config file %s: not a regular "
			       "file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE, "config file %s is mode %04o "
			       "and holds a token; run chmod 600 %s", path,
			       (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE, "config file %s belongs to "
			       "uid %u, not to you; use your own", path,
			       (unsigned)st.st_uid);
	}
	close(fd);
	struct st_buf b;
	st_buf_init(&b, true);
	int rc = st_file_read(path, ADMIN_CONFIG_MAX, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		return st_error_prefix(err, "config file: ");
	}
	json_error_t je;
	json_t *root = json_loadb((const char *)b.p, b.len,
				  JSON_REJECT_DUPLICATES, &je);
	st_buf_fini(&b);
	if (!root || !json_is_object(root)) {
		if (root)
			json_decref(root);
		return st_fail(err, ST_E_JSON, "config file %s: not a JSON "
			       "object (line %d: %s); write {\"url\": ..., "
			       "\"token\": ..., \"ca\": ...}", path,
			       root ? 0 : je.line, root ? "" : je.text);
	}
	const char *k;
	json_t *v;
	rc = 0;
	json_object_foreach(root, k, v) {
		const char *s = json_string_value(v);
		bool known = !strcmp(k, "url") || !strcmp(k, "token") ||
			     !strcmp(k, "ca");
		if (!known) {
			rc = st_fail(err, ST_E_JSON, "config file %s: unknown key "
				     "\"%.64s\"; only url, token and ca are "
				     "read", path, k);
			break;
		}
		if (!s || !*s) {
			rc = st_fail(err, ST_E_JSON, "config file %s: \"%s\" "
				     "must be a non-empty string", path, k);
			break;
		}
		if (!strcmp(k, "url") && want_url) {
			rc = set_str(t->url, sizeof t->url, s, "url", err);
		} else if (!strcmp(k, "token") && want_token) {
			rc = set_str(t->token, ADMIN_TOKEN_MAX, s, "token", err);
		} else if (!strcmp(k, "ca") && want_ca) {
			if (s[0] == '/') {
				rc = set_str(t->ca, sizeof t->ca, s, "ca", err);
			} else {
				char d[ADMIN_PATH_MAX];
				snprintf(d, sizeof d, "%s", path);
				int n = snprintf(t->ca, sizeof t->ca, "%s/%s",
						 dirname(d), s);
				if (n < 0 || n >= (int)sizeof t->ca)
					rc = st_fail(err, ADMIN_E_USAGE, "ca: "
						     "path too long");
			}
		}
		if (rc < 0) {
			st_error_prefix(err, "config file %s: ", path);
			break;
		}
	}
	json_decref(root);
	return rc;
}

/* Flags first, then SEALTRACE_URL / SEALTRACE_TOKEN / SEALTRACE_CA, then
 * the config file. */
static int resolve_target(const struct st_admin_conn *conn,
			  struct admin_target *t, struct st_error *err)
{
	memset(t, 0, sizeof *t);
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium cannot "
			       "initialise");
	t->token = sodium_malloc(ADMIN_TOKEN_MAX);
	if (!t->token)
		return st_fail(err, ST_E_NOMEM, "out of locked memory");
	t->token[0] = 0;
	const char *url = conn ? conn->url : NULL;
	const char *tok = conn ? conn->token : NULL;
	const char *ca = conn ? conn->ca : NULL;
	if (!url || !*url)
		url = getenv("SEALTRACE_URL");
	if (!tok || !*tok)
		tok = getenv("SEALTRACE_TOKEN");
	if (!ca || !*ca)
		ca = getenv("SEALTRACE_CA");
	int rc = 0;
	if (url && *url)
		rc = set_str(t->url, sizeof t->url, url, "--url", err);
	if (rc == 0 && tok && *tok)
		rc = set_str(t->token, ADMIN_TOKEN_MAX, tok, "--token", err);
	if (rc == 0 && ca && *ca)
		rc = set_str(t->ca, sizeof t->ca, ca, "--ca", err);
	if (rc < 0)
		return rc;
	bool explicit;
	char path[ADMIN_PATH_MAX];
	if ((rc = config_path(conn, path, &explicit, err)) < 0)
		return rc;
	bool missing = !t->url[0] || !t->token[0] || !t->ca[0];
	if (path[0] && (explicit || (missing && access(path, F_OK) == 0))) {
		if ((rc = read_config(path, t, !t->url[0], !t->token[0],
				      !t->ca[0], err)) < 0)
			return rc;
		snprintf(t->config, sizeof t->config, "%s", path);
	}
	const char *where = t->config[0] ? t->config
					 : "~/.config/sealtrace/admin.json";
	if (!t->url[0])
		return st_fail(err, ADMIN_E_USAGE, "no server URL: give --url "
			       "https://HOST:PORT, set SEALTRACE_URL, or put "
			       "\"url\" in %s", where);
	if (!t->token[0])
		return st_fail(err, ADMIN_E_USAGE, "no admin token: set "
			       "SEALTRACE_TOKEN, put \"token\" in %s (mode "
			       "0600), or give --token", where);
	size_t l = strlen(t->url);
	while (l > 0 && t->url[l - 1] == '/')
		t->url[--l] = 0;
	bool https = !strncmp(t->url, "https://", 8);
	bool http = !strncmp(t->url, "http://", 7);
	if (!https && !http)
		return st_fail(err, ADMIN_E_USAGE, "URL %s: must start with "
			       "https://", t->url);
	if (http) {
		/* Plain HTTP carries the token in clear: only to this host. */
		char hostport[ADMIN_URL_MAX];
		snprintf(hostport, sizeof hostport, "%s", t->url + 7);
		char *slash = strchr(hostport, '/');
		if (slash)
			*slash = 0;
		if (!st_server_config_listen_is_loopback(hostport))
			return st_fail(err, ADMIN_E_USAGE, "URL %s: plain http "
				       "would send the token in clear; use "
				       "https:// (http:// only to a loopback "
				       "address)", t->url);
	}
	t->timeout_ms = conn && conn->timeout_ms > 0 ? conn->timeout_ms : 0;
	return 0;
}

/* ---- output ---- */

void adm_fmt_time(int64_t s, char *out, size_t cap)
{
	if (s <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	time_t t = (time_t)s;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%MZ", &tm))
		snprintf(out, cap, "%lld", (long long)s);
}

void adm_fmt_bytes(double v, char *out, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%.0f B", v);
	else
		snprintf(out, cap, "%.1f %s", v, unit[u]);
}

void adm_table_row(struct table *t, const char *const *v)
{
	if (t->oom || t->rows >= ADMIN_TABLE_ROWS_MAX)
		return;
	if ((t->rows + 1) * t->cols > t->cap) {
		size_t nc = t->cap ? t->cap * 2 : t->cols * 16;
		char **n = realloc(t->cell, nc * sizeof *n);
		if (!n) {
			t->oom = true;
			return;
		}
		t->cell = n;
		t->cap = nc;
	}
	for (size_t i = 0; i < t->cols; i++) {
		char *s = strdup(v[i] ? v[i] : "");
		if (!s)
			t->oom = true;
		/* Names come from the server: no control characters to the
		 * terminal. */
		for (char *p = s; p && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		t->cell[t->rows * t->cols + i] = s;
		size_t l = s ? strlen(s) : 0;
		if (l > t->width[i])
			t->width[i] = l;
	}
	t->rows++;
}

void adm_table_print(struct table *t, FILE *out)
{
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t i = 0; i < t->cols; i++) {
			const char *s = t->cell[r * t->cols + i];
			if (i + 1 == t->cols)
				fprintf(out, "%s\n", s ? s : "");
			else
				fprintf(out, "%-*s  ", (int)t->width[i],
					s ? s : "");
		}
	}
}

void adm_table_fini(struct table *t)
{
	for (size_t i = 0; i < t->rows * t->cols; i++)
		free(t->cell[i]);
	free(t->cell);
}

const char *adm_jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

long long adm_jint(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

/* ---- calls ---- */

int adm_api(const struct admin_target *t, const struct call *c,
	       struct st_buf *answer, struct st_error *err)
{
	struct st_client_cfg cfg = {
		.url = t->url,
		.ca_file = t->ca[0] ? t->ca : NULL,
		.token = t->token,
		.timeout_ms = t->timeout_ms ? t->timeout_ms : c->timeout_ms,
		.answer_max = c->answer_max,
	};
	struct st_client *cl = NULL;
	int rc = st_client_new(&cfg, &cl, err);
	if (rc < 0)
		return rc;
	struct st_client_req req = {
		.method = c->method,
		.path = c->path,
		.content_type = c->body ? (c->content_type ? c->content_type
							   : "application/json")
					: NULL,
		.body = (const uint8_t *)c->body,
		.body_len = c->body_len,
	};
	long status = 0;
	rc = st_client_call(cl, &req, &status, answer, err);
	st_client_free(cl);
	return rc;
}

/* Calls and parses a JSON answer into *out (the caller decrefs). */
int adm_api_json(const struct admin_target *t, const struct call *c,
		    json_t **out, struct st_buf *raw, struct st_error *err)
{
	int rc = adm_api(t, c, raw, err);
	if (rc < 0)
		return rc;
	json_error_t je;
	*out = json_loadb((const char *)raw->p, raw->len, 0, &je);
	if (!*out || !json_is_object(*out)) {
		if (*out)
			json_decref(*out);
		*out = NULL;
		return st_fail(err, ST_E_HTTP, "%s %s: the answer is not a JSON "
			       "object; is %s a sealtrace server?", c->method,
			       c->path, t->url);
	}
	return 0;
}

void adm_print_raw(const struct st_buf *raw, FILE *out)
{
	fwrite(raw->p, 1, raw->len, out);
	if (!raw->len || raw->p[raw->len - 1] != '\n')
		fputc('\n', out);
}

int adm_body_of(json_t *o, char **text, struct st_error *err)
{
	*text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!*text)
		return st_fail(err, ST_E_NOMEM, "out of memory");
	return 0;
}

/* Parses "--opt VALUE" / "--opt=VALUE" at argv[*i]; advances *i. */
const char *adm_opt_value(int argc, char **argv, int *i, const char *opt,
			     int *bad)
{
	size_t l = strlen(opt);
	const char *a = argv[*i];
	if (strncmp(a, opt, l))
		return NULL;
	if (a[l] == '=')
		return a + l + 1;
	if (a[l])
		return NULL;
	if (*i + 1 >= argc) {
		*bad = 1;
		return NULL;
	}
	return argv[++*i];
}

int adm_usage(struct st_error *err, const char *fmt, const char *a)
{
	return st_fail(err, ADMIN_E_USAGE, fmt, a);
}

bool adm_name_ok(const char *s, size_t max)
{
	size_t l = strlen(s);
	if (!l || l > max)
		return false;
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int user_add(const struct admin_target *t, int argc, char **argv,
		    int json, FILE *out, struct st_error *err)
{
	const char *name = NULL, *group = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, &i, "--group", &bad);
		if (bad)
			return adm_usage(err, "user add: %s needs a value",
				     "--group");
		if (v)
			group = v;
		else if (argv[i][0] == '-')
			return adm_usage(err, "user add: unknown option '%s'; see "
				     "'sealtrace user --help'", argv[i]);
		else if (name)
			return adm_usage(err, "user add: one NAME only, not also "
				     "'%s'", argv[i]);
		else
			name = argv[i];
	}
	if (!name)
		return adm_usage(err, "user add: needs NAME (an e-mail address)%s",
			     "");
	if (!adm_name_ok(name, ADMIN_NAME_MAX))
		return adm_usage(err, "user add: NAME must be 1 to 254 printable "
			     "bytes%s", "");
	if (group && !adm_name_ok(group, ADMIN_GROUP_MAX))
		return adm_usage(err, "user add: --group must be 1 to 128 printable "
			     "bytes%s", "");
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(name));
	if (group)
		json_object_set_new(o, "group", json_string(group));
	char *body;
	int rc = adm_body_of(o, &body, err);
	if (rc < 0)
		return rc;
	struct call c = {"POST", "/v1/admin/users", body, strlen(body), NULL,
			 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	rc = adm_api_json(t, &c, &a, &raw, err);
	free(body);
	if (rc == 0) {
		if (json)
			adm_print_raw(&raw, out);
		else
			fprintf(out, "added %s (id %s, group %s, public key "
				"%s); enroll a device with 'sealtrace "
				"enroll-token --user %s'\n", adm_jstr(a, "name"),
				adm_jstr(a, "id"),
				*adm_jstr(a, "group") ? adm_jstr(a, "group") : "-",
				adm_jstr(a, "public_key"), adm_jstr(a, "name"));
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int user_list(const struct admin_target *t, int json, FILE *out,
		     struct st_error *err)
{
	struct call c = {"GET", "/v1/admin/users", NULL, 0, NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = adm_api_json(t, &c, &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		struct table tb = {.cols = 5};
		const char *h[] = {"NAME", "GROUP", "ID", "CREATED", "ERASED"};
		adm_table_row(&tb, h);
		size_t i;
		json_t *u;
		json_array_foreach(json_object_get(a, "users"), i, u) {
			char when[32];
			adm_fmt_time(adm_jint(u, "created_s"), when, sizeof when);
			const char *row[] = {
				adm_jstr(u, "name"),
				*adm_jstr(u, "group") ? adm_jstr(u, "group") : "-",
				adm_jstr(u, "id"), when,
				json_is_true(json_object_get(u, "erased"))
					? "yes" : "no"};
			adm_table_row(&tb, row);
		}
		if (tb.oom)
			rc = st_fail(err, ST_E_NOMEM, "user list: out of memory");
		else if (tb.rows == 1)
			fprintf(out, "no users yet; add one with 'sealtrace "
				"user add NAME'\n");
		else
			adm_table_print(&tb, out);
		adm_table_fini(&tb);
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int device_list(const struct admin_target *t, int json, FILE *out,
		       struct st_error *err)
{
	struct call c = {"GET", "/v1/admin/devices", NULL, 0, NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = adm_api_json(t, &c, &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		struct table tb = {.cols = 10};
		const char *h[] = {"ID", "PERSON", "USER", "HOST", "ACTIVE",
				   "LAST SEEN", "SEGMENTS", "STORED", "GAPS",
				   "BACKLOG"};
		adm_table_row(&tb, h);
		size_t i;
		json_t *d;
		json_array_foreach(json_object_get(a, "devices"), i, d) {
			char seen[32], segs[24], bytes[24], gaps[24], back[64];
			char bb[24];
			adm_fmt_time(adm_jint(d, "last_seen_s"), seen, sizeof seen);
			snprintf(segs, sizeof segs, "%lld", adm_jint(d, "segments"));
			adm_fmt_bytes((double)adm_jint(d, "bytes"), bytes, sizeof bytes);
			snprintf(gaps, sizeof gaps, "%lld", adm_jint(d, "gaps"));
			adm_fmt_bytes((double)adm_jint(d, "backlog_bytes"), bb,
				  sizeof bb);
			if (adm_jint(d, "backlog_s") > 0)
				snprintf(back, sizeof back, "%lld seg, %s",
					 adm_jint(d, "backlog_segments"), bb);
			else
				snprintf(back, sizeof back, "-");
			const char *row[] = {
				adm_jstr(d, "id"), adm_jstr(d, "person"),
				adm_jstr(d, "local_user"),
				*adm_jstr(d, "hostname") ? adm_jstr(d, "hostname") : "-",
				json_is_true(json_object_get(d, "active"))
					? "yes" : "revoked",
				seen, segs, bytes, gaps, back};
			adm_table_row(&tb, row);
		}
		if (tb.oom)
			rc = st_fail(err, ST_E_NOMEM,
				     "device list: out of memory");
		else if (tb.rows == 1)
			fprintf(out, "no devices enrolled yet; make a token "
				"with 'sealtrace enroll-token --user NAME'\n");
		else
			adm_table_print(&tb, out);
		adm_table_fini(&tb);
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int device_revoke(const struct admin_target *t, int argc,
			 char **argv, int json, FILE *out,
			 struct st_error *err)
{
	if (argc != 1)
		return adm_usage(err, "device revoke: needs exactly one device ID "
			     "(32 hex digits, from 'sealtrace device list')%s",
			     "");
	const char *id = argv[0];
	bool hex = strlen(id) == 32;
	for (size_t i = 0; hex && i < 32; i++)
		hex = (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f') ||
		      (id[i] >= 'A' && id[i] <= 'F');
	if (!hex)
		return adm_usage(err, "device revoke: '%.64s' is not a device ID "
			     "(32 hex digits, from 'sealtrace device list')",
			     id);
	char path[96];
	snprintf(path, sizeof path, "/v1/admin/devices/%s/revoke", id);
	struct call c = {"POST", path, "{}", 2, NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = adm_api_json(t, &c, &a, &raw, err);
	if (rc == 0) {
		if (json)
			adm_print_raw(&raw, out);
		else
			fprintf(out, "device %s revoked: its uploads are "
				"refused from now on\n", adm_jstr(a, "id"));
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* "90", "90s", "30m", "24h", "7d" -> seconds; -1 when malformed. */
long long adm_parse_duration(const char *s)
{
	char *e = NULL;
	errno = 0;
	if (!s || !(*s >= '0' && *s <= '9'))
		return -1;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno || v > 100000000ull)
		return -1;
	unsigned long long m = 1;
	if (!*e || !strcmp(e, "s"))
		m = 1;
	else if (!strcmp(e, "m"))
		m = 60;
	else if (!strcmp(e, "h"))
		m = 3600;
	else if (!strcmp(e, "d"))
		m = 86400;
	else
		return -1;
	return (long long)(v * m);
}

static int enroll_token(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err)
{
	const char *user = NULL, *ttl = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((v = adm_opt_value(argc, argv, &i, "--user", &bad)))
			user = v;
		else if (!bad && (v = adm_opt_value(argc, argv, &i, "--ttl", &bad)))
			ttl = v;
		else if (bad)
			return adm_usage(err, "enroll-token: %s needs a value",
				     argv[i]);
		else
			return adm_usage(err, "enroll-token: unexpected '%s'; see "
				     "'sealtrace enroll-token --help'", argv[i]);
	}
	if (!user || !adm_name_ok(user, ADMIN_NAME_MAX))
		return adm_usage(err, "enroll-token: needs --user NAME (a user made "
			     "with 'sealtrace user add')%s", "");
	json_t *o = json_object();
	json_object_set_new(o, "user", json_string(user));
	if (ttl) {
		long long s = adm_parse_duration(ttl);
		if (s < ADMIN_TTL_MIN_S || s > ADMIN_TTL_MAX_S) {
			json_decref(o);
			return adm_usage(err, "enroll-token: --ttl '%.32s' must be a "
				     "duration from 1s to 30d (e.g. 90m, 24h, "
				     "7d)", ttl);
		}
		json_object_set_new(o, "ttl_s", json_integer(s));
	}
	char *body;
	int rc = adm_body_of(o, &body, err);
	if (rc < 0)
		return rc;
	struct call c = {"POST", "/v1/admin/enroll-tokens", body, strlen(body),
			 NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, true); /* holds the new token */
	json_t *a = NULL;
	rc = adm_api_json(t, &c, &a, &raw, err);
	free(body);
	if (rc == 0) {
		const char *tok = adm_jstr(a, "token");
		if (!*tok)
			rc = st_fail(err, ST_E_HTTP, "enroll-token: the answer "
				     "holds no token; is the server a sealtrace "
				     "server of this version?");
		else if (json)
			adm_print_raw(&raw, out);
		else
			fprintf(out, "%s\n", tok); /* the one just created */
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int policy_apply(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err)
{
	if (argc != 2 || strcmp(argv[0], "apply"))
		return adm_usage(err, "policy: only 'policy apply FILE' talks to the "
			     "server%s", "");
	const char *file = argv[1];
	struct st_buf b;
	st_buf_init(&b, false);
	int rc = st_file_read(file, ST_POLICY_JSON_MAX, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		return st_error_prefix(err, "policy apply: ");
	}
	/* Checked here too, so a refusal names every problem's path before
	 * anything is sent. */
	struct st_policy p;
	st_policy_init(&p);
	rc = st_policy_parse((const char *)b.p, b.len, &p, NULL, err);
	st_policy_fini(&p);
	if (rc < 0) {
		st_buf_fini(&b);
		st_error_prefix(err, "%s: ", file);
		size_t l = err ? strlen(err->msg) : 0;
		if (err)
			snprintf(err->msg + l, sizeof err->msg - l,
				 "; 'sealtrace policy check %s' lists every "
				 "problem", file);
		return rc;
	}
	struct call c = {"POST", "/v1/admin/policy", (const char *)b.p, b.len,
			 "application/json", 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	rc = adm_api_json(t, &c, &a, &raw, err);
	st_buf_fini(&b);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		bool changed = json_is_true(json_object_get(a, "changed"));
		fprintf(out, "policy %s: policy sha256 %s, notice sha256 %s\n",
			changed ? "applied" : "unchanged (already current)",
			adm_jstr(a, "policy_hash"), adm_jstr(a, "notice_hash"));
		if (changed)
			fprintf(out, "agents stop recording until their person "
				"accepts the new notice\n");
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* Writes data to a new file at path, 0600, atomically: a temporary file
 * beside it is linked into place, which fails if path appeared meanwhile. */
int adm_write_new_0600(const char *path, const uint8_t *data, size_t len,
			  struct st_error *err)
{
	char d[ADMIN_PATH_MAX], tmp[ADMIN_PATH_MAX + 32];
	snprintf(d, sizeof d, "%s", path);
	const char *dir = dirname(d);
	if (snprintf(tmp, sizeof tmp, "%s/.sealtrace-backup.XXXXXX", dir) >=
	    (int)sizeof tmp)
		return st_fail(err, ADMIN_E_USAGE, "%s: path too long", path);
	int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return st_fail(err, st_errno(errno), "backup: cannot create a "
			       "file in %s: %s", dir, strerror(errno));
	int e = fchmod(fd, 0600) < 0 ? errno : 0;
	size_t left = len;
	while (!e && left) {
		ssize_t w = write(fd, data, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		data += w;
		left -= (size_t)w;
	}
	if (!e && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && link(tmp, path) < 0)
		e = errno;
	unlink(tmp);
	if (e)
		return st_fail(err, st_errno(e), "backup %s: %s%s", path,
			       strerror(e), e == EEXIST ? "; a backup never "
			       "replaces a file: choose a new name" : "");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int backup(const struct admin_target *t, int argc, char **argv,
		  int json, FILE *out, struct st_error *err)
{
	const char *file = NULL;
	for (int i = 0; i < argc; i++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, &i, "--out", &bad);
		if (bad || !v)
			return adm_usage(err, "backup: unexpected '%s'; give --out "
				     "FILE", argv[i]);
		file = v;
	}
	if (!file || !*file)
		return adm_usage(err, "backup: needs --out FILE (a new file)%s", "");
	struct stat st;
	if (lstat(file, &st) == 0)
		return st_fail(err, ST_E_EXISTS, "backup: %s exists; a backup "
			       "never replaces a file: choose a new name", file);
	struct call c = {"POST", "/v1/admin/backup", "{}", 2, NULL,
			 ADMIN_BACKUP_MAX, ADMIN_BACKUP_TIMEOUT_MS};
	struct st_buf raw;
	st_buf_init(&raw, false);
	int rc = adm_api(t, &c, &raw, err);
	static const char magic[16] = "SQLite format 3";
	if (rc == 0 && (raw.len < sizeof magic ||
			memcmp(raw.p, magic, sizeof magic) != 0))
		rc = st_fail(err, ST_E_HTTP, "backup: the answer is not an SQLite "
			     "database (%zu bytes); nothing written", raw.len);
	if (rc == 0)
		rc = adm_write_new_0600(file, raw.p, raw.len, err);
	if (rc == 0) {
		char sz[24];
		adm_fmt_bytes((double)raw.len, sz, sizeof sz);
		if (json) {
			json_t *o = json_pack("{s:s, s:I}", "out", file, "bytes",
					      (json_int_t)raw.len);
			char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
			if (s)
				fprintf(out, "%s\n", s);
			free(s);
			json_decref(o);
		} else {
			fprintf(out, "backup written to %s (%s, mode 0600); it "
				"holds the sealed person keys: keep it apart "
				"from data backups\n", file, sz);
		}
	}
	st_buf_fini(&raw);
	return rc;
}

static int control_table(const struct admin_target *t, FILE *out,
			 struct st_error *err);

static int status(const struct admin_target *t, int json, FILE *out,
		  struct st_error *err)
{
	struct call c = {"GET", "/v1/admin/status", NULL, 0, NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = adm_api_json(t, &c, &a, &raw, err);
	if (rc == 0 && json) {
		adm_print_raw(&raw, out);
	} else if (rc == 0) {
		char bytes[24];
		adm_fmt_bytes((double)adm_jint(a, "segment_bytes"), bytes, sizeof bytes);
		fprintf(out,
			"server:    %s (version %s, up %lld s)\n"
			"people:    %lld\n"
			"devices:   %lld (%lld active)\n"
			"segments:  %lld (%s)\n"
			"flags:     %lld\n"
			"policy:    sha256 %s\n"
			"notice:    sha256 %s\n",
			t->url, adm_jstr(a, "version"), adm_jint(a, "uptime_s"),
			adm_jint(a, "people"), adm_jint(a, "devices"),
			adm_jint(a, "devices_active"), adm_jint(a, "segments"), bytes,
			adm_jint(a, "flags"),
			*adm_jstr(a, "policy_hash") ? adm_jstr(a, "policy_hash") : "-",
			*adm_jstr(a, "notice_hash") ? adm_jstr(a, "notice_hash") : "-");
		rc = control_table(t, out, err);
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* ---- the kill switch ---- */

#define ADMIN_WAIT_DEFAULT_MS 10000L
#define ADMIN_WAIT_POLL_MS 100L

static long long mono_ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* (--all | --group G | --user U | --device D) into o's scope and value. */
static int scope_opt(int argc, char **argv, int *i, const char *cmd,
		     json_t *o, int *n_scopes, struct st_error *err)
{
	static const char *const names[] = {"--group", "--user", "--device"};
	static const char *const scopes[] = {"group", "user", "device"};
	if (!strcmp(argv[*i], "--all")) {
		json_object_set_new(o, "scope", json_string("all"));
		(*n_scopes)++;
		return 1;
	}
	for (int k = 0; k < 3; k++) {
		int bad = 0;
		const char *v = adm_opt_value(argc, argv, i, names[k], &bad);
		if (bad)
			return adm_usage(err, "%s needs a value", names[k]);
		if (!v)
			continue;
		if (!adm_name_ok(v, ADMIN_NAME_MAX))
			return st_fail(err, ADMIN_E_USAGE, "%s: %s must be 1 "
				       "to 254 printable bytes", cmd, names[k]);
		json_object_set_new(o, "scope", json_string(scopes[k]));
		json_object_set_new(o, "value", json_string(v));
		(*n_scopes)++;
		return 1;
	}
	return 0;
}

static const char *scope_text(const json_t *p, char *out, size_t cap)
{
	const char *s = adm_jstr(p, "scope"), *v = adm_jstr(p, "value");
	snprintf(out, cap, "%s%s%s", s, *v ? " " : "", v);
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return out;
}

/* The pause with this id in GET /v1/admin/control (NULL when not in force
 * any more). */
static json_t *find_pause(json_t *ctl, long long id)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(ctl, "pauses"), i, p)
		if (adm_jint(p, "id") == id)
			return p;
	return NULL;
}

static void print_ids(FILE *out, const char *what, const json_t *p,
		      const char *key, long long n)
{
	size_t i;
	json_t *v;
	fprintf(out, "%s (%lld):", what, n);
	json_array_foreach(json_object_get(p, key), i, v)
		fprintf(out, " %s", json_string_value(v));
	if ((long long)json_array_size(json_object_get(p, key)) < n)
		fprintf(out, " ...");
	fputc('\n', out);
}

/* Polls GET /v1/admin/control until every connected agent in the pause's
 * scope confirmed it, or the time runs out. */
static int pause_wait(const struct admin_target *t, long long id,
		      long long t0, FILE *out, struct st_error *err)
{
	long wait_ms = t->timeout_ms ? t->timeout_ms : ADMIN_WAIT_DEFAULT_MS;
	struct call c = {"GET", "/v1/admin/control", NULL, 0, NULL, 0, 0};
	for (;;) {
		struct st_buf raw;
		st_buf_init(&raw, false);
		json_t *a = NULL;
		int rc = adm_api_json(t, &c, &a, &raw, err);
		st_buf_fini(&raw);
		if (rc < 0)
			return rc;
		json_t *p = find_pause(a, id);
		long long took = mono_ms_now() - t0;
		if (!p) {
			json_decref(a);
			return st_fail(err, ST_E_STATE, "pause %lld: no longer "
				       "in force (resumed meanwhile)", id);
		}
		long long pending = adm_jint(p, "pending");
		long long offline = adm_jint(p, "offline");
		bool done = pending == 0;
		if (done || took >= wait_ms) {
			char when[32];
			adm_fmt_time(adm_jint(p, "offline_stop_by_s"), when, sizeof when);
			fprintf(out, "%lld of %lld device(s) confirmed after %lld "
				"ms\n", adm_jint(p, "confirmed"), adm_jint(p, "devices"),
				took);
			if (pending)
				print_ids(out, "not yet confirmed", p,
					  "pending_ids", pending);
			if (offline) {
				print_ids(out, "offline", p, "offline_ids",
					  offline);
				fprintf(out, "offline agents stop by themselves "
					"when their lease runs out: by %s at the "
					"latest\n", when);
			}
			json_decref(a);
			if (done)
				return 0;
			return st_fail(err, ST_E_TIMEOUT, "pause %lld: %lld "
				       "connected agent(s) did not confirm "
				       "within %ld ms; they stop when their "
				       "lease runs out", id, pending, wait_ms);
		}
		json_decref(a);
		struct timespec ts = {0, ADMIN_WAIT_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static int pause_cmd(const struct admin_target *t, int argc, char **argv,
		     int json, FILE *out, struct st_error *err)
{
	json_t *o = json_object();
	int n_scopes = 0, rc = 0;
	bool wait = false;
	const char *reason = NULL;
	for (int i = 0; rc == 0 && i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((rc = scope_opt(argc, argv, &i, "pause", o, &n_scopes,
				    err)) != 0) {
			rc = rc < 0 ? rc : 0;
		} else if ((v = adm_opt_value(argc, argv, &i, "--reason", &bad))) {
			reason = v;
		} else if (bad) {
			rc = adm_usage(err, "pause: %s needs a value", argv[i]);
		} else if (!strcmp(argv[i], "--wait")) {
			wait = true;
		} else if (!strcmp(argv[i], "--discard-unsent")) {
			json_object_set_new(o, "discard_unsent", json_true());
		} else {
			rc = adm_usage(err, "pause: unexpected '%s'; see 'sealtrace "
				   "pause --help'", argv[i]);
		}
	}
	if (rc == 0 && n_scopes != 1)
		rc = adm_usage(err, "pause: give exactly one of --all, --group G, "
			   "--user NAME, --device ID%s", "");
	if (rc == 0 && (!reason || !*reason || strlen(reason) > 200))
		rc = adm_usage(err, "pause: needs --reason TEXT (1 to 200 bytes): "
			   "it is recorded and shown to the people paused%s",
			   "");
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	json_object_set_new(o, "reason", json_string(reason));
	char *body;
	if ((rc = adm_body_of(o, &body, err)) < 0)
		return rc;
	struct call c = {"POST", "/v1/admin/pause", body, strlen(body), NULL,
			 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	long long t0 = mono_ms_now();
	rc = adm_api_json(t, &c, &a, &raw, err);
	free(body);
	if (rc == 0) {
		char sc[300];
		if (json)
			adm_print_raw(&raw, out);
		else
			fprintf(out, "paused %s (lease sequence %lld, pause %lld): "
				"%lld device(s) in scope; connected agents "
				"stop within a second\n",
				scope_text(a, sc, sizeof sc), adm_jint(a, "seq"),
				adm_jint(a, "id"), adm_jint(a, "devices"));
		if (wait)
			rc = pause_wait(t, adm_jint(a, "id"), t0, json ? stderr : out,
					err);
	}
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

static int resume_cmd(const struct admin_target *t, int argc, char **argv,
		      int json, FILE *out, struct st_error *err)
{
	json_t *o = json_object();
	int n_scopes = 0, rc = 0;
	for (int i = 0; rc == 0 && i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((rc = scope_opt(argc, argv, &i, "resume", o, &n_scopes,
				    err)) != 0) {
			rc = rc < 0 ? rc : 0;
		} else if ((v = adm_opt_value(argc, argv, &i, "--reason", &bad))) {
			if (strlen(v) > 200)
				rc = adm_usage(err, "resume: --reason over 200 "
					   "bytes%s", "");
			else
				json_object_set_new(o, "reason",
						    json_string(v));
		} else if (bad) {
			rc = adm_usage(err, "resume: %s needs a value", argv[i]);
		} else {
			rc = adm_usage(err, "resume: unexpected '%s'; see "
				   "'sealtrace resume --help'", argv[i]);
		}
	}
	if (rc == 0 && n_scopes != 1)
		rc = adm_usage(err, "resume: give exactly one of --all, --group G, "
			   "--user NAME, --device ID (the scope paused)%s", "");
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	char *body;
	if ((rc = adm_body_of(o, &body, err)) < 0)
		return rc;
	struct call c = {"POST", "/v1/admin/resume", body, strlen(body), NULL,
			 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	rc = adm_api_json(t, &c, &a, &raw, err);
	free(body);
	if (rc == 0 && json)
		adm_print_raw(&raw, out);
	else if (rc == 0)
		fprintf(out, "resumed %lld pause(s) (lease sequence %lld); "
			"agents record again once they hold the new lease\n",
			adm_jint(a, "resumed"), adm_jint(a, "seq"));
	if (a)
		json_decref(a);
	st_buf_fini(&raw);
	return rc;
}

/* The pauses in force, for `status`. */
static int control_table(const struct admin_target *t, FILE *out,
			 struct st_error *err)
{
	struct call c = {"GET", "/v1/admin/control", NULL, 0, NULL, 0, 0};
	struct st_buf raw;
	st_buf_init(&raw, false);
	json_t *a = NULL;
	int rc = adm_api_json(t, &c, &a, &raw, err);
	st_buf_fini(&raw);
	if (rc < 0)
		return rc;
	json_t *ps = json_object_get(a, "pauses");
	fprintf(out, "leases:    epoch %lld\n", adm_jint(a, "epoch"));
	if (!json_array_size(ps)) {
		fprintf(out, "pauses:    none; every device may record\n");
		json_decref(a);
		return 0;
	}
	fprintf(out, "pauses:\n");
	struct table tb = {.cols = 8};
	const char *h[] = {"SCOPE", "STATE", "SINCE", "BY", "CONFIRMED",
			   "PENDING", "OFFLINE (STOP BY)", "REASON"};
	adm_table_row(&tb, h);
	size_t i;
	json_t *p;
	json_array_foreach(ps, i, p) {
		char sc[300], since[32], conf[48], pend[24], off[64], stop[32];
		adm_fmt_time(adm_jint(p, "since_s"), since, sizeof since);
		snprintf(conf, sizeof conf, "%lld/%lld", adm_jint(p, "confirmed"),
			 adm_jint(p, "devices"));
		snprintf(pend, sizeof pend, "%lld", adm_jint(p, "pending"));
		adm_fmt_time(adm_jint(p, "offline_stop_by_s"), stop, sizeof stop);
		if (adm_jint(p, "offline"))
			snprintf(off, sizeof off, "%lld (%s)",
				 adm_jint(p, "offline"), stop);
		else
			snprintf(off, sizeof off, "0");
		const char *row[] = {
			scope_text(p, sc, sizeof sc),
			json_is_true(json_object_get(p, "discard_unsent"))
				? "paused, discard" : "paused",
			since, adm_jstr(p, "by"), conf, pend, off,
			adm_jstr(p, "reason")};
		adm_table_row(&tb, row);
	}
	if (tb.oom)
		rc = st_fail(err, ST_E_NOMEM, "status: out of memory");
	else
		adm_table_print(&tb, out);
	adm_table_fini(&tb);
	json_decref(a);
	return rc;
}

/* Checks the command line before anything is resolved, so usage errors
 * never depend on the connection. */
static int dispatch(const struct admin_target *t, int argc, char **argv,
		    int json, FILE *out, struct st_error *err)
{
	const char *cmd = argv[0];
	const char *sub = argc > 1 ? argv[1] : "";
	if (!strcmp(cmd, "user") && !strcmp(sub, "add"))
		return user_add(t, argc - 2, argv + 2, json, out, err);
	if (!strcmp(cmd, "user") && !strcmp(sub, "list") && argc == 2)
		return user_list(t, json, out, err);
	if (!strcmp(cmd, "device") && !strcmp(sub, "list") && argc == 2)
		return device_list(t, json, out, err);
	if (!strcmp(cmd, "device") && !strcmp(sub, "revoke"))
		return device_revoke(t, argc - 2, argv + 2, json, out, err);
	if (!strcmp(cmd, "enroll-token"))
		return enroll_token(t, argc - 1, argv + 1, json, out, err);
	if (!strcmp(cmd, "policy"))
		return policy_apply(t, argc - 1, argv + 1, json, out, err);
	if (!strcmp(cmd, "backup"))
		return backup(t, argc - 1, argv + 1, json, out, err);
	if (!strcmp(cmd, "status") && argc == 1)
		return status(t, json, out, err);
	if (!strcmp(cmd, "pause"))
		return pause_cmd(t, argc - 1, argv + 1, json, out, err);
	if (!strcmp(cmd, "resume"))
		return resume_cmd(t, argc - 1, argv + 1, json, out, err);
	if (adm_access_known(argc, argv))
		return adm_access_dispatch(t, argc, argv, json, out, err);
	return st_fail(err, ADMIN_E_USAGE, "%s %s: not a command (or extra "
		       "arguments); see 'sealtrace %s --help'", cmd, sub, cmd);
}

static bool known_command(int argc, char **argv)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	return (!strcmp(cmd, "user") &&
		(!strcmp(sub, "add") || (!strcmp(sub, "list") && argc == 2))) ||
	       (!strcmp(cmd, "device") &&
		((!strcmp(sub, "list") && argc == 2) || !strcmp(sub, "revoke"))) ||
	       !strcmp(cmd, "enroll-token") ||
	       (!strcmp(cmd, "policy") && !strcmp(sub, "apply")) ||
	       !strcmp(cmd, "backup") || !strcmp(cmd, "pause") ||
	       !strcmp(cmd, "resume") ||
	       (!strcmp(cmd, "status") && argc == 1) ||
	       adm_access_known(argc, argv);
}

int st_admin_run(const struct st_admin_conn *conn, int argc, char **argv,
		 int json, FILE *out, struct st_error *err)
{
	if (argc < 1 || !argv || !argv[0] || !out)
		return st_fail(err, ADMIN_E_USAGE, "no command; see 'sealtrace "
			       "--help'");
	if (!known_command(argc, argv))
		return st_fail(err, ADMIN_E_USAGE, "%s%s%s: not a command (or "
			       "extra arguments); see 'sealtrace %s --help'",
			       argv[0], argc > 1 ? " " : "",
			       argc > 1 ? argv[1] : "", argv[0]);
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium cannot "
			       "initialise");
	json_malloc_t old_malloc;
	json_free_t old_free;
	json_get_alloc_funcs(&old_malloc, &old_free);
	json_set_alloc_funcs(malloc, wiping_free);
	struct admin_target t;
	int rc = resolve_target(conn, &t, err);
	if (rc == 0)
		rc = dispatch(&t, argc, argv, json, out, err);
	target_fini(&t);
	json_set_alloc_funcs(old_malloc, old_free);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = st_fail(err, -EIO, "cannot write the answer to the output");
	return rc;
}
