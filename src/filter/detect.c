/* detect.c - the detectors. A scan runs in three steps, cheapest first:
 *  1. one Vectorscan database over the whole text: the category keywords
 *     (literals, from the data folder) and literal triggers of the
 *     credential patterns (vendor prefixes, "-----BEGIN ", "secret", ...);
 *  2. a C pre-pass over each line: numbers, '@' and colons are parsed in C
 *     into card, IBAN, SSN, IPv4, international phone, email and IPv6
 *     proposals, and runs of 20 base64/hex characters into entropy
 *     proposals (per line, a table look-up costs less than starting an
 *     automaton);
 *  3. two small Vectorscan databases over short windows only: the national
 *     phone forms around numbers that could be phones, the credential
 *     patterns after their triggers.
 * Every proposal is then decided in C: Luhn and issuer ranges, the IBAN
 * length table and mod 97, SSN area/group/serial rules, octet ranges,
 * base64url JSON headers, Shannon entropy and letter pairs. Never copies,
 * keeps or logs the scanned characters: messages quote lengths and counts. */
#include "detect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"

/* Bounds. Every loop over the scanned text is bounded by its length or by
 * one of these. */
#define CANDIDATES_MAX 4096u  /* spans the patterns may propose in one scan:
				 more and the scan fails closed (ST_E_CAP) */
#define FOUND_MAX 1024u       /* validated matches before dedupe */
#define KEYWORDS_MAX 4096u    /* keyword lines in all category files */
#define KEYWORD_LEN_MAX 120u  /* bytes of one keyword line */
#define CATFILE_MAX (256u << 10) /* bytes of one category file */
#define PATH_MAX_LEN 4096u
#define DB_BYTES_MAX (64u << 20) /* a serialised database from the child */
#define RANGES_MAX 1024u     /* lines one scan hands to stage 2 or the
				 run judge; more and the last one runs to
				 the end of the text */
#define WINDOW_BEFORE_LITERAL 40u /* stage 2 window before a literal */
#define WINDOW_NUMBER_BEFORE 16u /* ... before a number: an IBAN's letters,
				    a '+', "(555) " */
#define WINDOW_NUMBER_AFTER 20u  /* ... after it: an IBAN's last groups */
#define NUM_GROUPS_MAX 24u    /* digit groups of one number token read */
#define CARD_GROUPS_MAX 12u   /* digit groups in a run that may hold a card */
#define EMAIL_LOCAL_MAX 64u   /* RFC 5321 local-part limit */
#define IPV6_TEXT_MAX 63u
#define JWT_HEADER_MAX 1024u  /* base64url bytes of a JWT header we decode */
#define SECRET_MIN_LEN 20u    /* shortest run judged by entropy */
#define SECRET_JUDGE_MAX 4096u /* bytes of one run the entropy rule reads */
#define SECRET_CTX_WINDOW 40u /* bytes before a run searched for key=... */
#define HASH_CTX_WINDOW 16u   /* bytes before a run searched for sha/md5... */
#define SSN_CTX_WINDOW 32u    /* bytes before bare digits searched for SSN */
#define PHONE_CTX_WINDOW 24u  /* bytes before bare digits searched for tel */
#define PEM_SPAN_MAX 16384u   /* bytes from BEGIN searched for the END line */

/* How a pattern's proposal is checked. */
enum rule {
	R_CARD,
	R_IBAN,
	R_SSN_DASH,
	R_SSN_SPACE,
	R_SSN_BARE,
	R_EMAIL,
	R_PHONE_INTL,  /* +CC ... or 00CC ... */
	R_PHONE_NANP,  /* (555) 123-4567, 555-123-4567, 555.123.4567 */
	R_PHONE_NANP_SPACE,
	R_PHONE_TRUNK, /* 030 1234567, 020 7946 0958, (030) 1234567 */
	R_PHONE_CTX,   /* bare digits, only after "tel", "call", ... */
	R_IPV4,
	R_IPV6,
	R_PREFIXED,    /* a token with a vendor prefix: AKIA..., ghp_..., ... */
	R_AWS_SECRET,  /* 40 base64 characters after aws_secret_access_key= */
	R_VALUE,       /* a key=value pattern: the value is the secret */
	R_URL_PASS,    /* scheme://user:password@host: the password */
	R_GCP_JSON,
	R_SLACK_HOOK,
	R_JWT,
	R_PEM,
	R_RUN,         /* a run of >= 20 base64/hex characters: entropy (C) */
	R_KEYWORD,
	R_COUNT
};

struct pat {
	const char *re;
	uint8_t kind;
	uint8_t rule;
	unsigned flags;
};

#define SOM HS_FLAG_SOM_LEFTMOST
#define CL HS_FLAG_CASELESS

/* Stage 2 patterns: deliberately loose where C validates (cards, IBANs,
 * phones) and exact where the format is the whole rule (vendor prefixes).
 * Each reports its leftmost start. Emails and IPv6 addresses need none:
 * C parses them from the '@' and the colons the pre-pass finds. The
 * patterns of numbers (the rules up to R_IPV4) run in the windows around
 * numbers, the others in the windows after literal triggers. */
static const struct pat builtin[] = {
	/* North American and national phone forms; cards, IBANs, SSNs, IPv4
	 * and +/00 international numbers are parsed in C from the numbers
	 * the pre-pass finds (numbers_at) */
	{"(?:\\b1[ .\\-]?)?\\(\\d{3}\\) ?\\d{3}[ .\\-]\\d{4}\\b", ST_DET_PHONE,
	 R_PHONE_NANP, SOM},
	{"\\b(?:1[.\\-])?\\d{3}[.\\-]\\d{3}[.\\-]\\d{4}\\b", ST_DET_PHONE,
	 R_PHONE_NANP, SOM},
	{"\\b\\d{3} \\d{3} \\d{4}\\b", ST_DET_PHONE, R_PHONE_NANP_SPACE, SOM},
	{"\\b0[1-9]\\d{0,4}(?:[ /\\-]\\d{2,8}){1,5}\\b", ST_DET_PHONE,
	 R_PHONE_TRUNK, SOM},
	{"\\(0[1-9]\\d{0,4}\\) ?\\d{2,8}(?:[ \\-]\\d{2,8}){0,4}\\b", ST_DET_PHONE,
	 R_PHONE_TRUNK, SOM},
	{"\\b(?:0[1-9]\\d{8,10}|[2-9]\\d{9})\\b", ST_DET_PHONE, R_PHONE_CTX, SOM},
	/* credentials with a fixed shape */
	{"\\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\\b", ST_DET_AWS_KEY, R_PREFIXED,
	 SOM},
	/* the secret key by its name; only the end is needed (40 before) */
	{"(?:aws[_ .\\-]?secret(?:[_ .\\-]?access)?[_ .\\-]?key|"
	 "secret[_ .\\-]?access[_ .\\-]?key)[\"']?\\s*(?:[=:]|=>|:=)\\s*[\"']?"
	 "[A-Za-z0-9/+]{40}",
	 ST_DET_AWS_KEY, R_AWS_SECRET, CL},
	{"\\bAIza[0-9A-Za-z_\\-]{35}", ST_DET_GCP_KEY, R_PREFIXED, SOM},
	{"\\bGOCSPX-[0-9A-Za-z_\\-]{28}", ST_DET_GCP_KEY, R_PREFIXED, SOM},
	{"\\bya29\\.[0-9A-Za-z_\\-]{20,}", ST_DET_GCP_KEY, R_PREFIXED, SOM},
	{"\"type\"\\s*:\\s*\"service_account\"", ST_DET_GCP_KEY, R_GCP_JSON, SOM},
	{"\"private_key_id\"\\s*:\\s*\"[0-9a-f]{40}\"", ST_DET_GCP_KEY,
	 R_GCP_JSON, SOM},
	{"AccountKey=[A-Za-z0-9+/]{20,}={0,2}", ST_DET_AZURE_KEY, R_VALUE, SOM},
	{"SharedAccessKey=[A-Za-z0-9+/]{20,}={0,2}", ST_DET_AZURE_KEY, R_VALUE,
	 SOM},
	{"[?&]sig=[A-Za-z0-9%+/]{30,}", ST_DET_AZURE_KEY, R_VALUE, SOM},
	{"[A-Za-z0-9_~.\\-]{3}\\dQ~[A-Za-z0-9_~.\\-]{31,34}", ST_DET_AZURE_KEY,
	 R_PREFIXED, SOM},
	{"\\bgh[pousr]_[A-Za-z0-9]{36}\\b", ST_DET_GITHUB_TOKEN, R_PREFIXED, SOM},
	{"\\bgithub_pat_[A-Za-z0-9_]{30,}", ST_DET_GITHUB_TOKEN,
	 R_PREFIXED, SOM},
	{"\\bgl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[A-Za-z0-9_\\-]{20,}",
	 ST_DET_GITLAB_TOKEN, R_PREFIXED, SOM},
	{"\\bGR1348941[A-Za-z0-9_\\-]{20,}", ST_DET_GITLAB_TOKEN, R_PREFIXED,
	 SOM},
	{"\\bxox[abposre]-[A-Za-z0-9\\-]{10,}", ST_DET_SLACK_TOKEN, R_PREFIXED,
	 SOM},
	{"\\bxapp-\\d-[A-Za-z0-9\\-]{20,}", ST_DET_SLACK_TOKEN, R_PREFIXED, SOM},
	{"hooks\\.slack\\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/"
	 "[A-Za-z0-9]{20,}",
	 ST_DET_SLACK_TOKEN, R_SLACK_HOOK, SOM},
	{"\\beyJ[A-Za-z0-9_\\-]{8,}\\.[A-Za-z0-9_\\-]{8,}\\.[A-Za-z0-9_\\-]*",
	 ST_DET_JWT, R_JWT, SOM},
	{"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----", ST_DET_PEM_KEY,
	 R_PEM, SOM},
	{"PuTTY-User-Key-File-\\d:", ST_DET_PEM_KEY, R_PEM, SOM},
	/* other vendors' prefixed secrets: reported as generic secrets */
	{"\\b[sr]k_(?:live|test)_[0-9A-Za-z]{24,}", ST_DET_SECRET,
	 R_PREFIXED, SOM},
	{"\\bnpm_[A-Za-z0-9]{36}\\b", ST_DET_SECRET, R_PREFIXED, SOM},
	{"\\bSG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}\\b", ST_DET_SECRET,
	 R_PREFIXED, SOM},
	{"\\bsk-(?:proj-|ant-api\\d\\d-)?[A-Za-z0-9_\\-]{32,}", ST_DET_SECRET,
	 R_PREFIXED, SOM},
	{"\\bhf_[A-Za-z0-9]{34}\\b", ST_DET_SECRET, R_PREFIXED, SOM},
	{"\\bdop_v1_[a-f0-9]{64}\\b", ST_DET_SECRET, R_PREFIXED, SOM},
	{"\\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\\b", ST_DET_SECRET, R_PREFIXED,
	 SOM},
	{"\\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\\-]{50,}", ST_DET_SECRET,
	 R_PREFIXED, SOM},
};
#define N_BUILTIN (sizeof builtin / sizeof *builtin)

static const struct {
	const char *file;
	uint8_t kind;
} categories[] = {
	{"hr.txt", ST_DET_CAT_HR},
	{"performance.txt", ST_DET_CAT_PERFORMANCE},
	{"relations.txt", ST_DET_CAT_RELATIONS},
	{"health.txt", ST_DET_CAT_HEALTH},
	{"tax.txt", ST_DET_CAT_TAX},
	{"private.txt", ST_DET_CAT_PRIVATE},
};
#define N_CATEGORIES (sizeof categories / sizeof *categories)

/* The 200 most frequent letter pairs inside words of English technical
 * prose (the texts under Debian's /usr/share/doc): 93% of the pairs in
 * such words and in identifiers built from them, but only 200/676 = 29.6%
 * of the pairs of uniformly random letters. The entropy rule uses them to
 * tell "getUserAccountSettings" from "gX7vQm2kLp9wRt4zHb8n". */
static const char bigrams[] =
	"th er re he in on co an de en it se ti es li or te ar at ed ri nt st "
	"io ic is nd no ns ce le od om al me ng ve ro ut di il ht ll ha ou ma "
	"ra tr ta op so ge ec fi fo si ne pe pr ch ot us nc ct ss hi ig wi et "
	"gi wa tt mi pa ib ub ea as rs la rt ur bu am ul ac un ho ca ts im pl "
	"lo gh pu el ex ab ai py tp ia to mo cl ie ps bl ad of po na rc rm da "
	"ty ee ft tw oc em mp ol os su rr hu js yr ap ni ag sh do bi ej fr ny "
	"ov lu mm pt id ck ry ev if ow vi be pp ep cu ke rg wh ir iv ly bo ef "
	"yo ci va ud gr sc ls oo au sr cr sp pi sa fe um nu bs up ms ba ue rn "
	"ld av ay eb rk og qu ip du wo gn ui dd uc lt tu";
#define BIGRAM_P0 0.296 /* 200 / 676 */
#define BIGRAM_Z 2.33   /* one-sided 1%: a random token is called word-like
			   in 1 case of 100 */
#define BIGRAM_Z_CTX 3.5 /* after "token=": 1 in 4,000 (the context already
			    says secret; only plain words are spared) */

struct cand {
	uint32_t id;
	uint32_t from, to;
};

struct last {
	uint32_t gen, idx;
};

struct range {
	uint8_t what; /* T_STAGE2 or T_NUM */
	uint32_t a, b;
};

struct st_detector {
	hs_database_t *db1;  /* stage 1: keywords and triggers, every text */
	hs_database_t *dbnum; /* stage 2: number patterns, around numbers */
	hs_database_t *dbcred; /* stage 2: the others, after literals */
	hs_scratch_t *scratch; /* sized for both; the scans never nest */
	unsigned n1, n2;
	uint8_t *kind1, *rule1; /* per stage-1 id */
	uint16_t *klen;      /* per stage-1 id: keyword literal length */
	uint8_t *kbound;     /* per stage-1 id: boundary checks */
	uint8_t *kind2, *rule2; /* per stage-2 id */
	bool *som2;          /* per stage-2 id: reports its start */
	struct last *last;   /* per stage-2 id: its latest candidate */
	uint32_t gen;
	/* the scan in progress */
	const char *text;
	size_t len, off;
	struct range *ranges;
	size_t nranges, s2_end;
	struct cand *c;
	size_t nc, proposed;
	bool overflow;
	struct st_match *found;
	size_t nfound;
	bool found_overflow;
	uint32_t done_from[R_COUNT], done_to[R_COUNT]; /* last region judged */
	uint32_t bg[26];     /* bigram rows */
	double xlog2x[SECRET_JUDGE_MAX + 1]; /* c * log2(c), for entropy */
	uint8_t cc[256];     /* byte classes of the pre-pass */
};

