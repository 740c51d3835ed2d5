/* filter.h - owns the on-device privacy filter: it rewrites the agent's open
 * segment, in locked memory, before it is sealed. Text is reconstructed per
 * window; detected secrets and personal data become redaction markers; level
 * 4 content is dropped with a gap marker; excluded applications leave only
 * their focus changes; key timing is coarsened. Never reads the screen, never
 * logs or keeps recorded text beyond the segment it works on. */
#ifndef ST_FILTER_H
#define ST_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/policy.h"
#include "filter/detect.h"

#define ST_FILTER_GLOBS_MAX 128     /* app globs per list */
#define ST_FILTER_TITLE_RULES_MAX 64
#define ST_FILTER_LINE_MAX 4096     /* bytes of one reconstructed line */
#define ST_FILTER_LINE_KEYS_MAX 16384 /* key events of one line */
#define ST_FILTER_WINDOWS_MAX 256   /* windows whose context is remembered */
/* A line still being typed at a cut moves whole into the next segment, for
 * at most this long after its first key; then it is judged as it is (a
 * secret line is dropped: when in doubt, drop). */
#define ST_FILTER_CARRY_NS_DEFAULT (120ull * 1000000000ull)

struct st_filter_title_rule {
	const char *match;   /* glob on the title */
	const char *replace; /* the title written instead */
};

struct st_filter_cfg {
	/* globs on app id or class: when not empty, an app matching none is
	 * treated as excluded */
	const char *const *include;
	size_t n_include;
	const char *const *exclude; /* globs on app id or class: not recorded */
	size_t n_exclude;
	const char *const *private_chat; /* typing there is level 4 */
	size_t n_private_chat;
	const struct st_filter_title_rule *title_rules;
	size_t n_title_rules;
	uint8_t keep_level;      /* highest level kept: 1..3 */
	uint32_t key_coarsen_ms; /* key timing buckets (0 = none) */
	uint64_t carry_ns;       /* 0 = ST_FILTER_CARRY_NS_DEFAULT */
};

/* What one pass did: counts only, never content. */
struct st_filter_stats {
	uint64_t lines;
	uint64_t redactions;            /* markers written */
	uint64_t by_kind[256];          /* markers per detect kind */
	uint64_t lines_dropped_level4;
	uint64_t lines_dropped_secret;  /* credentials and password contexts */
	uint64_t titles_replaced;
	uint64_t events_excluded;
	uint64_t carried;               /* events moved to the next segment */
};

struct st_filter;

/* cfg's strings are copied. det is borrowed and must outlive the filter. */
int st_filter_new(const struct st_filter_cfg *cfg, struct st_detector *det,
		  struct st_filter **out, struct st_error *err);
void st_filter_free(struct st_filter *f);

/* Rewrites evs in place. With final, the segment is about to be sealed:
 * when carry_from is given, *carry_from receives the index of the first
 * event to move into the next segment (evs->n if nothing moves): the line
 * still being typed; with carry_from NULL (pause, flush, stop) that line is
 * judged now. *level receives the segment's sensitivity level (1-3) after
 * filtering. Without final the call does nothing: lines are judged whole,
 * once, when their segment is sealed. */
int st_filter_apply(struct st_filter *f, struct st_events *evs, bool final,
		    size_t *carry_from, uint8_t *level, struct st_error *err);

void st_filter_stats(const struct st_filter *f, struct st_filter_stats *out);

/* The filter configuration a collection policy asks for (what the agent
 * runs, and what the export host runs again): rules[] (caller-provided,
 * ST_FILTER_TITLE_RULES_MAX) receives the title rules; strings are
 * borrowed from p. keep_level is the policy's unless cap_level (1..3) is
 * lower. */
void st_filter_cfg_from_policy(const struct st_policy *p, int cap_level,
			       struct st_filter_title_rule *rules,
			       struct st_filter_cfg *out);

/* fnmatch-style glob, case-insensitive: '*', '?', '[...]'. */
bool st_glob_match(const char *glob, const char *s, size_t len);

#endif
