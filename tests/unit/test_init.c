/* test_init.c - `sealtrace init`: the folder and its modes, the store
 * holding the checked policy as current and only the admin token's hash,
 * refusals (a non-empty folder, a folder with a store, a master secret, a
 * bad policy, mismatched operator TLS files), and nothing left behind
 * after a failure. */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/token.h"
#include "server/config.h"
#include "server/init.h"
#include "server/store.h"
#include "server/tls.h"

static char root[256], dir[300], policy[512], mpub[300], msec[300];

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

static int setup(void **s)
{
	(void)s;
	strcpy(root, "/tmp/st-init-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(dir, sizeof dir, "%s/data", root);
	const char *src = getenv("ST_SOURCE_ROOT");
	snprintf(policy, sizeof policy, "%s/policies/default.json",
		 src ? src : ".");
	snprintf(mpub, sizeof mpub, "%s/master.pub", root);
	snprintf(msec, sizeof msec, "%s/master.key", root);
	uint8_t pk[32], *sk = st_secret_new(32);
	if (!sk || st_box_keypair(pk, sk) < 0 ||
	    st_key_write(msec, ST_KEY_MASTER_SECRET, sk, 32, true, NULL) < 0 ||
	    st_key_write(mpub, ST_KEY_MASTER_PUBLIC, pk, 32, false, NULL) < 0)
		return -1;
	st_secret_free(sk);
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const officers[] = {"olga@example.com",
				       "omar@example.com"};
static struct st_init_tokens officer_toks;

static struct st_init_opts opts(void)
{
	struct st_init_opts o = {.officers = officers, .n_officers = 2,
				 .dir = dir, .policy_file = policy,
				 .master_public = mpub};
	return o;
}

static mode_t mode_of(const char *rel)
{
	char p[600];
	snprintf(p, sizeof p, "%s%s%s", dir, *rel ? "/" : "", rel);
	struct stat st;
	if (lstat(p, &st) < 0)
		fail_msg("%s: %s", p, strerror(errno));
	return st.st_mode & 07777;
}

static size_t entries(const char *d)
{
	DIR *h = opendir(d);
	if (!h)
		return (size_t)-1;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(h)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(h);
	return n;
}

static void makes_the_folder_with_private_modes(void **s)
{
	(void)s;
	struct st_init_opts o = opts();
	const char *extra[] = {"st.example.com"};
	o.hosts = extra;
	o.n_hosts = 1;
	o.listen = "10.9.8.7:9443";
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	mode_t old = umask(0); /* modes are exact whatever the umask */
	int rc = st_server_init(&o, tok, &officer_toks, &e);
	umask(old);
	if (rc < 0)
		fail_msg("init: %s", e.msg);
	assert_int_equal(mode_of(""), 0700);
	assert_int_equal(mode_of("config.json"), 0600);
	assert_int_equal(mode_of("sealtrace.db"), 0600);
	assert_int_equal(mode_of("tls"), 0700);
	assert_int_equal(mode_of("keys"), 0700);
	assert_int_equal(mode_of("tmp"), 0700);
	assert_int_equal(mode_of("tls/ca.key"), 0600);
	assert_int_equal(mode_of("tls/server.key"), 0600);
	assert_int_equal(mode_of("tls/ca.pem"), 0644);
	assert_int_equal(mode_of("tls/server.pem"), 0644);
	assert_int_equal(mode_of("keys/lease.key"), 0600);
	assert_int_equal(mode_of("keys/audit.key"), 0600);
	assert_int_equal(mode_of("keys/lease.pub"), 0644);
	assert_int_equal(mode_of("master.pub"), 0644);
	/* config reads back, with the listen address */
	struct st_server_config c;
	assert_int_equal(st_server_config_load(dir, &c, &e), 0);
	assert_string_equal(c.listen, "10.9.8.7:9443");
	assert_int_equal(st_server_config_check_no_master_secret(&c, &e), 0);
	/* key files carry their labels; the two signing keys differ */
	uint8_t *lk = st_secret_new(64), *ak = st_secret_new(64);
	uint8_t lp[32], ap[32], mp[32], mp0[32];
	assert_int_equal(st_key_read(c.lease_key, ST_KEY_LEASE_SECRET, lk, 64,
				     true, &e), 0);
	assert_int_equal(st_key_read(c.audit_key, ST_KEY_AUDIT_SECRET, ak, 64,
				     true, &e), 0);
	assert_int_equal(st_key_read(c.lease_pub, ST_KEY_LEASE_PUBLIC, lp, 32,
				     false, &e), 0);
	assert_int_equal(st_key_read(c.audit_pub, ST_KEY_AUDIT_PUBLIC, ap, 32,
				     false, &e), 0);
	assert_memory_equal(lk + 32, lp, 32); /* libsodium: sk = seed || pk */
	assert_memory_not_equal(lp, ap, 32);
	assert_int_equal(st_key_read(c.lease_key, ST_KEY_AUDIT_SECRET, ak, 64,
				     true, NULL), ST_E_KEY_FORMAT);
	st_secret_free(lk);
	st_secret_free(ak);
	assert_int_equal(st_key_read(c.master_public, ST_KEY_MASTER_PUBLIC, mp,
				     32, false, &e), 0);
	assert_int_equal(st_key_read(mpub, ST_KEY_MASTER_PUBLIC, mp0, 32, false,
				     &e), 0);
	assert_memory_equal(mp, mp0, 32);
	/* the certificate covers the listen address and --host */
	uint8_t fp[32];
	assert_int_equal(st_tls_cert_der(c.tls_cert, NULL, NULL, fp, &e), 0);
	assert_int_equal(st_tls_cert_der(c.tls_ca, NULL, NULL, fp, &e), 0);
	sodium_memzero(tok, sizeof tok);
}

static void store_holds_the_policy_and_the_token_hash_only(void **s)
{
	(void)s;
	struct st_init_opts o = opts();
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	if (st_server_init(&o, tok, &officer_toks, &e) < 0)
		fail_msg("init: %s", e.msg);
	assert_int_equal(strlen(tok), ST_ADMIN_TOKEN_LEN);
	uint8_t h[32];
	assert_int_equal(st_admin_token_hash(tok, h, &e), 0);
	/* the policy the file holds, canonical, with its notice */
	struct st_buf b, canon, notice;
	st_buf_init(&b, false);
	st_buf_init(&canon, false);
	st_buf_init(&notice, false);
	assert_int_equal(st_file_read(policy, 1 << 20, &b, &e), 0);
	struct st_policy p;
	assert_int_equal(st_policy_parse((const char *)b.p, b.len, &p, NULL, &e),
			 0);
	uint8_t ph[32];
	assert_int_equal(st_policy_hash(&p, ph), 0);
	assert_int_equal(st_policy_canonical(&p, &canon), 0);
	assert_int_equal(st_policy_notice(&p, &notice, &e), 0);
	st_policy_fini(&p);

	char db[600];
	snprintf(db, sizeof db, "%s/sealtrace.db", dir);
	struct st_store_cfg cfg = {.path = db};
	struct st_store *st = NULL;
	if (st_store_open(&st_store_sqlite, &cfg, &st, &e) < 0)
		fail_msg("open: %s", e.msg);
	struct st_store_policy cur;
	if (st_store_policy_get_current(st, &cur, &e) < 0)
		fail_msg("current policy: %s", e.msg);
	assert_memory_equal(cur.hash, ph, 32);
	assert_int_equal(cur.json_len, canon.len);
	assert_memory_equal(cur.json, canon.p, canon.len);
	assert_int_equal(cur.notice_len, notice.len);
	assert_memory_equal(cur.notice, notice.p, notice.len);
	st_store_policy_fini(&cur);
	struct st_token t;
	if (st_store_token_find(st, h, &t, &e) < 0)
		fail_msg("token: %s", e.msg);
	assert_string_equal(t.name, "admin");
	assert_string_equal(t.role, "admin");
	assert_int_equal(t.expires_s, 0);
	assert_false(t.revoked);
	st_store_close(st);
	st_buf_fini(&b);
	st_buf_fini(&canon);
	st_buf_fini(&notice);
	/* the token itself is nowhere in the folder */
	char cmd[900];
	snprintf(cmd, sizeof cmd, "grep -rqF '%s' '%s'", tok, dir);
	assert_int_not_equal(system(cmd), 0);
	sodium_memzero(tok, sizeof tok);
}

static void accepts_an_empty_existing_folder(void **s)
{
	(void)s;
	assert_int_equal(mkdir(dir, 0755), 0);
	struct st_init_opts o = opts();
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	if (st_server_init(&o, tok, &officer_toks, &e) < 0)
		fail_msg("init: %s", e.msg);
	assert_int_equal(mode_of(""), 0700);
}

static void refuses_a_non_empty_folder_and_leaves_it_alone(void **s)
{
	(void)s;
	assert_int_equal(mkdir(dir, 0750), 0);
	char p[600];
	snprintf(p, sizeof p, "%s/notes.txt", dir);
	FILE *f = fopen(p, "w");
	fputs("mine", f);
	fclose(f);
	struct st_init_opts o = opts();
	char tok[ST_TOKEN_TEXT_MAX] = "x";
	struct st_error e = {0};
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_EXISTS, &e,
			  "not empty");
	assert_non_null(strstr(e.msg, "notes.txt"));
	assert_int_equal(entries(dir), 1);
	assert_int_equal(mode_of(""), 0750);
	assert_int_equal(tok[0], 0);
	/* a folder that holds a store is named as such */
	snprintf(p, sizeof p, "%s/sealtrace.db", dir);
	f = fopen(p, "w");
	fclose(f);
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_EXISTS, &e,
			  "store");
	assert_int_equal(entries(dir), 2);
}

