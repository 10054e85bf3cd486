/* Unit tests for CIDR parsing and matching. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "cidr.h"
#include "unit.h"

static union net_addr
addr(const char *text)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &a.sin6.sin6_addr),
		    1);
		a.sin6.sin6_family = AF_INET6;
	}
	return a;
}

static bool
matches(const char *cidr, const char *host)
{
	struct cidr c;
	union net_addr a = addr(host);
	char why[64];

	ck_assert_msg(cidr_parse(cidr, &c, why, sizeof(why)) == 0, "%s: %s",
	    cidr, why);
	return cidr_match(&c, &a);
}

START_TEST(test_matching)
{
	ck_assert(matches("127.0.0.0/8", "127.1.2.3"));
	ck_assert(!matches("127.0.0.0/8", "128.0.0.1"));
	ck_assert(matches("10.1.2.3", "10.1.2.3"));
	ck_assert(!matches("10.1.2.3", "10.1.2.4"));
	ck_assert(matches("192.168.0.0/23", "192.168.1.255"));
	ck_assert(!matches("192.168.0.0/23", "192.168.2.0"));
	ck_assert(matches("0.0.0.0/0", "8.8.8.8"));
	ck_assert(matches("::1/128", "::1"));
	ck_assert(matches("2001:db8::/32", "2001:db8:ffff::7"));
	ck_assert(!matches("2001:db8::/32", "2001:db9::"));
	/* IPv4 clients on an IPv6 socket match IPv4 ranges, not IPv6. */
	ck_assert(matches("127.0.0.0/8", "::ffff:127.0.0.1"));
	ck_assert(!matches("::1/128", "127.0.0.1"));
}
END_TEST

static const struct {
	const char *text;
	const char *why;
} bad[] = {
	{ "", "not an address" },
	{ "localhost", "not an IPv4 or IPv6 address" },
	{ "10.0.0.0/33", "the prefix must be 0 to 32" },
	{ "::/129", "the prefix must be 0 to 128" },
	{ "10.0.0.0/", "the prefix must be 0 to 32" },
	{ "10.0.0.0/+8", "the prefix must be 0 to 32" },
	{ "10.0.0.0/8x", "the prefix must be 0 to 32" },
	{ "10.0.0.1/8", "has host bits set past /8" },
};

START_TEST(test_malformed)
{
	struct cidr c;
	char why[64];

	ck_assert_int_eq(cidr_parse(bad[_i].text, &c, why, sizeof(why)), -1);
	ck_assert_str_eq(why, bad[_i].why);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("cidr");

	tcase_add_test(tc, test_matching);
	tcase_add_loop_test(tc, test_malformed, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
