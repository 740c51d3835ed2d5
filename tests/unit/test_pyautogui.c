/* test_pyautogui.c - the replay DSL (replay/pyautogui.h): every call form
 * the exporter writes, every escape, the whitespace and argument spellings
 * Python allows, a table of malformed strings each with its code and the
 * key word of its message (and never a word of the input), every cap at
 * its edge, the canonical writer and its round trip; and the executor's
 * pure half (replay/xtest.h): key names and characters to keysyms, and
 * keycode lookup in a core keymap, with no display. */
#include "helpers.h"

#include <math.h>

#include "replay/pyautogui.h"
#include "replay/xtest.h"

/* Parses s (a C string) and fails the test unless it parses. */
static struct st_pyautogui_ops parse_ok(const char *s)
{
	struct st_pyautogui_ops ops;
	struct st_error e = {0};
	int rc = st_pyautogui_parse(s, strlen(s), &ops, &e);
	if (rc != 0)
		fail_msg("parse of <%s> failed: %s", s, e.msg);
	return ops;
}

static void assert_one(const char *s, enum st_pyautogui_kind kind, int x,
		       int y, int button)
{
	struct st_pyautogui_ops ops = parse_ok(s);
	assert_int_equal(ops.n, 1);
	assert_int_equal(ops.v[0].kind, kind);
	assert_int_equal(ops.v[0].x, x);
	assert_int_equal(ops.v[0].y, y);
	assert_int_equal(ops.v[0].button, button);
	st_pyautogui_ops_fini(&ops);
}

static void parses_every_click_form(void **state)
{
	(void)state;
	assert_one("pyautogui.click(x=10, y=20)", ST_PYAUTOGUI_CLICK, 10, 20,
		   ST_PYAUTOGUI_LEFT);
	assert_one("pyautogui.rightClick(x=0, y=32767)", ST_PYAUTOGUI_CLICK, 0,
		   32767, ST_PYAUTOGUI_RIGHT);
	assert_one("pyautogui.middleClick(x=5, y=6)", ST_PYAUTOGUI_CLICK, 5, 6,
		   ST_PYAUTOGUI_MIDDLE);
	assert_one("pyautogui.doubleClick(x=7, y=8)",
		   ST_PYAUTOGUI_DOUBLE_CLICK, 7, 8, ST_PYAUTOGUI_LEFT);
	assert_one("pyautogui.moveTo(x=300, y=400)", ST_PYAUTOGUI_MOVE, 300,
		   400, 0);
}

static void assert_text(const char *s, const char *want, size_t want_len)
{
	struct st_pyautogui_ops ops = parse_ok(s);
	assert_int_equal(ops.n, 1);
	assert_int_equal(ops.v[0].kind, ST_PYAUTOGUI_WRITE);
	assert_int_equal(ops.v[0].text_len, want_len);
	assert_memory_equal(ops.v[0].text, want, want_len);
	assert_int_equal(ops.v[0].text[want_len], 0);
	st_pyautogui_ops_fini(&ops);
}

static void decodes_every_escape(void **state)
{
	(void)state;
	assert_text("pyautogui.write('ls -l')", "ls -l", 5);
	assert_text("pyautogui.write('a\\\\b')", "a\\b", 3);
	assert_text("pyautogui.write('it\\'s')", "it's", 4);
	assert_text("pyautogui.write('say \\\"hi\\\"')", "say \"hi\"", 8);
	assert_text("pyautogui.write('1\\n2\\r3\\t4')", "1\n2\r3\t4", 7);
	/* \xHH is a code point, as in Python: \xe9 is é (two bytes) */
	assert_text("pyautogui.write('caf\\xe9 \\x41\\x08')",
		    "caf\xc3\xa9 A\b", 8);
	assert_text("pyautogui.write('\\u20ac\\u00E9')", "\xe2\x82\xac\xc3\xa9", 5);
	assert_text("pyautogui.write('\\U0001F600\\U00000041')",
		    "\xf0\x9f\x98\x80" "A", 5);
	/* raw UTF-8 passes through; the other quote needs no escape */
	assert_text("pyautogui.write('h\xc3\xa9llo \xe2\x82\xac \"q\"')",
		    "h\xc3\xa9llo \xe2\x82\xac \"q\"", 14);
	assert_text("pyautogui.write(\"it's\")", "it's", 4);
	assert_text("pyautogui.write('')", "", 0);
	assert_text("pyautogui.write(message='x')", "x", 1);
}

