/* pull_progress.h — turns the JSON-lines stream of an image pull (Docker's
 * message format, which Podman's compat API imitates) into one running
 * total per pull, and decides when that total is worth reporting.
 *
 * Why: the engine reports every layer separately and many times a second;
 * a client wants "n of m bytes, what is happening now", a few times a
 * second. The per-layer bookkeeping lives here, apart from the HTTP
 * stream parser (compat_images.c) and the fan-out to waiting executions
 * (executor.c), so a recorded stream can be replayed in a unit test. */
#ifndef DMS_PULL_PROGRESS_H
#define DMS_PULL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reports are at least this far apart (about 4 a second per image). */
#define PULL_PROGRESS_INTERVAL_NS (250 * 1000000ll)

struct pull_layer {
	char *id;
	int64_t current; /* bytes downloaded */
	int64_t total;   /* announced size, 0 unknown */
};

struct pull_progress {
	struct pull_layer *layers;
	size_t n_layers, cap_layers;
	char *status; /* latest status line, "<layer>: <status>" for a layer */
};

void pull_progress_init(struct pull_progress *p);
void pull_progress_free(struct pull_progress *p);
/* One message: id may be NULL (a message about the whole pull); current
 * and total are progressDetail's (-1 when absent). Returns -1 on OOM. */
int pull_progress_update(struct pull_progress *p, const char *id, const char *status,
                         int64_t current, int64_t total);
/* The same from one JSON line of the stream (for replaying recorded
 * streams); lines without a status are ignored. */
int pull_progress_feed_json(struct pull_progress *p, const char *line);
/* Sums over the layers seen so far. */
void pull_progress_totals(const struct pull_progress *p, uint64_t *current, uint64_t *total);
/* True (and *last_report_ns set to now_ns) when a report is due: the
 * first one (*last_report_ns == 0) at once, then at most one per
 * PULL_PROGRESS_INTERVAL_NS. */
bool pull_progress_due(int64_t *last_report_ns, int64_t now_ns);

#endif
