/* compat_version.c — who the engine is and which API to speak with it:
 * opening and closing a runtime, GET /_ping and the API-version
 * negotiation, the probe `runtime: auto` uses, the libpod paths, and the
 * fingerprint IsInstalled reports.
 *
 * The API version is negotiated from GET /_ping's Api-Version header: the
 * engine's version, capped at the newest these files are written against
 * and refused below the oldest (docs/engine-api.md, "API version
 * negotiation"). Every other path is sent versioned ("/v1.41/containers/..."),
 * negotiating lazily on first use when ping() was not called. The same
 * answer names the engine: Podman sends a Libpod-Api-Version header (also
 * the version of its libpod API, used for the few /libpod/ calls), and the
 * runtime then follows Podman's flavor whichever table opened it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

/* The API versions the compat files are written against: [MIN, MAX]. */
#define COMPAT_API_MAJOR 1
#define COMPAT_API_MIN_MINOR 25
#define COMPAT_API_MAX_MINOR 43

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
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_response_ struct http_response vresp = http_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	struct http_request req = COMPAT_REQ("GET", "/_ping");
	int rc;

	req.versioned = false;
	if ((rc = http_do(rt->http, ctx, &req, &resp, err)) != 0)
		return compat_annotate(err, rc, op, resource);
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
		return compat_annotate(err, rc, op, resource);
	if (vresp.status != 200)
		return compat_http_failure(&vresp, COMPAT_ENGINE, op, resource, err);
	root = compat_parse_json(vresp.body.data);
	return use_api_version(rt, compat_jstr(root, JPATH("ApiVersion")), &resp, op, resource,
	                       err);
}

int compat_negotiate(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     dms_error **err)
{
	bool done;

	pthread_mutex_lock(&rt->mu);
	done = rt->negotiated;
	pthread_mutex_unlock(&rt->mu);
	/* Concurrent first users may both ping; the answer is the same. */
	return done ? 0 : ping_negotiate(rt, ctx, op, resource, NULL, err);
}

int compat_flavor_of(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     const struct compat_flavor **out, dms_error **err)
{
	int rc = compat_negotiate(rt, ctx, op, resource, err);

	if (rc != 0)
		return rc;
	pthread_mutex_lock(&rt->mu);
	*out = rt->flavor;
	pthread_mutex_unlock(&rt->mu);
	return 0;
}

int compat_libpod_path(struct runtime *rt, dms_context *ctx, const char *path, const char *op,
                       const char *resource, char **out, dms_error **err)
{
	char version[COMPAT_LIBPOD_VERSION_MAX];
	int rc = compat_negotiate(rt, ctx, op, resource, err);

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
	if (!(*out = compat_pathf("/v%s/libpod%s", version, path)))
		return compat_oom(err);
	return 0;
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

int compat_open_owned(char *url, const struct compat_flavor *flavor, struct runtime **out,
                      dms_error **err)
{
	int rc = url ? compat_open(url, flavor, out, err) : compat_oom(err);

	free(url);
	return rc;
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
	_cleanup_response_ struct http_response resp = http_response_new();
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
		return compat_annotate(err, rc, "ping", url);
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
	    .kind = compat_strdup_or_null(src->kind),
	    .version = compat_strdup_or_null(src->version),
	    .api_version = compat_strdup_or_null(src->api_version),
	    .os = compat_strdup_or_null(src->os),
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

	if ((rc = compat_flavor_of(rt, ctx, "ping", url, &flavor, err)) != 0)
		return rc;
	if (!flavor->fill_info && ((rc = compat_get_api_json(rt, ctx, "/version", COMPAT_ENGINE,
	                                                     "version", url, &version, err)) != 0 ||
	                           (rc = compat_get_api_json(rt, ctx, "/info", COMPAT_ENGINE,
	                                                     "info", url, &sysinfo, err)) != 0))
		return rc;
	i.kind = strdup(flavor->kind);
	i.api_version = compat_strdup_or_null(http_client_api_version(rt->http));
	if (!flavor->fill_info) {
		i.version = compat_strdup_or_null(compat_jstr(version, JPATH("Version")));
		i.os = compat_strdup_or_null(compat_jstr(version, JPATH("Os")));
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
	i.api_version = compat_strdup_or_null(http_client_api_version(rt->http));
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