static void press_takes_every_key_name_and_one_character(void **state)
{
	(void)state;
	char s[128];
	for (size_t k = 0; st_pyautogui_key_names[k]; k++) {
		snprintf(s, sizeof s, "pyautogui.press('%s')",
			 st_pyautogui_key_names[k]);
		struct st_pyautogui_ops ops = parse_ok(s);
		assert_int_equal(ops.n, 1);
		assert_int_equal(ops.v[0].kind, ST_PYAUTOGUI_PRESS);
		assert_int_equal(ops.v[0].nkeys, 1);
		assert_string_equal(ops.v[0].keys[0], st_pyautogui_key_names[k]);
		st_pyautogui_ops_fini(&ops);
	}
	static const struct {
		const char *in, *key;
	} chars[] = {
		{"pyautogui.press('a')", "a"},
		{"pyautogui.press('A')", "A"},
		{"pyautogui.press(' ')", " "},
		{"pyautogui.press('\\'')", "'"},
		{"pyautogui.press('\\\\')", "\\"},
		{"pyautogui.press('\\n')", "\n"},
		{"pyautogui.press('\xc3\xa9')", "\xc3\xa9"},
		{"pyautogui.press('\\U0001F600')", "\xf0\x9f\x98\x80"},
		{"pyautogui.press(keys='f24')", "f24"},
	};
	for (size_t k = 0; k < sizeof chars / sizeof chars[0]; k++) {
		struct st_pyautogui_ops ops = parse_ok(chars[k].in);
		assert_string_equal(ops.v[0].keys[0], chars[k].key);
		st_pyautogui_ops_fini(&ops);
	}
	assert_int_equal(st_pyautogui_key_kind("ctrl"), ST_PYAUTOGUI_KEY_MODIFIER);
	assert_int_equal(st_pyautogui_key_kind("winright"),
			 ST_PYAUTOGUI_KEY_MODIFIER);
	assert_int_equal(st_pyautogui_key_kind("enter"), ST_PYAUTOGUI_KEY_NAMED);
	assert_int_equal(st_pyautogui_key_kind("x"), ST_PYAUTOGUI_KEY_CHAR);
	assert_int_equal(st_pyautogui_key_kind("Enter"), ST_PYAUTOGUI_KEY_UNKNOWN);
	assert_int_equal(st_pyautogui_key_kind("f25"), ST_PYAUTOGUI_KEY_UNKNOWN);
	assert_int_equal(st_pyautogui_key_kind("ab"), ST_PYAUTOGUI_KEY_UNKNOWN);
	assert_int_equal(st_pyautogui_key_kind(""), ST_PYAUTOGUI_KEY_UNKNOWN);
	assert_int_equal(st_pyautogui_key_kind("\x1b"), ST_PYAUTOGUI_KEY_UNKNOWN);
}

static void hotkey_takes_modifiers_then_a_key(void **state)
{
	(void)state;
	struct st_pyautogui_ops ops = parse_ok("pyautogui.hotkey('ctrl', 'c')");
	assert_int_equal(ops.v[0].kind, ST_PYAUTOGUI_HOTKEY);
	assert_int_equal(ops.v[0].nkeys, 2);
	assert_string_equal(ops.v[0].keys[0], "ctrl");
	assert_string_equal(ops.v[0].keys[1], "c");
	st_pyautogui_ops_fini(&ops);
	ops = parse_ok("pyautogui.hotkey('ctrl', 'alt', 'shift', 'win', "
		       "'ctrlright', 'altright', 'shiftright', 'f4')");
	assert_int_equal(ops.v[0].nkeys, 8);
	assert_string_equal(ops.v[0].keys[7], "f4");
	st_pyautogui_ops_fini(&ops);
	ops = parse_ok("pyautogui.hotkey('alt', 'tab')");
	assert_string_equal(ops.v[0].keys[1], "tab");
	st_pyautogui_ops_fini(&ops);
}

static void drag_merges_with_its_move(void **state)
{
	(void)state;
	struct st_pyautogui_ops ops = parse_ok(
		"pyautogui.moveTo(x=10, y=20); pyautogui.dragTo(x=200, y=300, "
		"duration=0.4, button='left')");
	assert_int_equal(ops.n, 1);
	const struct st_pyautogui_op *op = &ops.v[0];
	assert_int_equal(op->kind, ST_PYAUTOGUI_DRAG);
	assert_int_equal(op->x, 10);
	assert_int_equal(op->y, 20);
	assert_int_equal(op->to_x, 200);
	assert_int_equal(op->to_y, 300);
	assert_int_equal(op->button, ST_PYAUTOGUI_LEFT);
	assert_true(op->seconds == 0.4);
	st_pyautogui_ops_fini(&ops);
	/* defaults (duration 0, left), positional duration, other buttons */
	ops = parse_ok("pyautogui.moveTo(x=1, y=2); pyautogui.dragTo(x=3, y=4); "
		       "pyautogui.moveTo(5, 6); pyautogui.dragTo(7, 8, 2, "
		       "button='right'); pyautogui.click(x=9, y=9); "
		       "pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=2, y=2, "
		       "button='middle', duration=1)");
	assert_int_equal(ops.n, 4);
	assert_int_equal(ops.v[0].kind, ST_PYAUTOGUI_DRAG);
	assert_true(ops.v[0].seconds == 0);
	assert_int_equal(ops.v[0].button, ST_PYAUTOGUI_LEFT);
	assert_int_equal(ops.v[1].to_x, 7);
	assert_true(ops.v[1].seconds == 2);
	assert_int_equal(ops.v[1].button, ST_PYAUTOGUI_RIGHT);
	assert_int_equal(ops.v[2].kind, ST_PYAUTOGUI_CLICK);
	assert_int_equal(ops.v[3].button, ST_PYAUTOGUI_MIDDLE);
	assert_true(ops.v[3].seconds == 1);
	st_pyautogui_ops_fini(&ops);
}

static void scroll_and_sleep(void **state)
{
	(void)state;
	struct st_pyautogui_ops ops = parse_ok(
		"pyautogui.scroll(-3, x=100, y=200); pyautogui.hscroll(2, "
		"x=100, y=200); pyautogui.scroll(clicks=5, y=1, x=2); "
		"pyautogui.sleep(1.5); pyautogui.sleep(2); pyautogui.sleep(.25); "
		"pyautogui.sleep(1e-3); pyautogui.sleep(seconds=3.)");
	assert_int_equal(ops.n, 8);
	assert_int_equal(ops.v[0].kind, ST_PYAUTOGUI_SCROLL);
	assert_int_equal(ops.v[0].amount, -3);
	assert_int_equal(ops.v[0].x, 100);
	assert_int_equal(ops.v[0].y, 200);
	assert_int_equal(ops.v[1].kind, ST_PYAUTOGUI_HSCROLL);
	assert_int_equal(ops.v[1].amount, 2);
	assert_int_equal(ops.v[2].amount, 5);
	assert_int_equal(ops.v[2].x, 2);
	assert_int_equal(ops.v[2].y, 1);
	assert_int_equal(ops.v[3].kind, ST_PYAUTOGUI_SLEEP);
	assert_true(ops.v[3].seconds == 1.5);
	assert_true(ops.v[4].seconds == 2.0);
	assert_true(ops.v[5].seconds == 0.25);
	assert_true(ops.v[6].seconds == 0.001);
	assert_true(ops.v[7].seconds == 3.0);
	st_pyautogui_ops_fini(&ops);
}

