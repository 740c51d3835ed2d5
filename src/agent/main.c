/* main.c - sealtrace-agent: the program on each person's machine. Parses
 * arguments, calls src/agent, prints results and picks the exit code. */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/consent.h"
#include "agent/control.h"
#include "agent/enroll.h"
#include "agent/run.h"
#include "agent/upload.h"
#include "core/mem.h"
#include "core/token.h"

#define CALL_TIMEOUT_MS 5000

static const char usage[] =
	"usage: sealtrace-agent COMMAND [OPTIONS]\n"
	"\n"
	"Records how you use this computer, only after you accepted the notice,\n"
	"and always lets you see its state and pause it.\n"
	"\n"
	"commands:\n"
	"  enroll URL TOKEN [--accept-notice HASH]\n"
	"                      enrolls with the server at URL (https://HOST:PORT)\n"
	"                      using an enrollment token from 'sealtrace\n"
	"                      enroll-token' (TOKEN '-' reads it from stdin):\n"
	"                      pins the server's CA and lease key from the\n"
	"                      token, makes this device's key, keeps the policy\n"
	"                      and notice, then shows the notice for acceptance\n"
	"                      (without a terminal: run 'accept' afterwards)\n"
	"  enroll --local --policy FILE --notice FILE --recipient PUBKEY\n"
	"                      development enrollment (no server): keeps the\n"
	"                      policy and notice, makes this device's key, then\n"
	"                      shows the notice for acceptance (as 'accept')\n"
	"  accept [--accept-notice HASH]\n"
	"                      shows the notice (a new one the server sent, if\n"
	"                      one waits); records your acceptance when you\n"
	"                      type \"I accept\" or pass the notice's sha256;\n"
	"                      with a server, the server records it first (if it\n"
	"                      cannot, nothing is accepted: retry)\n"
	"  run [--dev] [--backend x11|eventfile] [--display D] [--eventfile FILE]\n"
	"      [--speed X] [--exit-at-end] [--segment-seconds N]\n"
	"      [--idle-seconds N] [--motion-hz N] [--spool-max BYTES]\n"
	"      [--batch-ms N]      (x11: read input at most every N ms after\n"
	"                          the first event of a burst; default 100, 0: at\n"
	"                          once)\n"
	"      [--data-dir DIR]    (the filter's category lists: DIR/filter)\n"
	"      [--backoff-min-ms N] [--backoff-max-ms N] [--notice-check-seconds N]\n"
	"                      records until stopped (SIGTERM/SIGINT) and, when\n"
	"                      enrolled with a server, uploads the spool\n"
	"                      (retries back off from N ms, default 1000, to at\n"
	"                      most N ms, default 300000, with full jitter);\n"
	"                      while it has nothing to send it asks the server\n"
	"                      for a new notice every N s (default 60);\n"
	"                      with a server it records only while it holds a\n"
	"                      valid lease from it (it starts stopped, waiting\n"
	"                      for one; the organisation can pause it);\n"
	"                      --dev is required for a --local enrollment\n"
	"  upload [--until-empty] [--backoff-min-ms N] [--backoff-max-ms N]\n"
	"                      uploads the spool and pending forget requests\n"
	"                      without recording (not while 'run' runs); with\n"
	"                      --until-empty, exits once nothing is left\n"
	"  status              state, since when, why (message), the lease\n"
	"                      (state, seq, reason, valid_for_ms), what waits\n"
	"                      in the spool, uploads (last_upload, uploaded,\n"
	"                      refused, backlog, upload_state, gaps)\n"
	"  pause [DURATION]    pause now (30s, 10m, 2h, 1d; default: until resume)\n"
	"  resume              resume after your pause\n"
	"  forget MINUTES      delete what was recorded in the last MINUTES and\n"
	"                      not yet sent; what was sent becomes a deletion\n"
	"                      request the uploader sends to the server\n"
	"  flush               seal and spool the open segment now\n"
	"\n"
	"common options:\n"
	"  --state-dir DIR     the agent's folder (default $SEALTRACE_AGENT_DIR,\n"
	"                      $XDG_STATE_HOME/sealtrace, ~/.local/state/sealtrace)\n"
	"  --socket PATH       control socket (default $SEALTRACE_AGENT_SOCKET,\n"
	"                      $XDG_RUNTIME_DIR/sealtrace-agent.sock, DIR/run/agent.sock)\n"
	"  -h, --help          this help\n";

