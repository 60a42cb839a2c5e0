/* plugin.c — dlopen()ing executor plugins and checking their descriptor
 * (see plugin.h). */
#include "plugin.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The operations the host calls without DMS_OP_AVAILABLE(): a table
 * shorter than this is refused. `list` is optional. */
#define REQUIRED_OPS_SIZE (offsetof(dms_executor_ops, cleanup) + sizeof(void *))
#define REQUIRED_DESC_SIZE (offsetof(dms_executor_plugin, ops) + sizeof(void *))

int host_plugin_load(const char *path, struct host_plugin **out, char **why)
{
	dms_executor_plugin_entry_fn entry;
	const dms_executor_plugin *desc;
	void *dl;

	if (!path || path[0] != '/') {
		*why = host_asprintf("%s: plugin paths must be absolute", path ? path : "(null)");
		return -1;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();
		*why = host_asprintf("%s: cannot load plugin: %s", path, e ? e : "unknown error");
		return -1;
	}
	dlerror();
	*(void **)&entry = dlsym(dl, DMS_EXECUTOR_ENTRY_SYMBOL);
	if (!entry) {
		const char *e = dlerror();
		*why = host_asprintf("%s: not an executor plugin: no symbol %s (%s)", path,
		                     DMS_EXECUTOR_ENTRY_SYMBOL, e ? e : "NULL");
		goto fail;
	}
	desc = entry(DMS_EXECUTOR_ABI_MAJOR);
	if (!desc) {
		*why = host_asprintf("%s: the plugin does not implement ABI major %u", path,
		                     DMS_EXECUTOR_ABI_MAJOR);
		goto fail;
	}
	if (desc->struct_size < REQUIRED_DESC_SIZE) {
		*why = host_asprintf("%s: plugin descriptor too short (%u bytes, need %zu)", path,
		                     desc->struct_size, (size_t)REQUIRED_DESC_SIZE);
		goto fail;
	}
	if (desc->abi_major != DMS_EXECUTOR_ABI_MAJOR) {
		*why = host_asprintf("%s: plugin ABI major %u, this host speaks %u", path,
		                     desc->abi_major, DMS_EXECUTOR_ABI_MAJOR);
		goto fail;
	}
	if (!desc->ops || desc->ops->struct_size < REQUIRED_OPS_SIZE) {
		*why = host_asprintf("%s: plugin operation table missing or too short (%u bytes, "
		                     "need %zu)",
		                     path, desc->ops ? desc->ops->struct_size : 0,
		                     (size_t)REQUIRED_OPS_SIZE);
		goto fail;
	}
	const dms_executor_ops *o = desc->ops;
	if (!o->context_new || !o->context_cancel || !o->context_free || !o->error_free ||
	    !o->string_free || !o->new_executor || !o->destroy || !o->set_event_handler ||
	    !o->is_installed || !o->start || !o->wait || !o->wait_async || !o->cancel ||
	    !o->get_log_stream || !o->run || !o->cleanup) {
		*why =
		    host_asprintf("%s: plugin operation table has NULL required operations", path);
		goto fail;
	}

	struct host_plugin *p = host_calloc(1, sizeof(*p));
	p->path = host_strdup(path);
	p->dl = dl;
	p->desc = desc;
	p->ops = o;
	*out = p;
	return 0;
fail:
	dlclose(dl);
	return -1;
}

void host_plugin_unload(struct host_plugin *p)
{
	if (!p)
		return;
	if (p->dl)
		dlclose(p->dl);
	free(p->path);
	free(p);
}

char *host_error_text(const dms_error *err)
{
	struct host_buf b;
	const char *sep = " (";

	if (!err)
		return host_strdup("unknown error");
	host_buf_init(&b, 0);
	host_buf_puts(&b, err->message ? err->message : dms_status_name(err->category));
	if (err->operation && *err->operation) {
		host_buf_printf(&b, "%soperation: %s", sep, err->operation);
		sep = "; ";
	}
	if (err->resource && *err->resource) {
		host_buf_printf(&b, "%sresource: %s", sep, err->resource);
		sep = "; ";
	}
	if (err->engine_text && *err->engine_text) {
		host_buf_printf(&b, "%sengine: %s", sep, err->engine_text);
		sep = "; ";
	}
	if (strcmp(sep, "; ") == 0)
		host_buf_puts(&b, ")");
	return host_buf_steal(&b);
}