static void empty_string_is_a_redacted_step(void **state)
{
	(void)state;
	struct st_pyautogui_ops ops;
	struct st_error e = {0};
	assert_int_equal(st_pyautogui_parse("", 0, &ops, &e), 0);
	assert_int_equal(ops.n, 0);
	st_pyautogui_ops_fini(&ops);
	st_pyautogui_ops_fini(NULL);
}

/* Spellings of the same two calls the exporter (or Python) might write:
 * each must give exactly the ops of the canonical one. */
static void accepts_whitespace_and_argument_variations(void **state)
{
	(void)state;
	static const char *const canon =
		"pyautogui.click(x=10, y=20); pyautogui.write('a b')";
	static const char *const forms[] = {
		"pyautogui.click(x=10,y=20);pyautogui.write('a b')",
		"  pyautogui.click( x = 10 , y = 20 ) ;  pyautogui.write( 'a b' )  ",
		"\tpyautogui.click(x=10,\ty=20);\tpyautogui.write('a b')\t",
		"pyautogui.click (x=10, y=20); pyautogui.write ('a b')",
		"pyautogui.click(y=20, x=10); pyautogui.write(message='a b')",
		"pyautogui.click(10, 20); pyautogui.write(\"a b\")",
		"pyautogui.click(10, y=20,); pyautogui.write('a b',)",
		"pyautogui.click(x=10, y=20); pyautogui.write('a\\x20b');",
		"pyautogui.click(x=10, y=20) ; pyautogui.write('a\\u0020b') ; ",
	};
	struct st_pyautogui_ops want = parse_ok(canon);
	assert_int_equal(want.n, 2);
	for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
		struct st_pyautogui_ops got = parse_ok(forms[k]);
		if (got.n != want.n || !st_pyautogui_op_equal(&got.v[0], &want.v[0]) ||
		    !st_pyautogui_op_equal(&got.v[1], &want.v[1]))
			fail_msg("form %zu <%s> parses to other ops", k, forms[k]);
		st_pyautogui_ops_fini(&got);
	}
	st_pyautogui_ops_fini(&want);
}

struct bad {
	const char *in;
	int code;
	const char *word;
	int column; /* 0: not checked */
};

