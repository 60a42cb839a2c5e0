/* ctl_common.c — what dmsctl's commands share (ctl_cmd.h): errors, argument
 * checks, copying a log stream to stdout/stderr, the pull progress view
 * and result summaries. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "ctl_cmd.h"
#include "cleanup.h"
#include "fdio.h"
#include "jsonw.h"

volatile sig_atomic_t ctl_catch_interrupt;
volatile sig_atomic_t ctl_interrupted;

void ctl_on_interrupt(int sig)
{
	(void)sig;
	if (!ctl_catch_interrupt || ctl_interrupted)
		_exit(130);
	ctl_interrupted = 1;
}

void ctl_print_error(const char *what, const struct ctl_error *e)
{
	fprintf(stderr, "dmsctl: %s: %s: %s\n", what, e->name ? e->name : "error",
	        e->message ? e->message : "");
}

bool ctl_utf8_ok(const char *what, const char *s)
{
	if (dbus_validate_utf8(s, NULL))
		return true;
	fprintf(stderr, "dmsctl: %s is not valid UTF-8\n", what);
	return false;
}

int ctl_open_backend(struct globals *g, struct ctl_backend **b)
{
	struct ctl_error err = {0};

	if (ctl_backend_open(&g->opts, b, &err) < 0) {
		ctl_print_error("cannot reach the executor", &err);
		ctl_error_clear(&err);
		return -1;
	}
	if (g->opts.verbose)
		fprintf(stderr, "dmsctl: using %s\n",
		        ctl_backend_embedded(*b) ? "the plugin in-process" : "dms-host on the bus");
	return 0;
}

const char *ctl_one_id(const char *cmd, int argc, char **argv, int *status)
{
	static const struct option longopts[] = {SUBCMD_HELP_OPT, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		*status = opt == 'h' ? ctl_command_help(cmd, stdout, 0)
		                     : ctl_command_help(cmd, stderr, 2);
		return NULL;
	}
	if (optind + 1 != argc) {
		*status = ctl_command_help(cmd, stderr, 2);
		return NULL;
	}
	return argv[optind];
}

int ctl_no_args(const char *cmd, int argc, char **argv, int *status)
{
	static const struct option longopts[] = {SUBCMD_HELP_OPT, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		*status = opt == 'h' ? ctl_command_help(cmd, stdout, 0)
		                     : ctl_command_help(cmd, stderr, 2);
		return -1;
	}
	if (optind != argc) {
		*status = ctl_command_help(cmd, stderr, 2);
		return -1;
	}
	return 0;
}

/* --- output streams ------------------------------------------------- */

int ctl_sink_std(void *ud, int stream, const char *data, size_t len)
{
	(void)ud;
	/* A closed stdout (dmsctl ... | head) is not our failure. */
	(void)write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len);
	return 0;
}

int ctl_pump_logs(int fd, void (*on_int)(void *), void *ud)
{
	struct ctl_demux d;
	char buf[65536];
	bool int_handled = false;

	ctl_demux_init(&d);
	for (;;) {
		if (ctl_interrupted && !int_handled) {
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
		ctl_demux_feed(&d, buf, (size_t)n, ctl_sink_std, NULL);
	}
}

/* --- pull progress -------------------------------------------------- */

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

void ctl_show_progress(void *ud, const char *execution_id, const char *image,
                       uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct ctl_progress_view *v = ud;
	char cur[32], tot[32];

	if (v->execution_id && strcmp(execution_id, v->execution_id) != 0)
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
	size_t fill =
	    total_bytes ? (size_t)((double)current_bytes / (double)total_bytes * WIDTH) : 0;
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

void ctl_progress_done(struct ctl_progress_view *v)
{
	if (v->drawn)
		fputc('\n', stderr);
	v->drawn = false;
}

int ctl_start_showing_progress(struct ctl_backend *b, const char *request, const char *known_id,
                               char **execution_id)
{
	struct ctl_progress_view pv = {.execution_id = known_id, .tty = isatty(STDERR_FILENO)};
	struct ctl_error err = {0};
	int rc;

	ctl_set_progress_handler(b, ctl_show_progress, &pv);
	rc = ctl_start(b, request, execution_id, &err);
	ctl_progress_done(&pv);
	ctl_set_progress_handler(b, NULL, NULL);
	if (rc < 0)
		ctl_print_error("start", &err);
	ctl_error_clear(&err);
	return rc;
}

/* --- results -------------------------------------------------------- */

void ctl_print_id(const struct globals *g, const char *key, const char *id, const char *key2,
                  const char *value2)
{
	struct jw w;

	if (!g->json) {
		printf("%s\n", id);
		return;
	}
	if (jw_init(&w) != 0)
		return;
	jw_map_open(&w);
	jw_key_str(&w, key, id);
	if (value2)
		jw_key_str(&w, key2, value2);
	jw_map_close(&w);
	_cleanup_free_ char *out = jw_steal(&w);
	printf("%s\n", out ? out : "{}");
}

int ctl_result_exit_code(const struct host_json *res)
{
	double code = host_json_get_number(res, "exit_code", -1);

	if (code < 0 || code > 255)
		return EXIT_EXECUTOR_FAILED;
	return (int)code;
}

void ctl_print_result_summary(const char *id, const struct host_json *res)
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
