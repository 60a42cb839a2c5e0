/* dmsctl.c — the command-line client: `dmsctl run IMAGE -- CMD` behaves like
 * `docker run` (live output, the job's exit code), plus start, wait, logs,
 * cancel, cleanup, ls and info. It talks to dms-host over D-Bus, or loads
 * the plugin in-process when no dms-host is running (ctl_backend.c).
 *
 * Why: people and scripts on a device need one tool that drives the same
 * executor the other services use, with the shape of the tool they know. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "ctl.h"
#include "json.h"
#include "util.h"

#define EXIT_EXECUTOR_FAILED 125 /* like docker run: the job never ran */
#define MAX_REQUEST_BYTES (16 * 1024 * 1024)

struct globals {
	struct ctl_options opts;
	bool json;
	char *config_owned;
};

/* `run` catches the first Ctrl-C (to cancel the job and still report its
 * end); everywhere else, and on a second Ctrl-C, dmsctl just exits. */
static volatile sig_atomic_t catch_interrupt;
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	if (!catch_interrupt || interrupted)
		_exit(130);
	interrupted = 1;
}

/* --- help ----------------------------------------------------------- */

static const struct {
	const char *name;
	const char *usage;
	const char *help;
} commands[] = {
    {"run",
     "run [--rm] [-e K=V]... [-w DIR] [--cpus N] [--memory SIZE] [--name ID] IMAGE [-- CMD...]",
     "Run a job in a container, stream its output live and exit with its exit code\n"
     "(125 when the executor could not start it). CMD is the container command as\n"
     "given (no shell is implied; use -- sh -c '...'). Ctrl-C cancels the job.\n"
     "  -e, --env K=V      environment variable (repeatable)\n"
     "  -w, --workdir DIR  working directory in the container\n"
     "      --cpus N       CPU cores (fractions allowed)\n"
     "  -m, --memory SIZE  memory limit: bytes or with k, m, g suffix (binary)\n"
     "      --name ID      execution id (default run-<time>-<random>)\n"
     "      --rm           accepted for docker compatibility: containers belong to\n"
     "                     the executor, which removes them (dmsctl cleanup)\n"},
    {"start", "start -f FILE [--name ID]",
     "Start the execution described by FILE (JSON, or YAML; '-' reads stdin) and\n"
     "print its execution id. --name sets the id when FILE has none.\n"},
    {"wait", "wait ID",
     "Wait for an execution to end; print a summary (or the result JSON with\n"
     "--json) and exit with the job's exit code.\n"},
    {"logs", "logs [-f] [--tail] [-n LINES] ID",
     "Print an execution's output (stdout to stdout, stderr to stderr).\n"
     "  -f, --follow   keep streaming until the job ends\n"
     "      --tail     only output produced from now on\n"
     "  -n, --lines N  only the last N lines\n"},
    {"cancel", "cancel ID",
     "Stop an execution (stop signal, then SIGKILL after the grace period).\n"},
    {"cleanup", "cleanup", "Remove every container, network and volume of this executor.\n"},
    {"ls", "ls", "List the executor's executions.\n"},
    {"info", "info",
     "Say whether the engine answers and print its fingerprint; exit 1 if it does not.\n"},
    {"image", "image import FILE [--ref REPO[:TAG]]",
     "Import a root filesystem tarball (plain or gzip, as `docker import` takes it;\n"
     "'-' reads stdin) as an image and print its id. dmsctl opens FILE and passes\n"
     "the open file to the executor: dms-host never opens a path a caller names.\n"
     "  -r, --ref REPO[:TAG]  the image's name (tag defaults to latest); default:\n"
     "                        FILE's base name without .tar/.tgz/.tar.gz, lower-cased\n"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: dmsctl [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
	           "Global options:\n"
	           "  --executor ID   executor to use (default \"default\"; created if missing)\n"
	           "  --config FILE   executor config (YAML) for creating it; default:\n"
	           "                  the file named by $DMS_EXECUTOR_CONFIG, if set\n"
	           "  --system        talk to dms-host on the system bus (default: session)\n"
	           "  --embedded      never use dms-host: load the plugin in-process\n"
	           "  --plugin PATH   plugin for embedded mode (default: next to this binary,\n"
	           "                  else " DMS_PLUGIN_INSTALL_PATH ")\n"
	           "  --json          machine-readable output\n"
	           "  -v, --verbose   say which backend is used\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n'dmsctl COMMAND --help' describes a command. Without a dms-host owning\n"
	           "org.dms.Executor on the bus, dmsctl runs the executor in-process.\n");
}

static int command_help(const char *name, FILE *f, int status)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			fprintf(f, "Usage: dmsctl %s\n\n%s", commands[i].usage, commands[i].help);
			return status;
		}
	}
	return status;
}

