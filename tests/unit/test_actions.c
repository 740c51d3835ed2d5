/* test_actions.c - pins the training-data step format (export/actions.h):
 * the exact JSON line of every action and its pyautogui call, escaping,
 * type runs, hotkeys, click/drag/double click, scroll sums and signs,
 * moves, waits, episode cuts, withheld fields, time formatting, counters,
 * and a whole synthetic hour through the converter. */
#include "helpers.h"

#include <jansson.h>

#include "access/purpose.h"
#include "core/event.h"
#include "core/tracegen.h"
#include "export/actions.h"
#include "filter/detect.h"

/* 2026-12-06T15:00:00Z */
#define ANCHOR_NS (UINT64_C(1796569200) * UINT64_C(1000000000))
#define LINES_MAX 4096u

#define KS_SHIFT_L 0xffe1u
#define KS_CONTROL_L 0xffe3u
#define KS_RETURN 0xff0du
#define KS_TAB 0xff09u
#define KS_LEFT_TAB 0xfe20u
#define KS_BACKSPACE 0xff08u
#define SHIFT 1u
#define CTRL 4u
#define ALT 8u
#define NUMLOCK 16u
#define SUPER 64u
#define ALTGR 128u

struct fx {
	struct st_events evs;
	struct st_actions *a;
	struct st_error err;
	char *line[LINES_MAX];
	size_t n;
	char log[4096]; /* "B dev-0001;E dev-0001 3;" */
	int fail_step;	/* return this from the step callback when set */
};

static void logf_(struct fx *f, const char *fmt, const char *id,
		  unsigned long long n)
{
	size_t l = strlen(f->log);
	snprintf(f->log + l, sizeof f->log - l, fmt, id, n);
}

static int cb_begin(void *ctx, const char *id)
{
	logf_(ctx, "B %s;", id, 0);
	return 0;
}

static int cb_end(void *ctx, const char *id, uint64_t steps)
{
	logf_(ctx, "E %s %llu;", id, (unsigned long long)steps);
	return 0;
}

static int cb_step(void *ctx, const char *l, size_t len)
{
	struct fx *f = ctx;
	if (f->fail_step)
		return f->fail_step;
	assert_true(len > 1);
	assert_int_equal(l[len - 1], '\n');
	assert_null(memchr(l, '\n', len - 1));
	assert_true(f->n < LINES_MAX);
	f->line[f->n] = malloc(len);
	assert_non_null(f->line[f->n]);
	memcpy(f->line[f->n], l, len - 1);
	f->line[f->n][len - 1] = 0;
	f->n++;
	return 0;
}

static struct fx *fx_new_cfg(const struct st_actions_cfg *cfg)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	st_events_init(&f->evs, false);
	f->evs.anchor_ns = ANCHOR_NS;
	f->evs.tick_ns = 1000000;
	struct st_actions_out out = {cb_begin, cb_step, cb_end, f};
	int rc = st_actions_new(cfg, &out, "dev", &f->a, &f->err);
	if (rc != 0)
		fail_msg("st_actions_new: %s", f->err.msg);
	return f;
}

static struct fx *fx_new(void)
{
	return fx_new_cfg(NULL);
}

static struct fx *fx_fields(unsigned fields)
{
	struct st_actions_cfg c;
	st_actions_cfg_default(&c);
	c.fields = fields;
	return fx_new_cfg(&c);
}

static void fx_free(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->line[i]);
	st_actions_free(f->a);
	st_events_fini(&f->evs);
	free(f);
}

static void push(struct fx *f, const struct st_event *e)
{
	struct st_error err = {0};
	if (st_events_push(&f->evs, e, &err) != 0)
		fail_msg("push: %s", err.msg);
}

static uint32_t str(struct fx *f, const char *s)
{
	uint32_t id = 0;
	struct st_error err = {0};
	if (st_events_intern(&f->evs, s, strlen(s), &id, &err) != 0)
		fail_msg("intern: %s", err.msg);
	return id;
}

static void key(struct fx *f, uint64_t t, uint32_t ks, uint32_t mods,
		const char *text)
{
	struct st_event e = {.t = t, .type = ST_EV_KEY_PRESS};
	e.u.key.keycode = 38;
	e.u.key.keysym = ks;
	e.u.key.mods = mods;
	e.u.key.text = text ? str(f, text) : 0;
	push(f, &e);
}

static void keyup(struct fx *f, uint64_t t, uint32_t ks, uint32_t mods)
{
	struct st_event e = {.t = t, .type = ST_EV_KEY_RELEASE};
	e.u.key.keycode = 38;
	e.u.key.keysym = ks;
	e.u.key.mods = mods;
	push(f, &e);
}

/* Presses (and releases) the characters of s, step_ms apart from t;
 * capitals with Shift held. Returns the time after the last. */
static uint64_t typed(struct fx *f, uint64_t t, const char *s,
		      uint64_t step_ms)
{
	for (size_t i = 0; s[i];) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		char buf[5];
		memcpy(buf, s + i, n);
		buf[n] = 0;
		uint32_t ks = n == 1 ? c : 0;
		uint32_t mods = c >= 'A' && c <= 'Z' ? SHIFT : 0;
		key(f, t, ks, mods, buf);
		keyup(f, t + step_ms / 2, ks, mods);
		t += step_ms;
		i += n;
	}
	return t;
}

static void ptr(struct fx *f, uint64_t t, int32_t x, int32_t y)
{
	struct st_event e = {.t = t, .type = ST_EV_POINTER};
	e.u.ptr.x = x;
	e.u.ptr.y = y;
	push(f, &e);
}

static void btn(struct fx *f, uint64_t t, bool down, uint8_t b, int32_t x,
		int32_t y)
{
	struct st_event e = {
	    .t = t, .type = down ? ST_EV_BUTTON_PRESS : ST_EV_BUTTON_RELEASE};
	e.u.btn.x = x;
	e.u.btn.y = y;
	e.u.btn.button = b;
	push(f, &e);
}

static void click(struct fx *f, uint64_t t, uint8_t b, int32_t x, int32_t y)
{
	btn(f, t, true, b, x, y);
	btn(f, t + 50, false, b, x, y);
}

static void scroll(struct fx *f, uint64_t t, int32_t x, int32_t y,
		   int32_t dx, int32_t dy, bool smooth)
{
	struct st_event e = {.t = t, .type = ST_EV_SCROLL};
	e.u.scroll.x = x;
	e.u.scroll.y = y;
	e.u.scroll.dx = dx;
	e.u.scroll.dy = dy;
	e.u.scroll.smooth = smooth;
	push(f, &e);
}

static void focus(struct fx *f, uint64_t t, const char *app, const char *cls,
		  const char *title)
{
	struct st_event e = {.t = t, .type = ST_EV_FOCUS};
	e.u.focus.app = str(f, app);
	e.u.focus.cls = str(f, cls);
	e.u.focus.title = str(f, title);
	e.u.focus.pid = 42;
	push(f, &e);
}

static void screen(struct fx *f, uint64_t t, uint16_t idx, int32_t x,
		   int32_t y, uint32_t w, uint32_t h)
{
	struct st_event e = {.t = t, .type = ST_EV_SCREEN};
	e.u.screen.screen = idx;
	e.u.screen.x = x;
	e.u.screen.y = y;
	e.u.screen.w = w;
	e.u.screen.h = h;
	push(f, &e);
}

static void marker(struct fx *f, uint64_t t, uint8_t type, uint8_t m)
{
	struct st_event e = {.t = t, .type = type};
	if (type == ST_EV_SESSION)
		e.u.session.marker = m;
	push(f, &e);
}

static void redact(struct fx *f, uint64_t t, uint16_t kind, uint8_t lc)
{
	struct st_event e = {.t = t, .type = ST_EV_REDACTION};
	e.u.redact.kind = kind;
	e.u.redact.len_class = lc;
	push(f, &e);
}

/* Feeds what was pushed as one segment and starts the next. */
static void feed(struct fx *f, int level)
{
	int rc = st_actions_feed(f->a, &f->evs, level, &f->err);
	if (rc != 0)
		fail_msg("feed: %s", f->err.msg);
	st_events_clear(&f->evs);
}

static void finish(struct fx *f)
{
	feed(f, 1);
	int rc = st_actions_finish(f->a, &f->err);
	if (rc != 0)
		fail_msg("finish: %s", f->err.msg);
	if (getenv("ST_TEST_DUMP")) /* the lines, to see why a test failed */
		for (size_t i = 0; i < f->n; i++)
			printf("%zu %s\n", i, f->line[i]);
}

/* The line's part from "action": on. */
static const char *act(struct fx *f, size_t i)
{
	if (i >= f->n)
		fail_msg("step %zu asked, %zu emitted", i, f->n);
	const char *p = strstr(f->line[i], ",\"action\":");
	assert_non_null(p);
	return p + 1;
}

#define assert_act(f, i, s) assert_string_equal(act((f), (i)), (s))

