/*
 * The clock deadlines are kept in: monotonic milliseconds, from the coarse
 * clock, which the vDSO reads without a system call and which is exact
 * enough for timeouts counted in milliseconds and seconds.
 */
#ifndef HELLOD_MONO_H
#define HELLOD_MONO_H

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
