/* err.c - one strerror for every range of the error space. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const own_names[] = {
	[0] = "ok",
	[-(ST_E_INVAL - ST_E_OWN_BASE)] = "invalid argument",
	[-(ST_E_NOMEM - ST_E_OWN_BASE)] = "out of memory",
	[-(ST_E_BAD_MAGIC - ST_E_OWN_BASE)] = "bad magic",
	[-(ST_E_VERSION - ST_E_OWN_BASE)] = "unsupported version",
	[-(ST_E_TRUNCATED - ST_E_OWN_BASE)] = "truncated",
	[-(ST_E_CAP - ST_E_OWN_BASE)] = "length over cap",
	[-(ST_E_ORDER - ST_E_OWN_BASE)] = "timestamps out of order",
	[-(ST_E_SIGNATURE - ST_E_OWN_BASE)] = "bad signature",
	[-(ST_E_NOT_FOR_KEY - ST_E_OWN_BASE)] = "not sealed to this key",
	[-(ST_E_BODY_MISMATCH - ST_E_OWN_BASE)] = "body does not match header",
	[-(ST_E_DECRYPT - ST_E_OWN_BASE)] = "decryption failed",
	[-(ST_E_COMPRESS - ST_E_OWN_BASE)] = "compression error",
	[-(ST_E_CORRUPT - ST_E_OWN_BASE)] = "corrupt content",
	[-(ST_E_KEY_MODE - ST_E_OWN_BASE)] = "key file mode too loose",
	[-(ST_E_KEY_FORMAT - ST_E_OWN_BASE)] = "key file malformed",
	[-(ST_E_FLAGS - ST_E_OWN_BASE)] = "unknown flags",
	[-(ST_E_LEVEL - ST_E_OWN_BASE)] = "sensitivity level not storable",
	[-(ST_E_KINDS - ST_E_OWN_BASE)] = "kinds bitmask mismatch",
	[-(ST_E_CRYPTO_INIT - ST_E_OWN_BASE)] = "crypto library init failed",
	[-(ST_E_JSON - ST_E_OWN_BASE)] = "malformed JSON",
	[-(ST_E_SPOOL_FULL - ST_E_OWN_BASE)] = "spool full",
	[-(ST_E_CONSENT - ST_E_OWN_BASE)] = "no accepted notice",
	[-(ST_E_STATE - ST_E_OWN_BASE)] = "not valid in this state",
	[-(ST_E_X11 - ST_E_OWN_BASE)] = "X display error",
	[-(ST_E_PROTO - ST_E_OWN_BASE)] = "malformed control message",
	[-(ST_E_EXISTS - ST_E_OWN_BASE)] = "already exists",
	[-(ST_E_NOT_FOUND - ST_E_OWN_BASE)] = "not found",
	[-(ST_E_POLICY - ST_E_OWN_BASE)] = "policy fails its check",
	[-(ST_E_BROAD_GRANT - ST_E_OWN_BASE)] = "broad grant: a group, a role or everyone",
	[-(ST_E_DEVICE_UNKNOWN - ST_E_OWN_BASE)] = "device not enrolled",
	[-(ST_E_DEVICE_REVOKED - ST_E_OWN_BASE)] = "device revoked",
	[-(ST_E_PERSON_MISMATCH - ST_E_OWN_BASE)] = "person does not match the device",
	[-(ST_E_NOTICE_NOT_ACCEPTED - ST_E_OWN_BASE)] = "notice not accepted on this device",
	[-(ST_E_NOT_IN_NOTICE - ST_E_OWN_BASE)] = "kinds not in the accepted notice",
	[-(ST_E_OVER_KEEP - ST_E_OWN_BASE)] = "level above the policy's keep level",
	[-(ST_E_TIME_WINDOW - ST_E_OWN_BASE)] = "time outside the accepted window",
	[-(ST_E_CONFLICT - ST_E_OWN_BASE)] = "sequence already used by other content",
	[-(ST_E_AUTH - ST_E_OWN_BASE)] = "not authenticated",
	[-(ST_E_FORBIDDEN - ST_E_OWN_BASE)] = "not permitted for this token",
	[-(ST_E_TOKEN_INVALID - ST_E_OWN_BASE)] = "enrollment token invalid",
	[-(ST_E_TOKEN_EXPIRED - ST_E_OWN_BASE)] = "enrollment token expired",
	[-(ST_E_TOKEN_USED - ST_E_OWN_BASE)] = "enrollment token already used",
	[-(ST_E_PIN - ST_E_OWN_BASE)] = "server identity does not match the pin",
	[-(ST_E_HTTP - ST_E_OWN_BASE)] = "unexpected HTTP answer",
	[-(ST_E_TOO_LARGE - ST_E_OWN_BASE)] = "request too large",
	[-(ST_E_CONTENT_TYPE - ST_E_OWN_BASE)] = "content type not accepted",
	[-(ST_E_USER_MISMATCH - ST_E_OWN_BASE)] = "acceptance by another local user",
	[-(ST_E_REQUEST_TIME - ST_E_OWN_BASE)] = "signed request outside its time window",
	[-(ST_E_MASTER_SECRET - ST_E_OWN_BASE)] = "master secret present where none may be",
	[-(ST_E_UNAVAILABLE - ST_E_OWN_BASE)] = "service unavailable",
	[-(ST_E_TIMEOUT - ST_E_OWN_BASE)] = "timed out",
	[-(ST_E_LEASE_DEVICE - ST_E_OWN_BASE)] = "lease for another device",
	[-(ST_E_LEASE_REPLAY - ST_E_OWN_BASE)] = "lease replayed (wrong nonce)",
	[-(ST_E_LEASE_OLD - ST_E_OWN_BASE)] = "lease older than the one held",
	[-(ST_E_NO_LEASE - ST_E_OWN_BASE)] = "recorded without a lease",
	[-(ST_E_PAUSED - ST_E_OWN_BASE)] = "paused",
	[-(ST_E_ERASED - ST_E_OWN_BASE)] = "person erased",
	[-(ST_E_PURPOSE - ST_E_OWN_BASE)] = "no approved purpose allows this",
	[-(ST_E_TWO_PERSON - ST_E_OWN_BASE)] = "needs a second person",
	[-(ST_E_AUDIT - ST_E_OWN_BASE)] = "audit log fails verification",
	[-(ST_E_PKCS11 - ST_E_OWN_BASE)] = "PKCS#11 failure",
	[-(ST_E_SCOPE - ST_E_OWN_BASE)] = "outside the purpose's scope",
};

static const char *const own_ids[] = {
	[0] = "ok",
	[-(ST_E_INVAL - ST_E_OWN_BASE)] = "inval",
	[-(ST_E_NOMEM - ST_E_OWN_BASE)] = "nomem",
	[-(ST_E_BAD_MAGIC - ST_E_OWN_BASE)] = "bad_magic",
	[-(ST_E_VERSION - ST_E_OWN_BASE)] = "version",
	[-(ST_E_TRUNCATED - ST_E_OWN_BASE)] = "truncated",
	[-(ST_E_CAP - ST_E_OWN_BASE)] = "cap",
	[-(ST_E_ORDER - ST_E_OWN_BASE)] = "order",
	[-(ST_E_SIGNATURE - ST_E_OWN_BASE)] = "signature",
	[-(ST_E_NOT_FOR_KEY - ST_E_OWN_BASE)] = "not_for_key",
	[-(ST_E_BODY_MISMATCH - ST_E_OWN_BASE)] = "body_mismatch",
	[-(ST_E_DECRYPT - ST_E_OWN_BASE)] = "decrypt",
	[-(ST_E_COMPRESS - ST_E_OWN_BASE)] = "compress",
	[-(ST_E_CORRUPT - ST_E_OWN_BASE)] = "corrupt",
	[-(ST_E_KEY_MODE - ST_E_OWN_BASE)] = "key_mode",
	[-(ST_E_KEY_FORMAT - ST_E_OWN_BASE)] = "key_format",
	[-(ST_E_FLAGS - ST_E_OWN_BASE)] = "flags",
	[-(ST_E_LEVEL - ST_E_OWN_BASE)] = "level",
	[-(ST_E_KINDS - ST_E_OWN_BASE)] = "kinds",
	[-(ST_E_CRYPTO_INIT - ST_E_OWN_BASE)] = "crypto_init",
	[-(ST_E_JSON - ST_E_OWN_BASE)] = "json",
	[-(ST_E_SPOOL_FULL - ST_E_OWN_BASE)] = "spool_full",
	[-(ST_E_CONSENT - ST_E_OWN_BASE)] = "consent",
	[-(ST_E_STATE - ST_E_OWN_BASE)] = "state",
	[-(ST_E_X11 - ST_E_OWN_BASE)] = "x11",
	[-(ST_E_PROTO - ST_E_OWN_BASE)] = "proto",
	[-(ST_E_EXISTS - ST_E_OWN_BASE)] = "exists",
	[-(ST_E_NOT_FOUND - ST_E_OWN_BASE)] = "not_found",
	[-(ST_E_POLICY - ST_E_OWN_BASE)] = "policy",
	[-(ST_E_BROAD_GRANT - ST_E_OWN_BASE)] = "broad_grant",
	[-(ST_E_DEVICE_UNKNOWN - ST_E_OWN_BASE)] = "device_unknown",
	[-(ST_E_DEVICE_REVOKED - ST_E_OWN_BASE)] = "device_revoked",
	[-(ST_E_PERSON_MISMATCH - ST_E_OWN_BASE)] = "person_mismatch",
	[-(ST_E_NOTICE_NOT_ACCEPTED - ST_E_OWN_BASE)] = "notice_not_accepted",
	[-(ST_E_NOT_IN_NOTICE - ST_E_OWN_BASE)] = "not_in_notice",
	[-(ST_E_OVER_KEEP - ST_E_OWN_BASE)] = "over_keep",
	[-(ST_E_TIME_WINDOW - ST_E_OWN_BASE)] = "time_window",
	[-(ST_E_CONFLICT - ST_E_OWN_BASE)] = "conflict",
	[-(ST_E_AUTH - ST_E_OWN_BASE)] = "auth",
	[-(ST_E_FORBIDDEN - ST_E_OWN_BASE)] = "forbidden",
	[-(ST_E_TOKEN_INVALID - ST_E_OWN_BASE)] = "token_invalid",
	[-(ST_E_TOKEN_EXPIRED - ST_E_OWN_BASE)] = "token_expired",
	[-(ST_E_TOKEN_USED - ST_E_OWN_BASE)] = "token_used",
	[-(ST_E_PIN - ST_E_OWN_BASE)] = "pin",
	[-(ST_E_HTTP - ST_E_OWN_BASE)] = "http",
	[-(ST_E_TOO_LARGE - ST_E_OWN_BASE)] = "too_large",
	[-(ST_E_CONTENT_TYPE - ST_E_OWN_BASE)] = "content_type",
	[-(ST_E_USER_MISMATCH - ST_E_OWN_BASE)] = "user_mismatch",
	[-(ST_E_REQUEST_TIME - ST_E_OWN_BASE)] = "request_time",
	[-(ST_E_MASTER_SECRET - ST_E_OWN_BASE)] = "master_secret",
	[-(ST_E_UNAVAILABLE - ST_E_OWN_BASE)] = "unavailable",
	[-(ST_E_TIMEOUT - ST_E_OWN_BASE)] = "timeout",
	[-(ST_E_LEASE_DEVICE - ST_E_OWN_BASE)] = "lease_device",
	[-(ST_E_LEASE_REPLAY - ST_E_OWN_BASE)] = "lease_replay",
	[-(ST_E_LEASE_OLD - ST_E_OWN_BASE)] = "lease_old",
	[-(ST_E_NO_LEASE - ST_E_OWN_BASE)] = "no_lease",
	[-(ST_E_PAUSED - ST_E_OWN_BASE)] = "paused",
	[-(ST_E_ERASED - ST_E_OWN_BASE)] = "erased",
	[-(ST_E_PURPOSE - ST_E_OWN_BASE)] = "purpose",
	[-(ST_E_TWO_PERSON - ST_E_OWN_BASE)] = "two_person",
	[-(ST_E_AUDIT - ST_E_OWN_BASE)] = "audit",
	[-(ST_E_PKCS11 - ST_E_OWN_BASE)] = "pkcs11",
	[-(ST_E_SCOPE - ST_E_OWN_BASE)] = "scope",
};

const char *st_err_id(int code)
{
	static _Thread_local char buf[32];
	if (code <= ST_E_OWN_BASE && code >= ST_E_OWN_LAST) {
		const char *s = own_ids[-(code - ST_E_OWN_BASE)];
		return s ? s : "unknown";
	}
	if (code == 0)
		return "ok";
	if (code < 0 && code >= ST_E_ERRNO_MIN)
		snprintf(buf, sizeof buf, "errno_%d", -code);
	else if (code <= ST_E_SQLITE_BASE && code > ST_E_CURL_BASE)
		snprintf(buf, sizeof buf, "sqlite_%d", ST_E_SQLITE_BASE - code);
	else if (code <= ST_E_CURL_BASE && code > ST_E_TLS_BASE)
		snprintf(buf, sizeof buf, "curl_%d", ST_E_CURL_BASE - code);
	else if (code <= ST_E_TLS_BASE && code > ST_E_OWN_BASE)
		snprintf(buf, sizeof buf, "tls_%d", ST_E_TLS_BASE - code);
	else
		return "unknown";
	return buf;
}

int st_err_from_id(const char *id)
{
	if (!id)
		return 0;
	for (int i = 1; i <= -(ST_E_OWN_LAST - ST_E_OWN_BASE); i++)
		if (own_ids[i] && strcmp(own_ids[i], id) == 0)
			return ST_E_OWN_BASE - i;
	int n;
	if (sscanf(id, "errno_%d", &n) == 1 && n > 0 && n <= -ST_E_ERRNO_MIN)
		return -n;
	return 0;
}

const char *st_strerror(int code)
{
	if (code == 0)
		return "ok";
	if (code < 0 && code >= ST_E_ERRNO_MIN)
		return strerror(-code);
	if (code <= ST_E_OWN_BASE && code >= ST_E_OWN_LAST) {
		const char *s = own_names[-(code - ST_E_OWN_BASE)];
		return s ? s : "unknown sealtrace error";
	}
	if (code <= ST_E_TLS_BASE && code > ST_E_OWN_BASE)
		return "TLS or HTTP server error";
	if (code <= ST_E_CURL_BASE && code > ST_E_TLS_BASE)
		return "HTTP client error";
	if (code <= ST_E_SQLITE_BASE && code > ST_E_CURL_BASE)
		return "database error";
	return "unknown error";
}

int st_fail(struct st_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

int st_error_prefix(struct st_error *err, const char *fmt, ...)
{
	if (!err)
		return 0;
	char pre[ST_ERROR_MSG_MAX], old[ST_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	size_t pl = strnlen(pre, sizeof pre - 1);
	memcpy(err->msg, pre, pl);
	size_t room = sizeof err->msg - pl - 1;
	size_t ol = strnlen(old, room);
	memcpy(err->msg + pl, old, ol);
	err->msg[pl + ol] = 0;
	return err->code;
}

int st_errno(int errnum)
{
	if (errnum <= 0 || errnum > -ST_E_ERRNO_MIN)
		return ST_E_INVAL;
	return -errnum;
}
