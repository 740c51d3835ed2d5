/* test_tls.c - the server's TLS material: a CA and a server certificate
 * that verifies against it, with every SAN asked for, key files 0600, the
 * chain in server.pem, the fingerprint = SHA-256 of the CA's DER, nothing
 * overwritten, bad host names and loose CA keys refused. */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "server/tls.h"

static char dir[256], ca_pem[300], ca_key[300], crt_pem[300], crt_key[300];
static const char *const hosts[] = {"localhost", "127.0.0.1", "::1",
				    "st.example.com", "10.1.2.3"};

static int setup(void **s)
{
	(void)s;
	strcpy(dir, "/tmp/st-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", dir);
	snprintf(ca_key, sizeof ca_key, "%s/ca.key", dir);
	snprintf(crt_pem, sizeof crt_pem, "%s/server.pem", dir);
	snprintf(crt_key, sizeof crt_key, "%s/server.key", dir);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void make_both(void)
{
	struct st_error e = {0};
	if (st_tls_make_ca(ca_pem, ca_key, "sealtrace test CA", &e) < 0)
		fail_msg("make_ca: %s", e.msg);
	if (st_tls_make_server(ca_pem, ca_key, hosts, 5, 0, crt_pem, crt_key,
			       &e) < 0)
		fail_msg("make_server: %s", e.msg);
}

/* Every certificate of a PEM file. */
static unsigned load_all(const char *path, gnutls_x509_crt_t *out,
			 unsigned max)
{
	struct st_buf b;
	st_buf_init(&b, false);
	assert_int_equal(st_file_read(path, 1 << 16, &b, NULL), 0);
	gnutls_datum_t d = {b.p, (unsigned)b.len};
	unsigned n = max;
	assert_true(gnutls_x509_crt_list_import(out, &n, &d,
						GNUTLS_X509_FMT_PEM, 0) >= 0);
	st_buf_fini(&b);
	return n;
}

static mode_t mode_of(const char *p)
{
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 0777;
}

static void server_certificate_verifies_against_the_ca(void **s)
{
	(void)s;
	mode_t old = umask(0);
	make_both();
	umask(old);
	assert_int_equal(mode_of(ca_key), 0600);
	assert_int_equal(mode_of(crt_key), 0600);
	assert_int_equal(mode_of(ca_pem), 0644);
	assert_int_equal(mode_of(crt_pem), 0644);
	gnutls_x509_crt_t ca[2], chain[3];
	assert_int_equal(load_all(ca_pem, ca, 2), 1);
	/* server.pem is the chain: server certificate, then the CA */
	assert_int_equal(load_all(crt_pem, chain, 3), 2);
	assert_int_not_equal(gnutls_x509_crt_equals(chain[1], ca[0]), 0);
	unsigned status = 0xffff;
	assert_int_equal(gnutls_x509_crt_verify(chain[0], ca, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	/* and not against another CA */
	char other_pem[300], other_key[300];
	snprintf(other_pem, sizeof other_pem, "%s/other.pem", dir);
	snprintf(other_key, sizeof other_key, "%s/other.key", dir);
	assert_int_equal(st_tls_make_ca(other_pem, other_key, "other", NULL), 0);
	gnutls_x509_crt_t other[1];
	assert_int_equal(load_all(other_pem, other, 1), 1);
	gnutls_x509_crt_verify(chain[0], other, 1, 0, &status);
	assert_int_not_equal(status, 0);
	/* the CA is a CA; the server certificate is not, and serves TLS */
	unsigned crit = 0;
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(ca[0], &crit,
							       NULL, NULL), 1);
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(chain[0], &crit,
							       NULL, NULL), 0);
	unsigned ku = 0;
	assert_true(gnutls_x509_crt_get_key_usage(ca[0], &ku, &crit) >= 0);
	assert_true(ku & GNUTLS_KEY_KEY_CERT_SIGN);
	assert_true(gnutls_x509_crt_get_key_usage(chain[0], &ku, &crit) >= 0);
	assert_true(ku & GNUTLS_KEY_DIGITAL_SIGNATURE);
	assert_false(ku & GNUTLS_KEY_KEY_CERT_SIGN);
	char oid[128];
	size_t ol = sizeof oid;
	assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(chain[0], 0, oid,
							     &ol, NULL), 0);
	assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
	/* ECDSA P-256 keys */
	unsigned bits = 0;
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(chain[0], &bits),
			 GNUTLS_PK_ECDSA);
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(ca[0], &bits),
			 GNUTLS_PK_ECDSA);
	/* valid from about now, for 825 days */
	time_t now = time(NULL);
	time_t exp = gnutls_x509_crt_get_expiration_time(chain[0]);
	assert_true(exp > now + 824L * 86400 && exp < now + 826L * 86400);
	assert_true(gnutls_x509_crt_get_activation_time(chain[0]) <= now);
	/* random serials: two CAs never share one */
	uint8_t s1[32], s2[32];
	size_t l1 = sizeof s1, l2 = sizeof s2;
	assert_int_equal(gnutls_x509_crt_get_serial(ca[0], s1, &l1), 0);
	assert_int_equal(gnutls_x509_crt_get_serial(other[0], s2, &l2), 0);
	assert_true(l1 >= 16);
	assert_false(l1 == l2 && !memcmp(s1, s2, l1));
	gnutls_x509_crt_deinit(ca[0]);
	gnutls_x509_crt_deinit(chain[0]);
	gnutls_x509_crt_deinit(chain[1]);
	gnutls_x509_crt_deinit(other[0]);
}

