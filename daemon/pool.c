#include "pool.h"

#include <stdlib.h>
#include <string.h>

#define POOL_BLOCK 64 /* slots per block: one bit each in `live` */

struct pool_block {
	uint64_t live;
	char slots[]; /* POOL_BLOCK slots of slot_size bytes */
};

struct pool {
	size_t slot_size;
	struct pool_block **blocks;
	uint32_t nblocks;
	uint32_t room;	  /* entries in blocks */
	uint32_t nonfull; /* no block below this one has a free slot */
	size_t count;
};

struct pool *
pool_new(size_t slot_size)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	/* Slots stay aligned for whatever the caller keeps in them. */
	p->slot_size = (slot_size + 7) & ~(size_t)7;
	return p;
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 0; i < p->nblocks; i++)
		free(p->blocks[i]);
	free(p->blocks);
	free(p);
}

static int
pool_add_block(struct pool *p)
{
	struct pool_block *b;

	if (p->nblocks > UINT32_MAX / POOL_BLOCK - 1)
		return -1;
	if (p->nblocks == p->room) {
		uint32_t room = p->room ? p->room * 2 : 8;
		struct pool_block **blocks =
		    realloc(p->blocks, room * sizeof(*blocks));
		if (blocks == NULL)
			return -1;
		p->blocks = blocks;
		p->room = room;
	}
	b = malloc(sizeof(*b) + POOL_BLOCK * p->slot_size);
	if (b == NULL)
		return -1;
	b->live = 0;
	p->blocks[p->nblocks++] = b;
	return 0;
}

/*
 * A zeroed slot, and its index for pool_put(); NULL when out of memory.
 * The lowest free slot is taken, so the live slots gather in the first
 * blocks and the last ones empty out and are given back.
 */
void *
pool_get(struct pool *p, uint32_t *index)
{
	struct pool_block *b;
	unsigned bit;

	while (p->nonfull < p->nblocks && p->blocks[p->nonfull]->live == ~0ULL)
		p->nonfull++;
	if (p->nonfull == p->nblocks && pool_add_block(p) == -1)
		return NULL;
	b = p->blocks[p->nonfull];
	bit = (unsigned)__builtin_ctzll(~b->live);
	b->live |= 1ULL << bit;
	p->count++;
	*index = p->nonfull * POOL_BLOCK + bit;
	return memset(b->slots + bit * p->slot_size, 0, p->slot_size);
}

/*
 * Frees the slot.  Empty blocks at the end are given back but one, so a
 * count going up and down across a block's edge does not allocate each
 * time.  Safe during a walk that has moved past the slot (see pool_at()).
 */
void
pool_put(struct pool *p, uint32_t index)
{
	uint32_t n = index / POOL_BLOCK;

	p->blocks[n]->live &= ~(1ULL << (index % POOL_BLOCK));
	p->count--;
	if (n < p->nonfull)
		p->nonfull = n;
	while (p->nblocks > 1 && p->blocks[p->nblocks - 1]->live == 0 &&
	    p->blocks[p->nblocks - 2]->live == 0)
		free(p->blocks[--p->nblocks]);
	if (p->nonfull > p->nblocks)
		p->nonfull = p->nblocks;
}

size_t
pool_count(const struct pool *p)
{
	return p->count;
}

/* One past the highest index a live slot can have. */
uint32_t
pool_end(const struct pool *p)
{
	return p->nblocks * POOL_BLOCK;
}

/*
 * The slot at index, or NULL if it is free or past the end.  A walk reads
 * pool_end() afresh at each step, so slots freed behind it, and blocks
 * given back ahead of it, do not trouble it.
 */
void *
pool_at(const struct pool *p, uint32_t index)
{
	struct pool_block *b;

	if (index >= pool_end(p))
		return NULL;
	b = p->blocks[index / POOL_BLOCK];
	if (!(b->live & (1ULL << (index % POOL_BLOCK))))
		return NULL;
	return b->slots + (index % POOL_BLOCK) * p->slot_size;
}
