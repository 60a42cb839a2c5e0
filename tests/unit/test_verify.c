/* test_verify.c — the check after create (executor/verify.c) on the fake
 * runtime, whose engine silently drops one setting at a time: each dropped
 * setting fails the start, naming it, and leaves neither container nor
 * network; with nothing dropped the job starts and its per-job network goes
 * with its container. The create body itself is test_compat_create.c; the
 * engines' own behaviour is tests/integration/test_engine_spec.c. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor.h"
#include "fake_runtime.h"
#include "labels.h"
#include "test_time.h"
#include "test_assert.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */

static struct dms_executor *ex;
static char in_dir[] = "/tmp/dms-unit-spec-in-XXXXXX";

static void setup(void)
{
	exec_fixture_setup("unit-spec");
	cr_assert(mkdtemp(in_dir), "mkdtemp %s: %s", in_dir, strerror(errno));
	/* The policy this suite's requests need, in its own config. */
	char policy[256];
	snprintf(policy, sizeof(policy),
	         "policy:\n  bind_roots: [\"%s\"]\n  results_root: \"%s\"\n  cap_add: "
	         "[NET_ADMIN]\n  gpus: true\n",
	         in_dir, in_dir);
	ex = exec_fixture_new("unit", NULL, policy);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
}

static void teardown(void)
{
	exec_fixture_teardown(&ex);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", in_dir);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "%s: exit status %d", cmd, rc);
	strcpy(in_dir, "/tmp/dms-unit-spec-in-XXXXXX");
}

TestSuite(verify, .init = setup, .fini = teardown, .timeout = 30);

/* Every setting the check covers, asked for at once. */
static char *full_request(const char *exec_id)
{
	char *r = NULL;
	cr_assert(asprintf(&r,
	                   "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"%s\",\"user\":\"1:1\","
	                   "\"working_directory\":\"/w\",\"environment\":[\"A=1\"],"
	                   "\"labels\":{\"team\":\"t\"},\"read_only_rootfs\":true,"
	                   "\"cap_drop\":[\"CHOWN\"],\"cap_add\":[\"NET_ADMIN\"],"
	                   "\"network_mode\":\"isolated\",\"ports\":[{\"container_port\":80,"
	                   "\"host_port\":8080}]}},\"resources\":{\"cpu\":{\"cores\":0.5,"
	                   "\"cpuset\":\"0\"},\"memory\":{\"size\":\"8MiB\"},\"pids\":{\"limit\":"
	                   "9}},\"inputs\":[{\"source\":\"%s\",\"target\":\"/in\"}],"
	                   "\"results_dir\":\"%s/r\",\"outputs\":[{\"source\":\"o\",\"target\":"
	                   "\"/out\"}]}",
	                   exec_id, IMAGE, in_dir, in_dir) > 0);
	return r;
}

static size_t networks_left(void)
{
	strv ids = NULL;
	assert_cmp(fake_runtime_ops.object_list(NULL, NULL, RT_OBJ_NETWORK, LABEL_EXECUTOR "=unit",
	                                        &ids, NULL),
	           ==, 0);
	size_t n = strv_len(ids);
	strv_free(ids);
	return n;
}

Test(verify, nothing_dropped_starts_and_the_network_goes_with_the_container)
{
	char *r = full_request("ok");
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start: %s", err ? err->message : "");
	free(r);
	char *n = labels_container_name("unit", "ok");
	cr_assert_eq(networks_left(), 1, "the job's network was not created");
	assert_cmp(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), ==, 0);
	cr_assert(fake_runtime_wait_gone(n, DEADLINE_MS), "container not removed");
	int64_t deadline = mono_now_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (networks_left() && mono_now_ns() < deadline)
		usleep(10000);
	cr_assert_eq(networks_left(), 0, "the job's network outlived its container");
	free(n);
}

struct drop_case {
	char setting[32]; /* fake_runtime_drop_setting() */
	char named[80];   /* the message names it so */
};

