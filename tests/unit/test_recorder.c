/* test_recorder.c - the agent's open segment: motion coalescing, button
 * positions, session/context/idle/pause/gap markers, cuts by time and size,
 * a full spool, forget, replay determinism, sanitised capture strings and the
 * filter's carry. Drives st_recorder with a manual clock and a real spool in
 * a temporary folder, and opens what it sealed with the person's key. */
#include "helpers.h"
#include "fixtures.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/recorder.h"
#include "agent/spool.h"
#include "core/keys.h"
#include "core/seal.h"
#include "core/segment.h"
#include "export/open.h"
#include "fs_faulty.c"

#define NS 1000000000ull
#define MS 1000000ull
/* Manual wall clock at the test's time 0: a whole Unix minute, so that the
 * forget test can reason in minutes. */
#define WALL0 (1790000040ull * NS)
#define MONO0 (5000ull * NS)  /* manual monotonic clock at time 0 */
#define SRC0 (777ull * NS)    /* the capture's own clock at time 0 */

static uint8_t DPK[32], PPK[32], *DSK, *PSK;

static char *D;                  /* per test: a fresh temporary folder */
static char SPD[PATH_MAX];       /* D/spool */
static struct st_manual_clock MC;
static struct st_clock CLK;
static struct st_spool *SP;
static struct st_recorder *R;
static struct st_recorder_cfg CFG;
static uint64_t WALL_BASE = WALL0; /* the wall_times test moves it */

/* ---- rig ---- */

static void at(uint64_t ms)
{
	MC.wall = WALL_BASE + ms * MS;
	MC.mono = MONO0 + ms * MS;
}

static void spool_open_max(uint64_t max)
{
	struct st_spool_cfg c = {.dir = SPD, .max_bytes = max, .device_pk = DPK};
	struct st_error e = {0};
	if (st_spool_open(&c, &SP, NULL, &e) < 0)
		fail_msg("spool open %s: %s", SPD, e.msg);
}

static void rig_init(void)
{
	D = fs_mkdtemp("rec");
	snprintf(SPD, sizeof SPD, "%s/spool", D);
	st_clock_manual(&CLK, &MC);
	at(0);
	R = NULL;
	SP = NULL;
	memset(&CFG, 0, sizeof CFG);
	CFG.clock = &CLK;
	CFG.tick_ns = 1000000; /* X11's milliseconds */
	CFG.motion_hz = 60;
	memset(CFG.seal.device_id, 0xd1, 16);
	memset(CFG.seal.person_id, 0x9e, 16);
	memset(CFG.seal.notice_hash, 0xab, 32);
	CFG.seal.lease_seq = 1;
	CFG.person_pk = PPK;
	CFG.device_sk = DSK;
}

static void rig_fini(void)
{
	st_recorder_free(R);
	R = NULL;
	st_spool_close(SP);
	SP = NULL;
	fs_rm_rf(D);
	free(D);
	D = NULL;
	WALL_BASE = WALL0;
}

/* Opens the spool (0: default bound) and the recorder with CFG. */
static void rig_start(uint64_t spool_max)
{
	if (!SP)
		spool_open_max(spool_max);
	CFG.spool = SP;
	struct st_error e = {0};
	if (st_recorder_new(&CFG, &R, &e) < 0)
		fail_msg("recorder: %s", e.msg);
}

static int group_setup(void **s)
{
	(void)s;
	DSK = st_secret_new(ST_SIGN_SK_LEN);
	PSK = st_secret_new(ST_BOX_SK_LEN);
	if (!DSK || !PSK || st_sign_keypair(DPK, DSK) ||
	    st_box_keypair(PPK, PSK))
		return -1;
	return 0;
}

static int group_teardown(void **s)
{
	(void)s;
	st_secret_free(DSK);
	st_secret_free(PSK);
	return 0;
}

static int setup(void **s)
{
	(void)s;
	rig_init();
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	rig_fini();
	return 0;
}

/* ---- feeding events ---- */

static int send_rc(struct st_cap_event *ev, uint64_t ms, struct st_error *e)
{
	at(ms);
	ev->t_ns = SRC0 + ms * MS;
	return st_recorder_event(R, ev, e);
}

static void send(struct st_cap_event *ev, uint64_t ms)
{
	struct st_error e = {0};
	if (send_rc(ev, ms, &e) < 0)
		fail_msg("event at %llu ms: %s", (unsigned long long)ms, e.msg);
}

static void ptr(uint64_t ms, int32_t x, int32_t y)
{
	struct st_cap_event ev = {0};
	ev.e.type = ST_EV_POINTER;
	ev.e.u.ptr.x = x, ev.e.u.ptr.y = y;
	send(&ev, ms);
}

static void btn(uint64_t ms, uint8_t type, int32_t x, int32_t y, uint8_t b)
{
	struct st_cap_event ev = {0};
	ev.e.type = type;
	ev.e.u.btn.x = x, ev.e.u.btn.y = y, ev.e.u.btn.button = b;
	send(&ev, ms);
}

static struct st_cap_event key_ev(uint32_t code, const char *text)
{
	struct st_cap_event ev = {0};
	ev.e.type = ST_EV_KEY_PRESS;
	ev.e.u.key.keycode = code;
	ev.e.u.key.keysym = code;
	ev.text = text;
	ev.text_len = text ? strlen(text) : 0;
	return ev;
}

static void key(uint64_t ms, uint32_t code, const char *text)
{
	struct st_cap_event ev = key_ev(code, text);
	send(&ev, ms);
}

static void focus(uint64_t ms, const char *app, const char *cls,
		  const char *title, uint32_t pid)
{
	struct st_cap_event ev = {0};
	ev.e.type = ST_EV_FOCUS;
	ev.e.u.focus.pid = pid;
	ev.app = app, ev.app_len = app ? strlen(app) : 0;
	ev.cls = cls, ev.cls_len = cls ? strlen(cls) : 0;
	ev.title = title, ev.title_len = title ? strlen(title) : 0;
	send(&ev, ms);
}

static void screen(uint64_t ms, uint16_t idx, int32_t x, uint32_t w,
		   uint32_t h)
{
	struct st_cap_event ev = {0};
	ev.e.type = ST_EV_SCREEN;
	ev.e.u.screen.screen = idx;
	ev.e.u.screen.x = x, ev.e.u.screen.w = w, ev.e.u.screen.h = h;
	send(&ev, ms);
}

