/* bench_run.c — test-only: measures the plugin's Run(`true`) and
 * IsInstalled in-process, so tests/dbus/test_perf.py can compare them with
 * the same calls over D-Bus through dms-host. Never installed.
 *
 *   dms-bench-run PLUGIN EXECUTOR_ID CONFIG_YAML IMAGE N
 * prints "run_ms <median> <min> <max>" and "is_installed_ms <median>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "clock.h"
#include "jsonw.h"
#include "plugin.h"
#include "util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A Run(`true`) request with a fresh execution id. */
static char *bench_request(int i, const char *image)
{
	_cleanup_free_ char *id = host_asprintf("bench-%d-%lld", i, (long long)mono_now_ns());
	struct jw w;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_str(&w, "job_id", "bench");
	jw_key_str(&w, "execution_id", id);
	jw_key(&w, "engine_spec");
	jw_map_open(&w);
	jw_key_str(&w, "type", "docker");
	jw_key(&w, "params");
	jw_map_open(&w);
	jw_key_str(&w, "image", image);
	jw_key(&w, "cmd");
	jw_array_open(&w);
	jw_str(&w, "true");
	jw_array_close(&w);
	jw_map_close(&w);
	jw_map_close(&w);
	jw_map_close(&w);
	return jw_steal(&w);
}

int main(int argc, char **argv)
{
	struct host_plugin *p = NULL;
	dms_executor *ex = NULL;
	dms_error *err = NULL;
	char *why = NULL;

	host_set_progname("dms-bench-run");
	if (argc != 6) {
		fprintf(stderr, "usage: dms-bench-run PLUGIN EXECUTOR_ID CONFIG IMAGE N\n");
		return 2;
	}
	int n = atoi(argv[5]);
	if (n < 1 || n > 1000)
		return 2;
	if (host_plugin_load(argv[1], &p, &why) < 0) {
		host_log("%s", why);
		free(why);
		return 1;
	}
	const dms_executor_ops *ops = p->desc->ops;
	if (ops->new_executor(argv[2], argv[3], &ex, &err) != DMS_OK) {
		char *t = host_error_text(err);
		host_log("new_executor: %s", t);
		free(t);
		return 1;
	}
	double *run_ms = host_calloc((size_t)n, sizeof(double));
	double *inst_ms = host_calloc((size_t)n, sizeof(double));
	int status = 0;
	for (int i = -1; i < n && status == 0; i++) { /* i == -1: warm-up */
		char *result = NULL;
		_cleanup_free_ char *req = bench_request(i, argv[4]);
		int64_t t0 = mono_now_ns();
		if (ops->run(ex, NULL, req, &result, &err) != DMS_OK) {
			char *t = host_error_text(err);
			host_log("run: %s", t);
			free(t);
			status = 1;
		}
		int64_t t1 = mono_now_ns();
		bool installed = false;
		ops->is_installed(ex, NULL, &installed, NULL, NULL);
		int64_t t2 = mono_now_ns();
		if (i >= 0) {
			run_ms[i] = (double)(t1 - t0) / 1e6;
			inst_ms[i] = (double)(t2 - t1) / 1e6;
		}
		ops->string_free(result);
	}
	if (status == 0) {
		double lo = run_ms[0], hi = run_ms[0];
		for (int i = 0; i < n; i++) {
			lo = run_ms[i] < lo ? run_ms[i] : lo;
			hi = run_ms[i] > hi ? run_ms[i] : hi;
		}
		printf("run_ms %.1f %.1f %.1f\n", median(run_ms, n), lo, hi);
		printf("is_installed_ms %.2f\n", median(inst_ms, n));
	}
	ops->cleanup(ex, NULL, NULL);
	ops->destroy(ex);
	host_plugin_unload(p);
	free(run_ms);
	free(inst_ms);
	return status;
}
