/* devreq.c - signing and checking device API requests. */
#include "devreq.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/token.h"

#define PREFIX "sealtrace-request-v1\n"

/* The signed message: small and bounded, so built on the stack. */
static int message(const char *method, const char *path, const uint8_t *body,
		   size_t body_len, const char *time_text, char *out,
		   size_t cap, size_t *len)
{
	uint8_t h[32];
	char hex[65];
	crypto_generichash(h, sizeof h, body, body_len, NULL, 0);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	int n = snprintf(out, cap, PREFIX "%s\n%s\n%s\n%s", method, path,
			 time_text, hex);
	if (n < 0 || (size_t)n >= cap)
		return ST_E_CAP;
	*len = (size_t)n;
	return 0;
}

static int check_parts(const char *method, const char *path,
		       struct st_error *err)
{
	if (!method || !*method || strlen(method) > 16 || !path ||
	    path[0] != '/' || strlen(path) > ST_DEVREQ_PATH_MAX ||
	    strpbrk(path, "\n\r") || strpbrk(method, "\n\r"))
		return st_fail(err, ST_E_INVAL,
			       "device request: method or path malformed "
			       "(path must start with / and be at most %d "
			       "bytes)", ST_DEVREQ_PATH_MAX);
	return 0;
}

int st_devreq_sign(const uint8_t device_id[16], const uint8_t *device_sk,
		   const char *method, const char *path, const uint8_t *body,
		   size_t body_len, int64_t now_s, struct st_devreq_sig *out,
		   struct st_error *err)
{
	int rc = check_parts(method, path, err);
	if (rc < 0)
		return rc;
	char msg[ST_DEVREQ_PATH_MAX + 200];
	size_t len;
	sodium_bin2hex(out->device, sizeof out->device, device_id, 16);
	snprintf(out->time, sizeof out->time, "%" PRId64, now_s);
	if ((rc = message(method, path, body, body_len, out->time, msg,
			  sizeof msg, &len)) < 0)
		return st_fail(err, rc, "device request: too long to sign");
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, device_sk);
	st_b64url(sig, sizeof sig, out->sig, sizeof out->sig);
	return 0;
}

int st_devreq_device(const char *device_hdr, uint8_t device_id[16],
		     struct st_error *err)
{
	size_t got = 0;
	const char *end = NULL;
	if (!device_hdr || strlen(device_hdr) != 32 ||
	    sodium_hex2bin(device_id, 16, device_hdr, 32, NULL, &got, &end) !=
		    0 ||
	    got != 16)
		return st_fail(err, ST_E_AUTH,
			       "device request: header " ST_DEVREQ_HDR_DEVICE
			       " missing or not 32 hex digits");
	return 0;
}

int st_devreq_verify(const uint8_t device_pk[32], const char *method,
		     const char *path, const uint8_t *body, size_t body_len,
		     const char *time_hdr, const char *sig_hdr, int64_t now_s,
		     uint32_t window_s, struct st_error *err)
{
	int rc = check_parts(method, path, err);
	if (rc < 0)
		return st_fail(err, ST_E_AUTH, "device request: path malformed");
	if (!time_hdr || !*time_hdr || strlen(time_hdr) > 20 || !sig_hdr)
		return st_fail(err, ST_E_AUTH,
			       "device request: headers " ST_DEVREQ_HDR_TIME
			       " and " ST_DEVREQ_HDR_SIG " are required");
	char *e = NULL;
	long long t = strtoll(time_hdr, &e, 10);
	if (*e || e == time_hdr || t < 0)
		return st_fail(err, ST_E_AUTH,
			       "device request: " ST_DEVREQ_HDR_TIME
			       " is not decimal Unix seconds");
	uint8_t sig[crypto_sign_BYTES];
	if (strlen(sig_hdr) != ST_DEVREQ_SIG_TEXT ||
	    st_b64url_dec(sig_hdr, ST_DEVREQ_SIG_TEXT, sig, sizeof sig) < 0)
		return st_fail(err, ST_E_AUTH,
			       "device request: " ST_DEVREQ_HDR_SIG
			       " is not base64url of 64 bytes");
	char msg[ST_DEVREQ_PATH_MAX + 200];
	size_t len;
	if (message(method, path, body, body_len, time_hdr, msg, sizeof msg,
		    &len) < 0)
		return st_fail(err, ST_E_AUTH, "device request: too long");
	if (crypto_sign_verify_detached(sig, (const uint8_t *)msg, len,
					device_pk) != 0)
		return st_fail(err, ST_E_SIGNATURE,
			       "device request: signature does not verify "
			       "with the device's enrolled key");
	long long d = t - (long long)now_s;
	if (d > (long long)window_s || -d > (long long)window_s)
		return st_fail(err, ST_E_REQUEST_TIME,
			       "device request: signed at %lld, %lld s from "
			       "the server clock (window %u s); set the "
			       "device's clock",
			       t, d, window_s);
	return 0;
}
