/* doc.c — the document tree and the decoding context (doc.h): what the
 * JSON and YAML front ends build and what every error message of the
 * request, the log request and the config is made by. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

struct node *node_new(enum node_kind kind, int line, int col)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = line;
		n->col = col;
	}
	return n;
}

void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		node_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
}

void node_set_number(struct node *n, bool int_valid, int64_t i, double d)
{
	n->kind = NODE_NUMBER;
	if (int_valid) {
		n->is_int = true;
		n->integer = i;
		n->number = (double)i;
		return;
	}
	n->number = d;
	if (isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0) {
		n->is_int = true;
		n->integer = (int64_t)d;
	}
}

int node_append(struct node *parent, struct node *key, struct node *val)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct node **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -1;
		parent->items = items;
		if (parent->kind == NODE_OBJECT) {
			struct node **keys = realloc(parent->keys, cap * sizeof(*keys));

			if (!keys)
				return -1;
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->kind == NODE_OBJECT)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = val;
	return 0;
}

const char *node_kind_name(enum node_kind k)
{
	static const char *const names[] = {"null",   "boolean", "number",
	                                    "string", "array",   "object"};
	return names[k];
}

const char *node_repr(const struct node *n, char *buf, size_t size)
{
	size_t o = 0;

	switch (n->kind) {
	case NODE_STRING:
		buf[o++] = '"';
		for (const char *p = n->text; *p && o + 6 < size; p++) {
			unsigned char ch = (unsigned char)*p;
			buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
			if (p - n->text == 48 && p[1]) {
				memcpy(buf + o, "...", 3);
				o += 3;
				break;
			}
		}
		buf[o++] = '"';
		buf[o] = '\0';
		return buf;
	case NODE_NUMBER:
		snprintf(buf, size, "%s", n->text);
		return buf;
	case NODE_BOOL:
		return n->boolean ? "true" : "false";
	default:
		return node_kind_name(n->kind);
	}
}

/* --- the path ----------------------------------------------------------- */

static void path_append(struct doc_ctx *c, const char *s)
{
	size_t room = sizeof(c->path) - c->path_len;
	int n = snprintf(c->path + c->path_len, room, "%s", s);

	if (n < 0)
		return;
	if ((size_t)n >= room) {
		/* Keep the start; mark the cut. */
		memcpy(c->path + sizeof(c->path) - 4, "...", 4);
		c->path_len = sizeof(c->path) - 1;
		return;
	}
	c->path_len += (size_t)n;
}

size_t doc_path_push_key(struct doc_ctx *c, const char *key)
{
	size_t saved = c->path_len;
	char clean[68];
	size_t i;

	for (i = 0; key[i] && i < 64; i++) {
		unsigned char ch = (unsigned char)key[i];
		clean[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (key[i])
		memcpy(clean + i, "...", 3), i += 3;
	clean[i] = '\0';
	if (saved)
		path_append(c, ".");
	path_append(c, clean);
	return saved;
}

size_t doc_path_push_index(struct doc_ctx *c, size_t index)
{
	size_t saved = c->path_len;
	char seg[32];

	snprintf(seg, sizeof(seg), "[%zu]", index);
	path_append(c, seg);
	return saved;
}

void doc_path_pop(struct doc_ctx *c, size_t saved)
{
	c->path_len = saved;
	c->path[saved] = '\0';
}

/* --- errors ------------------------------------------------------------- */

int doc_fail_at(struct doc_ctx *c, const struct node *at, const char *fmt, ...)
{
	char msg[768];
	char pos[48] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->line > 0)
		snprintf(pos, sizeof(pos), " (line %d:%d)", at->line, at->col);
	return err_set(c->err, c->category, "%s: %s%s", c->path_len ? c->path : c->what, msg, pos);
}

int doc_fail_oom(struct doc_ctx *c)
{
	return err_set(c->err, DMS_ERR_INTERNAL, "decoding %s: out of memory", c->what);
}

int doc_fail_type(struct doc_ctx *c, const struct node *n, const char *want)
{
	return doc_fail_at(c, n, "must be %s, got %s", want, node_kind_name(n->kind));
}

/* --- limits shared by both front ends ----------------------------------- */

/* Before adding a child to `parent` (path: the parent's). */
int doc_check_room(struct doc_ctx *c, const struct node *parent, const struct node *at)
{
	if (parent->n < DOC_MAX_ELEMENTS)
		return 0;
	return doc_fail_at(c, at, "more than %d %s (limit)", DOC_MAX_ELEMENTS,
	                   parent->kind == NODE_OBJECT ? "keys" : "elements");
}

/* After pushing key onto the path. */
int doc_check_duplicate(struct doc_ctx *c, const struct node *obj, const char *key,
                        const struct node *at)
{
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i]->text, key) == 0)
			return doc_fail_at(c, at, "duplicate key");
	return 0;
}

int doc_fail_depth(struct doc_ctx *c, const struct node *at)
{
	return doc_fail_at(c, at, "nested deeper than %d levels (limit)", DOC_MAX_DEPTH);
}

/* --- text -> tree ------------------------------------------------------- */

int doc_parse(struct doc_ctx *c, const char *text, size_t len, unsigned flags, struct node **out)
{
	size_t i = 0;

	*out = NULL;
	if (!text)
		return doc_fail_at(c, NULL, "missing (NULL)");
	if (len > DOC_MAX_BYTES)
		return doc_fail_at(c, NULL, "%zu bytes is larger than the %d byte (1 MiB) limit",
		                   len, DOC_MAX_BYTES);
	if (memchr(text, '\0', len))
		return doc_fail_at(c, NULL, "contains a NUL byte");
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == len)
		return (flags & DOC_EMPTY_OK) ? 0 : doc_fail_at(c, NULL, "empty");
	if (text[i] == '{' && !(flags & DOC_YAML_ONLY))
		return doc_parse_json(c, text, len, out);
	return doc_parse_yaml(c, text, len, flags, out);
}
