/* st-testkit.c - a test and development tool, never installed: makes a
 * person key pair for development enrollment and opens spooled segments with
 * it, so tests can check what the agent wrote. In the real flow the server
 * makes person keys and only the export tier opens segments. */
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/event_json.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/seal.h"
#include "export/master.h"
#include "export/open.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: st-testkit keygen DIR           person.key + person.pub\n"
		"       st-testkit dump KEY DEVICE_PUB PUBKEY SEG|DIR...\n"
		"           prints every event of every segment as JSON Lines,\n"
		"           each with \"seq\" and wall time \"wall_ns\"\n"
		"       st-testkit summary KEY DEVICE_PUB PUBKEY SEG|DIR...\n"
		"       st-testkit bodies KEY DEVICE_PUB PUBKEY SEG|DIR...\n"
		"           prints the sha256 of each segment's unsealed body\n"
		"           prints name: value lines (segments, events, bytes)\n"
		"       st-testkit store-open summary|dump MASTER_KEY DB [--keys DB2]\n"
		"           (MASTER_KEY may be wrapped:FILE, a PKCS#11-wrapped\n"
		"           master: SEALTRACE_PKCS11_MODULE, ST_TESTKIT_PIN_FILE)\n"
		"           opens every segment of a copy of the server's\n"
		"           database with the master secret (export host);\n"
		"           with --keys the people's keys come from DB2 (the\n"
		"           server's current state) and the segments from DB\n"
		"           (an older copy): an erased person's segments then\n"
		"           report \"erased\"\n");
	return 2;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tot {
	size_t segments, events, bytes, bad;
	size_t erased; /* of bad: the person's sealed secret is gone */
	size_t by_type[ST_EV_TYPE_MAX + 1];
};

static bool bodies_mode;

static void do_bytes(const char *path, const struct st_buf *bp,
		     const uint8_t *sk, const uint8_t *pk, const uint8_t *dpk,
		     bool dump, struct tot *t)
{
	const struct st_buf b = *bp;
	struct st_error e = {0};
	struct st_events evs;
	struct st_segment_header h;
	st_events_init(&evs, true);
	if (st_segment_open(b.p, b.len, dpk, pk, sk, NULL, &h, &evs, &e) < 0) {
		fprintf(stderr, "%s: %s\n", path, e.msg);
		t->bad++;
	} else {
		t->segments++;
		t->events += evs.n;
		if (bodies_mode) {
			/* the codec is canonical: re-encoding the opened events
			 * gives the body that was sealed, byte for byte */
			struct st_buf body;
			uint8_t h32[32];
			char hx[65];
			st_buf_init(&body, true);
			st_body_encode(&evs, &body, NULL);
			crypto_hash_sha256(h32, body.p, body.len);
			sodium_bin2hex(hx, sizeof hx, h32, 32);
			printf("%llu %s\n", (unsigned long long)h.seq, hx);
			st_buf_fini(&body);
		}
		t->bytes += b.len;
		for (size_t i = 0; i < evs.n; i++) {
			t->by_type[evs.ev[i].type]++;
			if (!dump)
				continue;
			json_t *o = st_event_to_json(&evs, &evs.ev[i]);
			json_object_set_new(o, "seq", json_integer((json_int_t)h.seq));
			json_object_set_new(
				o, "wall_ns",
				json_integer((json_int_t)(evs.anchor_ns +
							  evs.ev[i].t * evs.tick_ns)));
			json_object_set_new(o, "level", json_integer(h.level));
			json_object_set_new(o, "kinds", json_integer(h.kinds));
			char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
			puts(s);
			free(s);
			json_decref(o);
		}
	}
	st_events_fini(&evs);
}

