/* recorder.h - owns the open segment: maps capture times to the segment's
 * ticks, coalesces motion, adds session/idle/gap markers, cuts, seals and
 * spools. The open segment lives in locked memory until it is sealed, so the
 * privacy filter can still rewrite it. Never talks to a display or a server,
 * never logs content. */
#ifndef ST_RECORDER_H
#define ST_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/capture.h"
#include "agent/spool.h"
#include "core/clock.h"
#include "core/seal.h"

#define ST_SEGMENT_SECONDS_DEFAULT 60
#define ST_SEGMENT_EVENTS_CAP 200000 /* cut early past this many events */
#define ST_IDLE_SECONDS_DEFAULT 300
#define ST_MOTION_HZ_MAX 60

enum st_rec_state {
	ST_REC_RECORDING = 1,
	ST_REC_PAUSED = 2,  /* by the person or the organisation */
	ST_REC_STOPPED = 3, /* cannot record: spool full, no lease, ... */
};

/* Rewrites the open segment just before it is sealed (the privacy filter).
 * With carry_from given (a cut by time or size), the filter may name the
 * first event of a line still being typed: events from there move into the
 * next segment. With carry_from NULL (pause, flush, stop) it judges
 * everything now. *level receives the segment's level (1-3; 0: let the
 * recorder decide). */
typedef int (*st_recorder_filter_fn)(void *ctx, struct st_events *open,
				     size_t *carry_from, uint8_t *level,
				     struct st_error *err);

struct st_recorder_cfg {
	const struct st_clock *clock;
	uint32_t tick_ns;      /* the capture's resolution */
	bool wall_times;       /* capture times are Unix wall time already */
	uint64_t segment_ns;   /* cut after this long (0 = default 60 s) */
	uint32_t max_events;   /* cut at this many (0 = ST_SEGMENT_EVENTS_CAP) */
	uint64_t idle_ns;      /* quiet time before idle_start (0 = default) */
	uint32_t motion_hz;    /* pointer samples per second at most (0 = 60) */
	struct st_seal_params seal; /* ids, notice hash, lease seq; level and
				       seq are set per segment */
	const uint8_t *person_pk;   /* 32 bytes */
	const uint8_t *device_sk;   /* 64 bytes, secret memory */
	struct st_spool *spool;
	st_recorder_filter_fn filter;
	void *filter_ctx;
	/* ST_REC_STOPPED: start stopped for start_reason (an agent under a
	 * server waits for its first lease) and open nothing until resumed;
	 * 0 = start recording. */
	enum st_rec_state start_state;
	uint16_t start_reason;
};

struct st_recorder_stats {
	enum st_rec_state state;
	uint16_t reason;         /* enum st_gap_reason */
	uint64_t since_wall_ns;  /* when the state began */
	uint64_t events_in;      /* accepted from capture */
	uint64_t events_dropped; /* while paused or stopped */
	uint64_t motion_coalesced;
	uint64_t open_events;    /* in the open segment now */
	uint64_t segments;       /* sealed and spooled by this process */
	uint64_t sealed_bytes;
	bool blocked;            /* a sealed segment waits for spool room */
	uint64_t last_seq;       /* highest segment seq sealed here; 0 none */
	uint64_t lease_seq;      /* the lease sequence new segments carry */
};

struct st_recorder;

int st_recorder_new(const struct st_recorder_cfg *cfg, struct st_recorder **out,
		    struct st_error *err);
/* Seals what is open (unless it is empty) and frees everything. */
int st_recorder_close(struct st_recorder *r, struct st_error *err);
void st_recorder_free(struct st_recorder *r);

/* The capture sink. Dropped (and counted) unless recording. */
int st_recorder_event(struct st_recorder *r, const struct st_cap_event *ev,
		      struct st_error *err);
struct st_capture_sink st_recorder_sink(struct st_recorder *r);

/* Runs timers: motion flush, idle start, time cut, retry of a blocked put.
 * Call when st_recorder_deadline_ns passes (monotonic ns, UINT64_MAX: none). */
int st_recorder_tick(struct st_recorder *r, struct st_error *err);
uint64_t st_recorder_deadline_ns(const struct st_recorder *r);

/* Seals and spools the open segment now (flush). */
int st_recorder_cut(struct st_recorder *r, struct st_error *err);
/* Pause: pause marker, cut; events are dropped until resume. */
int st_recorder_pause(struct st_recorder *r, uint16_t reason,
		      struct st_error *err);
int st_recorder_resume(struct st_recorder *r, struct st_error *err);
/* Stop (cannot record, e.g. no lease): like pause but state STOPPED. */
int st_recorder_stop(struct st_recorder *r, uint16_t reason,
		     struct st_error *err);
/* Records a gap marker (crash, corrupt, ...) at the current time. */
int st_recorder_gap(struct st_recorder *r, uint16_t reason,
		    struct st_error *err);
/* Deletes the unsent recording since wall time since_ns: events of the open
 * segment from then on, and spooled segments whose minutes reach it. Leaves
 * a gap marker. *removed gets the number of spooled segments deleted. */
int st_recorder_forget(struct st_recorder *r, uint64_t since_ns,
		       size_t *removed, struct st_error *err);

/* Sets the lease sequence the segments carry (core/seal.h). When it
 * changes, the open segment is sealed first, under the old one, so every
 * segment carries the lease it was recorded under; if that seal fails its
 * events are dropped (a gap marker says so), never relabelled. */
int st_recorder_set_lease_seq(struct st_recorder *r, uint64_t lease_seq,
			      struct st_error *err);

/* A pause with discard_unsent: deletes the recording not yet sent that was
 * made under a lease below below_lease_seq: the open segment's events, a
 * sealed segment waiting for spool room and spooled segments. Segments
 * the uploader removed meanwhile count as sent. *removed: spooled (or
 * waiting) segments deleted; *first_removed: the lowest seq deleted (0
 * when none). Leaves a gap marker (ST_REASON_SERVER). */
int st_recorder_discard_unsent(struct st_recorder *r, uint64_t below_lease_seq,
			       size_t *removed, uint64_t *first_removed,
			       struct st_error *err);

void st_recorder_stats(const struct st_recorder *r,
		       struct st_recorder_stats *out);

#endif
