/* fuzz_spool.c — libFuzzer harness for the on-disk log spool
 * (handlers/spool.c). Two checks per input:
 *
 * 1. Replay of a hostile file: the input (after a 4-byte header) is the
 *    spool file; spool_replay must not crash, and what it hands out must be
 *    exactly the payload of the file's frames minus the first skip[1]
 *    stdout and skip[2] stderr bytes; a file that ends inside a frame or has
 *    a bad stream byte is an error (-1, errno EBADMSG) after the payload
 *    read before that point, never data made up.
 *
 * 2. Round trip: the same bytes cut into records (stream, length) are
 *    written with spool_append under a byte limit taken from the input,
 *    then replayed: the replay is exactly what fits under `limit` (payload
 *    bytes and whole stamp records count; the first record that does not
 *    fit ends what is kept), in order, and spool->truncated says whether
 *    anything was dropped.
 *
 * Stamp records (stream 3, spool_append_stamp) are checked too: a valid
 * one reaches the sink whole and in order, anything else of stream 3 is
 * a malformed file; the round trip writes one for each record of stream 3
 * and gets back those written before the spool was truncated.
 *
 * Input layout: byte 0 = skip for stdout, byte 1 = skip for stderr (bytes,
 * times 3), bytes 2-3 = spool limit (0: unlimited), then the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "spool.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_spool: contract broken: %s: ", #cond);               \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define STAMPS_KEPT 4096
#define STAMPS_CMP(n) ((n) < STAMPS_KEPT ? (n) : STAMPS_KEPT)

struct out {
	char *data[3];
	size_t len[3];
	char *merged; /* all streams, in order */
	size_t merged_len;
	int64_t stamps[STAMPS_KEPT]; /* stream * 2^56 + ns of the stamp records, in order */
	size_t n_stamps;
};

static void grow_append(char **buf, size_t *len, const char *p, size_t n)
{
	if (n == 0)
		return;
	char *g = realloc(*buf, *len + n);
	if (!g)
		abort();
	memcpy(g + *len, p, n);
	*buf = g;
	*len += n;
}

static int sink(void *ud, int stream, const char *p, size_t n)
{
	struct out *o = ud;

	if (stream == DEMUX_STAMP) {
		int st;
		int64_t ns;

		CHECK(spool_stamp_decode(p, n, &st, &ns), "a stamp record of %zu bytes", n);
		if (o->n_stamps < STAMPS_KEPT) /* the rest are counted */
			o->stamps[o->n_stamps] =
			    (int64_t)((uint64_t)st << 56) + (ns & 0xffffffffffffff);
		o->n_stamps++;
		return 0;
	}
	CHECK(stream >= 0 && stream <= 2 && n > 0, "chunk (%d, %zu)", stream, n);
	grow_append(&o->data[stream], &o->len[stream], p, n);
	grow_append(&o->merged, &o->merged_len, p, n);
	return 0;
}

static void out_free(struct out *o)
{
	for (int s = 0; s < 3; s++)
		free(o->data[s]);
	free(o->merged);
	o->data[0] = o->data[1] = o->data[2] = o->merged = NULL;
	o->len[0] = o->len[1] = o->len[2] = o->merged_len = o->n_stamps = 0;
}

/* Reference reading of a spool file: the payload per stream, including the
 * part of a last frame that the file cuts short (a streaming reader hands
 * that out before it can know the frame is incomplete); false when the file
 * is not a sequence of whole, valid frames. */
static bool reference(const uint8_t *p, size_t n, struct out *o)
{
	size_t i = 0;

	while (i < n) {
		if (n - i < 8 || p[i] > DEMUX_STAMP)
			return false;
		uint32_t size = (uint32_t)p[i + 4] << 24 | (uint32_t)p[i + 5] << 16 |
		                (uint32_t)p[i + 6] << 8 | p[i + 7];
		size_t have = n - i - 8 < size ? n - i - 8 : size;

		if (p[i] == DEMUX_STAMP && size) { /* {stream <= 2, ns}, whole */
			if (size != SPOOL_STAMP_LEN || have < size || p[i + 8] > 2)
				return false;
			sink(o, DEMUX_STAMP, (const char *)p + i + 8, size);
			i += 8 + size;
			continue;
		}

		if (have)
			sink(o, p[i], (const char *)p + i + 8, have);
		if (have < size)
			return false;
		i += 8 + size;
	}
	return true;
}

static int memfd = -1;
static char memfd_path[64];
static char spool_path[128];

static void remove_spool(void)
{
	unlink(spool_path);
}

static void setup(void)
{
	if (memfd >= 0)
		return;
	memfd = memfd_create("dms-fuzz-spool", MFD_CLOEXEC);
	CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	/* spool_create refuses symlinks (O_NOFOLLOW), so the round trip needs
	 * a real path: tmpfs, one file per process. */
	snprintf(spool_path, sizeof(spool_path), "/dev/shm/dms-fuzz-spool-%d", (int)getpid());
	atexit(remove_spool);
}

