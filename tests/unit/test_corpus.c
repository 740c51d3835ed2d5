/* test_corpus.c - the detectors against the labelled corpus
 * (tests/corpus/cases.tsv, hand-written, and tests/corpus/generated.tsv,
 * from the seeded tests/corpus/gen.py): per-kind precision and recall,
 * printed as "corpus_<kind>_<figure>: value unit" lines, and failing below
 * the targets. Real detector, real keyword lists from data/filter.
 *
 * Scoring. A positive case is found when st_detect reports a match of its
 * expected kind; for credentials any credential kind will do (they share one
 * outcome, so they are pooled as the class "credential"). A `none` case is a
 * false positive of every personal-data kind it makes st_detect report, of
 * "credential" if it reports any credential kind, and of every category it
 * reports (categories are counted on their own lines). Matches of other
 * kinds inside a positive case count for nothing: a sentence with an email
 * may also hold a phone number.
 *
 * ST_CORPUS_VERBOSE=1 prints every miss and false positive with its file and
 * line, to see what a change to the detectors broke. */
#include "helpers.h"

#include <stdbool.h>

#include "filter/detect.h"

#define CORPUS_LINE_MAX 4096     /* bytes of one corpus line */
#define CORPUS_CASES_MAX 100000  /* cases in both files together */

/* Targets (the brief of the filter): recall and precision for the kinds that
 * are gated, recall for the level-4 categories that are gated. */
#define TARGET_RECALL 0.99
#define TARGET_PRECISION 0.97
#define TARGET_CAT_RECALL 0.95
/* cases.tsv alone must stay a corpus worth the name */
#define HAND_CASES_MIN 1000
#define HAND_POSITIVES_MIN 300

struct kcase {
	const char *file;
	unsigned line;
	uint16_t want; /* ST_DET_NONE for a "none" case */
	char *text;
	size_t len;
};

struct corpus {
	struct kcase *c;
	size_t n;
	size_t hand, hand_pos; /* cases and positives of cases.tsv */
};

static struct st_detector *det;
static struct corpus corp;

/* Classes scored: index into the tables below. */
enum {
	C_CARD, C_IBAN, C_SSN, C_EMAIL, C_PHONE, C_IP, C_CRED,
	C_AWS, C_GCP, C_AZURE, C_GITHUB, C_GITLAB, C_SLACK, C_JWT, C_PEM, C_SECRET,
	C_HEALTH, C_TAX, C_PRIVATE, C_HR, C_PERF, C_REL,
	C_N
};

static const struct {
	const char *name;
	uint16_t kind;   /* 0 for the pooled credential class */
	bool gated;      /* precision and recall targets */
	bool gated_recall; /* recall target only (categories) */
} cls[C_N] = {
	[C_CARD] = {"card", ST_DET_CARD, true, false},
	[C_IBAN] = {"iban", ST_DET_IBAN, true, false},
	[C_SSN] = {"ssn", ST_DET_SSN, true, false},
	[C_EMAIL] = {"email", ST_DET_EMAIL, true, false},
	[C_PHONE] = {"phone", ST_DET_PHONE, false, false},
	[C_IP] = {"ip", ST_DET_IP, false, false},
	[C_CRED] = {"credential", 0, true, false},
	[C_AWS] = {"aws_key", ST_DET_AWS_KEY, false, false},
	[C_GCP] = {"gcp_key", ST_DET_GCP_KEY, false, false},
	[C_AZURE] = {"azure_key", ST_DET_AZURE_KEY, false, false},
	[C_GITHUB] = {"github_token", ST_DET_GITHUB_TOKEN, false, false},
	[C_GITLAB] = {"gitlab_token", ST_DET_GITLAB_TOKEN, false, false},
	[C_SLACK] = {"slack_token", ST_DET_SLACK_TOKEN, false, false},
	[C_JWT] = {"jwt", ST_DET_JWT, false, false},
	[C_PEM] = {"pem_key", ST_DET_PEM_KEY, false, false},
	[C_SECRET] = {"secret", ST_DET_SECRET, false, false},
	[C_HEALTH] = {"health", ST_DET_CAT_HEALTH, false, true},
	[C_TAX] = {"tax", ST_DET_CAT_TAX, false, true},
	[C_PRIVATE] = {"private", ST_DET_CAT_PRIVATE, false, false},
	[C_HR] = {"hr", ST_DET_CAT_HR, false, false},
	[C_PERF] = {"performance", ST_DET_CAT_PERFORMANCE, false, false},
	[C_REL] = {"relations", ST_DET_CAT_RELATIONS, false, false},
};

struct score {
	size_t pos, found, fp;
};

static bool is_cred(uint16_t k)
{
	return st_detect_outcome(k) == ST_OUT_CREDENTIAL;
}

