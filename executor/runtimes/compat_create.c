/* compat_create.c — POST /containers/create: the request's fields as the
 * create body, one function per part of it (the process, the exposed
 * ports, then HostConfig's resources, network, security, binds, port
 * bindings and GPUs), and the create call itself.
 *
 * Exists so that what the engine is asked for can be read field by field
 * against docs/engine-api.md ("Operations", the create body) and checked
 * by the test that compares bodies (compat_create_body()).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"
#include "gpu.h"

/* ---- the body, part by part --------------------------------------------- */

/* The process: image, command, environment, user, terminal, and how it is
 * stopped. */
static void body_process(struct jw *w, const struct container_spec *spec)
{
	const struct exec_request *r = spec->req;

	jw_key_str(w, "Image", r->image);
	jw_key_strv(w, "Entrypoint", r->entrypoint);
	jw_key_strv(w, "Cmd", r->cmd);
	jw_key_strv(w, "Env", r->environment);
	jw_key_str(w, "WorkingDir", r->working_directory);
	jw_key_str(w, "User", r->user);
	jw_key_bool(w, "Tty", r->tty);
	/* The executor reads output through /logs, never by attaching. */
	jw_key_bool(w, "AttachStdin", false);
	jw_key_bool(w, "AttachStdout", false);
	jw_key_bool(w, "AttachStderr", false);
	jw_key_bool(w, "OpenStdin", false);
	jw_key_labels(w, "Labels", spec->labels);
	jw_key_str(w, "StopSignal", spec->stop_signal);
	if (spec->stop_timeout_s > 0)
		jw_key_int(w, "StopTimeout", spec->stop_timeout_s);
}

/* Whether ports[i] is not the first binding of its container port: several
 * bindings of one container port share its key. */
static bool port_seen_before(const struct exec_request *r, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (r->ports[j].container_port == r->ports[i].container_port &&
		    strcmp(r->ports[j].protocol, r->ports[i].protocol) == 0)
			return true;
	return false;
}

/* "<port>/<protocol>", the key of ExposedPorts and PortBindings. */
static char *port_key(const struct port_spec *p)
{
	return compat_pathf("%lld/%s", (long long)p->container_port, p->protocol);
}

/* ExposedPorts: one empty object per container port. */
static void body_exposed_ports(struct jw *w, const struct exec_request *r)
{
	if (r->n_ports == 0)
		return;
	jw_key(w, "ExposedPorts");
	jw_map_open(w);
	for (size_t i = 0; i < r->n_ports; i++) {
		_cleanup_free_ char *key = port_key(&r->ports[i]);

		if (!key) {
			w->failed = true;
			break;
		}
		if (port_seen_before(r, i))
			continue;
		jw_key(w, key);
		jw_map_open(w);
		jw_map_close(w);
	}
	jw_map_close(w);
}

/* HostConfig's limits: CPUs, memory (no swap on top), processes. */
static void host_resources(struct jw *w, const struct exec_request *r)
{
	if (r->cpu_cores > 0)
		jw_key_int(w, "NanoCpus", llround(r->cpu_cores * 1e9));
	jw_key_str(w, "CpusetCpus", r->cpuset_cpus);
	if (r->memory_bytes > 0) {
		jw_key_int(w, "Memory", r->memory_bytes);
		/* Equal to Memory: no swap on top, so a memory limit is a limit. */
		jw_key_int(w, "MemorySwap", r->memory_bytes);
	}
	if (r->pids_limit > 0)
		jw_key_int(w, "PidsLimit", r->pids_limit);
}

/* HostConfig's root filesystem, capabilities and no-new-privileges. */
static void host_security(struct jw *w, const struct exec_request *r)
{
	if (r->read_only_rootfs)
		jw_key_bool(w, "ReadonlyRootfs", true);
	jw_key_strv(w, "CapAdd", r->cap_add);
	jw_key_strv(w, "CapDrop", r->cap_drop);
	if (r->no_new_privileges) {
		jw_key(w, "SecurityOpt");
		jw_array_open(w);
		jw_str(w, "no-new-privileges");
		jw_array_close(w);
	}
}