static void check_replay(const uint8_t *file, size_t n, const uint64_t skip[3])
{
	struct out want = {0}, got = {0};
	bool valid = reference(file, n, &want);

	CHECK(ftruncate(memfd, 0) == 0 && pwrite(memfd, file, n, 0) == (ssize_t)n, "memfd");
	errno = 0;
	int rc = spool_replay(memfd_path, skip, sink, &got);

	if (!valid) {
		CHECK(rc == -1 && errno == EBADMSG, "malformed file: rc %d errno %d", rc, errno);
	} else {
		CHECK(rc == 0, "valid file: rc %d errno %d", rc, errno);
	}
	if (valid)
		CHECK(got.n_stamps == want.n_stamps &&
		          memcmp(got.stamps, want.stamps,
		                 STAMPS_CMP(want.n_stamps) * sizeof(int64_t)) == 0,
		      "stamps: %zu, want %zu", got.n_stamps, want.n_stamps);
	/* What was handed out (all of it, or up to where the file goes bad)
	 * is exactly the file's payload minus the skipped prefix. */
	for (int s = 0; s <= 2; s++) {
		size_t cut = skip[s] < want.len[s] ? skip[s] : want.len[s];
		size_t expect = want.len[s] - cut;

		CHECK(got.len[s] == expect, "stream %d: %zu bytes, want %zu", s, got.len[s],
		      expect);
		CHECK(expect == 0 || memcmp(got.data[s], want.data[s] + cut, expect) == 0,
		      "stream %d differs", s);
	}
	out_free(&want);
	out_free(&got);
}

static void check_round_trip(const uint8_t *p, size_t n, uint64_t limit)
{
	struct spool *sp = NULL;
	dms_error *err = NULL;
	char *all = NULL; /* the payload the spool must keep: the model's */
	size_t all_len = 0;
	static struct out stamped; /* the stamps written: too big for the stack */
	/* The model of the limit: payload bytes and whole stamp records
	 * (8 + SPOOL_STAMP_LEN bytes each) count; the first record that does
	 * not fit (whole, for a stamp) ends what is kept. */
	const uint64_t stamp_rec = 8 + SPOOL_STAMP_LEN;
	uint64_t used = 0;
	bool cut = false;

	stamped.n_stamps = 0;

	CHECK(spool_create(spool_path, limit, &sp, &err) == 0, "spool_create: %s",
	      err ? err->message : "?");
	/* Records: 1 byte (stream in bits 0-1, length in bits 2-7), then up to
	 * 63 bytes of payload. Stream 3 is refused by spool_append; for it a
	 * stamp of stream len % 3 is written, its ns the record's length. */
	for (size_t i = 0; i < n;) {
		int stream = p[i] & 3;
		size_t len = p[i] >> 2;

		i++;
		if (len > n - i)
			len = n - i;
		int rc = spool_append(sp, stream, (const char *)p + i, len);
		if (stream == 3) {
			CHECK(rc == -1 && errno == EINVAL, "stream 3 accepted");
			CHECK(spool_append_stamp(sp, (int)(len % 3), (int64_t)len) == 0,
			      "spool_append_stamp: %s", strerror(errno));
			if (!cut && limit && limit - used < stamp_rec)
				cut = true;
			if (!cut) {
				char rec[SPOOL_STAMP_LEN] = {(char)(len % 3)};
				rec[SPOOL_STAMP_LEN - 1] = (char)len;
				sink(&stamped, DEMUX_STAMP, rec, sizeof(rec));
				used += stamp_rec;
			}
		} else {
			CHECK(rc == 0, "spool_append: %s", strerror(errno));
			size_t keep = cut ? 0 : len;
			if (!cut && limit && len > limit - used) {
				keep = (size_t)(limit - used);
				cut = true;
			}
			grow_append(&all, &all_len, (const char *)p + i, keep);
			used += keep;
		}
		i += len;
	}
	bool truncated = sp->truncated;
	uint64_t kept = sp->bytes[0] + sp->bytes[1] + sp->bytes[2];
	spool_close(sp);

	size_t expect = all_len;
	struct out got = {0};

	CHECK(kept == expect, "kept %llu, want %zu", (unsigned long long)kept, expect);
	CHECK(truncated == cut, "truncated %d, want %d (limit %llu)", truncated, cut,
	      (unsigned long long)limit);
	CHECK(spool_replay(spool_path, NULL, sink, &got) == 0, "replay of our own spool: %s",
	      strerror(errno));
	CHECK(got.merged_len == expect, "replayed %zu, want %zu", got.merged_len, expect);
	CHECK(expect == 0 || memcmp(got.merged, all, expect) == 0, "replay differs");
	CHECK(got.n_stamps == stamped.n_stamps &&
	          memcmp(got.stamps, stamped.stamps, STAMPS_CMP(got.n_stamps) * sizeof(int64_t)) ==
	              0,
	      "replayed %zu stamps, wrote %zu", got.n_stamps, stamped.n_stamps);
	out_free(&got);
	free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	setup();
	uint64_t skip[3] = {0, (uint64_t)data[0] * 3, (uint64_t)data[1] * 3};
	uint64_t limit = (uint64_t)(data[2] << 8 | data[3]);

	check_replay(data + 4, size - 4, skip);
	check_round_trip(data + 4, size - 4, limit);
	return 0;
}
