/* recorder.c - the open segment, motion coalescing, markers and cuts. */
#include "recorder.h"

#include <stdlib.h>
#include <string.h>

#include "core/keys.h"

#define CTX_SCREENS 16 /* monitors remembered for segment starts */

struct ctx_state { /* last known context, repeated at each segment start */
	bool have_focus;
	bool have_screen[CTX_SCREENS];
	struct st_event screen[CTX_SCREENS];
	char app[ST_NAME_MAX], cls[ST_NAME_MAX], title[ST_TITLE_MAX];
	size_t app_len, cls_len, title_len;
	uint32_t pid;
};

struct st_recorder {
	struct st_recorder_cfg cfg;
	struct st_events open;     /* locked */
	bool open_started;         /* anchor set */
	uint64_t open_mono;        /* monotonic time the segment opened */
	uint64_t last_t;           /* ticks of the last event in open */

	/* source time -> wall time: wall = wall0 + (src - src0) */
	bool mapped;
	uint64_t src0, wall0;

	/* motion coalescing, in source ns */
	uint64_t motion_min_ns;
	bool have_emit;
	uint64_t last_emit_src;
	bool pending;
	struct st_cap_event pend;
	uint64_t pend_mono;

	/* idle */
	bool idle;
	uint64_t last_input_mono, last_input_src;

	enum st_rec_state state;
	uint16_t reason;
	uint64_t since_wall;
	/* markers to open the next segment with (start, resume, gaps) */
	uint8_t next_marker[4];
	uint16_t next_reason[4];
	unsigned n_next;

	struct ctx_state ctx;
	struct st_buf held; /* a sealed segment the spool had no room for */
	uint64_t held_seq;
	struct st_recorder_stats st;
	struct st_zctx *z;
};

static void queue_marker(struct st_recorder *r, uint8_t marker,
			 uint16_t reason);
static int marker_now(struct st_recorder *r, uint8_t marker, uint16_t reason,
		      struct st_error *err);

static uint64_t mono(const struct st_recorder *r)
{
	return st_mono_ns(r->cfg.clock);
}
static uint64_t wall(const struct st_recorder *r)
{
	return st_wall_ns(r->cfg.clock);
}

int st_recorder_new(const struct st_recorder_cfg *cfg, struct st_recorder **out,
		    struct st_error *err)
{
	*out = NULL;
	if (!cfg->clock || !cfg->person_pk || !cfg->device_sk || !cfg->spool ||
	    cfg->tick_ns == 0)
		return st_fail(err, ST_E_INVAL, "recorder: incomplete configuration");
	struct st_recorder *r = calloc(1, sizeof *r);
	if (!r)
		return st_fail(err, ST_E_NOMEM, "recorder: out of memory");
	r->cfg = *cfg;
	if (!r->cfg.segment_ns)
		r->cfg.segment_ns = ST_SEGMENT_SECONDS_DEFAULT * 1000000000ull;
	if (!r->cfg.max_events)
		r->cfg.max_events = ST_SEGMENT_EVENTS_CAP;
	if (!r->cfg.idle_ns)
		r->cfg.idle_ns = ST_IDLE_SECONDS_DEFAULT * 1000000000ull;
	if (!r->cfg.motion_hz)
		r->cfg.motion_hz = ST_MOTION_HZ_MAX;
	/* round the interval up to whole ticks so that the rate is never over */
	uint64_t iv = (1000000000ull + r->cfg.motion_hz - 1) / r->cfg.motion_hz;
	r->motion_min_ns = (iv + cfg->tick_ns - 1) / cfg->tick_ns * cfg->tick_ns;
	st_events_init(&r->open, true);
	r->open.tick_ns = cfg->tick_ns;
	st_buf_init(&r->held, false);
	r->z = st_zctx_new();
	if (!r->z) {
		free(r);
		return st_fail(err, ST_E_NOMEM, "recorder: out of memory");
	}
	r->state = ST_REC_RECORDING;
	if (cfg->start_state == ST_REC_STOPPED) {
		r->state = ST_REC_STOPPED;
		r->reason = cfg->start_reason;
	}
	r->since_wall = wall(r);
	queue_marker(r, ST_SESSION_START, 0);
	r->last_input_mono = mono(r);
	*out = r;
	return 0;
}

