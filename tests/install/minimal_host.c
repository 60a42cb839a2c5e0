/* minimal_host.c — a third-party host built only against the installed
 * header (pkg-config dms-executor): dlopen the plugin, create an executor,
 * Run `echo hello`, print the result. tests/install/check.sh builds and runs
 * it; it must compile with nothing from this source tree. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <dms/executor.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PLUGIN CONFIG_YAML REQUEST_JSON\n", argv[0]);
		return 2;
	}
	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
		return 1;
	}
	dms_executor_plugin_entry_fn entry =
	    (dms_executor_plugin_entry_fn)dlsym(dl, DMS_EXECUTOR_ENTRY_SYMBOL);
	const dms_executor_plugin *p = entry ? entry(DMS_EXECUTOR_ABI_MAJOR) : NULL;
	if (!p || p->abi_major != DMS_EXECUTOR_ABI_MAJOR) {
		fprintf(stderr, "%s: no compatible entry point\n", argv[1]);
		return 1;
	}
	const dms_executor_ops *ops = p->ops;
	dms_executor *ex = NULL;
	dms_error *err = NULL;
	char *result = NULL;
	int rc = ops->new_executor("minimal-host", argv[2], &ex, &err);
	if (rc == 0)
		rc = ops->run(ex, NULL, argv[3], &result, &err);
	if (rc != 0) {
		fprintf(stderr, "error %s: %s\n", dms_status_name(rc), err ? err->message : "?");
		ops->error_free(err);
	} else {
		printf("%s\n", result);
		ops->string_free(result);
	}
	if (ex)
		ops->cleanup(ex, NULL, NULL);
	ops->destroy(ex);
	dlclose(dl);
	return rc == 0 ? 0 : 1;
}
