/*
 * The clock deadlines are kept in: monotonic milliseconds, from the coarse
 * clock, which the vDSO reads without a system call and which is exact
 * enough for timeouts counted in milliseconds and seconds.
 */
#ifndef HELLOD_MONO_H
#define HELLOD_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
