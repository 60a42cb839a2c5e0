/* dms/executor.h — the DMS executor plugin ABI.
 *
 * A host dlopen()s an executor plugin, looks up the one exported symbol
 * DMS_EXECUTOR_ENTRY_SYMBOL and calls it with the ABI major it was built
 * against. The plugin answers with a const descriptor whose operation table
 * implements the DMS executor interface (NewExecutor, IsInstalled, Start,
 * Wait, Cancel, GetLogStream, Run, Cleanup).
 *
 * Compatibility rules
 *   - A host refuses a descriptor whose abi_major differs from its own.
 *   - Every struct that crosses this boundary starts with its own size
 *     (struct_size). Structs are append-only: fields are never removed,
 *     reordered or retyped within one major. A host calls an operation only
 *     when DMS_OP_AVAILABLE() says the table is long enough and the pointer
 *     is non-NULL.
 *
 * Conventions (the same for every operation)
 *   - Every operation returns int: 0 (DMS_OK) on success, else a dms_status
 *     category. On failure, if `err` is non-NULL, *err receives a new
 *     dms_error owned by the caller, to be freed with ops->error_free().
 *     On success *err is left untouched.
 *   - Strings passed in are borrowed for the duration of the call; the
 *     plugin copies what it keeps.
 *   - Strings handed out through `char **` parameters are owned by the caller
 *     and freed with ops->string_free(). They are set only on success.
 *   - File descriptors handed out are owned by the caller, who closes them.
 *   - Every free/destroy function accepts NULL.
 *   - All operations are thread-safe: any of them may be called
 *     concurrently from any thread on the same executor, except destroy,
 *     which must be the last call on that executor.
 *   - Blocking operations take a dms_context (may be NULL: no deadline, not
 *     cancellable). A cancelled context makes the blocked call return
 *     DMS_ERR_CANCELLED, an expired one DMS_ERR_TIMEOUT.
 *
 * JSON documents (requests, results, log stream requests) are described in
 * docs/schema.md; the executor config (YAML) in docs/config.md.
 */
#ifndef DMS_EXECUTOR_H
#define DMS_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMS_EXECUTOR_ABI_MAJOR 1u
#define DMS_EXECUTOR_ABI_MINOR 2u
#define DMS_EXECUTOR_ENTRY_SYMBOL "dms_executor_plugin_entry"

/* Status codes and error categories. Values are part of the ABI. */
typedef enum dms_status {
	DMS_OK = 0,
	DMS_ERR_NOT_FOUND = 1,
	DMS_ERR_ALREADY_STARTED = 2,
	DMS_ERR_ALREADY_FINISHED = 3,
	DMS_ERR_INVALID_ARGUMENT = 4,
	DMS_ERR_RUNTIME_UNAVAILABLE = 5,
	DMS_ERR_IMAGE = 6,
	DMS_ERR_CONTAINER = 7,
	DMS_ERR_NETWORK = 8,
	DMS_ERR_VOLUME = 9,
	DMS_ERR_CONFIG = 10,
	DMS_ERR_RESOURCE = 11,
	DMS_ERR_CANCELLED = 12,
	DMS_ERR_TIMEOUT = 13,
	DMS_ERR_INTERNAL = 14,
	/* appended in 1.2: an operation or request field the runtime cannot
	 * honour; the operator's policy (or the caller's rights) refused it */
	DMS_ERR_NOT_SUPPORTED = 15,
	DMS_ERR_PERMISSION_DENIED = 16,
} dms_status;

/* An error, owned by whoever received it; free with ops->error_free().
 * Only `message` is always set; the context fields may be NULL. */
typedef struct dms_error {
	uint32_t struct_size;
	dms_status category;
	char *message;     /* human-readable, names what was wrong */
	char *operation;   /* engine operation that failed, e.g. "container create" */
	char *resource;    /* resource id: container, image, network, execution */
	char *engine_text; /* the engine's own error text, verbatim */
} dms_error;

/* Opaque handles. */
typedef struct dms_context dms_context;
typedef struct dms_executor dms_executor;

