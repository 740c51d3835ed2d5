/* test_tracegen.c - pins the synthetic trace generator: determinism, time
 * order, segment shape, and the human-shaped rates bench/README.md states. */
#include "helpers.h"

#include "core/event.h"
#include "core/tracegen.h"

#define ANCHOR_NS UINT64_C(1764000000000000000) /* a minute boundary */
#define HOUR_MS UINT64_C(3600000)
#define TRACE_SEGS_MAX 128u

struct trace {
	struct st_events seg[TRACE_SEGS_MAX];
	size_t n;
};

/* One event of the whole trace, in ms since the trace start. */
struct at {
	uint64_t ms;
	const struct st_events *evs;
	const struct st_event *e;
};

static int keep(void *ctx, uint64_t index, struct st_events *seg,
		struct st_error *err)
{
	struct trace *tr = ctx;
	if (index != tr->n)
		return st_fail(err, ST_E_ORDER, "segment %llu out of order",
			       (unsigned long long)index);
	if (tr->n >= TRACE_SEGS_MAX)
		return st_fail(err, ST_E_CAP, "more than %u segments",
			       TRACE_SEGS_MAX);
	tr->seg[tr->n++] = *seg;
	st_events_init(seg, seg->locked);
	return 0;
}

static struct trace *gen(uint64_t seed, uint64_t duration_ms)
{
	struct trace *tr = calloc(1, sizeof *tr);
	assert_non_null(tr);
	struct st_tracegen_cfg cfg = {
	    .seed = seed, .duration_ms = duration_ms, .anchor_ns = ANCHOR_NS};
	struct st_error err = {0};
	int rc = st_tracegen_run(&cfg, keep, tr, &err);
	if (rc != 0)
		fail_msg("tracegen: %s", err.msg);
	assert_int_equal(tr->n, st_tracegen_segments(duration_ms));
	return tr;
}

static void trace_free(struct trace *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		st_events_fini(&tr->seg[i]);
	free(tr);
}

/* The whole trace as one list in absolute ms. Caller frees. */
static struct at *flatten(const struct trace *tr, size_t *n)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < tr->n; i++)
		total += tr->seg[i].n;
	struct at *a = calloc(total ? total : 1, sizeof *a);
	assert_non_null(a);
	for (size_t i = 0; i < tr->n; i++)
		for (size_t j = 0; j < tr->seg[i].n; j++) {
			a[k].ms =
			    i * ST_TRACEGEN_SEGMENT_MS + tr->seg[i].ev[j].t;
			a[k].evs = &tr->seg[i];
			a[k].e = &tr->seg[i].ev[j];
			k++;
		}
	*n = total;
	return a;
}

static bool is_input(uint8_t type)
{
	return type == ST_EV_KEY_PRESS || type == ST_EV_KEY_RELEASE ||
	       type == ST_EV_POINTER || type == ST_EV_BUTTON_PRESS ||
	       type == ST_EV_BUTTON_RELEASE || type == ST_EV_SCROLL;
}

static bool is_modifier(uint32_t keysym)
{
	return keysym >= 0xffe1 && keysym <= 0xffee;
}

static void same_seed_gives_identical_events(void **state)
{
	(void)state;
	struct trace *a = gen(42, 10 * 60000), *b = gen(42, 10 * 60000);
	size_t total = 0;
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->seg[i].n, b->seg[i].n);
		assert_true(a->seg[i].anchor_ns == b->seg[i].anchor_ns);
		assert_int_equal(a->seg[i].tick_ns, b->seg[i].tick_ns);
		for (size_t j = 0; j < a->seg[i].n; j++)
			if (!st_event_equal(&a->seg[i], &a->seg[i].ev[j],
					    &b->seg[i], &b->seg[i].ev[j]))
				fail_msg("segment %zu event %zu differs", i, j);
		total += a->seg[i].n;
	}
	assert_true(total > 1000); /* not trivially equal because empty */
	trace_free(a);
	trace_free(b);
}

static void different_seed_gives_different_events(void **state)
{
	(void)state;
	struct trace *a = gen(42, 5 * 60000), *b = gen(43, 5 * 60000);
	size_t na, nb;
	struct at *x = flatten(a, &na), *y = flatten(b, &nb);
	size_t same = 0, n = na < nb ? na : nb;
	for (size_t i = 0; i < n; i++)
		same += st_event_equal(x[i].evs, x[i].e, y[i].evs, y[i].e);
	/* the markers at t = 0 agree; the person does not */
	assert_true(na != nb || same < n / 2);
	free(x);
	free(y);
	trace_free(a);
	trace_free(b);
}

