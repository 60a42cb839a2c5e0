/* harvest.c — what happens once a job's exit was seen: its harvest, on a
 * worker thread. The container is inspected and its log read once
 * (non-follow, after the exit: lossless; docs/architecture.md, "Exit
 * detection") into the capped result, the on-disk spool and the
 * results_dir files, stopping once none of them can take more; then the
 * handler finishes and the container is queued for removal, unless a log
 * stream still reads it (the last one queues it then). A harvest that
 * cannot tell yet (engine unreachable, container still running) is
 * deferred to the next relist, never turned into a false exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demux.h"
#include "error.h"
#include "executor_internal.h"
#include "result.h"
#include "results_dir.h"
#include "spool.h"

char *executor_spool_path(struct dms_executor *ex, const struct handler *h)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s.log", ex->spool_dir, h->container_name) < 0)
		return NULL;
	return path;
}

/* Not now: the engine did not answer (or still runs the container), or the
 * harvest could not even be queued. The exit is forgotten so that a relist
 * finds it again — right away when the event stream said so, at the
 * janitor's next tick otherwise; never a false "exited". */
static void defer_harvest(struct dms_executor *ex, struct handler *h, bool at_once)
{
	handler_defer_harvest(h);
	pthread_mutex_lock(&ex->mu);
	if (at_once)
		ex->resync_needed = true;
	else
		ex->resync_on_tick = true;
	pthread_mutex_unlock(&ex->mu);
}

bool executor_mark_exited(struct dms_executor *ex, struct handler *h, const char *container_id,
                          int exit_code)
{
	if (!handler_note_exit(h, container_id, exit_code))
		return false;
	if (executor_queue_harvest(ex, h))
		return true;
	/* Out of memory: the job must not stay RUNNING with its exit marked
	 * seen, which the relist and the janitor skip. Unseen again, the next
	 * tick's relist sees it exited and queues it once more. */
	defer_harvest(ex, h, false);
	return false;
}

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
	return !hs->files ||
	       (hs->files->truncated[DEMUX_STDOUT] && hs->files->truncated[DEMUX_STDERR]);
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

static bool engine_unreachable(int rc)
{
	return rc == DMS_ERR_RUNTIME_UNAVAILABLE || rc == DMS_ERR_CANCELLED ||
	       rc == DMS_ERR_TIMEOUT;
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
                   struct exec_result *res, char **spool_path, bool *spool_whole, int *failure,
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
	*failure = st.failure;
	container_state_free(&st);
	if (*failure) /* it never ran, or where it ran is gone: no log to read */
		return 0;

	struct spool *sp = NULL;
	*spool_path = executor_spool_path(ex, h);
	if (*spool_path && spool_create(*spool_path, ex->cfg->log_spool_limit, &sp, NULL) != 0) {
		free(*spool_path);
		*spool_path = NULL;
	}
	struct results_files files;
	const char *rdir = h->req ? h->req->results_dir : NULL;
	bool have_files =
	    rdir && results_files_open(&files, rdir, ex->cfg->results_file_limit, NULL) == 0;
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

/* After the result was delivered: the container goes now, or (a follower
 * still reading it: a slow reader, or a runtime completing the engine's
 * follow stream) when the last such reader is done. */
static void remove_after_harvest(struct dms_executor *ex, struct handler *h, const char *cid)
{
	if (handler_removal_request(h))
		executor_queue_removal(ex, executor_wants_own_network(h->req) ? h : NULL, cid);
}

void executor_harvest(struct dms_executor *ex, struct handler *h)
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
	int failure = 0;
	dms_error *e = NULL;
	int rc = cid ? collect(ex, h, cid, &res, &spool_path, &spool_whole, &failure, &e)
	             : DMS_ERR_RESOURCE;
	bool remove = rc == 0;
	if (engine_unreachable(rc) || rc == DMS_ERR_CONTAINER) {
		defer_harvest(ex, h, true);
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

	dms_error *fail = NULL;
	if (failure && !cancelled) {
		/* The runtime's account of a job that failed without an exit
		 * code of its own (a swarm task rejected, orphaned, on a node
		 * gone down, or pending too long): FAILED, and why. */
		final = DMS_STATE_FAILED;
		err_engine(&fail, failure, NULL, h->execution_id, NULL, "execution %s: %s",
		           h->execution_id, res.error_msg ? res.error_msg : "failed");
	}
	char *json = result_to_json(&res);
	handler_mark_harvested(h, spool_path);
	if (spool_whole)
		logs_harvested(ex, h);
	/* Any harvest means the job ran: make sure RUNNING was reported first,
	 * even if the die event overtook the starter's own transition. */
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	if (!json && !fail)
		err_set(&fail, DMS_ERR_RESOURCE, "out of memory building the result");
	handler_transition(h, json ? final : DMS_STATE_FAILED, json, fail);
	executor_save_state(ex, h);
	if (remove)
		remove_after_harvest(ex, h, cid);
out:
	err_free(e);
	result_free(&res);
	free(reason);
	free(cid);
}

void executor_engine_reader_done(struct dms_executor *ex, struct handler *h)
{
	char *cid = handler_reader_leave(h);
	pthread_mutex_lock(&ex->mu);
	bool stopping = ex->stopping; /* then Cleanup or recovery removes it */
	pthread_mutex_unlock(&ex->mu);
	if (cid && !stopping)
		executor_queue_removal(ex, executor_wants_own_network(h->req) ? h : NULL, cid);
	free(cid);
}
