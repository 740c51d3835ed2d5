/* mkseeds.c - owns the seed corpora of the fuzz targets: small event lists
 * covering every event type, written through the public API as bodies
 * (OUTDIR/body), sealed segments (OUTDIR/open) and JSON (OUTDIR/event_json:
 * one file per event type, and list_NAME.json with each list as an array).
 * Never random: sealing draws from a fixed deterministic generator, so a rerun
 * rewrites the same bytes and the committed corpus does not churn.
 *
 * Usage: mkseeds OUTDIR
 * (`ninja -C build-fuzz fuzz-seeds` runs it on fuzz/corpus) */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/event.h"
#include "core/event_json.h"
#include "core/seal.h"
#include "core/segment.h"
#include "export/open.h"
#include "fuzz_keys.h"

/* 2023-11-14T22:13:20Z: any real-looking time; minutes must fit 32 bits. */
#define SEED_ANCHOR_NS UINT64_C(1700000000000000000)
/* Longest path mkseeds builds: OUTDIR, a corpus name and a file name. */
#define SEED_PATH_MAX 4096

/* --- deterministic randombytes -------------------------------------------
 * libsodium lets a program replace its generator before sodium_init. Every
 * call draws from ChaCha20 keyed by a fixed seed and a call counter, so the
 * nonces, segment keys and crypto_box_seal's ephemeral keys repeat per run.
 * Only acceptable because these segments protect nothing. */
static uint64_t det_calls;

static void det_buf(void *const buf, const size_t size)
{
	uint8_t seed[randombytes_SEEDBYTES];
	fuzz_seed(seed, sizeof seed, 0x33);
	for (unsigned i = 0; i < 8; i++)
		seed[i] ^= (uint8_t)(det_calls >> (8 * i));
	det_calls++;
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t det_random(void)
{
	uint32_t v;
	det_buf(&v, sizeof v);
	return v;
}

static uint32_t det_uniform(const uint32_t upper)
{
	if (upper < 2)
		return 0;
	uint32_t min = (1u + ~upper) % upper; /* 2^32 % upper, no modulo bias */
	uint32_t r;
	do
		r = det_random();
	while (r < min);
	return r % upper;
}

static const char *det_name(void)
{
	return "sealtrace-mkseeds-deterministic";
}

static struct randombytes_implementation det_impl = {
	.implementation_name = det_name,
	.random = det_random,
	.uniform = det_uniform,
	.buf = det_buf,
};

/* --- event lists --------------------------------------------------------- */

static int intern(struct st_events *evs, const char *s, uint32_t *id,
		  struct st_error *err)
{
	return st_events_intern(evs, s, strlen(s), id, err);
}

static int push_all(struct st_events *evs, const struct st_event *list,
		    size_t n, struct st_error *err)
{
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = st_events_push(evs, &list[i], err)) < 0)
			return rc;
	return 0;
}

#define PUSH(evs, list, err)                                                \
	push_all((evs), (list), sizeof(list) / sizeof((list)[0]), (err))

/* One event of every type, in the order a short session produces them. */
static int build_all(struct st_events *evs, struct st_error *err)
{
	uint32_t app, cls, title, text;
	int rc;
	if ((rc = intern(evs, "org.gnome.TextEditor", &app, err)) < 0 ||
	    (rc = intern(evs, "gnome-text-editor", &cls, err)) < 0 ||
	    (rc = intern(evs, "R\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 draft.txt",
			 &title, err)) < 0 ||
	    (rc = intern(evs, "a", &text, err)) < 0)
		return rc;
	const struct st_event list[] = {
		{.t = 0, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_START}},
		{.t = 0, .type = ST_EV_SCREEN,
		 .u.screen = {.x = 0, .y = 0, .w = 1920, .h = 1080}},
		{.t = 3, .type = ST_EV_FOCUS,
		 .u.focus = {.app = app, .cls = cls, .title = title,
			     .pid = 4242}},
		{.t = 40, .type = ST_EV_POINTER,
		 .u.ptr = {.x = 812, .y = 433}},
		{.t = 41, .type = ST_EV_BUTTON_PRESS,
		 .u.btn = {.x = 812, .y = 433, .button = 1}},
		{.t = 120, .type = ST_EV_BUTTON_RELEASE,
		 .u.btn = {.x = 812, .y = 433, .button = 1}},
		{.t = 500, .type = ST_EV_KEY_PRESS,
		 .u.key = {.keycode = 38, .keysym = 0x61, .text = text}},
		{.t = 580, .type = ST_EV_KEY_RELEASE,
		 .u.key = {.keycode = 38, .keysym = 0x61}},
		{.t = 900, .type = ST_EV_SCROLL,
		 .u.scroll = {.x = 812, .y = 433, .dy = -1}},
		{.t = 1000, .type = ST_EV_REDACTION,
		 .u.redact = {.kind = 3, .len_class = ST_LEN_9_16}},
		{.t = 1200, .type = ST_EV_KEYFRAME, .u.keyframe = {.frame = 7}},
		{.t = 61000, .type = ST_EV_IDLE_START},
		{.t = 185000, .type = ST_EV_IDLE_END},
		{.t = 185001, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_END}},
	};
	return PUSH(evs, list, err);
}

