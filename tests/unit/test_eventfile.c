/* test_eventfile.c - the event file: the line parser on its own (every type,
 * each refusal with its line and key) and the eventfile capture backend
 * (order, end, batch bound, recorded speed on a hand-set and on the real
 * clock, pause, and the two guards that keep key text from a sink). */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "agent/capture.h"
#include "agent/eventfile.h"
#include "core/clock.h"

#define MS 1000000ull

#define assert_msg_has(errp, word)                                          \
	do {                                                                \
		if (!strstr((errp)->msg, (word)))                           \
			fail_msg("message '%s' lacks '%s'", (errp)->msg,    \
				 (word));                                   \
	} while (0)

/* --- files ------------------------------------------------------------ */

#define FILES_MAX 32
static char dir[64];
static char files[FILES_MAX][128];
static size_t nfiles;

static int setup(void **s)
{
	(void)s;
	strcpy(dir, "/tmp/st-eventfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
	(void)s;
	for (size_t i = 0; i < nfiles; i++)
		unlink(files[i]);
	return rmdir(dir);
}

/* Writes n bytes to a new file in dir; returns its path. */
static const char *write_bytes(const char *name, const char *p, size_t n)
{
	assert_true(nfiles < FILES_MAX);
	char *path = files[nfiles++];
	snprintf(path, sizeof files[0], "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

#define HDR_LINE "{\"sealtrace_eventfile\":1,\"tick_ns\":1000000}"
#define HDR HDR_LINE "\n"

/* --- parser ----------------------------------------------------------- */

/* Feeds lines[0..n) to a fresh parser; returns the first error, or 0. On
 * success *last holds the last event (strings copied out by the caller). */
static int feed(const char *const *lines, size_t n, struct st_error *err)
{
	struct st_eventfile_parser p;
	st_eventfile_parser_init(&p);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct st_cap_event ev;
		bool is_event;
		rc = st_eventfile_parse_line(&p, lines[i], strlen(lines[i]), &ev,
					     &is_event, err);
	}
	st_eventfile_parser_fini(&p);
	return rc;
}

static void next(struct st_eventfile_parser *p, const char *line,
		 struct st_cap_event *ev, bool want_event)
{
	struct st_error err = {0};
	bool is_event = !want_event;
	if (st_eventfile_parse_line(p, line, strlen(line), ev, &is_event, &err))
		fail_msg("%s: %s", line, err.msg);
	assert_int_equal(is_event, want_event);
}

static void assert_str(const char *s, size_t len, const char *want)
{
	if (!want) {
		assert_null(s);
		assert_int_equal(len, 0);
		return;
	}
	assert_non_null(s);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(s, want, len);
}

static void parses_every_capturable_type(void **s)
{
	(void)s;
	struct st_eventfile_parser p;
	struct st_cap_event ev;
	st_eventfile_parser_init(&p);
	/* microsecond ticks: t_ns must scale by the header's tick_ns */
	next(&p, "{\"sealtrace_eventfile\":1,\"tick_ns\":1000}", &ev, false);
	next(&p, "", &ev, false);
	next(&p, "  \t\r", &ev, false);

	next(&p, "{\"t\":120,\"type\":\"key_press\",\"keycode\":43,"
		 "\"keysym\":104,\"mods\":4,\"text\":\"h\"}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_KEY_PRESS);
	assert_int_equal(ev.t_ns, 120000);
	assert_int_equal(ev.e.u.key.keycode, 43);
	assert_int_equal(ev.e.u.key.keysym, 104);
	assert_int_equal(ev.e.u.key.mods, 4);
	assert_str(ev.text, ev.text_len, "h");

	next(&p, "{\"t\":121,\"type\":\"key_release\",\"keycode\":43,"
		 "\"keysym\":104,\"mods\":0,\"text\":\"\"}\r", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_KEY_RELEASE);
	assert_int_equal(ev.e.u.key.keycode, 43);
	assert_str(ev.text, ev.text_len, NULL);

	next(&p, "{\"t\":130,\"type\":\"pointer\",\"x\":-1500,\"y\":300,"
		 "\"screen\":1}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_POINTER);
	assert_int_equal(ev.t_ns, 130000);
	assert_int_equal(ev.e.u.ptr.x, -1500);
	assert_int_equal(ev.e.u.ptr.y, 300);
	assert_int_equal(ev.e.u.ptr.screen, 1);

	next(&p, "{\"t\":130,\"type\":\"button_press\",\"x\":5,\"y\":6,"
		 "\"button\":3}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_BUTTON_PRESS);
	assert_int_equal(ev.e.u.btn.x, 5);
	assert_int_equal(ev.e.u.btn.y, 6);
	assert_int_equal(ev.e.u.btn.button, 3);

	next(&p, "{\"t\":131,\"type\":\"button_release\",\"x\":7,\"y\":8,"
		 "\"button\":9}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_BUTTON_RELEASE);
	assert_int_equal(ev.e.u.btn.x, 7);
	assert_int_equal(ev.e.u.btn.button, 9);

	next(&p, "{\"t\":140,\"type\":\"scroll\",\"x\":10,\"y\":20,\"dx\":1500,"
		 "\"dy\":-3,\"smooth\":1}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_SCROLL);
	assert_int_equal(ev.e.u.scroll.x, 10);
	assert_int_equal(ev.e.u.scroll.y, 20);
	assert_int_equal(ev.e.u.scroll.dx, 1500);
	assert_int_equal(ev.e.u.scroll.dy, -3);
	assert_int_equal(ev.e.u.scroll.smooth, 1);

	next(&p, "{\"t\":150,\"type\":\"focus\",\"app\":\"org.gnome.Terminal\","
		 "\"class\":\"XTerm\",\"title\":\"bash \\u2014 ~\",\"pid\":4242}",
	     &ev, true);
	assert_int_equal(ev.e.type, ST_EV_FOCUS);
	assert_str(ev.app, ev.app_len, "org.gnome.Terminal");
	assert_str(ev.cls, ev.cls_len, "XTerm");
	assert_str(ev.title, ev.title_len, "bash \xe2\x80\x94 ~");
	assert_int_equal(ev.e.u.focus.pid, 4242);

	/* absent and empty strings are both "none" */
	next(&p, "{\"t\":151,\"type\":\"focus\",\"app\":\"\",\"pid\":0}", &ev,
	     true);
	assert_str(ev.app, ev.app_len, NULL);
	assert_str(ev.cls, ev.cls_len, NULL);
	assert_str(ev.title, ev.title_len, NULL);

	next(&p, "{\"t\":160,\"type\":\"screen\",\"screen\":2,\"x\":-1920,"
		 "\"y\":0,\"w\":1920,\"h\":1080}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_SCREEN);
	assert_int_equal(ev.e.u.screen.screen, 2);
	assert_int_equal(ev.e.u.screen.x, -1920);
	assert_int_equal(ev.e.u.screen.w, 1920);
	assert_int_equal(ev.e.u.screen.h, 1080);

	next(&p, "{\"t\":170,\"type\":\"idle_start\"}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_IDLE_START);
	assert_int_equal(ev.t_ns, 170000);
	next(&p, "{\"type\":\"idle_end\",\"t\":171}", &ev, true);
	assert_int_equal(ev.e.type, ST_EV_IDLE_END);
	assert_int_equal(p.line, 14);
	assert_int_equal(p.events, 11);
	st_eventfile_parser_fini(&p);
}

static void header_tick_defaults_to_ms_and_may_be_coarse(void **s)
{
	(void)s;
	struct st_eventfile_parser p;
	struct st_cap_event ev;
	st_eventfile_parser_init(&p);
	next(&p, "{\"sealtrace_eventfile\":1}", &ev, false);
	next(&p, "{\"t\":7,\"type\":\"idle_start\"}", &ev, true);
	assert_int_equal(ev.t_ns, 7 * MS);
	st_eventfile_parser_fini(&p);

	st_eventfile_parser_init(&p);
	next(&p, "{\"tick_ns\":1000000000,\"sealtrace_eventfile\":1}", &ev,
	     false);
	next(&p, "{\"t\":3,\"type\":\"idle_start\"}", &ev, true);
	assert_int_equal(ev.t_ns, 3000000000ull);
	/* 2^62 ns is the last time that converts */
	struct st_error e = {0};
	bool is_event;
	const char *far = "{\"t\":4611686019,\"type\":\"idle_end\"}";
	assert_fails_with(st_eventfile_parse_line(&p, far, strlen(far), &ev,
						  &is_event, &e),
			  ST_E_ORDER, &e, "line 3");
	assert_msg_has(&e, "2^62");
	st_eventfile_parser_fini(&p);
}

static void rejects_bad_json_naming_the_line(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *trunc[] = {HDR_LINE, "{\"t\":1,\"type\":\"idle_start\"}",
			       "{\"t\":2,\"type\":"};
	assert_fails_with(feed(trunc, 3, &e), ST_E_JSON, &e, "line 3");
	assert_msg_has(&e, "not JSON");
	const char *arr[] = {HDR_LINE, "[1,2]"};
	assert_fails_with(feed(arr, 2, &e), ST_E_JSON, &e, "line 2");
	assert_msg_has(&e, "not a JSON object");
	const char *two[] = {HDR_LINE, "{\"t\":1,\"type\":\"idle_start\"} {}"};
	assert_fails_with(feed(two, 2, &e), ST_E_JSON, &e, "line 2");
	const char *dup[] = {HDR_LINE, "{\"t\":1,\"t\":2,\"type\":\"idle_start\"}"};
	assert_fails_with(feed(dup, 2, &e), ST_E_JSON, &e, "line 2");
	assert_msg_has(&e, "duplicate");
}

static void rejects_unknown_and_bad_keys_naming_line_and_key(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *unk[] = {HDR_LINE, "",
			     "{\"t\":1,\"type\":\"pointer\",\"x\":1,\"y\":2,"
			     "\"screen\":0,\"z\":3}"};
	assert_fails_with(feed(unk, 3, &e), ST_E_JSON, &e, "line 3");
	assert_msg_has(&e, "\"z\"");
	const char *miss[] = {HDR_LINE, "{\"t\":1,\"type\":\"pointer\",\"x\":1}"};
	assert_fails_with(feed(miss, 2, &e), ST_E_JSON, &e, "line 2");
	assert_msg_has(&e, "\"y\"");
	const char *ty[] = {HDR_LINE, "{\"t\":1,\"type\":\"teleport\"}"};
	assert_fails_with(feed(ty, 2, &e), ST_E_JSON, &e, "line 2");
	assert_msg_has(&e, "\"type\"");
	/* in range for the JSON form, refused by the event check */
	const char *btn[] = {HDR_LINE, "{\"t\":1,\"type\":\"button_press\",\"x\":1,"
				  "\"y\":2,\"button\":0}"};
	assert_fails_with(feed(btn, 2, &e), ST_E_CORRUPT, &e, "line 2");
	assert_msg_has(&e, "button");
	const char *text[] = {HDR_LINE, "{\"t\":1,\"type\":\"key_press\",\"keycode\":1,"
				   "\"keysym\":1,\"mods\":0,\"text\":"
				   "\"0123456789012345678901234567890123\"}"};
	assert_fails_with(feed(text, 2, &e), ST_E_CAP, &e, "line 2");
	assert_msg_has(&e, "\"text\"");
}

static void rejects_time_going_back(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *back[] = {HDR_LINE, "{\"t\":120,\"type\":\"idle_start\"}", "",
			      "{\"t\":120,\"type\":\"idle_end\"}",
			      "{\"t\":119,\"type\":\"idle_start\"}"};
	assert_fails_with(feed(back, 5, &e), ST_E_ORDER, &e, "line 5");
	assert_msg_has(&e, "t 119");
	assert_msg_has(&e, "line 4");
	assert_int_equal(feed(back, 4, &e), 0); /* equal times are fine */
}

static void rejects_over_long_line(void **s)
{
	(void)s;
	struct st_eventfile_parser p;
	struct st_cap_event ev;
	struct st_error e = {0};
	bool is_event;
	size_t n = ST_EVENTFILE_LINE_MAX + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n); /* blank, so only the length can refuse it */
	st_eventfile_parser_init(&p);
	next(&p, HDR_LINE, &ev, false);
	assert_fails_with(st_eventfile_parse_line(&p, big, n, &ev, &is_event, &e),
			  ST_E_CAP, &e, "line 2");
	assert_msg_has(&e, "65536");
	/* exactly at the cap is a line like any other */
	assert_int_equal(st_eventfile_parse_line(&p, big, n - 1, &ev, &is_event,
						 &e), 0);
	assert_false(is_event);
	st_eventfile_parser_fini(&p);
	free(big);
}

static void rejects_wrong_header(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *none[] = {"{\"t\":0,\"type\":\"idle_start\"}"};
	assert_fails_with(feed(none, 1, &e), ST_E_BAD_MAGIC, &e, "line 1");
	assert_msg_has(&e, "sealtrace_eventfile");
	const char *blank[] = {"", HDR_LINE};
	assert_fails_with(feed(blank, 2, &e), ST_E_BAD_MAGIC, &e, "line 1");
	const char *v2[] = {"{\"sealtrace_eventfile\":2}"};
	assert_fails_with(feed(v2, 1, &e), ST_E_VERSION, &e, "line 1");
	assert_msg_has(&e, "version 1");
	const char *t0[] = {"{\"sealtrace_eventfile\":1,\"tick_ns\":0}"};
	assert_fails_with(feed(t0, 1, &e), ST_E_JSON, &e, "line 1");
	assert_msg_has(&e, "\"tick_ns\"");
	const char *tbig[] = {"{\"sealtrace_eventfile\":1,"
			      "\"tick_ns\":1000000001}"};
	assert_fails_with(feed(tbig, 1, &e), ST_E_JSON, &e, "\"tick_ns\"");
	const char *tstr[] = {"{\"sealtrace_eventfile\":1,\"tick_ns\":\"1\"}"};
	assert_fails_with(feed(tstr, 1, &e), ST_E_JSON, &e, "\"tick_ns\"");
	/* anchor_ns is Unix ns: a negative or non-integer one is refused */
	const char *anchor[] = {"{\"sealtrace_eventfile\":1,\"anchor_ns\":-5}"};
	assert_fails_with(feed(anchor, 1, &e), ST_E_JSON, &e, "line 1");
	assert_msg_has(&e, "\"anchor_ns\"");
	/* nothing after a refused header is read as an event */
	const char *after[] = {"{}", "{\"t\":0,\"type\":\"idle_start\"}"};
	struct st_eventfile_parser p;
	struct st_cap_event ev;
	bool is_event;
	st_eventfile_parser_init(&p);
	assert_int_equal(st_eventfile_parse_line(&p, after[0], 2, &ev,
						 &is_event, &e),
			 ST_E_BAD_MAGIC);
	assert_fails_with(st_eventfile_parse_line(&p, after[1], strlen(after[1]),
						  &ev, &is_event, &e),
			  ST_E_STATE, &e, "line 2");
	assert_false(is_event);
	st_eventfile_parser_fini(&p);
}

static void rejects_agent_only_types(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *sess[] = {HDR_LINE, "{\"t\":1,\"type\":\"idle_start\"}",
			      "{\"t\":2,\"type\":\"session\",\"marker\":1,"
			      "\"reason\":0}"};
	assert_fails_with(feed(sess, 3, &e), ST_E_JSON, &e,
			  "line 3: type session is written by the agent, not "
			  "captured");
	const char *red[] = {HDR_LINE, "{\"t\":1,\"type\":\"redaction\",\"kind\":3,"
				  "\"len_class\":3}"};
	assert_fails_with(feed(red, 2, &e), ST_E_JSON, &e,
			  "line 2: type redaction is written by the agent");
	/* named as such even when its fields are wrong too */
	const char *kf[] = {HDR_LINE, "{\"t\":1,\"type\":\"keyframe\",\"x\":1}"};
	assert_fails_with(feed(kf, 2, &e), ST_E_JSON, &e,
			  "line 2: type keyframe is written by the agent");
	for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++)
		assert_int_equal(st_eventfile_type_allowed(t),
				 t != ST_EV_SESSION && t != ST_EV_REDACTION &&
					 t != ST_EV_KEYFRAME);
}

/* --- capture backend -------------------------------------------------- */

#define GOT_MAX 8192
struct got {
	size_t n;
	uint8_t type[GOT_MAX];
	uint64_t t_ns[GOT_MAX];
	uint64_t at_ns[GOT_MAX]; /* system monotonic time of arrival */
	char text[GOT_MAX][8];
	size_t text_len[GOT_MAX];
	bool text_null[GOT_MAX];
	bool title_null[GOT_MAX], app_null[GOT_MAX];
	uint32_t pid[GOT_MAX];
	uint32_t keycode[GOT_MAX];
};

static int got_event(void *ctx, const struct st_cap_event *ev,
		     struct st_error *err)
{
	(void)err;
	struct got *g = ctx;
	assert_true(g->n < GOT_MAX);
	size_t i = g->n++;
	g->type[i] = ev->e.type;
	g->t_ns[i] = ev->t_ns;
	g->at_ns[i] = st_mono_ns(&st_clock_system);
	g->text_null[i] = ev->text == NULL;
	g->text_len[i] = ev->text_len;
	if (ev->text)
		memcpy(g->text[i], ev->text,
		       ev->text_len < 8 ? ev->text_len : 8);
	g->title_null[i] = ev->title == NULL;
	g->app_null[i] = ev->app == NULL && ev->cls == NULL;
	g->pid[i] = ev->e.u.focus.pid;
	g->keycode[i] = ev->e.u.key.keycode;
	return 0;
}

static const struct st_capture_kinds all_kinds = {true, true, true, true,
						  true};

static struct st_capture *open_cap(const char *path, double speed,
				   struct st_capture_kinds k)
{
	struct st_capture_cfg cfg = {.kinds = k, .path = path, .speed = speed};
	struct st_capture *cap = NULL;
	struct st_error e = {0};
	if (st_capture_new(&st_capture_eventfile, &cfg, &cap, &e) < 0)
		fail_msg("%s", e.msg);
	return cap;
}

static int open_fails(const char *path, double speed, struct st_error *e)
{
	struct st_capture_cfg cfg = {.kinds = all_kinds, .path = path,
				     .speed = speed};
	struct st_capture *cap = (struct st_capture *)1;
	int rc = st_capture_new(&st_capture_eventfile, &cfg, &cap, e);
	assert_null(cap);
	return rc;
}

static const char six[] =
	HDR
	"{\"t\":0,\"type\":\"screen\",\"screen\":0,\"x\":0,\"y\":0,"
	"\"w\":1920,\"h\":1080}\n"
	"{\"t\":5,\"type\":\"focus\",\"app\":\"mail\",\"class\":\"Mail\","
	"\"title\":\"Inbox\",\"pid\":7}\n"
	"\n"
	"{\"t\":10,\"type\":\"pointer\",\"x\":1,\"y\":2,\"screen\":0}\r\n"
	"{\"t\":20,\"type\":\"key_press\",\"keycode\":43,\"keysym\":104,"
	"\"mods\":0,\"text\":\"h\"}\n"
	"{\"t\":25,\"type\":\"key_release\",\"keycode\":43,\"keysym\":104,"
	"\"mods\":0,\"text\":\"\"}\n"
	"{\"t\":30,\"type\":\"idle_start\"}"; /* no final newline */

static void speed0_emits_everything_in_order_then_end(void **s)
{
	(void)s;
	struct st_capture *cap = open_cap(write_file("six.jsonl", six), 0,
					  all_kinds);
	assert_int_equal(st_capture_fd(cap), -1);
	assert_int_equal(st_capture_timeout_ms(cap), 0);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	static const uint8_t want[] = {ST_EV_SCREEN,    ST_EV_FOCUS,
				       ST_EV_POINTER,   ST_EV_KEY_PRESS,
				       ST_EV_KEY_RELEASE, ST_EV_IDLE_START};
	static const uint64_t want_t[] = {0, 5, 10, 20, 25, 30};
	assert_int_equal(g->n, 6);
	/* without anchor_ns, t = 0 is when replay started (wall clock) */
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(g->type[i], want[i]);
		assert_int_equal(g->t_ns[i] - g->t_ns[0], want_t[i] * MS);
	}
	assert_int_equal(g->pid[1], 7);
	assert_false(g->title_null[1]);
	assert_int_equal(g->text_len[3], 1);
	assert_memory_equal(g->text[3], "h", 1);
	assert_true(g->text_null[4]);
	/* the end is final and quiet */
	assert_int_equal(st_capture_timeout_ms(cap), -1);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 6);
	st_capture_free(cap);

	/* a header and nothing else: no event, then the end */
	cap = open_cap(write_file("hdr.jsonl", HDR), 0, all_kinds);
	g->n = 0;
	assert_int_equal(st_capture_timeout_ms(cap), 0);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 0);
	st_capture_free(cap);
	free(g);
}

static void anchor_places_events_at_exact_wall_times(void **s)
{
	(void)s;
	/* with anchor_ns the replay is deterministic: the same file gives the
	 * same times, and so the same segments, on every run */
	struct st_capture *cap = open_cap(
		write_file("anchored.jsonl",
			   "{\"sealtrace_eventfile\":1,\"tick_ns\":1000,"
			   "\"anchor_ns\":1790000000000000000}\n"
			   "{\"t\":0,\"type\":\"idle_start\"}\n"
			   "{\"t\":7,\"type\":\"idle_end\"}\n"),
		0, all_kinds);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->t_ns[0], 1790000000000000000ull);
	assert_int_equal(g->t_ns[1], 1790000000000007000ull);
	assert_true(st_capture_eventfile.wall_times);
	free(g);
	st_capture_free(cap);
}

static void one_dispatch_emits_at_most_a_batch(void **s)
{
	(void)s;
	size_t n = 5000, cap_bytes = 64 + n * 40, len = 0;
	char *txt = malloc(cap_bytes);
	assert_non_null(txt);
	len += (size_t)sprintf(txt, "%s", HDR);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(txt + len,
				       "{\"t\":%zu,\"type\":\"idle_end\"}\n", i);
	struct st_capture *cap = open_cap(write_bytes("5000.jsonl", txt, len), 0,
					  all_kinds);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, ST_EVENTFILE_BATCH_MAX);
	assert_int_equal(st_capture_timeout_ms(cap), 0); /* more to do now */
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(g->t_ns[i] - g->t_ns[0], i * MS);
	st_capture_free(cap);

	/* Due all at once behind one read ahead: still one batch a call. */
	len = (size_t)sprintf(txt, "%s", HDR);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(txt + len,
				       "{\"t\":%d,\"type\":\"idle_end\"}\n",
				       i ? 10 : 0);
	struct st_manual_clock m = {0};
	struct st_clock clk;
	st_clock_manual(&clk, &m);
	cap = open_cap(write_bytes("5000b.jsonl", txt, len), 1, all_kinds);
	assert_int_equal(st_capture_eventfile_set_clock(cap, &clk, &e), 0);
	g->n = 0;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1);
	m.mono = 10 * MS;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1 + ST_EVENTFILE_BATCH_MAX);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, n);
	st_capture_free(cap);

	/* Blank lines count too: a call returns to its loop between them. */
	len = (size_t)sprintf(txt, "%s", HDR);
	for (size_t i = 0; i < n; i++)
		txt[len + i] = '\n';
	len += n;
	len += (size_t)sprintf(txt + len, "{\"t\":0,\"type\":\"idle_end\"}\n");
	cap = open_cap(write_bytes("blank.jsonl", txt, len), 0, all_kinds);
	free(txt);
	g->n = 0;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 0);
	assert_int_equal(st_capture_timeout_ms(cap), 0);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 1);
	st_capture_free(cap);
	free(g);
}

