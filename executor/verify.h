/* verify.h — the check after create: what the engine reports it applied
 * (runtime.h's struct container_settings, from one inspect) against what
 * the job asked for. An engine that silently ignored a setting (an option
 * it does not know, a kernel without the controller, a compat layer that
 * drops a field) would otherwise run the job without the limit or the
 * protection it asked for and report success. */
#ifndef DMS_VERIFY_H
#define DMS_VERIFY_H

#include <dms/executor.h>
#include "runtime.h"

/* 0 when every requested setting is there; else DMS_ERR_CONTAINER naming
 * the setting, what was asked and what the engine reports. Settings the
 * request leaves to the engine are not looked at; got->known false (a
 * runtime that reports nothing) passes. */
int verify_settings(const struct container_spec *spec, const struct container_settings *got,
                    dms_error **err);

#endif
