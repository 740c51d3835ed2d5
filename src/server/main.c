/* main.c - the sealtrace program (server and administration): reads the
 * command line, calls src/server and src/core, prints and picks the exit
 * code. Keeps no logic of its own.
 *
 * Exit codes: 0 success; 1 the input was refused or the work failed (a
 * policy that fails its check, a folder init will not use, a server
 * refusal); 2 usage errors, unreadable files and commands not built yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/policy.h"
#include "core/token.h"
#include "access/roles.h"
#include "server/admin.h"
#include "server/api.h"
#include "server/config.h"
#include "server/init.h"
#include "server/serve.h"
#include "server/tls.h"

/* st_admin_run's code for a usage error (server/admin.c). */
#define ADMIN_E_USAGE (-EINVAL)
#define DATA_DIR_DEFAULT "/var/lib/sealtrace"
#define TIMEOUT_MAX_S 3600

static const char usage[] =
	"usage: sealtrace [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Runs and administers a sealtrace server. Administration commands talk\n"
	"to the server's API with an admin token; none opens the database.\n"
	"\n"
	"server (on the server host):\n"
	"  init DIR --policy FILE --master-public FILE [...]\n"
	"                      makes a data folder and prints the first admin\n"
	"                      token, once\n"
	"  serve [--data DIR] [--listen ADDR:PORT] [--plain-http] [--url-file F]\n"
	"                      runs the server until SIGTERM or SIGINT\n"
	"\n"
	"administration (through the API):\n"
	"  user add NAME [--group G]     adds a person (an e-mail address)\n"
	"  user list                     lists people\n"
	"  device list                   lists devices, their uploads and backlog\n"
	"  device revoke ID              refuses a device's uploads from now on\n"
	"  enroll-token --user NAME [--ttl 24h]\n"
	"                                prints a single-use enrollment token\n"
	"  policy apply FILE             makes FILE the server's policy\n"
	"  backup --out FILE             writes a copy of the database (0600)\n"
	"  pause (--all|--group G|--user NAME|--device ID) --reason TEXT\n"
	"        [--wait [--timeout 10s]] [--discard-unsent]\n"
	"                                stops recording in that scope: connected\n"
	"                                agents within a second, the rest when\n"
	"                                their lease runs out\n"
	"  resume (--all|--group G|--user NAME|--device ID) [--reason TEXT]\n"
	"                                ends the pauses of exactly that scope\n"
	"  status                        the server's counts, policy and pauses\n"
	"\n"
	"policy (offline):\n"
	"  policy check FILE   checks a collection policy: prints every problem\n"
	"                      as 'FILE: PATH: message' on stderr and exits 1,\n"
	"                      or prints 'FILE: ok (policy sha256 HEX)' and\n"
	"                      exits 0\n"
	"  policy notice FILE  prints the notice rendered from a policy that\n"
	"                      passes the check: exactly the bytes the agent\n"
	"                      shows and hashes\n"
	"\n"
	"least privilege (through the API; roles in docs/security.md):\n"
	"  token create --person NAME --role ROLE [--name N] [--expires-days D]\n"
	"  token list | token revoke NAME | token approve REQUEST\n"
	"                                API tokens bound to a person and a role;\n"
	"                                officer and steward need an officer\n"
	"  purpose propose ... | purpose approve ID | purpose list |\n"
	"  purpose revoke ID             purposes: two officers approve\n"
	"  erase --user NAME             destroys a person's key, revokes their\n"
	"                                devices, deletes their segments\n"
	"  audit list [--user NAME] [--since TIME]\n"
	"  audit checkpoint --out FILE   a signed checkpoint to keep off the host\n"
	"  audit verify [--checkpoint FILE]... [--audit-key FILE]\n"
	"                                checks the log here, outside the server\n"
	"  access [--user NAME]          who accessed a person's data, with proofs\n"
	"  retention sweep               deletes segments past retention now\n"
	"\n"
	"global options (administration commands; also accepted after the\n"
	"command):\n"
	"  --url URL           the server, https://HOST:PORT (else SEALTRACE_URL,\n"
	"                      else \"url\" in the config file)\n"
	"  --token TOKEN       admin token (else SEALTRACE_TOKEN, else \"token\"\n"
	"                      in the config file); other users can see command\n"
	"                      lines: prefer the variable or the file\n"
	"  --ca FILE           the server's CA certificate, PEM (else\n"
	"                      SEALTRACE_CA, else \"ca\" in the config file, else\n"
	"                      the system's CAs)\n"
	"  --config FILE       config file {\"url\", \"token\", \"ca\"}, mode 0600\n"
	"                      (else SEALTRACE_CONFIG, else\n"
	"                      $XDG_CONFIG_HOME/sealtrace/admin.json or\n"
	"                      ~/.config/sealtrace/admin.json); refused when group\n"
	"                      or others may read it\n"
	"  --json              print the server's JSON answer instead of a table\n"
	"  --timeout DURATION  whole request limit (30s by default; 90, 90s, 5m)\n"
	"  -h, --help          this help (also after a command)\n"
	"\n"
	"exit status: 0 ok; 1 refused or failed; 2 usage error or unreadable\n"
	"file. docs/api.md describes the API,\n"
	"docs/policy.md policies.\n";

