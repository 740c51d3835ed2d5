/* event.c - the event list, its checks and its interned string table. */
#include "event.h"

#include <string.h>

#include "mem.h"

static const char *const type_names[ST_EV_TYPE_MAX + 1] = {
	[ST_EV_KEY_PRESS] = "key_press",
	[ST_EV_KEY_RELEASE] = "key_release",
	[ST_EV_POINTER] = "pointer",
	[ST_EV_BUTTON_PRESS] = "button_press",
	[ST_EV_BUTTON_RELEASE] = "button_release",
	[ST_EV_SCROLL] = "scroll",
	[ST_EV_FOCUS] = "focus",
	[ST_EV_SCREEN] = "screen",
	[ST_EV_IDLE_START] = "idle_start",
	[ST_EV_IDLE_END] = "idle_end",
	[ST_EV_SESSION] = "session",
	[ST_EV_REDACTION] = "redaction",
	[ST_EV_KEYFRAME] = "keyframe",
};

const char *st_event_type_name(unsigned type)
{
	return (type >= 1 && type <= ST_EV_TYPE_MAX) ? type_names[type] : NULL;
}

unsigned st_event_type_from_name(const char *name)
{
	for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++)
		if (strcmp(type_names[t], name) == 0)
			return t;
	return 0;
}

void st_events_init(struct st_events *evs, bool locked)
{
	memset(evs, 0, sizeof *evs);
	evs->locked = locked;
	evs->tick_ns = 1000000;
}

void st_events_fini(struct st_events *evs)
{
	bool l = evs->locked;
	st_mem_free(evs->ev, evs->cap * sizeof *evs->ev, l);
	st_mem_free(evs->arena, evs->arena_cap, l);
	st_mem_free(evs->str_off, evs->str_cap * sizeof(uint32_t), l);
	st_mem_free(evs->str_len, evs->str_cap * sizeof(uint32_t), l);
	st_mem_free(evs->hash, evs->hash_cap * sizeof(uint32_t), l);
	memset(evs, 0, sizeof *evs);
	evs->locked = l;
}

void st_events_clear(struct st_events *evs)
{
	if (evs->locked) {
		/* plaintext: wipe what we drop, keep the capacity */
		if (evs->ev)
			memset(evs->ev, 0, evs->n * sizeof *evs->ev);
		if (evs->arena)
			memset(evs->arena, 0, evs->arena_len);
	}
	evs->n = 0;
	evs->arena_len = 0;
	evs->nstr = 0;
	if (evs->hash)
		memset(evs->hash, 0, evs->hash_cap * sizeof(uint32_t));
}

static uint32_t str_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a: short strings, no adversary gain */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static int grow(void **p, size_t *cap, size_t elem, size_t need, bool locked)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *q = st_mem_realloc(*p, *cap * elem, nc * elem, locked);
	if (!q)
		return ST_E_NOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

static int rehash(struct st_events *evs, uint32_t ncap)
{
	uint32_t *h = st_mem_realloc(NULL, 0, ncap * sizeof *h, evs->locked);
	if (!h)
		return ST_E_NOMEM;
	memset(h, 0, ncap * sizeof *h);
	for (uint32_t id = 1; id <= evs->nstr; id++) {
		uint32_t x = str_hash(evs->arena + evs->str_off[id - 1],
				      evs->str_len[id - 1]) & (ncap - 1);
		while (h[x])
			x = (x + 1) & (ncap - 1);
		h[x] = id;
	}
	st_mem_free(evs->hash, evs->hash_cap * sizeof *h, evs->locked);
	evs->hash = h;
	evs->hash_cap = ncap;
	return 0;
}

bool st_utf8_valid(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0)
			n = 2, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 3, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

size_t st_utf8_sanitize(const char *s, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;
	while (i < len && o < cap) {
		uint8_t c = (uint8_t)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
				     : (c & 0xf0) == 0xe0 ? 3
				     : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (n && i + n <= len && st_utf8_valid(s + i, n)) {
			if (o + n > cap)
				break;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '?';
			i++;
		}
	}
	return o;
}

