/* exit_watch.c — a new job's exit seen through its own attach stream.
 *
 * Podman's event stream polls its events file every 250 ms, so a `die`
 * reaches us up to that long after the exit: most of a short job's time.
 * For the first cfg->exit_watch after its start, a job whose start found an
 * idle watcher also has its exit watched through its own attach stream
 * (runtime.h container_watch), which ends when the process does. The end is
 * only a hint: it queues the same harvest a `die` would, whose inspect
 * decides (a stream dropped by a restarting engine ends the same way, and
 * defers the harvest). EXIT_WATCHERS threads, so threads and connections
 * stay constant whatever the number of jobs; a job started while all are
 * busy, or running longer, is seen by the events alone. The watch's own
 * state is the handler's (handler.h, "watch"). docs/architecture.md,
 * "Exit watch". */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "executor_internal.h"

#define WATCH_ATTACH_MAX_NS (10 * NS_PER_S)

static void watch_attached(void *ud)
{
	handler_watch_attached(ud);
}

/* Hands h to an idle watcher and waits until its stream is attached, which
 * a start must not overtake. false: not watched (none idle, refused, slow);
 * the start goes ahead either way. Whichever comes second, the watch's end
 * or the start's return (handler_note_started), reports the exit. */
bool executor_watch_begin(struct dms_executor *ex, dms_context *ctx, struct handler *h)
{
	pthread_mutex_lock(&ex->mu);
	bool handed = ex->watchers_idle > 0 && !ex->watch_next && !ex->stopping;
	if (handed) {
		ex->watchers_idle--;
		handler_watch_handed(h); /* ex->mu -> h->mu: the lock order */
		ex->watch_next = handler_ref(h);
		pthread_cond_signal(&ex->watch_cond);
	}
	pthread_mutex_unlock(&ex->mu);
	if (!handed)
		return false;
	return handler_watch_wait_attached(h, ctx, mono_now_ns() + WATCH_ATTACH_MAX_NS);
}

static void watch_one(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	char *cid = h->container_id ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	dms_context *wctx = ctx_new_child(ex->life, -1);
	int rc = DMS_ERR_RESOURCE;
	if (wctx && cid) {
		ctx_set_deadline_ns(wctx, mono_now_ns() + ex->cfg->exit_watch_ms * NS_PER_MS);
		rc = ex->rt_ops->container_watch(ex->rt, wctx, cid, watch_attached, h, NULL);
	}
	ctx_free(wctx);
	if (handler_watch_end(h, rc == 0))
		executor_mark_exited(ex, h, cid, -1);
	free(cid);
}

void *executor_watcher_main(void *arg)
{
	struct dms_executor *ex = arg;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		while (!ex->stopping && !ex->watch_next)
			pthread_cond_wait(&ex->watch_cond, &ex->mu);
		if (ex->stopping)
			break;
		struct handler *h = ex->watch_next;
		ex->watch_next = NULL;
		pthread_mutex_unlock(&ex->mu);
		watch_one(ex, h);
		handler_unref(h);
		pthread_mutex_lock(&ex->mu);
		ex->watchers_idle++;
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}
