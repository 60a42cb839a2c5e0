/* test_request.c — unit tests of request decoding (executor/decode/: doc*.c,
 * fields.c, request.c, log_request.c): the
 * docs/schema.md example decodes fully and its YAML twin decodes identically;
 * defaults; every bad field is DMS_ERR_INVALID_ARGUMENT with a message that
 * starts with the field's dotted path; the size, nesting and array limits;
 * log stream requests; the id rule and the strv helpers. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "request.h"

TestSuite(request);

/* --- helpers ---------------------------------------------------------- */

static struct exec_request *parse_ok(const char *text)
{
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	int rc = request_parse(text, strlen(text), &r, &e);

	cr_assert_eq(rc, 0, "request_parse rc = %d (%s): %s\n--- request:\n%s", rc,
	             dms_status_name(rc), e ? e->message : "(no error object)", text);
	cr_assert_null(e, "error object on success: %s", e ? e->message : "");
	cr_assert_not_null(r);
	return r;
}

/* Asserts failure with `category` and a message starting with `prefix`;
 * returns the message (caller frees). */
static char *parse_fails(const char *text, size_t len, dms_status category, const char *prefix)
{
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	int rc = request_parse(text, len, &r, &e);
	char *msg;

	cr_assert_eq(rc, (int)category, "rc = %d (%s), want %s; message: %s\n--- request:\n%.400s",
	             rc, dms_status_name(rc), dms_status_name(category), e ? e->message : "(none)",
	             text);
	cr_assert_null(r, "out was set on failure");
	cr_assert_not_null(e, "no error object");
	cr_assert_eq(e->category, category, "category = %s", dms_status_name(e->category));
	cr_assert(strncmp(e->message, prefix, strlen(prefix)) == 0,
	          "message \"%s\" does not start with \"%s\"", e->message, prefix);
	msg = strdup(e->message);
	err_free(e);
	return msg;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

static void assert_strv_eq(const strv a, const strv b, const char *what)
{
	cr_assert_eq(strv_len(a), strv_len(b), "%s: %zu vs %zu elements", what, strv_len(a),
	             strv_len(b));
	cr_assert_eq(a == NULL, b == NULL, "%s: given in one, absent in the other", what);
	for (size_t i = 0; i < strv_len(a); i++)
		cr_assert_str_eq(a[i], b[i], "%s[%zu]: \"%s\" vs \"%s\"", what, i, a[i], b[i]);
}

#define assert_opt_str_eq(a, b, what)                                                              \
	do {                                                                                       \
		if ((a) == NULL || (b) == NULL)                                                    \
			cr_assert_eq((a), (b), "%s: %s vs %s", what, (a) ? (a) : "NULL",           \
			             (b) ? (b) : "NULL");                                          \
		else                                                                               \
			cr_assert_str_eq((a), (b), "%s: \"%s\" vs \"%s\"", what, (a), (b));        \
	} while (0)

static void assert_mounts_eq(const struct mount_spec *a, size_t na, const struct mount_spec *b,
                             size_t nb, const char *what)
{
	cr_assert_eq(na, nb, "%s: %zu vs %zu", what, na, nb);
	for (size_t i = 0; i < na; i++) {
		assert_opt_str_eq(a[i].type, b[i].type, what);
		assert_opt_str_eq(a[i].source, b[i].source, what);
		assert_opt_str_eq(a[i].target, b[i].target, what);
		cr_assert_eq(a[i].read_only, b[i].read_only, "%s[%zu].read_only", what, i);
	}
}

static void assert_requests_eq(const struct exec_request *a, const struct exec_request *b)
{
	assert_opt_str_eq(a->job_id, b->job_id, "job_id");
	assert_opt_str_eq(a->execution_id, b->execution_id, "execution_id");
	assert_opt_str_eq(a->engine_type, b->engine_type, "engine_type");
	assert_opt_str_eq(a->image, b->image, "image");
	assert_strv_eq(a->entrypoint, b->entrypoint, "entrypoint");
	assert_strv_eq(a->cmd, b->cmd, "cmd");
	assert_strv_eq(a->environment, b->environment, "environment");
	assert_opt_str_eq(a->working_directory, b->working_directory, "working_directory");
	assert_opt_str_eq(a->user, b->user, "user");
	assert_strv_eq(a->labels, b->labels, "labels");
	assert_opt_str_eq(a->network_mode, b->network_mode, "network_mode");
	assert_opt_str_eq(a->stop_signal, b->stop_signal, "stop_signal");
	cr_assert_eq(a->stop_timeout_ms, b->stop_timeout_ms, "stop_timeout_ms %lld vs %lld",
	             (long long)a->stop_timeout_ms, (long long)b->stop_timeout_ms);
	assert_opt_str_eq(a->pull_policy, b->pull_policy, "pull_policy");
	cr_assert_eq(a->tty, b->tty, "tty");
	cr_assert_eq(a->timeout_ms, b->timeout_ms, "timeout_ms %lld vs %lld",
	             (long long)a->timeout_ms, (long long)b->timeout_ms);
	cr_assert_float_eq(a->cpu_cores, b->cpu_cores, 1e-9, "cpu_cores %g vs %g", a->cpu_cores,
	                   b->cpu_cores);
	cr_assert_eq(a->memory_bytes, b->memory_bytes, "memory_bytes %lld vs %lld",
	             (long long)a->memory_bytes, (long long)b->memory_bytes);
	cr_assert_eq(a->pids_limit, b->pids_limit, "pids_limit");
	assert_mounts_eq(a->inputs, a->n_inputs, b->inputs, b->n_inputs, "inputs");
	assert_mounts_eq(a->outputs, a->n_outputs, b->outputs, b->n_outputs, "outputs");
	assert_opt_str_eq(a->results_dir, b->results_dir, "results_dir");
}

/* A host directory that exists, for inputs[].source. */
static char input_dir[64];

static void make_input_dir(void)
{
	snprintf(input_dir, sizeof(input_dir), "/tmp/dms-test-request-XXXXXX");
	cr_assert_not_null(mkdtemp(input_dir), "mkdtemp failed");
}

static void remove_input_dir(void)
{
	rmdir(input_dir);
}

/* --- the docs/schema.md example ----------------------------------------- */

/* Verbatim from docs/schema.md ("An example, in JSON") but for
 * inputs[0].source, which must exist. */
static const char design_example_fmt[] =
    "{\"job_id\": \"j1\", \"execution_id\": \"e1\",\n"
    " \"engine_spec\": {\"type\": \"docker\",\n"
    "   \"params\": {\"image\": \"dms-test/busybox:latest\", \"entrypoint\": [\"/bin/sh\", "
    "\"-c\"],\n"
    "              \"cmd\": [\"echo hello\"], \"environment\": [\"A=1\"], "
    "\"working_directory\": \"/\"}},\n"
    " \"resources\": {\"cpu\": {\"cores\": 0.5}, \"memory\": {\"size\": 67108864}, \"gpus\": "
    "[]},\n"
    " \"inputs\": [{\"type\": \"bind\", \"source\": \"%s\", \"target\": \"/in\", "
    "\"read_only\": true}],\n"
    " \"outputs\": [{\"source\": \"out\", \"target\": \"/out\"}],\n"
    " \"results_dir\": \"/var/lib/dms/results/e1\"}";

static const char design_example_yaml_fmt[] =
    "# the docs/schema.md example, as a person would write it\n"
    "job_id: j1\n"
    "execution_id: e1\n"
    "engine_spec:\n"
    "  type: docker\n"
    "  params:\n"
    "    image: dms-test/busybox:latest\n"
    "    entrypoint: [/bin/sh, -c]\n"
    "    cmd:\n"
    "      - echo hello\n"
    "    environment: [\"A=1\"]\n"
    "    working_directory: /\n"
    "resources:\n"
    "  cpu: {cores: 0.5}\n"
    "  memory:\n"
    "    size: 67108864\n"
    "  gpus: []\n"
    "inputs:\n"
    "  - type: bind\n"
    "    source: %s\n"
    "    target: /in\n"
    "    read_only: true\n"
    "outputs:\n"
    "  - source: out\n"
    "    target: /out\n"
    "results_dir: /var/lib/dms/results/e1\n";

Test(request, design_example_decodes_fully, .init = make_input_dir, .fini = remove_input_dir)
{
	char *text = xasprintf(design_example_fmt, input_dir);
	struct exec_request *r = parse_ok(text);

	cr_assert_str_eq(r->job_id, "j1", "job_id = %s", r->job_id);
	cr_assert_str_eq(r->execution_id, "e1", "execution_id = %s", r->execution_id);
	cr_assert_str_eq(r->engine_type, "docker", "engine_type = %s", r->engine_type);
	cr_assert_str_eq(r->image, "dms-test/busybox:latest", "image = %s", r->image);
	cr_assert_eq(strv_len(r->entrypoint), 2, "entrypoint has %zu", strv_len(r->entrypoint));
	cr_assert_str_eq(r->entrypoint[0], "/bin/sh", "entrypoint[0] = %s", r->entrypoint[0]);
	cr_assert_str_eq(r->entrypoint[1], "-c", "entrypoint[1] = %s", r->entrypoint[1]);
	cr_assert_eq(strv_len(r->cmd), 1, "cmd has %zu", strv_len(r->cmd));
	cr_assert_str_eq(r->cmd[0], "echo hello", "cmd[0] = %s", r->cmd[0]);
	cr_assert_eq(strv_len(r->environment), 1);
	cr_assert_str_eq(r->environment[0], "A=1", "environment[0] = %s", r->environment[0]);
	cr_assert_str_eq(r->working_directory, "/", "working_directory = %s", r->working_directory);
	cr_assert_float_eq(r->cpu_cores, 0.5, 1e-9, "cpu_cores = %g", r->cpu_cores);
	cr_assert_eq(r->memory_bytes, 67108864, "memory_bytes = %lld", (long long)r->memory_bytes);
	cr_assert_eq(r->n_inputs, 1, "n_inputs = %zu", r->n_inputs);
	cr_assert_str_eq(r->inputs[0].type, "bind", "inputs[0].type = %s", r->inputs[0].type);
	cr_assert_str_eq(r->inputs[0].source, input_dir, "inputs[0].source = %s",
	                 r->inputs[0].source);
	cr_assert_str_eq(r->inputs[0].target, "/in", "inputs[0].target = %s", r->inputs[0].target);
	cr_assert(r->inputs[0].read_only);
	cr_assert_eq(r->n_outputs, 1, "n_outputs = %zu", r->n_outputs);
	cr_assert_str_eq(r->outputs[0].source, "out", "outputs[0].source = %s",
	                 r->outputs[0].source);
	cr_assert_str_eq(r->outputs[0].target, "/out", "outputs[0].target = %s",
	                 r->outputs[0].target);
	cr_assert_str_eq(r->outputs[0].type, "bind", "outputs[0].type = %s", r->outputs[0].type);
	cr_assert_not(r->outputs[0].read_only);
	cr_assert_str_eq(r->results_dir, "/var/lib/dms/results/e1", "results_dir = %s",
	                 r->results_dir);
	/* What the example leaves out keeps its documented default. */
	cr_assert_null(r->user);
	cr_assert_null(r->labels);
	cr_assert_null(r->network_mode);
	cr_assert_null(r->stop_signal);
	cr_assert_eq(r->stop_timeout_ms, -1, "stop_timeout_ms = %lld",
	             (long long)r->stop_timeout_ms);
	cr_assert_str_eq(r->pull_policy, "if-not-present", "pull_policy = %s", r->pull_policy);
	cr_assert_not(r->tty);
	cr_assert_eq(r->timeout_ms, 0, "timeout_ms = %lld", (long long)r->timeout_ms);
	cr_assert_eq(r->pids_limit, 0, "pids_limit = %lld", (long long)r->pids_limit);
	request_free(r);
	free(text);
}

Test(request, design_example_yaml_decodes_identically, .init = make_input_dir,
     .fini = remove_input_dir)
{
	char *json = xasprintf(design_example_fmt, input_dir);
	char *yaml = xasprintf(design_example_yaml_fmt, input_dir);
	struct exec_request *a = parse_ok(json);
	struct exec_request *b = parse_ok(yaml);

	assert_requests_eq(a, b);
	request_free(a);
	request_free(b);
	free(json);
	free(yaml);
}

/* --- everything else a request may say -------------------------------- */

static const char full_json[] =
    "{\"job_id\":\"job-7\",\"execution_id\":\"exec:7.a_b\",\n"
    " \"engine_spec\":{\"type\":\"podman\",\"params\":{\"image\":\"alpine\",\n"
    "   \"user\":\"1000:1000\",\"labels\":{\"team\":\"infra\",\"tier\":\"\"},\n"
    "   \"network_mode\":\"none\",\"stop_signal\":\"term\",\"stop_timeout\":\"1m30s\",\n"
    "   \"pull_policy\":\"never\",\"tty\":true,\"environment\":[\"EMPTY=\",\"X=a=b\"]}},\n"
    " \"resources\":{\"cpu\":{\"cores\":2},\"memory\":{\"size\":\"64MiB\"},"
    "\"pids\":{\"limit\":100}},\n"
    " \"inputs\":[{\"source\":\"/tmp\",\"target\":\"/data/\",\"read_only\":false}],\n"
    " \"timeout\":2.5}";

static const char full_yaml[] = "job_id: job-7\n"
                                "execution_id: \"exec:7.a_b\"\n"
                                "engine_spec:\n"
                                "  type: podman\n"
                                "  params:\n"
                                "    image: alpine\n"
                                "    user: \"1000:1000\"\n"
                                "    labels:\n"
                                "      team: infra\n"
                                "      tier: \"\"\n"
                                "    network_mode: none\n"
                                "    stop_signal: term\n"
                                "    stop_timeout: 1m30s\n"
                                "    pull_policy: never\n"
                                "    tty: true\n"
                                "    environment:\n"
                                "      - EMPTY=\n"
                                "      - X=a=b\n"
                                "resources:\n"
                                "  cpu:\n"
                                "    cores: 2\n"
                                "  memory:\n"
                                "    size: 64MiB\n"
                                "  pids:\n"
                                "    limit: 100\n"
                                "inputs:\n"
                                "  - source: /tmp\n"
                                "    target: /data/\n"
                                "    read_only: false\n"
                                "timeout: 2.5\n";

Test(request, every_optional_field)
{
	struct exec_request *r = parse_ok(full_json);

	cr_assert_str_eq(r->engine_type, "podman", "engine_type = %s", r->engine_type);
	cr_assert_str_eq(r->user, "1000:1000", "user = %s", r->user);
	cr_assert_eq(strv_len(r->labels), 2, "labels: %zu", strv_len(r->labels));
	cr_assert_str_eq(r->labels[0], "team=infra", "labels[0] = %s", r->labels[0]);
	cr_assert_str_eq(r->labels[1], "tier=", "labels[1] = %s", r->labels[1]);
	cr_assert_str_eq(r->network_mode, "none", "network_mode = %s", r->network_mode);
	cr_assert_str_eq(r->stop_signal, "SIGTERM", "stop_signal = %s", r->stop_signal);
	cr_assert_eq(r->stop_timeout_ms, 90000, "stop_timeout_ms = %lld",
	             (long long)r->stop_timeout_ms);
	cr_assert_str_eq(r->pull_policy, "never", "pull_policy = %s", r->pull_policy);
	cr_assert(r->tty);
	cr_assert_str_eq(r->environment[0], "EMPTY=", "environment[0] = %s", r->environment[0]);
	cr_assert_str_eq(r->environment[1], "X=a=b", "environment[1] = %s", r->environment[1]);
	cr_assert_float_eq(r->cpu_cores, 2.0, 1e-9, "cpu_cores = %g", r->cpu_cores);
	cr_assert_eq(r->memory_bytes, 64 << 20, "memory_bytes = %lld", (long long)r->memory_bytes);
	cr_assert_eq(r->pids_limit, 100, "pids_limit = %lld", (long long)r->pids_limit);
	cr_assert_eq(r->n_inputs, 1);
	cr_assert_str_eq(r->inputs[0].type, "bind", "default type = %s", r->inputs[0].type);
	cr_assert_not(r->inputs[0].read_only);
	cr_assert_eq(r->timeout_ms, 2500, "timeout_ms = %lld", (long long)r->timeout_ms);
	cr_assert_eq(r->n_outputs, 0);
	cr_assert_null(r->outputs);
	request_free(r);
}

Test(request, every_optional_field_yaml_identical)
{
	struct exec_request *a = parse_ok(full_json);
	struct exec_request *b = parse_ok(full_yaml);

	assert_requests_eq(a, b);
	request_free(a);
	request_free(b);
}

#define MIN_REQ(params, top)                                                                       \
	"{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":\"docker\","         \
	"\"params\":{\"image\":\"img\"" params "}}" top "}"

Test(request, null_means_not_given)
{
	struct exec_request *r =
	    parse_ok(MIN_REQ(",\"user\":null,\"stop_timeout\":null,\"cmd\":null",
	                     ",\"resources\":null,\"timeout\":null"));

	cr_assert_null(r->user, "user = %s", r->user);
	cr_assert_null(r->cmd);
	cr_assert_eq(r->stop_timeout_ms, -1, "stop_timeout_ms = %lld",
	             (long long)r->stop_timeout_ms);
	cr_assert_eq(r->timeout_ms, 0, "timeout_ms = %lld", (long long)r->timeout_ms);
	request_free(r);
}

Test(request, default_network_mode_is_the_engines)
{
	struct exec_request *r = parse_ok(MIN_REQ(",\"network_mode\":\"default\"", ""));

	cr_assert_null(r->network_mode, "network_mode = %s", r->network_mode);
	request_free(r);
}

Test(request, whole_float_is_an_integer)
{
	struct exec_request *r =
	    parse_ok(MIN_REQ("", ",\"resources\":{\"memory\":{\"size\":6.7108864e7}}"));

	cr_assert_eq(r->memory_bytes, 67108864, "memory_bytes = %lld", (long long)r->memory_bytes);
	request_free(r);
}

Test(request, signals_and_durations)
{
	static const struct {
		const char *params;
		const char *signal;
		long long stop_ms;
	} cases[] = {
	    {",\"stop_signal\":\"SIGKILL\",\"stop_timeout\":0", "SIGKILL", 0},
	    {",\"stop_signal\":\"sigusr1\",\"stop_timeout\":1.5", "SIGUSR1", 1500},
	    {",\"stop_signal\":15,\"stop_timeout\":\"250ms\"", "15", 250},
	    {",\"stop_signal\":\"9\",\"stop_timeout\":\"2h\"", "9", 7200000},
	    {",\"stop_signal\":\"SIGRTMIN+3\",\"stop_timeout\":\"10\"", "SIGRTMIN+3", 10000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf(MIN_REQ("%s", ""), cases[i].params);
		struct exec_request *r = parse_ok(text);

		cr_assert_str_eq(r->stop_signal, cases[i].signal, "case %zu: stop_signal = %s", i,
		                 r->stop_signal);
		cr_assert_eq(r->stop_timeout_ms, cases[i].stop_ms,
		             "case %zu: stop_timeout_ms = %lld", i, (long long)r->stop_timeout_ms);
		request_free(r);
		free(text);
	}
}

Test(request, unknown_key_suggests_the_near_miss)
{
	const char *text = MIN_REQ(",\"imagee\":\"x\"", "");
	char *msg = parse_fails(text, strlen(text), DMS_ERR_INVALID_ARGUMENT,
	                        "engine_spec.params.imagee: unknown key");

	cr_assert(strstr(msg, "did you mean \"image\"") != NULL, "message = %s", msg);
	free(msg);
}

Test(request, yaml_errors_carry_line_and_column)
{
	const char *text = "job_id: j1\n"
	                   "execution_id: e1\n"
	                   "engine_spec:\n"
	                   "  type: docker\n"
	                   "  params:\n"
	                   "    image: img\n"
	                   "    imagee: x\n";
	char *msg = parse_fails(text, strlen(text), DMS_ERR_INVALID_ARGUMENT,
	                        "engine_spec.params.imagee: unknown key");

	cr_assert(strstr(msg, "(line 7:5)") != NULL, "message = %s", msg);
	free(msg);
	text = "job_id: j1\nexecution_id: [e1\n";
	msg = parse_fails(text, strlen(text), DMS_ERR_INVALID_ARGUMENT, "request: invalid YAML");
	cr_assert(strstr(msg, "(line 3:1)") != NULL, "message = %s", msg);
	free(msg);
}

Test(request, error_object_is_optional)
{
	struct exec_request *r = NULL;
	int rc = request_parse("{}", 2, &r, NULL);

	cr_assert_eq(rc, DMS_ERR_INVALID_ARGUMENT, "rc = %d", rc);
	cr_assert_null(r);
}

Test(request, text_need_not_be_nul_terminated)
{
	const char *text = MIN_REQ("", "") "garbage";
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	int rc = request_parse(text, strlen(text) - strlen("garbage"), &r, &e);

	cr_assert_eq(rc, 0, "rc = %d: %s", rc, e ? e->message : "");
	request_free(r);
}

Test(request, free_accepts_null)
{
	request_free(NULL);
	log_request_free(NULL);
	strv_free(NULL);
}

/* --- security, cpuset, GPUs, ports ------------------------------------ */

Test(request, security_defaults)
{
	struct exec_request *r = parse_ok(MIN_REQ("", ""));

	cr_assert(r->no_new_privileges, "no_new_privileges defaults to true");
	cr_assert_not(r->read_only_rootfs);
	cr_assert_null(r->cap_add);
	cr_assert_null(r->cap_drop, "cap_drop default: the engine's default set");
	cr_assert_null(r->cpuset_cpus);
	cr_assert_eq(r->n_gpus, 0);
	cr_assert_eq(r->n_ports, 0);
	request_free(r);
}

Test(request, security_fields_and_capability_names)
{
	struct exec_request *r = parse_ok(
	    MIN_REQ(",\"read_only_rootfs\":true,\"no_new_privileges\":false,"
	            "\"cap_drop\":[\"all\"],\"cap_add\":[\"net_bind_service\",\"CAP_CHOWN\","
	            "\"Sys_Ptrace\"]",
	            ""));

	cr_assert(r->read_only_rootfs);
	cr_assert_not(r->no_new_privileges);
	cr_assert_eq(strv_len(r->cap_drop), 1);
	cr_assert_str_eq(r->cap_drop[0], "ALL", "cap_drop[0] = %s", r->cap_drop[0]);
	cr_assert_eq(strv_len(r->cap_add), 3);
	cr_assert_str_eq(r->cap_add[0], "CAP_NET_BIND_SERVICE", "cap_add[0] = %s", r->cap_add[0]);
	cr_assert_str_eq(r->cap_add[1], "CAP_CHOWN", "cap_add[1] = %s", r->cap_add[1]);
	cr_assert_str_eq(r->cap_add[2], "CAP_SYS_PTRACE", "cap_add[2] = %s", r->cap_add[2]);
	request_free(r);
}

Test(request, cpuset_on_this_host)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	char *last =
	    xasprintf(MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0,%ld\"}}"), n - 1);
	struct exec_request *r = parse_ok(last);

	cr_assert_not_null(r->cpuset_cpus);
	request_free(r);
	r = parse_ok(MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0-0\",\"cores\":1}}"));
	cr_assert_str_eq(r->cpuset_cpus, "0-0", "cpuset = %s", r->cpuset_cpus);
	request_free(r);
	free(last);
	/* One past the last CPU is refused, naming the count. */
	last = xasprintf(MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0-%ld\"}}"), n);
	char *msg =
	    parse_fails(last, strlen(last), DMS_ERR_INVALID_ARGUMENT, "resources.cpu.cpuset: CPU ");
	char *want = xasprintf("it has %ld CPUs", n);
	cr_assert(strstr(msg, want), "message \"%s\" lacks \"%s\"", msg, want);
	free(want);
	free(msg);
	free(last);
}

