/* capture_x11.c - X11 capture backend.
 *
 * Sources (../shared/NOTES-X11.md records why):
 * - RECORD (xcb-record) on a second connection is the one ordered stream of
 *   core device events, key, button and motion, with exact root coordinates
 *   and server times, including XTEST input and whatever window is under the
 *   pointer. Under Xvfb raw XI2 motion never comes and XI2 raw button events
 *   carry no position, so positions come from here, with no round trip.
 *   The same stream carries ChangeKeyboardMapping requests in order with the
 *   key events, which is how a key typed through a keycode that xdotool
 *   remapped for a moment still decodes to the right character.
 * - xkbcommon-x11 turns keycode + modifier state into keysym and text; XKB
 *   new-keyboard and map notifications rebuild the keymap (setxkbmap).
 * - EWMH _NET_ACTIVE_WINDOW (PropertyNotify on the root) gives focus, with
 *   WM_CLASS, _NET_WM_NAME / WM_NAME and _NET_WM_PID read once per change;
 *   without a window manager, FocusIn seen through RECORD triggers one
 *   GetInputFocus (the fallback).
 * - RandR monitors (or the root window's size) give screen geometry.
 * Round trips happen only on focus, keymap and screen changes, never per
 * input event. Nothing here logs.
 */
#include "capture.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/randr.h>
#include <xcb/record.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>
#include <xcb/xkb.h>
#include <xkbcommon/xkbcommon-x11.h>
#include <xkbcommon/xkbcommon.h>

#define X_CHANGE_KEYBOARD_MAPPING 100
#define KEYCODES 256
#define TREE_DEPTH_MAX 16     /* parent walk to a window with WM_CLASS */
#define MONITORS_MAX 16
#define DRAIN_MAX 4096        /* replies handled per dispatch call */
#define PROP_MAX_WORDS 1024   /* 4 KiB: the title cap */
#define SERVER_TIME_TRIES 256 /* events read while waiting for our own */
#define CTRL_ROUNDS_MAX 4     /* focus/screen re-reads per dispatch */

struct x11 {
	struct st_capture base;
	xcb_connection_t *ctrl, *data;
	xcb_window_t root;
	xcb_record_context_t rc;
	xcb_record_enable_context_cookie_t cookie;
	bool recording;       /* an enable request is outstanding */
	bool paused;
	uint8_t xkb_event_base, randr_event_base;
	bool have_randr;
	struct xkb_context *xkb;
	struct xkb_keymap *keymap;
	struct xkb_state *state;
	int32_t kbd_id;
	bool ov[KEYCODES];
	uint32_t ovsym[KEYCODES][2];
	xcb_atom_t a_active, a_wm_name, a_utf8, a_pid, a_wm_check;
	xcb_window_t active;  /* current focus top-level, 0 = none */
	bool ewmh;
	/* server time unwrapping (32-bit ms) */
	uint32_t last_raw;
	uint64_t epoch;
	bool have_time;
	bool need_focus, need_screen;
};

static uint64_t unwrap(struct x11 *x, uint32_t raw)
{
	if (!x->have_time) {
		x->have_time = true;
		x->last_raw = raw;
	}
	if (raw < x->last_raw && x->last_raw - raw > 0x80000000u)
		x->epoch += UINT64_C(1) << 32; /* wrapped after ~49 days */
	else if (raw < x->last_raw)
		raw = x->last_raw; /* out of order by a little: never go back */
	x->last_raw = raw;
	return (x->epoch + raw) * 1000000ull;
}

