/* run.c - the agent's event loop. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/capture.h"
#include "agent/control.h"
#include "agent/lease.h"
#include "agent/recorder.h"
#include "agent/spool.h"
#include "agent/upload.h"
#include "core/clock.h"
#include "core/file.h"
#include "filter/filter.h"

#ifndef ST_DATADIR
#define ST_DATADIR "/usr/share/sealtrace"
#endif

#define STATE_REFRESH_NS 2000000000ull /* state file at least this often */
#define CONTROL_READ_MS 1000           /* a client must send its line by then */
/* A forget that races the uploader (a segment it listed was sent and
 * removed meanwhile) is run again, at most this many times in all. */
#define FORGET_TRIES 3
#define NOTICE_REASON "a new notice needs your acceptance: run sealtrace-agent accept"
#define REVOKED_REASON "this device was revoked by the organisation"
#define NO_LEASE_REASON "waiting for a lease from the server"
#define EXPIRED_REASON "cannot reach server"
#define ORG_PAUSE_PREFIX "paused by your organisation: "
#define WHY_MAX (ST_LEASE_REASON_MAX + 64)

struct agent {
	const struct st_run_cfg *cfg;
	struct st_agent_identity id;
	struct st_spool *spool;
	struct st_recorder *rec;
	struct st_capture *cap;
	struct st_detector *det;
	struct st_filter *filter;
	bool person_paused;
	uint64_t pause_until_mono; /* 0 = until resume */
	uint64_t state_written_mono;
	enum st_rec_state last_state;
	bool source_ended;
	struct st_upload_transport *transport; /* NULL in development mode */
	struct st_upload *up;
	uint64_t gaps;        /* sequence numbers missing at spool open */
	size_t last_count;    /* spool count when the uploader was last kicked */
	bool notice_stopped;  /* recording stopped for a pending notice */
	bool revoked_stopped; /* recording stopped: device revoked */
	bool reload;          /* the new notice was accepted: start afresh */
	uint64_t notice_checked_mono;
	/* the control channel (agent/lease.h); NULL in development mode */
	struct st_leaser *leaser;
	struct st_leaser_view lv;   /* as of the last apply() */
	uint64_t obeyed_pause_seq;  /* newest pause lease obeyed */
	uint64_t highest_seq;       /* highest segment seq ever handed out */
	uint64_t discarded;         /* segments deleted by discard_unsent */
	bool upload_held;           /* segments wait for a pause's confirm */
	char why[WHY_MAX];          /* why not recording; "" when recording */
	char last_message[WHY_MAX + 16]; /* last state line logged */
};

static const char *state_name(enum st_rec_state s)
{
	return s == ST_REC_RECORDING ? "recording"
	       : s == ST_REC_PAUSED  ? "paused"
				     : "stopped";
}

static const char *reason_name(uint16_t r)
{
	static const char *const n[] = {
		[ST_REASON_NONE] = "",
		[ST_REASON_PERSON] = "paused by you",
		[ST_REASON_SERVER] = "paused by the organisation",
		[ST_REASON_LEASE] = "cannot reach server",
		[ST_REASON_CRASH] = "restarted after a crash",
		[ST_REASON_SPOOL_FULL] =
			("spool full: recording stopped until segments are sent"),
		[ST_REASON_FORGET] = "forgotten by you",
		[ST_REASON_LEVEL4] = "dropped by the filter",
		[ST_REASON_CORRUPT] = "corrupt segment quarantined",
		[ST_REASON_EXCLUDED] = "excluded application",
	};
	return r <= ST_REASON_MAX ? n[r] : "";
}

static void iso(uint64_t ns, char *out, size_t cap)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The uploader's part of status: states and counts only. */
static void upload_json(struct agent *a, json_t *o)
{
	size_t n = st_spool_count(a->spool);
	uint64_t bytes = st_spool_bytes(a->spool);
	json_object_set_new(o, "backlog",
			    json_pack("{s:I, s:I}", "segments", (json_int_t)n,
				      "bytes", (json_int_t)bytes));
	json_object_set_new(o, "gaps", json_integer((json_int_t)a->gaps));
	json_object_set_new(o, "quarantined",
			    json_integer((json_int_t)st_spool_quarantined(a->spool)));
	if (!a->up) {
		json_object_set_new(o, "last_upload", json_null());
		json_object_set_new(o, "uploaded", json_integer(0));
		json_object_set_new(o, "refused", json_integer(0));
		json_object_set_new(o, "upload_state",
				    json_string("off (development mode: no server)"));
		return;
	}
	struct st_upload_stats u;
	st_upload_stats(a->up, &u);
	char t[32], state[96];
	if (u.last_upload_wall_ns) {
		iso(u.last_upload_wall_ns, t, sizeof t);
		json_object_set_new(o, "last_upload", json_string(t));
	} else {
		json_object_set_new(o, "last_upload", json_null());
	}
	json_object_set_new(o, "uploaded", json_integer((json_int_t)u.uploaded));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)u.duplicates));
	json_object_set_new(o, "refused", json_integer((json_int_t)u.refused));
	json_object_set_new(o, "forgets_sent", json_integer((json_int_t)u.forgets_sent));
	switch (u.state) {
	case ST_UPLOAD_UPLOADING:
		snprintf(state, sizeof state, "uploading");
		break;
	case ST_UPLOAD_BACKOFF:
		iso(u.backoff_until_wall_ns, t, sizeof t);
		snprintf(state, sizeof state, "backing off until %s", t);
		break;
	case ST_UPLOAD_REVOKED:
		snprintf(state, sizeof state, "revoked");
		break;
	case ST_UPLOAD_HELD:
		snprintf(state, sizeof state, "held: segments from before the "
			 "pause wait until its confirm is sent");
		break;
	default:
		snprintf(state, sizeof state, "idle");
	}
	json_object_set_new(o, "upload_state", json_string(state));
	if (u.last_error[0] && u.state != ST_UPLOAD_IDLE &&
	    u.state != ST_UPLOAD_UPLOADING)
		json_object_set_new(o, "upload_error", json_string(u.last_error));
	if (u.notice_pending)
		json_object_set_new(o, "notice_pending", json_true());
}

