/* fake_runtime.c — the in-memory engine behind fake_runtime_ops (see
 * fake_runtime.h for the behaviour it promises).
 *
 * Exists so the executor's logic (state machine, idempotent Start, event
 * driven exits, recovery, cleanup by label) can be unit-tested
 * deterministically and fast, with the test deciding when and how each
 * container ends. All state is global behind one mutex and one condition
 * variable; every change broadcasts, and every blocking call waits on it
 * through ctx_cond_wait so cancellation is observed.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "context.h"
#include "error.h"
#include "fake_runtime.h"
#include "gpu.h"
#include "labels.h"

#define HISTORY_MAX 512

struct runtime {
	int unused; /* a handle; the engine state is global */
};

struct fake_frame {
	int stream; /* 1 stdout, 2 stderr */
	char *data;
	size_t len;
	int64_t time_ns;
};

struct fake_ctr {
	char id[65];
	char *name;
	char *image;
	strv labels;
	enum container_status status;
	int exit_code;
	bool oom;
	bool tty;
	bool ignores_sigterm;
	int64_t started_at_ns, finished_at_ns;
	/* the spec, for fake_runtime_get */
	strv entrypoint, cmd, environment;
	char *user, *working_directory, *network_mode, *stop_signal;
	int stop_timeout_s;
	double cpu_cores;
	int64_t memory_bytes, pids_limit;
	size_t n_mounts;
	/* what inspect reports as applied (verify.h); Docker's forms */
	struct container_settings applied;
	/* live operations: the sample stats answers (have_stats) */
	struct container_stats stats;
	bool have_stats;
	/* output */
	struct fake_frame *frames;
	size_t n_frames, cap_frames;
	struct fake_ctr *next;
};

struct fake_image {
	char *ref;
	bool local;
	bool in_registry;
	bool autoexit;
	int exit_code;
	char *out, *err;
	struct fake_image *next;
};

struct fake_obj {
	enum runtime_object kind; /* RT_OBJ_NETWORK or RT_OBJ_VOLUME */
	char id[65];
	char *name;
	strv labels;
	bool internal;
	struct fake_obj *next;
};

struct fake_event {
	enum runtime_event_kind kind;
	char *container_id;
	char *execution_id;
	strv labels;
	int exit_code;
	int64_t time_ns;
	struct fake_event *next;
};

struct fake_stream {
	char *label;
	struct fake_event *head, *tail;
	bool dropped;
	struct fake_stream *next;
};

struct fake_fail {
	char *op;
	dms_status category;
	int times;
	struct fake_fail *next;
};

struct fake_count {
	char *op;
	int n;
	struct fake_count *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;

static struct {
	struct fake_ctr *ctrs;
	struct fake_image *images;
	struct fake_obj *objs;
	struct fake_stream *streams;
	struct fake_fail *fails;
	struct fake_count *counts;
	struct fake_event *history[HISTORY_MAX];
	size_t history_next;
	uint64_t next_id;
	bool down;
	bool default_ignores_sigterm;
	bool events_muted;
	bool follow_sticky;   /* follows outlive the container's run */
	uint64_t watch_drops; /* fake_runtime_drop_streams() calls: ends watches */
	int n_watches;
	int n_streams;
	int n_open;
} fk;

static void cond_init_once(void)
{
	ctx_cond_init(&cond);
}

static void lock(void)
{
	pthread_once(&cond_once, cond_init_once);
	pthread_mutex_lock(&mu);
}

static void unlock(void)
{
	pthread_mutex_unlock(&mu);
}

static void changed(void)
{
	pthread_cond_broadcast(&cond);
}

/* ---- small helpers ---------------------------------------------------- */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* 64 hex digits, unique in their first 12 (Docker's short ids). */
static void new_id(char id[65])
{
	uint64_t n = ++fk.next_id;

	snprintf(id, 65, "%016llx%016llx%016llx%016llx", (unsigned long long)splitmix64(n),
	         (unsigned long long)splitmix64(n ^ 0x1111),
	         (unsigned long long)splitmix64(n ^ 0x2222),
	         (unsigned long long)splitmix64(n ^ 0x3333));
}

/* "k=v" matches labels containing exactly k=v; "k" any value of k. */
static bool labels_match(const strv labels, const char *filter)
{
	size_t klen;

	if (!filter)
		return true;
	if (!labels)
		return false;
	klen = strcspn(filter, "=");
	for (size_t i = 0; labels[i]; i++) {
		if (filter[klen] == '=') {
			if (strcmp(labels[i], filter) == 0)
				return true;
		} else if (strncmp(labels[i], filter, klen) == 0 &&
		           (labels[i][klen] == '=' || labels[i][klen] == '\0')) {
			return true;
		}
	}
	return false;
}

static const char *label_value(const strv labels, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; labels && labels[i]; i++)
		if (strncmp(labels[i], key, klen) == 0 && labels[i][klen] == '=')
			return labels[i] + klen + 1;
	return NULL;
}

static const struct {
	const char *name;
	int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"URG", SIGURG},   {"WINCH", SIGWINCH}, {"ABRT", SIGABRT},
};

/* "SIGTERM", "TERM", "15" -> 15; NULL -> SIGKILL; unknown -> -1. */
static int signal_number(const char *s)
{
	char *end;
	long n;

	if (!s || !*s)
		return SIGKILL;
	n = strtol(s, &end, 10);
	if (*end == '\0' && end != s)
		return (n >= 1 && n <= 64) ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].num;
	return -1;
}

/* ---- lookups (lock held) ---------------------------------------------- */

static struct fake_ctr *find_ctr(const char *key)
{
	struct fake_ctr *prefix_hit = NULL;
	int prefix_hits = 0;
	size_t klen;

	if (!key || !*key)
		return NULL;
	if (key[0] == '/')
		key++;
	klen = strlen(key);
	for (struct fake_ctr *c = fk.ctrs; c; c = c->next) {
		if (strcmp(c->id, key) == 0 || strcmp(c->name, key) == 0)
			return c;
		if (strncmp(c->id, key, klen) == 0) {
			prefix_hit = c;
			prefix_hits++;
		}
	}
	return prefix_hits == 1 ? prefix_hit : NULL;
}

static struct fake_image *find_image(const char *ref)
{
	for (struct fake_image *i = fk.images; i; i = i->next)
		if (strcmp(i->ref, ref) == 0)
			return i;
	return NULL;
}

static struct fake_image *get_image(const char *ref)
{
	struct fake_image *i = find_image(ref);

	if (i)
		return i;
	i = calloc(1, sizeof(*i));
	if (!i)
		abort();
	i->ref = strdup(ref);
	i->next = fk.images;
	fk.images = i;
	return i;
}