/* Execution states, as reported to event handlers. */
typedef enum dms_exec_state {
	DMS_STATE_PENDING = 0,   /* accepted, image being ensured */
	DMS_STATE_CREATED = 1,   /* container created, not yet started */
	DMS_STATE_RUNNING = 2,   /* container started */
	DMS_STATE_EXITED = 3,    /* the job's process ended; result available */
	DMS_STATE_FAILED = 4,    /* the executor could not run or harvest it */
	DMS_STATE_CANCELLED = 5, /* ended by Cancel or by its deadline */
	/* appended in 1.2 */
	DMS_STATE_PAUSED = 6, /* frozen by pause; resume returns it to RUNNING */
} dms_exec_state;

/* Completion callback of wait_async. Exactly one of result_json / error is
 * non-NULL; both are borrowed for the duration of the call. It is called
 * exactly once per successful wait_async, either before wait_async returns
 * (the execution already finished) or later on an executor thread. It must
 * not call destroy(). */
typedef void (*dms_wait_fn)(void *user_data, const char *execution_id, const char *result_json,
                            const dms_error *error);

/* State-change notification. Called on executor threads, in order for any
 * one execution; result_json is non-NULL only for final states (EXITED,
 * CANCELLED, and FAILED after the container ran) and is borrowed. Must not
 * block for long and must not call destroy(). */
typedef void (*dms_event_fn)(void *user_data, const char *execution_id, dms_exec_state state,
                             const char *result_json);

/* Image pull progress (appended in 1.1). Called on the thread that runs the
 * pull, for every execution waiting on that pull (concurrent Starts of one
 * image share it), at most about 4 times a second per image plus once when
 * the pull ends. current_bytes / total_bytes sum the layers seen so far
 * (downloaded and announced sizes; total 0 while unknown, and it may grow
 * as layers are announced). status is the engine's latest status line,
 * prefixed with the layer id when there is one ("3f4d90098f5b:
 * Downloading"). All strings are borrowed for the call. Must not block for
 * long and must not call destroy(). */
typedef void (*dms_pull_progress_fn)(void *user_data, const char *execution_id, const char *image,
                                     uint64_t current_bytes, uint64_t total_bytes,
                                     const char *status);

/* Completion callback of exec_wait_async (1.2): exit_code is meaningful
 * when error is NULL; error is borrowed for the call. Must not call
 * destroy(). */
typedef void (*dms_exec_wait_fn)(void *user_data, const char *exec_id, int exit_code,
                                 const dms_error *error);

