/* ctl_backend.c — dmsctl's choice of backend (ctl.h): the bus one when a
 * dms-host owns org.dms.Executor, else the embedded one; made once, in
 * ctl_backend_open, after which every call goes through the chosen
 * operation table (ctl_backend_internal.h). */
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "ctl_backend_internal.h"
#include "util.h"

void ctl_error_clear(struct ctl_error *e)
{
	free(e->name);
	free(e->message);
	e->name = NULL;
	e->message = NULL;
}

int ctl_set_error(struct ctl_error *e, const char *name, const char *message)
{
	ctl_error_clear(e);
	e->name = host_strdup(name);
	e->message = host_strdup(message);
	return -1;
}

int ctl_backend_open(const struct ctl_options *o, struct ctl_backend **out, struct ctl_error *err)
{
	bool no_host = true;

	dbus_threads_init_default();
	if (!o->embedded_only && ctl_bus_open(o, out, &no_host, err) == 0)
		return 0;
	if (no_host && ctl_embedded_open(o, out, err) == 0)
		return 0;
	return -1;
}

void ctl_backend_close(struct ctl_backend *b)
{
	if (b)
		b->ops->close(b);
}

bool ctl_backend_embedded(const struct ctl_backend *b)
{
	return b->ops->embedded;
}

void ctl_set_progress_handler(struct ctl_backend *b, ctl_progress_fn fn, void *ud)
{
	b->progress_fn = fn;
	b->progress_ud = ud;
	b->ops->watch_progress(b, fn != NULL);
}

int ctl_is_installed(struct ctl_backend *b, bool *installed, char **info_json,
                     struct ctl_error *err)
{
	return b->ops->is_installed(b, installed, info_json, err);
}

int ctl_start(struct ctl_backend *b, const char *request, char **execution_id,
              struct ctl_error *err)
{
	return b->ops->start(b, request, execution_id, err);
}

int ctl_wait(struct ctl_backend *b, const char *execution_id, char **result_json,
             struct ctl_error *err)
{
	return b->ops->wait(b, execution_id, result_json, err);
}

int ctl_cancel(struct ctl_backend *b, const char *execution_id, struct ctl_error *err)
{
	return b->ops->cancel(b, execution_id, err);
}

int ctl_log_stream(struct ctl_backend *b, const char *request, int *fd, struct ctl_error *err)
{
	return b->ops->log_stream(b, request, fd, err);
}

int ctl_cleanup(struct ctl_backend *b, struct ctl_error *err)
{
	return b->ops->cleanup(b, err);
}

int ctl_list(struct ctl_backend *b, char **list_json, struct ctl_error *err)
{
	return b->ops->list(b, list_json, err);
}

int ctl_image_import(struct ctl_backend *b, int fd, const char *reference, char **image_id,
                     struct ctl_error *err)
{
	return b->ops->image_import(b, fd, reference, image_id, err);
}

int ctl_live(struct ctl_backend *b, enum ctl_live_op op, const char *execution_id, const char *arg,
             char **out_json, struct ctl_error *err)
{
	return b->ops->live(b, op, execution_id, arg, out_json, err);
}

int ctl_stats_stream(struct ctl_backend *b, const char *execution_id, int *fd,
                     struct ctl_error *err)
{
	return b->ops->stats_stream(b, execution_id, fd, err);
}

int ctl_exec(struct ctl_backend *b, const char *execution_id, const char *request, int *fd,
             char **exec_id, struct ctl_error *err)
{
	return b->ops->exec(b, execution_id, request, fd, exec_id, err);
}

int ctl_exec_resize(struct ctl_backend *b, const char *exec_id, uint32_t rows, uint32_t cols,
                    struct ctl_error *err)
{
	return b->ops->exec_resize(b, exec_id, rows, cols, err);
}

int ctl_exec_wait(struct ctl_backend *b, const char *exec_id, int *exit_code, struct ctl_error *err)
{
	return b->ops->exec_wait(b, exec_id, exit_code, err);
}
