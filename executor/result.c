/* result.c — the execution result and its JSON form (result.h,
 * docs/schema.md).
 *
 * Exists so that there is exactly one way a result becomes JSON: Wait, Run,
 * wait_async and the state-change events all hand out what this file
 * writes. Container output is arbitrary bytes while JSON strings must be
 * UTF-8, so invalid sequences are replaced by U+FFFD (jw_text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "result.h"

void result_init(struct exec_result *r, size_t output_limit)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	capbuf_init(&r->out, output_limit);
	capbuf_init(&r->err, output_limit);
}

void result_free(struct exec_result *r)
{
	if (!r)
		return;
	capbuf_free(&r->out);
	capbuf_free(&r->err);
	free(r->error_msg);
	r->error_msg = NULL;
}

char *result_to_json(const struct exec_result *r)
{
	struct jw w;

	if (!r || jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_int(&w, "exit_code", r->exit_code);
	jw_key(&w, "stdout");
	jw_text(&w, r->out.b.data, r->out.b.len);
	jw_key(&w, "stderr");
	jw_text(&w, r->err.b.data, r->err.b.len);
	jw_key_bool(&w, "stdout_truncated", r->out.truncated);
	jw_key_bool(&w, "stderr_truncated", r->err.truncated);
	jw_key(&w, "error_msg");
	if (r->error_msg)
		jw_text(&w, r->error_msg, strlen(r->error_msg));
	else
		jw_null(&w);
	jw_key_bool(&w, "oom_killed", r->oom_killed);
	jw_key_bool(&w, "cancelled", r->cancelled);
	jw_key_int(&w, "signal", r->signal);
	jw_key(&w, "started_at");
	jw_time(&w, r->started_at_ns);
	jw_key(&w, "finished_at");
	jw_time(&w, r->finished_at_ns);
	jw_key(&w, "usage");
	jw_map_open(&w);
	jw_key_int(&w, "cpu_time_ns", (long long)r->usage.cpu_ns);
	jw_key_int(&w, "memory_peak_bytes", (long long)r->usage.memory_peak);
	jw_key_int(&w, "block_read_bytes", (long long)r->usage.block_read);
	jw_key_int(&w, "block_write_bytes", (long long)r->usage.block_write);
	jw_key_int(&w, "net_rx_bytes", (long long)r->usage.net_rx);
	jw_key_int(&w, "net_tx_bytes", (long long)r->usage.net_tx);
	jw_key_int(&w, "wall_time_ns",
	           r->started_at_ns && r->finished_at_ns >= r->started_at_ns
	               ? (long long)(r->finished_at_ns - r->started_at_ns)
	               : 0);
	jw_key_int(&w, "samples", r->usage.samples);
	jw_key(&w, "sampled_at");
	jw_time(&w, r->usage.sampled_at_ns);
	jw_map_close(&w);
	jw_map_close(&w);
	return jw_steal(&w);
}
