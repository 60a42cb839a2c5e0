/* swarm.c — the runtime table (runtime.h) for Docker Swarm mode: a job is
 * a one-task replicated-job service created through a manager, and the
 * executor's container operations are mapped onto the service and its
 * task (docs/swarm.md).
 *
 * Exists because a swarm is not one more flavor of the compat layer: the
 * object the executor makes is a service (created, inspected, listed and
 * removed under /services), the process is a task on some node, and the
 * engine sends no task events. What is the same Engine API — the HTTP
 * client, negotiation, error mapping, the JSON readers, the stamped log
 * frames — is the compat layer's, used through compat_internal.h.
 *
 * The mapping, in the runtime table's words:
 *   container_create   POST /services/create (Mode.ReplicatedJob 1/1,
 *                      RestartPolicy none), then GET /services/{id} and a
 *                      check that the stored spec is what was asked
 *   container_start    nothing: the orchestrator starts the task itself
 *   container_inspect  the service and its job task (the first of the
 *                      job's iteration): state, exit code, node
 *   container_list     GET /services + GET /tasks, both label-filtered
 *   events             ONE label-filtered GET /tasks per tick for the
 *                      whole executor, adaptive interval; a terminal job
 *                      task is a `die`, a vanished service a `destroy`
 *   container_logs     GET /tasks/{id}/logs (non-follow, timestamps);
 *                      a follow is made of such reads until the task ends
 *   container_kill     the stop: a log follower is attached, then the
 *                      service removed (the agent sends the stop signal,
 *                      SIGKILL after StopGracePeriod); the follower keeps
 *                      what the job wrote until its container went away
 *   container_remove   DELETE /services/{id}
 * Objects: services, networks and configs, by label. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compat_internal.h"
#include "labels.h"
#include "runtime_names.h"

#define NS_PER_MS_ 1000000LL
#define NS_PER_S_ 1000000000LL

/* The events poll: fast while a job is young (its exit is most of a short
 * job's latency), slower for long jobs. */
#define SWARM_POLL_FAST_NS (50 * NS_PER_MS_)
#define SWARM_POLL_SLOW_NS (1000 * NS_PER_MS_)
#define SWARM_YOUNG_NS (10 * NS_PER_S_)
/* How long the nodes list is reused (node-down checks). */
#define SWARM_NODES_TTL_NS (1 * NS_PER_S_)
/* A stopped job's follower ends this long after its task was gone. */
#define SWARM_STOP_SETTLE_NS (100 * NS_PER_MS_)
/* A stop whose follower never attached goes ahead after this. */
#define SWARM_STOP_ATTACH_NS (2 * NS_PER_S_)
/* A stopped job's log kept in memory at most (docs/swarm.md, "Cancel"). */
#define SWARM_STOP_LOG_MAX ((size_t)64 << 20)
/* A placement no node satisfies (node ids are 25 letters and digits). */
#define SWARM_STOP_CONSTRAINT "node.id==dms-stopped"
/* Start waits this long at most for the task to run. */
#define SWARM_START_WAIT_NS (10 * NS_PER_S_)
/* Service names: DNS labels (swarmkit refuses others). */
#define SWARM_NAME_MAX 63

/* ---- the runtime's own state ---------------------------------------------- */

/* One job being stopped: its task's log, followed from before the stop
 * until the task's container is gone (container_kill). */
struct swarm_stop {
	struct swarm_stop *next;
	char *service_id;
	char *task_id;        /* NULL: it had no task (pending): nothing to follow */
	strv labels;          /* the service's, for inspect once it is gone */
	bool tty;
	int exit_code;        /* the task's, once the poll saw it; -1 unknown */
	struct buf log;       /* the raw log bytes as the engine sent them */
	bool attached, done;  /* under swarm->mu */
	int64_t gone_mono_ns; /* the poll saw the task gone (0: not yet) */
	int64_t started_at_ns, finished_at_ns;
	dms_context *ctx;     /* the follower's; cancelled by the poll */
	pthread_t thread;
	bool has_thread;
	struct runtime *rt;
};

struct swarm {
	int64_t pending_timeout_ns;
	pthread_mutex_t mu;
	pthread_cond_t cond;      /* a create, a stop done: the poll looks again */
	int64_t last_create_mono; /* under mu */
	struct swarm_stop *stops; /* under mu */
	/* the nodes list, cached for SWARM_NODES_TTL_NS (under mu) */
	strv down_nodes; /* ids of nodes whose Status.State is "down" */
	int64_t nodes_mono;
};

static struct swarm *swarm_of(struct runtime *rt)
{
	return rt->swarm;
}

/* ---- names ------------------------------------------------------------- */

/* The service name for a container name: swarmkit takes DNS labels only
 * (letters, digits, '-' and '_' inside, at most 63). labels_container_name
 * ends in "-<8 hex>" of a hash of the ids, which is kept; the readable part
 * before it is mapped and cut. A valid name (a service id) is left as it
 * is, so the function may be applied to what it made. */
static char *swarm_service_name(const char *name)
{
	size_t n = strlen(name), hash = 9; /* "-xxxxxxxx" */
	bool valid = n > 0 && n <= SWARM_NAME_MAX;
	char *out;

	for (size_t i = 0; valid && i < n; i++) {
		char ch = name[i];

		valid = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ((ch == '-' || ch == '_') && i > 0 && i < n - 1);
	}
	if (valid)
		return strdup(name);
	if (!(out = malloc(SWARM_NAME_MAX + 1)))
		return NULL;
	size_t keep = n > SWARM_NAME_MAX ? SWARM_NAME_MAX - hash : n - (n >= hash ? hash : 0);
	size_t o = 0;

	for (size_t i = 0; i < keep && i < n; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');

		out[o++] = alnum || ch == '-' || ch == '_' ? ch : '-';
	}
	if (n >= hash)
		for (size_t i = n - hash; i < n; i++)
			out[o++] = name[i];
	out[o] = '\0';
	while (o > 0 && (out[o - 1] == '-' || out[o - 1] == '_'))
		out[--o] = '\0';
	if (o == 0 || out[0] == '-' || out[0] == '_')
		out[0] = 'x';
	return out;
}

/* ---- tasks ------------------------------------------------------------- */

enum task_phase {
	TP_WAITING, /* new, pending, assigned: no node runs it yet */
	TP_STARTING,
	TP_RUNNING,
	TP_DONE,   /* complete, failed, shutdown: an exit code */
	TP_BROKEN, /* rejected, orphaned, remove: it cannot have one */
};

struct swarm_task {
	yajl_val v;
	const char *id, *service_id, *node_id, *state, *message, *err;
	long long exit_code;
	bool has_exit;
	long long iteration;
	int64_t created_ns, timestamp_ns;
	enum task_phase phase;
};

static enum task_phase phase_of(const char *state)
{
	static const struct {
		const char *name;
		enum task_phase phase;
	} phases[] = {
	    {"new", TP_WAITING},       {"allocated", TP_WAITING}, {"pending", TP_WAITING},
	    {"assigned", TP_WAITING},  {"accepted", TP_STARTING}, {"preparing", TP_STARTING},
	    {"ready", TP_STARTING},    {"starting", TP_STARTING}, {"running", TP_RUNNING},
	    {"complete", TP_DONE},     {"failed", TP_DONE},       {"shutdown", TP_DONE},
	    {"rejected", TP_BROKEN},   {"orphaned", TP_BROKEN},   {"remove", TP_BROKEN},
	};

	for (size_t i = 0; state && i < sizeof(phases) / sizeof(phases[0]); i++)
		if (strcmp(state, phases[i].name) == 0)
			return phases[i].phase;
	return TP_WAITING;
}

static void task_read(yajl_val v, struct swarm_task *t)
{
	const char *s;

	*t = (struct swarm_task){.v = v};
	t->id = compat_jstr(v, JPATH("ID"));
	t->service_id = compat_jstr(v, JPATH("ServiceID"));
	t->node_id = compat_jstr(v, JPATH("NodeID"));
	t->state = compat_jstr(v, JPATH("Status", "State"));
	t->message = compat_jstr(v, JPATH("Status", "Message"));
	t->err = compat_jstr(v, JPATH("Status", "Err"));
	t->has_exit = compat_jint(v, JPATH("Status", "ContainerStatus", "ExitCode"), &t->exit_code);
	if (!compat_jint(v, JPATH("JobIteration", "Index"), &t->iteration))
		t->iteration = 0;
	t->created_ns = (s = compat_jstr(v, JPATH("CreatedAt"))) ? parse_rfc3339(s) : 0;
	t->timestamp_ns = (s = compat_jstr(v, JPATH("Status", "Timestamp"))) ? parse_rfc3339(s) : 0;
	t->phase = phase_of(t->state);
}

