/* docker.c — the runtime vtable (runtime.h) for the Docker Engine API.
 *
 * Exists to turn the executor's few engine needs into Docker Engine API
 * calls over http.c, and the engine's answers back into the plugin's types
 * and error categories (docs/engine-api.md). Nothing here blocks without a
 * context, hard-codes an API version, or buffers an engine answer without a
 * bound.
 *
 * The API version is negotiated from GET /_ping's Api-Version header: the
 * engine's version, capped at DOCKER_API_MAX (the newest this file is
 * written against) and refused below DOCKER_API_MIN. Every other path is
 * sent versioned ("/v1.41/containers/..."), negotiating lazily on first use
 * when ping() was not called.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "http.h"
#include "result.h"
#include "runtime.h"

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"
/* The API versions this file is written against: [MIN, MAX]. */
#define DOCKER_API_MAJOR 1
#define DOCKER_API_MIN_MINOR 25
#define DOCKER_API_MAX_MINOR 43
/* Longest JSON line of a progress or event stream; longer ones are skipped. */
#define DOCKER_LINE_MAX (64u << 10)
/* Longest engine error text copied from a non-JSON error body. */
#define DOCKER_ERROR_TEXT_MAX 1024
/* Stop waits up to its timeout inside the engine; give the request room. */
#define DOCKER_STOP_SLACK_MS 30000L

struct runtime {
	struct http_client *http;
	pthread_mutex_t mu;
	bool negotiated; /* under mu */
};

/* ---- cleanup helpers ---------------------------------------------------- */

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

static void yajl_tree_freep(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}
#define _cleanup_yajl_tree_ __attribute__((cleanup(yajl_tree_freep)))

static void yajl_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}
#define _cleanup_yajl_gen_ __attribute__((cleanup(yajl_gen_freep)))

static void http_response_freep(struct http_response *r)
{
	http_response_free(r);
}
#define _cleanup_response_ __attribute__((cleanup(http_response_freep)))

static struct http_response response_new(void)
{
	struct http_response r;

	http_response_init(&r);
	return r;
}

static char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *pathf(const char *fmt, ...) DMS_PRINTF(1, 2);
static char *pathf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Percent-encodes a path segment. '/' and ':' stay literal: image
 * references ("dms-test/busybox:latest") are routed as they are. */
static char *path_escape(const char *s)
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

/* A request on the negotiated API version, no body. */
#define DOCKER_REQ(m, p)                                                                           \
	((struct http_request){.method = (m), .path = (p), .versioned = true, .body_fd = -1})

/* ---- JSON reading ------------------------------------------------------- */

#define JPATH(...) ((const char *[]){__VA_ARGS__, NULL})

