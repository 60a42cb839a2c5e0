/* doc_json.c — the JSON front end of the document tree (doc.h): yajl_tree
 * parses the text, and its tree is copied into struct node under the
 * limits every front end keeps (depth, elements, duplicate keys), so the
 * key-table walker sees JSON and YAML alike. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "doc.h"

/* yajl_tree builds (and frees) its tree recursively and keeps no depth
 * limit, and it cannot report a "\u0000" that cuts a string short. One pass
 * over the text before yajl sees it refuses both. */
static int json_prescan(struct doc_ctx *c, const char *s, size_t len)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (in_string) {
			if (ch == '\\') {
				if (i + 5 < len && s[i + 1] == 'u' &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					return doc_fail_at(
					    c, NULL, "strings must not contain NUL (\\u0000)");
				i++;
			} else if (ch == '"') {
				in_string = false;
			}
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '[' || ch == '{') {
			if (++depth > DOC_MAX_DEPTH)
				return doc_fail_depth(c, NULL);
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 0;
}

static int json_convert(struct doc_ctx *c, yajl_val v, struct node **out);

static int json_convert_children(struct doc_ctx *c, yajl_val v, struct node *n)
{
	bool object = v->type == yajl_t_object;
	size_t len = object ? v->u.object.len : v->u.array.len;
	yajl_val *values = object ? v->u.object.values : v->u.array.values;
	int rc;

	for (size_t i = 0; i < len; i++) {
		_cleanup_node_ struct node *key = NULL;
		_cleanup_node_ struct node *child = NULL;
		size_t saved;

		if ((rc = doc_check_room(c, n, NULL)))
			return rc;
		if (object) {
			const char *k = v->u.object.keys[i];

			saved = doc_path_push_key(c, k);
			if ((rc = doc_check_duplicate(c, n, k, NULL)))
				return rc;
			if (!(key = node_new(NODE_STRING, 0, 0)) || !(key->text = strdup(k)))
				return doc_fail_oom(c);
		} else {
			saved = doc_path_push_index(c, i);
		}
		if ((rc = json_convert(c, values[i], &child)))
			return rc;
		if (node_append(n, key, child))
			return doc_fail_oom(c);
		key = child = NULL;
		doc_path_pop(c, saved);
	}
	return 0;
}

static int json_convert(struct doc_ctx *c, yajl_val v, struct node **out)
{
	_cleanup_node_ struct node *n = node_new(NODE_NULL, 0, 0);
	int rc;

	if (!n)
		return doc_fail_oom(c);
	switch (v->type) {
	case yajl_t_string:
		n->kind = NODE_STRING;
		if (!(n->text = strdup(v->u.string)))
			return doc_fail_oom(c);
		break;
	case yajl_t_number:
		if (!(n->text = strdup(v->u.number.r)))
			return doc_fail_oom(c);
		if (!(v->u.number.flags & (YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID)))
			return doc_fail_at(c, NULL, "number %s is out of range", n->text);
		node_set_number(n, v->u.number.flags & YAJL_NUMBER_INT_VALID, v->u.number.i,
		                v->u.number.d);
		break;
	case yajl_t_true:
	case yajl_t_false:
		n->kind = NODE_BOOL;
		n->boolean = v->type == yajl_t_true;
		break;
	case yajl_t_object:
	case yajl_t_array:
		n->kind = v->type == yajl_t_object ? NODE_OBJECT : NODE_ARRAY;
		if ((rc = json_convert_children(c, v, n)))
			return rc;
		break;
	default:
		break; /* null */
	}
	*out = n;
	n = NULL;
	return 0;
}

int doc_parse_json(struct doc_ctx *c, const char *text, size_t len, struct node **out)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_yajl_tree_ yajl_val v = NULL;
	char ebuf[512] = "";
	int rc;

	if ((rc = json_prescan(c, text, len)))
		return rc;
	/* yajl_tree wants a NUL-terminated string; ours is counted. */
	if (!(copy = strndup(text, len)))
		return doc_fail_oom(c);
	if (!(v = yajl_tree_parse(copy, ebuf, sizeof(ebuf)))) {
		/* yajl's verbose error is several lines (message, excerpt,
		 * arrow); the first says what is wrong. */
		ebuf[strcspn(ebuf, "\n")] = '\0';
		return doc_fail_at(c, NULL, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
	}
	return json_convert(c, v, out);
}
