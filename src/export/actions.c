/* actions.c - events to training steps: a small state machine over one
 * device's input with a few pending actions (a type run, a scroll gesture,
 * a pointer move, a held button, a click that may become a double click,
 * a wait), each flushed as a JSON line when the next action shows it is
 * complete. Everything that holds recorded content (the focus copies, the
 * type run, the line) lives in one sodium_malloc'ed block. */
#include "actions.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/purpose.h"
#include "core/mem.h"
#include "filter/detect.h"

/* X11 modifier masks (st_event.u.key.mods is the state & 0xff before the
 * event, src/agent/capture_x11.c). Mod1 is Alt and Mod4 Super on every
 * stock keymap; Lock, NumLock (Mod2) and AltGr (Mod5) never make a hotkey. */
#define MOD_SHIFT 1u
#define MOD_CONTROL 4u
#define MOD_ALT 8u
#define MOD_SUPER 64u
#define MOD_HOT (MOD_CONTROL | MOD_ALT | MOD_SUPER)

/* Focus copies: the current focus plus those that a held button, a click
 * waiting for its double and a pending wait may still name. Type runs,
 * scrolls and moves are flushed before the focus changes, so they only
 * ever name the current one. Four slots always leave one free. */
#define SLOTS 4u

#define NS_PER_MS UINT64_C(1000000)

struct focus {
	uint32_t app_len, cls_len, title_len;
	char app[ST_NAME_MAX];
	char cls[ST_NAME_MAX];
	char title[ST_TITLE_MAX];
};

/* What a step shows besides its action, taken at the action's first event. */
struct stepctx {
	uint64_t t; /* Unix ns */
	uint32_t sw, sh;
	uint8_t slot;
	uint8_t level;
};

struct st_actions {
	struct st_actions_cfg cfg;
	struct st_actions_out out;
	uint64_t idle_ns, wait_ns, double_ns;
	int64_t slop; /* px, at most ST_ACTIONS_SLOP_MAX */
	char prefix[ST_ACTIONS_PREFIX_MAX + 1];
	char episode_id[ST_ACTIONS_PREFIX_MAX + 24];
	bool failed, finished;

	/* the episode being written */
	bool in_episode;
	uint64_t episode_n, ep_steps, ep_first_ms, last_ms;

	/* the device's context */
	uint8_t cur;   /* focus slot */
	uint8_t level; /* of the segment being fed */
	uint32_t sw, sh;
	bool screen_seen;
	uint64_t screen_t;
	bool have_input;
	uint64_t last_input;

	/* pending actions */
	bool typing;
	struct stepctx type_ctx;
	size_t text_len;

	bool scrolling;
	struct stepctx scroll_ctx;
	int32_t sx, sy;
	int64_t sdx, sdy; /* 1/1000 notch, pyautogui signs */

	bool moving;
	struct stepctx move_ctx;
	int32_t mx, my;

	bool held, held_double, beyond, has_last;
	struct stepctx held_ctx;
	uint8_t hb;
	int32_t hx, hy, lx, ly;
	uint32_t nsamp, stride;
	uint64_t seen;

	bool clicked;
	struct stepctx click_ctx;
	int32_t cx, cy;

	bool waiting;
	struct stepctx wait_ctx;
	uint64_t wait_len;

	struct st_actions_stats st;

	struct focus slot[SLOTS];
	char text[ST_ACTIONS_TEXT_MAX];
	int32_t samp[ST_ACTIONS_SAMPLES_MAX + 1][2];
	size_t len;
	bool over;
	char line[ST_ACTIONS_LINE_MAX];
};

static const char *const type_names[ST_ACT_TYPES] = {
	"click", "double_click", "right_click", "middle_click",
	"drag",	 "scroll",	 "type",	"hotkey",
	"key",	 "move",	 "wait",	"redacted"};

const char *st_action_type_name(unsigned type)
{
	return type < ST_ACT_TYPES ? type_names[type] : NULL;
}

void st_actions_cfg_default(struct st_actions_cfg *cfg)
{
	cfg->idle_ms = 60000;
	cfg->wait_min_ms = 1000;
	cfg->click_slop_px = 4;
	cfg->double_ms = 400;
	cfg->fields = ST_PURPOSE_F_ALL;
}

/* ---- the line writer ---------------------------------------------------- */

static inline void put(struct st_actions *a, const void *p, size_t n)
{
	if (n > sizeof a->line - a->len) {
		a->over = true;
		return;
	}
	memcpy(a->line + a->len, p, n);
	a->len += n;
}

#define PUT_LIT(a, s) put((a), (s), sizeof(s) - 1)

static inline void put_c(struct st_actions *a, char c)
{
	if (a->len >= sizeof a->line) {
		a->over = true;
		return;
	}
	a->line[a->len++] = c;
}

static void put_u64(struct st_actions *a, uint64_t v)
{
	char b[20];
	size_t i = sizeof b;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(a, b + i, sizeof b - i);
}

/* A screen coordinate. X11 root coordinates are 0..32767; one outside
 * (only from a malformed list) is shown clamped, so that every line keeps
 * to the step schema (docs/schema/dataset-step.schema.json) and replays. */
static void put_coord(struct st_actions *a, int32_t v)
{
	put_u64(a, v < 0 ? 0 : v > ST_ACTIONS_COORD_MAX ? ST_ACTIONS_COORD_MAX
							: (uint64_t)v);
}

static void put_i64(struct st_actions *a, int64_t v)
{
	if (v < 0) {
		put_c(a, '-');
		put_u64(a, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(a, (uint64_t)v);
	}
}

/* v fixed-width with n digits (n <= 4). */
static void put_dig(struct st_actions *a, unsigned v, unsigned n)
{
	char b[4];
	for (unsigned i = n; i-- > 0; v /= 10)
		b[i] = (char)('0' + v % 10);
	put(a, b, n);
}

/* Seconds from ns with two decimals, rounded half up: "2.50". */
static void put_centis(struct st_actions *a, uint64_t ns)
{
	uint64_t cs = (ns + 5000000u) / 10000000u;
	put_u64(a, cs / 100);
	put_c(a, '.');
	put_dig(a, (unsigned)(cs % 100), 2);
}

static const char hexd[] = "0123456789abcdef";

/* s[0..n) as the inside of a JSON string: " \ and C0 escaped, the rest
 * (valid UTF-8 from the event table) raw. */
static void put_json_body(struct st_actions *a, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(a, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': PUT_LIT(a, "\\\""); break;
		case '\\': PUT_LIT(a, "\\\\"); break;
		case '\n': PUT_LIT(a, "\\n"); break;
		case '\r': PUT_LIT(a, "\\r"); break;
		case '\t': PUT_LIT(a, "\\t"); break;
		case '\b': PUT_LIT(a, "\\b"); break;
		case '\f': PUT_LIT(a, "\\f"); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4],
				     hexd[c & 15]};
			put(a, u, sizeof u);
		}
		}
	}
	put(a, s + run, n - run);
}