static int do_file(const char *path, const uint8_t *sk, const uint8_t *pk,
		   const uint8_t *dpk, bool dump, struct tot *t)
{
	struct st_buf b;
	struct st_error e = {0};
	st_buf_init(&b, false);
	if (st_file_read(path, ST_SEG_HEADER_LEN + ST_SEG_CIPHER_MAX, &b, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		st_buf_fini(&b);
		t->bad++;
		return 1;
	}
	do_bytes(path, &b, sk, pk, dpk, dump, t);
	st_buf_fini(&b);
	return 0;
}

/* A person's public key and sealed secret (NULL once erased) as the key
 * database holds them. */
struct person_keys {
	bool found;
	uint8_t pk[32];
	bool has_sealed;
	int sealed_len;
	uint8_t sealed[ST_MASTER_SEALED_LEN];
};

static void person_keys_of(sqlite3_stmt *q, int pk_col, int sealed_col,
			   struct person_keys *k)
{
	memset(k, 0, sizeof *k);
	const void *pk = sqlite3_column_blob(q, pk_col);
	if (!pk || sqlite3_column_bytes(q, pk_col) != 32)
		return;
	k->found = true;
	memcpy(k->pk, pk, 32);
	if (sqlite3_column_type(q, sealed_col) == SQLITE_NULL)
		return;
	k->has_sealed = true;
	k->sealed_len = sqlite3_column_bytes(q, sealed_col);
	if (k->sealed_len == ST_MASTER_SEALED_LEN)
		memcpy(k->sealed, sqlite3_column_blob(q, sealed_col),
		       ST_MASTER_SEALED_LEN);
}

/* What the export host can do with the master secret: unseal each
 * person's key (st_master_open_person, the export tier's own check) and
 * open every stored segment. The segments come from db_path; the people's
 * keys from keys_path when given (the server's current state, while the
 * segments are an older copy: erasure must still win), else from db_path.
 * A preview of export for tests and the main job; the real export
 * (purpose-gated, audited) is sealtrace-export. */
static int store_open(const char *master_key, const char *db_path,
		      const char *keys_path, bool dump, struct tot *t)
{
	struct st_error e = {0};
	struct st_master m;
	memset(&m, 0, sizeof m);
	/* read as before, without st_master_open's master.pub-beside check:
	 * tests open backups with an old master after a rotation */
	if (!strncmp(master_key, "wrapped:", 8)) {
		/* the master wrapped by a PKCS#11 token's key, loaded the way
		 * sealtrace-export loads it (module and PIN file from
		 * SEALTRACE_PKCS11_MODULE and ST_TESTKIT_PIN_FILE) */
		struct st_master_src src = {
			.wrapped_file = master_key + 8,
			.pin_file = getenv("ST_TESTKIT_PIN_FILE"),
			.pkcs11 = true,
		};
		if (st_master_src_check(&src, false, &e) < 0 ||
		    st_master_open(&src, &m, &e) < 0) {
			fprintf(stderr, "st-testkit: %s\n", e.msg);
			return 1;
		}
	} else {
		m.sk = st_secret_new(32);
		if (!m.sk || st_key_read(master_key, ST_KEY_MASTER_SECRET, m.sk,
					 32, true, &e) < 0) {
			fprintf(stderr, "st-testkit: %s\n",
				m.sk ? e.msg : "no memory");
			st_master_close(&m);
			return 1;
		}
		crypto_scalarmult_base(m.pk, m.sk);
	}
	sqlite3 *db = NULL, *kdb = NULL;
	const char *bad_path = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		bad_path = db_path;
	else if (keys_path && sqlite3_open_v2(keys_path, &kdb,
					      SQLITE_OPEN_READONLY,
					      NULL) != SQLITE_OK)
		bad_path = keys_path;
	sqlite3_stmt *q = NULL, *kq = NULL;
	if (!bad_path &&
	    sqlite3_prepare_v2(db,
		"SELECT p.public_key, p.sealed_secret, d.public_key, s.header, "
		"s.ciphertext, s.seq, s.person_id FROM segments s JOIN devices "
		"d ON d.id = s.device_id JOIN people p ON p.id = s.person_id "
		"ORDER BY s.device_id, s.seq", -1, &q, NULL) != SQLITE_OK)
		bad_path = db_path;
	if (!bad_path && kdb &&
	    sqlite3_prepare_v2(kdb,
		"SELECT public_key, sealed_secret FROM people WHERE id = ?1",
		-1, &kq, NULL) != SQLITE_OK)
		bad_path = keys_path;
	if (bad_path) {
		fprintf(stderr, "st-testkit: %s: cannot open or read it as a "
			"server database\n", bad_path);
		sqlite3_finalize(q);
		sqlite3_close(db);
		sqlite3_close(kdb);
		st_master_close(&m);
		return 1;
	}
	uint8_t *psk = st_secret_new(32);
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct st_buf b;
		st_buf_init(&b, false);
		st_buf_put(&b, sqlite3_column_blob(q, 3), (size_t)sqlite3_column_bytes(q, 3));
		st_buf_put(&b, sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4));
		const uint8_t *dpk = sqlite3_column_blob(q, 2);
		char pid[33] = "?";
		if (sqlite3_column_bytes(q, 6) == 16)
			sodium_bin2hex(pid, sizeof pid,
				       sqlite3_column_blob(q, 6), 16);
		char name[96];
		snprintf(name, sizeof name, "stored segment %lld (person %s)",
			 (long long)sqlite3_column_int64(q, 5), pid);
		struct person_keys k;
		if (kq) {
			sqlite3_reset(kq);
			sqlite3_bind_blob(kq, 1, sqlite3_column_blob(q, 6),
					  sqlite3_column_bytes(q, 6),
					  SQLITE_TRANSIENT);
			memset(&k, 0, sizeof k);
			if (sqlite3_step(kq) == SQLITE_ROW)
				person_keys_of(kq, 0, 1, &k);
		} else {
			person_keys_of(q, 0, 1, &k);
		}
		struct st_error pe = {0};
		int rc = 0;
		if (!k.found)
			rc = st_fail(&pe, ST_E_NOT_FOUND, "the person is not in "
				     "%s", keys_path ? keys_path : db_path);
		else if (k.has_sealed && k.sealed_len != ST_MASTER_SEALED_LEN)
			rc = st_fail(&pe, ST_E_CORRUPT, "the sealed secret is "
				     "%d bytes, not %d", k.sealed_len,
				     ST_MASTER_SEALED_LEN);
		else
			rc = st_master_open_person(&m,
						   k.has_sealed ? k.sealed
								: NULL,
						   k.pk, psk, &pe);
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", name, pe.msg);
			t->bad++;
			if (rc == ST_E_ERASED)
				t->erased++;
		} else {
			do_bytes(name, &b, psk, k.pk, dpk, dump, t);
		}
		st_buf_fini(&b);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(kq);
	sqlite3_close(db);
	sqlite3_close(kdb);
	st_secret_free(psk);
	st_master_close(&m);
	return 0;
}