/* ---- the line ----------------------------------------------------------- */

static void type_step_is_the_exact_line(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	screen(f, 0, 0, 0, 0, 1920, 1080);
	focus(f, 0, "xterm", "XTerm", "~/src");
	typed(f, 1000, "ls -l", 100);
	feed(f, 2);
	finish(f);
	assert_int_equal(f->n, 1);
	assert_string_equal(
	    f->line[0],
	    "{\"episode\":\"dev-0001\",\"index\":0,"
	    "\"time\":\"2026-12-06T15:00:01.000Z\",\"time_ms\":0,"
	    "\"app\":\"xterm\",\"window_title\":\"~/src\","
	    "\"screen\":{\"width\":1920,\"height\":1080},\"level\":2,"
	    "\"action\":{\"type\":\"type\",\"text\":\"ls -l\"},"
	    "\"pyautogui\":\"pyautogui.write('ls -l')\"}");
	assert_string_equal(f->log, "B dev-0001;E dev-0001 1;");
	fx_free(f);
}

static void app_falls_back_to_class_and_screen_is_the_bounding_box(
    void **state)
{
	(void)state;
	struct fx *f = fx_new();
	/* Two monitors side by side, the second lower and taller. */
	screen(f, 0, 0, 0, 0, 1920, 1080);
	screen(f, 0, 1, 1920, 200, 1280, 1024);
	focus(f, 0, "", "Gimp-2.10", "");
	key(f, 500, KS_RETURN, 0, NULL);
	/* A new geometry (one monitor) replaces the old box. */
	screen(f, 600, 0, 0, 0, 1280, 800);
	key(f, 700, KS_RETURN, 0, NULL);
	finish(f);
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(f->line[0],
			       "\"app\":\"Gimp-2.10\",\"window_title\":\"\","
			       "\"screen\":{\"width\":3200,\"height\":1224}"));
	assert_non_null(strstr(f->line[1],
			       "\"screen\":{\"width\":1280,\"height\":800}"));
	fx_free(f);
}

static void no_screen_yet_is_zero_by_zero(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 10, KS_TAB, 0, NULL);
	finish(f);
	assert_non_null(strstr(f->line[0], "\"app\":\"\",\"window_title\":\"\","
					   "\"screen\":{\"width\":0,"
					   "\"height\":0}"));
	fx_free(f);
}

static void escapes_quotes_backslashes_and_unicode(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	focus(f, 0, "xterm", "XTerm", "tab\there\nnew \"q\" \\ \x01 é");
	typed(f, 100, "it's a \\ \"q\" é€😀", 100);
	finish(f);
	assert_int_equal(f->n, 1);
	assert_non_null(strstr(
	    f->line[0],
	    "\"window_title\":\"tab\\there\\nnew \\\"q\\\" \\\\ \\u0001 é\""));
	assert_act(f, 0,
		   "\"action\":{\"type\":\"type\",\"text\":"
		   "\"it's a \\\\ \\\"q\\\" é€😀\"},"
		   "\"pyautogui\":\"pyautogui.write('it\\\\'s a \\\\\\\\ "
		   "\\\"q\\\" é€😀')\"}");
	/* What a JSON reader sees: the Python literal, escaped once. */
	json_error_t je;
	json_t *j = json_loads(f->line[0], 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "pyautogui")),
			    "pyautogui.write('it\\'s a \\\\ \"q\" é€😀')");
	assert_string_equal(
	    json_string_value(
		json_object_get(json_object_get(j, "action"), "text")),
	    "it's a \\ \"q\" é€😀");
	json_decref(j);
	fx_free(f);
}

static void hotkey_names_are_escaped_for_python(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 100, '\'', CTRL, NULL);
	key(f, 200, '\\', CTRL, NULL);
	key(f, 300, '"', CTRL | SHIFT, NULL);
	finish(f);
	assert_int_equal(f->n, 3);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"hotkey\",\"keys\":[\"ctrl\",\"'\"]},"
		   "\"pyautogui\":\"pyautogui.hotkey('ctrl', '\\\\'')\"}");
	assert_act(f, 1,
		   "\"action\":{\"type\":\"hotkey\",\"keys\":[\"ctrl\","
		   "\"\\\\\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', "
		   "'\\\\\\\\')\"}");
	assert_act(f, 2,
		   "\"action\":{\"type\":\"hotkey\",\"keys\":[\"ctrl\","
		   "\"shift\",\"\\\"\"]},\"pyautogui\":\"pyautogui.hotkey("
		   "'ctrl', 'shift', '\\\"')\"}");
	fx_free(f);
}

/* ---- type runs ---------------------------------------------------------- */

static void shift_and_releases_do_not_break_a_type_run(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 100, KS_SHIFT_L, 0, NULL);
	key(f, 150, 'H', SHIFT, "H");
	keyup(f, 200, KS_SHIFT_L, SHIFT);
	keyup(f, 210, 'H', 0);
	typed(f, 300, "i there", 120);
	key(f, 2000, KS_SHIFT_L, 0, NULL);
	key(f, 2100, '!', SHIFT, "!");
	finish(f);
	assert_int_equal(f->n, 1);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"type\",\"text\":\"Hi there!\"},"
		   "\"pyautogui\":\"pyautogui.write('Hi there!')\"}");
	fx_free(f);
}

static void dead_and_unknown_keys_do_not_break_a_type_run(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	typed(f, 100, "caf", 100);
	key(f, 400, 0xfe51, 0, NULL); /* dead_acute */
	key(f, 500, 0xe9, 0, "é");
	key(f, 600, 0x1008ff40, 0, NULL); /* XF86Launch0 */
	typed(f, 700, "!", 100);
	finish(f);
	assert_int_equal(f->n, 1);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"type\",\"text\":\"café!\"},"
		   "\"pyautogui\":\"pyautogui.write('café!')\"}");
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.dropped, 1);
	fx_free(f);
}

static void type_run_continues_across_segments_with_its_first_level(
    void **state)
{
	(void)state;
	struct fx *f = fx_new();
	typed(f, 59800, "ab", 100);
	feed(f, 1);
	f->evs.anchor_ns = ANCHOR_NS + UINT64_C(60000000000);
	typed(f, 0, "cd", 100);
	feed(f, 3);
	key(f, 300, KS_RETURN, 0, NULL);
	feed(f, 3);
	finish(f);
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(f->line[0], "\"level\":1,\"action\":{\"type\":"
					   "\"type\",\"text\":\"abcd\"}"));
	assert_non_null(strstr(f->line[1], "\"level\":3,\"action\":{\"type\":"
					   "\"key\",\"key\":\"enter\"}"));
	assert_non_null(strstr(f->line[1], "\"time_ms\":500,"));
	fx_free(f);
}

static void type_run_breaks_at_focus_keys_clicks_waits_and_redactions(
    void **state)
{
	(void)state;
	struct fx *f = fx_new();
	focus(f, 0, "xterm", "XTerm", "one");
	typed(f, 100, "ab", 100);
	focus(f, 350, "xterm", "XTerm", "two"); /* same app, other window */
	typed(f, 400, "cd", 100);
	key(f, 650, KS_BACKSPACE, 0, NULL);
	typed(f, 700, "ef", 100);
	click(f, 950, 1, 10, 10);
	typed(f, 1100, "gh", 100);
	typed(f, 3000, "ij", 100); /* 1.75 s after the last release */
	redact(f, 3300, ST_DET_EMAIL, ST_LEN_17_PLUS);
	typed(f, 3400, "kl", 100);
	focus(f, 3700, "xterm", "XTerm", "two"); /* unchanged: no break */
	typed(f, 3800, "mn", 100);
	finish(f);
	const char *want[] = {"ab",   "cd",   "(backspace)", "ef",	"(click)",
			      "gh",   "(wait)", "ij",	"(redacted)",
			      "klmn"};
	assert_int_equal(f->n, sizeof want / sizeof *want);
	for (size_t i = 0; i < f->n; i++) {
		char buf[128];
		if (want[i][0] == '(')
			continue;
		snprintf(buf, sizeof buf,
			 "\"action\":{\"type\":\"type\",\"text\":\"%s\"}",
			 want[i]);
		if (strncmp(act(f, i), buf, strlen(buf)) != 0)
			fail_msg("step %zu: %s", i, f->line[i]);
	}
	assert_non_null(strstr(act(f, 2), "\"key\":\"backspace\""));
	assert_non_null(strstr(act(f, 4), "\"type\":\"click\""));
	assert_non_null(strstr(act(f, 6), "\"type\":\"wait\""));
	assert_non_null(strstr(act(f, 8), "\"type\":\"redacted\""));
	assert_non_null(strstr(f->line[0], "\"window_title\":\"one\""));
	assert_non_null(strstr(f->line[1], "\"window_title\":\"two\""));
	fx_free(f);
}

