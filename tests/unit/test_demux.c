/* test_demux.c — unit tests of the Docker log demultiplexer
 * (handlers/demux.c): a multi-frame stream gives the same output however it
 * is split (every single split point, every pair, byte by byte), headers
 * split across reads, zero-length frames, a bad stream id, the sink's stop
 * value, raw (TTY) pass-through and the frame header encoding. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "demux.h"
#include "test_assert.h"

TestSuite(demux);

/* --- a recording sink ------------------------------------------------- */

/* What a sink saw: the bytes of each stream and, for ordering, a transcript
 * "<stream>:<bytes>|" in which consecutive chunks of one stream are merged
 * (so it does not depend on where reads were split). */
struct record {
	struct buf stream[3];
	struct buf transcript;
	int last_stream;
	size_t calls;
	size_t empty_calls;
	int stop_after; /* > 0: return 99 on that call */
};

static void record_init(struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->last_stream = -1;
}

static void record_free(struct record *r)
{
	for (int i = 0; i < 3; i++)
		buf_free(&r->stream[i]);
	buf_free(&r->transcript);
}

static int record_sink(void *ud, int stream, const char *data, size_t len)
{
	struct record *r = ud;

	cr_assert(stream >= 0 && stream <= 2, "sink got stream %d", stream);
	r->calls++;
	if (len == 0)
		r->empty_calls++;
	assert_cmp(buf_append(&r->stream[stream], data, len), ==, 0);
	if (stream != r->last_stream) {
		if (r->last_stream >= 0)
			assert_cmp(buf_append(&r->transcript, "|", 1), ==, 0);
		assert_cmp(buf_appendf(&r->transcript, "%d:", stream), ==, 0);
		r->last_stream = stream;
	}
	assert_cmp(buf_append(&r->transcript, data, len), ==, 0);
	if (r->stop_after && r->calls == (size_t)r->stop_after)
		return 99;
	return 0;
}

static const char *transcript(const struct record *r)
{
	return r->transcript.data ? r->transcript.data : "";
}

/* --- a multi-frame stream --------------------------------------------- */

static void frame(struct buf *b, int stream, const char *data, size_t len)
{
	uint8_t hdr[8];

	demux_frame_header(hdr, stream, (uint32_t)len);
	assert_cmp(buf_append(b, hdr, sizeof(hdr)), ==, 0);
	assert_cmp(buf_append(b, data, len), ==, 0);
}

/* Frames on all three streams, a zero-length frame in the middle and at
 * the end, and one payload longer than 255 bytes (a size using two bytes of
 * the length field). */
static void sample_stream(struct buf *b, char *big, size_t big_len)
{
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	frame(b, 1, "hello ", 6);
	frame(b, 2, "oops\n", 5);
	frame(b, 1, "", 0);
	frame(b, 1, "world\n", 6);
	frame(b, 2, big, big_len);
	frame(b, 0, "in", 2);
	frame(b, 1, "bye", 3);
	frame(b, 2, "", 0);
}

static void feed_ok(struct demux *d, const char *data, size_t len, struct record *r,
                    const char *what, size_t at)
{
	int rc = demux_feed(d, data, len, record_sink, r);

	cr_assert_eq(rc, 0, "%s %zu: demux_feed rc = %d", what, at, rc);
}

Test(demux, every_split_point_gives_identical_output)
{
	struct buf in = BUF_INIT(0);
	char big[300];
	struct record whole;
	struct demux d;

	sample_stream(&in, big, sizeof(big));
	record_init(&whole);
	demux_init(&d, false);
	feed_ok(&d, in.data, in.len, &whole, "whole", 0);
	cr_assert(demux_at_boundary(&d));
	cr_assert_eq(whole.stream[1].len, 15, "stdout has %zu bytes", whole.stream[1].len);
	cr_assert_str_eq(whole.stream[1].data, "hello world\nbye", "stdout = %s",
	                 whole.stream[1].data);
	cr_assert_eq(whole.stream[2].len, 5 + sizeof(big), "stderr has %zu bytes",
	             whole.stream[2].len);
	cr_assert_str_eq(whole.stream[0].data, "in", "stdin = %s", whole.stream[0].data);
	cr_assert_eq(whole.empty_calls, 0, "the sink was called with 0 bytes %zu times",
	             whole.empty_calls);

	for (size_t i = 0; i <= in.len; i++) {
		struct record part;

		record_init(&part);
		demux_init(&d, false);
		feed_ok(&d, in.data, i, &part, "split at", i);
		feed_ok(&d, in.data + i, in.len - i, &part, "split at", i);
		cr_assert(demux_at_boundary(&d), "split at %zu: not at a boundary", i);
		cr_assert_str_eq(transcript(&part), transcript(&whole),
		                 "split at %zu: output differs", i);
		cr_assert_eq(part.empty_calls, 0, "split at %zu: empty sink call", i);
		record_free(&part);
	}
	record_free(&whole);
	buf_free(&in);
}

