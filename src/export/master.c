/* master.c - the master secret's custody: the flags, the wrapped file's
 * form, and the PKCS#11 token that wraps and unwraps it.
 *
 * The token is reached through its own module, loaded with dlopen for the
 * one operation (C_Initialize ... C_Finalize), so the program does not link
 * any PKCS#11 library and works with any vendor's. The module is kept
 * mapped after dlclose (RTLD_NODELETE): some modules register exit handlers
 * that would run in unmapped code otherwise.
 *
 * Threats this answers: a copy of the export host's disk (the wrapped file
 * is useless without the token and its PIN); a swapped wrapped file or
 * master.pub (the public key is checked on every load); an edited label or
 * public key in the wrapped file (they are GCM additional data). Not
 * answered: someone who holds the token and its PIN, or root on the export
 * host while the secret is loaded. */
#include "export/master.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "core/mem.h"

#define USAGE_E (-EINVAL)
#define PATH_MAX_ST 4096
#define P11_SLOTS_MAX 256    /* slots of a module looked through */
#define P11_LABELS_SHOWN 256 /* bytes of other tokens' labels in a message */
#define P11_GCM_OUT_MAX 64   /* room for 32 bytes and a tag, and spare */

/* ---- flags ---- */

struct flag {
	const char *name;
	size_t off; /* of the const char * field */
};

#define F(n, field) {n, offsetof(struct st_master_src, field)}
static const struct flag flags[] = {
	F("--master", key_file),        F("--master-wrapped", wrapped_file),
	F("--pkcs11-module", module),   F("--pkcs11-token", token),
	F("--pkcs11-key", key_label),   F("--pin-file", pin_file),
};
#undef F

int st_master_src_flag(struct st_master_src *s, int argc, char **argv,
		       int *i, struct st_error *err)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--pkcs11")) {
		s->pkcs11 = true;
		return 1;
	}
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
		size_t l = strlen(flags[k].name);
		if (strncmp(a, flags[k].name, l) || (a[l] && a[l] != '='))
			continue;
		const char *v;
		if (a[l] == '=') {
			v = a + l + 1;
		} else if (*i + 1 < argc) {
			v = argv[++*i];
		} else {
			return st_fail(err, USAGE_E, "%s needs a value", a);
		}
		if (!*v)
			return st_fail(err, USAGE_E, "%s needs a non-empty value",
				       flags[k].name);
		const char **field = (const char **)((char *)s + flags[k].off);
		if (*field)
			return st_fail(err, USAGE_E, "%s given twice",
				       flags[k].name);
		*field = v;
		if (strncmp(flags[k].name, "--master", 8))
			s->pkcs11 = true; /* every other flag is a token's */
		return 1;
	}
	return 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static const char *src_module(const struct st_master_src *s)
{
	return s->module ? s->module : env_nonempty("SEALTRACE_PKCS11_MODULE");
}

