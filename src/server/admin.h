/* admin.h - owns the administration commands of `sealtrace` (user, device,
 * enroll-token, policy apply, backup, pause, resume, status): each is one or two API calls
 * through core/client.h with an admin token. Never opens the server's
 * database; never prints a token it did not just create. */
#ifndef ST_ADMIN_H
#define ST_ADMIN_H

#include <stdio.h>

#include "core/err.h"

/* Where to reach the server: flags first, then SEALTRACE_URL /
 * SEALTRACE_TOKEN / SEALTRACE_CA, then the config file (--config, else
 * SEALTRACE_CONFIG, else $XDG_CONFIG_HOME/sealtrace/admin.json or
 * ~/.config/sealtrace/admin.json: {"url", "token", "ca"}, refused when
 * group or others may read it). */
struct st_admin_conn {
	const char *url, *token, *ca, *config;
	long timeout_ms;
};

/* Runs `sealtrace <argv[0]> ...` for an administration command; prints
 * results on out (a table, or JSON with json set). Usage errors (unknown
 * command, missing or malformed argument, no URL or token) return -EINVAL;
 * the program exits 2 for them, 1 for any other failure. */
int st_admin_run(const struct st_admin_conn *conn, int argc, char **argv,
		 int json, FILE *out, struct st_error *err);

#endif