void st_recorder_free(struct st_recorder *r)
{
	if (!r)
		return;
	st_events_fini(&r->open);
	st_buf_fini(&r->held);
	st_zctx_free(r->z);
	memset(&r->ctx, 0, sizeof r->ctx); /* titles are content */
	free(r);
}

static uint64_t src_to_wall(struct st_recorder *r, uint64_t src)
{
	if (r->cfg.wall_times) {
		r->mapped = true;
		if (src > r->wall0)
			r->wall0 = src; /* latest time seen: "now" for markers */
		return src;
	}
	if (!r->mapped) {
		r->mapped = true;
		r->src0 = src;
		r->wall0 = wall(r);
	}
	if (src >= r->src0)
		return r->wall0 + (src - r->src0);
	uint64_t back = r->src0 - src;
	return back < r->wall0 ? r->wall0 - back : 0;
}

/* Ticks of wall time w in the open segment; never before the last event. */
static uint64_t ticks_of(struct st_recorder *r, uint64_t w)
{
	uint64_t t = w > r->open.anchor_ns ? (w - r->open.anchor_ns) /
						   r->open.tick_ns
					   : 0;
	return t < r->last_t ? r->last_t : t;
}

static int push(struct st_recorder *r, struct st_event *e, struct st_error *err)
{
	int rc = st_events_push(&r->open, e, err);
	if (rc == 0)
		r->last_t = e->t;
	return rc;
}

static int intern(struct st_recorder *r, const char *s, size_t n, uint32_t *id,
		  struct st_error *err)
{
	return s && n ? st_events_intern(&r->open, s, n, id, err)
		      : (*id = 0, 0);
}

static int push_focus(struct st_recorder *r, uint64_t t, struct st_error *err)
{
	struct st_event e = {.t = t, .type = ST_EV_FOCUS};
	int rc;
	if ((rc = intern(r, r->ctx.app, r->ctx.app_len, &e.u.focus.app, err)) < 0 ||
	    (rc = intern(r, r->ctx.cls, r->ctx.cls_len, &e.u.focus.cls, err)) < 0 ||
	    (rc = intern(r, r->ctx.title, r->ctx.title_len, &e.u.focus.title,
			 err)) < 0)
		return rc;
	e.u.focus.pid = r->ctx.pid;
	return push(r, &e, err);
}

/* Opens a segment at wall time w: anchor, the pending marker, and the last
 * known screen and focus so that every segment describes itself. */
static int open_segment(struct st_recorder *r, uint64_t w, struct st_error *err)
{
	int rc;
	r->open.anchor_ns = w - w % r->open.tick_ns;
	r->open_started = true;
	r->open_mono = mono(r);
	r->last_t = 0;
	for (unsigned i = 0; i < r->n_next; i++) {
		struct st_event m = {.t = 0, .type = ST_EV_SESSION};
		m.u.session.marker = r->next_marker[i];
		m.u.session.reason = r->next_reason[i];
		if ((rc = push(r, &m, err)) < 0)
			return rc;
	}
	r->n_next = 0;
	for (unsigned i = 0; i < CTX_SCREENS; i++) {
		if (!r->ctx.have_screen[i])
			continue;
		struct st_event s = r->ctx.screen[i];
		s.t = 0;
		if ((rc = push(r, &s, err)) < 0)
			return rc;
	}
	if (r->ctx.have_focus && (rc = push_focus(r, 0, err)) < 0)
		return rc;
	return 0;
}

/* Queues a marker for the start of the next segment; the queue keeps the
 * first ones (start, then a gap) and folds the rest into the last slot. */
static void queue_marker(struct st_recorder *r, uint8_t marker, uint16_t reason)
{
	unsigned i = r->n_next < 4 ? r->n_next++ : 3;
	r->next_marker[i] = marker;
	r->next_reason[i] = reason;
}

static int ensure_open(struct st_recorder *r, uint64_t w, struct st_error *err)
{
	return r->open_started ? 0 : open_segment(r, w, err);
}