int st_events_intern(struct st_events *evs, const char *s, size_t len,
		     uint32_t *id, struct st_error *err)
{
	if (len == 0) {
		*id = 0;
		return 0;
	}
	if (!st_utf8_valid(s, len))
		return st_fail(err, ST_E_CORRUPT,
			       "string of %zu bytes is not valid UTF-8", len);
	if (len > ST_TITLE_MAX)
		return st_fail(err, ST_E_CAP,
			       "string of %zu bytes is over the cap of %u",
			       len, ST_TITLE_MAX);
	if (evs->hash_cap && evs->nstr * 2 >= evs->hash_cap) {
		if (rehash(evs, evs->hash_cap * 2) < 0)
			return st_fail(err, ST_E_NOMEM, "string table: out of memory");
	} else if (!evs->hash_cap && rehash(evs, 64) < 0) {
		return st_fail(err, ST_E_NOMEM, "string table: out of memory");
	}
	uint32_t x = str_hash(s, len) & (evs->hash_cap - 1);
	while (evs->hash[x]) {
		uint32_t cand = evs->hash[x];
		if (evs->str_len[cand - 1] == len &&
		    memcmp(evs->arena + evs->str_off[cand - 1], s, len) == 0) {
			*id = cand;
			return 0;
		}
		x = (x + 1) & (evs->hash_cap - 1);
	}
	if (evs->nstr >= ST_SEGMENT_STRINGS_MAX ||
	    evs->arena_len + len > ST_SEGMENT_STRBYTES_MAX)
		return st_fail(err, ST_E_CAP,
			       "string table full (%u strings, %zu bytes); cut the "
			       "segment earlier",
			       evs->nstr, evs->arena_len);
	size_t sc = evs->str_cap;
	if (grow((void **)&evs->str_off, &sc, sizeof(uint32_t), evs->nstr + 1,
		 evs->locked) < 0)
		return st_fail(err, ST_E_NOMEM, "string table: out of memory");
	sc = evs->str_cap;
	if (grow((void **)&evs->str_len, &sc, sizeof(uint32_t), evs->nstr + 1,
		 evs->locked) < 0)
		return st_fail(err, ST_E_NOMEM, "string table: out of memory");
	evs->str_cap = (uint32_t)sc;
	if (grow((void **)&evs->arena, &evs->arena_cap, 1, evs->arena_len + len,
		 evs->locked) < 0)
		return st_fail(err, ST_E_NOMEM, "string table: out of memory");
	memcpy(evs->arena + evs->arena_len, s, len);
	evs->str_off[evs->nstr] = (uint32_t)evs->arena_len;
	evs->str_len[evs->nstr] = (uint32_t)len;
	evs->arena_len += len;
	evs->nstr++;
	evs->hash[x] = evs->nstr;
	*id = evs->nstr;
	return 0;
}

const char *st_events_str(const struct st_events *evs, uint32_t id,
			  size_t *len)
{
	if (id == 0 || id > evs->nstr) {
		*len = 0;
		return NULL;
	}
	*len = evs->str_len[id - 1];
	return evs->arena + evs->str_off[id - 1];
}

static int check_str(const struct st_events *evs, uint32_t id, size_t cap,
		     const char *field, size_t index, struct st_error *err)
{
	if (id == 0)
		return 0;
	if (id > evs->nstr)
		return st_fail(err, ST_E_CORRUPT,
			       "event %zu: %s names string %u but the table has %u",
			       index, field, id, evs->nstr);
	if (evs->str_len[id - 1] > cap)
		return st_fail(err, ST_E_CAP,
			       "event %zu: %s is %u bytes, over the cap of %zu",
			       index, field, evs->str_len[id - 1], cap);
	return 0;
}

