/* test_config.c — unit tests of the executor config parser
 * (executor/config.c): defaults, every key, flow mappings, unknown keys and
 * bad values reported with key and line:column (the units themselves:
 * test_units.c). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

static void no_state_dir_env(void)
{
	unsetenv("DMS_STATE_DIR");
}

TestSuite(config, .init = no_state_dir_env);

static struct exec_config *parse_ok(const char *text)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	int rc = config_parse(text, &c, &e);

	cr_assert_eq(rc, 0, "config_parse(%s) = %d: %s", text ? text : "NULL", rc,
	             e ? e->message : "(no error object)");
	cr_assert_null(e);
	cr_assert_not_null(c);
	return c;
}

static void assert_defaults(const struct exec_config *c, const char *state_dir)
{
	cr_assert_str_eq(c->runtime, "docker", "runtime = %s", c->runtime);
	cr_assert_null(c->host, "host = %s", c->host);
	cr_assert_str_eq(c->state_dir, state_dir, "state_dir = %s", c->state_dir);
	cr_assert_eq(c->stop_timeout_ms, 10000, "stop_timeout_ms = %lld",
	             (long long)c->stop_timeout_ms);
	cr_assert_eq(c->output_limit, 1048576, "output_limit = %zu", c->output_limit);
	cr_assert_eq(c->retention_ms, 3600000, "retention_ms = %lld", (long long)c->retention_ms);
	cr_assert_eq(c->log_spool_limit, 64u << 20, "log_spool_limit = %zu", c->log_spool_limit);
	cr_assert_eq(c->results_file_limit, 64u << 20, "results_file_limit = %zu",
	             c->results_file_limit);
	cr_assert_str_eq(c->stop_signal, "SIGTERM", "stop_signal = %s", c->stop_signal);
	cr_assert_eq(c->exit_watch_ms, 5000, "exit_watch_ms = %lld", (long long)c->exit_watch_ms);
}

Test(config, null_and_empty_give_defaults)
{
	const char *texts[] = {NULL, "", "# only a comment\n", "~\n", "---\n", "{}"};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct exec_config *c = parse_ok(texts[i]);

		assert_defaults(c, "/var/lib/dms-executor");
		config_free(c);
	}
}

Test(config, state_dir_default_from_environment)
{
	struct exec_config *c;

	setenv("DMS_STATE_DIR", "/tmp/dms-test-state", 1);
	c = parse_ok(NULL);
	assert_defaults(c, "/tmp/dms-test-state");
	config_free(c);
	c = parse_ok("state_dir: /srv/explicit\n");
	cr_assert_str_eq(c->state_dir, "/srv/explicit", "explicit key lost to env: %s",
	                 c->state_dir);
	config_free(c);
}

Test(config, every_key)
{
	struct exec_config *c = parse_ok("runtime: podman\n"
	                                 "host: unix:///run/podman/podman.sock\n"
	                                 "state_dir: /srv/dms\n"
	                                 "stop_timeout: 250ms\n"
	                                 "output_limit: 64KiB\n"
	                                 "retention: 1.5m\n"
	                                 "log_spool_limit: 8MB\n"
	                                 "results_file_limit: 1k\n"
	                                 "stop_signal: INT\n"
	                                 "exit_watch: 0\n");

	cr_assert_str_eq(c->runtime, "podman", "runtime = %s", c->runtime);
	cr_assert_str_eq(c->host, "unix:///run/podman/podman.sock", "host = %s", c->host);
	cr_assert_str_eq(c->state_dir, "/srv/dms", "state_dir = %s", c->state_dir);
	cr_assert_eq(c->stop_timeout_ms, 250, "stop_timeout_ms = %lld",
	             (long long)c->stop_timeout_ms);
	cr_assert_eq(c->output_limit, 65536, "output_limit = %zu", c->output_limit);
	cr_assert_eq(c->retention_ms, 90000, "retention_ms = %lld", (long long)c->retention_ms);
	cr_assert_eq(c->log_spool_limit, 8000000, "log_spool_limit = %zu", c->log_spool_limit);
	cr_assert_eq(c->results_file_limit, 1024, "results_file_limit = %zu",
	             c->results_file_limit);
	cr_assert_str_eq(c->stop_signal, "SIGINT", "stop_signal = %s", c->stop_signal);
	cr_assert_eq(c->exit_watch_ms, 0, "exit_watch_ms = %lld", (long long)c->exit_watch_ms);
	config_free(c);
}

Test(config, every_runtime)
{
	const char *names[] = {"docker", "podman", "auto"};

	for (size_t i = 0; i < 3; i++) {
		char text[64];
		struct exec_config *c;

		snprintf(text, sizeof(text), "runtime: %s", names[i]);
		c = parse_ok(text);
		cr_assert_str_eq(c->runtime, names[i], "runtime = %s", c->runtime);
		config_free(c);
	}
}

/* A runtime is accepted only once it exists, and the refusal lists the
 * ones that do (the table of runtime_names.h). */
