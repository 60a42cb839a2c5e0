/* doc_yaml.c — the YAML front end of the document tree (doc.h): libyaml's
 * event parser, so that the limits (depth, elements, duplicate keys) are
 * kept while the tree is built and every node keeps its line and column.
 * The one YAML reader of the request, the log request and the config. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "doc.h"

struct yaml_reader {
	yaml_parser_t parser;
	bool live;
};

static void yaml_reader_cleanup(struct yaml_reader *r)
{
	if (r->live)
		yaml_parser_delete(&r->parser);
	r->live = false;
}

static void yaml_event_cleanup(yaml_event_t *ev)
{
	yaml_event_delete(ev);
}

/* An anchor seen so far: its scalar (owned by the tree), or NULL for a
 * mapping or sequence, which an alias may not repeat. */
struct yaml_anchor {
	char *name;
	const struct node *scalar;
};

struct yaml_frame {
	struct node *node;  /* an OBJECT or ARRAY being filled */
	bool want_key;      /* OBJECT: the next scalar is a key */
	size_t child_saved; /* path length before the current child's segment */
};

static bool yaml_scalar_is(const char *v, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(v, *words) == 0)
			return true;
	return false;
}

/* YAML 1.2 core schema numbers, decimal only: [-+]?digits, or a float with
 * '.', 'e' or both. .inf/.nan are not numbers a request needs. */
static bool yaml_resolve_number(struct node *n, const char *v)
{
	const char *p = v + (*v == '+' || *v == '-');
	bool digits = false, is_float = false;
	char *end;

	if (!*p)
		return false;
	for (const char *q = p; *q; q++) {
		if (*q >= '0' && *q <= '9')
			digits = true;
		else if (*q == '.' || *q == 'e' || *q == 'E' ||
		         ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E')))
			is_float = true;
		else
			return false;
	}
	if (!digits)
		return false;
	if (!is_float) {
		long long i;

		errno = 0;
		i = strtoll(v, &end, 10);
		if (*end == '\0' && errno == 0) {
			node_set_number(n, true, i, 0);
			return true;
		}
	}
	errno = 0;
	double d = strtod(v, &end);
	if (*end != '\0' || errno == ERANGE || !isfinite(d))
		return false;
	node_set_number(n, false, 0, d);
	return true;
}

static int yaml_scalar(struct doc_ctx *c, const yaml_event_t *ev, bool as_string, struct node **out)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	_cleanup_node_ struct node *n =
	    node_new(NODE_STRING, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1);

	if (!n)
		return doc_fail_oom(c);
	if (memchr(v, '\0', len))
		return doc_fail_at(c, n, "strings must not contain NUL");
	if (!(n->text = strndup(v, len)))
		return doc_fail_oom(c);
	/* Only plain scalars are typed; quoted ones and !!str are strings, so
	 * "true" or '10' stays text as a person would expect. */
	if (!as_string && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    !(tag && strcmp(tag, YAML_STR_TAG) == 0)) {
		if (yaml_scalar_is(n->text, nulls)) {
			n->kind = NODE_NULL;
		} else if (yaml_scalar_is(n->text, trues) || yaml_scalar_is(n->text, falses)) {
			n->kind = NODE_BOOL;
			n->boolean = yaml_scalar_is(n->text, trues);
		} else {
			yaml_resolve_number(n, n->text);
		}
	}
	*out = n;
	n = NULL;
	return 0;
}

struct yaml_builder {
	struct doc_ctx *c;
	unsigned flags; /* DOC_YAML_ALIASES */
	struct node *root;
	struct yaml_frame stack[DOC_MAX_DEPTH];
	int depth;
	struct yaml_anchor *anchors;
	size_t n_anchors;
};

/* The config has always let a person write "host: *h" for a value given
 * once; a scalar alias is one node, so repeating it cannot blow the tree
 * up the way aliased collections can. Anchors are kept only when aliases
 * are allowed. */
#define YAML_MAX_ANCHORS 256

