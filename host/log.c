/* log.c — dms-host's log to journald or stderr (log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define IDENTIFIER "dms-host"

static struct {
	enum hlog_level level;
	int journal_fd; /* -1: stderr */
	struct sockaddr_un addr;
	socklen_t addr_len;
} logger = {.level = HLOG_INFO, .journal_fd = -1};

static const struct {
	const char *name;
	enum hlog_level level;
} levels[] = {
    {"error", HLOG_ERROR},
    {"warn", HLOG_WARN},
    {"info", HLOG_INFO},
    {"debug", HLOG_DEBUG},
};

bool hlog_parse_level(const char *name, enum hlog_level *level)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(name, levels[i].name) == 0) {
			*level = levels[i].level;
			return true;
		}
	}
	return false;
}

const char *hlog_level_name(enum hlog_level level)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return "info";
}

bool hlog_enabled(enum hlog_level level)
{
	return level <= logger.level;
}

const char *hlog_target(void)
{
	return logger.journal_fd >= 0 ? "journal" : "stderr";
}

static void from_host_log(const char *msg)
{
	hlog(HLOG_ERROR, NULL, NULL, "%s", msg);
}

/* The journal when systemd started us and its socket is there. */
static int open_journal(void)
{
	const char *path = getenv("DMS_JOURNAL_SOCKET");
	struct stat st;
	int fd;

	if (!getenv("JOURNAL_STREAM") && !getenv("INVOCATION_ID"))
		return -1;
	if (!path || !*path)
		path = JOURNAL_SOCKET;
	if (strlen(path) >= sizeof(logger.addr.sun_path) || stat(path, &st) != 0 ||
	    !S_ISSOCK(st.st_mode))
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&logger.addr, 0, sizeof(logger.addr));
	logger.addr.sun_family = AF_UNIX;
	memcpy(logger.addr.sun_path, path, strlen(path) + 1);
	logger.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	return fd;
}

void hlog_init(enum hlog_level level)
{
	logger.level = level;
	logger.journal_fd = open_journal();
	host_set_log_sink(from_host_log);
}

void hlog_shutdown(void)
{
	host_set_log_sink(NULL);
	if (logger.journal_fd >= 0)
		close(logger.journal_fd);
	logger.journal_fd = -1;
}

/* One field of the native protocol: KEY=value\n, or, for a value with a
 * newline, KEY\n, its length as 64-bit little endian, the value, \n. */
static void field(struct host_buf *b, const char *key, const char *value)
{
	if (!strchr(value, '\n')) {
		host_buf_printf(b, "%s=%s\n", key, value);
		return;
	}
	uint64_t n = strlen(value);
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(n >> (8 * i));
	host_buf_printf(b, "%s\n", key);
	host_buf_append(b, (const char *)le, sizeof(le));
	host_buf_append(b, value, (size_t)n);
	host_buf_puts(b, "\n");
}

static int to_journal(enum hlog_level level, const char *executor_id, const char *execution_id,
                      const char *msg)
{
	struct host_buf b;
	char prio[4];
	ssize_t n;

	host_buf_init(&b, 0);
	snprintf(prio, sizeof(prio), "%d", (int)level);
	field(&b, "MESSAGE", msg);
	field(&b, "PRIORITY", prio);
	field(&b, "SYSLOG_IDENTIFIER", IDENTIFIER);
	if (executor_id)
		field(&b, "DMS_EXECUTOR_ID", executor_id);
	if (execution_id)
		field(&b, "DMS_EXECUTION_ID", execution_id);
	do
		n = sendto(logger.journal_fd, b.data, b.len, MSG_NOSIGNAL,
		           (const struct sockaddr *)&logger.addr, logger.addr_len);
	while (n < 0 && errno == EINTR);
	host_buf_free(&b);
	return n < 0 ? -1 : 0;
}

void hlog(enum hlog_level level, const char *executor_id, const char *execution_id, const char *fmt,
          ...)
{
	va_list ap;
	char *msg;

	if (!hlog_enabled(level))
		return;
	va_start(ap, fmt);
	msg = host_vasprintf(fmt, ap);
	va_end(ap);
	if (logger.journal_fd >= 0 && to_journal(level, executor_id, execution_id, msg) == 0) {
		free(msg);
		return;
	}
	/* One write per line so concurrent threads do not interleave. */
	if (execution_id)
		fprintf(stderr, IDENTIFIER ": %s: execution %s (executor %s): %s\n",
		        hlog_level_name(level), execution_id, executor_id ? executor_id : "-", msg);
	else if (executor_id)
		fprintf(stderr, IDENTIFIER ": %s: executor %s: %s\n", hlog_level_name(level),
		        executor_id, msg);
	else
		fprintf(stderr, IDENTIFIER ": %s: %s\n", hlog_level_name(level), msg);
	free(msg);
}
