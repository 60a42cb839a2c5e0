/* demux.h — Docker's multiplexed log stream ("application/
 * vnd.docker.multiplexed-stream"): frames of an 8-byte header {stream, 0, 0,
 * 0, size32 big-endian} then size bytes. A state machine, so headers and
 * payloads may be split across reads at any byte. TTY containers send raw
 * bytes: demux_init(d, true) passes everything through as stdout. */
#ifndef DMS_DEMUX_H
#define DMS_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { DEMUX_STDIN = 0, DEMUX_STDOUT = 1, DEMUX_STDERR = 2 };
/* Not an engine's: the log spool's stamp records (spool.h). A demux takes
 * them only when `stamps` is set. */
enum { DEMUX_STAMP = 3 };

struct demux {
	bool raw;
	uint8_t hdr[8];
	size_t hdr_len;
	uint32_t remaining; /* payload bytes left in the current frame */
	int stream;
	bool bad;    /* an invalid header was seen; stream abandoned */
	bool stamps; /* frames of stream DEMUX_STAMP are valid (the spool's) */
};

/* Called per payload chunk (a frame may arrive in several chunks). Return
 * non-zero to stop; demux_feed then returns that value. */
typedef int (*demux_sink_fn)(void *user_data, int stream, const char *data, size_t len);

void demux_init(struct demux *d, bool raw);
/* 0 on success, -1 on a malformed header (stream id > 2), or the sink's
 * non-zero return. */
int demux_feed(struct demux *d, const char *data, size_t len, demux_sink_fn sink, void *ud);
/* True when the stream ended on a frame boundary. */
bool demux_at_boundary(const struct demux *d);

/* Writes an 8-byte frame header for (stream, len) into hdr. */
void demux_frame_header(uint8_t hdr[8], int stream, uint32_t len);

#endif