Test(request, gpus)
{
	struct exec_request *r = parse_ok(
	    MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\",\"ids\":[\"0\",\"1\"]},"
	                "{\"vendor\":\"nvidia\",\"count\":2},{\"vendor\":\"amd\"},"
	                "{\"vendor\":\"intel\",\"ids\":[\"1\"]}]}"));

	cr_assert_eq(r->n_gpus, 4, "n_gpus = %zu", r->n_gpus);
	cr_assert_eq(r->gpus[0].vendor, GPU_NVIDIA);
	cr_assert_eq(strv_len(r->gpus[0].ids), 2);
	cr_assert_str_eq(r->gpus[0].ids[1], "1");
	cr_assert_eq(r->gpus[1].count, 2, "count = %lld", (long long)r->gpus[1].count);
	cr_assert_null(r->gpus[1].ids);
	cr_assert_eq(r->gpus[2].vendor, GPU_AMD);
	cr_assert_null(r->gpus[2].ids);
	cr_assert_eq(r->gpus[2].count, 0, "amd without ids: all");
	cr_assert_eq(r->gpus[3].vendor, GPU_INTEL);
	request_free(r);
}

Test(request, ports_and_isolated_network)
{
	struct exec_request *r =
	    parse_ok(MIN_REQ(",\"network_mode\":\"isolated\",\"ports\":[{\"container_port\":80},"
	                     "{\"container_port\":53,\"host_port\":5353,\"protocol\":\"udp\","
	                     "\"host_ip\":\"127.0.0.1\"},{\"container_port\":80,\"host_port\":8080,"
	                     "\"host_ip\":\"::1\"}]",
	                     ""));

	cr_assert_str_eq(r->network_mode, "isolated", "network_mode = %s", r->network_mode);
	cr_assert_eq(r->n_ports, 3);
	cr_assert_eq(r->ports[0].container_port, 80);
	cr_assert_eq(r->ports[0].host_port, 0, "default host_port: ephemeral");
	cr_assert_str_eq(r->ports[0].protocol, "tcp", "default protocol = %s",
	                 r->ports[0].protocol);
	cr_assert_null(r->ports[0].host_ip);
	cr_assert_str_eq(r->ports[1].protocol, "udp");
	cr_assert_str_eq(r->ports[1].host_ip, "127.0.0.1");
	cr_assert_eq(r->ports[1].host_port, 5353);
	cr_assert_str_eq(r->ports[2].host_ip, "::1");
	request_free(r);
	/* Two ephemeral bindings never clash. */
	r = parse_ok(MIN_REQ(",\"ports\":[{\"container_port\":80},{\"container_port\":81}]", ""));
	request_free(r);
}

