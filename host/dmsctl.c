/* dmsctl.c — the command-line client: `dmsctl run IMAGE -- CMD` behaves like
 * `docker run` (live output, the job's exit code), plus start, wait, logs,
 * cancel, cleanup, ls and info. It talks to dms-host over D-Bus, or loads
 * the plugin in-process when no dms-host is running (ctl_backend.c). This
 * file holds the global options, the help and the dispatch; the commands
 * are in ctl_run.c, ctl_jobs.c, ctl_executor.c and ctl_images.c.
 *
 * Why: people and scripts on a device need one tool that drives the same
 * executor the other services use, with the shape of the tool they know. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "ctl_cmd.h"
#include "ctl_run.h"
#include "util.h"

/* --- help ----------------------------------------------------------- */

static const struct {
	const char *name;
	const char *usage;
	const char *help;
} commands[] = {
    {"run", "run [FLAGS] IMAGE [CMD...]",
     "Run a job in a container, stream its output live and exit with its exit code\n"
     "(125 when the executor could not start it, 2 for a bad flag). The flags are\n"
     "docker run's (--flag=value or --flag value; repeated flags add up); each fills\n"
     "the request field after its arrow (docs/schema.md). CMD is the container\n"
     "command as given (no shell is implied; use sh -c '...'); flags end at IMAGE\n"
     "or at --. Ctrl-C cancels the job.\n"},
    {"start", "start -f FILE",
     "Start the execution described by FILE (JSON, or YAML; '-' reads stdin) and\n"
     "print its execution id (FILE's, else the one the executor gave it).\n"},
    {"wait", "wait ID",
     "Wait for an execution to end; print a summary (or the result JSON with\n"
     "--json) and exit with the job's exit code.\n"},
    {"logs", "logs [-f] [-t] [--tail] [-n LINES] ID",
     "Print an execution's output (stdout to stdout, stderr to stderr).\n"
     "  -f, --follow      keep streaming until the job ends\n"
     "      --tail        only output produced from now on\n"
     "  -n, --lines N     only the last N lines\n"
     "  -t, --timestamps  start each line with the time the engine logged it, as\n"
     "                    docker logs -t (RFC 3339, UTC, 9 digits; Podman gives\n"
     "                    whole seconds); not for a job with a TTY\n"},
    {"cancel", "cancel ID",
     "Stop an execution (stop signal, then SIGKILL after the grace period).\n"},
    {"cleanup", "cleanup", "Remove every container, network and volume of this executor.\n"},
    {"ls", "ls", "List the executor's executions.\n"},
    {"ps", "ps", "The same as ls (docker's name).\n"},
    {"info", "info",
     "Say whether the engine answers and print its fingerprint; exit 1 if it does not.\n"},
    {"image", "image import FILE [--ref REPO[:TAG]]",
     "Import a root filesystem tarball (plain or gzip, as `docker import` takes it;\n"
     "'-' reads stdin) as an image and print its id. dmsctl opens FILE and passes\n"
     "the open file to the executor: dms-host never opens a path a caller names.\n"
     "  -r, --ref REPO[:TAG]  the image's name (tag defaults to latest); default:\n"
     "                        FILE's base name without .tar/.tgz/.tar.gz, lower-cased\n"},
    {"metrics", "metrics",
     "Print dms-host's metrics in the Prometheus text format (jobs, durations,\n"
     "pulls, errors, log streams, waiters; docs/metrics.md). Needs a dms-host on\n"
     "the bus: there are none in embedded mode.\n"},
    {"kill", "kill [-s SIGNAL] ID...",
     "Send a signal to each execution's main process and print its id.\n"
     "  -s, --signal SIGNAL  name (KILL, SIGUSR1, USR1) or number; default SIGKILL\n"},
    {"pause", "pause ID...",
     "Freeze each execution (cgroup freezer): state paused. Its timeout keeps running.\n"},
    {"resume", "resume ID...", "Thaw each paused execution: state running again.\n"},
    {"exec", "exec [-i] [-t] [-e K=V]... [-u USER] [-w DIR] ID [--] CMD...",
     "Run CMD inside a running execution, like docker exec: its output on stdout\n"
     "and stderr, and dmsctl's exit status is the command's (125: it could not\n"
     "be started). Ctrl-C (without -t) ends the command.\n"
     "  -i, --interactive  pass dmsctl's stdin to the command (EOF ends it)\n"
     "  -t, --tty          a terminal: one raw stream; the local terminal goes\n"
     "                     raw and its size follows (SIGWINCH)\n"
     "  -e, --env K=V      an environment variable for the command; repeatable\n"
     "  -u, --user USER    run it as USER (name, uid, uid:gid)\n"
     "  -w, --workdir DIR  its working directory (absolute)\n"},
    {"stats", "stats [--no-stream] [--json] ID...",
     "Show each execution's resource use like docker stats: CPU %, memory usage /\n"
     "limit, memory %, network and block I/O, pids; a row per sample about once a\n"
     "second until the executions end or Ctrl-C.\n"
     "      --no-stream  one sample each, then exit\n"
     "      --json       the samples as JSON, one per line (docs/schema.md, Stats)\n"},
    {"inspect", "inspect [--json] ID",
     "Show an execution: state, container, image and image id, times, exit code,\n"
     "the published ports (host ip:port per container port) and the address on\n"
     "each network.\n"
     "      --json  the inspect document (docs/schema.md, Inspect)\n"},
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

int ctl_command_help(const char *name, FILE *f, int status)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			fprintf(f, "Usage: dmsctl %s\n\n%s", commands[i].usage, commands[i].help);
			if (strcmp(name, "run") == 0)
				run_flags_help(f);
			return status;
		}
	}
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
	    {"run", ctl_cmd_run},         {"start", ctl_cmd_start},   {"wait", ctl_cmd_wait},
	    {"logs", ctl_cmd_logs},       {"cancel", ctl_cmd_cancel}, {"cleanup", ctl_cmd_cleanup},
	    {"ls", ctl_cmd_ls},           {"info", ctl_cmd_info},     {"image", ctl_cmd_image},
	    {"metrics", ctl_cmd_metrics}, {"kill", ctl_cmd_kill},     {"pause", ctl_cmd_pause},
	    {"resume", ctl_cmd_resume},   {"stats", ctl_cmd_stats},   {"inspect", ctl_cmd_inspect},
	    {"exec", ctl_cmd_exec},       {"ps", ctl_cmd_ls},
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
		if (!ctl_utf8_ok(config_file, g.config_owned))
			return 2;
		g.opts.config = g.config_owned;
	}
	if (!ctl_utf8_ok("the executor id", g.opts.executor_id))
		return 2;

	struct sigaction sa = {.sa_handler = ctl_on_interrupt};
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
				status = ctl_command_help(sub_argv[1], stdout, 0);
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
