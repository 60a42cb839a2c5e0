/* test_hygiene.c — resource hygiene of the plugin through its ABI, against
 * the real engine (DMS_DOCKER_HOST): after 1,000 sequential short jobs and
 * after 100 concurrent ones, the process's open fds (/proc/self/fd),
 * threads (/proc/self/task), live heap and RSS (/proc/self/status VmRSS)
 * come back to where they were, and the executor's state dir holds no
 * leftover records or spools once retention has passed.
 *
 * Tolerances (docs/robustness.md has the measured figures):
 *   - after destroy(): fds and threads exactly the baseline taken before
 *     new_executor(); live heap within 256 KiB; RSS within 8 MiB (allocator
 *     caches; the live heap is the exact measure);
 *   - no trend: RSS after all the sequential jobs within 2 MiB of RSS half
 *     way through;
 *   - while the executor lives: threads exactly as right after
 *     new_executor() at every point, even with 100 jobs running (the
 *     architecture promises a fixed number of threads per executor); fds
 *     never above that plus the HTTP pool's bound (8 pooled curl pairs, at
 *     most 3 fds each: the connection and the multi handle's wakeup pair),
 *     and, compared with the executor after a warm-up of WARM_JOBS jobs
 *     (pool in use), within 4 fds and 512 KiB of live heap once retention
 *     has passed (nothing grows with the number of jobs ever run).
 * Every "comes back" is polled with a deadline, never a fixed sleep.
 *
 * Slow by nature, and bound by the engine (each job is a create, start,
 * wait, inspect, logs and remove): 0.6 job/s measured with ASan on two
 * cores under a load average of 10 (docs/robustness.md has the figures).
 * Under ASan the quarantine is turned off
 * (__asan_default_options below) and the allocator purged before RSS is
 * read, so freed memory can leave RSS; the live-heap figure comes from the
 * allocator itself. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "test_assert.h"

#if defined(__SANITIZE_ADDRESS__)
#define HYG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HYG_ASAN 1
#endif
#endif

#ifdef HYG_ASAN
/* From the sanitizer allocator interface (gcc ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
void __sanitizer_purge_allocator(void);
/* Freed memory goes straight back to the allocator instead of a 256 MB
 * quarantine, so RSS can return. ASAN_OPTIONS from the environment still
 * override any other option. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0:allocator_release_to_os_interval_ms=0";
}
#endif

/* DMS_HYGIENE_SEQUENTIAL / DMS_HYGIENE_CONCURRENT override the counts
 * (for a quick local run; the suite's figures are with the defaults). */
#define SEQUENTIAL_JOBS env_count("DMS_HYGIENE_SEQUENTIAL", 1000)
#define CONCURRENT_JOBS env_count("DMS_HYGIENE_CONCURRENT", 100)
#define CONCURRENT_MAX 1000
#define WARM_JOBS 20
#define ALIVE_FD_SLACK 4
#define POOL_FD_BOUND (8 * 3)
#define HEAP_SLACK_DESTROYED (256 * 1024)
#define HEAP_SLACK_ALIVE (512 * 1024)
/* RSS after destroy: ASan's allocator (and glibc's, less so) keeps some
 * freed pages mapped, so RSS settles a few MB above the baseline even when
 * the live heap is back to the byte; a leak shows as a trend instead. */
#define RSS_SLACK_KB (8 * 1024)
#define RSS_TREND_SLACK_KB (2 * 1024)
#define SETTLE_MS 60000

static int env_count(const char *name, int dflt)
{
	const char *v = getenv(name);
	int n = v && *v ? atoi(v) : dflt;

	return n < 1 ? 1 : n > CONCURRENT_MAX ? CONCURRENT_MAX : n;
}

static struct itest_plugin P;
static char state_dir[] = "/tmp/dms-hygiene-XXXXXX";

