/* test_context.c — unit tests of the cancellable context
 * (executor/context.c): status transitions, deadlines, and ctx_cond_wait
 * waking on signal, cancellation from another thread, the context deadline
 * and the extra deadline, each within a bound. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "test_time.h"
#include "test_assert.h"

#define MS (1000000LL)

TestSuite(context, .timeout = 20);

Test(context, null_context_is_never_done)
{
	cr_assert_eq(ctx_status(NULL), 0, "status = %d", ctx_status(NULL));
	cr_assert_eq(ctx_deadline_ns(NULL), INT64_MAX, "deadline = %lld",
	             (long long)ctx_deadline_ns(NULL));
	ctx_cancel(NULL);
	ctx_free(NULL);
}

Test(context, new_without_deadline)
{
	dms_context *ctx = ctx_new(0);

	cr_assert_not_null(ctx, "ctx = %p", (void *)(ctx));
	cr_assert_eq(ctx_status(ctx), 0, "status = %d", ctx_status(ctx));
	cr_assert_eq(ctx_deadline_ns(ctx), INT64_MAX, "deadline = %lld",
	             (long long)ctx_deadline_ns(ctx));
	ctx_free(ctx);
	ctx = ctx_new(-5);
	cr_assert_eq(ctx_deadline_ns(ctx), INT64_MAX, "negative timeout gave a deadline");
	ctx_free(ctx);
}

Test(context, deadline_is_absolute_monotonic)
{
	int64_t before = mono_now_ns();
	dms_context *ctx = ctx_new(5000);
	int64_t after = mono_now_ns();
	int64_t d = ctx_deadline_ns(ctx);

	cr_assert(d >= before + 5000 * MS && d <= after + 5000 * MS,
	          "deadline %lld not in [%lld, %lld]", (long long)d,
	          (long long)(before + 5000 * MS), (long long)(after + 5000 * MS));
	ctx_free(ctx);
}

Test(context, huge_timeout_does_not_overflow)
{
	dms_context *ctx = ctx_new(INT64_MAX);

	cr_assert_eq(ctx_status(ctx), 0, "status = %d", ctx_status(ctx));
	cr_assert_gt(ctx_deadline_ns(ctx), mono_now_ns(), "deadline wrapped");
	ctx_free(ctx);
}

Test(context, cancel_sets_status)
{
	dms_context *ctx = ctx_new(0);

	ctx_cancel(ctx);
	cr_assert_eq(ctx_status(ctx), DMS_ERR_CANCELLED, "status = %d", ctx_status(ctx));
	ctx_cancel(ctx); /* idempotent */
	cr_assert_eq(ctx_status(ctx), DMS_ERR_CANCELLED, "status = %d", ctx_status(ctx));
	ctx_free(ctx);
}

Test(context, clocks_are_sane)
{
	int64_t a = mono_now_ns(), b = mono_now_ns();
	int64_t wall = wall_now_ns();
	int64_t t = (int64_t)time(NULL);

	cr_assert_geq(b, a, "monotonic went back: %lld < %lld", (long long)b, (long long)a);
	cr_assert(wall / 1000000000LL >= t - 1 && wall / 1000000000LL <= t + 1,
	          "wall %lld vs time() %lld", (long long)(wall / 1000000000LL), (long long)t);
}

struct waitfix {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	dms_context *ctx;
	bool signal_instead;
};

static void waitfix_init(struct waitfix *w, dms_context *ctx)
{
	pthread_mutex_init(&w->mu, NULL);
	ctx_cond_init(&w->cond);
	w->ctx = ctx;
	w->signal_instead = false;
}

static void waitfix_destroy(struct waitfix *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	ctx_free(w->ctx);
}

/* Takes the mutex — which the waiter holds until it is inside the wait —
 * then cancels without signalling, or signals. */