/* Why the recorder is where it is: a spool-full stop is the recorder's
 * own; every other stop or pause is the one apply() chose. */
static const char *reason_of(const struct agent *a,
			     const struct st_recorder_stats *s)
{
	if (s->state == ST_REC_RECORDING)
		return reason_name(s->reason);
	if (s->reason == ST_REASON_SPOOL_FULL && s->blocked)
		return reason_name(ST_REASON_SPOOL_FULL);
	return a->why[0] ? a->why : reason_name(s->reason);
}

/* The line a person reads: "stopped: cannot reach server", or the
 * organisation's pause as it is ("paused by your organisation: ..."). */
static void message_of(const struct agent *a, const struct st_recorder_stats *s,
		       char *out, size_t cap)
{
	const char *why = reason_of(a, s);
	if (!strncmp(why, ORG_PAUSE_PREFIX, strlen(ORG_PAUSE_PREFIX)))
		snprintf(out, cap, "%s", why);
	else
		snprintf(out, cap, "%s%s%s", state_name(s->state),
			 why[0] ? ": " : "", why);
}

static const char *lease_state_name(enum st_leaser_state s)
{
	switch (s) {
	case ST_LEASER_RECORD:
		return "record";
	case ST_LEASER_PAUSE:
		return "pause";
	case ST_LEASER_EXPIRED:
		return "expired";
	case ST_LEASER_REVOKED:
		return "revoked";
	default:
		return "none";
	}
}

/* The control channel's part of status: states and counts only (the
 * pause's reason is the organisation's text, not recorded content). */
static json_t *lease_json(struct agent *a)
{
	if (!a->leaser)
		return json_pack("{s:s, s:I, s:s, s:I}", "state", "off", "seq",
				 (json_int_t)0, "reason",
				 "development mode: no lease, segments carry "
				 "lease sequence 0",
				 "valid_for_ms", (json_int_t)0);
	const struct st_leaser_view *v = &a->lv;
	uint64_t now = st_mono_ns(&st_clock_system), left = 0;
	if (v->valid_until_mono_ns > now)
		left = (v->valid_until_mono_ns - now) / 1000000u;
	const char *reason = v->state == ST_LEASER_PAUSE      ? v->reason
			     : v->state == ST_LEASER_EXPIRED  ? EXPIRED_REASON
			     : v->state == ST_LEASER_NONE     ? NO_LEASE_REASON
			     : v->state == ST_LEASER_REVOKED  ? REVOKED_REASON
							      : "";
	json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "state",
			      lease_state_name(v->state), "seq",
			      (json_int_t)v->seq, "reason", reason,
			      "valid_for_ms", (json_int_t)left, "refused",
			      (json_int_t)v->refused, "received",
			      (json_int_t)v->received, "confirmed_seq",
			      (json_int_t)v->confirmed_seq);
	if (v->state == ST_LEASER_PAUSE)
		json_object_set_new(o, "discard_unsent", json_boolean(v->discard));
	if (a->discarded)
		json_object_set_new(o, "segments_discarded",
				    json_integer((json_int_t)a->discarded));
	if (v->last_error[0])
		json_object_set_new(o, "last_error", json_string(v->last_error));
	return o;
}

