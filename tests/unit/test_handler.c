/* test_handler.c — the per-execution state machine and the registry:
 * forward-only transitions, exactly-once waiters, ordered notifications,
 * blocking waits with deadlines, registry identity and growth. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "handler.h"
#include "test_time.h"
#include "test_assert.h"

#define MAX_EVENTS 16

struct recorder {
	pthread_mutex_t mu;
	dms_exec_state states[MAX_EVENTS];
	int n;
	int results; /* notifications that carried a result */
};

static void record(void *ud, const struct handler *h, dms_exec_state st, const char *result)
{
	(void)h;
	struct recorder *r = ud;
	pthread_mutex_lock(&r->mu);
	if (r->n < MAX_EVENTS)
		r->states[r->n++] = st;
	r->results += result != NULL;
	pthread_mutex_unlock(&r->mu);
}

static struct recorder rec;

static struct handler *new_handler(const char *id)
{
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.mu, NULL);
	struct handler *h = handler_new(id, "job", "dms-x-y", NULL, NULL, record, &rec);
	cr_assert(h, "h is false");
	return h;
}

Test(handler, moves_forward_and_reports_in_order)
{
	struct handler *h = new_handler("e1");
	assert_cmp(handler_transition(h, DMS_STATE_CREATED, NULL, NULL), ==, 0);
	assert_cmp(handler_transition(h, DMS_STATE_RUNNING, NULL, NULL), ==, 0);
	cr_assert_eq(handler_transition(h, DMS_STATE_CREATED, NULL, NULL), 1, "moved backwards");
	assert_cmp(handler_transition(h, DMS_STATE_EXITED, strdup("{\"exit_code\":0}"), NULL), ==,
	           0);
	cr_assert_eq(handler_transition(h, DMS_STATE_CANCELLED, strdup("{}"), NULL), 1,
	             "a final state changed");
	cr_assert_eq(rec.n, 3, "notifications: %d", rec.n);
	cr_assert_eq(rec.states[0], DMS_STATE_CREATED, "rec.states[0] = %lld",
	             (long long)(rec.states[0]));
	cr_assert_eq(rec.states[1], DMS_STATE_RUNNING, "rec.states[1] = %lld",
	             (long long)(rec.states[1]));
	cr_assert_eq(rec.states[2], DMS_STATE_EXITED, "rec.states[2] = %lld",
	             (long long)(rec.states[2]));
	cr_assert_eq(rec.results, 1, "rec.results = %lld", (long long)(rec.results));
	cr_assert_str_eq(h->result_json, "{\"exit_code\":0}", "h->result_json = \"%s\"",
	                 h->result_json);
	cr_assert_gt(h->finished_mono_ns, 0, "h->finished_mono_ns = %lld",
	             (long long)(h->finished_mono_ns));
	handler_unref(h);
}

struct transition_case {
	dms_exec_state from;
	dms_exec_state to;
	int expect;
};

