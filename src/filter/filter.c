/* filter.c - the privacy filter over one open segment.
 *
 * One pass over the events in time order. A focus event sets the window
 * (and has its title filtered); key events build that window's current line:
 * printable text appended, BackSpace removing the last character, cursor
 * keys, Delete and clicks making the line "uncertain" (the text may not be
 * what is on screen), paste shortcuts marking unknown content. Return, Enter
 * and Tab end a line; a focus change ends it too. An ended line is judged:
 *
 *   secret context (the line after sudo/su/ssh/passwd/..., a window whose
 *   title or class says password/login/sign in/..., a database client with
 *   an inline password)                 -> all its key events go, a marker
 *   private-chat application or a level-4 category   -> all its key events go,
 *                                          the window's titles too, a gap
 *   a credential                        -> all its key events go, a marker
 *   a level-3 category                  -> kept at level 3, or dropped when
 *                                          the policy keeps less
 *   personal data (card, IBAN, ...)     -> the keys of that span go (the
 *                                          whole line if uncertain), a marker
 *
 * A marker takes the place (and time) of the first key event it replaces and
 * carries a kind and a length class, never characters, key codes or per-key
 * timing. A key release goes wherever its press went. Key times are then
 * coarsened to buckets. A line still open at the cut moves whole into the
 * next segment (carry), within a bound.
 */
#include "filter.h"

#include <fnmatch.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define XK_BackSpace 0xff08
#define XK_Tab 0xff09
#define XK_Return 0xff0d
#define XK_KP_Enter 0xff8d
#define XK_Delete 0xffff
#define XK_Insert 0xff63
#define XK_Home 0xff50
#define XK_End 0xff57
#define XK_ISO_Left_Tab 0xfe20
#define MOD_SHIFT 0x01
#define MOD_CONTROL 0x04
#define MOD_ALT 0x08
#define KEYCODES 256

enum act { KEEP = 0, DROP = 1, REPLACE = 2 };

struct win {
	char key[2 * ST_NAME_MAX + 16];
	size_t keylen;
	bool expect_secret; /* the last line started a password prompt */
	bool title_hidden;  /* level-4 content was typed here */
	uint64_t used;
};

struct st_filter {
	char **include, **exclude, **private_chat;
	size_t n_include, n_exclude, n_private_chat;
	char **rule_match, **rule_replace;
	size_t n_rules;
	uint8_t keep_level;
	uint32_t coarsen_ms;
	uint64_t carry_ns;
	struct st_detector *det;
	struct win wins[ST_FILTER_WINDOWS_MAX];
	size_t n_wins;
	uint64_t use_clock;
	struct st_filter_stats st;
	/* plaintext scratch: locked, wiped after every line */
	char *text;          /* ST_FILTER_LINE_MAX + 8 */
	uint32_t *char_ev;   /* event index of each text byte */
	size_t *keys;        /* key events of the line */
	struct st_match *m;
};

struct pass {
	struct st_filter *f;
	struct st_events *evs;
	uint8_t *act;
	struct st_event *repl;
	int16_t *fwin;            /* window of each focus event, -1 otherwise */
	int win;                  /* current window, -1 none */
	bool excluded, private_chat, secret_win;
	bool excl_marked;         /* the excluded span has its gap marker */
	uint32_t cls_id;          /* class string of the current window */
	size_t press_of[KEYCODES]; /* pending release -> its press */
	/* the current line */
	size_t first;             /* first key event, SIZE_MAX: no line */
	size_t len, nkeys;
	bool uncertain, paste, overflow;
	bool level3;
};

