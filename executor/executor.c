/* executor.c — the DMS executor operations over a runtime vtable.
 *
 * Threads per executor, whatever the number of jobs (docs/exit-detection.md):
 *   events   one label-filtered engine event stream; a `die` marks the
 *            handler exited and queues its harvest. On every (re)connect
 *            it asks the janitor to resync (relist labelled containers), so
 *            an exit missed while disconnected is still found — which is
 *            also how a new executor with a dead one's id recovers its jobs.
 *   janitor  resyncs, enforces job deadlines and cancel grace periods
 *            (SIGKILL when due), retires finished handlers after retention.
 *   workers  (EXECUTOR_WORKERS) harvest exited containers: inspect, copy the
 *            complete log once (non-follow, after the exit: lossless) into
 *            the result and the on-disk spool, finish the handler, then
 *            remove the container off the critical path.
 *   watchers (EXIT_WATCHERS, Podman only) see a new job's exit through its
 *            attach stream for its first exit_watch: "Exit watch" below.
 * Start, Cancel, Cleanup and IsInstalled run on the caller's thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "buf.h"
#include "context.h"
#include "demux.h"
#include "error.h"
#include "executor.h"
#include "image_ref.h"
#include "labels.h"
#include "pull_progress.h"
#include "registry_auth.h"
#include "result.h"
#include "results_dir.h"
#include "runtime_names.h"
#include "verify.h"
#include "spool.h"
#include "state.h"
#include "sweep.h"

#define NS_PER_MS 1000000ll
#define NS_PER_S 1000000000ll
#define JANITOR_TICK_NS (1 * NS_PER_S)
#define RECONNECT_MIN_NS (100 * NS_PER_MS)
#define RECONNECT_MAX_NS (2 * NS_PER_S)
#define IS_INSTALLED_TIMEOUT_MS 5000
#define CANCEL_EXTRA_WAIT_NS (30 * NS_PER_S)
#define RESYNC_AT_START_TIMEOUT_MS 5000
#define DESTROY_REMOVALS_TIMEOUT_MS 5000

enum work_kind { WORK_HARVEST, WORK_REMOVE };

struct work {
	enum work_kind kind;
	struct handler *h;   /* WORK_HARVEST; WORK_REMOVE: its network goes too (may be NULL) */
	char *container_id;  /* WORK_REMOVE */
	struct work *next;
};

/* ---------------------------------------------------------------- utils */

static void yajl_gen_cleanup(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}
#define cleanup_yajl_gen __attribute__((cleanup(yajl_gen_cleanup)))

static void gen_str(yajl_gen g, const char *s)
{
	if (s)
		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	else
		yajl_gen_null(g);
}

static char *gen_finish(yajl_gen g)
{
	const unsigned char *out;
	size_t len;
	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
		return NULL;
	return strndup((const char *)out, len);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

static const char *label_value(strv labels, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; labels && labels[i]; i++)
		if (strncmp(labels[i], key, klen) == 0 && labels[i][klen] == '=')
			return labels[i] + klen + 1;
	return NULL;
}

/* -------------------------------------------------------- notifications */

static void on_handler_change(void *ud, const struct handler *h, dms_exec_state state,
                              const char *result_json)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	dms_event_fn fn = ex->event_fn;
	void *fn_ud = ex->event_ud;
	pthread_mutex_unlock(&ex->mu);
	if (fn)
		fn(fn_ud, h->execution_id, state, result_json);
}

int executor_set_event_handler(struct dms_executor *ex, dms_event_fn fn, void *ud)
{
	pthread_mutex_lock(&ex->mu);
	ex->event_fn = fn;
	ex->event_ud = ud;
	pthread_mutex_unlock(&ex->mu);
	return 0;
}

/* ------------------------------------------------------------ work queue */

static void enqueue(struct dms_executor *ex, enum work_kind kind, struct handler *h,
                    const char *container_id)
{
	struct work *w = calloc(1, sizeof(*w));
	if (!w)
		return; /* the next resync finds the exit again */
	w->kind = kind;
	w->h = handler_ref(h);
	w->container_id = container_id ? strdup(container_id) : NULL;
	pthread_mutex_lock(&ex->mu);
	if (ex->queue_tail)
		ex->queue_tail->next = w;
	else
		ex->queue_head = w;
	ex->queue_tail = w;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

static void work_free(struct work *w)
{
	if (!w)
		return;
	handler_unref(w->h);
	free(w->container_id);
	free(w);
}

/* network_mode "isolated": the job gets a network of its own, named like
 * its container and labelled like it, made before the container and
 * removed after it (docs/schema.md). */
static bool wants_own_network(const struct exec_request *req)
{
	return req && req->network_mode && strcmp(req->network_mode, "isolated") == 0;
}

/* After the container is gone; gone already is fine. Cleanup sweeps what
 * is left by a crash (the network is labelled). */
static void remove_own_network(struct dms_executor *ex, dms_context *ctx, const struct handler *h)
{
	if (h && wants_own_network(h->req) && RT_HAS(ex->rt_ops, object_remove))
		ex->rt_ops->object_remove(ex->rt, ctx, RT_OBJ_NETWORK, h->container_name, NULL);
}

/* Marks h exited (once) and queues its harvest. exit_code: from the event,
 * -1 unknown. Returns true if this call queued it. */
static bool mark_exited(struct dms_executor *ex, struct handler *h, const char *container_id,
                        int exit_code)
{
	pthread_mutex_lock(&h->mu);
	bool take = !h->exit_seen && !handler_state_final(h->state) && h->container_id &&
	            (!container_id || strcmp(h->container_id, container_id) == 0);
	if (take) {
		h->exit_seen = true;
		if (exit_code >= 0) /* a destroy or a resync keeps the die's code */
			h->event_exit_code = exit_code;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->mu);
	if (take)
		enqueue(ex, WORK_HARVEST, h, NULL);
	return take;
}

/* ----------------------------------------------------------- state files */

static char *spool_path_for(struct dms_executor *ex, const struct handler *h)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s.log", ex->spool_dir, h->container_name) < 0)
		return NULL;
	return path;
}


