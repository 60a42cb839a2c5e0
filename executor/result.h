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
	/* What the job used (docs/schema.md, "usage"): the sampler's largest
	 * figures (the last sample before the exit) and the wall time. */
	struct {
		uint64_t cpu_ns, memory_peak, block_read, block_write, net_rx, net_tx;
		uint32_t samples;
		int64_t sampled_at_ns; /* wall clock of the last sample; 0: none */
	} usage;
};

void result_init(struct exec_result *r, size_t output_limit);
void result_free(struct exec_result *r);
/* {"exit_code":..,"stdout":..,"stderr":..,"stdout_truncated":..,
 *  "stderr_truncated":..,"error_msg":..,"oom_killed":..,"cancelled":..,
 *  "signal":..,"started_at":"RFC3339","finished_at":"RFC3339",
 *  "usage":{"cpu_time_ns":..,"memory_peak_bytes":..,...}}
 * Non-UTF-8 bytes in stdout/stderr are replaced by U+FFFD. Caller frees. */
char *result_to_json(const struct exec_result *r);

#endif