static void refuses_a_master_secret(void **s)
{
	(void)s;
	struct st_init_opts o = opts();
	o.master_public = msec;
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_MASTER_SECRET, &e,
			  "export host");
	assert_non_null(strstr(e.msg, msec));
	assert_int_equal(access(dir, F_OK), -1);
	/* and a key file of another kind */
	char other[300];
	snprintf(other, sizeof other, "%s/person.pub", root);
	uint8_t k[32] = {1};
	assert_int_equal(st_key_write(other, ST_KEY_PERSON_PUBLIC, k, 32, false,
				      NULL), 0);
	o.master_public = other;
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_KEY_FORMAT, &e,
			  ST_KEY_MASTER_PUBLIC);
	assert_int_equal(access(dir, F_OK), -1);
}

static void refuses_a_bad_policy_before_writing(void **s)
{
	(void)s;
	char bad[300];
	snprintf(bad, sizeof bad, "%s/bad.json", root);
	FILE *f = fopen(bad, "w");
	fputs("{\"version\": 1, \"readers\": [\"everyone\"]}", f);
	fclose(f);
	struct st_init_opts o = opts();
	o.policy_file = bad;
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_BROAD_GRANT, &e,
			  "policy check");
	assert_int_equal(access(dir, F_OK), -1);
}

