/* main.c - sealtrace-replay: drives an X display from an exported episode's
 * pyautogui strings. Reads and parses the whole file first, refusing all of
 * it at the first bad step before anything reaches the display; then runs
 * the steps through XTest. Prints ops (never typed text or key characters)
 * and a one-line summary; picks the exit code.
 *
 * Exit codes: 0 replayed (or, with --dry-run, parsed); 1 the file could
 * not be read, a step was refused or failed to run, or the display could
 * not be used; 2 usage errors. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "replay/pyautogui.h"
#include "replay/xtest.h"

/* One JSON line's bytes: a step with ST_PYAUTOGUI_TEXT_MAX of text, each
 * byte escaped as \xHH and the backslash escaped again by JSON, is 320 KiB;
 * the rest of a step (app, title, action) is small. */
#define REPLAY_LINE_MAX (1024 * 1024)
/* The episode file's bytes, its steps, and the ops of all its steps. */
#define REPLAY_FILE_MAX (64L * 1024 * 1024)
#define REPLAY_STEPS_MAX 100000
#define REPLAY_OPS_MAX 200000
/* --speed's largest factor. */
#define REPLAY_SPEED_MAX 1000.0

static const char usage[] =
	"usage: sealtrace-replay [OPTIONS] EPISODE.jsonl\n"
	"\n"
	"Replays an exported episode (episodes/ID.jsonl, one step per line)\n"
	"onto an X display through the XTEST extension, from each step's\n"
	"\"pyautogui\" string (the \"action\" objects are not used). Every\n"
	"step is parsed before anything is sent: one malformed step refuses\n"
	"the whole file, naming its index and column. Steps whose string is\n"
	"empty (redacted) are skipped and counted. Then every position is\n"
	"checked against the screen, again before anything is sent. Run it\n"
	"against a fresh session laid out like the recorded one: clicks go\n"
	"to coordinates.\n"
	"\n"
	"  --display D       the X display (default $DISPLAY)\n"
	"  --speed FACTOR    divides the waits of sleep() and drag durations:\n"
	"                    2 replays twice as fast, 0.5 half as fast, 0\n"
	"                    does not wait at all (default 1)\n"
	"  --delay-ms N      pause after each key, click, wheel notch and\n"
	"                    drag, so the application keeps up (default 10,\n"
	"                    at most 10000); not changed by --speed\n"
	"  --dry-run         parse and print each step's ops on stdout (kinds,\n"
	"                    positions, key names, lengths of text; never the\n"
	"                    text or a character key) and touch no display\n"
	"  -h, --help        this help\n"
	"\n"
	"Characters missing from the keymap are typed by mapping a spare\n"
	"keycode to them while they are typed (as xdotool does), then\n"
	"restoring it; SIGINT or SIGTERM stops at the next key with every\n"
	"key and button released.\n"
	"A summary goes to stderr: steps executed, skipped (redacted).\n"
	"\n"
	"exit status: 0 replayed (or parsed, with --dry-run); 1 the file could\n"
	"not be read, a step was refused or failed, or the display could not\n"
	"be used; 2 usage error.\n";

struct step {
	long long index; /* the step's "index", or -1 when it has none */
	size_t line;
	struct st_pyautogui_ops ops;
};

