/* segment.c - canonical columnar body codec and its zstd frame.
 *
 * Layout (docs/format.md has it byte by byte):
 *   varint anchor_ns, varint tick_ns
 *   varint nstrings, then per string: varint len, bytes (first-use order)
 *   varint nevents, varint count[type] for type 1..ST_EV_TYPE_MAX
 *   ST_STREAMS streams, each: varint length, bytes:
 *     0 TYPE  one byte per event
 *     1 TIME  varint delta ticks from the previous event (first: from 0),
 *             for every event that is not a pointer sample
 *     2 PTIME the same delta for pointer samples (steady ~16 ms: kept apart
 *             so that zstd sees the rhythm)
 *     3 KEY   keycode, keysym, mods, text id (varints)
 *     4 POS   zigzag x, y residuals: a pointer sample that follows a pointer
 *             sample is predicted to keep its last step; other positioned
 *             events are coded from the last position
 *     5 MISC  everything else
 * Columns keep like with like, which is what lets zstd reach ~2 bytes/event.
 */
#include "segment.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "mem.h"

enum { S_TYPE, S_TIME, S_PTIME, S_KEY, S_POS, S_MISC };

struct st_zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

struct st_zctx *st_zctx_new(void)
{
	struct st_zctx *z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	z->c = ZSTD_createCCtx();
	z->d = ZSTD_createDCtx();
	if (!z->c || !z->d) {
		st_zctx_free(z);
		return NULL;
	}
	return z;
}

