/* jsonw.h — the one JSON writer of the tree: a yajl generator with a sticky
 * failure flag, so a document is a straight line of calls checked once at
 * the end (jw_get / jw_steal). Strings must be UTF-8 (a string that is not
 * fails the document), except jw_text's, whose invalid sequences become
 * U+FFFD (container output in results).
 *
 *     struct jw w;
 *     if (jw_init(&w) != 0) return -1;
 *     jw_map_open(&w);
 *     jw_key_str(&w, "id", id);
 *     jw_map_close(&w);
 *     char *json = jw_steal(&w);   // NULL if anything failed; frees w
 */
#ifndef DMS_JSONW_H
#define DMS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include "strv.h"

struct jw {
	yajl_gen g;
	bool failed;
};

/* 0, or -1 when out of memory (then w needs no jw_free). */
int jw_init(struct jw *w);
void jw_free(struct jw *w); /* NULL-safe, idempotent */
#define _cleanup_jw_ __attribute__((cleanup(jw_free)))

void jw_map_open(struct jw *w);
void jw_map_close(struct jw *w);
void jw_array_open(struct jw *w);
void jw_array_close(struct jw *w);

void jw_str(struct jw *w, const char *s); /* NULL: null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_text(struct jw *w, const char *data, size_t n); /* bytes, invalid UTF-8 -> U+FFFD */
void jw_null(struct jw *w);
void jw_int(struct jw *w, long long v);
void jw_double(struct jw *w, double v);
/* v with `decimals` digits after the point ("12.50"); not finite: 0. */
void jw_fixed(struct jw *w, double v, int decimals);
void jw_bool(struct jw *w, bool v);
/* RFC 3339 with nanoseconds (clock.h); 0 ("unknown") is null. */
void jw_time(struct jw *w, int64_t wall_ns);

/* A key and its value. jw_key_str and jw_key_strv skip the member when the
 * value is NULL; jw_key_str_or_null writes null instead. */
void jw_key(struct jw *w, const char *key);
void jw_key_str(struct jw *w, const char *key, const char *value);
void jw_key_str_or_null(struct jw *w, const char *key, const char *value);
void jw_key_int(struct jw *w, const char *key, long long value);
void jw_key_bool(struct jw *w, const char *key, bool value);
void jw_key_strv(struct jw *w, const char *key, const strv v);
/* "k=v" vector -> {"k":"v"}; a bare "k" becomes {"k":""}. */
void jw_key_labels(struct jw *w, const char *key, const strv labels);

/* The document so far, borrowed from w (valid until the next call on w):
 * 0, or -1 when a call failed. */
int jw_get(struct jw *w, const char **out, size_t *len);
/* The document as a new NUL-terminated string (caller frees), or NULL when
 * a call failed or out of memory. Frees the generator either way. */
char *jw_steal(struct jw *w);

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the bytes there are not one; *bad_len: how many bytes form the maximal
 * invalid subpart (Unicode's "substitution of maximal subparts"), >= 1. */
size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad_len);

#endif
