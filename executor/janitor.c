/* janitor.c — the janitor thread: the relist when the event stream asks
 * for it (recovery.c), job deadlines and the SIGKILL that follows a stop
 * signal's grace period, the retirement of finished handlers after
 * `retention`, and the orphan sweep's ticks (sweep.c). It sleeps until the
 * earliest of those is due, at most a tick; no thread sleeps through a
 * grace period (docs/architecture.md, "Cancellation without blocking"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "executor_internal.h"
#include "state.h"
#include "sweep.h"

#define JANITOR_TICK_NS (1 * NS_PER_S)

struct janitor_pass {
	struct dms_executor *ex;
	int64_t now;
	int64_t next; /* earliest time something is due */
};

static void send_signal(struct dms_executor *ex, const char *cid, const char *sig)
{
	ex->rt_ops->container_kill(ex->rt, ex->life, cid, sig, NULL);
}

const char *executor_stop_signal(const struct dms_executor *ex, const struct handler *h)
{
	if (h->req && h->req->stop_signal)
		return h->req->stop_signal;
	return ex->cfg->stop_signal ? ex->cfg->stop_signal : "SIGTERM";
}

int64_t executor_stop_timeout_ns(const struct dms_executor *ex, const struct handler *h)
{
	int64_t ms = h->req && h->req->stop_timeout_ms >= 0 ? h->req->stop_timeout_ms
	                                                    : ex->cfg->stop_timeout_ms;
	return ms * NS_PER_MS;
}

/* Marks the cancellation (its reason, once), sends the stop signal and arms
 * the SIGKILL, once per execution. Takes h->mu itself (the caller does not
 * hold it): the engine call is made without it. */
void executor_begin_stop(struct dms_executor *ex, struct handler *h, const char *reason)
{
	if (handler_request_cancel(h, reason)) /* a successor must know it is a cancellation */
		executor_save_state(ex, h);
	int64_t grace = executor_stop_timeout_ns(ex, h);
	char *cid = handler_arm_kill(h, grace);
	if (!cid)
		return;
	/* A frozen job cannot act on its stop signal: thaw it first (it is
	 * then RUNNING again, reported as such, until its exit). */
	executor_thaw_for_stop(ex, h);
	send_signal(ex, cid, grace == 0 ? "SIGKILL" : executor_stop_signal(ex, h));
	executor_poke_janitor(ex); /* it plans the SIGKILL */
	free(cid);
}

static bool janitor_handler(void *ud, struct handler *h)
{
	struct janitor_pass *jp = ud;
	struct dms_executor *ex = jp->ex;
	pthread_mutex_lock(&h->mu);
	if (handler_state_final(h->state)) {
		/* Retired (spool and record removed) once its retention is over
		 * and nobody waits on it. */
		int64_t expiry = h->finished_mono_ns + ex->cfg->retention_ms * NS_PER_MS;
		bool retire = expiry <= jp->now && h->waiters == NULL;
		char *spool = retire && h->spool_path ? strdup(h->spool_path) : NULL;
		pthread_mutex_unlock(&h->mu);
		if (spool)
			unlink(spool);
		free(spool);
		if (retire)
			state_remove(ex->jobs_dir, h->container_name);
		if (!retire && expiry < jp->next)
			jp->next = expiry;
		return retire;
	}
	if (!handler_state_live(h->state) || h->exit != HANDLER_EXIT_UNSEEN || !h->container_id) {
		pthread_mutex_unlock(&h->mu);
		return false;
	}
	bool deadline = !h->cancel_requested && h->deadline_mono_ns <= jp->now;
	bool kill = !deadline && h->kill_at_mono_ns <= jp->now;
	if (!deadline && !kill) {
		if (h->kill_at_mono_ns < jp->next)
			jp->next = h->kill_at_mono_ns;
		if (!h->cancel_requested && h->deadline_mono_ns < jp->next)
			jp->next = h->deadline_mono_ns;
	}
	pthread_mutex_unlock(&h->mu);
	if (deadline) {
		char reason[96];
		snprintf(reason, sizeof(reason), "deadline exceeded: the job ran longer than %.3gs",
		         h->req ? h->req->timeout_ms / 1000.0 : 0.0);
		executor_begin_stop(ex, h, reason);
		jp->next = jp->now; /* re-plan for the kill deadline */
	} else if (kill) {
		char *cid = handler_take_due_kill(h, jp->now);
		if (cid)
			send_signal(ex, cid, "SIGKILL");
		free(cid);
	}
	return false;
}

void *executor_janitor_main(void *arg)
{
	struct dms_executor *ex = arg;
	bool retry = false; /* the last resync failed: again on the next tick */
	for (;;) {
		pthread_mutex_lock(&ex->mu);
		bool stop = ex->stopping;
		bool do_resync = ex->resync_needed || ex->resync_on_tick || retry;
		ex->resync_needed = false;
		ex->resync_on_tick = false;
		pthread_mutex_unlock(&ex->mu);
		if (stop)
			break;
		/* (A failed list once set resync_needed again, which skipped the
		 * wait below: the janitor spun on the engine while it was down.) */
		retry = do_resync && !executor_resync(ex, ex->life);
		struct janitor_pass jp = {.ex = ex, .now = mono_now_ns()};
		jp.next = jp.now + JANITOR_TICK_NS;
		registry_foreach(ex->reg, janitor_handler, &jp);
		sweep_tick(ex, jp.now, &jp.next);
		pthread_mutex_lock(&ex->mu);
		while (!ex->stopping && !ex->resync_needed && jp.next > mono_now_ns())
			if (ctx_cond_wait(NULL, &ex->cond, &ex->mu, jp.next) != 0)
				break;
		pthread_mutex_unlock(&ex->mu);
	}
	return NULL;
}
