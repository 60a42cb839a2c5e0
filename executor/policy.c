/* policy.c — see policy.h; the keys and what each blocks are in
 * docs/security.md.
 *
 * Exists because the request decides what its container gets, and the
 * request comes from another machine: whatever may reach the host (a bind
 * of a host path, a capability, the host's network, a privileged port, a
 * GPU device, uid 0) must be something the operator allowed in the
 * config. The checks only read (the request, the config, the host's file
 * system by realpath/stat); nothing is created here. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "error.h"
#include "image_ref.h"
#include "policy.h"

#define PARAMS "engine_spec.params."

/* Sockets that give whoever reaches them root on the host: the engines'
 * (one may run beside the configured one) and the system bus. Never bound
 * into a job, whatever policy.bind_roots says. */
static const char *const host_sockets[] = {
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/dbus/system_bus_socket",
    "/var/run/dbus/system_bus_socket",
    NULL,
};

/* Every refusal: the field, the value, the policy key. */
#define deny(err, ...) err_set((err), DMS_ERR_PERMISSION_DENIED, __VA_ARGS__)

/* "(none allowed)" or ("a", "b") for a message, in buf. */
static const char *list_text(strv v, char *buf, size_t size)
{
	size_t used = 0;

	if (!v || !v[0])
		return "(none allowed)";
	buf[0] = '\0';
	for (size_t i = 0; v[i] && used + 1 < size; i++) {
		int n = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "(", v[i]);
		if (n < 0 || (size_t)n >= size - used) {
			used = size - 1;
			break;
		}
		used += (size_t)n;
	}
	if (used + 2 < size) {
		buf[used++] = ')';
		buf[used] = '\0';
	} else if (size > 5) {
		memcpy(buf + size - 5, "...)", 5);
	}
	return buf;
}
#define LIST_TEXT(v) list_text((v), (char[512]){0}, 512)

/* ---- images ------------------------------------------------------------ */

/* A pattern matches the reference as written or as Docker completes it:
 * "busybox" is also "docker.io/busybox" and "docker.io/library/busybox". */
static bool image_allowed(strv patterns, const char *image)
{
	_cleanup_free_ char *registry = image_ref_registry(image);
	_cleanup_free_ char *full = NULL, *library = NULL;
	bool implicit = registry && strcmp(registry, "docker.io") == 0 &&
	                strncmp(image, "docker.io/", strlen("docker.io/")) != 0;

	if (implicit) {
		if (asprintf(&full, "docker.io/%s", image) < 0)
			full = NULL;
		if (!strchr(image, '/') && asprintf(&library, "docker.io/library/%s", image) < 0)
			library = NULL;
	}
	for (size_t i = 0; patterns && patterns[i]; i++) {
		if (fnmatch(patterns[i], image, 0) == 0 ||
		    (full && fnmatch(patterns[i], full, 0) == 0) ||
		    (library && fnmatch(patterns[i], library, 0) == 0))
			return true;
	}
	return false;
}

/* ---- users ------------------------------------------------------------- */

/* The user part of "user[:group]" as a uid: 0 when it is a number (uid set),
 * -1 when it is a name. "" (the default) is root. */
static int user_uid(const char *user, unsigned long *uid)
{
	size_t len = strcspn(user, ":");
	char num[32];

	if (len == 0) {
		*uid = 0;
		return 0;
	}
	if (len >= sizeof(num) || strspn(user, "0123456789") < len)
		return strncmp(user, "root", len) == 0 && len == 4 ? (*uid = 0, 0) : -1;
	memcpy(num, user, len);
	num[len] = '\0';
	errno = 0;
	*uid = strtoul(num, NULL, 10);
	return errno ? -1 : 0;
}

static int check_user(const char *field, const char *user, const char *whose, dms_error **err)
{
	unsigned long uid = 0;

	if (user_uid(user, &uid) != 0)
		return deny(err,
		            "%s: \"%s\"%s is not a numeric uid, so policy.run_as_non_root cannot "
		            "tell it is not root; give a uid like \"1000\"",
		            field, user, whose);
	if (uid == 0)
		return deny(err, "%s: \"%s\"%s is root, refused by policy.run_as_non_root", field,
		            user[0] ? user : "", whose);
	return 0;
}

bool policy_needs_image_user(const struct exec_policy *p, const struct exec_request *req)
{
	return p->run_as_non_root && (!req->user || !req->user[0]);
}

int policy_check_image_user(const struct exec_policy *p, const struct exec_request *req,
                            const char *image_user, dms_error **err)
{
	if (!policy_needs_image_user(p, req))
		return 0;
	if (!image_user || !image_user[0])
		return deny(err,
		            PARAMS "image: \"%s\" runs as root (it names no user) and the request "
		                   "gives no user, refused by policy.run_as_non_root; give " PARAMS
		                   "user, e.g. \"1000\"",
		            req->image);
	return check_user(PARAMS "image", image_user, " (the image's user)", err);
}