static void tick_at(uint64_t mono_ns)
{
	struct st_error e = {0};
	MC.mono = mono_ns;
	MC.wall = WALL_BASE + (mono_ns - MONO0);
	if (st_recorder_tick(R, &e) < 0)
		fail_msg("tick: %s", e.msg);
}

static void cut(void)
{
	struct st_error e = {0};
	if (st_recorder_cut(R, &e) < 0)
		fail_msg("cut: %s", e.msg);
}

static struct st_recorder_stats stats(void)
{
	struct st_recorder_stats s;
	st_recorder_stats(R, &s);
	return s;
}

/* ---- reading back what was sealed ---- */

#define MAXSEG 64
struct sealed {
	size_t n;
	uint64_t seq[MAXSEG];
	struct st_segment_header h[MAXSEG];
	struct st_events ev[MAXSEG];
};

static void load(struct sealed *L)
{
	struct st_error e = {0};
	uint64_t *seqs = NULL;
	size_t n = 0;
	if (st_spool_list(SP, &seqs, &n, &e) < 0)
		fail_msg("list: %s", e.msg);
	assert_true(n <= MAXSEG);
	L->n = n;
	for (size_t i = 0; i < n; i++) {
		struct st_buf b;
		st_buf_init(&b, false);
		if (st_spool_read(SP, seqs[i], &b, &e) < 0)
			fail_msg("read %llu: %s", (unsigned long long)seqs[i],
				 e.msg);
		L->seq[i] = seqs[i];
		st_events_init(&L->ev[i], false);
		if (st_segment_open(b.p, b.len, DPK, PPK, PSK, NULL, &L->h[i],
				    &L->ev[i], &e) < 0)
			fail_msg("open %llu: %s", (unsigned long long)seqs[i],
				 e.msg);
		st_buf_fini(&b);
	}
	free(seqs);
}

static void unload(struct sealed *L)
{
	for (size_t i = 0; i < L->n; i++)
		st_events_fini(&L->ev[i]);
	L->n = 0;
}

static uint64_t wall_of(const struct st_events *e, size_t i)
{
	return e->anchor_ns + e->ev[i].t * e->tick_ns;
}

/* Test time (ms since time 0) of event i. */
static uint64_t ms_of(const struct st_events *e, size_t i)
{
	return (wall_of(e, i) - WALL_BASE) / MS;
}

static size_t count_type(const struct st_events *e, uint8_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		n += e->ev[i].type == type;
	return n;
}

static bool is_marker(const struct st_event *e, uint8_t marker,
		      uint16_t reason)
{
	return e->type == ST_EV_SESSION && e->u.session.marker == marker &&
	       e->u.session.reason == reason;
}

static size_t count_marker(const struct st_events *e, uint8_t marker)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		n += e->ev[i].type == ST_EV_SESSION &&
		     e->ev[i].u.session.marker == marker;
	return n;
}

/* Index of the first key press with keycode code, or SIZE_MAX. */
static size_t find_key(const struct st_events *e, uint32_t code)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == ST_EV_KEY_PRESS &&
		    e->ev[i].u.key.keycode == code)
			return i;
	return SIZE_MAX;
}

static bool str_is(const struct st_events *e, uint32_t id, const char *s)
{
	size_t len;
	const char *p = st_events_str(e, id, &len);
	return len == strlen(s) && (!len || !memcmp(p, s, len));
}

static size_t spool_count(void)
{
	return st_spool_count(SP);
}

/* ---- motion ---- */

/* Pointer samples of one segment must keep the rate: no two closer than the
 * interval rounded up to ticks, at most hz in any one-second window. */
static void assert_rate(const struct st_events *e, uint32_t hz,
			uint64_t min_ticks)
{
	uint64_t t[4096];
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == ST_EV_POINTER) {
			assert_true(n < 4096);
			t[n++] = e->ev[i].t;
		}
	assert_true(n > 2);
	for (size_t i = 1; i < n; i++)
		if (t[i] - t[i - 1] < min_ticks)
			fail_msg("samples %zu and %zu are %llu ticks apart, "
				 "under %llu", i - 1, i,
				 (unsigned long long)(t[i] - t[i - 1]),
				 (unsigned long long)min_ticks);
	uint64_t win = NS / e->tick_ns;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		for (size_t j = i; j < n && t[j] < t[i] + win; j++)
			k++;
		if (k > hz)
			fail_msg("%zu samples in the second from tick %llu, "
				 "over %u Hz", k, (unsigned long long)t[i], hz);
	}
}

static void motion_run(uint32_t hz)
{
	CFG.motion_hz = hz;
	rig_start(0);
	uint64_t iv = (NS + hz - 1) / hz;
	uint64_t min_ticks = (iv + CFG.tick_ns - 1) / CFG.tick_ns;
	/* 250 Hz for two seconds; x encodes the sample's own time */
	uint64_t last = 0;
	for (uint64_t ms = 0; ms < 2000; ms += 4) {
		ptr(ms, (int32_t)ms, 7);
		last = ms;
	}
	struct st_recorder_stats s = stats();
	assert_true(s.motion_coalesced > 0);
	uint64_t open_before = s.open_events;
	/* the pointer rests: its last position is due at the rate boundary */
	uint64_t d = st_recorder_deadline_ns(R);
	assert_true(d > MC.mono && d <= MC.mono + min_ticks * MS);
	tick_at(d - 1);
	assert_int_equal(stats().open_events, open_before);
	tick_at(d);
	assert_int_equal(stats().open_events, open_before + 1);
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	struct st_events *e = &L.ev[0];
	assert_rate(e, hz, min_ticks);
	/* the rest position is the last sample sent, stamped at the boundary
	 * after the previous sample, not at its own (earlier) time */
	size_t lastp = SIZE_MAX, prevp = SIZE_MAX;
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == ST_EV_POINTER)
			prevp = lastp, lastp = i;
	assert_true(prevp != SIZE_MAX);
	assert_int_equal(e->ev[lastp].u.ptr.x, (int32_t)last);
	assert_int_equal(e->ev[lastp].t, e->ev[prevp].t + min_ticks);
	assert_true(ms_of(e, lastp) > last);
	/* every sample kept its own position and is not before its time */
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == ST_EV_POINTER)
			assert_true(ms_of(e, i) >= (uint64_t)e->ev[i].u.ptr.x);
	unload(&L);
}

static void motion_at_250hz_is_coalesced_to_motion_hz(void **s)
{
	(void)s;
	motion_run(60);
	rig_fini();
	rig_init();
	motion_run(7); /* 142857143 ns: rounds up to 143 ticks */
}

