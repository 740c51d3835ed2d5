/* test_audit.c - the audit log's pure core (access/audit.h): the entry's
 * layout and hashes, the chain check's verdict on each kind of damage, the
 * RFC 6962 tree and both proof kinds against a brute-force reference built
 * on libsodium's SHA-256 (not nettle's, which the module uses), signed
 * checkpoints and their strict text, proofs as JSON, and the one-pass
 * verifier against checkpoints. */
#include "helpers.h"

#include <inttypes.h>
#include <sodium.h>

#include "access/audit.h"

#define H ST_AUDIT_HASH_LEN
#define SMALL_MAX 40   /* every index and size pair up to this many leaves */
#define LOG_N 1000     /* the verifier's log */
#define CHAIN_N 50

static uint8_t PK[32], SK[64], PK2[32], SK2[64];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(PK, SK);
	crypto_sign_keypair(PK2, SK2);
	return 0;
}

/* ---- fixtures ---- */

static void make_entry(struct st_audit_entry *e, uint64_t seq)
{
	memset(e, 0, sizeof *e);
	e->seq = seq;
	e->time_s = 1764000000 + (int64_t)seq * 7;
	snprintf(e->actor, sizeof e->actor, "p-%016" PRIx64, seq * 0x9e3779b9u);
	snprintf(e->role, sizeof e->role, "%s", seq % 3 ? "steward" : "officer");
	snprintf(e->action, sizeof e->action, "%s",
		 seq % 5 ? "export" : "purpose.approve");
	snprintf(e->object, sizeof e->object, "person/p-%016" PRIx64
		 "/segments/2026-01-%02u", seq * 31, (unsigned)(seq % 28 + 1));
	snprintf(e->purpose, sizeof e->purpose, "%s",
		 seq % 4 ? "hr-case-2026-17" : "");
	snprintf(e->result, sizeof e->result, "%s", seq % 9 ? "ok" : "forbidden");
}

static void seal(struct st_audit_entry *e, const uint8_t *prev)
{
	struct st_error err = {0};
	if (st_audit_seal(e, prev, &err) != 0)
		fail_msg("seal %" PRIu64 ": %s", e->seq, err.msg);
}

/* A sealed log of n entries, seq 1..n. */
static struct st_audit_entry *make_log(size_t n)
{
	struct st_audit_entry *log = calloc(n, sizeof *log);
	assert_non_null(log);
	for (size_t i = 0; i < n; i++) {
		make_entry(&log[i], i + 1);
		seal(&log[i], i ? log[i - 1].hash : NULL);
	}
	return log;
}

/* What an attacker who knows the format does after an edit: renumber from
 * index from, then recompute each entry's own hash (prev untouched). */
static void renumber_and_rehash_self(struct st_audit_entry *log, size_t n,
				     size_t from)
{
	for (size_t i = from; i < n; i++) {
		log[i].seq = i + 1;
		struct st_error err = {0};
		assert_int_equal(st_audit_entry_hash(&log[i], log[i].hash, &err), 0);
	}
}

/* ... and one who also relinks: a consistent chain from index from on. */
static void rechain(struct st_audit_entry *log, size_t n, size_t from)
{
	for (size_t i = from; i < n; i++) {
		log[i].seq = i + 1;
		seal(&log[i], i ? log[i - 1].hash : NULL);
	}
}

static void ref_sha(const uint8_t *p, size_t n, uint8_t out[32])
{
	crypto_hash_sha256(out, p, n);
}

static void ref_node(const uint8_t *l, const uint8_t *r, uint8_t out[32])
{
	uint8_t b[65];
	b[0] = 1;
	memcpy(b + 1, l, 32);
	memcpy(b + 33, r, 32);
	ref_sha(b, sizeof b, out);
}

static void ref_leaf(uint64_t i, uint8_t out[32])
{
	uint8_t b[9] = {0};
	for (int k = 0; k < 8; k++)
		b[1 + k] = (uint8_t)(i >> (8 * k));
	ref_sha(b, sizeof b, out);
}

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;
	while (2 * k < n)
		k *= 2;
	return k;
}

/* RFC 6962 2.1, straight from the text. */
static void ref_mth(const uint8_t *l, uint64_t n, uint8_t out[32])
{
	if (n == 0) {
		ref_sha(NULL, 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, l, 32);
		return;
	}
	uint64_t k = ref_split(n);
	uint8_t a[32], b[32];
	ref_mth(l, k, a);
	ref_mth(l + k * 32, n - k, b);
	ref_node(a, b, out);
}

static size_t ref_path(const uint8_t *l, uint64_t n, uint64_t m, uint8_t *out)
{
	if (n <= 1)
		return 0;
	uint64_t k = ref_split(n);
	size_t c;
	if (m < k) {
		c = ref_path(l, k, m, out);
		ref_mth(l + k * 32, n - k, out + c * 32);
	} else {
		c = ref_path(l + k * 32, n - k, m - k, out);
		ref_mth(l, k, out + c * 32);
	}
	return c + 1;
}

static size_t ref_sub(const uint8_t *l, uint64_t n, uint64_t m, bool b,
		      uint8_t *out)
{
	if (m == n) {
		if (b)
			return 0;
		ref_mth(l, n, out);
		return 1;
	}
	uint64_t k = ref_split(n);
	size_t c;
	if (m <= k) {
		c = ref_sub(l, k, m, b, out);
		ref_mth(l + k * 32, n - k, out + c * 32);
	} else {
		c = ref_sub(l + k * 32, n - k, m - k, false, out);
		ref_mth(l, k, out + c * 32);
	}
	return c + 1;
}

static unsigned ceil_log2(uint64_t n)
{
	unsigned r = 0;
	while ((UINT64_C(1) << r) < n)
		r++;
	return r;
}

/* ---- entries ---- */

static void encodes_the_documented_layout(void **state)
{
	(void)state;
	struct st_audit_entry e;
	make_entry(&e, 0x0102030405060708);
	e.time_s = -2;
	snprintf(e.actor, sizeof e.actor, "p-00");
	snprintf(e.role, sizeof e.role, "auditor");
	snprintf(e.action, sizeof e.action, "audit.verify");
	snprintf(e.object, sizeof e.object, "Zoë");
	e.purpose[0] = 0;
	snprintf(e.result, sizeof e.result, "ok");
	memset(e.prev, 0xab, 32);
	uint8_t b[ST_AUDIT_ENCODED_MAX];
	size_t n = 0;
	struct st_error err = {0};
	assert_int_equal(st_audit_encode(&e, b, sizeof b, &n, &err), 0);
	static const uint8_t want_head[] = {
		's', 'e', 'a', 'l', 't', 'r', 'a', 'c', 'e', '-', 'a', 'u',
		'd', 'i', 't', '-', 'v', '1',
		1, 2, 3, 4, 5, 6, 7, 8,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0, 4, 'p', '-', '0', '0',
		0, 7, 'a', 'u', 'd', 'i', 't', 'o', 'r',
		0, 12, 'a', 'u', 'd', 'i', 't', '.', 'v', 'e', 'r', 'i', 'f', 'y',
		0, 4, 'Z', 'o', 0xc3, 0xab,
		0, 0,
		0, 2, 'o', 'k',
	};
	assert_int_equal(n, sizeof want_head + 32);
	assert_memory_equal(b, want_head, sizeof want_head);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(b[sizeof want_head + i], 0xab);
	/* chain hash and leaf hash are SHA-256 of it, the leaf with 0x00 */
	uint8_t h[32], want[32], l[32];
	assert_int_equal(st_audit_entry_hash(&e, h, &err), 0);
	ref_sha(b, n, want);
	assert_memory_equal(h, want, 32);
	uint8_t lb[ST_AUDIT_ENCODED_MAX + 1] = {0};
	memcpy(lb + 1, b, n);
	ref_sha(lb, n + 1, want);
	assert_int_equal(st_audit_leaf_hash(&e, l, &err), 0);
	assert_memory_equal(l, want, 32);
	/* a too small buffer is refused, one byte less than needed */
	size_t n2 = 7;
	assert_fails_with(st_audit_encode(&e, b, n - 1, &n2, &err), ST_E_CAP,
			  &err, "need");
	assert_int_equal(n2, 0);
	/* every field at its cap fills ST_AUDIT_ENCODED_MAX exactly */
	memset(e.actor, 'a', ST_AUDIT_ACTOR_MAX);
	e.actor[ST_AUDIT_ACTOR_MAX] = 0;
	memset(e.role, 'r', ST_AUDIT_ROLE_MAX);
	e.role[ST_AUDIT_ROLE_MAX] = 0;
	memset(e.action, 'c', ST_AUDIT_ACTION_MAX);
	e.action[ST_AUDIT_ACTION_MAX] = 0;
	memset(e.object, 'o', ST_AUDIT_OBJECT_MAX);
	e.object[ST_AUDIT_OBJECT_MAX] = 0;
	memset(e.purpose, 'p', ST_AUDIT_PURPOSE_MAX);
	e.purpose[ST_AUDIT_PURPOSE_MAX] = 0;
	memset(e.result, 's', ST_AUDIT_RESULT_MAX);
	e.result[ST_AUDIT_RESULT_MAX] = 0;
	assert_int_equal(st_audit_encode(&e, b, sizeof b, &n, &err), 0);
	assert_int_equal(n, ST_AUDIT_ENCODED_MAX);
	assert_int_equal(ST_AUDIT_ENCODED_MAX, 574);
}