/* --- names and outcomes ----------------------------------------------- */

enum st_detect_outcome st_detect_outcome(uint16_t kind)
{
	if (kind >= ST_DET_CARD && kind <= ST_DET_IP)
		return ST_OUT_REDACT;
	if (kind >= ST_DET_AWS_KEY && kind <= ST_DET_PASSWORD)
		return ST_OUT_CREDENTIAL;
	if (kind >= ST_DET_CAT_HR && kind <= ST_DET_CAT_RELATIONS)
		return ST_OUT_LEVEL3;
	if (kind >= ST_DET_CAT_HEALTH && kind <= ST_DET_CAT_PRIVATE)
		return ST_OUT_LEVEL4;
	if (kind == ST_DET_PASTE || kind == ST_DET_EXCLUDED)
		return ST_OUT_REDACT;
	return ST_OUT_NONE;
}

const char *st_detect_kind_name(uint16_t kind)
{
	switch (kind) {
	case ST_DET_CARD: return "card";
	case ST_DET_IBAN: return "iban";
	case ST_DET_SSN: return "ssn";
	case ST_DET_EMAIL: return "email";
	case ST_DET_PHONE: return "phone";
	case ST_DET_IP: return "ip";
	case ST_DET_AWS_KEY: return "aws_key";
	case ST_DET_GCP_KEY: return "gcp_key";
	case ST_DET_AZURE_KEY: return "azure_key";
	case ST_DET_GITHUB_TOKEN: return "github_token";
	case ST_DET_GITLAB_TOKEN: return "gitlab_token";
	case ST_DET_SLACK_TOKEN: return "slack_token";
	case ST_DET_JWT: return "jwt";
	case ST_DET_PEM_KEY: return "pem_key";
	case ST_DET_SECRET: return "secret";
	case ST_DET_PASSWORD: return "password";
	case ST_DET_CAT_HR: return "hr";
	case ST_DET_CAT_PERFORMANCE: return "performance";
	case ST_DET_CAT_RELATIONS: return "relations";
	case ST_DET_CAT_HEALTH: return "health";
	case ST_DET_CAT_TAX: return "tax";
	case ST_DET_CAT_PRIVATE: return "private";
	case ST_DET_PASTE: return "paste";
	case ST_DET_EXCLUDED: return "excluded";
	default: return "unknown";
	}
}

/* --- character helpers (ASCII only: the locale never matters) --------- */

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(int c) { return c >= 'a' && c <= 'z'; }
static inline bool is_alpha(int c) { return is_upper(c) || is_lower(c); }
static inline bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static inline bool is_word(int c) { return is_alnum(c) || c == '_'; }
static inline bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int lower(int c) { return is_upper(c) ? c + 32 : c; }
static inline bool is_space_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}
static inline int upper(int c) { return is_lower(c) ? c - 32 : c; }

static inline int at(const char *s, size_t len, size_t i)
{
	return i < len ? (unsigned char)s[i] : -1;
}
static inline int before(const char *s, size_t i)
{
	return i > 0 ? (unsigned char)s[i - 1] : -1;
}

/* Case-insensitive: does word occur in s[from, to)? */
static bool has_word(const char *s, size_t from, size_t to, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = from; i + wl <= to; i++) {
		size_t k = 0;
		while (k < wl && lower((unsigned char)s[i + k]) == word[k])
			k++;
		if (k == wl)
			return true;
	}
	return false;
}

/* Case-insensitive: does any of words (lower case, each opening with a
 * letter) occur in s[a - window, a)? One pass over the window; a position
 * is compared only when its letter opens one of the words. */
static bool has_any(const char *s, size_t a, size_t window,
		    const char *const *words)
{
	uint32_t firsts = 0;
	for (const char *const *w = words; *w; w++)
		firsts |= 1u << (((*w)[0] - 'a') & 31);
	size_t from = a > window ? a - window : 0;
	for (size_t i = from; i < a; i++) {
		int c = lower((unsigned char)s[i]);
		if (!is_lower(c) || !(firsts >> (c - 'a') & 1))
			continue;
		for (const char *const *w = words; *w; w++) {
			if ((*w)[0] != c)
				continue;
			size_t k = 1;
			while ((*w)[k] && i + k < a &&
			       lower((unsigned char)s[i + k]) == (*w)[k])
				k++;
			if (!(*w)[k])
				return true;
		}
	}
	return false;
}

/* The nearest word before a, skipping white space and : = # . ( ) [ ]
 * and a '№'-like prefix; lower-cased into w (empty if none). */
static void prev_word(const char *s, size_t a, char *w, size_t cap)
{
	size_t i = a, skipped = 0;
	while (i > 0 && skipped < 8 && s[i - 1] &&
	       strchr(" \t:=#.([)]'\"", s[i - 1]))
		i--, skipped++;
	size_t e = i;
	while (i > 0 && e - i < cap - 1 && is_alpha((unsigned char)s[i - 1]))
		i--;
	size_t n = 0;
	if (i > 0 && is_alpha((unsigned char)s[i - 1]))
		n = 0; /* longer than cap: not one of ours */
	else
		for (size_t k = i; k < e; k++)
			w[n++] = (char)lower((unsigned char)s[k]);
	w[n] = 0;
}

static bool word_in(const char *w, const char *const *list)
{
	if (!w[0])
		return false;
	for (; *list; list++)
		if ((*list)[0] == w[0] && !strcmp(w, *list))
			return true;
	return false;
}

/* The word that names a number: the nearest word before a, or, when that
 * is "no", "nr", "number", "id" ... ("order no. 123", "order_id=123"),
 * the word before it. */
static void naming_word(const char *s, size_t a, char *w, size_t cap)
{
	static const char *const filler[] = {"no", "nr", "number", "num", "id",
					     "nummer", "n", NULL};
	prev_word(s, a, w, cap);
	if (!word_in(w, filler))
		return;
	size_t i = a, skipped = 0;
	while (i > 0 && skipped < 8 && s[i - 1] &&
	       strchr(" \t:=#.([)]'\"", s[i - 1]))
		i--, skipped++;
	while (i > 0 && is_alpha((unsigned char)s[i - 1]))
		i--;
	if (i > 0 && (s[i - 1] == '_' || s[i - 1] == '-' || s[i - 1] == ' ' ||
		      s[i - 1] == '.'))
		i--;
	char w2[16];
	prev_word(s, i, w2, sizeof w2);
	if (w2[0])
		snprintf(w, cap, "%s", w2);
}

/* Words after which a number is an identifier: an order, an invoice, a
 * part. Used for cards and phones alike. */
static const char *const id_words[] = {
	"order", "invoice", "inv", "ref", "reference", "ticket", "tracking",
	"po", "sku", "serial", "case", "isbn", "issn", "ean", "upc", "gtin",
	"part", "item", "account", "acct", "patent", "build", "version",
	"batch", "lot", "transaction", "txn", "confirmation", "booking",
	"claim", "policy", "doi", "pr", "issue", "bug", "job", "run", "pid",
	"port", "tx", "shipment", "parcel", "awb", "container", "request",
	"req", "trace", "span", "session", "user", "customer", "cust",
	"member", "employee", "emp", "record", "row", NULL,
};

/* --- recording matches ------------------------------------------------ */

static void add(struct st_detector *d, unsigned kind, size_t a, size_t b)
{
	if (b <= a)
		return;
	if (d->nfound >= FOUND_MAX) {
		d->found_overflow = true;
		return;
	}
	d->found[d->nfound++] =
		(struct st_match){(uint16_t)kind, (uint32_t)a, (uint32_t)b};
}

/* Marks [a, b) as judged for a rule whose validator takes a whole region
 * (a digit run, an IPv6 token, a base64 run): later proposals inside it are
 * skipped. Returns false if it was judged already. */
static bool first_time(struct st_detector *d, enum rule r, size_t a, size_t b)
{
	if (d->done_to[r] != UINT32_MAX && a >= d->done_from[r] &&
	    b <= d->done_to[r])
		return false;
	d->done_from[r] = (uint32_t)a;
	d->done_to[r] = (uint32_t)b;
	return true;
}

/* --- payment cards ---------------------------------------------------- */

static bool luhn(const char *dg, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(dg[n - 1 - i] - '0');
		if (i & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

#define LEN(n) (1u << (n))
#define LENS(a, b) ((LEN((b) + 1) - 1) & ~(LEN(a) - 1))
/* Issuer prefixes (IIN ranges) and the lengths each network issues, from
 * the networks' published tables. */
static const struct {
	uint32_t lo, hi;
	uint8_t ndig;
	uint32_t lens;
} iins[] = {
	{4, 4, 1, LEN(13) | LEN(16) | LEN(19)},             /* Visa */
	{51, 55, 2, LEN(16)},                               /* Mastercard */
	{2221, 2720, 4, LEN(16)},                           /* Mastercard 2-series */
	{34, 34, 2, LEN(15)}, {37, 37, 2, LEN(15)},         /* Amex */
	{6011, 6011, 4, LENS(16, 19)},                      /* Discover */
	{644, 649, 3, LENS(16, 19)}, {65, 65, 2, LENS(16, 19)},
	{3528, 3589, 4, LENS(16, 19)},                      /* JCB */
	{300, 305, 3, LENS(14, 19)}, {3095, 3095, 4, LENS(14, 19)}, /* Diners */
	{36, 36, 2, LENS(14, 19)}, {38, 39, 2, LENS(14, 19)},
	{62, 62, 2, LENS(16, 19)}, {81, 81, 2, LENS(16, 19)}, /* UnionPay */
	{50, 50, 2, LENS(13, 19)}, {56, 58, 2, LENS(13, 19)}, /* Maestro */
	{6304, 6304, 4, LENS(13, 19)}, {6759, 6759, 4, LENS(13, 19)},
	{676, 676, 3, LENS(13, 19)},
	{2200, 2204, 4, LENS(16, 19)},                      /* Mir */
	{60, 60, 2, LEN(16)}, {508, 508, 3, LEN(16)},       /* RuPay */
	{9792, 9792, 4, LEN(16)},                           /* Troy */
};

static bool issuer_ok(const char *dg, size_t n)
{
	for (size_t i = 0; i < sizeof iins / sizeof *iins; i++) {
		uint32_t p = 0;
		for (size_t k = 0; k < iins[i].ndig; k++)
			p = p * 10 + (uint32_t)(dg[k] - '0');
		if (p >= iins[i].lo && p <= iins[i].hi && (iins[i].lens & LEN(n)))
			return true;
	}
	return false;
}

struct groups {
	size_t n;
	uint32_t a[CARD_GROUPS_MAX], b[CARD_GROUPS_MAX];
	char sep[CARD_GROUPS_MAX]; /* separator after group i */
};

/* Groups i..j (inclusive) as a card: 13-19 digits, one separator kind, a
 * printed grouping (none; 4-4-4-x; 4-4-4-4-x; Amex 4-6-5; Diners 4-6-4),
 * a known issuer with that length, and Luhn. */
static bool card_ok(const char *s, const struct groups *g, size_t i, size_t j)
{
	char dg[24];
	size_t n = 0;
	for (size_t k = i; k <= j; k++) {
		size_t gl = g->b[k] - g->a[k];
		if (n + gl > 19)
			return false;
		memcpy(dg + n, s + g->a[k], gl);
		n += gl;
	}
	if (n < 13)
		return false;
	if (i != j) {
		for (size_t k = i; k < j; k++)
			if (g->sep[k] != g->sep[i])
				return false;
		size_t ng = j - i + 1, l[CARD_GROUPS_MAX];
		for (size_t k = 0; k < ng; k++)
			l[k] = g->b[i + k] - g->a[i + k];
		bool fours = ng >= 3 && ng <= 5;
		for (size_t k = 0; fours && k + 1 < ng; k++)
			fours = l[k] == 4;
		fours = fours && l[ng - 1] >= 1 && l[ng - 1] <= 4;
		bool amex = ng == 3 && l[0] == 4 && l[1] == 6 &&
			    (l[2] == 5 || l[2] == 4);
		if (!fours && !amex)
			return false;
	}
	return issuer_ok(dg, n) && luhn(dg, n);
}

static void v_card(struct st_detector *d, const char *s, size_t len,
		   size_t a, size_t b)
{
	(void)b;
	/* the whole run of digit groups around the proposal */
	size_t x = a;
	while (x > 0 && (is_digit(before(s, x)) ||
			 ((before(s, x) == ' ' || before(s, x) == '-') && x >= 2 &&
			  is_digit(before(s, x - 1)) && is_digit(at(s, len, x)))))
		x--;
	struct groups g = {0};
	size_t i = x;
	for (;;) {
		if (g.n == CARD_GROUPS_MAX) {
			/* a table of numbers, not a card: skip the rest of it */
			while (is_digit(at(s, len, i)) || at(s, len, i) == ' ' ||
			       at(s, len, i) == '-')
				i++;
			first_time(d, R_CARD, x, i);
			return;
		}
		g.a[g.n] = (uint32_t)i;
		while (is_digit(at(s, len, i)))
			i++;
		g.b[g.n] = (uint32_t)i;
		g.sep[g.n] = 0;
		int sc = at(s, len, i);
		if ((sc == ' ' || sc == '-') && is_digit(at(s, len, i + 1))) {
			g.sep[g.n++] = (char)sc;
			i++;
			continue;
		}
		g.n++;
		break;
	}
	if (!first_time(d, R_CARD, x, i))
		return;
	int c = before(s, x);
	if (is_word(c) || c == '+' || c == '$' || c == '#' ||
	    ((c == '.' || c == ',' || c == '/') && is_digit(before(s, x - 1))))
		return;
	int e = at(s, len, i);
	if (is_word(e) || ((e == '.' || e == ',') && is_digit(at(s, len, i + 1))))
		return; /* a decimal or a longer code */
	/* "order_id=3798...": Luhn passes one number in ten; unless the text
	 * just said card ("Card on the invoice: 4508 ...") */
	static const char *const card_ctx[] = {"card", "visa", "mastercard",
					       "amex", "credit", "debit", "cc",
					       "kreditkarte", NULL};
	char w[16];
	naming_word(s, x, w, sizeof w);
	if (word_in(w, id_words) && !has_any(s, x, 32, card_ctx))
		return;
	/* the whole run, else the longest prefix (a card then CVV or
	 * expiry), else the longest suffix; a card in the middle of a
	 * longer run of groups is not reported */
	size_t pj = SIZE_MAX;
	for (size_t j = g.n; j-- > 0;)
		if (card_ok(s, &g, 0, j)) {
			add(d, ST_DET_CARD, g.a[0], g.b[j]);
			pj = j;
			break;
		}
	if (pj == g.n - 1)
		return;
	for (size_t k = (pj == SIZE_MAX ? 1 : pj + 1); k < g.n; k++)
		if (card_ok(s, &g, k, g.n - 1)) {
			add(d, ST_DET_CARD, g.a[k], g.b[g.n - 1]);
			break;
		}
}

bool st_detect_luhn(const char *digits, size_t n)
{
	if (!digits || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)digits[i]))
			return false;
	return luhn(digits, n);
}

