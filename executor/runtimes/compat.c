/* compat.c — the Docker Engine API client behind both runtime tables
 * (compat.h): docker.c and podman.c are thin tables over these functions.
 *
 * Exists to turn the executor's few engine needs into Docker Engine API
 * calls over http.c, and the engine's answers back into the plugin's types
 * and error categories (docs/engine-api.md). Nothing here blocks without a
 * context, hard-codes an API version, or buffers an engine answer without a
 * bound.
 *
 * The API version is negotiated from GET /_ping's Api-Version header: the
 * engine's version, capped at COMPAT_API_MAX (the newest this file is
 * written against) and refused below COMPAT_API_MIN. Every other path is
 * sent versioned ("/v1.41/containers/..."), negotiating lazily on first use
 * when ping() was not called. The same answer names the engine: Podman sends
 * a Libpod-Api-Version header (also the version of its libpod API, used for
 * the few /libpod/ calls), and the runtime then follows Podman's flavor
 * whichever table opened it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "compat.h"
#include "gpu.h"
#include "pull_progress.h"
#include "clock.h"

/* The API versions this file is written against: [MIN, MAX]. */
#define COMPAT_API_MAJOR 1
#define COMPAT_API_MIN_MINOR 25
#define COMPAT_API_MAX_MINOR 43
/* Longest JSON line of a progress or event stream; longer ones are skipped. */
#define COMPAT_LINE_MAX (64u << 10)
/* Longest engine error text copied from a non-JSON error body. */
#define COMPAT_ERROR_TEXT_MAX 1024
/* Stop waits up to its timeout inside the engine; give the request room. */
#define COMPAT_STOP_SLACK_MS 30000L
/* Longest Libpod-Api-Version kept ("4.3.1"). */
#define COMPAT_LIBPOD_VERSION_MAX 32

#define JPATH COMPAT_JPATH

struct runtime {
	struct http_client *http;
	pthread_mutex_t mu;
	bool negotiated;                                /* under mu */
	const struct compat_flavor *flavor;             /* under mu: the engine's once negotiated */
	char libpod_version[COMPAT_LIBPOD_VERSION_MAX]; /* under mu; "" none */
	char *info_identity;      /* under mu: the ping headers `info` is from */
	struct runtime_info info; /* under mu: the last fingerprint */
};

static void yajl_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}
#define _cleanup_yajl_gen_ __attribute__((cleanup(yajl_gen_freep)))

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
#define COMPAT_REQ(m, p)                                                                           \
	((struct http_request){.method = (m), .path = (p), .versioned = true, .body_fd = -1})

/* ---- JSON reading ------------------------------------------------------- */

const char *compat_jstr(yajl_val v, const char **path)
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

yajl_val compat_parse_json(const char *text)
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

/* Splits a byte stream into lines, each bounded by COMPAT_LINE_MAX: a
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
	ls->line = (struct buf)BUF_INIT(COMPAT_LINE_MAX);
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

/* The engine's own words: {"message": ...} or the raw body, bounded. */
static char *engine_text(const struct http_response *r)
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

/* The engine that answered, from any of its responses' headers: Podman
 * sends Libpod-Api-Version on every answer and "Server: Libpod/<version>";
 * dockerd sends "Server: Docker/<version>". Unknown engines are Docker's. */
static const struct compat_flavor *engine_flavor(const struct http_response *r)
{
	if ((r->libpod_api_version && *r->libpod_api_version) ||
	    (r->server && strncmp(r->server, "Libpod/", 7) == 0))
		return &compat_podman_flavor;
	return &compat_docker_flavor;
}

/* Picks the version to speak with an engine that speaks `engine` and
 * installs it on the client, with the flavor and libpod API version the
 * ping's headers named. `op` names what the caller was doing. */
static int use_api_version(struct runtime *rt, const char *engine, const struct http_response *ping,
                           const char *op, const char *resource, dms_error **err)
{
	const char *url = http_client_url(rt->http);
	const char *libpod = ping->libpod_api_version;
	char version[32];
	long major, minor;

	if (!parse_api_version(engine, &major, &minor))
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource, engine,
		                  "%s: the engine at %s reports no usable API version (\"%s\")", op,
		                  url, engine ? engine : "");
	if (major < COMPAT_API_MAJOR || (major == COMPAT_API_MAJOR && minor < COMPAT_API_MIN_MINOR))
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource, engine,
		                  "%s: the engine at %s speaks API %s, older than the oldest this "
		                  "executor supports (%d.%d)",
		                  op, url, engine, COMPAT_API_MAJOR, COMPAT_API_MIN_MINOR);
	if (major > COMPAT_API_MAJOR || minor > COMPAT_API_MAX_MINOR)
		snprintf(version, sizeof(version), "%d.%d", COMPAT_API_MAJOR, COMPAT_API_MAX_MINOR);
	else
		snprintf(version, sizeof(version), "%ld.%ld", major, minor);

	http_client_set_api_version(rt->http, version);
	pthread_mutex_lock(&rt->mu);
	rt->negotiated = true;
	rt->flavor = engine_flavor(ping);
	/* Only a version that fits a path segment: it is sent back as one. */
	if (libpod && strlen(libpod) < sizeof(rt->libpod_version) &&
	    strspn(libpod, "0123456789.") == strlen(libpod))
		snprintf(rt->libpod_version, sizeof(rt->libpod_version), "%s", libpod);
	else
		rt->libpod_version[0] = '\0';
	pthread_mutex_unlock(&rt->mu);
	return 0;
}

/* GET /_ping (unversioned) and negotiate from its Api-Version header; an
 * engine that omits the header is asked GET /version (unversioned). Errors
 * carry the caller's operation and resource: a failed lazy negotiation is
 * reported as the failure of what the user asked for. */
static int ping_negotiate(struct runtime *rt, dms_context *ctx, const char *op,
                          const char *resource, char **identity, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_response_ struct http_response vresp = compat_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	struct http_request req = COMPAT_REQ("GET", "/_ping");
	int rc;

	req.versioned = false;
	if ((rc = http_do(rt->http, ctx, &req, &resp, err)) != 0)
		return annotate(err, rc, op, resource);
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_ENGINE, op, resource, err);
	/* Who answered, as far as its headers say: the same engine build on
	 * the same socket gives the same fingerprint. */
	if (identity && resp.server &&
	    asprintf(identity, "%s\n%s\n%s", resp.server, resp.api_version ? resp.api_version : "",
	             resp.libpod_api_version ? resp.libpod_api_version : "") < 0)
		*identity = NULL;
	if (resp.api_version)
		return use_api_version(rt, resp.api_version, &resp, op, resource, err);

	req.path = "/version";
	if ((rc = http_do(rt->http, ctx, &req, &vresp, err)) != 0)
		return annotate(err, rc, op, resource);
	if (vresp.status != 200)
		return compat_http_failure(&vresp, COMPAT_ENGINE, op, resource, err);
	root = compat_parse_json(vresp.body.data);
	return use_api_version(rt, compat_jstr(root, JPATH("ApiVersion")), &resp, op, resource,
	                       err);
}

static int negotiate(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     dms_error **err)
{
	bool done;

	pthread_mutex_lock(&rt->mu);
	done = rt->negotiated;
	pthread_mutex_unlock(&rt->mu);
	/* Concurrent first users may both ping; the answer is the same. */
	return done ? 0 : ping_negotiate(rt, ctx, op, resource, NULL, err);
}

/* The flavor of the engine, negotiating first so that it is the engine's
 * and not only the table's guess. */
static int flavor_of(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     const struct compat_flavor **out, dms_error **err)
{
	int rc = negotiate(rt, ctx, op, resource, err);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&rt->mu);
	*out = rt->flavor;
	pthread_mutex_unlock(&rt->mu);
	return 0;
}

