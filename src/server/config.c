/* config.c - the server's configuration: defaults, config.json, and the
 * refusal of any master secret within the server's reach. */
#include "server/config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/lease.h"

/* Value ranges config.json may set (beyond the caps in config.h). */
#define CFG_BODY_MIN (4u << 10)       /* a sealed segment header and more */
#define CFG_CONNECTIONS_MAX 65536u    /* one process's sane fd budget */
#define CFG_TIMEOUT_MAX_S 3600u
#define CFG_REQUEST_WINDOW_MAX_S 86400u
#define CFG_INGEST_WINDOW_MAX_S (31u * 86400u)
#define CFG_ENROLL_TTL_MIN_S 60u
#define CFG_ENROLL_TTL_MAX_S (30u * 86400u)
#define CFG_ENROLL_TTL_DEFAULT_S 86400u
#define CFG_INGEST_WINDOW_DEFAULT_S 86400u
/* A key file's first line is "sealtrace-key v1 LABEL\n" (core/keys.c). */
#define CFG_KEY_MAGIC "sealtrace-key v1 "
#define CFG_FIRST_LINE_MAX 128
/* Files looked at per folder by the master-secret sweep: a data folder
 * holds a dozen; anything near this is not one. */
#define CFG_SWEEP_FILES_MAX 4096

static int set_path(char out[ST_CFG_PATH_MAX], const char *dir,
		    const char *rel, struct st_error *err)
{
	int n = rel[0] == '/' ? snprintf(out, ST_CFG_PATH_MAX, "%s", rel)
			      : snprintf(out, ST_CFG_PATH_MAX, "%s/%s", dir, rel);
	if (n < 0 || n >= ST_CFG_PATH_MAX)
		return st_fail(err, ST_E_CAP,
			       "%s/%s: path over %d bytes; use a shorter data "
			       "folder path", dir, rel, ST_CFG_PATH_MAX - 1);
	return 0;
}

