/* filter.c - bench-filter: throughput of the detectors (st_detect) on a
 * generated, human-shaped text, and their recall on the labelled corpus'
 * personal-data cases. Writes, on request, the same text's first slice and
 * the located corpus values for bench/redact-pii.js, so that bench/filter.sh
 * compares both tools on the same bytes. Never reads or writes anything but
 * the data folder, the corpus and the files it is told to write.
 *
 * Text: lines of 20-200 bytes drawn with a fixed seed (splitmix64) from
 * work sentences, chat, code and shell lines; about one line in 30 carries
 * a sensitive value (card, IBAN, SSN, email, phone, IP, AWS key id, GitHub
 * token) and one in 60 a category phrase, as typed text would.
 *
 * Timing: clock_gettime(CLOCK_PROCESS_CPUTIME_ID) around one pass of
 * st_detect over every line, one call per line, as the filter calls it; the
 * process is single-threaded, so this is the CPU time of one core. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/detect.h"

#define SEED_DEFAULT 20261124ull
#define MB_DEFAULT 100u
#define MB_MAX 4096u         /* text size cap */
#define LINE_MIN 20u
#define LINE_MAX 200u
#define CORPUS_LINE_MAX 4096u
#define CORPUS_CASES_MAX 100000u
#define VALUE_MAX 128u

