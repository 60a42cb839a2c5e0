/* sweep.h — the scoped orphan sweep (docs/robustness.md, "Orphan sweep"):
 * opt-in (`sweep_interval`), run by the janitor thread. */
#ifndef DMS_SWEEP_H
#define DMS_SWEEP_H

#include <stddef.h>
#include <stdint.h>

struct dms_executor;
struct sweep;

/* What the last pass found (for tests and the log line). */
struct sweep_report {
	size_t passes;       /* passes run so far */
	size_t untracked;    /* ours, no handler: containers + networks + volumes */
	size_t removed;      /* removed by the last pass */
	size_t would_remove; /* sweep_dry_run: what the last pass would have removed */
	size_t failed;       /* removals the engine refused (tried again next pass) */
};

/* Runs a pass when one is due (sweep_interval > 0) and lowers *next_ns
 * (monotonic) to when the next one is. Called by the janitor, never with
 * a lock held; makes engine calls. */
void sweep_tick(struct dms_executor *ex, int64_t now_ns, int64_t *next_ns);
/* One pass now, whatever the interval (tests). */
void sweep_pass(struct dms_executor *ex, int64_t now_ns);
/* A copy of the last report; zeros before the first pass. */
struct sweep_report sweep_last_report(struct dms_executor *ex);
void sweep_free(struct sweep *s);

#endif