static void long_runs_split_at_the_text_cap(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint64_t t = 0;
	for (unsigned i = 0; i < ST_ACTIONS_TEXT_MAX + 10; i++, t += 50)
		key(f, t, 'x', 0, "x");
	finish(f);
	assert_int_equal(f->n, 2);
	json_t *j0 = json_loads(f->line[0], 0, NULL);
	json_t *j1 = json_loads(f->line[1], 0, NULL);
	assert_non_null(j0);
	assert_non_null(j1);
	assert_int_equal(strlen(json_string_value(json_object_get(
			     json_object_get(j0, "action"), "text"))),
			 ST_ACTIONS_TEXT_MAX);
	assert_int_equal(strlen(json_string_value(json_object_get(
			     json_object_get(j1, "action"), "text"))),
			 10);
	json_decref(j0);
	json_decref(j1);
	fx_free(f);
}

/* ---- keys and hotkeys --------------------------------------------------- */

static void named_keys_press_their_pyautogui_name(void **state)
{
	(void)state;
	static const struct {
		uint32_t ks;
		const char *name;
	} k[] = {{0xff0d, "enter"},    {0xff8d, "enter"},   {0xff09, "tab"},
		 {0xff08, "backspace"}, {0xff1b, "esc"},     {0xffff, "delete"},
		 {0xff63, "insert"},   {0xff50, "home"},    {0xff57, "end"},
		 {0xff55, "pageup"},   {0xff56, "pagedown"}, {0xff52, "up"},
		 {0xff54, "down"},     {0xff51, "left"},    {0xff53, "right"},
		 {0xffbe, "f1"},       {0xffd5, "f24"},     {0xffe5, "capslock"},
		 {0xff7f, "numlock"},  {0xff61, "printscreen"},
		 {0xff67, "apps"},     {0xff14, "scrolllock"},
		 {0xff13, "pause"},    {0xff9c, "end"}, /* KP_End */
		 {0xffab, "+"},	       {0xffb7, "7"}}; /* KP_Add, KP_7 */
	size_t n = sizeof k / sizeof *k;
	struct fx *f = fx_new();
	for (size_t i = 0; i < n; i++)
		key(f, 100 + i * 100, k[i].ks, 0, NULL);
	/* A control character as text names its key when the keysym cannot. */
	key(f, 100 + n * 100, 0, 0, "\r");
	finish(f);
	assert_int_equal(f->n, n + 1);
	for (size_t i = 0; i <= n; i++) {
		const char *name = i < n ? k[i].name : "enter";
		char want[256];
		snprintf(want, sizeof want,
			 "\"action\":{\"type\":\"key\",\"key\":\"%s\"},"
			 "\"pyautogui\":\"pyautogui.press('%s')\"}",
			 name, name);
		assert_act(f, i, want);
	}
	fx_free(f);
}

static void modifiers_alone_and_unknown_keys_are_no_step(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 100, KS_SHIFT_L, 0, NULL);
	keyup(f, 150, KS_SHIFT_L, SHIFT);
	key(f, 200, KS_CONTROL_L, 0, NULL);
	key(f, 250, 0xffe9, CTRL, NULL);	/* Alt_L with Ctrl held */
	key(f, 300, 0xfe03, 0, NULL);	/* ISO_Level3_Shift (AltGr) */
	key(f, 350, 0x0, 0, NULL);	/* NoSymbol, no text */
	key(f, 400, 0x1008ff40, 0, NULL); /* XF86Launch0: no pyautogui name */
	key(f, 450, 0x1008ff13, 0, NULL); /* volume up: replay cannot press */
	key(f, 500, 0xff6a, 0, NULL);     /* Help: nor this */
	key(f, 550, 0x0100fdd0, CTRL, NULL); /* a noncharacter */
	finish(f);
	assert_int_equal(f->n, 0);
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.dropped, 5);
	assert_int_equal(s.episodes, 0);
	assert_string_equal(f->log, "");
	fx_free(f);
}

static void hotkeys_list_modifiers_in_order_then_the_key(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 100, 'c', CTRL, NULL);
	key(f, 200, 'T', CTRL | SHIFT, NULL);		/* lower-cased */
	key(f, 300, KS_TAB, ALT, NULL);
	key(f, 400, 'e', SUPER, NULL);
	key(f, 500, 0xffff, CTRL | ALT, NULL);
	key(f, 600, 'z', SUPER | SHIFT | ALT | CTRL, NULL);
	key(f, 700, KS_LEFT_TAB, SHIFT, NULL);	/* shift+tab */
	key(f, 800, 'v', CTRL | NUMLOCK, NULL); /* NumLock is no modifier */
	key(f, 900, ' ', CTRL, " ");		/* ctrl+space, with text */
	key(f, 1000, 0xc9, CTRL, NULL);		/* Eacute: lower-cased */
	key(f, 1100, 0xffab, CTRL, "+");	/* KP_Add: its character */
	finish(f);
	const char *want[] = {
	    "[\"ctrl\",\"c\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', 'c')\"}",
	    "[\"ctrl\",\"shift\",\"t\"]},\"pyautogui\":\"pyautogui.hotkey("
	    "'ctrl', 'shift', 't')\"}",
	    "[\"alt\",\"tab\"]},\"pyautogui\":\"pyautogui.hotkey('alt', "
	    "'tab')\"}",
	    "[\"win\",\"e\"]},\"pyautogui\":\"pyautogui.hotkey('win', 'e')\"}",
	    "[\"ctrl\",\"alt\",\"delete\"]},\"pyautogui\":\"pyautogui.hotkey("
	    "'ctrl', 'alt', 'delete')\"}",
	    "[\"ctrl\",\"alt\",\"shift\",\"win\",\"z\"]},\"pyautogui\":"
	    "\"pyautogui.hotkey('ctrl', 'alt', 'shift', 'win', 'z')\"}",
	    "[\"shift\",\"tab\"]},\"pyautogui\":\"pyautogui.hotkey('shift', "
	    "'tab')\"}",
	    "[\"ctrl\",\"v\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', "
	    "'v')\"}",
	    "[\"ctrl\",\"space\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', "
	    "'space')\"}",
	    "[\"ctrl\",\"é\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', "
	    "'é')\"}",
	    "[\"ctrl\",\"+\"]},\"pyautogui\":\"pyautogui.hotkey('ctrl', "
	    "'+')\"}"};
	assert_int_equal(f->n, sizeof want / sizeof *want);
	for (size_t i = 0; i < f->n; i++) {
		char buf[256];
		snprintf(buf, sizeof buf,
			 "\"action\":{\"type\":\"hotkey\",\"keys\":%s", want[i]);
		assert_act(f, i, buf);
	}
	fx_free(f);
}

static void altgr_and_shift_text_is_typed_not_a_hotkey(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 100, '@', ALTGR, "@");
	key(f, 200, 'A', SHIFT | 2u /* Lock */, "A");
	key(f, 300, '1', NUMLOCK, "1");
	finish(f);
	assert_int_equal(f->n, 1);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"type\",\"text\":\"@A1\"},"
		   "\"pyautogui\":\"pyautogui.write('@A1')\"}");
	fx_free(f);
}

/* ---- pointer ------------------------------------------------------------ */

static void click_within_slop_drag_beyond_it(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	/* 3.6 px: a click at the press point */
	btn(f, 100, true, 1, 100, 100);
	btn(f, 150, false, 1, 103, 102);
	/* 5.7 px at the release: a drag without samples */
	btn(f, 1000, true, 1, 100, 100);
	btn(f, 1050, false, 1, 104, 104);
	/* exactly the slop (4 px): a click */
	btn(f, 1500, true, 1, 200, 200);
	btn(f, 1550, false, 1, 200, 204);
	/* out and back: still a drag */
	btn(f, 2000, true, 1, 300, 300);
	ptr(f, 2020, 320, 300);
	ptr(f, 2040, 301, 300);
	btn(f, 2060, false, 1, 301, 300);
	finish(f);
	assert_int_equal(f->n, 4);
	assert_act(f, 2,
		   "\"action\":{\"type\":\"click\",\"x\":200,\"y\":200},"
		   "\"pyautogui\":\"pyautogui.click(x=200, y=200)\"}");
	assert_act(f, 0,
		   "\"action\":{\"type\":\"click\",\"x\":100,\"y\":100},"
		   "\"pyautogui\":\"pyautogui.click(x=100, y=100)\"}");
	assert_act(f, 1,
		   "\"action\":{\"type\":\"drag\",\"button\":\"left\",\"x\":100,"
		   "\"y\":100,\"to_x\":104,\"to_y\":104,\"path\":[]},"
		   "\"pyautogui\":\"pyautogui.moveTo(x=100, y=100); "
		   "pyautogui.dragTo(x=104, y=104, duration=0.05, "
		   "button='left')\"}");
	assert_act(f, 3,
		   "\"action\":{\"type\":\"drag\",\"button\":\"left\",\"x\":300,"
		   "\"y\":300,\"to_x\":301,\"to_y\":300,\"path\":[[320,300],"
		   "[301,300]]},\"pyautogui\":\"pyautogui.moveTo(x=300, "
		   "y=300); pyautogui.dragTo(x=301, y=300, duration=0.06, "
		   "button='left')\"}");
	fx_free(f);
}