static const char *jstr(yajl_val v, const char **path)
{
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

static bool jint(yajl_val v, const char **path, long long *out)
{
	yajl_val n = yajl_tree_get(v, path, yajl_t_number);

	if (!n || !YAJL_IS_INTEGER(n))
		return false;
	*out = YAJL_GET_INTEGER(n);
	return true;
}

static bool jtrue(yajl_val v, const char **path)
{
	return yajl_tree_get(v, path, yajl_t_true) != NULL;
}

static yajl_val parse_json_text(const char *text)
{
	char eb[128];

	return text ? yajl_tree_parse(text, eb, sizeof(eb)) : NULL;
}

/* ---- string vectors ----------------------------------------------------- */

struct strv_builder {
	char **v;
	size_t n, cap;
	bool failed;
};

/* Takes ownership of s (NULL records an allocation failure). */
static void sb_push(struct strv_builder *b, char *s)
{
	if (!s || b->failed) {
		free(s);
		b->failed = true;
		return;
	}
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		char **v = realloc(b->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			b->failed = true;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

/* The finished vector (never NULL on success: empty means none), or NULL
 * when an allocation failed. */
static strv sb_finish(struct strv_builder *b)
{
	strv v;

	if (!b->failed && !b->v)
		b->v = calloc(1, sizeof(*b->v));
	if (b->failed || !b->v) {
		for (size_t i = 0; i < b->n; i++)
			free(b->v[i]);
		free(b->v);
		v = NULL;
	} else {
		v = b->v;
	}
	memset(b, 0, sizeof(*b));
	return v;
}

/* Labels object {"k":"v"} -> "k=v" vector. */
static strv labels_from_json(yajl_val obj)
{
	struct strv_builder b = {0};

	if (obj && YAJL_IS_OBJECT(obj)) {
		for (size_t i = 0; i < obj->u.object.len; i++) {
			yajl_val v = obj->u.object.values[i];
			const char *value = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";

			sb_push(&b, pathf("%s=%s", obj->u.object.keys[i], value));
		}
	}
	return sb_finish(&b);
}

/* ---- JSON writing ------------------------------------------------------- */

/* A yajl generator with a sticky failure flag, so building a document is a
 * straight line of calls checked once at the end. */
struct jw {
	yajl_gen g;
	bool failed;
};

static void jw_check(struct jw *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		w->failed = true;
}

static void jw_strn(struct jw *w, const char *s, size_t n)
{
	if (!w->failed)
		jw_check(w, yajl_gen_string(w->g, (const unsigned char *)s, n));
}

static void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

static void jw_map_open(struct jw *w)
{
	if (!w->failed)
		jw_check(w, yajl_gen_map_open(w->g));
}

static void jw_map_close(struct jw *w)
{
	if (!w->failed)
		jw_check(w, yajl_gen_map_close(w->g));
}

static void jw_array_open(struct jw *w)
{
	if (!w->failed)
		jw_check(w, yajl_gen_array_open(w->g));
}

static void jw_array_close(struct jw *w)
{
	if (!w->failed)
		jw_check(w, yajl_gen_array_close(w->g));
}

static void jw_key_str(struct jw *w, const char *key, const char *value)
{
	if (!value)
		return;
	jw_str(w, key);
	jw_str(w, value);
}

static void jw_key_int(struct jw *w, const char *key, long long value)
{
	jw_str(w, key);
	if (!w->failed)
		jw_check(w, yajl_gen_integer(w->g, value));
}

static void jw_key_bool(struct jw *w, const char *key, bool value)
{
	jw_str(w, key);
	if (!w->failed)
		jw_check(w, yajl_gen_bool(w->g, value));
}

static void jw_key_strv(struct jw *w, const char *key, const strv v)
{
	if (!v)
		return;
	jw_str(w, key);
	jw_array_open(w);
	for (size_t i = 0; v[i]; i++)
		jw_str(w, v[i]);
	jw_array_close(w);
}

/* "k=v" vector -> {"k":"v"}; a bare "k" becomes {"k":""}. */
static void jw_key_labels(struct jw *w, const char *key, const strv labels)
{
	jw_str(w, key);
	jw_map_open(w);
	for (size_t i = 0; labels && labels[i]; i++) {
		const char *eq = strchr(labels[i], '=');

		if (eq) {
			jw_strn(w, labels[i], (size_t)(eq - labels[i]));
			jw_str(w, eq + 1);
		} else {
			jw_str(w, labels[i]);
			jw_str(w, "");
		}
	}
	jw_map_close(w);
}

static int jw_begin(struct jw *w, dms_error **err)
{
	w->failed = false;
	w->g = yajl_gen_alloc(NULL);
	if (!w->g)
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	yajl_gen_config(w->g, yajl_gen_validate_utf8, 1);
	return 0;
}

/* The finished document (borrowed from w->g) or an error naming what. */
static int jw_end(struct jw *w, const char *what, const char **body, size_t *len, dms_error **err)
{
	const unsigned char *b;

	if (w->failed || yajl_gen_get_buf(w->g, &b, len) != yajl_gen_status_ok)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "%s: cannot encode the request (a string is not valid UTF-8?)",
		               what);
	*body = (const char *)b;
	return 0;
}

/* {"type":[type],"label":[label]} url-encoded for a filters= parameter. */
static char *filters_query(const char *type, const char *label)
{
	_cleanup_yajl_gen_ yajl_gen g = yajl_gen_alloc(NULL);
	struct jw w = {.g = g};
	const unsigned char *b;
	size_t len;
	_cleanup_free_ char *json = NULL;

	if (!g)
		return NULL;
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	jw_map_open(&w);
	if (type) {
		jw_str(&w, "type");
		jw_array_open(&w);
		jw_str(&w, type);
		jw_array_close(&w);
	}
	if (label) {
		jw_str(&w, "label");
		jw_array_open(&w);
		jw_str(&w, label);
		jw_array_close(&w);
	}
	jw_map_close(&w);
	if (w.failed || yajl_gen_get_buf(g, &b, &len) != yajl_gen_status_ok)
		return NULL;
	json = strndup((const char *)b, len);
	return json ? http_urlencode(json) : NULL;
}

/* ---- line-delimited JSON streams ---------------------------------------- */

/* Splits a byte stream into lines, each bounded by DOCKER_LINE_MAX: a
 * longer line is skipped, not fatal (one huge event must not end the
 * executor's only event stream). */
struct line_splitter {
	struct buf line;
	bool skipping;
	int (*on_line)(void *ud, char *line, size_t len);
	void *ud;
};

static void lines_init(struct line_splitter *ls, int (*on_line)(void *, char *, size_t), void *ud)
{
	ls->line = (struct buf)BUF_INIT(DOCKER_LINE_MAX);
	ls->skipping = false;
	ls->on_line = on_line;
	ls->ud = ud;
}

static int lines_emit(struct line_splitter *ls)
{
	size_t n = ls->line.len;
	int rc = 0;

	while (n > 0 && (ls->line.data[n - 1] == '\r' || ls->line.data[n - 1] == ' '))
		n--;
	if (n > 0) {
		ls->line.data[n] = '\0';
		rc = ls->on_line(ls->ud, ls->line.data, n);
	}
	buf_reset(&ls->line);
	return rc;
}

static int lines_feed(struct line_splitter *ls, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t chunk = nl ? (size_t)(nl - data) : len;
		int rc;

		if (!ls->skipping && chunk > 0 && buf_append(&ls->line, data, chunk) != 0) {
			buf_reset(&ls->line);
			ls->skipping = true;
		}
		if (!nl)
			break;
		data += chunk + 1;
		len -= chunk + 1;
		if (ls->skipping) {
			ls->skipping = false;
			continue;
		}
		if ((rc = lines_emit(ls)) != 0)
			return rc;
	}
	return 0;
}

/* Emits a final line that had no newline. */
static int lines_finish(struct line_splitter *ls)
{
	return ls->skipping ? 0 : lines_emit(ls);
}

static void lines_free(struct line_splitter *ls)
{
	buf_free(&ls->line);
}

/* ---- errors ------------------------------------------------------------- */

enum docker_object { OBJ_ENGINE, OBJ_IMAGE, OBJ_CONTAINER, OBJ_NETWORK, OBJ_VOLUME };

static int object_category(enum docker_object o)
{
	switch (o) {
	case OBJ_IMAGE:
		return DMS_ERR_IMAGE;
	case OBJ_CONTAINER:
		return DMS_ERR_CONTAINER;
	case OBJ_NETWORK:
		return DMS_ERR_NETWORK;
	case OBJ_VOLUME:
		return DMS_ERR_VOLUME;
	case OBJ_ENGINE:
		break;
	}
	return DMS_ERR_RUNTIME_UNAVAILABLE;
}

/* runtime.h's mapping: 404 on an image -> IMAGE, 404 on anything else ->
 * NOT_FOUND, 409 on a container -> CONTAINER, the rest -> the object's
 * category (a 409 on a network or volume stays a network/volume error). */
static int status_category(long status, enum docker_object o)
{
	if (status == 404 && o != OBJ_IMAGE && o != OBJ_ENGINE)
		return DMS_ERR_NOT_FOUND;
	return object_category(o);
}

/* The engine's own words: {"message": ...} or the raw body, bounded. */
static char *engine_text(const struct http_response *r)
{
	_cleanup_yajl_tree_ yajl_val root = parse_json_text(r->body.data);
	const char *m = jstr(root, JPATH("message"));
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
	return strndup(r->body.data, n > DOCKER_ERROR_TEXT_MAX ? DOCKER_ERROR_TEXT_MAX : n);
}

/* An HTTP answer that is not the expected one, as a categorised error. */
static int http_failure(const struct http_response *r, enum docker_object o, const char *op,
                        const char *resource, dms_error **err)
{
	_cleanup_free_ char *text = engine_text(r);

	return err_engine(err, status_category(r->status, o), op, resource, text,
	                  "%s%s%s: %s (HTTP %ld)", op, resource ? " " : "",
	                  resource ? resource : "", text ? text : "the engine gave no reason",
	                  r->status);
}

/* Adds what was being done to an error from below (transport, context). */
static int annotate(dms_error **err, int rc, const char *op, const char *resource)
{
	err_wrap(err, rc, "%s%s%s", op, resource ? " " : "", resource ? resource : "");
	if (err && *err)
		err_set_context(*err, op, resource, NULL);
	return rc;
}

static int bad_json(enum docker_object o, const char *op, const char *resource, dms_error **err)
{
	return err_engine(err, object_category(o), op, resource, NULL,
	                  "%s%s%s: the engine's answer is not the JSON expected", op,
	                  resource ? " " : "", resource ? resource : "");
}

static int oom(dms_error **err)
{
	return err_set(err, DMS_ERR_INTERNAL, "out of memory");
}

/* ---- API version -------------------------------------------------------- */

static bool parse_api_version(const char *s, long *major, long *minor)
{
	char *end;

	if (!s)
		return false;
	errno = 0;
	*major = strtol(s, &end, 10);
	if (end == s || *end != '.' || errno)
		return false;
	s = end + 1;
	*minor = strtol(s, &end, 10);
	return end != s && *end == '\0' && errno == 0 && *major >= 0 && *minor >= 0;
}

/* Picks the version to speak with an engine that speaks `engine` and
 * installs it on the client. `op` names what the caller was doing. */
static int use_api_version(struct runtime *rt, const char *engine, const char *op,
                           const char *resource, dms_error **err)
{
	const char *url = http_client_url(rt->http);
	char version[32];
	long major, minor;

	if (!parse_api_version(engine, &major, &minor))
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource, engine,
		                  "%s: the engine at %s reports no usable API version (\"%s\")", op,
		                  url, engine ? engine : "");
	if (major < DOCKER_API_MAJOR || (major == DOCKER_API_MAJOR && minor < DOCKER_API_MIN_MINOR))
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource, engine,
		                  "%s: the engine at %s speaks API %s, older than the oldest this "
		                  "executor supports (%d.%d)",
		                  op, url, engine, DOCKER_API_MAJOR, DOCKER_API_MIN_MINOR);
	if (major > DOCKER_API_MAJOR || minor > DOCKER_API_MAX_MINOR)
		snprintf(version, sizeof(version), "%d.%d", DOCKER_API_MAJOR, DOCKER_API_MAX_MINOR);
	else
		snprintf(version, sizeof(version), "%ld.%ld", major, minor);

	http_client_set_api_version(rt->http, version);
	pthread_mutex_lock(&rt->mu);
	rt->negotiated = true;
	pthread_mutex_unlock(&rt->mu);
	return 0;
}

