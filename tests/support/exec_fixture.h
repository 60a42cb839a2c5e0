/* exec_fixture.h — the unit suites' executor on the fake runtime: one
 * spelling of the layered fixture (fake runtime with the test image, a
 * fresh state dir, executors in it) that test_executor, test_exit_watch,
 * test_logs_follow, test_sweep and test_verify set up in their .init and
 * tear down in reverse in their .fini. Criterion forks per test, so the
 * fixture's state is one per process. */
#ifndef DMS_EXEC_FIXTURE_H
#define DMS_EXEC_FIXTURE_H

#include "executor.h"

/* The image every fixture's fake runtime has. */
#define EXEC_FIXTURE_IMAGE "fake/busybox:1"

/* Resets the fake runtime, adds EXEC_FIXTURE_IMAGE and creates the state
 * dir /tmp/dms-<tag>-XXXXXX (asserts). */
void exec_fixture_setup(const char *tag);

/* The state dir of exec_fixture_setup. */
const char *exec_fixture_state_dir(void);

/* An executor `id` on `ops` (NULL: fake_runtime_ops) in the state dir, with
 * stop_timeout 1s and the config lines `extra` (may be NULL); asserts,
 * naming the error. Waiting for its event stream is the caller's. */
struct dms_executor *exec_fixture_new(const char *id, const struct runtime_ops *ops,
                                      const char *extra);

/* The reverse of setup: destroys *ex (ex or *ex may be NULL) and sets it
 * NULL, removes the state dir, resets the fake runtime. */
void exec_fixture_teardown(struct dms_executor **ex);

#endif
