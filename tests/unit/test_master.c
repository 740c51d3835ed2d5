/* test_master.c - the master secret's custody (src/export/master.h) and its
 * rotation (src/export/rotate.h): a plain 0600 file, the wrapped file's
 * form and its refusals, a real PKCS#11 token (SoftHSM2 in a temporary
 * folder: wrap, unwrap, wrong PIN, wrong token, altered file, another
 * token's key, an extractable key refused), opening a person's secret, the
 * wipe on close, and rotation against a fake /v1/keys server. */
#include "helpers.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "core/keys.h"
#include "export/master.h"
#include "export/rotate.h"

#define MODULE_DEFAULT "/usr/lib/softhsm/libsofthsm2.so"

static char dir[256];
static bool hsm;        /* a SoftHSM2 token "T" (and "T2") is ready */
static const char *module;

/* SoftHSM2 keeps some allocations for the life of the process: they are
 * not ours to free. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\nleak:libcrypto.so\n";
}

/* ---- the wipe seam: every sodium_free is seen before it frees ---- */

#define FREED_MAX 64
static void *freed[FREED_MAX];
static size_t n_freed;

void sodium_free(void *p)
{
	static void (*real)(void *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "sodium_free");
	if (p && n_freed < FREED_MAX)
		freed[n_freed++] = p;
	real(p);
}

static bool was_freed(const void *p)
{
	for (size_t i = 0; i < n_freed; i++)
		if (freed[i] == p)
			return true;
	return false;
}

/* ---- fixtures ---- */

static void path(char *out, const char *name)
{
	snprintf(out, 512, "%s/%s", dir, name);
}

static void put_file(const char *p, const void *data, size_t len, mode_t mode)
{
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	fchmod(fd, mode);
	close(fd);
}

static size_t get_file(const char *p, uint8_t *out, size_t cap)
{
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, out, cap);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
}

static int group_setup(void **s)
{
	(void)s;
	unsetenv("SEALTRACE_PKCS11_MODULE");
	unsetenv("SEALTRACE_PKCS11_PIN");
	if (sodium_init() < 0)
		return -1;
	strcpy(dir, "/tmp/st-master-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	module = getenv("ST_TEST_PKCS11_MODULE");
	if (!module)
		module = MODULE_DEFAULT;
	char conf[512], cmd[1400];
	path(conf, "softhsm2.conf");
	char text[700];
	int n = snprintf(text, sizeof text, "directories.tokendir = %s/tokens\n"
			 "objectstore.backend = file\nlog.level = ERROR\n", dir);
	put_file(conf, text, (size_t)n, 0600);
	snprintf(cmd, sizeof cmd, "%s/tokens", dir);
	mkdir(cmd, 0700);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(cmd, sizeof cmd,
		 "softhsm2-util --init-token --free --label T --pin 1234 "
		 "--so-pin 5678 >/dev/null 2>&1 && "
		 "softhsm2-util --init-token --free --label T2 --pin 1234 "
		 "--so-pin 5678 >/dev/null 2>&1");
	hsm = access(module, R_OK) == 0 && system(cmd) == 0;
	if (!hsm)
		fprintf(stderr, "# no SoftHSM2 token: the token tests skip\n");
	char p[512];
	path(p, "pin");
	put_file(p, "1234\n", 5, 0600);
	path(p, "badpin");
	put_file(p, "0000\n", 5, 0600);
	return 0;
}

static int group_teardown(void **s)
{
	(void)s;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* A master pair as plain files in dir/NAME/: master.key and master.pub. */
static void plain_master(const char *name, uint8_t pk[32], uint8_t sk[32])
{
	char d[512], p[600];
	path(d, name);
	mkdir(d, 0700);
	uint8_t *k = st_secret_new(32);
	assert_int_equal(st_box_keypair(pk, k), 0);
	memcpy(sk, k, 32);
	snprintf(p, sizeof p, "%s/master.key", d);
	unlink(p);
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_SECRET, k, 32, true, NULL), 0);
	snprintf(p, sizeof p, "%s/master.pub", d);
	unlink(p);
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_PUBLIC, pk, 32, false, NULL), 0);
	st_secret_free(k);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- plain key files ---- */

static void plain_file_loads_and_matches_its_public_key(void **s)
{
	(void)s;
	uint8_t pk[32], sk[32];
	plain_master("plain", pk, sk);
	char p[512];
	path(p, "plain/master.key");
	struct st_master_src src = {.key_file = p};
	struct st_master m;
	struct st_error e = {0};
	assert_int_equal(st_master_open(&src, &m, &e), 0);
	assert_memory_equal(m.pk, pk, 32);
	assert_memory_equal(m.sk, sk, 32);
	assert_non_null(strstr(m.what, "plain/master.key"));
	st_master_close(&m);
}

static void plain_file_refused_at_0644_with_chmod_advice(void **s)
{
	(void)s;
	uint8_t pk[32], sk[32];
	plain_master("loose", pk, sk);
	char p[512];
	path(p, "loose/master.key");
	chmod(p, 0644);
	struct st_master_src src = {.key_file = p};
	struct st_master m;
	struct st_error e = {0};
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_KEY_MODE, &e,
			  "chmod 600");
	assert_null(m.sk);
	assert_true(all_zero(m.pk, 32));
}

static void plain_file_beside_another_public_key_refused(void **s)
{
	(void)s;
	uint8_t pk[32], sk[32], pk2[32], sk2[32];
	plain_master("mixA", pk, sk);
	plain_master("mixB", pk2, sk2);
	char a[512], b[512];
	path(a, "mixA/master.pub");
	path(b, "mixB/master.pub");
	assert_int_equal(rename(b, a), 0); /* B's public key beside A's secret */
	path(a, "mixA/master.key");
	struct st_master_src src = {.key_file = a};
	struct st_master m;
	struct st_error e = {0};
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_NOT_FOR_KEY, &e,
			  "different keygens");
	assert_null(m.sk);
}

