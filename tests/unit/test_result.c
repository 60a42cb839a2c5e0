/* test_result.c — unit tests of the result JSON and the RFC 3339 helpers
 * (executor/result.c): the document's shape parsed back with yajl_tree,
 * exact truncation flags, replacement of invalid UTF-8 by U+FFFD, null for
 * unknown times and missing error_msg, and timestamp round trips. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "result.h"

#define NS 1000000000LL

TestSuite(result);

static yajl_val parse_json(const char *json)
{
	char errbuf[256];
	yajl_val v = yajl_tree_parse(json, errbuf, sizeof(errbuf));

	cr_assert_not_null(v, "result JSON does not parse: %s\n%s", errbuf, json);
	cr_assert(YAJL_IS_OBJECT(v), "result JSON is not an object: %s", json);
	return v;
}

static yajl_val field(yajl_val root, const char *key)
{
	const char *path[] = {key, NULL};
	yajl_val v = yajl_tree_get(root, path, yajl_t_any);

	cr_assert_not_null(v, "key %s missing", key);
	return v;
}

static const char *str_field(yajl_val root, const char *key)
{
	yajl_val v = field(root, key);

	cr_assert(YAJL_IS_STRING(v), "%s is not a string", key);
	return YAJL_GET_STRING(v);
}

Test(result, init_defaults)
{
	struct exec_result r;

	result_init(&r, 100);
	cr_assert_eq(r.exit_code, -1, "exit_code = %d", r.exit_code);
	cr_assert_eq(r.out.limit, 100, "out limit = %zu", r.out.limit);
	cr_assert_eq(r.err.limit, 100, "err limit = %zu", r.err.limit);
	cr_assert_null(r.error_msg, "r.error_msg = %p", (void *)(r.error_msg));
	cr_assert_eq(r.signal, 0, "signal = %d", r.signal);
	cr_assert_eq(r.started_at_ns, 0, "started_at_ns = %lld", (long long)r.started_at_ns);
	result_free(&r);
	result_free(&r); /* idempotent */
	result_free(NULL);
}

Test(result, shape_of_a_fresh_result)
{
	struct exec_result r;
	const char *keys[] = {"exit_code",        "stdout",     "stderr",      "stdout_truncated",
	                      "stderr_truncated", "error_msg",  "oom_killed",  "cancelled",
	                      "signal",           "started_at", "finished_at", "usage"};
	char *json;
	yajl_val root;

	result_init(&r, 16);
	json = result_to_json(&r);
	cr_assert_not_null(json, "json = %p", (void *)(json));
	root = parse_json(json);
	cr_assert_eq(root->u.object.len, sizeof(keys) / sizeof(keys[0]), "%zu keys in %s",
	             root->u.object.len, json);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert_str_eq(root->u.object.keys[i], keys[i], "key %zu = %s, want %s", i,
		                 root->u.object.keys[i], keys[i]);
	cr_assert_eq(YAJL_GET_INTEGER(field(root, "exit_code")), -1, "%s", json);
	cr_assert_str_eq(str_field(root, "stdout"), "", "%s", json);
	cr_assert_str_eq(str_field(root, "stderr"), "", "%s", json);
	cr_assert(YAJL_IS_FALSE(field(root, "stdout_truncated")), "%s", json);
	cr_assert(YAJL_IS_FALSE(field(root, "stderr_truncated")), "%s", json);
	cr_assert(YAJL_IS_NULL(field(root, "error_msg")), "%s", json);
	cr_assert(YAJL_IS_FALSE(field(root, "oom_killed")), "%s", json);
	cr_assert(YAJL_IS_FALSE(field(root, "cancelled")), "%s", json);
	cr_assert_eq(YAJL_GET_INTEGER(field(root, "signal")), 0, "%s", json);
	cr_assert(YAJL_IS_NULL(field(root, "started_at")), "%s", json);
	cr_assert(YAJL_IS_NULL(field(root, "finished_at")), "%s", json);
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}

