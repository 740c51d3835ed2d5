/* lease.c - the lease's bytes, its signature and the agent's checks.
 *
 * sign and verify share one notion of a well-formed lease, so that every
 * lease verify accepts signs again to exactly its own bytes (the fuzz
 * target pins this): a reason is valid UTF-8 without control characters,
 * the discard flag goes only with a pause, no unknown flag is set. */
#include "lease.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "core/mem.h"

/* Domain separation: a lease signature can never stand for another
 * signature made with the same key. The NUL is part of it. */
#define CONTEXT "sealtrace-lease-v1"
#define CONTEXT_LEN (sizeof CONTEXT) /* with its NUL */

#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_STATE 5
#define OFF_FLAGS 6
#define OFF_RLEN 7
#define OFF_DEVICE 8
#define OFF_SEQ 24
#define OFF_POLICY 32
#define OFF_NONCE 64
#define OFF_VALIDITY 80
#define OFF_ISSUED 84

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and
 * no control characters: the reason is shown to the person as one line. */
static bool reason_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0)) /* C1 controls */
			return false;
		i += len;
	}
	return true;
}

/* The fields both sides agree a lease may hold; 0 or the failing one's
 * description (for the caller's message). */
static const char *fields_bad(uint8_t state, uint8_t flags,
			      uint32_t validity_ms, const uint8_t *reason,
			      size_t rlen)
{
	if (state != ST_LEASE_RECORD && state != ST_LEASE_PAUSE)
		return "state is neither record (1) nor pause (2)";
	if (flags & ~ST_LEASE_FLAG_DISCARD)
		return "unknown flag bits are set";
	if ((flags & ST_LEASE_FLAG_DISCARD) && state != ST_LEASE_PAUSE)
		return "discard_unsent is set on a record lease";
	if (validity_ms == 0 || validity_ms > ST_LEASE_VALIDITY_MAX_MS)
		return "validity is outside 1.." "86400000 ms";
	if (rlen > ST_LEASE_REASON_MAX)
		return "reason is longer than 200 bytes";
	if (!reason_ok(reason, rlen))
		return "reason is not one line of UTF-8";
	return NULL;
}

static void signed_message(const uint8_t *p, size_t body_len, uint8_t *msg,
			   size_t *mlen)
{
	memcpy(msg, CONTEXT, CONTEXT_LEN);
	memcpy(msg + CONTEXT_LEN, p, body_len);
	*mlen = CONTEXT_LEN + body_len;
}

int st_lease_sign(const struct st_lease *l, const uint8_t *sk, uint8_t *out,
		  size_t cap, size_t *len, struct st_error *err)
{
	if (!l || !sk || !out || !len)
		return st_fail(err, ST_E_INVAL, "lease: sign needs a lease, a "
			       "key and an output buffer");
	*len = 0;
	size_t rlen = strnlen(l->reason, sizeof l->reason);
	if (rlen > ST_LEASE_REASON_MAX)
		return st_fail(err, ST_E_INVAL, "lease: reason is longer than "
			       "%d bytes; shorten it", ST_LEASE_REASON_MAX);
	const char *bad = fields_bad(l->state, l->flags, l->validity_ms,
				     (const uint8_t *)l->reason, rlen);
	if (bad)
		return st_fail(err, ST_E_INVAL, "lease for sequence %" PRIu64
			       ": %s; nothing was signed", l->seq, bad);
	size_t body = ST_LEASE_FIXED_LEN + rlen;
	if (cap < body + ST_LEASE_SIG_LEN)
		return st_fail(err, ST_E_CAP, "lease: output buffer of %zu "
			       "bytes, need %zu", cap, body + ST_LEASE_SIG_LEN);
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "lease: libsodium "
			       "could not initialise");
	memcpy(out + OFF_MAGIC, ST_LEASE_MAGIC, 4);
	out[OFF_VERSION] = ST_LEASE_VERSION;
	out[OFF_STATE] = l->state;
	out[OFF_FLAGS] = l->flags;
	out[OFF_RLEN] = (uint8_t)rlen;
	memcpy(out + OFF_DEVICE, l->device_id, 16);
	put_le(out + OFF_SEQ, l->seq, 8);
	memcpy(out + OFF_POLICY, l->policy_hash, 32);
	memcpy(out + OFF_NONCE, l->nonce, ST_LEASE_NONCE_LEN);
	put_le(out + OFF_VALIDITY, l->validity_ms, 4);
	put_le(out + OFF_ISSUED, (uint64_t)l->issued_s, 8);
	memcpy(out + ST_LEASE_FIXED_LEN, l->reason, rlen);
	uint8_t msg[CONTEXT_LEN + ST_LEASE_FIXED_LEN + ST_LEASE_REASON_MAX];
	size_t mlen;
	signed_message(out, body, msg, &mlen);
	crypto_sign_detached(out + body, NULL, msg, mlen, sk);
	*len = body + ST_LEASE_SIG_LEN;
	return 0;
}

