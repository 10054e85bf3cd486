/*
 * New connections per second per client address: a token bucket per
 * address, in a hash table that holds only the buckets not yet full again.
 * Pure code: the caller gives the time and guards the table.
 *
 * A bucket holds up to `burst` tokens and gains `rate` a second; each new
 * connection takes one, and one that finds none is refused.  A bucket that
 * has filled up again says nothing a missing one would not, so it is
 * dropped when the table needs room: the table's size follows the
 * addresses that connected within the last burst / rate seconds.
 */
#ifndef HELLOD_RATE_H
#define HELLOD_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

/* The most buckets held; beyond them new addresses go uncounted. */
#define RATE_MAX_BUCKETS (1u << 20)

enum rate_verdict {
	RATE_TAKEN,	/* a token taken: let it in */
	RATE_EMPTY,	/* no token left: refuse it */
	RATE_UNCOUNTED, /* no room for a bucket (or no memory): let it in */
};

struct rate_table;

struct rate_table *rate_new(void);
void rate_free(struct rate_table *t);
void
rate_key(const union net_addr *addr, unsigned v6_prefix, unsigned char key[16]);
enum rate_verdict rate_take(struct rate_table *t, const unsigned char key[16],
    uint64_t now_ms, unsigned rate, unsigned burst);
size_t rate_buckets(const struct rate_table *t);

#endif