static bool label_ok(const char *l, size_t max)
{
	size_t n = strlen(l);
	if (n == 0 || n > max || l[0] == ' ' || l[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || (unsigned char)l[i] > 0x7e)
			return false;
	return true;
}

/* The module, token, key and PIN of a token operation. */
static int check_token_flags(const struct st_master_src *s, bool keygen,
			     struct st_error *err)
{
	if (!src_module(s))
		return st_fail(err, USAGE_E, "needs the token's PKCS#11 module: "
			       "give --pkcs11-module PATH or set "
			       "SEALTRACE_PKCS11_MODULE");
	if (!s->pin_file && !env_nonempty("SEALTRACE_PKCS11_PIN"))
		return st_fail(err, USAGE_E, "needs the token's user PIN: give "
			       "--pin-file FILE (mode 0600) or set "
			       "SEALTRACE_PKCS11_PIN");
	if (keygen && !s->token)
		return st_fail(err, USAGE_E, "needs --pkcs11-token LABEL: the "
			       "token that will hold the wrapping key");
	if (s->token && !label_ok(s->token, ST_MASTER_TOKEN_LABEL_MAX))
		return st_fail(err, USAGE_E, "--pkcs11-token '%.64s': a token "
			       "label is 1 to %d printable ASCII bytes, without "
			       "a leading or trailing space", s->token,
			       ST_MASTER_TOKEN_LABEL_MAX);
	if (s->key_label && !label_ok(s->key_label, ST_MASTER_KEY_LABEL_MAX))
		return st_fail(err, USAGE_E, "--pkcs11-key '%.80s': a key label "
			       "is 1 to %d printable ASCII bytes, without a "
			       "leading or trailing space", s->key_label,
			       ST_MASTER_KEY_LABEL_MAX);
	return 0;
}

int st_master_src_check(const struct st_master_src *s, bool keygen,
			struct st_error *err)
{
	if (keygen) {
		if (s->key_file || s->wrapped_file)
			return st_fail(err, USAGE_E, "keygen makes a master key: "
				       "it takes no --master or "
				       "--master-wrapped (use --out DIR)");
		return s->pkcs11 ? check_token_flags(s, true, err) : 0;
	}
	if (!s->key_file && !s->wrapped_file)
		return st_fail(err, USAGE_E, "needs the master secret: give "
			       "--master FILE, or --master-wrapped FILE with "
			       "--pkcs11-module PATH and --pin-file FILE");
	if (s->key_file && s->wrapped_file)
		return st_fail(err, USAGE_E, "give --master or --master-wrapped, "
			       "not both");
	if (s->key_file) {
		if (s->pkcs11)
			return st_fail(err, USAGE_E, "--master names a plain key "
				       "file: the --pkcs11-* and --pin-file "
				       "flags go with --master-wrapped");
		return 0;
	}
	if (s->key_label)
		return st_fail(err, USAGE_E, "--pkcs11-key is for keygen: the "
			       "wrapped file names the key that wrapped it");
	return check_token_flags(s, false, err);
}

/* ---- the wrapped file's form ---- */

static void hex_lower(char *out, const uint8_t *p, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

int st_master_wrapped_aad(const struct st_master_wrapped *w,
			  struct st_buf *out, struct st_error *err)
{
	if (!label_ok(w->token, ST_MASTER_TOKEN_LABEL_MAX) ||
	    !label_ok(w->key, ST_MASTER_KEY_LABEL_MAX))
		return st_fail(err, ST_E_INVAL, "wrapped master: token or key "
			       "label empty, too long or not printable");
	char pk[2 * ST_BOX_PK_LEN + 1], iv[2 * ST_MASTER_IV_LEN + 1];
	hex_lower(pk, w->public_key, sizeof w->public_key);
	hex_lower(iv, w->iv, sizeof w->iv);
	char text[512];
	int n = snprintf(text, sizeof text,
			 "%s v%d\ntoken: %s\nkey: %s\nmechanism: CKM_AES_GCM\n"
			 "public: %s\niv: %s\n",
			 ST_MASTER_WRAPPED_MAGIC, ST_MASTER_WRAPPED_VERSION,
			 w->token, w->key, pk, iv);
	if (n < 0 || n >= (int)sizeof text)
		return st_fail(err, ST_E_INVAL, "wrapped master: header too long");
	st_buf_put(out, text, (size_t)n);
	return out->oom ? st_fail(err, ST_E_NOMEM, "out of memory") : 0;
}

int st_master_wrapped_encode(const struct st_master_wrapped *w,
			     struct st_buf *out, struct st_error *err)
{
	int rc = st_master_wrapped_aad(w, out, err);
	if (rc < 0)
		return rc;
	char ct[2 * ST_MASTER_WRAPPED_CT_LEN + 1];
	hex_lower(ct, w->sealed, sizeof w->sealed);
	st_buf_put(out, "sealed: ", 8);
	st_buf_put(out, ct, strlen(ct));
	st_buf_put(out, "\n", 1);
	return out->oom ? st_fail(err, ST_E_NOMEM, "out of memory") : 0;
}

/* A line reader over the file: the line without its "\n". */
struct lines {
	const uint8_t *p;
	size_t len, pos;
	int no; /* number of the line last read, from 1 */
};

static bool next_line(struct lines *r, const char **s, size_t *n)
{
	const uint8_t *nl = memchr(r->p + r->pos, '\n', r->len - r->pos);
	if (!nl)
		return false;
	*s = (const char *)r->p + r->pos;
	*n = (size_t)(nl - (r->p + r->pos));
	r->pos += *n + 1;
	r->no++;
	return true;
}

/* Reads line "NAME: VALUE" of the form; VALUE (not NUL-terminated) out. */
static int field(struct lines *r, const char *name, const char **v,
		 size_t *vn, struct st_error *err)
{
	const char *s;
	size_t n;
	if (!next_line(r, &s, &n))
		return st_fail(err, ST_E_TRUNCATED, "wrapped master file ends "
			       "before line %d ('%s: ...'); it is cut short: "
			       "restore it from its backup", r->no + 1, name);
	size_t l = strlen(name);
	if (n < l + 2 || memcmp(s, name, l) || s[l] != ':' || s[l + 1] != ' ')
		return st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: line "
			       "%d must be '%s: ...'", r->no, name);
	*v = s + l + 2;
	*vn = n - l - 2;
	return 0;
}

static int hex_field(struct lines *r, const char *name, uint8_t *out,
		     size_t len, struct st_error *err)
{
	const char *v;
	size_t n;
	int rc = field(r, name, &v, &n, err);
	if (rc < 0)
		return rc;
	bool ok = n == 2 * len;
	for (size_t i = 0; ok && i < n; i++)
		ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
	if (!ok)
		return st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: line "
			       "%d: %s must be %zu lower-case hex digits (%zu "
			       "bytes)", r->no, name, 2 * len, len);
	sodium_hex2bin(out, len, v, n, NULL, NULL, NULL);
	return 0;
}

static int label_field(struct lines *r, const char *name, char *out,
		       size_t max, struct st_error *err)
{
	const char *v;
	size_t n;
	int rc = field(r, name, &v, &n, err);
	if (rc < 0)
		return rc;
	if (n == 0 || n > max || memchr(v, 0, n))
		return st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: line "
			       "%d: the %s label must be 1 to %zu bytes", r->no,
			       name, max);
	memcpy(out, v, n);
	out[n] = 0;
	if (!label_ok(out, max))
		return st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: line "
			       "%d: the %s label must be printable ASCII without "
			       "a leading or trailing space", r->no, name);
	return 0;
}