ParameterizedTestParameters(handler, transition_table)
{
	static struct transition_case cases[] = {
	    {DMS_STATE_PENDING, DMS_STATE_CREATED, 0},
	    {DMS_STATE_PENDING, DMS_STATE_FAILED, 0},
	    {DMS_STATE_PENDING, DMS_STATE_CANCELLED, 0},
	    {DMS_STATE_CREATED, DMS_STATE_RUNNING, 0},
	    {DMS_STATE_CREATED, DMS_STATE_PENDING, 1},
	    {DMS_STATE_RUNNING, DMS_STATE_RUNNING, 1},
	    {DMS_STATE_RUNNING, DMS_STATE_EXITED, 0},
	    {DMS_STATE_EXITED, DMS_STATE_FAILED, 1},
	    {DMS_STATE_FAILED, DMS_STATE_CANCELLED, 1},
	    {DMS_STATE_CANCELLED, DMS_STATE_RUNNING, 1},
	};
	return cr_make_param_array(struct transition_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct transition_case *c, handler, transition_table)
{
	struct handler *h = new_handler("t");
	h->state = c->from;
	int rc =
	    handler_transition(h, c->to, handler_state_final(c->to) ? strdup("{}") : NULL, NULL);
	cr_assert_eq(rc, c->expect, "%s -> %s gave %d", dms_state_name(c->from),
	             dms_state_name(c->to), rc);
	cr_assert_eq(h->state, c->expect == 0 ? c->to : c->from,
	             "h->state = %lld, c->expect == 0 ? c->to : c->from = %lld",
	             (long long)(h->state), (long long)(c->expect == 0 ? c->to : c->from));
	handler_unref(h);
}

struct slot {
	int calls;
	char *result;
	int category;
};

static void waiter(void *ud, const char *id, const char *result, const dms_error *err)
{
	(void)id;
	struct slot *s = ud;
	s->calls++;
	s->result = result ? strdup(result) : NULL;
	s->category = err ? (int)err->category : 0;
}

Test(handler, async_waiters_called_exactly_once)
{
	struct handler *h = new_handler("w");
	struct slot a = {0}, b = {0}, late = {0};
	assert_cmp(handler_add_waiter(h, waiter, &a), ==, 0);
	assert_cmp(handler_add_waiter(h, waiter, &b), ==, 0);
	cr_assert_eq(a.calls + b.calls, 0, "a.calls + b.calls = %lld",
	             (long long)(a.calls + b.calls));
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	cr_assert_eq(a.calls, 0, "called before the end");
	handler_transition(h, DMS_STATE_EXITED, strdup("{\"r\":1}"), NULL);
	handler_transition(h, DMS_STATE_FAILED, NULL, NULL);
	cr_assert_eq(a.calls, 1, "a.calls = %lld", (long long)(a.calls));
	cr_assert_eq(b.calls, 1, "b.calls = %lld", (long long)(b.calls));
	cr_assert_str_eq(a.result, "{\"r\":1}", "a.result = \"%s\"", a.result);
	cr_assert_eq(handler_add_waiter(h, waiter, &late), 1, "late waiter not called at once");
	cr_assert_eq(late.calls, 1, "late.calls = %lld", (long long)(late.calls));
	cr_assert_str_eq(late.result, "{\"r\":1}", "late.result = \"%s\"", late.result);
	free(a.result);
	free(b.result);
	free(late.result);
	handler_unref(h);
}

Test(handler, failure_reaches_waiters_as_error)
{
	struct handler *h = new_handler("f");
	struct slot a = {0};
	handler_add_waiter(h, waiter, &a);
	dms_error *e = NULL;
	err_set(&e, DMS_ERR_IMAGE, "image x not found");
	handler_transition(h, DMS_STATE_FAILED, NULL, e);
	cr_assert_eq(a.calls, 1, "a.calls = %lld", (long long)(a.calls));
	cr_assert_null(a.result, "a.result = %p", (void *)(a.result));
	cr_assert_eq(a.category, DMS_ERR_IMAGE, "a.category = %lld", (long long)(a.category));
	char *res = NULL;
	dms_error *got = NULL;
	assert_cmp(handler_wait(h, NULL, &res, &got), ==, DMS_ERR_IMAGE);
	cr_assert_str_eq(got->message, "image x not found", "got->message = \"%s\"", got->message);
	err_free(got);
	handler_unref(h);
}

Test(handler, abandon_fails_queued_waiters)
{
	struct handler *h = new_handler("a");
	struct slot a = {0};
	handler_add_waiter(h, waiter, &a);
	dms_error e = {.struct_size = sizeof(e), .category = DMS_ERR_CANCELLED, .message = "bye"};
	handler_abandon_waiters(h, &e);
	cr_assert_eq(a.calls, 1, "a.calls = %lld", (long long)(a.calls));
	cr_assert_eq(a.category, DMS_ERR_CANCELLED, "a.category = %lld", (long long)(a.category));
	handler_transition(h, DMS_STATE_EXITED, strdup("{}"), NULL);
	cr_assert_eq(a.calls, 1, "abandoned waiter called again");
	handler_unref(h);
}

static void *finish_later(void *arg)
{
	struct handler *h = arg;
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	handler_transition(h, DMS_STATE_EXITED, strdup("{\"late\":true}"), NULL);
	return NULL;
}

Test(handler, blocking_wait_wakes_on_the_transition)
{
	struct handler *h = new_handler("b");
	pthread_t t;
	pthread_create(&t, NULL, finish_later, h);
	char *res = NULL;
	dms_context *ctx = ctx_new(10000);
	assert_cmp(handler_wait(h, ctx, &res, NULL), ==, 0);
	cr_assert_str_eq(res, "{\"late\":true}", "res = \"%s\"", res);
	pthread_join(t, NULL);
	free(res);
	ctx_free(ctx);
	handler_unref(h);
}

Test(handler, blocking_wait_honours_deadline)
{
	struct handler *h = new_handler("d");
	dms_context *ctx = ctx_new(50);
	char *res = NULL;
	dms_error *err = NULL;
	int64_t t0 = mono_now_ns();
	assert_cmp(handler_wait(h, ctx, &res, &err), ==, DMS_ERR_TIMEOUT);
	int64_t ms = (mono_now_ns() - t0) / 1000000;
	cr_assert(ms >= 40 && ms < test_ms(1000), "waited %lld ms", (long long)ms);
	cr_assert_null(res, "res = %p", (void *)(res));
	err_free(err);
	ctx_free(ctx);
	handler_unref(h);
}

Test(registry, insert_get_remove_and_duplicates)
{
	struct registry *r = registry_new();
	char id[32];
	for (int i = 0; i < 1000; i++) { /* enough to grow the table a few times */
		snprintf(id, sizeof(id), "exec-%d", i);
		struct handler *h = handler_new(id, "j", "n", NULL, NULL, NULL, NULL), *old = NULL;
		cr_assert_eq(registry_insert(r, h, &old), 0, "insert %s", id);
		handler_unref(h);
	}
	cr_assert_eq(registry_count(r), 1000, "registry_count(r) = %lld",
	             (long long)(registry_count(r)));
	struct handler *dup = handler_new("exec-7", "j", "n", NULL, NULL, NULL, NULL), *old = NULL;
	assert_cmp(registry_insert(r, dup, &old), ==, 1);
	cr_assert_str_eq(old->execution_id, "exec-7", "old->execution_id = \"%s\"",
	                 old->execution_id);
	cr_assert_neq(old, dup, "old = %lld, dup = %lld", (long long)(old), (long long)(dup));
	handler_unref(dup);
	registry_remove(r, old);
	handler_unref(old);
	cr_assert_null(registry_get(r, "exec-7"));
	struct handler *h = registry_get(r, "exec-999");
	cr_assert(h, "h is false");
	cr_assert_str_eq(h->execution_id, "exec-999", "h->execution_id = \"%s\"", h->execution_id);
	handler_unref(h);
	cr_assert_eq(registry_count(r), 999, "registry_count(r) = %lld",
	             (long long)(registry_count(r)));
	registry_free(r);
}

static bool drop_even(void *ud, struct handler *h)
{
	(*(int *)ud)++;
	return atoi(h->execution_id + 2) % 2 == 0;
}

Test(registry, foreach_can_remove)
{
	struct registry *r = registry_new();
	char id[16];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "e-%d", i);
		struct handler *h = handler_new(id, "j", "n", NULL, NULL, NULL, NULL), *old = NULL;
		registry_insert(r, h, &old);
		handler_unref(h);
	}
	int visits = 0;
	registry_foreach(r, drop_even, &visits);
	cr_assert_eq(visits, 10, "visits = %lld", (long long)(visits));
	cr_assert_eq(registry_count(r), 5, "registry_count(r) = %lld",
	             (long long)(registry_count(r)));
	struct handler *h = registry_get(r, "e-3");
	cr_assert(h, "h is false");
	handler_unref(h);
	cr_assert_null(registry_get(r, "e-4"));
	registry_free(r);
}

