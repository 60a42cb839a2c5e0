/* buf.c — bounded growable byte buffers (buf.h).
 *
 * Exists because everything an engine sends (HTTP bodies, JSON, logs) is
 * untrusted in size: each buffer states its maximum and refuses to grow past
 * it, like libcurl's dynbuf, instead of letting a chatty engine exhaust the
 * host. capbuf is the capped capture behind a result's stdout/stderr, whose
 * truncation flag must be exact.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Makes room for `extra` more bytes plus the NUL. */
static int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
	/* Never allocate far past what the maximum allows. */
	if (b->max && cap > b->max + 1)
		cap = need > b->max + 1 ? need : b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (b->max && (n > b->max || b->len > b->max - n))
		return -1;
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	rc = buf_append(b, s, (size_t)n);
	free(s);
	return rc;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

char *buf_steal(struct buf *b)
{
	char *s = b->data;

	if (!s)
		s = strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return s;
}

void capbuf_init(struct capbuf *c, size_t limit)
{
	c->b = (struct buf)BUF_INIT(0);
	c->limit = limit;
	c->truncated = false;
}

int capbuf_append(struct capbuf *c, const void *data, size_t n)
{
	size_t room = c->b.len < c->limit ? c->limit - c->b.len : 0;

	if (n > room) {
		c->truncated = true;
		n = room;
	}
	if (n == 0)
		return 0;
	return buf_append(&c->b, data, n);
}

void capbuf_free(struct capbuf *c)
{
	if (!c)
		return;
	buf_free(&c->b);
	c->truncated = false;
}
