/* test_spec.c — the container side of the job spec without an engine:
 * the exact create body compat.c sends for security options, cpuset,
 * ports, outputs and GPUs (Docker and Podman flavors); the check after
 * create (executor/verify.c) with a fake engine that silently drops one
 * setting at a time; the per-job network's life on the fake runtime. The
 * engines' own behaviour is in tests/integration/test_engine_spec.c. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "executor.h"
#include "fake_runtime.h"
#include "test_time.h"
#include "labels.h"
#include "request.h"
#include "runtimes/compat.h"

#define IMAGE "fake/busybox:1"
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */

/* --- the create body ---------------------------------------------------- */

static char *body_of(const char *request_json, bool podman, const char *network)
{
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	int rc = request_parse(request_json, strlen(request_json), &r, &e);
	cr_assert_eq(rc, 0, "request_parse: %s", e ? e->message : "?");
	char *labels[] = {"org.dms.executor=x", NULL};
	struct container_spec spec = {.name = "c", .req = r, .labels = labels, .network = network};
	char *body = NULL;
	cr_assert_eq(compat_create_body(&spec, podman, &body), 0);
	request_free(r);
	return body;
}

/* The HostConfig member of a body, re-serialised compactly by hand: the
 * body's own text is compact already, so a substring is exact. */
static void assert_has(const char *body, const char *want)
{
	cr_assert(strstr(body, want), "body lacks\n  %s\nbody:\n  %s", want, body);
}

static void assert_lacks(const char *body, const char *unwanted)
{
	cr_assert_not(strstr(body, unwanted), "body has\n  %s\nbody:\n  %s", unwanted, body);
}

#define REQ(params, top)                                                                           \
	"{\"job_id\":\"j\",\"execution_id\":\"e\",\"engine_spec\":{\"type\":\"docker\","           \
	"\"params\":{\"image\":\"img\"" params "}}" top "}"

Test(body, defaults_keep_no_new_privileges_and_the_default_capabilities)
{
	char *b = body_of(REQ("", ""), false, NULL);
	assert_has(b, "\"SecurityOpt\":[\"no-new-privileges\"]");
	assert_lacks(b, "CapDrop");
	assert_lacks(b, "CapAdd");
	assert_lacks(b, "ReadonlyRootfs");
	assert_lacks(b, "Devices");
	assert_lacks(b, "PortBindings");
	free(b);
}

Test(body, security_and_cpuset)
{
	char *b = body_of(REQ(",\"read_only_rootfs\":true,\"no_new_privileges\":false,"
	                      "\"cap_drop\":[\"all\"],\"cap_add\":[\"chown\"]",
	                      ",\"resources\":{\"cpu\":{\"cores\":1.5,\"cpuset\":\"0\"},"
	                      "\"memory\":{\"size\":\"8MiB\"},\"pids\":{\"limit\":10}}"),
	                  false, NULL);
	assert_has(b, "\"HostConfig\":{\"NanoCpus\":1500000000,\"CpusetCpus\":\"0\","
	              "\"Memory\":8388608,\"MemorySwap\":8388608,\"PidsLimit\":10,"
	              "\"ReadonlyRootfs\":true,\"CapAdd\":[\"CAP_CHOWN\"],\"CapDrop\":[\"ALL\"]}");
	assert_lacks(b, "SecurityOpt");
	free(b);
}

Test(body, outputs_are_writable_binds_under_results_dir)
{
	char *b = body_of(REQ("", ",\"inputs\":[{\"source\":\"/tmp\",\"target\":\"/in\"},"
	                          "{\"source\":\"/\",\"target\":\"/rw\",\"read_only\":false}],"
	                          "\"results_dir\":\"/r/e\",\"outputs\":[{\"source\":\"out/a\","
	                          "\"target\":\"/out\"}]"),
	                  false, NULL);
	assert_has(b, "\"Binds\":[\"/tmp:/in:ro\",\"/:/rw\",\"/r/e/out/a:/out\"]");
	free(b);
}

Test(body, ports)
{
	char *b = body_of(REQ(",\"ports\":[{\"container_port\":80},{\"container_port\":53,"
	                      "\"protocol\":\"udp\",\"host_port\":5353,\"host_ip\":\"127.0.0.1\"},"
	                      "{\"container_port\":80,\"host_port\":8080}]",
	                      ""),
	                  false, NULL);
	assert_has(b, "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}");
	assert_has(b, "\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"},"
	              "{\"HostIp\":\"\",\"HostPort\":\"8080\"}],\"53/udp\":[{\"HostIp\":"
	              "\"127.0.0.1\",\"HostPort\":\"5353\"}]}");
	free(b);
}

Test(body, isolated_network_is_the_network_mode)
{
	char *b = body_of(REQ(",\"network_mode\":\"isolated\"", ""), false, "dms-x-e");
	assert_has(b, "\"NetworkMode\":\"dms-x-e\"");
	free(b);
}

