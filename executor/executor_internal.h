/* executor_internal.h — the executor object and what its files share.
 * struct dms_executor is the ABI's opaque dms_executor; the files of the
 * top executor/ directory each hold one concern over it (docs/
 * architecture.md, "The executor's files"), and these are the calls
 * between them. Nothing here crosses the plugin boundary; only the
 * executor's own files and its unit tests include it. */
#ifndef DMS_EXECUTOR_INTERNAL_H
#define DMS_EXECUTOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <dms/executor.h>

#include "config.h"
#include "executor.h"
#include "handler.h"
#include "request.h"
#include "runtime.h"

#define NS_PER_MS 1000000ll
#define NS_PER_S 1000000000ll

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

struct work;        /* a queued harvest or container removal (work_queue.c) */
struct pump;        /* an open log stream (logs.c) */
struct pull;        /* an image pull shared by concurrent Starts (image_pull.c) */
struct sweep;       /* the orphan sweep's memory (sweep.c) */
struct stat_stream; /* an open StatsStream (live.c) */

struct exec_relay; /* the execs and their relay (exec.c) */

struct dms_executor {
	char *id;
	char *label;     /* "org.dms.executor=<id>": every filter */
	char *spool_dir; /* <state_dir>/<id>/spool */
	char *jobs_dir;  /* <state_dir>/<id>/jobs: state.h */
	struct exec_config *cfg;
	const struct runtime_ops *rt_ops;
	struct runtime *rt;
	struct registry *reg;
	dms_context *life; /* cancelled by destroy: ends every engine call */

	pthread_mutex_t mu;  /* guards the fields below */
	pthread_cond_t cond; /* work queued, janitor poke, log thread exit */
	dms_event_fn event_fn;
	void *event_ud;
	dms_pull_progress_fn progress_fn;
	void *progress_ud;
	struct work *queue_head, *queue_tail;
	int removing; /* container removals under way (workers) */
	bool stopping;
	bool resync_needed;  /* the event stream (re)connected: relist now */
	bool resync_on_tick; /* a harvest could not be queued: relist at the next tick */
	bool events_connected;
	int64_t last_event_ns;      /* wall clock of the last event seen */
	int log_threads;            /* log stream threads not yet ended */
	struct pump *pumps;         /* the live ones (logs.c) */
	struct pump *pumps_ended;   /* ended, to be joined (logs_reap) */
	struct pull *pulls;         /* image pulls in progress, one per image */
	struct sweep *sweep;        /* made at its first use (sweep.c) */
	struct handler *watch_next; /* handed to an idle watcher (exit_watch.c), ref'd */
	int watchers_idle;
	pthread_cond_t watch_cond;        /* watch_next set, or stopping */
	struct exec_relay *execs;         /* exec.c: made at the first exec, under mu */
	struct stat_stream *stat_streams; /* open StatsStreams (live.c) */
	pthread_cond_t sampler_cond;      /* a job started, a stream opened, or stopping */
	bool sampler_running;
	pthread_t sampler_thread;

	pthread_t events_thread;
	pthread_t janitor_thread;
	pthread_t workers[EXECUTOR_WORKERS];
	int n_watchers; /* 0, or EXIT_WATCHERS (container_watch, exit_watch) */
	pthread_t watchers[EXIT_WATCHERS];
};

/* executor.c: the hook every handler reports its transitions to (the ABI's
 * event handler), and a wake-up of the janitor (a new deadline, a kill to
 * plan). */
void executor_on_handler_change(void *ud, const struct handler *h, dms_exec_state state,
                                const char *result_json);
void executor_poke_janitor(struct dms_executor *ex);

/* work_queue.c: the workers' queue. false: out of memory, nothing queued. */
bool executor_queue_harvest(struct dms_executor *ex, struct handler *h);
/* Removes container_id, then h's own network if it has one (h may be NULL). */
bool executor_queue_removal(struct dms_executor *ex, struct handler *h, const char *container_id);
void *executor_worker_main(void *arg);
/* destroy: lets queued and running removals finish, bounded. */
void executor_finish_removals(struct dms_executor *ex);
/* Frees what is still queued (no worker runs any more). */
void executor_queue_free(struct dms_executor *ex);
/* Tests only: the next n work allocations fail as if out of memory. */
extern int executor_test_failing_work_allocs;

/* harvest.c: an exit was seen (a die, a relist, the exit watch): h's exit
 * moves to SEEN and its harvest is queued, once. true when this call did. */
bool executor_mark_exited(struct dms_executor *ex, struct handler *h, const char *container_id,
                          int exit_code);
void executor_harvest(struct dms_executor *ex, struct handler *h);
/* <spool_dir>/<container name>.log, or NULL. */
char *executor_spool_path(struct dms_executor *ex, const struct handler *h);

/* exit_events.c: the event stream thread. */
void *executor_events_main(void *arg);

/* exit_watch.c: the watcher threads; a Start hands h to an idle one and
 * waits for its stream (false: not watched, the start goes ahead). */
void *executor_watcher_main(void *arg);
bool executor_watch_begin(struct dms_executor *ex, dms_context *ctx, struct handler *h);

/* recovery.c: h's state record (best effort), a predecessor's records
 * reloaded, and the relist of labelled containers (false: the engine could
 * not list; try again later). */
void executor_save_state(struct dms_executor *ex, struct handler *h);
void executor_restore_records(struct dms_executor *ex);
bool executor_resync(struct dms_executor *ex, dms_context *ctx);
/* The value of label `key` in a "k=v" vector, or NULL. */
const char *executor_label_value(strv labels, const char *key);

/* janitor.c: the janitor thread; the stop signal and its SIGKILL, once
 * per execution (h->mu not held); the stop settings of h. */
void *executor_janitor_main(void *arg);
void executor_begin_stop(struct dms_executor *ex, struct handler *h, const char *reason);
const char *executor_stop_signal(const struct dms_executor *ex, const struct handler *h);
int64_t executor_stop_timeout_ns(const struct dms_executor *ex, const struct handler *h);

/* image_pull.c: the request's image present as its pull_policy says. */
int executor_ensure_image(struct dms_executor *ex, dms_context *ctx, const struct exec_request *req,
                          dms_error **err);

/* start.c: network_mode "isolated": the job's own network. */
bool executor_wants_own_network(const struct exec_request *req);
void executor_remove_own_network(struct dms_executor *ex, dms_context *ctx,
                                 const struct handler *h);

/* ops.c: the registered handler of execution_id (ref'd; *out NULL and an
 * error otherwise; callers unref it whatever the outcome). */
int executor_lookup(struct dms_executor *ex, const char *execution_id, struct handler **out,
                    dms_error **err);

/* live.c: the sampler thread (usage and stats streams) and its wake-up
 * (a job started); a paused job thawed before its stop signal (h->mu and
 * h->live_mu not held: takes them). */
void *executor_sampler_main(void *arg);
void executor_poke_sampler(struct dms_executor *ex);
void executor_thaw_for_stop(struct dms_executor *ex, struct handler *h);

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
 * itself in with handler_reader_enter): the last one queues the removal
 * the harvest deferred for it. */
void executor_engine_reader_done(struct dms_executor *ex, struct handler *h);

/* exec.c: ends every exec (clients see EOF, waiters DMS_ERR_CANCELLED),
 * joins its threads and frees them; destroy calls it first. */
void exec_shutdown_all(struct dms_executor *ex);

#endif
