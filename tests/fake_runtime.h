/* fake_runtime.h — an in-memory runtime implementing struct runtime_ops for
 * unit tests (never the proof that a feature works: integration tests run
 * against real engines).
 *
 * The fake is one process-wide "engine": every open() returns a handle to
 * the same state, so two executors (or an executor and its successor after a
 * simulated crash) see the same containers, as they would on one Docker
 * daemon. Functions below that take `struct runtime *rt` accept NULL for
 * that global engine; passing a handle is the same thing.
 *
 * Behaviour, in engine terms:
 *   - Images exist only once added (fake_runtime_add_image). create with an
 *     unknown image -> DMS_ERR_IMAGE; pull succeeds only for images added
 *     with fake_runtime_add_registry_image (and then makes them local).
 *   - create: a taken name -> DMS_ERR_CONTAINER with Docker's 409 conflict
 *     text as engine_text. The container is CS_CREATED.
 *   - start spawns nothing: the container is CS_RUNNING until the test ends
 *     it with fake_runtime_exit(), or until stop/kill/remove(force). Images
 *     added with fake_runtime_add_image_autoexit end on their own right
 *     after start (before start returns, like a very fast process).
 *   - Exits store the output as Docker-framed log frames (one frame per
 *     line; raw bytes for tty containers) and deliver RT_EV_OOM (when oom)
 *     then RT_EV_DIE to every event stream whose label filter matches.
 *   - stop: already stopped is OK; otherwise exit 128+stop signal (143 for
 *     SIGTERM), or 137 at once when the container ignores its stop signal
 *     (the grace period is not waited out). kill: exit 128+signal; signals
 *     that are ignored by default (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) and a
 *     stop signal the container ignores change nothing; a container that is
 *     not running -> DMS_ERR_CONTAINER (409).
 *   - remove: gone is OK; running without force -> DMS_ERR_CONTAINER; with
 *     force kills (exit 137, DIE) then removes (RT_EV_DESTROY).
 *   - events: registers, calls ready(), then delivers events (and, with
 *     since_ns > 0, the remembered ones since then) until ctx is done (its
 *     status is returned), fn returns non-zero (0), or the stream is
 *     dropped (DMS_ERR_RUNTIME_UNAVAILABLE).
 *   - logs: non-follow returns the stored frames; follow also waits for
 *     frames written later and returns once the container is not running.
 *   - pause / unpause: CS_RUNNING <-> CS_PAUSED; otherwise DMS_ERR_CONTAINER
 *     (409). A paused container is not running for stop and kill: they
 *     answer 409 (the executor must thaw it first).
 *   - stats: the sample given to fake_runtime_set_stats (else 1 MiB in use,
 *     1 pid), stamped now; not running or paused -> DMS_ERR_CONTAINER.
 *   - While down (fake_runtime_set_down) every operation but open/close
 *     fails with DMS_ERR_RUNTIME_UNAVAILABLE and event streams are dropped.
 * Thread-safe: one global mutex; callbacks are called without it held. */
#ifndef DMS_FAKE_RUNTIME_H
#define DMS_FAKE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

extern const struct runtime_ops fake_runtime_ops;

/* Forgets every container, image, network, volume, remembered event,
 * counter and injected failure, and comes back up. Call it from a fixture
 * when no executor uses the fake. Open event streams are dropped. */
void fake_runtime_reset(void);

/* Images present locally / pullable from the fake "registry". */
void fake_runtime_add_image(const char *ref);
void fake_runtime_add_registry_image(const char *ref);
/* A local image whose containers exit by themselves right after start with
 * this code and output (either string may be NULL). */
void fake_runtime_add_image_autoexit(const char *ref, int exit_code, const char *out,
                                     const char *err);
bool fake_runtime_has_image(const char *ref);

/* Ends a running container: exit code, output (NUL-terminated strings,
 * either may be NULL), OOM flag. Returns 0, DMS_ERR_NOT_FOUND, or
 * DMS_ERR_CONTAINER when it is not running. */
int fake_runtime_exit(struct runtime *rt, const char *name_or_id, int exit_code, const char *out,
                      const char *err, bool oom);
/* The same with explicit lengths (binary output, NUL bytes). */
int fake_runtime_exit_bytes(struct runtime *rt, const char *name_or_id, int exit_code,
                            const void *out, size_t out_len, const void *err, size_t err_len,
                            bool oom);
/* Output produced while running (seen by followers). Either may be NULL. */
int fake_runtime_write(struct runtime *rt, const char *name_or_id, const char *out,
                       const char *err);

