/* actions.h - owns the training-data step format: opened events of one
 * device, in order, become episodes of actions (click, type, hotkey, ...)
 * with the equivalent pyautogui call, one compact JSON line per step.
 * Never opens a segment, never writes a file, never logs: lines go to the
 * caller's callbacks, and no error message quotes recorded content.
 *
 * The step line (DESIGN.md "Training-data format"; keys always present, in
 * this order):
 *   {"episode":"<prefix>-0001","index":0,"time":"2026-12-06T15:00:00.123Z",
 *    "time_ms":0,"app":"xterm","window_title":"~","screen":{"width":1920,
 *    "height":1080},"level":1,"action":{"type":"type","text":"ls -l"},
 *    "pyautogui":"pyautogui.write('ls -l')"}
 * Episodes are numbered from 1 per st_actions (4 digits, more past 9999);
 * index counts from 0 within the episode; time is the action's first event
 * in UTC, milliseconds truncated; time_ms is that minus the episode's first
 * step, both in whole ms, never negative (a step is never placed before the
 * step emitted ahead of it). The actions and their pyautogui strings:
 *   type          {"text"}  write('...')   printable text, no Ctrl/Alt/Super
 *   key           {"key"}   press('...')
 *   hotkey        {"keys"}  hotkey('ctrl', 'c')  Ctrl/Alt/Super held, or
 *                 Shift held on a key without text (shift+tab, shift+left)
 *   click, double_click, right_click, middle_click {"x","y"}
 *   drag          {"button","x","y","to_x","to_y","path"}
 *   scroll        {"x","y","dx","dy"}  dy > 0 up, dx > 0 right (pyautogui)
 *   move          {"x","y"}
 *   wait          {"seconds"}  2 decimals, a JSON number
 *   redacted      {"kind","length"}   pyautogui ""
 * Decisions beyond DESIGN.md, each pinned by tests/unit/test_actions.c:
 *   - the quiet time behind wait steps and idle cuts is measured between
 *     input events (keys, pointer, buttons, scrolls, redaction markers);
 *     no wait is inserted while a mouse button is held;
 *   - a type run also ends at a focus change (app, class or title), at
 *     ST_ACTIONS_TEXT_MAX bytes, and at any action, shown or withheld;
 *   - scroll events merge while they stay within click_slop_px of the
 *     first; smooth (1/1000 notch) sums are rounded to notches, a non-zero
 *     sum never to 0; a gesture summing to 0 in both axes is no step;
 *   - a step shows the app, title, screen and level at its first event
 *     (a click: the window in front at the press, though the press may
 *     focus another); a wait, those when the quiet time ended;
 *   - double click: the second press within double_ms of the first press
 *     and within click_slop_px of it; a drag: the pointer went beyond
 *     click_slop_px from the press at any sample or at the release;
 *   - modifier, dead and compose keys alone are no action and do not
 *     break a type run; keys without a name sealtrace-replay can press
 *     (unknown keysyms, media and browser keys) are dropped without
 *     breaking one either, and keypad keys become their characters;
 *     buttons 8-9 (they do end pending pointer actions) and gestures cut
 *     before their release are dropped; all dropped input is counted. */
#ifndef ST_ACTIONS_H
#define ST_ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/event.h"

/* Bytes of typed text in one type step: a longer run continues in the next
 * step (so a line stays bounded, see ST_ACTIONS_LINE_MAX). */
#define ST_ACTIONS_TEXT_MAX 4096u
/* Points in a drag's path (first and last kept, evenly thinned between). */
#define ST_ACTIONS_PATH_MAX 64u
/* Pointer samples held for one drag before it is thinned by half: bounds
 * memory for a button held down all day. */
#define ST_ACTIONS_SAMPLES_MAX 4096u
/* Caps sealtrace-replay puts on what it replays (src/replay/pyautogui.h),
 * kept here so that every step replays: coordinates (X11's range; others
 * are clamped), notches in one scroll step (a longer gesture continues in
 * the next step) and idle_ms (a wait is shorter, so at most an hour). */
#define ST_ACTIONS_COORD_MAX 32767
#define ST_ACTIONS_SCROLL_MAX 1000
#define ST_ACTIONS_IDLE_MAX_MS 3600000u
/* Shortest wait_min_ms: a wait step is at least 0.01 s. */
#define ST_ACTIONS_WAIT_MIN_MS 10u
/* Largest click_slop_px: a screen's width, far past any real slop. */
#define ST_ACTIONS_SLOP_MAX 65535u
/* Bytes of an episode id prefix: a-z 0-9 and - (not first); it names
 * files too, and the step schema allows no more. */
#define ST_ACTIONS_PREFIX_MAX 64u
/* Longest step line, '\n' included: a title and a text escaped for JSON
 * (6 bytes a byte at worst), the text again for Python then JSON (5),
 * the app (6), a full path and the fixed keys. */
