/* err.h - owns the one error space of sealtrace and the message carrier.
 * Never prints, never exits: callers decide what to show and how to end. */
#ifndef ST_ERR_H
#define ST_ERR_H

#include <stddef.h>

/* Every function that can fail returns int: 0 or a negative st_err.
 * Disjoint ranges keep each library's codes distinct in one space:
 *   -1 .. -4095            -errno
 *   ST_E_SQLITE_BASE - rc  SQLite result codes
 *   ST_E_CURL_BASE - rc    libcurl CURLcode
 *   ST_E_TLS_BASE - rc     GnuTLS / libmicrohttpd
 *   ST_E_OWN_BASE ...      sealtrace's own codes below */
enum st_err {
	ST_OK = 0,
	ST_E_ERRNO_MIN = -4095,
	ST_E_SQLITE_BASE = -10000,
	ST_E_CURL_BASE = -20000,
	ST_E_TLS_BASE = -30000,
	ST_E_OWN_BASE = -40000,

	ST_E_INVAL = -40001,     /* caller passed a value outside the contract */
	ST_E_NOMEM = -40002,     /* allocation failed */
	ST_E_BAD_MAGIC = -40003, /* input is not a sealtrace object */
	ST_E_VERSION = -40004,   /* format version this build cannot read */
	ST_E_TRUNCATED = -40005, /* input ends before a field it announces */
	ST_E_CAP = -40006,       /* a length or count is over its named cap */
	ST_E_ORDER = -40007,     /* timestamps out of order or out of range */
	ST_E_SIGNATURE = -40008, /* signature does not verify with the key */
	ST_E_NOT_FOR_KEY = -40009, /* segment key not sealed to this person key */
	ST_E_BODY_MISMATCH = -40010, /* body is not the one the header signs */
	ST_E_DECRYPT = -40011,   /* authenticated decryption failed */
	ST_E_COMPRESS = -40012,  /* zstd failed or frame malformed */
	ST_E_CORRUPT = -40013,   /* structurally invalid content */
	ST_E_KEY_MODE = -40014,  /* key file permissions too loose */
	ST_E_KEY_FORMAT = -40015, /* key file content malformed */
	ST_E_FLAGS = -40016,     /* unknown flag bits set */
	ST_E_LEVEL = -40017,     /* sensitivity level not storable */
	ST_E_KINDS = -40018,     /* header kinds bitmask disagrees with body */
	ST_E_CRYPTO_INIT = -40019, /* libsodium could not initialise */
	ST_E_JSON = -40020,      /* JSON input malformed or wrong shape */
	ST_E_SPOOL_FULL = -40021, /* spool at its bound: recording must stop */
	ST_E_CONSENT = -40022,   /* no accepted notice for this capture */
	ST_E_STATE = -40023,     /* operation not valid in the current state */
	ST_E_X11 = -40024,       /* display unreachable or extension missing */
	ST_E_PROTO = -40025,     /* control message malformed */
	ST_E_EXISTS = -40026,    /* object already present */
	ST_E_NOT_FOUND = -40027, /* object absent */
	ST_E_POLICY = -40028,    /* collection policy fails its check */
	ST_E_BROAD_GRANT = -40029, /* policy names a group, a role or everyone */
	ST_E_DEVICE_UNKNOWN = -40030, /* device id not enrolled on this server */
	ST_E_DEVICE_REVOKED = -40031, /* device revoked (or its person erased) */
	ST_E_PERSON_MISMATCH = -40032, /* header's person is not the device's */
	ST_E_NOTICE_NOT_ACCEPTED = -40033, /* notice not accepted there */
	ST_E_NOT_IN_NOTICE = -40034, /* kinds the accepted notice does not list */
	ST_E_OVER_KEEP = -40035, /* level above the policy's keep level */
	ST_E_TIME_WINDOW = -40036, /* times too far from the server clock */
	ST_E_CONFLICT = -40037,  /* sequence already holds other content */
	ST_E_AUTH = -40038,      /* no, unknown, expired or revoked API token */
	ST_E_FORBIDDEN = -40039, /* the token's role may not do this */
	ST_E_TOKEN_INVALID = -40040, /* enrollment token unknown or malformed */
	ST_E_TOKEN_EXPIRED = -40041, /* enrollment token past its lifetime */
	ST_E_TOKEN_USED = -40042, /* enrollment token already used */
	ST_E_PIN = -40043,       /* server certificate or key not the pinned one */
	ST_E_HTTP = -40044,      /* unexpected HTTP answer from the server */
	ST_E_TOO_LARGE = -40045, /* request body over the server's limit */
	ST_E_CONTENT_TYPE = -40046, /* request content type not accepted */
	ST_E_USER_MISMATCH = -40047, /* acceptance given as another local user */
	ST_E_REQUEST_TIME = -40048, /* signed request too old, too new or replayed */
	ST_E_MASTER_SECRET = -40049, /* a master secret where none may be */
	ST_E_UNAVAILABLE = -40050, /* server cannot serve now: retry later */
	ST_E_TIMEOUT = -40051,   /* an operation ran past its time limit */
	ST_E_LEASE_DEVICE = -40052, /* lease made for another device */
	ST_E_LEASE_REPLAY = -40053, /* lease nonce is not the outstanding one */
	ST_E_LEASE_OLD = -40054, /* lease sequence below the newest held */
	ST_E_NO_LEASE = -40055,  /* recorded without a lease (development) */
	ST_E_PAUSED = -40056,    /* recorded under a lease older than a pause,
				    or refused while a pause holds */
	ST_E_ERASED = -40057,    /* the person was erased: their key is gone */
	ST_E_PURPOSE = -40058,   /* no approved, unexpired purpose allows it */
	ST_E_TWO_PERSON = -40059, /* needs another person's approval */
	ST_E_AUDIT = -40060,     /* audit log or checkpoint fails verification */
	ST_E_PKCS11 = -40061,    /* PKCS#11 module, token or key failed */
	ST_E_SCOPE = -40062,     /* request outside the purpose's scope */
	ST_E_OWN_LAST = -40062,
};

/* Message capacity: long enough for a path, a position and advice. */
#define ST_ERROR_MSG_MAX 512

/* Optional out-parameter that receives a message naming the input, the place
 * and what to do. Functions accept NULL when the caller wants the code only. */
struct st_error {
	int code;
	char msg[ST_ERROR_MSG_MAX];
};

/* Name of a code, for any range ("truncated", "No such file or directory"). */
const char *st_strerror(int code);

/* Stable symbolic name of a code for machine-readable answers
 * ("signature", "device_revoked"; "errno_2", "sqlite_5", "curl_7",
 * "tls_n" for other ranges). Never NULL. */
const char *st_err_id(int code);
/* The inverse for sealtrace's own codes and errno ids; 0 when unknown. */
int st_err_from_id(const char *id);

/* Records code and a printf-style message in err (if not NULL); returns code,
 * so callers write: return st_fail(err, ST_E_TRUNCATED, "segment: ..."); */
int st_fail(struct st_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with context ("spool/00042.seg: "). */
int st_error_prefix(struct st_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Converts errno to the space: returns -errno (or ST_E_INVAL for 0). */
int st_errno(int errnum);

#endif
