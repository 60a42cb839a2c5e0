/* bus_names.c — the status <-> D-Bus error name mapping (bus_names.h). */
#include "bus_names.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <dms/executor.h>

#define N_STATUSES (DMS_ERR_PERMISSION_DENIED + 1)

/* Built once from dms_status_name(), so the names cannot disagree with
 * the ABI header's. */
static char error_names[N_STATUSES][64];
static pthread_once_t error_names_once = PTHREAD_ONCE_INIT;

static void error_names_init(void)
{
	for (int s = 0; s < N_STATUSES; s++)
		snprintf(error_names[s], sizeof(error_names[s]), BUS_ERROR_PREFIX "%s",
		         dms_status_name(s == DMS_OK ? DMS_ERR_INTERNAL : (dms_status)s));
}

const char *bus_error_name(int status)
{
	pthread_once(&error_names_once, error_names_init);
	if (status <= DMS_OK || status >= N_STATUSES)
		status = DMS_ERR_INTERNAL;
	return error_names[status];
}

int bus_error_status(const char *name)
{
	if (!name || strncmp(name, BUS_ERROR_PREFIX, strlen(BUS_ERROR_PREFIX)) != 0)
		return -1;
	for (int s = DMS_OK + 1; s < N_STATUSES; s++)
		if (strcmp(name, bus_error_name(s)) == 0)
			return s;
	return -1;
}
