/* bus_loop.c — dms-host's connection: the loop (poll on the bus socket, a
 * wakeup eventfd and a signalfd), the object tree that routes a call to
 * the manager, an executor or an introspection node, owning the bus name,
 * and the clean shutdown (bus.h, bus_internal.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bus_internal.h"
#include "log.h"
#include "util.h"

/* "/", "/org" and "/org/dms" exist only to lead introspection down. */
static char **node_children(void *object)
{
	char **v = host_calloc(2, sizeof(*v));

	v[0] = host_strdup(object);
	return v;
}

static const struct bus_interface *const node_ifaces[] = {
    &bus_introspectable_interface,
    &bus_peer_interface,
    NULL,
};

static const struct bus_object_class node_class = {
    .interfaces = node_ifaces,
    .children = node_children,
};

char *bus_interfaces_xml(void)
{
	static const struct bus_interface *const ifaces[] = {
	    &bus_manager_interface,
	    &bus_executor_interface,
	    NULL,
	};

	static const char note[] =
	    "<!-- org.dms.Executor.xml: the D-Bus interfaces of dms-host (docs/dbus.md).\n"
	    "     Generated (dms-host option print-introspection) from the method tables in\n"
	    "     host/bus_manager.c and host/bus_executor.c; tests/dbus/test_introspection.py\n"
	    "     checks it is current. -->\n";
	char *xml = bus_introspect_xml(ifaces, NULL);
	char *node = strstr(xml, "<node>");
	char *out = host_asprintf("%.*s%s%s", (int)(node - xml), xml, note, node);

	free(xml);
	return out;
}

/* --- the object tree ------------------------------------------------ */

static DBusHandlerResult on_message(DBusConnection *conn, DBusMessage *msg, void *data)
{
	static const struct {
		const char *path;
		const char *child;
	} nodes[] = {{"/", "org"}, {"/org", "dms"}, {"/org/dms", "Executor"}};
	struct bus_host *h = data;
	const char *path = dbus_message_get_path(msg);
	size_t mlen = strlen(BUS_MANAGER_PATH);

	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL || !path)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (strcmp(path, BUS_MANAGER_PATH) == 0)
		return bus_dispatch(conn, msg, &bus_manager_class, h);
	if (strncmp(path, BUS_MANAGER_PATH "/", mlen + 1) == 0) {
		struct bus_executor *e = bus_exe_lookup(h, NULL, path);
		if (e) {
			DBusHandlerResult r = bus_dispatch(conn, msg, &bus_executor_class, e);
			bus_exe_unref(e);
			return r;
		}
	}
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (strcmp(path, nodes[i].path) == 0)
			return bus_dispatch(conn, msg, &node_class, (void *)nodes[i].child);
	bus_reply_error(conn, msg, DBUS_ERROR_UNKNOWN_OBJECT, "No object at path %s", path);
	return DBUS_HANDLER_RESULT_HANDLED;
}

/* --- the loop ------------------------------------------------------- */