Test(request, new_fields_yaml_identical)
{
	struct exec_request *a = parse_ok(MIN_REQ(
	    ",\"read_only_rootfs\":true,\"cap_drop\":[\"ALL\"],\"cap_add\":[\"chown\"],"
	    "\"network_mode\":\"isolated\",\"ports\":[{\"container_port\":80,\"host_port\":8080}]",
	    ",\"resources\":{\"cpu\":{\"cpuset\":\"0\"},\"gpus\":[{\"vendor\":\"nvidia\","
	    "\"ids\":[\"0\"]}]}"));
	struct exec_request *b =
	    parse_ok("job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	             "    image: img\n    read_only_rootfs: true\n    cap_drop: [ALL]\n"
	             "    cap_add: [chown]\n    network_mode: isolated\n    ports:\n"
	             "      - {container_port: 80, host_port: 8080}\n"
	             "resources:\n  cpu: {cpuset: \"0\"}\n  gpus:\n    - vendor: nvidia\n"
	             "      ids: [\"0\"]\n");

	assert_requests_eq(a, b);
	cr_assert_eq(a->read_only_rootfs, b->read_only_rootfs);
	assert_strv_eq(a->cap_drop, b->cap_drop, "cap_drop");
	assert_strv_eq(a->cap_add, b->cap_add, "cap_add");
	assert_opt_str_eq(a->cpuset_cpus, b->cpuset_cpus, "cpuset");
	cr_assert_eq(b->n_ports, 1);
	cr_assert_eq(b->ports[0].host_port, 8080, "host_port %lld",
	             (long long)b->ports[0].host_port);
	cr_assert_eq(b->n_gpus, 1);
	assert_strv_eq(a->gpus[0].ids, b->gpus[0].ids, "gpus[0].ids");
	request_free(a);
	request_free(b);
	/* YAML errors in the new fields carry the position too. */
	const char *bad = "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	                  "    image: img\n    ports:\n      - {container_port: 0}\n";
	char *msg =
	    parse_fails(bad, strlen(bad), DMS_ERR_INVALID_ARGUMENT,
	                "engine_spec.params.ports[0].container_port: must be a port number");
	cr_assert(strstr(msg, "(line 8:"), "no position: %s", msg);
	free(msg);
}

