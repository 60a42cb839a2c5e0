/* split.h — shared by the stream harnesses: cuts the fuzz input into
 * pieces at split points taken from its first bytes, each piece an
 * exact-size heap copy (so an over-read of a piece is caught), the way
 * bytes arrive from a socket. */
#ifndef DMS_FUZZ_SPLIT_H
#define DMS_FUZZ_SPLIT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_MAX 16

struct pieces {
	char *p[SPLIT_MAX + 1];
	size_t len[SPLIT_MAX + 1];
	size_t n;
};

/* data: byte 0 = number of split points n (mod SPLIT_MAX), then n 16-bit
 * offsets, then the stream. Returns the stream (*body, *body_len) too. */
static inline void split_input(const uint8_t *data, size_t size, struct pieces *out,
                               const uint8_t **body, size_t *body_len)
{
	size_t n = size ? data[0] % SPLIT_MAX : 0, head = 1 + 2 * n;
	size_t cuts[SPLIT_MAX + 2];

	memset(out, 0, sizeof(*out));
	if (size < head) {
		*body = data + size;
		*body_len = 0;
		return;
	}
	*body = data + head;
	*body_len = size - head;
	cuts[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t c = (size_t)(data[1 + 2 * i] << 8 | data[2 + 2 * i]);
		cuts[i + 1] = *body_len ? c % (*body_len + 1) : 0;
	}
	/* sorted, so the pieces are in order */
	for (size_t i = 1; i <= n; i++)
		for (size_t j = i; j > 1 && cuts[j] < cuts[j - 1]; j--) {
			size_t t = cuts[j];
			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
	cuts[n + 1] = *body_len;
	for (size_t i = 0; i <= n; i++) {
		size_t len = cuts[i + 1] - cuts[i];
		out->p[out->n] = malloc(len ? len : 1);
		if (!out->p[out->n])
			abort();
		memcpy(out->p[out->n], *body + cuts[i], len);
		out->len[out->n++] = len;
	}
}

static inline void pieces_free(struct pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->p[i]);
	ps->n = 0;
}

#endif