/* GET /_ping (unversioned) and negotiate from its Api-Version header; an
 * engine that omits the header is asked GET /version (unversioned). Errors
 * carry the caller's operation and resource: a failed lazy negotiation is
 * reported as the failure of what the user asked for. */
static int ping_negotiate(struct runtime *rt, dms_context *ctx, const char *op,
                          const char *resource, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_response_ struct http_response vresp = response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	struct http_request req = DOCKER_REQ("GET", "/_ping");
	int rc;

	req.versioned = false;
	if ((rc = http_do(rt->http, ctx, &req, &resp, err)) != 0)
		return annotate(err, rc, op, resource);
	if (resp.status != 200)
		return http_failure(&resp, OBJ_ENGINE, op, resource, err);
	if (resp.api_version)
		return use_api_version(rt, resp.api_version, op, resource, err);

	req.path = "/version";
	if ((rc = http_do(rt->http, ctx, &req, &vresp, err)) != 0)
		return annotate(err, rc, op, resource);
	if (vresp.status != 200)
		return http_failure(&vresp, OBJ_ENGINE, op, resource, err);
	root = parse_json_text(vresp.body.data);
	return use_api_version(rt, jstr(root, JPATH("ApiVersion")), op, resource, err);
}

static int negotiate(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     dms_error **err)
{
	bool done;

	pthread_mutex_lock(&rt->mu);
	done = rt->negotiated;
	pthread_mutex_unlock(&rt->mu);
	/* Concurrent first users may both ping; the answer is the same. */
	return done ? 0 : ping_negotiate(rt, ctx, op, resource, err);
}

/* Performs one request on the negotiated version. Non-zero only when no
 * HTTP answer arrived (unreachable, context ended); the caller judges the
 * status. */
static int docker_call(struct runtime *rt, dms_context *ctx, const struct http_request *req,
                       struct http_response *resp, const char *op, const char *resource,
                       dms_error **err)
{
	int rc;

	if (req->versioned && (rc = negotiate(rt, ctx, op, resource, err)) != 0)
		return rc;
	if ((rc = http_do(rt->http, ctx, req, resp, err)) != 0)
		return annotate(err, rc, op, resource);
	return 0;
}