typedef struct dms_executor_ops {
	uint32_t struct_size;

	/* --- resources ------------------------------------------------- */
	/* A context with a deadline timeout_ms from now (<= 0: none). The
	 * caller owns it; cancel may be called from any thread while another
	 * thread is blocked on it; free only after no call uses it. */
	dms_context *(*context_new)(int64_t timeout_ms);
	void (*context_cancel)(dms_context *ctx);
	void (*context_free)(dms_context *ctx);
	void (*error_free)(dms_error *err);
	void (*string_free)(char *s);

	/* --- lifecycle ------------------------------------------------- */
	/* NewExecutor. `id` names the executor: labels, container names and
	 * recovery key on it (1..64 chars of [A-Za-z0-9_.:-]). `config_yaml`
	 * may be NULL or empty for defaults. Creating an executor with the id
	 * of one that died re-attaches its running jobs and harvests exited
	 * ones. On success *out is owned by the caller (destroy()). */
	int (*new_executor)(const char *id, const char *config_yaml, dms_executor **out,
	                    dms_error **err);
	/* Stops every executor thread, fails pending waiters with
	 * DMS_ERR_CANCELLED, frees everything. Leaves containers running: a
	 * new executor with the same id picks them up. */
	void (*destroy)(dms_executor *ex);
	/* Installs (fn != NULL) or removes the state-change handler. */
	int (*set_event_handler)(dms_executor *ex, dms_event_fn fn, void *user_data);

	/* --- the DMS executor interface -------------------------------- */
	/* true when the engine answers. info_json (may be NULL) receives a
	 * fingerprint: {"runtime","version","api_version","os","rootless",...}.
	 * An unreachable engine is not an error: installed=false, status 0. */
	int (*is_installed)(dms_executor *ex, dms_context *ctx, bool *installed, char **info_json,
	                    dms_error **err);
	/* Starts the execution described by request_json (JSON or YAML).
	 * Returns when the container runs. */
	int (*start)(dms_executor *ex, dms_context *ctx, const char *request_json, dms_error **err);
	/* Blocks until the execution ends (or ctx ends), then hands out the
	 * result JSON. Giving up does not cancel the job. */
	int (*wait)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	            char **result_json, dms_error **err);
	/* Non-blocking form: fn is called exactly once when the execution
	 * ends. Fails (and fn is never called) for an unknown execution. */
	int (*wait_async)(dms_executor *ex, const char *execution_id, dms_wait_fn fn,
	                  void *user_data, dms_error **err);
	/* Stops the execution: the stop signal, then SIGKILL after the grace
	 * period. Returns when the container stopped. Harmless on a finished
	 * execution (its result stays as it was). */
	int (*cancel)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	              dms_error **err);
	/* A readable fd streaming the execution's output as the log request
	 * asks (docs/schema.md). EOF ends the stream. */
	int (*get_log_stream)(dms_executor *ex, dms_context *ctx, const char *request_json,
	                      int *fd_out, dms_error **err);
	/* Start + Wait as one call with no race in between. */
	int (*run)(dms_executor *ex, dms_context *ctx, const char *request_json, char **result_json,
	           dms_error **err);
	/* Removes every container, network and volume labelled with this
	 * executor's id, and nothing else. */
	int (*cleanup)(dms_executor *ex, dms_context *ctx, dms_error **err);

	/* --- appended in 1.0, optional --------------------------------- */
	/* JSON array of {"execution_id","job_id","state","container_id"}. */
	int (*list)(dms_executor *ex, char **list_json, dms_error **err);

	/* --- appended in 1.1, optional --------------------------------- */
	/* Imports an image tarball (a root filesystem, as `docker import`
	 * takes it; plain or gzip) read from `fd` until EOF, and tags it
	 * `reference` ("repo[:tag]", tag defaults to latest; no digest). The
	 * fd is borrowed: the plugin reads it during the call and never
	 * closes it. On success *image_id (caller frees with string_free)
	 * is the engine's image id ("sha256:..."). Bad reference or fd ->
	 * DMS_ERR_INVALID_ARGUMENT; an engine refusing the data ->
	 * DMS_ERR_IMAGE with its text. */
	int (*image_import)(dms_executor *ex, dms_context *ctx, int fd, const char *reference,
	                    char **image_id, dms_error **err);
	/* Installs (fn != NULL) or removes the pull progress handler. */
	int (*set_pull_progress_handler)(dms_executor *ex, dms_pull_progress_fn fn,
	                                 void *user_data);

	/* --- appended in 1.2, optional --------------------------------- */
	/* start, also handing out the execution id the executor used: the
	 * request's `execution_id`, or a new one ("run-<unix seconds>-<8 hex
	 * digits>") when the request names none. On success *execution_id is
	 * the caller's (string_free). A host never has to parse or rewrite a
	 * request to learn or to insert its id. */
	int (*start_job)(dms_executor *ex, dms_context *ctx, const char *request_json,
	                 char **execution_id, dms_error **err);

	/* Live operations on a running execution (1.2, optional). Each fails
	 * with DMS_ERR_NOT_FOUND for an unknown execution id,
	 * DMS_ERR_ALREADY_FINISHED for one that ended, and
	 * DMS_ERR_NOT_SUPPORTED (the message says why) where the runtime cannot
	 * do it. docs/schema.md describes the JSON documents. */

	/* Sends `signal` ("USR1", "SIGUSR1" or a number) to the job's main
	 * process. */
	int (*signal)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	              const char *signal, dms_error **err);
	/* Freezes (cgroup freezer) and thaws the job: state PAUSED, then
	 * RUNNING again. Waiters keep waiting; the job's timeout keeps running;
	 * cancel of a paused job thaws it first. */
	int (*pause)(dms_executor *ex, dms_context *ctx, const char *execution_id, dms_error **err);
	int (*resume)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	              dms_error **err);
	/* One resource sample as JSON; *stats_json is the caller's. */
	int (*stats)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	             char **stats_json, dms_error **err);
	/* A readable fd of JSON lines, one sample per line about once a
	 * second, EOF when the job ends. Closing it ends the stream. */
	int (*stats_stream)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	                    int *fd_out, dms_error **err);
	/* The execution's current view as JSON (state, container, image,
	 * times, ports, addresses, exit code); *inspect_json is the caller's. */
	int (*inspect)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	               char **inspect_json, dms_error **err);

	/* exec (1.2, optional): runs a command inside a running execution as
	 * exec_request_json says (cmd, env, user, working_dir, tty, stdin).
	 * *fd_out is a socket carrying the exec's stdin (written by the caller;
	 * shutdown(SHUT_WR) ends it) and its output (framed like the log
	 * stream, raw with a tty; EOF when the exec ended). Closing it before
	 * the EOF ends the exec: its process is killed. The exec also ends
	 * with its execution. *exec_id (caller frees, string_free) names it
	 * for exec_resize and exec_wait; the executor keeps the last 256
	 * ended execs. A pending or created execution ->
	 * DMS_ERR_CONTAINER. */
	int (*exec)(dms_executor *ex, dms_context *ctx, const char *execution_id,
	            const char *exec_request_json, int *fd_out, char **exec_id, dms_error **err);
	/* Resizes the tty of an exec started with tty. */
	int (*exec_resize)(dms_executor *ex, dms_context *ctx, const char *exec_id, uint32_t rows,
	                   uint32_t cols, dms_error **err);
	/* Blocks until the exec ends, then gives its exit code. An exec whose
	 * exit code went with its execution's container ->
	 * DMS_ERR_ALREADY_FINISHED. */
	int (*exec_wait)(dms_executor *ex, dms_context *ctx, const char *exec_id, int *exit_code,
	                 dms_error **err);
	/* Non-blocking form: fn is called exactly once when the exec ended
	 * (before exec_wait_async returns if it already had), with its exit
	 * code or an error; on executor threads, never under a lock of the
	 * caller's. Fails (and fn is never called) for an unknown exec id. */
	int (*exec_wait_async)(dms_executor *ex, const char *exec_id, dms_exec_wait_fn fn,
	                       void *user_data, dms_error **err);
} dms_executor_ops;