static void slop_is_configurable(void **state)
{
	(void)state;
	struct st_actions_cfg c;
	st_actions_cfg_default(&c);
	c.click_slop_px = 10;
	struct fx *f = fx_new_cfg(&c);
	btn(f, 100, true, 1, 100, 100);
	btn(f, 150, false, 1, 106, 106); /* 8.5 px */
	finish(f);
	assert_int_equal(f->n, 1);
	assert_non_null(strstr(act(f, 0), "\"type\":\"click\""));
	fx_free(f);
}

static void drag_has_duration_and_right_button(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	btn(f, 1000, true, 3, 10, 20);
	ptr(f, 1020, 30, 20);
	ptr(f, 1040, 60, 25);
	ptr(f, 1060, 90, 30);
	btn(f, 2234, false, 3, 90, 30);
	finish(f);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"drag\",\"button\":\"right\",\"x\":10,"
		   "\"y\":20,\"to_x\":90,\"to_y\":30,\"path\":[[30,20],[60,25],"
		   "[90,30]]},\"pyautogui\":\"pyautogui.moveTo(x=10, y=20); "
		   "pyautogui.dragTo(x=90, y=30, duration=1.23, "
		   "button='right')\"}");
	fx_free(f);
}

static void keys_during_a_drag_come_first_and_time_never_goes_back(
    void **state)
{
	(void)state;
	struct fx *f = fx_new();
	btn(f, 1000, true, 1, 10, 10);
	ptr(f, 1020, 90, 10);
	typed(f, 1100, "ab", 100);
	btn(f, 1300, false, 1, 90, 10);
	typed(f, 1400, "cd", 100);
	finish(f);
	assert_int_equal(f->n, 3);
	assert_non_null(strstr(f->line[0], "\"time\":\"2026-12-06T15:00:01.100Z\","
					   "\"time_ms\":0,"));
	assert_non_null(strstr(act(f, 0), "\"text\":\"ab\"}"));
	/* The drag began at 1.000, before the keys: shown at 1.100. */
	assert_non_null(strstr(f->line[1], "\"time\":\"2026-12-06T15:00:01.100Z\","
					   "\"time_ms\":0,"));
	assert_non_null(strstr(act(f, 1), "\"type\":\"drag\""));
	assert_non_null(strstr(act(f, 1), "duration=0.30"));
	assert_non_null(strstr(act(f, 2), "\"text\":\"cd\"}"));
	assert_non_null(strstr(f->line[2], "\"time_ms\":300,"));
	fx_free(f);
}

static void drag_path_is_thinned_evenly_keeping_first_and_last(void **state)
{
	(void)state;
	/* Thinned while held (past ST_ACTIONS_SAMPLES_MAX) and at the end. */
	const unsigned counts[] = {64, 65, 200, ST_ACTIONS_SAMPLES_MAX * 3 + 7};
	for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
		unsigned n = counts[c];
		struct fx *f = fx_new();
		btn(f, 0, true, 1, 0, 0);
		for (unsigned i = 0; i < n; i++)
			ptr(f, 1 + i, (int32_t)i + 10, 7);
		btn(f, n + 1, false, 1, (int32_t)n + 9, 7);
		finish(f);
		assert_int_equal(f->n, 1);
		json_t *j = json_loads(f->line[0], 0, NULL);
		assert_non_null(j);
		json_t *path = json_object_get(json_object_get(j, "action"),
					       "path");
		size_t m = json_array_size(path);
		assert_int_equal(m, ST_ACTIONS_PATH_MAX);
		long long prev = -1, gap_min = n, gap_max = 0;
		for (size_t i = 0; i < m; i++) {
			long long x = json_integer_value(
			    json_array_get(json_array_get(path, i), 0));
			/* Below the storage cap: sample round(i (n-1) / 63). */
			if (n <= ST_ACTIONS_SAMPLES_MAX)
				assert_int_equal(x, 10 + (i * (n - 1) + 31) / 63);
			if (i) {
				long long g = x - prev;
				gap_min = g < gap_min ? g : gap_min;
				gap_max = g > gap_max ? g : gap_max;
			}
			prev = x;
		}
		assert_int_equal(json_integer_value(json_array_get(
				     json_array_get(path, 0), 0)),
				 10);
		assert_int_equal(prev, n + 9);
		/* even: the steps differ by at most the storage stride + 1 */
		assert_true(gap_min >= 1);
		assert_true(gap_max - gap_min <= (n > ST_ACTIONS_SAMPLES_MAX ? 5 : 1));
		json_decref(j);
		fx_free(f);
	}
}

static void double_click_by_time_and_place(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	click(f, 1000, 1, 50, 50);
	ptr(f, 1200, 52, 51);	   /* jitter within the slop: no move */
	click(f, 1300, 1, 51, 52); /* 300 ms, 2.2 px: double */
	click(f, 3000, 1, 50, 50);
	click(f, 3500, 1, 50, 50); /* 500 ms: two clicks */
	click(f, 5000, 1, 50, 50);
	click(f, 5200, 1, 60, 50); /* 10 px: two clicks */
	click(f, 7000, 1, 50, 50);
	click(f, 7200, 1, 50, 50);
	click(f, 7400, 1, 50, 50); /* a third: a click of its own */
	click(f, 9000, 1, 50, 50);
	click(f, 9400, 1, 50, 50); /* exactly double_ms: double */
	finish(f);
	const char *types[] = {"double_click", "wait",	       "click",
			       "click",	       "wait",	       "click",
			       "click",	       "wait",	       "double_click",
			       "click",	       "wait",	       "double_click"};
	assert_int_equal(f->n, sizeof types / sizeof *types);
	for (size_t i = 0; i < f->n; i++) {
		char buf[64];
		snprintf(buf, sizeof buf, "\"action\":{\"type\":\"%s\"",
			 types[i]);
		if (strncmp(act(f, i), buf, strlen(buf)) != 0)
			fail_msg("step %zu: %s", i, f->line[i]);
	}
	assert_act(f, 0,
		   "\"action\":{\"type\":\"double_click\",\"x\":50,\"y\":50},"
		   "\"pyautogui\":\"pyautogui.doubleClick(x=50, y=50)\"}");
	assert_non_null(strstr(act(f, 6), "\"x\":60,"));
	fx_free(f);
}

static void pointer_actions_show_the_window_in_front_at_their_press(
    void **state)
{
	(void)state;
	struct fx *f = fx_new();
	focus(f, 0, "mail", "Mail", "Inbox");
	/* a click on the task bar: the window manager focuses on press */
	btn(f, 100, true, 1, 40, 1062);
	focus(f, 110, "xterm", "XTerm", "~");
	btn(f, 150, false, 1, 40, 1062);
	focus(f, 160, "chat", "Chat", "#team"); /* before a double's end */
	btn(f, 300, true, 1, 40, 1062);
	focus(f, 310, "files", "Files", "/home");
	btn(f, 350, false, 1, 40, 1062);
	/* a drag across a focus change */
	btn(f, 600, true, 1, 500, 500);
	focus(f, 610, "writer", "Writer", "doc");
	ptr(f, 620, 600, 500);
	btn(f, 640, false, 1, 600, 500);
	key(f, 700, KS_TAB, 0, NULL);
	finish(f);
	assert_int_equal(f->n, 3);
	assert_non_null(strstr(f->line[0], "\"app\":\"mail\",\"window_title\":"
					   "\"Inbox\""));
	assert_non_null(strstr(act(f, 0), "\"type\":\"double_click\""));
	assert_non_null(strstr(f->line[1], "\"app\":\"files\",\"window_title\":"
					   "\"/home\""));
	assert_non_null(strstr(act(f, 1), "\"type\":\"drag\""));
	assert_non_null(strstr(f->line[2], "\"app\":\"writer\",\"window_title\":"
					   "\"doc\""));
	fx_free(f);
}

static void right_and_middle_clicks(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	click(f, 100, 3, 5, 6);
	click(f, 300, 2, 7, 8);
	click(f, 500, 8, 7, 8); /* back button: pyautogui has none */
	finish(f);
	assert_int_equal(f->n, 2);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"right_click\",\"x\":5,\"y\":6},"
		   "\"pyautogui\":\"pyautogui.rightClick(x=5, y=6)\"}");
	assert_act(f, 1,
		   "\"action\":{\"type\":\"middle_click\",\"x\":7,\"y\":8},"
		   "\"pyautogui\":\"pyautogui.middleClick(x=7, y=8)\"}");
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.dropped, 1);
	fx_free(f);
}

static void negative_coordinates_show_as_zero(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	click(f, 100, 3, -5, 7);
	finish(f);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"right_click\",\"x\":0,\"y\":7},"
		   "\"pyautogui\":\"pyautogui.rightClick(x=0, y=7)\"}");
	fx_free(f);
}