static const char init_usage[] =
	"usage: sealtrace init DIR --policy FILE --master-public FILE\n"
	"                      --officer NAME --officer NAME [--officer NAME]...\n"
	"                      [--listen ADDR:PORT] [--host NAME]...\n"
	"                      [--tls-cert FILE --tls-key FILE --tls-ca FILE]\n"
	"\n"
	"Makes a new data folder DIR (0700; it may exist if empty, and one that\n"
	"holds anything, a store above all, is refused) with:\n"
	"  config.json         settings (0600), listen address included\n"
	"  sealtrace.db        the store, with FILE's policy (checked, made\n"
	"                      canonical, its notice rendered) as the current one\n"
	"  tls/                a new CA (ca.pem, ca.key) and a server certificate\n"
	"                      (server.pem, server.key) for localhost, 127.0.0.1,\n"
	"                      ::1, the --listen address and every --host; keys\n"
	"                      0600\n"
	"  keys/               lease and audit signing keys (Ed25519; secrets 0600)\n"
	"  master.pub          a copy of --master-public\n"
	"  tmp/                (0700)\n"
	"and prints the first admin token and a token for each privacy officer,\n"
	"once: only their hashes are kept.\n"
	"\n"
	"  --policy FILE         the collection policy (see 'sealtrace policy\n"
	"                        check')\n"
	"  --master-public FILE  master.pub from 'sealtrace-export keygen'; the\n"
	"                        master SECRET is refused: it stays on the export\n"
	"                        host\n"
	"  --officer NAME        a first privacy officer (a person, e.g. an e-mail\n"
	"                        address); at least two, since approving a purpose\n"
	"                        takes two officers other than its proposer\n"
	"  --listen ADDR:PORT    where 'serve' listens (default "
	ST_CFG_LISTEN_DEFAULT ")\n"
	"  --host NAME           a DNS name or IP address agents use to reach the\n"
	"                        server; repeat for more\n"
	"  --tls-cert FILE --tls-key FILE --tls-ca FILE\n"
	"                        use your own certificate, key (0600) and the CA\n"
	"                        that signed it instead; all three or none\n"
	"\n"
	"On any failure init removes what it made. Exit 0 made; 1 refused or\n"
	"failed; 2 usage error.\n";

static const char serve_usage[] =
	"usage: sealtrace serve [--data DIR] [--listen ADDR:PORT] [--plain-http]\n"
	"                       [--url-file FILE]\n"
	"\n"
	"Runs the server on the data folder that 'sealtrace init' made, until\n"
	"SIGTERM or SIGINT; logs one line per request on stderr (never bodies or\n"
	"tokens). Refuses to start when a master secret is in the data folder or\n"
	"is configured.\n"
	"\n"
	"  --data DIR          the data folder (default $SEALTRACE_DATA, else\n"
	"                      " DATA_DIR_DEFAULT ")\n"
	"  --listen ADDR:PORT  overrides config.json's listen; port 0 takes any\n"
	"                      free port\n"
	"  --plain-http        HTTP without TLS: only on a loopback address\n"
	"  --url-file FILE     writes the base URL there once listening (how\n"
	"                      scripts learn the port with port 0)\n"
	"\n"
	"Exit 0 after a clean stop; 1 failed; 2 usage error.\n";