static json_t *status_json(struct agent *a)
{
	struct st_recorder_stats s;
	st_recorder_stats(a->rec, &s);
	char since[32], message[WHY_MAX + 16];
	iso(s.since_wall_ns, since, sizeof since);
	const char *reason = reason_of(a, &s);
	message_of(a, &s, message, sizeof message);
	json_t *o = json_pack(
		"{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "ok", 1,
		"state", state_name(s.state), "since", since, "reason",
		reason, "segments_waiting",
		(json_int_t)st_spool_count(a->spool), "bytes_waiting",
		(json_int_t)st_spool_bytes(a->spool),
		"segments_sealed", (json_int_t)s.segments, "open_events",
		(json_int_t)s.open_events, "events_dropped",
		(json_int_t)s.events_dropped, "dev", a->id.dev);
	json_object_set_new(o, "message", json_string(message));
	if (a->person_paused)
		json_object_set_new(o, "paused_by_you", json_true());
	json_object_set_new(o, "lease", lease_json(a));
	upload_json(a, o);
	if (a->id.dev)
		json_object_set_new(o, "control",
				    json_string("development mode: not under any "
						"organisation's control"));
	if (a->person_paused && a->pause_until_mono) {
		uint64_t now = st_mono_ns(&st_clock_system);
		uint64_t left = a->pause_until_mono > now
					? (a->pause_until_mono - now) / 1000000000u
					: 0;
		json_object_set_new(o, "resumes_in_s", json_integer((json_int_t)left));
	}
	return o;
}

/* Every event the capture handed the recorder so far, kept or not. */
static uint64_t events_seen(struct st_recorder *rec)
{
	struct st_recorder_stats s;
	st_recorder_stats(rec, &s);
	return s.events_in + s.events_dropped + s.motion_coalesced;
}

static void write_state(struct agent *a)
{
	json_t *o = status_json(a);
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (txt) {
		size_t n = strlen(txt);
		txt[n] = '\n';
		/* 0644: a tray indicator of the same person reads it; it holds
		 * states and counts only. Replaced whole but not synced: it is
		 * rewritten every 2 s and at start, and two fsyncs each time
		 * were a tenth of the agent's CPU. */
		st_file_replace(a->cfg->paths->state_file, txt, n + 1, 0644,
				NULL);
		free(txt);
	}
	a->state_written_mono = st_mono_ns(&st_clock_system);
	struct st_recorder_stats s;
	st_recorder_stats(a->rec, &s);
	char message[sizeof a->last_message];
	message_of(a, &s, message, sizeof message);
	if ((s.state != a->last_state || strcmp(message, a->last_message)) &&
	    a->cfg->log) {
		fprintf(a->cfg->log, "sealtrace-agent: %s\n", message);
		fflush(a->cfg->log);
	}
	snprintf(a->last_message, sizeof a->last_message, "%s", message);
	a->last_state = s.state;
}

/* What the recorder must do now, and why: the first that holds of a
 * revocation, a pending notice, the organisation's pause, the person's
 * own pause, no valid lease. The person's pause is never ended by the
 * server: a record lease only lifts what the server set. */
static enum st_rec_state desired(struct agent *a, uint16_t *reason)
{
	*reason = ST_REASON_SERVER;
	if (a->revoked_stopped) {
		snprintf(a->why, sizeof a->why, "%s", REVOKED_REASON);
		return ST_REC_STOPPED;
	}
	if (a->notice_stopped) {
		snprintf(a->why, sizeof a->why, "%s", NOTICE_REASON);
		return ST_REC_STOPPED;
	}
	if (a->leaser && a->lv.state == ST_LEASER_PAUSE) {
		snprintf(a->why, sizeof a->why, ORG_PAUSE_PREFIX "%s",
			 a->lv.reason[0] ? a->lv.reason : "no reason given");
		return ST_REC_PAUSED;
	}
	if (a->person_paused) {
		*reason = ST_REASON_PERSON;
		snprintf(a->why, sizeof a->why, "%s", reason_name(ST_REASON_PERSON));
		return ST_REC_PAUSED;
	}
	if (a->leaser && a->lv.state != ST_LEASER_RECORD) {
		*reason = ST_REASON_LEASE;
		snprintf(a->why, sizeof a->why, "%s",
			 a->lv.state == ST_LEASER_NONE ? NO_LEASE_REASON
						       : EXPIRED_REASON);
		return ST_REC_STOPPED;
	}
	*reason = ST_REASON_NONE;
	a->why[0] = 0;
	return ST_REC_RECORDING;
}

static enum st_leaser_report report_of(const struct agent *a,
				       enum st_rec_state want)
{
	if (want == ST_REC_RECORDING)
		return ST_LEASER_REPORT_RECORDING;
	if (want == ST_REC_PAUSED)
		return a->leaser && a->lv.state == ST_LEASER_PAUSE
			       ? ST_LEASER_REPORT_PAUSED
			       : ST_LEASER_REPORT_PAUSED_BY_PERSON;
	return ST_LEASER_REPORT_STOPPED;
}

/* A pause lease, once: the recorder has stopped and sealed what was open
 * (under the lease it was recorded under); with discard_unsent the unsent
 * recording from before the pause is deleted; then the confirm names the
 * highest segment kept from before it (with discard: below the first one
 * deleted), and segment uploads wait until a poll carries that confirm. */
