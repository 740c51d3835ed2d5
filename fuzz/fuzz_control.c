/* fuzz_control.c - libFuzzer target for the agent's control requests: the
 * input goes whole through st_control_parse, as one line from the socket.
 * A refusal must carry its code and a message; an accepted request must be
 * in range, and formatting it and parsing that again must give the same
 * request. The input, NUL-terminated and short, also goes through
 * st_duration_parse. Never opens a socket. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/control.h"
#include "fuzz_check.h"

/* Durations are typed on a command line: longer inputs say nothing new. */
#define FUZZ_CONTROL_DURATION_MAX 64

static void check_error(int rc, const struct st_error *err, const char *what)
{
	if (err->code != rc || !err->msg[0])
		fuzz_die(what, err);
}

static void check_request(const struct st_control_req *req)
{
	if (req->cmd < ST_CTL_STATUS || req->cmd > ST_CTL_FLUSH)
		fuzz_die("accepted a request with no known command", NULL);
	if (req->seconds > ST_PAUSE_SECONDS_MAX ||
	    (req->seconds && req->cmd != ST_CTL_PAUSE))
		fuzz_die("seconds out of range or on the wrong command", NULL);
	if (req->minutes > ST_FORGET_MINUTES_MAX ||
	    (req->minutes && req->cmd != ST_CTL_FORGET) ||
	    (req->cmd == ST_CTL_FORGET && !req->minutes))
		fuzz_die("minutes out of range or on the wrong command", NULL);
}

static void check_round_trip(const struct st_control_req *req)
{
	char line[ST_CONTROL_LINE_MAX];
	int n = st_control_format(req, line, sizeof line);
	if (n <= 0 || line[n - 1] != '\n' || memchr(line, '\n', (size_t)n - 1))
		fuzz_die("an accepted request does not format as one line",
			 NULL);
	struct st_control_req back;
	struct st_error err = {0};
	if (st_control_parse(line, (size_t)n, &back, &err) < 0) {
		fprintf(stderr, "fuzz: %s", line);
		fuzz_die("a formatted request is refused", &err);
	}
	if (back.cmd != req->cmd || back.seconds != req->seconds ||
	    back.minutes != req->minutes) {
		fprintf(stderr, "fuzz: %s", line);
		fuzz_die("a request changed on its way through a line", NULL);
	}
}

static void check_duration(const uint8_t *data, size_t size)
{
	char s[FUZZ_CONTROL_DURATION_MAX + 1];
	if (size > FUZZ_CONTROL_DURATION_MAX)
		return;
	memcpy(s, data, size);
	s[size] = 0;
	uint64_t v = UINT64_MAX;
	struct st_error err = {0};
	int rc = st_duration_parse(s, &v, &err);
	if (rc < 0) {
		check_error(rc, &err, "a duration refused without a message");
		if (v != UINT64_MAX)
			fuzz_die("a refused duration was written", NULL);
	} else if (rc != 0 || v > ST_PAUSE_SECONDS_MAX) {
		fuzz_die("an accepted duration over 7 days", NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_control_req req;
	struct st_error err = {0};
	int rc = st_control_parse((const char *)data, size, &req, &err);
	if (rc < 0)
		check_error(rc, &err, "a request refused without a message");
	else if (rc != 0)
		fuzz_die("st_control_parse returned a positive value", NULL);
	else {
		check_request(&req);
		check_round_trip(&req);
	}
	check_duration(data, size);
	return 0;
}