static void *poke(void *arg)
{
	struct waitfix *w = arg;

	pthread_mutex_lock(&w->mu);
	if (w->signal_instead)
		pthread_cond_signal(&w->cond);
	else
		ctx_cancel(w->ctx);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

Test(context, cancel_from_another_thread_wakes_waiter)
{
	struct waitfix w;
	pthread_t t;
	int64_t start, elapsed;
	int rc;

	waitfix_init(&w, ctx_new(0));
	pthread_mutex_lock(&w.mu);
	pthread_create(&t, NULL, poke, &w);
	start = mono_now_ns();
	do
		rc = ctx_cond_wait(w.ctx, &w.cond, &w.mu, mono_now_ns() + test_ms(5000) * MS);
	while (rc == 0);
	elapsed = mono_now_ns() - start;
	pthread_mutex_unlock(&w.mu);
	pthread_join(t, NULL);

	cr_assert_eq(rc, DMS_ERR_CANCELLED, "rc = %d", rc);
	/* Observed within one 50 ms slice; allow scheduling slack. */
	cr_assert_lt(elapsed, test_ms(1000) * MS, "woke after %lld ms", (long long)(elapsed / MS));
	waitfix_destroy(&w);
}

Test(context, signal_returns_zero)
{
	struct waitfix w;
	pthread_t t;
	int rc;

	waitfix_init(&w, NULL);
	w.signal_instead = true;
	pthread_mutex_lock(&w.mu);
	pthread_create(&t, NULL, poke, &w);
	rc = ctx_cond_wait(NULL, &w.cond, &w.mu, mono_now_ns() + test_ms(5000) * MS);
	pthread_mutex_unlock(&w.mu);
	pthread_join(t, NULL);
	/* 0 on the signal; a slice timeout also returns 0 only as a spurious
	 * wakeup, which is never DMS_ERR_TIMEOUT before the deadline. */
	cr_assert_eq(rc, 0, "rc = %d", rc);
	waitfix_destroy(&w);
}

Test(context, expired_context_deadline_is_timeout)
{
	struct waitfix w;
	int64_t start, elapsed;
	int rc;

	start = mono_now_ns(); /* before ctx_new(): the deadline counts from there */
	waitfix_init(&w, ctx_new(100));
	pthread_mutex_lock(&w.mu);
	do
		rc = ctx_cond_wait(w.ctx, &w.cond, &w.mu, INT64_MAX);
	while (rc == 0);
	pthread_mutex_unlock(&w.mu);
	elapsed = mono_now_ns() - start;

	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "rc = %d", rc);
	cr_assert_eq(ctx_status(w.ctx), DMS_ERR_TIMEOUT, "status = %d", ctx_status(w.ctx));
	cr_assert_geq(elapsed, 100 * MS, "returned early after %lld ms", (long long)(elapsed / MS));
	cr_assert_lt(elapsed, test_ms(2000) * MS, "returned late after %lld ms",
	             (long long)(elapsed / MS));
	waitfix_destroy(&w);
}

Test(context, extra_deadline_is_timeout)
{
	struct waitfix w;
	int64_t start = mono_now_ns(), elapsed;
	int rc;

	waitfix_init(&w, ctx_new(0));
	pthread_mutex_lock(&w.mu);
	do
		rc = ctx_cond_wait(w.ctx, &w.cond, &w.mu, start + 120 * MS);
	while (rc == 0);
	pthread_mutex_unlock(&w.mu);
	elapsed = mono_now_ns() - start;

	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "rc = %d", rc);
	cr_assert_eq(ctx_status(w.ctx), 0, "ctx itself should still be usable: %d",
	             ctx_status(w.ctx));
	cr_assert_geq(elapsed, 120 * MS, "returned early after %lld ms", (long long)(elapsed / MS));
	waitfix_destroy(&w);
}

Test(context, already_done_returns_at_once)
{
	struct waitfix w;
	int rc;

	waitfix_init(&w, ctx_new(0));
	ctx_cancel(w.ctx);
	pthread_mutex_lock(&w.mu);
	rc = ctx_cond_wait(w.ctx, &w.cond, &w.mu, INT64_MAX);
	pthread_mutex_unlock(&w.mu);
	cr_assert_eq(rc, DMS_ERR_CANCELLED, "rc = %d", rc);

	pthread_mutex_lock(&w.mu);
	rc = ctx_cond_wait(NULL, &w.cond, &w.mu, mono_now_ns() - 1);
	pthread_mutex_unlock(&w.mu);
	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "past extra deadline: rc = %d", rc);
	waitfix_destroy(&w);
}

Test(context, cancel_wins_over_later_deadline)
{
	dms_context *ctx = ctx_new(60000);

	ctx_cancel(ctx);
	cr_assert_eq(ctx_status(ctx), DMS_ERR_CANCELLED, "status = %d", ctx_status(ctx));
	ctx_free(ctx);
}

Test(context, child_is_done_when_its_parent_is)
{
	dms_context *parent = ctx_new(0), *child = ctx_new_child(parent, -1);

	cr_assert_eq(ctx_status(child), 0, "ctx_status(child) = %lld",
	             (long long)(ctx_status(child)));
	ctx_cancel(parent);
	cr_assert_eq(ctx_status(child), DMS_ERR_CANCELLED, "child status %d", ctx_status(child));
	ctx_free(child);
	ctx_free(parent);

	parent = ctx_new(1);
	child = ctx_new_child(parent, -1);
	cr_assert_eq(ctx_deadline_ns(child), ctx_deadline_ns(parent), "the parent's deadline");
	ctx_free(child);
	ctx_free(parent);
}

Test(context, child_is_cancelled_when_the_reader_closes_its_socket)
{
	int sv[2];
	dms_context *ctx;

	assert_cmp(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	ctx = ctx_new_child(NULL, sv[1]);
	/* A reader that only reads shuts its writing side: not a hang-up. */
	shutdown(sv[0], SHUT_WR);
	cr_assert_eq(ctx_status(ctx), 0, "status %d after the reader's SHUT_WR", ctx_status(ctx));
	close(sv[0]);
	cr_assert_eq(ctx_status(ctx), DMS_ERR_CANCELLED, "status %d after close", ctx_status(ctx));
	ctx_free(ctx);
	close(sv[1]);
}