static void every_field_changes_the_hash(void **state)
{
	(void)state;
	struct st_audit_entry base, e;
	make_entry(&base, 17);
	memset(base.prev, 0x11, 32);
	uint8_t h0[32], h[32];
	struct st_error err = {0};
	assert_int_equal(st_audit_entry_hash(&base, h0, &err), 0);
	for (int f = 0; f < 9; f++) {
		e = base;
		switch (f) {
		case 0: e.seq++; break;
		case 1: e.time_s ^= 1; break;
		case 2: e.actor[2] ^= 1; break;
		case 3: e.role[0] ^= 1; break;
		case 4: e.action[0] ^= 1; break;
		case 5: e.object[0] ^= 1; break;
		case 6: e.purpose[0] = e.purpose[0] ? 0 : 'x'; e.purpose[1] = 0; break;
		case 7: e.result[0] ^= 1; break;
		default: e.prev[31] ^= 1; break;
		}
		assert_int_equal(st_audit_entry_hash(&e, h, &err), 0);
		if (memcmp(h, h0, 32) == 0)
			fail_msg("changing field %d left the hash as it was", f);
		/* and the hash field itself is not hashed */
	}
	e = base;
	memset(e.hash, 0x77, 32);
	assert_int_equal(st_audit_entry_hash(&e, h, &err), 0);
	assert_memory_equal(h, h0, 32);
	/* moving a byte across a field boundary is another entry: lengths
	 * are encoded, not separators */
	struct st_audit_entry a = base, b = base;
	snprintf(a.role, sizeof a.role, "ab");
	snprintf(a.action, sizeof a.action, "c");
	snprintf(b.role, sizeof b.role, "a");
	snprintf(b.action, sizeof b.action, "bc");
	uint8_t ha[32], hb[32];
	assert_int_equal(st_audit_entry_hash(&a, ha, &err), 0);
	assert_int_equal(st_audit_entry_hash(&b, hb, &err), 0);
	assert_memory_not_equal(ha, hb, 32);
	snprintf(a.object, sizeof a.object, "x");
	a.purpose[0] = 0;
	b = a;
	b.object[0] = 0;
	snprintf(b.purpose, sizeof b.purpose, "x");
	assert_int_equal(st_audit_entry_hash(&a, ha, &err), 0);
	assert_int_equal(st_audit_entry_hash(&b, hb, &err), 0);
	assert_memory_not_equal(ha, hb, 32);
	/* chain and leaf hashes differ: one can never stand for the other */
	assert_int_equal(st_audit_leaf_hash(&base, h, &err), 0);
	assert_memory_not_equal(h, h0, 32);
}

static void refuses_fields_no_appender_may_write(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		int field; /* 0 actor 1 role 2 action 3 result 4 object 5 seq */
		const char *value;
		const char *word;
	} bad[] = {
		{"empty actor", 0, "", "actor is empty"},
		{"empty role", 1, "", "role is empty"},
		{"empty action", 2, "", "action is empty"},
		{"empty result", 3, "", "result is empty"},
		{"newline", 2, "export\nok", "control"},
		{"tab", 0, "p-\t1", "control"},
		{"DEL", 3, "ok\x7f", "control"},
		{"C1 control", 4, "a\xc2\x85z", "control"},
		{"bare continuation", 4, "a\x80z", "UTF-8"},
		{"overlong", 0, "\xc0\xaf", "UTF-8"},
		{"surrogate", 4, "\xed\xa0\x80", "UTF-8"},
		{"cut sequence", 4, "ab\xe2\x82", "UTF-8"},
		{"past U+10FFFF", 4, "\xf4\x90\x80\x80", "UTF-8"},
		{"sequence 0", 5, NULL, "sequence"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct st_audit_entry e;
		make_entry(&e, 3);
		char *dst[] = {e.actor, e.role, e.action, e.result, e.object};
		size_t cap[] = {sizeof e.actor, sizeof e.role, sizeof e.action,
				sizeof e.result, sizeof e.object};
		if (bad[i].field < 5)
			snprintf(dst[bad[i].field], cap[bad[i].field], "%s",
				 bad[i].value);
		else
			e.seq = 0;
		uint8_t b[ST_AUDIT_ENCODED_MAX], h[32];
		size_t n = 99;
		struct st_error err = {0};
		int rc = st_audit_encode(&e, b, sizeof b, &n, &err);
		if (rc != ST_E_INVAL || !strstr(err.msg, bad[i].word))
			fail_msg("%s: rc %d, '%s'", bad[i].what, rc, err.msg);
		assert_int_equal(n, 0);
		assert_int_equal(st_audit_entry_hash(&e, h, &err), ST_E_INVAL);
		assert_int_equal(st_audit_leaf_hash(&e, h, &err), ST_E_INVAL);
		assert_int_equal(st_audit_seal(&e, NULL, &err), ST_E_INVAL);
	}
	/* a field filling its array without a NUL is over its cap */
	struct st_audit_entry e;
	make_entry(&e, 3);
	memset(e.role, 'r', sizeof e.role);
	uint8_t b[ST_AUDIT_ENCODED_MAX];
	size_t n;
	struct st_error err = {0};
	assert_fails_with(st_audit_encode(&e, b, sizeof b, &n, &err),
			  ST_E_INVAL, &err, "role is longer");
	/* an empty purpose and object are fine; non-ASCII text is fine */
	make_entry(&e, 3);
	e.purpose[0] = 0;
	e.object[0] = 0;
	snprintf(e.action, sizeof e.action, "export — ok 🎉");
	assert_int_equal(st_audit_encode(&e, b, sizeof b, &n, &err), 0);
}

/* ---- chain ---- */

static void expect_chain_failure(const struct st_audit_entry *log, size_t n,
				 uint64_t want_bad, const char *word)
{
	uint64_t bad = 0;
	struct st_error err = {0};
	int rc = st_audit_chain_check(log, n, 1, NULL, &bad, &err);
	if (rc != ST_E_AUDIT)
		fail_msg("%s: rc %d (%s)", word, rc, err.msg);
	if (bad != want_bad)
		fail_msg("%s: first bad %" PRIu64 ", want %" PRIu64 " (%s)",
			 word, bad, want_bad, err.msg);
	char entry[40];
	snprintf(entry, sizeof entry, "entry %" PRIu64 ":", want_bad);
	if (!strstr(err.msg, word) || strncmp(err.msg, entry, strlen(entry)))
		fail_msg("message '%s' lacks '%s' or '%s'", err.msg, entry, word);
}

