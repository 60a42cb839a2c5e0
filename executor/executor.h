/* executor.h — the executor's operations, one per ABI operation, as the
 * plugin entry (plugin.c) puts them in its table and the unit tests call
 * them. The object itself is opaque here (executor_internal.h). */
#ifndef DMS_EXECUTOR_OPERATIONS_H
#define DMS_EXECUTOR_OPERATIONS_H

#include <stdbool.h>
#include <dms/executor.h>

struct runtime_ops;

int executor_new(const char *id, const char *config_yaml, struct dms_executor **out,
                 dms_error **err);
/* The same on a given runtime table (unit tests: the fake runtime). */
int executor_new_with_runtime(const char *id, const char *config_yaml,
                              const struct runtime_ops *ops, struct dms_executor **out,
                              dms_error **err);
void executor_destroy(struct dms_executor *ex);
int executor_set_event_handler(struct dms_executor *ex, dms_event_fn fn, void *ud);
int executor_is_installed(struct dms_executor *ex, dms_context *ctx, bool *installed,
                          char **info_json, dms_error **err);
/* The request must name its execution_id ("execution_id: required"). */
int executor_start(struct dms_executor *ex, dms_context *ctx, const char *request, dms_error **err);
/* Start, handing out the execution id used: the request's, or a new one
 * (executor_new_execution_id) when it names none. */
int executor_start_job(struct dms_executor *ex, dms_context *ctx, const char *request,
                       char **execution_id, dms_error **err);
int executor_wait(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  char **result_json, dms_error **err);
int executor_wait_async(struct dms_executor *ex, const char *execution_id, dms_wait_fn fn, void *ud,
                        dms_error **err);
int executor_cancel(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err);
int executor_get_log_stream(struct dms_executor *ex, dms_context *ctx, const char *request,
                            int *fd_out, dms_error **err);
/* Start + Wait; a request without execution_id gets a new one. */
int executor_run(struct dms_executor *ex, dms_context *ctx, const char *request, char **result_json,
                 dms_error **err);
int executor_cleanup(struct dms_executor *ex, dms_context *ctx, dms_error **err);
int executor_list(struct dms_executor *ex, char **list_json, dms_error **err);
int executor_image_import(struct dms_executor *ex, dms_context *ctx, int fd, const char *reference,
                          char **image_id, dms_error **err);
int executor_set_pull_progress_handler(struct dms_executor *ex, dms_pull_progress_fn fn, void *ud);

/* Live operations (live.c; ABI 1.2): NotFound, AlreadyFinished, and
 * NotSupported where the runtime cannot. Inspect also answers for a
 * finished execution. */
int executor_signal(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    const char *signal, dms_error **err);
int executor_pause(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                   dms_error **err);
int executor_resume(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err);
int executor_stats(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                   char **stats_json, dms_error **err);
int executor_stats_stream(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                          int *fd_out, dms_error **err);
int executor_inspect(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                     char **inspect_json, dms_error **err);
/* exec (exec.c; ABI 1.2). */
int executor_exec(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  const char *exec_request, int *fd_out, char **exec_id, dms_error **err);
int executor_exec_resize(struct dms_executor *ex, dms_context *ctx, const char *exec_id,
                         uint32_t rows, uint32_t cols, dms_error **err);
int executor_exec_wait(struct dms_executor *ex, dms_context *ctx, const char *exec_id,
                       int *exit_code, dms_error **err);
int executor_exec_wait_async(struct dms_executor *ex, const char *exec_id, dms_exec_wait_fn fn,
                             void *ud, dms_error **err);

/* The tree's one execution-id generator: "run-<unix seconds>-<8 hex
 * digits>" (getrandom, else the clock and pid), the id of a job whose
 * request named none, as `docker run` names a container. NULL when out of
 * memory. */
char *executor_new_execution_id(void);

#endif
