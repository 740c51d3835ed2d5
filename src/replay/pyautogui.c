/* pyautogui.c - a recursive-descent parser for the exporter's pyautogui
 * calls, and their canonical writer. The grammar is ours, not Python's: only
 * the calls pyautogui.h lists, literal arguments (whole numbers, decimal
 * numbers, str literals) and ';' between calls. Messages name a column and
 * never quote input: a step's string holds what someone typed. */
#include "replay/pyautogui.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An identifier's characters: the longest name we know is "doubleClick". */
#define IDENT_MAX 32

const char *const st_pyautogui_key_names[] = {
	"ctrl", "ctrlleft", "ctrlright", "alt", "altleft", "altright",
	"shift", "shiftleft", "shiftright", "win", "winleft", "winright",
	"enter", "return", "tab", "backspace", "esc", "escape", "space",
	"delete", "del", "insert", "home", "end", "pageup", "pgup",
	"pagedown", "pgdn", "up", "down", "left", "right",
	"f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11",
	"f12", "f13", "f14", "f15", "f16", "f17", "f18", "f19", "f20", "f21",
	"f22", "f23", "f24", "capslock", "numlock", "scrolllock",
	"printscreen", "pause", "apps", NULL,
};
/* The first N_MODIFIERS names above are modifiers. */
#define N_MODIFIERS 12

bool st_pyautogui_char_ok(uint32_t cp)
{
	if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\b')
		return true;
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return false;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return false;
	if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return false;
	return cp <= 0x10ffff;
}

