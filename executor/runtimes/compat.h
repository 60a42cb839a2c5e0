/* compat.h — internal to executor/runtimes/: the Docker Engine API client
 * that both docker.c and podman.c are thin tables over.
 *
 * Exists because Podman serves the Docker-compatible API too, so nearly every
 * operation is the same code for both engines. What differs per engine is
 * data in a `struct compat_flavor` (event names, which label filters the
 * engine honours) plus two hooks where Podman's libpod API is needed for a
 * correct answer (the fingerprint and image import). The flavor a runtime
 * uses is the one of the engine that answers, learned from the headers of
 * GET /_ping when the API version is negotiated — so a docker table pointed
 * at Podman's socket (DOCKER_HOST=.../podman.sock) still gets Podman's
 * handling. Nothing outside executor/runtimes/ includes this file but the
 * tests. The implementation is one file per concern, compat_*.c, sharing
 * compat_internal.h (docs/engine-api.md, "Where the code is").
 */
#ifndef DMS_RUNTIMES_COMPAT_H
#define DMS_RUNTIMES_COMPAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "context.h"
#include "error.h"
#include "http.h"
#include "runtime.h"

/* Whose error category a failed answer is (runtime.h's mapping). */
enum compat_object {
	COMPAT_ENGINE,
	COMPAT_IMAGE,
	COMPAT_CONTAINER,
	COMPAT_NETWORK,
	COMPAT_VOLUME,
};

/* One engine event Action and what it means to the executor. */
struct compat_event_name {
	const char *action;
	enum runtime_event_kind kind;
};

/* What is different about one engine behind the same API. */
struct compat_flavor {
	const char *kind; /* "docker" | "podman": the fingerprint's runtime */
	/* Container event Actions the executor cares about; ends with a NULL
	 * action. Anything else is RT_EV_OTHER. */
	const struct compat_event_name *events;
	/* Actor attributes holding a die event's exit code, by preference;
	 * ends with NULL. */
	const char *const *exit_code_attributes;
	/* The engine's /events answers nothing for a key-only label filter
	 * ("k" rather than "k=v"): send none and match the key here. */
	bool events_key_only_label_here;
	/* Completes the fingerprint where the compat /info is not the truth
	 * (NULL: rootless and cgroup version from /info). */
	int (*fill_info)(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
	                 dms_error **err);
	/* Replaces POST /images/create?fromSrc=- (NULL: use it). */
	int (*image_import)(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
	                    dms_error **err);
	/* Replaces GET /containers/{id}/logs as it is (NULL: use it), for an
	 * engine whose answers need mending: a follow stream that is not an
	 * exact prefix of the log, errors written into a 200 body. */
	int (*logs)(struct runtime *rt, dms_context *ctx, const char *id,
	            const struct log_options *opts, runtime_log_fn fn, void *ud, dms_error **err);
};

extern const struct compat_flavor compat_docker_flavor; /* docker.c */
extern const struct compat_flavor compat_podman_flavor; /* podman.c */

/* Where each engine listens when the config names no host (docs/engine-api.md,
 * "Engine address"). Never contacts the engine; the result is malloc'd. */
char *docker_endpoint(const char *host);
char *podman_endpoint(const char *host);

/* ---- the runtime_ops implementations both tables use ---------------------- */

/* The members of a runtime_ops that both engines' tables fill with the same
 * compat functions; a table adds its kind, its open and its optional ops. */
#define COMPAT_RUNTIME_OPS                                                                         \
	.struct_size = sizeof(struct runtime_ops), .close = compat_close, .ping = compat_ping,     \
	.image_present = compat_image_present, .image_pull = compat_image_pull,                    \
	.image_import = compat_image_import, .image_id = compat_image_id,                          \
	.container_create = compat_container_create, .container_start = compat_container_start,    \
	.container_stop = compat_container_stop, .container_kill = compat_container_kill,          \
	.container_remove = compat_container_remove,                                               \
	.container_inspect = compat_container_inspect, .container_list = compat_container_list,    \
	.container_logs = compat_container_logs, .events = compat_events,                          \
	.network_create = compat_network_create, .volume_create = compat_volume_create,            \
	.object_list = compat_object_list, .object_remove = compat_object_remove,                  \
	.image_user = compat_image_user, .container_pause = compat_container_pause,                \
	.container_unpause = compat_container_unpause, .container_stats = compat_container_stats,  \
	COMPAT_EXEC_OPS

/* exec (compat_exec.c): the same on both engines. */
#define COMPAT_EXEC_OPS                                                                            \
	.exec_create = compat_exec_create, .exec_start = compat_exec_start,                        \
	.exec_resize = compat_exec_resize, .exec_inspect = compat_exec_inspect