static void jw_bind(struct jw *w, const char *source, const char *target, bool ro)
{
	_cleanup_free_ char *bind =
	    compat_pathf("%s:%s%s", source ? source : "", target ? target : "", ro ? ":ro" : "");

	if (!bind)
		w->failed = true;
	else
		jw_str(w, bind);
}

/* HostConfig.Binds: the inputs, then the outputs under results_dir. */
static void host_binds(struct jw *w, const struct exec_request *r)
{
	if (r->n_inputs == 0 && r->n_outputs == 0)
		return;
	jw_key(w, "Binds");
	jw_array_open(w);
	for (size_t i = 0; i < r->n_inputs; i++)
		jw_bind(w, r->inputs[i].source, r->inputs[i].target, r->inputs[i].read_only);
	/* Outputs: results_dir/<source>, made by results_dir_prepare(). */
	for (size_t i = 0; i < r->n_outputs; i++) {
		_cleanup_free_ char *src = compat_pathf(
		    "%s/%s", r->results_dir ? r->results_dir : "", r->outputs[i].source);

		if (!src)
			w->failed = true;
		else
			jw_bind(w, src, r->outputs[i].target, false);
	}
	jw_array_close(w);
}

/* The bindings of ports[i]'s container port, from i on. */
static void port_bindings_of(struct jw *w, const struct exec_request *r, size_t i)
{
	const struct port_spec *p = &r->ports[i];

	jw_array_open(w);
	for (size_t j = i; j < r->n_ports; j++) {
		const struct port_spec *q = &r->ports[j];
		_cleanup_free_ char *hp = compat_pathf("%lld", (long long)q->host_port);

		if (q->container_port != p->container_port || strcmp(q->protocol, p->protocol) != 0)
			continue;
		jw_map_open(w);
		jw_key_str(w, "HostIp", q->host_ip ? q->host_ip : "");
		/* "" (not "0") asks for an ephemeral port on both engines. */
		jw_key_str(w, "HostPort", q->host_port ? (hp ? hp : "") : "");
		jw_map_close(w);
	}
	jw_array_close(w);
}

/* HostConfig.PortBindings: one key per container port, its bindings. */
static void host_port_bindings(struct jw *w, const struct exec_request *r)
{
	if (r->n_ports == 0)
		return;
	jw_key(w, "PortBindings");
	jw_map_open(w);
	for (size_t i = 0; i < r->n_ports; i++) {
		_cleanup_free_ char *key = port_key(&r->ports[i]);
		_cleanup_free_ char *hport = compat_pathf("%lld", (long long)r->ports[i].host_port);

		if (!key || !hport) {
			w->failed = true;
			break;
		}
		if (port_seen_before(r, i))
			continue;
		jw_key(w, key);
		port_bindings_of(w, r, i);
	}
	jw_map_close(w);
}

/* One HostConfig.Devices entry, same path inside. */
static void jw_device(struct jw *w, const char *path)
{
	jw_map_open(w);
	jw_key_str(w, "PathOnHost", path);
	jw_key_str(w, "PathInContainer", path);
	jw_key_str(w, "CgroupPermissions", "rwm");
	jw_map_close(w);
}

/* Docker's NVIDIA GPUs: DeviceRequests for the "nvidia" driver. */
static void jw_device_request(struct jw *w, const struct gpu_spec *g)
{
	jw_map_open(w);
	jw_key_str(w, "Driver", "nvidia");
	if (g->ids)
		jw_key_strv(w, "DeviceIDs", g->ids);
	else
		jw_key_int(w, "Count", g->count ? g->count : -1);
	jw_key(w, "Capabilities");
	jw_array_open(w);
	jw_array_open(w);
	jw_str(w, "gpu");
	jw_array_close(w);
	jw_array_close(w);
	jw_map_close(w);
}