static void finish_harvest(struct handler *h, char *spool_path)
{
	pthread_mutex_lock(&h->mu);
	free(h->spool_path);
	h->spool_path = spool_path;
	h->harvested = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

static void save_state(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	struct state_record r = {
		.execution_id = h->execution_id,
		.job_id = h->job_id,
		.container_name = h->container_name,
		.container_id = h->container_id,
		.state = h->state,
		.result_json = h->result_json,
		.cancel_reason = h->cancel_requested ? h->cancel_reason : NULL,
	};
	state_save(ex->jobs_dir, &r); /* best effort: recovery also relists */
	pthread_mutex_unlock(&h->mu);
}

/* Rebuilds a handler from a record a dead predecessor left. Finished ones
 * come back with their result; running ones are re-attached, and the
 * resync that follows finds them exited, running, or lost. */
static void restore(void *ud, const struct state_record *r)
{
	struct dms_executor *ex = ud;
	bool final = handler_state_final(r->state) && r->result_json;
	if (!final && (r->state < DMS_STATE_RUNNING || !r->container_id)) {
		/* A Start cut short: the resync removes a never-started container. */
		state_remove(ex->jobs_dir, r->container_name);
		return;
	}
	struct handler *h = handler_new(r->execution_id, r->job_id, r->container_name, NULL, NULL,
	                                on_handler_change, ex), *old = NULL;
	if (!h)
		return;
	h->container_id = r->container_id ? strdup(r->container_id) : NULL;
	if (r->cancel_reason) {
		/* A cancel in progress when the predecessor died: finish it. */
		h->cancel_requested = true;
		h->cancel_reason = strdup(r->cancel_reason);
		h->kill_at_mono_ns = mono_now_ns() + ex->cfg->stop_timeout_ms * NS_PER_MS;
	}
	if (registry_insert(ex->reg, h, &old) != 0) {
		handler_unref(old);
		handler_unref(h);
		return;
	}
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	if (final) {
		char *spool = spool_path_for(ex, h);
		if (spool && access(spool, R_OK) != 0) {
			free(spool);
			spool = NULL;
		}
		finish_harvest(h, spool);
		handler_transition(h, r->state, strdup(r->result_json), NULL);
	}
	handler_unref(h);
}

/* --------------------------------------------------------------- harvest */

struct harvest_sink {
	struct exec_result *res;
	struct spool *spool;
	struct results_files *files; /* NULL without a results_dir */
	bool full;                   /* every sink is full: the read was stopped */
};

/* Whether nothing more of the log can change what the harvest keeps: both
 * result buffers have refused a byte (so their truncation flags are already
 * exact), the spool has reached its limit and the results files theirs. A
 * limit of 0 (unlimited) is never full. */
static bool harvest_sinks_full(const struct harvest_sink *hs)
{
	if (!hs->res->out.truncated || !hs->res->err.truncated)
		return false;
	if (hs->spool && !hs->spool->truncated)
		return false;
	return !hs->files || (hs->files->truncated[DEMUX_STDOUT] &&
	                      hs->files->truncated[DEMUX_STDERR]);
}

static int harvest_sink_fn(void *ud, int stream, const char *data, size_t len)
{
	struct harvest_sink *hs = ud;
	if (stream == DEMUX_STDOUT)
		capbuf_append(&hs->res->out, data, len);
	else if (stream == DEMUX_STDERR)
		capbuf_append(&hs->res->err, data, len);
	if (hs->spool)
		spool_append(hs->spool, stream, data, len);
	if (hs->files)
		results_files_write(hs->files, stream, data, len);
	/* The rest of a 200 MB log would only be read to be dropped. */
	if (harvest_sinks_full(hs))
		return hs->full = true, 1;
	return 0;
}

struct demux_ctx {
	struct demux d;
	demux_sink_fn sink;
	void *ud;
};

static int demux_log_fn(void *ud, const char *data, size_t len)
{
	struct demux_ctx *dc = ud;
	int rc = demux_feed(&dc->d, data, len, dc->sink, dc->ud);
	return rc < 0 ? 0 : rc; /* a malformed frame ends parsing, not the copy */
}

/* Not now: the engine did not answer (or still runs the container). The
 * exit is forgotten so that the next resync finds it again; never a false
 * "exited". */
static void defer_harvest(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	h->exit_seen = false;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_lock(&ex->mu);
	ex->resync_needed = true;
	pthread_mutex_unlock(&ex->mu);
}

static bool engine_unreachable(int rc)
{
	return rc == DMS_ERR_RUNTIME_UNAVAILABLE || rc == DMS_ERR_CANCELLED || rc == DMS_ERR_TIMEOUT;
}

/* Appends "; <what>: <why>" to the result's error message. */
static void result_note(struct exec_result *res, const char *what, const char *why)
{
	char *msg = NULL;
	if (asprintf(&msg, "%s%s%s: %s", res->error_msg ? res->error_msg : "",
	             res->error_msg ? "; " : "", what, why) < 0)
		return;
	free(res->error_msg);
	res->error_msg = msg;
}

/* Reads the container's state and its log (non-follow, after the exit:
 * lossless) into res, the spool and the results files, stopping once none
 * of them can take more. 0, or a category. */
static int collect(struct dms_executor *ex, struct handler *h, const char *cid,
                   struct exec_result *res, char **spool_path, bool *spool_whole,
                   dms_error **e)
{
	struct container_state st = {0};
	int rc = ex->rt_ops->container_inspect(ex->rt, ex->life, cid, &st, e);
	if (rc != 0)
		return rc;
	if (st.status == CS_RUNNING || st.status == CS_RESTARTING || st.status == CS_PAUSED) {
		container_state_free(&st);
		return err_set(e, DMS_ERR_CONTAINER, "container %s is still running", cid);
	}
	res->exit_code = st.exit_code;
	res->oom_killed = st.oom_killed;
	res->started_at_ns = st.started_at_ns;
	/* dockerd stamps StartedAt after runc returns, so a job shorter than
	 * that "finishes" first: report it as instantaneous. */
	res->finished_at_ns = st.finished_at_ns && st.finished_at_ns < st.started_at_ns
	                              ? st.started_at_ns
	                              : st.finished_at_ns;
	if (st.error && *st.error)
		res->error_msg = strdup(st.error);
	bool tty = st.tty;
	container_state_free(&st);

	struct spool *sp = NULL;
	*spool_path = spool_path_for(ex, h);
	if (*spool_path && spool_create(*spool_path, ex->cfg->log_spool_limit, &sp, NULL) != 0) {
		free(*spool_path);
		*spool_path = NULL;
	}
	struct results_files files;
	const char *rdir = h->req ? h->req->results_dir : NULL;
	bool have_files = rdir && results_files_open(&files, rdir, ex->cfg->results_file_limit,
	                                             NULL) == 0;
	struct harvest_sink hs = {.res = res, .spool = sp, .files = have_files ? &files : NULL};
	struct demux_ctx dc = {.sink = harvest_sink_fn, .ud = &hs};
	demux_init(&dc.d, tty);
	struct log_options lo = {.follow = false, .stdout_ = true, .stderr_ = true, .tail = -1};
	rc = ex->rt_ops->container_logs(ex->rt, ex->life, cid, &lo, demux_log_fn, &dc, e);
	if (hs.full && rc != 0) { /* stopped on purpose: what was kept is exact */
		if (e) {
			err_free(*e);
			*e = NULL;
		}
		rc = 0;
	}
	*spool_whole = sp && rc == 0 && !hs.full && !sp->truncated;
	spool_close(sp);
	if (have_files) {
		results_files_close(&files);
		if (rc == 0)
			results_write_exit_code(rdir, res->exit_code, NULL);
	}
	return rc;
}

static void harvest(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	char *cid = strdup(h->container_id ? h->container_id : "");
	bool cancelled = h->cancel_requested;
	char *reason = h->cancel_reason ? strdup(h->cancel_reason) : NULL;
	struct exec_result res;
	result_init(&res, ex->cfg->output_limit);
	res.exit_code = h->event_exit_code;
	pthread_mutex_unlock(&h->mu);

	dms_exec_state final = cancelled ? DMS_STATE_CANCELLED : DMS_STATE_EXITED;
	char *spool_path = NULL;
	bool spool_whole = false;
	dms_error *e = NULL;
	int rc = cid ? collect(ex, h, cid, &res, &spool_path, &spool_whole, &e) : DMS_ERR_RESOURCE;
	bool remove = rc == 0;
	if (engine_unreachable(rc) || rc == DMS_ERR_CONTAINER) {
		defer_harvest(ex, h);
		if (spool_path)
			unlink(spool_path);
		free(spool_path);
		goto out;
	} else if (rc == DMS_ERR_NOT_FOUND && !res.started_at_ns) {
		/* Gone before we looked: removed from outside, or by Cleanup. */
		result_note(&res, "container vanished before its result was collected",
		            e ? e->message : "not found");
		if (!cancelled)
			final = DMS_STATE_FAILED;
	} else if (rc != 0) {
		/* Inspected, but the log could not be read completely. */
		result_note(&res, "output could not be read", e ? e->message : "?");
		remove = true;
	}

	pthread_mutex_lock(&h->mu);
	res.oom_killed = res.oom_killed || h->oom_event;
	res.cancelled = h->cancel_requested;
	pthread_mutex_unlock(&h->mu);
	if (res.exit_code > 128 && res.exit_code <= 128 + 64)
		res.signal = res.exit_code - 128;
	if (!res.error_msg && res.oom_killed)
		res.error_msg = strdup("out of memory: killed by the kernel OOM killer");
	if (cancelled) {
		free(res.error_msg);
		res.error_msg = reason;
		reason = NULL;
	}

	char *json = result_to_json(&res);
	finish_harvest(h, spool_path);
	if (spool_whole)
		logs_harvested(ex, h);
	/* Any harvest means the job ran: make sure RUNNING was reported first,
	 * even if the die event overtook the starter's own transition. */
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	dms_error *fail = NULL;
	if (!json)
		err_set(&fail, DMS_ERR_RESOURCE, "out of memory building the result");
	handler_transition(h, json ? final : DMS_STATE_FAILED, json, fail);
	save_state(ex, h);
	if (remove) {
		/* A follower still reading the container (a slow reader, or a
		 * runtime completing the engine's follow stream) needs it there:
		 * the last one queues the removal (executor_engine_reader_done). */
		pthread_mutex_lock(&h->mu);
		bool defer = h->engine_readers > 0;
		h->remove_deferred = defer;
		pthread_mutex_unlock(&h->mu);
		if (!defer)
			enqueue(ex, WORK_REMOVE, wants_own_network(h->req) ? h : NULL, cid);
	}
out:
	err_free(e);
	result_free(&res);
	free(reason);
	free(cid);
}

void executor_engine_reader_done(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool remove = --h->engine_readers == 0 && h->remove_deferred && h->container_id;
	char *cid = remove ? strdup(h->container_id) : NULL;
	if (remove)
		h->remove_deferred = false;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_lock(&ex->mu);
	bool stopping = ex->stopping; /* then Cleanup or recovery removes it */
	pthread_mutex_unlock(&ex->mu);
	if (cid && !stopping)
		enqueue(ex, WORK_REMOVE, wants_own_network(h->req) ? h : NULL, cid);
	free(cid);
}

/* The oldest harvest, else the oldest removal: a Wait replies after its
 * harvest, while a removal only tidies up. In FIFO order a job's exit waited
 * behind the removals of the jobs before it (50–400 ms each on a loaded
 * dockerd), which put removal back on the critical path of Run as soon as
 * jobs overlapped (issue 8). The queue is not empty; ex->mu is held. */
static struct work *dequeue_locked(struct dms_executor *ex)
{
	struct work *prev = NULL, *w = ex->queue_head;
	while (w && w->kind != WORK_HARVEST) {
		prev = w;
		w = w->next;
	}
	if (!w) {
		prev = NULL;
		w = ex->queue_head;
	}
	if (prev)
		prev->next = w->next;
	else
		ex->queue_head = w->next;
	if (ex->queue_tail == w)
		ex->queue_tail = prev;
	w->next = NULL;
	return w;
}

static void *worker_main(void *arg)
{
	struct dms_executor *ex = arg;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		while (!ex->stopping && !ex->queue_head)
			pthread_cond_wait(&ex->cond, &ex->mu);
		if (ex->stopping)
			break;
		struct work *w = dequeue_locked(ex);
		bool removal = w->kind == WORK_REMOVE;
		ex->removing += removal;
		pthread_mutex_unlock(&ex->mu);
		if (!removal)
			harvest(ex, w->h);
		else if (ex->rt_ops->container_remove(ex->rt, ex->life, w->container_id, true,
		                                      NULL) == 0)
			remove_own_network(ex, ex->life, w->h);
		work_free(w);
		pthread_mutex_lock(&ex->mu);
		if (removal) {
			ex->removing--;
			pthread_cond_broadcast(&ex->cond); /* finish_removals */
		}
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---------------------------------------------------------------- events */

static int on_engine_event(void *ud, const struct runtime_event *ev)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	if (ev->time_ns > ex->last_event_ns)
		ex->last_event_ns = ev->time_ns;
	pthread_mutex_unlock(&ex->mu);
	if (!ev->execution_id ||
	    (ev->kind != RT_EV_DIE && ev->kind != RT_EV_OOM && ev->kind != RT_EV_DESTROY))
		return 0;
	struct handler *h = registry_get(ex->reg, ev->execution_id);
	if (!h)
		return 0; /* not ours yet (recovery): the resync adopts it */
	if (ev->kind == RT_EV_OOM) {
		pthread_mutex_lock(&h->mu);
		h->oom_event = true;
		pthread_mutex_unlock(&h->mu);
	} else if (ev->kind == RT_EV_DIE) {
		mark_exited(ex, h, ev->container_id, ev->exit_code);
	} else {
		/* Destroyed: normally harvested already (a no-op then). Not when
		 * its harvest ran while a forced removal was under way (Cleanup,
		 * `docker rm -f`): the log read failed, the harvest was deferred,
		 * and no die event will come again. */
		mark_exited(ex, h, ev->container_id, -1);
	}
	handler_unref(h);
	return 0;
}

static void on_events_ready(void *ud)
{
	struct dms_executor *ex = ud;
	pthread_mutex_lock(&ex->mu);
	ex->events_connected = true;
	ex->resync_needed = true;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

static void *events_main(void *arg)
{
	struct dms_executor *ex = arg;
	int64_t backoff = RECONNECT_MIN_NS;
	for (;;) {
		pthread_mutex_lock(&ex->mu);
		bool stop = ex->stopping;
		/* Resume a little before the last event seen: duplicates are
		 * harmless (mark_exited is idempotent), gaps are not. */
		int64_t since = ex->last_event_ns ? ex->last_event_ns - NS_PER_S : 0;
		pthread_mutex_unlock(&ex->mu);
		if (stop)
			break;
		int64_t t0 = mono_now_ns();
		ex->rt_ops->events(ex->rt, ex->life, ex->label, since, on_events_ready,
		                   on_engine_event, ex, NULL);
		pthread_mutex_lock(&ex->mu);
		ex->events_connected = false;
		if (mono_now_ns() - t0 > 10 * NS_PER_S)
			backoff = RECONNECT_MIN_NS; /* it was up for a while */
		int64_t until = mono_now_ns() + backoff;
		while (!ex->stopping && ctx_cond_wait(NULL, &ex->cond, &ex->mu, until) == 0)
			;
		pthread_mutex_unlock(&ex->mu);
		backoff = backoff * 2 > RECONNECT_MAX_NS ? RECONNECT_MAX_NS : backoff * 2;
	}
	return NULL;
}

/* ------------------------------------------------------------ exit watch */

/* Podman's event stream polls its events file every 250 ms, so a `die`
 * reaches us up to that long after the exit: most of a short job's time.
 * For the first cfg->exit_watch after its start, a job whose start found an
 * idle watcher also has its exit watched through its own attach stream
 * (runtime.h container_watch), which ends when the process does. The end is
 * only a hint: it queues the same harvest a `die` would, whose inspect
 * decides (a stream dropped by a restarting engine ends the same way, and
 * defers the harvest). EXIT_WATCHERS threads, so threads and connections
 * stay constant whatever the number of jobs; a job started while all are
 * busy, or running longer, is seen by the events alone. */
/* h->watch: none; handed over; attached; its stream ended by itself (the
 * exit hint); over otherwise (refused, failed, or its time was up). */
enum { WATCH_NONE, WATCH_PENDING, WATCH_ATTACHED, WATCH_ENDED, WATCH_OVER };

#define WATCH_ATTACH_MAX_NS (10 * NS_PER_S)

static void watch_attached(void *ud)
{
	struct handler *h = ud;
	pthread_mutex_lock(&h->mu);
	if (h->watch == WATCH_PENDING)
		h->watch = WATCH_ATTACHED;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

/* Hands h to an idle watcher and waits until its stream is attached, which
 * a start must not overtake. false: not watched (none idle, refused, slow);
 * the start goes ahead either way. */
static bool watch_begin(struct dms_executor *ex, dms_context *ctx, struct handler *h)
{
	pthread_mutex_lock(&ex->mu);
	bool handed = ex->watchers_idle > 0 && !ex->watch_next && !ex->stopping;
	if (handed) {
		ex->watchers_idle--;
		pthread_mutex_lock(&h->mu);
		h->watch = WATCH_PENDING;
		pthread_mutex_unlock(&h->mu);
		ex->watch_next = handler_ref(h);
		pthread_cond_signal(&ex->watch_cond);
	}
	pthread_mutex_unlock(&ex->mu);
	if (!handed)
		return false;
	int64_t until = mono_now_ns() + WATCH_ATTACH_MAX_NS;
	pthread_mutex_lock(&h->mu);
	while (h->watch == WATCH_PENDING && ctx_cond_wait(ctx, &h->cond, &h->mu, until) == 0)
		;
	bool attached = h->watch == WATCH_ATTACHED;
	pthread_mutex_unlock(&h->mu);
	return attached;
}

/* The start succeeded: a watch that already ended is the exit now. */
static void watch_started(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	h->watch_started = true;
	bool ended = h->watch == WATCH_ENDED;
	pthread_mutex_unlock(&h->mu);
	if (ended)
		mark_exited(ex, h, NULL, -1);
}

static void watch_one(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	char *cid = h->container_id ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	dms_context *wctx = ctx_new_child(ex->life, -1);
	int rc = DMS_ERR_RESOURCE;
	if (wctx && cid) {
		ctx_set_deadline_ns(wctx, mono_now_ns() + ex->cfg->exit_watch_ms * NS_PER_MS);
		rc = ex->rt_ops->container_watch(ex->rt, wctx, cid, watch_attached, h, NULL);
	}
	ctx_free(wctx);
	pthread_mutex_lock(&h->mu);
	h->watch = rc == 0 ? WATCH_ENDED : WATCH_OVER;
	bool exited = rc == 0 && h->watch_started;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	if (exited)
		mark_exited(ex, h, cid, -1);
	free(cid);
}

static void *watcher_main(void *arg)
{
	struct dms_executor *ex = arg;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		while (!ex->stopping && !ex->watch_next)
			pthread_cond_wait(&ex->watch_cond, &ex->mu);
		if (ex->stopping)
			break;
		struct handler *h = ex->watch_next;
		ex->watch_next = NULL;
		pthread_mutex_unlock(&ex->mu);
		watch_one(ex, h);
		handler_unref(h);
		pthread_mutex_lock(&ex->mu);
		ex->watchers_idle++;
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---------------------------------------------------------------- resync */

/* Adopts a labelled container no handler tracks: the executor that made it
 * died. Running ones are re-attached, exited ones harvested once (never
 * restarted), never-started ones (a Start cut short) removed. */
static void adopt(struct dms_executor *ex, const struct container_summary *c)
{
	const char *exec_id = label_value(c->labels, LABEL_EXECUTION);
	if (!exec_id || !request_valid_id(exec_id, 128))
		return;
	if (c->status == CS_CREATED) {
		ex->rt_ops->container_remove(ex->rt, ex->life, c->id, true, NULL);
		return;
	}
	char *name = labels_container_name(ex->id, exec_id);
	struct handler *h = handler_new(exec_id, label_value(c->labels, LABEL_JOB), name, NULL, NULL,
	                                on_handler_change, ex);
	free(name);
	if (!h)
		return;
	h->container_id = strdup(c->id);
	struct handler *existing = NULL;
	if (!h->container_id || registry_insert(ex->reg, h, &existing) != 0) {
		handler_unref(existing);
		handler_unref(h);
		return;
	}
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	save_state(ex, h);
	if (c->status == CS_EXITED || c->status == CS_DEAD)
		mark_exited(ex, h, c->id, -1);
	handler_unref(h);
}

struct resync_ctx {
	struct dms_executor *ex;
	struct container_summary *list;
	size_t n;
};

/* For each running handler: its container exited, or vanished, while we
 * were not listening. */
static bool resync_handler(void *ud, struct handler *h)
{
	struct resync_ctx *rc = ud;
	pthread_mutex_lock(&h->mu);
	bool check = h->state == DMS_STATE_RUNNING && !h->exit_seen && h->container_id;
	char *cid = check ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	if (!cid)
		return false;
	const struct container_summary *found = NULL;
	for (size_t i = 0; i < rc->n && !found; i++)
		if (strcmp(rc->list[i].id, cid) == 0)
			found = &rc->list[i];
	/* Gone, stopped, or being removed (its die is past): the harvest
	 * reports it, or defers again until the engine has settled. */
	if (!found || found->status == CS_EXITED || found->status == CS_DEAD ||
	    found->status == CS_REMOVING)
		mark_exited(rc->ex, h, cid, -1);
	free(cid);
	return false;
}

/* False when the engine could not list: the caller tries again later. */
static bool resync(struct dms_executor *ex, dms_context *ctx)
{
	struct resync_ctx rc = {.ex = ex};
	if (ex->rt_ops->container_list(ex->rt, ctx, ex->label, &rc.list, &rc.n, NULL) != 0)
		return false;
	for (size_t i = 0; i < rc.n; i++) {
		const char *exec_id = label_value(rc.list[i].labels, LABEL_EXECUTION);
		struct handler *h = exec_id ? registry_get(ex->reg, exec_id) : NULL;
		if (!h) {
			adopt(ex, &rc.list[i]);
		} else {
			/* Finished, but its container outlived a predecessor that
			 * died before removing it. */
			pthread_mutex_lock(&h->mu);
			bool leftover = handler_state_final(h->state) && h->harvested &&
			                h->container_id && strcmp(h->container_id, rc.list[i].id) == 0;
			pthread_mutex_unlock(&h->mu);
			if (leftover)
				enqueue(ex, WORK_REMOVE, NULL, rc.list[i].id);
		}
		handler_unref(h);
	}
	registry_foreach(ex->reg, resync_handler, &rc);
	container_summaries_free(rc.list, rc.n);
	return true;
}

/* --------------------------------------------------------------- janitor */

struct janitor_pass {
	struct dms_executor *ex;
	int64_t now;
	int64_t next;   /* earliest time something is due */
};

static void send_signal(struct dms_executor *ex, const char *cid, const char *sig)
{
	ex->rt_ops->container_kill(ex->rt, ex->life, cid, sig, NULL);
}

static const char *stop_signal_of(const struct dms_executor *ex, const struct handler *h)
{
	if (h->req && h->req->stop_signal)
		return h->req->stop_signal;
	return ex->cfg->stop_signal ? ex->cfg->stop_signal : "SIGTERM";
}

static int64_t stop_timeout_ns_of(const struct dms_executor *ex, const struct handler *h)
{
	int64_t ms = h->req && h->req->stop_timeout_ms >= 0 ? h->req->stop_timeout_ms
	                                                    : ex->cfg->stop_timeout_ms;
	return ms * NS_PER_MS;
}

/* Sends the stop signal and arms the SIGKILL, once per execution; h->mu
 * held on entry, released. */
static void begin_stop_locked(struct dms_executor *ex, struct handler *h, const char *reason)
{
	bool first = !h->cancel_requested;
	if (first) {
		h->cancel_requested = true;
		free(h->cancel_reason);
		h->cancel_reason = strdup(reason);
	}
	bool signal_now = h->state == DMS_STATE_RUNNING && !h->exit_seen && h->container_id &&
	                  h->kill_at_mono_ns == INT64_MAX;
	char *cid = signal_now ? strdup(h->container_id) : NULL;
	int64_t grace = stop_timeout_ns_of(ex, h);
	if (cid)
		h->kill_at_mono_ns = mono_now_ns() + grace;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	if (first) /* a successor must know the result is a cancellation */
		save_state(ex, h);
	if (!cid)
		return;
	send_signal(ex, cid, grace == 0 ? "SIGKILL" : stop_signal_of(ex, h));
	pthread_mutex_lock(&ex->mu);
	pthread_cond_broadcast(&ex->cond); /* the janitor plans the SIGKILL */
	pthread_mutex_unlock(&ex->mu);
	free(cid);
}

static bool janitor_handler(void *ud, struct handler *h)
{
	struct janitor_pass *jp = ud;
	struct dms_executor *ex = jp->ex;
	pthread_mutex_lock(&h->mu);
	if (handler_state_final(h->state)) {
		int64_t expiry = h->finished_mono_ns + ex->cfg->retention_ms * NS_PER_MS;
		bool retire = expiry <= jp->now && h->waiters == NULL;
		char *spool = retire && h->spool_path ? strdup(h->spool_path) : NULL;
		pthread_mutex_unlock(&h->mu);
		if (spool)
			unlink(spool);
		free(spool);
		if (retire)
			state_remove(ex->jobs_dir, h->container_name);
		if (!retire && expiry < jp->next)
			jp->next = expiry;
		return retire;
	}
	if (h->state != DMS_STATE_RUNNING || h->exit_seen || !h->container_id) {
		pthread_mutex_unlock(&h->mu);
		return false;
	}
	if (!h->cancel_requested && h->deadline_mono_ns <= jp->now) {
		char reason[96];
		snprintf(reason, sizeof(reason), "deadline exceeded: the job ran longer than %.3gs",
		         h->req ? h->req->timeout_ms / 1000.0 : 0.0);
		begin_stop_locked(ex, h, reason);
		jp->next = jp->now; /* re-plan for the kill deadline */
		return false;
	}
	if (h->kill_at_mono_ns <= jp->now) {
		char *cid = strdup(h->container_id);
		h->kill_at_mono_ns = INT64_MAX;
		pthread_mutex_unlock(&h->mu);
		if (cid)
			send_signal(ex, cid, "SIGKILL");
		free(cid);
		return false;
	}
	if (h->kill_at_mono_ns < jp->next)
		jp->next = h->kill_at_mono_ns;
	if (!h->cancel_requested && h->deadline_mono_ns < jp->next)
		jp->next = h->deadline_mono_ns;
	pthread_mutex_unlock(&h->mu);
	return false;
}

static void *janitor_main(void *arg)
{
	struct dms_executor *ex = arg;
	bool retry = false; /* the last resync failed: again on the next tick */
	for (;;) {
		pthread_mutex_lock(&ex->mu);
		bool stop = ex->stopping, do_resync = ex->resync_needed || retry;
		ex->resync_needed = false;
		pthread_mutex_unlock(&ex->mu);
		if (stop)
			break;
		/* (A failed list once set resync_needed again, which skipped the
		 * wait below: the janitor spun on the engine while it was down.) */
		retry = do_resync && !resync(ex, ex->life);
		struct janitor_pass jp = {.ex = ex, .now = mono_now_ns()};
		jp.next = jp.now + JANITOR_TICK_NS;
		registry_foreach(ex->reg, janitor_handler, &jp);
		sweep_tick(ex, jp.now, &jp.next);
		pthread_mutex_lock(&ex->mu);
		while (!ex->stopping && !ex->resync_needed && jp.next > mono_now_ns())
			if (ctx_cond_wait(NULL, &ex->cond, &ex->mu, jp.next) != 0)
				break;
		pthread_mutex_unlock(&ex->mu);
	}
	return NULL;
}

/* ------------------------------------------------------------- lifecycle */

/* Ends the threads of ex, the first `started` of the order below. */
static void stop_threads(struct dms_executor *ex, int started)
{
	pthread_mutex_lock(&ex->mu);
	ex->stopping = true;
	pthread_cond_broadcast(&ex->cond);
	pthread_cond_broadcast(&ex->watch_cond);
	pthread_mutex_unlock(&ex->mu);
	ctx_cancel(ex->life);
	if (started > 0)
		pthread_join(ex->events_thread, NULL);
	if (started > 1)
		pthread_join(ex->janitor_thread, NULL);
	for (int i = 0; i < started - 2 && i < EXECUTOR_WORKERS; i++)
		pthread_join(ex->workers[i], NULL);
	for (int i = 0; i < started - 2 - EXECUTOR_WORKERS; i++)
		pthread_join(ex->watchers[i], NULL);
	handler_unref(ex->watch_next); /* handed over, never taken */
	ex->watch_next = NULL;
}

/* Events, janitor, workers, watchers; all or none. */
static bool start_threads(struct dms_executor *ex)
{
	int started = 0, want = 2 + EXECUTOR_WORKERS + ex->n_watchers;
	if (pthread_create(&ex->events_thread, NULL, events_main, ex) == 0)
		started++;
	if (started == 1 && pthread_create(&ex->janitor_thread, NULL, janitor_main, ex) == 0)
		started++;
	for (int i = 0; started == 2 + i && i < EXECUTOR_WORKERS; i++)
		if (pthread_create(&ex->workers[i], NULL, worker_main, ex) == 0)
			started++;
	for (int i = 0; started == 2 + EXECUTOR_WORKERS + i && i < ex->n_watchers; i++)
		if (pthread_create(&ex->watchers[i], NULL, watcher_main, ex) == 0)
			started++;
	if (started == want)
		return true;
	stop_threads(ex, started);
	return false;
}

int executor_new(const char *id, const char *config_yaml, struct dms_executor **out,
                 dms_error **err)
{
	return executor_new_with_runtime(id, config_yaml, NULL, out, err);
}

/* Frees what executor_new built, once no thread of ex runs any more. */
static void free_executor(struct dms_executor *ex)
{
	while (ex->queue_head) {
		struct work *w = ex->queue_head;
		ex->queue_head = w->next;
		work_free(w);
	}
	sweep_free(ex->sweep);
	registry_free(ex->reg);
	if (ex->rt)
		ex->rt_ops->close(ex->rt);
	ctx_free(ex->life);
	config_free(ex->cfg);
	free(ex->id);
	free(ex->label);
	free(ex->spool_dir);
	free(ex->jobs_dir);
	pthread_mutex_destroy(&ex->mu);
	pthread_cond_destroy(&ex->cond);
	pthread_cond_destroy(&ex->watch_cond);
	free(ex);
}

/* $DMS_CONTAINER_RUNTIME, else the config's `runtime:` (docker | podman |
 * auto); `auto` asks the engines which one answers (runtimes/runtime.c). */
static int pick_runtime(struct dms_executor *ex, dms_error **err)
{
	const char *name = getenv("DMS_CONTAINER_RUNTIME");
	const char *from = "DMS_CONTAINER_RUNTIME";
	int rc;
	if (!name || !*name) {
		name = ex->cfg->runtime ? ex->cfg->runtime : RUNTIME_DEFAULT;
		from = "runtime";
	}
	if ((rc = runtime_select(name, ex->cfg->host, &ex->rt_ops, err)) != 0)
		return err_wrap(err, rc, "%s", from);
	return 0;
}

int executor_new_with_runtime(const char *id, const char *config_yaml,
                              const struct runtime_ops *ops, struct dms_executor **out,
                              dms_error **err)
{
	int rc;
	if (!id || !request_valid_id(id, 64))
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "executor id '%s': must be 1-64 characters of [A-Za-z0-9_.:-]",
		               id ? id : "(null)");
	struct dms_executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	pthread_mutex_init(&ex->mu, NULL);
	ctx_cond_init(&ex->cond);
	pthread_cond_init(&ex->watch_cond, NULL);
	if ((rc = config_parse(config_yaml, &ex->cfg, err)) != 0)
		goto fail;
	ex->rt_ops = ops;
	if (!ops && (rc = pick_runtime(ex, err)) != 0)
		goto fail;
	ex->id = strdup(id);
	ex->reg = registry_new();
	ex->life = ctx_new(0);
	if (!ex->id || !ex->reg || !ex->life || asprintf(&ex->label, "%s=%s", LABEL_EXECUTOR, id) < 0 ||
	    asprintf(&ex->spool_dir, "%s/%s/spool", ex->cfg->state_dir, id) < 0 ||
	    asprintf(&ex->jobs_dir, "%s/%s/jobs", ex->cfg->state_dir, id) < 0) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	if (mkdir_p(ex->spool_dir, 0700) != 0 || mkdir_p(ex->jobs_dir, 0700) != 0) {
		rc = err_set(err, DMS_ERR_CONFIG, "state_dir: cannot create %s: %s", ex->jobs_dir,
		             strerror(errno));
		goto fail;
	}
	if ((rc = ex->rt_ops->open(ex->cfg->host, &ex->rt, err)) != 0) {
		err_wrap(err, rc, "runtime %s", ex->rt_ops->kind);
		goto fail;
	}
	/* Recover a dead predecessor's jobs before returning, so that its
	 * executions are known to the first Wait. Bounded: an engine that does
	 * not answer leaves it to the event thread's first connect. */
	state_load(ex->jobs_dir, restore, ex);
	dms_context *first = ctx_new(RESYNC_AT_START_TIMEOUT_MS);
	if (!resync(ex, first))
		ex->resync_needed = true; /* the janitor tries again (no thread yet) */
	ctx_free(first);
	if (RT_HAS(ex->rt_ops, container_watch) && ex->cfg->exit_watch_ms > 0)
		ex->n_watchers = EXIT_WATCHERS;
	ex->watchers_idle = ex->n_watchers;
	if (!start_threads(ex)) {
		rc = err_set(err, DMS_ERR_RESOURCE, "cannot start executor threads");
		goto fail;
	}
	*out = ex;
	return 0;
fail:
	free_executor(ex);
	return rc;
}

/* Lets the workers do the removals queued or under way (the jobs' results
 * were delivered; their containers go off the critical path), so that a
 * clean shutdown leaves no finished job's container behind. Bounded; what
 * is left, the next executor with this id removes (its resync), as do
 * Cleanup and the orphan sweep. */
static void finish_removals(struct dms_executor *ex)
{
	int64_t until = mono_now_ns() + DESTROY_REMOVALS_TIMEOUT_MS * NS_PER_MS;
	pthread_mutex_lock(&ex->mu);
	for (;;) {
		bool pending = ex->removing > 0;
		for (struct work *w = ex->queue_head; w && !pending; w = w->next)
			pending = w->kind == WORK_REMOVE;
		if (!pending || ctx_cond_wait(NULL, &ex->cond, &ex->mu, until) != 0)
			break;
	}
	pthread_mutex_unlock(&ex->mu);
}

static bool abandon_one(void *ud, struct handler *h)
{
	handler_abandon_waiters(h, ud);
	return false;
}

void executor_destroy(struct dms_executor *ex)
{
	if (!ex)
		return;
	finish_removals(ex);
	stop_threads(ex, 2 + EXECUTOR_WORKERS + ex->n_watchers);
	/* Log threads wait with ex->life, cancelled above; one blocked writing
	 * to a reader that does not read is released by shutting its socket. */
	logs_shutdown_all(ex);
	pthread_mutex_lock(&ex->mu);
	while (ex->log_threads > 0)
		pthread_cond_wait(&ex->cond, &ex->mu);
	pthread_mutex_unlock(&ex->mu);
	logs_reap(ex);
	dms_error e = {.struct_size = sizeof(e), .category = DMS_ERR_CANCELLED,
	               .message = (char *)"the executor was destroyed before the execution ended"};
	registry_foreach(ex->reg, abandon_one, &e);
	free_executor(ex);
}

/* ----------------------------------------------------------- operations */

int executor_is_installed(struct dms_executor *ex, dms_context *ctx, bool *installed,
                          char **info_json, dms_error **err)
{
	dms_context *own = ctx ? NULL : ctx_new(IS_INSTALLED_TIMEOUT_MS);
	struct runtime_info info = {0};
	/* The fingerprint costs /version and /info (tens of ms on dockerd):
	 * only when asked for. */
	int rc = ex->rt_ops->ping(ex->rt, ctx ? ctx : own, info_json ? &info : NULL, NULL);
	ctx_free(own);
	*installed = rc == 0;
	if (info_json) {
		cleanup_yajl_gen yajl_gen g = yajl_gen_alloc(NULL);
		if (!g) {
			runtime_info_free(&info);
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		}
		yajl_gen_map_open(g);
		gen_str(g, "installed");
		yajl_gen_bool(g, rc == 0);
		gen_str(g, "runtime");
		gen_str(g, info.kind ? info.kind : ex->rt_ops->kind);
		gen_str(g, "host");
		gen_str(g, ex->cfg->host);
		gen_str(g, "version");
		gen_str(g, info.version);
		gen_str(g, "api_version");
		gen_str(g, info.api_version);
		gen_str(g, "os");
		gen_str(g, info.os);
		gen_str(g, "rootless");
		yajl_gen_bool(g, info.rootless);
		gen_str(g, "cgroup_version");
		yajl_gen_integer(g, info.cgroup_version);
		yajl_gen_map_close(g);
		*info_json = gen_finish(g);
	}
	runtime_info_free(&info);
	return 0;
}

/* The labels every object of this execution carries, then the request's. */
static strv build_labels(struct dms_executor *ex, const struct exec_request *req)
{
	size_t n = strv_len(req->labels);
	strv v = calloc(n + 4, sizeof(*v));
	if (!v)
		return NULL;
	if (asprintf(&v[0], "%s=%s", LABEL_EXECUTOR, ex->id) < 0 ||
	    asprintf(&v[1], "%s=%s", LABEL_JOB, req->job_id) < 0 ||
	    asprintf(&v[2], "%s=%s", LABEL_EXECUTION, req->execution_id) < 0) {
		strv_free(v);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(v[3 + i] = strdup(req->labels[i]))) {
			strv_free(v);
			return NULL;
		}
	return v;
}

/* ------------------------------------------------------------------ pulls */

/* One pull per image at a time: concurrent Starts of one image share it.
 * The pull has its own context, bounded by pull_timeout and by a sliding
 * no-progress deadline that every progress message pushes forward; a
 * caller whose own context ends stops waiting, the pull goes on for the
 * others. Progress goes to every execution waiting on the pull, at most
 * every PULL_PROGRESS_INTERVAL_NS, and once more at its end. */
struct pull {
	struct dms_executor *ex;
	char *image;
	dms_context *ctx;
	int64_t total_deadline_ns;
	int64_t idle_ns;
	bool done;
	int rc;
	dms_error *err;
	int refs;    /* the puller and each waiter; under ex->mu */
	strv execs;  /* execution ids told about progress; under ex->mu */
	/* the pulling thread only: */
	int64_t last_report_ns;
	char *last_status;
	int64_t last_current, last_total;
	bool unreported; /* last_* changed since the last report */
	struct pull *next;
};

/* Adds (or with remove, drops) an execution id to p->execs; under ex->mu.
 * Best effort: without memory an execution just sees no progress. */
static void pull_watch_locked(struct pull *p, const char *execution_id, bool remove)
{
	size_t n = strv_len(p->execs);

	if (!execution_id)
		return;
	if (remove) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(p->execs[i], execution_id) == 0) {
				free(p->execs[i]);
				memmove(&p->execs[i], &p->execs[i + 1], (n - i) * sizeof(*p->execs));
				return;
			}
		return;
	}
	strv v = realloc(p->execs, (n + 2) * sizeof(*v));
	if (!v)
		return;
	p->execs = v;
	if ((v[n] = strdup(execution_id)))
		n++;
	v[n] = NULL;
}

static void pull_report(struct pull *p)
{
	struct dms_executor *ex = p->ex;

	pthread_mutex_lock(&ex->mu);
	dms_pull_progress_fn fn = ex->progress_fn;
	void *fn_ud = ex->progress_ud;
	strv ids = fn && p->execs ? strv_dup(p->execs) : NULL;
	pthread_mutex_unlock(&ex->mu);
	for (size_t i = 0; ids && ids[i]; i++)
		fn(fn_ud, ids[i], p->image, (uint64_t)(p->last_current > 0 ? p->last_current : 0),
		   (uint64_t)(p->last_total > 0 ? p->last_total : 0),
		   p->last_status ? p->last_status : "");
	strv_free(ids);
	p->unreported = false;
}

static void pull_progress(void *ud, const char *status, int64_t current, int64_t total)
{
	struct pull *p = ud;
	int64_t now = mono_now_ns();
	int64_t next = now + p->idle_ns;

	ctx_set_deadline_ns(p->ctx, next < p->total_deadline_ns ? next : p->total_deadline_ns);
	if (!status)
		return;
	if (!p->last_status || strcmp(p->last_status, status) != 0) {
		char *copy = strdup(status);
		if (copy) {
			free(p->last_status);
			p->last_status = copy;
		}
	}
	p->last_current = current;
	p->last_total = total;
	p->unreported = true;
	if (pull_progress_due(&p->last_report_ns, now))
		pull_report(p);
}

static void pull_unref_locked(struct pull *p)
{
	if (--p->refs > 0)
		return;
	free(p->image);
	ctx_free(p->ctx);
	err_free(p->err);
	strv_free(p->execs);
	free(p->last_status);
	free(p);
}

static int shared_pull(struct dms_executor *ex, dms_context *ctx, const char *image,
                       const char *execution_id, dms_error **err)
{
	int rc = 0;
	pthread_mutex_lock(&ex->mu);
	struct pull *p = ex->pulls;
	while (p && strcmp(p->image, image) != 0)
		p = p->next;
	if (p) { /* somebody pulls it already: wait for that */
		p->refs++;
		pull_watch_locked(p, execution_id, false);
		while (!p->done && (rc = ctx_cond_wait(ctx, &ex->cond, &ex->mu, INT64_MAX)) == 0)
			;
		pull_watch_locked(p, execution_id, true);
		if (p->done) {
			rc = p->rc;
			if (rc && err)
				*err = err_dup(p->err);
		} else {
			rc = err_set(err, rc, "image %s: gave up waiting for its pull", image);
		}
		pull_unref_locked(p);
		pthread_mutex_unlock(&ex->mu);
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->image = strdup(image)) || !(p->ctx = ctx_new(0))) {
		if (p)
			free(p->image);
		free(p);
		pthread_mutex_unlock(&ex->mu);
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	p->ex = ex;
	p->refs = 1;
	p->idle_ns = ex->cfg->pull_progress_timeout_ms * NS_PER_MS;
	p->total_deadline_ns = mono_now_ns() + ex->cfg->pull_timeout_ms * NS_PER_MS;
	pull_progress(p, NULL, 0, 0);
	pull_watch_locked(p, execution_id, false);
	p->next = ex->pulls;
	ex->pulls = p;
	pthread_mutex_unlock(&ex->mu);

	dms_error *e = NULL;
	char *auth = NULL;
	rc = registry_auth_for(ex->cfg, image, &auth, &e);
	if (rc == 0)
		rc = ex->rt_ops->image_pull(ex->rt, p->ctx, image, auth, pull_progress, p, &e);
	if (auth) /* a credential: do not leave it in freed memory */
		explicit_bzero(auth, strlen(auth));
	free(auth);
	if (rc == DMS_ERR_TIMEOUT) {
		bool total = mono_now_ns() >= p->total_deadline_ns;
		err_free(e);
		e = NULL;
		err_engine(&e, DMS_ERR_TIMEOUT, "image pull", image, NULL,
		           "image %s: pull %s %llds", image,
		           total ? "took longer than pull_timeout," : "made no progress for",
		           (long long)((total ? ex->cfg->pull_timeout_ms
		                              : ex->cfg->pull_progress_timeout_ms) / 1000));
	}
	/* The last word of a pull is always reported: a client's progress bar
	 * ends where the pull did, not up to 250 ms before. */
	if (p->unreported)
		pull_report(p);
	pthread_mutex_lock(&ex->mu);
	for (struct pull **pp = &ex->pulls; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->done = true;
	p->rc = rc;
	p->err = e;
	if (rc && err)
		*err = err_dup(e);
	pthread_cond_broadcast(&ex->cond);
	pull_unref_locked(p);
	pthread_mutex_unlock(&ex->mu);
	return rc;
}

int executor_set_pull_progress_handler(struct dms_executor *ex, dms_pull_progress_fn fn, void *ud)
{
	pthread_mutex_lock(&ex->mu);
	ex->progress_fn = fn;
	ex->progress_ud = ud;
	pthread_mutex_unlock(&ex->mu);
	return 0;
}

/* ------------------------------------------------------------- imports */

int executor_image_import(struct dms_executor *ex, dms_context *ctx, int fd, const char *reference,
                          char **image_id, dms_error **err)
{
	const char *why = NULL;
	struct stat st;
	int flags, rc;

	if (!reference || image_ref_check(reference, false, &why) != 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "reference: \"%s\" %s",
		               reference ? reference : "", why ? why : "is missing");
	if (fd < 0 || (flags = fcntl(fd, F_GETFL)) < 0 || fstat(fd, &st) != 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "tarball: not an open file descriptor");
	if ((flags & O_ACCMODE) == O_WRONLY)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "tarball: fd is not open for reading");
	if (S_ISDIR(st.st_mode))
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "tarball: fd is a directory, not a file");
	if (S_ISREG(st.st_mode) && st.st_size == 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "tarball: the file is empty");
	if (!RT_HAS(ex->rt_ops, image_import))
		return err_set(err, DMS_ERR_INTERNAL, "image import: the %s runtime cannot import",
		               ex->rt_ops->kind);
	if ((rc = ex->rt_ops->image_import(ex->rt, ctx, fd, reference, err)) != 0)
		return rc;
	if (RT_HAS(ex->rt_ops, image_id))
		return ex->rt_ops->image_id(ex->rt, ctx, reference, image_id, err);
	if (!(*image_id = strdup(reference)))
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	return 0;
}

