/* test_config.c - the server's configuration: defaults under the data
 * folder, config.json round trip (0600, relative paths), every bad key or
 * value refused naming the key, a master secret refused wherever the
 * server would read it, loopback detection. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/keys.h"
#include "server/config.h"

static char dir[256];

static int setup(void **s)
{
	(void)s;
	strcpy(dir, "/tmp/st-config-XXXXXX");
	return mkdtemp(dir) && chmod(dir, 0700) == 0 ? 0 : -1;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void put(const char *rel, const char *text)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void defaults_lie_under_the_folder(void **s)
{
	(void)s;
	struct st_server_config c;
	struct st_error e = {0};
	assert_int_equal(st_server_config_defaults(&c, dir, &e), 0);
	char want[600];
	snprintf(want, sizeof want, "%s/sealtrace.db", dir);
	assert_string_equal(c.db, want);
	snprintf(want, sizeof want, "%s/tls/ca.pem", dir);
	assert_string_equal(c.tls_ca, want);
	snprintf(want, sizeof want, "%s/keys/lease.key", dir);
	assert_string_equal(c.lease_key, want);
	snprintf(want, sizeof want, "%s/keys/audit.pub", dir);
	assert_string_equal(c.audit_pub, want);
	snprintf(want, sizeof want, "%s/master.pub", dir);
	assert_string_equal(c.master_public, want);
	assert_string_equal(c.listen, ST_CFG_LISTEN_DEFAULT);
	assert_int_equal(c.body_max, ST_CFG_BODY_MAX_DEFAULT);
	assert_int_equal(c.threads, 1);
	/* 900: an agent 5 minutes off must still poll its lease */
	assert_int_equal(c.request_window_s, 900);
	assert_int_equal(c.lease_validity_ms, 60000);
	assert_int_equal(c.lease_hold_s, 25);
	assert_true(c.lease_hold_s * 1000u < c.lease_validity_ms);
	assert_int_equal(c.ingest_window_past_s, 86400);
	assert_int_equal(c.enroll_ttl_default_s, 86400);
	assert_false(c.plain_http);
	/* a relative folder is made absolute */
	char cwd[512];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir("/tmp"), 0);
	assert_int_equal(st_server_config_defaults(&c, "not-made-yet/", &e), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(c.dir, "/tmp/not-made-yet");
	assert_int_equal(st_server_config_defaults(&c, "", &e), ST_E_INVAL);
}

static void save_then_load_round_trips(void **s)
{
	(void)s;
	struct st_server_config c, back;
	struct st_error e = {0};
	assert_int_equal(st_server_config_defaults(&c, dir, &e), 0);
	snprintf(c.listen, sizeof c.listen, "[::1]:0");
	c.plain_http = true;
	c.threads = 4;
	c.body_max = 1u << 20;
	c.request_window_s = 60;
	c.lease_validity_ms = 5000;
	c.lease_hold_s = 2;
	snprintf(c.tls_cert, sizeof c.tls_cert, "/etc/ssl/mine.pem");
	assert_int_equal(st_server_config_save(&c, &e), 0);
	char p[600];
	snprintf(p, sizeof p, "%s/config.json", dir);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* paths inside the folder are written relative to it */
	FILE *f = fopen(p, "r");
	char text[4096] = "";
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	assert_non_null(strstr(text, "\"db\": \"sealtrace.db\""));
	assert_non_null(strstr(text, "\"tls_cert\": \"/etc/ssl/mine.pem\""));
	assert_null(strstr(text, dir));
	assert_int_equal(st_server_config_load(dir, &back, &e), 0);
	assert_memory_equal(&c, &back, sizeof c);
}