/* GPUs (docs/schema.md, "GPUs"): Devices for AMD and Intel nodes and for
 * NVIDIA's CDI names on Podman (which drops DeviceRequests silently);
 * DeviceRequests for NVIDIA on Docker. */
static void host_gpus(struct jw *w, const struct exec_request *r, bool podman)
{
	bool any_devices = false, any_requests = false;

	for (size_t i = 0; i < r->n_gpus; i++) {
		if (r->gpus[i].vendor != GPU_NVIDIA || podman)
			any_devices = true;
		else
			any_requests = true;
	}
	if (any_devices) {
		jw_key(w, "Devices");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_gpus; i++) {
			strv devs = gpu_devices(&r->gpus[i], podman);

			if (!devs)
				w->failed = true;
			for (size_t j = 0; devs && devs[j]; j++)
				jw_device(w, devs[j]);
			strv_free(devs);
		}
		jw_array_close(w);
	}
	if (any_requests) {
		jw_key(w, "DeviceRequests");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_gpus; i++)
			if (r->gpus[i].vendor == GPU_NVIDIA)
				jw_device_request(w, &r->gpus[i]);
		jw_array_close(w);
	}
}

static void create_body(struct jw *w, const struct container_spec *spec, bool podman)
{
	const struct exec_request *r = spec->req;

	jw_map_open(w);
	body_process(w, spec);
	body_exposed_ports(w, r);
	jw_key(w, "HostConfig");
	jw_map_open(w);
	host_resources(w, r);
	jw_key_str(w, "NetworkMode", spec->network ? spec->network : r->network_mode);
	host_security(w, r);
	host_binds(w, r);
	host_port_bindings(w, r);
	if (r->n_gpus > 0)
		host_gpus(w, r, podman);
	jw_map_close(w);
	jw_map_close(w);
}

/* ---- the create ----------------------------------------------------------- */

int compat_create_body(const struct container_spec *spec, bool podman, char **out)
{
	_cleanup_jw_ struct jw w = {0};
	const char *body = NULL;
	size_t len = 0;
	int rc;

	if (jw_init(&w) != 0)
		return DMS_ERR_INTERNAL;
	create_body(&w, spec, podman);
	if ((rc = compat_jw_body(&w, "container create", &body, &len, NULL)) != 0)
		return rc;
	if (!(*out = strndup(body, len)))
		return DMS_ERR_INTERNAL;
	return 0;
}

int compat_container_create(struct runtime *rt, dms_context *ctx, const struct container_spec *spec,
                            char **id_out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_jw_ struct jw w = {0};
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *ename = NULL, *path = NULL;
	const char *op = "container create", *name, *id;
	const struct compat_flavor *flavor = NULL;
	bool podman;
	struct http_request req;
	int rc;

	if (!spec || !spec->req || !spec->req->image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "container create: no image given");
	name = spec->name;
	if (name && !(ename = http_urlencode(name)))
		return compat_oom(err);
	if (!(path = ename ? compat_pathf("/containers/create?name=%s", ename)
	                   : strdup("/containers/create")))
		return compat_oom(err);
	if ((rc = compat_flavor_of(rt, ctx, op, name, &flavor, err)) != 0)
		return rc;
	podman = flavor == &compat_podman_flavor;
	if (spec->req->n_gpus && (rc = compat_gpus_available(rt, ctx, spec->req, podman, err)) != 0)
		return rc;
	if (jw_init(&w) != 0)
		return compat_oom(err);
	create_body(&w, spec, podman);
	req = COMPAT_REQ("POST", path);
	if ((rc = compat_jw_body(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;

	if ((rc = compat_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status == 404) /* the only thing create looks up is the image */
		return compat_http_failure(&resp, COMPAT_IMAGE, op, spec->req->image, err);
	if (resp.status != 201)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, name, err);
	/* "Warnings" are advisory (e.g. limits the kernel cannot enforce). */
	root = compat_parse_json(resp.body.data);
	if (!(id = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_CONTAINER, op, name, err);
	if (id_out && !(*id_out = strdup(id)))
		return compat_oom(err);
	return 0;
}