static char *dupz(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char **dup_list(const char *const *v, size_t n)
{
	char **o = calloc(n ? n : 1, sizeof *o);
	for (size_t i = 0; o && i < n; i++)
		if (!(o[i] = dupz(v[i])))
			return NULL; /* leaks on OOM at start-up only */
	return o;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int st_filter_new(const struct st_filter_cfg *cfg, struct st_detector *det,
		  struct st_filter **out, struct st_error *err)
{
	*out = NULL;
	if (cfg->n_exclude > ST_FILTER_GLOBS_MAX ||
	    cfg->n_include > ST_FILTER_GLOBS_MAX ||
	    cfg->n_private_chat > ST_FILTER_GLOBS_MAX ||
	    cfg->n_title_rules > ST_FILTER_TITLE_RULES_MAX)
		return st_fail(err, ST_E_CAP,
			       "filter: more than %u app globs or %u title rules",
			       ST_FILTER_GLOBS_MAX, ST_FILTER_TITLE_RULES_MAX);
	if (cfg->keep_level < 1 || cfg->keep_level > 3)
		return st_fail(err, ST_E_INVAL,
			       "filter: highest level kept must be 1-3, not %u",
			       cfg->keep_level);
	if (!det)
		return st_fail(err, ST_E_INVAL, "filter: no detector");
	struct st_filter *f = calloc(1, sizeof *f);
	if (!f)
		return st_fail(err, ST_E_NOMEM, "filter: out of memory");
	f->det = det;
	f->keep_level = cfg->keep_level;
	f->coarsen_ms = cfg->key_coarsen_ms;
	f->carry_ns = cfg->carry_ns ? cfg->carry_ns : ST_FILTER_CARRY_NS_DEFAULT;
	f->n_include = cfg->n_include;
	f->include = dup_list(cfg->include, cfg->n_include);
	f->n_exclude = cfg->n_exclude;
	f->n_private_chat = cfg->n_private_chat;
	f->n_rules = cfg->n_title_rules;
	f->exclude = dup_list(cfg->exclude, cfg->n_exclude);
	f->private_chat = dup_list(cfg->private_chat, cfg->n_private_chat);
	f->rule_match = calloc(f->n_rules ? f->n_rules : 1, sizeof(char *));
	f->rule_replace = calloc(f->n_rules ? f->n_rules : 1, sizeof(char *));
	for (size_t i = 0; f->rule_match && f->rule_replace && i < f->n_rules; i++) {
		f->rule_match[i] = dupz(cfg->title_rules[i].match);
		f->rule_replace[i] = dupz(cfg->title_rules[i].replace);
	}
	if (sodium_init() >= 0) {
		f->text = sodium_malloc(ST_FILTER_LINE_MAX + 8);
		f->char_ev = sodium_malloc((ST_FILTER_LINE_MAX + 8) * sizeof(uint32_t));
		f->keys = sodium_malloc(ST_FILTER_LINE_KEYS_MAX * sizeof(size_t));
		f->m = sodium_malloc(ST_DETECT_MATCHES_MAX * sizeof(struct st_match));
	}
	if (!f->include || !f->exclude || !f->private_chat || !f->rule_match || !f->rule_replace ||
	    !f->text || !f->char_ev || !f->keys || !f->m) {
		st_filter_free(f);
		return st_fail(err, ST_E_NOMEM, "filter: out of memory");
	}
	*out = f;
	return 0;
}

void st_filter_free(struct st_filter *f)
{
	if (!f)
		return;
	free_list(f->include, f->n_include);
	free_list(f->exclude, f->n_exclude);
	free_list(f->private_chat, f->n_private_chat);
	free_list(f->rule_match, f->n_rules);
	free_list(f->rule_replace, f->n_rules);
	if (f->text)
		sodium_free(f->text);
	if (f->char_ev)
		sodium_free(f->char_ev);
	if (f->keys)
		sodium_free(f->keys);
	if (f->m)
		sodium_free(f->m);
	sodium_memzero(f->wins, sizeof f->wins); /* window classes */
	free(f);
}

void st_filter_stats(const struct st_filter *f, struct st_filter_stats *out)
{
	*out = f->st;
}

bool st_glob_match(const char *glob, const char *s, size_t len)
{
	char buf[ST_TITLE_MAX + 1];
	if (len > ST_TITLE_MAX)
		len = ST_TITLE_MAX;
	memcpy(buf, s, len);
	buf[len] = 0;
	return fnmatch(glob, buf, FNM_CASEFOLD) == 0;
}

static uint8_t len_class(size_t n)
{
	return n <= 8 ? ST_LEN_1_8 : n <= 16 ? ST_LEN_9_16 : ST_LEN_17_PLUS;
}

static bool word_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Case-insensitive whole-word search (letters, digits, _ bound a word). */
static bool has_word(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++) {
		if (strncasecmp(s + i, w, wl) != 0)
			continue;
		bool l = i == 0 || !word_char(s[i - 1]);
		bool r = i + wl >= n || !word_char(s[i + wl]);
		if (l && r)
			return true;
	}
	return false;
}

/* Windows where whatever is typed is a secret. */
static const char *const secret_words[] = {
	"password", "passwort", "passphrase", "passcode", "login", "log in",
	"logon", "sign in", "signin", "sign-in", "unlock", "authenticate",
	"authentication", "credentials", "pinentry", "2fa", "otp", "one-time",
	"mot de passe", "contraseña", "keyring", "sudo",
};

static bool secret_text(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof secret_words / sizeof *secret_words; i++)
		if (has_word(s, n, secret_words[i]))
			return true;
	return false;
}