/* --- helpers -------------------------------------------------------- */

static void print_error(const char *what, const struct ctl_error *e)
{
	fprintf(stderr, "dmsctl: %s: %s: %s\n", what, e->name ? e->name : "error",
	        e->message ? e->message : "");
}

static char *new_execution_id(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)host_now_ns() ^ (uint32_t)getpid();
	return host_asprintf("run-%lld-%08x", (long long)time(NULL), r);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sink_std(void *ud, int stream, const char *data, size_t len)
{
	(void)ud;
	/* A closed stdout (dmsctl ... | head) is not our failure. */
	write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len);
	return 0;
}

/* Copies a framed log fd to stdout/stderr until EOF. On the first Ctrl-C
 * calls on_int(ud) once (run uses it to cancel the job). */
static int pump_logs(int fd, void (*on_int)(void *), void *ud)
{
	struct ctl_demux d;
	char buf[65536];
	bool int_handled = false;

	ctl_demux_init(&d);
	for (;;) {
		if (interrupted && !int_handled) {
			int_handled = true;
			if (on_int)
				on_int(ud);
			else
				return 130;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n == 0 ? 0 : -1;
		ctl_demux_feed(&d, buf, (size_t)n, sink_std, NULL);
	}
}

/* --- pull progress (run, start) ------------------------------------- */

/* What the PullProgress reports of one execution look like on stderr: a
 * bar redrawn in place on a terminal, one plain line per report else. */
struct progress_view {
	const char *execution_id;
	bool tty;
	bool drawn; /* a bar is on the current line */
};

static void human_bytes(char *buf, size_t n, uint64_t v)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", d, units[u]);
}

static void show_progress(void *ud, const char *execution_id, const char *image,
                          uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct progress_view *v = ud;
	char cur[32], tot[32];

	if (strcmp(execution_id, v->execution_id) != 0)
		return;
	human_bytes(cur, sizeof(cur), current_bytes);
	human_bytes(tot, sizeof(tot), total_bytes);
	if (!v->tty) {
		fprintf(stderr, "dmsctl: pulling %s: %llu/%llu bytes: %s\n", image,
		        (unsigned long long)current_bytes, (unsigned long long)total_bytes, status);
		return;
	}
	enum { WIDTH = 30 };
	char bar[WIDTH + 1];
	size_t fill = total_bytes ? (size_t)((double)current_bytes / (double)total_bytes * WIDTH) : 0;
	if (fill > WIDTH)
		fill = WIDTH;
	memset(bar, ' ', WIDTH);
	memset(bar, '=', fill);
	if (fill < WIDTH && fill > 0)
		bar[fill - 1] = '>';
	bar[WIDTH] = '\0';
	/* \r and erase-line: the bar is redrawn in place. */
	fprintf(stderr, "\r\033[K%s [%s] %s / %s %.40s", image, bar, cur, total_bytes ? tot : "?",
	        status);
	fflush(stderr);
	v->drawn = true;
}

static void progress_done(struct progress_view *v)
{
	if (v->drawn)
		fputc('\n', stderr);
	v->drawn = false;
}

