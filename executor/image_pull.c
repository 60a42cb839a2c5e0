/* image_pull.c — images: the request's image made present as its
 * pull_policy says, one pull per image at a time shared by the Starts that
 * need it, with its own deadlines and its progress reported to every
 * execution waiting on it; and image_import (docs/architecture.md,
 * "Images"). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "error.h"
#include "executor_internal.h"
#include "image_ref.h"
#include "pull_progress.h"
#include "registry_auth.h"

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
	int refs;   /* the puller and each waiter; under ex->mu */
	strv execs; /* execution ids told about progress; under ex->mu */
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
				memmove(&p->execs[i], &p->execs[i + 1],
				        (n - i) * sizeof(*p->execs));
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
		                              : ex->cfg->pull_progress_timeout_ms) /
		                       1000));
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
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "tarball: not an open file descriptor");
	if ((flags & O_ACCMODE) == O_WRONLY)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "tarball: fd is not open for reading");
	if (S_ISDIR(st.st_mode))
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "tarball: fd is a directory, not a file");
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

int executor_ensure_image(struct dms_executor *ex, dms_context *ctx, const struct exec_request *req,
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
