/* compat_images.c — images on the engine: reference handling (the tag a
 * pull means, the name Docker means), presence and id, pulls with their
 * summed-up progress, and imports of a rootfs tarball.
 *
 * Exists because a pull and an import answer 200 first and report failure
 * later inside a JSON-lines stream: one stream reader judges both
 * (docs/engine-api.md, "Operations").
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_fuzz.h"
#include "compat_internal.h"
#include "pull_progress.h"

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
		return compat_pathf("%s%s", ref, tag);
	return compat_pathf("docker.io/%s%s%s", slash ? "" : "library/", ref, tag);
}

/* GET /images/{image}/json; the caller judges the status. */
static int image_inspect(struct runtime *rt, dms_context *ctx, const char *image,
                         struct http_response *resp, dms_error **err)
{
	_cleanup_free_ char *esc = NULL, *path = NULL;
	struct http_request req;

	if (!image || !*image)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "image inspect: no image given");
	if (!(esc = compat_path_escape(image)) || !(path = compat_pathf("/images/%s/json", esc)))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	return compat_call(rt, ctx, &req, resp, "image inspect", image, err);
}

int compat_image_present(struct runtime *rt, dms_context *ctx, const char *image, bool *present,
                         dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	int rc;

	if ((rc = image_inspect(rt, ctx, image, &resp, err)) != 0)
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
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	const char *v;
	int rc;

	if ((rc = image_inspect(rt, ctx, image, &resp, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_IMAGE, "image inspect", image, err);
	root = compat_parse_json(resp.body.data);
	if (!(v = compat_jstr(root, JPATH("Id"))))
		return compat_bad_json(COMPAT_IMAGE, "image inspect", image, err);
	/* Podman's compat inspect gives the bare hex id; Docker's has the
	 * algorithm. One form for callers: "sha256:<hex>". */
	if (!(*id = strchr(v, ':') ? strdup(v) : compat_pathf("sha256:%s", v)))
		return compat_oom(err);
	return 0;
}

int compat_image_user(struct runtime *rt, dms_context *ctx, const char *image, char **user,
                      dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	const char *v;
	int rc;

	if ((rc = image_inspect(rt, ctx, image, &resp, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_IMAGE, "image inspect", image, err);
	if (!(root = compat_parse_json(resp.body.data)))
		return compat_bad_json(COMPAT_IMAGE, "image inspect", image, err);
	/* No Config.User (or "") is the image's default: root. */
	v = compat_jstr(root, JPATH("Config", "User"));
	if (!(*user = strdup(v ? v : "")))
		return compat_oom(err);
	return 0;
}

/* The JSON-lines progress stream of a pull or an import. An error line
 * ends it: engines report failures after the 200 status line. Layer
 * messages are summed up (pull_progress.c) before fn sees them. */
struct progress_stream {
	struct compat_lines lines;
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
		compat_jint(root, JPATH("progressDetail", "current"), &current);
		compat_jint(root, JPATH("progressDetail", "total"), &total);
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

	return compat_lines_feed(&ps->lines, data, len);
}

/* Runs a /images/create request and judges its answer and stream. */
static int images_create(struct runtime *rt, dms_context *ctx, struct http_request *req,
                         const char *op, const char *ref, runtime_progress_fn fn, void *ud,
                         dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	struct progress_stream ps = {.fn = fn, .ud = ud};
	int rc;

	compat_lines_init(&ps.lines, progress_line, &ps);
	pull_progress_init(&ps.agg);
	req->timeout_ms = -1; /* bounded by ctx: pulls and imports take what they take */
	req->on_data = progress_data;
	req->user_data = &ps;
	rc = compat_call(rt, ctx, req, &resp, op, ref, err);
	if (rc == 0 && !ps.error && resp.status == 200)
		compat_lines_finish(&ps.lines);
	compat_lines_free(&ps.lines);
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
	if ((rc = compat_flavor_of(rt, ctx, "image pull", image, &flavor, err)) != 0)
		return rc;
	if (strcmp(flavor->kind, "podman") == 0) {
		/* Podman's compat pull has no TLS switch; libpod's has
		 * (tlsVerify), and reports errors the same way in its stream.
		 * The reference is qualified as Docker reads it, so short names
		 * do not depend on registries.conf search lists. */
		if (!(full = compat_qualify_image_ref(image)) || !(ename = http_urlencode(full)) ||
		    !(query = compat_pathf("/images/pull?reference=%s&policy=always%s", ename,
		                           loopback_registry(full) ? "&tlsVerify=false" : "")))
			return compat_oom(err);
		if ((rc = compat_libpod_path(rt, ctx, query, "image pull", image, &path, err)) != 0)
			return rc;
	} else if (compat_split_image_ref(image, &name, &tag) != 0 ||
	           !(ename = http_urlencode(name)) || !(etag = http_urlencode(tag)) ||
	           !(path = compat_pathf("/images/create?fromImage=%s&tag=%s", ename, etag))) {
		return compat_oom(err);
	}
	req = COMPAT_REQ("POST", path);
	req.versioned = query == NULL; /* a libpod path carries its own version */
	if (registry_auth && *registry_auth) {
		if (strpbrk(registry_auth, "\r\n"))
			return err_set(err, DMS_ERR_INVALID_ARGUMENT,
			               "image pull %s: registry auth must be one line", image);
		if (!(auth = compat_pathf("X-Registry-Auth: %s", registry_auth)))
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
	if ((rc = compat_flavor_of(rt, ctx, "image import", ref, &flavor, err)) != 0)
		return rc;
	if (flavor->image_import)
		return flavor->image_import(rt, ctx, fd, ref, err);
	if (compat_split_image_ref(ref, &name, &tag) != 0 || !(ename = http_urlencode(name)) ||
	    !(etag = http_urlencode(tag)) ||
	    !(path = compat_pathf("/images/create?fromSrc=-&repo=%s&tag=%s", ename, etag)))
		return compat_oom(err);
	req = COMPAT_REQ("POST", path);
	req.body_fd = fd;
	req.content_type = "application/x-tar";
	return images_create(rt, ctx, &req, "image import", ref, NULL, NULL, err);
}

/* For the fuzz harness (compat_fuzz.h): the stream reader minus the HTTP. */
int compat_fuzz_pull_stream(const char *const *chunks, const size_t *lens, size_t n_chunks,
                            runtime_progress_fn fn, void *ud, char **error)
{
	struct progress_stream ps = {.fn = fn, .ud = ud};
	int rc = 0;

	compat_lines_init(&ps.lines, progress_line, &ps);
	pull_progress_init(&ps.agg);
	for (size_t i = 0; rc == 0 && i < n_chunks; i++)
		rc = compat_lines_feed(&ps.lines, chunks[i], lens[i]);
	if (rc == 0 && !ps.error)
		compat_lines_finish(&ps.lines);
	compat_lines_free(&ps.lines);
	pull_progress_free(&ps.agg);
	*error = ps.error;
	return ps.error ? 1 : 0;
}
