/* tracegen.c - the seeded synthetic trace: a person model produces one
 * activity at a time (a typing burst, a click, a scroll...) into a pending
 * list in absolute ms; each finished activity is sorted and placed into
 * one-minute segments, which go to the caller as they fill.
 *
 * Determinism: the only randomness is xoshiro256** seeded by splitmix64, and
 * the only floating point is + - * / and sqrt (correctly rounded in IEEE),
 * so the trace does not depend on the libm or the platform. */
#include "tracegen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCREEN_W 1920
#define SCREEN_H 1080
#define SEG_MS ((uint64_t)ST_TRACEGEN_SEGMENT_MS)
/* Content area of the focused window, and the task bar's icon row. */
#define AREA_X0 60
#define AREA_X1 1860
#define AREA_Y0 90
#define AREA_Y1 1000
#define TASKBAR_Y 1062
/* Key presses of one burst are less than 1.5 s apart (the longest gap is a
 * noticed typo: 2.5 x 286 ms at 42 wpm, stretched at most 1/0.55 by the
 * rescaling in type_text: 1.3 s); bursts are at least KEY_BURST_SEP_MS
 * apart, so a reader can tell them apart (tests do). */
#define KEY_BURST_SEP_MS 2000u
/* Longest text of one burst and its strokes (typos add at most 6 each). */
#define TEXT_MAX 192u
#define STROKES_MAX (TEXT_MAX * 7u)
/* Pending events of one activity: a burst has at most 3 per stroke plus a
 * few, a move at most one per 17 ms of a bounded duration. */
#define PEND_MAX (STROKES_MAX * 3u + 4096u)

/* X11 modifier masks and the keys that set them. */
#define MOD_SHIFT 1u
#define MOD_CONTROL 4u
#define MOD_ALT 8u
#define KC_SHIFT_L 50u
#define KC_CONTROL_L 37u
#define KC_ALT_L 64u
#define KC_BACKSPACE 22u
#define KC_TAB 23u
#define KC_RETURN 36u
#define KS_SHIFT_L 0xffe1u
#define KS_CONTROL_L 0xffe3u
#define KS_ALT_L 0xffe9u
#define KS_BACKSPACE 0xff08u
#define KS_TAB 0xff09u
#define KS_RETURN 0xff0du

