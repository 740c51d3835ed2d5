/* pyautogui.h - owns the replay DSL: the pyautogui call strings an exported
 * episode carries, parsed into ops and written back. Never touches a
 * display and never echoes input in a message (the strings hold recorded
 * content: typed text, key presses).
 *
 * The grammar is the exporter's, with the whitespace and argument spellings
 * Python itself accepts for those calls; several calls are joined by ';'
 * (a trailing ';' is allowed):
 *   pyautogui.click(x=10, y=20)         also doubleClick, rightClick,
 *                                       middleClick
 *   pyautogui.write('ls -l')            a Python str literal ('...' or
 *                                       "..."): escapes \\ \' \" \n \r \t
 *                                       \xHH \uHHHH \UHHHHHHHH, other
 *                                       characters raw UTF-8
 *   pyautogui.press('enter')            a key name (st_pyautogui_key_kind)
 *                                       or one character
 *   pyautogui.hotkey('ctrl', 'c')       modifiers (ctrl alt shift win and
 *                                       their left/right forms), then a key
 *   pyautogui.moveTo(x=10, y=20)
 *   pyautogui.moveTo(x=1, y=2); pyautogui.dragTo(x=200, y=300,
 *       duration=0.4, button='left')    one ST_PYAUTOGUI_DRAG op; a dragTo
 *                                       must follow a moveTo directly
 *   pyautogui.scroll(-3, x=100, y=200)  positive = up (hscroll: right)
 *   pyautogui.hscroll(2, x=100, y=200)
 *   pyautogui.sleep(1.5)
 *   ""                                  no calls: a redacted step
 * Arguments bind as in Python: positionally in the order above (x, y,
 * duration for dragTo; message for write; keys for press; clicks, x, y for
 * scroll), or by keyword; button is keyword-only. Every number, length and
 * count is checked against a cap below. */
#ifndef ST_PYAUTOGUI_H
#define ST_PYAUTOGUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Decoded text of all write() calls in one string together, in bytes of
 * UTF-8: a step is one burst of typing, not a document. */
#define ST_PYAUTOGUI_TEXT_MAX (64 * 1024)
/* Calls in one string (a moveTo+dragTo pair counts two). */
#define ST_PYAUTOGUI_CALLS_MAX 64
/* Arguments in one call, before binding. */
#define ST_PYAUTOGUI_ARGS_MAX 8
/* Keys in one hotkey. */
#define ST_PYAUTOGUI_KEYS_MAX 8
/* A key name's bytes with its NUL: the longest name ("printscreen") or one
 * character of up to 4 bytes. */
#define ST_PYAUTOGUI_KEY_MAX 16
/* One string's bytes. Formatting a parsed string never needs more: text is
 * escaped in at most 4 bytes per byte, and a call's own syntax in under 256
 * bytes. */
#define ST_PYAUTOGUI_INPUT_MAX \
	(4 * ST_PYAUTOGUI_TEXT_MAX + 256 * ST_PYAUTOGUI_CALLS_MAX)
/* Coordinates are X root coordinates (unsigned, 16 bits signed on the wire). */
#define ST_PYAUTOGUI_COORD_MAX 32767
/* Wheel notches in one scroll or hscroll, either sign. */
#define ST_PYAUTOGUI_SCROLL_MAX 1000
/* Seconds in one sleep, and in one drag's duration. */
#define ST_PYAUTOGUI_SLEEP_MAX 3600.0
#define ST_PYAUTOGUI_DURATION_MAX 60.0
/* A number's characters ("0.40000000000000002" needs 19). */
#define ST_PYAUTOGUI_NUMBER_MAX 32

enum st_pyautogui_kind {
	ST_PYAUTOGUI_CLICK = 1,     /* x, y, button (1 left, 2 middle, 3 right) */
	ST_PYAUTOGUI_DOUBLE_CLICK,  /* x, y, button 1 */
	ST_PYAUTOGUI_WRITE,         /* text, text_len */
	ST_PYAUTOGUI_PRESS,         /* keys[0], nkeys 1 */
	ST_PYAUTOGUI_HOTKEY,        /* keys[0..nkeys-1]: modifiers, then a key */
	ST_PYAUTOGUI_MOVE,          /* x, y */
	ST_PYAUTOGUI_DRAG,          /* from x, y to to_x, to_y; button; seconds
				       (the duration) */
	ST_PYAUTOGUI_SCROLL,        /* x, y, amount: notches, positive = up */
	ST_PYAUTOGUI_HSCROLL,       /* x, y, amount: notches, positive = right */
	ST_PYAUTOGUI_SLEEP,         /* seconds */
};