/* GET path, expect 200 and a JSON document. */
static int docker_get_json(struct runtime *rt, dms_context *ctx, const char *path,
                           enum docker_object o, const char *op, const char *resource,
                           yajl_val *out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	struct http_request req = DOCKER_REQ("GET", path);
	int rc;

	if (!path)
		return oom(err);
	if ((rc = docker_call(rt, ctx, &req, &resp, op, resource, err)) != 0)
		return rc;
	if (resp.status != 200)
		return http_failure(&resp, o, op, resource, err);
	if (!(*out = parse_json_text(resp.body.data)))
		return bad_json(o, op, resource, err);
	return 0;
}

/* ---- open, close, ping -------------------------------------------------- */

static int docker_open(const char *host, struct runtime **out, dms_error **err)
{
	struct runtime *rt;
	int rc;

	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DOCKER_DEFAULT_HOST;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return oom(err);
	if ((rc = http_client_new(host, &rt->http, err)) != 0) {
		free(rt);
		return rc;
	}
	pthread_mutex_init(&rt->mu, NULL);
	*out = rt;
	return 0;
}

static void docker_close(struct runtime *rt)
{
	if (!rt)
		return;
	http_client_free(rt->http);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
}

static bool security_options_rootless(yajl_val sysinfo)
{
	yajl_val opts = yajl_tree_get(sysinfo, JPATH("SecurityOptions"), yajl_t_array);

	for (size_t i = 0; opts && i < opts->u.array.len; i++) {
		yajl_val o = opts->u.array.values[i];

		if (YAJL_IS_STRING(o) && strstr(o->u.string, "name=rootless"))
			return true;
	}
	return false;
}

static int docker_ping(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
                       dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val version = NULL;
	_cleanup_yajl_tree_ yajl_val sysinfo = NULL;
	const char *url = http_client_url(rt->http);
	const char *cgroup;
	struct runtime_info i = {0};
	int rc;

	/* Always re-negotiate: the engine may have been upgraded meanwhile. */
	if ((rc = ping_negotiate(rt, ctx, "ping", url, err)) != 0)
		return rc;
	if (!info)
		return 0;
	if ((rc = docker_get_json(rt, ctx, "/version", OBJ_ENGINE, "version", url, &version,
	                          err)) != 0)
		return rc;
	if ((rc = docker_get_json(rt, ctx, "/info", OBJ_ENGINE, "info", url, &sysinfo, err)) != 0)
		return rc;

	i.kind = strdup("docker");
	i.version = strdup_or_null(jstr(version, JPATH("Version")));
	i.api_version = strdup_or_null(http_client_api_version(rt->http));
	i.os = strdup_or_null(jstr(version, JPATH("Os")));
	i.rootless = security_options_rootless(sysinfo);
	cgroup = jstr(sysinfo, JPATH("CgroupVersion"));
	i.cgroup_version = cgroup ? atoi(cgroup) : 0;
	if (!i.kind || !i.api_version) {
		runtime_info_free(&i);
		return oom(err);
	}
	*info = i;
	return 0;
}

/* ---- images ------------------------------------------------------------- */

/* Splits an image reference into the fromImage and tag parameters of
 * /images/create: "name@sha256:..." pulls the digest, a missing tag means
 * "latest" (an empty tag would pull every tag of the repository). */
static int split_image_ref(const char *ref, char **name, char **tag)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');

	if (at) {
		*name = strndup(ref, (size_t)(at - ref));
		*tag = strdup(at + 1);
	} else if (colon && (!slash || colon > slash)) {
		*name = strndup(ref, (size_t)(colon - ref));
		*tag = strdup(colon + 1);
	} else {
		*name = strdup(ref);
		*tag = strdup("latest");
	}
	if (!*name || !*tag) {
		free(*name);
		free(*tag);
		*name = *tag = NULL;
		return -1;
	}
	return 0;
}

static int docker_image_present(struct runtime *rt, dms_context *ctx, const char *image,
                                bool *present, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	int rc;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image inspect: no image given");
	if (!(esc = path_escape(image)) || !(path = pathf("/images/%s/json", esc)))
		return oom(err);
	req = DOCKER_REQ("GET", path);
	if ((rc = docker_call(rt, ctx, &req, &resp, "image inspect", image, err)) != 0)
		return rc;
	if (resp.status == 404) {
		*present = false;
		return 0;
	}
	if (resp.status != 200)
		return http_failure(&resp, OBJ_IMAGE, "image inspect", image, err);
	*present = true;
	return 0;
}

/* The JSON-lines progress stream of a pull or an import. An error line
 * ends it: engines report failures after the 200 status line. */
struct progress_stream {
	struct line_splitter lines;
	runtime_progress_fn fn;
	void *ud;
	char *error;
};

static int progress_line(void *ud, char *line, size_t len)
{
	struct progress_stream *ps = ud;
	_cleanup_yajl_tree_ yajl_val root = parse_json_text(line);
	const char *error, *status;
	long long current = -1, total = -1;

	(void)len;
	if (!root)
		return 0;
	error = jstr(root, JPATH("errorDetail", "message"));
	if (!error)
		error = jstr(root, JPATH("error"));
	if (error) {
		ps->error = strdup(error);
		return 1;
	}
	status = jstr(root, JPATH("status"));
	if (ps->fn && status) {
		jint(root, JPATH("progressDetail", "current"), &current);
		jint(root, JPATH("progressDetail", "total"), &total);
		ps->fn(ps->ud, status, current, total);
	}
	return 0;
}

static int progress_data(void *ud, const char *data, size_t len)
{
	struct progress_stream *ps = ud;

	return lines_feed(&ps->lines, data, len);
}