static uint64_t rng_state = 0x5ea17ace2024ull;
static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void button_positions_are_exact_and_never_follow_stale_motion(void **s)
{
	(void)s;
	rig_start(0);
	/* a fixed case first: a motion pending before a press is superseded
	 * by the press's own position; one pending before a later release is
	 * written before it, at the rate boundary */
	ptr(0, 0, 0);
	ptr(5, 5, 5);
	btn(8, ST_EV_BUTTON_PRESS, 8, 8, 1);
	ptr(10, 10, 10);
	btn(30, ST_EV_BUTTON_RELEASE, 30, 30, 1);
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	struct st_events *e = &L.ev[0];
	size_t i = 0;
	while (i < e->n && e->ev[i].type != ST_EV_POINTER)
		i++;
	assert_true(i + 4 <= e->n);
	assert_int_equal(e->ev[i].type, ST_EV_POINTER);
	assert_int_equal(e->ev[i].u.ptr.x, 0);
	assert_int_equal(e->ev[i + 1].type, ST_EV_BUTTON_PRESS);
	assert_int_equal(e->ev[i + 1].u.btn.x, 8);
	assert_int_equal(ms_of(e, i + 1), 8);
	assert_int_equal(e->ev[i + 2].type, ST_EV_POINTER);
	assert_int_equal(e->ev[i + 2].u.ptr.x, 10);
	assert_int_equal(ms_of(e, i + 2), 17);
	assert_int_equal(e->ev[i + 3].type, ST_EV_BUTTON_RELEASE);
	assert_int_equal(e->ev[i + 3].u.btn.x, 30);
	assert_int_equal(ms_of(e, i + 3), 30);
	assert_int_equal(count_type(e, ST_EV_POINTER), 2);
	unload(&L);

	/* then seeded streams: motion at 250 Hz with presses, releases and
	 * scrolls at random moments; x carries the event's own time */
	for (int round = 0; round < 20; round++) {
		rig_fini();
		rig_init();
		rig_start(0);
		size_t nbtn = 0;
		uint64_t ms = 0;
		for (int k = 0; k < 300; k++) {
			ms += 1 + rng() % 6;
			unsigned pick = (unsigned)(rng() % 10);
			if (pick == 0)
				btn(ms, ST_EV_BUTTON_PRESS, (int32_t)ms, -(int32_t)ms,
				    1 + (uint8_t)(rng() % 3)), nbtn++;
			else if (pick == 1)
				btn(ms, ST_EV_BUTTON_RELEASE, (int32_t)ms,
				    -(int32_t)ms, 1), nbtn++;
			else
				ptr(ms, (int32_t)ms, -(int32_t)ms);
		}
		cut();
		load(&L);
		assert_int_equal(L.n, 1);
		e = &L.ev[0];
		uint64_t last_btn = 0;
		size_t seen = 0;
		for (i = 0; i < e->n; i++) {
			const struct st_event *v = &e->ev[i];
			if (v->type == ST_EV_BUTTON_PRESS ||
			    v->type == ST_EV_BUTTON_RELEASE) {
				/* exact: its own position, at its own time */
				assert_int_equal(ms_of(e, i), v->u.btn.x);
				assert_int_equal(v->u.btn.y, -v->u.btn.x);
				last_btn = (uint64_t)v->u.btn.x;
				seen++;
			} else if (v->type == ST_EV_POINTER) {
				if ((uint64_t)v->u.ptr.x < last_btn)
					fail_msg("round %d: motion of %d ms "
						 "after the button of %llu ms",
						 round, v->u.ptr.x,
						 (unsigned long long)last_btn);
				assert_int_equal(v->u.ptr.y, -v->u.ptr.x);
			}
		}
		assert_int_equal(seen, nbtn);
		assert_rate(e, 60, 17);
		unload(&L);
	}
}

/* ---- segment starts ---- */

static void assert_context_start(const struct st_events *e, size_t from,
				 int32_t screen0_x, const char *title)
{
	/* after the markers: screen 0, screen 1, the focus, each once */
	assert_true(from + 3 <= e->n);
	assert_int_equal(e->ev[from].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[from].u.screen.screen, 0);
	assert_int_equal(e->ev[from].u.screen.x, screen0_x);
	assert_int_equal(e->ev[from].t, 0);
	assert_int_equal(e->ev[from + 1].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[from + 1].u.screen.screen, 1);
	assert_int_equal(e->ev[from + 2].type, ST_EV_FOCUS);
	assert_true(str_is(e, e->ev[from + 2].u.focus.title, title));
	assert_int_equal(e->ev[from + 2].t, 0);
	assert_int_equal(count_type(e, ST_EV_SCREEN), 2);
}

static void every_segment_starts_with_its_context(void **s)
{
	(void)s;
	CFG.segment_ns = 10 * NS;
	rig_start(0);
	screen(0, 0, 0, 1920, 1080);
	screen(1, 1, 1920, 1280, 1024);
	focus(2, "org.gnome.Terminal", "XTerm", "one", 42);
	key(100, 38, "a");
	key(10500, 39, "b"); /* cut by the events' clock */
	screen(10600, 0, -5, 1920, 1080);
	cut();
	focus(12000, "firefox", "Firefox", "two", 43); /* opens a segment */
	key(12100, 40, "c");
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 3);
	/* the first segment: session start, then its context */
	struct st_events *e = &L.ev[0];
	assert_true(is_marker(&e->ev[0], ST_SESSION_START, 0));
	assert_int_equal(count_marker(e, ST_SESSION_START), 1);
	assert_int_equal(e->ev[0].t, 0);
	assert_int_equal(e->ev[1].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[2].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[3].type, ST_EV_FOCUS);
	assert_int_equal(count_type(e, ST_EV_SCREEN), 2);
	assert_int_equal(count_type(e, ST_EV_FOCUS), 1);
	assert_int_equal(find_key(e, 39), SIZE_MAX);
	/* the second: no start marker, the last known context, then input;
	 * the screen change is written where it happened */
	e = &L.ev[1];
	assert_int_equal(count_marker(e, ST_SESSION_START), 0);
	assert_true(e->n >= 3);
	assert_int_equal(e->ev[0].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[0].u.screen.x, 0);
	assert_int_equal(e->ev[1].type, ST_EV_SCREEN);
	assert_int_equal(e->ev[2].type, ST_EV_FOCUS);
	assert_true(str_is(e, e->ev[2].u.focus.title, "one"));
	assert_true(str_is(e, e->ev[2].u.focus.app, "org.gnome.Terminal"));
	assert_int_equal(e->ev[2].u.focus.pid, 42);
	assert_int_equal(count_type(e, ST_EV_FOCUS), 1);
	assert_int_equal(count_type(e, ST_EV_SCREEN), 3);
	assert_int_equal(e->ev[3].type, ST_EV_KEY_PRESS);
	assert_int_equal(ms_of(e, 3), 10500);
	/* the third, opened by a focus change: that focus once, the new
	 * screen geometry */
	e = &L.ev[2];
	assert_context_start(e, 0, -5, "two");
	assert_int_equal(count_type(e, ST_EV_FOCUS), 1);
	assert_int_equal(ms_of(e, 2), 12000);
	unload(&L);
}