static void obey_pause(struct agent *a)
{
	struct st_error e = {0};
	uint64_t seq = a->lv.seq;
	struct st_recorder_stats s;
	st_recorder_stats(a->rec, &s);
	if (s.last_seq > a->highest_seq)
		a->highest_seq = s.last_seq;
	uint64_t last = a->highest_seq;
	size_t removed = 0;
	if (a->lv.discard) {
		uint64_t first = 0;
		if (st_recorder_discard_unsent(a->rec, seq, &removed, &first,
					       &e) < 0 &&
		    a->cfg->log)
			fprintf(a->cfg->log, "sealtrace-agent: deleting unsent "
				"segments for the pause failed: %s\n", e.msg);
		if (first)
			last = first - 1;
		a->discarded += removed;
	}
	a->obeyed_pause_seq = seq;
	st_leaser_confirm(a->leaser, seq, last);
	if (a->cfg->log) {
		fprintf(a->cfg->log, "sealtrace-agent: pause of lease %" PRIu64
			" obeyed%s; %zu unsent segments deleted; confirming "
			"segments up to %" PRIu64 "\n",
			seq, a->lv.discard ? " with discard_unsent" : "",
			removed, last);
		fflush(a->cfg->log);
	}
}

/* Brings the recorder (and capture) to what desired() says, obeys a new
 * pause lease, holds uploads while its confirm is outstanding and tells
 * the control channel what the agent does. Call after anything changed
 * and on every wake-up: a lease that ran out is seen here. */
static int apply(struct agent *a, struct st_error *err)
{
	if (a->leaser) {
		st_leaser_view(a->leaser, &a->lv);
		if (a->lv.state == ST_LEASER_REVOKED)
			a->revoked_stopped = true;
	}
	uint16_t reason;
	enum st_rec_state want = desired(a, &reason);
	struct st_recorder_stats s;
	st_recorder_stats(a->rec, &s);
	bool spool_full = s.state == ST_REC_STOPPED &&
			  s.reason == ST_REASON_SPOOL_FULL && s.blocked;
	int rc = 0;
	struct st_error ce = {0};
	if (want == ST_REC_RECORDING) {
		/* segments carry the lease they are recorded under: a new
		 * sequence cuts the open segment first */
		if (a->leaser)
			rc = st_recorder_set_lease_seq(a->rec, a->lv.seq, err);
		if (rc == 0 && s.state != ST_REC_RECORDING && !spool_full) {
			rc = st_capture_set_paused(a->cap, false, err);
			if (rc == 0)
				rc = st_recorder_resume(a->rec, err);
		}
	} else if (!spool_full && (s.state != want || s.reason != reason)) {
		rc = want == ST_REC_PAUSED ? st_recorder_pause(a->rec, reason, err)
					   : st_recorder_stop(a->rec, reason, err);
		st_capture_set_paused(a->cap, true, &ce);
	} else if (spool_full && s.state != want) {
		st_capture_set_paused(a->cap, true, &ce);
	}
	if (a->leaser) {
		if (a->lv.state == ST_LEASER_PAUSE && a->lv.seq > a->obeyed_pause_seq)
			obey_pause(a);
		/* segments from before the pause wait until the confirm is
		 * on its way; one that still reaches the server before it is
		 * refused "paused" and retried (upload.h), not lost. Waiting
		 * for the answer would wait a whole hold (the server holds
		 * that poll up to lease_hold_s). */
		bool hold = a->obeyed_pause_seq > a->lv.confirm_sent_seq;
		if (hold != a->upload_held) {
			st_upload_hold(a->up, hold);
			a->upload_held = hold;
		}
		st_leaser_report(a->leaser, report_of(a, want));
	}
	return rc;
}

static int do_pause(struct agent *a, uint64_t seconds, struct st_error *err)
{
	a->person_paused = true;
	a->pause_until_mono =
		seconds ? st_mono_ns(&st_clock_system) + seconds * 1000000000ull : 0;
	return apply(a, err);
}

/* The person's pause ends; recording starts again only if nothing else
 * holds it (the organisation's pause, a notice, a revocation, no lease):
 * then the answer says what does. */
static int do_resume(struct agent *a, struct st_error *err)
{
	a->person_paused = false;
	a->pause_until_mono = 0;
	int rc = apply(a, err);
	if (rc < 0)
		return rc;
	struct st_recorder_stats s;
	st_recorder_stats(a->rec, &s);
	if (s.state == ST_REC_RECORDING)
		return 0;
	if (s.blocked)
		return st_fail(err, ST_E_SPOOL_FULL,
			       "cannot resume: the spool is full; recording "
			       "starts again when segments are sent");
	int code = a->revoked_stopped || a->notice_stopped ? ST_E_CONSENT
		   : a->leaser && a->lv.state == ST_LEASER_PAUSE ? ST_E_PAUSED
								 : ST_E_STATE;
	return st_fail(err, code, "cannot resume: %s%s", a->why,
		       code == ST_E_PAUSED
			       ? " (your own pause is lifted; recording starts "
				 "again when the organisation resumes)"
		       : code == ST_E_STATE
			       ? " (recording starts again with the next lease)"
			       : "");
}

