/* compat_gpu.c — whether this host and engine can provide the GPUs a
 * request asks for, checked before the create (docs/schema.md, "GPUs").
 *
 * Exists so that a GPU the engine cannot provide fails with a Resource
 * error naming it, and leaves no container behind: Podman needs a CDI spec
 * for NVIDIA GPUs, Docker the "nvidia" runtime, both the device nodes.
 * Device nodes are looked up on this host (the engines are reached on
 * local sockets).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compat_internal.h"
#include "gpu.h"

/* Files in the CDI spec directories (the CDI spec's default /etc/cdi and
 * /var/run/cdi) that mention `kind` ("nvidia.com/gpu"): Podman resolves
 * CDI names from them, so none means the GPU cannot be provided. */
static bool cdi_kind_present(const char *kind)
{
	static const char *const dirs[] = {"/etc/cdi", "/var/run/cdi", NULL};

	for (const char *const *d = dirs; *d; d++) {
		DIR *dir = opendir(*d);
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			_cleanup_free_ char *path = NULL;
			char buf[4096];
			FILE *f;
			size_t n;

			if (e->d_name[0] == '.' || !(path = compat_pathf("%s/%s", *d, e->d_name)) ||
			    !(f = fopen(path, "re")))
				continue;
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, kind)) {
				closedir(dir);
				return true;
			}
		}
		closedir(dir);
	}
	return false;
}

/* Per GPU: the engine's own prerequisite first (a CDI spec for NVIDIA on
 * Podman, the "nvidia" runtime on Docker, asked once), then its device
 * nodes. */
int compat_gpus_available(struct runtime *rt, dms_context *ctx, const struct exec_request *r,
                          bool podman, dms_error **err)
{
	const char *op = "container create";
	bool nvidia_runtime_checked = false;

	for (size_t i = 0; i < r->n_gpus; i++) {
		const struct gpu_spec *g = &r->gpus[i];
		const char *vendor = g->vendor == GPU_NVIDIA ? "nvidia"
		                     : g->vendor == GPU_AMD  ? "amd"
		                                             : "intel";
		_cleanup_free_ char *which = g->ids ? compat_pathf("GPU %s", g->ids[0])
		                                    : strdup(g->count ? "GPUs" : "all GPUs");
		strv devs;

		if (!which)
			return compat_oom(err);
		if (g->vendor == GPU_NVIDIA && podman) {
			if (!cdi_kind_present("nvidia.com/gpu"))
				return err_engine(
				    err, DMS_ERR_RESOURCE, op, "nvidia.com/gpu", NULL,
				    "resources.gpus[%zu]: %s %s cannot be provided: no CDI "
				    "spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi "
				    "(nvidia-ctk cdi generate makes one)",
				    i, vendor, which);
		} else if (g->vendor == GPU_NVIDIA && !nvidia_runtime_checked) {
			_cleanup_yajl_tree_ yajl_val info = NULL;
			int rc = compat_get_api_json(rt, ctx, "/info", COMPAT_ENGINE, "info", NULL,
			                             &info, err);

			if (rc != 0)
				return rc;
			if (!yajl_tree_get(info, JPATH("Runtimes", "nvidia"), yajl_t_object))
				return err_engine(
				    err, DMS_ERR_RESOURCE, op, "nvidia", NULL,
				    "resources.gpus[%zu]: %s %s cannot be provided: the "
				    "engine has no \"nvidia\" runtime (/info Runtimes; "
				    "install the NVIDIA Container Toolkit)",
				    i, vendor, which);
			nvidia_runtime_checked = true;
		}
		if (!(devs = gpu_devices(g, podman)))
			return compat_oom(err);
		for (size_t j = 0; devs[j]; j++) {
			struct stat st;

			if (devs[j][0] != '/' || stat(devs[j], &st) == 0)
				continue;
			int e = errno;
			int rc = err_engine(err, DMS_ERR_RESOURCE, op, devs[j], NULL,
			                    "resources.gpus[%zu]: %s %s cannot be provided: %s: %s",
			                    i, vendor, which, devs[j], strerror(e));
			strv_free(devs);
			return rc;
		}
		strv_free(devs);
	}
	return 0;
}