int st_lease_verify(const uint8_t *p, size_t len,
		    const struct st_lease_expect *x, struct st_lease *out,
		    struct st_error *err)
{
	if (!x || !x->server_pk || !x->device_id || !x->nonce)
		return st_fail(err, ST_E_INVAL, "lease: verify needs the "
			       "pinned key, the device id and the nonce");
	if (!p || len < ST_LEASE_FIXED_LEN + ST_LEASE_SIG_LEN)
		return st_fail(err, ST_E_TRUNCATED, "lease: %zu bytes, shorter "
			       "than the %d of the smallest lease; ignored",
			       p ? len : 0, ST_LEASE_FIXED_LEN + ST_LEASE_SIG_LEN);
	if (memcmp(p + OFF_MAGIC, ST_LEASE_MAGIC, 4) != 0)
		return st_fail(err, ST_E_BAD_MAGIC, "lease: does not start "
			       "with \"" ST_LEASE_MAGIC "\"; not a lease");
	if (p[OFF_VERSION] != ST_LEASE_VERSION)
		return st_fail(err, ST_E_VERSION, "lease: version %u, this "
			       "agent reads %d; upgrade the agent",
			       p[OFF_VERSION], ST_LEASE_VERSION);
	size_t rlen = p[OFF_RLEN];
	if (rlen > ST_LEASE_REASON_MAX)
		return st_fail(err, ST_E_CORRUPT, "lease: reason length %zu "
			       "over the cap of %d", rlen, ST_LEASE_REASON_MAX);
	size_t body = ST_LEASE_FIXED_LEN + rlen;
	if (len < body + ST_LEASE_SIG_LEN)
		return st_fail(err, ST_E_TRUNCATED, "lease: %zu bytes, its "
			       "reason announces %zu", len,
			       body + ST_LEASE_SIG_LEN);
	if (len > body + ST_LEASE_SIG_LEN)
		return st_fail(err, ST_E_CORRUPT, "lease: %zu bytes after its "
			       "signature", len - body - ST_LEASE_SIG_LEN);
	uint32_t validity = (uint32_t)get_le(p + OFF_VALIDITY, 4);
	const char *bad = fields_bad(p[OFF_STATE], p[OFF_FLAGS], validity,
				     p + ST_LEASE_FIXED_LEN, rlen);
	if (bad)
		return st_fail(err, ST_E_CORRUPT, "lease: %s", bad);
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "lease: libsodium "
			       "could not initialise");
	uint8_t msg[CONTEXT_LEN + ST_LEASE_FIXED_LEN + ST_LEASE_REASON_MAX];
	size_t mlen;
	signed_message(p, body, msg, &mlen);
	if (crypto_sign_verify_detached(p + body, msg, mlen, x->server_pk) != 0)
		return st_fail(err, ST_E_SIGNATURE, "lease: signature does not "
			       "verify with the lease key pinned at enrollment; "
			       "ignored (if the server's lease key changed, "
			       "enroll again)");
	uint64_t seq = get_le(p + OFF_SEQ, 8);
	if (sodium_memcmp(p + OFF_DEVICE, x->device_id, 16) != 0)
		return st_fail(err, ST_E_LEASE_DEVICE, "lease for sequence "
			       "%" PRIu64 " was made for another device; "
			       "ignored", seq);
	if (sodium_memcmp(p + OFF_NONCE, x->nonce, ST_LEASE_NONCE_LEN) != 0)
		return st_fail(err, ST_E_LEASE_REPLAY, "lease for sequence "
			       "%" PRIu64 " echoes a nonce other than the "
			       "outstanding poll's: a replay; ignored", seq);
	if (seq < x->min_seq)
		return st_fail(err, ST_E_LEASE_OLD, "lease sequence %" PRIu64
			       " is below %" PRIu64 ", the newest held; "
			       "ignored", seq, x->min_seq);
	if (out) {
		memset(out, 0, sizeof *out);
		out->state = p[OFF_STATE];
		out->flags = p[OFF_FLAGS];
		memcpy(out->device_id, p + OFF_DEVICE, 16);
		out->seq = seq;
		memcpy(out->policy_hash, p + OFF_POLICY, 32);
		memcpy(out->nonce, p + OFF_NONCE, ST_LEASE_NONCE_LEN);
		out->validity_ms = validity;
		out->issued_s = (int64_t)get_le(p + OFF_ISSUED, 8);
		memcpy(out->reason, p + ST_LEASE_FIXED_LEN, rlen);
		out->reason[rlen] = 0;
	}
	return 0;
}