static const char three[] = HDR
	"{\"t\":0,\"type\":\"idle_end\"}\n"
	"{\"t\":150,\"type\":\"pointer\",\"x\":1,\"y\":2,\"screen\":0}\n"
	"{\"t\":300,\"type\":\"idle_start\"}\n";

static void speed1_waits_for_recorded_time_on_the_real_clock(void **s)
{
	(void)s;
	struct st_capture *cap = open_cap(write_file("three.jsonl", three), 1,
					  all_kinds);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	uint64_t t0 = st_mono_ns(&st_clock_system);
	int rc = st_capture_dispatch(cap, &sink, &e);
	assert_int_equal(rc, 0);
	assert_int_equal(g->n, 1); /* t 0 is due at once, t 150 is not */
	int to = st_capture_timeout_ms(cap);
	assert_in_range(to, 1, 150);
	/* the caller's loop: sleep for timeout_ms, dispatch; 2 s at most */
	for (unsigned i = 0; rc == 0 && i < 1000; i++) {
		if (st_mono_ns(&st_clock_system) - t0 > 2000 * MS)
			break;
		to = st_capture_timeout_ms(cap);
		assert_in_range(to, 0, 300);
		poll(NULL, 0, to);
		rc = st_capture_dispatch(cap, &sink, &e);
	}
	assert_int_equal(rc, ST_CAPTURE_END);
	assert_int_equal(g->n, 3);
	/* an event arrives no earlier than its recorded time after start */
	assert_true(g->at_ns[1] - t0 >= 150 * MS);
	assert_true(g->at_ns[2] - t0 >= 300 * MS);
	assert_true(g->at_ns[2] - t0 < 1500 * MS);
	st_capture_free(cap);
	free(g);
}

