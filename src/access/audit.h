/* audit.h - owns the tamper-evident audit log's pure core: an entry's
 * canonical bytes and chain hash, the chain check, the RFC 6962 / RFC 9162
 * Merkle tree with its inclusion and consistency proofs, signed checkpoints
 * (text form) and proofs (JSON form), and a one-pass verifier of a whole log
 * against saved checkpoints. Never stores, reads a file or a clock, or
 * holds a secret beyond one sign call: the server, the CLI and the export
 * host bring the entries, the keys and the time.
 *
 * Entry encoding, v1 (big-endian integers), ST_AUDIT_ENCODED_MAX at most:
 *   0  18  "sealtrace-audit-v1" (no NUL)
 *  18   8  seq (1-based, contiguous; 1..ST_AUDIT_SIZE_MAX)
 *  26   8  time_s (two's complement)
 *  34      actor, role, action, object, purpose, result: each a u16 length
 *          then that many bytes (no NUL), in this order
 *  ..  32  prev: the chain hash of entry seq-1, zeros for seq 1
 * Chain hash = SHA-256(encoding): it covers prev, so each entry commits to
 * every one before it. Leaf hash (RFC 6962 2.1) = SHA-256(0x00 || encoding),
 * node hash = SHA-256(0x01 || left || right), empty tree = SHA-256("").
 * Merkle leaf index = seq - 1.
 *
 * Checkpoint text, v1: exactly six lines, '\n'-terminated (the final one
 * may lack it), nothing before, between or after:
 *   sealtrace audit checkpoint v1
 *   size <decimal, 0..9223372036854775807, no sign, no leading zero>
 *   root <64 lower-case hex: the tree root at that size>
 *   time <decimal Unix seconds, same rules>
 *   key <16 lower-case hex: first 8 bytes of SHA-256 of the Ed25519 key>
 *   sig <standard base64 with padding of the 64-byte Ed25519 signature>
 * The signature covers "sealtrace-audit-checkpoint-v1\0" followed by the
 * first five lines, exactly the bytes up to and including the newline after
 * the key line. The context keeps a checkpoint signature from ever standing
 * for a lease or any other signature made with the same key. The parser
 * accepts only the bytes the formatter writes (plus one optional missing
 * final newline), so verifying the parsed struct verifies the file's bytes.
 *
 * Proof JSON (what the API sends; no other keys, no duplicates):
 *   {"kind":"inclusion","index":I,"size":N,"hashes":["<64 hex>",...]}
 *   {"kind":"consistency","size1":M,"size2":N,"hashes":[...]}
 * index is the 0-based leaf index (seq - 1), as in RFC 9162. */
#ifndef ST_AUDIT_H
#define ST_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

#define ST_AUDIT_HASH_LEN 32
#define ST_AUDIT_MAGIC "sealtrace-audit-v1"
#define ST_AUDIT_MAGIC_LEN 18

/* Field caps in bytes (UTF-8, without the NUL). */
#define ST_AUDIT_ACTOR_MAX 64
#define ST_AUDIT_ROLE_MAX 16
#define ST_AUDIT_ACTION_MAX 48
#define ST_AUDIT_OBJECT_MAX 256
#define ST_AUDIT_PURPOSE_MAX 64
#define ST_AUDIT_RESULT_MAX 48
/* magic + seq + time + six u16 lengths + the caps' sum + prev = 574 */
#define ST_AUDIT_ENCODED_MAX                                                \
	(ST_AUDIT_MAGIC_LEN + 8 + 8 + 6 * 2 + ST_AUDIT_ACTOR_MAX +          \
	 ST_AUDIT_ROLE_MAX + ST_AUDIT_ACTION_MAX + ST_AUDIT_OBJECT_MAX +    \
	 ST_AUDIT_PURPOSE_MAX + ST_AUDIT_RESULT_MAX + ST_AUDIT_HASH_LEN)

/* Largest log size, sequence number and tree size: INT64_MAX, so that
 * every size fits a signed 64-bit column and a JSON integer. */
#define ST_AUDIT_SIZE_MAX UINT64_C(9223372036854775807)

/* Hashes in a proof. An inclusion proof in a tree of n leaves has at most
 * ceil(log2 n) hashes, a consistency proof at most ceil(log2 n) + 1 (one
 * per level of the RFC's SUBPROOF recursion, whose sizes at least halve,
 * plus MTH(D[m]) at its end). For n <= ST_AUDIT_SIZE_MAX < 2^63 that is 63
 * and 64: 64 covers both kinds (tests/unit/test_audit.c checks the bound
 * on every pair of sizes up to 64). */