int compat_call(struct runtime *rt, dms_context *ctx, const struct http_request *req,
                struct http_response *resp, const char *op, const char *resource, dms_error **err)
{
	int rc;

	if (req->versioned && (rc = negotiate(rt, ctx, op, resource, err)) != 0)
		return rc;
	if ((rc = http_do(rt->http, ctx, req, resp, err)) != 0)
		return annotate(err, rc, op, resource);
	return 0;
}

/* GET path, expect 200 and a JSON document. */
static int get_json(struct runtime *rt, dms_context *ctx, const char *path, bool versioned,
                    enum compat_object o, const char *op, const char *resource, yajl_val *out,
                    dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
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

int compat_libpod_path(struct runtime *rt, dms_context *ctx, const char *path, const char *op,
                       const char *resource, char **out, dms_error **err)
{
	char version[COMPAT_LIBPOD_VERSION_MAX];
	int rc = negotiate(rt, ctx, op, resource, err);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&rt->mu);
	snprintf(version, sizeof(version), "%s", rt->libpod_version);
	pthread_mutex_unlock(&rt->mu);
	if (!*version)
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource, NULL,
		                  "%s%s%s: the engine at %s has no libpod API (no "
		                  "Libpod-Api-Version header)",
		                  op, resource ? " " : "", resource ? resource : "",
		                  http_client_url(rt->http));
	if (!(*out = pathf("/v%s/libpod%s", version, path)))
		return compat_oom(err);
	return 0;
}

const char *compat_url(const struct runtime *rt)
{
	return http_client_url(rt->http);
}

/* ---- open, close, ping, probe ------------------------------------------- */

int compat_open(const char *url, const struct compat_flavor *flavor, struct runtime **out,
                dms_error **err)
{
	struct runtime *rt;
	int rc;

	if (!url || !*url || !flavor)
		return err_set(err, DMS_ERR_INTERNAL, "runtime open: no engine URL or flavor");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return compat_oom(err);
	if ((rc = http_client_new(url, &rt->http, err)) != 0) {
		free(rt);
		return rc;
	}
	pthread_mutex_init(&rt->mu, NULL);
	rt->flavor = flavor;
	*out = rt;
	return 0;
}

void compat_close(struct runtime *rt)
{
	if (!rt)
		return;
	http_client_free(rt->http);
	runtime_info_free(&rt->info);
	free(rt->info_identity);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
}

int compat_probe(const char *url, long timeout_ms, const struct compat_flavor **engine,
                 dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	struct http_request req = COMPAT_REQ("GET", "/_ping");
	struct http_client *c = NULL;
	dms_context *ctx;
	int rc;

	if ((rc = http_client_new(url, &c, err)) != 0)
		return rc;
	if (!(ctx = ctx_new(timeout_ms))) {
		http_client_free(c);
		return compat_oom(err);
	}
	req.versioned = false;
	rc = http_do(c, ctx, &req, &resp, err);
	ctx_free(ctx);
	http_client_free(c);
	if (rc != 0)
		return annotate(err, rc, "ping", url);
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_ENGINE, "ping", url, err);
	*engine = engine_flavor(&resp);
	return 0;
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

static int info_copy(struct runtime_info *dst, const struct runtime_info *src)
{
	*dst = (struct runtime_info){
	    .kind = strdup_or_null(src->kind),
	    .version = strdup_or_null(src->version),
	    .api_version = strdup_or_null(src->api_version),
	    .os = strdup_or_null(src->os),
	    .rootless = src->rootless,
	    .cgroup_version = src->cgroup_version,
	};
	if ((src->kind && !dst->kind) || (src->version && !dst->version) ||
	    (src->api_version && !dst->api_version) || (src->os && !dst->os)) {
		runtime_info_free(dst);
		return -1;
	}
	return 0;
}

/* The fingerprint from the engine: dockerd's /version and /info, or the
 * flavor's own source (Podman: /libpod/info). */
static int fetch_info(struct runtime *rt, dms_context *ctx, struct runtime_info *out,
                      dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val version = NULL;
	_cleanup_yajl_tree_ yajl_val sysinfo = NULL;
	const char *url = http_client_url(rt->http);
	const struct compat_flavor *flavor;
	const char *cgroup;
	struct runtime_info i = {0};
	int rc;

	if ((rc = flavor_of(rt, ctx, "ping", url, &flavor, err)) != 0)
		return rc;
	if (!flavor->fill_info && ((rc = get_json(rt, ctx, "/version", true, COMPAT_ENGINE,
	                                          "version", url, &version, err)) != 0 ||
	                           (rc = get_json(rt, ctx, "/info", true, COMPAT_ENGINE, "info",
	                                          url, &sysinfo, err)) != 0))
		return rc;
	i.kind = strdup(flavor->kind);
	i.api_version = strdup_or_null(http_client_api_version(rt->http));
	if (!flavor->fill_info) {
		i.version = strdup_or_null(compat_jstr(version, JPATH("Version")));
		i.os = strdup_or_null(compat_jstr(version, JPATH("Os")));
		i.rootless = security_options_rootless(sysinfo);
		cgroup = compat_jstr(sysinfo, JPATH("CgroupVersion"));
		i.cgroup_version = cgroup ? atoi(cgroup) : 0;
	}
	if (!i.kind || !i.api_version) {
		runtime_info_free(&i);
		return compat_oom(err);
	}
	if (flavor->fill_info && (rc = flavor->fill_info(rt, ctx, &i, err)) != 0) {
		runtime_info_free(&i);
		return rc;
	}
	*out = i;
	return 0;
}

/* What the ping's headers say, for when the details did not come: the
 * engine's version from Libpod-Api-Version, else from "Server: <name>/<version>
 * (<os>)"; rootless and the cgroup version stay unknown (false, 0). */
static int header_info(struct runtime *rt, const char *identity, struct runtime_info *out)
{
	const struct compat_flavor *flavor;
	const char *server = identity, *nl = identity ? strchr(identity, '\n') : NULL;
	const char *libpod = nl ? strchr(nl + 1, '\n') : NULL;
	const char *slash = server ? strchr(server, '/') : NULL;
	const char *paren = server ? strchr(server, '(') : NULL;
	struct runtime_info i = {0};

	pthread_mutex_lock(&rt->mu);
	flavor = rt->flavor;
	pthread_mutex_unlock(&rt->mu);
	i.kind = strdup(flavor->kind);
	i.api_version = strdup_or_null(http_client_api_version(rt->http));
	if (libpod && libpod[1])
		i.version = strdup(libpod + 1);
	else if (slash && (!nl || slash < nl))
		i.version = strndup(slash + 1, strcspn(slash + 1, " \n"));
	if (paren && (!nl || paren < nl))
		i.os = strndup(paren + 1, strcspn(paren + 1, ")\n"));
	if (!i.kind || !i.api_version) {
		runtime_info_free(&i);
		return -1;
	}
	*out = i;
	return 0;
}

/* Every ping reaches the engine (that is what IsInstalled asks); the rest of
 * the fingerprint is fetched again only when the engine's identity headers
 * changed. It costs one to three requests that exec helper binaries inside
 * the engine (Podman's /libpod/info took 3–6 s on a loaded machine here,
 * compat /version up to 10 s) and changes only with the engine build or
 * service. When the details do not come (the caller's deadline passed
 * first), the engine still answered the ping: the fingerprint is what its
 * headers say, and the details are asked again next time. */
