/* fuzz_proof.c - libFuzzer target for a proof the API sends to a client
 * (`audit verify --proof`, the export host): st_audit_proof_parse on any
 * bytes, then both RFC 9162 verifiers with what it parsed. Properties: no
 * crash or leak; a refusal has a code and a message; a proof that parses
 * serialises (st_audit_proof_json) and re-parses to the same proof; run
 * against a fixed tree of FUZZ_TREE leaves, a proof that verifies is
 * exactly the one st_audit_*_proof makes (RFC 6962 proofs are unique, so
 * anything else verifying would be a forgery). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "fuzz_check.h"

#define FUZZ_TREE 21 /* not a power of two: right edges are short */

static uint8_t leaves[FUZZ_TREE * ST_AUDIT_HASH_LEN];
static uint8_t roots[(FUZZ_TREE + 1) * ST_AUDIT_HASH_LEN]; /* per size */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < FUZZ_TREE; i++) {
		struct st_audit_entry e;
		memset(&e, 0, sizeof e);
		e.seq = i + 1;
		e.time_s = 1764000000 + (int64_t)i;
		strcpy(e.actor, "p-00000000000000aa");
		strcpy(e.role, "steward");
		strcpy(e.action, "export");
		strcpy(e.object, "person/p-00000000000000bb");
		strcpy(e.result, "ok");
		if (st_audit_leaf_hash(&e, leaves + i * ST_AUDIT_HASH_LEN, NULL))
			abort();
	}
	for (size_t n = 0; n <= FUZZ_TREE; n++)
		st_audit_root(leaves, n, roots + n * ST_AUDIT_HASH_LEN);
	return 0;
}

static int same(const struct st_audit_proof *a, const struct st_audit_proof *b)
{
	return a->kind == b->kind && a->index == b->index &&
	       a->size == b->size && a->size1 == b->size1 &&
	       a->size2 == b->size2 && a->count == b->count &&
	       memcmp(a->hashes, b->hashes, a->count * ST_AUDIT_HASH_LEN) == 0;
}

static void check_against_tree(const struct st_audit_proof *p)
{
	static const uint8_t other[ST_AUDIT_HASH_LEN] = {1};
	uint8_t want[ST_AUDIT_PROOF_MAX * ST_AUDIT_HASH_LEN];
	size_t wc = 0;
	struct st_error e = {0};
	if (p->kind == ST_AUDIT_PROOF_INCLUSION) {
		int in = p->size <= FUZZ_TREE;
		const uint8_t *leaf = in ? leaves + p->index * ST_AUDIT_HASH_LEN
					 : other;
		const uint8_t *root = in ? roots + p->size * ST_AUDIT_HASH_LEN
					 : other;
		if (st_audit_inclusion_verify(p->index, p->size, leaf, p->hashes,
					      p->count, root, &e) != 0) {
			if (e.code == 0 || e.msg[0] == 0)
				fuzz_die("a failed inclusion without a message", &e);
			return;
		}
		if (!in)
			fuzz_die("an inclusion proof verified against a made-up "
				 "root", NULL);
		if (st_audit_inclusion_proof(leaves, p->size, p->index, want,
					     ST_AUDIT_PROOF_MAX, &wc, &e) != 0)
			fuzz_die("no inclusion proof for a verified pair", &e);
	} else {
		int in = p->size2 <= FUZZ_TREE;
		const uint8_t *r1 = in ? roots + p->size1 * ST_AUDIT_HASH_LEN
				       : other;
		const uint8_t *r2 = in ? roots + p->size2 * ST_AUDIT_HASH_LEN
				       : other;
		if (st_audit_consistency_verify(p->size1, p->size2, r1, r2,
						p->hashes, p->count, &e) != 0) {
			if (e.code == 0 || e.msg[0] == 0)
				fuzz_die("a failed consistency without a message",
					 &e);
			return;
		}
		if (!in) /* only the trivial cases can hold for made-up roots */
			return;
		if (st_audit_consistency_proof(leaves, p->size1, p->size2, want,
					       ST_AUDIT_PROOF_MAX, &wc, &e) != 0)
			fuzz_die("no consistency proof for a verified pair", &e);
	}
	if (wc != p->count ||
	    memcmp(want, p->hashes, wc * ST_AUDIT_HASH_LEN) != 0)
		fuzz_die("a proof other than the tree's verified", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > ST_AUDIT_PROOF_JSON_MAX + 16)
		return 0;
	struct st_audit_proof p;
	struct st_error e = {0};
	int rc = st_audit_proof_parse((const char *)data, size, &p, &e);
	if (rc != 0) {
		if (e.code != rc || e.msg[0] == 0)
			fuzz_die("a refusal without a code and message", &e);
		return 0;
	}
	json_t *j = st_audit_proof_json(&p);
	if (!j)
		fuzz_die("a parsed proof has no JSON", NULL);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		fuzz_die("a parsed proof does not serialise", NULL);
	struct st_audit_proof again;
	if (st_audit_proof_parse(s, strlen(s), &again, &e) != 0)
		fuzz_die("a serialised proof does not parse", &e);
	free(s);
	if (!same(&p, &again))
		fuzz_die("serialise and parse do not give the same proof", NULL);
	check_against_tree(&p);
	return 0;
}