void st_zctx_free(struct st_zctx *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

void st_events_counts(const struct st_events *evs,
		      uint64_t counts[ST_EV_TYPE_MAX + 1])
{
	memset(counts, 0, sizeof(uint64_t) * (ST_EV_TYPE_MAX + 1));
	for (size_t i = 0; i < evs->n; i++)
		if (evs->ev[i].type <= ST_EV_TYPE_MAX)
			counts[evs->ev[i].type]++;
}

/* Maps table ids to canonical ids (first use order). */
struct remap {
	uint32_t *map; /* old id -> new id, 0 = unused */
	uint32_t *order; /* new id - 1 -> old id */
	uint32_t n;
	bool locked;
	size_t cap;
};

static uint32_t remap_id(struct remap *m, uint32_t old)
{
	if (old == 0)
		return 0;
	if (!m->map[old]) {
		m->order[m->n++] = old;
		m->map[old] = m->n;
	}
	return m->map[old];
}

/* Position state shared by encoder and decoder. */
struct pos {
	int64_t x, y;   /* last position */
	int64_t vx, vy; /* last step */
	bool last_ptr;  /* the last positioned event was a pointer sample */
	bool vel;       /* ... and so was the one before: the step is a velocity */
};

/* The predicted position of the next event of the given kind. */
static void predict(const struct pos *ps, bool pointer, int64_t *px, int64_t *py)
{
	*px = ps->x + (pointer && ps->vel ? ps->vx : 0);
	*py = ps->y + (pointer && ps->vel ? ps->vy : 0);
}

static void advance(struct pos *ps, bool pointer, int64_t x, int64_t y)
{
	ps->vx = x - ps->x;
	ps->vy = y - ps->y;
	ps->vel = pointer && ps->last_ptr;
	ps->last_ptr = pointer;
	ps->x = x;
	ps->y = y;
}

static void put_pos(struct st_buf *s, int32_t x, int32_t y, bool pointer,
		    struct pos *ps)
{
	int64_t px, py;
	predict(ps, pointer, &px, &py);
	st_buf_svarint(s, (int64_t)x - px);
	st_buf_svarint(s, (int64_t)y - py);
	advance(ps, pointer, x, y);
}

int st_body_encode(const struct st_events *evs, struct st_buf *out,
		   struct st_error *err)
{
	int rc = 0;
	struct st_buf s[ST_STREAMS];
	struct remap m = {0};
	for (int i = 0; i < ST_STREAMS; i++)
		st_buf_init(&s[i], evs->locked);
	if (evs->tick_ns == 0 || evs->tick_ns > ST_TICK_NS_MAX)
		return st_fail(err, ST_E_INVAL,
			       "tick of %u ns is outside 1..%u", evs->tick_ns,
			       ST_TICK_NS_MAX);
	m.cap = (size_t)evs->nstr + 1;
	m.map = calloc(m.cap, sizeof *m.map);
	m.order = calloc(m.cap, sizeof *m.order);
	if (!m.map || !m.order) {
		rc = st_fail(err, ST_E_NOMEM, "body encode: out of memory");
		goto out;
	}
	uint64_t counts[ST_EV_TYPE_MAX + 1];
	st_events_counts(evs, counts);
	/* size every locked buffer once: growing them step by step costs a
	 * guarded allocation and a copy per step */
	size_t nkey = counts[ST_EV_KEY_PRESS] + counts[ST_EV_KEY_RELEASE];
	size_t npos = counts[ST_EV_POINTER] + counts[ST_EV_BUTTON_PRESS] +
		      counts[ST_EV_BUTTON_RELEASE] + counts[ST_EV_SCROLL];
	if (!st_buf_reserve(&s[S_TYPE], evs->n + 1) ||
	    !st_buf_reserve(&s[S_TIME], (evs->n - counts[ST_EV_POINTER]) * 3 + 16) ||
	    !st_buf_reserve(&s[S_PTIME], counts[ST_EV_POINTER] * 2 + 16) ||
	    !st_buf_reserve(&s[S_KEY], nkey * 8 + 16) ||
	    !st_buf_reserve(&s[S_POS], npos * 4 + 16) ||
	    !st_buf_reserve(&s[S_MISC], (evs->n - nkey) * 2 + 16) ||
	    !st_buf_reserve(out, evs->n * 4 + evs->arena_len + 256)) {
		rc = st_fail(err, ST_E_NOMEM, "body encode: out of memory");
		goto out;
	}
	uint64_t prev_t = 0;
	struct pos ps = {0};
	for (size_t i = 0; i < evs->n; i++) {
		const struct st_event *e = &evs->ev[i];
		if ((rc = st_event_check(evs, e, i, err)) < 0)
			goto out;
		if (e->t < prev_t) {
			rc = st_fail(err, ST_E_ORDER,
				     "event %zu: time %llu before previous %llu",
				     i, (unsigned long long)e->t,
				     (unsigned long long)prev_t);
			goto out;
		}
		st_buf_u8(&s[S_TYPE], e->type);
		st_buf_varint(&s[e->type == ST_EV_POINTER ? S_PTIME : S_TIME],
			      e->t - prev_t);
		prev_t = e->t;
		struct st_buf *k = &s[S_KEY], *p = &s[S_POS], *x = &s[S_MISC];
		switch (e->type) {
		case ST_EV_KEY_PRESS:
		case ST_EV_KEY_RELEASE:
			st_buf_varint(k, e->u.key.keycode);
			st_buf_varint(k, e->u.key.keysym);
			st_buf_varint(k, e->u.key.mods);
			st_buf_varint(k, remap_id(&m, e->u.key.text));
			break;
		case ST_EV_POINTER:
			put_pos(p, e->u.ptr.x, e->u.ptr.y, true, &ps);
			st_buf_varint(x, e->u.ptr.screen);
			break;
		case ST_EV_BUTTON_PRESS:
		case ST_EV_BUTTON_RELEASE:
			put_pos(p, e->u.btn.x, e->u.btn.y, false, &ps);
			st_buf_varint(x, e->u.btn.button);
			break;
		case ST_EV_SCROLL:
			put_pos(p, e->u.scroll.x, e->u.scroll.y, false, &ps);
			st_buf_svarint(x, e->u.scroll.dx);
			st_buf_svarint(x, e->u.scroll.dy);
			st_buf_u8(x, e->u.scroll.smooth);
			break;
		case ST_EV_FOCUS:
			st_buf_varint(x, remap_id(&m, e->u.focus.app));
			st_buf_varint(x, remap_id(&m, e->u.focus.cls));
			st_buf_varint(x, remap_id(&m, e->u.focus.title));
			st_buf_varint(x, e->u.focus.pid);
			break;
		case ST_EV_SCREEN:
			st_buf_varint(x, e->u.screen.screen);
			st_buf_svarint(x, e->u.screen.x);
			st_buf_svarint(x, e->u.screen.y);
			st_buf_varint(x, e->u.screen.w);
			st_buf_varint(x, e->u.screen.h);
			break;
		case ST_EV_SESSION:
			st_buf_varint(x, e->u.session.marker);
			st_buf_varint(x, e->u.session.reason);
			break;
		case ST_EV_REDACTION:
			st_buf_varint(x, e->u.redact.kind);
			st_buf_varint(x, e->u.redact.len_class);
			break;
		case ST_EV_KEYFRAME:
			st_buf_varint(x, e->u.keyframe.frame);
			break;
		default: /* idle start/end carry nothing */
			break;
		}
	}
	st_buf_varint(out, evs->anchor_ns);
	st_buf_varint(out, evs->tick_ns);
	st_buf_varint(out, m.n);
	for (uint32_t i = 0; i < m.n; i++) {
		size_t len;
		const char *str = st_events_str(evs, m.order[i], &len);
		st_buf_varint(out, len);
		st_buf_put(out, str, len);
	}
	st_buf_varint(out, evs->n);
	for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++)
		st_buf_varint(out, counts[t]);
	for (int i = 0; i < ST_STREAMS; i++) {
		if (s[i].oom)
			out->oom = true;
		st_buf_varint(out, s[i].len);
		st_buf_put(out, s[i].p, s[i].len);
	}
	if (out->oom)
		rc = st_fail(err, ST_E_NOMEM, "body encode: out of memory");
	else if (out->len > ST_BODY_MAX)
		rc = st_fail(err, ST_E_CAP,
			     "body of %zu bytes is over the cap of %u; cut the "
			     "segment earlier",
			     out->len, ST_BODY_MAX);
out:
	free(m.map);
	free(m.order);
	for (int i = 0; i < ST_STREAMS; i++)
		st_buf_fini(&s[i]);
	return rc;
}

