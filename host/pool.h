/* pool.h — the worker threads that run blocking plugin calls for dms-host.
 *
 * Why: the bus loop must never block, but Start, Cancel, Cleanup,
 * IsInstalled and GetLogStream block on the engine. Each call becomes a
 * task; tasks run on up to `max_threads` threads created on demand (idle
 * ones exit after a while), the rest wait in a FIFO queue, so one slow
 * call never delays another unless `max_threads` calls are all slow. */
#ifndef DMS_HOST_POOL_H
#define DMS_HOST_POOL_H

#include <stddef.h>

struct host_pool;
typedef void (*host_task_fn)(void *arg);

struct host_pool *host_pool_new(size_t max_threads);
/* Queues fn(arg). Never fails (allocation failure is fatal). */
void host_pool_submit(struct host_pool *p, host_task_fn fn, void *arg);
/* Waits until the queue is empty and every thread finished, then frees. */
void host_pool_drain_and_free(struct host_pool *p);

#endif