/* First word of a command line, after spaces and VAR=value assignments. */
static const char *first_word(const char *s, size_t n, size_t *wl)
{
	size_t i = 0;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t j = i;
		while (j < n && s[j] != ' ' && s[j] != '\t')
			j++;
		if (j > i && memchr(s + i, '=', j - i) && s[i] != '-') {
			i = j; /* an environment assignment */
			continue;
		}
		*wl = j - i;
		return s + i;
	}
}

static bool word_is(const char *w, size_t wl, const char *x)
{
	return wl == strlen(x) && memcmp(w, x, wl) == 0;
}

static bool contains(const char *s, size_t n, const char *x)
{
	return memmem(s, n, x, strlen(x)) != NULL;
}

/* A command after which the terminal asks for a password. */
static bool prompts_secret(const char *s, size_t n)
{
	static const char *const cmds[] = {
		"sudo", "su", "doas", "ssh", "scp", "sftp", "passwd", "kinit",
		"ssh-add", "ssh-keygen", "gpg", "ftp", "telnet", "pkexec",
		"chpasswd", "htpasswd", "openssl", "vault", "mysql", "mariadb",
		"psql", "docker", "podman", "npm", "git", "ldapsearch", "smbclient",
	};
	size_t wl;
	const char *w = first_word(s, n, &wl);
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		if (!word_is(w, wl, cmds[i]))
			continue;
		/* these ask only in some forms */
		if (!strcmp(cmds[i], "mysql") || !strcmp(cmds[i], "mariadb"))
			return has_word(s, n, "-p") || contains(s, n, "--password");
		if (!strcmp(cmds[i], "psql"))
			return has_word(s, n, "-W") || contains(s, n, "--password");
		if (!strcmp(cmds[i], "docker") || !strcmp(cmds[i], "podman") ||
		    !strcmp(cmds[i], "npm") || !strcmp(cmds[i], "vault"))
			return has_word(s, n, "login");
		if (!strcmp(cmds[i], "git"))
			return has_word(s, n, "push") || has_word(s, n, "clone") ||
			       has_word(s, n, "pull") || has_word(s, n, "fetch");
		if (!strcmp(cmds[i], "openssl"))
			return contains(s, n, "-passin") || has_word(s, n, "genrsa") ||
			       has_word(s, n, "enc");
		if (!strcmp(cmds[i], "ssh-keygen") || !strcmp(cmds[i], "ldapsearch") ||
		    !strcmp(cmds[i], "smbclient"))
			return true;
		return true;
	}
	return false;
}

/* A password written into the command line itself. */
static bool inline_secret(const char *s, size_t n)
{
	size_t wl;
	const char *w = first_word(s, n, &wl);
	if (word_is(w, wl, "mysql") || word_is(w, wl, "mariadb") ||
	    word_is(w, wl, "mysqladmin") || word_is(w, wl, "mysqldump")) {
		/* -pSECRET (a -p followed directly by a value) */
		for (size_t i = 0; i + 2 < n; i++)
			if (s[i] == '-' && s[i + 1] == 'p' && s[i + 2] != ' ' &&
			    (i == 0 || s[i - 1] == ' '))
				return true;
	}
	static const char *const marks[] = {
		"--password=", "--passwd=", "PGPASSWORD=", "MYSQL_PWD=",
		"sshpass -p", "-passout pass:", "-passin pass:", "--token=",
		"--secret=", "password=", "passwd=", "pwd=",
	};
	for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
		if (contains(s, n, marks[i]))
			return true;
	/* scheme://user:secret@host */
	const char *p = memmem(s, n, "://", 3);
	if (p) {
		const char *end = s + n, *q = p + 3;
		const char *colon = NULL;
		for (; q < end && *q != '/' && *q != ' '; q++) {
			if (*q == ':' && !colon)
				colon = q;
			if (*q == '@' && colon)
				return true;
		}
	}
	/* curl -u user:secret */
	if (contains(s, n, " -u ") || contains(s, n, " --user ")) {
		const char *u = memmem(s, n, " -u ", 4);
		if (!u)
			u = memmem(s, n, " --user ", 8);
		const char *e = s + n;
		const char *q = u + 4;
		while (q < e && *q == ' ')
			q++;
		for (; q < e && *q != ' '; q++)
			if (*q == ':')
				return true;
	}
	return false;
}

