/* open.h - owns opening a sealed segment with a person's secret key: verify,
 * unwrap the segment key, decrypt, decompress, decode, and check the body
 * against its header. Only the export tier (and a person's own view) links
 * this; the server's ingest never does. */
#ifndef ST_OPEN_H
#define ST_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/seal.h"

/* Opens seg into evs (empty; pass one made with locked=true, since it will
 * hold plaintext). Errors: everything st_segment_verify reports, then
 * ST_E_NOT_FOR_KEY (segment key not sealed to person_pk), ST_E_DECRYPT,
 * ST_E_COMPRESS, body decode errors, ST_E_KINDS (header kinds differ from the
 * body's) and ST_E_ORDER (events outside the header's minutes). */
int st_segment_open(const uint8_t *seg, size_t len,
		    const uint8_t device_pk[32], const uint8_t person_pk[32],
		    const uint8_t *person_sk, struct st_zctx *z,
		    struct st_segment_header *h, struct st_events *evs,
		    struct st_error *err);

#endif
