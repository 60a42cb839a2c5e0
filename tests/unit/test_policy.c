/* test_policy.c — the job policy (executor/policy.c, docs/security.md):
 * the config's policy keys (defaults, every key, bad values with
 * line:column), each check on a decoded request with the message that
 * names field, value and key, the resolution of inputs (symlinks, the
 * engine socket), the results_dir walk that never follows a link, and,
 * through the executor on the fake runtime, that a refused Start makes
 * nothing: no engine call, no directory. (The same over D-Bus on the real
 * engines: tests/dbus/test_hostile.py.) */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor_internal.h"
#include "fake_runtime.h"
#include "policy.h"
#include "request.h"
#include "results_dir.h"
#include "test_assert.h"

static char dir[] = "/tmp/dms-unit-policy-XXXXXX";

static void setup(void)
{
	unsetenv("DMS_STATE_DIR");
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	strcpy(dir, "/tmp/dms-unit-policy-XXXXXX");
}

TestSuite(policy, .init = setup, .fini = teardown, .timeout = 30);

static char *path_in(const char *name)
{
	char *p = NULL;
	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static struct exec_config *config_ok(const char *text)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	cr_assert_eq(config_parse(text, &c, &e), 0, "%s: %s", text, e ? e->message : "?");
	return c;
}

/* A request with `params` added to engine_spec.params and `top` to the
 * document (each "" or ",\"k\":v"). */
static struct exec_request *request_ok(const char *params, const char *top)
{
	char *text = NULL;
	struct exec_request *r = NULL;
	dms_error *e = NULL;
	cr_assert(asprintf(&text,
	                   "{\"job_id\":\"j\",\"execution_id\":\"e\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"dms-test/busybox:latest\"%s}}%s}",
	                   params, top) > 0);
	cr_assert_eq(request_parse(text, strlen(text), &r, &e), 0, "%s: %s", text,
	             e ? e->message : "?");
	free(text);
	return r;
}

/* The check's outcome: 0, or the refusal's message (caller frees). */
static char *check(const char *cfg_text, const char *params, const char *top)
{
	struct exec_config *cfg = config_ok(cfg_text);
	struct exec_request *r = request_ok(params, top);
	dms_error *e = NULL;
	int rc = policy_check_request(cfg, "unix:///tmp/dms-unit-no-engine.sock", r, &e);
	char *msg = NULL;
	if (rc) {
		cr_assert_eq(rc, DMS_ERR_PERMISSION_DENIED, "rc %d: %s", rc, e ? e->message : "?");
		cr_assert_eq(e->category, DMS_ERR_PERMISSION_DENIED);
		msg = strdup(e->message);
	}
	err_free(e);
	request_free(r);
	config_free(cfg);
	return msg;
}

static void refused(const char *cfg, const char *params, const char *top, const char *want)
{
	char *msg = check(cfg, params, top);
	cr_assert(msg, "allowed: %s %s under %s", params, top, cfg);
	cr_assert_str_eq(msg, want);
	free(msg);
}

static void allowed(const char *cfg, const char *params, const char *top)
{
	char *msg = check(cfg, params, top);
	cr_assert_null(msg, "refused: %s", msg);
}

/* --- the config ---------------------------------------------------------- */

Test(policy, defaults)
{
	struct exec_config *c = config_ok("state_dir: /srv/dms/\n");
	const struct exec_policy *p = &c->policy;
	cr_assert_null(p->bind_roots);
	cr_assert_str_eq(p->results_root, "/srv/dms/results");
	cr_assert_null(p->cap_add);
	cr_assert_not(p->host_network);
	cr_assert(p->images && p->images[0] && !p->images[1]);
	cr_assert_str_eq(p->images[0], "*");
	cr_assert_eq(p->max.cpu, 0);
	cr_assert_eq(p->max.memory, 0);
	cr_assert_eq(p->max.pids, 0);
	cr_assert_eq(p->max.environment, 256u << 10);
	cr_assert_eq(p->max.labels, 16u << 10);
	cr_assert_not(p->require_limits || p->run_as_non_root || p->gpus ||
	              p->allow_privilege_escalation);
	cr_assert_eq(p->ports_min, 1024);
	cr_assert_eq(p->ports_max, 65535);
	config_free(c);
}

