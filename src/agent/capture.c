/* capture.c - the generic front over capture backends. */
#include "capture.h"

#include <stdlib.h>
#include <string.h>

const struct st_capture_type *st_capture_type_find(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "x11"))
		return &st_capture_x11;
	if (!strcmp(name, "eventfile"))
		return &st_capture_eventfile;
	return NULL;
}

int st_capture_new(const struct st_capture_type *type,
		   const struct st_capture_cfg *cfg, struct st_capture **out,
		   struct st_error *err)
{
	*out = NULL;
	if (!type || type->size < sizeof(struct st_capture) || !type->init ||
	    !type->dispatch || !type->fini)
		return st_fail(err, ST_E_INVAL, "capture: incomplete backend type");
	struct st_capture *cap = calloc(1, type->size);
	if (!cap)
		return st_fail(err, ST_E_NOMEM, "capture: out of memory");
	cap->type = type;
	cap->kinds = cfg->kinds;
	int rc = type->init(cap, cfg, err);
	if (rc < 0) {
		type->fini(cap); /* fini copes with a partial init */
		free(cap);
		return rc;
	}
	*out = cap;
	return 0;
}

void st_capture_free(struct st_capture *cap)
{
	if (!cap)
		return;
	cap->type->fini(cap);
	free(cap);
}

int st_capture_fd(struct st_capture *cap)
{
	return cap->type->fd ? cap->type->fd(cap) : -1;
}

int st_capture_fd2(struct st_capture *cap)
{
	return cap->type->fd2 ? cap->type->fd2(cap) : -1;
}

int st_capture_timeout_ms(struct st_capture *cap)
{
	return cap->type->timeout_ms ? cap->type->timeout_ms(cap) : -1;
}

/* Sink wrapper: the second guard of invariant 2. Whatever a backend hands
 * over, a kind the notice does not list never reaches the recorder. */
struct guard {
	const struct st_capture_sink *inner;
	struct st_capture_kinds k;
};

static int guard_event(void *ctx, const struct st_cap_event *ev,
		       struct st_error *err)
{
	struct guard *g = ctx;
	struct st_cap_event c = *ev;
	switch (ev->e.type) {
	case ST_EV_KEY_PRESS:
	case ST_EV_KEY_RELEASE:
		if (!g->k.keys)
			return 0;
		if (!g->k.text)
			c.text = NULL, c.text_len = 0;
		break;
	case ST_EV_POINTER:
	case ST_EV_BUTTON_PRESS:
	case ST_EV_BUTTON_RELEASE:
	case ST_EV_SCROLL:
		if (!g->k.pointer)
			return 0;
		break;
	case ST_EV_FOCUS:
		if (!g->k.titles)
			c.title = NULL, c.title_len = 0;
		if (!g->k.apps) {
			c.app = c.cls = NULL;
			c.app_len = c.cls_len = 0;
			c.e.u.focus.pid = 0;
		}
		break;
	default:
		break;
	}
	return g->inner->event(g->inner->ctx, &c, err);
}

int st_capture_dispatch(struct st_capture *cap,
			const struct st_capture_sink *sink,
			struct st_error *err)
{
	struct guard g = {sink, cap->kinds};
	struct st_capture_sink s = {guard_event, &g};
	return cap->type->dispatch(cap, &s, err);
}

int st_capture_set_paused(struct st_capture *cap, bool paused,
			  struct st_error *err)
{
	return cap->type->set_paused ? cap->type->set_paused(cap, paused, err)
				     : 0;
}
