/* ctl_embedded.c — dmsctl's embedded backend (ctl_backend_internal.h): the
 * plugin loaded in-process when nobody owns org.dms.Executor, answering
 * with the same error names dms-host would send. */
#include <stdlib.h>

#include <dbus/dbus.h>

#include "bus_names.h"
#include "ctl_backend_internal.h"
#include "plugin.h"
#include "util.h"

#define SHORT_CALL_MS (120 * 1000)

struct ctl_embedded {
	struct ctl_backend base;
	struct host_plugin *plugin;
	dms_executor *ex;
};

static struct ctl_embedded *emb_of(struct ctl_backend *b)
{
	return (struct ctl_embedded *)b;
}

static const dms_executor_ops *ops_of(struct ctl_backend *b)
{
	return emb_of(b)->plugin->desc->ops;
}

/* The error name dms-host would send for (rc, de); frees de. */
static int plugin_error(const dms_executor_ops *ops, int rc, dms_error *de, struct ctl_error *e)
{
	int category = de && de->category != DMS_OK ? (int)de->category : rc;
	char *text = de ? host_error_text(de) : host_strdup(dms_status_name(category));

	ctl_error_clear(e);
	e->name = host_strdup(bus_error_name(category));
	e->message = text;
	ops->error_free(de);
	return -1;
}

/* A string the plugin handed out, as the caller's own copy. */
static int take_string(const dms_executor_ops *ops, char *s, char **out)
{
	*out = host_strdup(s);
	ops->string_free(s);
	return 0;
}

static void emb_close(struct ctl_backend *b)
{
	struct ctl_embedded *m = emb_of(b);

	if (m->plugin) {
		m->plugin->desc->ops->destroy(m->ex);
		host_plugin_unload(m->plugin);
	}
	free(m);
}

static int emb_is_installed(struct ctl_backend *b, bool *installed, char **info_json,
                            struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_context *ctx = ops->context_new(SHORT_CALL_MS);
	dms_error *de = NULL;
	char *info = NULL;
	int rc = ops->is_installed(emb_of(b)->ex, ctx, installed, &info, &de);

	ops->context_free(ctx);
	if (rc != DMS_OK)
		return plugin_error(ops, rc, de, err);
	if (!info)
		*info_json = host_strdup("{}");
	else
		take_string(ops, info, info_json);
	return 0;
}

static int emb_start(struct ctl_backend *b, const char *request, char **execution_id,
                     struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;
	char *id = NULL;
	int rc = DMS_OP_AVAILABLE(ops, start_job)
	             ? ops->start_job(emb_of(b)->ex, NULL, request, &id, &de)
	             : ops->start(emb_of(b)->ex, NULL, request, &de);

	if (rc != DMS_OK)
		return plugin_error(ops, rc, de, err);
	return take_string(ops, id, execution_id);
}

static int emb_wait(struct ctl_backend *b, const char *execution_id, char **result_json,
                    struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;
	char *res = NULL;
	int rc = ops->wait(emb_of(b)->ex, NULL, execution_id, &res, &de);

	return rc == DMS_OK ? take_string(ops, res, result_json) : plugin_error(ops, rc, de, err);
}

static int emb_cancel(struct ctl_backend *b, const char *execution_id, struct ctl_error *err)
{
	dms_error *de = NULL;
	int rc = ops_of(b)->cancel(emb_of(b)->ex, NULL, execution_id, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops_of(b), rc, de, err);
}

static int emb_log_stream(struct ctl_backend *b, const char *request, int *fd,
                          struct ctl_error *err)
{
	dms_error *de = NULL;
	int rc = ops_of(b)->get_log_stream(emb_of(b)->ex, NULL, request, fd, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops_of(b), rc, de, err);
}

static int emb_cleanup(struct ctl_backend *b, struct ctl_error *err)
{
	dms_error *de = NULL;
	int rc = ops_of(b)->cleanup(emb_of(b)->ex, NULL, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops_of(b), rc, de, err);
}

static int emb_list(struct ctl_backend *b, char **list_json, struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;
	char *res = NULL;

	if (!DMS_OP_AVAILABLE(ops, list))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement List");
	int rc = ops->list(emb_of(b)->ex, &res, &de);

	return rc == DMS_OK ? take_string(ops, res, list_json) : plugin_error(ops, rc, de, err);
}

static int emb_image_import(struct ctl_backend *b, int fd, const char *reference, char **image_id,
                            struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;
	char *id = NULL;

	if (!DMS_OP_AVAILABLE(ops, image_import))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement image import");
	int rc = ops->image_import(emb_of(b)->ex, NULL, fd, reference, &id, &de);

	return rc == DMS_OK ? take_string(ops, id, image_id) : plugin_error(ops, rc, de, err);
}