#define ST_ACTIONS_LINE_MAX (6u * ST_TITLE_MAX + 11u * ST_ACTIONS_TEXT_MAX + \
			     6u * ST_NAME_MAX + 32u * ST_ACTIONS_PATH_MAX + 1024u)

/* Action types, the index of st_actions_stats.by_type. */
enum st_action_type {
	ST_ACT_CLICK = 0,
	ST_ACT_DOUBLE_CLICK,
	ST_ACT_RIGHT_CLICK,
	ST_ACT_MIDDLE_CLICK,
	ST_ACT_DRAG,
	ST_ACT_SCROLL,
	ST_ACT_TYPE,
	ST_ACT_HOTKEY,
	ST_ACT_KEY,
	ST_ACT_MOVE,
	ST_ACT_WAIT,
	ST_ACT_REDACTED,
	ST_ACT_TYPES = 12,
};

/* "click", "double_click", ... as in the step's "type"; NULL past the end. */
const char *st_action_type_name(unsigned type);

struct st_actions_cfg {
	uint32_t idle_ms;       /* episode cut: input quiet this long */
	uint32_t wait_min_ms;   /* a quiet time this long is a wait step */
	uint32_t click_slop_px; /* press and release this close: a click */
	uint32_t double_ms;     /* two clicks' presses this close: double */
	unsigned fields;        /* ST_PURPOSE_F_* granted (access/purpose.h):
				   no pointer: pointer actions left out; no
				   keys: key and hotkey left out; no text: a
				   type run becomes redacted "text_withheld";
				   no titles: "window_title":""; no apps:
				   "app":"" */
};

/* 60000, 1000, 4, 400, every field. */
void st_actions_cfg_default(struct st_actions_cfg *cfg);

/* Where steps go. begin comes before an episode's first step (an episode
 * without steps is never begun), end after its last. begin and end may be
 * NULL. A negative return stops the conversion: the call returns it and
 * every later call returns ST_E_STATE. The line is valid only during the
 * call; it holds recorded content, and lives in locked memory. */
struct st_actions_out {
	int (*begin)(void *ctx, const char *episode_id);
	int (*step)(void *ctx, const char *json_line, size_t len);
	int (*end)(void *ctx, const char *episode_id, uint64_t steps);
	void *ctx;
};

/* Counters for the manifest. No content: counts only. */
struct st_actions_stats {
	uint64_t events;   /* events fed */
	uint64_t steps;    /* step lines emitted */
	uint64_t episodes; /* episodes emitted (with at least one step) */
	uint64_t by_type[ST_ACT_TYPES]; /* steps by action type */
	/* Redaction steps by detector kind (name: st_detect_kind_name), and
	 * type runs withheld for want of the text field. */
	uint64_t redactions[ST_REDACTION_KIND_MAX + 1];
	uint64_t text_withheld;
	uint64_t withheld; /* actions left out: their field is not granted */
	uint64_t dropped;  /* input pyautogui cannot replay (see above) */
};

struct st_actions;

/* cfg NULL means st_actions_cfg_default. ST_E_INVAL for a NULL out or
 * out->step, a prefix that is empty, too long or outside [a-z0-9-], or a
 * cfg with wait_min_ms under ST_ACTIONS_WAIT_MIN_MS or not below idle_ms,
 * idle_ms over ST_ACTIONS_IDLE_MAX_MS, click_slop_px over
 * ST_ACTIONS_SLOP_MAX or fields outside ST_PURPOSE_F_ALL. The caller frees *a with st_actions_free. */
int st_actions_new(const struct st_actions_cfg *cfg,
		   const struct st_actions_out *out, const char *id_prefix,
		   struct st_actions **a, struct st_error *err);

/* Feeds one opened segment's events, in order (the segments of one device
 * in sequence order). level (1..3) is the segment's and goes into each of
 * its steps. Steps may stay pending across calls (a type run, a click that
 * may become a double click); st_actions_cut or _finish flushes them.
 * A segment that fails the converter's check (ST_E_ORDER: a time past
 * 2554; ST_E_CAP: a string over its cap; ST_E_CORRUPT: an unknown type or
 * redaction class) is refused whole, nothing of it converted, and the
 * converter stays usable: cut, as at a gap, and feed the next one. Only a
 * callback's failure is final. */
int st_actions_feed(struct st_actions *a, const struct st_events *evs,
		    int level, struct st_error *err);

/* Ends the current episode and forgets the device's context (focus,
 * screen, pointer, last input): call it at a sequence gap between segments
 * and before another device or person. */
int st_actions_cut(struct st_actions *a, struct st_error *err);

/* Cut, then nothing more may be fed (ST_E_STATE). */
int st_actions_finish(struct st_actions *a, struct st_error *err);

void st_actions_stats(const struct st_actions *a,
		      struct st_actions_stats *out);

/* Wipes and frees; NULL is fine. Pending steps are discarded, not sent. */
void st_actions_free(struct st_actions *a);

#endif