int st_master_wrapped_parse(const uint8_t *p, size_t len,
			    struct st_master_wrapped *w, struct st_error *err)
{
	memset(w, 0, sizeof *w);
	if (len > ST_MASTER_WRAPPED_MAX)
		return st_fail(err, ST_E_CAP, "wrapped master file: %zu bytes, "
			       "over %d: not a wrapped master file", len,
			       ST_MASTER_WRAPPED_MAX);
	static const char magic[] = ST_MASTER_WRAPPED_MAGIC " v";
	size_t ml = sizeof magic - 1;
	if (len && memcmp(p, magic, len < ml ? len : ml))
		return st_fail(err, ST_E_BAD_MAGIC, "not a wrapped master file "
			       "(it must start with '%s'): give "
			       "--master-wrapped the master.wrapped that "
			       "'keygen --pkcs11' wrote", magic);
	struct lines r = {p, len, 0, 0};
	const char *s;
	size_t n;
	if (!next_line(&r, &s, &n))
		return st_fail(err, ST_E_TRUNCATED, "wrapped master file ends "
			       "inside its first line: restore it from its "
			       "backup");
	char want[64];
	snprintf(want, sizeof want, "%s%d", magic, ST_MASTER_WRAPPED_VERSION);
	if (n != strlen(want) || memcmp(s, want, n))
		return st_fail(err, ST_E_VERSION, "wrapped master file is "
			       "'%.*s'; this build reads '%s' only: use the "
			       "sealtrace-export that wrote it", (int)(n < 60 ? n : 60),
			       s, want);
	const char *v;
	size_t vn;
	int rc;
	if ((rc = label_field(&r, "token", w->token, ST_MASTER_TOKEN_LABEL_MAX,
			      err)) < 0 ||
	    (rc = label_field(&r, "key", w->key, ST_MASTER_KEY_LABEL_MAX,
			      err)) < 0 ||
	    (rc = field(&r, "mechanism", &v, &vn, err)) < 0)
		goto fail;
	if (vn != 11 || memcmp(v, "CKM_AES_GCM", 11)) {
		rc = st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: line %d: "
			     "mechanism must be CKM_AES_GCM", r.no);
		goto fail;
	}
	if ((rc = hex_field(&r, "public", w->public_key, sizeof w->public_key,
			    err)) < 0 ||
	    (rc = hex_field(&r, "iv", w->iv, sizeof w->iv, err)) < 0 ||
	    (rc = hex_field(&r, "sealed", w->sealed, sizeof w->sealed, err)) < 0)
		goto fail;
	if (r.pos != len) {
		rc = st_fail(err, ST_E_KEY_FORMAT, "wrapped master file: %zu "
			     "bytes after its last line ('sealed: ...'): it "
			     "was edited; restore it from its backup",
			     len - r.pos);
		goto fail;
	}
	return 0;
fail:
	memset(w, 0, sizeof *w);
	return rc;
}

/* ---- files ---- */

/* Reads a file that must be closed to group and others (it guards a
 * secret) into buf (cap + 1 bytes); *len gets its size. */
