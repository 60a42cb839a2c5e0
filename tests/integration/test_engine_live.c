/* test_engine_live.c — the live operations through the plugin ABI against
 * a real engine (this binary runs once per engine): the usage of jobs of
 * known cost, pause and signal on a running job, stats, and inspect
 * checked against the engine's own inspect. The measured figures go to
 * stderr ("usage:" lines) for docs/schema.md. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "runtime.h"
#include "test_assert.h"

static struct itest_plugin P;
static dms_executor *ex;
static char *ex_id;

static void setup(void)
{
	itest_plugin_load(&P);
	ex_id = itest_unique_id("live");
	char *cfg = itest_config(NULL);
	dms_error *err = NULL;
	cr_assert_eq(P.ops->new_executor(ex_id, cfg, &ex, &err), 0, "new_executor: %s",
	             err ? err->message : "?");
	free(cfg);
}

static void teardown(void)
{
	if (ex) {
		P.ops->cleanup(ex, NULL, NULL);
		P.ops->destroy(ex);
	}
	ex = NULL;
	free(ex_id);
	itest_plugin_unload(&P);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 120);

static long long usage_of(yajl_val res, const char *key)
{
	const char *path[] = {"usage", key, NULL};
	yajl_val v = yajl_tree_get(res, path, yajl_t_number);
	cr_assert(v && YAJL_IS_INTEGER(v), "usage.%s missing", key);
	return YAJL_GET_INTEGER(v);
}

Test(live, a_job_holding_64_mib_reports_a_peak_of_at_least_that)
{
	itest_start_ok(&P, ex, "alloc",
	               "awk 'BEGIN{s=sprintf(\"%67108864s\",\"\"); system(\"sleep 2\"); "
	               "print length(s)}'",
	               NULL, NULL);
	char *json = itest_wait_ok(&P, ex, "alloc");
	yajl_val res = itest_json(json);
	cr_assert_str_eq(itest_str(res, "stdout"), "67108864\n");
	long long peak = usage_of(res, "memory_peak_bytes");
	fprintf(stderr, "usage: %s 64 MiB job: memory_peak_bytes %lld (%.1f MiB), samples %lld\n",
	        itest_engine(), peak, peak / 1048576.0, usage_of(res, "samples"));
	cr_assert_geq(peak, 64ll << 20, "%s", json);
	yajl_tree_free(res);
	P.ops->string_free(json);
}

/* usage is the last sample before the exit (docs/schema.md), and dockerd
 * answers a one-shot stats call about once a second: the job idles 2 s
 * after its 2 s of CPU so that a sample falls after the spin, as it would
 * for any job that does not end the instant its work does. */
Test(live, a_job_spinning_2_s_of_cpu_reports_at_least_1_5_s)
{
	itest_start_ok(&P, ex, "busy",
	               "while :; do i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; "
	               "read -r l < /proc/$$/stat; set -- ${l#*) }; "
	               "[ $(( ${12} + ${13} )) -ge 200 ] && break; done; echo spun; sleep 2",
	               NULL, NULL);
	char *json = itest_wait_ok(&P, ex, "busy");
	yajl_val res = itest_json(json);
	cr_assert_str_eq(itest_str(res, "stdout"), "spun\n");
	long long cpu = usage_of(res, "cpu_time_ns"), wall = usage_of(res, "wall_time_ns");
	fprintf(stderr,
	        "usage: %s 2 s CPU job: cpu_time_ns %lld (%.3f s), wall %.3f s, samples %lld\n",
	        itest_engine(), cpu, cpu / 1e9, wall / 1e9, usage_of(res, "samples"));
	cr_assert_geq(cpu, 1500000000ll, "%s", json);
	cr_assert_geq(wall, cpu / 2, "%s", json); /* 2 CPUs at most */
	yajl_tree_free(res);
	P.ops->string_free(json);
}

Test(live, pause_stats_signal_and_inspect_on_a_running_job)
{
	itest_start_ok(&P, ex, "job",
	               "trap 'echo got USR1; exit 3' USR1; while :; do usleep 50000; done", NULL,
	               NULL);
	dms_error *err = NULL;
	cr_assert_eq(P.ops->pause(ex, NULL, "job", &err), 0, "pause: %s", err ? err->message : "");

	char *doc = NULL;
	cr_assert_eq(P.ops->inspect(ex, NULL, "job", &doc, &err), 0, "inspect: %s",
	             err ? err->message : "");
	yajl_val v = itest_json(doc);
	cr_assert_str_eq(itest_str(v, "state"), "paused", "%s", doc);
	const char *cid = itest_str(v, "container_id");
	cr_assert(cid && *cid, "%s", doc);
	/* The engine's own view of the same container. */
	const struct runtime_ops *ops = runtime_by_name(itest_engine());
	struct runtime *rt = NULL;
	struct container_state st = {0};
	assert_cmp(ops->open(itest_engine_host(), &rt, NULL), ==, 0);
	assert_cmp(ops->container_inspect(rt, NULL, cid, &st, NULL), ==, 0);
	cr_assert_eq(st.status, CS_PAUSED, "the engine says status %d", st.status);
	cr_assert_str_eq(itest_str(v, "image_id"), st.image_id);
	container_state_free(&st);
	ops->close(rt);
	yajl_tree_free(v);
	P.ops->string_free(doc);

	char *sample = NULL;
	cr_assert_eq(P.ops->stats(ex, NULL, "job", &sample, &err), 0, "stats: %s",
	             err ? err->message : "");
	v = itest_json(sample);
	cr_assert_str_eq(itest_str(v, "state"), "paused", "%s", sample);
	cr_assert_gt(itest_int(v, "memory_usage_bytes"), 0, "%s", sample);
	yajl_tree_free(v);
	P.ops->string_free(sample);

	cr_assert_eq(P.ops->resume(ex, NULL, "job", &err), 0, "resume: %s",
	             err ? err->message : "");
	cr_assert_eq(P.ops->signal(ex, NULL, "job", "USR1", &err), 0, "signal: %s",
	             err ? err->message : "");
	char *json = itest_wait_ok(&P, ex, "job");
	v = itest_json(json);
	assert_cmp(itest_int(v, "exit_code"), ==, 3);
	cr_assert_str_eq(itest_str(v, "stdout"), "got USR1\n");
	yajl_tree_free(v);
	P.ops->string_free(json);

	/* Finished: AlreadyFinished, and Inspect still answers. */
	cr_assert_eq(P.ops->signal(ex, NULL, "job", "USR1", &err), DMS_ERR_ALREADY_FINISHED);
	P.ops->error_free(err);
	err = NULL;
	cr_assert_eq(P.ops->inspect(ex, NULL, "job", &doc, &err), 0);
	v = itest_json(doc);
	assert_cmp(itest_int(v, "exit_code"), ==, 3);
	yajl_tree_free(v);
	P.ops->string_free(doc);
}
