/* policy.h - owns the collection policy: its JSON form and check, its
 * canonical form and hash, and the notice text rendered from it.
 * Never reads files, prints or touches the network: the server, the agent
 * and the offline `sealtrace policy` tools hand it bytes and get bytes back. */
#ifndef ST_POLICY_H
#define ST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* The one version of the policy format this build reads. */
#define ST_POLICY_VERSION 1

/* Bounds on outside input, each checked before use (docs/policy.md). */
#define ST_POLICY_JSON_MAX (256u << 10) /* bytes of policy JSON */
#define ST_POLICY_GLOBS_MAX 128   /* per apps list; = ST_FILTER_GLOBS_MAX */
#define ST_POLICY_GLOB_MAX 128    /* bytes of one glob */
#define ST_POLICY_TITLE_RULES_MAX 64 /* = ST_FILTER_TITLE_RULES_MAX */
#define ST_POLICY_REPLACE_MAX 128 /* bytes of a title replacement */
#define ST_POLICY_PURPOSES_MAX 32
#define ST_POLICY_PURPOSE_NAME_MAX 64
#define ST_POLICY_DESCRIPTION_MAX 600 /* bytes of a purpose description */
#define ST_POLICY_READERS_MAX 64
#define ST_POLICY_READER_NAME_MAX 254 /* an e-mail address's longest form */
#define ST_POLICY_CONTACT_MAX 254

/* Value ranges the check enforces. */
#define ST_POLICY_LEVEL_MAX_KEPT 3      /* level 4 never persists */
#define ST_POLICY_RETENTION_DAYS_MAX 365
#define ST_POLICY_KEY_BACKUP_DAYS_DEFAULT 7
#define ST_POLICY_KEY_BACKUP_DAYS_MAX 30
#define ST_POLICY_KEY_COARSEN_MS_DEFAULT 50
/* Below this, key timing is a keystroke-dynamics fingerprint. */
#define ST_POLICY_KEY_COARSEN_MS_MIN 10
#define ST_POLICY_KEY_COARSEN_MS_MAX 1000

/* Problems reported by one parse; the rest are counted in `dropped`. */
#define ST_POLICY_DIAG_MAX 32
#define ST_POLICY_PATH_MAX 96 /* "readers[12].purposes[3]" and the like */

/* Lines of the notice are wrapped at this many characters. */
#define ST_POLICY_NOTICE_WIDTH 72

/* What the agent may capture. Anything the policy does not list as true is
 * false; screenshots are always false in this version. */
struct st_policy_capture {
	bool pointer;     /* motion, buttons, scroll */
	bool keys;        /* key codes and their (coarsened) timing */
	bool text;        /* the text keys produce; needs keys */
	bool titles;      /* window titles, after the title rules */
	bool apps;        /* the app id / class in front */
	bool screenshots; /* keyframe screenshots: not built, always false */
};

/* A list of owned strings. */
struct st_policy_strs {
	char **v;
	size_t n;
};

struct st_policy_title_rule {
	char *match;   /* glob on the whole title, case-insensitive */
	char *replace; /* the title written instead ("" drops it) */
};

struct st_policy_purpose {
	char *name;        /* slug: [a-z0-9][a-z0-9_-]* */
	char *description; /* one paragraph, shown in the notice */
};

/* One named person who may ever be named in a grant, for these purposes. */
struct st_policy_reader {
	char *name;                     /* lower-case e-mail address */
	struct st_policy_strs purposes; /* purpose names, sorted */
};

/* A checked, normalised policy: sets sorted and without repeats, defaults
 * filled in. Owned: st_policy_init before use, st_policy_fini after. */
struct st_policy {
	int version;
	struct st_policy_capture capture;
	struct st_policy_strs include;      /* apps.include; empty = every app */
	struct st_policy_strs exclude;      /* apps.exclude */
	struct st_policy_strs private_chat; /* apps.private_chat */
	struct st_policy_title_rule *title_rules; /* in order: first match wins */
	size_t n_title_rules;
	int keep_level;   /* levels.keep: 1..3 */
	int export_level; /* levels.export: 1..keep_level */
	int retention_days;
	int key_backup_days;
	int key_coarsen_ms;
	struct st_policy_purpose *purposes; /* sorted by name */
	size_t n_purposes;
	struct st_policy_reader *readers;   /* sorted by name */
	size_t n_readers;
	char *contact; /* where people ask to see or erase; NULL if not given */
};

