/* dataset.h - owns `sealtrace-export dataset`: one export under one
 * purpose, from the server's answer to a dataset folder. The server checks
 * the purpose and audits; this side loads the master secret for the length
 * of the export, unseals the people's keys, opens and re-verifies every
 * segment (a segment that fails is reported and never exported), runs the
 * privacy filter again with the level capped at the purpose's, keeps only
 * the applications and fields the purpose allows, turns events into steps
 * (export/actions.h), and writes the episodes (JSON Lines) and manifest.json
 * (docs/dataset.md) into a new 0700 folder. Logs and messages carry counts
 * and ids only, never recorded content. */
#ifndef ST_DATASET_H
#define ST_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "export/master.h"

#define ST_DATASET_FILTERS_MAX 64

struct st_dataset_opts {
	int64_t purpose;            /* the purpose's id */
	const char *out_dir;        /* made 0700; must not exist or be empty */
	const char *users[ST_DATASET_FILTERS_MAX];
	size_t n_users;
	const char *groups[ST_DATASET_FILTERS_MAX];
	size_t n_groups;
	const char *apps[ST_DATASET_FILTERS_MAX]; /* globs; inside the purpose's */
	size_t n_apps;
	int64_t since, until;       /* Unix s; -1: the purpose's */
	uint32_t idle_s;            /* episode cut; 0 = 60 */
	struct st_master_src master;
	const char *url, *token, *ca; /* NULL: SEALTRACE_URL/_TOKEN/_CA */
	const char *filter_data;    /* detector lists; NULL: built-in path */
	int progress;               /* -1 auto (a terminal), 0 off, 1 on */
};

struct st_dataset_result {
	char export_id[33];
	uint64_t segments, failed, people, episodes, steps, events;
	uint8_t manifest_sha256[32];
};

int st_dataset_run(const struct st_dataset_opts *o,
		   struct st_dataset_result *res, struct st_error *err);

#endif
