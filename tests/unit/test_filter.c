/* test_filter.c - the privacy filter on an open segment: line
 * reconstruction, redaction spans, secret contexts, level 4, excluded apps,
 * titles, timing, carry of an unfinished line. Real detector, real data. */
#include "helpers.h"

#include <stdlib.h>

#include "filter/filter.h"

#define XK_Return 0xff0d
#define XK_BackSpace 0xff08
#define XK_Left 0xff51
#define MS 1

#include "detector_fixture.h"

struct seg {
	struct st_events evs;
	uint64_t t;
};

static void seg_init(struct seg *g)
{
	st_events_init(&g->evs, true);
	g->evs.tick_ns = 1000000;
	g->t = 0;
}

static uint32_t str(struct seg *g, const char *s)
{
	uint32_t id = 0;
	assert_int_equal(st_events_intern(&g->evs, s, strlen(s), &id, NULL), 0);
	return id;
}

static void push(struct seg *g, struct st_event e)
{
	e.t = g->t;
	assert_int_equal(st_events_push(&g->evs, &e, NULL), 0);
}

static void focus(struct seg *g, const char *app, const char *cls,
		  const char *title)
{
	struct st_event e = {.type = ST_EV_FOCUS};
	e.u.focus.app = str(g, app);
	e.u.focus.cls = str(g, cls);
	e.u.focus.title = str(g, title);
	e.u.focus.pid = 42;
	g->t += 10;
	push(g, e);
}

static void key(struct seg *g, uint32_t code, uint32_t sym, uint32_t mods,
		const char *text)
{
	struct st_event e = {.type = ST_EV_KEY_PRESS};
	e.u.key.keycode = code, e.u.key.keysym = sym, e.u.key.mods = mods;
	e.u.key.text = text ? str(g, text) : 0;
	g->t += 37;
	push(g, e);
	e.type = ST_EV_KEY_RELEASE;
	e.u.key.text = 0;
	g->t += 23;
	push(g, e);
}

/* Types s (ASCII), one key per character, keycode = 100 + char. */
static void type(struct seg *g, const char *s)
{
	for (; *s; s++) {
		char t[2] = {*s, 0};
		key(g, 100 + (uint8_t)*s % 100, (uint8_t)*s, 0, t);
	}
}

static void enter(struct seg *g)
{
	key(g, 36, XK_Return, 0, NULL);
}

static struct st_filter *mkfilter(uint8_t keep, const char *const *excl,
				  size_t nexcl)
{
	static const char *const priv[] = {"signal*", "*whatsapp*"};
	struct st_filter_cfg c = {
		.exclude = excl, .n_exclude = nexcl,
		.private_chat = priv, .n_private_chat = 2,
		.keep_level = keep, .key_coarsen_ms = 50,
	};
	struct st_filter *f;
	struct st_error e = {0};
	if (st_filter_new(&c, det, &f, &e) < 0)
		fail_msg("filter: %s", e.msg);
	return f;
}

/* The typed text of the kept key presses. */
static void text_of(struct st_events *evs, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < evs->n && o + 8 < cap; i++) {
		if (evs->ev[i].type != ST_EV_KEY_PRESS)
			continue;
		size_t l;
		const char *s = st_events_str(evs, evs->ev[i].u.key.text, &l);
		if (s)
			memcpy(out + o, s, l), o += l;
		if (evs->ev[i].u.key.keysym == XK_Return)
			out[o++] = '\n';
	}
	out[o] = 0;
}

static size_t count(struct st_events *evs, uint8_t type, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < evs->n; i++)
		if (evs->ev[i].type == type &&
		    (kind < 0 || (type == ST_EV_REDACTION &&
				  evs->ev[i].u.redact.kind == kind) ||
		     (type == ST_EV_SESSION && evs->ev[i].u.session.reason == kind)))
			n++;
	return n;
}

static void run(struct st_filter *f, struct seg *g, uint8_t *level)
{
	struct st_error e = {0};
	if (st_filter_apply(f, &g->evs, true, NULL, level, &e) < 0)
		fail_msg("apply: %s", e.msg);
	for (size_t i = 1; i < g->evs.n; i++)
		assert_true(g->evs.ev[i].t >= g->evs.ev[i - 1].t);
}