/* A runtime on `url` that speaks `flavor` until the engine says otherwise. */
int compat_open(const char *url, const struct compat_flavor *flavor, struct runtime **out,
                dms_error **err);
/* The same with a URL the caller's discovery made (taken, also on failure;
 * NULL: out of memory). */
int compat_open_owned(char *url, const struct compat_flavor *flavor, struct runtime **out,
                      dms_error **err);
void compat_close(struct runtime *rt);
int compat_ping(struct runtime *rt, dms_context *ctx, struct runtime_info *info, dms_error **err);
int compat_image_present(struct runtime *rt, dms_context *ctx, const char *image, bool *present,
                         dms_error **err);
int compat_image_pull(struct runtime *rt, dms_context *ctx, const char *image,
                      const char *registry_auth, runtime_progress_fn fn, void *ud, dms_error **err);
/* The engine's id of a present image, "sha256:<hex>" (caller frees). */
int compat_image_id(struct runtime *rt, dms_context *ctx, const char *image, char **id,
                    dms_error **err);
int compat_image_import(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
                        dms_error **err);
/* Config.User of a present image ("" when it names none: root). */
int compat_image_user(struct runtime *rt, dms_context *ctx, const char *image, char **user,
                      dms_error **err);
int compat_container_create(struct runtime *rt, dms_context *ctx, const struct container_spec *spec,
                            char **id_out, dms_error **err);
/* The JSON body of POST /containers/create for spec, as the Docker flavor
 * (podman false) or Podman's would send it; for tests. Caller frees. */
int compat_create_body(const struct container_spec *spec, bool podman, char **out);
int compat_container_start(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err);
int compat_container_watch(struct runtime *rt, dms_context *ctx, const char *id,
                           void (*attached)(void *ud), void *ud, dms_error **err);
int compat_container_stop(struct runtime *rt, dms_context *ctx, const char *id, int timeout_s,
                          dms_error **err);
int compat_container_kill(struct runtime *rt, dms_context *ctx, const char *id, const char *signal,
                          dms_error **err);
int compat_container_pause(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err);
int compat_container_unpause(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err);
/* GET /containers/{id}/stats?stream=false&one-shot=true (compat_stats.c). */
int compat_container_stats(struct runtime *rt, dms_context *ctx, const char *id,
                           struct container_stats *out, dms_error **err);
int compat_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                            dms_error **err);
int compat_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                             struct container_state *out, dms_error **err);
int compat_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                          struct container_summary **out, size_t *n, dms_error **err);
int compat_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                          const struct log_options *opts, runtime_log_fn fn, void *ud,
                          dms_error **err);
int compat_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                  runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err);
int compat_network_create(struct runtime *rt, dms_context *ctx, const char *name, const strv labels,
                          bool internal, char **id_out, dms_error **err);
int compat_volume_create(struct runtime *rt, dms_context *ctx, const char *name, const strv labels,
                         dms_error **err);
int compat_object_list(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                       const char *label, strv *out, dms_error **err);
int compat_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                         const char *id, dms_error **err);

/* exec (compat_exec.c; runtime.h, "exec"). */
int compat_exec_create(struct runtime *rt, dms_context *ctx, const char *container_id,
                       const struct exec_command *cmd, char **exec_id, dms_error **err);
int compat_exec_start(struct runtime *rt, dms_context *ctx, const char *exec_id, bool tty, int *fd,
                      dms_error **err);
int compat_exec_resize(struct runtime *rt, dms_context *ctx, const char *exec_id, uint32_t rows,
                       uint32_t cols, dms_error **err);
int compat_exec_inspect(struct runtime *rt, dms_context *ctx, const char *exec_id,
                        struct exec_status *out, dms_error **err);

/* ---- for runtime selection (runtime.c) ------------------------------------ */

/* GET /_ping on `url` within timeout_ms. 0 when an engine answered 200;
 * *engine is then the flavor its headers name (Podman sends
 * Libpod-Api-Version and "Server: Libpod/..."; anything else is Docker). */
int compat_probe(const char *url, long timeout_ms, const struct compat_flavor **engine,
                 dms_error **err);

/* ---- for the flavors' hooks (podman.c) ------------------------------------ */

/* Performs one request; a versioned one negotiates first. Non-zero only when
 * no HTTP answer arrived; the caller judges the status. */
int compat_call(struct runtime *rt, dms_context *ctx, const struct http_request *req,
                struct http_response *resp, const char *op, const char *resource, dms_error **err);
/* GET path (as given: not versioned), expect 200 and a JSON document. */
int compat_get_json(struct runtime *rt, dms_context *ctx, const char *path, enum compat_object o,
                    const char *op, const char *resource, yajl_val *out, dms_error **err);
/* "/v<Libpod-Api-Version>/libpod<path>", negotiating first; the version is
 * the engine's own (never a constant). Fails when the engine has no libpod
 * API. Caller frees *out. */