static void speed_scales_due_times_on_a_hand_set_clock(void **s)
{
	(void)s;
	struct st_manual_clock m = {.wall = 0, .mono = 5000 * MS};
	struct st_clock clk;
	st_clock_manual(&clk, &m);
	struct st_capture *cap = open_cap(write_file("three2.jsonl", three), 2,
					  all_kinds);
	struct st_error e = {0};
	assert_int_equal(st_capture_eventfile_set_clock(cap, &clk, &e), 0);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	assert_int_equal(st_capture_timeout_ms(cap), 0); /* line to read */
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1);
	/* t 150 ms at speed 2: due 75 ms after start */
	assert_int_equal(st_capture_timeout_ms(cap), 75);
	m.mono += 74 * MS + 999999;
	assert_int_equal(st_capture_timeout_ms(cap), 1);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1);
	m.mono += 1;
	assert_int_equal(st_capture_timeout_ms(cap), 0);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->t_ns[1], 150 * MS); /* recorded time, not replay */
	assert_int_equal(st_capture_timeout_ms(cap), 75);
	m.mono += 1000 * MS;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 3);
	/* the clock cannot change under a running replay */
	assert_fails_with(st_capture_eventfile_set_clock(cap, &clk, &e),
			  ST_E_STATE, &e, "three2.jsonl");
	st_capture_free(cap);
	free(g);
}

