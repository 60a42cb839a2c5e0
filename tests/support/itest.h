/* itest.h — support for integration tests: the plugin loaded the way a
 * third-party host loads it (dlopen + the installed header only), the engine
 * under test (DMS_ENGINE=docker|podman, sockets from scripts/engines.sh),
 * and small JSON helpers for results. */
#ifndef DMS_ITEST_H
#define DMS_ITEST_H

#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>
#include <dms/executor.h>

struct itest_plugin {
	void *dl;
	const dms_executor_plugin *desc;
	const dms_executor_ops *ops;
};

/* dlopen(DMS_PLUGIN_PATH) and the entry symbol; asserts on failure. */
void itest_plugin_load(struct itest_plugin *p);
void itest_plugin_unload(struct itest_plugin *p);

const char *itest_engine(void);      /* "docker" | "podman" | "swarm" */
bool itest_swarm(void);              /* DMS_ENGINE=swarm: jobs are services (docs/swarm.md) */
const char *itest_engine_host(void); /* unix:///tmp/dms-run/docker.sock ... */
const char *itest_image(void);       /* dms-test/busybox:latest */

/* A fresh executor id unique to this process and call. Caller frees. */
char *itest_unique_id(const char *prefix);
/* The YAML config for the engine under test plus `extra` lines. Caller frees. */
char *itest_config(const char *extra);

/* A request JSON running `sh -c script` in the test image. Caller frees.
 * extra_params: more members for engine_spec.params (e.g. "\"tty\":true")
 * extra_top: more top-level members (e.g. "\"timeout\":2"); both may be NULL. */
char *itest_request(const char *execution_id, const char *script, const char *extra_params,
                    const char *extra_top);

/* Starts itest_request(...) on ex / waits for exec_id's result; assert
 * success, naming the error. wait returns the result JSON (free it with
 * p->ops->string_free). */
void itest_start_ok(const struct itest_plugin *p, dms_executor *ex, const char *exec_id,
                    const char *script, const char *extra_params, const char *extra_top);
char *itest_wait_ok(const struct itest_plugin *p, dms_executor *ex, const char *exec_id);

/* Result JSON accessors (assert on malformed JSON). */
yajl_val itest_json(const char *text);
long long itest_int(yajl_val root, const char *key);
bool itest_bool(yajl_val root, const char *key);
const char *itest_str(yajl_val root, const char *key); /* NULL if null */

/* Monotonic milliseconds. */
int64_t itest_now_ms(void);

/* Reads fd to EOF (deadline_ms from now) into a malloc'd buffer. Returns
 * the length, or -1 on timeout. */
long itest_read_all(int fd, char **out, int64_t deadline_ms);
/* The first 4 KiB of dir/name as a string (asserts it exists; caller frees). */
char *itest_slurp(const char *dir, const char *name);
/* Decodes a framed stream into its stdout and stderr parts (malloc'd). */
void itest_unframe(const char *data, long len, char **out, char **err);

#endif
