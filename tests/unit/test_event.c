/* test_event.c - event list: order, caps, interning, kinds bitmask. */
#include "helpers.h"

#include "core/event.h"

static void rejects_events_out_of_time_order(void **s)
{
	(void)s;
	struct st_events evs;
	struct st_error e = {0};
	st_events_init(&evs, false);
	struct st_event a = {.t = 10, .type = ST_EV_IDLE_START};
	assert_int_equal(st_events_push(&evs, &a, &e), 0);
	a.t = 9;
	assert_fails_with(st_events_push(&evs, &a, &e), ST_E_ORDER, &e,
			  "time order");
	a.t = 10; /* equal times are in order */
	assert_int_equal(st_events_push(&evs, &a, &e), 0);
	st_events_fini(&evs);
}

static void rejects_fields_out_of_range(void **s)
{
	(void)s;
	struct st_events evs;
	struct st_error e = {0};
	st_events_init(&evs, false);
	struct st_event b = {.type = ST_EV_BUTTON_PRESS};
	b.u.btn.button = 10;
	assert_fails_with(st_events_push(&evs, &b, &e), ST_E_CORRUPT, &e,
			  "button");
	b.u.btn.button = 0;
	assert_fails_with(st_events_push(&evs, &b, &e), ST_E_CORRUPT, &e,
			  "button");
	struct st_event k = {.type = ST_EV_KEY_PRESS};
	k.u.key.text = 5; /* no such string */
	assert_fails_with(st_events_push(&evs, &k, &e), ST_E_CORRUPT, &e,
			  "string");
	struct st_event x = {.type = 99};
	assert_fails_with(st_events_push(&evs, &x, &e), ST_E_CORRUPT, &e,
			  "unknown type");
	struct st_event big = {.t = ST_TICKS_MAX + 1, .type = ST_EV_IDLE_END};
	assert_fails_with(st_events_push(&evs, &big, &e), ST_E_ORDER, &e, "cap");
	/* a key text over its own cap though within the table's cap */
	char txt[ST_KEYTEXT_MAX + 1];
	memset(txt, 'a', sizeof txt);
	assert_int_equal(st_events_intern(&evs, txt, sizeof txt, &k.u.key.text, &e),
			 0);
	assert_fails_with(st_events_push(&evs, &k, &e), ST_E_CAP, &e, "key text");
	assert_int_equal(evs.n, 0);
	st_events_fini(&evs);
}

static void interning_gives_one_id_per_string(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, true);
	uint32_t ids[1000];
	char buf[32];
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(buf, sizeof buf, "title %d", i);
		assert_int_equal(st_events_intern(&evs, buf, (size_t)n, &ids[i], NULL), 0);
	}
	for (int i = 0; i < 1000; i++) {
		uint32_t id;
		int n = snprintf(buf, sizeof buf, "title %d", i);
		assert_int_equal(st_events_intern(&evs, buf, (size_t)n, &id, NULL), 0);
		assert_int_equal(id, ids[i]);
		size_t len;
		const char *p = st_events_str(&evs, id, &len);
		assert_int_equal(len, (size_t)n);
		assert_memory_equal(p, buf, len);
	}
	uint32_t z = 7;
	assert_int_equal(st_events_intern(&evs, "", 0, &z, NULL), 0);
	assert_int_equal(z, 0);
	assert_int_equal(evs.nstr, 1000);
	st_events_fini(&evs);
}

static void kinds_bitmask_names_types_and_content(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, false);
	struct st_event k = {.type = ST_EV_KEY_PRESS};
	st_events_push(&evs, &k, NULL);
	assert_int_equal(st_events_kinds(&evs), ST_KIND_BIT(ST_EV_KEY_PRESS));
	st_events_intern(&evs, "a", 1, &k.u.key.text, NULL);
	st_events_push(&evs, &k, NULL);
	assert_int_equal(st_events_kinds(&evs),
			 ST_KIND_BIT(ST_EV_KEY_PRESS) | ST_KIND_TEXT);
	struct st_event f = {.type = ST_EV_FOCUS};
	st_events_push(&evs, &f, NULL);
	assert_int_equal(st_events_kinds(&evs) & (ST_KIND_TITLE | ST_KIND_APP), 0);
	st_events_intern(&evs, "Inbox", 5, &f.u.focus.title, NULL);
	st_events_push(&evs, &f, NULL);
	assert_int_equal(st_events_kinds(&evs) & (ST_KIND_TITLE | ST_KIND_APP),
			 ST_KIND_TITLE);
	assert_true((st_events_kinds(&evs) & ~ST_KIND_ALL) == 0);
	st_events_fini(&evs);
}

static void strings_must_be_utf8_and_sanitize_makes_them_so(void **s)
{
	(void)s;
	struct st_events evs;
	struct st_error e = {0};
	uint32_t id;
	st_events_init(&evs, false);
	assert_true(st_utf8_valid("Gr\xc3\xbc\xc3\x9f \xe2\x82\xac", 10));
	assert_false(st_utf8_valid("\xff", 1));
	assert_false(st_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(st_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(st_utf8_valid("\xe2\x82", 2));         /* cut */
	assert_fails_with(st_events_intern(&evs, "caf\xe9", 4, &id, &e),
			  ST_E_CORRUPT, &e, "UTF-8");
	char out[8];
	/* Latin-1 "café" from an old WM_NAME */
	size_t n = st_utf8_sanitize("caf\xe9", 4, out, sizeof out);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "caf?", 4);
	/* a character cut by the cap is dropped, never split */
	n = st_utf8_sanitize("ab\xe2\x82\xac", 5, out, 4);
	assert_int_equal(n, 2);
	assert_true(st_utf8_valid(out, n));
	st_events_fini(&evs);
}

static void keyframe_ids_stay_within_json_integers(void **s)
{
	(void)s;
	struct st_events evs;
	struct st_error e = {0};
	st_events_init(&evs, false);
	struct st_event k = {.type = ST_EV_KEYFRAME};
	k.u.keyframe.frame = ST_FRAME_MAX;
	assert_int_equal(st_events_push(&evs, &k, &e), 0);
	k.u.keyframe.frame = (uint64_t)ST_FRAME_MAX + 1;
	assert_fails_with(st_events_push(&evs, &k, &e), ST_E_CORRUPT, &e,
			  "keyframe");
	st_events_fini(&evs);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(rejects_events_out_of_time_order),
		cmocka_unit_test(rejects_fields_out_of_range),
		cmocka_unit_test(interning_gives_one_id_per_string),
		cmocka_unit_test(kinds_bitmask_names_types_and_content),
		cmocka_unit_test(strings_must_be_utf8_and_sanitize_makes_them_so),
		cmocka_unit_test(keyframe_ids_stay_within_json_integers),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
