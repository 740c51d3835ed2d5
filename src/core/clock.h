/* clock.h - owns time: one injectable clock for wall and monotonic time, so
 * that tests can move it. Never sleeps. */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <stdint.h>

struct st_clock {
	uint64_t (*wall_ns)(void *ctx); /* Unix time in ns */
	uint64_t (*mono_ns)(void *ctx); /* CLOCK_MONOTONIC in ns */
	void *ctx;
};

/* The system clock (CLOCK_REALTIME / CLOCK_MONOTONIC). */
extern const struct st_clock st_clock_system;

static inline uint64_t st_wall_ns(const struct st_clock *c)
{
	return c->wall_ns(c->ctx);
}
static inline uint64_t st_mono_ns(const struct st_clock *c)
{
	return c->mono_ns(c->ctx);
}

/* A clock tests set by hand: both readings come from the struct. */
struct st_manual_clock {
	uint64_t wall, mono;
};
void st_clock_manual(struct st_clock *c, struct st_manual_clock *m);

/* Unix seconds from a time a person types: "1764547200", "2026-12-01" or
 * "2026-12-01T10:00:00Z" (UTC); -1 when it is none of them. */
long long st_time_parse(const char *s);

#endif
