/* inproc.c — dms-bench-inproc: the executor in-process, through the plugin
 * ABI only (dlopen of dms-executor.so, the one entry symbol, the ops table),
 * the way a third-party host would use it. Prints one JSON object.
 *
 *   dms-bench-inproc PLUGIN CONFIG_FILE IMAGE TYPE HOST MODE ARGS
 *     latency N          Run(`true`), one at a time
 *     tput CONC JOBS     JOBS Run(`true`) calls on CONC threads
 *     logs BYTES         Start + GetLogStream(follow) of a BYTES job
 *     exit N SLEEP       `die` event time → Wait return
 *
 * TYPE is the request's engine_spec.type (docker|podman); HOST is the engine
 * socket, only read for the event stream of the exit mode. The executor id is
 * unique per process; its containers are cleaned up at the end. */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dms/executor.h>

#include "bench.h"

struct inproc {
	void *dl;
	const dms_executor_ops *ops;
	dms_executor *ex;
	char *id;
	const char *image, *type, *host;
	atomic_long seq;
};

static void log_error(const struct inproc *p, const char *what, int status, dms_error *err)
{
	if (err) {
		bench_log("%s: %s: %s (operation: %s; resource: %s; engine: %s)", what,
		          dms_status_name(err->category), err->message,
		          err->operation ? err->operation : "-",
		          err->resource ? err->resource : "-",
		          err->engine_text ? err->engine_text : "-");
		p->ops->error_free(err);
	} else {
		bench_log("%s: status %d", what, status);
	}
}

static void inproc_open(struct inproc *p, const char *plugin, const char *config_path)
{
	p->dl = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		bench_die("%s", dlerror());
	dms_executor_plugin_entry_fn entry =
	    (dms_executor_plugin_entry_fn)dlsym(p->dl, DMS_EXECUTOR_ENTRY_SYMBOL);
	if (!entry)
		bench_die("%s: %s", plugin, dlerror());
	const dms_executor_plugin *desc = entry(DMS_EXECUTOR_ABI_MAJOR);
	if (!desc || desc->abi_major != DMS_EXECUTOR_ABI_MAJOR)
		bench_die("%s: ABI major %u refused", plugin, DMS_EXECUTOR_ABI_MAJOR);
	p->ops = desc->ops;
	if (!DMS_OP_AVAILABLE(p->ops, cleanup))
		bench_die("%s: operation table too short", plugin);
	char *config = bench_read_file(config_path);
	dms_error *err = NULL;
	p->id = bench_asprintf("bench-inproc-%s", bench_token());
	int r = p->ops->new_executor(p->id, config, &p->ex, &err);
	free(config);
	if (r != DMS_OK) {
		log_error(p, "new_executor", r, err);
		exit(1);
	}
}

static void inproc_close(struct inproc *p)
{
	dms_error *err = NULL;
	int r = p->ops->cleanup(p->ex, NULL, &err);

	if (r != DMS_OK)
		log_error(p, "cleanup", r, err);
	p->ops->destroy(p->ex);
	dlclose(p->dl);
	free(p->id);
}

static char *next_execution_id(struct inproc *p)
{
	return bench_asprintf("%s-%ld", bench_token(), atomic_fetch_add(&p->seq, 1));
}

static bool result_ok(const char *result)
{
	static const char *const code_path[] = {"exit_code", NULL};
	long long code = -1;

	if (!json_get_int(result, code_path, &code) || code != 0) {
		bench_log("job failed: %.300s", result ? result : "(null)");
		return false;
	}
	return true;
}

static const char *const true_cmd[] = {"true", NULL};

static int run_true(struct inproc *p)
{
	char *eid = next_execution_id(p);
	char *req = bench_exec_request(eid, p->type, p->image, true_cmd, "");
	char *result = NULL;
	dms_error *err = NULL;
	int r = p->ops->run(p->ex, NULL, req, &result, &err);

	if (r != DMS_OK)
		log_error(p, "run", r, err);
	else if (!result_ok(result))
		r = -1;
	p->ops->string_free(result);
	free(req);
	free(eid);
	return r == DMS_OK ? 0 : -1;
}