/* --- seeded generator ------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

#define PICK(a) (a)[below((unsigned)(sizeof(a) / sizeof *(a)))]

static const char *const work[] = {
	"Can we move the design review to Thursday afternoon?",
	"I merged the PR, please rebase your branch before pushing.",
	"The build is green again after the flaky test fix.",
	"Let's sync after lunch about the Q3 roadmap and the hiring plan.",
	"The customer wants the export in CSV, not Excel.",
	"Latency went from 120 ms to 45 ms after the index change.",
	"Please update the ticket with the repro steps and the logs.",
	"We should deprecate the v1 endpoint by the end of the year.",
	"The vendor sent a new contract draft, legal is reviewing it.",
	"I've added unit tests for the parser edge cases.",
	"The migration script is idempotent, safe to rerun.",
	"We hit the API rate limit around 3pm every day.",
	"I'll write up the postmortem by Friday, draft is in the doc.",
	"The dashboard shows 2,341 active users right now.",
	"Reminder: submit your timesheets by Friday 5pm.",
	"Order #4400-1827-3365 has shipped, tracking 1Z999AA10123456784.",
	"Invoice INV-2024-00153 is overdue, total $12,480.50.",
	"Updated the agent to version 4.18.2 on all hosts.",
	"commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixes the race.",
	"request_id=f47ac10b-58cc-4372-a567-0e02b2c3d479 failed at 14:22:07.",
	"The meeting is on 2024-03-15 at 10:30 in room 4B.",
	"The license costs EUR 1.299,00 per seat per year.",
};

static const char *const chat[] = {
	"ok", "lgtm", "+1", "brb, 5 min", "thanks!", "sounds good",
	"can you check?", "on it", "haha yes", "sure, after standup",
	"coffee?", "just pushed", "the build is broken again :(",
	"who broke main?", "nice catch", "I'm out tomorrow", "ping me later",
	"np", "will do", "ugh, merge conflicts", "see you at 3",
};

static const char *const code[] = {
	"for (size_t i = 0; i < n; i++) sum += v[i];",
	"if (err) return -1;",
	"std::vector<int> v{1, 2, 3};",
	"def parse_config(path: str) -> dict:",
	"return {\"status\": \"ok\", \"count\": len(items)}",
	"SELECT id, created_at FROM users WHERE id = 42;",
	"const res = await fetch(`/api/v1/items?page=${page}`);",
	"console.log(\"user clicked\", event.target.id);",
	"let x = Vec::new();",
	"memcpy(dst, src, sizeof(struct st_match) * n);",
	"df.groupby(\"region\")[\"revenue\"].sum().sort_values()",
	"hash = hashlib.sha256(data).hexdigest()",
	"<div class=\"container mx-auto px-4 py-2\">",
	"import { useState, useEffect } from \"react\";",
};

static const char *const shell[] = {
	"git log --oneline -n 20", "ninja -C build && meson test -C build",
	"kubectl get pods -n staging -o wide", "docker compose up -d --build",
	"pip install -r requirements.txt", "grep -rn TODO src/ | wc -l",
	"ssh -i ~/.ssh/id_ed25519 deploy@build-01", "ls -la /var/log/nginx/",
	"curl -s https://api.example.com/v1/status | jq .",
	"tar -xzf tool-2.4.1-linux-amd64.tar.gz -C /opt",
};

static const char *const category[] = {
	"I have a doctor's appointment at 9, back after.",
	"My tax return is due next week, ugh.",
	"He's on a performance improvement plan since March.",
	"HR scheduled a disciplinary hearing for Monday.",
	"I think I'm being bullied by my manager.",
	"My wife and I are getting a divorce.",
};

static const char *const first[] = {"alice", "bob", "carol", "dave", "erin",
				     "frank", "grace", "heidi", "ivan", "judy"};
static const char *const last[] = {"smith", "jones", "garcia", "muller",
				    "rossi", "novak", "silva", "tanaka"};

static void digits(char *out, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = (char)('0' + below(10));
	out[n] = 0;
}

static char luhn_digit(const char *body, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)(body[n - 1 - i] - '0');
		if (i % 2 == 0) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

/* A sensitive value built by its format's rules (never by the detectors). */
static void sensitive(char *v, size_t cap)
{
	char d[40];
	switch (below(8)) {
	case 0: { /* Visa or Mastercard, Luhn */
		d[0] = below(2) ? '4' : '5';
		d[1] = d[0] == '5' ? (char)('1' + below(5)) : (char)('0' + below(10));
		digits(d + 2, 13);
		d[15] = luhn_digit(d, 15);
		d[16] = 0;
		if (below(2))
			snprintf(v, cap, "card %.4s %.4s %.4s %.4s please", d,
				 d + 4, d + 8, d + 12);
		else
			snprintf(v, cap, "card number: %s", d);
		break;
	}
	case 1: { /* German IBAN: mod 97 over BBAN + "DE00" as digits */
		digits(d, 18);
		unsigned rem = 0;
		for (int i = 0; i < 18; i++)
			rem = (rem * 10 + (unsigned)(d[i] - '0')) % 97;
		rem = (rem * 100 + 13) % 97; /* D */
		rem = (rem * 100 + 14) % 97; /* E */
		rem = (rem * 100) % 97;      /* 00 */
		snprintf(v, cap, "IBAN: DE%02u%s for the deposit", 98 - rem, d);
		break;
	}
	case 2: { /* SSN by the SSA rules */
		unsigned area = 1 + below(899);
		if (area == 666)
			area = 665;
		snprintf(v, cap, "SSN %03u-%02u-%04u on the form", area,
			 1 + below(99), 1 + below(9999));
		break;
	}
	case 3:
		snprintf(v, cap, "mail %s.%s@example.com about it", PICK(first),
			 PICK(last));
		break;
	case 4:
		snprintf(v, cap, "call me on +1 %u 555 01%02u", 201 + below(700),
			 below(100));
		break;
	case 5:
		snprintf(v, cap, "ssh admin@203.0.113.%u", 1 + below(254));
		break;
	case 6: {
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
		char k[17];
		for (int i = 0; i < 16; i++)
			k[i] = al[below(32)];
		k[16] = 0;
		snprintf(v, cap, "export AWS_ACCESS_KEY_ID=AKIA%s", k);
		break;
	}
	default: {
		static const char al[] =
			"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
		char k[37];
		for (int i = 0; i < 36; i++)
			k[i] = al[below(62)];
		k[36] = 0;
		snprintf(v, cap, "GITHUB_TOKEN=ghp_%s", k);
		break;
	}
	}
}

/* One line of LINE_MIN..LINE_MAX bytes (no newline) into out. */
static size_t make_line(char *out)
{
	size_t target = LINE_MIN + below(LINE_MAX - LINE_MIN + 1), n = 0;
	char frag[VALUE_MAX + 64];
	while (n < target) {
		unsigned r = below(1000);
		const char *f;
		if (r < 33) {
			sensitive(frag, sizeof frag);
			f = frag;
		} else if (r < 50) {
			f = PICK(category);
		} else if (r < 450) {
			f = PICK(work);
		} else if (r < 700) {
			f = PICK(chat);
		} else if (r < 900) {
			f = PICK(code);
		} else {
			f = PICK(shell);
		}
		size_t fl = strlen(f);
		if (n) {
			if (n + 1 >= target)
				break;
			out[n++] = ' ';
		}
		if (n + fl > target)
			fl = target - n;
		memcpy(out + n, f, fl);
		n += fl;
	}
	while (n < LINE_MIN)
		out[n++] = '.';
	return n;
}

/* --- corpus: located values ------------------------------------------- */

struct lcase {
	uint16_t kind;
	char *text;
	size_t len;
	size_t vs, ve; /* the sensitive value: [vs, ve) */
};

