/* xtest.c - pyautogui ops onto an X display with XCB and XTest
 * (xcb_test_fake_input). Every op ends with a GetInputFocus round trip, so
 * errors and MappingNotify events are seen where they belong, and with
 * everything it pressed released. */
#include "replay/xtest.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>
#include <xkbcommon/xkbcommon.h>

/* Keys and buttons one op holds down at once: a hotkey's modifiers, its
 * key and Shift, or a drag's button. */
#define HELD_MAX (ST_PYAUTOGUI_KEYS_MAX + 2)

struct held {
	uint8_t type; /* XCB_KEY_PRESS or XCB_BUTTON_PRESS */
	uint8_t detail;
};

struct st_xtest {
	xcb_connection_t *c;
	xcb_window_t root;
	int width, height;
	struct st_xtest_options opt;
	/* the core keyboard mapping, re-read when stale */
	uint8_t min_kc, max_kc, per;
	uint32_t *syms;
	bool stale;
	/* the spare keycode bound to a character, 0 if none; its row before */
	uint8_t bound;
	uint32_t *bound_orig;
	struct held held[HELD_MAX];
	size_t nheld;
};

/* ---- pure helpers ------------------------------------------------------ */

static const struct {
	const char *name;
	uint32_t sym;
} key_syms[] = {
	{"ctrl", 0xffe3}, {"ctrlleft", 0xffe3}, {"ctrlright", 0xffe4},
	{"alt", 0xffe9}, {"altleft", 0xffe9}, {"altright", 0xffea},
	{"shift", 0xffe1}, {"shiftleft", 0xffe1}, {"shiftright", 0xffe2},
	{"win", 0xffeb}, {"winleft", 0xffeb}, {"winright", 0xffec},
	{"enter", 0xff0d}, {"return", 0xff0d}, {"tab", 0xff09},
	{"backspace", 0xff08}, {"esc", 0xff1b}, {"escape", 0xff1b},
	{"space", 0x0020}, {"delete", 0xffff}, {"del", 0xffff},
	{"insert", 0xff63}, {"home", 0xff50}, {"end", 0xff57},
	{"pageup", 0xff55}, {"pgup", 0xff55}, {"pagedown", 0xff56},
	{"pgdn", 0xff56}, {"up", 0xff52}, {"down", 0xff54}, {"left", 0xff51},
	{"right", 0xff53}, {"capslock", 0xffe5}, {"numlock", 0xff7f},
	{"scrolllock", 0xff14}, {"printscreen", 0xff61}, {"pause", 0xff13},
	{"apps", 0xff67},
};

#define XK_F1 0xffbe
#define XK_SHIFT_L 0xffe1

uint32_t st_xtest_char_keysym(uint32_t cp)
{
	switch (cp) {
	case '\t': return 0xff09;
	case '\n':
	case '\r': return 0xff0d;
	case '\b': return 0xff08;
	}
	if (!st_pyautogui_char_ok(cp))
		return 0;
	return xkb_utf32_to_keysym(cp);
}

uint32_t st_xtest_key_keysym(const char *name)
{
	for (size_t k = 0; k < sizeof key_syms / sizeof key_syms[0]; k++)
		if (strcmp(name, key_syms[k].name) == 0)
			return key_syms[k].sym;
	if (name[0] == 'f' && name[1] >= '1' && name[1] <= '9') {
		int n = name[1] - '0';
		if (name[2] >= '0' && name[2] <= '9' && name[3] == 0)
			n = n * 10 + name[2] - '0';
		else if (name[2] != 0)
			n = 0;
		if (n >= 1 && n <= 24)
			return XK_F1 + (uint32_t)(n - 1);
		return 0;
	}
	size_t len = strlen(name);
	uint32_t cp;
	if (st_pyautogui_utf8_decode(name, len, &cp) == len && len)
		return st_xtest_char_keysym(cp);
	return 0;
}

bool st_xtest_keymap_find(const struct st_xtest_keymap *km, uint32_t sym,
			  uint8_t *keycode, bool *shift)
{
	if (!sym || !km->syms || km->max_keycode < km->min_keycode)
		return false;
	size_t rows = (size_t)km->max_keycode - km->min_keycode + 1;
	for (size_t col = 0; col < 2 && col < km->per; col++)
		for (size_t r = 0; r < rows; r++)
			if (km->syms[r * km->per + col] == sym) {
				*keycode = (uint8_t)(km->min_keycode + r);
				*shift = col == 1;
				return true;
			}
	return false;
}

