/* audit.c - bench-audit: how fast one core verifies a whole audit log (the
 * work of `sealtrace audit verify`), and how large and slow RFC 6962
 * proofs are at a million entries. Builds the log in memory (no store: the
 * durable append rate is the server's figure, audit_append_per_s), then
 * times access/audit.h's one-pass verifier over it. Prints "name: value
 * unit" lines (bench/README.md says what each means); exits non-zero when
 * the untouched log does not verify or a proof does not, or on any error. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access/audit.h"
#include "benchutil.h"

#define DEFAULT_ENTRIES 1000000u
#define DEFAULT_PASSES 3u
#define DEFAULT_SEED UINT64_C(20261124)
/* Bounds on the command line: the log is held in memory, about 600 bytes
 * an entry (the struct's fixed arrays), so 10 million is 6 GB. */
#define ENTRIES_MAX 10000000u
#define PASSES_MAX 100u
/* Entries handed to the verifier per call, as a server reads its store a
 * page at a time. */
#define PAGE 1000u
/* Checkpoints the verifier compares against during the pass. */
#define CHECKPOINTS 10u
/* The target (bench/README.md). */
#define TARGET_ENTRIES_PER_S 1000000.0

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: a reproducible spread of field values. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* An entry shaped like the server's: mostly content reads by stewards
 * under a purpose, some officer and admin actions without one. */
static void fill(struct st_audit_entry *e, uint64_t seq, uint64_t *rng)
{
	static const char *const roles[] = {"steward", "steward", "officer",
					    "auditor", "admin"};
	static const char *const actions[] = {
		"segment.read", "export", "purpose.approve", "audit.list",
		"token.create", "person.pause"};
	uint64_t r = next(rng);
	memset(e, 0, sizeof *e);
	e->seq = seq;
	e->time_s = 1764000000 + (int64_t)(seq / 4);
	snprintf(e->actor, sizeof e->actor, "p-%016" PRIx64, next(rng) & 0xffffffffffff);
	unsigned role = (unsigned)(r % 5), act = (unsigned)((r >> 8) % 6);
	snprintf(e->role, sizeof e->role, "%s", roles[role]);
	snprintf(e->action, sizeof e->action, "%s", actions[act]);
	snprintf(e->object, sizeof e->object,
		 "person/p-%016" PRIx64 "/segments/2026-11-%02u/%02u:00-%02u:00",
		 next(rng), (unsigned)(r >> 16) % 28 + 1,
		 (unsigned)(r >> 24) % 12 + 6, (unsigned)(r >> 24) % 12 + 7);
	if (role < 2)
		snprintf(e->purpose, sizeof e->purpose, "hr-case-2026-%04u",
			 (unsigned)(r >> 32) % 10000);
	snprintf(e->result, sizeof e->result, "%s",
		 (r >> 40) % 50 ? "ok" : "forbidden");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench-audit [--entries N] [--passes P] [--seed S]\n"
		"  --entries N   log size, 1-%u (default %u)\n"
		"  --passes P    timed verification passes, best kept (default %u)\n"
		"  --seed S      seed of the generated fields\n",
		ENTRIES_MAX, DEFAULT_ENTRIES, DEFAULT_PASSES);
}

static int sha_ni(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return -1;
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		if (strncmp(line, "flags", 5) == 0 && strstr(line, " sha_ni"))
			found = 1;
	fclose(f);
	return found;
}

/* Hashes of a proof of each kind, without hashing (the recursions of
 * RFC 6962 2.1.1 and 2.1.2), to find the worst case over every index. */
static uint64_t split(uint64_t n)
{
	uint64_t k = 1;
	while (k << 1 < n)
		k <<= 1;
	return k;
}

static unsigned path_len(uint64_t n, uint64_t m)
{
	unsigned c = 0;
	while (n > 1) {
		uint64_t k = split(n);
		if (m < k) {
			n = k;
		} else {
			m -= k;
			n -= k;
		}
		c++;
	}
	return c;
}

static unsigned sub_len(uint64_t n, uint64_t m)
{
	unsigned c = 0;
	bool b = true;
	while (m != n) {
		uint64_t k = split(n);
		if (m <= k) {
			n = k;
		} else {
			m -= k;
			n -= k;
			b = false;
		}
		c++;
	}
	return c + (b ? 0 : 1);
}

