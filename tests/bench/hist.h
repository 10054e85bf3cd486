#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

/*
 * A latency histogram in nanoseconds: exact below 128 ns, then 64 buckets
 * per power of two, so any percentile is within 1.6% of the true value
 * while the whole thing stays a fixed 30 KiB that threads can merge.
 */
#define HIST_BUCKETS 3776

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *h);
/* The value at quantile q (0 to 1), an upper bound within 1.6%. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
