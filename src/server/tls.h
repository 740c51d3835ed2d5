/* tls.h - owns the server's TLS material made with GnuTLS: a small CA, the
 * server certificate it signs, and the fingerprint agents pin. Never sends
 * or receives anything; private keys are written 0600 and their in-memory
 * copies freed with gnutls_x509_privkey_deinit (GnuTLS wipes them).
 *
 * Keys are ECDSA P-256; the CA is valid 10 years, server certificates
 * `days` (default 825). Fingerprint = SHA-256 of the CA certificate's DER
 * form (the value inside enrollment tokens). */
#ifndef ST_TLS_H
#define ST_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ST_TLS_SERVER_DAYS_DEFAULT 825u
#define ST_TLS_HOSTS_MAX 32
#define ST_TLS_PEM_MAX (64u << 10) /* certificate or key file bytes */

/* Makes a CA key and self-signed certificate; writes ca_pem (0644) and
 * ca_key (0600). Refuses existing files (-EEXIST). */
int st_tls_make_ca(const char *ca_pem, const char *ca_key, const char *cn,
		   struct st_error *err);
/* Makes a server key and a certificate signed by the CA, with one subject
 * alternative name per host (an IPv4/IPv6 literal becomes an IP SAN, any
 * other string a DNS SAN; 1..ST_TLS_HOSTS_MAX). Writes cert_pem (0644) and
 * key_pem (0600); refuses existing files. */
int st_tls_make_server(const char *ca_pem, const char *ca_key,
		       const char *const *hosts, size_t n_hosts,
		       uint32_t days, const char *cert_pem,
		       const char *key_pem, struct st_error *err);
/* Reads the first certificate of a PEM file: its DER bytes (malloc'ed,
 * caller frees; der may be NULL) and SHA-256 fingerprint. */
int st_tls_cert_der(const char *pem_file, uint8_t **der, size_t *der_len,
		    uint8_t fp[32], struct st_error *err);

#endif
