/* detect.c - detectors: one Vectorscan database (patterns for personal
 * data, credentials and the category keyword lists), then validation in C.
 * A pattern only proposes a span; a detector's validator decides. */
#include "detect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <hs/hs.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"

#define CANDIDATES_MAX 4096  /* pattern hits per scan before giving up */
#define KEYWORDS_MAX 4096    /* keyword lines in all category files */
#define KEYWORD_LEN_MAX 120
#define CATFILE_MAX (256u << 10)
#define ENTROPY_MIN_LEN 20
#define DB_BYTES_MAX (64u << 20) /* a serialised database from the child */
#define CTX_WINDOW 24        /* bytes before a bare number searched for "SSN" */

/* A pattern id is kind * 1000 + a running number. */
#define ID(kind, n) ((kind) * 1000u + (n))

struct pat {
	const char *re;
	unsigned kind;
	unsigned flags;
};

static const struct pat builtin[] = {
	{"(?:\\d[ -]?){12,18}\\d", ST_DET_CARD, 0},
	{"[A-Z]{2}\\d{2}(?: ?[A-Z0-9]){11,32}", ST_DET_IBAN, 0},
	{"\\d{3}[- ]\\d{2}[- ]\\d{4}", ST_DET_SSN, 0},
	{"\\d{9}", ST_DET_SSN, 0},
	{"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,24}",
	 ST_DET_EMAIL, 0},
	{"\\+\\d{1,3}[ .-]?(?:\\(\\d{1,4}\\)|\\d{1,4})(?:[ .-]?\\d{2,4}){2,4}",
	 ST_DET_PHONE, 0},
	{"\\(\\d{3}\\) ?\\d{3}[-. ]\\d{4}", ST_DET_PHONE, 0},
	{"\\d{3}[-.]\\d{3}[-.]\\d{4}", ST_DET_PHONE, 0},
	{"0\\d{2,4}[ /-]\\d{3,8}(?:[ -]\\d{2,5})?", ST_DET_PHONE, 0},
	{"(?:\\d{1,3}\\.){3}\\d{1,3}", ST_DET_IP, 0},
	{"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}", ST_DET_IP, 0},
	{"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}", ST_DET_AWS_KEY, 0},
	{"aws_?secret_?access_?key[\"' ]*[=:][\"' ]*[A-Za-z0-9/+]{40}",
	 ST_DET_AWS_KEY, HS_FLAG_CASELESS},
	{"AIza[0-9A-Za-z_-]{35}", ST_DET_GCP_KEY, 0},
	{"\"type\" *: *\"service_account\"", ST_DET_GCP_KEY, 0},
	{"\"private_key_id\" *: *\"[0-9a-f]{20,}\"", ST_DET_GCP_KEY, 0},
	{"AccountKey=[A-Za-z0-9+/=]{20,}", ST_DET_AZURE_KEY, 0},
	{"SharedAccessSignature=[^ ;]{20,}", ST_DET_AZURE_KEY, 0},
	{"[?&]sig=[A-Za-z0-9%+/=]{30,}", ST_DET_AZURE_KEY, 0},
	{"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}", ST_DET_GITHUB_TOKEN, 0},
	{"github_pat_[A-Za-z0-9_]{22,}", ST_DET_GITHUB_TOKEN, 0},
	{"glpat-[A-Za-z0-9_-]{20}", ST_DET_GITLAB_TOKEN, 0},
	{"xox[abposr]-[A-Za-z0-9-]{10,}", ST_DET_SLACK_TOKEN, 0},
	{"hooks\\.slack\\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+",
	 ST_DET_SLACK_TOKEN, 0},
	{"eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{10,}",
	 ST_DET_JWT, 0},
	{"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----", ST_DET_PEM_KEY, 0},
	{"[A-Za-z0-9+/=_-]{20,}", ST_DET_SECRET, 0},
};
#define N_BUILTIN (sizeof builtin / sizeof *builtin)

static const struct {
	const char *file;
	unsigned kind;
} categories[] = {
	{"hr.txt", ST_DET_CAT_HR},
	{"performance.txt", ST_DET_CAT_PERFORMANCE},
	{"relations.txt", ST_DET_CAT_RELATIONS},
	{"health.txt", ST_DET_CAT_HEALTH},
	{"tax.txt", ST_DET_CAT_TAX},
	{"private.txt", ST_DET_CAT_PRIVATE},
};

