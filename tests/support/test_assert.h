/* test_assert.h — comparisons whose operands are calls, evaluated once and
 * printed with their text when the assertion fails: the Criterion macros'
 * message arguments would evaluate a call a second time (for a second
 * start, create or write), so these take the values first. Integers,
 * enums and pointers compare as long long (no floating-point operands). */
#ifndef DMS_TEST_ASSERT_H
#define DMS_TEST_ASSERT_H

#include <criterion/criterion.h>

#define TEST_CMP_(check, a, op, b)                                                                 \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		check(a_ op b_, "%s = %lld, %s = %lld: not %s", #a, a_, #b, b_, #op);              \
	} while (0)

/* assert_cmp(call(...), ==, 0): cr_assert of a op b, printing both. */
#define assert_cmp(a, op, b) TEST_CMP_(cr_assert, a, op, b)
/* The same with cr_expect: the test goes on. */
#define expect_cmp(a, op, b) TEST_CMP_(cr_expect, a, op, b)

#endif
