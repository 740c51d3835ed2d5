/* fuzz_body.c - libFuzzer target for the segment body codec: st_body_decode on
 * raw bytes, and st_body_decompress then decode, as open does after decrypting.
 * Never touches keys or sealing: fuzz_open covers the container. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/segment.h"
#include "fuzz_check.h"

/* One context for the whole run, as a long-lived exporter would hold one; it
 * stays reachable, so LeakSanitizer does not count it. */
static struct st_zctx *zctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	zctx = st_zctx_new();
	if (!zctx)
		fuzz_die("st_zctx_new failed", NULL);
	return 0;
}

/* The codec is canonical (one encoding per event list), so every body the
 * decoder accepts must come back byte for byte from the encoder. */
static void check_body(const uint8_t *p, size_t n)
{
	struct st_events evs;
	struct st_error err = {0};

	st_events_init(&evs, false);
	if (st_body_decode(p, n, &evs, &err) == 0) {
		struct st_buf out;
		st_buf_init(&out, false);
		if (st_body_encode(&evs, &out, &err) < 0)
			fuzz_die("decoded body does not encode again", &err);
		if (out.len != n || memcmp(out.p, p, n) != 0) {
			fprintf(stderr,
				"fuzz: re-encoded body is %zu bytes, "
				"decoded one %zu\n",
				out.len, n);
			fuzz_die("decoder accepted a non-canonical body", NULL);
		}
		st_buf_fini(&out);
	}
	st_events_fini(&evs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_buf plain;

	check_body(data, size);
	st_buf_init(&plain, false);
	/* Odd sizes take the context-per-call path that callers get with NULL.
	 */
	if (st_body_decompress(size & 1 ? NULL : zctx, data, size, &plain,
			       NULL) == 0)
		check_body(plain.p, plain.len);
	st_buf_fini(&plain);
	return 0;
}
