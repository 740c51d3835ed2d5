/* test_vectors.c - the committed test vectors in tests/vectors/.
 *
 * NAME.events.jsonl: first line {"anchor_ns":N,"tick_ns":N}, then one event
 * per line in the form of docs/eventfile.md. NAME.body.hex: the canonical
 * unsealed body those events encode to. sealed-NAME.seg.hex: a sealed
 * segment of them, made with the seeded keys below (docs/format.md,
 * "Test vectors"). Encoding the events must give the committed bytes, and
 * decoding or opening the bytes must give the events.
 *
 * ST_WRITE_VECTORS=1 rewrites the .hex files from the .jsonl files (the
 * sealed ones only when missing: sealing is randomised). */
#include "helpers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/event_json.h"
#include "core/seal.h"
#include "export/open.h"

static const char *const names[] = {"every-type", "empty", "typing",
				    "extremes"};
#define DEVICE_SEED "sealtrace test vector device key"  /* 32 bytes */
#define PERSON_SEED "sealtrace test vector person key"  /* 32 bytes */

static char *vec_path(const char *name, const char *suffix)
{
	static char p[1024];
	const char *root = getenv("ST_SOURCE_ROOT");
	snprintf(p, sizeof p, "%s/tests/vectors/%s%s", root ? root : ".", name,
		 suffix);
	return p;
}

static void load_events(const char *name, struct st_events *evs)
{
	FILE *f = fopen(vec_path(name, ".events.jsonl"), "r");
	if (!f)
		fail_msg("cannot open %s", vec_path(name, ".events.jsonl"));
	char line[16384];
	int lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		if (!o)
			fail_msg("%s line %d: %s", name, lineno, je.text);
		if (lineno == 1) {
			evs->anchor_ns = (uint64_t)json_integer_value(
				json_object_get(o, "anchor_ns"));
			evs->tick_ns = (uint32_t)json_integer_value(
				json_object_get(o, "tick_ns"));
		} else {
			struct st_event e;
			struct st_error err = {0};
			if (st_event_from_json(evs, o, &e, &err) < 0 ||
			    st_events_push(evs, &e, &err) < 0)
				fail_msg("%s line %d: %s", name, lineno, err.msg);
		}
		json_decref(o);
	}
	fclose(f);
}

static int load_hex(const char *path, struct st_buf *b)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		uint8_t bin[2048];
		size_t n;
		if (sodium_hex2bin(bin, sizeof bin, line, strlen(line), "\n ", &n,
				   NULL) != 0)
			fail_msg("%s: bad hex", path);
		st_buf_put(b, bin, n);
	}
	fclose(f);
	return 0;
}

static void write_hex(const char *path, const struct st_buf *b)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < b->len; i += 32) {
		char hex[65];
		size_t n = b->len - i < 32 ? b->len - i : 32;
		sodium_bin2hex(hex, sizeof hex, b->p + i, n);
		fprintf(f, "%s\n", hex);
	}
	fclose(f);
}

static void keys(uint8_t dpk[32], uint8_t dsk[64], uint8_t ppk[32],
		 uint8_t psk[32])
{
	crypto_sign_seed_keypair(dpk, dsk, (const uint8_t *)DEVICE_SEED);
	crypto_box_seed_keypair(ppk, psk, (const uint8_t *)PERSON_SEED);
}

static void body_vectors_match_both_ways(void **s)
{
	(void)s;
	int writing = getenv("ST_WRITE_VECTORS") != NULL;
	for (size_t v = 0; v < sizeof names / sizeof *names; v++) {
		struct st_events evs, back;
		struct st_buf enc, want;
		struct st_error e = {0};
		st_events_init(&evs, false);
		st_events_init(&back, false);
		st_buf_init(&enc, false);
		st_buf_init(&want, false);
		load_events(names[v], &evs);
		if (st_body_encode(&evs, &enc, &e) < 0)
			fail_msg("%s: %s", names[v], e.msg);
		if (writing)
			write_hex(vec_path(names[v], ".body.hex"), &enc);
		if (load_hex(vec_path(names[v], ".body.hex"), &want) < 0)
			fail_msg("missing %s", vec_path(names[v], ".body.hex"));
		if (enc.len != want.len || memcmp(enc.p, want.p, enc.len))
			fail_msg("%s: encoding differs from the committed bytes",
				 names[v]);
		if (st_body_decode(want.p, want.len, &back, &e) < 0)
			fail_msg("%s: decode: %s", names[v], e.msg);
		assert_int_equal(back.n, evs.n);
		assert_true(back.anchor_ns == evs.anchor_ns);
		for (size_t i = 0; i < evs.n; i++)
			if (!st_event_equal(&evs, &evs.ev[i], &back, &back.ev[i]))
				fail_msg("%s: event %zu differs", names[v], i);
		st_events_fini(&evs);
		st_events_fini(&back);
		st_buf_fini(&enc);
		st_buf_fini(&want);
	}
}

static void sealed_vectors_open_to_their_events(void **s)
{
	(void)s;
	uint8_t dpk[32], dsk[64], ppk[32], psk[32];
	keys(dpk, dsk, ppk, psk);
	for (size_t v = 0; v < sizeof names / sizeof *names; v++) {
		char sealed_name[64];
		snprintf(sealed_name, sizeof sealed_name, "sealed-%s", names[v]);
		struct st_events evs, back;
		struct st_buf seg;
		struct st_error e = {0};
		st_events_init(&evs, false);
		st_events_init(&back, true);
		st_buf_init(&seg, false);
		load_events(names[v], &evs);
		if (load_hex(vec_path(sealed_name, ".seg.hex"), &seg) < 0) {
			if (!getenv("ST_WRITE_VECTORS"))
				fail_msg("missing %s",
					 vec_path(sealed_name, ".seg.hex"));
			struct st_seal_params p = {.seq = v + 1, .lease_seq = 1,
						   .level = 2};
			memset(p.device_id, 0x11, 16);
			memset(p.person_id, 0x22, 16);
			memset(p.notice_hash, 0x33, 32);
			assert_int_equal(st_segment_seal(&p, &evs, ppk, dsk, NULL,
							 &seg, &e), 0);
			write_hex(vec_path(sealed_name, ".seg.hex"), &seg);
		}
		struct st_segment_header h;
		if (st_segment_open(seg.p, seg.len, dpk, ppk, psk, NULL, &h, &back,
				    &e) < 0)
			fail_msg("%s: %s", sealed_name, e.msg);
		assert_int_equal(h.seq, v + 1);
		assert_int_equal(back.n, evs.n);
		for (size_t i = 0; i < evs.n; i++)
			assert_true(st_event_equal(&evs, &evs.ev[i], &back,
						   &back.ev[i]));
		st_events_fini(&evs);
		st_events_fini(&back);
		st_buf_fini(&seg);
	}
	sodium_memzero(dsk, sizeof dsk);
	sodium_memzero(psk, sizeof psk);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest t[] = {
		cmocka_unit_test(body_vectors_match_both_ways),
		cmocka_unit_test(sealed_vectors_open_to_their_events),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