/* The container ignores its stop signal (SIGTERM): stop ends it with 137.
 * name_or_id NULL sets the default for containers created afterwards. */
void fake_runtime_set_ignores_sigterm(const char *name_or_id, bool ignores);

/* closed: image pulls block until reopened or their context ends (with
 * progress: calling the progress callback every 20 ms while blocked). */
void fake_runtime_set_pull_gate(bool closed, bool progress);

/* What container_stats answers for the container from now on. */
int fake_runtime_set_stats(const char *name_or_id, const struct container_stats *s);

/* Engine up/down. Going down drops every event stream. */
void fake_runtime_set_down(bool down);
/* Drops every event stream (a connection reset) without going down. */
void fake_runtime_drop_streams(void);
/* From now on, created containers report `setting` (a Docker API name:
 * "Memory", "CapDrop", "PortBindings"... as in verify.c's table) as not
 * applied, like an engine that silently ignores it; NULL or "" undoes it.
 * Other settings are reported as dockerd does. */
void fake_runtime_drop_setting(const char *setting);
/* The next `times` calls of `op` fail with `category` (op names are the
 * runtime_ops field names: "container_create", "image_pull", "events", ...).
 * times 0 clears. */
void fake_runtime_fail_next(const char *op, dms_status category, int times);
/* How many times `op` was called since the last reset. */
int fake_runtime_op_count(const char *op);

/* A container that the executor did not create (recovery and "foreign"
 * cleanup tests): labels "k=v" (NULL-terminated, may be NULL), status
 * CS_CREATED, CS_RUNNING or CS_EXITED (with exit_code). Returns its id
 * (caller frees) or NULL when the name is taken. */
char *fake_runtime_add_container(const char *name, const char *image, const char *const *labels,
                                 enum container_status status, int exit_code);

/* What create was given, for assertions. Strings owned by the struct. */
struct fake_container_info {
	char *id;
	char *name;
	char *image;
	enum container_status status;
	int exit_code;
	bool oom_killed;
	bool tty;
	strv labels;
	strv entrypoint;
	strv cmd;
	strv environment;
	char *user;
	char *working_directory;
	char *network_mode;
	char *stop_signal;
	int stop_timeout_s;
	double cpu_cores;
	int64_t memory_bytes;
	int64_t pids_limit;
	size_t n_mounts;
};
/* false when there is no such container. */
bool fake_runtime_get(const char *name_or_id, struct fake_container_info *out);
void fake_container_info_free(struct fake_container_info *i);

bool fake_runtime_exists(const char *name_or_id);
/* CS_UNKNOWN when there is no such container. */
enum container_status fake_runtime_status(const char *name_or_id);
/* The exit watch (runtime.h container_watch), not in fake_runtime_ops:
 * tests that want it put it in a copy of the table. Calls attached(), then
 * returns 0 once the container is not running (or is gone), or when
 * fake_runtime_drop_streams() is called, as a dropped connection looks the
 * same; DMS_ERR_RUNTIME_UNAVAILABLE when the engine goes down; ctx's status
 * when it ends. */
int fake_container_watch(struct runtime *rt, dms_context *ctx, const char *id,
                         void (*attached)(void *ud), void *ud, dms_error **err);
/* Watches currently held. */
int fake_runtime_watch_count(void);
/* Muted: events are remembered (a reconnect with `since` gets them) but
 * no open stream is told, like an engine whose stream lags behind. */
void fake_runtime_set_events_muted(bool muted);

/* Sticky: a log follow does not end when the container stops (only when
 * it is removed or its context ends), like an engine that notices the end
 * late (Podman's follow: by polling). */
void fake_runtime_set_follow_sticky(bool sticky);

/* Containers having label "k=v" or key "k" (NULL: all). */
size_t fake_runtime_count(const char *label);
size_t fake_runtime_network_count(const char *label);
size_t fake_runtime_volume_count(const char *label);
/* Event streams currently open; runtime handles currently open. */
int fake_runtime_stream_count(void);
int fake_runtime_open_count(void);

/* Deadlined waits for tests (never fixed sleeps). true when reached. */
bool fake_runtime_wait_status(const char *name_or_id, enum container_status status,
                              int64_t timeout_ms);
bool fake_runtime_wait_streams(int min_streams, int64_t timeout_ms);
bool fake_runtime_wait_gone(const char *name_or_id, int64_t timeout_ms);

#endif