static int read_private(const char *path, const char *what, uint8_t *buf,
			size_t cap, size_t *len, struct st_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		return st_fail(err, st_errno(e), "%s %s: cannot open: %s", what,
			       path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return st_fail(err, ST_E_KEY_FORMAT, "%s %s: not a regular file",
			       what, path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return st_fail(err, ST_E_KEY_MODE, "%s %s is mode %04o; run "
			       "chmod 600 %s", what, path,
			       (unsigned)(st.st_mode & 07777), path);
	}
	size_t n = 0;
	while (n <= cap) {
		ssize_t r = read(fd, buf + n, cap + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return st_fail(err, st_errno(e), "%s %s: cannot read: %s",
				       what, path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > cap)
		return st_fail(err, ST_E_CAP, "%s %s: over %zu bytes", what, path,
			       cap);
	*len = n;
	return 0;
}

/* Creates path (never replacing a file) with data, 0600, synced with its
 * folder. */
static int write_new_private(const char *path, const void *data, size_t len,
			     struct st_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0) {
		int e = errno;
		return st_fail(err, st_errno(e), "%s: cannot create: %s%s", path,
			       strerror(e),
			       e == EEXIST ? "; a master key is never "
					     "overwritten: move it away first"
					   : "");
	}
	const uint8_t *p = data;
	size_t done = 0;
	int e = 0;
	if (fchmod(fd, 0600) < 0)
		e = errno;
	while (!e && done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			e = w < 0 ? errno : EIO;
		else
			done += (size_t)w;
	}
	if (!e && fsync(fd) < 0)
		e = errno;
	close(fd);
	if (e) {
		unlink(path);
		return st_fail(err, st_errno(e), "%s: cannot write: %s", path,
			       strerror(e));
	}
	char d[PATH_MAX_ST];
	snprintf(d, sizeof d, "%s", path);
	int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			e = errno;
		close(dfd);
	}
	if (e) {
		unlink(path); /* not durable: no half-made master is left */
		return st_fail(err, st_errno(e), "%s: cannot sync its folder: %s",
			       path, strerror(e));
	}
	return 0;
}

/* The user PIN, from the file or the environment, into locked memory. */
struct pin {
	uint8_t *p; /* sodium_malloc'ed, ST_MASTER_PIN_MAX + 2 bytes */
	size_t len;
	char from[PATH_MAX_ST + 32]; /* for messages */
};

static void pin_free(struct pin *pin)
{
	if (pin->p)
		sodium_free(pin->p);
	pin->p = NULL;
	pin->len = 0;
}

static int pin_read(const struct st_master_src *s, struct pin *pin,
		    struct st_error *err)
{
	memset(pin, 0, sizeof *pin);
	pin->p = sodium_malloc(ST_MASTER_PIN_MAX + 2);
	if (!pin->p)
		return st_fail(err, ST_E_NOMEM, "out of locked memory for the PIN");
	int rc = 0;
	if (s->pin_file) {
		snprintf(pin->from, sizeof pin->from, "PIN file %.4000s",
			 s->pin_file);
		rc = read_private(s->pin_file, "PIN file", pin->p,
				  ST_MASTER_PIN_MAX + 1, &pin->len, err);
		/* one line: a trailing newline (or CR LF) is not the PIN's */
		if (rc == 0 && pin->len && pin->p[pin->len - 1] == '\n')
			pin->len--;
		if (rc == 0 && pin->len && pin->p[pin->len - 1] == '\r')
			pin->len--;
	} else {
		const char *v = env_nonempty("SEALTRACE_PKCS11_PIN");
		snprintf(pin->from, sizeof pin->from, "SEALTRACE_PKCS11_PIN");
		size_t l = v ? strlen(v) : 0;
		if (l > ST_MASTER_PIN_MAX)
			rc = st_fail(err, ST_E_CAP, "SEALTRACE_PKCS11_PIN: over "
				     "%d bytes", ST_MASTER_PIN_MAX);
		else if (v)
			memcpy(pin->p, v, l);
		pin->len = l;
	}
	if (rc == 0 && pin->len > ST_MASTER_PIN_MAX)
		rc = st_fail(err, ST_E_CAP, "%s: the PIN is over %d bytes",
			     pin->from, ST_MASTER_PIN_MAX);
	if (rc == 0 && pin->len == 0)
		rc = st_fail(err, ST_E_KEY_FORMAT, "%s: the PIN is empty",
			     pin->from);
	if (rc < 0)
		pin_free(pin);
	return rc;
}

/* ---- PKCS#11 ---- */

struct p11 {
	void *dl;
	CK_FUNCTION_LIST *f;
	bool finalize;  /* we initialised the module: we finalise it */
	CK_SESSION_HANDLE s;
	bool session;
	bool logged_in; /* we logged in: we log out */
	const char *module;
	char token[ST_MASTER_TOKEN_LABEL_MAX + 1];
};

static const char *ckr_name(CK_RV rv)
{
	switch (rv) {
#define N(x)                                                                \
	case x:                                                             \
		return #x
		N(CKR_OK);
		N(CKR_HOST_MEMORY);
		N(CKR_SLOT_ID_INVALID);
		N(CKR_GENERAL_ERROR);
		N(CKR_FUNCTION_FAILED);
		N(CKR_ARGUMENTS_BAD);
		N(CKR_ATTRIBUTE_READ_ONLY);
		N(CKR_ATTRIBUTE_SENSITIVE);
		N(CKR_ATTRIBUTE_TYPE_INVALID);
		N(CKR_ATTRIBUTE_VALUE_INVALID);
		N(CKR_DEVICE_ERROR);
		N(CKR_DEVICE_MEMORY);
		N(CKR_DEVICE_REMOVED);
		N(CKR_ENCRYPTED_DATA_INVALID);
		N(CKR_ENCRYPTED_DATA_LEN_RANGE);
		N(CKR_FUNCTION_NOT_SUPPORTED);
		N(CKR_KEY_HANDLE_INVALID);
		N(CKR_KEY_SIZE_RANGE);
		N(CKR_KEY_TYPE_INCONSISTENT);
		N(CKR_KEY_FUNCTION_NOT_PERMITTED);
		N(CKR_MECHANISM_INVALID);
		N(CKR_MECHANISM_PARAM_INVALID);
		N(CKR_OPERATION_ACTIVE);
		N(CKR_PIN_INCORRECT);
		N(CKR_PIN_INVALID);
		N(CKR_PIN_LEN_RANGE);
		N(CKR_PIN_EXPIRED);
		N(CKR_PIN_LOCKED);
		N(CKR_SESSION_HANDLE_INVALID);
		N(CKR_SESSION_READ_ONLY);
		N(CKR_TEMPLATE_INCOMPLETE);
		N(CKR_TEMPLATE_INCONSISTENT);
		N(CKR_TOKEN_NOT_PRESENT);
		N(CKR_TOKEN_NOT_RECOGNIZED);
		N(CKR_TOKEN_WRITE_PROTECTED);
		N(CKR_USER_NOT_LOGGED_IN);
		N(CKR_USER_PIN_NOT_INITIALIZED);
		N(CKR_USER_TYPE_INVALID);
		N(CKR_BUFFER_TOO_SMALL);
		N(CKR_CRYPTOKI_NOT_INITIALIZED);
		N(CKR_CRYPTOKI_ALREADY_INITIALIZED);
#undef N
	default:
		return "CKR_?";
	}
}

static int p11_fail(struct st_error *err, const struct p11 *p,
		    const char *call, CK_RV rv, const char *advice)
{
	return st_fail(err, ST_E_PKCS11, "PKCS#11 module %.900s, token '%s': "
		       "%s failed: %s (0x%lx); %s", p->module,
		       p->token[0] ? p->token : "?", call, ckr_name(rv),
		       (unsigned long)rv, advice);
}

static void p11_close(struct p11 *p)
{
	if (p->f) {
		if (p->logged_in)
			p->f->C_Logout(p->s);
		if (p->session)
			p->f->C_CloseSession(p->s);
		if (p->finalize)
			p->f->C_Finalize(NULL);
	}
	if (p->dl)
		dlclose(p->dl);
	memset(p, 0, sizeof *p);
}

/* A token label as the token reports it: 32 bytes padded with spaces. */
static void token_label(const CK_TOKEN_INFO *ti, char out[33])
{
	memcpy(out, ti->label, 32);
	out[32] = 0;
	for (int i = 31; i >= 0 && (out[i] == ' ' || out[i] == 0); i--)
		out[i] = 0;
}

/* Loads the module, finds the one token labelled token, opens a session
 * and logs the user in. */
static int p11_open(struct p11 *p, const char *module, const char *token,
		    const struct pin *pin, bool rw, struct st_error *err)
{
	memset(p, 0, sizeof *p);
	p->module = module;
	snprintf(p->token, sizeof p->token, "%s", token);
	if (!strchr(module, '/'))
		return st_fail(err, ST_E_PKCS11, "PKCS#11 module '%.900s': give "
			       "its full path (for SoftHSM2: "
			       "/usr/lib/softhsm/libsofthsm2.so), not a name "
			       "the loader searches for", module);
	dlerror();
	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!p->dl) {
		const char *why = dlerror();
		return st_fail(err, ST_E_PKCS11, "PKCS#11 module %.900s cannot be "
			       "loaded: %.300s; check --pkcs11-module (or "
			       "SEALTRACE_PKCS11_MODULE)", module,
			       why ? why : "unknown error");
	}
	CK_C_GetFunctionList get;
	*(void **)&get = dlsym(p->dl, "C_GetFunctionList");
	CK_RV rv;
	if (!get || (rv = get(&p->f)) != CKR_OK || !p->f) {
		p11_close(p);
		return st_fail(err, ST_E_PKCS11, "%.900s is not a PKCS#11 module "
			       "(no working C_GetFunctionList); check "
			       "--pkcs11-module", module);
	}
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof args);
	args.flags = CKF_OS_LOCKING_OK;
	rv = p->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		int r = p11_fail(err, p, "C_Initialize", rv, "check the module's "
				 "own configuration (SoftHSM2: SOFTHSM2_CONF)");
		p11_close(p);
		return r;
	}
	p->finalize = rv == CKR_OK;

	CK_ULONG n = 0;
	rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	CK_SLOT_ID slots[P11_SLOTS_MAX];
	if (rv == CKR_OK && n > P11_SLOTS_MAX) {
		p11_close(p);
		return st_fail(err, ST_E_CAP, "PKCS#11 module %.900s lists %lu "
			       "tokens, over the %d looked through; unplug "
			       "the ones not needed", module, (unsigned long)n,
			       P11_SLOTS_MAX);
	}
	if (rv == CKR_OK && n)
		rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		int r = p11_fail(err, p, "C_GetSlotList", rv, "check that the "
				 "token is plugged in");
		p11_close(p);
		return r;
	}
	char seen[P11_LABELS_SHOWN] = "";
	size_t found = 0;
	CK_SLOT_ID slot = 0;
	CK_FLAGS tflags = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		char l[33];
		token_label(&ti, l);
		if (!strcmp(l, token)) {
			if (!found++) {
				slot = slots[i];
				tflags = ti.flags;
			}
		} else if (l[0] && strlen(seen) + strlen(l) + 5 < sizeof seen) {
			size_t k = strlen(seen);
			snprintf(seen + k, sizeof seen - k, "%s'%s'",
				 k ? ", " : "", l);
		}
	}
	if (found != 1) {
		int r = found == 0
			? st_fail(err, ST_E_PKCS11, "PKCS#11 module %.900s has no "
				  "token labelled '%s' (tokens there: %s); check "
				  "--pkcs11-token and that the token is plugged "
				  "in", module, token, seen[0] ? seen : "none")
			: st_fail(err, ST_E_PKCS11, "PKCS#11 module %.900s has %zu "
				  "tokens labelled '%s': which one holds the key "
				  "is ambiguous; relabel all but one", module,
				  found, token);
		p11_close(p);
		return r;
	}
	if (!(tflags & CKF_USER_PIN_INITIALIZED)) {
		p11_close(p);
		return st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s) has "
			       "no user PIN yet: initialise it (for SoftHSM2: "
			       "softhsm2-util --init-token ... --pin PIN)",
			       token, module);
	}
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION |
					 (rw ? CKF_RW_SESSION : 0),
				 NULL, NULL, &p->s);
	if (rv != CKR_OK) {
		int r = p11_fail(err, p, "C_OpenSession", rv,
				 rw ? "the token must accept a read-write "
				      "session to hold a new key"
				    : "check the token");
		p11_close(p);
		return r;
	}
	p->session = true;
	rv = p->f->C_Login(p->s, CKU_USER, pin->p, pin->len);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	if (rv != CKR_OK) {
		int r;
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE ||
		    rv == CKR_PIN_INVALID)
			r = st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s) "
				    "refused the user PIN from %.900s: wrong PIN "
				    "(%s); check it: tokens lock the PIN after a "
				    "few wrong tries", token, module, pin->from,
				    ckr_name(rv));
		else if (rv == CKR_PIN_LOCKED)
			r = st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s): "
				    "the user PIN is locked (CKR_PIN_LOCKED); the "
				    "token's security officer must unlock it",
				    token, module);
		else
			r = p11_fail(err, p, "C_Login", rv, "check the token and "
				     "the PIN");
		p11_close(p);
		return r;
	}
	p->logged_in = true;
	return 0;
}