uint8_t st_xtest_keymap_spare(const struct st_xtest_keymap *km)
{
	if (!km->syms || km->max_keycode < km->min_keycode)
		return 0;
	for (int kc = km->max_keycode; kc >= km->min_keycode; kc--) {
		const uint32_t *row = km->syms + (size_t)(kc - km->min_keycode) * km->per;
		bool empty = true;
		for (size_t k = 0; k < km->per; k++)
			empty = empty && row[k] == 0;
		if (empty)
			return (uint8_t)kc;
	}
	return 0;
}

/* ---- the connection ---------------------------------------------------- */

static bool stopped(const struct st_xtest *x)
{
	return x->opt.stop && *x->opt.stop;
}

static int interrupted(struct st_error *err)
{
	return st_fail(err, st_errno(EINTR), "interrupted; every key and "
		       "button was released");
}

/* Sleeps ms milliseconds in slices, giving up when the stop flag is set. */
static int sleep_ms(struct st_xtest *x, double ms, struct st_error *err)
{
	struct timespec end, now;
	clock_gettime(CLOCK_MONOTONIC, &end);
	double e = (double)end.tv_sec * 1e3 + (double)end.tv_nsec / 1e6 + ms;
	for (;;) {
		if (stopped(x))
			return interrupted(err);
		clock_gettime(CLOCK_MONOTONIC, &now);
		double left = e - ((double)now.tv_sec * 1e3 +
				   (double)now.tv_nsec / 1e6);
		if (left <= 0)
			return 0;
		if (left > ST_XTEST_SLEEP_SLICE_MS)
			left = ST_XTEST_SLEEP_SLICE_MS;
		struct timespec ts = {.tv_sec = 0,
				      .tv_nsec = (long)(left * 1e6)};
		nanosleep(&ts, NULL);
	}
}

static int refresh_keymap(struct st_xtest *x, struct st_error *err)
{
	uint8_t count = (uint8_t)(x->max_kc - x->min_kc + 1);
	xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
		x->c, xcb_get_keyboard_mapping(x->c, x->min_kc, count), NULL);
	if (!r)
		return st_fail(err, ST_E_X11, "the X server did not send its "
			       "keyboard mapping");
	int n = xcb_get_keyboard_mapping_keysyms_length(r);
	if (r->keysyms_per_keycode == 0 || n != count * r->keysyms_per_keycode) {
		free(r);
		return st_fail(err, ST_E_X11, "the X server's keyboard mapping "
			       "has %d keysyms for %d keycodes", n, count);
	}
	uint32_t *syms = malloc((size_t)n * sizeof *syms);
	if (!syms) {
		free(r);
		return st_fail(err, ST_E_NOMEM, "out of memory for the keymap");
	}
	memcpy(syms, xcb_get_keyboard_mapping_keysyms(r), (size_t)n * sizeof *syms);
	free(x->syms);
	x->syms = syms;
	x->per = r->keysyms_per_keycode;
	x->stale = false;
	free(r);
	return 0;
}

/* Waits until the server has handled every request so far, then looks at
 * what came back: an X error fails; a keyboard MappingNotify (ours or
 * another client's, such as setxkbmap) marks the keymap stale. */
static int sync_x(struct st_xtest *x, struct st_error *err)
{
	xcb_get_input_focus_reply_t *r =
		xcb_get_input_focus_reply(x->c, xcb_get_input_focus(x->c), NULL);
	bool answered = r != NULL;
	free(r);
	int rc = 0;
	xcb_generic_event_t *e;
	while ((e = xcb_poll_for_event(x->c))) {
		uint8_t type = e->response_type & 0x7f;
		if (type == 0 && rc == 0) {
			xcb_generic_error_t *ge = (xcb_generic_error_t *)e;
			rc = st_fail(err, ST_E_X11, "the X server refused a request "
				     "(error %u, major opcode %u)", ge->error_code,
				     ge->major_code);
		} else if (type == XCB_MAPPING_NOTIFY) {
			xcb_mapping_notify_event_t *m = (xcb_mapping_notify_event_t *)e;
			if (m->request == XCB_MAPPING_KEYBOARD)
				x->stale = true;
		}
		free(e);
	}
	if (rc == 0 && (!answered || xcb_connection_has_error(x->c)))
		rc = st_fail(err, ST_E_X11, "lost the connection to the X "
			     "display");
	return rc;
}

