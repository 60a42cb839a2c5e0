/* gpu.c — what a GPU request (resources.gpus[]) becomes on an engine that
 * maps GPUs as devices: host device paths for AMD and Intel, CDI names for
 * NVIDIA on Podman (gpu.h). Docker's NVIDIA requests are DeviceRequests
 * instead (compat create body). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

strv gpu_devices(const struct gpu_spec *g, bool cdi)
{
	strv v = calloc(1, sizeof(*v));
	size_t n = 0;
	bool ok = v != NULL;
	char *s;

	if (!ok)
		return NULL;
	if (g->vendor == GPU_NVIDIA) {
		if (!cdi)
			return v; /* DeviceRequests, not devices */
		if (g->ids) {
			for (size_t i = 0; ok && g->ids[i]; i++)
				ok = asprintf(&s, "nvidia.com/gpu=%s", g->ids[i]) >= 0 &&
				     strv_push(&v, &n, s);
		} else if (g->count) {
			for (int64_t i = 0; ok && i < g->count; i++)
				ok = asprintf(&s, "nvidia.com/gpu=%" PRId64, i) >= 0 &&
				     strv_push(&v, &n, s);
		} else {
			ok = strv_push(&v, &n, strdup("nvidia.com/gpu=all"));
		}
	} else {
		if (g->vendor == GPU_AMD)
			ok = strv_push(&v, &n, strdup("/dev/kfd"));
		if (ok && !g->ids)
			ok = strv_push(&v, &n, strdup("/dev/dri"));
		for (size_t i = 0; ok && g->ids && g->ids[i]; i++) {
			long id = strtol(g->ids[i], NULL, 10);

			ok = asprintf(&s, "/dev/dri/card%ld", id) >= 0 && strv_push(&v, &n, s) &&
			     asprintf(&s, "/dev/dri/renderD%ld", 128 + id) >= 0 &&
			     strv_push(&v, &n, s);
		}
	}
	if (!ok) {
		strv_free(v);
		return NULL;
	}
	return v;
}