static void paused_drops_events(void **s)
{
	(void)s;
	struct st_manual_clock m = {0};
	struct st_clock clk;
	st_clock_manual(&clk, &m);
	struct st_capture *cap = open_cap(write_file("three3.jsonl", three), 1,
					  all_kinds);
	struct st_error e = {0};
	assert_int_equal(st_capture_eventfile_set_clock(cap, &clk, &e), 0);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1);
	assert_int_equal(st_capture_set_paused(cap, true, &e), 0);
	m.mono = 200 * MS;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), 0);
	assert_int_equal(g->n, 1); /* t 150 came and went while paused */
	assert_int_equal(st_capture_set_paused(cap, false, &e), 0);
	assert_int_equal(st_capture_timeout_ms(cap), 100);
	m.mono = 300 * MS;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->type[1], ST_EV_IDLE_START);
	st_capture_free(cap);

	/* paused from the start at speed 0: the file is read, nothing sent */
	cap = open_cap(write_file("six2.jsonl", six), 0, all_kinds);
	g->n = 0;
	assert_int_equal(st_capture_set_paused(cap, true, &e), 0);
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 0);
	st_capture_free(cap);
	free(g);
}

static void key_text_off_never_reaches_the_sink(void **s)
{
	(void)s;
	struct st_capture_kinds k = all_kinds;
	k.text = false;
	struct st_capture *cap = open_cap(write_file("six3.jsonl", six), 0, k);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 6);
	assert_int_equal(g->type[3], ST_EV_KEY_PRESS); /* the key, not its text */
	assert_int_equal(g->keycode[3], 43);
	assert_true(g->text_null[3]);
	assert_int_equal(g->text_len[3], 0);
	st_capture_free(cap);

	/* the backend strips on its own too, even without the front */
	cap = open_cap(write_file("six4.jsonl", six), 0, k);
	g->n = 0;
	assert_int_equal(st_capture_eventfile.dispatch(cap, &sink, &e),
			 ST_CAPTURE_END);
	assert_int_equal(g->n, 6);
	assert_true(g->text_null[3]);
	st_capture_free(cap);

	/* keys off: no key event at all; titles and apps off: focus bare */
	k = (struct st_capture_kinds){.pointer = true};
	cap = open_cap(write_file("six5.jsonl", six), 0, k);
	g->n = 0;
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 4);
	assert_int_equal(g->type[1], ST_EV_FOCUS);
	assert_true(g->title_null[1]);
	assert_true(g->app_null[1]);
	assert_int_equal(g->pid[1], 0);
	for (size_t i = 0; i < g->n; i++)
		assert_int_not_equal(g->type[i], ST_EV_KEY_PRESS);
	st_capture_free(cap);
	free(g);
}

