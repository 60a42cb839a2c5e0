/* plugin.c — the plugin's one exported symbol and its operation table.
 * Everything else in the .so is hidden (CMake visibility preset plus
 * plugin-api/dms-executor.map). */
#include <dms/executor.h>

#include "context.h"
#include "error.h"
#include "executor.h"

#include <stdlib.h>

#define DMS_EXPORT __attribute__((visibility("default")))

static void string_free(char *s)
{
	free(s);
}

static const dms_executor_ops ops = {
    .struct_size = sizeof(dms_executor_ops),
    .context_new = ctx_new,
    .context_cancel = ctx_cancel,
    .context_free = ctx_free,
    .error_free = err_free,
    .string_free = string_free,
    .new_executor = executor_new,
    .destroy = executor_destroy,
    .set_event_handler = executor_set_event_handler,
    .is_installed = executor_is_installed,
    .start = executor_start,
    .wait = executor_wait,
    .wait_async = executor_wait_async,
    .cancel = executor_cancel,
    .get_log_stream = executor_get_log_stream,
    .run = executor_run,
    .cleanup = executor_cleanup,
    .list = executor_list,
    .image_import = executor_image_import,
    .set_pull_progress_handler = executor_set_pull_progress_handler,
    .start_job = executor_start_job,
    .signal = executor_signal,
    .pause = executor_pause,
    .resume = executor_resume,
    .stats = executor_stats,
    .stats_stream = executor_stats_stream,
    .inspect = executor_inspect,
    /* exec (exec.c) */
    .exec = executor_exec,
    .exec_resize = executor_exec_resize,
    .exec_wait = executor_exec_wait,
    .exec_wait_async = executor_exec_wait_async,
};

static const dms_executor_plugin descriptor = {
    .struct_size = sizeof(dms_executor_plugin),
    .abi_major = DMS_EXECUTOR_ABI_MAJOR,
    .abi_minor = DMS_EXECUTOR_ABI_MINOR,
    .name = "dms-executor",
    .version = DMS_VERSION,
    .ops = &ops,
};

DMS_EXPORT const dms_executor_plugin *dms_executor_plugin_entry(uint32_t host_abi_major)
{
	return host_abi_major == DMS_EXECUTOR_ABI_MAJOR ? &descriptor : NULL;
}