static void chain_passes_whole_and_page_by_page(void **state)
{
	(void)state;
	struct st_audit_entry *log = make_log(CHAIN_N);
	uint64_t bad = 99;
	struct st_error err = {0};
	assert_int_equal(st_audit_chain_check(log, CHAIN_N, 1, NULL, &bad, &err), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(st_audit_chain_check(log, 0, 1, NULL, &bad, &err), 0);
	for (size_t page = 1; page <= 13; page++) {
		for (size_t i = 0; i < CHAIN_N; i += page) {
			size_t n = CHAIN_N - i < page ? CHAIN_N - i : page;
			const uint8_t *prev = i ? log[i - 1].hash : NULL;
			if (st_audit_chain_check(log + i, n, i + 1, prev, &bad,
						 &err) != 0)
				fail_msg("page %zu at %zu: %s", page, i, err.msg);
		}
	}
	/* a page checked against the wrong predecessor fails at its start */
	assert_fails_with(st_audit_chain_check(log + 10, 5, 11, log[8].hash,
					       &bad, &err),
			  ST_E_AUDIT, &err, "does not follow entry 10");
	assert_int_equal(bad, 11);
	assert_fails_with(st_audit_chain_check(log + 10, 5, 12, log[9].hash,
					       &bad, &err),
			  ST_E_AUDIT, &err, "sequence 11 where 12");
	assert_int_equal(st_audit_chain_check(log, 1, 0, NULL, &bad, &err),
			 ST_E_INVAL);
	free(log);
}

static void chain_names_the_first_bad_entry_and_the_damage(void **state)
{
	(void)state;
	size_t n = CHAIN_N;
	struct st_audit_entry *log = make_log(n);
	struct st_audit_entry *t = calloc(n + 1, sizeof *t);
	assert_non_null(t);

	/* modified content, hash left */
	memcpy(t, log, n * sizeof *t);
	snprintf(t[16].result, sizeof t[16].result, "ok!");
	expect_chain_failure(t, n, 17, "does not match its hash (modified)");
	/* modified prev, hash left */
	memcpy(t, log, n * sizeof *t);
	t[16].prev[0] ^= 1;
	expect_chain_failure(t, n, 17, "(modified)");
	/* modified and re-hashed: the next entry no longer follows it */
	memcpy(t, log, n * sizeof *t);
	snprintf(t[16].purpose, sizeof t[16].purpose, "other");
	renumber_and_rehash_self(t, 17, 16);
	expect_chain_failure(t, n, 18, "does not follow entry 17");
	/* modified into something no appender writes */
	memcpy(t, log, n * sizeof *t);
	t[16].actor[0] = '\n';
	expect_chain_failure(t, n, 17, "(modified)");

	/* deleted, numbers kept */
	memcpy(t, log, 16 * sizeof *t);
	memcpy(t + 16, log + 17, (n - 17) * sizeof *t);
	expect_chain_failure(t, n - 1, 17, "sequence 18 where 17 was expected");
	/* deleted, renumbered and re-hashed */
	renumber_and_rehash_self(t, n - 1, 16);
	expect_chain_failure(t, n - 1, 17, "does not follow entry 16");
	/* the first entry deleted, the rest renumbered */
	memcpy(t, log + 1, (n - 1) * sizeof *t);
	expect_chain_failure(t, n - 1, 1, "sequence 2 where 1");
	renumber_and_rehash_self(t, n - 1, 0);
	expect_chain_failure(t, n - 1, 1, "entries were deleted before it");

	/* inserted, sealed onto entry 16, later ones renumbered */
	memcpy(t, log, 16 * sizeof *t);
	make_entry(&t[16], 17);
	snprintf(t[16].action, sizeof t[16].action, "export.backdated");
	seal(&t[16], t[15].hash);
	memcpy(t + 17, log + 16, (n - 16) * sizeof *t);
	expect_chain_failure(t, n + 1, 18, "sequence 17 where 18");
	renumber_and_rehash_self(t, n + 1, 17);
	expect_chain_failure(t, n + 1, 18, "does not follow entry 17");

	/* reordered: 20 and 21 swapped */
	memcpy(t, log, n * sizeof *t);
	t[19] = log[20];
	t[20] = log[19];
	expect_chain_failure(t, n, 20, "sequence 21 where 20 was expected");
	renumber_and_rehash_self(t, n, 19);
	expect_chain_failure(t, n, 20, "does not follow entry 19");

	/* a consistent rewrite from 17 on passes the chain: checkpoints are
	 * what catch it (verifier_catches_a_rewrite_and_a_truncation) */
	memcpy(t, log, n * sizeof *t);
	snprintf(t[16].result, sizeof t[16].result, "ok!");
	rechain(t, n, 16);
	uint64_t bad;
	struct st_error err = {0};
	assert_int_equal(st_audit_chain_check(t, n, 1, NULL, &bad, &err), 0);
	/* as does a truncation at the end: the chain cannot see it */
	assert_int_equal(st_audit_chain_check(log, n - 5, 1, NULL, &bad, &err), 0);
	free(t);
	free(log);
}

/* ---- tree ---- */

static void streaming_and_array_roots_match_the_rfc(void **state)
{
	(void)state;
	enum { N = 70 };
	uint8_t leaves[N * H];
	for (uint64_t i = 0; i < N; i++)
		ref_leaf(i, leaves + i * H);
	struct st_audit_tree t;
	st_audit_tree_init(&t);
	uint8_t r[32], want[32], arr[32];
	st_audit_tree_root(&t, r);
	static const uint8_t empty[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
		0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
		0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	assert_memory_equal(r, empty, 32);
	st_audit_root(leaves, 0, arr);
	assert_memory_equal(arr, empty, 32);
	struct st_error err = {0};
	for (uint64_t n = 1; n <= N; n++) {
		assert_int_equal(st_audit_tree_append(&t, leaves + (n - 1) * H,
						      &err), 0);
		assert_int_equal(t.size, n);
		assert_int_equal(t.depth, __builtin_popcountll(n));
		st_audit_tree_root(&t, r);
		ref_mth(leaves, n, want);
		st_audit_root(leaves, n, arr);
		if (memcmp(r, want, 32) || memcmp(arr, want, 32))
			fail_msg("root of %" PRIu64 " leaves differs from the RFC's", n);
	}
	/* a known shape: three leaves are H(H(l0,l1), l2) */
	uint8_t a[32], b[32];
	ref_node(leaves, leaves + H, a);
	ref_node(a, leaves + 2 * H, b);
	st_audit_root(leaves, 3, r);
	assert_memory_equal(r, b, 32);
	st_audit_node_hash(leaves, leaves + H, r);
	assert_memory_equal(r, a, 32);
	/* full trees stop growing at the cap */
	t.size = ST_AUDIT_SIZE_MAX;
	assert_fails_with(st_audit_tree_append(&t, leaves, &err), ST_E_CAP,
			  &err, "leaves");
}

static void inclusion_proofs_verify_for_every_index_and_size(void **state)
{
	(void)state;
	uint8_t leaves[(SMALL_MAX + 5) * H], roots[(SMALL_MAX + 6) * H];
	for (uint64_t i = 0; i < SMALL_MAX + 5; i++)
		ref_leaf(i, leaves + i * H);
	for (uint64_t n = 0; n <= SMALL_MAX + 5; n++)
		ref_mth(leaves, n, roots + n * H);
	struct st_error err = {0};
	uint8_t p[ST_AUDIT_PROOF_MAX * H], want[ST_AUDIT_PROOF_MAX * H];
	uint8_t q[(ST_AUDIT_PROOF_MAX + 1) * H];
	for (uint64_t n = 1; n <= SMALL_MAX; n++) {
		const uint8_t *root = roots + n * H;
		for (uint64_t m = 0; m < n; m++) {
			const uint8_t *leaf = leaves + m * H;
			size_t c = 99;
			if (st_audit_inclusion_proof(leaves, n, m, p,
						     ST_AUDIT_PROOF_MAX, &c, &err))
				fail_msg("proof %" PRIu64 "/%" PRIu64 ": %s", m, n,
					 err.msg);
			size_t wc = ref_path(leaves, n, m, want);
			assert_int_equal(c, wc);
			if (c && memcmp(p, want, c * H))
				fail_msg("proof %" PRIu64 "/%" PRIu64 " is not the "
					 "RFC's PATH", m, n);
			assert_true(c <= ceil_log2(n));
			if (st_audit_inclusion_verify(m, n, leaf, p, c, root, &err))
				fail_msg("verify %" PRIu64 "/%" PRIu64 ": %s", m, n,
					 err.msg);
			/* every hash of the proof matters */
			for (size_t k = 0; k < c; k++) {
				p[k * H + (k + m) % H] ^= 0x40;
				if (st_audit_inclusion_verify(m, n, leaf, p, c, root,
							      &err) != ST_E_AUDIT)
					fail_msg("hash %zu of %" PRIu64 "/%" PRIu64
						 " altered: accepted", k, m, n);
				p[k * H + (k + m) % H] ^= 0x40;
			}
			/* another leaf, another root */
			if (st_audit_inclusion_verify(m, n, leaves + ((m + 1) % (n + 1)) * H,
						      p, c, root, &err) == 0)
				fail_msg("another leaf verified at %" PRIu64, m);
			if (st_audit_inclusion_verify(m, n, leaf, p, c,
						      roots + (n - 1) * H, &err) == 0)
				fail_msg("the root of %" PRIu64 " verified", n - 1);
			/* every other index */
			for (uint64_t m2 = 0; m2 < n + 2; m2++) {
				if (m2 == m)
					continue;
				if (st_audit_inclusion_verify(m2, n, leaf, p, c, root,
							      &err) != ST_E_AUDIT)
					fail_msg("proof %" PRIu64 "/%" PRIu64 " verified "
						 "for index %" PRIu64, m, n, m2);
			}
			/* every other size, with that size's root */
			for (uint64_t n2 = 1; n2 <= SMALL_MAX + 5; n2++) {
				if (n2 == n)
					continue;
				if (st_audit_inclusion_verify(m, n2, leaf, p, c,
							      roots + n2 * H,
							      &err) != ST_E_AUDIT)
					fail_msg("proof %" PRIu64 "/%" PRIu64 " verified "
						 "for size %" PRIu64, m, n, n2);
			}
			/* one hash short, one too many */
			if (c && st_audit_inclusion_verify(m, n, leaf, p, c - 1, root,
							   &err) != ST_E_AUDIT)
				fail_msg("a short proof verified");
			memcpy(q, p, c * H);
			memcpy(q + c * H, root, H);
			if (st_audit_inclusion_verify(m, n, leaf, q, c + 1, root,
						      &err) != ST_E_AUDIT)
				fail_msg("a long proof verified");
		}
	}
	size_t c;
	assert_fails_with(st_audit_inclusion_verify(5, 5, leaves, p, 0, roots,
						    &err),
			  ST_E_AUDIT, &err, "not inside");
	assert_fails_with(st_audit_inclusion_proof(leaves, 5, 5, p, 64, &c, &err),
			  ST_E_INVAL, &err, "no leaf 5");
	assert_fails_with(st_audit_inclusion_proof(leaves, 40, 3, p, 5, &c, &err),
			  ST_E_CAP, &err, "room for 5");
	assert_fails_with(st_audit_inclusion_verify(0, 1, leaves, p, 65, roots,
						    &err),
			  ST_E_AUDIT, &err, "65 hashes");
	/* the documented words: "does not lead to root" */
	st_audit_inclusion_proof(leaves, 7, 3, p, 64, &c, &err);
	assert_fails_with(st_audit_inclusion_verify(3, 7, leaves, p, c,
						    roots + 7 * H, &err),
			  ST_E_AUDIT, &err, "does not lead to root");
}

static void consistency_proofs_verify_for_every_pair_of_sizes(void **state)
{
	(void)state;
	uint8_t leaves[(SMALL_MAX + 5) * H], roots[(SMALL_MAX + 6) * H];
	for (uint64_t i = 0; i < SMALL_MAX + 5; i++)
		ref_leaf(1000 + i, leaves + i * H);
	for (uint64_t n = 0; n <= SMALL_MAX + 5; n++)
		ref_mth(leaves, n, roots + n * H);
	struct st_error err = {0};
	uint8_t p[ST_AUDIT_PROOF_MAX * H], want[ST_AUDIT_PROOF_MAX * H];
	uint8_t q[(ST_AUDIT_PROOF_MAX + 1) * H];
	for (uint64_t n = 0; n <= SMALL_MAX; n++) {
		for (uint64_t m = 0; m <= n; m++) {
			const uint8_t *r1 = roots + m * H, *r2 = roots + n * H;
			size_t c = 99;
			if (st_audit_consistency_proof(leaves, m, n, p,
						       ST_AUDIT_PROOF_MAX, &c, &err))
				fail_msg("proof %" PRIu64 "->%" PRIu64 ": %s", m, n,
					 err.msg);
			size_t wc = (m == 0 || m == n) ? 0
					: ref_sub(leaves, n, m, true, want);
			assert_int_equal(c, wc);
			if (c && memcmp(p, want, c * H))
				fail_msg("proof %" PRIu64 "->%" PRIu64 " is not the "
					 "RFC's PROOF", m, n);
			assert_true(c <= ceil_log2(n) + 1);
			if (st_audit_consistency_verify(m, n, r1, r2, p, c, &err))
				fail_msg("verify %" PRIu64 "->%" PRIu64 ": %s", m, n,
					 err.msg);
			for (size_t k = 0; k < c; k++) {
				p[k * H + (k * 7 + m) % H] ^= 0x02;
				if (st_audit_consistency_verify(m, n, r1, r2, p, c,
								&err) != ST_E_AUDIT)
					fail_msg("hash %zu of %" PRIu64 "->%" PRIu64
						 " altered: accepted", k, m, n);
				p[k * H + (k * 7 + m) % H] ^= 0x02;
			}
			/* every other first size and every other second size,
			 * each with the root a checkpoint of it would carry */
			for (uint64_t m2 = 0; m2 <= SMALL_MAX + 5; m2++) {
				/* an empty proof rightly shows that the empty
				 * tree, and a tree itself, are prefixes */
				if (m2 == m || (c == 0 && (m2 == 0 || m2 == n)))
					continue;
				int rc = st_audit_consistency_verify(
					m2, n, roots + m2 * H, r2, p, c, &err);
				if (rc != ST_E_AUDIT)
					fail_msg("proof %" PRIu64 "->%" PRIu64
						 " verified from %" PRIu64, m, n, m2);
			}
			for (uint64_t n2 = 0; n2 <= SMALL_MAX + 5; n2++) {
				if (n2 == n || m == 0)
					continue;
				int rc = st_audit_consistency_verify(
					m, n2, r1, roots + n2 * H, p, c, &err);
				if (rc != ST_E_AUDIT)
					fail_msg("proof %" PRIu64 "->%" PRIu64
						 " verified to %" PRIu64, m, n, n2);
			}
			/* a rewritten first or second tree */
			uint8_t bad[32];
			memcpy(bad, r1, 32);
			bad[5] ^= 1;
			if (st_audit_consistency_verify(m, n, bad, r2, p, c, &err) == 0)
				fail_msg("a wrong first root verified");
			memcpy(bad, r2, 32);
			bad[5] ^= 1; /* (every tree extends the empty one) */
			if (m && st_audit_consistency_verify(m, n, r1, bad, p, c,
							     &err) == 0)
				fail_msg("a wrong second root verified");
			/* one hash short, one too many */
			if (c && st_audit_consistency_verify(m, n, r1, r2, p, c - 1,
							     &err) == 0)
				fail_msg("a short proof verified");
			memcpy(q, p, c * H);
			memcpy(q + c * H, r2, H);
			if (st_audit_consistency_verify(m, n, r1, r2, q, c + 1,
							&err) == 0)
				fail_msg("a long proof verified");
		}
	}
	/* the bound of ST_AUDIT_PROOF_MAX, on every pair up to 64 leaves */
	uint8_t big[64 * H];
	for (uint64_t i = 0; i < 64; i++)
		ref_leaf(i, big + i * H);
	for (uint64_t n = 1; n <= 64; n++)
		for (uint64_t m = 1; m < n; m++) {
			size_t c;
			assert_int_equal(st_audit_consistency_proof(big, m, n, p,
				ST_AUDIT_PROOF_MAX, &c, &err), 0);
			assert_true(c <= ceil_log2(n) + 1);
		}
	size_t c;
	assert_fails_with(st_audit_consistency_proof(leaves, 6, 5, p, 64, &c,
						     &err),
			  ST_E_INVAL, &err, "smaller");
	assert_fails_with(st_audit_consistency_verify(6, 5, roots, roots, p, 0,
						      &err),
			  ST_E_AUDIT, &err, "shrank");
	assert_fails_with(st_audit_consistency_verify(3, 3, roots + 3 * H,
						      roots + 4 * H, p, 0, &err),
			  ST_E_AUDIT, &err, "rewritten");
	assert_fails_with(st_audit_consistency_verify(3, 7, roots + 3 * H,
						      roots + 7 * H, p, 0, &err),
			  ST_E_AUDIT, &err, "empty");
	st_audit_consistency_proof(leaves, 3, 7, p, 64, &c, &err);
	uint8_t other[32];
	memcpy(other, roots + 7 * H, 32);
	other[0] ^= 1;
	assert_fails_with(st_audit_consistency_verify(3, 7, roots + 3 * H,
						      other, p, c, &err),
			  ST_E_AUDIT, &err, "second root");
}

/* ---- checkpoints ---- */

static struct st_audit_checkpoint signed_cp(void)
{
	struct st_audit_checkpoint cp;
	memset(&cp, 0, sizeof cp);
	cp.size = 1234;
	for (int i = 0; i < 32; i++)
		cp.root[i] = (uint8_t)(i * 9 + 1);
	cp.time_s = 1764000000;
	struct st_error err = {0};
	if (st_audit_checkpoint_sign(&cp, SK, PK, &err) != 0)
		fail_msg("sign: %s", err.msg);
	return cp;
}

static void checkpoint_round_trips_in_the_documented_text(void **state)
{
	(void)state;
	struct st_audit_checkpoint cp = signed_cp(), got;
	struct st_error err = {0};
	assert_int_equal(st_audit_checkpoint_verify(&cp, PK, &err), 0);
	uint8_t id[8], h[32];
	crypto_hash_sha256(h, PK, 32);
	memcpy(id, h, 8);
	assert_memory_equal(cp.key_id, id, 8);
	char t[ST_AUDIT_CHECKPOINT_BUF];
	size_t n = 0;
	assert_int_equal(st_audit_checkpoint_format(&cp, t, sizeof t, &n, &err), 0);
	assert_int_equal(strlen(t), n);
	char root[65], key[17], sig[89], want[400];
	sodium_bin2hex(root, sizeof root, cp.root, 32);
	sodium_bin2hex(key, sizeof key, id, 8);
	sodium_bin2base64(sig, sizeof sig, cp.sig, 64,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(want, sizeof want, "sealtrace audit checkpoint v1\nsize 1234\n"
		 "root %s\ntime 1764000000\nkey %s\nsig %s\n", root, key, sig);
	assert_string_equal(t, want);
	/* the signature covers the context and the first five lines */
	const char *sigline = strstr(t, "sig ");
	uint8_t msg[400];
	static const char ctx[] = "sealtrace-audit-checkpoint-v1";
	memcpy(msg, ctx, sizeof ctx);
	memcpy(msg + sizeof ctx, t, (size_t)(sigline - t));
	assert_int_equal(crypto_sign_verify_detached(cp.sig, msg,
		sizeof ctx + (size_t)(sigline - t), PK), 0);
	/* parse gives back the struct, with or without the final newline */
	memset(&got, 0x55, sizeof got);
	assert_int_equal(st_audit_checkpoint_parse(t, n, &got, &err), 0);
	assert_memory_equal(&got, &cp, sizeof cp);
	assert_int_equal(st_audit_checkpoint_parse(t, n - 1, &got, &err), 0);
	assert_int_equal(st_audit_checkpoint_verify(&got, PK, &err), 0);
	/* the extremes fit the cap exactly */
	cp.size = ST_AUDIT_SIZE_MAX;
	cp.time_s = INT64_MAX;
	assert_int_equal(st_audit_checkpoint_sign(&cp, SK, PK, &err), 0);
	assert_int_equal(st_audit_checkpoint_format(&cp, t, sizeof t, &n, &err), 0);
	assert_int_equal(n, ST_AUDIT_CHECKPOINT_TEXT_MAX);
	assert_int_equal(st_audit_checkpoint_parse(t, n, &got, &err), 0);
	assert_int_equal(got.size, ST_AUDIT_SIZE_MAX);
	assert_int_equal(st_audit_checkpoint_verify(&got, PK, &err), 0);
	assert_fails_with(st_audit_checkpoint_format(&cp, t, n, &n, &err),
			  ST_E_CAP, &err, "need");
	cp.size = 0;
	cp.time_s = 0;
	assert_int_equal(st_audit_checkpoint_sign(&cp, SK, PK, &err), 0);
	assert_int_equal(st_audit_checkpoint_format(&cp, t, sizeof t, &n, &err), 0);
	assert_non_null(strstr(t, "\nsize 0\n"));
	assert_int_equal(st_audit_checkpoint_parse(t, n, &got, &err), 0);
	assert_int_equal(st_audit_checkpoint_verify(&got, PK, &err), 0);
	/* fields out of range are not signed */
	cp.time_s = -1;
	assert_fails_with(st_audit_checkpoint_sign(&cp, SK, PK, &err), ST_E_INVAL,
			  &err, "out of range");
	cp.time_s = 1;
	cp.size = ST_AUDIT_SIZE_MAX + 1;
	assert_fails_with(st_audit_checkpoint_sign(&cp, SK, PK, &err), ST_E_INVAL,
			  &err, "out of range");
	cp.size = 1;
	assert_fails_with(st_audit_checkpoint_sign(&cp, SK, PK2, &err),
			  ST_E_INVAL, &err, "not the secret key's");
}

static void checkpoint_refuses_any_changed_byte_and_other_keys(void **state)
{
	(void)state;
	struct st_audit_checkpoint cp = signed_cp(), got;
	char t[ST_AUDIT_CHECKPOINT_BUF];
	size_t n;
	struct st_error err = {0};
	assert_int_equal(st_audit_checkpoint_format(&cp, t, sizeof t, &n, &err), 0);
	static const uint8_t flips[] = {0x01, 0x02, 0x20, 0x80};
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof flips; f++) {
			t[i] ^= (char)flips[f];
			int rc = st_audit_checkpoint_parse(t, n, &got, &err);
			if (rc == 0)
				rc = st_audit_checkpoint_verify(&got, PK, &err);
			if (rc == 0)
				fail_msg("byte %zu ^ 0x%02x ('%c'): accepted", i,
					 flips[f], t[i]);
			if (rc != ST_E_SIGNATURE && !strstr(err.msg, "line"))
				fail_msg("byte %zu: message '%s' names no line", i,
					 err.msg);
			t[i] ^= (char)flips[f];
		}
	}
	assert_int_equal(st_audit_checkpoint_parse(t, n, &got, &err), 0);
	assert_int_equal(st_audit_checkpoint_verify(&got, PK, &err), 0);
	/* another key: named by its id */
	assert_fails_with(st_audit_checkpoint_verify(&got, PK2, &err),
			  ST_E_SIGNATURE, &err, "signed by key");
	/* a key id rewritten to the other key's does not make it verify */
	st_audit_key_id(PK2, got.key_id);
	assert_fails_with(st_audit_checkpoint_verify(&got, PK2, &err),
			  ST_E_SIGNATURE, &err, "altered");
	/* a signature by the right key over the lines without the context
	 * (as another protocol might sign them) is refused */
	got = cp;
	const char *sigline = strstr(t, "sig ");
	crypto_sign_detached(got.sig, NULL, (const uint8_t *)t,
			     (size_t)(sigline - t), SK);
	assert_fails_with(st_audit_checkpoint_verify(&got, PK, &err),
			  ST_E_SIGNATURE, &err, "altered");
}

static void checkpoint_parser_refuses_malformed_text(void **state)
{
	(void)state;
	struct st_audit_checkpoint cp = signed_cp();
	char good[ST_AUDIT_CHECKPOINT_BUF];
	size_t gn;
	struct st_error err = {0};
	assert_int_equal(st_audit_checkpoint_format(&cp, good, sizeof good, &gn,
						    &err), 0);
	char lines[6][100];
	{
		const char *s = good;
		for (int i = 0; i < 6; i++) {
			const char *nl = strchr(s, '\n');
			snprintf(lines[i], sizeof lines[i], "%.*s", (int)(nl - s), s);
			s = nl + 1;
		}
	}
	const char *R = lines[2] + 5, *K = lines[4] + 4, *S = lines[5] + 4;
	char upper[65];
	memcpy(upper, R, 64);
	upper[64] = 0;
	for (char *c = upper; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 32);
	char sig_eq[89], sig_bits[89];
	memcpy(sig_eq, S, 89);
	sig_eq[40] = '=';
	/* the last data character before "==" carries 4 padding bits */
	memcpy(sig_bits, S, 89);
	static const char B64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	sig_bits[85] = B64[(strchr(B64, sig_bits[85]) - B64) ^ 1];
	char long_text[ST_AUDIT_CHECKPOINT_TEXT_MAX + 2];
	memset(long_text, 'x', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = 0;

	static const char *HDR = "sealtrace audit checkpoint v1\n";
	struct {
		const char *what;
		char text[1024];
		int code;
		const char *word;
	} cases[40];
	size_t nc = 0;
#define CASE(w, c, word_, ...)                                                 \
	do {                                                                   \
		cases[nc].what = (w);                                          \
		snprintf(cases[nc].text, sizeof cases[nc].text, __VA_ARGS__);  \
		cases[nc].code = (c);                                          \
		cases[nc].word = (word_);                                      \
		nc++;                                                          \
	} while (0)
	CASE("empty", ST_E_TRUNCATED, "line 1", "%s", "");
	CASE("another format", ST_E_BAD_MAGIC, "line 1",
	     "sealtrace audit log\nsize 1\n");
	CASE("version 2", ST_E_VERSION, "upgrade",
	     "sealtrace audit checkpoint v2\nsize 1\n");
	CASE("header only", ST_E_TRUNCATED, "line 2 (size)", "%s", HDR);
	CASE("cut in the sig line", ST_E_CORRUPT, "line 6 (sig)",
	     "%s%s\n%s\n%s\n%s\nsig %.40s", HDR, lines[1], lines[2], lines[3],
	     lines[4], S);
	CASE("no sig line", ST_E_TRUNCATED, "line 6",
	     "%s%s\n%s\n%s\n%s\n", HDR, lines[1], lines[2], lines[3], lines[4]);
	CASE("cut inside key", ST_E_TRUNCATED, "line 5",
	     "%s%s\n%s\n%s\nkey %.8s", HDR, lines[1], lines[2], lines[3], K);
	CASE("leading zero size", ST_E_CORRUPT, "line 2 (size)",
	     "%ssize 01234\n%s\n%s\n%s\n%s\n", HDR, lines[2], lines[3],
	     lines[4], lines[5]);
	CASE("signed size", ST_E_CORRUPT, "line 2", "%ssize +1234\n%s\n%s\n%s\n%s\n",
	     HDR, lines[2], lines[3], lines[4], lines[5]);
	CASE("negative size", ST_E_CORRUPT, "line 2", "%ssize -1\n%s\n%s\n%s\n%s\n",
	     HDR, lines[2], lines[3], lines[4], lines[5]);
	CASE("size past INT64_MAX", ST_E_CORRUPT, "line 2",
	     "%ssize 9223372036854775808\n%s\n%s\n%s\n%s\n", HDR, lines[2],
	     lines[3], lines[4], lines[5]);
	CASE("size of 20 digits", ST_E_CORRUPT, "line 2",
	     "%ssize 18446744073709551617\n%s\n%s\n%s\n%s\n", HDR, lines[2],
	     lines[3], lines[4], lines[5]);
	CASE("empty size", ST_E_CORRUPT, "line 2", "%ssize \n%s\n%s\n%s\n%s\n",
	     HDR, lines[2], lines[3], lines[4], lines[5]);
	CASE("trailing space", ST_E_CORRUPT, "line 2",
	     "%s%s \n%s\n%s\n%s\n%s\n", HDR, lines[1], lines[2], lines[3],
	     lines[4], lines[5]);
	CASE("capitalised keyword", ST_E_CORRUPT, "line 2",
	     "%sSize 1234\n%s\n%s\n%s\n%s\n", HDR, lines[2], lines[3], lines[4],
	     lines[5]);
	CASE("two spaces", ST_E_CORRUPT, "line 2",
	     "%ssize  1234\n%s\n%s\n%s\n%s\n", HDR, lines[2], lines[3], lines[4],
	     lines[5]);
	CASE("upper-case root", ST_E_CORRUPT, "line 3 (root)",
	     "%s%s\nroot %s\n%s\n%s\n%s\n", HDR, lines[1], upper, lines[3],
	     lines[4], lines[5]);
	CASE("short root", ST_E_CORRUPT, "line 3", "%s%s\nroot %.63s\n%s\n%s\n%s\n",
	     HDR, lines[1], R, lines[3], lines[4], lines[5]);
	CASE("lines swapped", ST_E_CORRUPT, "line 3",
	     "%s%s\n%s\n%s\n%s\n%s\n", HDR, lines[1], lines[3], lines[2],
	     lines[4], lines[5]);
	CASE("leading zero time", ST_E_CORRUPT, "line 4 (time)",
	     "%s%s\n%s\ntime 01764000000\n%s\n%s\n", HDR, lines[1], lines[2],
	     lines[4], lines[5]);
	CASE("negative time", ST_E_CORRUPT, "line 4",
	     "%s%s\n%s\ntime -5\n%s\n%s\n", HDR, lines[1], lines[2], lines[4],
	     lines[5]);
	CASE("short key", ST_E_CORRUPT, "line 5 (key)",
	     "%s%s\n%s\n%s\nkey %.15s\n%s\n", HDR, lines[1], lines[2], lines[3],
	     K, lines[5]);
	CASE("sig of 87", ST_E_CORRUPT, "line 6 (sig)",
	     "%s%s\n%s\n%s\n%s\nsig %.87s\n", HDR, lines[1], lines[2], lines[3],
	     lines[4], S);
	CASE("sig url-safe", ST_E_CORRUPT, "line 6",
	     "%s%s\n%s\n%s\n%s\nsig -%s\n", HDR, lines[1], lines[2], lines[3],
	     lines[4], S + 1);
	CASE("sig with = inside", ST_E_CORRUPT, "line 6",
	     "%s%s\n%s\n%s\n%s\nsig %s\n", HDR, lines[1], lines[2], lines[3],
	     lines[4], sig_eq);
	CASE("sig padding bits", ST_E_CORRUPT, "line 6",
	     "%s%s\n%s\n%s\n%s\nsig %s\n", HDR, lines[1], lines[2], lines[3],
	     lines[4], sig_bits);
	CASE("a seventh line", ST_E_CORRUPT, "line 7", "%snote hi\n", good);
	CASE("two final newlines", ST_E_CORRUPT, "line 7", "%s\n", good);
	CASE("CRLF", ST_E_CORRUPT, "carriage return",
	     "sealtrace audit checkpoint v1\r\n%s\r\n", lines[1]);
	CASE("blank line first", ST_E_BAD_MAGIC, "line 1", "\n%s", good);
	CASE("too long", ST_E_CAP, "over", "%s", long_text);
	for (size_t i = 0; i < nc; i++) {
		struct st_audit_checkpoint got;
		memset(&got, 0x5a, sizeof got);
		int rc = st_audit_checkpoint_parse(cases[i].text,
						   strlen(cases[i].text), &got,
						   &err);
		if (rc != cases[i].code || !strstr(err.msg, cases[i].word))
			fail_msg("%s: rc %d (want %d), '%s' (want '%s')",
				 cases[i].what, rc, cases[i].code, err.msg,
				 cases[i].word);
		assert_int_equal(((uint8_t *)&got)[0], 0x5a); /* untouched */
	}
	/* a NUL inside the text is not a line end */
	char withnul[ST_AUDIT_CHECKPOINT_BUF];
	memcpy(withnul, good, gn);
	withnul[35] = 0;
	struct st_audit_checkpoint got;
	assert_fails_with(st_audit_checkpoint_parse(withnul, gn, &got, &err),
			  ST_E_CORRUPT, &err, "line 2");
#undef CASE
}

/* ---- proofs as JSON ---- */

static void proof_json_round_trips(void **state)
{
	(void)state;
	uint8_t leaves[20 * H];
	for (uint64_t i = 0; i < 20; i++)
		ref_leaf(i, leaves + i * H);
	struct st_error err = {0};
	struct st_audit_proof p, got;
	memset(&p, 0, sizeof p);
	p.kind = ST_AUDIT_PROOF_INCLUSION;
	p.index = 5;
	p.size = 13;
	assert_int_equal(st_audit_inclusion_proof(leaves, 13, 5, p.hashes,
						  ST_AUDIT_PROOF_MAX, &p.count,
						  &err), 0);
	json_t *j = st_audit_proof_json(&p);
	assert_non_null(j);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "{\"kind\":\"inclusion\",\"index\":5,\"size\":13,"
				 "\"hashes\":[\"", 48), 0);
	memset(&got, 0x33, sizeof got);
	assert_int_equal(st_audit_proof_parse(s, strlen(s), &got, &err), 0);
	free(s);
	assert_int_equal(got.kind, p.kind);
	assert_int_equal(got.index, 5);
	assert_int_equal(got.size, 13);
	assert_int_equal(got.size1, 0);
	assert_int_equal(got.count, p.count);
	assert_memory_equal(got.hashes, p.hashes, p.count * H);
	uint8_t root[32];
	st_audit_root(leaves, 13, root);
	assert_int_equal(st_audit_inclusion_verify(got.index, got.size,
		leaves + 5 * H, got.hashes, got.count, root, &err), 0);

	memset(&p, 0, sizeof p);
	p.kind = ST_AUDIT_PROOF_CONSISTENCY;
	p.size1 = 7;
	p.size2 = 20;
	assert_int_equal(st_audit_consistency_proof(leaves, 7, 20, p.hashes,
						    ST_AUDIT_PROOF_MAX, &p.count,
						    &err), 0);
	j = st_audit_proof_json(&p);
	s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	assert_int_equal(st_audit_proof_parse(s, strlen(s), &got, &err), 0);
	free(s);
	assert_int_equal(got.kind, ST_AUDIT_PROOF_CONSISTENCY);
	assert_int_equal(got.size1, 7);
	assert_int_equal(got.size2, 20);
	assert_int_equal(got.index, 0);
	assert_int_equal(got.count, p.count);
	assert_memory_equal(got.hashes, p.hashes, p.count * H);
	/* an empty proof and the largest sizes */
	memset(&p, 0, sizeof p);
	p.kind = ST_AUDIT_PROOF_CONSISTENCY;
	p.size1 = p.size2 = ST_AUDIT_SIZE_MAX;
	j = st_audit_proof_json(&p);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_string_equal(s, "{\"kind\":\"consistency\",\"size1\":"
			    "9223372036854775807,\"size2\":9223372036854775807,"
			    "\"hashes\":[]}");
	assert_int_equal(st_audit_proof_parse(s, strlen(s), &got, &err), 0);
	free(s);
	assert_int_equal(got.size2, ST_AUDIT_SIZE_MAX);
	/* structs the parser would refuse have no JSON */
	p.size1 = 8, p.size2 = 7;
	assert_null(st_audit_proof_json(&p));
	p.kind = ST_AUDIT_PROOF_INCLUSION;
	p.index = 7, p.size = 7;
	assert_null(st_audit_proof_json(&p));
	p.index = 1;
	p.count = ST_AUDIT_PROOF_MAX + 1;
	assert_null(st_audit_proof_json(&p));
	p.count = 0;
	p.kind = 0;
	assert_null(st_audit_proof_json(&p));
}