static int kind_by_name(const char *name, uint16_t *out)
{
	if (!strcmp(name, "none")) {
		*out = ST_DET_NONE;
		return 0;
	}
	for (unsigned k = 1; k < 256; k++)
		if (!strcmp(st_detect_kind_name((uint16_t)k), name)) {
			*out = (uint16_t)k;
			return 0;
		}
	return -1;
}

/* Appends the cases of one file; a malformed line fails the whole run,
 * naming the file and the line. */
static int load(const char *root, const char *name, struct corpus *cp,
		bool hand)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/corpus/%s", root, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "corpus: cannot open %s: is ST_SOURCE_ROOT the "
				"source tree? (for generated.tsv: run "
				"tests/corpus/gen.py)\n", path);
		return -1;
	}
	char *buf = malloc(CORPUS_LINE_MAX + 2);
	unsigned lineno = 0;
	int rc = 0;
	while (buf && fgets(buf, CORPUS_LINE_MAX + 2, f)) {
		lineno++;
		size_t len = strlen(buf);
		if (len > CORPUS_LINE_MAX) {
			fprintf(stderr, "corpus: %s line %u: over %d bytes\n",
				path, lineno, CORPUS_LINE_MAX);
			rc = -1;
			break;
		}
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = 0;
		if (!len || buf[0] == '#')
			continue;
		char *tab = strchr(buf, '\t');
		if (!tab || tab[1] == 0) {
			fprintf(stderr, "corpus: %s line %u: want KIND<TAB>TEXT\n",
				path, lineno);
			rc = -1;
			break;
		}
		*tab = 0;
		uint16_t want;
		if (kind_by_name(buf, &want) < 0) {
			fprintf(stderr, "corpus: %s line %u: unknown kind '%s'; use a "
					"name st_detect_kind_name gives, or none\n",
				path, lineno, buf);
			rc = -1;
			break;
		}
		if (cp->n >= CORPUS_CASES_MAX) {
			fprintf(stderr, "corpus: more than %d cases\n", CORPUS_CASES_MAX);
			rc = -1;
			break;
		}
		struct kcase *c = &cp->c[cp->n++];
		c->file = name;
		c->line = lineno;
		c->want = want;
		c->len = strlen(tab + 1);
		c->text = strdup(tab + 1);
		if (!c->text) {
			rc = -1;
			break;
		}
		if (hand) {
			cp->hand++;
			cp->hand_pos += want != ST_DET_NONE;
		}
	}
	if (!buf)
		rc = -1;
	free(buf);
	fclose(f);
	return rc;
}

static int setup(void **s)
{
	(void)s;
	const char *root = getenv("ST_SOURCE_ROOT");
	if (!root)
		root = ".";
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/data/filter", root);
	struct st_error e = {0};
	if (st_detector_new(dir, &det, &e) < 0) {
		fprintf(stderr, "detector: %s\n", e.msg);
		return -1;
	}
	corp.c = calloc(CORPUS_CASES_MAX, sizeof *corp.c);
	if (!corp.c)
		return -1;
	if (load(root, "cases.tsv", &corp, true) < 0 ||
	    load(root, "generated.tsv", &corp, false) < 0)
		return -1;
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	for (size_t i = 0; i < corp.n; i++)
		free(corp.c[i].text);
	free(corp.c);
	st_detector_free(det);
	return 0;
}

static double ratio(size_t num, size_t den)
{
	return den ? (double)num / (double)den : 1.0;
}

static void verbose_case(const struct kcase *c, const char *what,
			 const bool *seen)
{
	if (!getenv("ST_CORPUS_VERBOSE"))
		return;
	printf("corpus: %s:%u: %s (want %s; got", c->file, c->line, what,
	       c->want ? st_detect_kind_name(c->want) : "none");
	for (unsigned k = 1; k < 256; k++)
		if (seen[k])
			printf(" %s", st_detect_kind_name((uint16_t)k));
	printf("): %s\n", c->text);
}

