/* result.h — the execution result and its JSON form (docs/schema.md). */
#ifndef DMS_RESULT_H
#define DMS_RESULT_H

#include <stdbool.h>
#include <stdint.h>
#include "buf.h"
#include "clock.h"

struct exec_result {
	int exit_code;     /* -1 when the process never ran */
	struct capbuf out; /* stdout, capped */
	struct capbuf err; /* stderr, capped */
	char *error_msg;   /* NULL: none */
	bool oom_killed;
	bool cancelled;
	int signal;            /* 0, or the signal that ended the process */
	int64_t started_at_ns; /* wall clock; 0: unknown */
	int64_t finished_at_ns;
};

void result_init(struct exec_result *r, size_t output_limit);
void result_free(struct exec_result *r);
/* {"exit_code":..,"stdout":..,"stderr":..,"stdout_truncated":..,
 *  "stderr_truncated":..,"error_msg":..,"oom_killed":..,"cancelled":..,
 *  "signal":..,"started_at":"RFC3339","finished_at":"RFC3339"}
 * Non-UTF-8 bytes in stdout/stderr are replaced by U+FFFD. Caller frees. */
char *result_to_json(const struct exec_result *r);

#endif