/* ---- pause and stop ---- */

static void halt_run(bool stop)
{
	uint16_t reason = stop ? ST_REASON_LEASE : ST_REASON_PERSON;
	struct st_error e = {0};
	rig_start(0);
	screen(0, 0, 0, 1920, 1080);
	screen(1, 1, 1920, 1280, 1024);
	focus(2, "app", "cls", "before", 1);
	key(100, 10, "x");
	at(200);
	if (stop)
		assert_int_equal(st_recorder_stop(R, reason, &e), 0);
	else
		assert_int_equal(st_recorder_pause(R, reason, &e), 0);
	/* sealed at once, no tick or later event needed */
	assert_int_equal(spool_count(), 1);
	struct st_recorder_stats st = stats();
	assert_int_equal(st.state, stop ? ST_REC_STOPPED : ST_REC_PAUSED);
	assert_int_equal(st.reason, reason);
	assert_int_equal(st.open_events, 0);
	uint64_t in = st.events_in;
	/* dropped while halted; the context is still remembered */
	key(300, 77, "p");
	ptr(310, 1, 1);
	focus(320, "app", "cls", "while", 1);
	st = stats();
	assert_int_equal(st.events_dropped, 3);
	assert_int_equal(st.events_in, in);
	assert_int_equal(st.open_events, 0);
	assert_int_equal(spool_count(), 1);
	at(400);
	assert_int_equal(st_recorder_resume(R, &e), 0);
	assert_int_equal(stats().state, ST_REC_RECORDING);
	key(500, 11, "y");
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 2);
	struct st_events *a = &L.ev[0], *b = &L.ev[1];
	/* the first ends with the pause (or stop) marker */
	assert_true(is_marker(&a->ev[a->n - 1],
			      stop ? ST_SESSION_GAP : ST_SESSION_PAUSE, reason));
	assert_true(ms_of(a, a->n - 1) >= 100);
	assert_int_equal(find_key(a, 10), a->n - 2);
	/* the second opens with the resume marker, then the context as it
	 * is now */
	assert_true(is_marker(&b->ev[0], ST_SESSION_RESUME, reason));
	assert_int_equal(count_marker(b, ST_SESSION_START), 0);
	assert_context_start(b, 1, 0, "while");
	assert_int_equal(find_key(b, 11), 4);
	/* nothing of the halted time */
	for (size_t k = 0; k < L.n; k++) {
		assert_int_equal(find_key(&L.ev[k], 77), SIZE_MAX);
		assert_int_equal(count_type(&L.ev[k], ST_EV_POINTER), 0);
	}
	unload(&L);
}

static void pause_seals_at_once_drops_and_resumes_with_marker(void **s)
{
	(void)s;
	halt_run(false);
}

static void stop_seals_at_once_drops_and_resumes_with_marker(void **s)
{
	(void)s;
	halt_run(true);
}

/* ---- cuts ---- */

static void cuts_by_the_events_clock(void **s)
{
	(void)s;
	CFG.segment_ns = 5 * NS;
	rig_start(0);
	for (uint32_t k = 0; k <= 12; k++) {
		key(k * 1000ull, 10 + k, NULL);
		/* the key of second 5 cut the segment before it went in */
		assert_int_equal(spool_count(), k < 5 ? 0 : k < 10 ? 1 : 2);
	}
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 3);
	for (size_t i = 0; i < 3; i++) {
		struct st_events *e = &L.ev[i];
		assert_int_equal(count_type(e, ST_EV_KEY_PRESS), i < 2 ? 5 : 3);
		assert_int_equal(ms_of(e, 0), i * 5000);
		assert_true(e->ev[e->n - 1].t < 5000);
		for (uint32_t k = 0; k <= 12; k++)
			assert_true((find_key(e, 10 + k) != SIZE_MAX) ==
				    (k / 5 == i));
	}
	unload(&L);
}

static void cuts_by_the_monotonic_clock_on_tick(void **s)
{
	(void)s;
	CFG.segment_ns = 5 * NS;
	rig_start(0);
	key(0, 10, NULL);
	key(1000, 11, NULL);
	uint64_t d = st_recorder_deadline_ns(R);
	assert_int_equal(d, MONO0 + 5 * NS);
	tick_at(d - 1);
	assert_int_equal(spool_count(), 0);
	tick_at(d);
	assert_int_equal(spool_count(), 1);
	assert_int_equal(stats().open_events, 0);
	assert_int_equal(stats().segments, 1);
	/* nothing open: no time cut due any more */
	assert_true(st_recorder_deadline_ns(R) > d);
	struct sealed L;
	load(&L);
	assert_int_equal(count_type(&L.ev[0], ST_EV_KEY_PRESS), 2);
	unload(&L);
}

static void cuts_at_max_events(void **s)
{
	(void)s;
	CFG.max_events = 10;
	rig_start(0);
	for (uint32_t k = 0; k < 35; k++)
		key(k, 100 + k, NULL);
	cut();
	struct sealed L;
	load(&L);
	assert_true(L.n >= 4);
	uint32_t next = 100;
	for (size_t i = 0; i < L.n; i++) {
		struct st_events *e = &L.ev[i];
		assert_true(e->n <= 10);
		for (size_t j = 0; j < e->n; j++)
			if (e->ev[j].type == ST_EV_KEY_PRESS)
				assert_int_equal(e->ev[j].u.key.keycode, next++);
	}
	assert_int_equal(next, 135);
	unload(&L);
}

/* ---- idle ---- */