static void close_frees_the_secret_through_sodium_free(void **s)
{
	(void)s;
	uint8_t pk[32], sk[32];
	plain_master("wipe", pk, sk);
	char p[512];
	path(p, "wipe/master.key");
	struct st_master_src src = {.key_file = p};
	struct st_master m;
	assert_int_equal(st_master_open(&src, &m, NULL), 0);
	void *secret = m.sk;
	n_freed = 0;
	st_master_close(&m);
	/* sodium_free zeroes the whole guarded region before unmapping it */
	assert_true(was_freed(secret));
	assert_null(m.sk);
	assert_true(all_zero(&m, sizeof m));
	st_master_close(&m); /* twice is fine */
	st_master_close(NULL);
}

/* ---- opening a person's secret ---- */

struct person {
	uint8_t pk[32], sk[32], sealed[80];
};

static void person_for(struct person *p, const uint8_t master_pk[32])
{
	crypto_box_keypair(p->pk, p->sk);
	assert_int_equal(crypto_box_seal(p->sealed, p->sk, 32, master_pk), 0);
}

static void open_master(const char *name, struct st_master *m, uint8_t pk[32])
{
	uint8_t sk[32];
	plain_master(name, pk, sk);
	char p[512], k[600];
	path(p, name);
	snprintf(k, sizeof k, "%s/master.key", p);
	struct st_master_src src = {.key_file = k};
	assert_int_equal(st_master_open(&src, m, NULL), 0);
}

static void open_person_gives_the_secret_of_the_public_key(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32];
	open_master("op", &m, mpk);
	struct person a;
	person_for(&a, mpk);
	uint8_t *out = st_secret_new(32);
	struct st_error e = {0};
	assert_int_equal(st_master_open_person(&m, a.sealed, a.pk, out, &e), 0);
	assert_memory_equal(out, a.sk, 32);
	st_secret_free(out);
	st_master_close(&m);
}

static void open_person_erased_when_no_sealed_secret(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32];
	open_master("oe", &m, mpk);
	uint8_t pk[32] = {1}, *out = st_secret_new(32);
	memset(out, 0xaa, 32);
	struct st_error e = {0};
	assert_fails_with(st_master_open_person(&m, NULL, pk, out, &e),
			  ST_E_ERASED, &e, "erased");
	assert_true(all_zero(out, 32));
	st_secret_free(out);
	st_master_close(&m);
}

static void open_person_sealed_to_another_master_is_decrypt(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32], other_pk[32], other_sk[32];
	open_master("ow", &m, mpk);
	crypto_box_keypair(other_pk, other_sk);
	struct person a;
	person_for(&a, other_pk);
	uint8_t *out = st_secret_new(32);
	struct st_error e = {0};
	assert_fails_with(st_master_open_person(&m, a.sealed, a.pk, out, &e),
			  ST_E_DECRYPT, &e, "another master");
	assert_true(all_zero(out, 32));
	st_secret_free(out);
	st_master_close(&m);
}

static void open_person_not_the_public_keys_secret_is_refused(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32];
	open_master("ok", &m, mpk);
	struct person a, b;
	person_for(&a, mpk);
	person_for(&b, mpk);
	uint8_t *out = st_secret_new(32);
	struct st_error e = {0};
	/* a's sealed secret filed under b's public key */
	assert_fails_with(st_master_open_person(&m, a.sealed, b.pk, out, &e),
			  ST_E_NOT_FOR_KEY, &e, "not the secret");
	assert_true(all_zero(out, 32));
	st_secret_free(out);
	st_master_close(&m);
}

static void open_person_rejects_every_corrupted_byte(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32];
	open_master("oc", &m, mpk);
	struct person a;
	person_for(&a, mpk);
	uint8_t *out = st_secret_new(32);
	for (size_t i = 0; i < 80; i++) {
		uint8_t bad[80];
		memcpy(bad, a.sealed, 80);
		bad[i] ^= 0x01;
		struct st_error e = {0};
		int rc = st_master_open_person(&m, bad, a.pk, out, &e);
		/* flipping the ephemeral key's top bit may leave the same
		 * point: then it opens to the same secret, or fails */
		if (rc == 0)
			assert_memory_equal(out, a.sk, 32);
		else
			assert_int_equal(rc, ST_E_DECRYPT);
	}
	struct st_master closed = {0};
	assert_int_equal(st_master_open_person(&closed, a.sealed, a.pk, out, NULL),
			 ST_E_INVAL);
	st_secret_free(out);
	st_master_close(&m);
}

/* ---- the wrapped file's form ---- */

static void sample_wrapped(struct st_master_wrapped *w)
{
	memset(w, 0, sizeof *w);
	strcpy(w->token, "T");
	strcpy(w->key, "sealtrace-master-wrap");
	for (int i = 0; i < 32; i++)
		w->public_key[i] = (uint8_t)i;
	for (int i = 0; i < 12; i++)
		w->iv[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 48; i++)
		w->sealed[i] = (uint8_t)(0x50 + i);
}

static size_t sample_text(char *out, size_t cap)
{
	struct st_master_wrapped w;
	sample_wrapped(&w);
	struct st_buf b;
	st_buf_init(&b, false);
	assert_int_equal(st_master_wrapped_encode(&w, &b, NULL), 0);
	assert_true(b.len < cap);
	memcpy(out, b.p, b.len);
	out[b.len] = 0;
	size_t n = b.len;
	st_buf_fini(&b);
	return n;
}

static void wrapped_form_round_trips(void **s)
{
	(void)s;
	char text[1024];
	size_t n = sample_text(text, sizeof text);
	assert_non_null(strstr(text, "sealtrace-master-wrapped v1\ntoken: T\n"
				     "key: sealtrace-master-wrap\n"
				     "mechanism: CKM_AES_GCM\npublic: 0001"));
	struct st_master_wrapped w, want;
	sample_wrapped(&want);
	struct st_error e = {0};
	assert_int_equal(st_master_wrapped_parse((uint8_t *)text, n, &w, &e), 0);
	assert_memory_equal(&w, &want, sizeof w);
	/* the additional data is exactly the text before "sealed: " */
	struct st_buf aad;
	st_buf_init(&aad, false);
	assert_int_equal(st_master_wrapped_aad(&w, &aad, NULL), 0);
	assert_int_equal(aad.len, (size_t)(strstr(text, "sealed: ") - text));
	assert_memory_equal(aad.p, text, aad.len);
	st_buf_fini(&aad);
}

