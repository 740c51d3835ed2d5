/* main.c - the sealtrace-export program (the export host): reads the
 * command line, calls src/core and src/export, prints and picks the exit
 * code. Commands: `keygen` (the master key pair whose secret half never
 * leaves this host, in a 0600 file or wrapped by a PKCS#11 token),
 * `check-master` (loads it once, to prove the custody works) and `rotate`
 * (re-seals every person's secret to a new master) and `dataset` (an
 * export under an approved purpose).
 *
 * Exit codes: 0 success; 1 the work failed or was refused (a key already
 * there, a wrong PIN, the server's refusal); 2 usage errors.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/mem.h"
#include "export/dataset.h"
#include "export/master.h"
#include "export/rotate.h"

#define OUT_PATH_MAX 4096

static const char usage[] =
	"usage: sealtrace-export COMMAND [ARGS]\n"
	"\n"
	"The export host's program: it alone holds the master secret that\n"
	"opens what agents sealed.\n"
	"\n"
	"  keygen --out DIR    makes the master key pair: DIR/master.key (the\n"
	"                      secret, 0600: it stays on this host) and\n"
	"                      DIR/master.pub (give it to 'sealtrace init\n"
	"                      --master-public'); DIR is made 0700 if missing;\n"
	"                      existing keys are never overwritten\n"
	"  keygen --out DIR --pkcs11 --pkcs11-module M --pkcs11-token T\n"
	"         --pin-file F  the same, but the secret is wrapped by an AES\n"
	"                      key inside the PKCS#11 token: DIR/master.wrapped\n"
	"                      instead of master.key\n"
	"  check-master --master FILE | --master-wrapped FILE ...\n"
	"                      loads the master secret once and checks it\n"
	"                      against its public key\n"
	"  rotate --new-public FILE --master ... | --master-wrapped ...\n"
	"                      re-seals every person's secret on the server to\n"
	"                      a new master public key; segments are untouched\n"
	"\n"
	"  dataset --purpose ID --out DIR [FILTERS] MASTER\n"
	"                      exports the recordings an approved purpose\n"
	"                      covers as training data (docs/dataset.md)\n"
	"\n"
	"  -h, --help          this help (also after a command)\n"
	"\n"
	"exit status: 0 ok; 1 failed or refused; 2 usage error.\n";

static const char keygen_usage[] =
	"usage: sealtrace-export keygen --out DIR\n"
	"       sealtrace-export keygen --out DIR --pkcs11\n"
	"           --pkcs11-module PATH --pkcs11-token LABEL --pin-file FILE\n"
	"           [--pkcs11-key LABEL]\n"
	"\n"
	"Makes the master X25519 key pair in DIR (made 0700 if missing; an\n"
	"existing DIR must be yours and closed to group and others):\n"
	"  DIR/master.key  the secret, mode 0600: keep it on the export host\n"
	"                  only; the server refuses to run near it\n"
	"  DIR/master.pub  the public half, for 'sealtrace init --master-public'\n"
	"\n"
	"With a PKCS#11 token (--pkcs11, or any --pkcs11-* flag), the secret\n"
	"never touches the disk: an AES-256 key inside the token (made there,\n"
	"sensitive and not extractable, or reused when one of that label\n"
	"exists) encrypts it with AES-GCM, and DIR/master.wrapped (0600) holds\n"
	"only that ciphertext, the token's and the key's labels and the public\n"
	"key. Opening it needs the same token and its PIN. Before it reports\n"
	"success, keygen opens the new wrapped file through the token once.\n"
	"  --pkcs11-module PATH  the token's PKCS#11 module (or\n"
	"                        $SEALTRACE_PKCS11_MODULE); SoftHSM2's is\n"
	"                        /usr/lib/softhsm/libsofthsm2.so\n"
	"  --pkcs11-token LABEL  the token's label\n"
	"  --pin-file FILE       the user PIN, in a 0600 file (or\n"
	"                        $SEALTRACE_PKCS11_PIN)\n"
	"  --pkcs11-key LABEL    the AES key's label (default "
	ST_MASTER_KEY_LABEL_DEFAULT ")\n"
	"\n"
	"Refuses to overwrite any master.key, master.wrapped or master.pub.\n";

static const char check_usage[] =
	"usage: sealtrace-export check-master --master FILE\n"
	"       sealtrace-export check-master --master-wrapped FILE\n"
	"           [--pkcs11-module PATH] [--pkcs11-token LABEL] [--pin-file FILE]\n"
	"\n"
	"Loads the master secret as every export command does, checks it\n"
	"against its public key (and the .pub file beside it), prints the\n"
	"public key, and wipes the secret. Use it after keygen, after a PIN\n"
	"change, and on a new master before rotating onto it.\n"
	"\n" ST_MASTER_FLAGS_HELP;

static const char rotate_usage[] =
	"usage: sealtrace-export rotate --new-public FILE [--url URL]\n"
	"           [--token TOKEN] [--ca FILE] MASTER\n"
	"\n"
	"Moves every person's secret from the current master to a new one:\n"
	"lists the people through the server's API, opens each sealed secret\n"
	"with the current master (which must be the server's), checks it is\n"
	"the secret of that person's public key, seals it to the new master\n"
	"public key and sends them all in one request; the server replaces\n"
	"them and its master public key together, or nothing. Segments are\n"
	"not touched: they stay sealed to the person keys. Erased people are\n"
	"not listed and stay erased. The current master secret is loaded\n"
	"once, in locked memory, and wiped before the request is sent.\n"
	"\n"
	"  --new-public FILE  the new master's master.pub (from keygen; run\n"
	"                     'sealtrace-export check-master' on the new master\n"
	"                     first: people sealed to a key nobody holds are lost)\n"
	"  --url URL          the server (or $SEALTRACE_URL)\n"
	"  --token TOKEN      a privacy officer's token (or $SEALTRACE_TOKEN,\n"
	"                     better: a flag shows in the process list)\n"
	"  --ca FILE          the server's CA certificate, the only one trusted\n"
	"                     (or $SEALTRACE_CA; else the system's)\n"
	"\n"
	"MASTER: the current master secret,\n" ST_MASTER_FLAGS_HELP
	"\n"
	"Prints 'rotated N people to master <first 16 hex digits>'. Then give\n"
	"the new master.pub to whoever keeps the server's; keep the old master\n"
	"until the server's key backups older than the rotation are gone.\n";

static const char dataset_usage[] =
	"usage: sealtrace-export dataset --purpose ID --out DIR [--user NAME]...\n"
	"           [--group G]... [--since TIME] [--until TIME] [--app GLOB]...\n"
	"           [--idle-seconds N] [--progress|--no-progress]\n"
	"           [--url URL] [--token TOKEN] [--ca FILE] MASTER\n"
	"\n"
	"Exports, as training data, what purpose ID (approved by two privacy\n"
	"officers, unexpired, naming you as a steward) covers. The server checks\n"
	"the purpose and that the filters stay inside its scope, and writes the\n"
	"export and every person whose data it hands out into the audit log\n"
	"before anything leaves. Here: the master secret is loaded once for the\n"
	"people's keys and wiped; every segment is opened and verified again (one\n"
	"that fails is reported and never exported); the privacy filter runs\n"
	"again with the level capped at the purpose's; only the purpose's\n"
	"applications and fields are kept; events become steps with their\n"
	"pyautogui calls. DIR (new or empty; made 0700) receives manifest.json\n"
	"and episodes/*.jsonl (docs/dataset.md); the server records the export\n"
	"and the manifest's SHA-256, so that erasing a person lists it.\n"
	"\n"
	"  --purpose ID        the purpose's number ('sealtrace purpose list')\n"
	"  --out DIR           where the dataset goes\n"
	"  --user NAME, --group G, --since TIME, --until TIME, --app GLOB\n"
	"                      narrow the export; each must lie inside the\n"
	"                      purpose's scope (TIME: Unix seconds or YYYY-MM-DD)\n"
	"  --idle-seconds N    an episode ends after this quiet time (60)\n"
	"  --progress, --no-progress\n"
	"                      a progress bar on stderr (default: on a terminal)\n"
	"  --url URL --token TOKEN --ca FILE\n"
	"                      the server and a data steward's token (or\n"
	"                      $SEALTRACE_URL, $SEALTRACE_TOKEN, $SEALTRACE_CA)\n"
	"  --filter-data DIR   the detector lists (data/filter of the source)\n"
	"\n"
	"MASTER: the master secret,\n" ST_MASTER_FLAGS_HELP
	"\n"
	"Prints one summary line. Exit 0 exported (segments that failed\n"
	"verification are counted and named on stderr); 1 refused or failed;\n"
	"2 usage error.\n";

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help");
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]: the value, or NULL when argv[*i]
 * is another argument; *bad when the value is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt,
			     bool *bad)
{
	size_t l = strlen(opt);
	const char *a = argv[*i];
	if (strncmp(a, opt, l) || (a[l] && a[l] != '='))
		return NULL;
	const char *v = a[l] == '=' ? a + l + 1
			: *i + 1 < argc ? argv[++*i]
					: NULL;
	if (!v || !*v) {
		*bad = true;
		return NULL;
	}
	return v;
}

static int fail(const char *cmd, const struct st_error *e, int code)
{
	fprintf(stderr, "sealtrace-export %s: %s\n", cmd, e->msg);
	return code;
}

static int keygen_wrapped(const struct st_master_src *s,
			  const char *wrapped, const char *pub)
{
	struct st_error e = {0};
	uint8_t pk[ST_BOX_PK_LEN];
	bool made = false;
	if (st_master_keygen_wrapped(s, wrapped, pk, &made, &e) < 0)
		return fail("keygen", &e, 1);
	if (st_key_write(pub, ST_KEY_MASTER_PUBLIC, pk, sizeof pk, false, &e) < 0) {
		unlink(wrapped); /* made just now: no half pair left */
		return fail("keygen", &e, 1);
	}
	/* A wrapped file the token cannot open is worse than none: open it
	 * once, as every later command will. */
	struct st_master_src ls = *s;
	ls.wrapped_file = wrapped;
	ls.key_label = NULL;
	ls.pkcs11 = false;
	struct st_master m;
	int rc = st_master_open(&ls, &m, &e);
	if (rc == 0 && sodium_memcmp(m.pk, pk, sizeof pk))
		rc = st_fail(&e, ST_E_NOT_FOR_KEY, "%s does not open to the key "
			     "pair just made", wrapped);
	st_master_close(&m);
	if (rc < 0) {
		unlink(wrapped);
		unlink(pub);
		fprintf(stderr, "sealtrace-export keygen: the token cannot open "
			"what it wrapped, so nothing was kept: %s\n", e.msg);
		return 1;
	}
	char hex[2 * ST_BOX_PK_LEN + 1];
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	const char *label = s->key_label ? s->key_label
					 : ST_MASTER_KEY_LABEL_DEFAULT;
	printf("%s: master secret wrapped by AES key '%s' (%s) in token '%s' "
	       "(0600; the plain secret was never written)\n"
	       "%s: master public key %.16s...: give it to 'sealtrace init "
	       "--master-public'\n",
	       wrapped, label, made ? "made now" : "already there", s->token,
	       pub, hex);
	return 0;
}