/* Decoder helpers: turn a reader status into a message with the offset. */
#define RD(call, what)                                                     \
	do {                                                               \
		int rc_ = (call);                                          \
		if (rc_ < 0)                                               \
			return st_fail(err, rc_, "body: %s at byte %zu of %zu",    \
				       rc_ == ST_E_TRUNCATED ? "truncated"  \
							     : "bad varint", \
				       base + r->pos, total);               \
	} while (0)

struct dec {
	struct st_rd st[ST_STREAMS];
	size_t off[ST_STREAMS]; /* stream start within the body */
	size_t total;
	uint32_t max_str;      /* highest string id referenced so far */
	uint32_t nstr;
};

static int str_ref(struct dec *d, uint64_t id, size_t i, const char *field,
		   uint32_t *out, struct st_error *err)
{
	if (id > d->nstr)
		return st_fail(err, ST_E_CORRUPT,
			       "body: event %zu %s names string %llu of %u", i,
			       field, (unsigned long long)id, d->nstr);
	if (id > d->max_str + 1)
		return st_fail(err, ST_E_CORRUPT,
			       "body: event %zu %s names string %llu before "
			       "string %u was used (not canonical)",
			       i, field, (unsigned long long)id, d->max_str + 1);
	if (id > d->max_str)
		d->max_str = (uint32_t)id;
	*out = (uint32_t)id;
	return 0;
}

static int sv(struct dec *d, int s, uint64_t *v, size_t i, struct st_error *err)
{
	struct st_rd *r = &d->st[s];
	int rc = st_rd_varint(r, v);
	if (rc < 0)
		return st_fail(err, rc, "body: event %zu: %s in stream %d at "
				       "byte %zu of %zu",
			       i, rc == ST_E_TRUNCATED ? "truncated" : "bad varint",
			       s, d->off[s] + r->pos, d->total);
	return 0;
}