static void put_json_str(struct st_actions *a, const char *s, size_t n)
{
	put_c(a, '"');
	put_json_body(a, s, n);
	put_c(a, '"');
}

/* s[0..n) as a Python single-quoted literal, written inside a JSON string:
 * Python escapes \ ' \n \r \t and every other control character (C0, DEL,
 * C1) as \xHH; then JSON doubles each backslash and escapes ". */
static void put_py_str(struct st_actions *a, const char *s, size_t n)
{
	put_c(a, '\'');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp;
		size_t w = 1;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '\'')
			continue;
		if (c == 0xc2 && i + 1 < n &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f) {
			cp = (unsigned char)s[i + 1]; /* C1 control */
			w = 2;
		} else if (c >= 0x80) {
			continue; /* other UTF-8: raw */
		} else {
			cp = c;
		}
		put(a, s + run, i - run);
		switch (cp) {
		case '"': PUT_LIT(a, "\\\""); break;
		case '\\': PUT_LIT(a, "\\\\\\\\"); break;
		case '\'': PUT_LIT(a, "\\\\'"); break;
		case '\n': PUT_LIT(a, "\\\\n"); break;
		case '\r': PUT_LIT(a, "\\\\r"); break;
		case '\t': PUT_LIT(a, "\\\\t"); break;
		default: {
			char x[5] = {'\\', '\\', 'x', hexd[cp >> 4], hexd[cp & 15]};
			put(a, x, sizeof x);
		}
		}
		i += w - 1;
		run = i + 1;
	}
	put(a, s + run, n - run);
	put_c(a, '\'');
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" from Unix ms: days to civil date after
 * Howard Hinnant's algorithm, so no time zone or libc state is involved. */
static void put_time(struct st_actions *a, uint64_t ms)
{
	uint64_t s = ms / 1000, days = s / 86400, sod = s % 86400;
	uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	uint64_t y = yoe + era * 400 + (m <= 2);
	put_dig(a, (unsigned)(y % 10000), 4);
	put_c(a, '-');
	put_dig(a, m, 2);
	put_c(a, '-');
	put_dig(a, d, 2);
	put_c(a, 'T');
	put_dig(a, (unsigned)(sod / 3600), 2);
	put_c(a, ':');
	put_dig(a, (unsigned)(sod / 60 % 60), 2);
	put_c(a, ':');
	put_dig(a, (unsigned)(sod % 60), 2);
	put_c(a, '.');
	put_dig(a, (unsigned)(ms % 1000), 3);
	put_c(a, 'Z');
}

/* ---- steps ------------------------------------------------------------- */

static int sink_failed(struct st_actions *a, int rc, const char *what,
		       struct st_error *err)
{
	a->failed = true;
	if (rc >= 0)
		rc = ST_E_INVAL;
	return st_fail(err, rc, "actions: the %s callback failed (%s); the "
		       "export stops here", what, st_strerror(rc));
}

static int step_open(struct st_actions *a, const struct stepctx *c,
		     struct st_error *err);

/* Sends the line being built; counts it as a step of type. */
static int step_close(struct st_actions *a, unsigned type,
		      struct st_error *err)
{
	PUT_LIT(a, "}\n");
	if (a->over) {
		a->failed = true;
		return st_fail(err, ST_E_CAP,
			       "actions: a step line over %u bytes (a bug: "
			       "the caps should prevent it)",
			       ST_ACTIONS_LINE_MAX);
	}
	int rc = a->out.step(a->out.ctx, a->line, a->len);
	if (rc < 0)
		return sink_failed(a, rc, "step", err);
	a->st.steps++;
	a->st.by_type[type]++;
	a->ep_steps++;
	return 0;
}

static int emit_wait(struct st_actions *a, struct st_error *err)
{
	a->waiting = false;
	int rc = step_open(a, &a->wait_ctx, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"wait\",\"seconds\":");
	put_centis(a, a->wait_len);
	PUT_LIT(a, "},\"pyautogui\":\"pyautogui.sleep(");
	put_centis(a, a->wait_len);
	PUT_LIT(a, ")\"");
	return step_close(a, ST_ACT_WAIT, err);
}

/* Starts a step line up to and including "action": (a pending wait goes
 * first, and the episode is begun on its first step). */
static int step_open(struct st_actions *a, const struct stepctx *c,
		     struct st_error *err)
{
	int rc;
	if (a->waiting && (rc = emit_wait(a, err)) < 0)
		return rc;
	uint64_t ms = c->t / NS_PER_MS;
	if (!a->in_episode) {
		a->episode_n++;
		snprintf(a->episode_id, sizeof a->episode_id, "%s-%04llu",
			 a->prefix, (unsigned long long)a->episode_n);
		a->in_episode = true;
		a->ep_steps = 0;
		a->ep_first_ms = a->last_ms = ms;
		if (a->out.begin &&
		    (rc = a->out.begin(a->out.ctx, a->episode_id)) < 0)
			return sink_failed(a, rc, "begin", err);
	}
	if (ms < a->last_ms)
		ms = a->last_ms; /* never before the step ahead of it */
	a->last_ms = ms;
	const struct focus *f = &a->slot[c->slot];
	a->len = 0;
	a->over = false;
	PUT_LIT(a, "{\"episode\":\"");
	put(a, a->episode_id, strlen(a->episode_id));
	PUT_LIT(a, "\",\"index\":");
	put_u64(a, a->ep_steps);
	PUT_LIT(a, ",\"time\":\"");
	put_time(a, ms);
	PUT_LIT(a, "\",\"time_ms\":");
	put_u64(a, ms - a->ep_first_ms);
	PUT_LIT(a, ",\"app\":");
	if (!(a->cfg.fields & ST_PURPOSE_F_APPS))
		PUT_LIT(a, "\"\"");
	else if (f->app_len)
		put_json_str(a, f->app, f->app_len);
	else
		put_json_str(a, f->cls, f->cls_len);
	PUT_LIT(a, ",\"window_title\":");
	if (a->cfg.fields & ST_PURPOSE_F_TITLES)
		put_json_str(a, f->title, f->title_len);
	else
		PUT_LIT(a, "\"\"");
	PUT_LIT(a, ",\"screen\":{\"width\":");
	put_u64(a, c->sw);
	PUT_LIT(a, ",\"height\":");
	put_u64(a, c->sh);
	PUT_LIT(a, "},\"level\":");
	put_u64(a, c->level);
	PUT_LIT(a, ",\"action\":");
	return 0;
}