static void fake(struct st_xtest *x, uint8_t type, uint8_t detail, int px, int py)
{
	xcb_test_fake_input(x->c, type, detail, XCB_CURRENT_TIME, x->root,
			    (int16_t)px, (int16_t)py, 0);
}

static int press(struct st_xtest *x, uint8_t type, uint8_t detail,
		 struct st_error *err)
{
	if (x->nheld == HELD_MAX)
		return st_fail(err, ST_E_CAP, "more than %d keys and buttons held "
			       "at once", HELD_MAX);
	fake(x, type, detail, 0, 0);
	x->held[x->nheld++] = (struct held){type, detail};
	return 0;
}

/* Releases the last thing pressed. */
static void release_last(struct st_xtest *x)
{
	struct held h = x->held[--x->nheld];
	fake(x, h.type == XCB_KEY_PRESS ? XCB_KEY_RELEASE : XCB_BUTTON_RELEASE,
	     h.detail, 0, 0);
}

/* The spare keycode back to what it held; its keysyms are stale then. */
static void unbind(struct st_xtest *x)
{
	if (!x->bound)
		return;
	xcb_change_keyboard_mapping(x->c, 1, x->bound, x->per, x->bound_orig);
	x->bound = 0;
	free(x->bound_orig);
	x->bound_orig = NULL;
	x->stale = true;
}

/* Every path out of an op: nothing held, nothing remapped. */
static void settle(struct st_xtest *x)
{
	while (x->nheld)
		release_last(x);
	unbind(x);
	/* a round trip so the releases have happened when run returns; its
	 * result matters only if the op itself succeeded */
	struct st_error ignored;
	sync_x(x, &ignored);
}

static int keymap(struct st_xtest *x, struct st_xtest_keymap *km,
		  struct st_error *err)
{
	if (x->stale) {
		int rc = refresh_keymap(x, err);
		if (rc)
			return rc;
	}
	*km = (struct st_xtest_keymap){x->min_kc, x->max_kc, x->per, x->syms};
	return 0;
}

/* A keycode that types sym (and whether Shift is needed): from the keymap,
 * else the spare keycode bound to sym. what names the key for messages. */
static int keycode_for(struct st_xtest *x, uint32_t sym, uint8_t *kc,
		       bool *shift, const char *what, struct st_error *err)
{
	struct st_xtest_keymap km;
	int rc = keymap(x, &km, err);
	if (rc)
		return rc;
	if (st_xtest_keymap_find(&km, sym, kc, shift))
		return 0;
	uint8_t spare = x->bound ? x->bound : st_xtest_keymap_spare(&km);
	if (!spare)
		return st_fail(err, ST_E_X11, "%s is not in the keymap and no "
			       "keycode is free to map it to", what);
	if (!x->bound) {
		size_t row = (size_t)(spare - x->min_kc) * x->per;
		x->bound_orig = malloc(x->per * sizeof *x->bound_orig);
		if (!x->bound_orig)
			return st_fail(err, ST_E_NOMEM, "out of memory");
		memcpy(x->bound_orig, x->syms + row, x->per * sizeof *x->bound_orig);
		x->bound = spare;
	}
	/* both levels, as xdotool does, so Shift does not matter */
	uint32_t two[2] = {sym, sym};
	xcb_change_keyboard_mapping(x->c, 1, spare, 2, two);
	rc = sync_x(x, err);
	if (rc)
		return st_error_prefix(err, "mapping %s to a spare keycode: ", what);
	*kc = spare;
	*shift = false;
	return 0;
}

/* Presses and releases sym (with Shift_L when it is on level 2 and shift
 * is not already held), then the delay. */