struct usage {
	int fds;
	int threads;
	long rss_kb;
	long long heap; /* live heap bytes */
};

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	cr_assert(f, "/proc/self/status: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void measure(struct usage *u)
{
#ifdef HYG_ASAN
	__sanitizer_purge_allocator();
	u->heap = (long long)__sanitizer_get_current_allocated_bytes();
#else
	malloc_trim(0);
	u->heap = (long long)mallinfo2().uordblks;
#endif
	u->fds = count_entries("/proc/self/fd") - 1; /* opendir's own fd */
	u->threads = count_entries("/proc/self/task");
	u->rss_kb = rss_kb();
}

static void show(const char *when, const struct usage *u)
{
	cr_log_info("%-34s fds %3d  threads %2d  RSS %6ld kB  heap %9lld B", when, u->fds,
	            u->threads, u->rss_kb, u->heap);
	fprintf(stderr, "hygiene: %-34s fds %3d  threads %2d  RSS %6ld kB  heap %9lld B\n", when,
	        u->fds, u->threads, u->rss_kb, u->heap);
}

static char *config(const char *extra)
{
	char *cfg = NULL;

	cr_assert(asprintf(&cfg, "runtime: docker\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n%s",
	                   itest_engine_host(), state_dir, extra ? extra : "") > 0);
	return cfg;
}

static dms_executor *new_executor(const char *id, const char *extra)
{
	char *cfg = config(extra);
	dms_executor *ex = NULL;
	dms_error *err = NULL;
	int rc = P.ops->new_executor(id, cfg, &ex, &err);

	cr_assert_eq(rc, 0, "new_executor %s: %s", id, err ? err->message : "?");
	free(cfg);
	return ex;
}

static void run_true(dms_executor *ex, const char *exec_id)
{
	char *req = itest_request(exec_id, "true", NULL, NULL), *res = NULL;
	dms_error *err = NULL;
	int rc = P.ops->run(ex, NULL, req, &res, &err);

	cr_assert_eq(rc, 0, "run %s: %d %s", exec_id, rc, err ? err->message : "");
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 0, "run %s: %s", exec_id, res);
	yajl_tree_free(v);
	P.ops->string_free(res);
	free(req);
}

/* Entries under <state_dir>/<id>/<sub> (records or spools). */
static int state_entries(const char *id, const char *sub)
{
	char *p = NULL;

	assert_cmp(asprintf(&p, "%s/%s/%s", state_dir, id, sub), >, 0);
	int n = count_entries(p);
	free(p);
	return n;
}

static bool list_empty(dms_executor *ex)
{
	char *list = NULL;

	if (!DMS_OP_AVAILABLE(P.ops, list))
		return true;
	assert_cmp(P.ops->list(ex, &list, NULL), ==, 0);
	bool empty = strcmp(list, "[]") == 0;
	P.ops->string_free(list);
	return empty;
}

/* Waits (deadline SETTLE_MS) until the executor retired every finished job:
 * nothing listed, no record, no spool left. */
static void wait_retired(dms_executor *ex, const char *id)
{
	int64_t end = itest_now_ms() + SETTLE_MS;
	int records = -1, spools = -1;
	bool empty = false;

	while (itest_now_ms() < end) {
		empty = list_empty(ex);
		records = state_entries(id, "jobs");
		spools = state_entries(id, "spool");
		if (empty && records == 0 && spools == 0)
			return;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL); /* poll interval, not a wait for an event */
	}
	cr_assert_fail("finished jobs not retired within %d ms of retention: list empty %d, "
	               "%d records and %d spools left in %s/%s",
	               SETTLE_MS, empty, records, spools, state_dir, id);
}

/* Polls until the process is back to `want` in fds and threads (exactly,
 * or fds within +-fd_slack: idle pooled connections come and go), the
 * deadline being SETTLE_MS. */
