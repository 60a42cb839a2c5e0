/* runtime.c — the table of runtimes by name and the free functions of the
 * types runtime.h hands out.
 *
 * Exists so that choosing an engine is one lookup in one small table (the
 * config's `runtime:` key names a row) and so that every runtime frees its
 * results the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static const struct {
	const char *name;
	const struct runtime_ops *ops;
} runtimes[] = {
    {"docker", &docker_runtime_ops},
};

const struct runtime_ops *runtime_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strcmp(runtimes[i].name, name) == 0)
			return runtimes[i].ops;
	return NULL;
}

void runtime_info_free(struct runtime_info *i)
{
	if (!i)
		return;
	free(i->kind);
	free(i->version);
	free(i->api_version);
	free(i->os);
	memset(i, 0, sizeof(*i));
}

void container_state_free(struct container_state *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->name);
	free(s->error);
	strv_free(s->labels);
	memset(s, 0, sizeof(*s));
}

static void container_summary_clear(struct container_summary *s)
{
	free(s->id);
	free(s->name);
	strv_free(s->labels);
}

void container_summaries_free(struct container_summary *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		container_summary_clear(&v[i]);
	free(v);
}