#define ST_AUDIT_PROOF_MAX 64
/* Subtree roots a streaming tree holds: one per set bit of its size, plus
 * the leaf being merged in. */
#define ST_AUDIT_TREE_DEPTH 64

/* Longest checkpoint text: 30 + 25 + 70 + 25 + 21 + 93 bytes (the longest
 * decimals have 19 digits, base64 of 64 bytes is 88 characters). */
#define ST_AUDIT_CHECKPOINT_TEXT_MAX 264
/* A buffer for st_audit_checkpoint_format: the text and a NUL. */
#define ST_AUDIT_CHECKPOINT_BUF (ST_AUDIT_CHECKPOINT_TEXT_MAX + 1)
#define ST_AUDIT_KEY_ID_LEN 8
#define ST_AUDIT_SIG_LEN 64

/* Longest proof JSON the parser reads: 64 hashes of 66 characters with
 * their commas are 4.3 KiB; the rest is room for whitespace. */
#define ST_AUDIT_PROOF_JSON_MAX 16384

/* One log entry. Strings are NUL-terminated, valid UTF-8 without control
 * characters (C0, DEL, C1); only purpose and object may be empty. */
struct st_audit_entry {
	uint64_t seq;     /* 1-based, contiguous */
	int64_t time_s;   /* Unix seconds, from the server's st_clock */
	char actor[ST_AUDIT_ACTOR_MAX + 1];   /* pseudonymous id of the
		person ("p-" + 16 hex) or a person-less admin token's name;
		never a real name */
	char role[ST_AUDIT_ROLE_MAX + 1];     /* the role acted under */
	char action[ST_AUDIT_ACTION_MAX + 1]; /* "export", "purpose.approve" */
	char object[ST_AUDIT_OBJECT_MAX + 1]; /* what it acted on; may be empty */
	char purpose[ST_AUDIT_PURPOSE_MAX + 1]; /* may be empty */
	char result[ST_AUDIT_RESULT_MAX + 1]; /* "ok" or an error id
		(st_err_id: "forbidden") */
	uint8_t prev[ST_AUDIT_HASH_LEN]; /* hash of entry seq-1; zeros for 1 */
	uint8_t hash[ST_AUDIT_HASH_LEN]; /* this entry's chain hash */
};

/* The canonical bytes of e (layout above) into out; *len their size.
 * ST_E_INVAL names the field that is too long, empty where it may not be,
 * not UTF-8 or holds a control character, or a seq outside
 * 1..ST_AUDIT_SIZE_MAX; ST_E_CAP when cap is too small
 * (ST_AUDIT_ENCODED_MAX always suffices). */
int st_audit_encode(const struct st_audit_entry *e, uint8_t *out, size_t cap,
		    size_t *len, struct st_error *err);
/* SHA-256 of the encoding: the chain hash (e->hash is not read). */
int st_audit_entry_hash(const struct st_audit_entry *e, uint8_t out[32],
			struct st_error *err);
/* Sets e->prev to prev (NULL: zeros, for seq 1) and e->hash to the chain
 * hash: what an appender does before storing e. */
int st_audit_seal(struct st_audit_entry *e, const uint8_t *prev,
		  struct st_error *err);
/* RFC 6962 leaf hash: SHA-256(0x00 || encoding). */
int st_audit_leaf_hash(const struct st_audit_entry *e, uint8_t out[32],
		       struct st_error *err);
/* SHA-256(0x01 || left || right). */
void st_audit_node_hash(const uint8_t left[32], const uint8_t right[32],
			uint8_t out[32]);
/* First 8 bytes of SHA-256 of an Ed25519 public key. */
void st_audit_key_id(const uint8_t pk[32], uint8_t out[ST_AUDIT_KEY_ID_LEN]);

/* Checks n entries that should be entries first_seq.. of a log, the one
 * before them having chain hash prev_of_first (NULL: zeros, for
 * first_seq 1): sequence numbers contiguous, each hash the recomputed one,
 * each prev the hash before it. Run it page after page, passing the last
 * hash and seq + 1 of the page before. On damage: ST_E_AUDIT, *bad_seq (if
 * not NULL) the first bad entry's expected seq, and a message naming it
 * and what the damage looks like (modified; deleted, inserted or moved;
 * out of sequence). A chain alone cannot see entries cut off the end, nor
 * a rewrite that recomputed every hash after it: checkpoints do
 * (st_audit_verifier). */