Test(request, outputs_are_binds)
{
	struct exec_request *r = parse_ok(
	    MIN_REQ("", ",\"results_dir\":\"/r\",\"outputs\":[{\"source\":\"o\",\"target\":"
	                "\"/out\"}]"));

	cr_assert_str_eq(r->outputs[0].type, "bind", "outputs type = %s", r->outputs[0].type);
	cr_assert_not(r->outputs[0].read_only, "outputs are writable");
	request_free(r);
}

/* --- the table of bad requests ---------------------------------------- */

/* Inline arrays, not pointers: Criterion runs each parameter in a fresh
 * child process, where pointers into the parent's data are not valid. */
struct bad_case {
	char name[48];
	char text[440];
	char prefix[112]; /* the message starts with this: the field, and why */
};

#define BAD(name, text, prefix)                                                                    \
	{                                                                                          \
		name, text, prefix                                                                 \
	}

ParameterizedTestParameters(request, bad_requests)
{
	static struct bad_case cases[] = {
	    BAD("missing job_id",
	        "{\"execution_id\":\"e1\",\"engine_spec\":{\"type\":\"docker\","
	        "\"params\":{\"image\":\"i\"}}}",
	        "job_id: required"),
	    BAD("missing execution_id",
	        "{\"job_id\":\"j1\",\"engine_spec\":{\"type\":\"docker\","
	        "\"params\":{\"image\":\"i\"}}}",
	        "execution_id: required"),
	    BAD("execution_id with a space",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e 1\",\"engine_spec\":{\"type\":"
	        "\"docker\",\"params\":{\"image\":\"i\"}}}",
	        "execution_id: must be 1..128 characters"),
	    BAD("execution_id ..",
	        "{\"job_id\":\"j1\",\"execution_id\":\"..\",\"engine_spec\":{\"type\":"
	        "\"docker\",\"params\":{\"image\":\"i\"}}}",
	        "execution_id: must be"),
	    BAD("execution_id too long",
	        "{\"job_id\":\"j1\",\"execution_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaa\",\"engine_spec\":{\"type\":\"docker\",\"params\":{\"image\":\"i\"}}}",
	        "execution_id: must be 1..128"),
	    BAD("job_id a number",
	        "{\"job_id\":7,\"execution_id\":\"e1\",\"engine_spec\":{\"type\":\"docker\","
	        "\"params\":{\"image\":\"i\"}}}",
	        "job_id: must be a string, got number"),
	    BAD("missing engine_spec", "{\"job_id\":\"j1\",\"execution_id\":\"e1\"}",
	        "engine_spec: required"),
	    BAD("engine_spec a string",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":\"docker\"}",
	        "engine_spec: must be an object, got string"),
	    BAD("missing engine type",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{"
	        "\"params\":{\"image\":\"i\"}}}",
	        "engine_spec.type: required"),
	    BAD("unknown engine type",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":\"lxc\","
	        "\"params\":{\"image\":\"i\"}}}",
	        "engine_spec.type: must be one of docker, podman; got \"lxc\""),
	    BAD("missing params",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":"
	        "\"docker\"}}",
	        "engine_spec.params: required"),
	    BAD("missing image",
	        "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":"
	        "\"docker\",\"params\":{}}}",
	        "engine_spec.params.image: required"),
	    BAD("empty image", MIN_REQ(",\"image\":\"\"", ""), "engine_spec.params.image:"),
	    BAD("misspelt image", MIN_REQ(",\"imagee\":\"x\"", ""),
	        "engine_spec.params.imagee: unknown key"),
	    BAD("unknown top-level key", MIN_REQ("", ",\"priority\":1"), "priority: unknown key"),
	    BAD("camelCase key",
	        "{\"jobId\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":\"docker\","
	        "\"params\":{\"image\":\"i\"}}}",
	        "jobId: unknown key"),
	    BAD("duplicate key", MIN_REQ("", ",\"job_id\":\"j2\""), "job_id: duplicate key"),
	    BAD("entrypoint a string", MIN_REQ(",\"entrypoint\":\"/bin/sh\"", ""),
	        "engine_spec.params.entrypoint: must be an array of strings, got string"),
	    BAD("cmd element a number", MIN_REQ(",\"cmd\":[\"a\",1]", ""),
	        "engine_spec.params.cmd[1]: must be a string, got number"),
	    BAD("environment without =", MIN_REQ(",\"environment\":[\"A=1\",\"B\"]", ""),
	        "engine_spec.params.environment[1]: must be \"KEY=VALUE\""),
	    BAD("environment with empty key", MIN_REQ(",\"environment\":[\"=v\"]", ""),
	        "engine_spec.params.environment[0]: must be \"KEY=VALUE\""),
	    BAD("relative working_directory", MIN_REQ(",\"working_directory\":\"work\"", ""),
	        "engine_spec.params.working_directory: must be an absolute path"),
	    BAD("working_directory with ..", MIN_REQ(",\"working_directory\":\"/a/../b\"", ""),
	        "engine_spec.params.working_directory: must not contain \"..\""),
	    BAD("empty user", MIN_REQ(",\"user\":\"\"", ""), "engine_spec.params.user:"),
	    BAD("reserved label", MIN_REQ(",\"labels\":{\"org.dms.job\":\"x\"}", ""),
	        "engine_spec.params.labels.org.dms.job: the \"org.dms.\" label prefix"),
	    BAD("label value a number", MIN_REQ(",\"labels\":{\"a\":1}", ""),
	        "engine_spec.params.labels.a: must be a string, got number"),
	    BAD("labels an array", MIN_REQ(",\"labels\":[\"a=b\"]", ""),
	        "engine_spec.params.labels: must be an object"),
	    BAD("unknown network mode", MIN_REQ(",\"network_mode\":\"overlay\"", ""),
	        "engine_spec.params.network_mode: must be one of"),
	    BAD("unknown signal", MIN_REQ(",\"stop_signal\":\"SIGFOO\"", ""),
	        "engine_spec.params.stop_signal: must be a signal"),
	    BAD("signal out of range", MIN_REQ(",\"stop_signal\":99", ""),
	        "engine_spec.params.stop_signal: must be a signal"),
	    BAD("stop_timeout not a duration", MIN_REQ(",\"stop_timeout\":\"soon\"", ""),
	        "engine_spec.params.stop_timeout: must be a duration"),
	    BAD("negative stop_timeout", MIN_REQ(",\"stop_timeout\":-1", ""),
	        "engine_spec.params.stop_timeout: must be a duration"),
	    BAD("unknown pull policy", MIN_REQ(",\"pull_policy\":\"sometimes\"", ""),
	        "engine_spec.params.pull_policy: must be one of if-not-present, always, never"),
	    BAD("tty a string", MIN_REQ(",\"tty\":\"yes\"", ""),
	        "engine_spec.params.tty: must be a boolean, got string"),
	    BAD("cores a string", MIN_REQ("", ",\"resources\":{\"cpu\":{\"cores\":\"x\"}}"),
	        "resources.cpu.cores: must be a number, got string"),
	    BAD("zero cores", MIN_REQ("", ",\"resources\":{\"cpu\":{\"cores\":0}}"),
	        "resources.cpu.cores: must be a number > 0"),
	    BAD("memory below the minimum",
	        MIN_REQ("", ",\"resources\":{\"memory\":{\"size\":1000}}"),
	        "resources.memory.size: must be a size of at least 6291456 bytes"),
	    BAD("memory not a size", MIN_REQ("", ",\"resources\":{\"memory\":{\"size\":\"lots\"}}"),
	        "resources.memory.size: must be a size"),
	    BAD("memory fractional bytes",
	        MIN_REQ("", ",\"resources\":{\"memory\":{\"size\":7000000.5}}"),
	        "resources.memory.size: must be a size"),
	    BAD("zero pids", MIN_REQ("", ",\"resources\":{\"pids\":{\"limit\":0}}"),
	        "resources.pids.limit: must be an integer >= 1, got 0"),
	    BAD("gpu without vendor", MIN_REQ("", ",\"resources\":{\"gpus\":[{\"count\":1}]}"),
	        "resources.gpus[0].vendor: required"),
	    BAD("gpus a string", MIN_REQ("", ",\"resources\":{\"gpus\":\"all\"}"),
	        "resources.gpus: must be an array of objects, got string"),
	    BAD("gpu vendor unknown",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"matrox\"}]}"),
	        "resources.gpus[0].vendor: must be one of nvidia, amd, intel; got \"matrox\""),
	    BAD("gpu ids and count",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\",\"ids\":[\"0\"],"
	                    "\"count\":1}]}"),
	        "resources.gpus[0].count: give either ids or count, not both"),
	    BAD("gpu count for amd",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"amd\",\"count\":2}]}"),
	        "resources.gpus[0].count: is only supported for nvidia"),
	    BAD("gpu count zero",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\",\"count\":0}]}"),
	        "resources.gpus[0].count: must be an integer >= 1, got 0"),
	    BAD("gpu id not an index",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\",\"ids\":[\"0\","
	                    "\"x\"]}]}"),
	        "resources.gpus[0].ids[1]: must be a GPU index like \"0\""),
	    BAD("gpu id a number",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\",\"ids\":[0]}]}"),
	        "resources.gpus[0].ids[0]: must be a string, got number"),
	    BAD("gpu ids empty",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"intel\",\"ids\":[]}]}"),
	        "resources.gpus[0].ids: must not be empty"),
	    BAD("gpu uuid for intel",
	        MIN_REQ("", ",\"resources\":{\"gpus\":[{\"vendor\":\"intel\",\"ids\":"
	                    "[\"GPU-12ab\"]}]}"),
	        "resources.gpus[0].ids[0]: UUIDs are only supported for nvidia"),
	    BAD("cpuset syntax", MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0-\"}}"),
	        "resources.cpu.cpuset: must be a CPU list like \"0-1,3\""),
	    BAD("cpuset reversed", MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"1-0\"}}"),
	        "resources.cpu.cpuset: must be a CPU list"),
	    BAD("cpuset trailing comma",
	        MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0,\"}}"),
	        "resources.cpu.cpuset: must be a CPU list"),
	    BAD("cpuset beyond the host",
	        MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":\"0,4096\"}}"),
	        "resources.cpu.cpuset: CPU 4096 does not exist on this host"),
	    BAD("cpuset a number", MIN_REQ("", ",\"resources\":{\"cpu\":{\"cpuset\":0}}"),
	        "resources.cpu.cpuset: must be a string, got number"),
	    BAD("read_only_rootfs a string", MIN_REQ(",\"read_only_rootfs\":\"yes\"", ""),
	        "engine_spec.params.read_only_rootfs: must be a boolean, got string"),
	    BAD("no_new_privileges a number", MIN_REQ(",\"no_new_privileges\":0", ""),
	        "engine_spec.params.no_new_privileges: must be a boolean, got number"),
	    BAD("cap_drop a string", MIN_REQ(",\"cap_drop\":\"ALL\"", ""),
	        "engine_spec.params.cap_drop: must be an array of strings, got string"),
	    BAD("cap_add unknown", MIN_REQ(",\"cap_add\":[\"NET_ADMIN\",\"CAP_FLY\"]", ""),
	        "engine_spec.params.cap_add[1]: must be a capability name"),
	    BAD("cap_drop empty name", MIN_REQ(",\"cap_drop\":[\"\"]", ""),
	        "engine_spec.params.cap_drop[0]: must be a capability name"),
	    BAD("ports an object", MIN_REQ(",\"ports\":{}", ""),
	        "engine_spec.params.ports: must be an array of objects, got object"),
	    BAD("port without container_port", MIN_REQ(",\"ports\":[{\"host_port\":80}]", ""),
	        "engine_spec.params.ports[0].container_port: required"),
	    BAD("container_port 0", MIN_REQ(",\"ports\":[{\"container_port\":0}]", ""),
	        "engine_spec.params.ports[0].container_port: must be a port number 1..65535, got "
	        "0"),
	    BAD("container_port too big", MIN_REQ(",\"ports\":[{\"container_port\":65536}]", ""),
	        "engine_spec.params.ports[0].container_port: must be a port number 1..65535"),
	    BAD("host_port negative",
	        MIN_REQ(",\"ports\":[{\"container_port\":80,\"host_port\":-1}]", ""),
	        "engine_spec.params.ports[0].host_port: must be a port number 0..65535, got -1"),
	    BAD("port a string", MIN_REQ(",\"ports\":[{\"container_port\":\"80\"}]", ""),
	        "engine_spec.params.ports[0].container_port: must be an integer, got string"),
	    BAD("port protocol",
	        MIN_REQ(",\"ports\":[{\"container_port\":80,\"protocol\":\"icmp\"}]", ""),
	        "engine_spec.params.ports[0].protocol: must be one of tcp, udp, sctp; got "
	        "\"icmp\""),
	    BAD("port host_ip",
	        MIN_REQ(",\"ports\":[{\"container_port\":80,\"host_ip\":\"localhost\"}]", ""),
	        "engine_spec.params.ports[0].host_ip: must be an IPv4 or IPv6 address"),
	    BAD("ports with network none",
	        MIN_REQ(",\"network_mode\":\"none\",\"ports\":[{\"container_port\":80}]", ""),
	        "engine_spec.params.ports: cannot publish ports with network_mode \"none\""),
	    BAD("ports with network host",
	        MIN_REQ(",\"ports\":[{\"container_port\":80}],\"network_mode\":\"host\"", ""),
	        "engine_spec.params.ports: cannot publish ports with network_mode \"host\""),
	    BAD("host port twice",
	        MIN_REQ(",\"ports\":[{\"container_port\":80,\"host_port\":8080},"
	                "{\"container_port\":81,\"host_port\":8080}]",
	                ""),
	        "engine_spec.params.ports[1].host_port: 8080/tcp is already published by ports[0]"),
	    BAD("unknown resource", MIN_REQ("", ",\"resources\":{\"disk\":{}}"),
	        "resources.disk: unknown key"),
	    BAD("inputs an object", MIN_REQ("", ",\"inputs\":{}"),
	        "inputs: must be an array of objects, got object"),
	    BAD("input a string", MIN_REQ("", ",\"inputs\":[\"/tmp:/in\"]"),
	        "inputs[0]: must be an object, got string"),
	    BAD("input without source", MIN_REQ("", ",\"inputs\":[{\"target\":\"/in\"}]"),
	        "inputs[0].source: required"),
	    BAD("relative input source",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"tmp\",\"target\":\"/in\"}]"),
	        "inputs[0].source: must be an absolute path"),
	    BAD("missing input source",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"/nonexistent/dms\",\"target\":\"/in\"}]"),
	        "inputs[0].source: \"/nonexistent/dms\": No such file or directory"),
	    BAD("input source with ..",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"/tmp/..\",\"target\":\"/in\"}]"),
	        "inputs[0].source: must not contain \"..\""),
	    BAD("input type volume",
	        MIN_REQ("", ",\"inputs\":[{\"type\":\"volume\",\"source\":\"/tmp\","
	                    "\"target\":\"/in\"}]"),
	        "inputs[0].type: must be one of bind"),
	    BAD("input read_only a string",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"/tmp\",\"target\":\"/in\","
	                    "\"read_only\":\"no\"}]"),
	        "inputs[0].read_only: must be a boolean, got string"),
	    BAD("input target /",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"/tmp\",\"target\":\"/\"}]"),
	        "inputs[0].target: must not be \"/\""),
	    BAD("second input target relative",
	        MIN_REQ("", ",\"inputs\":[{\"source\":\"/tmp\",\"target\":\"/a\"},"
	                    "{\"source\":\"/tmp\",\"target\":\"b\"}]"),
	        "inputs[1].target: must be an absolute path"),
	    BAD("absolute output source",
	        MIN_REQ("", ",\"results_dir\":\"/r\",\"outputs\":[{\"source\":\"/out\","
	                    "\"target\":\"/out\"}]"),
	        "outputs[0].source: must be a relative name"),
	    BAD("output source escaping",
	        MIN_REQ("", ",\"results_dir\":\"/r\",\"outputs\":[{\"source\":\"a/../../x\","
	                    "\"target\":\"/out\"}]"),
	        "outputs[0].source: must not contain \"..\""),
	    BAD("output with read_only",
	        MIN_REQ("", ",\"results_dir\":\"/r\",\"outputs\":[{\"source\":\"o\","
	                    "\"target\":\"/out\",\"read_only\":true}]"),
	        "outputs[0].read_only: unknown key"),
	    BAD("outputs without results_dir",
	        MIN_REQ("", ",\"outputs\":[{\"source\":\"o\",\"target\":\"/out\"}]"),
	        "results_dir: required when outputs are given"),
	    BAD("two mounts on one target",
	        MIN_REQ("", ",\"results_dir\":\"/r\",\"inputs\":[{\"source\":\"/tmp\","
	                    "\"target\":\"/in\"}],\"outputs\":[{\"source\":\"o\","
	                    "\"target\":\"/in/\"}]"),
	        "outputs[0].target: \"/in/\" is already the target of inputs[0]"),
	    BAD("relative results_dir", MIN_REQ("", ",\"results_dir\":\"results\""),
	        "results_dir: must be an absolute path"),
	    BAD("timeout not a duration", MIN_REQ("", ",\"timeout\":\"forever\""),
	        "timeout: must be a duration"),
	    BAD("timeout a boolean", MIN_REQ("", ",\"timeout\":true"),
	        "timeout: must be a duration (seconds, or a string like \"10s\"), got boolean"),
	    BAD("timeout too large", MIN_REQ("", ",\"timeout\":1e10"),
	        "timeout: must be a duration from 0 to 1000000000 seconds"),
	    BAD("not an object", "[1,2]", "request: must be an object, got array"),
	    BAD("a YAML scalar", "hello", "request: must be an object, got string"),
	    BAD("invalid JSON", "{\"job_id\": }", "request: invalid JSON"),
	    BAD("trailing garbage", MIN_REQ("", "") " {}", "request: invalid JSON"),
	    BAD("NUL escape", MIN_REQ(",\"user\":\"a\\u0000b\"", ""),
	        "request: strings must not contain NUL"),
	    BAD("empty", "  \n\t ", "request: empty"),
	    BAD("YAML: misspelt key",
	        "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	        "    imagee: i\n",
	        "engine_spec.params.imagee: unknown key"),
	    BAD("YAML: quoted true is a string",
	        "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	        "    image: i\n    tty: \"true\"\n",
	        "engine_spec.params.tty: must be a boolean, got string"),
	    BAD("YAML: !!str makes a string",
	        "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	        "    image: i\n    tty: !!str true\n",
	        "engine_spec.params.tty: must be a boolean, got string"),
	    BAD("YAML: yes is not a boolean",
	        "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	        "    image: i\n    tty: yes\n",
	        "engine_spec.params.tty: must be a boolean, got string"),
	    BAD("YAML: number where a string is due",
	        "job_id: 1\nexecution_id: e1\nengine_spec: {type: docker, params: {image: i}}\n",
	        "job_id: must be a string, got number"),
	    BAD("YAML: duplicate key", "job_id: j1\nexecution_id: e1\njob_id: j2\n",
	        "job_id: duplicate key"),
	    BAD("YAML: alias", "job_id: &a j1\nexecution_id: *a\n",
	        "execution_id: YAML aliases are not supported"),
	    BAD("YAML: two documents", "job_id: j1\n---\njob_id: j2\n",
	        "request: only one YAML document"),
	    BAD("YAML: complex key", "? [a]\n: b\n", "request: mapping keys must be scalars"),
	    BAD("YAML: syntax", "job_id: j1\n  bad: indent\n", "request: invalid YAML"),
	    BAD("YAML: element error",
	        "job_id: j1\nexecution_id: e1\nengine_spec:\n  type: docker\n  params:\n"
	        "    image: i\n    cmd:\n      - ok\n      - [nested]\n",
	        "engine_spec.params.cmd[1]: must be a string, got array"),
	};

	return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, request, bad_requests)
{
	char *msg;

	cr_log_info("case: %s", c->name);
	msg = parse_fails(c->text, strlen(c->text), DMS_ERR_INVALID_ARGUMENT, c->prefix);
	free(msg);
}

