/* exec_fixture.c — the unit suites' executor on the fake runtime
 * (exec_fixture.h): set up fake runtime → state dir → executors, torn down
 * in reverse. */
#include "exec_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fake_runtime.h"

static char state_dir[64];

void exec_fixture_setup(const char *tag)
{
	fake_runtime_reset();
	fake_runtime_add_image(EXEC_FIXTURE_IMAGE);
	int n = snprintf(state_dir, sizeof(state_dir), "/tmp/dms-%s-XXXXXX", tag);
	cr_assert(n > 0 && (size_t)n < sizeof(state_dir), "state dir tag too long: %s", tag);
	cr_assert(mkdtemp(state_dir), "mkdtemp %s: %s", state_dir, strerror(errno));
}

const char *exec_fixture_state_dir(void)
{
	return state_dir;
}

struct dms_executor *exec_fixture_new(const char *id, const struct runtime_ops *ops,
                                      const char *extra)
{
	char *cfg = NULL;
	cr_assert(asprintf(&cfg, "state_dir: %s\nstop_timeout: 1s\n%s", state_dir,
	                   extra ? extra : "") > 0);
	struct dms_executor *e = NULL;
	dms_error *err = NULL;
	int rc = executor_new_with_runtime(id, cfg, ops ? ops : &fake_runtime_ops, &e, &err);
	cr_assert_eq(rc, 0, "executor_new(%s): rc = %d (%s)", id, rc, err ? err->message : "?");
	free(cfg);
	return e;
}

void exec_fixture_teardown(struct dms_executor **ex)
{
	if (ex) {
		executor_destroy(*ex);
		*ex = NULL;
	}
	if (state_dir[0]) {
		char cmd[sizeof(state_dir) + 16];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
		int rc = system(cmd);
		cr_assert_eq(rc, 0, "%s: exit status %d", cmd, rc);
		state_dir[0] = '\0';
	}
	fake_runtime_reset();
}