static int sv32(struct dec *d, int s, uint32_t *v, uint64_t cap, size_t i,
		const char *field, struct st_error *err)
{
	uint64_t x;
	int rc = sv(d, s, &x, i, err);
	if (rc < 0)
		return rc;
	if (x > cap)
		return st_fail(err, ST_E_CORRUPT,
			       "body: event %zu: %s %llu over %llu", i, field,
			       (unsigned long long)x, (unsigned long long)cap);
	*v = (uint32_t)x;
	return 0;
}

static int ss32(struct dec *d, int s, int64_t base, int32_t *v, size_t i,
		const char *field, struct st_error *err)
{
	uint64_t u;
	int rc = sv(d, s, &u, i, err);
	if (rc < 0)
		return rc;
	int64_t delta = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
	/* base is within 3 * 2^32 of zero (a prediction from int32s); a valid
	 * residual keeps the sum an int32, and the bound keeps it from
	 * overflowing before the check */
	if (delta > (INT64_C(1) << 35) || delta < -(INT64_C(1) << 35) ||
	    base + delta > INT32_MAX || base + delta < INT32_MIN)
		return st_fail(err, ST_E_CORRUPT,
			       "body: event %zu: %s out of 32-bit range", i,
			       field);
	*v = (int32_t)(base + delta);
	return 0;
}

int st_body_decode(const uint8_t *p, size_t n, struct st_events *evs,
		   struct st_error *err)
{
	struct st_rd rd, *r = &rd;
	const size_t base = 0, total = n;
	uint64_t v, nstr, nev;
	struct dec d = {.total = n};
	int rc;

