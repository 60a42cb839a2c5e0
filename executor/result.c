/* result.c — the execution result and its JSON form (result.h,
 * docs/schema.md).
 *
 * Exists so that there is exactly one way a result becomes JSON: Wait, Run,
 * wait_async and the state-change events all hand out what this file
 * writes. Container output is arbitrary bytes while JSON strings must be
 * UTF-8, so invalid sequences are replaced by U+FFFD here (yajl's own
 * validation would reject the whole document instead).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_gen.h>

#include "result.h"

void result_init(struct exec_result *r, size_t output_limit)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	capbuf_init(&r->out, output_limit);
	capbuf_init(&r->err, output_limit);
}

void result_free(struct exec_result *r)
{
	if (!r)
		return;
	capbuf_free(&r->out);
	capbuf_free(&r->err);
	free(r->error_msg);
	r->error_msg = NULL;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the bytes there are not one. *bad_len receives how many bytes form the
 * maximal invalid subpart to replace by one U+FFFD (Unicode 3.9, "U+FFFD
 * substitution of maximal subparts"), at least 1. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad_len)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;

	*bad_len = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0; /* no overlongs */
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F; /* <= U+10FFFF */
	} else {
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad_len = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

/* Returns data itself when it is valid UTF-8, else a sanitised copy in *tmp
 * (caller frees) with its length in *out_len. NULL on allocation failure. */
static const char *utf8_sanitise(const char *data, size_t len, char **tmp, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0, bad, seq, o = 0;
	unsigned char *out;

	*tmp = NULL;
	*out_len = len;
	while (i < len && (seq = utf8_seq(s + i, len - i, &bad)) != 0)
		i += seq;
	if (i == len)
		return data ? data : "";

	/* Worst case every byte becomes 3. */
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	memcpy(out, s, i);
	o = i;
	while (i < len) {
		seq = utf8_seq(s + i, len - i, &bad);
		if (seq) {
			memcpy(out + o, s + i, seq);
			o += seq;
			i += seq;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	*tmp = (char *)out;
	*out_len = o;
	return *tmp;
}

/* ---- JSON ------------------------------------------------------------- */

static void gen_key(yajl_gen g, const char *key)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

/* Writes len bytes of data as a JSON string, invalid UTF-8 replaced. */
static int gen_text(yajl_gen g, const char *data, size_t len)
{
	char *tmp;
	size_t n;
	const char *s = utf8_sanitise(data, len, &tmp, &n);

	if (!s)
		return -1;
	yajl_gen_string(g, (const unsigned char *)s, n);
	free(tmp);
	return 0;
}

static int gen_bytes(yajl_gen g, const char *key, const struct buf *b)
{
	gen_key(g, key);
	return gen_text(g, b->data, b->len);
}

static int gen_opt_string(yajl_gen g, const char *key, const char *s)
{
	gen_key(g, key);
	if (!s)
		return yajl_gen_null(g) == yajl_gen_status_ok ? 0 : -1;
	return gen_text(g, s, strlen(s));
}

static void gen_time(yajl_gen g, const char *key, int64_t ns)
{
	char ts[48];

	gen_key(g, key);
	if (ns == 0) {
		yajl_gen_null(g);
		return;
	}
	format_rfc3339(ns, ts, sizeof(ts));
	yajl_gen_string(g, (const unsigned char *)ts, strlen(ts));
}

static void gen_bool(yajl_gen g, const char *key, bool v)
{
	gen_key(g, key);
	yajl_gen_bool(g, v);
}

static void gen_int(yajl_gen g, const char *key, long long v)
{
	gen_key(g, key);
	yajl_gen_integer(g, v);
}

static void yajl_gen_cleanup(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}

char *result_to_json(const struct exec_result *r)
{
	__attribute__((cleanup(yajl_gen_cleanup))) yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	size_t len;
	char *json;

	if (!g || !r)
		return NULL;
	yajl_gen_config(g, yajl_gen_validate_utf8, 0);
	yajl_gen_config(g, yajl_gen_beautify, 0);

	yajl_gen_map_open(g);
	gen_int(g, "exit_code", r->exit_code);
	if (gen_bytes(g, "stdout", &r->out.b) != 0 || gen_bytes(g, "stderr", &r->err.b) != 0)
		return NULL;
	gen_bool(g, "stdout_truncated", r->out.truncated);
	gen_bool(g, "stderr_truncated", r->err.truncated);
	if (gen_opt_string(g, "error_msg", r->error_msg) != 0)
		return NULL;
	gen_bool(g, "oom_killed", r->oom_killed);
	gen_bool(g, "cancelled", r->cancelled);
	gen_int(g, "signal", r->signal);
	gen_time(g, "started_at", r->started_at_ns);
	gen_time(g, "finished_at", r->finished_at_ns);
	if (yajl_gen_map_close(g) != yajl_gen_status_ok)
		return NULL;

	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
		return NULL;
	json = malloc(len + 1);
	if (!json)
		return NULL;
	memcpy(json, out, len);
	json[len] = '\0';
	return json;
}