/* A backend that ignores the notice: the front in capture.c must still
 * keep text, titles, apps and pointer events from the sink. */
static int rogue_init(struct st_capture *cap, const struct st_capture_cfg *cfg,
		      struct st_error *err)
{
	(void)cap, (void)cfg, (void)err;
	return 0;
}

static int rogue_dispatch(struct st_capture *cap,
			  const struct st_capture_sink *sink,
			  struct st_error *err)
{
	(void)cap;
	struct st_cap_event key = {.e.type = ST_EV_KEY_PRESS,
				   .e.u.key.keycode = 39,
				   .text = "s",
				   .text_len = 1};
	struct st_cap_event focus = {.e.type = ST_EV_FOCUS,
				     .e.u.focus.pid = 9,
				     .app = "a",
				     .app_len = 1,
				     .cls = "c",
				     .cls_len = 1,
				     .title = "secret",
				     .title_len = 6};
	struct st_cap_event ptr = {.e.type = ST_EV_POINTER};
	int rc;
	if ((rc = sink->event(sink->ctx, &key, err)) < 0 ||
	    (rc = sink->event(sink->ctx, &focus, err)) < 0 ||
	    (rc = sink->event(sink->ctx, &ptr, err)) < 0)
		return rc;
	return ST_CAPTURE_END;
}