static void scrolls_sum_at_one_place_with_pyautogui_signs(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	/* three notches down (X11 button 5, dy +1), one with 2 px jitter */
	scroll(f, 100, 500, 400, 0, 1, false);
	scroll(f, 150, 500, 400, 0, 1, false);
	ptr(f, 170, 502, 400);
	scroll(f, 200, 502, 400, 0, 1, false);
	/* elsewhere: two up */
	scroll(f, 400, 900, 400, 0, -1, false);
	scroll(f, 450, 900, 400, 0, -1, false);
	finish(f);
	assert_int_equal(f->n, 2);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"scroll\",\"x\":500,\"y\":400,"
		   "\"dx\":0,\"dy\":-3},\"pyautogui\":\"pyautogui.scroll(-3, "
		   "x=500, y=400)\"}");
	assert_act(f, 1,
		   "\"action\":{\"type\":\"scroll\",\"x\":900,\"y\":400,"
		   "\"dx\":0,\"dy\":2},\"pyautogui\":\"pyautogui.scroll(2, "
		   "x=900, y=400)\"}");
	fx_free(f);
}

static void scroll_steps_stay_within_replays_cap(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	for (unsigned i = 0; i < 1500; i++)
		scroll(f, 100 + i, 10, 10, 0, 1, false);
	finish(f);
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(act(f, 0), "\"dx\":0,\"dy\":-1000}"));
	assert_non_null(strstr(act(f, 1), "\"dx\":0,\"dy\":-500}"));
	assert_non_null(strstr(f->line[1], "\"time_ms\":1000,"));
	fx_free(f);
}

static void horizontal_both_smooth_and_zero_scrolls(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	scroll(f, 100, 10, 10, 1, 0, false); /* right (button 7) */
	key(f, 200, KS_TAB, 0, NULL);
	scroll(f, 300, 10, 10, -2, 0, false);
	scroll(f, 320, 10, 10, 0, -1, false);
	key(f, 400, KS_TAB, 0, NULL);
	scroll(f, 500, 10, 10, 0, 400, true); /* 1.2 notches down */
	scroll(f, 516, 10, 10, 0, 400, true);
	scroll(f, 532, 10, 10, 0, 400, true);
	key(f, 600, KS_TAB, 0, NULL);
	scroll(f, 700, 10, 10, 0, 200, true); /* 0.2: still one notch */
	key(f, 800, KS_TAB, 0, NULL);
	scroll(f, 900, 10, 10, 0, 1, false); /* down and up: nothing */
	scroll(f, 950, 10, 10, 0, -1, false);
	finish(f);
	assert_int_equal(f->n, 8);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"scroll\",\"x\":10,\"y\":10,\"dx\":1,"
		   "\"dy\":0},\"pyautogui\":\"pyautogui.hscroll(1, x=10, "
		   "y=10)\"}");
	assert_act(f, 2,
		   "\"action\":{\"type\":\"scroll\",\"x\":10,\"y\":10,\"dx\":-2,"
		   "\"dy\":1},\"pyautogui\":\"pyautogui.scroll(1, x=10, y=10); "
		   "pyautogui.hscroll(-2, x=10, y=10)\"}");
	assert_non_null(strstr(act(f, 4), "\"dx\":0,\"dy\":-1},"));
	assert_non_null(strstr(act(f, 6), "\"dx\":0,\"dy\":-1},"));
	assert_non_null(strstr(act(f, 7), "\"type\":\"key\"")); /* no step for 0 */
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.by_type[ST_ACT_SCROLL], 4);
	fx_free(f);
}

static void move_only_when_motion_ends_without_a_pointer_action(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	ptr(f, 100, 10, 10);
	ptr(f, 120, 20, 20);
	btn(f, 140, true, 1, 20, 20); /* motion ends in a click: no move */
	btn(f, 160, false, 1, 20, 20);
	ptr(f, 700, 40, 40);
	ptr(f, 720, 50, 60);
	key(f, 800, KS_RETURN, 0, NULL); /* motion, then a key: a move */
	ptr(f, 900, 70, 70);
	scroll(f, 920, 70, 70, 0, 1, false); /* ends in a scroll: no move */
	ptr(f, 1000, 200, 200);
	ptr(f, 1020, 210, 220); /* ends with the episode: a move */
	finish(f);
	assert_int_equal(f->n, 5);
	assert_non_null(strstr(act(f, 0), "\"type\":\"click\",\"x\":20,"));
	assert_act(f, 1,
		   "\"action\":{\"type\":\"move\",\"x\":50,\"y\":60},"
		   "\"pyautogui\":\"pyautogui.moveTo(x=50, y=60)\"}");
	assert_non_null(strstr(f->line[1], "\"time_ms\":560,"));
	assert_non_null(strstr(act(f, 2), "\"type\":\"key\""));
	assert_non_null(strstr(act(f, 3), "\"type\":\"scroll\""));
	assert_act(f, 4,
		   "\"action\":{\"type\":\"move\",\"x\":210,\"y\":220},"
		   "\"pyautogui\":\"pyautogui.moveTo(x=210, y=220)\"}");
	fx_free(f);
}

/* ---- waits and episodes ------------------------------------------------- */

static void wait_between_actions_from_wait_min_to_idle(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	click(f, 1000, 1, 1, 1);	    /* released at 1050 */
	click(f, 3550, 1, 1, 1);	    /* 2.5 s later */
	key(f, 4500, KS_TAB, 0, NULL); /* 0.9 s: no wait */
	key(f, 63400, KS_TAB, 0, NULL); /* 58.9 s: a wait */
	key(f, 64400, KS_TAB, 0, NULL); /* exactly wait_min: a wait */
	ptr(f, 66000, 9, 9);	    /* 1.6 s: a wait, then a move */
	keyup(f, 68000, KS_TAB, 0); /* 2 s: no action after it, no wait */
	finish(f);
	const char *types[] = {"click", "wait", "click", "key",	 "wait",
			       "key",	"wait", "key",	 "wait", "move"};
	assert_int_equal(f->n, sizeof types / sizeof *types);
	for (size_t i = 0; i < f->n; i++) {
		char buf[64];
		snprintf(buf, sizeof buf, "\"action\":{\"type\":\"%s\"",
			 types[i]);
		if (strncmp(act(f, i), buf, strlen(buf)) != 0)
			fail_msg("step %zu: %s", i, f->line[i]);
	}
	assert_act(f, 1,
		   "\"action\":{\"type\":\"wait\",\"seconds\":2.50},"
		   "\"pyautogui\":\"pyautogui.sleep(2.50)\"}");
	assert_non_null(strstr(f->line[1], "\"index\":1,\"time\":\"2026-12-06"
					   "T15:00:01.050Z\",\"time_ms\":50,"));
	assert_non_null(strstr(act(f, 4), "\"seconds\":58.90}"));
	assert_non_null(strstr(act(f, 6), "\"seconds\":1.00}"));
	assert_non_null(strstr(f->line[8], "\"index\":8,\"time\":\"2026-12-06"
					   "T15:01:04.400Z\",\"time_ms\":63400,"));
	assert_non_null(strstr(act(f, 8), "\"seconds\":1.60}"));
	fx_free(f);
}

static void wait_before_a_move_and_none_while_a_button_is_held(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 0, KS_TAB, 0, NULL);
	ptr(f, 100, 5, 5);
	ptr(f, 3100, 6, 6); /* quiet 3 s inside a motion: the move ends */
	btn(f, 5000, true, 1, 6, 6); /* quiet 1.9 s, then a press there */
	btn(f, 8000, false, 1, 60, 60); /* held 3 s: no wait inside */
	finish(f);
	/* The second motion is taken over by the press (no move), so one
	 * wait spans both quiet times, from the first move to the drag. */
	assert_int_equal(f->n, 4);
	assert_non_null(strstr(act(f, 1), "\"type\":\"move\",\"x\":5,"));
	assert_non_null(strstr(f->line[2], "\"time_ms\":100,"));
	assert_non_null(strstr(act(f, 2), "\"seconds\":4.90}"));
	assert_non_null(strstr(act(f, 3), "\"type\":\"drag\""));
	assert_non_null(strstr(act(f, 3), "duration=3.00"));
	fx_free(f);
}