Test(result, full_result)
{
	struct exec_result r;
	char *json;
	yajl_val root;
	int64_t started = 1795438260LL * NS + 123456789, finished = started + 2 * NS;

	result_init(&r, 1024);
	r.exit_code = 137;
	capbuf_append(&r.out, "hello \"world\"\n", 14);
	capbuf_append(&r.err, "oops\t\\\n", 7);
	r.error_msg = strdup("killed: out of memory");
	r.oom_killed = true;
	r.cancelled = true;
	r.signal = 9;
	r.started_at_ns = started;
	r.finished_at_ns = finished;
	json = result_to_json(&r);
	root = parse_json(json);

	cr_assert_eq(YAJL_GET_INTEGER(field(root, "exit_code")), 137, "%s", json);
	cr_assert_str_eq(str_field(root, "stdout"), "hello \"world\"\n", "%s", json);
	cr_assert_str_eq(str_field(root, "stderr"), "oops\t\\\n", "%s", json);
	cr_assert_str_eq(str_field(root, "error_msg"), "killed: out of memory", "%s", json);
	cr_assert(YAJL_IS_TRUE(field(root, "oom_killed")), "%s", json);
	cr_assert(YAJL_IS_TRUE(field(root, "cancelled")), "%s", json);
	cr_assert_eq(YAJL_GET_INTEGER(field(root, "signal")), 9, "%s", json);
	cr_assert_str_eq(str_field(root, "started_at"), "2026-11-23T12:51:00.123456789Z", "%s",
	                 json);
	cr_assert_str_eq(str_field(root, "finished_at"), "2026-11-23T12:51:02.123456789Z", "%s",
	                 json);
	cr_assert_eq(parse_rfc3339(str_field(root, "started_at")), started,
	             "started_at does not round-trip");
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}

struct trunc_case {
	size_t limit, out_len, err_len;
	bool out_trunc, err_trunc;
};