Test(policy, every_key)
{
	struct exec_config *c =
	    config_ok("policy:\n  bind_roots: [/srv/in, /data]\n  results_root: /srv/out\n"
	              "  cap_add: [net_admin, CAP_SYS_TIME]\n  host_network: true\n"
	              "  images: [\"registry.example.com/*\"]\n"
	              "  max: {cpu: 2.5, memory: 1GiB, pids: 100, environment: 1k, labels: 2k}\n"
	              "  require_limits: true\n  run_as_non_root: true\n  gpus: true\n"
	              "  ports: {min: 80, max: 8080}\n  allow_privilege_escalation: true\n");
	const struct exec_policy *p = &c->policy;
	cr_assert_str_eq(p->bind_roots[1], "/data");
	cr_assert_str_eq(p->results_root, "/srv/out");
	cr_assert_str_eq(p->cap_add[0], "CAP_NET_ADMIN");
	cr_assert_str_eq(p->cap_add[1], "CAP_SYS_TIME");
	cr_assert(p->host_network && p->require_limits && p->run_as_non_root && p->gpus &&
	          p->allow_privilege_escalation);
	cr_assert_str_eq(p->images[0], "registry.example.com/*");
	cr_assert_eq(p->max.cpu, 2.5);
	cr_assert_eq(p->max.memory, 1 << 30);
	cr_assert_eq(p->max.pids, 100);
	cr_assert_eq(p->max.environment, 1024);
	cr_assert_eq(p->max.labels, 2048);
	cr_assert_eq(p->ports_min, 80);
	cr_assert_eq(p->ports_max, 8080);
	config_free(c);
}

struct bad_config {
	char text[96];
	char want[112];
};

ParameterizedTestParameters(policy, config_rejected)
{
	static struct bad_config cases[] = {
	    {"policy:\n  bind_root: [/x]\n",
	     "policy.bind_root: unknown key (did you mean \"bind_roots\"?) (line 2:3)"},
	    {"policy:\n  bind_roots: [x]\n",
	     "policy.bind_roots[0]: must be an absolute path, got \"x\" (line 2:16)"},
	    {"policy:\n  results_root: rel\n", "policy.results_root: must be an absolute path"},
	    {"policy:\n  cap_add: [SYS_FOO]\n", "policy.cap_add[0]: must be a capability name"},
	    {"policy:\n  host_network: yes\n", "policy.host_network: must be a boolean"},
	    {"policy:\n  images: []\n", "policy.images: must list at least one pattern"},
	    {"policy:\n  max: {cpu: 0}\n", "policy.max.cpu: must be a number > 0"},
	    {"policy:\n  max: {memory: lots}\n", "policy.max.memory: must be a size"},
	    {"policy:\n  max: {pids: 0}\n", "policy.max.pids: must be an integer >= 1"},
	    {"policy:\n  max: {labels: 64KiB}\n", "policy.max.labels: must be at most 32768 bytes"},
	    {"policy:\n  ports: {min: 0}\n", "policy.ports.min: must be a port number 1..65535"},
	    {"policy:\n  ports: {min: 2000, max: 1000}\n",
	     "policy.ports: min (2000) must not be above max (1000)"},
	    {"policy: [a]\n", "policy: must be an object"},
	};
	return cr_make_param_array(struct bad_config, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_config *bc, policy, config_rejected)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	cr_assert_eq(config_parse(bc->text, &c, &e), DMS_ERR_CONFIG, "%s", bc->text);
	cr_assert(strstr(e->message, bc->want), "\"%s\" lacks \"%s\"", e->message, bc->want);
	err_free(e);
}

/* --- the checks ---------------------------------------------------------- */

Test(policy, the_issue_request_under_the_default_config)
{
	refused("",
	        ",\"entrypoint\":[\"/bin/sh\",\"-c\"],\"cmd\":[\"echo pwned > /host/tmp/probe\"],"
	        "\"cap_add\":[\"SYS_ADMIN\"],\"network_mode\":\"host\",\"user\":\"0\"",
	        ",\"inputs\":[{\"source\":\"/\",\"target\":\"/host\",\"read_only\":false}]",
	        "inputs[0].source: \"/\" is not under policy.bind_roots (none allowed)");
}