static struct fake_obj *find_obj(enum runtime_object kind, const char *key)
{
	for (struct fake_obj *o = fk.objs; o; o = o->next)
		if (o->kind == kind && (strcmp(o->id, key) == 0 || strcmp(o->name, key) == 0))
			return o;
	return NULL;
}

static int *count_slot(const char *op)
{
	struct fake_count *c;

	for (c = fk.counts; c; c = c->next)
		if (strcmp(c->op, op) == 0)
			return &c->n;
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->op = strdup(op);
	c->next = fk.counts;
	fk.counts = c;
	return &c->n;
}

/* Every operation starts here (lock held): counts the call, then reports
 * ctx done, down engine or an injected failure. */
static int op_enter(const char *op, dms_context *ctx, const char *resource, dms_error **err)
{
	int rc;

	(*count_slot(op))++;
	if ((rc = ctx_status(ctx)) != 0)
		return err_set(err, rc, "fake %s: %s", op,
		               rc == DMS_ERR_TIMEOUT ? "deadline exceeded" : "cancelled");
	if (fk.down)
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, resource,
		                  "connect: connection refused",
		                  "cannot connect to the fake engine");
	for (struct fake_fail *f = fk.fails; f; f = f->next) {
		if (f->times > 0 && strcmp(f->op, op) == 0) {
			f->times--;
			return err_engine(err, f->category, op, resource, "injected failure",
			                  "fake %s failed (injected)", op);
		}
	}
	return 0;
}

/* ---- events (lock held) ----------------------------------------------- */

static struct fake_event *event_new(enum runtime_event_kind kind, const char *cid,
                                    const strv labels, int exit_code, int64_t time_ns)
{
	struct fake_event *e = calloc(1, sizeof(*e));

	if (!e)
		abort();
	e->kind = kind;
	e->container_id = strdup(cid);
	e->execution_id = xstrdup(label_value(labels, LABEL_EXECUTION));
	e->labels = strv_dup(labels);
	e->exit_code = exit_code;
	e->time_ns = time_ns;
	return e;
}

static void event_free(struct fake_event *e)
{
	if (!e)
		return;
	free(e->container_id);
	free(e->execution_id);
	strv_free(e->labels);
	free(e);
}

static void stream_push(struct fake_stream *s, const struct fake_event *src)
{
	struct fake_event *e =
	    event_new(src->kind, src->container_id, src->labels, src->exit_code, src->time_ns);

	if (s->tail)
		s->tail->next = e;
	else
		s->head = e;
	s->tail = e;
}

static void emit(struct fake_ctr *c, enum runtime_event_kind kind, int exit_code)
{
	struct fake_event *e = event_new(kind, c->id, c->labels, exit_code, wall_now_ns());

	for (struct fake_stream *s = fk.streams; s && !fk.events_muted; s = s->next)
		if (!s->dropped && labels_match(e->labels, s->label))
			stream_push(s, e);
	event_free(fk.history[fk.history_next]);
	fk.history[fk.history_next] = e;
	fk.history_next = (fk.history_next + 1) % HISTORY_MAX;
	changed();
}

static void drop_streams(void)
{
	for (struct fake_stream *s = fk.streams; s; s = s->next)
		s->dropped = true;
	fk.watch_drops++;
	changed();
}

/* ---- container lifecycle (lock held) ----------------------------------- */

static void add_frames(struct fake_ctr *c, int stream, const char *data, size_t len)
{
	int64_t now = wall_now_ns();

	while (len > 0) {
		/* Engines frame roughly per write; one frame per line here,
		 * the whole chunk for tty containers. */
		const char *nl = c->tty ? NULL : memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) + 1 : len;
		struct fake_frame *f;

		if (c->n_frames == c->cap_frames) {
			size_t cap = c->cap_frames ? c->cap_frames * 2 : 16;
			struct fake_frame *p = realloc(c->frames, cap * sizeof(*p));

			if (!p)
				abort();
			c->frames = p;
			c->cap_frames = cap;
		}
		f = &c->frames[c->n_frames++];
		f->stream = stream;
		f->data = malloc(n);
		if (!f->data)
			abort();
		memcpy(f->data, data, n);
		f->len = n;
		f->time_ns = now;
		data += n;
		len -= n;
	}
	changed();
}

static void ctr_exit(struct fake_ctr *c, int exit_code, bool oom)
{
	c->status = CS_EXITED;
	c->exit_code = exit_code;
	c->oom = oom;
	c->finished_at_ns = wall_now_ns();
	if (oom)
		emit(c, RT_EV_OOM, -1);
	emit(c, RT_EV_DIE, exit_code);
}

static void ctr_free(struct fake_ctr *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->image);
	strv_free(c->labels);
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	strv_free(c->environment);
	free(c->user);
	free(c->working_directory);
	free(c->network_mode);
	free(c->stop_signal);
	container_settings_free(&c->applied);
	for (size_t i = 0; i < c->n_frames; i++)
		free(c->frames[i].data);
	free(c->frames);
	free(c);
}