static void wrapped_form_rejects_every_truncation(void **s)
{
	(void)s;
	char text[1024];
	size_t n = sample_text(text, sizeof text);
	for (size_t l = 0; l < n; l++) {
		struct st_master_wrapped w;
		struct st_error e = {0};
		assert_int_equal(st_master_wrapped_parse((uint8_t *)text, l, &w, &e),
				 ST_E_TRUNCATED);
		assert_true(all_zero(&w, sizeof w));
	}
}

/* Replaces the first occurrence of from by to in the sample, parses. */
static int parse_edited(const char *from, const char *to, struct st_error *e)
{
	char text[1024], out[2048];
	sample_text(text, sizeof text);
	char *at = strstr(text, from);
	assert_non_null(at);
	int n = snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to,
			 at + strlen(from));
	struct st_master_wrapped w;
	return st_master_wrapped_parse((uint8_t *)out, (size_t)n, &w, e);
}

static void wrapped_form_rejects_malformed_files(void **s)
{
	(void)s;
	struct st_error e = {0};
	assert_fails_with(parse_edited("sealtrace-master-wrapped", "sealtrace-key", &e),
			  ST_E_BAD_MAGIC, &e, "not a wrapped master file");
	assert_fails_with(parse_edited("wrapped v1", "wrapped v2", &e),
			  ST_E_VERSION, &e, "v1");
	assert_fails_with(parse_edited("wrapped v1", "wrapped v10", &e),
			  ST_E_VERSION, &e, "v1");
	assert_fails_with(parse_edited("iv: a0a1", "iv: a1", &e),
			  ST_E_KEY_FORMAT, &e, "iv must be 24");
	assert_fails_with(parse_edited("iv: a0a1", "iv: a0a1a2", &e),
			  ST_E_KEY_FORMAT, &e, "iv must be 24");
	assert_fails_with(parse_edited("public: 0001", "public: 01", &e),
			  ST_E_KEY_FORMAT, &e, "public must be 64");
	assert_fails_with(parse_edited("sealed: 5051", "sealed: 51", &e),
			  ST_E_KEY_FORMAT, &e, "sealed must be 96");
	assert_fails_with(parse_edited("sealed: 5051", "sealed: 5051aa", &e),
			  ST_E_KEY_FORMAT, &e, "sealed must be 96");
	assert_fails_with(parse_edited("iv: a0a1", "iv: A0A1", &e),
			  ST_E_KEY_FORMAT, &e, "lower-case");
	assert_fails_with(parse_edited("token: T\n",
				       "token: 0123456789012345678901234567890123\n",
				       &e),
			  ST_E_KEY_FORMAT, &e, "token label");
	assert_fails_with(parse_edited("key: sealtrace-master-wrap\n", "key: \n", &e),
			  ST_E_KEY_FORMAT, &e, "key label");
	assert_fails_with(parse_edited("token: T\n", "token: T \n", &e),
			  ST_E_KEY_FORMAT, &e, "token label");
	assert_fails_with(parse_edited("CKM_AES_GCM", "CKM_AES_CBC", &e),
			  ST_E_KEY_FORMAT, &e, "mechanism");
	assert_fails_with(parse_edited("token: T\nkey: sealtrace-master-wrap\n",
				       "key: sealtrace-master-wrap\ntoken: T\n", &e),
			  ST_E_KEY_FORMAT, &e, "line 2 must be 'token");
	/* trailing bytes after the last line */
	char text[1024];
	size_t n = sample_text(text, sizeof text);
	memcpy(text + n, "x\n", 3);
	struct st_master_wrapped w;
	assert_fails_with(st_master_wrapped_parse((uint8_t *)text, n + 2, &w, &e),
			  ST_E_KEY_FORMAT, &e, "after its last line");
	uint8_t big[ST_MASTER_WRAPPED_MAX + 1];
	memset(big, 'a', sizeof big);
	assert_fails_with(st_master_wrapped_parse(big, sizeof big, &w, &e),
			  ST_E_CAP, &e, "over");
}

/* ---- the flags ---- */