/* The job's task among a service's: the job's first iteration, and of its
 * tasks the first that ended (a re-run after a leader change, moby#53632,
 * is not the job's), else the first made. */
static bool task_better(const struct swarm_task *a, const struct swarm_task *b)
{
	bool a_end = a->phase >= TP_DONE, b_end = b->phase >= TP_DONE;

	if (a->iteration != b->iteration)
		return a->iteration < b->iteration;
	if (a_end != b_end)
		return a_end;
	if (a_end)
		return a->timestamp_ns < b->timestamp_ns;
	return a->created_ns < b->created_ns;
}

/* The job task of service `sid` in a GET /tasks answer; false: none. */
static bool job_task(yajl_val tasks, const char *sid, struct swarm_task *out)
{
	bool found = false;

	for (size_t i = 0; tasks && YAJL_IS_ARRAY(tasks) && i < tasks->u.array.len; i++) {
		struct swarm_task t;

		task_read(tasks->u.array.values[i], &t);
		if (!t.id || !t.service_id || strcmp(t.service_id, sid) != 0)
			continue;
		if (!found || task_better(&t, out))
			*out = t, found = true;
	}
	return found;
}

/* {"<key>":[<value>]} url-encoded for a filters= parameter. */
static char *filter_query(const char *key, const char *value)
{
	_cleanup_jw_ struct jw w = {0};
	_cleanup_free_ char *json = NULL;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key(&w, key);
	jw_array_open(&w);
	jw_str(&w, value);
	jw_array_close(&w);
	jw_map_close(&w);
	json = jw_steal(&w);
	return json ? http_urlencode(json) : NULL;
}

static int get_tasks(struct runtime *rt, dms_context *ctx, const char *key, const char *value,
                     yajl_val *out, dms_error **err)
{
	_cleanup_free_ char *f = filter_query(key, value);
	_cleanup_free_ char *path = f ? compat_pathf("/tasks?filters=%s", f) : NULL;

	if (!path)
		return compat_oom(err);
	if (compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, "task list", value, out, err) != 0)
		return err && *err ? (int)(*err)->category : DMS_ERR_CONTAINER;
	if (!YAJL_IS_ARRAY(*out)) {
		yajl_tree_free(*out);
		*out = NULL;
		return compat_bad_json(COMPAT_CONTAINER, "task list", value, err);
	}
	return 0;
}

/* ---- nodes ------------------------------------------------------------- */

/* Whether node `id` is down, from the nodes list (cached a second). A
 * failed list says nothing is down: the next tick asks again. */
static bool node_down(struct runtime *rt, dms_context *ctx, const char *id)
{
	struct swarm *sw = swarm_of(rt);
	int64_t now = mono_now_ns();
	bool down = false, fresh;

	if (!id || !*id)
		return false;
	pthread_mutex_lock(&sw->mu);
	fresh = sw->nodes_mono && now - sw->nodes_mono < SWARM_NODES_TTL_NS;
	pthread_mutex_unlock(&sw->mu);
	if (!fresh) {
		_cleanup_yajl_tree_ yajl_val nodes = NULL;
		struct compat_strv b = {0};

		if (compat_get_api_json(rt, ctx, "/nodes", COMPAT_ENGINE, "node list", NULL, &nodes,
		                        NULL) != 0 ||
		    !YAJL_IS_ARRAY(nodes))
			return false;
		for (size_t i = 0; i < nodes->u.array.len; i++) {
			yajl_val n = nodes->u.array.values[i];
			const char *st = compat_jstr(n, JPATH("Status", "State"));
			const char *nid = compat_jstr(n, JPATH("ID"));

			if (nid && st && strcmp(st, "down") == 0)
				compat_strv_add(&b, strdup(nid));
		}
		strv v = compat_strv_finish(&b);
		if (!v)
			return false;
		pthread_mutex_lock(&sw->mu);
		strv_free(sw->down_nodes);
		sw->down_nodes = v;
		sw->nodes_mono = now;
		pthread_mutex_unlock(&sw->mu);
	}
	pthread_mutex_lock(&sw->mu);
	for (size_t i = 0; sw->down_nodes && sw->down_nodes[i] && !down; i++)
		down = strcmp(sw->down_nodes[i], id) == 0;
	pthread_mutex_unlock(&sw->mu);
	return down;
}

/* ---- a job's state from its task ------------------------------------------ */

/* What the executor is told about a job, from its task. */
struct job_view {
	enum container_status status;
	int exit_code;
	int failure; /* DMS_ERR_* (container_state.failure) */
	char error[1024];
	int64_t started_at_ns, finished_at_ns;
};

/* A task's account as the executor's: finished with an exit code; failed
 * without one (rejected, orphaned, on a node gone down, pending past the
 * timeout), naming node, state and the engine's message; or not yet. */
static void job_judge(struct runtime *rt, dms_context *ctx, const struct swarm_task *t,
                      struct job_view *jv)
{
	struct swarm *sw = swarm_of(rt);
	const char *why = t->err && *t->err ? t->err : t->message ? t->message : "";
	const char *node = t->node_id && *t->node_id ? t->node_id : "(none)";

	*jv = (struct job_view){.status = CS_RUNNING, .exit_code = -1};
	jv->started_at_ns = t->created_ns;
	switch (t->phase) {
	case TP_DONE:
		jv->status = CS_EXITED;
		jv->exit_code = t->has_exit ? (int)t->exit_code : -1;
		jv->finished_at_ns = t->timestamp_ns;
		/* A task that failed before its process ran ("starting container
		 * failed: ...") has its exit code and the reason. */
		if (t->err && *t->err && strcmp(t->state, "complete") != 0 &&
		    !strstr(t->err, "non-zero exit"))
			snprintf(jv->error, sizeof(jv->error), "task %s %s on node %s: %s", t->id,
			         t->state, node, t->err);
		return;
	case TP_BROKEN:
		jv->status = CS_EXITED;
		jv->failure = DMS_ERR_CONTAINER;
		jv->finished_at_ns = t->timestamp_ns;
		snprintf(jv->error, sizeof(jv->error), "task %s %s on node %s: %s", t->id, t->state,
		         node, *why ? why : "the engine gave no reason");
		return;
	case TP_STARTING:
	case TP_RUNNING:
		if (node_down(rt, ctx, t->node_id)) {
			jv->status = CS_EXITED;
			jv->failure = DMS_ERR_RUNTIME_UNAVAILABLE;
			jv->finished_at_ns = wall_now_ns();
			snprintf(jv->error, sizeof(jv->error),
			         "node %s is down: its task %s was %s (%s); the job is not run again",
			         node, t->id, t->state, *why ? why : "no message");
		}
		return;
	case TP_WAITING:
		if (sw->pending_timeout_ns > 0 && t->created_ns > 0 &&
		    wall_now_ns() - t->created_ns > sw->pending_timeout_ns) {
			jv->status = CS_EXITED;
			jv->failure = DMS_ERR_RESOURCE;
			jv->finished_at_ns = wall_now_ns();
			snprintf(jv->error, sizeof(jv->error),
			         "no node took the job within swarm_pending_timeout (%.3g s): task %s "
			         "%s: %s",
			         (double)sw->pending_timeout_ns / NS_PER_S_, t->id, t->state,
			         *why ? why : "the scheduler gave no reason");
		}
		return;
	}
}

/* ---- stops (container_kill) ------------------------------------------------ */

/* Under sw->mu. */
static struct swarm_stop *stop_find(struct swarm *sw, const char *sid)
{
	for (struct swarm_stop *s = sw->stops; s; s = s->next)
		if (strcmp(s->service_id, sid) == 0)
			return s;
	return NULL;
}

static void stop_free(struct swarm_stop *s)
{
	if (!s)
		return;
	if (s->has_thread)
		pthread_join(s->thread, NULL);
	free(s->service_id);
	free(s->task_id);
	strv_free(s->labels);
	buf_free(&s->log);
	ctx_free(s->ctx);
	free(s);
}

static void stop_headers(void *ud, long status)
{
	struct swarm_stop *s = ud;
	struct swarm *sw = swarm_of(s->rt);

	pthread_mutex_lock(&sw->mu);
	s->attached = status == 200;
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->mu);
}

static int stop_data(void *ud, const char *data, size_t len)
{
	struct swarm_stop *s = ud;

	if (s->log.len + len > SWARM_STOP_LOG_MAX)
		return 0; /* kept what fits; the harvest's own limits are lower */
	buf_append(&s->log, data, len);
	return 0;
}

