/* util.h — small helpers shared by dms-host and dmsctl: fatal-on-OOM
 * allocation, a bounded growable string buffer, logging, object-path
 * escaping of executor ids and the default plugin lookup.
 *
 * Why here and not in executor/: the host and the CLI reach the executor
 * through the plugin ABI only; of the tree's layers they link base (and
 * dmsctl decode), never the executor, the handlers or the runtimes. */
#ifndef DMS_HOST_UTIL_H
#define DMS_HOST_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Allocation failure in the host or the CLI is fatal: both are small
 * processes whose only sensible reaction to ENOMEM is to stop. */
void *host_malloc(size_t n);
void *host_calloc(size_t n, size_t m);
void *host_realloc(void *p, size_t n);
char *host_strdup(const char *s);
char *host_strndup(const char *s, size_t n);
char *host_asprintf(const char *fmt, ...) HOST_PRINTF(1, 2);
/* vasprintf that never fails (out of memory ends the process). */
char *host_vasprintf(const char *fmt, va_list ap) HOST_PRINTF(1, 0);

/* Messages to stderr, prefixed with the program name. */
void host_set_progname(const char *name);
void host_log(const char *fmt, ...) HOST_PRINTF(1, 2);
/* Where host_log's messages go instead (dms-host's logger, host/log.h,
 * takes them as errors); NULL: stderr as above. */
typedef void (*host_log_sink_fn)(const char *msg);
void host_set_log_sink(host_log_sink_fn fn);

/* A growable byte buffer that refuses to grow past `max` bytes (0: no
 * limit). Always NUL-terminated. */
struct host_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void host_buf_init(struct host_buf *b, size_t max);
void host_buf_free(struct host_buf *b);
/* 0 on success, -1 when the buffer would exceed its maximum. */
int host_buf_append(struct host_buf *b, const char *data, size_t len);
int host_buf_puts(struct host_buf *b, const char *s);
int host_buf_printf(struct host_buf *b, const char *fmt, ...) HOST_PRINTF(2, 3);
/* Appends s with XML special characters escaped. */
int host_buf_xml_escaped(struct host_buf *b, const char *s);
/* Hands out the data (caller frees) and resets the buffer. */
char *host_buf_steal(struct host_buf *b);

/* Executor id -> object path element: every byte outside [A-Za-z0-9]
 * becomes _xx (lowercase hex), like systemd's unit path escaping; the
 * empty string becomes "_". The result is a valid path element. */
char *host_escape_path_element(const char *id);
/* The inverse; NULL when `el` is not a valid escaping. */
char *host_unescape_path_element(const char *el);

/* The plugin to load when none is given: dirname(/proc/self/exe)/../lib/
 * dms-executor.so when that exists (a build tree), else the installed path
 * compiled in as DMS_PLUGIN_INSTALL_PATH. Caller frees. */
char *host_default_plugin_path(void);

/* A top-level "key: value" line of a YAML config that the host reads
 * itself (plugin:, metrics_textfile:): its value without quotes (caller
 * frees), the line blanked in place into a comment so that line numbers
 * of the rest stay right; NULL when there is none. */
char *host_config_take_key(char *config, const char *key);

/* Reads a whole file (at most max bytes). NULL with errno set on failure. */
char *host_read_file(const char *path, size_t max, size_t *len_out);

#endif