static void segments_are_minutes_in_time_order_and_pass_check(void **state)
{
	(void)state;
	const uint64_t durations[] = {HOUR_MS, 150000, 1};
	for (size_t d = 0; d < 3; d++) {
		struct trace *tr = gen(7 + d, durations[d]);
		uint64_t prev = 0;
		for (size_t i = 0; i < tr->n; i++) {
			const struct st_events *s = &tr->seg[i];
			assert_true(s->anchor_ns ==
				    ANCHOR_NS + i * UINT64_C(60000000000));
			assert_int_equal(s->tick_ns, 1000000);
			assert_false(s->locked);
			size_t k = 0;
			if (i == 0) {
				assert_int_equal(s->ev[0].type, ST_EV_SESSION);
				assert_int_equal(s->ev[0].u.session.marker,
						 ST_SESSION_START);
				k = 1;
			}
			/* one screen event, at the start of each segment */
			assert_true(s->n > k);
			assert_int_equal(s->ev[k].type, ST_EV_SCREEN);
			assert_int_equal(s->ev[k].t, 0);
			assert_int_equal(s->ev[k].u.screen.w, 1920);
			assert_int_equal(s->ev[k].u.screen.h, 1080);
			assert_int_equal(s->ev[k].u.screen.screen, 0);
			for (size_t j = 0; j < s->n; j++) {
				struct st_error err = {0};
				const struct st_event *e = &s->ev[j];
				if (st_event_check(s, e, j, &err) != 0)
					fail_msg("segment %zu: %s", i, err.msg);
				if (j != k && e->type == ST_EV_SCREEN)
					fail_msg("segment %zu: second screen "
						 "event at %zu",
						 i, j);
				if (e->type == ST_EV_SESSION && (i || j))
					fail_msg(
					    "session marker after the start");
				assert_true(e->t < ST_TRACEGEN_SEGMENT_MS);
				uint64_t ms = i * ST_TRACEGEN_SEGMENT_MS + e->t;
				assert_true(ms < durations[d] || ms == 0 ||
					    e->t == 0);
				if (ms < prev)
					fail_msg(
					    "event at %llu ms after one at "
					    "%llu ms",
					    (unsigned long long)ms,
					    (unsigned long long)prev);
				prev = ms;
			}
		}
		trace_free(tr);
	}
}

static void one_hour_has_about_30_focus_changes(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		struct trace *tr = gen(seed, HOUR_MS);
		unsigned focus = 0, titles = 0;
		for (size_t i = 0; i < tr->n; i++)
			for (size_t j = 0; j < tr->seg[i].n; j++) {
				const struct st_event *e = &tr->seg[i].ev[j];
				if (e->type != ST_EV_FOCUS)
					continue;
				focus++;
				size_t la, lc, lt;
				assert_non_null(st_events_str(
				    &tr->seg[i], e->u.focus.app, &la));
				assert_non_null(st_events_str(
				    &tr->seg[i], e->u.focus.cls, &lc));
				assert_non_null(st_events_str(
				    &tr->seg[i], e->u.focus.title, &lt));
				assert_true(e->u.focus.pid > 0);
				titles += lt > 0;
			}
		if (focus < 25 || focus > 40)
			fail_msg("seed %llu: %u focus changes in an hour, want "
				 "25-40",
				 (unsigned long long)seed, focus);
		assert_int_equal(titles, focus);
		trace_free(tr);
	}
}

/* Bursts: runs of non-modifier key presses no more than 1.5 s apart. The
 * rate counts every press (gross wpm, 5 characters a word) from the first
 * press to the last. */
static void typing_bursts_run_at_40_to_90_wpm(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct trace *tr = gen(seed, HOUR_MS);
		size_t n;
		struct at *a = flatten(tr, &n);
		unsigned bursts = 0;
		uint64_t first = 0, last = 0;
		size_t presses = 0;
		for (size_t i = 0; i <= n; i++) {
			bool key = i < n && a[i].e->type == ST_EV_KEY_PRESS &&
				   !is_modifier(a[i].e->u.key.keysym);
			if (i < n && !key)
				continue;
			if (i == n || (presses && a[i].ms - last > 1500)) {
				if (presses >= 10) {
					double wpm = (double)(presses - 1) /
						     (double)(last - first) *
						     60000.0 / 5.0;
					if (wpm < 40 || wpm > 90)
						fail_msg(
						    "seed %llu: burst at %llu "
						    "ms of %zu presses runs "
						    "at %.1f wpm",
						    (unsigned long long)seed,
						    (unsigned long long)first,
						    presses, wpm);
					bursts++;
				}
				presses = 0;
			}
			if (i == n)
				break;
			if (!presses)
				first = a[i].ms;
			last = a[i].ms;
			presses++;
		}
		if (bursts < 20)
			fail_msg("seed %llu: only %u typing bursts in an hour",
				 (unsigned long long)seed, bursts);
		free(a);
		trace_free(tr);
	}
}