int st_event_check(const struct st_events *evs, const struct st_event *e,
		   size_t index, struct st_error *err)
{
	int r;
	if (e->t > ST_TICKS_MAX)
		return st_fail(err, ST_E_ORDER,
			       "event %zu: time %llu ticks is over the cap of 2^62",
			       index, (unsigned long long)e->t);
	switch (e->type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		return check_str(evs, e->u.key.text, ST_KEYTEXT_MAX, "key text",
				 index, err);
	case ST_EV_POINTER:
		if (e->u.ptr.screen > ST_SCREEN_INDEX_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: screen %u over %u", index,
				       e->u.ptr.screen, ST_SCREEN_INDEX_MAX);
		return 0;
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
		if (e->u.btn.button < 1 || e->u.btn.button > ST_BUTTON_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: button %u is not 1-%u", index,
				       e->u.btn.button, ST_BUTTON_MAX);
		return 0;
	case ST_EV_SCROLL:
		if (e->u.scroll.smooth > 1)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: scroll smooth flag %u is not 0/1",
				       index, e->u.scroll.smooth);
		return 0;
	case ST_EV_FOCUS:
		if ((r = check_str(evs, e->u.focus.app, ST_NAME_MAX, "app id",
				   index, err)) < 0 ||
		    (r = check_str(evs, e->u.focus.cls, ST_NAME_MAX, "class",
				   index, err)) < 0)
			return r;
		return check_str(evs, e->u.focus.title, ST_TITLE_MAX, "title",
				 index, err);
	case ST_EV_SCREEN:
		if (e->u.screen.screen > ST_SCREEN_INDEX_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: screen %u over %u", index,
				       e->u.screen.screen, ST_SCREEN_INDEX_MAX);
		return 0;
	case ST_EV_IDLE_START:
	case ST_EV_IDLE_END:
		return 0;
	case ST_EV_KEYFRAME:
		if (e->u.keyframe.frame > ST_FRAME_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: keyframe id over 2^63-1", index);
		return 0;
	case ST_EV_SESSION:
		if (e->u.session.marker < 1 ||
		    e->u.session.marker > ST_SESSION_MARKER_MAX ||
		    e->u.session.reason > ST_REASON_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: session marker %u reason %u out "
				       "of range",
				       index, e->u.session.marker,
				       e->u.session.reason);
		return 0;
	case ST_EV_REDACTION:
		if (e->u.redact.len_class < ST_LEN_1_8 ||
		    e->u.redact.len_class > ST_LEN_17_PLUS ||
		    e->u.redact.kind > ST_REDACTION_KIND_MAX)
			return st_fail(err, ST_E_CORRUPT,
				       "event %zu: redaction kind %u class %u out "
				       "of range",
				       index, e->u.redact.kind,
				       e->u.redact.len_class);
		return 0;
	default:
		return st_fail(err, ST_E_CORRUPT, "event %zu: unknown type %u",
			       index, e->type);
	}
}

int st_events_push(struct st_events *evs, const struct st_event *e,
		   struct st_error *err)
{
	int r = st_event_check(evs, e, evs->n, err);
	if (r < 0)
		return r;
	if (evs->n && e->t < evs->ev[evs->n - 1].t)
		return st_fail(err, ST_E_ORDER,
			       "event %zu: time %llu is before the previous "
			       "event's %llu; events must be in time order",
			       evs->n, (unsigned long long)e->t,
			       (unsigned long long)evs->ev[evs->n - 1].t);
	if (evs->n >= ST_SEGMENT_EVENTS_MAX)
		return st_fail(err, ST_E_CAP,
			       "segment holds %u events already; cut it",
			       ST_SEGMENT_EVENTS_MAX);
	if (grow((void **)&evs->ev, &evs->cap, sizeof *evs->ev, evs->n + 1,
		 evs->locked) < 0)
		return st_fail(err, ST_E_NOMEM, "events: out of memory");
	evs->ev[evs->n++] = *e;
	return 0;
}

