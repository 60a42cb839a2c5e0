/* log.h — dms-host's log: one line per event, with a level, the executor
 * and the execution it is about, to journald (native protocol) when
 * systemd started dms-host, else to stderr (docs/dbus.md, "Logs").
 *
 * Why its own file: the lines carry fields (DMS_EXECUTION_ID...) that
 * journald indexes, and a level the operator filters with --log-level;
 * host_log (util.h) of the code shared with dmsctl is routed here as
 * errors. What is logged is ids, states, exit codes and error messages:
 * never a request or a config, which carry credentials. */
#ifndef DMS_HOST_LOG_H
#define DMS_HOST_LOG_H

#include <stdbool.h>

#include "util.h"

/* syslog priorities, as journald's PRIORITY field wants them. */
enum hlog_level {
	HLOG_ERROR = 3,
	HLOG_WARN = 4,
	HLOG_INFO = 6,
	HLOG_DEBUG = 7,
};

/* "error" | "warn" | "info" | "debug" -> *level; false for anything else. */
bool hlog_parse_level(const char *name, enum hlog_level *level);
const char *hlog_level_name(enum hlog_level level);

/* Sets the level and the destination: journald when JOURNAL_STREAM or
 * INVOCATION_ID is set and the journal socket ($DMS_JOURNAL_SOCKET, else
 * /run/systemd/journal/socket) is a socket; stderr otherwise. Routes
 * host_log here. */
void hlog_init(enum hlog_level level);
/* Closes the journal socket; host_log goes back to stderr. */
void hlog_shutdown(void);
/* "journal" or "stderr". */
const char *hlog_target(void);
bool hlog_enabled(enum hlog_level level);

/* One line. executor_id and execution_id may be NULL. A journal send that
 * fails falls back to stderr for that line. */
void hlog(enum hlog_level level, const char *executor_id, const char *execution_id, const char *fmt,
          ...) HOST_PRINTF(4, 5);

#endif