static int ensure_image(struct dms_executor *ex, dms_context *ctx, const struct exec_request *req,
                        dms_error **err)
{
	const char *policy = req->pull_policy ? req->pull_policy : "if-not-present";
	bool present = false;
	int rc;
	if (strcmp(policy, "always") != 0) {
		rc = ex->rt_ops->image_present(ex->rt, ctx, req->image, &present, err);
		if (rc != 0 || present)
			return rc;
		if (strcmp(policy, "never") == 0)
			return err_engine(err, DMS_ERR_IMAGE, "image inspect", req->image, NULL,
			                  "image %s is not present and pull_policy is never",
			                  req->image);
	}
	return shared_pull(ex, ctx, req->image, req->execution_id, err);
}

/* Ends a Start that did not get the job running: the container (if any)
 * is removed, the handler fails (waiters learn why) and leaves the
 * registry, so the same execution id may be started again. */
static int fail_start(struct dms_executor *ex, struct handler *h, int rc, dms_error **err)
{
	pthread_mutex_lock(&h->mu);
	char *cid = h->container_id ? strdup(h->container_id) : NULL;
	bool cancelled = h->cancel_requested;
	pthread_mutex_unlock(&h->mu);
	if (cid)
		ex->rt_ops->container_remove(ex->rt, NULL, cid, true, NULL);
	free(cid);
	remove_own_network(ex, NULL, h);
	if (cancelled && (!err || !*err))
		rc = err_set(err, DMS_ERR_CANCELLED, "execution %s was cancelled before it started",
		             h->execution_id);
	dms_error *copy = err && *err ? err_dup(*err) : NULL;
	if (!copy)
		err_set(&copy, rc, "execution %s failed to start", h->execution_id);
	handler_transition(h, cancelled ? DMS_STATE_CANCELLED : DMS_STATE_FAILED, NULL, copy);
	state_remove(ex->jobs_dir, h->container_name);
	registry_remove(ex->reg, h);
	return rc;
}