/* A failure late in init (the operator's TLS key is not the certificate's)
 * leaves nothing: the folder it made is gone, an empty one it found is
 * empty again with its old mode. */
static void nothing_left_after_a_failure(void **s)
{
	(void)s;
	char a_pem[300], a_key[300], b_pem[300], b_key[300], s_pem[300],
		s_key[300];
	snprintf(a_pem, sizeof a_pem, "%s/a.pem", root);
	snprintf(a_key, sizeof a_key, "%s/a.key", root);
	snprintf(b_pem, sizeof b_pem, "%s/b.pem", root);
	snprintf(b_key, sizeof b_key, "%s/b.key", root);
	snprintf(s_pem, sizeof s_pem, "%s/s.pem", root);
	snprintf(s_key, sizeof s_key, "%s/s.key", root);
	struct st_error e = {0};
	const char *h[] = {"localhost"};
	assert_int_equal(st_tls_make_ca(a_pem, a_key, "a", &e), 0);
	assert_int_equal(st_tls_make_ca(b_pem, b_key, "b", &e), 0);
	assert_int_equal(st_tls_make_server(a_pem, a_key, h, 1, 0, s_pem, s_key,
					    &e), 0);
	struct st_init_opts o = opts();
	o.tls_cert = s_pem;
	o.tls_key = b_key; /* not the certificate's key */
	o.tls_ca = a_pem;
	char tok[ST_TOKEN_TEXT_MAX];
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_PIN, &e,
			  "not the key");
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(tok[0], 0);
	/* a certificate from another CA */
	o.tls_key = s_key;
	o.tls_ca = b_pem;
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_PIN, &e,
			  "does not verify");
	assert_int_equal(entries(dir), 0);
	assert_int_equal(mode_of(""), 0755);
	assert_int_equal(rmdir(dir), 0);
	/* the right three: copied, and no CA key kept */
	o.tls_ca = a_pem;
	if (st_server_init(&o, tok, &officer_toks, &e) < 0)
		fail_msg("init with own TLS: %s", e.msg);
	assert_int_equal(mode_of("tls/server.key"), 0600);
	char p[600];
	snprintf(p, sizeof p, "%s/tls/ca.key", dir);
	assert_int_equal(access(p, F_OK), -1);
}

static void refuses_half_given_tls_and_loose_operator_key(void **s)
{
	(void)s;
	struct st_init_opts o = opts();
	o.tls_cert = "/x.pem";
	char tok[ST_TOKEN_TEXT_MAX];
	struct st_error e = {0};
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_INVAL, &e,
			  "all three");
	char a_pem[300], a_key[300], s_pem[300], s_key[300];
	snprintf(a_pem, sizeof a_pem, "%s/a.pem", root);
	snprintf(a_key, sizeof a_key, "%s/a.key", root);
	snprintf(s_pem, sizeof s_pem, "%s/s.pem", root);
	snprintf(s_key, sizeof s_key, "%s/s.key", root);
	const char *h[] = {"localhost"};
	assert_int_equal(st_tls_make_ca(a_pem, a_key, "a", &e), 0);
	assert_int_equal(st_tls_make_server(a_pem, a_key, h, 1, 0, s_pem, s_key,
					    &e), 0);
	chmod(s_key, 0644);
	o.tls_cert = s_pem;
	o.tls_key = s_key;
	o.tls_ca = a_pem;
	assert_fails_with(st_server_init(&o, tok, &officer_toks, &e), ST_E_KEY_MODE, &e,
			  "chmod 600");
	assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(makes_the_folder_with_private_modes),
		T(store_holds_the_policy_and_the_token_hash_only),
		T(accepts_an_empty_existing_folder),
		T(refuses_a_non_empty_folder_and_leaves_it_alone),
		T(refuses_a_master_secret),
		T(refuses_a_bad_policy_before_writing),
		T(nothing_left_after_a_failure),
		T(refuses_half_given_tls_and_loose_operator_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
