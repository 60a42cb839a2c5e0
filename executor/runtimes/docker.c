/* docker.c — the runtime table (runtime.h) for the Docker Engine: where
 * dockerd listens and what is Docker's own about its API.
 *
 * Exists as a thin table over compat.c, which speaks the Engine API for both
 * engines (compat.h): this file holds Docker's socket discovery and Docker's
 * flavor (its event names and the compat /info fingerprint). The flavor is
 * also what compat.c uses for any engine that does not say it is Podman.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"

/* The config's host, then $DOCKER_HOST, then the system socket. */
char *docker_endpoint(const char *host)
{
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DOCKER_DEFAULT_HOST;
	return strdup(host);
}

static int docker_open(const char *host, struct runtime **out, dms_error **err)
{
	char *url = docker_endpoint(host);
	int rc;

	if (!url)
		return compat_oom(err);
	rc = compat_open(url, &compat_docker_flavor, out, err);
	free(url);
	return rc;
}

static const struct compat_event_name docker_events[] = {
    {"start", RT_EV_START},     {"die", RT_EV_DIE},  {"oom", RT_EV_OOM},
    {"destroy", RT_EV_DESTROY}, {NULL, RT_EV_OTHER},
};

static const char *const docker_exit_code_attributes[] = {"exitCode", NULL};

const struct compat_flavor compat_docker_flavor = {
    .kind = "docker",
    .events = docker_events,
    .exit_code_attributes = docker_exit_code_attributes,
    .events_key_only_label_here = false, /* dockerd filters on a bare key */
    .fill_info = NULL,                   /* /info: SecurityOptions, CgroupVersion */
    .image_import = NULL,                /* fromSrc honours repo and tag */
};

const struct runtime_ops docker_runtime_ops = {
    .struct_size = sizeof(struct runtime_ops),
    .kind = "docker",
    .caps = 0, /* GPUs would be DeviceRequests; requests with GPUs are refused */
    .open = docker_open,
    .close = compat_close,
    .ping = compat_ping,
    .image_present = compat_image_present,
    .image_pull = compat_image_pull,
    .image_import = compat_image_import,
    .container_create = compat_container_create,
    .container_start = compat_container_start,
    .container_stop = compat_container_stop,
    .container_kill = compat_container_kill,
    .container_remove = compat_container_remove,
    .container_inspect = compat_container_inspect,
    .container_list = compat_container_list,
    .container_logs = compat_container_logs,
    .events = compat_events,
    .network_create = compat_network_create,
    .volume_create = compat_volume_create,
    .object_list = compat_object_list,
    .object_remove = compat_object_remove,
    .image_id = compat_image_id,
};
