/* handler.c — one execution's state machine, result and waiters.
 *
 * Every state change goes through handler_transition(): it checks that the
 * move is forward, stores the final result, and then — outside the handler
 * lock but under notify_mu, so that one execution's notifications can never
 * overtake each other — tells the executor's hook and the async waiters.
 * Blocking waiters sleep on h->cond, which every transition broadcasts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "handler.h"

bool handler_state_final(dms_exec_state s)
{
	return s == DMS_STATE_EXITED || s == DMS_STATE_FAILED || s == DMS_STATE_CANCELLED;
}

bool handler_state_live(dms_exec_state s)
{
	return s == DMS_STATE_RUNNING || s == DMS_STATE_PAUSED;
}

/* The moves of the header comment: forward by rank (PAUSED ranks with
 * RUNNING, appended to the ABI's enum after the final states), and the
 * two between RUNNING and PAUSED. */
static int state_rank(dms_exec_state s)
{
	return s == DMS_STATE_PAUSED ? DMS_STATE_RUNNING : handler_state_final(s) ? 3 : (int)s;
}

bool handler_move_allowed(dms_exec_state from, dms_exec_state to)
{
	if (handler_state_final(from))
		return false;
	if (from == DMS_STATE_RUNNING && to == DMS_STATE_PAUSED)
		return true;
	if (from == DMS_STATE_PAUSED && to == DMS_STATE_RUNNING)
		return true;
	if (to == DMS_STATE_PAUSED)
		return false; /* only a running job is frozen */
	return state_rank(to) > state_rank(from);
}

struct handler *handler_new(const char *execution_id, const char *job_id,
                            const char *container_name, struct exec_request *req_owned,
                            handler_req_free_fn req_free, handler_notify_fn notify, void *notify_ud)
{
	struct handler *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->notify_mu, NULL);
	pthread_mutex_init(&h->live_mu, NULL);
	ctx_cond_init(&h->cond);
	h->refs = 1;
	h->execution_id = strdup(execution_id);
	h->job_id = strdup(job_id ? job_id : "");
	h->container_name = strdup(container_name ? container_name : "");
	h->req = req_owned;
	h->req_free = req_free;
	h->notify = notify;
	h->notify_ud = notify_ud;
	h->state = DMS_STATE_PENDING;
	h->event_exit_code = -1;
	h->deadline_mono_ns = INT64_MAX;
	h->kill_at_mono_ns = INT64_MAX;
	if (!h->execution_id || !h->job_id || !h->container_name) {
		h->req = NULL; /* not ours yet: the caller still owns it on failure */
		handler_unref(h);
		return NULL;
	}
	return h;
}