int compat_ping(struct runtime *rt, dms_context *ctx, struct runtime_info *info, dms_error **err)
{
	_cleanup_free_ char *identity = NULL;
	const char *url = http_client_url(rt->http);
	struct runtime_info i = {0};
	bool cached = false;
	dms_error *detail = NULL;
	int rc;

	/* Always re-negotiate: the engine may have been upgraded (or replaced:
	 * the socket may now be the other engine's) meanwhile. */
	if ((rc = ping_negotiate(rt, ctx, "ping", url, info ? &identity : NULL, err)) != 0)
		return rc;
	if (!info)
		return 0;
	pthread_mutex_lock(&rt->mu);
	if (identity && rt->info_identity && strcmp(identity, rt->info_identity) == 0) {
		if (info_copy(&i, &rt->info) != 0) {
			pthread_mutex_unlock(&rt->mu);
			return compat_oom(err);
		}
		cached = true;
	}
	pthread_mutex_unlock(&rt->mu);
	if (!cached && fetch_info(rt, ctx, &i, &detail) != 0) {
		err_free(detail);
		if (header_info(rt, identity, &i) != 0)
			return compat_oom(err);
	} else if (!cached) {
		struct runtime_info keep;

		if (identity && info_copy(&keep, &i) == 0) {
			pthread_mutex_lock(&rt->mu);
			runtime_info_free(&rt->info);
			free(rt->info_identity);
			rt->info = keep;
			rt->info_identity = identity;
			identity = NULL;
			pthread_mutex_unlock(&rt->mu);
		}
	}
	*info = i;
	return 0;
}

/* ---- images ------------------------------------------------------------- */

/* Splits an image reference into the fromImage and tag parameters of
 * /images/create: "name@sha256:..." pulls the digest, a missing tag means
 * "latest" (an empty tag would pull every tag of the repository). */
int compat_split_image_ref(const char *ref, char **name, char **tag)
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

/* Docker's normalisation (distribution/reference): the first component is a
 * registry host when it has a '.' or a ':' or is "localhost"; otherwise the
 * name lives on docker.io, under library/ when it has no '/'. */
char *compat_qualify_image_ref(const char *ref)
{
	const char *slash = strchr(ref, '/');
	const char *last_slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	bool has_tag = strchr(ref, '@') || (colon && (!last_slash || colon > last_slash));
	const char *tag = has_tag ? "" : ":latest";
	size_t first = slash ? (size_t)(slash - ref) : 0;

	if (slash && (memchr(ref, '.', first) || memchr(ref, ':', first) ||
	              (first == 9 && strncmp(ref, "localhost", 9) == 0)))
		return pathf("%s%s", ref, tag);
	return pathf("docker.io/%s%s%s", slash ? "" : "library/", ref, tag);
}

int compat_image_present(struct runtime *rt, dms_context *ctx, const char *image, bool *present,
                         dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	int rc;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image inspect: no image given");
	if (!(esc = path_escape(image)) || !(path = pathf("/images/%s/json", esc)))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	if ((rc = compat_call(rt, ctx, &req, &resp, "image inspect", image, err)) != 0)
		return rc;
	if (resp.status == 404) {
		*present = false;
		return 0;
	}
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_IMAGE, "image inspect", image, err);
	*present = true;
	return 0;
}

