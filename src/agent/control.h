/* control.h - owns the local control protocol between sealtrace-agent's
 * commands and the running agent: one JSON object per line over a Unix
 * socket (0600). Never carries recorded content: requests name commands and
 * numbers, replies carry states and counts. */
#ifndef ST_CONTROL_H
#define ST_CONTROL_H

#include <stdint.h>

#include "core/err.h"

#define ST_CONTROL_LINE_MAX 4096   /* a request or reply line */
#define ST_PAUSE_SECONDS_MAX (7u * 24 * 3600)
#define ST_FORGET_MINUTES_MAX (24u * 60)

enum st_control_cmd {
	ST_CTL_STATUS = 1,
	ST_CTL_PAUSE,
	ST_CTL_RESUME,
	ST_CTL_FORGET,
	ST_CTL_FLUSH,
};

struct st_control_req {
	enum st_control_cmd cmd;
	uint64_t seconds; /* pause: 0 = until resume */
	uint64_t minutes; /* forget */
};

/* Parses one request line (without or with its newline). Strict: unknown
 * commands and keys, wrong types and out-of-range numbers are errors. */
int st_control_parse(const char *line, size_t len, struct st_control_req *req,
		     struct st_error *err);
/* Writes req as one JSON line (with newline) into out; returns its length or
 * a negative st_err. */
int st_control_format(const struct st_control_req *req, char *out, size_t cap);

/* Parses a duration: "90s", "30m", "2h", "1d" or plain seconds. */
int st_duration_parse(const char *s, uint64_t *seconds, struct st_error *err);

/* Client side: sends one request to the socket at path and reads the reply
 * line into reply (NUL-terminated). Waits at most timeout_ms. */
int st_control_call(const char *path, const struct st_control_req *req,
		    char *reply, size_t cap, int timeout_ms,
		    struct st_error *err);

/* Server side: a listening socket at path (0600; the caller makes its
 * folder). Replaces a stale socket left by a crash, never another file. */
int st_control_listen(const char *path, int *fd, struct st_error *err);

#endif