/* Parses "512", "64k", "64m", "1g", "1.5g" (binary units). -1 when bad. */
static int64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1;

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'b':
	case 'B':
		end++;
		break;
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return -1;
	return (int64_t)(v * mult);
}

/* The exit status of a result, like docker: exit_code, 125 when none. */
static int result_exit_code(const struct host_json *res)
{
	double code = host_json_get_number(res, "exit_code", -1);

	if (code < 0 || code > 255)
		return EXIT_EXECUTOR_FAILED;
	return (int)code;
}

static void print_result_summary(const char *id, const struct host_json *res)
{
	const char *msg = host_json_get_string(res, "error_msg");

	fprintf(stderr, "%s: exit code %d", id, (int)host_json_get_number(res, "exit_code", -1));
	if (host_json_get_bool(res, "cancelled", false))
		fprintf(stderr, ", cancelled");
	if (host_json_get_bool(res, "oom_killed", false))
		fprintf(stderr, ", killed: out of memory");
	if (host_json_get_bool(res, "stdout_truncated", false) ||
	    host_json_get_bool(res, "stderr_truncated", false))
		fprintf(stderr, ", output truncated");
	fprintf(stderr, "\n");
	if (msg && *msg)
		fprintf(stderr, "%s: %s\n", id, msg);
}

static bool utf8_ok(const char *what, const char *s)
{
	if (dbus_validate_utf8(s, NULL))
		return true;
	fprintf(stderr, "dmsctl: %s is not valid UTF-8\n", what);
	return false;
}

static int open_backend(struct globals *g, struct ctl_backend **b)
{
	struct ctl_error err = {0};

	if (ctl_backend_open(&g->opts, b, &err) < 0) {
		print_error("cannot reach the executor", &err);
		ctl_error_clear(&err);
		return -1;
	}
	if (g->opts.verbose)
		fprintf(stderr, "dmsctl: using %s\n",
		        ctl_backend_embedded(*b) ? "the plugin in-process" : "dms-host on the bus");
	return 0;
}

/* Parses the subcommand's options. Returns -1 to continue, else an exit
 * status (help printed or a usage error). */
#define SUBCMD_HELP_OPT                                                                            \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* --- run ------------------------------------------------------------ */

struct run_state {
	struct ctl_backend *b;
	const char *id;
};

static void run_cancel(void *ud)
{
	struct run_state *s = ud;
	struct ctl_error err = {0};

	fprintf(stderr, "dmsctl: interrupted, cancelling %s\n", s->id);
	if (ctl_cancel(s->b, s->id, &err) < 0) {
		print_error("cancel", &err);
		ctl_error_clear(&err);
	}
}