#define GPUS(list) REQ("", ",\"resources\":{\"gpus\":" list "}")

Test(body, nvidia_on_docker_is_device_requests)
{
	char *b = body_of(GPUS("[{\"vendor\":\"nvidia\",\"ids\":[\"0\",\"1\"]},"
	                       "{\"vendor\":\"nvidia\",\"count\":2},{\"vendor\":\"nvidia\"}]"),
	                  false, NULL);
	assert_has(b, "\"DeviceRequests\":[{\"Driver\":\"nvidia\",\"DeviceIDs\":[\"0\",\"1\"],"
	              "\"Capabilities\":[[\"gpu\"]]},{\"Driver\":\"nvidia\",\"Count\":2,"
	              "\"Capabilities\":[[\"gpu\"]]},{\"Driver\":\"nvidia\",\"Count\":-1,"
	              "\"Capabilities\":[[\"gpu\"]]}]");
	assert_lacks(b, "\"Devices\"");
	free(b);
}

Test(body, nvidia_on_podman_is_cdi_devices)
{
	char *b = body_of(GPUS("[{\"vendor\":\"nvidia\",\"ids\":[\"1\"]},"
	                       "{\"vendor\":\"nvidia\",\"count\":2}]"),
	                  true, NULL);
	assert_has(b, "\"Devices\":[{\"PathOnHost\":\"nvidia.com/gpu=1\",\"PathInContainer\":"
	              "\"nvidia.com/gpu=1\",\"CgroupPermissions\":\"rwm\"},{\"PathOnHost\":"
	              "\"nvidia.com/gpu=0\",\"PathInContainer\":\"nvidia.com/gpu=0\","
	              "\"CgroupPermissions\":\"rwm\"},{\"PathOnHost\":\"nvidia.com/gpu=1\","
	              "\"PathInContainer\":\"nvidia.com/gpu=1\",\"CgroupPermissions\":\"rwm\"}]");
	assert_lacks(b, "DeviceRequests");
	free(b);
}

Test(body, amd_and_intel_are_device_mappings)
{
	char *b = body_of(GPUS("[{\"vendor\":\"amd\"},{\"vendor\":\"intel\",\"ids\":[\"1\"]}]"),
	                  false, NULL);
	assert_has(b,
	           "\"Devices\":[{\"PathOnHost\":\"/dev/kfd\",\"PathInContainer\":\"/dev/kfd\","
	           "\"CgroupPermissions\":\"rwm\"},{\"PathOnHost\":\"/dev/dri\","
	           "\"PathInContainer\":\"/dev/dri\",\"CgroupPermissions\":\"rwm\"},"
	           "{\"PathOnHost\":\"/dev/dri/card1\",\"PathInContainer\":\"/dev/dri/card1\","
	           "\"CgroupPermissions\":\"rwm\"},{\"PathOnHost\":\"/dev/dri/renderD129\","
	           "\"PathInContainer\":\"/dev/dri/renderD129\",\"CgroupPermissions\":\"rwm\"}]");
	assert_lacks(b, "DeviceRequests");
	free(b);
}

/* --- the check after create, on the fake runtime ------------------------ */

static struct dms_executor *ex;
static char state_dir[] = "/tmp/dms-unit-spec-XXXXXX";
static char in_dir[] = "/tmp/dms-unit-spec-in-XXXXXX";

static void setup(void)
{
	fake_runtime_reset();
	fake_runtime_add_image(IMAGE);
	cr_assert(mkdtemp(state_dir));
	cr_assert(mkdtemp(in_dir));
	char *cfg = NULL;
	cr_assert(asprintf(&cfg, "state_dir: %s\nstop_timeout: 1s\n", state_dir) > 0);
	dms_error *err = NULL;
	cr_assert_eq(executor_new_with_runtime("unit", cfg, &fake_runtime_ops, &ex, &err), 0,
	             "executor_new: %s", err ? err->message : "?");
	free(cfg);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
}

static void teardown(void)
{
	executor_destroy(ex);
	ex = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", state_dir, in_dir);
	cr_assert_eq(system(cmd), 0);
	strcpy(state_dir, "/tmp/dms-unit-spec-XXXXXX");
	strcpy(in_dir, "/tmp/dms-unit-spec-in-XXXXXX");
	fake_runtime_reset();
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
	cr_assert_eq(fake_runtime_ops.object_list(NULL, NULL, RT_OBJ_NETWORK,
	                                          LABEL_EXECUTOR "=unit", &ids, NULL),
	             0);
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
	cr_assert_eq(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), 0);
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
		cr_assert(asprintf(&r, fmt, "g", i, IMAGE, gpus[i]) > 0);
		cr_assert(asprintf(&r2, fmt, "x", i, IMAGE, gpus[i]) > 0);
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
