/* pool.c — on-demand worker threads with a cap and a FIFO (see pool.h). */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define IDLE_EXIT_SECONDS 30

struct task {
	struct task *next;
	host_task_fn fn;
	void *arg;
};

/* One per worker thread: joined once it ended (pool_reap). */
struct worker {
	struct host_pool *pool;
	pthread_t thread;
	struct worker *next; /* ended, under lock */
};

struct host_pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a task was queued or the pool is stopping */
	pthread_cond_t gone; /* a thread exited */
	struct task *head, *tail;
	size_t max_threads;
	size_t n_threads;
	size_t n_idle;
	size_t n_queued;
	bool stopping;
	struct worker *ended; /* threads that returned, not joined yet */
};

/* Takes the first queued task and runs it. Called with p->lock held;
 * releases it while the task runs and holds it again on return. */
static void run_head(struct host_pool *p)
{
	struct task *t = p->head;

	p->head = t->next;
	if (!p->head)
		p->tail = NULL;
	p->n_queued--;
	pthread_mutex_unlock(&p->lock);
	t->fn(t->arg);
	free(t);
	pthread_mutex_lock(&p->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct host_pool *p = w->pool;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += IDLE_EXIT_SECONDS;
			p->n_idle++;
			int r = pthread_cond_timedwait(&p->work, &p->lock, &until);
			p->n_idle--;
			if (r == ETIMEDOUT && !p->head)
				goto out;
		}
		if (!p->head)
			break; /* stopping and nothing left */
		run_head(p);
	}
out:
	/* Joined later, not detached: a detached thread could still be
	 * exiting (thread-local destructors: libcurl's OpenSSL error state)
	 * after drain_and_free returned and the host went on to exit. */
	w->next = p->ended;
	p->ended = w;
	p->n_threads--;
	pthread_cond_broadcast(&p->gone);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Joins the threads that ended (lock held; they no longer take it). */
static void pool_reap(struct host_pool *p)
{
	while (p->ended) {
		struct worker *w = p->ended;
		p->ended = w->next;
		pthread_join(w->thread, NULL);
		free(w);
	}
}

struct host_pool *host_pool_new(size_t max_threads)
{
	struct host_pool *p = host_calloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->gone, NULL);
	p->max_threads = max_threads ? max_threads : 1;
	return p;
}

void host_pool_submit(struct host_pool *p, host_task_fn fn, void *arg)
{
	struct task *t = host_calloc(1, sizeof(*t));

	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	p->n_queued++;
	/* A new thread when the idle ones cannot take every queued task (an
	 * idle thread counts as idle until it wakes up) and we are under the
	 * cap; otherwise the task waits in the queue. */
	pool_reap(p);
	if (p->n_queued > p->n_idle && p->n_threads < p->max_threads) {
		struct worker *w = host_calloc(1, sizeof(*w));
		pthread_attr_t attr;

		w->pool = p;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 1024 * 1024);
		/* (under lock: w->thread is set before the thread can end) */
		if (pthread_create(&w->thread, &attr, worker_main, w) == 0) {
			p->n_threads++;
		} else {
			if (p->n_threads == 0)
				host_log("cannot create a worker thread: %s", strerror(errno));
			free(w);
		}
		pthread_attr_destroy(&attr);
	}
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void host_pool_drain_and_free(struct host_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	/* Tasks may submit more tasks while draining (an executor's final
	 * unref queues its destroy), so wait for the queue and the threads. */
	while (p->n_threads > 0 || p->head) {
		if (p->head && p->n_threads == 0) {
			run_head(p);
			continue;
		}
		pthread_cond_wait(&p->gone, &p->lock);
	}
	pool_reap(p);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->gone);
	free(p);
}
