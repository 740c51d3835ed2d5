/* eventfile.c - one line of an event file to one capture event, strictly. */
#include "eventfile.h"

#include <jansson.h>
#include <string.h>

#include "core/event_json.h"

/* Key text of Ctrl+@ is a NUL byte, so a file written from a real capture
 * may hold \u0000; lengths are explicit everywhere downstream. A key given
 * twice is refused rather than silently taking the last one. */
#define EVENTFILE_JSON_FLAGS (JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)

#define HEADER_KEY "sealtrace_eventfile"
#define HEADER_FORM "{\"" HEADER_KEY "\":1,\"tick_ns\":1000000}"

void st_eventfile_parser_init(struct st_eventfile_parser *p)
{
	memset(p, 0, sizeof *p);
	p->tick_ns = ST_EVENTFILE_TICK_NS_DEFAULT;
	st_events_init(&p->scratch, false);
}

void st_eventfile_parser_fini(struct st_eventfile_parser *p)
{
	st_events_fini(&p->scratch);
	memset(p, 0, sizeof *p);
}

bool st_eventfile_type_allowed(unsigned type)
{
	switch (type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
	case ST_EV_POINTER:
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
	case ST_EV_SCROLL:
	case ST_EV_FOCUS:
	case ST_EV_SCREEN:
	case ST_EV_IDLE_START:
	case ST_EV_IDLE_END:
		return true;
	default:
		return false;
	}
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int parse_header(struct st_eventfile_parser *p, const json_t *o,
			struct st_error *err)
{
	unsigned long long ln = (unsigned long long)p->line;
	json_t *ver = json_object_get(o, HEADER_KEY);
	if (!ver)
		return st_fail(err, ST_E_BAD_MAGIC,
			       "line %llu: not a sealtrace event file: the first "
			       "line must be the header " HEADER_FORM, ln);
	if (!json_is_integer(ver) ||
	    json_integer_value(ver) != ST_EVENTFILE_VERSION)
		return st_fail(err, ST_E_VERSION,
			       "line %llu: key \"" HEADER_KEY "\": this build reads "
			       "event file version %d only",
			       ln, ST_EVENTFILE_VERSION);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		if (strcmp(k, HEADER_KEY) && strcmp(k, "tick_ns") &&
		    strcmp(k, "anchor_ns"))
			return st_fail(err, ST_E_JSON,
				       "line %llu: key \"%s\" is not a header "
				       "field; the header holds " HEADER_KEY
				       ", tick_ns and anchor_ns only",
				       ln, k);
	}
	uint32_t tick_ns = ST_EVENTFILE_TICK_NS_DEFAULT;
	json_t *tk = json_object_get(o, "tick_ns");
	if (tk) {
		if (!json_is_integer(tk) || json_integer_value(tk) < 1 ||
		    json_integer_value(tk) > ST_EVENTFILE_TICK_NS_MAX)
			return st_fail(err, ST_E_JSON,
				       "line %llu: key \"tick_ns\": need an integer "
				       "1..%u (nanoseconds per tick of t)",
				       ln, ST_EVENTFILE_TICK_NS_MAX);
		tick_ns = (uint32_t)json_integer_value(tk);
	}
	json_t *an = json_object_get(o, "anchor_ns");
	if (an) {
		if (!json_is_integer(an) || json_integer_value(an) < 0)
			return st_fail(err, ST_E_JSON,
				       "line %llu: key \"anchor_ns\": need the Unix "
				       "time of t = 0 in ns, a non-negative integer",
				       ln);
		p->anchor_ns = (uint64_t)json_integer_value(an);
		p->have_anchor = true;
	}
	p->tick_ns = tick_ns;
	p->have_header = true;
	return 0;
}

/* Checks "type" before the fields, so that an agent-written event is named
 * as such even when its fields are wrong too. */
static int check_type(const struct st_eventfile_parser *p, const json_t *o,
		      struct st_error *err)
{
	json_t *ty = json_object_get(o, "type");
	if (!json_is_string(ty))
		return 0; /* st_event_from_json names the key */
	unsigned type = st_event_type_from_name(json_string_value(ty));
	if (!type || st_eventfile_type_allowed(type))
		return 0;
	return st_fail(err, ST_E_JSON,
		       "line %llu: type %s is written by the agent, not "
		       "captured; remove the line (an event file replays only "
		       "key, pointer, button, scroll, focus, screen and idle "
		       "events)",
		       (unsigned long long)p->line, json_string_value(ty));
}

