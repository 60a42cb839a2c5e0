/* busclient.c — dms-bench-bus: the executor through dms-host over D-Bus, as a
 * long-lived client (libdbus, one private session-bus connection) would use
 * it. Prints one JSON object.
 *
 *   dms-bench-bus wait-name SECONDS     until org.dms.Executor has an owner
 *   dms-bench-bus EXECUTOR_ID CONFIG_FILE IMAGE TYPE HOST MODE ARGS
 *     latency N            Run(`true`), one at a time
 *     tput CONC JOBS       JOBS Run(`true`) calls, CONC of them in flight
 *     logs BYTES           Start + GetLogStream(follow): read the passed fd
 *     exit N SLEEP         `die` event time → Wait reply
 *     scale N SLEEP START_CONC SETTLE_S GATE_DIR HOST_PID
 *                          N jobs started (START_CONC Start calls in flight),
 *                          a Wait pending on each; dms-host sampled from
 *                          /proc; then the jobs are released together and
 *                          the last exit is compared with the last reply.
 *
 * The executor is created with NewExecutor(EXECUTOR_ID, CONFIG) (idempotent
 * for the same config, so dmsctl can share it). TYPE is the request's
 * engine_spec.type; HOST the engine socket, for the event stream and the
 * connection count.
 *
 * Scale jobs run `read x </gate/fifo; sleep SLEEP` with GATE_DIR bound at
 * /gate: this process holds the FIFO open for writing, so every job blocks
 * (at no CPU cost) until one line per job is written. That makes all N jobs
 * run — and all N Waits pend — at the same time even though the engine
 * starts only a few containers per second, and makes them exit together. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "bench.h"
#include "procstat.h"

#define BUS_NAME "org.dms.Executor"
#define MANAGER_PATH "/org/dms/Executor"
#define MANAGER_IFACE "org.dms.ExecutorManager1"
#define EXEC_IFACE "org.dms.Executor1"

struct bus {
	DBusConnection *c;
	char *path; /* the executor object */
	const char *image, *type, *host;
	long seq;
};

static DBusConnection *bus_connect(void)
{
	DBusError e;

	dbus_error_init(&e);
	DBusConnection *c = dbus_bus_get_private(DBUS_BUS_SESSION, &e);
	if (!c)
		bench_die("session bus: %s", e.message);
	dbus_connection_set_exit_on_disconnect(c, FALSE);
	return c;
}

static DBusMessage *new_call(const char *path, const char *iface, const char *method,
                             const char *arg1, const char *arg2)
{
	DBusMessage *m = dbus_message_new_method_call(BUS_NAME, path, iface, method);

	if (!m)
		bench_die("out of memory");
	if (arg1 && !dbus_message_append_args(m, DBUS_TYPE_STRING, &arg1, DBUS_TYPE_INVALID))
		bench_die("out of memory");
	if (arg2 && !dbus_message_append_args(m, DBUS_TYPE_STRING, &arg2, DBUS_TYPE_INVALID))
		bench_die("out of memory");
	return m;
}

/* A blocking call with no client-side timeout; NULL (logged) on error. */
static DBusMessage *call_block(struct bus *b, const char *path, const char *iface,
                               const char *method, const char *arg1, const char *arg2)
{
	DBusError e;
	DBusMessage *m = new_call(path, iface, method, arg1, arg2);

	dbus_error_init(&e);
	DBusMessage *r =
	    dbus_connection_send_with_reply_and_block(b->c, m, DBUS_TIMEOUT_INFINITE, &e);
	dbus_message_unref(m);
	if (!r) {
		bench_log("%s: %s: %s", method, e.name, e.message);
		dbus_error_free(&e);
	}
	return r;
}

/* The first string argument of a reply, copied; NULL if none. */
static char *reply_string(DBusMessage *r)
{
	DBusMessageIter it;

	if (dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING) {
		const char *s;
		dbus_message_iter_get_basic(&it, &s);
		return bench_xstrdup(s);
	}
	if (dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_OBJECT_PATH) {
		const char *s;
		dbus_message_iter_get_basic(&it, &s);
		return bench_xstrdup(s);
	}
	return NULL;
}