/* --- where the execution stands (handler.h: exit, readers, removal, watch) */

static struct handler *running_handler(const char *id, const char *cid)
{
	struct handler *h = new_handler(id);
	cr_assert_eq(handler_set_container(h, cid, false, NULL), 0);
	cr_assert_eq(handler_transition(h, DMS_STATE_CREATED, NULL, NULL), 0);
	cr_assert_eq(handler_transition(h, DMS_STATE_RUNNING, NULL, NULL), 0);
	return h;
}

Test(handler, an_exit_is_noted_once_and_only_for_its_container)
{
	struct handler *h = running_handler("x1", "c1");
	cr_assert_not(handler_note_exit(h, "other", 3), "another container's exit was taken");
	cr_assert(handler_note_exit(h, "c1", 3));
	cr_assert_not(handler_note_exit(h, NULL, -1), "a second sighting queued again");
	cr_assert_eq(h->exit, HANDLER_EXIT_SEEN, "exit %d", h->exit);
	cr_assert_eq(h->event_exit_code, 3, "code %d", h->event_exit_code);
	char *cid = handler_live_container(h);
	cr_assert_null(cid, "a seen exit is still live: %s", cid);
	/* Deferred: unseen again, and a later sighting keeps the die's code. */
	handler_defer_harvest(h);
	cr_assert_eq(h->exit, HANDLER_EXIT_UNSEEN, "exit %d", h->exit);
	cid = handler_live_container(h);
	cr_assert_str_eq(cid, "c1");
	free(cid);
	cr_assert(handler_note_exit(h, NULL, -1));
	cr_assert_eq(h->event_exit_code, 3, "code %d", h->event_exit_code);
	handler_mark_harvested(h, strdup("/tmp/x1.log"));
	handler_defer_harvest(h); /* only SEEN defers: harvested stays */
	cr_assert_eq(h->exit, HANDLER_EXIT_HARVESTED, "exit %d", h->exit);
	cr_assert_eq(handler_transition(h, DMS_STATE_EXITED, strdup("{}"), NULL), 0);
	cr_assert_not(handler_note_exit(h, NULL, -1), "a final execution's exit was taken");
	handler_unref(h);
}