/* Runs a /images/create request and judges its answer and stream. */
static int images_create(struct runtime *rt, dms_context *ctx, struct http_request *req,
                         const char *op, const char *ref, runtime_progress_fn fn, void *ud,
                         dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	struct progress_stream ps = {.fn = fn, .ud = ud};
	int rc;

	lines_init(&ps.lines, progress_line, &ps);
	req->timeout_ms = -1; /* bounded by ctx: pulls and imports take what they take */
	req->on_data = progress_data;
	req->user_data = &ps;
	rc = docker_call(rt, ctx, req, &resp, op, ref, err);
	if (rc == 0 && !ps.error && resp.status == 200)
		lines_finish(&ps.lines);
	lines_free(&ps.lines);
	if (rc == 0 && resp.status != 200)
		rc = http_failure(&resp, OBJ_IMAGE, op, ref, err);
	else if (rc == 0 && ps.error)
		rc = err_engine(err, DMS_ERR_IMAGE, op, ref, ps.error, "%s %s: %s", op, ref,
		                ps.error);
	free(ps.error);
	return rc;
}

static int docker_image_pull(struct runtime *rt, dms_context *ctx, const char *image,
                             const char *registry_auth, runtime_progress_fn fn, void *ud,
                             dms_error **err)
{
	_cleanup_free_ char *name = NULL, *tag = NULL, *ename = NULL, *etag = NULL;
	_cleanup_free_ char *path = NULL, *auth = NULL;
	struct http_request req;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image pull: no image given");
	if (split_image_ref(image, &name, &tag) != 0 || !(ename = http_urlencode(name)) ||
	    !(etag = http_urlencode(tag)) ||
	    !(path = pathf("/images/create?fromImage=%s&tag=%s", ename, etag)))
		return oom(err);
	req = DOCKER_REQ("POST", path);
	if (registry_auth && *registry_auth) {
		if (strpbrk(registry_auth, "\r\n"))
			return err_set(err, DMS_ERR_INVALID_ARGUMENT,
			               "image pull %s: registry auth must be one line", image);
		if (!(auth = pathf("X-Registry-Auth: %s", registry_auth)))
			return oom(err);
		req.extra_header = auth;
	}
	return images_create(rt, ctx, &req, "image pull", image, fn, ud, err);
}

static int docker_image_import(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
                               dms_error **err)
{
	_cleanup_free_ char *name = NULL, *tag = NULL, *ename = NULL, *etag = NULL;
	_cleanup_free_ char *path = NULL;
	struct http_request req;

	if (!ref || !*ref || fd < 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "image import: needs a readable fd and a repo:tag reference");
	if (split_image_ref(ref, &name, &tag) != 0 || !(ename = http_urlencode(name)) ||
	    !(etag = http_urlencode(tag)) ||
	    !(path = pathf("/images/create?fromSrc=-&repo=%s&tag=%s", ename, etag)))
		return oom(err);
	req = DOCKER_REQ("POST", path);
	req.body_fd = fd;
	req.content_type = "application/x-tar";
	return images_create(rt, ctx, &req, "image import", ref, NULL, NULL, err);
}

/* ---- containers --------------------------------------------------------- */

static void create_body(struct jw *w, const struct container_spec *spec)
{
	const struct exec_request *r = spec->req;

	jw_map_open(w);
	jw_key_str(w, "Image", r->image);
	jw_key_strv(w, "Entrypoint", r->entrypoint);
	jw_key_strv(w, "Cmd", r->cmd);
	jw_key_strv(w, "Env", r->environment);
	jw_key_str(w, "WorkingDir", r->working_directory);
	jw_key_str(w, "User", r->user);
	jw_key_bool(w, "Tty", r->tty);
	/* The executor reads output through /logs, never by attaching. */
	jw_key_bool(w, "AttachStdin", false);
	jw_key_bool(w, "AttachStdout", false);
	jw_key_bool(w, "AttachStderr", false);
	jw_key_bool(w, "OpenStdin", false);
	jw_key_labels(w, "Labels", spec->labels);
	jw_key_str(w, "StopSignal", spec->stop_signal);
	if (spec->stop_timeout_s > 0)
		jw_key_int(w, "StopTimeout", spec->stop_timeout_s);

	jw_str(w, "HostConfig");
	jw_map_open(w);
	if (r->cpu_cores > 0)
		jw_key_int(w, "NanoCpus", llround(r->cpu_cores * 1e9));
	if (r->memory_bytes > 0) {
		jw_key_int(w, "Memory", r->memory_bytes);
		/* Equal to Memory: no swap on top, so a memory limit is a limit. */
		jw_key_int(w, "MemorySwap", r->memory_bytes);
	}
	if (r->pids_limit > 0)
		jw_key_int(w, "PidsLimit", r->pids_limit);
	jw_key_str(w, "NetworkMode", r->network_mode);
	if (r->n_inputs > 0) {
		jw_str(w, "Binds");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_inputs; i++) {
			const struct mount_spec *m = &r->inputs[i];
			_cleanup_free_ char *bind =
			    pathf("%s:%s%s", m->source ? m->source : "", m->target ? m->target : "",
			          m->read_only ? ":ro" : "");

			if (!bind)
				w->failed = true;
			else
				jw_str(w, bind);
		}
		jw_array_close(w);
	}
	jw_map_close(w);
	jw_map_close(w);
}

