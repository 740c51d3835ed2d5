/* test_segment.c - body codec: round trips, extremes, canonical form and
 * rejection of every truncation. */
#include "helpers.h"
#include "fixtures.h"

#include "core/segment.h"

static void round_trip(struct st_events *in)
{
	struct st_buf b;
	struct st_events out;
	struct st_error e = {0};
	st_buf_init(&b, false);
	st_events_init(&out, false);
	if (st_body_encode(in, &b, &e) < 0)
		fail_msg("encode: %s", e.msg);
	if (st_body_decode(b.p, b.len, &out, &e) < 0)
		fail_msg("decode: %s", e.msg);
	assert_true(fx_equal(in, &out));
	/* canonical: re-encoding the decoded list gives the same bytes */
	struct st_buf b2;
	st_buf_init(&b2, false);
	assert_int_equal(st_body_encode(&out, &b2, &e), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.p, b2.p, b.len);
	st_buf_fini(&b);
	st_buf_fini(&b2);
	st_events_fini(&out);
}

static void round_trips_every_event_type(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, false);
	fx_every_type(&evs);
	assert_int_equal(evs.n, 16);
	round_trip(&evs);
	st_events_fini(&evs);
}

static void round_trips_empty_and_4k_titles(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, false);
	struct st_event f = {.type = ST_EV_FOCUS};
	fx_push(&evs, f); /* every string absent */
	/* 4096 bytes of UTF-8: 1024 four-byte characters */
	char big[ST_TITLE_MAX + 1];
	for (int i = 0; i < 1024; i++)
		memcpy(big + 4 * i, "\xf0\x9f\x98\x80", 4);
	big[ST_TITLE_MAX] = 0;
	f.t = 1;
	f.u.focus.title = fx_str(&evs, big);
	f.u.focus.cls = fx_str(&evs, "");
	fx_push(&evs, f);
	round_trip(&evs);
	struct st_error e = {0};
	uint32_t id;
	char over[ST_TITLE_MAX + 2];
	memset(over, 'x', sizeof over);
	assert_fails_with(st_events_intern(&evs, over, ST_TITLE_MAX + 1, &id, &e),
			  ST_E_CAP, &e, "cap");
	st_events_fini(&evs);
}

static void round_trips_extreme_coordinates_and_times(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, false);
	struct st_event p = {.type = ST_EV_POINTER};
	p.u.ptr.x = INT32_MIN, p.u.ptr.y = INT32_MAX;
	fx_push(&evs, p);
	p.u.ptr.x = INT32_MAX, p.u.ptr.y = INT32_MIN; /* largest jump */
	fx_push(&evs, p);
	struct st_event sc = {.type = ST_EV_SCROLL};
	sc.u.scroll.dx = INT32_MIN, sc.u.scroll.dy = INT32_MAX;
	sc.u.scroll.x = -5, sc.u.scroll.y = -7;
	fx_push(&evs, sc);
	struct st_event k = {.type = ST_EV_KEY_PRESS};
	k.u.key.keycode = UINT32_MAX, k.u.key.keysym = UINT32_MAX;
	k.u.key.mods = UINT32_MAX;
	fx_push(&evs, k);
	struct st_event last = {.t = ST_TICKS_MAX, .type = ST_EV_KEYFRAME};
	last.u.keyframe.frame = ST_FRAME_MAX;
	fx_push(&evs, last);
	evs.anchor_ns = UINT64_MAX;
	evs.tick_ns = 1;
	round_trip(&evs);
	st_events_fini(&evs);
}

static void round_trips_100k_events(void **s)
{
	(void)s;
	struct st_events evs;
	st_events_init(&evs, true);
	for (int i = 0; i < 100000; i++) {
		struct st_event e = {.t = (uint64_t)i * 16};
		if (i % 3 == 0) {
			e.type = ST_EV_POINTER;
			e.u.ptr.x = i % 1920, e.u.ptr.y = (i * 7) % 1080;
		} else {
			e.type = (i % 3 == 1) ? ST_EV_KEY_PRESS : ST_EV_KEY_RELEASE;
			e.u.key.keycode = 24 + (uint32_t)(i % 26);
			e.u.key.keysym = 'a' + (uint32_t)(i % 26);
			char c = (char)('a' + i % 26);
			e.u.key.text = (i % 3 == 1) ? fx_str(&evs, (char[]){c, 0}) : 0;
		}
		fx_push(&evs, e);
	}
	round_trip(&evs);
	st_events_fini(&evs);
}

