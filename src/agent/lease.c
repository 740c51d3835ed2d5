/* lease.c - the control channel's poller (see lease.h).
 *
 * Locks: l->mu guards everything the run loop reads or sets (the lease
 * held, the report, the confirm, the counters, stop). A poll runs without
 * the lock; what it sends is copied under it first.
 *
 * Ownership: the leaser and its thread share the struct. st_leaser_free
 * waits a little for a poll in flight; if it is still out (held by the
 * server for up to its lease_hold_s), the thread is detached and frees the
 * struct itself when the call returns, so the agent's shutdown is never
 * held up by a long-poll. That is why the leaser owns its transport and
 * its copy of the device key. */
#include "lease.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/keys.h"

#define JSON_TYPE "application/json"
#define NS_PER_MS UINT64_C(1000000)
#define BODY_MAX 256 /* the poll's JSON: a nonce, four numbers, a word */

struct st_leaser {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const struct st_clock *clock;
	struct st_upload_transport *transport;
	struct st_agent_identity ident; /* device id and key only */
	uint8_t lease_pk[32];
	uint64_t bmin, bmax;
	void (*sleep_ms)(void *ctx, uint64_t ms);
	uint64_t (*random)(void *ctx, uint64_t bound);
	void *seam_ctx;
	int efd;

	/* the lease held */
	bool have;
	struct st_lease lease;
	uint64_t deadline;
	bool revoked;
	struct st_leaser_view st; /* counters and last_error */
	uint32_t attempt;

	enum st_leaser_report report;
	bool confirm_pending;
	uint64_t confirm_seq, confirm_last;
	bool awaiting_confirm; /* a wait that a confirm ends */
	bool kicked;

	bool stop, running, finished, detached;
	pthread_t thread;
};

const char *st_leaser_report_name(enum st_leaser_report r)
{
	switch (r) {
	case ST_LEASER_REPORT_RECORDING:
		return "recording";
	case ST_LEASER_REPORT_PAUSED_BY_PERSON:
		return "paused_by_person";
	case ST_LEASER_REPORT_PAUSED:
		return "paused";
	default:
		return "stopped";
	}
}

int st_lease_key_load(const struct st_agent_paths *p, uint8_t pk[32],
		      struct st_error *err)
{
	char path[ST_PATH_MAX];
	st_agent_path(p, ST_LEASE_PUB_NAME, path);
	int rc = st_key_read(path, ST_KEY_LEASE_PUBLIC, pk, 32, false, err);
	if (rc < 0)
		st_error_prefix(err, "the server's lease key (pinned at "
			       "enrollment) cannot be read; enroll again: ");
	return rc;
}

static void destroy(struct st_leaser *l)
{
	st_upload_transport_free(l->transport);
	st_secret_free(l->ident.device_sk);
	if (l->efd >= 0)
		close(l->efd);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int st_leaser_new(const struct st_leaser_cfg *cfg, struct st_leaser **out,
		  struct st_error *err)
{
	*out = NULL;
	if (!cfg || !cfg->device_id || !cfg->device_sk || !cfg->lease_pk ||
	    !cfg->transport) {
		if (cfg)
			st_upload_transport_free(cfg->transport);
		return st_fail(err, ST_E_INVAL, "leaser: device id and key, "
			       "lease key and transport are required");
	}
	uint64_t lo = cfg->backoff_min_ms ? cfg->backoff_min_ms
					  : ST_LEASER_BACKOFF_MIN_MS_DEFAULT;
	uint64_t hi = cfg->backoff_max_ms ? cfg->backoff_max_ms
					  : ST_LEASER_BACKOFF_MAX_MS_DEFAULT;
	if (hi < lo && !cfg->backoff_max_ms)
		hi = lo;
	if (hi < lo || hi > ST_LEASER_BACKOFF_LIMIT_MS) {
		st_upload_transport_free(cfg->transport);
		return st_fail(err, ST_E_INVAL, "leaser: backoff %" PRIu64
			       "..%" PRIu64 " ms: the minimum must not pass the "
			       "maximum, and neither an hour", lo, hi);
	}
	struct st_leaser *l = calloc(1, sizeof *l);
	uint8_t *sk = st_secret_new(ST_SIGN_SK_LEN);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!l || !sk || efd < 0) {
		int e = errno;
		free(l);
		st_secret_free(sk);
		if (efd >= 0)
			close(efd);
		st_upload_transport_free(cfg->transport);
		return !l || !sk ? st_fail(err, ST_E_NOMEM, "leaser: out of memory")
				 : st_fail(err, st_errno(e), "leaser: eventfd: %s",
					   strerror(e));
	}
	memcpy(sk, cfg->device_sk, ST_SIGN_SK_LEN);
	memcpy(l->ident.device_id, cfg->device_id, 16);
	l->ident.device_sk = sk;
	memcpy(l->lease_pk, cfg->lease_pk, 32);
	l->transport = cfg->transport;
	l->clock = cfg->clock ? cfg->clock : &st_clock_system;
	l->bmin = lo;
	l->bmax = hi;
	l->sleep_ms = cfg->sleep_ms;
	l->random = cfg->random;
	l->seam_ctx = cfg->seam_ctx;
	l->efd = efd;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return 0;
}

