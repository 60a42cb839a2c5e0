/* pull_progress.c — per-layer bookkeeping of an image pull stream (see
 * pull_progress.h).
 *
 * The layer statuses are Docker's (distribution/xfer and
 * daemon/images/image_pull.go): "Pulling fs layer" and "Waiting" announce a
 * layer, "Downloading" carries {current,total} of its compressed bytes,
 * "Verifying Checksum", "Download complete", "Extracting" and "Pull
 * complete" mean the download is done, "Already exists" means it needs no
 * download. Every other status ("Pulling from library/busybox", "Digest:
 * ...", "Status: Downloaded newer image ...") is about the whole pull, even
 * when it carries an id (the tag). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "pull_progress.h"

void pull_progress_init(struct pull_progress *p)
{
	memset(p, 0, sizeof(*p));
}

void pull_progress_free(struct pull_progress *p)
{
	for (size_t i = 0; i < p->n_layers; i++)
		free(p->layers[i].id);
	free(p->layers);
	free(p->status);
	pull_progress_init(p);
}

enum layer_phase { PHASE_NONE, PHASE_ANNOUNCED, PHASE_DOWNLOADING, PHASE_DOWNLOADED, PHASE_LOCAL };

static enum layer_phase phase_of(const char *status)
{
	static const struct {
		const char *prefix;
		enum layer_phase phase;
	} table[] = {
	    {"Pulling fs layer", PHASE_ANNOUNCED},
	    {"Waiting", PHASE_ANNOUNCED},
	    {"Retrying", PHASE_ANNOUNCED},
	    {"Downloading", PHASE_DOWNLOADING},
	    {"Verifying Checksum", PHASE_DOWNLOADED},
	    {"Download complete", PHASE_DOWNLOADED},
	    {"Extracting", PHASE_DOWNLOADED},
	    {"Pull complete", PHASE_DOWNLOADED},
	    {"Already exists", PHASE_LOCAL},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strncmp(status, table[i].prefix, strlen(table[i].prefix)) == 0)
			return table[i].phase;
	return PHASE_NONE;
}

static struct pull_layer *layer_get(struct pull_progress *p, const char *id)
{
	for (size_t i = 0; i < p->n_layers; i++)
		if (strcmp(p->layers[i].id, id) == 0)
			return &p->layers[i];
	if (p->n_layers == p->cap_layers) {
		size_t cap = p->cap_layers ? p->cap_layers * 2 : 8;
		struct pull_layer *v = realloc(p->layers, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->layers = v;
		p->cap_layers = cap;
	}
	struct pull_layer *l = &p->layers[p->n_layers];
	if (!(l->id = strdup(id)))
		return NULL;
	l->current = l->total = 0;
	p->n_layers++;
	return l;
}

int pull_progress_update(struct pull_progress *p, const char *id, const char *status,
                         int64_t current, int64_t total)
{
	enum layer_phase phase;
	char *line;

	if (!status)
		return 0;
	phase = id && *id ? phase_of(status) : PHASE_NONE;
	if (phase != PHASE_NONE) {
		struct pull_layer *l = layer_get(p, id);
		if (!l)
			return -1;
		/* Extracting reports {current,total} too, but of the same
		 * compressed size: it is not more download. */
		if (phase == PHASE_DOWNLOADING && total > 0)
			l->total = total;
		if (phase == PHASE_DOWNLOADING && current >= 0)
			l->current = l->total && current > l->total ? l->total : current;
		if (phase == PHASE_DOWNLOADED)
			l->current = l->total;
		if (asprintf(&line, "%s: %s", id, status) < 0)
			return -1;
	} else if (!(line = strdup(status))) {
		return -1;
	}
	free(p->status);
	p->status = line;
	return 0;
}

int pull_progress_feed_json(struct pull_progress *p, const char *line)
{
	static const char *status_path[] = {"status", NULL};
	static const char *id_path[] = {"id", NULL};
	static const char *current_path[] = {"progressDetail", "current", NULL};
	static const char *total_path[] = {"progressDetail", "total", NULL};
	yajl_val root = yajl_tree_parse(line, NULL, 0);
	yajl_val v;
	int64_t current = -1, total = -1;
	int rc;

	if (!root)
		return 0;
	if ((v = yajl_tree_get(root, current_path, yajl_t_number)) && YAJL_IS_INTEGER(v))
		current = YAJL_GET_INTEGER(v);
	if ((v = yajl_tree_get(root, total_path, yajl_t_number)) && YAJL_IS_INTEGER(v))
		total = YAJL_GET_INTEGER(v);
	rc = pull_progress_update(p, YAJL_GET_STRING(yajl_tree_get(root, id_path, yajl_t_string)),
	                          YAJL_GET_STRING(yajl_tree_get(root, status_path, yajl_t_string)),
	                          current, total);
	yajl_tree_free(root);
	return rc;
}

void pull_progress_totals(const struct pull_progress *p, uint64_t *current, uint64_t *total)
{
	uint64_t c = 0, t = 0;

	for (size_t i = 0; i < p->n_layers; i++) {
		c += (uint64_t)(p->layers[i].current > 0 ? p->layers[i].current : 0);
		t += (uint64_t)(p->layers[i].total > 0 ? p->layers[i].total : 0);
	}
	*current = c;
	*total = t;
}

bool pull_progress_due(int64_t *last_report_ns, int64_t now_ns)
{
	if (*last_report_ns != 0 && now_ns - *last_report_ns < PULL_PROGRESS_INTERVAL_NS)
		return false;
	*last_report_ns = now_ns ? now_ns : 1;
	return true;
}