static void every_host_is_a_san_of_the_right_kind(void **s)
{
	(void)s;
	make_both();
	gnutls_x509_crt_t c[2];
	assert_int_equal(load_all(crt_pem, c, 2), 2);
	bool seen[5] = {false};
	for (unsigned i = 0;; i++) {
		char san[256];
		size_t l = sizeof san;
		int t = gnutls_x509_crt_get_subject_alt_name(c[0], i, san, &l,
							     NULL);
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		assert_true(t >= 0);
		for (size_t h = 0; h < 5; h++) {
			uint8_t a[16];
			int fam = strchr(hosts[h], ':') ? AF_INET6 : AF_INET;
			if (inet_pton(fam, hosts[h], a) == 1) {
				size_t al = fam == AF_INET ? 4 : 16;
				if (t == GNUTLS_SAN_IPADDRESS && l == al &&
				    !memcmp(san, a, al))
					seen[h] = true;
			} else if (t == GNUTLS_SAN_DNSNAME &&
				   l == strlen(hosts[h]) &&
				   !memcmp(san, hosts[h], l)) {
				seen[h] = true;
			}
		}
	}
	for (size_t h = 0; h < 5; h++)
		if (!seen[h])
			fail_msg("SAN %s missing", hosts[h]);
	/* the hostname check GnuTLS clients make */
	assert_int_not_equal(gnutls_x509_crt_check_hostname(c[0],
							    "st.example.com"),
			     0);
	assert_int_not_equal(gnutls_x509_crt_check_hostname(c[0], "127.0.0.1"),
			     0);
	assert_int_equal(gnutls_x509_crt_check_hostname(c[0], "evil.example"),
			 0);
	gnutls_x509_crt_deinit(c[0]);
	gnutls_x509_crt_deinit(c[1]);
}

