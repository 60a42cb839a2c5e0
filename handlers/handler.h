/* handler.h — the life of one execution: its state machine, its result, its
 * waiters. Transitions happen only in handler_transition(), which also
 * wakes blocking waiters, calls async waiters exactly once and reports the
 * change to the executor's hook, in order, outside the handler lock.
 *
 *   PENDING -> CREATED -> RUNNING -> EXITED | FAILED | CANCELLED
 *   PENDING | CREATED -> FAILED | CANCELLED
 *
 * States only move forward: a transition to a state at or before the
 * current one is a no-op (returns 1), so a racing starter and harvester
 * cannot move an execution backwards. */
#ifndef DMS_HANDLER_H
#define DMS_HANDLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <dms/executor.h>

struct handler;
/* The decoded request: opaque here (handlers sit below decode); the
 * handler owns it and frees it with the function given to handler_new. */
struct exec_request;
typedef void (*handler_req_free_fn)(struct exec_request *req);

/* The executor's hook for state changes (D-Bus signals). */
typedef void (*handler_notify_fn)(void *ud, const struct handler *h, dms_exec_state state,
                                  const char *result_json);

struct handler_waiter {
	dms_wait_fn fn;
	void *user_data;
	struct handler_waiter *next;
};

struct handler {
	pthread_mutex_t mu;        /* guards every field below but the constants */
	pthread_cond_t cond;       /* broadcast on every transition and flag change */
	pthread_mutex_t notify_mu; /* serialises transitions + their callbacks */
	int refs;

	/* constant after creation */
	char *execution_id;
	char *job_id;
	char *container_name;
	struct exec_request *req;  /* NULL for recovered executions */
	handler_req_free_fn req_free;
	handler_notify_fn notify;
	void *notify_ud;

	dms_exec_state state;
	char *container_id;
	bool tty;
	bool cancel_requested;     /* Cancel or the job deadline: result.cancelled */
	char *cancel_reason;       /* "cancelled" | "deadline exceeded after 5s" */
	bool exit_seen;            /* die observed; harvest queued or done */
	int event_exit_code;       /* from the die event, -1 unknown */
	bool oom_event;
	bool harvested;            /* spool complete (or never will be) */
	int engine_readers;        /* log streams reading the container (logs.c) */
	bool remove_deferred;      /* harvested: remove when engine_readers is 0 */
	int watch;                 /* the exit watch's state (executor.c, WATCH_*) */
	bool watch_started;        /* the container was started (so the hint counts) */
	char *spool_path;          /* NULL until harvested */
	char *result_json;         /* final states */
	dms_error *error;          /* FAILED without a result */
	struct handler_waiter *waiters;
	int64_t started_mono_ns;
	int64_t deadline_mono_ns;  /* job deadline, INT64_MAX none */
	int64_t kill_at_mono_ns;   /* cancel: SIGKILL after the grace period */
	int64_t finished_mono_ns;  /* set on the final transition; retention */

	struct handler *next;      /* registry chain */
};

struct handler *handler_new(const char *execution_id, const char *job_id,
                            const char *container_name, struct exec_request *req_owned,
                            handler_req_free_fn req_free, handler_notify_fn notify,
                            void *notify_ud);
struct handler *handler_ref(struct handler *h);
void handler_unref(struct handler *h); /* frees at zero; NULL-safe */

bool handler_state_final(dms_exec_state s);

/* The one place a state changes. For final states takes ownership of
 * result_json and/or error (either may be NULL). Returns 0 when the state
 * changed, 1 when it was a no-op (not forward; ownership still taken:
 * freed). */
int handler_transition(struct handler *h, dms_exec_state to, char *result_json, dms_error *error);

/* Registers an async waiter: returns 1 and calls fn at once (outside the
 * lock) if already final, else queues it and returns 0. */
int handler_add_waiter(struct handler *h, dms_wait_fn fn, void *ud);

/* Blocks until final or ctx done. 0: *result_json (a copy) or *err (copy of
 * the failure) is set and the return is 0 or the failure's category. */
int handler_wait(struct handler *h, dms_context *ctx, char **result_json, dms_error **err);

/* Fails every queued waiter with err (executor shutdown). */
void handler_abandon_waiters(struct handler *h, const dms_error *err);

/* --- the registry: handlers by execution id ------------------------- */
struct registry;
struct registry *registry_new(void);
void registry_free(struct registry *r); /* unrefs every handler */
/* Inserts h (taking a ref) unless the id exists: then returns that one
 * (ref'd) in *existing and 1. Returns 0 when inserted. */
int registry_insert(struct registry *r, struct handler *h, struct handler **existing);
/* ref'd handler or NULL */
struct handler *registry_get(struct registry *r, const char *execution_id);
/* Removes h if it is the one registered under its id (unrefs it). */
void registry_remove(struct registry *r, struct handler *h);
/* Calls fn for every handler (ref held during the call, registry lock not
 * held). fn returns true to remove the handler from the registry. */
void registry_foreach(struct registry *r, bool (*fn)(void *ud, struct handler *h), void *ud);
size_t registry_count(struct registry *r);

#endif