static int yb_anchor(struct yaml_builder *b, const yaml_char_t *name, const struct node *scalar,
                     const struct node *at)
{
	struct yaml_anchor *v;

	if (!name || !(b->flags & DOC_YAML_ALIASES))
		return 0;
	if (b->n_anchors == YAML_MAX_ANCHORS)
		return doc_fail_at(b->c, at, "more than %d YAML anchors (limit)", YAML_MAX_ANCHORS);
	if (!(v = realloc(b->anchors, (b->n_anchors + 1) * sizeof(*v))))
		return doc_fail_oom(b->c);
	b->anchors = v;
	if (!(v[b->n_anchors].name = strdup((const char *)name)))
		return doc_fail_oom(b->c);
	v[b->n_anchors++].scalar = scalar;
	return 0;
}

static void yb_free_anchors(struct yaml_builder *b)
{
	for (size_t i = 0; i < b->n_anchors; i++)
		free(b->anchors[i].name);
	free(b->anchors);
}

/* A copy of the aliased scalar, placed where the alias is. */
static int yb_alias(struct yaml_builder *b, const yaml_event_t *ev, const struct node *at,
                    struct node **out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const struct node *src = NULL;
	size_t i;
	struct node *n;

	for (i = b->n_anchors; i > 0; i--)
		if (strcmp(b->anchors[i - 1].name, name) == 0)
			break;
	if (i == 0)
		return doc_fail_at(b->c, at, "undefined YAML alias");
	if (!(src = b->anchors[i - 1].scalar))
		return doc_fail_at(b->c, at,
		                   "YAML aliases of mappings and sequences are not supported");
	if (!(n = node_new(src->kind, at->line, at->col)))
		return doc_fail_oom(b->c);
	n->boolean = src->boolean;
	n->number = src->number;
	n->is_int = src->is_int;
	n->integer = src->integer;
	if (src->text && !(n->text = strdup(src->text))) {
		node_free(n);
		return doc_fail_oom(b->c);
	}
	*out = n;
	return 0;
}

/* Start of a value (not a key) at the top of the stack: checks room and, in
 * a sequence, pushes the "[i]" segment. In a mapping the key's segment is
 * already on the path. */
static int yb_open_child(struct yaml_builder *b, const struct node *at)
{
	struct yaml_frame *top;
	int rc;

	if (b->depth == 0)
		return 0;
	top = &b->stack[b->depth - 1];
	if (top->node->kind == NODE_ARRAY) {
		if ((rc = doc_check_room(b->c, top->node, at)))
			return rc;
		top->child_saved = doc_path_push_index(b->c, top->node->n);
	}
	return 0;
}

/* Hands n to its parent (or makes it the root); n is owned by the tree
 * afterwards even on failure. */
static int yb_attach(struct yaml_builder *b, struct node *n)
{
	struct yaml_frame *top;

	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	top = &b->stack[b->depth - 1];
	if (top->node->kind == NODE_OBJECT) {
		top->node->items[top->node->n - 1] = n;
		return 0;
	}
	if (node_append(top->node, NULL, n)) {
		node_free(n);
		return doc_fail_oom(b->c);
	}
	return 0;
}

/* End of a value: back to the parent's path, ready for the next key. */
static void yb_close_child(struct yaml_builder *b)
{
	struct yaml_frame *top;

	if (b->depth == 0)
		return;
	top = &b->stack[b->depth - 1];
	doc_path_pop(b->c, top->child_saved);
	if (top->node->kind == NODE_OBJECT)
		top->want_key = true;
}

/* key (a scalar read as a string) becomes the tree's, or is freed. */
static int yb_key(struct yaml_builder *b, struct node *key)
{
	struct yaml_frame *top = &b->stack[b->depth - 1];
	int rc;

	key->kind = NODE_STRING; /* an aliased key may have been typed */
	if ((rc = doc_check_room(b->c, top->node, key)))
		goto fail;
	top->child_saved = doc_path_push_key(b->c, key->text);
	if ((rc = doc_check_duplicate(b->c, top->node, key->text, key)))
		goto fail;
	/* The value slot stays NULL until the value arrives (yb_attach). */
	if (node_append(top->node, key, NULL)) {
		rc = doc_fail_oom(b->c);
		goto fail;
	}
	top->want_key = false;
	return 0;
fail:
	node_free(key);
	return rc;
}

