/* registry.c — the executor's handlers by execution id: a chained hash
 * table under one mutex. The registry holds one reference per handler;
 * lookups hand out their own. Retired handlers are removed, so its size
 * follows the live and retained executions, not every job ever run. */
#include <stdlib.h>
#include <string.h>

#include "handler.h"

#define REGISTRY_MIN_BUCKETS 64u

struct registry {
	pthread_mutex_t mu;
	struct handler **buckets;
	size_t nbuckets;
	size_t count;
};

static size_t hash_id(const char *s)
{
	size_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct registry *registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->nbuckets = REGISTRY_MIN_BUCKETS;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nbuckets; i++) {
		while (r->buckets[i]) {
			struct handler *h = r->buckets[i];
			r->buckets[i] = h->next;
			handler_unref(h);
		}
	}
	free(r->buckets);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Doubles the table when it gets dense; failure to grow is harmless. */
static void maybe_grow(struct registry *r)
{
	if (r->count < r->nbuckets * 2)
		return;
	size_t n = r->nbuckets * 2;
	struct handler **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < r->nbuckets; i++) {
		while (r->buckets[i]) {
			struct handler *h = r->buckets[i];
			r->buckets[i] = h->next;
			size_t k = hash_id(h->execution_id) % n;
			h->next = b[k];
			b[k] = h;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
}

static struct handler *find_locked(struct registry *r, const char *id)
{
	for (struct handler *h = r->buckets[hash_id(id) % r->nbuckets]; h; h = h->next)
		if (strcmp(h->execution_id, id) == 0)
			return h;
	return NULL;
}

int registry_insert(struct registry *r, struct handler *h, struct handler **existing)
{
	pthread_mutex_lock(&r->mu);
	struct handler *old = find_locked(r, h->execution_id);
	if (old) {
		*existing = handler_ref(old);
		pthread_mutex_unlock(&r->mu);
		return 1;
	}
	maybe_grow(r);
	size_t k = hash_id(h->execution_id) % r->nbuckets;
	h->next = r->buckets[k];
	r->buckets[k] = handler_ref(h);
	r->count++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

struct handler *registry_get(struct registry *r, const char *execution_id)
{
	pthread_mutex_lock(&r->mu);
	struct handler *h = handler_ref(find_locked(r, execution_id));
	pthread_mutex_unlock(&r->mu);
	return h;
}

void registry_remove(struct registry *r, struct handler *h)
{
	pthread_mutex_lock(&r->mu);
	struct handler **pp = &r->buckets[hash_id(h->execution_id) % r->nbuckets];
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			h->next = NULL;
			r->count--;
			pthread_mutex_unlock(&r->mu);
			handler_unref(h);
			return;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

void registry_foreach(struct registry *r, bool (*fn)(void *ud, struct handler *h), void *ud)
{
	/* Snapshot under the lock, call without it: fn may block on engines. */
	pthread_mutex_lock(&r->mu);
	size_t n = r->count, i = 0;
	struct handler **snap = n ? malloc(n * sizeof(*snap)) : NULL;
	if (n && !snap) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	for (size_t b = 0; b < r->nbuckets; b++)
		for (struct handler *h = r->buckets[b]; h; h = h->next)
			snap[i++] = handler_ref(h);
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < n; i++) {
		if (fn(ud, snap[i]))
			registry_remove(r, snap[i]);
		handler_unref(snap[i]);
	}
	free(snap);
}

size_t registry_count(struct registry *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}