int compat_image_id(struct runtime *rt, dms_context *ctx, const char *image, char **id,
                    dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	const char *v;
	int rc;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image inspect: no image given");
	if (!(esc = path_escape(image)) || !(path = pathf("/images/%s/json", esc)))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	if ((rc = compat_call(rt, ctx, &req, &resp, "image inspect", image, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_IMAGE, "image inspect", image, err);
	root = compat_parse_json(resp.body.data);
	if (!(v = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_IMAGE, "image inspect", image, err);
	/* Podman's compat inspect gives the bare hex id; Docker's has the
	 * algorithm. One form for callers: "sha256:<hex>". */
	if (!(*id = strchr(v, ':') ? strdup(v) : pathf("sha256:%s", v)))
		return compat_oom(err);
	return 0;
}

/* The JSON-lines progress stream of a pull or an import. An error line
 * ends it: engines report failures after the 200 status line. Layer
 * messages are summed up (pull_progress.c) before fn sees them. */
struct progress_stream {
	struct line_splitter lines;
	runtime_progress_fn fn;
	void *ud;
	char *error;
	struct pull_progress agg;
};

static int progress_line(void *ud, char *line, size_t len)
{
	struct progress_stream *ps = ud;
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(line);
	const char *error, *status;
	long long current = -1, total = -1;

	(void)len;
	if (!root)
		return 0;
	error = compat_jstr(root, JPATH("errorDetail", "message"));
	if (!error)
		error = compat_jstr(root, JPATH("error"));
	if (error) {
		ps->error = strdup(error);
		return 1;
	}
	status = compat_jstr(root, JPATH("status"));
	if (!status) /* libpod's pull stream: {"stream": "Copying blob ...\n"} */
		status = compat_jstr(root, JPATH("stream"));
	if (ps->fn && status) {
		uint64_t sum_current, sum_total;
		size_t n = strlen(status);
		_cleanup_free_ char *line_status = NULL;

		while (n > 0 && (status[n - 1] == '\n' || status[n - 1] == '\r'))
			n--;
		jint(root, JPATH("progressDetail", "current"), &current);
		jint(root, JPATH("progressDetail", "total"), &total);
		if (!(line_status = strndup(status, n)) ||
		    pull_progress_update(&ps->agg, compat_jstr(root, JPATH("id")), line_status,
		                         current, total) != 0)
			return 0; /* out of memory: progress is best effort */
		pull_progress_totals(&ps->agg, &sum_current, &sum_total);
		ps->fn(ps->ud, ps->agg.status, (int64_t)sum_current, (int64_t)sum_total);
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
	_cleanup_response_ struct http_response resp = compat_response_new();
	struct progress_stream ps = {.fn = fn, .ud = ud};
	int rc;

	lines_init(&ps.lines, progress_line, &ps);
	pull_progress_init(&ps.agg);
	req->timeout_ms = -1; /* bounded by ctx: pulls and imports take what they take */
	req->on_data = progress_data;
	req->user_data = &ps;
	rc = compat_call(rt, ctx, req, &resp, op, ref, err);
	if (rc == 0 && !ps.error && resp.status == 200)
		lines_finish(&ps.lines);
	lines_free(&ps.lines);
	if (rc == 0 && resp.status != 200)
		rc = compat_http_failure(&resp, COMPAT_IMAGE, op, ref, err);
	else if (rc == 0 && ps.error)
		rc = err_engine(err, DMS_ERR_IMAGE, op, ref, ps.error, "%s %s: %s", op, ref,
		                ps.error);
	free(ps.error);
	pull_progress_free(&ps.agg);
	return rc;
}

/* A registry on the loopback interface: Docker's daemon treats 127.0.0.0/8
 * as insecure (plain HTTP) by default; the same is asked of Podman. */
static bool loopback_registry(const char *qualified_ref)
{
	const char *slash = strchr(qualified_ref, '/');
	size_t n = slash ? (size_t)(slash - qualified_ref) : 0;
	_cleanup_free_ char *host = strndup(qualified_ref, n);
	char *colon;

	if (!host)
		return false;
	if ((colon = strrchr(host, ':')) && !strchr(host, ']'))
		*colon = '\0';
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strncmp(host, "[::1]", 5) == 0;
}

int compat_image_pull(struct runtime *rt, dms_context *ctx, const char *image,
                      const char *registry_auth, runtime_progress_fn fn, void *ud, dms_error **err)
{
	_cleanup_free_ char *name = NULL, *tag = NULL, *ename = NULL, *etag = NULL;
	_cleanup_free_ char *path = NULL, *auth = NULL, *full = NULL, *query = NULL;
	const struct compat_flavor *flavor;
	struct http_request req;
	int rc;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image pull: no image given");
	if ((rc = flavor_of(rt, ctx, "image pull", image, &flavor, err)) != 0)
		return rc;
	if (strcmp(flavor->kind, "podman") == 0) {
		/* Podman's compat pull has no TLS switch; libpod's has
		 * (tlsVerify), and reports errors the same way in its stream.
		 * The reference is qualified as Docker reads it, so short names
		 * do not depend on registries.conf search lists. */
		if (!(full = compat_qualify_image_ref(image)) || !(ename = http_urlencode(full)) ||
		    !(query = pathf("/images/pull?reference=%s&policy=always%s", ename,
		                    loopback_registry(full) ? "&tlsVerify=false" : "")))
			return compat_oom(err);
		if ((rc = compat_libpod_path(rt, ctx, query, "image pull", image, &path, err)) != 0)
			return rc;
	} else if (compat_split_image_ref(image, &name, &tag) != 0 ||
	           !(ename = http_urlencode(name)) || !(etag = http_urlencode(tag)) ||
	           !(path = pathf("/images/create?fromImage=%s&tag=%s", ename, etag))) {
		return compat_oom(err);
	}
	req = COMPAT_REQ("POST", path);
	req.versioned = query == NULL; /* a libpod path carries its own version */
	if (registry_auth && *registry_auth) {
		if (strpbrk(registry_auth, "\r\n"))
			return err_set(err, DMS_ERR_INVALID_ARGUMENT,
			               "image pull %s: registry auth must be one line", image);
		if (!(auth = pathf("X-Registry-Auth: %s", registry_auth)))
			return compat_oom(err);
		req.extra_header = auth;
	}
	return images_create(rt, ctx, &req, "image pull", image, fn, ud, err);
}

int compat_image_import(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
                        dms_error **err)
{
	_cleanup_free_ char *name = NULL, *tag = NULL, *ename = NULL, *etag = NULL;
	_cleanup_free_ char *path = NULL;
	const struct compat_flavor *flavor;
	struct http_request req;
	int rc;

	if (!ref || !*ref || fd < 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "image import: needs a readable fd and a repo:tag reference");
	if ((rc = flavor_of(rt, ctx, "image import", ref, &flavor, err)) != 0)
		return rc;
	if (flavor->image_import)
		return flavor->image_import(rt, ctx, fd, ref, err);
	if (compat_split_image_ref(ref, &name, &tag) != 0 || !(ename = http_urlencode(name)) ||
	    !(etag = http_urlencode(tag)) ||
	    !(path = pathf("/images/create?fromSrc=-&repo=%s&tag=%s", ename, etag)))
		return compat_oom(err);
	req = COMPAT_REQ("POST", path);
	req.body_fd = fd;
	req.content_type = "application/x-tar";
	return images_create(rt, ctx, &req, "image import", ref, NULL, NULL, err);
}

/* ---- containers --------------------------------------------------------- */

static void jw_bind(struct jw *w, const char *source, const char *target, bool ro)
{
	_cleanup_free_ char *bind = pathf("%s:%s%s", source ? source : "", target ? target : "",
	                                  ro ? ":ro" : "");

	if (!bind)
		w->failed = true;
	else
		jw_str(w, bind);
}

/* One HostConfig.Devices entry, same path inside. */
static void jw_device(struct jw *w, const char *path)
{
	jw_map_open(w);
	jw_key_str(w, "PathOnHost", path);
	jw_key_str(w, "PathInContainer", path);
	jw_key_str(w, "CgroupPermissions", "rwm");
	jw_map_close(w);
}

static void create_body(struct jw *w, const struct container_spec *spec, bool podman)
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
	if (r->n_ports > 0) {
		jw_str(w, "ExposedPorts");
		jw_map_open(w);
		for (size_t i = 0; i < r->n_ports; i++) {
			_cleanup_free_ char *key = pathf("%lld/%s", (long long)r->ports[i].container_port,
			                                 r->ports[i].protocol);
			bool seen = false;

			if (!key) {
				w->failed = true;
				break;
			}
			for (size_t j = 0; j < i; j++) /* one key per container port */
				seen |= r->ports[j].container_port == r->ports[i].container_port &&
				        strcmp(r->ports[j].protocol, r->ports[i].protocol) == 0;
			if (seen)
				continue;
			jw_str(w, key);
			jw_map_open(w);
			jw_map_close(w);
		}
		jw_map_close(w);
	}

	jw_str(w, "HostConfig");
	jw_map_open(w);
	if (r->cpu_cores > 0)
		jw_key_int(w, "NanoCpus", llround(r->cpu_cores * 1e9));
	jw_key_str(w, "CpusetCpus", r->cpuset_cpus);
	if (r->memory_bytes > 0) {
		jw_key_int(w, "Memory", r->memory_bytes);
		/* Equal to Memory: no swap on top, so a memory limit is a limit. */
		jw_key_int(w, "MemorySwap", r->memory_bytes);
	}
	if (r->pids_limit > 0)
		jw_key_int(w, "PidsLimit", r->pids_limit);
	jw_key_str(w, "NetworkMode", spec->network ? spec->network : r->network_mode);
	if (r->read_only_rootfs)
		jw_key_bool(w, "ReadonlyRootfs", true);
	jw_key_strv(w, "CapAdd", r->cap_add);
	jw_key_strv(w, "CapDrop", r->cap_drop);
	if (r->no_new_privileges) {
		jw_str(w, "SecurityOpt");
		jw_array_open(w);
		jw_str(w, "no-new-privileges");
		jw_array_close(w);
	}
	if (r->n_inputs > 0 || r->n_outputs > 0) {
		jw_str(w, "Binds");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_inputs; i++)
			jw_bind(w, r->inputs[i].source, r->inputs[i].target, r->inputs[i].read_only);
		/* Outputs: results_dir/<source>, made by results_dir_prepare(). */
		for (size_t i = 0; i < r->n_outputs; i++) {
			_cleanup_free_ char *src =
			    pathf("%s/%s", r->results_dir ? r->results_dir : "", r->outputs[i].source);

			if (!src)
				w->failed = true;
			else
				jw_bind(w, src, r->outputs[i].target, false);
		}
		jw_array_close(w);
	}
	if (r->n_ports > 0) {
		jw_str(w, "PortBindings");
		jw_map_open(w);
		for (size_t i = 0; i < r->n_ports; i++) {
			const struct port_spec *p = &r->ports[i];
			_cleanup_free_ char *key =
			    pathf("%lld/%s", (long long)p->container_port, p->protocol);
			_cleanup_free_ char *hport = pathf("%lld", (long long)p->host_port);
			bool seen = false;

			if (!key || !hport) {
				w->failed = true;
				break;
			}
			/* Several bindings of one container port share its key. */
			for (size_t j = 0; j < i; j++)
				seen |= r->ports[j].container_port == p->container_port &&
				        strcmp(r->ports[j].protocol, p->protocol) == 0;
			if (seen)
				continue;
			jw_str(w, key);
			jw_array_open(w);
			for (size_t j = i; j < r->n_ports; j++) {
				const struct port_spec *q = &r->ports[j];
				_cleanup_free_ char *hp = pathf("%lld", (long long)q->host_port);

				if (q->container_port != p->container_port ||
				    strcmp(q->protocol, p->protocol) != 0)
					continue;
				jw_map_open(w);
				jw_key_str(w, "HostIp", q->host_ip ? q->host_ip : "");
				/* "" (not "0") asks for an ephemeral port on both engines. */
				jw_key_str(w, "HostPort", q->host_port ? (hp ? hp : "") : "");
				jw_map_close(w);
			}
			jw_array_close(w);
		}
		jw_map_close(w);
	}
	if (r->n_gpus > 0) {
		bool any_devices = false, any_requests = false;

		for (size_t i = 0; i < r->n_gpus; i++) {
			if (r->gpus[i].vendor != GPU_NVIDIA || podman)
				any_devices = true;
			else
				any_requests = true;
		}
		if (any_devices) {
			jw_str(w, "Devices");
			jw_array_open(w);
			for (size_t i = 0; i < r->n_gpus; i++) {
				strv devs = gpu_devices(&r->gpus[i], podman);

				if (!devs)
					w->failed = true;
				for (size_t j = 0; devs && devs[j]; j++)
					jw_device(w, devs[j]);
				strv_free(devs);
			}
			jw_array_close(w);
		}
		if (any_requests) {
			jw_str(w, "DeviceRequests");
			jw_array_open(w);
			for (size_t i = 0; i < r->n_gpus; i++) {
				const struct gpu_spec *g = &r->gpus[i];

				if (g->vendor != GPU_NVIDIA)
					continue;
				jw_map_open(w);
				jw_key_str(w, "Driver", "nvidia");
				if (g->ids)
					jw_key_strv(w, "DeviceIDs", g->ids);
				else
					jw_key_int(w, "Count", g->count ? g->count : -1);
				jw_str(w, "Capabilities");
				jw_array_open(w);
				jw_array_open(w);
				jw_str(w, "gpu");
				jw_array_close(w);
				jw_array_close(w);
				jw_map_close(w);
			}
			jw_array_close(w);
		}
	}
	jw_map_close(w);
	jw_map_close(w);
}

int compat_create_body(const struct container_spec *spec, bool podman, char **out)
{
	_cleanup_yajl_gen_ yajl_gen g = NULL;
	const char *body = NULL;
	size_t len = 0;
	struct jw w;
	int rc;

	if ((rc = jw_begin(&w, NULL)) != 0)
		return rc;
	g = w.g;
	create_body(&w, spec, podman);
	if ((rc = jw_end(&w, "container create", &body, &len, NULL)) != 0)
		return rc;
	if (!(*out = strndup(body, len)))
		return DMS_ERR_INTERNAL;
	return 0;
}

/* Files in the CDI spec directories (the CDI spec's default /etc/cdi and
 * /var/run/cdi) that mention `kind` ("nvidia.com/gpu"): Podman resolves
 * CDI names from them, so none means the GPU cannot be provided. */
static bool cdi_kind_present(const char *kind)
{
	static const char *const dirs[] = {"/etc/cdi", "/var/run/cdi", NULL};

	for (const char *const *d = dirs; *d; d++) {
		DIR *dir = opendir(*d);
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			_cleanup_free_ char *path = NULL;
			char buf[4096];
			FILE *f;
			size_t n;

			if (e->d_name[0] == '.' || !(path = pathf("%s/%s", *d, e->d_name)) ||
			    !(f = fopen(path, "re")))
				continue;
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, kind)) {
				closedir(dir);
				return true;
			}
		}
		closedir(dir);
	}
	return false;
}