Test(demux, every_pair_of_split_points_gives_identical_output)
{
	struct buf in = BUF_INIT(0);
	char big[40];
	struct record whole;
	struct demux d;

	sample_stream(&in, big, sizeof(big));
	record_init(&whole);
	demux_init(&d, false);
	feed_ok(&d, in.data, in.len, &whole, "whole", 0);

	for (size_t i = 0; i <= in.len; i++) {
		for (size_t j = i; j <= in.len; j++) {
			struct record part;

			record_init(&part);
			demux_init(&d, false);
			feed_ok(&d, in.data, i, &part, "first split at", i);
			feed_ok(&d, in.data + i, j - i, &part, "second split at", j);
			feed_ok(&d, in.data + j, in.len - j, &part, "second split at", j);
			cr_assert(demux_at_boundary(&d), "splits %zu,%zu: not at a boundary", i, j);
			cr_assert_str_eq(transcript(&part), transcript(&whole),
			                 "splits at %zu and %zu: output differs", i, j);
			record_free(&part);
		}
	}
	record_free(&whole);
	buf_free(&in);
}

Test(demux, byte_by_byte)
{
	struct buf in = BUF_INIT(0);
	char big[300];
	struct record whole, part;
	struct demux d;

	sample_stream(&in, big, sizeof(big));
	record_init(&whole);
	record_init(&part);
	demux_init(&d, false);
	feed_ok(&d, in.data, in.len, &whole, "whole", 0);
	demux_init(&d, false);
	for (size_t i = 0; i < in.len; i++)
		feed_ok(&d, in.data + i, 1, &part, "byte", i);
	cr_assert_str_eq(transcript(&part), transcript(&whole), "byte-by-byte output differs");
	cr_assert(demux_at_boundary(&d));
	record_free(&whole);
	record_free(&part);
	buf_free(&in);
}

Test(demux, header_split_delivers_nothing_until_payload)
{
	struct buf in = BUF_INIT(0);
	struct record r;
	struct demux d;

	frame(&in, 2, "abc", 3);
	record_init(&r);
	demux_init(&d, false);
	feed_ok(&d, in.data, 3, &r, "header part", 1);
	cr_assert_eq(r.calls, 0, "sink called %zu times on 3 header bytes", r.calls);
	cr_assert_not(demux_at_boundary(&d), "at a boundary inside a header");
	feed_ok(&d, in.data + 3, 5, &r, "header part", 2);
	cr_assert_eq(r.calls, 0, "sink called %zu times on a header", r.calls);
	cr_assert_not(demux_at_boundary(&d), "at a boundary before the payload");
	feed_ok(&d, in.data + 8, 1, &r, "payload", 1);
	cr_assert_str_eq(transcript(&r), "2:a", "transcript = %s", transcript(&r));
	cr_assert_not(demux_at_boundary(&d), "at a boundary inside a payload");
	feed_ok(&d, in.data + 9, 2, &r, "payload", 2);
	cr_assert_str_eq(transcript(&r), "2:abc", "transcript = %s", transcript(&r));
	cr_assert(demux_at_boundary(&d));
	record_free(&r);
	buf_free(&in);
}

Test(demux, zero_length_frames_only)
{
	struct buf in = BUF_INIT(0);
	struct record r;
	struct demux d;

	for (int i = 0; i < 5; i++)
		frame(&in, 1 + i % 2, "", 0);
	record_init(&r);
	demux_init(&d, false);
	feed_ok(&d, in.data, in.len, &r, "zero frames", 0);
	cr_assert_eq(r.calls, 0, "sink called %zu times for empty frames", r.calls);
	cr_assert(demux_at_boundary(&d));
	/* And a frame after them still arrives. */
	buf_reset(&in);
	frame(&in, 1, "x", 1);
	feed_ok(&d, in.data, in.len, &r, "after", 0);
	cr_assert_str_eq(transcript(&r), "1:x", "transcript = %s", transcript(&r));
	record_free(&r);
	buf_free(&in);
}

Test(demux, empty_feed_is_a_no_op)
{
	struct record r;
	struct demux d;

	record_init(&r);
	demux_init(&d, false);
	feed_ok(&d, "", 0, &r, "empty", 0);
	cr_assert_eq(r.calls, 0, "r.calls = %lld", (long long)(r.calls));
	cr_assert(demux_at_boundary(&d));
	record_free(&r);
}

/* Bad stream ids, each after one good frame, split at every byte of the
 * bad header. */
struct bad_id {
	uint8_t id;
};

ParameterizedTestParameters(demux, bad_stream_id)
{
	static struct bad_id ids[] = {{3}, {4}, {0x7f}, {0xff}};

	return cr_make_param_array(struct bad_id, ids, sizeof(ids) / sizeof(ids[0]));
}