Test(config, unknown_runtime_lists_the_known_ones)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	int rc = config_parse("runtime: kubernetes", &c, &e);

	cr_assert_eq(rc, DMS_ERR_CONFIG, "rc = %d", rc);
	cr_assert_null(c);
	cr_assert(e && strstr(e->message, "must be one of docker, podman, swarm, auto"),
	          "message: %s", e ? e->message : "(none)");
	err_free(e);
}

/* The swarm runtime's keys (docs/swarm.md); a certificate needs its key. */
Test(config, swarm_keys)
{
	struct exec_config *c =
	    parse_ok("runtime: swarm\ntls_ca: /ca.pem\ntls_cert: /c.pem\ntls_key: /k.pem\n"
	             "swarm_pending_timeout: 2s\n");
	dms_error *e = NULL;

	cr_assert_str_eq(c->runtime, "swarm", "runtime = %s", c->runtime);
	cr_assert_str_eq(c->tls_key, "/k.pem", "tls_key = %s", c->tls_key);
	cr_assert_eq(c->swarm_pending_timeout_ms, 2000, "pending = %lld",
	             (long long)c->swarm_pending_timeout_ms);
	config_free(c);
	c = NULL;
	cr_assert_eq(config_parse("tls_cert: /c.pem", &c, &e), DMS_ERR_CONFIG);
	cr_assert(e && strstr(e->message, "tls_cert: needs tls_key too"), "message: %s",
	          e ? e->message : "(none)");
	err_free(e);
	c = parse_ok("{}");
	cr_assert_eq(c->swarm_pending_timeout_ms, 300000, "default pending = %lld",
	             (long long)c->swarm_pending_timeout_ms);
	config_free(c);
}

Test(config, flow_mapping)
{
	struct exec_config *c = parse_ok("{runtime: podman, stop_timeout: 3, output_limit: 512k}");

	cr_assert_str_eq(c->runtime, "podman", "runtime = %s", c->runtime);
	cr_assert_eq(c->stop_timeout_ms, 3000, "stop_timeout_ms = %lld",
	             (long long)c->stop_timeout_ms);
	cr_assert_eq(c->output_limit, 524288, "output_limit = %zu", c->output_limit);
	config_free(c);
}

Test(config, quoted_values_and_null_keeps_default)
{
	struct exec_config *c = parse_ok("stop_timeout: \"20s\"\nhost: ~\nretention:\n");

	cr_assert_eq(c->stop_timeout_ms, 20000, "stop_timeout_ms = %lld",
	             (long long)c->stop_timeout_ms);
	cr_assert_null(c->host, "host = %s", c->host);
	cr_assert_eq(c->retention_ms, 3600000, "retention_ms = %lld", (long long)c->retention_ms);
	config_free(c);
}

Test(config, stop_signal_forms)
{
	const char *in[] = {"SIGKILL", "kill", "SIGusr1", "15"};
	const char *want[] = {"SIGKILL", "SIGKILL", "SIGUSR1", "15"};

	for (size_t i = 0; i < 4; i++) {
		char text[64];
		struct exec_config *c;

		snprintf(text, sizeof(text), "stop_signal: %s", in[i]);
		c = parse_ok(text);
		cr_assert_str_eq(c->stop_signal, want[i], "stop_signal(%s) = %s", in[i],
		                 c->stop_signal);
		config_free(c);
	}
}

/* Rejected documents: the message must contain every `want` fragment. */
struct bad_case {
	char text[96];
	char want1[64];
	char want2[64];
};