static void relative_paths_resolve_against_the_folder(void **s)
{
	(void)s;
	put("config.json", "{\"db\": \"data/store.db\", \"tls_key\": "
	    "\"/abs/key.pem\"}");
	struct st_server_config c;
	struct st_error e = {0};
	assert_int_equal(st_server_config_load(dir, &c, &e), 0);
	char want[600];
	snprintf(want, sizeof want, "%s/data/store.db", dir);
	assert_string_equal(c.db, want);
	assert_string_equal(c.tls_key, "/abs/key.pem");
}

static void every_bad_key_or_value_is_refused_by_name(void **s)
{
	(void)s;
	static const struct {
		const char *json, *word;
		int code;
	} cases[] = {
		{"{\"colour\": 1}", "colour", ST_E_JSON},
		{"{\"threads\": 0}", "threads", ST_E_JSON},
		{"{\"threads\": 65}", "threads", ST_E_JSON},
		{"{\"threads\": \"2\"}", "threads", ST_E_JSON},
		{"{\"body_max\": 67108865}", "body_max", ST_E_JSON},
		{"{\"body_max\": -1}", "body_max", ST_E_JSON},
		{"{\"connection_timeout_s\": 1.5}", "connection_timeout_s",
		 ST_E_JSON},
		{"{\"listen\": 8443}", "listen", ST_E_JSON},
		{"{\"listen\": \"8443\"}", "listen", ST_E_JSON},
		{"{\"listen\": \"::1:8443\"}", "listen", ST_E_JSON},
		{"{\"listen\": \"127.0.0.1:65536\"}", "listen", ST_E_JSON},
		{"{\"plain_http\": 1}", "plain_http", ST_E_JSON},
		{"{\"lease_validity_ms\": 999}", "lease_validity_ms", ST_E_JSON},
		{"{\"lease_validity_ms\": 86400001}", "lease_validity_ms",
		 ST_E_JSON},
		{"{\"lease_hold_s\": 0}", "lease_hold_s", ST_E_JSON},
		{"{\"lease_hold_s\": 301}", "lease_hold_s", ST_E_JSON},
		/* the hold must end before the lease does */
		{"{\"lease_hold_s\": 60}", "must be below",
		 ST_E_JSON},
		{"{\"lease_validity_ms\": 5000, \"lease_hold_s\": 5}",
		 "lease_hold_s", ST_E_JSON},
		{"{\"db\": \"\"}", "db", ST_E_JSON},
		{"{\"db\": null}", "db", ST_E_JSON},
		{"[1]", "object", ST_E_JSON},
		{"{\"threads\": 1, \"threads\": 2}", "config.json", ST_E_JSON},
		{"{", "config.json", ST_E_JSON},
		{"{\"master_secret\": \"/x\"}", "export host",
		 ST_E_MASTER_SECRET},
		{"{\"master_key\": \"/x\"}", "master_key", ST_E_MASTER_SECRET},
		{"{\"listen\": \"0.0.0.0:8443\", \"plain_http\": true}",
		 "loopback", ST_E_INVAL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put("config.json", cases[i].json);
		struct st_server_config c;
		struct st_error e = {0};
		int rc = st_server_config_load(dir, &c, &e);
		if (rc != cases[i].code || !strstr(e.msg, cases[i].word))
			fail_msg("%s: got %d '%s', want %d with '%s'",
				 cases[i].json, rc, e.msg, cases[i].code,
				 cases[i].word);
	}
}

static void load_refuses_open_folder_and_missing_config(void **s)
{
	(void)s;
	struct st_server_config c;
	struct st_error e = {0};
	assert_fails_with(st_server_config_load(dir, &c, &e), -ENOENT, &e,
			  "sealtrace init");
	put("config.json", "{}");
	assert_int_equal(st_server_config_load(dir, &c, &e), 0);
	chmod(dir, 0750);
	assert_fails_with(st_server_config_load(dir, &c, &e), ST_E_KEY_MODE, &e,
			  "chmod 700");
	chmod(dir, 0700);
	char missing[300];
	snprintf(missing, sizeof missing, "%s/nope", dir);
	assert_fails_with(st_server_config_load(missing, &c, &e), -ENOENT, &e,
			  "sealtrace init");
}

static void write_key(const char *rel, const char *label, bool secret)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	uint8_t k[32] = {7};
	assert_int_equal(st_key_write(p, label, k, 32, secret, NULL), 0);
}