static void proof_parser_refuses_malformed_json(void **state)
{
	(void)state;
	char h[65];
	memset(h, 'a', 64);
	h[64] = 0;
	char many[ST_AUDIT_PROOF_JSON_MAX];
	int o = snprintf(many, sizeof many,
			 "{\"kind\":\"inclusion\",\"index\":0,\"size\":1,\"hashes\":[");
	for (int i = 0; i < ST_AUDIT_PROOF_MAX + 1; i++)
		o += snprintf(many + o, sizeof many - (size_t)o, "%s\"%s\"",
			      i ? "," : "", h);
	snprintf(many + o, sizeof many - (size_t)o, "]}");
	char big[ST_AUDIT_PROOF_JSON_MAX + 2];
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = 0;
	static const char small[] =
		"{\"kind\":\"inclusion\",\"index\":0,\"size\":1,\"hashes\":[]}";
	memcpy(big, small, strlen(small));
	char upper[200], shorth[200], longh[200], nonhex[200];
	snprintf(upper, sizeof upper, "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":2,\"hashes\":[\"%.63sA\"]}", h);
	snprintf(shorth, sizeof shorth, "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":2,\"hashes\":[\"%.63s\"]}", h);
	snprintf(longh, sizeof longh, "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":2,\"hashes\":[\"%s0\"]}", h);
	snprintf(nonhex, sizeof nonhex, "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":2,\"hashes\":[\"%.63sg\"]}", h);
	const struct {
		const char *what, *json;
		int code;
		const char *word;
	} cases[] = {
		{"not JSON", "kind=inclusion", ST_E_JSON, "not JSON"},
		{"empty", "", ST_E_JSON, "not JSON"},
		{"trailing text", "{\"kind\":\"inclusion\",\"index\":0,\"size\":1,"
		 "\"hashes\":[]} x", ST_E_JSON, "not JSON"},
		{"an array", "[1,2]", ST_E_JSON, "not a JSON object"},
		{"no kind", "{\"index\":0,\"size\":1,\"hashes\":[]}", ST_E_JSON,
		 "\"kind\""},
		{"kind not a string", "{\"kind\":1,\"index\":0,\"size\":1,"
		 "\"hashes\":[]}", ST_E_JSON, "\"kind\""},
		{"unknown kind", "{\"kind\":\"exclusion\",\"index\":0,\"size\":1,"
		 "\"hashes\":[]}", ST_E_JSON, "neither"},
		{"unknown key", "{\"kind\":\"inclusion\",\"index\":0,\"size\":1,"
		 "\"hashes\":[],\"root\":\"\"}", ST_E_JSON, "unknown key \"root\""},
		{"other kind's key", "{\"kind\":\"consistency\",\"size1\":0,"
		 "\"size2\":1,\"index\":0,\"hashes\":[]}", ST_E_JSON,
		 "unknown key \"index\""},
		{"duplicate key", "{\"kind\":\"inclusion\",\"index\":0,\"index\":1,"
		 "\"size\":2,\"hashes\":[]}", ST_E_JSON, "duplicate"},
		{"no index", "{\"kind\":\"inclusion\",\"size\":1,\"hashes\":[]}",
		 ST_E_JSON, "\"index\" is missing"},
		{"no size2", "{\"kind\":\"consistency\",\"size1\":1,\"hashes\":[]}",
		 ST_E_JSON, "\"size2\" is missing"},
		{"no hashes", "{\"kind\":\"inclusion\",\"index\":0,\"size\":1}",
		 ST_E_JSON, "\"hashes\""},
		{"hashes an object", "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":1,\"hashes\":{}}", ST_E_JSON, "\"hashes\""},
		{"negative", "{\"kind\":\"inclusion\",\"index\":-1,\"size\":1,"
		 "\"hashes\":[]}", ST_E_JSON, "\"index\" is not"},
		{"real", "{\"kind\":\"inclusion\",\"index\":0,\"size\":1.0,"
		 "\"hashes\":[]}", ST_E_JSON, "\"size\" is not"},
		{"string number", "{\"kind\":\"inclusion\",\"index\":\"0\","
		 "\"size\":1,\"hashes\":[]}", ST_E_JSON, "\"index\" is not"},
		{"too big", "{\"kind\":\"inclusion\",\"index\":0,"
		 "\"size\":9223372036854775808,\"hashes\":[]}", ST_E_JSON,
		 "not JSON"},
		{"index at size", "{\"kind\":\"inclusion\",\"index\":3,\"size\":3,"
		 "\"hashes\":[]}", ST_E_JSON, "not below"},
		{"size1 above size2", "{\"kind\":\"consistency\",\"size1\":4,"
		 "\"size2\":3,\"hashes\":[]}", ST_E_JSON, "above"},
		{"hash a number", "{\"kind\":\"inclusion\",\"index\":0,\"size\":2,"
		 "\"hashes\":[5]}", ST_E_JSON, "hashes[0]"},
		{"upper-case hex", upper, ST_E_JSON, "hashes[0]"},
		{"63 hex", shorth, ST_E_JSON, "hashes[0]"},
		{"65 hex", longh, ST_E_JSON, "hashes[0]"},
		{"non-hex", nonhex, ST_E_JSON, "hashes[0]"},
		{"65 hashes", many, ST_E_CAP, "65 hashes"},
		{"over the size cap", big, ST_E_CAP, "over the cap"},
	};
	struct st_error err = {0};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct st_audit_proof got;
		memset(&got, 0x5a, sizeof got);
		int rc = st_audit_proof_parse(cases[i].json, strlen(cases[i].json),
					      &got, &err);
		if (rc != cases[i].code || !strstr(err.msg, cases[i].word))
			fail_msg("%s: rc %d (want %d), '%s' (want '%s')",
				 cases[i].what, rc, cases[i].code, err.msg,
				 cases[i].word);
		assert_int_equal(((uint8_t *)&got)[0], 0x5a);
	}
	/* the same object, well-formed, parses: the table tests one flaw each */
	struct st_audit_proof got;
	const char *ok = "{\"kind\":\"inclusion\",\"index\":0,\"size\":1,\"hashes\":[]}";
	assert_int_equal(st_audit_proof_parse(ok, strlen(ok), &got, &err), 0);
	/* an embedded NUL (length given) is not the end of the text */
	char nul[] = "{\"kind\":\"inclusion\",\"index\":0,\"size\":1,\"hashes\":[]}\0x";
	assert_fails_with(st_audit_proof_parse(nul, sizeof nul - 1, &got, &err),
			  ST_E_JSON, &err, "not JSON");
}

