/* runtime_names.c — the table of runtime names (runtime_names.h). */
#include <string.h>

#include "runtime_names.h"

const char *const runtime_names[] = {RUNTIME_DOCKER, RUNTIME_PODMAN, RUNTIME_SWARM, NULL};

bool runtime_name_valid(const char *name)
{
	if (!name)
		return false;
	for (size_t i = 0; runtime_names[i]; i++)
		if (strcmp(name, runtime_names[i]) == 0)
			return true;
	return strcmp(name, RUNTIME_AUTO) == 0;
}

const char *runtime_names_list(void)
{
	return RUNTIME_DOCKER ", " RUNTIME_PODMAN ", " RUNTIME_SWARM ", " RUNTIME_AUTO;
}
