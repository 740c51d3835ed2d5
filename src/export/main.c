/* main.c - the sealtrace-export program (the export host): reads the
 * command line, calls src/core and src/export, prints and picks the exit
 * code. Today: `keygen`, the master key pair whose secret half never leaves
 * this host.
 *
 * Exit codes: 0 success; 1 the work failed or was refused (a key already
 * there); 2 usage errors and commands not built yet. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/mem.h"

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
	"\n"
	"not built yet (exit 2):\n"
	"  dataset --purpose P --out DIR   see the export issue\n"
	"  rotate                          see the master-key rotation issue\n"
	"\n"
	"  -h, --help          this help (also after a command)\n"
	"\n"
	"exit status: 0 ok; 1 failed or refused; 2 usage error or command not\n"
	"built yet.\n";

static const char keygen_usage[] =
	"usage: sealtrace-export keygen --out DIR\n"
	"\n"
	"Makes the master X25519 key pair in DIR (made 0700 if missing; an\n"
	"existing DIR must be yours and closed to group and others):\n"
	"  DIR/master.key  the secret, mode 0600: keep it on the export host\n"
	"                  only; the server refuses to run near it\n"
	"  DIR/master.pub  the public half, for 'sealtrace init --master-public'\n"
	"Refuses to overwrite either file.\n";

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help");
}

static int keygen(int argc, char **argv)
{
	const char *dir = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc && argv[i + 1][0]) {
			dir = argv[++i];
		} else if (!strncmp(argv[i], "--out=", 6) && argv[i][6]) {
			dir = argv[i] + 6;
		} else {
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
	char key[OUT_PATH_MAX], pub[OUT_PATH_MAX];
	if (snprintf(key, sizeof key, "%s/master.key", dir) >= (int)sizeof key ||
	    snprintf(pub, sizeof pub, "%s/master.pub", dir) >= (int)sizeof pub) {
		fprintf(stderr, "sealtrace-export keygen: %s: path too long\n",
			dir);
		return 2;
	}
	struct st_error e = {0};
	if (st_dir_private(dir, &e) < 0) {
		fprintf(stderr, "sealtrace-export keygen: %s\n", e.msg);
		return 1;
	}
	/* Both checked first: a half-made pair is worse than none. */
	struct stat st;
	const char *exists = lstat(key, &st) == 0   ? key
			     : lstat(pub, &st) == 0 ? pub
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
	if (!strcmp(cmd, "keygen")) {
		if (help) {
			fputs(keygen_usage, stdout);
			return 0;
		}
		return keygen(argc - 2, argv + 2);
	}
	const char *issue = !strcmp(cmd, "dataset") ? "the export issue"
			    : !strcmp(cmd, "rotate")
				    ? "the master-key rotation issue"
				    : NULL;
	if (issue) {
		fprintf(help ? stdout : stderr, "sealtrace-export %s: not built "
			"yet: see %s\n", cmd, issue);
		return help ? 0 : 2;
	}
	fprintf(stderr, "sealtrace-export: unknown command '%s'; see "
		"'sealtrace-export --help'\n", cmd);
	return 2;
}