/* The follower: the task's whole log, followed until the poll ends it
 * (the task gone) or its deadline. */
static void *stop_main(void *arg)
{
	struct swarm_stop *s = arg;
	struct swarm *sw = swarm_of(s->rt);
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *path = compat_pathf("/tasks/%s/logs?stdout=1&stderr=1&follow=1",
	                                         s->task_id);
	struct http_request req = COMPAT_REQ("GET", path);

	req.timeout_ms = -1;
	req.on_headers = stop_headers;
	req.on_data = stop_data;
	req.user_data = s;
	if (path)
		compat_call(s->rt, s->ctx, &req, &resp, "task logs", s->task_id, NULL);
	pthread_mutex_lock(&sw->mu);
	s->attached = true;
	s->done = true;
	if (!s->finished_at_ns)
		s->finished_at_ns = wall_now_ns();
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->mu);
	return NULL;
}

/* ---- open, close, ping ------------------------------------------------------ */

static void swarm_free(struct swarm *sw)
{
	if (!sw)
		return;
	while (sw->stops) {
		struct swarm_stop *s = sw->stops;

		sw->stops = s->next;
		ctx_cancel(s->ctx);
		stop_free(s);
	}
	strv_free(sw->down_nodes);
	pthread_mutex_destroy(&sw->mu);
	pthread_cond_destroy(&sw->cond);
	free(sw);
}

static void swarm_close(struct runtime *rt)
{
	if (!rt)
		return;
	swarm_free(rt->swarm);
	rt->swarm = NULL;
	compat_close(rt);
}

static int swarm_open_with(const char *host, const struct exec_config *cfg, struct runtime **out,
                           dms_error **err)
{
	struct swarm *sw = calloc(1, sizeof(*sw));
	struct runtime *rt = NULL;
	int rc;

	if (!sw)
		return compat_oom(err);
	pthread_mutex_init(&sw->mu, NULL);
	ctx_cond_init(&sw->cond);
	sw->pending_timeout_ns = (cfg ? cfg->swarm_pending_timeout_ms : 5 * 60 * 1000LL) * NS_PER_MS_;
	if ((rc = compat_open_owned(docker_endpoint(host), &compat_docker_flavor, &rt, err)) != 0) {
		swarm_free(sw);
		return rc;
	}
	rt->swarm = sw;
	if (cfg && (cfg->tls_ca || cfg->tls_cert) &&
	    (rc = http_client_set_tls(rt->http, cfg->tls_ca, cfg->tls_cert, cfg->tls_key, err)) != 0) {
		swarm_close(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

static int swarm_open(const char *host, struct runtime **out, dms_error **err)
{
	return swarm_open_with(host, NULL, out, err);
}

static int swarm_open_config(const struct exec_config *cfg, struct runtime **out, dms_error **err)
{
	return swarm_open_with(cfg->host, cfg, out, err);
}

/* An active manager, or RuntimeUnavailable saying what the engine is. */
static int swarm_check_manager(struct runtime *rt, dms_context *ctx, yajl_val sysinfo,
                               dms_error **err)
{
	const char *url = compat_url(rt);
	const char *state = compat_jstr(sysinfo, JPATH("Swarm", "LocalNodeState"));

	if (!state || strcmp(state, "active") != 0)
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, "ping", url, state,
		                  "ping %s: swarm not active (this engine's swarm state is \"%s\"; "
		                  "run the executor against a swarm manager)",
		                  url, state ? state : "unknown");
	if (!compat_jtrue(sysinfo, JPATH("Swarm", "ControlAvailable")))
		return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, "ping", url, NULL,
		                  "ping %s: this engine is a swarm worker; connect to a manager", url);
	(void)ctx;
	return 0;
}

static int swarm_ping(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
                      dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val sysinfo = NULL;
	_cleanup_yajl_tree_ yajl_val nodes = NULL;
	const char *url = compat_url(rt);
	struct runtime_info i = {0};
	int rc;

	if ((rc = compat_ping(rt, ctx, info ? &i : NULL, err)) != 0)
		return rc;
	if ((rc = compat_get_api_json(rt, ctx, "/info", COMPAT_ENGINE, "info", url, &sysinfo,
	                              err)) != 0 ||
	    (rc = swarm_check_manager(rt, ctx, sysinfo, err)) != 0) {
		runtime_info_free(&i);
		return rc;
	}
	if (!info)
		return 0;
	free(i.kind);
	i.kind = strdup(RUNTIME_SWARM);
	i.swarm_node_id = compat_strdup_or_null(compat_jstr(sysinfo, JPATH("Swarm", "NodeID")));
	i.swarm_manager = true;
	if (compat_get_api_json(rt, ctx, "/nodes", COMPAT_ENGINE, "node list", url, &nodes, NULL) ==
	        0 &&
	    YAJL_IS_ARRAY(nodes)) {
		i.swarm_nodes_total = (int)nodes->u.array.len;
		for (size_t k = 0; k < nodes->u.array.len; k++) {
			const char *st = compat_jstr(nodes->u.array.values[k], JPATH("Status", "State"));

			i.swarm_nodes_ready += st && strcmp(st, "ready") == 0;
		}
	}
	if (!i.kind || !i.swarm_node_id) {
		runtime_info_free(&i);
		return compat_oom(err);
	}
	*info = i;
	return 0;
}

/* ---- images ------------------------------------------------------------------ */

/* The nodes pull: an agent pulls the image when it starts the task and
 * falls back to its own copy when the pull fails (docs/swarm.md,
 * "Images"). The manager's image store says nothing about the node that
 * will run the job, so the executor's pull policy is the agents'. */
static int swarm_image_present(struct runtime *rt, dms_context *ctx, const char *image,
                               bool *present, dms_error **err)
{
	(void)rt, (void)ctx, (void)image, (void)err;
	*present = true;
	return 0;
}

static int swarm_image_pull(struct runtime *rt, dms_context *ctx, const char *image,
                            const char *registry_auth, runtime_progress_fn fn, void *ud,
                            dms_error **err)
{
	(void)rt, (void)ctx, (void)image, (void)registry_auth, (void)fn, (void)ud, (void)err;
	return 0;
}

/* ---- create ------------------------------------------------------------------ */

static void jw_key_nanos(struct jw *w, const char *key, int64_t ns)
{
	jw_key_int(w, key, ns);
}

/* The service spec for spec (docs/swarm.md, "The mapping"). */
static void service_spec(struct jw *w, const struct container_spec *spec, const char *name)
{
	const struct exec_request *r = spec->req;

	jw_map_open(w);
	jw_key_str(w, "Name", name);
	jw_key_labels(w, "Labels", spec->labels);
	jw_key(w, "TaskTemplate");
	jw_map_open(w);
	jw_key(w, "ContainerSpec");
	jw_map_open(w);
	jw_key_str(w, "Image", r->image);
	jw_key_labels(w, "Labels", spec->labels);
	jw_key_strv(w, "Command", r->entrypoint);
	jw_key_strv(w, "Args", r->cmd);
	jw_key_strv(w, "Env", r->environment);
	jw_key_str(w, "Dir", r->working_directory);
	jw_key_str(w, "User", r->user);
	jw_key_bool(w, "TTY", r->tty);
	jw_key_bool(w, "ReadOnly", r->read_only_rootfs);
	jw_key_str(w, "StopSignal", spec->stop_signal);
	jw_key_nanos(w, "StopGracePeriod", (int64_t)spec->stop_timeout_s * NS_PER_S_);
	jw_key_strv(w, "CapabilityAdd", r->cap_add);
	jw_key_strv(w, "CapabilityDrop", r->cap_drop);
	if (r->n_inputs) {
		jw_key(w, "Mounts");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_inputs; i++) {
			jw_map_open(w);
			jw_key_str(w, "Type", "bind");
			jw_key_str(w, "Source", r->inputs[i].source);
			jw_key_str(w, "Target", r->inputs[i].target);
			jw_key_bool(w, "ReadOnly", r->inputs[i].read_only);
			jw_map_close(w);
		}
		jw_array_close(w);
	}
	jw_map_close(w); /* ContainerSpec */
	jw_key(w, "Resources");
	jw_map_open(w);
	jw_key(w, "Limits");
	jw_map_open(w);
	if (r->cpu_cores > 0)
		jw_key_int(w, "NanoCPUs", llround(r->cpu_cores * 1e9));
	if (r->memory_bytes > 0)
		jw_key_int(w, "MemoryBytes", r->memory_bytes);
	if (r->pids_limit > 0)
		jw_key_int(w, "Pids", r->pids_limit);
	jw_map_close(w);
	/* Reserved too, so that the scheduler places by them. */
	jw_key(w, "Reservations");
	jw_map_open(w);
	if (r->cpu_cores > 0)
		jw_key_int(w, "NanoCPUs", llround(r->cpu_cores * 1e9));
	if (r->memory_bytes > 0)
		jw_key_int(w, "MemoryBytes", r->memory_bytes);
	jw_map_close(w);
	jw_map_close(w); /* Resources */
	jw_key(w, "RestartPolicy");
	jw_map_open(w);
	jw_key_str(w, "Condition", "none");
	jw_map_close(w);
	if (r->placement_constraints) {
		jw_key(w, "Placement");
		jw_map_open(w);
		jw_key_strv(w, "Constraints", r->placement_constraints);
		jw_map_close(w);
	}
	if (r->network_mode && strcmp(r->network_mode, "none") == 0) {
		jw_key(w, "Networks");
		jw_array_open(w);
		jw_map_open(w);
		jw_key_str(w, "Target", "none");
		jw_map_close(w);
		jw_array_close(w);
	}
	jw_map_close(w); /* TaskTemplate */
	jw_key(w, "Mode");
	jw_map_open(w);
	jw_key(w, "ReplicatedJob");
	jw_map_open(w);
	jw_key_int(w, "MaxConcurrent", 1);
	jw_key_int(w, "TotalCompletions", 1);
	jw_map_close(w);
	jw_map_close(w);
	if (r->n_ports) {
		jw_key(w, "EndpointSpec");
		jw_map_open(w);
		jw_key(w, "Ports");
		jw_array_open(w);
		for (size_t i = 0; i < r->n_ports; i++) {
			jw_map_open(w);
			jw_key_str(w, "Protocol", r->ports[i].protocol);
			jw_key_int(w, "TargetPort", r->ports[i].container_port);
			if (r->ports[i].host_port)
				jw_key_int(w, "PublishedPort", r->ports[i].host_port);
			jw_key_str(w, "PublishMode", "ingress");
			jw_map_close(w);
		}
		jw_array_close(w);
		jw_map_close(w);
	}
	jw_map_close(w);
}

