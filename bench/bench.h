/* bench.h — what the benchmark programs in bench/ share: clocks, a bounded
 * growable buffer, a minimal keep-alive Engine API client over a unix socket
 * (libcurl), a `die` event watcher on a separate /events stream, a Docker
 * log-frame counter, request builders and JSON sample output.
 *
 * Why a client of our own instead of the executor's: the "raw" baseline must
 * be the plain create → start → wait → delete sequence a careful user would
 * write, with nothing of the executor in it. The same client also reads the
 * engine's event times for the exit-to-reply measurements of every variant. */
#ifndef DMS_BENCH_H
#define DMS_BENCH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#define BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* --- clocks and messages ------------------------------------------------ */
double bench_now_ms(void);   /* CLOCK_MONOTONIC, milliseconds */
int64_t bench_real_ns(void); /* CLOCK_REALTIME, ns: comparable with engine timeNano */
void bench_set_progname(const char *name);
void bench_log(const char *fmt, ...) BENCH_PRINTF(1, 2);
_Noreturn void bench_die(const char *fmt, ...) BENCH_PRINTF(1, 2);
void *bench_xmalloc(size_t n);
char *bench_xstrdup(const char *s);
char *bench_asprintf(const char *fmt, ...) BENCH_PRINTF(1, 2);
/* A process-unique token for labels and execution ids. */
const char *bench_token(void);

/* --- bounded buffer ------------------------------------------------------ */
struct bbuf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len, cap, max;
};
void bbuf_init(struct bbuf *b, size_t max);
bool bbuf_add(struct bbuf *b, const void *p, size_t n); /* false past max */
bool bbuf_puts(struct bbuf *b, const char *s);
void bbuf_reset(struct bbuf *b);
void bbuf_free(struct bbuf *b);

/* --- Engine API client ---------------------------------------------------- */
/* One connection (kept alive across calls) to an engine socket. Not shared
 * between threads. */
struct eng {
	CURL *h;
	char *sock;
	struct curl_slist *json_hdr;
	char errbuf[CURL_ERROR_SIZE];
};
/* host_url: "unix:///path" or "/path". */
void eng_init(struct eng *e, const char *host_url);
void eng_fini(struct eng *e);
/* Sends METHOD path (body: JSON or NULL); the response body goes to `out`
 * (may be NULL). Returns the HTTP status, or -1 with a message logged. */
long eng_call(struct eng *e, const char *method, const char *path, const char *body,
              struct bbuf *out);
/* GET path, body bytes to fn until the engine ends the response or *stop
 * becomes true (checked about once a second). Returns the HTTP status or -1. */
typedef void (*eng_sink_fn)(void *user, const char *data, size_t n);
long eng_stream(struct eng *e, const char *path, eng_sink_fn fn, void *user, volatile bool *stop);
/* A URL-encoded copy of s (caller frees). */
char *eng_escape(struct eng *e, const char *s);

/* The raw job sequence, step by step. Each returns 0 or -1 (logged). */
int eng_create(struct eng *e, const char *create_json, char **id_out);
int eng_start(struct eng *e, const char *id);
int eng_wait(struct eng *e, const char *id, long *exit_code);
int eng_delete(struct eng *e, const char *id);
/* Builds {"Image":..,"Cmd":[cmd...],"Labels":{label_key: label_value}}. */
char *eng_create_body(const char *image, const char *const *cmd, const char *label_key,
                      const char *label_value);

/* --- JSON ------------------------------------------------------------- */
/* The string / integer at a path of object keys in doc (NULL-terminated
 * path). Returns a new string or NULL; the integer variant returns false
 * when absent. */
char *json_get_string(const char *doc, const char *const *path);
bool json_get_int(const char *doc, const char *const *path, long long *out);
/* Appends s as a JSON string literal (quotes and escapes). */
void json_add_string(struct bbuf *b, const char *s);

/* --- die events --------------------------------------------------------- */
/* Watches GET /events?since=now-2s filtered by `label` ("k=v") and records
 * the timeNano of every `die`, keyed by the container label `key_attr`
 * (NULL: the container id). since= makes the stream replay what happened
 * before it connected, so no readiness handshake is needed. */
struct evwatch;
struct evwatch *evwatch_start(const char *host_url, const char *label, const char *key_attr);
/* The die time (ns since the epoch) for key, waiting up to timeout_ms for it
 * to arrive; 0 if it did not. */
int64_t evwatch_die_ns(struct evwatch *w, const char *key, int timeout_ms);
void evwatch_stop(struct evwatch *w);

/* --- Docker log frames ------------------------------------------------ */
/* Counts payload bytes of a framed log stream (8-byte headers
 * {stream,0,0,0,size32 BE}); survives headers split across reads. */
struct frame_counter {
	unsigned char hdr[8];
	size_t hdr_len;
	uint64_t left;    /* payload bytes left in the current frame */
	uint64_t payload; /* total payload bytes */
	uint64_t raw;     /* total bytes fed */
	double last_ms;   /* bench_now_ms() when the last bytes were fed */
};
void frame_counter_feed(struct frame_counter *c, const char *p, size_t n);

/* --- the jobs every variant runs ------------------------------------- */
/* The shell command of the log job: `bytes` bytes of 4001-byte lines. */
char *bench_log_cmd(unsigned long long bytes);
/* An executor request (JSON) for image + argv cmd. type: "docker"|"podman".
 * extra: more members for the top-level object (",..." or ""). */
char *bench_exec_request(const char *execution_id, const char *type, const char *image,
                         const char *const *cmd, const char *extra);

/* --- interleaving ------------------------------------------------------ */
/* Turns taken in a run where several tools measure side by side: run.sh
 * starts every variant at once and hands out one turn at a time (A, B, C,
 * A, B, C...), so a burst of load from elsewhere hits every variant alike.
 * A tool takes a turn around each job, the warm-up included. Without
 * BENCH_TURN_GO / BENCH_TURN_DONE (FIFO paths) in the environment both are
 * no-ops: the tool runs on its own. */
void bench_turn_begin(void); /* blocks until run.sh says go */
void bench_turn_end(void);   /* tells run.sh this turn is done */

/* --- output ---------------------------------------------------------- */
/* Prints "name":[v,...] (no surrounding braces). */
void bench_print_samples(FILE *f, const char *name, const double *v, size_t n);
/* Reads a whole small file (configs); dies on error. */
char *bench_read_file(const char *path);
/* Parses a positive integer argument or dies naming it. */
long bench_arg_long(const char *what, const char *s, long min, long max);

#endif