/* Runs the whole corpus once; the tests below judge the figures. */
static void score_all(struct score *sc)
{
	static struct st_match m[ST_DETECT_MATCHES_MAX];
	memset(sc, 0, C_N * sizeof *sc);
	for (size_t i = 0; i < corp.n; i++) {
		const struct kcase *c = &corp.c[i];
		size_t n = 0;
		struct st_error e = {0};
		int rc = st_detect(det, c->text, c->len, m, ST_DETECT_MATCHES_MAX,
				   &n, &e);
		if (rc < 0)
			fail_msg("%s:%u: st_detect failed: %s", c->file, c->line,
				 e.msg);
		bool seen[256] = {false}, any_cred = false;
		for (size_t j = 0; j < n; j++) {
			if (m[j].start > m[j].end || m[j].end > c->len)
				fail_msg("%s:%u: match [%u, %u) outside the text of "
					 "%zu bytes", c->file, c->line, m[j].start,
					 m[j].end, c->len);
			seen[m[j].kind & 0xff] = true;
			any_cred |= is_cred(m[j].kind);
		}
		if (c->want == ST_DET_NONE) {
			bool fp = false;
			for (int k = 0; k < C_N; k++) {
				bool hit = cls[k].kind ? seen[cls[k].kind] : any_cred;
				if (hit) {
					sc[k].fp++;
					fp = true;
				}
			}
			if (fp)
				verbose_case(c, "false positive", seen);
			continue;
		}
		for (int k = 0; k < C_N; k++) {
			bool mine = cls[k].kind ? cls[k].kind == c->want
						: is_cred(c->want);
			if (!mine)
				continue;
			sc[k].pos++;
			sc[k].found += cls[k].kind ? seen[cls[k].kind] : any_cred;
		}
		bool found_any = is_cred(c->want) ? any_cred : seen[c->want];
		if (!found_any)
			verbose_case(c, "missed", seen);
	}
}

static void print_scores(const struct score *sc)
{
	printf("corpus_cases: %zu cases\n", corp.n);
	printf("corpus_hand_cases: %zu cases\n", corp.hand);
	printf("corpus_hand_positives: %zu cases\n", corp.hand_pos);
	for (int k = 0; k < C_N; k++) {
		const char *nm = cls[k].name;
		printf("corpus_%s_precision: %.3f ratio\n", nm,
		       ratio(sc[k].found, sc[k].found + sc[k].fp));
		printf("corpus_%s_recall: %.3f ratio\n", nm,
		       ratio(sc[k].found, sc[k].pos));
		printf("corpus_%s_positives: %zu cases\n", nm, sc[k].pos);
		printf("corpus_%s_found: %zu cases\n", nm, sc[k].found);
		printf("corpus_%s_false_positives: %zu cases\n", nm, sc[k].fp);
	}
	fflush(stdout);
}

static struct score scores[C_N];
static bool scored;

static const struct score *get_scores(void)
{
	if (!scored) {
		score_all(scores);
		print_scores(scores);
		scored = true;
	}
	return scores;
}

static void corpus_is_big_enough_and_covers_every_kind(void **s)
{
	(void)s;
	assert_true(corp.hand >= HAND_CASES_MIN);
	assert_true(corp.hand_pos >= HAND_POSITIVES_MIN);
	/* every scored class has positives in the hand-written file */
	for (int k = 0; k < C_N; k++) {
		size_t pos = 0;
		for (size_t i = 0; i < corp.n; i++) {
			const struct kcase *c = &corp.c[i];
			if (strcmp(c->file, "cases.tsv") || c->want == ST_DET_NONE)
				continue;
			pos += cls[k].kind ? c->want == cls[k].kind : is_cred(c->want);
		}
		if (!pos)
			fail_msg("cases.tsv has no positive case of %s", cls[k].name);
	}
}

static void personal_data_and_credentials_meet_targets(void **s)
{
	(void)s;
	const struct score *sc = get_scores();
	int missed = 0;
	for (int k = 0; k < C_N; k++) {
		if (!cls[k].gated)
			continue;
		double r = ratio(sc[k].found, sc[k].pos);
		double p = ratio(sc[k].found, sc[k].found + sc[k].fp);
		if (r < TARGET_RECALL) {
			printf("corpus: %s recall %.3f is under %.2f; "
			       "ST_CORPUS_VERBOSE=1 lists the misses\n",
			       cls[k].name, r, TARGET_RECALL);
			missed++;
		}
		if (p < TARGET_PRECISION) {
			printf("corpus: %s precision %.3f is under %.2f; "
			       "ST_CORPUS_VERBOSE=1 lists the false positives\n",
			       cls[k].name, p, TARGET_PRECISION);
			missed++;
		}
	}
	assert_int_equal(missed, 0);
}

static void health_and_tax_meet_recall_target(void **s)
{
	(void)s;
	const struct score *sc = get_scores();
	int missed = 0;
	for (int k = 0; k < C_N; k++) {
		if (!cls[k].gated_recall)
			continue;
		double r = ratio(sc[k].found, sc[k].pos);
		if (r < TARGET_CAT_RECALL) {
			printf("corpus: %s recall %.3f is under %.2f; add the "
			       "missing terms to data/filter/categories/%s.txt\n",
			       cls[k].name, r, TARGET_CAT_RECALL, cls[k].name);
			missed++;
		}
	}
	assert_int_equal(missed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_is_big_enough_and_covers_every_kind),
		cmocka_unit_test(personal_data_and_credentials_meet_targets),
		cmocka_unit_test(health_and_tax_meet_recall_target),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