static void rogue_fini(struct st_capture *cap)
{
	(void)cap;
}

static const struct st_capture_type rogue = {
	.name = "rogue",
	.size = sizeof(struct st_capture),
	.tick_ns = 1000000,
	.init = rogue_init,
	.dispatch = rogue_dispatch,
	.fini = rogue_fini,
};

static void front_guard_strips_what_a_backend_leaks(void **s)
{
	(void)s;
	struct st_capture_cfg cfg = {.kinds = {.keys = true}};
	struct st_capture *cap = NULL;
	struct st_error e = {0};
	assert_int_equal(st_capture_new(&rogue, &cfg, &cap, &e), 0);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	assert_int_equal(st_capture_dispatch(cap, &sink, &e), ST_CAPTURE_END);
	assert_int_equal(g->n, 2); /* pointer dropped */
	assert_int_equal(g->type[0], ST_EV_KEY_PRESS);
	assert_int_equal(g->keycode[0], 39);
	assert_true(g->text_null[0]);
	assert_int_equal(g->text_len[0], 0);
	assert_int_equal(g->type[1], ST_EV_FOCUS);
	assert_true(g->title_null[1]);
	assert_true(g->app_null[1]);
	assert_int_equal(g->pid[1], 0);
	st_capture_free(cap);
	free(g);
}