static void email_span_becomes_one_marker_rest_kept(void **s)
{
	(void)s;
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "mail bob.smith@example.org today");
	enter(&g);
	struct st_filter *f = mkfilter(2, NULL, 0);
	uint8_t level;
	run(f, &g, &level);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "mail  today\n");
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_EMAIL), 1);
	/* no key event of the span is left: no 'b','o','b' codes either */
	for (size_t i = 0; i < g.evs.n; i++)
		if (g.evs.ev[i].type == ST_EV_KEY_PRESS ||
		    g.evs.ev[i].type == ST_EV_KEY_RELEASE)
			assert_int_not_equal(g.evs.ev[i].u.key.keysym, '@');
	assert_int_equal(level, 2);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void keyword_at_the_end_removes_the_whole_sentence(void **s)
{
	(void)s;
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "notes");
	type(&g, "ls");
	enter(&g);
	type(&g, "the results came back and the biopsy shows cancer");
	enter(&g);
	struct st_filter *f = mkfilter(3, NULL, 0);
	run(f, &g, NULL);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "ls\n"); /* the level-4 line and its Enter */
	assert_int_equal(count(&g.evs, ST_EV_SESSION, ST_REASON_LEVEL4), 1);
	/* and the window's title is gone from the segment */
	for (size_t i = 0; i < g.evs.n; i++)
		if (g.evs.ev[i].type == ST_EV_FOCUS)
			assert_int_equal(g.evs.ev[i].u.focus.title,
					 g.evs.ev[i].u.focus.cls);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void line_after_sudo_is_a_password_even_across_segments(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "sudo apt update");
	enter(&g);
	run(f, &g, NULL);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "sudo apt update\n");
	st_events_fini(&g.evs);
	/* the prompt's answer arrives in the next segment */
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "correct horse battery");
	enter(&g);
	type(&g, "ls");
	enter(&g);
	run(f, &g, NULL);
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "\nls\n"); /* Enter kept, the secret not */
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_PASSWORD), 1);
	for (size_t i = 0; i < g.evs.n; i++)
		if (g.evs.ev[i].type == ST_EV_REDACTION)
			assert_int_equal(g.evs.ev[i].u.redact.len_class,
					 ST_LEN_17_PLUS);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void login_window_and_inline_passwords_are_dropped(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "firefox", "Firefox", "Sign in - Payroll");
	type(&g, "tr0ub4dor");
	enter(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "mysql -u root -pS3cretValue db");
	enter(&g);
	type(&g, "git clone https://bob:S3cret@host/x.git");
	enter(&g);
	run(f, &g, NULL);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_null(strstr(txt, "tr0ub"));
	assert_null(strstr(txt, "S3cret"));
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_PASSWORD), 3);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void credential_drops_the_line_keys_and_timing(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "export KEY=AKIAIOSFODNN7EXAMPLE");
	enter(&g);
	run(f, &g, NULL);
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_AWS_KEY), 1);
	/* only the Enter is left of the line's keys */
	assert_int_equal(count(&g.evs, ST_EV_KEY_PRESS, -1), 1);
	assert_int_equal(count(&g.evs, ST_EV_KEY_RELEASE, -1), 1);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void level3_kept_only_when_the_policy_keeps_it(void **s)
{
	(void)s;
	for (uint8_t keep = 2; keep <= 3; keep++) {
		struct st_filter *f = mkfilter(keep, NULL, 0);
		struct seg g;
		seg_init(&g);
		focus(&g, "writer", "Writer", "notes");
		type(&g, "prepare the performance review for the team");
		enter(&g);
		uint8_t level;
		run(f, &g, &level);
		char txt[256];
		text_of(&g.evs, txt, sizeof txt);
		if (keep == 3) {
			assert_int_equal(level, 3);
			assert_non_null(strstr(txt, "performance review"));
		} else {
			assert_true(level <= 2);
			assert_null(strstr(txt, "performance"));
		}
		st_filter_free(f);
		st_events_fini(&g.evs);
	}
}