static int parse_flags(struct st_master_src *src, const char *const *args,
		       struct st_error *e)
{
	int argc = 0;
	char *argv[16];
	while (args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	memset(src, 0, sizeof *src);
	for (int i = 0; i < argc; i++) {
		int r = st_master_src_flag(src, argc, argv, &i, e);
		if (r <= 0)
			return r < 0 ? r : -1000;
	}
	return 0;
}

static void flags_name_one_complete_source(void **s)
{
	(void)s;
	struct st_master_src src;
	struct st_error e = {0};
	const char *a1[] = {"--master=/k", NULL};
	assert_int_equal(parse_flags(&src, a1, &e), 0);
	assert_string_equal(src.key_file, "/k");
	assert_int_equal(st_master_src_check(&src, false, &e), 0);

	const char *a2[] = {"--master-wrapped", "/w", "--pkcs11-module", "/m.so",
			    "--pin-file", "/p", NULL};
	assert_int_equal(parse_flags(&src, a2, &e), 0);
	assert_int_equal(st_master_src_check(&src, false, &e), 0);
	assert_true(src.pkcs11);

	const char *a3[] = {"--master", "/k", "--master", "/k2", NULL};
	assert_fails_with(parse_flags(&src, a3, &e), -EINVAL, &e, "twice");
	const char *a4[] = {"--pin-file", NULL};
	assert_fails_with(parse_flags(&src, a4, &e), -EINVAL, &e, "needs a value");

	const char *a5[] = {"--master", "/k", "--master-wrapped", "/w", NULL};
	assert_int_equal(parse_flags(&src, a5, &e), 0);
	assert_fails_with(st_master_src_check(&src, false, &e), -EINVAL, &e,
			  "not both");
	const char *a6[] = {"--master", "/k", "--pin-file", "/p", NULL};
	assert_int_equal(parse_flags(&src, a6, &e), 0);
	assert_fails_with(st_master_src_check(&src, false, &e), -EINVAL, &e,
			  "--master-wrapped");
	const char *a7[] = {"--master-wrapped", "/w", "--pin-file", "/p", NULL};
	assert_int_equal(parse_flags(&src, a7, &e), 0);
	assert_fails_with(st_master_src_check(&src, false, &e), -EINVAL, &e,
			  "SEALTRACE_PKCS11_MODULE");
	setenv("SEALTRACE_PKCS11_MODULE", "/m.so", 1);
	assert_int_equal(st_master_src_check(&src, false, &e), 0);
	unsetenv("SEALTRACE_PKCS11_MODULE");
	const char *a8[] = {"--master-wrapped", "/w", "--pkcs11-module", "/m", NULL};
	assert_int_equal(parse_flags(&src, a8, &e), 0);
	assert_fails_with(st_master_src_check(&src, false, &e), -EINVAL, &e,
			  "SEALTRACE_PKCS11_PIN");
	const char *a9[] = {NULL};
	assert_int_equal(parse_flags(&src, a9, &e), 0);
	assert_fails_with(st_master_src_check(&src, false, &e), -EINVAL, &e,
			  "needs the master secret");
	assert_int_equal(st_master_src_check(&src, true, &e), 0); /* plain keygen */
	const char *a10[] = {"--pkcs11", "--pkcs11-module", "/m", "--pin-file",
			     "/p", NULL};
	assert_int_equal(parse_flags(&src, a10, &e), 0);
	assert_fails_with(st_master_src_check(&src, true, &e), -EINVAL, &e,
			  "--pkcs11-token");
	const char *a11[] = {"--unknown", NULL};
	assert_int_equal(parse_flags(&src, a11, &e), -1000);
}

/* ---- a real token (SoftHSM2) ---- */

static void wrapped_src(struct st_master_src *src, const char *wrapped,
			const char *pin, const char *token)
{
	memset(src, 0, sizeof *src);
	src->wrapped_file = wrapped;
	src->module = module;
	src->pin_file = pin;
	src->token = token;
}

/* keygen --pkcs11 into dir/NAME: master.wrapped and master.pub */
static void hsm_keygen(const char *name, const char *token, const char *label,
		       uint8_t pk[32], bool *made)
{
	char d[512], w[600], p[600], pin[512];
	path(d, name);
	mkdir(d, 0700);
	snprintf(w, sizeof w, "%s/master.wrapped", d);
	snprintf(p, sizeof p, "%s/master.pub", d);
	path(pin, "pin");
	struct st_master_src src = {.module = module, .token = token,
				    .pin_file = pin, .key_label = label,
				    .pkcs11 = true};
	struct st_error e = {0};
	int rc = st_master_keygen_wrapped(&src, w, pk, made, &e);
	if (rc)
		fail_msg("keygen: %s", e.msg);
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_PUBLIC, pk, 32, false,
				      NULL), 0);
}

static void token_wraps_and_unwraps_and_the_file_holds_no_secret(void **s)
{
	(void)s;
	if (!hsm)
		skip();
	uint8_t pk[32];
	bool made = false;
	hsm_keygen("h1", "T", NULL, pk, &made);
	assert_true(made);
	char w[512], pin[512];
	path(w, "h1/master.wrapped");
	path(pin, "pin");
	struct stat st;
	assert_int_equal(stat(w, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	struct st_master_src src;
	wrapped_src(&src, w, pin, NULL);
	struct st_master m;
	struct st_error e = {0};
	int rc = st_master_open(&src, &m, &e);
	if (rc)
		fail_msg("open: %s", e.msg);
	assert_memory_equal(m.pk, pk, 32);
	uint8_t chk[32];
	crypto_scalarmult_base(chk, m.sk);
	assert_memory_equal(chk, pk, 32);
	assert_non_null(strstr(m.what, "token 'T'"));
	/* the file holds neither the secret's bytes nor its hex */
	uint8_t file[2048];
	size_t n = get_file(w, file, sizeof file);
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, m.sk, 32);
	assert_null(memmem(file, n, m.sk, 32));
	assert_null(memmem(file, n, hex, 64));
	for (size_t off = 0; off + 8 <= 32; off += 8) /* nor a part of it */
		assert_null(memmem(file, n, hex + 2 * off, 16));
	st_master_close(&m);
	/* a second master in the same token reuses the key */
	uint8_t pk2[32];
	hsm_keygen("h1b", "T", NULL, pk2, &made);
	assert_false(made);
	path(w, "h1b/master.wrapped");
	wrapped_src(&src, w, pin, NULL);
	assert_int_equal(st_master_open(&src, &m, &e), 0);
	assert_memory_equal(m.pk, pk2, 32);
	st_master_close(&m);
}

static void token_source_from_the_environment(void **s)
{
	(void)s;
	if (!hsm)
		skip();
	uint8_t pk[32];
	bool made;
	hsm_keygen("henv", "T", NULL, pk, &made);
	char w[512];
	path(w, "henv/master.wrapped");
	struct st_master_src src = {.wrapped_file = w};
	setenv("SEALTRACE_PKCS11_MODULE", module, 1);
	setenv("SEALTRACE_PKCS11_PIN", "1234", 1);
	struct st_master m;
	struct st_error e = {0};
	int rc = st_master_open(&src, &m, &e);
	unsetenv("SEALTRACE_PKCS11_MODULE");
	unsetenv("SEALTRACE_PKCS11_PIN");
	if (rc)
		fail_msg("open: %s", e.msg);
	assert_memory_equal(m.pk, pk, 32);
	st_master_close(&m);
}

static void token_refuses_a_wrong_pin_and_a_wrong_label(void **s)
{
	(void)s;
	if (!hsm)
		skip();
	uint8_t pk[32];
	bool made;
	hsm_keygen("h2", "T", NULL, pk, &made);
	char w[512], pin[512], bad[512];
	path(w, "h2/master.wrapped");
	path(pin, "pin");
	path(bad, "badpin");
	struct st_master_src src;
	struct st_master m;
	struct st_error e = {0};
	wrapped_src(&src, w, bad, NULL);
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_PKCS11, &e,
			  "wrong PIN");
	assert_null(m.sk);
	wrapped_src(&src, w, pin, "NoSuchToken");
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_PKCS11, &e,
			  "no token labelled 'NoSuchToken'");
	assert_non_null(strstr(e.msg, "'T'")); /* the ones there are listed */
	wrapped_src(&src, w, pin, NULL);
	src.module = "/nonexistent/libpkcs11.so";
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_PKCS11, &e,
			  "cannot be loaded");
	/* a PIN file others may read is refused before the token is asked */
	chmod(pin, 0640);
	wrapped_src(&src, w, pin, NULL);
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_KEY_MODE, &e,
			  "chmod 600");
	chmod(pin, 0600);
	chmod(w, 0644);
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_KEY_MODE, &e,
			  "chmod 600");
	chmod(w, 0600);
}

