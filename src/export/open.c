/* open.c - the one place where a sealed segment becomes events again. */
#include "open.h"

#include <sodium.h>
#include <string.h>

int st_segment_open(const uint8_t *seg, size_t len,
		    const uint8_t device_pk[32], const uint8_t person_pk[32],
		    const uint8_t *person_sk, struct st_zctx *z,
		    struct st_segment_header *h, struct st_events *evs,
		    struct st_error *err)
{
	int rc = st_segment_verify(seg, len, device_pk, h, err);
	if (rc < 0)
		return rc;
	uint8_t *key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (!key)
		return st_fail(err, ST_E_NOMEM, "open: out of locked memory");
	struct st_buf zbody, body;
	st_buf_init(&zbody, true);
	st_buf_init(&body, true);
	if (crypto_box_seal_open(key, h->sealed_key, ST_SEG_SEALED_KEY_LEN,
				 person_pk, person_sk) != 0) {
		rc = st_fail(err, ST_E_NOT_FOR_KEY,
			     "segment %llu: not sealed to this person's key",
			     (unsigned long long)h->seq);
		goto out;
	}
	size_t ptlen = h->body_len - crypto_aead_xchacha20poly1305_ietf_ABYTES;
	if (!st_buf_reserve(&zbody, ptlen ? ptlen : 1)) {
		rc = st_fail(err, ST_E_NOMEM, "open: out of memory");
		goto out;
	}
	unsigned long long got;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    zbody.p, &got, NULL, seg + ST_SEG_HEADER_LEN, h->body_len,
		    seg, ST_SEG_OFF_BODY_HASH, h->nonce, key) != 0) {
		rc = st_fail(err, ST_E_DECRYPT,
			     "segment %llu: body fails authentication",
			     (unsigned long long)h->seq);
		goto out;
	}
	zbody.len = got;
	if ((rc = st_body_decompress(z, zbody.p, zbody.len, &body, err)) < 0 ||
	    (rc = st_body_decode(body.p, body.len, evs, err)) < 0) {
		st_error_prefix(err, "segment %llu: ", (unsigned long long)h->seq);
		goto out;
	}
	uint32_t kinds = st_events_kinds(evs);
	if (kinds != h->kinds) {
		rc = st_fail(err, ST_E_KINDS,
			     "segment %llu: header says kinds 0x%08x, body holds "
			     "0x%08x",
			     (unsigned long long)h->seq, h->kinds, kinds);
		goto out;
	}
	uint32_t s, e;
	if ((rc = st_events_minutes(evs, &s, &e, err)) < 0)
		goto out;
	if (s != h->t_start_min || e != h->t_end_min) {
		rc = st_fail(err, ST_E_ORDER,
			     "segment %llu: events span minutes %u-%u, header "
			     "says %u-%u",
			     (unsigned long long)h->seq, s, e, h->t_start_min,
			     h->t_end_min);
		goto out;
	}
out:
	sodium_free(key);
	st_buf_fini(&zbody);
	st_buf_fini(&body);
	if (rc < 0)
		st_events_clear(evs);
	return rc;
}
