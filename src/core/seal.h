/* seal.h - owns the sealed segment container: header layout, sealing
 * (compress, encrypt, wrap the key to the person, sign) and verification with
 * public keys only. Never opens a segment: opening lives in export/open.h, so
 * the ingest tier, which links this, cannot read content. */
#ifndef ST_SEAL_H
#define ST_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"
#include "segment.h"

#define ST_SEG_MAGIC "STSG"
#define ST_SEG_VERSION 1
#define ST_SEG_FLAG_ZSTD 0x01       /* body is one zstd frame (required in v1) */
#define ST_SEG_ID_LEN 16
#define ST_SEG_HASH_LEN 32
#define ST_SEG_NONCE_LEN 24
#define ST_SEG_SEALED_KEY_LEN 80    /* crypto_box_SEALBYTES + 32-byte key */
#define ST_SEG_SIG_LEN 64
/* Offsets of the v1 header (docs/format.md, "Sealed segment"). */
#define ST_SEG_OFF_BODY_HASH 212    /* end of the AEAD's associated data */
#define ST_SEG_OFF_SIG 244          /* end of the signed bytes */
#define ST_SEG_HEADER_LEN 308
#define ST_SEG_CIPHER_MAX (ST_BODY_MAX + 16u) /* zstd of a capped body fits */

/* The fields an ingest server can read. Nothing here is content: counts per
 * type live in the sealed body, times are whole minutes. */
struct st_segment_header {
	uint8_t version, flags;
	uint8_t device_id[ST_SEG_ID_LEN];
	uint8_t person_id[ST_SEG_ID_LEN];
	uint64_t seq;
	uint64_t lease_seq;
	uint32_t t_start_min, t_end_min; /* Unix minutes, end exclusive-ceil */
	uint8_t notice_hash[ST_SEG_HASH_LEN];
	uint8_t level; /* 1..3; 4 is never stored */
	uint32_t kinds;
	uint32_t body_len; /* ciphertext bytes, tag included */
	uint8_t nonce[ST_SEG_NONCE_LEN];
	uint8_t sealed_key[ST_SEG_SEALED_KEY_LEN];
	uint8_t body_hash[ST_SEG_HASH_LEN];
	uint8_t sig[ST_SEG_SIG_LEN];
};

/* What the sealer is told; kinds, times and lengths it computes itself. */
struct st_seal_params {
	uint8_t device_id[ST_SEG_ID_LEN];
	uint8_t person_id[ST_SEG_ID_LEN];
	uint64_t seq;
	uint64_t lease_seq;
	uint8_t notice_hash[ST_SEG_HASH_LEN];
	uint8_t level;  /* 1..3 */
	int zstd_level; /* 0 = ST_ZSTD_LEVEL_DEFAULT */
};

/* Seals evs into out (appended): canonical body, zstd, XChaCha20-Poly1305
 * under a fresh random key with the header as associated data, the key
 * sealed to person_pk (X25519), header signed with device_sk (Ed25519,
 * 64 bytes). Plaintext intermediates are in locked memory and wiped. */
int st_segment_seal(const struct st_seal_params *p,
		    const struct st_events *evs, const uint8_t person_pk[32],
		    const uint8_t *device_sk, struct st_zctx *z,
		    struct st_buf *out, struct st_error *err);

/* Parses and checks the header's structure (magic, version, flags, caps,
 * level, exact length) without any key. */
int st_segment_parse_header(const uint8_t *seg, size_t len,
			    struct st_segment_header *h, struct st_error *err);

/* parse_header, then the device signature (ST_E_SIGNATURE) and that the body
 * is the one the header signs (ST_E_BODY_MISMATCH). Public keys only. */
int st_segment_verify(const uint8_t *seg, size_t len,
		      const uint8_t device_pk[32], struct st_segment_header *h,
		      struct st_error *err);

/* Minute range a list of events covers: floor of its anchor, ceil of its last
 * event. ST_E_CAP when it does not fit 32-bit minutes. */
int st_events_minutes(const struct st_events *evs, uint32_t *start,
		      uint32_t *end, struct st_error *err);

#endif