static void fill_strings(const struct st_eventfile_parser *p,
			 struct st_cap_event *out)
{
	const struct st_events *s = &p->scratch;
	const struct st_event *e = &out->e;
	switch (e->type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		out->text = st_events_str(s, e->u.key.text, &out->text_len);
		break;
	case ST_EV_FOCUS:
		out->app = st_events_str(s, e->u.focus.app, &out->app_len);
		out->cls = st_events_str(s, e->u.focus.cls, &out->cls_len);
		out->title = st_events_str(s, e->u.focus.title, &out->title_len);
		break;
	default:
		break;
	}
}

static int parse_event(struct st_eventfile_parser *p, const json_t *o,
		       struct st_cap_event *out, struct st_error *err)
{
	unsigned long long ln = (unsigned long long)p->line;
	int rc = check_type(p, o, err);
	if (rc < 0)
		return rc;
	struct st_event e;
	if ((rc = st_event_from_json(&p->scratch, o, &e, err)) < 0) {
		st_error_prefix(err, "line %llu: ", ln);
		return rc;
	}
	/* The event check adds what the JSON form lets through (button 0);
	 * its "event N: " locator is replaced by the line. */
	struct st_error ce = {0};
	if ((rc = st_event_check(&p->scratch, &e, (size_t)p->events, &ce)) < 0) {
		const char *m = ce.msg, *c = strstr(m, ": ");
		if (!strncmp(m, "event ", 6) && c)
			m = c + 2;
		return st_fail(err, rc, "line %llu: %s", ln, m);
	}
	if (p->events && e.t < p->last_t)
		return st_fail(err, ST_E_ORDER,
			       "line %llu: t %llu is before t %llu of the event on "
			       "line %llu; events must be in time order: sort the "
			       "file by t",
			       ln, (unsigned long long)e.t,
			       (unsigned long long)p->last_t,
			       (unsigned long long)p->last_line);
	if (e.t > ST_EVENTFILE_NS_MAX / p->tick_ns)
		return st_fail(err, ST_E_ORDER,
			       "line %llu: t %llu ticks of %u ns is past 2^62 ns "
			       "after the start; shift the file's times down",
			       ln, (unsigned long long)e.t, p->tick_ns);
	out->e = e;
	out->t_ns = e.t * p->tick_ns;
	fill_strings(p, out);
	p->last_t = e.t;
	p->last_line = p->line;
	p->events++;
	return 0;
}

int st_eventfile_parse_line(struct st_eventfile_parser *p, const char *line,
			    size_t len, struct st_cap_event *out,
			    bool *is_event, struct st_error *err)
{
	p->line++;
	*is_event = false;
	memset(out, 0, sizeof *out);
	/* The strings of the previous event go now, as the header promises;
	 * this keeps the scratch table at one line's worth. */
	st_events_clear(&p->scratch);
	unsigned long long ln = (unsigned long long)p->line;

	if (len > ST_EVENTFILE_LINE_MAX)
		return st_fail(err, ST_E_CAP,
			       "line %llu: longer than the cap of %u bytes "
			       "(ST_EVENTFILE_LINE_MAX); each line holds one "
			       "event object",
			       ln, ST_EVENTFILE_LINE_MAX);
	if (!p->have_header && p->line != 1)
		return st_fail(err, ST_E_STATE,
			       "line %llu: no header was accepted on line 1; fix "
			       "the header " HEADER_FORM " first",
			       ln);
	if (is_blank(line, len)) {
		if (!p->have_header)
			return st_fail(err, ST_E_BAD_MAGIC,
				       "line %llu: blank; the first line must be "
				       "the header " HEADER_FORM,
				       ln);
		return 0;
	}

	json_error_t je;
	json_t *o = json_loadb(line, len, EVENTFILE_JSON_FLAGS, &je);
	if (!o)
		return st_fail(err, ST_E_JSON,
			       "line %llu: not JSON (%s at column %d); each line "
			       "holds one JSON object",
			       ln, je.text, je.column);
	int rc;
	if (!json_is_object(o))
		rc = st_fail(err, ST_E_JSON,
			     "line %llu: not a JSON object; each line holds one "
			     "object such as {\"t\":0,\"type\":\"idle_start\"}",
			     ln);
	else if (!p->have_header)
		rc = parse_header(p, o, err);
	else if ((rc = parse_event(p, o, out, err)) == 0)
		*is_event = true;
	json_decref(o);
	return rc;
}