static void wake_loop(void *data)
{
	struct bus_host *h = data;
	uint64_t one = 1;

	if (write(h->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		host_log("wakeup write failed: %s", strerror(errno));
}

static void on_dispatch_status(DBusConnection *conn, DBusDispatchStatus s, void *data)
{
	(void)conn;
	if (s == DBUS_DISPATCH_DATA_REMAINS)
		wake_loop(data);
}

/* Returns 0 after a stop signal, 1 when the bus connection was lost. */
static int serve(struct bus_host *h)
{
	int bus_fd = -1;

	if (!dbus_connection_get_unix_fd(h->conn, &bus_fd)) {
		host_log("the bus connection has no file descriptor");
		return 1;
	}
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = bus_fd, .events = POLLIN},
		    {.fd = h->wake_fd, .events = POLLIN},
		    {.fd = h->sig_fd, .events = POLLIN},
		};
		int timeout = -1;

		if (dbus_connection_has_messages_to_send(h->conn))
			pfd[0].events |= POLLOUT;
		if (dbus_connection_get_dispatch_status(h->conn) == DBUS_DISPATCH_DATA_REMAINS)
			timeout = 0;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
			host_log("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(h->sig_fd, &si, sizeof(si)) == sizeof(si))
				hlog(HLOG_INFO, NULL, NULL, "%s received, shutting down",
				     strsignal((int)si.ssi_signo));
			return 0;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t n;
			if (read(h->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				host_log("wakeup read failed: %s", strerror(errno));
		}
		dbus_connection_read_write(h->conn, 0);
		while (dbus_connection_dispatch(h->conn) == DBUS_DISPATCH_DATA_REMAINS)
			;
		if (!dbus_connection_get_is_connected(h->conn)) {
			host_log("lost the connection to the bus");
			return 1;
		}
	}
}

static void shutdown_executors(struct bus_host *h)
{
	struct bus_executor *list;

	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	list = h->executors;
	h->executors = NULL;
	pthread_mutex_unlock(&h->lock);
	while (list) {
		struct bus_executor *e = list;
		list = e->next;
		pthread_mutex_lock(&e->lock);
		e->cancelling = true;
		for (struct job *j = e->active; j; j = j->next_active)
			if (j->ctx)
				ops_of(e)->context_cancel(j->ctx);
		pthread_mutex_unlock(&e->lock);
		bus_exe_unref(e);
	}
}

static int own_name(struct bus_host *h, const char *bus)
{
	DBusError err;
	int r;

	dbus_error_init(&err);
	r = dbus_bus_request_name(h->conn, BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
	if (dbus_error_is_set(&err)) {
		host_log("cannot own %s on the %s bus: %s: %s", BUS_NAME, bus, err.name,
		         err.message);
		dbus_error_free(&err);
		return -1;
	}
	if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER &&
	    r != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
		host_log("the name %s is already owned on the %s bus (is another dms-host "
		         "running?)",
		         BUS_NAME, bus);
		return -1;
	}
	return 0;
}

int bus_host_run(const struct bus_host_config *cfg)
{
	static const DBusObjectPathVTable vtable = {.message_function = on_message};
	const char *bus = cfg->bus_type == DBUS_BUS_SYSTEM ? "system" : "session";
	struct bus_host h = {.cfg = cfg, .wake_fd = -1, .sig_fd = -1};
	DBusError err;
	sigset_t mask;
	int status = 1;

	/* Block the stop signals before any thread exists (pool workers and
	 * plugin threads inherit the mask); the loop reads them from a
	 * signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	h.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h.sig_fd < 0 || h.wake_fd < 0) {
		host_log("signalfd/eventfd: %s", strerror(errno));
		goto out_fds;
	}
	pthread_mutex_init(&h.lock, NULL);
	pthread_mutex_init(&h.create_lock, NULL);
	h.pool = host_pool_new(cfg->max_workers ? cfg->max_workers : 64);

	dbus_error_init(&err);
	h.conn = dbus_bus_get_private(cfg->bus_type, &err);
	if (!h.conn) {
		host_log("cannot connect to the %s bus: %s", bus, err.message);
		dbus_error_free(&err);
		goto out_pool;
	}
	dbus_connection_set_exit_on_disconnect(h.conn, FALSE);
	dbus_connection_set_wakeup_main_function(h.conn, wake_loop, &h, NULL);
	dbus_connection_set_dispatch_status_function(h.conn, on_dispatch_status, &h, NULL);
	if (!dbus_connection_register_fallback(h.conn, "/", &vtable, &h)) {
		host_log("cannot register the object tree");
		goto out_conn;
	}
	if (cfg->initial_id) {
		char *path = NULL, *why = NULL;
		int rc = bus_manager_create_executor(&h, cfg->initial_id,
		                                     cfg->initial_config ? cfg->initial_config : "",
		                                     BUS_OWNER_NONE, &path, &why);
		if (rc != DMS_OK) {
			host_log("cannot create executor \"%s\": %s: %s", cfg->initial_id,
			         bus_error_name(rc), why);
			free(why);
			goto out_executors;
		}
		hlog(HLOG_INFO, cfg->initial_id, NULL, "at %s", path);
		free(path);
	}
	if (own_name(&h, bus) < 0)
		goto out_executors;
	hlog(HLOG_INFO, NULL, NULL, "serving %s on the %s bus (plugin %s %s; log to %s)", BUS_NAME,
	     bus, cfg->plugins[0]->desc->name, cfg->plugins[0]->desc->version, hlog_target());
	status = serve(&h);

out_executors:
	shutdown_executors(&h);
	/* Runs every queued job and destroy; replies still go out. */
	host_pool_drain_and_free(h.pool);
	h.pool = NULL;
	if (dbus_connection_get_is_connected(h.conn))
		dbus_connection_flush(h.conn);
out_conn:
	dbus_connection_close(h.conn);
	dbus_connection_unref(h.conn);
out_pool:
	host_pool_drain_and_free(h.pool);
	pthread_mutex_destroy(&h.lock);
	pthread_mutex_destroy(&h.create_lock);
	bus_callers_forget();
out_fds:
	if (h.sig_fd >= 0)
		close(h.sig_fd);
	if (h.wake_fd >= 0)
		close(h.wake_fd);
	return status;
}
