/* fuzz_api.c - libFuzzer target for the server's parsers of client input
 * (src/server/api.h): the JSON bodies of enrollment, acceptance, forget,
 * user add and enroll-token requests, and the Sealtrace-Backlog header.
 * The first byte picks the parser, the rest is the body. A refusal must
 * carry its code and a message; an accepted request must be within every
 * bound the handlers rely on. Never starts a server or opens a store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "server/api.h"

/* Header values are short: longer inputs say nothing new. */
#define FUZZ_API_HEADER_MAX 128

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	return 0;
}

static void check_refusal(int rc, const struct st_error *err,
			  const char *what)
{
	if (rc >= 0)
		return;
	if (err->code != rc || !err->msg[0])
		fuzz_die(what, err);
	if (rc != ST_E_JSON && rc != ST_E_INVAL && rc != ST_E_TOO_LARGE)
		fuzz_die("a parser refused with an unexpected code", err);
}

/* NUL-terminated within cap, at most max bytes, no control characters. */
static void check_text(const char *s, size_t cap, size_t min, size_t max,
		       const char *what)
{
	size_t n = strnlen(s, cap);
	if (n == cap || n < min || n > max)
		fuzz_die(what, NULL);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fuzz_die(what, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 9;
	const uint8_t *body = data + 1;
	size_t len = size - 1;
	struct st_error err = {0};
	int rc;

	switch (which) {
	case 0: {
		struct st_api_enroll_req q;
		rc = st_api_parse_enroll(body, len, &q, &err);
		check_refusal(rc, &err, "enroll: refusal without a message");
		if (rc == 0) {
			check_text(q.token, sizeof q.token, 1,
				   ST_TOKEN_TEXT_MAX - 1, "enroll: token");
			check_text(q.local_user, sizeof q.local_user, 1,
				   ST_STORE_USER_MAX, "enroll: local_user");
			check_text(q.hostname, sizeof q.hostname, 0,
				   ST_STORE_HOST_MAX, "enroll: hostname");
		} else {
			for (size_t i = 0; i < sizeof q.token; i++)
				if (q.token[i])
					fuzz_die("enroll: a refused token "
						 "was not wiped",
						 NULL);
		}
		break;
	}
	case 1: {
		struct st_api_accept_req q;
		rc = st_api_parse_acceptance(body, len, &q, &err);
		check_refusal(rc, &err, "acceptance: refusal without message");
		if (rc == 0) {
			check_text(q.local_user, sizeof q.local_user, 1,
				   ST_STORE_USER_MAX, "acceptance: local_user");
			if (q.accepted_s < 1)
				fuzz_die("acceptance: accepted_s < 1", NULL);
		}
		break;
	}
	case 2: {
		struct st_api_forget_req q;
		rc = st_api_parse_forget(body, len, &q, &err);
		check_refusal(rc, &err, "forget: refusal without a message");
		if (rc == 0 && q.from_min > q.to_min)
			fuzz_die("forget: from_min after to_min", NULL);
		break;
	}
	case 3: {
		struct st_api_user_req q;
		rc = st_api_parse_user_add(body, len, &q, &err);
		check_refusal(rc, &err, "user add: refusal without a message");
		if (rc == 0) {
			check_text(q.name, sizeof q.name, 1, ST_STORE_NAME_MAX,
				   "user add: name");
			check_text(q.group, sizeof q.group, 0,
				   ST_STORE_GROUP_MAX, "user add: group");
		}
		break;
	}
	case 4: {
		struct st_api_etoken_req q;
		rc = st_api_parse_enroll_token(body, len, 86400, &q, &err);
		check_refusal(rc, &err, "enroll-token: refusal w/o message");
		if (rc == 0) {
			check_text(q.user, sizeof q.user, 1, ST_STORE_NAME_MAX,
				   "enroll-token: user");
			if (q.ttl_s < 1 || q.ttl_s > ST_API_ENROLL_TTL_MAX_S)
				fuzz_die("enroll-token: ttl out of range",
					 NULL);
		}
		break;
	}
	case 6: {
		struct st_api_lease_req q;
		rc = st_api_parse_lease(body, len, &q, &err);
		check_refusal(rc, &err, "lease: refusal without a message");
		if (rc == 0 && (q.state < ST_API_AGENT_RECORDING ||
				q.state > ST_API_AGENT_STOPPED))
			fuzz_die("lease: state out of range", NULL);
		if (rc == 0 && !q.has_confirm &&
		    (q.confirm_seq || q.confirm_last_seq))
			fuzz_die("lease: a confirm without one", NULL);
		break;
	}
	case 7:
	case 8: {
		struct st_api_pause_req q;
		rc = which == 7 ? st_api_parse_pause(body, len, &q, &err)
				: st_api_parse_resume(body, len, &q, &err);
		check_refusal(rc, &err, "pause: refusal without a message");
		if (rc == 0) {
			check_text(q.value, sizeof q.value, 0,
				   ST_STORE_SCOPE_VALUE_MAX, "pause: value");
			check_text(q.reason, sizeof q.reason, which == 7,
				   ST_STORE_REASON_MAX, "pause: reason");
			if (which == 8 && q.discard)
				fuzz_die("resume: discard accepted", NULL);
		}
		break;
	}
	case 5:
	default: {
		char v[FUZZ_API_HEADER_MAX + 1];
		size_t n = len < FUZZ_API_HEADER_MAX ? len
						     : FUZZ_API_HEADER_MAX;
		memcpy(v, body, n);
		v[n] = 0;
		uint64_t segs = 0, bytes = 0;
		rc = st_api_parse_backlog(v, &segs, &bytes, &err);
		check_refusal(rc, &err, "backlog: refusal without a message");
		if (rc == 0) {
			char back[64];
			snprintf(back, sizeof back, "%llu %llu",
				 (unsigned long long)segs,
				 (unsigned long long)bytes);
			/* accepted text is exactly the canonical form, or
			 * differs only by leading zeros */
			uint64_t s2 = 0, b2 = 0;
			if (st_api_parse_backlog(back, &s2, &b2, NULL) < 0 ||
			    s2 != segs || b2 != bytes)
				fuzz_die("backlog: no round trip", NULL);
		}
		break;
	}
	}
	return 0;
}