/* --- limits ----------------------------------------------------------- */

/* A minimal request whose cmd has n elements, in JSON or YAML. */
static char *request_with_cmd(size_t n, bool yaml)
{
	size_t cap = 256 + n * 12;
	char *s = malloc(cap);
	size_t o;

	cr_assert_not_null(s);
	if (yaml)
		o = (size_t)snprintf(s, cap,
		                     "job_id: j1\nexecution_id: e1\nengine_spec:\n"
		                     "  type: docker\n  params:\n    image: i\n    cmd:\n");
	else
		o = (size_t)snprintf(s, cap,
		                     "{\"job_id\":\"j1\",\"execution_id\":\"e1\","
		                     "\"engine_spec\":{\"type\":\"docker\",\"params\":{"
		                     "\"image\":\"i\",\"cmd\":[");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, yaml ? "      - x\n" : "%s\"x\"",
		                      yaml ? "" : (i ? "," : ""));
	if (!yaml)
		snprintf(s + o, cap - o, "]}}}");
	return s;
}

Test(request, array_limit_is_4096_elements)
{
	for (int yaml = 0; yaml <= 1; yaml++) {
		char *ok = request_with_cmd(4096, yaml);
		char *over = request_with_cmd(4097, yaml);
		struct exec_request *r = parse_ok(ok);
		char *msg;

		cr_assert_eq(strv_len(r->cmd), 4096, "cmd has %zu", strv_len(r->cmd));
		request_free(r);
		msg = parse_fails(over, strlen(over), DMS_ERR_INVALID_ARGUMENT,
		                  "engine_spec.params.cmd: more than 4096 elements");
		cr_assert(strstr(msg, "limit"), "message = %s", msg);
		free(msg);
		free(ok);
		free(over);
	}
}

