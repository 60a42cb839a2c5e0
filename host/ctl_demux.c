/* ctl_demux.c — the Docker log frame state machine for dmsctl (ctl.h).
 * A state machine rather than "read 8 bytes, read n bytes" because the fd
 * is a pipe or socket and reads return whatever is there. */
#include "ctl.h"

#include <string.h>

void ctl_demux_init(struct ctl_demux *d)
{
	memset(d, 0, sizeof(*d));
}

static bool header_valid(const uint8_t *h)
{
	return h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

int ctl_demux_feed(struct ctl_demux *d, const char *data, size_t len, ctl_sink_fn sink, void *ud)
{
	int r;

	while (len > 0) {
		if (d->raw)
			return sink(ud, 1, data, len);
		if (d->remaining > 0) {
			size_t n = len < d->remaining ? len : d->remaining;
			if ((r = sink(ud, d->stream, data, n)) != 0)
				return r;
			d->remaining -= (uint32_t)n;
			data += n;
			len -= n;
			continue;
		}
		size_t want = sizeof(d->hdr) - d->hdr_len;
		size_t n = len < want ? len : want;
		memcpy(d->hdr + d->hdr_len, data, n);
		d->hdr_len += n;
		data += n;
		len -= n;
		/* Judge the header as soon as its first 4 bytes are in. */
		if (d->hdr_len >= 4 && !header_valid(d->hdr)) {
			d->raw = true;
			if ((r = sink(ud, 1, (const char *)d->hdr, d->hdr_len)) != 0)
				return r;
			d->hdr_len = 0;
			continue;
		}
		if (d->hdr_len < sizeof(d->hdr))
			continue;
		d->stream = d->hdr[0] == 2 ? 2 : 1;
		d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
		               (uint32_t)d->hdr[6] << 8 | d->hdr[7];
		d->hdr_len = 0;
	}
	return 0;
}
