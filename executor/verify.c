/* verify.c — see verify.h. One table: each row names a setting as the
 * Docker API spells it, where its wanted and reported values live in a
 * struct container_settings, and how they compare. The wanted values are
 * built from the request in the form compat_inspect.c reads inspect into, so a
 * row compares like with like. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gpu.h"
#include "request.h"
#include "verify.h"

/* Lexical cleaning as engines report paths (Go's filepath.Clean): "//" and
 * "." elements dropped, ".." pops an element, no trailing "/" —
 * "/a//b/./" -> "/a/b". In place; absolute paths only (relative ones are
 * refused by the request validator before they get here). */
static void path_clean(char *p)
{
	char *o = p, *s = p;

	if (*p != '/')
		return;
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* nothing to keep */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (o > p && *--o != '/')
				;
		} else {
			*o++ = '/';
			memmove(o, s, n);
			o += n;
		}
		s += n;
	}
	if (o == p)
		*o++ = '/';
	*o = '\0';
}

static bool strv_has(const strv v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* "CAP_X" -> "X" (the form compat_inspect.c reports). */
static const char *cap_name(const char *c)
{
	return strncmp(c, "CAP_", 4) == 0 ? c + 4 : c;
}

static void join_sep(const strv v, const char *sep, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; v && v[i] && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? sep : "", v[i]);
	if (o >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static void join(const strv v, char *buf, size_t size)
{
	join_sep(v, ", ", buf, size);
}

/* --- building what was asked ------------------------------------------ */

static void push(strv *v, char *s, bool *oom)
{
	size_t n = 0;
	strv grown;

	while (*v && (*v)[n])
		n++;
	if (!s || !(grown = realloc(*v, (n + 2) * sizeof(*grown)))) {
		free(s);
		*oom = true;
		return;
	}
	grown[n] = s;
	grown[n + 1] = NULL;
	*v = grown;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* "source:destination:rw|ro", both paths cleaned; source is dir/name for
 * outputs (name NULL for inputs). */
static char *mount_str(const char *dir, const char *name, const char *target, bool ro)
{
	char *src = name ? fmt("%s/%s", dir, name) : strdup(dir);
	char *dst = strdup(target);
	char *m = NULL;

	if (src && dst) {
		path_clean(src);
		path_clean(dst);
		m = fmt("%s:%s:%s", src, dst, ro ? "ro" : "rw");
	}
	free(src);
	free(dst);
	return m;
}

static int wanted(const struct container_spec *spec, struct container_settings *w)
{
	const struct exec_request *r = spec->req;
	bool oom = false;

	memset(w, 0, sizeof(*w));
	w->known = true;
	if (r->cpu_cores > 0)
		w->nano_cpus = llround(r->cpu_cores * 1e9);
	w->memory = w->memory_swap = r->memory_bytes;
	w->pids_limit = r->pids_limit;
	w->cpuset_cpus = r->cpuset_cpus ? strdup(r->cpuset_cpus) : NULL;
	w->readonly_rootfs = r->read_only_rootfs;
	for (size_t i = 0; r->cap_add && r->cap_add[i]; i++)
		push(&w->cap_add, strdup(cap_name(r->cap_add[i])), &oom);
	for (size_t i = 0; r->cap_drop && r->cap_drop[i]; i++)
		push(&w->cap_drop, strdup(cap_name(r->cap_drop[i])), &oom);
	if (r->no_new_privileges)
		push(&w->security_opt, strdup("no-new-privileges"), &oom);
	for (size_t i = 0; i < r->n_inputs; i++)
		push(&w->mounts,
		     mount_str(r->inputs[i].source, NULL, r->inputs[i].target,
		               r->inputs[i].read_only),
		     &oom);
	for (size_t i = 0; i < r->n_outputs; i++)
		push(&w->mounts,
		     mount_str(r->results_dir, r->outputs[i].source, r->outputs[i].target, false),
		     &oom);
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct port_spec *p = &r->ports[i];

		push(&w->ports,
		     fmt("%" PRId64 "/%s=%s:%" PRId64, p->container_port, p->protocol,
		         p->host_ip ? p->host_ip : "", p->host_port),
		     &oom);
	}
	if (spec->network || r->network_mode)
		w->network_mode = strdup(spec->network ? spec->network : r->network_mode);
	for (size_t i = 0; i < r->n_gpus; i++) {
		const struct gpu_spec *g = &r->gpus[i];

		if (g->vendor == GPU_NVIDIA) {
			char ids[256];

			join_sep(g->ids, ",", ids, sizeof(ids));
			push(&w->device_requests,
			     g->ids ? fmt("nvidia:%s", ids)
			            : fmt("nvidia:count=%" PRId64, g->count ? g->count : -1),
			     &oom);
			continue;
		}
		strv devs = gpu_devices(g, false);

		for (size_t j = 0; devs && devs[j]; j++)
			push(&w->devices, strdup(devs[j]), &oom);
		oom |= !devs;
		strv_free(devs);
	}
	w->user = r->user ? strdup(r->user) : NULL;
	if (r->working_directory && (w->working_dir = strdup(r->working_directory)))
		path_clean(w->working_dir);
	for (size_t i = 0; r->environment && r->environment[i]; i++)
		push(&w->env, strdup(r->environment[i]), &oom);
	for (size_t i = 0; spec->labels && spec->labels[i]; i++)
		push(&w->labels, strdup(spec->labels[i]), &oom);
	return oom ? -1 : 0;
}

/* --- comparing -------------------------------------------------------- */

struct row;
/* true when got lacks what want asks; fills the two texts for the message. */
typedef bool (*differs_fn)(const struct row *row, const struct container_spec *spec,
                           const struct container_settings *want,
                           const struct container_settings *got, char *asked, char *found,
                           size_t size);

enum kind { K_INT, K_STR, K_BOOL, K_SUBSET, K_FN };

struct row {
	const char *setting;
	enum kind kind;
	size_t offset;
	differs_fn fn; /* K_FN */
};

#define S(f) offsetof(struct container_settings, f)
#define AT(type, s, off) (*(type *)((const char *)(s) + (off)))

static bool subset_missing(const strv want, const strv got, char *asked, char *found, size_t size)
{
	for (size_t i = 0; want && want[i]; i++) {
		if (!strv_has(got, want[i])) {
			snprintf(asked, size, "%s", want[i]);
			join(got, found, size);
			if (!*found)
				snprintf(found, size, "none");
			return true;
		}
	}
	return false;
}

/* Docker reports CapAdd/CapDrop as given. Podman reports them relative to
 * its default set: with "ALL" dropped it lists the default capabilities it
 * dropped (not "ALL") and leaves an added one out of both lists. */
static bool caps_differ(const struct row *row, const struct container_spec *spec,
                        const struct container_settings *want, const struct container_settings *got,
                        char *asked, char *found, size_t size)
{
	bool drop_all = strv_has(want->cap_drop, "ALL");
	bool got_drop_all = strv_has(got->cap_drop, "ALL") || (got->cap_drop && got->cap_drop[0]);

	(void)spec;
	if (strcmp(row->setting, "HostConfig.CapDrop") == 0) {
		if (drop_all && !got_drop_all) {
			snprintf(asked, size, "ALL");
			snprintf(found, size, "none");
			return true;
		}
		for (size_t i = 0; want->cap_drop && want->cap_drop[i]; i++) {
			const char *c = want->cap_drop[i];

			if (strcmp(c, "ALL") == 0 || strv_has(want->cap_add, c))
				continue;
			if (!strv_has(got->cap_drop, c) && !strv_has(got->cap_drop, "ALL")) {
				snprintf(asked, size, "%s", c);
				join(got->cap_drop, found, size);
				return true;
			}
		}
		return false;
	}
	for (size_t i = 0; want->cap_add && want->cap_add[i]; i++) {
		const char *c = want->cap_add[i];
		bool ok =
		    strv_has(got->cap_add, c) || strv_has(got->cap_add, "ALL") ||
		    (drop_all && !strv_has(got->cap_drop, c) && !strv_has(got->cap_drop, "ALL"));

		if (!ok) {
			snprintf(asked, size, "%s", c);
			join(got->cap_add, found, size);
			if (!*found)
				snprintf(found, size, "none");
			return true;
		}
	}
	return false;
}

/* "80/tcp=ip:port": an ephemeral port (0) matches whatever port the
 * engine reports ("" on Docker until start, the chosen one on Podman). */
static bool ports_differ(const struct row *row, const struct container_spec *spec,
                         const struct container_settings *want,
                         const struct container_settings *got, char *asked, char *found,
                         size_t size)
{
	(void)row;
	(void)spec;
	for (size_t i = 0; want->ports && want->ports[i]; i++) {
		const char *w = want->ports[i], *wport = strrchr(w, ':');
		bool ok = false;

		for (size_t j = 0; !ok && got->ports && got->ports[j]; j++) {
			const char *g = got->ports[j], *gport = strrchr(g, ':');

			if (!wport || !gport || wport - w != gport - g ||
			    memcmp(w, g, (size_t)(wport - w)) != 0)
				continue;
			ok = strcmp(wport + 1, "0") == 0 || strcmp(wport + 1, gport + 1) == 0;
		}
		if (!ok) {
			snprintf(asked, size, "%s", w);
			join(got->ports, found, size);
			if (!*found)
				snprintf(found, size, "none");
			return true;
		}
	}
	return false;
}

/* Docker names the network in NetworkMode; Podman says "bridge" there and
 * lists the network it joined under NetworkSettings.Networks. */
static bool network_differs(const struct row *row, const struct container_spec *spec,
                            const struct container_settings *want,
                            const struct container_settings *got, char *asked, char *found,
                            size_t size)
{
	(void)row;
	(void)spec;
	if (!want->network_mode)
		return false;
	if ((got->network_mode && strcmp(got->network_mode, want->network_mode) == 0) ||
	    strv_has(got->networks, want->network_mode))
		return false;
	snprintf(asked, size, "%s", want->network_mode);
	snprintf(found, size, "%s", got->network_mode ? got->network_mode : "none");
	return true;
}

/* Device nodes must all be mapped; an nvidia request is either a
 * DeviceRequest (Docker) or its CDI names among the devices (Podman). */
static bool gpus_differ(const struct row *row, const struct container_spec *spec,
                        const struct container_settings *want, const struct container_settings *got,
                        char *asked, char *found, size_t size)
{
	const struct exec_request *r = spec->req;
	size_t k = 0;

	(void)row;
	if (subset_missing(want->devices, got->devices, asked, found, size))
		return true;
	for (size_t i = 0; i < r->n_gpus; i++) {
		if (r->gpus[i].vendor != GPU_NVIDIA)
			continue;
		const char *req = want->device_requests[k++];
		strv cdi = gpu_devices(&r->gpus[i], true);
		bool ok = strv_has(got->device_requests, req) ||
		          (cdi && cdi[0] && !subset_missing(cdi, got->devices, asked, found, size));

		strv_free(cdi);
		if (!ok) {
			snprintf(asked, size, "%s", req);
			join(got->device_requests, found, size);
			if (!*found)
				snprintf(found, size, "none");
			return true;
		}
	}
	return false;
}

static const struct row rows[] = {
    {"HostConfig.NanoCpus", K_INT, S(nano_cpus), NULL},
    {"HostConfig.Memory", K_INT, S(memory), NULL},
    {"HostConfig.MemorySwap", K_INT, S(memory_swap), NULL},
    {"HostConfig.PidsLimit", K_INT, S(pids_limit), NULL},
    {"HostConfig.CpusetCpus", K_STR, S(cpuset_cpus), NULL},
    {"HostConfig.ReadonlyRootfs", K_BOOL, S(readonly_rootfs), NULL},
    {"HostConfig.CapDrop", K_FN, 0, caps_differ},
    {"HostConfig.CapAdd", K_FN, 0, caps_differ},
    {"HostConfig.SecurityOpt", K_SUBSET, S(security_opt), NULL},
    {"Mounts", K_SUBSET, S(mounts), NULL},
    {"HostConfig.PortBindings", K_FN, 0, ports_differ},
    {"HostConfig.NetworkMode", K_FN, 0, network_differs},
    {"HostConfig.Devices/DeviceRequests", K_FN, 0, gpus_differ},
    {"Config.User", K_STR, S(user), NULL},
    {"Config.WorkingDir", K_STR, S(working_dir), NULL},
    {"Config.Env", K_SUBSET, S(env), NULL},
    {"Config.Labels", K_SUBSET, S(labels), NULL},
};

static bool row_differs(const struct row *row, const struct container_spec *spec,
                        const struct container_settings *want, const struct container_settings *got,
                        char *asked, char *found, size_t size)
{
	switch (row->kind) {
	case K_INT: {
		int64_t w = AT(int64_t, want, row->offset), g = AT(int64_t, got, row->offset);

		snprintf(asked, size, "%" PRId64, w);
		snprintf(found, size, "%" PRId64, g);
		return w != 0 && w != g;
	}
	case K_STR: {
		const char *w = AT(char *, want, row->offset), *g = AT(char *, got, row->offset);

		snprintf(asked, size, "\"%s\"", w ? w : "");
		snprintf(found, size, "\"%s\"", g ? g : "");
		return w && (!g || strcmp(w, g) != 0);
	}
	case K_BOOL: {
		bool w = AT(bool, want, row->offset), g = AT(bool, got, row->offset);

		snprintf(asked, size, "%s", w ? "true" : "false");
		snprintf(found, size, "%s", g ? "true" : "false");
		return w && !g;
	}
	case K_SUBSET:
		return subset_missing(AT(strv, want, row->offset), AT(strv, got, row->offset),
		                      asked, found, size);
	case K_FN:
		return row->fn(row, spec, want, got, asked, found, size);
	}
	return false;
}

int verify_settings(const struct container_spec *spec, const struct container_settings *got,
                    dms_error **err)
{
	struct container_settings want;
	char asked[320], found[320];
	int rc = 0;

	if (!got || !got->known)
		return 0;
	if (wanted(spec, &want) != 0) {
		container_settings_free(&want);
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!row_differs(&rows[i], spec, &want, got, asked, found, sizeof(asked)))
			continue;
		rc = err_engine(err, DMS_ERR_CONTAINER, "container verify", spec->name, NULL,
		                "the engine did not apply %s: asked %s, it reports %s",
		                rows[i].setting, asked, found);
		break;
	}
	container_settings_free(&want);
	return rc;
}
