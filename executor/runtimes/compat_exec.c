/* compat_exec.c — exec on both engines: create, start on a hijacked
 * connection, resize, inspect (runtime.h, "exec"; docs/engine-api.md,
 * "Exec").
 *
 * Exists so that the executor's exec relay sees one form of the engine's
 * exec whatever the engine: a socket carrying stdin one way and the
 * output (frames of stream 1/2, raw with a tty) the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

int compat_exec_create(struct runtime *rt, dms_context *ctx, const char *container_id,
                       const struct exec_command *cmd, char **exec_id, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_jw_ struct jw w = {0};
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "exec create", *id;
	struct http_request req;
	int rc;

	if (!container_id || !*container_id || !cmd || !cmd->cmd || !cmd->cmd[0])
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container or command given",
		               op);
	if (!(esc = compat_path_escape(container_id)) ||
	    !(path = compat_pathf("/containers/%s/exec", esc)))
		return compat_oom(err);
	if (jw_init(&w) != 0)
		return compat_oom(err);
	jw_map_open(&w);
	jw_key_bool(&w, "AttachStdin", cmd->stdin_);
	jw_key_bool(&w, "AttachStdout", true);
	jw_key_bool(&w, "AttachStderr", true);
	jw_key_bool(&w, "Tty", cmd->tty);
	jw_key_strv(&w, "Cmd", cmd->cmd);
	jw_key_strv(&w, "Env", cmd->env);
	jw_key_str(&w, "User", cmd->user);
	jw_key_str(&w, "WorkingDir", cmd->working_dir);
	jw_map_close(&w);
	req = COMPAT_REQ("POST", path);
	if ((rc = compat_jw_body(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, container_id, err)) != 0)
		return rc;
	if (resp.status != 201 && resp.status != 200)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, container_id, err);
	root = compat_parse_json(resp.body.data);
	if (!(id = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_CONTAINER, op, container_id, err);
	if (!(*exec_id = strdup(id)))
		return compat_oom(err);
	return 0;
}

int compat_exec_start(struct runtime *rt, dms_context *ctx, const char *exec_id, bool tty, int *fd,
                      dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "exec start";
	char body[64];
	struct http_request req;
	int rc;

	*fd = -1;
	if (!exec_id || !*exec_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no exec given", op);
	if (!(esc = compat_path_escape(exec_id)) || !(path = compat_pathf("/exec/%s/start", esc)))
		return compat_oom(err);
	if ((rc = compat_negotiate(rt, ctx, op, exec_id, err)) != 0)
		return rc;
	snprintf(body, sizeof(body), "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
	req = COMPAT_REQ("POST", path);
	req.body = body;
	req.body_len = strlen(body);
	if ((rc = http_hijack(rt->http, ctx, &req, &resp, fd, err)) != 0)
		return compat_annotate(err, rc, op, exec_id);
	if (*fd < 0)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, exec_id, err);
	return 0;
}

int compat_exec_resize(struct runtime *rt, dms_context *ctx, const char *exec_id, uint32_t rows,
                       uint32_t cols, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "exec resize";
	struct http_request req;
	int rc;

	if (!exec_id || !*exec_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no exec given", op);
	if (!(esc = compat_path_escape(exec_id)) ||
	    !(path = compat_pathf("/exec/%s/resize?h=%u&w=%u", esc, rows, cols)))
		return compat_oom(err);
	req = COMPAT_REQ("POST", path);
	if ((rc = compat_call(rt, ctx, &req, &resp, op, exec_id, err)) != 0)
		return rc;
	if (resp.status != 200 && resp.status != 201 && resp.status != 204)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, exec_id, err);
	return 0;
}

int compat_exec_inspect(struct runtime *rt, dms_context *ctx, const char *exec_id,
                        struct exec_status *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "exec inspect";
	long long v = -1;
	int rc;

	if (!exec_id || !*exec_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no exec given", op);
	if (!(esc = compat_path_escape(exec_id)) || !(path = compat_pathf("/exec/%s/json", esc)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, exec_id, &root, err)) !=
	    0)
		return rc;
	out->running = compat_jtrue(root, JPATH("Running"));
	out->exit_code = compat_jint(root, JPATH("ExitCode"), &v) ? (int)v : -1;
	v = 0;
	out->pid = compat_jint(root, JPATH("Pid"), &v) ? (int64_t)v : 0;
	return 0;
}