static int find_win(struct st_filter *f, const char *key, size_t keylen)
{
	size_t oldest = 0;
	for (size_t i = 0; i < f->n_wins; i++) {
		if (f->wins[i].keylen == keylen && !memcmp(f->wins[i].key, key, keylen)) {
			f->wins[i].used = ++f->use_clock;
			return (int)i;
		}
		if (f->wins[i].used < f->wins[oldest].used)
			oldest = i;
	}
	size_t i = f->n_wins < ST_FILTER_WINDOWS_MAX ? f->n_wins++ : oldest;
	memset(&f->wins[i], 0, sizeof f->wins[i]);
	memcpy(f->wins[i].key, key, keylen);
	f->wins[i].keylen = keylen;
	f->wins[i].used = ++f->use_clock;
	return (int)i;
}

static bool any_glob(char *const *globs, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; s && i < n; i++)
		if (st_glob_match(globs[i], s, len))
			return true;
	return false;
}

static void mark(struct pass *p, size_t i, const struct st_event *marker)
{
	p->act[i] = REPLACE;
	p->repl[i] = *marker;
	p->repl[i].t = p->evs->ev[i].t;
}

static void redaction_at(struct pass *p, size_t i, uint16_t kind, size_t len)
{
	struct st_event m = {.type = ST_EV_REDACTION};
	m.u.redact.kind = kind;
	m.u.redact.len_class = len_class(len);
	mark(p, i, &m);
	p->f->st.redactions++;
	p->f->st.by_kind[kind & 0xff]++;
}

static void gap_at(struct pass *p, size_t i, uint16_t reason)
{
	struct st_event m = {.type = ST_EV_SESSION};
	m.u.session.marker = ST_SESSION_GAP;
	m.u.session.reason = reason;
	mark(p, i, &m);
}

static void reset_line(struct pass *p)
{
	struct st_filter *f = p->f;
	if (p->len)
		sodium_memzero(f->text, p->len);
	p->first = SIZE_MAX;
	p->len = p->nkeys = 0;
	p->uncertain = p->paste = p->overflow = false;
}

/* Drops every key event of the line (but keep_term, the terminator), the
 * first one becoming marker (a redaction, or a gap when gap is set). */
static void drop_line(struct pass *p, size_t keep_term, uint16_t kind, bool gap)
{
	struct st_filter *f = p->f;
	bool marked = false;
	for (size_t k = 0; k < p->nkeys; k++) {
		size_t i = f->keys[k];
		if (i == keep_term)
			continue;
		if (!marked) {
			if (gap)
				gap_at(p, i, ST_REASON_LEVEL4);
			else
				redaction_at(p, i, kind, p->len);
			marked = true;
		} else {
			p->act[i] = DROP;
		}
	}
}

/* Hides the window's titles in this segment (level-4 content). */
static void hide_titles(struct pass *p, int w)
{
	struct st_events *evs = p->evs;
	for (size_t i = 0; i < evs->n; i++)
		if (p->fwin[i] == w && evs->ev[i].type == ST_EV_FOCUS &&
		    evs->ev[i].u.focus.title != evs->ev[i].u.focus.cls) {
			evs->ev[i].u.focus.title = evs->ev[i].u.focus.cls;
			p->f->st.titles_replaced++;
		}
}