/* --- IBAN ------------------------------------------------------------- */

/* Country code and IBAN length, from the SWIFT IBAN registry, as a table
 * indexed by the two letters. */
#define IBAN_LEN(a, b, n) [(a) - 'A'][(b) - 'A'] = (n)
static const uint8_t iban_len_of[26][26] = {
	IBAN_LEN('A', 'D', 24), IBAN_LEN('A', 'E', 23), IBAN_LEN('A', 'L', 28),
	IBAN_LEN('A', 'T', 20), IBAN_LEN('A', 'Z', 28), IBAN_LEN('B', 'A', 20),
	IBAN_LEN('B', 'E', 16), IBAN_LEN('B', 'G', 22), IBAN_LEN('B', 'H', 22),
	IBAN_LEN('B', 'I', 27), IBAN_LEN('B', 'R', 29), IBAN_LEN('B', 'Y', 28),
	IBAN_LEN('C', 'H', 21), IBAN_LEN('C', 'R', 22), IBAN_LEN('C', 'Y', 28),
	IBAN_LEN('C', 'Z', 24), IBAN_LEN('D', 'E', 22), IBAN_LEN('D', 'J', 27),
	IBAN_LEN('D', 'K', 18), IBAN_LEN('D', 'O', 28), IBAN_LEN('E', 'E', 20),
	IBAN_LEN('E', 'G', 29), IBAN_LEN('E', 'S', 24), IBAN_LEN('F', 'I', 18),
	IBAN_LEN('F', 'K', 18), IBAN_LEN('F', 'O', 18), IBAN_LEN('F', 'R', 27),
	IBAN_LEN('G', 'B', 22), IBAN_LEN('G', 'E', 22), IBAN_LEN('G', 'I', 23),
	IBAN_LEN('G', 'L', 18), IBAN_LEN('G', 'R', 27), IBAN_LEN('G', 'T', 28),
	IBAN_LEN('H', 'N', 28), IBAN_LEN('H', 'R', 21), IBAN_LEN('H', 'U', 28),
	IBAN_LEN('I', 'E', 22), IBAN_LEN('I', 'L', 23), IBAN_LEN('I', 'Q', 23),
	IBAN_LEN('I', 'S', 26), IBAN_LEN('I', 'T', 27), IBAN_LEN('J', 'O', 30),
	IBAN_LEN('K', 'W', 30), IBAN_LEN('K', 'Z', 20), IBAN_LEN('L', 'B', 28),
	IBAN_LEN('L', 'C', 32), IBAN_LEN('L', 'I', 21), IBAN_LEN('L', 'T', 20),
	IBAN_LEN('L', 'U', 20), IBAN_LEN('L', 'V', 21), IBAN_LEN('L', 'Y', 25),
	IBAN_LEN('M', 'C', 27), IBAN_LEN('M', 'D', 24), IBAN_LEN('M', 'E', 22),
	IBAN_LEN('M', 'K', 19), IBAN_LEN('M', 'N', 20), IBAN_LEN('M', 'R', 27),
	IBAN_LEN('M', 'T', 31), IBAN_LEN('M', 'U', 30), IBAN_LEN('N', 'I', 28),
	IBAN_LEN('N', 'L', 18), IBAN_LEN('N', 'O', 15), IBAN_LEN('O', 'M', 23),
	IBAN_LEN('P', 'K', 24), IBAN_LEN('P', 'L', 28), IBAN_LEN('P', 'S', 29),
	IBAN_LEN('P', 'T', 25), IBAN_LEN('Q', 'A', 29), IBAN_LEN('R', 'O', 24),
	IBAN_LEN('R', 'S', 22), IBAN_LEN('R', 'U', 33), IBAN_LEN('S', 'A', 24),
	IBAN_LEN('S', 'C', 31), IBAN_LEN('S', 'D', 18), IBAN_LEN('S', 'E', 24),
	IBAN_LEN('S', 'I', 19), IBAN_LEN('S', 'K', 24), IBAN_LEN('S', 'M', 27),
	IBAN_LEN('S', 'O', 23), IBAN_LEN('S', 'T', 25), IBAN_LEN('S', 'V', 28),
	IBAN_LEN('T', 'L', 23), IBAN_LEN('T', 'N', 24), IBAN_LEN('T', 'R', 26),
	IBAN_LEN('U', 'A', 29), IBAN_LEN('V', 'A', 22), IBAN_LEN('V', 'G', 24),
	IBAN_LEN('X', 'K', 20), IBAN_LEN('Y', 'E', 30),
};

static unsigned iban_length(int c0, int c1)
{
	if (!is_upper(c0) || !is_upper(c1))
		return 0;
	return iban_len_of[c0 - 'A'][c1 - 'A'];
}

/* ISO 13616 check: move the first four characters to the end, letters to
 * 10..35, the number mod 97 must be 1. */