static void notify(struct st_leaser *l)
{
	uint64_t one = 1;
	ssize_t w = write(l->efd, &one, sizeof one);
	(void)w; /* a full counter is still readable: nothing is lost */
}

static uint64_t rand_upto(struct st_leaser *l, uint64_t bound)
{
	if (l->random) {
		uint64_t v = l->random(l->seam_ctx, bound);
		return v > bound ? bound : v;
	}
	uint64_t v;
	randombytes_buf(&v, sizeof v);
	return v % (bound + 1);
}

/* A failed poll or a refused answer: counted, kept as last_error, and
 * retried after full jitter over an exponential ceiling. Called locked. */
static uint64_t backoff_locked(struct st_leaser *l, const struct st_error *e,
			       bool refused)
{
	uint32_t k = l->attempt < 63 ? l->attempt : 63;
	l->attempt++;
	uint64_t ceil = l->bmin;
	for (uint32_t i = 0; i < k && ceil < l->bmax; i++)
		ceil *= 2;
	if (ceil > l->bmax)
		ceil = l->bmax;
	if (refused)
		l->st.refused++;
	l->st.failures = l->attempt;
	snprintf(l->st.last_error, sizeof l->st.last_error, "%s",
		 e && e->msg[0] ? e->msg : "lease poll failed");
	return rand_upto(l, ceil);
}

