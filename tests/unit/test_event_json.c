/* test_event_json.c - the JSON form of events: round trip, strictness. */
#include "helpers.h"
#include "fixtures.h"

#include "core/event_json.h"

static void every_type_round_trips_through_json(void **s)
{
	(void)s;
	struct st_events a, b;
	st_events_init(&a, false);
	st_events_init(&b, false);
	fx_every_type(&a);
	for (size_t i = 0; i < a.n; i++) {
		json_t *o = st_event_to_json(&a, &a.ev[i]);
		assert_non_null(o);
		char *txt = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		json_error_t je;
		json_t *back = json_loads(txt, 0, &je);
		free(txt);
		struct st_event e;
		struct st_error err = {0};
		if (st_event_from_json(&b, back, &e, &err) < 0)
			fail_msg("event %zu: %s", i, err.msg);
		json_decref(back);
		assert_int_equal(st_events_push(&b, &e, &err), 0);
		assert_true(st_event_equal(&a, &a.ev[i], &b, &b.ev[i]));
	}
	st_events_fini(&a);
	st_events_fini(&b);
}

static int parse(const char *txt, struct st_error *err)
{
	struct st_events evs;
	st_events_init(&evs, false);
	json_t *o = json_loads(txt, 0, NULL);
	struct st_event e;
	int rc = st_event_from_json(&evs, o, &e, err);
	json_decref(o);
	st_events_fini(&evs);
	return rc;
}

static void rejects_bad_shapes_naming_the_key(void **s)
{
	(void)s;
	struct st_error e = {0};
	assert_int_equal(parse("{\"t\":1,\"type\":\"pointer\",\"x\":1,\"y\":2,"
			       "\"screen\":0}", &e), 0);
	assert_fails_with(parse("{\"t\":1,\"type\":\"pointer\",\"x\":1,\"y\":2,"
				"\"screen\":0,\"z\":3}", &e),
			  ST_E_JSON, &e, "\"z\"");
	assert_fails_with(parse("{\"t\":1,\"type\":\"pointer\",\"x\":1}", &e),
			  ST_E_JSON, &e, "\"y\"");
	assert_fails_with(parse("{\"t\":1,\"type\":\"teleport\"}", &e), ST_E_JSON,
			  &e, "\"type\"");
	assert_fails_with(parse("{\"t\":-1,\"type\":\"idle_start\"}", &e),
			  ST_E_JSON, &e, "\"t\"");
	assert_fails_with(parse("{\"t\":1,\"type\":\"button_press\",\"x\":0,"
				"\"y\":0,\"button\":12}", &e),
			  ST_E_JSON, &e, "\"button\"");
	assert_fails_with(parse("{\"t\":1,\"type\":\"pointer\",\"x\":4294967296,"
				"\"y\":0,\"screen\":0}", &e),
			  ST_E_JSON, &e, "32-bit");
	assert_fails_with(parse("[1,2]", &e), ST_E_JSON, &e, "object");
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(every_type_round_trips_through_json),
		cmocka_unit_test(rejects_bad_shapes_naming_the_key),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
