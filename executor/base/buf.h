/* buf.h — growable byte buffers that refuse to grow past a stated maximum.
 * Every buffer fed by an engine is one of these. */
#ifndef DMS_BUF_H
#define DMS_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len; 0 = unlimited */
};

#define BUF_INIT(maxbytes)                                                                         \
	{                                                                                          \
		NULL, 0, 0, (maxbytes)                                                             \
	}

/* Appends n bytes. Returns 0, or -1 when len would exceed max (nothing is
 * appended) or on allocation failure. */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b); /* len = 0, keeps memory */
void buf_free(struct buf *b);  /* frees, back to BUF_INIT(max) */
/* Hands the data out (caller frees; never NULL: "" for empty) and resets. */
char *buf_steal(struct buf *b);

/* A capped capture: keeps the first `limit` bytes and remembers whether
 * more were offered. Exactly `limit` bytes -> truncated == false;
 * limit + 1 -> true. */
struct capbuf {
	struct buf b;
	size_t limit;
	bool truncated;
};
void capbuf_init(struct capbuf *c, size_t limit);
int capbuf_append(struct capbuf *c, const void *data, size_t n);
void capbuf_free(struct capbuf *c);

#endif
