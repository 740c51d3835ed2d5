/* devreq.h - owns the signature a device puts on its API requests (other
 * than segment uploads, which sign themselves): what is signed, the three
 * headers that carry it, and the check a server makes. Agent and server
 * meet here and in docs/api.md, never in each other's code.
 *
 * Signed message (bytes, "\n" = 0x0a):
 *   "sealtrace-request-v1\n" METHOD "\n" PATH "\n" TIME "\n" BODYHASH
 * METHOD as sent ("POST"), PATH with its query as sent ("/v1/device/forget"),
 * TIME decimal Unix seconds, BODYHASH lower-case hex of BLAKE2b-256 of the
 * body (of nothing for a GET). Headers:
 *   Sealtrace-Device: 32 hex digits (the device id)
 *   Sealtrace-Time: TIME
 *   Sealtrace-Signature: base64url, no padding, of the Ed25519 signature
 * The server checks the device is enrolled and active, the signature with
 * the device's stored key, and |TIME - now| <= its window (default 900 s:
 * a device whose clock is 5 minutes off must still reach the server).
 * Replays inside the window are harmless by construction: every signed
 * request is idempotent (a forget carries its own request id). */
#ifndef ST_DEVREQ_H
#define ST_DEVREQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_DEVREQ_WINDOW_DEFAULT_S 900
#define ST_DEVREQ_HDR_DEVICE "Sealtrace-Device"
#define ST_DEVREQ_HDR_TIME "Sealtrace-Time"
#define ST_DEVREQ_HDR_SIG "Sealtrace-Signature"
#define ST_DEVREQ_SIG_TEXT 86 /* base64url of 64 bytes, no padding */
#define ST_DEVREQ_PATH_MAX 1024

/* The three header values for a request. */
struct st_devreq_sig {
	char device[33];
	char time[24];
	char sig[ST_DEVREQ_SIG_TEXT + 1];
};

/* Signs method + path + body at time now_s with the device's Ed25519
 * secret key (64 bytes, libsodium layout). */
int st_devreq_sign(const uint8_t device_id[16], const uint8_t *device_sk,
		   const char *method, const char *path, const uint8_t *body,
		   size_t body_len, int64_t now_s, struct st_devreq_sig *out,
		   struct st_error *err);

/* Parses the device header into id: ST_E_AUTH when absent or malformed. */
int st_devreq_device(const char *device_hdr, uint8_t device_id[16],
		     struct st_error *err);

/* Verifies the headers against the device's public key. ST_E_AUTH when a
 * header is absent or malformed, ST_E_SIGNATURE when the signature does not
 * verify, ST_E_REQUEST_TIME when TIME is more than window_s from now_s. */
int st_devreq_verify(const uint8_t device_pk[32], const char *method,
		     const char *path, const uint8_t *body, size_t body_len,
		     const char *time_hdr, const char *sig_hdr, int64_t now_s,
		     uint32_t window_s, struct st_error *err);

#endif