ParameterizedTestParameters(config, rejected)
{
	static struct bad_case cases[] = {
	    {"runtime: docker\n\nbogus: 1\n", "bogus: unknown key (line 3:1)", ""},
	    {"  stop_timeout: 1s\n  verbose: true\n", "verbose: unknown key (line 2:3)", ""},
	    {"{runtime: docker, colour: red}", "colour: unknown key (line 1:19)", ""},
	    {"runtime: kubernetes\n", "runtime", "(line 1:10)"},
	    {"runtime: Docker\n", "runtime", "\"Docker\""},
	    {"stop_timeout: soon\n", "stop_timeout", "(line 1:15)"},
	    {"stop_timeout: -5s\n", "stop_timeout", "\"-5s\""},
	    {"retention: 10 parsecs\n", "retention", "(line 1:12)"},
	    {"output_limit: lots\n", "output_limit", "(line 1:15)"},
	    {"log_spool_limit: 1.5\n", "log_spool_limit", "(line 1:18)"},
	    {"stop_signal: SIGFOO\n", "stop_signal", "(line 1:14)"},
	    {"stop_signal: 99\n", "stop_signal", ""},
	    {"state_dir: relative/dir\n", "state_dir", "absolute"},
	    {"host: \"\"\n", "host", "empty"},
	    {"runtime:\n  name: docker\n", "runtime", "got object"},
	    {"runtime: [docker]\n", "runtime", "got array"},
	    {"- runtime\n", "config: must be an object", "(line 1:1)"},
	    {"just a string\n", "config: must be an object", ""},
	    {"runtime: docker\nruntime: podman\n", "runtime: duplicate key", "(line 2:1)"},
	    {"runtime: docker\n---\nruntime: podman\n", "one YAML document", ""},
	    {"runtime: [docker\n", "YAML", "line"},
	    {"? [a, b]\n: c\n", "keys must be", "line 1"},
	};
	return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *bc, config, rejected)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	int rc = config_parse(bc->text, &c, &e);

	cr_assert_eq(rc, DMS_ERR_CONFIG, "config_parse(%s) = %d, want DMS_ERR_CONFIG", bc->text,
	             rc);
	cr_assert_null(c, "out set on failure");
	cr_assert_not_null(e);
	cr_assert_eq(e->category, DMS_ERR_CONFIG, "category = %d", e->category);
	cr_assert(strstr(e->message, bc->want1), "message \"%s\" lacks \"%s\"", e->message,
	          bc->want1);
	cr_assert(strstr(e->message, bc->want2), "message \"%s\" lacks \"%s\"", e->message,
	          bc->want2);
	err_free(e);
}

Test(config, error_without_error_object)
{
	struct exec_config *c = NULL;

	cr_assert_eq(config_parse("nope: 1", &c, NULL), DMS_ERR_CONFIG);
	cr_assert_null(c);
}

Test(config, free_accepts_null)
{
	config_free(NULL);
}

/* ---- registries and auth_file (registry credentials) ---------------- */

Test(config, registries)
{
	struct exec_config *c = parse_ok("registries:\n"
	                                 "  - server: LocalHost:5000\n"
	                                 "    username: alice\n"
	                                 "    password: s3cret\n"
	                                 "  - {server: \"https://index.docker.io/v1/\", "
	                                 "identity_token: tok}\n");

	cr_assert_eq(c->n_registries, 2, "n_registries = %zu", c->n_registries);
	cr_assert_str_eq(c->registries[0].server, "localhost:5000", "server = %s",
	                 c->registries[0].server);
	cr_assert_str_eq(c->registries[0].username, "alice");
	cr_assert_str_eq(c->registries[0].password, "s3cret");
	cr_assert_null(c->registries[0].identity_token);
	cr_assert_str_eq(c->registries[1].server, "docker.io", "server = %s",
	                 c->registries[1].server);
	cr_assert_str_eq(c->registries[1].identity_token, "tok");
	config_free(c);
}

struct bad_registry_case {
	char text[160];
	char want1[80];
	char want2[40];
};

ParameterizedTestParameters(config, registries_rejected)
{
	static struct bad_registry_case cases[] = {
	    {"registries: localhost:5000\n", "registries: must be an array of objects",
	     "(line 1:13)"},
	    {"registries:\n  - localhost\n", "registries[0]: must be an object", "(line 2:5)"},
	    {"registries:\n  - {server: a.io, username: u}\n",
	     "registries[0]: give username and password", "line 2"},
	    {"registries:\n  - {server: a.io, username: u, password: p, identity_token: t}\n",
	     "registries[0]: give username and password", ""},
	    {"registries:\n  - {username: u, password: p}\n", "registries[0].server: required",
	     "(line 2"},
	    {"registries:\n  - {server: a.io, user: u, password: p}\n",
	     "registries[0].user: unknown key (line 2:20)", ""},
	    {"registries:\n  - {server: a.io, password: [p]}\n", "registries[0].password: must be",
	     "(line 2:30)"},
	    {"registries:\n  - {server: a.io, identity_token: t}\n  - {server: A.io, "
	     "identity_token: u}\n",
	     "registries[1].server: a.io is already listed", "line 3"},
	    {"auth_file: relative/config.json\n", "auth_file", "absolute"},
	    {"auth_file: /nonexistent/dms/config.json\n", "auth_file: cannot open",
	     "/nonexistent/dms/config.json"},
	};
	return cr_make_param_array(struct bad_registry_case, cases,
	                           sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_registry_case *bc, config, registries_rejected)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	int rc = config_parse(bc->text, &c, &e);

	cr_assert_eq(rc, DMS_ERR_CONFIG, "config_parse(%s) = %d, want DMS_ERR_CONFIG", bc->text,
	             rc);
	cr_assert_null(c);
	cr_assert(strstr(e->message, bc->want1), "message \"%s\" lacks \"%s\"", e->message,
	          bc->want1);
	cr_assert(strstr(e->message, bc->want2), "message \"%s\" lacks \"%s\"", e->message,
	          bc->want2);
	err_free(e);
}