static xcb_atom_t atom(xcb_connection_t *c, const char *name)
{
	xcb_intern_atom_reply_t *r = xcb_intern_atom_reply(
		c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
	xcb_atom_t a = r ? r->atom : XCB_ATOM_NONE;
	free(r);
	return a;
}

static int load_keymap(struct x11 *x, struct st_error *err)
{
	struct xkb_keymap *km = xkb_x11_keymap_new_from_device(
		x->xkb, x->ctrl, x->kbd_id, XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (!km)
		return st_fail(err, ST_E_X11, "x11: cannot read the keymap");
	struct xkb_state *st = xkb_x11_state_new_from_device(km, x->ctrl,
							     x->kbd_id);
	if (!st) {
		xkb_keymap_unref(km);
		return st_fail(err, ST_E_X11, "x11: cannot read keyboard state");
	}
	xkb_state_unref(x->state);
	xkb_keymap_unref(x->keymap);
	x->keymap = km;
	x->state = st;
	return 0;
}

static int enable_record(struct x11 *x, struct st_error *err)
{
	xcb_record_range_t range;
	memset(&range, 0, sizeof range);
	const struct st_capture_kinds *k = &x->base.kinds;
	if (k->keys || k->pointer) {
		range.device_events.first = k->keys ? XCB_KEY_PRESS : XCB_BUTTON_PRESS;
		range.device_events.last = k->pointer ? XCB_MOTION_NOTIFY
						      : XCB_KEY_RELEASE;
	}
	/* FocusIn delivered to any client: the no-window-manager fallback */
	range.delivered_events.first = XCB_FOCUS_IN;
	range.delivered_events.last = XCB_FOCUS_IN;
	if (k->keys) {
		range.core_requests.first = X_CHANGE_KEYBOARD_MAPPING;
		range.core_requests.last = X_CHANGE_KEYBOARD_MAPPING;
	}
	xcb_record_client_spec_t spec = XCB_RECORD_CS_ALL_CLIENTS;
	x->rc = xcb_generate_id(x->ctrl);
	xcb_generic_error_t *e = xcb_request_check(
		x->ctrl, xcb_record_create_context_checked(x->ctrl, x->rc, 0, 1, 1,
							   &spec, &range));
	if (e) {
		free(e);
		return st_fail(err, ST_E_X11,
			       "x11: RECORD context refused by the server");
	}
	x->cookie = xcb_record_enable_context(x->data, x->rc);
	xcb_flush(x->data);
	x->recording = true;
	return 0;
}

static void disable_record(struct x11 *x)
{
	if (!x->recording)
		return;
	/* replies still in flight for the old request are dropped by xcb */
	xcb_discard_reply(x->data, x->cookie.sequence);
	xcb_record_disable_context(x->ctrl, x->rc);
	xcb_record_free_context(x->ctrl, x->rc);
	xcb_flush(x->ctrl);
	x->recording = false;
	/* the data connection gets EndOfData; later replies of the old
	 * cookie are drained and ignored in dispatch */
}

/* Learns the server's clock once, before any event: an empty append to a
 * property of our own on the root window comes back as a PropertyNotify
 * carrying the server time (ICCCM's way to get a timestamp). Screen and
 * focus events at start-up then carry real server times. */
static int server_time(struct x11 *x, struct st_error *err)
{
	xcb_atom_t a = atom(x->ctrl, "_SEALTRACE_TIME");
	xcb_change_property(x->ctrl, XCB_PROP_MODE_APPEND, x->root, a,
			    XCB_ATOM_STRING, 8, 0, "");
	xcb_flush(x->ctrl);
	for (int i = 0; i < SERVER_TIME_TRIES; i++) {
		xcb_generic_event_t *e = xcb_wait_for_event(x->ctrl);
		if (!e)
			break;
		xcb_property_notify_event_t *p = (void *)e;
		bool mine = (e->response_type & 0x7f) == XCB_PROPERTY_NOTIFY &&
			    p->window == x->root && p->atom == a;
		if (mine)
			(void)unwrap(x, p->time);
		free(e);
		if (mine)
			return 0;
	}
	return st_fail(err, ST_E_X11, "x11: cannot read the server's clock");
}

static int x11_init(struct st_capture *cap, const struct st_capture_cfg *cfg,
		    struct st_error *err)
{
	struct x11 *x = (struct x11 *)cap;
	int screen_no;
	x->ctrl = xcb_connect(cfg->display, &screen_no);
	x->data = xcb_connect(cfg->display, NULL);
	if (xcb_connection_has_error(x->ctrl) || xcb_connection_has_error(x->data)) {
		int rc = st_fail(err, ST_E_X11,
				 "x11: cannot connect to display '%s'; check "
				 "DISPLAY and that the X server runs",
				 cfg->display ? cfg->display
					      : (getenv("DISPLAY") ? getenv("DISPLAY")
								   : "(unset)"));
		xcb_disconnect(x->ctrl);
		xcb_disconnect(x->data);
		x->ctrl = x->data = NULL;
		return rc;
	}
	const xcb_setup_t *setup = xcb_get_setup(x->ctrl);
	xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
	for (int i = 0; i < screen_no && it.rem; i++)
		xcb_screen_next(&it);
	x->root = it.data->root;

	const xcb_query_extension_reply_t *rec =
		xcb_get_extension_data(x->ctrl, &xcb_record_id);
	if (!rec || !rec->present)
		return st_fail(err, ST_E_X11,
			       "x11: the display has no RECORD extension; start "
			       "the X server with it (Xorg: Load \"record\")");
	uint16_t maj, min;
	uint8_t evb, erb;
	if (!xkb_x11_setup_xkb_extension(x->ctrl, XKB_X11_MIN_MAJOR_XKB_VERSION,
					 XKB_X11_MIN_MINOR_XKB_VERSION,
					 XKB_X11_SETUP_XKB_EXTENSION_NO_FLAGS,
					 &maj, &min, &evb, &erb))
		return st_fail(err, ST_E_X11, "x11: the display has no usable XKB");
	x->xkb_event_base = evb;
	x->kbd_id = xkb_x11_get_core_keyboard_device_id(x->ctrl);
	x->xkb = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (!x->xkb || x->kbd_id < 0)
		return st_fail(err, ST_E_X11, "x11: no core keyboard");
	int rc = load_keymap(x, err);
	if (rc < 0)
		return rc;
	uint16_t want = XCB_XKB_EVENT_TYPE_NEW_KEYBOARD_NOTIFY |
			XCB_XKB_EVENT_TYPE_MAP_NOTIFY;
	xcb_xkb_select_events(x->ctrl, (xcb_xkb_device_spec_t)x->kbd_id, want, 0,
			      want, 0xff, 0xff, NULL);

	const xcb_query_extension_reply_t *rr =
		xcb_get_extension_data(x->ctrl, &xcb_randr_id);
	if (rr && rr->present) {
		x->have_randr = true;
		x->randr_event_base = rr->first_event;
		xcb_randr_select_input(x->ctrl, x->root,
				       XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE);
	}
	x->a_active = atom(x->ctrl, "_NET_ACTIVE_WINDOW");
	x->a_wm_name = atom(x->ctrl, "_NET_WM_NAME");
	x->a_utf8 = atom(x->ctrl, "UTF8_STRING");
	x->a_pid = atom(x->ctrl, "_NET_WM_PID");
	x->a_wm_check = atom(x->ctrl, "_NET_SUPPORTING_WM_CHECK");
	uint32_t mask = XCB_EVENT_MASK_PROPERTY_CHANGE;
	xcb_change_window_attributes(x->ctrl, x->root, XCB_CW_EVENT_MASK, &mask);
	if ((rc = server_time(x, err)) < 0)
		return rc;
	if ((rc = enable_record(x, err)) < 0)
		return rc;
	x->need_focus = x->need_screen = true;
	return 0;
}

static void x11_fini(struct st_capture *cap)
{
	struct x11 *x = (struct x11 *)cap;
	if (x->ctrl && !xcb_connection_has_error(x->ctrl))
		disable_record(x);
	xkb_state_unref(x->state);
	xkb_keymap_unref(x->keymap);
	xkb_context_unref(x->xkb);
	if (x->data)
		xcb_disconnect(x->data);
	if (x->ctrl)
		xcb_disconnect(x->ctrl);
}

static int x11_fd(struct st_capture *cap)
{
	return xcb_get_file_descriptor(((struct x11 *)cap)->data);
}

static int x11_fd2(struct st_capture *cap)
{
	return xcb_get_file_descriptor(((struct x11 *)cap)->ctrl);
}

static int x11_timeout_ms(struct st_capture *cap)
{
	struct x11 *x = (struct x11 *)cap;
	/* no timer: both connections are polled, and dispatch leaves no
	 * event queued inside xcb (see x11_dispatch) */
	return x->need_focus || x->need_screen ? 0 : -1;
}

/* Reads a property as bytes (at most PROP_MAX_WORDS words). */
static char *get_prop(struct x11 *x, xcb_window_t w, xcb_atom_t prop,
		      xcb_atom_t type, size_t *len)
{
	*len = 0;
	xcb_get_property_reply_t *r = xcb_get_property_reply(
		x->ctrl, xcb_get_property(x->ctrl, 0, w, prop, type, 0,
					  PROP_MAX_WORDS),
		NULL);
	if (!r)
		return NULL;
	int n = xcb_get_property_value_length(r);
	if (n <= 0 || r->format != 8) {
		if (n > 0 && r->format == 32 && n >= 4) {
			char *v = malloc(4);
			memcpy(v, xcb_get_property_value(r), 4);
			*len = 4;
			free(r);
			return v;
		}
		free(r);
		return NULL;
	}
	char *v = malloc((size_t)n + 1);
	if (v) {
		memcpy(v, xcb_get_property_value(r), (size_t)n);
		v[n] = 0;
		*len = (size_t)n;
	}
	free(r);
	return v;
}

static xcb_window_t with_class(struct x11 *x, xcb_window_t w)
{
	for (int i = 0; i < TREE_DEPTH_MAX && w && w != x->root; i++) {
		size_t n;
		char *c = get_prop(x, w, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, &n);
		free(c);
		if (c)
			return w;
		xcb_query_tree_reply_t *t =
			xcb_query_tree_reply(x->ctrl, xcb_query_tree(x->ctrl, w), NULL);
		if (!t)
			return 0;
		w = t->parent;
		free(t);
	}
	return 0;
}

/* A window manager is running when the root's _NET_SUPPORTING_WM_CHECK
 * names a window that names itself: a dead manager leaves the root's
 * properties behind, stale, but its check window is gone. */
static bool wm_alive(struct x11 *x)
{
	size_t n;
	xcb_window_t w = 0, self = 0;
	char *v = get_prop(x, x->root, x->a_wm_check, XCB_ATOM_WINDOW, &n);
	if (!v)
		return false;
	memcpy(&w, v, 4);
	free(v);
	v = get_prop(x, w, x->a_wm_check, XCB_ATOM_WINDOW, &n);
	if (!v)
		return false;
	memcpy(&self, v, 4);
	free(v);
	return self == w;
}

static xcb_window_t current_focus(struct x11 *x, bool *ewmh)
{
	size_t n;
	xcb_window_t w = 0;
	char *v = wm_alive(x) ? get_prop(x, x->root, x->a_active,
					 XCB_ATOM_WINDOW, &n)
			      : NULL;
	*ewmh = v != NULL;
	if (v) {
		memcpy(&w, v, 4);
		free(v);
		return w;
	}
	xcb_get_input_focus_reply_t *f =
		xcb_get_input_focus_reply(x->ctrl, xcb_get_input_focus(x->ctrl), NULL);
	if (f) {
		w = f->focus;
		free(f);
	}
	if (w == XCB_NONE || w == XCB_INPUT_FOCUS_POINTER_ROOT)
		return 0;
	return with_class(x, w);
}

static int emit_focus(struct x11 *x, const struct st_capture_sink *sink,
		      uint64_t t_ns, bool force, struct st_error *err)
{
	bool ewmh;
	xcb_window_t w = current_focus(x, &ewmh);
	x->ewmh = ewmh;
	if (w == x->active && !force)
		return 0;
	if (w != x->active) {
		uint32_t none = 0, prop = XCB_EVENT_MASK_PROPERTY_CHANGE;
		if (x->active)
			xcb_change_window_attributes(x->ctrl, x->active,
						     XCB_CW_EVENT_MASK, &none);
		if (w)
			xcb_change_window_attributes(x->ctrl, w, XCB_CW_EVENT_MASK,
						     &prop);
		x->active = w;
	}
	struct st_cap_event ev;
	memset(&ev, 0, sizeof ev);
	ev.e.type = ST_EV_FOCUS;
	ev.t_ns = t_ns;
	char *cls = NULL, *title = NULL, *pid = NULL;
	size_t cn = 0, tn = 0, pn = 0;
	if (w) {
		/* Only what the notice lists is even read. */
		if (x->base.kinds.apps) {
			cls = get_prop(x, w, XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, &cn);
			pid = get_prop(x, w, x->a_pid, XCB_ATOM_CARDINAL, &pn);
		}
		if (x->base.kinds.titles) {
			title = get_prop(x, w, x->a_wm_name, x->a_utf8, &tn);
			if (!title)
				title = get_prop(x, w, XCB_ATOM_WM_NAME,
						 XCB_ATOM_ANY, &tn);
		}
	}
	if (cls) {
		/* WM_CLASS is "instance\0Class\0": app id = instance */
		size_t il = strnlen(cls, cn);
		ev.app = cls;
		ev.app_len = il < ST_NAME_MAX ? il : ST_NAME_MAX;
		if (il + 1 < cn) {
			ev.cls = cls + il + 1;
			size_t l = strnlen(ev.cls, cn - il - 1);
			ev.cls_len = l < ST_NAME_MAX ? l : ST_NAME_MAX;
		}
	}
	if (title) {
		ev.title = title;
		ev.title_len = tn < ST_TITLE_MAX ? tn : ST_TITLE_MAX;
	}
	if (pid && pn == 4)
		memcpy(&ev.e.u.focus.pid, pid, 4);
	int rc = sink->event(sink->ctx, &ev, err);
	free(cls);
	free(title);
	free(pid);
	return rc;
}

static int emit_screens(struct x11 *x, const struct st_capture_sink *sink,
			uint64_t t_ns, struct st_error *err)
{
	struct st_cap_event ev;
	int n = 0, rc = 0;
	if (x->have_randr) {
		xcb_randr_get_monitors_reply_t *m = xcb_randr_get_monitors_reply(
			x->ctrl, xcb_randr_get_monitors(x->ctrl, x->root, 1), NULL);
		if (m) {
			xcb_randr_monitor_info_iterator_t it =
				xcb_randr_get_monitors_monitors_iterator(m);
			for (; it.rem && n < MONITORS_MAX && rc == 0;
			     xcb_randr_monitor_info_next(&it), n++) {
				memset(&ev, 0, sizeof ev);
				ev.e.type = ST_EV_SCREEN;
				ev.t_ns = t_ns;
				ev.e.u.screen.screen = (uint16_t)n;
				ev.e.u.screen.x = it.data->x;
				ev.e.u.screen.y = it.data->y;
				ev.e.u.screen.w = it.data->width;
				ev.e.u.screen.h = it.data->height;
				rc = sink->event(sink->ctx, &ev, err);
			}
			free(m);
		}
	}
	if (n == 0 && rc == 0) {
		xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(
			x->ctrl, xcb_get_geometry(x->ctrl, x->root), NULL);
		if (g) {
			memset(&ev, 0, sizeof ev);
			ev.e.type = ST_EV_SCREEN;
			ev.t_ns = t_ns;
			ev.e.u.screen.w = g->width;
			ev.e.u.screen.h = g->height;
			free(g);
			rc = sink->event(sink->ctx, &ev, err);
		}
	}
	return rc;
}

static void apply_mapping_request(struct x11 *x, const uint8_t *req, size_t len)
{
	if (len < 8)
		return;
	unsigned count = req[1], first = req[4], per = req[5];
	if (per == 0 || len < 8 + (size_t)count * per * 4)
		return;
	for (unsigned i = 0; i < count && first + i < KEYCODES; i++) {
		const uint8_t *s = req + 8 + (size_t)i * per * 4;
		uint32_t s0, s1 = 0;
		memcpy(&s0, s, 4);
		if (per > 1)
			memcpy(&s1, s + 4, 4);
		x->ov[first + i] = true;
		x->ovsym[first + i][0] = s0;
		x->ovsym[first + i][1] = s1 ? s1 : s0;
	}
}

static int key_event(struct x11 *x, const xcb_key_press_event_t *k,
		     const struct st_capture_sink *sink, struct st_error *err)
{
	struct st_cap_event ev;
	memset(&ev, 0, sizeof ev);
	uint8_t type = k->response_type & 0x7f;
	ev.e.type = type == XCB_KEY_PRESS ? ST_EV_KEY_PRESS : ST_EV_KEY_RELEASE;
	ev.t_ns = unwrap(x, k->time);
	ev.e.u.key.keycode = k->detail;
	ev.e.u.key.mods = k->state & 0xff;
	char text[ST_KEYTEXT_MAX + 1];
	int n = 0;
	uint32_t sym;
	if (x->ov[k->detail]) {
		sym = x->ovsym[k->detail][(k->state & XCB_MOD_MASK_SHIFT) ? 1 : 0];
		if (sym)
			n = xkb_keysym_to_utf8(sym, text, sizeof text) - 1;
	} else {
		unsigned group = (k->state >> 13) & 3;
		xkb_state_update_mask(x->state, k->state & 0xff, 0, 0, 0, 0, group);
		sym = xkb_state_key_get_one_sym(x->state, k->detail);
		n = xkb_state_key_get_utf8(x->state, k->detail, text, sizeof text);
	}
	ev.e.u.key.keysym = sym;
	/* Text only for what a person would see typed: no control bytes. */
	if (ev.e.type == ST_EV_KEY_PRESS && n > 0 && n <= (int)ST_KEYTEXT_MAX &&
	    (unsigned char)text[0] >= 0x20 && text[0] != 0x7f) {
		ev.text = text;
		ev.text_len = (size_t)n;
	}
	return sink->event(sink->ctx, &ev, err);
}

static int device_event(struct x11 *x, const uint8_t *p,
			const struct st_capture_sink *sink, struct st_error *err)
{
	uint8_t type = p[0] & 0x7f;
	struct st_cap_event ev;
	memset(&ev, 0, sizeof ev);
	switch (type) {
	case XCB_KEY_PRESS:
	case XCB_KEY_RELEASE:
		return key_event(x, (const xcb_key_press_event_t *)p, sink, err);
	case XCB_BUTTON_PRESS:
	case XCB_BUTTON_RELEASE: {
		const xcb_button_press_event_t *b = (const void *)p;
		ev.t_ns = unwrap(x, b->time);
		if (b->detail >= 4 && b->detail <= 7) {
			/* legacy wheel buttons: one scroll notch per press */
			if (type == XCB_BUTTON_RELEASE)
				return 0;
			ev.e.type = ST_EV_SCROLL;
			ev.e.u.scroll.x = b->root_x;
			ev.e.u.scroll.y = b->root_y;
			ev.e.u.scroll.dy = b->detail == 4 ? -1 : b->detail == 5 ? 1 : 0;
			ev.e.u.scroll.dx = b->detail == 6 ? -1 : b->detail == 7 ? 1 : 0;
			return sink->event(sink->ctx, &ev, err);
		}
		if (b->detail < 1 || b->detail > ST_BUTTON_MAX)
			return 0;
		ev.e.type = type == XCB_BUTTON_PRESS ? ST_EV_BUTTON_PRESS
						     : ST_EV_BUTTON_RELEASE;
		ev.e.u.btn.x = b->root_x;
		ev.e.u.btn.y = b->root_y;
		ev.e.u.btn.button = b->detail;
		return sink->event(sink->ctx, &ev, err);
	}
	case XCB_MOTION_NOTIFY: {
		const xcb_motion_notify_event_t *m = (const void *)p;
		ev.t_ns = unwrap(x, m->time);
		ev.e.type = ST_EV_POINTER;
		ev.e.u.ptr.x = m->root_x;
		ev.e.u.ptr.y = m->root_y;
		return sink->event(sink->ctx, &ev, err);
	}
	case XCB_FOCUS_IN:
		if (!x->ewmh)
			x->need_focus = true;
		return 0;
	default:
		return 0;
	}
}

static int record_reply(struct x11 *x, xcb_record_enable_context_reply_t *r,
			const struct st_capture_sink *sink, struct st_error *err)
{
	if (r->client_swapped)
		return 0; /* a client of the other byte order: not decodable */
	const uint8_t *d = xcb_record_enable_context_data(r);
	int len = xcb_record_enable_context_data_length(r);
	if (len <= 0)
		return 0;
	if (r->category == 0) { /* FromServer: 32-byte events */
		if (x->have_time == false)
			(void)unwrap(x, r->server_time);
		for (int off = 0; off + 32 <= len; off += 32) {
			if (x->paused)
				return 0;
			int rc = device_event(x, d + off, sink, err);
			if (rc < 0)
				return rc;
		}
	} else if (r->category == 1 && d[0] == X_CHANGE_KEYBOARD_MAPPING) {
		apply_mapping_request(x, d, (size_t)len);
	}
	return 0;
}

static int ctrl_events(struct x11 *x, const struct st_capture_sink *sink,
		       struct st_error *err)
{
	xcb_generic_event_t *e;
	int rc = 0;
	for (int i = 0; i < DRAIN_MAX && rc == 0 && (e = xcb_poll_for_event(x->ctrl));
	     i++) {
		uint8_t type = e->response_type & 0x7f;
		if (type == XCB_PROPERTY_NOTIFY) {
			xcb_property_notify_event_t *p = (void *)e;
			if (p->window == x->root && p->atom == x->a_active)
				x->need_focus = true;
			else if (p->window == x->active && p->window &&
				 (p->atom == x->a_wm_name ||
				  p->atom == XCB_ATOM_WM_NAME ||
				  p->atom == XCB_ATOM_WM_CLASS))
				rc = emit_focus(x, sink, unwrap(x, p->time), true,
						err);
		} else if (type == x->xkb_event_base) {
			/* xkb events share one code; the subtype is byte 1 */
			uint8_t xkb_type = ((uint8_t *)e)[1];
			if (xkb_type == XCB_XKB_NEW_KEYBOARD_NOTIFY)
				memset(x->ov, 0, sizeof x->ov); /* new layout */
			if (xkb_type == XCB_XKB_NEW_KEYBOARD_NOTIFY ||
			    xkb_type == XCB_XKB_MAP_NOTIFY)
				rc = load_keymap(x, err);
		} else if (x->have_randr &&
			   type == x->randr_event_base +
					   XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
			x->need_screen = true;
		}
		free(e);
	}
	return rc;
}

static int x11_dispatch(struct st_capture *cap, const struct st_capture_sink *sink,
			struct st_error *err)
{
	struct x11 *x = (struct x11 *)cap;
	int rc;
	if (xcb_connection_has_error(x->ctrl) || xcb_connection_has_error(x->data))
		return st_fail(err, ST_E_X11, "x11: lost the connection to the display");
	/* keymap changes first, so the keys after them decode with them */
	if ((rc = ctrl_events(x, sink, err)) < 0)
		return rc;
	for (int i = 0; i < DRAIN_MAX; i++) {
		void *reply = NULL;
		xcb_generic_error_t *xe = NULL;
		if (!xcb_poll_for_reply(x->data, x->cookie.sequence, &reply, &xe))
			break;
		free(xe);
		if (!reply)
			break; /* the request completed (context disabled) */
		if (x->recording && !x->paused)
			rc = record_reply(x, reply, sink, err);
		free(reply);
		if (rc < 0)
			return rc;
	}
	/* Round trips below may pull events into xcb's queue, where no poll
	 * would see them: drain until none is left (bounded). */
	for (int round = 0; round < CTRL_ROUNDS_MAX; round++) {
		uint64_t now = x->have_time ? (x->epoch + x->last_raw) * 1000000ull
					    : 0;
		if (x->need_screen) {
			x->need_screen = false;
			if ((rc = emit_screens(x, sink, now, err)) < 0)
				return rc;
		}
		if (x->need_focus) {
			x->need_focus = false;
			if ((rc = emit_focus(x, sink, now, false, err)) < 0)
				return rc;
		}
		xcb_flush(x->ctrl);
		if ((rc = ctrl_events(x, sink, err)) < 0)
			return rc;
		if (!x->need_focus && !x->need_screen)
			break;
	}
	return 0;
}

static int x11_set_paused(struct st_capture *cap, bool paused,
			  struct st_error *err)
{
	struct x11 *x = (struct x11 *)cap;
	if (paused == x->paused)
		return 0;
	x->paused = paused;
	if (paused) {
		/* stop the server sending input at all while paused */
		disable_record(x);
		return 0;
	}
	int rc = enable_record(x, err);
	x->need_focus = x->need_screen = true;
	return rc;
}

const struct st_capture_type st_capture_x11 = {
	.name = "x11",
	.size = sizeof(struct x11),
	.tick_ns = 1000000, /* X server time is in milliseconds */
	.init = x11_init,
	.fd = x11_fd,
	.fd2 = x11_fd2,
	.timeout_ms = x11_timeout_ms,
	.dispatch = x11_dispatch,
	.set_paused = x11_set_paused,
	.fini = x11_fini,
};