/* Stops recording for a reason the organisation's side set (a pending
 * notice, a revoked device): like a pause, but resume cannot end it. */
static void server_stop(struct agent *a)
{
	struct st_error e = {0};
	apply(a, &e);
	write_state(a);
}

/* Follows the uploader: a new notice or a revocation stops recording; an
 * accepted new notice ends the run with a reload. */
static void follow_upload(struct agent *a)
{
	if (!a->up)
		return;
	size_t n = st_spool_count(a->spool);
	if (n > a->last_count)
		st_upload_kick(a->up);
	a->last_count = n;
	struct st_upload_stats u;
	st_upload_stats(a->up, &u);
	if (u.state == ST_UPLOAD_REVOKED && !a->revoked_stopped) {
		a->revoked_stopped = true;
		server_stop(a);
	}
	if (u.notice_pending && !a->notice_stopped) {
		a->notice_stopped = true;
		server_stop(a);
	}
	uint64_t now = st_mono_ns(&st_clock_system);
	if (!a->notice_stopped || now - a->notice_checked_mono < STATE_REFRESH_NS)
		return;
	a->notice_checked_mono = now;
	char path[ST_PATH_MAX];
	st_agent_path(a->cfg->paths, ST_PENDING_NOTICE, path);
	if (access(path, F_OK) == 0)
		return;
	/* accept moved the pending notice into place: reload when its
	 * acceptance loads (the uploader's flag clears only with a new run) */
	struct st_agent_identity id;
	if (st_identity_load(a->cfg->paths, &id, NULL) == 0) {
		a->reload = true;
		st_identity_fini(&id);
	}
}

static void handle_client(struct agent *a, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* only the person who runs the agent may control it */
	struct ucred cr;
	socklen_t cl = sizeof cr;
	char line[ST_CONTROL_LINE_MAX + 1];
	size_t got = 0;
	struct st_error err = {0};
	json_t *reply = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
	    (cr.uid != getuid() && cr.uid != 0)) {
		st_fail(&err, ST_E_STATE, "only the person recorded controls "
					  "this agent");
		goto answer;
	}
	while (got < ST_CONTROL_LINE_MAX) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, CONTROL_READ_MS) <= 0)
			break;
		ssize_t r = read(fd, line + got, ST_CONTROL_LINE_MAX - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(line, '\n', got))
			break;
	}
	struct st_control_req req;
	if (st_control_parse(line, got, &req, &err) < 0)
		goto answer;
	int rc = 0;
	switch (req.cmd) {
	case ST_CTL_STATUS:
		break;
	case ST_CTL_PAUSE:
		rc = do_pause(a, req.seconds, &err);
		break;
	case ST_CTL_RESUME:
		if (!a->person_paused)
			break;
		rc = do_resume(a, &err);
		break;
	case ST_CTL_FORGET: {
		uint64_t now = st_wall_ns(&st_clock_system);
		uint64_t since = now - req.minutes * 60000000000ull;
		size_t removed = 0;
		for (int i = 0; i < FORGET_TRIES; i++) {
			size_t r = 0;
			memset(&err, 0, sizeof err);
			rc = st_recorder_forget(a->rec, since, &r, &err);
			removed += r;
			if (rc != ST_E_NOT_FOUND)
				break;
		}
		/* what was already sent becomes a deletion request for the
		 * server, sent by the uploader */
		if (rc == 0)
			rc = st_forget_request_add(a->cfg->paths, since, now,
						   &err);
		if (rc == 0)
			st_upload_kick(a->up);
		if (rc == 0) {
			reply = status_json(a);
			json_object_set_new(reply, "segments_deleted",
					    json_integer((json_int_t)removed));
		}
		break;
	}
	case ST_CTL_FLUSH:
		rc = st_recorder_cut(a->rec, &err);
		break;
	}
	if (rc < 0)
		goto answer;
	write_state(a);
answer:
	if (!reply)
		reply = err.code ? json_pack("{s:b, s:s}", "ok", 0, "error", err.msg)
				 : status_json(a);
	char *txt = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (txt) {
		size_t n = strlen(txt);
		txt[n] = '\n';
		ssize_t w = write(fd, txt, n + 1);
		(void)w;
		free(txt);
	}
	close(fd);
}

static int socket_dir(const struct st_run_cfg *cfg, struct st_error *err)
{
	char run[ST_PATH_MAX];
	st_agent_path(cfg->paths, "run", run);
	if (strncmp(cfg->paths->socket, run, strlen(run)) == 0)
		return st_dir_private(run, err);
	return 0;
}

