/* Unit tests for CIDR parsing and matching. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "cidr.h"
#include "unit.h"

static struct cidr
parsed(const char *text)
{
	struct cidr c;
	char why[64];

	ck_assert_msg(cidr_parse(text, &c, why, sizeof(why)) == 0, "%s: %s",
	    text, why);
	return c;
}

static bool
matches(const char *cidr, const char *host)
{
	struct cidr c = parsed(cidr);
	union net_addr a = unit_addr(host);

	return cidr_match(&c, &a);
}

static const struct {
	const char *text;
	int family;
	unsigned prefix;
	unsigned char addr[16];
} good[] = {
	{ "127.0.0.0/8", AF_INET, 8, { 127 } },
	{ "10.1.2.3", AF_INET, 32, { 10, 1, 2, 3 } },
	{ "10.1.2.3/32", AF_INET, 32, { 10, 1, 2, 3 } },
	{ "0.0.0.0/0", AF_INET, 0, { 0 } },
	{ "192.168.0.0/23", AF_INET, 23, { 192, 168 } },
	{ "::1/128", AF_INET6, 128, { [15] = 1 } },
	{ "::1", AF_INET6, 128, { [15] = 1 } },
	{ "::/0", AF_INET6, 0, { 0 } },
	{ "2001:DB8::/32", AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 } },
	{ "fe80::/10", AF_INET6, 10, { 0xfe, 0x80 } },
	/* Contains the IPv4-mapped block, but is an IPv6 range. */
	{ "::/80", AF_INET6, 80, { 0 } },
};

START_TEST(test_parse)
{
	struct cidr c = parsed(good[_i].text);

	ck_assert_int_eq(c.family, good[_i].family);
	ck_assert_uint_eq(c.prefix, good[_i].prefix);
	ck_assert_mem_eq(c.addr, good[_i].addr, sizeof(c.addr));
}
END_TEST

static const struct {
	const char *cidr, *host;
	bool match;
} cases[] = {
	{ "127.0.0.0/8", "127.1.2.3", true },
	{ "127.0.0.0/8", "127.255.255.255", true },
	{ "127.0.0.0/8", "128.0.0.1", false },
	{ "127.0.0.0/8", "126.255.255.255", false },
	{ "10.1.2.3", "10.1.2.3", true },
	{ "10.1.2.3", "10.1.2.4", false },
	{ "192.168.0.0/23", "192.168.1.255", true },
	{ "192.168.0.0/23", "192.168.2.0", false },
	{ "128.0.0.0/1", "255.0.0.0", true },
	{ "128.0.0.0/1", "127.255.255.255", false },
	{ "10.0.0.2/31", "10.0.0.3", true },
	{ "10.0.0.2/31", "10.0.0.4", false },
	{ "0.0.0.0/0", "8.8.8.8", true },
	{ "::1/128", "::1", true },
	{ "::1", "::2", false },
	{ "2001:db8::/32", "2001:db8:ffff::7", true },
	{ "2001:db8::/32", "2001:db9::", false },
	{ "fe80::/10", "febf::1", true },
	{ "fe80::/10", "fec0::1", false },
	{ "::/127", "::1", true },
	{ "::/127", "::2", false },
	{ "::/0", "2001:db8::1", true },
	/* The families do not mix... */
	{ "::1/128", "127.0.0.1", false },
	{ "0.0.0.0/0", "::1", false },
	{ "::/0", "127.0.0.1", false },
	/* ...and an IPv4-mapped peer is an IPv4 client. */
	{ "127.0.0.0/8", "::ffff:127.0.0.1", true },
	{ "127.0.0.0/8", "::ffff:128.0.0.1", false },
	{ "0.0.0.0/0", "::ffff:192.0.2.7", true },
	{ "::/0", "::ffff:127.0.0.1", false },
	{ "::/80", "::ffff:127.0.0.1", false },
	/* Not mapped: ::127.0.0.1 (IPv4-compatible) and ::fffe:... */
	{ "127.0.0.0/8", "::127.0.0.1", false },
	{ "127.0.0.0/8", "::fffe:127.0.0.1", false },
};

START_TEST(test_match)
{
	ck_assert_msg(matches(cases[_i].cidr, cases[_i].host) ==
		cases[_i].match,
	    "%s against %s", cases[_i].host, cases[_i].cidr);
}
END_TEST