size_t st_pyautogui_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	if (len == 0)
		return 0;
	unsigned char b = u[0];
	size_t n;
	uint32_t c, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	} else if (b >= 0xc2 && b <= 0xdf) {
		n = 2, c = b & 0x1f, min = 0x80;
	} else if (b >= 0xe0 && b <= 0xef) {
		n = 3, c = b & 0x0f, min = 0x800;
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 4, c = b & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (u[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

enum st_pyautogui_key_kind st_pyautogui_key_kind(const char *name)
{
	for (size_t i = 0; st_pyautogui_key_names[i]; i++)
		if (strcmp(name, st_pyautogui_key_names[i]) == 0)
			return i < N_MODIFIERS ? ST_PYAUTOGUI_KEY_MODIFIER
					       : ST_PYAUTOGUI_KEY_NAMED;
	size_t len = strlen(name);
	uint32_t cp;
	size_t k = st_pyautogui_utf8_decode(name, len, &cp);
	if (k != 0 && k == len && st_pyautogui_char_ok(cp))
		return ST_PYAUTOGUI_KEY_CHAR;
	return ST_PYAUTOGUI_KEY_UNKNOWN;
}

/* ---- the call table ---------------------------------------------------- */

enum ptype { P_COORD, P_CLICKS, P_SECONDS, P_TEXT, P_KEY, P_BUTTON };

struct param {
	const char *name;
	enum ptype type;
	bool required;
	bool kw_only;
};

struct func {
	const char *name;
	enum st_pyautogui_kind kind;
	int button;        /* CLICK's button */
	bool variadic;     /* hotkey: key names, positional only */
	double secs_max;   /* P_SECONDS's cap */
	size_t np;
	struct param p[4];
};

#define PX {"x", P_COORD, true, false}
#define PY {"y", P_COORD, true, false}

static const struct func funcs[] = {
	{"click", ST_PYAUTOGUI_CLICK, ST_PYAUTOGUI_LEFT, false, 0, 2, {PX, PY}},
	{"doubleClick", ST_PYAUTOGUI_DOUBLE_CLICK, ST_PYAUTOGUI_LEFT, false, 0,
	 2, {PX, PY}},
	{"rightClick", ST_PYAUTOGUI_CLICK, ST_PYAUTOGUI_RIGHT, false, 0, 2,
	 {PX, PY}},
	{"middleClick", ST_PYAUTOGUI_CLICK, ST_PYAUTOGUI_MIDDLE, false, 0, 2,
	 {PX, PY}},
	{"write", ST_PYAUTOGUI_WRITE, 0, false, 0, 1,
	 {{"message", P_TEXT, true, false}}},
	{"press", ST_PYAUTOGUI_PRESS, 0, false, 0, 1,
	 {{"keys", P_KEY, true, false}}},
	{"hotkey", ST_PYAUTOGUI_HOTKEY, 0, true, 0, 0, {{0}}},
	{"moveTo", ST_PYAUTOGUI_MOVE, 0, false, 0, 2, {PX, PY}},
	{"dragTo", ST_PYAUTOGUI_DRAG, ST_PYAUTOGUI_LEFT, false,
	 ST_PYAUTOGUI_DURATION_MAX, 4,
	 {PX, PY, {"duration", P_SECONDS, false, false},
	  {"button", P_BUTTON, false, true}}},
	{"scroll", ST_PYAUTOGUI_SCROLL, 0, false, 0, 3,
	 {{"clicks", P_CLICKS, true, false}, PX, PY}},
	{"hscroll", ST_PYAUTOGUI_HSCROLL, 0, false, 0, 3,
	 {{"clicks", P_CLICKS, true, false}, PX, PY}},
	{"sleep", ST_PYAUTOGUI_SLEEP, 0, false, ST_PYAUTOGUI_SLEEP_MAX, 1,
	 {{"seconds", P_SECONDS, true, false}}},
};
#define NFUNCS (sizeof funcs / sizeof funcs[0])
#define FUNC_LIST "click, doubleClick, rightClick, middleClick, write, " \
	"press, hotkey, moveTo, dragTo, scroll, hscroll, sleep"

static const char *const button_names[] = {
	[ST_PYAUTOGUI_LEFT] = "left",
	[ST_PYAUTOGUI_MIDDLE] = "middle",
	[ST_PYAUTOGUI_RIGHT] = "right",
};

const char *st_pyautogui_op_name(const struct st_pyautogui_op *op)
{
	switch (op->kind) {
	case ST_PYAUTOGUI_CLICK:
		if (op->button == ST_PYAUTOGUI_RIGHT)
			return "rightClick";
		if (op->button == ST_PYAUTOGUI_MIDDLE)
			return "middleClick";
		return "click";
	case ST_PYAUTOGUI_DOUBLE_CLICK: return "doubleClick";
	case ST_PYAUTOGUI_WRITE: return "write";
	case ST_PYAUTOGUI_PRESS: return "press";
	case ST_PYAUTOGUI_HOTKEY: return "hotkey";
	case ST_PYAUTOGUI_MOVE: return "moveTo";
	case ST_PYAUTOGUI_DRAG: return "dragTo";
	case ST_PYAUTOGUI_SCROLL: return "scroll";
	case ST_PYAUTOGUI_HSCROLL: return "hscroll";
	case ST_PYAUTOGUI_SLEEP: return "sleep";
	}
	return "?";
}

/* ---- the parser -------------------------------------------------------- */

struct parser {
	const char *s;
	size_t n, i;
	size_t text_total; /* decoded write() bytes so far */
	struct st_error *err;
};

enum vtype { V_INT, V_FLOAT, V_STR };

struct value {
	enum vtype type;
	long long i;
	double d;
	char *str; /* V_STR: malloc'd, NUL-terminated, len bytes */
	size_t len;
};

struct arg {
	const char *name; /* NULL: positional; else points into the input */
	size_t name_len;
	size_t at;        /* where the argument starts, for messages */
	struct value v;
};

/* Column of byte offset at: characters from 1, so a message points at the
 * same place an editor shows. */
static size_t column(const struct parser *p, size_t at)
{
	size_t col = 1;
	for (size_t k = 0; k < at && k < p->n; k++)
		if (((unsigned char)p->s[k] & 0xc0) != 0x80)
			col++;
	return col;
}

__attribute__((format(printf, 4, 5))) static int
fail_at(struct parser *p, size_t at, int code, const char *fmt, ...)
{
	if (!p->err)
		return code;
	char msg[ST_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return st_fail(p->err, code, "column %zu: %s", column(p, at), msg);
}

static void skip_ws(struct parser *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
		p->i++;
}

static bool at_end(const struct parser *p)
{
	return p->i >= p->n;
}

static char peek(const struct parser *p)
{
	return p->i < p->n ? p->s[p->i] : 0;
}

static bool ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads an identifier; *len its length. Longer than IDENT_MAX is an error
 * (no name we know is that long, and the bound keeps messages short). */
static int ident(struct parser *p, const char **name, size_t *len)
{
	size_t start = p->i;
	if (!ident_start(peek(p)))
		return fail_at(p, start, ST_E_CORRUPT, "expected a name");
	while (p->i < p->n && ident_char(p->s[p->i]))
		p->i++;
	if (p->i - start > IDENT_MAX)
		return fail_at(p, start, ST_E_CORRUPT, "name longer than %d "
			       "characters", IDENT_MAX);
	*name = p->s + start;
	*len = p->i - start;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A str literal at p->i (its opening quote). The decoded text can only be
 * shorter than the literal, so one allocation of the literal's length holds
 * it. Every character must be one st_pyautogui_char_ok accepts. */
static int string_lit(struct parser *p, struct value *v)
{
	size_t open = p->i;
	char q = p->s[p->i++];
	size_t end = p->i;
	while (end < p->n && p->s[end] != q) {
		if (p->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->n)
		return fail_at(p, open, ST_E_CORRUPT, "string not closed");
	char *out = malloc(end - p->i + 1);
	if (!out)
		return st_fail(p->err, ST_E_NOMEM, "out of memory for a string");
	size_t o = 0;
	while (p->i < end) {
		size_t at = p->i;
		uint32_t cp;
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '\\') {
			char e = p->s[p->i + 1];
			size_t digits = 0;
			p->i += 2;
			switch (e) {
			case '\\': cp = '\\'; break;
			case '\'': cp = '\''; break;
			case '"': cp = '"'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'x': digits = 2; break;
			case 'u': digits = 4; break;
			case 'U': digits = 8; break;
			default:
				free(out);
				return fail_at(p, at, ST_E_CORRUPT,
					       "unknown escape (known: \\\\ \\' "
					       "\\\" \\n \\r \\t \\xHH \\uHHHH "
					       "\\UHHHHHHHH)");
			}
			if (digits) {
				cp = 0;
				for (size_t k = 0; k < digits; k++) {
					int h = p->i < end ? hexval(p->s[p->i]) : -1;
					if (h < 0) {
						free(out);
						return fail_at(p, at, ST_E_CORRUPT,
							       "escape needs %zu hex "
							       "digits", digits);
					}
					cp = cp << 4 | (uint32_t)h;
					p->i++;
				}
				if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
					free(out);
					return fail_at(p, at, ST_E_CORRUPT,
						       "escape is not a Unicode "
						       "scalar value");
				}
			}
		} else if (c < 0x80) {
			cp = c;
			p->i++;
			if (c < 0x20 || c == 0x7f) {
				free(out);
				return fail_at(p, at, ST_E_CORRUPT,
					       "raw control character in a "
					       "string (write it as an escape)");
			}
		} else {
			size_t k = st_pyautogui_utf8_decode(p->s + p->i,
							    end - p->i, &cp);
			if (k == 0) {
				free(out);
				return fail_at(p, at, ST_E_CORRUPT,
					       "string is not UTF-8");
			}
			p->i += k;
		}
		if (!st_pyautogui_char_ok(cp)) {
			free(out);
			return fail_at(p, at, ST_E_CORRUPT,
				       "a character that cannot be typed (a "
				       "control character, surrogate or "
				       "noncharacter)");
		}
		o += utf8_encode(cp, out + o);
	}
	p->i = end + 1;
	out[o] = 0;
	if (o > ST_PYAUTOGUI_TEXT_MAX) {
		free(out);
		return fail_at(p, open, ST_E_CAP, "string over %d bytes",
			       ST_PYAUTOGUI_TEXT_MAX);
	}
	v->type = V_STR;
	v->str = out;
	v->len = o;
	return 0;
}

/* A number: -?digits[.digits][e[+-]digits] (or .digits), as Python writes
 * them, without underscores, signs other than a leading '-', or leading
 * zeros in whole numbers. */
static int number(struct parser *p, struct value *v)
{
	size_t start = p->i;
	bool is_float = false;
	if (peek(p) == '-')
		p->i++;
	size_t int_start = p->i;
	while (is_digit(peek(p)))
		p->i++;
	size_t int_digits = p->i - int_start, frac_digits = 0;
	if (peek(p) == '.') {
		is_float = true;
		p->i++;
		size_t f = p->i;
		while (is_digit(peek(p)))
			p->i++;
		frac_digits = p->i - f;
	}
	if (int_digits == 0 && frac_digits == 0)
		return fail_at(p, start, ST_E_CORRUPT, "expected a number or a "
			       "string");
	if (peek(p) == 'e' || peek(p) == 'E') {
		is_float = true;
		p->i++;
		if (peek(p) == '+' || peek(p) == '-')
			p->i++;
		size_t e = p->i;
		while (is_digit(peek(p)))
			p->i++;
		if (p->i == e)
			return fail_at(p, start, ST_E_CORRUPT, "malformed number");
	}
	if (ident_char(peek(p)) || peek(p) == '.')
		return fail_at(p, start, ST_E_CORRUPT, "malformed number");
	if (!is_float && int_digits > 1 && p->s[int_start] == '0')
		return fail_at(p, start, ST_E_CORRUPT, "whole number with a "
			       "leading zero");
	size_t len = p->i - start;
	if (len > ST_PYAUTOGUI_NUMBER_MAX)
		return fail_at(p, start, ST_E_CAP, "number longer than %d "
			       "characters", ST_PYAUTOGUI_NUMBER_MAX);
	char buf[ST_PYAUTOGUI_NUMBER_MAX + 1];
	memcpy(buf, p->s + start, len);
	buf[len] = 0;
	errno = 0;
	if (is_float) {
		v->type = V_FLOAT;
		v->d = strtod(buf, NULL);
		if (!isfinite(v->d))
			return fail_at(p, start, ST_E_CAP, "number out of range");
	} else {
		v->type = V_INT;
		v->i = strtoll(buf, NULL, 10);
		if (errno == ERANGE)
			return fail_at(p, start, ST_E_CAP, "number out of range");
	}
	return 0;
}

static int value(struct parser *p, struct value *v)
{
	char c = peek(p);
	if (c == '\'' || c == '"')
		return string_lit(p, v);
	if (c == '-' || c == '.' || is_digit(c))
		return number(p, v);
	return fail_at(p, p->i, ST_E_CORRUPT, "expected a number or a string");
}

static void args_free(struct arg *a, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(a[k].v.str);
}

/* "(" args ")" with p->i at "(". Python's rules: keywords after
 * positionals, a trailing comma allowed. */
static int arglist(struct parser *p, struct arg *a, size_t *na)
{
	*na = 0;
	p->i++; /* '(' */
	bool seen_kw = false;
	for (;;) {
		skip_ws(p);
		if (peek(p) == ')') {
			p->i++;
			return 0;
		}
		if (at_end(p))
			return fail_at(p, p->i, ST_E_CORRUPT, "call not closed "
				       "with ')'");
		if (*na == ST_PYAUTOGUI_ARGS_MAX)
			return fail_at(p, p->i, ST_E_CAP, "more than %d "
				       "arguments", ST_PYAUTOGUI_ARGS_MAX);
		struct arg *g = &a[*na];
		memset(g, 0, sizeof *g);
		g->at = p->i;
		if (ident_start(peek(p))) {
			int rc = ident(p, &g->name, &g->name_len);
			if (rc)
				return rc;
			skip_ws(p);
			if (peek(p) != '=' ||
			    (p->i + 1 < p->n && p->s[p->i + 1] == '='))
				return fail_at(p, g->at, ST_E_CORRUPT, "expected "
					       "a number or a string, or "
					       "name=value");
			p->i++;
			skip_ws(p);
			seen_kw = true;
		} else if (seen_kw) {
			return fail_at(p, g->at, ST_E_CORRUPT, "positional "
				       "argument after a keyword argument");
		}
		int rc = value(p, &g->v);
		if (rc)
			return rc;
		(*na)++;
		skip_ws(p);
		if (peek(p) == ',') {
			p->i++;
			continue;
		}
		if (peek(p) != ')')
			return fail_at(p, p->i, ST_E_CORRUPT, "expected ',' or "
				       "')'");
	}
}

static int check_key(struct parser *p, const struct arg *g, const char *fn,
		     enum st_pyautogui_key_kind *kind)
{
	if (g->v.type != V_STR)
		return fail_at(p, g->at, ST_E_CORRUPT, "%s: a key must be a "
			       "string", fn);
	*kind = g->v.len < ST_PYAUTOGUI_KEY_MAX ? st_pyautogui_key_kind(g->v.str)
						: ST_PYAUTOGUI_KEY_UNKNOWN;
	if (*kind == ST_PYAUTOGUI_KEY_UNKNOWN)
		return fail_at(p, g->at, ST_E_CORRUPT, "%s: unknown key name "
			       "(names are pyautogui's, lower case: enter, "
			       "tab, esc, f1..f24, ...; or one character)", fn);
	return 0;
}

static int bind_hotkey(struct parser *p, const struct arg *a, size_t na,
		       struct st_pyautogui_op *op, size_t open)
{
	if (na < 2)
		return fail_at(p, open, ST_E_CORRUPT, "hotkey: needs a modifier "
			       "and a key (one key alone is press)");
	if (na > ST_PYAUTOGUI_KEYS_MAX)
		return fail_at(p, a[na - 1].at, ST_E_CAP,
			       "hotkey: more than %d keys", ST_PYAUTOGUI_KEYS_MAX);
	for (size_t k = 0; k < na; k++) {
		if (a[k].name)
			return fail_at(p, a[k].at, ST_E_CORRUPT, "hotkey: takes "
				       "key names only, no keyword arguments");
		enum st_pyautogui_key_kind kind;
		int rc = check_key(p, &a[k], "hotkey", &kind);
		if (rc)
			return rc;
		if (k + 1 < na && kind != ST_PYAUTOGUI_KEY_MODIFIER)
			return fail_at(p, a[k].at, ST_E_CORRUPT, "hotkey: key %zu "
				       "is not a modifier (ctrl, alt, shift, "
				       "win); only the last key may be another",
				       k + 1);
		if (k + 1 == na && kind == ST_PYAUTOGUI_KEY_MODIFIER)
			return fail_at(p, a[k].at, ST_E_CORRUPT, "hotkey: the "
				       "last key is a modifier; it must be a key "
				       "name or one character");
		for (size_t j = 0; j < k; j++)
			if (strcmp(a[j].v.str, a[k].v.str) == 0)
				return fail_at(p, a[k].at, ST_E_CORRUPT,
					       "hotkey: key %zu repeats key %zu",
					       k + 1, j + 1);
		memcpy(op->keys[k], a[k].v.str, a[k].v.len + 1);
	}
	op->nkeys = na;
	return 0;
}

/* Binds arguments to f's parameters as Python would, checks every value
 * against its type and cap, and fills op. Takes a WRITE's text from its
 * argument (a[].v.str is set to NULL then). */
static int bind(struct parser *p, const struct func *f, struct arg *a,
		size_t na, struct st_pyautogui_op *op, size_t open)
{
	memset(op, 0, sizeof *op);
	op->kind = f->kind;
	op->button = f->button;
	if (f->variadic)
		return bind_hotkey(p, a, na, op, open);

	struct arg *slot[4] = {0};
	size_t npos = 0;
	for (size_t k = 0; k < na; k++) {
		size_t j;
		if (!a[k].name) {
			j = npos++;
			if (j >= f->np || f->p[j].kw_only)
				return fail_at(p, a[k].at, ST_E_CORRUPT, "%s: too "
					       "many positional arguments",
					       f->name);
		} else {
			for (j = 0; j < f->np; j++)
				if (strlen(f->p[j].name) == a[k].name_len &&
				    memcmp(f->p[j].name, a[k].name,
					   a[k].name_len) == 0)
					break;
			if (j == f->np)
				return fail_at(p, a[k].at, ST_E_CORRUPT, "%s: "
					       "unknown argument name", f->name);
		}
		if (slot[j])
			return fail_at(p, a[k].at, ST_E_CORRUPT, "%s: argument "
				       "'%s' given twice", f->name, f->p[j].name);
		slot[j] = &a[k];
	}
	for (size_t j = 0; j < f->np; j++) {
		const struct param *pp = &f->p[j];
		struct arg *g = slot[j];
		if (!g) {
			if (pp->required)
				return fail_at(p, open, ST_E_CORRUPT, "%s: missing "
					       "argument '%s'", f->name, pp->name);
			continue;
		}
		const struct value *v = &g->v;
		switch (pp->type) {
		case P_COORD:
		case P_CLICKS: {
			bool coord = pp->type == P_COORD;
			if (v->type != V_INT)
				return fail_at(p, g->at, ST_E_CORRUPT, "%s: '%s' "
					       "must be a whole number", f->name,
					       pp->name);
			long long lo = coord ? 0 : -ST_PYAUTOGUI_SCROLL_MAX;
			long long hi = coord ? ST_PYAUTOGUI_COORD_MAX
					     : ST_PYAUTOGUI_SCROLL_MAX;
			if (v->i < lo || v->i > hi)
				return fail_at(p, g->at, ST_E_CAP, "%s: '%s' out of "
					       "range %lld..%lld", f->name,
					       pp->name, lo, hi);
			if (!coord)
				op->amount = (int)v->i;
			else if (pp->name[0] == 'x')
				op->x = (int)v->i;
			else
				op->y = (int)v->i;
			break;
		}
		case P_SECONDS: {
			if (v->type == V_STR)
				return fail_at(p, g->at, ST_E_CORRUPT, "%s: '%s' "
					       "must be a number", f->name,
					       pp->name);
			double d = v->type == V_INT ? (double)v->i : v->d;
			if (!(d >= 0 && d <= f->secs_max))
				return fail_at(p, g->at, ST_E_CAP, "%s: '%s' out of "
					       "range 0..%g seconds", f->name,
					       pp->name, f->secs_max);
			op->seconds = d + 0.0; /* -0.0 becomes 0.0 */
			break;
		}
		case P_TEXT:
			if (v->type != V_STR)
				return fail_at(p, g->at, ST_E_CORRUPT, "%s: '%s' "
					       "must be a string", f->name,
					       pp->name);
			if (v->len > ST_PYAUTOGUI_TEXT_MAX - p->text_total)
				return fail_at(p, g->at, ST_E_CAP, "text of one "
					       "step over %d bytes",
					       ST_PYAUTOGUI_TEXT_MAX);
			p->text_total += v->len;
			op->text = g->v.str;
			op->text_len = g->v.len;
			g->v.str = NULL;
			break;
		case P_KEY: {
			enum st_pyautogui_key_kind kind;
			int rc = check_key(p, g, f->name, &kind);
			if (rc)
				return rc;
			memcpy(op->keys[0], v->str, v->len + 1);
			op->nkeys = 1;
			break;
		}
		case P_BUTTON: {
			int b = 0;
			if (v->type == V_STR)
				for (int k = 1; k <= 3; k++)
					if (strcmp(v->str, button_names[k]) == 0)
						b = k;
			if (!b)
				return fail_at(p, g->at, ST_E_CORRUPT, "%s: "
					       "button must be 'left', 'middle' "
					       "or 'right'", f->name);
			op->button = b;
			break;
		}
		}
	}
	if (op->kind == ST_PYAUTOGUI_DRAG) {
		op->to_x = op->x;
		op->to_y = op->y;
		op->x = op->y = 0;
	}
	return 0;
}

static void ops_free_n(struct st_pyautogui_op *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k].text);
}

/* One call; a dragTo merges into the moveTo op before it. */
static int call(struct parser *p, struct st_pyautogui_op *ops, size_t *nops)
{
	static const char prefix[] = "pyautogui.";
	size_t start = p->i;
	if (p->n - p->i < sizeof prefix - 1 ||
	    memcmp(p->s + p->i, prefix, sizeof prefix - 1) != 0)
		return fail_at(p, start, ST_E_CORRUPT, "expected a call "
			       "'pyautogui.NAME(...)'");
	p->i += sizeof prefix - 1;
	const char *name;
	size_t len;
	int rc = ident(p, &name, &len);
	if (rc)
		return rc;
	const struct func *f = NULL;
	for (size_t k = 0; k < NFUNCS; k++)
		if (strlen(funcs[k].name) == len &&
		    memcmp(funcs[k].name, name, len) == 0)
			f = &funcs[k];
	if (!f)
		return fail_at(p, start, ST_E_CORRUPT, "unknown function (known: "
			       FUNC_LIST ")");
	skip_ws(p);
	if (peek(p) != '(')
		return fail_at(p, p->i, ST_E_CORRUPT, "expected '(' after %s",
			       f->name);
	struct arg a[ST_PYAUTOGUI_ARGS_MAX];
	size_t na = 0;
	rc = arglist(p, a, &na);
	if (rc == 0) {
		struct st_pyautogui_op op;
		rc = bind(p, f, a, na, &op, start);
		if (rc == 0 && op.kind == ST_PYAUTOGUI_DRAG) {
			struct st_pyautogui_op *prev = *nops ? &ops[*nops - 1] : NULL;
			if (!prev || prev->kind != ST_PYAUTOGUI_MOVE) {
				rc = fail_at(p, start, ST_E_CORRUPT, "dragTo: "
					     "must follow a moveTo to its start "
					     "in the same step");
			} else {
				op.x = prev->x;
				op.y = prev->y;
				*prev = op;
			}
		} else if (rc == 0) {
			ops[(*nops)++] = op;
		} else {
			free(op.text);
		}
	}
	args_free(a, na);
	return rc;
}

int st_pyautogui_parse(const char *s, size_t len, struct st_pyautogui_ops *out,
		       struct st_error *err)
{
	memset(out, 0, sizeof *out);
	if (len > ST_PYAUTOGUI_INPUT_MAX)
		return st_fail(err, ST_E_CAP, "pyautogui string of %zu bytes, "
			       "over the cap of %d", len, ST_PYAUTOGUI_INPUT_MAX);
	if (len == 0)
		return 0;
	struct parser p = {.s = s, .n = len, .err = err};
	struct st_pyautogui_op ops[ST_PYAUTOGUI_CALLS_MAX];
	size_t nops = 0, ncalls = 0;
	int rc = 0;
	skip_ws(&p);
	if (at_end(&p))
		return fail_at(&p, 0, ST_E_CORRUPT, "only blanks (a redacted "
			       "step is the empty string)");
	for (;;) {
		if (ncalls == ST_PYAUTOGUI_CALLS_MAX) {
			rc = fail_at(&p, p.i, ST_E_CAP, "more than %d calls in "
				     "one step", ST_PYAUTOGUI_CALLS_MAX);
			break;
		}
		rc = call(&p, ops, &nops);
		if (rc)
			break;
		ncalls++;
		skip_ws(&p);
		if (at_end(&p))
			break;
		if (peek(&p) != ';') {
			rc = fail_at(&p, p.i, ST_E_CORRUPT, "expected ';' between "
				     "calls");
			break;
		}
		p.i++;
		skip_ws(&p);
		if (at_end(&p))
			break;
	}
	if (rc) {
		ops_free_n(ops, nops);
		return rc;
	}
	out->v = malloc(nops * sizeof *out->v);
	if (!out->v) {
		ops_free_n(ops, nops);
		return st_fail(err, ST_E_NOMEM, "out of memory for %zu ops", nops);
	}
	memcpy(out->v, ops, nops * sizeof *out->v);
	out->n = nops;
	return 0;
}

void st_pyautogui_ops_fini(struct st_pyautogui_ops *ops)
{
	if (!ops)
		return;
	if (ops->v)
		ops_free_n(ops->v, ops->n);
	free(ops->v);
	ops->v = NULL;
	ops->n = 0;
}

bool st_pyautogui_op_equal(const struct st_pyautogui_op *a,
			   const struct st_pyautogui_op *b)
{
	if (a->kind != b->kind || a->x != b->x || a->y != b->y ||
	    a->to_x != b->to_x || a->to_y != b->to_y || a->button != b->button ||
	    a->amount != b->amount || a->seconds != b->seconds ||
	    a->text_len != b->text_len || a->nkeys != b->nkeys)
		return false;
	if (a->text_len && memcmp(a->text, b->text, a->text_len) != 0)
		return false;
	for (size_t k = 0; k < a->nkeys && k < ST_PYAUTOGUI_KEYS_MAX; k++)
		if (strncmp(a->keys[k], b->keys[k], ST_PYAUTOGUI_KEY_MAX) != 0)
			return false;
	return true;
}

/* ---- the writer -------------------------------------------------------- */

/* Bytes one op takes at most besides its text: the longest is a drag
 * (two calls, four 5-digit numbers, a 24-character number) or a hotkey of
 * ST_PYAUTOGUI_KEYS_MAX keys of up to 11 characters each escaped. */
#define OP_SYNTAX_MAX 256

struct out {
	char *b;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
						       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	/* the capacity is computed from the ops: never short */
	if (k > 0)
		o->n += (size_t)k < o->cap - o->n ? (size_t)k : o->cap - o->n - 1;
}

/* A single-quoted literal: the exporter's escapes, \x08 for backspace,
 * every other character raw. At most 4 bytes per byte of s. */
static void put_lit(struct out *o, const char *s, size_t len)
{
	o->b[o->n++] = '\'';
	for (size_t k = 0; k < len; k++) {
		char c = s[k];
		switch (c) {
		case '\\': put(o, "\\\\"); break;
		case '\'': put(o, "\\'"); break;
		case '\n': put(o, "\\n"); break;
		case '\r': put(o, "\\r"); break;
		case '\t': put(o, "\\t"); break;
		case '\b': put(o, "\\x08"); break;
		default: o->b[o->n++] = c; break;
		}
	}
	o->b[o->n++] = '\'';
	o->b[o->n] = 0;
}

/* The shortest decimal that reads back as exactly d. */
static void put_seconds(struct out *o, double d)
{
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	put(o, "%s", buf);
}

static bool text_ok(const char *s, size_t len)
{
	for (size_t k = 0; k < len;) {
		uint32_t cp;
		size_t n = st_pyautogui_utf8_decode(s + k, len - k, &cp);
		if (n == 0 || !st_pyautogui_char_ok(cp))
			return false;
		k += n;
	}
	return true;
}

static bool coord_ok(int v)
{
	return v >= 0 && v <= ST_PYAUTOGUI_COORD_MAX;
}

static bool key_ok(const char *k)
{
	return memchr(k, 0, ST_PYAUTOGUI_KEY_MAX) &&
	       st_pyautogui_key_kind(k) != ST_PYAUTOGUI_KEY_UNKNOWN;
}

/* Whether a parse could have given op; the writer refuses anything else so
 * that what it writes always reads back. */
static bool op_ok(const struct st_pyautogui_op *op)
{
	switch (op->kind) {
	case ST_PYAUTOGUI_CLICK:
		return coord_ok(op->x) && coord_ok(op->y) && op->button >= 1 &&
		       op->button <= 3;
	case ST_PYAUTOGUI_DOUBLE_CLICK:
	case ST_PYAUTOGUI_MOVE:
		return coord_ok(op->x) && coord_ok(op->y);
	case ST_PYAUTOGUI_WRITE:
		return op->text_len <= ST_PYAUTOGUI_TEXT_MAX &&
		       (op->text || !op->text_len) &&
		       text_ok(op->text, op->text_len);
	case ST_PYAUTOGUI_PRESS:
		return op->nkeys == 1 && key_ok(op->keys[0]);
	case ST_PYAUTOGUI_HOTKEY:
		if (op->nkeys < 2 || op->nkeys > ST_PYAUTOGUI_KEYS_MAX)
			return false;
		for (size_t k = 0; k < op->nkeys; k++) {
			if (!key_ok(op->keys[k]))
				return false;
			bool mod = st_pyautogui_key_kind(op->keys[k]) ==
				   ST_PYAUTOGUI_KEY_MODIFIER;
			if (mod != (k + 1 < op->nkeys))
				return false;
			for (size_t j = 0; j < k; j++)
				if (strcmp(op->keys[j], op->keys[k]) == 0)
					return false;
		}
		return true;
	case ST_PYAUTOGUI_DRAG:
		return coord_ok(op->x) && coord_ok(op->y) && coord_ok(op->to_x) &&
		       coord_ok(op->to_y) && op->button >= 1 && op->button <= 3 &&
		       op->seconds >= 0 &&
		       op->seconds <= ST_PYAUTOGUI_DURATION_MAX;
	case ST_PYAUTOGUI_SCROLL:
	case ST_PYAUTOGUI_HSCROLL:
		return coord_ok(op->x) && coord_ok(op->y) &&
		       op->amount >= -ST_PYAUTOGUI_SCROLL_MAX &&
		       op->amount <= ST_PYAUTOGUI_SCROLL_MAX;
	case ST_PYAUTOGUI_SLEEP:
		return op->seconds >= 0 && op->seconds <= ST_PYAUTOGUI_SLEEP_MAX;
	}
	return false;
}

int st_pyautogui_format(const struct st_pyautogui_ops *ops, char **out,
			size_t *out_len, struct st_error *err)
{
	*out = NULL;
	*out_len = 0;
	if (ops->n > ST_PYAUTOGUI_CALLS_MAX)
		return st_fail(err, ST_E_INVAL, "%zu ops, over the cap of %d",
			       ops->n, ST_PYAUTOGUI_CALLS_MAX);
	size_t cap = 1, text = 0;
	for (size_t k = 0; k < ops->n; k++) {
		const struct st_pyautogui_op *op = &ops->v[k];
		if (!op_ok(op))
			return st_fail(err, ST_E_INVAL, "op %zu (%s) holds a value "
				       "no pyautogui string gives", k + 1,
				       st_pyautogui_op_name(op));
		if (op->kind == ST_PYAUTOGUI_WRITE)
			text += op->text_len;
		cap += OP_SYNTAX_MAX + 4 * op->text_len;
	}
	if (text > ST_PYAUTOGUI_TEXT_MAX)
		return st_fail(err, ST_E_INVAL, "%zu bytes of text, over the cap "
			       "of %d", text, ST_PYAUTOGUI_TEXT_MAX);
	struct out o = {.b = malloc(cap), .cap = cap};
	if (!o.b)
		return st_fail(err, ST_E_NOMEM, "out of memory for %zu bytes", cap);
	o.b[0] = 0;
	for (size_t k = 0; k < ops->n; k++) {
		const struct st_pyautogui_op *op = &ops->v[k];
		if (k)
			put(&o, "; ");
		switch (op->kind) {
		case ST_PYAUTOGUI_CLICK:
		case ST_PYAUTOGUI_DOUBLE_CLICK:
		case ST_PYAUTOGUI_MOVE:
			put(&o, "pyautogui.%s(x=%d, y=%d)",
			    st_pyautogui_op_name(op), op->x, op->y);
			break;
		case ST_PYAUTOGUI_WRITE:
			put(&o, "pyautogui.write(");
			put_lit(&o, op->text, op->text_len);
			put(&o, ")");
			break;
		case ST_PYAUTOGUI_PRESS:
		case ST_PYAUTOGUI_HOTKEY:
			put(&o, "pyautogui.%s(", st_pyautogui_op_name(op));
			for (size_t j = 0; j < op->nkeys; j++) {
				if (j)
					put(&o, ", ");
				put_lit(&o, op->keys[j], strlen(op->keys[j]));
			}
			put(&o, ")");
			break;
		case ST_PYAUTOGUI_DRAG:
			put(&o, "pyautogui.moveTo(x=%d, y=%d); pyautogui.dragTo("
			    "x=%d, y=%d, duration=", op->x, op->y, op->to_x,
			    op->to_y);
			put_seconds(&o, op->seconds);
			put(&o, ", button='%s')", button_names[op->button]);
			break;
		case ST_PYAUTOGUI_SCROLL:
		case ST_PYAUTOGUI_HSCROLL:
			put(&o, "pyautogui.%s(%d, x=%d, y=%d)",
			    st_pyautogui_op_name(op), op->amount, op->x, op->y);
			break;
		case ST_PYAUTOGUI_SLEEP:
			put(&o, "pyautogui.sleep(");
			put_seconds(&o, op->seconds);
			put(&o, ")");
			break;
		}
	}
	*out = o.b;
	*out_len = o.n;
	return 0;
}