/* Each malformed string: its code, a word of its message and its column. */
static const struct bad bads[] = {
	{"   ", ST_E_CORRUPT, "only blanks", 1},
	{"click(x=1, y=2)", ST_E_CORRUPT, "expected a call", 1},
	{"pyautogui.clack(x=1, y=2)", ST_E_CORRUPT, "unknown function", 1},
	{"pyautogui.Click(x=1, y=2)", ST_E_CORRUPT, "unknown function", 1},
	{"pyautogui .click(x=1, y=2)", ST_E_CORRUPT, "expected a call", 1},
	{"pyautogui.click", ST_E_CORRUPT, "expected '('", 16},
	{"pyautogui.click(x=1, y=2", ST_E_CORRUPT, "expected ',' or ')'", 25},
	{"pyautogui.click(x=1,", ST_E_CORRUPT, "not closed", 21},
	{"pyautogui.click(x=1, y=2) pyautogui.click(x=1, y=2)", ST_E_CORRUPT,
	 "expected ';'", 27},
	{"pyautogui.click(x=1, y=2);; pyautogui.click(x=1, y=2)", ST_E_CORRUPT,
	 "expected a call", 27},
	{"pyautogui.click(x=1, y=2)\npyautogui.click(x=1, y=2)", ST_E_CORRUPT,
	 "expected ';'", 26},
	{"pyautogui.click(x=1)", ST_E_CORRUPT, "missing argument 'y'", 1},
	{"pyautogui.click(x=1, y=2, z=3)", ST_E_CORRUPT, "unknown argument", 27},
	{"pyautogui.click(x=1, y=2, button='right')", ST_E_CORRUPT,
	 "unknown argument", 27},
	{"pyautogui.click(x=1, x=2)", ST_E_CORRUPT, "given twice", 22},
	{"pyautogui.click(1, x=2)", ST_E_CORRUPT, "given twice", 20},
	{"pyautogui.click(x=1, 2)", ST_E_CORRUPT, "positional argument after", 22},
	{"pyautogui.click(1, 2, 3)", ST_E_CORRUPT, "too many positional", 23},
	{"pyautogui.click(x=1.5, y=2)", ST_E_CORRUPT, "whole number", 17},
	{"pyautogui.click(x='1', y=2)", ST_E_CORRUPT, "whole number", 17},
	{"pyautogui.click(x=-1, y=2)", ST_E_CAP, "out of range", 17},
	{"pyautogui.click(x=1, y=32768)", ST_E_CAP, "out of range", 22},
	{"pyautogui.click(x=01, y=2)", ST_E_CORRUPT, "leading zero", 19},
	{"pyautogui.click(x=1_0, y=2)", ST_E_CORRUPT, "malformed number", 19},
	{"pyautogui.click(x=0x10, y=2)", ST_E_CORRUPT, "malformed number", 19},
	{"pyautogui.click(x=+1, y=2)", ST_E_CORRUPT, "expected a number", 19},
	{"pyautogui.click(x=1e, y=2)", ST_E_CORRUPT, "malformed number", 19},
	{"pyautogui.click(x=1.2.3, y=2)", ST_E_CORRUPT, "malformed number", 19},
	{"pyautogui.click(x=-, y=2)", ST_E_CORRUPT, "expected a number", 19},
	{"pyautogui.click(x=a, y=2)", ST_E_CORRUPT, "expected a number", 19},
	{"pyautogui.click(x==1, y=2)", ST_E_CORRUPT, "name=value", 17},
	{"pyautogui.click(x=99999999999999999999, y=2)", ST_E_CAP,
	 "out of range", 19},
	{"pyautogui.click(x=123456789012345678901234567890123, y=2)", ST_E_CAP,
	 "longer than", 19},
	{"pyautogui.click(x=1, y=2) # comment", ST_E_CORRUPT, "expected ';'", 27},
	{"pyautogui.write(secret)", ST_E_CORRUPT, "name=value", 17},
	{"pyautogui.write('secret", ST_E_CORRUPT, "not closed", 17},
	{"pyautogui.write('secret\\')", ST_E_CORRUPT, "not closed", 17},
	{"pyautogui.write('secret')x", ST_E_CORRUPT, "expected ';'", 26},
	{"pyautogui.write(r'secret')", ST_E_CORRUPT, "name=value", 17},
	{"pyautogui.write(b'secret')", ST_E_CORRUPT, "name=value", 17},
	{"pyautogui.write('secret' 'more')", ST_E_CORRUPT, "expected ',' or ')'",
	 26},
	{"pyautogui.write(1)", ST_E_CORRUPT, "must be a string", 17},
	{"pyautogui.write()", ST_E_CORRUPT, "missing argument 'message'", 1},
	{"pyautogui.write('a', 'b')", ST_E_CORRUPT, "too many positional", 22},
	{"pyautogui.write('secret', interval=0.1)", ST_E_CORRUPT,
	 "unknown argument", 27},
	{"pyautogui.write('se\\qret')", ST_E_CORRUPT, "unknown escape", 20},
	{"pyautogui.write('se\\0')", ST_E_CORRUPT, "unknown escape", 20},
	{"pyautogui.write('se\\a')", ST_E_CORRUPT, "unknown escape", 20},
	{"pyautogui.write('se\\N{DASH}')", ST_E_CORRUPT, "unknown escape", 20},
	{"pyautogui.write('se\\x4')", ST_E_CORRUPT, "hex digits", 20},
	{"pyautogui.write('se\\xg0')", ST_E_CORRUPT, "hex digits", 20},
	{"pyautogui.write('se\\u12')", ST_E_CORRUPT, "hex digits", 20},
	{"pyautogui.write('se\\U0011ffff')", ST_E_CORRUPT, "scalar value", 20},
	{"pyautogui.write('se\\ud800')", ST_E_CORRUPT, "scalar value", 20},
	{"pyautogui.write('se\\x00')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\\x1b')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\\x7f')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\\x85')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\\uffff')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\\ufdd0')", ST_E_CORRUPT, "cannot be typed", 20},
	{"pyautogui.write('se\tx')", ST_E_CORRUPT, "raw control", 20},
	{"pyautogui.write('se\nx')", ST_E_CORRUPT, "raw control", 20},
	{"pyautogui.write('se\xc3')", ST_E_CORRUPT, "not UTF-8", 20},
	{"pyautogui.write('se\xc0\xaf')", ST_E_CORRUPT, "not UTF-8", 20},
	{"pyautogui.write('se\xed\xa0\x80')", ST_E_CORRUPT, "not UTF-8", 20},
	{"pyautogui.write('se\xf4\x90\x80\x80')", ST_E_CORRUPT, "not UTF-8", 20},
	{"pyautogui.write('se\xff')", ST_E_CORRUPT, "not UTF-8", 20},
	{"pyautogui.write('\xc3\xa9\xc3\xa9', 1)", ST_E_CORRUPT,
	 "too many positional", 23},
	{"pyautogui.press('Enter')", ST_E_CORRUPT, "unknown key name", 17},
	{"pyautogui.press('secret')", ST_E_CORRUPT, "unknown key name", 17},
	{"pyautogui.press('')", ST_E_CORRUPT, "unknown key name", 17},
	{"pyautogui.press('f25')", ST_E_CORRUPT, "unknown key name", 17},
	{"pyautogui.press('a', presses=2)", ST_E_CORRUPT, "unknown argument", 22},
	{"pyautogui.press(13)", ST_E_CORRUPT, "must be a string", 17},
	{"pyautogui.hotkey('ctrl')", ST_E_CORRUPT, "needs a modifier and a key", 1},
	{"pyautogui.hotkey()", ST_E_CORRUPT, "needs a modifier and a key", 1},
	{"pyautogui.hotkey('c', 'ctrl')", ST_E_CORRUPT, "not a modifier", 18},
	{"pyautogui.hotkey('ctrl', 'shift')", ST_E_CORRUPT, "last key is a "
	 "modifier", 26},
	{"pyautogui.hotkey('ctrl', 'ctrl', 'c')", ST_E_CORRUPT, "repeats", 26},
	{"pyautogui.hotkey('ctrl', 'secret')", ST_E_CORRUPT, "unknown key name",
	 26},
	{"pyautogui.hotkey('ctrl', keys='c')", ST_E_CORRUPT, "no keyword", 26},
	{"pyautogui.hotkey('ctrl', 1)", ST_E_CORRUPT, "must be a string", 26},
	{"pyautogui.hotkey('ctrl', 'alt', 'shift', 'win', 'ctrlright', "
	 "'altright', 'shiftright', 'winright', 'c')", ST_E_CAP, "more than 8 "
	 "arguments", 0},
	{"pyautogui.dragTo(x=1, y=2)", ST_E_CORRUPT, "must follow a moveTo", 1},
	{"pyautogui.click(x=1, y=1); pyautogui.dragTo(x=1, y=2)", ST_E_CORRUPT,
	 "must follow a moveTo", 28},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2); "
	 "pyautogui.dragTo(x=3, y=4)", ST_E_CORRUPT, "must follow a moveTo", 57},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2, "
	 "button='primary')", ST_E_CORRUPT, "button must be", 56},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(1, 2, 0.1, 'left')",
	 ST_E_CORRUPT, "too many positional", 57},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2, 0.1)",
	 ST_E_CORRUPT, "positional argument after", 56},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2, duration=61)",
	 ST_E_CAP, "out of range 0..60", 56},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2, duration=-1)",
	 ST_E_CAP, "out of range", 56},
	{"pyautogui.moveTo(x=1, y=1); pyautogui.dragTo(x=1, y=2, duration='1')",
	 ST_E_CORRUPT, "must be a number", 56},
	{"pyautogui.moveTo(x=1, y=2, duration=0.5)", ST_E_CORRUPT,
	 "unknown argument", 28},
	{"pyautogui.scroll(-3)", ST_E_CORRUPT, "missing argument 'x'", 1},
	{"pyautogui.scroll(1001, x=1, y=2)", ST_E_CAP, "out of range", 18},
	{"pyautogui.hscroll(-1001, x=1, y=2)", ST_E_CAP, "out of range", 19},
	{"pyautogui.scroll(1.5, x=1, y=2)", ST_E_CORRUPT, "whole number", 18},
	{"pyautogui.sleep()", ST_E_CORRUPT, "missing argument 'seconds'", 1},
	{"pyautogui.sleep(-0.5)", ST_E_CAP, "out of range", 17},
	{"pyautogui.sleep(3600.5)", ST_E_CAP, "out of range 0..3600", 17},
	{"pyautogui.sleep(1e999)", ST_E_CAP, "out of range", 17},
	{"pyautogui.sleep('1')", ST_E_CORRUPT, "must be a number", 17},
	{"pyautogui.sleep(nan)", ST_E_CORRUPT, "name=value", 17},
	{"pyautogui.sleep(1, 2)", ST_E_CORRUPT, "too many positional", 20},
	{"pyautogui.click(x=1, y=2, a=1, b=2, c=3, d=4, e=5, f=6, g=7)",
	 ST_E_CAP, "more than 8 arguments", 0},
	/* a column counts characters: é is one */
	{"pyautogui.write('\xc3\xa9\xc3\xa9\\q')", ST_E_CORRUPT,
	 "unknown escape", 20},
	{"pyautogui.averyveryveryveryveryverylongname(1)", ST_E_CORRUPT,
	 "longer than", 11},
};

