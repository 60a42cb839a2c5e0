/* live.c — the live operations on a running execution (ABI 1.2): Signal,
 * Pause, Resume, Stats, StatsStream and Inspect, and the sampler that
 * gathers every job's resource use for its result's `usage`.
 *
 * The sampler is one thread per executor, whatever the number of jobs
 * (docs/architecture.md, "Usage"): it takes a one-shot sample of each
 * live job at an interval that grows with the job's age (250 ms for the
 * first 5 s, then 1 s, then 5 s after a minute) and with the number of
 * live jobs (at least 50 ms per job, so about 20 engine calls a second at
 * most), keeps the largest figures in the handler (handler_note_usage),
 * and writes each sample to the stats streams open on that job. An engine
 * answers nothing useful once the container has exited (its cgroup is
 * gone), so the last sample before the exit is what a result reports. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "context.h"
#include "error.h"
#include "executor_internal.h"
#include "jsonw.h"
#include "units.h"

#include <yajl/yajl_tree.h>

#define SAMPLE_YOUNG_NS (250 * NS_PER_MS) /* jobs younger than SAMPLE_YOUNG_AGE_NS */
#define SAMPLE_YOUNG_AGE_NS (5 * NS_PER_S)
#define SAMPLE_NS (1 * NS_PER_S) /* younger than SAMPLE_AGE_NS; streams */
#define SAMPLE_AGE_NS (60 * NS_PER_S)
#define SAMPLE_OLD_NS (5 * NS_PER_S)
#define SAMPLE_PER_JOB_NS (50 * NS_PER_MS)
#define SAMPLER_IDLE_NS (1 * NS_PER_S)
#define SAMPLER_MAX_BATCH 64

/* An open StatsStream: the executor's end of its socket. */
struct stat_stream {
	struct handler *h; /* ref'd */
	int fd;            /* non-blocking, write only */
	struct stat_stream *next;
};

/* --- the target of an operation ---------------------------------------- */

/* The live handler of execution_id and its container: NotFound for an
 * unknown id, AlreadyFinished once it ended (or its exit was seen: the
 * result is on its way), Container while it has no running container yet.
 * *h is ref'd whatever the outcome; *cid and *state set on success. */
static int live_target(struct dms_executor *ex, const char *execution_id, const char *op,
                       struct handler **h, char **cid, dms_exec_state *state, dms_error **err)
{
	int rc = executor_lookup(ex, execution_id, h, err);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&(*h)->mu);
	dms_exec_state s = (*h)->state;
	bool exited = (*h)->exit != HANDLER_EXIT_UNSEEN;
	*cid = (*h)->container_id ? strdup((*h)->container_id) : NULL;
	pthread_mutex_unlock(&(*h)->mu);
	if (handler_state_final(s) || exited) {
		free(*cid);
		*cid = NULL;
		return err_engine(err, DMS_ERR_ALREADY_FINISHED, op, execution_id, NULL,
		                  "%s %s: the execution has finished", op, execution_id);
	}
	if (!handler_state_live(s) || !*cid) {
		free(*cid);
		*cid = NULL;
		return err_engine(err, DMS_ERR_CONTAINER, op, execution_id, NULL,
		                  "%s %s: the execution is not running yet (state %s)", op,
		                  execution_id, dms_state_name(s));
	}
	*state = s;
	return 0;
}

static int not_supported(struct dms_executor *ex, const char *op, const char *execution_id,
                         const char *what, dms_error **err)
{
	return err_engine(err, DMS_ERR_NOT_SUPPORTED, op, execution_id, NULL,
	                  "%s %s: runtime %s cannot %s", op, execution_id, ex->rt_ops->kind, what);
}

/* --- Signal ------------------------------------------------------------ */

int executor_signal(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    const char *signal, dms_error **err)
{
	char canon[32];
	if (!signal || !*signal)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "signal: required");
	if (!units_parse_signal(signal, canon))
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "signal: must be a signal name like \"SIGUSR1\" or \"USR1\" or a "
		               "number 1..%d, got '%s'",
		               SIGNAL_MAX, signal);
	struct handler *h;
	_cleanup_free_ char *cid = NULL;
	dms_exec_state state;
	int rc = live_target(ex, execution_id, "signal", &h, &cid, &state, err);
	if (rc == 0)
		rc = ex->rt_ops->container_kill(ex->rt, ctx, cid, canon, err);
	if (rc != 0 && rc != DMS_ERR_NOT_FOUND && rc != DMS_ERR_ALREADY_FINISHED && h)
		err_wrap(err, rc, "signal %s to execution %s", canon, execution_id);
	handler_unref(h);
	return rc;
}

