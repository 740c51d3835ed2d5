/* test_control.c - the local control protocol: strict request parsing with a
 * message for every refusal, format/parse round trips, durations, and the
 * socket pair over a real Unix socket (0600, stale socket replaced, a live
 * one kept, an absent agent named). */
#include "helpers.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/control.h"

static int parse(const char *s, struct st_control_req *req,
		 struct st_error *e)
{
	memset(e, 0, sizeof *e);
	return st_control_parse(s, strlen(s), req, e);
}

static void parses_to(const char *s, enum st_control_cmd cmd,
		      uint64_t seconds, uint64_t minutes)
{
	struct st_control_req req;
	struct st_error e;
	if (parse(s, &req, &e) < 0)
		fail_msg("'%s' refused: %s", s, e.msg);
	assert_int_equal(req.cmd, cmd);
	assert_int_equal(req.seconds, seconds);
	assert_int_equal(req.minutes, minutes);
}

static void refuses(const char *s, int code, const char *word)
{
	struct st_control_req req;
	struct st_error e;
	int rc = parse(s, &req, &e);
	if (rc != code)
		fail_msg("'%s': rc %d, expected %d (%s)", s, rc, code, e.msg);
	assert_fails_with(rc, code, &e, word);
}

static void accepts_each_command(void **s)
{
	(void)s;
	parses_to("{\"cmd\":\"status\"}", ST_CTL_STATUS, 0, 0);
	parses_to("{\"cmd\":\"status\"}\n", ST_CTL_STATUS, 0, 0);
	parses_to(" { \"cmd\" : \"resume\" } \n", ST_CTL_RESUME, 0, 0);
	parses_to("{\"cmd\":\"flush\"}", ST_CTL_FLUSH, 0, 0);
	parses_to("{\"cmd\":\"pause\"}", ST_CTL_PAUSE, 0, 0);
	parses_to("{\"cmd\":\"pause\",\"seconds\":0}", ST_CTL_PAUSE, 0, 0);
	parses_to("{\"seconds\":1800,\"cmd\":\"pause\"}", ST_CTL_PAUSE, 1800, 0);
	parses_to("{\"cmd\":\"pause\",\"seconds\":604800}", ST_CTL_PAUSE,
		  ST_PAUSE_SECONDS_MAX, 0);
	parses_to("{\"cmd\":\"forget\",\"minutes\":1}", ST_CTL_FORGET, 0, 1);
	parses_to("{\"cmd\":\"forget\",\"minutes\":1440}\n", ST_CTL_FORGET, 0,
		  ST_FORGET_MINUTES_MAX);
}

