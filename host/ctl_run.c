/* ctl_run.c — `dmsctl run IMAGE [-- CMD...]`, the command that behaves
 * like `docker run`: the request is built from the flags, started, its
 * output streamed live, and dmsctl exits with the job's exit code (125
 * when the executor could not start it). The execution id is the
 * executor's: --name's, else the one Start hands back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "jsonw.h"
#include "strv.h"
#include "units.h"
#include "util.h"

/* What the flags ask for. */
struct run_opts {
	strv env; /* "K=V" */
	size_t n_env;
	const char *workdir;
	const char *name;
	const char *image;
	char **cmd; /* argv's tail, NULL-terminated; empty: the image's */
	double cpus;
	int64_t memory;
};

static void run_opts_free(struct run_opts *o)
{
	strv_free(o->env);
}

static int usage_error(void)
{
	return ctl_command_help("run", stderr, 2);
}

/* Returns -1 to go on, else the exit status (help or a usage error). */
static int parse_options(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
	    {"rm", no_argument, NULL, 'R'},
	    {"env", required_argument, NULL, 'e'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"memory", required_argument, NULL, 'm'},
	    {"name", required_argument, NULL, 'N'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+e:w:m:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'R':
			break;
		case 'e':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "dmsctl run: -e wants K=V, got \"%s\"\n", optarg);
				return usage_error();
			}
			strv_push(&o->env, &o->n_env, host_strdup(optarg));
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'c': {
			char *end;
			o->cpus = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(o->cpus) || o->cpus <= 0) {
				fprintf(stderr,
				        "dmsctl run: --cpus wants a number > 0, got \"%s\"\n",
				        optarg);
				return usage_error();
			}
			break;
		}
		case 'm':
			/* The request's and the config's reading of a size
			 * (docs/config.md, "Units"): 64m is 64 MiB, 64MB 64e6. */
			o->memory = units_parse_size(optarg);
			if (o->memory <= 0) {
				fprintf(stderr,
				        "dmsctl run: --memory wants a size like 64m, got \"%s\"\n",
				        optarg);
				return usage_error();
			}
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'h':
			return ctl_command_help("run", stdout, 0);
		default:
			return usage_error();
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dmsctl run: IMAGE is required\n");
		return usage_error();
	}
	o->image = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	o->cmd = argv + optind;
	return -1;
}

/* The request (docs/schema.md); NULL when a string is not valid UTF-8.
 * No execution id unless --name gives one: the executor names it. */
static char *build_request(const struct run_opts *o)
{
	struct jw w;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_str(&w, "job_id", o->name ? o->name : "dmsctl-run");
	jw_key_str(&w, "execution_id", o->name);
	jw_key(&w, "engine_spec");
	jw_map_open(&w);
	jw_key_str(&w, "type", "docker");
	jw_key(&w, "params");
	jw_map_open(&w);
	jw_key_str(&w, "image", o->image);
	if (o->cmd[0])
		jw_key_strv(&w, "cmd", o->cmd);
	jw_key_strv(&w, "environment", o->env);
	jw_key_str(&w, "working_directory", o->workdir);
	jw_map_close(&w);
	jw_map_close(&w);
	if (o->cpus > 0 || o->memory > 0) {
		jw_key(&w, "resources");
		jw_map_open(&w);
		if (o->cpus > 0) {
			jw_key(&w, "cpu");
			jw_map_open(&w);
			jw_key(&w, "cores");
			jw_double(&w, o->cpus);
			jw_map_close(&w);
		}
		if (o->memory > 0) {
			jw_key(&w, "memory");
			jw_map_open(&w);
			jw_key_int(&w, "size", o->memory);
			jw_map_close(&w);
		}
		jw_map_close(&w);
	}
	jw_map_close(&w);
	return jw_steal(&w);
}

struct run_state {
	struct ctl_backend *b;
	const char *id;
};

