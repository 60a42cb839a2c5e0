/* bus_internal.h — what the files of dms-host's D-Bus service share: the
 * host, executor and job structs and the calls between bus_loop.c (the
 * connection and the object tree), bus_manager.c (ExecutorManager1),
 * bus_executor.c (Executor1) and bus_job.c (executor objects and the jobs
 * that run on the pool).
 *
 * Threads:
 *   - the bus loop (the caller of bus_host_run) reads and dispatches
 *     messages and never calls a blocking plugin operation;
 *   - pool workers run Start, Cancel, Cleanup, IsInstalled, GetLogStream,
 *     List, ImportImage, NewExecutor, RemoveExecutor, Run's start, and
 *     executor destroys, and send their replies themselves;
 *   - plugin threads call the wait callbacks (Wait and Run replies) and the
 *     event handler (signals); pull progress runs on the worker whose Start
 *     pulls.
 * libdbus connections are thread-safe once dbus_threads_init_default()
 * ran; a reply sent from another thread is written at once when the socket
 * takes it, otherwise the wakeup function makes the loop poll for POLLOUT.
 *
 * Executor objects are reference counted: the registry holds one, every
 * queued or running job holds one. The last unref queues the destroy on the
 * pool (never on the bus loop, since destroy joins plugin threads), and a
 * RemoveExecutor call is answered after that destroy. Deferred Wait replies
 * hold no reference: destroy fails pending waiters, which answers them. */
#ifndef DMS_HOST_BUS_INTERNAL_H
#define DMS_HOST_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "bus_table.h"
#include "pool.h"

struct job;

struct bus_host {
	const struct bus_host_config *cfg;
	DBusConnection *conn;
	int wake_fd;
	int sig_fd;
	struct host_pool *pool;
	pthread_mutex_t lock; /* executors, stopping */
	struct bus_executor *executors;
	bool stopping;
	pthread_mutex_t create_lock; /* serialises NewExecutor */
};

struct bus_executor {
	atomic_int refs;
	struct bus_host *host;
	struct host_plugin *plugin;
	dms_executor *ex;
	char *id;
	char *path;
	char *config;
	uint32_t owner_uid;   /* the uid that created it; BUS_OWNER_NONE: --config's */
	pthread_mutex_t lock; /* runtime, active, cancelling, remove_msg */
	char *runtime;
	struct job *active; /* jobs blocked in the plugin with a context */
	bool cancelling;
	DBusMessage *remove_msg; /* answered once destroy has run */
	struct bus_executor *next;
};

/* A method call handed to a pool worker. */
struct job {
	struct bus_host *host;
	DBusMessage *msg;
	struct bus_executor *exe; /* referenced; NULL for manager calls */
	void (*fn)(struct job *j);
	dms_context *ctx;
	struct job *next_active;
};

static inline const dms_executor_ops *ops_of(const struct bus_executor *e)
{
	return e->plugin->desc->ops;
}

/* --- bus_job.c: executor objects -------------------------------------- */

struct bus_executor *bus_exe_ref(struct bus_executor *e);
/* The last reference queues the destroy on the pool. Accepts NULL. */
void bus_exe_unref(struct bus_executor *e);
/* Needs h->lock held. Not referenced. */
struct bus_executor *bus_exe_find_locked(struct bus_host *h, const char *id, const char *path);
/* By id or object path; referenced, or NULL. */
struct bus_executor *bus_exe_lookup(struct bus_host *h, const char *id, const char *path);
/* Sets the Runtime property from an IsInstalled fingerprint (may be NULL). */
void bus_exe_set_runtime(struct bus_executor *e, const char *info_json);

/* --- bus_job.c: jobs on the pool -------------------------------------- */

/* Queues fn for the call; e (NULL for manager calls) is referenced. */
void bus_job_submit(const struct bus_call *c, struct bus_executor *e, void (*fn)(struct job *));
/* A context for a blocking plugin call, cancelled on shutdown. */
dms_context *bus_job_ctx_begin(struct job *j, int64_t timeout_ms);
void bus_job_ctx_end(struct job *j);
/* The call's first string argument ("" when none); lives as long as the
 * message. */
const char *bus_job_string_arg(struct job *j);
/* Replies with the plugin error and frees it. */
void bus_job_fail(struct job *j, int rc, dms_error *err);

/* --- bus_executor.c --------------------------------------------------- */

extern const struct bus_interface bus_executor_interface;
extern const struct bus_object_class bus_executor_class;
/* The plugin's handlers, installed by bus_manager_create_executor with the
 * executor object as user data. */
void bus_executor_on_event(void *user_data, const char *execution_id, dms_exec_state state,
                           const char *result_json);
void bus_executor_on_pull_progress(void *user_data, const char *execution_id, const char *image,
                                   uint64_t current_bytes, uint64_t total_bytes,
                                   const char *status);

/* --- bus_live.c: the live operations' methods (ABI 1.2) ------------- */

void bus_live_signal(const struct bus_call *c);
void bus_live_pause(const struct bus_call *c);
void bus_live_resume(const struct bus_call *c);
void bus_live_stats(const struct bus_call *c);
void bus_live_stats_stream(const struct bus_call *c);
void bus_live_inspect(const struct bus_call *c);

/* --- bus_manager.c ---------------------------------------------------- */

extern const struct bus_interface bus_manager_interface;
extern const struct bus_object_class bus_manager_class;
/* bus_manager_create_executor's answer when the executor exists and
 * belongs to another uid (org.freedesktop.DBus.Error.AccessDenied). */
#define BUS_CREATE_DENIED (-1)
/* Creates and registers an executor owned by owner_uid (BUS_OWNER_NONE:
 * anyone the bus policy lets in). On failure returns the status (or
 * BUS_CREATE_DENIED) and sets *why (caller frees). On success *path_out
 * (caller frees). */
int bus_manager_create_executor(struct bus_host *h, const char *id, const char *config,
                                uint32_t owner_uid, char **path_out, char **why);

#endif
