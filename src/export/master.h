/* master.h - owns the master X25519 secret on the export host: where it
 * comes from (a 0600 key file, or a file wrapped by an AES key that lives in
 * a PKCS#11 token), loading it for one operation into locked memory, and
 * opening a person's sealed secret with it. Never writes the plain secret
 * to disk when a token wraps it; never keeps it past st_master_close; never
 * prints or logs a secret or a PIN.
 *
 * Two sources, chosen on the command line with the same flags by every
 * sealtrace-export command that needs the secret (ST_MASTER_FLAGS_HELP):
 *
 *   --master FILE       a key file as `keygen` writes it without a token
 *                       ("sealtrace-key v1 master-x25519-secret", mode
 *                       0600; looser modes refused: ST_E_KEY_MODE)
 *   --master-wrapped FILE --pkcs11-module PATH [--pkcs11-token LABEL]
 *                       --pin-file FILE
 *                       the wrapped file below; the token decrypts it
 *                       (C_Decrypt) with a key that never leaves it
 *
 * The module also comes from $SEALTRACE_PKCS11_MODULE and the user PIN from
 * $SEALTRACE_PKCS11_PIN when the flags are not given (a flag wins). A PIN
 * file must be 0600 like a key file (ST_E_KEY_MODE otherwise); one trailing
 * newline is ignored.
 *
 * The wrapped file (master.wrapped, mode 0600, refused when looser), text,
 * exactly these seven lines in this order, each ending in "\n":
 *
 *   sealtrace-master-wrapped v1
 *   token: LABEL        the PKCS#11 token's label (1..32 bytes)
 *   key: LABEL          the AES key's CKA_LABEL in it (1..64 bytes)
 *   mechanism: CKM_AES_GCM
 *   public: HEX64       the master public key (X25519, 32 bytes)
 *   iv: HEX24           the GCM IV (12 random bytes)
 *   sealed: HEX96       AES-256-GCM ciphertext of the 32-byte secret, then
 *                       its 16-byte tag
 *
 * Labels are printable ASCII without a leading or trailing space. Hex is
 * lower case. The GCM additional data is the file's bytes before "sealed:"
 * (the first six lines), so a changed label or public key fails like a
 * changed ciphertext. A file not byte for byte in this form is refused
 * (ST_E_BAD_MAGIC, ST_E_VERSION, ST_E_TRUNCATED, ST_E_KEY_FORMAT, ST_E_CAP).
 *
 * The AES key: CKK_AES, 32 bytes, CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE
 * true, CKA_EXTRACTABLE false, CKA_ENCRYPT and CKA_DECRYPT true, CKA_WRAP
 * and CKA_UNWRAP false. `keygen` makes it (C_GenerateKey, CKM_AES_KEY_GEN)
 * or reuses one of that label when it has those attributes. */
#ifndef ST_MASTER_H
#define ST_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/keys.h"

#define ST_MASTER_WRAPPED_MAGIC "sealtrace-master-wrapped"
#define ST_MASTER_WRAPPED_VERSION 1
#define ST_MASTER_WRAPPED_MAX 1024   /* bytes of a wrapped file read */
#define ST_MASTER_TOKEN_LABEL_MAX 32 /* CK_TOKEN_INFO.label is 32 bytes */
#define ST_MASTER_KEY_LABEL_MAX 64   /* our cap on the AES key's CKA_LABEL */
#define ST_MASTER_PIN_MAX 256        /* bytes of a user PIN */
#define ST_MASTER_IV_LEN 12          /* GCM IV: 96 bits, random */
#define ST_MASTER_TAG_LEN 16         /* GCM tag: 128 bits */
#define ST_MASTER_WRAPPED_CT_LEN (ST_BOX_SK_LEN + ST_MASTER_TAG_LEN)
/* A person's secret sealed to the master: crypto_box_seal of 32 bytes. */
#define ST_MASTER_SEALED_LEN 80
#define ST_MASTER_KEY_LABEL_DEFAULT "sealtrace-master-wrap"
#define ST_MASTER_WHAT_MAX 1200 /* the source, quoted in messages */

/* The flags' help, for every command that loads the master secret. */
#define ST_MASTER_FLAGS_HELP                                                \
	"where the master secret comes from (one of):\n"                    \
	"  --master FILE            the key file 'keygen' wrote (0600)\n"   \
	"  --master-wrapped FILE    the file 'keygen --pkcs11' wrote, opened\n" \
	"                           by the PKCS#11 token that wrapped it, with:\n" \
	"    --pkcs11-module PATH   the token's PKCS#11 module (or\n"       \
	"                           $SEALTRACE_PKCS11_MODULE)\n"            \
	"    --pkcs11-token LABEL   the token's label (default: the one the\n" \
	"                           wrapped file names)\n"                  \
	"    --pin-file FILE        the user PIN, in a 0600 file (or\n"     \
	"                           $SEALTRACE_PKCS11_PIN)\n"               \
	"The secret is held in locked memory for this one command and wiped\n" \
	"before it ends.\n"

/* Where the master secret comes from: filled from the command line by
 * st_master_src_flag; strings are borrowed from argv (or the caller). */