static int tap(struct st_xtest *x, uint32_t sym, bool shift_held,
	       const char *what, struct st_error *err)
{
	uint8_t kc, shift_kc = 0;
	bool shift;
	int rc = keycode_for(x, sym, &kc, &shift, what, err);
	if (rc)
		return rc;
	if (shift && !shift_held) {
		bool s2;
		struct st_xtest_keymap km;
		if ((rc = keymap(x, &km, err)))
			return rc;
		if (!st_xtest_keymap_find(&km, XK_SHIFT_L, &shift_kc, &s2))
			return st_fail(err, ST_E_X11, "the keymap has no Shift_L "
				       "for %s", what);
		if ((rc = press(x, XCB_KEY_PRESS, shift_kc, err)))
			return rc;
	}
	if ((rc = press(x, XCB_KEY_PRESS, kc, err)))
		return rc;
	release_last(x);
	if (shift_kc)
		release_last(x);
	if ((rc = sync_x(x, err)))
		return rc;
	return sleep_ms(x, x->opt.delay_ms, err);
}

static int motion(struct st_xtest *x, int px, int py, struct st_error *err)
{
	fake(x, XCB_MOTION_NOTIFY, 0, px, py);
	return sync_x(x, err);
}

static int click(struct st_xtest *x, int button, struct st_error *err)
{
	int rc = press(x, XCB_BUTTON_PRESS, (uint8_t)button, err);
	if (rc)
		return rc;
	release_last(x);
	return sync_x(x, err);
}

static double wait_ms(const struct st_xtest *x, double seconds)
{
	return x->opt.speed > 0 ? seconds * 1e3 / x->opt.speed : 0;
}

static int do_write(struct st_xtest *x, const struct st_pyautogui_op *op,
		    struct st_error *err)
{
	size_t nchar = 0;
	for (size_t k = 0; k < op->text_len;) {
		if (stopped(x))
			return interrupted(err);
		uint32_t cp;
		size_t n = st_pyautogui_utf8_decode(op->text + k, op->text_len - k,
						    &cp);
		nchar++;
		uint32_t sym = n ? st_xtest_char_keysym(cp) : 0;
		char what[64];
		snprintf(what, sizeof what, "character %zu of the text", nchar);
		if (!sym)
			return st_fail(err, ST_E_INVAL, "%s has no keysym", what);
		int rc = tap(x, sym, false, what, err);
		if (rc)
			return rc;
		k += n;
	}
	return 0;
}

static int do_keys(struct st_xtest *x, const struct st_pyautogui_op *op,
		   struct st_error *err)
{
	bool shift_held = false;
	int rc;
	for (size_t k = 0; k + 1 < op->nkeys; k++) {
		uint32_t sym = st_xtest_key_keysym(op->keys[k]);
		uint8_t kc;
		bool shift;
		/* a modifier must be in the keymap: a remapped keycode would not
		 * be in the modifier map and would modify nothing */
		struct st_xtest_keymap km;
		if ((rc = keymap(x, &km, err)))
			return rc;
		if (!sym || !st_xtest_keymap_find(&km, sym, &kc, &shift))
			return st_fail(err, ST_E_X11, "hotkey: modifier %s is not "
				       "in the keymap", op->keys[k]);
		if ((rc = press(x, XCB_KEY_PRESS, kc, err)))
			return rc;
		shift_held = shift_held || sym == XK_SHIFT_L || sym == 0xffe2;
	}
	if (op->nkeys > 1 && (rc = sync_x(x, err)))
		return rc;
	const char *last = op->keys[op->nkeys - 1];
	uint32_t sym = st_xtest_key_keysym(last);
	/* a one-character key is content: name its place, not the key */
	const char *what = st_pyautogui_key_kind(last) == ST_PYAUTOGUI_KEY_CHAR
				   ? "the key (a character)" : last;
	if (!sym)
		return st_fail(err, ST_E_INVAL, "%s has no keysym", what);
	if ((rc = tap(x, sym, shift_held, what, err)))
		return rc;
	while (x->nheld)
		release_last(x);
	return sync_x(x, err);
}