/* The secret keys labelled label: *h the first, *count how many (0..2). */
static int p11_find_key(struct p11 *p, const char *label,
			CK_OBJECT_HANDLE *h, CK_ULONG *count,
			struct st_error *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tpl[] = {
		{CKA_CLASS, &cls, sizeof cls},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[2];
	*count = 0;
	CK_RV rv = p->f->C_FindObjectsInit(p->s, tpl, 2);
	if (rv != CKR_OK)
		return p11_fail(err, p, "C_FindObjectsInit", rv, "check the token");
	rv = p->f->C_FindObjects(p->s, hs, 2, count);
	p->f->C_FindObjectsFinal(p->s);
	if (rv != CKR_OK)
		return p11_fail(err, p, "C_FindObjects", rv, "check the token");
	if (*count > 1)
		return st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s) "
			       "holds several secret keys labelled '%s': which "
			       "one wraps the master is ambiguous; give another "
			       "--pkcs11-key", p->token, p->module, label);
	*h = hs[0];
	return 0;
}

/* A reused key must be what keygen would have made. */
static int p11_key_fit(struct p11 *p, CK_OBJECT_HANDLE h, const char *label,
		       struct st_error *err)
{
	CK_KEY_TYPE kt = 0;
	CK_ULONG vl = 0;
	CK_BBOOL tok = 0, sens = 0, extr = 1, enc = 0, dec = 0;
	CK_ATTRIBUTE a[] = {
		{CKA_KEY_TYPE, &kt, sizeof kt},  {CKA_VALUE_LEN, &vl, sizeof vl},
		{CKA_TOKEN, &tok, sizeof tok},   {CKA_SENSITIVE, &sens, sizeof sens},
		{CKA_EXTRACTABLE, &extr, sizeof extr},
		{CKA_ENCRYPT, &enc, sizeof enc}, {CKA_DECRYPT, &dec, sizeof dec},
	};
	CK_RV rv = p->f->C_GetAttributeValue(p->s, h, a, sizeof a / sizeof a[0]);
	if (rv != CKR_OK)
		return p11_fail(err, p, "C_GetAttributeValue", rv, "check the key");
	const char *why = kt != CKK_AES      ? "it is not an AES key"
			  : vl != 32         ? "it is not 256 bits long"
			  : !tok             ? "it is not stored in the token"
			  : !sens            ? "it is not sensitive"
			  : extr             ? "it is extractable: its value "
					       "could be read out of the token"
			  : !(enc && dec)    ? "it may not encrypt and decrypt"
					     : NULL;
	if (why)
		return st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s) "
			       "already holds a key labelled '%s', but %s; give "
			       "another --pkcs11-key and a new key is made",
			       p->token, p->module, label, why);
	return 0;
}