/* `levels` nested containers in all, the root object included. */
static char *nested(int levels, bool yaml)
{
	size_t cap = 64 + (size_t)levels * 4;
	char *s = malloc(cap);
	size_t o = 0;

	cr_assert_not_null(s);
	o += (size_t)snprintf(s, cap, yaml ? "job_id: " : "{\"job_id\":");
	for (int i = 1; i < levels; i++)
		s[o++] = '[';
	for (int i = 1; i < levels; i++)
		s[o++] = ']';
	snprintf(s + o, cap - o, "%s", yaml ? "\n" : "}");
	return s;
}

Test(request, nesting_limit_is_32_levels)
{
	for (int yaml = 0; yaml <= 1; yaml++) {
		char *at = nested(32, yaml);
		char *over = nested(33, yaml);
		char *msg;

		/* 32 levels decode; the validator then finds the wrong type. */
		msg = parse_fails(at, strlen(at), DMS_ERR_INVALID_ARGUMENT,
		                  "job_id: must be a string, got array");
		free(msg);
		msg = parse_fails(over, strlen(over), DMS_ERR_INVALID_ARGUMENT,
		                  yaml ? "job_id" : "request");
		cr_assert(strstr(msg, "nested deeper than 32 levels (limit)"), "message = %s", msg);
		free(msg);
		free(at);
		free(over);
	}
}