/* False (and counted) when the purpose does not grant field. */
static bool granted(struct st_actions *a, unsigned field)
{
	if (a->cfg.fields & field)
		return true;
	a->st.withheld++;
	return false;
}

static const char *len_class_name(uint8_t c)
{
	switch (c) {
	case ST_LEN_1_8: return "1-8";
	case ST_LEN_9_16: return "9-16";
	case ST_LEN_17_PLUS: return "17+";
	default: return NULL;
	}
}

static int emit_redacted(struct st_actions *a, const struct stepctx *c,
			 const char *kind, const char *length,
			 struct st_error *err)
{
	int rc = step_open(a, c, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"redacted\",\"kind\":");
	put_json_str(a, kind, strlen(kind));
	PUT_LIT(a, ",\"length\":\"");
	put(a, length, strlen(length));
	PUT_LIT(a, "\"},\"pyautogui\":\"\"");
	return step_close(a, ST_ACT_REDACTED, err);
}

static int flush_type(struct st_actions *a, struct st_error *err)
{
	if (!a->typing)
		return 0;
	a->typing = false;
	if (!(a->cfg.fields & ST_PURPOSE_F_TEXT)) {
		/* The run's byte length, classed as the filter classes its
		 * redactions: never the exact length. */
		size_t n = a->text_len;
		a->st.text_withheld++;
		return emit_redacted(a, &a->type_ctx, "text_withheld",
				     n <= 8 ? "1-8" : n <= 16 ? "9-16" : "17+",
				     err);
	}
	int rc = step_open(a, &a->type_ctx, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"type\",\"text\":");
	put_json_str(a, a->text, a->text_len);
	PUT_LIT(a, "},\"pyautogui\":\"pyautogui.write(");
	put_py_str(a, a->text, a->text_len);
	PUT_LIT(a, ")\"");
	return step_close(a, ST_ACT_TYPE, err);
}

/* click, double_click, right_click or middle_click at (x, y). */
static int emit_click(struct st_actions *a, const struct stepctx *c,
		      unsigned type, int32_t x, int32_t y, struct st_error *err)
{
	if (!granted(a, ST_PURPOSE_F_POINTER))
		return 0;
	static const char *const fn[] = {
		[ST_ACT_CLICK] = "click", [ST_ACT_DOUBLE_CLICK] = "doubleClick",
		[ST_ACT_RIGHT_CLICK] = "rightClick",
		[ST_ACT_MIDDLE_CLICK] = "middleClick"};
	int rc = step_open(a, c, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"");
	put(a, type_names[type], strlen(type_names[type]));
	PUT_LIT(a, "\",\"x\":");
	put_coord(a, x);
	PUT_LIT(a, ",\"y\":");
	put_coord(a, y);
	PUT_LIT(a, "},\"pyautogui\":\"pyautogui.");
	put(a, fn[type], strlen(fn[type]));
	PUT_LIT(a, "(x=");
	put_coord(a, x);
	PUT_LIT(a, ", y=");
	put_coord(a, y);
	PUT_LIT(a, ")\"");
	return step_close(a, type, err);
}

static int flush_click(struct st_actions *a, struct st_error *err)
{
	if (!a->clicked)
		return 0;
	a->clicked = false;
	return emit_click(a, &a->click_ctx, ST_ACT_CLICK, a->cx, a->cy, err);
}

/* Rounds 1/1000 notches to notches, half away from zero; a non-zero sum
 * stays at least one notch, so a slow touchpad gesture is not lost. */
static int64_t notches(int64_t m)
{
	if (m == 0)
		return 0;
	int64_t q = (m > 0 ? m + 500 : m - 500) / 1000;
	return q ? q : m > 0 ? 1 : -1;
}

static void put_scroll_call(struct st_actions *a, const char *fn, int64_t v,
			    int32_t x, int32_t y)
{
	PUT_LIT(a, "pyautogui.");
	put(a, fn, strlen(fn));
	put_c(a, '(');
	put_i64(a, v);
	PUT_LIT(a, ", x=");
	put_coord(a, x);
	PUT_LIT(a, ", y=");
	put_coord(a, y);
	put_c(a, ')');
}

static int flush_scroll(struct st_actions *a, struct st_error *err)
{
	if (!a->scrolling)
		return 0;
	a->scrolling = false;
	int64_t dx = notches(a->sdx), dy = notches(a->sdy);
	if ((dx == 0 && dy == 0) || !granted(a, ST_PURPOSE_F_POINTER))
		return 0;
	int rc = step_open(a, &a->scroll_ctx, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"scroll\",\"x\":");
	put_coord(a, a->sx);
	PUT_LIT(a, ",\"y\":");
	put_coord(a, a->sy);
	PUT_LIT(a, ",\"dx\":");
	put_i64(a, dx);
	PUT_LIT(a, ",\"dy\":");
	put_i64(a, dy);
	PUT_LIT(a, "},\"pyautogui\":\"");
	if (dy)
		put_scroll_call(a, "scroll", dy, a->sx, a->sy);
	if (dy && dx)
		PUT_LIT(a, "; ");
	if (dx)
		put_scroll_call(a, "hscroll", dx, a->sx, a->sy);
	put_c(a, '"');
	return step_close(a, ST_ACT_SCROLL, err);
}

static int flush_move(struct st_actions *a, struct st_error *err)
{
	if (!a->moving)
		return 0;
	a->moving = false;
	if (!granted(a, ST_PURPOSE_F_POINTER))
		return 0;
	int rc = step_open(a, &a->move_ctx, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"move\",\"x\":");
	put_coord(a, a->mx);
	PUT_LIT(a, ",\"y\":");
	put_coord(a, a->my);
	PUT_LIT(a, "},\"pyautogui\":\"pyautogui.moveTo(x=");
	put_coord(a, a->mx);
	PUT_LIT(a, ", y=");
	put_coord(a, a->my);
	PUT_LIT(a, ")\"");
	return step_close(a, ST_ACT_MOVE, err);
}

/* The pointer actions that wait for their end. At most one of them is
 * pending at a time (each flushes the others when it starts), so the
 * order here does not reorder steps. */
