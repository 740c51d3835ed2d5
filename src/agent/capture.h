/* capture.h - owns the capture interface: a small type struct per backend
 * (x11, eventfile; evdev later) and the generic front that checks every call.
 * A backend never seals, stores or filters: it hands each event to a sink. */
#ifndef ST_CAPTURE_H
#define ST_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"

/* What the accepted notice allows a backend to capture. A backend must not
 * even ask the source for a kind that is off (no key events selected when
 * keys is off, no title read when titles is off). */
struct st_capture_kinds {
	bool pointer; /* motion, buttons, scroll */
	bool keys;    /* key codes */
	bool text;    /* the text a key produced */
	bool titles;  /* window titles */
	bool apps;    /* app id, class, pid */
};

struct st_capture_cfg {
	struct st_capture_kinds kinds;
	const char *display;   /* x11: NULL = $DISPLAY */
	const char *path;      /* eventfile: the JSON Lines file */
	double speed;          /* eventfile: 1 = recorded speed, 0 = at once */
};

/* One captured event. Strings are borrowed for the duration of the sink
 * call; e.u.* string ids are ignored (the recorder interns these). t_ns is
 * the source's monotonic time in ns (arbitrary epoch, never going back). */
struct st_cap_event {
	struct st_event e;
	uint64_t t_ns;
	const char *text; /* key text (UTF-8), or NULL */
	size_t text_len;
	const char *app, *cls, *title; /* focus, each NULL if absent */
	size_t app_len, cls_len, title_len;
};

struct st_capture_sink {
	int (*event)(void *ctx, const struct st_cap_event *ev,
		     struct st_error *err);
	void *ctx;
};

struct st_capture;

/* The backend's operations (after tlog's reader types). */
struct st_capture_type {
	const char *name;
	size_t size;      /* instance size, header struct st_capture first */
	uint32_t tick_ns; /* resolution of the source's times */
	/* t_ns is Unix wall time (a replayed file), not a source clock: the
	 * recorder then uses it as is, so equal input gives equal segments */
	bool wall_times;
	int (*init)(struct st_capture *cap, const struct st_capture_cfg *cfg,
		    struct st_error *err);
	/* fini is also called after a failed init: it copes with a partly
	 * initialised instance (fields still zero). */
	/* fd to poll for input, or -1 */
	int (*fd)(struct st_capture *cap);
	/* a second fd to poll (x11: the control connection), or -1; NULL
	 * when the backend has none */
	int (*fd2)(struct st_capture *cap);
	/* ms until the backend wants dispatch called without input (-1: none) */
	int (*timeout_ms)(struct st_capture *cap);
	/* Handles what is ready. Returns 0, ST_CAPTURE_END when the source has
	 * ended for good, or a negative st_err. */
	int (*dispatch)(struct st_capture *cap, const struct st_capture_sink *sink,
			struct st_error *err);
	/* Stops (or restarts) asking the source for input, where it can. */
	int (*set_paused)(struct st_capture *cap, bool paused,
			  struct st_error *err);
	void (*fini)(struct st_capture *cap);
};

#define ST_CAPTURE_END 1

struct st_capture {
	const struct st_capture_type *type;
	struct st_capture_kinds kinds;
};

extern const struct st_capture_type st_capture_x11;
extern const struct st_capture_type st_capture_eventfile;

/* Looks a backend up by name ("x11", "eventfile"); NULL if unknown. */
const struct st_capture_type *st_capture_type_find(const char *name);

int st_capture_new(const struct st_capture_type *type,
		   const struct st_capture_cfg *cfg, struct st_capture **out,
		   struct st_error *err);
void st_capture_free(struct st_capture *cap);
int st_capture_fd(struct st_capture *cap);
int st_capture_fd2(struct st_capture *cap);
int st_capture_timeout_ms(struct st_capture *cap);
int st_capture_dispatch(struct st_capture *cap,
			const struct st_capture_sink *sink,
			struct st_error *err);
int st_capture_set_paused(struct st_capture *cap, bool paused,
			  struct st_error *err);

#endif
