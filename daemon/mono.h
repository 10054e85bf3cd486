/*
 * The clock deadlines are kept in: monotonic milliseconds, from the coarse
 * clock, which the vDSO reads without a system call and which is exact
 * enough for timeouts counted in milliseconds and seconds.
 */
#ifndef HELLOD_MONO_H
#define HELLOD_MONO_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * How far mono_ms() may stand behind the real time: the coarse clock's
 * tick, plus the millisecond it truncates.  Read as "now", that lag errs
 * on the late side.  An event stamped with it, though, looks up to this
 * much older than it is, so a deadline counted from the stamp adds it
 * (mono_after()) to come due no earlier than its full time after the
 * event.
 */
static inline uint64_t
mono_lag_ms(void)
{
	static atomic_uint_least64_t lag;
	uint64_t ms = atomic_load_explicit(&lag, memory_order_relaxed);
	struct timespec res;

	if (ms != 0)
		return ms;
	ms = 10; /* the coarsest tick Linux has (HZ=100), if it will not say */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0)
		ms = ((uint64_t)res.tv_sec * 1000000000 +
			 (uint64_t)res.tv_nsec + 999999) /
		    1000000;
	ms += 1;
	atomic_store_explicit(&lag, ms, memory_order_relaxed);
	return ms;
}

/* The deadline `ms` after an event stamped with mono_ms() at `stamp`. */
static inline uint64_t
mono_after(uint64_t stamp, uint64_t ms)
{
	return stamp + ms + mono_lag_ms();
}

/* The time from now until `at`, as libevent takes a timeout; 0 if past. */
static inline struct timeval
mono_until(uint64_t at)
{
	uint64_t now = mono_ms(), left = at > now ? at - now : 0;
	struct timeval tv = { (time_t)(left / 1000),
		(suseconds_t)(left % 1000) * 1000 };

	return tv;
}

#endif
