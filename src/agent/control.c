/* control.c - the agent's local control protocol. */
#include "control.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *const names[] = {
	[ST_CTL_STATUS] = "status", [ST_CTL_PAUSE] = "pause",
	[ST_CTL_RESUME] = "resume", [ST_CTL_FORGET] = "forget",
	[ST_CTL_FLUSH] = "flush",
};

int st_control_parse(const char *line, size_t len, struct st_control_req *req,
		     struct st_error *err)
{
	memset(req, 0, sizeof *req);
	if (len > ST_CONTROL_LINE_MAX)
		return st_fail(err, ST_E_CAP, "control: request of %zu bytes over %u",
			       len, ST_CONTROL_LINE_MAX);
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return st_fail(err, ST_E_PROTO, "control: bad JSON at column %d: %s",
			       je.column, je.text);
	int rc = 0;
	json_t *cmd = json_object_get(o, "cmd");
	if (!json_is_object(o) || !json_is_string(cmd)) {
		rc = st_fail(err, ST_E_PROTO, "control: need {\"cmd\": NAME}");
		goto out;
	}
	for (unsigned i = ST_CTL_STATUS; i <= ST_CTL_FLUSH; i++)
		if (!strcmp(json_string_value(cmd), names[i]))
			req->cmd = i;
	if (!req->cmd) {
		rc = st_fail(err, ST_E_PROTO,
			     "control: unknown command; use status, pause, "
			     "resume, forget or flush");
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		if (!strcmp(k, "cmd"))
			continue;
		uint64_t *dst = NULL, max = 0;
		if (!strcmp(k, "seconds") && req->cmd == ST_CTL_PAUSE)
			dst = &req->seconds, max = ST_PAUSE_SECONDS_MAX;
		else if (!strcmp(k, "minutes") && req->cmd == ST_CTL_FORGET)
			dst = &req->minutes, max = ST_FORGET_MINUTES_MAX;
		if (!dst) {
			rc = st_fail(err, ST_E_PROTO,
				     "control: key \"%s\" does not go with %s", k,
				     names[req->cmd]);
			goto out;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) > max) {
			rc = st_fail(err, ST_E_PROTO,
				     "control: \"%s\" must be an integer 0..%llu",
				     k, (unsigned long long)max);
			goto out;
		}
		*dst = (uint64_t)json_integer_value(v);
	}
	if (req->cmd == ST_CTL_FORGET && req->minutes == 0)
		rc = st_fail(err, ST_E_PROTO,
			     "control: forget needs \"minutes\" 1..%u",
			     ST_FORGET_MINUTES_MAX);
out:
	json_decref(o);
	return rc;
}

int st_control_format(const struct st_control_req *req, char *out, size_t cap)
{
	if (req->cmd < ST_CTL_STATUS || req->cmd > ST_CTL_FLUSH)
		return ST_E_INVAL;
	int n;
	if (req->cmd == ST_CTL_PAUSE)
		n = snprintf(out, cap, "{\"cmd\":\"pause\",\"seconds\":%llu}\n",
			     (unsigned long long)req->seconds);
	else if (req->cmd == ST_CTL_FORGET)
		n = snprintf(out, cap, "{\"cmd\":\"forget\",\"minutes\":%llu}\n",
			     (unsigned long long)req->minutes);
	else
		n = snprintf(out, cap, "{\"cmd\":\"%s\"}\n", names[req->cmd]);
	return (n < 0 || (size_t)n >= cap) ? ST_E_CAP : n;
}

int st_duration_parse(const char *s, uint64_t *seconds, struct st_error *err)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (end == s || errno || s[0] == '-')
		goto bad;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	else if (*end == 'd')
		mul = 86400, end++;
	if (*end || v > ST_PAUSE_SECONDS_MAX / mul)
		goto bad;
	*seconds = v * mul;
	return 0;
bad:
	return st_fail(err, ST_E_INVAL,
		       "duration '%s': write a number with s, m, h or d (at most "
		       "7 days), e.g. 30m",
		       s);
}

static int unix_addr(const char *path, struct sockaddr_un *a,
		     struct st_error *err)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path)
		return st_fail(err, ST_E_CAP,
			       "socket path %s is too long for a Unix socket; set "
			       "a shorter --state-dir or XDG_RUNTIME_DIR",
			       path);
	strcpy(a->sun_path, path);
	return 0;
}

int st_control_call(const char *path, const struct st_control_req *req,
		    char *reply, size_t cap, int timeout_ms,
		    struct st_error *err)
{
	struct sockaddr_un a;
	int rc = unix_addr(path, &a, err);
	if (rc < 0)
		return rc;
	char line[ST_CONTROL_LINE_MAX];
	int n = st_control_format(req, line, sizeof line);
	if (n < 0)
		return st_fail(err, n, "control: cannot format the request");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "control: socket: %s",
			       strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(fd);
		return st_fail(err, st_errno(e),
			       "cannot reach the agent at %s: %s; is "
			       "'sealtrace-agent run' running for this user?",
			       path, strerror(e));
	}
	if (write(fd, line, (size_t)n) != n) {
		int e = errno;
		close(fd);
		return st_fail(err, st_errno(e ? e : EIO), "control: write: %s",
			       strerror(e ? e : EIO));
	}
	size_t got = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got + 1 < cap) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
					  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			close(fd);
			return st_fail(err, -ETIMEDOUT,
				       "the agent did not answer within %d ms",
				       timeout_ms);
		}
		ssize_t r = read(fd, reply + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(reply + got - (size_t)r, '\n', (size_t)r))
			break;
	}
	close(fd);
	reply[got] = 0;
	if (!got)
		return st_fail(err, ST_E_PROTO, "the agent closed without answering");
	return 0;
}

int st_control_listen(const char *path, int *out, struct st_error *err)
{
	struct sockaddr_un a;
	int rc = unix_addr(path, &a, err);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "control: socket: %s",
			       strerror(errno));
	/* a live agent answers a connect; a stale socket file does not */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof a) == 0) {
		close(probe);
		close(fd);
		return st_fail(err, ST_E_EXISTS,
			       "another agent already listens at %s; stop it first",
			       path);
	}
	if (probe >= 0)
		close(probe);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			return st_fail(err, ST_E_EXISTS,
				       "%s exists and is not a socket; move it "
				       "away or pass another --socket",
				       path);
		}
		unlink(path); /* a stale socket left by a crash */
	}
	mode_t old = umask(0177);
	int b = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (b < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return st_fail(err, st_errno(e), "control: cannot listen at %s: %s",
			       path, strerror(e));
	}
	*out = fd;
	return 0;
}