static int do_scroll(struct st_xtest *x, const struct st_pyautogui_op *op,
		     struct st_error *err)
{
	int rc = motion(x, op->x, op->y, err);
	if (rc)
		return rc;
	bool vertical = op->kind == ST_PYAUTOGUI_SCROLL;
	/* X wheel buttons: 4 up, 5 down, 6 left, 7 right */
	int button = vertical ? (op->amount > 0 ? 4 : 5) : (op->amount > 0 ? 7 : 6);
	int notches = abs(op->amount);
	for (int k = 0; k < notches; k++) {
		if (stopped(x))
			return interrupted(err);
		if ((rc = click(x, button, err)) ||
		    (rc = sleep_ms(x, x->opt.delay_ms, err)))
			return rc;
	}
	return 0;
}

static int do_drag(struct st_xtest *x, const struct st_pyautogui_op *op,
		   struct st_error *err)
{
	int rc = motion(x, op->x, op->y, err);
	if (rc || (rc = press(x, XCB_BUTTON_PRESS, (uint8_t)op->button, err)) ||
	    (rc = sync_x(x, err)))
		return rc;
	double total = wait_ms(x, op->seconds);
	long steps = lround(total / 20);
	if (steps < ST_XTEST_DRAG_STEPS_MIN)
		steps = ST_XTEST_DRAG_STEPS_MIN;
	if (steps > ST_XTEST_DRAG_STEPS_MAX)
		steps = ST_XTEST_DRAG_STEPS_MAX;
	for (long k = 1; k <= steps; k++) {
		if ((rc = sleep_ms(x, total / (double)steps, err)))
			return rc;
		int px = op->x + (int)lround((double)(op->to_x - op->x) * (double)k /
					     (double)steps);
		int py = op->y + (int)lround((double)(op->to_y - op->y) * (double)k /
					     (double)steps);
		if ((rc = motion(x, px, py, err)))
			return rc;
	}
	release_last(x);
	if ((rc = sync_x(x, err)))
		return rc;
	return sleep_ms(x, x->opt.delay_ms, err);
}

static int run_op(struct st_xtest *x, const struct st_pyautogui_op *op,
		  struct st_error *err)
{
	int rc;
	switch (op->kind) {
	case ST_PYAUTOGUI_CLICK:
	case ST_PYAUTOGUI_DOUBLE_CLICK:
		if ((rc = motion(x, op->x, op->y, err)) ||
		    (rc = click(x, op->button, err)))
			return rc;
		if (op->kind == ST_PYAUTOGUI_DOUBLE_CLICK) {
			unsigned gap = x->opt.delay_ms < ST_XTEST_DOUBLE_CLICK_GAP_MS
					       ? x->opt.delay_ms
					       : ST_XTEST_DOUBLE_CLICK_GAP_MS;
			if ((rc = sleep_ms(x, gap, err)) ||
			    (rc = click(x, op->button, err)))
				return rc;
		}
		return sleep_ms(x, x->opt.delay_ms, err);
	case ST_PYAUTOGUI_MOVE:
		return motion(x, op->x, op->y, err);
	case ST_PYAUTOGUI_WRITE:
		return do_write(x, op, err);
	case ST_PYAUTOGUI_PRESS:
	case ST_PYAUTOGUI_HOTKEY:
		return do_keys(x, op, err);
	case ST_PYAUTOGUI_DRAG:
		return do_drag(x, op, err);
	case ST_PYAUTOGUI_SCROLL:
	case ST_PYAUTOGUI_HSCROLL:
		return do_scroll(x, op, err);
	case ST_PYAUTOGUI_SLEEP:
		return sleep_ms(x, wait_ms(x, op->seconds), err);
	}
	return st_fail(err, ST_E_INVAL, "op of unknown kind %d", (int)op->kind);
}

int st_xtest_run(struct st_xtest *x, const struct st_pyautogui_op *op,
		 struct st_error *err)
{
	if (stopped(x))
		return interrupted(err);
	int rc = st_xtest_fits(x, op, err);
	if (rc == 0)
		rc = run_op(x, op, err);
	settle(x);
	return rc;
}