/* After a create that failed: the engine may have created the container
 * and failed after (or its reply was lost), leaving one that no handler
 * tracks and that blocks the name — the idempotency key — for a retry.
 * The name is ours; remove what it names if it is this execution's and
 * never ran (best effort: when the engine is gone, the resync on
 * reconnect removes it). */
static void remove_created_by_name(struct dms_executor *ex, const struct handler *h)
{
	struct container_state st = {0};
	if (ex->rt_ops->container_inspect(ex->rt, NULL, h->container_name, &st, NULL) != 0)
		return;
	const char *owner = label_value(st.labels, LABEL_EXECUTOR);
	const char *exec_id = label_value(st.labels, LABEL_EXECUTION);
	if (st.id && st.status == CS_CREATED && owner && strcmp(owner, ex->id) == 0 && exec_id &&
	    strcmp(exec_id, h->execution_id) == 0)
		ex->rt_ops->container_remove(ex->rt, NULL, st.id, true, NULL);
	container_state_free(&st);
}

/* Start, handing out the handler (ref'd) for Run. */
static int start_handler(struct dms_executor *ex, dms_context *ctx, const char *text,
                         struct handler **out, dms_error **err)
{
	struct exec_request *req = NULL;
	int rc;
	if (!text)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "request: required");
	if ((rc = request_parse(text, strlen(text), &req, err)) != 0)
		return rc;
	char *name = labels_container_name(ex->id, req->execution_id);
	struct handler *h = name ? handler_new(req->execution_id, req->job_id, name, req, request_free,
	                                       on_handler_change, ex)
	                         : NULL;
	free(name);
	if (!h) {
		request_free(req);
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	struct handler *old = NULL;
	if (registry_insert(ex->reg, h, &old) != 0) {
		pthread_mutex_lock(&old->mu);
		bool final = handler_state_final(old->state);
		pthread_mutex_unlock(&old->mu);
		rc = err_engine(err, final ? DMS_ERR_ALREADY_FINISHED : DMS_ERR_ALREADY_STARTED, NULL,
		                old->execution_id, NULL, "execution %s %s", old->execution_id,
		                final ? "already finished" : "is already started");
		handler_unref(old);
		handler_unref(h);
		return rc;
	}
	strv labels = NULL;
	char *cid = NULL;
	if ((rc = results_dir_prepare(req, err)) != 0 || (rc = ensure_image(ex, ctx, req, err)) != 0)
		goto fail;
	if (!(labels = build_labels(ex, req))) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	int64_t stop_ms = req->stop_timeout_ms >= 0 ? req->stop_timeout_ms : ex->cfg->stop_timeout_ms;
	struct container_spec spec = {
		.name = h->container_name,
		.req = req,
		.labels = labels,
		.stop_signal = stop_signal_of(ex, h),
		.stop_timeout_s = (int)((stop_ms + 999) / 1000),
		.network = wants_own_network(req) ? h->container_name : NULL,
	};
	if (spec.network &&
	    (rc = ex->rt_ops->network_create(ex->rt, ctx, spec.network, labels, false, NULL, err)) !=
	        0)
		goto fail;
	if ((rc = ex->rt_ops->container_create(ex->rt, ctx, &spec, &cid, err)) != 0) {
		if (rc != DMS_ERR_INVALID_ARGUMENT && rc != DMS_ERR_IMAGE)
			remove_created_by_name(ex, h);
		goto fail;
	}
	pthread_mutex_lock(&h->mu);
	h->container_id = cid;
	h->tty = req->tty;
	bool cancelled = h->cancel_requested;
	pthread_mutex_unlock(&h->mu);
	/* One inspect: the engine's account of what it applied (verify.h). */
	struct container_state applied = {0};
	if ((rc = ex->rt_ops->container_inspect(ex->rt, ctx, cid, &applied, err)) == 0)
		rc = verify_settings(&spec, &applied.settings, err);
	container_state_free(&applied);
	if (rc != 0)
		goto fail;
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	if (!cancelled && ex->n_watchers > 0 && watch_begin(ex, ctx, h)) {
		pthread_mutex_lock(&h->mu);
		cancelled = h->cancel_requested;
		pthread_mutex_unlock(&h->mu);
	}
	if (cancelled) {
		rc = DMS_ERR_CANCELLED;
		goto fail;
	}
	if ((rc = ex->rt_ops->container_start(ex->rt, ctx, cid, err)) != 0)
		goto fail;
	watch_started(ex, h);
	pthread_mutex_lock(&h->mu);
	h->started_mono_ns = mono_now_ns();
	if (req->timeout_ms > 0)
		h->deadline_mono_ns = h->started_mono_ns + req->timeout_ms * NS_PER_MS;
	pthread_mutex_unlock(&h->mu);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	/* A host crash before this line leaves a labelled container the
	 * resync adopts (or removes, if it never started): no record needed. */
	save_state(ex, h);
	if (req->timeout_ms > 0) { /* the janitor plans the new deadline */
		pthread_mutex_lock(&ex->mu);
		pthread_cond_broadcast(&ex->cond);
		pthread_mutex_unlock(&ex->mu);
	}
	/* A Cancel that arrived while we were starting finds RUNNING now and
	 * stops it itself; nothing more to do here. */
	strv_free(labels);
	*out = h;
	return 0;
fail:
	strv_free(labels);
	rc = fail_start(ex, h, rc, err);
	handler_unref(h);
	return rc;
}