static void episodes_end_at_idle_quiet_and_session_markers(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	key(f, 0, KS_TAB, 0, NULL);
	marker(f, 100, ST_EV_IDLE_START, 0);
	marker(f, 200, ST_EV_IDLE_END, 0);
	key(f, 300, KS_TAB, 0, NULL);
	key(f, 61300, KS_TAB, 0, NULL); /* quiet 61 s >= idle_ms */
	key(f, 61400, KS_TAB, 0, NULL);
	marker(f, 61500, ST_EV_SESSION, ST_SESSION_PAUSE);
	marker(f, 61600, ST_EV_SESSION, ST_SESSION_RESUME); /* no cut */
	key(f, 61700, KS_TAB, 0, NULL);
	marker(f, 61800, ST_EV_SESSION, ST_SESSION_RESUME);
	key(f, 61900, KS_TAB, 0, NULL);
	marker(f, 62000, ST_EV_SESSION, ST_SESSION_GAP);
	key(f, 62100, KS_TAB, 0, NULL);
	marker(f, 62200, ST_EV_SESSION, ST_SESSION_END);
	marker(f, 62300, ST_EV_SESSION, ST_SESSION_START);
	key(f, 62400, KS_TAB, 0, NULL);
	marker(f, 62500, ST_EV_SESSION, ST_SESSION_START);
	key(f, 62600, KS_TAB, 0, NULL);
	feed(f, 1);
	assert_int_equal(st_actions_cut(f->a, &f->err), 0);
	assert_int_equal(st_actions_cut(f->a, &f->err), 0); /* nothing: no episode */
	key(f, 62700, KS_TAB, 0, NULL);
	finish(f);
	assert_string_equal(f->log, "B dev-0001;E dev-0001 1;"
				    "B dev-0002;E dev-0002 1;"
				    "B dev-0003;E dev-0003 2;"
				    "B dev-0004;E dev-0004 2;"
				    "B dev-0005;E dev-0005 1;"
				    "B dev-0006;E dev-0006 1;"
				    "B dev-0007;E dev-0007 1;"
				    "B dev-0008;E dev-0008 1;");
	/* index and time_ms restart with each episode */
	assert_non_null(strstr(f->line[2], "\"episode\":\"dev-0003\",\"index\":0,"
					   "\"time\":\"2026-12-06T15:01:01.300Z\","
					   "\"time_ms\":0,"));
	assert_non_null(strstr(f->line[3], "\"episode\":\"dev-0003\",\"index\":1,"
					   "\"time\":\"2026-12-06T15:01:01.400Z\","
					   "\"time_ms\":100,"));
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.episodes, 8);
	assert_int_equal(s.steps, 10);
	fx_free(f);
}

static void idle_ms_is_configurable(void **state)
{
	(void)state;
	struct st_actions_cfg c;
	st_actions_cfg_default(&c);
	c.idle_ms = 5000;
	c.wait_min_ms = 2000;
	struct fx *f = fx_new_cfg(&c);
	key(f, 0, KS_TAB, 0, NULL);
	key(f, 1900, KS_TAB, 0, NULL); /* under wait_min */
	key(f, 6800, KS_TAB, 0, NULL); /* 4.9 s: a wait */
	key(f, 11800, KS_TAB, 0, NULL); /* 5 s: a cut */
	finish(f);
	assert_string_equal(f->log,
			    "B dev-0001;E dev-0001 4;B dev-0002;E dev-0002 1;");
	assert_non_null(strstr(act(f, 2), "\"seconds\":4.90}"));
	fx_free(f);
}

static void cut_forgets_the_device_context(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	screen(f, 0, 0, 0, 0, 800, 600);
	focus(f, 0, "mail", "Mail", "Inbox");
	key(f, 100, KS_TAB, 0, NULL);
	feed(f, 1);
	assert_int_equal(st_actions_cut(f->a, &f->err), 0);
	key(f, 1200, KS_TAB, 0, NULL); /* another device: no wait, no focus */
	finish(f);
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(f->line[1], "\"episode\":\"dev-0002\",\"index\":0,"));
	assert_non_null(strstr(f->line[1], "\"app\":\"\",\"window_title\":\"\","
					   "\"screen\":{\"width\":0,"
					   "\"height\":0}"));
	fx_free(f);
}

/* ---- fields, redactions, time ------------------------------------------- */

static void withheld_fields_are_left_out(void **state)
{
	(void)state;
	struct fx *f = fx_fields(ST_PURPOSE_F_POINTER | ST_PURPOSE_F_KEYS);
	focus(f, 0, "mail", "Mail", "Re: salary");
	typed(f, 100, "secret plans!", 50); /* 13 bytes */
	key(f, 800, KS_RETURN, 0, NULL);
	typed(f, 900, "ok", 50);
	click(f, 1100, 1, 3, 4);
	finish(f);
	assert_int_equal(f->n, 4);
	assert_string_equal(
	    f->line[0],
	    "{\"episode\":\"dev-0001\",\"index\":0,"
	    "\"time\":\"2026-12-06T15:00:00.100Z\",\"time_ms\":0,"
	    "\"app\":\"\",\"window_title\":\"\","
	    "\"screen\":{\"width\":0,\"height\":0},\"level\":1,"
	    "\"action\":{\"type\":\"redacted\",\"kind\":\"text_withheld\","
	    "\"length\":\"9-16\"},\"pyautogui\":\"\"}");
	assert_non_null(strstr(act(f, 1), "\"key\":\"enter\""));
	assert_act(f, 2,
		   "\"action\":{\"type\":\"redacted\",\"kind\":\"text_withheld\","
		   "\"length\":\"1-8\"},\"pyautogui\":\"\"}");
	assert_non_null(strstr(act(f, 3), "\"type\":\"click\""));
	for (size_t i = 0; i < f->n; i++)
		assert_null(strstr(f->line[i], "secret"));
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.text_withheld, 2);
	assert_int_equal(s.by_type[ST_ACT_REDACTED], 2);
	assert_int_equal(s.by_type[ST_ACT_TYPE], 0);
	fx_free(f);
}

static void withheld_text_length_classes_at_their_bounds(void **state)
{
	(void)state;
	static const struct {
		const char *text, *cls;
	} c[] = {{"a", "1-8"},
		 {"12345678", "1-8"},
		 {"123456789", "9-16"},
		 {"1234567890123456", "9-16"},
		 {"12345678901234567", "17+"},
		 {"éééé", "1-8"},  /* 8 bytes */
		 {"ééééé", "9-16"}}; /* bytes, as the filter counts */
	size_t n = sizeof c / sizeof *c;
	struct fx *f = fx_fields(ST_PURPOSE_F_KEYS);
	for (size_t i = 0; i < n; i++) {
		typed(f, 100 + i * 5000, c[i].text, 10);
		key(f, 100 + i * 5000 + 400, KS_RETURN, 0, NULL);
	}
	finish(f);
	assert_int_equal(f->n, 3 * n - 1); /* run, enter, wait ... */
	for (size_t i = 0; i < n; i++) {
		char want[160];
		snprintf(want, sizeof want,
			 "\"action\":{\"type\":\"redacted\",\"kind\":"
			 "\"text_withheld\",\"length\":\"%s\"},\"pyautogui\":"
			 "\"\"}", c[i].cls);
		assert_act(f, 3 * i, want);
	}
	fx_free(f);
}

static void no_pointer_drops_pointer_actions_but_they_still_break_runs(
    void **state)
{
	(void)state;
	struct fx *f = fx_fields(ST_PURPOSE_F_ALL & ~(unsigned)ST_PURPOSE_F_POINTER);
	focus(f, 0, "mail", "Mail", "Compose");
	typed(f, 100, "user", 50);
	click(f, 400, 1, 300, 300); /* into the next field */
	typed(f, 600, "name", 50);
	ptr(f, 900, 5, 5);
	scroll(f, 950, 5, 5, 0, 1, false);
	btn(f, 1000, true, 1, 5, 5);
	ptr(f, 1020, 50, 50);
	btn(f, 1040, false, 1, 50, 50);
	key(f, 1100, 'c', CTRL, NULL);
	finish(f);
	assert_int_equal(f->n, 3);
	assert_non_null(strstr(f->line[0], "\"app\":\"mail\",\"window_title\":"
					   "\"Compose\""));
	assert_non_null(strstr(act(f, 0), "\"text\":\"user\""));
	assert_non_null(strstr(act(f, 1), "\"text\":\"name\""));
	assert_non_null(strstr(act(f, 2), "\"type\":\"hotkey\""));
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.withheld, 3); /* click, scroll, drag */
	fx_free(f);
}

static void no_keys_drops_keys_and_hotkeys_no_titles_or_apps_blanks_them(
    void **state)
{
	(void)state;
	struct fx *f = fx_fields(ST_PURPOSE_F_POINTER | ST_PURPOSE_F_TEXT);
	focus(f, 0, "mail", "Mail", "Inbox");
	typed(f, 100, "hi", 50);
	key(f, 300, KS_RETURN, 0, NULL);
	key(f, 400, 'c', CTRL, NULL);
	typed(f, 500, "yo", 50);
	finish(f);
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(f->line[0], "\"app\":\"\",\"window_title\":\"\","));
	assert_non_null(strstr(act(f, 0), "\"text\":\"hi\""));
	assert_non_null(strstr(act(f, 1), "\"text\":\"yo\""));
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.withheld, 2);
	fx_free(f);

	f = fx_fields(ST_PURPOSE_F_ALL & ~(unsigned)ST_PURPOSE_F_TITLES);
	focus(f, 0, "mail", "Mail", "Inbox");
	key(f, 100, KS_RETURN, 0, NULL);
	finish(f);
	assert_non_null(strstr(f->line[0], "\"app\":\"mail\",\"window_title\":\"\","));
	fx_free(f);
}

