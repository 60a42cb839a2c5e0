/* handler.h — the life of one execution, in one place: its state, the
 * facts about where it stands between its exit and its removal, its
 * result, its waiters. Every field that changes after creation is written
 * only by the functions below, under h->mu; other layers read them under
 * h->mu. docs/architecture.md, "The handler's state", draws the whole.
 *
 * The state (dms_exec_state, what the ABI reports) moves only in
 * handler_transition(), which also wakes blocking waiters, calls async
 * waiters exactly once and reports the change to the executor's hook, in
 * order, outside the handler lock:
 *
 *   PENDING -> CREATED -> RUNNING -> EXITED | FAILED | CANCELLED
 *   PENDING | CREATED -> FAILED | CANCELLED
 *   RUNNING <-> PAUSED (pause, resume);  PAUSED -> EXITED | FAILED | CANCELLED
 *
 * States only move forward (PAUSED ranks with RUNNING): a transition to a
 * state at or before the current one is a no-op (returns 1), so a racing
 * starter and harvester cannot move an execution backwards. The one
 * sideways pair is RUNNING <-> PAUSED; nothing but RUNNING is paused.
 *
 * Beside it, four facts the ABI does not show, each with its own moves:
 *
 *   exit     UNSEEN -> SEEN -> HARVESTED          (handler_note_exit,
 *            SEEN -> UNSEEN: the harvest deferred   handler_defer_harvest,
 *            UNSEEN -> HARVESTED: restored final     handler_mark_harvested)
 *            SEEN: the container's exit was seen (a die, a relist, an
 *            exit watch) and its harvest is queued or under way; only
 *            from a live state, once: a second sighting is a no-op.
 *            Deferred (the engine did not answer, the container still
 *            runs): forgotten, so the next relist sees it again — the one
 *            backward move. HARVESTED: the spool holds the whole log (or
 *            never will); set before the final transition, never left.
 *   readers  engine_readers, log streams reading the container from the
 *            engine: counted in while not HARVESTED (handler_reader_enter),
 *            out by handler_reader_leave.
 *   removal  NONE -> DEFERRED -> DUE, NONE -> DUE (handler_removal_request,
 *            handler_reader_leave): after the harvest the container is
 *            removed at once (DUE) or, while readers remain, by the last
 *            of them (DEFERRED, then DUE).
 *   watch    NONE -> PENDING -> ATTACHED -> ENDED | OVER, PENDING -> ENDED |
 *            OVER (handler_watch_*): the exit watch's hold on the job
 *            (executor exit_watch.c). ENDED: its stream ended by itself,
 *            the exit hint; OVER: refused, failed, or its time was up.
 *            watch_started: the container's start returned; the hint
 *            counts once both are true, whichever came second reports it.
 *
 * Cancellation (cancel_requested, cancel_reason) is set once, on a live
 * execution (handler_request_cancel), and the SIGKILL of a cancel is armed
 * and disarmed by handler_arm_kill / handler_take_due_kill. */
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

enum handler_exit { HANDLER_EXIT_UNSEEN, HANDLER_EXIT_SEEN, HANDLER_EXIT_HARVESTED };
enum handler_removal { HANDLER_REMOVAL_NONE, HANDLER_REMOVAL_DEFERRED, HANDLER_REMOVAL_DUE };
enum handler_watch {
	HANDLER_WATCH_NONE,
	HANDLER_WATCH_PENDING,  /* handed to a watcher, not attached yet */
	HANDLER_WATCH_ATTACHED, /* its stream is open: the start may go ahead */
	HANDLER_WATCH_ENDED,    /* the stream ended by itself: the exit hint */
	HANDLER_WATCH_OVER,     /* refused, failed, or its time was up */
};

/* What the sampler (executor live.c) learnt of the job's resource use: the
 * largest figure of every sample so far (cumulative counters, the peak). */
struct handler_usage {
	uint64_t cpu_ns, mem_peak, blk_read, blk_write, net_rx, net_tx;
	uint32_t samples;
	int64_t last_mono_ns, last_wall_ns;   /* when the latest sample was taken */
	uint64_t last_cpu_ns, last_system_ns; /* its raw CPU figures (cpu percentage) */
};

struct handler {
	pthread_mutex_t live_mu;   /* serialises pause/resume (their engine call) */
	pthread_mutex_t mu;        /* guards every field below but the constants */
	pthread_cond_t cond;       /* broadcast on every transition and flag change */
	pthread_mutex_t notify_mu; /* serialises transitions + their callbacks */
	int refs;

	/* constant after creation */
	char *execution_id;
	char *job_id;
	char *container_name;
	struct exec_request *req; /* NULL for recovered executions */
	handler_req_free_fn req_free;
	handler_notify_fn notify;
	void *notify_ud;

