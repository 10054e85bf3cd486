/* Unit tests for the per-address connection counts. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "iptable.h"
#include "unit.h"

static union net_addr
v4(unsigned n)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.sin.sin_family = AF_INET;
	a.sin.sin_addr.s_addr = htonl(0x0a000000u + n);
	a.sin.sin_port = htons((uint16_t)(1000 + n % 7));
	return a;
}

static union net_addr
v6(const char *text)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, text, &a.sin6.sin6_addr), 1);
	return a;
}

static unsigned
count_v4(const struct iptable *t, unsigned n)
{
	union net_addr a = v4(n);

	return iptable_count(t, &a);
}

START_TEST(test_counts_per_address_not_port)
{
	struct iptable *t = iptable_new();
	union net_addr a = v4(1), b = v4(1);

	b.sin.sin_port = htons(4242);
	ck_assert_uint_eq(iptable_count(t, &a), 0);
	ck_assert_int_eq(iptable_add(t, &a), 0);
	ck_assert_int_eq(iptable_add(t, &b), 0);
	ck_assert_uint_eq(iptable_count(t, &a), 2);
	ck_assert_uint_eq(count_v4(t, 2), 0);
	iptable_remove(t, &a);
	ck_assert_uint_eq(iptable_count(t, &b), 1);
	iptable_remove(t, &b);
	ck_assert_uint_eq(iptable_count(t, &a), 0);
	iptable_free(t);
}
END_TEST

START_TEST(test_ipv4_and_ipv6_are_apart)
{
	struct iptable *t = iptable_new();
	union net_addr a4 = v4(5), a6 = v6("::1"), m6 = v6("::ffff:10.0.0.5");

	ck_assert_int_eq(iptable_add(t, &a6), 0);
	ck_assert_uint_eq(iptable_count(t, &a4), 0);
	ck_assert_int_eq(iptable_add(t, &a4), 0);
	/* An IPv4-mapped address is the same client as its IPv4 form. */
	ck_assert_uint_eq(iptable_count(t, &m6), 1);
	ck_assert_uint_eq(iptable_count(t, &a6), 1);
	iptable_free(t);
}
END_TEST

/* Random adds and removes agree with a plain array of counts. */
START_TEST(test_matches_a_model)
{
	enum { N = 3000 };
	static unsigned model[N];
	struct iptable *t = iptable_new();

	srand(7);
	memset(model, 0, sizeof(model));
	for (int step = 0; step < 200000; step++) {
		unsigned n = (unsigned)rand() % N;
		union net_addr a = v4(n);
		if (rand() % 3 != 0 || model[n] == 0) {
			ck_assert_int_eq(iptable_add(t, &a), 0);
			model[n]++;
		} else {
			iptable_remove(t, &a);
			model[n]--;
		}
	}
	for (unsigned n = 0; n < N; n++)
		ck_assert_uint_eq(count_v4(t, n), model[n]);
	iptable_free(t);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_TEST(test_counts_per_address_not_port),
		UNIT_TEST(test_ipv4_and_ipv6_are_apart),
		UNIT_TEST(test_matches_a_model),
	};

	return UNIT_MAIN("iptable", tests, NULL, NULL);
}