/* Judges the ended line. term: its terminator's index (SIZE_MAX: none). */
static int end_line(struct pass *p, size_t term, struct st_error *err)
{
	struct st_filter *f = p->f;
	if (p->first == SIZE_MAX || p->nkeys == 0) {
		reset_line(p);
		return 0;
	}
	f->st.lines++;
	struct win *w = p->win >= 0 ? &f->wins[p->win] : NULL;
	const char *s = f->text;
	size_t n = p->len;
	bool was_expecting = w && w->expect_secret;
	if (w)
		w->expect_secret = false;
	if (was_expecting || p->secret_win || inline_secret(s, n)) {
		/* a password by context: when in doubt, drop */
		drop_line(p, term, ST_DET_PASSWORD, false);
		f->st.lines_dropped_secret++;
		goto done;
	}
	if (p->private_chat) {
		drop_line(p, SIZE_MAX, 0, true);
		if (w)
			w->title_hidden = true;
		hide_titles(p, p->win);
		f->st.lines_dropped_level4++;
		goto done;
	}
	size_t nm = 0;
	int rc = st_detect(f->det, s, n, f->m, ST_DETECT_MATCHES_MAX, &nm, err);
	if (rc < 0) {
		/* the detector failed: nothing of this line may pass */
		drop_line(p, term, ST_DET_SECRET, false);
		reset_line(p);
		return rc;
	}
	enum st_detect_outcome worst = ST_OUT_NONE;
	uint16_t worst_kind = 0;
	size_t worst_len = 0;
	for (size_t i = 0; i < nm; i++) {
		enum st_detect_outcome o = st_detect_outcome(f->m[i].kind);
		/* order of severity: level 4, credential, level 3, redact */
		static const int rank[] = {[ST_OUT_NONE] = 0, [ST_OUT_REDACT] = 1,
					   [ST_OUT_LEVEL3] = 2,
					   [ST_OUT_CREDENTIAL] = 3,
					   [ST_OUT_LEVEL4] = 4};
		/* on a tie, a named kind says more than "secret" */
		if (rank[o] > rank[worst] ||
		    (rank[o] == rank[worst] && worst_kind == ST_DET_SECRET &&
		     f->m[i].kind != ST_DET_SECRET)) {
			worst = o;
			worst_kind = f->m[i].kind;
			worst_len = f->m[i].end - f->m[i].start;
		}
	}
	if (worst == ST_OUT_LEVEL4 ||
	    (worst == ST_OUT_LEVEL3 && f->keep_level < 3)) {
		drop_line(p, SIZE_MAX, 0, true);
		if (w)
			w->title_hidden = true;
		hide_titles(p, p->win);
		f->st.lines_dropped_level4++;
		goto done;
	}
	if (worst == ST_OUT_CREDENTIAL) {
		(void)worst_len;
		drop_line(p, term, worst_kind, false);
		f->st.lines_dropped_secret++;
		goto done;
	}
	if (worst == ST_OUT_LEVEL3)
		p->level3 = true;
	bool any_redact = false;
	for (size_t i = 0; i < nm; i++)
		if (st_detect_outcome(f->m[i].kind) == ST_OUT_REDACT)
			any_redact = true;
	if (any_redact && (p->uncertain || p->paste || p->overflow)) {
		/* positions may not be what was typed: the whole line goes */
		for (size_t i = 0; i < nm; i++)
			if (st_detect_outcome(f->m[i].kind) == ST_OUT_REDACT) {
				drop_line(p, term, f->m[i].kind, false);
				break;
			}
		goto done;
	}
	for (size_t i = 0; i < nm; i++) {
		struct st_match *m = &f->m[i];
		if (st_detect_outcome(m->kind) != ST_OUT_REDACT || m->end > n)
			continue;
		/* the presses of the span's characters, and every key event
		 * between the first and the last of them (typos, Shift) */
		size_t lo = f->char_ev[m->start], hi = f->char_ev[m->end - 1];
		bool marked = false;
		for (size_t k = 0; k < p->nkeys; k++) {
			size_t e = f->keys[k];
			if (e < lo || e > hi || e == term)
				continue;
			if (p->act[e] != KEEP)
				continue;
			if (!marked) {
				redaction_at(p, e, m->kind, m->end - m->start);
				marked = true;
			} else {
				p->act[e] = DROP;
			}
		}
	}
done:
	/* the next line in this window may be a password */
	if (w && prompts_secret(s, n))
		w->expect_secret = true;
	reset_line(p);
	return 0;
}

static void append_text(struct pass *p, size_t i, const char *t, size_t tl)
{
	struct st_filter *f = p->f;
	if (p->len + tl > ST_FILTER_LINE_MAX) {
		p->overflow = true;
		return;
	}
	memcpy(f->text + p->len, t, tl);
	for (size_t k = 0; k < tl; k++)
		f->char_ev[p->len + k] = (uint32_t)i;
	p->len += tl;
}

static void backspace(struct pass *p)
{
	struct st_filter *f = p->f;
	if (!p->len)
		return;
	size_t l = p->len - 1;
	while (l > 0 && ((unsigned char)f->text[l] & 0xc0) == 0x80)
		l--;
	sodium_memzero(f->text + l, p->len - l);
	p->len = l;
}