static int cmd_run(struct globals *g, int argc, char **argv)
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
	struct host_buf env, req;
	const char *workdir = NULL, *name = NULL;
	double cpus = 0;
	int64_t memory = 0;
	int opt, status = EXIT_EXECUTOR_FAILED;

	host_buf_init(&env, 0);
	while ((opt = getopt_long(argc, argv, "+e:w:m:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'R':
			break;
		case 'e':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "dmsctl run: -e wants K=V, got \"%s\"\n", optarg);
				goto usage;
			}
			host_buf_puts(&env, env.len ? "," : "");
			host_buf_json_string(&env, optarg);
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'c': {
			char *end;
			cpus = strtod(optarg, &end);
			if (end == optarg || *end || cpus <= 0) {
				fprintf(stderr,
				        "dmsctl run: --cpus wants a number > 0, got \"%s\"\n",
				        optarg);
				goto usage;
			}
			break;
		}
		case 'm':
			memory = parse_size(optarg);
			if (memory <= 0) {
				fprintf(stderr,
				        "dmsctl run: --memory wants a size like 64m, got \"%s\"\n",
				        optarg);
				goto usage;
			}
			break;
		case 'N':
			name = optarg;
			break;
		case 'h':
			host_buf_free(&env);
			return command_help("run", stdout, 0);
		default:
			goto usage;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dmsctl run: IMAGE is required\n");
		goto usage;
	}
	const char *image = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	char *id = name ? host_strdup(name) : new_execution_id();

	host_buf_init(&req, 0);
	host_buf_puts(&req, "{\"job_id\":");
	host_buf_json_string(&req, id);
	host_buf_puts(&req, ",\"execution_id\":");
	host_buf_json_string(&req, id);
	host_buf_puts(&req, ",\"engine_spec\":{\"type\":\"docker\",\"params\":{\"image\":");
	host_buf_json_string(&req, image);
	if (optind < argc) {
		host_buf_puts(&req, ",\"cmd\":[");
		for (int i = optind; i < argc; i++) {
			host_buf_puts(&req, i > optind ? "," : "");
			host_buf_json_string(&req, argv[i]);
		}
		host_buf_puts(&req, "]");
	}
	if (env.len)
		host_buf_printf(&req, ",\"environment\":[%s]", env.data);
	if (workdir) {
		host_buf_puts(&req, ",\"working_directory\":");
		host_buf_json_string(&req, workdir);
	}
	host_buf_puts(&req, "}}");
	if (cpus > 0 || memory > 0) {
		host_buf_puts(&req, ",\"resources\":{");
		if (cpus > 0)
			host_buf_printf(&req, "\"cpu\":{\"cores\":%g}", cpus);
		if (memory > 0)
			host_buf_printf(&req, "%s\"memory\":{\"size\":%lld}", cpus > 0 ? "," : "",
			                (long long)memory);
		host_buf_puts(&req, "}");
	}
	host_buf_puts(&req, "}");
	host_buf_free(&env);

	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *result = NULL;
	bool streamed = false;
	if (!utf8_ok("the request", req.data) || open_backend(g, &b) < 0)
		goto out;
	struct progress_view pv = {.execution_id = id, .tty = isatty(STDERR_FILENO)};
	ctl_set_progress_handler(b, show_progress, &pv);
	int start_rc = ctl_start(b, req.data, &err);
	progress_done(&pv);
	ctl_set_progress_handler(b, NULL, NULL);
	if (start_rc < 0) {
		print_error("start", &err);
		goto out;
	}
	if (!g->json) {
		/* Live output: a follow stream that ends (EOF) when the job does. */
		struct host_buf lr;
		int fd = -1;
		host_buf_init(&lr, 0);
		host_buf_puts(&lr, "{\"execution_id\":");
		host_buf_json_string(&lr, id);
		host_buf_puts(&lr, ",\"follow\":true,\"format\":\"framed\"}");
		if (ctl_log_stream(b, lr.data, &fd, &err) < 0) {
			/* The output still comes, from the result, at the end. */
			print_error("logs", &err);
			ctl_error_clear(&err);
		} else {
			struct run_state rs = {.b = b, .id = id};
			catch_interrupt = 1;
			streamed = pump_logs(fd, run_cancel, &rs) == 0;
			close(fd);
		}
		host_buf_free(&lr);
	}
	if (ctl_wait(b, id, &result, &err) < 0) {
		print_error("wait", &err);
		goto out;
	}
	struct host_json *res = host_json_parse(result, strlen(result), NULL);
	status = result_exit_code(res);
	if (g->json) {
		printf("%s\n", result);
	} else {
		const struct host_json *o = host_json_get(res, "stdout");
		const struct host_json *e = host_json_get(res, "stderr");
		if (!streamed && o && o->type == HOST_JSON_STRING)
			sink_std(NULL, 1, o->string, o->string_len);
		if (!streamed && e && e->type == HOST_JSON_STRING)
			sink_std(NULL, 2, e->string, e->string_len);
		const char *msg = host_json_get_string(res, "error_msg");
		if (msg && *msg)
			fprintf(stderr, "dmsctl: %s: %s\n", id, msg);
	}
	host_json_free(res);
out:
	ctl_error_clear(&err);
	free(result);
	ctl_backend_close(b);
	host_buf_free(&req);
	free(id);
	return status;