static const char user_usage[] =
	"usage: sealtrace user add NAME [--group G]\n"
	"       sealtrace user list\n"
	"\n"
	"add   adds a person (NAME: their e-mail address); the server makes\n"
	"      their key pair and keeps the secret half sealed to the master\n"
	"      key only\n"
	"list  lists people: name, group, id, when added, erased or not\n"
	"\n"
	"Global options (--url, --token, --ca, --config, --json, --timeout):\n"
	"see 'sealtrace --help'.\n";

static const char device_usage[] =
	"usage: sealtrace device list\n"
	"       sealtrace device revoke ID\n"
	"\n"
	"list    lists enrolled devices: person, local user, host, active or\n"
	"        revoked, last seen, segments stored, gaps and the backlog the\n"
	"        agent last reported\n"
	"revoke  refuses the device's uploads from now on (ID: 32 hex digits\n"
	"        from 'device list')\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char enroll_usage[] =
	"usage: sealtrace enroll-token --user NAME [--ttl DURATION]\n"
	"\n"
	"Prints a single-use enrollment token for NAME's device and nothing\n"
	"else (it is shown once; the server keeps only its hash). It carries\n"
	"the fingerprints of the server's CA and lease key, which the agent\n"
	"pins. --ttl: how long it stays valid, 1s to 30d (e.g. 90m, 24h, 7d;\n"
	"default: the server's, 24h).\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char backup_usage[] =
	"usage: sealtrace backup --out FILE\n"
	"\n"
	"Asks the server for a consistent copy of its database and writes it\n"
	"to FILE, a new file (an existing one is refused), mode 0600, written\n"
	"atomically. It holds the sealed person keys: keep it apart from data\n"
	"backups, with a short retention.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char status_usage[] =
	"usage: sealtrace status\n"
	"\n"
	"Prints the server's version, uptime, counts of people, devices and\n"
	"segments, flags, the current policy and notice hashes, the lease\n"
	"epoch and every pause in force: its scope, state, since when, by whom,\n"
	"agents confirmed / in scope, pending (connected, not yet confirmed),\n"
	"offline (and when they stop at the latest), and the reason.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char token_usage[] =
	"usage: sealtrace token create --person NAME --role ROLE [--name N]\n"
	"                              [--expires-days DAYS]\n"
	"       sealtrace token list\n"
	"       sealtrace token revoke NAME\n"
	"       sealtrace token approve REQUEST\n"
	"\n"
	"API tokens: random, shown once, stored hashed, bound to a person (who\n"
	"must exist: 'sealtrace user add') and a role: admin, officer (privacy\n"
	"officer), steward (data steward), auditor, person. They expire (90\n"
	"days unless --expires-days, at most 365).\n"
	"Nobody grants themselves a role. Granting officer or steward takes\n"
	"two people: 'create' makes a request, which a privacy officer other\n"
	"than the asker and the grantee approves with 'token approve'; that\n"
	"prints the token once, to hand over. 'create' of other roles prints\n"
	"the token alone on stdout (details on stderr). Every grant and\n"
	"revocation is audited.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char purpose_usage[] =
	"usage: sealtrace purpose propose --name P --description TEXT\n"
	"              --steward NAME [--steward NAME]... --level 1..3\n"
	"              --expires-days 1..90 (--user NAME | --group G)...\n"
	"              [--app GLOB]... [--from TIME] [--until TIME]\n"
	"              [--field pointer|keys|text|titles|apps]...\n"
	"       sealtrace purpose propose --file PROPOSAL.json\n"
	"       sealtrace purpose approve ID | revoke ID | list\n"
	"\n"
	"A purpose lets the named data stewards (people, never a group, a role\n"
	"or everyone) export the named people's or groups' recordings, up to a\n"
	"level, for at most 90 days. P must be a purpose the policy lists and\n"
	"the people accepted; each steward must be a reader the policy lets be\n"
	"named for P. A steward proposes; two privacy officers approve, neither\n"
	"the proposer nor a steward on it (people are compared, not tokens).\n"
	"Expired or revoked purposes are unusable. TIME: Unix seconds or\n"
	"YYYY-MM-DD. The JSON form is in docs/security.md.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char erase_usage[] =
	"usage: sealtrace erase --user NAME\n"
	"\n"
	"Erases a person (a privacy officer's act): destroys their sealed key\n"
	"first (secure_delete on, the write-ahead log checkpointed), so no copy\n"
	"of the master key opens their data any more; revokes their devices\n"
	"and tokens; deletes their segments and pseudonym; leaves a tombstone;\n"
	"lists the exports that held their data; and says by when no key\n"
	"backup older than the erasure remains. Audited.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char audit_usage[] =
	"usage: sealtrace audit list [--user NAME] [--since TIME]\n"
	"       sealtrace audit checkpoint --out FILE\n"
	"       sealtrace audit verify [--checkpoint FILE]... [--audit-key FILE]\n"
	"\n"
	"The audit log: append-only, each entry (who as a pseudonym, role,\n"
	"action, object, purpose, time, result) chained by hash to the one\n"
	"before, under a Merkle tree (RFC 6962) with checkpoints signed by the\n"
	"server's audit key. 'checkpoint' writes the newest one to FILE: keep\n"
	"it off this host. 'verify' downloads every entry and checks, here, the\n"
	"chain and the tree root at each saved checkpoint and at the server's\n"
	"newest, and the server's consistency proofs; it names the first bad\n"
	"entry and exits 1 on any damage. --audit-key: the audit public key\n"
	"(keys/audit.pub of the data folder) kept apart, rather than the key\n"
	"the server reports. For officers and auditors.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char access_usage[] =
	"usage: sealtrace access [--user NAME]\n"
	"\n"
	"Who accessed a person's data, when, in which role and under which\n"
	"purpose; each entry's inclusion proof is checked against the signed\n"
	"checkpoint that comes with the answer. A person's token reads its own\n"
	"history (no --user); officers and auditors name the person.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char retention_usage[] =
	"usage: sealtrace retention sweep\n"
	"\n"
	"Deletes now the segments that ended more than the policy's\n"
	"retention_days ago (the server also does it at start and every\n"
	"retention_sweep_s). Audited.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char pause_usage[] =
	"usage: sealtrace pause (--all | --group G | --user NAME | --device ID)\n"
	"                       --reason TEXT [--discard-unsent]\n"
	"                       [--wait [--timeout DURATION]]\n"
	"\n"
	"Pauses recording on every device in the scope: the devices of every\n"
	"person (--all), of a group's people, of one person (their e-mail\n"
	"address), or one device (ID from 'sealtrace device list'). Connected\n"
	"agents get a signed pause lease within a second and stop; an agent\n"
	"the server cannot reach stops by itself when its lease runs out; data\n"
	"recorded under an older lease and sent later is refused. Recorded\n"
	"with the token's name and the reason, which agents show. While a\n"
	"pause of --all is in force, enrollment is refused.\n"
	"\n"
	"  --reason TEXT      why, 1 to 200 bytes (required)\n"
	"  --discard-unsent   agents delete what they recorded and have not\n"
	"                     sent yet\n"
	"  --wait             return when every connected agent in scope has\n"
	"                     confirmed (printing how long it took); after\n"
	"                     --timeout (10s by default) list those that have\n"
	"                     not, and when the offline ones stop at the latest,\n"
	"                     and exit 1\n"
	"\n"
	"Exit 0 paused (and, with --wait, every connected agent confirmed); 1\n"
	"refused, failed or not confirmed in time; 2 usage error. Global\n"
	"options: see 'sealtrace --help'.\n";