/* A GPU the engine cannot provide fails before the create, so no container
 * is left and the message names the GPU: DMS_ERR_RESOURCE. Device nodes are
 * looked up on this host (the engines are reached on local sockets). */
static int gpus_available(struct runtime *rt, dms_context *ctx, const struct exec_request *r,
                          bool podman, dms_error **err)
{
	const char *op = "container create";
	bool nvidia_runtime_checked = false;

	for (size_t i = 0; i < r->n_gpus; i++) {
		const struct gpu_spec *g = &r->gpus[i];
		const char *vendor = g->vendor == GPU_NVIDIA ? "nvidia"
		                     : g->vendor == GPU_AMD  ? "amd"
		                                             : "intel";
		_cleanup_free_ char *which =
		    g->ids ? pathf("GPU %s", g->ids[0]) : strdup(g->count ? "GPUs" : "all GPUs");
		strv devs;

		if (!which)
			return compat_oom(err);
		if (g->vendor == GPU_NVIDIA && podman) {
			if (!cdi_kind_present("nvidia.com/gpu"))
				return err_engine(err, DMS_ERR_RESOURCE, op, "nvidia.com/gpu", NULL,
				                  "resources.gpus[%zu]: %s %s cannot be provided: no CDI "
				                  "spec for nvidia.com/gpu in /etc/cdi or /var/run/cdi "
				                  "(nvidia-ctk cdi generate makes one)",
				                  i, vendor, which);
		} else if (g->vendor == GPU_NVIDIA && !nvidia_runtime_checked) {
			_cleanup_yajl_tree_ yajl_val info = NULL;
			int rc = get_json(rt, ctx, "/info", true, COMPAT_ENGINE, "info", NULL, &info, err);

			if (rc != 0)
				return rc;
			if (!yajl_tree_get(info, JPATH("Runtimes", "nvidia"), yajl_t_object))
				return err_engine(err, DMS_ERR_RESOURCE, op, "nvidia", NULL,
				                  "resources.gpus[%zu]: %s %s cannot be provided: the "
				                  "engine has no \"nvidia\" runtime (/info Runtimes; "
				                  "install the NVIDIA Container Toolkit)",
				                  i, vendor, which);
			nvidia_runtime_checked = true;
		}
		if (!(devs = gpu_devices(g, podman)))
			return compat_oom(err);
		for (size_t j = 0; devs[j]; j++) {
			struct stat st;

			if (devs[j][0] != '/' || stat(devs[j], &st) == 0)
				continue;
			int e = errno;
			int rc = err_engine(err, DMS_ERR_RESOURCE, op, devs[j], NULL,
			                    "resources.gpus[%zu]: %s %s cannot be provided: %s: %s", i,
			                    vendor, which, devs[j], strerror(e));
			strv_free(devs);
			return rc;
		}
		strv_free(devs);
	}
	return 0;
}

int compat_container_create(struct runtime *rt, dms_context *ctx, const struct container_spec *spec,
                            char **id_out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_yajl_gen_ yajl_gen g = NULL;
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *ename = NULL, *path = NULL;
	const char *op = "container create", *name, *id;
	const struct compat_flavor *flavor = NULL;
	bool podman;
	struct jw w;
	struct http_request req;
	int rc;

	if (!spec || !spec->req || !spec->req->image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "container create: no image given");
	name = spec->name;
	if (name && !(ename = http_urlencode(name)))
		return compat_oom(err);
	if (!(path = ename ? pathf("/containers/create?name=%s", ename)
	                   : strdup("/containers/create")))
		return compat_oom(err);
	if ((rc = flavor_of(rt, ctx, op, name, &flavor, err)) != 0)
		return rc;
	podman = flavor == &compat_podman_flavor;
	if (spec->req->n_gpus && (rc = gpus_available(rt, ctx, spec->req, podman, err)) != 0)
		return rc;
	if ((rc = jw_begin(&w, err)) != 0)
		return rc;
	g = w.g;
	create_body(&w, spec, podman);
	req = COMPAT_REQ("POST", path);
	if ((rc = jw_end(&w, op, &req.body, &req.body_len, err)) != 0)
		return rc;

	if ((rc = compat_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status == 404) /* the only thing create looks up is the image */
		return compat_http_failure(&resp, COMPAT_IMAGE, op, spec->req->image, err);
	if (resp.status != 201)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, name, err);
	/* "Warnings" are advisory (e.g. limits the kernel cannot enforce). */
	root = compat_parse_json(resp.body.data);
	if (!(id = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_CONTAINER, op, name, err);
	if (id_out && !(*id_out = strdup(id)))
		return compat_oom(err);
	return 0;
}

/* POST /containers/{id}/{action}[?query]; `already` is the status that
 * means "already in that state" and counts as success (0: none). */
static int container_action(struct runtime *rt, dms_context *ctx, const char *id,
                            const char *action, const char *query, long timeout_ms, long already,
                            const char *op, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) || !(path = pathf("/containers/%s/%s%s%s", esc, action,
	                                               query ? "?" : "", query ? query : "")))
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
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct watch_stream ws = {.attached = attached, .ud = ud};
	const char *op = "container attach";
	struct http_request req;
	int rc;

	if (!id || !*id || !attached)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/containers/%s/attach?stream=1&stdout=0&stderr=0", esc)))
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
		if (!(esig = http_urlencode(signal)) || !(query = pathf("signal=%s", esig)))
			return compat_oom(err);
	}
	return container_action(rt, ctx, id, "kill", query, 0, 0, "container kill", err);
}

