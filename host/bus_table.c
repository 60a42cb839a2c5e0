/* bus_table.c — table-driven dispatch, the standard interfaces, replies
 * (errors named by bus_names.h) and introspection XML (see bus_table.h). */
#include "bus_table.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_names.h"
#include "jsonw.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"

/* --- UTF-8 ---------------------------------------------------------- */

/* Valid sequences as base's utf8_seq() judges them; each invalid byte
 * becomes one U+FFFD. */
char *bus_utf8_copy(const char *s)
{
	struct host_buf b;
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	if (dbus_validate_utf8((const char *)p, NULL))
		return host_strdup((const char *)p);
	const unsigned char *end = p + strlen((const char *)p);
	host_buf_init(&b, 0);
	while (*p) {
		size_t bad, n = utf8_seq(p, (size_t)(end - p), &bad);
		if (n) {
			host_buf_append(&b, (const char *)p, n);
			p += n;
		} else {
			host_buf_puts(&b, "\xef\xbf\xbd");
			p++;
		}
	}
	return host_buf_steal(&b);
}

/* --- replies -------------------------------------------------------- */

static void send_and_unref(DBusConnection *conn, DBusMessage *m)
{
	if (!m)
		return;
	dbus_connection_send(conn, m, NULL);
	dbus_message_unref(m);
}

void bus_reply_empty(DBusConnection *conn, DBusMessage *msg)
{
	send_and_unref(conn, dbus_message_new_method_return(msg));
}

void bus_reply_string(DBusConnection *conn, DBusMessage *msg, const char *s)
{
	DBusMessage *r = dbus_message_new_method_return(msg);
	char *v = bus_utf8_copy(s);

	if (r && !dbus_message_append_args(r, DBUS_TYPE_STRING, &v, DBUS_TYPE_INVALID)) {
		dbus_message_unref(r);
		r = NULL;
	}
	free(v);
	send_and_unref(conn, r);
}

void bus_reply_error(DBusConnection *conn, DBusMessage *msg, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL, *valid;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	valid = bus_utf8_copy(text ? text : name);
	free(text);
	send_and_unref(conn, dbus_message_new_error(msg, name, valid));
	free(valid);
}

void bus_reply_dms_error(DBusConnection *conn, DBusMessage *msg, int status, const dms_error *err)
{
	/* The error object's category wins over the return value when both
	 * are present and disagree: it is the more specific of the two. */
	int category = err && err->category != DMS_OK ? (int)err->category : status;
	char *text = err ? host_error_text(err) : host_strdup(dms_status_name(category));

	metrics_error(category);
	bus_reply_error(conn, msg, bus_error_name(category), "%s", text);
	free(text);
}

/* --- introspection -------------------------------------------------- */

/* Emits one <arg> per complete type of sig, named from `names`. */
static void xml_args(struct host_buf *b, const char *sig, const char *names, const char *direction)
{
	DBusSignatureIter it;
	const char *n = names ? names : "";

	if (!sig || !*sig)
		return;
	dbus_signature_iter_init(&it, sig);
	do {
		char *type = dbus_signature_iter_get_signature(&it);
		size_t len = strcspn(n, " ");
		char *name = host_strndup(n, len);

		n += len;
		n += strspn(n, " ");
		host_buf_puts(b, "      <arg");
		if (*name) {
			host_buf_puts(b, " name=\"");
			host_buf_xml_escaped(b, name);
			host_buf_puts(b, "\"");
		}
		host_buf_printf(b, " type=\"%s\"", type ? type : "");
		if (direction)
			host_buf_printf(b, " direction=\"%s\"", direction);
		host_buf_puts(b, "/>\n");
		free(name);
		dbus_free(type);
	} while (dbus_signature_iter_next(&it));
}

static void xml_interface(struct host_buf *b, const struct bus_interface *i)
{
	host_buf_printf(b, "  <interface name=\"%s\">\n", i->name);
	for (const struct bus_method *m = i->methods; m && m->name; m++) {
		if (!*m->in_sig && !*m->out_sig) {
			host_buf_printf(b, "    <method name=\"%s\"/>\n", m->name);
			continue;
		}
		host_buf_printf(b, "    <method name=\"%s\">\n", m->name);
		xml_args(b, m->in_sig, m->in_names, "in");
		xml_args(b, m->out_sig, m->out_names, "out");
		host_buf_puts(b, "    </method>\n");
	}
	for (const struct bus_signal *s = i->signals; s && s->name; s++) {
		host_buf_printf(b, "    <signal name=\"%s\">\n", s->name);
		xml_args(b, s->sig, s->names, NULL);
		host_buf_puts(b, "    </signal>\n");
	}
	for (const struct bus_property *p = i->properties; p && p->name; p++) {
		host_buf_printf(b, "    <property name=\"%s\" type=\"%s\" access=\"read\"", p->name,
		                p->sig);
		if (p->emits_changed)
			host_buf_printf(b,
			                ">\n      <annotation name=\"org.freedesktop.DBus.Property."
			                "EmitsChangedSignal\" value=\"%s\"/>\n    </property>\n",
			                p->emits_changed);
		else
			host_buf_puts(b, "/>\n");
	}
	host_buf_puts(b, "  </interface>\n");
}

