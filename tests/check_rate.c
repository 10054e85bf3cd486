/* Unit tests for the per-address connection rate. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rate.h"
#include "unit.h"

static struct rate_table *t;

static void
setup(void)
{
	t = rate_new();
	ck_assert_ptr_nonnull(t);
}

static void
teardown(void)
{
	rate_free(t);
}

static enum rate_verdict
take(const char *host, uint64_t now_ms, unsigned rate, unsigned burst)
{
	union net_addr a = unit_addr(host);
	unsigned char key[16];

	rate_key(&a, 64, key);
	return rate_take(t, key, now_ms, rate, burst);
}

/* How many connections in a row at one instant are let in. */
static unsigned
taken_at(const char *host, uint64_t now_ms, unsigned rate, unsigned burst)
{
	unsigned n = 0;

	while (take(host, now_ms, rate, burst) == RATE_TAKEN)
		n++;
	return n;
}

START_TEST(test_burst_then_refill)
{
	/* A burst of 5, then one a second: 2 per second... */
	ck_assert_uint_eq(taken_at("192.0.2.7", 1000, 2, 5), 5);
	ck_assert_int_eq(take("192.0.2.7", 1000, 2, 5), RATE_EMPTY);
	/* ...so one token after 500 ms, not before. */
	ck_assert_int_eq(take("192.0.2.7", 1499, 2, 5), RATE_EMPTY);
	ck_assert_int_eq(take("192.0.2.7", 1500, 2, 5), RATE_TAKEN);
	ck_assert_int_eq(take("192.0.2.7", 1500, 2, 5), RATE_EMPTY);
	/* A long pause fills the bucket, no more. */
	ck_assert_uint_eq(taken_at("192.0.2.7", 100000, 2, 5), 5);
}
END_TEST

/* Refusals spend nothing: a client hammering still gets its share. */
START_TEST(test_refusals_cost_nothing)
{
	unsigned in = 0;

	for (uint64_t ms = 0; ms < 10000; ms += 10)
		in += take("192.0.2.7", ms, 10, 1) == RATE_TAKEN;
	/* One at 0 ms, then one each 100 ms. */
	ck_assert_uint_eq(in, 100);
}
END_TEST

START_TEST(test_addresses_apart)
{
	ck_assert_uint_eq(taken_at("192.0.2.7", 0, 1, 3), 3);
	ck_assert_uint_eq(taken_at("192.0.2.8", 0, 1, 3), 3);
	ck_assert_uint_eq(taken_at("::1", 0, 1, 3), 3);
	/* An IPv4-mapped client is the IPv4 one. */
	ck_assert_int_eq(take("::ffff:192.0.2.7", 0, 1, 3), RATE_EMPTY);
}
END_TEST

/* IPv6 clients share a bucket per prefix: rotating addresses gains none. */
START_TEST(test_ipv6_prefix)
{
	ck_assert_uint_eq(taken_at("2001:db8:1:2::1", 0, 1, 3), 3);
	ck_assert_int_eq(take("2001:db8:1:2:ffff::9", 0, 1, 3), RATE_EMPTY);
	ck_assert_uint_eq(taken_at("2001:db8:1:3::1", 0, 1, 3), 3);
}
END_TEST

static const struct {
	const char *host;
	unsigned prefix;
	const char *key;
} keys[] = {
	{ "2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::" },
	{ "2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::" },
	{ "2001:db8:1:2ff:3:4:5:6", 56, "2001:db8:1:200::" },
	{ "2001:db8:1:2ff:3:4:5:6", 60, "2001:db8:1:2f0::" },
	{ "2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6" },
	{ "ffff:ffff::", 1, "8000::" },
	/* IPv4 is never cut. */
	{ "192.0.2.7", 1, "::ffff:192.0.2.7" },
	{ "::ffff:192.0.2.7", 64, "::ffff:192.0.2.7" },
};

START_TEST(test_key)
{
	union net_addr a = unit_addr(keys[_i].host);
	union net_addr want = unit_addr(keys[_i].key);
	unsigned char key[16];

	rate_key(&a, keys[_i].prefix, key);
	ck_assert_mem_eq(key, &want.sin6.sin6_addr, 16);
}
END_TEST

/*
 * Buckets that filled up again are dropped as the table needs room, so a
 * stream of new addresses keeps it at those of the last burst / rate
 * seconds, and what is left still counts right.
 */
START_TEST(test_full_buckets_go)
{
	char host[32];

	for (unsigned i = 0; i < 100000; i++) {
		snprintf(host, sizeof(host), "10.%u.%u.%u", i >> 16,
		    (i >> 8) & 0xff, i & 0xff);
		/* 1000 new addresses a second; a bucket refills in 2 s. */
		ck_assert_int_eq(take(host, i, 1, 2), RATE_TAKEN);
	}
	ck_assert_uint_le(rate_buckets(t), 4 * 2000);
	ck_assert_int_eq(take("10.1.134.159", 99999, 1, 2), RATE_TAKEN);
	ck_assert_int_eq(take("10.1.134.159", 99999, 1, 2), RATE_EMPTY);
}
END_TEST

int
main(void)
{
	const struct unit_case cases[] = {
		UNIT_TEST(test_burst_then_refill),
		UNIT_TEST(test_refusals_cost_nothing),
		UNIT_TEST(test_addresses_apart),
		UNIT_TEST(test_ipv6_prefix),
		UNIT_ROWS(test_key, keys),
		UNIT_TEST(test_full_buckets_go),
	};

	return UNIT_MAIN("rate", cases, setup, teardown);
}