int compat_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                            dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL, *text = NULL;
	const char *op = "container remove";
	struct http_request req;
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/containers/%s?force=%d&v=1", esc, force ? 1 : 0)))
		return compat_oom(err);
	req = COMPAT_REQ("DELETE", path);
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		return 0;
	/* A removal already under way ends with the container gone, too. */
	text = engine_text(&resp);
	if (resp.status == 409 && text && strstr(text, "already in progress"))
		return 0;
	return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
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

/* An array of strings at path -> vector (absent: empty); caps lose "CAP_"
 * and are upper-cased, so Docker's "CAP_CHOWN" and Podman's "CHOWN" agree. */
static strv strv_at(yajl_val root, const char **path, bool caps)
{
	yajl_val a = yajl_tree_get(root, path, yajl_t_array);
	struct strv_builder b = {0};

	for (size_t i = 0; a && i < a->u.array.len; i++) {
		const char *v = YAJL_GET_STRING(a->u.array.values[i]);
		char *copy;

		if (!v)
			continue;
		if (caps && strncasecmp(v, "CAP_", 4) == 0)
			v += 4;
		if ((copy = strdup(v)) && caps)
			for (char *p = copy; *p; p++)
				*p = (char)toupper((unsigned char)*p);
		sb_push(&b, copy);
	}
	return sb_finish(&b);
}

static int64_t int_at(yajl_val root, const char **path)
{
	long long v = 0;

	jint(root, path, &v);
	return v;
}

/* The applied settings (runtime.h) from an inspect document; -1 when out
 * of memory. */
static int settings_from_json(yajl_val root, struct container_settings *s)
{
	struct strv_builder mounts = {0}, ports = {0}, nets = {0}, devs = {0}, reqs = {0};
	yajl_val v;

	s->known = true;
	s->nano_cpus = int_at(root, JPATH("HostConfig", "NanoCpus"));
	s->memory = int_at(root, JPATH("HostConfig", "Memory"));
	s->memory_swap = int_at(root, JPATH("HostConfig", "MemorySwap"));
	s->pids_limit = int_at(root, JPATH("HostConfig", "PidsLimit"));
	s->cpuset_cpus = strdup_or_null(compat_jstr(root, JPATH("HostConfig", "CpusetCpus")));
	s->readonly_rootfs = jtrue(root, JPATH("HostConfig", "ReadonlyRootfs"));
	s->cap_add = strv_at(root, JPATH("HostConfig", "CapAdd"), true);
	s->cap_drop = strv_at(root, JPATH("HostConfig", "CapDrop"), true);
	s->security_opt = strv_at(root, JPATH("HostConfig", "SecurityOpt"), false);
	s->network_mode = strdup_or_null(compat_jstr(root, JPATH("HostConfig", "NetworkMode")));
	s->user = strdup_or_null(compat_jstr(root, JPATH("Config", "User")));
	s->working_dir = strdup_or_null(compat_jstr(root, JPATH("Config", "WorkingDir")));
	s->env = strv_at(root, JPATH("Config", "Env"), false);
	s->labels = labels_from_json(yajl_tree_get(root, JPATH("Config", "Labels"), yajl_t_any));
	/* Mounts, not HostConfig.Binds: Podman rewrites Binds' options. */
	v = yajl_tree_get(root, JPATH("Mounts"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		yajl_val m = v->u.array.values[i];
		const char *src = compat_jstr(m, JPATH("Source"));
		const char *dst = compat_jstr(m, JPATH("Destination"));

		sb_push(&mounts, pathf("%s:%s:%s", src ? src : "", dst ? dst : "",
		                       jtrue(m, JPATH("RW")) ? "rw" : "ro"));
	}
	v = yajl_tree_get(root, JPATH("HostConfig", "PortBindings"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++) {
		yajl_val list = v->u.object.values[i];

		for (size_t j = 0; YAJL_IS_ARRAY(list) && j < list->u.array.len; j++) {
			const char *ip = compat_jstr(list->u.array.values[j], JPATH("HostIp"));
			const char *port = compat_jstr(list->u.array.values[j], JPATH("HostPort"));

			sb_push(&ports, pathf("%s=%s:%s", v->u.object.keys[i], ip ? ip : "",
			                      port ? port : ""));
		}
	}
	v = yajl_tree_get(root, JPATH("NetworkSettings", "Networks"), yajl_t_object);
	for (size_t i = 0; v && i < v->u.object.len; i++)
		sb_push(&nets, strdup(v->u.object.keys[i]));
	v = yajl_tree_get(root, JPATH("HostConfig", "Devices"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		const char *p = compat_jstr(v->u.array.values[i], JPATH("PathOnHost"));

		if (p)
			sb_push(&devs, strdup(p));
	}
	v = yajl_tree_get(root, JPATH("HostConfig", "DeviceRequests"), yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		yajl_val r = v->u.array.values[i];
		const char *driver = compat_jstr(r, JPATH("Driver"));
		yajl_val ids = yajl_tree_get(r, JPATH("DeviceIDs"), yajl_t_array);
		char list[256] = "";
		size_t o = 0;

		for (size_t j = 0; ids && j < ids->u.array.len && o < sizeof(list); j++) {
			const char *id = YAJL_GET_STRING(ids->u.array.values[j]);

			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", j ? "," : "",
			                      id ? id : "");
		}
		if (ids && ids->u.array.len)
			sb_push(&reqs, pathf("%s:%s", driver ? driver : "", list));
		else
			sb_push(&reqs, pathf("%s:count=%lld", driver ? driver : "",
			                     (long long)int_at(r, JPATH("Count"))));
	}
	s->mounts = sb_finish(&mounts);
	s->ports = sb_finish(&ports);
	s->networks = sb_finish(&nets);
	s->devices = sb_finish(&devs);
	s->device_requests = sb_finish(&reqs);
	if (!s->cap_add || !s->cap_drop || !s->security_opt || !s->env || !s->labels ||
	    !s->mounts || !s->ports || !s->networks || !s->devices || !s->device_requests)
		return -1;
	return 0;
}

/* An inspect document -> *out (also compat_fuzz_inspect's entry). */
static int inspect_from_json(yajl_val root, const char *id, struct container_state *out,
                             dms_error **err)
{
	const char *op = "container inspect", *s;
	struct container_state st = {0};
	long long exit_code = 0;

	if (!(s = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_CONTAINER, op, id, err);

	st.id = strdup(s);
	st.name = container_name(compat_jstr(root, JPATH("Name")));
	st.status = parse_container_status(compat_jstr(root, JPATH("State", "Status")));
	jint(root, JPATH("State", "ExitCode"), &exit_code);
	st.exit_code = (int)exit_code;
	st.oom_killed = jtrue(root, JPATH("State", "OOMKilled"));
	st.tty = jtrue(root, JPATH("Config", "Tty"));
	if ((s = compat_jstr(root, JPATH("State", "StartedAt"))))
		st.started_at_ns = parse_rfc3339(s);
	if ((s = compat_jstr(root, JPATH("State", "FinishedAt"))))
		st.finished_at_ns = parse_rfc3339(s);
	if ((s = compat_jstr(root, JPATH("State", "Error"))) && *s)
		st.error = strdup(s);
	st.labels = labels_from_json(yajl_tree_get(root, JPATH("Config", "Labels"), yajl_t_any));
	if (settings_from_json(root, &st.settings) != 0) {
		container_state_free(&st);
		return compat_oom(err);
	}
	if (!st.id || !st.labels) {
		container_state_free(&st);
		return compat_oom(err);
	}
	*out = st;
	return 0;
}

int compat_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                             struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container inspect";
	int rc;

	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no container given", op);
	if (!(esc = path_escape(id)) || !(path = pathf("/containers/%s/json", esc)))
		return compat_oom(err);
	if ((rc = get_json(rt, ctx, path, true, COMPAT_CONTAINER, op, id, &root, err)) != 0)
		return rc;
	return inspect_from_json(root, id, out, err);
}

/* A container list document -> *out, *n (also compat_fuzz_list's entry). */
static int list_from_json(yajl_val root, const char *label, struct container_summary **out,
                          size_t *n, dms_error **err)
{
	const char *op = "container list";
	struct container_summary *v;
	size_t count;

	if (!YAJL_IS_ARRAY(root))
		return compat_bad_json(COMPAT_CONTAINER, op, label, err);

	count = root->u.array.len;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return compat_oom(err);
	for (size_t i = 0; i < count; i++) {
		yajl_val c = root->u.array.values[i];
		yajl_val names = yajl_tree_get(c, JPATH("Names"), yajl_t_array);
		const char *id = compat_jstr(c, JPATH("Id"));

		v[i].id = strdup_or_null(id);
		if (names && names->u.array.len > 0 && YAJL_IS_STRING(names->u.array.values[0]))
			v[i].name = container_name(YAJL_GET_STRING(names->u.array.values[0]));
		v[i].status = parse_container_status(compat_jstr(c, JPATH("State")));
		v[i].labels = labels_from_json(yajl_tree_get(c, JPATH("Labels"), yajl_t_any));
		if (!v[i].id || !v[i].labels) {
			container_summaries_free(v, count);
			return id ? compat_oom(err)
			          : compat_bad_json(COMPAT_CONTAINER, op, label, err);
		}
	}
	*out = v;
	*n = count;
	return 0;
}

int compat_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                          struct container_summary **out, size_t *n, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *filters = NULL, *path = NULL;
	const char *op = "container list";
	int rc;

	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = filters_query(NULL, label)) ||
	    !(path = pathf("/containers/json?all=1&filters=%s", filters)))
		return compat_oom(err);
	if ((rc = get_json(rt, ctx, path, true, COMPAT_CONTAINER, op, label, &root, err)) != 0)
		return rc;
	return list_from_json(root, label, out, n, err);
}