/* The lease inside a 200 answer: {"lease": B64, ...}. */
static int answer_lease(const struct st_buf *ans, uint8_t *out, size_t *len,
			struct st_error *err)
{
	json_t *o = json_loadb((const char *)ans->p, ans->len, 0, NULL);
	const char *b64 = json_string_value(json_object_get(o, "lease"));
	int rc = 0;
	if (!b64 || strlen(b64) > 2 * ST_LEASE_MAX ||
	    sodium_base642bin(out, ST_LEASE_MAX, b64, strlen(b64), NULL, len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		rc = st_fail(err, ST_E_JSON, "POST " ST_LEASE_PATH ": a 200 "
			     "answer without {\"lease\": base64 of at most %d "
			     "bytes}; ignored", ST_LEASE_MAX);
	json_decref(o);
	return rc;
}

int st_leaser_step(struct st_leaser *l, uint64_t *wait_ms,
		   struct st_error *err)
{
	*wait_ms = 0;
	uint8_t nonce[ST_LEASE_NONCE_LEN];
	randombytes_buf(nonce, sizeof nonce);
	char nhex[2 * ST_LEASE_NONCE_LEN + 1];
	sodium_bin2hex(nhex, sizeof nhex, nonce, sizeof nonce);

	pthread_mutex_lock(&l->mu);
	if (l->revoked) {
		pthread_mutex_unlock(&l->mu);
		return st_fail(err, ST_E_DEVICE_REVOKED, "the server revoked "
			       "this device: lease polling stopped");
	}
	uint64_t have_seq = l->have ? l->lease.seq : 0;
	bool confirm = l->confirm_pending;
	uint64_t cseq = l->confirm_seq, clast = l->confirm_last;
	char body[BODY_MAX];
	int n = snprintf(body, sizeof body,
			 "{\"nonce\":\"%s\",\"have_seq\":%" PRIu64
			 ",\"state\":\"%s\"",
			 nhex, have_seq, st_leaser_report_name(l->report));
	if (confirm)
		n += snprintf(body + n, sizeof body - (size_t)n,
			      ",\"confirm\":{\"seq\":%" PRIu64
			      ",\"last_seq\":%" PRIu64 "}",
			      cseq, clast);
	n += snprintf(body + n, sizeof body - (size_t)n, "}");
	l->st.polls++;
	bool first_send = confirm && cseq > l->st.confirm_sent_seq;
	if (first_send)
		l->st.confirm_sent_seq = cseq;
	pthread_mutex_unlock(&l->mu);
	if (first_send)
		notify(l); /* run.c may let the uploader go on (see run.c) */

	/* validity counts from here: before the request leaves */
	uint64_t sent = st_mono_ns(l->clock);
	struct st_error e = {0};
	struct st_buf ans;
	st_buf_init(&ans, false);
	long status = 0;
	int64_t now_s = (int64_t)(st_wall_ns(l->clock) / 1000000000u);
	int rc = st_device_call(l->transport, &l->ident, "POST", ST_LEASE_PATH,
				JSON_TYPE, (const uint8_t *)body, (size_t)n,
				now_s, &status, &ans, &e);
	uint8_t raw[ST_LEASE_MAX];
	size_t rawlen = 0;
	struct st_lease got;
	bool refused = false;
	if (rc == 0 && status != 200)
		rc = st_fail(&e, ST_E_HTTP, "POST " ST_LEASE_PATH ": HTTP %ld, "
			     "expected 200; retrying", status);
	if (rc == 0) {
		rc = answer_lease(&ans, raw, &rawlen, &e);
		refused = rc < 0;
	}
	if (rc == 0) {
		struct st_lease_expect x = {.server_pk = l->lease_pk,
					    .device_id = l->ident.device_id,
					    .nonce = nonce,
					    .min_seq = have_seq};
		rc = st_lease_verify(raw, rawlen, &x, &got, &e);
		refused = rc < 0;
	}
	st_buf_fini(&ans);
	sodium_memzero(nonce, sizeof nonce);

	pthread_mutex_lock(&l->mu);
	if (rc == ST_E_DEVICE_REVOKED) {
		l->revoked = true;
		snprintf(l->st.last_error, sizeof l->st.last_error, "%s", e.msg);
		pthread_mutex_unlock(&l->mu);
		notify(l);
		return st_fail(err, ST_E_DEVICE_REVOKED, "the server revoked "
			       "this device: lease polling stopped (%s)",
			       e.msg);
	}
	if (rc < 0) {
		/* never believed: the lease held before stays, and runs out
		 * at its own deadline */
		*wait_ms = backoff_locked(l, &e, refused);
		pthread_mutex_unlock(&l->mu);
		if (refused)
			notify(l); /* the count is shown in status */
		return 0;
	}
	/* a lease seq below have_seq was refused above, so this is the
	 * newest; a later poll could not have overtaken it (one at a time) */
	l->have = true;
	l->lease = got;
	l->deadline = sent + (uint64_t)got.validity_ms * NS_PER_MS;
	l->attempt = 0;
	l->st.failures = 0;
	l->st.received++;
	l->st.last_error[0] = 0;
	if (confirm && l->confirm_pending && l->confirm_seq == cseq) {
		l->confirm_pending = false;
		if (cseq > l->st.confirmed_seq)
			l->st.confirmed_seq = cseq;
	}
	bool wait_confirm = got.state == ST_LEASE_PAUSE &&
			    l->st.confirmed_seq < got.seq &&
			    !(l->confirm_pending && l->confirm_seq >= got.seq);
	l->awaiting_confirm = wait_confirm;
	if (wait_confirm)
		l->kicked = false; /* only a confirm from now on ends the wait */
	pthread_mutex_unlock(&l->mu);
	notify(l);
	if (wait_confirm) {
		*wait_ms = ST_LEASER_CONFIRM_WAIT_MS;
	} else {
		uint64_t now = st_mono_ns(l->clock), gap = ST_LEASER_POLL_GAP_MS *
							   NS_PER_MS;
		if (now - sent < gap)
			*wait_ms = (gap - (now - sent) + NS_PER_MS - 1) / NS_PER_MS;
	}
	return 0;
}

/* Waits ms, or less when stopped (or, while a confirm is awaited, when it
 * comes). */
static void wait_for(struct st_leaser *l, uint64_t ms)
{
	if (l->sleep_ms) {
		l->sleep_ms(l->seam_ctx, ms);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->mu);
	/* the deadline is judged on our own reading of the clock, not on
	 * the wait's return: a wait that ends early (an interposed time
	 * library, a spurious wake-up) must not skip the confirm wait */
	while (!l->stop && !(l->awaiting_confirm && l->kicked))
		if (st_cond_wait_until(&l->cv, &l->mu, &ts))
			break;
	l->kicked = false;
	l->awaiting_confirm = false;
	pthread_mutex_unlock(&l->mu);
}

static void *thread_main(void *arg)
{
	struct st_leaser *l = arg;
	for (;;) {
		pthread_mutex_lock(&l->mu);
		bool stop = l->stop;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
		uint64_t ms;
		struct st_error e = {0};
		if (st_leaser_step(l, &ms, &e) < 0)
			break; /* revoked: the view says so */
		if (ms)
			wait_for(l, ms);
	}
	pthread_mutex_lock(&l->mu);
	l->finished = true;
	bool detached = l->detached;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (detached)
		destroy(l);
	return NULL;
}

int st_leaser_start(struct st_leaser *l, struct st_error *err)
{
	if (l->running)
		return 0;
	int rc = pthread_create(&l->thread, NULL, thread_main, l);
	if (rc != 0)
		return st_fail(err, st_errno(rc), "leaser: cannot start its "
			       "thread: %s", strerror(rc));
	l->running = true;
	return 0;
}

void st_leaser_free(struct st_leaser *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	if (l->running && !l->finished) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)ST_LEASER_STOP_WAIT_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
		}
		while (!l->finished)
			if (st_cond_wait_until(&l->cv, &l->mu, &ts))
				break;
	}
	if (l->running && !l->finished) {
		/* a poll is still out: the thread frees everything itself
		 * once its call returns (it owns the transport and key) */
		pthread_t t = l->thread;
		l->detached = true;
		pthread_mutex_unlock(&l->mu);
		pthread_detach(t);
		return;
	}
	bool join = l->running;
	pthread_mutex_unlock(&l->mu);
	if (join)
		pthread_join(l->thread, NULL);
	destroy(l);
}

