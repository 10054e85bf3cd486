/*
 * Fixed-size slots, allocated in blocks of 64: no allocator header or
 * rounding per object, so a slot costs exactly its size, and the live
 * slots can be walked without a list threaded through them.
 */
#ifndef HELLOD_POOL_H
#define HELLOD_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool;

struct pool *pool_new(size_t slot_size);
void pool_free(struct pool *p);
void *pool_get(struct pool *p, uint32_t *index);
void pool_put(struct pool *p, uint32_t index);
size_t pool_count(const struct pool *p);
uint32_t pool_end(const struct pool *p);
void *pool_at(const struct pool *p, uint32_t index);

#endif