static void refuses_each_malformed_string(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++) {
		const struct bad *b = &bads[k];
		size_t len = strlen(b->in);
		struct st_pyautogui_ops ops = {0};
		struct st_error e = {0};
		int rc = st_pyautogui_parse(b->in, len, &ops, &e);
		if (rc != b->code)
			fail_msg("case %zu <%s>: code %d (%s), want %d", k, b->in,
				 rc, e.msg, b->code);
		if (!strstr(e.msg, b->word))
			fail_msg("case %zu <%s>: message '%s' lacks '%s'", k,
				 b->in, e.msg, b->word);
		if (b->column) {
			char col[32];
			snprintf(col, sizeof col, "column %d:", b->column);
			if (strncmp(e.msg, col, strlen(col)) != 0)
				fail_msg("case %zu <%s>: message '%s' is not at "
					 "%s", k, b->in, e.msg, col);
		}
		/* the input's own words never reach the message */
		if (strstr(e.msg, "secret") || strstr(e.msg, "\xc3\xa9"))
			fail_msg("case %zu: message '%s' quotes the input", k,
				 e.msg);
		assert_int_equal(ops.n, 0);
		assert_null(ops.v);
	}
	/* a NUL byte is a byte like any other: not part of the grammar */
	static const char nul[] = "pyautogui.click(x=1, y=2)\0";
	struct st_pyautogui_ops ops;
	struct st_error e = {0};
	assert_fails_with(st_pyautogui_parse(nul, sizeof nul - 1, &ops, &e),
			  ST_E_CORRUPT, &e, "column 26: expected ';'");
	static const char nul2[] = "pyautogui.write('a\0b')";
	assert_fails_with(st_pyautogui_parse(nul2, sizeof nul2 - 1, &ops, &e),
			  ST_E_CORRUPT, &e, "column 19: raw control");
}

static char *repeat(const char *unit, size_t times, const char *pre,
		    const char *post)
{
	size_t ul = strlen(unit), pl = strlen(pre), ql = strlen(post);
	char *s = malloc(pl + ul * times + ql + 1);
	assert_non_null(s);
	memcpy(s, pre, pl);
	for (size_t k = 0; k < times; k++)
		memcpy(s + pl + k * ul, unit, ul);
	memcpy(s + pl + ul * times, post, ql + 1);
	return s;
}

