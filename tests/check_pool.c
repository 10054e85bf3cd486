/* Unit tests for the fixed-size slot pool the connections live in. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "unit.h"

/* A slot's contents, so a test can tell slots apart and see them zeroed. */
struct item {
	uint32_t index;
	char fill[52];
};

static size_t
walk_count(const struct pool *p)
{
	size_t n = 0;

	for (uint32_t i = 0; i < pool_end(p); i++)
		if (pool_at(p, i) != NULL)
			n++;
	return n;
}

START_TEST(test_slots_are_zeroed_distinct_and_found_again)
{
	struct pool *p = pool_new(sizeof(struct item));
	struct item *items[200];

	for (uint32_t i = 0; i < 200; i++) {
		uint32_t index;
		items[i] = pool_get(p, &index);
		ck_assert_ptr_nonnull(items[i]);
		ck_assert_uint_eq(items[i]->index, 0);
		ck_assert_uint_eq(index, i); /* the lowest free slot first */
		items[i]->index = index;
		memset(items[i]->fill, 0xab, sizeof(items[i]->fill));
		ck_assert_ptr_eq(pool_at(p, index), items[i]);
	}
	ck_assert_uint_eq(pool_count(p), 200);
	ck_assert_uint_eq(walk_count(p), 200);
	pool_free(p);
}
END_TEST

START_TEST(test_freed_slots_are_reused_lowest_first)
{
	struct pool *p = pool_new(sizeof(struct item));
	uint32_t index;

	for (int i = 0; i < 130; i++)
		ck_assert_ptr_nonnull(pool_get(p, &index));
	pool_put(p, 70);
	pool_put(p, 5);
	ck_assert_ptr_null(pool_at(p, 5));
	ck_assert_uint_eq(pool_count(p), 128);
	struct item *again = pool_get(p, &index);
	ck_assert_uint_eq(index, 5);
	ck_assert_uint_eq(again->fill[0], 0);
	pool_get(p, &index);
	ck_assert_uint_eq(index, 70);
	pool_get(p, &index);
	ck_assert_uint_eq(index, 130);
	pool_free(p);
}
END_TEST

/* A walk that frees as it goes, as closing every connection does. */
START_TEST(test_walk_survives_freeing_every_slot_it_visits)
{
	struct pool *p = pool_new(sizeof(struct item));
	uint32_t index;
	size_t visited = 0;

	for (int i = 0; i < 1000; i++)
		pool_get(p, &index);
	for (uint32_t i = 0; i < pool_end(p); i++) {
		if (pool_at(p, i) == NULL)
			continue;
		visited++;
		pool_put(p, i);
	}
	ck_assert_uint_eq(visited, 1000);
	ck_assert_uint_eq(pool_count(p), 0);
	/* Blocks were given back but one, and the pool still works. */
	ck_assert_uint_le(pool_end(p), 64);
	ck_assert_ptr_nonnull(pool_get(p, &index));
	ck_assert_uint_eq(index, 0);
	pool_free(p);
}
END_TEST

START_TEST(test_empty_pool_and_free_null)
{
	struct pool *p = pool_new(1);

	ck_assert_uint_eq(pool_count(p), 0);
	ck_assert_uint_eq(pool_end(p), 0);
	ck_assert_ptr_null(pool_at(p, 0));
	pool_free(p);
	pool_free(NULL);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_TEST(test_slots_are_zeroed_distinct_and_found_again),
		UNIT_TEST(test_freed_slots_are_reused_lowest_first),
		UNIT_TEST(test_walk_survives_freeing_every_slot_it_visits),
		UNIT_TEST(test_empty_pool_and_free_null),
	};

	return UNIT_MAIN("pool", tests, NULL, NULL);
}
