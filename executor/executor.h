/* executor.h — the executor object behind the ABI's dms_executor, shared
 * by the operation code (executor.c), the log streams (logs.c) and the
 * entry point (plugin.c). Nothing here crosses the plugin boundary. */
#ifndef DMS_EXECUTOR_INTERNAL_H
#define DMS_EXECUTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <dms/executor.h>

#include "config.h"
#include "handler.h"
#include "request.h"
#include "runtime.h"

/* Harvest/removal worker threads per executor; a build may set another
 * count (-DEXECUTOR_WORKERS=4) to measure it (docs/performance.md). */
#ifndef EXECUTOR_WORKERS
#define EXECUTOR_WORKERS 2
#endif

/* Exit watchers per executor on engines that report exits late
 * (runtime.h container_watch; docs/architecture.md, "Exit watch"). */
#ifndef EXIT_WATCHERS
#define EXIT_WATCHERS 2
#endif

struct work; /* a queued harvest or container removal */
struct pump; /* an open log stream (logs.c) */
struct pull; /* an image pull shared by concurrent Starts */
struct sweep; /* the orphan sweep's memory (sweep.c) */

struct dms_executor {
	char *id;
	char *label;               /* "org.dms.executor=<id>": every filter */
	char *spool_dir;           /* <state_dir>/<id>/spool */
	char *jobs_dir;            /* <state_dir>/<id>/jobs: state.h */
	struct exec_config *cfg;
	const struct runtime_ops *rt_ops;
	struct runtime *rt;
	struct registry *reg;
	dms_context *life;         /* cancelled by destroy: ends every engine call */

	pthread_mutex_t mu;        /* guards the fields below */
	pthread_cond_t cond;       /* work queued, janitor poke, log thread exit */
	dms_event_fn event_fn;
	void *event_ud;
	dms_pull_progress_fn progress_fn;
	void *progress_ud;
	struct work *queue_head, *queue_tail;
	int removing;              /* container removals under way (workers) */
	bool stopping;
	bool resync_needed;        /* the event stream (re)connected */
	bool events_connected;
	int64_t last_event_ns;     /* wall clock of the last event seen */
	int log_threads;           /* log stream threads not yet ended */
	struct pump *pumps;        /* the live ones (logs.c) */
	struct pump *pumps_ended;  /* ended, to be joined (logs_reap) */
	struct pull *pulls;        /* image pulls in progress, one per image */
	struct sweep *sweep;       /* made at its first use (sweep.c) */
	struct handler *watch_next; /* handed to an idle watcher (executor.c), ref'd */
	int watchers_idle;
	pthread_cond_t watch_cond; /* watch_next set, or stopping */

	pthread_t events_thread;
	pthread_t janitor_thread;
	pthread_t workers[EXECUTOR_WORKERS];
	int n_watchers;            /* 0, or EXIT_WATCHERS (container_watch, exit_watch) */
	pthread_t watchers[EXIT_WATCHERS];
};

int executor_new(const char *id, const char *config_yaml, struct dms_executor **out,
                 dms_error **err);
/* The same on a given runtime table (unit tests: the fake runtime). */
int executor_new_with_runtime(const char *id, const char *config_yaml,
                              const struct runtime_ops *ops, struct dms_executor **out,
                              dms_error **err);
void executor_destroy(struct dms_executor *ex);
int executor_set_event_handler(struct dms_executor *ex, dms_event_fn fn, void *ud);
int executor_is_installed(struct dms_executor *ex, dms_context *ctx, bool *installed,
                          char **info_json, dms_error **err);
int executor_start(struct dms_executor *ex, dms_context *ctx, const char *request,
                   dms_error **err);
int executor_wait(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  char **result_json, dms_error **err);
int executor_wait_async(struct dms_executor *ex, const char *execution_id, dms_wait_fn fn,
                        void *ud, dms_error **err);
int executor_cancel(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err);
int executor_get_log_stream(struct dms_executor *ex, dms_context *ctx, const char *request,
                            int *fd_out, dms_error **err);
int executor_run(struct dms_executor *ex, dms_context *ctx, const char *request,
                 char **result_json, dms_error **err);
int executor_cleanup(struct dms_executor *ex, dms_context *ctx, dms_error **err);
int executor_list(struct dms_executor *ex, char **list_json, dms_error **err);
int executor_image_import(struct dms_executor *ex, dms_context *ctx, int fd, const char *reference,
                          char **image_id, dms_error **err);
int executor_set_pull_progress_handler(struct dms_executor *ex, dms_pull_progress_fn fn, void *ud);

/* logs.c: a readable fd streaming h's output as lr asks. */
int logs_open_stream(struct dms_executor *ex, struct handler *h, const struct log_request *lr,
                     int *fd_out, dms_error **err);

/* Unblocks every log stream thread (destroy then waits for them). */
void logs_shutdown_all(struct dms_executor *ex);
/* h's spool holds its whole log now: follows reading the engine switch to it. */
void logs_harvested(struct dms_executor *ex, struct handler *h);
/* Joins the log stream threads that have ended and frees their state. */
void logs_reap(struct dms_executor *ex);
/* A log stream stopped reading h's container from the engine (it counted
 * itself in h->engine_readers): the last one queues the removal the
 * harvest deferred for it. */
void executor_engine_reader_done(struct dms_executor *ex, struct handler *h);

#endif
