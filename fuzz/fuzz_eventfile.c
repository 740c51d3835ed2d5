/* fuzz_eventfile.c - libFuzzer target for the event file line parser: the
 * input, split at newlines, goes line by line through one parser, as the
 * eventfile capture backend feeds it. Every event it accepts must be
 * well-formed, in time order, and come back the same when printed with
 * st_event_to_json and parsed again. Never reads files. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/eventfile.h"
#include "core/event.h"
#include "core/event_json.h"
#include "fuzz_check.h"

/* Lines parsed from one input. The line cap (64 KiB) is reachable only with
 * inputs far above libFuzzer's usual lengths, so the bound is on count:
 * enough for ordering and header states, more only slows each run. */
#define FUZZ_EVENTFILE_LINES_MAX 256

/* One compact line, as a file holds; a NUL in a string prints as \u0000,
 * which the parser accepts. */
#define FUZZ_EVENTFILE_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* Copies ev into evs' string table: e keeps ev's fields, its ids name evs. */
static void to_events(struct st_events *evs, const struct st_cap_event *ev,
		      struct st_event *e)
{
	struct st_error err = {0};
	*e = ev->e;
	int rc = 0;
	switch (e->type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		rc = st_events_intern(evs, ev->text, ev->text_len,
				      &e->u.key.text, &err);
		break;
	case ST_EV_FOCUS:
		if ((rc = st_events_intern(evs, ev->app, ev->app_len,
					   &e->u.focus.app, &err)) < 0 ||
		    (rc = st_events_intern(evs, ev->cls, ev->cls_len,
					   &e->u.focus.cls, &err)) < 0)
			break;
		rc = st_events_intern(evs, ev->title, ev->title_len,
				      &e->u.focus.title, &err);
		break;
	default:
		break;
	}
	if (rc < 0)
		fuzz_die("an accepted event's strings do not intern", &err);
}

static void check_string(const char *s, size_t len, size_t cap,
			 const char *what)
{
	if ((s == NULL) != (len == 0))
		fuzz_die(what, NULL);
	if (len > cap)
		fuzz_die("a string is over its cap", NULL);
}

/* Properties of one accepted event, whatever else the line held. */
static void check_event(const struct st_eventfile_parser *p,
			const struct st_cap_event *ev, uint64_t prev_t_ns)
{
	if (!st_eventfile_type_allowed(ev->e.type))
		fuzz_die("an agent-written type came through", NULL);
	if (ev->t_ns != ev->e.t * p->tick_ns || ev->t_ns > ST_EVENTFILE_NS_MAX)
		fuzz_die("t_ns is not t * tick_ns within 2^62", NULL);
	if (ev->t_ns < prev_t_ns)
		fuzz_die("time went back", NULL);
	bool key = ev->e.type == ST_EV_KEY_PRESS ||
		   ev->e.type == ST_EV_KEY_RELEASE;
	bool focus = ev->e.type == ST_EV_FOCUS;
	check_string(ev->text, ev->text_len, key ? ST_KEYTEXT_MAX : 0,
		     "key text pointer and length disagree");
	check_string(ev->app, ev->app_len, focus ? ST_NAME_MAX : 0,
		     "app pointer and length disagree");
	check_string(ev->cls, ev->cls_len, focus ? ST_NAME_MAX : 0,
		     "class pointer and length disagree");
	check_string(ev->title, ev->title_len, focus ? ST_TITLE_MAX : 0,
		     "title pointer and length disagree");
}

/* ev printed as a line and parsed by p2 (same header) is the same event. */
static void check_round_trip(struct st_eventfile_parser *p2,
			     const struct st_cap_event *ev)
{
	struct st_events a, b;
	struct st_event ea, eb;
	struct st_cap_event back;
	struct st_error err = {0};
	bool is_event;

	st_events_init(&a, false);
	st_events_init(&b, false);
	to_events(&a, ev, &ea);
	json_t *o = st_event_to_json(&a, &ea);
	if (!o)
		fuzz_die("st_event_to_json gave NULL for an accepted event",
			 NULL);
	char *line = json_dumps(o, FUZZ_EVENTFILE_DUMP_FLAGS);
	json_decref(o);
	if (!line)
		fuzz_die("json_dumps failed on st_event_to_json's object", NULL);
	if (st_eventfile_parse_line(p2, line, strlen(line), &back, &is_event,
				    &err) < 0 ||
	    !is_event) {
		fprintf(stderr, "fuzz: %s\n", line);
		fuzz_die("an accepted event, printed, is refused", &err);
	}
	to_events(&b, &back, &eb);
	if (back.t_ns != ev->t_ns || !st_event_equal(&a, &ea, &b, &eb)) {
		fprintf(stderr, "fuzz: %s\n", line);
		fuzz_die("event changed on its way through a line", NULL);
	}
	free(line);
	st_events_fini(&a);
	st_events_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_eventfile_parser p, p2;
	const char *s = (const char *)data, *end = s + size;
	uint64_t prev_t_ns = 0;
	bool p2_ready = false;

	st_eventfile_parser_init(&p);
	st_eventfile_parser_init(&p2);
	for (unsigned n = 0; n < FUZZ_EVENTFILE_LINES_MAX && s <= end; n++) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (!nl && len == 0 && n > 0)
			break; /* a final newline ends the last line */
		struct st_cap_event ev;
		bool is_event = false;
		struct st_error err = {0};
		int rc = st_eventfile_parse_line(&p, s, len, &ev, &is_event,
						 &err);
		if (rc < 0 && (err.code != rc || !err.msg[0] ||
			       !strstr(err.msg, "line ")))
			fuzz_die("an error without a message naming its line",
				 &err);
		if (rc == 0 && is_event) {
			check_event(&p, &ev, prev_t_ns);
			prev_t_ns = ev.t_ns;
			if (!p2_ready) {
				char hdr[64];
				int hl = snprintf(hdr, sizeof hdr,
						  "{\"sealtrace_eventfile\":1,"
						  "\"tick_ns\":%u}",
						  p.tick_ns);
				bool h;
				struct st_cap_event unused;
				if (st_eventfile_parse_line(&p2, hdr, (size_t)hl,
							    &unused, &h,
							    &err) < 0)
					fuzz_die("the parser's own header is "
						 "refused", &err);
				p2_ready = true;
			}
			check_round_trip(&p2, &ev);
		}
		if (!nl)
			break;
		s = nl + 1;
	}
	st_eventfile_parser_fini(&p2);
	st_eventfile_parser_fini(&p);
	return 0;
}