static void pointer_is_never_sampled_above_60_hz(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct trace *tr = gen(seed, HOUR_MS);
		size_t n, moves = 0;
		struct at *a = flatten(tr, &n);
		uint64_t prev = 0;
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			if (a[i].e->type != ST_EV_POINTER)
				continue;
			assert_int_equal(a[i].e->u.ptr.screen, 0);
			/* 17 ms apart is at most 58.8 Hz */
			if (any && a[i].ms - prev < ST_TRACEGEN_POINTER_GAP_MS)
				fail_msg("seed %llu: pointer samples %llu ms "
					 "apart at %llu ms",
					 (unsigned long long)seed,
					 (unsigned long long)(a[i].ms - prev),
					 (unsigned long long)a[i].ms);
			prev = a[i].ms;
			any = true;
			moves++;
		}
		assert_true(moves > 10000); /* an hour of real mousing */
		free(a);
		trace_free(tr);
	}
}

static void buttons_and_scrolls_happen_at_the_pointer(void **state)
{
	(void)state;
	struct trace *tr = gen(5, 20 * 60000);
	size_t n, clicks = 0, scrolls = 0, drags = 0;
	struct at *a = flatten(tr, &n);
	int32_t x = -1, y = -1;
	bool down[ST_BUTTON_MAX + 1] = {0}, moved_down = false;
	for (size_t i = 0; i < n; i++) {
		const struct st_event *e = a[i].e;
		switch (e->type) {
		case ST_EV_POINTER:
			x = e->u.ptr.x, y = e->u.ptr.y;
			assert_true(x >= 0 && x < 1920 && y >= 0 && y < 1080);
			if (down[1])
				moved_down = true;
			break;
		case ST_EV_BUTTON_PRESS:
		case ST_EV_BUTTON_RELEASE: {
			assert_int_equal(e->u.btn.x, x);
			assert_int_equal(e->u.btn.y, y);
			bool press = e->type == ST_EV_BUTTON_PRESS;
			assert_true(down[e->u.btn.button] != press);
			down[e->u.btn.button] = press;
			if (press)
				moved_down = false;
			else if (moved_down)
				drags++;
			clicks += press;
			break;
		}
		case ST_EV_SCROLL:
			assert_int_equal(e->u.scroll.x, x);
			assert_int_equal(e->u.scroll.y, y);
			if (!e->u.scroll.smooth)
				assert_int_equal(abs(e->u.scroll.dx) +
						     abs(e->u.scroll.dy),
						 1);
			scrolls++;
			break;
		default:
			break;
		}
	}
	for (unsigned b = 1; b <= ST_BUTTON_MAX; b++)
		assert_false(down[b]);
	assert_true(clicks > 50 && scrolls > 50 && drags > 0);
	free(a);
	trace_free(tr);
}

/* US layout: every press released, text only on presses of printable keys
 * and equal to the keysym, Shift held exactly for shifted characters. */
static void keys_are_us_layout_with_shift_and_text(void **state)
{
	(void)state;
	struct trace *tr = gen(11, 30 * 60000);
	size_t n, letters = 0, capitals = 0, backspaces = 0, returns = 0;
	struct at *a = flatten(tr, &n);
	bool down[256] = {0};
	for (size_t i = 0; i < n; i++) {
		const struct st_event *e = a[i].e;
		if (e->type != ST_EV_KEY_PRESS && e->type != ST_EV_KEY_RELEASE)
			continue;
		uint32_t kc = e->u.key.keycode, ks = e->u.key.keysym;
		assert_true(kc >= 8 && kc < 256);
		bool press = e->type == ST_EV_KEY_PRESS;
		if (down[kc] == press)
			fail_msg("keycode %u %s twice at %llu ms", kc,
				 press ? "pressed" : "released",
				 (unsigned long long)a[i].ms);
		down[kc] = press;
		size_t len;
		const char *text = st_events_str(a[i].evs, e->u.key.text, &len);
		if (!press || ks > 0x7e || (e->u.key.mods & 4)) {
			assert_null(text);
			backspaces += press && ks == 0xff08;
			returns += press && ks == 0xff0d;
			continue;
		}
		assert_int_equal(len, 1);
		assert_int_equal((unsigned char)text[0], ks);
		bool upper = ks >= 'A' && ks <= 'Z';
		bool lower = ks >= 'a' && ks <= 'z';
		if (upper || lower) {
			letters++;
			capitals += upper;
			assert_int_equal(!!(e->u.key.mods & 1), upper);
			if (lower)
				assert_true(kc >= 24 && kc <= 58);
		}
		if (ks == ' ')
			assert_int_equal(kc, 65);
	}
	for (unsigned k = 0; k < 256; k++)
		assert_false(down[k]);
	assert_true(letters > 1000 && capitals > 10);
	assert_true(backspaces > 5 && returns > 5);
	free(a);
	trace_free(tr);
}