/* X pointer buttons, as pyautogui names them. */
enum st_pyautogui_button {
	ST_PYAUTOGUI_LEFT = 1,
	ST_PYAUTOGUI_MIDDLE = 2,
	ST_PYAUTOGUI_RIGHT = 3,
};

/* One action. Fields a kind does not use are zero. */
struct st_pyautogui_op {
	enum st_pyautogui_kind kind;
	int x, y;        /* 0..ST_PYAUTOGUI_COORD_MAX */
	int to_x, to_y;  /* DRAG's end */
	int button;      /* enum st_pyautogui_button; CLICK's follows the
			    call's name */
	int amount;      /* SCROLL/HSCROLL notches */
	double seconds;  /* SLEEP's wait, DRAG's duration; finite, >= 0 */
	char *text;      /* WRITE: UTF-8, NUL-terminated, text_len bytes;
			    owned by the ops list it sits in */
	size_t text_len;
	char keys[ST_PYAUTOGUI_KEYS_MAX][ST_PYAUTOGUI_KEY_MAX]; /* NUL-ended */
	size_t nkeys;
};

/* The ops of one string, in order. Zero it before parsing into it; free it
 * with st_pyautogui_ops_fini. */
struct st_pyautogui_ops {
	struct st_pyautogui_op *v;
	size_t n;
};

/* Parses len bytes of s (no NUL needed; a NUL byte inside is an error)
 * into out, which must be zeroed or finied. The empty string gives zero ops
 * (a redacted step); a string of blanks is an error. On failure out is left
 * empty and err says at which column (characters, from 1) and why, never
 * quoting the input: ST_E_CORRUPT for syntax, unknown names and missing or
 * wrong arguments, ST_E_CAP for a length, count or number past its cap. */
int st_pyautogui_parse(const char *s, size_t len, struct st_pyautogui_ops *out,
		       struct st_error *err);

/* Frees what ops holds (texts and the array) and zeroes it; NULL is fine. */
void st_pyautogui_ops_fini(struct st_pyautogui_ops *ops);

/* Writes ops in the exporter's canonical form (keywords, ', ' between
 * arguments, '; ' between calls, single quotes, the shortest number that
 * reads back exactly) into a malloc'd NUL-terminated string *out (the
 * caller frees it) of *out_len bytes. Parsing that string gives ops equal
 * to these. Fails with ST_E_INVAL on an op no parse could give. */
int st_pyautogui_format(const struct st_pyautogui_ops *ops, char **out,
			size_t *out_len, struct st_error *err);

/* Whether two ops mean the same action (every field a kind uses; texts by
 * content). */
bool st_pyautogui_op_equal(const struct st_pyautogui_op *a,
			   const struct st_pyautogui_op *b);

/* The call an op is written as: "click", "rightClick", "middleClick",
 * "doubleClick", "write", ..., "dragTo" (for DRAG), "sleep"; "?" for an
 * op no parse gives. A static string. */
const char *st_pyautogui_op_name(const struct st_pyautogui_op *op);

/* What a key name is. Names are pyautogui's, lower case:
 *   ST_PYAUTOGUI_KEY_MODIFIER  ctrl alt shift win, ctrlleft ctrlright
 *                              altleft altright shiftleft shiftright
 *                              winleft winright
 *   ST_PYAUTOGUI_KEY_NAMED     enter return tab backspace esc escape space
 *                              delete del insert home end pageup pgup
 *                              pagedown pgdn up down left right f1..f24
 *                              capslock numlock scrolllock printscreen
 *                              pause apps
 *   ST_PYAUTOGUI_KEY_CHAR      exactly one character st_pyautogui_char_ok
 *                              accepts
 *   ST_PYAUTOGUI_KEY_UNKNOWN   anything else */
enum st_pyautogui_key_kind {
	ST_PYAUTOGUI_KEY_UNKNOWN = 0,
	ST_PYAUTOGUI_KEY_MODIFIER,
	ST_PYAUTOGUI_KEY_NAMED,
	ST_PYAUTOGUI_KEY_CHAR,
};
enum st_pyautogui_key_kind st_pyautogui_key_kind(const char *name);

/* Every key name of the table above (modifiers and named keys), NULL-ended:
 * the executor must give each a keysym. */
extern const char *const st_pyautogui_key_names[];

/* Whether a code point can be typed: printable characters (no C0 or C1
 * controls, DEL, surrogates or noncharacters) and \t \n \r \b, which type
 * Tab, Return, Return and BackSpace as pyautogui does. */
bool st_pyautogui_char_ok(uint32_t cp);

/* Decodes one code point of strict UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF) at s[0..len); returns its length (1..4), or 0 if
 * the bytes there are not one. */
size_t st_pyautogui_utf8_decode(const char *s, size_t len, uint32_t *cp);

#endif
