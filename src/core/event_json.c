/* event_json.c - one event to and from a JSON object, strictly. */
#include "event_json.h"

#include <string.h>

struct field {
	const char *name;
	enum { F_U32, F_I32, F_U64, F_STR, F_U8, F_U16 } kind;
	size_t off;   /* offset inside struct st_event */
	uint64_t max; /* for unsigned kinds */
};

#define EF(n, k, member, mx) {n, k, offsetof(struct st_event, member), mx}

static const struct field key_fields[] = {
	EF("keycode", F_U32, u.key.keycode, UINT32_MAX),
	EF("keysym", F_U32, u.key.keysym, UINT32_MAX),
	EF("mods", F_U32, u.key.mods, UINT32_MAX),
	EF("text", F_STR, u.key.text, ST_KEYTEXT_MAX),
	{0}};
static const struct field ptr_fields[] = {
	EF("x", F_I32, u.ptr.x, 0), EF("y", F_I32, u.ptr.y, 0),
	EF("screen", F_U16, u.ptr.screen, ST_SCREEN_INDEX_MAX), {0}};
static const struct field btn_fields[] = {
	EF("x", F_I32, u.btn.x, 0), EF("y", F_I32, u.btn.y, 0),
	EF("button", F_U8, u.btn.button, ST_BUTTON_MAX), {0}};
static const struct field scroll_fields[] = {
	EF("x", F_I32, u.scroll.x, 0),   EF("y", F_I32, u.scroll.y, 0),
	EF("dx", F_I32, u.scroll.dx, 0), EF("dy", F_I32, u.scroll.dy, 0),
	EF("smooth", F_U8, u.scroll.smooth, 1), {0}};
static const struct field focus_fields[] = {
	EF("app", F_STR, u.focus.app, ST_NAME_MAX),
	EF("class", F_STR, u.focus.cls, ST_NAME_MAX),
	EF("title", F_STR, u.focus.title, ST_TITLE_MAX),
	EF("pid", F_U32, u.focus.pid, UINT32_MAX), {0}};
static const struct field screen_fields[] = {
	EF("screen", F_U16, u.screen.screen, ST_SCREEN_INDEX_MAX),
	EF("x", F_I32, u.screen.x, 0), EF("y", F_I32, u.screen.y, 0),
	EF("w", F_U32, u.screen.w, UINT32_MAX),
	EF("h", F_U32, u.screen.h, UINT32_MAX), {0}};
static const struct field session_fields[] = {
	EF("marker", F_U8, u.session.marker, ST_SESSION_MARKER_MAX),
	EF("reason", F_U16, u.session.reason, ST_REASON_MAX), {0}};
static const struct field redact_fields[] = {
	EF("kind", F_U16, u.redact.kind, ST_REDACTION_KIND_MAX),
	EF("len_class", F_U8, u.redact.len_class, ST_LEN_17_PLUS), {0}};
static const struct field keyframe_fields[] = {
	EF("frame", F_U64, u.keyframe.frame, ST_FRAME_MAX), {0}};
static const struct field no_fields[] = {{0}};

static const struct field *fields_of(unsigned type)
{
	switch (type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		return key_fields;
	case ST_EV_POINTER:
		return ptr_fields;
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
		return btn_fields;
	case ST_EV_SCROLL:
		return scroll_fields;
	case ST_EV_FOCUS:
		return focus_fields;
	case ST_EV_SCREEN:
		return screen_fields;
	case ST_EV_SESSION:
		return session_fields;
	case ST_EV_REDACTION:
		return redact_fields;
	case ST_EV_KEYFRAME:
		return keyframe_fields;
	default:
		return no_fields;
	}
}

