/* event_json.h - owns the JSON form of one event (jansson), as used by event
 * files (docs/eventfile.md), test vectors and debugging. Never logs: the JSON
 * holds recorded content and goes only where the caller sends it. */
#ifndef ST_EVENT_JSON_H
#define ST_EVENT_JSON_H

#include <jansson.h>

#include "event.h"

/* {"t":12,"type":"key_press","keycode":38,"keysym":97,"mods":0,"text":"a"}
 * Fields per type are listed in docs/eventfile.md. Returns a new reference
 * or NULL on allocation failure. */
json_t *st_event_to_json(const struct st_events *evs, const struct st_event *e);

/* Parses one JSON object into e, interning its strings in evs. Unknown keys,
 * missing keys, wrong types and out-of-range values are errors naming the
 * key. Does not append e: call st_events_push. */
int st_event_from_json(struct st_events *evs, const json_t *obj,
		       struct st_event *e, struct st_error *err);

#endif
