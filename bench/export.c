/* export.c - bench-export: how fast one core turns opened events into
 * training steps (export/actions.h), and how large the steps are, over
 * synthetic people (core/tracegen.h: one trace per person, one segment a
 * minute). Prints "name: value unit" lines; exits non-zero on any error.
 *
 * export_run() is the whole measured loop, in one function on purpose: the
 * full export (open each sealed segment, the second-pass filter, then the
 * conversion) adds its stages inside it, at the marked place, and keeps
 * the same figures. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "core/event.h"
#include "core/file.h"
#include "core/mem.h"
#include "core/keys.h"
#include "core/policy.h"
#include "core/seal.h"
#include "core/segment.h"
#include "core/tracegen.h"
#include "export/actions.h"
#include "export/open.h"
#include "filter/detect.h"
#include "filter/filter.h"

#ifndef ST_SOURCE_DATA
#define ST_SOURCE_DATA "data"
#endif

#define DEFAULT_PEOPLE 100u
#define DEFAULT_MINUTES 60u
#define DEFAULT_SEED UINT64_C(20261124)
#define DEFAULT_LEVEL 2u
/* Bounds on the command line. One person's trace is held at a time (an
 * hour is about 45,000 events, 2 MB), so people only cost time. */
#define PEOPLE_MAX 100000u
#define MINUTES_MAX (24u * 60u)
/* 2026-11-24 09:00:00 UTC: a minute boundary, so each segment is a minute. */
#define ANCHOR_NS (UINT64_C(1795510800) * 1000000000u)
/* The whole export pipeline's target is 1,000,000 events/s on one core
 * (DESIGN.md scale); the conversion may take a tenth of that budget. */
#define TARGET_PIPELINE_EVENTS_PER_S 1000000.0
#define TARGET_CONVERT_EVENTS_PER_S 10000000.0

struct run_cfg {
	uint64_t people, minutes, seed;
	int level;
	bool locked; /* segments in locked memory, as the export host holds them */
	FILE *out;   /* step lines go here; NULL: counted and discarded */
	bool full;   /* the whole export host's work per segment: open
			(verify, unseal, decrypt, decompress, decode), the
			second-pass filter, conversion, writing */
	struct st_filter *filter; /* full: the policy's filter */
	uint8_t person_pk[32], device_pk[32];
	uint8_t *person_sk, *device_sk;
};

struct run_result {
	uint64_t events, segments, steps, bytes, sealed_bytes;
	double convert_cpu_s, generate_cpu_s;
	struct st_actions_stats st;
};

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One person's segments, generated before the clock starts. */
struct trace {
	struct st_events *seg;
	size_t n, cap;
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
	st_events_init(seg, seg->locked);
	return 0;
}

static void trace_clear(struct trace *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		st_events_fini(&tr->seg[i]);
	tr->n = 0;
}

struct sink {
	FILE *out;
	uint64_t steps, bytes;
	bool write_failed;
};

static int sink_step(void *ctx, const char *line, size_t len)
{
	struct sink *s = ctx;
	s->steps++;
	s->bytes += len;
	if (s->out && fwrite(line, 1, len, s->out) != len) {
		s->write_failed = true;
		return ST_E_INVAL;
	}
	return 0;
}

/* The measured loop: for each person, generate the trace (untimed), then
 * convert it segment by segment (timed, CPU time of this process), with a
 * cut between people as the exporter cuts between devices. */