int executor_start(struct dms_executor *ex, dms_context *ctx, const char *request,
                   dms_error **err)
{
	struct handler *h = NULL;
	int rc = start_handler(ex, ctx, request, &h, err);
	handler_unref(h);
	return rc;
}

static int lookup(struct dms_executor *ex, const char *execution_id, struct handler **out,
                  dms_error **err)
{
	*out = NULL; /* callers unref it whatever the outcome */
	if (!execution_id || !*execution_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "execution_id: required");
	*out = registry_get(ex->reg, execution_id);
	if (!*out)
		return err_engine(err, DMS_ERR_NOT_FOUND, NULL, execution_id, NULL,
		                  "execution %s not found", execution_id);
	return 0;
}

int executor_wait(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  char **result_json, dms_error **err)
{
	struct handler *h;
	int rc = lookup(ex, execution_id, &h, err);
	if (rc == 0)
		rc = handler_wait(h, ctx, result_json, err);
	handler_unref(h);
	return rc;
}

int executor_wait_async(struct dms_executor *ex, const char *execution_id, dms_wait_fn fn,
                        void *ud, dms_error **err)
{
	struct handler *h;
	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "wait_async: callback required");
	int rc = lookup(ex, execution_id, &h, err);
	if (rc == 0)
		handler_add_waiter(h, fn, ud);
	handler_unref(h);
	return rc;
}