static void cancel_on_interrupt(void *ud)
{
	struct run_state *s = ud;
	struct ctl_error err = {0};

	fprintf(stderr, "dmsctl: interrupted, cancelling %s\n", s->id);
	if (ctl_cancel(s->b, s->id, &err) < 0) {
		ctl_print_error("cancel", &err);
		ctl_error_clear(&err);
	}
}

/* Live output: a follow stream that ends (EOF) when the job does. true
 * when the whole output went out this way. */
static bool stream_output(struct ctl_backend *b, const char *id)
{
	struct ctl_error err = {0};
	struct jw w;
	int fd = -1;
	bool streamed = false;

	if (jw_init(&w) != 0)
		return false;
	jw_map_open(&w);
	jw_key_str(&w, "execution_id", id);
	jw_key_bool(&w, "follow", true);
	jw_key_str(&w, "format", "framed");
	jw_map_close(&w);
	_cleanup_free_ char *req = jw_steal(&w);
	if (!req)
		return false;
	if (ctl_log_stream(b, req, &fd, &err) < 0) {
		/* The output still comes, from the result, at the end. */
		ctl_print_error("logs", &err);
		ctl_error_clear(&err);
		return false;
	}
	struct run_state rs = {.b = b, .id = id};
	ctl_catch_interrupt = 1;
	streamed = ctl_pump_logs(fd, cancel_on_interrupt, &rs) == 0;
	close(fd);
	return streamed;
}

/* Prints the result (what was not streamed of it) and returns the job's
 * exit status. */
static int report(const struct globals *g, const char *id, const char *result, bool streamed)
{
	struct host_json *res = host_json_parse(result, strlen(result), NULL);
	int status = ctl_result_exit_code(res);

	if (g->json) {
		printf("%s\n", result);
	} else {
		const struct host_json *o = host_json_get(res, "stdout");
		const struct host_json *e = host_json_get(res, "stderr");
		if (!streamed && o && o->type == HOST_JSON_STRING)
			ctl_sink_std(NULL, 1, o->string, o->string_len);
		if (!streamed && e && e->type == HOST_JSON_STRING)
			ctl_sink_std(NULL, 2, e->string, e->string_len);
		const char *msg = host_json_get_string(res, "error_msg");
		if (msg && *msg)
			fprintf(stderr, "dmsctl: %s: %s\n", id, msg);
	}
	host_json_free(res);
	return status;
}

/* Start, stream, wait, report: EXIT_EXECUTOR_FAILED until the job ran. */
static int run_job(struct globals *g, struct ctl_backend *b, const char *request, const char *name)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_free_ char *result = NULL;
	struct ctl_error err = {0};
	bool streamed = false;
	int status = EXIT_EXECUTOR_FAILED;

	if (ctl_start_showing_progress(b, request, name, &id) < 0)
		return status;
	if (!*id && name) {
		free(id);
		id = host_strdup(name);
	}
	if (!*id) {
		fprintf(stderr, "dmsctl: start: the executor did not say which execution it "
		                "started (a plugin older than ABI 1.2); give --name\n");
		return status;
	}
	if (!g->json)
		streamed = stream_output(b, id);
	if (ctl_wait(b, id, &result, &err) < 0) {
		ctl_print_error("wait", &err);
		ctl_error_clear(&err);
		return status;
	}
	return report(g, id, result, streamed);
}

int ctl_cmd_run(struct globals *g, int argc, char **argv)
{
	struct run_opts o = {0};
	struct ctl_backend *b = NULL;
	int status = parse_options(argc, argv, &o);

	if (status != -1) {
		run_opts_free(&o);
		return status;
	}
	_cleanup_free_ char *request = build_request(&o);
	status = EXIT_EXECUTOR_FAILED;
	if (!request)
		fprintf(stderr, "dmsctl: the request is not valid UTF-8\n");
	else if (ctl_open_backend(g, &b) == 0)
		status = run_job(g, b, request, o.name);
	ctl_backend_close(b);
	run_opts_free(&o);
	return status;
}