int compat_libpod_path(struct runtime *rt, dms_context *ctx, const char *path, const char *op,
                       const char *resource, char **out, dms_error **err);
/* GET /containers/{id}/logs as opts say (follow included), with
 * timestamps=1 when asked: the raw answer goes to fn. */
int compat_logs_read(struct runtime *rt, dms_context *ctx, const char *id,
                     const struct log_options *opts, bool timestamps, runtime_log_fn fn, void *ud,
                     dms_error **err);
/* The body of a logs read with timestamps=1: frames ("<8-byte header>
 * <payload>") whose payload starts with the record's RFC 3339 stamp and a
 * space. A record's stamp goes to `record` (NUL-terminated; unusable when
 * len >= COMPAT_STAMP_MAX), then its payload, in one or more pieces, to
 * `payload`. Zero-initialise a parser, set min_stream (dockerd sends 1 and
 * 2 only; Podman may send 0), and reset it between reads. Returns 0, 1 when
 * `payload` returned non-zero (stop), -1 when the body is not frames. */
#define COMPAT_STAMP_MAX 64
struct compat_stamped {
	int min_stream;
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t left; /* payload bytes of the current frame not parsed yet */
	bool in_stamp;
	int stream;
	char stamp[COMPAT_STAMP_MAX];
	size_t stamp_len;
};
int compat_stamped_parse(struct compat_stamped *p, const char *data, size_t len,
                         void (*record)(void *ud, int stream, const char *stamp, size_t len),
                         int (*payload)(void *ud, int stream, const char *data, size_t n),
                         void *ud);
/* Ready for the next read (min_stream kept). */
void compat_stamped_reset(struct compat_stamped *p);
/* The bytes of one read for a follow: a tty log's go to `payload` as they
 * are (stream 0), frames through compat_stamped_parse. Returns 0, or 1 to
 * stop the read: `payload` asked to, or the body stopped being frames
 * (*broken is then set; compat_logs_not_frames() is the read's error). */
int compat_stamped_feed(struct compat_stamped *p, bool tty, bool *broken, const char *data,
                        size_t len,
                        void (*record)(void *ud, int stream, const char *stamp, size_t len),
                        int (*payload)(void *ud, int stream, const char *data, size_t n), void *ud);
int compat_logs_not_frames(const char *id, dms_error **err);
/* Passes n bytes of `stream` on to fn as a frame of their own, or as they
 * are for a tty log: how a follow hands on what it decided to send.
 * Non-zero when fn asked to stop. */
int compat_log_frame(runtime_log_fn fn, void *ud, bool tty, int stream, const char *data, size_t n);

/* A read for a caller that asked for stamps (log_options.stamp): the body
 * of a timestamps=1 read handed on as frames without their stamps, each
 * record's stamp to opts->stamp first. compat_logs_read_stamped is
 * compat_logs_read so, or as it is without opts->stamp; a flavor with its
 * own reads (Podman's holdback) feeds compat_unstamp_data itself. */
struct compat_unstamp {
	struct compat_stamped parser;
	runtime_log_fn fn;
	runtime_stamp_fn stamp;
	void *ud;
	bool broken;
};
void compat_unstamp_init(struct compat_unstamp *u, const struct log_options *opts,
                         runtime_log_fn fn, void *ud);
int compat_unstamp_data(void *ud, const char *data, size_t len);
int compat_logs_read_stamped(struct runtime *rt, dms_context *ctx, const char *id,
                             const struct log_options *opts, runtime_log_fn fn, void *ud,
                             dms_error **err);

/* The engine URL (for messages). */
const char *compat_url(const struct runtime *rt);

/* An HTTP answer that is not the expected one, as a categorised error that
 * names the operation, the resource and the engine's own text. */
int compat_http_failure(const struct http_response *r, enum compat_object o, const char *op,
                        const char *resource, dms_error **err);
int compat_bad_json(enum compat_object o, const char *op, const char *resource, dms_error **err);
int compat_oom(dms_error **err);

/* JSON reading: a string at a path, NULL if absent or not a string. */
const char *compat_jstr(yajl_val v, const char **path);
yajl_val compat_parse_json(const char *text);
#define COMPAT_JPATH(...) ((const char *[]){__VA_ARGS__, NULL})

/* Splits "repo[:tag]" / "repo@digest" into the name and the tag (a missing
 * tag is "latest"). -1 on allocation failure. */
int compat_split_image_ref(const char *ref, char **name, char **tag);
/* The reference Docker means: "busybox" -> "docker.io/library/busybox:latest",
 * "dms-test/busybox" -> "docker.io/dms-test/busybox:latest"; a reference
 * with a registry host ("localhost/x", "r.example:5000/x") keeps it. */
char *compat_qualify_image_ref(const char *ref);

#endif