static int docker_container_create(struct runtime *rt, dms_context *ctx,
                                   const struct container_spec *spec, char **id_out,
                                   dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_yajl_gen_ yajl_gen g = NULL;
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *ename = NULL, *path = NULL;
	const char *op = "container create", *name, *id;
	struct jw w;
	struct http_request req;
	int rc;

	if (!spec || !spec->req || !spec->req->image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "container create: no image given");
	name = spec->name;
	if (name && !(ename = http_urlencode(name)))
		return oom(err);
	if (!(path = ename ? pathf("/containers/create?name=%s", ename)
	                   : strdup("/containers/create")))
		return oom(err);
	if ((rc = jw_begin(&w, err)) != 0)
		return rc;
	g = w.g;
	create_body(&w, spec);
	req = DOCKER_REQ("POST", path);
	if ((rc = jw_end(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;

	if ((rc = docker_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status == 404) /* the only thing create looks up is the image */
		return http_failure(&resp, OBJ_IMAGE, op, spec->req->image, err);
	if (resp.status != 201)
		return http_failure(&resp, OBJ_CONTAINER, op, name, err);
	/* "Warnings" are advisory (e.g. limits the kernel cannot enforce). */
	root = parse_json_text(resp.body.data);
	if (!(id = jstr(root, JPATH("Id"))))
		return bad_json(OBJ_CONTAINER, op, name, err);
	if (id_out && !(*id_out = strdup(id)))
		return oom(err);
	return 0;
}

/* POST /containers/{id}/{action}[?query]; `already` is the status that
 * means "already in that state" and counts as success (0: none). */
static int container_action(struct runtime *rt, dms_context *ctx, const char *id,
                            const char *action, const char *query, long timeout_ms, long already,
                            const char *op, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) || !(path = pathf("/containers/%s/%s%s%s", esc, action,
	                                               query ? "?" : "", query ? query : "")))
		return oom(err);
	req = DOCKER_REQ("POST", path);
	req.timeout_ms = timeout_ms;
	if ((rc = docker_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || (already && resp.status == already))
		return 0;
	return http_failure(&resp, OBJ_CONTAINER, op, id, err);
}

static int docker_container_start(struct runtime *rt, dms_context *ctx, const char *id,
                                  dms_error **err)
{
	return container_action(rt, ctx, id, "start", NULL, 0, 304, "container start", err);
}

static int docker_container_stop(struct runtime *rt, dms_context *ctx, const char *id,
                                 int timeout_s, dms_error **err)
{
	char query[32];
	long timeout_ms = 0;

	if (timeout_s >= 0) {
		snprintf(query, sizeof(query), "t=%d", timeout_s);
		timeout_ms = (long)timeout_s * 1000 + DOCKER_STOP_SLACK_MS;
	}
	return container_action(rt, ctx, id, "stop", timeout_s >= 0 ? query : NULL, timeout_ms, 304,
	                        "container stop", err);
}

static int docker_container_kill(struct runtime *rt, dms_context *ctx, const char *id,
                                 const char *signal, dms_error **err)
{
	_cleanup_free_ char *esig = NULL, *query = NULL;

	if (signal && *signal) {
		if (!(esig = http_urlencode(signal)) || !(query = pathf("signal=%s", esig)))
			return oom(err);
	}
	return container_action(rt, ctx, id, "kill", query, 0, 0, "container kill", err);
}

static int docker_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                                   dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL, *text = NULL;
	const char *op = "container remove";
	struct http_request req;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/containers/%s?force=%d&v=1", esc, force ? 1 : 0)))
		return oom(err);
	req = DOCKER_REQ("DELETE", path);
	if ((rc = docker_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		return 0;
	/* A removal already under way ends with the container gone, too. */
	text = engine_text(&resp);
	if (resp.status == 409 && text && strstr(text, "already in progress"))
		return 0;
	return http_failure(&resp, OBJ_CONTAINER, op, id, err);
}

static enum container_status parse_container_status(const char *s)
{
	static const struct {
		const char *name;
		enum container_status status;
	} map[] = {
	    {"created", CS_CREATED},   {"running", CS_RUNNING},
	    {"paused", CS_PAUSED},     {"restarting", CS_RESTARTING},
	    {"removing", CS_REMOVING}, {"exited", CS_EXITED},
	    {"dead", CS_DEAD},
	};

	for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].status;
	return CS_UNKNOWN;
}

/* "/name" -> "name" */
static char *container_name(const char *name)
{
	if (!name)
		return NULL;
	return strdup(name[0] == '/' ? name + 1 : name);
}

static int docker_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                                    struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container inspect", *s;
	struct container_state st = {0};
	long long exit_code = 0;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) || !(path = pathf("/containers/%s/json", esc)))
		return oom(err);
	if ((rc = docker_get_json(rt, ctx, path, OBJ_CONTAINER, op, id, &root, err)) != 0)
		return rc;
	if (!(s = jstr(root, JPATH("Id"))))
		return bad_json(OBJ_CONTAINER, op, id, err);

	st.id = strdup(s);
	st.name = container_name(jstr(root, JPATH("Name")));
	st.status = parse_container_status(jstr(root, JPATH("State", "Status")));
	jint(root, JPATH("State", "ExitCode"), &exit_code);
	st.exit_code = (int)exit_code;
	st.oom_killed = jtrue(root, JPATH("State", "OOMKilled"));
	st.tty = jtrue(root, JPATH("Config", "Tty"));
	if ((s = jstr(root, JPATH("State", "StartedAt"))))
		st.started_at_ns = parse_rfc3339(s);
	if ((s = jstr(root, JPATH("State", "FinishedAt"))))
		st.finished_at_ns = parse_rfc3339(s);
	if ((s = jstr(root, JPATH("State", "Error"))) && *s)
		st.error = strdup(s);
	st.labels = labels_from_json(yajl_tree_get(root, JPATH("Config", "Labels"), yajl_t_any));
	if (!st.id || !st.labels) {
		container_state_free(&st);
		return oom(err);
	}
	*out = st;
	return 0;
}

