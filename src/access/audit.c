/* audit.c - the audit log's bytes, chain, Merkle tree, checkpoints and
 * proofs. SHA-256 is nettle's (it uses the CPU's SHA instructions, which
 * decide whether a million-entry log verifies in one second or in five);
 * Ed25519, hex and base64 are libsodium's. Nothing here allocates except
 * the JSON of a proof. */
#include "audit.h"

#include <inttypes.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>

#include "core/mem.h"

/* Domain separation: a checkpoint signature can never stand for a lease
 * or any other signature made with the same key. The NUL is part of it. */
#define CP_CONTEXT "sealtrace-audit-checkpoint-v1"
#define CP_CONTEXT_LEN (sizeof CP_CONTEXT) /* with its NUL */
#define CP_LINE1 "sealtrace audit checkpoint v1"
#define CP_LINE1_STEM "sealtrace audit checkpoint v"
#define CP_LINES 6
/* Decimal digits of ST_AUDIT_SIZE_MAX (INT64_MAX). */
#define DEC_MAX_DIGITS 19
#define SIG_B64_LEN 88 /* standard base64 of 64 bytes, with "==" */
#define B64V sodium_base64_VARIANT_ORIGINAL
#define HEX_LEN (2 * ST_AUDIT_HASH_LEN)

#define OFF_SEQ ST_AUDIT_MAGIC_LEN
#define OFF_TIME (OFF_SEQ + 8)
#define OFF_STRINGS (OFF_TIME + 8)

static const uint8_t ZERO[ST_AUDIT_HASH_LEN];

/* ---- entries ---- */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF)
 * without C0, DEL or C1 controls: entries are shown one per line, and a
 * control character could forge a line of `audit list` output. */
static bool text_ok(const uint8_t *s, size_t n)
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
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return false;
		i += len;
	}
	return true;
}

static void put_be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

struct field {
	const char *name;
	size_t off;   /* in struct st_audit_entry */
	size_t cap;
	bool may_be_empty;
};