Test(handler, no_exit_without_a_container)
{
	struct handler *h = new_handler("x2");
	cr_assert_not(handler_note_exit(h, NULL, 0));
	cr_assert_eq(h->exit, HANDLER_EXIT_UNSEEN);
	handler_unref(h);
}

Test(handler, the_last_reader_is_handed_a_deferred_removal)
{
	struct handler *h = running_handler("x3", "c3");
	cr_assert(handler_reader_enter(h));
	cr_assert(handler_reader_enter(h));
	cr_assert(handler_note_exit(h, NULL, 0));
	handler_mark_harvested(h, NULL);
	cr_assert_not(handler_reader_enter(h), "a reader entered a harvested container");
	cr_assert_not(handler_removal_request(h), "removed under two readers");
	cr_assert_eq(h->removal, HANDLER_REMOVAL_DEFERRED, "removal %d", h->removal);
	char *cid = handler_reader_leave(h);
	cr_assert_null(cid, "the first of two readers got the removal: %s", cid);
	cid = handler_reader_leave(h);
	cr_assert_str_eq(cid, "c3");
	free(cid);
	cr_assert_eq(h->removal, HANDLER_REMOVAL_DUE, "removal %d", h->removal);
	handler_unref(h);
}

Test(handler, a_removal_without_readers_is_due_at_once)
{
	struct handler *h = running_handler("x4", "c4");
	cr_assert(handler_removal_request(h));
	cr_assert_eq(h->removal, HANDLER_REMOVAL_DUE, "removal %d", h->removal);
	handler_unref(h);
}

/* The watch's end and the start's return: whichever comes second reports
 * the exit, once. */
Test(handler, the_watch_hint_counts_once_the_start_returned)
{
	struct handler *h = running_handler("x5", "c5");
	handler_watch_handed(h);
	cr_assert_eq(h->watch, HANDLER_WATCH_PENDING, "watch %d", h->watch);
	handler_watch_attached(h);
	cr_assert(handler_watch_wait_attached(h, NULL, mono_now_ns()));
	cr_assert_not(handler_watch_end(h, true), "an exit before the start returned");
	cr_assert(handler_note_started(h, 0), "the start missed the ended watch");
	cr_assert_eq(h->deadline_mono_ns, INT64_MAX, "a deadline without a timeout");
	handler_unref(h);

	h = running_handler("x6", "c6");
	handler_watch_handed(h);
	cr_assert_not(handler_note_started(h, 1000), "no watch ended yet");
	cr_assert_eq(h->deadline_mono_ns, h->started_mono_ns + 1000);
	cr_assert(handler_watch_end(h, true), "the watch's end after the start is the exit");
	handler_unref(h);

	h = running_handler("x7", "c7");
	handler_watch_handed(h);
	cr_assert_not(handler_watch_wait_attached(h, NULL, mono_now_ns() + 1000000),
	              "attached without its stream");
	cr_assert_not(handler_note_started(h, 0));
	cr_assert_not(handler_watch_end(h, false), "a failed watch is no exit");
	cr_assert_eq(h->watch, HANDLER_WATCH_OVER, "watch %d", h->watch);
	handler_unref(h);
}

Test(handler, cancel_is_set_once_and_the_kill_armed_once)
{
	struct handler *h = running_handler("x8", "c8");
	cr_assert(handler_request_cancel(h, "cancelled"));
	cr_assert_not(handler_request_cancel(h, "removed by Cleanup"), "set twice");
	cr_assert_str_eq(h->cancel_reason, "cancelled");
	char *cid = handler_arm_kill(h, 0);
	cr_assert_str_eq(cid, "c8");
	free(cid);
	cid = handler_arm_kill(h, 0);
	cr_assert_null(cid, "armed twice: %s", cid);
	cid = handler_take_due_kill(h, mono_now_ns());
	cr_assert_str_eq(cid, "c8");
	free(cid);
	cid = handler_take_due_kill(h, mono_now_ns());
	cr_assert_null(cid, "a kill taken twice: %s", cid);
	cr_assert_eq(handler_transition(h, DMS_STATE_CANCELLED, strdup("{}"), NULL), 0);
	handler_unref(h);
	h = new_handler("x9");
	cr_assert_eq(handler_transition(h, DMS_STATE_FAILED, NULL, NULL), 0);
	cr_assert_not(handler_request_cancel(h, "cancelled"), "a final execution was cancelled");
	handler_unref(h);
}
