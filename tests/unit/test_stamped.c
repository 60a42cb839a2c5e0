/* test_stamped.c — the parser of timestamped log frames shared by the Docker
 * and Podman follows (compat_stamped_parse, executor/runtimes/compat.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "runtimes/compat.h"
#include "test_assert.h"

struct seen {
	struct buf out; /* "<stream>|<stamp>|" per record, then its payload */
	int stop_after; /* payload calls before asking to stop, 0 never */
	int payloads;
};

static void on_record(void *ud, int stream, const char *stamp, size_t len)
{
	struct seen *s = ud;
	char head[96];

	snprintf(head, sizeof(head), "<%d|%s|%zu>", stream, len < COMPAT_STAMP_MAX ? stamp : "?",
	         len);
	buf_append(&s->out, head, strlen(head));
}

static int on_payload(void *ud, int stream, const char *data, size_t n)
{
	struct seen *s = ud;

	(void)stream;
	buf_append(&s->out, data, n);
	return s->stop_after && ++s->payloads >= s->stop_after;
}

/* One frame: header for `stream`, then body. */
static size_t frame(char *dst, int stream, const char *body)
{
	size_t n = strlen(body);

	dst[0] = (char)stream;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (char)(n >> 24);
	dst[5] = (char)(n >> 16);
	dst[6] = (char)(n >> 8);
	dst[7] = (char)n;
	memcpy(dst + 8, body, n);
	return 8 + n;
}

static const char *const want = "<1|2026-12-04T15:02:10.5Z|22>hello\n"
                                "<2|2026-12-04T15:02:11Z|20>oops\n"
                                "<1|2026-12-04T15:02:12Z|20>";

static size_t sample(char *dst)
{
	size_t n = 0;

	n += frame(dst + n, 1, "2026-12-04T15:02:10.5Z hello\n");
	n += frame(dst + n, 2, "2026-12-04T15:02:11Z oops\n");
	n += frame(dst + n, 1, "2026-12-04T15:02:12Z "); /* a record with no payload */
	return n;
}

Test(stamped, every_split_point_gives_the_same_records)
{
	char in[256];
	size_t n = sample(in);

	for (size_t cut = 0; cut <= n; cut++) {
		struct compat_stamped p = {.min_stream = 1};
		struct seen s = {.out = BUF_INIT(0)};

		assert_cmp(compat_stamped_parse(&p, in, cut, on_record, on_payload, &s), ==, 0);
		assert_cmp(compat_stamped_parse(&p, in + cut, n - cut, on_record, on_payload, &s),
		           ==, 0);
		buf_append(&s.out, "", 1);
		cr_assert_str_eq(s.out.data, want, "split at %zu", cut);
		buf_free(&s.out);
	}
}

Test(stamped, byte_by_byte)
{
	char in[256];
	size_t n = sample(in);
	struct compat_stamped p = {.min_stream = 1};
	struct seen s = {.out = BUF_INIT(0)};

	for (size_t i = 0; i < n; i++)
		assert_cmp(compat_stamped_parse(&p, in + i, 1, on_record, on_payload, &s), ==, 0);
	buf_append(&s.out, "", 1);
	cr_assert_str_eq(s.out.data, want, "s.out.data = \"%s\", want = \"%s\"", s.out.data, want);
	buf_free(&s.out);
}

Test(stamped, not_frames_and_streams_below_the_minimum)
{
	char in[64];
	struct seen s = {.out = BUF_INIT(0)};
	struct compat_stamped p = {.min_stream = 1};

	assert_cmp(compat_stamped_parse(&p, "not a frame", 11, on_record, on_payload, &s), ==, -1);
	size_t n = frame(in, 0, "2026-12-04T15:02:10Z x");
	compat_stamped_reset(&p);
	cr_assert_eq(p.min_stream, 1, "reset keeps min_stream");
	cr_assert_eq(compat_stamped_parse(&p, in, n, on_record, on_payload, &s), -1,
	             "dockerd never sends stream 0");
	struct compat_stamped podman = {.min_stream = 0};
	assert_cmp(compat_stamped_parse(&podman, in, n, on_record, on_payload, &s), ==, 0);
	buf_append(&s.out, "", 1);
	cr_assert_str_eq(s.out.data, "<0|2026-12-04T15:02:10Z|20>x", "s.out.data = \"%s\"",
	                 s.out.data);
	buf_free(&s.out);
}

Test(stamped, an_overlong_stamp_is_reported_unusable)
{
	char in[256], body[200];
	struct seen s = {.out = BUF_INIT(0)};
	struct compat_stamped p = {.min_stream = 1};

	memset(body, '9', 100);
	strcpy(body + 100, " after");
	size_t n = frame(in, 1, body);
	assert_cmp(compat_stamped_parse(&p, in, n, on_record, on_payload, &s), ==, 0);
	buf_append(&s.out, "", 1);
	cr_assert_str_eq(s.out.data, "<1|?|100>after", "s.out.data = \"%s\"", s.out.data);
	buf_free(&s.out);
}

Test(stamped, payload_asking_to_stop_stops)
{
	char in[256];
	size_t n = sample(in);
	struct compat_stamped p = {.min_stream = 1};
	struct seen s = {.out = BUF_INIT(0), .stop_after = 1};

	assert_cmp(compat_stamped_parse(&p, in, n, on_record, on_payload, &s), ==, 1);
	buf_append(&s.out, "", 1);
	cr_assert_str_eq(s.out.data, "<1|2026-12-04T15:02:10.5Z|22>hello\n", "s.out.data = \"%s\"",
	                 s.out.data);
	buf_free(&s.out);
}
