/* compat_inspect.c — what the engine says about containers: the inspect
 * document as a container_state (with the settings the check after create
 * compares, in one form for both engines) and the label-filtered list.
 *
 * Exists so that the differences between the engines' inspect documents
 * (Docker's "CAP_CHOWN" against Podman's "CHOWN", Binds against Mounts)
 * are absorbed while parsing, before anything compares them. The parsers
 * are also the fuzz harnesses' entries (compat_fuzz.h).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "compat_internal.h"
#include "compat_fuzz.h"

static enum container_status parse_container_status(const char *s)
{
	static const struct {
		const char *name;
		enum container_status status;
	} map[] = {
	    {"created", CS_CREATED},   {"running", CS_RUNNING},
	    {"paused", CS_PAUSED},     {"restarting", CS_RESTARTING},
	    {"removing", CS_REMOVING}, {"exited", CS_EXITED},
	    {"dead", CS_DEAD},
	};

	for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].status;
	return CS_UNKNOWN;
}

/* "/name" -> "name" */
static char *container_name(const char *name)
{
	if (!name)
		return NULL;
	return strdup(name[0] == '/' ? name + 1 : name);
}

/* An array of strings at path -> vector (absent: empty); caps lose "CAP_"
 * and are upper-cased, so Docker's "CAP_CHOWN" and Podman's "CHOWN" agree. */
static strv strv_at(yajl_val root, const char **path, bool caps)
{
	yajl_val a = yajl_tree_get(root, path, yajl_t_array);
	struct compat_strv b = {0};

	for (size_t i = 0; a && i < a->u.array.len; i++) {
		const char *v = YAJL_GET_STRING(a->u.array.values[i]);
		char *copy;

		if (!v)
			continue;
		if (caps && strncasecmp(v, "CAP_", 4) == 0)
			v += 4;
		if ((copy = strdup(v)) && caps)
			for (char *p = copy; *p; p++)
				*p = (char)toupper((unsigned char)*p);
		compat_strv_add(&b, copy);
	}
	return compat_strv_finish(&b);
}

static int64_t int_at(yajl_val root, const char **path)
{
	long long v = 0;

	compat_jint(root, path, &v);
	return v;
}

/* The applied settings (runtime.h) from an inspect document; -1 when out
 * of memory. */