/* ---- the verifier ---- */

struct fixture {
	struct st_audit_entry *log;
	uint8_t *leaves;
};

static struct fixture make_fixture(size_t n)
{
	struct fixture f = {make_log(n), malloc(n * H)};
	assert_non_null(f.leaves);
	struct st_error err = {0};
	for (size_t i = 0; i < n; i++)
		assert_int_equal(st_audit_leaf_hash(&f.log[i], f.leaves + i * H,
						    &err), 0);
	return f;
}

static int verify_log(const struct st_audit_entry *log, size_t n, size_t page,
		      const struct st_audit_expect *cps, size_t ncps,
		      uint8_t *root, struct st_audit_verifier *v,
		      struct st_error *err)
{
	int rc = st_audit_verifier_init(v, cps, ncps, err);
	for (size_t i = 0; rc == 0 && i < n; i += page) {
		size_t k = n - i < page ? n - i : page;
		rc = st_audit_verifier_feed(v, log + i, k, err);
	}
	if (rc == 0)
		rc = st_audit_verifier_finish(v, root, err);
	return rc;
}

static void verifier_passes_an_untouched_log(void **state)
{
	(void)state;
	struct fixture f = make_fixture(LOG_N);
	static const uint64_t sizes[] = {0, 1, 2, 64, 500, 500, 777, 999, 1000};
	enum { NCP = sizeof sizes / sizeof sizes[0] };
	struct st_audit_expect cps[NCP];
	char names[NCP][32];
	for (size_t i = 0; i < NCP; i++) {
		cps[i].size = sizes[i];
		st_audit_root(f.leaves, sizes[i], cps[i].root);
		snprintf(names[i], sizeof names[i], "cp-%" PRIu64 ".txt", sizes[i]);
		cps[i].name = names[i];
	}
	uint8_t want[32], root[32];
	st_audit_root(f.leaves, LOG_N, want);
	static const size_t pages[] = {1, 7, 64, 1000};
	for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
		struct st_audit_verifier v;
		struct st_error err = {0};
		if (verify_log(f.log, LOG_N, pages[p], cps, NCP, root, &v, &err))
			fail_msg("page %zu: %s", pages[p], err.msg);
		assert_memory_equal(root, want, 32);
		assert_int_equal(v.next_cp, NCP);
		assert_int_equal(v.tree.size, LOG_N);
	}
	/* no checkpoints at all: the chain alone */
	struct st_audit_verifier v;
	struct st_error err = {0};
	assert_int_equal(verify_log(f.log, LOG_N, 100, NULL, 0, root, &v, &err), 0);
	assert_memory_equal(root, want, 32);
	/* checkpoints must come sorted */
	struct st_audit_expect swapped[2] = {cps[6], cps[4]};
	assert_fails_with(st_audit_verifier_init(&v, swapped, 2, &err),
			  ST_E_INVAL, &err, "sort them");
	free(f.log);
	free(f.leaves);
}

