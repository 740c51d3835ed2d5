/* audit_append.c - the audit log's durable append rate: entries appended
 * through the server's writer (src/server/auditlog.h) into the real SQLite
 * store (WAL, synchronous=FULL: each COMMIT returns once on disk), one
 * entry per transaction as the API writes them, and 100 per transaction
 * for comparison; then a checkpoint's signing cost over the whole log.
 *
 * usage: bench-audit-append [ENTRIES] [DIR]   (default 2000, a temp dir)
 * Prints `name: value unit` lines. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "benchutil.h"
#include "core/keys.h"
#include "core/mem.h"
#include "server/auditlog.h"
#include "server/store.h"

static void entry(struct st_store_audit *e, uint64_t i)
{
	memset(e, 0, sizeof *e);
	e->time_s = 1764000000 + (int64_t)i;
	snprintf(e->actor, sizeof e->actor, "p-%016" PRIx64, i * 2654435761u);
	snprintf(e->role, sizeof e->role, "steward");
	snprintf(e->action, sizeof e->action, "export.person");
	snprintf(e->object, sizeof e->object, "person:p-%016" PRIx64,
		 i * 40503u);
	snprintf(e->purpose, sizeof e->purpose, "computer-use-training");
	snprintf(e->result, sizeof e->result, "ok");
}

static int run(struct st_auditlog *l, struct st_store *s, uint64_t n,
	       unsigned per_tx, uint64_t base, double *rate)
{
	struct st_error e = {0};
	uint64_t t0 = bench_mono_ns();
	for (uint64_t i = 0; i < n; i += per_tx) {
		if (st_store_begin(s, &e) < 0)
			goto fail;
		for (unsigned k = 0; k < per_tx && i + k < n; k++) {
			struct st_store_audit x;
			entry(&x, base + i + k);
			if (st_auditlog_append(l, s, &x, &e) < 0) {
				st_store_rollback(s, NULL);
				st_auditlog_abort(l);
				goto fail;
			}
		}
		if (st_store_commit(s, &e) < 0) {
			st_auditlog_abort(l);
			goto fail;
		}
		st_auditlog_commit(l);
	}
	*rate = (double)n / ((double)(bench_mono_ns() - t0) / 1e9);
	return 0;
fail:
	fprintf(stderr, "bench-audit-append: %s\n", e.msg);
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t n = 2000;
	if (argc > 1 && bench_parse_u64(argv[1], 1, 10000000, &n) < 0) {
		fprintf(stderr, "usage: bench-audit-append [ENTRIES] [DIR]\n");
		return 2;
	}
	char dir[256];
	if (argc > 2) {
		snprintf(dir, sizeof dir, "%s", argv[2]);
	} else {
		snprintf(dir, sizeof dir, "/tmp/st-bench-audit-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	if (st_crypto_init() < 0)
		return 1;
	char db[300], key[300], pub[300];
	snprintf(db, sizeof db, "%s/audit.db", dir);
	snprintf(key, sizeof key, "%s/audit.key", dir);
	snprintf(pub, sizeof pub, "%s/audit.pub", dir);
	struct st_error e = {0};
	uint8_t pk[32], *sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!sk || st_sign_keypair(pk, sk) < 0 ||
	    st_key_write(key, ST_KEY_AUDIT_SECRET, sk, 64, true, &e) < 0 ||
	    st_key_write(pub, ST_KEY_AUDIT_PUBLIC, pk, 32, false, &e) < 0) {
		fprintf(stderr, "bench-audit-append: keys: %s\n", e.msg);
		return 1;
	}
	st_secret_free(sk);
	struct st_store_cfg sc = {.path = db};
	struct st_store *s = NULL;
	struct st_auditlog *l = NULL;
	struct st_auditlog_cfg ac = {key, pub, 1000000, 86400};
	if (st_store_open(&st_store_sqlite, &sc, &s, &e) < 0 ||
	    st_auditlog_open(&ac, s, 1764000000, &l, &e) < 0) {
		fprintf(stderr, "bench-audit-append: %s\n", e.msg);
		return 1;
	}
	double r1 = 0, r100 = 0;
	if (run(l, s, n, 1, 0, &r1) || run(l, s, n * 10, 100, n, &r100))
		return 1;
	bool made = false;
	uint64_t t0 = bench_mono_ns();
	if (st_auditlog_checkpoint(l, s, 1764100000, true, &made, NULL, &e) <
	    0) {
		fprintf(stderr, "bench-audit-append: %s\n", e.msg);
		return 1;
	}
	double cp_ms = (double)(bench_mono_ns() - t0) / 1e6;
	printf("input: %" PRIu64 " entries one per transaction, then %" PRIu64
	       " in transactions of 100; SQLite WAL synchronous=FULL in %s\n",
	       n, n * 10, dir);
	printf("audit_append_per_s: %.0f entries/s\n", r1);
	printf("audit_append_batched_per_s: %.0f entries/s\n", r100);
	printf("audit_checkpoint_ms: %.1f ms (%" PRIu64 " entries)\n", cp_ms,
	       st_auditlog_size(l));
	st_auditlog_free(l);
	st_store_close(s);
	if (argc <= 2) {
		unlink(db);
		char w[320];
		snprintf(w, sizeof w, "%s-wal", db);
		unlink(w);
		snprintf(w, sizeof w, "%s-shm", db);
		unlink(w);
		unlink(key);
		unlink(pub);
		rmdir(dir);
	}
	return 0;
}