static bool mod97(const char *c, size_t n)
{
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		int ch = c[(k + 4) % n];
		if (is_digit(ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else if (is_upper(ch))
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
		else
			return false;
	}
	return rem == 1;
}

/* An IBAN starting at p, printed without spaces or in groups of four;
 * returns its end or 0. */
static size_t iban_at(const char *s, size_t len, size_t p)
{
	if (!is_digit(at(s, len, p + 2)) || !is_digit(at(s, len, p + 3)) ||
	    is_word(before(s, p)))
		return 0;
	unsigned want = iban_length(upper(at(s, len, p)), upper(at(s, len, p + 1)));
	if (!want)
		return 0;
	bool spaced = at(s, len, p + 4) == ' ';
	char c[40];
	size_t i = p, k = 0;
	bool digit = false;
	while (k < want) {
		if (spaced && k > 0 && k % 4 == 0) {
			if (at(s, len, i) != ' ')
				return 0;
			i++;
		}
		int ch = at(s, len, i);
		if (!is_alnum(ch))
			return 0;
		c[k++] = (char)upper(ch);
		digit |= k > 4 && is_digit(ch);
		i++;
	}
	if (is_alnum(at(s, len, i)) || !digit)
		return 0;
	int check = (c[2] - '0') * 10 + (c[3] - '0');
	if (check < 2 || check > 98)
		return 0;
	return mod97(c, want) ? i : 0;
}

bool st_detect_iban_valid(const char *s, size_t len)
{
	if (!s || len < 4)
		return false;
	size_t e = iban_at(s, len, 0);
	return e == len;
}

static void v_iban(struct st_detector *d, const char *s, size_t len,
		   size_t a, size_t b)
{
	/* the leftmost start of a proposal may hide a later IBAN start */
	for (size_t p = a; p + 4 <= b; p++) {
		if (!is_alpha(at(s, len, p)))
			continue;
		size_t e = iban_at(s, len, p);
		if (e) {
			add(d, ST_DET_IBAN, p, e);
			p = e;
		}
	}
}

/* --- US SSN ----------------------------------------------------------- */

static const char *const ssn_ctx[] = {
	"ssn", "social security", "soc sec", "soc. sec", "ss#", "ss #",
	"ss no", "ss number", NULL,
};

/* Rules of the SSA: area 000, 666 and 900-999 are never issued, nor group
 * 00 or serial 0000; 078-05-1120 (the Woolworth wallet card) and
 * 219-09-9999 (an SSA advertisement) were published and voided. */
bool st_detect_ssn_valid(const char dg[9])
{
	for (int i = 0; i < 9; i++)
		if (!is_digit((unsigned char)dg[i]))
			return false;
	unsigned area = (unsigned)((dg[0] - '0') * 100 + (dg[1] - '0') * 10 +
				   (dg[2] - '0'));
	unsigned group = (unsigned)((dg[3] - '0') * 10 + (dg[4] - '0'));
	unsigned serial = (unsigned)((dg[5] - '0') * 1000 + (dg[6] - '0') * 100 +
				     (dg[7] - '0') * 10 + (dg[8] - '0'));
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return false;
	return memcmp(dg, "078051120", 9) && memcmp(dg, "219099999", 9);
}

static void v_ssn(struct st_detector *d, const char *s, size_t len, size_t a,
		  size_t b, enum rule r)
{
	int c = before(s, a), e = at(s, len, b);
	if (is_word(c) || is_word(e) || c == '-' || c == '/' || c == '.' ||
	    c == '+' || c == '#' || c == '$')
		return;
	if ((e == '-' || e == '.' || e == '/' || e == ',') &&
	    is_digit(at(s, len, b + 1)))
		return;
	char dg[9];
	size_t n = 0;
	for (size_t i = a; i < b && n < 9; i++)
		if (is_digit((unsigned char)s[i]))
			dg[n++] = s[i];
	if (n != 9 || !st_detect_ssn_valid(dg))
		return;
	/* nine bare digits, or a spaced form that opens like a national phone
	 * number (0...), are an SSN only where the text says so */
	if ((r == R_SSN_BARE || (r == R_SSN_SPACE && dg[0] == '0')) &&
	    !has_any(s, a, SSN_CTX_WINDOW, ssn_ctx))
		return;
	add(d, ST_DET_SSN, a, b);
}

/* --- email ------------------------------------------------------------ */

static bool local_char(int c)
{
	return is_alnum(c) || (c && strchr("._%+-'", c));
}

static void v_email(struct st_detector *d, const char *s, size_t len,
		    size_t a, size_t b)
{
	size_t x = a;
	while (x > 0 && a - x < EMAIL_LOCAL_MAX && local_char(before(s, x)))
		x--;
	if (x > 0 && local_char(before(s, x)))
		return; /* local part over 64 bytes */
	while (x < a && (s[x] == '.' || s[x] == '-' || s[x] == '\'' ||
			 s[x] == '+'))
		x++;
	if (x == a || s[a - 1] == '.')
		return;
	/* user@host that is not a mailbox: URL userinfo (scheme://user@),
	 * an scp or git remote (user@host:path), an ssh login */
	if (x >= 3 && !memcmp(s + x - 3, "://", 3))
		return;
	if (at(s, len, b) == ':' && at(s, len, b + 1) > ' ')
		return;
	static const char *const login_words[] = {"ssh", "scp", "sftp", "rsync",
						  "mosh", "telnet", "ftp", NULL};
	char w[16];
	prev_word(s, x, w, sizeof w);
	if (word_in(w, login_words))
		return;
	for (size_t i = x; i + 1 < a; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return;
	/* domain labels: not empty, no '-' at either end */
	size_t l = a + 1;
	for (size_t i = a + 1; i <= b; i++) {
		if (i == b || s[i] == '.') {
			if (i == l || s[l] == '-' || s[i - 1] == '-')
				return;
			l = i + 1;
		}
	}
	/* "icon@2x.png": a retina suffix on a file name */
	size_t i = a + 1;
	while (i < b && is_digit((unsigned char)s[i]))
		i++;
	if (i > a + 1 && i + 1 < b && (s[i] == 'x' || s[i] == 'X') &&
	    s[i + 1] == '.')
		return;
	add(d, ST_DET_EMAIL, x, b);
}

/* --- phone numbers ---------------------------------------------------- */

/* Is a inside a code printed in groups of four that opens with a
 * country code and check digits ("NL79 HWTP 0455 1583 93", a mistyped
 * IBAN): its digit groups are not a phone number. */
static bool inside_grouped_code(const char *s, size_t a)
{
	size_t i = a;
	for (int groups = 0; groups < 9 && i >= 5 && s[i - 1] == ' '; groups++) {
		size_t g = i - 1;
		size_t k = 0;
		while (k < 4 && g > 0 && is_alnum((unsigned char)s[g - 1]))
			g--, k++;
		if (k != 4 || (g > 0 && !strchr(" \t:", s[g - 1])))
			return false;
		if (is_upper((unsigned char)s[g]) && is_upper((unsigned char)s[g + 1]) &&
		    is_digit((unsigned char)s[g + 2]) && is_digit((unsigned char)s[g + 3]))
			return true;
		i = g;
	}
	return false;
}

static const char *const phone_ctx[] = {
	"tel", "phone", "call", "mobile", "mob.", "cell", "fax", "handy",
	"whatsapp", "sms", "text me", "ring", "dial", "reach me", "contact",
	"telefon", "hotline", "number:", "nummer", NULL,
};

static bool phone_bounded(const char *s, size_t len, size_t a, size_t b)
{
	int c = before(s, a), e = at(s, len, b);
	/* the tail of a longer run of digit groups (an IBAN, a card) */
	if ((c == ' ' || c == '-') && is_digit(before(s, a - 1)))
		return false;
	if (is_word(c) || (c > 0 && strchr("./-#$+*=", c) && s[a] != '+' &&
			   s[a] != '('))
		return false;
	if (s[a] == '+' && (is_word(c) || c == '+' || c == ')'))
		return false;
	if (is_word(e))
		return false;
	if (e > 0 && strchr(".-/:,", e) && is_digit(at(s, len, b + 1)))
		return false;
	char w[16];
	naming_word(s, a, w, sizeof w);
	if (word_in(w, id_words))
		return false;
	return !inside_grouped_code(s, a);
}

/* Parses digit groups from p up to e: single separators among " .-/"
 * (the one after the area code may differ from the others, which must
 * agree; '/' only there when slash_first) and "(...)" groups. Returns the
 * end of the longest prefix with dmin..dmax digits, or 0. A "(0)" after
 * the country code (+44 (0)20 ..., +49 (0)30 ...) is not counted. */
static size_t phone_parse(const char *s, size_t len, size_t p, size_t e,
			  unsigned dmin, unsigned dmax, bool slash_first)
{
	unsigned nd = 0, ngroups = 0, nsep = 0;
	int sep = 0;
	size_t best = 0, i = p;
	if (e > len)
		e = len;
	while (i < e) {
		int c = (unsigned char)s[i];
		if (c == '(') {
			size_t j = i + 1;
			unsigned k = 0;
			while (j < e && is_digit(at(s, len, j)))
				j++, k++;
			if (j >= e || s[j] != ')' || k == 0 || k > 5)
				break;
			if (!(k == 1 && s[i + 1] == '0' && ngroups > 0))
				nd += k;
			ngroups++;
			i = j + 1;
			if (i < e && s[i] == ' ')
				i++;
			continue;
		}
		if (!is_digit(c))
			break;
		while (i < e && is_digit(at(s, len, i)))
			i++, nd++;
		ngroups++;
		if (nd > dmax)
			break;
		if (nd >= dmin)
			best = i;
		int n = at(s, len, i);
		if (i + 1 >= e || !(n == ' ' || n == '.' || n == '-' || n == '/') ||
		    !(is_digit(at(s, len, i + 1)) || at(s, len, i + 1) == '('))
			break;
		if (n == '/' && !(slash_first && nsep == 0))
			break;
		if (nsep == 1)
			sep = n;
		else if (nsep > 1 && n != sep)
			break;
		nsep++;
		i++;
	}
	return best;
}

static void v_phone(struct st_detector *d, const char *s, size_t len,
		    size_t a, size_t b, enum rule r)
{
	size_t e = 0;
	char dg[24];
	size_t n = 0;
	switch (r) {
	case R_PHONE_INTL:
		/* +CC or 00CC, then 8-15 digits in all (E.164) */
		if (s[a] == '+') {
			e = phone_parse(s, len, a + 1, b, 8, 15, false);
			break;
		}
		e = phone_parse(s, len, a + 2, b, 8, 15, false);
		/* 00 then bare digits is as likely an id: ask for a separator
		 * or words about phoning */
		if (e) {
			bool sep = false;
			for (size_t i = a; i < e; i++)
				sep |= !is_digit((unsigned char)s[i]);
			if (!sep && !has_any(s, a, PHONE_CTX_WINDOW, phone_ctx))
				return;
		}
		break;
	case R_PHONE_NANP:
	case R_PHONE_NANP_SPACE: {
		for (size_t i = a; i < b && n < sizeof dg; i++)
			if (is_digit((unsigned char)s[i]))
				dg[n++] = s[i];
		size_t o = n == 11 ? 1 : 0;
		if (n < 10 || n > 11 || (n == 11 && dg[0] != '1'))
			return;
		if (dg[o] < '2')
			return; /* NANP area codes start 2-9 */
		if (r == R_PHONE_NANP_SPACE && dg[o + 3] < '2')
			return; /* and so do exchanges; kept strict unpunctuated */
		e = b;
		break;
	}
	case R_PHONE_TRUNK: {
		e = phone_parse(s, len, a, b, 9, 12, true);
		if (!e)
			return;
		/* ddd-dd-dddd is the SSN shape: the SSN rules decide */
		if (e - a == 11 && s[a + 3] == '-' && s[a + 6] == '-')
			return;
		/* "05/2024 1234": month/year, not an area code */
		size_t sl = a;
		while (sl < e && s[sl] != '/')
			sl++;
		if (sl < e && sl - a <= 2 && e - sl > 4 &&
		    ((s[sl + 1] == '1' && s[sl + 2] == '9') ||
		     (s[sl + 1] == '2' && s[sl + 2] == '0')))
			return;
		break;
	}
	case R_PHONE_CTX:
		if (!has_any(s, a, PHONE_CTX_WINDOW, phone_ctx))
			return;
		e = b;
		break;
	default:
		return;
	}
	if (!e || !phone_bounded(s, len, a, e))
		return;
	add(d, ST_DET_PHONE, a, e);
}

/* --- IP addresses ----------------------------------------------------- */

/* A dotted quad right after one of these is a version or a section. */
static const char *const not_ip_words[] = {
	"version", "ver", "v", "vers", "release", "rel", "build", "firmware",
	"fw", "rev", "revision", "patch", "upgrade", "downgrade", "bump", "tag",
	"sdk", "oid", "mib", "section", "sec", "chapter", "clause", "paragraph",
	"para", "article", "art", "figure", "fig", "table", "step", "rule",
	"item", "appendix", "annex", "requirement", "req", "point", NULL,
};

static void v_ipv4(struct st_detector *d, const char *s, size_t len, size_t a,
		   size_t b)
{
	int c = before(s, a), e = at(s, len, b);
	if (c == '.' || is_word(c))
		return;
	if (e == '.' && is_digit(at(s, len, b + 1)))
		return; /* 1.3.6.1.4.1: an OID or a longer version */
	if (e == '-' && is_alpha(at(s, len, b + 1))) {
		static const char *const pre[] = {"alpha", "beta", "rc", "snapshot",
						  "dev", "pre", "final", NULL};
		size_t to = len - b > 10 ? b + 10 : len;
		for (const char *const *p = pre; *p; p++)
			if (has_word(s, b + 1, to, *p))
				return; /* 1.2.3.4-beta: a version */
	}
	unsigned oct = 0, nd = 0, parts = 0;
	for (size_t i = a; i <= b; i++) {
		if (i == b || s[i] == '.') {
			if (nd == 0 || oct > 255 || (nd > 1 && s[i - nd] == '0'))
				return;
			parts++;
			oct = 0, nd = 0;
			continue;
		}
		oct = oct * 10 + (unsigned)(s[i] - '0');
		nd++;
	}
	if (parts != 4)
		return;
	char w[16];
	prev_word(s, a, w, sizeof w);
	if (word_in(w, not_ip_words))
		return;
	/* the "any" and broadcast addresses name no host */
	if ((b - a == 7 && !memcmp(s + a, "0.0.0.0", 7)) ||
	    (b - a == 15 && !memcmp(s + a, "255.255.255.255", 15)))
		return;
	add(d, ST_DET_IP, a, b);
}

static bool v6_char(int c) { return is_hex(c) || c == ':' || c == '.'; }

static void v_ipv6(struct st_detector *d, const char *s, size_t len, size_t to)
{
	/* the whole token of hex digits, colons and dots around the colons */
	size_t x = to, y = to;
	while (x > 0 && v6_char(before(s, x)))
		x--;
	while (y < len && v6_char(at(s, len, y)))
		y++;
	if (!first_time(d, R_IPV6, x, y))
		return;
	if (is_word(before(s, x)) || (y < len && is_word(at(s, len, y)) &&
				      at(s, len, y) != '%'))
		return;
	while (y > x && s[y - 1] == '.')
		y--;
	/* "fe80::1:" at the end of a clause: drop one colon unless "::" */
	if (y - x > 2 && s[y - 1] == ':' && s[y - 2] != ':')
		y--;
	if (y - x < 3 || y - x > IPV6_TEXT_MAX)
		return;
	char buf[IPV6_TEXT_MAX + 1];
	memcpy(buf, s + x, y - x);
	buf[y - x] = 0;
	/* "1::2" in a slice and "a::b" in code are valid addresses on paper;
	 * ask for a digit and three groups or one of three hex digits */
	bool digit = false;
	unsigned colons = 0, groups = 0, glen = 0, gmax = 0;
	for (size_t i = 0; i <= y - x; i++) {
		int ch = (unsigned char)buf[i];
		if (is_hex(ch)) {
			glen++;
			digit |= is_digit(ch);
			continue;
		}
		colons += ch == ':';
		groups += glen > 0;
		gmax = glen > gmax ? glen : gmax;
		glen = 0;
	}
	if (!digit || colons < 2 || (groups < 3 && gmax < 3))
		return;
	struct in6_addr x6;
	if (inet_pton(AF_INET6, buf, &x6) != 1) {
		/* an unbracketed address with a port, "2001:db8::1:8080"?
		 * (ambiguous by the RFC; reported without the last group) */
		char *last = strrchr(buf, ':');
		if (!last || last == buf || last[-1] == ':')
			return;
		*last = 0;
		if (inet_pton(AF_INET6, buf, &x6) != 1)
			return;
		y = x + (size_t)(last - buf);
	}
	add(d, ST_DET_IP, x, y);
}

/* --- credentials ------------------------------------------------------ */

static double entropy(const char *s, size_t n)
{
	unsigned cnt[256] = {0};
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)s[i]]++;
	double h = 0;
	for (int c = 0; c < 256; c++)
		if (cnt[c]) {
			double p = (double)cnt[c] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

double st_detect_entropy(const char *s, size_t n)
{
	return n ? entropy(s, n) : 0.0;
}

/* A vendor-prefixed token whose body is one character repeated or a
 * placeholder ("ghp_xxxxxxxx...", "AKIA0000...") is documentation. */
static bool placeholder(const char *s, size_t n)
{
	return entropy(s, n) < 2.5;
}

static bool token_char(int c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

static void v_prefixed(struct st_detector *d, unsigned kind, const char *s,
		       size_t len, size_t a, size_t b)
{
	/* patterns with an open end already report the whole token, so a
	 * token character after the end means a longer, other token */
	if (is_word(before(s, a)) || token_char(at(s, len, b)))
		return;
	/* the body after the vendor prefix */
	size_t p = a;
	while (p < b && (is_upper((unsigned char)s[p]) || is_lower((unsigned char)s[p])) &&
	       p - a < 12)
		p++;
	while (p < b && (s[p] == '_' || s[p] == '-' || s[p] == '.'))
		p++;
	if (b - p >= 8 && placeholder(s + p, b - p))
		return;
	if (kind == ST_DET_AWS_KEY && b - a == 20 && placeholder(s + a + 4, 16))
		return;
	add(d, kind, a, b);
}

static void v_value(struct st_detector *d, unsigned kind, const char *s,
		    size_t a, size_t b)
{
	/* the value after '=' */
	size_t v = a;
	while (v < b && s[v] != '=')
		v++;
	if (v < b)
		v++;
	if (b - v < 8 || placeholder(s + v, b - v))
		return;
	add(d, kind, v, b);
}

static void v_url_pass(struct st_detector *d, const char *s, size_t a,
		       size_t b)
{
	const char *sl = memmem(s + a, b - a, "://", 3);
	if (!sl)
		return;
	const char *colon = memchr(sl + 3, ':', (size_t)(s + b - (sl + 3)));
	if (!colon)
		return;
	size_t v = (size_t)(colon + 1 - s), e = b - 1; /* e: the '@' */
	if (e <= v)
		return;
	/* documentation and templates: user:password@, ${DB_PASS}, <pw> */
	static const char *const dummy[] = {"password", "passwd", "pass", "pwd",
					    "secret", "changeme", "example",
					    "xxx", "xxxx", "****", "...", NULL};
	char w[16];
	size_t n = e - v;
	if (strchr("$<{%*[", s[v]))
		return;
	if (n < sizeof w) {
		for (size_t i = 0; i < n; i++)
			w[i] = (char)lower((unsigned char)s[v + i]);
		w[n] = 0;
		if (word_in(w, dummy))
			return;
	}
	add(d, ST_DET_SECRET, v, e);
}

static void v_aws_secret(struct st_detector *d, const char *s, size_t len,
			 size_t b)
{
	int e = at(s, len, b);
	if (is_alnum(e) || e == '/' || e == '+')
		return;
	if (placeholder(s + b - 40, 40))
		return;
	add(d, ST_DET_AWS_KEY, b - 40, b);
}

static int b64url_val(int c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decodes base64url (padding and trailing bits tolerated) into out;
 * returns the decoded length or -1. */
static long b64url_decode(const char *s, size_t n, char *out, size_t cap)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return (long)o;
}

static bool jwt_header_ok(const char *s, size_t n)
{
	char hdr[JWT_HEADER_MAX];
	if (n > JWT_HEADER_MAX)
		return false;
	long hl = b64url_decode(s, n, hdr, sizeof hdr);
	if (hl < 2)
		return false;
	size_t i = 0;
	while (i < (size_t)hl && (hdr[i] == ' ' || hdr[i] == '\n'))
		i++;
	if (i >= (size_t)hl || hdr[i] != '{')
		return false;
	for (size_t k = i; k + 5 <= (size_t)hl; k++)
		if (!memcmp(hdr + k, "\"alg\"", 5))
			return true;
	return false;
}

static void v_jwt(struct st_detector *d, const char *s, size_t len, size_t a,
		  size_t b)
{
	int c = before(s, a);
	if (token_char(c) || c == '.' || token_char(at(s, len, b)))
		return;
	const char *dot = memchr(s + a, '.', b - a);
	if (!dot || !jwt_header_ok(s + a, (size_t)(dot - (s + a))))
		return;
	add(d, ST_DET_JWT, a, b);
}

static void v_pem(struct st_detector *d, const char *s, size_t len, size_t a,
		  size_t b)
{
	/* through the END line when the text holds it */
	size_t lim = len - b > PEM_SPAN_MAX ? b + PEM_SPAN_MAX : len;
	const char *end = memmem(s + b, lim - b, "-----END ", 9);
	if (end) {
		const char *close = memmem(end + 9, (size_t)(s + lim - (end + 9)),
					   "-----", 5);
		if (close)
			b = (size_t)(close + 5 - s);
	}
	add(d, ST_DET_PEM_KEY, a, b);
}

/* --- high-entropy runs ------------------------------------------------ */

/* First percentile of the Shannon entropy (bits per character) of uniformly
 * random strings of length n over 16 (hex), 36 (one case and digits) and
 * 62 (both cases and digits) symbols, simulated (20,000 draws per point);
 * linear in between, flat after 256. A random token is below its line 1%
 * of the time. */
static const unsigned thr_n[] = {20, 24, 28, 32, 40, 48, 64, 96, 128, 256};
static const double thr_h[3][10] = {
	{2.902, 3.042, 3.169, 3.262, 3.411, 3.504, 3.627, 3.759, 3.822, 3.913},
	{3.384, 3.605, 3.771, 3.903, 4.106, 4.256, 4.470, 4.699, 4.823, 5.003},
	{3.646, 3.855, 4.039, 4.203, 4.446, 4.631, 4.902, 5.224, 5.398, 5.683},
};

static double entropy_floor(size_t n, int alphabet)
{
	const double *t = thr_h[alphabet];
	size_t last = sizeof thr_n / sizeof *thr_n - 1;
	if (n <= thr_n[0])
		return t[0];
	if (n >= thr_n[last])
		return t[last];
	size_t i = 0;
	while (thr_n[i + 1] < n)
		i++;
	return t[i] + (t[i + 1] - t[i]) * (double)(n - thr_n[i]) /
			      (double)(thr_n[i + 1] - thr_n[i]);
}

/* Word-like: the letter pairs inside its words (split at case changes and
 * digits, "getHTTPResponse" -> get HTTP Response) are common English
 * pairs far more often than random letters would be. */
static bool wordlike(const struct st_detector *d, const char *s, size_t n,
		     double z)
{
	unsigned tot = 0, hit = 0;
	for (size_t i = 1; i < n; i++) {
		int p = (unsigned char)s[i - 1], c = (unsigned char)s[i];
		bool same = (is_lower(p) && is_lower(c)) ||
			    (is_upper(p) && is_upper(c) &&
			     !(i + 1 < n && is_lower((unsigned char)s[i + 1]))) ||
			    (is_upper(p) && is_lower(c));
		if (!same)
			continue;
		tot++;
		hit += (d->bg[lower(p) - 'a'] >> (lower(c) - 'a')) & 1u;
	}
	return (double)hit > BIGRAM_P0 * tot +
				     z * sqrt(BIGRAM_P0 * (1 - BIGRAM_P0) * tot);
}

/* A ULID: 26 characters of Crockford base32 (no I L O U), upper case,
 * opening with a millisecond time (0-7): an identifier, not a secret. */
static bool is_ulid(const char *s, size_t n)
{
	if (n != 26 || s[0] < '0' || s[0] > '7')
		return false;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (!(is_digit(c) || is_upper(c)) || c == 'I' || c == 'L' ||
		    c == 'O' || c == 'U')
			return false;
	}
	return true;
}

/* A cloud resource id: a lower-case type, '-', 8 to 17 hex digits
 * ("subnet-0bb1c79de3", "vpc-0a1b2c3d4e5f67890", "i-1234567890abcdef0"),
 * as AWS documents them (with their "EXAMPLE" suffix). */
static bool is_resource_id(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < 12 && is_lower((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != '-')
		return false;
	size_t h = ++i;
	while (i < n && (is_digit((unsigned char)s[i]) ||
			 (s[i] >= 'a' && s[i] <= 'f')))
		i++;
	if (i - h < 8 || i - h > 17)
		return false;
	return i == n || (n - i == 7 && !memcmp(s + i, "EXAMPLE", 7));
}

/* The shape of an IBAN (a known country, two check digits, its length)
 * that fails mod 97 is a mistyped IBAN, not a secret. */
static bool iban_shaped(const char *s, size_t n)
{
	return n >= 15 && is_upper((unsigned char)s[0]) &&
	       is_upper((unsigned char)s[1]) && is_digit((unsigned char)s[2]) &&
	       is_digit((unsigned char)s[3]) && iban_length(s[0], s[1]) == n;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
			return false;
	}
	return true;
}

static const char *const secret_keys[] = {
	"key", "secret", "token", "passw", "pwd", "auth", "credential",
	"bearer", "signature", "private", "session", "cookie", "apikey", NULL,
};
static const char *const secret_words[] = {
	"bearer", "token", "key", "secret", "apikey", "password", "passwd",
	"pwd", NULL,
};
static const char *const hash_ctx[] = {
	"sha", "md5", "hash", "digest", "checksum", "commit", "integrity",
	"etag", "sum", "fingerprint", "blake", NULL,
};
static const char *const hash_prefix[] = {
	"sha1-", "sha256-", "sha384-", "sha512-", "md5-", NULL,
};

/* Is the run at [x, y) the value of a key, token, secret or password:
 * "api_key = ...", "token: ...", "Authorization: Bearer ...". */
static bool secret_context(const char *s, size_t x)
{
	size_t i = x;
	while (i > 0 && x - i < 4 && s[i - 1] && strchr(" \t\"'`", s[i - 1]))
		i--;
	int c = before(s, i);
	if (c == '=' || c == ':' || c == '>')
		return has_any(s, i, SECRET_CTX_WINDOW, secret_keys);
	char w[16];
	prev_word(s, x, w, sizeof w);
	return word_in(w, secret_words);
}

/* The entropy rule (documented in docs and tests): a run of >= 20
 * characters of [A-Za-z0-9+/_-] (plus '=' padding) is a secret when
 *  - it is the value of a key/token/secret/password (secret_context):
 *    then any such run with entropy >= 3 bits that is not a word-like
 *    identifier (UUIDs and hex digests included); or, alone,
 *  - it is not a path or identifier: at most 1 + n/16 separators (- _ / +);
 *  - not digits only; not a git object name (exactly 40 or 64 hex digits)
 *    or a UUID; not after a hash word (sha, md5, digest, commit, ...), a
 *    "sha512-" integrity prefix, "ssh-rsa AAAA..." or "base64,";
 *  - hex: entropy at or above the 1st percentile of random hex that long;
 *  - mixed case: has a digit (or a separator), entropy >= the 1st
 *    percentile of random base62; one case: >= 2 digits and >= n/12 of
 *    them, entropy >= the 1st percentile of random base36;
 *  - and not word-like (wordlike()). */
/* Shannon entropy of s[0..n) from the detector's table of c * log2(c):
 * H = (n log2 n - sum c log2 c) / n; no log2 per call. */
static double entropy_fast(const struct st_detector *d, const char *s,
			   size_t n)
{
	uint16_t cnt[256];
	unsigned char seen[256];
	size_t ns = 0;
	if (n == 0 || n > SECRET_JUDGE_MAX)
		return n ? entropy(s, n) : 0.0;
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)s[i]] = 0;
	for (size_t i = 0; i < n; i++)
		if (cnt[(unsigned char)s[i]]++ == 0)
			seen[ns++] = (unsigned char)s[i];
	double sum = 0;
	for (size_t k = 0; k < ns; k++)
		sum += d->xlog2x[cnt[seen[k]]];
	return (d->xlog2x[n] - sum) / (double)n;
}