static void rejects_bad_json(void **s)
{
	(void)s;
	refuses("", ST_E_PROTO, "bad JSON");
	refuses("{", ST_E_PROTO, "bad JSON");
	refuses("{\"cmd\":\"status\"", ST_E_PROTO, "bad JSON");
	refuses("status", ST_E_PROTO, "bad JSON");
	refuses("{'cmd':'status'}", ST_E_PROTO, "bad JSON");
	refuses("{\"cmd\":\"status\"}{\"cmd\":\"flush\"}", ST_E_PROTO,
		"bad JSON");
	refuses("{\"cmd\":\"status\",\"cmd\":\"flush\"}", ST_E_PROTO,
		"bad JSON"); /* duplicate keys */
	/* the request's length rules, not a NUL inside it */
	struct st_control_req req;
	struct st_error e = {0};
	static const char nul[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"flush\"}";
	assert_fails_with(st_control_parse(nul, sizeof nul - 1, &req, &e),
			  ST_E_PROTO, &e, "bad JSON");
	/* the right shape, but not an object with a string cmd */
	refuses("[\"status\"]", ST_E_PROTO, "need");
	refuses("\"status\"", ST_E_PROTO, "bad JSON"); /* not even a document */
	refuses("{}", ST_E_PROTO, "need");
	refuses("{\"cmd\":1}", ST_E_PROTO, "need");
	refuses("{\"cmd\":null}", ST_E_PROTO, "need");
}

static void rejects_unknown_commands_and_keys(void **s)
{
	(void)s;
	refuses("{\"cmd\":\"reboot\"}", ST_E_PROTO, "unknown command");
	refuses("{\"cmd\":\"STATUS\"}", ST_E_PROTO, "unknown command");
	refuses("{\"cmd\":\"\"}", ST_E_PROTO, "unknown command");
	refuses("{\"cmd\":\"status\",\"x\":1}", ST_E_PROTO, "\"x\"");
	refuses("{\"cmd\":\"status\",\"seconds\":5}", ST_E_PROTO,
		"does not go with status");
	/* a key of another command */
	refuses("{\"cmd\":\"pause\",\"minutes\":5}", ST_E_PROTO,
		"does not go with pause");
	refuses("{\"cmd\":\"forget\",\"minutes\":5,\"seconds\":5}", ST_E_PROTO,
		"does not go with forget");
	refuses("{\"cmd\":\"resume\",\"seconds\":1}", ST_E_PROTO,
		"does not go with resume");
	refuses("{\"cmd\":\"flush\",\"minutes\":1}", ST_E_PROTO,
		"does not go with flush");
}

static void rejects_numbers_out_of_range_or_type(void **s)
{
	(void)s;
	refuses("{\"cmd\":\"pause\",\"seconds\":-1}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"pause\",\"seconds\":604801}", ST_E_PROTO,
		"0..604800");
	refuses("{\"cmd\":\"pause\",\"seconds\":1.5}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"pause\",\"seconds\":1e3}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"pause\",\"seconds\":\"60\"}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"pause\",\"seconds\":true}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"pause\",\"seconds\":null}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"forget\",\"minutes\":-5}", ST_E_PROTO, "integer");
	refuses("{\"cmd\":\"forget\",\"minutes\":1441}", ST_E_PROTO, "0..1440");
	refuses("{\"cmd\":\"forget\",\"minutes\":9223372036854775807}",
		ST_E_PROTO, "integer");
	/* past int64: jansson refuses it as JSON */
	refuses("{\"cmd\":\"forget\",\"minutes\":99999999999999999999}",
		ST_E_PROTO, "bad JSON");
}

static void rejects_forget_without_minutes(void **s)
{
	(void)s;
	refuses("{\"cmd\":\"forget\"}", ST_E_PROTO, "forget needs \"minutes\"");
	refuses("{\"cmd\":\"forget\",\"minutes\":0}", ST_E_PROTO,
		"forget needs \"minutes\"");
}

static void rejects_an_over_long_line(void **s)
{
	(void)s;
	/* valid JSON padded with spaces: only the length is wrong */
	char *line = malloc(ST_CONTROL_LINE_MAX + 2);
	assert_non_null(line);
	const char *req = "{\"cmd\":\"status\"}";
	memset(line, ' ', ST_CONTROL_LINE_MAX + 1);
	memcpy(line, req, strlen(req));
	struct st_control_req r;
	struct st_error e = {0};
	assert_int_equal(st_control_parse(line, ST_CONTROL_LINE_MAX, &r, &e), 0);
	assert_int_equal(r.cmd, ST_CTL_STATUS);
	assert_fails_with(st_control_parse(line, ST_CONTROL_LINE_MAX + 1, &r,
					   &e),
			  ST_E_CAP, &e, "over");
	free(line);
}

static void format_round_trips(void **s)
{
	(void)s;
	const struct st_control_req reqs[] = {
		{ST_CTL_STATUS, 0, 0},  {ST_CTL_PAUSE, 0, 0},
		{ST_CTL_PAUSE, 1, 0},   {ST_CTL_PAUSE, ST_PAUSE_SECONDS_MAX, 0},
		{ST_CTL_RESUME, 0, 0},  {ST_CTL_FORGET, 0, 1},
		{ST_CTL_FORGET, 0, 90}, {ST_CTL_FORGET, 0, ST_FORGET_MINUTES_MAX},
		{ST_CTL_FLUSH, 0, 0},
	};
	for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
		char line[ST_CONTROL_LINE_MAX];
		int n = st_control_format(&reqs[i], line, sizeof line);
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(line));
		assert_int_equal(line[n - 1], '\n');
		assert_null(memchr(line, '\n', (size_t)n - 1)); /* one line */
		struct st_control_req back;
		struct st_error e = {0};
		if (st_control_parse(line, (size_t)n, &back, &e) < 0)
			fail_msg("'%s' does not parse back: %s", line, e.msg);
		assert_int_equal(back.cmd, reqs[i].cmd);
		assert_int_equal(back.seconds, reqs[i].seconds);
		assert_int_equal(back.minutes, reqs[i].minutes);
		/* one byte short of the room it needs (with its NUL) */
		char small[64];
		assert_true((size_t)n < sizeof small);
		assert_int_equal(st_control_format(&reqs[i], small, (size_t)n),
				 ST_E_CAP);
		assert_int_equal(st_control_format(&reqs[i], small,
						   (size_t)n + 1), n);
	}
	struct st_control_req bad = {0};
	char line[64];
	assert_int_equal(st_control_format(&bad, line, sizeof line), ST_E_INVAL);
	bad.cmd = ST_CTL_FLUSH + 1;
	assert_int_equal(st_control_format(&bad, line, sizeof line), ST_E_INVAL);
}