int st_audit_chain_check(const struct st_audit_entry *entries, size_t n,
			 uint64_t first_seq, const uint8_t *prev_of_first,
			 uint64_t *bad_seq, struct st_error *err);

/* A streaming Merkle tree: O(log n) memory, a stack of the roots of the
 * perfect subtrees that make up the first size leaves, largest first.
 * Caller-provided; nothing to free. */
struct st_audit_tree {
	uint64_t size;
	unsigned depth; /* roots on the stack: popcount(size) */
	uint8_t stack[ST_AUDIT_TREE_DEPTH][ST_AUDIT_HASH_LEN];
};

void st_audit_tree_init(struct st_audit_tree *t);
/* Appends one leaf hash; ST_E_CAP once size is ST_AUDIT_SIZE_MAX. */
int st_audit_tree_append(struct st_audit_tree *t, const uint8_t leaf[32],
			 struct st_error *err);
/* MTH of the leaves appended so far (SHA-256("") when none). */
void st_audit_tree_root(const struct st_audit_tree *t, uint8_t out[32]);

/* The same from n leaf hashes in memory (n * 32 bytes at leaves). The
 * proofs are written to out (cap hashes, 32 bytes each; ST_AUDIT_PROOF_MAX
 * always suffices) in RFC 9162 order, *count the number written. They
 * take O(n) hashing: proofs for a large log are best cut from a cache of
 * subtree roots (the server's business, not this module's). */
void st_audit_root(const uint8_t *leaves, uint64_t n, uint8_t out[32]);
/* ST_E_INVAL when index >= n; ST_E_CAP when cap is too small. */
int st_audit_inclusion_proof(const uint8_t *leaves, uint64_t n,
			     uint64_t index, uint8_t *out, size_t cap,
			     size_t *count, struct st_error *err);
/* The proof that the first n_old leaves are a prefix of the n_new; empty
 * for n_old 0 or n_old == n_new. ST_E_INVAL when n_old > n_new. */
int st_audit_consistency_proof(const uint8_t *leaves, uint64_t n_old,
			       uint64_t n_new, uint8_t *out, size_t cap,
			       size_t *count, struct st_error *err);

/* RFC 9162 2.1.3.2: leaf (a leaf hash) is at index in the tree of size
 * leaves with root. 0, or ST_E_AUDIT naming what failed. */
int st_audit_inclusion_verify(uint64_t index, uint64_t size,
			      const uint8_t leaf[32], const uint8_t *proof,
			      size_t count, const uint8_t root[32],
			      struct st_error *err);
/* RFC 9162 2.1.4.2: the tree of size2 with root2 extends the one of size1
 * with root1. Beyond the RFC's 0 < size1 < size2: size1 == size2 needs an
 * empty proof and equal roots; size1 0 an empty proof and root1 the empty
 * tree's. 0, or ST_E_AUDIT naming what failed. */
int st_audit_consistency_verify(uint64_t size1, uint64_t size2,
				const uint8_t root1[32],
				const uint8_t root2[32], const uint8_t *proof,
				size_t count, struct st_error *err);

/* A signed statement "the log had this root at this size at this time". */
struct st_audit_checkpoint {
	uint64_t size;   /* 0..ST_AUDIT_SIZE_MAX */
	uint8_t root[ST_AUDIT_HASH_LEN];
	int64_t time_s;  /* >= 0 */
	uint8_t key_id[ST_AUDIT_KEY_ID_LEN]; /* st_audit_key_id of the signer */
	uint8_t sig[ST_AUDIT_SIG_LEN];
};

/* Fills cp->key_id and cp->sig with the server's audit key (sk: the 64-byte
 * libsodium Ed25519 secret, pk its public half; never the lease key).
 * ST_E_INVAL for a size or time out of range or a pk that is not sk's. */
int st_audit_checkpoint_sign(struct st_audit_checkpoint *cp,
			     const uint8_t *sk, const uint8_t pk[32],
			     struct st_error *err);
/* ST_E_SIGNATURE when cp names another key than pk or its signature does
 * not verify with pk; ST_E_INVAL for fields out of range. */
