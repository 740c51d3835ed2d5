/* fuzz_filter.c - libFuzzer target for the privacy filter: the input is a
 * script of typing, editing, clicks and focus changes between a normal, a
 * login, a private-chat and an excluded window; the filter must never crash,
 * keep events in time order, never grow the segment, and carry only what it
 * names. Data: FUZZ_DATA_DIR (the category lists). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"
#include "fuzz_check.h"

#define FUZZ_CHECK(c, what)                                                    \
	do {                                                                   \
		if (!(c))                                                      \
			fuzz_die(what, NULL);                                   \
	} while (0)

#ifndef FUZZ_DATA_DIR
#define FUZZ_DATA_DIR "data/filter"
#endif

static struct st_detector *det;
static struct st_filter *filt;

static void setup(void)
{
	static const char *const excl[] = {"*keepass*"};
	static const char *const priv[] = {"*signal*"};
	struct st_filter_title_rule rule = {"*secret project*", "Project"};
	struct st_filter_cfg c = {.exclude = excl, .n_exclude = 1,
				  .private_chat = priv, .n_private_chat = 1,
				  .title_rules = &rule, .n_title_rules = 1,
				  .keep_level = 2, .key_coarsen_ms = 50};
	struct st_error e = {0};
	if (st_detector_new(FUZZ_DATA_DIR, &det, &e) < 0 ||
	    st_filter_new(&c, det, &filt, &e) < 0) {
		fprintf(stderr, "fuzz_filter: %s\n", e.msg);
		abort();
	}
}

static void focus(struct st_events *evs, uint64_t t, unsigned w)
{
	static const char *const win[4][3] = {
		{"xterm", "XTerm", "bash - secret project"},
		{"firefox", "Firefox", "Sign in - Payroll"},
		{"signal", "Signal", "Chat"},
		{"keepassxc", "KeePassXC", "db.kdbx"},
	};
	struct st_event e = {.t = t, .type = ST_EV_FOCUS};
	st_events_intern(evs, win[w][0], strlen(win[w][0]), &e.u.focus.app, NULL);
	st_events_intern(evs, win[w][1], strlen(win[w][1]), &e.u.focus.cls, NULL);
	st_events_intern(evs, win[w][2], strlen(win[w][2]), &e.u.focus.title, NULL);
	e.u.focus.pid = 100 + w;
	st_events_push(evs, &e, NULL);
}

static void key(struct st_events *evs, uint64_t *t, uint32_t code,
		uint32_t sym, uint32_t mods, char c)
{
	struct st_event e = {.t = (*t += 7), .type = ST_EV_KEY_PRESS};
	e.u.key.keycode = code, e.u.key.keysym = sym, e.u.key.mods = mods;
	if (c)
		st_events_intern(evs, &c, 1, &e.u.key.text, NULL);
	st_events_push(evs, &e, NULL);
	e.type = ST_EV_KEY_RELEASE;
	e.u.key.text = 0;
	e.t = (*t += 5);
	st_events_push(evs, &e, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!filt)
		setup();
	if (size < 1 || size > 4096)
		return 0;
	struct st_events evs;
	st_events_init(&evs, true);
	evs.tick_ns = 1000000;
	uint64_t t = 0;
	focus(&evs, t, 0);
	for (size_t i = 1; i < size; i++) {
		uint8_t b = data[i], op = b % 16;
		char c = (char)(0x20 + (b / 16) * 6 % 95);
		if (op < 9)
			key(&evs, &t, 10 + (uint8_t)c % 80, (uint8_t)c, 0, c);
		else if (op == 9)
			key(&evs, &t, 50, 0xff0d, 0, 0);         /* Return */
		else if (op == 10)
			key(&evs, &t, 22, 0xff08, 0, 0);         /* BackSpace */
		else if (op == 11)
			key(&evs, &t, 113, 0xff51, 0, 0);        /* Left */
		else if (op == 12)
			key(&evs, &t, 55, 'v', 4, 0);            /* Ctrl+V */
		else if (op == 13)
			focus(&evs, t += 3, (b >> 4) & 3);
		else {
			struct st_event e = {.t = (t += 3), .type = ST_EV_BUTTON_PRESS};
			e.u.btn.x = b, e.u.btn.y = b, e.u.btn.button = 1;
			st_events_push(&evs, &e, NULL);
		}
	}
	size_t before = evs.n, carry = 0;
	uint8_t level = 0;
	struct st_error e = {0};
	int rc = st_filter_apply(filt, &evs, true, (data[0] & 1) ? &carry : NULL,
				 &level, &e);
	FUZZ_CHECK(evs.n <= before, "the filter grew the segment");
	if (rc == 0) {
		FUZZ_CHECK(level >= 1 && level <= 3, "level out of range");
		if (data[0] & 1)
			FUZZ_CHECK(carry <= evs.n, "carry past the end");
	}
	for (size_t i = 1; i < evs.n; i++)
		FUZZ_CHECK(evs.ev[i].t >= evs.ev[i - 1].t, "events out of order");
	for (size_t i = 0; i < evs.n; i++)
		FUZZ_CHECK(st_event_check(&evs, &evs.ev[i], i, NULL) == 0,
			   "the filter wrote an invalid event");
	st_events_fini(&evs);
	return 0;
}