static bool isd(char c) { return c >= '0' && c <= '9'; }
static bool isup(char c) { return c >= 'A' && c <= 'Z'; }
static bool isal(char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static bool isan(char c) { return isd(c) || isal(c); }

/* The longest run of chars in set holding at least min_digits digits,
 * trimmed to start and end on a digit (or '+'/'(' at the start). */
static bool longest_run(const char *t, size_t len, const char *set,
			unsigned min_digits, size_t *vs, size_t *ve)
{
	size_t best = 0;
	for (size_t i = 0; i < len;) {
		if (!strchr(set, t[i]) || !t[i]) {
			i++;
			continue;
		}
		size_t j = i;
		unsigned nd = 0;
		while (j < len && t[j] && strchr(set, t[j]))
			nd += isd(t[j++]);
		size_t a = i, b = j;
		while (a < b && !isd(t[a]) && t[a] != '+' && t[a] != '(')
			a++;
		while (b > a && !isd(t[b - 1]))
			b--;
		if (nd >= min_digits && b - a > best) {
			best = b - a;
			*vs = a, *ve = b;
		}
		i = j;
	}
	return best > 0;
}

/* Finds the value of a positive case by its format's shape alone: a
 * reference for both tools, independent of either's detectors. */
static bool locate(struct lcase *c)
{
	const char *t = c->text;
	size_t len = c->len;
	switch (c->kind) {
	case ST_DET_EMAIL:
		/* the first '@' with a local part before it and a dotted
		 * domain after it ("@Frank" is a mention, not an address) */
		for (size_t p = 0; p < len; p++) {
			if (t[p] != '@')
				continue;
			size_t a = p, b = p + 1;
			bool dot = false;
			while (a > 0 && (isan(t[a - 1]) || strchr("._%+-'", t[a - 1])))
				a--;
			while (b < len && (isan(t[b]) || t[b] == '.' || t[b] == '-'))
				dot |= t[b++] == '.';
			while (b > p + 1 && t[b - 1] == '.')
				b--;
			if (a < p && dot && b > p + 3) {
				c->vs = a, c->ve = b;
				return true;
			}
		}
		return false;
	case ST_DET_CARD:
		return longest_run(t, len, "0123456789 -", 13, &c->vs, &c->ve);
	case ST_DET_SSN:
		return longest_run(t, len, "0123456789 -", 9, &c->vs, &c->ve);
	case ST_DET_PHONE:
		return longest_run(t, len, "0123456789 +()./-", 7, &c->vs, &c->ve);
	case ST_DET_IBAN:
		for (size_t i = 0; i + 4 <= len; i++) {
			if ((i && isan(t[i - 1])) || !isup(t[i]) || !isup(t[i + 1]) ||
			    !isd(t[i + 2]) || !isd(t[i + 3]))
				continue;
			size_t b = i + 4;
			while (b < len && (isd(t[b]) || isup(t[b]) ||
					   (t[b] == ' ' && b + 1 < len &&
					    (isd(t[b + 1]) || isup(t[b + 1])))))
				b++;
			if (b - i >= 15) {
				c->vs = i, c->ve = b;
				return true;
			}
		}
		return false;
	case ST_DET_IP: {
		/* IPv4: the first run of digits and dots with four parts;
		 * IPv6: the first run of hex digits and colons with two colons */
		for (size_t i = 0; i < len; i++) {
			size_t b = i, dots = 0;
			while (b < len && (isd(t[b]) || t[b] == '.'))
				dots += t[b++] == '.';
			while (b > i && t[b - 1] == '.')
				b--, dots--;
			if (dots == 3 && isd(t[i]) && (!i || !isan(t[i - 1]))) {
				c->vs = i, c->ve = b;
				return true;
			}
			if (b > i)
				i = b;
		}
		for (size_t i = 0; i < len; i++) {
			size_t b = i, colons = 0;
			while (b < len && (isd(t[b]) || ((t[b] | 32) >= 'a' &&
							  (t[b] | 32) <= 'f') ||
					   t[b] == ':'))
				colons += t[b++] == ':';
			if (colons >= 2 && b - i >= 6) {
				c->vs = i, c->ve = b;
				return true;
			}
			if (b > i)
				i = b;
		}
		return false;
	}
	default:
		return false;
	}
}

static int kind_by_name(const char *name, uint16_t *out)
{
	for (unsigned k = 1; k < 256; k++)
		if (!strcmp(st_detect_kind_name((uint16_t)k), name)) {
			*out = (uint16_t)k;
			return 0;
		}
	return -1;
}

static bool personal(uint16_t k)
{
	return k == ST_DET_EMAIL || k == ST_DET_PHONE || k == ST_DET_CARD ||
	       k == ST_DET_SSN || k == ST_DET_IBAN || k == ST_DET_IP;
}

/* Reads the personal-data positives of one corpus file. */
static int load_cases(const char *path, struct lcase *cs, size_t *n,
		      size_t *unlocated)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench-filter: cannot open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	static char buf[CORPUS_LINE_MAX + 2];
	while (fgets(buf, sizeof buf, f)) {
		size_t len = strlen(buf);
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = 0;
		char *tab = strchr(buf, '\t');
		if (!len || buf[0] == '#' || !tab)
			continue;
		*tab = 0;
		uint16_t k;
		if (kind_by_name(buf, &k) < 0 || !personal(k))
			continue;
		if (*n >= CORPUS_CASES_MAX)
			break;
		struct lcase *c = &cs[*n];
		c->kind = k;
		c->text = strdup(tab + 1);
		c->len = strlen(tab + 1);
		if (!c->text) {
			fclose(f);
			return -1;
		}
		if (!locate(c)) {
			(*unlocated)++;
			free(c->text);
			continue;
		}
		(*n)++;
	}
	fclose(f);
	return 0;
}

