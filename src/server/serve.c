/* serve.c - `sealtrace serve`: refuses a master secret, loads the TLS
 * material, opens the store twice (committer, handlers), starts the API and
 * the HTTP front, then waits for SIGTERM/SIGINT or stop_fd and stops in
 * order: no new connections, held lease polls answered, requests in
 * flight finish (bounded), every
 * queued segment committed and answered, daemon stopped, store closed. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/file.h"
#include "core/mem.h"
#include "server/api.h"
#include "server/http.h"
#include "server/store.h"
#include "server/tls.h"

/* After the committer drained, how long its answers may take to go out. */
#define ST_SERVE_ANSWER_WAIT_MS 2000u
/* How often the stop sequence looks at requests in flight. */
#define ST_SERVE_POLL_MS 10u

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void say(const struct st_serve_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const struct st_serve_opts *o, const char *fmt, ...)
{
	if (!o->log)
		return;
	char line[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(o->log, "sealtrace: %s\n", line);
	fflush(o->log);
}

/* Reads a PEM file whole, NUL-terminated, into *out (sodium_malloc'ed when
 * secret; the caller frees with free_pem). A secret file must be a regular
 * file that only its owner may read or write. */
static int read_pem(const char *path, bool secret, char **out, size_t *cap,
		    struct st_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return st_fail(err, st_errno(errno),
			       "TLS file %s: %s; run `sealtrace init` or set "
			       "the path in config.json",
			       path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_fail(err, ST_E_INVAL, "TLS file %s: not a regular "
			       "file", path);
	}
	if (secret && (st.st_mode & 077)) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE,
			       "TLS key %s is mode %04o; run chmod 600 %s",
			       path, (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > ST_TLS_PEM_MAX) {
		close(fd);
		return st_fail(err, ST_E_CAP,
			       "TLS file %s: %lld bytes; a PEM file is 1 to "
			       "%u bytes",
			       path, (long long)st.st_size, ST_TLS_PEM_MAX);
	}
	size_t n = (size_t)st.st_size;
	char *buf = secret ? sodium_malloc(n + 1) : malloc(n + 1);
	if (!buf) {
		close(fd);
		return st_fail(err, ST_E_NOMEM, "TLS file %s: out of memory",
			       path);
	}
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? errno : EIO;
			close(fd);
			if (secret) {
				sodium_memzero(buf, n + 1);
				sodium_free(buf);
			} else {
				free(buf);
			}
			return st_fail(err, st_errno(e), "TLS file %s: %s",
				       path, strerror(e));
		}
		got += (size_t)k;
	}
	close(fd);
	buf[n] = 0;
	*out = buf;
	*cap = n + 1;
	return 0;
}

static void free_pem(char *p, size_t cap, bool secret)
{
	if (!p)
		return;
	if (secret) {
		sodium_memzero(p, cap);
		sodium_free(p);
	} else {
		free(p);
	}
}

static int open_store(const struct st_server_config *cfg,
		      struct st_store **out, struct st_error *err)
{
	struct st_store_cfg sc = {.path = cfg->db};
	int rc = st_store_open(&st_store_sqlite, &sc, out, err);
	if (rc < 0)
		st_error_prefix(err, "store %s: ", cfg->db);
	return rc;
}

