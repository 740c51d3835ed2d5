/* fixtures.h - event lists the tests share (header-only, tests only). */
#ifndef ST_TEST_FIXTURES_H
#define ST_TEST_FIXTURES_H

#include <stdio.h>
#include <string.h>

#include "core/event.h"

static inline uint32_t fx_str(struct st_events *evs, const char *s)
{
	uint32_t id = 0;
	if (st_events_intern(evs, s, strlen(s), &id, NULL) < 0)
		abort();
	return id;
}

static inline void fx_push(struct st_events *evs, struct st_event e)
{
	struct st_error err = {0};
	if (st_events_push(evs, &e, &err) < 0) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		abort();
	}
}

/* One event of every type, with extremes: negative coordinates (a monitor
 * left of the primary), UTF-8 text, smooth and discrete scrolls. */
static inline void fx_every_type(struct st_events *evs)
{
	struct st_event e;
	evs->anchor_ns = 1790000000000000000ull; /* 2026-09-21 */
	evs->tick_ns = 1000000;
	uint64_t t = 0;
#define E(ty) (memset(&e, 0, sizeof e), e.t = (t += 7), e.type = (ty))
	E(ST_EV_SESSION);
	e.u.session.marker = ST_SESSION_START;
	fx_push(evs, e);
	E(ST_EV_SCREEN);
	e.u.screen.screen = 1, e.u.screen.x = -1920, e.u.screen.y = 0;
	e.u.screen.w = 1920, e.u.screen.h = 1080;
	fx_push(evs, e);
	E(ST_EV_FOCUS);
	e.u.focus.app = fx_str(evs, "org.gnome.Terminal");
	e.u.focus.cls = fx_str(evs, "XTerm");
	e.u.focus.title = fx_str(evs, "bash — ~/src · Ünïcødé ✓");
	e.u.focus.pid = 4242;
	fx_push(evs, e);
	E(ST_EV_POINTER);
	e.u.ptr.x = -1500, e.u.ptr.y = 300, e.u.ptr.screen = 1;
	fx_push(evs, e);
	E(ST_EV_BUTTON_PRESS);
	e.u.btn.x = -1500, e.u.btn.y = 301, e.u.btn.button = 1;
	fx_push(evs, e);
	E(ST_EV_BUTTON_RELEASE);
	e.u.btn.x = -1400, e.u.btn.y = 350, e.u.btn.button = 1;
	fx_push(evs, e);
	E(ST_EV_KEY_PRESS);
	e.u.key.keycode = 38, e.u.key.keysym = 0x61, e.u.key.mods = 0;
	e.u.key.text = fx_str(evs, "a");
	fx_push(evs, e);
	E(ST_EV_KEY_RELEASE);
	e.u.key.keycode = 38, e.u.key.keysym = 0x61;
	fx_push(evs, e);
	E(ST_EV_KEY_PRESS);
	e.u.key.keycode = 48, e.u.key.keysym = 0xe4, e.u.key.mods = 1;
	e.u.key.text = fx_str(evs, "ä");
	fx_push(evs, e);
	E(ST_EV_SCROLL);
	e.u.scroll.x = 10, e.u.scroll.y = 20, e.u.scroll.dy = -3;
	fx_push(evs, e);
	E(ST_EV_SCROLL);
	e.u.scroll.x = 10, e.u.scroll.y = 20, e.u.scroll.dx = 1500;
	e.u.scroll.smooth = 1;
	fx_push(evs, e);
	E(ST_EV_IDLE_START);
	fx_push(evs, e);
	E(ST_EV_IDLE_END);
	fx_push(evs, e);
	E(ST_EV_REDACTION);
	e.u.redact.kind = 3, e.u.redact.len_class = ST_LEN_17_PLUS;
	fx_push(evs, e);
	E(ST_EV_KEYFRAME);
	e.u.keyframe.frame = 0x0123456789abcdefull;
	fx_push(evs, e);
	E(ST_EV_SESSION);
	e.u.session.marker = ST_SESSION_GAP, e.u.session.reason = ST_REASON_CRASH;
	fx_push(evs, e);
#undef E
}

/* True when both lists hold the same events in the same order. */
static inline int fx_equal(const struct st_events *a, const struct st_events *b)
{
	if (a->n != b->n || a->anchor_ns != b->anchor_ns || a->tick_ns != b->tick_ns)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!st_event_equal(a, &a->ev[i], b, &b->ev[i]))
			return 0;
	return 1;
}

#endif
