/* xtest.h - owns driving an X display through XTest: the pointer, its
 * buttons and wheel, and keys by keysym, for the ops of pyautogui.h. Never
 * parses strings and never prints; never returns with a key or button held
 * down or a keycode it remapped still remapped, even on failure.
 *
 * Keys are looked up in the server's core keyboard mapping (re-read when a
 * MappingNotify says it changed): a keysym on level 1 of a keycode is
 * pressed as is, one on level 2 with Shift_L held. A character the keymap
 * lacks is typed as xdotool does: the highest keycode with no keysyms is
 * bound to it for the op (ChangeKeyboardMapping) and restored after. */
#ifndef ST_XTEST_H
#define ST_XTEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "replay/pyautogui.h"

/* Delay after each key, click and wheel notch, so that an application such
 * as xterm keeps up; --delay-ms overrides it. */
#define ST_XTEST_DELAY_MS_DEFAULT 10
#define ST_XTEST_DELAY_MS_MAX 10000
/* Pause between a double click's two clicks: at most this, whatever the
 * delay, so that they stay one double click under the usual 250 ms+ limit. */
#define ST_XTEST_DOUBLE_CLICK_GAP_MS 60
/* Pointer motions in one drag: one per 20 ms of its duration, at least
 * ST_XTEST_DRAG_STEPS_MIN (so a drag of duration 0 still moves with the
 * button down) and at most ST_XTEST_DRAG_STEPS_MAX. */
#define ST_XTEST_DRAG_STEPS_MIN 4
#define ST_XTEST_DRAG_STEPS_MAX 500
/* Longest single nanosleep: the stop flag is looked at in between. */
#define ST_XTEST_SLEEP_SLICE_MS 50

struct st_xtest_options {
	const char *display;  /* NULL: $DISPLAY */
	unsigned delay_ms;    /* <= ST_XTEST_DELAY_MS_MAX */
	double speed;         /* sleeps and drag durations are divided by it;
				 0: no waits at all */
	/* When set and non-zero (a signal handler's flag), the op in progress
	 * stops at the next key, notch, motion or sleep slice: -EINTR. */
	const volatile sig_atomic_t *stop;
};

struct st_xtest;

/* Connects to the display and checks it has XTest. *out is freed with
 * st_xtest_close. ST_E_X11 names the display and what is missing. */
int st_xtest_open(struct st_xtest **out, const struct st_xtest_options *opt,
		  struct st_error *err);

/* Screen size of the display's default screen. */
void st_xtest_screen(const struct st_xtest *x, int *width, int *height);

/* Whether op's coordinates lie on the screen (ST_E_INVAL otherwise, with
 * the coordinates and the screen's size: no recorded content). Checks the
 * display, never sends input. */
int st_xtest_fits(const struct st_xtest *x, const struct st_pyautogui_op *op,
		  struct st_error *err);

/* Performs one op and waits until the server has handled it (a round trip
 * after each key, click, notch and motion), plus the delay. Keys and
 * buttons pressed are released and a remapped keycode restored before it
 * returns, on every path. Messages say which character of a text failed by
 * position, never which character. */
int st_xtest_run(struct st_xtest *x, const struct st_pyautogui_op *op,
		 struct st_error *err);

/* Restores what is still remapped, disconnects, frees; NULL is fine. */
void st_xtest_close(struct st_xtest *x);

/* ---- pure helpers (no display), for the executor and its tests ---- */

/* The keysym of a pyautogui key name (st_pyautogui_key_kind), or of a
 * one-character key: Return for "enter" and "\n", Control_L for "ctrl",
 * ...; 0 (NoSymbol) for anything else. */
uint32_t st_xtest_key_keysym(const char *name);

/* The keysym that types code point cp: Tab, Return, Return, BackSpace for
 * \t \n \r \b, else xkbcommon's xkb_utf32_to_keysym; 0 if none. */
uint32_t st_xtest_char_keysym(uint32_t cp);

/* A core keyboard mapping: per keysyms for each keycode min..max. */
struct st_xtest_keymap {
	uint8_t min_keycode, max_keycode;
	uint8_t per;
	const uint32_t *syms; /* (max - min + 1) * per */
};

/* The lowest keycode with sym on level 1 (column 0), else the lowest with
 * it on level 2 (column 1, *shift set); false if none. */
bool st_xtest_keymap_find(const struct st_xtest_keymap *km, uint32_t sym,
			  uint8_t *keycode, bool *shift);

/* The highest keycode without any keysym (a spare to remap), 0 if none. */
uint8_t st_xtest_keymap_spare(const struct st_xtest_keymap *km);

#endif