static void idle_starts_after_quiet_and_ends_at_input(void **s)
{
	(void)s;
	CFG.idle_ns = 5 * NS;
	rig_start(0);
	key(0, 10, NULL);
	key(1000, 11, NULL);
	uint64_t d = st_recorder_deadline_ns(R);
	assert_int_equal(d, MONO0 + 6 * NS);
	tick_at(d - 1);
	tick_at(d);
	tick_at(d + 3 * NS); /* once only */
	ptr(20000, 3, 4);
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	struct st_events *e = &L.ev[0];
	assert_int_equal(count_type(e, ST_EV_IDLE_START), 1);
	assert_int_equal(count_type(e, ST_EV_IDLE_END), 1);
	size_t k = find_key(e, 11);
	assert_int_equal(e->ev[k + 1].type, ST_EV_IDLE_START);
	assert_int_equal(ms_of(e, k + 1), 6000);
	assert_int_equal(e->ev[k + 2].type, ST_EV_IDLE_END);
	assert_int_equal(ms_of(e, k + 2), 20000);
	assert_int_equal(e->ev[k + 3].type, ST_EV_POINTER);
	assert_int_equal(ms_of(e, k + 3), 20000);
	unload(&L);
}

/* ---- a full spool ---- */

/* Fills a small spool with explicit cuts until it blocks; returns the
 * number of segments stored. */
static size_t fill_until_blocked(uint64_t *ms)
{
	size_t stored = 0;
	for (int i = 0; i < 50; i++) {
		struct st_error e = {0};
		key(*ms, 10, "k");
		key(*ms + 1, 11, "l");
		*ms += 100;
		at(*ms);
		int rc = st_recorder_cut(R, &e);
		if (rc == 0) {
			stored++;
			continue;
		}
		assert_fails_with(rc, ST_E_SPOOL_FULL, &e, "full");
		return stored;
	}
	fail_msg("the spool never filled");
	return 0;
}

static void spool_full_stops_holds_and_resumes_with_a_gap(void **s)
{
	(void)s;
	struct st_error e = {0};
	rig_start(2000);
	uint64_t ms = 0;
	size_t stored = fill_until_blocked(&ms);
	assert_true(stored >= 2);
	assert_int_equal(spool_count(), stored);
	struct st_recorder_stats st = stats();
	assert_int_equal(st.state, ST_REC_STOPPED);
	assert_int_equal(st.reason, ST_REASON_SPOOL_FULL);
	assert_true(st.blocked);
	assert_int_equal(st.segments, stored);
	/* input is dropped, a cut says why, resume is refused */
	key(ms, 66, NULL);
	assert_int_equal(stats().events_dropped, 1);
	assert_fails_with(st_recorder_cut(R, &e), ST_E_SPOOL_FULL, &e, "full");
	assert_fails_with(st_recorder_resume(R, &e), ST_E_SPOOL_FULL, &e,
			  "full");
	/* a retry while still full changes nothing */
	uint64_t d = st_recorder_deadline_ns(R);
	assert_true(d != UINT64_MAX);
	tick_at(d);
	assert_true(stats().blocked);
	assert_int_equal(spool_count(), stored);
	/* room is made (segments were sent): the next tick stores the held
	 * segment and recording goes on */
	uint64_t *seqs = NULL;
	size_t n = 0;
	assert_int_equal(st_spool_list(SP, &seqs, &n, &e), 0);
	assert_int_equal(n, stored);
	uint64_t held = seqs[n - 1] + 1;
	assert_int_equal(st_spool_remove(SP, seqs[0], &e), 0);
	assert_int_equal(st_spool_remove(SP, seqs[1], &e), 0);
	free(seqs);
	d = st_recorder_deadline_ns(R);
	tick_at(d);
	st = stats();
	assert_false(st.blocked);
	assert_int_equal(st.state, ST_REC_RECORDING);
	assert_int_equal(st.segments, stored + 1);
	uint64_t now_ms = (MC.mono - MONO0) / MS;
	key(now_ms + 10, 12, NULL);
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, stored);
	/* the held segment kept its sequence number and its keys */
	assert_int_equal(L.seq[L.n - 2], held);
	assert_true(find_key(&L.ev[L.n - 2], 10) != SIZE_MAX);
	/* the segment after the stop opens with a gap marker */
	struct st_events *last = &L.ev[L.n - 1];
	assert_true(is_marker(&last->ev[0], ST_SESSION_GAP,
			      ST_REASON_SPOOL_FULL));
	assert_true(find_key(last, 12) != SIZE_MAX);
	for (size_t i = 0; i < L.n; i++)
		assert_int_equal(find_key(&L.ev[i], 66), SIZE_MAX);
	unload(&L);
}

static void close_while_blocked_names_the_sequence(void **s)
{
	(void)s;
	struct st_error e = {0};
	rig_start(1500);
	uint64_t ms = 0;
	size_t stored = fill_until_blocked(&ms);
	uint64_t *seqs = NULL;
	size_t n = 0;
	assert_int_equal(st_spool_list(SP, &seqs, &n, &e), 0);
	assert_int_equal(n, stored);
	uint64_t held = n ? seqs[n - 1] + 1 : 1;
	free(seqs);
	char word[64];
	snprintf(word, sizeof word, "sequence %llu", (unsigned long long)held);
	int rc = st_recorder_close(R, &e);
	R = NULL; /* close frees it, failing or not */
	assert_fails_with(rc, ST_E_SPOOL_FULL, &e, word);
	assert_int_equal(spool_count(), stored);
}

/* A time cut by an arriving event that finds the spool full: that event is
 * not recorded, so it must count as dropped, not as accepted. */
static void spool_full_on_a_time_cut_counts_the_event_dropped(void **s)
{
	(void)s;
	CFG.segment_ns = 5 * NS;
	rig_start(1);  /* nothing fits */
	key(0, 10, NULL);
	key(6000, 11, NULL); /* cuts; the put finds the spool full */
	struct st_recorder_stats st = stats();
	assert_true(st.blocked);
	assert_int_equal(st.state, ST_REC_STOPPED);
	assert_int_equal(st.events_in, 1);
	assert_int_equal(st.events_dropped, 1);
	assert_int_equal(st.open_events, 0);
}

/* Opens the spool with room for one foreign segment (seq 1, already put)
 * plus room bytes: every segment the recorder seals then finds it full
 * until seq 1 is removed. */