char *bus_introspect_xml(const struct bus_interface *const *ifaces, char **children)
{
	struct host_buf b;

	host_buf_init(&b, 0);
	host_buf_puts(&b, DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE "<node>\n");
	for (; ifaces && *ifaces; ifaces++)
		xml_interface(&b, *ifaces);
	for (char **c = children; c && *c; c++) {
		host_buf_puts(&b, "  <node name=\"");
		host_buf_xml_escaped(&b, *c);
		host_buf_puts(&b, "\"/>\n");
	}
	host_buf_puts(&b, "</node>\n");
	return host_buf_steal(&b);
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void introspect(const struct bus_call *c)
{
	char **children = c->cls->children ? c->cls->children(c->object) : NULL;
	char *xml = bus_introspect_xml(c->cls->interfaces, children);

	bus_reply_string(c->conn, c->msg, xml);
	free(xml);
	free_strv(children);
}

static const struct bus_method introspectable_methods[] = {
    {"Introspect", "", "", "s", "xml_data", introspect, BUS_ACCESS_ANY},
    {.name = NULL},
};

const struct bus_interface bus_introspectable_interface = {
    .name = DBUS_INTERFACE_INTROSPECTABLE,
    .methods = introspectable_methods,
};

/* --- org.freedesktop.DBus.Properties --------------------------------- */

static const struct bus_interface *find_interface(const struct bus_object_class *cls,
                                                  const char *name)
{
	for (const struct bus_interface *const *i = cls->interfaces; *i; i++)
		if (strcmp((*i)->name, name) == 0)
			return *i;
	return NULL;
}

static bool append_variant(DBusMessageIter *it, const struct bus_property *p, void *object)
{
	DBusMessageIter v;

	if (!dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, p->sig, &v))
		return false;
	if (!p->get(object, &v)) {
		dbus_message_iter_abandon_container(it, &v);
		return false;
	}
	return dbus_message_iter_close_container(it, &v);
}

static void properties_get(const struct bus_call *c)
{
	const char *iface, *prop;
	const struct bus_interface *i;

	dbus_message_get_args(c->msg, NULL, DBUS_TYPE_STRING, &iface, DBUS_TYPE_STRING, &prop,
	                      DBUS_TYPE_INVALID);
	i = find_interface(c->cls, iface);
	if (!i) {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_UNKNOWN_INTERFACE,
		                "No interface %s on this object", iface);
		return;
	}
	for (const struct bus_property *p = i->properties; p && p->name; p++) {
		if (strcmp(p->name, prop) != 0)
			continue;
		DBusMessage *r = dbus_message_new_method_return(c->msg);
		DBusMessageIter it;
		if (!r)
			return;
		dbus_message_iter_init_append(r, &it);
		if (!append_variant(&it, p, c->object)) {
			dbus_message_unref(r);
			bus_reply_error(c->conn, c->msg, DBUS_ERROR_FAILED,
			                "Cannot read property %s", prop);
			return;
		}
		send_and_unref(c->conn, r);
		return;
	}
	bus_reply_error(c->conn, c->msg, DBUS_ERROR_UNKNOWN_PROPERTY, "No property %s on %s", prop,
	                iface);
}

