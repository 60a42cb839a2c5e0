/* demux.c — the demultiplexer for Docker's framed log stream (demux.h).
 *
 * Engines send logs of non-TTY containers as frames {stream, 0, 0, 0,
 * size32be} + payload, and a read from the socket may end anywhere: inside
 * a header, inside a payload, between frames. This state machine keeps the
 * partial header and the bytes left of the current payload between calls,
 * so callers feed whatever they read and get payload chunks per stream.
 * The same machine reads the log spool back (spool.c). */

#include <string.h>

#include "demux.h"

#define DEMUX_HDR_LEN 8

void demux_init(struct demux *d, bool raw)
{
	memset(d, 0, sizeof(*d));
	d->raw = raw;
	d->stream = raw ? DEMUX_STDOUT : DEMUX_STDIN;
}

/* A complete header is in d->hdr: start its frame. Only the stream byte is
 * checked, as Docker's own stdcopy does; the padding bytes are not. */
static int demux_start_frame(struct demux *d)
{
	if (d->hdr[0] > (d->stamps ? DEMUX_STAMP : DEMUX_STDERR)) {
		d->bad = true;
		return -1;
	}
	d->stream = d->hdr[0];
	d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
	               (uint32_t)d->hdr[6] << 8 | (uint32_t)d->hdr[7];
	/* A zero-length frame is complete at once: back to reading headers. */
	d->hdr_len = d->remaining ? DEMUX_HDR_LEN : 0;
	return 0;
}

int demux_feed(struct demux *d, const char *data, size_t len, demux_sink_fn sink, void *ud)
{
	int rc;

	if (d->bad)
		return -1;
	if (d->raw)
		return len ? sink(ud, DEMUX_STDOUT, data, len) : 0;
	while (len > 0) {
		if (d->hdr_len < DEMUX_HDR_LEN) {
			size_t take = DEMUX_HDR_LEN - d->hdr_len;

			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, data, take);
			d->hdr_len += take;
			data += take;
			len -= take;
			if (d->hdr_len == DEMUX_HDR_LEN && demux_start_frame(d) != 0)
				return -1;
			continue;
		}
		size_t chunk = len < d->remaining ? len : d->remaining;

		/* Advance first, so a sink that stops us leaves a state from
		 * which feeding can resume with the next byte. */
		d->remaining -= (uint32_t)chunk;
		if (d->remaining == 0)
			d->hdr_len = 0;
		if ((rc = sink(ud, d->stream, data, chunk)) != 0)
			return rc;
		data += chunk;
		len -= chunk;
	}
	return 0;
}

bool demux_at_boundary(const struct demux *d)
{
	if (d->raw)
		return true;
	return !d->bad && d->hdr_len == 0 && d->remaining == 0;
}

void demux_frame_header(uint8_t hdr[8], int stream, uint32_t len)
{
	hdr[0] = (uint8_t)stream;
	hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = (uint8_t)(len >> 24);
	hdr[5] = (uint8_t)(len >> 16);
	hdr[6] = (uint8_t)(len >> 8);
	hdr[7] = (uint8_t)len;
}