static void ctr_unlink(struct fake_ctr *c)
{
	for (struct fake_ctr **pp = &fk.ctrs; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	emit(c, RT_EV_DESTROY, -1);
	ctr_free(c);
}

static struct fake_ctr *ctr_new(const char *name, const char *image, const strv labels)
{
	struct fake_ctr *c = calloc(1, sizeof(*c));
	struct fake_ctr **tail = &fk.ctrs;

	if (!c)
		abort();
	new_id(c->id);
	c->name = strdup(name ? name : c->id);
	c->image = xstrdup(image);
	c->labels = strv_dup(labels);
	c->status = CS_CREATED;
	c->ignores_sigterm = fk.default_ignores_sigterm;
	/* Append: lists come out in creation order. */
	while (*tail)
		tail = &(*tail)->next;
	*tail = c;
	changed();
	return c;
}

/* ---- runtime_ops -------------------------------------------------------- */

static int fake_open(const char *host, struct runtime **out, dms_error **err)
{
	struct runtime *rt = calloc(1, sizeof(*rt));

	(void)host;
	if (!rt)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	lock();
	fk.n_open++;
	unlock();
	*out = rt;
	return 0;
}

static void fake_close(struct runtime *rt)
{
	if (!rt)
		return;
	lock();
	fk.n_open--;
	changed();
	unlock();
	free(rt);
}

static int fake_ping(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
                     dms_error **err)
{
	int rc;

	(void)rt;
	lock();
	rc = op_enter("ping", ctx, NULL, err);
	unlock();
	if (rc != 0)
		return rc;
	if (info) {
		memset(info, 0, sizeof(*info));
		info->kind = strdup("fake");
		info->version = strdup("0.0.0-fake");
		info->api_version = strdup("1.0");
		info->os = strdup("linux");
		info->rootless = false;
		info->cgroup_version = 2;
	}
	return 0;
}

static int fake_image_present(struct runtime *rt, dms_context *ctx, const char *image,
                              bool *present, dms_error **err)
{
	struct fake_image *i;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("image_present", ctx, image, err);
	if (rc == 0) {
		i = find_image(image);
		*present = i && i->local;
	}
	unlock();
	return rc;
}

/* fake_runtime_set_pull_gate: pulls block until released (or their ctx ends). */
static bool pull_gate_closed;
static char drop_setting[32]; /* fake_runtime_drop_setting(): "" none */
static bool pull_gate_progress;

void fake_runtime_set_pull_gate(bool closed, bool progress)
{
	lock();
	pull_gate_closed = closed;
	pull_gate_progress = progress;
	pthread_cond_broadcast(&cond);
	unlock();
}

static int fake_image_pull(struct runtime *rt, dms_context *ctx, const char *image,
                           const char *registry_auth, runtime_progress_fn fn, void *ud,
                           dms_error **err)
{
	struct fake_image *i;
	int rc;

	(void)rt;
	(void)registry_auth;
	lock();
	while (pull_gate_closed) {
		bool progress = pull_gate_progress;
		if (progress && fn) { /* a pull that keeps reporting progress */
			unlock();
			fn(ud, "Downloading", 1, 2);
			lock();
		}
		rc = ctx_cond_wait(ctx, &cond, &mu, mono_now_ns() + 20 * 1000000LL);
		if (rc != 0 && rc != DMS_ERR_TIMEOUT) {
			unlock();
			return err_set(err, rc, "pull of %s interrupted", image);
		}
		if (ctx_status(ctx) != 0) {
			rc = ctx_status(ctx);
			unlock();
			return err_set(err, rc, "pull of %s interrupted", image);
		}
	}
	rc = op_enter("image_pull", ctx, image, err);
	if (rc == 0) {
		i = find_image(image);
		if (!i || !(i->in_registry || i->local)) {
			rc = err_engine(err, DMS_ERR_IMAGE, "image pull", image,
			                "pull access denied, repository does not exist",
			                "image %s not found in the registry", image);
		} else {
			i->local = true;
		}
	}
	unlock();
	if (rc == 0 && fn)
		fn(ud, "Pull complete", 1, 1);
	return rc;
}

static int fake_image_import(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
                             dms_error **err)
{
	char chunk[4096];
	ssize_t n;
	int rc;

	(void)rt;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		;
	if (n < 0)
		return err_set(err, DMS_ERR_IMAGE, "reading the image tarball for %s failed", ref);
	lock();
	rc = op_enter("image_import", ctx, ref, err);
	if (rc == 0)
		get_image(ref)->local = true;
	changed();
	unlock();
	return rc;
}

/* --- applied settings, as dockerd reports them in inspect --------------- */

static strv strv_plus(strv v, char *s)
{
	size_t n = strv_len(v);
	strv grown = realloc(v, (n + 2) * sizeof(*grown));

	if (!grown || !s)
		abort();
	grown[n] = s;
	grown[n + 1] = NULL;
	return grown;
}

static char *xasprintf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf_(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static strv caps_of(const strv v)
{
	strv out = calloc(1, sizeof(*out));

	for (size_t i = 0; v && v[i]; i++)
		out = strv_plus(out, strdup(strncmp(v[i], "CAP_", 4) == 0 ? v[i] + 4 : v[i]));
	return out;
}

/* Applies spec like dockerd does, minus the setting named by
 * fake_runtime_drop_setting() (an engine that silently ignored it). */
static void settings_apply(struct container_settings *a, const struct container_spec *spec)
{
	const struct exec_request *r = spec->req;
	const char *drop = drop_setting;

	memset(a, 0, sizeof(*a));
	a->known = true;
	a->nano_cpus = r->cpu_cores > 0 ? llround(r->cpu_cores * 1e9) : 0;
	a->memory = a->memory_swap = r->memory_bytes;
	a->pids_limit = r->pids_limit;
	a->cpuset_cpus = xstrdup(r->cpuset_cpus);
	a->readonly_rootfs = r->read_only_rootfs;
	a->cap_add = caps_of(r->cap_add);
	a->cap_drop = caps_of(r->cap_drop);
	a->security_opt = calloc(1, sizeof(strv));
	if (r->no_new_privileges)
		a->security_opt = strv_plus(a->security_opt, strdup("no-new-privileges"));
	a->mounts = calloc(1, sizeof(strv));
	for (size_t i = 0; i < r->n_inputs; i++)
		a->mounts = strv_plus(a->mounts, xasprintf_("%s:%s:%s", r->inputs[i].source,
		                                            r->inputs[i].target,
		                                            r->inputs[i].read_only ? "ro" : "rw"));
	for (size_t i = 0; i < r->n_outputs; i++)
		a->mounts =
		    strv_plus(a->mounts, xasprintf_("%s/%s:%s:rw", r->results_dir,
		                                    r->outputs[i].source, r->outputs[i].target));
	a->ports = calloc(1, sizeof(strv));
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct port_spec *p = &r->ports[i];
		char hp[24] = "";

		if (p->host_port)
			snprintf(hp, sizeof(hp), "%lld", (long long)p->host_port);
		a->ports =
		    strv_plus(a->ports, xasprintf_("%lld/%s=%s:%s", (long long)p->container_port,
		                                   p->protocol, p->host_ip ? p->host_ip : "", hp));
	}
	a->network_mode = xstrdup(spec->network     ? spec->network
	                          : r->network_mode ? r->network_mode
	                                            : "default");
	a->networks = calloc(1, sizeof(strv));
	a->devices = calloc(1, sizeof(strv));
	a->device_requests = calloc(1, sizeof(strv));
	for (size_t i = 0; i < r->n_gpus; i++) {
		const struct gpu_spec *g = &r->gpus[i];
		strv devs = gpu_devices(g, false);

		for (size_t j = 0; devs && devs[j]; j++)
			a->devices = strv_plus(a->devices, strdup(devs[j]));
		strv_free(devs);
		if (g->vendor != GPU_NVIDIA)
			continue;
		if (g->ids) {
			char ids[256] = "";
			size_t o = 0;

			for (size_t j = 0; g->ids[j]; j++)
				o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%s",
				                      j ? "," : "", g->ids[j]);
			a->device_requests =
			    strv_plus(a->device_requests, xasprintf_("nvidia:%s", ids));
		} else {
			a->device_requests = strv_plus(
			    a->device_requests,
			    xasprintf_("nvidia:count=%lld", (long long)(g->count ? g->count : -1)));
		}
	}
	a->user = xstrdup(r->user);
	a->working_dir = xstrdup(r->working_directory);
	a->env = r->environment ? strv_dup(r->environment) : calloc(1, sizeof(strv));
	a->labels = strv_dup(spec->labels);

	if (!*drop)
		return;
	if (!strcmp(drop, "NanoCpus"))
		a->nano_cpus = 0;
	else if (!strcmp(drop, "Memory"))
		a->memory = 0;
	else if (!strcmp(drop, "MemorySwap"))
		a->memory_swap = -1;
	else if (!strcmp(drop, "PidsLimit"))
		a->pids_limit = 0;
	else if (!strcmp(drop, "CpusetCpus"))
		free(a->cpuset_cpus), a->cpuset_cpus = strdup("");
	else if (!strcmp(drop, "ReadonlyRootfs"))
		a->readonly_rootfs = false;
	else if (!strcmp(drop, "CapAdd"))
		strv_free(a->cap_add), a->cap_add = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "CapDrop"))
		strv_free(a->cap_drop), a->cap_drop = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "SecurityOpt"))
		strv_free(a->security_opt), a->security_opt = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "Mounts"))
		strv_free(a->mounts), a->mounts = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "PortBindings"))
		strv_free(a->ports), a->ports = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "NetworkMode"))
		free(a->network_mode), a->network_mode = strdup("default");
	else if (!strcmp(drop, "Devices"))
		strv_free(a->devices), a->devices = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "DeviceRequests"))
		strv_free(a->device_requests), a->device_requests = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "User"))
		free(a->user), a->user = strdup("");
	else if (!strcmp(drop, "WorkingDir"))
		free(a->working_dir), a->working_dir = strdup("/");
	else if (!strcmp(drop, "Env"))
		strv_free(a->env), a->env = calloc(1, sizeof(strv));
	else if (!strcmp(drop, "Labels"))
		strv_free(a->labels), a->labels = calloc(1, sizeof(strv));
	else
		abort(); /* a test asked for a setting this fake does not know */
}

