/* metrics.c — dms-host's counters and their Prometheus text (metrics.h,
 * docs/metrics.md). */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "fdio.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define MAX_BUCKETS 16
#define N_CATEGORIES 32
#define TEXTFILE_REFRESH_MS 10000
#define TEXTFILE_MIN_INTERVAL_MS 250

/* Upper bounds in seconds (le), ascending; +Inf is implied. */
static const double job_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
static const double pull_bounds[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
#define N_JOB_BOUNDS (sizeof(job_bounds) / sizeof(job_bounds[0]))
#define N_PULL_BOUNDS (sizeof(pull_bounds) / sizeof(pull_bounds[0]))

struct histogram {
	uint64_t buckets[MAX_BUCKETS]; /* not cumulative; [n_bounds] is +Inf */
	uint64_t count;
	double sum;
};

/* Everything counted for one (executor, runtime). */
struct series {
	char *executor;
	char *runtime;
	uint64_t started, finished, failed, cancelled;
	struct histogram duration;
	uint64_t pulls, pull_bytes;
	struct histogram pull_duration;
	struct series *next;
};

/* A pull under way: from its first report to the moment one of the
 * executions that reported it leaves PENDING. */
struct pull {
	char *executor;
	char *image;
	char **executions; /* NULL-terminated */
	int64_t began_ns;
	uint64_t bytes;
	struct pull *next;
};

/* An execution counted as started and not yet ended (a resume after a
 * pause reports RUNNING again: counted once). */
struct live {
	char *executor;
	char *execution;
	struct live *next;
};

/* A log stream handed out: open while this process still holds the
 * writer's end ("socket:[ino]" or "pipe:[ino]" in /proc/self/fd). */
struct stream {
	bool pipe;
	unsigned long ino;
	struct stream *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct series *series;
	struct pull *pulls;
	struct live *live;
	struct stream *streams;
	uint64_t errors[N_CATEGORIES];
	uint64_t log_streams_total;
	int64_t waiters;
	int64_t executors;
	/* the textfile writer */
	char *textfile;
	pthread_t thread;
	bool running, dirty, stop, failing;
} m = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* --- helpers (m.mu held) --------------------------------------------- */

static void changed_locked(void)
{
	m.dirty = true;
	if (m.running)
		pthread_cond_signal(&m.cond);
}

static struct series *series_get_locked(const char *executor, const char *runtime)
{
	struct series *s;

	if (!runtime || !*runtime)
		runtime = "unknown";
	for (s = m.series; s; s = s->next)
		if (strcmp(s->executor, executor) == 0 && strcmp(s->runtime, runtime) == 0)
			return s;
	s = host_calloc(1, sizeof(*s));
	s->executor = host_strdup(executor);
	s->runtime = host_strdup(runtime);
	s->next = m.series;
	m.series = s;
	return s;
}

static void observe(struct histogram *h, const double *bounds, size_t n, double v)
{
	size_t i = 0;

	while (i < n && v > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static bool strv_has(char **v, const char *s)
{
	for (char **p = v; p && *p; p++)
		if (strcmp(*p, s) == 0)
			return true;
	return false;
}

static char **strv_add(char **v, const char *s)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	v = host_realloc(v, (n + 2) * sizeof(*v));
	v[n] = host_strdup(s);
	v[n + 1] = NULL;
	return v;
}

/* Ends the pull this execution waited on, if any, into its series. */
static void pull_end_locked(const char *executor, const char *runtime, const char *execution)
{
	for (struct pull **p = &m.pulls; *p; p = &(*p)->next) {
		struct pull *pl = *p;
		if (strcmp(pl->executor, executor) != 0 || !strv_has(pl->executions, execution))
			continue;
		struct series *s = series_get_locked(executor, runtime);
		s->pulls++;
		s->pull_bytes += pl->bytes;
		observe(&s->pull_duration, pull_bounds, N_PULL_BOUNDS,
		        (double)(mono_now_ns() - pl->began_ns) / 1e9);
		*p = pl->next;
		free(pl->executor);
		free(pl->image);
		free_strv(pl->executions);
		free(pl);
		return;
	}
}

/* true the first time (executor, execution) starts. */
static bool live_add_locked(const char *executor, const char *execution)
{
	for (struct live *l = m.live; l; l = l->next)
		if (strcmp(l->executor, executor) == 0 && strcmp(l->execution, execution) == 0)
			return false;
	struct live *l = host_calloc(1, sizeof(*l));
	l->executor = host_strdup(executor);
	l->execution = host_strdup(execution);
	l->next = m.live;
	m.live = l;
	return true;
}

static void live_remove_locked(const char *executor, const char *execution)
{
	for (struct live **p = &m.live; *p; p = &(*p)->next) {
		struct live *l = *p;
		if (strcmp(l->executor, executor) == 0 && strcmp(l->execution, execution) == 0) {
			*p = l->next;
			free(l->executor);
			free(l->execution);
			free(l);
			return;
		}
	}
}

/* finished_at - started_at of a result, in seconds; < 0 when unknown. */
static double result_duration(const char *result_json)
{
	struct host_json *j;
	const char *a, *b;
	double d = -1;

	if (!result_json)
		return -1;
	j = host_json_parse(result_json, strlen(result_json), NULL);
	a = host_json_get_string(j, "started_at");
	b = host_json_get_string(j, "finished_at");
	if (a && b) {
		int64_t s = parse_rfc3339(a), f = parse_rfc3339(b);
		if (s > 0 && f >= s)
			d = (double)(f - s) / 1e9;
	}
	host_json_free(j);
	return d;
}

/* --- the events ------------------------------------------------------ */

void metrics_job_state(const char *executor_id, const char *runtime, const char *execution_id,
                       dms_exec_state state, const char *result_json)
{
	double duration = -1;

	if (state == DMS_STATE_EXITED || state == DMS_STATE_FAILED || state == DMS_STATE_CANCELLED)
		duration = result_duration(result_json); /* parsed outside the lock */
	pthread_mutex_lock(&m.mu);
	if (state != DMS_STATE_PENDING)
		pull_end_locked(executor_id, runtime, execution_id);
	struct series *s = series_get_locked(executor_id, runtime);
	switch (state) {
	case DMS_STATE_RUNNING:
		if (live_add_locked(executor_id, execution_id))
			s->started++;
		break;
	case DMS_STATE_EXITED:
	case DMS_STATE_FAILED:
	case DMS_STATE_CANCELLED:
		if (state == DMS_STATE_EXITED)
			s->finished++;
		else if (state == DMS_STATE_FAILED)
			s->failed++;
		else
			s->cancelled++;
		if (duration >= 0)
			observe(&s->duration, job_bounds, N_JOB_BOUNDS, duration);
		live_remove_locked(executor_id, execution_id);
		break;
	default:
		break;
	}
	changed_locked();
	pthread_mutex_unlock(&m.mu);
}

void metrics_pull_progress(const char *executor_id, const char *execution_id, const char *image,
                           uint64_t current_bytes)
{
	struct pull *pl;

	pthread_mutex_lock(&m.mu);
	for (pl = m.pulls; pl; pl = pl->next)
		if (strcmp(pl->executor, executor_id) == 0 && strcmp(pl->image, image) == 0)
			break;
	if (!pl) {
		pl = host_calloc(1, sizeof(*pl));
		pl->executor = host_strdup(executor_id);
		pl->image = host_strdup(image);
		pl->began_ns = mono_now_ns();
		pl->next = m.pulls;
		m.pulls = pl;
	}
	if (!strv_has(pl->executions, execution_id))
		pl->executions = strv_add(pl->executions, execution_id);
	if (current_bytes > pl->bytes)
		pl->bytes = current_bytes;
	pthread_mutex_unlock(&m.mu);
}

void metrics_error(int category)
{
	if (category <= 0 || category >= N_CATEGORIES)
		category = DMS_ERR_INTERNAL;
	pthread_mutex_lock(&m.mu);
	m.errors[category]++;
	changed_locked();
	pthread_mutex_unlock(&m.mu);
}

void metrics_waiters_add(int delta)
{
	pthread_mutex_lock(&m.mu);
	m.waiters += delta;
	changed_locked();
	pthread_mutex_unlock(&m.mu);
}

void metrics_executors_add(int delta)
{
	pthread_mutex_lock(&m.mu);
	m.executors += delta;
	changed_locked();
	pthread_mutex_unlock(&m.mu);
}

/* --- log streams ----------------------------------------------------- */

/* The inode of a unix socket's peer (sock_diag), 0 when unknown. */
static unsigned long socket_peer(unsigned long ino)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q = {
	    .nlh = {.nlmsg_len = sizeof(q),
	            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
	            .nlmsg_flags = NLM_F_REQUEST},
	    .req = {.sdiag_family = AF_UNIX,
	            .udiag_states = ~0U,
	            .udiag_ino = (uint32_t)ino,
	            .udiag_show = UDIAG_SHOW_PEER,
	            .udiag_cookie = {~0U, ~0U}},
	};
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} r;
	unsigned long peer = 0;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	ssize_t n;

	if (fd < 0)
		return 0;
	if (send(fd, &q, sizeof(q), 0) == (ssize_t)sizeof(q) &&
	    (n = recv(fd, &r, sizeof(r), 0)) > 0 && NLMSG_OK(&r.nlh, (size_t)n) &&
	    r.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
		struct unix_diag_msg *msg = NLMSG_DATA(&r.nlh);
		int len = (int)(r.nlh.nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
		for (struct rtattr *a = (struct rtattr *)(msg + 1); RTA_OK(a, len);
		     a = RTA_NEXT(a, len))
			if (a->rta_type == UNIX_DIAG_PEER &&
			    RTA_PAYLOAD(a) >= (int)sizeof(uint32_t)) {
				uint32_t v;
				memcpy(&v, RTA_DATA(a), sizeof(v));
				peer = v;
			}
	}
	close(fd);
	return peer;
}

void metrics_log_stream_opened(int fd)
{
	struct stat st;
	struct stream *s = NULL;

	if (fstat(fd, &st) == 0) {
		if (S_ISFIFO(st.st_mode)) {
			s = host_calloc(1, sizeof(*s));
			s->pipe = true;
			s->ino = (unsigned long)st.st_ino;
		} else if (S_ISSOCK(st.st_mode)) {
			unsigned long peer = socket_peer((unsigned long)st.st_ino);
			if (peer) {
				s = host_calloc(1, sizeof(*s));
				s->ino = peer;
			}
		}
	}
	pthread_mutex_lock(&m.mu);
	m.log_streams_total++;
	if (s) {
		s->next = m.streams;
		m.streams = s;
	}
	changed_locked();
	pthread_mutex_unlock(&m.mu);
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of this process's sockets and pipes, sorted (sockets and
 * pipes apart); the caller frees both. */
static void own_inodes(unsigned long **socks, size_t *n_socks, unsigned long **pipes,
                       size_t *n_pipes)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t cap_s = 0, cap_p = 0;

	*socks = *pipes = NULL;
	*n_socks = *n_pipes = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char link[64];
		unsigned long ino;
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) == 1) {
			if (*n_socks == cap_s)
				*socks = host_realloc(*socks,
				                      (cap_s = cap_s * 2 + 16) * sizeof(**socks));
			(*socks)[(*n_socks)++] = ino;
		} else if (sscanf(link, "pipe:[%lu]", &ino) == 1) {
			if (*n_pipes == cap_p)
				*pipes = host_realloc(*pipes,
				                      (cap_p = cap_p * 2 + 16) * sizeof(**pipes));
			(*pipes)[(*n_pipes)++] = ino;
		}
	}
	closedir(d);
	if (*socks)
		qsort(*socks, *n_socks, sizeof(**socks), cmp_ulong);
	if (*pipes)
		qsort(*pipes, *n_pipes, sizeof(**pipes), cmp_ulong);
}