/* idle_start comes 30 s after the last input, idle_end with the next input;
 * no other stretch without input reaches 30 s. */
static void idle_periods_are_paired_and_quiet(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct trace *tr = gen(seed, 2 * HOUR_MS);
		size_t n, periods = 0;
		struct at *a = flatten(tr, &n);
		uint64_t last_input = 0;
		bool idle = false;
		for (size_t i = 0; i < n; i++) {
			uint8_t ty = a[i].e->type;
			if (ty == ST_EV_IDLE_START) {
				assert_false(idle);
				assert_true(a[i].ms ==
					    last_input +
						ST_TRACEGEN_IDLE_AFTER_MS);
				idle = true;
				periods++;
			} else if (ty == ST_EV_IDLE_END) {
				assert_true(idle);
				idle = false;
				/* the input that ended it is next */
				assert_true(i + 1 < n &&
					    is_input(a[i + 1].e->type));
				assert_true(a[i + 1].ms == a[i].ms);
			} else if (is_input(ty)) {
				if (idle)
					fail_msg("input at %llu ms while idle",
						 (unsigned long long)a[i].ms);
				if (a[i].ms - last_input >=
					ST_TRACEGEN_IDLE_AFTER_MS &&
				    i && a[i - 1].e->type != ST_EV_IDLE_END)
					fail_msg(
					    "%llu ms without input and no "
					    "idle period before %llu ms",
					    (unsigned long long)(a[i].ms -
								 last_input),
					    (unsigned long long)a[i].ms);
				last_input = a[i].ms;
			}
		}
		if (periods < 2)
			fail_msg("seed %llu: %zu idle periods in two hours",
				 (unsigned long long)seed, periods);
		free(a);
		trace_free(tr);
	}
}

static void rejects_bad_configuration(void **state)
{
	(void)state;
	struct trace *tr = calloc(1, sizeof *tr);
	struct st_error err = {0};
	struct st_tracegen_cfg cfg = {.seed = 1, .duration_ms = 0};
	assert_fails_with(st_tracegen_run(&cfg, keep, tr, &err), ST_E_INVAL,
			  &err, "duration");
	cfg.duration_ms = ST_TRACEGEN_DURATION_MAX_MS + 1;
	assert_fails_with(st_tracegen_run(&cfg, keep, tr, &err), ST_E_INVAL,
			  &err, "duration");
	cfg.duration_ms = 60000;
	assert_fails_with(st_tracegen_run(&cfg, NULL, tr, &err), ST_E_INVAL,
			  &err, "callback");
	cfg.anchor_ns = UINT64_MAX - 1000;
	assert_fails_with(st_tracegen_run(&cfg, keep, tr, &err), ST_E_INVAL,
			  &err, "anchor");
	assert_int_equal(tr->n, 0);
	free(tr);
}

struct stopper {
	unsigned calls;
	bool locked;
};

static int stop_at_third(void *ctx, uint64_t index, struct st_events *seg,
			 struct st_error *err)
{
	struct stopper *s = ctx;
	s->calls++;
	s->locked = seg->locked;
	if (index == 2)
		return st_fail(err, ST_E_CAP, "consumer full at segment %llu",
			       (unsigned long long)index);
	return 0;
}

static void callback_error_stops_the_run(void **state)
{
	(void)state;
	struct stopper s = {0};
	struct st_error err = {0};
	struct st_tracegen_cfg cfg = {
	    .seed = 3, .duration_ms = 10 * 60000, .locked = true};
	assert_fails_with(st_tracegen_run(&cfg, stop_at_third, &s, &err),
			  ST_E_CAP, &err, "consumer full");
	assert_int_equal(s.calls, 3);
	assert_true(s.locked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(same_seed_gives_identical_events),
	    cmocka_unit_test(different_seed_gives_different_events),
	    cmocka_unit_test(segments_are_minutes_in_time_order_and_pass_check),
	    cmocka_unit_test(one_hour_has_about_30_focus_changes),
	    cmocka_unit_test(typing_bursts_run_at_40_to_90_wpm),
	    cmocka_unit_test(pointer_is_never_sampled_above_60_hz),
	    cmocka_unit_test(buttons_and_scrolls_happen_at_the_pointer),
	    cmocka_unit_test(keys_are_us_layout_with_shift_and_text),
	    cmocka_unit_test(idle_periods_are_paired_and_quiet),
	    cmocka_unit_test(rejects_bad_configuration),
	    cmocka_unit_test(callback_error_stops_the_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
