/* executor.c — an executor's life: made (config, runtime, state dirs, the
 * recovery of a dead predecessor's jobs, its threads), and destroyed.
 *
 * Threads per executor, whatever the number of jobs (docs/architecture.md,
 * "Exit detection"):
 *   events   exit_events.c: one label-filtered engine event stream; a `die`
 *            marks the handler exited and queues its harvest. Every
 *            (re)connect asks the janitor to relist, so an exit missed
 *            while disconnected is still found.
 *   janitor  janitor.c: relists (recovery.c), job deadlines and cancel
 *            grace periods, retention, the orphan sweep.
 *   workers  work_queue.c (EXECUTOR_WORKERS): harvests (harvest.c), then
 *            container removals off the critical path.
 *   watchers exit_watch.c (EXIT_WATCHERS, engines with container_watch):
 *            a new job's exit through its attach stream.
 * The operations (start.c, ops.c, image_pull.c, logs.c) run on the
 * caller's thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "context.h"
#include "error.h"
#include "executor_internal.h"
#include "labels.h"
#include "runtime_names.h"
#include "sweep.h"

#define RESYNC_AT_START_TIMEOUT_MS 5000

void executor_on_handler_change(void *ud, const struct handler *h, dms_exec_state state,
                                const char *result_json)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	dms_event_fn fn = ex->event_fn;
	void *fn_ud = ex->event_ud;
	pthread_mutex_unlock(&ex->mu);
	if (fn)
		fn(fn_ud, h->execution_id, state, result_json);
}

int executor_set_event_handler(struct dms_executor *ex, dms_event_fn fn, void *ud)
{
	pthread_mutex_lock(&ex->mu);
	ex->event_fn = fn;
	ex->event_ud = ud;
	pthread_mutex_unlock(&ex->mu);
	return 0;
}

void executor_poke_janitor(struct dms_executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* Ends the threads of ex, the first `started` of the order below. */
static void stop_threads(struct dms_executor *ex, int started)
{
	pthread_mutex_lock(&ex->mu);
	ex->stopping = true;
	pthread_cond_broadcast(&ex->cond);
	pthread_cond_broadcast(&ex->watch_cond);
	pthread_mutex_unlock(&ex->mu);
	ctx_cancel(ex->life);
	if (started > 0)
		pthread_join(ex->events_thread, NULL);
	if (started > 1)
		pthread_join(ex->janitor_thread, NULL);
	for (int i = 0; i < started - 2 && i < EXECUTOR_WORKERS; i++)
		pthread_join(ex->workers[i], NULL);
	for (int i = 0; i < started - 2 - EXECUTOR_WORKERS; i++)
		pthread_join(ex->watchers[i], NULL);
	handler_unref(ex->watch_next); /* handed over, never taken */
	ex->watch_next = NULL;
}

/* Events, janitor, workers, watchers; all or none. */
static bool start_threads(struct dms_executor *ex)
{
	int started = 0, want = 2 + EXECUTOR_WORKERS + ex->n_watchers;
	if (pthread_create(&ex->events_thread, NULL, executor_events_main, ex) == 0)
		started++;
	if (started == 1 &&
	    pthread_create(&ex->janitor_thread, NULL, executor_janitor_main, ex) == 0)
		started++;
	for (int i = 0; started == 2 + i && i < EXECUTOR_WORKERS; i++)
		if (pthread_create(&ex->workers[i], NULL, executor_worker_main, ex) == 0)
			started++;
	for (int i = 0; started == 2 + EXECUTOR_WORKERS + i && i < ex->n_watchers; i++)
		if (pthread_create(&ex->watchers[i], NULL, executor_watcher_main, ex) == 0)
			started++;
	if (started == want)
		return true;
	stop_threads(ex, started);
	return false;
}

int executor_new(const char *id, const char *config_yaml, struct dms_executor **out,
                 dms_error **err)
{
	return executor_new_with_runtime(id, config_yaml, NULL, out, err);
}

/* Frees what executor_new built, once no thread of ex runs any more. */
static void free_executor(struct dms_executor *ex)
{
	executor_queue_free(ex);
	sweep_free(ex->sweep);
	registry_free(ex->reg);
	if (ex->rt)
		ex->rt_ops->close(ex->rt);
	ctx_free(ex->life);
	config_free(ex->cfg);
	free(ex->id);
	free(ex->label);
	free(ex->spool_dir);
	free(ex->jobs_dir);
	pthread_mutex_destroy(&ex->mu);
	pthread_cond_destroy(&ex->cond);
	pthread_cond_destroy(&ex->watch_cond);
	free(ex);
}

/* $DMS_CONTAINER_RUNTIME, else the config's `runtime:` (docker | podman |
 * auto); `auto` asks the engines which one answers (runtimes/runtime.c). */