/* Waits until no request is in flight or deadline_ms passes. */
static void wait_idle(struct st_http *h, uint64_t deadline_ms)
{
	while (st_http_in_flight(h) > 0 && mono_ms() < deadline_ms) {
		struct timespec ts = {0, ST_SERVE_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int st_serve(const struct st_server_config *cfg,
	     const struct st_serve_opts *o, struct st_error *err)
{
	struct st_serve_opts none = {.stop_fd = -1};
	if (!o)
		o = &none;
	if (!cfg)
		return st_fail(err, ST_E_INVAL, "serve: no configuration");
	int rc = st_crypto_init();
	if (rc < 0)
		return st_fail(err, rc, "serve: libsodium did not start");
	/* The one rule no setting can bend: no master secret anywhere the
	 * server reads (DESIGN.md, key custody). */
	if ((rc = st_server_config_check_no_master_secret(cfg, err)) < 0)
		return rc;
	if (cfg->plain_http && !st_server_config_listen_is_loopback(cfg->listen))
		return st_fail(err, ST_E_INVAL,
			       "config: plain_http is only allowed on a "
			       "loopback address, and listen is \"%s\"; "
			       "listen on 127.0.0.1 or [::1], or serve HTTPS",
			       cfg->listen);

	char *cert = NULL, *key = NULL;
	size_t cert_cap = 0, key_cap = 0;
	if (!cfg->plain_http) {
		if ((rc = read_pem(cfg->tls_cert, false, &cert, &cert_cap,
				   err)) < 0)
			return rc;
		if ((rc = read_pem(cfg->tls_key, true, &key, &key_cap, err)) <
		    0) {
			free_pem(cert, cert_cap, false);
			return rc;
		}
	}

	/* Signals: blocked here before any thread starts (every thread
	 * inherits the mask), read through a signalfd. SIGPIPE is blocked
	 * too: a client gone mid-answer must not end the server. */
	sigset_t stop_set, block_set, old_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	block_set = stop_set;
	sigaddset(&block_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block_set, &old_set);
	int sfd = signalfd(-1, &stop_set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct st_store *ingest = NULL, *admin = NULL, *check = NULL;
	struct st_api *api = NULL;
	struct st_http *http = NULL;
	if (sfd < 0) {
		rc = st_fail(err, st_errno(errno), "serve: signalfd: %s",
			     strerror(errno));
		goto out;
	}

	if ((rc = open_store(cfg, &ingest, err)) < 0 ||
	    (rc = open_store(cfg, &admin, err)) < 0 ||
	    (rc = open_store(cfg, &check, err)) < 0) {
		st_store_close(ingest);
		st_store_close(admin);
		goto out;
	}
	struct st_api_cfg ac = {.cfg = cfg,
				.ingest_store = ingest,
				.check_store = check,
				.admin_store = admin,
				.log = o->log};
	if ((rc = st_api_new(&ac, &api, err)) < 0)
		goto out; /* the stores were closed by st_api_new */

	struct st_http_cfg hc = {
		.listen = cfg->listen,
		.plain_http = cfg->plain_http,
		.cert_pem = cert,
		.key_pem = key,
		.body_max = cfg->body_max,
		.connections_max = cfg->connections_max,
		.connection_timeout_s = cfg->connection_timeout_s,
		.threads = cfg->threads ? cfg->threads : 1,
		.log = o->log,
		.handler = st_api_handle,
		.ctx = api,
	};
	if ((rc = st_http_start(&hc, &http, err)) < 0)
		goto out;

	char url[300];
	st_http_url(http, url, sizeof url);
	if (o->url_file) {
		char line[310];
		int n = snprintf(line, sizeof line, "%s\n", url);
		rc = st_file_write_atomic(o->url_file, line, (size_t)n, 0644,
					  err);
		if (rc < 0) {
			st_error_prefix(err, "url file: ");
			goto out;
		}
	}
	say(o, "listening on %s (store %s)", url, cfg->db);

	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
				      {.fd = o->stop_fd, .events = POLLIN}};
		int k = poll(p, o->stop_fd >= 0 ? 2 : 1, -1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = st_fail(err, st_errno(errno), "serve: poll: %s",
				     strerror(errno));
			break;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == sizeof si)
				say(o, "%s: stopping",
				    si.ssi_signo == SIGINT ? "SIGINT"
							   : "SIGTERM");
			break;
		}
		if (o->stop_fd >= 0 && p[1].revents) {
			say(o, "asked to stop: stopping");
			break;
		}
	}

	/* No new connections; what is in flight has connection_timeout_s
	 * to finish, and the committer goes on answering meanwhile. */
	st_http_quiesce(http);
	/* Held lease polls are answered now (a renewed lease), not left to
	 * run out their hold while the server waits for them. */
	st_api_quiesce(api);
	uint64_t deadline =
		mono_ms() + (uint64_t)cfg->connection_timeout_s * 1000u;
	wait_idle(http, deadline);
	/* Every queued segment is committed and answered; later uploads get
	 * 503. Then the answers get a moment to leave. */
	st_api_drain(api);
	uint64_t answers = mono_ms() + ST_SERVE_ANSWER_WAIT_MS;
	wait_idle(http, answers > deadline ? answers : deadline);
	unsigned left = st_http_in_flight(http);
	if (left)
		say(o, "%u request(s) still in flight are cut off", left);
	say(o, "stopped");

out:
	st_api_quiesce(api); /* the daemon stops only with none suspended */
	st_http_stop(http);
	st_api_free(api);
	if (o->log)
		fflush(o->log); /* the last requests' lines */
	if (sfd >= 0) {
		/* A signal that came during the stop is taken, not left to
		 * the restored mask. */
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == sizeof si)
			;
		close(sfd);
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	free_pem(cert, cert_cap, false);
	free_pem(key, key_cap, true);
	return rc;
}
