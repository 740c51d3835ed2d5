/* run.h - owns the running agent: the event loop that joins capture,
 * recorder, spool, local control, the state file and signals. Records only
 * with an accepted notice; never logs content (counts and states only). */
#ifndef ST_RUN_H
#define ST_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/consent.h"

struct st_run_cfg {
	const struct st_agent_paths *paths;
	const char *backend;   /* "x11" or "eventfile" */
	const char *display;   /* x11 */
	const char *eventfile; /* eventfile */
	double speed;          /* eventfile */
	bool exit_at_end;      /* stop when the source ends */
	uint64_t segment_ns, idle_ns;
	uint32_t motion_hz;
	uint64_t spool_max;
	bool dev;              /* --dev given */
	const char *data_dir;  /* filter data (category lists); NULL = built in */
	FILE *log;             /* states and counts only */
};

int st_agent_run(const struct st_run_cfg *cfg, struct st_error *err);

#endif
