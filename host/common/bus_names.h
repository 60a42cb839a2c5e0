/* bus_names.h — the names dms-host serves and dmsctl calls: the bus name,
 * the manager's object path, the interface names, and the D-Bus error
 * names of the executor's statuses (docs/errors.md, "Categories").
 *
 * Why one header for both programs: a client and its server that spell a
 * name each on their own drift apart; the error names are derived from
 * dms_status_name() of the ABI header, so a category added there has its
 * D-Bus name without an edit here. */
#ifndef DMS_HOST_BUS_NAMES_H
#define DMS_HOST_BUS_NAMES_H

#define BUS_NAME "org.dms.Executor"
#define BUS_MANAGER_PATH "/org/dms/Executor"
#define BUS_MANAGER_INTERFACE "org.dms.ExecutorManager1"
#define BUS_EXECUTOR_INTERFACE "org.dms.Executor1"
#define BUS_ERROR_PREFIX "org.dms.Error."

/* "org.dms.Error.<dms_status_name(status)>" — THE mapping. DMS_OK (a
 * failure reported as success, a plugin bug) and unknown values are
 * org.dms.Error.Internal. Static storage. */
const char *bus_error_name(int status);

/* The inverse: the dms_status whose error name is `name`; -1 when name is
 * not an org.dms.Error.* name of a status (a protocol error such as
 * org.freedesktop.DBus.Error.InvalidArgs, or NULL). */
int bus_error_status(const char *name);

#endif