/* dir made absolute without requiring it to exist (init makes it). */
static int absolute_dir(const char *dir, char out[ST_CFG_PATH_MAX],
			struct st_error *err)
{
	if (!dir || !*dir)
		return st_fail(err, ST_E_INVAL, "data folder: empty path; give "
			       "the folder, e.g. /var/lib/sealtrace");
	char resolved[PATH_MAX];
	if (realpath(dir, resolved)) {
		if (strlen(resolved) >= ST_CFG_PATH_MAX)
			return st_fail(err, ST_E_CAP, "data folder %s: path "
				       "over %d bytes", dir, ST_CFG_PATH_MAX - 1);
		strcpy(out, resolved);
		return 0;
	}
	int n;
	if (dir[0] == '/') {
		n = snprintf(out, ST_CFG_PATH_MAX, "%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd))
			return st_fail(err, st_errno(errno), "data folder %s: "
				       "cannot read the current folder: %s",
				       dir, strerror(errno));
		n = snprintf(out, ST_CFG_PATH_MAX, "%s/%s", cwd, dir);
	}
	if (n < 0 || n >= ST_CFG_PATH_MAX)
		return st_fail(err, ST_E_CAP, "data folder %s: path over %d "
			       "bytes", dir, ST_CFG_PATH_MAX - 1);
	size_t l = strlen(out);
	while (l > 1 && out[l - 1] == '/')
		out[--l] = 0;
	return 0;
}

int st_server_config_defaults(struct st_server_config *c, const char *dir,
			      struct st_error *err)
{
	memset(c, 0, sizeof *c);
	int rc = absolute_dir(dir, c->dir, err);
	if (rc < 0)
		return rc;
	snprintf(c->listen, sizeof c->listen, "%s", ST_CFG_LISTEN_DEFAULT);
	static const struct {
		size_t off;
		const char *rel;
	} paths[] = {
		{offsetof(struct st_server_config, db), "sealtrace.db"},
		{offsetof(struct st_server_config, tls_cert), "tls/server.pem"},
		{offsetof(struct st_server_config, tls_key), "tls/server.key"},
		{offsetof(struct st_server_config, tls_ca), "tls/ca.pem"},
		{offsetof(struct st_server_config, master_public), "master.pub"},
		{offsetof(struct st_server_config, lease_key), "keys/lease.key"},
		{offsetof(struct st_server_config, lease_pub), "keys/lease.pub"},
		{offsetof(struct st_server_config, audit_key), "keys/audit.key"},
		{offsetof(struct st_server_config, audit_pub), "keys/audit.pub"},
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if ((rc = set_path((char *)c + paths[i].off, c->dir,
				   paths[i].rel, err)) < 0)
			return rc;
	c->body_max = ST_CFG_BODY_MAX_DEFAULT;
	c->connections_max = ST_CFG_CONNECTIONS_DEFAULT;
	c->connection_timeout_s = ST_CFG_CONN_TIMEOUT_DEFAULT_S;
	c->request_window_s = ST_CFG_REQUEST_WINDOW_DEFAULT_S;
	c->ingest_window_past_s = CFG_INGEST_WINDOW_DEFAULT_S;
	c->ingest_window_future_s = CFG_INGEST_WINDOW_DEFAULT_S;
	c->threads = ST_CFG_THREADS_DEFAULT;
	c->enroll_ttl_default_s = CFG_ENROLL_TTL_DEFAULT_S;
	c->lease_validity_ms = ST_CFG_LEASE_VALIDITY_DEFAULT_MS;
	c->lease_hold_s = ST_CFG_LEASE_HOLD_DEFAULT_S;
	c->confirm_quiet_ms = ST_CFG_CONFIRM_QUIET_DEFAULT_MS;
	c->confirm_batch_ms = ST_CFG_CONFIRM_BATCH_DEFAULT_MS;
	c->audit_checkpoint_entries = ST_CFG_AUDIT_CP_ENTRIES_DEFAULT;
	c->audit_checkpoint_s = ST_CFG_AUDIT_CP_S_DEFAULT;
	c->retention_sweep_s = ST_CFG_SWEEP_S_DEFAULT;
	return 0;
}

/* config.json's keys: each a path (resolved against dir) or a bounded
 * unsigned number. */
enum kind { K_PATH, K_U32, K_BOOL, K_LISTEN };
struct key {
	const char *name;
	enum kind kind;
	size_t off;
	uint32_t min, max;
};
#define OFF(f) offsetof(struct st_server_config, f)
static const struct key keys[] = {
	{"listen", K_LISTEN, OFF(listen), 0, 0},
	{"plain_http", K_BOOL, OFF(plain_http), 0, 0},
	{"db", K_PATH, OFF(db), 0, 0},
	{"tls_cert", K_PATH, OFF(tls_cert), 0, 0},
	{"tls_key", K_PATH, OFF(tls_key), 0, 0},
	{"tls_ca", K_PATH, OFF(tls_ca), 0, 0},
	{"master_public", K_PATH, OFF(master_public), 0, 0},
	{"lease_key", K_PATH, OFF(lease_key), 0, 0},
	{"lease_pub", K_PATH, OFF(lease_pub), 0, 0},
	{"audit_key", K_PATH, OFF(audit_key), 0, 0},
	{"audit_pub", K_PATH, OFF(audit_pub), 0, 0},
	{"body_max", K_U32, OFF(body_max), CFG_BODY_MIN, ST_CFG_BODY_MAX_CAP},
	{"connections_max", K_U32, OFF(connections_max), 1, CFG_CONNECTIONS_MAX},
	{"connection_timeout_s", K_U32, OFF(connection_timeout_s), 1,
	 CFG_TIMEOUT_MAX_S},
	{"request_window_s", K_U32, OFF(request_window_s), 1,
	 CFG_REQUEST_WINDOW_MAX_S},
	{"ingest_window_past_s", K_U32, OFF(ingest_window_past_s), 60,
	 CFG_INGEST_WINDOW_MAX_S},
	{"ingest_window_future_s", K_U32, OFF(ingest_window_future_s), 60,
	 CFG_INGEST_WINDOW_MAX_S},
	{"threads", K_U32, OFF(threads), 1, ST_CFG_THREADS_MAX},
	{"enroll_ttl_default_s", K_U32, OFF(enroll_ttl_default_s),
	 CFG_ENROLL_TTL_MIN_S, CFG_ENROLL_TTL_MAX_S},
	{"lease_validity_ms", K_U32, OFF(lease_validity_ms),
	 ST_CFG_LEASE_VALIDITY_MIN_MS, ST_LEASE_VALIDITY_MAX_MS},
	{"lease_hold_s", K_U32, OFF(lease_hold_s), 1, ST_CFG_LEASE_HOLD_MAX_S},
	{"confirm_quiet_ms", K_U32, OFF(confirm_quiet_ms), 1,
	 ST_CFG_CONFIRM_MAX_MS},
	{"confirm_batch_ms", K_U32, OFF(confirm_batch_ms), 1,
	 ST_CFG_CONFIRM_MAX_MS},
	{"audit_checkpoint_entries", K_U32, OFF(audit_checkpoint_entries), 1,
	 1000000},
	{"audit_checkpoint_s", K_U32, OFF(audit_checkpoint_s), 1, 86400},
	{"retention_sweep_s", K_U32, OFF(retention_sweep_s), 1, 86400},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

/* Splits "host:port" / "[v6]:port" into host (without brackets) and port.
 * 0 when well-formed. */
static int split_listen(const char *listen, char *host, size_t host_cap,
			unsigned *port)
{
	const char *colon;
	size_t hl;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return -1;
		hl = (size_t)(close - listen - 1);
		if (hl >= host_cap)
			return -1;
		memcpy(host, listen + 1, hl);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
			return -1; /* a bare IPv6 address needs brackets */
		hl = (size_t)(colon - listen);
		if (hl >= host_cap)
			return -1;
		memcpy(host, listen, hl);
	}
	host[hl] = 0;
	if (!hl)
		return -1;
	char *e = NULL;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &e, 10);
	if (!colon[1] || *e || errno || p > 65535 || colon[1] == '-' ||
	    colon[1] == '+')
		return -1;
	*port = (unsigned)p;
	return 0;
}

bool st_server_config_listen_is_loopback(const char *listen)
{
	if (!listen)
		return false;
	char host[256];
	unsigned port;
	if (split_listen(listen, host, sizeof host, &port) < 0)
		snprintf(host, sizeof host, "%s", listen); /* a bare host */
	if (!strcmp(host, "localhost"))
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

static int check_listen(const char *v, const char *where,
			struct st_error *err)
{
	char host[256];
	unsigned port;
	if (strlen(v) >= sizeof ((struct st_server_config *)0)->listen ||
	    split_listen(v, host, sizeof host, &port) < 0)
		return st_fail(err, ST_E_JSON,
			       "%s: listen \"%.200s\" is not ADDR:PORT; write "
			       "e.g. \"127.0.0.1:8443\", \"0.0.0.0:8443\" or "
			       "\"[::1]:8443\"", where, v);
	return 0;
}

static bool names_master_secret(const char *key)
{
	return !strcmp(key, "master_secret") || !strcmp(key, "master_key") ||
	       !strcmp(key, "master_secret_key");
}

int st_server_config_load(const char *dir, struct st_server_config *c,
			  struct st_error *err)
{
	int rc = st_server_config_defaults(c, dir, err);
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(c->dir, &st) < 0)
		return st_fail(err, st_errno(errno), "data folder %s: %s; make "
			       "one with 'sealtrace init %s --policy FILE "
			       "--master-public FILE'", c->dir,
			       strerror(errno), c->dir);
	if (!S_ISDIR(st.st_mode))
		return st_fail(err, ST_E_INVAL, "data folder %s: not a folder",
			       c->dir);
	if (st.st_mode & 077)
		return st_fail(err, ST_E_KEY_MODE, "data folder %s is mode "
			       "%04o; run chmod 700 %s", c->dir,
			       (unsigned)(st.st_mode & 07777), c->dir);
	char file[ST_CFG_PATH_MAX];
	if ((rc = set_path(file, c->dir, "config.json", err)) < 0)
		return rc;
	struct st_buf b;
	st_buf_init(&b, false);
	rc = st_file_read(file, ST_CFG_FILE_MAX, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		if (rc == -ENOENT)
			return st_fail(err, rc, "%s: missing; is %s a data "
				       "folder made by 'sealtrace init'?",
				       file, c->dir);
		return rc;
	}
	json_error_t je;
	json_t *root = json_loadb((const char *)b.p, b.len,
				  JSON_REJECT_DUPLICATES, &je);
	st_buf_fini(&b);
	if (!root)
		return st_fail(err, ST_E_JSON, "%s: line %d: %s; fix the JSON",
			       file, je.line, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return st_fail(err, ST_E_JSON, "%s: not a JSON object", file);
	}
	const char *name;
	json_t *v;
	rc = 0;
	json_object_foreach(root, name, v) {
		if (names_master_secret(name)) {
			rc = st_fail(err, ST_E_MASTER_SECRET,
				     "%s: key \"%s\": the server never reads a "
				     "master secret; remove the key and keep "
				     "the master secret on the export host",
				     file, name);
			break;
		}
		const struct key *k = NULL;
		for (size_t i = 0; i < N_KEYS; i++)
			if (!strcmp(keys[i].name, name))
				k = &keys[i];
		if (!k) {
			rc = st_fail(err, ST_E_JSON, "%s: unknown key \"%.100s\"; "
				     "remove it (docs/api.md lists the "
				     "settings)", file, name);
			break;
		}
		char *field = (char *)c + k->off;
		if (k->kind == K_BOOL) {
			if (!json_is_boolean(v)) {
				rc = st_fail(err, ST_E_JSON, "%s: \"%s\" must "
					     "be true or false", file, name);
				break;
			}
			*(bool *)field = json_is_true(v);
		} else if (k->kind == K_U32) {
			json_int_t n = json_is_integer(v) ? json_integer_value(v)
							  : -1;
			if (!json_is_integer(v) || n < (json_int_t)k->min ||
			    n > (json_int_t)k->max) {
				rc = st_fail(err, ST_E_JSON, "%s: \"%s\" must be "
					     "a whole number from %u to %u",
					     file, name, k->min, k->max);
				break;
			}
			*(uint32_t *)field = (uint32_t)n;
		} else {
			const char *s = json_string_value(v);
			if (!s || !*s || strlen(s) != json_string_length(v)) {
				rc = st_fail(err, ST_E_JSON, "%s: \"%s\" must "
					     "be a non-empty string", file, name);
				break;
			}
			if (k->kind == K_LISTEN) {
				if ((rc = check_listen(s, file, err)) < 0)
					break;
				snprintf(field, sizeof c->listen, "%s", s);
			} else if (set_path(field, c->dir, s, NULL) < 0) {
				rc = st_fail(err, ST_E_JSON, "%s: \"%s\": path "
					     "over %d bytes; use a shorter one",
					     file, name, ST_CFG_PATH_MAX - 1);
				break;
			}
		}
	}
	json_decref(root);
	if (rc == 0 &&
	    (uint64_t)c->lease_hold_s * 1000u >= c->lease_validity_ms)
		rc = st_fail(err, ST_E_JSON, "%s: \"lease_hold_s\" (%u s) must "
			     "be below \"lease_validity_ms\" (%u ms): a "
			     "connected agent must renew its lease before it "
			     "runs out; lower lease_hold_s", file,
			     c->lease_hold_s, c->lease_validity_ms);
	if (rc == 0 && c->plain_http &&
	    !st_server_config_listen_is_loopback(c->listen))
		rc = st_fail(err, ST_E_INVAL, "%s: plain_http is only allowed "
			     "on a loopback address, not %s; remove "
			     "plain_http or listen on 127.0.0.1", file,
			     c->listen);
	return rc;
}

/* p relative to dir when it lies inside it. */
static const char *rel_to(const char *dir, const char *p)
{
	size_t l = strlen(dir);
	if (!strncmp(p, dir, l) && p[l] == '/' && p[l + 1])
		return p + l + 1;
	return p;
}

int st_server_config_save(const struct st_server_config *c,
			  struct st_error *err)
{
	json_t *o = json_object();
	if (!o)
		return st_fail(err, ST_E_NOMEM, "config: out of memory");
	int bad = 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		const char *field = (const char *)c + keys[i].off;
		json_t *v;
		switch (keys[i].kind) {
		case K_BOOL:
			v = json_boolean(*(const bool *)field);
			break;
		case K_U32:
			v = json_integer(*(const uint32_t *)field);
			break;
		case K_LISTEN:
			v = json_string(field);
			break;
		default:
			v = json_string(rel_to(c->dir, field));
			break;
		}
		bad |= json_object_set_new(o, keys[i].name, v);
	}
	char *text = bad ? NULL : json_dumps(o, JSON_INDENT(2) |
					     JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		return st_fail(err, ST_E_NOMEM, "config: out of memory");
	char file[ST_CFG_PATH_MAX];
	int rc = set_path(file, c->dir, "config.json", err);
	if (rc == 0) {
		size_t n = strlen(text);
		text[n] = '\n'; /* json_dumps leaves room only for the NUL:
				   write the newline over it */
		rc = st_file_write_atomic(file, text, n + 1, 0600, err);
	}
	free(text);
	return rc;
}

/* Whether the file at path is a key file labelled as a master secret.
 * Reads its first line only; unreadable or non-regular files are not. */
static bool is_master_secret_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return false;
	struct stat st;
	char line[CFG_FIRST_LINE_MAX];
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0)
		return false;
	line[n] = 0;
	static const char want[] = CFG_KEY_MAGIC ST_KEY_MASTER_SECRET;
	return !strncmp(line, want, sizeof want - 1) &&
	       (line[sizeof want - 1] == '\n' || line[sizeof want - 1] == '\r' ||
		line[sizeof want - 1] == 0);
}