static int flush_pointer(struct st_actions *a, struct st_error *err)
{
	int rc;
	if ((rc = flush_click(a, err)) < 0 || (rc = flush_scroll(a, err)) < 0)
		return rc;
	return flush_move(a, err);
}

static const char *button_name(uint8_t b)
{
	return b == 1 ? "left" : b == 2 ? "middle" : "right";
}

static int emit_drag(struct st_actions *a, int32_t tx, int32_t ty,
		     uint64_t t_end, struct st_error *err)
{
	if (!granted(a, ST_PURPOSE_F_POINTER))
		return 0;
	int rc = step_open(a, &a->held_ctx, err);
	if (rc < 0)
		return rc;
	PUT_LIT(a, "{\"type\":\"drag\",\"button\":\"");
	put(a, button_name(a->hb), strlen(button_name(a->hb)));
	PUT_LIT(a, "\",\"x\":");
	put_coord(a, a->hx);
	PUT_LIT(a, ",\"y\":");
	put_coord(a, a->hy);
	PUT_LIT(a, ",\"to_x\":");
	put_coord(a, tx);
	PUT_LIT(a, ",\"to_y\":");
	put_coord(a, ty);
	PUT_LIT(a, ",\"path\":[");
	/* The samples kept (indices that are multiples of the stride), plus
	 * the last one when the stride skipped it: samp has room for it. */
	uint32_t n = a->nsamp;
	if (a->has_last && (a->seen - 1) % a->stride != 0) {
		a->samp[n][0] = a->lx;
		a->samp[n][1] = a->ly;
		n++;
	}
	uint32_t k_max = n < ST_ACTIONS_PATH_MAX ? n : ST_ACTIONS_PATH_MAX;
	for (uint32_t k = 0; k < k_max; k++) {
		/* Evenly spaced indices, 0 and n - 1 included. */
		uint64_t i = k_max < 2 ? 0
				       : ((uint64_t)k * (n - 1) + (k_max - 1) / 2) /
						 (k_max - 1);
		if (k)
			put_c(a, ',');
		put_c(a, '[');
		put_coord(a, a->samp[i][0]);
		put_c(a, ',');
		put_coord(a, a->samp[i][1]);
		put_c(a, ']');
	}
	PUT_LIT(a, "]},\"pyautogui\":\"pyautogui.moveTo(x=");
	put_coord(a, a->hx);
	PUT_LIT(a, ", y=");
	put_coord(a, a->hy);
	PUT_LIT(a, "); pyautogui.dragTo(x=");
	put_coord(a, tx);
	PUT_LIT(a, ", y=");
	put_coord(a, ty);
	PUT_LIT(a, ", duration=");
	put_centis(a, t_end > a->held_ctx.t ? t_end - a->held_ctx.t : 0);
	PUT_LIT(a, ", button='");
	put(a, button_name(a->hb), strlen(button_name(a->hb)));
	PUT_LIT(a, "')\"");
	return step_close(a, ST_ACT_DRAG, err);
}

/* Flushes everything pending and ends the episode (if it has steps). */
static int end_episode(struct st_actions *a, struct st_error *err)
{
	int rc;
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_pointer(a, err)) < 0)
		return rc;
	if (a->held) {
		a->held = false; /* pressed, never released: no action */
		a->st.dropped++;
	}
	a->waiting = false; /* a wait needs an action after it */
	if (!a->in_episode)
		return 0;
	a->in_episode = false;
	a->st.episodes++;
	if (a->out.end &&
	    (rc = a->out.end(a->out.ctx, a->episode_id, a->ep_steps)) < 0)
		return sink_failed(a, rc, "end", err);
	return 0;
}

/* ---- keys -------------------------------------------------------------- */

/* Keys that are no action alone: modifiers accompany other keys, and dead
 * and compose keys are part of the character typed after them (which
 * carries the text), so they neither make a step nor break a type run. */
static bool is_silent(uint32_t ks)
{
	return (ks >= 0xffe1 && ks <= 0xffee && ks != 0xffe5) || /* Shift..Hyper */
	       (ks >= 0xfe01 && ks <= 0xfe0f) || /* ISO locks, latches, groups */
	       (ks >= 0xfe11 && ks <= 0xfe13) || /* ISO_Level5 */
	       ks == 0xff7e ||			 /* Mode_switch */
	       (ks >= 0xfe50 && ks <= 0xfe93) || /* dead keys */
	       ks == 0xff20;			 /* Multi_key (Compose) */
}

/* A character replay can type: no C0 or C1 control, DEL, surrogate or
 * noncharacter (as st_pyautogui_char_ok, less the controls that are keys). */
static bool typable(uint32_t cp)
{
	return cp >= 0x20 && !(cp >= 0x7f && cp < 0xa0) && cp <= 0x10ffff &&
	       !(cp >= 0xd800 && cp < 0xe000) &&
	       !(cp >= 0xfdd0 && cp <= 0xfdef) && (cp & 0xfffe) != 0xfffe;
}