Test(policy, each_default_refusal_names_field_value_and_key)
{
	refused("", ",\"cap_add\":[\"SYS_ADMIN\"]", "",
	        "engine_spec.params.cap_add[0]: \"CAP_SYS_ADMIN\" is not allowed by policy.cap_add "
	        "(none allowed)");
	refused("", ",\"network_mode\":\"host\"", "",
	        "engine_spec.params.network_mode: \"host\" is not allowed by policy.host_network "
	        "(false)");
	refused("", ",\"no_new_privileges\":false", "",
	        "engine_spec.params.no_new_privileges: false is not allowed by "
	        "policy.allow_privilege_escalation (false)");
	refused(
	    "",
	    ",\"network_mode\":\"isolated\",\"ports\":[{\"container_port\":80,\"host_port\":80}]",
	    "", "engine_spec.params.ports[0].host_port: 80 is outside policy.ports (1024-65535)");
	refused("", "", ",\"resources\":{\"gpus\":[{\"vendor\":\"nvidia\"}]}",
	        "resources.gpus: GPUs are not allowed by policy.gpus (false)");
	refused("", "", ",\"results_dir\":\"/etc/cron.d\"",
	        "results_dir: \"/etc/cron.d\" is not under policy.results_root "
	        "(\"/var/lib/dms-executor/results\")");
	/* What the defaults allow. */
	allowed("",
	        ",\"user\":\"0\",\"cap_drop\":[\"ALL\"],\"network_mode\":\"isolated\","
	        "\"ports\":[{\"container_port\":80,\"host_port\":0},{\"container_port\":81,"
	        "\"host_port\":1024}]",
	        ",\"results_dir\":\"/var/lib/dms-executor/results/a/b\"");
}

Test(policy, capabilities)
{
	const char *cfg = "policy: {cap_add: [NET_ADMIN]}";
	allowed(cfg, ",\"cap_add\":[\"net_admin\"]", "");
	refused(cfg, ",\"cap_add\":[\"NET_ADMIN\",\"ALL\"]", "",
	        "engine_spec.params.cap_add[1]: \"ALL\" is not allowed by policy.cap_add "
	        "(\"CAP_NET_ADMIN\")");
	allowed("policy: {cap_add: [ALL]}", ",\"cap_add\":[\"ALL\",\"SYS_ADMIN\"]", "");
}

Test(policy, images)
{
	const char *cfg = "policy: {images: [\"registry.example.com/*\", \"docker.io/library/*\"]}";
	refused(cfg, "", "",
	        "engine_spec.params.image: \"dms-test/busybox:latest\" matches no pattern of "
	        "policy.images (\"registry.example.com/*\", \"docker.io/library/*\")");
	struct exec_config *c = config_ok(cfg);
	struct exec_request *r = request_ok("", "");
	free(r->image);
	r->image = strdup("busybox"); /* docker.io/library/busybox */
	cr_assert_eq(policy_check_request(c, NULL, r, NULL), 0);
	free(r->image);
	r->image = strdup("evil.example.com/registry.example.com/x");
	dms_error *e = NULL;
	cr_assert_eq(policy_check_request(c, NULL, r, &e), DMS_ERR_PERMISSION_DENIED);
	cr_assert_str_eq(e->message, "engine_spec.params.image: \"evil.example.com/registry."
	                             "example.com/x\" matches no pattern of policy.images "
	                             "(\"registry.example.com/*\", \"docker.io/library/*\")");
	err_free(e);
	request_free(r);
	config_free(c);
}

Test(policy, users)
{
	const char *cfg = "policy: {run_as_non_root: true}";
	allowed(cfg, ",\"user\":\"1000\"", "");
	allowed(cfg, ",\"user\":\"1000:0\"", "");
	refused(cfg, ",\"user\":\"0\"", "",
	        "engine_spec.params.user: \"0\" is root, refused by policy.run_as_non_root");
	refused(cfg, ",\"user\":\"000:1\"", "",
	        "engine_spec.params.user: \"000:1\" is root, refused by policy.run_as_non_root");
	refused(cfg, ",\"user\":\"root\"", "",
	        "engine_spec.params.user: \"root\" is root, refused by policy.run_as_non_root");
	refused(cfg, ",\"user\":\"nobody\"", "",
	        "engine_spec.params.user: \"nobody\" is not a numeric uid, so "
	        "policy.run_as_non_root cannot tell it is not root; give a uid like \"1000\"");
	/* The image's user, when the request gives none. */
	struct exec_config *c = config_ok(cfg);
	struct exec_request *r = request_ok("", "");
	cr_assert(policy_needs_image_user(&c->policy, r));
	cr_assert_eq(policy_check_image_user(&c->policy, r, "1000", NULL), 0);
	dms_error *e = NULL;
	cr_assert_eq(policy_check_image_user(&c->policy, r, "", &e), DMS_ERR_PERMISSION_DENIED);
	cr_assert(strstr(e->message, "engine_spec.params.image: \"dms-test/busybox:latest\" runs "
	                             "as root (it names no user)"),
	          "%s", e->message);
	err_free(e);
	e = NULL;
	cr_assert_eq(policy_check_image_user(&c->policy, r, "root", &e), DMS_ERR_PERMISSION_DENIED);
	cr_assert_str_eq(e->message, "engine_spec.params.image: \"root\" (the image's user) is "
	                             "root, refused by policy.run_as_non_root");
	err_free(e);
	request_free(r);
	config_free(c);
}