static void excluded_app_leaves_only_its_focus_and_class(void **s)
{
	(void)s;
	static const char *const excl[] = {"keepassxc*", "*bank*"};
	struct st_filter *f = mkfilter(2, excl, 2);
	struct seg g;
	seg_init(&g);
	focus(&g, "keepassxc", "KeePassXC", "Passwords.kdbx - KeePassXC");
	type(&g, "vault entry");
	struct st_event c = {.type = ST_EV_BUTTON_PRESS};
	c.u.btn.x = 5, c.u.btn.y = 6, c.u.btn.button = 1;
	push(&g, c);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "ok");
	enter(&g);
	run(f, &g, NULL);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "ok\n");
	assert_int_equal(count(&g.evs, ST_EV_BUTTON_PRESS, -1), 0);
	assert_int_equal(count(&g.evs, ST_EV_SESSION, ST_REASON_EXCLUDED), 1);
	size_t l;
	const char *t = st_events_str(&g.evs, g.evs.ev[0].u.focus.title, &l);
	assert_int_equal(l, 9);
	assert_memory_equal(t, "KeePassXC", 9);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void private_chat_typing_is_level4(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(3, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "signal", "Signal", "Chat with Sam");
	type(&g, "see you tonight");
	enter(&g);
	run(f, &g, NULL);
	assert_int_equal(count(&g.evs, ST_EV_KEY_PRESS, -1), 0);
	assert_int_equal(count(&g.evs, ST_EV_SESSION, ST_REASON_LEVEL4), 1);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void backspace_and_cursor_keys(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	/* a card typed with a typo corrected by BackSpace */
	type(&g, "pay 4111 1111 1111 1112");
	key(&g, 22, XK_BackSpace, 0, NULL);
	type(&g, "1 now");
	enter(&g);
	/* an email typed, then the cursor moved: the whole line goes */
	type(&g, "to ann@example.com");
	key(&g, 113, XK_Left, 0, NULL);
	type(&g, "x");
	enter(&g);
	run(f, &g, NULL);
	char txt[256];
	text_of(&g.evs, txt, sizeof txt);
	assert_string_equal(txt, "pay  now\n\n");
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_CARD), 1);
	assert_int_equal(count(&g.evs, ST_EV_REDACTION, ST_DET_EMAIL), 1);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void titles_are_filtered(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "mail", "Mail", "Re: invoice - ann@example.com - Mail");
	run(f, &g, NULL);
	size_t l;
	const char *t = st_events_str(&g.evs, g.evs.ev[0].u.focus.title, &l);
	char buf[256];
	memcpy(buf, t, l);
	buf[l] = 0;
	assert_string_equal(buf, "Re: invoice - [email] - Mail");
	st_filter_free(f);
	st_events_fini(&g.evs);
}

static void unfinished_line_is_carried_then_judged_whole(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "ls");
	enter(&g);
	type(&g, "my card is 4111 1111");
	size_t carry;
	struct st_error e = {0};
	assert_int_equal(st_filter_apply(f, &g.evs, true, &carry, NULL, &e), 0);
	assert_true(carry < g.evs.n);
	/* everything before the carry is the finished line */
	for (size_t i = carry; i < g.evs.n; i++)
		assert_true(g.evs.ev[i].type == ST_EV_KEY_PRESS ||
			    g.evs.ev[i].type == ST_EV_KEY_RELEASE);
	/* without carry (a pause), the same line is judged now */
	struct seg h;
	seg_init(&h);
	focus(&h, "xterm", "XTerm", "bash");
	type(&h, "my card is 4111 1111 1111 1111");
	run(f, &h, NULL);
	assert_int_equal(count(&h.evs, ST_EV_REDACTION, ST_DET_CARD), 1);
	st_filter_free(f);
	st_events_fini(&g.evs);
	st_events_fini(&h.evs);
}

static void key_timing_is_coarsened(void **s)
{
	(void)s;
	struct st_filter *f = mkfilter(2, NULL, 0);
	struct seg g;
	seg_init(&g);
	focus(&g, "xterm", "XTerm", "bash");
	type(&g, "hello");
	enter(&g);
	run(f, &g, NULL);
	/* on a 50 ms grid, or held at the time of the event before it
	 * (rounding down never reorders events) */
	size_t on_grid = 0;
	for (size_t i = 1; i < g.evs.n; i++)
		if (g.evs.ev[i].type == ST_EV_KEY_PRESS ||
		    g.evs.ev[i].type == ST_EV_KEY_RELEASE) {
			uint64_t t = g.evs.ev[i].t;
			assert_true(t % 50 == 0 || t == g.evs.ev[i - 1].t);
			on_grid += t % 50 == 0;
		}
	assert_true(on_grid >= 8);
	st_filter_free(f);
	st_events_fini(&g.evs);
}

/* Passwords by context: the line after a prompting command, a login
 * window, an inline password. Each case types a secret; it counts as found
 * when none of the secret's characters survive as text. */
