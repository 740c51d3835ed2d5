/* capture_eventfile.c - the eventfile capture backend: replays a JSON Lines
 * event file (docs/eventfile.md) through the capture interface at recorded
 * or accelerated speed, so tests and benchmarks drive the agent without a
 * display. Reads one line ahead at most; never waits (the caller's loop
 * sleeps on timeout_ms). */
#include "eventfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes one read(2) asks for. The buffer holds a whole line at its cap plus
 * one chunk, so a line over the cap is always seen as such. */
#define READ_CHUNK 65536u
#define READ_BUF_CAP (ST_EVENTFILE_LINE_MAX + 1u + READ_CHUNK)

struct evf {
	struct st_capture base; /* first: the front casts */
	struct st_eventfile_parser parser;
	char *path; /* copy, quoted by every message */
	int fd;
	double speed;
	const struct st_clock *clock;
	bool started;      /* replay time runs from start_ns */
	uint64_t start_ns;
	uint64_t wall_start_ns;
	bool paused;
	/* bounded line reader over fd */
	char *buf;
	size_t start, end;
	bool rd_eof;
	/* the event read ahead; its strings live in parser */
	bool has_pending;
	struct st_cap_event pend;
	bool done;  /* no line left */
	bool ended; /* ST_CAPTURE_END was returned */
	int failed; /* sticky: a broken file stays broken */
	struct st_error err;
};

enum { LINE_EOF = 0, LINE_OK = 1, LINE_LONG = 2 };

/* Next line without its newline. LINE_LONG: more than ST_EVENTFILE_LINE_MAX
 * bytes without one, *line and *len the first of them. The loop ends: every
 * pass returns, sets rd_eof or adds at least a byte, and the buffer cannot
 * fill without passing the cap. */