void compat_stamped_reset(struct compat_stamped *p)
{
	*p = (struct compat_stamped){.min_stream = p->min_stream};
}

int compat_stamped_parse(struct compat_stamped *p, const char *data, size_t len,
                         void (*record)(void *ud, int stream, const char *stamp, size_t len),
                         int (*payload)(void *ud, int stream, const char *data, size_t n),
                         void *ud)
{
	while (len > 0) {
		if (p->left == 0) { /* a frame header */
			size_t take = sizeof(p->hdr) - p->hdr_len;

			take = take < len ? take : len;
			memcpy(p->hdr + p->hdr_len, data, take);
			p->hdr_len += take;
			data += take;
			len -= take;
			if (p->hdr_len < sizeof(p->hdr))
				break;
			p->hdr_len = 0;
			if (p->hdr[0] < p->min_stream || p->hdr[0] > 2 || p->hdr[1] || p->hdr[2] ||
			    p->hdr[3])
				return -1;
			p->stream = p->hdr[0];
			p->left = (uint32_t)p->hdr[4] << 24 | (uint32_t)p->hdr[5] << 16 |
			          (uint32_t)p->hdr[6] << 8 | p->hdr[7];
			p->in_stamp = p->left > 0;
			p->stamp_len = 0;
			continue;
		}
		size_t avail = len < p->left ? len : p->left;

		if (p->in_stamp) { /* the stamp, up to its space */
			const char *sp = memchr(data, ' ', avail);
			size_t take = sp ? (size_t)(sp - data) + 1 : avail;
			size_t keep = sp ? take - 1 : take;

			for (size_t i = 0; i < keep && p->stamp_len + i < sizeof(p->stamp) - 1; i++)
				p->stamp[p->stamp_len + i] = data[i];
			p->stamp_len += keep;
			data += take;
			len -= take;
			p->left -= (uint32_t)take;
			if (sp || p->left == 0) {
				p->in_stamp = false;
				p->stamp[p->stamp_len < sizeof(p->stamp) ? p->stamp_len
				                                         : sizeof(p->stamp) - 1] = '\0';
				record(ud, p->stream, p->stamp, p->stamp_len);
			}
			continue;
		}
		if (payload(ud, p->stream, data, avail) != 0)
			return 1;
		data += avail;
		len -= avail;
		p->left -= (uint32_t)avail;
	}
	return 0;
}

int compat_logs_read(struct runtime *rt, dms_context *ctx, const char *id,
                     const struct log_options *opts, bool timestamps, runtime_log_fn fn, void *ud,
                     dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container logs";
	char tail[32] = "all", since[48] = "";
	struct http_request req;
	int rc;

	if (opts->tail >= 0)
		snprintf(tail, sizeof(tail), "%" PRId64, opts->tail);
	if (opts->since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         opts->since_ns / 1000000000, opts->since_ns % 1000000000);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/containers/%s/logs?stdout=%d&stderr=%d&follow=%d&tail=%s%s%s", esc,
	                   opts->stdout_ ? 1 : 0, opts->stderr_ ? 1 : 0, opts->follow ? 1 : 0, tail,
	                   since, timestamps ? "&timestamps=1" : "")))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	req.timeout_ms = -1;
	/* Raw bytes, framed unless tty: the executor demultiplexes. */
	req.on_data = fn;
	req.user_data = ud;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
	return 0;
}

int compat_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                          const struct log_options *opts, runtime_log_fn fn, void *ud,
                          dms_error **err)
{
	const char *op = "container logs";
	const struct compat_flavor *flavor;
	int rc;

	if (!id || !*id || !opts || !fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: needs a container and a sink",
		               op);
	if ((rc = flavor_of(rt, ctx, op, id, &flavor, err)) != 0)
		return rc;
	if (flavor->logs)
		return flavor->logs(rt, ctx, id, opts, fn, ud, err);
	return compat_logs_read(rt, ctx, id, opts, false, fn, ud, err);
}

/* ---- events ------------------------------------------------------------- */

struct event_stream {
	struct line_splitter lines;
	const struct compat_flavor *flavor;
	const char *label_key; /* a key-only label matched here, or NULL */
	runtime_ready_fn ready;
	runtime_event_fn fn;
	void *ud;
	bool ready_called;
	bool ended_by_fn;
};

static enum runtime_event_kind event_kind(const struct compat_flavor *f, const char *action)
{
	for (const struct compat_event_name *n = f->events; n && n->action; n++)
		if (strcmp(action, n->action) == 0)
			return n->kind;
	return RT_EV_OTHER;
}

/* A die event's exit code, from the first attribute the flavor names that
 * holds a number; -1 if none does. */
static int event_exit_code(const struct compat_flavor *f, yajl_val ev)
{
	for (const char *const *a = f->exit_code_attributes; a && *a; a++) {
		const char *code = compat_jstr(ev, JPATH("Actor", "Attributes", *a));
		char *end;
		long c;

		if (!code)
			continue;
		c = strtol(code, &end, 10);
		if (end != code && *end == '\0')
			return (int)c;
	}
	return -1;
}

