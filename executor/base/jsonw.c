/* jsonw.c — the one JSON writer (jsonw.h): yajl's generator behind a
 * sticky failure flag, plus the UTF-8 repair that lets arbitrary container
 * output stand in a JSON string. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonw.h"

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the bytes there are not one. *bad_len receives how many bytes form the
 * maximal invalid subpart to replace by one U+FFFD (Unicode 3.9, "U+FFFD
 * substitution of maximal subparts"), at least 1. */
size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad_len)
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

/* ---- the writer ------------------------------------------------------- */

int jw_init(struct jw *w)
{
	w->failed = false;
	w->g = yajl_gen_alloc(NULL);
	if (!w->g)
		return -1;
	yajl_gen_config(w->g, yajl_gen_validate_utf8, 1);
	yajl_gen_config(w->g, yajl_gen_beautify, 0);
	return 0;
}

void jw_free(struct jw *w)
{
	if (w && w->g) {
		yajl_gen_free(w->g);
		w->g = NULL;
	}
}

static void jw_check(struct jw *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		w->failed = true;
}

#define JW_DO(w, call)                                                                             \
	do {                                                                                       \
		if (!(w)->failed)                                                                  \
			jw_check((w), (call));                                                     \
	} while (0)

void jw_map_open(struct jw *w)
{
	JW_DO(w, yajl_gen_map_open(w->g));
}

void jw_map_close(struct jw *w)
{
	JW_DO(w, yajl_gen_map_close(w->g));
}

void jw_array_open(struct jw *w)
{
	JW_DO(w, yajl_gen_array_open(w->g));
}

void jw_array_close(struct jw *w)
{
	JW_DO(w, yajl_gen_array_close(w->g));
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	JW_DO(w, yajl_gen_string(w->g, (const unsigned char *)s, n));
}

void jw_str(struct jw *w, const char *s)
{
	if (s)
		jw_strn(w, s, strlen(s));
	else
		jw_null(w);
}

void jw_text(struct jw *w, const char *data, size_t n)
{
	char *tmp;
	size_t len;
	const char *s;

	if (w->failed)
		return;
	if (!(s = utf8_sanitise(data, n, &tmp, &len))) {
		w->failed = true;
		return;
	}
	jw_strn(w, s, len);
	free(tmp);
}

void jw_null(struct jw *w)
{
	JW_DO(w, yajl_gen_null(w->g));
}

void jw_int(struct jw *w, long long v)
{
	JW_DO(w, yajl_gen_integer(w->g, v));
}

void jw_double(struct jw *w, double v)
{
	JW_DO(w, yajl_gen_double(w->g, v));
}

void jw_fixed(struct jw *w, double v, int decimals)
{
	char num[64];
	int n = snprintf(num, sizeof(num), "%.*f", decimals, v);
	if (n <= 0 || (size_t)n >= sizeof(num) || !isfinite(v))
		JW_DO(w, yajl_gen_double(w->g, 0));
	else
		JW_DO(w, yajl_gen_number(w->g, num, (size_t)n));
}

void jw_bool(struct jw *w, bool v)
{
	JW_DO(w, yajl_gen_bool(w->g, v));
}

void jw_time(struct jw *w, int64_t wall_ns)
{
	char ts[48];

	if (wall_ns == 0) {
		jw_null(w);
		return;
	}
	format_rfc3339(wall_ns, ts, sizeof(ts));
	jw_str(w, ts);
}

void jw_key(struct jw *w, const char *key)
{
	jw_strn(w, key, strlen(key));
}

void jw_key_str(struct jw *w, const char *key, const char *value)
{
	if (!value)
		return;
	jw_key(w, key);
	jw_str(w, value);
}

void jw_key_str_or_null(struct jw *w, const char *key, const char *value)
{
	jw_key(w, key);
	jw_str(w, value);
}

void jw_key_int(struct jw *w, const char *key, long long value)
{
	jw_key(w, key);
	jw_int(w, value);
}

void jw_key_bool(struct jw *w, const char *key, bool value)
{
	jw_key(w, key);
	jw_bool(w, value);
}

void jw_key_strv(struct jw *w, const char *key, const strv v)
{
	if (!v)
		return;
	jw_key(w, key);
	jw_array_open(w);
	for (size_t i = 0; v[i]; i++)
		jw_str(w, v[i]);
	jw_array_close(w);
}

void jw_key_labels(struct jw *w, const char *key, const strv labels)
{
	jw_key(w, key);
	jw_map_open(w);
	for (size_t i = 0; labels && labels[i]; i++) {
		const char *eq = strchr(labels[i], '=');

		if (eq) {
			jw_strn(w, labels[i], (size_t)(eq - labels[i]));
			jw_str(w, eq + 1);
		} else {
			jw_str(w, labels[i]);
			jw_str(w, "");
		}
	}
	jw_map_close(w);
}

int jw_get(struct jw *w, const char **out, size_t *len)
{
	const unsigned char *b;

	if (w->failed || !w->g || yajl_gen_get_buf(w->g, &b, len) != yajl_gen_status_ok)
		return -1;
	*out = (const char *)b;
	return 0;
}

char *jw_steal(struct jw *w)
{
	const char *b;
	size_t len;
	char *s = jw_get(w, &b, &len) == 0 ? strndup(b, len) : NULL;

	jw_free(w);
	return s;
}
