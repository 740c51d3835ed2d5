/* http.c - the libmicrohttpd front: one daemon, bounded bodies, answers
 * queued at the one point where libmicrohttpd accepts them. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

struct st_http {
	struct MHD_Daemon *d;
	bool tls;
	uint32_t body_max;
	FILE *log;
	st_http_handler handler;
	void *ctx;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint16_t port;
	MHD_socket quiesced_fd; /* closed after MHD_stop_daemon */
	atomic_uint in_flight;
	atomic_bool started; /* libmicrohttpd's own messages: startup only */
};

/* What lives as long as one connection (MHD's socket context). */
struct st_http_conn {
	bool bound;
	uint8_t id[16];
};

struct st_http_req {
	struct st_http *h;
	struct MHD_Connection *conn;
	struct st_http_conn *cc; /* NULL: none (out of memory at accept) */
	char method[16];
	char target[ST_HTTP_URI_MAX + 1];
	char path[ST_HTTP_URI_MAX + 1];
	bool target_too_long;
	uint64_t t0_ns;
	bool headers_seen, body_done;
	bool too_large;
	size_t discarded;
	uint8_t *body;
	size_t len, cap;
	struct MHD_Response *resp;
	unsigned status;
	bool queued;
	/* suspend_pending: set by st_http_suspend, read and cleared by the
	 * polling thread only. resumed: set by the resuming thread before
	 * MHD_resume_connection, taken by the polling thread. */
	bool suspend_pending;
	atomic_bool resumed;
	void *user;
	char detail[ST_HTTP_DETAIL_MAX];
};

static const uint8_t empty_body[1];

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- listen address ---- */

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			return a->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			socklen_t *len, struct st_error *err)
{
	char host[256];
	const char *port;
	if (!listen || !*listen || strlen(listen) >= sizeof host)
		return st_fail(err, ST_E_INVAL,
			       "listen address \"%s\": empty or too long; "
			       "write HOST:PORT, e.g. 127.0.0.1:8443",
			       listen ? listen : "");
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return st_fail(err, ST_E_INVAL,
				       "listen address \"%s\": an IPv6 "
				       "address is written [ADDR]:PORT",
				       listen);
		memcpy(host, listen + 1, (size_t)(close - listen - 1));
		host[close - listen - 1] = 0;
		port = close + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon || strchr(listen, ':') != colon)
			return st_fail(err, ST_E_INVAL,
				       "listen address \"%s\": write "
				       "HOST:PORT (IPv6 as [ADDR]:PORT)",
				       listen);
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = 0;
		port = colon + 1;
	}
	char *end = NULL;
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || errno || p > 65535 || !*host)
		return st_fail(err, ST_E_INVAL,
			       "listen address \"%s\": the port must be "
			       "0..65535 (0: any free port)",
			       listen);
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || !res)
		return st_fail(err, ST_E_INVAL,
			       "listen address \"%s\": cannot resolve \"%s\" "
			       "(%s); use an IP address",
			       listen, host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- libmicrohttpd callbacks ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct st_http *h = cls;
	/* Only while starting: later messages may quote what a client sent,
	 * and the log never holds client input beyond method and path. */
	if (!h->log || atomic_load(&h->started))
		return;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	fprintf(h->log, "http: libmicrohttpd: %s\n", msg);
	fflush(h->log);
}

/* A connection's context: made when it opens, wiped and freed when it
 * closes. */
static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls, (void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct st_http_conn));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		sodium_memzero(*socket_context, sizeof(struct st_http_conn));
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct st_http *h = cls;
	struct st_http_req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->h = h;
	r->conn = c;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->cc = ci ? ci->socket_context : NULL;
	r->t0_ns = mono_ns();
	size_t n = uri ? strlen(uri) : 0;
	if (n > ST_HTTP_URI_MAX) {
		r->target_too_long = true;
		n = 0;
	}
	memcpy(r->target, uri ? uri : "", n);
	r->target[n] = 0;
	size_t pl = strcspn(r->target, "?#");
	memcpy(r->path, r->target, pl);
	r->path[pl] = 0;
	atomic_fetch_add(&h->in_flight, 1);
	return r;
}