static void expect_code(const char *s, int code, const char *word)
{
	struct st_pyautogui_ops ops;
	struct st_error e = {0};
	int rc = st_pyautogui_parse(s, strlen(s), &ops, &e);
	if (code == 0 && rc != 0)
		fail_msg("refused: %s", e.msg);
	if (code != 0 && (rc != code || !strstr(e.msg, word)))
		fail_msg("<%.60s...>: code %d '%s', want %d '%s'", s, rc, e.msg,
			 code, word);
	st_pyautogui_ops_fini(&ops);
}

static void holds_every_cap_at_its_edge(void **state)
{
	(void)state;
	/* text: the cap, in one write or two; one byte over is refused */
	char *s = repeat("a", ST_PYAUTOGUI_TEXT_MAX, "pyautogui.write('", "')");
	expect_code(s, 0, NULL);
	free(s);
	s = repeat("a", ST_PYAUTOGUI_TEXT_MAX + 1, "pyautogui.write('", "')");
	expect_code(s, ST_E_CAP, "over 65536 bytes");
	free(s);
	s = repeat("a", ST_PYAUTOGUI_TEXT_MAX - 1,
		   "pyautogui.write('b'); pyautogui.write('", "')");
	expect_code(s, 0, NULL);
	free(s);
	s = repeat("a", ST_PYAUTOGUI_TEXT_MAX,
		   "pyautogui.write('b'); pyautogui.write('", "')");
	expect_code(s, ST_E_CAP, "text of one step over");
	free(s);
	/* 2-byte characters as \xHH: the decoded bytes count */
	s = repeat("\\xe9", ST_PYAUTOGUI_TEXT_MAX / 2, "pyautogui.write('", "')");
	expect_code(s, 0, NULL);
	free(s);
	s = repeat("\\xe9", ST_PYAUTOGUI_TEXT_MAX / 2 + 1, "pyautogui.write('",
		   "')");
	expect_code(s, ST_E_CAP, "over 65536 bytes");
	free(s);
	/* calls */
	s = repeat("pyautogui.sleep(0); ", ST_PYAUTOGUI_CALLS_MAX, "", "");
	expect_code(s, 0, NULL);
	free(s);
	s = repeat("pyautogui.sleep(0); ", ST_PYAUTOGUI_CALLS_MAX + 1, "", "");
	expect_code(s, ST_E_CAP, "more than 64 calls");
	free(s);
	/* the whole string */
	s = repeat(" ", ST_PYAUTOGUI_INPUT_MAX, "", "");
	struct st_pyautogui_ops ops;
	struct st_error e = {0};
	assert_fails_with(st_pyautogui_parse(s, ST_PYAUTOGUI_INPUT_MAX + 1, &ops,
					     &e), ST_E_CAP, &e, "over the cap");
	free(s);
	/* numbers at their edges */
	expect_code("pyautogui.click(x=32767, y=0)", 0, NULL);
	expect_code("pyautogui.scroll(1000, x=0, y=0)", 0, NULL);
	expect_code("pyautogui.hscroll(-1000, x=0, y=0)", 0, NULL);
	expect_code("pyautogui.scroll(0, x=0, y=0)", 0, NULL);
	expect_code("pyautogui.sleep(3600)", 0, NULL);
	expect_code("pyautogui.sleep(0.0)", 0, NULL);
	expect_code("pyautogui.moveTo(x=0, y=0); pyautogui.dragTo(x=1, y=1, "
		    "duration=60.0)", 0, NULL);
	/* 32 characters, then 33 */
	expect_code("pyautogui.sleep(0.400000000000000022204460492503)", 0, NULL);
	expect_code("pyautogui.sleep(0.4000000000000000222044604925031)",
		    ST_E_CAP, "longer than 32");
}

static void expect_format(const char *in, const char *want)
{
	struct st_pyautogui_ops ops = parse_ok(in);
	char *out;
	size_t len;
	struct st_error e = {0};
	if (st_pyautogui_format(&ops, &out, &len, &e) != 0)
		fail_msg("format of <%s>: %s", in, e.msg);
	assert_int_equal(len, strlen(out));
	if (strcmp(out, want) != 0)
		fail_msg("format of <%s>:\n got <%s>\nwant <%s>", in, out, want);
	/* and it reads back to the same ops */
	struct st_pyautogui_ops back = parse_ok(out);
	assert_int_equal(back.n, ops.n);
	for (size_t k = 0; k < ops.n; k++)
		assert_true(st_pyautogui_op_equal(&ops.v[k], &back.v[k]));
	st_pyautogui_ops_fini(&back);
	st_pyautogui_ops_fini(&ops);
	free(out);
}