static void do_path(const char *path, const uint8_t *sk, const uint8_t *pk,
		    const uint8_t *dpk, bool dump, struct tot *t)
{
	DIR *d = opendir(path);
	if (!d) {
		do_file(path, sk, pk, dpk, dump, t);
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".seg")) {
			names = realloc(names, (n + 1) * sizeof *names);
			names[n] = malloc(strlen(path) + l + 2);
			sprintf(names[n++], "%s/%s", path, de->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp);
	for (size_t i = 0; i < n; i++) {
		do_file(names[i], sk, pk, dpk, dump, t);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	struct st_error e = {0};
	if (argc == 3 && !strcmp(argv[1], "keygen")) {
		uint8_t pk[32], *sk = st_secret_new(32);
		char p[4096];
		st_box_keypair(pk, sk);
		snprintf(p, sizeof p, "%s/person.key", argv[2]);
		if (st_key_write(p, ST_KEY_PERSON_SECRET, sk, 32, true, &e) < 0)
			goto fail;
		snprintf(p, sizeof p, "%s/person.pub", argv[2]);
		if (st_key_write(p, ST_KEY_PERSON_PUBLIC, pk, 32, false, &e) < 0)
			goto fail;
		st_secret_free(sk);
		return 0;
	}
	if ((argc == 5 || (argc == 7 && !strcmp(argv[5], "--keys"))) &&
	    !strcmp(argv[1], "store-open") &&
	    (!strcmp(argv[2], "dump") || !strcmp(argv[2], "summary"))) {
		struct tot t = {0};
		bool d = !strcmp(argv[2], "dump");
		if (store_open(argv[3], argv[4], argc == 7 ? argv[6] : NULL, d,
			       &t))
			return 1;
		if (!d)
			printf("segments: %zu segments\nevents: %zu events\n"
			       "sealed_bytes: %zu bytes\nunreadable: %zu segments\n"
			       "erased: %zu segments\n",
			       t.segments, t.events, t.bytes, t.bad, t.erased);
		return t.bad ? 1 : 0;
	}
	if (argc < 6 || (strcmp(argv[1], "dump") && strcmp(argv[1], "summary") &&
			 strcmp(argv[1], "bodies")))
		return usage();
	bool dump = !strcmp(argv[1], "dump");
	bodies_mode = !strcmp(argv[1], "bodies");
	uint8_t *sk = st_secret_new(32), pk[32], dpk[32];
	if (st_key_read(argv[2], ST_KEY_PERSON_SECRET, sk, 32, true, &e) < 0 ||
	    st_key_read(argv[3], ST_KEY_DEVICE_PUBLIC, dpk, 32, false, &e) < 0 ||
	    st_key_read(argv[4], ST_KEY_PERSON_PUBLIC, pk, 32, false, &e) < 0)
		goto fail;
	struct tot t = {0};
	for (int i = 5; i < argc; i++)
		do_path(argv[i], sk, pk, dpk, dump, &t);
	if (!dump && !bodies_mode) {
		printf("segments: %zu segments\nevents: %zu events\nsealed_bytes: %zu "
		       "bytes\nunreadable: %zu segments\n",
		       t.segments, t.events, t.bytes, t.bad);
		for (unsigned ty = 1; ty <= ST_EV_TYPE_MAX; ty++)
			if (t.by_type[ty])
				printf("events_%s: %zu events\n", st_event_type_name(ty),
				       t.by_type[ty]);
	}
	st_secret_free(sk);
	return t.bad ? 1 : 0;
fail:
	fprintf(stderr, "st-testkit: %s\n", e.msg);
	return 1;
}