/* Printable for the log line: bytes outside 0x21..0x7e become '?'. */
static void log_safe(char *out, size_t cap, const char *in, size_t max)
{
	size_t i = 0;
	for (; in[i] && i < max && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = 0;
}

static void free_req(struct st_http_req *r)
{
	if (r->body) {
		sodium_memzero(r->body, r->cap);
		free(r->body);
	}
	if (r->resp)
		MHD_destroy_response(r->resp);
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)c;
	struct st_http *h = cls;
	struct st_http_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (h->handler)
		h->handler(h->ctx, r, ST_HTTP_DONE);
	if (h->log) {
		char method[16], path[200];
		log_safe(method, sizeof method, r->method[0] ? r->method : "-",
			 15);
		log_safe(path, sizeof path, r->path[0] ? r->path : "-", 199);
		uint64_t ms = (mono_ns() - r->t0_ns) / 1000000u;
		char status[16];
		if (r->queued)
			snprintf(status, sizeof status, "%u", r->status);
		else
			snprintf(status, sizeof status, "-");
		const char *how = "";
		if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
			how = " timeout";
		else if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
			how = " shutdown";
		else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			how = " broken";
		/* One fprintf per line: stdio's lock keeps lines whole. Not
		 * flushed here: whoever owns the log flushes it (sealtrace
		 * serve: its ticker, every 100 ms) */
		fprintf(h->log, "%s %s %s %" PRIu64 "ms%s%s%s\n", method, path,
			status, ms, how, r->detail[0] ? " " : "", r->detail);
	}
	free_req(r);
	atomic_fetch_sub(&h->in_flight, 1);
}

static enum MHD_Result queue(struct st_http_req *r)
{
	if (!r->resp)
		return MHD_NO;
	enum MHD_Result rc = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->queued = rc == MHD_YES;
	return rc;
}

/* Content-Length as a number; false when absent or not one. */
static bool content_length(struct st_http_req *r, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!v || !*v)
		return false;
	uint64_t n = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 9)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return true;
}

static void too_large(struct st_http_req *r)
{
	char msg[160];
	snprintf(msg, sizeof msg,
		 "request body: over the server's limit of %" PRIu32
		 " bytes (body_max); send less per request",
		 r->h->body_max);
	st_http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, ST_E_TOO_LARGE, msg);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	(void)url, (void)version;
	struct st_http *h = cls;
	struct st_http_req *r = *con_cls;
	if (!r)
		return MHD_NO; /* out of memory at the request line */
	r->conn = c;

	if (!r->headers_seen) {
		r->headers_seen = true;
		snprintf(r->method, sizeof r->method, "%s", method);
		uint64_t cl = 0;
		if (content_length(r, &cl) && cl > h->body_max) {
			too_large(r);
			return queue(r);
		}
		h->handler(h->ctx, r, ST_HTTP_HEADERS);
		if (r->resp)
			return queue(r);
		if (content_length(r, &cl) && cl > 0) {
			r->body = malloc((size_t)cl);
			if (!r->body)
				return MHD_NO;
			r->cap = (size_t)cl;
		}
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (!r->too_large && n > h->body_max - r->len) {
			/* Keep nothing more: drop what we hold and answer 413
			 * at the end of the body, unless it goes on too long. */
			r->too_large = true;
			if (r->body) {
				sodium_memzero(r->body, r->cap);
				free(r->body);
			}
			r->body = NULL;
			r->len = r->cap = 0;
		}
		if (r->too_large) {
			r->discarded += n;
			return r->discarded > ST_HTTP_DISCARD_MAX ? MHD_NO
								  : MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap : 4096;
			while (cap < r->len + n)
				cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			if (cap > h->body_max)
				cap = h->body_max;
			uint8_t *p = malloc(cap);
			if (!p)
				return MHD_NO;
			if (r->body) {
				memcpy(p, r->body, r->len);
				sodium_memzero(r->body, r->cap);
				free(r->body);
			}
			r->body = p;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		return MHD_YES;
	}

	if (r->too_large) {
		too_large(r);
		return queue(r);
	}
	if (!r->body_done) {
		r->body_done = true;
		h->handler(h->ctx, r, ST_HTTP_BODY);
	} else if (atomic_exchange(&r->resumed, false)) {
		h->handler(h->ctx, r, ST_HTTP_RESUMED);
	} else if (!r->resp) {
		return MHD_YES; /* still waiting for its answer */
	}
	if (r->resp)
		return queue(r);
	if (r->suspend_pending) {
		r->suspend_pending = false;
		return MHD_YES;
	}
	st_http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, ST_E_STATE,
			    "server: the handler gave no answer; report this");
	return queue(r);
}