/* UTF-8 of cp into b (4 bytes at most); 0 for a cp typable() refuses. */
static size_t utf8(uint32_t cp, char *b)
{
	if (!typable(cp))
		return 0;
	if (cp < 0x80) {
		b[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | cp >> 18);
	b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	b[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* pyautogui's name for a keysym, or the character it types (lower case
 * for a letter); NULL when there is none. Only the names sealtrace-replay
 * knows (src/replay/pyautogui.h, st_pyautogui_key_names) are used, so
 * every step replays: keypad digits and operators become their
 * characters, and keys it cannot press (media, browser, Help, ...) are
 * dropped. buf holds a character's bytes (at least 5). */
static const char *key_name(uint32_t ks, char *buf)
{
	static const char *const fkeys[24] = {
		"f1",  "f2",  "f3",  "f4",  "f5",  "f6",  "f7",  "f8",
		"f9",  "f10", "f11", "f12", "f13", "f14", "f15", "f16",
		"f17", "f18", "f19", "f20", "f21", "f22", "f23", "f24"};
	if (ks >= 0xffbe && ks <= 0xffd5)
		return fkeys[ks - 0xffbe];
	uint32_t cp = 0;
	switch (ks) {
	case 0x20: case 0xff80: return "space";
	case 0xff08: return "backspace";
	case 0xff09: case 0xfe20: case 0xff89: return "tab";
	case 0xff0d: case 0xff8d: return "enter";
	case 0xff13: return "pause";
	case 0xff14: return "scrolllock";
	case 0xff1b: return "esc";
	case 0xff50: case 0xff95: return "home";
	case 0xff51: case 0xff96: return "left";
	case 0xff52: case 0xff97: return "up";
	case 0xff53: case 0xff98: return "right";
	case 0xff54: case 0xff99: return "down";
	case 0xff55: case 0xff9a: return "pageup";
	case 0xff56: case 0xff9b: return "pagedown";
	case 0xff57: case 0xff9c: return "end";
	case 0xff61: case 0xff15: return "printscreen";
	case 0xff63: case 0xff9e: return "insert";
	case 0xff67: return "apps";
	case 0xff7f: return "numlock";
	case 0xff9f: case 0xffff: return "delete";
	case 0xffe5: return "capslock";
	case 0xffaa: cp = '*'; break; /* the keypad's operators */
	case 0xffab: cp = '+'; break;
	case 0xffac: cp = ','; break;
	case 0xffad: cp = '-'; break;
	case 0xffae: cp = '.'; break;
	case 0xffaf: cp = '/'; break;
	case 0xffbd: cp = '='; break;
	default:
		if (ks >= 0xffb0 && ks <= 0xffb9)
			cp = '0' + (ks - 0xffb0); /* KP_0..KP_9 */
		else if ((ks >= 0x21 && ks <= 0x7e) || (ks >= 0xa0 && ks <= 0xff))
			cp = ks; /* Latin-1 keysyms are their code points */
		else if (ks >= 0x01000100 && ks <= 0x0110ffff)
			cp = ks - 0x01000000;
	}
	if ((cp >= 'A' && cp <= 'Z') ||
	    (cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
		cp += 0x20;
	size_t n = utf8(cp, buf);
	if (!n)
		return NULL;
	buf[n] = 0;
	return buf;
}

/* A text a key produced counts as typed when every character is typable
 * (valid UTF-8 is given: the event list checks it). */
static bool printable(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		uint32_t cp = u[i];
		size_t w = cp < 0x80 ? 1 : cp < 0xe0 ? 2 : cp < 0xf0 ? 3 : 4;
		if (i + w > n)
			return false;
		if (w > 1) {
			cp &= 0x3fu >> (w - 1);
			for (size_t k = 1; k < w; k++)
				cp = cp << 6 | (u[i + k] & 0x3f);
		}
		if (!typable(cp))
			return false;
		i += w;
	}
	return n > 0;
}

/* The key a control-character text names when the keysym does not. */
static const char *control_name(const char *s, size_t n)
{
	if (n != 1)
		return NULL;
	switch (s[0]) {
	case '\r': case '\n': return "enter";
	case '\t': return "tab";
	case '\b': return "backspace";
	case 0x1b: return "esc";
	case 0x7f: return "delete";
	default: return NULL;
	}
}

static int emit_key(struct st_actions *a, const struct stepctx *c,
		    unsigned mods, const char *name, struct st_error *err)
{
	if (!granted(a, ST_PURPOSE_F_KEYS))
		return 0;
	int rc = step_open(a, c, err);
	if (rc < 0)
		return rc;
	size_t n = strlen(name);
	if (!mods) {
		PUT_LIT(a, "{\"type\":\"key\",\"key\":");
		put_json_str(a, name, n);
		PUT_LIT(a, "},\"pyautogui\":\"pyautogui.press(");
		put_py_str(a, name, n);
		PUT_LIT(a, ")\"");
		return step_close(a, ST_ACT_KEY, err);
	}
	static const struct {
		unsigned mask;
		const char *name;
	} order[] = {{MOD_CONTROL, "ctrl"},
		     {MOD_ALT, "alt"},
		     {MOD_SHIFT, "shift"},
		     {MOD_SUPER, "win"}};
	PUT_LIT(a, "{\"type\":\"hotkey\",\"keys\":[");
	for (size_t i = 0; i < 4; i++)
		if (mods & order[i].mask) {
			put_c(a, '"');
			put(a, order[i].name, strlen(order[i].name));
			PUT_LIT(a, "\",");
		}
	put_json_str(a, name, n);
	PUT_LIT(a, "]},\"pyautogui\":\"pyautogui.hotkey(");
	for (size_t i = 0; i < 4; i++)
		if (mods & order[i].mask) {
			put_c(a, '\'');
			put(a, order[i].name, strlen(order[i].name));
			PUT_LIT(a, "', ");
		}
	put_py_str(a, name, n);
	PUT_LIT(a, ")\"");
	return step_close(a, ST_ACT_HOTKEY, err);
}

/* ---- events ------------------------------------------------------------ */

static inline struct stepctx ctx_at(const struct st_actions *a, uint64_t t)
{
	return (struct stepctx){
		.t = t, .sw = a->sw, .sh = a->sh, .slot = a->cur,
		.level = a->level};
}

static inline bool near(const struct st_actions *a, int32_t x0, int32_t y0,
			int32_t x1, int32_t y1)
{
	int64_t dx = (int64_t)x1 - x0, dy = (int64_t)y1 - y0, s = a->slop;
	if (dx > s || dx < -s || dy > s || dy < -s)
		return false; /* and no square of a 32-bit distance overflows */
	return dx * dx + dy * dy <= s * s;
}

/* Quiet time before an input event at t: a cut at idle_ms, a wait step
 * (emitted before the next step) at wait_min_ms. starts_pointer: the event
 * is a press or scroll, which takes over a pending move's end point. */
static int quiet(struct st_actions *a, uint64_t t, bool starts_pointer,
		 struct st_error *err)
{
	int rc = 0;
	if (a->have_input && t >= a->last_input) {
		uint64_t gap = t - a->last_input;
		if (gap >= a->idle_ns) {
			rc = end_episode(a, err);
		} else if (gap >= a->wait_ns && !a->held) {
			if ((rc = flush_type(a, err)) < 0 ||
			    (rc = flush_click(a, err)) < 0 ||
			    (rc = flush_scroll(a, err)) < 0)
				return rc;
			if (starts_pointer)
				a->moving = false;
			else if ((rc = flush_move(a, err)) < 0)
				return rc;
			if (a->in_episode && a->ep_steps > 0) {
				if (!a->waiting)
					a->wait_ctx = ctx_at(a, a->last_input);
				a->waiting = true;
				a->wait_len = t - a->wait_ctx.t;
			}
		}
	}
	if (!a->have_input || t > a->last_input)
		a->last_input = t;
	a->have_input = true;
	return rc;
}

static int on_key(struct st_actions *a, const struct st_events *evs,
		  const struct st_event *e, uint64_t t, struct st_error *err)
{
	uint32_t ks = e->u.key.keysym;
	if (is_silent(ks))
		return 0;
	size_t n = 0;
	const char *text = st_events_str(evs, e->u.key.text, &n);
	unsigned mods = e->u.key.mods;
	int rc;
	if (text && !(mods & MOD_HOT) && printable(text, n)) {
		if (a->typing && a->text_len + n > sizeof a->text &&
		    (rc = flush_type(a, err)) < 0)
			return rc;
		if (!a->typing) {
			if ((rc = flush_pointer(a, err)) < 0)
				return rc;
			a->typing = true;
			a->type_ctx = ctx_at(a, t);
			a->text_len = 0;
		}
		memcpy(a->text + a->text_len, text, n);
		a->text_len += n;
		return 0;
	}
	char buf[8];
	const char *name = key_name(ks, buf);
	if (!name && text)
		name = control_name(text, n);
	if (!name && text && (mods & MOD_HOT) && printable(text, n) &&
	    n < sizeof buf) {
		memcpy(buf, text, n); /* a hotkey on a keysym we cannot name */
		buf[n] = 0;
		if (n == 1 && buf[0] >= 'A' && buf[0] <= 'Z')
			buf[0] = (char)(buf[0] + 0x20);
		name = buf;
	}
	if (!name) {
		a->st.dropped++; /* no step, so nothing before it ends */
		return 0;
	}
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_pointer(a, err)) < 0)
		return rc;
	/* Shift counts with Ctrl/Alt/Super, and on its own for a key that
	 * types nothing (shift+tab, shift+left): replay needs it. */
	unsigned shown = mods & MOD_HOT ? mods & (MOD_HOT | MOD_SHIFT)
					: mods & MOD_SHIFT;
	struct stepctx c = ctx_at(a, t);
	return emit_key(a, &c, shown, name, err);
}

static void drag_sample(struct st_actions *a, int32_t x, int32_t y)
{
	if (!near(a, a->hx, a->hy, x, y))
		a->beyond = true;
	/* Keep every stride-th sample; when full, keep every other one and
	 * double the stride: the kept ones stay evenly spaced. */
	if (a->seen % a->stride == 0) {
		if (a->nsamp == ST_ACTIONS_SAMPLES_MAX) {
			for (uint32_t j = 0; j < a->nsamp / 2; j++) {
				a->samp[j][0] = a->samp[2 * j][0];
				a->samp[j][1] = a->samp[2 * j][1];
			}
			a->nsamp /= 2;
			a->stride *= 2;
		}
		if (a->seen % a->stride == 0) {
			a->samp[a->nsamp][0] = x;
			a->samp[a->nsamp][1] = y;
			a->nsamp++;
		}
	}
	a->seen++;
	a->lx = x;
	a->ly = y;
	a->has_last = true;
}

static int on_pointer(struct st_actions *a, const struct st_event *e,
		      uint64_t t, struct st_error *err)
{
	int32_t x = e->u.ptr.x, y = e->u.ptr.y;
	int rc;
	if (a->held) {
		drag_sample(a, x, y);
		return 0;
	}
	/* Jitter within the slop after a click or a scroll is not a move. */
	if (a->clicked) {
		if (near(a, a->cx, a->cy, x, y))
			return 0;
		if ((rc = flush_click(a, err)) < 0)
			return rc;
	}
	if (a->scrolling) {
		if (near(a, a->sx, a->sy, x, y))
			return 0;
		if ((rc = flush_scroll(a, err)) < 0)
			return rc;
	}
	if (!a->moving) {
		if ((rc = flush_type(a, err)) < 0)
			return rc;
		a->moving = true;
		a->move_ctx = ctx_at(a, t);
	}
	a->mx = x;
	a->my = y;
	return 0;
}

static int on_press(struct st_actions *a, const struct st_event *e,
		    uint64_t t, struct st_error *err)
{
	uint8_t b = e->u.btn.button;
	int rc;
	if (a->held) {
		a->st.dropped++; /* a second button during a gesture */
		return 0;
	}
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_scroll(a, err)) < 0)
		return rc;
	if (b < 1 || b > 3) {
		a->st.dropped++;
		return flush_pointer(a, err);
	}
	a->moving = false; /* the press is where the move ended */
	a->held_double = false;
	if (a->clicked) {
		if (b == 1 && t - a->click_ctx.t <= a->double_ns &&
		    near(a, a->cx, a->cy, e->u.btn.x, e->u.btn.y))
			a->held_double = true;
		else if ((rc = flush_click(a, err)) < 0)
			return rc;
	}
	a->held = true;
	a->hb = b;
	a->hx = e->u.btn.x;
	a->hy = e->u.btn.y;
	a->held_ctx = ctx_at(a, t);
	a->beyond = false;
	a->has_last = false;
	a->nsamp = 0;
	a->stride = 1;
	a->seen = 0;
	return 0;
}

