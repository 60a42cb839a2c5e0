/* fuzz_demux.c — libFuzzer harness for the Docker log demultiplexer
 * (handlers/demux.c), a differential test: the bytes are cut at random
 * split points and fed piece by piece, and what comes out must be exactly
 * what a one-pass reference parser of the whole buffer produces — same
 * payload bytes per stream, in order, same verdict on malformed headers
 * (stream byte > 2), same "ended on a frame boundary" answer. A sink that
 * stops the demultiplexer part-way is also exercised: feeding resumes from
 * the byte after the last chunk the sink accepted (the contract in
 * demux.c: "a sink that stops us leaves a state from which feeding can
 * resume with the next byte").
 *
 * Input layout: byte 0 = flags (bit 0: raw/TTY mode, bit 1: stop the sink
 * once), byte 1 = number of split points n (mod 16), then n 16-bit split
 * offsets, one 16-bit stop position, then the stream bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demux.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_demux: contract broken: %s: ", #cond);               \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct out {
	char *data[3];
	size_t len[3];
	size_t total;   /* payload bytes accepted so far, all streams */
	size_t stop_at; /* stop (return 7) once total reaches this; 0: never */
	bool stopped;
	const char *last_end; /* one past the last chunk accepted */
};

static void out_add(struct out *o, int stream, const char *p, size_t n)
{
	CHECK(stream >= 0 && stream <= 2, "stream %d", stream);
	CHECK(n > 0, "empty chunk");
	char *grown = realloc(o->data[stream], o->len[stream] + n);
	if (!grown)
		abort();
	memcpy(grown + o->len[stream], p, n);
	o->data[stream] = grown;
	o->len[stream] += n;
	o->total += n;
}

static int sink(void *ud, int stream, const char *p, size_t n)
{
	struct out *o = ud;

	out_add(o, stream, p, n);
	o->last_end = p + n;
	if (o->stop_at && !o->stopped && o->total >= o->stop_at) {
		o->stopped = true;
		return 7;
	}
	return 0;
}

/* The reference: one pass over the whole buffer, no state machine. Returns
 * -1 on a bad stream byte (like demux_feed), else 0; *boundary says whether
 * the buffer ended between frames. */
static int reference(bool raw, const uint8_t *p, size_t n, struct out *o, bool *boundary)
{
	size_t i = 0;

	if (raw) {
		if (n)
			out_add(o, DEMUX_STDOUT, (const char *)p, n);
		*boundary = true;
		return 0;
	}
	while (i + 8 <= n) {
		uint32_t size = (uint32_t)p[i + 4] << 24 | (uint32_t)p[i + 5] << 16 |
		                (uint32_t)p[i + 6] << 8 | p[i + 7];

		if (p[i] > 2) {
			*boundary = false;
			return -1;
		}
		size_t have = n - i - 8 < size ? n - i - 8 : size;
		if (have)
			out_add(o, p[i], (const char *)p + i + 8, have);
		if (have < size) {
			*boundary = false;
			return 0;
		}
		i += 8 + size;
	}
	*boundary = i == n;
	return 0;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void out_free(struct out *o)
{
	for (int s = 0; s < 3; s++)
		free(o->data[s]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	bool raw = data[0] & 1, stop = data[0] & 2;
	size_t nsplit = data[1] % 16, hdr = 2 + 2 * nsplit + 2;
	if (size < hdr)
		return 0;
	const uint8_t *stream = data + hdr;
	size_t len = size - hdr;
	uint16_t splits[17];

	for (size_t i = 0; i < nsplit; i++)
		splits[i] = (uint16_t)((data[2 + 2 * i] << 8 | data[3 + 2 * i]) % (len + 1));
	splits[nsplit] = (uint16_t)len;
	qsort(splits, nsplit + 1, sizeof(splits[0]), cmp_u16);
	size_t stop_at = (size_t)(data[hdr - 2] << 8 | data[hdr - 1]);

	struct out want = {0}, got = {.stop_at = stop ? stop_at + 1 : 0};
	bool want_boundary;
	int want_rc = reference(raw, stream, len, &want, &want_boundary);

	/* The pieces are copied into exact-size heap buffers so that a read
	 * past a piece is an ASan report, not a silent read of the next one. */
	struct demux d;
	int rc = 0;
	size_t from = 0;

	demux_init(&d, raw);
	for (size_t k = 0; k <= nsplit && rc != -1; k++) {
		size_t to = splits[k];

		while (from < to) {
			size_t n = to - from;
			char *piece = malloc(n);

			if (!piece)
				abort();
			memcpy(piece, stream + from, n);
			got.last_end = NULL;
			rc = demux_feed(&d, piece, n, sink, &got);
			if (rc == 7) {
				/* Stopped: resume after the last accepted chunk. */
				CHECK(got.last_end != NULL, "stopped without a chunk");
				from += (size_t)(got.last_end - piece);
				free(piece);
				rc = 0;
				continue;
			}
			free(piece);
			CHECK(rc == 0 || rc == -1, "demux_feed returned %d", rc);
			if (rc == -1)
				break;
			from = to;
		}
	}
	CHECK(rc == want_rc, "rc %d, reference %d", rc, want_rc);
	for (int s = 0; s < 3; s++) {
		/* After a bad header, the reference stops where the state
		 * machine does: both saw the same frames before it. */
		CHECK(got.len[s] == want.len[s], "stream %d: %zu bytes, reference %zu", s,
		      got.len[s], want.len[s]);
		CHECK(got.len[s] == 0 || memcmp(got.data[s], want.data[s], got.len[s]) == 0,
		      "stream %d differs", s);
	}
	if (rc == 0)
		CHECK(demux_at_boundary(&d) == want_boundary, "boundary %d, reference %d",
		      demux_at_boundary(&d), want_boundary);
	else
		CHECK(!demux_at_boundary(&d), "at a boundary after a bad header");
	/* Once bad, always bad. */
	if (rc == -1)
		CHECK(demux_feed(&d, "x", 1, sink, &got) == -1, "recovered from a bad header");

	/* The header writer and the reader agree. */
	uint8_t h[8];
	uint32_t n = len ? (uint32_t)stream[0] << 16 | (uint32_t)len : 0;
	int sid = (int)(data[0] >> 2) % 3;
	demux_frame_header(h, sid, n);
	CHECK(h[0] == sid && !h[1] && !h[2] && !h[3] &&
	          ((uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7]) == n,
	      "frame header for (%d, %u)", sid, n);

	out_free(&want);
	out_free(&got);
	return 0;
}
