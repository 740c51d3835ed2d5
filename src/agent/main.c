/* main.c - sealtrace-agent: the program on each person's machine. Parses
 * arguments, calls src/agent, prints results and picks the exit code. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/consent.h"
#include "agent/control.h"
#include "agent/run.h"
#include "core/mem.h"

#define CALL_TIMEOUT_MS 5000

static const char usage[] =
	"usage: sealtrace-agent COMMAND [OPTIONS]\n"
	"\n"
	"Records how you use this computer, only after you accepted the notice,\n"
	"and always lets you see its state and pause it.\n"
	"\n"
	"commands:\n"
	"  enroll --local --policy FILE --notice FILE --recipient PUBKEY\n"
	"                      development enrollment (no server): keeps the\n"
	"                      policy and notice, makes this device's key, then\n"
	"                      shows the notice for acceptance (as 'accept')\n"
	"  accept [--accept-notice HASH]\n"
	"                      shows the notice; records your acceptance when you\n"
	"                      type \"I accept\" or pass the notice's sha256\n"
	"  run --dev [--backend x11|eventfile] [--display D] [--eventfile FILE]\n"
	"      [--speed X] [--exit-at-end] [--segment-seconds N]\n"
	"      [--idle-seconds N] [--motion-hz N] [--spool-max BYTES]\n"
	"      [--data-dir DIR]    (the filter's category lists: DIR/filter)\n"
	"                      records until stopped (SIGTERM/SIGINT)\n"
	"  status              state, since when, why, what waits in the spool\n"
	"  pause [DURATION]    pause now (30s, 10m, 2h, 1d; default: until resume)\n"
	"  resume              resume after your pause\n"
	"  forget MINUTES      delete what was recorded in the last MINUTES and\n"
	"                      not yet sent; what was sent becomes a deletion\n"
	"                      request\n"
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
	O_SEGSEC, O_IDLESEC, O_HZ, O_SPOOLMAX, O_DATADIR,
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
	{"spool-max", required_argument, 0, O_SPOOLMAX},
	{"data-dir", required_argument, 0, O_DATADIR},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

struct args {
	const char *state_dir, *socket, *policy, *notice, *recipient, *accept;
	const char *backend, *display, *eventfile, *data_dir;
	bool local, dev, exit_at_end;
	double speed;
	double segment_s, idle_s;
	unsigned long hz;
	unsigned long long spool_max;
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
	struct args a = {.backend = "x11", .speed = 1.0};
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
		case O_SPOOLMAX:
			if (parse_num("--spool-max", optarg, 4096, 1e15, &d))
				return 2;
			a.spool_max = (unsigned long long)d;
			break;
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

	if (!strcmp(cmd, "enroll")) {
		if (!a.local) {
			fprintf(stderr,
				"sealtrace-agent enroll: enrolling with a server "
				"(enroll URL TOKEN) is not built yet; use --local "
				"for development\n");
			return 2;
		}
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
			.spool_max = a.spool_max,
			.dev = a.dev,
			.data_dir = a.data_dir,
			.log = stderr,
		};
		if (st_agent_run(&rc, &e) < 0)
			return die(cmd, &e);
		return 0;
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
