/* detect.h - owns the detectors of the on-device privacy filter:
 * multi-pattern scanning (Vectorscan, a literal stage over the whole text
 * and small pattern stages over the windows a C pre-pass picks),
 * validation in C (Luhn, IBAN mod 97, SSN rules, entropy), and category
 * keyword lists loaded from data files. Never keeps, logs or returns the
 * matched characters: a match is a kind and a byte range in the caller's
 * text. */
#ifndef ST_DETECT_H
#define ST_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Kinds. The numbers go into redaction markers (st_event.u.redact.kind,
 * 0-255) and so into segments: never renumber, only append. */
enum st_detect_kind {
	ST_DET_NONE = 0,
	/* personal data: a redaction marker */
	ST_DET_CARD = 1,       /* payment card, Luhn-valid */
	ST_DET_IBAN = 2,       /* mod 97 valid */
	ST_DET_SSN = 3,        /* US SSN, area/group/serial rules */
	ST_DET_EMAIL = 4,
	ST_DET_PHONE = 5,      /* E.164 and common national forms */
	ST_DET_IP = 6,         /* IPv4 or IPv6 address */
	/* credentials: a marker, and the line's key codes and timing go too */
	ST_DET_AWS_KEY = 20,
	ST_DET_GCP_KEY = 21,
	ST_DET_AZURE_KEY = 22,
	ST_DET_GITHUB_TOKEN = 23,
	ST_DET_GITLAB_TOKEN = 24,
	ST_DET_SLACK_TOKEN = 25,
	ST_DET_JWT = 26,
	ST_DET_PEM_KEY = 27,
	ST_DET_SECRET = 28,    /* high-entropy token */
	ST_DET_PASSWORD = 29,  /* a password by context (set by the filter) */
	/* categories kept at level 3 (if the policy keeps level 3) */
	ST_DET_CAT_HR = 40,
	ST_DET_CAT_PERFORMANCE = 41,
	ST_DET_CAT_RELATIONS = 42,
	/* categories at level 4: never stored */
	ST_DET_CAT_HEALTH = 50,
	ST_DET_CAT_TAX = 51,
	ST_DET_CAT_PRIVATE = 52,
	/* markers the filter writes for what it removed without a detector */
	ST_DET_PASTE = 60,     /* pasted content: unknown text */
	ST_DET_EXCLUDED = 61,  /* typing in an excluded application */
};

enum st_detect_outcome {
	ST_OUT_NONE = 0,
	ST_OUT_REDACT = 1,     /* replace the matched text by a marker */
	ST_OUT_CREDENTIAL = 2, /* marker; drop the whole line's keys and timing */
	ST_OUT_LEVEL3 = 3,     /* keep at level 3 */
	ST_OUT_LEVEL4 = 4,     /* drop the line (and the title), leave a gap */
};

struct st_match {
	uint16_t kind;
	uint32_t start, end; /* byte range [start, end) in the scanned text */
};

/* Cap on one scanned text (a line or a title): longer input is scanned in
 * its first ST_DETECT_TEXT_MAX bytes and the rest counts as matched by the
 * filter's "when in doubt, drop" rule. */
#define ST_DETECT_TEXT_MAX 65536u
/* Cap on matches reported for one text. */
#define ST_DETECT_MATCHES_MAX 256u

struct st_detector;

/* Compiles the patterns and loads the category keyword lists from
 * data_dir/categories/NAME.txt (one keyword or phrase per line, '#' comments;
 * matched case-insensitively on word boundaries, except short all-capitals
 * acronyms such as "HIV" or "PIP", which keep their case; a space matches
 * one space or a hyphen, a hyphen may be a space or nothing, an apostrophe
 * may be ' or U+2019 or nothing, and a plural ending s/es/n/en is
 * allowed). The caller frees it with st_detector_free. */
int st_detector_new(const char *data_dir, struct st_detector **out,
		    struct st_error *err);
void st_detector_free(struct st_detector *d);

/* Scans text[0..len) and writes up to cap validated matches into m, sorted by
 * start; overlapping matches of different kinds are all reported (the caller
 * decides by outcome). *n receives the count. Thread-compatible: one
 * detector per thread (it owns its scratch space). */
int st_detect(struct st_detector *d, const char *text, size_t len,
	      struct st_match *m, size_t cap, size_t *n, struct st_error *err);

enum st_detect_outcome st_detect_outcome(uint16_t kind);

/* The validators behind the detectors, for known-answer tests and tools.
 * Luhn over n ASCII digits (false for anything else). */
bool st_detect_luhn(const char *digits, size_t n);
/* text[0..len) is exactly one IBAN, without spaces or in groups of four:
 * known country, its registered length, check digits 02-98, mod 97 = 1. */
bool st_detect_iban_valid(const char *text, size_t len);
/* Nine ASCII digits form an SSN the SSA could have issued: area not 000,
 * 666 or 900-999, group not 00, serial not 0000, not a voided number. */
bool st_detect_ssn_valid(const char digits[9]);
/* Shannon entropy of s[0..n) in bits per byte (0 for n == 0). */
double st_detect_entropy(const char *s, size_t n);
/* "card", "iban", ... ; "unknown" for others. */
const char *st_detect_kind_name(uint16_t kind);

#endif
