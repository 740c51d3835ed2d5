/* event.h - owns the event model: the event types, their fields and caps, and
 * st_events, an ordered list of events with its interned string table.
 * Never reads a device, never writes a file: capture fills it, codecs move it. */
#ifndef ST_EVENT_H
#define ST_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Event types. The numeric values are part of the segment format
 * (docs/format.md): never renumber, only append. */
enum st_event_type {
	ST_EV_KEY_PRESS = 1,
	ST_EV_KEY_RELEASE = 2,
	ST_EV_POINTER = 3,      /* pointer position in root coordinates */
	ST_EV_BUTTON_PRESS = 4,
	ST_EV_BUTTON_RELEASE = 5,
	ST_EV_SCROLL = 6,
	ST_EV_FOCUS = 7,        /* focused app and window changed */
	ST_EV_SCREEN = 8,       /* screen geometry (one event per monitor) */
	ST_EV_IDLE_START = 9,
	ST_EV_IDLE_END = 10,
	ST_EV_SESSION = 11,     /* start, pause, resume, gap */
	ST_EV_REDACTION = 12,   /* something was removed here */
	ST_EV_KEYFRAME = 13,    /* reference to a keyframe screenshot */
	ST_EV_TYPE_MAX = 13,
};

/* Session markers (st_event.u.session.marker). */
enum st_session_marker {
	ST_SESSION_START = 1,
	ST_SESSION_PAUSE = 2,
	ST_SESSION_RESUME = 3,
	ST_SESSION_GAP = 4,
	ST_SESSION_END = 5,
	ST_SESSION_MARKER_MAX = 5,
};

/* Why a gap or pause happened (st_event.u.session.reason). A code, never
 * free text, so that a marker cannot carry recorded content. */
enum st_gap_reason {
	ST_REASON_NONE = 0,
	ST_REASON_PERSON = 1,     /* the person paused */
	ST_REASON_SERVER = 2,     /* the organisation paused */
	ST_REASON_LEASE = 3,      /* lease ran out */
	ST_REASON_CRASH = 4,      /* agent restarted after an unclean stop */
	ST_REASON_SPOOL_FULL = 5,
	ST_REASON_FORGET = 6,     /* the person deleted this span */
	ST_REASON_LEVEL4 = 7,     /* level-4 content dropped by the filter */
	ST_REASON_CORRUPT = 8,    /* a spooled segment failed verification */
	ST_REASON_EXCLUDED = 9,   /* an excluded application had focus */
	ST_REASON_MAX = 9,
};

/* Redaction length classes: never the exact length. */
enum st_len_class {
	ST_LEN_1_8 = 1,
	ST_LEN_9_16 = 2,
	ST_LEN_17_PLUS = 3,
};

/* Named caps on everything a decoder reads from outside (SQLite style). */
#define ST_TITLE_MAX 4096u         /* bytes of a window title */
#define ST_NAME_MAX 256u           /* bytes of an app id or window class */
#define ST_KEYTEXT_MAX 32u         /* bytes of text one key produced */
#define ST_SEGMENT_EVENTS_MAX 2000000u
#define ST_SEGMENT_STRINGS_MAX 65536u
#define ST_SEGMENT_STRBYTES_MAX (16u << 20)
#define ST_BUTTON_MAX 9u
#define ST_SCREEN_INDEX_MAX 255u
#define ST_REDACTION_KIND_MAX 255u
#define ST_FRAME_MAX INT64_MAX     /* keyframe ids fit a JSON integer */
/* Ticks since segment start. 2^62 keeps every sum below 2^63. */
#define ST_TICKS_MAX (UINT64_C(1) << 62)

/* Kinds bitmask (segment header). Bits 1..ST_EV_TYPE_MAX: an event of that
 * type is present. The content bits say which sensitive fields appear, so a
 * server can hold a segment to the notice without opening it. */
#define ST_KIND_BIT(type) (UINT32_C(1) << (type))
#define ST_KIND_TEXT (UINT32_C(1) << 24)  /* some key event carries text */
#define ST_KIND_TITLE (UINT32_C(1) << 25) /* some focus event has a title */
#define ST_KIND_APP (UINT32_C(1) << 26)   /* some focus event names an app */
#define ST_KIND_ALL                                                        \
	((((UINT32_C(1) << (ST_EV_TYPE_MAX + 1)) - 1) & ~UINT32_C(1)) |    \
	 ST_KIND_TEXT | ST_KIND_TITLE | ST_KIND_APP)