/* ---- the daemon ---- */

int st_http_start(const struct st_http_cfg *cfg, struct st_http **out,
		  struct st_error *err)
{
	*out = NULL;
	if (!cfg || !cfg->handler || cfg->body_max == 0 ||
	    cfg->connections_max == 0 || cfg->threads == 0)
		return st_fail(err, ST_E_INVAL,
			       "http: body_max, connections_max and threads "
			       "must be at least 1");
	struct st_http *h = calloc(1, sizeof *h);
	if (!h)
		return st_fail(err, ST_E_NOMEM, "http: out of memory");
	h->body_max = cfg->body_max;
	h->log = cfg->log;
	h->handler = cfg->handler;
	h->ctx = cfg->ctx;
	h->quiesced_fd = MHD_INVALID_SOCKET;
	int rc = parse_listen(cfg->listen, &h->addr, &h->addr_len, err);
	if (rc < 0) {
		free(h);
		return rc;
	}
	bool loop = addr_is_loopback((struct sockaddr *)&h->addr);
	if (cfg->plain_http && !loop) {
		free(h);
		return st_fail(err, ST_E_INVAL,
			       "listen address \"%s\": plain HTTP is only "
			       "served on a loopback address; listen on "
			       "127.0.0.1 or [::1], or drop plain_http to "
			       "serve HTTPS",
			       cfg->listen);
	}
	h->tls = !cfg->plain_http;
	if (h->tls && (!cfg->cert_pem || !cfg->key_pem)) {
		free(h);
		return st_fail(err, ST_E_INVAL,
			       "http: HTTPS needs a certificate and a key");
	}

	/* epoll: with 10,000 held polls resumed at once by a pause, poll()
	 * scanned every descriptor on every turn, a quarter of the server's
	 * CPU in bench/control.sh (edge-triggered epoll: 1.24 s to the last
	 * confirmation instead of 1.70 s). An earlier build saw a burst of 64
	 * concurrent TLS handshakes stall under epoll; the suite's TLS tests
	 * and bench/control.sh's 10,000 handshakes (200 at a time) now pass
	 * with it, and bench/ingest.sh's 64 workers too. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	if (h->tls)
		flags |= MHD_USE_TLS;
	if (h->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	struct MHD_OptionItem opts[16];
	size_t n = 0;
#define OPT(o, v, p) \
	(opts[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)})
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h);
	OPT(MHD_OPTION_SOCK_ADDR, 0, &h->addr);
	OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->connections_max, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ST_HTTP_CONN_MEMORY,
	    NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h);
	OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
	if (cfg->threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL);
	if (h->tls) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->key_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0,
		    (void *)ST_HTTP_TLS_PRIORITIES);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* MHD_OPTION_EXTERNAL_LOGGER takes a function pointer in `value`
	 * through the array form; libmicrohttpd reads it back as such. */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!h->d) {
		bool tls = h->tls;
		free(h);
		return st_fail(err, ST_E_TLS_BASE - 1,
			       "listen address \"%s\": the HTTP%s server did "
			       "not start (address in use, no permission, or "
			       "a certificate and key that do not match; see "
			       "the log above)",
			       cfg->listen, tls ? "S" : "");
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : 0;
	atomic_store(&h->started, true);
	*out = h;
	return 0;
}

uint16_t st_http_port(const struct st_http *h)
{
	return h->port;
}

