/* test_time.h — deadlines that stretch under a slow runner. Under valgrind
 * memcheck a test runs 20-50x slower than natively; scripts/valgrind.sh sets
 * DMS_TEST_TIME_SCALE (an integer >= 1) and every deadline a test waits on,
 * and the Criterion timeout of every suite and test, is multiplied by it.
 * Deadlines stay deadlines: only their length changes. Lower bounds a test
 * asserts on elapsed time (a grace period honoured) are not scaled. */
#ifndef DMS_TEST_TIME_H
#define DMS_TEST_TIME_H

#include <stdint.h>

/* DMS_TEST_TIME_SCALE, or 1 when unset or not a number in [1, 1000]. */
int test_time_scale(void);
/* ms * test_time_scale(): the length of a deadline of `ms` natively. */
int64_t test_ms(int64_t ms);

#endif