static void duration_parses_units_and_bounds(void **s)
{
	(void)s;
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{"90s", 90},      {"30m", 1800},     {"2h", 7200},
		{"1d", 86400},    {"45", 45},        {"0", 0},
		{"7d", 604800},   {"168h", 604800},  {"10080m", 604800},
		{"604800", 604800}, {"604800s", 604800},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		uint64_t v = 12345;
		struct st_error e = {0};
		if (st_duration_parse(ok[i].s, &v, &e) < 0)
			fail_msg("'%s' refused: %s", ok[i].s, e.msg);
		assert_int_equal(v, ok[i].v);
	}
	static const char *const bad[] = {
		"", "5x", "-1", "8d", "169h", "10081m", "604801", "604801s",
		"s", "m", "1ms", "5s5", "1.5h", " -1", "-0", "1 h",
		"18446744073709551616", "18446744073709551615d",
		"99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		uint64_t v = 12345;
		struct st_error e = {0};
		int rc = st_duration_parse(bad[i], &v, &e);
		if (rc != ST_E_INVAL)
			fail_msg("'%s' accepted as %llu", bad[i],
				 (unsigned long long)v);
		assert_fails_with(rc, ST_E_INVAL, &e, "duration");
		assert_non_null(strstr(e.msg, "7 days"));
		assert_int_equal(v, 12345); /* untouched on failure */
	}
}

/* ---- sockets ---- */

static char *D;
static char SOCK[PATH_MAX];

static int setup(void **s)
{
	(void)s;
	D = malloc(PATH_MAX);
	assert_non_null(D);
	snprintf(D, PATH_MAX, "/tmp/st-ctl-XXXXXX");
	assert_non_null(mkdtemp(D));
	snprintf(SOCK, sizeof SOCK, "%s/agent.sock", D);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	unlink(SOCK);
	rmdir(D);
	free(D);
	return 0;
}

/* The child's side: answers the first connection that sends a line (the
 * listener's own probe connects and hangs up without one) with a reply
 * naming what it parsed, then exits 0; exits 1 on anything unexpected.
 * Bounded: a few connections, a few seconds. */