/* Typing with shared, absent and multi-byte key text, and focus events that
 * leave some strings out, so the string table is reused and sparse. */
static int build_keys(struct st_events *evs, struct st_error *err)
{
	uint32_t h, i, euro, term;
	int rc;
	evs->tick_ns = 1000; /* microsecond ticks, as evdev capture gives */
	if ((rc = intern(evs, "h", &h, err)) < 0 ||
	    (rc = intern(evs, "i", &i, err)) < 0 ||
	    (rc = intern(evs, "\xe2\x82\xac", &euro, err)) < 0 ||
	    (rc = intern(evs, "org.kde.konsole", &term, err)) < 0)
		return rc;
	const struct st_event list[] = {
		{.t = 10, .type = ST_EV_FOCUS,
		 .u.focus = {.app = term, .pid = 1}},
		{.t = 20, .type = ST_EV_KEY_PRESS,
		 .u.key = {.keycode = 43, .keysym = 0x68, .text = h}},
		{.t = 20, .type = ST_EV_KEY_RELEASE,
		 .u.key = {.keycode = 43, .keysym = 0x68}},
		{.t = 90, .type = ST_EV_KEY_PRESS,
		 .u.key = {.keycode = 31, .keysym = 0x69, .text = i}},
		{.t = 95, .type = ST_EV_KEY_PRESS,
		 .u.key = {.keycode = 43, .keysym = 0x68, .text = h}},
		{.t = 300, .type = ST_EV_KEY_PRESS, /* Ctrl held: no text */
		 .u.key = {.keycode = 54, .keysym = 0x63, .mods = 0x4}},
		{.t = 301, .type = ST_EV_KEY_PRESS,
		 .u.key = {.keycode = 26, .keysym = 0x20ac, .mods = 0x80,
			   .text = euro}},
		{.t = 4000000, .type = ST_EV_FOCUS,
		 .u.focus = {.cls = term, .pid = UINT32_MAX}},
		{.t = 4000001, .type = ST_EV_KEY_RELEASE,
		 .u.key = {.keycode = UINT32_MAX, .keysym = UINT32_MAX,
			   .mods = UINT32_MAX}},
	};
	return PUSH(evs, list, err);
}

/* Positions at the extremes of 32 bits, so position deltas need all 33. */
static int build_pointer(struct st_events *evs, struct st_error *err)
{
	const struct st_event list[] = {
		{.t = 0, .type = ST_EV_SCREEN,
		 .u.screen = {.x = -1920, .y = -200, .w = 1920, .h = 1200,
			      .screen = 1}},
		{.t = 0, .type = ST_EV_SCREEN,
		 .u.screen = {.w = UINT32_MAX, .h = 1,
			      .screen = ST_SCREEN_INDEX_MAX}},
		{.t = 1, .type = ST_EV_POINTER,
		 .u.ptr = {.x = -1900, .y = -10, .screen = 1}},
		{.t = 2, .type = ST_EV_POINTER,
		 .u.ptr = {.x = INT32_MAX, .y = INT32_MIN, .screen = 255}},
		{.t = 3, .type = ST_EV_POINTER,
		 .u.ptr = {.x = INT32_MIN, .y = INT32_MAX}},
		{.t = 4, .type = ST_EV_BUTTON_PRESS,
		 .u.btn = {.x = 0, .y = 0, .button = ST_BUTTON_MAX}},
		{.t = 4, .type = ST_EV_BUTTON_RELEASE,
		 .u.btn = {.x = 1, .y = -1, .button = 3}},
		{.t = 7, .type = ST_EV_SCROLL,
		 .u.scroll = {.x = 5, .y = 5, .dx = -2500, .dy = 12000,
			      .smooth = 1}},
		{.t = 8, .type = ST_EV_SCROLL,
		 .u.scroll = {.x = 5, .y = 5, .dx = INT32_MIN,
			      .dy = INT32_MAX}},
	};
	return PUSH(evs, list, err);
}