static int master_secret_found(const char *path, struct st_error *err)
{
	return st_fail(err, ST_E_MASTER_SECRET,
		       "%s is a master SECRET key; it belongs on the export "
		       "host only: move it there (or delete this copy) and "
		       "keep only master.pub on the server", path);
}

/* Sweeps the regular files of folder; descends one more level when depth
 * is 0. */
static int sweep(const char *folder, int depth, struct st_error *err)
{
	DIR *d = opendir(folder);
	if (!d)
		return 0; /* absent or unreadable: the server cannot read it
			     either */
	struct dirent *e;
	int rc = 0;
	size_t seen = 0;
	while (rc == 0 && (e = readdir(d)) && seen++ < CFG_SWEEP_FILES_MAX) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[ST_CFG_PATH_MAX + 256];
		if (snprintf(p, sizeof p, "%s/%s", folder, e->d_name) >=
		    (int)sizeof p)
			continue;
		struct stat st;
		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth == 0)
				rc = sweep(p, 1, err);
		} else if (S_ISREG(st.st_mode) && is_master_secret_file(p)) {
			rc = master_secret_found(p, err);
		}
	}
	closedir(d);
	return rc;
}

int st_server_config_check_no_master_secret(const struct st_server_config *c,
					    struct st_error *err)
{
	int rc = sweep(c->dir, 0, err);
	if (rc < 0)
		return rc;
	/* Every file the server is configured to read, wherever it lies. */
	const char *const files[] = {
		c->master_public, c->tls_cert, c->tls_key, c->tls_ca,
		c->lease_key, c->lease_pub, c->audit_key, c->audit_pub,
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (files[i][0] && is_master_secret_file(files[i]))
			return master_secret_found(files[i], err);
	return 0;
}