/* A scalar or an alias, as a key or as a value. */
static int yb_scalar(struct yaml_builder *b, const yaml_event_t *ev, const struct node *mark)
{
	struct yaml_frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
	bool is_key = top && top->want_key;
	struct node *n = NULL;
	int rc;

	if (!is_key && (rc = yb_open_child(b, mark)))
		return rc;
	if (ev->type == YAML_ALIAS_EVENT)
		rc = yb_alias(b, ev, mark, &n);
	else
		rc = yaml_scalar(b->c, ev, is_key, &n);
	if (rc)
		return rc;
	if (is_key)
		rc = yb_key(b, n);
	else
		rc = yb_attach(b, n);
	if (rc)
		return rc;
	if (ev->type == YAML_SCALAR_EVENT && (rc = yb_anchor(b, ev->data.scalar.anchor, n, mark)))
		return rc;
	if (!is_key)
		yb_close_child(b);
	return 0;
}

static int yb_event(struct yaml_builder *b, const yaml_event_t *ev, int *documents)
{
	struct yaml_frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
	struct node mark = {.line = (int)ev->start_mark.line + 1,
	                    .col = (int)ev->start_mark.column + 1};
	struct node *n = NULL;
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*documents > 1)
			return doc_fail_at(b->c, &mark, "only one YAML document is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		if (!(b->flags & DOC_YAML_ALIASES))
			return doc_fail_at(b->c, &mark, "YAML aliases are not supported");
		return yb_scalar(b, ev, &mark);
	case YAML_SCALAR_EVENT:
		return yb_scalar(b, ev, &mark);
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (top && top->want_key)
			return doc_fail_at(b->c, &mark, "mapping keys must be scalars");
		if ((rc = yb_open_child(b, &mark)))
			return rc;
		if (b->depth == DOC_MAX_DEPTH)
			return doc_fail_depth(b->c, &mark);
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? NODE_OBJECT : NODE_ARRAY,
		             mark.line, mark.col);
		if (!n)
			return doc_fail_oom(b->c);
		if ((rc = yb_attach(b, n)))
			return rc;
		if ((rc = yb_anchor(b,
		                    ev->type == YAML_MAPPING_START_EVENT
		                        ? ev->data.mapping_start.anchor
		                        : ev->data.sequence_start.anchor,
		                    NULL, &mark)))
			return rc;
		b->stack[b->depth++] = (struct yaml_frame){
		    .node = n,
		    .want_key = n->kind == NODE_OBJECT,
		    .child_saved = b->c->path_len,
		};
		return 0;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		b->depth--;
		yb_close_child(b);
		return 0;
	default:
		return 0;
	}
}

int doc_parse_yaml(struct doc_ctx *c, const char *text, size_t len, unsigned flags,
                   struct node **out)
{
	_cleanup_(yaml_reader_cleanup) struct yaml_reader r = {.live = false};
	struct yaml_builder b = {.c = c, .flags = flags};
	int documents = 0;
	int rc = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&r.parser))
		return doc_fail_oom(c);
	r.live = true;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	for (bool done = false; !done && rc == 0;) {
		_cleanup_(yaml_event_cleanup) yaml_event_t ev;

		if (!yaml_parser_parse(&r.parser, &ev)) {
			struct node mark = {.line = (int)r.parser.problem_mark.line + 1,
			                    .col = (int)r.parser.problem_mark.column + 1};

			doc_path_pop(c, 0);
			/* Encoding errors have an offset, not a position. */
			if (r.parser.error == YAML_READER_ERROR) {
				rc = doc_fail_at(c, NULL, "invalid YAML: %s at byte %zu",
				                 r.parser.problem ? r.parser.problem
				                                  : "bad encoding",
				                 r.parser.problem_offset);
				break;
			}
			rc = doc_fail_at(c, &mark, "invalid YAML: %s%s%s",
			                 r.parser.problem ? r.parser.problem : "syntax error",
			                 r.parser.context ? " " : "",
			                 r.parser.context ? r.parser.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = yb_event(&b, &ev, &documents);
	}
	yb_free_anchors(&b);
	if (rc) {
		node_free(b.root);
		return rc;
	}
	if (!b.root)
		return (flags & DOC_EMPTY_OK) ? 0 : doc_fail_at(c, NULL, "empty");
	*out = b.root;
	return 0;
}
