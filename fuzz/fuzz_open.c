/* fuzz_open.c - libFuzzer target for sealed segments: st_segment_verify and
 * st_segment_open with fixed device and person keys (fuzz_keys.h).
 * Never seals: its seeds in fuzz/corpus/open/ are real segments from mkseeds
 * signed with the same keys, so the fuzzer starts from inputs that pass the
 * signature and reach decryption and decoding. A mutated segment fails its
 * signature, body hash or AEAD tag by design; fuzz_body covers the decoder
 * with arbitrary plaintext. */
#include <stdint.h>
#include <string.h>

#include "core/event.h"
#include "core/seal.h"
#include "core/segment.h"
#include "export/open.h"
#include "fuzz_check.h"
#include "fuzz_keys.h"

static struct fuzz_keys keys;
static struct st_zctx *zctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_keys_derive(&keys) < 0)
		fuzz_die("cannot derive the fuzz keys (libsodium init)", NULL);
	zctx = st_zctx_new();
	if (!zctx)
		fuzz_die("st_zctx_new failed", NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_segment_header hv, ho;
	struct st_events evs;
	struct st_error err = {0};

	int vrc = st_segment_verify(data, size, keys.device_pk, &hv, NULL);
	/* locked, as open.h asks of anything that will hold plaintext */
	st_events_init(&evs, true);
	int orc = st_segment_open(data, size, keys.device_pk, keys.person_pk,
				  keys.person_sk, zctx, &ho, &evs, &err);
	/* open verifies first: what verify refuses, open refuses with the same
	 * code; what open accepts, verify read the same header from */
	if (vrc < 0 && orc != vrc)
		fuzz_die("open disagrees with verify on a bad segment", &err);
	if (orc == 0) {
		if (memcmp(&hv, &ho, sizeof hv) != 0)
			fuzz_die("open and verify read different headers",
				 NULL);
		if (st_events_kinds(&evs) != ho.kinds)
			fuzz_die("opened events disagree with header kinds",
				 NULL);
	} else if (evs.n != 0 || evs.nstr != 0) {
		fuzz_die("failed open left events behind", &err);
	}
	st_events_fini(&evs);
	return 0;
}
