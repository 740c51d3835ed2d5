/* eventfile.h - owns the event file format (docs/eventfile.md): the line
 * parser, usable alone, and the extras of the eventfile capture backend.
 * Never reads a file itself and never lets an agent-written type through. */
#ifndef ST_EVENTFILE_H
#define ST_EVENTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/capture.h"
#include "core/clock.h"
#include "core/event.h"

/* Longest line, not counting its newline. A focus event at its caps with
 * every string byte escaped as \u00XX is under 30 KiB, so no valid event
 * needs more; the cap bounds what a reader buffers before it parses. */
#define ST_EVENTFILE_LINE_MAX 65536u
/* tick_ns the header may give: 1 ns .. 1 s. */
#define ST_EVENTFILE_TICK_NS_MAX 1000000000u
/* tick_ns when the header does not give one: ms, as X11 delivers. */
#define ST_EVENTFILE_TICK_NS_DEFAULT 1000000u
/* Latest time an event may have once converted: t * tick_ns <= 2^62 ns, so
 * the recorder's sums stay below 2^63. */
#define ST_EVENTFILE_NS_MAX (UINT64_C(1) << 62)
/* The only format version this build reads. */
#define ST_EVENTFILE_VERSION 1
/* Events one dispatch call emits at most, and lines it reads at most, so a
 * caller's loop stays responsive at speed 0 or on a file of blank lines. */
#define ST_EVENTFILE_BATCH_MAX 4096u

/* State of one pass over one file. Caller-provided: _init / _fini. */
struct st_eventfile_parser {
	uint64_t line;       /* number of the line last given (1-based) */
	bool have_header;
	uint32_t tick_ns;    /* from the header, or the default */
	bool have_anchor;    /* the header gave anchor_ns */
	uint64_t anchor_ns;  /* Unix time of t = 0 (ns) */
	uint64_t events;     /* events accepted so far */
	uint64_t last_t;     /* t (ticks) of the last accepted event */
	uint64_t last_line;  /* line of the last accepted event */
	/* Holds the strings of the event last returned and nothing older:
	 * cleared on every call, so memory stays bounded by one line. Not
	 * locked: the same bytes sit in plaintext in the file being read. */
	struct st_events scratch;
};

void st_eventfile_parser_init(struct st_eventfile_parser *p);
void st_eventfile_parser_fini(struct st_eventfile_parser *p);

/* Parses the next line of a file: line[0..len), without its newline (a
 * trailing \r is allowed). Give every line, blank ones included, so that
 * line numbers in messages are right. The first line must be the header.
 *
 * On success *is_event says whether *out holds an event: false for the
 * header and for blank lines. out->t_ns = t * tick_ns; out->text, app, cls,
 * title point into p and stay valid until the next call with p (NULL with
 * length 0 when absent or empty); out->e's string ids are not meaningful.
 *
 * Errors name the line: ST_E_CAP (over ST_EVENTFILE_LINE_MAX), ST_E_JSON
 * (not JSON, unknown or bad key, an agent-written type), ST_E_BAD_MAGIC /
 * ST_E_VERSION (header), ST_E_ORDER (time going back or over 2^62 ns), or
 * what st_event_check reports. After an error p stays usable: the line is
 * counted, nothing else changes. */
int st_eventfile_parse_line(struct st_eventfile_parser *p, const char *line,
			    size_t len, struct st_cap_event *out,
			    bool *is_event, struct st_error *err);

/* True for the types a live capture produces, which the eventfile backend
 * replays; session, redaction and keyframe are written by the agent. */
bool st_eventfile_type_allowed(unsigned type);

/* The eventfile backend (st_capture_eventfile) reads its clock from
 * st_clock_system. Tests give it another one here, after st_capture_new and
 * before the first st_capture_timeout_ms or st_capture_dispatch (replay time
 * starts at that first call): ST_E_STATE after, ST_E_INVAL if cap is not an
 * eventfile capture. clock must outlive cap. */
int st_capture_eventfile_set_clock(struct st_capture *cap,
				   const struct st_clock *clock,
				   struct st_error *err);

#endif