static void spool_prefill(uint64_t room)
{
	struct st_events evs;
	struct st_buf b;
	struct st_error e = {0};
	st_events_init(&evs, false);
	st_buf_init(&b, false);
	fx_every_type(&evs);
	/* random positions do not compress: a few KiB, room for two of the
	 * recorder's small segments once it is removed */
	uint64_t t = evs.ev[evs.n - 1].t;
	for (int i = 0; i < 400; i++) {
		struct st_event pe = {.t = ++t, .type = ST_EV_POINTER};
		pe.u.ptr.x = (int32_t)rng(), pe.u.ptr.y = (int32_t)rng();
		fx_push(&evs, pe);
	}
	struct st_seal_params p = CFG.seal;
	p.level = 2;
	p.seq = 1;
	assert_int_equal(st_segment_seal(&p, &evs, PPK, DSK, NULL, &b, &e), 0);
	spool_open_max(b.len + room);
	uint64_t q = 0;
	assert_int_equal(st_spool_next_seq(SP, &q, &e), 0);
	assert_int_equal(q, 1);
	assert_int_equal(st_spool_put(SP, 1, b.p, b.len, &e), 0);
	st_buf_fini(&b);
	st_events_fini(&evs);
}

/* The filter carried a line into the next segment just as the spool filled:
 * that segment stays open through the stop, so the gap must be marked in
 * it, between the carried line and what comes after the stop. */
static void spool_full_on_a_carrying_cut_marks_the_gap_after_the_carry(
	void **s);

/* ---- forget ---- */

static void forget_removes_open_events_and_spooled_minutes(void **s)
{
	(void)s;
	struct st_error e = {0};
	rig_start(0);
	/* minute 0: kept; minute 2: reaches the forgotten minute */
	key(0, 10, NULL);
	key(50000, 11, NULL);
	at(50100);
	cut();
	key(130000, 20, NULL);
	key(170000, 21, NULL);
	at(170100);
	cut();
	assert_int_equal(spool_count(), 2);
	/* the open segment: before 178 s kept, from 178 s forgotten */
	key(175000, 30, NULL);
	key(177999, 31, NULL);
	key(178000, 32, NULL);
	key(190000, 33, NULL);
	ptr(199000, 1, 1);
	ptr(199005, 2, 2); /* pending */
	at(200000);
	size_t removed = 99;
	assert_int_equal(st_recorder_forget(R, WALL0 + 178 * NS, &removed, &e),
			 0);
	assert_int_equal(removed, 1);
	assert_int_equal(spool_count(), 1);
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 2);
	assert_true(find_key(&L.ev[0], 10) != SIZE_MAX);
	assert_true(find_key(&L.ev[0], 11) != SIZE_MAX);
	struct st_events *o = &L.ev[1];
	assert_true(find_key(o, 30) != SIZE_MAX);
	assert_true(find_key(o, 31) != SIZE_MAX);
	assert_int_equal(find_key(o, 32), SIZE_MAX);
	assert_int_equal(find_key(o, 33), SIZE_MAX);
	assert_int_equal(count_type(o, ST_EV_POINTER), 0);
	size_t gaps = 0;
	for (size_t i = 0; i < o->n; i++)
		gaps += is_marker(&o->ev[i], ST_SESSION_GAP, ST_REASON_FORGET);
	assert_int_equal(gaps, 1);
	for (size_t i = 0; i < o->n; i++)
		if (o->ev[i].type != ST_EV_SESSION)
			assert_true(wall_of(o, i) < WALL0 + 178 * NS);
	unload(&L);
}

/* A sealed segment that waits for spool room is unsent recording too: a
 * forget that reaches its minutes must not let it into the spool later. */
static void forget_drops_a_held_segment(void **s)
{
	(void)s;
	struct st_error e = {0};
	rig_start(2000);
	uint64_t ms = 0;
	size_t stored = fill_until_blocked(&ms);
	uint64_t *seqs = NULL;
	size_t n = 0;
	assert_int_equal(st_spool_list(SP, &seqs, &n, &e), 0);
	uint64_t held = seqs[n - 1] + 1;
	free(seqs);
	/* forget everything: the spooled ones and the held one */
	size_t removed = 0;
	at(ms + 1000);
	assert_int_equal(st_recorder_forget(R, WALL0, &removed, &e), 0);
	assert_int_equal(removed, stored + 1);
	assert_int_equal(spool_count(), 0);
	struct st_recorder_stats st = stats();
	assert_false(st.blocked);
	assert_int_equal(st.state, ST_REC_RECORDING);
	tick_at(MC.mono + 2 * NS);
	key(ms + 5000, 12, NULL);
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	assert_true(L.seq[0] > held);
	assert_int_equal(find_key(&L.ev[0], 10), SIZE_MAX);
	assert_true(find_key(&L.ev[0], 12) != SIZE_MAX);
	size_t gaps = 0;
	for (size_t i = 0; i < L.ev[0].n; i++)
		gaps += is_marker(&L.ev[0].ev[i], ST_SESSION_GAP,
				  ST_REASON_FORGET);
	assert_int_equal(gaps, 1);
	unload(&L);
}

/* ---- replay determinism ---- */

#define REPLAY_MAX 32
static size_t replay_run(uint64_t wall_base, struct st_buf bodies[REPLAY_MAX])
{
	struct st_error e = {0};
	WALL_BASE = wall_base;
	rig_init();
	WALL_BASE = wall_base; /* rig_init keeps it; rig_fini resets it */
	CFG.wall_times = true;
	CFG.segment_ns = 4 * NS;
	CFG.idle_ns = 3 * NS;
	rig_start(0);
	/* replayed times: Unix wall ns, independent of the manual clock */
	const uint64_t T = 1800000000ull * NS;
	assert_int_equal(st_recorder_gap(R, ST_REASON_CRASH, &e), 0);
	struct st_cap_event ev;
#define AT(ms_) (MC.mono = MONO0 + (ms_) * MS, MC.wall += 7 * MS, \
		 ev.t_ns = T + (ms_) * MS)
#define SEND() assert_int_equal(st_recorder_event(R, &ev, &e), 0)
	memset(&ev, 0, sizeof ev);
	ev.e.type = ST_EV_SCREEN, ev.e.u.screen.w = 800, ev.e.u.screen.h = 600;
	AT(0), SEND();
	memset(&ev, 0, sizeof ev);
	ev.e.type = ST_EV_FOCUS, ev.app = "a", ev.app_len = 1;
	ev.title = "t", ev.title_len = 1;
	AT(1), SEND();
	for (uint64_t ms = 10; ms < 9000; ms += 4) {
		memset(&ev, 0, sizeof ev);
		if (ms % 400 == 2) {
			ev = key_ev(38, "a");
		} else if (ms % 300 == 6) {
			ev.e.type = ST_EV_BUTTON_PRESS, ev.e.u.btn.button = 1;
			ev.e.u.btn.x = (int32_t)ms;
		} else {
			ev.e.type = ST_EV_POINTER, ev.e.u.ptr.x = (int32_t)ms;
		}
		AT(ms), SEND();
		if (ms == 3002) {
			assert_int_equal(st_recorder_pause(R, ST_REASON_PERSON,
							   &e), 0);
		} else if (ms == 3502) {
			assert_int_equal(st_recorder_resume(R, &e), 0);
		} else if (ms % 97 == 0) {
			assert_int_equal(st_recorder_tick(R, &e), 0);
		}
	}
	/* quiet: idle by tick, then one more key */
	MC.mono = MONO0 + 9000 * MS + 4 * NS;
	assert_int_equal(st_recorder_tick(R, &e), 0);
	ev = key_ev(39, "b");
	AT(16000), SEND();