Test(policy, ceilings_refuse_above_and_fill_in_a_missing_limit)
{
	const char *cfg = "policy: {max: {cpu: 1, memory: 64MiB, pids: 50}}";
	refused(cfg, "", ",\"resources\":{\"cpu\":{\"cores\":1.5}}",
	        "resources.cpu.cores: 1.5 is above policy.max.cpu (1)");
	refused(cfg, "", ",\"resources\":{\"memory\":{\"size\":\"65MiB\"}}",
	        "resources.memory.size: 68157440 bytes is above policy.max.memory (67108864)");
	refused(cfg, "", ",\"resources\":{\"pids\":{\"limit\":51}}",
	        "resources.pids.limit: 51 is above policy.max.pids (50)");
	struct exec_config *c = config_ok(cfg);
	struct exec_request *r = request_ok("", ",\"resources\":{\"memory\":{\"size\":\"32MiB\"}}");
	cr_assert_eq(policy_check_request(c, NULL, r, NULL), 0);
	cr_assert_eq(r->cpu_cores, 1);
	cr_assert_eq(r->memory_bytes, 32 << 20, "the request's own limit is kept");
	cr_assert_eq(r->pids_limit, 50);
	request_free(r);
	config_free(c);
	refused("policy: {require_limits: true}", "", ",\"resources\":{\"pids\":{\"limit\":5}}",
	        "resources.memory.size: required by policy.require_limits (a job must state its "
	        "memory limit)");
	refused("policy: {require_limits: true}", "",
	        ",\"resources\":{\"memory\":{\"size\":\"8MiB\"}}",
	        "resources.pids.limit: required by policy.require_limits (a job must state its "
	        "pids limit)");
	allowed("policy: {require_limits: true}", "",
	        ",\"resources\":{\"memory\":{\"size\":\"8MiB\"},\"pids\":{\"limit\":5}}");
}

Test(policy, sizes)
{
	char *env = malloc(300);
	memset(env, 'x', 299);
	env[299] = '\0';
	char *params = NULL;
	cr_assert(asprintf(&params, ",\"environment\":[\"A=%s\"],\"labels\":{\"k\":\"%s\"}", env,
	                   env) > 0);
	refused("policy: {max: {environment: 256}}", params, "",
	        "engine_spec.params.environment: 302 bytes is above policy.max.environment (256)");
	refused("policy: {max: {labels: 256}}", params, "",
	        "engine_spec.params.labels: 302 bytes is above policy.max.labels (256)");
	allowed("policy: {max: {environment: 302, labels: 302}}", params, "");
	free(params);
	free(env);
}

/* --- inputs ---------------------------------------------------------------- */

static char *input(const char *source)
{
	char *top = NULL;
	cr_assert(asprintf(&top, ",\"inputs\":[{\"source\":\"%s\",\"target\":\"/in\"}]", source) >
	          0);
	return top;
}

