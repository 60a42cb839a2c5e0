/* test_buf.c — unit tests of the bounded buffers (executor/buf.c): growth,
 * NUL termination, refusal past the maximum (nothing appended), steal and
 * reset, and the exact truncation flags of capbuf. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "test_assert.h"

TestSuite(buf);

Test(buf, append_grows_and_terminates)
{
	struct buf b = BUF_INIT(0);
	char chunk[100];

	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 100; i++)
		cr_assert_eq(buf_append(&b, chunk, sizeof(chunk)), 0, "append %d failed", i);
	cr_assert_eq(b.len, 10000, "len = %zu", b.len);
	cr_assert_geq(b.cap, b.len + 1, "cap %zu < len + 1", b.cap);
	cr_assert_eq(b.data[b.len], '\0', "not NUL-terminated");
	buf_free(&b);
	cr_assert_null(b.data, "b.data = %p", (void *)(b.data));
	cr_assert_eq(b.len, 0, "len = %zu", b.len);
}

Test(buf, append_zero_bytes)
{
	struct buf b = BUF_INIT(4);

	assert_cmp(buf_append(&b, "", 0), ==, 0);
	cr_assert_eq(b.len, 0, "len = %zu", b.len);
	buf_free(&b);
}

Test(buf, refuses_past_max_and_appends_nothing)
{
	struct buf b = BUF_INIT(10);

	assert_cmp(buf_append(&b, "0123456", 7), ==, 0);
	cr_assert_eq(buf_append(&b, "7890", 4), -1, "append past max accepted");
	cr_assert_eq(b.len, 7, "len changed to %zu", b.len);
	cr_assert_str_eq(b.data, "0123456", "data = %s", b.data);
	cr_assert_eq(buf_append(&b, "789", 3), 0, "append up to exactly max refused");
	cr_assert_eq(b.len, 10, "len = %zu", b.len);
	cr_assert_eq(buf_append(&b, "x", 1), -1, "append at max accepted");
	cr_assert_str_eq(b.data, "0123456789", "data = %s", b.data);
	buf_free(&b);
	cr_assert_eq(b.max, 10, "free forgot max: %zu", b.max);
}

Test(buf, refuses_huge_single_append)
{
	struct buf b = BUF_INIT(16);

	cr_assert_eq(buf_append(&b, "x", (size_t)-1), -1, "SIZE_MAX append accepted");
	cr_assert_eq(b.len, 0, "len = %zu", b.len);
	buf_free(&b);
}

Test(buf, appendf_formats_and_respects_max)
{
	struct buf b = BUF_INIT(12);

	assert_cmp(buf_appendf(&b, "%s=%d", "a", 42), ==, 0);
	cr_assert_str_eq(b.data, "a=42", "data = %s", b.data);
	assert_cmp(buf_appendf(&b, "%s", "too long for it"), ==, -1);
	cr_assert_str_eq(b.data, "a=42", "data = %s", b.data);
	buf_free(&b);
}

Test(buf, reset_keeps_memory)
{
	struct buf b = BUF_INIT(0);
	char *before;

	buf_append(&b, "hello", 5);
	before = b.data;
	buf_reset(&b);
	cr_assert_eq(b.len, 0, "len = %zu", b.len);
	cr_assert_eq(b.data, before, "memory was released");
	cr_assert_str_eq(b.data, "", "data = %s", b.data);
	buf_free(&b);
}

Test(buf, steal_hands_out_and_resets)
{
	struct buf b = BUF_INIT(0);
	char *s;

	s = buf_steal(&b);
	cr_assert_str_eq(s, "", "empty steal = %s", s);
	free(s);
	buf_append(&b, "abc", 3);
	s = buf_steal(&b);
	cr_assert_str_eq(s, "abc", "steal = %s", s);
	cr_assert_null(b.data, "b.data = %p", (void *)(b.data));
	cr_assert_eq(b.len, 0, "len = %zu", b.len);
	free(s);
	buf_free(&b);
}

Test(buf, free_accepts_null)
{
	buf_free(NULL);
	capbuf_free(NULL);
}

Test(buf, binary_data)
{
	struct buf b = BUF_INIT(0);

	buf_append(&b, "a\0b", 3);
	cr_assert_eq(b.len, 3, "len = %zu", b.len);
	assert_cmp(memcmp(b.data, "a\0b", 3), ==, 0);
	buf_free(&b);
}

/* capbuf: a sequence of chunk sizes against a limit. */
struct cap_case {
	size_t limit;
	size_t chunks[4]; /* 0-terminated */
	size_t want_len;
	bool want_truncated;
};

ParameterizedTestParameters(capbuf, edges)
{
	static struct cap_case cases[] = {
	    {10, {10}, 10, false},         /* exactly the limit */
	    {10, {11}, 10, true},          /* limit + 1 */
	    {10, {9}, 9, false},           /* under */
	    {10, {5, 5}, 10, false},       /* reaching it in pieces */
	    {10, {5, 5, 1}, 10, true},     /* one more byte after */
	    {10, {7, 7}, 10, true},        /* straddling chunk keeps what fits */
	    {10, {4, 3, 2, 1}, 10, false}, /* many pieces */
	    {0, {1}, 0, true},             /* nothing fits */
	    {1, {1}, 1, false},
	    {1, {2}, 1, true},
	};
	return cr_make_param_array(struct cap_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct cap_case *c, capbuf, edges)
{
	struct capbuf cb;
	char src[64];
	size_t off = 0;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	capbuf_init(&cb, c->limit);
	for (int i = 0; i < 4 && c->chunks[i]; i++) {
		cr_assert_eq(capbuf_append(&cb, src + off, c->chunks[i]), 0, "append %d failed", i);
		off += c->chunks[i];
	}
	cr_assert_eq(cb.b.len, c->want_len, "limit %zu: len = %zu, want %zu", c->limit, cb.b.len,
	             c->want_len);
	cr_assert_eq(cb.truncated, c->want_truncated, "limit %zu: truncated = %d, want %d",
	             c->limit, cb.truncated, c->want_truncated);
	if (c->want_len)
		cr_assert_eq(memcmp(cb.b.data, src, c->want_len), 0,
		             "kept bytes are not the first %zu offered", c->want_len);
	capbuf_free(&cb);
}

Test(capbuf, empty_append_does_not_truncate)
{
	struct capbuf cb;

	capbuf_init(&cb, 3);
	capbuf_append(&cb, "abc", 3);
	capbuf_append(&cb, "", 0);
	cr_assert_eq(cb.truncated, false, "empty append at the limit set truncated");
	capbuf_free(&cb);
}

Test(capbuf, straddle_keeps_prefix)
{
	struct capbuf cb;

	capbuf_init(&cb, 8);
	capbuf_append(&cb, "hello ", 6);
	capbuf_append(&cb, "world", 5);
	cr_assert_eq(cb.b.len, 8, "len = %zu", cb.b.len);
	cr_assert_str_eq(cb.b.data, "hello wo", "data = %s", cb.b.data);
	cr_assert(cb.truncated, "not truncated");
	capbuf_free(&cb);
}