static size_t json_len(const struct st_audit_proof *p)
{
	json_t *j = st_audit_proof_json(p);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t n = s ? strlen(s) : 0;
	free(s);
	json_decref(j);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t n = DEFAULT_ENTRIES, passes = DEFAULT_PASSES,
		 seed = DEFAULT_SEED;
	static const struct option opts[] = {
		{"entries", required_argument, NULL, 'n'},
		{"passes", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "n:p:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bench_parse_u64(optarg, 1, ENTRIES_MAX, &n) < 0) {
				fprintf(stderr, "bench-audit: --entries %s: give "
					"1-%u\n", optarg, ENTRIES_MAX);
				return 2;
			}
			break;
		case 'p':
			if (bench_parse_u64(optarg, 1, PASSES_MAX, &passes) < 0) {
				fprintf(stderr, "bench-audit: --passes %s: give "
					"1-%u\n", optarg, PASSES_MAX);
				return 2;
			}
			break;
		case 's':
			if (bench_parse_u64(optarg, 0, UINT64_MAX, &seed) < 0) {
				fprintf(stderr, "bench-audit: --seed %s is not a "
					"number\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct st_audit_entry *log = malloc(n * sizeof *log);
	uint8_t *leaves = malloc(n * ST_AUDIT_HASH_LEN);
	if (!log || !leaves) {
		fprintf(stderr, "bench-audit: out of memory for %" PRIu64
			" entries\n", n);
		return 1;
	}
	/* the appender's side, timed as a by-product: seal + leaf hash */
	uint64_t rng = seed, enc_total = 0;
	struct st_error err = {0};
	for (uint64_t i = 0; i < n; i++)
		fill(&log[i], i + 1, &rng);
	double t0 = cpu_s();
	for (uint64_t i = 0; i < n; i++) {
		if (st_audit_seal(&log[i], i ? log[i - 1].hash : NULL, &err) ||
		    st_audit_leaf_hash(&log[i], leaves + i * ST_AUDIT_HASH_LEN,
				       &err)) {
			fprintf(stderr, "bench-audit: %s\n", err.msg);
			return 1;
		}
	}
	double seal_s = cpu_s() - t0;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t b[ST_AUDIT_ENCODED_MAX];
		size_t len;
		st_audit_encode(&log[i], b, sizeof b, &len, NULL);
		enc_total += len;
	}

	/* checkpoints spread over the log, the last at its end */
	struct st_audit_expect cps[CHECKPOINTS];
	for (unsigned k = 0; k < CHECKPOINTS; k++) {
		cps[k].size = n * (k + 1) / CHECKPOINTS;
		cps[k].name = "bench";
		st_audit_root(leaves, cps[k].size, cps[k].root);
	}
	uint8_t want[32];
	st_audit_root(leaves, n, want);

	double best_cpu = 0, best_wall = 0;
	for (uint64_t p = 0; p < passes; p++) {
		struct st_audit_verifier v;
		uint8_t root[32];
		uint64_t w0 = bench_mono_ns();
		double c0 = cpu_s();
		int rc = st_audit_verifier_init(&v, cps, CHECKPOINTS, &err);
		for (uint64_t i = 0; rc == 0 && i < n; i += PAGE)
			rc = st_audit_verifier_feed(&v, log + i,
						    n - i < PAGE ? n - i : PAGE,
						    &err);
		if (rc == 0)
			rc = st_audit_verifier_finish(&v, root, &err);
		double cpu = cpu_s() - c0;
		double wall = (double)(bench_mono_ns() - w0) * 1e-9;
		if (rc != 0 || memcmp(root, want, 32) != 0) {
			fprintf(stderr, "bench-audit: the untouched log does not "
				"verify: %s\n", rc ? err.msg : "other root");
			return 1;
		}
		if (p == 0 || cpu < best_cpu) {
			best_cpu = cpu;
			best_wall = wall;
		}
	}
	double rate = (double)n / best_cpu;

	/* proofs at the full size: the worst case over every index */
	unsigned inc_max = 0, con_max = 0;
	uint64_t inc_at = 0, con_at = 1;
	double inc_sum = 0, con_sum = 0;
	for (uint64_t m = 0; m < n; m++) {
		unsigned l = path_len(n, m);
		inc_sum += l;
		if (l > inc_max)
			inc_max = l, inc_at = m;
		if (m == 0)
			continue;
		l = sub_len(n, m);
		con_sum += l;
		if (l > con_max)
			con_max = l, con_at = m;
	}
	struct st_audit_proof ip = {.kind = ST_AUDIT_PROOF_INCLUSION,
				    .index = inc_at, .size = n};
	struct st_audit_proof cp = {.kind = ST_AUDIT_PROOF_CONSISTENCY,
				    .size1 = con_at, .size2 = n};
	t0 = cpu_s();
	int rc = st_audit_inclusion_proof(leaves, n, inc_at, ip.hashes,
					  ST_AUDIT_PROOF_MAX, &ip.count, &err);
	double inc_ms = (cpu_s() - t0) * 1e3;
	if (rc == 0) {
		t0 = cpu_s();
		rc = st_audit_consistency_proof(leaves, con_at, n, cp.hashes,
						ST_AUDIT_PROOF_MAX, &cp.count,
						&err);
	}
	double con_ms = (cpu_s() - t0) * 1e3;
	uint8_t old_root[32];
	st_audit_root(leaves, con_at, old_root);
	if (rc == 0)
		rc = st_audit_inclusion_verify(inc_at, n, leaves + inc_at * 32,
					       ip.hashes, ip.count, want, &err);
	if (rc == 0)
		rc = st_audit_consistency_verify(con_at, n, old_root, want,
						 cp.hashes, cp.count, &err);
	if (rc != 0 || ip.count != inc_max || cp.count != con_max) {
		fprintf(stderr, "bench-audit: proofs: %s\n",
			rc ? err.msg : "length differs from the recursion's");
		return 1;
	}

	int ni = sha_ni();
	printf("input: %" PRIu64 " entries, avg encoded %.0f B, pages of %u, "
	       "%u checkpoints\n", n, (double)enc_total / (double)n, PAGE,
	       CHECKPOINTS);
	printf("sha256: nettle %s\n", ni < 0 ? "(cpu flags unknown)"
				      : ni ? "(cpu has sha_ni)"
					   : "(cpu lacks sha_ni)");
	printf("clock: CLOCK_PROCESS_CPUTIME_ID (1 thread), best of %" PRIu64
	       " passes\n", passes);
	printf("audit_seal_entries_per_s: %.0f entries/s\n",
	       (double)n / seal_s);
	printf("audit_verify_entries_per_s: %.0f entries/s\n", rate);
	printf("audit_verify_cpu_s: %.3f s\n", best_cpu);
	printf("audit_verify_wall_s: %.3f s\n", best_wall);
	printf("audit_verify_ns_per_entry: %.0f ns\n", best_cpu * 1e9 / (double)n);
	printf("audit_inclusion_proof_hashes_max: %u hashes\n", inc_max);
	printf("audit_inclusion_proof_hashes_mean: %.2f hashes\n",
	       inc_sum / (double)n);
	printf("audit_inclusion_proof_bytes: %zu bytes\n", json_len(&ip));
	printf("audit_inclusion_proof_raw_bytes: %zu bytes\n", ip.count * 32);
	printf("audit_inclusion_proof_ms: %.1f ms\n", inc_ms);
	printf("audit_consistency_proof_hashes_max: %u hashes\n", con_max);
	printf("audit_consistency_proof_hashes_mean: %.2f hashes\n",
	       n > 1 ? con_sum / (double)(n - 1) : 0.0);
	printf("audit_consistency_proof_bytes: %zu bytes\n", json_len(&cp));
	printf("audit_consistency_proof_raw_bytes: %zu bytes\n", cp.count * 32);
	printf("audit_consistency_proof_ms: %.1f ms\n", con_ms);
	printf("target_audit_verify_entries_per_s: %.0f entries/s\n",
	       TARGET_ENTRIES_PER_S);
	if (rate < TARGET_ENTRIES_PER_S)
		printf("targets: missed (audit_verify_entries_per_s %.0f)\n", rate);
	else
		printf("targets: met\n");
	free(log);
	free(leaves);
	return 0;
}