static void properties_get_all(const struct bus_call *c)
{
	const char *iface;
	const struct bus_interface *i;
	DBusMessageIter it, dict, entry;
	DBusMessage *r;

	dbus_message_get_args(c->msg, NULL, DBUS_TYPE_STRING, &iface, DBUS_TYPE_INVALID);
	i = find_interface(c->cls, iface);
	if (!i) {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_UNKNOWN_INTERFACE,
		                "No interface %s on this object", iface);
		return;
	}
	r = dbus_message_new_method_return(c->msg);
	if (!r)
		return;
	dbus_message_iter_init_append(r, &it);
	if (!dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &dict))
		goto fail;
	for (const struct bus_property *p = i->properties; p && p->name; p++) {
		if (!dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry))
			goto fail_dict;
		if (!dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &p->name) ||
		    !append_variant(&entry, p, c->object)) {
			dbus_message_iter_abandon_container(&dict, &entry);
			goto fail_dict;
		}
		if (!dbus_message_iter_close_container(&dict, &entry))
			goto fail_dict;
	}
	if (!dbus_message_iter_close_container(&it, &dict))
		goto fail;
	send_and_unref(c->conn, r);
	return;
fail_dict:
	dbus_message_iter_abandon_container(&it, &dict);
fail:
	dbus_message_unref(r);
	bus_reply_error(c->conn, c->msg, DBUS_ERROR_FAILED, "Cannot read the properties of %s",
	                iface);
}

static void properties_set(const struct bus_call *c)
{
	const char *iface = "", *prop = "";
	DBusMessageIter it;

	dbus_message_iter_init(c->msg, &it);
	dbus_message_iter_get_basic(&it, &iface);
	dbus_message_iter_next(&it);
	dbus_message_iter_get_basic(&it, &prop);
	bus_reply_error(c->conn, c->msg, DBUS_ERROR_PROPERTY_READ_ONLY,
	                "Property %s of %s is read-only", prop, iface);
}

static const struct bus_method properties_methods[] = {
    {"Get", "ss", "interface_name property_name", "v", "value", properties_get, BUS_ACCESS_ANY},
    {"GetAll", "s", "interface_name", "a{sv}", "properties", properties_get_all, BUS_ACCESS_ANY},
    {"Set", "ssv", "interface_name property_name value", "", "", properties_set, BUS_ACCESS_ANY},
    {.name = NULL},
};

static const struct bus_signal properties_signals[] = {
    {"PropertiesChanged", "sa{sv}as", "interface_name changed_properties invalidated_properties"},
    {.name = NULL},
};

const struct bus_interface bus_properties_interface = {
    .name = DBUS_INTERFACE_PROPERTIES,
    .methods = properties_methods,
    .signals = properties_signals,
};

/* --- org.freedesktop.DBus.Peer ---------------------------------------
 * libdbus answers these itself before dispatch; the handlers exist so the
 * table (and so the XML) is complete and correct if it ever does not. */

static void peer_ping(const struct bus_call *c)
{
	bus_reply_empty(c->conn, c->msg);
}

static void peer_machine_id(const struct bus_call *c)
{
	char *id = dbus_try_get_local_machine_id(NULL);

	if (!id) {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_FAILED, "No machine id");
		return;
	}
	bus_reply_string(c->conn, c->msg, id);
	dbus_free(id);
}

static const struct bus_method peer_methods[] = {
    {"Ping", "", "", "", "", peer_ping, BUS_ACCESS_ANY},
    {"GetMachineId", "", "", "s", "machine_uuid", peer_machine_id, BUS_ACCESS_ANY},
    {.name = NULL},
};

const struct bus_interface bus_peer_interface = {
    .name = DBUS_INTERFACE_PEER,
    .methods = peer_methods,
};

/* --- callers -------------------------------------------------------- */

/* A small cache of unique name -> uid: the first call of a connection costs
 * one round trip to the bus daemon, later ones none. Entries are replaced
 * round-robin; a stale one is still right (unique names are not reused). */
#define CALLER_CACHE_SIZE 64

