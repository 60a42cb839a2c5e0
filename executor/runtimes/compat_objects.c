/* compat_objects.c — the labelled objects beside containers: networks and
 * volumes created, listed by label and removed, and the generic list and
 * remove Cleanup and the sweep use for containers too.
 *
 * Exists so that Cleanup can find and remove everything a job left on the
 * engine by its label alone, on both engines, without prune endpoints.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

static int create_labelled(struct runtime *rt, dms_context *ctx, enum compat_object o,
                           const char *path, const char *name, const strv labels, bool internal,
                           char **id_out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_jw_ struct jw w = {0};
	_cleanup_yajl_tree_ yajl_val root = NULL;
	const char *op = o == COMPAT_NETWORK ? "network create" : "volume create", *id;
	struct http_request req = COMPAT_REQ("POST", path);
	int rc;

	if (!name || !*name)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no name given", op);
	if (jw_init(&w) != 0)
		return compat_oom(err);
	jw_map_open(&w);
	jw_key_str(&w, "Name", name);
	jw_key_labels(&w, "Labels", labels);
	if (o == COMPAT_NETWORK) {
		jw_key_bool(&w, "Internal", internal);
		jw_key_bool(&w, "CheckDuplicate", true);
	}
	jw_map_close(&w);
	if ((rc = compat_jw_body(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status != 201 && resp.status != 200)
		return compat_http_failure(&resp, o, op, name, err);
	if (!id_out)
		return 0;
	root = compat_parse_json(resp.body.data);
	if (!(id = compat_jstr(root, JPATH(o == COMPAT_NETWORK ? "Id" : "Name"))))
		return compat_bad_json(o, op, name, err);
	return (*id_out = strdup(id)) ? 0 : compat_oom(err);
}

int compat_network_create(struct runtime *rt, dms_context *ctx, const char *name, const strv labels,
                          bool internal, char **id_out, dms_error **err)
{
	return create_labelled(rt, ctx, COMPAT_NETWORK, "/networks/create", name, labels, internal,
	                       id_out, err);
}

int compat_volume_create(struct runtime *rt, dms_context *ctx, const char *name, const strv labels,
                         dms_error **err)
{
	return create_labelled(rt, ctx, COMPAT_VOLUME, "/volumes/create", name, labels, false, NULL,
	                       err);
}

int compat_object_list(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                       const char *label, strv *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct compat_strv b = {0};
	enum compat_object o;
	const char *op, *key;
	yajl_val items;
	int rc;

	if (kind == RT_OBJ_CONTAINER) {
		struct container_summary *v = NULL;
		size_t n = 0;

		if ((rc = compat_container_list(rt, ctx, label, &v, &n, err)) != 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			compat_strv_add(&b, strdup(v[i].id));
		container_summaries_free(v, n);
		return (*out = compat_strv_finish(&b)) ? 0 : compat_oom(err);
	}
	o = kind == RT_OBJ_NETWORK ? COMPAT_NETWORK : COMPAT_VOLUME;
	op = kind == RT_OBJ_NETWORK ? "network list" : "volume list";
	key = kind == RT_OBJ_NETWORK ? "Id" : "Name";
	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = compat_filters_query(NULL, label)) ||
	    !(path = compat_pathf("/%s?filters=%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes",
	                          filters)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, o, op, label, &root, err)) != 0)
		return rc;
	/* Networks: [{...}]; volumes: {"Volumes": [{...}] or null}. */
	items = kind == RT_OBJ_NETWORK ? root : yajl_tree_get(root, JPATH("Volumes"), yajl_t_any);
	if (items && !YAJL_IS_ARRAY(items) && !YAJL_IS_NULL(items))
		return compat_bad_json(o, op, label, err);
	for (size_t i = 0; items && YAJL_IS_ARRAY(items) && i < items->u.array.len; i++) {
		const char *s = compat_jstr(items->u.array.values[i], JPATH(key));

		if (s)
			compat_strv_add(&b, strdup(s));
	}
	return (*out = compat_strv_finish(&b)) ? 0 : compat_oom(err);
}

int compat_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                         const char *id, dms_error **err)
{
	_cleanup_free_ char *esc = NULL, *path = NULL;
	enum compat_object o = kind == RT_OBJ_NETWORK ? COMPAT_NETWORK : COMPAT_VOLUME;
	const char *op = kind == RT_OBJ_NETWORK ? "network remove" : "volume remove";

	if (kind == RT_OBJ_CONTAINER)
		return compat_container_remove(rt, ctx, id, true, err);
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: nothing named", op);
	if (!(esc = compat_path_escape(id)))
		return compat_oom(err);
	path = compat_pathf("/%s/%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes", esc);
	return compat_delete(rt, ctx, path, o, op, id, err);
}