static bool secret_run(const struct st_detector *d, const char *s, size_t len,
		       size_t x, size_t y)
{
	(void)len;
	size_t n = y - x;
	const char *t = s + x;
	if (n < SECRET_MIN_LEN)
		return false;
	char core[SECRET_JUDGE_MAX];
	size_t nc = 0, seps = 0, nd = 0, nl = 0, nu = 0;
	bool hex_l = true, hex_u = true;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)t[i];
		if (c == '-' || c == '_' || c == '/' || c == '+') {
			seps++;
			continue;
		}
		if (nc < sizeof core)
			core[nc++] = (char)c;
		nd += is_digit(c), nl += is_lower(c), nu += is_upper(c);
		hex_l &= is_digit(c) || (c >= 'a' && c <= 'f');
		hex_u &= is_digit(c) || (c >= 'A' && c <= 'F');
	}
	bool hex = (hex_l || hex_u) && nd < nc;
	/* alone: the cheap shape tests first, the context scans last */
	bool alone = seps <= 1 + n / 16 && nd < nc && nc >= 16 &&
		     !is_ulid(t, n) && !is_resource_id(t, n) && !iban_shaped(t, n);
	if (alone) {
		if (hex && seps == 0)
			alone = n != 40 && n != 64 &&
				entropy_fast(d, core, nc) >= entropy_floor(nc, 0);
		else if (nl && nu)
			alone = (nd > 0 || seps > 0) &&
				entropy_fast(d, core, nc) >= entropy_floor(nc, 2);
		else
			alone = nd >= 2 && nd * 12 >= n &&
				entropy_fast(d, core, nc) >= entropy_floor(nc, 1);
	}
	if (alone && !(hex && seps == 0))
		alone = !wordlike(d, core, nc, BIGRAM_Z);
	if (alone) {
		for (const char *const *p = hash_prefix; *p && alone; p++)
			alone = !(n > strlen(*p) && has_word(t, 0, strlen(*p), *p));
		alone = alone && !has_any(s, x, HASH_CTX_WINDOW, hash_ctx) &&
			!(x >= 7 && has_word(s, x - 7, x, "base64,")) &&
			!(n >= 4 && !memcmp(t, "AAAA", 4) &&
			  (has_word(s, x > 24 ? x - 24 : 0, x, "ssh-") ||
			   has_word(s, x > 24 ? x - 24 : 0, x, "ecdsa-")));
		if (alone)
			return true;
	}
	/* the value of a key, a token, a secret: looser */
	if (!secret_context(s, x))
		return false;
	if (is_uuid(t, n))
		return true;
	if (entropy_fast(d, t, n) < 3.0)
		return false;
	if (hex && seps == 0)
		return true;
	return (nd > 0 || (nl && nu)) && !wordlike(d, core, nc, BIGRAM_Z_CTX);
}

static bool run_char(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '_' || c == '-';
}

/* Byte classes of the pre-pass. */
enum {
	CC_DIGIT = 1, CC_HEX = 2, CC_RUN = 4, CC_COLON = 8, CC_DOT = 16,
	CC_AT = 32,
};

static void cc_init(uint8_t *cc)
{
	for (int c = 0; c < 256; c++)
		cc[c] = (uint8_t)((is_digit(c) ? CC_DIGIT : 0) |
				  (is_hex(c) ? CC_HEX : 0) |
				  (run_char(c) ? CC_RUN : 0) |
				  (c == ':' ? CC_COLON : 0) | (c == '.' ? CC_DOT : 0) |
				  (c == '@' ? CC_AT : 0));
}

static void v_run(struct st_detector *d, const char *s, size_t len, size_t to)
{
	size_t x = to, y = to;
	while (x > 0 && run_char(before(s, x)))
		x--;
	while (y < len && run_char(at(s, len, y)))
		y++;
	if (!first_time(d, R_RUN, x, y))
		return;
	/* a run glued to '.', '=' ... on the left is part of something else
	 * only for '@' (an email) */
	if (before(s, x) == '@')
		return;
	/* a very long run is judged on its first SECRET_JUDGE_MAX bytes */
	size_t j = y - x > SECRET_JUDGE_MAX ? x + SECRET_JUDGE_MAX : y;
	if (!secret_run(d, s, len, x, j))
		return;
	size_t pad = 0;
	while (pad < 2 && at(s, len, y + pad) == '=')
		pad++;
	add(d, ST_DET_SECRET, x, y + pad);
}

/* --- keyword lists ---------------------------------------------------- */

/* Keywords are compiled as plain literals (Vectorscan's fastest engines),
 * in a few spellings each; C checks the word boundaries and the optional
 * plural ending and computes the start, which a literal fixes. */
#define KW_VARIANTS_MAX 8u   /* spellings of one keyword line */

struct kwvar {
	char s[KEYWORD_LEN_MAX * 3 + 1];
	size_t n;
};

/* The second byte of a UTF-8 Latin-1 letter with a case pair: U+00C0..
 * U+00DE and U+00E0..U+00FE, less the multiplication and division signs;
 * the pair differs in bit 0x20. */
static bool latin1_cased(char ch)
{
	unsigned char x = (unsigned char)ch;
	return ((x >= 0x80 && x <= 0x9e) || (x >= 0xa0 && x <= 0xbe)) &&
	       x != 0x97 && x != 0xb7;
}

/* A short all-capitals line ("HIV", "PIP", "IRS", "STD") is an acronym:
 * matched with its case, because "pip install" and "std::vector" are not
 * about performance plans or health. */
static bool acronym(const char *w, size_t n)
{
	if (n > 5)
		return false;
	bool letter = false;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)w[i];
		if (is_lower(c) || c >= 0x80 || c == ' ')
			return false;
		letter |= is_upper(c);
	}
	return letter;
}

/* Spellings of one keyword line: a space is one space or a hyphen
 * ("tax return", "tax-return"); a hyphen is a hyphen, a space or nothing
 * ("self-harm", "self harm", "selfharm"); an apostrophe is ', U+2019 or
 * nothing; Latin-1 letters as written or in the other case (ASCII case is
 * the literal's caseless flag). At most KW_VARIANTS_MAX. */
static size_t keyword_variants(const char *w, size_t n, struct kwvar *v)
{
	size_t nv = 1;
	v[0].n = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		const char *alt[3];
		size_t altn[3], na = 0;
		char swapped[2];
		if (c == ' ' || c == '\t') {
			while (i + 1 < n && (w[i + 1] == ' ' || w[i + 1] == '\t'))
				i++;
			alt[0] = " ", altn[0] = 1, alt[1] = "-", altn[1] = 1, na = 2;
		} else if (c == '-') {
			alt[0] = "-", altn[0] = 1, alt[1] = " ", altn[1] = 1;
			alt[2] = "", altn[2] = 0, na = 3;
		} else if (c == '\'') {
			alt[0] = "'", altn[0] = 1, alt[1] = "\xe2\x80\x99", altn[1] = 3;
			alt[2] = "", altn[2] = 0, na = 3;
		} else if (c == 0xc3 && i + 1 < n && latin1_cased(w[i + 1])) {
			swapped[0] = (char)0xc3;
			swapped[1] = (char)(w[i + 1] ^ 0x20);
			alt[0] = w + i, altn[0] = 2, alt[1] = swapped, altn[1] = 2;
			na = 2;
			i++;
		} else {
			alt[0] = w + i, altn[0] = 1, na = 1;
		}
		/* every spelling so far times every alternative, while room */
		size_t base = nv;
		for (size_t a = na; a-- > 0;) {
			for (size_t k = 0; k < base; k++) {
				struct kwvar *dst;
				if (a == 0)
					dst = &v[k];
				else if (nv < KW_VARIANTS_MAX)
					dst = &v[nv++], *dst = v[k];
				else
					continue;
				if (dst->n + altn[a] >= sizeof dst->s)
					return 0;
				memcpy(dst->s + dst->n, alt[a], altn[a]);
				dst->n += altn[a];
			}
		}
	}
	for (size_t k = 0; k < nv; k++)
		v[k].s[v[k].n] = 0;
	return nv;
}

/* A literal as a pattern: every byte escaped as \xHH, so no character of
 * a keyword is ever read as regex syntax. */
static int literal_pattern(const char *lit, size_t n, char *out, size_t cap)
{
	if (n * 4 + 1 > cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 4 * i, 5, "\\x%02x", (unsigned char)lit[i]);
	out[4 * n] = 0;
	return 0;
}