static int pick_runtime(struct dms_executor *ex, dms_error **err)
{
	const char *name = getenv("DMS_CONTAINER_RUNTIME");
	const char *from = "DMS_CONTAINER_RUNTIME";
	int rc;
	if (!name || !*name) {
		name = ex->cfg->runtime ? ex->cfg->runtime : RUNTIME_DEFAULT;
		from = "runtime";
	}
	if ((rc = runtime_select(name, ex->cfg->host, &ex->rt_ops, err)) != 0)
		return err_wrap(err, rc, "%s", from);
	return 0;
}

int executor_new_with_runtime(const char *id, const char *config_yaml,
                              const struct runtime_ops *ops, struct dms_executor **out,
                              dms_error **err)
{
	int rc;
	if (!id || !request_valid_id(id, 64))
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "executor id '%s': must be 1-64 characters of [A-Za-z0-9_.:-]",
		               id ? id : "(null)");
	struct dms_executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	pthread_mutex_init(&ex->mu, NULL);
	ctx_cond_init(&ex->cond);
	pthread_cond_init(&ex->watch_cond, NULL);
	if ((rc = config_parse(config_yaml, &ex->cfg, err)) != 0)
		goto fail;
	ex->rt_ops = ops;
	if (!ops && (rc = pick_runtime(ex, err)) != 0)
		goto fail;
	ex->id = strdup(id);
	ex->reg = registry_new();
	ex->life = ctx_new(0);
	if (!ex->id || !ex->reg || !ex->life ||
	    asprintf(&ex->label, "%s=%s", LABEL_EXECUTOR, id) < 0 ||
	    asprintf(&ex->spool_dir, "%s/%s/spool", ex->cfg->state_dir, id) < 0 ||
	    asprintf(&ex->jobs_dir, "%s/%s/jobs", ex->cfg->state_dir, id) < 0) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	if (mkdir_p(ex->spool_dir, 0700) != 0 || mkdir_p(ex->jobs_dir, 0700) != 0) {
		rc = err_set(err, DMS_ERR_CONFIG, "state_dir: cannot create %s: %s", ex->jobs_dir,
		             strerror(errno));
		goto fail;
	}
	if (RT_HAS(ex->rt_ops, open_config))
		rc = ex->rt_ops->open_config(ex->cfg, &ex->rt, err);
	else if (ex->cfg->tls_ca || ex->cfg->tls_cert)
		rc = err_set(err, DMS_ERR_CONFIG, "%s: not used by the %s runtime (only swarm speaks TLS)",
		             ex->cfg->tls_ca ? "tls_ca" : "tls_cert", ex->rt_ops->kind);
	else
		rc = ex->rt_ops->open(ex->cfg->host, &ex->rt, err);
	if (rc != 0) {
		err_wrap(err, rc, "runtime %s", ex->rt_ops->kind);
		goto fail;
	}
	/* Recover a dead predecessor's jobs before returning, so that its
	 * executions are known to the first Wait. Bounded: an engine that does
	 * not answer leaves it to the event thread's first connect. */
	executor_restore_records(ex);
	dms_context *first = ctx_new(RESYNC_AT_START_TIMEOUT_MS);
	if (!executor_resync(ex, first))
		ex->resync_needed = true; /* the janitor tries again (no thread yet) */
	ctx_free(first);
	if (RT_HAS(ex->rt_ops, container_watch) && ex->cfg->exit_watch_ms > 0)
		ex->n_watchers = EXIT_WATCHERS;
	ex->watchers_idle = ex->n_watchers;
	if (!start_threads(ex)) {
		rc = err_set(err, DMS_ERR_RESOURCE, "cannot start executor threads");
		goto fail;
	}
	*out = ex;
	return 0;
fail:
	free_executor(ex);
	return rc;
}

static bool abandon_one(void *ud, struct handler *h)
{
	handler_abandon_waiters(h, ud);
	return false;
}

void executor_destroy(struct dms_executor *ex)
{
	if (!ex)
		return;
	executor_finish_removals(ex);
	stop_threads(ex, 2 + EXECUTOR_WORKERS + ex->n_watchers);
	/* Log threads wait with ex->life, cancelled above; one blocked writing
	 * to a reader that does not read is released by shutting its socket. */
	logs_shutdown_all(ex);
	pthread_mutex_lock(&ex->mu);
	while (ex->log_threads > 0)
		pthread_cond_wait(&ex->cond, &ex->mu);
	pthread_mutex_unlock(&ex->mu);
	logs_reap(ex);
	dms_error e = {.struct_size = sizeof(e),
	               .category = DMS_ERR_CANCELLED,
	               .message = (char *)"the executor was destroyed before the execution ended"};
	registry_foreach(ex->reg, abandon_one, &e);
	free_executor(ex);
}
