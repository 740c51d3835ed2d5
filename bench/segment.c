/* segment.c - bench-segment: on one generated trace, how fast segments seal
 * and open on one core, how small they are, and how that compares with the
 * same events as JSON Lines and JSON Lines + zstd -3. bench/README.md says
 * what each line means. Prints "name: value unit" lines; exits non-zero if
 * an opened segment differs from what was sealed, or on any error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/event_json.h"
#include "core/keys.h"
#include "core/seal.h"
#include "core/segment.h"
#include "core/tracegen.h"
#include "export/open.h"

#define DEFAULT_SEED UINT64_C(20261124)
#define DEFAULT_MINUTES 60u
#define DEFAULT_PASSES 5u
/* Bounds on what the command line may ask for. A day of segments held at
 * once in locked memory stays well inside the kernel's map count (each
 * sodium_malloc is three mappings, a segment about five allocations). */
#define MINUTES_MAX (24u * 60u)
#define PASSES_MAX 1000u
/* 2026-11-24 09:00:00 UTC: a minute boundary, so each segment is a minute. */
#define ANCHOR_NS (UINT64_C(1795510800) * 1000000000u)

/* The targets (docs: bench/README.md). */
#define TARGET_EVENTS_PER_S 2000000.0
#define TARGET_BYTES_PER_EVENT 3.0
#define TARGET_RATIO 0.5

struct trace {
	struct st_events *seg;
	size_t n, cap;
	uint64_t events;
};

static int keep(void *ctx, uint64_t index, struct st_events *seg,
		struct st_error *err)
{
	struct trace *tr = ctx;
	(void)index;
	if (tr->n == tr->cap) {
		size_t nc = tr->cap ? tr->cap * 2 : 64;
		struct st_events *p = realloc(tr->seg, nc * sizeof *p);
		if (!p)
			return st_fail(err, ST_E_NOMEM, "trace: out of memory");
		tr->seg = p;
		tr->cap = nc;
	}
	tr->seg[tr->n++] = *seg;
	tr->events += seg->n;
	st_events_init(seg, seg->locked);
	return 0;
}