/* --- the two databases ------------------------------------------------ */

/* First stage, on every text: the keyword literals, and triggers that say
 * a line holds something the second stage must look at. Triggers only
 * mark the line; they never decide anything. */
enum trig {
	T_KEYWORD,
	T_STAGE2, /* a literal trigger: credential patterns from here */
	T_NUM,    /* a window around a number: the number patterns */
};

/* Literal triggers of the credential patterns; digits, '@', colons and
 * long runs are found by the C pre-pass (prepass()), which costs less per
 * line than any automaton. A trigger only opens a stage 2 window when the
 * pattern behind it could start there: */
enum {
	TR_ANY,   /* anywhere */
	TR_WORD,  /* at a word start (the pattern opens with \b) */
	TR_QUERY, /* after '?' or '&' (a URL query: Azure's sig=) */
	TR_URL,   /* "://": C looks for user:password@ at once */
};
static const struct trigger {
	const char *lit;  /* a literal: no regex syntax */
	uint8_t how;      /* TR_* below */
	unsigned flags;
} stage2_triggers[] = {
	{"AKIA", TR_WORD, 0}, {"ASIA", TR_WORD, 0}, {"ABIA", TR_WORD, 0},
	{"ACCA", TR_WORD, 0}, {"AIza", TR_WORD, 0}, {"GOCSPX-", TR_WORD, 0},
	{"ya29.", TR_WORD, 0}, {"Q~", TR_ANY, 0}, {"ghp_", TR_WORD, 0},
	{"gho_", TR_WORD, 0}, {"ghu_", TR_WORD, 0}, {"ghs_", TR_WORD, 0},
	{"ghr_", TR_WORD, 0}, {"github_pat_", TR_WORD, 0},
	{"glpat-", TR_WORD, 0}, {"gldt-", TR_WORD, 0}, {"glrt-", TR_WORD, 0},
	{"glptt-", TR_WORD, 0}, {"glcbt-", TR_WORD, 0}, {"gloas-", TR_WORD, 0},
	{"glsoat-", TR_WORD, 0}, {"glft-", TR_WORD, 0}, {"glimt-", TR_WORD, 0},
	{"GR1348941", TR_WORD, 0}, {"xoxa-", TR_WORD, 0}, {"xoxb-", TR_WORD, 0},
	{"xoxp-", TR_WORD, 0}, {"xoxo-", TR_WORD, 0}, {"xoxs-", TR_WORD, 0},
	{"xoxr-", TR_WORD, 0}, {"xoxe-", TR_WORD, 0}, {"xapp-", TR_WORD, 0},
	{"hooks.slack.com", TR_ANY, 0}, {"eyJ", TR_WORD, 0},
	{"-----BEGIN ", TR_ANY, 0}, {"PuTTY-User-Key-File", TR_ANY, 0},
	{"sk_live_", TR_WORD, 0}, {"sk_test_", TR_WORD, 0},
	{"rk_live_", TR_WORD, 0}, {"rk_test_", TR_WORD, 0}, {"npm_", TR_WORD, 0},
	{"SG.", TR_WORD, 0}, {"sk-", TR_WORD, 0}, {"hf_", TR_WORD, 0},
	{"dop_v1_", TR_WORD, 0}, {"shpat_", TR_WORD, 0}, {"shpss_", TR_WORD, 0},
	{"shpca_", TR_WORD, 0}, {"shppa_", TR_WORD, 0}, {"pypi-", TR_WORD, 0},
	{"AccountKey=", TR_ANY, 0}, {"SharedAccessKey=", TR_ANY, 0},
	{"sig=", TR_QUERY, 0}, {"://", TR_URL, 0}, {"service_account", TR_ANY, 0},
	{"\"private_key_id\"", TR_ANY, 0}, {"secret", TR_ANY, HS_FLAG_CASELESS},
};
#define N_STAGE2_TRIGGERS (sizeof stage2_triggers / sizeof *stage2_triggers)

struct build {
	const char **exprs;
	unsigned *ids, *flags;
	char **owned;
	size_t n, nowned, cap;
	uint8_t *kind, *rule;
	uint16_t *klen;     /* keyword literal length */
	uint8_t *kbound;    /* bit 0: check the left boundary, bit 1: right */
	uint16_t *file;     /* where a keyword came from, for errors */
	uint32_t *line;
};

static int build_alloc(struct build *bd, size_t cap)
{
	bd->cap = cap;
	bd->exprs = calloc(cap, sizeof *bd->exprs);
	bd->ids = calloc(cap, sizeof *bd->ids);
	bd->flags = calloc(cap, sizeof *bd->flags);
	bd->owned = calloc(cap, sizeof *bd->owned);
	bd->kind = calloc(cap, 1);
	bd->rule = calloc(cap, 1);
	bd->klen = calloc(cap, sizeof *bd->klen);
	bd->kbound = calloc(cap, 1);
	bd->file = calloc(cap, sizeof *bd->file);
	bd->line = calloc(cap, sizeof *bd->line);
	return bd->exprs && bd->ids && bd->flags && bd->owned && bd->kind &&
			       bd->rule && bd->klen && bd->kbound && bd->file &&
			       bd->line
		       ? 0
		       : -1;
}

static void build_free(struct build *bd)
{
	for (size_t i = 0; i < bd->nowned; i++)
		free(bd->owned[i]);
	free(bd->owned);
	free(bd->exprs);
	free(bd->ids);
	free(bd->flags);
	free(bd->kind);
	free(bd->rule);
	free(bd->klen);
	free(bd->kbound);
	free(bd->file);
	free(bd->line);
}

static size_t build_add(struct build *bd, const char *re, unsigned flags,
			uint8_t kind, uint8_t rule)
{
	size_t k = bd->n++;
	bd->exprs[k] = re;
	bd->ids[k] = (unsigned)k;
	bd->flags[k] = flags;
	bd->kind[k] = kind;
	bd->rule[k] = rule;
	return k;
}

static int load_category(struct build *bd, const char *data_dir, size_t c,
			 size_t *nkeywords, struct st_error *err)
{
	char path[PATH_MAX_LEN];
	int pl = snprintf(path, sizeof path, "%s/categories/%s", data_dir,
			  categories[c].file);
	if (pl < 0 || (size_t)pl >= sizeof path)
		return st_fail(err, ST_E_CAP,
			       "detector: data folder path over %u bytes; "
			       "pass a shorter one", PATH_MAX_LEN);
	struct st_buf b;
	st_buf_init(&b, false);
	int rc = st_file_read(path, CATFILE_MAX, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		st_error_prefix(err, "detector: category list %s (install the "
				     "data folder or point the agent at it): ",
				categories[c].file);
		return rc;
	}
	size_t pos = 0;
	uint32_t lineno = 0;
	struct kwvar *v = malloc(KW_VARIANTS_MAX * sizeof *v);
	if (!v) {
		st_buf_fini(&b);
		return st_fail(err, ST_E_NOMEM, "detector: out of memory");
	}
	while (pos < b.len) {
		const char *l = (const char *)b.p + pos;
		const char *nl = memchr(l, '\n', b.len - pos);
		size_t len = nl ? (size_t)(nl - l) : b.len - pos;
		pos += len + 1;
		lineno++;
		while (len && (l[len - 1] == ' ' || l[len - 1] == '\r' ||
			       l[len - 1] == '\t'))
			len--;
		while (len && (*l == ' ' || *l == '\t'))
			l++, len--;
		if (!len || *l == '#')
			continue;
		if (len > KEYWORD_LEN_MAX || *nkeywords >= KEYWORDS_MAX) {
			free(v);
			st_buf_fini(&b);
			return st_fail(err, ST_E_CAP,
				       "detector: %s line %u: a keyword over %u "
				       "bytes or more than %u keywords in all; "
				       "shorten or split the list",
				       path, lineno, KEYWORD_LEN_MAX, KEYWORDS_MAX);
		}
		(*nkeywords)++;
		size_t nv = keyword_variants(l, len, v);
		unsigned flags = acronym(l, len) ? 0 : HS_FLAG_CASELESS;
		uint8_t bound = (uint8_t)((is_alnum((unsigned char)l[0]) ? 1 : 0) |
					  (is_alnum((unsigned char)l[len - 1]) ? 2 : 0));
		for (size_t k = 0; k < nv; k++) {
			char *pat = malloc(v[k].n * 4 + 1);
			if (!v[k].n || !pat ||
			    literal_pattern(v[k].s, v[k].n, pat, v[k].n * 4 + 1) < 0 ||
			    bd->n >= bd->cap) {
				free(pat);
				free(v);
				st_buf_fini(&b);
				return st_fail(err, ST_E_NOMEM,
					       "detector: %s line %u: keyword "
					       "does not fit", path, lineno);
			}
			bd->owned[bd->nowned++] = pat;
			size_t id = build_add(bd, pat, flags, categories[c].kind,
					      T_KEYWORD);
			bd->klen[id] = (uint16_t)v[k].n;
			bd->kbound[id] = bound;
			bd->file[id] = (uint16_t)c;
			bd->line[id] = lineno;
		}
	}
	free(v);
	st_buf_fini(&b);
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void write_all(int fd, const void *p, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, (const char *)p + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		put += (size_t)w;
	}
}

/* Compiles the database in a child process and takes back its serialised
 * form. Compiling needs several times the finished database's memory for a
 * moment; in a child, that peak never counts against the agent, which must
 * stay small all day (bench/agent.sh measures its peak RSS). On a compile
 * error *bad receives the index of the pattern that failed (or -1). */
static int compile_db(const char *const *exprs, const unsigned *flags,
		      const unsigned *ids, unsigned n, hs_database_t **db,
		      int *bad, char *why, size_t whycap, struct st_error *err)
{
	*bad = -1;
	why[0] = 0;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return st_fail(err, st_errno(errno), "detector: pipe: %s",
			       strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]), close(fds[1]);
		return st_fail(err, st_errno(errno), "detector: fork: %s",
			       strerror(errno));
	}
	if (pid == 0) {
		close(fds[0]);
		hs_database_t *cdb = NULL;
		hs_compile_error_t *ce = NULL;
		char *bytes = NULL;
		size_t len = 0;
		int32_t status = 0, expr = -1;
		char msg[ST_ERROR_MSG_MAX] = "";
		if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &cdb,
				     &ce) != HS_SUCCESS) {
			status = 1;
			expr = ce ? ce->expression : -1;
			snprintf(msg, sizeof msg, "%s", ce ? ce->message : "unknown");
		} else if (hs_serialize_database(cdb, &bytes, &len) != HS_SUCCESS) {
			status = 2;
			snprintf(msg, sizeof msg, "cannot serialise the database");
		}
		uint64_t l64 = status ? strlen(msg) : len;
		write_all(fds[1], &status, sizeof status);
		write_all(fds[1], &expr, sizeof expr);
		write_all(fds[1], &l64, sizeof l64);
		write_all(fds[1], status ? msg : bytes, (size_t)l64);
		_exit(0);
	}
	close(fds[1]);
	int32_t status = -1, expr = -1;
	uint64_t len = 0;
	char *buf = NULL;
	int rc = 0;
	if (read_all(fds[0], &status, sizeof status) < 0 ||
	    read_all(fds[0], &expr, sizeof expr) < 0 ||
	    read_all(fds[0], &len, sizeof len) < 0 || len > DB_BYTES_MAX ||
	    !(buf = malloc(len + 1)) || read_all(fds[0], buf, (size_t)len) < 0) {
		rc = st_fail(err, ST_E_INVAL, "detector: the compiler process "
					      "failed (out of memory?)");
	} else if (status != 0) {
		buf[len] = 0;
		*bad = expr;
		snprintf(why, whycap, "%s", buf);
		rc = ST_E_INVAL;
	} else if (hs_deserialize_database(buf, (size_t)len, db) != HS_SUCCESS) {
		rc = st_fail(err, ST_E_INVAL, "detector: cannot load the database");
	}
	free(buf);
	close(fds[0]);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	return rc;
}

/* Compiles one database, turning a compile error into a message that
 * names the keyword file and line (or the built-in pattern). */
static int compile(const struct build *bd, hs_database_t **db,
		   struct st_error *err)
{
	int e = -1;
	char why[ST_ERROR_MSG_MAX];
	int rc = compile_db(bd->exprs, bd->flags, bd->ids, (unsigned)bd->n, db,
			    &e, why, sizeof why, err);
	if (rc < 0 && why[0]) {
		if (e >= 0 && (size_t)e < bd->n && bd->rule[e] == T_KEYWORD &&
		    bd->kind[e] >= ST_DET_CAT_HR)
			rc = st_fail(err, ST_E_INVAL,
				     "detector: categories/%s line %u does not "
				     "compile (%.200s); edit that line",
				     categories[bd->file[e]].file, bd->line[e], why);
		else
			rc = st_fail(err, ST_E_INVAL,
				     "detector: built-in pattern %d does not "
				     "compile (%.200s): a bug in this build",
				     e, why);
	}
	return rc;
}