/* What the entry symbol returns. Static storage, never freed. */
typedef struct dms_executor_plugin {
	uint32_t struct_size;
	uint32_t abi_major;
	uint32_t abi_minor;
	const char *name;    /* e.g. "dms-executor" */
	const char *version; /* the plugin's own version, e.g. "0.1.0" */
	const dms_executor_ops *ops;
} dms_executor_plugin;

/* The one exported symbol. Returns NULL when host_abi_major is not one the
 * plugin implements. */
typedef const dms_executor_plugin *(*dms_executor_plugin_entry_fn)(uint32_t host_abi_major);
const dms_executor_plugin *dms_executor_plugin_entry(uint32_t host_abi_major);

/* True when ops has the (possibly optional) operation `field`. */
#define DMS_OP_AVAILABLE(ops, field)                                                               \
	((ops) != NULL &&                                                                          \
	 (ops)->struct_size >= offsetof(dms_executor_ops, field) + sizeof((ops)->field) &&         \
	 (ops)->field != NULL)

/* Name of a category as used in D-Bus error names (org.dms.Error.<Name>). */
static inline const char *dms_status_name(dms_status s)
{
	static const char *const names[] = {
	    "OK",
	    "NotFound",
	    "AlreadyStarted",
	    "AlreadyFinished",
	    "InvalidArgument",
	    "RuntimeUnavailable",
	    "Image",
	    "Container",
	    "Network",
	    "Volume",
	    "Config",
	    "Resource",
	    "Cancelled",
	    "Timeout",
	    "Internal",
	    "NotSupported",
	    "PermissionDenied",
	};
	return ((unsigned)s < sizeof(names) / sizeof(names[0])) ? names[s] : "Internal";
}

/* Name of an execution state as signals, lists and dmsctl show it
 * ("pending", "running", ...). */
static inline const char *dms_state_name(dms_exec_state s)
{
	static const char *const names[] = {
	    "pending", "created", "running", "exited", "failed", "cancelled", "paused",
	};
	return ((unsigned)s < sizeof(names) / sizeof(names[0])) ? names[s] : "unknown";
}

#ifdef __cplusplus
}
#endif
#endif /* DMS_EXECUTOR_H */