struct cand {
	unsigned id;
	uint32_t from, to;
};

struct st_detector {
	hs_database_t *db;
	hs_scratch_t *scratch;
	struct cand *c;
	size_t nc;
	bool overflow;
};

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

/* Turns a keyword line into a caseless pattern on word boundaries:
 * metacharacters escaped, runs of spaces matching any white space. */
static int keyword_pattern(const char *w, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	const char *pre = "(?:^|[^A-Za-z0-9])";
	size_t pl = strlen(pre);
	if (pl + 1 > cap)
		return -1;
	memcpy(out, pre, pl);
	o = pl;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c == ' ') {
			while (i + 1 < n && w[i + 1] == ' ')
				i++;
			if (o + 3 >= cap)
				return -1;
			memcpy(out + o, "\\s+", 3), o += 3;
			continue;
		}
		if (o + 5 >= cap)
			return -1;
		if (c < 0x80 && !isalnum(c))
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	const char *post = "(?:$|[^A-Za-z0-9])";
	if (o + strlen(post) + 1 > cap)
		return -1;
	memcpy(out + o, post, strlen(post));
	o += strlen(post);
	out[o] = 0;
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
 * stay small all day (bench/agent.sh measures its peak RSS). */
static int compile_db(const char *const *exprs, const unsigned *flags,
		      const unsigned *ids, unsigned n, hs_database_t **db,
		      struct st_error *err)
{
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
		int32_t status = 0;
		char msg[ST_ERROR_MSG_MAX] = "";
		if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &cdb,
				     &ce) != HS_SUCCESS) {
			status = 1;
			snprintf(msg, sizeof msg, "pattern %d does not compile: %s",
				 ce ? ce->expression : -1, ce ? ce->message : "?");
		} else if (hs_serialize_database(cdb, &bytes, &len) != HS_SUCCESS) {
			status = 2;
			snprintf(msg, sizeof msg, "cannot serialise the database");
		}
		uint64_t l64 = status ? strlen(msg) : len;
		write_all(fds[1], &status, sizeof status);
		write_all(fds[1], &l64, sizeof l64);
		write_all(fds[1], status ? msg : bytes, (size_t)l64);
		_exit(0);
	}
	close(fds[1]);
	int32_t status = -1;
	uint64_t len = 0;
	char *buf = NULL;
	int rc = 0;
	if (read_all(fds[0], &status, sizeof status) < 0 ||
	    read_all(fds[0], &len, sizeof len) < 0 || len > DB_BYTES_MAX ||
	    !(buf = malloc(len + 1)) || read_all(fds[0], buf, (size_t)len) < 0) {
		rc = st_fail(err, ST_E_INVAL, "detector: the compiler process failed");
	} else if (status != 0) {
		buf[len] = 0;
		rc = st_fail(err, ST_E_INVAL, "detector: %s", buf);
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

int st_detector_new(const char *data_dir, struct st_detector **out,
		    struct st_error *err)
{
	*out = NULL;
	const char **exprs = calloc(N_BUILTIN + KEYWORDS_MAX, sizeof *exprs);
	unsigned *ids = calloc(N_BUILTIN + KEYWORDS_MAX, sizeof *ids);
	unsigned *flags = calloc(N_BUILTIN + KEYWORDS_MAX, sizeof *flags);
	char **owned = calloc(KEYWORDS_MAX, sizeof *owned);
	size_t n = 0, nowned = 0;
	int rc = 0;
	struct st_detector *d = calloc(1, sizeof *d);
	if (!exprs || !ids || !flags || !owned || !d) {
		rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
		goto out;
	}
	for (size_t i = 0; i < N_BUILTIN; i++, n++) {
		exprs[n] = builtin[i].re;
		ids[n] = ID(builtin[i].kind, i);
		flags[n] = builtin[i].flags | HS_FLAG_SOM_LEFTMOST;
	}
	for (size_t c = 0; c < sizeof categories / sizeof *categories; c++) {
		char path[1024];
		snprintf(path, sizeof path, "%s/categories/%s", data_dir,
			 categories[c].file);
		struct st_buf b;
		st_buf_init(&b, false);
		if ((rc = st_file_read(path, CATFILE_MAX, &b, err)) < 0) {
			st_buf_fini(&b);
			st_error_prefix(err, "detector: category list: ");
			goto out;
		}
		size_t at = 0;
		unsigned lineno = 0;
		while (at < b.len) {
			const char *l = (const char *)b.p + at;
			const char *nl = memchr(l, '\n', b.len - at);
			size_t len = nl ? (size_t)(nl - l) : b.len - at;
			at += len + 1;
			lineno++;
			while (len && (l[len - 1] == ' ' || l[len - 1] == '\r'))
				len--;
			while (len && *l == ' ')
				l++, len--;
			if (!len || *l == '#')
				continue;
			if (len > KEYWORD_LEN_MAX || nowned >= KEYWORDS_MAX) {
				st_buf_fini(&b);
				rc = st_fail(err, ST_E_CAP,
					     "%s line %u: keyword over %d bytes or "
					     "more than %d keywords in all",
					     path, lineno, KEYWORD_LEN_MAX,
					     KEYWORDS_MAX);
				goto out;
			}
			char *pat = malloc(8 * KEYWORD_LEN_MAX);
			if (!pat || keyword_pattern(l, len, pat, 8 * KEYWORD_LEN_MAX) < 0) {
				free(pat);
				st_buf_fini(&b);
				rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
				goto out;
			}
			owned[nowned++] = pat;
			exprs[n] = pat;
			ids[n] = ID(categories[c].kind, lineno);
			flags[n] = HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST;
			n++;
		}
		st_buf_fini(&b);
	}
	if ((rc = compile_db(exprs, flags, ids, (unsigned)n, &d->db, err)) < 0)
		goto out;
	if (hs_alloc_scratch(d->db, &d->scratch) != HS_SUCCESS) {
		rc = st_fail(err, ST_E_NOMEM, "detector: no scratch space");
		goto out;
	}
	d->c = malloc(CANDIDATES_MAX * sizeof *d->c);
	if (!d->c) {
		rc = st_fail(err, ST_E_NOMEM, "detector: out of memory");
		goto out;
	}
	*out = d;
	d = NULL;
out:
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(exprs);
	free(ids);
	free(flags);
	st_detector_free(d);
	return rc;
}

void st_detector_free(struct st_detector *d)
{
	if (!d)
		return;
	hs_free_scratch(d->scratch);
	hs_free_database(d->db);
	if (d->c)
		sodium_memzero(d->c, CANDIDATES_MAX * sizeof *d->c);
	free(d->c);
	free(d);
}

static int on_match(unsigned id, unsigned long long from,
		    unsigned long long to, unsigned flags, void *ctx)
{
	(void)flags;
	struct st_detector *d = ctx;
	if (d->nc >= CANDIDATES_MAX) {
		d->overflow = true;
		return 1; /* stop: the caller fails closed */
	}
	d->c[d->nc++] = (struct cand){id, (uint32_t)from, (uint32_t)to};
	return 0;
}

/* --- validators ------------------------------------------------------- */

static bool is_alnum_at(const char *s, size_t len, size_t i)
{
	return i < len && isalnum((unsigned char)s[i]);
}

/* The span must not be glued to letters or digits on either side. */
static bool bounded(const char *s, size_t len, size_t a, size_t b)
{
	return !(a > 0 && is_alnum_at(s, len, a - 1)) && !is_alnum_at(s, len, b);
}

static size_t digits_of(const char *s, size_t a, size_t b, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = a; i < b && n < cap; i++)
		if (isdigit((unsigned char)s[i]))
			out[n++] = s[i];
	return n;
}

