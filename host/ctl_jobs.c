/* ctl_jobs.c — dmsctl's commands on one execution: start (a request file
 * as it is: dmsctl neither reads nor rewrites it), wait, logs and cancel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "jsonw.h"
#include "util.h"

int ctl_cmd_start(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			return ctl_command_help("start", stdout, 0);
		default:
			return ctl_command_help("start", stderr, 2);
		}
	}
	if (!file || optind != argc)
		return ctl_command_help("start", stderr, 2);
	_cleanup_free_ char *req =
	    host_read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, MAX_REQUEST_BYTES, NULL);
	if (!req) {
		fprintf(stderr, "dmsctl start: %s: %s\n", file, strerror(errno));
		return 1;
	}
	_cleanup_free_ char *id = NULL;
	struct ctl_backend *b = NULL;
	int status = 1;

	if (!ctl_utf8_ok(file, req) || ctl_open_backend(g, &b) < 0)
		goto out;
	if (ctl_start_showing_progress(b, req, NULL, &id) < 0)
		goto out;
	ctl_print_id(g, "execution_id", id, NULL, NULL);
	status = 0;
out:
	ctl_backend_close(b);
	return status;
}

int ctl_cmd_wait(struct globals *g, int argc, char **argv)
{
	int status = 0;
	const char *id = ctl_one_id("wait", argc, argv, &status);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *result = NULL;

	if (!id)
		return status;
	status = EXIT_EXECUTOR_FAILED;
	if (ctl_open_backend(g, &b) < 0)
		return status;
	if (ctl_wait(b, id, &result, &err) < 0) {
		ctl_print_error("wait", &err);
	} else {
		struct host_json *res = host_json_parse(result, strlen(result), NULL);
		if (g->json)
			printf("%s\n", result);
		else
			ctl_print_result_summary(id, res);
		status = ctl_result_exit_code(res);
		host_json_free(res);
	}
	free(result);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

/* The log request (docs/schema.md); NULL when id is not valid UTF-8. */
static char *log_request(const char *id, bool follow, bool tail, long lines, bool timestamps)
{
	struct jw w;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_str(&w, "execution_id", id);
	jw_key_bool(&w, "follow", follow);
	jw_key_bool(&w, "tail", tail);
	if (lines >= 0)
		jw_key_int(&w, "lines", lines);
	if (timestamps)
		jw_key_bool(&w, "timestamps", true);
	jw_key_str(&w, "format", "framed");
	jw_map_close(&w);
	return jw_steal(&w);
}

int ctl_cmd_logs(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"tail", no_argument, NULL, 'T'},
	    {"lines", required_argument, NULL, 'n'},
	    {"timestamps", no_argument, NULL, 't'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	bool follow = false, tail = false, timestamps = false;
	long lines = -1;
	int opt, status = 1;

	while ((opt = getopt_long(argc, argv, "fn:th", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 't':
			timestamps = true;
			break;
		case 'T':
			tail = true;
			break;
		case 'n': {
			char *end;
			lines = strtol(optarg, &end, 10);
			if (end == optarg || *end || lines < 0)
				return ctl_command_help("logs", stderr, 2);
			break;
		}
		case 'h':
			return ctl_command_help("logs", stdout, 0);
		default:
			return ctl_command_help("logs", stderr, 2);
		}
	}
	if (optind + 1 != argc)
		return ctl_command_help("logs", stderr, 2);

	_cleanup_free_ char *req = log_request(argv[optind], follow, tail, lines, timestamps);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	int fd;

	if (!req) {
		fprintf(stderr, "dmsctl: the execution id is not valid UTF-8\n");
		return 1;
	}
	if (ctl_open_backend(g, &b) < 0)
		return 1;
	if (ctl_log_stream(b, req, &fd, &err) < 0) {
		ctl_print_error("logs", &err);
	} else {
		status = ctl_pump_logs(fd, NULL, NULL) == 0 ? 0 : 1;
		close(fd);
	}
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

int ctl_cmd_cancel(struct globals *g, int argc, char **argv)
{
	int status = 0;
	const char *id = ctl_one_id("cancel", argc, argv, &status);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};

	if (!id)
		return status;
	if (!ctl_utf8_ok("the execution id", id) || ctl_open_backend(g, &b) < 0)
		return 1;
	status = 0;
	if (ctl_cancel(b, id, &err) < 0) {
		ctl_print_error("cancel", &err);
		status = 1;
	}
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}