Test(policy, inputs_are_resolved_before_the_check)
{
	char *root = path_in("root"), *in = path_in("root/in"), *link = path_in("root/escape");
	char *up = path_in("root/up"), *sock = path_in("root/sock"), *cfg = NULL;
	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(in, 0700), 0);
	cr_assert_eq(symlink("/etc", link), 0);
	cr_assert_eq(symlink("..", up), 0);
	cr_assert(asprintf(&cfg, "policy: {bind_roots: [\"%s\"]}", root) > 0);

	char *top = input(in);
	allowed(cfg, "", top);
	free(top);

	char want[PATH_MAX * 2];
	top = input(link);
	snprintf(want, sizeof(want),
	         "inputs[0].source: \"%s\" (resolved: \"/etc\") is not under policy.bind_roots "
	         "(\"%s\")",
	         link, root);
	refused(cfg, "", top, want);
	free(top);

	char *through = NULL;
	cr_assert(asprintf(&through, "%s/root", up) > 0); /* root/up/root = root: inside */
	top = input(through);
	allowed(cfg, "", top);
	free(top);
	free(through);
	cr_assert(asprintf(&through, "%s/.", up) > 0); /* the temp dir: outside */
	top = input(through);
	snprintf(want, sizeof(want),
	         "inputs[0].source: \"%s\" (resolved: \"%s\") is not under policy.bind_roots "
	         "(\"%s\")",
	         through, dir, root);
	refused(cfg, "", top, want);
	free(top);
	free(through);

	/* The source the engine gets is the resolved one. */
	struct exec_config *c = config_ok(cfg);
	cr_assert(asprintf(&through, "%s/root/in", up) > 0);
	top = input(through);
	struct exec_request *r = request_ok("", top);
	cr_assert_eq(policy_check_request(c, NULL, r, NULL), 0);
	cr_assert_str_eq(r->inputs[0].source, in);
	request_free(r);
	free(top);
	free(through);

	/* The engine's socket, by name, through a link, or by a directory
	 * holding it: refused although under the root. */
	char *engine = NULL, *engine_url = NULL;
	cr_assert(asprintf(&engine, "%s/engine.sock", in) > 0);
	cr_assert(asprintf(&engine_url, "unix://%s", engine) > 0);
	cr_assert_eq(mknod(engine, S_IFSOCK | 0600, 0), 0, "mknod: %s", strerror(errno));
	cr_assert_eq(symlink(engine, sock), 0);
	const char *sources[] = {engine, sock, in, root};
	for (size_t i = 0; i < 4; i++) {
		top = input(sources[i]);
		r = request_ok("", top);
		dms_error *e = NULL;
		cr_assert_eq(policy_check_request(c, engine_url, r, &e), DMS_ERR_PERMISSION_DENIED,
		             "%s allowed", sources[i]);
		cr_assert(strstr(e->message, "is or holds the socket"), "%s", e->message);
		cr_assert(strstr(e->message, engine), "%s", e->message);
		err_free(e);
		request_free(r);
		free(top);
	}
	config_free(c);
	free(engine);
	free(engine_url);
	free(cfg);
	free(root);
	free(in);
	free(link);
	free(up);
	free(sock);
}

/* --- results_dir ------------------------------------------------------------ */

Test(policy, results_dir_must_lie_strictly_below_the_root)
{
	char *cfg = NULL, *top = NULL, want[PATH_MAX * 2];
	cr_assert(asprintf(&cfg, "policy: {results_root: \"%s/\"}", dir) > 0);
	cr_assert(asprintf(&top, ",\"results_dir\":\"%s/a/./b\"", dir) > 0);
	allowed(cfg, "", top);
	free(top);
	const char *bad[] = {"", "/.", "x"};
	for (size_t i = 0; i < 3; i++) {
		cr_assert(asprintf(&top, ",\"results_dir\":\"%s%s\"", dir, bad[i]) > 0);
		snprintf(want, sizeof(want),
		         "results_dir: \"%s%s\" is not under policy.results_root (\"%s/\")", dir,
		         bad[i], dir);
		refused(cfg, "", top, want);
		free(top);
	}
	free(cfg);
}