ParameterizedTestParameters(result, truncation_flags)
{
	static struct trunc_case cases[] = {
	    {8, 8, 0, false, false}, {8, 9, 0, true, false},    {8, 0, 9, false, true},
	    {8, 7, 8, false, false}, {8, 100, 100, true, true},
	};
	return cr_make_param_array(struct trunc_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct trunc_case *tc, result, truncation_flags)
{
	struct exec_result r;
	char data[128];
	char *json;
	yajl_val root;

	memset(data, 'x', sizeof(data));
	result_init(&r, tc->limit);
	capbuf_append(&r.out, data, tc->out_len);
	capbuf_append(&r.err, data, tc->err_len);
	json = result_to_json(&r);
	root = parse_json(json);
	cr_assert_eq(YAJL_IS_TRUE(field(root, "stdout_truncated")), tc->out_trunc,
	             "limit %zu, %zu stdout bytes: %s", tc->limit, tc->out_len, json);
	cr_assert_eq(YAJL_IS_TRUE(field(root, "stderr_truncated")), tc->err_trunc,
	             "limit %zu, %zu stderr bytes: %s", tc->limit, tc->err_len, json);
	cr_assert_leq(strlen(str_field(root, "stdout")), tc->limit, "%s", json);
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}

/* Inline arrays: Criterion passes parameters through shared memory. */
struct utf8_case {
	char in[16];
	size_t in_len;
	char want[40];
};

#define R "\xEF\xBF\xBD"

ParameterizedTestParameters(result, utf8)
{
	static struct utf8_case cases[] = {
	    {"plain", 5, "plain"},
	    {"\xE2\x82\xAC", 3, "\xE2\x82\xAC"},         /* € */
	    {"\xF0\x9F\x98\x80", 4, "\xF0\x9F\x98\x80"}, /* U+1F600 */
	    {"\xFF", 1, R},
	    {"a\xC3", 2, "a" R}, /* truncated */
	    {"\xC3(", 2, R "("},
	    {"\xC0\xAF", 2, R R},             /* overlong */
	    {"\xE0\x80\xAF", 3, R R R},       /* overlong */
	    {"\xED\xA0\x80", 3, R R R},       /* surrogate */
	    {"\xF4\x90\x80\x80", 4, R R R R}, /* > U+10FFFF */
	    {"\xF0\x9F\x98", 3, R},           /* one maximal subpart */
	    {"\xF0\x9F\x98x", 4, R "x"},
	    {"x\x80y", 3, "x" R "y"}, /* stray continuation */
	    {"\xE2\x82\xAC\xFF\xE2\x82\xAC", 7, "\xE2\x82\xAC" R "\xE2\x82\xAC"},
	};
	return cr_make_param_array(struct utf8_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct utf8_case *uc, result, utf8)
{
	struct exec_result r;
	char *json;
	yajl_val root;
	const char *got;

	result_init(&r, 64);
	capbuf_append(&r.out, uc->in, uc->in_len);
	capbuf_append(&r.err, uc->in, uc->in_len);
	json = result_to_json(&r);
	cr_assert_not_null(json, "no JSON for invalid UTF-8");
	root = parse_json(json);
	got = str_field(root, "stdout");
	cr_assert_str_eq(got, uc->want, "stdout: got \"%s\", want \"%s\" (%s)", got, uc->want,
	                 json);
	got = str_field(root, "stderr");
	cr_assert_str_eq(got, uc->want, "stderr: got \"%s\", want \"%s\"", got, uc->want);
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}

Test(result, nul_and_control_bytes_are_escaped)
{
	struct exec_result r;
	char *json;

	result_init(&r, 64);
	capbuf_append(&r.out, "a\0b\x01", 4);
	json = result_to_json(&r);
	cr_assert(strstr(json, "\"stdout\":\"a\\u0000b\\u0001\""), "stdout not escaped: %s", json);
	yajl_tree_free(parse_json(json));
	free(json);
	result_free(&r);
}

Test(result, invalid_utf8_in_error_msg)
{
	struct exec_result r;
	char *json;
	yajl_val root;

	result_init(&r, 64);
	r.error_msg = strdup("bad \xFF byte");
	json = result_to_json(&r);
	root = parse_json(json);
	cr_assert_str_eq(str_field(root, "error_msg"), "bad " R " byte", "%s", json);
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}

Test(result, large_output)
{
	struct exec_result r;
	char *chunk = malloc(1 << 20), *json;
	yajl_val root;

	memset(chunk, 'z', 1 << 20);
	result_init(&r, 1 << 20);
	capbuf_append(&r.out, chunk, 1 << 20);
	capbuf_append(&r.out, "!", 1);
	json = result_to_json(&r);
	root = parse_json(json);
	cr_assert_eq(strlen(str_field(root, "stdout")), (size_t)1 << 20, "length");
	cr_assert(YAJL_IS_TRUE(field(root, "stdout_truncated")));
	yajl_tree_free(root);
	free(json);
	free(chunk);
	result_free(&r);
}

struct fmt_case {
	long long ns;
	char want[40];
};

ParameterizedTestParameters(result, format)
{
	static struct fmt_case cases[] = {
	    {0, "1970-01-01T00:00:00.000000000Z"},
	    {1, "1970-01-01T00:00:00.000000001Z"},
	    {1795438260LL * NS + 123456789, "2026-11-23T12:51:00.123456789Z"},
	    {951868799LL * NS + 999999999, "2000-02-29T23:59:59.999999999Z"},
	    {-1, "1969-12-31T23:59:59.999999999Z"},
	};
	return cr_make_param_array(struct fmt_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct fmt_case *fc, result, format)
{
	char buf[48];

	format_rfc3339(fc->ns, buf, sizeof(buf));
	cr_assert_str_eq(buf, fc->want, "format_rfc3339(%lld) = %s, want %s", fc->ns, buf,
	                 fc->want);
	if (fc->ns > 0)
		cr_assert_eq(parse_rfc3339(buf), fc->ns, "round trip of %s: %lld", buf,
		             (long long)parse_rfc3339(buf));
}

struct parse_case {
	char in[48];
	long long want;
};

ParameterizedTestParameters(result, parse)
{
	static struct parse_case cases[] = {
	    {"2026-11-23T12:51:00.123456789Z", 1795438260LL * NS + 123456789},
	    {"2026-11-23T12:51:00Z", 1795438260LL * NS},
	    {"2026-11-23T12:51:00.5Z", 1795438260LL * NS + 500000000},
	    {"2026-11-23T12:51:00.1234567891234Z", 1795438260LL * NS + 123456789},
	    {"2026-11-23T14:51:00.123456789+02:00", 1795438260LL * NS + 123456789},
	    {"2026-11-23T07:21:00-05:30", 1795438260LL * NS},
	    {"2026-11-23t12:51:00z", 1795438260LL * NS},
	    {"2026-11-23 12:51:00Z", 1795438260LL * NS},
	    {"0001-01-01T00:00:00Z", 0},
	    {"", 0},
	    {"garbage", 0},
	    {"2026-13-01T00:00:00Z", 0},
	    {"2026-11-23T12:51:00", 0},
	    {"2026-11-23T12:51:00.Z", 0},
	    {"2026-11-23T12:51:00Zjunk", 0},
	    {"2026-11-23T12:51:00+0200", 0},
	};
	return cr_make_param_array(struct parse_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct parse_case *pc, result, parse)
{
	int64_t got = parse_rfc3339(pc->in);

	cr_assert_eq(got, pc->want, "parse_rfc3339(\"%s\") = %lld, want %lld", pc->in,
	             (long long)got, pc->want);
}

Test(result, parse_null)
{
	cr_assert_eq(parse_rfc3339(NULL), 0, "parse_rfc3339(NULL) = %lld",
	             (long long)(parse_rfc3339(NULL)));
}

Test(result, round_trip_now)
{
	char buf[48];
	int64_t now = 1795438260LL * NS + 987654321;

	for (int i = 0; i < 1000; i++, now += 7777777777LL) {
		format_rfc3339(now, buf, sizeof(buf));
		cr_assert_eq(parse_rfc3339(buf), now, "round trip of %lld via %s gave %lld",
		             (long long)now, buf, (long long)parse_rfc3339(buf));
	}
}

Test(result, usage_figures_and_wall_time)
{
	struct exec_result r;
	result_init(&r, 16);
	r.started_at_ns = 1000000000;
	r.finished_at_ns = 3500000000;
	r.usage.cpu_ns = 1750000000;
	r.usage.memory_peak = 67108864 + 4096;
	r.usage.block_write = 12;
	r.usage.samples = 9;
	r.usage.sampled_at_ns = 3400000000;
	char *json = result_to_json(&r);
	cr_assert_not_null(json);
	yajl_val root = parse_json(json);
	const char *k[] = {"usage", NULL, NULL};
	struct {
		const char *key;
		long long want;
	} want[] = {{"cpu_time_ns", 1750000000},  {"memory_peak_bytes", 67108864 + 4096},
	            {"block_read_bytes", 0},      {"block_write_bytes", 12},
	            {"net_rx_bytes", 0},          {"net_tx_bytes", 0},
	            {"wall_time_ns", 2500000000}, {"samples", 9}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		k[1] = want[i].key;
		yajl_val v = yajl_tree_get(root, k, yajl_t_number);
		cr_assert(v && YAJL_IS_INTEGER(v), "usage.%s in %s", want[i].key, json);
		cr_assert_eq(YAJL_GET_INTEGER(v), want[i].want, "usage.%s in %s", want[i].key,
		             json);
	}
	k[1] = "sampled_at";
	cr_assert_not_null(yajl_tree_get(root, k, yajl_t_string), "%s", json);
	yajl_tree_free(root);
	free(json);
	result_free(&r);
}