enum {
	O_STATE = 1000, O_SOCKET, O_LOCAL, O_POLICY, O_NOTICE, O_RECIPIENT,
	O_ACCEPT, O_DEV, O_BACKEND, O_DISPLAY, O_EVENTFILE, O_SPEED, O_END,
	O_SEGSEC, O_IDLESEC, O_HZ, O_BATCH, O_SPOOLMAX, O_DATADIR, O_BMIN, O_BMAX,
	O_NCHECK,
	O_UNTIL_EMPTY,
};

static const struct option opts[] = {
	{"state-dir", required_argument, 0, O_STATE},
	{"socket", required_argument, 0, O_SOCKET},
	{"local", no_argument, 0, O_LOCAL},
	{"policy", required_argument, 0, O_POLICY},
	{"notice", required_argument, 0, O_NOTICE},
	{"recipient", required_argument, 0, O_RECIPIENT},
	{"accept-notice", required_argument, 0, O_ACCEPT},
	{"dev", no_argument, 0, O_DEV},
	{"backend", required_argument, 0, O_BACKEND},
	{"display", required_argument, 0, O_DISPLAY},
	{"eventfile", required_argument, 0, O_EVENTFILE},
	{"speed", required_argument, 0, O_SPEED},
	{"exit-at-end", no_argument, 0, O_END},
	{"segment-seconds", required_argument, 0, O_SEGSEC},
	{"idle-seconds", required_argument, 0, O_IDLESEC},
	{"motion-hz", required_argument, 0, O_HZ},
	{"batch-ms", required_argument, 0, O_BATCH},
	{"spool-max", required_argument, 0, O_SPOOLMAX},
	{"data-dir", required_argument, 0, O_DATADIR},
	{"backoff-min-ms", required_argument, 0, O_BMIN},
	{"notice-check-seconds", required_argument, 0, O_NCHECK},
	{"backoff-max-ms", required_argument, 0, O_BMAX},
	{"until-empty", no_argument, 0, O_UNTIL_EMPTY},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

struct args {
	const char *state_dir, *socket, *policy, *notice, *recipient, *accept;
	const char *backend, *display, *eventfile, *data_dir;
	bool local, dev, exit_at_end, until_empty;
	double speed;
	double segment_s, idle_s;
	unsigned long hz;
	double batch_ms;
	unsigned long long spool_max;
	uint64_t bmin, bmax;
	double ncheck_s;
};

static int die(const char *cmd, const struct st_error *e)
{
	fprintf(stderr, "sealtrace-agent %s: %s\n", cmd,
		e->msg[0] ? e->msg : st_strerror(e->code));
	return 1;
}

static int bad_number(const char *opt, const char *v)
{
	fprintf(stderr, "sealtrace-agent: %s '%s' is not a valid number\n", opt, v);
	return 2;
}

static int parse_num(const char *opt, const char *v, double min, double max,
		     double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || d < min || d > max)
		return bad_number(opt, v);
	*out = d;
	return 0;
}

