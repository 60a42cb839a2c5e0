/* compat_stats.c — one resource sample of a running container: GET
 * /containers/{id}/stats?stream=false&one-shot=true as a container_stats.
 *
 * Exists to absorb what the engines' samples differ in (measured on
 * dockerd 20.10 and Podman 4.3, cgroup v1; docs/engine-api.md, "Stats"):
 * dockerd reports cpu_usage.total_usage and memory max_usage (the cgroup
 * v1 peak), Podman's compat answer has neither — its CPU time is the sum
 * of percpu_usage (or kernel + user mode) and it has no peak; cgroup v2
 * engines name the block I/O ops "read"/"write" and the file cache
 * "inactive_file" where v1 says "Read"/"Write" and "total_inactive_file".
 * A container that no longer runs is answered with an empty sample whose
 * "read" is the zero time: that is DMS_ERR_CONTAINER, never a sample of
 * zeros (the usage of a finished job would drop to nothing).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "compat_internal.h"
#include "compat_fuzz.h"

static uint64_t u64_at(yajl_val root, const char **path)
{
	long long v = 0;

	return compat_jint(root, path, &v) && v > 0 ? (uint64_t)v : 0;
}

/* The sum of an array of integers (percpu_usage). */
static uint64_t u64_sum(yajl_val root, const char **path)
{
	yajl_val a = yajl_tree_get(root, path, yajl_t_array);
	uint64_t sum = 0;

	for (size_t i = 0; a && i < a->u.array.len; i++)
		if (YAJL_IS_INTEGER(a->u.array.values[i]) &&
		    YAJL_GET_INTEGER(a->u.array.values[i]) > 0)
			sum += (uint64_t)YAJL_GET_INTEGER(a->u.array.values[i]);
	return sum;
}

/* A stats document -> *out (also compat_fuzz_stats's entry). */
static int stats_from_json(yajl_val root, const char *id, struct container_stats *out,
                           dms_error **err)
{
	const char *op = "container stats", *read;
	struct container_stats st = {0};
	yajl_val v;

	if (!YAJL_IS_OBJECT(root))
		return compat_bad_json(COMPAT_CONTAINER, op, id, err);
	read = compat_jstr(root, JPATH("read"));
	st.read_ns = read ? parse_rfc3339(read) : 0;
	if (st.read_ns <= 0)
		return err_engine(err, DMS_ERR_CONTAINER, op, id, NULL,
		                  "container %s is not running: the engine has no sample", id);

	st.cpu_ns = u64_at(root, JPATH("cpu_stats", "cpu_usage", "total_usage"));
	if (!st.cpu_ns)
		st.cpu_ns = u64_sum(root, JPATH("cpu_stats", "cpu_usage", "percpu_usage"));
	if (!st.cpu_ns)
		st.cpu_ns = u64_at(root, JPATH("cpu_stats", "cpu_usage", "usage_in_kernelmode")) +
		            u64_at(root, JPATH("cpu_stats", "cpu_usage", "usage_in_usermode"));
	st.system_cpu_ns = u64_at(root, JPATH("cpu_stats", "system_cpu_usage"));
	st.online_cpus = (uint32_t)u64_at(root, JPATH("cpu_stats", "online_cpus"));

	uint64_t usage = u64_at(root, JPATH("memory_stats", "usage"));
	uint64_t cache = u64_at(root, JPATH("memory_stats", "stats", "total_inactive_file"));
	if (!cache)
		cache = u64_at(root, JPATH("memory_stats", "stats", "inactive_file"));
	st.mem_usage = cache < usage ? usage - cache : usage;
	st.mem_limit = u64_at(root, JPATH("memory_stats", "limit"));
	st.mem_peak = u64_at(root, JPATH("memory_stats", "max_usage"));
	st.pids = u64_at(root, JPATH("pids_stats", "current"));

	v = yajl_tree_get(root, JPATH("networks"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		st.net_rx += u64_at(v->u.object.values[i], JPATH("rx_bytes"));
		st.net_tx += u64_at(v->u.object.values[i], JPATH("tx_bytes"));
	}
	v = yajl_tree_get(root, JPATH("blkio_stats", "io_service_bytes_recursive"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		const char *o = compat_jstr(v->u.array.values[i], JPATH("op"));
		uint64_t n = u64_at(v->u.array.values[i], JPATH("value"));

		if (o && strcasecmp(o, "read") == 0)
			st.blk_read += n;
		else if (o && strcasecmp(o, "write") == 0)
			st.blk_write += n;
	}
	*out = st;
	return 0;
}

int compat_container_stats(struct runtime *rt, dms_context *ctx, const char *id,
                           struct container_stats *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container stats";
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	/* one-shot (API 1.41): no second sample a second later for precpu;
	 * older engines ignore it and answer after that second. */
	if (!(esc = compat_path_escape(id)) ||
	    !(path = compat_pathf("/containers/%s/stats?stream=false&one-shot=true", esc)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, id, &root, err)) != 0)
		return rc;
	return stats_from_json(root, id, out, err);
}

int compat_fuzz_stats(const char *json, struct container_stats *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(json);

	if (!root)
		return compat_bad_json(COMPAT_CONTAINER, "container stats", "fuzz", err);
	return stats_from_json(root, "fuzz", out, err);
}
