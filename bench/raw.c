/* raw.c — dms-bench-raw: the "raw" baseline of the benchmark. Drives the
 * Engine API directly with the plain sequence a careful user would write —
 * create → start → wait → delete, one keep-alive libcurl connection per
 * thread over the engine's unix socket — and prints one JSON object.
 *
 *   dms-bench-raw HOST IMAGE latency N          one `true` job at a time
 *   dms-bench-raw HOST IMAGE tput CONC JOBS     JOBS `true` jobs on CONC threads
 *   dms-bench-raw HOST IMAGE logs BYTES         GET /logs?follow=1 of a BYTES job
 *   dms-bench-raw HOST IMAGE exit N SLEEP       `die` event time → /wait reply
 *
 * Works unchanged on Docker and on Podman's Docker-compatible API. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define LABEL_KEY "dms.bench"

struct opts {
	const char *host;
	const char *image;
};

/* One job through the raw sequence; step times in ms go to t[0..3]
 * (create, start, wait, delete) when t is non-NULL. */
static int raw_job(struct eng *e, const struct opts *o, const char *const *cmd, double *t)
{
	char *body = eng_create_body(o->image, cmd, LABEL_KEY, bench_token());
	char *id = NULL;
	long code = -1;
	double t0 = bench_now_ms(), t1 = t0, t2 = t0, t3 = t0;
	int r = eng_create(e, body, &id);

	if (r == 0) {
		t1 = bench_now_ms();
		r = eng_start(e, id);
		t2 = bench_now_ms();
		if (r == 0)
			r = eng_wait(e, id, &code);
		t3 = bench_now_ms();
		if (eng_delete(e, id) < 0)
			r = -1;
	}
	double t4 = bench_now_ms();
	if (r == 0 && code != 0) {
		bench_log("job exited %ld", code);
		r = -1;
	}
	if (t) {
		t[0] = t1 - t0;
		t[1] = t2 - t1;
		t[2] = t3 - t2;
		t[3] = t4 - t3;
	}
	free(body);
	free(id);
	return r;
}

static const char *const true_cmd[] = {"true", NULL};

static int mode_latency(const struct opts *o, long n)
{
	struct eng e;
	double *total = bench_xmalloc((size_t)n * sizeof(double));
	double *step[4];
	int r = 0;

	for (int s = 0; s < 4; s++)
		step[s] = bench_xmalloc((size_t)n * sizeof(double));
	eng_init(&e, o->host);
	for (long i = -1; i < n && r == 0; i++) { /* i == -1: warm-up */
		bench_turn_begin();
		double t[4], t0 = bench_now_ms();
		r = raw_job(&e, o, true_cmd, t);
		bench_turn_end();
		if (i >= 0) {
			total[i] = bench_now_ms() - t0;
			for (int s = 0; s < 4; s++)
				step[s][i] = t[s];
		}
	}
	eng_fini(&e);
	if (r == 0) {
		static const char *const names[4] = {"create_ms", "start_ms", "wait_ms",
		                                     "delete_ms"};
		printf("{");
		bench_print_samples(stdout, "samples_ms", total, (size_t)n);
		for (int s = 0; s < 4; s++) {
			printf(",");
			bench_print_samples(stdout, names[s], step[s], (size_t)n);
		}
		printf("}\n");
	}
	for (int s = 0; s < 4; s++)
		free(step[s]);
	free(total);
	return r;
}

struct tput {
	const struct opts *o;
	atomic_long left;
	atomic_long failed;
};

static void *tput_thread(void *arg)
{
	struct tput *t = arg;
	struct eng e;

	eng_init(&e, t->o->host);
	while (atomic_fetch_sub(&t->left, 1) > 0)
		if (raw_job(&e, t->o, true_cmd, NULL) < 0)
			atomic_fetch_add(&t->failed, 1);
	eng_fini(&e);
	return NULL;
}