/* Every session marker and gap reason class, idle spans, each redaction
 * length class and a keyframe number past 32 bits. */
static int build_session(struct st_events *evs, struct st_error *err)
{
	/* last ns of a minute: the events run into the next one */
	evs->anchor_ns = SEED_ANCHOR_NS / 60000000000u * 60000000000u +
			 59999999999u;
	const struct st_event list[] = {
		{.t = 0, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_START}},
		{.t = 5, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_PAUSE,
			       .reason = ST_REASON_PERSON}},
		{.t = 6, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_RESUME,
			       .reason = ST_REASON_SERVER}},
		{.t = 7, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_GAP,
			       .reason = ST_REASON_EXCLUDED}},
		{.t = 8, .type = ST_EV_IDLE_START},
		{.t = 9, .type = ST_EV_IDLE_END},
		{.t = 10, .type = ST_EV_REDACTION,
		 .u.redact = {.kind = 0, .len_class = ST_LEN_1_8}},
		{.t = 10, .type = ST_EV_REDACTION,
		 .u.redact = {.kind = ST_REDACTION_KIND_MAX,
			      .len_class = ST_LEN_17_PLUS}},
		{.t = 11, .type = ST_EV_KEYFRAME,
		 .u.keyframe = {.frame = UINT64_C(1) << 40}},
		{.t = 12, .type = ST_EV_SESSION,
		 .u.session = {.marker = ST_SESSION_END,
			       .reason = ST_REASON_MAX}},
	};
	return PUSH(evs, list, err);
}

static int build_empty(struct st_events *evs, struct st_error *err)
{
	(void)evs;
	(void)err;
	return 0;
}

static const struct seed_list {
	const char *name;
	int (*build)(struct st_events *, struct st_error *);
} seed_lists[] = {
	{"all", build_all},         {"keys", build_keys},
	{"pointer", build_pointer}, {"session", build_session},
	{"empty", build_empty},
};
#define SEED_LISTS (sizeof seed_lists / sizeof seed_lists[0])

/* --- output -------------------------------------------------------------- */

static int make_dir(const char *path, struct st_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return st_fail(err, st_errno(errno), "%s: cannot create: %s",
			       path, strerror(errno));
	return 0;
}

static int write_file(const char *dir, const char *sub, const char *name,
		      const char *ext, const void *p, size_t n,
		      struct st_error *err)
{
	char path[SEED_PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s/%s.%s", dir, sub, name, ext) >=
	    (int)sizeof path)
		return st_fail(err, ST_E_INVAL, "%s: path too long", dir);
	FILE *f = fopen(path, "wb");
	if (!f)
		return st_fail(err, st_errno(errno), "%s: cannot create: %s",
			       path, strerror(errno));
	size_t w = n ? fwrite(p, 1, n, f) : 0;
	int closed = fclose(f);
	if (w != n || closed != 0)
		return st_fail(err, ST_E_INVAL,
			       "%s: write failed; check free space", path);
	return 0;
}

static bool lists_equal(const struct st_events *a, const struct st_events *b)
{
	if (a->n != b->n || a->anchor_ns != b->anchor_ns ||
	    a->tick_ns != b->tick_ns)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!st_event_equal(a, &a->ev[i], b, &b->ev[i]))
			return false;
	return true;
}

/* body/NAME.bin, checked to decode back to evs. */
static int write_body(const char *dir, const char *name,
		      const struct st_events *evs, struct st_buf *body,
		      struct st_error *err)
{
	struct st_events back;
	int rc;
	st_events_init(&back, false);
	if ((rc = st_body_encode(evs, body, err)) < 0 ||
	    (rc = st_body_decode(body->p, body->len, &back, err)) < 0)
		goto out;
	if (!lists_equal(evs, &back)) {
		rc = st_fail(err, ST_E_CORRUPT, "%s: body does not decode to "
						"the events it encodes", name);
		goto out;
	}
	rc = write_file(dir, "body", name, "bin", body->p, body->len, err);
out:
	st_events_fini(&back);
	return rc;
}