static void redaction_markers_name_kind_and_length(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	redact(f, 100, ST_DET_CARD, ST_LEN_9_16);
	redact(f, 200, ST_DET_PASSWORD, ST_LEN_1_8);
	redact(f, 300, ST_DET_AWS_KEY, ST_LEN_17_PLUS);
	redact(f, 400, 200, ST_LEN_1_8); /* a kind this build does not name */
	finish(f);
	assert_int_equal(f->n, 4);
	assert_act(f, 0,
		   "\"action\":{\"type\":\"redacted\",\"kind\":\"card\","
		   "\"length\":\"9-16\"},\"pyautogui\":\"\"}");
	assert_act(f, 1,
		   "\"action\":{\"type\":\"redacted\",\"kind\":\"password\","
		   "\"length\":\"1-8\"},\"pyautogui\":\"\"}");
	assert_act(f, 2,
		   "\"action\":{\"type\":\"redacted\",\"kind\":\"aws_key\","
		   "\"length\":\"17+\"},\"pyautogui\":\"\"}");
	assert_non_null(strstr(act(f, 3), "\"kind\":\"unknown\""));
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	assert_int_equal(s.redactions[ST_DET_CARD], 1);
	assert_int_equal(s.redactions[ST_DET_PASSWORD], 1);
	assert_int_equal(s.redactions[ST_DET_AWS_KEY], 1);
	assert_int_equal(s.redactions[200], 1);
	assert_int_equal(s.by_type[ST_ACT_REDACTED], 4);
	fx_free(f);
}

static void time_is_utc_with_milliseconds_across_dates(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	/* 2028-02-29T23:59:59Z: a leap day into March */
	f->evs.anchor_ns = UINT64_C(1835481599) * UINT64_C(1000000000);
	key(f, 999, KS_TAB, 0, NULL);
	key(f, 1001, KS_TAB, 0, NULL);
	feed(f, 1);
	assert_int_equal(st_actions_cut(f->a, &f->err), 0);
	/* 2100-02-28T23:59:59.998Z (2100 is no leap year), 500 ns ticks:
	 * + 1.9995 ms is 23:59:59.9999995, shown .999 (truncated);
	 * + 1000.0015 ms is 00:00:00.9980015, shown .998; time_ms is the
	 * difference of the whole ms shown, 999 */
	f->evs.anchor_ns = UINT64_C(4107542399) * UINT64_C(1000000000) +
			   UINT64_C(998000000);
	f->evs.tick_ns = 500;
	key(f, 3999, KS_TAB, 0, NULL);
	key(f, 2000003, KS_TAB, 0, NULL);
	finish(f);
	assert_int_equal(f->n, 4);
	assert_non_null(strstr(f->line[0], "\"time\":\"2028-02-29T23:59:59.999Z\","
					   "\"time_ms\":0,"));
	assert_non_null(strstr(f->line[1], "\"time\":\"2028-03-01T00:00:00.001Z\","
					   "\"time_ms\":2,"));
	assert_non_null(strstr(f->line[2], "\"time\":\"2100-02-28T23:59:59.999Z\","
					   "\"time_ms\":0,"));
	assert_non_null(strstr(f->line[3], "\"time\":\"2100-03-01T00:00:00.998Z\","
					   "\"time_ms\":999,"));
	fx_free(f);
}

static void stats_count_every_type(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	click(f, 100, 1, 1, 1);
	click(f, 300, 3, 1, 1);
	click(f, 500, 2, 1, 1);
	click(f, 700, 1, 1, 1);
	click(f, 900, 1, 1, 1);
	btn(f, 1100, true, 1, 1, 1);
	ptr(f, 1120, 50, 50);
	btn(f, 1140, false, 1, 50, 50);
	scroll(f, 1200, 5, 5, 0, 1, false);
	typed(f, 1300, "a", 50);
	key(f, 1400, 'a', CTRL, NULL);
	key(f, 1500, KS_TAB, 0, NULL);
	ptr(f, 1600, 9, 9);
	key(f, 3000, KS_TAB, 0, NULL); /* a wait, then a second key */
	redact(f, 3100, ST_DET_IBAN, ST_LEN_17_PLUS);
	key(f, 3200, 0x1008ff40, 0, NULL);
	finish(f);
	struct st_actions_stats s;
	st_actions_stats(f->a, &s);
	for (unsigned i = 0; i < ST_ACT_TYPES; i++) {
		unsigned want = i == ST_ACT_KEY ? 2 : 1;
		if (s.by_type[i] != want)
			fail_msg("%s: %llu", st_action_type_name(i),
				 (unsigned long long)s.by_type[i]);
	}
	assert_string_equal(st_action_type_name(ST_ACT_DOUBLE_CLICK),
			    "double_click");
	assert_null(st_action_type_name(ST_ACT_TYPES));
	assert_int_equal(s.steps, 13);
	assert_int_equal(s.episodes, 1);
	assert_int_equal(s.events, 22);
	assert_int_equal(s.redactions[ST_DET_IBAN], 1);
	assert_int_equal(s.dropped, 1);
	assert_int_equal(s.withheld, 0);
	fx_free(f);
}

/* ---- contract ----------------------------------------------------------- */

static int fail_ctx_step(void *ctx, const char *l, size_t n)
{
	(void)ctx;
	(void)l;
	(void)n;
	return ST_E_NOMEM;
}

static void rejects_bad_arguments_and_stops_after_a_sink_failure(void **state)
{
	(void)state;
	struct st_error err = {0};
	struct st_actions *a = NULL;
	struct st_actions_out out = {NULL, fail_ctx_step, NULL, NULL};
	struct st_actions_out none = {0};
	struct st_actions_cfg c;
	assert_fails_with(st_actions_new(NULL, &none, "dev", &a, &err),
			  ST_E_INVAL, &err, "step callback");
	assert_fails_with(st_actions_new(NULL, &out, "", &a, &err), ST_E_INVAL,
			  &err, "prefix");
	assert_fails_with(st_actions_new(NULL, &out, "a/b", &a, &err),
			  ST_E_INVAL, &err, "prefix");
	assert_fails_with(st_actions_new(NULL, &out, "Dev", &a, &err),
			  ST_E_INVAL, &err, "prefix");
	assert_fails_with(st_actions_new(NULL, &out, "-dev", &a, &err),
			  ST_E_INVAL, &err, "prefix");
	st_actions_cfg_default(&c);
	c.wait_min_ms = ST_ACTIONS_WAIT_MIN_MS - 1;
	assert_fails_with(st_actions_new(&c, &out, "dev", &a, &err), ST_E_INVAL,
			  &err, "wait_min_ms");
	st_actions_cfg_default(&c);
	c.idle_ms = ST_ACTIONS_IDLE_MAX_MS + 1;
	assert_fails_with(st_actions_new(&c, &out, "dev", &a, &err), ST_E_INVAL,
			  &err, "idle_ms");
	st_actions_cfg_default(&c);
	c.wait_min_ms = c.idle_ms;
	assert_fails_with(st_actions_new(&c, &out, "dev", &a, &err), ST_E_INVAL,
			  &err, "below idle_ms");
	st_actions_cfg_default(&c);
	c.click_slop_px = ST_ACTIONS_SLOP_MAX + 1;
	assert_fails_with(st_actions_new(&c, &out, "dev", &a, &err), ST_E_INVAL,
			  &err, "click_slop_px");
	st_actions_cfg_default(&c);
	c.fields = 0x40;
	assert_fails_with(st_actions_new(&c, &out, "dev", &a, &err), ST_E_INVAL,
			  &err, "field");
	assert_null(a);

	assert_int_equal(st_actions_new(NULL, &out, "dev", &a, &err), 0);
	struct st_events evs;
	st_events_init(&evs, false);
	evs.anchor_ns = ANCHOR_NS;
	evs.tick_ns = 1000000;
	assert_fails_with(st_actions_feed(a, &evs, 4, &err), ST_E_INVAL, &err,
			  "level");
	struct st_event e = {.t = 1, .type = ST_EV_KEY_PRESS};
	e.u.key.keysym = KS_TAB;
	assert_int_equal(st_events_push(&evs, &e, &err), 0);
	assert_fails_with(st_actions_feed(a, &evs, 1, &err), ST_E_NOMEM, &err,
			  "step callback");
	assert_fails_with(st_actions_feed(a, &evs, 1, &err), ST_E_STATE, &err,
			  "earlier call failed");
	st_actions_free(a);

	out.step = cb_step;
	struct fx *f = calloc(1, sizeof *f);
	out.ctx = f;
	assert_int_equal(st_actions_new(NULL, &out, "dev", &a, &err), 0);
	assert_int_equal(st_actions_finish(a, &err), 0);
	assert_fails_with(st_actions_feed(a, &evs, 1, &err), ST_E_STATE, &err,
			  "finished");
	st_actions_free(a);
	free(f);
	st_events_fini(&evs);
}

