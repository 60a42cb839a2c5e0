/* ctl_live.c — dmsctl's live operations on running executions, shaped
 * like docker's: kill [-s SIGNAL] ID... (default SIGKILL), pause ID...,
 * resume ID..., stats [--no-stream] [--json] ID... (docker stats' table
 * columns) and inspect [--json] ID. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "util.h"

/* Opens the backend for a command on ids; -1 when it cannot (said). */
static int open_for(struct globals *g, char **ids, int n, struct ctl_backend **b)
{
	for (int i = 0; i < n; i++)
		if (!ctl_utf8_ok("the execution id", ids[i]))
			return -1;
	return ctl_open_backend(g, b);
}

/* The same call on every id, printing each id done (as docker does). */
static int each_id(struct globals *g, const char *cmd, enum ctl_live_op op, const char *arg,
                   char **ids, int n)
{
	struct ctl_backend *b = NULL;
	int status = 0;

	if (open_for(g, ids, n, &b) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		struct ctl_error err = {0};

		if (ctl_live(b, op, ids[i], arg, NULL, &err) < 0) {
			ctl_print_error(cmd, &err);
			status = 1;
		} else {
			printf("%s\n", ids[i]);
		}
		ctl_error_clear(&err);
	}
	ctl_backend_close(b);
	return status;
}

