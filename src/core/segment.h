/* segment.h - owns the segment body codec: events <-> the canonical binary
 * body (string table, columnar streams, delta/varint) and its zstd frame.
 * Never encrypts, signs or touches keys: that is seal.h and export/open.h. */
#ifndef ST_SEGMENT_H
#define ST_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"

/* Caps on a decoded body (docs/format.md, "Caps"). */
#define ST_BODY_MAX (64u << 20)  /* plaintext body bytes */
#define ST_TICK_NS_MAX 1000000000u /* a tick is at most one second */
#define ST_STREAMS 6
/* Default zstd level for bodies; 1..19 are accepted. */
#define ST_ZSTD_LEVEL_DEFAULT 3

/* Optional reusable zstd contexts: pass NULL to allocate per call. */
struct st_zctx;
struct st_zctx *st_zctx_new(void);
void st_zctx_free(struct st_zctx *z);

/* Encodes evs into out (appending) in canonical form: strings are written in
 * first-use order and only if an event names them, so a string that the
 * filter unlinked from every event never leaves the device. */
int st_body_encode(const struct st_events *evs, struct st_buf *out,
		   struct st_error *err);

/* Decodes a body into evs (which must be empty). Rejects anything that is
 * not the canonical encoding of a valid event list, naming the byte. */
int st_body_decode(const uint8_t *p, size_t n, struct st_events *evs,
		   struct st_error *err);

/* zstd frame around a body. decompress checks the frame's declared size
 * against ST_BODY_MAX before allocating. */
int st_body_compress(struct st_zctx *z, int level, const uint8_t *p,
		     size_t n, struct st_buf *out, struct st_error *err);
int st_body_decompress(struct st_zctx *z, const uint8_t *p, size_t n,
		       struct st_buf *out, struct st_error *err);

/* Per-type counts as written in the body (index = event type). */
void st_events_counts(const struct st_events *evs,
		      uint64_t counts[ST_EV_TYPE_MAX + 1]);

#endif
