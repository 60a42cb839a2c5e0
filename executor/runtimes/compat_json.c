/* compat_json.c — reading what the engine sends and writing what it is
 * sent: typed lookups in a parsed answer, the string vectors made from
 * them, the filters= query, request bodies from base's JSON writer, and the
 * bounded line splitter of the JSON-lines streams (pulls, imports, events).
 *
 * Exists so that the operation files read an answer with one call per
 * field, and so that every engine stream is cut into lines by one bounded
 * splitter.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compat_internal.h"

/* ---- reading -------------------------------------------------------------- */

const char *compat_jstr(yajl_val v, const char **path)
{
	yajl_val s = yajl_tree_get(v, path, yajl_t_string);

	return s ? YAJL_GET_STRING(s) : NULL;
}

bool compat_jint(yajl_val v, const char **path, long long *out)
{
	yajl_val n = yajl_tree_get(v, path, yajl_t_number);

	if (!n || !YAJL_IS_INTEGER(n))
		return false;
	*out = YAJL_GET_INTEGER(n);
	return true;
}

bool compat_jtrue(yajl_val v, const char **path)
{
	return yajl_tree_get(v, path, yajl_t_true) != NULL;
}

yajl_val compat_parse_json(const char *text)
{
	char eb[128];

	return text ? yajl_tree_parse(text, eb, sizeof(eb)) : NULL;
}

/* ---- string vectors ------------------------------------------------------- */

void compat_strv_add(struct compat_strv *b, char *s)
{
	if (b->failed) {
		free(s);
		return;
	}
	if (!strv_push(&b->v, &b->n, s)) /* frees s */
		b->failed = true;
}

strv compat_strv_finish(struct compat_strv *b)
{
	strv v = b->v;

	if (!b->failed && !v)
		v = calloc(1, sizeof(*v));
	if (b->failed) {
		strv_free(v);
		v = NULL;
	}
	*b = (struct compat_strv){0};
	return v;
}

/* Labels object {"k":"v"} -> "k=v" vector. */
strv compat_labels_from_json(yajl_val obj)
{
	struct compat_strv b = {0};

	if (obj && YAJL_IS_OBJECT(obj)) {
		for (size_t i = 0; i < obj->u.object.len; i++) {
			yajl_val v = obj->u.object.values[i];
			const char *value = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";

			compat_strv_add(&b, compat_pathf("%s=%s", obj->u.object.keys[i], value));
		}
	}
	return compat_strv_finish(&b);
}

/* ---- writing -------------------------------------------------------------- */

char *compat_filters_query(const char *type, const char *label)
{
	_cleanup_jw_ struct jw w = {0};
	_cleanup_free_ char *json = NULL;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	if (type) {
		jw_key(&w, "type");
		jw_array_open(&w);
		jw_str(&w, type);
		jw_array_close(&w);
	}
	if (label) {
		jw_key(&w, "label");
		jw_array_open(&w);
		jw_str(&w, label);
		jw_array_close(&w);
	}
	jw_map_close(&w);
	json = jw_steal(&w);
	return json ? http_urlencode(json) : NULL;
}

int compat_jw_body(struct jw *w, const char *what, const char **body, size_t *len, dms_error **err)
{
	if (jw_get(w, body, len) != 0)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "%s: cannot encode the request (a string is not valid UTF-8?)",
		               what);
	return 0;
}

/* ---- JSON-lines streams --------------------------------------------------- */

void compat_lines_init(struct compat_lines *ls, int (*on_line)(void *, char *, size_t), void *ud)
{
	ls->line = (struct buf)BUF_INIT(COMPAT_LINE_MAX);
	ls->skipping = false;
	ls->on_line = on_line;
	ls->ud = ud;
}

static int lines_emit(struct compat_lines *ls)
{
	size_t n = ls->line.len;
	int rc = 0;

	while (n > 0 && (ls->line.data[n - 1] == '\r' || ls->line.data[n - 1] == ' '))
		n--;
	if (n > 0) {
		ls->line.data[n] = '\0';
		rc = ls->on_line(ls->ud, ls->line.data, n);
	}
	buf_reset(&ls->line);
	return rc;
}

int compat_lines_feed(struct compat_lines *ls, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t chunk = nl ? (size_t)(nl - data) : len;
		int rc;

		if (!ls->skipping && chunk > 0 && buf_append(&ls->line, data, chunk) != 0) {
			buf_reset(&ls->line);
			ls->skipping = true;
		}
		if (!nl)
			break;
		data += chunk + 1;
		len -= chunk + 1;
		if (ls->skipping) {
			ls->skipping = false;
			continue;
		}
		if ((rc = lines_emit(ls)) != 0)
			return rc;
	}
	return 0;
}

int compat_lines_finish(struct compat_lines *ls)
{
	return ls->skipping ? 0 : lines_emit(ls);
}

void compat_lines_free(struct compat_lines *ls)
{
	buf_free(&ls->line);
}
