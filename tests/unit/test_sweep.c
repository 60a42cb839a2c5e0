/* test_sweep.c — the scoped orphan sweep (executor/sweep.c) on the fake
 * runtime: what it removes (this executor's labelled containers, networks
 * and volumes no handler tracks, once untracked for the grace), what it
 * never touches (tracked jobs, another executor's objects, unlabelled
 * containers), dry run, the config keys. Passes are run with a chosen
 * clock (sweep_pass) so the grace needs no waiting; one test lets the
 * janitor run them (sweep_interval). tests/dbus/test_sweep.py does the
 * same against a real engine. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor_internal.h"
#include "fake_runtime.h"
#include "test_time.h"
#include "labels.h"
#include "sweep.h"
#include "test_assert.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */
#define S_NS 1000000000ll

static struct dms_executor *new_exec(const char *id, const char *extra)
{
	return exec_fixture_new(id, NULL, extra);
}

static void setup(void)
{
	exec_fixture_setup("sweep");
}

static void teardown(void)
{
	exec_fixture_teardown(NULL);
}

TestSuite(sweep, .init = setup, .fini = teardown, .timeout = 30);

/* A container on the engine with org.dms.executor=owner and
 * org.dms.execution=exec (owner NULL: no label at all); returns its id. */
static char *orphan(const char *name, const char *owner, const char *exec)
{
	char l1[128], l2[128];
	snprintf(l1, sizeof(l1), "%s=%s", LABEL_EXECUTOR, owner ? owner : "");
	snprintf(l2, sizeof(l2), "%s=%s", LABEL_EXECUTION, exec);
	const char *labels[] = {l1, l2, NULL};
	char *id = fake_runtime_add_container(name, IMAGE, owner ? labels : NULL, CS_RUNNING, 0);
	cr_assert(id, "add container %s", name);
	return id;
}

static void object(enum runtime_object kind, const char *name, const char *owner, const char *exec)
{
	char l1[128], l2[128];
	snprintf(l1, sizeof(l1), "%s=%s", LABEL_EXECUTOR, owner);
	snprintf(l2, sizeof(l2), "%s=%s", LABEL_EXECUTION, exec);
	char *labels[] = {l1, l2, NULL};
	int rc = kind == RT_OBJ_NETWORK
	             ? fake_runtime_ops.network_create(NULL, NULL, name, labels, false, NULL, NULL)
	             : fake_runtime_ops.volume_create(NULL, NULL, name, labels, NULL);
	cr_assert_eq(rc, 0, "create %s", name);
}

static void start_job(struct dms_executor *ex, const char *exec_id)
{
	char *r = NULL;
	assert_cmp(asprintf(&r,
	                    "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                    "\"docker\",\"params\":{\"image\":\"%s\"}}}",
	                    exec_id, IMAGE),
	           >, 0);
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start %s: %s", exec_id,
	             err ? err->message : "");
	free(r);
}

static size_t count(enum runtime_object kind, const char *owner)
{
	char label[128];
	snprintf(label, sizeof(label), "%s=%s", LABEL_EXECUTOR, owner);
	return kind == RT_OBJ_NETWORK ? fake_runtime_network_count(label)
	                              : fake_runtime_volume_count(label);
}

/* Orphan containers name an execution that recovery would not adopt
 * (not a valid id): the executor's resync when its event stream connects
 * runs at a moment of its choosing and would otherwise race the test by
 * adopting a "gone" container as a job. */
#define GONE "gone for good"

/* The world of the tests below: for executor "a" a running job (tracked,
 * with a network of its execution) and one orphan of each kind; the same
 * orphans for executor "b"; an unlabelled container. */
struct world {
	char *a_orphan, *b_orphan, *plain;
};

static void make_world(struct dms_executor *a, struct world *w)
{
	start_job(a, "live");
	object(RT_OBJ_NETWORK, "a-live-net", "a", "live");
	w->a_orphan = orphan("a-orphan", "a", GONE);
	object(RT_OBJ_NETWORK, "a-net", "a", "gone");
	object(RT_OBJ_VOLUME, "a-vol", "a", "gone");
	w->b_orphan = orphan("b-orphan", "b", GONE);
	object(RT_OBJ_NETWORK, "b-net", "b", "gone");
	object(RT_OBJ_VOLUME, "b-vol", "b", "gone");
	w->plain = orphan("plain", NULL, "x");
}

static void free_world(struct world *w)
{
	free(w->a_orphan);
	free(w->b_orphan);
	free(w->plain);
}

