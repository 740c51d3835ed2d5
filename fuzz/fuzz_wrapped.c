/* fuzz_wrapped.c - libFuzzer target for the master secret's wrapped file
 * (src/export/master.h), outside input on the export host: a file anyone
 * with write access to its folder could have altered. Properties: no
 * crash or leak; a refusal carries a code and a message; a file that
 * parses encodes back to exactly its own bytes (one form per content), and
 * its GCM additional data is the encoding's first six lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "export/master.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * ST_MASTER_WRAPPED_MAX)
		return 0;
	struct st_master_wrapped w;
	struct st_error e = {0};
	int rc = st_master_wrapped_parse(data, size, &w, &e);
	if (rc < 0) {
		if (e.code != rc || !e.msg[0])
			fuzz_die("a refusal without its code or message", &e);
		return 0;
	}
	struct st_buf out, aad;
	st_buf_init(&out, false);
	st_buf_init(&aad, false);
	if (st_master_wrapped_encode(&w, &out, &e) < 0)
		fuzz_die("a parsed file does not encode", &e);
	if (out.len != size || memcmp(out.p, data, size) != 0)
		fuzz_die("a parsed file encodes to other bytes", NULL);
	if (st_master_wrapped_aad(&w, &aad, &e) < 0)
		fuzz_die("a parsed file has no additional data", &e);
	if (aad.len > out.len || memcmp(aad.p, out.p, aad.len) != 0)
		fuzz_die("the additional data is not the file's beginning",
			 NULL);
	st_buf_fini(&out);
	st_buf_fini(&aad);
	return 0;
}