static void formats_the_canonical_form(void **state)
{
	(void)state;
	expect_format("", "");
	expect_format("pyautogui.click(10,20)", "pyautogui.click(x=10, y=20)");
	expect_format("pyautogui.rightClick( y=2 , x=1 );pyautogui.middleClick(3,4);"
		      "pyautogui.doubleClick(5,6)",
		      "pyautogui.rightClick(x=1, y=2); pyautogui.middleClick(x=3, "
		      "y=4); pyautogui.doubleClick(x=5, y=6)");
	expect_format("pyautogui.write(\"it's \\\\ \\x41\\t\\n\\r\\x08 caf\\xe9 "
		      "\\u20ac\\U0001F600\")",
		      "pyautogui.write('it\\'s \\\\ A\\t\\n\\r\\x08 caf\xc3\xa9 "
		      "\xe2\x82\xac\xf0\x9f\x98\x80')");
	expect_format("pyautogui.press(keys='\\'')", "pyautogui.press('\\'')");
	expect_format("pyautogui.hotkey('ctrl','shift','\\t')",
		      "pyautogui.hotkey('ctrl', 'shift', '\\t')");
	expect_format("pyautogui.moveTo(1,2);pyautogui.dragTo(3,4)",
		      "pyautogui.moveTo(x=1, y=2); pyautogui.dragTo(x=3, y=4, "
		      "duration=0, button='left')");
	expect_format("pyautogui.moveTo(1,2);pyautogui.dragTo(3,4,.4,button='middle')",
		      "pyautogui.moveTo(x=1, y=2); pyautogui.dragTo(x=3, y=4, "
		      "duration=0.4, button='middle')");
	expect_format("pyautogui.scroll(clicks=-3,x=100,y=200);pyautogui.hscroll(2,x=1,y=2)",
		      "pyautogui.scroll(-3, x=100, y=200); pyautogui.hscroll(2, "
		      "x=1, y=2)");
	expect_format("pyautogui.sleep(1.50); pyautogui.sleep(1e-05); "
		      "pyautogui.sleep(0.30000000000000004); pyautogui.sleep(-0.0)",
		      "pyautogui.sleep(1.5); pyautogui.sleep(1e-05); "
		      "pyautogui.sleep(0.30000000000000004); pyautogui.sleep(0)");
}

