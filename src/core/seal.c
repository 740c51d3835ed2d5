/* seal.c - the sealed segment container: seal and public-key verify. */
#include "seal.h"

#include <sodium.h>
#include <string.h>

#include "mem.h"

static void put_header(struct st_buf *b, const struct st_segment_header *h)
{
	st_buf_put(b, ST_SEG_MAGIC, 4);
	st_buf_u8(b, h->version);
	st_buf_u8(b, h->flags);
	st_buf_u16le(b, ST_SEG_HEADER_LEN);
	st_buf_put(b, h->device_id, ST_SEG_ID_LEN);
	st_buf_put(b, h->person_id, ST_SEG_ID_LEN);
	st_buf_u64le(b, h->seq);
	st_buf_u64le(b, h->lease_seq);
	st_buf_u32le(b, h->t_start_min);
	st_buf_u32le(b, h->t_end_min);
	st_buf_put(b, h->notice_hash, ST_SEG_HASH_LEN);
	st_buf_u8(b, h->level);
	st_buf_u8(b, 0);
	st_buf_u16le(b, 0);
	st_buf_u32le(b, h->kinds);
	st_buf_u32le(b, h->body_len);
	st_buf_put(b, h->nonce, ST_SEG_NONCE_LEN);
	st_buf_put(b, h->sealed_key, ST_SEG_SEALED_KEY_LEN);
}

int st_events_minutes(const struct st_events *evs, uint32_t *start,
		      uint32_t *end, struct st_error *err)
{
	const unsigned __int128 minute = 60000000000u;
	unsigned __int128 last = evs->n ? evs->ev[evs->n - 1].t : 0;
	unsigned __int128 s = evs->anchor_ns / minute;
	unsigned __int128 e = ((unsigned __int128)evs->anchor_ns +
			       last * evs->tick_ns + minute - 1) /
			      minute;
	if (e == s)
		e = s + 1; /* a range is never empty: [start, end) */
	if (e > UINT32_MAX)
		return st_fail(err, ST_E_CAP,
			       "segment ends after minute 2^32 of the Unix epoch; "
			       "check the clock and the event times");
	*start = (uint32_t)s;
	*end = (uint32_t)e;
	return 0;
}

int st_segment_seal(const struct st_seal_params *p,
		    const struct st_events *evs, const uint8_t person_pk[32],
		    const uint8_t *device_sk, struct st_zctx *z,
		    struct st_buf *out, struct st_error *err)
{
	struct st_segment_header h;
	struct st_buf body, zbody;
	uint8_t *key = NULL;
	int rc;

	if (p->level < 1 || p->level > 3)
		return st_fail(err, ST_E_LEVEL,
			       "sensitivity level %u cannot be sealed: levels 1-3 "
			       "are stored, level 4 is never stored",
			       p->level);
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium init failed");
	memset(&h, 0, sizeof h);
	h.version = ST_SEG_VERSION;
	h.flags = ST_SEG_FLAG_ZSTD;
	memcpy(h.device_id, p->device_id, ST_SEG_ID_LEN);
	memcpy(h.person_id, p->person_id, ST_SEG_ID_LEN);
	h.seq = p->seq;
	h.lease_seq = p->lease_seq;
	memcpy(h.notice_hash, p->notice_hash, ST_SEG_HASH_LEN);
	h.level = p->level;
	h.kinds = st_events_kinds(evs);
	if ((rc = st_events_minutes(evs, &h.t_start_min, &h.t_end_min, err)) < 0)
		return rc;

	st_buf_init(&body, true);
	st_buf_init(&zbody, true);
	if ((rc = st_body_encode(evs, &body, err)) < 0)
		goto out;
	if ((rc = st_body_compress(z, p->zstd_level ? p->zstd_level
						    : ST_ZSTD_LEVEL_DEFAULT,
				   body.p, body.len, &zbody, err)) < 0)
		goto out;
	h.body_len = (uint32_t)(zbody.len + crypto_aead_xchacha20poly1305_ietf_ABYTES);

	key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (!key) {
		rc = st_fail(err, ST_E_NOMEM, "seal: out of locked memory");
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	randombytes_buf(h.nonce, sizeof h.nonce);
	if (crypto_box_seal(h.sealed_key, key, 32, person_pk) != 0) {
		rc = st_fail(err, ST_E_INVAL,
			     "seal: person public key is not a valid X25519 key");
		goto out;
	}

	size_t start = out->len;
	put_header(out, &h);
	if (!st_buf_reserve(out, ST_SEG_HEADER_LEN - ST_SEG_OFF_BODY_HASH +
					 h.body_len)) {
		rc = st_fail(err, ST_E_NOMEM, "seal: out of memory");
		goto out;
	}
	/* ciphertext goes after the hash and signature slots */
	uint8_t *hdr = out->p + start;
	uint8_t *ct = hdr + ST_SEG_HEADER_LEN;
	unsigned long long ctlen;
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		ct, &ctlen, zbody.p, zbody.len, hdr, ST_SEG_OFF_BODY_HASH, NULL,
		h.nonce, key);
	crypto_generichash(hdr + ST_SEG_OFF_BODY_HASH, ST_SEG_HASH_LEN, ct, ctlen,
			   NULL, 0);
	crypto_sign_detached(hdr + ST_SEG_OFF_SIG, NULL, hdr, ST_SEG_OFF_SIG,
			     device_sk);
	out->len = start + ST_SEG_HEADER_LEN + ctlen;
	rc = 0;
out:
	if (key)
		sodium_free(key);
	st_buf_fini(&body);
	st_buf_fini(&zbody);
	return rc;
}