Test(policy, results_dir_walk_never_follows_a_link)
{
	char *root = path_in("results"), *victim = path_in("victim"), *link = path_in("results/l");
	cr_assert_eq(mkdir(victim, 0700), 0);
	/* The root is made when missing. */
	char *top = NULL;
	cr_assert(asprintf(&top,
	                   ",\"results_dir\":\"%s/r\",\"outputs\":[{\"source\":\"o/p\","
	                   "\"target\":\"/o\"}]",
	                   root) > 0);
	struct exec_request *r = request_ok("", top);
	free(top);
	cr_assert_eq(results_dir_prepare(root, r, NULL), 0);
	char *made = path_in("results/r/o/p");
	struct stat st;
	cr_assert_eq(stat(made, &st), 0, "%s: %s", made, strerror(errno));
	free(made);
	/* Files of the harvest, through the same walk. */
	struct results_files rf;
	cr_assert_eq(results_files_open(&rf, root, r->results_dir, 100, NULL), 0);
	results_files_write(&rf, 1, "out", 3);
	cr_assert_eq(results_write_exit_code(&rf, 3, NULL), 0);
	results_files_close(&rf);
	request_free(r);

	/* A link as a directory of results_dir, as results_dir itself, as an
	 * output, below an output: refused, nothing written where it points. */
	cr_assert_eq(symlink(victim, link), 0);
	char *rr = path_in("results/r");
	char *o = path_in("results/r/o");
	char *moved = path_in("results/r/o-moved");
	cr_assert_eq(rename(o, moved), 0, "rename: %s", strerror(errno));
	free(moved);
	cr_assert_eq(symlink(victim, o), 0);
	struct {
		const char *top_fmt;
		const char *field;
	} cases[] = {
	    {",\"results_dir\":\"%s/l/x\"", "results_dir"},
	    {",\"results_dir\":\"%s/l\"", "results_dir"},
	    {",\"results_dir\":\"%s/r\",\"outputs\":[{\"source\":\"o\",\"target\":\"/o\"}]",
	     "outputs[0].source"},
	    {",\"results_dir\":\"%s/r\",\"outputs\":[{\"source\":\"o/q\",\"target\":\"/o\"}]",
	     "outputs[0].source"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert(asprintf(&top, cases[i].top_fmt, root) > 0);
		r = request_ok("", top);
		dms_error *e = NULL;
		cr_assert_eq(results_dir_prepare(root, r, &e), DMS_ERR_PERMISSION_DENIED, "%s",
		             top);
		cr_assert(strncmp(e->message, cases[i].field, strlen(cases[i].field)) == 0 &&
		              strstr(e->message, "is a symbolic link; links below "
		                                 "policy.results_root are never followed"),
		          "%s", e->message);
		err_free(e);
		request_free(r);
		free(top);
	}
	/* The harvest's walk refuses the same link. */
	cr_assert(asprintf(&top, "%s/l", root) > 0);
	cr_assert_eq(results_files_open(&rf, root, top, 100, NULL), DMS_ERR_PERMISSION_DENIED);
	free(top);
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", victim);
	cr_assert_eq(system(cmd), 0, "something was written into %s", victim);
	free(rr);
	free(o);
	free(root);
	free(victim);
	free(link);
}

/* --- through the executor ------------------------------------------------- */

Test(policy, a_refused_start_makes_nothing)
{
	exec_fixture_setup("unit-policy");
	struct dms_executor *ex =
	    exec_fixture_new("pol", NULL, "policy: {run_as_non_root: true}\n");
	char *req = NULL;
	cr_assert(asprintf(&req,
	                   "{\"job_id\":\"j\",\"execution_id\":\"e1\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"%s\",\"cap_add\":[\"SYS_ADMIN\"]}},"
	                   "\"results_dir\":\"%s/results/x\"}",
	                   EXEC_FIXTURE_IMAGE, exec_fixture_state_dir()) > 0);
	int creates = fake_runtime_op_count("container_create");
	int pulls = fake_runtime_op_count("image_pull");
	dms_error *e = NULL;
	cr_assert_eq(executor_start(ex, NULL, req, &e), DMS_ERR_PERMISSION_DENIED);
	cr_assert(strstr(e->message, "policy.cap_add"), "%s", e->message);
	err_free(e);
	free(req);
	cr_assert_eq(fake_runtime_op_count("container_create"), creates);
	cr_assert_eq(fake_runtime_op_count("image_pull"), pulls);
	char results[PATH_MAX];
	snprintf(results, sizeof(results), "%s/results", exec_fixture_state_dir());
	struct stat st;
	cr_assert_neq(stat(results, &st), 0, "a refused request made %s", results);
	/* The id is free: nothing was registered. */
	char *json = NULL;
	e = NULL;
	cr_assert_eq(executor_wait(ex, NULL, "e1", &json, &e), DMS_ERR_NOT_FOUND);
	err_free(e);
	/* The image's user: the fake runtime cannot tell it, so a request
	 * without a user is refused, before anything is made. */
	cr_assert(asprintf(&req,
	                   "{\"job_id\":\"j\",\"execution_id\":\"e2\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"%s\"}}}",
	                   EXEC_FIXTURE_IMAGE) > 0);
	e = NULL;
	cr_assert_eq(executor_start(ex, NULL, req, &e), DMS_ERR_PERMISSION_DENIED);
	cr_assert(strstr(e->message, "engine_spec.params.user: required by "
	                             "policy.run_as_non_root"),
	          "%s", e->message);
	err_free(e);
	free(req);
	cr_assert_eq(fake_runtime_op_count("container_create"), creates);
	exec_fixture_teardown(&ex);
}