static int next_line(struct evf *f, const char **line, size_t *len)
{
	for (;;) {
		size_t have = f->end - f->start;
		char *nl = memchr(f->buf + f->start, '\n', have);
		if (nl) {
			*line = f->buf + f->start;
			*len = (size_t)(nl - *line);
			f->start += *len + 1;
			return LINE_OK;
		}
		if (have > ST_EVENTFILE_LINE_MAX) {
			*line = f->buf + f->start;
			*len = have;
			return LINE_LONG;
		}
		if (f->rd_eof) {
			if (!have)
				return LINE_EOF;
			*line = f->buf + f->start; /* last line, no newline */
			*len = have;
			f->start = f->end;
			return LINE_OK;
		}
		if (f->start) {
			memmove(f->buf, f->buf + f->start, have);
			f->start = 0;
			f->end = have;
		}
		ssize_t n = read(f->fd, f->buf + f->end, READ_BUF_CAP - f->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return st_errno(errno);
		if (n == 0)
			f->rd_eof = true;
		f->end += (size_t)n;
	}
}

/* Reads and parses one line: sets has_pending for an event, done at the
 * end. Errors go to f->err and stick. */
static int advance(struct evf *f)
{
	const char *line = NULL;
	size_t len = 0;
	bool is_event;
	int rc = next_line(f, &line, &len);
	if (rc < 0) {
		f->failed = st_fail(&f->err, rc, "%s: line %llu: read failed: %s",
				    f->path,
				    (unsigned long long)f->parser.line + 1,
				    st_strerror(rc));
		return rc;
	}
	if (rc == LINE_EOF) {
		f->done = true;
		if (f->parser.line == 0) {
			f->failed = st_fail(&f->err, ST_E_TRUNCATED,
					    "%s: empty file; an event file starts "
					    "with the header line "
					    "{\"sealtrace_eventfile\":1,"
					    "\"tick_ns\":1000000}",
					    f->path);
			return f->failed;
		}
		return 0;
	}
	/* LINE_LONG: the parser refuses the line on its length alone. */
	rc = st_eventfile_parse_line(&f->parser, line, len, &f->pend,
				     &is_event, &f->err);
	if (rc < 0) {
		st_error_prefix(&f->err, "%s: ", f->path);
		f->failed = rc;
		return rc;
	}
	f->has_pending = is_event;
	return 0;
}

static int fail_out(struct evf *f, struct st_error *err)
{
	if (err)
		*err = f->err;
	return f->failed;
}

static void evf_fini(struct st_capture *cap)
{
	struct evf *f = (struct evf *)cap;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	free(f->path);
	f->path = NULL;
	st_eventfile_parser_fini(&f->parser);
}

/* The front frees cap without calling fini when init fails: every failing
 * path of init releases what it took through here. */
static int init_fail(struct st_capture *cap, int rc)
{
	evf_fini(cap);
	return rc;
}

static int evf_init(struct st_capture *cap, const struct st_capture_cfg *cfg,
		    struct st_error *err)
{
	struct evf *f = (struct evf *)cap;
	f->fd = -1;
	f->clock = &st_clock_system;
	st_eventfile_parser_init(&f->parser);
	if (!cfg->path || !*cfg->path)
		return init_fail(cap, st_fail(err, ST_E_INVAL,
					      "eventfile capture: no path; set "
					      "the capture path to a JSON Lines "
					      "event file"));
	if (!isfinite(cfg->speed) || cfg->speed < 0)
		return init_fail(cap, st_fail(err, ST_E_INVAL,
					      "%s: speed %g: need 0 (as fast "
					      "as possible) or a positive "
					      "factor (1 = recorded speed)",
					      cfg->path, cfg->speed));
	f->speed = cfg->speed;
	f->path = strdup(cfg->path);
	f->buf = malloc(READ_BUF_CAP);
	if (!f->path || !f->buf)
		return init_fail(cap, st_fail(err, ST_E_NOMEM,
					      "%s: out of memory", cfg->path));
	f->fd = open(cfg->path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		int rc = st_errno(errno);
		return init_fail(cap, st_fail(err, rc,
					      "%s: cannot open the event file: "
					      "%s; check the capture path",
					      cfg->path, st_strerror(rc)));
	}
	/* Line 1 is the header: a wrong file fails here, not mid-run. */
	if (advance(f) < 0)
		return init_fail(cap, fail_out(f, err));
	return 0;
}

static int evf_fd(struct st_capture *cap)
{
	(void)cap;
	return -1;
}

static void start_clock(struct evf *f)
{
	if (!f->started) {
		f->start_ns = st_mono_ns(f->clock);
		f->wall_start_ns = st_wall_ns(f->clock);
		f->started = true;
	}
}

/* Replay time (ns after start) at which the pending event is due. */
static uint64_t due_ns(const struct evf *f)
{
	double d = (double)f->pend.t_ns / f->speed;
	return d >= 0x1p63 ? UINT64_MAX : (uint64_t)d;
}

static int evf_timeout_ms(struct st_capture *cap)
{
	struct evf *f = (struct evf *)cap;
	if (f->ended)
		return -1;
	/* An error to report, a line to read or the end to announce: all
	 * need dispatch now. */
	if (f->failed || !f->has_pending || f->speed == 0)
		return 0;
	start_clock(f);
	uint64_t el = st_mono_ns(f->clock) - f->start_ns, due = due_ns(f);
	if (el >= due)
		return 0;
	uint64_t w = due - el;
	uint64_t ms = w / 1000000u + (w % 1000000u != 0);
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* First guard of invariant 2: what the notice does not list is dropped or
 * stripped before it leaves the backend (the front in capture.c is the
 * second). False: drop the event. */
static bool apply_kinds(const struct st_capture_kinds *k,
			struct st_cap_event *c)
{
	switch (c->e.type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		if (!k->keys)
			return false;
		if (!k->text)
			c->text = NULL, c->text_len = 0, c->e.u.key.text = 0;
		return true;
	case ST_EV_POINTER:
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
	case ST_EV_SCROLL:
		return k->pointer;
	case ST_EV_FOCUS:
		if (!k->titles)
			c->title = NULL, c->title_len = 0, c->e.u.focus.title = 0;
		if (!k->apps) {
			c->app = c->cls = NULL;
			c->app_len = c->cls_len = 0;
			c->e.u.focus.app = c->e.u.focus.cls = 0;
			c->e.u.focus.pid = 0;
		}
		return true;
	default:
		return true;
	}
}

static int evf_dispatch(struct st_capture *cap,
			const struct st_capture_sink *sink,
			struct st_error *err)
{
	struct evf *f = (struct evf *)cap;
	if (f->failed)
		return fail_out(f, err);
	if (f->ended)
		return ST_CAPTURE_END;
	start_clock(f);
	uint64_t el = st_mono_ns(f->clock) - f->start_ns;
	unsigned lines = 0, events = 0;
	for (;;) {
		if (!f->has_pending) {
			if (f->done || lines >= ST_EVENTFILE_BATCH_MAX)
				break;
			lines++;
			if (advance(f) < 0)
				return fail_out(f, err);
			continue;
		}
		if (events >= ST_EVENTFILE_BATCH_MAX)
			break;
		if (f->speed != 0 && el < due_ns(f))
			return 0;
		/* Consumed whatever the sink says: a sink error is the
		 * recorder's to handle, the file moves on. */
		f->has_pending = false;
		events++;
		if (f->paused || !apply_kinds(&cap->kinds, &f->pend))
			continue; /* a paused recording captures nothing */
		/* the file's timeline placed on the wall clock: at its anchor,
		 * or at the moment replay started */
		struct st_cap_event out = f->pend;
		out.t_ns += f->parser.have_anchor ? f->parser.anchor_ns
						  : f->wall_start_ns;
		int rc = sink->event(sink->ctx, &out, err);
		if (rc < 0)
			return rc;
	}
	if (f->done && !f->has_pending) {
		f->ended = true;
		return ST_CAPTURE_END;
	}
	return 0;
}

static int evf_set_paused(struct st_capture *cap, bool paused,
			  struct st_error *err)
{
	(void)err;
	((struct evf *)cap)->paused = paused;
	return 0;
}

int st_capture_eventfile_set_clock(struct st_capture *cap,
				   const struct st_clock *clock,
				   struct st_error *err)
{
	if (!cap || cap->type != &st_capture_eventfile || !clock)
		return st_fail(err, ST_E_INVAL,
			       "eventfile capture: set_clock needs an eventfile "
			       "capture and a clock");
	struct evf *f = (struct evf *)cap;
	if (f->started)
		return st_fail(err, ST_E_STATE,
			       "%s: replay has started; set the clock before the "
			       "first timeout or dispatch call",
			       f->path);
	f->clock = clock;
	return 0;
}

/* tick_ns is the recorder's resolution, 1 ms, whatever the file's tick:
 * every event leaves here as t_ns (exact), and the recorder rounds that
 * down to its ticks. */
const struct st_capture_type st_capture_eventfile = {
	.name = "eventfile",
	.size = sizeof(struct evf),
	.tick_ns = ST_EVENTFILE_TICK_NS_DEFAULT,
	.wall_times = true, /* t_ns leaves here as Unix time */
	.init = evf_init,
	.fd = evf_fd,
	.timeout_ms = evf_timeout_ms,
	.dispatch = evf_dispatch,
	.set_paused = evf_set_paused,
	.fini = evf_fini,
};