/* Filters one focus event's title and sets the current window. */
static int focus(struct pass *p, size_t i, struct st_error *err)
{
	struct st_filter *f = p->f;
	struct st_events *evs = p->evs;
	struct st_event *e = &evs->ev[i];
	size_t al, cl, tl;
	const char *app = st_events_str(evs, e->u.focus.app, &al);
	const char *cls = st_events_str(evs, e->u.focus.cls, &cl);
	const char *title = st_events_str(evs, e->u.focus.title, &tl);
	char key[2 * ST_NAME_MAX + 16];
	size_t kl = 0;
	memcpy(key + kl, cls ? cls : "", cl), kl += cl;
	key[kl++] = 0;
	memcpy(key + kl, app ? app : "", al), kl += al;
	key[kl++] = 0;
	memcpy(key + kl, &e->u.focus.pid, 4), kl += 4;
	p->win = find_win(f, key, kl);
	p->fwin[i] = (int16_t)p->win;
	p->cls_id = e->u.focus.cls;
	p->excluded = any_glob(f->exclude, f->n_exclude, cls, cl) ||
		      any_glob(f->exclude, f->n_exclude, app, al) ||
		      (f->n_include && !any_glob(f->include, f->n_include, cls, cl) &&
		       !any_glob(f->include, f->n_include, app, al));
	p->private_chat = any_glob(f->private_chat, f->n_private_chat, cls, cl) ||
			  any_glob(f->private_chat, f->n_private_chat, app, al);
	p->excl_marked = false;
	p->secret_win = secret_text(title ? title : "", tl) ||
			secret_text(cls ? cls : "", cl) ||
			secret_text(app ? app : "", al);
	if (!title)
		return 0;
	struct win *w = &f->wins[p->win];
	if (p->excluded || p->private_chat || w->title_hidden) {
		e->u.focus.title = e->u.focus.cls;
		f->st.titles_replaced++;
		return 0;
	}
	for (size_t r = 0; r < f->n_rules; r++) {
		if (st_glob_match(f->rule_match[r], title, tl)) {
			uint32_t id;
			int rc = st_events_intern(evs, f->rule_replace[r],
						  strlen(f->rule_replace[r]), &id, err);
			if (rc < 0)
				return rc;
			e->u.focus.title = id;
			f->st.titles_replaced++;
			return 0;
		}
	}
	size_t nm = 0;
	int rc = st_detect(f->det, title, tl, f->m, ST_DETECT_MATCHES_MAX, &nm, err);
	if (rc < 0 || nm == 0) {
		if (rc < 0) /* cannot tell: the title goes */
			e->u.focus.title = e->u.focus.cls;
		return rc;
	}
	enum st_detect_outcome worst = ST_OUT_NONE;
	for (size_t k = 0; k < nm; k++) {
		enum st_detect_outcome o = st_detect_outcome(f->m[k].kind);
		if (o == ST_OUT_LEVEL4 || (o == ST_OUT_LEVEL3 && f->keep_level < 3))
			worst = ST_OUT_LEVEL4;
		else if (o == ST_OUT_LEVEL3 && worst != ST_OUT_LEVEL4)
			p->level3 = true;
	}
	if (worst == ST_OUT_LEVEL4) {
		e->u.focus.title = e->u.focus.cls;
		f->st.titles_replaced++;
		return 0;
	}
	/* redact spans in place: "Invoice for [email]" */
	char out[ST_TITLE_MAX];
	size_t o = 0, at = 0;
	bool changed = false;
	for (size_t k = 0; k < nm; k++) {
		struct st_match *m = &f->m[k];
		enum st_detect_outcome oc = st_detect_outcome(m->kind);
		if ((oc != ST_OUT_REDACT && oc != ST_OUT_CREDENTIAL) ||
		    m->start < at || m->end > tl)
			continue;
		size_t pre = m->start - at;
		const char *name = st_detect_kind_name(m->kind);
		if (o + pre + strlen(name) + 2 > sizeof out)
			break;
		memcpy(out + o, title + at, pre), o += pre;
		out[o++] = '[';
		memcpy(out + o, name, strlen(name)), o += strlen(name);
		out[o++] = ']';
		at = m->end;
		changed = true;
	}
	if (!changed)
		return 0;
	size_t rest = tl - at;
	if (o + rest > sizeof out)
		rest = sizeof out - o;
	memcpy(out + o, title + at, rest), o += rest;
	/* keep whole UTF-8 characters only */
	char clean[ST_TITLE_MAX];
	size_t cn = st_utf8_sanitize(out, o, clean, sizeof clean);
	uint32_t id;
	rc = st_events_intern(evs, clean, cn, &id, err);
	sodium_memzero(out, sizeof out);
	sodium_memzero(clean, sizeof clean);
	if (rc < 0)
		return rc;
	e->u.focus.title = id;
	f->st.titles_replaced++;
	return 0;
}

static bool is_key(uint8_t t)
{
	return t == ST_EV_KEY_PRESS || t == ST_EV_KEY_RELEASE;
}