static void settings_copy(struct container_settings *d, const struct container_settings *s)
{
	*d = *s;
	d->cpuset_cpus = xstrdup(s->cpuset_cpus);
	d->cap_add = strv_dup(s->cap_add);
	d->cap_drop = strv_dup(s->cap_drop);
	d->security_opt = strv_dup(s->security_opt);
	d->mounts = strv_dup(s->mounts);
	d->ports = strv_dup(s->ports);
	d->network_mode = xstrdup(s->network_mode);
	d->networks = strv_dup(s->networks);
	d->devices = strv_dup(s->devices);
	d->device_requests = strv_dup(s->device_requests);
	d->user = xstrdup(s->user);
	d->working_dir = xstrdup(s->working_dir);
	d->env = strv_dup(s->env);
	d->labels = strv_dup(s->labels);
}

void fake_runtime_drop_setting(const char *setting)
{
	lock();
	snprintf(drop_setting, sizeof(drop_setting), "%s", setting ? setting : "");
	unlock();
}

static int fake_container_create(struct runtime *rt, dms_context *ctx,
                                 const struct container_spec *spec, char **id_out, dms_error **err)
{
	const struct exec_request *req = spec->req;
	const char *image = req ? req->image : NULL;
	struct fake_image *img;
	struct fake_ctr *c;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_create", ctx, spec->name, err);
	if (rc != 0)
		goto out;
	img = image ? find_image(image) : NULL;
	if (!img || !img->local) {
		rc = err_engine(err, DMS_ERR_IMAGE, "container create", image, "No such image",
		                "image %s is not present", image ? image : "(none)");
		goto out;
	}
	if (spec->name && (c = find_ctr(spec->name)) && strcmp(c->name, spec->name) == 0) {
		char text[512];

		snprintf(text, sizeof(text),
		         "Conflict. The container name \"/%s\" is already in use by container "
		         "\"%s\". You have to remove (or rename) that container to be able to "
		         "reuse that name.",
		         spec->name, c->id);
		rc = err_engine(err, DMS_ERR_CONTAINER, "container create", spec->name, text,
		                "container name %s is already in use", spec->name);
		goto out;
	}
	c = ctr_new(spec->name, image, spec->labels);
	c->tty = req->tty;
	c->entrypoint = strv_dup(req->entrypoint);
	c->cmd = strv_dup(req->cmd);
	c->environment = strv_dup(req->environment);
	c->user = xstrdup(req->user);
	c->working_directory = xstrdup(req->working_directory);
	c->network_mode = xstrdup(req->network_mode);
	c->stop_signal = xstrdup(spec->stop_signal);
	c->stop_timeout_s = spec->stop_timeout_s;
	c->cpu_cores = req->cpu_cores;
	c->memory_bytes = req->memory_bytes;
	c->pids_limit = req->pids_limit;
	c->n_mounts = req->n_inputs + req->n_outputs;
	settings_apply(&c->applied, spec);
	*id_out = strdup(c->id);
out:
	unlock();
	return rc;
}

static int not_found(dms_error **err, const char *op, const char *id)
{
	return err_engine(err, DMS_ERR_NOT_FOUND, op, id, "No such container",
	                  "container %s not found", id);
}

static int fake_container_start(struct runtime *rt, dms_context *ctx, const char *id,
                                dms_error **err)
{
	struct fake_ctr *c;
	struct fake_image *img;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_start", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container start", id);
		goto out;
	}
	if (c->status == CS_RUNNING)
		goto out; /* 304: already started */
	c->status = CS_RUNNING;
	c->started_at_ns = wall_now_ns();
	c->finished_at_ns = 0;
	c->exit_code = 0;
	c->oom = false;
	emit(c, RT_EV_START, -1);
	img = c->image ? find_image(c->image) : NULL;
	if (img && img->autoexit) {
		if (img->out)
			add_frames(c, 1, img->out, strlen(img->out));
		if (img->err)
			add_frames(c, 2, img->err, strlen(img->err));
		ctr_exit(c, img->exit_code, false);
	}
out:
	unlock();
	return rc;
}

static int fake_container_stop(struct runtime *rt, dms_context *ctx, const char *id, int timeout_s,
                               dms_error **err)
{
	struct fake_ctr *c;
	int rc, sig;

	(void)rt;
	(void)timeout_s;
	lock();
	rc = op_enter("container_stop", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container stop", id);
		goto out;
	}
	if (c->status == CS_PAUSED) {
		rc = err_engine(err, DMS_ERR_CONTAINER, "container stop", id,
		                "cannot stop a paused container, try unpausing it first",
		                "container %s is paused", id);
		goto out;
	}
	if (c->status != CS_RUNNING)
		goto out; /* 304: already stopped */
	sig = signal_number(c->stop_signal ? c->stop_signal : "SIGTERM");
	if (sig < 0)
		sig = SIGTERM;
	ctr_exit(c, c->ignores_sigterm ? 128 + SIGKILL : 128 + sig, false);
out:
	unlock();
	return rc;
}

