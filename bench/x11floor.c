/* x11floor.c - the floor for bench/agent.sh: a minimal program that
 * receives the same X input the agent's x11 backend does (one RECORD
 * context for key, button and motion events and keymap requests, on a
 * second connection) and does nothing with it. Whatever the agent costs
 * above this is the agent's own work. Stops on SIGTERM.
 * usage: bench-x11floor */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <xcb/record.h>
#include <xcb/xcb.h>
#include <xcb/xcbext.h>

static volatile sig_atomic_t stop;
static void on_term(int s)
{
	(void)s;
	stop = 1;
}

int main(void)
{
	xcb_connection_t *ctrl = xcb_connect(NULL, NULL),
			 *data = xcb_connect(NULL, NULL);
	if (xcb_connection_has_error(ctrl) || xcb_connection_has_error(data)) {
		fprintf(stderr, "bench-x11floor: cannot open the display\n");
		return 1;
	}
	xcb_record_range_t range = {0};
	range.device_events.first = XCB_KEY_PRESS;
	range.device_events.last = XCB_MOTION_NOTIFY;
	range.delivered_events.first = XCB_FOCUS_IN;
	range.delivered_events.last = XCB_FOCUS_IN;
	range.core_requests.first = 100;
	range.core_requests.last = 100;
	xcb_record_client_spec_t spec = XCB_RECORD_CS_ALL_CLIENTS;
	xcb_record_context_t rc = xcb_generate_id(ctrl);
	free(xcb_request_check(ctrl, xcb_record_create_context_checked(
					     ctrl, rc, 0, 1, 1, &spec, &range)));
	xcb_record_enable_context_cookie_t ck = xcb_record_enable_context(data, rc);
	xcb_flush(data);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	unsigned long long replies = 0;
	while (!stop) {
		struct pollfd p = {.fd = xcb_get_file_descriptor(data), .events = POLLIN};
		if (poll(&p, 1, 500) <= 0)
			continue;
		void *r;
		xcb_generic_error_t *e;
		while (xcb_poll_for_reply(data, ck.sequence, &r, &e) && r) {
			replies++;
			free(r);
		}
	}
	fprintf(stderr, "bench-x11floor: %llu replies\n", replies);
	xcb_disconnect(data);
	xcb_disconnect(ctrl);
	return 0;
}
