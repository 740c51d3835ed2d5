/* benchutil.h - owns the small helpers the load generators share
 * (bench/ingest.c, bench/control.c): clocks, CPU readings, percentiles,
 * argument parsing, JSON and header bits. Benchmarks only: never linked
 * into a program. */
#ifndef ST_BENCHUTIL_H
#define ST_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

uint64_t bench_mono_ns(void);          /* CLOCK_MONOTONIC */
double bench_self_cpu_s(void);         /* this process, user + system */
double bench_proc_cpu_s(long pid);     /* another process; -1 unknown */
/* A decimal in [min, max] into *out; -1 otherwise. */
int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int bench_cmp_u64(const void *a, const void *b); /* for qsort */
/* Nearest-rank percentile p (0..1] of n sorted ns values, in ms. */
double bench_pct_ms(const uint64_t *v, uint64_t n, double p);
/* The hex string at key, exactly len bytes. */
bool bench_get_hex(json_t *j, const char *key, uint8_t *out, size_t len);
/* Appends a header line; false when curl could not. */
bool bench_hdr_add(struct curl_slist **l, const char *line);

#endif