static int settings_from_json(yajl_val root, struct container_settings *s)
{
	struct compat_strv mounts = {0}, ports = {0}, nets = {0}, devs = {0}, reqs = {0};
	yajl_val v;

	s->known = true;
	s->nano_cpus = int_at(root, JPATH("HostConfig", "NanoCpus"));
	s->memory = int_at(root, JPATH("HostConfig", "Memory"));
	s->memory_swap = int_at(root, JPATH("HostConfig", "MemorySwap"));
	s->pids_limit = int_at(root, JPATH("HostConfig", "PidsLimit"));
	s->cpuset_cpus =
	    compat_strdup_or_null(compat_jstr(root, JPATH("HostConfig", "CpusetCpus")));
	s->readonly_rootfs = compat_jtrue(root, JPATH("HostConfig", "ReadonlyRootfs"));
	s->cap_add = strv_at(root, JPATH("HostConfig", "CapAdd"), true);
	s->cap_drop = strv_at(root, JPATH("HostConfig", "CapDrop"), true);
	s->security_opt = strv_at(root, JPATH("HostConfig", "SecurityOpt"), false);
	s->network_mode =
	    compat_strdup_or_null(compat_jstr(root, JPATH("HostConfig", "NetworkMode")));
	s->user = compat_strdup_or_null(compat_jstr(root, JPATH("Config", "User")));
	s->working_dir = compat_strdup_or_null(compat_jstr(root, JPATH("Config", "WorkingDir")));
	s->env = strv_at(root, JPATH("Config", "Env"), false);
	s->labels =
	    compat_labels_from_json(yajl_tree_get(root, JPATH("Config", "Labels"), yajl_t_any));
	/* Mounts, not HostConfig.Binds: Podman rewrites Binds' options. */
	v = yajl_tree_get(root, JPATH("Mounts"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		yajl_val m = v->u.array.values[i];
		const char *src = compat_jstr(m, JPATH("Source"));
		const char *dst = compat_jstr(m, JPATH("Destination"));

		compat_strv_add(&mounts, compat_pathf("%s:%s:%s", src ? src : "", dst ? dst : "",
		                                      compat_jtrue(m, JPATH("RW")) ? "rw" : "ro"));
	}
	v = yajl_tree_get(root, JPATH("HostConfig", "PortBindings"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		yajl_val list = v->u.object.values[i];

		for (size_t j = 0; YAJL_IS_ARRAY(list) && j < list->u.array.len; j++) {
			const char *ip = compat_jstr(list->u.array.values[j], JPATH("HostIp"));
			const char *port = compat_jstr(list->u.array.values[j], JPATH("HostPort"));

			compat_strv_add(&ports, compat_pathf("%s=%s:%s", v->u.object.keys[i],
			                                     ip ? ip : "", port ? port : ""));
		}
	}
	v = yajl_tree_get(root, JPATH("NetworkSettings", "Networks"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++)
		compat_strv_add(&nets, strdup(v->u.object.keys[i]));
	v = yajl_tree_get(root, JPATH("HostConfig", "Devices"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		const char *p = compat_jstr(v->u.array.values[i], JPATH("PathOnHost"));

		if (p)
			compat_strv_add(&devs, strdup(p));
	}
	v = yajl_tree_get(root, JPATH("HostConfig", "DeviceRequests"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		yajl_val r = v->u.array.values[i];
		const char *driver = compat_jstr(r, JPATH("Driver"));
		yajl_val ids = yajl_tree_get(r, JPATH("DeviceIDs"), yajl_t_array);
		char list[256] = "";
		size_t o = 0;

		for (size_t j = 0; ids && j < ids->u.array.len && o < sizeof(list); j++) {
			const char *id = YAJL_GET_STRING(ids->u.array.values[j]);

			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", j ? "," : "",
			                      id ? id : "");
		}
		if (ids && ids->u.array.len)
			compat_strv_add(&reqs, compat_pathf("%s:%s", driver ? driver : "", list));
		else
			compat_strv_add(&reqs, compat_pathf("%s:count=%lld", driver ? driver : "",
			                                    (long long)int_at(r, JPATH("Count"))));
	}
	s->mounts = compat_strv_finish(&mounts);
	s->ports = compat_strv_finish(&ports);
	s->networks = compat_strv_finish(&nets);
	s->devices = compat_strv_finish(&devs);
	s->device_requests = compat_strv_finish(&reqs);
	if (!s->cap_add || !s->cap_drop || !s->security_opt || !s->env || !s->labels ||
	    !s->mounts || !s->ports || !s->networks || !s->devices || !s->device_requests)
		return -1;
	return 0;
}

/* What the engine assigned: the image id, NetworkSettings.Ports (the host
 * ports it picked, "80/tcp=0.0.0.0:32768"; a port with no binding is
 * left out) and each network's address ("bridge=172.17.0.2"). -1 when out
 * of memory. */
static int assigned_from_json(yajl_val root, struct container_state *st)
{
	struct compat_strv ports = {0}, addrs = {0};
	const char *image = compat_jstr(root, JPATH("Image"));
	yajl_val v;

	if (image && !(st->image_id = strdup(image)))
		return -1;
	v = yajl_tree_get(root, JPATH("NetworkSettings", "Ports"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		yajl_val list = v->u.object.values[i];

		for (size_t j = 0; YAJL_IS_ARRAY(list) && j < list->u.array.len; j++) {
			const char *ip = compat_jstr(list->u.array.values[j], JPATH("HostIp"));
			const char *port = compat_jstr(list->u.array.values[j], JPATH("HostPort"));

			if (port && *port)
				compat_strv_add(&ports,
				                compat_pathf("%s=%s:%s", v->u.object.keys[i],
				                             ip ? ip : "", port));
		}
	}
	v = yajl_tree_get(root, JPATH("NetworkSettings", "Networks"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		const char *ip = compat_jstr(v->u.object.values[i], JPATH("IPAddress"));

		compat_strv_add(&addrs, compat_pathf("%s=%s", v->u.object.keys[i], ip ? ip : ""));
	}
	st->ports_assigned = compat_strv_finish(&ports);
	st->addresses = compat_strv_finish(&addrs);
	return st->ports_assigned && st->addresses ? 0 : -1;
}

/* An inspect document -> *out (also compat_fuzz_inspect's entry). */
static int inspect_from_json(yajl_val root, const char *id, struct container_state *out,
                             dms_error **err)
{
	const char *op = "container inspect", *s;
	struct container_state st = {0};
	long long exit_code = 0;

	if (!(s = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_CONTAINER, op, id, err);

	st.id = strdup(s);
	st.name = container_name(compat_jstr(root, JPATH("Name")));
	st.status = parse_container_status(compat_jstr(root, JPATH("State", "Status")));
	compat_jint(root, JPATH("State", "ExitCode"), &exit_code);
	st.exit_code = (int)exit_code;
	st.oom_killed = compat_jtrue(root, JPATH("State", "OOMKilled"));
	st.tty = compat_jtrue(root, JPATH("Config", "Tty"));
	if ((s = compat_jstr(root, JPATH("State", "StartedAt"))))
		st.started_at_ns = parse_rfc3339(s);
	if ((s = compat_jstr(root, JPATH("State", "FinishedAt"))))
		st.finished_at_ns = parse_rfc3339(s);
	if ((s = compat_jstr(root, JPATH("State", "Error"))) && *s)
		st.error = strdup(s);
	st.labels =
	    compat_labels_from_json(yajl_tree_get(root, JPATH("Config", "Labels"), yajl_t_any));
	if (assigned_from_json(root, &st) != 0) {
		container_state_free(&st);
		return compat_oom(err);
	}
	if (settings_from_json(root, &st.settings) != 0) {
		container_state_free(&st);
		return compat_oom(err);
	}
	if (!st.id || !st.labels) {
		container_state_free(&st);
		return compat_oom(err);
	}
	*out = st;
	return 0;
}

int compat_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                             struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container inspect";
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = compat_path_escape(id)) || !(path = compat_pathf("/containers/%s/json", esc)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, id, &root, err)) != 0)
		return rc;
	return inspect_from_json(root, id, out, err);
}

/* A container list document -> *out, *n (also compat_fuzz_list's entry). */
static int list_from_json(yajl_val root, const char *label, struct container_summary **out,
                          size_t *n, dms_error **err)
{
	const char *op = "container list";
	struct container_summary *v;
	size_t count;

	if (!YAJL_IS_ARRAY(root))
		return compat_bad_json(COMPAT_CONTAINER, op, label, err);

	count = root->u.array.len;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return compat_oom(err);
	for (size_t i = 0; i < count; i++) {
		yajl_val c = root->u.array.values[i];
		yajl_val names = yajl_tree_get(c, JPATH("Names"), yajl_t_array);
		const char *id = compat_jstr(c, JPATH("Id"));

		v[i].id = compat_strdup_or_null(id);
		if (names && names->u.array.len > 0 && YAJL_IS_STRING(names->u.array.values[0]))
			v[i].name = container_name(YAJL_GET_STRING(names->u.array.values[0]));
		v[i].status = parse_container_status(compat_jstr(c, JPATH("State")));
		v[i].labels =
		    compat_labels_from_json(yajl_tree_get(c, JPATH("Labels"), yajl_t_any));
		if (!v[i].id || !v[i].labels) {
			container_summaries_free(v, count);
			return id ? compat_oom(err)
			          : compat_bad_json(COMPAT_CONTAINER, op, label, err);
		}
	}
	*out = v;
	*n = count;
	return 0;
}

int compat_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                          struct container_summary **out, size_t *n, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *filters = NULL, *path = NULL;
	const char *op = "container list";
	int rc;

	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = compat_filters_query(NULL, label)) ||
	    !(path = compat_pathf("/containers/json?all=1&filters=%s", filters)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, label, &root, err)) != 0)
		return rc;
	return list_from_json(root, label, out, n, err);
}

/* ---- for the fuzz harness (compat_fuzz.h): the parsers minus the HTTP ---- */

int compat_fuzz_inspect(const char *json, struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(json);

	if (!root)
		return compat_bad_json(COMPAT_CONTAINER, "container inspect", "fuzz", err);
	return inspect_from_json(root, "fuzz", out, err);
}

int compat_fuzz_list(const char *json, struct container_summary **out, size_t *n, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(json);

	if (!root)
		return compat_bad_json(COMPAT_CONTAINER, "container list", "fuzz", err);
	return list_from_json(root, "fuzz", out, n, err);
}
