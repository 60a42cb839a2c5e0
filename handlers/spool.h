/* spool.h — a job's captured output on disk, so GetLogStream works after the
 * container is gone. The file holds Docker-framed records (demux.h) in the
 * order the engine produced them, at most `limit` bytes of payload; what
 * does not fit is dropped and remembered (spool->truncated), each record
 * preceded by its stamp when the engine gave one. Written once,
 * by the harvester after the exit; read by any number of log readers. */
#ifndef DMS_SPOOL_H
#define DMS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dms/executor.h>
#include "demux.h"

struct spool {
	int fd;
	char *path;
	uint64_t limit;    /* payload and stamp bytes kept at most */
	uint64_t bytes[3]; /* payload bytes kept, per stream (1, 2) */
	uint64_t stamps;   /* bytes of stamp records kept (they count too) */
	bool truncated;
};

/* Creates (truncating) path with mode 0600. */
int spool_create(const char *path, uint64_t limit, struct spool **out, dms_error **err);
/* Appends one framed record; past the limit drops the rest and sets
 * truncated. Returns 0, or -1 on a write error (errno set). */
int spool_append(struct spool *s, int stream, const char *data, size_t len);
/* Appends the stamp (wall clock, ns) of the record of `stream` whose
 * payload follows: a frame of stream DEMUX_STAMP holding {stream, ns as
 * 64-bit big-endian}, SPOOL_STAMP_LEN bytes, not counted in the limit.
 * Nothing once the spool is truncated. 0, or -1 on a write error. */
#define SPOOL_STAMP_LEN 9
int spool_append_stamp(struct spool *s, int stream, int64_t wall_ns);
/* Closes the fd; the file stays. NULL-safe. */
void spool_close(struct spool *s);

/* Replays the spool at path through sink, skipping the first skip[1] stdout
 * and skip[2] stderr payload bytes (skip may be NULL). Stamp records reach
 * the sink whole, as stream DEMUX_STAMP with SPOOL_STAMP_LEN bytes
 * (spool_stamp_decode reads them); sinks that want none ignore that
 * stream. Returns 0, -1 on an I/O error or malformed file, or the sink's
 * non-zero return. */
int spool_replay(const char *path, const uint64_t skip[3], demux_sink_fn sink, void *ud);
/* A stamp record's stream and time; false when it is not one. */
bool spool_stamp_decode(const char *data, size_t len, int *stream, int64_t *wall_ns);

#endif