/* `upload`: the uploader without the recorder, in this process. */
static int upload(struct args *a, struct st_agent_paths *p)
{
	struct st_error e = {0};
	struct st_agent_identity id;
	struct st_spool *sp = NULL;
	struct st_upload_transport *t = NULL;
	struct st_upload *u = NULL;
	char url[1024], ca[ST_PATH_MAX];
	int rc, sfd = -1;
	if ((rc = st_identity_load(p, &id, &e)) < 0)
		return die("upload", &e);
	struct st_spool_cfg sc = {.dir = p->spool, .device_pk = id.device_pk};
	if ((rc = st_server_config(p, url, sizeof url, ca, &e)) < 0 ||
	    (rc = st_spool_open(&sc, &sp, NULL, &e)) < 0)
		goto out;
	struct st_client_cfg cc = {.url = url, .ca_file = ca};
	if ((rc = st_upload_transport_client(&cc, &t, &e)) < 0)
		goto out;
	struct st_upload_cfg uc = {.paths = p, .spool = sp, .transport = t,
				   .id = &id, .backoff_min_ms = a->bmin,
				   .backoff_max_ms = a->bmax,
				   .until_empty = a->until_empty};
	if ((rc = st_upload_new(&uc, &u, &e)) < 0)
		goto out;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if ((rc = st_upload_start(u, &e)) < 0)
		goto out;
	bool interrupted = false;
	while (!st_upload_finished(u)) {
		struct pollfd pf = {.fd = sfd, .events = POLLIN};
		if (poll(&pf, 1, 200) > 0) {
			interrupted = true;
			break;
		}
	}
	st_upload_stop(u);
	struct st_upload_stats s;
	st_upload_stats(u, &s);
	printf("uploaded %" PRIu64 " (%" PRIu64 " duplicates), refused %" PRIu64
	       " (in %s/quarantine), forget requests sent %" PRIu64
	       ", backlog %zu segments%s\n",
	       s.uploaded, s.duplicates, s.refused, p->spool, s.forgets_sent,
	       st_spool_count(sp), interrupted ? " (interrupted)" : "");
	if (s.notice_pending)
		printf("a new notice needs your acceptance: run sealtrace-agent "
		       "accept\n");
	if (s.state == ST_UPLOAD_REVOKED) {
		rc = st_fail(&e, ST_E_DEVICE_REVOKED, "%s", s.last_error);
		st_error_prefix(&e, "this device was revoked: ");
	}
out:
	if (sfd >= 0)
		close(sfd);
	st_upload_free(u);
	st_upload_transport_free(t);
	st_spool_close(sp);
	st_identity_fini(&id);
	return rc < 0 ? die("upload", &e) : 0;
}

/* The token: from argv (then wiped there: other users see /proc/PID/cmdline)
 * or from stdin ("-"). Copied into locked memory the caller frees. */
static char *take_token(char *arg)
{
	if (!arg)
		return NULL;
	char *tok = sodium_malloc(ST_TOKEN_TEXT_MAX);
	if (!tok)
		return NULL;
	if (!strcmp(arg, "-")) {
		if (!fgets(tok, ST_TOKEN_TEXT_MAX, stdin))
			tok[0] = 0;
		tok[strcspn(tok, "\r\n")] = 0;
	} else {
		size_t n = strnlen(arg, ST_TOKEN_TEXT_MAX - 1);
		memcpy(tok, arg, n);
		tok[n] = 0;
		sodium_memzero(arg, strlen(arg));
	}
	return tok;
}

