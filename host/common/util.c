/* util.c — helpers shared by dms-host and dmsctl (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DMS_PLUGIN_INSTALL_PATH
#define DMS_PLUGIN_INSTALL_PATH "/usr/local/lib/dms/dms-executor.so"
#endif

static const char *progname = "dms";

static void oom(void)
{
	fprintf(stderr, "%s: out of memory\n", progname);
	abort();
}

void *host_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *host_calloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p)
		oom();
	return p;
}

void *host_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom();
	return q;
}

char *host_strdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		oom();
	return d;
}

char *host_strndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		oom();
	return d;
}

char *host_vasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *host_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = host_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void host_set_progname(const char *name)
{
	progname = name;
}

static host_log_sink_fn log_sink;

void host_set_log_sink(host_log_sink_fn fn)
{
	log_sink = fn;
}

void host_log(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (log_sink)
		log_sink(msg ? msg : fmt);
	else /* One write per line so concurrent threads do not interleave. */
		fprintf(stderr, "%s: %s\n", progname, msg ? msg : fmt);
	free(msg);
}

void host_buf_init(struct host_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void host_buf_free(struct host_buf *b)
{
	free(b->data);
	host_buf_init(b, b->max);
}

static int buf_reserve(struct host_buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (b->max && need > b->max + 1)
		return -1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = host_realloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int host_buf_append(struct host_buf *b, const char *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int host_buf_puts(struct host_buf *b, const char *s)
{
	return host_buf_append(b, s, strlen(s));
}

int host_buf_printf(struct host_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	s = host_vasprintf(fmt, ap);
	va_end(ap);
	r = host_buf_append(b, s, strlen(s));
	free(s);
	return r;
}

int host_buf_xml_escaped(struct host_buf *b, const char *s)
{
	for (; *s; s++) {
		int r;

		switch (*s) {
		case '<':
			r = host_buf_puts(b, "&lt;");
			break;
		case '>':
			r = host_buf_puts(b, "&gt;");
			break;
		case '&':
			r = host_buf_puts(b, "&amp;");
			break;
		case '"':
			r = host_buf_puts(b, "&quot;");
			break;
		default:
			r = host_buf_append(b, s, 1);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

char *host_buf_steal(struct host_buf *b)
{
	char *d = b->data ? b->data : host_strdup("");

	host_buf_init(b, b->max);
	return d;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char *host_escape_path_element(const char *id)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(id);
	char *out, *o;

	if (n == 0)
		return host_strdup("_");
	out = o = host_malloc(n * 3 + 1);
	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (is_alnum(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '_';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *host_unescape_path_element(const char *el)
{
	size_t n = strlen(el);
	char *out, *o;

	if (strcmp(el, "_") == 0)
		return host_strdup("");
	out = o = host_malloc(n + 1);
	for (const char *p = el; *p; p++) {
		if (is_alnum((unsigned char)*p)) {
			*o++ = *p;
			continue;
		}
		int hi, lo;
		if (*p != '_' || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0 ||
		    (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		p += 2;
	}
	*o = '\0';
	return out;
}

char *host_default_plugin_path(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		char *cand = host_asprintf("%s/../lib/dms-executor.so", dirname(exe));
		char real[PATH_MAX];
		if (access(cand, R_OK) == 0 && realpath(cand, real)) {
			free(cand);
			return host_strdup(real);
		}
		free(cand);
	}
	return host_strdup(DMS_PLUGIN_INSTALL_PATH);
}

char *host_read_file(const char *path, size_t max, size_t *len_out)
{
	struct host_buf b;
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	host_buf_init(&b, max);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			host_buf_free(&b);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		if (host_buf_append(&b, chunk, (size_t)r) < 0) {
			close(fd);
			host_buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	if (len_out)
		*len_out = b.len;
	return host_buf_steal(&b);
}

char *host_config_take_key(char *config, const char *key)
{
	size_t klen = strlen(key);
	char *line = config;

	while (line && *line) {
		char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > klen + 1 && strncmp(line, key, klen) == 0 && line[klen] == ':') {
			const char *v = line + klen + 1;
			const char *end = line + len;
			while (v < end && (*v == ' ' || *v == '\t' || *v == '"' || *v == '\''))
				v++;
			while (end > v && strchr(" \t\r\"'", end[-1]))
				end--;
			char *value = host_strndup(v, (size_t)(end - v));
			memset(line, ' ', len); /* keep line numbers */
			line[0] = '#';
			return value;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}