static uint8_t level_of(const struct st_events *evs)
{
	/* The filter (issue "privacy filter") raises this to 3 for HR and
	 * similar text; typed text is level 2, context only is level 1. */
	return (st_events_kinds(evs) & ST_KIND_TEXT) ? 2 : 1;
}

static int put_held(struct st_recorder *r, struct st_error *err)
{
	int rc = st_spool_put(r->cfg.spool, r->held_seq, r->held.p, r->held.len,
			      err);
	if (rc < 0)
		return rc;
	r->st.segments++;
	r->st.sealed_bytes += r->held.len;
	st_buf_reset(&r->held);
	r->st.blocked = false;
	return 0;
}

/* Re-interns e's strings, which name ids of from, into to. */
static int rebind_strings(const struct st_events *from, struct st_events *to,
			  struct st_event *e, struct st_error *err)
{
	uint32_t *ids[3] = {NULL, NULL, NULL};
	if (e->type == ST_EV_KEY_PRESS || e->type == ST_EV_KEY_RELEASE)
		ids[0] = &e->u.key.text;
	else if (e->type == ST_EV_FOCUS)
		ids[0] = &e->u.focus.app, ids[1] = &e->u.focus.cls,
		ids[2] = &e->u.focus.title;
	for (int k = 0; k < 3 && ids[k]; k++) {
		size_t len;
		const char *str = st_events_str(from, *ids[k], &len);
		int rc = st_events_intern(to, str, len, ids[k], err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Moves open.ev[from..n) into dst (locked), strings and all. */
static int take_tail(struct st_recorder *r, size_t from, struct st_events *dst,
		     struct st_error *err)
{
	struct st_events *o = &r->open;
	dst->anchor_ns = o->anchor_ns;
	dst->tick_ns = o->tick_ns;
	for (size_t i = from; i < o->n; i++) {
		struct st_event e = o->ev[i];
		int rc = rebind_strings(o, dst, &e, err);
		if (rc == 0)
			rc = st_events_push(dst, &e, err);
		if (rc < 0)
			return rc;
	}
	memset(o->ev + from, 0, (o->n - from) * sizeof *o->ev);
	o->n = from;
	return 0;
}

static bool only_context(const struct st_events *evs)
{
	for (size_t i = 0; i < evs->n; i++)
		if (evs->ev[i].type != ST_EV_SCREEN && evs->ev[i].type != ST_EV_FOCUS)
			return false;
	return true;
}

static int seal_open(struct st_recorder *r, bool allow_carry,
		     struct st_error *err)
{
	int rc;
	if (!r->open_started)
		return 0;
	if (r->st.blocked)
		return st_fail(err, ST_E_SPOOL_FULL,
			       "spool full: a sealed segment is still waiting "
			       "for room");
	size_t carry = r->open.n;
	uint8_t level = 0;
	if (r->cfg.filter &&
	    (rc = r->cfg.filter(r->cfg.filter_ctx, &r->open,
				allow_carry ? &carry : NULL, &level, err)) < 0) {
		/* fail closed: nothing unfiltered is sealed, and the hole is
		 * visible at the start of the next segment */
		st_events_clear(&r->open);
		r->open_started = false;
		queue_marker(r, ST_SESSION_GAP, ST_REASON_LEVEL4);
		return rc;
	}
	struct st_events tail;
	st_events_init(&tail, true);
	if (carry < r->open.n && (rc = take_tail(r, carry, &tail, err)) < 0) {
		st_events_fini(&tail);
		st_events_clear(&r->open);
		r->open_started = false;
		return rc;
	}
	rc = 0;
	if (r->open.n && !(tail.n && only_context(&r->open))) {
		struct st_seal_params p = r->cfg.seal;
		p.level = level ? level : level_of(&r->open);
		if ((rc = st_spool_next_seq(r->cfg.spool, &p.seq, err)) == 0)
			rc = st_segment_seal(&p, &r->open, r->cfg.person_pk,
					     r->cfg.device_sk, r->z, &r->held, err);
		if (rc == 0) {
			r->held_seq = p.seq;
			if (p.seq > r->st.last_seq)
				r->st.last_seq = p.seq;
		} else
			st_buf_reset(&r->held);
	}
	/* the plaintext is gone from here on, sealed or not */
	st_events_clear(&r->open);
	r->open_started = false;
	if (rc == 0 && tail.n) {
		/* the line still being typed opens the next segment */
		uint64_t w0 = tail.anchor_ns + tail.ev[0].t * tail.tick_ns;
		rc = open_segment(r, w0, err);
		for (size_t i = 0; rc == 0 && i < tail.n; i++) {
			struct st_event e = tail.ev[i];
			uint64_t w = tail.anchor_ns + e.t * tail.tick_ns;
			rc = rebind_strings(&tail, &r->open, &e, err);
			e.t = ticks_of(r, w);
			if (rc == 0)
				rc = push(r, &e, err);
		}
	}
	st_events_fini(&tail);
	if (rc < 0)
		return rc;
	if (!r->held.len)
		return 0;
	rc = put_held(r, err);
	if (rc == ST_E_SPOOL_FULL) {
		/* keep the sealed bytes and stop recording: nothing is dropped */
		r->st.blocked = true;
		r->state = ST_REC_STOPPED;
		r->reason = ST_REASON_SPOOL_FULL;
		r->since_wall = wall(r);
		/* a carried line already opened the next segment, and it stays
		 * open through the stop: the gap goes in it, after the line */
		if (r->open_started)
			return marker_now(r, ST_SESSION_GAP,
					  ST_REASON_SPOOL_FULL, err);
		queue_marker(r, ST_SESSION_GAP, ST_REASON_SPOOL_FULL);
		return 0; /* a state, not a failure: status shows it */
	}
	return rc;
}

static int flush_pending(struct st_recorder *r, uint64_t upto_src,
			 struct st_error *err)
{
	if (!r->pending)
		return 0;
	uint64_t boundary = r->last_emit_src + r->motion_min_ns;
	if (r->have_emit && upto_src < boundary)
		return 0;
	struct st_cap_event p = r->pend;
	r->pending = false;
	/* The pointer rested at this position from its time until now, so it
	 * is truthful to stamp it at the boundary of the rate limit. */
	if (r->have_emit && p.t_ns < boundary)
		p.t_ns = boundary;
	uint64_t w = src_to_wall(r, p.t_ns);
	int rc = ensure_open(r, w, err);
	if (rc < 0)
		return rc;
	p.e.t = ticks_of(r, w);
	r->have_emit = true;
	r->last_emit_src = p.t_ns;
	return push(r, &p.e, err);
}

static bool is_input(uint8_t type)
{
	return type >= ST_EV_KEY_PRESS && type <= ST_EV_SCROLL;
}

int st_recorder_event(struct st_recorder *r, const struct st_cap_event *ev,
		      struct st_error *err)
{
	int rc;
	uint8_t type = ev->e.type;
	/* Context is remembered even while paused, so the first segment after
	 * a resume starts with the right window; it is never written then. */
	if (type == ST_EV_FOCUS) {
		struct ctx_state *c = &r->ctx;
		c->have_focus = true;
		/* X properties may be Latin-1: only valid UTF-8 is kept */
		c->app_len = ev->app ? st_utf8_sanitize(ev->app, ev->app_len, c->app,
							ST_NAME_MAX)
				     : 0;
		c->cls_len = ev->cls ? st_utf8_sanitize(ev->cls, ev->cls_len, c->cls,
							ST_NAME_MAX)
				     : 0;
		c->title_len = ev->title ? st_utf8_sanitize(ev->title, ev->title_len,
							    c->title, ST_TITLE_MAX)
					 : 0;
		c->pid = ev->e.u.focus.pid;
	} else if (type == ST_EV_SCREEN && ev->e.u.screen.screen < CTX_SCREENS) {
		r->ctx.have_screen[ev->e.u.screen.screen] = true;
		r->ctx.screen[ev->e.u.screen.screen] = ev->e;
	}
	if (r->state != ST_REC_RECORDING) {
		r->st.events_dropped++;
		return 0;
	}
	r->st.events_in++;
	uint64_t now = mono(r);
	if (is_input(type)) {
		if (r->idle) {
			r->idle = false;
			uint64_t w = src_to_wall(r, ev->t_ns);
			if ((rc = ensure_open(r, w, err)) < 0)
				return rc;
			struct st_event ie = {.t = ticks_of(r, w),
					      .type = ST_EV_IDLE_END};
			if ((rc = push(r, &ie, err)) < 0)
				return rc;
		}
		r->last_input_mono = now;
		r->last_input_src = ev->t_ns;
	}
	if (type == ST_EV_POINTER) {
		if (r->have_emit && ev->t_ns < r->last_emit_src + r->motion_min_ns) {
			if (r->pending)
				r->st.motion_coalesced++;
			r->pending = true;
			r->pend = *ev;
			r->pend_mono = now;
			return 0;
		}
		if (r->pending)
			r->st.motion_coalesced++;
		r->pending = false;
	} else if (r->pending) {
		bool positioned = type == ST_EV_BUTTON_PRESS ||
				  type == ST_EV_BUTTON_RELEASE ||
				  type == ST_EV_SCROLL;
		if (positioned &&
		    ev->t_ns < r->last_emit_src + r->motion_min_ns) {
			/* the event's own exact position supersedes it */
			r->pending = false;
			r->st.motion_coalesced++;
		} else if ((rc = flush_pending(r, ev->t_ns, err)) < 0) {
			return rc;
		}
	}
	uint64_t w = src_to_wall(r, ev->t_ns);
	/* time cut, judged on the events' own clock */
	if (r->open_started && w >= r->open.anchor_ns + r->cfg.segment_ns &&
	    (rc = seal_open(r, true, err)) < 0)
		return rc;
	if (r->open.n >= r->cfg.max_events && (rc = seal_open(r, true, err)) < 0)
		return rc;
	if (r->state != ST_REC_RECORDING) {
		/* the cut found the spool full: this event is not recorded, so
		 * it counts as dropped, not as accepted */
		r->st.events_in--;
		r->st.events_dropped++;
		return 0;
	}
	bool opened_now = !r->open_started;
	if ((rc = ensure_open(r, w, err)) < 0)
		return rc;
	/* a context event that opens a segment is already in it */
	if (opened_now && (type == ST_EV_FOCUS ||
			   (type == ST_EV_SCREEN && ev->e.u.screen.screen < CTX_SCREENS)))
		return 0;
	struct st_event e = ev->e;
	e.t = ticks_of(r, w);
	switch (type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		if (ev->text && ev->text_len) {
			char t[ST_KEYTEXT_MAX];
			size_t n = st_utf8_sanitize(ev->text, ev->text_len, t,
						    sizeof t);
			if ((rc = intern(r, t, n, &e.u.key.text, err)) < 0)
				return rc;
		}
		break;
	case ST_EV_FOCUS:
		return push_focus(r, e.t, err);
	case ST_EV_POINTER:
		r->have_emit = true;
		r->last_emit_src = ev->t_ns;
		break;
	default:
		break;
	}
	return push(r, &e, err);
}

static int sink_event(void *ctx, const struct st_cap_event *ev,
		      struct st_error *err)
{
	return st_recorder_event(ctx, ev, err);
}

struct st_capture_sink st_recorder_sink(struct st_recorder *r)
{
	return (struct st_capture_sink){sink_event, r};
}

uint64_t st_recorder_deadline_ns(const struct st_recorder *r)
{
	uint64_t d = UINT64_MAX;
	if (r->st.blocked)
		d = r->open_mono + 1000000000ull; /* retry the spool each second */
	if (r->state != ST_REC_RECORDING)
		return d;
	if (r->pending) {
		uint64_t b = r->last_emit_src + r->motion_min_ns;
		uint64_t wait = b > r->pend.t_ns ? b - r->pend.t_ns : 0;
		if (r->pend_mono + wait < d)
			d = r->pend_mono + wait;
	}
	if (!r->idle && r->last_input_mono + r->cfg.idle_ns < d)
		d = r->last_input_mono + r->cfg.idle_ns;
	if (r->open_started && r->open_mono + r->cfg.segment_ns < d)
		d = r->open_mono + r->cfg.segment_ns;
	return d;
}

int st_recorder_tick(struct st_recorder *r, struct st_error *err)
{
	int rc;
	uint64_t now = mono(r);
	if (r->st.blocked) {
		r->open_mono = now;
		rc = put_held(r, err);
		if (rc == ST_E_SPOOL_FULL)
			return 0; /* still full: stay stopped, try again later */
		if (rc < 0)
			return rc;
		if (r->state == ST_REC_STOPPED && r->reason == ST_REASON_SPOOL_FULL) {
			r->state = ST_REC_RECORDING;
			r->reason = 0;
			r->since_wall = wall(r);
		}
	}
	if (r->state != ST_REC_RECORDING)
		return 0;
	if (r->pending) {
		uint64_t b = r->last_emit_src + r->motion_min_ns;
		uint64_t wait = b > r->pend.t_ns ? b - r->pend.t_ns : 0;
		if (now >= r->pend_mono + wait &&
		    (rc = flush_pending(r, b, err)) < 0)
			return rc;
	}
	if (!r->idle && now >= r->last_input_mono + r->cfg.idle_ns) {
		r->idle = true;
		uint64_t w = r->mapped ? src_to_wall(r, r->last_input_src) +
						 r->cfg.idle_ns
				       : wall(r);
		if ((rc = ensure_open(r, w, err)) < 0)
			return rc;
		struct st_event e = {.t = ticks_of(r, w), .type = ST_EV_IDLE_START};
		if ((rc = push(r, &e, err)) < 0)
			return rc;
	}
	if (r->open_started && now >= r->open_mono + r->cfg.segment_ns)
		return seal_open(r, true, err);
	return 0;
}

int st_recorder_cut(struct st_recorder *r, struct st_error *err)
{
	int rc = 0;
	if (r->pending && r->state == ST_REC_RECORDING)
		rc = flush_pending(r, UINT64_MAX, err);
	if (rc == 0 && !r->st.blocked)
		rc = seal_open(r, false, err);
	if (rc == 0 && r->st.blocked)
		rc = st_fail(err, ST_E_SPOOL_FULL,
			     "the spool is full: recording is stopped until "
			     "segments are sent; nothing was dropped");
	return rc;
}

/* Now, on the events' clock: with replayed wall times the latest event time,
 * so that a replay gives the same bytes every time. */
static uint64_t now_wall(struct st_recorder *r)
{
	if (r->cfg.wall_times)
		return r->mapped ? r->wall0 : 0;
	return wall(r);
}

static int marker_now(struct st_recorder *r, uint8_t marker, uint16_t reason,
		      struct st_error *err)
{
	if (r->cfg.wall_times && !r->mapped) {
		/* replayed times: no "now" before the first event */
		queue_marker(r, marker, reason);
		return 0;
	}
	uint64_t w = now_wall(r);
	int rc = ensure_open(r, w, err);
	if (rc < 0)
		return rc;
	struct st_event m = {.t = ticks_of(r, w), .type = ST_EV_SESSION};
	m.u.session.marker = marker;
	m.u.session.reason = reason;
	return push(r, &m, err);
}

static int halt(struct st_recorder *r, enum st_rec_state to, uint16_t reason,
		struct st_error *err)
{
	int rc = 0;
	bool was_recording = r->state == ST_REC_RECORDING;
	if (was_recording) {
		if (r->pending)
			rc = flush_pending(r, UINT64_MAX, err);
		/* the pause itself is recorded, then the segment is sealed so
		 * nothing of before the pause waits in memory */
		if (rc == 0)
			rc = marker_now(r, to == ST_REC_PAUSED ? ST_SESSION_PAUSE
							       : ST_SESSION_GAP,
					reason, err);
		if (rc == 0)
			rc = seal_open(r, false, err);
	}
	r->pending = false;
	if (r->state != to || r->reason != reason)
		r->since_wall = wall(r);
	if (!(r->state == ST_REC_STOPPED && r->reason == ST_REASON_SPOOL_FULL &&
	      r->st.blocked)) {
		r->state = to;
		r->reason = reason;
	}
	if (was_recording)
		queue_marker(r, ST_SESSION_RESUME, reason);
	return rc == ST_E_SPOOL_FULL ? 0 : rc;
}

int st_recorder_pause(struct st_recorder *r, uint16_t reason,
		      struct st_error *err)
{
	return halt(r, ST_REC_PAUSED, reason, err);
}

int st_recorder_stop(struct st_recorder *r, uint16_t reason,
		     struct st_error *err)
{
	return halt(r, ST_REC_STOPPED, reason, err);
}

int st_recorder_resume(struct st_recorder *r, struct st_error *err)
{
	(void)err;
	if (r->state == ST_REC_RECORDING)
		return 0;
	if (r->st.blocked)
		return st_fail(err, ST_E_SPOOL_FULL,
			       "cannot resume: the spool is full; recording "
			       "starts again when segments are sent");
	r->state = ST_REC_RECORDING;
	r->reason = 0;
	r->since_wall = wall(r);
	r->have_emit = false;
	r->idle = false;
	r->last_input_mono = mono(r);
	return 0;
}

int st_recorder_gap(struct st_recorder *r, uint16_t reason,
		    struct st_error *err)
{
	/* with replayed times there is no "now" before the first event */
	if (r->state != ST_REC_RECORDING || (r->cfg.wall_times && !r->mapped)) {
		queue_marker(r, ST_SESSION_GAP, reason);
		return 0;
	}
	return marker_now(r, ST_SESSION_GAP, reason, err);
}

int st_recorder_forget(struct st_recorder *r, uint64_t since_ns,
		       size_t *removed, struct st_error *err)
{
	int rc;
	*removed = 0;
	/* the open segment: keep only what came before since_ns */
	if (r->open_started) {
		size_t keep = 0;
		while (keep < r->open.n &&
		       r->open.anchor_ns + r->open.ev[keep].t * r->open.tick_ns <
			       since_ns)
			keep++;
		memset(r->open.ev + keep, 0, (r->open.n - keep) * sizeof *r->open.ev);
		r->open.n = keep;
		r->last_t = keep ? r->open.ev[keep - 1].t : 0;
		if (r->pending && src_to_wall(r, r->pend.t_ns) >= since_ns)
			r->pending = false;
	}
	uint32_t since_min = (uint32_t)(since_ns / 60000000000ull);
	/* a sealed segment waiting for spool room is unsent recording too:
	 * once spooled it would be uploaded with the forgotten minutes */
	if (r->st.blocked) {
		struct st_segment_header h;
		if (st_segment_parse_header(r->held.p, r->held.len, &h, NULL) < 0 ||
		    h.t_end_min > since_min) {
			st_buf_reset(&r->held);
			r->st.blocked = false;
			(*removed)++;
			if (r->state == ST_REC_STOPPED &&
			    r->reason == ST_REASON_SPOOL_FULL) {
				/* nothing waits any more: record again; the
				 * queued spool-full gap marks the stop */
				r->state = ST_REC_RECORDING;
				r->reason = 0;
				r->since_wall = wall(r);
				r->have_emit = false;
				r->idle = false;
				r->last_input_mono = mono(r);
			}
		}
	}
	/* spooled segments whose minutes reach since_ns (whole minutes: when
	 * in doubt, delete) */
	uint64_t *seqs = NULL;
	size_t n = 0;
	if ((rc = st_spool_list(r->cfg.spool, &seqs, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct st_buf b;
		struct st_segment_header h;
		st_buf_init(&b, false);
		rc = st_spool_read(r->cfg.spool, seqs[i], &b, err);
		if (rc == 0)
			rc = st_segment_parse_header(b.p, b.len, &h, err);
		st_buf_fini(&b);
		if (rc < 0)
			break;
		if (h.t_end_min > since_min) {
			if ((rc = st_spool_remove(r->cfg.spool, seqs[i], err)) < 0)
				break;
			(*removed)++;
		}
	}
	free(seqs);
	if (rc < 0)
		return rc;
	return st_recorder_gap(r, ST_REASON_FORGET, err);
}

int st_recorder_set_lease_seq(struct st_recorder *r, uint64_t lease_seq,
			      struct st_error *err)
{
	if (lease_seq == r->cfg.seal.lease_seq)
		return 0;
	int rc = 0;
	if (r->pending && r->state == ST_REC_RECORDING)
		rc = flush_pending(r, UINT64_MAX, err);
	r->pending = false;
	/* no carry: a line being typed belongs to the lease it was typed
	 * under, not to the next one */
	if (rc == 0 && r->open_started && !r->st.blocked)
		rc = seal_open(r, false, err);
	if (r->open_started) {
		/* not sealed (a failure, or the spool full): dropped, never
		 * relabelled with the new lease */
		st_events_clear(&r->open);
		r->open_started = false;
		queue_marker(r, ST_SESSION_GAP, ST_REASON_SPOOL_FULL);
	}
	r->cfg.seal.lease_seq = lease_seq;
	return rc == ST_E_SPOOL_FULL ? 0 : rc;
}

int st_recorder_discard_unsent(struct st_recorder *r, uint64_t below_lease_seq,
			       size_t *removed, uint64_t *first_removed,
			       struct st_error *err)
{
	int rc;
	*removed = 0;
	*first_removed = 0;
	if (r->cfg.seal.lease_seq < below_lease_seq && r->open_started) {
		st_events_clear(&r->open);
		r->open_started = false;
		r->pending = false;
	}
	if (r->st.blocked) {
		struct st_segment_header h;
		if (st_segment_parse_header(r->held.p, r->held.len, &h, NULL) < 0 ||
		    h.lease_seq < below_lease_seq) {
			st_buf_reset(&r->held);
			r->st.blocked = false;
			(*removed)++;
			*first_removed = r->held_seq;
			if (r->state == ST_REC_STOPPED &&
			    r->reason == ST_REASON_SPOOL_FULL)
				r->reason = ST_REASON_SERVER;
		}
	}
	uint64_t *seqs = NULL;
	size_t n = 0;
	if ((rc = st_spool_list(r->cfg.spool, &seqs, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct st_buf b;
		struct st_segment_header h;
		st_buf_init(&b, false);
		rc = st_spool_read(r->cfg.spool, seqs[i], &b, err);
		if (rc == 0)
			rc = st_segment_parse_header(b.p, b.len, &h, err);
		st_buf_fini(&b);
		if (rc == ST_E_NOT_FOUND) {
			rc = 0; /* uploaded and removed since it was listed */
			continue;
		}
		if (rc < 0)
			break;
		if (h.lease_seq >= below_lease_seq)
			continue;
		rc = st_spool_remove(r->cfg.spool, seqs[i], err);
		if (rc == ST_E_NOT_FOUND) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		(*removed)++;
		if (!*first_removed || seqs[i] < *first_removed)
			*first_removed = seqs[i];
	}
	free(seqs);
	if (rc < 0)
		return rc;
	return st_recorder_gap(r, ST_REASON_SERVER, err);
}

void st_recorder_stats(const struct st_recorder *r,
		       struct st_recorder_stats *out)
{
	*out = r->st;
	out->lease_seq = r->cfg.seal.lease_seq;
	out->state = r->state;
	out->reason = r->reason;
	out->since_wall_ns = r->since_wall;
	out->open_events = r->open.n;
}

int st_recorder_close(struct st_recorder *r, struct st_error *err)
{
	int rc = 0;
	if (r->state == ST_REC_RECORDING) {
		if (r->pending)
			rc = flush_pending(r, UINT64_MAX, err);
		if (rc == 0)
			rc = marker_now(r, ST_SESSION_END, 0, err);
	}
	if (rc == 0 && !r->st.blocked)
		rc = seal_open(r, false, err);
	if (rc == 0 && r->st.blocked)
		rc = st_fail(err, ST_E_SPOOL_FULL,
			     "1 sealed segment (sequence %llu) could not be "
			     "spooled before stopping: the spool is full; it is "
			     "dropped and its sequence number shows as a gap",
			     (unsigned long long)r->held_seq);
	st_recorder_free(r);
	return rc;
}
