/* results_dir.h — a job's results on the host, when the request names a
 * results_dir: the directory (and one subdirectory per output, which the
 * runtime bind-mounts writable at the output's target) is made at Start;
 * after the exit the harvester writes `stdout` and `stderr` (each capped at
 * the config's results_file_limit) and `exitCode` there. The result
 * returned over the ABI stays capped by output_limit independently. */
#ifndef DMS_RESULTS_DIR_H
#define DMS_RESULTS_DIR_H

#include <stdbool.h>
#include <stdint.h>
#include <dms/executor.h>
#include "request.h"

/* Creates results_dir and results_dir/<output source> for each output,
 * below root (policy.results_root, made when missing) without following a
 * symbolic link: a link on the way is DMS_ERR_PERMISSION_DENIED naming it. */
int results_dir_prepare(const char *root, const struct exec_request *req, dms_error **err);

struct results_files {
	int fd[3];       /* [0] results_dir itself, [1] stdout, [2] stderr; -1 when closed */
	const char *dir; /* borrowed, for messages */
	uint64_t limit;
	uint64_t written[3];
	bool truncated[3];
};

/* Opens dir (below root, walked without links as at prepare), then
 * replaces dir/stdout and dir/stderr with new files, mode 0640. */
int results_files_open(struct results_files *rf, const char *root, const char *dir, uint64_t limit,
                       dms_error **err);
/* Appends up to the limit; the rest is dropped and remembered. */
void results_files_write(struct results_files *rf, int stream, const char *data, size_t len);
void results_files_close(struct results_files *rf); /* safe on a zeroed/closed struct */
/* Writes exitCode ("<code>\n") in the open results_dir (before close). */
int results_write_exit_code(struct results_files *rf, int exit_code, dms_error **err);

#endif