int executor_cancel(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err)
{
	struct handler *h;
	int rc = lookup(ex, execution_id, &h, err);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&h->mu);
	if (handler_state_final(h->state)) {
		pthread_mutex_unlock(&h->mu);
		handler_unref(h);
		return 0; /* harmless; the result stays as it was */
	}
	if (h->state < DMS_STATE_RUNNING) {
		/* The starter sees the flag and aborts; wait for it to decide. */
		h->cancel_requested = true;
		if (!h->cancel_reason)
			h->cancel_reason = strdup("cancelled");
		while (h->state < DMS_STATE_RUNNING && rc == 0)
			rc = ctx_cond_wait(ctx, &h->cond, &h->mu, INT64_MAX);
	}
	if (rc == 0 && h->state == DMS_STATE_RUNNING) {
		begin_stop_locked(ex, h, "cancelled");
		/* Return once the container stopped: its exit was seen. */
		pthread_mutex_lock(&h->mu);
		int64_t until = mono_now_ns() + stop_timeout_ns_of(ex, h) + CANCEL_EXTRA_WAIT_NS;
		while (!h->exit_seen && !handler_state_final(h->state) && rc == 0)
			rc = ctx_cond_wait(ctx, &h->cond, &h->mu, until);
	}
	pthread_mutex_unlock(&h->mu);
	if (rc != 0)
		rc = err_set(err, rc, "cancel %s: %s", execution_id,
		             rc == DMS_ERR_TIMEOUT ? "the container did not stop in time"
		                                   : "interrupted");
	handler_unref(h);
	return rc;
}

