/* fuzz_detect.c - libFuzzer target for the detectors alone: st_detect on raw
 * bytes (any length, NULs and broken UTF-8 included) with one detector made
 * once from the category lists. Every match must lie inside the scanned
 * bytes, be non-empty, name a known kind and come sorted by start; a failed
 * scan must be a cap (ST_E_CAP) and report nothing; a smaller match cap must
 * give the same matches or fail closed, never fewer; the same input twice must give the
 * same answer (the scratch space keeps no state between scans).
 * Data: $ST_SOURCE_ROOT/data/filter when set, else FUZZ_DATA_DIR (the source
 * tree's, set by fuzz/meson.build). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/detect.h"
#include "fuzz_check.h"

#ifndef FUZZ_DATA_DIR
#define FUZZ_DATA_DIR "data/filter"
#endif

#define SMALL_CAP 4 /* a match cap the corpus' dense lines exceed */

/* Made once for the whole run, as the agent makes one per filter; it stays
 * reachable, so LeakSanitizer does not count it. */
static struct st_detector *det;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[4096];
	const char *root = getenv("ST_SOURCE_ROOT");
	if (root)
		snprintf(dir, sizeof dir, "%s/data/filter", root);
	else
		snprintf(dir, sizeof dir, "%s", FUZZ_DATA_DIR);
	struct st_error e = {0};
	if (st_detector_new(dir, &det, &e) < 0)
		fuzz_die("st_detector_new failed (is ST_SOURCE_ROOT the source "
			 "tree?)", &e);
	return 0;
}

static struct st_match full[ST_DETECT_MATCHES_MAX];
static struct st_match again[ST_DETECT_MATCHES_MAX];
static struct st_match small[SMALL_CAP];

static void check_matches(const struct st_match *m, size_t n, size_t scanned)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].start >= m[i].end || m[i].end > scanned) {
			fprintf(stderr, "fuzz: match %zu [%u, %u) of kind %u in %zu "
				"bytes\n", i, m[i].start, m[i].end, m[i].kind,
				scanned);
			fuzz_die("match outside the scanned text or empty", NULL);
		}
		if (!strcmp(st_detect_kind_name(m[i].kind), "unknown") ||
		    st_detect_outcome(m[i].kind) == ST_OUT_NONE)
			fuzz_die("match of an unknown kind", NULL);
		if (i && m[i - 1].start > m[i].start)
			fuzz_die("matches not sorted by start", NULL);
	}
}

/* Field by field: struct st_match has padding memcmp must not read. */
static bool same(const struct st_match *a, const struct st_match *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].kind != b[i].kind || a[i].start != b[i].start ||
		    a[i].end != b[i].end)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	/* the detector reads at most ST_DETECT_TEXT_MAX bytes of a text */
	size_t scanned = size > ST_DETECT_TEXT_MAX ? ST_DETECT_TEXT_MAX : size;
	struct st_error e = {0};
	size_t n = SIZE_MAX;
	int rc = st_detect(det, text, size, full, ST_DETECT_MATCHES_MAX, &n, &e);
	if (rc < 0) {
		if (rc != ST_E_CAP)
			fuzz_die("st_detect failed with something other than a cap",
				 &e);
		if (n != 0)
			fuzz_die("a failed scan reported matches", NULL);
		return 0;
	}
	if (n > ST_DETECT_MATCHES_MAX)
		fuzz_die("more matches than the cap", NULL);
	check_matches(full, n, scanned);

	size_t n2 = SIZE_MAX;
	if (st_detect(det, text, size, again, ST_DETECT_MATCHES_MAX, &n2, &e) < 0)
		fuzz_die("second scan of the same input failed", &e);
	if (n2 != n || !same(again, full, n))
		fuzz_die("same input, different matches", NULL);

	size_t ns = SIZE_MAX;
	struct st_error es = {0};
	rc = st_detect(det, text, size, small, SMALL_CAP, &ns, &es);
	if (rc < 0) {
		/* failing closed is always allowed (the cap may bind before
		 * duplicates are merged); reporting anything then is not */
		if (rc != ST_E_CAP || ns != 0)
			fuzz_die("a small match cap failed without failing closed",
				 &es);
	} else if (ns != n || !same(small, full, n)) {
		fuzz_die("a small match cap silently changed the matches", NULL);
	}
	return 0;
}