static void bus_open(struct bus *b, const char *id, const char *config_path)
{
	char *config = bench_read_file(config_path);

	b->c = bus_connect();
	DBusMessage *r = call_block(b, MANAGER_PATH, MANAGER_IFACE, "NewExecutor", id, config);
	free(config);
	if (!r)
		exit(1);
	b->path = reply_string(r);
	dbus_message_unref(r);
	if (!b->path)
		bench_die("NewExecutor: no object path in the reply");
}

static void bus_close(struct bus *b)
{
	dbus_connection_close(b->c);
	dbus_connection_unref(b->c);
	free(b->path);
}

static char *next_execution_id(struct bus *b)
{
	return bench_asprintf("%s-%ld", bench_token(), b->seq++);
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

static bool reply_ok(DBusMessage *r, const char *what)
{
	if (dbus_message_get_type(r) == DBUS_MESSAGE_TYPE_ERROR) {
		char *msg = reply_string(r);
		bench_log("%s: %s: %s", what, dbus_message_get_error_name(r), msg ? msg : "");
		free(msg);
		return false;
	}
	return true;
}

/* --- async calls: send, then pop replies off the incoming queue --------- */

static dbus_uint32_t send_call(struct bus *b, const char *method, const char *arg)
{
	DBusMessage *m = new_call(b->path, EXEC_IFACE, method, arg, NULL);
	dbus_uint32_t serial = 0;

	if (!dbus_connection_send(b->c, m, &serial))
		bench_die("out of memory");
	dbus_message_unref(m);
	return serial;
}

/* The next reply or error (other messages are dropped), or NULL when none
 * came within timeout_ms. */
static DBusMessage *next_reply(struct bus *b, int timeout_ms)
{
	double until = bench_now_ms() + timeout_ms;

	for (;;) {
		DBusMessage *m;
		while ((m = dbus_connection_pop_message(b->c))) {
			int t = dbus_message_get_type(m);
			if (t == DBUS_MESSAGE_TYPE_METHOD_RETURN || t == DBUS_MESSAGE_TYPE_ERROR)
				return m;
			dbus_message_unref(m);
		}
		double left = until - bench_now_ms();
		if (left <= 0)
			return NULL;
		if (!dbus_connection_read_write(b->c, (int)left + 1))
			bench_die("disconnected from the bus");
	}
}

/* --- modes -------------------------------------------------------------- */

static const char *const true_cmd[] = {"true", NULL};

static int run_true_block(struct bus *b)
{
	char *eid = next_execution_id(b);
	char *req = bench_exec_request(eid, b->type, b->image, true_cmd, "");
	DBusMessage *r = call_block(b, b->path, EXEC_IFACE, "Run", req, NULL);
	int rc = -1;

	if (r) {
		char *result = reply_string(r);
		rc = result_ok(result) ? 0 : -1;
		free(result);
		dbus_message_unref(r);
	}
	free(req);
	free(eid);
	return rc;
}

static int mode_latency(struct bus *b, long n)
{
	double *v = bench_xmalloc((size_t)n * sizeof(double));
	int r = 0;

	for (long i = -1; i < n && r == 0; i++) { /* i == -1: warm-up */
		bench_turn_begin();
		double t0 = bench_now_ms();
		r = run_true_block(b);
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

static int mode_tput(struct bus *b, long conc, long jobs)
{
	dbus_uint32_t *serials = bench_xmalloc((size_t)conc * sizeof(*serials));
	long sent = 0, done = 0, failed = 0, in_flight = 0;

	double t0 = bench_now_ms();
	while (done < jobs) {
		while (in_flight < conc && sent < jobs) {
			char *eid = next_execution_id(b);
			char *req = bench_exec_request(eid, b->type, b->image, true_cmd, "");
			serials[in_flight++] = send_call(b, "Run", req);
			sent++;
			free(req);
			free(eid);
		}
		DBusMessage *m = next_reply(b, 600000);
		if (!m)
			bench_die("no reply to Run within 10 minutes");
		dbus_uint32_t rs = dbus_message_get_reply_serial(m);
		for (long i = 0; i < in_flight; i++) {
			if (serials[i] != rs)
				continue;
			serials[i] = serials[--in_flight];
			done++;
			char *result = NULL;
			if (!reply_ok(m, "Run") || !result_ok(result = reply_string(m)))
				failed++;
			free(result);
			break;
		}
		dbus_message_unref(m);
	}
	double secs = (bench_now_ms() - t0) / 1e3;
	free(serials);
	printf("{\"conc\":%ld,\"jobs\":%ld,\"failed\":%ld,\"seconds\":%.3f,\"jobs_per_s\":%.3f}\n",
	       conc, jobs, failed, secs, (double)(jobs - failed) / secs);
	return failed ? -1 : 0;
}

static int mode_logs(struct bus *b, unsigned long long bytes)
{
	char *sh = bench_log_cmd(bytes);
	const char *cmd[] = {"sh", "-c", sh, NULL};
	char *eid = next_execution_id(b);
	char *req = bench_exec_request(eid, b->type, b->image, cmd, "");
	char *log_req =
	    bench_asprintf("{\"execution_id\":\"%s\",\"follow\":true,\"format\":\"framed\"}", eid);
	struct frame_counter fc = {0};
	static char buf[1 << 16];
	int rc = -1, fd = -1;
	double t0 = 0, secs = 0;
	DBusMessage *r = call_block(b, b->path, EXEC_IFACE, "Start", req, NULL);

	if (!r)
		goto out;
	dbus_message_unref(r);
	t0 = bench_now_ms();
	r = call_block(b, b->path, EXEC_IFACE, "GetLogStream", log_req, NULL);
	if (!r)
		goto out;
	DBusError e;
	dbus_error_init(&e);
	if (!dbus_message_get_args(r, &e, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_INVALID)) {
		bench_log("GetLogStream: %s", e.message);
		dbus_error_free(&e);
		dbus_message_unref(r);
		goto out;
	}
	dbus_message_unref(r);
	bench_log("%s: log fd open after %.0f ms", eid, bench_now_ms() - t0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			frame_counter_feed(&fc, buf, (size_t)n);
		} else if (n == 0) {
			break;
		} else if (errno != EINTR) {
			bench_log("reading the log fd: %s", strerror(errno));
			goto out;
		}
	}
	secs = (bench_now_ms() - t0) / 1e3;
	bench_log("%s: EOF after %.0f ms, %" PRIu64 " payload bytes; waiting", eid, secs * 1e3,
	          fc.payload);
	r = call_block(b, b->path, EXEC_IFACE, "Wait", eid, NULL);
	if (!r)
		goto out;
	char *result = reply_string(r);
	dbus_message_unref(r);
	if (result_ok(result)) {
		printf("{\"bytes\":%" PRIu64 ",\"expected\":%llu,\"seconds\":%.3f,"
		       "\"last_byte_seconds\":%.3f,\"mb_per_s\":%.2f}\n",
		       fc.payload, bytes, secs, (fc.last_ms - t0) / 1e3,
		       (double)fc.payload / 1e6 / secs);
		rc = 0;
	}
	free(result);
out:
	if (fd >= 0)
		close(fd);
	free(log_req);
	free(req);
	free(eid);
	free(sh);
	return rc;
}

static struct evwatch *watch_executor(struct bus *b, const char *id)
{
	char *label = bench_asprintf("org.dms.executor=%s", id);
	struct evwatch *w = evwatch_start(b->host, label, "org.dms.execution");

	free(label);
	return w;
}

static int mode_exit(struct bus *b, const char *id, long n, const char *sleep_s)
{
	struct evwatch *w = watch_executor(b, id);
	const char *cmd[] = {"sleep", sleep_s, NULL};
	double *lat = bench_xmalloc((size_t)n * sizeof(double));
	int rc = 0;

	for (long i = 0; i < n && rc == 0; i++) {
		bench_turn_begin();
		char *eid = next_execution_id(b);
		char *req = bench_exec_request(eid, b->type, b->image, cmd, "");
		DBusMessage *r = call_block(b, b->path, EXEC_IFACE, "Start", req, NULL);
		rc = -1;
		if (r) {
			dbus_message_unref(r);
			r = call_block(b, b->path, EXEC_IFACE, "Wait", eid, NULL);
			int64_t reply = bench_real_ns();
			if (r) {
				char *result = reply_string(r);
				int64_t die = result_ok(result) ? evwatch_die_ns(w, eid, 10000) : 0;
				if (die) {
					lat[i] = (double)(reply - die) / 1e6;
					rc = 0;
				} else if (result) {
					bench_log("no die event for %s", eid);
				}
				free(result);
				dbus_message_unref(r);
			}
		}
		free(req);
		free(eid);
		bench_turn_end();
	}
	evwatch_stop(w);
	if (rc == 0) {
		printf("{");
		bench_print_samples(stdout, "samples_ms", lat, (size_t)n);
		printf("}\n");
	}
	free(lat);
	return rc;
}

/* --- scale ---------------------------------------------------------------- */

enum job_state { JOB_NEW, JOB_STARTING, JOB_WAITING, JOB_DONE };

struct job {
	char *eid;
	enum job_state state;
	dbus_uint32_t serial; /* of the call in flight */
	int64_t reply_ns;
	bool ok;
};

struct scale {
	struct bus *b;
	struct job *jobs;
	long n, n_done, n_failed, n_waiting, n_starting;
	bool released;
};

static struct job *job_by_serial(struct scale *s, dbus_uint32_t serial)
{
	for (long i = 0; i < s->n; i++)
		if (s->jobs[i].serial == serial &&
		    (s->jobs[i].state == JOB_STARTING || s->jobs[i].state == JOB_WAITING))
			return &s->jobs[i];
	return NULL;
}

/* Handles one reply (Start or Wait) of the scale run. */
static void scale_reply(struct scale *s, DBusMessage *m)
{
	struct job *j = job_by_serial(s, dbus_message_get_reply_serial(m));

	if (!j)
		return; /* e.g. the Ping, handled by the caller */
	if (j->state == JOB_STARTING) {
		s->n_starting--;
		if (!reply_ok(m, "Start")) {
			j->state = JOB_DONE;
			s->n_done++;
			s->n_failed++;
			return;
		}
		j->serial = send_call(s->b, "Wait", j->eid);
		j->state = JOB_WAITING;
		s->n_waiting++;
		return;
	}
	j->reply_ns = bench_real_ns();
	j->state = JOB_DONE;
	s->n_waiting--;
	s->n_done++;
	char *result = NULL;
	j->ok = reply_ok(m, "Wait") && result_ok(result = reply_string(m));
	free(result);
	if (!j->ok)
		s->n_failed++;
	if (!s->released)
		bench_log("%s ended before the gate opened", j->eid);
}

/* Pumps replies for up to timeout_ms; returns true if `serial` was answered. */
static bool scale_pump(struct scale *s, int timeout_ms, dbus_uint32_t serial)
{
	DBusMessage *m = next_reply(s->b, timeout_ms);
	bool hit = false;

	if (m) {
		hit = serial && dbus_message_get_reply_serial(m) == serial;
		if (!hit)
			scale_reply(s, m);
		dbus_message_unref(m);
	}
	return hit;
}

static int take_sample(pid_t pid, const char *sock, struct proc_sample *ps)
{
	return proc_sample(pid, sock, ps);
}

static int mode_scale(struct bus *b, const char *id, long n, const char *sleep_s, long start_conc,
                      long settle_s, const char *gate_dir, pid_t host_pid)
{
	const char *sock = strncmp(b->host, "unix://", 7) == 0 ? b->host + 7 : b->host;
	char *fifo = bench_asprintf("%s/fifo", gate_dir);
	char *sh = bench_asprintf("read x </gate/fifo; sleep %s", sleep_s);
	const char *cmd[] = {"sh", "-c", sh, NULL};
	char *extra = NULL; /* the gate mount, appended to each request */
	struct proc_sample idle, started, settled, done;
	struct scale s = {.b = b, .n = n};
	int rc = -1;

	if (mkfifo(fifo, 0600) < 0 && errno != EEXIST)
		bench_die("mkfifo %s: %s", fifo, strerror(errno));
	int gate = open(fifo, O_RDWR | O_CLOEXEC); /* never blocks; keeps a writer */
	if (gate < 0)
		bench_die("%s: %s", fifo, strerror(errno));
	{
		struct bbuf eb;
		bbuf_init(&eb, SIZE_MAX);
		bbuf_puts(&eb, ",\"inputs\":[{\"type\":\"bind\",\"source\":");
		json_add_string(&eb, gate_dir);
		bbuf_puts(&eb, ",\"target\":\"/gate\",\"read_only\":true}]");
		extra = eb.data;
	}
	if (take_sample(host_pid, sock, &idle) < 0)
		goto out;
	struct evwatch *w = watch_executor(b, id);
	s.jobs = calloc((size_t)n, sizeof(*s.jobs));
	if (!s.jobs)
		bench_die("out of memory");

	/* Start everything, a Wait sent as soon as each Start returns. */
	double t_start = bench_now_ms();
	long next = 0;
	while (next < n || s.n_starting > 0) {
		while (next < n && s.n_starting < start_conc) {
			struct job *j = &s.jobs[next++];
			j->eid = next_execution_id(b);
			char *req = bench_exec_request(j->eid, b->type, b->image, cmd, extra);
			j->serial = send_call(b, "Start", req);
			j->state = JOB_STARTING;
			s.n_starting++;
			free(req);
		}
		if (!scale_pump(&s, 600000, 0) && s.n_starting > 0 &&
		    bench_now_ms() - t_start > 3.6e6)
			bench_die("starting %ld jobs took more than an hour", n);
	}
	double start_s = (bench_now_ms() - t_start) / 1e3;
	if (s.n_failed) {
		bench_log("%ld of %ld jobs failed to start", s.n_failed, n);
		goto out_jobs;
	}
	/* Messages are dispatched in order: once a Ping is answered, every Wait
	 * sent before it is registered with the executor. */
	{
		DBusMessage *m = dbus_message_new_method_call(BUS_NAME, b->path,
		                                              "org.freedesktop.DBus.Peer", "Ping");
		dbus_uint32_t ping = 0;
		if (!m || !dbus_connection_send(b->c, m, &ping))
			bench_die("out of memory");
		dbus_message_unref(m);
		double until = bench_now_ms() + 60000;
		while (!scale_pump(&s, 1000, ping))
			if (bench_now_ms() > until)
				bench_die("no answer to Ping within 60 s");
	}
	if (take_sample(host_pid, sock, &started) < 0)
		goto out_jobs;

	/* Idle pool workers of dms-host exit after a while: wait until the
	 * thread count has not changed for settle_s (with a deadline), so the
	 * steady state with N pending Waits is what gets compared. */
	settled = started;
	bool settled_ok = settle_s == 0;
	if (settle_s > 0) {
		double since = bench_now_ms(), deadline = since + (double)settle_s * 1e3 + 90e3;
		long last = started.threads;
		for (;;) {
			double now = bench_now_ms();
			if (now - since >= (double)settle_s * 1e3) {
				settled_ok = true;
				break;
			}
			if (now > deadline)
				break;
			scale_pump(&s, 500, 0);
			struct proc_sample ps;
			if (take_sample(host_pid, sock, &ps) < 0)
				goto out_jobs;
			if (ps.threads != last) {
				last = ps.threads;
				since = bench_now_ms();
			}
		}
		if (take_sample(host_pid, sock, &settled) < 0)
			goto out_jobs;
	}
	if (s.n_done) {
		bench_log("%ld jobs ended before the gate opened", s.n_done);
		goto out_jobs;
	}

	/* Open the gate: one line per job. */
	{
		char *lines = bench_xmalloc((size_t)n);
		memset(lines, '\n', (size_t)n);
		if (write(gate, lines, (size_t)n) != (ssize_t)n)
			bench_die("writing the gate: %s", strerror(errno));
		free(lines);
	}
	s.released = true;
	double until = bench_now_ms() + (atof(sleep_s) + 600) * 1e3;
	while (s.n_done < n)
		if (!scale_pump(&s, 1000, 0) && bench_now_ms() > until)
			bench_die("only %ld of %ld Waits answered in time", s.n_done, n);
	if (take_sample(host_pid, sock, &done) < 0)
		goto out_jobs;

	/* The exits, from the engine's die events. */
	double *lat = bench_xmalloc((size_t)n * sizeof(double));
	int64_t first_exit = INT64_MAX, last_exit = 0, last_reply = 0;
	long seen = 0;
	for (long i = 0; i < n; i++) {
		int64_t die = evwatch_die_ns(w, s.jobs[i].eid, 30000);
		if (!die) {
			bench_log("no die event for %s", s.jobs[i].eid);
			continue;
		}
		lat[seen++] = (double)(s.jobs[i].reply_ns - die) / 1e6;
		first_exit = die < first_exit ? die : first_exit;
		last_exit = die > last_exit ? die : last_exit;
		last_reply = s.jobs[i].reply_ns > last_reply ? s.jobs[i].reply_ns : last_reply;
	}
	if (seen == n && s.n_failed == 0) {
		printf("{\"n\":%ld,\"start_seconds\":%.3f,\"settled\":%s,\"idle\":", n, start_s,
		       settled_ok ? "true" : "false");
		proc_sample_print(stdout, &idle);
		printf(",\"with_waits\":");
		proc_sample_print(stdout, &started);
		printf(",\"with_waits_settled\":");
		proc_sample_print(stdout, &settled);
		printf(",\"after\":");
		proc_sample_print(stdout, &done);
		printf(",\"exit_spread_ms\":%.3f,\"last_exit_to_last_reply_ms\":%.3f,",
		       (double)(last_exit - first_exit) / 1e6,
		       (double)(last_reply - last_exit) / 1e6);
		bench_print_samples(stdout, "exit_to_reply_ms", lat, (size_t)n);
		printf("}\n");
		rc = 0;
	} else {
		bench_log("%ld jobs failed, %ld die events seen of %ld", s.n_failed, seen, n);
	}
	free(lat);
out_jobs:
	evwatch_stop(w);
	for (long i = 0; i < n; i++)
		free(s.jobs[i].eid);
	free(s.jobs);
out:
	close(gate);
	unlink(fifo);
	free(extra);
	free(sh);
	free(fifo);
	return rc;
}

/* --- wait-name --------------------------------------------------------------- */

static int mode_wait_name(long seconds)
{
	DBusConnection *c = bus_connect();
	double until = bench_now_ms() + (double)seconds * 1e3;
	int rc = 1;

	for (;;) {
		DBusError e;
		dbus_error_init(&e);
		if (dbus_bus_name_has_owner(c, BUS_NAME, &e)) {
			rc = 0;
			break;
		}
		dbus_error_free(&e);
		if (bench_now_ms() > until) {
			bench_log("%s has no owner after %ld s", BUS_NAME, seconds);
			break;
		}
		/* Polling with a deadline: the bus has no cheap "tell me when". */
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	dbus_connection_close(c);
	dbus_connection_unref(c);
	return rc;
}

int main(int argc, char **argv)
{
	bench_set_progname("dms-bench-bus");
	if (argc == 3 && strcmp(argv[1], "wait-name") == 0)
		return mode_wait_name(bench_arg_long("SECONDS", argv[2], 1, 3600));
	if (argc < 8) {
		fprintf(stderr, "usage: dms-bench-bus wait-name SECONDS\n"
		                "       dms-bench-bus EXECUTOR_ID CONFIG_FILE IMAGE TYPE HOST "
		                "latency N | tput CONC JOBS | logs BYTES | exit N SLEEP |\n"
		                "         scale N SLEEP START_CONC SETTLE_S GATE_DIR HOST_PID\n");
		return 2;
	}
	struct bus b = {.image = argv[3], .type = argv[4], .host = argv[5]};
	const char *mode = argv[6];
	int r;

	curl_global_init(CURL_GLOBAL_ALL);
	bus_open(&b, argv[1], argv[2]);
	if (strcmp(mode, "latency") == 0) {
		r = mode_latency(&b, bench_arg_long("N", argv[7], 1, 100000));
	} else if (strcmp(mode, "tput") == 0 && argc >= 9) {
		r = mode_tput(&b, bench_arg_long("CONC", argv[7], 1, 1024),
		              bench_arg_long("JOBS", argv[8], 1, 1000000));
	} else if (strcmp(mode, "logs") == 0) {
		r = mode_logs(&b,
		              (unsigned long long)bench_arg_long("BYTES", argv[7], 1, 1L << 40));
	} else if (strcmp(mode, "exit") == 0 && argc >= 9) {
		bench_arg_long("SLEEP", argv[8], 0, 3600);
		r = mode_exit(&b, argv[1], bench_arg_long("N", argv[7], 1, 100000), argv[8]);
	} else if (strcmp(mode, "scale") == 0 && argc >= 13) {
		bench_arg_long("SLEEP", argv[8], 0, 3600);
		r = mode_scale(&b, argv[1], bench_arg_long("N", argv[7], 1, 4096), argv[8],
		               bench_arg_long("START_CONC", argv[9], 1, 1024),
		               bench_arg_long("SETTLE_S", argv[10], 0, 3600), argv[11],
		               (pid_t)bench_arg_long("HOST_PID", argv[12], 1, 1L << 30));
	} else {
		bench_die("unknown mode or missing arguments: %s", mode);
	}
	bus_close(&b);
	curl_global_cleanup();
	return r == 0 ? 0 : 1;
}