static int p11_make_key(struct p11 *p, const char *label,
			CK_OBJECT_HANDLE *h, struct st_error *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG vl = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tpl[] = {
		{CKA_CLASS, &cls, sizeof cls},
		{CKA_KEY_TYPE, &kt, sizeof kt},
		{CKA_VALUE_LEN, &vl, sizeof vl},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_TOKEN, &yes, 1},
		{CKA_PRIVATE, &yes, 1},
		{CKA_SENSITIVE, &yes, 1},
		{CKA_EXTRACTABLE, &no, 1},
		{CKA_ENCRYPT, &yes, 1},
		{CKA_DECRYPT, &yes, 1},
		{CKA_WRAP, &no, 1},
		{CKA_UNWRAP, &no, 1},
	};
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_RV rv = p->f->C_GenerateKey(p->s, &mech, tpl, sizeof tpl / sizeof tpl[0],
				       h);
	if (rv != CKR_OK)
		return p11_fail(err, p, "C_GenerateKey (AES-256)", rv,
				"the token must make non-extractable AES-256 "
				"keys (CKM_AES_KEY_GEN)");
	return 0;
}

/* AES-256-GCM in the token: encrypt (in -> out, adds the tag) or decrypt
 * (in with its tag -> out). out holds P11_GCM_OUT_MAX bytes. */
static CK_RV p11_gcm(struct p11 *p, CK_OBJECT_HANDLE key, bool enc,
		     const uint8_t iv[ST_MASTER_IV_LEN], const struct st_buf *aad,
		     const uint8_t *in, size_t in_len, uint8_t *out,
		     size_t *out_len, const char **call)
{
	CK_GCM_PARAMS gp = {(CK_BYTE *)iv, ST_MASTER_IV_LEN,
			    ST_MASTER_IV_LEN * 8, aad->p, aad->len,
			    ST_MASTER_TAG_LEN * 8};
	CK_MECHANISM mech = {CKM_AES_GCM, &gp, sizeof gp};
	CK_ULONG n = P11_GCM_OUT_MAX;
	CK_RV rv;
	if (enc) {
		*call = "C_EncryptInit (CKM_AES_GCM)";
		rv = p->f->C_EncryptInit(p->s, &mech, key);
		if (rv == CKR_OK) {
			*call = "C_Encrypt";
			rv = p->f->C_Encrypt(p->s, (CK_BYTE *)in, in_len, out, &n);
		}
	} else {
		*call = "C_DecryptInit (CKM_AES_GCM)";
		rv = p->f->C_DecryptInit(p->s, &mech, key);
		if (rv == CKR_OK) {
			*call = "C_Decrypt";
			rv = p->f->C_Decrypt(p->s, (CK_BYTE *)in, in_len, out, &n);
		}
	}
	*out_len = n;
	return rv;
}

/* ---- the master ---- */

static void hex16(const uint8_t *pk, char out[17])
{
	sodium_bin2hex(out, 17, pk, 8);
}

/* path with its extension replaced by ".pub" (or ".pub" added). */
static int beside_pub(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - path)
							 : strlen(path);
	int n = snprintf(out, cap, "%.*s.pub", (int)stem, path);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The public key file beside the source, when there is one, must be the
 * loaded secret's. */
static int check_beside(const char *src_path, struct st_master *m,
			struct st_error *err)
{
	char pub[PATH_MAX_ST];
	struct stat st;
	if (beside_pub(src_path, pub, sizeof pub) < 0 || lstat(pub, &st) < 0)
		return 0;
	uint8_t pk[ST_BOX_PK_LEN];
	int rc = st_key_read(pub, ST_KEY_MASTER_PUBLIC, pk, sizeof pk, false, err);
	if (rc < 0)
		return st_error_prefix(err, "the public key beside %s: ", src_path);
	if (sodium_memcmp(pk, m->pk, sizeof pk)) {
		char a[17], b[17];
		hex16(m->pk, a);
		hex16(pk, b);
		return st_fail(err, ST_E_NOT_FOR_KEY, "the master secret from "
			       "%.900s is the one of public key %s..., but %.900s "
			       "beside it holds %s...: they come from different "
			       "keygens (a wrong file, or another token's key); "
			       "put the master.pub made with it beside it",
			       m->what, a, pub, b);
	}
	return 0;
}