Test(request, deep_nesting_is_refused_without_recursing)
{
	for (int yaml = 0; yaml <= 1; yaml++) {
		char *deep = nested(400000, yaml);
		char *msg = parse_fails(deep, strlen(deep), DMS_ERR_INVALID_ARGUMENT,
		                        yaml ? "job_id" : "request");

		cr_assert(strstr(msg, "nested deeper than 32 levels"), "message = %s", msg);
		free(msg);
		free(deep);
	}
}

Test(request, size_limit_is_1_MiB)
{
	size_t len = 1024 * 1024;
	char *text = malloc(len + 2);
	const char *head = "{\"job_id\":\"j1\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"i\",\"user\":\"";
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	char *msg;
	int rc;

	cr_assert_not_null(text);
	/* Exactly 1 MiB: accepted. */
	memset(text, 'u', len + 1);
	memcpy(text, head, strlen(head));
	memcpy(text + len - 5, "\"}}}\n", 5);
	rc = request_parse(text, len, &r, &e);
	cr_assert_eq(rc, 0, "rc = %d: %s", rc, e ? e->message : "");
	cr_assert_eq(strlen(r->user), len - strlen(head) - 5, "user has %zu bytes",
	             strlen(r->user));
	request_free(r);
	/* One byte more: refused before parsing. */
	text[len] = '\n';
	msg = parse_fails(text, len + 1, DMS_ERR_INVALID_ARGUMENT, "request: 1048577 bytes");
	cr_assert(strstr(msg, "1 MiB) limit"), "message = %s", msg);
	free(msg);
	free(text);
}