static int emb_live(struct ctl_backend *b, enum ctl_live_op op, const char *execution_id,
                    const char *arg, char **out_json, struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_executor *ex = emb_of(b)->ex;
	dms_error *de = NULL;
	char *res = NULL;
	bool have;
	int rc = DMS_OK;

	switch (op) {
	case CTL_LIVE_SIGNAL:
		if ((have = DMS_OP_AVAILABLE(ops, signal)))
			rc = ops->signal(ex, NULL, execution_id, arg, &de);
		break;
	case CTL_LIVE_PAUSE:
		if ((have = DMS_OP_AVAILABLE(ops, pause)))
			rc = ops->pause(ex, NULL, execution_id, &de);
		break;
	case CTL_LIVE_RESUME:
		if ((have = DMS_OP_AVAILABLE(ops, resume)))
			rc = ops->resume(ex, NULL, execution_id, &de);
		break;
	case CTL_LIVE_STATS:
		if ((have = DMS_OP_AVAILABLE(ops, stats)))
			rc = ops->stats(ex, NULL, execution_id, &res, &de);
		break;
	default:
		if ((have = DMS_OP_AVAILABLE(ops, inspect)))
			rc = ops->inspect(ex, NULL, execution_id, &res, &de);
		break;
	}
	if (!have)
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement this live operation");
	if (rc != DMS_OK)
		return plugin_error(ops, rc, de, err);
	if (res)
		return take_string(ops, res, out_json);
	return 0;
}

static int emb_stats_stream(struct ctl_backend *b, const char *execution_id, int *fd,
                            struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;

	if (!DMS_OP_AVAILABLE(ops, stats_stream))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement the stats stream");
	int rc = ops->stats_stream(emb_of(b)->ex, NULL, execution_id, fd, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops, rc, de, err);
}

static int emb_exec(struct ctl_backend *b, const char *execution_id, const char *request, int *fd,
                    char **exec_id, struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;
	char *id = NULL;

	if (!DMS_OP_AVAILABLE(ops, exec))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement exec");
	int rc = ops->exec(emb_of(b)->ex, NULL, execution_id, request, fd, &id, &de);

	return rc == DMS_OK ? take_string(ops, id, exec_id) : plugin_error(ops, rc, de, err);
}

static int emb_exec_resize(struct ctl_backend *b, const char *exec_id, uint32_t rows, uint32_t cols,
                           struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;

	if (!DMS_OP_AVAILABLE(ops, exec_resize))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement exec resize");
	int rc = ops->exec_resize(emb_of(b)->ex, NULL, exec_id, rows, cols, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops, rc, de, err);
}

static int emb_exec_wait(struct ctl_backend *b, const char *exec_id, int *exit_code,
                         struct ctl_error *err)
{
	const dms_executor_ops *ops = ops_of(b);
	dms_error *de = NULL;

	if (!DMS_OP_AVAILABLE(ops, exec_wait))
		return ctl_set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                     "the plugin does not implement exec wait");
	int rc = ops->exec_wait(emb_of(b)->ex, NULL, exec_id, exit_code, &de);

	return rc == DMS_OK ? 0 : plugin_error(ops, rc, de, err);
}

static void embedded_progress(void *ud, const char *execution_id, const char *image,
                              uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct ctl_backend *b = ud;

	if (b->progress_fn)
		b->progress_fn(b->progress_ud, execution_id, image, current_bytes, total_bytes,
		               status);
}

static void emb_watch_progress(struct ctl_backend *b, bool on)
{
	const dms_executor_ops *ops = ops_of(b);

	if (DMS_OP_AVAILABLE(ops, set_pull_progress_handler))
		ops->set_pull_progress_handler(emb_of(b)->ex, on ? embedded_progress : NULL, b);
}

static const struct ctl_backend_ops embedded_ops = {
    .embedded = true,
    .close = emb_close,
    .is_installed = emb_is_installed,
    .start = emb_start,
    .wait = emb_wait,
    .cancel = emb_cancel,
    .log_stream = emb_log_stream,
    .cleanup = emb_cleanup,
    .list = emb_list,
    .image_import = emb_image_import,
    .live = emb_live,
    .stats_stream = emb_stats_stream,
    .exec = emb_exec,
    .exec_resize = emb_exec_resize,
    .exec_wait = emb_exec_wait,
    .watch_progress = emb_watch_progress,
};

int ctl_embedded_open(const struct ctl_options *o, struct ctl_backend **out, struct ctl_error *err)
{
	struct ctl_embedded *m = host_calloc(1, sizeof(*m));
	char *path = o->plugin_path ? host_strdup(o->plugin_path) : host_default_plugin_path();
	char *why = NULL;
	dms_error *de = NULL;
	int rc;

	m->base.ops = &embedded_ops;
	rc = host_plugin_load(path, &m->plugin, &why);
	free(path);
	if (rc < 0) {
		ctl_set_error(err, bus_error_name(DMS_ERR_RUNTIME_UNAVAILABLE), why);
		free(why);
		free(m);
		return -1;
	}
	rc = m->plugin->desc->ops->new_executor(o->executor_id, o->config, &m->ex, &de);
	if (rc != DMS_OK) {
		plugin_error(m->plugin->desc->ops, rc, de, err);
		host_plugin_unload(m->plugin);
		free(m);
		return -1;
	}
	*out = &m->base;
	return 0;
}
