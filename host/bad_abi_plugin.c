/* bad_abi_plugin.c — a test-only plugin that claims ABI major 999, so the
 * plugin-loading tests can check that dms-host and dmsctl refuse it with a
 * message naming the path and both majors. Never installed. */
#include <stddef.h>
#include <dms/executor.h>

__attribute__((visibility("default"))) const dms_executor_plugin *
dms_executor_plugin_entry(uint32_t host_abi_major)
{
	static const dms_executor_ops ops = {.struct_size = sizeof(dms_executor_ops)};
	static const dms_executor_plugin desc = {
	    .struct_size = sizeof(dms_executor_plugin),
	    .abi_major = 999,
	    .abi_minor = 0,
	    .name = "dms-bad-abi-plugin",
	    .version = "0",
	    .ops = &ops,
	};

	(void)host_abi_major; /* answers anyway: the host must check */
	return &desc;
}
