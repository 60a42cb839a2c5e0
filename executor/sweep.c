/* sweep.c — the scoped orphan sweep: every `sweep_interval` (0, the
 * default, is off), the janitor lists the containers, networks and volumes
 * labelled org.dms.executor=<this executor's id> and removes those that no
 * handler tracks once they have stayed untracked for `sweep_grace`. With
 * `sweep_dry_run` it only says (on stderr, which dms-host keeps in its log)
 * what it would remove.
 *
 * Why it exists: a crash, an engine failure mid-Start or a removal that
 * failed can leave labelled objects behind that neither recovery (which
 * adopts containers of known executions) nor Cleanup (which runs only when
 * asked) ever reaches.
 *
 * Scope is the whole point: the engine filters on our label, and nothing
 * without it — another executor's object, a container someone started by
 * hand — is ever listed, let alone removed.
 *
 * Age is measured here, from the first pass that saw the object untracked,
 * rather than from the engine's creation time: it needs no trust in the
 * engine's clock, and an object a Start is creating right now is tracked
 * (its handler is registered before the engine is called) or, at worst,
 * seen untracked for less than the grace. After a restart the grace starts
 * again, which only delays a removal. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "executor_internal.h"
#include "labels.h"
#include "sweep.h"

#define NS_PER_MS 1000000ll

struct seen {
	enum runtime_object kind;
	char *id;
	int64_t first_ns; /* monotonic: the first pass that saw it untracked */
	bool present;     /* seen (or not listable) in this pass */
};

struct sweep {
	pthread_mutex_t mu; /* one pass at a time; guards everything below */
	int64_t next_ns;    /* monotonic; 0: at the first tick */
	struct seen *seen;
	size_t n, cap;
	struct sweep_report last;
};

static const char *const kind_names[] = {"container", "network", "volume"};

static struct sweep *sweep_of(struct dms_executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	if (!ex->sweep && (ex->sweep = calloc(1, sizeof(*ex->sweep))))
		pthread_mutex_init(&ex->sweep->mu, NULL);
	struct sweep *s = ex->sweep;
	pthread_mutex_unlock(&ex->mu);
	return s;
}

void sweep_free(struct sweep *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->seen[i].id);
	free(s->seen);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The entry for (kind, id), added (first seen now) when new; NULL when out
 * of memory (then the object is simply not considered this pass). */
static struct seen *remember(struct sweep *s, enum runtime_object kind, const char *id, int64_t now)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->seen[i].kind == kind && strcmp(s->seen[i].id, id) == 0)
			return &s->seen[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct seen *g = realloc(s->seen, cap * sizeof(*g));
		if (!g)
			return NULL;
		s->seen = g;
		s->cap = cap;
	}
	char *copy = strdup(id);
	if (!copy)
		return NULL;
	s->seen[s->n] = (struct seen){.kind = kind, .id = copy, .first_ns = now};
	return &s->seen[s->n++];
}

/* An untracked object of ours: removed (or reported) once past the grace. */
static void consider(struct dms_executor *ex, struct sweep *s, enum runtime_object kind,
                     const char *id, const char *execution, int64_t now, struct sweep_report *r)
{
	struct seen *e = remember(s, kind, id, now);
	if (!e)
		return;
	e->present = true;
	r->untracked++;
	int64_t age_ms = (now - e->first_ns) / NS_PER_MS;
	if (age_ms < ex->cfg->sweep_grace_ms)
		return;
	if (ex->cfg->sweep_dry_run) {
		r->would_remove++;
		fprintf(stderr,
		        "dms-executor %s: sweep (dry run): would remove %s %s (execution %s), "
		        "untracked for %llds\n",
		        ex->id, kind_names[kind], id, execution ? execution : "?",
		        (long long)(age_ms / 1000));
		return;
	}
	dms_error *err = NULL;
	int rc = kind == RT_OBJ_CONTAINER
	             ? ex->rt_ops->container_remove(ex->rt, ex->life, id, true, &err)
	             : ex->rt_ops->object_remove(ex->rt, ex->life, kind, id, &err);
	if (rc == 0) {
		r->removed++;
		fprintf(stderr,
		        "dms-executor %s: sweep: removed %s %s (execution %s), untracked "
		        "for %llds\n",
		        ex->id, kind_names[kind], id, execution ? execution : "?",
		        (long long)(age_ms / 1000));
	} else {
		/* In use (a network with endpoints), or the engine is gone: the
		 * next pass tries again. */
		r->failed++;
		fprintf(stderr, "dms-executor %s: sweep: cannot remove %s %s: %s\n", ex->id,
		        kind_names[kind], id, err && err->message ? err->message : "?");
	}
	err_free(err);
}

/* The engine could not list a kind: keep what we knew of it, so that a
 * flaky engine does not restart the grace periods. */
static void keep_kind(struct sweep *s, enum runtime_object kind)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->seen[i].kind == kind)
			s->seen[i].present = true;
}