ParameterizedTest(struct bad_id *p, demux, bad_stream_id)
{
	struct buf in = BUF_INIT(0);
	uint8_t hdr[8];

	frame(&in, 1, "ok", 2);
	demux_frame_header(hdr, p->id, 4);
	assert_cmp(buf_append(&in, hdr, 8), ==, 0);
	assert_cmp(buf_append(&in, "gone", 4), ==, 0);
	for (size_t split = 0; split <= in.len; split++) {
		struct record r;
		struct demux d;
		int rc1, rc2;

		record_init(&r);
		demux_init(&d, false);
		rc1 = demux_feed(&d, in.data, split, record_sink, &r);
		rc2 = demux_feed(&d, in.data + split, in.len - split, record_sink, &r);
		cr_assert(rc1 == -1 || rc2 == -1, "id %u split %zu: rc %d, %d", p->id, split, rc1,
		          rc2);
		cr_assert(d.bad, "id %u split %zu: bad not set", p->id, split);
		cr_assert_not(demux_at_boundary(&d), "id %u: a bad stream is at a boundary", p->id);
		cr_assert_str_eq(transcript(&r), "1:ok", "id %u split %zu: transcript = %s", p->id,
		                 split, transcript(&r));
		/* Abandoned: later input is refused, not misread. */
		rc1 = demux_feed(&d, "\x01\0\0\0\0\0\0\x01x", 9, record_sink, &r);
		cr_assert_eq(rc1, -1, "feed after bad: rc = %d", rc1);
		cr_assert_str_eq(transcript(&r), "1:ok", "output after bad: %s", transcript(&r));
		record_free(&r);
	}
	buf_free(&in);
}

Test(demux, sink_stop_value_is_returned)
{
	struct buf in = BUF_INIT(0);
	struct record r;
	struct demux d;
	int rc;

	frame(&in, 1, "one", 3);
	frame(&in, 2, "two", 3);
	record_init(&r);
	r.stop_after = 1;
	demux_init(&d, false);
	rc = demux_feed(&d, in.data, in.len, record_sink, &r);
	cr_assert_eq(rc, 99, "rc = %d", rc);
	cr_assert_eq(r.calls, 1, "sink called %zu times after asking to stop", r.calls);
	cr_assert_str_eq(transcript(&r), "1:one", "transcript = %s", transcript(&r));
	record_free(&r);
	buf_free(&in);
}

Test(demux, raw_mode_passes_everything_as_stdout)
{
	/* Bytes that would be a bad header in framed mode. */
	const char raw[] = "\x05\0\0\0\0\0\0\x02hi\n";
	struct record r;
	struct demux d;

	record_init(&r);
	demux_init(&d, true);
	feed_ok(&d, raw, 5, &r, "raw", 0);
	feed_ok(&d, raw + 5, sizeof(raw) - 1 - 5, &r, "raw", 1);
	feed_ok(&d, raw, 0, &r, "raw empty", 2);
	cr_assert_eq(r.stream[1].len, sizeof(raw) - 1, "stdout has %zu bytes", r.stream[1].len);
	cr_assert(memcmp(r.stream[1].data, raw, sizeof(raw) - 1) == 0, "stdout differs");
	cr_assert_eq(r.stream[2].len, 0, "stderr has %zu bytes", r.stream[2].len);
	cr_assert_eq(r.empty_calls, 0, "sink called with 0 bytes");
	cr_assert(demux_at_boundary(&d));
	cr_assert_not(d.bad, "d.bad is true");
	record_free(&r);
}

Test(demux, frame_header_encoding)
{
	static const struct {
		int stream;
		uint32_t len;
		uint8_t want[8];
	} cases[] = {
	    {1, 0, {1, 0, 0, 0, 0, 0, 0, 0}},
	    {2, 5, {2, 0, 0, 0, 0, 0, 0, 5}},
	    {1, 0x01020304, {1, 0, 0, 0, 1, 2, 3, 4}},
	    {0, 0xffffffff, {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t hdr[8];

		memset(hdr, 0xaa, sizeof(hdr));
		demux_frame_header(hdr, cases[i].stream, cases[i].len);
		for (int b = 0; b < 8; b++)
			cr_assert_eq(hdr[b], cases[i].want[b],
			             "case %zu byte %d: 0x%02x, want 0x%02x", i, b, hdr[b],
			             cases[i].want[b]);
	}
}

Test(demux, large_frame_in_pieces)
{
	uint8_t hdr[8];
	struct record r;
	struct demux d;
	char chunk[4096];

	memset(chunk, 'z', sizeof(chunk));
	demux_frame_header(hdr, 2, 1u << 20);
	record_init(&r);
	demux_init(&d, false);
	feed_ok(&d, (const char *)hdr, 8, &r, "header", 0);
	for (int i = 0; i < 256; i++) {
		cr_assert_not(demux_at_boundary(&d), "boundary after %d chunks of 1 MiB frame", i);
		feed_ok(&d, chunk, sizeof(chunk), &r, "chunk", (size_t)i);
	}
	cr_assert(demux_at_boundary(&d));
	cr_assert_eq(r.stream[2].len, 1u << 20, "stderr has %zu bytes", r.stream[2].len);
	record_free(&r);
}