/* --- Pause and Resume -------------------------------------------------- */

/* One of them, serialised per handler by h->live_mu (held across the
 * engine call, taken before any other lock): the state reported is the
 * one the engine was last asked for. */
static int pause_or_resume(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                           bool pause, dms_error **err)
{
	const char *op = pause ? "pause" : "resume";
	struct handler *h = NULL;
	int rc = executor_lookup(ex, execution_id, &h, err);
	if (rc != 0) {
		handler_unref(h);
		return rc;
	}
	pthread_mutex_lock(&h->live_mu);
	handler_unref(h); /* live_target takes its own */
	struct handler *t;
	_cleanup_free_ char *cid = NULL;
	dms_exec_state state;
	rc = live_target(ex, execution_id, op, &t, &cid, &state, err);
	if (rc == 0 && !RT_HAS(ex->rt_ops, container_pause))
		rc = not_supported(ex, op, execution_id, "freeze a container", err);
	else if (rc == 0 && pause && state == DMS_STATE_PAUSED)
		rc = err_engine(err, DMS_ERR_CONTAINER, op, execution_id, NULL,
		                "pause %s: the execution is already paused", execution_id);
	else if (rc == 0 && !pause && state != DMS_STATE_PAUSED)
		rc = err_engine(err, DMS_ERR_CONTAINER, op, execution_id, NULL,
		                "resume %s: the execution is not paused", execution_id);
	if (rc == 0) {
		rc = pause ? ex->rt_ops->container_pause(ex->rt, ctx, cid, err)
		           : ex->rt_ops->container_unpause(ex->rt, ctx, cid, err);
		if (rc == 0)
			handler_transition(t, pause ? DMS_STATE_PAUSED : DMS_STATE_RUNNING, NULL,
			                   NULL);
		else
			err_wrap(err, rc, "%s execution %s", op, execution_id);
	}
	pthread_mutex_unlock(&h->live_mu);
	handler_unref(t);
	return rc;
}

int executor_pause(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                   dms_error **err)
{
	return pause_or_resume(ex, ctx, execution_id, true, err);
}

int executor_resume(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err)
{
	return pause_or_resume(ex, ctx, execution_id, false, err);
}

void executor_thaw_for_stop(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->live_mu);
	pthread_mutex_lock(&h->mu);
	bool paused = h->state == DMS_STATE_PAUSED && h->container_id;
	char *cid = paused ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	if (cid && RT_HAS(ex->rt_ops, container_unpause) &&
	    ex->rt_ops->container_unpause(ex->rt, ex->life, cid, NULL) == 0)
		handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	pthread_mutex_unlock(&h->live_mu);
	free(cid);
}

/* --- samples ----------------------------------------------------------- */

/* A sample as the JSON of Stats and of each StatsStream line
 * (docs/schema.md, "Stats"); prev is the handler's usage before it. */