static int on_release(struct st_actions *a, const struct st_event *e,
		      uint64_t t, struct st_error *err)
{
	if (!a->held || e->u.btn.button != a->hb)
		return 0;
	a->held = false;
	int32_t x = e->u.btn.x, y = e->u.btn.y;
	int rc;
	/* Keys typed during the gesture do not run on past it. */
	if ((rc = flush_type(a, err)) < 0)
		return rc;
	if (a->beyond || !near(a, a->hx, a->hy, x, y)) {
		if ((rc = flush_click(a, err)) < 0)
			return rc;
		return emit_drag(a, x, y, t, err);
	}
	if (a->hb == 1) {
		if (a->clicked && a->held_double) {
			a->clicked = false;
			return emit_click(a, &a->click_ctx, ST_ACT_DOUBLE_CLICK,
					  a->cx, a->cy, err);
		}
		if ((rc = flush_click(a, err)) < 0)
			return rc;
		a->clicked = true; /* until it is clear it is no double */
		a->click_ctx = a->held_ctx;
		a->cx = a->hx;
		a->cy = a->hy;
		return 0;
	}
	if ((rc = flush_click(a, err)) < 0)
		return rc;
	return emit_click(a, &a->held_ctx,
			  a->hb == 3 ? ST_ACT_RIGHT_CLICK : ST_ACT_MIDDLE_CLICK,
			  a->hx, a->hy, err);
}

