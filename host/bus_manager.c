/* bus_manager.c — org.dms.ExecutorManager1 on /org/dms/Executor: creating
 * executors (plugin selection, the runtime probe), listing and removing
 * them (bus_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define RUNTIME_PROBE_TIMEOUT_MS 5000

/* A top-level "plugin: NAME" line of the config selects the plugin by
 * descriptor name, file name or path; the line is consumed by the host
 * (the executor's config parser rejects unknown keys). */
static struct host_plugin *select_plugin(struct bus_host *h, const char *config, char **config_out,
                                         char **why)
{
	char *want;

	*config_out = host_strdup(config);
	want = host_config_take_key(*config_out, "plugin");
	if (!want)
		return h->cfg->plugins[0];
	for (size_t i = 0; i < h->cfg->n_plugins; i++) {
		struct host_plugin *p = h->cfg->plugins[i];
		const char *base = strrchr(p->path, '/');
		if (strcmp(want, p->desc->name) == 0 || strcmp(want, p->path) == 0 ||
		    (base && strcmp(want, base + 1) == 0)) {
			free(want);
			return p;
		}
	}
	*why = host_asprintf("plugin: no loaded plugin is named \"%s\"", want);
	free(want);
	free(*config_out);
	*config_out = NULL;
	return NULL;
}

/* The Runtime property: what the engine says it is, asked after NewExecutor
 * replied. The fingerprint costs /version and /info, and Podman's /libpod/info
 * took 3–6 s on a loaded machine here: NewExecutor (and every caller queued
 * behind create_lock) waited for it. Until it answers, Runtime is empty, as
 * for an engine that is down; IsInstalled refreshes it too. */
static void exe_probe_runtime_task(void *arg)
{
	struct bus_executor *e = arg;
	const dms_executor_ops *ops = ops_of(e);
	dms_context *ctx = ops->context_new(RUNTIME_PROBE_TIMEOUT_MS);
	dms_error *err = NULL;
	bool installed = false;
	char *info = NULL;

	if (ops->is_installed(e->ex, ctx, &installed, &info, &err) == DMS_OK) {
		bus_exe_set_runtime(e, info);
		ops->string_free(info);
	} else {
		ops->error_free(err);
	}
	ops->context_free(ctx);
	bus_exe_unref(e);
}

int bus_manager_create_executor(struct bus_host *h, const char *id, const char *config,
                                uint32_t owner_uid, char **path_out, char **why)
{
	struct bus_executor *e;
	struct host_plugin *plugin;
	dms_executor *ex = NULL;
	dms_error *err = NULL;
	char *cfg_text = NULL, *el;
	int rc;

	pthread_mutex_lock(&h->create_lock);
	e = bus_exe_lookup(h, id, NULL);
	if (e) {
		/* The first creator stays the owner: another uid may not take an
		 * existing executor (nor learn its config) by creating it again. */
		if (e->owner_uid != BUS_OWNER_NONE && owner_uid != 0 && owner_uid != e->owner_uid) {
			*why =
			    host_asprintf("executor \"%s\" already exists and belongs to uid %u: "
			                  "only its creator and root may use it (caller uid %u)",
			                  id, e->owner_uid, owner_uid);
			bus_exe_unref(e);
			rc = BUS_CREATE_DENIED;
			goto out;
		}
		/* Idempotent for the same config: racing clients both succeed. */
		rc = strcmp(e->config, config) == 0 ? DMS_OK : DMS_ERR_INVALID_ARGUMENT;
		if (rc == DMS_OK)
			*path_out = host_strdup(e->path);
		else
			*why = host_asprintf("executor \"%s\" already exists (at %s) with another "
			                     "config; RemoveExecutor it first",
			                     id, e->path);
		bus_exe_unref(e);
		goto out;
	}
	plugin = select_plugin(h, config, &cfg_text, why);
	if (!plugin) {
		rc = DMS_ERR_CONFIG;
		goto out;
	}
	const dms_executor_ops *ops = plugin->desc->ops;
	rc = ops->new_executor(id, cfg_text, &ex, &err);
	if (rc != DMS_OK) {
		*why = host_error_text(err);
		rc = err && err->category ? (int)err->category : rc;
		ops->error_free(err);
		goto out;
	}
	e = host_calloc(1, sizeof(*e));
	metrics_executors_add(1); /* its destroy takes it back */
	atomic_init(&e->refs, 1);
	pthread_mutex_init(&e->lock, NULL);
	e->host = h;
	e->plugin = plugin;
	e->ex = ex;
	e->id = host_strdup(id);
	e->config = host_strdup(config);
	e->owner_uid = owner_uid;
	el = host_escape_path_element(id);
	e->path = host_asprintf("%s/%s", BUS_MANAGER_PATH, el);
	free(el);
	rc = ops->set_event_handler(ex, bus_executor_on_event, e);
	if (rc != DMS_OK) {
		*why = host_strdup("the plugin refused the event handler");
		goto fail;
	}
	if (DMS_OP_AVAILABLE(ops, set_pull_progress_handler))
		ops->set_pull_progress_handler(ex, bus_executor_on_pull_progress, e);
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		pthread_mutex_unlock(&h->lock);
		rc = DMS_ERR_CANCELLED;
		*why = host_strdup("dms-host is shutting down");
		goto fail;
	}
	e->next = h->executors;
	h->executors = e;
	pthread_mutex_unlock(&h->lock);
	host_pool_submit(h->pool, exe_probe_runtime_task, bus_exe_ref(e));
	if (owner_uid == BUS_OWNER_NONE)
		hlog(HLOG_INFO, id, NULL, "created (plugin %s), shared", plugin->desc->name);
	else
		hlog(HLOG_INFO, id, NULL, "created (plugin %s) by uid %u", plugin->desc->name,
		     owner_uid);
	*path_out = host_strdup(e->path);
	rc = DMS_OK;
	goto out;