static const char resume_usage[] =
	"usage: sealtrace resume (--all | --group G | --user NAME | --device ID)\n"
	"                        [--reason TEXT]\n"
	"\n"
	"Ends every pause in force of exactly that scope (resuming a group does\n"
	"not end a pause of one of its people); agents record again once they\n"
	"hold the new lease. Recorded with the token's name and the reason.\n"
	"Exit 1 when no pause of that scope is in force.\n"
	"\n"
	"Global options: see 'sealtrace --help'.\n";

static const char policy_usage[] =
	"usage: sealtrace policy check FILE\n"
	"       sealtrace policy notice FILE\n"
	"       sealtrace policy apply FILE\n"
	"\n"
	"check   reports every problem of the policy in FILE, one per line on\n"
	"        stderr as 'FILE: PATH: message'; exit 0 only when it passes\n"
	"notice  writes the notice for the policy in FILE to stdout, byte for\n"
	"        byte what the agent shows; refuses a policy that fails check\n"
	"apply   checks FILE, then makes it the server's policy through the API\n"
	"        (global options: see 'sealtrace --help'); agents stop\n"
	"        recording until their person accepts the new notice\n"
	"\n"
	"check and notice work offline. The policy format and every check are\n"
	"in docs/policy.md.\n";


static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help");
}