#undef AT
#undef SEND
	assert_int_equal(st_recorder_close(R, &e), 0);
	R = NULL;
	struct sealed L;
	load(&L);
	assert_true(L.n >= 3 && L.n <= REPLAY_MAX);
	for (size_t i = 0; i < L.n; i++) {
		st_buf_init(&bodies[i], false);
		assert_int_equal(st_body_encode(&L.ev[i], &bodies[i], &e), 0);
	}
	size_t n = L.n;
	assert_int_equal(count_type(&L.ev[n - 1], ST_EV_IDLE_END), 1);
	unload(&L);
	rig_fini();
	return n;
}

static void replayed_times_give_identical_bodies(void **s)
{
	(void)s;
	rig_fini(); /* replay_run makes its own */
	static struct st_buf a[REPLAY_MAX], b[REPLAY_MAX];
	size_t na = replay_run(WALL0, a);
	size_t nb = replay_run(WALL0 + 12345 * NS + 678, b);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		assert_int_equal(a[i].len, b[i].len);
		assert_memory_equal(a[i].p, b[i].p, a[i].len);
		st_buf_fini(&a[i]);
		st_buf_fini(&b[i]);
	}
	rig_init(); /* for teardown */
}

/* With replayed times there is no "now" before the first event: a pause
 * or a close then must not open a segment at the Unix epoch; the markers
 * wait for the first event and open its segment. */
static void replayed_times_halt_before_the_first_event_waits_for_it(void **s)
{
	(void)s;
	struct st_error e = {0};
	const uint64_t T = 1800000000ull * NS;
	CFG.wall_times = true;
	rig_start(0);
	at(0);
	assert_int_equal(st_recorder_pause(R, ST_REASON_PERSON, &e), 0);
	assert_int_equal(spool_count(), 0);
	assert_int_equal(stats().state, ST_REC_PAUSED);
	at(10);
	assert_int_equal(st_recorder_resume(R, &e), 0);
	struct st_cap_event ev = key_ev(38, "a");
	at(20);
	ev.t_ns = T + 5 * MS;
	assert_int_equal(st_recorder_event(R, &ev, &e), 0);
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	struct st_events *o = &L.ev[0];
	assert_int_equal(o->anchor_ns, T + 5 * MS);
	assert_int_equal(L.h[0].t_start_min, T / (60 * NS));
	assert_true(o->n >= 4);
	assert_true(is_marker(&o->ev[0], ST_SESSION_START, 0));
	assert_true(is_marker(&o->ev[1], ST_SESSION_PAUSE, ST_REASON_PERSON));
	assert_true(is_marker(&o->ev[2], ST_SESSION_RESUME, ST_REASON_PERSON));
	assert_int_equal(find_key(o, 38), 3);
	unload(&L);

	/* a close before any event: nothing to seal, no epoch segment */
	rig_fini();
	rig_init();
	CFG.wall_times = true;
	rig_start(0);
	int rc = st_recorder_close(R, &e);
	R = NULL;
	assert_int_equal(rc, 0);
	assert_int_equal(spool_count(), 0);
}

/* ---- capture strings ---- */

static void latin1_strings_are_sanitized_not_rejected(void **s)
{
	(void)s;
	rig_start(0);
	focus(0, "caf\xe9", "Cl\xe4ss", "Caf\xe9 cr\xe8me \xff", 7);
	key(10, 38, "\xe9");
	key(20, 39, "\xc3"); /* a cut sequence */
	cut();
	struct sealed L;
	load(&L);
	struct st_events *e = &L.ev[0];
	size_t f = SIZE_MAX;
	for (size_t i = 0; i < e->n; i++)
		if (e->ev[i].type == ST_EV_FOCUS)
			f = i;
	assert_true(f != SIZE_MAX);
	assert_true(str_is(e, e->ev[f].u.focus.title, "Caf? cr?me ?"));
	assert_true(str_is(e, e->ev[f].u.focus.app, "caf?"));
	assert_true(str_is(e, e->ev[f].u.focus.cls, "Cl?ss"));
	assert_true(str_is(e, e->ev[find_key(e, 38)].u.key.text, "?"));
	assert_true(str_is(e, e->ev[find_key(e, 39)].u.key.text, "?"));
	unload(&L);
}

/* ---- the filter ---- */

struct filt {
	int calls;
	int null_calls;       /* calls with carry_from NULL */
	uint32_t carry_code;  /* carry from the key with this code, if any */
	bool fail;
	uint8_t level;
};

static int filter_cb(void *ctx, struct st_events *open, size_t *carry_from,
		     uint8_t *level, struct st_error *err)
{
	struct filt *f = ctx;
	f->calls++;
	if (!carry_from)
		f->null_calls++;
	if (f->fail)
		return st_fail(err, ST_E_CORRUPT, "filter: detector failed");
	if (carry_from && f->carry_code) {
		size_t k = find_key(open, f->carry_code);
		if (k != SIZE_MAX)
			*carry_from = k;
	}
	*level = f->level;
	return 0;
}

