/* metrics.h — dms-host's counters in the Prometheus text exposition
 * format: jobs by executor and runtime (started, finished, failed,
 * cancelled, durations), image pulls (count, bytes, durations), the errors
 * dms-host answered by category, open log streams and waiting replies
 * (docs/metrics.md). Served by the manager's Metrics() and, when dms-host
 * has a metrics textfile, written there atomically for node_exporter's
 * textfile collector.
 *
 * Why in the host: it sees every job event, pull report, error reply and
 * stream of every executor and plugin through the ABI, so the plugin
 * needs no counters of its own. Thread-safe: the calls come from the bus
 * loop, pool workers and plugin threads. */
#ifndef DMS_HOST_METRICS_H
#define DMS_HOST_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <dms/executor.h>

/* Starts the counters; with a textfile path, a thread that rewrites it
 * (tmp + rename) after every change (at most every 250 ms) and every 10 s.
 * 0, or -1 with *why set (caller frees) when the file cannot be written. */
int metrics_init(const char *textfile, char **why);
/* Writes the file a last time and stops the thread. */
void metrics_shutdown(void);

/* A state the plugin reported. result_json: the final result (may be
 * NULL). runtime: the executor's Runtime property ("" or NULL: unknown). */
void metrics_job_state(const char *executor_id, const char *runtime, const char *execution_id,
                       dms_exec_state state, const char *result_json);
/* A PullProgress report. */
void metrics_pull_progress(const char *executor_id, const char *execution_id, const char *image,
                           uint64_t current_bytes);
/* An org.dms.Error.* reply of that category. */
void metrics_error(int category);
/* A log stream handed out: fd is the reader's end (still open). */
void metrics_log_stream_opened(int fd);
/* A deferred Wait/Run reply registered (+1) or answered (-1). */
void metrics_waiters_add(int delta);
/* The number of executors (a gauge). */
void metrics_executors_add(int delta);

/* The exposition text (caller frees). */
char *metrics_render(void);

#endif