static void format_refuses_ops_no_parse_gives(void **state)
{
	(void)state;
	struct st_pyautogui_op op;
	struct st_pyautogui_ops ops = {.v = &op, .n = 1};
	char *out;
	size_t len;
	struct st_error e = {0};
	struct {
		struct st_pyautogui_op op;
		const char *why;
	} cases[] = {
		{{.kind = 0}, "no kind"},
		{{.kind = ST_PYAUTOGUI_CLICK, .x = -1, .button = 1}, "x < 0"},
		{{.kind = ST_PYAUTOGUI_CLICK, .x = 1, .button = 4}, "button 4"},
		{{.kind = ST_PYAUTOGUI_MOVE, .y = 40000}, "y too big"},
		{{.kind = ST_PYAUTOGUI_SCROLL, .amount = 1001}, "1001 notches"},
		{{.kind = ST_PYAUTOGUI_SLEEP, .seconds = NAN}, "NaN"},
		{{.kind = ST_PYAUTOGUI_SLEEP, .seconds = 4000}, "4000 s"},
		{{.kind = ST_PYAUTOGUI_DRAG, .button = 1, .seconds = 61}, "61 s"},
		{{.kind = ST_PYAUTOGUI_WRITE, .text = "\x1b", .text_len = 1}, "ESC"},
		{{.kind = ST_PYAUTOGUI_WRITE, .text = "\xc3", .text_len = 1}, "UTF-8"},
		{{.kind = ST_PYAUTOGUI_PRESS, .nkeys = 1, .keys = {"nokey"}}, "key"},
		{{.kind = ST_PYAUTOGUI_PRESS, .nkeys = 2, .keys = {"a", "b"}}, "2"},
		{{.kind = ST_PYAUTOGUI_HOTKEY, .nkeys = 2, .keys = {"a", "ctrl"}},
		 "order"},
		{{.kind = ST_PYAUTOGUI_HOTKEY, .nkeys = 1, .keys = {"ctrl"}}, "one"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		op = cases[k].op;
		int rc = st_pyautogui_format(&ops, &out, &len, &e);
		if (rc != ST_E_INVAL)
			fail_msg("case %s: code %d", cases[k].why, rc);
		assert_null(out);
	}
	/* a key without its NUL within ST_PYAUTOGUI_KEY_MAX */
	memset(&op, 0, sizeof op);
	op.kind = ST_PYAUTOGUI_PRESS;
	op.nkeys = 1;
	memset(op.keys[0], 'a', ST_PYAUTOGUI_KEY_MAX);
	assert_int_equal(st_pyautogui_format(&ops, &out, &len, &e), ST_E_INVAL);
}

static void op_equal_compares_every_field(void **state)
{
	(void)state;
	struct st_pyautogui_ops a = parse_ok(
		"pyautogui.write('abc'); pyautogui.hotkey('ctrl', 'c'); "
		"pyautogui.moveTo(1, 2); pyautogui.dragTo(3, 4, 0.5)");
	struct st_pyautogui_ops b = parse_ok(
		"pyautogui.write('abd'); pyautogui.hotkey('ctrl', 'v'); "
		"pyautogui.moveTo(1, 2); pyautogui.dragTo(3, 4, 0.25)");
	for (size_t k = 0; k < 3; k++) {
		assert_true(st_pyautogui_op_equal(&a.v[k], &a.v[k]));
		assert_false(st_pyautogui_op_equal(&a.v[k], &b.v[k]));
	}
	assert_string_equal(st_pyautogui_op_name(&a.v[2]), "dragTo");
	st_pyautogui_ops_fini(&a);
	st_pyautogui_ops_fini(&b);
}

static void utf8_decoder_is_strict(void **state)
{
	(void)state;
	uint32_t cp;
	assert_int_equal(st_pyautogui_utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(st_pyautogui_utf8_decode("\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(st_pyautogui_utf8_decode("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(st_pyautogui_utf8_decode("\xc3\xa9", 1, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\xc1\x81", 2, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\xe0\x80\x80", 3, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\xed\xbf\xbf", 3, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\x80", 1, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("\xc3\x28", 2, &cp), 0);
	assert_int_equal(st_pyautogui_utf8_decode("", 0, &cp), 0);
}

/* ---- the executor's pure half ---- */

static void every_key_name_has_a_keysym(void **state)
{
	(void)state;
	for (size_t k = 0; st_pyautogui_key_names[k]; k++)
		if (st_xtest_key_keysym(st_pyautogui_key_names[k]) == 0)
			fail_msg("key name %s has no keysym",
				 st_pyautogui_key_names[k]);
	assert_int_equal(st_xtest_key_keysym("enter"), 0xff0d);  /* Return */
	assert_int_equal(st_xtest_key_keysym("esc"), 0xff1b);    /* Escape */
	assert_int_equal(st_xtest_key_keysym("pagedown"), 0xff56); /* Next */
	assert_int_equal(st_xtest_key_keysym("win"), 0xffeb);    /* Super_L */
	assert_int_equal(st_xtest_key_keysym("f1"), 0xffbe);
	assert_int_equal(st_xtest_key_keysym("f24"), 0xffd5);
	assert_int_equal(st_xtest_key_keysym("f25"), 0);
	assert_int_equal(st_xtest_key_keysym("f0"), 0);
	assert_int_equal(st_xtest_key_keysym("f100"), 0);
	assert_int_equal(st_xtest_key_keysym("a"), 'a');
	assert_int_equal(st_xtest_key_keysym("\n"), 0xff0d);
	assert_int_equal(st_xtest_key_keysym("\xc3\xa9"), 0xe9);      /* eacute */
	assert_int_equal(st_xtest_key_keysym("\xe2\x82\xac"), 0x20ac); /* EuroSign */
	assert_int_equal(st_xtest_key_keysym("nokey"), 0);
	assert_int_equal(st_xtest_key_keysym(""), 0);
}

/* Whatever the parser lets through, the executor can type: every code
 * point st_pyautogui_char_ok accepts has a keysym, and no other does. */
static void every_typeable_character_has_a_keysym(void **state)
{
	(void)state;
	size_t ok = 0;
	for (uint32_t cp = 0; cp <= 0x110000; cp++) {
		bool typeable = st_pyautogui_char_ok(cp);
		uint32_t sym = st_xtest_char_keysym(cp);
		if (typeable != (sym != 0))
			fail_msg("U+%04X: typeable %d, keysym 0x%x", cp, typeable,
				 sym);
		ok += typeable;
	}
	assert_true(ok > 1000000);
	assert_int_equal(st_xtest_char_keysym('\t'), 0xff09);
	assert_int_equal(st_xtest_char_keysym('\r'), 0xff0d);
	assert_int_equal(st_xtest_char_keysym('\b'), 0xff08);
	assert_int_equal(st_xtest_char_keysym(' '), 0x20);
	assert_int_equal(st_xtest_char_keysym(0x1f600), 0x0101f600);
}

static void keymap_lookup_prefers_level_one_and_finds_a_spare(void **state)
{
	(void)state;
	/* keycodes 8..13, two columns: 9 = a A, 10 = 1 exclam, 11 = exclam
	 * on level 2 only again, 12 empty, 13 empty, 8 = less */
	static const uint32_t syms[] = {
		'<', 0,     /* 8 */
		'a', 'A',   /* 9 */
		'1', '!',   /* 10 */
		'x', '!',   /* 11 */
		0, 0,       /* 12 */
		0, 0,       /* 13 */
	};
	struct st_xtest_keymap km = {8, 13, 2, syms};
	uint8_t kc;
	bool shift;
	assert_true(st_xtest_keymap_find(&km, 'a', &kc, &shift));
	assert_int_equal(kc, 9);
	assert_false(shift);
	assert_true(st_xtest_keymap_find(&km, 'A', &kc, &shift));
	assert_int_equal(kc, 9);
	assert_true(shift);
	assert_true(st_xtest_keymap_find(&km, '!', &kc, &shift));
	assert_int_equal(kc, 10); /* the lowest keycode */
	assert_true(shift);
	assert_true(st_xtest_keymap_find(&km, '<', &kc, &shift));
	assert_int_equal(kc, 8);
	assert_false(shift);
	assert_false(st_xtest_keymap_find(&km, 0xe9, &kc, &shift));
	assert_false(st_xtest_keymap_find(&km, 0, &kc, &shift));
	assert_int_equal(st_xtest_keymap_spare(&km), 13);
	/* level 3 and beyond are never used (they need other modifiers) */
	static const uint32_t four[] = {'q', 'Q', '@', 0};
	struct st_xtest_keymap k4 = {24, 24, 4, four};
	assert_false(st_xtest_keymap_find(&k4, '@', &kc, &shift));
	assert_int_equal(st_xtest_keymap_spare(&k4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_every_click_form),
		cmocka_unit_test(decodes_every_escape),
		cmocka_unit_test(press_takes_every_key_name_and_one_character),
		cmocka_unit_test(hotkey_takes_modifiers_then_a_key),
		cmocka_unit_test(drag_merges_with_its_move),
		cmocka_unit_test(scroll_and_sleep),
		cmocka_unit_test(empty_string_is_a_redacted_step),
		cmocka_unit_test(accepts_whitespace_and_argument_variations),
		cmocka_unit_test(refuses_each_malformed_string),
		cmocka_unit_test(holds_every_cap_at_its_edge),
		cmocka_unit_test(formats_the_canonical_form),
		cmocka_unit_test(format_refuses_ops_no_parse_gives),
		cmocka_unit_test(op_equal_compares_every_field),
		cmocka_unit_test(utf8_decoder_is_strict),
		cmocka_unit_test(every_key_name_has_a_keysym),
		cmocka_unit_test(every_typeable_character_has_a_keysym),
		cmocka_unit_test(keymap_lookup_prefers_level_one_and_finds_a_spare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