	if (evs->n || evs->nstr)
		return st_fail(err, ST_E_INVAL, "body decode needs empty events");
	if (n > ST_BODY_MAX)
		return st_fail(err, ST_E_CAP, "body: %zu bytes over the cap of %u",
			       n, ST_BODY_MAX);
	st_rd_init(r, p, n);
	RD(st_rd_varint(r, &evs->anchor_ns), "anchor");
	RD(st_rd_varint(r, &v), "tick");
	if (v == 0 || v > ST_TICK_NS_MAX)
		return st_fail(err, ST_E_CORRUPT,
			       "body: tick %llu ns outside 1..%u",
			       (unsigned long long)v, ST_TICK_NS_MAX);
	evs->tick_ns = (uint32_t)v;
	RD(st_rd_varint(r, &nstr), "string count");
	if (nstr > ST_SEGMENT_STRINGS_MAX)
		return st_fail(err, ST_E_CAP,
			       "body: %llu strings over the cap of %u",
			       (unsigned long long)nstr, ST_SEGMENT_STRINGS_MAX);
	if (nstr && st_events_reserve(evs, 0, nstr, n - r->pos) < 0)
		return st_fail(err, ST_E_NOMEM, "body: out of memory");
	for (uint64_t i = 0; i < nstr; i++) {
		const uint8_t *s;
		uint32_t id;
		RD(st_rd_varint(r, &v), "string length");
		if (v == 0 || v > ST_TITLE_MAX)
			return st_fail(err, v ? ST_E_CAP : ST_E_CORRUPT,
				       "body: string %llu has length %llu (1..%u) "
				       "at byte %zu",
				       (unsigned long long)i + 1,
				       (unsigned long long)v, ST_TITLE_MAX, r->pos);
		RD(st_rd_skip(r, v, &s), "string");
		if ((rc = st_events_intern(evs, (const char *)s, v, &id, err)) < 0)
			return rc;
		if (id != i + 1)
			return st_fail(err, ST_E_CORRUPT,
				       "body: string %llu repeats string %u",
				       (unsigned long long)i + 1, id);
	}
	d.nstr = (uint32_t)nstr;
	RD(st_rd_varint(r, &nev), "event count");
	if (nev > ST_SEGMENT_EVENTS_MAX)
		return st_fail(err, ST_E_CAP,
			       "body: %llu events over the cap of %u",
			       (unsigned long long)nev, ST_SEGMENT_EVENTS_MAX);
	uint64_t counts[ST_EV_TYPE_MAX + 1] = {0}, sum = 0;
	for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++) {
		RD(st_rd_varint(r, &counts[t]), "count");
		if (counts[t] > nev)
			return st_fail(err, ST_E_CORRUPT,
				       "body: count of %s %llu over %llu events",
				       st_event_type_name(t),
				       (unsigned long long)counts[t],
				       (unsigned long long)nev);
		sum += counts[t];
	}
	if (sum != nev)
		return st_fail(err, ST_E_CORRUPT,
			       "body: type counts add to %llu, not %llu",
			       (unsigned long long)sum, (unsigned long long)nev);
	for (int s = 0; s < ST_STREAMS; s++) {
		const uint8_t *sp;
		RD(st_rd_varint(r, &v), "stream length");
		size_t at = r->pos;
		RD(st_rd_skip(r, v, &sp), "stream");
		st_rd_init(&d.st[s], sp, v);
		d.off[s] = at;
	}
	if (r->pos != n)
		return st_fail(err, ST_E_CORRUPT,
			       "body: %zu trailing bytes after the last stream",
			       n - r->pos);
	if (d.st[S_TYPE].len != nev)
		return st_fail(err, ST_E_CORRUPT,
			       "body: type stream has %zu bytes for %llu events",
			       d.st[S_TYPE].len, (unsigned long long)nev);
	if (nev && st_events_reserve(evs, nev, 0, 0) < 0)
		return st_fail(err, ST_E_NOMEM, "body: out of memory");
	uint64_t t = 0, seen[ST_EV_TYPE_MAX + 1] = {0};
	struct pos ps = {0};
	for (size_t i = 0; i < nev; i++) {
		struct st_event *e = &evs->ev[i];
		memset(e, 0, sizeof *e);
		e->type = d.st[S_TYPE].p[i];
		if ((rc = sv(&d, e->type == ST_EV_POINTER ? S_PTIME : S_TIME, &v, i,
			     err)) < 0)
			return rc;
		if (v > ST_TICKS_MAX - t)
			return st_fail(err, ST_E_ORDER,
				       "body: event %zu time over 2^62 ticks", i);
		t += v;
		e->t = t;
		uint32_t u32;
		switch (e->type) {
		case ST_EV_KEY_PRESS:
		case ST_EV_KEY_RELEASE:
			if ((rc = sv32(&d, S_KEY, &e->u.key.keycode, UINT32_MAX, i,
				       "keycode", err)) < 0 ||
			    (rc = sv32(&d, S_KEY, &e->u.key.keysym, UINT32_MAX, i,
				       "keysym", err)) < 0 ||
			    (rc = sv32(&d, S_KEY, &e->u.key.mods, UINT32_MAX, i,
				       "mods", err)) < 0 ||
			    (rc = sv(&d, S_KEY, &v, i, err)) < 0 ||
			    (rc = str_ref(&d, v, i, "key text", &e->u.key.text,
					  err)) < 0)
				return rc;
			break;
		case ST_EV_POINTER:
		case ST_EV_BUTTON_PRESS:
		case ST_EV_BUTTON_RELEASE:
		case ST_EV_SCROLL: {
			int32_t x, y;
			int64_t px, py;
			bool ptr = e->type == ST_EV_POINTER;
			predict(&ps, ptr, &px, &py);
			if ((rc = ss32(&d, S_POS, px, &x, i, "x", err)) < 0 ||
			    (rc = ss32(&d, S_POS, py, &y, i, "y", err)) < 0)
				return rc;
			advance(&ps, ptr, x, y);
			if (e->type == ST_EV_POINTER) {
				if ((rc = sv32(&d, S_MISC, &u32, ST_SCREEN_INDEX_MAX,
					       i, "screen", err)) < 0)
					return rc;
				e->u.ptr.x = x, e->u.ptr.y = y;
				e->u.ptr.screen = (uint16_t)u32;
			} else if (e->type == ST_EV_SCROLL) {
				e->u.scroll.x = x, e->u.scroll.y = y;
				if ((rc = ss32(&d, S_MISC, 0, &e->u.scroll.dx, i,
					       "scroll dx", err)) < 0 ||
				    (rc = ss32(&d, S_MISC, 0, &e->u.scroll.dy, i,
					       "scroll dy", err)) < 0)
					return rc;
				uint8_t sm;
				if (st_rd_u8(&d.st[S_MISC], &sm) < 0)
					return st_fail(err, ST_E_TRUNCATED,
						       "body: event %zu: truncated "
						       "scroll flag",
						       i);
				e->u.scroll.smooth = sm;
			} else {
				if ((rc = sv32(&d, S_MISC, &u32, ST_BUTTON_MAX, i,
					       "button", err)) < 0)
					return rc;
				e->u.btn.x = x, e->u.btn.y = y;
				e->u.btn.button = (uint8_t)u32;
			}
			break;
		}
		case ST_EV_FOCUS:
			if ((rc = sv(&d, S_MISC, &v, i, err)) < 0 ||
			    (rc = str_ref(&d, v, i, "app", &e->u.focus.app, err)) < 0 ||
			    (rc = sv(&d, S_MISC, &v, i, err)) < 0 ||
			    (rc = str_ref(&d, v, i, "class", &e->u.focus.cls, err)) < 0 ||
			    (rc = sv(&d, S_MISC, &v, i, err)) < 0 ||
			    (rc = str_ref(&d, v, i, "title", &e->u.focus.title,
					  err)) < 0 ||
			    (rc = sv32(&d, S_MISC, &e->u.focus.pid, UINT32_MAX, i,
				       "pid", err)) < 0)
				return rc;
			break;
		case ST_EV_SCREEN:
			if ((rc = sv32(&d, S_MISC, &u32, ST_SCREEN_INDEX_MAX, i,
				       "screen", err)) < 0 ||
			    (rc = ss32(&d, S_MISC, 0, &e->u.screen.x, i, "x", err)) < 0 ||
			    (rc = ss32(&d, S_MISC, 0, &e->u.screen.y, i, "y", err)) < 0 ||
			    (rc = sv32(&d, S_MISC, &e->u.screen.w, UINT32_MAX, i, "w",
				       err)) < 0 ||
			    (rc = sv32(&d, S_MISC, &e->u.screen.h, UINT32_MAX, i, "h",
				       err)) < 0)
				return rc;
			e->u.screen.screen = (uint16_t)u32;
			break;
		case ST_EV_SESSION:
			if ((rc = sv32(&d, S_MISC, &u32, ST_SESSION_MARKER_MAX, i,
				       "marker", err)) < 0)
				return rc;
			e->u.session.marker = (uint8_t)u32;
			if ((rc = sv32(&d, S_MISC, &u32, ST_REASON_MAX, i, "reason",
				       err)) < 0)
				return rc;
			e->u.session.reason = (uint16_t)u32;
			break;
		case ST_EV_REDACTION:
			if ((rc = sv32(&d, S_MISC, &u32, ST_REDACTION_KIND_MAX, i,
				       "redaction kind", err)) < 0)
				return rc;
			e->u.redact.kind = (uint16_t)u32;
			if ((rc = sv32(&d, S_MISC, &u32, ST_LEN_17_PLUS, i,
				       "length class", err)) < 0)
				return rc;
			e->u.redact.len_class = (uint8_t)u32;
			break;
		case ST_EV_KEYFRAME:
			if ((rc = sv(&d, S_MISC, &e->u.keyframe.frame, i, err)) < 0)
				return rc;
			break;
		case ST_EV_IDLE_START:
		case ST_EV_IDLE_END:
			break;
		default:
			return st_fail(err, ST_E_CORRUPT,
				       "body: event %zu has unknown type %u at byte "
				       "%zu",
				       i, e->type, d.off[S_TYPE] + i);
		}
		if ((rc = st_event_check(evs, e, i, err)) < 0)
			return rc;
		seen[e->type]++;
		evs->n = i + 1;
	}
	for (int s = 1; s < ST_STREAMS; s++)
		if (d.st[s].pos != d.st[s].len)
			return st_fail(err, ST_E_CORRUPT,
				       "body: stream %d has %zu unread bytes", s,
				       d.st[s].len - d.st[s].pos);
	for (unsigned ty = 1; ty <= ST_EV_TYPE_MAX; ty++)
		if (seen[ty] != counts[ty])
			return st_fail(err, ST_E_CORRUPT,
				       "body: %llu %s events but the count says "
				       "%llu",
				       (unsigned long long)seen[ty],
				       st_event_type_name(ty),
				       (unsigned long long)counts[ty]);
	if (d.max_str != d.nstr)
		return st_fail(err, ST_E_CORRUPT,
			       "body: string %u is never used (not canonical)",
			       d.max_str + 1);
	return 0;
}