static int on_scroll(struct st_actions *a, const struct st_event *e,
		     uint64_t t, struct st_error *err)
{
	int rc;
	if (a->held) {
		a->st.dropped++; /* pyautogui cannot scroll during a drag */
		return 0;
	}
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_click(a, err)) < 0)
		return rc;
	a->moving = false; /* the scroll is where the move ended */
	int32_t x = e->u.scroll.x, y = e->u.scroll.y;
	if (a->scrolling && !near(a, a->sx, a->sy, x, y) &&
	    (rc = flush_scroll(a, err)) < 0)
		return rc;
	if (!a->scrolling) {
		a->scrolling = true;
		a->scroll_ctx = ctx_at(a, t);
		a->sx = x;
		a->sy = y;
		a->sdx = a->sdy = 0;
	}
	int64_t k = e->u.scroll.smooth ? 1 : 1000;
	/* Events say +dy down (X11 button 5); pyautogui says +dy up. */
	int64_t dx = (int64_t)e->u.scroll.dx * k, dy = -(int64_t)e->u.scroll.dy * k;
	const int64_t cap = (int64_t)ST_ACTIONS_SCROLL_MAX * 1000 + 499;
	if (llabs(a->sdx + dx) > cap || llabs(a->sdy + dy) > cap) {
		/* A step past replay's cap continues in the next one. */
		if ((rc = flush_scroll(a, err)) < 0)
			return rc;
		a->scrolling = true;
		a->scroll_ctx = ctx_at(a, t);
		a->sdx = a->sdy = 0;
	}
	a->sdx += dx;
	a->sdy += dy;
	return 0;
}

static bool same(const char *s, size_t n, const char *have, uint32_t hn)
{
	return n == hn && (n == 0 || memcmp(s, have, n) == 0);
}

static int on_focus(struct st_actions *a, const struct st_events *evs,
		    const struct st_event *e, struct st_error *err)
{
	size_t an, cn, tn;
	const char *app = st_events_str(evs, e->u.focus.app, &an);
	const char *cls = st_events_str(evs, e->u.focus.cls, &cn);
	const char *title = st_events_str(evs, e->u.focus.title, &tn);
	const struct focus *f = &a->slot[a->cur];
	if (same(app, an, f->app, f->app_len) &&
	    same(cls, cn, f->cls, f->cls_len) &&
	    same(title, tn, f->title, f->title_len))
		return 0;
	int rc;
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_scroll(a, err)) < 0 ||
	    (rc = flush_move(a, err)) < 0)
		return rc;
	uint8_t s = 0;
	while (s < SLOTS && ((a->held && a->held_ctx.slot == s) ||
			     (a->clicked && a->click_ctx.slot == s) ||
			     (a->waiting && a->wait_ctx.slot == s)))
		s++;
	struct focus *n = &a->slot[s];
	n->app_len = (uint32_t)an;
	n->cls_len = (uint32_t)cn;
	n->title_len = (uint32_t)tn;
	if (an)
		memcpy(n->app, app, an);
	if (cn)
		memcpy(n->cls, cls, cn);
	if (tn)
		memcpy(n->title, title, tn);
	a->cur = s;
	return 0;
}

static void on_screen(struct st_actions *a, const struct st_event *e,
		      uint64_t t)
{
	/* The monitors of one geometry come at one time: a screen event at
	 * another time starts a new bounding box. */
	if (!a->screen_seen || t != a->screen_t)
		a->sw = a->sh = 0;
	a->screen_seen = true;
	a->screen_t = t;
	int64_t w = (int64_t)e->u.screen.x + e->u.screen.w;
	int64_t h = (int64_t)e->u.screen.y + e->u.screen.h;
	if (w > (int64_t)a->sw)
		a->sw = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
	if (h > (int64_t)a->sh)
		a->sh = h > UINT32_MAX ? UINT32_MAX : (uint32_t)h;
}

static int on_redaction(struct st_actions *a, const struct st_event *e,
			uint64_t t, struct st_error *err)
{
	const char *len = len_class_name(e->u.redact.len_class);
	int rc;
	if ((rc = flush_type(a, err)) < 0 || (rc = flush_pointer(a, err)) < 0)
		return rc;
	uint16_t kind = e->u.redact.kind;
	a->st.redactions[kind]++; /* checked: at most ST_REDACTION_KIND_MAX */
	struct stepctx c = ctx_at(a, t);
	return emit_redacted(a, &c, st_detect_kind_name(kind), len, err);
}

static int usable(const struct st_actions *a, struct st_error *err)
{
	if (!a)
		return st_fail(err, ST_E_INVAL, "actions: no converter");
	if (a->failed)
		return st_fail(err, ST_E_STATE,
			       "actions: an earlier call failed; start a new "
			       "export");
	if (a->finished)
		return st_fail(err, ST_E_STATE,
			       "actions: already finished; make a new one");
	return 0;
}

/* Refuses a segment the conversion could not finish before any of it is
 * converted, so a bad segment leaves no partial steps behind. The export
 * host's segments come through st_segment_open, which checks all this
 * already; events built by hand may not. */
static int check_segment(const struct st_events *evs, struct st_error *err)
{
	if (evs->n && evs->tick_ns == 0)
		return st_fail(err, ST_E_INVAL, "actions: tick length is 0");
	for (size_t i = 0; i < evs->n; i++) {
		const struct st_event *e = &evs->ev[i];
		uint64_t t;
		size_t n1 = 0, n2 = 0, n3 = 0;
		if (__builtin_mul_overflow(e->t, (uint64_t)evs->tick_ns, &t) ||
		    __builtin_add_overflow(t, evs->anchor_ns, &t))
			return st_fail(err, ST_E_ORDER,
				       "actions: event %zu: time past 2554", i);
		switch (e->type) {
		case ST_EV_KEY_PRESS:
			st_events_str(evs, e->u.key.text, &n1);
			if (n1 > ST_KEYTEXT_MAX)
				return st_fail(err, ST_E_CAP,
					       "actions: event %zu: key text "
					       "over %u bytes", i, ST_KEYTEXT_MAX);
			break;
		case ST_EV_FOCUS:
			st_events_str(evs, e->u.focus.app, &n1);
			st_events_str(evs, e->u.focus.cls, &n2);
			st_events_str(evs, e->u.focus.title, &n3);
			if (n1 > ST_NAME_MAX || n2 > ST_NAME_MAX ||
			    n3 > ST_TITLE_MAX)
				return st_fail(err, ST_E_CAP,
					       "actions: event %zu: focus name "
					       "or title over its cap", i);
			break;
		case ST_EV_REDACTION:
			if (!len_class_name(e->u.redact.len_class) ||
			    e->u.redact.kind > ST_REDACTION_KIND_MAX)
				return st_fail(err, ST_E_CORRUPT,
					       "actions: event %zu: redaction "
					       "kind %u class %u out of range",
					       i, e->u.redact.kind,
					       e->u.redact.len_class);
			break;
		default:
			if (e->type < 1 || e->type > ST_EV_TYPE_MAX)
				return st_fail(err, ST_E_CORRUPT,
					       "actions: event %zu: unknown "
					       "type %u", i, e->type);
		}
	}
	return 0;
}