static void wait_usage(struct usage *now, const struct usage *want, int fd_slack, const char *when)
{
	int64_t end = itest_now_ms() + SETTLE_MS;

	for (;;) {
		measure(now);
		if (now->threads == want->threads && now->fds <= want->fds + fd_slack &&
		    now->fds >= want->fds - fd_slack)
			break;
		if (itest_now_ms() >= end)
			break;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	show(when, now);
	cr_expect_eq(now->threads, want->threads, "%s: %d threads, want %d", when, now->threads,
	             want->threads);
	cr_expect(now->fds >= want->fds - fd_slack && now->fds <= want->fds + fd_slack,
	          "%s: %d fds, want %d (+-%d)", when, now->fds, want->fds, fd_slack);
}

static void check_destroyed(const struct usage *base)
{
	struct usage after;

	wait_usage(&after, base, 0, "after destroy");
	cr_expect(after.heap <= base->heap + HEAP_SLACK_DESTROYED,
	          "live heap %lld B after destroy, baseline %lld B (+%d allowed)", after.heap,
	          base->heap, HEAP_SLACK_DESTROYED);
	cr_expect(after.rss_kb <= base->rss_kb + RSS_SLACK_KB,
	          "RSS %ld kB after destroy, baseline %ld kB (+%d allowed)", after.rss_kb,
	          base->rss_kb, RSS_SLACK_KB);
}

/* The executor's own baseline: after WARM_JOBS jobs ran and were retired,
 * so its connection pool and allocator caches are in use. */
static void warm_executor(dms_executor *ex, const char *id, struct usage *alive)
{
	for (int i = 0; i < WARM_JOBS; i++) {
		char *eid = NULL;
		assert_cmp(asprintf(&eid, "warm-%d", i), >, 0);
		run_true(ex, eid);
		free(eid);
	}
	wait_retired(ex, id);
	measure(alive);
	show("executor warmed up, jobs retired", alive);
}

/* The baseline: the plugin loaded and one executor created, used and
 * destroyed, so one-time initialisations (libcurl, resolver, locale) are
 * behind us. */
static void warm_up(struct usage *base)
{
	char *id = itest_unique_id("hyg-warm");
	dms_executor *ex = new_executor(id, "retention: 1s\n");

	for (int i = 0; i < 3; i++) {
		char *eid = NULL;
		assert_cmp(asprintf(&eid, "warm-%d", i), >, 0);
		run_true(ex, eid);
		free(eid);
	}
	P.ops->cleanup(ex, NULL, NULL);
	P.ops->destroy(ex);
	free(id);
	measure(base);
	show("baseline (warm, no executor)", base);
}

static const char *lines_of(int n)
{
	static char lines[CONCURRENT_MAX];

	memset(lines, '\n', (size_t)n);
	return lines;
}

static void setup(void)
{
	cr_assert(mkdtemp(state_dir), "mkdtemp: %s", strerror(errno));
	itest_plugin_load(&P);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void teardown(void)
{
	itest_plugin_unload(&P);
	nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(hygiene, .init = setup, .fini = teardown, .timeout = 3000);

Test(hygiene, sequential_jobs_leave_nothing_behind)
{
	struct usage base, alive, now;

	warm_up(&base);
	char *id = itest_unique_id("hyg-seq");
	dms_executor *ex = new_executor(id, "retention: 1s\n");
	struct usage created;
	measure(&created);
	show("executor created", &created);
	warm_executor(ex, id, &alive);

	int64_t t0 = itest_now_ms();
	int max_threads = alive.threads, max_fds = alive.fds;
	struct usage half = alive;
	for (int i = 0; i < SEQUENTIAL_JOBS; i++) {
		char *eid = NULL;
		assert_cmp(asprintf(&eid, "seq-%d", i), >, 0);
		run_true(ex, eid);
		free(eid);
		if (i == SEQUENTIAL_JOBS / 2 - 1) {
			measure(&half);
			show("half of the sequential jobs done", &half);
		}
		if (i % 50 == 49) {
			measure(&now);
			max_threads = now.threads > max_threads ? now.threads : max_threads;
			max_fds = now.fds > max_fds ? now.fds : max_fds;
			if (i % 250 == 249)
				fprintf(stderr, "hygiene: %d jobs, %.1f jobs/s\n", i + 1,
				        (i + 1) * 1000.0 / (double)(itest_now_ms() - t0));
		}
	}
	int64_t elapsed = itest_now_ms() - t0;
	fprintf(stderr,
	        "hygiene: %d sequential jobs in %.1f s (%.2f jobs/s); peak %d threads, "
	        "%d fds\n",
	        SEQUENTIAL_JOBS, (double)elapsed / 1000, SEQUENTIAL_JOBS * 1000.0 / (double)elapsed,
	        max_threads, max_fds);
	cr_expect_eq(max_threads, created.threads, "threads grew to %d during the jobs (from %d)",
	             max_threads, created.threads);
	cr_expect(max_fds <= created.fds + POOL_FD_BOUND,
	          "fds grew to %d during the jobs (%d when created, pool bound %d)", max_fds,
	          created.fds, POOL_FD_BOUND);

	measure(&now);
	show("all sequential jobs done", &now);
	cr_expect(now.rss_kb <= half.rss_kb + RSS_TREND_SLACK_KB,
	          "RSS grew from %ld kB half way to %ld kB at the end (+%d allowed): a leak?",
	          half.rss_kb, now.rss_kb, RSS_TREND_SLACK_KB);
	wait_retired(ex, id);
	wait_usage(&now, &alive, ALIVE_FD_SLACK, "sequential jobs done, retired");
	cr_expect(now.heap <= alive.heap + HEAP_SLACK_ALIVE,
	          "live heap %lld B after %d jobs were retired, %lld B when created (+%d allowed)",
	          now.heap, SEQUENTIAL_JOBS, alive.heap, HEAP_SLACK_ALIVE);

	P.ops->cleanup(ex, NULL, NULL);
	P.ops->destroy(ex);
	free(id);
	check_destroyed(&base);
}

/* Completion callbacks of wait_async: no thread of ours per job, as in
 * dms-host (a thread each would itself move RSS). */
struct waits {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int done, ok, failed;
	char first_failure[256];
};

static void on_done(void *user_data, const char *execution_id, const char *result_json,
                    const dms_error *error)
{
	struct waits *w = user_data;
	bool ok = false;

	if (!error && result_json) {
		yajl_val v = yajl_tree_parse(result_json, NULL, 0);
		const char *path[] = {"exit_code", NULL};
		yajl_val code = v ? yajl_tree_get(v, path, yajl_t_number) : NULL;
		ok = code && YAJL_IS_INTEGER(code) && YAJL_GET_INTEGER(code) == 0;
		yajl_tree_free(v);
	}
	pthread_mutex_lock(&w->mu);
	w->done++;
	if (ok) {
		w->ok++;
	} else if (w->failed++ == 0) {
		snprintf(w->first_failure, sizeof(w->first_failure), "%s: %s", execution_id,
		         error         ? error->message
		         : result_json ? result_json
		                       : "(no result)");
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

Test(hygiene, concurrent_jobs_leave_nothing_behind)
{
	struct usage base, alive, now;
	char ctl[] = "/tmp/dms-hygiene-ctl-XXXXXX", *fifo = NULL, *top = NULL;

	warm_up(&base);
	/* The barrier: every job blocks reading one line from a FIFO we hold
	 * open read-write (so its open never blocks), and we write the lines
	 * once all of them run. A line written before a job reaches its read
	 * waits in the pipe: no job can miss its release. */
	cr_assert(mkdtemp(ctl));
	chmod(ctl, 0755);
	assert_cmp(asprintf(&fifo, "%s/go", ctl), >, 0);
	cr_assert_eq(mkfifo(fifo, 0666), 0, "mkfifo: %s", strerror(errno));
	chmod(fifo, 0666);
	int hold = open(fifo, O_RDWR | O_CLOEXEC);
	cr_assert(hold >= 0, "open fifo: %s", strerror(errno));
	assert_cmp(asprintf(&top, "\"inputs\":[{\"source\":\"%s\",\"target\":\"/ctl\"}]", ctl), >,
	           0);

	char *id = itest_unique_id("hyg-par"), *extra = NULL;
	assert_cmp(asprintf(&extra, "retention: 1s\npolicy:\n  bind_roots: [\"%s\"]\n", ctl), >, 0);
	dms_executor *ex = new_executor(id, extra);
	free(extra);
	struct usage created;
	measure(&created);
	show("executor created", &created);
	warm_executor(ex, id, &alive);

	int64_t t0 = itest_now_ms();
	for (int i = 0; i < CONCURRENT_JOBS; i++) {
		char eid[32];
		snprintf(eid, sizeof(eid), "par-%d", i);
		char *req = itest_request(eid, "read line < /ctl/go", NULL, top);
		dms_error *err = NULL;
		int rc = P.ops->start(ex, NULL, req, &err);
		cr_assert_eq(rc, 0, "start %s: %d %s", eid, rc, err ? err->message : "");
		free(req);
	}
	fprintf(stderr, "hygiene: %d jobs started in %.1f s, all running\n", CONCURRENT_JOBS,
	        (double)(itest_now_ms() - t0) / 1000);
	measure(&now);
	show("all concurrent jobs running", &now);
	cr_expect_eq(now.threads, created.threads,
	             "%d threads with %d jobs running, %d with none: a thread per job?",
	             now.threads, CONCURRENT_JOBS, created.threads);
	cr_expect(now.fds <= created.fds + POOL_FD_BOUND,
	          "%d fds with %d jobs running, %d when created: an fd per job?", now.fds,
	          CONCURRENT_JOBS, created.fds);

	/* All waits registered at once, then the release. */
	struct waits w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	for (int i = 0; i < CONCURRENT_JOBS; i++) {
		char eid[32];
		dms_error *err = NULL;
		snprintf(eid, sizeof(eid), "par-%d", i);
		int rc = P.ops->wait_async(ex, eid, on_done, &w, &err);
		cr_assert_eq(rc, 0, "wait_async %s: %d %s", eid, rc, err ? err->message : "");
	}
	assert_cmp(write(hold, lines_of(CONCURRENT_JOBS), (size_t)CONCURRENT_JOBS), ==,
	           (ssize_t)CONCURRENT_JOBS);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SETTLE_MS / 1000 + CONCURRENT_JOBS; /* ~1 s per harvest, at worst */
	pthread_mutex_lock(&w.mu);
	while (w.done < CONCURRENT_JOBS && pthread_cond_timedwait(&w.cond, &w.mu, &deadline) == 0)
		;
	int done = w.done, ok = w.ok;
	pthread_mutex_unlock(&w.mu);
	cr_assert_eq(done, CONCURRENT_JOBS, "%d of %d waits answered before the deadline", done,
	             CONCURRENT_JOBS);
	cr_expect_eq(ok, CONCURRENT_JOBS, "%d of %d jobs exited 0; first failure: %s", ok,
	             CONCURRENT_JOBS, w.first_failure);
	fprintf(stderr, "hygiene: %d concurrent jobs done in %.1f s\n", CONCURRENT_JOBS,
	        (double)(itest_now_ms() - t0) / 1000);
	close(hold);

	wait_retired(ex, id);
	wait_usage(&now, &alive, ALIVE_FD_SLACK, "concurrent jobs done, retired");
	cr_expect(now.heap <= alive.heap + HEAP_SLACK_ALIVE,
	          "live heap %lld B after %d concurrent jobs were retired, %lld B when created",
	          now.heap, CONCURRENT_JOBS, alive.heap);

	P.ops->cleanup(ex, NULL, NULL);
	P.ops->destroy(ex);
	free(id);
	check_destroyed(&base);
	unlink(fifo);
	rmdir(ctl);
	free(fifo);
	free(top);
}