int st_events_reserve(struct st_events *evs, size_t n, size_t nstr,
		      size_t bytes)
{
	if (nstr > ST_SEGMENT_STRINGS_MAX)
		nstr = ST_SEGMENT_STRINGS_MAX;
	if (bytes > ST_SEGMENT_STRBYTES_MAX)
		bytes = ST_SEGMENT_STRBYTES_MAX;
	if (n > ST_SEGMENT_EVENTS_MAX)
		n = ST_SEGMENT_EVENTS_MAX;
	size_t sc = evs->str_cap;
	if (grow((void **)&evs->ev, &evs->cap, sizeof *evs->ev, evs->n + n,
		 evs->locked) < 0 ||
	    grow((void **)&evs->str_off, &sc, sizeof(uint32_t), evs->nstr + nstr,
		 evs->locked) < 0)
		return ST_E_NOMEM;
	sc = evs->str_cap;
	if (grow((void **)&evs->str_len, &sc, sizeof(uint32_t), evs->nstr + nstr,
		 evs->locked) < 0)
		return ST_E_NOMEM;
	evs->str_cap = (uint32_t)sc;
	if (grow((void **)&evs->arena, &evs->arena_cap, 1, evs->arena_len + bytes,
		 evs->locked) < 0)
		return ST_E_NOMEM;
	uint32_t hc = evs->hash_cap ? evs->hash_cap : 64;
	while (hc < 2 * (evs->nstr + nstr) + 2)
		hc *= 2;
	if (hc != evs->hash_cap && rehash(evs, hc) < 0)
		return ST_E_NOMEM;
	return 0;
}

uint32_t st_events_kinds(const struct st_events *evs)
{
	uint32_t k = 0;
	for (size_t i = 0; i < evs->n; i++) {
		const struct st_event *e = &evs->ev[i];
		k |= ST_KIND_BIT(e->type);
		if ((e->type == ST_EV_KEY_PRESS || e->type == ST_EV_KEY_RELEASE) &&
		    e->u.key.text)
			k |= ST_KIND_TEXT;
		if (e->type == ST_EV_FOCUS) {
			if (e->u.focus.title)
				k |= ST_KIND_TITLE;
			if (e->u.focus.app || e->u.focus.cls)
				k |= ST_KIND_APP;
		}
	}
	return k;
}

static bool str_eq(const struct st_events *ea, uint32_t a,
		   const struct st_events *eb, uint32_t b)
{
	size_t la, lb;
	const char *sa = st_events_str(ea, a, &la);
	const char *sb = st_events_str(eb, b, &lb);
	return la == lb && (la == 0 || memcmp(sa, sb, la) == 0);
}

bool st_event_equal(const struct st_events *ea, const struct st_event *a,
		    const struct st_events *eb, const struct st_event *b)
{
	if (a->t != b->t || a->type != b->type)
		return false;
	switch (a->type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		return a->u.key.keycode == b->u.key.keycode &&
		       a->u.key.keysym == b->u.key.keysym &&
		       a->u.key.mods == b->u.key.mods &&
		       str_eq(ea, a->u.key.text, eb, b->u.key.text);
	case ST_EV_POINTER:
		return a->u.ptr.x == b->u.ptr.x && a->u.ptr.y == b->u.ptr.y &&
		       a->u.ptr.screen == b->u.ptr.screen;
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
		return a->u.btn.x == b->u.btn.x && a->u.btn.y == b->u.btn.y &&
		       a->u.btn.button == b->u.btn.button;
	case ST_EV_SCROLL:
		return a->u.scroll.x == b->u.scroll.x &&
		       a->u.scroll.y == b->u.scroll.y &&
		       a->u.scroll.dx == b->u.scroll.dx &&
		       a->u.scroll.dy == b->u.scroll.dy &&
		       a->u.scroll.smooth == b->u.scroll.smooth;
	case ST_EV_FOCUS:
		return a->u.focus.pid == b->u.focus.pid &&
		       str_eq(ea, a->u.focus.app, eb, b->u.focus.app) &&
		       str_eq(ea, a->u.focus.cls, eb, b->u.focus.cls) &&
		       str_eq(ea, a->u.focus.title, eb, b->u.focus.title);
	case ST_EV_SCREEN:
		return a->u.screen.x == b->u.screen.x &&
		       a->u.screen.y == b->u.screen.y &&
		       a->u.screen.w == b->u.screen.w &&
		       a->u.screen.h == b->u.screen.h &&
		       a->u.screen.screen == b->u.screen.screen;
	case ST_EV_SESSION:
		return a->u.session.marker == b->u.session.marker &&
		       a->u.session.reason == b->u.session.reason;
	case ST_EV_REDACTION:
		return a->u.redact.kind == b->u.redact.kind &&
		       a->u.redact.len_class == b->u.redact.len_class;
	case ST_EV_KEYFRAME:
		return a->u.keyframe.frame == b->u.keyframe.frame;
	default:
		return true;
	}
}