int st_detector_new(const char *data_dir, struct st_detector **out,
		    struct st_error *err)
{
	if (!out || !data_dir)
		return st_fail(err, ST_E_INVAL, "detector: no data folder given");
	*out = NULL;
	struct build b1 = {0}, b2 = {0};
	struct st_detector *d = calloc(1, sizeof *d);
	int rc = 0;
	size_t cap1 = KEYWORDS_MAX * KW_VARIANTS_MAX + N_STAGE2_TRIGGERS + 1;
	struct build b3 = {0};
	if (!d || build_alloc(&b1, cap1) < 0 || build_alloc(&b2, N_BUILTIN) < 0 ||
	    build_alloc(&b3, N_BUILTIN) < 0) {
		rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
		goto out;
	}
	/* stage 1: keywords, triggers */
	size_t nkw = 0;
	for (size_t c = 0; c < N_CATEGORIES; c++)
		if ((rc = load_category(&b1, data_dir, c, &nkw, err)) < 0)
			goto out;
	for (size_t i = 0; i < N_STAGE2_TRIGGERS; i++) {
		const char *lit = stage2_triggers[i].lit;
		size_t ll = strlen(lit);
		char *pat = malloc(ll * 4 + 1);
		if (!pat || literal_pattern(lit, ll, pat, ll * 4 + 1) < 0) {
			free(pat);
			rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
			goto out;
		}
		b1.owned[b1.nowned++] = pat;
		size_t id = build_add(&b1, pat, stage2_triggers[i].flags,
				      stage2_triggers[i].how, T_STAGE2);
		b1.klen[id] = (uint16_t)ll;
	}
	/* stage 2: number patterns (b2) and the others (b3); a pattern's id
	 * is its index in builtin[] in both */
	for (size_t i = 0; i < N_BUILTIN; i++) {
		struct build *bt = builtin[i].rule <= R_IPV4 ? &b2 : &b3;
		size_t k = build_add(bt, builtin[i].re, builtin[i].flags,
				     builtin[i].kind, builtin[i].rule);
		bt->ids[k] = (unsigned)i;
	}
	if ((rc = compile(&b1, &d->db1, err)) < 0 ||
	    (rc = compile(&b2, &d->dbnum, err)) < 0 ||
	    (rc = compile(&b3, &d->dbcred, err)) < 0)
		goto out;
	if (hs_alloc_scratch(d->db1, &d->scratch) != HS_SUCCESS ||
	    hs_alloc_scratch(d->dbnum, &d->scratch) != HS_SUCCESS ||
	    hs_alloc_scratch(d->dbcred, &d->scratch) != HS_SUCCESS) {
		rc = st_fail(err, ST_E_NOMEM, "detector: no scratch space");
		goto out;
	}
	d->n1 = (unsigned)b1.n;
	d->kind1 = b1.kind, b1.kind = NULL;
	d->rule1 = b1.rule, b1.rule = NULL;
	d->klen = b1.klen, b1.klen = NULL;
	d->kbound = b1.kbound, b1.kbound = NULL;
	d->n2 = (unsigned)N_BUILTIN;
	d->kind2 = calloc(N_BUILTIN, 1);
	d->rule2 = calloc(N_BUILTIN, 1);
	d->som2 = calloc(N_BUILTIN, sizeof *d->som2);
	d->last = calloc(N_BUILTIN, sizeof *d->last);
	d->c = malloc(CANDIDATES_MAX * sizeof *d->c);
	d->found = malloc(FOUND_MAX * sizeof *d->found);
	d->ranges = malloc(RANGES_MAX * sizeof *d->ranges);
	if (!d->kind2 || !d->rule2 || !d->som2 || !d->last || !d->c ||
	    !d->found || !d->ranges) {
		rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
		goto out;
	}
	for (size_t i = 0; i < N_BUILTIN; i++) {
		d->kind2[i] = builtin[i].kind;
		d->rule2[i] = builtin[i].rule;
		d->som2[i] = (builtin[i].flags & HS_FLAG_SOM_LEFTMOST) != 0;
	}
	for (const char *p = bigrams; p[0] && p[1]; p += p[2] ? 3 : 2)
		d->bg[p[0] - 'a'] |= 1u << (p[1] - 'a');
	cc_init(d->cc);
	d->xlog2x[0] = 0;
	for (size_t c = 1; c <= SECRET_JUDGE_MAX; c++)
		d->xlog2x[c] = (double)c * log2((double)c);
	*out = d;
	d = NULL;
out:
	build_free(&b1);
	build_free(&b2);
	build_free(&b3);
	st_detector_free(d);
	return rc;
}

void st_detector_free(struct st_detector *d)
{
	if (!d)
		return;
	hs_free_scratch(d->scratch);
	hs_free_database(d->db1);
	hs_free_database(d->dbnum);
	hs_free_database(d->dbcred);
	/* candidates and matches are offsets, never text: nothing to wipe */
	free(d->c);
	free(d->found);
	free(d->ranges);
	free(d->last);
	free(d->kind1);
	free(d->rule1);
	free(d->klen);
	free(d->kbound);
	free(d->kind2);
	free(d->rule2);
	free(d->som2);
	free(d);
}

/* --- scanning --------------------------------------------------------- */

/* A literal trigger (a vendor prefix, "://", "secret") at offset to: stage 2
 * looks from a little before it to the end of its line, where the token it
 * opens may run to. A later trigger inside that window costs a compare. */
static void add_range(struct st_detector *d, int what, size_t a, size_t b);

static void mark_literal(struct st_detector *d, size_t to)
{
	if (to <= d->s2_end && d->s2_end != 0)
		return;
	const char *t = d->text;
	size_t a = to > WINDOW_BEFORE_LITERAL ? to - WINDOW_BEFORE_LITERAL : 0;
	const char *nl = memchr(t + to, '\n', d->len - to);
	size_t b = nl ? (size_t)(nl - t) : d->len;
	for (size_t i = a; i < to; i++)
		if (t[i] == '\n')
			a = i + 1;
	d->s2_end = b;
	add_range(d, T_STAGE2, a, b);
}

static void keyword_hit(struct st_detector *d, unsigned id, size_t to)
{
	const char *s = d->text;
	size_t len = d->len, n = d->klen[id];
	if (n > to)
		return;
	size_t a = to - n, b = to;
	if ((d->kbound[id] & 1) && is_word(before(s, a)))
		return;
	if (d->kbound[id] & 2) {
		/* an optional plural ending, then a word boundary */
		static const char *const suf[] = {"es", "en", "s", "n", ""};
		size_t e = SIZE_MAX;
		for (size_t k = 0; k < sizeof suf / sizeof *suf; k++) {
			size_t sl = strlen(suf[k]);
			if (sl && !is_alpha(at(s, len, b - 1)))
				continue;
			if (b + sl > len)
				continue;
			bool same = true;
			for (size_t i = 0; i < sl && same; i++)
				same = lower((unsigned char)s[b + i]) == suf[k][i];
			if (same && !is_word(at(s, len, b + sl))) {
				e = b + sl;
				break;
			}
		}
		if (e == SIZE_MAX)
			return;
		b = e;
	}
	add(d, d->kind1[id], a, b);
}

/* After "://" at a: the scheme before it, then user:password@ (the URL
 * pattern's shape, parsed here): the password goes to v_url_pass. */
static void url_at(struct st_detector *d, size_t a)
{
	const char *s = d->text;
	size_t len = d->len, b = a + 3, i = b;
	if (a == 0 || !is_alpha((unsigned char)s[a - 1]))
		return;
	while (i < len && i - b <= 64 && s[i] != ':' && s[i] != '/' &&
	       s[i] != '@' && !is_space_byte(s[i]))
		i++;
	if (i == b || i >= len || s[i] != ':')
		return;
	size_t j = i + 1;
	while (j < len && j - i <= 128 && s[j] != '/' && s[j] != '@' &&
	       !is_space_byte(s[j]))
		j++;
	if (j >= len || s[j] != '@' || j == i + 1)
		return;
	size_t x = a;
	while (x > 0 && a - x < 16 && (is_alnum((unsigned char)s[x - 1]) ||
				       s[x - 1] == '+' || s[x - 1] == '.' ||
				       s[x - 1] == '-'))
		x--;
	v_url_pass(d, s, x, j + 1);
}

static int on_stage1(unsigned id, unsigned long long from,
		     unsigned long long to, unsigned flags, void *ctx)
{
	(void)from, (void)flags;
	struct st_detector *d = ctx;
	switch (d->rule1[id]) {
	case T_KEYWORD: keyword_hit(d, id, (size_t)to); break;
	case T_STAGE2: {
		size_t a = (size_t)to - d->klen[id];
		int c = before(d->text, a);
		switch (d->kind1[id]) {
		case TR_WORD:
			if (is_word(c))
				return 0;
			break;
		case TR_QUERY:
			if (c != '?' && c != '&')
				return 0;
			break;
		case TR_URL:
			url_at(d, a);
			return 0;
		}
		mark_literal(d, (size_t)to);
		break;
	}
	}
	return 0;
}

static int on_stage2(unsigned id, unsigned long long from,
		     unsigned long long to, unsigned flags, void *ctx)
{
	(void)flags;
	struct st_detector *d = ctx;
	from += d->off, to += d->off;
	struct last *l = &d->last[id];
	/* one candidate per pattern and start: a longer end replaces the
	 * shorter (validators look inside); without a start, ends that follow
	 * within a few bytes extend the same candidate (an address) */
	if (l->gen == d->gen) {
		struct cand *c = &d->c[l->idx];
		if (d->som2[id] ? c->from == from : to <= (unsigned long long)c->to + 5) {
			c->to = (uint32_t)to;
			return 0;
		}
	}
	if (d->nc >= CANDIDATES_MAX) {
		d->overflow = true;
		return 1; /* stop: the caller fails closed */
	}
	l->gen = d->gen;
	l->idx = (uint32_t)d->nc;
	d->c[d->nc++] = (struct cand){id, d->som2[id] ? (uint32_t)from : 0,
				      (uint32_t)to};
	return 0;
}

static void add_range(struct st_detector *d, int what, size_t a, size_t b)
{
	if (d->nranges >= RANGES_MAX) {
		for (size_t i = d->nranges; i-- > 0;)
			if (d->ranges[i].what == what) {
				d->ranges[i].b = (uint32_t)d->len;
				return;
			}
		return;
	}
	d->ranges[d->nranges++] = (struct range){(uint8_t)what, (uint32_t)a,
						 (uint32_t)b};
}

/* Is the digit token around i (digits with single ' ', '.' or '-' between
 * them) worth stage 2: seven digits or more, or four dotted numbers (an
 * IPv4 address), and not a date (2024-03-15, 15.03.2024)? *x and *y receive
 * the token. */
static bool numeric_token(const unsigned char *s, size_t ls, size_t le,
			  size_t i, size_t *x, size_t *y, unsigned *ndigits)
{
	size_t a = i;
	while (a > ls && (is_digit(s[a - 1]) ||
			  ((s[a - 1] == '.' || s[a - 1] == ' ' || s[a - 1] == '-') &&
			   a - 1 > ls && is_digit(s[a - 2]))))
		a--;
	unsigned digits = 0, dots = 0, groups = 1, glen[3] = {0, 0, 0};
	size_t b = a;
	while (b < le) {
		int c = s[b];
		if (is_digit(c)) {
			digits++;
			if (groups <= 3)
				glen[groups - 1]++;
		} else if ((c == '.' || c == ' ' || c == '-') && b + 1 < le &&
			   is_digit(s[b + 1])) {
			dots += c == '.';
			groups++;
		} else {
			break;
		}
		b++;
	}
	*x = a, *y = b;
	*ndigits = digits;
	if (dots >= 3)
		return true;
	if (digits < 7)
		return false;
	bool date = groups == 3 && digits == 8 &&
		    ((glen[0] == 4 && glen[1] == 2 && glen[2] == 2) ||
		     (glen[0] == 2 && glen[1] == 2 && glen[2] == 4));
	return !date;
}

/* Two colons in a run of hex digits and colons around the colon at i. */
static bool hex_colons(const unsigned char *s, size_t ls, size_t le, size_t i)
{
	size_t x = i, y = i + 1;
	unsigned colons = 1;
	while (x > ls && (is_hex(s[x - 1]) || s[x - 1] == ':'))
		colons += s[--x] == ':';
	while (y < le && (is_hex(s[y]) || s[y] == ':'))
		colons += s[y++] == ':';
	return colons >= 2 && y - x > 2;
}

/* Bytes 0x30..0x39 in a word of eight ASCII bytes: the high bit of each
 * such byte (Bit Twiddling Hacks, "hasbetween"; bytes >= 0x80 never). */
static inline uint64_t digit_bytes(uint64_t w)
{
	const uint64_t ones = ~0ull / 255, low7 = ones * 127;
	return (ones * (127 + 0x3a) - (w & low7)) & ~w &
	       ((w & low7) + ones * (127 - 0x2f)) & ones * 128;
}

/* Counts one span proposed to the validators from C (a number token, a
 * card run, an SSN or address shape, an '@', a colon run), against the
 * same CANDIDATES_MAX as the patterns' proposals: over it, the scan fails
 * closed. */
static bool propose(struct st_detector *d)
{
	if (++d->proposed > CANDIDATES_MAX) {
		d->overflow = true;
		return false;
	}
	return true;
}

/* The numbers in the digit token [x, y) (digits with single ' ', '.' or
 * '-' between them) of the line [ls, le), by the shapes of the formats:
 * runs of 13+ digits in ' '/'-' groups (cards, v_card), IBANs that open up
 * to 16 bytes before (v_iban), 3-2-4 groups and 9 digits alone (SSNs),
 * four dotted groups of 1-3 digits (IPv4) and international numbers after
 * a '+' up to 16 bytes before or opening with 00 (v_phone). */
static void numbers_at(struct st_detector *d, size_t ls, size_t le, size_t x,
		       size_t y)
{
	const char *s = d->text;
	size_t len = d->len;
	size_t ga[NUM_GROUPS_MAX], gb[NUM_GROUPS_MAX];
	char sep[NUM_GROUPS_MAX];
	/* the groups, NUM_GROUPS_MAX at a time; batches overlap by four
	 * groups so that an SSN or an address across the seam is seen */
	for (size_t from = x; from < y;) {
		size_t ng = 0;
		for (size_t i = from; i < y && ng < NUM_GROUPS_MAX;) {
			ga[ng] = i;
			while (i < y && is_digit((unsigned char)s[i]))
				i++;
			gb[ng] = i;
			sep[ng] = i < y ? s[i] : 0;
			ng++;
			i++;
		}
		/* cards: each run of groups joined by ' ' or '-' with 13+
		 * digits (v_card reads the whole run, across batches) */
		for (size_t k = 0; k < ng;) {
			size_t j = k, dg = gb[k] - ga[k];
			while (j + 1 < ng && (sep[j] == ' ' || sep[j] == '-'))
				j++, dg += gb[j] - ga[j];
			if ((dg >= 13 || (j + 1 == ng && ng == NUM_GROUPS_MAX)) &&
			    propose(d))
				v_card(d, s, len, ga[k], gb[j]);
			k = j + 1;
		}
		for (size_t k = 0; k < ng; k++) {
			size_t l0 = gb[k] - ga[k];
			if (l0 == 9 && propose(d))
				v_ssn(d, s, len, ga[k], gb[k], R_SSN_BARE);
			if (k + 2 < ng && l0 == 3 && gb[k + 1] - ga[k + 1] == 2 &&
			    gb[k + 2] - ga[k + 2] == 4 && sep[k] == sep[k + 1] &&
			    (sep[k] == '-' || sep[k] == ' ') && propose(d))
				v_ssn(d, s, len, ga[k], gb[k + 2],
				      sep[k] == '-' ? R_SSN_DASH : R_SSN_SPACE);
			bool quad = k + 3 < ng;
			for (size_t q = k; quad && q < k + 4; q++)
				quad = gb[q] - ga[q] <= 3 &&
				       (q == k + 3 || sep[q] == '.');
			if (quad && propose(d))
				v_ipv4(d, s, len, ga[k], gb[k + 3]);
		}
		if (d->overflow)
			return;
		if (gb[ng - 1] >= y || ng < NUM_GROUPS_MAX)
			break;
		from = ga[ng - 4];
		if (!propose(d))
			return;
	}
	/* IBANs: the pre-pass tries every "CCdd" at a word start */
	for (size_t p = x; p > ls && x - p < 16; p--)
		if (s[p - 1] == '+' && s[p] >= '1' && s[p] <= '9') {
			v_phone(d, s, len, p - 1, le - p > 26 ? p + 26 : le,
				R_PHONE_INTL);
			break;
		}
	if (y - x > 3 && s[x] == '0' && s[x + 1] == '0' && s[x + 2] >= '1' &&
	    s[x + 2] <= '9' && !is_word(before(s, x)))
		v_phone(d, s, len, x, le - x > 27 ? x + 27 : le, R_PHONE_INTL);
}

