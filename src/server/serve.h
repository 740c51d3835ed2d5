/* serve.h - owns `sealtrace serve`: the running server that joins config,
 * store, the HTTP front (http.h), the API handlers (api.h) and the ingest
 * committer, until SIGTERM or SIGINT. Never reads a master secret; never
 * logs bodies, tokens or recorded content. */
#ifndef ST_SERVE_H
#define ST_SERVE_H

#include <stdio.h>

#include "core/err.h"
#include "server/config.h"

struct st_serve_opts {
	FILE *log;             /* one line per request and per state change */
	const char *url_file;  /* written (atomically) with the base URL once
				  listening: how scripts learn a port-0 port */
	int stop_fd;           /* -1, or an fd whose readability stops the
				  server (tests); signals always do */
};

/* Runs until asked to stop: stops accepting, lets requests in flight finish
 * (bounded by connection_timeout_s), commits what was acknowledged, closes
 * the store. 0 on a clean stop. */
int st_serve(const struct st_server_config *cfg,
	     const struct st_serve_opts *o, struct st_error *err);

#endif