static void verifier_catches_a_rewrite_and_a_truncation(void **state)
{
	(void)state;
	struct fixture f = make_fixture(LOG_N);
	struct st_audit_expect cps[3] = {
		{.size = 400, .name = "a.cp"},
		{.size = 777, .name = "b.cp"},
		{.size = 1000, .name = "c.cp"},
	};
	for (size_t i = 0; i < 3; i++)
		st_audit_root(f.leaves, cps[i].size, cps[i].root);
	struct st_audit_verifier v;
	struct st_error err = {0};

	/* entry 600 rewritten and the chain recomputed from there: the chain
	 * holds, the checkpoint at 777 does not */
	struct st_audit_entry *t = calloc(LOG_N, sizeof *t);
	assert_non_null(t);
	memcpy(t, f.log, LOG_N * sizeof *t);
	snprintf(t[599].result, sizeof t[599].result, "forbidden");
	rechain(t, LOG_N, 599);
	uint64_t bad;
	assert_int_equal(st_audit_chain_check(t, LOG_N, 1, NULL, &bad, &err), 0);
	int rc = verify_log(t, LOG_N, 50, cps, 3, NULL, &v, &err);
	assert_fails_with(rc, ST_E_AUDIT, &err, "checkpoint size 777 (b.cp): "
			  "the log's first 777 entries no longer have root");
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, cps[1].root, 32);
	assert_non_null(strstr(err.msg, hex));
	assert_non_null(strstr(err.msg, "rewritten or truncated"));
	assert_int_equal(v.next_cp, 1); /* a.cp held */
	assert_int_equal(v.tree.size, 777);
	/* a failed verifier refuses to go on */
	assert_fails_with(st_audit_verifier_feed(&v, t, 1, &err), ST_E_STATE,
			  &err, "already failed");
	assert_int_equal(st_audit_verifier_finish(&v, NULL, &err), ST_E_STATE);

	/* truncated to 900: every checkpoint below passes, the last fails */
	rc = verify_log(f.log, 900, 50, cps, 3, NULL, &v, &err);
	assert_fails_with(rc, ST_E_AUDIT, &err, "truncated: the log has 900 "
			  "entries, checkpoint c.cp says 1000");
	/* truncated to 700, then 300 rewritten entries appended: the
	 * checkpoint at 777 sees it */
	memcpy(t, f.log, LOG_N * sizeof *t);
	for (size_t i = 700; i < LOG_N; i++)
		snprintf(t[i].purpose, sizeof t[i].purpose, "rewritten");
	rechain(t, LOG_N, 700);
	rc = verify_log(t, LOG_N, 333, cps, 3, NULL, &v, &err);
	assert_fails_with(rc, ST_E_AUDIT, &err, "checkpoint size 777 (b.cp)");

	/* chain damage shows as in the chain check, with bad_seq */
	memcpy(t, f.log, LOG_N * sizeof *t);
	t[122].time_s++;
	rc = verify_log(t, LOG_N, 50, cps, 3, NULL, &v, &err);
	assert_fails_with(rc, ST_E_AUDIT, &err, "entry 123: its content does "
			  "not match its hash (modified)");
	assert_int_equal(v.bad_seq, 123);
	memcpy(t, f.log, LOG_N * sizeof *t);
	memmove(t + 200, t + 201, (LOG_N - 201) * sizeof *t);
	rc = verify_log(t, LOG_N - 1, 50, cps, 3, NULL, &v, &err);
	assert_fails_with(rc, ST_E_AUDIT, &err, "entry 201: sequence 202");
	assert_int_equal(v.bad_seq, 201);

	/* a size-0 checkpoint whose root is not the empty tree's */
	struct st_audit_expect zero = {.size = 0, .name = "z.cp"};
	assert_fails_with(st_audit_verifier_init(&v, &zero, 1, &err), ST_E_AUDIT,
			  &err, "checkpoint size 0 (z.cp)");
	free(t);
	free(f.log);
	free(f.leaves);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_the_documented_layout),
		cmocka_unit_test(every_field_changes_the_hash),
		cmocka_unit_test(refuses_fields_no_appender_may_write),
		cmocka_unit_test(chain_passes_whole_and_page_by_page),
		cmocka_unit_test(chain_names_the_first_bad_entry_and_the_damage),
		cmocka_unit_test(streaming_and_array_roots_match_the_rfc),
		cmocka_unit_test(inclusion_proofs_verify_for_every_index_and_size),
		cmocka_unit_test(consistency_proofs_verify_for_every_pair_of_sizes),
		cmocka_unit_test(checkpoint_round_trips_in_the_documented_text),
		cmocka_unit_test(checkpoint_refuses_any_changed_byte_and_other_keys),
		cmocka_unit_test(checkpoint_parser_refuses_malformed_text),
		cmocka_unit_test(proof_json_round_trips),
		cmocka_unit_test(proof_parser_refuses_malformed_json),
		cmocka_unit_test(verifier_passes_an_untouched_log),
		cmocka_unit_test(verifier_catches_a_rewrite_and_a_truncation),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