static int mode_latency(struct inproc *p, long n)
{
	double *v = bench_xmalloc((size_t)n * sizeof(double));
	int r = 0;

	for (long i = -1; i < n && r == 0; i++) { /* i == -1: warm-up */
		bench_turn_begin();
		double t0 = bench_now_ms();
		r = run_true(p);
		bench_turn_end();
		if (i >= 0)
			v[i] = bench_now_ms() - t0;
	}
	if (r == 0) {
		printf("{");
		bench_print_samples(stdout, "samples_ms", v, (size_t)n);
		printf("}\n");
	}
	free(v);
	return r;
}

struct tput {
	struct inproc *p;
	atomic_long left;
	atomic_long failed;
};

static void *tput_thread(void *arg)
{
	struct tput *t = arg;

	while (atomic_fetch_sub(&t->left, 1) > 0)
		if (run_true(t->p) < 0)
			atomic_fetch_add(&t->failed, 1);
	return NULL;
}

static int mode_tput(struct inproc *p, long conc, long jobs)
{
	struct tput t = {.p = p};
	pthread_t *th = bench_xmalloc((size_t)conc * sizeof(*th));

	atomic_init(&t.left, jobs);
	atomic_init(&t.failed, 0);
	double t0 = bench_now_ms();
	for (long i = 0; i < conc; i++)
		if (pthread_create(&th[i], NULL, tput_thread, &t) != 0)
			bench_die("pthread_create failed");
	for (long i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	double secs = (bench_now_ms() - t0) / 1e3;
	free(th);
	long failed = atomic_load(&t.failed);
	printf("{\"conc\":%ld,\"jobs\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"jobs_per_s\":%.3f}\n",
	       conc, jobs, failed, secs, (double)(jobs - failed) / secs);
	return failed ? -1 : 0;
}

/* Reads fd to EOF through a frame counter. */
static int drain_fd(int fd, struct frame_counter *fc)
{
	static char buf[1 << 16];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			frame_counter_feed(fc, buf, (size_t)n);
		else if (n == 0)
			return 0;
		else if (errno != EINTR)
			return -1;
	}
}

static int mode_logs(struct inproc *p, unsigned long long bytes)
{
	char *sh = bench_log_cmd(bytes);
	const char *cmd[] = {"sh", "-c", sh, NULL};
	char *eid = next_execution_id(p);
	char *req = bench_exec_request(eid, p->type, p->image, cmd, "");
	char *log_req =
	    bench_asprintf("{\"execution_id\":\"%s\",\"follow\":true,\"format\":\"framed\"}", eid);
	struct frame_counter fc = {0};
	dms_error *err = NULL;
	char *result = NULL;
	int fd = -1;
	int r = p->ops->start(p->ex, NULL, req, &err);

	if (r != DMS_OK) {
		log_error(p, "start", r, err);
		goto out;
	}
	double t0 = bench_now_ms();
	r = p->ops->get_log_stream(p->ex, NULL, log_req, &fd, &err);
	if (r != DMS_OK) {
		log_error(p, "get_log_stream", r, err);
		goto out;
	}
	bench_log("%s: log fd open after %.0f ms", eid, bench_now_ms() - t0);
	if (drain_fd(fd, &fc) < 0) {
		bench_log("reading the log stream: %s", strerror(errno));
		r = -1;
		goto out;
	}
	double secs = (bench_now_ms() - t0) / 1e3;
	bench_log("%s: EOF after %.0f ms, %" PRIu64 " payload bytes; waiting", eid, secs * 1e3,
	          fc.payload);
	r = p->ops->wait(p->ex, NULL, eid, &result, &err);
	if (r != DMS_OK) {
		log_error(p, "wait", r, err);
		goto out;
	}
	if (!result_ok(result)) {
		r = -1;
		goto out;
	}
	printf("{\"bytes\":%" PRIu64 ",\"expected\":%llu,\"seconds\":%.3f,"
	       "\"last_byte_seconds\":%.3f,\"mb_per_s\":%.2f}\n",
	       fc.payload, bytes, secs, (fc.last_ms - t0) / 1e3, (double)fc.payload / 1e6 / secs);
out:
	if (fd >= 0)
		close(fd);
	p->ops->string_free(result);
	free(log_req);
	free(req);
	free(eid);
	free(sh);
	return r == DMS_OK ? 0 : -1;
}

