/* Unit tests for the allow and deny rules. */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "access.h"
#include "unit.h"

#define MAX_RULES 4

/* Each row: the two lists, then addresses let in and addresses refused. */
static const struct {
	const char *allow[MAX_RULES], *deny[MAX_RULES];
	const char *in[MAX_RULES], *out[MAX_RULES];
} rows[] = {
	/* No rules: everyone. */
	{ .in = { "127.0.0.1", "::1", "192.0.2.7" } },
	/* Only deny: everyone else. */
	{ .deny = { "192.0.2.0/24" },
	    .in = { "192.0.3.1", "::1" },
	    .out = { "192.0.2.7", "::ffff:192.0.2.8" } },
	/* Only allow: no one else, IPv6 included. */
	{ .allow = { "10.0.0.0/8" },
	    .in = { "10.1.2.3", "::ffff:10.0.0.1" },
	    .out = { "11.0.0.1", "::1" } },
	/* A deny inside an allow: the longer prefix wins. */
	{ .allow = { "10.0.0.0/8" },
	    .deny = { "10.1.0.0/16" },
	    .in = { "10.2.0.1", "10.0.255.255" },
	    .out = { "10.1.0.1", "10.1.255.255" } },
	/* An allow inside a deny: so does it. */
	{ .allow = { "192.0.2.7" },
	    .deny = { "0.0.0.0/0", "::/0" },
	    .in = { "192.0.2.7" },
	    .out = { "192.0.2.8", "::1", "2001:db8::1" } },
	/* One range on both lists: deny. */
	{ .allow = { "10.0.0.0/8" },
	    .deny = { "10.0.0.0/8" },
	    .out = { "10.0.0.1" } },
	/* Order within a list does not matter; the most specific does. */
	{ .allow = { "10.1.2.0/24", "10.0.0.0/8" },
	    .deny = { "10.1.0.0/16", "10.1.2.3" },
	    .in = { "10.1.2.4", "10.9.0.1" },
	    .out = { "10.1.2.3", "10.1.3.1" } },
	/* IPv6 ranges hold only IPv6 clients. */
	{ .allow = { "2001:db8::/32" },
	    .deny = { "2001:db8:bad::/48" },
	    .in = { "2001:db8::1", "2001:db8:bad0::1" },
	    .out = { "2001:db8:bad::1", "2001:db9::1", "127.0.0.1" } },
};

static size_t
count(const char *const *list)
{
	size_t n = 0;

	while (n < MAX_RULES && list[n] != NULL)
		n++;
	return n;
}

static void
parse_all(const char *const *list, struct cidr *set)
{
	char why[64];

	for (size_t i = 0; i < count(list); i++)
		ck_assert_msg(cidr_parse(list[i], &set[i], why, sizeof(why)) ==
			0,
		    "%s: %s", list[i], why);
}

START_TEST(test_rules)
{
	struct cidr allow[MAX_RULES], deny[MAX_RULES];
	struct access_rules r = { allow, count(rows[_i].allow), deny,
		count(rows[_i].deny) };

	parse_all(rows[_i].allow, allow);
	parse_all(rows[_i].deny, deny);
	for (size_t i = 0; i < count(rows[_i].in); i++) {
		union net_addr a = unit_addr(rows[_i].in[i]);
		ck_assert_msg(access_allows(&r, &a), "row %d: %s refused", _i,
		    rows[_i].in[i]);
	}
	for (size_t i = 0; i < count(rows[_i].out); i++) {
		union net_addr a = unit_addr(rows[_i].out[i]);
		ck_assert_msg(!access_allows(&r, &a), "row %d: %s let in", _i,
		    rows[_i].out[i]);
	}
}
END_TEST

/* A peer of another family (a UNIX socket) is not for the rules. */
START_TEST(test_other_family)
{
	struct cidr all;
	struct access_rules open = { NULL, 0, NULL, 0 };
	struct access_rules only = { &all, 1, NULL, 0 };
	char why[64];
	union net_addr a;

	memset(&a, 0, sizeof(a));
	a.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &all, why, sizeof(why)), 0);
	ck_assert(access_allows(&open, &a));
	ck_assert(access_allows(&only, &a));
}
END_TEST

int
main(void)
{
	const struct unit_case cases[] = {
		UNIT_ROWS(test_rules, rows),
		UNIT_TEST(test_other_family),
	};

	return UNIT_MAIN("access", cases, NULL, NULL);
}