static int filter_cb(void *ctx, struct st_events *open, size_t *carry_from,
		     uint8_t *level, struct st_error *err)
{
	return st_filter_apply(ctx, open, true, carry_from, level, err);
}

/* The on-device filter, configured from the accepted policy. */
static int make_filter(struct agent *a, struct st_error *err)
{
	const struct st_policy *p = &a->id.policy;
	char dir[ST_PATH_MAX];
	snprintf(dir, sizeof dir, "%s",
		 a->cfg->data_dir ? a->cfg->data_dir : ST_DATADIR "/filter");
	int rc = st_detector_new(dir, &a->det, err);
	if (rc < 0)
		return rc;
	struct st_filter_title_rule rules[ST_FILTER_TITLE_RULES_MAX];
	struct st_filter_cfg fc;
	st_filter_cfg_from_policy(p, 0, rules, &fc);
	return st_filter_new(&fc, a->det, &a->filter, err);
}

int st_agent_run(const struct st_run_cfg *cfg, bool *reload,
		 struct st_error *err)
{
	struct agent a;
	int rc, lfd = -1, sfd = -1;
	memset(&a, 0, sizeof a);
	if (reload)
		*reload = false;
	a.cfg = cfg;
	/* no core dumps, no ptrace by other users: the process holds
	 * plaintext and the device key */
	prctl(PR_SET_DUMPABLE, 0);
	if ((rc = st_identity_load(cfg->paths, &a.id, err)) < 0)
		return rc;
	if (a.id.dev && !cfg->dev) {
		rc = st_fail(err, ST_E_STATE,
			     "this agent was enrolled with --local (development "
			     "mode, not under any organisation's control); run "
			     "it with --dev");
		goto out;
	}
	struct st_spool_cfg sc = {.dir = cfg->paths->spool,
				  .max_bytes = cfg->spool_max,
				  .device_pk = a.id.device_pk};
	struct st_spool_recovery recov;
	if ((rc = st_spool_open(&sc, &a.spool, &recov, err)) < 0)
		goto out;
	a.gaps = recov.missing;
	a.last_count = st_spool_count(a.spool);
	if (!a.id.dev) {
		char url[1024], ca[ST_PATH_MAX];
		if ((rc = st_server_config(cfg->paths, url, sizeof url, ca,
					   err)) < 0)
			goto out;
		struct st_client_cfg cc = {.url = url, .ca_file = ca};
		if ((rc = st_upload_transport_client(&cc, &a.transport, err)) < 0)
			goto out;
		struct st_upload_cfg uc = {.paths = cfg->paths,
					   .spool = a.spool,
					   .transport = a.transport,
					   .id = &a.id,
					   .backoff_min_ms = cfg->backoff_min_ms,
					   .backoff_max_ms = cfg->backoff_max_ms,
					   .notice_check_ms = cfg->notice_check_ms};
		if ((rc = st_upload_new(&uc, &a.up, err)) < 0)
			goto out;
		/* the control channel: its own connection (a held poll must
		 * never wait behind an upload), a timeout above the server's
		 * hold, and the lease key pinned at enrollment */
		uint8_t lease_pk[32];
		if ((rc = st_lease_key_load(cfg->paths, lease_pk, err)) < 0)
			goto out;
		struct st_upload_transport *lt;
		struct st_client_cfg lc = {.url = url, .ca_file = ca,
					   .timeout_ms = ST_LEASER_TIMEOUT_MS_DEFAULT,
					   .answer_max = ST_LEASER_ANSWER_MAX};
		if ((rc = st_upload_transport_client(&lc, &lt, err)) < 0)
			goto out;
		/* --backoff-*-ms shorten the lease retries too, never
		 * lengthen them past the leaser's own maximum */
		uint64_t lmax = cfg->backoff_max_ms &&
					cfg->backoff_max_ms < ST_LEASER_BACKOFF_MAX_MS_DEFAULT
				? cfg->backoff_max_ms
				: ST_LEASER_BACKOFF_MAX_MS_DEFAULT;
		uint64_t lmin = cfg->backoff_min_ms ? cfg->backoff_min_ms
						    : ST_LEASER_BACKOFF_MIN_MS_DEFAULT;
		if (lmin > lmax)
			lmin = lmax;
		struct st_leaser_cfg lcfg = {.device_id = a.id.device_id,
					     .device_sk = a.id.device_sk,
					     .lease_pk = lease_pk,
					     .transport = lt, /* owned from here */
					     .backoff_min_ms = lmin,
					     .backoff_max_ms = lmax};
		if ((rc = st_leaser_new(&lcfg, &a.leaser, err)) < 0)
			goto out;
	}
	a.highest_seq = recov.next_seq ? recov.next_seq - 1 : 0;
	bool crashed = access(cfg->paths->running, F_OK) == 0;
	st_file_write_atomic(cfg->paths->running, "", 0, 0600, NULL);

