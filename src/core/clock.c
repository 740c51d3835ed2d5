/* clock.c - the system clock and a hand-set clock for tests. */
#include "clock.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t sys_read(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t sys_wall(void *ctx)
{
	(void)ctx;
	return sys_read(CLOCK_REALTIME);
}
static uint64_t sys_mono(void *ctx)
{
	(void)ctx;
	return sys_read(CLOCK_MONOTONIC);
}

const struct st_clock st_clock_system = {sys_wall, sys_mono, NULL};

static uint64_t man_wall(void *ctx)
{
	return ((struct st_manual_clock *)ctx)->wall;
}
static uint64_t man_mono(void *ctx)
{
	return ((struct st_manual_clock *)ctx)->mono;
}

void st_clock_manual(struct st_clock *c, struct st_manual_clock *m)
{
	c->wall_ns = man_wall;
	c->mono_ns = man_mono;
	c->ctx = m;
}

long long st_time_parse(const char *s)
{
	if (!s || !*s)
		return -1;
	bool digits = true;
	for (const char *p = s; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	if (digits)
		return strlen(s) <= 12 ? atoll(s) : -1;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *e = strptime(s, "%Y-%m-%d", &tm);
	if (e && *e == 'T')
		e = strptime(e + 1, "%H:%M:%SZ", &tm);
	if (!e || *e)
		return -1;
	return (long long)timegm(&tm);
}