static bool is_pointer(uint8_t t)
{
	return t == ST_EV_POINTER || t == ST_EV_BUTTON_PRESS ||
	       t == ST_EV_BUTTON_RELEASE || t == ST_EV_SCROLL;
}

static int key(struct pass *p, size_t i, struct st_error *err)
{
	struct st_filter *f = p->f;
	struct st_event *e = &p->evs->ev[i];
	uint32_t kc = e->u.key.keycode % KEYCODES;
	if (e->type == ST_EV_KEY_RELEASE) {
		size_t pr = p->press_of[kc];
		p->press_of[kc] = SIZE_MAX;
		if (pr != SIZE_MAX && p->act[pr] != KEEP) {
			p->act[i] = DROP; /* a release goes where its press went */
			return 0;
		}
		if (pr != SIZE_MAX && p->first != SIZE_MAX && pr >= p->first &&
		    p->nkeys < ST_FILTER_LINE_KEYS_MAX)
			f->keys[p->nkeys++] = i;
		return 0;
	}
	p->press_of[kc] = i;
	if (p->first == SIZE_MAX)
		p->first = i;
	if (p->nkeys >= ST_FILTER_LINE_KEYS_MAX) {
		p->overflow = true;
		int rc = end_line(p, SIZE_MAX, err);
		if (rc < 0)
			return rc;
		p->first = i;
	}
	f->keys[p->nkeys++] = i;
	uint32_t ks = e->u.key.keysym, mods = e->u.key.mods;
	if (ks == XK_Return || ks == XK_KP_Enter || ks == XK_Tab ||
	    ks == XK_ISO_Left_Tab)
		return end_line(p, i, err);
	if (ks == XK_BackSpace) {
		backspace(p);
		return 0;
	}
	if ((ks >= 0xff50 && ks <= 0xff58) || ks == XK_Delete ||
	    (ks >= 0xff95 && ks <= 0xff9f)) {
		p->uncertain = true; /* cursor moved: the text is a guess */
		return 0;
	}
	if (((mods & MOD_CONTROL) && (ks == 'v' || ks == 'V')) ||
	    ((mods & MOD_SHIFT) && ks == XK_Insert)) {
		p->paste = true;
		append_text(p, i, "\x01", 1); /* unknown content: no bridging */
		return 0;
	}
	size_t tl;
	const char *t = st_events_str(p->evs, e->u.key.text, &tl);
	if (t && tl && !(mods & (MOD_CONTROL | MOD_ALT)))
		append_text(p, i, t, tl);
	if (p->overflow) {
		/* judge what we have and go on with a fresh line; a secret
		 * context never gets that far: it is dropped whole */
		int rc = end_line(p, SIZE_MAX, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void coarsen(struct st_filter *f, struct st_events *evs)
{
	if (!f->coarsen_ms)
		return;
	uint64_t bucket = (uint64_t)f->coarsen_ms * 1000000u / evs->tick_ns;
	if (bucket <= 1)
		return;
	uint64_t prev = 0;
	for (size_t i = 0; i < evs->n; i++) {
		struct st_event *e = &evs->ev[i];
		if (is_key(e->type)) {
			uint64_t t = e->t - e->t % bucket;
			e->t = t < prev ? prev : t;
		}
		prev = e->t;
	}
}

int st_filter_apply(struct st_filter *f, struct st_events *evs, bool final,
		    size_t *carry_from, uint8_t *level, struct st_error *err)
{
	if (carry_from)
		*carry_from = evs->n;
	/* carry_from NULL: an explicit cut (pause, flush, stop) judges every
	 * line now, even one still being typed */
	if (level)
		*level = 0;
	if (!final || evs->n == 0)
		return 0; /* only whole segments are judged (see filter.h) */
	struct pass p;
	memset(&p, 0, sizeof p);
	p.f = f;
	p.evs = evs;
	p.win = -1;
	p.first = SIZE_MAX;
	for (size_t k = 0; k < KEYCODES; k++)
		p.press_of[k] = SIZE_MAX;
	p.act = calloc(evs->n, 1);
	p.repl = calloc(evs->n, sizeof *p.repl);
	p.fwin = malloc(evs->n * sizeof *p.fwin);
	if (!p.act || !p.repl || !p.fwin) {
		free(p.act), free(p.repl), free(p.fwin);
		return st_fail(err, ST_E_NOMEM, "filter: out of memory");
	}
	for (size_t i = 0; i < evs->n; i++)
		p.fwin[i] = -1;
	int rc = 0;
	for (size_t i = 0; i < evs->n && rc == 0; i++) {
		struct st_event *e = &evs->ev[i];
		if (e->type == ST_EV_FOCUS) {
			if ((rc = end_line(&p, SIZE_MAX, err)) < 0)
				break;
			rc = focus(&p, i, err);
			continue;
		}
		if (p.excluded && (is_key(e->type) || is_pointer(e->type))) {
			/* an excluded app: only that it had focus, start
			 * (this focus event) and end (the next) */
			if (!p.excl_marked) {
				gap_at(&p, i, ST_REASON_EXCLUDED);
				p.excl_marked = true;
			} else {
				p.act[i] = DROP;
			}
			f->st.events_excluded++;
			continue;
		}
		if (is_key(e->type)) {
			rc = key(&p, i, err);
		} else if (e->type == ST_EV_BUTTON_PRESS && p.first != SIZE_MAX) {
			p.uncertain = true; /* a click may move the caret */
		}
	}
	size_t carry = evs->n;
	if (rc == 0 && p.first != SIZE_MAX) {
		uint64_t age = (evs->ev[evs->n - 1].t - evs->ev[p.first].t) *
			       evs->tick_ns;
		if (carry_from && age < f->carry_ns && !p.overflow) {
			carry = p.first; /* judged whole in the next segment */
			reset_line(&p);
		} else {
			rc = end_line(&p, SIZE_MAX, err);
		}
	}
	if (rc < 0) {
		/* fail closed: whatever the pass could not judge goes */
		for (size_t i = 0; i < evs->n; i++)
			if (is_key(evs->ev[i].type))
				p.act[i] = DROP;
	}
	/* a release goes wherever its press went, whenever it came */
	for (size_t k = 0; k < KEYCODES; k++)
		p.press_of[k] = SIZE_MAX;
	for (size_t i = 0; i < evs->n; i++) {
		struct st_event *e = &evs->ev[i];
		uint32_t kc = e->u.key.keycode % KEYCODES;
		if (e->type == ST_EV_KEY_PRESS) {
			p.press_of[kc] = i;
		} else if (e->type == ST_EV_KEY_RELEASE) {
			size_t pr = p.press_of[kc];
			p.press_of[kc] = SIZE_MAX;
			if (pr != SIZE_MAX && p.act[pr] != KEEP && p.act[i] == KEEP)
				p.act[i] = DROP;
		}
	}
	/* compact in place; the carry index follows its event */
	size_t j = 0, new_carry = SIZE_MAX;
	for (size_t i = 0; i < evs->n; i++) {
		if (i == carry)
			new_carry = j;
		if (p.act[i] == DROP)
			continue;
		evs->ev[j++] = p.act[i] == REPLACE ? p.repl[i] : evs->ev[i];
	}
	if (new_carry == SIZE_MAX)
		new_carry = j;
	f->st.carried += j - new_carry;
	sodium_memzero(evs->ev + j, (evs->n - j) * sizeof *evs->ev);
	evs->n = j;
	coarsen(f, evs);
	if (carry_from)
		*carry_from = new_carry;
	if (level) {
		bool text = false;
		for (size_t i = 0; i < new_carry; i++)
			if (is_key(evs->ev[i].type) && evs->ev[i].u.key.text)
				text = true;
		*level = p.level3 && f->keep_level >= 3 ? 3 : text ? 2 : 1;
	}
	free(p.act);
	free(p.repl);
	free(p.fwin);
	return rc;
}

void st_filter_cfg_from_policy(const struct st_policy *p, int cap_level,
			       struct st_filter_title_rule *rules,
			       struct st_filter_cfg *out)
{
	size_t nr = p->n_title_rules < ST_FILTER_TITLE_RULES_MAX
			    ? p->n_title_rules
			    : ST_FILTER_TITLE_RULES_MAX;
	for (size_t i = 0; i < nr; i++) {
		rules[i].match = p->title_rules[i].match;
		rules[i].replace = p->title_rules[i].replace;
	}
	int keep = p->keep_level;
	if (cap_level >= 1 && cap_level < keep)
		keep = cap_level;
	memset(out, 0, sizeof *out);
	out->include = (const char *const *)p->include.v;
	out->n_include = p->include.n;
	out->exclude = (const char *const *)p->exclude.v;
	out->n_exclude = p->exclude.n;
	out->private_chat = (const char *const *)p->private_chat.v;
	out->n_private_chat = p->private_chat.n;
	out->title_rules = rules;
	out->n_title_rules = nr;
	out->keep_level = (uint8_t)keep;
	out->key_coarsen_ms = (uint32_t)p->key_coarsen_ms;
}