static char *stats_json(const struct handler *h, dms_exec_state state,
                        const struct container_stats *st, const struct handler_usage *prev,
                        const struct handler_usage *now)
{
	double cpu_pct = 0;
	if (prev->samples && prev->last_system_ns && st->system_cpu_ns > prev->last_system_ns &&
	    st->cpu_ns >= prev->last_cpu_ns) {
		/* docker stats' formula: the container's share of the host's
		 * CPU time between two samples, times the CPUs. */
		cpu_pct = (double)(st->cpu_ns - prev->last_cpu_ns) /
		          (double)(st->system_cpu_ns - prev->last_system_ns) *
		          (st->online_cpus ? st->online_cpus : 1) * 100.0;
	} else if (prev->samples && st->read_ns > prev->last_wall_ns &&
	           st->cpu_ns >= prev->last_cpu_ns) {
		cpu_pct = (double)(st->cpu_ns - prev->last_cpu_ns) /
		          (double)(st->read_ns - prev->last_wall_ns) * 100.0;
	}
	struct jw w;
	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_str(&w, "execution_id", h->execution_id);
	jw_key_str(&w, "state", dms_state_name(state));
	jw_key(&w, "read");
	jw_time(&w, st->read_ns);
	jw_key_int(&w, "cpu_time_ns", (long long)st->cpu_ns);
	jw_key(&w, "cpu_percent");
	jw_fixed(&w, cpu_pct, 2);
	jw_key_int(&w, "online_cpus", st->online_cpus);
	jw_key_int(&w, "memory_usage_bytes", (long long)st->mem_usage);
	jw_key_int(&w, "memory_limit_bytes", (long long)st->mem_limit);
	jw_key(&w, "memory_percent");
	jw_fixed(&w, st->mem_limit ? (double)st->mem_usage / (double)st->mem_limit * 100.0 : 0, 2);
	jw_key_int(&w, "memory_peak_bytes", (long long)now->mem_peak);
	jw_key_int(&w, "pids", (long long)st->pids);
	jw_key_int(&w, "net_rx_bytes", (long long)st->net_rx);
	jw_key_int(&w, "net_tx_bytes", (long long)st->net_tx);
	jw_key_int(&w, "block_read_bytes", (long long)st->blk_read);
	jw_key_int(&w, "block_write_bytes", (long long)st->blk_write);
	jw_map_close(&w);
	return jw_steal(&w);
}

/* One sample of h's container into its usage; *json (may be NULL) its
 * JSON line. */