static int fake_container_kill(struct runtime *rt, dms_context *ctx, const char *id,
                               const char *signal, dms_error **err)
{
	struct fake_ctr *c;
	int rc, sig;

	(void)rt;
	lock();
	rc = op_enter("container_kill", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container kill", id);
		goto out;
	}
	sig = signal_number(signal);
	if (sig < 0) {
		rc = err_engine(err, DMS_ERR_INVALID_ARGUMENT, "container kill", id,
		                "Invalid signal", "invalid signal %s", signal);
		goto out;
	}
	if (c->status != CS_RUNNING) {
		char text[256];

		snprintf(text, sizeof(text),
		         "Cannot kill container: %s: container %s is not running", id, c->id);
		rc = err_engine(err, DMS_ERR_CONTAINER, "container kill", id, text,
		                "container %s is not running", id);
		goto out;
	}
	if (sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH)
		goto out;
	if (c->ignores_sigterm && sig == signal_number(c->stop_signal ? c->stop_signal : "TERM"))
		goto out;
	ctr_exit(c, 128 + sig, false);
out:
	unlock();
	return rc;
}

static int fake_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                                 dms_error **err)
{
	struct fake_ctr *c;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_remove", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c)
		goto out; /* gone is OK */
	if (c->status == CS_RUNNING || c->status == CS_PAUSED) {
		if (!force) {
			rc = err_engine(err, DMS_ERR_CONTAINER, "container remove", id,
			                "You cannot remove a running container. Stop the container "
			                "before attempting removal or force remove",
			                "container %s is running", id);
			goto out;
		}
		ctr_exit(c, 128 + SIGKILL, false);
	}
	ctr_unlink(c);
out:
	unlock();
	return rc;
}

static int fake_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                                  struct container_state *out, dms_error **err)
{
	struct fake_ctr *c;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_inspect", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container inspect", id);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->id = strdup(c->id);
	out->name = strdup(c->name);
	out->status = c->status;
	out->exit_code = c->exit_code;
	out->oom_killed = c->oom;
	out->tty = c->tty;
	out->started_at_ns = c->started_at_ns;
	out->finished_at_ns = c->finished_at_ns;
	out->error = NULL;
	out->labels = strv_dup(c->labels);
	settings_copy(&out->settings, &c->applied);
	out->image_id = strdup("sha256:fake");
out:
	unlock();
	return rc;
}

static int fake_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                               struct container_summary **out, size_t *n, dms_error **err)
{
	struct container_summary *v = NULL;
	size_t count = 0, i = 0;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_list", ctx, label, err);
	if (rc != 0)
		goto out;
	for (struct fake_ctr *c = fk.ctrs; c; c = c->next)
		if (labels_match(c->labels, label))
			count++;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		abort();
	for (struct fake_ctr *c = fk.ctrs; c; c = c->next) {
		if (!labels_match(c->labels, label))
			continue;
		v[i].id = strdup(c->id);
		v[i].name = strdup(c->name);
		v[i].status = c->status;
		v[i].labels = strv_dup(c->labels);
		i++;
	}
	*out = v;
	*n = count;
out:
	unlock();
	return rc;
}

/* Serialises frame f for the consumer (framed unless tty). */
static char *frame_bytes(const struct fake_ctr *c, const struct fake_frame *f, size_t *len)
{
	size_t hdr = c->tty ? 0 : 8;
	char *p = malloc(f->len + hdr);

	if (!p)
		abort();
	if (hdr) {
		p[0] = (char)f->stream;
		p[1] = p[2] = p[3] = 0;
		p[4] = (char)((f->len >> 24) & 0xff);
		p[5] = (char)((f->len >> 16) & 0xff);
		p[6] = (char)((f->len >> 8) & 0xff);
		p[7] = (char)(f->len & 0xff);
	}
	memcpy(p + hdr, f->data, f->len);
	*len = f->len + hdr;
	return p;
}

static bool frame_wanted(const struct fake_frame *f, const struct log_options *o)
{
	if (f->stream == 1 && !o->stdout_)
		return false;
	if (f->stream == 2 && !o->stderr_)
		return false;
	return f->time_ns >= o->since_ns;
}

static int fake_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                               const struct log_options *opts, runtime_log_fn fn, void *ud,
                               dms_error **err)
{
	struct fake_ctr *c;
	char *cid;
	size_t next = 0;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_logs", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container logs", id);
		goto out;
	}
	cid = strdup(c->id);
	if (opts->tail >= 0) {
		/* Start so that only the last `tail` wanted frames remain. */
		int64_t keep = opts->tail;

		next = c->n_frames;
		while (next > 0 && keep > 0) {
			next--;
			if (frame_wanted(&c->frames[next], opts))
				keep--;
		}
	}
	for (;;) {
		c = find_ctr(cid);
		if (!c) /* removed while following */
			break;
		if (next < c->n_frames) {
			struct fake_frame *f = &c->frames[next++];
			size_t len;
			char *bytes;

			if (!frame_wanted(f, opts))
				continue;
			bytes = frame_bytes(c, f, &len);
			unlock();
			rc = fn(ud, bytes, len);
			free(bytes);
			lock();
			if (rc != 0) {
				rc = 0;
				break;
			}
			continue;
		}
		if (!opts->follow || (c->status != CS_RUNNING && !fk.follow_sticky))
			break;
		if (fk.down) {
			rc = err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, "container logs", id,
			                "connection reset", "the fake engine went away");
			break;
		}
		rc = ctx_cond_wait(ctx, &cond, &mu, INT64_MAX);
		if (rc != 0) {
			rc = err_set(err, rc, "following the logs of %s: %s", id,
			             rc == DMS_ERR_TIMEOUT ? "deadline exceeded" : "cancelled");
			break;
		}
	}
	free(cid);
out:
	unlock();
	return rc;
}

