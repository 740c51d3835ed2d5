/* test_admin.c - the administration commands' own parsing, without a
 * server: where the connection comes from (flags > environment > config
 * file, part by part), the config file's 0600 rule, URL checks, durations,
 * usage errors, and backup's refusal to replace a file. The API calls are
 * covered by the integration tests against a real server.
 *
 * Includes admin.c to reach its static functions. */
#include "helpers.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/admin.c"

static char dir[256], cfg[300];
static const char tok_flag[] = "sta_FLAGFLAGFLAGFLAGFLAGFLAGFLAGFLAGFLAGFLAGFLA";
static const char tok_env[] = "sta_ENVENVENVENVENVENVENVENVENVENVENVENVENVENV";
static const char tok_file[] = "sta_FILEFILEFILEFILEFILEFILEFILEFILEFILEFILEFI";

static void clear_env(void)
{
	unsetenv("SEALTRACE_URL");
	unsetenv("SEALTRACE_TOKEN");
	unsetenv("SEALTRACE_CA");
	unsetenv("SEALTRACE_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
}

static int setup(void **s)
{
	(void)s;
	strcpy(dir, "/tmp/st-admin-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cfg, sizeof cfg, "%s/admin.json", dir);
	clear_env();
	setenv("HOME", dir, 1); /* no stray ~/.config in the way */
	return 0;
}

static int teardown(void **s)
{
	(void)s;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	clear_env();
	return system(cmd);
}

static void write_cfg(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void full_file(void)
{
	char text[512];
	snprintf(text, sizeof text,
		 "{\"url\": \"https://file.example:8443/\", \"token\": \"%s\", "
		 "\"ca\": \"ca-file.pem\"}", tok_file);
	write_cfg(cfg, text, 0600);
}

static void flags_beat_env_beat_file_part_by_part(void **s)
{
	(void)s;
	full_file();
	struct admin_target t;
	struct st_error e = {0};
	struct st_admin_conn c = {.config = cfg};
	/* the file alone; its relative ca is beside it; no trailing / */
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	assert_string_equal(t.url, "https://file.example:8443");
	assert_string_equal(t.token, tok_file);
	char want[600];
	snprintf(want, sizeof want, "%s/ca-file.pem", dir);
	assert_string_equal(t.ca, want);
	target_fini(&t);
	/* the environment beats the file, part by part */
	setenv("SEALTRACE_URL", "https://env.example", 1);
	setenv("SEALTRACE_TOKEN", tok_env, 1);
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	assert_string_equal(t.url, "https://env.example");
	assert_string_equal(t.token, tok_env);
	assert_string_equal(t.ca, want);
	target_fini(&t);
	setenv("SEALTRACE_CA", "/env/ca.pem", 1);
	/* flags beat both */
	c.url = "https://flag.example";
	c.token = tok_flag;
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	assert_string_equal(t.url, "https://flag.example");
	assert_string_equal(t.token, tok_flag);
	assert_string_equal(t.ca, "/env/ca.pem");
	target_fini(&t);
	c.ca = "/flag/ca.pem";
	c.timeout_ms = 5000;
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	assert_string_equal(t.ca, "/flag/ca.pem");
	assert_int_equal(t.timeout_ms, 5000);
	target_fini(&t);
}

static void config_file_found_by_env_and_xdg(void **s)
{
	(void)s;
	full_file();
	struct admin_target t;
	struct st_error e = {0};
	setenv("SEALTRACE_CONFIG", cfg, 1);
	assert_int_equal(resolve_target(NULL, &t, &e), 0);
	assert_string_equal(t.token, tok_file);
	target_fini(&t);
	unsetenv("SEALTRACE_CONFIG");
	char xdg[300], sub[400], file[450];
	snprintf(xdg, sizeof xdg, "%s/xdg", dir);
	snprintf(sub, sizeof sub, "%s/sealtrace", xdg);
	snprintf(file, sizeof file, "%s/admin.json", sub);
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_cfg(file, "{\"url\": \"https://xdg.example\", \"token\": "
		  "\"sta_x\"}", 0600);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	assert_int_equal(resolve_target(NULL, &t, &e), 0);
	assert_string_equal(t.url, "https://xdg.example");
	assert_string_equal(t.config, file);
	target_fini(&t);
	/* without XDG_CONFIG_HOME: ~/.config */
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(resolve_target(NULL, &t, &e), ADMIN_E_USAGE);
	target_fini(&t);
	snprintf(sub, sizeof sub, "%s/.config", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof sub, "%s/.config/sealtrace", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(file, sizeof file, "%s/admin.json", sub);
	write_cfg(file, "{\"url\": \"https://home.example\", \"token\": "
		  "\"sta_x\"}", 0600);
	assert_int_equal(resolve_target(NULL, &t, &e), 0);
	assert_string_equal(t.url, "https://home.example");
	target_fini(&t);
}

static void config_file_readable_by_others_is_refused(void **s)
{
	(void)s;
	static const mode_t loose[] = {0640, 0604, 0620, 0644, 0660};
	struct admin_target t;
	struct st_error e = {0};
	struct st_admin_conn c = {.config = cfg};
	for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
		full_file();
		chmod(cfg, loose[i]);
		assert_fails_with(resolve_target(&c, &t, &e), ST_E_KEY_MODE, &e,
				  "chmod 600");
		assert_non_null(strstr(e.msg, cfg));
		target_fini(&t);
	}
	/* also when found by default, and only needed for some part */
	chmod(cfg, 0644);
	setenv("SEALTRACE_CONFIG", cfg, 1);
	c.config = NULL;
	c.url = "https://flag.example";
	assert_fails_with(resolve_target(&c, &t, &e), ST_E_KEY_MODE, &e,
			  "chmod 600");
	target_fini(&t);
}

static void config_file_problems_are_named(void **s)
{
	(void)s;
	struct admin_target t;
	struct st_error e = {0};
	struct st_admin_conn c = {.config = cfg};
	assert_fails_with(resolve_target(&c, &t, &e), -ENOENT, &e, cfg);
	target_fini(&t);
	write_cfg(cfg, "{\"url\": \"https://x\", \"tokn\": \"sta_x\"}", 0600);
	assert_fails_with(resolve_target(&c, &t, &e), ST_E_JSON, &e, "tokn");
	target_fini(&t);
	write_cfg(cfg, "{\"url\": 5}", 0600);
	assert_fails_with(resolve_target(&c, &t, &e), ST_E_JSON, &e, "url");
	target_fini(&t);
	write_cfg(cfg, "not json", 0600);
	assert_fails_with(resolve_target(&c, &t, &e), ST_E_JSON, &e,
			  "JSON object");
	target_fini(&t);
}

static void missing_parts_and_bad_urls_are_usage_errors(void **s)
{
	(void)s;
	struct admin_target t;
	struct st_error e = {0};
	struct st_admin_conn c = {.token = tok_flag};
	assert_fails_with(resolve_target(&c, &t, &e), ADMIN_E_USAGE, &e,
			  "SEALTRACE_URL");
	target_fini(&t);
	c = (struct st_admin_conn){.url = "https://a.example"};
	assert_fails_with(resolve_target(&c, &t, &e), ADMIN_E_USAGE, &e,
			  "SEALTRACE_TOKEN");
	target_fini(&t);
	c.token = tok_flag;
	c.url = "ftp://a.example";
	assert_fails_with(resolve_target(&c, &t, &e), ADMIN_E_USAGE, &e,
			  "https://");
	target_fini(&t);
	/* plain http would carry the token in clear: loopback only */
	c.url = "http://server.example:8080";
	assert_fails_with(resolve_target(&c, &t, &e), ADMIN_E_USAGE, &e,
			  "in clear");
	target_fini(&t);
	c.url = "http://127.0.0.1:8080/";
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	assert_string_equal(t.url, "http://127.0.0.1:8080");
	target_fini(&t);
	c.url = "http://[::1]:8080";
	assert_int_equal(resolve_target(&c, &t, &e), 0);
	target_fini(&t);
}

static void durations(void **s)
{
	(void)s;
	assert_int_equal(adm_parse_duration("90"), 90);
	assert_int_equal(adm_parse_duration("90s"), 90);
	assert_int_equal(adm_parse_duration("30m"), 1800);
	assert_int_equal(adm_parse_duration("24h"), 86400);
	assert_int_equal(adm_parse_duration("7d"), 604800);
	static const char *const bad[] = {"", "h", "-5m", "5 m", "5x", "1.5h",
					  "99999999999999999999", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(adm_parse_duration(bad[i]), -1);
}

static void usage_errors_before_any_network(void **s)
{
	(void)s;
	struct st_admin_conn c = {.url = "https://127.0.0.1:1",
				  .token = tok_flag, .timeout_ms = 1000};
	char *unknown[] = {"user", "remove", "x"};
	char *extra[] = {"status", "now"};
	char *add_no_name[] = {"user", "add"};
	char *add_two[] = {"user", "add", "a@x", "b@x"};
	char *revoke_bad[] = {"device", "revoke", "../../admin/backup"};
	char *ttl_bad[] = {"enroll-token", "--user", "a@x", "--ttl", "31d"};
	char *ttl_short[] = {"enroll-token", "--user", "a@x", "--ttl", "0s"};
	char *no_user[] = {"enroll-token"};
	char *no_out[] = {"backup"};
	char *pause_no_scope[] = {"pause", "--reason", "r"};
	char *pause_two[] = {"pause", "--all", "--user", "a@x", "--reason",
			     "r"};
	char *pause_no_reason[] = {"pause", "--group", "eng"};
	char *pause_odd[] = {"pause", "--all", "--reason", "r", "--now"};
	char *resume_no_scope[] = {"resume", "--reason", "r"};
	struct {
		char **argv;
		int argc;
		const char *word;
	} cases[] = {
		{unknown, 3, "not a command"},   {extra, 2, "not a command"},
		{add_no_name, 2, "NAME"},        {add_two, 4, "one NAME"},
		{revoke_bad, 3, "not a device ID"}, {ttl_bad, 5, "--ttl"},
		{ttl_short, 5, "--ttl"},         {no_user, 1, "--user"},
		{no_out, 1, "--out"},
		{pause_no_scope, 3, "exactly one of --all"},
		{pause_two, 6, "exactly one of --all"},
		{pause_no_reason, 3, "--reason"},
		{pause_odd, 5, "--now"},
		{resume_no_scope, 3, "exactly one of --all"},
	};
	FILE *out = tmpfile();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct st_error e = {0};
		int rc = st_admin_run(&c, cases[i].argc, cases[i].argv, 0, out,
				      &e);
		if (rc != ADMIN_E_USAGE || !strstr(e.msg, cases[i].word))
			fail_msg("case %zu: %d '%s'", i, rc, e.msg);
	}
	assert_int_equal(ftell(out), 0); /* nothing printed */
	fclose(out);
}

static void backup_refuses_an_existing_file_before_asking(void **s)
{
	(void)s;
	char file[300];
	snprintf(file, sizeof file, "%s/old.db", dir);
	write_cfg(file, "keep me", 0600);
	struct st_admin_conn c = {.url = "https://127.0.0.1:1",
				  .token = tok_flag, .timeout_ms = 1000};
	char *argv[] = {"backup", "--out", file};
	struct st_error e = {0};
	FILE *out = tmpfile();
	assert_fails_with(st_admin_run(&c, 3, argv, 0, out, &e), ST_E_EXISTS,
			  &e, "never replaces");
	fclose(out);
	/* the writer itself: 0600, and no replacing even at the last step */
	char fresh[300];
	snprintf(fresh, sizeof fresh, "%s/new.db", dir);
	mode_t old = umask(0);
	assert_int_equal(adm_write_new_0600(fresh, (const uint8_t *)"abc", 3, &e), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(fresh, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 3);
	assert_fails_with(adm_write_new_0600(file, (const uint8_t *)"x", 1, &e),
			  -EEXIST, &e, "never replaces");
	FILE *f = fopen(file, "r");
	char back[16] = "";
	assert_non_null(fgets(back, sizeof back, f));
	fclose(f);
	assert_string_equal(back, "keep me");
	/* no temporary file left behind */
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls -A %s | grep -q sealtrace-backup", dir);
	assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(flags_beat_env_beat_file_part_by_part),
		T(config_file_found_by_env_and_xdg),
		T(config_file_readable_by_others_is_refused),
		T(config_file_problems_are_named),
		T(missing_parts_and_bad_urls_are_usage_errors),
		cmocka_unit_test(durations),
		T(usage_errors_before_any_network),
		T(backup_refuses_an_existing_file_before_asking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