static void passwords_by_context_recall(void **s)
{
	(void)s;
	static const struct {
		const char *title, *cls, *before, *secret;
	} c[] = {
		{"bash", "XTerm", "sudo apt update", "Tr0ub4dor&3"},
		{"bash", "XTerm", "sudo -i", "hunter2hunter2"},
		{"bash", "XTerm", "su -", "correcthorse9"},
		{"bash", "XTerm", "su postgres", "pgAdmin!2024"},
		{"bash", "XTerm", "ssh alice@build01", "s3cretSsh"},
		{"bash", "XTerm", "scp notes.txt bob@host:", "scpPass77"},
		{"bash", "XTerm", "passwd", "NewPassw0rd"},
		{"bash", "XTerm", "kinit alice@CORP.EXAMPLE", "kerbPw42x"},
		{"bash", "XTerm", "ssh-add ~/.ssh/id_ed25519", "keyphrase here"},
		{"bash", "XTerm", "gpg -d secrets.gpg", "gpgphrase1"},
		{"bash", "XTerm", "mysql -u root -p", "rootDBpw"},
		{"bash", "XTerm", "psql -h db -U app -W", "appDBpw9"},
		{"bash", "XTerm", "docker login registry.example.com", "regPw123"},
		{"bash", "XTerm", "doas reboot", "doasPw55"},
		{"bash", "XTerm", "git push origin main", "ghPushPw1"},
		{"Sign in - Payroll", "XTerm", NULL, "PayrollPw1"},
		{"Login - Intranet", "Firefox", NULL, "intranetPw"},
		{"Log in to your account", "Chromium", NULL, "chromePw12"},
		{"Password required", "Zenity", NULL, "zenityPw"},
		{"Unlock Keyring", "Gcr-prompter", NULL, "keyringPw"},
		{"Authentication Required", "Polkit-gnome", NULL, "polkitPw1"},
		{"Enter passphrase", "Pinentry", NULL, "pinentryPw"},
		{"Two-factor authentication", "Firefox", NULL, "482913"},
		{"bash", "XTerm", NULL, "mysql -uroot -pInlinePw1 db"},
		{"bash", "XTerm", NULL, "PGPASSWORD=pgInline9 psql app"},
		{"bash", "XTerm", NULL, "curl -u bob:curlPw77 https://x"},
		{"bash", "XTerm", NULL, "git clone https://bob:gitPw88@host/r.git"},
		{"bash", "XTerm", NULL, "sshpass -p sshpassPw ssh host"},
		{"bash", "XTerm", NULL, "app --password=flagPw99"},
		{"bash", "XTerm", NULL, "export MYSQL_PWD=envPw123"},
	};
	size_t n = sizeof c / sizeof *c, found = 0;
	for (size_t i = 0; i < n; i++) {
		struct st_filter *f = mkfilter(2, NULL, 0);
		struct seg g;
		seg_init(&g);
		focus(&g, "app", c[i].cls, c[i].title);
		if (c[i].before) {
			type(&g, c[i].before);
			enter(&g);
		}
		type(&g, c[i].secret);
		enter(&g);
		run(f, &g, NULL);
		char txt[512];
		text_of(&g.evs, txt, sizeof txt);
		/* the distinctive part of the secret: its last 5 characters */
		const char *tail = c[i].secret + strlen(c[i].secret) - 5;
		if (!strstr(txt, tail))
			found++;
		else
			print_message("# missed password by context: case %zu\n", i);
		st_filter_free(f);
		st_events_fini(&g.evs);
	}
	double recall = (double)found / (double)n;
	print_message("passwords_by_context_recall: %.3f ratio (%zu of %zu)\n",
		      recall, found, n);
	assert_true(recall >= 0.95);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(email_span_becomes_one_marker_rest_kept),
		cmocka_unit_test(keyword_at_the_end_removes_the_whole_sentence),
		cmocka_unit_test(line_after_sudo_is_a_password_even_across_segments),
		cmocka_unit_test(login_window_and_inline_passwords_are_dropped),
		cmocka_unit_test(credential_drops_the_line_keys_and_timing),
		cmocka_unit_test(level3_kept_only_when_the_policy_keeps_it),
		cmocka_unit_test(excluded_app_leaves_only_its_focus_and_class),
		cmocka_unit_test(private_chat_typing_is_level4),
		cmocka_unit_test(backspace_and_cursor_keys),
		cmocka_unit_test(titles_are_filtered),
		cmocka_unit_test(unfinished_line_is_carried_then_judged_whole),
		cmocka_unit_test(key_timing_is_coarsened),
		cmocka_unit_test(passwords_by_context_recall),
	};
	return cmocka_run_group_tests(t, setup, teardown);
}
