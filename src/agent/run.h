/* run.h - owns the running agent: the event loop that joins capture,
 * recorder, spool, local control, the state file and signals. Records only
 * with an accepted notice; never logs content (counts and states only). */
#ifndef ST_RUN_H
#define ST_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/consent.h"

#define ST_RUN_BATCH_MS_DEFAULT 100

struct st_run_cfg {
	const struct st_agent_paths *paths;
	const char *backend;   /* "x11" or "eventfile" */
	const char *display;   /* x11 */
	const char *eventfile; /* eventfile */
	double speed;          /* eventfile */
	bool exit_at_end;      /* stop when the source ends */
	uint64_t segment_ns, idle_ns;
	uint32_t motion_hz;
	/* x11: after a read that found input, the loop leaves the X
	 * connections unread for this long, then reads what came in one go:
	 * under steady input one wake-up per batch_ms instead of one or two
	 * per event. Event times come from the X server, so nothing recorded
	 * changes. The control socket, a stop, pauses and lease expiry are
	 * never delayed: a control request or a stop first reads what the
	 * display sent before it, and a pause or expiry still takes effect
	 * before the events behind it are read. 0: every event at once. The
	 * eventfile backend ignores it. */
	uint32_t batch_ms;
	uint64_t spool_max;
	bool dev;              /* --dev given */
	const char *data_dir;  /* filter data (category lists); NULL = built in */
	uint64_t backoff_min_ms, backoff_max_ms; /* uploader; 0 = defaults */
	uint64_t notice_check_ms;                /* uploader; 0 = default */
	FILE *log;             /* states and counts only */
};

/* Runs until SIGTERM/SIGINT/SIGHUP (or the event file's end with
 * exit_at_end). A folder enrolled with a server also runs the uploader on a
 * second thread (agent/upload.h); a development (--local) folder does not.
 *
 * When the server names a new notice, the uploader keeps it as pending and
 * recording stops ("a new notice needs your acceptance"). Once the person
 * ran `accept` (the pending files are gone and the new acceptance loads),
 * st_agent_run returns 0 with *reload set: the caller calls it again, so
 * identity, policy, filter and capture all start afresh from the accepted
 * files. reload may be NULL (then it just returns). */
int st_agent_run(const struct st_run_cfg *cfg, bool *reload,
		 struct st_error *err);

#endif