static int export_run(const struct run_cfg *cfg, struct run_result *res,
		      struct st_error *err)
{
	struct sink sink = {.out = cfg->out};
	struct st_actions_out out = {NULL, sink_step, NULL, &sink};
	struct st_actions *a = NULL;
	struct trace tr = {0};
	memset(res, 0, sizeof *res);
	struct st_zctx *z = st_zctx_new();
	struct st_events evs;
	st_events_init(&evs, true);
	int rc = z ? st_actions_new(NULL, &out, "bench", &a, err)
		   : st_fail(err, ST_E_NOMEM, "out of memory");
	for (uint64_t p = 0; p < cfg->people && rc == 0; p++) {
		struct st_tracegen_cfg tg = {.seed = cfg->seed + p,
					     .duration_ms = cfg->minutes * 60000u,
					     .anchor_ns = ANCHOR_NS,
					     .locked = cfg->locked};
		double g0 = cpu_s();
		rc = st_tracegen_run(&tg, keep, &tr, err);
		/* full: seal each segment as an agent would (untimed) */
		struct st_buf *sealed = NULL;
		if (rc == 0 && cfg->full) {
			sealed = calloc(tr.n + 1, sizeof *sealed);
			if (!sealed)
				rc = st_fail(err, ST_E_NOMEM, "out of memory");
			for (size_t i = 0; rc == 0 && i < tr.n; i++) {
				struct st_seal_params sp = {.seq = i + 1,
							    .lease_seq = 1,
							    .level = 2};
				st_buf_init(&sealed[i], false);
				rc = st_segment_seal(&sp, &tr.seg[i],
						     cfg->person_pk,
						     cfg->device_sk, z,
						     &sealed[i], err);
				res->sealed_bytes += sealed[i].len;
			}
		}
		res->generate_cpu_s += cpu_s() - g0;
		if (rc < 0)
			break;
		double t0 = cpu_s();
		for (size_t i = 0; i < tr.n && rc == 0; i++) {
			if (!cfg->full) {
				res->events += tr.seg[i].n;
				rc = st_actions_feed(a, &tr.seg[i], cfg->level,
						     err);
				continue;
			}
			/* the export host's stages, per segment (one locked
			 * event list, cleared and reused: its buffers stay) */
			struct st_segment_header h;
			uint8_t level = 0;
			st_events_clear(&evs);
			rc = st_segment_open(sealed[i].p, sealed[i].len,
					     cfg->device_pk, cfg->person_pk,
					     cfg->person_sk, z, &h, &evs, err);
			if (rc == 0)
				rc = st_filter_apply(cfg->filter, &evs, true,
						     NULL, &level, err);
			res->events += evs.n;
			if (rc == 0)
				rc = st_actions_feed(a, &evs, level, err);
		}
		for (size_t i = 0; sealed && i < tr.n; i++)
			st_buf_fini(&sealed[i]);
		free(sealed);
		if (rc == 0)
			rc = st_actions_cut(a, err);
		res->convert_cpu_s += cpu_s() - t0;
		res->segments += tr.n;
		trace_clear(&tr);
	}
	if (rc == 0)
		rc = st_actions_finish(a, err);
	if (sink.write_failed)
		rc = st_fail(err, ST_E_INVAL, "bench-export: writing the steps "
					      "failed; check --out");
	st_actions_stats(a, &res->st);
	res->steps = sink.steps;
	res->bytes = sink.bytes;
	st_actions_free(a);
	st_events_fini(&evs);
	st_zctx_free(z);
	free(tr.seg);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-export [--people N] [--minutes M] [--seed S] "
		"[--level L] [--plain] [--out FILE] [--full]\n"
		"  --people N   synthetic people, 1-%u (default %u)\n"
		"  --minutes M  trace length per person, 1-%u (default %u)\n"
		"  --seed S     seed of person 0; person p uses S + p\n"
		"  --level L    segment level put in the steps, 1-3 (default %u)\n"
		"  --plain      segments in plain memory (default: locked, as "
		"the export host)\n"
		"  --out FILE   also write the step lines to FILE (e.g. "
		"/dev/null); default: counted and discarded\n"
		"  --full       the export host's whole work per segment: each "
		"segment sealed first (untimed), then open + second-pass "
		"filter (the default policy) + conversion (+ --out) timed\n",
		PEOPLE_MAX, DEFAULT_PEOPLE, MINUTES_MAX, DEFAULT_MINUTES,
		DEFAULT_LEVEL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"people", required_argument, NULL, 'n'},
		{"minutes", required_argument, NULL, 'm'},
		{"seed", required_argument, NULL, 's'},
		{"level", required_argument, NULL, 'l'},
		{"plain", no_argument, NULL, 'P'},
		{"out", required_argument, NULL, 'o'},
		{"full", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct run_cfg cfg = {.people = DEFAULT_PEOPLE,
			      .minutes = DEFAULT_MINUTES,
			      .seed = DEFAULT_SEED,
			      .level = DEFAULT_LEVEL,
			      .locked = true};
	const char *out_path = NULL;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "n:m:s:l:Po:Fh", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			cfg.full = true;
			break;
		case 'n':
			if (bench_parse_u64(optarg, 1, PEOPLE_MAX, &cfg.people)) {
				fprintf(stderr, "bench-export: --people %s: "
						"give 1-%u\n", optarg, PEOPLE_MAX);
				return 2;
			}
			break;
		case 'm':
			if (bench_parse_u64(optarg, 1, MINUTES_MAX, &cfg.minutes)) {
				fprintf(stderr, "bench-export: --minutes %s: "
						"give 1-%u\n", optarg, MINUTES_MAX);
				return 2;
			}
			break;
		case 's':
			if (bench_parse_u64(optarg, 0, UINT64_MAX / 2, &cfg.seed)) {
				fprintf(stderr, "bench-export: --seed %s is not "
						"a number\n", optarg);
				return 2;
			}
			break;
		case 'l':
			if (bench_parse_u64(optarg, 1, 3, &v)) {
				fprintf(stderr, "bench-export: --level %s: "
						"give 1-3\n", optarg);
				return 2;
			}
			cfg.level = (int)v;
			break;
		case 'P':
			cfg.locked = false;
			break;
		case 'o':
			out_path = optarg;
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
	if (out_path && !(cfg.out = fopen(out_path, "we"))) {
		fprintf(stderr, "bench-export: cannot open %s for writing\n",
			out_path);
		return 1;
	}

	struct run_result r;
	struct st_error err = {0};
	struct st_detector *det = NULL;
	struct st_policy pol;
	st_policy_init(&pol);
	if (cfg.full) {
		/* keys as an agent and the export host hold them, and the
		 * default policy's filter, run again as the export host does */
		struct st_buf pj;
		st_buf_init(&pj, false);
		cfg.person_sk = st_secret_new(ST_BOX_SK_LEN);
		cfg.device_sk = st_secret_new(ST_SIGN_SK_LEN);
		struct st_filter_title_rule rules[ST_FILTER_TITLE_RULES_MAX];
		struct st_filter_cfg fc;
		if (st_crypto_init() < 0 || !cfg.person_sk || !cfg.device_sk ||
		    st_box_keypair(cfg.person_pk, cfg.person_sk) < 0 ||
		    st_sign_keypair(cfg.device_pk, cfg.device_sk) < 0 ||
		    st_file_read(ST_SOURCE_DATA "/../policies/default.json",
				 1 << 20, &pj, &err) < 0 ||
		    st_policy_parse((const char *)pj.p, pj.len, &pol, NULL,
				    &err) < 0 ||
		    st_detector_new(ST_SOURCE_DATA "/filter", &det, &err) < 0) {
			fprintf(stderr, "bench-export: --full: %s\n", err.msg);
			return 1;
		}
		st_buf_fini(&pj);
		st_filter_cfg_from_policy(&pol, cfg.level, rules, &fc);
		if (st_filter_new(&fc, det, &cfg.filter, &err) < 0) {
			fprintf(stderr, "bench-export: --full: %s\n", err.msg);
			return 1;
		}
	}
	int rc = export_run(&cfg, &r, &err);
	st_filter_free(cfg.filter);
	st_detector_free(det);
	st_policy_fini(&pol);
	st_secret_free(cfg.person_sk);
	st_secret_free(cfg.device_sk);
	if (cfg.out && fclose(cfg.out) != 0 && rc == 0)
		rc = st_fail(&err, ST_E_INVAL, "bench-export: closing %s "
					       "failed", out_path);
	if (rc < 0) {
		fprintf(stderr, "bench-export: %s\n", err.msg);
		return 1;
	}

	double eps = r.convert_cpu_s > 0 ? (double)r.events / r.convert_cpu_s : 0;
	if (cfg.full) {
		printf("stages: open (verify, unseal, decrypt, decompress, "
		       "decode) + second-pass filter (policies/default.json) + "
		       "conversion%s\n", out_path ? " + writing" : "");
		printf("sealed_bytes: %" PRIu64 " B\n", r.sealed_bytes);
		printf("export_pipeline_cpu_s: %.3f s\n", r.convert_cpu_s);
		printf("export_pipeline_events_per_s: %.0f events/s\n", eps);
		printf("export_bytes_per_step: %.1f B\n",
		       r.steps ? (double)r.bytes / (double)r.steps : 0);
		printf("steps: %" PRIu64 "\n", r.steps);
		printf("events: %" PRIu64 "\n", r.events);
		printf("target_pipeline_events_per_s: %.0f events/s\n",
		       TARGET_PIPELINE_EVENTS_PER_S);
		printf("targets: %s\n", eps >= TARGET_PIPELINE_EVENTS_PER_S
						 ? "met"
						 : "missed");
		return 0;
	}
	printf("people: %" PRIu64 "\n", cfg.people);
	printf("minutes_per_person: %" PRIu64 "\n", cfg.minutes);
	printf("seed: %" PRIu64 "\n", cfg.seed);
	printf("segments: %" PRIu64 "\n", r.segments);
	printf("events: %" PRIu64 "\n", r.events);
	printf("memory: %s\n", cfg.locked ? "locked" : "plain");
	printf("clock: CLOCK_PROCESS_CPUTIME_ID, one core\n");
	printf("generate_cpu_s: %.3f s\n", r.generate_cpu_s);
	printf("export_convert_cpu_s: %.3f s\n", r.convert_cpu_s);
	printf("export_convert_events_per_s: %.0f events/s\n", eps);
	printf("export_convert_ns_per_event: %.1f ns\n",
	       r.events ? r.convert_cpu_s * 1e9 / (double)r.events : 0);
	printf("steps: %" PRIu64 "\n", r.steps);
	printf("episodes: %" PRIu64 "\n", r.st.episodes);
	printf("events_per_step: %.2f\n",
	       r.steps ? (double)r.events / (double)r.steps : 0);
	printf("steps_per_person_hour: %.0f\n",
	       (double)r.steps * 60.0 / ((double)cfg.people * (double)cfg.minutes));
	printf("export_bytes: %" PRIu64 " B\n", r.bytes);
	printf("export_bytes_per_step: %.1f B\n",
	       r.steps ? (double)r.bytes / (double)r.steps : 0);
	printf("export_bytes_per_event: %.2f B\n",
	       r.events ? (double)r.bytes / (double)r.events : 0);
	for (unsigned t = 0; t < ST_ACT_TYPES; t++)
		printf("steps_%s: %" PRIu64 "\n", st_action_type_name(t),
		       r.st.by_type[t]);
	uint64_t red = 0;
	for (unsigned k = 0; k <= ST_REDACTION_KIND_MAX; k++)
		red += r.st.redactions[k];
	printf("redaction_steps: %" PRIu64 "\n", red);
	printf("dropped: %" PRIu64 "\n", r.st.dropped);
	printf("target_pipeline_events_per_s: %.0f events/s\n",
	       TARGET_PIPELINE_EVENTS_PER_S);
	printf("target_export_convert_events_per_s: %.0f events/s\n",
	       TARGET_CONVERT_EVENTS_PER_S);
	if (eps >= TARGET_CONVERT_EVENTS_PER_S)
		printf("targets: met\n");
	else
		printf("targets: missed (export_convert_events_per_s %.0f)\n",
		       eps);
	return 0;
}