int st_segment_parse_header(const uint8_t *seg, size_t len,
			    struct st_segment_header *h, struct st_error *err)
{
	if (len < 8)
		return st_fail(err, ST_E_TRUNCATED,
			       "segment: truncated at byte %zu of the %d-byte "
			       "header",
			       len, ST_SEG_HEADER_LEN);
	if (memcmp(seg, ST_SEG_MAGIC, 4) != 0)
		return st_fail(err, ST_E_BAD_MAGIC,
			       "segment: bad magic (not a sealtrace segment)");
	memset(h, 0, sizeof *h);
	h->version = seg[4];
	h->flags = seg[5];
	if (h->version != ST_SEG_VERSION)
		return st_fail(err, ST_E_VERSION,
			       "segment: unsupported version %u (this build reads "
			       "version %d); upgrade sealtrace",
			       h->version, ST_SEG_VERSION);
	if (h->flags != ST_SEG_FLAG_ZSTD)
		return st_fail(err, ST_E_FLAGS,
			       "segment: flags 0x%02x, version 1 requires 0x%02x",
			       h->flags, ST_SEG_FLAG_ZSTD);
	if (st_le16(seg + 6) != ST_SEG_HEADER_LEN)
		return st_fail(err, ST_E_CORRUPT,
			       "segment: header length %u, version 1 has %d",
			       st_le16(seg + 6), ST_SEG_HEADER_LEN);
	if (len < ST_SEG_HEADER_LEN)
		return st_fail(err, ST_E_TRUNCATED,
			       "segment: truncated at byte %zu of the %d-byte "
			       "header",
			       len, ST_SEG_HEADER_LEN);
	const uint8_t *q = seg + 8;
	memcpy(h->device_id, q, 16), q += 16;
	memcpy(h->person_id, q, 16), q += 16;
	h->seq = st_le64(q), q += 8;
	h->lease_seq = st_le64(q), q += 8;
	h->t_start_min = st_le32(q), q += 4;
	h->t_end_min = st_le32(q), q += 4;
	memcpy(h->notice_hash, q, 32), q += 32;
	h->level = q[0];
	if (q[1] || q[2] || q[3])
		return st_fail(err, ST_E_CORRUPT,
			       "segment: reserved header bytes 97-99 are not zero");
	q += 4;
	h->kinds = st_le32(q), q += 4;
	h->body_len = st_le32(q), q += 4;
	memcpy(h->nonce, q, 24), q += 24;
	memcpy(h->sealed_key, q, 80), q += 80;
	memcpy(h->body_hash, q, 32), q += 32;
	memcpy(h->sig, q, 64);
	if (h->level < 1 || h->level > 3)
		return st_fail(err, ST_E_LEVEL,
			       "segment: sensitivity level %u; only 1-3 are ever "
			       "stored",
			       h->level);
	if (h->kinds & ~ST_KIND_ALL)
		return st_fail(err, ST_E_KINDS,
			       "segment: kinds bitmask 0x%08x has unknown bits",
			       h->kinds);
	if (h->t_end_min <= h->t_start_min)
		return st_fail(err, ST_E_ORDER,
			       "segment: time range ends (minute %u) before it "
			       "starts (minute %u)",
			       h->t_end_min, h->t_start_min);
	if (h->body_len < 16 || h->body_len > ST_SEG_CIPHER_MAX)
		return st_fail(err, ST_E_CAP,
			       "segment: body length %u outside 16..%u",
			       h->body_len, ST_SEG_CIPHER_MAX);
	size_t want = (size_t)ST_SEG_HEADER_LEN + h->body_len;
	if (len < want)
		return st_fail(err, ST_E_TRUNCATED,
			       "segment: truncated at byte %zu of %zu", len, want);
	if (len > want)
		return st_fail(err, ST_E_CORRUPT,
			       "segment: %zu bytes after the body's end at byte "
			       "%zu",
			       len - want, want);
	return 0;
}

int st_segment_verify(const uint8_t *seg, size_t len,
		      const uint8_t device_pk[32], struct st_segment_header *h,
		      struct st_error *err)
{
	int rc = st_segment_parse_header(seg, len, h, err);
	if (rc < 0)
		return rc;
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium init failed");
	if (crypto_sign_verify_detached(seg + ST_SEG_OFF_SIG, seg, ST_SEG_OFF_SIG,
					device_pk) != 0)
		return st_fail(err, ST_E_SIGNATURE,
			       "segment %llu: bad signature (not signed by this "
			       "device's key, or the header was altered)",
			       (unsigned long long)h->seq);
	uint8_t hash[ST_SEG_HASH_LEN];
	crypto_generichash(hash, sizeof hash, seg + ST_SEG_HEADER_LEN,
			   h->body_len, NULL, 0);
	if (sodium_memcmp(hash, h->body_hash, sizeof hash) != 0)
		return st_fail(err, ST_E_BODY_MISMATCH,
			       "segment %llu: body does not match its signed "
			       "header (altered, or header from another segment)",
			       (unsigned long long)h->seq);
	return 0;
}
