#include "hist.h"

static unsigned
hist_index(uint64_t ns)
{
	unsigned msb, shift;

	if (ns < 128)
		return (unsigned)ns;
	msb = 63 - (unsigned)__builtin_clzll(ns);
	shift = msb - 6;
	/* ns >> shift is 64 to 127: the top seven bits of the value. */
	return shift * 64 + (unsigned)(ns >> shift);
}

/* The largest value that falls in bucket i. */
static uint64_t
hist_upper(unsigned i)
{
	unsigned shift;

	if (i < 128)
		return i;
	shift = i / 64 - 1;
	return (((uint64_t)(i % 64 + 64) + 1) << shift) - 1;
}

void
hist_add(struct hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

void
hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
	into->count += h->count;
	if (h->max > into->max)
		into->max = h->max;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count), seen = 0;

	if (h->count == 0)
		return 0;
	if (rank >= h->count)
		rank = h->count - 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank)
			return hist_upper(i) < h->max ? hist_upper(i) : h->max;
	}
	return h->max;
}