/* One problem found by the check. path is the key path in the input
 * ("capture.text", "readers[2]", "$" for the document itself). */
struct st_policy_problem {
	int code; /* ST_E_POLICY, ST_E_BROAD_GRANT, ST_E_LEVEL, ST_E_JSON,
		   * ST_E_VERSION, ST_E_CAP */
	char path[ST_POLICY_PATH_MAX];
	char msg[ST_ERROR_MSG_MAX]; /* what is wrong and what to write instead */
};

/* Every problem of one parse, up to ST_POLICY_DIAG_MAX: each key's own
 * problems in document order, then the rules across keys (export above keep,
 * text with no exclusions, readers' purposes, missing keys). */
struct st_policy_diag {
	size_t n;       /* entries in item[] */
	size_t dropped; /* problems found beyond the cap */
	struct st_policy_problem item[ST_POLICY_DIAG_MAX];
};

void st_policy_init(struct st_policy *p);
void st_policy_fini(struct st_policy *p);

/* Parses and checks len bytes of policy JSON into p (initialised here; the
 * caller calls st_policy_fini whatever the result). Reports every problem
 * into diag (may be NULL). Returns 0 when the policy passes; otherwise
 * ST_E_BROAD_GRANT when any problem is a broad grant (the one refusal that
 * must never be hidden behind another), else the first problem's code, and
 * p is left empty. err (may be NULL) receives the first problem, or the
 * broad grant, as "PATH: message". */
int st_policy_parse(const char *json, size_t len, struct st_policy *p,
		    struct st_policy_diag *diag, struct st_error *err);

/* The canonical JSON of a checked policy (every field, defaults filled in,
 * sorted keys, no whitespace), appended to out. Parsing it gives back an
 * equal policy with the same canonical form. */
int st_policy_canonical(const struct st_policy *p, struct st_buf *out);

/* SHA-256 of the canonical form: the policy hash. */
int st_policy_hash(const struct st_policy *p, uint8_t out[32]);

/* The notice, in plain English, appended to out. Deterministic: the same
 * policy gives the same bytes (they are hashed into the notice hash). */
int st_policy_notice(const struct st_policy *p, struct st_buf *out,
		     struct st_error *err);

/* The capture kinds of a checked policy. */
void st_policy_capture_get(const struct st_policy *p,
			   struct st_policy_capture *out);

/* What the agent needs to fill struct st_filter_cfg. Arrays are borrowed
 * from p (valid until st_policy_fini); *n receives their length. */
const char *const *st_policy_exclude(const struct st_policy *p, size_t *n);
const char *const *st_policy_private_chat(const struct st_policy *p,
					  size_t *n);
const struct st_policy_title_rule *
st_policy_title_rules(const struct st_policy *p, size_t *n);
int st_policy_keep_level(const struct st_policy *p);   /* 1..3 */
int st_policy_export_level(const struct st_policy *p); /* 1..keep */
unsigned st_policy_key_coarsen_ms(const struct st_policy *p);

/* For the agent: parses and checks json and gives its capture kinds. Any
 * problem refuses the whole policy and leaves every kind false. */
int st_policy_capture_kinds_json(const char *json, size_t len,
				 struct st_policy_capture *out,
				 struct st_error *err);

/* How the policy treats an application (its app id or window class). */
enum st_policy_app {
	ST_POLICY_APP_RECORDED = 0,
	ST_POLICY_APP_NOT_INCLUDED, /* include is not empty and does not match */
	ST_POLICY_APP_EXCLUDED,     /* matches apps.exclude: nothing but focus */
	ST_POLICY_APP_PRIVATE_CHAT, /* typing there is level 4: dropped */
};
/* Exclusion wins over private chat, which wins over include. */
enum st_policy_app st_policy_app_rule(const struct st_policy *p,
				      const char *app);

/* The broad-grant rule (docs/policy.md): true when name designates a group,
 * a role or everyone rather than one person. Leans to refusing. */
bool st_policy_reader_is_broad(const char *name);

#endif
