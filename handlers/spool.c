/* spool.c — a job's output on disk, in Docker's frame format (spool.h).
 *
 * Exists so GetLogStream can serve a job's output after its container is
 * gone, to any number of readers, without holding it in memory. Records are
 * written with the demux.h framing and read back through the demux state
 * machine, so there is one frame format and one parser for it. A limit of
 * 0 means unlimited, as for struct buf. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "fdio.h"
#include "spool.h"

#define SPOOL_READ_CHUNK 65536

int spool_create(const char *path, uint64_t limit, struct spool **out, dms_error **err)
{
	struct spool *s;
	int fd;

	if (!path || !out)
		return err_set(err, DMS_ERR_INTERNAL, "log spool: no path");
	/* O_NOFOLLOW: the state dir is ours, a symlink in it is not. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(err, DMS_ERR_INTERNAL, "creating log spool %s: %s", path,
		               strerror(errno));
	/* The mode of open() only applies to a new file. */
	if (fchmod(fd, 0600) != 0) {
		int e = errno;

		close(fd);
		return err_set(err, DMS_ERR_INTERNAL, "creating log spool %s: %s", path,
		               strerror(e));
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(path))) {
		free(s);
		close(fd);
		return err_set(err, DMS_ERR_INTERNAL, "creating log spool %s: out of memory", path);
	}
	s->fd = fd;
	s->limit = limit;
	*out = s;
	return 0;
}

static uint64_t spool_kept(const struct spool *s)
{
	return s->bytes[0] + s->bytes[1] + s->bytes[2] + s->stamps;
}

int spool_append(struct spool *s, int stream, const char *data, size_t len)
{
	uint64_t keep = len;
	off_t start;

	if (!s || s->fd < 0 || stream < DEMUX_STDIN || stream > DEMUX_STDERR || (len && !data)) {
		errno = EINVAL;
		return -1;
	}
	if (s->truncated) /* what is kept is a prefix: no holes */
		return 0;
	if (s->limit) {
		uint64_t room = s->limit - spool_kept(s);

		if (keep > room) {
			keep = room;
			s->truncated = true;
		}
	}
	if (keep == 0)
		return 0;
	/* A failed write must not leave half a record: readers would take
	 * the rest of the file for a corrupt frame. Remember where it began. */
	start = lseek(s->fd, 0, SEEK_CUR);
	for (uint64_t done = 0; done < keep;) {
		uint32_t n = keep - done > UINT32_MAX ? UINT32_MAX : (uint32_t)(keep - done);
		uint8_t hdr[8];
		struct iovec iov[2] = {
		    {.iov_base = hdr, .iov_len = sizeof(hdr)},
		    {.iov_base = (char *)data + done, .iov_len = n},
		};

		demux_frame_header(hdr, stream, n);
		if (writev_all(s->fd, iov, 2) != 0) {
			int e = errno;

			if (start >= 0 && ftruncate(s->fd, start) == 0)
				lseek(s->fd, start, SEEK_SET);
			errno = e;
			return -1;
		}
		done += n;
	}
	s->bytes[stream] += keep;
	return 0;
}

int spool_append_stamp(struct spool *s, int stream, int64_t wall_ns)
{
	uint8_t rec[8 + SPOOL_STAMP_LEN];
	uint64_t ns = (uint64_t)wall_ns;
	off_t start;

	if (!s || s->fd < 0 || stream < DEMUX_STDIN || stream > DEMUX_STDERR) {
		errno = EINVAL;
		return -1;
	}
	if (s->truncated)
		return 0;
	/* Stamps count against the limit: a job of many short lines must not
	 * grow the spool past it by a record header and stamp per line. */
	if (s->limit && s->limit - spool_kept(s) < sizeof(rec)) {
		s->truncated = true;
		return 0;
	}
	demux_frame_header(rec, DEMUX_STAMP, SPOOL_STAMP_LEN);
	rec[8] = (uint8_t)stream;
	for (int i = 0; i < 8; i++)
		rec[9 + i] = (uint8_t)(ns >> (56 - 8 * i));
	start = lseek(s->fd, 0, SEEK_CUR);
	if (write_all(s->fd, rec, sizeof(rec)) != 0) {
		int e = errno;

		if (start >= 0 && ftruncate(s->fd, start) == 0)
			lseek(s->fd, start, SEEK_SET);
		errno = e;
		return -1;
	}
	s->stamps += sizeof(rec);
	return 0;
}

bool spool_stamp_decode(const char *data, size_t len, int *stream, int64_t *wall_ns)
{
	const uint8_t *b = (const uint8_t *)data;
	uint64_t ns = 0;

	if (len != SPOOL_STAMP_LEN || b[0] > DEMUX_STDERR)
		return false;
	for (int i = 0; i < 8; i++)
		ns = ns << 8 | b[1 + i];
	*stream = b[0];
	*wall_ns = (int64_t)ns;
	return true;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

struct replay {
	uint64_t skip[3];
	demux_sink_fn sink;
	void *ud;
	const struct demux *d;       /* its frame's remaining bytes */
	char stamp[SPOOL_STAMP_LEN]; /* a stamp record read in pieces */
	size_t stamp_len;
};

/* Drops the first skip[stream] payload bytes of each stream — which may end
 * inside a frame: then only the rest of that frame goes on. */
static int replay_sink(void *user_data, int stream, const char *data, size_t len)
{
	struct replay *r = user_data;

	if (stream == DEMUX_STAMP) { /* exactly one record a frame, handed on whole */
		int st;
		int64_t ns;

		if (r->stamp_len + len + r->d->remaining != sizeof(r->stamp)) {
			errno = EBADMSG;
			return -1;
		}
		memcpy(r->stamp + r->stamp_len, data, len);
		r->stamp_len += len;
		if (r->stamp_len < sizeof(r->stamp))
			return 0;
		r->stamp_len = 0;
		if (!spool_stamp_decode(r->stamp, sizeof(r->stamp), &st, &ns)) {
			errno = EBADMSG;
			return -1;
		}
		return r->sink(r->ud, DEMUX_STAMP, r->stamp, sizeof(r->stamp));
	}
	if (r->skip[stream]) {
		uint64_t cut = r->skip[stream] < len ? r->skip[stream] : len;

		r->skip[stream] -= cut;
		data += cut;
		len -= (size_t)cut;
		if (len == 0)
			return 0;
	}
	return r->sink(r->ud, stream, data, len);
}

int spool_replay(const char *path, const uint64_t skip[3], demux_sink_fn sink, void *ud)
{
	struct replay r = {.sink = sink, .ud = ud};
	struct demux d;
	char *buf;
	int fd, rc = 0;

	if (!path || !sink) {
		errno = EINVAL;
		return -1;
	}
	if (skip)
		memcpy(r.skip, skip, sizeof(r.skip));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (!(buf = malloc(SPOOL_READ_CHUNK))) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	demux_init(&d, false);
	d.stamps = true;
	r.d = &d;
	for (;;) {
		ssize_t n = read(fd, buf, SPOOL_READ_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		if (n == 0) {
			/* A file that ends inside a frame was not written by
			 * spool_append: report it rather than pass it off. */
			if (!demux_at_boundary(&d)) {
				errno = EBADMSG;
				rc = -1;
			}
			break;
		}
		if ((rc = demux_feed(&d, buf, (size_t)n, replay_sink, &r)) != 0) {
			if (d.bad)
				errno = EBADMSG;
			break;
		}
	}
	int saved = errno;

	free(buf);
	close(fd);
	errno = saved;
	return rc;
}