Test(sweep, removes_only_its_own_untracked_objects_after_the_grace)
{
	/* Interval 0: the janitor runs no pass; the test runs them. */
	struct dms_executor *a = new_exec("a", "sweep_grace: 10s\n");
	struct world w;
	make_world(a, &w);
	char *live = labels_container_name("a", "live");

	int64_t t0 = mono_now_ns();
	sweep_pass(a, t0);
	struct sweep_report r = sweep_last_report(a);
	cr_assert_eq(r.untracked, 3, "untracked: %zu (want a's container, network, volume)",
	             r.untracked);
	cr_assert_eq(r.removed, 0, "removed %zu before the grace", r.removed);
	sweep_pass(a, t0 + 9 * S_NS);
	r = sweep_last_report(a);
	cr_assert_eq(r.removed, 0, "removed %zu 9 s into a 10 s grace", r.removed);
	cr_assert(fake_runtime_exists(w.a_orphan));

	sweep_pass(a, t0 + 10 * S_NS);
	r = sweep_last_report(a);
	cr_assert_eq(r.passes, 3, "passes: %zu", r.passes);
	cr_assert_eq(r.removed, 3, "removed %zu, want 3 (failed %zu)", r.removed, r.failed);
	cr_assert_not(fake_runtime_exists(w.a_orphan), "a's orphan container survived");
	cr_assert_eq(count(RT_OBJ_NETWORK, "a"), 1, "a's networks: %zu, want the live job's",
	             count(RT_OBJ_NETWORK, "a"));
	cr_assert_eq(count(RT_OBJ_VOLUME, "a"), 0, "a's volumes: %zu", count(RT_OBJ_VOLUME, "a"));
	/* Never touched: the tracked job, b's objects, the unlabelled one. */
	cr_assert_eq(fake_runtime_status(live), CS_RUNNING, "the tracked job: status %d",
	             fake_runtime_status(live));
	cr_assert(fake_runtime_exists(w.b_orphan), "b's container was removed by a");
	cr_assert_eq(count(RT_OBJ_NETWORK, "b") + count(RT_OBJ_VOLUME, "b"), 2,
	             "b's network and volume: %zu left",
	             count(RT_OBJ_NETWORK, "b") + count(RT_OBJ_VOLUME, "b"));
	cr_assert(fake_runtime_exists(w.plain), "the unlabelled container was removed");

	/* Nothing left of a's: the next pass finds nothing untracked. */
	sweep_pass(a, t0 + 20 * S_NS);
	r = sweep_last_report(a);
	cr_assert_eq(r.untracked, 0, "untracked after the removal: %zu", r.untracked);

	free(live);
	free_world(&w);
	executor_destroy(a);
}

Test(sweep, two_executors_on_one_engine_sweep_only_their_own)
{
	struct dms_executor *a = new_exec("a", "sweep_grace: 0s\n");
	struct dms_executor *b = new_exec("b", "sweep_grace: 0s\n");
	struct world w;
	make_world(a, &w);

	sweep_pass(b, mono_now_ns());
	struct sweep_report r = sweep_last_report(b);
	cr_assert_eq(r.removed, 3, "b removed %zu (failed %zu), want its 3", r.removed, r.failed);
	cr_assert_not(fake_runtime_exists(w.b_orphan));
	cr_assert(fake_runtime_exists(w.a_orphan), "b removed a's container");
	cr_assert_eq(count(RT_OBJ_NETWORK, "a"), 2, "a's networks after b's pass: %zu",
	             count(RT_OBJ_NETWORK, "a"));
	cr_assert_eq(count(RT_OBJ_VOLUME, "a"), 1, "a's volumes after b's pass: %zu",
	             count(RT_OBJ_VOLUME, "a"));
	cr_assert(fake_runtime_exists(w.plain));

	free_world(&w);
	executor_destroy(b);
	executor_destroy(a);
}

Test(sweep, dry_run_removes_nothing)
{
	struct dms_executor *a = new_exec("a", "sweep_grace: 0s\nsweep_dry_run: true\n");
	struct world w;
	make_world(a, &w);

	sweep_pass(a, mono_now_ns());
	struct sweep_report r = sweep_last_report(a);
	cr_assert_eq(r.would_remove, 3, "would remove %zu, want 3", r.would_remove);
	cr_assert_eq(r.removed, 0, "a dry run removed %zu", r.removed);
	cr_assert(fake_runtime_exists(w.a_orphan));
	assert_cmp(count(RT_OBJ_NETWORK, "a") + count(RT_OBJ_VOLUME, "a"), ==, 3);
	cr_assert_eq(fake_runtime_op_count("container_remove") +
	                 fake_runtime_op_count("object_remove"),
	             0, "remove calls in a dry run");
	free_world(&w);
	executor_destroy(a);
}