Test(request, nul_byte_in_text)
{
	const char text[] = "{\"job_id\":\"j\0\"}";
	char *msg = parse_fails(text, sizeof(text) - 1, DMS_ERR_INVALID_ARGUMENT,
	                        "request: contains a NUL byte");

	free(msg);
}

/* --- log requests ----------------------------------------------------- */

Test(request, log_request_full_and_defaults)
{
	static const char *full[] = {
	    "{\"execution_id\":\"e1\",\"tail\":true,\"follow\":true,\"lines\":10,"
	    "\"format\":\"plain\"}",
	    "execution_id: e1\ntail: true\nfollow: true\nlines: 10\nformat: plain\n",
	};

	for (size_t i = 0; i < 2; i++) {
		struct log_request *r = NULL;
		dms_error *e = NULL;
		int rc = log_request_parse(full[i], strlen(full[i]), &r, &e);

		cr_assert_eq(rc, 0, "rc = %d: %s", rc, e ? e->message : "");
		cr_assert_str_eq(r->execution_id, "e1", "execution_id = %s", r->execution_id);
		cr_assert(r->tail);
		cr_assert(r->follow);
		cr_assert_eq(r->lines, 10, "lines = %lld", (long long)r->lines);
		cr_assert_eq(r->format, LOG_FORMAT_PLAIN, "format = %d", r->format);
		log_request_free(r);
	}

	struct log_request *r = NULL;
	dms_error *e = NULL;
	int rc = log_request_parse("{\"execution_id\":\"e2\"}", 21, &r, &e);

	cr_assert_eq(rc, 0, "rc = %d: %s", rc, e ? e->message : "");
	cr_assert_not(r->tail);
	cr_assert_not(r->follow);
	cr_assert_eq(r->lines, -1, "lines = %lld", (long long)r->lines);
	cr_assert_eq(r->format, LOG_FORMAT_FRAMED, "format = %d", r->format);
	log_request_free(r);
}

ParameterizedTestParameters(request, bad_log_requests)
{
	static struct bad_case cases[] = {
	    BAD("missing execution_id", "{\"tail\":true}", "execution_id: required"),
	    BAD("bad execution_id", "{\"execution_id\":\"a/b\"}", "execution_id: must be"),
	    BAD("tail a string", "{\"execution_id\":\"e\",\"tail\":\"yes\"}",
	        "tail: must be a boolean, got string"),
	    BAD("follow a number", "{\"execution_id\":\"e\",\"follow\":1}",
	        "follow: must be a boolean, got number"),
	    BAD("negative lines", "{\"execution_id\":\"e\",\"lines\":-1}",
	        "lines: must be an integer >= 0, got -1"),
	    BAD("fractional lines", "{\"execution_id\":\"e\",\"lines\":1.5}",
	        "lines: must be an integer >= 0, got 1.5"),
	    BAD("lines a string", "{\"execution_id\":\"e\",\"lines\":\"10\"}",
	        "lines: must be an integer, got string"),
	    BAD("unknown format", "{\"execution_id\":\"e\",\"format\":\"json\"}",
	        "format: must be one of framed, plain; got \"json\""),
	    BAD("misspelt key", "{\"execution_id\":\"e\",\"follw\":true}",
	        "follw: unknown key (did you mean \"follow\"?)"),
	    BAD("not an object", "[]", "log request: must be an object, got array"),
	    BAD("YAML bad lines", "execution_id: e\nlines: many\n",
	        "lines: must be an integer, got string (line 2:8)"),
	};

	return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, request, bad_log_requests)
{
	struct log_request *r = NULL;
	dms_error *e = NULL;
	int rc = log_request_parse(c->text, strlen(c->text), &r, &e);

	cr_log_info("case: %s", c->name);
	cr_assert_eq(rc, DMS_ERR_INVALID_ARGUMENT, "%s: rc = %d (%s)", c->name, rc,
	             dms_status_name(rc));
	cr_assert_null(r);
	cr_assert_not_null(e);
	cr_assert_eq(e->category, DMS_ERR_INVALID_ARGUMENT, "category = %d", e->category);
	cr_assert(strncmp(e->message, c->prefix, strlen(c->prefix)) == 0,
	          "%s: message \"%s\" does not start with \"%s\"", c->name, e->message, c->prefix);
	err_free(e);
}

/* --- ids and strv ----------------------------------------------------- */

Test(request, valid_id_rule)
{
	static const struct {
		const char *id;
		size_t max;
		bool ok;
	} cases[] = {
	    {"e1", 128, true},   {"A-z_0.9:x", 128, true}, {"", 128, false},    {"a b", 128, false},
	    {"a/b", 128, false}, {"é", 128, false},        {".", 128, false},   {"..", 128, false},
	    {"...", 128, true},  {"abcd", 4, true},        {"abcde", 4, false}, {"abcde", 0, true},
	};
	char long_id[130];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(request_valid_id(cases[i].id, cases[i].max), cases[i].ok,
		             "request_valid_id(\"%s\", %zu) != %d", cases[i].id, cases[i].max,
		             cases[i].ok);
	cr_assert_not(request_valid_id(NULL, 128));
	memset(long_id, 'a', 128);
	long_id[128] = '\0';
	cr_assert(request_valid_id(long_id, 128));
	cr_assert_not(request_valid_id(long_id, 64), "executor ids stop at 64");
	long_id[128] = 'a';
	long_id[129] = '\0';
	cr_assert_not(request_valid_id(long_id, 0), "129 chars accepted");
}

Test(request, strv_helpers)
{
	char *items[] = {"a", "", "c", NULL};
	strv copy = strv_dup(items);

	cr_assert_eq(strv_len(NULL), 0);
	cr_assert_null(strv_dup(NULL), "NULL (not given) must stay NULL");
	cr_assert_eq(strv_len(items), 3, "strv_len = %zu", strv_len(items));
	cr_assert_not_null(copy);
	cr_assert_eq(strv_len(copy), 3, "copy has %zu", strv_len(copy));
	for (size_t i = 0; i < 3; i++) {
		cr_assert_neq(copy[i], items[i], "element %zu not copied", i);
		cr_assert_str_eq(copy[i], items[i], "copy[%zu] = %s", i, copy[i]);
	}
	strv_free(copy);

	char *empty[] = {NULL};
	copy = strv_dup(empty);
	cr_assert_not_null(copy, "an empty vector is not \"not given\"");
	cr_assert_eq(strv_len(copy), 0);
	strv_free(copy);
}
