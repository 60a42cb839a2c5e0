/* context.h — the cancellable, optionally deadlined context that blocking
 * calls take (the C form of Go's context.Context). A NULL context is valid
 * everywhere and means: no deadline, never cancelled. */
#ifndef DMS_CONTEXT_H
#define DMS_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <dms/executor.h>
#include "clock.h"

dms_context *ctx_new(int64_t timeout_ms);
/* A context that is also done when `parent` is (parent may be NULL; it must
 * outlive the child), and cancelled once the peer of the socket `hangup_fd`
 * (-1: none) has closed it — so a thread that serves a reader notices the
 * reader left even while it has nothing to send. */
dms_context *ctx_new_child(const dms_context *parent, int hangup_fd);
void ctx_cancel(dms_context *ctx);
void ctx_free(dms_context *ctx);

/* 0 while usable, DMS_ERR_CANCELLED or DMS_ERR_TIMEOUT once done. */
int ctx_status(const dms_context *ctx);
/* Absolute CLOCK_MONOTONIC deadline in ns, or INT64_MAX. */
int64_t ctx_deadline_ns(const dms_context *ctx);
/* Moves the deadline (thread-safe): a sliding deadline, e.g. "no progress
 * for 2 minutes", is pushed forward on every sign of progress. */
void ctx_set_deadline_ns(dms_context *ctx, int64_t deadline_ns);

/* Waits on cond until it is signalled, the ctx is done, or extra_deadline_ns
 * (absolute monotonic, INT64_MAX: none) passes. The mutex must be held.
 * Returns 0 when signalled (spurious wakeups included — callers loop on
 * their predicate), else ctx_status() or DMS_ERR_TIMEOUT. The cond must have
 * been initialised with CLOCK_MONOTONIC (ctx_cond_init). Cancellation is
 * observed within 50 ms. */
#include <pthread.h>
void ctx_cond_init(pthread_cond_t *cond);
int ctx_cond_wait(const dms_context *ctx, pthread_cond_t *cond, pthread_mutex_t *mu,
                  int64_t extra_deadline_ns);

#endif