/* ---- verify after create --------------------------------------------------- */

static bool jstrv_equal(yajl_val arr, const strv want)
{
	size_t n = strv_len(want);

	if (!arr || !YAJL_IS_ARRAY(arr))
		return n == 0;
	if (arr->u.array.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		yajl_val e = arr->u.array.values[i];

		if (!YAJL_IS_STRING(e) || strcmp(e->u.string, want[i]) != 0)
			return false;
	}
	return true;
}

static bool jint_is(yajl_val v, const char **path, long long want)
{
	long long got = 0;

	return compat_jint(v, path, &got) ? got == want : want == 0;
}

static bool jstr_is(yajl_val v, const char **path, const char *want)
{
	const char *got = compat_jstr(v, path);

	return (!got || !*got) ? (!want || !*want) : (want && strcmp(got, want) == 0);
}

/* What the engine stored against what was asked, one row per setting the
 * request decides; the first that differs is named. */
static const char *spec_mismatch(yajl_val svc, const struct container_spec *spec)
{
	const struct exec_request *r = spec->req;
	long long cpus = r->cpu_cores > 0 ? llround(r->cpu_cores * 1e9) : 0;
	yajl_val cs = yajl_tree_get(svc, JPATH("Spec", "TaskTemplate", "ContainerSpec"),
	                            yajl_t_object);
	yajl_val res = yajl_tree_get(svc, JPATH("Spec", "TaskTemplate", "Resources"), yajl_t_object);
	yajl_val mode = yajl_tree_get(svc, JPATH("Spec", "Mode", "ReplicatedJob"), yajl_t_object);

	if (!cs)
		return "TaskTemplate.ContainerSpec";
	if (!mode)
		return "Mode.ReplicatedJob";
	if (!jstr_is(svc, JPATH("Spec", "TaskTemplate", "RestartPolicy", "Condition"), "none"))
		return "TaskTemplate.RestartPolicy.Condition";
	if (!jstrv_equal(yajl_tree_get(cs, JPATH("Command"), yajl_t_any), r->entrypoint))
		return "ContainerSpec.Command";
	if (!jstrv_equal(yajl_tree_get(cs, JPATH("Args"), yajl_t_any), r->cmd))
		return "ContainerSpec.Args";
	if (!jstrv_equal(yajl_tree_get(cs, JPATH("Env"), yajl_t_any), r->environment))
		return "ContainerSpec.Env";
	if (!jstr_is(cs, JPATH("Dir"), r->working_directory))
		return "ContainerSpec.Dir";
	if (!jstr_is(cs, JPATH("User"), r->user))
		return "ContainerSpec.User";
	if (compat_jtrue(cs, JPATH("TTY")) != r->tty)
		return "ContainerSpec.TTY";
	if (compat_jtrue(cs, JPATH("ReadOnly")) != r->read_only_rootfs)
		return "ContainerSpec.ReadOnly";
	if (!jstr_is(cs, JPATH("StopSignal"), spec->stop_signal))
		return "ContainerSpec.StopSignal";
	if (!jint_is(cs, JPATH("StopGracePeriod"), (long long)spec->stop_timeout_s * NS_PER_S_))
		return "ContainerSpec.StopGracePeriod";
	if (!jstrv_equal(yajl_tree_get(cs, JPATH("CapabilityAdd"), yajl_t_any), r->cap_add))
		return "ContainerSpec.CapabilityAdd (API 1.41 or later)";
	if (!jstrv_equal(yajl_tree_get(cs, JPATH("CapabilityDrop"), yajl_t_any), r->cap_drop))
		return "ContainerSpec.CapabilityDrop (API 1.41 or later)";
	if (!jint_is(res, JPATH("Limits", "NanoCPUs"), cpus))
		return "Resources.Limits.NanoCPUs";
	if (!jint_is(res, JPATH("Limits", "MemoryBytes"), r->memory_bytes))
		return "Resources.Limits.MemoryBytes";
	if (!jint_is(res, JPATH("Limits", "Pids"), r->pids_limit))
		return "Resources.Limits.Pids (API 1.41 or later)";
	if (!jint_is(res, JPATH("Reservations", "NanoCPUs"), cpus))
		return "Resources.Reservations.NanoCPUs";
	if (!jint_is(res, JPATH("Reservations", "MemoryBytes"), r->memory_bytes))
		return "Resources.Reservations.MemoryBytes";
	if (!jstrv_equal(yajl_tree_get(svc, JPATH("Spec", "TaskTemplate", "Placement", "Constraints"),
	                               yajl_t_any),
	                 r->placement_constraints))
		return "TaskTemplate.Placement.Constraints";
	yajl_val mounts = yajl_tree_get(cs, JPATH("Mounts"), yajl_t_array);
	if ((mounts ? mounts->u.array.len : 0) != r->n_inputs)
		return "ContainerSpec.Mounts";
	for (size_t i = 0; i < r->n_inputs; i++) {
		yajl_val m = mounts->u.array.values[i];

		if (!jstr_is(m, JPATH("Source"), r->inputs[i].source) ||
		    !jstr_is(m, JPATH("Target"), r->inputs[i].target) ||
		    compat_jtrue(m, JPATH("ReadOnly")) != r->inputs[i].read_only)
			return "ContainerSpec.Mounts";
	}
	yajl_val ports = yajl_tree_get(svc, JPATH("Spec", "EndpointSpec", "Ports"), yajl_t_array);
	if ((ports ? ports->u.array.len : 0) != r->n_ports)
		return "EndpointSpec.Ports";
	for (size_t i = 0; i < r->n_ports; i++) {
		yajl_val p = ports->u.array.values[i];

		if (!jint_is(p, JPATH("TargetPort"), r->ports[i].container_port) ||
		    (r->ports[i].host_port &&
		     !jint_is(p, JPATH("PublishedPort"), r->ports[i].host_port)))
			return "EndpointSpec.Ports";
	}
	for (size_t i = 0; spec->labels && spec->labels[i]; i++) {
		const char *eq = strchr(spec->labels[i], '=');
		_cleanup_free_ char *k =
		    eq ? strndup(spec->labels[i], (size_t)(eq - spec->labels[i])) : NULL;

		if (!k || !jstr_is(svc, JPATH("Spec", "Labels", k), eq + 1))
			return "Labels";
	}
	return NULL;
}