int st_actions_feed(struct st_actions *a, const struct st_events *evs,
		    int level, struct st_error *err)
{
	int rc = usable(a, err);
	if (rc < 0)
		return rc;
	if (!evs || level < 1 || level > 3)
		return st_fail(err, ST_E_INVAL,
			       "actions: give the events and a level of 1-3");
	if ((rc = check_segment(evs, err)) < 0)
		return rc;
	a->level = (uint8_t)level;
	/* From here only the callbacks can fail (and that is final). */
	for (size_t i = 0; i < evs->n && rc == 0; i++) {
		const struct st_event *e = &evs->ev[i];
		uint64_t t = evs->anchor_ns + e->t * evs->tick_ns;
		a->st.events++;
		switch (e->type) {
		case ST_EV_KEY_PRESS:
			if ((rc = quiet(a, t, false, err)) == 0)
				rc = on_key(a, evs, e, t, err);
			break;
		case ST_EV_KEY_RELEASE:
			rc = quiet(a, t, false, err);
			break;
		case ST_EV_POINTER:
			if ((rc = quiet(a, t, false, err)) == 0)
				rc = on_pointer(a, e, t, err);
			break;
		case ST_EV_BUTTON_PRESS:
			if ((rc = quiet(a, t, true, err)) == 0)
				rc = on_press(a, e, t, err);
			break;
		case ST_EV_BUTTON_RELEASE:
			if ((rc = quiet(a, t, false, err)) == 0)
				rc = on_release(a, e, t, err);
			break;
		case ST_EV_SCROLL:
			if ((rc = quiet(a, t, true, err)) == 0)
				rc = on_scroll(a, e, t, err);
			break;
		case ST_EV_REDACTION:
			if ((rc = quiet(a, t, false, err)) == 0)
				rc = on_redaction(a, e, t, err);
			break;
		case ST_EV_FOCUS:
			rc = on_focus(a, evs, e, err);
			break;
		case ST_EV_SCREEN:
			on_screen(a, e, t);
			break;
		case ST_EV_IDLE_START:
			rc = end_episode(a, err);
			break;
		case ST_EV_SESSION:
			if (e->u.session.marker != ST_SESSION_RESUME)
				rc = end_episode(a, err);
			break;
		default: /* idle end, keyframe */
			break;
		}
	}
	return rc;
}

int st_actions_cut(struct st_actions *a, struct st_error *err)
{
	int rc = usable(a, err);
	if (rc < 0 || (rc = end_episode(a, err)) < 0)
		return rc;
	/* Another device, or a gap: nothing of the old context holds. */
	a->cur = 0;
	a->slot[0].app_len = a->slot[0].cls_len = a->slot[0].title_len = 0;
	a->sw = a->sh = 0;
	a->screen_seen = false;
	a->have_input = false;
	a->clicked = false;
	return 0;
}

int st_actions_finish(struct st_actions *a, struct st_error *err)
{
	int rc = st_actions_cut(a, err);
	if (rc == 0)
		a->finished = true;
	return rc;
}

void st_actions_stats(const struct st_actions *a,
		      struct st_actions_stats *out)
{
	if (a)
		*out = a->st;
	else
		memset(out, 0, sizeof *out);
}

static bool prefix_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > ST_ACTIONS_PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c == '-' && i > 0)))
			return false;
	}
	return true;
}

int st_actions_new(const struct st_actions_cfg *cfg,
		   const struct st_actions_out *out, const char *id_prefix,
		   struct st_actions **ap, struct st_error *err)
{
	struct st_actions_cfg c;
	if (ap)
		*ap = NULL;
	if (cfg)
		c = *cfg;
	else
		st_actions_cfg_default(&c);
	if (!ap || !out || !out->step)
		return st_fail(err, ST_E_INVAL,
			       "actions: give an output with a step callback");
	if (!prefix_ok(id_prefix))
		return st_fail(err, ST_E_INVAL,
			       "actions: the episode id prefix must be 1-%u "
			       "characters of a-z 0-9 and -, not first",
			       ST_ACTIONS_PREFIX_MAX);
	if (c.wait_min_ms < ST_ACTIONS_WAIT_MIN_MS || c.wait_min_ms >= c.idle_ms)
		return st_fail(err, ST_E_INVAL,
			       "actions: wait_min_ms must be at least %u and "
			       "below idle_ms (%u, %u)", ST_ACTIONS_WAIT_MIN_MS,
			       c.wait_min_ms, c.idle_ms);
	if (c.idle_ms > ST_ACTIONS_IDLE_MAX_MS)
		return st_fail(err, ST_E_INVAL,
			       "actions: idle_ms %u is over %u", c.idle_ms,
			       ST_ACTIONS_IDLE_MAX_MS);
	if (c.click_slop_px > ST_ACTIONS_SLOP_MAX)
		return st_fail(err, ST_E_INVAL,
			       "actions: click_slop_px %u is over %u",
			       c.click_slop_px, ST_ACTIONS_SLOP_MAX);
	if (c.fields & ~(unsigned)ST_PURPOSE_F_ALL)
		return st_fail(err, ST_E_INVAL,
			       "actions: unknown field bits 0x%x",
			       c.fields & ~(unsigned)ST_PURPOSE_F_ALL);
	struct st_actions *a = st_mem_realloc(NULL, 0, sizeof *a, true);
	if (!a)
		return st_fail(err, ST_E_NOMEM,
			       "actions: out of locked memory (%zu bytes); "
			       "raise RLIMIT_MEMLOCK", sizeof *a);
	memset(a, 0, sizeof *a);
	a->cfg = c;
	a->out = *out;
	a->idle_ns = (uint64_t)c.idle_ms * NS_PER_MS;
	a->wait_ns = (uint64_t)c.wait_min_ms * NS_PER_MS;
	a->double_ns = (uint64_t)c.double_ms * NS_PER_MS;
	a->slop = c.click_slop_px;
	memcpy(a->prefix, id_prefix, strlen(id_prefix) + 1);
	a->level = 1;
	a->stride = 1;
	*ap = a;
	return 0;
}

void st_actions_free(struct st_actions *a)
{
	st_mem_free(a, sizeof *a, true);
}