/* Drops the streams whose writer's end is gone; returns how many remain. */
static uint64_t streams_open_locked(const unsigned long *socks, size_t n_socks,
                                    const unsigned long *pipes, size_t n_pipes)
{
	uint64_t open = 0;

	for (struct stream **p = &m.streams; *p;) {
		struct stream *s = *p;
		const unsigned long *set = s->pipe ? pipes : socks;
		size_t n = s->pipe ? n_pipes : n_socks;
		if (set && bsearch(&s->ino, set, n, sizeof(*set), cmp_ulong)) {
			open++;
			p = &s->next;
		} else {
			*p = s->next;
			free(s);
		}
	}
	return open;
}

/* --- exposition ------------------------------------------------------ */

static void label_value(struct host_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			host_buf_puts(b, "\\\\");
		else if (*v == '"')
			host_buf_puts(b, "\\\"");
		else if (*v == '\n')
			host_buf_puts(b, "\\n");
		else
			host_buf_append(b, v, 1);
	}
}

static void head(struct host_buf *b, const char *name, const char *type, const char *help)
{
	host_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labels(struct host_buf *b, const struct series *s)
{
	host_buf_puts(b, "executor=\"");
	label_value(b, s->executor);
	host_buf_puts(b, "\",runtime=\"");
	label_value(b, s->runtime);
	host_buf_puts(b, "\"");
}

#define COUNTER_OF(field) offsetof(struct series, field)

static void series_counter(struct host_buf *b, const char *name, const char *help, size_t off)
{
	head(b, name, "counter", help);
	for (const struct series *s = m.series; s; s = s->next) {
		host_buf_printf(b, "%s{", name);
		labels(b, s);
		host_buf_printf(b, "} %llu\n",
		                (unsigned long long)*(const uint64_t *)((const char *)s + off));
	}
}

static void series_histogram(struct host_buf *b, const char *name, const char *help, size_t off,
                             const double *bounds, size_t n)
{
	head(b, name, "histogram", help);
	for (const struct series *s = m.series; s; s = s->next) {
		const struct histogram *h =
		    (const struct histogram *)(const void *)((const char *)s + off);
		uint64_t cum = 0;
		for (size_t i = 0; i <= n; i++) {
			cum += h->buckets[i];
			host_buf_printf(b, "%s_bucket{", name);
			labels(b, s);
			if (i < n)
				host_buf_printf(b, ",le=\"%g\"} %llu\n", bounds[i],
				                (unsigned long long)cum);
			else
				host_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		host_buf_printf(b, "%s_sum{", name);
		labels(b, s);
		host_buf_printf(b, "} %.9g\n", h->sum);
		host_buf_printf(b, "%s_count{", name);
		labels(b, s);
		host_buf_printf(b, "} %llu\n", (unsigned long long)h->count);
	}
}

char *metrics_render(void)
{
	struct host_buf b;
	unsigned long *socks, *pipes;
	size_t n_socks, n_pipes;

	own_inodes(&socks, &n_socks, &pipes, &n_pipes);
	host_buf_init(&b, 0);
	pthread_mutex_lock(&m.mu);
	series_counter(&b, "dms_jobs_started_total",
	               "Jobs whose container started, by executor and runtime.",
	               COUNTER_OF(started));
	series_counter(&b, "dms_jobs_finished_total",
	               "Jobs whose process ran to its end (any exit code).", COUNTER_OF(finished));
	series_counter(&b, "dms_jobs_failed_total", "Jobs the executor could not run or harvest.",
	               COUNTER_OF(failed));
	series_counter(&b, "dms_jobs_cancelled_total",
	               "Jobs ended by Cancel, Cleanup or their deadline.", COUNTER_OF(cancelled));
	series_histogram(&b, "dms_job_duration_seconds",
	                 "Time from the container's start to its end, of ended jobs.",
	                 COUNTER_OF(duration), job_bounds, N_JOB_BOUNDS);
	series_counter(&b, "dms_image_pulls_total", "Image pulls that Starts waited for.",
	               COUNTER_OF(pulls));
	series_counter(&b, "dms_image_pull_bytes_total",
	               "Bytes the engine reported for those pulls (0 on Podman).",
	               COUNTER_OF(pull_bytes));
	series_histogram(&b, "dms_image_pull_duration_seconds",
	                 "Time from a pull's first progress report to its job leaving pending.",
	                 COUNTER_OF(pull_duration), pull_bounds, N_PULL_BOUNDS);
	head(&b, "dms_errors_total", "counter",
	     "org.dms.Error replies dms-host sent, by category (engine errors: "
	     "RuntimeUnavailable, Image, Container, Network, Volume).");
	for (int c = 1; c < N_CATEGORIES; c++)
		if (m.errors[c] || c <= DMS_ERR_PERMISSION_DENIED)
			host_buf_printf(&b, "dms_errors_total{category=\"%s\"} %llu\n",
			                dms_status_name(c), (unsigned long long)m.errors[c]);
	head(&b, "dms_log_streams_total", "counter", "Log streams handed out by GetLogStream.");
	host_buf_printf(&b, "dms_log_streams_total %llu\n",
	                (unsigned long long)m.log_streams_total);
	head(&b, "dms_log_streams_open", "gauge",
	     "Log streams the plugin is still writing (its end of the stream is open).");
	host_buf_printf(&b, "dms_log_streams_open %llu\n",
	                (unsigned long long)streams_open_locked(socks, n_socks, pipes, n_pipes));
	head(&b, "dms_waiters", "gauge", "Wait and Run calls waiting for their job to end.");
	host_buf_printf(&b, "dms_waiters %lld\n", (long long)m.waiters);
	head(&b, "dms_executors", "gauge", "Executors dms-host serves.");
	host_buf_printf(&b, "dms_executors %lld\n", (long long)m.executors);
	pthread_mutex_unlock(&m.mu);
	free(socks);
	free(pipes);
	return host_buf_steal(&b);
}

/* --- the textfile ---------------------------------------------------- */

/* tmp + rename: node_exporter never reads a half-written file (its
 * collector reads *.prom only; the temporary is <file>.tmp). */
static int write_textfile(char **why)
{
	_cleanup_free_ char *text = metrics_render();
	_cleanup_free_ char *tmp = host_asprintf("%s.tmp", m.textfile);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0) {
		*why = host_asprintf("metrics textfile %s: cannot create %s: %s", m.textfile, tmp,
		                     strerror(errno));
		return -1;
	}
	if (write_all(fd, text, strlen(text)) < 0) {
		*why = host_asprintf("metrics textfile %s: write %s: %s", m.textfile, tmp,
		                     strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, m.textfile) < 0) {
		*why =
		    host_asprintf("metrics textfile %s: rename: %s", m.textfile, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static struct timespec after_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Writes after each change (at most every 250 ms) and every 10 s (the
 * open-stream gauge moves without an event). A failure is logged once,
 * and its recovery too. */
static void *textfile_writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m.mu);
	for (;;) {
		struct timespec until = after_ms(TEXTFILE_REFRESH_MS);
		while (!m.dirty && !m.stop)
			if (pthread_cond_timedwait(&m.cond, &m.mu, &until) == ETIMEDOUT)
				break;
		bool stop = m.stop;
		m.dirty = false;
		pthread_mutex_unlock(&m.mu);
		char *why = NULL;
		int rc = write_textfile(&why);
		pthread_mutex_lock(&m.mu);
		if (rc < 0 && !m.failing)
			hlog(HLOG_WARN, NULL, NULL, "%s", why);
		else if (rc == 0 && m.failing)
			hlog(HLOG_INFO, NULL, NULL, "metrics textfile %s: written again",
			     m.textfile);
		m.failing = rc < 0;
		free(why);
		if (stop)
			break;
		until = after_ms(TEXTFILE_MIN_INTERVAL_MS);
		while (!m.stop && pthread_cond_timedwait(&m.cond, &m.mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m.mu);
	return NULL;
}

int metrics_init(const char *textfile, char **why)
{
	pthread_condattr_t ca;

	if (!textfile)
		return 0;
	m.textfile = host_strdup(textfile);
	if (write_textfile(why) < 0) {
		free(m.textfile);
		m.textfile = NULL;
		return -1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m.cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Made with every signal blocked: the stop signals are the bus loop's
	 * (its signalfd), whenever this thread starts. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&m.thread, NULL, textfile_writer, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*why =
		    host_asprintf("metrics textfile %s: cannot start its writer thread", textfile);
		pthread_cond_destroy(&m.cond);
		free(m.textfile);
		m.textfile = NULL;
		return -1;
	}
	m.running = true;
	return 0;
}

void metrics_shutdown(void)
{
	if (m.running) {
		pthread_mutex_lock(&m.mu);
		m.stop = true;
		pthread_cond_signal(&m.cond);
		pthread_mutex_unlock(&m.mu);
		pthread_join(m.thread, NULL);
		pthread_cond_destroy(&m.cond);
		m.running = false;
	}
	free(m.textfile);
	m.textfile = NULL;
	pthread_mutex_lock(&m.mu);
	while (m.series) {
		struct series *s = m.series;
		m.series = s->next;
		free(s->executor);
		free(s->runtime);
		free(s);
	}
	while (m.pulls) {
		struct pull *p = m.pulls;
		m.pulls = p->next;
		free(p->executor);
		free(p->image);
		free_strv(p->executions);
		free(p);
	}
	while (m.live) {
		struct live *l = m.live;
		m.live = l->next;
		free(l->executor);
		free(l->execution);
		free(l);
	}
	while (m.streams) {
		struct stream *s = m.streams;
		m.streams = s->next;
		free(s);
	}
	pthread_mutex_unlock(&m.mu);
}
