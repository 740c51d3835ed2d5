/* buf.c - byte buffers and bounded little-endian / varint readers. */
#include "buf.h"

#include <string.h>

#include "err.h"
#include "mem.h"

void st_buf_init(struct st_buf *b, bool locked)
{
	memset(b, 0, sizeof *b);
	b->locked = locked;
}

void st_buf_fini(struct st_buf *b)
{
	st_mem_free(b->p, b->cap, b->locked);
	bool l = b->locked;
	memset(b, 0, sizeof *b);
	b->locked = l;
}

void st_buf_reset(struct st_buf *b)
{
	if (b->locked && b->p)
		memset(b->p, 0, b->len);
	b->len = 0;
	b->oom = false;
}

bool st_buf_reserve(struct st_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n <= b->cap)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	size_t nc = b->cap ? b->cap : 256;
	while (nc < b->len + n)
		nc *= 2;
	uint8_t *q = st_mem_realloc(b->p, b->cap, nc, b->locked);
	if (!q) {
		b->oom = true;
		return false;
	}
	b->p = q;
	b->cap = nc;
	return true;
}

void st_buf_put(struct st_buf *b, const void *p, size_t n)
{
	if (n && st_buf_reserve(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

void st_buf_u8(struct st_buf *b, uint8_t v)
{
	if (st_buf_reserve(b, 1))
		b->p[b->len++] = v;
}

void st_buf_u16le(struct st_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	st_buf_put(b, x, 2);
}

void st_buf_u32le(struct st_buf *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	st_buf_put(b, x, 4);
}

void st_buf_u64le(struct st_buf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	st_buf_put(b, x, 8);
}

void st_buf_varint(struct st_buf *b, uint64_t v)
{
	if (!st_buf_reserve(b, 10))
		return;
	uint8_t *o = b->p + b->len;
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	b->len += n;
}

void st_buf_svarint(struct st_buf *b, int64_t v)
{
	st_buf_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int st_rd_skip(struct st_rd *r, size_t n, const uint8_t **where)
{
	if (n > r->len - r->pos)
		return ST_E_TRUNCATED;
	if (where)
		*where = r->p + r->pos;
	r->pos += n;
	return 0;
}

int st_rd_bytes(struct st_rd *r, void *out, size_t n)
{
	const uint8_t *w;
	int rc = st_rd_skip(r, n, &w);
	if (rc == 0 && n)
		memcpy(out, w, n);
	return rc;
}

int st_rd_u8(struct st_rd *r, uint8_t *v)
{
	if (r->pos >= r->len)
		return ST_E_TRUNCATED;
	*v = r->p[r->pos++];
	return 0;
}

int st_rd_u16le(struct st_rd *r, uint16_t *v)
{
	const uint8_t *w;
	int rc = st_rd_skip(r, 2, &w);
	if (rc == 0)
		*v = st_le16(w);
	return rc;
}

int st_rd_u32le(struct st_rd *r, uint32_t *v)
{
	const uint8_t *w;
	int rc = st_rd_skip(r, 4, &w);
	if (rc == 0)
		*v = st_le32(w);
	return rc;
}

int st_rd_u64le(struct st_rd *r, uint64_t *v)
{
	const uint8_t *w;
	int rc = st_rd_skip(r, 8, &w);
	if (rc == 0)
		*v = st_le64(w);
	return rc;
}

int st_rd_varint(struct st_rd *r, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len)
			return ST_E_TRUNCATED;
		uint8_t c = r->p[r->pos++];
		if (shift == 63 && c > 1)
			return ST_E_CORRUPT; /* over 64 bits */
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			/* canonical form only: one encoding per value, so that
			 * equal events always give equal bytes */
			if (c == 0 && shift > 0)
				return ST_E_CORRUPT;
			*v = x;
			return 0;
		}
	}
	return ST_E_CORRUPT;
}

int st_rd_svarint(struct st_rd *r, int64_t *v)
{
	uint64_t u;
	int rc = st_rd_varint(r, &u);
	if (rc == 0)
		*v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
	return rc;
}