static void filter_carry_opens_the_next_segment(void **s)
{
	(void)s;
	struct st_error e = {0};
	struct filt f = {.carry_code = 50, .level = 3};
	CFG.segment_ns = 10 * NS;
	CFG.filter = filter_cb;
	CFG.filter_ctx = &f;
	rig_start(0);
	screen(0, 0, 0, 1920, 1080);
	screen(1, 1, 1920, 1280, 1024);
	focus(2, "term", "XTerm", "shell", 9);
	key(1000, 40, "l");
	key(2000, 41, "s");
	key(9500, 50, "e"); /* the line still being typed */
	key(9600, 51, "c");
	key(9700, 52, "h");
	key(10500, 53, "o"); /* cuts by time */
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.null_calls, 0);
	assert_int_equal(spool_count(), 1);
	at(11000);
	assert_int_equal(st_recorder_pause(R, ST_REASON_PERSON, &e), 0);
	assert_int_equal(f.calls, 2);
	assert_int_equal(f.null_calls, 1); /* an explicit cut judges now */

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 2);
	assert_int_equal(L.h[0].level, 3);
	struct st_events *a = &L.ev[0], *b = &L.ev[1];
	assert_true(find_key(a, 41) != SIZE_MAX);
	for (uint32_t c = 50; c <= 53; c++)
		assert_int_equal(find_key(a, c), SIZE_MAX);
	/* the next segment: its context, then the carried keys at their own
	 * wall times and with their text, then the rest */
	assert_context_start(b, 0, 0, "shell");
	const char *txt[] = {"e", "c", "h", "o"};
	const uint64_t when[] = {9500, 9600, 9700, 10500};
	for (uint32_t c = 50; c <= 53; c++) {
		size_t k = find_key(b, c);
		assert_int_equal(k, 3 + (c - 50));
		assert_int_equal(wall_of(b, k), WALL0 + when[c - 50] * MS);
		assert_true(str_is(b, b->ev[k].u.key.text, txt[c - 50]));
	}
	assert_true(is_marker(&b->ev[b->n - 1], ST_SESSION_PAUSE,
			      ST_REASON_PERSON));
	unload(&L);
}

static void filter_error_seals_nothing_of_the_segment(void **s)
{
	(void)s;
	struct st_error e = {0};
	struct filt f = {.fail = true};
	CFG.segment_ns = 10 * NS;
	CFG.filter = filter_cb;
	CFG.filter_ctx = &f;
	rig_start(0);
	key(0, 60, "s");
	key(100, 61, "e");
	assert_fails_with(st_recorder_cut(R, &e), ST_E_CORRUPT, &e, "detector");
	assert_int_equal(spool_count(), 0);
	assert_int_equal(stats().open_events, 0);
	/* the same on a time cut: the event that cut is refused too */
	key(1000, 62, "c");
	struct st_cap_event ev = key_ev(63, "r");
	e = (struct st_error){0};
	assert_fails_with(send_rc(&ev, 12000, &e), ST_E_CORRUPT, &e, "detector");
	assert_int_equal(spool_count(), 0);
	f.fail = false;
	key(13000, 64, "t");
	cut();
	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 1);
	for (uint32_t c = 60; c <= 63; c++)
		assert_int_equal(find_key(&L.ev[0], c), SIZE_MAX);
	assert_true(find_key(&L.ev[0], 64) != SIZE_MAX);
	/* the hole is visible: the next sealed segment opens with a gap
	 * marker (the two refused segments were back to back, one hole) */
	struct st_events *o = &L.ev[0];
	assert_true(o->n >= 2);
	assert_true(is_marker(&o->ev[0], ST_SESSION_GAP, ST_REASON_LEVEL4));
	assert_int_equal(count_marker(o, ST_SESSION_GAP), 1);
	assert_true(find_key(o, 64) > 0);
	unload(&L);
}

static void spool_full_on_a_carrying_cut_marks_the_gap_after_the_carry(
	void **s)
{
	(void)s;
	struct st_error e = {0};
	struct filt f = {.carry_code = 50};
	CFG.segment_ns = 10 * NS;
	CFG.filter = filter_cb;
	CFG.filter_ctx = &f;
	spool_prefill(200); /* less than any segment with its header */
	rig_start(0);
	key(1000, 40, "l");
	key(9500, 50, "e");
	key(9600, 51, "c");
	key(11500, 53, "h"); /* cuts by time; the put finds no room */
	struct st_recorder_stats st = stats();
	assert_int_equal(f.calls, 1);
	assert_true(st.blocked);
	assert_int_equal(st.state, ST_REC_STOPPED);
	key(12000, 66, NULL); /* dropped */
	assert_int_equal(st_spool_remove(SP, 1, &e), 0);
	tick_at(st_recorder_deadline_ns(R));
	assert_int_equal(stats().state, ST_REC_RECORDING);
	uint64_t now_ms = (MC.mono - MONO0) / MS;
	key(now_ms + 100, 70, "x");
	cut();

	struct sealed L;
	load(&L);
	assert_int_equal(L.n, 2);
	assert_true(find_key(&L.ev[0], 40) != SIZE_MAX);
	struct st_events *b = &L.ev[1];
	size_t k50 = find_key(b, 50), k51 = find_key(b, 51),
	       k70 = find_key(b, 70), gap = SIZE_MAX;
	for (size_t i = 0; i < b->n; i++)
		if (is_marker(&b->ev[i], ST_SESSION_GAP, ST_REASON_SPOOL_FULL))
			gap = i;
	assert_true(k50 != SIZE_MAX && k51 != SIZE_MAX && k70 != SIZE_MAX);
	assert_true(gap != SIZE_MAX);
	assert_true(k50 < k51 && k51 < gap && gap < k70);
	assert_int_equal(count_marker(b, ST_SESSION_GAP), 1);
	for (size_t i = 0; i < L.n; i++) {
		assert_int_equal(find_key(&L.ev[i], 53), SIZE_MAX);
		assert_int_equal(find_key(&L.ev[i], 66), SIZE_MAX);
	}
	unload(&L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(motion_at_250hz_is_coalesced_to_motion_hz),
		T(button_positions_are_exact_and_never_follow_stale_motion),
		T(every_segment_starts_with_its_context),
		T(pause_seals_at_once_drops_and_resumes_with_marker),
		T(stop_seals_at_once_drops_and_resumes_with_marker),
		T(cuts_by_the_events_clock),
		T(cuts_by_the_monotonic_clock_on_tick),
		T(cuts_at_max_events),
		T(idle_starts_after_quiet_and_ends_at_input),
		T(spool_full_stops_holds_and_resumes_with_a_gap),
		T(close_while_blocked_names_the_sequence),
		T(spool_full_on_a_time_cut_counts_the_event_dropped),
		T(spool_full_on_a_carrying_cut_marks_the_gap_after_the_carry),
		T(forget_removes_open_events_and_spooled_minutes),
		T(forget_drops_a_held_segment),
		T(replayed_times_give_identical_bodies),
		T(replayed_times_halt_before_the_first_event_waits_for_it),
		T(latin1_strings_are_sanitized_not_rejected),
		T(filter_carry_opens_the_next_segment),
		T(filter_error_seals_nothing_of_the_segment),
#undef T
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
