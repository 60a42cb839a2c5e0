/* ctl_run.c — `dmsctl run [FLAGS] IMAGE [CMD...]`, the command that
 * behaves like `docker run`: the request is built from docker run's flags
 * (ctl_run_flags.c), started, its output streamed live, and dmsctl exits
 * with the job's exit code (125 when the executor could not start it);
 * with -d it prints the execution id and leaves the job running. The
 * execution id is the executor's: --name's, else the one Start hands
 * back. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "ctl_run.h"
#include "jsonw.h"
#include "util.h"

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

/* Start, stream, wait, report: EXIT_EXECUTOR_FAILED until the job ran.
 * Detached: start and print the id, like docker run -d. */
static int run_job(struct globals *g, struct ctl_backend *b, const char *request,
                   const struct run_opts *o)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_free_ char *result = NULL;
	struct ctl_error err = {0};
	const char *name = o->name;
	bool streamed = false;
	int status = EXIT_EXECUTOR_FAILED;

	if (o->quiet) {
		if (ctl_start(b, request, &id, &err) < 0) {
			ctl_print_error("start", &err);
			ctl_error_clear(&err);
			return status;
		}
	} else if (ctl_start_showing_progress(b, request, name, &id) < 0) {
		return status;
	}
	if (!*id && name) {
		free(id);
		id = host_strdup(name);
	}
	if (!*id) {
		fprintf(stderr, "dmsctl: start: the executor did not say which execution it "
		                "started (a plugin older than ABI 1.2); give --name\n");
		return status;
	}
	if (o->detach) {
		ctl_print_id(g, "execution_id", id, NULL, NULL);
		return 0;
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
	int status = run_opts_parse(&o, argc, argv);

	if (status != -1) {
		run_opts_free(&o);
		return status;
	}
	_cleanup_free_ char *request = run_request_build(&o);
	status = EXIT_EXECUTOR_FAILED;
	if (!request)
		fprintf(stderr, "dmsctl: the request is not valid UTF-8\n");
	else if (ctl_open_backend(g, &b) == 0)
		status = run_job(g, b, request, &o);
	ctl_backend_close(b);
	run_opts_free(&o);
	return status;
}
