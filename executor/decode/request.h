/* request.h — the decoded DMS execution request and log stream request
 * (docs/schema.md). Decoding validates everything: unknown keys and bad
 * values are DMS_ERR_INVALID_ARGUMENT with a message naming the field,
 * e.g. "engine_spec.params.image: required" or "resources.cpu.cores: must be
 * a number > 0, got \"x\"". Accepts JSON, and YAML where a person writes it
 * (documents starting with '{' are JSON, anything else YAML). */
#ifndef DMS_REQUEST_H
#define DMS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dms/executor.h>
#include "strv.h"

struct mount_spec {
	char *type; /* "bind" (inputs) or "volume" */
	char *source;
	char *target;
	bool read_only;
};

/* resources.gpus[] (docs/schema.md "GPUs"). */
enum gpu_vendor { GPU_NVIDIA, GPU_AMD, GPU_INTEL };
struct gpu_spec {
	enum gpu_vendor vendor;
	strv ids;      /* device indexes ("0", "1"); NULL: count or all */
	int64_t count; /* nvidia: the first `count` GPUs; 0: all (with ids NULL) */
};

/* engine_spec.params.ports[] */
struct port_spec {
	char *host_ip;     /* NULL: all interfaces */
	int64_t host_port; /* 0: ephemeral (the engine picks) */
	int64_t container_port;
	char *protocol; /* tcp | udp | sctp */
};

struct exec_request {
	char *job_id;
	char *execution_id;
	char *engine_type; /* engine_spec.type: "docker" (also "podman") */
	/* engine_spec.params */
	char *image;
	strv entrypoint;
	strv cmd;
	strv environment; /* "K=V" */
	char *working_directory;
	char *user;
	strv labels;             /* extra "k=v" labels; org.dms.* are refused */
	char *network_mode;      /* none | bridge | host | isolated | NULL (engine default) */
	char *stop_signal;       /* e.g. "SIGTERM"; NULL: config default */
	int64_t stop_timeout_ms; /* -1: config default */
	char *pull_policy;       /* if-not-present (default) | always | never */
	bool tty;
	/* security (engine_spec.params) */
	bool read_only_rootfs;
	strv cap_add;           /* "CAP_X" or "ALL"; NULL: none */
	strv cap_drop;          /* "CAP_X" or "ALL"; NULL: keep the engine's default set */
	bool no_new_privileges; /* default true */
	struct port_spec *ports;
	size_t n_ports;
	strv placement_constraints; /* engine_spec.params.placement.constraints; swarm only */
	int64_t timeout_ms; /* job deadline; 0: none. Exceeded -> cancelled */
	/* resources */
	double cpu_cores;     /* 0: unlimited */
	int64_t memory_bytes; /* 0: unlimited */
	int64_t pids_limit;   /* 0: unlimited */
	char *cpuset_cpus;    /* resources.cpu.cpuset, e.g. "0-1,3"; NULL: any */
	struct gpu_spec *gpus;
	size_t n_gpus;
	/* mounts and results */
	struct mount_spec *inputs;
	size_t n_inputs;
	struct mount_spec *outputs;
	size_t n_outputs;
	char *results_dir;
};

/* Whether the runtime named `runtime` (runtime_names.h) can do what r asks:
 * the one place that refuses a field a runtime has no equivalent for
 * (placement off the swarm; cpuset, GPUs, network_mode host, outputs, a
 * host_ip on it: docs/swarm.md), DMS_ERR_INVALID_ARGUMENT naming the field
 * and why. Called before anything is made. */
int request_check_runtime(const struct exec_request *r, const char *runtime, dms_error **err);

int request_parse(const char *text, size_t len, struct exec_request **out, dms_error **err);
/* request_parse with flags: REQUEST_EXECUTION_ID_OPTIONAL leaves
 * execution_id NULL when the request names none (the executor then
 * generates one: executor_new_execution_id). */
#define REQUEST_EXECUTION_ID_OPTIONAL 1u
int request_parse_ex(const char *text, size_t len, unsigned flags, struct exec_request **out,
                     dms_error **err);
void request_free(struct exec_request *r);

enum log_format { LOG_FORMAT_FRAMED = 0, LOG_FORMAT_PLAIN = 1 };

struct log_request {
	char *execution_id;
	bool tail;     /* only output produced from now on */
	bool follow;   /* stay open until the job ends */
	int64_t lines; /* last N lines only; -1: all */
	enum log_format format;
};

int log_request_parse(const char *text, size_t len, struct log_request **out, dms_error **err);
void log_request_free(struct log_request *r);

/* The identifier rule for executor, job and execution ids:
 * 1..128 chars of [A-Za-z0-9_.:-] (executor ids: at most 64). */
bool request_valid_id(const char *s, size_t max);

#endif