static int keygen(int argc, char **argv)
{
	const char *dir = NULL;
	struct st_master_src s = {0};
	struct st_error e = {0};
	for (int i = 0; i < argc; i++) {
		bool bad = false;
		const char *v = opt_value(argc, argv, &i, "--out", &bad);
		int r = 0;
		if (v && !dir) {
			dir = v;
		} else if (bad || v) {
			fprintf(stderr, "sealtrace-export keygen: --out needs one "
				"folder\n");
			return 2;
		} else if ((r = st_master_src_flag(&s, argc, argv, &i, &e)) < 0) {
			return fail("keygen", &e, 2);
		} else if (r == 0) {
			fprintf(stderr, "sealtrace-export keygen: unexpected "
				"'%s'; see 'sealtrace-export keygen --help'\n",
				argv[i]);
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "sealtrace-export keygen: needs --out DIR\n");
		return 2;
	}
	if (st_master_src_check(&s, true, &e) < 0)
		return fail("keygen", &e, 2);
	char key[OUT_PATH_MAX], pub[OUT_PATH_MAX], wrapped[OUT_PATH_MAX];
	if (snprintf(key, sizeof key, "%s/master.key", dir) >= (int)sizeof key ||
	    snprintf(pub, sizeof pub, "%s/master.pub", dir) >= (int)sizeof pub ||
	    snprintf(wrapped, sizeof wrapped, "%s/master.wrapped", dir) >=
		    (int)sizeof wrapped) {
		fprintf(stderr, "sealtrace-export keygen: %s: path too long\n",
			dir);
		return 2;
	}
	if (st_dir_private(dir, &e) < 0) {
		fprintf(stderr, "sealtrace-export keygen: %s\n", e.msg);
		return 1;
	}
	/* All checked first: a half-made pair is worse than none, and two
	 * masters in one folder would be mistaken for a pair. */
	struct stat st;
	const char *exists = lstat(key, &st) == 0	  ? key
			     : lstat(wrapped, &st) == 0 ? wrapped
			     : lstat(pub, &st) == 0	  ? pub
							  : NULL;
	if (exists) {
		fprintf(stderr, "sealtrace-export keygen: %s exists; a master "
			"key is never overwritten (everything sealed to it "
			"would be lost): choose another --out folder\n", exists);
		return 1;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace-export: libsodium cannot "
			"initialise\n");
		return 1;
	}
	if (s.pkcs11)
		return keygen_wrapped(&s, wrapped, pub);
	uint8_t pk[ST_BOX_PK_LEN];
	uint8_t *sk = st_secret_new(ST_BOX_SK_LEN);
	if (!sk) {
		fprintf(stderr, "sealtrace-export keygen: out of locked "
			"memory\n");
		return 1;
	}
	int rc = st_box_keypair(pk, sk);
	if (rc == 0)
		rc = st_key_write(key, ST_KEY_MASTER_SECRET, sk, ST_BOX_SK_LEN,
				  true, &e);
	else
		st_fail(&e, rc, "cannot make a key pair");
	st_secret_free(sk);
	if (rc == 0) {
		rc = st_key_write(pub, ST_KEY_MASTER_PUBLIC, pk, sizeof pk,
				  false, &e);
		if (rc < 0)
			unlink(key); /* made just now: no half pair left */
	}
	if (rc < 0) {
		fprintf(stderr, "sealtrace-export keygen: %s\n", e.msg);
		return 1;
	}
	printf("%s: master secret (0600): keep it on this export host only\n"
	       "%s: master public key: give it to 'sealtrace init "
	       "--master-public'\n", key, pub);
	return 0;
}