static void token_refuses_an_altered_file_and_another_tokens_key(void **s)
{
	(void)s;
	if (!hsm)
		skip();
	uint8_t pk[32];
	bool made;
	hsm_keygen("h3", "T", NULL, pk, &made);
	char w[512], pin[512];
	path(w, "h3/master.wrapped");
	path(pin, "pin");
	uint8_t orig[2048], buf[2048];
	size_t n = get_file(w, orig, sizeof orig);
	struct st_master_src src;
	wrapped_src(&src, w, pin, NULL);
	struct st_master m;
	struct st_error e = {0};
	/* one hex digit of the ciphertext, then of the public key (which is
	 * additional data: authenticated, not encrypted) */
	const char *fields[] = {"sealed: ", "public: ", "iv: "};
	for (size_t f = 0; f < 3; f++) {
		memcpy(buf, orig, n);
		char *at = memmem(buf, n, fields[f], strlen(fields[f]));
		assert_non_null(at);
		at += strlen(fields[f]) + 3;
		*at = *at == '0' ? '1' : '0';
		put_file(w, buf, n, 0600);
		assert_fails_with(st_master_open(&src, &m, &e), ST_E_DECRYPT, &e,
				  "does not open with key");
		assert_null(m.sk);
	}
	put_file(w, orig, n, 0600);
	assert_int_equal(st_master_open(&src, &m, &e), 0);
	st_master_close(&m);
	/* a file wrapped in T2 by a key of the same label, opened with T */
	uint8_t pk2[32];
	hsm_keygen("h3b", "T2", NULL, pk2, &made);
	path(w, "h3b/master.wrapped");
	wrapped_src(&src, w, pin, "T");
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_DECRYPT, &e,
			  "another key of that label");
	/* a key label the token lacks */
	hsm_keygen("h3c", "T2", "only-in-T2", pk2, &made);
	path(w, "h3c/master.wrapped");
	wrapped_src(&src, w, pin, "T");
	assert_fails_with(st_master_open(&src, &m, &e), ST_E_PKCS11, &e,
			  "no key labelled 'only-in-T2'");
}

/* Makes an extractable AES key labelled label in token T, as a careless
 * tool would. */
static void make_extractable_key(const char *label)
{
	void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	assert_non_null(dl);
	CK_C_GetFunctionList get;
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	CK_FUNCTION_LIST *f = NULL;
	assert_int_equal(get(&f), CKR_OK);
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CK_SESSION_HANDLE ses = 0;
	bool done = false;
	for (CK_ULONG i = 0; i < n && !done; i++) {
		CK_TOKEN_INFO ti;
		f->C_GetTokenInfo(slots[i], &ti);
		if (memcmp(ti.label, "T ", 2))
			continue;
		assert_int_equal(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION |
						  CKF_RW_SESSION, NULL, NULL, &ses),
				 CKR_OK);
		assert_int_equal(f->C_Login(ses, CKU_USER, (CK_UTF8CHAR *)"1234", 4),
				 CKR_OK);
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_AES;
		CK_ULONG vl = 32;
		CK_BBOOL yes = CK_TRUE;
		CK_ATTRIBUTE tpl[] = {
			{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
			{CKA_VALUE_LEN, &vl, sizeof vl},
			{CKA_LABEL, (void *)label, strlen(label)},
			{CKA_TOKEN, &yes, 1}, {CKA_SENSITIVE, &yes, 1},
			{CKA_EXTRACTABLE, &yes, 1},
			{CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1},
		};
		CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
		CK_OBJECT_HANDLE h;
		assert_int_equal(f->C_GenerateKey(ses, &mech, tpl, 9, &h), CKR_OK);
		f->C_Logout(ses);
		f->C_CloseSession(ses);
		done = true;
	}
	f->C_Finalize(NULL);
	dlclose(dl);
	assert_true(done);
}

static void keygen_refuses_to_reuse_an_extractable_key(void **s)
{
	(void)s;
	if (!hsm)
		skip();
	make_extractable_key("leaky");
	char d[512], w[600], pin[512];
	path(d, "h4");
	mkdir(d, 0700);
	snprintf(w, sizeof w, "%s/master.wrapped", d);
	path(pin, "pin");
	struct st_master_src src = {.module = module, .token = "T",
				    .pin_file = pin, .key_label = "leaky",
				    .pkcs11 = true};
	uint8_t pk[32];
	bool made;
	struct st_error e = {0};
	assert_fails_with(st_master_keygen_wrapped(&src, w, pk, &made, &e),
			  ST_E_PKCS11, &e, "extractable");
	assert_int_equal(access(w, F_OK), -1); /* nothing written */
	/* and never over an existing file */
	put_file(w, "x", 1, 0600);
	src.key_label = NULL;
	assert_fails_with(st_master_keygen_wrapped(&src, w, pk, &made, &e),
			  ST_E_EXISTS, &e, "never overwritten");
}