#define CHILD_ACCEPTS_MAX 4
#define CHILD_WAIT_MS 5000
static void child_answer_one(int lfd)
{
	for (int k = 0; k < CHILD_ACCEPTS_MAX; k++) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, CHILD_WAIT_MS) != 1)
			_exit(1);
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(1);
		char line[ST_CONTROL_LINE_MAX + 1];
		size_t got = 0;
		for (;;) {
			struct pollfd q = {.fd = c, .events = POLLIN};
			if (poll(&q, 1, CHILD_WAIT_MS) != 1)
				_exit(1);
			ssize_t r = read(c, line + got, sizeof line - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (memchr(line, '\n', got) || got == sizeof line - 1)
				break;
		}
		if (!got) {
			close(c);
			continue; /* a probe */
		}
		struct st_control_req req;
		struct st_error e = {0};
		char reply[128];
		if (st_control_parse(line, got, &req, &e) < 0)
			snprintf(reply, sizeof reply, "{\"error\":\"refused\"}\n");
		else
			snprintf(reply, sizeof reply,
				 "{\"cmd\":%d,\"seconds\":%llu,\"minutes\":%llu}\n",
				 (int)req.cmd, (unsigned long long)req.seconds,
				 (unsigned long long)req.minutes);
		size_t n = strlen(reply);
		_exit(write(c, reply, n) == (ssize_t)n ? 0 : 1);
	}
	_exit(1);
}

static pid_t spawn_answerer(int lfd)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_answer_one(lfd);
	return pid;
}