static int swarm_container_create(struct runtime *rt, dms_context *ctx,
                                  const struct container_spec *spec, char **id_out,
                                  dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_yajl_tree_ yajl_val stored = NULL;
	_cleanup_free_ char *name = NULL, *path = NULL;
	_cleanup_jw_ struct jw w = {0};
	struct swarm *sw = swarm_of(rt);
	const char *op = "service create", *body, *id, *bad;
	struct http_request req = COMPAT_REQ("POST", "/services/create");
	size_t len;
	int rc;

	if (!spec || !spec->req || !spec->name)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no spec", op);
	if ((rc = request_check_runtime(spec->req, RUNTIME_SWARM, err)) != 0)
		return rc;
	if (spec->network)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "engine_spec.params.network_mode: a job network is not made on a swarm");
	if (!(name = swarm_service_name(spec->name)) || jw_init(&w) != 0)
		return compat_oom(err);
	service_spec(&w, spec, name);
	if ((rc = compat_jw_body(&w, "service spec", &body, &len, err)) != 0)
		return rc;
	req.body = body;
	req.body_len = len;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, name, err)) != 0)
		return rc;
	if (resp.status != 201 && resp.status != 200) {
		/* 400: the engine refused the spec (a bad constraint, say): the
		 * request's fault, not the engine's. 409: the name is taken. */
		rc = compat_http_failure(&resp, COMPAT_CONTAINER, op, name, err);
		if (resp.status == 400 && err && *err)
			(*err)->category = DMS_ERR_INVALID_ARGUMENT;
		return resp.status == 400 ? DMS_ERR_INVALID_ARGUMENT : rc;
	}
	root = compat_parse_json(resp.body.data);
	if (!(id = compat_jstr(root, JPATH("ID"))))
		return compat_bad_json(COMPAT_CONTAINER, op, name, err);
	pthread_mutex_lock(&sw->mu);
	sw->last_create_mono = mono_now_ns();
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->mu);
	/* Verify: the spec as the engine stored it. */
	if (!(path = compat_pathf("/services/%s", id)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, "service inspect", id,
	                              &stored, err)) == 0 &&
	    (bad = spec_mismatch(stored, spec)) != NULL)
		rc = err_engine(err, DMS_ERR_CONTAINER, op, name, NULL,
		                "%s %s: the engine did not apply %s as asked (its stored spec "
		                "differs)",
		                op, name, bad);
	if (rc != 0) {
		compat_delete(rt, NULL, path, COMPAT_CONTAINER, "service remove", id, NULL);
		return rc;
	}
	if (!(*id_out = strdup(id)))
		return compat_oom(err);
	return 0;
}

/* Sleeps ms, or less when ctx ends. */
static int pause_ms(struct swarm *sw, dms_context *ctx, long ms)
{
	int64_t until = mono_now_ns() + ms * NS_PER_MS_;
	int rc = 0;

	pthread_mutex_lock(&sw->mu);
	while (rc == 0 && mono_now_ns() < until)
		rc = ctx_cond_wait(ctx, &sw->cond, &sw->mu, until);
	pthread_mutex_unlock(&sw->mu);
	return ctx_status(ctx);
}

/* The orchestrator starts the task as soon as the service exists; start
 * waits until it runs (or ended), so that a started job is a running one
 * as on the other engines and a task the node refused (no such image)
 * fails the Start, naming the node. It does not wait for a task no node
 * can take (the scheduler said why: the pending timeout is for that), nor
 * longer than SWARM_START_WAIT_NS (a slow pull on the node). */
static int swarm_container_start(struct runtime *rt, dms_context *ctx, const char *id,
                                 dms_error **err)
{
	struct swarm *sw = swarm_of(rt);
	int64_t until = mono_now_ns() + SWARM_START_WAIT_NS;
	long pause = 10;

	for (;;) {
		_cleanup_yajl_tree_ yajl_val tasks = NULL;
		struct swarm_task t;
		int rc;

		dms_error *e = NULL;

		if ((rc = get_tasks(rt, ctx, "service", id, &tasks, &e)) != 0) {
			/* Gone: a short job already harvested (or removed). */
			if (rc == DMS_ERR_NOT_FOUND) {
				err_free(e);
				return 0;
			}
			if (err)
				*err = e;
			else
				err_free(e);
			return rc;
		}
		if (job_task(tasks, id, &t)) {
			if (t.phase == TP_RUNNING || t.phase == TP_DONE)
				return 0;
			if (t.phase == TP_BROKEN) {
				const char *why = t.err && *t.err ? t.err : t.message ? t.message : "";
				bool image = strstr(why, "No such image") || strstr(why, "pull access");

				return err_engine(err, image ? DMS_ERR_IMAGE : DMS_ERR_CONTAINER,
				                  "service start", id, why,
				                  "service start %s: task %s %s on node %s: %s", id, t.id,
				                  t.state, t.node_id ? t.node_id : "(none)",
				                  *why ? why : "the engine gave no reason");
			}
			if (t.phase == TP_WAITING && t.err && *t.err)
				return 0; /* queued: no node fits now */
		}
		if (mono_now_ns() > until)
			return 0;
		if ((rc = pause_ms(sw, ctx, pause)) != 0)
			return err_set(err, rc, "service start %s: %s", id,
			               rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
		pause = pause * 2 > 100 ? 100 : pause * 2;
	}
}

/* ---- inspect, list -------------------------------------------------------- */

/* A stopped job whose service is gone, from what its stop kept. */
static bool inspect_stopped(struct runtime *rt, const char *id, struct container_state *out)
{
	struct swarm *sw = swarm_of(rt);
	struct swarm_stop *s;
	bool found = false;

	pthread_mutex_lock(&sw->mu);
	if ((s = stop_find(sw, id))) {
		found = true;
		*out = (struct container_state){
		    .id = strdup(id),
		    .status = s->done ? CS_EXITED : CS_RUNNING,
		    .exit_code = s->exit_code,
		    .tty = s->tty,
		    .started_at_ns = s->started_at_ns,
		    .finished_at_ns = s->finished_at_ns,
		    .labels = strv_dup(s->labels),
		};
	}
	pthread_mutex_unlock(&sw->mu);
	return found;
}

static int swarm_container_inspect(struct runtime *rt, dms_context *ctx, const char *id,
                                   struct container_state *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val svc = NULL;
	_cleanup_yajl_tree_ yajl_val tasks = NULL;
	_cleanup_free_ char *name = NULL, *esc = NULL, *path = NULL;
	const char *op = "service inspect", *sid;
	struct swarm_task t;
	struct job_view jv;
	int rc;

	*out = (struct container_state){0};
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: no service given", op);
	if (inspect_stopped(rt, id, out))
		return 0;
	if (!(name = swarm_service_name(id)) || !(esc = compat_path_escape(name)) ||
	    !(path = compat_pathf("/services/%s", esc)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, id, &svc, err)) != 0)
		return rc;
	if (!(sid = compat_jstr(svc, JPATH("ID"))))
		return compat_bad_json(COMPAT_CONTAINER, op, id, err);
	if ((rc = get_tasks(rt, ctx, "service", sid, &tasks, err)) != 0)
		return rc;
	out->id = strdup(sid);
	out->name = compat_strdup_or_null(compat_jstr(svc, JPATH("Spec", "Name")));
	out->labels = compat_labels_from_json(yajl_tree_get(svc, JPATH("Spec", "Labels"),
	                                                    yajl_t_object));
	out->tty = compat_jtrue(svc, JPATH("Spec", "TaskTemplate", "ContainerSpec", "TTY"));
	out->status = CS_RUNNING; /* no task yet: the orchestrator makes it */
	out->exit_code = -1;
	if (job_task(tasks, sid, &t)) {
		job_judge(rt, ctx, &t, &jv);
		out->status = jv.status;
		out->exit_code = jv.exit_code;
		out->failure = jv.failure;
		out->started_at_ns = jv.started_at_ns;
		out->finished_at_ns = jv.finished_at_ns;
		if (jv.error[0])
			out->error = strdup(jv.error);
	}
	if (!out->id || !out->labels) {
		container_state_free(out);
		return compat_oom(err);
	}
	return 0;
}