json_t *st_event_to_json(const struct st_events *evs, const struct st_event *e)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	const char *tn = st_event_type_name(e->type);
	json_object_set_new(o, "t", json_integer((json_int_t)e->t));
	json_object_set_new(o, "type", json_string(tn ? tn : "unknown"));
	const char *base = (const char *)e;
	for (const struct field *f = fields_of(e->type); f->name; f++) {
		const void *p = base + f->off;
		json_t *v = NULL;
		switch (f->kind) {
		case F_U32: v = json_integer(*(const uint32_t *)p); break;
		case F_I32: v = json_integer(*(const int32_t *)p); break;
		case F_U16: v = json_integer(*(const uint16_t *)p); break;
		case F_U8: v = json_integer(*(const uint8_t *)p); break;
		case F_U64:
			/* JSON integers are signed 64-bit in jansson */
			v = *(const uint64_t *)p > ST_FRAME_MAX
				    ? NULL /* st_event_check refuses these */
				    : json_integer((json_int_t)*(const uint64_t *)p);
			break;
		case F_STR: {
			size_t len;
			const char *s = st_events_str(evs, *(const uint32_t *)p, &len);
			v = json_stringn(s ? s : "", len);
			break;
		}
		}
		if (!v) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, f->name, v);
	}
	return o;
}

int st_event_from_json(struct st_events *evs, const json_t *obj,
		       struct st_event *e, struct st_error *err)
{
	if (!json_is_object(obj))
		return st_fail(err, ST_E_JSON, "event is not a JSON object");
	memset(e, 0, sizeof *e);
	json_t *t = json_object_get(obj, "t"), *ty = json_object_get(obj, "type");
	if (!json_is_integer(t) || json_integer_value(t) < 0 ||
	    (uint64_t)json_integer_value(t) > ST_TICKS_MAX)
		return st_fail(err, ST_E_JSON,
			       "key \"t\": need an integer tick count 0..2^62");
	if (!json_is_string(ty) ||
	    !(e->type = (uint8_t)st_event_type_from_name(json_string_value(ty))))
		return st_fail(err, ST_E_JSON,
			       "key \"type\": need one of key_press, key_release, "
			       "pointer, button_press, button_release, scroll, "
			       "focus, screen, idle_start, idle_end, session, "
			       "redaction, keyframe");
	e->t = (uint64_t)json_integer_value(t);
	const struct field *fs = fields_of(e->type);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		if (!strcmp(k, "t") || !strcmp(k, "type"))
			continue;
		const struct field *f = fs;
		while (f->name && strcmp(f->name, k))
			f++;
		if (!f->name)
			return st_fail(err, ST_E_JSON,
				       "key \"%s\" is not a field of a %s event",
				       k, json_string_value(ty));
	}
	char *base = (char *)e;
	for (const struct field *f = fs; f->name; f++) {
		v = json_object_get(obj, f->name);
		void *p = base + f->off;
		if (f->kind == F_STR) {
			if (!v) {
				*(uint32_t *)p = 0;
				continue; /* absent string = none */
			}
			if (!json_is_string(v))
				return st_fail(err, ST_E_JSON,
					       "key \"%s\": need a string", f->name);
			size_t len = json_string_length(v);
			if (len > f->max)
				return st_fail(err, ST_E_CAP,
					       "key \"%s\": %zu bytes over the cap "
					       "of %llu",
					       f->name, len,
					       (unsigned long long)f->max);
			int rc = st_events_intern(evs, json_string_value(v), len,
						  (uint32_t *)p, err);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!json_is_integer(v))
			return st_fail(err, ST_E_JSON,
				       "key \"%s\": need an integer for a %s event",
				       f->name, json_string_value(ty));
		json_int_t x = json_integer_value(v);
		if (f->kind == F_I32) {
			if (x < INT32_MIN || x > INT32_MAX)
				return st_fail(err, ST_E_JSON,
					       "key \"%s\": %lld outside 32-bit range",
					       f->name, (long long)x);
			*(int32_t *)p = (int32_t)x;
			continue;
		}
		if (x < 0 || (uint64_t)x > f->max)
			return st_fail(err, ST_E_JSON,
				       "key \"%s\": %lld outside 0..%llu", f->name,
				       (long long)x, (unsigned long long)f->max);
		switch (f->kind) {
		case F_U32: *(uint32_t *)p = (uint32_t)x; break;
		case F_U16: *(uint16_t *)p = (uint16_t)x; break;
		case F_U8: *(uint8_t *)p = (uint8_t)x; break;
		case F_U64: *(uint64_t *)p = (uint64_t)x; break;
		default: break;
		}
	}
	return 0;
}