struct st_master_src {
	const char *key_file;     /* --master */
	const char *wrapped_file; /* --master-wrapped */
	const char *module;       /* --pkcs11-module; NULL: the environment */
	const char *token;        /* --pkcs11-token */
	const char *key_label;    /* --pkcs11-key (keygen) */
	const char *pin_file;     /* --pin-file; NULL: the environment */
	bool pkcs11;              /* --pkcs11 (keygen), or any --pkcs11-* */
};

/* Consumes argv[*i] (and its value, advancing *i) when it is one of the
 * flags above, in "--flag VALUE" or "--flag=VALUE" form: returns 1. Returns
 * 0 for an argument that is not one of them, and -EINVAL (usage) for a flag
 * without a value or given twice. */
int st_master_src_flag(struct st_master_src *s, int argc, char **argv,
		       int *i, struct st_error *err);

/* Whether s is complete: for loading (keygen false), exactly one source
 * and what it needs; for `keygen`, no source, and with pkcs11 set the
 * module, the token and the PIN. -EINVAL (a usage error saying what to
 * add or drop) otherwise. Reads the environment for the module and PIN. */
int st_master_src_check(const struct st_master_src *s, bool keygen,
			struct st_error *err);

/* The master secret of one operation. */
struct st_master {
	uint8_t *sk;                 /* ST_BOX_SK_LEN bytes, sodium_malloc'ed
					(guarded, locked); NULL when closed */
	uint8_t pk[ST_BOX_PK_LEN];   /* crypto_scalarmult_base(sk) */
	char what[ST_MASTER_WHAT_MAX]; /* the source, for messages */
};

/* Loads the secret src names into m (caller-provided; filled on success,
 * all zero on failure). The secret is checked against its public key: the
 * wrapped file's own, and the public key file beside the source when there
 * is one (its path with the extension replaced by ".pub": master.key and
 * master.wrapped go with master.pub); ST_E_NOT_FOR_KEY when either
 * differs. Errors: those of st_key_read;
 * the wrapped file's format errors; ST_E_KEY_MODE for a wrapped or PIN file
 * group or others may read; ST_E_PKCS11 when the module, the token, the
 * login or the key fails (the message names the module, token and key and
 * what to do); ST_E_DECRYPT when the token's key does not open the file
 * (another key of the same label, or an altered file). */
int st_master_open(const struct st_master_src *src, struct st_master *m,
		   struct st_error *err);

/* Wipes and frees the secret and zeroes m. NULL and a closed m are fine. */
void st_master_close(struct st_master *m);

/* Opens one person's sealed secret (crypto_box_seal to the master public
 * key) into sk_out32 (32 bytes the caller holds in locked memory) and checks
 * it against the person's public key. ST_E_ERASED when sealed is NULL (the
 * server keeps no sealed secret for an erased person), ST_E_DECRYPT when it
 * does not open with this master, ST_E_NOT_FOR_KEY when what it holds is not
 * the secret of person_pk. sk_out32 is wiped on every failure. The message
 * names no person: the caller prefixes the person's id. */
int st_master_open_person(const struct st_master *m,
			  const uint8_t sealed[ST_MASTER_SEALED_LEN],
			  const uint8_t person_pk[ST_BOX_PK_LEN],
			  uint8_t *sk_out32, struct st_error *err);

/* Makes a master key pair whose secret is wrapped by the token's AES key
 * src->key_label (default ST_MASTER_KEY_LABEL_DEFAULT), made in the token
 * when no key has that label; writes the wrapped file at wrapped_path (new,
 * 0600; never replaces a file) and the public key into pk. *key_made says
 * whether the AES key was made now (else reused). The plain secret exists
 * only in locked memory and is wiped before return. Refuses to reuse a key
 * that is extractable, not sensitive, not AES-256 or not for encryption. */
int st_master_keygen_wrapped(const struct st_master_src *src,
			     const char *wrapped_path,
			     uint8_t pk[ST_BOX_PK_LEN], bool *key_made,
			     struct st_error *err);

/* ---- the wrapped file's form (exposed for tests) ---- */

struct st_master_wrapped {
	char token[ST_MASTER_TOKEN_LABEL_MAX + 1];
	char key[ST_MASTER_KEY_LABEL_MAX + 1];
	uint8_t public_key[ST_BOX_PK_LEN];
	uint8_t iv[ST_MASTER_IV_LEN];
	uint8_t sealed[ST_MASTER_WRAPPED_CT_LEN]; /* ciphertext, then tag */
};

/* Parses a whole file; every field checked (see the form above). */
int st_master_wrapped_parse(const uint8_t *p, size_t len,
			    struct st_master_wrapped *w, struct st_error *err);
/* Appends the first six lines (the GCM additional data) to out. */
int st_master_wrapped_aad(const struct st_master_wrapped *w,
			  struct st_buf *out, struct st_error *err);
/* Appends the whole file to out. */
int st_master_wrapped_encode(const struct st_master_wrapped *w,
			     struct st_buf *out, struct st_error *err);

#endif
