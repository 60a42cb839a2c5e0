/* dms-host.c — the daemon: loads executor plugins and serves them on
 * D-Bus as org.dms.Executor (docs/dbus.md).
 *
 * Why a separate process: other services of the device manager, dmsctl and
 * the Gherkin steps all drive executors through one bus API, and the host
 * keeps executors (and their event streams, waiters and log spools) alive
 * between those clients' calls. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "bus.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "util.h"

#define MAX_PLUGINS 16
#define MAX_CONFIG_BYTES (1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: dms-host [OPTIONS]\n"
	        "Serve DMS executors on D-Bus as " BUS_NAME ".\n\n"
	        "  --session              use the session bus (default)\n"
	        "  --system               use the system bus\n"
	        "  --plugin PATH          load this executor plugin (absolute path; may be\n"
	        "                         repeated; the first one is the default)\n"
	        "  --executor ID          create this executor at start-up\n"
	        "  --config FILE          its config (YAML); --config alone implies\n"
	        "                         --executor default\n"
	        "  --max-workers N        threads for blocking calls (default 64)\n"
	        "  --log-level LEVEL      error, warn, info (default) or debug; to journald\n"
	        "                         when started by systemd, else to stderr\n"
	        "  --metrics-textfile FILE  write the Prometheus metrics to FILE (atomically,\n"
	        "                         for node_exporter's textfile collector); also a\n"
	        "                         top-level metrics_textfile: line of --config FILE\n"
	        "  --print-introspection  print the D-Bus interface XML and exit\n"
	        "  --help                 this text\n\n"
	        "Default plugin: ../lib/dms-executor.so next to this binary if present,\n"
	        "else %s.\n",
	        DMS_PLUGIN_INSTALL_PATH);
}

int main(int argc, char **argv)
{
	enum {
		OPT_SESSION = 256,
		OPT_SYSTEM,
		OPT_PLUGIN,
		OPT_EXECUTOR,
		OPT_CONFIG,
		OPT_WORKERS,
		OPT_LOG_LEVEL,
		OPT_METRICS_TEXTFILE,
		OPT_XML,
		OPT_HELP
	};
	static const struct option longopts[] = {
	    {"session", no_argument, NULL, OPT_SESSION},
	    {"system", no_argument, NULL, OPT_SYSTEM},
	    {"plugin", required_argument, NULL, OPT_PLUGIN},
	    {"executor", required_argument, NULL, OPT_EXECUTOR},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"max-workers", required_argument, NULL, OPT_WORKERS},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"metrics-textfile", required_argument, NULL, OPT_METRICS_TEXTFILE},
	    {"print-introspection", no_argument, NULL, OPT_XML},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	struct bus_host_config cfg = {.bus_type = DBUS_BUS_SESSION, .max_workers = 64};
	const char *plugin_paths[MAX_PLUGINS];
	struct host_plugin *plugins[MAX_PLUGINS];
	size_t n_paths = 0, n_loaded = 0;
	const char *config_file = NULL, *metrics_textfile = NULL;
	char *config = NULL, *default_path = NULL, *config_textfile = NULL, *metrics_why = NULL;
	enum hlog_level log_level = HLOG_INFO;
	int opt, status = 1;

	host_set_progname("dms-host");
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SESSION:
			cfg.bus_type = DBUS_BUS_SESSION;
			break;
		case OPT_SYSTEM:
			cfg.bus_type = DBUS_BUS_SYSTEM;
			break;
		case OPT_PLUGIN:
			if (n_paths == MAX_PLUGINS) {
				host_log("at most %d plugins", MAX_PLUGINS);
				return 2;
			}
			plugin_paths[n_paths++] = optarg;
			break;
		case OPT_EXECUTOR:
			cfg.initial_id = optarg;
			break;
		case OPT_CONFIG:
			config_file = optarg;
			break;
		case OPT_WORKERS:
			cfg.max_workers = strtoul(optarg, NULL, 10);
			if (cfg.max_workers == 0 || cfg.max_workers > 4096) {
				host_log("--max-workers: want 1..4096, got \"%s\"", optarg);
				return 2;
			}
			break;
		case OPT_LOG_LEVEL:
			if (!hlog_parse_level(optarg, &log_level)) {
				host_log("--log-level: want error, warn, info or debug, got \"%s\"",
				         optarg);
				return 2;
			}
			break;
		case OPT_METRICS_TEXTFILE:
			metrics_textfile = optarg;
			break;
		case OPT_XML: {
			char *xml = bus_interfaces_xml();
			fputs(xml, stdout);
			free(xml);
			return 0;
		}
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		host_log("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (config_file) {
		config = host_read_file(config_file, MAX_CONFIG_BYTES, NULL);
		if (!config) {
			host_log("%s: %m", config_file);
			return 1;
		}
		if (!cfg.initial_id)
			cfg.initial_id = "default";
		/* The operator's file: dms-host's own setting, not the executor's. */
		config_textfile = host_config_take_key(config, "metrics_textfile");
	}
	cfg.initial_config = config;
	if (!metrics_textfile)
		metrics_textfile = config_textfile;
	hlog_init(log_level);
	if (metrics_init(metrics_textfile && *metrics_textfile ? metrics_textfile : NULL,
	                 &metrics_why) < 0) {
		host_log("%s", metrics_why);
		free(metrics_why);
		goto out;
	}

	if (!dbus_threads_init_default()) {
		host_log("cannot initialise libdbus threads");
		goto out;
	}
	if (n_paths == 0) {
		default_path = host_default_plugin_path();
		plugin_paths[n_paths++] = default_path;
	}
	for (size_t i = 0; i < n_paths; i++) {
		char *why = NULL;
		if (host_plugin_load(plugin_paths[i], &plugins[n_loaded], &why) < 0) {
			host_log("%s", why);
			free(why);
			goto out;
		}
		n_loaded++;
	}
	cfg.plugins = plugins;
	cfg.n_plugins = n_loaded;
	status = bus_host_run(&cfg);
out:
	metrics_shutdown();
	/* bus_host_run returned: every executor was destroyed. */
	for (size_t i = 0; i < n_loaded; i++)
		host_plugin_unload(plugins[i]);
	free(default_path);
	free(config);
	free(config_textfile);
	hlog_shutdown();
	dbus_shutdown();
	return status;
}