/* Could the phone patterns (North American and national forms) match
 * around the token [x, y)? A group opening with 0 and a non-zero digit (a
 * trunk prefix), groups of 3, 3 and 4 digits, ten or eleven digits in all
 * (bare numbers after "tel"), or a ')' or a '/' just before ("(555) 123-
 * 4567", "089/1234567"). Cards, IBANs and long ids go no further. */
static bool phone_worthy(const unsigned char *s, size_t ls, size_t x,
			 size_t y, unsigned digits)
{
	if (digits == 10 || digits == 11)
		return true;
	if (x - ls >= 2 && (s[x - 1] == ')' || s[x - 2] == ')' ||
			    (s[x - 1] == '/' && is_digit(s[x - 2]))))
		return true;
	unsigned l[3] = {0, 0, 0};
	for (size_t i = x; i < y;) {
		size_t g = i;
		while (i < y && is_digit(s[i]))
			i++;
		if (i - g >= 2 && s[g] == '0' && s[g + 1] != '0')
			return true;
		l[0] = l[1], l[1] = l[2], l[2] = (unsigned)(i - g);
		if (l[0] == 3 && l[1] == 3 && l[2] == 4)
			return true;
		i++;
	}
	return false;
}

static void window(struct st_detector *d, size_t ls, size_t le, size_t a,
		   size_t b, size_t before, size_t after)
{
	a = a - ls > before ? a - before : ls;
	b = le - b > after ? b + after : le;
	add_range(d, T_NUM, a, b);
}

/* The domain after the '@' at i, by the shape of a host name: labels of
 * [A-Za-z0-9-] joined by dots, the last one 2-24 letters and not glued to
 * a word character; the longest such. Then the email rules (v_email). */
static void email_at(struct st_detector *d, size_t ls, size_t le, size_t i)
{
	const char *s = d->text;
	size_t p = i + 1, best = 0;
	unsigned labels = 0;
	while (p < le) {
		size_t q = p;
		bool alpha = true;
		while (q < le && (is_alnum((unsigned char)s[q]) || s[q] == '-'))
			alpha &= is_alpha((unsigned char)s[q]), q++;
		if (q == p)
			break;
		labels++;
		if (labels >= 2 && alpha && q - p >= 2 && q - p <= 24 &&
		    !is_word(at(s, le, q)))
			best = q;
		if (q >= le || s[q] != '.')
			break;
		p = q + 1;
	}
	(void)ls;
	if (best)
		v_email(d, s, d->len, i, best);
}

/* The C pre-pass, line by line: it hands stage 2 windows around numbers
 * (numeric_token), around an '@' after a local-part character (an email),
 * around two colons among hex digits (IPv6), and marks for the run judge
 * the lines with a run of SECRET_MIN_LEN [A-Za-z0-9+/_-]. It skips eight
 * bytes at a time to the next digit, finds '@' and ':' with memchr and
 * samples runs (a run of 20 holds two bytes ten apart at offsets 9 mod
 * 10): cheaper per line than starting any automaton. */
static void prepass(struct st_detector *d)
{
	const unsigned char *s = (const unsigned char *)d->text;
	size_t len = d->len, ls = 0;
	while (ls < len) {
		const unsigned char *nl = memchr(s + ls, '\n', len - ls);
		size_t le = nl ? (size_t)(nl - s) : len;
		for (const unsigned char *p = memchr(s + ls, '@', le - ls); p;) {
			size_t i = (size_t)(p - s);
			if (i > ls && i + 1 < le && local_char(s[i - 1]) &&
			    is_alnum(s[i + 1])) {
				if (!propose(d))
					return;
				email_at(d, ls, le, i);
			}
			if (i + 1 >= le)
				break;
			p = memchr(p + 1, '@', le - (i + 1));
		}
		for (const unsigned char *p = memchr(s + ls, ':', le - ls); p;) {
			size_t i = (size_t)(p - s);
			if (hex_colons(s, ls, le, i)) {
				if (!propose(d))
					return;
				v_ipv6(d, d->text, d->len, i + 1);
			}
			if (i + 1 >= le)
				break;
			p = memchr(s + i + 1, ':', le - (i + 1));
		}
		size_t i = ls;
		while (i < le) {
			if (i + 8 <= le) {
				uint64_t w;
				memcpy(&w, s + i, 8);
				uint64_t m = digit_bytes(w);
				if (!m) {
					i += 8;
					continue;
				}
				i += (size_t)__builtin_ctzll(m) / 8;
			} else if (!is_digit(s[i])) {
				i++;
				continue;
			}
			size_t x, y;
			unsigned digits;
			bool worth = numeric_token(s, ls, le, i, &x, &y, &digits);
			if (!propose(d))
				return;
			/* an IBAN opens with two letters and two digits at a
			 * word start, whatever digits follow ("LU28 0019 ...",
			 * "MT84 MALT 011...") */
			if (x - ls >= 2 && is_alpha(s[x - 1]) && is_alpha(s[x - 2]) &&
			    !is_word(before((const char *)s, x - 2)))
				v_iban(d, d->text, len, x - 2, le - x > 40 ? x + 40 : le);
			if (worth) {
				numbers_at(d, ls, le, x, y);
				if (phone_worthy(s, ls, x, y, digits))
					window(d, ls, le, x, y, WINDOW_NUMBER_BEFORE,
					       WINDOW_NUMBER_AFTER);
			}
			i = y + 1;
		}
		/* runs: a run of 20 holds both k - 10 and k for some sampled
		 * k; each run found goes to the entropy rule at once, and the
		 * samples go on after it */
		for (size_t k = ls + 19; k < le; k += 10) {
			const uint8_t *cc = d->cc;
			if (!(cc[s[k]] & CC_RUN) || !(cc[s[k - 10]] & CC_RUN) ||
			    !(cc[s[k - 5]] & CC_RUN))
				continue;
			size_t x = k;
			while (x > k - 10 && (cc[s[x - 1]] & CC_RUN))
				x--;
			if (x > k - 10)
				continue;
			while (x > ls && (cc[s[x - 1]] & CC_RUN))
				x--;
			size_t y = k + 1;
			while (y < le && (cc[s[y]] & CC_RUN))
				y++;
			if (y - x >= SECRET_MIN_LEN) {
				if (!propose(d))
					return;
				v_run(d, d->text, d->len, y);
			}
			while (k + 10 <= y)
				k += 10;
		}
		ls = le + 1;
	}
}

static int by_range(const void *x, const void *y)
{
	const struct range *a = x, *b = y;
	if (a->what != b->what)
		return a->what < b->what ? -1 : 1;
	return a->a < b->a ? -1 : a->a > b->a;
}

static int by_start(const void *x, const void *y)
{
	const struct st_match *a = x, *b = y;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;
	return (int)a->kind - (int)b->kind;
}

static void validate(struct st_detector *d)
{
	const char *text = d->text;
	size_t len = d->len;
	for (size_t i = 0; i < d->nc; i++) {
		const struct cand *c = &d->c[i];
		unsigned kind = d->kind2[c->id];
		enum rule r = (enum rule)d->rule2[c->id];
		size_t a = c->from, b = c->to;
		switch (r) {
		case R_CARD: v_card(d, text, len, a, b); break;
		case R_IBAN: v_iban(d, text, len, a, b); break;
		case R_SSN_DASH:
		case R_SSN_SPACE:
		case R_SSN_BARE: v_ssn(d, text, len, a, b, r); break;
		case R_EMAIL: v_email(d, text, len, a, b); break;
		case R_PHONE_INTL:
		case R_PHONE_NANP:
		case R_PHONE_NANP_SPACE:
		case R_PHONE_TRUNK:
		case R_PHONE_CTX: v_phone(d, text, len, a, b, r); break;
		case R_IPV4: v_ipv4(d, text, len, a, b); break;
		case R_IPV6: v_ipv6(d, text, len, b); break;
		case R_PREFIXED: v_prefixed(d, kind, text, len, a, b); break;
		case R_AWS_SECRET: v_aws_secret(d, text, len, b); break;
		case R_VALUE: v_value(d, kind, text, a, b); break;
		case R_URL_PASS: v_url_pass(d, text, a, b); break;
		case R_GCP_JSON:
		case R_SLACK_HOOK: add(d, kind, a, b); break;
		case R_JWT: v_jwt(d, text, len, a, b); break;
		case R_PEM: v_pem(d, text, len, a, b); break;
		case R_RUN:
		case R_KEYWORD:
		case R_COUNT: break;
		}
	}
}

int st_detect(struct st_detector *d, const char *text, size_t len,
	      struct st_match *m, size_t cap, size_t *n, struct st_error *err)
{
	if (n)
		*n = 0;
	if (!d || !n || (!text && len) || (!m && cap))
		return st_fail(err, ST_E_INVAL, "detector: no detector, text or "
						"match array given");
	if (len > ST_DETECT_TEXT_MAX)
		len = ST_DETECT_TEXT_MAX;
	if (!len)
		return 0;
	if (++d->gen == 0) { /* wrapped: forget every pattern's last candidate */
		memset(d->last, 0, d->n2 * sizeof *d->last);
		d->gen = 1;
	}
	d->text = text;
	d->len = len;
	d->nc = d->proposed = 0;
	d->overflow = false;
	d->nfound = 0;
	d->found_overflow = false;
	d->nranges = 0;
	d->s2_end = 0;
	for (int r = 0; r < R_COUNT; r++)
		d->done_from[r] = d->done_to[r] = UINT32_MAX;
	/* stage 1 over the whole text */
	hs_error_t hr = hs_scan(d->db1, text, (unsigned)len, 0, d->scratch,
				on_stage1, d);
	if (hr != HS_SUCCESS)
		return st_fail(err, ST_E_INVAL, "detector: scan of %zu bytes "
						"failed (Vectorscan error %d)",
			       len, (int)hr);
	prepass(d);
	if (d->overflow)
		return st_fail(err, ST_E_CAP,
			       "detector: more than %u candidate spans in %zu "
			       "bytes; treat the text as sensitive",
			       CANDIDATES_MAX, len);
	/* windows that overlap or touch become one (scanned once, and a span
	 * across the seam is seen whole) */
	qsort(d->ranges, d->nranges, sizeof *d->ranges, by_range);
	size_t nr = 0;
	for (size_t i = 0; i < d->nranges; i++) {
		struct range *r = &d->ranges[i];
		if (nr > 0 && d->ranges[nr - 1].what == r->what &&
		    r->a <= d->ranges[nr - 1].b) {
			if (r->b > d->ranges[nr - 1].b)
				d->ranges[nr - 1].b = r->b;
			continue;
		}
		d->ranges[nr++] = *r;
	}
	d->nranges = nr;
	/* stage 2 over the marked lines, runs in C */
	for (size_t i = 0; i < d->nranges && !d->overflow; i++) {
		const struct range *r = &d->ranges[i];
		if (r->b <= r->a)
			continue;
		d->off = r->a;
		hr = hs_scan(r->what == T_NUM ? d->dbnum : d->dbcred, text + r->a,
			     r->b - r->a, 0, d->scratch, on_stage2, d);
		if (hr != HS_SUCCESS && !d->overflow)
			return st_fail(err, ST_E_INVAL, "detector: scan of %zu "
							"bytes failed (Vectorscan "
							"error %d)",
				       len, (int)hr);
	}
	if (d->overflow)
		return st_fail(err, ST_E_CAP,
			       "detector: more than %u candidate spans in %zu "
			       "bytes; treat the text as sensitive",
			       CANDIDATES_MAX, len);
	validate(d);
	if (d->found_overflow)
		return st_fail(err, ST_E_CAP,
			       "detector: more than %u matches in %zu bytes; "
			       "treat the text as sensitive", FOUND_MAX, len);
	struct st_match *f = d->found;
	qsort(f, d->nfound, sizeof *f, by_start);
	/* identical (kind, start, end) once; a span inside another of the
	 * same kind is that one; a high-entropy run that is also a known
	 * credential or an IBAN is that, not "secret" */
	size_t w = 0;
	for (size_t i = 0; i < d->nfound; i++) {
		bool drop = false;
		for (size_t j = 0; j < d->nfound && !drop &&
				   f[j].start <= f[i].start; j++) {
			if (j == i)
				continue;
			bool inside = f[j].start <= f[i].start && f[j].end >= f[i].end;
			bool same = f[j].start == f[i].start && f[j].end == f[i].end;
			if (!inside)
				continue;
			if (f[j].kind == f[i].kind && (!same || j < i))
				drop = true;
			else if (f[i].kind == ST_DET_SECRET &&
				 f[j].kind != ST_DET_SECRET &&
				 (f[j].kind == ST_DET_IBAN ||
				  st_detect_outcome(f[j].kind) == ST_OUT_CREDENTIAL))
				drop = true;
		}
		if (!drop)
			f[w++] = f[i];
	}
	if (w > cap || w > ST_DETECT_MATCHES_MAX)
		return st_fail(err, ST_E_CAP,
			       "detector: %zu matches in %zu bytes, over the "
			       "%zu the caller takes; treat the text as "
			       "sensitive", w, len,
			       cap < ST_DETECT_MATCHES_MAX ? cap
							   : (size_t)ST_DETECT_MATCHES_MAX);
	memcpy(m, f, w * sizeof *m);
	*n = w;
	return 0;
}