static int control(struct args *a, struct st_control_req *req, const char *cmd)
{
	struct st_agent_paths p;
	struct st_error e = {0};
	if (st_agent_paths_init(&p, a->state_dir, a->socket, &e) < 0)
		return die(cmd, &e);
	char reply[ST_CONTROL_LINE_MAX + 1];
	if (st_control_call(p.socket, req, reply, sizeof reply, CALL_TIMEOUT_MS,
			    &e) < 0)
		return die(cmd, &e);
	fputs(reply, stdout);
	return strstr(reply, "\"ok\":true") ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (st_crypto_init() < 0) {
		fprintf(stderr, "sealtrace-agent: libsodium cannot initialise\n");
		return 1;
	}
	const char *cmd = argv[1];
	struct args a = {.backend = "x11", .speed = 1.0,
			 .batch_ms = ST_RUN_BATCH_MS_DEFAULT};
	optind = 2;
	int c;
	double d;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_STATE: a.state_dir = optarg; break;
		case O_SOCKET: a.socket = optarg; break;
		case O_LOCAL: a.local = true; break;
		case O_POLICY: a.policy = optarg; break;
		case O_NOTICE: a.notice = optarg; break;
		case O_RECIPIENT: a.recipient = optarg; break;
		case O_ACCEPT: a.accept = optarg; break;
		case O_DEV: a.dev = true; break;
		case O_BACKEND: a.backend = optarg; break;
		case O_DISPLAY: a.display = optarg; break;
		case O_EVENTFILE: a.eventfile = optarg; break;
		case O_DATADIR: a.data_dir = optarg; break;
		case O_END: a.exit_at_end = true; break;
		case O_SPEED:
			if (parse_num("--speed", optarg, 0, 1e6, &a.speed))
				return 2;
			break;
		case O_SEGSEC:
			if (parse_num("--segment-seconds", optarg, 0.05, 86400,
				      &a.segment_s))
				return 2;
			break;
		case O_IDLESEC:
			if (parse_num("--idle-seconds", optarg, 0.05, 86400 * 7,
				      &a.idle_s))
				return 2;
			break;
		case O_HZ:
			if (parse_num("--motion-hz", optarg, 1, 1000, &d))
				return 2;
			a.hz = (unsigned long)d;
			break;
		case O_BATCH:
			if (parse_num("--batch-ms", optarg, 0, 1000, &a.batch_ms))
				return 2;
			break;
		case O_SPOOLMAX:
			if (parse_num("--spool-max", optarg, 4096, 1e15, &d))
				return 2;
			a.spool_max = (unsigned long long)d;
			break;
		case O_BMIN:
		case O_BMAX:
			if (parse_num(c == O_BMIN ? "--backoff-min-ms"
						  : "--backoff-max-ms",
				      optarg, 1, ST_UPLOAD_BACKOFF_LIMIT_MS, &d))
				return 2;
			*(c == O_BMIN ? &a.bmin : &a.bmax) = (uint64_t)d;
			break;
		case O_NCHECK:
			if (parse_num("--notice-check-seconds", optarg, 0.05,
				      86400, &d))
				return 2;
			a.ncheck_s = d;
			break;
		case O_UNTIL_EMPTY: a.until_empty = true; break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "see 'sealtrace-agent --help'\n");
			return 2;
		}
	}
	struct st_agent_paths p;
	struct st_error e = {0};
	struct st_control_req req = {0};

	if (a.bmin && a.bmax && a.bmin > a.bmax) {
		fprintf(stderr, "sealtrace-agent: --backoff-min-ms must not be "
				"over --backoff-max-ms\n");
		return 2;
	}
	if (!strcmp(cmd, "enroll") && !a.local) {
		if (argc - optind != 2) {
			fprintf(stderr, "sealtrace-agent enroll URL TOKEN (or "
					"enroll --local ... for development); "
					"see --help\n");
			return 2;
		}
		const char *url = argv[optind];
		char *tok = take_token(argv[optind + 1]);
		if (!tok) {
			fprintf(stderr, "sealtrace-agent enroll: out of memory\n");
			return 1;
		}
		int rc = st_agent_paths_init(&p, a.state_dir, a.socket, &e);
		if (rc == 0)
			rc = st_enroll_server(&p, url, tok, &e);
		sodium_free(tok);
		if (rc < 0)
			return die(cmd, &e);
		printf("Enrolled with %s: %s\n\n", url, p.dir);
		if (st_accept(&p, a.accept, stdin, stdout, &e) < 0) {
			if (!a.accept && !isatty(0)) {
				fprintf(stderr, "sealtrace-agent enroll: "
						"enrolled; nothing is recorded "
						"until the person runs "
						"'sealtrace-agent accept' in "
						"their session\n");
				return 0;
			}
			return die(cmd, &e);
		}
		return 0;
	}
	if (!strcmp(cmd, "enroll")) {
		if (!a.policy || !a.notice || !a.recipient) {
			fprintf(stderr, "sealtrace-agent enroll --local needs "
					"--policy FILE --notice FILE --recipient "
					"PUBKEY\n");
			return 2;
		}
		if (st_agent_paths_init(&p, a.state_dir, a.socket, &e) < 0 ||
		    st_enroll_local(&p, a.policy, a.notice, a.recipient, &e) < 0)
			return die(cmd, &e);
		printf("Enrolled in development mode (not under any "
		       "organisation's control): %s\n\n",
		       p.dir);
		if (st_accept(&p, a.accept, stdin, stdout, &e) < 0)
			return die(cmd, &e);
		return 0;
	}
	if (!strcmp(cmd, "accept")) {
		if (st_agent_paths_init(&p, a.state_dir, a.socket, &e) < 0 ||
		    st_accept(&p, a.accept, stdin, stdout, &e) < 0)
			return die(cmd, &e);
		return 0;
	}
	if (!strcmp(cmd, "run")) {
		if (st_agent_paths_init(&p, a.state_dir, a.socket, &e) < 0)
			return die(cmd, &e);
		if (!strcmp(a.backend, "eventfile") && !a.eventfile) {
			fprintf(stderr, "sealtrace-agent run: --backend eventfile "
					"needs --eventfile FILE\n");
			return 2;
		}
		struct st_run_cfg rc = {
			.paths = &p,
			.backend = a.backend,
			.display = a.display,
			.eventfile = a.eventfile,
			.speed = a.speed,
			.exit_at_end = a.exit_at_end,
			.segment_ns = (uint64_t)(a.segment_s * 1e9),
			.idle_ns = (uint64_t)(a.idle_s * 1e9),
			.motion_hz = (uint32_t)a.hz,
			.batch_ms = (uint32_t)a.batch_ms,
			.spool_max = a.spool_max,
			.dev = a.dev,
			.data_dir = a.data_dir,
			.backoff_min_ms = a.bmin,
			.backoff_max_ms = a.bmax,
			.notice_check_ms = (uint64_t)(a.ncheck_s * 1000),
			.log = stderr,
		};
		/* a newly accepted notice ends a run with reload: the next
		 * one starts from the accepted files (run.h) */
		bool reload = true;
		while (reload)
			if (st_agent_run(&rc, &reload, &e) < 0)
				return die(cmd, &e);
		return 0;
	}
	if (!strcmp(cmd, "upload")) {
		if (optind < argc) {
			fprintf(stderr, "sealtrace-agent upload: unexpected "
					"'%s'\n", argv[optind]);
			return 2;
		}
		if (st_agent_paths_init(&p, a.state_dir, a.socket, &e) < 0)
			return die(cmd, &e);
		return upload(&a, &p);
	}
	if (!strcmp(cmd, "status")) {
		req.cmd = ST_CTL_STATUS;
	} else if (!strcmp(cmd, "pause")) {
		req.cmd = ST_CTL_PAUSE;
		if (optind < argc &&
		    st_duration_parse(argv[optind++], &req.seconds, &e) < 0)
			return die(cmd, &e);
	} else if (!strcmp(cmd, "resume")) {
		req.cmd = ST_CTL_RESUME;
	} else if (!strcmp(cmd, "forget")) {
		req.cmd = ST_CTL_FORGET;
		if (optind >= argc ||
		    parse_num("MINUTES", argv[optind++], 1, ST_FORGET_MINUTES_MAX,
			      &d)) {
			fprintf(stderr, "sealtrace-agent forget MINUTES (1-%u)\n",
				ST_FORGET_MINUTES_MAX);
			return 2;
		}
		req.minutes = (uint64_t)d;
	} else if (!strcmp(cmd, "flush")) {
		req.cmd = ST_CTL_FLUSH;
	} else {
		fprintf(stderr, "sealtrace-agent: unknown command '%s'; see "
				"'sealtrace-agent --help'\n",
			cmd);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "sealtrace-agent %s: unexpected '%s'\n", cmd,
			argv[optind]);
		return 2;
	}
	return control(&a, &req, cmd);
}