static void reap_ok(pid_t pid)
{
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void listen_ok(int *fd)
{
	struct st_error e = {0};
	if (st_control_listen(SOCK, fd, &e) < 0)
		fail_msg("listen %s: %s", SOCK, e.msg);
}

static void assert_socket_0600(void)
{
	struct stat st;
	assert_int_equal(lstat(SOCK, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
}

static void call_and_check(const struct st_control_req *req,
			   const char *expect)
{
	char reply[256];
	struct st_error e = {0};
	if (st_control_call(SOCK, req, reply, sizeof reply, 5000, &e) < 0)
		fail_msg("call: %s", e.msg);
	assert_string_equal(reply, expect);
}

/* A socket file at SOCK that nobody listens on: bound, closed, not
 * unlinked (what a crash leaves). */
static void bind_stale(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n = strlen(SOCK);
	assert_true(n < sizeof a.sun_path);
	memcpy(a.sun_path, SOCK, n + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	close(fd);
}

static void call_and_listen_over_a_socket(void **s)
{
	(void)s;
	int lfd = -1;
	listen_ok(&lfd);
	assert_socket_0600();
	pid_t pid = spawn_answerer(lfd);
	struct st_control_req req = {ST_CTL_PAUSE, 900, 0};
	call_and_check(&req, "{\"cmd\":2,\"seconds\":900,\"minutes\":0}\n");
	reap_ok(pid);
	pid = spawn_answerer(lfd);
	req = (struct st_control_req){ST_CTL_FORGET, 0, 15};
	call_and_check(&req, "{\"cmd\":4,\"seconds\":0,\"minutes\":15}\n");
	reap_ok(pid);
	close(lfd);
}

static void listen_replaces_a_stale_socket(void **s)
{
	(void)s;
	/* a crashed agent's socket: bound, then closed without unlink */
	mode_t um = umask(0);
	bind_stale();
	umask(um);
	struct stat st;
	assert_int_equal(lstat(SOCK, &st), 0);
	assert_int_not_equal(st.st_mode & 0077, 0); /* left loose */
	int lfd = -1;
	listen_ok(&lfd);
	assert_socket_0600();
	pid_t pid = spawn_answerer(lfd);
	struct st_control_req req = {ST_CTL_STATUS, 0, 0};
	call_and_check(&req, "{\"cmd\":1,\"seconds\":0,\"minutes\":0}\n");
	reap_ok(pid);
	close(lfd);
}

static void listen_refuses_a_live_listener(void **s)
{
	(void)s;
	int lfd = -1, second = -1;
	listen_ok(&lfd);
	struct st_error e = {0};
	assert_fails_with(st_control_listen(SOCK, &second, &e), ST_E_EXISTS, &e,
			  "already listens");
	assert_int_equal(second, -1);
	/* the live one is untouched and still answers */
	assert_socket_0600();
	pid_t pid = spawn_answerer(lfd);
	struct st_control_req req = {ST_CTL_FLUSH, 0, 0};
	call_and_check(&req, "{\"cmd\":5,\"seconds\":0,\"minutes\":0}\n");
	reap_ok(pid);
	close(lfd);
}

/* Only a socket is ever replaced: a wrong --socket must not delete a file. */
static void listen_never_removes_a_file_that_is_not_a_socket(void **s)
{
	(void)s;
	FILE *f = fopen(SOCK, "w");
	assert_non_null(f);
	assert_int_equal(fputs("keep me\n", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	int fd = -1;
	struct st_error e = {0};
	assert_fails_with(st_control_listen(SOCK, &fd, &e), ST_E_EXISTS, &e,
			  "not a socket");
	assert_int_equal(fd, -1);
	struct stat st;
	assert_int_equal(lstat(SOCK, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 8);
	/* nor a folder */
	assert_int_equal(unlink(SOCK), 0);
	assert_int_equal(mkdir(SOCK, 0700), 0);
	assert_fails_with(st_control_listen(SOCK, &fd, &e), ST_E_EXISTS, &e,
			  "not a socket");
	assert_int_equal(lstat(SOCK, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(SOCK), 0);
}

static void call_without_an_agent_says_so(void **s)
{
	(void)s;
	struct st_control_req req = {ST_CTL_STATUS, 0, 0};
	char reply[64];
	struct st_error e = {0};
	assert_fails_with(st_control_call(SOCK, &req, reply, sizeof reply, 1000,
					  &e),
			  -ENOENT, &e, "cannot reach the agent");
	assert_non_null(strstr(e.msg, SOCK));
	/* a socket file nobody listens on */
	bind_stale();
	assert_fails_with(st_control_call(SOCK, &req, reply, sizeof reply, 1000,
					  &e),
			  -ECONNREFUSED, &e, "cannot reach the agent");
}

static void call_times_out_on_a_silent_agent(void **s)
{
	(void)s;
	int lfd = -1;
	listen_ok(&lfd); /* listens, never accepts */
	struct st_control_req req = {ST_CTL_STATUS, 0, 0};
	char reply[64];
	struct st_error e = {0};
	assert_fails_with(st_control_call(SOCK, &req, reply, sizeof reply, 100,
					  &e),
			  -ETIMEDOUT, &e, "did not answer within 100 ms");
	close(lfd);
}

static void socket_path_too_long_is_named(void **s)
{
	(void)s;
	char path[200];
	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = 0;
	int fd = -1;
	struct st_error e = {0};
	assert_fails_with(st_control_listen(path, &fd, &e), ST_E_CAP, &e,
			  "too long");
	struct st_control_req req = {ST_CTL_STATUS, 0, 0};
	char reply[64];
	assert_fails_with(st_control_call(path, &req, reply, sizeof reply, 100,
					  &e),
			  ST_E_CAP, &e, "too long");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_each_command),
		cmocka_unit_test(rejects_bad_json),
		cmocka_unit_test(rejects_unknown_commands_and_keys),
		cmocka_unit_test(rejects_numbers_out_of_range_or_type),
		cmocka_unit_test(rejects_forget_without_minutes),
		cmocka_unit_test(rejects_an_over_long_line),
		cmocka_unit_test(format_round_trips),
		cmocka_unit_test(duration_parses_units_and_bounds),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(call_and_listen_over_a_socket),
		T(listen_replaces_a_stale_socket),
		T(listen_refuses_a_live_listener),
		T(listen_never_removes_a_file_that_is_not_a_socket),
		T(call_without_an_agent_says_so),
		T(call_times_out_on_a_silent_agent),
		T(socket_path_too_long_is_named),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