int st_audit_checkpoint_verify(const struct st_audit_checkpoint *cp,
			       const uint8_t pk[32], struct st_error *err);
/* The text form, with its final newline and a NUL, into out (cap >=
 * ST_AUDIT_CHECKPOINT_BUF suffices); *len without the NUL. */
int st_audit_checkpoint_format(const struct st_audit_checkpoint *cp,
			       char *out, size_t cap, size_t *len,
			       struct st_error *err);
/* Strict parse of text[0..len) (outside data: a file kept off the host).
 * ST_E_CAP over ST_AUDIT_CHECKPOINT_TEXT_MAX, ST_E_BAD_MAGIC / ST_E_VERSION
 * for line 1, ST_E_TRUNCATED for a missing line, ST_E_CORRUPT for anything
 * else; every message names the line. out is written only on success. It
 * does not check the signature: st_audit_checkpoint_verify does. */
int st_audit_checkpoint_parse(const char *text, size_t len,
			      struct st_audit_checkpoint *out,
			      struct st_error *err);

enum st_audit_proof_kind {
	ST_AUDIT_PROOF_INCLUSION = 1,
	ST_AUDIT_PROOF_CONSISTENCY = 2,
};

struct st_audit_proof {
	enum st_audit_proof_kind kind;
	uint64_t index, size;   /* inclusion: 0-based leaf index < size */
	uint64_t size1, size2;  /* consistency: size1 <= size2 */
	size_t count;           /* hashes, 0..ST_AUDIT_PROOF_MAX */
	uint8_t hashes[ST_AUDIT_PROOF_MAX * ST_AUDIT_HASH_LEN];
};

/* Strict parse of the JSON form: ST_E_CAP over ST_AUDIT_PROOF_JSON_MAX or
 * ST_AUDIT_PROOF_MAX hashes, ST_E_JSON for anything else (not JSON, a
 * duplicate or unknown key, a missing one, a negative or non-integer
 * number, index >= size, size1 > size2, a hash that is not 64 lower-case
 * hex). The fields of the other kind are left 0. out is written only on
 * success. Checks the shape, not the proof: the verify functions do. */
int st_audit_proof_parse(const char *json, size_t len,
			 struct st_audit_proof *out, struct st_error *err);
/* The JSON form of p (the caller json_decref's it); NULL when p is not one
 * the parser would accept or memory ran out. */
json_t *st_audit_proof_json(const struct st_audit_proof *p);

/* A checkpoint the verifier compares the log against. */
struct st_audit_expect {
	uint64_t size;
	uint8_t root[ST_AUDIT_HASH_LEN];
	const char *name; /* for messages: the checkpoint's file; may be NULL */
};

/* Checks a whole log in one pass, page by page, holding no leaf hashes:
 * the chain (as st_audit_chain_check from seq 1) and, as the stream passes
 * each expected size, the tree root at that size. Caller-provided; the
 * expectations are borrowed until the last call. */
struct st_audit_verifier {
	struct st_audit_tree tree;  /* tree.size: entries consumed */
	uint8_t prev[ST_AUDIT_HASH_LEN]; /* chain hash of the last entry */
	const struct st_audit_expect *cps;
	size_t ncps;
	size_t next_cp;   /* cps[0..next_cp) matched */
	uint64_t bad_seq; /* after a chain failure: the first bad entry */
	bool failed;      /* a failure was reported; later calls refuse */
};

/* cps sorted by size, ascending (ST_E_INVAL otherwise, or for a size over
 * ST_AUDIT_SIZE_MAX). A size-0 expectation is checked here. */
int st_audit_verifier_init(struct st_audit_verifier *v,
			   const struct st_audit_expect *cps, size_t ncps,
			   struct st_error *err);
/* The next n entries of the log, in order. ST_E_AUDIT for a broken chain
 * or a checkpoint whose root the log no longer has at its size;
 * ST_E_STATE after an earlier failure. */
int st_audit_verifier_feed(struct st_audit_verifier *v,
			   const struct st_audit_entry *entries, size_t n,
			   struct st_error *err);
/* After the last entry: ST_E_AUDIT when a checkpoint's size is past the
 * end (truncated). root (if not NULL) receives the whole log's root. */
int st_audit_verifier_finish(struct st_audit_verifier *v, uint8_t *root,
			     struct st_error *err);

#endif