int st_http_url(const struct st_http *h, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN + 2];
	if (h->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&h->addr;
		struct in6_addr ip = a->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(&ip))
			ip = in6addr_loopback; /* any: reach it on ::1 */
		char t[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &ip, t, sizeof t);
		snprintf(host, sizeof host, "[%s]", t);
	} else {
		const struct sockaddr_in *a = (const void *)&h->addr;
		struct in_addr ip = a->sin_addr;
		if (ip.s_addr == htonl(INADDR_ANY))
			ip.s_addr = htonl(INADDR_LOOPBACK);
		inet_ntop(AF_INET, &ip, host, sizeof host);
	}
	int n = snprintf(out, cap, "%s://%s:%u", h->tls ? "https" : "http",
			 host, (unsigned)h->port);
	return n < 0 || (size_t)n >= cap ? ST_E_CAP : 0;
}

void st_http_quiesce(struct st_http *h)
{
	if (h && h->quiesced_fd == MHD_INVALID_SOCKET)
		h->quiesced_fd = MHD_quiesce_daemon(h->d);
}

unsigned st_http_in_flight(const struct st_http *h)
{
	return atomic_load(&((struct st_http *)h)->in_flight);
}

void st_http_stop(struct st_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	if (h->quiesced_fd != MHD_INVALID_SOCKET)
		close(h->quiesced_fd);
	free(h);
}

/* ---- for handlers ---- */

const char *st_http_method(const struct st_http_req *r)
{
	return r->method;
}

const char *st_http_path(const struct st_http_req *r)
{
	return r->target_too_long ? "" : r->path;
}

const char *st_http_target(const struct st_http_req *r)
{
	return r->target_too_long ? "" : r->target;
}

const char *st_http_header(const struct st_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *st_http_query(const struct st_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

const uint8_t *st_http_body(const struct st_http_req *r, size_t *len)
{
	*len = r->len;
	return r->body ? r->body : empty_body;
}

void **st_http_user(struct st_http_req *r)
{
	return &r->user;
}

void st_http_bind(struct st_http_req *r, const uint8_t id[16])
{
	if (!r->h->tls || !r->cc)
		return;
	memcpy(r->cc->id, id, 16);
	r->cc->bound = true;
}

bool st_http_bound(const struct st_http_req *r, const uint8_t id[16])
{
	return r->h->tls && r->cc && r->cc->bound &&
	       sodium_memcmp(r->cc->id, id, 16) == 0;
}

void st_http_detail(struct st_http_req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof r->detail, fmt, ap);
	va_end(ap);
}

bool st_http_answered(const struct st_http_req *r)
{
	return r->resp || r->queued;
}

static int set_resp(struct st_http_req *r, unsigned status,
		    struct MHD_Response *resp, const char *content_type)
{
	if (!resp)
		return ST_E_NOMEM;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	r->resp = resp;
	r->status = status;
	return 0;
}

int st_http_reply(struct st_http_req *r, unsigned status,
		  const char *content_type, const void *body, size_t len)
{
	if (st_http_answered(r))
		return ST_E_STATE;
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
	return set_resp(r, status, resp, content_type);
}

int st_http_reply_error(struct st_http_req *r, unsigned status, int code,
			const char *msg)
{
	json_t *j = json_pack("{s:{s:s,s:i,s:s}}", "error", "id",
			      st_err_id(code), "code", (json_int_t)code,
			      "message", msg ? msg : st_strerror(code));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) {
		/* The message was not UTF-8, or memory ran out: say less. */
		static const char fallback[] =
			"{\"error\":{\"id\":\"nomem\",\"code\":-40002,"
			"\"message\":\"server: could not format the answer\"}}";
		return st_http_reply(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "application/json", fallback,
				     sizeof fallback - 1);
	}
	int rc = st_http_reply(r, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

int st_http_reply_fd(struct st_http_req *r, unsigned status,
		     const char *content_type, int fd, uint64_t size)
{
	if (st_http_answered(r)) {
		close(fd);
		return ST_E_STATE;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	if (!resp) {
		close(fd);
		return ST_E_NOMEM;
	}
	return set_resp(r, status, resp, content_type);
}

void st_http_suspend(struct st_http_req *r)
{
	r->suspend_pending = true;
	MHD_suspend_connection(r->conn);
}

void st_http_resume(struct st_http_req *r)
{
	struct MHD_Connection *c = r->conn;
	atomic_store(&r->resumed, true);
	MHD_resume_connection(c);
}