static bool luhn(const char *d, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(d[n - 1 - i] - '0');
		if (i % 2) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static bool card(const char *s, size_t len, size_t a, size_t b)
{
	char d[32];
	if (!bounded(s, len, a, b) || s[a] == ' ' || s[a] == '-')
		return false;
	size_t n = digits_of(s, a, b, d, sizeof d);
	if (n < 13 || n > 19 || !luhn(d, n))
		return false;
	/* separators, if any, are all of one kind */
	bool sp = memchr(s + a, ' ', b - a), da = memchr(s + a, '-', b - a);
	if (sp && da)
		return false;
	unsigned p2 = (unsigned)((d[0] - '0') * 10 + (d[1] - '0'));
	unsigned p4 = p2 * 100 + (unsigned)((d[2] - '0') * 10 + (d[3] - '0'));
	return d[0] == '4' || (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) ||
	       p2 == 34 || p2 == 37 || p4 == 6011 || p2 == 65 ||
	       (p4 >= 6440 && p4 <= 6499) || p2 == 35 || p2 == 36 || p2 == 38 ||
	       p2 == 30 || p2 == 62 || p2 == 50 || (p2 >= 56 && p2 <= 69);
}

static const struct {
	char cc[3];
	unsigned len;
} iban_len[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
	{"BE", 16}, {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21},
	{"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28},
	{"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
	{"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28},
	{"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
	{"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
	{"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24},
	{"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18},
	{"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29},
	{"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31}, {"SE", 24}, {"SI", 19},
	{"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
	{"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

/* The longest prefix of [a, b) that is a valid IBAN; 0 if none. */
static size_t iban(const char *s, size_t len, size_t a, size_t b)
{
	char c[40];
	size_t n = 0, map[40];
	for (size_t i = a; i < b && n < sizeof c; i++)
		if (s[i] != ' ')
			map[n] = i, c[n++] = s[i];
	unsigned want = 0;
	for (size_t i = 0; i < sizeof iban_len / sizeof *iban_len; i++)
		if (!memcmp(iban_len[i].cc, c, 2))
			want = iban_len[i].len;
	if (!want || n < want)
		return 0;
	size_t end = map[want - 1] + 1;
	if (!bounded(s, len, a, end))
		return 0;
	unsigned rem = 0;
	for (size_t k = 0; k < want; k++) {
		char ch = c[(k + 4) % want];
		if (isdigit((unsigned char)ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else if (ch >= 'A' && ch <= 'Z')
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
		else
			return 0;
	}
	return rem == 1 ? end : 0;
}

static bool ssn_rules(const char *d)
{
	unsigned area = (unsigned)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
	unsigned group = (unsigned)((d[3] - '0') * 10 + (d[4] - '0'));
	unsigned serial = (unsigned)atoi(d + 5);
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return false;
	/* the SSA's advertising number and the Woolworth wallet card */
	if (!strncmp(d, "078051120", 9) || !strncmp(d, "219099999", 9))
		return false;
	return true;
}

static bool ssn(const char *s, size_t len, size_t a, size_t b, bool bare)
{
	char d[16];
	if (!bounded(s, len, a, b) || digits_of(s, a, b, d, 9) != 9)
		return false;
	d[9] = 0;
	if (!ssn_rules(d))
		return false;
	if (!bare)
		return s[a + 3] == s[a + 6]; /* one separator kind */
	/* nine bare digits are an SSN only when the text says so */
	size_t from = a > CTX_WINDOW ? a - CTX_WINDOW : 0;
	for (size_t i = from; i < a; i++)
		if (!strncasecmp(s + i, "ssn", 3) || !strncasecmp(s + i, "social sec", 10))
			return true;
	return false;
}

static bool email(const char *s, size_t len, size_t a, size_t b)
{
	(void)len;
	const char *at = memchr(s + a, '@', b - a);
	return at && at > s + a && s[a] != '.' && s[b - 1] != '.' &&
	       at[1] != '.' && at[-1] != '.';
}

static bool phone(const char *s, size_t len, size_t a, size_t b)
{
	char d[32];
	size_t n = digits_of(s, a, b, d, sizeof d);
	if (n < 7 || n > 15)
		return false;
	if (!bounded(s, len, a, b) && s[a] != '+' && s[a] != '(')
		return false;
	if (a > 0 && (is_alnum_at(s, len, a - 1) || s[a - 1] == '.' ||
		      s[a - 1] == '/' || s[a - 1] == '-' || s[a - 1] == '#'))
		return false;
	if (b < len && (s[b] == '.' || s[b] == '-' || s[b] == '/') &&
	    is_alnum_at(s, len, b + 1))
		return false;
	if (s[a] == '0') {
		/* national form: a separator after the area code, 8+ digits */
		if (n < 8)
			return false;
	}
	/* dates: 4-digit year groups like 2024-01-15 never get here (the
	 * patterns need 3-3-4 or a leading 0 or +) */
	return true;
}

static bool ipv4(const char *s, size_t len, size_t a, size_t b)
{
	if (!bounded(s, len, a, b))
		return false;
	if ((a > 0 && (s[a - 1] == '.' || s[a - 1] == 'v' || s[a - 1] == 'V')) ||
	    (b < len && s[b] == '.' && b + 1 < len && isdigit((unsigned char)s[b + 1])))
		return false; /* version strings: v1.2.3.4, 1.2.3.4.5 */
	char buf[16];
	if (b - a >= sizeof buf)
		return false;
	memcpy(buf, s + a, b - a);
	buf[b - a] = 0;
	struct in_addr x;
	if (inet_pton(AF_INET, buf, &x) != 1)
		return false;
	/* before: "version", "ver", "release" */
	size_t from = a > 12 ? a - 12 : 0;
	for (size_t i = from; i < a; i++)
		if (!strncasecmp(s + i, "version", 7) || !strncasecmp(s + i, "release", 7))
			return false;
	return true;
}

static bool ipv6(const char *s, size_t len, size_t a, size_t b)
{
	if ((a > 0 && (isxdigit((unsigned char)s[a - 1]) || s[a - 1] == ':')) ||
	    (b < len && (isxdigit((unsigned char)s[b]) || s[b] == ':')))
		return false;
	char buf[64];
	if (b - a >= sizeof buf || b - a < 3)
		return false;
	memcpy(buf, s + a, b - a);
	buf[b - a] = 0;
	struct in6_addr x;
	if (inet_pton(AF_INET6, buf, &x) != 1)
		return false;
	/* "12:30:45" is a time, not "::"-less IPv6 (inet_pton refuses it);
	 * "::" alone or a MAC-like run is not an address either */
	return strchr(buf, ':') && strlen(buf) >= 3 && strcmp(buf, "::");
}

static bool jwt(const char *s, size_t a, size_t b)
{
	const char *dot = memchr(s + a, '.', b - a);
	if (!dot)
		return false;
	unsigned char hdr[256];
	size_t hl;
	size_t n = (size_t)(dot - (s + a));
	if (n > 300 || sodium_base642bin(hdr, sizeof hdr - 1, s + a, n, NULL, &hl,
					 NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return false;
	hdr[hl] = 0;
	return strstr((char *)hdr, "\"alg\"") != NULL;
}

static bool uuid_at(const char *s, size_t a, size_t b)
{
	if (b - a != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[a + i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !isxdigit((unsigned char)c))
			return false;
	}
	return true;
}

/* A token that looks random: long enough, letters and digits mixed, and a
 * high Shannon entropy. Hex up to 40 characters (git hashes), UUIDs and
 * words joined by - or _ are not secrets. */
static bool high_entropy(const char *s, size_t len, size_t a, size_t b)
{
	size_t n = b - a;
	if (n < ENTROPY_MIN_LEN || !bounded(s, len, a, b))
		return false;
	if (uuid_at(s, a, b))
		return false;
	unsigned counts[256] = {0};
	bool lower = false, upper = false, digit = false, hex = true;
	size_t seps = 0;
	for (size_t i = a; i < b; i++) {
		unsigned char c = (unsigned char)s[i];
		counts[c]++;
		lower |= islower(c), upper |= isupper(c), digit |= isdigit(c);
		hex &= isxdigit(c) != 0;
		seps += c == '-' || c == '_';
	}
	if (hex && n <= 40)
		return false; /* git hashes, short digests */
	if (!digit || !(lower || upper))
		return false;
	if (seps * 6 > n)
		return false; /* kebab-or_snake-case identifiers */
	double h = 0;
	for (int c = 0; c < 256; c++)
		if (counts[c]) {
			double p = (double)counts[c] / (double)n;
			h -= p * log2(p);
		}
	double need = hex ? 3.6 : (lower && upper ? 4.2 : 3.9);
	return h >= need;
}

/* --- scan ------------------------------------------------------------- */

static int by_start(const void *x, const void *y)
{
	const struct st_match *a = x, *b = y;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->end != b->end)
		return a->end > b->end ? -1 : 1;
	return (int)a->kind - (int)b->kind;
}

int st_detect(struct st_detector *d, const char *text, size_t len,
	      struct st_match *m, size_t cap, size_t *n, struct st_error *err)
{
	*n = 0;
	if (len > ST_DETECT_TEXT_MAX)
		len = ST_DETECT_TEXT_MAX;
	d->nc = 0;
	d->overflow = false;
	if (len && hs_scan(d->db, text, (unsigned)len, 0, d->scratch, on_match, d) !=
			   HS_SUCCESS &&
	    !d->overflow)
		return st_fail(err, ST_E_INVAL, "detector: scan failed");
	if (d->overflow)
		return st_fail(err, ST_E_CAP,
			       "detector: more than %d candidate spans in %zu bytes",
			       CANDIDATES_MAX, len);
	size_t k = 0;
	for (size_t i = 0; i < d->nc; i++) {
		struct cand *c = &d->c[i];
		unsigned kind = c->id / 1000, sub = c->id % 1000;
		size_t a = c->from, b = c->to;
		bool ok = false;
		switch (kind) {
		case ST_DET_CARD: ok = card(text, len, a, b); break;
		case ST_DET_IBAN: {
			size_t e = iban(text, len, a, b);
			ok = e != 0;
			if (ok)
				b = e;
			break;
		}
		case ST_DET_SSN:
			ok = ssn(text, len, a, b, sub == 3); /* 3: nine bare digits */
			break;
		case ST_DET_EMAIL:
			ok = email(text, len, a, b) &&
			     !(b < len && (isalnum((unsigned char)text[b])));
			break;
		case ST_DET_PHONE: ok = phone(text, len, a, b); break;
		case ST_DET_IP:
			ok = memchr(text + a, ':', b - a) ? ipv6(text, len, a, b)
							  : ipv4(text, len, a, b);
			break;
		case ST_DET_JWT: ok = bounded(text, len, a, b) && jwt(text, a, b); break;
		case ST_DET_SECRET: ok = high_entropy(text, len, a, b); break;
		case ST_DET_AWS_KEY:
		case ST_DET_GITHUB_TOKEN:
		case ST_DET_GITLAB_TOKEN:
		case ST_DET_GCP_KEY:
			ok = !is_alnum_at(text, len, b) &&
			     !(a > 0 && is_alnum_at(text, len, a - 1) &&
			       kind != ST_DET_GCP_KEY);
			break;
		default:
			ok = true; /* categories, PEM, Azure, Slack: the pattern is the rule */
			break;
		}
		if (!ok)
			continue;
		if (kind >= ST_DET_CAT_HR && kind <= ST_DET_CAT_PRIVATE) {
			/* the pattern includes one bounding character each side */
			if (a < b && !isalnum((unsigned char)text[a]) &&
			    (unsigned char)text[a] < 0x80)
				a++;
			if (b > a && b <= len && !isalnum((unsigned char)text[b - 1]) &&
			    (unsigned char)text[b - 1] < 0x80)
				b--;
		}
		struct st_match x = {(uint16_t)kind, (uint32_t)a, (uint32_t)b};
		/* one match per span and kind: the longest from a start */
		bool dup = false;
		for (size_t j = 0; j < k; j++) {
			if (m[j].kind != x.kind)
				continue;
			if (x.start >= m[j].start && x.end <= m[j].end) {
				dup = true;
				break;
			}
			if (m[j].start >= x.start && m[j].end <= x.end) {
				m[j] = x;
				dup = true;
				break;
			}
		}
		if (dup)
			continue;
		if (k >= cap || k >= ST_DETECT_MATCHES_MAX)
			return st_fail(err, ST_E_CAP,
				       "detector: more than %zu matches in %zu bytes",
				       cap, len);
		m[k++] = x;
	}
	/* a span inside a bigger span of another kind: keep both (the caller
	 * decides by outcome); but a high-entropy token that is a known
	 * credential or personal datum is that, not "secret" */
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		bool covered = false;
		if (m[i].kind == ST_DET_SECRET)
			for (size_t j = 0; j < k; j++)
				if (j != i && m[j].kind != ST_DET_SECRET &&
				    m[j].start <= m[i].start && m[j].end >= m[i].end)
					covered = true;
		if (!covered)
			m[w++] = m[i];
	}
	qsort(m, w, sizeof *m, by_start);
	*n = w;
	sodium_memzero(d->c, d->nc * sizeof *d->c);
	return 0;
}