int st_body_compress(struct st_zctx *z, int level, const uint8_t *p,
		     size_t n, struct st_buf *out, struct st_error *err)
{
	if (level < 1 || level > 19)
		return st_fail(err, ST_E_INVAL, "zstd level %d outside 1..19",
			       level);
	size_t bound = ZSTD_compressBound(n);
	if (!st_buf_reserve(out, bound))
		return st_fail(err, ST_E_NOMEM, "compress: out of memory");
	ZSTD_CCtx *c = z ? z->c : ZSTD_createCCtx();
	if (!c)
		return st_fail(err, ST_E_NOMEM, "compress: out of memory");
	size_t r = ZSTD_compressCCtx(c, out->p + out->len, bound, p, n, level);
	if (!z)
		ZSTD_freeCCtx(c);
	if (ZSTD_isError(r))
		return st_fail(err, ST_E_COMPRESS, "compress: %s",
			       ZSTD_getErrorName(r));
	out->len += r;
	return 0;
}

int st_body_decompress(struct st_zctx *z, const uint8_t *p, size_t n,
		       struct st_buf *out, struct st_error *err)
{
	unsigned long long sz = ZSTD_getFrameContentSize(p, n);
	if (sz == ZSTD_CONTENTSIZE_ERROR)
		return st_fail(err, ST_E_COMPRESS,
			       "body: not a zstd frame (%zu bytes)", n);
	if (sz == ZSTD_CONTENTSIZE_UNKNOWN)
		return st_fail(err, ST_E_COMPRESS,
			       "body: zstd frame does not declare its size");
	size_t fsz = ZSTD_findFrameCompressedSize(p, n);
	if (ZSTD_isError(fsz) || fsz != n)
		return st_fail(err, ST_E_COMPRESS,
			       "body: must be exactly one zstd frame of %zu bytes",
			       n);
	if (sz == 0)
		return st_fail(err, ST_E_COMPRESS,
			       "body: empty or skippable zstd frame");
	if (sz > ST_BODY_MAX)
		return st_fail(err, ST_E_CAP,
			       "body: declares %llu bytes, over the cap of %u", sz,
			       ST_BODY_MAX);
	if (!st_buf_reserve(out, sz ? sz : 1))
		return st_fail(err, ST_E_NOMEM, "decompress: out of memory");
	ZSTD_DCtx *dc = z ? z->d : ZSTD_createDCtx();
	if (!dc)
		return st_fail(err, ST_E_NOMEM, "decompress: out of memory");
	size_t r = ZSTD_decompressDCtx(dc, out->p + out->len, sz, p, n);
	if (!z)
		ZSTD_freeDCtx(dc);
	if (ZSTD_isError(r))
		return st_fail(err, ST_E_COMPRESS, "body: zstd: %s",
			       ZSTD_getErrorName(r));
	if (r != sz)
		return st_fail(err, ST_E_COMPRESS,
			       "body: zstd gave %zu bytes, frame declared %llu", r,
			       sz);
	out->len += r;
	return 0;
}