struct episode {
	struct step *v;
	size_t n, cap;
	size_t nops;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void step_label(const struct step *s, char *buf, size_t cap)
{
	if (s->index >= 0)
		snprintf(buf, cap, "step %lld (line %zu)", s->index, s->line);
	else
		snprintf(buf, cap, "line %zu", s->line);
}

static void episode_free(struct episode *ep)
{
	for (size_t k = 0; k < ep->n; k++)
		st_pyautogui_ops_fini(&ep->v[k].ops);
	free(ep->v);
	memset(ep, 0, sizeof *ep);
}

/* Reads one line into buf (cap REPLAY_LINE_MAX + 1) without its newline;
 * returns its length, -1 at the end of the file, -2 when it is too long. */
static long read_line(FILE *f, char *buf, size_t *total)
{
	size_t n = 0;
	int c;
	while ((c = getc(f)) != EOF) {
		(*total)++;
		if (c == '\n')
			return (long)n;
		if (n == REPLAY_LINE_MAX)
			return -2;
		buf[n++] = (char)c;
	}
	return n ? (long)n : -1;
}

/* One line: a JSON object with "pyautogui" (a string) and optionally
 * "index" (a whole number >= 0). Messages never quote the line. */
static int parse_step(const char *buf, size_t len, struct step *s,
		      struct st_error *err)
{
	json_error_t je;
	char label[64];
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return st_fail(err, ST_E_JSON, "line %zu: not a JSON object "
			       "(malformed at column %d)", s->line, je.column);
	int rc = 0;
	json_t *idx = json_object_get(o, "index");
	json_t *pg = json_object_get(o, "pyautogui");
	if (!json_is_object(o)) {
		rc = st_fail(err, ST_E_JSON, "line %zu: not a JSON object",
			     s->line);
	} else if (idx && (!json_is_integer(idx) || json_integer_value(idx) < 0)) {
		rc = st_fail(err, ST_E_JSON, "line %zu: \"index\" is not a whole "
			     "number >= 0", s->line);
	} else {
		s->index = idx ? (long long)json_integer_value(idx) : -1;
		step_label(s, label, sizeof label);
		if (!json_is_string(pg))
			rc = st_fail(err, ST_E_JSON, "%s: no \"pyautogui\" string "
				     "(a redacted step has \"\")", label);
		else if ((rc = st_pyautogui_parse(json_string_value(pg),
						  json_string_length(pg), &s->ops,
						  err)))
			st_error_prefix(err, "%s: pyautogui string, ", label);
	}
	json_decref(o);
	return rc;
}

static int load(const char *path, struct episode *ep, struct st_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return st_fail(err, st_errno(errno), "cannot open %s: %s", path,
			       strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > REPLAY_FILE_MAX) {
		fclose(f);
		return st_fail(err, ST_E_CAP, "%s: %lld bytes, over the cap of "
			       "%ld; split the episode", path,
			       (long long)st.st_size, REPLAY_FILE_MAX);
	}
	char *buf = malloc(REPLAY_LINE_MAX + 1);
	if (!buf) {
		fclose(f);
		return st_fail(err, ST_E_NOMEM, "out of memory for a line");
	}
	int rc = 0;
	size_t total = 0, line = 0;
	for (;;) {
		long len = read_line(f, buf, &total);
		line++;
		if (len == -1)
			break;
		if (len == -2) {
			rc = st_fail(err, ST_E_CAP, "%s: line %zu is longer than "
				     "%d bytes", path, line, REPLAY_LINE_MAX);
			break;
		}
		if (total > (size_t)REPLAY_FILE_MAX) {
			rc = st_fail(err, ST_E_CAP, "%s: over the cap of %ld "
				     "bytes; split the episode", path,
				     REPLAY_FILE_MAX);
			break;
		}
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		if (len == 0) {
			rc = st_fail(err, ST_E_JSON, "%s: line %zu is empty (one "
				     "step per line, no blank lines)", path, line);
			break;
		}
		if (ep->n == REPLAY_STEPS_MAX) {
			rc = st_fail(err, ST_E_CAP, "%s: more than %d steps; split "
				     "the episode", path, REPLAY_STEPS_MAX);
			break;
		}
		if (ep->n == ep->cap) {
			size_t cap = ep->cap ? ep->cap * 2 : 64;
			struct step *v = realloc(ep->v, cap * sizeof *v);
			if (!v) {
				rc = st_fail(err, ST_E_NOMEM, "out of memory for "
					     "%zu steps", cap);
				break;
			}
			ep->v = v;
			ep->cap = cap;
		}
		struct step *s = &ep->v[ep->n];
		memset(s, 0, sizeof *s);
		s->line = line;
		if ((rc = parse_step(buf, (size_t)len, s, err))) {
			st_error_prefix(err, "%s: ", path);
			break;
		}
		ep->n++;
		ep->nops += s->ops.n;
		if (ep->nops > REPLAY_OPS_MAX) {
			rc = st_fail(err, ST_E_CAP, "%s: more than %d actions; "
				     "split the episode", path, REPLAY_OPS_MAX);
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = st_fail(err, st_errno(EIO), "%s: read error", path);
	free(buf);
	fclose(f);
	return rc;
}

/* One op for --dry-run: what and where, never what was typed. */
static void print_op(const char *label, const struct st_pyautogui_op *op)
{
	const char *name = st_pyautogui_op_name(op);
	printf("%s: %s", label, name);
	switch (op->kind) {
	case ST_PYAUTOGUI_CLICK:
	case ST_PYAUTOGUI_DOUBLE_CLICK:
	case ST_PYAUTOGUI_MOVE:
		printf(" %d,%d", op->x, op->y);
		break;
	case ST_PYAUTOGUI_WRITE:
		printf(" (%zu bytes of text)", op->text_len);
		break;
	case ST_PYAUTOGUI_PRESS:
	case ST_PYAUTOGUI_HOTKEY:
		for (size_t k = 0; k < op->nkeys; k++)
			printf("%s%s", k ? "+" : " ",
			       st_pyautogui_key_kind(op->keys[k]) ==
					       ST_PYAUTOGUI_KEY_CHAR
				       ? "<character>"
				       : op->keys[k]);
		break;
	case ST_PYAUTOGUI_DRAG:
		printf(" %d,%d -> %d,%d %s button over %g s", op->x, op->y,
		       op->to_x, op->to_y,
		       op->button == ST_PYAUTOGUI_RIGHT    ? "right"
		       : op->button == ST_PYAUTOGUI_MIDDLE ? "middle"
							   : "left",
		       op->seconds);
		break;
	case ST_PYAUTOGUI_SCROLL:
	case ST_PYAUTOGUI_HSCROLL:
		printf(" %d at %d,%d", op->amount, op->x, op->y);
		break;
	case ST_PYAUTOGUI_SLEEP:
		printf(" %g s", op->seconds);
		break;
	}
	putchar('\n');
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_speed(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || errno || *end || !isfinite(v) || v < 0 || v > REPLAY_SPEED_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Runs every step; *done and *skipped count steps. On failure err names
 * the step. */
static int replay(struct episode *ep, const struct st_xtest_options *xo,
		  size_t *done, size_t *skipped, struct st_error *err)
{
	struct st_xtest *x;
	int rc = st_xtest_open(&x, xo, err);
	if (rc)
		return rc;
	char label[64];
	/* every coordinate against this screen before the first event */
	for (size_t k = 0; k < ep->n && rc == 0; k++)
		for (size_t j = 0; j < ep->v[k].ops.n && rc == 0; j++)
			if ((rc = st_xtest_fits(x, &ep->v[k].ops.v[j], err))) {
				step_label(&ep->v[k], label, sizeof label);
				st_error_prefix(err, "%s: refused before "
						"replaying anything: ", label);
			}
	for (size_t k = 0; k < ep->n && rc == 0; k++) {
		struct step *s = &ep->v[k];
		if (s->ops.n == 0) {
			(*skipped)++;
			continue;
		}
		for (size_t j = 0; j < s->ops.n && rc == 0; j++)
			rc = st_xtest_run(x, &s->ops.v[j], err);
		if (rc) {
			step_label(s, label, sizeof label);
			st_error_prefix(err, "%s: ", label);
		} else {
			(*done)++;
		}
	}
	st_xtest_close(x);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"display", required_argument, NULL, 'd'},
		{"speed", required_argument, NULL, 's'},
		{"delay-ms", required_argument, NULL, 'm'},
		{"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct st_xtest_options xo = {.delay_ms = ST_XTEST_DELAY_MS_DEFAULT,
				      .speed = 1.0, .stop = &stop_flag};
	bool dry = false;
	int c;
	unsigned long ul;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			xo.display = optarg;
			break;
		case 's':
			if (parse_speed(optarg, &xo.speed)) {
				fprintf(stderr, "sealtrace-replay: --speed takes a "
					"number from 0 to %g\n", REPLAY_SPEED_MAX);
				return 2;
			}
			break;
		case 'm':
			if (parse_uint(optarg, ST_XTEST_DELAY_MS_MAX, &ul)) {
				fprintf(stderr, "sealtrace-replay: --delay-ms takes "
					"a whole number from 0 to %d\n",
					ST_XTEST_DELAY_MS_MAX);
				return 2;
			}
			xo.delay_ms = (unsigned)ul;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "sealtrace-replay: unknown option or "
				"missing value: %s\n(see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fputs(usage, stderr);
		return 2;
	}
	const char *path = argv[optind];

	struct episode ep = {0};
	struct st_error e = {0};
	if (load(path, &ep, &e)) {
		fprintf(stderr, "sealtrace-replay: %s\nsealtrace-replay: refused: "
			"nothing was replayed\n", e.msg);
		episode_free(&ep);
		return 1;
	}
	size_t done = 0, skipped = 0;
	int rc = 0;
	if (dry) {
		char label[64];
		for (size_t k = 0; k < ep.n; k++) {
			step_label(&ep.v[k], label, sizeof label);
			if (ep.v[k].ops.n == 0) {
				printf("%s: redacted (skipped)\n", label);
				skipped++;
				continue;
			}
			for (size_t j = 0; j < ep.v[k].ops.n; j++)
				print_op(label, &ep.v[k].ops.v[j]);
			done++;
		}
		fprintf(stderr, "sealtrace-replay: dry run: %zu steps parsed, %zu "
			"skipped (redacted), %zu actions; nothing was sent\n",
			done, skipped, ep.nops);
	} else {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		rc = replay(&ep, &xo, &done, &skipped, &e);
		if (rc)
			fprintf(stderr, "sealtrace-replay: %s\n", e.msg);
		fprintf(stderr, "sealtrace-replay: %s%zu steps executed, %zu "
			"skipped (redacted) of %zu\n", rc ? "stopped: " : "", done,
			skipped, ep.n);
	}
	episode_free(&ep);
	return rc ? 1 : 0;
}