int st_xtest_fits(const struct st_xtest *x, const struct st_pyautogui_op *op,
		  struct st_error *err)
{
	bool pointer = op->kind == ST_PYAUTOGUI_CLICK ||
		       op->kind == ST_PYAUTOGUI_DOUBLE_CLICK ||
		       op->kind == ST_PYAUTOGUI_MOVE ||
		       op->kind == ST_PYAUTOGUI_DRAG ||
		       op->kind == ST_PYAUTOGUI_SCROLL ||
		       op->kind == ST_PYAUTOGUI_HSCROLL;
	if (!pointer)
		return 0;
	if (op->x < 0 || op->y < 0 || op->x >= x->width || op->y >= x->height)
		return st_fail(err, ST_E_INVAL, "%s at %d,%d is off the %dx%d "
			       "screen; replay on a screen as large as the "
			       "recorded one", st_pyautogui_op_name(op), op->x,
			       op->y, x->width, x->height);
	if (op->kind == ST_PYAUTOGUI_DRAG &&
	    (op->to_x < 0 || op->to_y < 0 || op->to_x >= x->width ||
	     op->to_y >= x->height))
		return st_fail(err, ST_E_INVAL, "dragTo %d,%d is off the %dx%d "
			       "screen; replay on a screen as large as the "
			       "recorded one", op->to_x, op->to_y, x->width,
			       x->height);
	return 0;
}

void st_xtest_screen(const struct st_xtest *x, int *width, int *height)
{
	*width = x->width;
	*height = x->height;
}

int st_xtest_open(struct st_xtest **out, const struct st_xtest_options *opt,
		  struct st_error *err)
{
	*out = NULL;
	const char *name = opt->display ? opt->display : getenv("DISPLAY");
	if (!name || !*name)
		return st_fail(err, ST_E_X11, "no X display: set DISPLAY or pass "
			       "--display");
	if (opt->delay_ms > ST_XTEST_DELAY_MS_MAX || !(opt->speed >= 0) ||
	    !isfinite(opt->speed))
		return st_fail(err, ST_E_INVAL, "delay or speed out of range");
	struct st_xtest *x = calloc(1, sizeof *x);
	if (!x)
		return st_fail(err, ST_E_NOMEM, "out of memory");
	x->opt = *opt;
	int screen_no = 0;
	x->c = xcb_connect(name, &screen_no);
	int rc = 0;
	if (xcb_connection_has_error(x->c)) {
		rc = st_fail(err, ST_E_X11, "cannot connect to X display %s; is "
			     "it running, and may this user use it (xauth)?",
			     name);
		goto fail;
	}
	const xcb_setup_t *setup = xcb_get_setup(x->c);
	xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
	for (int k = 0; k < screen_no && it.rem; k++)
		xcb_screen_next(&it);
	if (!it.rem) {
		rc = st_fail(err, ST_E_X11, "X display %s has no screen %d", name,
			     screen_no);
		goto fail;
	}
	x->root = it.data->root;
	x->width = it.data->width_in_pixels;
	x->height = it.data->height_in_pixels;
	const xcb_query_extension_reply_t *ext = xcb_get_extension_data(x->c,
									&xcb_test_id);
	if (!ext || !ext->present) {
		rc = st_fail(err, ST_E_X11, "X display %s lacks the XTEST "
			     "extension (Xvfb and Xorg have it unless started "
			     "with -extension XTEST)", name);
		goto fail;
	}
	xcb_test_get_version_reply_t *v = xcb_test_get_version_reply(
		x->c, xcb_test_get_version(x->c, 2, 2), NULL);
	if (!v) {
		rc = st_fail(err, ST_E_X11, "X display %s did not answer the "
			     "XTEST version query", name);
		goto fail;
	}
	free(v);
	x->min_kc = setup->min_keycode;
	x->max_kc = setup->max_keycode;
	if (x->max_kc < x->min_kc) {
		rc = st_fail(err, ST_E_X11, "X display %s reports no keycodes",
			     name);
		goto fail;
	}
	if ((rc = refresh_keymap(x, err)))
		goto fail;
	*out = x;
	return 0;
fail:
	st_xtest_close(x);
	return rc;
}

void st_xtest_close(struct st_xtest *x)
{
	if (!x)
		return;
	if (x->c && !xcb_connection_has_error(x->c))
		settle(x);
	if (x->c)
		xcb_disconnect(x->c);
	free(x->bound_orig);
	free(x->syms);
	free(x);
}