/* ---- rotation: the pieces ---- */

static void hexs(char *out, const uint8_t *p, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* A listing page of people p[0..n) sealed to mpk. */
static char *page_json(const uint8_t mpk[32], struct person *p, size_t n,
		       size_t first, const char *next)
{
	json_t *root = json_object(), *arr = json_array();
	char h[65];
	hexs(h, mpk, 32);
	json_object_set_new(root, "master_public", json_string(h));
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		char id[33], b64[120];
		snprintf(id, sizeof id, "%032zx", first + i);
		hexs(h, p[i].pk, 32);
		sodium_bin2base64(b64, sizeof b64, p[i].sealed, 80,
				  sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "public_key", json_string(h));
		json_object_set_new(o, "sealed_secret", json_string(b64));
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "people", arr);
	json_object_set_new(root, "next", next ? json_string(next) : json_null());
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static void rotate_parses_a_listing_page(void **s)
{
	(void)s;
	uint8_t mpk[32], msk[32];
	crypto_box_keypair(mpk, msk);
	struct person p[2];
	person_for(&p[0], mpk);
	person_for(&p[1], mpk);
	char *j = page_json(mpk, p, 2, 7, "00000000000000000000000000000008");
	struct st_rotate_list l;
	st_rotate_list_init(&l);
	char next[33];
	struct st_error e = {0};
	assert_int_equal(st_rotate_parse_page((uint8_t *)j, strlen(j), &l, next, &e), 0);
	free(j);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].id, "00000000000000000000000000000007");
	assert_memory_equal(l.v[1].public_key, p[1].pk, 32);
	assert_memory_equal(l.v[1].sealed, p[1].sealed, 80);
	assert_memory_equal(l.master_public, mpk, 32);
	assert_string_equal(next, "00000000000000000000000000000008");
	/* a second page under another master: the master changed meanwhile */
	uint8_t other[32] = {9};
	j = page_json(other, p, 1, 9, NULL);
	assert_fails_with(st_rotate_parse_page((uint8_t *)j, strlen(j), &l, next, &e),
			  ST_E_CONFLICT, &e, "changed during the listing");
	free(j);
	/* the same person twice across pages */
	j = page_json(mpk, p, 1, 7, NULL);
	assert_int_equal(st_rotate_parse_page((uint8_t *)j, strlen(j), &l, next, &e), 0);
	free(j);
	assert_string_equal(next, "");
	assert_fails_with(st_rotate_check_unique(&l, &e), ST_E_JSON, &e, "twice");
	st_rotate_list_fini(&l);
}

static int parse_text(const char *j, struct st_error *e)
{
	struct st_rotate_list l;
	st_rotate_list_init(&l);
	char next[33];
	int rc = st_rotate_parse_page((const uint8_t *)j, strlen(j), &l, next, e);
	st_rotate_list_fini(&l);
	return rc;
}

static void rotate_refuses_malformed_listings(void **s)
{
	(void)s;
	struct st_error e = {0};
	const char *m = "\"master_public\":\"" "00112233445566778899aabbccddeeff"
			"00112233445566778899aabbccddeeff\"";
	char j[1024];
	assert_fails_with(parse_text("[]", &e), ST_E_JSON, &e, "not a JSON object");
	assert_fails_with(parse_text("{\"master_public\":\"00\",\"people\":[],"
				     "\"next\":null}", &e),
			  ST_E_JSON, &e, "master_public");
	snprintf(j, sizeof j, "{%s,\"people\":{},\"next\":null}", m);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "array");
	snprintf(j, sizeof j, "{%s,\"people\":[],\"next\":\"zz\"}", m);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "next");
	snprintf(j, sizeof j, "{%s,\"people\":[],\"next\":"
		 "\"00000000000000000000000000000001\"}", m);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "never end");
	snprintf(j, sizeof j, "{%s,\"people\":[{\"id\":\"1\"}],\"next\":null}", m);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "\"id\"");
	const char *id = "\"id\":\"000000000000000000000000000000aa\"";
	const char *pk = "\"public_key\":\"00112233445566778899aabbccddeeff"
			 "00112233445566778899aabbccddeeff\"";
	snprintf(j, sizeof j, "{%s,\"people\":[{%s,%s}],\"next\":null}", m, id, pk);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "erased person");
	snprintf(j, sizeof j, "{%s,\"people\":[{%s,%s,\"sealed_secret\":\"AAAA\"}],"
		 "\"next\":null}", m, id, pk);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "80 bytes");
	snprintf(j, sizeof j, "{%s,\"people\":[{%s,\"public_key\":\"00\"}],"
		 "\"next\":null}", m, id);
	assert_fails_with(parse_text(j, &e), ST_E_JSON, &e, "public_key");
	/* over the page bound */
	uint8_t mpk[32] = {1};
	struct person *many = calloc(ST_ROTATE_PAGE_MAX + 1, sizeof *many);
	char *big = page_json(mpk, many, ST_ROTATE_PAGE_MAX + 1, 0, NULL);
	assert_fails_with(parse_text(big, &e), ST_E_CAP, &e, "page");
	free(big);
	free(many);
}

