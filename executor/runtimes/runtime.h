/* runtime.h — the runtime vtable: one table of operations per container
 * engine (docker, podman, swarm). The executor core talks to engines only
 * through this table. Tables are size-prefixed; RT_HAS() guards optional
 * operations.
 *
 * All operations follow the error convention of error.h and fill the error
 * context (operation, resource, engine text). Engine HTTP errors map to
 * categories: 404 on an image -> DMS_ERR_IMAGE, 404 on a container ->
 * DMS_ERR_NOT_FOUND, 409 -> DMS_ERR_CONTAINER (conflict), unreachable ->
 * DMS_ERR_RUNTIME_UNAVAILABLE, anything else -> the object's category. */
#ifndef DMS_RUNTIME_H
#define DMS_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dms/executor.h>
#include "config.h"
#include "request.h"

struct runtime; /* one engine connection set, owned by one executor */

/* The fingerprint IsInstalled reports. Strings owned by the struct. */
struct runtime_info {
	char *kind;        /* "docker" | "podman" */
	char *version;     /* engine version */
	char *api_version; /* negotiated API version */
	char *os;
	bool rootless;
	int cgroup_version; /* 1 or 2; 0 unknown */
	/* swarm only (kind "swarm"): the node answering, and the swarm's nodes */
	char *swarm_node_id; /* NULL: not a swarm runtime */
	bool swarm_manager;
	int swarm_nodes_ready, swarm_nodes_total;
};
void runtime_info_free(struct runtime_info *i);

/* What to create. Built by the executor from the request; strings borrowed. */
struct container_spec {
	const char *name;
	const struct exec_request *req;
	strv labels; /* all labels, "k=v", including org.dms.* */
	const char *stop_signal;
	int stop_timeout_s;
	const char *network; /* the per-job network to join (network_mode isolated); NULL: none */
};

enum container_status {
	CS_UNKNOWN = 0,
	CS_CREATED,
	CS_RUNNING,
	CS_PAUSED,
	CS_RESTARTING,
	CS_REMOVING,
	CS_EXITED,
	CS_DEAD,
};

/* What the engine reports it applied, from inspect's Config, HostConfig
 * and Mounts, in one form for both engines: the executor compares it with
 * what it asked for right after create (an engine that silently ignored a
 * setting fails the Start). Capabilities are upper case without "CAP_". */
struct container_settings {
	bool known; /* false: the runtime reports none of this */
	int64_t nano_cpus, memory, memory_swap, pids_limit;
	char *cpuset_cpus;
	bool readonly_rootfs;
	strv cap_add, cap_drop; /* Podman reports drops relative to its default set */
	strv security_opt;
	strv mounts; /* "source:destination:rw" or ":ro" */
	strv ports;  /* "80/tcp=host_ip:host_port" (ip "" = all) */
	char *network_mode;
	strv networks;        /* the networks it is attached to */
	strv devices;         /* PathOnHost */
	strv device_requests; /* "driver:ids" ("nvidia:0,1", "nvidia:count=-1") */
	char *user, *working_dir;
	strv env, labels; /* "K=V", "k=v" */
};
void container_settings_free(struct container_settings *s); /* frees members */

struct container_state {
	char *id;
	char *name;
	enum container_status status;
	int exit_code;
	bool oom_killed;
	bool tty;
	int64_t started_at_ns; /* wall clock, 0 unknown */
	int64_t finished_at_ns;
	char *error; /* State.Error, NULL if empty */
	/* Non-zero (a DMS_ERR_*): the job failed without an exit of its own —
	 * on a swarm, a task rejected, orphaned, on a node gone down, or
	 * pending past swarm_pending_timeout; `error` says why. */
	int failure;
	strv labels; /* "k=v" */
	struct container_settings settings;
};
void container_state_free(struct container_state *s); /* frees members */

/* One entry of a label-filtered list. */
struct container_summary {
	char *id;
	char *name;
	enum container_status status;
	strv labels;
};
void container_summaries_free(struct container_summary *v, size_t n);

/* Engine events the executor cares about. */
enum runtime_event_kind { RT_EV_START, RT_EV_DIE, RT_EV_OOM, RT_EV_DESTROY, RT_EV_OTHER };
struct runtime_event {
	enum runtime_event_kind kind;
	const char *container_id;
	const char *execution_id; /* org.dms.execution attribute, may be NULL */
	int exit_code;            /* RT_EV_DIE: exitCode attribute, -1 unknown */
	int64_t time_ns;          /* event time (timeNano), wall clock */
};
/* Return non-zero to end the stream. */
typedef int (*runtime_event_fn)(void *user_data, const struct runtime_event *ev);
/* Called once when the event stream is established (headers received). */
typedef void (*runtime_ready_fn)(void *user_data);

/* Raw log bytes as the engine sends them (framed unless tty). */
typedef int (*runtime_log_fn)(void *user_data, const char *data, size_t len);

struct log_options {
	bool follow;
	bool stdout_, stderr_;
	int64_t tail;     /* -1: all */
	int64_t since_ns; /* 0: from the beginning */
};

/* Pull progress, once per message of the pull stream: the latest status
 * line and the bytes so far summed over the layers (pull_progress.h; 0
 * total while unknown). */
typedef void (*runtime_progress_fn)(void *user_data, const char *status, int64_t current,
                                    int64_t total);