static int check_master(int argc, char **argv)
{
	struct st_master_src s = {0};
	struct st_error e = {0};
	for (int i = 0; i < argc; i++) {
		int r = st_master_src_flag(&s, argc, argv, &i, &e);
		if (r < 0)
			return fail("check-master", &e, 2);
		if (r == 0) {
			fprintf(stderr, "sealtrace-export check-master: "
				"unexpected '%s'; see 'sealtrace-export "
				"check-master --help'\n", argv[i]);
			return 2;
		}
	}
	if (st_master_src_check(&s, false, &e) < 0)
		return fail("check-master", &e, 2);
	struct st_master m;
	if (st_master_open(&s, &m, &e) < 0)
		return fail("check-master", &e, 1);
	char hex[2 * ST_BOX_PK_LEN + 1];
	sodium_bin2hex(hex, sizeof hex, m.pk, sizeof m.pk);
	printf("master public key %s: the secret from %s opens and matches "
	       "it; wiped\n", hex, m.what);
	st_master_close(&m);
	return 0;
}

static int rotate(int argc, char **argv)
{
	struct st_master_src s = {0};
	struct st_rotate_target t = {0};
	const char *new_public = NULL;
	struct st_error e = {0};
	for (int i = 0; i < argc; i++) {
		static const char *const opts[] = {"--url", "--token", "--ca",
						   "--new-public"};
		const char **dst[] = {&t.url, &t.token, &t.ca, &new_public};
		bool taken = false, bad = false;
		for (size_t k = 0; k < 4 && !taken && !bad; k++) {
			const char *v = opt_value(argc, argv, &i, opts[k], &bad);
			if (bad || (v && *dst[k])) {
				fprintf(stderr, "sealtrace-export rotate: %s "
					"needs one value\n", opts[k]);
				return 2;
			}
			if (v) {
				*dst[k] = v;
				taken = true;
			}
		}
		if (taken)
			continue;
		int r = st_master_src_flag(&s, argc, argv, &i, &e);
		if (r < 0)
			return fail("rotate", &e, 2);
		if (r == 0) {
			fprintf(stderr, "sealtrace-export rotate: unexpected "
				"'%s'; see 'sealtrace-export rotate --help'\n",
				argv[i]);
			return 2;
		}
	}
	if (!new_public) {
		fprintf(stderr, "sealtrace-export rotate: needs --new-public "
			"FILE (the new master's master.pub)\n");
		return 2;
	}
	if (st_master_src_check(&s, false, &e) < 0 ||
	    st_rotate_target_resolve(&t, &e) < 0)
		return fail("rotate", &e, 2);
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace-export: libsodium cannot "
			"initialise\n");
		return 1;
	}
	uint8_t npk[ST_BOX_PK_LEN];
	if (st_key_read(new_public, ST_KEY_MASTER_PUBLIC, npk, sizeof npk, false,
			&e) < 0)
		return fail("rotate", &e, 1);
	size_t n = 0;
	if (st_rotate_run(&t, &s, npk, &n, &e) < 0)
		return fail("rotate", &e, 1);
	char hex[2 * ST_BOX_PK_LEN + 1];
	sodium_bin2hex(hex, sizeof hex, npk, sizeof npk);
	printf("rotated %zu people to master %.16s\n", n, hex);
	return 0;
}

