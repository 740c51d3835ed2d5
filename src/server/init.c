/* init.c - `sealtrace init`: a new data folder, everything in it made here,
 * and nothing left behind when any step fails. */
#include "server/init.h"

#include "access/keywrap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/mem.h"
#include "core/policy.h"
#include "server/config.h"
#include "server/store.h"
#include "server/tls.h"

/* Names always in a certificate init makes: agents on this host reach it
 * by any of them. */
static const char *const builtin_hosts[] = {"localhost", "127.0.0.1", "::1"};
#define N_BUILTIN (sizeof builtin_hosts / sizeof builtin_hosts[0])
#define INIT_KEYFILE_LINE_MAX 128
#define INIT_CA_CN_MAX 64

/* What init made, so that a failure can take it back. */
struct undo {
	char dir[ST_CFG_PATH_MAX];
	bool made_dir;   /* the folder did not exist: remove it whole */
	bool touched;    /* the folder existed empty: empty it again */
	mode_t old_mode; /* its mode before init */
};

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

static void undo_all(const struct undo *u)
{
	if (u->made_dir) {
		nftw(u->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	} else if (u->touched) {
		/* It was empty when init found it: remove what is inside. */
		DIR *d = opendir(u->dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char p[ST_CFG_PATH_MAX + 256];
			snprintf(p, sizeof p, "%s/%s", u->dir, e->d_name);
			nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		}
		if (d)
			closedir(d);
		chmod(u->dir, u->old_mode);
	}
}

static int sub(char out[ST_CFG_PATH_MAX], const char *dir, const char *rel,
	       struct st_error *err)
{
	int n = snprintf(out, ST_CFG_PATH_MAX, "%s/%s", dir, rel);
	if (n < 0 || n >= ST_CFG_PATH_MAX)
		return st_fail(err, ST_E_CAP, "%s/%s: path too long", dir, rel);
	return 0;
}

/* The folder: made 0700, or an existing empty one of ours set to 0700. A
 * folder that holds a store, or anything at all, is refused. */
static int take_dir(const char *dir, struct undo *u, struct st_error *err)
{
	snprintf(u->dir, sizeof u->dir, "%s", dir);
	if (mkdir(dir, 0700) == 0) {
		u->made_dir = true;
		if (chmod(dir, 0700) < 0) /* umask can only narrow; be exact */
			return st_fail(err, st_errno(errno), "%s: %s", dir,
				       strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return st_fail(err, st_errno(errno), "data folder %s: cannot "
			       "create: %s%s", dir, strerror(errno),
			       errno == ENOENT ? "; make its parent folder "
						 "first" : "");
	struct stat st;
	if (lstat(dir, &st) < 0)
		return st_fail(err, st_errno(errno), "%s: %s", dir,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return st_fail(err, ST_E_EXISTS, "%s: exists and is not a "
			       "folder; give init a new or empty folder", dir);
	if (st.st_uid != geteuid())
		return st_fail(err, ST_E_STATE, "%s belongs to uid %u, not to "
			       "you (uid %u); run init as the user that will "
			       "run 'sealtrace serve'", dir, (unsigned)st.st_uid,
			       (unsigned)geteuid());
	char p[ST_CFG_PATH_MAX];
	struct stat s2;
	if (sub(p, dir, "sealtrace.db", NULL) == 0 && lstat(p, &s2) == 0)
		return st_fail(err, ST_E_EXISTS, "%s already holds a sealtrace "
			       "store (sealtrace.db); init never writes over "
			       "one: serve it with 'sealtrace serve --data %s', "
			       "or give init a new folder", dir, dir);
	DIR *d = opendir(dir);
	if (!d)
		return st_fail(err, st_errno(errno), "%s: %s", dir,
			       strerror(errno));
	struct dirent *e;
	const char *first = NULL;
	char name[256];
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(name, sizeof name, "%s", e->d_name);
			first = name;
			break;
		}
	}
	closedir(d);
	if (first)
		return st_fail(err, ST_E_EXISTS, "%s is not empty (it holds "
			       "%s); give init a new or empty folder", dir,
			       first);
	u->touched = true;
	u->old_mode = st.st_mode & 07777;
	if (chmod(dir, 0700) < 0)
		return st_fail(err, st_errno(errno), "%s: %s", dir,
			       strerror(errno));
	return 0;
}

static int mkdir_private(const char *dir, const char *rel,
			 struct st_error *err)
{
	char p[ST_CFG_PATH_MAX];
	int rc = sub(p, dir, rel, err);
	if (rc < 0)
		return rc;
	if (mkdir(p, 0700) < 0 || chmod(p, 0700) < 0)
		return st_fail(err, st_errno(errno), "%s: cannot create: %s", p,
			       strerror(errno));
	return 0;
}

/* Refuses a master secret handed over by mistake before anything reads
 * its key bytes (only the label line is looked at), then loads the public
 * key. */
static int read_master_public(const char *path, uint8_t pk[ST_BOX_PK_LEN],
			      struct st_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return st_fail(err, st_errno(errno), "master public key %s: %s",
			       path, strerror(errno));
	char line[INIT_KEYFILE_LINE_MAX];
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n < 0)
		return st_fail(err, st_errno(errno), "master public key %s: %s",
			       path, strerror(errno));
	line[n] = 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	if (strstr(line, ST_KEY_MASTER_SECRET)) {
		sodium_memzero(line, sizeof line);
		return st_fail(err, ST_E_MASTER_SECRET,
			       "%s is the master SECRET key: it belongs on the "
			       "export host only and must never reach the "
			       "server; give --master-public the master.pub "
			       "that 'sealtrace-export keygen' wrote beside it",
			       path);
	}
	int rc = st_key_read(path, ST_KEY_MASTER_PUBLIC, pk, ST_BOX_PK_LEN,
			     false, err);
	if (rc < 0)
		st_error_prefix(err, "master public key: ");
	return rc;
}

/* The policy, checked, in canonical form with its notice and hashes. */
struct policy_out {
	struct st_buf canon, notice;
	uint8_t hash[32], notice_hash[32];
};

static int load_policy(const char *file, struct policy_out *o,
		       struct st_error *err)
{
	struct st_buf b;
	struct st_policy p;
	st_buf_init(&b, false);
	st_policy_init(&p);
	int rc = st_file_read(file, ST_POLICY_JSON_MAX, &b, err);
	if (rc < 0) {
		st_error_prefix(err, "policy: ");
		goto out;
	}
	rc = st_policy_parse((const char *)b.p, b.len, &p, NULL, err);
	if (rc < 0) {
		st_error_prefix(err, "policy %s: ", file);
		if (err) {
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof err->msg - l,
				 " (run 'sealtrace policy check %s' for every "
				 "problem)", file);
		}
		goto out;
	}
	if ((rc = st_policy_canonical(&p, &o->canon)) < 0 ||
	    (rc = st_policy_hash(&p, o->hash)) < 0) {
		rc = st_fail(err, rc, "policy %s: cannot make its canonical "
			     "form: %s", file, st_strerror(rc));
		goto out;
	}
	if ((rc = st_policy_notice(&p, &o->notice, err)) < 0) {
		st_error_prefix(err, "policy %s: notice: ", file);
		goto out;
	}
	if (o->canon.oom || o->notice.oom) {
		rc = st_fail(err, ST_E_NOMEM, "policy %s: out of memory", file);
		goto out;
	}
	crypto_hash_sha256(o->notice_hash, o->notice.p, o->notice.len);
out:
	st_policy_fini(&p);
	st_buf_fini(&b);
	return rc;
}

