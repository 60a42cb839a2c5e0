/* test_time.c — see test_time.h. Compiled into every test executable (an
 * INTERFACE source of dms_test_support, tests/CMakeLists.txt), not archived:
 * the report hook below must be linked even into a suite that never calls
 * test_ms(). */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdlib.h>

#include "test_time.h"

int test_time_scale(void)
{
	static int scale;
	if (scale == 0) {
		const char *s = getenv("DMS_TEST_TIME_SCALE");
		char *end = NULL;
		long v = s ? strtol(s, &end, 10) : 1;
		scale = (s && (end == s || *end != '\0')) || v < 1 || v > 1000 ? 1 : (int)v;
	}
	return scale;
}

int64_t test_ms(int64_t ms)
{
	return ms * test_time_scale();
}

/* Criterion reads a test's timeout (the test's own, else its suite's) in
 * the runner when it spawns the test, after PRE_ALL: scaling them here
 * scales them all. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	int scale = test_time_scale();
	if (scale == 1)
		return;
	FOREACH_SET(struct criterion_suite_set * s, set->suites)
	{
		if (s->suite.data)
			s->suite.data->timeout *= scale;
		if (s->tests) {
			FOREACH_SET(struct criterion_test * t, s->tests)
			{
				if (t->data)
					t->data->timeout *= scale;
			}
		}
	}
}
