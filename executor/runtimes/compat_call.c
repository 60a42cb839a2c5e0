/* compat_call.c — one request to the engine and the judgement of its
 * answer: paths, the lazy negotiation before a versioned request, and the
 * errors that name the operation, the resource and the engine's own text
 * (docs/engine-api.md, "Error mapping").
 *
 * Exists so that every operation file says only what it asks and what it
 * expects back; how a failure becomes a categorised dms_error is decided
 * here, once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

/* Longest engine error text copied from a non-JSON error body. */
#define COMPAT_ERROR_TEXT_MAX 1024

char *compat_pathf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *compat_path_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/:@", ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- errors --------------------------------------------------------------- */

static int object_category(enum compat_object o)
{
	switch (o) {
	case COMPAT_IMAGE:
		return DMS_ERR_IMAGE;
	case COMPAT_CONTAINER:
		return DMS_ERR_CONTAINER;
	case COMPAT_NETWORK:
		return DMS_ERR_NETWORK;
	case COMPAT_VOLUME:
		return DMS_ERR_VOLUME;
	case COMPAT_ENGINE:
		break;
	}
	return DMS_ERR_RUNTIME_UNAVAILABLE;
}

/* runtime.h's mapping: 404 on an image -> IMAGE, 404 on anything else ->
 * NOT_FOUND, 409 on a container -> CONTAINER, the rest -> the object's
 * category (a 409 on a network or volume stays a network/volume error). */
static int status_category(long status, enum compat_object o)
{
	if (status == 404 && o != COMPAT_IMAGE && o != COMPAT_ENGINE)
		return DMS_ERR_NOT_FOUND;
	return object_category(o);
}

char *compat_engine_text(const struct http_response *r)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(r->body.data);
	const char *m = compat_jstr(root, JPATH("message"));
	size_t n;

	if (m)
		return strdup(m);
	if (!r->body.data)
		return NULL;
	n = r->body.len;
	while (n > 0 && strchr(" \t\r\n", r->body.data[n - 1]))
		n--;
	if (n == 0)
		return NULL;
	return strndup(r->body.data, n > COMPAT_ERROR_TEXT_MAX ? COMPAT_ERROR_TEXT_MAX : n);
}

/* An HTTP answer that is not the expected one, as a categorised error. */
int compat_http_failure(const struct http_response *r, enum compat_object o, const char *op,
                        const char *resource, dms_error **err)
{
	_cleanup_free_ char *text = compat_engine_text(r);

	return err_engine(err, status_category(r->status, o), op, resource, text,
	                  "%s%s%s: %s (HTTP %ld)", op, resource ? " " : "",
	                  resource ? resource : "", text ? text : "the engine gave no reason",
	                  r->status);
}

int compat_annotate(dms_error **err, int rc, const char *op, const char *resource)
{
	err_wrap(err, rc, "%s%s%s", op, resource ? " " : "", resource ? resource : "");
	if (err && *err)
		err_set_context(*err, op, resource, NULL);
	return rc;
}

int compat_bad_json(enum compat_object o, const char *op, const char *resource, dms_error **err)
{
	return err_engine(err, object_category(o), op, resource, NULL,
	                  "%s%s%s: the engine's answer is not the JSON expected", op,
	                  resource ? " " : "", resource ? resource : "");
}

int compat_oom(dms_error **err)
{
	return err_set(err, DMS_ERR_INTERNAL, "out of memory");
}

/* ---- requests ------------------------------------------------------------- */
int compat_call(struct runtime *rt, dms_context *ctx, const struct http_request *req,
                struct http_response *resp, const char *op, const char *resource, dms_error **err)
{
	int rc;

	if (req->versioned && (rc = compat_negotiate(rt, ctx, op, resource, err)) != 0)
		return rc;
	if ((rc = http_do(rt->http, ctx, req, resp, err)) != 0)
		return compat_annotate(err, rc, op, resource);
	return 0;
}

/* GET path, expect 200 and a JSON document. */
static int get_json(struct runtime *rt, dms_context *ctx, const char *path, bool versioned,
                    enum compat_object o, const char *op, const char *resource, yajl_val *out,
                    dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	struct http_request req = COMPAT_REQ("GET", path);
	int rc;

	if (!path)
		return compat_oom(err);
	req.versioned = versioned;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, resource, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, o, op, resource, err);
	if (!(*out = compat_parse_json(resp.body.data)))
		return compat_bad_json(o, op, resource, err);
	return 0;
}

int compat_get_json(struct runtime *rt, dms_context *ctx, const char *path, enum compat_object o,
                    const char *op, const char *resource, yajl_val *out, dms_error **err)
{
	return get_json(rt, ctx, path, false, o, op, resource, out, err);
}

int compat_get_api_json(struct runtime *rt, dms_context *ctx, const char *path,
                        enum compat_object o, const char *op, const char *resource, yajl_val *out,
                        dms_error **err)
{
	return get_json(rt, ctx, path, true, o, op, resource, out, err);
}

const char *compat_url(const struct runtime *rt)
{
	return http_client_url(rt->http);
}

int compat_delete(struct runtime *rt, dms_context *ctx, const char *path, enum compat_object o,
                  const char *op, const char *id, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *text = NULL;
	struct http_request req = COMPAT_REQ("DELETE", path);
	int rc;

	if (!path)
		return compat_oom(err);
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		return 0;
	/* A container removal already under way ends with it gone, too. */
	if (o == COMPAT_CONTAINER && resp.status == 409 && (text = compat_engine_text(&resp)) &&
	    strstr(text, "already in progress"))
		return 0;
	return compat_http_failure(&resp, o, op, id, err);
}