/* Copies an operator's file into the data folder with mode. */
static int copy_in(const char *from, const char *to, mode_t mode,
		   bool secret, struct st_error *err)
{
	if (secret) {
		struct stat st;
		if (stat(from, &st) < 0)
			return st_fail(err, st_errno(errno), "%s: %s", from,
				       strerror(errno));
		if (st.st_mode & 077)
			return st_fail(err, ST_E_KEY_MODE, "key file %s is mode "
				       "%04o; run chmod 600 %s", from,
				       (unsigned)(st.st_mode & 07777), from);
	}
	struct st_buf b;
	st_buf_init(&b, secret);
	int rc = st_file_read(from, ST_TLS_PEM_MAX, &b, err);
	if (rc == 0) {
		struct stat st;
		if (lstat(to, &st) == 0)
			rc = st_fail(err, ST_E_EXISTS, "%s: exists", to);
		else
			rc = st_file_write_atomic(to, b.p, b.len, mode, err);
	}
	st_buf_fini(&b);
	return rc;
}

static int gt_fail(struct st_error *err, int g, const char *path,
		   const char *what)
{
	return st_fail(err, ST_E_TLS_BASE + g, "%s: %s (%s)", path, what,
		       gnutls_strerror(g));
}

/* The operator's own material must hang together before it is copied: the
 * key is the certificate's, and the certificate verifies against the CA
 * agents will pin. */