static bool any_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (is_help(argv[i]))
			return true;
	return false;
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

static int cmd_policy_offline(int argc, char **argv)
{
	const char *sub = argv[0];
	if (argc != 2 || !argv[1][0]) {
		fprintf(stderr, "sealtrace policy %s: needs exactly one FILE; "
			"see 'sealtrace policy --help'\n", sub);
		return 2;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace: libsodium cannot initialise\n");
		return 1;
	}
	return !strcmp(sub, "check") ? policy_check(argv[1])
				     : policy_notice(argv[1]);
}

/* "90", "90s", "5m", "1h" -> seconds in 1..TIMEOUT_MAX_S; -1 otherwise. */
static long parse_timeout(const char *s)
{
	char *e = NULL;
	errno = 0;
	if (!s || !(*s >= '0' && *s <= '9'))
		return -1;
	long v = strtol(s, &e, 10);
	if (errno || v <= 0 || v > TIMEOUT_MAX_S)
		return -1;
	if (!strcmp(e, "m"))
		v *= 60;
	else if (!strcmp(e, "h"))
		v *= 3600;
	else if (*e && strcmp(e, "s"))
		return -1;
	return v > TIMEOUT_MAX_S ? -1 : v;
}

struct globals {
	struct st_admin_conn conn;
	int json;
};

/* Takes a global option at argv[*i] (advancing past its value): 1 taken,
 * 0 not a global option, -1 usage error (printed). */
static int take_global(int argc, char **argv, int *i, struct globals *g)
{
	static const char *const with_value[] = {"--url", "--token", "--ca",
						 "--config", "--timeout"};
	const char *a = argv[*i];
	if (!strcmp(a, "--json")) {
		g->json = 1;
		return 1;
	}
	for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
		size_t l = strlen(with_value[k]);
		const char *v;
		if (strncmp(a, with_value[k], l))
			continue;
		if (a[l] == '=') {
			v = a + l + 1;
		} else if (!a[l]) {
			if (*i + 1 >= argc) {
				fprintf(stderr, "sealtrace: %s needs a value; see "
					"'sealtrace --help'\n", a);
				return -1;
			}
			v = argv[++*i];
		} else {
			continue;
		}
		switch (k) {
		case 0: g->conn.url = v; break;
		case 1: g->conn.token = v; break;
		case 2: g->conn.ca = v; break;
		case 3: g->conn.config = v; break;
		default: {
			long s = parse_timeout(v);
			if (s < 0) {
				fprintf(stderr, "sealtrace: --timeout '%s': give "
					"a duration from 1s to 1h (e.g. 30, "
					"90s, 5m)\n", v);
				return -1;
			}
			g->conn.timeout_ms = s * 1000;
		}
		}
		return 1;
	}
	return 0;
}

