/* What every unit-test program shares: run one suite, report as TAP. */
#ifndef HELLOD_TEST_UNIT_H
#define HELLOD_TEST_UNIT_H

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* Output format and verbosity come from CK_TAP_LOG_FILE_NAME and friends. */
static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* One test, or one test run for each row of a table (UNIT_ROWS). */
struct unit_case {
	const TTest *test;
	int rows; /* 0: a plain test */
};

#define UNIT_TEST(t) \
	{            \
		t, 0 \
	}
#define UNIT_ROWS(t, table)                                  \
	{                                                    \
		t, (int)(sizeof(table) / sizeof((table)[0])) \
	}

/* Runs the cases as one suite, each with the fixture if there is one. */
static inline int
unit_main(const char *name, const struct unit_case *cases, size_t n, SFun setup,
    SFun teardown)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (size_t i = 0; i < n; i++)
		tcase_add_loop_test(tc, cases[i].test, 0,
		    cases[i].rows > 0 ? cases[i].rows : 1);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

/* An IPv4 or IPv6 address from its text, port 0. */
static inline union net_addr
unit_addr(const char *text)
{
	union net_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
	} else {
		ck_assert_msg(inet_pton(AF_INET6, text, &a.sin6.sin6_addr) == 1,
		    "not an address: %s", text);
		a.sin6.sin6_family = AF_INET6;
	}
	return a;
}

#define UNIT_MAIN(name, cases, setup, teardown)                           \
	unit_main(name, cases, sizeof(cases) / sizeof((cases)[0]), setup, \
	    teardown)

#endif