int executor_run(struct dms_executor *ex, dms_context *ctx, const char *request,
                 char **result_json, dms_error **err)
{
	struct handler *h = NULL;
	int rc = start_handler(ex, ctx, request, &h, err);
	if (rc != 0)
		return rc;
	char *json = NULL;
	rc = handler_wait(h, ctx, &json, err);
	if (rc == DMS_ERR_CANCELLED || rc == DMS_ERR_TIMEOUT) {
		/* The caller gave up on Run: the job is Run's, so it ends too. */
		executor_cancel(ex, NULL, h->execution_id, NULL);
	} else if (rc == 0) {
		pthread_mutex_lock(&h->mu);
		bool cancelled = h->state == DMS_STATE_CANCELLED;
		char *reason = h->cancel_reason ? strdup(h->cancel_reason) : NULL;
		pthread_mutex_unlock(&h->mu);
		if (cancelled) {
			rc = err_engine(err, DMS_ERR_CANCELLED, NULL, h->execution_id, NULL,
			                "execution %s was cancelled: %s", h->execution_id,
			                reason ? reason : "cancelled");
			free(json);
			json = NULL;
		}
		free(reason);
	}
	if (rc == 0)
		*result_json = json;
	handler_unref(h);
	return rc;
}

int executor_get_log_stream(struct dms_executor *ex, dms_context *ctx, const char *request,
                            int *fd_out, dms_error **err)
{
	(void)ctx;
	struct log_request *lr = NULL;
	if (!request)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "request: required");
	int rc = log_request_parse(request, strlen(request), &lr, err);
	if (rc != 0)
		return rc;
	struct handler *h;
	rc = lookup(ex, lr->execution_id, &h, err);
	if (rc == 0)
		rc = logs_open_stream(ex, h, lr, fd_out, err);
	handler_unref(h);
	log_request_free(lr);
	return rc;
}

