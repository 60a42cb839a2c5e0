/* work_queue.c — the workers' queue: harvests (harvest.c) and container
 * removals, run by EXECUTOR_WORKERS threads so that the number of threads
 * does not follow the number of jobs.
 *
 * A queueing can fail only for want of memory, and then says so: a
 * harvest that is not queued must not be forgotten (its waiters would hang
 * with the job RUNNING), so executor_mark_exited turns the failure back
 * into an exit not yet seen, which the janitor's next relist finds. */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "executor_internal.h"

#define DESTROY_REMOVALS_TIMEOUT_MS 5000

enum work_kind { WORK_HARVEST, WORK_REMOVE };

struct work {
	enum work_kind kind;
	struct handler *h;  /* WORK_HARVEST; WORK_REMOVE: its network goes too (may be NULL) */
	char *container_id; /* WORK_REMOVE */
	struct work *next;
};

int executor_test_failing_work_allocs;

static void work_free(struct work *w)
{
	if (!w)
		return;
	handler_unref(w->h);
	free(w->container_id);
	free(w);
}

static struct work *work_new(enum work_kind kind, struct handler *h, const char *container_id)
{
	int failing = __atomic_load_n(&executor_test_failing_work_allocs, __ATOMIC_RELAXED);
	while (failing > 0 &&
	       !__atomic_compare_exchange_n(&executor_test_failing_work_allocs, &failing,
	                                    failing - 1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (failing > 0)
		return NULL;
	struct work *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->kind = kind;
	w->h = handler_ref(h);
	if (container_id && !(w->container_id = strdup(container_id))) {
		work_free(w);
		return NULL;
	}
	return w;
}

static bool enqueue(struct dms_executor *ex, struct work *w)
{
	if (!w)
		return false;
	pthread_mutex_lock(&ex->mu);
	if (ex->queue_tail)
		ex->queue_tail->next = w;
	else
		ex->queue_head = w;
	ex->queue_tail = w;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
	return true;
}

bool executor_queue_harvest(struct dms_executor *ex, struct handler *h)
{
	return enqueue(ex, work_new(WORK_HARVEST, h, NULL));
}

bool executor_queue_removal(struct dms_executor *ex, struct handler *h, const char *container_id)
{
	if (enqueue(ex, work_new(WORK_REMOVE, h, container_id)))
		return true;
	/* The container stays: the relist finds a finished execution's
	 * leftover (recovery.c) and queues it again. */
	pthread_mutex_lock(&ex->mu);
	ex->resync_on_tick = true;
	pthread_mutex_unlock(&ex->mu);
	return false;
}

/* The oldest harvest, else the oldest removal: a Wait replies after its
 * harvest, while a removal only tidies up. In FIFO order a job's exit waited
 * behind the removals of the jobs before it (50–400 ms each on a loaded
 * dockerd), which put removal back on the critical path of Run as soon as
 * jobs overlapped (issue 8). The queue is not empty; ex->mu is held. */
static struct work *dequeue_locked(struct dms_executor *ex)
{
	struct work *prev = NULL, *w = ex->queue_head;
	while (w && w->kind != WORK_HARVEST) {
		prev = w;
		w = w->next;
	}
	if (!w) {
		prev = NULL;
		w = ex->queue_head;
	}
	if (prev)
		prev->next = w->next;
	else
		ex->queue_head = w->next;
	if (ex->queue_tail == w)
		ex->queue_tail = prev;
	w->next = NULL;
	return w;
}

void *executor_worker_main(void *arg)
{
	struct dms_executor *ex = arg;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		while (!ex->stopping && !ex->queue_head)
			pthread_cond_wait(&ex->cond, &ex->mu);
		if (ex->stopping)
			break;
		struct work *w = dequeue_locked(ex);
		bool removal = w->kind == WORK_REMOVE;
		ex->removing += removal;
		pthread_mutex_unlock(&ex->mu);
		if (!removal)
			executor_harvest(ex, w->h);
		else if (ex->rt_ops->container_remove(ex->rt, ex->life, w->container_id, true,
		                                      NULL) == 0)
			executor_remove_own_network(ex, ex->life, w->h);
		work_free(w);
		pthread_mutex_lock(&ex->mu);
		if (removal) {
			ex->removing--;
			pthread_cond_broadcast(&ex->cond); /* executor_finish_removals */
		}
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* Lets the workers do the removals queued or under way (the jobs' results
 * were delivered; their containers go off the critical path), so that a
 * clean shutdown leaves no finished job's container behind. Bounded; what
 * is left, the next executor with this id removes (its resync), as do
 * Cleanup and the orphan sweep. */
void executor_finish_removals(struct dms_executor *ex)
{
	int64_t until = mono_now_ns() + DESTROY_REMOVALS_TIMEOUT_MS * NS_PER_MS;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		bool pending = ex->removing > 0;
		for (struct work *w = ex->queue_head; w && !pending; w = w->next)
			pending = w->kind == WORK_REMOVE;
		if (!pending || ctx_cond_wait(NULL, &ex->cond, &ex->mu, until) != 0)
			break;
	}
	pthread_mutex_unlock(&ex->mu);
}

void executor_queue_free(struct dms_executor *ex)
{
	while (ex->queue_head) {
		struct work *w = ex->queue_head;
		ex->queue_head = w->next;
		work_free(w);
	}
	ex->queue_tail = NULL;
}
