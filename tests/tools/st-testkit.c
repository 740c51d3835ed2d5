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
		"       st-testkit store-open summary|dump MASTER_KEY DB\n"
		"           opens every segment of a copy of the server's\n"
		"           database with the master secret (export host)\n");
	return 2;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tot {
	size_t segments, events, bytes, bad;
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

/* What the export host can do with the master secret: unseal each
 * person's key from a copy of the server's database and open every stored
 * segment. A preview of export for tests and the main job; the real export
 * (purpose-gated, audited) is sealtrace-export. */
static int store_open(const char *master_key, const char *db_path, bool dump,
		      struct tot *t)
{
	struct st_error e = {0};
	uint8_t *msk = st_secret_new(32), mpk[32];
	if (st_key_read(master_key, ST_KEY_MASTER_SECRET, msk, 32, true, &e) < 0) {
		fprintf(stderr, "st-testkit: %s\n", e.msg);
		st_secret_free(msk);
		return 1;
	}
	crypto_scalarmult_base(mpk, msk);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "st-testkit: %s: cannot open\n", db_path);
		sqlite3_close(db);
		st_secret_free(msk);
		return 1;
	}
	sqlite3_stmt *q = NULL;
	sqlite3_prepare_v2(db,
		"SELECT p.public_key, p.sealed_secret, d.public_key, s.header, "
		"s.ciphertext, s.seq FROM segments s JOIN devices d ON "
		"d.id = s.device_id JOIN people p ON p.id = s.person_id "
		"ORDER BY s.device_id, s.seq", -1, &q, NULL);
	uint8_t *psk = st_secret_new(32);
	while (q && sqlite3_step(q) == SQLITE_ROW) {
		struct st_buf b;
		st_buf_init(&b, false);
		st_buf_put(&b, sqlite3_column_blob(q, 3), (size_t)sqlite3_column_bytes(q, 3));
		st_buf_put(&b, sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4));
		const uint8_t *ppk = sqlite3_column_blob(q, 0);
		const uint8_t *sealed = sqlite3_column_blob(q, 1);
		const uint8_t *dpk = sqlite3_column_blob(q, 2);
		char name[64];
		snprintf(name, sizeof name, "stored segment %lld",
			 (long long)sqlite3_column_int64(q, 5));
		if (!sealed || sqlite3_column_bytes(q, 1) != 80 ||
		    crypto_box_seal_open(psk, sealed, 80, mpk, msk) != 0) {
			fprintf(stderr, "%s: the person key does not open with "
				"this master key (erased?)\n", name);
			t->bad++;
		} else {
			do_bytes(name, &b, psk, ppk, dpk, dump, t);
		}
		st_buf_fini(&b);
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	st_secret_free(psk);
	st_secret_free(msk);
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
	if (argc == 5 && !strcmp(argv[1], "store-open")) {
		struct tot t = {0};
		bool d = !strcmp(argv[2], "dump");
		if (store_open(argv[3], argv[4], d, &t))
			return 1;
		if (!d)
			printf("segments: %zu segments\nevents: %zu events\n"
			       "sealed_bytes: %zu bytes\nunreadable: %zu segments\n",
			       t.segments, t.events, t.bytes, t.bad);
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