static void sweep_containers(struct dms_executor *ex, struct sweep *s, int64_t now,
                             struct sweep_report *r)
{
	struct container_summary *cs = NULL;
	size_t n = 0;
	if (ex->rt_ops->container_list(ex->rt, ex->life, ex->label, &cs, &n, NULL) != 0) {
		keep_kind(s, RT_OBJ_CONTAINER);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *owner = executor_label_value(cs[i].labels, LABEL_EXECUTOR);
		const char *exec_id = executor_label_value(cs[i].labels, LABEL_EXECUTION);
		if (!cs[i].id || !owner || strcmp(owner, ex->id) != 0)
			continue; /* the filter says ours; never trust it to remove */
		struct handler *h = exec_id ? registry_get(ex->reg, exec_id) : NULL;
		if (h)
			handler_unref(h);
		else
			consider(ex, s, RT_OBJ_CONTAINER, cs[i].id, exec_id, now, r);
	}
	container_summaries_free(cs, n);
}

struct exec_ids {
	strv v;
	size_t n;
	bool failed;
};

static bool collect_exec_id(void *ud, struct handler *h)
{
	struct exec_ids *e = ud;
	strv g = realloc(e->v, (e->n + 2) * sizeof(*g));
	if (!g) {
		e->failed = true;
		return false; /* false: keep the handler (registry_foreach) */
	}
	e->v = g;
	if (!(g[e->n] = strdup(h->execution_id))) { /* still NULL-terminated */
		e->failed = true;
		return false;
	}
	g[++e->n] = NULL;
	return false;
}

static bool strv_contains(strv v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Networks and volumes: the engine lists ids (names for volumes) without
 * labels, so an object is tracked when a listing by a live execution's
 * label returns it. Those listings are made only when there is something
 * of ours to judge, which is rare. */
static void sweep_objects(struct dms_executor *ex, struct sweep *s, enum runtime_object kind,
                          int64_t now, struct sweep_report *r)
{
	strv ours = NULL;
	if (ex->rt_ops->object_list(ex->rt, ex->life, kind, ex->label, &ours, NULL) != 0) {
		keep_kind(s, kind);
		return;
	}
	if (!ours || !ours[0]) {
		strv_free(ours);
		return;
	}
	struct exec_ids live = {0};
	registry_foreach(ex->reg, collect_exec_id, &live);
	strv tracked = NULL;
	size_t n_tracked = 0;
	bool unsure = live.failed;
	for (size_t i = 0; !unsure && i < live.n; i++) {
		char *label = NULL;
		strv theirs = NULL;
		if (asprintf(&label, "%s=%s", LABEL_EXECUTION, live.v[i]) < 0 ||
		    ex->rt_ops->object_list(ex->rt, ex->life, kind, label, &theirs, NULL) != 0) {
			unsure = true;
		} else {
			for (size_t j = 0; theirs && theirs[j]; j++) {
				char *copy = strdup(theirs[j]);
				strv g =
				    copy ? realloc(tracked, (n_tracked + 2) * sizeof(*g)) : NULL;
				if (!g) {
					free(copy);
					unsure = true;
					break;
				}
				tracked = g;
				tracked[n_tracked++] = copy;
				tracked[n_tracked] = NULL;
			}
		}
		free(label);
		strv_free(theirs);
	}
	if (unsure) { /* better nothing than a live job's network */
		keep_kind(s, kind);
	} else {
		for (size_t i = 0; ours[i]; i++)
			if (!strv_contains(tracked, ours[i]))
				consider(ex, s, kind, ours[i], NULL, now, r);
	}
	strv_free(tracked);
	strv_free(live.v);
	strv_free(ours);
}

void sweep_pass(struct dms_executor *ex, int64_t now_ns)
{
	struct sweep *s = sweep_of(ex);
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	struct sweep_report r = {.passes = s->last.passes + 1};
	for (size_t i = 0; i < s->n; i++)
		s->seen[i].present = false;
	sweep_containers(ex, s, now_ns, &r);
	if (RT_HAS(ex->rt_ops, object_list) && RT_HAS(ex->rt_ops, object_remove)) {
		sweep_objects(ex, s, RT_OBJ_NETWORK, now_ns, &r);
		sweep_objects(ex, s, RT_OBJ_VOLUME, now_ns, &r);
	}
	/* Forget what is gone or tracked again: its grace starts anew. */
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->seen[i].present)
			s->seen[k++] = s->seen[i];
		else
			free(s->seen[i].id);
	}
	s->n = k;
	s->last = r;
	pthread_mutex_unlock(&s->mu);
}

void sweep_tick(struct dms_executor *ex, int64_t now_ns, int64_t *next_ns)
{
	int64_t interval_ns = ex->cfg->sweep_interval_ms * NS_PER_MS;
	if (interval_ns <= 0)
		return;
	struct sweep *s = sweep_of(ex);
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	bool due = s->next_ns <= now_ns;
	if (due)
		s->next_ns = now_ns + interval_ns;
	int64_t next = s->next_ns;
	pthread_mutex_unlock(&s->mu);
	if (due)
		sweep_pass(ex, now_ns);
	if (next < *next_ns)
		*next_ns = next;
}

struct sweep_report sweep_last_report(struct dms_executor *ex)
{
	struct sweep *s = sweep_of(ex);
	struct sweep_report r = {0};
	if (s) {
		pthread_mutex_lock(&s->mu);
		r = s->last;
		pthread_mutex_unlock(&s->mu);
	}
	return r;
}