static struct {
	pthread_mutex_t mu;
	char *name[CALLER_CACHE_SIZE];
	uint32_t uid[CALLER_CACHE_SIZE];
	size_t next;
} callers = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool caller_cached(const char *sender, uint32_t *uid)
{
	bool found = false;

	pthread_mutex_lock(&callers.mu);
	for (size_t i = 0; i < CALLER_CACHE_SIZE && !found; i++) {
		if (callers.name[i] && strcmp(callers.name[i], sender) == 0) {
			*uid = callers.uid[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&callers.mu);
	return found;
}

static void caller_remember(const char *sender, uint32_t uid)
{
	pthread_mutex_lock(&callers.mu);
	free(callers.name[callers.next]);
	callers.name[callers.next] = host_strdup(sender);
	callers.uid[callers.next] = uid;
	callers.next = (callers.next + 1) % CALLER_CACHE_SIZE;
	pthread_mutex_unlock(&callers.mu);
}

void bus_callers_forget(void)
{
	pthread_mutex_lock(&callers.mu);
	for (size_t i = 0; i < CALLER_CACHE_SIZE; i++) {
		free(callers.name[i]);
		callers.name[i] = NULL;
	}
	callers.next = 0;
	pthread_mutex_unlock(&callers.mu);
}

int bus_caller_uid(DBusConnection *conn, DBusMessage *msg, uint32_t *uid, char **why)
{
	const char *sender = dbus_message_get_sender(msg);
	DBusError err;
	unsigned long u;

	if (!sender) {
		*why = host_strdup("the call has no sender");
		return -1;
	}
	if (caller_cached(sender, uid))
		return 0;
	dbus_error_init(&err);
	u = dbus_bus_get_unix_user(conn, sender, &err);
	if (dbus_error_is_set(&err) || u == (unsigned long)-1 || u >= BUS_OWNER_NONE) {
		*why = host_asprintf("cannot learn the uid of %s: %s", sender,
		                     dbus_error_is_set(&err) ? err.message : "no unix user");
		dbus_error_free(&err);
		return -1;
	}
	*uid = (uint32_t)u;
	caller_remember(sender, *uid);
	return 0;
}

/* BUS_ACCESS_OWNER: the target's owner and root pass; anyone else is
 * answered AccessDenied here. */
static bool access_allowed(const struct bus_call *c, const struct bus_method *m)
{
	uint32_t owner = BUS_OWNER_NONE, caller = 0;
	char *what = NULL, *why = NULL;
	bool ok;

	if (m->access == BUS_ACCESS_ANY || !c->cls->owner_of || !c->cls->owner_of(c, &owner, &what))
		return true;
	if (owner == BUS_OWNER_NONE) {
		free(what);
		return true;
	}
	if (bus_caller_uid(c->conn, c->msg, &caller, &why) < 0) {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_ACCESS_DENIED,
		                "%s belongs to uid %u; %s, so it may not call %s", what, owner, why,
		                m->name);
		ok = false;
	} else if (caller == 0 || caller == owner) {
		ok = true;
	} else {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_ACCESS_DENIED,
		                "%s belongs to uid %u: only its creator and root may call %s on it "
		                "(caller uid %u)",
		                what, owner, m->name, caller);
		hlog(HLOG_WARN, NULL, NULL, "denied %s on %s (uid %u) to uid %u", m->name, what,
		     owner, caller);
		ok = false;
	}
	free(what);
	free(why);
	return ok;
}

/* --- dispatch ------------------------------------------------------- */

DBusHandlerResult bus_dispatch(DBusConnection *conn, DBusMessage *msg,
                               const struct bus_object_class *cls, void *object)
{
	const char *iface_name = dbus_message_get_interface(msg);
	const char *member = dbus_message_get_member(msg);
	const struct bus_method *method = NULL;
	const struct bus_interface *iface = NULL;

	if (iface_name) {
		iface = find_interface(cls, iface_name);
		if (!iface) {
			bus_reply_error(conn, msg, DBUS_ERROR_UNKNOWN_INTERFACE,
			                "No interface %s on object %s", iface_name,
			                dbus_message_get_path(msg));
			return DBUS_HANDLER_RESULT_HANDLED;
		}
	}
	/* Without an interface the first method of that name wins, as the
	 * specification allows. */
	for (const struct bus_interface *const *i = cls->interfaces; *i && !method; i++) {
		if (iface && *i != iface)
			continue;
		for (const struct bus_method *m = (*i)->methods; m->name; m++) {
			if (strcmp(m->name, member) == 0) {
				method = m;
				break;
			}
		}
	}
	if (!method) {
		bus_reply_error(conn, msg, DBUS_ERROR_UNKNOWN_METHOD,
		                "No method %s on interface %s of object %s", member,
		                iface_name ? iface_name : "(any)", dbus_message_get_path(msg));
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (!dbus_message_has_signature(msg, method->in_sig)) {
		bus_reply_error(conn, msg, DBUS_ERROR_INVALID_ARGS,
		                "Method %s expects arguments of signature \"%s\", got \"%s\"",
		                method->name, method->in_sig, dbus_message_get_signature(msg));
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	struct bus_call call = {.conn = conn, .msg = msg, .object = object, .cls = cls};
	hlog(HLOG_DEBUG, NULL, NULL, "call %s on %s from %s", method->name,
	     dbus_message_get_path(msg), dbus_message_get_sender(msg) ?: "-");
	if (access_allowed(&call, method))
		method->fn(&call);
	return DBUS_HANDLER_RESULT_HANDLED;
}