/* Marks live executions as cancelled by Cleanup so their results say so. */
static bool cleanup_mark(void *ud, struct handler *h)
{
	(void)ud;
	pthread_mutex_lock(&h->mu);
	if (!handler_state_final(h->state) && !h->cancel_requested) {
		h->cancel_requested = true;
		h->cancel_reason = strdup("removed by Cleanup");
	}
	pthread_mutex_unlock(&h->mu);
	return false;
}

int executor_cleanup(struct dms_executor *ex, dms_context *ctx, dms_error **err)
{
	static const enum runtime_object order[] = {RT_OBJ_CONTAINER, RT_OBJ_NETWORK,
	                                            RT_OBJ_VOLUME};
	registry_foreach(ex->reg, cleanup_mark, NULL);
	int first_rc = 0;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		strv ids = NULL;
		dms_error *e = NULL;
		int rc = ex->rt_ops->object_list(ex->rt, ctx, order[k], ex->label, &ids, &e);
		for (size_t i = 0; rc == 0 && ids && ids[i]; i++) {
			if (order[k] == RT_OBJ_CONTAINER)
				rc = ex->rt_ops->container_remove(ex->rt, ctx, ids[i], true, &e);
			else
				rc = ex->rt_ops->object_remove(ex->rt, ctx, order[k], ids[i], &e);
		}
		strv_free(ids);
		if (rc != 0 && first_rc == 0) {
			first_rc = rc;
			if (err)
				*err = e;
			e = NULL;
		}
		err_free(e);
	}
	/* The removed containers' die events (or the next resync) finish
	 * their handlers; waiters get results marked cancelled. */
	return first_rc ? err_wrap(err, first_rc, "cleanup of executor %s", ex->id) : 0;
}

struct list_ctx {
	yajl_gen g;
};

static bool list_one(void *ud, struct handler *h)
{
	struct list_ctx *lc = ud;
	pthread_mutex_lock(&h->mu);
	yajl_gen_map_open(lc->g);
	gen_str(lc->g, "execution_id");
	gen_str(lc->g, h->execution_id);
	gen_str(lc->g, "job_id");
	gen_str(lc->g, h->job_id);
	gen_str(lc->g, "state");
	gen_str(lc->g, dms_state_name(h->state));
	gen_str(lc->g, "container_id");
	gen_str(lc->g, h->container_id);
	yajl_gen_map_close(lc->g);
	pthread_mutex_unlock(&h->mu);
	return false;
}

int executor_list(struct dms_executor *ex, char **list_json, dms_error **err)
{
	cleanup_yajl_gen yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	struct list_ctx lc = {.g = g};
	yajl_gen_array_open(g);
	registry_foreach(ex->reg, list_one, &lc);
	yajl_gen_array_close(g);
	if (!(*list_json = gen_finish(g)))
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	return 0;
}
