/* buf.h - owns growable byte buffers and bounded readers with varints.
 * A reader never reads past its end: every get returns a status. */
#ifndef ST_BUF_H
#define ST_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_buf {
	uint8_t *p;
	size_t len, cap;
	bool locked; /* sodium_malloc'ed: for plaintext bodies */
	bool oom;    /* sticky: a put failed; check once at the end */
};

void st_buf_init(struct st_buf *b, bool locked);
void st_buf_fini(struct st_buf *b);
void st_buf_reset(struct st_buf *b);
/* Ensures room for n more bytes; false (and oom set) on failure. */
bool st_buf_reserve(struct st_buf *b, size_t n);
void st_buf_put(struct st_buf *b, const void *p, size_t n);
void st_buf_u8(struct st_buf *b, uint8_t v);
void st_buf_u16le(struct st_buf *b, uint16_t v);
void st_buf_u32le(struct st_buf *b, uint32_t v);
void st_buf_u64le(struct st_buf *b, uint64_t v);
void st_buf_varint(struct st_buf *b, uint64_t v);
void st_buf_svarint(struct st_buf *b, int64_t v); /* zigzag */

/* Bounded reader over p[0..len). pos is the offset error messages quote. */
struct st_rd {
	const uint8_t *p;
	size_t len, pos;
};

static inline void st_rd_init(struct st_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

/* Each returns 0, or ST_E_TRUNCATED when the input ends first, or
 * ST_E_CORRUPT for a varint longer than 10 bytes or over 64 bits. */
int st_rd_bytes(struct st_rd *r, void *out, size_t n);
int st_rd_skip(struct st_rd *r, size_t n, const uint8_t **where);
int st_rd_u8(struct st_rd *r, uint8_t *v);
int st_rd_u16le(struct st_rd *r, uint16_t *v);
int st_rd_u32le(struct st_rd *r, uint32_t *v);
int st_rd_u64le(struct st_rd *r, uint64_t *v);
int st_rd_varint(struct st_rd *r, uint64_t *v);
int st_rd_svarint(struct st_rd *r, int64_t *v);

static inline uint16_t st_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t st_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t st_le64(const uint8_t *p)
{
	return (uint64_t)st_le32(p) | (uint64_t)st_le32(p + 4) << 32;
}

#endif
