/* xdrive.c - drives an X display through XTEST at a fixed rate with a
 * scripted mix, for bench/agent.sh: typing (press + release of letters and
 * spaces), pointer motion along a path, and clicks. Counts what it sent.
 * usage: bench-xdrive SECONDS EVENTS_PER_S */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench-xdrive SECONDS EVENTS_PER_S\n");
		return 2;
	}
	double secs = atof(argv[1]), rate = atof(argv[2]);
	if (secs <= 0 || rate <= 0 || rate > 10000) {
		fprintf(stderr, "bench-xdrive: SECONDS > 0, 0 < EVENTS_PER_S <= 10000\n");
		return 2;
	}
	xcb_connection_t *c = xcb_connect(NULL, NULL);
	if (xcb_connection_has_error(c)) {
		fprintf(stderr, "bench-xdrive: cannot open the display\n");
		return 1;
	}
	xcb_window_t root = xcb_setup_roots_iterator(xcb_get_setup(c)).data->root;
	/* keycodes of a..z and space on the usual evdev keymap */
	static const uint8_t letters[] = {38, 56, 54, 40, 26, 41, 42, 43, 31, 44,
					  45, 46, 58, 57, 32, 33, 24, 27, 39, 28,
					  30, 55, 25, 53, 29, 52, 65};
	uint64_t start = now_ns(), period = (uint64_t)(1e9 / rate);
	uint64_t total = (uint64_t)(secs * rate), sent = 0, keys = 0, moves = 0,
		 clicks = 0;
	unsigned phase = 0, li = 0;
	int x = 200, y = 200, dx = 3, dy = 2;
	while (sent < total) {
		uint64_t due = start + sent * period, t = now_ns();
		if (t < due) {
			struct timespec ts = {0, (long)(due - t)};
			nanosleep(&ts, NULL);
		}
		/* mix per 10 events: 4 key (2 press/release pairs), 5 motion,
		 * 1 click half (press or release) */
		unsigned k = phase++ % 10;
		if (k < 4) {
			/* a Return every 40 keys ends the line, as typing does */
			uint8_t code = li % 40 == 39 ? 36 : letters[li % sizeof letters];
			xcb_test_fake_input(c, (k % 2) ? XCB_KEY_RELEASE : XCB_KEY_PRESS,
					    code, XCB_CURRENT_TIME, root, 0, 0, 0);
			if (k % 2)
				li++;
			keys++;
		} else if (k < 9) {
			x += dx, y += dy;
			if (x < 100 || x > 900)
				dx = -dx;
			if (y < 100 || y > 700)
				dy = -dy;
			xcb_test_fake_input(c, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME,
					    root, (int16_t)x, (int16_t)y, 0);
			moves++;
		} else {
			xcb_test_fake_input(c, (phase / 10) % 2 ? XCB_BUTTON_RELEASE
								: XCB_BUTTON_PRESS,
					    1, XCB_CURRENT_TIME, root, 0, 0, 0);
			clicks++;
		}
		xcb_flush(c);
		sent++;
	}
	free(xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL));
	printf("driven_events: %llu events\ndriven_keys: %llu events\n"
	       "driven_motion: %llu events\ndriven_buttons: %llu events\n"
	       "driven_seconds: %.1f s\n",
	       (unsigned long long)sent, (unsigned long long)keys,
	       (unsigned long long)moves, (unsigned long long)clicks,
	       (now_ns() - start) / 1e9);
	xcb_disconnect(c);
	return 0;
}