/* ---- PRNG: xoshiro256**, seeded through splitmix64 ---------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_uniform(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

/* Uniform integer in [lo, hi]; the modulo bias (< 2^-40 here) is harmless. */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static unsigned rng_weighted(struct rng *r, const unsigned *w, unsigned n)
{
	unsigned sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += w[i];
	unsigned x = (unsigned)rng_range(r, 0, sum - 1);
	for (unsigned i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

/* ---- the applications ---------------------------------------------------- */

enum act { A_TYPE, A_CLICK, A_SCROLL, A_DRAG, A_PAUSE, A_HOTKEY, A_HOVER, A_N };
enum vocab { V_PROSE, V_SHELL, V_WEB, V_CELLS, V_CHAT };

struct app {
	const char *app, *cls;
	const char *titles[6];
	unsigned ntitles;
	unsigned pick;	   /* weight when switching to another application */
	unsigned act[A_N]; /* activity weights while it has focus */
	enum vocab vocab;
};

static const struct app apps[] = {
    {"thunderbird",
     "thunderbird",
     {"Inbox - Mail", "Re: Q3 planning - Mail", "Write: Meeting notes - Mail",
      "Invoice 2026-114 - Mail", "Sent - Mail"},
     5,
     15,
     {14, 30, 25, 3, 10, 2, 20},
     V_PROSE},
    {"libreoffice-writer",
     "libreoffice-writer",
     {"report.odt - LibreOffice Writer",
      "minutes-2026-11-24.odt - LibreOffice Writer",
      "proposal-draft.odt - LibreOffice Writer"},
     3,
     15,
     {32, 15, 12, 8, 10, 3, 15},
     V_PROSE},
    {"libreoffice-calc",
     "libreoffice-calc",
     {"budget.ods - LibreOffice Calc", "headcount-plan.ods - LibreOffice Calc"},
     2,
     5,
     {22, 35, 10, 5, 8, 3, 15},
     V_CELLS},
    {"xterm",
     "XTerm",
     {"bash - xterm", "vim notes.txt - xterm", "make - xterm",
      "ssh build01 - xterm"},
     4,
     15,
     {40, 8, 15, 5, 10, 2, 10},
     V_SHELL},
    {"firefox",
     "firefox",
     {"Quarterly results - Google Sheets \xe2\x80\x94 Mozilla Firefox",
      "Pull request #482 \xc2\xb7 acme/platform \xe2\x80\x94 Mozilla "
      "Firefox",
      "PLAT-1290 Ingest backpressure - Jira \xe2\x80\x94 Mozilla Firefox",
      "zstd dictionary training - Stack Overflow \xe2\x80\x94 Mozilla "
      "Firefox",
      "Acme Intranet \xe2\x80\x94 Mozilla Firefox",
      "Weather in Lyon \xe2\x80\x94 Mozilla Firefox"},
     6,
     25,
     {8, 35, 30, 3, 10, 0, 25},
     V_WEB},
    {"slack",
     "Slack",
     {"#team-platform | Acme - Slack",
      "Direct message with Dana | Acme - Slack", "#general | Acme - Slack"},
     3,
     15,
     {28, 22, 15, 2, 12, 0, 15},
     V_CHAT},
    {"org.gnome.Nautilus",
     "Org.gnome.Nautilus",
     {"Documents", "Downloads", "Projects"},
     3,
     5,
     {4, 45, 12, 18, 8, 0, 20},
     V_PROSE},
    {"code",
     "Code",
     {"segment.c - platform - Visual Studio Code",
      "README.md - platform - Visual Studio Code"},
     2,
     5,
     {32, 18, 15, 5, 8, 2, 15},
     V_SHELL},
};
#define NAPPS (sizeof apps / sizeof apps[0])

static const char *const prose_words[] = {
    "the",     "meeting",  "notes",   "for",	  "next",     "week",
    "are",     "attached", "please",  "review",	  "draft",    "and",
    "send",    "comments", "before",  "friday",	  "we",	      "agreed",
    "to",      "move",	   "release", "date",	  "by",	      "two",
    "days",    "budget",   "numbers", "look",	  "fine",     "but",
    "travel",  "line",	   "is",      "still",	  "open",     "thanks",
    "for",     "quick",	   "reply",   "I",	  "will",     "update",
    "the",     "plan",	   "after",   "call",	  "with",     "customer",
    "team",    "should",   "have",    "results",  "on",	      "monday",
    "can",     "you",	   "check",   "figures",  "in",	      "section",
    "three",   "it",	   "seems",   "our",	  "estimate", "was",
    "too",     "low",	   "let",     "me",	  "know",     "if",
    "this",    "works",	   "report",  "includes", "all",      "changes",
    "from",    "last",	   "review",  "a",	  "short",    "summary",
    "follows",
};
static const char *const shell_lines[] = {
    "git status\n",
    "make -j8\n",
    "ls -la\n",
    "cd ~/src/platform\n",
    "grep -rn TODO src\n",
    "git diff --stat\n",
    "ninja -C build\n",
    "less build/meson-logs/testlog.txt\n",
    "git log --oneline | head\n",
    "ssh build01\n",
    "top\n",
    "vim notes.txt\n",
    "git commit -m \"Fix retry backoff\"\n",
    "df -h /var\n",
    "tail -f /var/log/syslog\n",
    "python3 scripts/plot.py --week 47\n",
};
static const char *const web_lines[] = {
    "zstd dictionary training small inputs\n",
    "weather lyon\n",
    "jira.acme.example/browse/PLAT-1290\n",
    "meson test verbose\n",
    "train times paris lyon friday\n",
    "docs.python.org/3/library\n",
    "how to mlock memory linux limits\n",
    "github.com/acme/platform/pulls\n",
    "exchange rate eur usd\n",
};
static const char *const chat_lines[] = {
    "on my way\n",
    "can we move the sync to 3pm?\n",
    "looks good to me, merging\n",
    "thanks! will check after lunch\n",
    "the build is green again\n",
    "who owns the ingest dashboard?\n",
    "Sure, send it over.\n",
    "I am in the other meeting, 5 min\n",
};

/* ---- the US keyboard ---------------------------------------------------- */

struct stroke {
	uint32_t keycode, keysym;
	bool shift;
	char ch; /* text produced, 0 for none */
};

/* Printable ASCII in keysym order (0x20..0x7e): keycode and Shift. Keysyms
 * of printable ASCII equal the character. */
/* clang-format off */
static const struct {
	uint8_t kc, shift;
} us_keys[95] = {
	{65,0}, {10,1}, {48,1}, {12,1}, {13,1}, {14,1}, {16,1}, /*  !"#$%& */
	{48,0}, {18,1}, {19,1}, {17,1}, {21,1}, {59,0}, {20,0}, /* '()*+,- */
	{60,0}, {61,0}, {19,0}, {10,0}, {11,0}, {12,0}, {13,0}, /* ./01234 */
	{14,0}, {15,0}, {16,0}, {17,0}, {18,0}, {47,1}, {47,0}, /* 56789:; */
	{59,1}, {21,0}, {60,1}, {61,1}, {11,1},            /* <=>?@ */
	{38,1}, {56,1}, {54,1}, {40,1}, {26,1}, {41,1}, {42,1}, /* A-G */
	{43,1}, {31,1}, {44,1}, {45,1}, {46,1}, {58,1}, {57,1}, /* H-N */
	{32,1}, {33,1}, {24,1}, {27,1}, {39,1}, {28,1}, {30,1}, /* O-U */
	{55,1}, {25,1}, {53,1}, {29,1}, {52,1},            /* V-Z */
	{34,0}, {51,0}, {35,0}, {15,1}, {20,1}, {49,0},    /* [\]^_` */
	{38,0}, {56,0}, {54,0}, {40,0}, {26,0}, {41,0}, {42,0}, /* a-g */
	{43,0}, {31,0}, {44,0}, {45,0}, {46,0}, {58,0}, {57,0}, /* h-n */
	{32,0}, {33,0}, {24,0}, {27,0}, {39,0}, {28,0}, {30,0}, /* o-u */
	{55,0}, {25,0}, {53,0}, {29,0}, {52,0},            /* v-z */
	{34,1}, {51,1}, {35,1}, {49,1},                    /* {|}~ */
};
/* clang-format on */

/* One static byte per printable character: key text points into it. */
static const char printable[96] =
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~";

static struct stroke stroke_of(char c)
{
	struct stroke s = {0};
	if (c == '\n') {
		s.keycode = KC_RETURN, s.keysym = KS_RETURN;
	} else if (c == '\t') {
		s.keycode = KC_TAB, s.keysym = KS_TAB;
	} else if (c == '\b') {
		s.keycode = KC_BACKSPACE, s.keysym = KS_BACKSPACE;
	} else if (c >= 0x20 && c <= 0x7e) {
		s.keycode = us_keys[c - 0x20].kc;
		s.shift = us_keys[c - 0x20].shift;
		s.keysym = (uint32_t)c;
		s.ch = c;
	}
	return s;
}

/* A neighbour on the same row, as a typo would hit. */
static char typo_of(struct rng *r, char c)
{
	static const char *const rows[] = {"qwertyuiop", "asdfghjkl",
					   "zxcvbnm"};
	char lower = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	for (unsigned i = 0; i < 3; i++) {
		const char *p = strchr(rows[i], lower);
		if (!p || !lower)
			continue;
		size_t at = (size_t)(p - rows[i]), len = strlen(rows[i]);
		size_t n = (at == 0) ? 1
			   : (at + 1 == len)
			       ? at - 1
			       : (rng_chance(r, 0.5) ? at - 1 : at + 1);
		char t = rows[i][n];
		return (lower != c) ? (char)(t - 'a' + 'A') : t;
	}
	return c;
}

/* ---- the generator ------------------------------------------------------- */

/* An event in absolute ms whose strings are not yet interned. prio orders
 * events of one ms: idle_end (0) comes before the input that ended it. */
struct pev {
	uint64_t t;
	uint32_t seq;
	uint8_t prio;
	struct st_event e;
	const char *str[3];
	uint16_t len[3];
};

/* The person's state; copied before an activity so that one which would run
 * past the end of the trace can be undone. */
struct person {
	struct rng r;
	int32_t px, py;
	uint64_t last_ptr;   /* ms of the last pointer event */
	uint64_t last_input; /* ms of the last input event */
	uint64_t last_key;   /* ms of the last non-modifier key press */
	bool any_key;
	bool idle; /* an idle_start waits for its idle_end */
	unsigned app, title;
	uint64_t next_focus, next_idle;
};

struct gen {
	const struct st_tracegen_cfg *cfg;
	st_tracegen_segment_fn fn;
	void *ctx;
	struct person p;
	uint64_t now; /* earliest start of the next activity */
	uint32_t pid[NAPPS];
	uint32_t mods; /* modifier state while placing key events */
	struct pev *pend;
	size_t npend;
	uint32_t seq;
	bool full; /* an activity overflowed PEND_MAX (a bug): stop */
	struct st_events seg;
	uint64_t seg_index, nseg;
	/* one burst's keystrokes and their relative gaps (type_text) */
	struct stroke st[STROKES_MAX];
	double gap[STROKES_MAX];
};

static struct pev *pend_add(struct gen *g, uint64_t t, uint8_t type)
{
	if (g->npend >= PEND_MAX) {
		g->full = true;
		return NULL;
	}
	struct pev *p = &g->pend[g->npend++];
	memset(p, 0, sizeof *p);
	p->t = t;
	p->seq = g->seq++;
	p->prio = 1;
	p->e.type = type;
	return p;
}

static void ev_pointer(struct gen *g, uint64_t t)
{
	struct pev *p = pend_add(g, t, ST_EV_POINTER);
	if (!p)
		return;
	p->e.u.ptr.x = g->p.px;
	p->e.u.ptr.y = g->p.py;
	p->e.u.ptr.screen = 0;
	g->p.last_ptr = t;
	if (t > g->p.last_input)
		g->p.last_input = t;
}

static void ev_button(struct gen *g, uint64_t t, uint8_t type, uint8_t button)
{
	struct pev *p = pend_add(g, t, type);
	if (!p)
		return;
	p->e.u.btn.x = g->p.px;
	p->e.u.btn.y = g->p.py;
	p->e.u.btn.button = button;
	if (t > g->p.last_input)
		g->p.last_input = t;
}

static void ev_scroll(struct gen *g, uint64_t t, int32_t dx, int32_t dy,
		      uint8_t smooth)
{
	struct pev *p = pend_add(g, t, ST_EV_SCROLL);
	if (!p)
		return;
	p->e.u.scroll.x = g->p.px;
	p->e.u.scroll.y = g->p.py;
	p->e.u.scroll.dx = dx;
	p->e.u.scroll.dy = dy;
	p->e.u.scroll.smooth = smooth;
	if (t > g->p.last_input)
		g->p.last_input = t;
}

/* mods are filled in when the sorted activity is placed (flush). */
static void ev_key(struct gen *g, uint64_t t, uint8_t type, uint32_t keycode,
		   uint32_t keysym, char ch)
{
	struct pev *p = pend_add(g, t, type);
	if (!p)
		return;
	p->e.u.key.keycode = keycode;
	p->e.u.key.keysym = keysym;
	if (ch && type == ST_EV_KEY_PRESS) {
		p->str[0] = &printable[ch - 0x20];
		p->len[0] = 1;
	}
	if (t > g->p.last_input)
		g->p.last_input = t;
	if (type == ST_EV_KEY_PRESS && keycode != KC_SHIFT_L &&
	    keycode != KC_CONTROL_L && keycode != KC_ALT_L &&
	    (!g->p.any_key || t > g->p.last_key)) {
		g->p.last_key = t;
		g->p.any_key = true;
	}
}

static void ev_focus(struct gen *g, uint64_t t)
{
	struct pev *p = pend_add(g, t, ST_EV_FOCUS);
	if (!p)
		return;
	const struct app *a = &apps[g->p.app];
	p->str[0] = a->app;
	p->str[1] = a->cls;
	p->str[2] = a->titles[g->p.title];
	for (int i = 0; i < 3; i++)
		p->len[i] = (uint16_t)strlen(p->str[i]);
	p->e.u.focus.pid = g->pid[g->p.app];
}

/* ---- segments ------------------------------------------------------------ */

static int seg_begin(struct gen *g, struct st_error *err)
{
	st_events_init(&g->seg, g->cfg->locked);
	g->seg.anchor_ns = g->cfg->anchor_ns + g->seg_index * SEG_MS * 1000000u;
	g->seg.tick_ns = 1000000;
	struct st_event e;
	int rc;
	if (g->seg_index == 0) {
		memset(&e, 0, sizeof e);
		e.type = ST_EV_SESSION;
		e.u.session.marker = ST_SESSION_START;
		e.u.session.reason = ST_REASON_NONE;
		if ((rc = st_events_push(&g->seg, &e, err)) < 0)
			return rc;
	}
	memset(&e, 0, sizeof e);
	e.type = ST_EV_SCREEN;
	e.u.screen.w = SCREEN_W;
	e.u.screen.h = SCREEN_H;
	return st_events_push(&g->seg, &e, err);
}

static int seg_end(struct gen *g, struct st_error *err)
{
	int rc = g->fn(g->ctx, g->seg_index, &g->seg, err);
	st_events_fini(&g->seg);
	g->seg_index++;
	return rc;
}

static int cmp_pev(const void *a, const void *b)
{
	const struct pev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static uint32_t mod_of(uint32_t keycode)
{
	switch (keycode) {
	case KC_SHIFT_L:
		return MOD_SHIFT;
	case KC_CONTROL_L:
		return MOD_CONTROL;
	case KC_ALT_L:
		return MOD_ALT;
	default:
		return 0;
	}
}

/* Sorts the pending activity and appends it to the segments, cutting a new
 * segment at each minute. Key events get the modifier state before them, as
 * X11 reports it. */
static int flush(struct gen *g, struct st_error *err)
{
	int rc;
	qsort(g->pend, g->npend, sizeof *g->pend, cmp_pev);
	for (size_t i = 0; i < g->npend; i++) {
		struct pev *p = &g->pend[i];
		while (p->t >= (g->seg_index + 1) * SEG_MS) {
			if ((rc = seg_end(g, err)) < 0 ||
			    (rc = seg_begin(g, err)) < 0)
				return rc;
		}
		struct st_event e = p->e;
		e.t = p->t - g->seg_index * SEG_MS;
		if (e.type == ST_EV_KEY_PRESS || e.type == ST_EV_KEY_RELEASE) {
			e.u.key.mods = g->mods;
			if (e.type == ST_EV_KEY_PRESS)
				g->mods |= mod_of(e.u.key.keycode);
			else
				g->mods &= ~mod_of(e.u.key.keycode);
			if ((rc =
				 st_events_intern(&g->seg, p->str[0], p->len[0],
						  &e.u.key.text, err)) < 0)
				return rc;
		} else if (e.type == ST_EV_FOCUS) {
			if ((rc =
				 st_events_intern(&g->seg, p->str[0], p->len[0],
						  &e.u.focus.app, err)) < 0 ||
			    (rc =
				 st_events_intern(&g->seg, p->str[1], p->len[1],
						  &e.u.focus.cls, err)) < 0 ||
			    (rc =
				 st_events_intern(&g->seg, p->str[2], p->len[2],
						  &e.u.focus.title, err)) < 0)
				return rc;
		}
		if ((rc = st_events_push(&g->seg, &e, err)) < 0)
			return rc;
	}
	g->npend = 0;
	return 0;
}

/* ---- pointer paths ------------------------------------------------------- */

static int32_t iround(double v)
{
	return (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
}

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* log2(x) for x >= 1: exact at powers of two, linear between. */
static double log2_approx(double x)
{
	double n = 0;
	for (int i = 0; i < 64 && x >= 2; i++) {
		x /= 2;
		n += 1;
	}
	return n + (x - 1);
}

/* Minimum-jerk position profile: how hands move between two points. */
static double minjerk(double u)
{
	return u * u * u * (10 - 15 * u + 6 * u * u);
}

/* Pointer samples as the agent's 60 Hz coalescing delivers them. */
static uint64_t sample_gap(struct rng *r)
{
	static const unsigned w[4] = {40, 30, 20, 10};
	return ST_TRACEGEN_POINTER_GAP_MS + rng_weighted(r, w, 4);
}

/* One curved stroke from the pointer position to (x, y), starting at t0,
 * lasting about T ms. Returns the time of arrival. */
static uint64_t stroke_to(struct gen *g, uint64_t t0, int32_t x, int32_t y,
			  double T)
{
	struct rng *r = &g->p.r;
	double x0 = g->p.px, y0 = g->p.py, dx = x - x0, dy = y - y0;
	double d = sqrt(dx * dx + dy * dy);
	if (d < 0.5)
		return t0;
	/* control points off the chord, mostly on one side: an arc */
	double nx = -dy / d, ny = dx / d;
	double off = rng_uniform(r, -0.18, 0.18) * d;
	if (off > 200)
		off = 200;
	if (off < -200)
		off = -200;
	double off2 = off * rng_uniform(r, 0.2, 1.0);
	double c1x = x0 + 0.3 * dx + off * nx, c1y = y0 + 0.3 * dy + off * ny;
	double c2x = x0 + 0.7 * dx + off2 * nx, c2y = y0 + 0.7 * dy + off2 * ny;
	uint64_t t = t0 + sample_gap(r);
	if (t < g->p.last_ptr + ST_TRACEGEN_POINTER_GAP_MS)
		t = g->p.last_ptr + ST_TRACEGEN_POINTER_GAP_MS;
	for (;;) {
		double u = (double)(t - t0) / T;
		if (u > 1)
			u = 1;
		double s = minjerk(u), v = 1 - s;
		double bx = v * v * v * x0 + 3 * v * v * s * c1x +
			    3 * v * s * s * c2x + s * s * s * x;
		double by = v * v * v * y0 + 3 * v * v * s * c1y +
			    3 * v * s * s * c2y + s * s * s * y;
		int32_t ix = u >= 1 ? x : iround(bx);
		int32_t iy = u >= 1 ? y : iround(by);
		if (u < 1 && rng_chance(r, 0.08)) /* hand tremor */
			ix += rng_chance(r, 0.5) ? 1 : -1;
		ix = clamp32(ix, 0, SCREEN_W - 1);
		iy = clamp32(iy, 0, SCREEN_H - 1);
		if (ix != g->p.px || iy != g->p.py) {
			g->p.px = ix;
			g->p.py = iy;
			ev_pointer(g, t);
		}
		if (u >= 1)
			return t;
		t += sample_gap(r);
	}
}

/* Moves the pointer to (x, y), a target about w px wide: Fitts-law duration,
 * sometimes an overshoot and a correction. slow > 1 for drags. */
static uint64_t move_to(struct gen *g, uint64_t t0, int32_t x, int32_t y,
			double w, double slow)
{
	struct rng *r = &g->p.r;
	x = clamp32(x, 0, SCREEN_W - 1);
	y = clamp32(y, 0, SCREEN_H - 1);
	double dx = x - g->p.px, dy = y - g->p.py;
	double d = sqrt(dx * dx + dy * dy);
	if (d < 0.5)
		return t0;
	double T = (110 + 150 * log2_approx(d / w + 1)) *
		   rng_uniform(r, 0.85, 1.2) * slow;
	if (d > 150 && rng_chance(r, 0.15)) {
		double k = rng_uniform(r, 0.03, 0.08);
		int32_t ox = iround(x + dx * k), oy = iround(y + dy * k);
		t0 = stroke_to(g, t0, clamp32(ox, 0, SCREEN_W - 1),
			       clamp32(oy, 0, SCREEN_H - 1), T);
		t0 += (uint64_t)rng_range(r, 30, 120);
		T = rng_uniform(r, 100, 200) * slow;
	}
	return stroke_to(g, t0, x, y, T);
}

/* Somewhere to point at inside the focused window: near the pointer more
 * often than not. */
static void pick_target(struct gen *g, int32_t *x, int32_t *y)
{
	struct rng *r = &g->p.r;
	if (rng_chance(r, 0.6) && g->p.py < AREA_Y1) {
		*x = g->p.px + (int32_t)rng_range(r, -350, 350);
		*y = g->p.py + (int32_t)rng_range(r, -250, 250);
	} else {
		*x = (int32_t)rng_range(r, AREA_X0, AREA_X1);
		*y = (int32_t)rng_range(r, AREA_Y0, AREA_Y1);
	}
	*x = clamp32(*x, AREA_X0, AREA_X1);
	*y = clamp32(*y, AREA_Y0, AREA_Y1);
}

/* Press and release at the pointer; count 2 for a double click. Returns the
 * time of the last release. */
static uint64_t click(struct gen *g, uint64_t t, uint8_t button, int count)
{
	struct rng *r = &g->p.r;
	for (int i = 0; i < count; i++) {
		if (i)
			t += (uint64_t)rng_range(r, 80, 170);
		ev_button(g, t, ST_EV_BUTTON_PRESS, button);
		t += (uint64_t)rng_range(r, 60, 140);
		ev_button(g, t, ST_EV_BUTTON_RELEASE, button);
	}
	return t;
}

/* ---- activities: each appends events from t0 and returns its last ms ---- */

static uint64_t act_click(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	int32_t x, y;
	pick_target(g, &x, &y);
	uint64_t t = move_to(g, t0, x, y, rng_uniform(r, 16, 60), 1);
	t += (uint64_t)rng_range(r, 80, 300);
	double k = rng_unit(r);
	if (k < 0.05) { /* context menu, then an item in it */
		t = click(g, t, 3, 1);
		t += (uint64_t)rng_range(r, 300, 900);
		t = move_to(g, t, g->p.px + (int32_t)rng_range(r, 20, 120),
			    g->p.py + (int32_t)rng_range(r, 15, 220), 120, 1);
		t += (uint64_t)rng_range(r, 80, 250);
		return click(g, t, 1, 1);
	}
	if (k < 0.06)
		return click(g, t, 2, 1);
	return click(g, t, 1, rng_chance(r, 0.12) ? 2 : 1);
}

static uint64_t act_drag(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	int32_t x, y;
	pick_target(g, &x, &y);
	uint64_t t = move_to(g, t0, x, y, 30, 1);
	t += (uint64_t)rng_range(r, 120, 300);
	ev_button(g, t, ST_EV_BUTTON_PRESS, 1);
	t += (uint64_t)rng_range(r, 80, 200);
	int32_t ex, ey;
	if (rng_chance(r, 0.7)) { /* selecting text: along a line or two */
		ex = x + (int32_t)rng_range(r, 40, 600);
		ey = y + (int32_t)rng_range(r, -2, 60);
	} else { /* moving a file or a window */
		ex = x + (int32_t)rng_range(r, -500, 500);
		ey = y + (int32_t)rng_range(r, -300, 300);
	}
	t = move_to(g, t, clamp32(ex, AREA_X0, AREA_X1),
		    clamp32(ey, AREA_Y0, AREA_Y1), 20, 1.4);
	t += (uint64_t)rng_range(r, 60, 200);
	ev_button(g, t, ST_EV_BUTTON_RELEASE, 1);
	return t;
}

static uint64_t act_scroll(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	uint64_t t = t0;
	if (g->p.py >= AREA_Y1 || rng_chance(r, 0.5)) {
		int32_t x, y;
		pick_target(g, &x, &y);
		t = move_to(g, t, x, y, 200, 1);
	}
	t += (uint64_t)rng_range(r, 100, 400);
	int32_t dir = rng_chance(r, 0.75) ? 1 : -1; /* +1 is down (button 5) */
	bool horizontal = rng_chance(r, 0.03);
	if (rng_chance(r, 0.7)) { /* wheel: flicks of a few notches */
		int64_t flicks = rng_range(r, 1, 4);
		for (int64_t f = 0; f < flicks; f++) {
			if (f)
				t += (uint64_t)rng_range(r, 120, 400);
			int64_t n = rng_range(r, 1, 5);
			for (int64_t i = 0; i < n; i++) {
				if (i)
					t += (uint64_t)rng_range(r, 15, 45);
				ev_scroll(g, t, horizontal ? dir : 0,
					  horizontal ? 0 : dir, 0);
			}
		}
		return t;
	}
	/* touchpad: frames at 60 Hz, speed ramps up then decays */
	double v = rng_uniform(r, 300, 1500);
	int64_t n = rng_range(r, 8, 40);
	for (int64_t i = 0; i < n; i++) {
		double s = i < 3 ? v * (double)(i + 1) / 4 : v;
		if (i >= 3)
			v *= rng_uniform(r, 0.82, 0.92);
		int32_t d = iround(s) * dir;
		if (s < 15)
			break;
		int32_t jitter =
		    rng_chance(r, 0.2) ? (int32_t)rng_range(r, -30, 30) : 0;
		ev_scroll(g, t, horizontal ? d : jitter, horizontal ? 0 : d, 1);
		t += sample_gap(r);
	}
	return t;
}

static uint64_t act_pause(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	uint64_t t = t0 + (uint64_t)rng_range(r, 1000, 12000);
	/* two pauses in a row stay a pause, not an idle period */
	uint64_t cap = g->p.last_input + ST_TRACEGEN_IDLE_AFTER_MS - 5000;
	if (t > cap)
		t = cap > t0 ? cap : t0 + 1;
	if (rng_chance(r, 0.25)) { /* a fidget half way through */
		int32_t x = g->p.px + (int32_t)rng_range(r, -60, 60);
		int32_t y = g->p.py + (int32_t)rng_range(r, -40, 40);
		move_to(g, t0 + (t - t0) / 2, clamp32(x, AREA_X0, AREA_X1),
			clamp32(y, AREA_Y0, AREA_Y1), 60, 1);
	}
	return t;
}

/* The pointer wanders while the person reads: over a menu, along a line,
 * across to the next thing to look at, resting a little between moves. */
static uint64_t act_hover(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	uint64_t t = t0;
	int64_t moves = rng_range(r, 2, 6);
	for (int64_t i = 0; i < moves; i++) {
		int32_t x = g->p.px + (int32_t)rng_range(r, -300, 300);
		int32_t y = g->p.py + (int32_t)rng_range(r, -200, 200);
		if (g->p.py >= AREA_Y1)
			pick_target(g, &x, &y);
		t = move_to(g, t, clamp32(x, AREA_X0, AREA_X1),
			    clamp32(y, AREA_Y0, AREA_Y1),
			    rng_uniform(r, 40, 120), 1);
		t += (uint64_t)rng_range(r, 100, 900);
	}
	return t;
}

/* Keyboard activities start at least KEY_BURST_SEP_MS after the last key. */
static uint64_t key_start(struct gen *g, uint64_t t)
{
	if (g->p.any_key && t < g->p.last_key + KEY_BURST_SEP_MS)
		t = g->p.last_key + KEY_BURST_SEP_MS;
	return t;
}

static uint64_t act_hotkey(struct gen *g, uint64_t t0)
{
	static const char keys[] = "scvzs";
	struct rng *r = &g->p.r;
	uint64_t t = key_start(g, t0);
	char c = keys[rng_range(r, 0, (int64_t)sizeof keys - 2)];
	struct stroke s = stroke_of(c);
	ev_key(g, t, ST_EV_KEY_PRESS, KC_CONTROL_L, KS_CONTROL_L, 0);
	t += (uint64_t)rng_range(r, 80, 200);
	ev_key(g, t, ST_EV_KEY_PRESS, s.keycode, s.keysym, 0);
	t += (uint64_t)rng_range(r, 60, 120);
	ev_key(g, t, ST_EV_KEY_RELEASE, s.keycode, s.keysym, 0);
	t += (uint64_t)rng_range(r, 50, 150);
	ev_key(g, t, ST_EV_KEY_RELEASE, KC_CONTROL_L, KS_CONTROL_L, 0);
	return t;
}

static size_t append(char *buf, size_t n, const char *s)
{
	size_t l = strlen(s);
	if (n + l >= TEXT_MAX)
		l = TEXT_MAX - 1 - n;
	memcpy(buf + n, s, l);
	buf[n + l] = 0;
	return n + l;
}

/* Text for one burst in the focused application's vocabulary. */
static size_t make_text(struct gen *g, char *buf)
{
	struct rng *r = &g->p.r;
	const size_t nprose = sizeof prose_words / sizeof prose_words[0];
	size_t n = 0;
	buf[0] = 0;
	switch (apps[g->p.app].vocab) {
	case V_SHELL:
		return append(
		    buf, 0,
		    shell_lines[rng_range(
			r, 0, sizeof shell_lines / sizeof *shell_lines - 1)]);
	case V_WEB:
		return append(
		    buf, 0,
		    web_lines[rng_range(
			r, 0, sizeof web_lines / sizeof *web_lines - 1)]);
	case V_CHAT:
		return append(
		    buf, 0,
		    chat_lines[rng_range(
			r, 0, sizeof chat_lines / sizeof *chat_lines - 1)]);
	case V_CELLS: {
		int64_t cells = rng_range(r, 3, 8);
		for (int64_t i = 0; i < cells; i++) {
			char num[24];
			int64_t v = rng_range(r, 1, 99999);
			size_t k = 0;
			char rev[24];
			while (v && k < sizeof rev) {
				rev[k++] = (char)('0' + v % 10);
				v /= 10;
			}
			for (size_t j = 0; j < k; j++)
				num[j] = rev[k - 1 - j];
			num[k] = 0;
			n = append(buf, n, num);
			n = append(buf, n, i + 1 < cells ? "\t" : "\n");
		}
		return n;
	}
	case V_PROSE: {
		size_t want = (size_t)rng_range(r, 15, 120);
		bool cap = true;
		while (n < want && n + 16 < TEXT_MAX) {
			const char *w =
			    prose_words[rng_range(r, 0, (int64_t)nprose - 1)];
			size_t at = n;
			n = append(buf, n, w);
			if (cap && buf[at] >= 'a' && buf[at] <= 'z')
				buf[at] = (char)(buf[at] - 'a' + 'A');
			cap = false;
			if (n >= want || rng_chance(r, 0.08)) {
				n = append(buf, n, n >= want ? "." : ". ");
				cap = true;
			} else {
				n = append(buf, n,
					   rng_chance(r, 0.05) ? ", " : " ");
			}
		}
		if (rng_chance(r, 0.4))
			n = append(buf, n, "\n");
		return n;
	}
	}
	return n;
}

/* Types text as one burst at wpm words (5 characters) a minute. The press
 * times are spread so that the burst's realised rate is wpm exactly (up to
 * ms rounding): rhythm varies, the mean does not drift. */
static uint64_t type_text(struct gen *g, uint64_t t0, const char *text,
			  size_t len, double wpm)
{
	struct rng *r = &g->p.r;
	struct stroke *st = g->st;
	double *gap = g->gap;
	size_t n = 0;
	for (size_t i = 0; i < len && n + 8 < STROKES_MAX; i++) {
		char c = text[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		double f = rng_uniform(r, 0.55, 1.45);
		if (i && text[i - 1] == ' ' && rng_chance(r, 0.25))
			f *= 1.6; /* a word boundary hesitation */
		if (letter && i > 0 && rng_chance(r, 0.03)) {
			/* typo: a neighbour key, maybe more keys, then notice,
			 * erase and go on from the right key */
			size_t more = (size_t)rng_range(r, 0, 2);
			if (i + more >= len)
				more = 0;
			/* the error is noticed before Return or Tab */
			for (size_t k = 1; k <= more; k++)
				if (text[i + k] == '\n' || text[i + k] == '\t')
					more = k - 1;
			gap[n] = f;
			st[n++] = stroke_of(typo_of(r, c));
			for (size_t k = 1; k <= more; k++) {
				gap[n] = rng_uniform(r, 0.55, 1.45);
				st[n++] = stroke_of(text[i + k]);
			}
			for (size_t k = 0; k <= more; k++) {
				gap[n] = k ? 0.7 : 2.5;
				st[n++] = stroke_of('\b');
			}
			f = rng_uniform(r, 0.8, 1.2);
		}
		gap[n] = f;
		st[n++] = stroke_of(c);
	}
	if (n == 0)
		return t0;
	/* a capital first: Shift goes down first, never before t0 */
	uint64_t first_lead = 0;
	if (st[0].shift) {
		first_lead = (uint64_t)rng_range(r, 25, 70);
		t0 += first_lead;
	}
	double ms_per_key = 12000.0 / wpm, sum = 0;
	for (size_t i = 1; i < n; i++)
		sum += gap[i];
	double scale = sum > 0 ? (double)(n - 1) * ms_per_key / sum : 0;
	uint64_t last = t0, prev_press = t0;
	double at = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			at += gap[i] * scale;
		uint64_t tp = t0 + (uint64_t)iround(at);
		uint64_t next =
		    i + 1 < n ? t0 + (uint64_t)iround(at + gap[i + 1] * scale)
			      : UINT64_MAX;
		uint64_t tr = tp + (uint64_t)rng_range(r, 60, 130);
		/* a key goes up before it can go down again ("ll", "\b\b") */
		if (i + 1 < n && st[i + 1].keycode == st[i].keycode &&
		    tr >= next)
			tr = next - 1;
		bool sh_before = i && st[i - 1].shift,
		     sh_after = i + 1 < n && st[i + 1].shift;
		if (st[i].shift && !sh_before) {
			uint64_t lead = (uint64_t)rng_range(r, 25, 70);
			uint64_t room = i ? (tp - prev_press) / 2 : first_lead;
			if (lead > room)
				lead = room;
			ev_key(g, tp - lead, ST_EV_KEY_PRESS, KC_SHIFT_L,
			       KS_SHIFT_L, 0);
		}
		ev_key(g, tp, ST_EV_KEY_PRESS, st[i].keycode, st[i].keysym,
		       st[i].ch);
		ev_key(g, tr, ST_EV_KEY_RELEASE, st[i].keycode, st[i].keysym,
		       0);
		if (tr > last)
			last = tr;
		if (st[i].shift && !sh_after) {
			/* let go of Shift before the next key goes down, or it
			 * would type a capital */
			uint64_t ts = tr + (uint64_t)rng_range(r, 10, 40);
			if (ts >= next)
				ts = next - 1;
			ev_key(g, ts, ST_EV_KEY_RELEASE, KC_SHIFT_L, KS_SHIFT_L,
			       0);
			if (ts > last)
				last = ts;
		}
		prev_press = tp;
	}
	return last;
}

static uint64_t act_type(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	char text[TEXT_MAX];
	uint64_t t = t0;
	enum vocab v = apps[g->p.app].vocab;
	if (v != V_SHELL && rng_chance(r, 0.35)) { /* click into a field */
		int32_t x, y;
		pick_target(g, &x, &y);
		t = move_to(g, t, x, y, 80, 1);
		t = click(g, t + (uint64_t)rng_range(r, 80, 250), 1, 1);
		t += (uint64_t)rng_range(r, 150, 500);
	}
	t = key_start(g, t);
	size_t len = make_text(g, text);
	return type_text(g, t, text, len, rng_uniform(r, 42, 88));
}

/* A switch to another window: a click on its task bar icon or Alt+Tab;
 * focus follows a few ms after the click's release or Alt's release. */
static uint64_t act_focus(struct gen *g, uint64_t t0)
{
	struct rng *r = &g->p.r;
	const struct app *a = &apps[g->p.app];
	uint64_t t = t0;
	if (a->ntitles > 1 && rng_chance(r, a->vocab == V_WEB ? 0.5 : 0.1)) {
		/* another tab or document of the same application */
		unsigned nt = (unsigned)rng_range(r, 0, a->ntitles - 2);
		g->p.title = nt >= g->p.title ? nt + 1 : nt;
		t = move_to(g, t, (int32_t)rng_range(r, 80, 1400),
			    (int32_t)rng_range(r, 36, 48), 120, 1);
		t = click(g, t + (uint64_t)rng_range(r, 60, 200), 1, 1);
	} else {
		unsigned w[NAPPS];
		for (unsigned i = 0; i < NAPPS; i++)
			w[i] = i == g->p.app ? 0 : apps[i].pick;
		g->p.app = rng_weighted(r, w, NAPPS);
		g->p.title =
		    (unsigned)rng_range(r, 0, apps[g->p.app].ntitles - 1);
		if (rng_chance(r, 0.55)) {
			t = move_to(g, t, (int32_t)(28 + 48 * g->p.app),
				    TASKBAR_Y, 40, 1);
			t = click(g, t + (uint64_t)rng_range(r, 60, 200), 1, 1);
		} else {
			t = key_start(g, t);
			ev_key(g, t, ST_EV_KEY_PRESS, KC_ALT_L, KS_ALT_L, 0);
			int64_t tabs = rng_chance(r, 0.7) ? 1 : 2;
			for (int64_t i = 0; i < tabs; i++) {
				t += (uint64_t)rng_range(r, 80, 250);
				ev_key(g, t, ST_EV_KEY_PRESS, KC_TAB, KS_TAB,
				       0);
				t += (uint64_t)rng_range(r, 60, 120);
				ev_key(g, t, ST_EV_KEY_RELEASE, KC_TAB, KS_TAB,
				       0);
			}
			t += (uint64_t)rng_range(r, 80, 200);
			ev_key(g, t, ST_EV_KEY_RELEASE, KC_ALT_L, KS_ALT_L, 0);
		}
	}
	t += (uint64_t)rng_range(r, 5, 30);
	ev_focus(g, t);
	return t;
}

/* ---- the run ------------------------------------------------------------- */

uint64_t st_tracegen_segments(uint64_t duration_ms)
{
	return (duration_ms + SEG_MS - 1) / SEG_MS;
}

static uint64_t next_focus_after(struct rng *r, uint64_t t)
{
	return t + (uint64_t)rng_range(r, 55000, 150000);
}

static uint64_t next_idle_after(struct rng *r, uint64_t t)
{
	return t + (uint64_t)rng_range(r, 8 * 60000, 32 * 60000);
}

/* Adds an idle_end before the activity's first input if an idle period is
 * open. */
static void close_idle(struct gen *g, size_t from)
{
	if (!g->p.idle || from == g->npend)
		return;
	uint64_t first = UINT64_MAX;
	for (size_t i = from; i < g->npend; i++)
		if (g->pend[i].t < first)
			first = g->pend[i].t;
	struct pev *p = pend_add(g, first, ST_EV_IDLE_END);
	if (p)
		p->prio = 0;
	g->p.idle = false;
}

static int run(struct gen *g, struct st_error *err)
{
	const uint64_t end = g->cfg->duration_ms;
	struct rng *r = &g->p.r;
	int rc;

	for (unsigned i = 0; i < NAPPS; i++)
		g->pid[i] = (uint32_t)rng_range(r, 1200, 60000);
	unsigned w[NAPPS];
	for (unsigned i = 0; i < NAPPS; i++)
		w[i] = apps[i].pick;
	g->p.app = rng_weighted(r, w, NAPPS);
	g->p.title = (unsigned)rng_range(r, 0, apps[g->p.app].ntitles - 1);
	g->p.px = (int32_t)rng_range(r, AREA_X0, AREA_X1);
	g->p.py = (int32_t)rng_range(r, AREA_Y0, AREA_Y1);
	g->p.next_focus = next_focus_after(r, 0);
	g->p.next_idle = next_idle_after(r, 0);
	if ((rc = seg_begin(g, err)) < 0)
		return rc;
	ev_focus(g, 0);
	ev_pointer(g, 0);
	if ((rc = flush(g, err)) < 0)
		return rc;
	g->now = (uint64_t)rng_range(r, 300, 1500);

	/* Each activity takes at least 1 ms and the trace is capped, so the
	 * loop is bounded by ST_TRACEGEN_DURATION_MAX_MS iterations. */
	while (g->now < end) {
		struct person saved = g->p;
		uint64_t t;
		if (g->now >= g->p.next_idle) {
			uint64_t len = (uint64_t)rng_range(r, 45000, 240000);
			uint64_t start =
			    g->p.last_input + ST_TRACEGEN_IDLE_AFTER_MS;
			if (start < g->now)
				start = g->now;
			if (start >= end)
				break;
			pend_add(g, start, ST_EV_IDLE_START);
			g->p.idle = true;
			g->now = start + len - ST_TRACEGEN_IDLE_AFTER_MS;
			g->p.next_idle = next_idle_after(r, g->now);
			/* back at the desk, to something else */
			g->p.next_focus = g->now;
			if ((rc = flush(g, err)) < 0)
				return rc;
			continue;
		}
		size_t from = g->npend;
		if (g->now >= g->p.next_focus) {
			t = act_focus(g, g->now);
			g->p.next_focus = next_focus_after(r, t);
		} else {
			unsigned a = rng_weighted(r, apps[g->p.app].act, A_N);
			switch (a) {
			case A_TYPE:
				t = act_type(g, g->now);
				break;
			case A_CLICK:
				t = act_click(g, g->now);
				break;
			case A_SCROLL:
				t = act_scroll(g, g->now);
				break;
			case A_DRAG:
				t = act_drag(g, g->now);
				break;
			case A_HOTKEY:
				t = act_hotkey(g, g->now);
				break;
			case A_HOVER:
				t = act_hover(g, g->now);
				break;
			default:
				t = act_pause(g, g->now);
				break;
			}
		}
		if (g->full)
			return st_fail(err, ST_E_CAP,
				       "tracegen: one activity made over %u "
				       "events; this is a bug in tracegen.c",
				       PEND_MAX);
		uint64_t last = t;
		for (size_t i = from; i < g->npend; i++)
			if (g->pend[i].t > last)
				last = g->pend[i].t;
		if (last >= end) {
			/* would run past the end: undo it and stop */
			g->npend = from;
			g->p = saved;
			break;
		}
		close_idle(g, from);
		if ((rc = flush(g, err)) < 0)
			return rc;
		g->now = last + (uint64_t)rng_range(r, 50, 400);
	}
	/* the recording ends; a long enough quiet tail is an idle period */
	if (!g->p.idle && g->p.last_input + ST_TRACEGEN_IDLE_AFTER_MS < end) {
		pend_add(g, g->p.last_input + ST_TRACEGEN_IDLE_AFTER_MS,
			 ST_EV_IDLE_START);
		if ((rc = flush(g, err)) < 0)
			return rc;
	}
	for (;;) {
		if ((rc = seg_end(g, err)) < 0)
			return rc;
		if (g->seg_index >= g->nseg)
			return 0;
		if ((rc = seg_begin(g, err)) < 0)
			return rc;
	}
}

int st_tracegen_run(const struct st_tracegen_cfg *cfg,
		    st_tracegen_segment_fn fn, void *ctx, struct st_error *err)
{
	if (!cfg || !fn)
		return st_fail(err, ST_E_INVAL,
			       "tracegen: needs a configuration and a segment "
			       "callback");
	if (cfg->duration_ms == 0 ||
	    cfg->duration_ms > ST_TRACEGEN_DURATION_MAX_MS)
		return st_fail(err, ST_E_INVAL,
			       "tracegen: duration of %llu ms is outside "
			       "1..%llu ms (31 days)",
			       (unsigned long long)cfg->duration_ms,
			       (unsigned long long)ST_TRACEGEN_DURATION_MAX_MS);
	uint64_t nseg = st_tracegen_segments(cfg->duration_ms);
	if (cfg->anchor_ns > UINT64_MAX - nseg * SEG_MS * 1000000u)
		return st_fail(err, ST_E_INVAL,
			       "tracegen: anchor %llu ns plus the duration "
			       "overflows 64-bit Unix nanoseconds",
			       (unsigned long long)cfg->anchor_ns);
	struct gen *g = calloc(1, sizeof *g);
	if (!g)
		return st_fail(err, ST_E_NOMEM, "tracegen: out of memory");
	g->pend = calloc(PEND_MAX, sizeof *g->pend);
	if (!g->pend) {
		free(g);
		return st_fail(err, ST_E_NOMEM, "tracegen: out of memory");
	}
	g->cfg = cfg;
	g->fn = fn;
	g->ctx = ctx;
	g->nseg = nseg;
	rng_seed(&g->p.r, cfg->seed);
	st_events_init(&g->seg, cfg->locked);
	int rc = run(g, err);
	st_events_fini(&g->seg);
	free(g->pend);
	free(g);
	return rc;
}
