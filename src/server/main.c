/* main.c - the sealtrace program (server and administration): reads the
 * command line, calls src/core, prints and picks the exit code. Keeps no
 * logic of its own; today only the offline policy tools are built.
 *
 * Exit codes: 0 success; 1 the input was refused (a policy that fails its
 * check) or the work failed; 2 usage errors, unreadable files and commands
 * not built yet. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/policy.h"

static const char usage[] =
	"usage: sealtrace COMMAND [ARGS]\n"
	"\n"
	"Runs and administers a sealtrace server. Administration commands talk\n"
	"to the server's API with a token; the policy tools work offline.\n"
	"\n"
	"policy (offline, built):\n"
	"  policy check FILE   checks a collection policy: prints every problem\n"
	"                      as 'FILE: PATH: message' on stderr and exits 1,\n"
	"                      or prints 'FILE: ok (policy sha256 HEX)' and\n"
	"                      exits 0\n"
	"  policy notice FILE  prints the notice rendered from a policy that\n"
	"                      passes the check: exactly the bytes the agent\n"
	"                      shows and hashes\n"
	"  policy apply FILE   changes the server's policy (not built yet)\n"
	"\n"
	"not built yet (exit 2):\n"
	"  init, serve, user add|list, token create|list|revoke,\n"
	"  device list|revoke, enroll-token, pause, resume,\n"
	"  purpose propose|approve|list|revoke, erase,\n"
	"  audit list|verify|checkpoint, backup, status\n"
	"\n"
	"  -h, --help          this help (also after a command)\n"
	"\n"
	"exit status: 0 ok; 1 refused or failed; 2 usage error, unreadable\n"
	"file, or command not built yet. docs/policy.md describes policies.\n";

static const char policy_usage[] =
	"usage: sealtrace policy check FILE\n"
	"       sealtrace policy notice FILE\n"
	"       sealtrace policy apply FILE   (not built yet)\n"
	"\n"
	"check   reports every problem of the policy in FILE, one per line on\n"
	"        stderr as 'FILE: PATH: message'; exit 0 only when it passes\n"
	"notice  writes the notice for the policy in FILE to stdout, byte for\n"
	"        byte what the agent shows; refuses a policy that fails check\n"
	"\n"
	"The policy format and every check are in docs/policy.md.\n";

/* The commands of DESIGN.md's interface that this build does not have. */
static const char *const not_built[] = {
	"init", "serve", "user", "token", "device", "enroll-token", "pause",
	"resume", "purpose", "erase", "audit", "backup", "status", NULL,
};

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help");
}

/* Reads and checks FILE; prints every problem. Returns the exit code:
 * 0 passed (p holds the policy), 1 refused, 2 unreadable. */
static int load(const char *file, struct st_policy *p)
{
	struct st_buf b;
	struct st_error e = {0};
	static struct st_policy_diag diag; /* ~20 KB: not on the stack */
	st_buf_init(&b, false);
	st_policy_init(p);
	int rc = st_file_read(file, ST_POLICY_JSON_MAX, &b, &e);
	if (rc == ST_E_CAP) {
		fprintf(stderr, "%s: $: the policy is over the limit of %u bytes; "
			"a policy is a few kilobytes\n", file, ST_POLICY_JSON_MAX);
		st_buf_fini(&b);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "sealtrace policy: cannot read %s\n", e.msg);
		st_buf_fini(&b);
		return 2;
	}
	rc = st_policy_parse((const char *)b.p, b.len, p, &diag, &e);
	st_buf_fini(&b);
	if (rc == 0)
		return 0;
	if (!diag.n) /* out of memory or similar: no problem list */
		fprintf(stderr, "%s: %s\n", file, e.msg);
	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "%s: %s: %s\n", file, diag.item[i].path,
			diag.item[i].msg);
	if (diag.dropped)
		fprintf(stderr, "%s: and %zu more problems; fix these and check "
			"again\n", file, diag.dropped);
	fprintf(stderr, "%s: refused (%zu problem%s)\n", file,
		diag.n + diag.dropped, diag.n + diag.dropped == 1 ? "" : "s");
	return 1;
}

static int policy_check(const char *file)
{
	struct st_policy p;
	int rc = load(file, &p);
	if (rc == 0) {
		uint8_t h[32];
		char hex[65];
		if (st_policy_hash(&p, h) < 0) {
			fprintf(stderr, "%s: cannot hash the policy (out of "
				"memory)\n", file);
			rc = 1;
		} else {
			sodium_bin2hex(hex, sizeof hex, h, sizeof h);
			printf("%s: ok (policy sha256 %s)\n", file, hex);
		}
	}
	st_policy_fini(&p);
	return rc;
}

static int policy_notice(const char *file)
{
	struct st_policy p;
	struct st_buf out;
	struct st_error e = {0};
	int rc = load(file, &p);
	st_buf_init(&out, false);
	if (rc == 0 && st_policy_notice(&p, &out, &e) < 0) {
		fprintf(stderr, "%s: %s\n", file, e.msg);
		rc = 1;
	}
	if (rc == 0 && (fwrite(out.p, 1, out.len, stdout) != out.len ||
			fflush(stdout) != 0)) {
		fprintf(stderr, "sealtrace policy notice: cannot write the "
			"notice to stdout\n");
		rc = 1;
	}
	st_buf_fini(&out);
	st_policy_fini(&p);
	return rc;
}

static int cmd_policy(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (is_help(argv[i])) {
			fputs(policy_usage, stdout);
			return 0;
		}
	if (argc < 1) {
		fputs(policy_usage, stderr);
		return 2;
	}
	const char *sub = argv[0];
	bool known = !strcmp(sub, "check") || !strcmp(sub, "notice") ||
		     !strcmp(sub, "apply");
	if (!known) {
		fprintf(stderr, "sealtrace policy: unknown command '%s'; see "
			"'sealtrace policy --help'\n", sub);
		return 2;
	}
	if (argc != 2 || !argv[1][0]) {
		fprintf(stderr, "sealtrace policy %s: needs exactly one FILE; "
			"see 'sealtrace policy --help'\n", sub);
		return 2;
	}
	if (!strcmp(sub, "apply")) {
		fprintf(stderr, "sealtrace policy apply: not built yet; check the "
			"policy with 'sealtrace policy check %s'\n", argv[1]);
		return 2;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace: libsodium cannot initialise\n");
		return 1;
	}
	return !strcmp(sub, "check") ? policy_check(argv[1])
				     : policy_notice(argv[1]);
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
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc - 2, argv + 2);
	for (size_t i = 0; not_built[i]; i++)
		if (!strcmp(cmd, not_built[i])) {
			for (int j = 2; j < argc; j++)
				if (is_help(argv[j])) {
					printf("sealtrace %s: not built yet\n", cmd);
					return 0;
				}
			fprintf(stderr, "sealtrace %s: not built yet\n", cmd);
			return 2;
		}
	fprintf(stderr, "sealtrace: unknown command '%s'; see 'sealtrace "
		"--help'\n", cmd);
	return 2;
}