static void rotate_reseals_all_or_nothing(void **s)
{
	(void)s;
	struct st_master m;
	uint8_t mpk[32], npk[32], nsk[32];
	open_master("rs", &m, mpk);
	crypto_box_keypair(npk, nsk);
	struct person p[3];
	for (int i = 0; i < 3; i++)
		person_for(&p[i], mpk);
	char *j = page_json(mpk, p, 3, 1, NULL);
	struct st_rotate_list l;
	st_rotate_list_init(&l);
	char next[33];
	assert_int_equal(st_rotate_parse_page((uint8_t *)j, strlen(j), &l, next, NULL), 0);
	free(j);
	/* person 3's record names person 1's public key: refused by id,
	 * and nobody's sealed secret changes */
	memcpy(l.v[2].public_key, p[0].pk, 32);
	struct st_error e = {0};
	assert_fails_with(st_rotate_reseal(&l, &m, npk, &e), ST_E_NOT_FOR_KEY, &e,
			  "person 00000000000000000000000000000003");
	for (int i = 0; i < 3; i++)
		assert_memory_equal(l.v[i].sealed, p[i].sealed, 80);
	memcpy(l.v[2].public_key, p[2].pk, 32);
	assert_int_equal(st_rotate_reseal(&l, &m, npk, &e), 0);
	for (int i = 0; i < 3; i++) {
		uint8_t out[32];
		assert_int_equal(crypto_box_seal_open(out, l.v[i].sealed, 80, npk,
						      nsk), 0);
		assert_memory_equal(out, p[i].sk, 32);
	}
	char *body = NULL;
	assert_int_equal(st_rotate_body(&l, mpk, npk, &body, NULL), 0);
	json_t *b = json_loads(body, 0, NULL);
	char h[65];
	hexs(h, npk, 32);
	assert_string_equal(json_string_value(json_object_get(b, "new_master_public")), h);
	hexs(h, mpk, 32);
	assert_string_equal(json_string_value(json_object_get(b, "old_master_public")), h);
	json_t *arr = json_object_get(b, "people");
	assert_int_equal(json_array_size(arr), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "id")),
			    "00000000000000000000000000000002");
	assert_int_equal(json_object_size(json_array_get(arr, 1)), 2);
	json_decref(b);
	free(body);
	st_rotate_list_fini(&l);
	st_master_close(&m);
}

static void rotate_target_from_env_and_no_token_in_clear(void **s)
{
	(void)s;
	struct st_error e = {0};
	struct st_rotate_target t = {0};
	unsetenv("SEALTRACE_URL");
	unsetenv("SEALTRACE_TOKEN");
	unsetenv("SEALTRACE_CA");
	assert_fails_with(st_rotate_target_resolve(&t, &e), -EINVAL, &e,
			  "SEALTRACE_URL");
	setenv("SEALTRACE_URL", "https://x:1", 1);
	t = (struct st_rotate_target){0};
	assert_fails_with(st_rotate_target_resolve(&t, &e), -EINVAL, &e,
			  "SEALTRACE_TOKEN");
	setenv("SEALTRACE_TOKEN", "sta_x", 1);
	t = (struct st_rotate_target){0};
	assert_int_equal(st_rotate_target_resolve(&t, &e), 0);
	assert_string_equal(t.url, "https://x:1");
	t = (struct st_rotate_target){.url = "http://example.org:80"};
	assert_fails_with(st_rotate_target_resolve(&t, &e), -EINVAL, &e, "clear");
	t = (struct st_rotate_target){.url = "http://127.0.0.1:80"};
	assert_int_equal(st_rotate_target_resolve(&t, &e), 0);
	t = (struct st_rotate_target){.url = "http://[::1]:80/"};
	assert_int_equal(st_rotate_target_resolve(&t, &e), 0);
	unsetenv("SEALTRACE_URL");
	unsetenv("SEALTRACE_TOKEN");
}

/* ---- rotation against a fake /v1/keys server ---- */

#define FAKE_PEOPLE 2345 /* three pages */

struct fake {
	uint8_t master[32];
	struct person *p;
	size_t n;
	int force_status; /* answer every request with this, when set */
	size_t gets, posts;
};
static struct fake fk;

struct req_body {
	char *p;
	size_t len;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
			      const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result error_answer(struct MHD_Connection *c, unsigned status,
				    const char *id, const char *msg)
{
	char b[512];
	snprintf(b, sizeof b, "{\"error\":{\"id\":\"%s\",\"message\":\"%s\"}}",
		 id, msg);
	return answer(c, status, b);
}

static enum MHD_Result fake_get(struct MHD_Connection *c)
{
	fk.gets++;
	const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
							"after");
	size_t start = 0;
	if (after)
		start = (size_t)strtoull(after, NULL, 16) + 1;
	size_t n = fk.n > start ? fk.n - start : 0;
	if (n > ST_ROTATE_PAGE_MAX)
		n = ST_ROTATE_PAGE_MAX;
	char next[33];
	snprintf(next, sizeof next, "%032zx", start + n - 1);
	char *j = page_json(fk.master, fk.p + start, n, start,
			    start + n < fk.n ? next : NULL);
	enum MHD_Result ok = answer(c, 200, j);
	free(j);
	return ok;
}

