/* context.c — the cancellable, optionally deadlined context of context.h.
 *
 * Exists because every blocking call in the plugin (waits, pulls, log and
 * event streams) must be abandonable from another thread and bounded in
 * time, the way Go's context.Context bounds the DMS interface it mirrors.
 * Cancellation is a flag, not a signal to waiters: waiters sleep in short
 * slices (ctx_cond_wait) so that one context can be shared by any number of
 * condition variables without registering with them.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "context.h"

/* Longest a waiter sleeps before looking at the context again. */
#define CTX_SLICE_NS (50LL * 1000 * 1000)

struct dms_context {
	atomic_bool cancelled;
	_Atomic int64_t deadline_ns; /* absolute CLOCK_MONOTONIC, INT64_MAX: none */
	const dms_context *parent;   /* done when it is; NULL: none */
	int hangup_fd;               /* cancelled once its peer closed; -1: none */
};

dms_context *ctx_new(int64_t timeout_ms)
{
	dms_context *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	atomic_init(&ctx->cancelled, false);
	ctx->hangup_fd = -1;
	if (timeout_ms <= 0 || timeout_ms > (INT64_MAX - mono_now_ns()) / 1000000)
		ctx->deadline_ns = INT64_MAX; /* none, or beyond what the clock can say */
	else
		ctx->deadline_ns = mono_now_ns() + timeout_ms * 1000000;
	return ctx;
}

dms_context *ctx_new_child(const dms_context *parent, int hangup_fd)
{
	dms_context *ctx = ctx_new(0);

	if (ctx) {
		ctx->parent = parent;
		ctx->hangup_fd = hangup_fd;
	}
	return ctx;
}

/* POLLHUP on a unix stream socket means both directions are shut: the peer
 * closed (a reader's own shutdown(SHUT_WR) alone does not raise it). */
static bool peer_hung_up(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = 0};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

void ctx_cancel(dms_context *ctx)
{
	if (ctx)
		atomic_store(&ctx->cancelled, true);
}

void ctx_free(dms_context *ctx)
{
	free(ctx);
}

int ctx_status(const dms_context *ctx)
{
	if (!ctx)
		return 0;
	if (atomic_load(&((dms_context *)ctx)->cancelled))
		return DMS_ERR_CANCELLED;
	int64_t deadline = atomic_load(&((dms_context *)ctx)->deadline_ns);
	if (deadline != INT64_MAX && mono_now_ns() >= deadline)
		return DMS_ERR_TIMEOUT;
	if (ctx->parent) {
		int rc = ctx_status(ctx->parent);

		if (rc != 0)
			return rc;
	}
	if (ctx->hangup_fd >= 0 && peer_hung_up(ctx->hangup_fd))
		return DMS_ERR_CANCELLED;
	return 0;
}

int64_t ctx_deadline_ns(const dms_context *ctx)
{
	int64_t own, parent;

	if (!ctx)
		return INT64_MAX;
	own = atomic_load(&((dms_context *)ctx)->deadline_ns);
	parent = ctx_deadline_ns(ctx->parent);
	return parent < own ? parent : own;
}

void ctx_set_deadline_ns(dms_context *ctx, int64_t deadline_ns)
{
	if (ctx)
		atomic_store(&ctx->deadline_ns, deadline_ns);
}

void ctx_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

int ctx_cond_wait(const dms_context *ctx, pthread_cond_t *cond, pthread_mutex_t *mu,
                  int64_t extra_deadline_ns)
{
	int64_t deadline = ctx_deadline_ns(ctx);

	if (extra_deadline_ns < deadline)
		deadline = extra_deadline_ns;

	for (;;) {
		int rc = ctx_status(ctx);
		int64_t now, until;
		struct timespec ts;

		if (rc != 0)
			return rc;
		now = mono_now_ns();
		if (now >= extra_deadline_ns)
			return DMS_ERR_TIMEOUT;
		until = (deadline - now > CTX_SLICE_NS) ? now + CTX_SLICE_NS : deadline;
		ts.tv_sec = (time_t)(until / 1000000000LL);
		ts.tv_nsec = (long)(until % 1000000000LL);
		rc = pthread_cond_timedwait(cond, mu, &ts);
		if (rc == 0)
			return 0;
		if (rc != ETIMEDOUT)
			return DMS_ERR_INTERNAL;
		/* The end of a slice returns as a spurious wakeup, so the caller
		 * re-checks its predicate: a wakeup the condition variable lost
		 * then costs one slice, not a hang (seen under valgrind: a
		 * handler in a final state, its blocking waiter still asleep). */
		if (until < deadline)
			return 0;
	}
}
