/* tls.c - the server's TLS material with GnuTLS's x509 API: a CA, the
 * server certificate it signs, and the CA fingerprint agents pin. */
#include "server/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/token.h"

#define TLS_CA_DAYS 3650u
#define TLS_DAYS_MAX 3650u
#define TLS_SERIAL_LEN 16
/* Certificates start a little in the past: a client whose clock runs a
 * few minutes behind still accepts a certificate made just now. */
#define TLS_BACKDATE_S 300
#define TLS_HOST_MAX 253 /* a DNS name's longest form */
#define TLS_KEYID_MAX 64

static int tls_fail(struct st_error *err, int grc, const char *what,
		    const char *path)
{
	return st_fail(err, ST_E_TLS_BASE + grc, "%s: %s: %s", path, what,
		       gnutls_strerror(grc));
}

static int refuse_existing(const char *path, struct st_error *err)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return st_fail(err, -EEXIST, "%s: exists; TLS material is never "
			       "overwritten: move it away first", path);
	return 0;
}

static void fsync_dir_of(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		return;
	int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Creates path (never replacing a file) with exactly mode and data. */
static int write_new(const char *path, const void *data, size_t len,
		     mode_t mode, struct st_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      mode);
	if (fd < 0) {
		int e = errno;
		return st_fail(err, st_errno(e), "%s: cannot create: %s%s", path,
			       strerror(e), e == EEXIST ? "; move it away "
			       "first, it is never overwritten" : "");
	}
	const uint8_t *p = data;
	size_t left = len;
	int e = 0;
	if (fchmod(fd, mode) < 0)
		e = errno;
	while (!e && left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	if (!e && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (e) {
		unlink(path);
		return st_fail(err, st_errno(e), "%s: cannot write: %s", path,
			       strerror(e));
	}
	fsync_dir_of(path);
	return 0;
}

/* Frees a datum that held a private key, wiping it first. */
static void wipe_datum(gnutls_datum_t *d)
{
	if (d->data) {
		gnutls_memset(d->data, 0, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

static void free_datum(gnutls_datum_t *d)
{
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
}

static int new_key(gnutls_x509_privkey_t *key, struct st_error *err)
{
	int g = gnutls_x509_privkey_init(key);
	if (g < 0)
		return tls_fail(err, g, "cannot make a key", "TLS");
	g = gnutls_x509_privkey_generate(
		*key, GNUTLS_PK_ECDSA,
		GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (g < 0) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
		return tls_fail(err, g, "cannot generate an ECDSA P-256 key",
				"TLS");
	}
	return 0;
}

/* Fields every certificate gets: version 3, a random positive serial,
 * validity from a little before now for `days`, its public key and the
 * subject key identifier. */
static int common_fields(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
			 const char *cn, uint32_t days)
{
	uint8_t serial[TLS_SERIAL_LEN];
	randombytes_buf(serial, sizeof serial);
	serial[0] &= 0x7f; /* DER integers are signed: keep it positive */
	serial[0] |= 0x01; /* and of full length */
	time_t now = time(NULL);
	int g;
	uint8_t id[TLS_KEYID_MAX];
	size_t id_len = sizeof id;
	if ((g = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (g = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    (g = gnutls_x509_crt_set_activation_time(crt, now - TLS_BACKDATE_S)) <
		    0 ||
	    (g = gnutls_x509_crt_set_expiration_time(
		     crt, now + (time_t)days * 86400)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
					       0, cn, (unsigned)strlen(cn))) <
		    0 ||
	    (g = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (g = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id,
					    &id_len)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_key_id(crt, id, id_len)) < 0)
		return g;
	return 0;
}

/* Writes key (0600) then certificate PEM text (0644); on failure neither is
 * left behind. */
static int write_pair(gnutls_x509_privkey_t key, const gnutls_datum_t *cert,
		      const char *cert_path, const char *key_path,
		      struct st_error *err)
{
	gnutls_datum_t kd = {NULL, 0};
	int g = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
						  GNUTLS_PKCS_PLAIN, &kd);
	if (g < 0)
		return tls_fail(err, g, "cannot encode the private key",
				key_path);
	int rc = write_new(key_path, kd.data, kd.size, 0600, err);
	wipe_datum(&kd);
	if (rc < 0)
		return rc;
	rc = write_new(cert_path, cert->data, cert->size, 0644, err);
	if (rc < 0)
		unlink(key_path);
	return rc;
}

int st_tls_make_ca(const char *ca_pem, const char *ca_key, const char *cn,
		   struct st_error *err)
{
	if (!ca_pem || !ca_key || !cn || !*cn || strlen(cn) > 64)
		return st_fail(err, ST_E_INVAL, "TLS CA: certificate and key "
			       "paths and a name of 1 to 64 bytes are needed");
	if (sodium_init() < 0) /* the serial comes from libsodium */
		return st_fail(err, ST_E_CRYPTO_INIT, "TLS CA: libsodium cannot "
			       "initialise");
	int rc;
	if ((rc = refuse_existing(ca_pem, err)) < 0 ||
	    (rc = refuse_existing(ca_key, err)) < 0)
		return rc;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = {NULL, 0};
	if ((rc = new_key(&key, err)) < 0)
		return rc;
	int g = gnutls_x509_crt_init(&crt);
	if (g >= 0)
		g = common_fields(crt, key, cn, TLS_CA_DAYS);
	/* A CA for this server only: it signs end-entity certificates and
	 * nothing below them (path length 0). */
	if (g >= 0)
		g = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
	if (g >= 0)
		g = gnutls_x509_crt_set_key_usage(
			crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
				     GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (g >= 0)
		g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (g >= 0)
		g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);
	if (g < 0)
		rc = tls_fail(err, g, "cannot make the CA certificate", ca_pem);
	else
		rc = write_pair(key, &pem, ca_pem, ca_key, err);
	free_datum(&pem);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

/* Reads a PEM file of at most ST_TLS_PEM_MAX bytes. Key files (secret) must
 * be 0600 or stricter; their text goes to locked memory. */
static int read_pem(const char *path, bool secret, struct st_buf *b,
		    struct st_error *err)
{
	if (secret) {
		struct stat st;
		if (stat(path, &st) < 0)
			return st_fail(err, st_errno(errno), "%s: %s", path,
				       strerror(errno));
		if (st.st_mode & 077)
			return st_fail(err, ST_E_KEY_MODE,
				       "key file %s is mode %04o; run chmod 600 "
				       "%s", path,
				       (unsigned)(st.st_mode & 07777), path);
	}
	int rc = st_file_read(path, ST_TLS_PEM_MAX, b, err);
	if (rc == ST_E_CAP)
		return st_fail(err, rc, "%s: over %u bytes, not a PEM "
			       "certificate or key", path, ST_TLS_PEM_MAX);
	return rc;
}

static int load_crt(const char *path, gnutls_x509_crt_t *crt,
		    struct st_error *err)
{
	struct st_buf b;
	st_buf_init(&b, false);
	int rc = read_pem(path, false, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		return rc;
	}
	gnutls_datum_t d = {b.p, (unsigned)b.len};
	int g = gnutls_x509_crt_init(crt);
	if (g >= 0)
		g = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM);
	st_buf_fini(&b);
	if (g < 0) {
		if (*crt)
			gnutls_x509_crt_deinit(*crt);
		*crt = NULL;
		return st_fail(err, ST_E_TLS_BASE + g, "%s: not a PEM "
			       "certificate (%s); give the file that starts "
			       "with -----BEGIN CERTIFICATE-----", path,
			       gnutls_strerror(g));
	}
	return 0;
}

static int load_key(const char *path, gnutls_x509_privkey_t *key,
		    struct st_error *err)
{
	struct st_buf b;
	st_buf_init(&b, true);
	int rc = read_pem(path, true, &b, err);
	if (rc < 0) {
		st_buf_fini(&b);
		return rc;
	}
	gnutls_datum_t d = {b.p, (unsigned)b.len};
	int g = gnutls_x509_privkey_init(key);
	if (g >= 0)
		g = gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_PEM,
						NULL, GNUTLS_PKCS_PLAIN);
	st_buf_fini(&b); /* locked: wiped on free */
	if (g < 0) {
		if (*key)
			gnutls_x509_privkey_deinit(*key);
		*key = NULL;
		return st_fail(err, ST_E_TLS_BASE + g, "%s: not an unencrypted "
			       "PEM private key (%s)", path, gnutls_strerror(g));
	}
	return 0;
}

/* A host is an IP literal or a DNS name (letters, digits, '-', '.', and a
 * leading "*." wildcard). */
static int check_host(const char *h, struct st_error *err)
{
	size_t l = h ? strlen(h) : 0;
	if (!l || l > TLS_HOST_MAX)
		return st_fail(err, ST_E_INVAL, "TLS host name \"%.64s\": must "
			       "be 1 to %d characters", h ? h : "",
			       TLS_HOST_MAX);
	uint8_t a[16];
	if (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1)
		return 0;
	for (size_t i = 0; i < l; i++) {
		char ch = h[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
			  (ch == '*' && i == 0 && h[1] == '.');
		if (!ok)
			return st_fail(err, ST_E_INVAL, "TLS host name "
				       "\"%.64s\": not an IP address or DNS name "
				       "(character %zu); give e.g. "
				       "server.example.com or 10.0.0.5", h,
				       i + 1);
	}
	return 0;
}

static int add_san(gnutls_x509_crt_t crt, const char *h)
{
	uint8_t a[16];
	if (inet_pton(AF_INET, h, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(
			crt, GNUTLS_SAN_IPADDRESS, a, 4, GNUTLS_FSAN_APPEND);
	if (inet_pton(AF_INET6, h, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(
			crt, GNUTLS_SAN_IPADDRESS, a, 16, GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(
		crt, GNUTLS_SAN_DNSNAME, h, (unsigned)strlen(h),
		GNUTLS_FSAN_APPEND);
}

int st_tls_make_server(const char *ca_pem, const char *ca_key,
		       const char *const *hosts, size_t n_hosts,
		       uint32_t days, const char *cert_pem,
		       const char *key_pem, struct st_error *err)
{
	if (!ca_pem || !ca_key || !cert_pem || !key_pem || !hosts)
		return st_fail(err, ST_E_INVAL, "TLS server certificate: paths "
			       "and host names are needed");
	if (n_hosts < 1 || n_hosts > ST_TLS_HOSTS_MAX)
		return st_fail(err, ST_E_CAP, "TLS server certificate: %zu host "
			       "names; give 1 to %d", n_hosts, ST_TLS_HOSTS_MAX);
	if (days == 0)
		days = ST_TLS_SERVER_DAYS_DEFAULT;
	if (days > TLS_DAYS_MAX)
		return st_fail(err, ST_E_INVAL, "TLS server certificate: %u "
			       "days; give at most %u", days, TLS_DAYS_MAX);
	if (sodium_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "TLS server certificate: "
			       "libsodium cannot initialise");
	int rc;
	for (size_t i = 0; i < n_hosts; i++)
		if ((rc = check_host(hosts[i], err)) < 0)
			return rc;
	if ((rc = refuse_existing(cert_pem, err)) < 0 ||
	    (rc = refuse_existing(key_pem, err)) < 0)
		return rc;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t cakey = NULL, key = NULL;
	gnutls_datum_t pem = {NULL, 0}, ca_text = {NULL, 0};
	if ((rc = load_crt(ca_pem, &ca, err)) < 0)
		goto out;
	if ((rc = load_key(ca_key, &cakey, err)) < 0)
		goto out;
	if ((rc = new_key(&key, err)) < 0)
		goto out;
	uint8_t ca_id[TLS_KEYID_MAX];
	size_t ca_id_len = sizeof ca_id;
	unsigned critical = 0;
	int g = gnutls_x509_crt_init(&crt);
	if (g >= 0)
		g = common_fields(crt, key, hosts[0], days);
	if (g >= 0)
		g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (g >= 0)
		g = gnutls_x509_crt_set_key_usage(crt,
						  GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (g >= 0)
		g = gnutls_x509_crt_set_key_purpose_oid(
			crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	for (size_t i = 0; g >= 0 && i < n_hosts; i++)
		g = add_san(crt, hosts[i]);
	if (g >= 0 && gnutls_x509_crt_get_subject_key_id(ca, ca_id, &ca_id_len,
							 &critical) >= 0)
		g = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_id_len);
	if (g >= 0)
		g = gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0);
	if (g < 0) {
		rc = tls_fail(err, g, "cannot make the server certificate",
			      cert_pem);
		goto out;
	}
	/* server.pem is the chain: the server certificate, then the CA. */
	struct st_buf chain;
	st_buf_init(&chain, false);
	g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);
	if (g >= 0)
		g = gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &ca_text);
	if (g < 0) {
		st_buf_fini(&chain);
		rc = tls_fail(err, g, "cannot encode the certificate", cert_pem);
		goto out;
	}
	st_buf_put(&chain, pem.data, pem.size);
	st_buf_put(&chain, ca_text.data, ca_text.size);
	if (chain.oom) {
		st_buf_fini(&chain);
		rc = st_fail(err, ST_E_NOMEM, "%s: out of memory", cert_pem);
		goto out;
	}
	gnutls_datum_t cd = {chain.p, (unsigned)chain.len};
	rc = write_pair(key, &cd, cert_pem, key_pem, err);
	st_buf_fini(&chain);
out:
	free_datum(&pem);
	free_datum(&ca_text);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (cakey)
		gnutls_x509_privkey_deinit(cakey);
	return rc;
}

int st_tls_cert_der(const char *pem_file, uint8_t **der, size_t *der_len,
		    uint8_t fp[32], struct st_error *err)
{
	gnutls_x509_crt_t crt = NULL;
	int rc = load_crt(pem_file, &crt, err);
	if (rc < 0)
		return rc;
	gnutls_datum_t d = {NULL, 0};
	int g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d);
	gnutls_x509_crt_deinit(crt);
	if (g < 0)
		return tls_fail(err, g, "cannot encode the certificate",
				pem_file);
	if (fp)
		st_fingerprint(d.data, d.size, fp);
	if (der) {
		*der = malloc(d.size);
		if (!*der) {
			free_datum(&d);
			return st_fail(err, ST_E_NOMEM, "%s: out of memory",
				       pem_file);
		}
		memcpy(*der, d.data, d.size);
	}
	if (der_len)
		*der_len = d.size;
	free_datum(&d);
	return 0;
}