static int mode_exit(struct inproc *p, long n, const char *sleep_s)
{
	char *label = bench_asprintf("org.dms.executor=%s", p->id);
	struct evwatch *w = evwatch_start(p->host, label, "org.dms.execution");
	const char *cmd[] = {"sleep", sleep_s, NULL};
	double *lat = bench_xmalloc((size_t)n * sizeof(double));
	int r = 0;

	for (long i = 0; i < n && r == 0; i++) {
		bench_turn_begin();
		char *eid = next_execution_id(p);
		char *req = bench_exec_request(eid, p->type, p->image, cmd, "");
		char *result = NULL;
		dms_error *err = NULL;
		r = p->ops->start(p->ex, NULL, req, &err);
		if (r != DMS_OK) {
			log_error(p, "start", r, err);
		} else {
			r = p->ops->wait(p->ex, NULL, eid, &result, &err);
			int64_t reply = bench_real_ns();
			if (r != DMS_OK) {
				log_error(p, "wait", r, err);
			} else if (!result_ok(result)) {
				r = -1;
			} else {
				int64_t die = evwatch_die_ns(w, eid, 10000);
				if (!die) {
					bench_log("no die event for %s", eid);
					r = -1;
				}
				lat[i] = (double)(reply - die) / 1e6;
			}
		}
		p->ops->string_free(result);
		free(req);
		free(eid);
		bench_turn_end();
	}
	evwatch_stop(w);
	if (r == 0) {
		printf("{");
		bench_print_samples(stdout, "samples_ms", lat, (size_t)n);
		printf("}\n");
	}
	free(lat);
	free(label);
	return r == DMS_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	bench_set_progname("dms-bench-inproc");
	if (argc < 8) {
		fprintf(stderr, "usage: dms-bench-inproc PLUGIN CONFIG_FILE IMAGE TYPE HOST "
		                "latency N | tput CONC JOBS | logs BYTES | exit N SLEEP\n");
		return 2;
	}
	struct inproc p = {.image = argv[3], .type = argv[4], .host = argv[5]};
	const char *mode = argv[6];
	int r;

	atomic_init(&p.seq, 0);
	curl_global_init(CURL_GLOBAL_ALL);
	inproc_open(&p, argv[1], argv[2]);
	if (strcmp(mode, "latency") == 0) {
		r = mode_latency(&p, bench_arg_long("N", argv[7], 1, 100000));
	} else if (strcmp(mode, "tput") == 0 && argc >= 9) {
		r = mode_tput(&p, bench_arg_long("CONC", argv[7], 1, 1024),
		              bench_arg_long("JOBS", argv[8], 1, 1000000));
	} else if (strcmp(mode, "logs") == 0) {
		r = mode_logs(&p,
		              (unsigned long long)bench_arg_long("BYTES", argv[7], 1, 1L << 40));
	} else if (strcmp(mode, "exit") == 0 && argc >= 9) {
		bench_arg_long("SLEEP", argv[8], 0, 3600);
		r = mode_exit(&p, bench_arg_long("N", argv[7], 1, 100000), argv[8]);
	} else {
		bench_die("unknown mode or missing arguments: %s", mode);
	}
	inproc_close(&p);
	curl_global_cleanup();
	return r == 0 ? 0 : 1;
}