	const struct st_capture_type *type = st_capture_type_find(cfg->backend);
	if (!type) {
		rc = st_fail(err, ST_E_INVAL,
			     "unknown backend '%s'; use x11 or eventfile",
			     cfg->backend ? cfg->backend : "");
		goto out;
	}
	struct st_recorder_cfg rcfg = {
		.clock = &st_clock_system,
		.tick_ns = type->tick_ns,
		.wall_times = type->wall_times,
		.segment_ns = cfg->segment_ns,
		.idle_ns = cfg->idle_ns,
		.motion_hz = cfg->motion_hz,
		.person_pk = a.id.person_pk,
		.device_sk = a.id.device_sk,
		.spool = a.spool,
	};
	memcpy(rcfg.seal.device_id, a.id.device_id, 16);
	memcpy(rcfg.seal.person_id, a.id.person_id, 16);
	memcpy(rcfg.seal.notice_hash, a.id.notice_hash, 32);
	/* development mode records under lease sequence 0, which every
	 * server refuses; under a server nothing is recorded before the first
	 * lease, whose sequence apply() sets */
	rcfg.seal.lease_seq = 0;
	if (a.leaser) {
		rcfg.start_state = ST_REC_STOPPED;
		rcfg.start_reason = ST_REASON_LEASE;
		snprintf(a.why, sizeof a.why, "%s", NO_LEASE_REASON);
	}
	if ((rc = make_filter(&a, err)) < 0)
		goto out;
	rcfg.filter = filter_cb;
	rcfg.filter_ctx = a.filter;
	if ((rc = st_recorder_new(&rcfg, &a.rec, err)) < 0)
		goto out;
	if (crashed)
		st_recorder_gap(a.rec, ST_REASON_CRASH, NULL);
	if (recov.quarantined)
		st_recorder_gap(a.rec, ST_REASON_CORRUPT, NULL);

	struct st_capture_cfg ccfg = {.kinds = a.id.kinds,
				      .display = cfg->display,
				      .path = cfg->eventfile,
				      .speed = cfg->speed};
	if ((rc = st_capture_new(type, &ccfg, &a.cap, err)) < 0)
		goto out;
	if (cfg->log) {
		fprintf(cfg->log,
			"sealtrace-agent: started (%s backend)%s; spool: %zu waiting, "
			"%zu partial removed, %zu quarantined%s\n",
			type->name,
			a.id.dev ? "; development mode: not under any "
				   "organisation's control"
				 : "",
			recov.intact, recov.partial_removed, recov.quarantined,
			crashed ? "; restarted after an unclean stop" : "");
	}
	if ((rc = socket_dir(cfg, err)) < 0 ||
	    (rc = st_control_listen(cfg->paths->socket, &lfd, err)) < 0)
		goto out;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* blocked before the uploader thread starts, so it inherits the
	 * mask and the signals reach the signalfd here */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a.last_state = 0;
	if (a.up) {
		if ((rc = st_upload_start(a.up, err)) < 0)
			goto out;
		if (cfg->log)
			fprintf(cfg->log, "sealtrace-agent: uploader started\n");
	}
	if (a.leaser) {
		if ((rc = apply(&a, err)) < 0 ||
		    (rc = st_leaser_start(a.leaser, err)) < 0)
			goto out;
		if (cfg->log)
			fprintf(cfg->log, "sealtrace-agent: control channel "
				"started: recording waits for a lease from the "
				"server\n");
	}
	/* a notice fetched before a restart still waits: stopped at once */
	follow_upload(&a);
	if ((rc = apply(&a, err)) < 0)
		goto out;
	write_state(&a);