usage:
	host_buf_free(&env);
	return command_help("run", stderr, 2);
}

/* --- start / wait / logs / cancel / cleanup / ls / info -------------- */

/* The execution id of a request: JSON is read (an id is inserted when it
 * has none), YAML is scanned for a top-level execution_id line (one is
 * prepended when missing). */
static char *request_with_id(const char *text, const char *name, char **id_out)
{
	struct host_json *doc = host_json_parse(text, strlen(text), NULL);

	if (doc) {
		const char *id = host_json_get_string(doc, "execution_id");
		char *out;
		if (id || doc->type != HOST_JSON_OBJECT) {
			*id_out = host_strdup(id ? id : "");
			host_json_free(doc);
			return host_strdup(text);
		}
		*id_out = name ? host_strdup(name) : new_execution_id();
		struct host_buf b;
		host_buf_init(&b, 0);
		host_buf_puts(&b, "{\"execution_id\":");
		host_buf_json_string(&b, *id_out);
		host_buf_puts(&b, doc->n_items ? "," : "");
		host_buf_puts(&b, strchr(text, '{') + 1);
		out = host_buf_steal(&b);
		host_json_free(doc);
		return out;
	}
	for (const char *line = text; line && *line;) {
		if (strncmp(line, "execution_id:", 13) == 0) {
			const char *v = line + 13, *end = strchr(line, '\n');
			if (!end)
				end = v + strlen(v);
			while (v < end && strchr(" \t\"'", *v))
				v++;
			while (end > v && strchr(" \t\r\"'", end[-1]))
				end--;
			*id_out = host_strndup(v, (size_t)(end - v));
			return host_strdup(text);
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	*id_out = name ? host_strdup(name) : new_execution_id();
	return host_asprintf("execution_id: \"%s\"\n%s", *id_out, text);
}

static int cmd_start(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"name", required_argument, NULL, 'N'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL, *name = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			file = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'h':
			return command_help("start", stdout, 0);
		default:
			return command_help("start", stderr, 2);
		}
	}
	if (!file || optind != argc)
		return command_help("start", stderr, 2);
	char *text =
	    host_read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, MAX_REQUEST_BYTES, NULL);
	if (!text) {
		fprintf(stderr, "dmsctl start: %s: %s\n", file, strerror(errno));
		return 1;
	}
	char *id = NULL, *req = request_with_id(text, name, &id);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	int status = 1;

	free(text);
	if (!utf8_ok(file, req) || open_backend(g, &b) < 0)
		goto out;
	struct progress_view pv = {.execution_id = id, .tty = isatty(STDERR_FILENO)};
	ctl_set_progress_handler(b, show_progress, &pv);
	int start_rc = ctl_start(b, req, &err);
	progress_done(&pv);
	ctl_set_progress_handler(b, NULL, NULL);
	if (start_rc < 0) {
		print_error("start", &err);
		goto out;
	}
	if (g->json) {
		struct host_buf o;
		host_buf_init(&o, 0);
		host_buf_puts(&o, "{\"execution_id\":");
		host_buf_json_string(&o, id);
		printf("%s}\n", o.data);
		host_buf_free(&o);
	} else {
		printf("%s\n", id);
	}
	status = 0;
out:
	ctl_error_clear(&err);
	ctl_backend_close(b);
	free(req);
	free(id);
	return status;
}

/* For the commands that take exactly one execution id. */
static const char *one_id(const char *cmd, int argc, char **argv, int *status)
{
	static const struct option longopts[] = {SUBCMD_HELP_OPT, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		*status = opt == 'h' ? command_help(cmd, stdout, 0) : command_help(cmd, stderr, 2);
		return NULL;
	}
	if (optind + 1 != argc) {
		*status = command_help(cmd, stderr, 2);
		return NULL;
	}
	return argv[optind];
}