/* The port and the IPv6 scope play no part. */
START_TEST(test_match_ignores_port_and_scope)
{
	struct cidr c4 = parsed("10.0.0.0/8"), c6 = parsed("fe80::/10");
	union net_addr a4 = unit_addr("10.9.9.9"), a6 = unit_addr("fe80::1");

	a4.sin.sin_port = htons(40000);
	a6.sin6.sin6_port = htons(1);
	a6.sin6.sin6_scope_id = 2;
	ck_assert(cidr_match(&c4, &a4));
	ck_assert(cidr_match(&c6, &a6));
}
END_TEST

START_TEST(test_match_other_families)
{
	struct cidr c = parsed("0.0.0.0/0");
	union net_addr a;

	memset(&a, 0, sizeof(a));
	ck_assert(!cidr_match(&c, &a));
	a.sa.sa_family = AF_UNIX;
	ck_assert(!cidr_match(&c, &a));
}
END_TEST

static const struct {
	const char *text;
	const char *why;
} bad[] = {
	{ "", "not an IPv4 or IPv6 address" },
	{ "/8", "not an IPv4 or IPv6 address" },
	{ "localhost", "not an IPv4 or IPv6 address" },
	{ "localhost/8", "not an IPv4 or IPv6 address" },
	{ "10.0.0", "not an IPv4 or IPv6 address" },
	{ "010.0.0.0/8", "not an IPv4 or IPv6 address" },
	{ "256.0.0.0/8", "not an IPv4 or IPv6 address" },
	{ " 10.0.0.0/8", "not an IPv4 or IPv6 address" },
	{ "10.0.0.0 /8", "not an IPv4 or IPv6 address" },
	{ "fe80::1%eth0/64", "not an IPv4 or IPv6 address" },
	{ "[::1]/128", "not an IPv4 or IPv6 address" },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/128",
	    "not an IPv4 or IPv6 address" },
	{ "10.0.0.0/33", "the prefix must be 0 to 32" },
	{ "::/129", "the prefix must be 0 to 128" },
	{ "10.0.0.0/", "the prefix must be 0 to 32" },
	{ "10.0.0.0/-1", "the prefix must be 0 to 32" },
	{ "10.0.0.0/+8", "the prefix must be 0 to 32" },
	{ "10.0.0.0/ 8", "the prefix must be 0 to 32" },
	{ "10.0.0.0/8 ", "the prefix must be 0 to 32" },
	{ "10.0.0.0/8x", "the prefix must be 0 to 32" },
	{ "10.0.0.0/08", "the prefix must be 0 to 32" },
	{ "10.0.0.0/0x8", "the prefix must be 0 to 32" },
	{ "10.0.0.0/8/8", "the prefix must be 0 to 32" },
	{ "10.0.0.0/4294967304", "the prefix must be 0 to 32" },
	{ "::/1000", "the prefix must be 0 to 128" },
	{ "10.0.0.1/8", "has host bits set past /8" },
	{ "192.168.1.0/23", "has host bits set past /23" },
	{ "0.0.0.1/0", "has host bits set past /0" },
	{ "::1/127", "has host bits set past /127" },
	{ "2001:db8::/15", "has host bits set past /15" },
	{ "::ffff:10.0.0.0/104", "IPv4-mapped: write 10.0.0.0/8" },
	{ "::ffff:0.0.0.0/96", "IPv4-mapped: write 0.0.0.0/0" },
	{ "::ffff:127.0.0.1", "IPv4-mapped: write 127.0.0.1/32" },
};

START_TEST(test_malformed)
{
	struct cidr c;
	char why[64];

	ck_assert_int_eq(cidr_parse(bad[_i].text, &c, why, sizeof(why)), -1);
	ck_assert_str_eq(why, bad[_i].why);
}
END_TEST

/* A short why buffer truncates the reason and still ends it. */
START_TEST(test_short_why)
{
	struct cidr c;
	char why[4] = "xxx";

	ck_assert_int_eq(cidr_parse("nope", &c, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "not");
	ck_assert_int_eq(cidr_parse("nope", &c, NULL, 0), -1);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_ROWS(test_parse, good),
		UNIT_ROWS(test_match, cases),
		UNIT_TEST(test_match_ignores_port_and_scope),
		UNIT_TEST(test_match_other_families),
		UNIT_ROWS(test_malformed, bad),
		UNIT_TEST(test_short_why),
	};

	return UNIT_MAIN("cidr", tests, NULL, NULL);
}
