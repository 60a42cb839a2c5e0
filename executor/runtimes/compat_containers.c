/* compat_containers.c — a container's life on the engine after create:
 * start, stop, kill and remove, and the exit watch (an attach that selects
 * no stream).
 *
 * Exists to hold in one place which answers mean "already in that state"
 * and count as success (304 on start and stop, 404 and "removal already in
 * progress" on remove).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

/* Stop waits up to its timeout inside the engine; give the request room. */
#define COMPAT_STOP_SLACK_MS 30000L

/* POST /containers/{id}/{action}[?query]; `already` is the status that
 * means "already in that state" and counts as success (0: none). */
static int container_action(struct runtime *rt, dms_context *ctx, const char *id,
                            const char *action, const char *query, long timeout_ms, long already,
                            const char *op, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = compat_path_escape(id)) ||
	    !(path = compat_pathf("/containers/%s/%s%s%s", esc, action, query ? "?" : "",
	                          query ? query : "")))
		return compat_oom(err);
	req = COMPAT_REQ("POST", path);
	req.timeout_ms = timeout_ms;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || (already && resp.status == already))
		return 0;
	return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
}

int compat_container_start(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err)
{
	return container_action(rt, ctx, id, "start", NULL, 0, 304, "container start", err);
}

/* The exit watch (runtime.h): an attach that selects no stream. Podman
 * answers it once the container is initialised (so the start that follows
 * is quicker by as much) and ends it when conmon sees the process exit,
 * with an empty body. */
struct watch_stream {
	void (*attached)(void *ud);
	void *ud;
};

static void watch_headers(void *ud, long status)
{
	struct watch_stream *ws = ud;

	if (status == 200 || status == 101)
		ws->attached(ws->ud);
}

static int watch_data(void *ud, const char *data, size_t len)
{
	(void)ud, (void)data, (void)len;
	return 0;
}

int compat_container_watch(struct runtime *rt, dms_context *ctx, const char *id,
                           void (*attached)(void *ud), void *ud, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct watch_stream ws = {.attached = attached, .ud = ud};
	const char *op = "container attach";
	struct http_request req;
	int rc;

	if (!id || !*id || !attached)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = compat_path_escape(id)) ||
	    !(path = compat_pathf("/containers/%s/attach?stream=1&stdout=0&stderr=0", esc)))
		return compat_oom(err);
	req = COMPAT_REQ("POST", path);
	req.timeout_ms = -1;
	req.on_headers = watch_headers;
	req.on_data = watch_data;
	req.user_data = &ws;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status != 200 && resp.status != 101)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
	return 0;
}

int compat_container_stop(struct runtime *rt, dms_context *ctx, const char *id, int timeout_s,
                          dms_error **err)
{
	char query[32];
	long timeout_ms = 0;

	if (timeout_s >= 0) {
		snprintf(query, sizeof(query), "t=%d", timeout_s);
		timeout_ms = (long)timeout_s * 1000 + COMPAT_STOP_SLACK_MS;
	}
	return container_action(rt, ctx, id, "stop", timeout_s >= 0 ? query : NULL, timeout_ms, 304,
	                        "container stop", err);
}

int compat_container_kill(struct runtime *rt, dms_context *ctx, const char *id, const char *signal,
                          dms_error **err)
{
	_cleanup_free_ char *esig = NULL, *query = NULL;

	if (signal && *signal) {
		if (!(esig = http_urlencode(signal)) || !(query = compat_pathf("signal=%s", esig)))
			return compat_oom(err);
	}
	return container_action(rt, ctx, id, "kill", query, 0, 0, "container kill", err);
}

int compat_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                            dms_error **err)
{
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container remove";

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = compat_path_escape(id)))
		return compat_oom(err);
	path = compat_pathf("/containers/%s?force=%d&v=1", esc, force ? 1 : 0);
	return compat_delete(rt, ctx, path, COMPAT_CONTAINER, op, id, err);
}

/* Pause and unpause answer 204; a container that is not running (or not
 * paused) is a 409, which the caller reports with the engine's text. */
int compat_container_pause(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err)
{
	return container_action(rt, ctx, id, "pause", NULL, 0, 0, "container pause", err);
}

int compat_container_unpause(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err)
{
	return container_action(rt, ctx, id, "unpause", NULL, 0, 0, "container unpause", err);
}
