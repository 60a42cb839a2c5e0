/* ctl_run.h — `dmsctl run`'s flags (ctl_run_flags.c): docker run's syntax
 * read through one table that maps each flag to the request field it
 * fills (docs/cli.md has the table), the flags docker has and the executor
 * cannot honour refused by name, and the request built from what was
 * given. ctl_run.c starts it, streams the output and reports. */
#ifndef DMS_HOST_CTL_RUN_H
#define DMS_HOST_CTL_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "strv.h"

/* One host bind (-v, --mount): inputs[]. */
struct run_mount {
	char *source; /* absolute */
	char *target;
	bool read_only;
};

/* One published port (-p): engine_spec.params.ports[]. */
struct run_port {
	char *host_ip;  /* NULL: all interfaces */
	long host_port; /* 0: ephemeral */
	long container_port;
	const char *protocol; /* static: tcp, udp, sctp */
};

/* What the flags ask for. Strings point into argv unless the comment says
 * they are owned. */
struct run_opts {
	strv env; /* "K=V", owned */
	size_t n_env;
	strv labels; /* "K=V", owned; one per key, the last given wins */
	size_t n_labels;
	strv cap_add, cap_drop; /* owned */
	size_t n_cap_add, n_cap_drop;
	struct run_mount *mounts; /* owned */
	size_t n_mounts;
	struct run_port *ports; /* owned */
	size_t n_ports;
	const char *workdir;
	const char *name;
	const char *user;
	const char *entrypoint; /* NULL: the image's; "": none */
	const char *network;    /* the request's network_mode */
	const char *pull;       /* the request's pull_policy */
	const char *cpuset;
	char *results_dir; /* owned, absolute */
	char stop_signal[32];
	int64_t stop_timeout_ms; /* -1: the config's */
	int64_t timeout_ms;      /* -1: none */
	double cpus;
	int64_t memory;
	int64_t pids_limit; /* 0: unlimited */
	bool read_only;
	bool tty;
	bool detach;
	bool quiet;
	bool rm;
	/* --gpus: resources.gpus[0] */
	bool gpus;
	const char *gpu_vendor; /* static */
	long gpu_count;         /* 0: all, unless gpu_ids */
	strv gpu_ids;           /* owned */
	size_t n_gpu_ids;
	const char *image;
	char **cmd; /* argv's tail, NULL-terminated; empty: the image's */
};

/* Reads argv (argv[0] is "run"). Returns -1 to go on, else the exit
 * status: 0 after --help, 2 after a usage error (said on stderr, naming
 * the flag). */
int run_opts_parse(struct run_opts *o, int argc, char **argv);
void run_opts_free(struct run_opts *o);
/* The request (docs/schema.md); NULL when a string is not valid UTF-8.
 * No execution id unless --name gives one: the executor names it. */
char *run_request_build(const struct run_opts *o);
/* `dmsctl run --help`'s flag list, from the table. */
void run_flags_help(FILE *f);

#endif