int fake_container_watch(struct runtime *rt, dms_context *ctx, const char *id,
                         void (*attached)(void *ud), void *ud, dms_error **err)
{
	struct fake_ctr *c;
	char *cid;
	uint64_t drops;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_watch", ctx, id, err);
	if (rc != 0 || !(c = find_ctr(id))) {
		if (rc == 0)
			rc = not_found(err, "container attach", id);
		unlock();
		return rc;
	}
	cid = strdup(c->id);
	drops = fk.watch_drops; /* counted from when it shows in n_watches */
	fk.n_watches++;
	unlock();
	attached(ud);
	lock();
	for (;;) {
		c = find_ctr(cid);
		if (!c || (c->status != CS_RUNNING && c->status != CS_CREATED) ||
		    fk.watch_drops != drops)
			break; /* ended, gone, or dropped: all look the same */
		if (fk.down) {
			rc = err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, "container attach", id,
			                "connection refused", "the fake engine went away");
			break;
		}
		if ((rc = ctx_cond_wait(ctx, &cond, &mu, INT64_MAX)) != 0) {
			rc = err_set(err, rc, "watching %s: %s", id,
			             rc == DMS_ERR_TIMEOUT ? "deadline exceeded" : "cancelled");
			break;
		}
	}
	fk.n_watches--;
	changed();
	unlock();
	free(cid);
	return rc;
}

static void stream_unlink(struct fake_stream *s)
{
	for (struct fake_stream **pp = &fk.streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	while (s->head) {
		struct fake_event *e = s->head;

		s->head = e->next;
		event_free(e);
	}
	free(s->label);
	free(s);
	fk.n_streams--;
	changed();
}

static int fake_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                       runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err)
{
	struct fake_stream *s;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("events", ctx, label, err);
	if (rc != 0) {
		unlock();
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->label = xstrdup(label);
	if (since_ns > 0) {
		for (size_t k = 0; k < HISTORY_MAX; k++) {
			struct fake_event *e = fk.history[(fk.history_next + k) % HISTORY_MAX];

			if (e && e->time_ns >= since_ns && labels_match(e->labels, label))
				stream_push(s, e);
		}
	}
	s->next = fk.streams;
	fk.streams = s;
	fk.n_streams++;
	changed();
	unlock();

	if (ready)
		ready(ud);

	lock();
	for (;;) {
		struct fake_event *e;

		if (s->dropped) {
			rc = err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, "events", label,
			                "unexpected EOF",
			                "the fake engine dropped the event stream");
			break;
		}
		if (!s->head) {
			rc = ctx_cond_wait(ctx, &cond, &mu, INT64_MAX);
			if (rc != 0) {
				rc = err_set(err, rc, "event stream: %s",
				             rc == DMS_ERR_TIMEOUT ? "deadline exceeded"
				                                   : "cancelled");
				break;
			}
			continue;
		}
		e = s->head;
		s->head = e->next;
		if (!s->head)
			s->tail = NULL;
		unlock();
		rc = fn(ud, &(struct runtime_event){.kind = e->kind,
		                                    .container_id = e->container_id,
		                                    .execution_id = e->execution_id,
		                                    .exit_code = e->exit_code,
		                                    .time_ns = e->time_ns});
		event_free(e);
		lock();
		if (rc != 0) {
			rc = 0;
			break;
		}
	}
	stream_unlink(s);
	unlock();
	return rc;
}

static int fake_network_create(struct runtime *rt, dms_context *ctx, const char *name,
                               const strv labels, bool internal, char **id_out, dms_error **err)
{
	struct fake_obj *o;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("network_create", ctx, name, err);
	if (rc != 0)
		goto out;
	if (find_obj(RT_OBJ_NETWORK, name)) {
		rc = err_engine(err, DMS_ERR_NETWORK, "network create", name,
		                "network with name already exists", "network %s already exists",
		                name);
		goto out;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	o->kind = RT_OBJ_NETWORK;
	new_id(o->id);
	o->name = strdup(name);
	o->labels = strv_dup(labels);
	o->internal = internal;
	o->next = fk.objs;
	fk.objs = o;
	if (id_out)
		*id_out = strdup(o->id);
	changed();
out:
	unlock();
	return rc;
}

static int fake_volume_create(struct runtime *rt, dms_context *ctx, const char *name,
                              const strv labels, dms_error **err)
{
	struct fake_obj *o;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("volume_create", ctx, name, err);
	if (rc != 0 || find_obj(RT_OBJ_VOLUME, name))
		goto out; /* volume create is idempotent on engines */
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	o->kind = RT_OBJ_VOLUME;
	snprintf(o->id, sizeof(o->id), "%s", name);
	o->name = strdup(name);
	o->labels = strv_dup(labels);
	o->next = fk.objs;
	fk.objs = o;
	changed();
out:
	unlock();
	return rc;
}

static int fake_object_list(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                            const char *label, strv *out, dms_error **err)
{
	size_t n = 0, i = 0;
	strv v;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("object_list", ctx, label, err);
	if (rc != 0)
		goto out;
	if (kind == RT_OBJ_CONTAINER) {
		for (struct fake_ctr *c = fk.ctrs; c; c = c->next)
			n += labels_match(c->labels, label);
	} else {
		for (struct fake_obj *o = fk.objs; o; o = o->next)
			n += o->kind == kind && labels_match(o->labels, label);
	}
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		abort();
	if (kind == RT_OBJ_CONTAINER) {
		for (struct fake_ctr *c = fk.ctrs; c; c = c->next)
			if (labels_match(c->labels, label))
				v[i++] = strdup(c->id);
	} else {
		for (struct fake_obj *o = fk.objs; o; o = o->next)
			if (o->kind == kind && labels_match(o->labels, label))
				v[i++] = strdup(kind == RT_OBJ_VOLUME ? o->name : o->id);
	}
	*out = v;
out:
	unlock();
	return rc;
}

static int fake_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                              const char *id, dms_error **err)
{
	struct fake_obj *o;
	int rc;

	if (kind == RT_OBJ_CONTAINER)
		return fake_container_remove(rt, ctx, id, true, err);
	lock();
	rc = op_enter("object_remove", ctx, id, err);
	if (rc != 0 || !(o = find_obj(kind, id)))
		goto out; /* gone is OK */
	for (struct fake_obj **pp = &fk.objs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	free(o->name);
	strv_free(o->labels);
	free(o);
	changed();
out:
	unlock();
	return rc;
}

/* Pause and unpause as dockerd answers them: 409 when the container is
 * not running (not paused). */
static int pause_common(struct runtime *rt, dms_context *ctx, const char *id, bool pause,
                        dms_error **err)
{
	const char *op = pause ? "container pause" : "container unpause";
	struct fake_ctr *c;
	int rc;

	(void)rt;
	lock();
	rc = op_enter(pause ? "container_pause" : "container_unpause", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, op, id);
		goto out;
	}
	if (c->status != (pause ? CS_RUNNING : CS_PAUSED)) {
		char text[256];

		snprintf(text, sizeof(text), "Container %s is %s", c->id,
		         pause ? "not running" : "not paused");
		rc = err_engine(err, DMS_ERR_CONTAINER, op, id, text, "%s", text);
		goto out;
	}
	c->status = pause ? CS_PAUSED : CS_RUNNING;
	changed();
out:
	unlock();
	return rc;
}