static int cmd_wait(struct globals *g, int argc, char **argv)
{
	int status = 0;
	const char *id = one_id("wait", argc, argv, &status);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *result = NULL;

	if (!id)
		return status;
	status = EXIT_EXECUTOR_FAILED;
	if (open_backend(g, &b) < 0)
		return status;
	if (ctl_wait(b, id, &result, &err) < 0) {
		print_error("wait", &err);
	} else {
		struct host_json *res = host_json_parse(result, strlen(result), NULL);
		if (g->json)
			printf("%s\n", result);
		else
			print_result_summary(id, res);
		status = result_exit_code(res);
		host_json_free(res);
	}
	free(result);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

static int cmd_logs(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"tail", no_argument, NULL, 'T'},
	    {"lines", required_argument, NULL, 'n'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	bool follow = false, tail = false;
	long lines = -1;
	int opt, status = 1;

	while ((opt = getopt_long(argc, argv, "fn:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 'T':
			tail = true;
			break;
		case 'n': {
			char *end;
			lines = strtol(optarg, &end, 10);
			if (end == optarg || *end || lines < 0)
				return command_help("logs", stderr, 2);
			break;
		}
		case 'h':
			return command_help("logs", stdout, 0);
		default:
			return command_help("logs", stderr, 2);
		}
	}
	if (optind + 1 != argc)
		return command_help("logs", stderr, 2);

	struct host_buf req;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	int fd;

	host_buf_init(&req, 0);
	host_buf_puts(&req, "{\"execution_id\":");
	host_buf_json_string(&req, argv[optind]);
	host_buf_printf(&req, ",\"follow\":%s,\"tail\":%s", follow ? "true" : "false",
	                tail ? "true" : "false");
	if (lines >= 0)
		host_buf_printf(&req, ",\"lines\":%ld", lines);
	host_buf_puts(&req, ",\"format\":\"framed\"}");
	if (!utf8_ok("the execution id", req.data) || open_backend(g, &b) < 0)
		goto out;
	if (ctl_log_stream(b, req.data, &fd, &err) < 0) {
		print_error("logs", &err);
		goto out;
	}
	status = pump_logs(fd, NULL, NULL) == 0 ? 0 : 1;
	close(fd);
out:
	ctl_error_clear(&err);
	ctl_backend_close(b);
	host_buf_free(&req);
	return status;
}

static int cmd_cancel(struct globals *g, int argc, char **argv)
{
	int status = 0;
	const char *id = one_id("cancel", argc, argv, &status);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};

	if (!id)
		return status;
	if (!utf8_ok("the execution id", id) || open_backend(g, &b) < 0)
		return 1;
	status = 0;
	if (ctl_cancel(b, id, &err) < 0) {
		print_error("cancel", &err);
		status = 1;
	}
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

static int no_args(const char *cmd, int argc, char **argv, int *status)
{
	static const struct option longopts[] = {SUBCMD_HELP_OPT, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		*status = opt == 'h' ? command_help(cmd, stdout, 0) : command_help(cmd, stderr, 2);
		return -1;
	}
	if (optind != argc) {
		*status = command_help(cmd, stderr, 2);
		return -1;
	}
	return 0;
}

static int cmd_cleanup(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};

	if (no_args("cleanup", argc, argv, &status) < 0)
		return status;
	if (open_backend(g, &b) < 0)
		return 1;
	if (ctl_cleanup(b, &err) < 0) {
		print_error("cleanup", &err);
		status = 1;
	}
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

static int cmd_ls(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *list = NULL;

	if (no_args("ls", argc, argv, &status) < 0)
		return status;
	if (open_backend(g, &b) < 0)
		return 1;
	if (ctl_list(b, &list, &err) < 0) {
		print_error("ls", &err);
		status = 1;
	} else if (g->json) {
		printf("%s\n", list);
	} else {
		struct host_json *arr = host_json_parse(list, strlen(list), NULL);
		printf("%-32s %-24s %-10s %s\n", "EXECUTION ID", "JOB ID", "STATE", "CONTAINER");
		for (size_t i = 0; arr && arr->type == HOST_JSON_ARRAY && i < arr->n_items; i++) {
			const struct host_json *e = arr->items[i];
			const char *c = host_json_get_string(e, "container_id");
			printf("%-32s %-24s %-10s %.12s\n",
			       host_json_get_string(e, "execution_id") ?: "-",
			       host_json_get_string(e, "job_id") ?: "-",
			       host_json_get_string(e, "state") ?: "-", c ? c : "-");
		}
		host_json_free(arr);
	}
	free(list);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

static int cmd_info(struct globals *g, int argc, char **argv)
{
	int status = 0;
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *info = NULL;
	bool installed = false;

	if (no_args("info", argc, argv, &status) < 0)
		return status;
	if (open_backend(g, &b) < 0)
		return 1;
	if (ctl_is_installed(b, &installed, &info, &err) < 0) {
		print_error("info", &err);
		status = 1;
	} else {
		if (g->json) {
			printf("{\"installed\":%s,\"mode\":\"%s\",\"engine\":%s}\n",
			       installed ? "true" : "false",
			       ctl_backend_embedded(b) ? "embedded" : "bus", info);
		} else {
			struct host_json *j = host_json_parse(info, strlen(info), NULL);
			printf("installed: %s\nmode: %s\n", installed ? "yes" : "no",
			       ctl_backend_embedded(b) ? "embedded (plugin in-process)"
			                               : "dms-host on the bus");
			for (size_t i = 0; j && j->type == HOST_JSON_OBJECT && i < j->n_items;
			     i++) {
				const struct host_json *v = j->items[i];
				if (strcmp(j->keys[i], "installed") == 0)
					continue; /* said above */
				if (v->type == HOST_JSON_STRING)
					printf("%s: %s\n", j->keys[i], v->string);
				else if (v->type == HOST_JSON_BOOL)
					printf("%s: %s\n", j->keys[i],
					       v->boolean ? "true" : "false");
				else if (v->type == HOST_JSON_NUMBER)
					printf("%s: %g\n", j->keys[i], v->number);
			}
			host_json_free(j);
		}
		status = installed ? 0 : 1;
	}
	free(info);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

/* --- image ---------------------------------------------------------- */

/* "dir/Busybox-rootfs.tar.gz" -> "busybox-rootfs" (NULL if nothing is left
 * of it); the executor checks what it makes of it. */
static char *ref_from_file(const char *file)
{
	static const char *const exts[] = {".tar.gz", ".tar.xz", ".tar", ".tgz", ".gz"};
	const char *base = strrchr(file, '/');
	char *ref = host_strdup(base ? base + 1 : file);
	size_t n = strlen(ref);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcmp(ref + n - e, exts[i]) == 0) {
			ref[n - e] = '\0';
			break;
		}
	}
	for (char *c = ref; *c; c++)
		*c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
	if (!*ref) {
		free(ref);
		return NULL;
	}
	return ref;
}

static int cmd_image(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"ref", required_argument, NULL, 'r'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	const char *ref = NULL;
	int opt, status = 1;

	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return command_help("image", stdout, 0);
		fprintf(stderr, "dmsctl image: the only subcommand is import\n");
		return command_help("image", stderr, 2);
	}
	argc--;
	argv++;
	optind = 0; /* a full re-initialisation: main's getopt stopped at the command */
	while ((opt = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			ref = optarg;
			break;
		case 'h':
			return command_help("image", stdout, 0);
		default:
			return command_help("image", stderr, 2);
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "dmsctl image import: FILE is required\n");
		return command_help("image", stderr, 2);
	}
	const char *file = argv[optind];
	char *owned_ref = NULL;
	if (!ref && !(ref = owned_ref = ref_from_file(file))) {
		fprintf(stderr, "dmsctl image import: cannot name an image after \"%s\"; give --ref\n",
		        file);
		return 2;
	}
	int fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	char *id = NULL;

	if (fd < 0) {
		fprintf(stderr, "dmsctl image import: %s: %s\n", file, strerror(errno));
		free(owned_ref);
		return 1;
	}
	if (!utf8_ok("the reference", ref) || open_backend(g, &b) < 0)
		goto out;
	if (ctl_image_import(b, fd, ref, &id, &err) < 0) {
		print_error("image import", &err);
		goto out;
	}
	if (g->json) {
		struct host_buf o;
		host_buf_init(&o, 0);
		host_buf_puts(&o, "{\"image_id\":");
		host_buf_json_string(&o, id);
		host_buf_puts(&o, ",\"reference\":");
		host_buf_json_string(&o, ref);
		printf("%s}\n", o.data);
		host_buf_free(&o);
	} else {
		printf("%s\n", id);
	}
	status = 0;
out:
	close(fd);
	free(id);
	free(owned_ref);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}

/* --- main ----------------------------------------------------------- */

int main(int argc, char **argv)
{
	enum {
		OPT_EXECUTOR = 256,
		OPT_CONFIG,
		OPT_SYSTEM,
		OPT_SESSION,
		OPT_PLUGIN,
		OPT_JSON,
		OPT_EMBEDDED
	};
	static const struct option longopts[] = {
	    {"executor", required_argument, NULL, OPT_EXECUTOR},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"system", no_argument, NULL, OPT_SYSTEM},
	    {"session", no_argument, NULL, OPT_SESSION},
	    {"plugin", required_argument, NULL, OPT_PLUGIN},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"embedded", no_argument, NULL, OPT_EMBEDDED},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int (*fn)(struct globals *g, int argc, char **argv);
	} table[] = {
	    {"run", cmd_run},   {"start", cmd_start},   {"wait", cmd_wait},
	    {"logs", cmd_logs}, {"cancel", cmd_cancel}, {"cleanup", cmd_cleanup},
	    {"ls", cmd_ls},     {"info", cmd_info},     {"image", cmd_image},
	};
	struct globals g = {.opts = {.executor_id = "default"}};
	const char *config_file = getenv("DMS_EXECUTOR_CONFIG");
	int opt, status;

	host_set_progname("dmsctl");
	while ((opt = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_EXECUTOR:
			g.opts.executor_id = optarg;
			break;
		case OPT_CONFIG:
			config_file = optarg;
			break;
		case OPT_SYSTEM:
			g.opts.system_bus = true;
			break;
		case OPT_SESSION:
			g.opts.system_bus = false;
			break;
		case OPT_PLUGIN:
			g.opts.plugin_path = optarg;
			break;
		case OPT_JSON:
			g.json = true;
			break;
		case OPT_EMBEDDED:
			g.opts.embedded_only = true;
			break;
		case 'v':
			g.opts.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (config_file && *config_file) {
		g.config_owned = host_read_file(config_file, MAX_REQUEST_BYTES, NULL);
		if (!g.config_owned) {
			fprintf(stderr, "dmsctl: config %s: %s\n", config_file, strerror(errno));
			return 2;
		}
		if (!utf8_ok(config_file, g.config_owned))
			return 2;
		g.opts.config = g.config_owned;
	}
	if (!utf8_ok("the executor id", g.opts.executor_id))
		return 2;

	struct sigaction sa = {.sa_handler = on_interrupt};
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *cmd = argv[optind];
	char **sub_argv = argv + optind;
	int sub_argc = argc - optind;
	optind = 1; /* each command parses its own options */
	status = -1;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(cmd, table[i].name) == 0)
			status = table[i].fn(&g, sub_argc, sub_argv);
	if (status == -1) {
		if (strcmp(cmd, "help") == 0) {
			if (sub_argc > 1)
				status = command_help(sub_argv[1], stdout, 0);
			else
				usage(stdout), status = 0;
		} else {
			fprintf(stderr, "dmsctl: unknown command \"%s\"\n", cmd);
			usage(stderr);
			status = 2;
		}
	}
	free(g.config_owned);
	dbus_shutdown();
	return status;
}