/* An administration command: global options may follow the command too. */
static int cmd_admin(struct globals *g, int argc, char **argv)
{
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (!args) {
		fprintf(stderr, "sealtrace: out of memory\n");
		return 1;
	}
	int n = 0;
	for (int i = 0; i < argc; i++) {
		int t = take_global(argc, argv, &i, g);
		if (t < 0) {
			free(args);
			return 2;
		}
		if (t == 0)
			args[n++] = argv[i];
	}
	struct st_error e = {0};
	int rc = st_admin_run(&g->conn, n, args, g->json, stdout, &e);
	if (rc < 0)
		fprintf(stderr, "sealtrace %s: %s\n", argv[0],
			e.msg[0] ? e.msg : st_strerror(rc));
	free(args);
	return rc == 0 ? 0 : rc == ADMIN_E_USAGE ? 2 : 1;
}

static int cmd_init(int argc, char **argv)
{
	struct st_init_opts o = {0};
	const char *hosts[ST_TLS_HOSTS_MAX];
	const char *officers[ST_INIT_OFFICERS_MAX];
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		static const char *const opts[] = {
			"--policy", "--master-public", "--listen", "--host",
			"--tls-cert", "--tls-key", "--tls-ca", "--officer"};
		size_t k = 0;
		for (; k < sizeof opts / sizeof opts[0]; k++)
			if (!strcmp(a, opts[k]))
				break;
		if (k == sizeof opts / sizeof opts[0]) {
			if (a[0] == '-') {
				fprintf(stderr, "sealtrace init: unknown option "
					"'%s'; see 'sealtrace init --help'\n", a);
				return 2;
			}
			if (o.dir) {
				fprintf(stderr, "sealtrace init: one DIR only, "
					"not also '%s'\n", a);
				return 2;
			}
			o.dir = a;
			continue;
		}
		if (i + 1 >= argc || !argv[i + 1][0]) {
			fprintf(stderr, "sealtrace init: %s needs a value; see "
				"'sealtrace init --help'\n", a);
			return 2;
		}
		const char *v = argv[++i];
		switch (k) {
		case 0: o.policy_file = v; break;
		case 1: o.master_public = v; break;
		case 2: o.listen = v; break;
		case 3:
			if (o.n_hosts == ST_TLS_HOSTS_MAX) {
				fprintf(stderr, "sealtrace init: at most %d "
					"--host names\n", ST_TLS_HOSTS_MAX);
				return 2;
			}
			hosts[o.n_hosts++] = v;
			break;
		case 4: o.tls_cert = v; break;
		case 5: o.tls_key = v; break;
		case 6: o.tls_ca = v; break;
		default:
			if (o.n_officers == ST_INIT_OFFICERS_MAX) {
				fprintf(stderr, "sealtrace init: at most %d "
					"--officer names\n",
					ST_INIT_OFFICERS_MAX);
				return 2;
			}
			officers[o.n_officers++] = v;
			break;
		}
	}
	o.hosts = hosts;
	o.officers = officers;
	if (!o.dir || !o.policy_file || !o.master_public ||
	    o.n_officers < ST_INIT_OFFICERS_MIN) {
		fprintf(stderr, "sealtrace init: needs DIR, --policy FILE, "
			"--master-public FILE and at least two --officer NAME; "
			"see 'sealtrace init --help'\n");
		return 2;
	}
	if ((o.tls_cert || o.tls_key || o.tls_ca) &&
	    !(o.tls_cert && o.tls_key && o.tls_ca)) {
		fprintf(stderr, "sealtrace init: give all three of --tls-cert, "
			"--tls-key and --tls-ca, or none\n");
		return 2;
	}
	char token[ST_TOKEN_TEXT_MAX];
	struct st_init_tokens *ot =
		st_crypto_init() == 0 ? sodium_malloc(sizeof *ot) : NULL;
	if (!ot) {
		fprintf(stderr, "sealtrace init: out of memory\n");
		return 1;
	}
	struct st_error e = {0};
	int rc = st_server_init(&o, token, ot, &e);
	if (rc < 0) {
		sodium_free(ot);
		fprintf(stderr, "sealtrace init: %s\n",
			e.msg[0] ? e.msg : st_strerror(rc));
		return rc == ST_E_INVAL ? 2 : 1;
	}
	struct st_server_config c;
	if (st_server_config_load(o.dir, &c, &e) < 0) {
		sodium_memzero(token, sizeof token);
		sodium_free(ot);
		fprintf(stderr, "sealtrace init: %s\n", e.msg);
		return 1;
	}
	uint8_t fp[32];
	char fp_hex[65] = "?";
	if (st_tls_cert_der(c.tls_ca, NULL, NULL, fp, NULL) == 0)
		sodium_bin2hex(fp_hex, sizeof fp_hex, fp, sizeof fp);
	printf("made %s\n"
	       "  listen      %s (config.json)\n"
	       "  CA          %s, sha256 %s: agents pin it at enrollment\n"
	       "  master.pub  %s\n"
	       "\n"
	       "admin token, shown only once (only its hash is kept): store it\n"
	       "now, e.g. as \"token\" in ~/.config/sealtrace/admin.json (mode\n"
	       "0600) or in SEALTRACE_TOKEN:\n"
	       "%s\n"
	       "\n",
	       c.dir, c.listen, c.tls_ca, fp_hex, c.master_public, token);
	printf("privacy officer tokens, each shown only once: hand each to its\n"
	       "officer alone (an admin token cannot approve purposes or grant\n"
	       "the officer and steward roles):\n");
	for (size_t i = 0; i < o.n_officers; i++)
		printf("officer %s: %s\n", officers[i], ot->officer[i]);
	printf("\nnext: sealtrace serve --data %s\n", c.dir);
	sodium_memzero(token, sizeof token);
	sodium_free(ot);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "sealtrace init: cannot write the admin token "
			"to stdout; remove %s and run init again\n", c.dir);
		return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	const char *data = getenv("SEALTRACE_DATA");
	const char *listen = NULL, *url_file = NULL;
	bool plain = false;
	if (!data || !*data)
		data = DATA_DIR_DEFAULT;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--plain-http")) {
			plain = true;
			continue;
		}
		const char **dst = !strcmp(a, "--data")	      ? &data
				   : !strcmp(a, "--listen")   ? &listen
				   : !strcmp(a, "--url-file") ? &url_file
							      : NULL;
		if (!dst) {
			fprintf(stderr, "sealtrace serve: unexpected '%s'; see "
				"'sealtrace serve --help'\n", a);
			return 2;
		}
		if (i + 1 >= argc || !argv[i + 1][0]) {
			fprintf(stderr, "sealtrace serve: %s needs a value\n", a);
			return 2;
		}
		*dst = argv[++i];
	}
	struct st_server_config c;
	struct st_error e = {0};
	int rc = st_server_config_load(data, &c, &e);
	if (rc < 0) {
		fprintf(stderr, "sealtrace serve: %s\n", e.msg);
		return 1;
	}
	if (listen) {
		if (strlen(listen) >= sizeof c.listen) {
			fprintf(stderr, "sealtrace serve: --listen too long\n");
			return 2;
		}
		snprintf(c.listen, sizeof c.listen, "%s", listen);
	}
	if (plain)
		c.plain_http = true;
	if (c.plain_http && !st_server_config_listen_is_loopback(c.listen)) {
		fprintf(stderr, "sealtrace serve: --plain-http only on a "
			"loopback address, not %s; use HTTPS, or --listen "
			"127.0.0.1:PORT\n", c.listen);
		return 2;
	}
	if ((rc = st_server_config_check_no_master_secret(&c, &e)) < 0) {
		fprintf(stderr, "sealtrace serve: refusing to start: %s\n",
			e.msg);
		return 1;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace serve: libsodium cannot "
			"initialise\n");
		return 1;
	}
	/* The log is buffered: each request's access line waits there until
	 * the server's ticker flushes it (every 100 ms) or a line that must
	 * go out at once does (every other log line is flushed when written).
	 * A write per request was a tenth of the server's work when a pause
	 * reached 10,000 agents (bench/control.sh); a crash may lose the
	 * access lines of its last 100 ms. */
	static char log_buf[64u << 10];
	setvbuf(stderr, log_buf, _IOFBF, sizeof log_buf);
	struct st_serve_opts so = {.log = stderr, .url_file = url_file,
				   .stop_fd = -1};
	rc = st_serve(&c, &so, &e);
	if (rc < 0) {
		/* the error's id too, so that a refusal (broad_grant, ...)
		 * can be told from a fault by a script */
		fprintf(stderr, "sealtrace serve: %s (%s)\n",
			e.msg[0] ? e.msg : st_strerror(rc), st_err_id(rc));
		return 1;
	}
	return 0;
}