ParameterizedTestParameters(verify, a_dropped_setting_fails_start)
{
	static struct drop_case cases[] = {
	    {"NanoCpus", "HostConfig.NanoCpus: asked 500000000, it reports 0"},
	    {"Memory", "HostConfig.Memory: asked 8388608, it reports 0"},
	    {"MemorySwap", "HostConfig.MemorySwap: asked 8388608, it reports -1"},
	    {"PidsLimit", "HostConfig.PidsLimit: asked 9"},
	    {"CpusetCpus", "HostConfig.CpusetCpus: asked \"0\""},
	    {"ReadonlyRootfs", "HostConfig.ReadonlyRootfs: asked true"},
	    {"CapDrop", "HostConfig.CapDrop: asked CHOWN"},
	    {"CapAdd", "HostConfig.CapAdd: asked NET_ADMIN"},
	    {"SecurityOpt", "HostConfig.SecurityOpt: asked no-new-privileges"},
	    {"Mounts", "Mounts: asked /tmp/dms-unit-spec-in-"},
	    {"PortBindings", "HostConfig.PortBindings: asked 80/tcp=:8080"},
	    {"NetworkMode", "HostConfig.NetworkMode: asked dms-"},
	    {"User", "Config.User: asked \"1:1\""},
	    {"WorkingDir", "Config.WorkingDir: asked \"/w\""},
	    {"Env", "Config.Env: asked A=1"},
	    {"Labels", "Config.Labels: asked "},
	};
	return cr_make_param_array(struct drop_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct drop_case *c, verify, a_dropped_setting_fails_start)
{
	fake_runtime_drop_setting(c->setting);
	char *r = full_request("drop");
	dms_error *err = NULL;
	int rc = executor_start(ex, NULL, r, &err);
	free(r);
	cr_assert_eq(rc, DMS_ERR_CONTAINER, "%s dropped: rc = %d (%s)", c->setting, rc,
	             err ? err->message : "no error");
	cr_assert(strstr(err->message, c->named), "%s dropped: message \"%s\" lacks \"%s\"",
	          c->setting, err->message, c->named);
	char *n = labels_container_name("unit", "drop");
	cr_assert_not(fake_runtime_exists(n), "%s dropped: the container was left", c->setting);
	cr_assert_eq(networks_left(), 0, "%s dropped: the job's network was left", c->setting);
	free(n);
	err_free(err);
}

Test(verify, gpus_dropped_fail_start)
{
	/* Device nodes are checked by the compat runtime, not by the fake:
	 * here only the comparison is exercised. */
	const char *const drops[] = {"Devices", "DeviceRequests"};
	const char *const gpus[] = {"[{\"vendor\":\"intel\",\"ids\":[\"0\"]}]",
	                            "[{\"vendor\":\"nvidia\",\"ids\":[\"0\",\"2\"]}]"};
	const char *const named[] = {"Devices/DeviceRequests: asked /dev/dri/card0",
	                             "Devices/DeviceRequests: asked nvidia:0,2"};
	for (int i = 0; i < 2; i++) {
		char *r = NULL, *r2 = NULL;
		const char *fmt = "{\"job_id\":\"j\",\"execution_id\":\"%s%d\",\"engine_spec\":{"
		                  "\"type\":\"docker\",\"params\":{\"image\":\"%s\"}},"
		                  "\"resources\":{\"gpus\":%s}}";
		assert_cmp(asprintf(&r, fmt, "g", i, IMAGE, gpus[i]), >, 0);
		assert_cmp(asprintf(&r2, fmt, "x", i, IMAGE, gpus[i]), >, 0);
		dms_error *err = NULL;
		fake_runtime_drop_setting(NULL);
		cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "%s: %s", gpus[i],
		             err ? err->message : "");
		fake_runtime_drop_setting(drops[i]);
		int rc = executor_start(ex, NULL, r2, &err);
		cr_assert_eq(rc, DMS_ERR_CONTAINER, "%s dropped: rc = %d", drops[i], rc);
		cr_assert(strstr(err->message, named[i]), "message \"%s\" lacks \"%s\"",
		          err->message, named[i]);
		err_free(err);
		free(r);
		free(r2);
	}
}