static int sample(struct dms_executor *ex, dms_context *ctx, struct handler *h, const char *cid,
                  dms_exec_state state, char **json, dms_error **err)
{
	struct container_stats st = {0};
	int rc = ex->rt_ops->container_stats(ex->rt, ctx, cid, &st, err);
	if (rc != 0)
		return rc;
	struct handler_usage prev,
	    s = {
	        .cpu_ns = st.cpu_ns,
	        .mem_peak = st.mem_peak > st.mem_usage ? st.mem_peak : st.mem_usage,
	        .blk_read = st.blk_read,
	        .blk_write = st.blk_write,
	        .net_rx = st.net_rx,
	        .net_tx = st.net_tx,
	        .last_mono_ns = mono_now_ns(),
	        .last_wall_ns = st.read_ns,
	        .last_cpu_ns = st.cpu_ns,
	        .last_system_ns = st.system_cpu_ns,
	    };
	handler_get_usage(h, &prev);
	handler_note_usage(h, &s);
	if (json) {
		struct handler_usage now;
		handler_get_usage(h, &now);
		if (!(*json = stats_json(h, state, &st, &prev, &now)))
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	return 0;
}

int executor_stats(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                   char **stats_json, dms_error **err)
{
	struct handler *h;
	_cleanup_free_ char *cid = NULL;
	dms_exec_state state;
	int rc = live_target(ex, execution_id, "stats", &h, &cid, &state, err);
	if (rc == 0 && !RT_HAS(ex->rt_ops, container_stats))
		rc =
		    not_supported(ex, "stats", execution_id, "sample a container's resources", err);
	if (rc == 0)
		rc = sample(ex, ctx, h, cid, state, stats_json, err);
	handler_unref(h);
	return rc;
}

/* --- stats streams ----------------------------------------------------- */

static void stream_free(struct stat_stream *s)
{
	close(s->fd);
	handler_unref(s->h);
	free(s);
}

/* One line to s; false when the reader has gone (or stopped reading long
 * enough to fill the socket: a line is then dropped, not waited for). */
static bool stream_write(struct stat_stream *s, const char *json)
{
	size_t len = strlen(json);
	_cleanup_free_ char *line = malloc(len + 2);
	if (!line)
		return true;
	memcpy(line, json, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	ssize_t n = send(s->fd, line, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

int executor_stats_stream(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                          int *fd_out, dms_error **err)
{
	struct handler *h;
	_cleanup_free_ char *cid = NULL, *first = NULL;
	dms_exec_state state;
	int sv[2] = {-1, -1};
	int rc = live_target(ex, execution_id, "stats stream", &h, &cid, &state, err);
	if (rc == 0 && !RT_HAS(ex->rt_ops, container_stats))
		rc = not_supported(ex, "stats stream", execution_id,
		                   "sample a container's resources", err);
	if (rc == 0)
		rc = sample(ex, ctx, h, cid, state, &first, err);
	struct stat_stream *s = rc == 0 ? calloc(1, sizeof(*s)) : NULL;
	if (rc == 0 && (!s || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)) {
		free(s);
		rc = err_set(err, DMS_ERR_RESOURCE, "stats stream %s: %s", execution_id,
		             s ? strerror(errno) : "out of memory");
	}
	if (rc != 0) {
		handler_unref(h);
		return rc;
	}
	shutdown(sv[0], SHUT_RD);
	shutdown(sv[1], SHUT_WR);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	s->h = h;
	s->fd = sv[0];
	stream_write(s, first);
	pthread_mutex_lock(&ex->mu);
	s->next = ex->stat_streams;
	ex->stat_streams = s;
	pthread_cond_broadcast(&ex->sampler_cond);
	pthread_mutex_unlock(&ex->mu);
	*fd_out = sv[1];
	return 0;
}

/* --- the sampler ------------------------------------------------------- */

struct sampler_pick {
	struct dms_executor *ex;
	int64_t now, next;
	size_t n_live, n;
	struct handler *due[SAMPLER_MAX_BATCH]; /* ref'd */
	char *cid[SAMPLER_MAX_BATCH];
	dms_exec_state state[SAMPLER_MAX_BATCH];
};

static int64_t sample_interval(int64_t age, size_t n_live, bool streamed)
{
	int64_t base = age < SAMPLE_YOUNG_AGE_NS ? SAMPLE_YOUNG_NS
	               : age < SAMPLE_AGE_NS     ? SAMPLE_NS
	                                         : SAMPLE_OLD_NS;
	if (streamed && base > SAMPLE_NS)
		base = SAMPLE_NS;
	int64_t spread = (int64_t)n_live * SAMPLE_PER_JOB_NS;
	return spread > base ? spread : base;
}

static bool sampler_count(void *ud, struct handler *h)
{
	struct sampler_pick *p = ud;
	pthread_mutex_lock(&h->mu);
	if (handler_state_live(h->state) && h->exit == HANDLER_EXIT_UNSEEN && h->container_id)
		p->n_live++;
	pthread_mutex_unlock(&h->mu);
	return false;
}

static bool streamed(struct dms_executor *ex, const struct handler *h)
{
	pthread_mutex_lock(&ex->mu);
	bool found = false;
	for (struct stat_stream *s = ex->stat_streams; s && !found; s = s->next)
		found = s->h == h;
	pthread_mutex_unlock(&ex->mu);
	return found;
}

static bool sampler_pick_fn(void *ud, struct handler *h)
{
	struct sampler_pick *p = ud;
	bool stream = streamed(p->ex, h);
	pthread_mutex_lock(&h->mu);
	bool live =
	    handler_state_live(h->state) && h->exit == HANDLER_EXIT_UNSEEN && h->container_id;
	if (live && h->next_sample_mono_ns <= p->now && p->n < SAMPLER_MAX_BATCH) {
		int64_t age = h->started_mono_ns ? p->now - h->started_mono_ns : SAMPLE_AGE_NS;
		h->next_sample_mono_ns = p->now + sample_interval(age, p->n_live, stream);
		char *cid = strdup(h->container_id);
		if (cid) {
			p->cid[p->n] = cid;
			p->state[p->n] = h->state;
			p->due[p->n++] = handler_ref(h);
		}
	}
	if (live && h->next_sample_mono_ns < p->next)
		p->next = h->next_sample_mono_ns;
	pthread_mutex_unlock(&h->mu);
	return false;
}

/* Closes (outside ex->mu) every stream for which drop(s, ud) says so;
 * drop runs under ex->mu. */
static void streams_prune(struct dms_executor *ex, bool (*drop)(struct stat_stream *s, void *ud),
                          void *ud)
{
	struct stat_stream *gone = NULL;
	pthread_mutex_lock(&ex->mu);
	for (struct stat_stream **pp = &ex->stat_streams; *pp;) {
		struct stat_stream *s = *pp;
		if (drop(s, ud)) {
			*pp = s->next;
			s->next = gone;
			gone = s;
		} else {
			pp = &s->next;
		}
	}
	pthread_mutex_unlock(&ex->mu);
	while (gone) {
		struct stat_stream *s = gone;
		gone = s->next;
		stream_free(s);
	}
}

struct send_args {
	struct handler *h;
	const char *json;
};

/* h's streams get the sample; a stream whose reader went is dropped. */
static bool send_or_drop(struct stat_stream *s, void *ud)
{
	const struct send_args *a = ud;
	return s->h == a->h && !stream_write(s, a->json);
}

/* Writes json to every stream of h; closes those whose reader went. */
static void streams_send(struct dms_executor *ex, struct handler *h, const char *json)
{
	struct send_args a = {h, json};
	streams_prune(ex, send_or_drop, &a);
}

static bool ended_or_all(struct stat_stream *s, void *ud)
{
	bool all = *(const bool *)ud;
	pthread_mutex_lock(&s->h->mu);
	bool ended = all || handler_state_final(s->h->state) || s->h->exit != HANDLER_EXIT_UNSEEN;
	pthread_mutex_unlock(&s->h->mu);
	return ended;
}

/* Ends the streams of executions that ended (EOF to their readers). */
static void streams_end_finished(struct dms_executor *ex, bool all)
{
	streams_prune(ex, ended_or_all, &all);
}

void *executor_sampler_main(void *arg)
{
	struct dms_executor *ex = arg;
	for (;;) {
		pthread_mutex_lock(&ex->mu);
		bool stop = ex->stopping;
		pthread_mutex_unlock(&ex->mu);
		if (stop)
			break;
		struct sampler_pick p = {.ex = ex, .now = mono_now_ns()};
		p.next = p.now + SAMPLER_IDLE_NS;
		registry_foreach(ex->reg, sampler_count, &p);
		registry_foreach(ex->reg, sampler_pick_fn, &p);
		for (size_t i = 0; i < p.n; i++) {
			char *json = NULL;
			bool want_json = streamed(ex, p.due[i]);
			if (sample(ex, ex->life, p.due[i], p.cid[i], p.state[i],
			           want_json ? &json : NULL, NULL) == 0 &&
			    json)
				streams_send(ex, p.due[i], json);
			free(json);
			free(p.cid[i]);
			handler_unref(p.due[i]);
		}
		streams_end_finished(ex, false);
		pthread_mutex_lock(&ex->mu);
		while (!ex->stopping && p.next > mono_now_ns())
			if (ctx_cond_wait(NULL, &ex->sampler_cond, &ex->mu, p.next) != 0)
				break;
		pthread_mutex_unlock(&ex->mu);
	}
	streams_end_finished(ex, true);
	return NULL;
}

void executor_poke_sampler(struct dms_executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	pthread_cond_broadcast(&ex->sampler_cond);
	pthread_mutex_unlock(&ex->mu);
}

/* --- Inspect ----------------------------------------------------------- */

/* A finished job's figures from its result: exit code and times. */
struct result_view {
	bool have;
	long long exit_code;
	int64_t started_ns, finished_ns;
};

static void result_view_of(const char *result, struct result_view *v)
{
	char errbuf[64];
	yajl_val root = result ? yajl_tree_parse(result, errbuf, sizeof(errbuf)) : NULL;
	const char *ek[] = {"exit_code", NULL}, *sk[] = {"started_at", NULL},
	           *fk[] = {"finished_at", NULL};
	yajl_val n = root ? yajl_tree_get(root, ek, yajl_t_number) : NULL;
	yajl_val sa = root ? yajl_tree_get(root, sk, yajl_t_string) : NULL;
	yajl_val fa = root ? yajl_tree_get(root, fk, yajl_t_string) : NULL;
	v->have = n && YAJL_IS_INTEGER(n);
	v->exit_code = v->have ? YAJL_GET_INTEGER(n) : -1;
	v->started_ns = sa ? parse_rfc3339(YAJL_GET_STRING(sa)) : 0;
	v->finished_ns = fa ? parse_rfc3339(YAJL_GET_STRING(fa)) : 0;
	yajl_tree_free(root);
}

int executor_inspect(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                     char **inspect_json, dms_error **err)
{
	struct handler *h;
	int rc = executor_lookup(ex, execution_id, &h, err);
	if (rc != 0) {
		handler_unref(h);
		return rc;
	}
	pthread_mutex_lock(&h->mu);
	dms_exec_state state = h->state;
	char *cid = h->container_id ? strdup(h->container_id) : NULL;
	char *result = h->result_json ? strdup(h->result_json) : NULL;
	const char *image = h->req ? h->req->image : NULL;
	pthread_mutex_unlock(&h->mu);

	/* The engine's view while the container exists; a finished job's
	 * container may be gone already: then the handler's view alone. */
	struct container_state st = {0};
	bool have = false;
	if (cid) {
		dms_error *e = NULL;
		int irc = ex->rt_ops->container_inspect(ex->rt, ctx, cid, &st, &e);
		have = irc == 0;
		if (irc != 0 && irc != DMS_ERR_NOT_FOUND && !handler_state_final(state)) {
			if (err) {
				*err = e;
				e = NULL;
			}
			rc = err_wrap(err, irc, "inspect %s", execution_id);
		}
		err_free(e);
	}
	struct result_view rv = {0};
	result_view_of(result, &rv);
	struct jw w;
	if (rc == 0 && jw_init(&w) != 0)
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
	if (rc == 0) {
		jw_map_open(&w);
		jw_key_str(&w, "execution_id", h->execution_id);
		jw_key_str(&w, "job_id", h->job_id);
		jw_key_str(&w, "state", dms_state_name(state));
		jw_key_str(&w, "runtime", ex->rt_ops->kind);
		jw_key_str_or_null(&w, "container_id", cid);
		jw_key_str_or_null(&w, "container_name", h->container_name);
		jw_key_str_or_null(&w, "image", image);
		jw_key_str_or_null(&w, "image_id", have ? st.image_id : NULL);
		bool running = have && (st.status == CS_RUNNING || st.status == CS_PAUSED);
		jw_key(&w, "started_at");
		jw_time(&w, have ? st.started_at_ns : rv.started_ns);
		jw_key(&w, "finished_at");
		jw_time(&w, rv.have ? rv.finished_ns : have && !running ? st.finished_at_ns : 0);
		jw_key(&w, "exit_code");
		if (rv.have)
			jw_int(&w, rv.exit_code);
		else if (have && !running && st.status != CS_CREATED)
			jw_int(&w, st.exit_code);
		else
			jw_null(&w);
		/* "80/tcp": ["0.0.0.0:32768", ...] */
		jw_key(&w, "ports");
		jw_map_open(&w);
		for (size_t i = 0; have && st.ports_assigned && st.ports_assigned[i]; i++) {
			const char *eq = strchr(st.ports_assigned[i], '=');
			size_t klen = eq ? (size_t)(eq - st.ports_assigned[i]) : 0;
			bool seen = false;
			if (!eq)
				continue;
			for (size_t j = 0; j < i && !seen; j++)
				seen = strncmp(st.ports_assigned[j], st.ports_assigned[i],
				               klen + 1) == 0;
			if (seen)
				continue;
			_cleanup_free_ char *key = strndup(st.ports_assigned[i], klen);
			jw_key(&w, key ? key : "");
			jw_array_open(&w);
			for (size_t j = i; st.ports_assigned[j]; j++)
				if (strncmp(st.ports_assigned[j], st.ports_assigned[i], klen + 1) ==
				    0)
					jw_str(&w, st.ports_assigned[j] + klen + 1);
			jw_array_close(&w);
		}
		jw_map_close(&w);
		/* "bridge": {"ip_address": "172.17.0.2"} */
		jw_key(&w, "networks");
		jw_map_open(&w);
		for (size_t i = 0; have && st.addresses && st.addresses[i]; i++) {
			const char *eq = strchr(st.addresses[i], '=');
			if (!eq)
				continue;
			_cleanup_free_ char *key =
			    strndup(st.addresses[i], (size_t)(eq - st.addresses[i]));
			jw_key(&w, key ? key : "");
			jw_map_open(&w);
			jw_key_str_or_null(&w, "ip_address", *(eq + 1) ? eq + 1 : NULL);
			jw_map_close(&w);
		}
		jw_map_close(&w);
		jw_map_close(&w);
		if (!(*inspect_json = jw_steal(&w)))
			rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	container_state_free(&st);
	free(cid);
	free(result);
	handler_unref(h);
	return rc;
}