Test(sweep, an_object_tracked_again_is_forgotten)
{
	/* Seen untracked once, then its execution is started (tracked):
	 * a later pass must not remove it, and the grace starts anew. */
	struct dms_executor *a = new_exec("a", "sweep_grace: 10s\n");
	object(RT_OBJ_NETWORK, "a-net-x", "a", "x");
	int64_t t0 = mono_now_ns();
	sweep_pass(a, t0);
	cr_assert_eq(sweep_last_report(a).untracked, 1, "sweep_last_report(a).untracked = %lld",
	             (long long)(sweep_last_report(a).untracked));
	start_job(a, "x");
	sweep_pass(a, t0 + 5 * S_NS);
	cr_assert_eq(sweep_last_report(a).untracked, 0, "tracked network counted untracked");
	dms_error *err = NULL;
	assert_cmp(executor_cleanup(a, NULL, &err), ==, 0);
	executor_destroy(a);
}

Test(sweep, off_by_default_and_periodic_when_asked)
{
	struct dms_executor *off = new_exec("a", NULL);
	cr_assert_eq(off->cfg->sweep_interval_ms, 0, "off->cfg->sweep_interval_ms = %lld",
	             (long long)(off->cfg->sweep_interval_ms));
	cr_assert_eq(off->cfg->sweep_grace_ms, 5 * 60 * 1000,
	             "off->cfg->sweep_grace_ms = %lld, 5 * 60 * 1000 = %lld",
	             (long long)(off->cfg->sweep_grace_ms), (long long)(5 * 60 * 1000));
	cr_assert_not(off->cfg->sweep_dry_run, "off->cfg->sweep_dry_run is true");
	int64_t next = INT64_MAX;
	sweep_tick(off, mono_now_ns(), &next);
	cr_assert_eq(sweep_last_report(off).passes, 0, "a pass with the sweep off");
	cr_assert_eq(next, INT64_MAX, "next = %lld", (long long)(next));
	executor_destroy(off);

	/* The janitor runs the passes: an orphan goes without any call. */
	struct dms_executor *a = new_exec("a", "sweep_interval: 100ms\nsweep_grace: 200ms\n");
	char *id = orphan("a-orphan", "a", GONE);
	cr_assert(fake_runtime_wait_gone(id, DEADLINE_MS), "the janitor's sweep did not remove it");
	cr_assert_geq(sweep_last_report(a).passes, 2, "passes: %zu", sweep_last_report(a).passes);
	free(id);
	executor_destroy(a);
}

/* Arrays, not pointers: Criterion runs each case in a new process. */
struct bad_config {
	char yaml[64];
	char in_message[32];
};

ParameterizedTestParameters(sweep, config_errors)
{
	static struct bad_config params[] = {
	    {"sweep_interval: often\n", "sweep_interval"},
	    {"sweep_grace: -1s\n", "sweep_grace"},
	    {"sweep_dry_run: maybe\n", "sweep_dry_run"},
	    {"sweep_dry_run: 1\n", "true or false"},
	};
	return cr_make_param_array(struct bad_config, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct bad_config *p, sweep, config_errors)
{
	struct exec_config *c = NULL;
	dms_error *err = NULL;
	cr_assert_eq(config_parse(p->yaml, &c, &err), DMS_ERR_CONFIG, "%s accepted", p->yaml);
	cr_assert(err && strstr(err->message, p->in_message), "%s: message %s", p->yaml,
	          err ? err->message : "(none)");
	err_free(err);
}

Test(sweep, config_keys)
{
	struct exec_config *c = NULL;
	dms_error *err = NULL;
	cr_assert_eq(
	    config_parse("sweep_interval: 10m\nsweep_grace: 30s\nsweep_dry_run: true\n", &c, &err),
	    0, "%s", err ? err->message : "");
	cr_assert_eq(c->sweep_interval_ms, 600000, "c->sweep_interval_ms = %lld",
	             (long long)(c->sweep_interval_ms));
	cr_assert_eq(c->sweep_grace_ms, 30000, "c->sweep_grace_ms = %lld",
	             (long long)(c->sweep_grace_ms));
	cr_assert(c->sweep_dry_run, "c->sweep_dry_run is false");
	config_free(c);
}