static int mode_tput(const struct opts *o, long conc, long jobs)
{
	struct tput t = {.o = o};
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

static void count_frames(void *user, const char *data, size_t n)
{
	frame_counter_feed(user, data, n);
}

static int mode_logs(const struct opts *o, unsigned long long bytes)
{
	struct eng e, logs;
	char *sh = bench_log_cmd(bytes);
	const char *cmd[] = {"sh", "-c", sh, NULL};
	char *body = eng_create_body(o->image, cmd, LABEL_KEY, bench_token());
	char *id = NULL;
	struct frame_counter fc = {0};
	long code = -1;
	int r;

	eng_init(&e, o->host);
	eng_init(&logs, o->host);
	r = eng_create(&e, body, &id);
	if (r == 0)
		r = eng_start(&e, id);
	if (r == 0) {
		char *path = bench_asprintf("/containers/%s/logs?follow=1&stdout=1&stderr=1", id);
		double t0 = bench_now_ms();
		long st = eng_stream(&logs, path, count_frames, &fc, NULL);
		double secs = (bench_now_ms() - t0) / 1e3;
		free(path);
		if (st != 200) {
			bench_log("logs: HTTP %ld", st);
			r = -1;
		}
		if (eng_wait(&e, id, &code) < 0 || code != 0)
			r = -1;
		if (r == 0)
			printf("{\"bytes\":%" PRIu64 ",\"expected\":%llu,\"seconds\":%.3f,"
			       "\"last_byte_seconds\":%.3f,\"mb_per_s\":%.2f}\n",
			       fc.payload, bytes, secs, (fc.last_ms - t0) / 1e3,
			       (double)fc.payload / 1e6 / secs);
	}
	if (id && eng_delete(&e, id) < 0)
		r = -1;
	eng_fini(&logs);
	eng_fini(&e);
	free(id);
	free(body);
	free(sh);
	return r;
}

static int mode_exit(const struct opts *o, long n, const char *sleep_s)
{
	struct eng e;
	char *label = bench_asprintf("%s=%s", LABEL_KEY, bench_token());
	struct evwatch *w = evwatch_start(o->host, label, NULL);
	const char *cmd[] = {"sleep", sleep_s, NULL};
	double *lat = bench_xmalloc((size_t)n * sizeof(double));
	int r = 0;

	eng_init(&e, o->host);
	for (long i = 0; i < n && r == 0; i++) {
		bench_turn_begin();
		char *body = eng_create_body(o->image, cmd, LABEL_KEY, bench_token());
		char *id = NULL;
		long code = -1;
		r = eng_create(&e, body, &id);
		if (r == 0)
			r = eng_start(&e, id);
		if (r == 0)
			r = eng_wait(&e, id, &code);
		int64_t reply = bench_real_ns();
		if (r == 0) {
			int64_t die = evwatch_die_ns(w, id, 10000);
			if (!die) {
				bench_log("no die event for %s", id);
				r = -1;
			}
			lat[i] = (double)(reply - die) / 1e6;
		}
		if (id && eng_delete(&e, id) < 0)
			r = -1;
		free(id);
		free(body);
		bench_turn_end();
	}
	eng_fini(&e);
	evwatch_stop(w);
	if (r == 0) {
		printf("{");
		bench_print_samples(stdout, "samples_ms", lat, (size_t)n);
		printf("}\n");
	}
	free(lat);
	free(label);
	return r;
}

int main(int argc, char **argv)
{
	bench_set_progname("dms-bench-raw");
	if (argc < 5) {
		fprintf(stderr, "usage: dms-bench-raw HOST IMAGE latency N | tput CONC JOBS | "
		                "logs BYTES | exit N SLEEP\n");
		return 2;
	}
	struct opts o = {argv[1], argv[2]};
	const char *mode = argv[3];
	int r;

	curl_global_init(CURL_GLOBAL_ALL);
	if (strcmp(mode, "latency") == 0) {
		r = mode_latency(&o, bench_arg_long("N", argv[4], 1, 100000));
	} else if (strcmp(mode, "tput") == 0 && argc >= 6) {
		r = mode_tput(&o, bench_arg_long("CONC", argv[4], 1, 1024),
		              bench_arg_long("JOBS", argv[5], 1, 1000000));
	} else if (strcmp(mode, "logs") == 0) {
		r = mode_logs(&o,
		              (unsigned long long)bench_arg_long("BYTES", argv[4], 1, 1L << 40));
	} else if (strcmp(mode, "exit") == 0 && argc >= 6) {
		bench_arg_long("SLEEP", argv[5], 0, 3600);
		r = mode_exit(&o, bench_arg_long("N", argv[4], 1, 100000), argv[5]);
	} else {
		bench_die("unknown mode or missing arguments: %s", mode);
	}
	curl_global_cleanup();
	return r == 0 ? 0 : 1;
}
