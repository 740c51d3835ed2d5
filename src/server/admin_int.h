/* admin_int.h - what the administration commands' source files share:
 * where the server is, one API call, and small text tables. Not an
 * interface: admin.h is. */
#ifndef ST_ADMIN_INT_H
#define ST_ADMIN_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "server/admin.h"

#define ADMIN_E_USAGE (-EINVAL)
#define ADMIN_CONFIG_MAX (16u << 10)   /* admin.json bytes */
#define ADMIN_URL_MAX 1024
#define ADMIN_PATH_MAX 4096
#define ADMIN_TOKEN_MAX 256            /* bytes of a token as given */
#define ADMIN_NAME_MAX 254             /* = ST_STORE_NAME_MAX */
#define ADMIN_GROUP_MAX 128            /* = ST_STORE_GROUP_MAX */
#define ADMIN_TTL_MIN_S 1LL /* short lifetimes are for tests and drills */
#define ADMIN_TTL_MAX_S (30u * 86400u)
/* A backup is held in memory before it is written: this caps it. */
#define ADMIN_BACKUP_MAX ((size_t)4 << 30)
#define ADMIN_BACKUP_TIMEOUT_MS (10L * 60 * 1000)
#define ADMIN_TABLE_ROWS_MAX 100000 /* rows one list prints */
#define ADMIN_TABLE_COLS 12

/* Where to reach the server, each part from the first place that has it. */
struct admin_target {
	char url[ADMIN_URL_MAX];
	char *token; /* sodium_malloc'ed, ADMIN_TOKEN_MAX bytes */
	char ca[ADMIN_PATH_MAX];
	long timeout_ms;
	char config[ADMIN_PATH_MAX]; /* the config file consulted, or "" */
};

/* A small text table: cells are copied; widths found before printing. */
struct table {
	size_t cols, rows;
	char **cell; /* rows * cols */
	size_t cap;
	size_t width[ADMIN_TABLE_COLS];
	bool oom;
};

struct call {
	const char *method, *path;
	const char *body; /* JSON text or NULL */
	size_t body_len;
	const char *content_type;
	size_t answer_max;
	long timeout_ms;
};

void adm_fmt_time(int64_t s, char *out, size_t cap);
void adm_fmt_bytes(double v, char *out, size_t cap);
void adm_table_row(struct table *t, const char *const *v);
void adm_table_print(struct table *t, FILE *out);
void adm_table_fini(struct table *t);
const char *adm_jstr(const json_t *o, const char *k);
long long adm_jint(const json_t *o, const char *k);
int adm_api(const struct admin_target *t, const struct call *c,
	    struct st_buf *answer, struct st_error *err);
/* Calls and parses a JSON answer into *out (the caller decrefs). */
int adm_api_json(const struct admin_target *t, const struct call *c,
		 json_t **out, struct st_buf *raw, struct st_error *err);
void adm_print_raw(const struct st_buf *raw, FILE *out);
/* json_dumps of o (consumed) into *text (free it). */
int adm_body_of(json_t *o, char **text, struct st_error *err);
/* Parses "--opt VALUE" / "--opt=VALUE" at argv[*i]; advances *i. */
const char *adm_opt_value(int argc, char **argv, int *i, const char *opt,
			  int *bad);
int adm_usage(struct st_error *err, const char *fmt, const char *a);
bool adm_name_ok(const char *s, size_t max);
/* "90s", "15m", "2h", "7d" or seconds; -1 when malformed. */
long long adm_parse_duration(const char *s);
int adm_write_new_0600(const char *path, const uint8_t *data, size_t len,
		       struct st_error *err);

/* admin_access.c: token, purpose, erase, audit, retention. */
bool adm_access_known(int argc, char **argv);
int adm_access_dispatch(const struct admin_target *t, int argc, char **argv,
			int json, FILE *out, struct st_error *err);

#endif