static void errors_never_quote_content(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	f->fail_step = ST_E_CAP;
	focus(f, 0, "hunter2app", "hunter2cls", "hunter2 title");
	typed(f, 10, "hunter2", 10);
	key(f, 200, KS_RETURN, 0, NULL);
	int rc = st_actions_feed(f->a, &f->evs, 1, &f->err);
	assert_int_equal(rc, ST_E_CAP);
	assert_null(strstr(f->err.msg, "hunter2"));
	assert_non_null(strstr(f->err.msg, "step callback"));
	fx_free(f);
}

/* ---- a synthetic hour --------------------------------------------------- */

struct hour {
	struct st_actions *a;
	unsigned long long lines, bytes;
	json_t *prev;
	char episode[64];
	long long index, time_ms;
	unsigned long long types[ST_ACT_TYPES];
};

static int hour_step(void *ctx, const char *l, size_t n)
{
	struct hour *h = ctx;
	json_error_t je;
	json_t *j = json_loadb(l, n, 0, &je);
	if (!j)
		fail_msg("line %llu is not JSON: %s", h->lines, je.text);
	static const char *const keys[] = {
	    "episode", "index", "time",	  "time_ms", "app",
	    "window_title", "screen", "level", "action", "pyautogui"};
	void *it = json_object_iter(j);
	for (size_t i = 0; i < 10; i++, it = json_object_iter_next(j, it)) {
		assert_non_null(it);
		assert_string_equal(json_object_iter_key(it), keys[i]);
	}
	assert_null(it);
	const char *ep = json_string_value(json_object_get(j, "episode"));
	long long idx = json_integer_value(json_object_get(j, "index"));
	long long tms = json_integer_value(json_object_get(j, "time_ms"));
	if (strcmp(ep, h->episode) == 0) {
		assert_int_equal(idx, h->index + 1);
		assert_true(tms >= h->time_ms);
	} else {
		assert_int_equal(idx, 0);
		assert_int_equal(tms, 0);
		snprintf(h->episode, sizeof h->episode, "%s", ep);
	}
	h->index = idx;
	h->time_ms = tms;
	assert_int_equal(json_integer_value(json_object_get(j, "level")), 2);
	json_t *s = json_object_get(j, "screen");
	assert_int_equal(json_integer_value(json_object_get(s, "width")), 1920);
	json_t *a = json_object_get(j, "action");
	const char *type = json_string_value(json_object_get(a, "type"));
	assert_non_null(type);
	unsigned t = 0;
	while (t < ST_ACT_TYPES && strcmp(st_action_type_name(t), type) != 0)
		t++;
	assert_true(t < ST_ACT_TYPES);
	static const size_t nkeys[ST_ACT_TYPES] = {3, 3, 3, 3, 7, 5,
						   2, 2, 2, 3, 2, 3};
	assert_int_equal(json_object_size(a), nkeys[t]);
	const char *py = json_string_value(json_object_get(j, "pyautogui"));
	assert_non_null(py);
	assert_true(t == ST_ACT_REDACTED ? py[0] == 0
					 : strncmp(py, "pyautogui.", 10) == 0);
	h->types[t]++;
	h->lines++;
	h->bytes += n;
	json_decref(j);
	return 0;
}

static int hour_segment(void *ctx, uint64_t index, struct st_events *seg,
			struct st_error *err)
{
	(void)index;
	struct hour *h = ctx;
	return st_actions_feed(h->a, seg, 2, err);
}

static void a_synthetic_hour_converts_to_valid_ordered_steps(void **state)
{
	(void)state;
	struct hour h = {0};
	h.index = -1;
	struct st_actions_out out = {NULL, hour_step, NULL, &h};
	struct st_error err = {0};
	assert_int_equal(st_actions_new(NULL, &out, "p0", &h.a, &err), 0);
	struct st_tracegen_cfg cfg = {
	    .seed = 7, .duration_ms = 3600000, .anchor_ns = ANCHOR_NS};
	int rc = st_tracegen_run(&cfg, hour_segment, &h, &err);
	if (rc == 0)
		rc = st_actions_finish(h.a, &err);
	if (rc != 0)
		fail_msg("convert: %s", err.msg);
	struct st_actions_stats s;
	st_actions_stats(h.a, &s);
	assert_int_equal(s.steps, h.lines);
	/* An hour has typing, clicks, double clicks, drags, scrolls, keys,
	 * hotkeys, moves, waits, and an episode per idle period at least. */
	static const unsigned seen[] = {
	    ST_ACT_CLICK, ST_ACT_DOUBLE_CLICK, ST_ACT_DRAG, ST_ACT_SCROLL,
	    ST_ACT_TYPE,  ST_ACT_HOTKEY,       ST_ACT_KEY,  ST_ACT_MOVE,
	    ST_ACT_WAIT,  ST_ACT_RIGHT_CLICK};
	for (size_t i = 0; i < sizeof seen / sizeof *seen; i++) {
		if (h.types[seen[i]] == 0)
			fail_msg("no %s step", st_action_type_name(seen[i]));
		assert_int_equal(h.types[seen[i]], s.by_type[seen[i]]);
	}
	assert_true(s.episodes >= 2);
	assert_true(s.events > 30000);
	/* far fewer steps than events: pointer samples collapse */
	assert_true(s.steps * 4 < s.events);
	st_actions_free(h.a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(type_step_is_the_exact_line),
	    cmocka_unit_test(app_falls_back_to_class_and_screen_is_the_bounding_box),
	    cmocka_unit_test(no_screen_yet_is_zero_by_zero),
	    cmocka_unit_test(escapes_quotes_backslashes_and_unicode),
	    cmocka_unit_test(hotkey_names_are_escaped_for_python),
	    cmocka_unit_test(shift_and_releases_do_not_break_a_type_run),
	    cmocka_unit_test(dead_and_unknown_keys_do_not_break_a_type_run),
	    cmocka_unit_test(type_run_continues_across_segments_with_its_first_level),
	    cmocka_unit_test(type_run_breaks_at_focus_keys_clicks_waits_and_redactions),
	    cmocka_unit_test(long_runs_split_at_the_text_cap),
	    cmocka_unit_test(named_keys_press_their_pyautogui_name),
	    cmocka_unit_test(modifiers_alone_and_unknown_keys_are_no_step),
	    cmocka_unit_test(hotkeys_list_modifiers_in_order_then_the_key),
	    cmocka_unit_test(altgr_and_shift_text_is_typed_not_a_hotkey),
	    cmocka_unit_test(click_within_slop_drag_beyond_it),
	    cmocka_unit_test(slop_is_configurable),
	    cmocka_unit_test(drag_has_duration_and_right_button),
	    cmocka_unit_test(keys_during_a_drag_come_first_and_time_never_goes_back),
	    cmocka_unit_test(drag_path_is_thinned_evenly_keeping_first_and_last),
	    cmocka_unit_test(double_click_by_time_and_place),
	    cmocka_unit_test(pointer_actions_show_the_window_in_front_at_their_press),
	    cmocka_unit_test(right_and_middle_clicks),
	    cmocka_unit_test(negative_coordinates_show_as_zero),
	    cmocka_unit_test(scrolls_sum_at_one_place_with_pyautogui_signs),
	    cmocka_unit_test(scroll_steps_stay_within_replays_cap),
	    cmocka_unit_test(horizontal_both_smooth_and_zero_scrolls),
	    cmocka_unit_test(move_only_when_motion_ends_without_a_pointer_action),
	    cmocka_unit_test(wait_between_actions_from_wait_min_to_idle),
	    cmocka_unit_test(wait_before_a_move_and_none_while_a_button_is_held),
	    cmocka_unit_test(episodes_end_at_idle_quiet_and_session_markers),
	    cmocka_unit_test(idle_ms_is_configurable),
	    cmocka_unit_test(cut_forgets_the_device_context),
	    cmocka_unit_test(withheld_fields_are_left_out),
	    cmocka_unit_test(withheld_text_length_classes_at_their_bounds),
	    cmocka_unit_test(no_pointer_drops_pointer_actions_but_they_still_break_runs),
	    cmocka_unit_test(no_keys_drops_keys_and_hotkeys_no_titles_or_apps_blanks_them),
	    cmocka_unit_test(redaction_markers_name_kind_and_length),
	    cmocka_unit_test(time_is_utc_with_milliseconds_across_dates),
	    cmocka_unit_test(stats_count_every_type),
	    cmocka_unit_test(rejects_bad_arguments_and_stops_after_a_sink_failure),
	    cmocka_unit_test(errors_never_quote_content),
	    cmocka_unit_test(a_synthetic_hour_converts_to_valid_ordered_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
