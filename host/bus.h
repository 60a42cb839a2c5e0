/* bus.h — dms-host's D-Bus service: the manager and executor objects, the
 * bus loop, and clean shutdown (see docs/dbus.md). The service's files
 * share bus_internal.h; the names it serves are in bus_names.h.
 *
 * Why separate from dms-host.c: the service is driven by one entry point
 * so the command line stays trivial, and --print-introspection can print
 * the interface XML without connecting to any bus. */
#ifndef DMS_HOST_BUS_H
#define DMS_HOST_BUS_H

#include <stddef.h>
#include <dbus/dbus.h>

#include "bus_names.h"
#include "plugin.h"

struct bus_host_config {
	DBusBusType bus_type;
	struct host_plugin **plugins; /* at least one; the first is the default */
	size_t n_plugins;
	/* An executor created before the name is owned (may be NULL). */
	const char *initial_id;
	const char *initial_config;
	size_t max_workers;
};

/* Connects, creates the initial executor, owns BUS_NAME, serves until
 * SIGTERM/SIGINT or the bus goes away, then destroys every executor. Does
 * not unload the plugins. Returns the process exit status. */
int bus_host_run(const struct bus_host_config *cfg);

/* The XML of the org.dms interfaces, as committed in
 * docs/org.dms.Executor.xml. Caller frees. */
char *bus_interfaces_xml(void);

#endif
