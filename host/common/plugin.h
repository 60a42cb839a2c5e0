/* plugin.h — loading executor plugins (dlopen) for dms-host and for
 * dmsctl's embedded mode.
 *
 * One place decides what a loadable plugin is: an absolute path, opened
 * RTLD_NOW|RTLD_LOCAL, exporting DMS_EXECUTOR_ENTRY_SYMBOL, answering our
 * ABI major with a descriptor and an operation table that are at least as
 * long as the fields we call unconditionally. Every failure names the path
 * and the reason (dlerror() verbatim). */
#ifndef DMS_HOST_PLUGIN_H
#define DMS_HOST_PLUGIN_H

#include <dms/executor.h>

struct host_plugin {
	char *path;
	void *dl;
	const dms_executor_plugin *desc;
	const dms_executor_ops *ops;
};

/* On success *out is a loaded plugin (free with host_plugin_unload). On
 * failure returns -1 and *why (caller frees) says what went wrong. */
int host_plugin_load(const char *path, struct host_plugin **out, char **why);
/* dlclose()s the plugin. Call only after every executor it created was
 * destroyed (destroy joins the plugin's threads). Accepts NULL. */
void host_plugin_unload(struct host_plugin *p);

/* Formats an error from the plugin as one line: "message (operation: ...,
 * resource: ..., engine: ...)". Caller frees. */
char *host_error_text(const dms_error *err);

#endif
