/* test_keys.c - key files: 0600 on write, looser refused, labels enforced,
 * never overwritten. */
#include "helpers.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/keys.h"

static char dir[256];

static int setup(void **s)
{
	(void)s;
	strcpy(dir, "/tmp/st-keys-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void path(char *out, const char *name)
{
	snprintf(out, 300, "%s/%s", dir, name);
}

static void secret_written_0600_and_read_back(void **s)
{
	(void)s;
	char p[300];
	path(p, "dev.key");
	uint8_t pk[32], *sk = st_secret_new(64), *back = st_secret_new(64);
	assert_int_equal(st_sign_keypair(pk, sk), 0);
	struct st_error e = {0};
	mode_t old = umask(0); /* even with an open umask the file is 0600 */
	assert_int_equal(st_key_write(p, ST_KEY_DEVICE_SECRET, sk, 64, true, &e), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st_key_read(p, ST_KEY_DEVICE_SECRET, back, 64, true, &e), 0);
	assert_memory_equal(sk, back, 64);
	st_secret_free(sk);
	st_secret_free(back);
}

static void refuses_loose_secret_with_chmod_advice(void **s)
{
	(void)s;
	char p[300];
	path(p, "loose.key");
	uint8_t key[32] = {1, 2, 3};
	assert_int_equal(st_key_write(p, ST_KEY_PERSON_SECRET, key, 32, true, NULL), 0);
	chmod(p, 0644);
	uint8_t out[32];
	struct st_error e = {0};
	assert_fails_with(st_key_read(p, ST_KEY_PERSON_SECRET, out, 32, true, &e),
			  ST_E_KEY_MODE, &e, "chmod 600");
	assert_non_null(strstr(e.msg, "0644"));
	chmod(p, 0640);
	assert_fails_with(st_key_read(p, ST_KEY_PERSON_SECRET, out, 32, true, &e),
			  ST_E_KEY_MODE, &e, "chmod 600");
	chmod(p, 0600);
	assert_int_equal(st_key_read(p, ST_KEY_PERSON_SECRET, out, 32, true, &e), 0);
}

static void refuses_wrong_label_and_length(void **s)
{
	(void)s;
	char p[300];
	path(p, "pub.key");
	uint8_t key[32] = {9};
	assert_int_equal(st_key_write(p, ST_KEY_DEVICE_PUBLIC, key, 32, false, NULL), 0);
	uint8_t out[64];
	struct st_error e = {0};
	/* a device key is not a person key */
	assert_fails_with(st_key_read(p, ST_KEY_PERSON_PUBLIC, out, 32, false, &e),
			  ST_E_KEY_FORMAT, &e, ST_KEY_PERSON_PUBLIC);
	assert_fails_with(st_key_read(p, ST_KEY_DEVICE_PUBLIC, out, 64, false, &e),
			  ST_E_KEY_FORMAT, &e, "64 bytes");
	assert_int_equal(st_key_read(p, ST_KEY_DEVICE_PUBLIC, out, 32, false, &e), 0);
	/* garbage after the hex */
	FILE *f = fopen(p, "a");
	fputs("zz\n", f);
	fclose(f);
	assert_fails_with(st_key_read(p, ST_KEY_DEVICE_PUBLIC, out, 32, false, &e),
			  ST_E_KEY_FORMAT, &e, "hex");
}

static void never_overwrites_a_key(void **s)
{
	(void)s;
	char p[300];
	path(p, "once.key");
	uint8_t a[32] = {1}, b[32] = {2}, out[32];
	struct st_error e = {0};
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_PUBLIC, a, 32, false, &e), 0);
	assert_int_not_equal(st_key_write(p, ST_KEY_MASTER_PUBLIC, b, 32, false, &e), 0);
	assert_non_null(strstr(e.msg, "never overwritten"));
	assert_int_equal(st_key_read(p, ST_KEY_MASTER_PUBLIC, out, 32, false, &e), 0);
	assert_memory_equal(out, a, 32);
	path(p, "missing.key");
	assert_int_not_equal(st_key_read(p, ST_KEY_MASTER_PUBLIC, out, 32, false, &e), 0);
	assert_non_null(strstr(e.msg, "missing.key"));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(secret_written_0600_and_read_back),
		cmocka_unit_test(refuses_loose_secret_with_chmod_advice),
		cmocka_unit_test(refuses_wrong_label_and_length),
		cmocka_unit_test(never_overwrites_a_key),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
