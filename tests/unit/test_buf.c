/* test_buf.c - varints round trip, readers never read past the end. */
#include "helpers.h"

#include "core/buf.h"

static void varints_round_trip_at_every_width(void **s)
{
	(void)s;
	struct st_buf b;
	st_buf_init(&b, false);
	uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX,
			   UINT64_MAX >> 1, UINT64_MAX};
	int64_t svals[] = {0, -1, 1, -64, 64, INT32_MIN, INT32_MAX, INT64_MIN,
			   INT64_MAX};
	for (size_t i = 0; i < 9; i++) {
		st_buf_varint(&b, vals[i]);
		st_buf_svarint(&b, svals[i]);
	}
	struct st_rd r;
	st_rd_init(&r, b.p, b.len);
	for (size_t i = 0; i < 9; i++) {
		uint64_t v;
		int64_t sv;
		assert_int_equal(st_rd_varint(&r, &v), 0);
		assert_true(v == vals[i]);
		assert_int_equal(st_rd_svarint(&r, &sv), 0);
		assert_true(sv == svals[i]);
	}
	assert_int_equal(r.pos, b.len);
	st_buf_fini(&b);
}

static void rejects_truncated_and_overlong_varints(void **s)
{
	(void)s;
	uint64_t v;
	struct st_rd r;
	const uint8_t cut[] = {0x80, 0x80};
	st_rd_init(&r, cut, sizeof cut);
	assert_int_equal(st_rd_varint(&r, &v), ST_E_TRUNCATED);
	const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff,
				0xff, 0xff, 0xff, 0xff, 0x02};
	st_rd_init(&r, over, sizeof over);
	assert_int_equal(st_rd_varint(&r, &v), ST_E_CORRUPT);
	/* a padded zero (0x80 0x00) is a second encoding of 0: not canonical */
	const uint8_t pad[] = {0x80, 0x00};
	st_rd_init(&r, pad, sizeof pad);
	assert_int_equal(st_rd_varint(&r, &v), ST_E_CORRUPT);
	uint32_t x;
	st_rd_init(&r, over, 3);
	assert_int_equal(st_rd_u32le(&r, &x), ST_E_TRUNCATED);
	assert_int_equal(r.pos, 0);
}

static void locked_buffers_grow(void **s)
{
	(void)s;
	struct st_buf b;
	st_buf_init(&b, true);
	for (int i = 0; i < 100000; i++)
		st_buf_u32le(&b, (uint32_t)i);
	assert_false(b.oom);
	assert_int_equal(b.len, 400000);
	assert_int_equal(st_le32(b.p + 4 * 99999), 99999);
	st_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(varints_round_trip_at_every_width),
		cmocka_unit_test(rejects_truncated_and_overlong_varints),
		cmocka_unit_test(locked_buffers_grow),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