static int fake_container_pause(struct runtime *rt, dms_context *ctx, const char *id,
                                dms_error **err)
{
	return pause_common(rt, ctx, id, true, err);
}

static int fake_container_unpause(struct runtime *rt, dms_context *ctx, const char *id,
                                  dms_error **err)
{
	return pause_common(rt, ctx, id, false, err);
}

/* The sample set with fake_runtime_set_stats (else 1 MiB, 1 pid), stamped
 * now; a container that does not run has none (the engines' empty
 * sample). */
static int fake_container_stats(struct runtime *rt, dms_context *ctx, const char *id,
                                struct container_stats *out, dms_error **err)
{
	struct fake_ctr *c;
	int rc;

	(void)rt;
	lock();
	rc = op_enter("container_stats", ctx, id, err);
	if (rc != 0)
		goto out;
	c = find_ctr(id);
	if (!c) {
		rc = not_found(err, "container stats", id);
		goto out;
	}
	if (c->status != CS_RUNNING && c->status != CS_PAUSED) {
		rc = err_engine(err, DMS_ERR_CONTAINER, "container stats", id, NULL,
		                "container %s is not running: the engine has no sample", id);
		goto out;
	}
	if (c->have_stats) {
		*out = c->stats;
	} else {
		memset(out, 0, sizeof(*out));
		out->mem_usage = 1 << 20;
		out->mem_limit = 1ull << 30;
		out->pids = 1;
	}
	out->read_ns = wall_now_ns();
out:
	unlock();
	return rc;
}

const struct runtime_ops fake_runtime_ops = {
    .struct_size = sizeof(struct runtime_ops),
    .kind = "fake",
    .open = fake_open,
    .close = fake_close,
    .ping = fake_ping,
    .image_present = fake_image_present,
    .image_pull = fake_image_pull,
    .image_import = fake_image_import,
    .container_create = fake_container_create,
    .container_start = fake_container_start,
    .container_stop = fake_container_stop,
    .container_kill = fake_container_kill,
    .container_remove = fake_container_remove,
    .container_inspect = fake_container_inspect,
    .container_list = fake_container_list,
    .container_logs = fake_container_logs,
    .events = fake_events,
    .network_create = fake_network_create,
    .volume_create = fake_volume_create,
    .object_list = fake_object_list,
    .object_remove = fake_object_remove,
    .container_pause = fake_container_pause,
    .container_unpause = fake_container_unpause,
    .container_stats = fake_container_stats,
};

int fake_runtime_set_stats(const char *name_or_id, const struct container_stats *s)
{
	struct fake_ctr *c;

	lock();
	c = find_ctr(name_or_id);
	if (c) {
		c->stats = *s;
		c->have_stats = true;
	}
	unlock();
	return c ? 0 : DMS_ERR_NOT_FOUND;
}

/* ---- test controls -------------------------------------------------------- */

void fake_runtime_reset(void)
{
	lock();
	pull_gate_closed = false;
	drop_setting[0] = '\0';
	pull_gate_progress = false;
	while (fk.ctrs) {
		struct fake_ctr *c = fk.ctrs;

		fk.ctrs = c->next;
		ctr_free(c);
	}
	while (fk.images) {
		struct fake_image *i = fk.images;

		fk.images = i->next;
		free(i->ref);
		free(i->out);
		free(i->err);
		free(i);
	}
	while (fk.objs) {
		struct fake_obj *o = fk.objs;

		fk.objs = o->next;
		free(o->name);
		strv_free(o->labels);
		free(o);
	}
	while (fk.fails) {
		struct fake_fail *f = fk.fails;

		fk.fails = f->next;
		free(f->op);
		free(f);
	}
	while (fk.counts) {
		struct fake_count *c = fk.counts;

		fk.counts = c->next;
		free(c->op);
		free(c);
	}
	for (size_t i = 0; i < HISTORY_MAX; i++) {
		event_free(fk.history[i]);
		fk.history[i] = NULL;
	}
	fk.history_next = 0;
	fk.down = false;
	fk.default_ignores_sigterm = false;
	fk.events_muted = false;
	fk.follow_sticky = false;
	drop_streams();
	unlock();
}

void fake_runtime_add_image(const char *ref)
{
	lock();
	get_image(ref)->local = true;
	changed();
	unlock();
}

void fake_runtime_add_registry_image(const char *ref)
{
	lock();
	get_image(ref)->in_registry = true;
	unlock();
}

void fake_runtime_add_image_autoexit(const char *ref, int exit_code, const char *out,
                                     const char *err)
{
	struct fake_image *i;

	lock();
	i = get_image(ref);
	i->local = true;
	i->autoexit = true;
	i->exit_code = exit_code;
	free(i->out);
	free(i->err);
	i->out = xstrdup(out);
	i->err = xstrdup(err);
	unlock();
}

bool fake_runtime_has_image(const char *ref)
{
	struct fake_image *i;
	bool present;

	lock();
	i = find_image(ref);
	present = i && i->local;
	unlock();
	return present;
}

int fake_runtime_exit_bytes(struct runtime *rt, const char *name_or_id, int exit_code,
                            const void *out, size_t out_len, const void *err, size_t err_len,
                            bool oom)
{
	struct fake_ctr *c;
	int rc = 0;

	(void)rt;
	lock();
	c = find_ctr(name_or_id);
	if (!c) {
		rc = DMS_ERR_NOT_FOUND;
	} else if (c->status != CS_RUNNING) {
		rc = DMS_ERR_CONTAINER;
	} else {
		if (out && out_len)
			add_frames(c, 1, out, out_len);
		if (err && err_len)
			add_frames(c, 2, err, err_len);
		ctr_exit(c, exit_code, oom);
	}
	unlock();
	return rc;
}

int fake_runtime_exit(struct runtime *rt, const char *name_or_id, int exit_code, const char *out,
                      const char *err, bool oom)
{
	return fake_runtime_exit_bytes(rt, name_or_id, exit_code, out, out ? strlen(out) : 0, err,
	                               err ? strlen(err) : 0, oom);
}

int fake_runtime_write(struct runtime *rt, const char *name_or_id, const char *out, const char *err)
{
	struct fake_ctr *c;
	int rc = 0;

	(void)rt;
	lock();
	c = find_ctr(name_or_id);
	if (!c) {
		rc = DMS_ERR_NOT_FOUND;
	} else if (c->status != CS_RUNNING) {
		rc = DMS_ERR_CONTAINER;
	} else {
		if (out)
			add_frames(c, 1, out, strlen(out));
		if (err)
			add_frames(c, 2, err, strlen(err));
	}
	unlock();
	return rc;
}