struct handler *handler_ref(struct handler *h)
{
	if (h)
		__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void handler_unref(struct handler *h)
{
	if (!h || __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	while (h->waiters) {
		struct handler_waiter *w = h->waiters;
		h->waiters = w->next;
		free(w);
	}
	if (h->req && h->req_free)
		h->req_free(h->req);
	free(h->execution_id);
	free(h->job_id);
	free(h->container_name);
	free(h->container_id);
	free(h->cancel_reason);
	free(h->spool_path);
	free(h->result_json);
	err_free(h->error);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->notify_mu);
	pthread_mutex_destroy(&h->live_mu);
	pthread_cond_destroy(&h->cond);
	free(h);
}

/* Calls one waiter with the final outcome of h (stable once final). */
static void call_waiter(struct handler *h, dms_wait_fn fn, void *ud)
{
	fn(ud, h->execution_id, h->result_json, h->result_json ? NULL : h->error);
}

int handler_transition(struct handler *h, dms_exec_state to, char *result_json, dms_error *error)
{
	pthread_mutex_lock(&h->notify_mu);
	pthread_mutex_lock(&h->mu);
	dms_exec_state from = h->state;
	bool forward = handler_move_allowed(from, to);
	struct handler_waiter *waiters = NULL;
	if (forward) {
		h->state = to;
		if (handler_state_final(to)) {
			h->result_json = result_json;
			h->error = error;
			h->finished_mono_ns = mono_now_ns();
			if (!h->result_json && !h->error)
				err_set(&h->error, DMS_ERR_INTERNAL,
				        "execution %s ended with no result", h->execution_id);
			waiters = h->waiters;
			h->waiters = NULL;
			result_json = NULL;
			error = NULL;
		}
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->mu);
	free(result_json);
	err_free(error);
	if (!forward) {
		pthread_mutex_unlock(&h->notify_mu);
		return 1;
	}
	/* Final fields never change again, so they are read without h->mu. */
	if (h->notify)
		h->notify(h->notify_ud, h, to, handler_state_final(to) ? h->result_json : NULL);
	while (waiters) {
		struct handler_waiter *w = waiters;
		waiters = w->next;
		call_waiter(h, w->fn, w->user_data);
		free(w);
	}
	pthread_mutex_unlock(&h->notify_mu);
	return 0;
}

int handler_add_waiter(struct handler *h, dms_wait_fn fn, void *ud)
{
	struct handler_waiter *w = calloc(1, sizeof(*w));
	/* notify_mu orders us against a transition that is delivering right now:
	 * either we queue before it takes the list, or we see the final state. */
	pthread_mutex_lock(&h->notify_mu);
	pthread_mutex_lock(&h->mu);
	bool final = handler_state_final(h->state);
	if (!final && w) {
		w->fn = fn;
		w->user_data = ud;
		w->next = h->waiters;
		h->waiters = w;
		w = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(&h->notify_mu);
	if (!final && w) { /* allocation failed: report it through the callback */
		free(w);
		dms_error e = {.struct_size = sizeof(e),
		               .category = DMS_ERR_RESOURCE,
		               .message = (char *)"out of memory queueing a waiter"};
		fn(ud, h->execution_id, NULL, &e);
		return 1;
	}
	free(w);
	if (final)
		call_waiter(h, fn, ud);
	return final ? 1 : 0;
}

int handler_wait(struct handler *h, dms_context *ctx, char **result_json, dms_error **err)
{
	int rc = 0;
	pthread_mutex_lock(&h->mu);
	while (!handler_state_final(h->state)) {
		rc = ctx_cond_wait(ctx, &h->cond, &h->mu, INT64_MAX);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		pthread_mutex_unlock(&h->mu);
		return err_set(err, rc, "wait for %s: %s", h->execution_id,
		               rc == DMS_ERR_TIMEOUT ? "deadline exceeded" : "cancelled by caller");
	}
	if (h->result_json) {
		char *copy = strdup(h->result_json);
		pthread_mutex_unlock(&h->mu);
		if (!copy)
			return err_set(err, DMS_ERR_RESOURCE, "out of memory copying a result");
		*result_json = copy;
		return 0;
	}
	rc = h->error->category;
	if (err)
		*err = err_dup(h->error);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void handler_abandon_waiters(struct handler *h, const dms_error *err)
{
	pthread_mutex_lock(&h->notify_mu);
	pthread_mutex_lock(&h->mu);
	struct handler_waiter *waiters = h->waiters;
	h->waiters = NULL;
	pthread_mutex_unlock(&h->mu);
	while (waiters) {
		struct handler_waiter *w = waiters;
		waiters = w->next;
		w->fn(w->user_data, h->execution_id, NULL, err);
		free(w);
	}
	pthread_mutex_unlock(&h->notify_mu);
}

/* --- where the execution stands ---------------------------------------- */

/* Every setter below: one move of the header comment's table, under h->mu,
 * broadcast on h->cond for whoever waits on the fact (a Cancel waiting for
 * the exit, a log stream waiting for the harvest, a Start for its watch). */

int handler_set_container(struct handler *h, const char *container_id, bool tty, bool *cancelled)
{
	char *copy = strdup(container_id);
	if (!copy)
		return -1;
	pthread_mutex_lock(&h->mu);
	free(h->container_id);
	h->container_id = copy;
	h->tty = tty;
	if (cancelled)
		*cancelled = h->cancel_requested;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

bool handler_note_started(struct handler *h, int64_t timeout_ns)
{
	pthread_mutex_lock(&h->mu);
	h->watch_started = true;
	bool ended = h->watch == HANDLER_WATCH_ENDED;
	h->started_mono_ns = mono_now_ns();
	if (timeout_ns > 0)
		h->deadline_mono_ns = h->started_mono_ns + timeout_ns;
	pthread_mutex_unlock(&h->mu);
	return ended;
}

bool handler_note_exit(struct handler *h, const char *container_id, int exit_code)
{
	pthread_mutex_lock(&h->mu);
	bool take = h->exit == HANDLER_EXIT_UNSEEN && !handler_state_final(h->state) &&
	            h->container_id &&
	            (!container_id || strcmp(h->container_id, container_id) == 0);
	if (take) {
		h->exit = HANDLER_EXIT_SEEN;
		if (exit_code >= 0)
			h->event_exit_code = exit_code;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->mu);
	return take;
}

void handler_note_oom(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	h->oom_event = true;
	pthread_mutex_unlock(&h->mu);
}

void handler_defer_harvest(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->exit == HANDLER_EXIT_SEEN)
		h->exit = HANDLER_EXIT_UNSEEN;
	pthread_mutex_unlock(&h->mu);
}

void handler_mark_harvested(struct handler *h, char *spool_path)
{
	pthread_mutex_lock(&h->mu);
	free(h->spool_path);
	h->spool_path = spool_path;
	h->exit = HANDLER_EXIT_HARVESTED;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

char *handler_live_container(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool live =
	    handler_state_live(h->state) && h->exit == HANDLER_EXIT_UNSEEN && h->container_id;
	char *cid = live ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	return cid;
}

bool handler_reader_enter(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool ok = h->exit != HANDLER_EXIT_HARVESTED && h->container_id;
	if (ok)
		h->engine_readers++;
	pthread_mutex_unlock(&h->mu);
	return ok;
}

char *handler_reader_leave(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool due =
	    --h->engine_readers == 0 && h->removal == HANDLER_REMOVAL_DEFERRED && h->container_id;
	if (due)
		h->removal = HANDLER_REMOVAL_DUE;
	char *cid = due ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	return cid;
}

bool handler_removal_request(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool now = h->engine_readers == 0;
	h->removal = now ? HANDLER_REMOVAL_DUE : HANDLER_REMOVAL_DEFERRED;
	pthread_mutex_unlock(&h->mu);
	return now;
}

void handler_watch_handed(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->watch == HANDLER_WATCH_NONE)
		h->watch = HANDLER_WATCH_PENDING;
	pthread_mutex_unlock(&h->mu);
}

void handler_watch_attached(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->watch == HANDLER_WATCH_PENDING)
		h->watch = HANDLER_WATCH_ATTACHED;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

bool handler_watch_wait_attached(struct handler *h, dms_context *ctx, int64_t until)
{
	pthread_mutex_lock(&h->mu);
	while (h->watch == HANDLER_WATCH_PENDING &&
	       ctx_cond_wait(ctx, &h->cond, &h->mu, until) == 0)
		;
	bool attached = h->watch == HANDLER_WATCH_ATTACHED;
	pthread_mutex_unlock(&h->mu);
	return attached;
}

bool handler_watch_end(struct handler *h, bool by_itself)
{
	pthread_mutex_lock(&h->mu);
	h->watch = by_itself ? HANDLER_WATCH_ENDED : HANDLER_WATCH_OVER;
	bool exited = by_itself && h->watch_started;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	return exited;
}

bool handler_request_cancel(struct handler *h, const char *reason)
{
	pthread_mutex_lock(&h->mu);
	bool first = !handler_state_final(h->state) && !h->cancel_requested;
	if (first) {
		h->cancel_requested = true;
		free(h->cancel_reason);
		h->cancel_reason = strdup(reason);
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->mu);
	return first;
}

char *handler_arm_kill(struct handler *h, int64_t grace_ns)
{
	pthread_mutex_lock(&h->mu);
	bool arm = handler_state_live(h->state) && h->exit == HANDLER_EXIT_UNSEEN &&
	           h->container_id && h->kill_at_mono_ns == INT64_MAX;
	char *cid = arm ? strdup(h->container_id) : NULL;
	if (cid)
		h->kill_at_mono_ns = mono_now_ns() + grace_ns;
	pthread_mutex_unlock(&h->mu);
	return cid;
}

char *handler_take_due_kill(struct handler *h, int64_t now)
{
	pthread_mutex_lock(&h->mu);
	bool due = h->kill_at_mono_ns <= now && h->container_id;
	char *cid = due ? strdup(h->container_id) : NULL;
	if (due)
		h->kill_at_mono_ns = INT64_MAX;
	pthread_mutex_unlock(&h->mu);
	return cid;
}

/* --- usage ------------------------------------------------------------- */

void handler_note_usage(struct handler *h, const struct handler_usage *sample)
{
	pthread_mutex_lock(&h->mu);
	struct handler_usage *u = &h->usage;
	/* Cumulative counters only grow: a smaller figure is a sample the
	 * engine took from a cgroup being torn down, never the truth. */
	if (sample->cpu_ns > u->cpu_ns)
		u->cpu_ns = sample->cpu_ns;
	if (sample->mem_peak > u->mem_peak)
		u->mem_peak = sample->mem_peak;
	if (sample->blk_read > u->blk_read)
		u->blk_read = sample->blk_read;
	if (sample->blk_write > u->blk_write)
		u->blk_write = sample->blk_write;
	if (sample->net_rx > u->net_rx)
		u->net_rx = sample->net_rx;
	if (sample->net_tx > u->net_tx)
		u->net_tx = sample->net_tx;
	u->samples++;
	u->last_mono_ns = sample->last_mono_ns;
	u->last_wall_ns = sample->last_wall_ns;
	u->last_cpu_ns = sample->last_cpu_ns;
	u->last_system_ns = sample->last_system_ns;
	pthread_mutex_unlock(&h->mu);
}

void handler_get_usage(struct handler *h, struct handler_usage *out)
{
	pthread_mutex_lock(&h->mu);
	*out = h->usage;
	pthread_mutex_unlock(&h->mu);
}