static int check_own_tls(const char *cert, const char *key, const char *ca,
			 struct st_error *err)
{
	struct st_buf cb, kb, ab;
	st_buf_init(&cb, false);
	st_buf_init(&kb, true);
	st_buf_init(&ab, false);
	gnutls_x509_crt_t c = NULL, a = NULL;
	gnutls_x509_privkey_t k = NULL;
	struct stat st;
	int rc;
	if (stat(key, &st) < 0) {
		rc = st_fail(err, st_errno(errno), "--tls-key %s: %s", key,
			     strerror(errno));
		goto out;
	}
	if (st.st_mode & 077) {
		rc = st_fail(err, ST_E_KEY_MODE, "key file %s is mode %04o; run "
			     "chmod 600 %s", key,
			     (unsigned)(st.st_mode & 07777), key);
		goto out;
	}
	if ((rc = st_file_read(cert, ST_TLS_PEM_MAX, &cb, err)) < 0 ||
	    (rc = st_file_read(key, ST_TLS_PEM_MAX, &kb, err)) < 0 ||
	    (rc = st_file_read(ca, ST_TLS_PEM_MAX, &ab, err)) < 0)
		goto out;
	gnutls_datum_t cd = {cb.p, (unsigned)cb.len};
	gnutls_datum_t kd = {kb.p, (unsigned)kb.len};
	gnutls_datum_t ad = {ab.p, (unsigned)ab.len};
	int g;
	if ((g = gnutls_x509_crt_init(&c)) < 0 ||
	    (g = gnutls_x509_crt_import(c, &cd, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = gt_fail(err, g, cert, "not a PEM certificate");
		goto out;
	}
	if ((g = gnutls_x509_crt_init(&a)) < 0 ||
	    (g = gnutls_x509_crt_import(a, &ad, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = gt_fail(err, g, ca, "not a PEM certificate");
		goto out;
	}
	if ((g = gnutls_x509_privkey_init(&k)) < 0 ||
	    (g = gnutls_x509_privkey_import2(k, &kd, GNUTLS_X509_FMT_PEM, NULL,
					     GNUTLS_PKCS_PLAIN)) < 0) {
		rc = gt_fail(err, g, key, "not an unencrypted PEM private key");
		goto out;
	}
	uint8_t id1[64], id2[64];
	size_t l1 = sizeof id1, l2 = sizeof id2;
	if (gnutls_x509_crt_get_key_id(c, GNUTLS_KEYID_USE_SHA256, id1, &l1) <
		    0 ||
	    gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA256, id2,
					   &l2) < 0 ||
	    l1 != l2 || memcmp(id1, id2, l1) != 0) {
		rc = st_fail(err, ST_E_PIN, "--tls-key %s is not the key of "
			     "--tls-cert %s; give the pair that belongs "
			     "together", key, cert);
		goto out;
	}
	unsigned status = 0;
	g = gnutls_x509_crt_verify(c, &a, 1, 0, &status);
	if (g < 0 || status) {
		rc = st_fail(err, ST_E_PIN, "--tls-cert %s does not verify "
			     "against --tls-ca %s (status 0x%x); give the CA "
			     "that signed it: agents pin that CA", cert, ca,
			     status);
		goto out;
	}
	rc = 0;
out:
	if (c)
		gnutls_x509_crt_deinit(c);
	if (a)
		gnutls_x509_crt_deinit(a);
	if (k)
		gnutls_x509_privkey_deinit(k);
	st_buf_fini(&cb);
	st_buf_fini(&kb);
	st_buf_fini(&ab);
	return rc;
}

/* Host of an ADDR:PORT listen address when it is a specific IP literal
 * (not a wildcard), so the certificate covers the address agents use. */
static bool listen_ip(const char *listen, char *out, size_t cap)
{
	const char *start = listen, *end;
	if (listen[0] == '[') {
		start = listen + 1;
		end = strchr(start, ']');
	} else {
		end = strrchr(listen, ':');
	}
	if (!end || (size_t)(end - start) >= cap)
		return false;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = 0;
	uint8_t a[16];
	if (inet_pton(AF_INET, out, a) == 1)
		return strcmp(out, "0.0.0.0") != 0;
	if (inet_pton(AF_INET6, out, a) == 1) {
		static const uint8_t any[16];
		return memcmp(a, any, 16) != 0;
	}
	return false;
}

static int make_tls(const struct st_init_opts *o,
		    const struct st_server_config *c, struct st_error *err)
{
	if (o->tls_cert) {
		int rc = check_own_tls(o->tls_cert, o->tls_key, o->tls_ca, err);
		if (rc == 0)
			rc = copy_in(o->tls_ca, c->tls_ca, 0644, false, err);
		if (rc == 0)
			rc = copy_in(o->tls_cert, c->tls_cert, 0644, false, err);
		if (rc == 0)
			rc = copy_in(o->tls_key, c->tls_key, 0600, true, err);
		return rc;
	}
	const char *hosts[ST_TLS_HOSTS_MAX];
	size_t n = 0;
	char ip[64];
	for (size_t i = 0; i < N_BUILTIN; i++)
		hosts[n++] = builtin_hosts[i];
	bool with_ip = listen_ip(c->listen, ip, sizeof ip);
	for (size_t i = 0; i < o->n_hosts + with_ip; i++) {
		const char *h = i < o->n_hosts ? o->hosts[i] : ip;
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= !strcasecmp(hosts[j], h);
		if (dup)
			continue;
		if (n == ST_TLS_HOSTS_MAX)
			return st_fail(err, ST_E_CAP, "--host: more than %zu "
				       "names; a certificate holds at most %d "
				       "(localhost, 127.0.0.1 and ::1 included)",
				       (size_t)ST_TLS_HOSTS_MAX - N_BUILTIN,
				       ST_TLS_HOSTS_MAX);
		hosts[n++] = h;
	}
	char ca_key[ST_CFG_PATH_MAX], cn[INIT_CA_CN_MAX];
	int rc = sub(ca_key, c->dir, "tls/ca.key", err);
	if (rc < 0)
		return rc;
	char hn[64] = "";
	if (gethostname(hn, sizeof hn - 1) < 0)
		hn[0] = 0;
	snprintf(cn, sizeof cn, "sealtrace CA %.40s", hn[0] ? hn : "server");
	if ((rc = st_tls_make_ca(c->tls_ca, ca_key, cn, err)) < 0)
		return rc;
	return st_tls_make_server(c->tls_ca, ca_key, hosts, n,
				  ST_TLS_SERVER_DAYS_DEFAULT, c->tls_cert,
				  c->tls_key, err);
}

static int make_sign_pair(const char *sk_path, const char *pk_path,
			  const char *sk_label, const char *pk_label,
			  struct st_error *err)
{
	uint8_t pk[ST_SIGN_PK_LEN];
	uint8_t *sk = st_secret_new(ST_SIGN_SK_LEN);
	if (!sk)
		return st_fail(err, ST_E_NOMEM, "%s: out of locked memory",
			       sk_path);
	int rc = st_sign_keypair(pk, sk);
	if (rc < 0)
		rc = st_fail(err, rc, "%s: cannot make a key pair", sk_path);
	if (rc == 0)
		rc = st_key_write(sk_path, sk_label, sk, ST_SIGN_SK_LEN, true,
				  err);
	st_secret_free(sk);
	if (rc == 0)
		rc = st_key_write(pk_path, pk_label, pk, sizeof pk, false, err);
	return rc;
}

/* The store: policy made current and the first admin token, in one
 * transaction. */
static int add_officer(struct st_store *s, const char *name, size_t i,
		       const uint8_t master_pk[32], int64_t now,
		       char token[ST_TOKEN_TEXT_MAX], struct st_error *err)
{
	struct st_person p;
	memset(&p, 0, sizeof p);
	randombytes_buf(p.id, sizeof p.id);
	snprintf(p.name, sizeof p.name, "%s", name);
	p.created_s = now;
	int rc = st_person_keys_new(master_pk, p.public_key, p.sealed_secret,
				    err);
	if (rc < 0)
		return rc;
	if ((rc = st_store_person_add(s, &p, err)) < 0) {
		if (rc == ST_E_EXISTS)
			st_fail(err, rc, "--officer \"%.64s\": named twice",
				name);
		return rc;
	}
	struct st_token t = {.created_s = now, .expires_s = 0};
	randombytes_buf(t.id, sizeof t.id);
	snprintf(t.name, sizeof t.name, "officer-%zu", i + 1);
	snprintf(t.role, sizeof t.role, "officer");
	t.has_person = true;
	memcpy(t.person_id, p.id, 16);
	if ((rc = st_admin_token_new(token, t.hash)) < 0)
		return st_fail(err, rc, "officer token: cannot make one");
	return st_store_token_add(s, &t, err);
}

static int fill_store(const struct st_server_config *c,
		      const struct policy_out *po, char token[ST_TOKEN_TEXT_MAX],
		      const struct st_init_opts *o,
		      const uint8_t master_pk[32], struct st_init_tokens *ot,
		      struct st_error *err)
{
	int64_t now = (int64_t)(st_wall_ns(&st_clock_system) / 1000000000u);
	struct st_store_cfg scfg = {.path = c->db};
	struct st_store *s = NULL;
	int rc = st_store_open(&st_store_sqlite, &scfg, &s, err);
	if (rc < 0) {
		st_error_prefix(err, "store %s: ", c->db);
		return rc;
	}
	struct st_store_policy sp = {
		.json = (const char *)po->canon.p,
		.json_len = po->canon.len,
		.notice = po->notice.p,
		.notice_len = po->notice.len,
		.created_s = now,
	};
	memcpy(sp.hash, po->hash, 32);
	memcpy(sp.notice_hash, po->notice_hash, 32);
	struct st_token t = {.created_s = now, .expires_s = 0};
	randombytes_buf(t.id, sizeof t.id);
	snprintf(t.name, sizeof t.name, "admin");
	snprintf(t.role, sizeof t.role, "admin");
	if ((rc = st_admin_token_new(token, t.hash)) < 0) {
		rc = st_fail(err, rc, "admin token: cannot make one");
		goto out;
	}
	if ((rc = st_store_begin(s, err)) < 0 ||
	    (rc = st_store_policy_put(s, &sp, err)) < 0 ||
	    (rc = st_store_policy_set_current(s, sp.hash, now, err)) < 0 ||
	    (rc = st_store_token_add(s, &t, err)) < 0)
		goto undo;
	for (size_t i = 0; i < o->n_officers; i++)
		if ((rc = add_officer(s, o->officers[i], i, master_pk, now,
				      ot->officer[i], err)) < 0)
			goto undo;
	rc = st_store_commit(s, err);
undo:
	if (rc < 0) {
		if (st_store_in_tx(s))
			st_store_rollback(s, NULL);
		st_error_prefix(err, "store %s: ", c->db);
	}
out:
	st_store_close(s);
	if (rc < 0)
		sodium_memzero(token, ST_TOKEN_TEXT_MAX);
	return rc;
}

int st_server_init(const struct st_init_opts *o,
		   char admin_token[ST_TOKEN_TEXT_MAX],
		   struct st_init_tokens *officer_tokens, struct st_error *err)
{
	if (!o || !admin_token || !officer_tokens || !o->dir ||
	    !o->policy_file || !o->master_public)
		return st_fail(err, ST_E_INVAL, "init: the data folder, "
			       "--policy FILE and --master-public FILE are "
			       "needed");
	if (o->n_officers < ST_INIT_OFFICERS_MIN ||
	    o->n_officers > ST_INIT_OFFICERS_MAX || !o->officers)
		return st_fail(err, ST_E_INVAL,
			       "init: name %d to %d privacy officers, each with "
			       "--officer NAME: approving a purpose takes two",
			       ST_INIT_OFFICERS_MIN, ST_INIT_OFFICERS_MAX);
	for (size_t i = 0; i < o->n_officers; i++) {
		const char *n = o->officers[i];
		size_t l = n ? strlen(n) : 0;
		bool ok = l >= 1 && l <= ST_STORE_NAME_MAX;
		for (size_t k = 0; ok && k < l; k++)
			ok = (unsigned char)n[k] >= 0x20 && n[k] != 0x7f;
		for (size_t k = 0; ok && k < i; k++)
			ok = strcmp(o->officers[k], n) != 0;
		if (!ok)
			return st_fail(err, ST_E_INVAL,
				       "init: --officer \"%.64s\": empty, too "
				       "long, with control characters, or "
				       "named twice; name distinct people",
				       n ? n : "");
	}
	int n_tls = !!o->tls_cert + !!o->tls_key + !!o->tls_ca;
	if (n_tls != 0 && n_tls != 3)
		return st_fail(err, ST_E_INVAL, "init: give all three of "
			       "--tls-cert, --tls-key and --tls-ca, or none (init "
			       "then makes its own CA)");
	if (o->n_hosts && !o->hosts)
		return st_fail(err, ST_E_INVAL, "init: host list missing");
	if (st_crypto_init() < 0)
		return st_fail(err, ST_E_CRYPTO_INIT, "init: libsodium cannot "
			       "initialise");
	sodium_memzero(admin_token, ST_TOKEN_TEXT_MAX);

	/* Everything that can be checked without writing, first. */
	struct st_server_config c;
	int rc = st_server_config_defaults(&c, o->dir, err);
	if (rc < 0)
		return rc;
	if (o->listen) {
		if (strlen(o->listen) >= sizeof c.listen)
			return st_fail(err, ST_E_INVAL, "--listen: too long");
		snprintf(c.listen, sizeof c.listen, "%s", o->listen);
	}
	uint8_t master_pk[ST_BOX_PK_LEN];
	if ((rc = read_master_public(o->master_public, master_pk, err)) < 0)
		return rc;
	struct policy_out po;
	st_buf_init(&po.canon, false);
	st_buf_init(&po.notice, false);
	if ((rc = load_policy(o->policy_file, &po, err)) < 0)
		goto out_policy;

	struct undo u = {0};
	char tok[ST_TOKEN_TEXT_MAX] = "";
	if ((rc = take_dir(c.dir, &u, err)) < 0)
		goto fail;
	if ((rc = st_server_config_save(&c, err)) < 0)
		goto fail;
	/* A loaded config proves the file reads back (listen checked too). */
	struct st_server_config back;
	if ((rc = st_server_config_load(c.dir, &back, err)) < 0)
		goto fail;
	if ((rc = mkdir_private(c.dir, "tls", err)) < 0 ||
	    (rc = mkdir_private(c.dir, "keys", err)) < 0 ||
	    (rc = mkdir_private(c.dir, "tmp", err)) < 0)
		goto fail;
	if ((rc = make_tls(o, &c, err)) < 0)
		goto fail;
	if ((rc = make_sign_pair(c.lease_key, c.lease_pub, ST_KEY_LEASE_SECRET,
				 ST_KEY_LEASE_PUBLIC, err)) < 0 ||
	    (rc = make_sign_pair(c.audit_key, c.audit_pub, ST_KEY_AUDIT_SECRET,
				 ST_KEY_AUDIT_PUBLIC, err)) < 0)
		goto fail;
	if ((rc = st_key_write(c.master_public, ST_KEY_MASTER_PUBLIC, master_pk,
			       sizeof master_pk, false, err)) < 0)
		goto fail;
	if ((rc = fill_store(&c, &po, tok, o, master_pk, officer_tokens,
			     err)) < 0)
		goto fail;
	if ((rc = st_server_config_check_no_master_secret(&c, err)) < 0)
		goto fail;
	memcpy(admin_token, tok, ST_TOKEN_TEXT_MAX);
	sodium_memzero(tok, sizeof tok);
	goto out_policy;
fail:
	sodium_memzero(tok, sizeof tok);
	sodium_memzero(officer_tokens, sizeof *officer_tokens);
	undo_all(&u);
out_policy:
	st_buf_fini(&po.canon);
	st_buf_fini(&po.notice);
	return rc;
}