/* CPU time of this process: the bench is single-threaded, so this is the
 * work of one core, and time spent descheduled does not count. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-segment [--seed N] [--minutes M] [--passes P] "
		"[--jsonl FILE]\n"
		"  --seed N      trace seed (default %" PRIu64 ")\n"
		"  --minutes M   trace length in minutes, 1-%u (default %u)\n"
		"  --passes P    timed passes, the best is kept (default %u)\n"
		"  --jsonl FILE  also write the JSON Lines form to FILE, to "
		"check with zstd -3\n",
		DEFAULT_SEED, MINUTES_MAX, DEFAULT_MINUTES, DEFAULT_PASSES);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

struct jsonl {
	char *p;
	size_t len, cap;
};

static int jsonl_put(struct jsonl *j, const char *s, size_t n)
{
	if (j->len + n > j->cap) {
		size_t nc = j->cap ? j->cap : 1 << 20;
		while (nc < j->len + n)
			nc *= 2;
		char *q = realloc(j->p, nc);
		if (!q)
			return -1;
		j->p = q;
		j->cap = nc;
	}
	memcpy(j->p + j->len, s, n);
	j->len += n;
	return 0;
}

static int make_jsonl(const struct trace *tr, struct jsonl *j)
{
	for (size_t i = 0; i < tr->n; i++)
		for (size_t k = 0; k < tr->seg[i].n; k++) {
			json_t *o =
			    st_event_to_json(&tr->seg[i], &tr->seg[i].ev[k]);
			char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
			json_decref(o);
			if (!s)
				return -1;
			int rc = jsonl_put(j, s, strlen(s));
			free(s);
			if (rc < 0 || jsonl_put(j, "\n", 1) < 0)
				return -1;
		}
	return 0;
}

static bool same_events(const struct st_events *a, const struct st_events *b,
			size_t seg)
{
	if (a->n != b->n || a->anchor_ns != b->anchor_ns ||
	    a->tick_ns != b->tick_ns) {
		fprintf(stderr,
			"bench-segment: segment %zu opened with %zu events "
			"(anchor %" PRIu64
			", tick %u), sealed with %zu (anchor "
			"%" PRIu64 ", tick %u)\n",
			seg, b->n, b->anchor_ns, b->tick_ns, a->n, a->anchor_ns,
			a->tick_ns);
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		if (!st_event_equal(a, &a->ev[i], b, &b->ev[i])) {
			fprintf(stderr,
				"bench-segment: segment %zu event %zu differs "
				"after open\n",
				seg, i);
			return false;
		}
	return true;
}

int main(int argc, char **argv)
{
	uint64_t seed = DEFAULT_SEED, minutes = DEFAULT_MINUTES,
		 passes = DEFAULT_PASSES;
	const char *jsonl_path = NULL;
	static const struct option opts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"minutes", required_argument, NULL, 'm'},
	    {"passes", required_argument, NULL, 'p'},
	    {"jsonl", required_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "s:m:p:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &seed) < 0) {
				fprintf(stderr,
					"bench-segment: --seed %s is not "
					"a number\n",
					optarg);
				return 2;
			}
			break;
		case 'm':
			if (parse_u64(optarg, MINUTES_MAX, &minutes) < 0 ||
			    minutes == 0) {
				fprintf(
				    stderr,
				    "bench-segment: --minutes %s: give 1-%u\n",
				    optarg, MINUTES_MAX);
				return 2;
			}
			break;
		case 'p':
			if (parse_u64(optarg, PASSES_MAX, &passes) < 0 ||
			    passes == 0) {
				fprintf(
				    stderr,
				    "bench-segment: --passes %s: give 1-%u\n",
				    optarg, PASSES_MAX);
				return 2;
			}
			break;
		case 'j':
			jsonl_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct st_error err = {0};
	int rc, status = 1;
	struct trace tr = {0};
	struct st_buf *sealed = NULL;
	struct st_zctx *z = NULL;
	struct jsonl j = {0};
	uint8_t *zj = NULL;
	uint8_t dev_pk[ST_SIGN_PK_LEN], person_pk[ST_BOX_PK_LEN];
	uint8_t *dev_sk = st_secret_new(ST_SIGN_SK_LEN);
	uint8_t *person_sk = st_secret_new(ST_BOX_SK_LEN);
	if (!dev_sk || !person_sk || st_sign_keypair(dev_pk, dev_sk) < 0 ||
	    st_box_keypair(person_pk, person_sk) < 0) {
		fprintf(stderr, "bench-segment: cannot make keys (libsodium "
				"init or locked memory failed)\n");
		goto out;
	}

	/* The trace, held as the agent holds plaintext: in locked memory. */
	struct st_tracegen_cfg cfg = {.seed = seed,
				      .duration_ms = minutes * 60000u,
				      .anchor_ns = ANCHOR_NS,
				      .locked = true};
	if ((rc = st_tracegen_run(&cfg, keep, &tr, &err)) < 0) {
		fprintf(stderr, "bench-segment: %s\n", err.msg);
		goto out;
	}
	uint64_t counts[ST_EV_TYPE_MAX + 1] = {0};
	for (size_t i = 0; i < tr.n; i++) {
		uint64_t c1[ST_EV_TYPE_MAX + 1];
		st_events_counts(&tr.seg[i], c1);
		for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++)
			counts[t] += c1[t];
	}

	z = st_zctx_new();
	sealed = calloc(tr.n, sizeof *sealed);
	if (!z || !sealed) {
		fprintf(stderr, "bench-segment: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < tr.n; i++)
		st_buf_init(&sealed[i], false); /* ciphertext: not secret */
	struct st_seal_params sp = {.seq = 0, .lease_seq = 1, .level = 2};
	memset(sp.device_id, 0xd1, sizeof sp.device_id);
	memset(sp.person_id, 0x9e, sizeof sp.person_id);
	memset(sp.notice_hash, 0x5a, sizeof sp.notice_hash);

	/* encode + seal, one core, best of `passes` */
	double best_seal = 0;
	for (uint64_t p = 0; p < passes; p++) {
		double t0 = cpu_s();
		for (size_t i = 0; i < tr.n; i++) {
			sp.seq = i;
			st_buf_reset(&sealed[i]);
			if ((rc = st_segment_seal(&sp, &tr.seg[i], person_pk,
						  dev_sk, z, &sealed[i],
						  &err)) < 0) {
				fprintf(stderr,
					"bench-segment: seal segment "
					"%zu: %s\n",
					i, err.msg);
				goto out;
			}
		}
		double dt = cpu_s() - t0;
		if (p == 0 || dt < best_seal)
			best_seal = dt;
	}
	uint64_t sealed_bytes = 0;
	for (size_t i = 0; i < tr.n; i++)
		sealed_bytes += sealed[i].len;

	/* correctness, untimed: every segment opens to the events sealed */
	for (size_t i = 0; i < tr.n; i++) {
		struct st_events o;
		struct st_segment_header h;
		st_events_init(&o, true);
		rc = st_segment_open(sealed[i].p, sealed[i].len, dev_pk,
				     person_pk, person_sk, z, &h, &o, &err);
		bool ok =
		    rc == 0 && h.seq == i && same_events(&tr.seg[i], &o, i);
		st_events_fini(&o);
		if (rc < 0)
			fprintf(stderr, "bench-segment: open segment %zu: %s\n",
				i, err.msg);
		if (!ok)
			goto out;
	}

	/* verify + open, one core, best of `passes`; the opened list is
	 * freed inside the loop, as a reader that moves on would */
	double best_open = 0;
	for (uint64_t p = 0; p < passes; p++) {
		double t0 = cpu_s();
		for (size_t i = 0; i < tr.n; i++) {
			struct st_events o;
			struct st_segment_header h;
			st_events_init(&o, true);
			rc = st_segment_open(sealed[i].p, sealed[i].len, dev_pk,
					     person_pk, person_sk, z, &h, &o,
					     &err);
			st_events_fini(&o);
			if (rc < 0) {
				fprintf(stderr,
					"bench-segment: open segment "
					"%zu: %s\n",
					i, err.msg);
				goto out;
			}
		}
		double dt = cpu_s() - t0;
		if (p == 0 || dt < best_open)
			best_open = dt;
	}

	/* the same events as JSON Lines, and that through zstd -3 */
	if (make_jsonl(&tr, &j) < 0) {
		fprintf(stderr, "bench-segment: JSON Lines: out of memory\n");
		goto out;
	}
	size_t zcap = ZSTD_compressBound(j.len);
	zj = malloc(zcap);
	if (!zj) {
		fprintf(stderr, "bench-segment: out of memory\n");
		goto out;
	}
	size_t zlen = ZSTD_compress(zj, zcap, j.p, j.len, 3);
	if (ZSTD_isError(zlen)) {
		fprintf(stderr, "bench-segment: zstd: %s\n",
			ZSTD_getErrorName(zlen));
		goto out;
	}
	if (jsonl_path) {
		FILE *f = fopen(jsonl_path, "wx");
		bool ok = f && fwrite(j.p, 1, j.len, f) == j.len;
		if (f && fclose(f) != 0)
			ok = false;
		if (!ok) {
			fprintf(
			    stderr,
			    "bench-segment: cannot write %s: %s (it must not "
			    "exist yet)\n",
			    jsonl_path, strerror(errno));
			goto out;
		}
	}

	double n = (double)tr.events;
	double seal_rate = n / best_seal, open_rate = n / best_open;
	double bpe = (double)sealed_bytes / n;
	double ratio = (double)sealed_bytes / (double)zlen;
	printf("seed: %" PRIu64 " seed\n", seed);
	printf("trace_minutes: %" PRIu64 " min\n", minutes);
	printf("segments: %zu segments\n", tr.n);
	printf("events: %" PRIu64 " events\n", tr.events);
	for (unsigned t = 1; t <= ST_EV_TYPE_MAX; t++)
		if (counts[t])
			printf("events_%s: %" PRIu64 " events\n",
			       st_event_type_name(t), counts[t]);
	printf("events_per_segment: %.0f events\n", n / (double)tr.n);
	printf("clock: CLOCK_PROCESS_CPUTIME_ID (1 thread)\n");
	printf("passes: %" PRIu64 " passes (best kept)\n", passes);
	printf("seal_events_per_s: %.0f events/s\n", seal_rate);
	printf("seal_us_per_segment: %.1f us\n",
	       best_seal * 1e6 / (double)tr.n);
	printf("open_events_per_s: %.0f events/s\n", open_rate);
	printf("open_us_per_segment: %.1f us\n",
	       best_open * 1e6 / (double)tr.n);
	printf("sealed_bytes: %" PRIu64 " bytes\n", sealed_bytes);
	printf("sealed_bytes_per_event: %.3f bytes/event\n", bpe);
	printf("jsonl_bytes: %zu bytes\n", j.len);
	printf("jsonl_bytes_per_event: %.2f bytes/event\n", (double)j.len / n);
	printf("jsonl_zstd3_bytes: %zu bytes\n", zlen);
	printf("jsonl_zstd3_bytes_per_event: %.3f bytes/event\n",
	       (double)zlen / n);
	printf("sealed_to_jsonl_zstd3: %.3f ratio\n", ratio);
	printf("roundtrip_equal: %zu segments\n", tr.n);

	char missed[512] = "";
	size_t m = 0;
	if (seal_rate < TARGET_EVENTS_PER_S)
		m += (size_t)snprintf(missed + m, sizeof missed - m,
				      "%sseal %.0f < 2000000 events/s",
				      m ? "; " : "", seal_rate);
	if (open_rate < TARGET_EVENTS_PER_S && m < sizeof missed)
		m += (size_t)snprintf(missed + m, sizeof missed - m,
				      "%sopen %.0f < 2000000 events/s",
				      m ? "; " : "", open_rate);
	if (bpe > TARGET_BYTES_PER_EVENT && m < sizeof missed)
		m += (size_t)snprintf(missed + m, sizeof missed - m,
				      "%s%.3f > 3 bytes/event", m ? "; " : "",
				      bpe);
	if (ratio > TARGET_RATIO && m < sizeof missed)
		m += (size_t)snprintf(missed + m, sizeof missed - m,
				      "%ssealed/jsonl_zstd3 %.3f > 0.5",
				      m ? "; " : "", ratio);
	printf("target_seal_events_per_s: %.0f events/s\n",
	       TARGET_EVENTS_PER_S);
	printf("target_open_events_per_s: %.0f events/s\n",
	       TARGET_EVENTS_PER_S);
	printf("target_sealed_bytes_per_event: %.1f bytes/event\n",
	       TARGET_BYTES_PER_EVENT);
	printf("target_sealed_to_jsonl_zstd3: %.1f ratio\n", TARGET_RATIO);
	if (m)
		printf("targets: missed (%s)\n", missed);
	else
		printf("targets: met\n");
	status = 0;
out:
	for (size_t i = 0; i < tr.n; i++) {
		st_events_fini(&tr.seg[i]);
		if (sealed)
			st_buf_fini(&sealed[i]);
	}
	free(tr.seg);
	free(sealed);
	free(j.p);
	free(zj);
	st_zctx_free(z);
	st_secret_free(dev_sk);
	st_secret_free(person_sk);
	return status;
}