void fake_runtime_set_ignores_sigterm(const char *name_or_id, bool ignores)
{
	struct fake_ctr *c;

	lock();
	if (!name_or_id)
		fk.default_ignores_sigterm = ignores;
	else if ((c = find_ctr(name_or_id)))
		c->ignores_sigterm = ignores;
	unlock();
}

void fake_runtime_set_down(bool down)
{
	lock();
	fk.down = down;
	if (down)
		drop_streams();
	changed();
	unlock();
}

void fake_runtime_drop_streams(void)
{
	lock();
	drop_streams();
	unlock();
}

void fake_runtime_fail_next(const char *op, dms_status category, int times)
{
	struct fake_fail *f;

	lock();
	for (f = fk.fails; f; f = f->next)
		if (strcmp(f->op, op) == 0)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			abort();
		f->op = strdup(op);
		f->next = fk.fails;
		fk.fails = f;
	}
	f->category = category;
	f->times = times;
	unlock();
}

int fake_runtime_op_count(const char *op)
{
	int n = 0;

	lock();
	for (struct fake_count *c = fk.counts; c; c = c->next)
		if (strcmp(c->op, op) == 0)
			n = c->n;
	unlock();
	return n;
}

char *fake_runtime_add_container(const char *name, const char *image, const char *const *labels,
                                 enum container_status status, int exit_code)
{
	struct fake_ctr *c;
	char *id = NULL;

	lock();
	if (!name || !find_ctr(name)) {
		c = ctr_new(name, image, (strv)labels);
		c->status = status;
		if (status == CS_RUNNING || status == CS_EXITED)
			c->started_at_ns = wall_now_ns();
		if (status == CS_EXITED) {
			c->exit_code = exit_code;
			c->finished_at_ns = c->started_at_ns;
		}
		id = strdup(c->id);
	}
	unlock();
	return id;
}

bool fake_runtime_get(const char *name_or_id, struct fake_container_info *out)
{
	struct fake_ctr *c;

	memset(out, 0, sizeof(*out));
	lock();
	c = find_ctr(name_or_id);
	if (c) {
		out->id = strdup(c->id);
		out->name = strdup(c->name);
		out->image = xstrdup(c->image);
		out->status = c->status;
		out->exit_code = c->exit_code;
		out->oom_killed = c->oom;
		out->tty = c->tty;
		out->labels = strv_dup(c->labels);
		out->entrypoint = strv_dup(c->entrypoint);
		out->cmd = strv_dup(c->cmd);
		out->environment = strv_dup(c->environment);
		out->user = xstrdup(c->user);
		out->working_directory = xstrdup(c->working_directory);
		out->network_mode = xstrdup(c->network_mode);
		out->stop_signal = xstrdup(c->stop_signal);
		out->stop_timeout_s = c->stop_timeout_s;
		out->cpu_cores = c->cpu_cores;
		out->memory_bytes = c->memory_bytes;
		out->pids_limit = c->pids_limit;
		out->n_mounts = c->n_mounts;
	}
	unlock();
	return c != NULL;
}

void fake_container_info_free(struct fake_container_info *i)
{
	if (!i)
		return;
	free(i->id);
	free(i->name);
	free(i->image);
	strv_free(i->labels);
	strv_free(i->entrypoint);
	strv_free(i->cmd);
	strv_free(i->environment);
	free(i->user);
	free(i->working_directory);
	free(i->network_mode);
	free(i->stop_signal);
	memset(i, 0, sizeof(*i));
}

bool fake_runtime_exists(const char *name_or_id)
{
	bool found;

	lock();
	found = find_ctr(name_or_id) != NULL;
	unlock();
	return found;
}

enum container_status fake_runtime_status(const char *name_or_id)
{
	struct fake_ctr *c;
	enum container_status s;

	lock();
	c = find_ctr(name_or_id);
	s = c ? c->status : CS_UNKNOWN;
	unlock();
	return s;
}

size_t fake_runtime_count(const char *label)
{
	size_t n = 0;

	lock();
	for (struct fake_ctr *c = fk.ctrs; c; c = c->next)
		n += labels_match(c->labels, label);
	unlock();
	return n;
}

static size_t obj_count(enum runtime_object kind, const char *label)
{
	size_t n = 0;

	lock();
	for (struct fake_obj *o = fk.objs; o; o = o->next)
		n += o->kind == kind && labels_match(o->labels, label);
	unlock();
	return n;
}

size_t fake_runtime_network_count(const char *label)
{
	return obj_count(RT_OBJ_NETWORK, label);
}

size_t fake_runtime_volume_count(const char *label)
{
	return obj_count(RT_OBJ_VOLUME, label);
}

void fake_runtime_set_events_muted(bool muted)
{
	lock();
	fk.events_muted = muted;
	unlock();
}

void fake_runtime_set_follow_sticky(bool sticky)
{
	lock();
	fk.follow_sticky = sticky;
	changed();
	unlock();
}

int fake_runtime_watch_count(void)
{
	int n;

	lock();
	n = fk.n_watches;
	unlock();
	return n;
}

int fake_runtime_stream_count(void)
{
	int n;

	lock();
	n = fk.n_streams;
	unlock();
	return n;
}

int fake_runtime_open_count(void)
{
	int n;

	lock();
	n = fk.n_open;
	unlock();
	return n;
}

/* Waits (lock held) until pred() holds or timeout_ms passes. */
static bool wait_until(bool (*pred)(const void *arg), const void *arg, int64_t timeout_ms)
{
	int64_t deadline = mono_now_ns() + timeout_ms * 1000000;
	bool ok;

	lock();
	while (!(ok = pred(arg)))
		if (ctx_cond_wait(NULL, &cond, &mu, deadline) != 0)
			break;
	if (!ok)
		ok = pred(arg);
	unlock();
	return ok;
}

struct status_arg {
	const char *key;
	enum container_status status;
};

static bool status_reached(const void *arg)
{
	const struct status_arg *a = arg;
	struct fake_ctr *c = find_ctr(a->key);

	return c && c->status == a->status;
}

bool fake_runtime_wait_status(const char *name_or_id, enum container_status status,
                              int64_t timeout_ms)
{
	struct status_arg a = {name_or_id, status};

	return wait_until(status_reached, &a, timeout_ms);
}

static bool streams_reached(const void *arg)
{
	return fk.n_streams >= *(const int *)arg;
}

bool fake_runtime_wait_streams(int min_streams, int64_t timeout_ms)
{
	return wait_until(streams_reached, &min_streams, timeout_ms);
}

static bool ctr_gone(const void *arg)
{
	return find_ctr(arg) == NULL;
}

bool fake_runtime_wait_gone(const char *name_or_id, int64_t timeout_ms)
{
	return wait_until(ctr_gone, name_or_id, timeout_ms);
}
