/* Unit tests for the byte buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

START_TEST(test_empty_owns_nothing)
{
	struct buf b = { 0 };

	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(buf_size(&b), 0);
	buf_release(&b);
}
END_TEST

START_TEST(test_append_consume)
{
	struct buf b = { 0 };

	ck_assert_int_eq(buf_append(&b, "hello ", 6), 0);
	ck_assert_int_eq(buf_append(&b, "world", 5), 0);
	ck_assert_uint_eq(buf_size(&b), 11);
	ck_assert_mem_eq(buf_head(&b), "hello world", 11);
	buf_consume(&b, 6);
	ck_assert_uint_eq(buf_size(&b), 5);
	ck_assert_mem_eq(buf_head(&b), "world", 5);
	buf_consume(&b, 5);
	ck_assert_uint_eq(buf_size(&b), 0);
	ck_assert_uint_eq(b.off, 0);
	buf_release(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_growth_keeps_bytes)
{
	struct buf b = { 0 };
	char chunk[37];

	for (int i = 0; i < 1000; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(buf_size(&b), 37000);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_head(&b)[i * 37 + 36], 'a' + i % 26);
	buf_release(&b);
}
END_TEST

/* Consumed space at the front is reused before the buffer grows. */
START_TEST(test_slide_before_grow)
{
	struct buf b = { 0 };
	char block[48];

	memset(block, 'x', sizeof(block));
	ck_assert_int_eq(buf_append(&b, block, sizeof(block)), 0);
	size_t cap = b.cap;
	buf_consume(&b, 40);
	ck_assert_int_eq(buf_append(&b, block, 40), 0);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(buf_size(&b), 48);
	buf_release(&b);
}
END_TEST

START_TEST(test_clear_keeps_memory)
{
	struct buf b = { 0 };

	ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
	buf_clear(&b);
	ck_assert_uint_eq(buf_size(&b), 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_int_eq(buf_append(&b, "de", 2), 0);
	ck_assert_mem_eq(buf_head(&b), "de", 2);
	buf_release(&b);
}
END_TEST

START_TEST(test_drop_tail_takes_back_the_last_bytes)
{
	struct buf b = { 0 };

	ck_assert_int_eq(buf_append(&b, "header", 6), 0);
	buf_consume(&b, 2);
	ck_assert_int_eq(buf_append(&b, "+peek", 5), 0);
	buf_drop_tail(&b, 5);
	ck_assert_uint_eq(buf_size(&b), 4);
	ck_assert_mem_eq(buf_head(&b), "ader", 4);
	buf_drop_tail(&b, 4);
	ck_assert_uint_eq(buf_size(&b), 0);
	ck_assert_uint_eq(b.off, 0);
	buf_release(&b);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_TEST(test_empty_owns_nothing),
		UNIT_TEST(test_append_consume),
		UNIT_TEST(test_growth_keeps_bytes),
		UNIT_TEST(test_slide_before_grow),
		UNIT_TEST(test_clear_keeps_memory),
		UNIT_TEST(test_drop_tail_takes_back_the_last_bytes),
	};

	return UNIT_MAIN("buf", tests, NULL, NULL);
}