static int docker_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                                 struct container_summary **out, size_t *n, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *filters = NULL, *path = NULL;
	const char *op = "container list";
	struct container_summary *v;
	size_t count;
	int rc;

	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = filters_query(NULL, label)) ||
	    !(path = pathf("/containers/json?all=1&filters=%s", filters)))
		return oom(err);
	if ((rc = docker_get_json(rt, ctx, path, OBJ_CONTAINER, op, label, &root, err)) != 0)
		return rc;
	if (!YAJL_IS_ARRAY(root))
		return bad_json(OBJ_CONTAINER, op, label, err);

	count = root->u.array.len;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return oom(err);
	for (size_t i = 0; i < count; i++) {
		yajl_val c = root->u.array.values[i];
		yajl_val names = yajl_tree_get(c, JPATH("Names"), yajl_t_array);
		const char *id = jstr(c, JPATH("Id"));

		v[i].id = strdup_or_null(id);
		if (names && names->u.array.len > 0 && YAJL_IS_STRING(names->u.array.values[0]))
			v[i].name = container_name(YAJL_GET_STRING(names->u.array.values[0]));
		v[i].status = parse_container_status(jstr(c, JPATH("State")));
		v[i].labels = labels_from_json(yajl_tree_get(c, JPATH("Labels"), yajl_t_any));
		if (!v[i].id || !v[i].labels) {
			container_summaries_free(v, count);
			return id ? oom(err) : bad_json(OBJ_CONTAINER, op, label, err);
		}
	}
	*out = v;
	*n = count;
	return 0;
}

static int docker_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                                 const struct log_options *opts, runtime_log_fn fn, void *ud,
                                 dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container logs";
	char tail[32] = "all", since[48] = "";
	struct http_request req;
	int rc;

	if (!id || !*id || !opts || !fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: needs a container and a sink",
		               op);
	if (opts->tail >= 0)
		snprintf(tail, sizeof(tail), "%" PRId64, opts->tail);
	if (opts->since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         opts->since_ns / 1000000000, opts->since_ns % 1000000000);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/containers/%s/logs?stdout=%d&stderr=%d&follow=%d&tail=%s%s", esc,
	                   opts->stdout_ ? 1 : 0, opts->stderr_ ? 1 : 0, opts->follow ? 1 : 0, tail,
	                   since)))
		return oom(err);
	req = DOCKER_REQ("GET", path);
	req.timeout_ms = -1;
	/* Raw bytes, framed unless tty: the executor demultiplexes. */
	req.on_data = fn;
	req.user_data = ud;
	if ((rc = docker_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status != 200)
		return http_failure(&resp, OBJ_CONTAINER, op, id, err);
	return 0;
}

/* ---- events ------------------------------------------------------------- */

struct event_stream {
	struct line_splitter lines;
	runtime_ready_fn ready;
	runtime_event_fn fn;
	void *ud;
	bool ready_called;
	bool ended_by_fn;
};

static enum runtime_event_kind event_kind(const char *action)
{
	if (strcmp(action, "start") == 0)
		return RT_EV_START;
	if (strcmp(action, "die") == 0)
		return RT_EV_DIE;
	if (strcmp(action, "oom") == 0)
		return RT_EV_OOM;
	if (strcmp(action, "destroy") == 0)
		return RT_EV_DESTROY;
	return RT_EV_OTHER;
}

static int event_line(void *ud, char *line, size_t len)
{
	struct event_stream *es = ud;
	_cleanup_yajl_tree_ yajl_val ev = parse_json_text(line);
	const char *type, *action, *id, *code;
	struct runtime_event e = {.exit_code = -1};
	long long t;

	(void)len;
	if (!ev)
		return 0; /* not JSON: skip the line, keep the stream */
	type = jstr(ev, JPATH("Type"));
	if (type && strcmp(type, "container") != 0)
		return 0;
	if (!(action = jstr(ev, JPATH("Action"))))
		action = jstr(ev, JPATH("status"));
	if (!(id = jstr(ev, JPATH("Actor", "ID"))))
		id = jstr(ev, JPATH("id"));
	if (!action || !id)
		return 0;
	e.kind = event_kind(action);
	e.container_id = id;
	e.execution_id = jstr(ev, JPATH("Actor", "Attributes", "org.dms.execution"));
	if ((code = jstr(ev, JPATH("Actor", "Attributes", "exitCode")))) {
		char *end;
		long c = strtol(code, &end, 10);

		if (end != code && *end == '\0')
			e.exit_code = (int)c;
	}
	if (jint(ev, JPATH("timeNano"), &t))
		e.time_ns = t;
	else if (jint(ev, JPATH("time"), &t))
		e.time_ns = t * 1000000000LL;
	if (es->fn(es->ud, &e) != 0) {
		es->ended_by_fn = true;
		return 1;
	}
	return 0;
}

static int event_data(void *ud, const char *data, size_t len)
{
	struct event_stream *es = ud;

	return lines_feed(&es->lines, data, len);
}

static void event_headers(void *ud, long status)
{
	struct event_stream *es = ud;

	if (status == 200 && !es->ready_called) {
		es->ready_called = true;
		if (es->ready)
			es->ready(es->ud);
	}
}

static int docker_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                         runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct event_stream es = {.ready = ready, .fn = fn, .ud = ud};
	const char *url = http_client_url(rt->http), *op = "events";
	char since[48] = "";
	struct http_request req;
	int rc;

	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "events: no event handler given");
	if (since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         since_ns / 1000000000, since_ns % 1000000000);
	if (!(filters = filters_query("container", label && *label ? label : NULL)) ||
	    !(path = pathf("/events?filters=%s%s", filters, since)))
		return oom(err);
	req = DOCKER_REQ("GET", path);
	req.timeout_ms = -1;
	req.on_data = event_data;
	req.on_headers = event_headers;
	req.user_data = &es;
	lines_init(&es.lines, event_line, &es);
	rc = docker_call(rt, ctx, &req, &resp, op, url, err);
	lines_free(&es.lines); /* a partial last line of a dropped stream is no event */
	if (rc != 0 || es.ended_by_fn)
		return rc;
	if (resp.status != 200)
		return http_failure(&resp, OBJ_ENGINE, op, url, err);
	if ((rc = ctx_status(ctx)) != 0)
		return err_set(err, rc, "events from %s: %s", url,
		               rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
	return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, url, NULL,
	                  "the event stream from %s ended", url);
}

