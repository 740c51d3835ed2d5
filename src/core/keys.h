/* keys.h - owns key pairs and key files: generation with libsodium, the
 * on-disk form, and the 0600 rule for secrets. Never logs key bytes; secret
 * halves live only in sodium_malloc'ed memory the caller frees with
 * st_secret_free. */
#ifndef ST_KEYS_H
#define ST_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ST_SIGN_PK_LEN 32 /* Ed25519 */
#define ST_SIGN_SK_LEN 64
#define ST_BOX_PK_LEN 32  /* X25519 */
#define ST_BOX_SK_LEN 32
/* Largest key file we read: header line plus hex of the largest key. */
#define ST_KEYFILE_MAX 512

/* Labels name what a key file holds; a file of one label never loads as
 * another (a device signing key is not a person key). */
#define ST_KEY_DEVICE_SECRET "device-ed25519-secret"
#define ST_KEY_DEVICE_PUBLIC "device-ed25519-public"
#define ST_KEY_PERSON_SECRET "person-x25519-secret"
#define ST_KEY_PERSON_PUBLIC "person-x25519-public"
#define ST_KEY_MASTER_SECRET "master-x25519-secret"
#define ST_KEY_MASTER_PUBLIC "master-x25519-public"
/* The server's own signing keys (Ed25519): leases agents pin at enrollment,
 * and audit checkpoints. Separate keys, so one cannot stand for the other. */
#define ST_KEY_LEASE_SECRET "lease-ed25519-secret"
#define ST_KEY_LEASE_PUBLIC "lease-ed25519-public"
#define ST_KEY_AUDIT_SECRET "audit-ed25519-secret"
#define ST_KEY_AUDIT_PUBLIC "audit-ed25519-public"

/* Locked, guarded secret memory; NULL on failure. Freed and wiped by
 * st_secret_free (NULL is fine). */
uint8_t *st_secret_new(size_t len);
void st_secret_free(uint8_t *p);

/* Fresh key pairs; sk must point to ST_*_SK_LEN bytes from st_secret_new. */
int st_sign_keypair(uint8_t pk[ST_SIGN_PK_LEN], uint8_t *sk);
int st_box_keypair(uint8_t pk[ST_BOX_PK_LEN], uint8_t *sk);

/* Writes a key file: "sealtrace-key v1 LABEL\n" then the key in hex. Never
 * replaces an existing file (ST_E... -EEXIST, message says to move it).
 * Secrets are created 0600; public keys 0644. fsyncs file and folder. */
int st_key_write(const char *path, const char *label, const uint8_t *key,
		 size_t len, bool secret, struct st_error *err);

/* Reads a key file of the given label and exact length into out. For
 * secrets, refuses a file whose mode lets group or others read or write it
 * (ST_E_KEY_MODE, with the chmod to run); out should be secret memory. */
int st_key_read(const char *path, const char *label, uint8_t *out, size_t len,
		bool secret, struct st_error *err);

#endif
