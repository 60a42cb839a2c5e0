/* runtime_names.h — the names of the runtimes, in one table for the config's
 * validation, the runtime selection and every message that lists them. A
 * runtime is listed here only once it exists. */
#ifndef DMS_RUNTIME_NAMES_H
#define DMS_RUNTIME_NAMES_H

#include <stdbool.h>

#define RUNTIME_DOCKER "docker"
#define RUNTIME_PODMAN "podman"
#define RUNTIME_SWARM "swarm" /* Docker Swarm mode: a manager (docs/swarm.md); never `auto` */
#define RUNTIME_AUTO "auto" /* not a runtime: ask the engines which one answers */
#define RUNTIME_DEFAULT RUNTIME_DOCKER

/* The runtimes, in the order `auto` tries them; NULL-terminated. */
extern const char *const runtime_names[];

/* A listed runtime or "auto". */
bool runtime_name_valid(const char *name);
/* "docker, podman, swarm, auto": for messages. */
const char *runtime_names_list(void);

#endif