static void rejects_every_truncation(void **s)
{
	(void)s;
	struct st_events evs, out;
	struct st_buf b;
	st_events_init(&evs, false);
	st_buf_init(&b, false);
	fx_every_type(&evs);
	assert_int_equal(st_body_encode(&evs, &b, NULL), 0);
	for (size_t n = 0; n < b.len; n++) {
		struct st_error e = {0};
		st_events_init(&out, false);
		int rc = st_body_decode(b.p, n, &out, &e);
		if (rc >= 0)
			fail_msg("truncation to %zu of %zu bytes accepted", n, b.len);
		assert_true(rc == ST_E_TRUNCATED || rc == ST_E_CORRUPT);
		st_events_fini(&out);
	}
	/* one byte more is trailing garbage */
	st_buf_u8(&b, 0);
	struct st_error e = {0};
	st_events_init(&out, false);
	assert_fails_with(st_body_decode(b.p, b.len, &out, &e), ST_E_CORRUPT, &e,
			  "trailing");
	st_events_fini(&out);
	st_buf_fini(&b);
	st_events_fini(&evs);
}

static void unlinked_strings_never_leave(void **s)
{
	(void)s;
	/* The filter may unlink a title from its event; the body must not
	 * carry the orphaned string. */
	struct st_events evs;
	struct st_buf b;
	st_events_init(&evs, false);
	st_buf_init(&b, false);
	struct st_event f = {.type = ST_EV_FOCUS};
	f.u.focus.title = fx_str(&evs, "Payslip SECRET-CANARY-991");
	fx_push(&evs, f);
	evs.ev[0].u.focus.title = 0;
	assert_int_equal(st_body_encode(&evs, &b, NULL), 0);
	assert_null(memmem(b.p, b.len, "CANARY", 6));
	st_buf_fini(&b);
	st_events_fini(&evs);
}

static void rejects_non_canonical_string_order(void **s)
{
	(void)s;
	struct st_events evs, out;
	struct st_buf b;
	struct st_error e = {0};
	st_events_init(&evs, false);
	st_buf_init(&b, false);
	struct st_event f = {.type = ST_EV_FOCUS};
	f.u.focus.app = fx_str(&evs, "A");
	f.u.focus.cls = fx_str(&evs, "B");
	fx_push(&evs, f);
	assert_int_equal(st_body_encode(&evs, &b, NULL), 0);
	/* the table is "A","B"; swapping the ids in MISC (last stream:
	 * app=1, class=2, title=0, pid=0) makes "B" used first */
	uint8_t *p = b.p + b.len - 4;
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	p[0] = 2, p[1] = 1;
	st_events_init(&out, false);
	assert_fails_with(st_body_decode(b.p, b.len, &out, &e), ST_E_CORRUPT, &e,
			  "canonical");
	st_events_fini(&out);
	st_buf_fini(&b);
	st_events_fini(&evs);
}

static void compress_round_trip_and_caps(void **s)
{
	(void)s;
	struct st_buf z, o;
	struct st_error e = {0};
	st_buf_init(&z, false);
	st_buf_init(&o, false);
	uint8_t data[5000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i % 7);
	struct st_zctx *zc = st_zctx_new();
	assert_int_equal(st_body_compress(zc, 3, data, sizeof data, &z, &e), 0);
	assert_int_equal(st_body_decompress(zc, z.p, z.len, &o, &e), 0);
	assert_int_equal(o.len, sizeof data);
	assert_memory_equal(o.p, data, sizeof data);
	/* two frames back to back are not one body */
	size_t one = z.len;
	st_buf_put(&z, z.p, one);
	st_buf_reset(&o);
	assert_fails_with(st_body_decompress(zc, z.p, z.len, &o, &e),
			  ST_E_COMPRESS, &e, "one zstd frame");
	assert_fails_with(st_body_compress(zc, 0, data, 1, &z, &e), ST_E_INVAL,
			  &e, "level");
	/* an empty skippable frame is not a body */
	const uint8_t skip[] = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
	st_buf_reset(&o);
	assert_fails_with(st_body_decompress(zc, skip, sizeof skip, &o, &e),
			  ST_E_COMPRESS, &e, "skippable");
	st_zctx_free(zc);
	st_buf_fini(&z);
	st_buf_fini(&o);
}

static void decoding_into_a_cleared_list_reuses_it(void **s)
{
	(void)s;
	/* st_segment_open clears the list on failure; a caller may reuse it */
	struct st_events evs, out;
	struct st_buf b;
	st_events_init(&evs, false);
	st_events_init(&out, true);
	st_buf_init(&b, false);
	fx_every_type(&evs);
	assert_int_equal(st_body_encode(&evs, &b, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(st_body_decode(b.p, b.len, &out, NULL), 0);
		assert_true(fx_equal(&evs, &out));
		st_events_clear(&out);
	}
	st_buf_fini(&b);
	st_events_fini(&out);
	st_events_fini(&evs);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(round_trips_every_event_type),
		cmocka_unit_test(round_trips_empty_and_4k_titles),
		cmocka_unit_test(round_trips_extreme_coordinates_and_times),
		cmocka_unit_test(round_trips_100k_events),
		cmocka_unit_test(rejects_every_truncation),
		cmocka_unit_test(unlinked_strings_never_leave),
		cmocka_unit_test(rejects_non_canonical_string_order),
		cmocka_unit_test(compress_round_trip_and_caps),
		cmocka_unit_test(decoding_into_a_cleared_list_reuses_it),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