static void init_refuses_missing_empty_and_misconfigured_files(void **s)
{
	(void)s;
	struct st_error e = {0};
	char missing[128];
	snprintf(missing, sizeof missing, "%s/nope.jsonl", dir);
	assert_fails_with(open_fails(missing, 1, &e), -ENOENT, &e,
			  "nope.jsonl");
	assert_msg_has(&e, "capture path");
	assert_fails_with(open_fails(write_file("empty.jsonl", ""), 1, &e),
			  ST_E_TRUNCATED, &e, "empty.jsonl");
	assert_fails_with(open_fails(write_file("nohdr.jsonl",
						"{\"t\":0,\"type\":\"idle_end\"}\n"),
				     1, &e),
			  ST_E_BAD_MAGIC, &e, "nohdr.jsonl: line 1");
	assert_fails_with(open_fails(NULL, 1, &e), ST_E_INVAL, &e, "path");
	const char *ok = write_file("ok.jsonl", HDR);
	assert_fails_with(open_fails(ok, -1, &e), ST_E_INVAL, &e, "speed");
	assert_fails_with(open_fails(ok, NAN, &e), ST_E_INVAL, &e, "speed");
	assert_fails_with(open_fails(ok, INFINITY, &e), ST_E_INVAL, &e,
			  "speed");
	/* set_clock is for eventfile captures only */
	struct st_capture_cfg cfg = {0};
	struct st_capture *cap = NULL;
	assert_int_equal(st_capture_new(&rogue, &cfg, &cap, &e), 0);
	assert_fails_with(st_capture_eventfile_set_clock(cap, &st_clock_system,
							 &e),
			  ST_E_INVAL, &e, "eventfile");
	st_capture_free(cap);
}

