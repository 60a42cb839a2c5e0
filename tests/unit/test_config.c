/* test_config.c — unit tests of the executor config parser
 * (executor/config.c): defaults, every key, flow mappings, unknown keys and
 * bad values reported with key and line:column, and the duration and size
 * grammars. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
}

Test(config, null_and_empty_give_defaults)
{
	const char *texts[] = { NULL, "", "# only a comment\n", "~\n", "---\n", "{}" };

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
	                                 "stop_signal: INT\n");

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
	config_free(c);
}

Test(config, every_runtime)
{
	const char *names[] = { "docker", "podman", "swarm", "auto" };

	for (size_t i = 0; i < 4; i++) {
		char text[64];
		struct exec_config *c;

		snprintf(text, sizeof(text), "runtime: %s", names[i]);
		c = parse_ok(text);
		cr_assert_str_eq(c->runtime, names[i], "runtime = %s", c->runtime);
		config_free(c);
	}
}

Test(config, flow_mapping)
{
	struct exec_config *c = parse_ok("{runtime: swarm, stop_timeout: 3, output_limit: 512k}");

	cr_assert_str_eq(c->runtime, "swarm", "runtime = %s", c->runtime);
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
	const char *in[] = { "SIGKILL", "kill", "SIGusr1", "15" };
	const char *want[] = { "SIGKILL", "SIGKILL", "SIGUSR1", "15" };

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
		{ "runtime: docker\n\nbogus: 1\n", "unknown key 'bogus' at line 3 column 1", "" },
		{ "  stop_timeout: 1s\n  verbose: true\n", "unknown key 'verbose' at line 2 column 3",
		  "" },
		{ "{runtime: docker, colour: red}", "unknown key 'colour' at line 1 column 19", "" },
		{ "runtime: kubernetes\n", "runtime", "line 1 column 10" },
		{ "runtime: Docker\n", "runtime", "\"Docker\"" },
		{ "stop_timeout: soon\n", "stop_timeout", "line 1 column 15" },
		{ "stop_timeout: -5s\n", "stop_timeout", "\"-5s\"" },
		{ "retention: 10 parsecs\n", "retention", "line 1 column 12" },
		{ "output_limit: lots\n", "output_limit", "line 1 column 15" },
		{ "log_spool_limit: 1.5\n", "log_spool_limit", "line 1 column 18" },
		{ "stop_signal: SIGFOO\n", "stop_signal", "line 1 column 14" },
		{ "stop_signal: 99\n", "stop_signal", "" },
		{ "state_dir: relative/dir\n", "state_dir", "absolute" },
		{ "host: \"\"\n", "host", "empty" },
		{ "runtime:\n  name: docker\n", "runtime", "mapping" },
		{ "runtime: [docker]\n", "runtime", "sequence" },
		{ "- runtime\n", "mapping", "line 1 column 1" },
		{ "just a string\n", "mapping", "" },
		{ "runtime: docker\nruntime: podman\n", "duplicate key 'runtime'", "line 2 column 1" },
		{ "runtime: docker\n---\nruntime: podman\n", "one YAML document", "" },
		{ "runtime: [docker\n", "YAML", "line" },
		{ "? [a, b]\n: c\n", "keys must be", "line 1" },
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

struct duration_case {
	char in[24];
	long long want_ms;
};

ParameterizedTestParameters(config, durations)
{
	static struct duration_case cases[] = {
		{ "10s", 10000 },   { "250ms", 250 },     { "1.5m", 90000 },  { "1h", 3600000 },
		{ "10", 10000 },    { "0", 0 },           { "0.5", 500 },     { "1m30s", 90000 },
		{ "2h15m", 8100000 }, { "1d", 86400000 }, { "10 s", 10000 },  { " 5s ", 5000 },
		{ "1500us", 2 },    { "1S", 1000 },       { "", -1 },         { "s", -1 },
		{ "-1s", -1 },      { "1x", -1 },         { "1.2.3s", -1 },   { "abc", -1 },
		{ "1e3s", -1 },     { "0x10", -1 },       { "inf", -1 },      { "1s-", -1 },
		{ "99999999999999999999h", -1 },
	};
	return cr_make_param_array(struct duration_case, cases,
	                           sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct duration_case *dc, config, durations)
{
	int64_t got = config_parse_duration_ms(dc->in);

	cr_assert_eq(got, dc->want_ms, "config_parse_duration_ms(\"%s\") = %lld, want %lld", dc->in,
	             (long long)got, dc->want_ms);
}

struct size_case {
	char in[24];
	long long want;
};

ParameterizedTestParameters(config, sizes)
{
	static struct size_case cases[] = {
		{ "1MiB", 1048576 },  { "64MB", 64000000 }, { "512k", 524288 },
		{ "512KiB", 524288 }, { "512kB", 512000 },  { "1048576", 1048576 },
		{ "0", 0 },           { "1GiB", 1073741824 }, { "2g", 2147483648LL },
		{ "1.5MiB", 1572864 }, { "100b", 100 },     { "1 MiB", 1048576 },
		{ "1mib", 1048576 },  { "1TiB", 1099511627776LL },
		{ "", -1 },           { "MiB", -1 },        { "-1", -1 },
		{ "1.5", -1 },        { "1XB", -1 },        { "12 34", -1 },
		{ "1MiBs", -1 },      { "0x100", -1 },      { "99999999999TiB", -1 },
	};
	return cr_make_param_array(struct size_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *sc, config, sizes)
{
	int64_t got = config_parse_size(sc->in);

	cr_assert_eq(got, sc->want, "config_parse_size(\"%s\") = %lld, want %lld", sc->in,
	             (long long)got, sc->want);
}

Test(config, null_strings_are_errors)
{
	cr_assert_eq(config_parse_duration_ms(NULL), -1);
	cr_assert_eq(config_parse_size(NULL), -1);
}
