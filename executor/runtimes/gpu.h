/* gpu.h — GPU requests as engine devices. */
#ifndef DMS_GPU_H
#define DMS_GPU_H

#include <stdbool.h>
#include "request.h"

/* The host paths (amd: /dev/kfd and /dev/dri...; intel: /dev/dri...) or,
 * for nvidia with cdi, the CDI names ("nvidia.com/gpu=0") a GPU request
 * maps as devices; empty for nvidia without cdi (Docker's DeviceRequests).
 * With ids: /dev/dri/card<N> and /dev/dri/renderD<128+N> (DRM numbering);
 * without: all of /dev/dri. NULL when out of memory. */
strv gpu_devices(const struct gpu_spec *g, bool cdi);

#endif