/* open/NAME.seg, checked to open with the fuzz keys back to evs. */
static int write_segment(const char *dir, const char *name, unsigned index,
			 const struct st_events *evs,
			 const struct fuzz_keys *k, struct st_error *err)
{
	struct st_seal_params sp = {
		.seq = index + 1,
		.lease_seq = 1,
		.level = (uint8_t)(1 + index % 3), /* every storable level */
	};
	struct st_buf seg;
	struct st_segment_header h;
	struct st_events back;
	int rc;

	fuzz_seed(sp.device_id, sizeof sp.device_id, 0x10);
	fuzz_seed(sp.person_id, sizeof sp.person_id, 0x20);
	fuzz_seed(sp.notice_hash, sizeof sp.notice_hash, 0x30);
	st_buf_init(&seg, false);
	st_events_init(&back, true);
	if ((rc = st_segment_seal(&sp, evs, k->person_pk, k->device_sk, NULL,
				  &seg, err)) < 0 ||
	    (rc = st_segment_open(seg.p, seg.len, k->device_pk, k->person_pk,
				  k->person_sk, NULL, &h, &back, err)) < 0)
		goto out;
	if (!lists_equal(evs, &back)) {
		rc = st_fail(err, ST_E_CORRUPT, "%s: segment does not open to "
						"the events it seals", name);
		goto out;
	}
	rc = write_file(dir, "open", name, "seg", seg.p, seg.len, err);
out:
	st_events_fini(&back);
	st_buf_fini(&seg);
	return rc;
}

/* event_json/NAME.json: one event object, or the list as an array. */
static int write_json(const char *dir, const char *name, json_t *j,
		      struct st_error *err)
{
	char *text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return st_fail(err, ST_E_NOMEM, "%s: json_dumps failed", name);
	size_t n = strlen(text);
	text[n] = '\n'; /* overwrites the NUL; the length is explicit */
	int rc = write_file(dir, "event_json", name, "json", text, n + 1, err);
	free(text);
	return rc;
}

static int write_list_json(const char *dir, const char *name,
			   const struct st_events *evs, bool per_type,
			   struct st_error *err)
{
	int rc = 0;
	json_t *arr = json_array();
	if (!arr)
		return st_fail(err, ST_E_NOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < evs->n && rc == 0; i++) {
		json_t *o = st_event_to_json(evs, &evs->ev[i]);
		if (!o) {
			rc = st_fail(err, ST_E_NOMEM,
				     "%s: event %zu has no JSON form", name, i);
			break;
		}
		/* one file per type, from the list that has every type once */
		if (per_type)
			rc = write_json(dir,
					st_event_type_name(evs->ev[i].type), o,
					err);
		json_array_append_new(arr, o);
	}
	char list_name[SEED_PATH_MAX];
	snprintf(list_name, sizeof list_name, "list_%s", name);
	if (rc == 0)
		rc = write_json(dir, list_name, arr, err);
	json_decref(arr);
	return rc;
}

int main(int argc, char **argv)
{
	struct st_error err = {0};
	struct fuzz_keys keys;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr,
			"usage: %s OUTDIR\n"
			"writes OUTDIR/{body,open,event_json}/ seed files\n",
			argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	if (randombytes_set_implementation(&det_impl) != 0 ||
	    fuzz_keys_derive(&keys) < 0) {
		fprintf(stderr, "mkseeds: libsodium would not start\n");
		return 1;
	}
	char sub[SEED_PATH_MAX];
	const char *subs[] = {"", "/body", "/open", "/event_json"};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0] && rc == 0; i++) {
		snprintf(sub, sizeof sub, "%s%s", dir, subs[i]);
		rc = make_dir(sub, &err);
	}
	for (unsigned i = 0; i < SEED_LISTS && rc == 0; i++) {
		const struct seed_list *l = &seed_lists[i];
		struct st_events evs;
		struct st_buf body, zbody;
		st_events_init(&evs, false);
		st_buf_init(&body, false);
		st_buf_init(&zbody, false);
		evs.anchor_ns = SEED_ANCHOR_NS;
		if ((rc = l->build(&evs, &err)) == 0 &&
		    (rc = write_body(dir, l->name, &evs, &body, &err)) == 0 &&
		    (rc = write_segment(dir, l->name, i, &evs, &keys, &err)) ==
			    0)
			rc = write_list_json(dir, l->name, &evs, i == 0, &err);
		/* one zstd frame too, so fuzz_body starts inside decompress */
		if (rc == 0 && i == 0 &&
		    (rc = st_body_compress(NULL, ST_ZSTD_LEVEL_DEFAULT, body.p,
					   body.len, &zbody, &err)) == 0)
			rc = write_file(dir, "body", l->name, "zst", zbody.p,
					zbody.len, &err);
		if (rc < 0)
			st_error_prefix(&err, "seed list %s: ", l->name);
		st_buf_fini(&zbody);
		st_buf_fini(&body);
		st_events_fini(&evs);
	}
	if (rc < 0) {
		fprintf(stderr, "mkseeds: %s\n", err.msg);
		return 1;
	}
	return 0;
}
