/* tracegen.h - owns the synthetic trace: a seeded, deterministic, human-shaped
 * event stream in one-minute segments. Never reads a device, clock or rand().
 *
 * For benches and tests: the output depends on the configuration only.
 *
 * What one trace holds (bench/README.md gives the measured mix per type;
 * per hour, averaged over seeds: ~44,500 events, 65% pointer, 28% key,
 * 5% scroll, 2% button):
 *   - segment 0 opens with a session start marker; every segment opens with
 *     one screen event (screen 0, 1920x1080 at 0,0) at t = 0; the trace then
 *     gives the initial focus and pointer position;
 *   - about 30 focus changes an hour (32 on average, 26-38 over 1000 seeds):
 *     a dwell of 55-150 s per window, and a switch after every idle period,
 *     by a click on the task bar, Alt+Tab, or a click on another browser
 *     tab or document, among eight applications (mail, writer, spreadsheet,
 *     xterm, browser, chat, file manager, code editor) with app id, class,
 *     title (UTF-8) and a pid fixed per application;
 *   - typing bursts (prose of 15-120 characters, shell commands, searches,
 *     chat lines, spreadsheet cells), each at a rate drawn uniformly from
 *     42-88 words per minute (5 characters a word, every non-modifier press
 *     counted, backspaces included), spread so that the burst's realised
 *     rate is the drawn one and ms rounding keeps it inside 40-90 wpm; US
 *     layout keycodes and keysyms, Shift around capitals and shifted
 *     punctuation, key rollover, about 3% of letters mistyped (a neighbour
 *     key) and corrected with BackSpace; Return and Tab where the text has
 *     them; a few Ctrl hotkeys; text (one UTF-8 character) on the press of
 *     a printable key only; mods is the X11 state before the event. Presses
 *     of one burst are less than 1.5 s apart, and two bursts (or a burst and
 *     a hotkey or Alt+Tab) at least 2 s apart;
 *   - pointer paths along smooth curves (cubic Bezier, minimum-jerk speed,
 *     Fitts-law duration, 15% overshoot and correction, 8% one-pixel
 *     tremor), sampled every 17-20 ms (never above 60 Hz, 58.8 at most) and
 *     only when the position changes; hovering runs of 2-6 such moves;
 *   - clicks (press and release exactly at the pointer, 12% double clicks,
 *     5% right clicks into a context menu, 1% middle), drags (press, path,
 *     release), scroll gestures of wheel notches (dy = +-1, +1 is down as
 *     button 5; 3% horizontal in dx) or, for 30% of gestures, smooth
 *     touchpad scrolls (dy in 1/1000 notch, at 60 Hz, ramping then decaying);
 *   - reading pauses of 1-12 s without input (never 25 s in a row), and
 *     two to three idle periods an hour, each 45 s-4 min without input:
 *     idle_start 30 s (ST_TRACEGEN_IDLE_AFTER_MS) after the last input,
 *     idle_end just before the first input after it.
 * Events of a segment are in time order; t is in ms (tick_ns = 1000000, what
 * X11 delivers) since the segment's anchor. */
#ifndef ST_TRACEGEN_H
#define ST_TRACEGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define ST_TRACEGEN_SEGMENT_MS 60000u
/* Longest trace one call makes: 31 days, so every loop has a bound. */
#define ST_TRACEGEN_DURATION_MAX_MS (UINT64_C(31) * 24 * 3600 * 1000)
/* No input for this long starts an idle period (the agent's threshold). */
#define ST_TRACEGEN_IDLE_AFTER_MS 30000u
/* Shortest gap between two pointer samples: 1000/60 rounded up. */
#define ST_TRACEGEN_POINTER_GAP_MS 17u

struct st_tracegen_cfg {
	uint64_t seed;
	uint64_t duration_ms; /* 1..ST_TRACEGEN_DURATION_MAX_MS */
	uint64_t anchor_ns;   /* wall clock (Unix ns) of the trace start */
	bool locked;	      /* make each segment's list with locked memory */
};

/* Called once per finished segment, in order (index 0, 1, ...). seg holds
 * the segment's events, anchored at anchor_ns + index minutes. The generator
 * finalises seg when fn returns; to keep it, move it out:
 *     kept = *seg; st_events_init(seg, seg->locked);
 * A negative return stops the run, which returns that code. */
typedef int (*st_tracegen_segment_fn)(void *ctx, uint64_t index,
				      struct st_events *seg,
				      struct st_error *err);

/* Generates the trace cfg describes and hands its ceil(duration / 1 min)
 * segments to fn. Same cfg, same events, byte for byte, on any platform
 * with IEEE doubles (only + - * / and sqrt are used). ST_E_INVAL for a
 * NULL fn or a duration outside 1..ST_TRACEGEN_DURATION_MAX_MS. */
int st_tracegen_run(const struct st_tracegen_cfg *cfg,
		    st_tracegen_segment_fn fn, void *ctx, struct st_error *err);

/* Number of segments st_tracegen_run hands out for duration_ms. */
uint64_t st_tracegen_segments(uint64_t duration_ms);

#endif