static int open_wrapped(const struct st_master_src *src, struct st_master *m,
			struct st_error *err)
{
	const char *path = src->wrapped_file;
	uint8_t buf[ST_MASTER_WRAPPED_MAX + 1];
	size_t len = 0;
	int rc = read_private(path, "wrapped master file", buf,
			      ST_MASTER_WRAPPED_MAX, &len, err);
	if (rc < 0)
		return rc;
	struct st_master_wrapped w;
	if ((rc = st_master_wrapped_parse(buf, len, &w, err)) < 0)
		return st_error_prefix(err, "%.900s: ", path);
	const char *token = src->token ? src->token : w.token;
	snprintf(m->what, sizeof m->what, "%.900s (token '%s', key '%s')", path,
		 token, w.key);
	struct st_buf aad;
	st_buf_init(&aad, false);
	if ((rc = st_master_wrapped_aad(&w, &aad, err)) < 0) {
		st_buf_fini(&aad);
		return rc;
	}
	struct pin pin;
	if ((rc = pin_read(src, &pin, err)) < 0) {
		st_buf_fini(&aad);
		return rc;
	}
	struct p11 p;
	rc = p11_open(&p, src_module(src), token, &pin, false, err);
	pin_free(&pin);
	if (rc < 0) {
		st_buf_fini(&aad);
		return rc;
	}
	CK_OBJECT_HANDLE key = 0;
	CK_ULONG count = 0;
	rc = p11_find_key(&p, w.key, &key, &count, err);
	if (rc == 0 && count == 0)
		rc = st_fail(err, ST_E_PKCS11, "token '%s' (module %.900s) holds "
			     "no key labelled '%s', which wrapped %.900s: this "
			     "is not the token that wrapped it; check "
			     "--pkcs11-token, or use that token", token,
			     src_module(src), w.key, path);
	uint8_t *out = rc == 0 ? sodium_malloc(P11_GCM_OUT_MAX) : NULL;
	if (rc == 0 && !out)
		rc = st_fail(err, ST_E_NOMEM, "out of locked memory");
	if (rc == 0) {
		size_t n = 0;
		const char *call = "";
		CK_RV rv = p11_gcm(&p, key, false, w.iv, &aad, w.sealed,
				   sizeof w.sealed, out, &n, &call);
		/* The key and the mechanism were accepted (C_DecryptInit):
		 * a failing C_Decrypt is the tag not verifying. Modules say
		 * so differently: SoftHSM2 answers CKR_GENERAL_ERROR. */
		bool tag = !strcmp(call, "C_Decrypt") &&
			   (rv == CKR_ENCRYPTED_DATA_INVALID ||
			    rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
			    rv == CKR_GENERAL_ERROR ||
			    rv == CKR_FUNCTION_FAILED);
		if (tag)
			rc = st_fail(err, ST_E_DECRYPT, "%.900s does not open with "
				     "key '%s' of token '%s' (C_Decrypt: %s): it "
				     "was wrapped by another key of that label "
				     "(another token?) or it was altered; use "
				     "the token that made it, or restore the "
				     "file from its backup", path, w.key, token,
				     ckr_name(rv));
		else if (rv != CKR_OK)
			rc = p11_fail(err, &p, call, rv, "the token must do "
				      "AES-256-GCM (CKM_AES_GCM) with this key");
		else if (n != ST_BOX_SK_LEN)
			rc = st_fail(err, ST_E_PKCS11, "token '%s' returned %zu "
				     "bytes for %.900s, not %d", token, n, path,
				     ST_BOX_SK_LEN);
		else
			memcpy(m->sk, out, ST_BOX_SK_LEN);
	}
	if (out)
		sodium_free(out); /* wipes */
	p11_close(&p);
	st_buf_fini(&aad);
	if (rc < 0)
		return rc;
	if (crypto_scalarmult_base(m->pk, m->sk) != 0 ||
	    sodium_memcmp(m->pk, w.public_key, ST_BOX_PK_LEN)) {
		char a[17], b[17];
		hex16(m->pk, a);
		hex16(w.public_key, b);
		return st_fail(err, ST_E_NOT_FOR_KEY, "%.900s: the secret the "
			       "token unwrapped is the one of public key %s..., "
			       "not of %s... that the file names; the file is "
			       "not as keygen wrote it", path, a, b);
	}
	return 0;
}

int st_master_open(const struct st_master_src *src, struct st_master *m,
		   struct st_error *err)
{
	memset(m, 0, sizeof *m);
	int rc = st_master_src_check(src, false, err);
	if (rc < 0)
		return rc;
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium cannot initialise");
	m->sk = st_secret_new(ST_BOX_SK_LEN);
	if (!m->sk)
		return st_fail(err, ST_E_NOMEM, "out of locked memory for the "
			       "master secret");
	const char *path = src->key_file ? src->key_file : src->wrapped_file;
	if (src->key_file) {
		snprintf(m->what, sizeof m->what, "key file %.900s", path);
		rc = st_key_read(path, ST_KEY_MASTER_SECRET, m->sk, ST_BOX_SK_LEN,
				 true, err);
		if (rc == 0 && crypto_scalarmult_base(m->pk, m->sk) != 0)
			rc = st_fail(err, ST_E_KEY_FORMAT, "%.900s: not a usable "
				     "X25519 secret", path);
	} else {
		rc = open_wrapped(src, m, err);
	}
	if (rc == 0)
		rc = check_beside(path, m, err);
	if (rc < 0)
		st_master_close(m);
	return rc;
}

