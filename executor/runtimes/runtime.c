/* runtime.c — the table of runtimes by name, the choice of one for a config
 * (including `runtime: auto`), and the free functions of the types runtime.h
 * hands out.
 *
 * Exists so that choosing an engine is one lookup in one small table (the
 * config's `runtime:` key names a row, or `auto` asks which engine answers)
 * and so that every runtime frees its results the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "runtime.h"
#include "runtime_names.h"

/* How long `auto` waits for each engine's /_ping. A local socket answers in
 * milliseconds; this only bounds a hung engine. */
#define RUNTIME_PROBE_TIMEOUT_MS 1000

static const struct {
	const char *name;
	const struct runtime_ops *ops;
	char *(*endpoint)(const char *host); /* its discovery, for `auto`; NULL: never auto */
} runtimes[] = {
    /* `auto` tries them in this order. */
    {RUNTIME_DOCKER, &docker_runtime_ops, docker_endpoint},
    {RUNTIME_PODMAN, &podman_runtime_ops, podman_endpoint},
    /* A swarm is chosen by name: its manager is a dockerd too. */
    {RUNTIME_SWARM, &swarm_runtime_ops, NULL},
};

#define N_RUNTIMES (sizeof(runtimes) / sizeof(runtimes[0]))

const struct runtime_ops *runtime_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N_RUNTIMES; i++)
		if (strcmp(runtimes[i].name, name) == 0)
			return runtimes[i].ops;
	return NULL;
}

static const struct runtime_ops *ops_of_flavor(const struct compat_flavor *f)
{
	return f == &compat_podman_flavor ? &podman_runtime_ops : &docker_runtime_ops;
}

/* A unix socket URL whose file exists (an engine may be starting on it). */
static bool socket_exists(const char *url)
{
	const char *path = strncmp(url, "unix://", 7) == 0 ? url + 7 : url;

	return path[0] == '/' && access(path, F_OK) == 0;
}

/* `auto`: with a host, the engine there says which it is (Podman names
 * itself in Libpod-Api-Version and "Server: Libpod/..."); without one, the
 * first engine whose discovered endpoint answers /_ping. The table's
 * discovery must be the one that found the engine, since open() discovers
 * again. When nothing answers, the first runtime whose socket exists (an
 * engine still starting), else docker: IsInstalled then says no, and the
 * quirks follow whichever engine answers later (compat.h). */
static const struct runtime_ops *runtime_auto(const char *host)
{
	const struct compat_flavor *engine = NULL;
	const struct runtime_ops *present = NULL;

	if (host && *host) {
		if (compat_probe(host, RUNTIME_PROBE_TIMEOUT_MS, &engine, NULL) == 0)
			return ops_of_flavor(engine);
		return &docker_runtime_ops;
	}
	for (size_t i = 0; i < N_RUNTIMES; i++) {
		char *url = runtimes[i].endpoint ? runtimes[i].endpoint(NULL) : NULL;
		int rc;

		if (!url)
			continue;
		rc = compat_probe(url, RUNTIME_PROBE_TIMEOUT_MS, &engine, NULL);
		if (rc != 0 && !present && socket_exists(url))
			present = runtimes[i].ops;
		free(url);
		if (rc == 0)
			return runtimes[i].ops;
	}
	return present ? present : &docker_runtime_ops;
}

int runtime_select(const char *name, const char *host, const struct runtime_ops **out,
                   dms_error **err)
{
	const struct runtime_ops *ops;

	if (name && strcmp(name, RUNTIME_AUTO) == 0)
		ops = runtime_auto(host);
	else
		ops = runtime_by_name(name);
	if (!ops)
		return err_set(err, DMS_ERR_CONFIG, "'%s' is not available (have: %s)",
		               name ? name : "(null)", runtime_names_list());
	*out = ops;
	return 0;
}

void runtime_info_free(struct runtime_info *i)
{
	if (!i)
		return;
	free(i->kind);
	free(i->version);
	free(i->api_version);
	free(i->os);
	free(i->swarm_node_id);
	memset(i, 0, sizeof(*i));
}

void container_state_free(struct container_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->name);
	free(s->error);
	strv_free(s->labels);
	container_settings_free(&s->settings);
	memset(s, 0, sizeof(*s));
}

void container_settings_free(struct container_settings *s)
{
	if (!s)
		return;
	free(s->cpuset_cpus);
	strv_free(s->cap_add);
	strv_free(s->cap_drop);
	strv_free(s->security_opt);
	strv_free(s->mounts);
	strv_free(s->ports);
	free(s->network_mode);
	strv_free(s->networks);
	strv_free(s->devices);
	strv_free(s->device_requests);
	free(s->user);
	free(s->working_dir);
	strv_free(s->env);
	strv_free(s->labels);
	memset(s, 0, sizeof(*s));
}

static void container_summary_clear(struct container_summary *s)
{
	free(s->id);
	free(s->name);
	strv_free(s->labels);
}

void container_summaries_free(struct container_summary *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		container_summary_clear(&v[i]);
	free(v);
}