static void master_secret_found_in_folder_and_one_below(void **s)
{
	(void)s;
	struct st_server_config c;
	struct st_error e = {0};
	assert_int_equal(st_server_config_defaults(&c, dir, &e), 0);
	write_key("master.pub", ST_KEY_MASTER_PUBLIC, false);
	write_key("person.key", ST_KEY_PERSON_SECRET, true);
	char sub[600], deep[700];
	snprintf(sub, sizeof sub, "%s/keys", dir);
	snprintf(deep, sizeof deep, "%s/keys/old", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(deep, 0700), 0);
	assert_int_equal(st_server_config_check_no_master_secret(&c, &e), 0);
	/* two levels down is beyond the sweep */
	write_key("keys/old/master.key", ST_KEY_MASTER_SECRET, true);
	assert_int_equal(st_server_config_check_no_master_secret(&c, &e), 0);
	write_key("keys/backup-master.key", ST_KEY_MASTER_SECRET, true);
	assert_fails_with(st_server_config_check_no_master_secret(&c, &e),
			  ST_E_MASTER_SECRET, &e, "export host");
	assert_non_null(strstr(e.msg, "keys/backup-master.key"));
	snprintf(sub, sizeof sub, "%s/keys/backup-master.key", dir);
	unlink(sub);
	write_key("stray.key", ST_KEY_MASTER_SECRET, true);
	assert_fails_with(st_server_config_check_no_master_secret(&c, &e),
			  ST_E_MASTER_SECRET, &e, "stray.key");
}

static void master_public_holding_a_secret_is_refused(void **s)
{
	(void)s;
	/* configured outside the folder, so only the path check sees it */
	char other[] = "/tmp/st-config-other-XXXXXX";
	assert_non_null(mkdtemp(other));
	char p[300];
	snprintf(p, sizeof p, "%s/master.pub", other);
	uint8_t k[32] = {1};
	assert_int_equal(st_key_write(p, ST_KEY_MASTER_SECRET, k, 32, true,
				      NULL), 0);
	struct st_server_config c;
	struct st_error e = {0};
	assert_int_equal(st_server_config_defaults(&c, dir, &e), 0);
	snprintf(c.master_public, sizeof c.master_public, "%s", p);
	int rc = st_server_config_check_no_master_secret(&c, &e);
	unlink(p);
	rmdir(other);
	assert_fails_with(rc, ST_E_MASTER_SECRET, &e, "master.pub");
}

static void loopback_detection(void **s)
{
	(void)s;
	static const char *const yes[] = {
		"127.0.0.1:8443", "127.1.2.3:1", "[::1]:8443", "localhost:80",
		"[::ffff:127.0.0.1]:5", "127.0.0.1", "::1"};
	static const char *const no[] = {
		"0.0.0.0:8443", "10.0.0.1:8443", "[::]:8443", "example.com:443",
		"128.0.0.1:1", "localhost.example.com:1", "", "[::2]:1"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!st_server_config_listen_is_loopback(yes[i]))
			fail_msg("%s should be loopback", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (st_server_config_listen_is_loopback(no[i]))
			fail_msg("%s should not be loopback", no[i]);
	assert_false(st_server_config_listen_is_loopback(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(defaults_lie_under_the_folder,
						setup, teardown),
		cmocka_unit_test_setup_teardown(save_then_load_round_trips,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			relative_paths_resolve_against_the_folder, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			every_bad_key_or_value_is_refused_by_name, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			load_refuses_open_folder_and_missing_config, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			master_secret_found_in_folder_and_one_below, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			master_public_holding_a_secret_is_refused, setup,
			teardown),
		cmocka_unit_test(loopback_detection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