static enum MHD_Result fake_post(struct MHD_Connection *c, struct req_body *b)
{
	fk.posts++;
	json_t *o = json_loadb(b->p, b->len, 0, NULL);
	char h[65];
	hexs(h, fk.master, 32);
	const char *old = json_string_value(json_object_get(o, "old_master_public"));
	const char *nw = json_string_value(json_object_get(o, "new_master_public"));
	json_t *arr = json_object_get(o, "people");
	enum MHD_Result ok;
	if (!old || strcmp(old, h) || json_array_size(arr) != fk.n || !nw) {
		ok = error_answer(c, 409, "conflict", "not the current master or "
				  "not the same people");
	} else {
		for (size_t i = 0; i < fk.n; i++) {
			json_t *x = json_array_get(arr, i);
			size_t id = (size_t)strtoull(
				json_string_value(json_object_get(x, "id")), NULL, 16);
			size_t len = 0;
			const char *ss = json_string_value(json_object_get(x, "sealed_secret"));
			assert_true(id < fk.n);
			assert_int_equal(sodium_base642bin(fk.p[id].sealed, 80, ss,
							   strlen(ss), NULL, &len, NULL,
							   sodium_base64_VARIANT_ORIGINAL), 0);
		}
		sodium_hex2bin(fk.master, 32, nw, 64, NULL, NULL, NULL);
		char r[64];
		snprintf(r, sizeof r, "{\"rotated\":%zu}", fk.n);
		ok = answer(c, 200, r);
	}
	json_decref(o);
	return ok;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c,
				    const char *url, const char *method,
				    const char *version, const char *data,
				    size_t *data_size, void **state)
{
	(void)cls;
	(void)version;
	struct req_body *b = *state;
	if (!b) {
		*state = calloc(1, sizeof *b);
		return MHD_YES;
	}
	if (*data_size) {
		b->p = realloc(b->p, b->len + *data_size);
		memcpy(b->p + b->len, data, *data_size);
		b->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       "Authorization");
	enum MHD_Result ok;
	if (fk.force_status)
		ok = error_answer(c, (unsigned)fk.force_status,
				  fk.force_status == 404 ? "not_found" : "conflict",
				  "forced");
	else if (!auth || strcmp(auth, "Bearer officer"))
		ok = error_answer(c, 401, "auth", "no valid token");
	else if (!strcmp(method, "GET") && !strcmp(url, "/v1/keys/people"))
		ok = fake_get(c);
	else if (!strcmp(method, "POST") && !strcmp(url, "/v1/keys/rotate"))
		ok = fake_post(c, b);
	else
		ok = error_answer(c, 404, "not_found", "no such route");
	free(b->p);
	free(b);
	*state = NULL;
	return ok;
}

static void rotate_against_a_fake_server(void **s)
{
	(void)s;
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_handler, NULL,
		MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
	assert_non_null(d);
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);

	uint8_t old_pk[32], old_sk[32];
	plain_master("rot-old", old_pk, old_sk);
	memcpy(fk.master, old_pk, 32);
	fk.n = FAKE_PEOPLE;
	fk.p = calloc(fk.n, sizeof *fk.p);
	for (size_t i = 0; i < fk.n; i++)
		person_for(&fk.p[i], old_pk);
	uint8_t new_pk[32], new_sk[32];
	crypto_box_keypair(new_pk, new_sk);

	char key[512];
	path(key, "rot-old/master.key");
	struct st_master_src src = {.key_file = key};
	struct st_rotate_target t = {.url = url, .token = "officer"};
	size_t n = 0;
	struct st_error e = {0};
	int rc = st_rotate_run(&t, &src, new_pk, &n, &e);
	if (rc)
		fail_msg("rotate: %s", e.msg);
	assert_int_equal(n, FAKE_PEOPLE);
	assert_int_equal(fk.gets, 3);
	assert_int_equal(fk.posts, 1);
	assert_memory_equal(fk.master, new_pk, 32);
	for (size_t i = 0; i < fk.n; i += 97) {
		uint8_t out[32];
		assert_int_equal(crypto_box_seal_open(out, fk.p[i].sealed, 80,
						      new_pk, new_sk), 0);
		assert_memory_equal(out, fk.p[i].sk, 32);
	}
	/* again: the server's master is already the new one */
	assert_fails_with(st_rotate_run(&t, &src, new_pk, &n, &e), ST_E_STATE, &e,
			  "already");
	/* onto a third key with the old master: not the server's master */
	uint8_t third[32], third_sk[32];
	crypto_box_keypair(third, third_sk);
	fk.posts = 0;
	assert_fails_with(st_rotate_run(&t, &src, third, &n, &e), ST_E_NOT_FOR_KEY,
			  &e, "give the current master's secret");
	assert_int_equal(fk.posts, 0);
	/* refusals come back with the server's word and advice */
	fk.force_status = 409;
	assert_fails_with(st_rotate_run(&t, &src, third, &n, &e), ST_E_CONFLICT, &e,
			  "run rotate again");
	fk.force_status = 404;
	assert_fails_with(st_rotate_run(&t, &src, third, &n, &e), ST_E_NOT_FOUND, &e,
			  "no /v1/keys API");
	fk.force_status = 0;
	t.token = "wrong";
	assert_fails_with(st_rotate_run(&t, &src, third, &n, &e), ST_E_AUTH, &e,
			  "privacy officer");
	MHD_stop_daemon(d);
	free(fk.p);
	memset(&fk, 0, sizeof fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_file_loads_and_matches_its_public_key),
		cmocka_unit_test(plain_file_refused_at_0644_with_chmod_advice),
		cmocka_unit_test(plain_file_beside_another_public_key_refused),
		cmocka_unit_test(close_frees_the_secret_through_sodium_free),
		cmocka_unit_test(open_person_gives_the_secret_of_the_public_key),
		cmocka_unit_test(open_person_erased_when_no_sealed_secret),
		cmocka_unit_test(open_person_sealed_to_another_master_is_decrypt),
		cmocka_unit_test(open_person_not_the_public_keys_secret_is_refused),
		cmocka_unit_test(open_person_rejects_every_corrupted_byte),
		cmocka_unit_test(wrapped_form_round_trips),
		cmocka_unit_test(wrapped_form_rejects_every_truncation),
		cmocka_unit_test(wrapped_form_rejects_malformed_files),
		cmocka_unit_test(flags_name_one_complete_source),
		cmocka_unit_test(token_wraps_and_unwraps_and_the_file_holds_no_secret),
		cmocka_unit_test(token_source_from_the_environment),
		cmocka_unit_test(token_refuses_a_wrong_pin_and_a_wrong_label),
		cmocka_unit_test(token_refuses_an_altered_file_and_another_tokens_key),
		cmocka_unit_test(keygen_refuses_to_reuse_an_extractable_key),
		cmocka_unit_test(rotate_parses_a_listing_page),
		cmocka_unit_test(rotate_refuses_malformed_listings),
		cmocka_unit_test(rotate_reseals_all_or_nothing),
		cmocka_unit_test(rotate_target_from_env_and_no_token_in_clear),
		cmocka_unit_test(rotate_against_a_fake_server),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