/* ---- sizes ------------------------------------------------------------- */

static size_t strv_bytes(strv v)
{
	size_t n = 0;

	for (size_t i = 0; v && v[i]; i++)
		n += strlen(v[i]) + 1;
	return n;
}

/* ---- capabilities ------------------------------------------------------ */

static bool strv_has(strv v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static int check_caps(const struct exec_policy *p, strv caps, dms_error **err)
{
	if (strv_has(p->cap_add, "ALL"))
		return 0;
	for (size_t i = 0; caps && caps[i]; i++)
		if (!strv_has(p->cap_add, caps[i]))
			return deny(
			    err, PARAMS "cap_add[%zu]: \"%s\" is not allowed by policy.cap_add %s",
			    i, caps[i], LIST_TEXT(p->cap_add));
	return 0;
}

/* ---- ceilings ---------------------------------------------------------- */

static int check_ceilings(const struct exec_policy *p, struct exec_request *req, dms_error **err)
{
	const struct policy_max *m = &p->max;

	if (m->cpu > 0 && req->cpu_cores > m->cpu)
		return deny(err, "resources.cpu.cores: %g is above policy.max.cpu (%g)",
		            req->cpu_cores, m->cpu);
	if (m->memory > 0 && req->memory_bytes > m->memory)
		return deny(err,
		            "resources.memory.size: %" PRId64 " bytes is above policy.max.memory "
		            "(%" PRId64 ")",
		            req->memory_bytes, m->memory);
	if (m->pids > 0 && req->pids_limit > m->pids)
		return deny(
		    err, "resources.pids.limit: %" PRId64 " is above policy.max.pids (%" PRId64 ")",
		    req->pids_limit, m->pids);
	if (p->require_limits && !req->memory_bytes)
		return deny(err, "resources.memory.size: required by policy.require_limits (a job "
		                 "must state its memory limit)");
	if (p->require_limits && !req->pids_limit)
		return deny(err, "resources.pids.limit: required by policy.require_limits (a job "
		                 "must state its pids limit)");
	/* Without require_limits, a job that states no limit gets the ceiling. */
	if (!req->cpu_cores && m->cpu > 0)
		req->cpu_cores = m->cpu;
	if (!req->memory_bytes && m->memory > 0)
		req->memory_bytes = m->memory;
	if (!req->pids_limit && m->pids > 0)
		req->pids_limit = m->pids;
	return 0;
}

/* ---- host paths -------------------------------------------------------- */

/* path equals dir or lies below it (both resolved, no trailing '/'). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static const char *unix_path(const char *url)
{
	return url && strncmp(url, "unix://", 7) == 0 && url[7] == '/' ? url + 7 : NULL;
}

/* The engine sockets that `resolved` (a bind source, resolved; st its
 * stat) is, or holds below it: the socket's name, or NULL. */
static const char *holds_socket(const char *resolved, const struct stat *st,
                                const char *engine_host, char *found, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char rootless[PATH_MAX];
	bool have_rootless = xdg && xdg[0] == '/' &&
	                     (size_t)snprintf(rootless, sizeof(rootless), "%s/podman/podman.sock",
	                                      xdg) < sizeof(rootless);
	const char *extra[] = {unix_path(engine_host), unix_path(getenv("DOCKER_HOST")),
	                       unix_path(getenv("CONTAINER_HOST")),
	                       have_rootless ? rootless : NULL};
	size_t n_extra = sizeof(extra) / sizeof(extra[0]);
	size_t n_fixed = sizeof(host_sockets) / sizeof(host_sockets[0]) - 1;

	for (size_t i = 0; i < n_extra + n_fixed; i++) {
		const char *sock = i < n_extra ? extra[i] : host_sockets[i - n_extra];
		char real[PATH_MAX];
		struct stat sst;

		if (!sock)
			continue;
		/* The socket by its own name and by where it resolves (/var/run
		 * is a link to /run); the same inode under another name (a hard
		 * link) too. */
		const char *names[2] = {sock, realpath(sock, real) ? real : NULL};
		for (size_t k = 0; k < 2; k++)
			if (names[k] && path_within(names[k], resolved)) {
				snprintf(found, size, "%s", sock);
				return found;
			}
		if (stat(sock, &sst) == 0 && sst.st_dev == st->st_dev && sst.st_ino == st->st_ino) {
			snprintf(found, size, "%s", sock);
			return found;
		}
	}
	return NULL;
}

static int check_input(const struct exec_policy *p, const char *engine_host, size_t i,
                       struct mount_spec *m, dms_error **err)
{
	char resolved[PATH_MAX], sock[PATH_MAX], shown[PATH_MAX + 32] = "";
	struct stat st;
	bool under = false;

	if (!realpath(m->source, resolved) || stat(resolved, &st) != 0)
		return deny(err, "inputs[%zu].source: \"%s\": %s", i, m->source, strerror(errno));
	if (strcmp(resolved, m->source) != 0)
		snprintf(shown, sizeof(shown), " (resolved: \"%s\")", resolved);
	for (size_t r = 0; p->bind_roots && p->bind_roots[r] && !under; r++) {
		char root[PATH_MAX];
		under = realpath(p->bind_roots[r], root) && path_within(resolved, root);
	}
	if (!under)
		return deny(err, "inputs[%zu].source: \"%s\"%s is not under policy.bind_roots %s",
		            i, m->source, shown, LIST_TEXT(p->bind_roots));
	if (holds_socket(resolved, &st, engine_host, sock, sizeof(sock)))
		return deny(err,
		            "inputs[%zu].source: \"%s\"%s is or holds the socket %s, which gives "
		            "root on the host; refused whatever policy.bind_roots allows",
		            i, m->source, shown, sock);
	/* What the engine binds is what was checked: a link swapped after
	 * this no longer changes the source. */
	if (strcmp(resolved, m->source) != 0) {
		char *copy = strdup(resolved);
		if (!copy)
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		free(m->source);
		m->source = copy;
	}
	return 0;
}

/* results_dir must name a directory strictly below results_root, as
 * written or as the root resolves. The walk that creates it refuses
 * links (results_dir.c). */
static bool below(const char *path, const char *root)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		n = 0;
	if (strncmp(path, root, n) != 0 || path[n] != '/')
		return false;
	for (const char *s = path + n; *s; s++)
		if (*s != '/' && !(*s == '.' && (s[1] == '/' || s[1] == '\0')))
			return true;
	return false;
}