/* ---- networks and volumes ----------------------------------------------- */

static int create_labelled(struct runtime *rt, dms_context *ctx, enum docker_object o,
                           const char *path, const char *name, const strv labels, bool internal,
                           char **id_out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_yajl_gen_ yajl_gen g = NULL;
	_cleanup_yajl_tree_ yajl_val root = NULL;
	const char *op = o == OBJ_NETWORK ? "network create" : "volume create", *id;
	struct http_request req = DOCKER_REQ("POST", path);
	struct jw w;
	int rc;

	if (!name || !*name)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no name given", op);
	if ((rc = jw_begin(&w, err)) != 0)
		return rc;
	g = w.g;
	jw_map_open(&w);
	jw_key_str(&w, "Name", name);
	jw_key_labels(&w, "Labels", labels);
	if (o == OBJ_NETWORK) {
		jw_key_bool(&w, "Internal", internal);
		jw_key_bool(&w, "CheckDuplicate", true);
	}
	jw_map_close(&w);
	if ((rc = jw_end(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;
	if ((rc = docker_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status != 201 && resp.status != 200)
		return http_failure(&resp, o, op, name, err);
	if (!id_out)
		return 0;
	root = parse_json_text(resp.body.data);
	if (!(id = jstr(root, JPATH(o == OBJ_NETWORK ? "Id" : "Name"))))
		return bad_json(o, op, name, err);
	return (*id_out = strdup(id)) ? 0 : oom(err);
}

static int docker_network_create(struct runtime *rt, dms_context *ctx, const char *name,
                                 const strv labels, bool internal, char **id_out, dms_error **err)
{
	return create_labelled(rt, ctx, OBJ_NETWORK, "/networks/create", name, labels, internal,
	                       id_out, err);
}

static int docker_volume_create(struct runtime *rt, dms_context *ctx, const char *name,
                                const strv labels, dms_error **err)
{
	return create_labelled(rt, ctx, OBJ_VOLUME, "/volumes/create", name, labels, false, NULL,
	                       err);
}

static int docker_object_list(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                              const char *label, strv *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct strv_builder b = {0};
	enum docker_object o;
	const char *op, *key;
	yajl_val items;
	int rc;

	if (kind == RT_OBJ_CONTAINER) {
		struct container_summary *v = NULL;
		size_t n = 0;

		if ((rc = docker_container_list(rt, ctx, label, &v, &n, err)) != 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			sb_push(&b, strdup(v[i].id));
		container_summaries_free(v, n);
		return (*out = sb_finish(&b)) ? 0 : oom(err);
	}
	o = kind == RT_OBJ_NETWORK ? OBJ_NETWORK : OBJ_VOLUME;
	op = kind == RT_OBJ_NETWORK ? "network list" : "volume list";
	key = kind == RT_OBJ_NETWORK ? "Id" : "Name";
	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = filters_query(NULL, label)) ||
	    !(path = pathf("/%s?filters=%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes",
	                   filters)))
		return oom(err);
	if ((rc = docker_get_json(rt, ctx, path, o, op, label, &root, err)) != 0)
		return rc;
	/* Networks: [{...}]; volumes: {"Volumes": [{...}] or null}. */
	items = kind == RT_OBJ_NETWORK ? root : yajl_tree_get(root, JPATH("Volumes"), yajl_t_any);
	if (items && !YAJL_IS_ARRAY(items) && !YAJL_IS_NULL(items))
		return bad_json(o, op, label, err);
	for (size_t i = 0; items && YAJL_IS_ARRAY(items) && i < items->u.array.len; i++) {
		const char *s = jstr(items->u.array.values[i], JPATH(key));

		if (s)
			sb_push(&b, strdup(s));
	}
	return (*out = sb_finish(&b)) ? 0 : oom(err);
}

static int docker_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                                const char *id, dms_error **err)
{
	_cleanup_response_ struct http_response resp = response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	enum docker_object o = kind == RT_OBJ_NETWORK ? OBJ_NETWORK : OBJ_VOLUME;
	const char *op = kind == RT_OBJ_NETWORK ? "network remove" : "volume remove";
	struct http_request req;
	int rc;

	if (kind == RT_OBJ_CONTAINER)
		return docker_container_remove(rt, ctx, id, true, err);
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: nothing named", op);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/%s/%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes", esc)))
		return oom(err);
	req = DOCKER_REQ("DELETE", path);
	if ((rc = docker_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		return 0;
	return http_failure(&resp, o, op, id, err);
}

const struct runtime_ops docker_runtime_ops = {
    .struct_size = sizeof(struct runtime_ops),
    .kind = "docker",
    .caps = 0,
    .open = docker_open,
    .close = docker_close,
    .ping = docker_ping,
    .image_present = docker_image_present,
    .image_pull = docker_image_pull,
    .image_import = docker_image_import,
    .container_create = docker_container_create,
    .container_start = docker_container_start,
    .container_stop = docker_container_stop,
    .container_kill = docker_container_kill,
    .container_remove = docker_container_remove,
    .container_inspect = docker_container_inspect,
    .container_list = docker_container_list,
    .container_logs = docker_container_logs,
    .events = docker_events,
    .network_create = docker_network_create,
    .volume_create = docker_volume_create,
    .object_list = docker_object_list,
    .object_remove = docker_object_remove,
};