static int swarm_container_list(struct runtime *rt, dms_context *ctx, const char *label,
                                struct container_summary **out, size_t *n, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val svcs = NULL;
	_cleanup_yajl_tree_ yajl_val tasks = NULL;
	_cleanup_free_ char *f = NULL, *path = NULL;
	struct container_summary *v;
	int rc;

	*out = NULL;
	*n = 0;
	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "service list: no label given");
	if (!(f = filter_query("label", label)) || !(path = compat_pathf("/services?filters=%s", f)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, "service list", label, &svcs,
	                              err)) != 0)
		return rc;
	if (!YAJL_IS_ARRAY(svcs))
		return compat_bad_json(COMPAT_CONTAINER, "service list", label, err);
	if ((rc = get_tasks(rt, ctx, "label", label, &tasks, err)) != 0)
		return rc;
	if (svcs->u.array.len == 0)
		return 0;
	if (!(v = calloc(svcs->u.array.len, sizeof(*v))))
		return compat_oom(err);
	for (size_t i = 0; i < svcs->u.array.len; i++) {
		yajl_val s = svcs->u.array.values[i];
		const char *sid = compat_jstr(s, JPATH("ID"));
		struct swarm_task t;
		struct job_view jv = {.status = CS_RUNNING};

		if (!sid)
			continue;
		if (job_task(tasks, sid, &t))
			job_judge(rt, ctx, &t, &jv);
		v[*n].id = strdup(sid);
		v[*n].name = compat_strdup_or_null(compat_jstr(s, JPATH("Spec", "Name")));
		v[*n].status = jv.status;
		v[*n].labels =
		    compat_labels_from_json(yajl_tree_get(s, JPATH("Spec", "Labels"), yajl_t_object));
		if (!v[(*n)++].id || !v[*n - 1].labels) {
			container_summaries_free(v, *n);
			*n = 0;
			return compat_oom(err);
		}
	}
	*out = v;
	return 0;
}

/* ---- remove, kill ------------------------------------------------------------ */

static int delete_service(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err)
{
	_cleanup_free_ char *esc = compat_path_escape(id);
	_cleanup_free_ char *path = esc ? compat_pathf("/services/%s", esc) : NULL;

	if (!path)
		return compat_oom(err);
	return compat_delete(rt, ctx, path, COMPAT_CONTAINER, "service remove", id, err);
}

static int swarm_container_remove(struct runtime *rt, dms_context *ctx, const char *id, bool force,
                                  dms_error **err)
{
	struct swarm *sw = swarm_of(rt);
	struct swarm_stop *s = NULL;
	_cleanup_free_ char *name = NULL;

	(void)force;
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "service remove: no service given");
	pthread_mutex_lock(&sw->mu);
	for (struct swarm_stop **p = &sw->stops; *p; p = &(*p)->next)
		if (strcmp((*p)->service_id, id) == 0) {
			s = *p;
			*p = s->next;
			break;
		}
	pthread_mutex_unlock(&sw->mu);
	if (s) {
		ctx_cancel(s->ctx);
		stop_free(s);
	}
	if (!(name = swarm_service_name(id)))
		return compat_oom(err);
	return delete_service(rt, ctx, name, err);
}

/* A yajl tree as JSON, for a spec sent back (numbers as the engine wrote
 * them: integers stay integers). `skip`: a member of the object at depth
 * 1 not written (the caller writes its own). */
static void jw_tree(struct jw *w, yajl_val v, const char *skip_under, const char *skip,
                    void (*own)(struct jw *w), int depth, bool under)
{
	if (!v || YAJL_IS_NULL(v)) {
		jw_null(w);
	} else if (YAJL_IS_STRING(v)) {
		jw_str(w, v->u.string);
	} else if (YAJL_IS_INTEGER(v)) {
		jw_int(w, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_DOUBLE(v)) {
		jw_double(w, YAJL_GET_DOUBLE(v));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		jw_bool(w, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_ARRAY(v)) {
		jw_array_open(w);
		for (size_t i = 0; i < v->u.array.len; i++)
			jw_tree(w, v->u.array.values[i], NULL, NULL, NULL, depth + 1, false);
		jw_array_close(w);
	} else if (YAJL_IS_OBJECT(v)) {
		jw_map_open(w);
		for (size_t i = 0; i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];
			bool here = depth == 0 && skip_under && strcmp(k, skip_under) == 0;

			if (under && strcmp(k, skip) == 0)
				continue;
			jw_key(w, k);
			jw_tree(w, v->u.object.values[i], NULL, skip, NULL, depth + 1, here);
		}
		if (under && own)
			own(w);
		jw_map_close(w);
	}
}

static void stop_placement(struct jw *w)
{
	jw_key(w, "Placement");
	jw_map_open(w);
	jw_key(w, "Constraints");
	jw_array_open(w);
	jw_str(w, SWARM_STOP_CONSTRAINT);
	jw_array_close(w);
	jw_map_close(w);
}

/* The stop itself: an update whose placement no node satisfies. For a
 * job, an update is a new iteration: the agent stops the old task (its
 * StopSignal, SIGKILL after StopGracePeriod) and the new one waits for a
 * node for ever, never running. (Removing the service would not do: on
 * dockerd 20.10 a job's running task outlives its service's removal.) */
static int stop_service(struct runtime *rt, dms_context *ctx, const char *id, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val svc = NULL;
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = compat_path_escape(id), *path = NULL, *upath = NULL;
	_cleanup_jw_ struct jw w = {0};
	const char *op = "service stop", *body;
	struct http_request req;
	long long version;
	size_t len;
	int rc;

	if (!esc || !(path = compat_pathf("/services/%s", esc)) || jw_init(&w) != 0)
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_CONTAINER, op, id, &svc, err)) != 0)
		return rc;
	yajl_val spec = yajl_tree_get(svc, JPATH("Spec"), yajl_t_object);
	if (!spec || !compat_jint(svc, JPATH("Version", "Index"), &version))
		return compat_bad_json(COMPAT_CONTAINER, op, id, err);
	jw_tree(&w, spec, "TaskTemplate", "Placement", stop_placement, 0, false);
	if ((rc = compat_jw_body(&w, "service spec", &body, &len, err)) != 0)
		return rc;
	if (!(upath = compat_pathf("/services/%s/update?version=%lld", esc, version)))
		return compat_oom(err);
	req = COMPAT_REQ("POST", upath);
	req.body = body;
	req.body_len = len;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status == 404)
		return 0; /* gone already */
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
	return 0;
}

/* The stop (runtime.h's container_kill, for any signal): a swarm has no
 * signal API. The agent stops a task whose service is removed with its
 * StopSignal, then SIGKILL after StopGracePeriod — the request's stop
 * signal and grace. Before the removal a follower is attached to the
 * task's log, so that what the job writes until its container is gone (a
 * TERM trap's last words) is kept for the harvest. A second call is a
 * no-op: the agent sends the SIGKILL itself. */
static int swarm_container_kill(struct runtime *rt, dms_context *ctx, const char *id,
                                const char *signal, dms_error **err)
{
	struct swarm *sw = swarm_of(rt);
	struct container_state st = {0};
	_cleanup_yajl_tree_ yajl_val tasks = NULL;
	struct swarm_stop *s;
	struct swarm_task t;
	int rc;

	(void)signal;
	pthread_mutex_lock(&sw->mu);
	s = stop_find(sw, id);
	pthread_mutex_unlock(&sw->mu);
	if (s)
		return 0;
	if ((rc = swarm_container_inspect(rt, ctx, id, &st, err)) != 0)
		return rc;
	if (!(s = calloc(1, sizeof(*s))) || !(s->service_id = strdup(st.id)) ||
	    !(s->labels = strv_dup(st.labels)) || !(s->ctx = ctx_new(0))) {
		container_state_free(&st);
		stop_free(s);
		return compat_oom(err);
	}
	s->rt = rt;
	s->exit_code = -1;
	s->tty = st.tty;
	s->started_at_ns = st.started_at_ns;
	container_state_free(&st);
	if (get_tasks(rt, ctx, "service", s->service_id, &tasks, NULL) == 0 &&
	    job_task(tasks, s->service_id, &t) && t.phase >= TP_STARTING && t.phase <= TP_RUNNING)
		s->task_id = strdup(t.id);
	pthread_mutex_lock(&sw->mu);
	if (stop_find(sw, s->service_id)) { /* a concurrent stop won */
		pthread_mutex_unlock(&sw->mu);
		stop_free(s);
		return 0;
	}
	s->next = sw->stops;
	sw->stops = s;
	if (!s->task_id || pthread_create(&s->thread, NULL, stop_main, s) != 0) {
		s->done = s->attached = true;
		s->finished_at_ns = wall_now_ns();
	} else {
		s->has_thread = true;
	}
	int64_t until = mono_now_ns() + SWARM_STOP_ATTACH_NS;
	while (!s->attached && ctx_cond_wait(NULL, &sw->cond, &sw->mu, until) == 0)
		;
	pthread_mutex_unlock(&sw->mu);
	return stop_service(rt, ctx, s->service_id, err);
}