static int check_results_dir(const struct exec_policy *p, const struct exec_request *req,
                             dms_error **err)
{
	char real[PATH_MAX];

	if (!req->results_dir)
		return 0;
	if (below(req->results_dir, p->results_root) ||
	    (realpath(p->results_root, real) && below(req->results_dir, real)))
		return 0;
	return deny(err, "results_dir: \"%s\" is not under policy.results_root (\"%s\")",
	            req->results_dir, p->results_root);
}

/* ---- the request ------------------------------------------------------- */

int policy_check_request(const struct exec_config *cfg, const char *engine_host,
                         struct exec_request *req, dms_error **err)
{
	const struct exec_policy *p = &cfg->policy;
	size_t n;
	int rc;

	/* What reaches the host's files first, then the rest in the order of
	 * the request's fields. */
	for (size_t i = 0; i < req->n_inputs; i++)
		if ((rc = check_input(p, engine_host, i, &req->inputs[i], err)))
			return rc;
	if ((rc = check_results_dir(p, req, err)))
		return rc;
	if (!image_allowed(p->images, req->image))
		return deny(err, PARAMS "image: \"%s\" matches no pattern of policy.images %s",
		            req->image, LIST_TEXT(p->images));
	if (p->run_as_non_root && req->user && req->user[0] &&
	    (rc = check_user(PARAMS "user", req->user, "", err)))
		return rc;
	if ((n = strv_bytes(req->environment)) > p->max.environment)
		return deny(err,
		            PARAMS "environment: %zu bytes is above policy.max.environment (%zu)",
		            n, p->max.environment);
	if ((n = strv_bytes(req->labels)) > p->max.labels)
		return deny(err, PARAMS "labels: %zu bytes is above policy.max.labels (%zu)", n,
		            p->max.labels);
	if (req->network_mode && strcmp(req->network_mode, "host") == 0 && !p->host_network)
		return deny(err, PARAMS "network_mode: \"host\" is not allowed by "
		                        "policy.host_network (false)");
	if ((rc = check_caps(p, req->cap_add, err)))
		return rc;
	if (!req->no_new_privileges && !p->allow_privilege_escalation)
		return deny(err, PARAMS "no_new_privileges: false is not allowed by "
		                        "policy.allow_privilege_escalation (false)");
	for (size_t i = 0; i < req->n_ports; i++) {
		int64_t hp = req->ports[i].host_port;

		if (hp && (hp < p->ports_min || hp > p->ports_max))
			return deny(err,
			            PARAMS "ports[%zu].host_port: %" PRId64
			                   " is outside policy.ports "
			                   "(%" PRId64 "-%" PRId64 ")",
			            i, hp, p->ports_min, p->ports_max);
	}
	if (req->n_gpus && !p->gpus)
		return deny(err, "resources.gpus: GPUs are not allowed by policy.gpus (false)");
	if ((rc = check_ceilings(p, req, err)))
		return rc;
	return 0;
}
