#include "iptable.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An IPv4 address is stored as its IPv4-mapped IPv6 form. */
struct iptable_slot {
	unsigned char key[16];
	unsigned count; /* 0: empty */
};

struct iptable {
	struct iptable_slot *slots;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t used;
};

#define IPTABLE_MIN 64

static void
iptable_key(const union net_addr *addr, unsigned char key[16])
{
	if (addr->sa.sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &addr->sin.sin_addr, 4);
	} else {
		memcpy(key, &addr->sin6.sin6_addr, 16);
	}
}

/*
 * The key's two halves, each folded in with one multiply: the address is
 * hashed at every accept and close.  The seed differs per run, so no
 * client can aim many addresses at one slot without knowing it.
 */
static size_t
iptable_hash(const unsigned char key[16])
{
	static uint64_t seed;
	uint64_t lo, hi, h;

	if (seed == 0)
		seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&seed;
	memcpy(&lo, key, 8);
	memcpy(&hi, key + 8, 8);
	h = (lo ^ seed) * 0xff51afd7ed558ccdULL ^ hi;
	h = (h ^ (h >> 32)) * 0xc4ceb9fe1a85ec53ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
iptable_find(const struct iptable *t, const unsigned char key[16])
{
	size_t i = iptable_hash(key) & t->mask;

	while (t->slots[i].count != 0 && memcmp(t->slots[i].key, key, 16) != 0)
		i = (i + 1) & t->mask;
	return i;
}

struct iptable *
iptable_new(void)
{
	struct iptable *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->slots = calloc(IPTABLE_MIN, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	t->mask = IPTABLE_MIN - 1;
	return t;
}

void
iptable_free(struct iptable *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

unsigned
iptable_count(const struct iptable *t, const union net_addr *addr)
{
	unsigned char key[16];

	iptable_key(addr, key);
	return t->slots[iptable_find(t, key)].count;
}

static int
iptable_grow(struct iptable *t)
{
	struct iptable old = *t;
	size_t cap = (t->mask + 1) * 2;

	if ((t->slots = calloc(cap, sizeof(*t->slots))) == NULL) {
		t->slots = old.slots;
		return -1;
	}
	t->mask = cap - 1;
	for (size_t i = 0; i <= old.mask; i++)
		if (old.slots[i].count != 0)
			t->slots[iptable_find(t, old.slots[i].key)] =
			    old.slots[i];
	free(old.slots);
	return 0;
}

/* Counts one more connection from addr; -1 when out of memory. */
int
iptable_add(struct iptable *t, const union net_addr *addr)
{
	unsigned char key[16];
	size_t i;

	iptable_key(addr, key);
	i = iptable_find(t, key);
	if (t->slots[i].count == 0) {
		if (2 * (t->used + 1) > t->mask + 1) {
			if (iptable_grow(t) == -1)
				return -1;
			i = iptable_find(t, key);
		}
		memcpy(t->slots[i].key, key, 16);
		t->used++;
	}
	t->slots[i].count++;
	return 0;
}

/*
 * Counts one connection less.  An entry that drops to zero is removed by
 * shifting its probe chain back, so lookups never need tombstones.
 */
void
iptable_remove(struct iptable *t, const union net_addr *addr)
{
	unsigned char key[16];
	size_t i, j;

	iptable_key(addr, key);
	i = iptable_find(t, key);
	if (t->slots[i].count == 0 || --t->slots[i].count > 0)
		return;
	t->used--;
	for (j = (i + 1) & t->mask; t->slots[j].count != 0;
	     j = (j + 1) & t->mask) {
		size_t home = iptable_hash(t->slots[j].key) & t->mask;
		/* Move j back to i unless its home lies cyclically in (i, j].
		 */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j].count = 0;
			i = j;
		}
	}
}