static void fingerprint_is_sha256_of_der(void **s)
{
	(void)s;
	make_both();
	uint8_t *der = NULL, fp[32], want[32];
	size_t len = 0;
	struct st_error e = {0};
	assert_int_equal(st_tls_cert_der(ca_pem, &der, &len, fp, &e), 0);
	assert_true(len > 100);
	assert_int_equal(der[0], 0x30); /* a DER SEQUENCE */
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, want), 0);
	assert_memory_equal(fp, want, 32);
	/* the same bytes GnuTLS exports for the CA certificate */
	gnutls_x509_crt_t c[1];
	assert_int_equal(load_all(ca_pem, c, 1), 1);
	uint8_t gfp[32];
	size_t gl = sizeof gfp;
	assert_int_equal(gnutls_x509_crt_get_fingerprint(c[0], GNUTLS_DIG_SHA256,
							 gfp, &gl), 0);
	assert_memory_equal(fp, gfp, 32);
	gnutls_x509_crt_deinit(c[0]);
	free(der);
	/* the first certificate of a chain; fingerprint only */
	uint8_t fp2[32];
	assert_int_equal(st_tls_cert_der(crt_pem, NULL, NULL, fp2, &e), 0);
	assert_memory_not_equal(fp, fp2, 32);
	/* not a certificate */
	int rc = st_tls_cert_der(crt_key, NULL, NULL, fp2, &e);
	assert_true(rc <= ST_E_TLS_BASE && rc > ST_E_OWN_BASE);
	assert_fails_with(rc, e.code, &e, "BEGIN CERTIFICATE");
}

static void never_overwrites(void **s)
{
	(void)s;
	make_both();
	struct st_error e = {0};
	assert_fails_with(st_tls_make_ca(ca_pem, "/tmp/unused.key", "x", &e),
			  -EEXIST, &e, "never overwritten");
	char other[300];
	snprintf(other, sizeof other, "%s/new.pem", dir);
	assert_fails_with(st_tls_make_server(ca_pem, ca_key, hosts, 1, 0, other,
					     crt_key, &e),
			  -EEXIST, &e, "server.key");
	/* nothing was made beside the refused key */
	assert_int_equal(access(other, F_OK), -1);
}

static void refuses_bad_hosts_and_counts(void **s)
{
	(void)s;
	struct st_error e = {0};
	assert_int_equal(st_tls_make_ca(ca_pem, ca_key, "t", &e), 0);
	static const char *const bad[] = {"", "has space", "a/b", "x;y",
					  "*bad", "ok.com\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *h[] = {"localhost", bad[i]};
		assert_int_equal(st_tls_make_server(ca_pem, ca_key, h, 2, 0,
						    crt_pem, crt_key, &e),
				 ST_E_INVAL);
		assert_int_equal(access(crt_key, F_OK), -1);
	}
	assert_fails_with(st_tls_make_server(ca_pem, ca_key, hosts, 0, 0,
					     crt_pem, crt_key, &e),
			  ST_E_CAP, &e, "host names");
	const char *many[ST_TLS_HOSTS_MAX + 1];
	for (size_t i = 0; i <= ST_TLS_HOSTS_MAX; i++)
		many[i] = "h.example.com";
	assert_fails_with(st_tls_make_server(ca_pem, ca_key, many,
					     ST_TLS_HOSTS_MAX + 1, 0, crt_pem,
					     crt_key, &e),
			  ST_E_CAP, &e, "host names");
	const char *wild[] = {"*.example.com"};
	assert_int_equal(st_tls_make_server(ca_pem, ca_key, wild, 1, 30,
					    crt_pem, crt_key, &e), 0);
}

static void refuses_a_loose_ca_key(void **s)
{
	(void)s;
	struct st_error e = {0};
	assert_int_equal(st_tls_make_ca(ca_pem, ca_key, "t", &e), 0);
	chmod(ca_key, 0640);
	assert_fails_with(st_tls_make_server(ca_pem, ca_key, hosts, 1, 0,
					     crt_pem, crt_key, &e),
			  ST_E_KEY_MODE, &e, "chmod 600");
	assert_int_equal(access(crt_pem, F_OK), -1);
	chmod(ca_key, 0600);
	/* a certificate where the key should be */
	assert_int_not_equal(st_tls_make_server(ca_pem, ca_pem, hosts, 1, 0,
						crt_pem, crt_key, &e), 0);
	assert_int_equal(access(crt_key, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			server_certificate_verifies_against_the_ca, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			every_host_is_a_san_of_the_right_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(fingerprint_is_sha256_of_der,
						setup, teardown),
		cmocka_unit_test_setup_teardown(never_overwrites, setup,
						teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_hosts_and_counts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_a_loose_ca_key, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