void st_master_close(struct st_master *m)
{
	if (!m)
		return;
	st_secret_free(m->sk); /* sodium_free zeroes before unmapping */
	sodium_memzero(m, sizeof *m);
}

int st_master_open_person(const struct st_master *m,
			  const uint8_t sealed[ST_MASTER_SEALED_LEN],
			  const uint8_t person_pk[ST_BOX_PK_LEN],
			  uint8_t *sk_out32, struct st_error *err)
{
	if (!m || !m->sk || !person_pk || !sk_out32)
		return st_fail(err, ST_E_INVAL, "open person: no master loaded");
	if (!sealed) {
		sodium_memzero(sk_out32, ST_BOX_SK_LEN);
		return st_fail(err, ST_E_ERASED, "erased: the server keeps no "
			       "sealed secret for this person, so nothing of "
			       "theirs can be opened");
	}
	char mh[17], ph[17];
	hex16(m->pk, mh);
	hex16(person_pk, ph);
	if (crypto_box_seal_open(sk_out32, sealed, ST_MASTER_SEALED_LEN, m->pk,
				 m->sk) != 0) {
		sodium_memzero(sk_out32, ST_BOX_SK_LEN);
		return st_fail(err, ST_E_DECRYPT, "the sealed secret does not "
			       "open with master %s...: it is sealed to another "
			       "master (already rotated?) or it was altered",
			       mh);
	}
	uint8_t pk[ST_BOX_PK_LEN];
	if (crypto_scalarmult_base(pk, sk_out32) != 0 ||
	    sodium_memcmp(pk, person_pk, sizeof pk)) {
		sodium_memzero(sk_out32, ST_BOX_SK_LEN);
		return st_fail(err, ST_E_NOT_FOR_KEY, "the sealed secret opens, "
			       "but it is not the secret of the person's public "
			       "key %s...: the server's record of this person "
			       "is inconsistent; have it checked before using "
			       "it", ph);
	}
	return 0;
}

int st_master_keygen_wrapped(const struct st_master_src *src,
			     const char *wrapped_path,
			     uint8_t pk[ST_BOX_PK_LEN], bool *key_made,
			     struct st_error *err)
{
	*key_made = false;
	struct st_master_src s = *src;
	s.pkcs11 = true;
	int rc = st_master_src_check(&s, true, err);
	if (rc < 0)
		return rc;
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "libsodium cannot initialise");
	struct stat st;
	if (lstat(wrapped_path, &st) == 0)
		return st_fail(err, ST_E_EXISTS, "%s exists; a master key is "
			       "never overwritten: choose another folder",
			       wrapped_path);
	const char *label = s.key_label ? s.key_label
					: ST_MASTER_KEY_LABEL_DEFAULT;
	struct st_master_wrapped w;
	memset(&w, 0, sizeof w);
	snprintf(w.token, sizeof w.token, "%s", s.token);
	snprintf(w.key, sizeof w.key, "%s", label);
	randombytes_buf(w.iv, sizeof w.iv);

	struct pin pin;
	if ((rc = pin_read(&s, &pin, err)) < 0)
		return rc;
	struct p11 p;
	rc = p11_open(&p, src_module(&s), s.token, &pin, true, err);
	pin_free(&pin);
	if (rc < 0)
		return rc;
	CK_OBJECT_HANDLE key = 0;
	CK_ULONG count = 0;
	rc = p11_find_key(&p, label, &key, &count, err);
	if (rc == 0 && count == 1)
		rc = p11_key_fit(&p, key, label, err);
	else if (rc == 0 && (rc = p11_make_key(&p, label, &key, err)) == 0)
		*key_made = true;
	uint8_t *sk = rc == 0 ? st_secret_new(ST_BOX_SK_LEN) : NULL;
	if (rc == 0 && !sk)
		rc = st_fail(err, ST_E_NOMEM, "out of locked memory");
	if (rc == 0 && st_box_keypair(w.public_key, sk) < 0)
		rc = st_fail(err, ST_E_CRYPTO_INIT, "cannot make a key pair");
	struct st_buf aad;
	st_buf_init(&aad, false);
	if (rc == 0)
		rc = st_master_wrapped_aad(&w, &aad, err);
	if (rc == 0) {
		uint8_t out[P11_GCM_OUT_MAX];
		size_t n = 0;
		const char *call = "";
		CK_RV rv = p11_gcm(&p, key, true, w.iv, &aad, sk, ST_BOX_SK_LEN,
				   out, &n, &call);
		if (rv != CKR_OK)
			rc = p11_fail(err, &p, call, rv, "the token must do "
				      "AES-256-GCM (CKM_AES_GCM) with a given "
				      "96-bit IV");
		else if (n != sizeof w.sealed)
			rc = st_fail(err, ST_E_PKCS11, "token '%s' returned %zu "
				     "bytes of AES-GCM output for 32, not %zu",
				     s.token, n, sizeof w.sealed);
		else
			memcpy(w.sealed, out, sizeof w.sealed);
	}
	st_secret_free(sk); /* the plain secret ends here */
	st_buf_fini(&aad);
	p11_close(&p);
	if (rc < 0)
		return rc;
	struct st_buf text;
	st_buf_init(&text, false);
	rc = st_master_wrapped_encode(&w, &text, err);
	if (rc == 0)
		rc = write_new_private(wrapped_path, text.p, text.len, err);
	st_buf_fini(&text);
	if (rc == 0)
		memcpy(pk, w.public_key, ST_BOX_PK_LEN);
	return rc;
}
