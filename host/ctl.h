/* ctl.h — dmsctl's view of an executor: one set of calls served either by
 * a running dms-host over D-Bus (ctl_bus.c) or, when no dms-host owns the
 * bus name, by the plugin loaded in-process ("embedded" mode,
 * ctl_embedded.c); ctl_backend.c chooses one of the two operation tables
 * once, when the backend is opened. Also the Docker log frame
 * demultiplexer the CLI uses to split a framed log stream.
 *
 * Why two backends behind one interface: `dmsctl run` must work the same
 * on a device with dms-host and on a bare machine with only an engine, and
 * every subcommand should be written once. */
#ifndef DMS_HOST_CTL_H
#define DMS_HOST_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A failed call: `name` is the D-Bus error name (org.dms.Error.* for
 * executor errors, also in embedded mode), `message` the text. */
struct ctl_error {
	char *name;
	char *message;
};

void ctl_error_clear(struct ctl_error *e);

struct ctl_options {
	const char *executor_id;
	const char *config;      /* YAML text or NULL */
	const char *plugin_path; /* NULL: default lookup */
	bool system_bus;
	bool embedded_only; /* never try the bus */
	bool verbose;
};

struct ctl_backend;

/* The live operations on a running execution (ABI 1.2). */
enum ctl_live_op {
	CTL_LIVE_SIGNAL,
	CTL_LIVE_PAUSE,
	CTL_LIVE_RESUME,
	CTL_LIVE_STATS,
	CTL_LIVE_INSPECT
};

/* Connects to dms-host (ensuring the executor exists) or, when the name
 * has no owner, loads the plugin and creates the executor in-process. */
int ctl_backend_open(const struct ctl_options *o, struct ctl_backend **out, struct ctl_error *err);
void ctl_backend_close(struct ctl_backend *b);
bool ctl_backend_embedded(const struct ctl_backend *b);

int ctl_is_installed(struct ctl_backend *b, bool *installed, char **info_json,
                     struct ctl_error *err);
/* *execution_id (caller frees) is the id the executor used: the request's
 * or one it generated; "" when the executor cannot say (a plugin older
 * than ABI 1.2, which also needs the id in the request). */
int ctl_start(struct ctl_backend *b, const char *request, char **execution_id,
              struct ctl_error *err);
int ctl_wait(struct ctl_backend *b, const char *execution_id, char **result_json,
             struct ctl_error *err);
int ctl_cancel(struct ctl_backend *b, const char *execution_id, struct ctl_error *err);
int ctl_log_stream(struct ctl_backend *b, const char *request, int *fd, struct ctl_error *err);
int ctl_cleanup(struct ctl_backend *b, struct ctl_error *err);
int ctl_list(struct ctl_backend *b, char **list_json, struct ctl_error *err);
/* Signal (arg: the signal), Pause, Resume, Stats and Inspect (*out_json:
 * the document, caller frees; NULL for the others). */
int ctl_live(struct ctl_backend *b, enum ctl_live_op op, const char *execution_id, const char *arg,
             char **out_json, struct ctl_error *err);
/* An fd of JSON lines, one sample about once a second, EOF at the end. */
int ctl_stats_stream(struct ctl_backend *b, const char *execution_id, int *fd,
                     struct ctl_error *err);
/* Exec: runs the exec request (docs/schema.md, "The exec request") in a
 * running execution; *fd (the caller's) carries stdin one way and the
 * output (framed, raw with a tty) the other; *exec_id: caller frees.
 * ExecResize; ExecWait blocks until the exec ended. */
int ctl_exec(struct ctl_backend *b, const char *execution_id, const char *request, int *fd,
             char **exec_id, struct ctl_error *err);
int ctl_exec_resize(struct ctl_backend *b, const char *exec_id, uint32_t rows, uint32_t cols,
                    struct ctl_error *err);
int ctl_exec_wait(struct ctl_backend *b, const char *exec_id, int *exit_code,
                  struct ctl_error *err);
/* ImportImage: the tarball is read from fd (dmsctl opens the file, the
 * daemon never sees its path). *image_id: caller frees. */
int ctl_image_import(struct ctl_backend *b, int fd, const char *reference, char **image_id,
                     struct ctl_error *err);

/* dms-host's metrics (Prometheus text, caller frees) from the manager's
 * Metrics(); an error when no dms-host is on the bus (no embedded mode). */
int ctl_bus_metrics(const struct ctl_options *o, char **text, struct ctl_error *err);

/* Pull progress of the executions this client starts, delivered during
 * ctl_start (the PullProgress signal in bus mode, the plugin's handler in
 * embedded mode), on the calling thread. */
typedef void (*ctl_progress_fn)(void *ud, const char *execution_id, const char *image,
                                uint64_t current_bytes, uint64_t total_bytes, const char *status);
void ctl_set_progress_handler(struct ctl_backend *b, ctl_progress_fn fn, void *ud);

/* Docker's multiplexed stream: 8-byte headers {stream, 0, 0, 0, size32 BE}
 * then the payload. Headers may be split across reads at any byte. A
 * stream that does not look framed (a TTY job) is passed through as
 * stdout from its first bad header on. */
struct ctl_demux {
	uint8_t hdr[8];
	size_t hdr_len;
	uint32_t remaining;
	int stream;
	bool raw;
};

typedef int (*ctl_sink_fn)(void *ud, int stream, const char *data, size_t len);
void ctl_demux_init(struct ctl_demux *d);
/* Returns 0, or the sink's non-zero return. */
int ctl_demux_feed(struct ctl_demux *d, const char *data, size_t len, ctl_sink_fn sink, void *ud);

#endif
