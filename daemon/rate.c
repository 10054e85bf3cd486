#include "rate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Tokens are counted in thousandths: `rate` a second is `rate` a ms. */
#define RATE_UNIT 1000u
#define RATE_MIN_SLOTS 64u

struct rate_bucket {
	unsigned char key[16];
	uint64_t at_ms;	   /* when milli was last brought up to date */
	uint32_t milli;	   /* thousandths of a token, at at_ms */
	uint32_t occupied; /* 0: an empty slot */
};

struct rate_table {
	struct rate_bucket *slots;
	size_t mask; /* slots - 1, a power of two */
	size_t used;
};

struct rate_table *
rate_new(void)
{
	struct rate_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->slots = calloc(RATE_MIN_SLOTS, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	t->mask = RATE_MIN_SLOTS - 1;
	return t;
}

void
rate_free(struct rate_table *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

size_t
rate_buckets(const struct rate_table *t)
{
	return t->used;
}

/*
 * The key of addr's bucket: an IPv4 address whole, an IPv6 one cut to its
 * first v6_prefix bits, as one host usually holds a whole /64 and could
 * otherwise take a fresh bucket with every address it picks from it.
 */
void
rate_key(const union net_addr *addr, unsigned v6_prefix, unsigned char key[16])
{
	net_key(addr, key);
	if (addr->sa.sa_family != AF_INET6 ||
	    IN6_IS_ADDR_V4MAPPED(&addr->sin6.sin6_addr) || v6_prefix >= 128)
		return;
	if (v6_prefix % 8 != 0)
		key[v6_prefix / 8] &=
		    (unsigned char)(0xff << (8 - v6_prefix % 8));
	memset(key + (v6_prefix + 7) / 8, 0, 16 - (v6_prefix + 7) / 8);
}

/* Thousandths of a token in b at now, at most burst's worth. */
static uint64_t
rate_level(const struct rate_bucket *b, uint64_t now_ms, unsigned rate,
    unsigned burst)
{
	uint64_t full = (uint64_t)burst * RATE_UNIT;
	uint64_t gained = now_ms > b->at_ms ? (now_ms - b->at_ms) * rate : 0;
	uint64_t level = b->milli + gained;

	return level < full ? level : full;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
rate_find(const struct rate_table *t, const unsigned char key[16])
{
	size_t i = (size_t)net_hash_key(key) & t->mask;

	while (t->slots[i].occupied && memcmp(t->slots[i].key, key, 16) != 0)
		i = (i + 1) & t->mask;
	return i;
}

/*
 * Makes room for one more bucket: a new table holding only the buckets not
 * yet full, at most half used.  -1 when too many are still filling, or out
 * of memory; the table is then unchanged.
 */
static int
rate_rebuild(struct rate_table *t, uint64_t now_ms, unsigned rate,
    unsigned burst)
{
	struct rate_table old = *t;
	size_t live = 0, slots = RATE_MIN_SLOTS;
	uint64_t full = (uint64_t)burst * RATE_UNIT;

	for (size_t i = 0; i <= old.mask; i++)
		if (old.slots[i].occupied &&
		    rate_level(&old.slots[i], now_ms, rate, burst) < full)
			live++;
	if (live >= RATE_MAX_BUCKETS)
		return -1;
	while (slots < 4 * (live + 1))
		slots *= 2;
	if ((t->slots = calloc(slots, sizeof(*t->slots))) == NULL) {
		t->slots = old.slots;
		return -1;
	}
	t->mask = slots - 1;
	t->used = 0;
	for (size_t i = 0; i <= old.mask; i++) {
		if (!old.slots[i].occupied ||
		    rate_level(&old.slots[i], now_ms, rate, burst) >= full)
			continue;
		t->slots[rate_find(t, old.slots[i].key)] = old.slots[i];
		t->used++;
	}
	free(old.slots);
	return 0;
}

/*
 * One new connection from the address with this key, at now_ms: takes a
 * token from its bucket, which a first connection finds full.  rate and
 * burst are at least 1.
 */
enum rate_verdict
rate_take(struct rate_table *t, const unsigned char key[16], uint64_t now_ms,
    unsigned rate, unsigned burst)
{
	size_t i = rate_find(t, key);
	struct rate_bucket *b = &t->slots[i];
	uint64_t level;

	if (!b->occupied) {
		if (2 * (t->used + 1) > t->mask + 1) {
			if (rate_rebuild(t, now_ms, rate, burst) == -1)
				return RATE_UNCOUNTED;
			b = &t->slots[rate_find(t, key)];
		}
		memcpy(b->key, key, 16);
		b->occupied = 1;
		b->at_ms = now_ms;
		b->milli = (uint32_t)((uint64_t)burst * RATE_UNIT);
		t->used++;
	}
	level = rate_level(b, now_ms, rate, burst);
	b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
	if (level < RATE_UNIT) {
		b->milli = (uint32_t)level;
		return RATE_EMPTY;
	}
	b->milli = (uint32_t)(level - RATE_UNIT);
	return RATE_TAKEN;
}
