/* bus_table.h — static D-Bus method/signal/property tables and the one
 * dispatcher that serves them.
 *
 * Why: every object dms-host exports is described by a NULL-terminated
 * list of interface tables. The dispatcher finds the method, checks the
 * argument signature before any handler runs (wrong signature →
 * org.freedesktop.DBus.Error.InvalidArgs), and the Introspectable and
 * Properties interfaces are served generically from the same tables, so
 * the introspection XML can never disagree with what is dispatched. Domain
 * errors (dms_status) are answered with the names of bus_names.h. */
#ifndef DMS_HOST_BUS_TABLE_H
#define DMS_HOST_BUS_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <dbus/dbus.h>
#include <dms/executor.h>

#include "bus_names.h"
#include "util.h"

struct bus_object_class;

/* One incoming method call, as seen by a handler. */
struct bus_call {
	DBusConnection *conn;
	DBusMessage *msg;
	void *object; /* the object the class describes */
	const struct bus_object_class *cls;
};

typedef void (*bus_method_fn)(const struct bus_call *call);

/* Who may call a method, beyond what the bus policy already allows. The
 * dispatcher checks it in one place, before the handler runs, so a method
 * only declares it in its table row. */
enum bus_access {
	BUS_ACCESS_ANY = 0, /* everyone the bus lets through */
	BUS_ACCESS_OWNER,   /* the owner of the call's target (the class's
	                     * owner_of) and root; others get AccessDenied */
};

/* owner_of's answer for a target that belongs to nobody in particular
 * (an executor made from dms-host's own --config). */
#define BUS_OWNER_NONE UINT32_MAX
/* Appends the property value (its basic type, not the variant). */
typedef bool (*bus_property_get_fn)(void *object, DBusMessageIter *it);

struct bus_method {
	const char *name;
	const char *in_sig;   /* concatenated complete types, "" for none */
	const char *in_names; /* one space-separated name per complete type */
	const char *out_sig;
	const char *out_names;
	bus_method_fn fn;
	enum bus_access access; /* BUS_ACCESS_ANY when left out */
};

struct bus_signal {
	const char *name;
	const char *sig;
	const char *names;
};

struct bus_property {
	const char *name;
	const char *sig;
	bus_property_get_fn get;
	const char *emits_changed; /* EmitsChangedSignal annotation, or NULL */
};

struct bus_interface {
	const char *name;
	const struct bus_method *methods;      /* terminated by name == NULL */
	const struct bus_signal *signals;      /* may be NULL */
	const struct bus_property *properties; /* may be NULL */
};

struct bus_object_class {
	const struct bus_interface *const *interfaces; /* NULL-terminated */
	/* Child node names for introspection (caller frees the vector and its
	 * strings); NULL for a leaf. */
	char **(*children)(void *object);
	/* For BUS_ACCESS_OWNER methods: the uid the call's target belongs to
	 * (or BUS_OWNER_NONE) and a name for it in the error message (caller
	 * frees). false when the call names no such target: the handler then
	 * answers (NotFound...). NULL: the class has no owners. */
	bool (*owner_of)(const struct bus_call *call, uint32_t *owner_uid, char **what);
};

/* The standard interfaces every object has, served from the tables. */
extern const struct bus_interface bus_introspectable_interface;
extern const struct bus_interface bus_properties_interface;
extern const struct bus_interface bus_peer_interface;

/* Dispatches one method call to `cls`. Always handles the message. */
DBusHandlerResult bus_dispatch(DBusConnection *conn, DBusMessage *msg,
                               const struct bus_object_class *cls, void *object);

/* The unix uid of the connection that sent msg (the bus daemon's
 * GetConnectionUnixUser, cached by unique name: unique names are never
 * reused on a bus). 0 on success; -1 with *why set (caller frees). */
int bus_caller_uid(DBusConnection *conn, DBusMessage *msg, uint32_t *uid, char **why);
/* Empties that cache (at shutdown, once no call is dispatched). */
void bus_callers_forget(void);

/* Replies to msg. These never fail the caller: a failed send means the
 * client is gone, which is not our problem. Strings are made valid UTF-8
 * first (libdbus aborts on invalid UTF-8). */
void bus_reply_empty(DBusConnection *conn, DBusMessage *msg);
void bus_reply_string(DBusConnection *conn, DBusMessage *msg, const char *s);
void bus_reply_error(DBusConnection *conn, DBusMessage *msg, const char *name, const char *fmt, ...)
    HOST_PRINTF(4, 5);
/* Maps a plugin status and error (err may be NULL) to org.dms.Error.*. */
void bus_reply_dms_error(DBusConnection *conn, DBusMessage *msg, int status, const dms_error *err);

/* A copy of s that is valid UTF-8 (invalid bytes become U+FFFD). */
char *bus_utf8_copy(const char *s);

/* Introspection XML: the DOCTYPE, <node>, the interfaces and child nodes. */
char *bus_introspect_xml(const struct bus_interface *const *ifaces, char **children);

#endif
