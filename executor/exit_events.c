/* exit_events.c — the event stream thread: one label-filtered engine
 * event stream per executor, however many jobs it runs (docs/
 * architecture.md, "Exit detection"). A `die` marks the job exited and
 * queues its harvest; `oom` is remembered for the result; a `destroy`
 * re-marks a job whose harvest was deferred. Every (re)connect asks the
 * janitor to relist, so nothing that happened while disconnected is
 * missed; reconnects resume a second before the last event seen. */
#include "context.h"
#include "executor_internal.h"

#define RECONNECT_MIN_NS (100 * NS_PER_MS)
#define RECONNECT_MAX_NS (2 * NS_PER_S)

static int on_engine_event(void *ud, const struct runtime_event *ev)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	if (ev->time_ns > ex->last_event_ns)
		ex->last_event_ns = ev->time_ns;
	pthread_mutex_unlock(&ex->mu);
	if (!ev->execution_id ||
	    (ev->kind != RT_EV_DIE && ev->kind != RT_EV_OOM && ev->kind != RT_EV_DESTROY))
		return 0;
	struct handler *h = registry_get(ex->reg, ev->execution_id);
	if (!h)
		return 0; /* not ours yet (recovery): the resync adopts it */
	if (ev->kind == RT_EV_OOM) {
		handler_note_oom(h);
	} else if (ev->kind == RT_EV_DIE) {
		executor_mark_exited(ex, h, ev->container_id, ev->exit_code);
	} else {
		/* Destroyed: normally harvested already (a no-op then). Not when
		 * its harvest ran while a forced removal was under way (Cleanup,
		 * `docker rm -f`): the log read failed, the harvest was deferred,
		 * and no die event will come again. */
		executor_mark_exited(ex, h, ev->container_id, -1);
	}
	handler_unref(h);
	return 0;
}

static void on_events_ready(void *ud)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	ex->events_connected = true;
	ex->resync_needed = true;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

void *executor_events_main(void *arg)
{
	struct dms_executor *ex = arg;
	int64_t backoff = RECONNECT_MIN_NS;
	for (;;) {
		pthread_mutex_lock(&ex->mu);
		bool stop = ex->stopping;
		/* Resume a little before the last event seen: duplicates are
		 * harmless (marking an exit is idempotent), gaps are not. */
		int64_t since = ex->last_event_ns ? ex->last_event_ns - NS_PER_S : 0;
		pthread_mutex_unlock(&ex->mu);
		if (stop)
			break;
		int64_t t0 = mono_now_ns();
		ex->rt_ops->events(ex->rt, ex->life, ex->label, since, on_events_ready,
		                   on_engine_event, ex, NULL);
		pthread_mutex_lock(&ex->mu);
		ex->events_connected = false;
		if (mono_now_ns() - t0 > 10 * NS_PER_S)
			backoff = RECONNECT_MIN_NS; /* it was up for a while */
		int64_t until = mono_now_ns() + backoff;
		while (!ex->stopping && ctx_cond_wait(NULL, &ex->cond, &ex->mu, until) == 0)
			;
		pthread_mutex_unlock(&ex->mu);
		backoff = backoff * 2 > RECONNECT_MAX_NS ? RECONNECT_MAX_NS : backoff * 2;
	}
	return NULL;
}