static int swarm_container_stop(struct runtime *rt, dms_context *ctx, const char *id, int timeout_s,
                                dms_error **err)
{
	(void)timeout_s; /* the service's StopGracePeriod */
	return swarm_container_kill(rt, ctx, id, NULL, err);
}

/* ---- logs ---------------------------------------------------------------- */

/* The id of the job task of service id (NULL: none yet). */
static int job_task_id(struct runtime *rt, dms_context *ctx, const char *id, char **task_id,
                       bool *ended, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val tasks = NULL;
	struct swarm_task t;
	struct job_view jv;
	int rc;

	*task_id = NULL;
	*ended = false;
	if ((rc = get_tasks(rt, ctx, "service", id, &tasks, err)) != 0)
		return rc;
	if (!job_task(tasks, id, &t))
		return 0;
	job_judge(rt, ctx, &t, &jv);
	*ended = jv.status == CS_EXITED;
	if (t.phase == TP_WAITING || jv.failure)
		return 0; /* nothing ran, or where it ran is gone */
	return (*task_id = strdup(t.id)) ? 0 : compat_oom(err);
}

static int task_logs_read(struct runtime *rt, dms_context *ctx, const char *task_id,
                          bool timestamps, runtime_log_fn fn, void *ud, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *path = compat_pathf("/tasks/%s/logs?stdout=1&stderr=1%s", task_id,
	                                         timestamps ? "&timestamps=1" : "");
	struct http_request req = COMPAT_REQ("GET", path);
	int rc;

	if (!path)
		return compat_oom(err);
	req.timeout_ms = -1;
	req.on_data = fn;
	req.user_data = ud;
	if ((rc = compat_call(rt, ctx, &req, &resp, "task logs", task_id, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_CONTAINER, "task logs", task_id, err);
	return 0;
}

/* A follow made of whole non-follow reads (the engine's own follow never
 * ends, moby#36626): each read passes on, per stream, only the bytes
 * beyond those already sent; the read after the task ended is the last. */
struct sfollow {
	runtime_log_fn fn;
	void *ud;
	bool tty, stopped, broken;
	uint64_t sent[3], pos[3];
	struct compat_stamped parser;
};

static void sfollow_record(void *ud, int stream, const char *stamp, size_t len)
{
	(void)ud, (void)stream, (void)stamp, (void)len;
}

static int sfollow_payload(void *ud, int s, const char *data, size_t n)
{
	struct sfollow *f = ud;
	uint64_t start = f->pos[s], cut;

	f->pos[s] += n;
	if (f->pos[s] <= f->sent[s])
		return 0;
	cut = f->sent[s] > start ? f->sent[s] - start : 0;
	f->sent[s] = f->pos[s];
	if (compat_log_frame(f->fn, f->ud, f->tty, s, data + cut, n - (size_t)cut) != 0)
		return f->stopped = true, 1;
	return 0;
}

static int sfollow_data(void *ud, const char *data, size_t len)
{
	struct sfollow *f = ud;

	return compat_stamped_feed(&f->parser, f->tty, &f->broken, data, len, sfollow_record,
	                           sfollow_payload, f);
}

/* What a stop kept, once its follower is done; false: no stop. */
static bool logs_from_stop(struct runtime *rt, dms_context *ctx, const char *id, runtime_log_fn fn,
                           void *ud, int *rc)
{
	struct swarm *sw = swarm_of(rt);
	struct swarm_stop *s;
	struct buf copy = {0};

	pthread_mutex_lock(&sw->mu);
	while ((s = stop_find(sw, id)) && !s->done)
		if ((*rc = ctx_cond_wait(ctx, &sw->cond, &sw->mu, INT64_MAX)) != 0)
			break;
	if (s && s->done)
		buf_append(&copy, s->log.data, s->log.len);
	pthread_mutex_unlock(&sw->mu);
	if (!s)
		return false;
	*rc = ctx_status(ctx);
	if (*rc == 0 && copy.len)
		fn(ud, copy.data, copy.len);
	buf_free(&copy);
	return true;
}

static int swarm_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                                const struct log_options *opts, runtime_log_fn fn, void *ud,
                                dms_error **err)
{
	struct swarm *sw = swarm_of(rt);
	struct sfollow f = {.fn = fn, .ud = ud};
	long pause = 50;
	int rc = 0;

	if (!id || !*id || !opts || !fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "task logs: needs a service and a sink");
	for (;;) {
		_cleanup_free_ char *task = NULL;
		struct container_state st = {0};
		bool ended;

		if (logs_from_stop(rt, ctx, id, fn, ud, &rc))
			return rc;
		if ((rc = swarm_container_inspect(rt, ctx, id, &st, err)) != 0)
			return rc;
		f.tty = st.tty;
		container_state_free(&st);
		if ((rc = job_task_id(rt, ctx, id, &task, &ended, err)) != 0)
			return rc;
		if (task && !opts->follow)
			return task_logs_read(rt, ctx, task, false, fn, ud, err);
		if (task) {
			memset(f.pos, 0, sizeof(f.pos));
			compat_stamped_reset(&f.parser);
			rc = task_logs_read(rt, ctx, task, !f.tty, sfollow_data, &f, err);
			if (rc == 0 && f.broken)
				rc = compat_logs_not_frames(id, err);
			if (f.stopped || rc != 0)
				return f.stopped ? 0 : rc;
		}
		if (ended || !opts->follow)
			return 0;
		if ((rc = pause_ms(sw, ctx, pause)) != 0)
			return err_set(err, rc, "task logs %s: %s", id,
			               rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
}

/* ---- events: the one task poll ---------------------------------------------- */

/* Services seen by the poll, and whether their end was reported. */
struct seen {
	char *id;
	char *execution_id;
	bool reported;
	bool present; /* in this tick's list */
};

struct poll_state {
	struct seen *v;
	size_t n, cap;
};

static struct seen *seen_get(struct poll_state *ps, const char *id, const char *exec_id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].id, id) == 0)
			return &ps->v[i];
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 32;
		struct seen *v = realloc(ps->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n] = (struct seen){.id = strdup(id), .execution_id = compat_strdup_or_null(exec_id)};
	if (!ps->v[ps->n].id)
		return NULL;
	return &ps->v[ps->n++];
}

static void poll_state_free(struct poll_state *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].id);
		free(ps->v[i].execution_id);
	}
	free(ps->v);
}

/* The stops: a follower whose task is gone is ended a moment later; a
 * finished stop is the job's end. Under sw->mu. Returns whether the stop
 * of sid is done (*has: there is one). */
static bool stop_tick(struct swarm *sw, const char *sid, yajl_val tasks, int64_t now, bool *has)
{
	struct swarm_stop *s = stop_find(sw, sid);
	bool task_live = false;

	*has = s != NULL;
	if (!s)
		return false;
	for (size_t i = 0; s->task_id && tasks && i < tasks->u.array.len; i++) {
		struct swarm_task t;

		task_read(tasks->u.array.values[i], &t);
		if (!t.id || strcmp(t.id, s->task_id) != 0)
			continue;
		task_live = t.phase < TP_DONE;
		if (t.has_exit && t.exit_code >= 0) /* -1 while it is being stopped */
			s->exit_code = (int)t.exit_code;
		if (t.phase >= TP_DONE && t.timestamp_ns)
			s->finished_at_ns = t.timestamp_ns;
	}
	if (getenv("SWARMRT_DEBUG"))
		fprintf(stderr, "stop_tick %s live=%d done=%d gone=%lld exit=%d\n", sid, task_live, s->done, (long long)s->gone_mono_ns, s->exit_code);
	if (!s->done && !task_live) {
		if (!s->gone_mono_ns)
			s->gone_mono_ns = now;
		else if (now - s->gone_mono_ns > SWARM_STOP_SETTLE_NS)
			ctx_cancel(s->ctx);
	}
	return s->done;
}