static const struct field FIELDS[] = {
	{"actor", offsetof(struct st_audit_entry, actor), ST_AUDIT_ACTOR_MAX, false},
	{"role", offsetof(struct st_audit_entry, role), ST_AUDIT_ROLE_MAX, false},
	{"action", offsetof(struct st_audit_entry, action), ST_AUDIT_ACTION_MAX, false},
	{"object", offsetof(struct st_audit_entry, object), ST_AUDIT_OBJECT_MAX, true},
	{"purpose", offsetof(struct st_audit_entry, purpose), ST_AUDIT_PURPOSE_MAX, true},
	{"result", offsetof(struct st_audit_entry, result), ST_AUDIT_RESULT_MAX, false},
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* The encoding into out (ST_AUDIT_ENCODED_MAX bytes); its length, or 0
 * with *bad naming what is wrong. The one place the layout is written. */
static size_t encode(const struct st_audit_entry *e, uint8_t *out,
		     const char **bad, const char **bad_field)
{
	*bad_field = NULL;
	if (e->seq == 0 || e->seq > ST_AUDIT_SIZE_MAX) {
		*bad = "sequence is outside 1..9223372036854775807";
		return 0;
	}
	memcpy(out, ST_AUDIT_MAGIC, ST_AUDIT_MAGIC_LEN);
	put_be(out + OFF_SEQ, e->seq);
	put_be(out + OFF_TIME, (uint64_t)e->time_s);
	size_t o = OFF_STRINGS;
	for (size_t f = 0; f < NFIELDS; f++) {
		const char *s = (const char *)e + FIELDS[f].off;
		size_t n = strnlen(s, FIELDS[f].cap + 1);
		*bad_field = FIELDS[f].name;
		if (n > FIELDS[f].cap) {
			*bad = "is longer than its cap (or not NUL-terminated)";
			return 0;
		}
		if (n == 0 && !FIELDS[f].may_be_empty) {
			*bad = "is empty";
			return 0;
		}
		if (!text_ok((const uint8_t *)s, n)) {
			*bad = "is not UTF-8 without control characters";
			return 0;
		}
		out[o] = (uint8_t)(n >> 8);
		out[o + 1] = (uint8_t)n;
		memcpy(out + o + 2, s, n);
		o += 2 + n;
	}
	memcpy(out + o, e->prev, ST_AUDIT_HASH_LEN);
	return o + ST_AUDIT_HASH_LEN;
}

static int encode_fail(struct st_error *err, const struct st_audit_entry *e,
		       const char *bad, const char *field)
{
	if (field)
		return st_fail(err, ST_E_INVAL, "audit entry %" PRIu64 ": %s "
			       "%s; nothing was written", e->seq, field, bad);
	return st_fail(err, ST_E_INVAL, "audit entry %" PRIu64 ": %s; "
		       "nothing was written", e->seq, bad);
}

int st_audit_encode(const struct st_audit_entry *e, uint8_t *out, size_t cap,
		    size_t *len, struct st_error *err)
{
	if (!e || !out || !len)
		return st_fail(err, ST_E_INVAL, "audit: encode needs an entry "
			       "and an output buffer");
	*len = 0;
	uint8_t b[ST_AUDIT_ENCODED_MAX];
	const char *bad, *field;
	size_t n = encode(e, b, &bad, &field);
	if (n == 0)
		return encode_fail(err, e, bad, field);
	if (cap < n)
		return st_fail(err, ST_E_CAP, "audit entry %" PRIu64 ": output "
			       "buffer of %zu bytes, need %zu", e->seq, cap, n);
	memcpy(out, b, n);
	*len = n;
	return 0;
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

static void leaf_of(const uint8_t *enc, size_t n, uint8_t out[32])
{
	static const uint8_t tag = 0x00;
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, 1, &tag);
	sha256_update(&c, n, enc);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void st_audit_node_hash(const uint8_t left[32], const uint8_t right[32],
			uint8_t out[32])
{
	uint8_t b[1 + 2 * ST_AUDIT_HASH_LEN];
	b[0] = 0x01;
	memcpy(b + 1, left, ST_AUDIT_HASH_LEN);
	memcpy(b + 1 + ST_AUDIT_HASH_LEN, right, ST_AUDIT_HASH_LEN);
	sha256(b, sizeof b, out);
}

void st_audit_key_id(const uint8_t pk[32], uint8_t out[ST_AUDIT_KEY_ID_LEN])
{
	uint8_t h[32];
	sha256(pk, 32, h);
	memcpy(out, h, ST_AUDIT_KEY_ID_LEN);
}

int st_audit_entry_hash(const struct st_audit_entry *e, uint8_t out[32],
			struct st_error *err)
{
	if (!e || !out)
		return st_fail(err, ST_E_INVAL, "audit: hash needs an entry");
	uint8_t b[ST_AUDIT_ENCODED_MAX];
	const char *bad, *field;
	size_t n = encode(e, b, &bad, &field);
	if (n == 0)
		return encode_fail(err, e, bad, field);
	sha256(b, n, out);
	return 0;
}

int st_audit_leaf_hash(const struct st_audit_entry *e, uint8_t out[32],
		       struct st_error *err)
{
	if (!e || !out)
		return st_fail(err, ST_E_INVAL, "audit: hash needs an entry");
	uint8_t b[ST_AUDIT_ENCODED_MAX];
	const char *bad, *field;
	size_t n = encode(e, b, &bad, &field);
	if (n == 0)
		return encode_fail(err, e, bad, field);
	leaf_of(b, n, out);
	return 0;
}

int st_audit_seal(struct st_audit_entry *e, const uint8_t *prev,
		  struct st_error *err)
{
	if (!e)
		return st_fail(err, ST_E_INVAL, "audit: seal needs an entry");
	memcpy(e->prev, prev ? prev : ZERO, ST_AUDIT_HASH_LEN);
	return st_audit_entry_hash(e, e->hash, err);
}

/* ---- chain ---- */

/* One entry against what should come: seq expect, after chain hash prev.
 * The damage is named in the order an attacker's edit shows first: a
 * sequence out of place, then content that no longer matches its own
 * hash, then a link to something other than the entry before. leaf (if
 * not NULL) receives the leaf hash from the same encoding. */
static int step(const struct st_audit_entry *e, uint64_t expect,
		const uint8_t prev[32], uint8_t *leaf, struct st_error *err)
{
	if (e->seq != expect)
		return st_fail(err, ST_E_AUDIT, "entry %" PRIu64 ": sequence "
			       "%" PRIu64 " where %" PRIu64 " was expected "
			       "(deleted or reordered)", expect, e->seq,
			       expect);
	uint8_t b[ST_AUDIT_ENCODED_MAX], h[ST_AUDIT_HASH_LEN];
	const char *bad, *field;
	size_t n = encode(e, b, &bad, &field);
	if (n == 0)
		return st_fail(err, ST_E_AUDIT, "entry %" PRIu64 ": %s%s%s, "
			       "which no appender writes (modified)", expect,
			       field ? field : "", field ? " " : "", bad);
	sha256(b, n, h);
	if (memcmp(h, e->hash, ST_AUDIT_HASH_LEN) != 0)
		return st_fail(err, ST_E_AUDIT, "entry %" PRIu64 ": its "
			       "content does not match its hash (modified)",
			       expect);
	if (memcmp(e->prev, prev, ST_AUDIT_HASH_LEN) != 0) {
		if (expect == 1)
			return st_fail(err, ST_E_AUDIT, "entry 1: links to an "
				       "entry before it, but it is the first "
				       "(entries were deleted before it)");
		return st_fail(err, ST_E_AUDIT, "entry %" PRIu64 ": does not "
			       "follow entry %" PRIu64 " (an entry was "
			       "deleted, inserted or moved before it)", expect,
			       expect - 1);
	}
	if (leaf)
		leaf_of(b, n, leaf);
	return 0;
}

int st_audit_chain_check(const struct st_audit_entry *entries, size_t n,
			 uint64_t first_seq, const uint8_t *prev_of_first,
			 uint64_t *bad_seq, struct st_error *err)
{
	if (bad_seq)
		*bad_seq = 0;
	if ((!entries && n) || first_seq == 0 ||
	    first_seq > ST_AUDIT_SIZE_MAX || n > ST_AUDIT_SIZE_MAX - first_seq + 1)
		return st_fail(err, ST_E_INVAL, "audit chain check: first "
			       "sequence %" PRIu64 " and %zu entries are "
			       "outside 1..9223372036854775807", first_seq, n);
	const uint8_t *prev = prev_of_first ? prev_of_first : ZERO;
	for (size_t i = 0; i < n; i++) {
		int rc = step(&entries[i], first_seq + i, prev, NULL, err);
		if (rc < 0) {
			if (bad_seq)
				*bad_seq = first_seq + i;
			return rc;
		}
		prev = entries[i].hash;
	}
	return 0;
}

/* ---- streaming tree ---- */

void st_audit_tree_init(struct st_audit_tree *t)
{
	t->size = 0;
	t->depth = 0;
}

static void tree_push(struct st_audit_tree *t, const uint8_t leaf[32])
{
	memcpy(t->stack[t->depth++], leaf, ST_AUDIT_HASH_LEN);
	/* each trailing 1 bit of the old size is a perfect subtree as large
	 * as the one just completed: merge it in */
	for (uint64_t s = t->size; s & 1; s >>= 1) {
		t->depth--;
		st_audit_node_hash(t->stack[t->depth - 1], t->stack[t->depth],
				   t->stack[t->depth - 1]);
	}
	t->size++;
}

int st_audit_tree_append(struct st_audit_tree *t, const uint8_t leaf[32],
			 struct st_error *err)
{
	if (t->size >= ST_AUDIT_SIZE_MAX)
		return st_fail(err, ST_E_CAP, "audit tree: %" PRIu64 " leaves, "
			       "the most a log may hold", t->size);
	tree_push(t, leaf);
	return 0;
}

void st_audit_tree_root(const struct st_audit_tree *t, uint8_t out[32])
{
	if (t->depth == 0) {
		sha256(ZERO, 0, out);
		return;
	}
	/* the RFC puts the largest perfect subtree on the left: fold from the
	 * smallest (top of the stack) down */
	uint8_t r[ST_AUDIT_HASH_LEN];
	memcpy(r, t->stack[t->depth - 1], ST_AUDIT_HASH_LEN);
	for (unsigned i = t->depth - 1; i-- > 0;)
		st_audit_node_hash(t->stack[i], r, r);
	memcpy(out, r, ST_AUDIT_HASH_LEN);
}

/* ---- proofs from leaves in memory ---- */

void st_audit_root(const uint8_t *leaves, uint64_t n, uint8_t out[32])
{
	struct st_audit_tree t;
	st_audit_tree_init(&t);
	for (uint64_t i = 0; i < n; i++)
		tree_push(&t, leaves + i * ST_AUDIT_HASH_LEN);
	st_audit_tree_root(&t, out);
}

/* Largest power of two below n (n >= 2). */
static uint64_t split(uint64_t n)
{
	uint64_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* RFC 6962 2.1.1 PATH(m, D[n]), deepest sibling first. */
static size_t path(const uint8_t *l, uint64_t n, uint64_t m, uint8_t *out)
{
	if (n <= 1)
		return 0;
	uint64_t k = split(n);
	size_t c;
	if (m < k) {
		c = path(l, k, m, out);
		st_audit_root(l + k * ST_AUDIT_HASH_LEN, n - k,
			      out + c * ST_AUDIT_HASH_LEN);
	} else {
		c = path(l + k * ST_AUDIT_HASH_LEN, n - k, m - k, out);
		st_audit_root(l, k, out + c * ST_AUDIT_HASH_LEN);
	}
	return c + 1;
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[n], b). */
static size_t subproof(const uint8_t *l, uint64_t n, uint64_t m, bool b,
		       uint8_t *out)
{
	if (m == n) {
		if (b)
			return 0;
		st_audit_root(l, n, out);
		return 1;
	}
	uint64_t k = split(n);
	size_t c;
	if (m <= k) {
		c = subproof(l, k, m, b, out);
		st_audit_root(l + k * ST_AUDIT_HASH_LEN, n - k,
			      out + c * ST_AUDIT_HASH_LEN);
	} else {
		c = subproof(l + k * ST_AUDIT_HASH_LEN, n - k, m - k, false,
			     out);
		st_audit_root(l, k, out + c * ST_AUDIT_HASH_LEN);
	}
	return c + 1;
}

static int copy_proof(const uint8_t *p, size_t c, uint8_t *out, size_t cap,
		      size_t *count, const char *what, struct st_error *err)
{
	if (c > cap)
		return st_fail(err, ST_E_CAP, "audit: %s proof has %zu hashes, "
			       "room for %zu (ST_AUDIT_PROOF_MAX suffices)",
			       what, c, cap);
	if (c)
		memcpy(out, p, c * ST_AUDIT_HASH_LEN);
	*count = c;
	return 0;
}

int st_audit_inclusion_proof(const uint8_t *leaves, uint64_t n,
			     uint64_t index, uint8_t *out, size_t cap,
			     size_t *count, struct st_error *err)
{
	if (!leaves || !count || (!out && cap) || n > ST_AUDIT_SIZE_MAX)
		return st_fail(err, ST_E_INVAL, "audit: inclusion proof needs "
			       "leaves, an output and a count");
	*count = 0;
	if (index >= n)
		return st_fail(err, ST_E_INVAL, "audit: no leaf %" PRIu64 " in "
			       "a log of %" PRIu64 " entries", index, n);
	uint8_t p[ST_AUDIT_PROOF_MAX * ST_AUDIT_HASH_LEN];
	size_t c = path(leaves, n, index, p);
	return copy_proof(p, c, out, cap, count, "inclusion", err);
}

int st_audit_consistency_proof(const uint8_t *leaves, uint64_t n_old,
			       uint64_t n_new, uint8_t *out, size_t cap,
			       size_t *count, struct st_error *err)
{
	if (!leaves || !count || (!out && cap) || n_new > ST_AUDIT_SIZE_MAX)
		return st_fail(err, ST_E_INVAL, "audit: consistency proof "
			       "needs leaves, an output and a count");
	*count = 0;
	if (n_old > n_new)
		return st_fail(err, ST_E_INVAL, "audit: no consistency proof "
			       "from size %" PRIu64 " to the smaller %" PRIu64,
			       n_old, n_new);
	if (n_old == 0 || n_old == n_new)
		return 0;
	uint8_t p[ST_AUDIT_PROOF_MAX * ST_AUDIT_HASH_LEN];
	size_t c = subproof(leaves, n_new, n_old, true, p);
	return copy_proof(p, c, out, cap, count, "consistency", err);
}

/* ---- verification, RFC 9162 2.1.3.2 and 2.1.4.2 ---- */

static void hex_short(const uint8_t *h, char out[17])
{
	sodium_bin2hex(out, 17, h, 8);
}

int st_audit_inclusion_verify(uint64_t index, uint64_t size,
			      const uint8_t leaf[32], const uint8_t *proof,
			      size_t count, const uint8_t root[32],
			      struct st_error *err)
{
	if (!leaf || !root || (!proof && count))
		return st_fail(err, ST_E_INVAL, "audit: inclusion verify needs "
			       "a leaf, a root and the proof");
	if (index >= size)
		return st_fail(err, ST_E_AUDIT, "inclusion proof: leaf %" PRIu64
			       " is not inside a tree of size %" PRIu64, index,
			       size);
	if (count > ST_AUDIT_PROOF_MAX)
		return st_fail(err, ST_E_AUDIT, "inclusion proof: %zu hashes, "
			       "more than any tree needs", count);
	uint64_t fn = index, sn = size - 1;
	uint8_t r[ST_AUDIT_HASH_LEN];
	memcpy(r, leaf, ST_AUDIT_HASH_LEN);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p = proof + i * ST_AUDIT_HASH_LEN;
		if (sn == 0)
			return st_fail(err, ST_E_AUDIT, "inclusion proof of "
				       "leaf %" PRIu64 " in size %" PRIu64 ": "
				       "%zu hashes, longer than the tree is "
				       "deep", index, size, count);
		if ((fn & 1) || fn == sn) {
			st_audit_node_hash(p, r, r);
			while (fn && !(fn & 1)) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			st_audit_node_hash(r, p, r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return st_fail(err, ST_E_AUDIT, "inclusion proof of leaf %"
			       PRIu64 " in size %" PRIu64 ": %zu hashes, "
			       "shorter than the path to the root", index,
			       size, count);
	if (memcmp(r, root, ST_AUDIT_HASH_LEN) != 0) {
		char want[17];
		hex_short(root, want);
		return st_fail(err, ST_E_AUDIT, "inclusion proof of leaf %"
			       PRIu64 " in size %" PRIu64 ": does not lead to "
			       "root %s...; the entry is not in that tree or "
			       "the proof is wrong", index, size, want);
	}
	return 0;
}

int st_audit_consistency_verify(uint64_t size1, uint64_t size2,
				const uint8_t root1[32],
				const uint8_t root2[32], const uint8_t *proof,
				size_t count, struct st_error *err)
{
	if (!root1 || !root2 || (!proof && count))
		return st_fail(err, ST_E_INVAL, "audit: consistency verify "
			       "needs both roots and the proof");
	if (size1 > size2)
		return st_fail(err, ST_E_AUDIT, "consistency proof: size %"
			       PRIu64 " is larger than %" PRIu64 " (the log "
			       "shrank)", size1, size2);
	if (count > ST_AUDIT_PROOF_MAX)
		return st_fail(err, ST_E_AUDIT, "consistency proof: %zu hashes, "
			       "more than any tree needs", count);
	if (size1 == size2 || size1 == 0) {
		uint8_t empty[ST_AUDIT_HASH_LEN];
		sha256(ZERO, 0, empty);
		if (count != 0)
			return st_fail(err, ST_E_AUDIT, "consistency proof from "
				       "size %" PRIu64 " to %" PRIu64 ": must be "
				       "empty, has %zu hashes", size1, size2,
				       count);
		const uint8_t *want = size1 == 0 ? empty : root2;
		if (memcmp(root1, want, ST_AUDIT_HASH_LEN) != 0)
			return st_fail(err, ST_E_AUDIT, "consistency from size "
				       "%" PRIu64 " to %" PRIu64 ": the first "
				       "root is not %s", size1, size2,
				       size1 == 0 ? "the empty tree's"
						  : "the second (rewritten)");
		return 0;
	}
	if (count == 0)
		return st_fail(err, ST_E_AUDIT, "consistency proof from size %"
			       PRIu64 " to %" PRIu64 ": empty", size1, size2);
	/* step 2: a power-of-two first tree is itself the proof's start */
	bool pow2 = (size1 & (size1 - 1)) == 0;
	size_t total = count + (pow2 ? 1 : 0);
	uint64_t fn = size1 - 1, sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	uint8_t fr[ST_AUDIT_HASH_LEN], sr[ST_AUDIT_HASH_LEN];
	const uint8_t *first = pow2 ? root1 : proof;
	memcpy(fr, first, ST_AUDIT_HASH_LEN);
	memcpy(sr, first, ST_AUDIT_HASH_LEN);
	for (size_t i = 1; i < total; i++) {
		const uint8_t *c = proof + (pow2 ? i - 1 : i) * ST_AUDIT_HASH_LEN;
		if (sn == 0)
			return st_fail(err, ST_E_AUDIT, "consistency proof from "
				       "size %" PRIu64 " to %" PRIu64 ": %zu "
				       "hashes, more than the trees need",
				       size1, size2, count);
		if ((fn & 1) || fn == sn) {
			st_audit_node_hash(c, fr, fr);
			st_audit_node_hash(c, sr, sr);
			while (fn && !(fn & 1)) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			st_audit_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return st_fail(err, ST_E_AUDIT, "consistency proof from size %"
			       PRIu64 " to %" PRIu64 ": %zu hashes, fewer than "
			       "the trees need", size1, size2, count);
	if (memcmp(fr, root1, ST_AUDIT_HASH_LEN) != 0)
		return st_fail(err, ST_E_AUDIT, "consistency proof from size %"
			       PRIu64 " to %" PRIu64 ": does not lead to the "
			       "first root; the first tree is not a prefix of "
			       "the second or the proof is wrong", size1,
			       size2);
	if (memcmp(sr, root2, ST_AUDIT_HASH_LEN) != 0)
		return st_fail(err, ST_E_AUDIT, "consistency proof from size %"
			       PRIu64 " to %" PRIu64 ": does not lead to the "
			       "second root; the log was rewritten or the "
			       "proof is wrong", size1, size2);
	return 0;
}

/* ---- checkpoints ---- */

/* The five signed lines into out (>= ST_AUDIT_CHECKPOINT_TEXT_MAX); their
 * length, or 0 for fields out of range. */
static size_t signed_lines(const struct st_audit_checkpoint *cp, char *out)
{
	if (cp->size > ST_AUDIT_SIZE_MAX || cp->time_s < 0)
		return 0;
	char root[HEX_LEN + 1], key[2 * ST_AUDIT_KEY_ID_LEN + 1];
	sodium_bin2hex(root, sizeof root, cp->root, ST_AUDIT_HASH_LEN);
	sodium_bin2hex(key, sizeof key, cp->key_id, ST_AUDIT_KEY_ID_LEN);
	int n = snprintf(out, ST_AUDIT_CHECKPOINT_TEXT_MAX,
			 CP_LINE1 "\nsize %" PRIu64 "\nroot %s\ntime %" PRId64
			 "\nkey %s\n", cp->size, root, cp->time_s, key);
	if (n <= 0 || n >= ST_AUDIT_CHECKPOINT_TEXT_MAX)
		return 0;
	return (size_t)n;
}

static bool signed_message(const struct st_audit_checkpoint *cp,
			   uint8_t *msg, size_t *mlen)
{
	char lines[ST_AUDIT_CHECKPOINT_TEXT_MAX];
	size_t n = signed_lines(cp, lines);
	if (n == 0)
		return false;
	memcpy(msg, CP_CONTEXT, CP_CONTEXT_LEN);
	memcpy(msg + CP_CONTEXT_LEN, lines, n);
	*mlen = CP_CONTEXT_LEN + n;
	return true;
}

#define CP_MSG_MAX (CP_CONTEXT_LEN + ST_AUDIT_CHECKPOINT_TEXT_MAX)

int st_audit_checkpoint_sign(struct st_audit_checkpoint *cp,
			     const uint8_t *sk, const uint8_t pk[32],
			     struct st_error *err)
{
	if (!cp || !sk || !pk)
		return st_fail(err, ST_E_INVAL, "checkpoint: sign needs a "
			       "checkpoint and the audit key pair");
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "checkpoint: libsodium "
			       "could not initialise");
	/* libsodium's secret key ends with its public key: a mismatch would
	 * sign under a key id that does not verify */
	if (sodium_memcmp(sk + 32, pk, 32) != 0)
		return st_fail(err, ST_E_INVAL, "checkpoint: the public key is "
			       "not the secret key's; nothing was signed");
	st_audit_key_id(pk, cp->key_id);
	uint8_t msg[CP_MSG_MAX];
	size_t mlen;
	if (!signed_message(cp, msg, &mlen))
		return st_fail(err, ST_E_INVAL, "checkpoint: size %" PRIu64
			       " or time %" PRId64 " out of range; nothing "
			       "was signed", cp->size, cp->time_s);
	crypto_sign_detached(cp->sig, NULL, msg, mlen, sk);
	return 0;
}

int st_audit_checkpoint_verify(const struct st_audit_checkpoint *cp,
			       const uint8_t pk[32], struct st_error *err)
{
	if (!cp || !pk)
		return st_fail(err, ST_E_INVAL, "checkpoint: verify needs a "
			       "checkpoint and the audit public key");
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "checkpoint: libsodium "
			       "could not initialise");
	uint8_t id[ST_AUDIT_KEY_ID_LEN];
	st_audit_key_id(pk, id);
	if (memcmp(id, cp->key_id, ST_AUDIT_KEY_ID_LEN) != 0) {
		char got[2 * ST_AUDIT_KEY_ID_LEN + 1], want[sizeof got];
		sodium_bin2hex(got, sizeof got, cp->key_id, ST_AUDIT_KEY_ID_LEN);
		sodium_bin2hex(want, sizeof want, id, ST_AUDIT_KEY_ID_LEN);
		return st_fail(err, ST_E_SIGNATURE, "checkpoint of size %"
			       PRIu64 ": signed by key %s, not by the audit "
			       "key given (%s); check that it comes from this "
			       "server", cp->size, got, want);
	}
	uint8_t msg[CP_MSG_MAX];
	size_t mlen;
	if (!signed_message(cp, msg, &mlen))
		return st_fail(err, ST_E_INVAL, "checkpoint: size %" PRIu64
			       " or time %" PRId64 " out of range", cp->size,
			       cp->time_s);
	if (crypto_sign_verify_detached(cp->sig, msg, mlen, pk) != 0)
		return st_fail(err, ST_E_SIGNATURE, "checkpoint of size %"
			       PRIu64 ": signature does not verify with the "
			       "audit key; the file was altered", cp->size);
	return 0;
}

int st_audit_checkpoint_format(const struct st_audit_checkpoint *cp,
			       char *out, size_t cap, size_t *len,
			       struct st_error *err)
{
	if (!cp || !out || !len)
		return st_fail(err, ST_E_INVAL, "checkpoint: format needs a "
			       "checkpoint and an output buffer");
	*len = 0;
	char t[ST_AUDIT_CHECKPOINT_BUF];
	size_t n = signed_lines(cp, t);
	if (n == 0)
		return st_fail(err, ST_E_INVAL, "checkpoint: size %" PRIu64
			       " or time %" PRId64 " out of range", cp->size,
			       cp->time_s);
	memcpy(t + n, "sig ", 4);
	n += 4;
	sodium_bin2base64(t + n, sizeof t - n, cp->sig, ST_AUDIT_SIG_LEN, B64V);
	n += SIG_B64_LEN;
	t[n++] = '\n';
	if (cap < n + 1)
		return st_fail(err, ST_E_CAP, "checkpoint: output buffer of "
			       "%zu bytes, need %zu", cap, n + 1);
	memcpy(out, t, n);
	out[n] = 0;
	*len = n;
	return 0;
}

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A decimal 0..INT64_MAX with no sign and no leading zero. */
static bool decimal(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > DEC_MAX_DIGITS || (n > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits fit */
	}
	if (v > ST_AUDIT_SIZE_MAX)
		return false;
	*out = v;
	return true;
}

static bool hex_field(const char *s, size_t n, uint8_t *out, size_t bytes)
{
	size_t got = 0;
	return n == 2 * bytes && lower_hex(s, n) &&
	       sodium_hex2bin(out, bytes, s, n, NULL, &got, NULL) == 0 &&
	       got == bytes;
}

static bool sig_field(const char *s, size_t n, uint8_t *out)
{
	if (n != SIG_B64_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      (c == '=' && i >= n - 2)))
			return false;
	}
	size_t got = 0;
	const char *end = NULL;
	if (sodium_base642bin(out, ST_AUDIT_SIG_LEN, s, n, NULL, &got, &end,
			      B64V) != 0 ||
	    got != ST_AUDIT_SIG_LEN || end != s + n)
		return false;
	/* one text per signature: refuse non-canonical padding bits
	 * (libsodium does too; this does not depend on its version) */
	char again[SIG_B64_LEN + 1];
	sodium_bin2base64(again, sizeof again, out, ST_AUDIT_SIG_LEN, B64V);
	return memcmp(again, s, n) == 0;
}

/* "sealtrace audit checkpoint v" and 1..DEC_MAX_DIGITS digits. */
static bool is_version_line(const char *s, size_t n)
{
	size_t stem = strlen(CP_LINE1_STEM);
	if (n <= stem || n > stem + DEC_MAX_DIGITS ||
	    memcmp(s, CP_LINE1_STEM, stem) != 0)
		return false;
	for (size_t i = stem; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static const char *const LINE_NAME[CP_LINES] = {
	"header", "size", "root", "time", "key", "sig",
};
static const char *const LINE_SHAPE[CP_LINES] = {
	"\"" CP_LINE1 "\"",
	"\"size \" and a decimal without sign or leading zero, at most "
	"9223372036854775807",
	"\"root \" and 64 lower-case hex digits",
	"\"time \" and a decimal without sign or leading zero, at most "
	"9223372036854775807",
	"\"key \" and 16 lower-case hex digits",
	"\"sig \" and 88 characters of standard base64",
};

int st_audit_checkpoint_parse(const char *text, size_t len,
			      struct st_audit_checkpoint *out,
			      struct st_error *err)
{
	if (!text || !out)
		return st_fail(err, ST_E_INVAL, "checkpoint: parse needs text "
			       "and an output");
	if (len > ST_AUDIT_CHECKPOINT_TEXT_MAX)
		return st_fail(err, ST_E_CAP, "checkpoint: %zu bytes, over the "
			       "%d of the longest checkpoint; not a checkpoint "
			       "file", len, ST_AUDIT_CHECKPOINT_TEXT_MAX);
	struct st_audit_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	size_t pos = 0;
	for (int ln = 0; ln < CP_LINES; ln++) {
		if (pos >= len)
			return st_fail(err, ST_E_TRUNCATED, "checkpoint line %d "
				       "(%s): missing, the text ends after "
				       "line %d; was the file cut short?",
				       ln + 1, LINE_NAME[ln], ln);
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		if (!nl && ln < CP_LINES - 1)
			return st_fail(err, ST_E_TRUNCATED, "checkpoint line %d "
				       "(%s): the text ends inside it; was "
				       "the file cut short?", ln + 1,
				       LINE_NAME[ln]);
		pos += n + (nl ? 1 : 0);
		if (memchr(s, '\r', n))
			return st_fail(err, ST_E_CORRUPT, "checkpoint line %d "
				       "(%s): a carriage return; lines end in "
				       "\\n alone (convert the file with "
				       "dos2unix)", ln + 1, LINE_NAME[ln]);
		bool ok;
		switch (ln) {
		case 0:
			if (n == strlen(CP_LINE1) && memcmp(s, CP_LINE1, n) == 0)
				continue;
			if (is_version_line(s, n))
				return st_fail(err, ST_E_VERSION, "checkpoint "
					       "line 1: version %.*s, this "
					       "build reads v1; upgrade "
					       "sealtrace", (int)(n -
					       strlen(CP_LINE1_STEM) + 1),
					       s + strlen(CP_LINE1_STEM) - 1);
			return st_fail(err, ST_E_BAD_MAGIC, "checkpoint line 1: "
				       "not \"" CP_LINE1 "\"; not a sealtrace "
				       "checkpoint");
		case 1:
			ok = n > 5 && memcmp(s, "size ", 5) == 0 &&
			     decimal(s + 5, n - 5, &cp.size);
			break;
		case 2:
			ok = n > 5 && memcmp(s, "root ", 5) == 0 &&
			     hex_field(s + 5, n - 5, cp.root, ST_AUDIT_HASH_LEN);
			break;
		case 3: {
			uint64_t t = 0;
			ok = n > 5 && memcmp(s, "time ", 5) == 0 &&
			     decimal(s + 5, n - 5, &t);
			cp.time_s = (int64_t)t;
			break;
		}
		case 4:
			ok = n > 4 && memcmp(s, "key ", 4) == 0 &&
			     hex_field(s + 4, n - 4, cp.key_id,
				       ST_AUDIT_KEY_ID_LEN);
			break;
		default:
			ok = n > 4 && memcmp(s, "sig ", 4) == 0 &&
			     sig_field(s + 4, n - 4, cp.sig);
			break;
		}
		if (!ok)
			return st_fail(err, ST_E_CORRUPT, "checkpoint line %d "
				       "(%s): expected %s", ln + 1,
				       LINE_NAME[ln], LINE_SHAPE[ln]);
	}
	if (pos != len)
		return st_fail(err, ST_E_CORRUPT, "checkpoint line %d: text "
			       "after the last line (sig); a checkpoint has "
			       "exactly %d lines", CP_LINES + 1, CP_LINES);
	*out = cp;
	return 0;
}

/* ---- proofs as JSON ---- */

static int proof_int(json_t *o, const char *key, uint64_t *out,
		     struct st_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return st_fail(err, ST_E_JSON, "proof: \"%s\" is missing", key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return st_fail(err, ST_E_JSON, "proof: \"%s\" is not a whole "
			       "number 0..9223372036854775807", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int st_audit_proof_parse(const char *json, size_t len,
			 struct st_audit_proof *out, struct st_error *err)
{
	if (!json || !out)
		return st_fail(err, ST_E_INVAL, "proof: parse needs text and "
			       "an output");
	if (len > ST_AUDIT_PROOF_JSON_MAX)
		return st_fail(err, ST_E_CAP, "proof: %zu bytes, over the cap "
			       "of %d", len, ST_AUDIT_PROOF_JSON_MAX);
	json_error_t je;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return st_fail(err, ST_E_JSON, "proof: not JSON at line %d "
			       "column %d: %s", je.line, je.column, je.text);
	struct st_audit_proof p;
	memset(&p, 0, sizeof p);
	int rc = 0;
	const char *a, *b;
	if (!json_is_object(o)) {
		rc = st_fail(err, ST_E_JSON, "proof: not a JSON object");
		goto out;
	}
	json_t *kind = json_object_get(o, "kind");
	if (!json_is_string(kind)) {
		rc = st_fail(err, ST_E_JSON, "proof: \"kind\" is missing or "
			     "not a string");
		goto out;
	}
	if (strcmp(json_string_value(kind), "inclusion") == 0) {
		p.kind = ST_AUDIT_PROOF_INCLUSION;
		a = "index", b = "size";
	} else if (strcmp(json_string_value(kind), "consistency") == 0) {
		p.kind = ST_AUDIT_PROOF_CONSISTENCY;
		a = "size1", b = "size2";
	} else {
		rc = st_fail(err, ST_E_JSON, "proof: \"kind\" is neither "
			     "\"inclusion\" nor \"consistency\"");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "kind") && strcmp(key, a) && strcmp(key, b) &&
		    strcmp(key, "hashes")) {
			rc = st_fail(err, ST_E_JSON, "proof: unknown key \"%.40s"
				     "\" in a %s proof", key,
				     json_string_value(kind));
			goto out;
		}
	}
	uint64_t x, y;
	if ((rc = proof_int(o, a, &x, err)) < 0 ||
	    (rc = proof_int(o, b, &y, err)) < 0)
		goto out;
	if (p.kind == ST_AUDIT_PROOF_INCLUSION) {
		if (x >= y) {
			rc = st_fail(err, ST_E_JSON, "proof: index %" PRIu64
				     " is not below size %" PRIu64, x, y);
			goto out;
		}
		p.index = x, p.size = y;
	} else {
		if (x > y) {
			rc = st_fail(err, ST_E_JSON, "proof: size1 %" PRIu64
				     " is above size2 %" PRIu64, x, y);
			goto out;
		}
		p.size1 = x, p.size2 = y;
	}
	json_t *hs = json_object_get(o, "hashes");
	if (!json_is_array(hs)) {
		rc = st_fail(err, ST_E_JSON, "proof: \"hashes\" is missing or "
			     "not an array");
		goto out;
	}
	size_t n = json_array_size(hs);
	if (n > ST_AUDIT_PROOF_MAX) {
		rc = st_fail(err, ST_E_CAP, "proof: %zu hashes, over the cap "
			     "of %d", n, ST_AUDIT_PROOF_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(hs, i);
		if (!json_is_string(h) ||
		    !hex_field(json_string_value(h), json_string_length(h),
			       p.hashes + i * ST_AUDIT_HASH_LEN,
			       ST_AUDIT_HASH_LEN)) {
			rc = st_fail(err, ST_E_JSON, "proof: hashes[%zu] is not "
				     "64 lower-case hex digits", i);
			goto out;
		}
	}
	p.count = n;
	*out = p;
out:
	json_decref(o);
	return rc;
}

json_t *st_audit_proof_json(const struct st_audit_proof *p)
{
	if (!p || p->count > ST_AUDIT_PROOF_MAX)
		return NULL;
	uint64_t x, y;
	const char *kind, *a, *b;
	if (p->kind == ST_AUDIT_PROOF_INCLUSION) {
		kind = "inclusion", a = "index", b = "size";
		x = p->index, y = p->size;
		if (x >= y)
			return NULL;
	} else if (p->kind == ST_AUDIT_PROOF_CONSISTENCY) {
		kind = "consistency", a = "size1", b = "size2";
		x = p->size1, y = p->size2;
		if (x > y)
			return NULL;
	} else {
		return NULL;
	}
	if (y > ST_AUDIT_SIZE_MAX)
		return NULL;
	json_t *hs = json_array();
	if (!hs)
		return NULL;
	for (size_t i = 0; i < p->count; i++) {
		char hex[HEX_LEN + 1];
		sodium_bin2hex(hex, sizeof hex,
			       p->hashes + i * ST_AUDIT_HASH_LEN,
			       ST_AUDIT_HASH_LEN);
		if (json_array_append_new(hs, json_string(hex)) != 0) {
			json_decref(hs);
			return NULL;
		}
	}
	/* "o" steals hs, also when the pack fails */
	return json_pack("{s:s, s:I, s:I, s:o}", "kind", kind, a,
			 (json_int_t)x, b, (json_int_t)y, "hashes", hs);
}

/* ---- the one-pass verifier ---- */

static int check_due(struct st_audit_verifier *v, struct st_error *err)
{
	while (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->tree.size) {
		const struct st_audit_expect *x = &v->cps[v->next_cp];
		uint8_t r[ST_AUDIT_HASH_LEN];
		st_audit_tree_root(&v->tree, r);
		if (memcmp(r, x->root, ST_AUDIT_HASH_LEN) != 0) {
			char want[HEX_LEN + 1];
			sodium_bin2hex(want, sizeof want, x->root,
				       ST_AUDIT_HASH_LEN);
			v->failed = true;
			return st_fail(err, ST_E_AUDIT, "checkpoint size %"
				       PRIu64 " (%s): the log's first %" PRIu64
				       " entries no longer have root %s "
				       "(rewritten or truncated since the "
				       "checkpoint)", x->size,
				       x->name ? x->name : "unnamed", x->size,
				       want);
		}
		v->next_cp++;
	}
	return 0;
}

int st_audit_verifier_init(struct st_audit_verifier *v,
			   const struct st_audit_expect *cps, size_t ncps,
			   struct st_error *err)
{
	if (!v || (!cps && ncps))
		return st_fail(err, ST_E_INVAL, "audit verifier: init needs a "
			       "verifier and the checkpoints");
	memset(v, 0, sizeof *v);
	st_audit_tree_init(&v->tree);
	for (size_t i = 0; i < ncps; i++) {
		if (cps[i].size > ST_AUDIT_SIZE_MAX ||
		    (i && cps[i].size < cps[i - 1].size)) {
			v->failed = true;
			return st_fail(err, ST_E_INVAL, "audit verifier: "
				       "checkpoint %zu (%s) is out of order "
				       "or range; sort them by size", i,
				       cps[i].name ? cps[i].name : "unnamed");
		}
	}
	v->cps = cps;
	v->ncps = ncps;
	return check_due(v, err);
}

int st_audit_verifier_feed(struct st_audit_verifier *v,
			   const struct st_audit_entry *entries, size_t n,
			   struct st_error *err)
{
	if (!v || (!entries && n))
		return st_fail(err, ST_E_INVAL, "audit verifier: feed needs a "
			       "verifier and entries");
	if (v->failed)
		return st_fail(err, ST_E_STATE, "audit verifier: already "
			       "failed; start again");
	/* the next checkpoint's size, compared per entry without a call */
	uint64_t due = v->next_cp < v->ncps ? v->cps[v->next_cp].size : 0;
	for (size_t i = 0; i < n; i++) {
		if (v->tree.size >= ST_AUDIT_SIZE_MAX) {
			v->failed = true;
			return st_fail(err, ST_E_CAP, "audit verifier: more "
				       "than %" PRIu64 " entries",
				       ST_AUDIT_SIZE_MAX);
		}
		uint64_t seq = v->tree.size + 1;
		uint8_t leaf[ST_AUDIT_HASH_LEN];
		int rc = step(&entries[i], seq, v->prev, leaf, err);
		if (rc < 0) {
			v->failed = true;
			v->bad_seq = seq;
			return rc;
		}
		memcpy(v->prev, entries[i].hash, ST_AUDIT_HASH_LEN);
		tree_push(&v->tree, leaf);
		if (seq == due) {
			if ((rc = check_due(v, err)) < 0)
				return rc;
			due = v->next_cp < v->ncps ? v->cps[v->next_cp].size
						   : 0;
		}
	}
	return 0;
}

int st_audit_verifier_finish(struct st_audit_verifier *v, uint8_t *root,
			     struct st_error *err)
{
	if (!v)
		return st_fail(err, ST_E_INVAL, "audit verifier: finish needs "
			       "a verifier");
	if (v->failed)
		return st_fail(err, ST_E_STATE, "audit verifier: already "
			       "failed; start again");
	if (v->next_cp < v->ncps) {
		const struct st_audit_expect *x = &v->cps[v->next_cp];
		v->failed = true;
		return st_fail(err, ST_E_AUDIT, "truncated: the log has %"
			       PRIu64 " entries, checkpoint %s says %" PRIu64,
			       v->tree.size, x->name ? x->name : "unnamed",
			       x->size);
	}
	if (root)
		st_audit_tree_root(&v->tree, root);
	return 0;
}