static int event_line(void *ud, char *line, size_t len)
{
	struct event_stream *es = ud;
	_cleanup_yajl_tree_ yajl_val ev = compat_parse_json(line);
	const char *type, *action, *id;
	struct runtime_event e = {.exit_code = -1};
	long long t;

	(void)len;
	if (!ev)
		return 0; /* not JSON: skip the line, keep the stream */
	type = compat_jstr(ev, JPATH("Type"));
	if (type && strcmp(type, "container") != 0)
		return 0;
	if (es->label_key &&
	    !yajl_tree_get(ev, JPATH("Actor", "Attributes", es->label_key), yajl_t_any))
		return 0; /* the engine did not filter on the key: we do */
	if (!(action = compat_jstr(ev, JPATH("Action"))))
		action = compat_jstr(ev, JPATH("status"));
	if (!(id = compat_jstr(ev, JPATH("Actor", "ID"))))
		id = compat_jstr(ev, JPATH("id"));
	if (!action || !id)
		return 0;
	e.kind = event_kind(es->flavor, action);
	e.container_id = id;
	e.execution_id = compat_jstr(ev, JPATH("Actor", "Attributes", "org.dms.execution"));
	if (e.kind == RT_EV_DIE)
		e.exit_code = event_exit_code(es->flavor, ev);
	if (jint(ev, JPATH("timeNano"), &t))
		e.time_ns = t;
	else if (jint(ev, JPATH("time"), &t) && t >= 0 && t <= INT64_MAX / 1000000000LL)
		e.time_ns = t * 1000000000LL; /* seconds; out of range: unknown (0) */
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

int compat_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                  runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct event_stream es = {.ready = ready, .fn = fn, .ud = ud};
	const char *url = http_client_url(rt->http), *op = "events";
	char since[48] = "";
	struct http_request req;
	int rc;

	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "events: no event handler given");
	if ((rc = flavor_of(rt, ctx, op, url, &es.flavor, err)) != 0)
		return rc;
	if (label && !*label)
		label = NULL;
	if (label && !strchr(label, '=') && es.flavor->events_key_only_label_here) {
		es.label_key = label;
		label = NULL;
	}
	/* "<seconds>.<nanoseconds>": both engines read it (checked on dockerd
	 * 20.10 and Podman 4.3). */
	if (since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         since_ns / 1000000000, since_ns % 1000000000);
	if (!(filters = filters_query("container", label)) ||
	    !(path = pathf("/events?filters=%s%s", filters, since)))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	req.timeout_ms = -1;
	req.on_data = event_data;
	req.on_headers = event_headers;
	req.user_data = &es;
	lines_init(&es.lines, event_line, &es);
	rc = compat_call(rt, ctx, &req, &resp, op, url, err);
	lines_free(&es.lines); /* a partial last line of a dropped stream is no event */
	if (rc != 0 || es.ended_by_fn)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_ENGINE, op, url, err);
	if ((rc = ctx_status(ctx)) != 0)
		return err_set(err, rc, "events from %s: %s", url,
		               rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
	return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, url, NULL,
	                  "the event stream from %s ended", url);
}

/* ---- networks and volumes ----------------------------------------------- */

static int create_labelled(struct runtime *rt, dms_context *ctx, enum compat_object o,
                           const char *path, const char *name, const strv labels, bool internal,
                           char **id_out, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_yajl_gen_ yajl_gen g = NULL;
	_cleanup_yajl_tree_ yajl_val root = NULL;
	const char *op = o == COMPAT_NETWORK ? "network create" : "volume create", *id;
	struct http_request req = COMPAT_REQ("POST", path);
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
	if (o == COMPAT_NETWORK) {
		jw_key_bool(&w, "Internal", internal);
		jw_key_bool(&w, "CheckDuplicate", true);
	}
	jw_map_close(&w);
	if ((rc = jw_end(&w, op, &req.body, &req.body_len, err)) != 0)
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
	struct strv_builder b = {0};
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
			sb_push(&b, strdup(v[i].id));
		container_summaries_free(v, n);
		return (*out = sb_finish(&b)) ? 0 : compat_oom(err);
	}
	o = kind == RT_OBJ_NETWORK ? COMPAT_NETWORK : COMPAT_VOLUME;
	op = kind == RT_OBJ_NETWORK ? "network list" : "volume list";
	key = kind == RT_OBJ_NETWORK ? "Id" : "Name";
	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no label given", op);
	if (!(filters = filters_query(NULL, label)) ||
	    !(path = pathf("/%s?filters=%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes",
	                   filters)))
		return compat_oom(err);
	if ((rc = get_json(rt, ctx, path, true, o, op, label, &root, err)) != 0)
		return rc;
	/* Networks: [{...}]; volumes: {"Volumes": [{...}] or null}. */
	items = kind == RT_OBJ_NETWORK ? root : yajl_tree_get(root, JPATH("Volumes"), yajl_t_any);
	if (items && !YAJL_IS_ARRAY(items) && !YAJL_IS_NULL(items))
		return compat_bad_json(o, op, label, err);
	for (size_t i = 0; items && YAJL_IS_ARRAY(items) && i < items->u.array.len; i++) {
		const char *s = compat_jstr(items->u.array.values[i], JPATH(key));

		if (s)
			sb_push(&b, strdup(s));
	}
	return (*out = sb_finish(&b)) ? 0 : compat_oom(err);
}

int compat_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                         const char *id, dms_error **err)
{
	_cleanup_response_ struct http_response resp = compat_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	enum compat_object o = kind == RT_OBJ_NETWORK ? COMPAT_NETWORK : COMPAT_VOLUME;
	const char *op = kind == RT_OBJ_NETWORK ? "network remove" : "volume remove";
	struct http_request req;
	int rc;

	if (kind == RT_OBJ_CONTAINER)
		return compat_container_remove(rt, ctx, id, true, err);
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: nothing named", op);
	if (!(esc = path_escape(id)) ||
	    !(path = pathf("/%s/%s", kind == RT_OBJ_NETWORK ? "networks" : "volumes", esc)))
		return compat_oom(err);
	req = COMPAT_REQ("DELETE", path);
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 204 || resp.status == 200 || resp.status == 404)
		return 0;
	return compat_http_failure(&resp, o, op, id, err);
}

/* ---- entry points for the fuzz harnesses (compat_fuzz.h) ----------------
 * The parsers above, minus the HTTP: what the engine's bytes go through. */

int compat_fuzz_events(const struct compat_flavor *flavor, const char *label_key,
                       const char *const *chunks, const size_t *lens, size_t n_chunks,
                       runtime_event_fn fn, void *ud)
{
	struct event_stream es = {.flavor = flavor, .label_key = label_key, .fn = fn, .ud = ud};
	int rc = 0;

	lines_init(&es.lines, event_line, &es);
	for (size_t i = 0; rc == 0 && i < n_chunks; i++)
		rc = lines_feed(&es.lines, chunks[i], lens[i]);
	if (rc == 0)
		rc = lines_finish(&es.lines);
	lines_free(&es.lines);
	return rc;
}

int compat_fuzz_inspect(const char *json, struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(json);

	if (!root)
		return compat_bad_json(COMPAT_CONTAINER, "container inspect", "fuzz", err);
	return inspect_from_json(root, "fuzz", out, err);
}

int compat_fuzz_list(const char *json, struct container_summary **out, size_t *n,
                     dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = compat_parse_json(json);

	if (!root)
		return compat_bad_json(COMPAT_CONTAINER, "container list", "fuzz", err);
	return list_from_json(root, "fuzz", out, n, err);
}

int compat_fuzz_pull_stream(const char *const *chunks, const size_t *lens, size_t n_chunks,
                            runtime_progress_fn fn, void *ud, char **error)
{
	struct progress_stream ps = {.fn = fn, .ud = ud};
	int rc = 0;

	lines_init(&ps.lines, progress_line, &ps);
	pull_progress_init(&ps.agg);
	for (size_t i = 0; rc == 0 && i < n_chunks; i++)
		rc = lines_feed(&ps.lines, chunks[i], lens[i]);
	if (rc == 0 && !ps.error)
		lines_finish(&ps.lines);
	lines_free(&ps.lines);
	pull_progress_free(&ps.agg);
	*error = ps.error;
	return ps.error ? 1 : 0;
}
