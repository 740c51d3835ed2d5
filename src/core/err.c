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
};

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