enum runtime_object { RT_OBJ_CONTAINER, RT_OBJ_NETWORK, RT_OBJ_VOLUME };

struct runtime_ops {
	size_t struct_size;
	const char *kind; /* "docker", "podman" */

	/* host: engine URL or NULL to discover. Does not contact the engine. */
	int (*open)(const char *host, struct runtime **out, dms_error **err);
	void (*close)(struct runtime *rt);
	/* Pings, negotiates the API version, fills info (may be NULL). */
	int (*ping)(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
	            dms_error **err);

	int (*image_present)(struct runtime *rt, dms_context *ctx, const char *image, bool *present,
	                     dms_error **err);
	int (*image_pull)(struct runtime *rt, dms_context *ctx, const char *image,
	                  const char *registry_auth, runtime_progress_fn fn, void *ud,
	                  dms_error **err);
	/* Imports a rootfs tarball read from fd as repo:tag. */
	int (*image_import)(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
	                    dms_error **err);

	int (*container_create)(struct runtime *rt, dms_context *ctx,
	                        const struct container_spec *spec, char **id_out, dms_error **err);
	int (*container_start)(struct runtime *rt, dms_context *ctx, const char *id,
	                       dms_error **err);
	/* Stop signal, then SIGKILL after timeout_s. Already stopped is OK. */
	int (*container_stop)(struct runtime *rt, dms_context *ctx, const char *id, int timeout_s,
	                      dms_error **err);
	int (*container_kill)(struct runtime *rt, dms_context *ctx, const char *id,
	                      const char *signal, dms_error **err);
	/* force: kill first. Already gone is OK. Removes anonymous volumes. */
	int (*container_remove)(struct runtime *rt, dms_context *ctx, const char *id, bool force,
	                        dms_error **err);
	int (*container_inspect)(struct runtime *rt, dms_context *ctx, const char *id,
	                         struct container_state *out, dms_error **err);
	/* All containers (running or not) having label "k=v" (or key "k"). */
	int (*container_list)(struct runtime *rt, dms_context *ctx, const char *label,
	                      struct container_summary **out, size_t *n, dms_error **err);
	/* Streams logs until the stream ends (non-follow: all so far; follow:
	 * until the container stops or ctx ends). A follow (tail -1, since 0)
	 * that returns 0 delivered the whole log, every byte once: runtimes
	 * complete what the engine's own follow stream drops (docs/engine-api.md,
	 * "Engine behaviours the runtimes design around"). */
	int (*container_logs)(struct runtime *rt, dms_context *ctx, const char *id,
	                      const struct log_options *opts, runtime_log_fn fn, void *ud,
	                      dms_error **err);
	/* Blocks streaming container events with label `label` since since_ns
	 * (0: from now) until ctx ends, fn returns non-zero or the connection
	 * drops (then returns DMS_ERR_RUNTIME_UNAVAILABLE). */
	int (*events)(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
	              runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err);

	/* Networks and volumes, by name, labelled. */
	int (*network_create)(struct runtime *rt, dms_context *ctx, const char *name,
	                      const strv labels, bool internal, char **id_out, dms_error **err);
	int (*volume_create)(struct runtime *rt, dms_context *ctx, const char *name,
	                     const strv labels, dms_error **err);
	/* Lists ids (containers, networks) or names (volumes) with `label`. */
	int (*object_list)(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
	                   const char *label, strv *out, dms_error **err);
	/* Removes one network (id or name) or volume (name). Gone is OK. */
	int (*object_remove)(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
	                     const char *id, dms_error **err);

	/* Optional (RT_HAS): the id of a present image, "sha256:<hex>". */
	int (*image_id)(struct runtime *rt, dms_context *ctx, const char *image, char **id,
	                dms_error **err);
	/* Optional (RT_HAS), for engines whose event stream reports an exit
	 * late (Podman's polls its events file every 250 ms): holds a stream
	 * that ends when the container's process does, until then or ctx
	 * ends. attached(ud) is called once the engine holds it, before which
	 * the container must not be started. 0 when the stream ended by
	 * itself — a hint only: a dropped connection ends it the same way. */
	int (*container_watch)(struct runtime *rt, dms_context *ctx, const char *id,
	                       void (*attached)(void *ud), void *ud, dms_error **err);
	/* Optional (RT_HAS): open() with the whole config, for a runtime that
	 * needs more than the host (swarm: TLS, swarm_pending_timeout). Used
	 * instead of open() when present. */
	int (*open_config)(const struct exec_config *cfg, struct runtime **out, dms_error **err);
};

#define RT_HAS(ops, field)                                                                         \
	((ops)->struct_size >= offsetof(struct runtime_ops, field) + sizeof((ops)->field) &&       \
	 (ops)->field != NULL)

extern const struct runtime_ops docker_runtime_ops;
extern const struct runtime_ops podman_runtime_ops;
extern const struct runtime_ops swarm_runtime_ops; /* swarm.c, docs/swarm.md */

/* "docker" | "podman" | "swarm" -> table; NULL if unknown. */
const struct runtime_ops *runtime_by_name(const char *name);
/* name: "docker" | "podman" | "auto" (the first engine that answers; with
 * a host, the one listening there). DMS_ERR_CONFIG for an unknown name,
 * DMS_ERR_RUNTIME_UNAVAILABLE when auto finds no engine. */
int runtime_select(const char *name, const char *host, const struct runtime_ops **out,
                   dms_error **err);

#endif