/* --- main ------------------------------------------------------------- */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-filter [--seed N] [--mb N] [--data DIR] [--root DIR]\n"
		"                    [--text-out FILE --slice-mb N] [--cases-out FILE]\n");
}

int main(int argc, char **argv)
{
	uint64_t seed = SEED_DEFAULT;
	unsigned mb = MB_DEFAULT, slice_mb = 2;
	const char *root = getenv("ST_SOURCE_ROOT");
	const char *data = NULL, *text_out = NULL, *cases_out = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--mb"))
			mb = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--slice-mb"))
			slice_mb = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--data"))
			data = v;
		else if (!strcmp(a, "--root"))
			root = v;
		else if (!strcmp(a, "--text-out"))
			text_out = v;
		else if (!strcmp(a, "--cases-out"))
			cases_out = v;
		else {
			usage();
			return 2;
		}
	}
	if (mb == 0 || mb > MB_MAX || slice_mb == 0 || slice_mb > mb) {
		fprintf(stderr, "bench-filter: --mb must be 1-%u and --slice-mb "
				"1..--mb\n", MB_MAX);
		return 2;
	}
	if (!root)
		root = ".";
	char dir[4096];
	if (data)
		snprintf(dir, sizeof dir, "%s", data);
	else
		snprintf(dir, sizeof dir, "%s/data/filter", root);

	struct st_detector *det = NULL;
	struct st_error e = {0};
	if (st_detector_new(dir, &det, &e) < 0) {
		fprintf(stderr, "bench-filter: %s (run from the source tree or "
				"set ST_SOURCE_ROOT)\n", e.msg);
		return 1;
	}

	/* generate */
	size_t total = (size_t)mb * 1000000u;
	char *text = malloc(total + LINE_MAX + 1);
	size_t max_lines = total / LINE_MIN + 1;
	uint32_t *off = malloc((max_lines + 1) * sizeof *off);
	if (!text || !off) {
		fprintf(stderr, "bench-filter: out of memory for %u MB\n", mb);
		return 1;
	}
	rng_state = seed;
	size_t nl = 0, at = 0;
	while (at < total) {
		off[nl++] = (uint32_t)at;
		at += make_line(text + at);
		text[at++] = '\n';
	}
	off[nl] = (uint32_t)at;

	static struct st_match m[ST_DETECT_MATCHES_MAX];
	uint64_t by_kind[256] = {0};
	size_t failed = 0;
	size_t slice_end = 0, slice_lines = 0;
	double slice_s = 0;
	double t0 = cpu_now();
	for (size_t i = 0; i < nl; i++) {
		size_t n = 0;
		size_t len = off[i + 1] - off[i] - 1;
		if (st_detect(det, text + off[i], len, m, ST_DETECT_MATCHES_MAX, &n,
			      NULL) < 0)
			failed++;
		for (size_t j = 0; j < n; j++)
			by_kind[m[j].kind & 0xff]++;
		if (!slice_lines && off[i + 1] >= (size_t)slice_mb * 1000000u) {
			slice_lines = i + 1;
			slice_end = off[i + 1];
			slice_s = cpu_now() - t0;
		}
	}
	double secs = cpu_now() - t0;
	if (!slice_lines) {
		slice_lines = nl, slice_end = at, slice_s = secs;
	}

	printf("seed: %llu\n", (unsigned long long)seed);
	printf("clock: CLOCK_PROCESS_CPUTIME_ID, one core, one pass\n");
	printf("text_bytes: %zu bytes\n", at);
	printf("text_lines: %zu lines\n", nl);
	printf("filter_scan_s: %.3f s\n", secs);
	printf("filter_mb_per_s: %.1f MB/s\n", (double)at / 1e6 / secs);
	printf("filter_ns_per_keystroke: %.1f ns\n", secs * 1e9 / (double)at);
	printf("filter_slice_bytes: %zu bytes\n", slice_end);
	printf("filter_slice_mb_per_s: %.1f MB/s\n",
	       (double)slice_end / 1e6 / slice_s);
	printf("filter_failed_lines: %zu lines\n", failed);
	for (unsigned k = 1; k < 256; k++)
		if (by_kind[k])
			printf("filter_matches_%s: %llu matches\n",
			       st_detect_kind_name((uint16_t)k),
			       (unsigned long long)by_kind[k]);

	if (text_out) {
		FILE *f = fopen(text_out, "w");
		if (!f || fwrite(text, 1, slice_end, f) != slice_end || fclose(f)) {
			fprintf(stderr, "bench-filter: cannot write %s: %s\n",
				text_out, strerror(errno));
			return 1;
		}
	}

	/* recall on the corpus' personal-data positives: found when a match
	 * that the filter would redact (personal data or credential) overlaps
	 * the located value, i.e. the value would not survive unchanged */
	struct lcase *cs = calloc(CORPUS_CASES_MAX, sizeof *cs);
	size_t ncs = 0, unlocated = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/corpus/cases.tsv", root);
	if (!cs || load_cases(path, cs, &ncs, &unlocated) < 0)
		return 1;
	snprintf(path, sizeof path, "%s/tests/corpus/generated.tsv", root);
	if (load_cases(path, cs, &ncs, &unlocated) < 0)
		return 1;
	FILE *cf = NULL;
	if (cases_out && !(cf = fopen(cases_out, "w"))) {
		fprintf(stderr, "bench-filter: cannot write %s: %s\n", cases_out,
			strerror(errno));
		return 1;
	}
	size_t pos[256] = {0}, hit[256] = {0}, all_pos = 0, all_hit = 0;
	for (size_t i = 0; i < ncs; i++) {
		struct lcase *c = &cs[i];
		size_t n = 0;
		bool found = false;
		if (st_detect(det, c->text, c->len, m, ST_DETECT_MATCHES_MAX, &n,
			      NULL) < 0)
			found = true; /* failed closed: the line is dropped */
		for (size_t j = 0; j < n; j++) {
			enum st_detect_outcome o = st_detect_outcome(m[j].kind);
			if ((o == ST_OUT_REDACT || o == ST_OUT_CREDENTIAL) &&
			    m[j].start < c->ve && m[j].end > c->vs)
				found = true;
		}
		pos[c->kind]++, all_pos++;
		hit[c->kind] += found, all_hit += found;
		if (!found && getenv("ST_BENCH_VERBOSE"))
			fprintf(stderr, "bench-filter: missed %s [%zu, %zu): %s\n",
				st_detect_kind_name(c->kind), c->vs, c->ve, c->text);
		if (cf)
			fprintf(cf, "%s\t%.*s\t%s\n", st_detect_kind_name(c->kind),
				(int)(c->ve - c->vs), c->text + c->vs, c->text);
	}
	if (cf && fclose(cf)) {
		fprintf(stderr, "bench-filter: cannot write %s\n", cases_out);
		return 1;
	}
	printf("recall_cases: %zu cases\n", all_pos);
	printf("recall_cases_unlocated: %zu cases\n", unlocated);
	static const uint16_t kinds[] = {ST_DET_EMAIL, ST_DET_PHONE, ST_DET_CARD,
					 ST_DET_SSN, ST_DET_IBAN, ST_DET_IP};
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		printf("filter_recall_%s: %.3f ratio\n",
		       st_detect_kind_name(kinds[i]),
		       pos[kinds[i]] ? (double)hit[kinds[i]] / (double)pos[kinds[i]]
				     : 1.0);
	printf("filter_recall_personal: %.3f ratio\n",
	       all_pos ? (double)all_hit / (double)all_pos : 1.0);

	for (size_t i = 0; i < ncs; i++)
		free(cs[i].text);
	free(cs);
	free(off);
	free(text);
	st_detector_free(det);
	return 0;
}
