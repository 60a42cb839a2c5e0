/* test_compat_create.c — the exact create body compat.c sends
 * (compat_create_body), without an engine: security options, cpuset,
 * ports, outputs, the per-job network and GPUs, in the Docker and Podman
 * flavors. What the engines do with it is in
 * tests/integration/test_engine_spec.c; the check after create is
 * test_verify.c. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "request.h"
#include "runtimes/compat.h"

static char *body_of(const char *request_json, bool podman, const char *network)
{
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	int rc = request_parse(request_json, strlen(request_json), &r, &e);
	cr_assert_eq(rc, 0, "request_parse: %s", e ? e->message : "?");
	char *labels[] = {"org.dms.executor=x", NULL};
	struct container_spec spec = {.name = "c", .req = r, .labels = labels, .network = network};
	char *body = NULL;
	int brc = compat_create_body(&spec, podman, &body);
	cr_assert_eq(brc, 0, "compat_create_body: rc = %d", brc);
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