static int swarm_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                        runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err)
{
	struct swarm *sw = swarm_of(rt);
	struct poll_state ps = {0};
	int64_t interval = SWARM_POLL_FAST_NS;
	bool first = true;
	int rc = 0;

	(void)since_ns; /* each poll is the whole state */
	for (;;) {
		_cleanup_yajl_tree_ yajl_val tasks = NULL;
		int64_t now = mono_now_ns(), wall = wall_now_ns();
		bool young = false;

		if ((rc = ctx_status(ctx)) != 0)
			break;
		if ((rc = get_tasks(rt, ctx, "label", label, &tasks, err)) != 0) {
			rc = DMS_ERR_RUNTIME_UNAVAILABLE;
			break;
		}
		if (first && ready)
			ready(ud);
		first = false;
		for (size_t i = 0; i < ps.n; i++)
			ps.v[i].present = false;
		/* Each service's job task, once per service. */
		for (size_t i = 0; i < tasks->u.array.len; i++) {
			struct swarm_task t;
			struct job_view jv;
			struct seen *se;
			const char *exec_id;
			bool has_stop, stop_done;

			task_read(tasks->u.array.values[i], &t);
			if (!t.service_id)
				continue;
			exec_id = compat_jstr(t.v, JPATH("Spec", "ContainerSpec", "Labels",
			                                  LABEL_EXECUTION));
			if (!(se = seen_get(&ps, t.service_id, exec_id)))
				continue;
			if (se->present)
				continue;
			se->present = true;
			if (!job_task(tasks, t.service_id, &t) || se->reported)
				continue;
			job_judge(rt, ctx, &t, &jv);
			/* A stopped job's task stays listed once it ended (its
			 * service is gone): its end ends the follower. */
			pthread_mutex_lock(&sw->mu);
			stop_done = stop_tick(sw, t.service_id, tasks, now, &has_stop);
			pthread_mutex_unlock(&sw->mu);
			if (has_stop && !stop_done) {
				young = true;
				continue;
			}
			if (jv.status != CS_EXITED && !has_stop) {
				young = young || (t.created_ns && wall - t.created_ns < SWARM_YOUNG_NS);
				continue;
			}
			se->reported = true;
			struct runtime_event ev = {.kind = RT_EV_DIE,
			                           .container_id = t.service_id,
			                           .execution_id = se->execution_id,
			                           .exit_code = jv.exit_code,
			                           .time_ns = jv.finished_at_ns ? jv.finished_at_ns : wall};
			if (fn(ud, &ev) != 0)
				goto out;
		}
		/* Services gone from the list: a stop that is done, or removed
		 * (harvested, Cleanup, or from outside). */
		for (size_t i = 0; i < ps.n;) {
			struct seen *se = &ps.v[i];
			bool has_stop = false, stop_done = false;

			if (se->present) {
				i++;
				continue;
			}
			pthread_mutex_lock(&sw->mu);
			stop_done = stop_tick(sw, se->id, tasks, now, &has_stop);
			pthread_mutex_unlock(&sw->mu);
			if (has_stop && !stop_done) {
				young = true; /* look again soon */
				i++;
				continue;
			}
			if (!se->reported) {
				struct runtime_event ev = {.kind = has_stop ? RT_EV_DIE : RT_EV_DESTROY,
				                           .container_id = se->id,
				                           .execution_id = se->execution_id,
				                           .exit_code = -1,
				                           .time_ns = wall};
				if (fn(ud, &ev) != 0)
					goto out;
			}
			if (has_stop) { /* keep it until its end was reported */
				se->reported = true;
				i++;
				continue;
			}
			free(se->id);
			free(se->execution_id);
			ps.v[i] = ps.v[--ps.n];
		}
		pthread_mutex_lock(&sw->mu);
		young = young || now - sw->last_create_mono < SWARM_YOUNG_NS;
		pthread_mutex_unlock(&sw->mu);
		interval = young ? SWARM_POLL_FAST_NS
		                 : (interval * 2 > SWARM_POLL_SLOW_NS ? SWARM_POLL_SLOW_NS : interval * 2);
		/* Sleep until the next tick, or a create (a new job to watch). */
		int64_t until = now + interval, created;
		pthread_mutex_lock(&sw->mu);
		created = sw->last_create_mono;
		while (ctx_status(ctx) == 0 && mono_now_ns() < until &&
		       sw->last_create_mono == created)
			if (ctx_cond_wait(ctx, &sw->cond, &sw->mu, until) != 0)
				break;
		pthread_mutex_unlock(&sw->mu);
		if (sw->last_create_mono != created)
			interval = SWARM_POLL_FAST_NS;
	}
out:
	poll_state_free(&ps);
	if (rc == DMS_ERR_RUNTIME_UNAVAILABLE)
		return rc;
	return rc ? err_set(err, rc, "task poll: %s", rc == DMS_ERR_CANCELLED ? "cancelled" : "ended")
	          : 0;
}

/* ---- networks and configs --------------------------------------------------- */

static int swarm_object_list(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                             const char *label, strv *out, dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *f = NULL, *path = NULL;
	struct compat_strv b = {0};
	int rc;

	if (kind != RT_OBJ_VOLUME)
		return compat_object_list(rt, ctx, kind, label, out, err);
	/* A swarm's third kind of object is the config (no cluster volumes
	 * in API 1.41). */
	if (!label || !*label)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "config list: no label given");
	if (!(f = filter_query("label", label)) || !(path = compat_pathf("/configs?filters=%s", f)))
		return compat_oom(err);
	if ((rc = compat_get_api_json(rt, ctx, path, COMPAT_VOLUME, "config list", label, &root,
	                              err)) != 0)
		return rc;
	for (size_t i = 0; YAJL_IS_ARRAY(root) && i < root->u.array.len; i++) {
		const char *id = compat_jstr(root->u.array.values[i], JPATH("ID"));

		if (id)
			compat_strv_add(&b, strdup(id));
	}
	return (*out = compat_strv_finish(&b)) ? 0 : compat_oom(err);
}

static int swarm_object_remove(struct runtime *rt, dms_context *ctx, enum runtime_object kind,
                               const char *id, dms_error **err)
{
	_cleanup_free_ char *esc = NULL, *path = NULL;

	if (kind == RT_OBJ_CONTAINER)
		return swarm_container_remove(rt, ctx, id, true, err);
	if (kind == RT_OBJ_NETWORK)
		return compat_object_remove(rt, ctx, kind, id, err);
	if (!id || !*id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "config remove: nothing named");
	if (!(esc = compat_path_escape(id)) || !(path = compat_pathf("/configs/%s", esc)))
		return compat_oom(err);
	return compat_delete(rt, ctx, path, COMPAT_VOLUME, "config remove", id, err);
}

static int swarm_object_list_services(struct runtime *rt, dms_context *ctx,
                                      enum runtime_object kind, const char *label, strv *out,
                                      dms_error **err)
{
	struct container_summary *v = NULL;
	struct compat_strv b = {0};
	size_t n = 0;
	int rc;

	if (kind != RT_OBJ_CONTAINER)
		return swarm_object_list(rt, ctx, kind, label, out, err);
	if ((rc = swarm_container_list(rt, ctx, label, &v, &n, err)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		compat_strv_add(&b, strdup(v[i].id));
	container_summaries_free(v, n);
	return (*out = compat_strv_finish(&b)) ? 0 : compat_oom(err);
}

static int swarm_network_create(struct runtime *rt, dms_context *ctx, const char *name,
                                const strv labels, bool internal, char **id_out,
                                dms_error **err)
{
	(void)rt, (void)ctx, (void)labels, (void)internal, (void)id_out;
	return err_set(err, DMS_ERR_INVALID_ARGUMENT,
	               "network %s: a job network is not made on a swarm (docs/swarm.md)", name);
}

static int swarm_volume_create(struct runtime *rt, dms_context *ctx, const char *name,
                               const strv labels, dms_error **err)
{
	(void)rt, (void)ctx, (void)labels;
	return err_set(err, DMS_ERR_INVALID_ARGUMENT,
	               "volume %s: a volume would be made on one node only (docs/swarm.md)", name);
}

const struct runtime_ops swarm_runtime_ops = {
    .struct_size = sizeof(struct runtime_ops),
    .kind = RUNTIME_SWARM,
    .open = swarm_open,
    .close = swarm_close,
    .ping = swarm_ping,
    .image_present = swarm_image_present,
    .image_pull = swarm_image_pull,
    .image_import = NULL, /* into one node's engine only: refused (image_pull.c) */
    .container_create = swarm_container_create,
    .container_start = swarm_container_start,
    .container_stop = swarm_container_stop,
    .container_kill = swarm_container_kill,
    .container_remove = swarm_container_remove,
    .container_inspect = swarm_container_inspect,
    .container_list = swarm_container_list,
    .container_logs = swarm_container_logs,
    .events = swarm_events,
    .network_create = swarm_network_create,
    .volume_create = swarm_volume_create,
    .object_list = swarm_object_list_services,
    .object_remove = swarm_object_remove,
    .open_config = swarm_open_config,
};
