/* fuzz_event_json.c - libFuzzer target for the JSON form of events: parse with
 * st_event_from_json, push, print with st_event_to_json, parse back.
 * Never reads files: the input is one JSON object, or an array of them read
 * as consecutive events of one list (an event file's shape). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/event_json.h"
#include "core/segment.h"
#include "fuzz_check.h"

/* Events taken from one array input. Enough to exercise ordering and string
 * sharing between events; more only slows each run down. */
#define FUZZ_JSON_EVENTS_MAX 64

/* Embedded NULs are legal in our strings (lengths are explicit), so both
 * directions accept \u0000; the round trip must use the same flags. */
#define FUZZ_JSON_FLAGS JSON_ALLOW_NUL

/* e (already pushed into evs) printed and parsed back is the same event. */
static void check_round_trip(const struct st_events *evs,
			     const struct st_event *e)
{
	struct st_events back;
	struct st_event e2;
	struct st_error err = {0};
	json_error_t jerr;

	json_t *obj = st_event_to_json(evs, e);
	if (!obj)
		fuzz_die("st_event_to_json gave NULL for a pushed event", NULL);
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (!text)
		fuzz_die("json_dumps failed on st_event_to_json's object",
			 NULL);
	json_t *again = json_loads(text, FUZZ_JSON_FLAGS, &jerr);
	if (!again) {
		fprintf(stderr, "fuzz: %s: %s\n", text, jerr.text);
		fuzz_die("st_event_to_json printed JSON that does not parse",
			 NULL);
	}
	st_events_init(&back, false);
	if (st_event_from_json(&back, again, &e2, &err) < 0 ||
	    st_events_push(&back, &e2, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", text);
		fuzz_die("st_event_to_json's object is refused when read back",
			 &err);
	}
	if (!st_event_equal(evs, e, &back, &back.ev[0])) {
		fprintf(stderr, "fuzz: %s\n", text);
		fuzz_die("event changed on its way through JSON", NULL);
	}
	st_events_fini(&back);
	json_decref(again);
	free(text);
}

/* Every list the JSON side accepts is one the body codec must carry: encode,
 * decode, and the events come back equal. */
static void check_body(const struct st_events *evs)
{
	struct st_events back;
	struct st_buf body;
	struct st_error err = {0};

	st_buf_init(&body, false);
	st_events_init(&back, false);
	if (st_body_encode(evs, &body, &err) < 0)
		fuzz_die("events from JSON do not encode as a body", &err);
	if (st_body_decode(body.p, body.len, &back, &err) < 0)
		fuzz_die("encoded body does not decode", &err);
	if (back.n != evs->n)
		fuzz_die("body round trip changed the event count", NULL);
	for (size_t i = 0; i < evs->n; i++)
		if (!st_event_equal(evs, &evs->ev[i], &back, &back.ev[i]))
			fuzz_die("event changed on its way through a body",
				 NULL);
	st_events_fini(&back);
	st_buf_fini(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *in =
	    json_loadb((const char *)data, size, FUZZ_JSON_FLAGS, &jerr);
	if (!in)
		return 0;

	struct st_events evs;
	st_events_init(&evs, false);
	size_t n = json_is_array(in) ? json_array_size(in) : 1;
	if (n > FUZZ_JSON_EVENTS_MAX)
		n = FUZZ_JSON_EVENTS_MAX;
	for (size_t i = 0; i < n; i++) {
		const json_t *obj =
		    json_is_array(in) ? json_array_get(in, i) : in;
		struct st_event e;
		if (st_event_from_json(&evs, obj, &e, NULL) < 0 ||
		    st_events_push(&evs, &e, NULL) < 0)
			break;
		check_round_trip(&evs, &evs.ev[evs.n - 1]);
	}
	check_body(&evs);
	st_events_fini(&evs);
	json_decref(in);
	return 0;
}