/* Options of a command taking IDs: -h, and the ones in `extra`. */
static int ids_only(const char *cmd, int argc, char **argv, int *status)
{
	static const struct option longopts[] = {SUBCMD_HELP_OPT, {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		*status = opt == 'h' ? ctl_command_help(cmd, stdout, 0)
		                     : ctl_command_help(cmd, stderr, 2);
		return -1;
	}
	if (optind >= argc) {
		*status = ctl_command_help(cmd, stderr, 2);
		return -1;
	}
	return 0;
}

int ctl_cmd_kill(struct globals *g, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"signal", required_argument, NULL, 's'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	const char *sig = "SIGKILL"; /* docker kill's default */
	int opt;

	while ((opt = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sig = optarg;
			break;
		case 'h':
			return ctl_command_help("kill", stdout, 0);
		default:
			return ctl_command_help("kill", stderr, 2);
		}
	}
	if (optind >= argc)
		return ctl_command_help("kill", stderr, 2);
	if (!ctl_utf8_ok("the signal", sig))
		return 2;
	return each_id(g, "kill", CTL_LIVE_SIGNAL, sig, argv + optind, argc - optind);
}

int ctl_cmd_pause(struct globals *g, int argc, char **argv)
{
	int status = 0;

	if (ids_only("pause", argc, argv, &status) < 0)
		return status;
	return each_id(g, "pause", CTL_LIVE_PAUSE, NULL, argv + optind, argc - optind);
}

int ctl_cmd_resume(struct globals *g, int argc, char **argv)
{
	int status = 0;

	if (ids_only("resume", argc, argv, &status) < 0)
		return status;
	return each_id(g, "resume", CTL_LIVE_RESUME, NULL, argv + optind, argc - optind);
}

/* --- stats ------------------------------------------------------------ */

/* docker's sizes: binary units for memory ("1.5MiB"), decimal for I/O
 * ("1.2kB"). */
static void human(char *out, size_t cap, double v, bool binary)
{
	static const char *const bin[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	static const char *const dec[] = {"B", "kB", "MB", "GB", "TB"};
	double base = binary ? 1024 : 1000;
	size_t u = 0;

	while (v >= base && u < 4) {
		v /= base;
		u++;
	}
	snprintf(out, cap, u ? "%.4g%s" : "%.0f%s", v, binary ? bin[u] : dec[u]);
}

#define STATS_HEADER                                                                               \
	"%-40s %-8s %-22s %-8s %-20s %-20s %s\n", "EXECUTION ID", "CPU %", "MEM USAGE / LIMIT",    \
	    "MEM %", "NET I/O", "BLOCK I/O", "PIDS"

/* One row of docker stats' table from a sample; false when it is not one. */
static bool stats_row(const char *json)
{
	struct host_json *j = host_json_parse(json, strlen(json), NULL);
	char mu[16], ml[16], nr[16], nt[16], br[16], bw[16], mem[40], net[40], blk[40], cpu[16],
	    memp[16];
	const char *id = host_json_get_string(j, "execution_id");

	if (!j || !id) {
		host_json_free(j);
		return false;
	}
	human(mu, sizeof(mu), host_json_get_number(j, "memory_usage_bytes", 0), true);
	human(ml, sizeof(ml), host_json_get_number(j, "memory_limit_bytes", 0), true);
	human(nr, sizeof(nr), host_json_get_number(j, "net_rx_bytes", 0), false);
	human(nt, sizeof(nt), host_json_get_number(j, "net_tx_bytes", 0), false);
	human(br, sizeof(br), host_json_get_number(j, "block_read_bytes", 0), false);
	human(bw, sizeof(bw), host_json_get_number(j, "block_write_bytes", 0), false);
	snprintf(mem, sizeof(mem), "%s / %s", mu, ml);
	snprintf(net, sizeof(net), "%s / %s", nr, nt);
	snprintf(blk, sizeof(blk), "%s / %s", br, bw);
	snprintf(cpu, sizeof(cpu), "%.2f%%", host_json_get_number(j, "cpu_percent", 0));
	snprintf(memp, sizeof(memp), "%.2f%%", host_json_get_number(j, "memory_percent", 0));
	printf("%-40s %-8s %-22s %-8s %-20s %-20s %.0f\n", id, cpu, mem, memp, net, blk,
	       host_json_get_number(j, "pids", 0));
	host_json_free(j);
	return true;
}

static void stats_print(const struct globals *g, bool json, const char *line)
{
	if (json || g->json)
		printf("%s\n", line);
	else if (!stats_row(line))
		fprintf(stderr, "dmsctl: stats: not a sample: %s\n", line);
	fflush(stdout);
}

/* Streams of every id, one row (or JSON line) per sample as they come,
 * until all of them ended or Ctrl-C. */
static int stats_follow(struct globals *g, bool json, struct ctl_backend *b, char **ids, int n)
{
	struct pollfd *pfd = host_calloc((size_t)n, sizeof(*pfd));
	struct host_buf *lines = host_calloc((size_t)n, sizeof(*lines));
	int open = 0, status = 0;

	for (int i = 0; i < n; i++) {
		struct ctl_error err = {0};

		pfd[i].fd = -1;
		host_buf_init(&lines[i], 0);
		if (ctl_stats_stream(b, ids[i], &pfd[i].fd, &err) < 0) {
			ctl_print_error("stats", &err);
			status = 1;
		} else {
			pfd[i].events = POLLIN;
			open++;
		}
		ctl_error_clear(&err);
	}
	if (open && !json && !g->json)
		printf(STATS_HEADER);
	while (open > 0 && !ctl_interrupted) {
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			char buf[4096];
			ssize_t got;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
				continue;
			}
			host_buf_append(&lines[i], buf, (size_t)got);
			char *nl;
			while ((nl = memchr(lines[i].data, '\n', lines[i].len))) {
				*nl = '\0';
				stats_print(g, json, lines[i].data);
				size_t used = (size_t)(nl - lines[i].data) + 1;
				memmove(lines[i].data, nl + 1, lines[i].len - used);
				lines[i].len -= used;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
		host_buf_free(&lines[i]);
	}
	free(pfd);
	free(lines);
	return ctl_interrupted ? 130 : status;
}

int ctl_cmd_stats(struct globals *g, int argc, char **argv)
{
	enum { OPT_NO_STREAM = 256, OPT_JSON };
	static const struct option longopts[] = {
	    {"no-stream", no_argument, NULL, OPT_NO_STREAM},
	    {"json", no_argument, NULL, OPT_JSON},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	bool no_stream = false, json = false;
	struct ctl_backend *b = NULL;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_NO_STREAM:
			no_stream = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			return ctl_command_help("stats", stdout, 0);
		default:
			return ctl_command_help("stats", stderr, 2);
		}
	}
	if (optind >= argc)
		return ctl_command_help("stats", stderr, 2);
	char **ids = argv + optind;
	int n = argc - optind;
	if (open_for(g, ids, n, &b) < 0)
		return 1;
	if (!no_stream) {
		ctl_catch_interrupt = 1;
		status = stats_follow(g, json, b, ids, n);
		ctl_backend_close(b);
		return status;
	}
	bool header = false;
	for (int i = 0; i < n; i++) {
		struct ctl_error err = {0};
		char *sample = NULL;

		if (ctl_live(b, CTL_LIVE_STATS, ids[i], NULL, &sample, &err) < 0) {
			ctl_print_error("stats", &err);
			status = 1;
		} else {
			if (!header && !json && !g->json)
				printf(STATS_HEADER);
			header = true;
			stats_print(g, json, sample);
		}
		free(sample);
		ctl_error_clear(&err);
	}
	ctl_backend_close(b);
	return status;
}

/* --- inspect ---------------------------------------------------------- */

static void inspect_summary(const char *json)
{
	struct host_json *j = host_json_parse(json, strlen(json), NULL);
	static const char *const fields[][2] = {
	    {"execution_id", "Execution"}, {"state", "State"},          {"runtime", "Runtime"},
	    {"container_id", "Container"}, {"image", "Image"},          {"image_id", "Image ID"},
	    {"started_at", "Started"},     {"finished_at", "Finished"},
	};
	const struct host_json *v;

	if (!j) {
		printf("%s\n", json);
		return;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *s = host_json_get_string(j, fields[i][0]);
		printf("%-10s %s\n", fields[i][1], s ? s : "-");
	}
	v = host_json_get(j, "exit_code");
	if (v && v->type == HOST_JSON_NUMBER)
		printf("%-10s %.0f\n", "Exit code", v->number);
	else
		printf("%-10s -\n", "Exit code");
	v = host_json_get(j, "ports");
	for (size_t i = 0; v && v->type == HOST_JSON_OBJECT && i < v->n_items; i++)
		for (size_t k = 0; v->items[i]->type == HOST_JSON_ARRAY && k < v->items[i]->n_items;
		     k++)
			printf("%-10s %s -> %s\n", "Port", v->keys[i],
			       v->items[i]->items[k]->string ? v->items[i]->items[k]->string : "");
	v = host_json_get(j, "networks");
	for (size_t i = 0; v && v->type == HOST_JSON_OBJECT && i < v->n_items; i++) {
		const char *ip = host_json_get_string(v->items[i], "ip_address");
		printf("%-10s %s %s\n", "Network", v->keys[i], ip ? ip : "-");
	}
	host_json_free(j);
}

int ctl_cmd_inspect(struct globals *g, int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	bool json = g->json;
	char *doc = NULL;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			return ctl_command_help("inspect", stdout, 0);
		default:
			return ctl_command_help("inspect", stderr, 2);
		}
	}
	if (optind + 1 != argc)
		return ctl_command_help("inspect", stderr, 2);
	if (open_for(g, argv + optind, 1, &b) < 0)
		return 1;
	if (ctl_live(b, CTL_LIVE_INSPECT, argv[optind], NULL, &doc, &err) < 0) {
		ctl_print_error("inspect", &err);
		status = 1;
	} else if (json) {
		printf("%s\n", doc);
	} else {
		inspect_summary(doc);
	}
	free(doc);
	ctl_error_clear(&err);
	ctl_backend_close(b);
	return status;
}