	dms_exec_state state;
	char *container_id; /* handler_set_container */
	bool tty;
	bool cancel_requested;  /* Cancel, Cleanup or the job deadline: result.cancelled */
	char *cancel_reason;    /* "cancelled" | "deadline exceeded after 5s" */
	enum handler_exit exit; /* above: exit */
	int event_exit_code;    /* from the die event, -1 unknown */
	bool oom_event;         /* an oom event was seen */
	int engine_readers;     /* above: readers */
	enum handler_removal removal;
	enum handler_watch watch;
	bool watch_started; /* the container was started (so the hint counts) */
	char *spool_path;   /* NULL until harvested */
	char *result_json;  /* final states */
	dms_error *error;   /* FAILED without a result */
	struct handler_waiter *waiters;
	int64_t started_mono_ns;     /* handler_note_started */
	int64_t deadline_mono_ns;    /* job deadline, INT64_MAX none */
	int64_t kill_at_mono_ns;     /* cancel: SIGKILL after the grace period, INT64_MAX none */
	int64_t finished_mono_ns;    /* set on the final transition; retention */
	struct handler_usage usage;  /* handler_note_usage */
	int64_t next_sample_mono_ns; /* the sampler's plan (live.c), under h->mu */

	struct handler *next; /* registry chain */
};

struct handler *handler_new(const char *execution_id, const char *job_id,
                            const char *container_name, struct exec_request *req_owned,
                            handler_req_free_fn req_free, handler_notify_fn notify,
                            void *notify_ud);
struct handler *handler_ref(struct handler *h);
void handler_unref(struct handler *h); /* frees at zero; NULL-safe */

bool handler_state_final(dms_exec_state s);
/* RUNNING or PAUSED: the container exists and runs (frozen or not). */
bool handler_state_live(dms_exec_state s);
/* Whether handler_transition moves from -> to (the header comment). */
bool handler_move_allowed(dms_exec_state from, dms_exec_state to);

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

/* --- where the execution stands (the header comment) ----------------- */

/* Records the container (copied; NULL when out of memory, then -1) and
 * whether it has a tty. *cancelled: whether a cancel came meanwhile. */
int handler_set_container(struct handler *h, const char *container_id, bool tty, bool *cancelled);
/* The container's start returned: the job's clock and deadline (timeout_ns
 * 0: none) start now. true when the exit watch already ended by itself,
 * which is then the exit to report. */
bool handler_note_started(struct handler *h, int64_t timeout_ns);

/* exit UNSEEN -> SEEN, on a live execution whose container is container_id
 * (NULL: whichever it has). exit_code >= 0 is kept for the result (a die's
 * code; a destroy or a relist passes -1 and keeps it). true when this call
 * moved it: the caller queues the harvest. */
bool handler_note_exit(struct handler *h, const char *container_id, int exit_code);
void handler_note_oom(struct handler *h);
/* exit SEEN -> UNSEEN: the harvest could not be done now (or could not be
 * queued); the next relist sees the exit again. */
void handler_defer_harvest(struct handler *h);
/* exit -> HARVESTED, taking spool_path (may be NULL: no spool). */
void handler_mark_harvested(struct handler *h, char *spool_path);
/* The container id (a copy) when h is RUNNING, its exit not seen and its
 * container known: the one a relist or a deadline has to look at. */
char *handler_live_container(struct handler *h);

/* readers: a log stream begins reading the container from the engine.
 * false when already harvested (read the spool instead). */
bool handler_reader_enter(struct handler *h);
/* ...and ends. Returns the container id (a copy) when this was the last
 * reader of a removal deferred to it: the caller queues the removal. */
char *handler_reader_leave(struct handler *h);
/* removal after the harvest: true when it is due now (no reader), false
 * when deferred to the last reader. */
bool handler_removal_request(struct handler *h);

/* watch NONE -> PENDING (the executor handed h to a watcher). */
void handler_watch_handed(struct handler *h);
/* watch PENDING -> ATTACHED (the watch's stream is open). */
void handler_watch_attached(struct handler *h);
/* Waits while PENDING, until `until` (monotonic) or ctx is done; true when
 * ATTACHED. */
bool handler_watch_wait_attached(struct handler *h, dms_context *ctx, int64_t until);
/* watch -> ENDED (by_itself) or OVER. true when that is the exit to report
 * (it ended by itself after the start returned). */
bool handler_watch_end(struct handler *h, bool by_itself);

/* Cancellation, set once on a live execution: true when this call set it. */
bool handler_request_cancel(struct handler *h, const char *reason);
/* Arms the SIGKILL at now + grace_ns if h is RUNNING, its exit unseen and
 * no kill is armed: returns its container id (a copy) to send the stop
 * signal to, else NULL. */
char *handler_arm_kill(struct handler *h, int64_t grace_ns);
/* Disarms a kill due at `now`: returns the container id to SIGKILL. */
char *handler_take_due_kill(struct handler *h, int64_t now);

/* Usage: merges one sample (the largest figures win), and a copy. */
void handler_note_usage(struct handler *h, const struct handler_usage *sample);
void handler_get_usage(struct handler *h, struct handler_usage *out);

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