int st_leaser_fd(const struct st_leaser *l)
{
	return l ? l->efd : -1;
}

void st_leaser_view(struct st_leaser *l, struct st_leaser_view *out)
{
	uint64_t drain;
	while (read(l->efd, &drain, sizeof drain) > 0)
		;
	uint64_t now = st_mono_ns(l->clock);
	pthread_mutex_lock(&l->mu);
	*out = l->st;
	out->state = ST_LEASER_NONE;
	if (l->have) {
		out->seq = l->lease.seq;
		out->valid_until_mono_ns = l->deadline;
		out->validity_ms = l->lease.validity_ms;
		if (l->lease.state == ST_LEASE_PAUSE) {
			/* a pause stays a pause until a newer lease: running
			 * out cannot turn it into anything that records */
			out->state = ST_LEASER_PAUSE;
			out->discard = l->lease.flags & ST_LEASE_FLAG_DISCARD;
			memcpy(out->reason, l->lease.reason, sizeof out->reason);
		} else {
			out->state = now < l->deadline ? ST_LEASER_RECORD
						       : ST_LEASER_EXPIRED;
		}
	}
	if (l->revoked)
		out->state = ST_LEASER_REVOKED;
	pthread_mutex_unlock(&l->mu);
}

void st_leaser_report(struct st_leaser *l, enum st_leaser_report r)
{
	pthread_mutex_lock(&l->mu);
	l->report = r;
	pthread_mutex_unlock(&l->mu);
}

void st_leaser_confirm(struct st_leaser *l, uint64_t seq, uint64_t last_seq)
{
	pthread_mutex_lock(&l->mu);
	if (seq > l->st.confirmed_seq &&
	    (!l->confirm_pending || seq >= l->confirm_seq)) {
		l->confirm_pending = true;
		l->confirm_seq = seq;
		l->confirm_last = last_seq;
	}
	l->kicked = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}