/* Who may run cmd's subcommands: the roles the server's one permission
 * table gives the endpoint each calls (server/api.h). */
static void print_roles(const char *cmd)
{
	static const char *const subs[] = {"", "add", "list", "revoke",
					   "create", "approve", "propose",
					   "apply", "checkpoint", "verify",
					   "sweep"};
	bool first = true;
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		char full[64];
		snprintf(full, sizeof full, "%s%s%s", cmd, *subs[i] ? " " : "",
			 subs[i]);
		unsigned roles = 0;
		const char *method, *path;
		if (st_api_command_roles(full, &roles, &method, &path) < 0)
			continue;
		if (first)
			printf("\nWho may run it (the server's permission "
			       "table, src/server/api.c):\n");
		first = false;
		printf("  %-22s %s %s:", full, method, path);
		for (int r = 0; r < ST_ROLE_COUNT; r++)
			if (roles & ST_ROLE_BIT(r))
				printf(" %s", st_role_name((enum st_role)r));
		printf("\n");
	}
}

static const char *help_of(const char *cmd)
{
	static const struct {
		const char *cmd, *text;
	} h[] = {
		{"init", init_usage},	  {"serve", serve_usage},
		{"user", user_usage},	  {"device", device_usage},
		{"enroll-token", enroll_usage}, {"backup", backup_usage},
		{"status", status_usage}, {"policy", policy_usage},
		{"pause", pause_usage},	  {"resume", resume_usage},
		{"token", token_usage},	  {"purpose", purpose_usage},
		{"erase", erase_usage},	  {"audit", audit_usage},
		{"access", access_usage}, {"retention", retention_usage},
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
		if (!strcmp(h[i].cmd, cmd))
			return h[i].text;
	return NULL;
}

int main(int argc, char **argv)
{
	struct globals g = {0};
	int i = 1;
	for (; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			return 0;
		}
		int t = take_global(argc, argv, &i, &g);
		if (t < 0)
			return 2;
		if (t == 0)
			break;
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[i];
	int n = argc - i - 1;
	char **rest = argv + i + 1;
	const char *help = help_of(cmd);
	if (!help) {
		fprintf(stderr, "sealtrace: unknown command '%s'; see 'sealtrace "
			"--help'\n", cmd);
		return 2;
	}
	if (any_help(n, rest)) {
		fputs(help, stdout);
		print_roles(cmd);
		return 0;
	}
	if (!strcmp(cmd, "init"))
		return cmd_init(n, rest);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(n, rest);
	if (!strcmp(cmd, "policy")) {
		if (n < 1) {
			fputs(policy_usage, stderr);
			return 2;
		}
		if (!strcmp(rest[0], "check") || !strcmp(rest[0], "notice"))
			return cmd_policy_offline(n, rest);
		if (strcmp(rest[0], "apply")) {
			fprintf(stderr, "sealtrace policy: unknown command '%s'; "
				"see 'sealtrace policy --help'\n", rest[0]);
			return 2;
		}
	}
	if (n < 1 && (!strcmp(cmd, "user") || !strcmp(cmd, "device") ||
		      !strcmp(cmd, "pause") || !strcmp(cmd, "resume"))) {
		fputs(help, stderr);
		return 2;
	}
	return cmd_admin(&g, n + 1, argv + i);
}
