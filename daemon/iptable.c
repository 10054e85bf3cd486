#include "iptable.h"

#include <stdlib.h>
#include <string.h>

/* The key is net_key()'s: an IPv4 address in its IPv4-mapped form. */
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

static size_t
iptable_hash(const unsigned char key[16])
{
	return (size_t)net_hash_key(key);
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

	net_key(addr, key);
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

	net_key(addr, key);
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

	net_key(addr, key);
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