/* A secret never appears in an error message. */
Test(config, registry_errors_do_not_echo_secrets)
{
	static const char *const texts[] = {
	    "registries:\n  - {server: a.io, password: hunter2}\n",
	    "registries:\n  - {server: a.io, username: u, password: hunter2, bogus: 1}\n",
	    "registries:\n  - {server: a.io, identity_token: hunter2, password: hunter2}\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct exec_config *c = NULL;
		dms_error *e = NULL;
		cr_assert_eq(config_parse(texts[i], &c, &e), DMS_ERR_CONFIG, "%s", texts[i]);
		cr_assert_null(strstr(e->message, "hunter2"), "secret in \"%s\"", e->message);
		err_free(e);
	}
}

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/dms-test-auth-XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

Test(config, auth_file)
{
	/* "alice:pa:ss" in base64; a config entry for localhost:5000 wins. */
	char *path = write_temp("{\"auths\": {"
	                        "\"https://index.docker.io/v1/\": {\"auth\": \"YWxpY2U6cGE6c3M=\"},"
	                        "\"localhost:5000\": {\"auth\": \"Ym9iOnNlY3JldA==\"},"
	                        "\"ghcr.io\": {\"identitytoken\": \"tok\"},"
	                        "\"helper.io\": {}},"
	                        "\"credsStore\": \"desktop\"}");
	char *text = NULL;
	struct exec_config *c;

	cr_assert(asprintf(&text,
	                   "auth_file: %s\nregistries:\n  - {server: localhost:5000, "
	                   "username: carol, password: x}\n",
	                   path) > 0);
	c = parse_ok(text);
	cr_assert_eq(c->n_registries, 3, "n_registries = %zu", c->n_registries);
	cr_assert_str_eq(c->registries[0].username, "carol");
	cr_assert_str_eq(c->registries[1].server, "docker.io", "%s", c->registries[1].server);
	cr_assert_str_eq(c->registries[1].username, "alice");
	cr_assert_str_eq(c->registries[1].password, "pa:ss");
	cr_assert_str_eq(c->registries[2].server, "ghcr.io");
	cr_assert_str_eq(c->registries[2].identity_token, "tok");
	config_free(c);
	free(text);
	unlink(path);
	free(path);
}

Test(config, auth_file_rejected)
{
	static const char *const files[] = {
	    "{\"auths\": [1]}",
	    "{\"auths\": {\"a.io\": {\"auth\": \"bm9jb2xvbg==\"}}}", /* "nocolon" */
	    "{\"auths\": {\"a.io\": {\"auth\": \"@@@@\"}}}",
	    "{\"auths\": {\"a.io\": {\"auth\": \"hunter2\"",
	};
	static const char *const wants[] = {
	    "\"auths\" must be an object",
	    "auths.\"a.io\".auth must be base64 of user:password",
	    "auths.\"a.io\".auth must be base64",
	    "is not JSON",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = write_temp(files[i]), *text = NULL;
		struct exec_config *c = NULL;
		dms_error *e = NULL;
		cr_assert(asprintf(&text, "auth_file: %s\n", path) > 0);
		cr_assert_eq(config_parse(text, &c, &e), DMS_ERR_CONFIG, "%s", files[i]);
		cr_assert(strstr(e->message, wants[i]), "message \"%s\" lacks \"%s\"", e->message,
		          wants[i]);
		cr_assert(strstr(e->message, path), "message \"%s\" lacks the path", e->message);
		cr_assert_null(strstr(e->message, "hunter2"), "secret in \"%s\"", e->message);
		err_free(e);
		free(text);
		unlink(path);
		free(path);
	}
}
