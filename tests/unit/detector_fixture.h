/* detector_fixture.h - one detector per test program, made from the source
 * tree's data/filter (ST_SOURCE_ROOT), as cmocka group setup/teardown. */
#ifndef ST_TEST_DETECTOR_FIXTURE_H
#define ST_TEST_DETECTOR_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "filter/detect.h"

static struct st_detector *det;

static int setup(void **s)
{
	(void)s;
	char dir[1024];
	const char *root = getenv("ST_SOURCE_ROOT");
	snprintf(dir, sizeof dir, "%s/data/filter", root ? root : ".");
	struct st_error e = {0};
	if (st_detector_new(dir, &det, &e) < 0) {
		fprintf(stderr, "detector: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	st_detector_free(det);
	return 0;
}

#endif