static int dataset(int argc, char **argv)
{
	struct st_dataset_opts o;
	memset(&o, 0, sizeof o);
	o.since = o.until = -1;
	o.progress = -1;
	struct st_error e = {0};
	const char *purpose = NULL, *idle = NULL, *since = NULL, *until = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--progress") ||
		    !strcmp(argv[i], "--no-progress")) {
			o.progress = argv[i][2] == 'p';
			continue;
		}
		static const char *const one[] = {
			"--purpose", "--out", "--since", "--until",
			"--idle-seconds", "--url", "--token", "--ca",
			"--filter-data"};
		const char **dst[] = {&purpose, &o.out_dir, &since, &until,
				      &idle, &o.url, &o.token, &o.ca,
				      &o.filter_data};
		static const char *const many[] = {"--user", "--group",
						   "--app"};
		const char **mdst[] = {o.users, o.groups, o.apps};
		size_t *mn[] = {&o.n_users, &o.n_groups, &o.n_apps};
		bool taken = false, bad = false;
		for (size_t k = 0; k < 9 && !taken && !bad; k++) {
			const char *v = opt_value(argc, argv, &i, one[k], &bad);
			if (bad || (v && *dst[k])) {
				fprintf(stderr, "sealtrace-export dataset: %s "
					"needs one value\n", one[k]);
				return 2;
			}
			if (v) {
				*dst[k] = v;
				taken = true;
			}
		}
		for (size_t k = 0; k < 3 && !taken && !bad; k++) {
			const char *v = opt_value(argc, argv, &i, many[k], &bad);
			if (bad || (v && *mn[k] == ST_DATASET_FILTERS_MAX)) {
				fprintf(stderr, "sealtrace-export dataset: %s "
					"needs a value (at most %d)\n",
					many[k], ST_DATASET_FILTERS_MAX);
				return 2;
			}
			if (v) {
				mdst[k][(*mn[k])++] = v;
				taken = true;
			}
		}
		if (taken)
			continue;
		int r = st_master_src_flag(&o.master, argc, argv, &i, &e);
		if (r < 0)
			return fail("dataset", &e, 2);
		if (r == 0) {
			fprintf(stderr, "sealtrace-export dataset: unexpected "
				"'%s'; see 'sealtrace-export dataset --help'\n",
				argv[i]);
			return 2;
		}
	}
	char *end = NULL;
	o.purpose = purpose ? strtoll(purpose, &end, 10) : 0;
	if (!purpose || *end || o.purpose < 1 || !o.out_dir) {
		fprintf(stderr, "sealtrace-export dataset: needs --purpose ID "
			"(a number) and --out DIR; see --help\n");
		return 2;
	}
	if ((since && (o.since = st_time_parse(since)) < 0) ||
	    (until && (o.until = st_time_parse(until)) < 0)) {
		fprintf(stderr, "sealtrace-export dataset: --since/--until: "
			"Unix seconds or YYYY-MM-DD\n");
		return 2;
	}
	if (idle) {
		long long v = atoll(idle);
		if (v < 1 || v > 86400) {
			fprintf(stderr, "sealtrace-export dataset: "
				"--idle-seconds: 1 to 86400\n");
			return 2;
		}
		o.idle_s = (uint32_t)v;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace-export: libsodium cannot "
			"initialise\n");
		return 1;
	}
	struct st_dataset_result res;
	int rc = st_dataset_run(&o, &res, &e);
	if (rc < 0)
		return fail("dataset", &e, rc == -EINVAL ? 2 : 1);
	char mh[65];
	sodium_bin2hex(mh, sizeof mh, res.manifest_sha256, 32);
	printf("export %s: %llu episodes, %llu steps from %llu segments of "
	       "%llu people (%llu failed verification) in %s; manifest "
	       "sha256 %.16s\n",
	       res.export_id, (unsigned long long)res.episodes,
	       (unsigned long long)res.steps,
	       (unsigned long long)res.segments,
	       (unsigned long long)res.people,
	       (unsigned long long)res.failed, o.out_dir, mh);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (is_help(cmd)) {
		fputs(usage, stdout);
		return 0;
	}
	bool help = false;
	for (int i = 2; i < argc; i++)
		help |= is_help(argv[i]);
	static const struct {
		const char *name;
		const char *help;
		int (*run)(int, char **);
	} cmds[] = {
		{"keygen", keygen_usage, keygen},
		{"check-master", check_usage, check_master},
		{"rotate", rotate_usage, rotate},
		{"dataset", dataset_usage, dataset},
	};
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
		if (strcmp(cmd, cmds[k].name))
			continue;
		if (help) {
			fputs(cmds[k].help, stdout);
			return 0;
		}
		return cmds[k].run(argc - 2, argv + 2);
	}
	fprintf(stderr, "sealtrace-export: unknown command '%s'; see "
		"'sealtrace-export --help'\n", cmd);
	return 2;
}