/* One event. String fields are ids into the owning st_events' table; 0 means
 * absent. t is in ticks (st_events.tick_ns) since the segment start. */
struct st_event {
	uint64_t t;
	uint8_t type;
	union {
		struct {
			uint32_t keycode, keysym, mods, text;
		} key;
		struct {
			int32_t x, y;
			uint16_t screen;
		} ptr;
		struct {
			int32_t x, y;
			uint8_t button; /* 1..ST_BUTTON_MAX */
		} btn;
		struct {
			int32_t x, y;
			int32_t dx, dy; /* notches, or 1/1000 units if smooth */
			uint8_t smooth;
		} scroll;
		struct {
			uint32_t app, cls, title; /* string ids */
			uint32_t pid;
		} focus;
		struct {
			int32_t x, y;
			uint32_t w, h;
			uint16_t screen;
		} screen;
		struct {
			uint8_t marker;  /* enum st_session_marker */
			uint16_t reason; /* enum st_gap_reason */
		} session;
		struct {
			uint16_t kind;     /* detector kind, see filter */
			uint8_t len_class; /* enum st_len_class */
		} redact;
		struct {
			uint64_t frame;
		} keyframe;
	} u;
};

/* An ordered list of events and the strings they name. Owns both.
 * With locked=true every buffer is sodium_malloc'ed (guarded, mlocked, wiped
 * on free): used for plaintext on the device and on the export host. */
struct st_events {
	struct st_event *ev;
	size_t n, cap;
	uint64_t anchor_ns; /* wall clock (Unix ns) at t = 0 */
	uint32_t tick_ns;   /* length of one tick: 1000000 for X11's ms */
	bool locked;
	/* string table: strs[i] is id i+1 */
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *str_off, *str_len;
	uint32_t nstr, str_cap;
	uint32_t *hash; /* open addressing over ids, size hash_cap (pow2) */
	uint32_t hash_cap;
};

void st_events_init(struct st_events *evs, bool locked);
void st_events_fini(struct st_events *evs);
/* Drops every event and string, keeps anchor/tick. */
void st_events_clear(struct st_events *evs);

/* Interns s[0..len) and stores its id (0 for len 0) in *id. The bytes must
 * be valid UTF-8 (ST_E_CORRUPT otherwise): use st_utf8_sanitize on text from
 * outside first. */
int st_events_intern(struct st_events *evs, const char *s, size_t len,
		     uint32_t *id, struct st_error *err);
/* Returns the bytes of string id (NULL with *len 0 for id 0 or unknown). */
const char *st_events_str(const struct st_events *evs, uint32_t id,
			  size_t *len);

/* Appends a copy of e after checking its fields against the caps and its
 * time against the previous event (ST_E_ORDER if earlier). */
int st_events_push(struct st_events *evs, const struct st_event *e,
		   struct st_error *err);

/* Checks one event's fields (type, ranges, string ids and their caps). */
int st_event_check(const struct st_events *evs, const struct st_event *e,
		   size_t index, struct st_error *err);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool st_utf8_valid(const char *s, size_t len);
/* Copies at most cap bytes of s into out as valid UTF-8: invalid bytes
 * become '?', and a character cut by the cap is dropped. Returns the length
 * written. For titles read from X properties, which may be Latin-1. */
size_t st_utf8_sanitize(const char *s, size_t len, char *out, size_t cap);

/* Reserves room for n more events and for nstr strings of bytes in all, so
 * that locked lists do not grow step by step. */
int st_events_reserve(struct st_events *evs, size_t n, size_t nstr,
		      size_t bytes);

/* Kinds bitmask of everything present. */
uint32_t st_events_kinds(const struct st_events *evs);

/* Name of an event type ("key_press"), or NULL. */
const char *st_event_type_name(unsigned type);
/* Inverse of st_event_type_name; 0 if unknown. */
unsigned st_event_type_from_name(const char *name);

/* True when a and b (each with its own table) hold the same event. */
bool st_event_equal(const struct st_events *ea, const struct st_event *a,
		    const struct st_events *eb, const struct st_event *b);

#endif