	struct st_capture_sink sink = st_recorder_sink(a.rec);
	bool stop = false;
	/* wake-up coalescing (st_run_cfg.batch_ms): X input is left unread
	 * until hold_until after a read that found some */
	uint64_t batch_ns = !strcmp(cfg->backend, "x11")
				    ? (uint64_t)cfg->batch_ms * 1000000u
				    : 0;
	uint64_t hold_until = 0;
	while (!stop) {
		follow_upload(&a);
		if (a.reload)
			break;
		uint64_t now = st_mono_ns(&st_clock_system);
		int64_t timeout = (int64_t)STATE_REFRESH_NS / 1000000;
		int ct = a.source_ended ? -1 : st_capture_timeout_ms(a.cap);
		if (ct >= 0 && ct < timeout)
			timeout = ct;
		uint64_t d = st_recorder_deadline_ns(a.rec);
		if (d != UINT64_MAX)
			timeout = d <= now ? 0
					   : ((int64_t)((d - now) / 1000000) + 1 < timeout
						      ? (int64_t)((d - now) / 1000000) + 1
						      : timeout);
		if (a.pause_until_mono) {
			int64_t left = a.pause_until_mono > now
					       ? (int64_t)((a.pause_until_mono - now) /
							   1000000) + 1
					       : 0;
			if (left < timeout)
				timeout = left;
		}
		/* the lease runs out on this loop's own timer: woken at its
		 * deadline (rounded up to the next ms), never by polling */
		if (a.leaser && a.lv.state == ST_LEASER_RECORD) {
			uint64_t dl = a.lv.valid_until_mono_ns;
			int64_t left = dl > now ? (int64_t)((dl - now + 999999) /
							    1000000)
						: 0;
			if (left < timeout)
				timeout = left;
		}
		bool hold = !a.source_ended && now < hold_until;
		if (hold) {
			int64_t left = (int64_t)((hold_until - now + 999999) /
						 1000000);
			if (left < timeout)
				timeout = left;
		}
		bool x_off = a.source_ended || hold;
		struct pollfd p[5] = {{.fd = sfd, .events = POLLIN},
				      {.fd = lfd, .events = POLLIN},
				      {.fd = x_off ? -1 : st_capture_fd(a.cap),
				       .events = POLLIN},
				      {.fd = x_off ? -1 : st_capture_fd2(a.cap),
				       .events = POLLIN},
				      {.fd = a.leaser ? st_leaser_fd(a.leaser) : -1,
				       .events = POLLIN}};
		int n = poll(p, 5, (int)timeout);
		if (n < 0 && errno != EINTR) {
			rc = st_fail(err, st_errno(errno), "poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents & POLLIN)
			stop = true;
		/* before any event is taken: a pause or an expiry stops the
		 * recorder first, so nothing captured after it is kept */
		if ((rc = apply(&a, err)) < 0)
			break;
		/* read what came when the hold is up, and before a control
		 * request or a stop: a flush seals, and status counts, every
		 * event the display sent before it */
		if (!a.source_ended && hold &&
		    (st_mono_ns(&st_clock_system) >= hold_until ||
		     (p[0].revents & POLLIN) || (p[1].revents & POLLIN)))
			hold = false;
		if (!a.source_ended && !hold) {
			uint64_t seen = batch_ns ? events_seen(a.rec) : 0;
			rc = st_capture_dispatch(a.cap, &sink, err);
			if (batch_ns && rc >= 0)
				hold_until = events_seen(a.rec) != seen
						     ? st_mono_ns(&st_clock_system) +
							       batch_ns
						     : 0;
			if (rc == ST_CAPTURE_END) {
				a.source_ended = true;
				if (cfg->exit_at_end)
					stop = true;
				rc = 0;
			} else if (rc < 0) {
				break;
			}
		}
		if (p[1].revents & POLLIN)
			handle_client(&a, lfd);
		if (a.person_paused && a.pause_until_mono &&
		    st_mono_ns(&st_clock_system) >= a.pause_until_mono) {
			/* the person's pause ends; anything else that holds
			 * recording (apply) still does */
			a.person_paused = false;
			a.pause_until_mono = 0;
			if ((rc = apply(&a, err)) < 0)
				break;
		}
		if ((rc = st_recorder_tick(a.rec, err)) < 0)
			break;
		struct st_recorder_stats s;
		st_recorder_stats(a.rec, &s);
		if (s.state != a.last_state || (p[4].revents & POLLIN) ||
		    st_mono_ns(&st_clock_system) - a.state_written_mono >=
			    STATE_REFRESH_NS)
			write_state(&a);
	}
	/* the control channel ends first (a held poll is left to end by
	 * itself), then the uploader, before the spool it shares closes */
	st_leaser_free(a.leaser);
	a.leaser = NULL;
	st_upload_stop(a.up);
	struct st_error cerr = {0};
	int crc = st_recorder_close(a.rec, &cerr);
	a.rec = NULL;
	if (rc == 0 && crc < 0) {
		rc = crc;
		*err = cerr;
	}
	if (rc == 0)
		unlink(cfg->paths->running);
	if (cfg->log)
		fprintf(cfg->log, "sealtrace-agent: %s; %zu segments waiting\n",
			a.reload ? "the new notice was accepted: restarting "
				   "with its policy"
				 : "stopped",
			st_spool_count(a.spool));
	if (reload)
		*reload = a.reload && rc == 0;
	{
		/* the tray must not show a stale "recording" */
		char line[256];
		int n = snprintf(line, sizeof line,
				 "{\"ok\":true,\"state\":\"stopped\",\"reason\":"
				 "\"agent not running\",\"segments_waiting\":%zu}\n",
				 st_spool_count(a.spool));
		st_file_write_atomic(cfg->paths->state_file, line, (size_t)n, 0644,
				     NULL);
	}
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(cfg->paths->socket);
	}
	if (sfd >= 0)
		close(sfd);
	if (a.rec)
		st_recorder_free(a.rec);
	st_leaser_free(a.leaser);
	st_upload_free(a.up); /* stops its thread first */
	st_upload_transport_free(a.transport);
	st_capture_free(a.cap);
	st_filter_free(a.filter);
	st_detector_free(a.det);
	if (a.spool)
		st_spool_close(a.spool);
	st_identity_fini(&a.id);
	return rc;
}