static void bad_line_mid_file_stops_replay_naming_path_and_line(void **s)
{
	(void)s;
	const char *path = write_file("bad.jsonl",
				      HDR "{\"t\":1,\"type\":\"idle_end\"}\n"
					  "{\"t\":2,\"type\":\"idle_end\"}\n"
					  "{\"t\":3,\"type\":\"session\","
					  "\"marker\":1,\"reason\":0}\n"
					  "{\"t\":4,\"type\":\"idle_end\"}\n");
	struct st_capture *cap = open_cap(path, 0, all_kinds);
	struct got *g = calloc(1, sizeof *g);
	struct st_capture_sink sink = {got_event, g};
	struct st_error e = {0};
	assert_fails_with(st_capture_dispatch(cap, &sink, &e), ST_E_JSON, &e,
			  "bad.jsonl: line 4: type session");
	assert_int_equal(g->n, 2); /* what came before went out */
	/* a broken file stays broken, and says so again */
	assert_int_equal(st_capture_timeout_ms(cap), 0);
	memset(&e, 0, sizeof e);
	assert_fails_with(st_capture_dispatch(cap, &sink, &e), ST_E_JSON, &e,
			  "line 4");
	assert_int_equal(g->n, 2);
	st_capture_free(cap);

	/* an over-long line is refused by the reader before it is parsed */
	size_t big = ST_EVENTFILE_LINE_MAX + 100, len = 0;
	char *txt = malloc(big + 256);
	assert_non_null(txt);
	len += (size_t)sprintf(txt, HDR "{\"t\":1,\"type\":\"idle_end\"}\n");
	memset(txt + len, ' ', big);
	len += big;
	txt[len++] = '\n';
	cap = open_cap(write_bytes("long.jsonl", txt, len), 0, all_kinds);
	free(txt);
	g->n = 0;
	assert_fails_with(st_capture_dispatch(cap, &sink, &e), ST_E_CAP, &e,
			  "long.jsonl: line 3");
	assert_msg_has(&e, "65536");
	assert_int_equal(g->n, 1);
	st_capture_free(cap);
	free(g);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(parses_every_capturable_type),
		cmocka_unit_test(header_tick_defaults_to_ms_and_may_be_coarse),
		cmocka_unit_test(rejects_bad_json_naming_the_line),
		cmocka_unit_test(rejects_unknown_and_bad_keys_naming_line_and_key),
		cmocka_unit_test(rejects_time_going_back),
		cmocka_unit_test(rejects_over_long_line),
		cmocka_unit_test(rejects_wrong_header),
		cmocka_unit_test(rejects_agent_only_types),
		cmocka_unit_test(speed0_emits_everything_in_order_then_end),
		cmocka_unit_test(one_dispatch_emits_at_most_a_batch),
		cmocka_unit_test(anchor_places_events_at_exact_wall_times),
		cmocka_unit_test(speed1_waits_for_recorded_time_on_the_real_clock),
		cmocka_unit_test(speed_scales_due_times_on_a_hand_set_clock),
		cmocka_unit_test(paused_drops_events),
		cmocka_unit_test(key_text_off_never_reaches_the_sink),
		cmocka_unit_test(front_guard_strips_what_a_backend_leaks),
		cmocka_unit_test(init_refuses_missing_empty_and_misconfigured_files),
		cmocka_unit_test(bad_line_mid_file_stops_replay_naming_path_and_line),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