fail:
	bus_exe_unref(e);
out:
	free(cfg_text);
	pthread_mutex_unlock(&h->create_lock);
	return rc;
}

static void new_executor_worker(struct job *j)
{
	const char *id = "", *config = "";
	char *path = NULL, *why = NULL;
	uint32_t caller;
	int rc;

	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &config,
	                      DBUS_TYPE_INVALID);
	if (bus_caller_uid(j->host->conn, j->msg, &caller, &why) < 0) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_ACCESS_DENIED,
		                "NewExecutor needs the caller's uid to record the owner: %s", why);
		free(why);
		return;
	}
	rc = bus_manager_create_executor(j->host, id, config, caller, &path, &why);
	if (rc == BUS_CREATE_DENIED) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_ACCESS_DENIED, "%s", why);
	} else if (rc != DMS_OK) {
		bus_reply_error(j->host->conn, j->msg, bus_error_name(rc), "%s", why);
	} else {
		DBusMessage *r = dbus_message_new_method_return(j->msg);
		if (r &&
		    dbus_message_append_args(r, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID))
			dbus_connection_send(j->host->conn, r, NULL);
		if (r)
			dbus_message_unref(r);
	}
	free(path);
	free(why);
}

static void remove_executor_worker(struct job *j)
{
	struct bus_host *h = j->host;
	const char *id = "";
	struct bus_executor *e, **p;

	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	pthread_mutex_lock(&h->lock);
	for (p = &h->executors; *p && strcmp((*p)->id, id) != 0; p = &(*p)->next)
		;
	e = *p;
	if (e)
		*p = e->next;
	pthread_mutex_unlock(&h->lock);
	if (!e) {
		bus_reply_error(h->conn, j->msg, bus_error_name(DMS_ERR_NOT_FOUND),
		                "no executor with id \"%s\"", id);
		return;
	}
	/* Answered by the destroy, once every job on e finished. */
	pthread_mutex_lock(&e->lock);
	e->remove_msg = dbus_message_ref(j->msg);
	pthread_mutex_unlock(&e->lock);
	bus_exe_unref(e);
}

static void list_executors(const struct bus_call *c)
{
	struct bus_host *h = c->object;
	DBusMessage *r = dbus_message_new_method_return(c->msg);
	DBusMessageIter it, arr;
	bool ok;

	if (!r)
		return;
	dbus_message_iter_init_append(r, &it);
	ok = dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "o", &arr);
	pthread_mutex_lock(&h->lock);
	for (struct bus_executor *e = h->executors; ok && e; e = e->next)
		ok = dbus_message_iter_append_basic(&arr, DBUS_TYPE_OBJECT_PATH, &e->path);
	pthread_mutex_unlock(&h->lock);
	if (ok)
		ok = dbus_message_iter_close_container(&it, &arr);
	else
		dbus_message_iter_abandon_container_if_open(&it, &arr);
	if (ok)
		dbus_connection_send(c->conn, r, NULL);
	dbus_message_unref(r);
}

/* RemoveExecutor(s id): the executor it names (signature checked). */
static bool manager_owner_of(const struct bus_call *c, uint32_t *owner_uid, char **what)
{
	const char *id = "";
	struct bus_executor *e;

	dbus_message_get_args(c->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	e = bus_exe_lookup(c->object, id, NULL);
	if (!e)
		return false;
	*owner_uid = e->owner_uid;
	*what = host_asprintf("executor \"%s\"", e->id);
	bus_exe_unref(e);
	return true;
}

static char **manager_children(void *object)
{
	struct bus_host *h = object;
	size_t n = 0, i = 0;
	char **v;

	pthread_mutex_lock(&h->lock);
	for (struct bus_executor *e = h->executors; e; e = e->next)
		n++;
	v = host_calloc(n + 1, sizeof(*v));
	for (struct bus_executor *e = h->executors; e; e = e->next)
		v[i++] = host_strdup(e->path + strlen(BUS_MANAGER_PATH) + 1);
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void new_executor_bus(const struct bus_call *c)
{
	bus_job_submit(c, NULL, new_executor_worker);
}

static void remove_executor_bus(const struct bus_call *c)
{
	bus_job_submit(c, NULL, remove_executor_worker);
}

/* On the bus loop: counters only, no plugin call. */
static void metrics_method(const struct bus_call *c)
{
	char *text = metrics_render();

	bus_reply_string(c->conn, c->msg, text);
	free(text);
}

static const struct bus_method manager_methods[] = {
    {"NewExecutor", "ss", "id config_yaml", "o", "executor", new_executor_bus, BUS_ACCESS_ANY},
    {"ListExecutors", "", "", "ao", "executors", list_executors, BUS_ACCESS_ANY},
    {"RemoveExecutor", "s", "id", "", "", remove_executor_bus, BUS_ACCESS_OWNER},
    {"Metrics", "", "", "s", "prometheus_text", metrics_method, BUS_ACCESS_ANY},
    {.name = NULL},
};

const struct bus_interface bus_manager_interface = {
    .name = BUS_MANAGER_INTERFACE,
    .methods = manager_methods,
};

static const struct bus_interface *const manager_ifaces[] = {
    &bus_manager_interface,
    &bus_introspectable_interface,
    &bus_properties_interface,
    &bus_peer_interface,
    NULL,
};

const struct bus_object_class bus_manager_class = {
    .interfaces = manager_ifaces,
    .children = manager_children,
    .owner_of = manager_owner_of,
};
