/* benchutil.c - helpers shared by the load generators (benchutil.h). */
#include "benchutil.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

double bench_proc_cpu_s(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p)
		return -1;
	unsigned long long ut = 0, st = 0;
	/* after ")": state is field 3, utime 14, stime 15 */
	if (sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int bench_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

double bench_pct_ms(const uint64_t *v, uint64_t n, double p)
{
	if (!n)
		return 0;
	uint64_t k = (uint64_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] * 1e-6;
}

bool bench_get_hex(json_t *j, const char *key, uint8_t *out, size_t len)
{
	const char *t = json_string_value(json_object_get(j, key));
	size_t got = 0;
	return t && strlen(t) == 2 * len &&
	       sodium_hex2bin(out, len, t, strlen(t), NULL, &got, NULL) == 0 &&
	       got == len;
}

bool bench_hdr_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *t = curl_slist_append(*l, line);
	if (t)
		*l = t;
	return t != NULL;
}
