/* What every unit-test program shares: run one suite, report as TAP. */
#ifndef HELLOD_TEST_UNIT_H
#define HELLOD_TEST_UNIT_H

#include <check.h>
#include <stdlib.h>

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

#endif
