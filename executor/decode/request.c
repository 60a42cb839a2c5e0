/* request.c — decodes the DMS execution request and the log stream request
 * (request.h, docs/schema.md).
 *
 * Every request reaches the executor as untrusted text (over the plugin ABI
 * or D-Bus); this file is the one place that turns it into a struct whose
 * every field has been checked, so nothing downstream validates again.
 *
 * Two stages. First the text — JSON through yajl_tree, or YAML through
 * libyaml's event parser — becomes one small generic tree (struct node) while
 * the size, nesting, element-count and duplicate-key limits are enforced.
 * Then ONE table-driven validator (key tables with offsetof setters, in the
 * manner of netplan) walks that tree into the struct. JSON and YAML therefore
 * share every check and every message; YAML messages add "(line L:C)". */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>
#include <yaml.h>

#include "config.h"
#include "units.h"
#include "error.h"
#include "labels.h"
#include "request.h"

#define REQUEST_MAX_BYTES (1024 * 1024)
#define REQUEST_MAX_DEPTH 32
#define REQUEST_MAX_ELEMENTS 4096
#define ID_MAX_LEN 128
#define MEMORY_MIN_BYTES INT64_C(6291456) /* Docker refuses less than 6 MiB */
#define CPU_CORES_MAX 1e6
/* Deadlines become monotonic nanoseconds downstream: keep ms * 1e6 far from
 * INT64_MAX. 1e9 s is about 31 years. */
#define DURATION_MAX_S 1e9
#define SIGNAL_MAX 64 /* SIGRTMAX on Linux */

#define cleanup(fn) __attribute__((cleanup(fn)))

static void freep(void *p)
{
	free(*(void **)p);
}

/* --- the generic tree ------------------------------------------------- */

enum node_kind { NODE_NULL, NODE_BOOL, NODE_NUMBER, NODE_STRING, NODE_ARRAY, NODE_OBJECT };

struct node {
	enum node_kind kind;
	int line, col; /* YAML: 1-based position; JSON: 0 (unknown) */
	char *text;    /* STRING: the value; NUMBER: the literal as written */
	bool boolean;
	double number;
	bool is_int; /* NUMBER: integral and representable as int64 */
	int64_t integer;
	struct node **keys;  /* OBJECT: STRING key nodes, parallel to items */
	struct node **items; /* ARRAY: elements; OBJECT: values */
	size_t n, cap;
};

static void node_free(struct node *n)
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

static void node_freep(struct node **n)
{
	node_free(*n);
}

static struct node *node_new(enum node_kind kind, int line, int col)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = line;
		n->col = col;
	}
	return n;
}

/* Sets a NUMBER node from what a parser found. Whole doubles within 2^53
 * count as integers: some producers write 67108864 as 6.7108864e7. */
static void node_set_number(struct node *n, bool int_valid, int64_t i, double d)
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

/* Appends (key, val) to an OBJECT (key != NULL) or val to an ARRAY. The
 * caller has checked the limits; only allocation can fail. */
static int node_append(struct node *parent, struct node *key, struct node *val)
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

static const char *node_kind_name(enum node_kind k)
{
	static const char *const names[] = {"null",   "boolean", "number",
	                                    "string", "array",   "object"};
	return names[k];
}

/* --- error context ---------------------------------------------------- */

/* Shared by the builders and the validator: where we are (the dotted path
 * of the value being looked at) and where the error goes. */
struct ctx {
	dms_error **err;
	const char *what; /* "request" or "log request": the root's name */
	char path[1024];
	size_t path_len;
	const struct field *supplied; /* a required field the caller fills in when absent */
};

static void path_append(struct ctx *c, const char *s)
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

/* Appends ".key" (or "key" at the root); returns the length to pop back to.
 * Keys are user text: control characters become '?' and long ones are cut,
 * so a message can always be printed safely. */
static size_t path_push_key(struct ctx *c, const char *key)
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

static size_t path_push_index(struct ctx *c, size_t index)
{
	size_t saved = c->path_len;
	char seg[32];

	snprintf(seg, sizeof(seg), "[%zu]", index);
	path_append(c, seg);
	return saved;
}

static void path_pop(struct ctx *c, size_t saved)
{
	c->path_len = saved;
	c->path[saved] = '\0';
}

/* "<path>: <message>[ (line L:C)]", always DMS_ERR_INVALID_ARGUMENT. */
static int fail_at(struct ctx *c, const struct node *at, const char *fmt, ...) DMS_PRINTF(3, 4);
static int fail_at(struct ctx *c, const struct node *at, const char *fmt, ...)
{
	char msg[768];
	char pos[48] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->line > 0)
		snprintf(pos, sizeof(pos), " (line %d:%d)", at->line, at->col);
	return err_set(c->err, DMS_ERR_INVALID_ARGUMENT, "%s: %s%s",
	               c->path_len ? c->path : c->what, msg, pos);
}

static int fail_oom(struct ctx *c)
{
	return err_set(c->err, DMS_ERR_INTERNAL, "decoding %s: out of memory", c->what);
}

static int fail_type(struct ctx *c, const struct node *n, const char *want)
{
	return fail_at(c, n, "must be %s, got %s", want, node_kind_name(n->kind));
}

/* A short, printable rendering of a scalar for "got ..." in messages. */
static const char *node_repr(const struct node *n, char *buf, size_t size)
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

#define REPR(n) node_repr((n), (char[80]){0}, 80)

/* --- limits shared by both builders ---------------------------------- */

/* Before adding a child to `parent` (path: the parent's). */
static int check_room(struct ctx *c, const struct node *parent, const struct node *at)
{
	if (parent->n < REQUEST_MAX_ELEMENTS)
		return 0;
	return fail_at(c, at, "more than %d %s (limit)", REQUEST_MAX_ELEMENTS,
	               parent->kind == NODE_OBJECT ? "keys" : "elements");
}

/* After pushing key onto the path. */
static int check_duplicate(struct ctx *c, const struct node *obj, const char *key,
                           const struct node *at)
{
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i]->text, key) == 0)
			return fail_at(c, at, "duplicate key");
	return 0;
}

static int fail_depth(struct ctx *c, const struct node *at)
{
	return fail_at(c, at, "nested deeper than %d levels (limit)", REQUEST_MAX_DEPTH);
}

/* --- JSON ------------------------------------------------------------- */

static void yajl_valp_free(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}

/* yajl_tree builds (and frees) its tree recursively and keeps no depth
 * limit, and it cannot report a "\u0000" that cuts a string short. One pass
 * over the text before yajl sees it refuses both. */
static int json_prescan(struct ctx *c, const char *s, size_t len)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (in_string) {
			if (ch == '\\') {
				if (i + 5 < len && s[i + 1] == 'u' &&
				    memcmp(s + i + 2, "0000", 4) == 0)
					return fail_at(c, NULL,
					               "strings must not contain NUL (\\u0000)");
				i++;
			} else if (ch == '"') {
				in_string = false;
			}
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '[' || ch == '{') {
			if (++depth > REQUEST_MAX_DEPTH)
				return fail_depth(c, NULL);
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 0;
}

static int json_convert(struct ctx *c, yajl_val v, struct node **out);

static int json_convert_children(struct ctx *c, yajl_val v, struct node *n)
{
	bool object = v->type == yajl_t_object;
	size_t len = object ? v->u.object.len : v->u.array.len;
	yajl_val *values = object ? v->u.object.values : v->u.array.values;
	int rc;

	for (size_t i = 0; i < len; i++) {
		cleanup(node_freep) struct node *key = NULL;
		cleanup(node_freep) struct node *child = NULL;
		size_t saved;

		if ((rc = check_room(c, n, NULL)))
			return rc;
		if (object) {
			const char *k = v->u.object.keys[i];

			saved = path_push_key(c, k);
			if ((rc = check_duplicate(c, n, k, NULL)))
				return rc;
			if (!(key = node_new(NODE_STRING, 0, 0)) || !(key->text = strdup(k)))
				return fail_oom(c);
		} else {
			saved = path_push_index(c, i);
		}
		if ((rc = json_convert(c, values[i], &child)))
			return rc;
		if (node_append(n, key, child))
			return fail_oom(c);
		key = child = NULL;
		path_pop(c, saved);
	}
	return 0;
}

static int json_convert(struct ctx *c, yajl_val v, struct node **out)
{
	cleanup(node_freep) struct node *n = node_new(NODE_NULL, 0, 0);
	int rc;

	if (!n)
		return fail_oom(c);
	switch (v->type) {
	case yajl_t_string:
		n->kind = NODE_STRING;
		if (!(n->text = strdup(v->u.string)))
			return fail_oom(c);
		break;
	case yajl_t_number:
		if (!(n->text = strdup(v->u.number.r)))
			return fail_oom(c);
		if (!(v->u.number.flags & (YAJL_NUMBER_INT_VALID | YAJL_NUMBER_DOUBLE_VALID)))
			return fail_at(c, NULL, "number %s is out of range", n->text);
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

static int json_decode(struct ctx *c, const char *text, size_t len, struct node **out)
{
	cleanup(freep) char *copy = NULL;
	cleanup(yajl_valp_free) yajl_val v = NULL;
	char ebuf[512] = "";
	int rc;

	if ((rc = json_prescan(c, text, len)))
		return rc;
	/* yajl_tree wants a NUL-terminated string; ours is counted. */
	if (!(copy = strndup(text, len)))
		return fail_oom(c);
	if (!(v = yajl_tree_parse(copy, ebuf, sizeof(ebuf)))) {
		/* yajl's verbose error is several lines (message, excerpt,
		 * arrow); the first says what is wrong. */
		ebuf[strcspn(ebuf, "\n")] = '\0';
		return fail_at(c, NULL, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
	}
	return json_convert(c, v, out);
}

/* --- YAML ------------------------------------------------------------- */

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

struct yaml_frame {
	struct node *node;  /* an OBJECT or ARRAY being filled */
	bool want_key;      /* OBJECT: the next scalar is a key */
	size_t child_saved; /* path length before the current child's segment */
};

struct yaml_builder {
	struct ctx *c;
	struct node *root;
	struct yaml_frame stack[REQUEST_MAX_DEPTH];
	int depth;
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

static int yaml_scalar(struct ctx *c, const yaml_event_t *ev, bool as_string, struct node **out)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	cleanup(node_freep) struct node *n =
	    node_new(NODE_STRING, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1);

	if (!n)
		return fail_oom(c);
	if (memchr(v, '\0', len))
		return fail_at(c, n, "strings must not contain NUL");
	if (!(n->text = strndup(v, len)))
		return fail_oom(c);
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
		if ((rc = check_room(b->c, top->node, at)))
			return rc;
		top->child_saved = path_push_index(b->c, top->node->n);
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
		return fail_oom(b->c);
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
	path_pop(b->c, top->child_saved);
	if (top->node->kind == NODE_OBJECT)
		top->want_key = true;
}

static int yb_key(struct yaml_builder *b, const yaml_event_t *ev)
{
	struct yaml_frame *top = &b->stack[b->depth - 1];
	struct node *key = NULL;
	int rc;

	if ((rc = yaml_scalar(b->c, ev, true, &key)))
		return rc;
	if ((rc = check_room(b->c, top->node, key)))
		goto fail;
	top->child_saved = path_push_key(b->c, key->text);
	if ((rc = check_duplicate(b->c, top->node, key->text, key)))
		goto fail;
	/* The value slot stays NULL until the value arrives (yb_attach). */
	if (node_append(top->node, key, NULL)) {
		rc = fail_oom(b->c);
		goto fail;
	}
	top->want_key = false;
	return 0;
fail:
	node_free(key);
	return rc;
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
			return fail_at(b->c, &mark, "only one YAML document is allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_at(b->c, &mark, "YAML aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (top && top->want_key)
			return yb_key(b, ev);
		if ((rc = yb_open_child(b, &mark)))
			return rc;
		if ((rc = yaml_scalar(b->c, ev, false, &n)))
			return rc;
		if ((rc = yb_attach(b, n)))
			return rc;
		yb_close_child(b);
		return 0;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (top && top->want_key)
			return fail_at(b->c, &mark, "mapping keys must be scalars");
		if ((rc = yb_open_child(b, &mark)))
			return rc;
		if (b->depth == REQUEST_MAX_DEPTH)
			return fail_depth(b->c, &mark);
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? NODE_OBJECT : NODE_ARRAY,
		             mark.line, mark.col);
		if (!n)
			return fail_oom(b->c);
		if ((rc = yb_attach(b, n)))
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

static int yaml_decode(struct ctx *c, const char *text, size_t len, struct node **out)
{
	cleanup(yaml_reader_cleanup) struct yaml_reader r = {.live = false};
	struct yaml_builder b = {.c = c};
	int documents = 0;
	int rc = 0;

	if (!yaml_parser_initialize(&r.parser))
		return fail_oom(c);
	r.live = true;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	for (bool done = false; !done && rc == 0;) {
		cleanup(yaml_event_cleanup) yaml_event_t ev;

		if (!yaml_parser_parse(&r.parser, &ev)) {
			struct node mark = {.line = (int)r.parser.problem_mark.line + 1,
			                    .col = (int)r.parser.problem_mark.column + 1};

			path_pop(c, 0);
			/* Encoding errors have an offset, not a position. */
			if (r.parser.error == YAML_READER_ERROR) {
				rc = fail_at(c, NULL, "invalid YAML: %s at byte %zu",
				             r.parser.problem ? r.parser.problem : "bad encoding",
				             r.parser.problem_offset);
				break;
			}
			rc = fail_at(c, &mark, "invalid YAML: %s%s%s",
			             r.parser.problem ? r.parser.problem : "syntax error",
			             r.parser.context ? " " : "",
			             r.parser.context ? r.parser.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = yb_event(&b, &ev, &documents);
	}
	if (rc) {
		node_free(b.root);
		return rc;
	}
	if (!b.root)
		return fail_at(c, NULL, "empty");
	*out = b.root;
	return 0;
}

/* --- text -> tree ----------------------------------------------------- */

static int decode(struct ctx *c, const char *text, size_t len, struct node **out)
{
	size_t i = 0;

	if (!text)
		return fail_at(c, NULL, "missing (NULL)");
	if (len > REQUEST_MAX_BYTES)
		return fail_at(c, NULL, "%zu bytes is larger than the %d byte (1 MiB) limit", len,
		               REQUEST_MAX_BYTES);
	if (memchr(text, '\0', len))
		return fail_at(c, NULL, "contains a NUL byte");
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == len)
		return fail_at(c, NULL, "empty");
	if (text[i] == '{')
		return json_decode(c, text, len, out);
	return yaml_decode(c, text, len, out);
}

/* --- the validator ---------------------------------------------------- */

struct field;
/* dst is base + field->offset, base the struct the key table describes. */
typedef int (*field_setter)(struct ctx *c, const struct node *n, void *dst, const struct field *f);

struct field {
	const char *key;
	field_setter set;
	size_t offset;
	bool required;
	const void *arg; /* setter-specific: a sub-table, a choice list, a rule */
};

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[66];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int fail_unknown_key(struct ctx *c, const struct node *key, const struct field *table)
{
	const char *best = NULL;
	size_t best_d = 3; /* hint only for near misses: "imagee", "jobId" */

	for (const struct field *f = table; f->key; f++) {
		size_t d = edit_distance(key->text, f->key);

		if (d < best_d) {
			best_d = d;
			best = f->key;
		}
	}
	if (best)
		return fail_at(c, key, "unknown key (did you mean \"%s\"?)", best);
	return fail_at(c, key, "unknown key");
}

/* The one walk every object goes through. Null values count as absent.
 * `seen` is a bitmap: key tables stay under 64 entries. */
static int walk_object(struct ctx *c, const struct node *n, const struct field *table, void *base)
{
	uint64_t seen = 0;
	int rc;

	if (n->kind != NODE_OBJECT)
		return fail_type(c, n, "an object");
	for (size_t i = 0; i < n->n; i++) {
		const struct node *key = n->keys[i], *val = n->items[i];
		const struct field *f;
		size_t saved = path_push_key(c, key->text);

		for (f = table; f->key && strcmp(f->key, key->text) != 0; f++)
			;
		if (!f->key)
			return fail_unknown_key(c, key, table);
		if (val->kind != NODE_NULL) {
			seen |= UINT64_C(1) << (f - table);
			if ((rc = f->set(c, val, (char *)base + f->offset, f)))
				return rc;
		}
		path_pop(c, saved);
	}
	for (const struct field *f = table; f->key; f++) {
		if (f->required && f != c->supplied && !(seen & (UINT64_C(1) << (f - table)))) {
			path_push_key(c, f->key);
			return fail_at(c, n, "required");
		}
	}
	return 0;
}

static int set_object(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	return walk_object(c, n, f->arg, dst);
}

static int string_of(struct ctx *c, const struct node *n)
{
	return n->kind == NODE_STRING ? 0 : fail_type(c, n, "a string");
}

static int store_string(struct ctx *c, const char *s, void *dst)
{
	char *copy = strdup(s);

	if (!copy)
		return fail_oom(c);
	free(*(char **)dst);
	*(char **)dst = copy;
	return 0;
}

static int set_id(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc;

	(void)f;
	if ((rc = string_of(c, n)))
		return rc;
	if (!request_valid_id(n->text, ID_MAX_LEN))
		return fail_at(c, n, "must be 1..%d characters of [A-Za-z0-9_.:-], got %s",
		               ID_MAX_LEN, REPR(n));
	return store_string(c, n->text, dst);
}

static int set_nonempty_string(struct ctx *c, const struct node *n, void *dst,
                               const struct field *f)
{
	int rc;

	(void)f;
	if ((rc = string_of(c, n)))
		return rc;
	if (!n->text[0])
		return fail_at(c, n, "must not be empty");
	for (const char *p = n->text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail_at(c, n, "must not contain control characters, got %s",
			               REPR(n));
	return store_string(c, n->text, dst);
}

/* Index of n's value in the NULL-terminated choices, or an error. */
static int pick_choice(struct ctx *c, const struct node *n, const char *const *choices, int *index)
{
	char list[256] = "";
	size_t o = 0;
	int rc;

	if ((rc = string_of(c, n)))
		return rc;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(n->text, choices[i]) == 0) {
			*index = i;
			return 0;
		}
		o +=
		    (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", choices[i]);
		if (o >= sizeof(list))
			break;
	}
	return fail_at(c, n, "must be one of %s; got %s", list, REPR(n));
}

static int set_choice(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = pick_choice(c, n, f->arg, &i)))
		return rc;
	return store_string(c, n->text, dst);
}

/* "default" is the engine's choice: NULL in the struct. */
static int set_network_mode(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = pick_choice(c, n, f->arg, &i)))
		return rc;
	if (strcmp(n->text, "default") == 0) {
		free(*(char **)dst);
		*(char **)dst = NULL;
		return 0;
	}
	return store_string(c, n->text, dst);
}

static int set_bool(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	(void)f;
	if (n->kind != NODE_BOOL)
		return fail_type(c, n, "a boolean");
	*(bool *)dst = n->boolean;
	return 0;
}

static bool has_dotdot(const char *p)
{
	for (const char *s = p; *s;) {
		size_t len = strcspn(s, "/");

		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += len;
		s += strspn(s, "/");
	}
	return false;
}

enum path_rule {
	PATH_ABSOLUTE = 1, /* starts with '/' */
	PATH_RELATIVE = 2, /* does not */
	PATH_EXISTS = 4,   /* exists on this host */
	PATH_NOT_ROOT = 8, /* is not "/" itself: nothing mounts over / */
};

static int set_path(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	unsigned rule = (unsigned)(uintptr_t)f->arg;
	struct stat st;
	int rc;

	if ((rc = string_of(c, n)))
		return rc;
	if (!n->text[0])
		return fail_at(c, n, "must not be empty");
	if ((rule & PATH_ABSOLUTE) && n->text[0] != '/')
		return fail_at(c, n, "must be an absolute path, got %s", REPR(n));
	if ((rule & PATH_RELATIVE) && n->text[0] == '/')
		return fail_at(c, n, "must be a relative name, got %s", REPR(n));
	if (has_dotdot(n->text))
		return fail_at(c, n, "must not contain \"..\" components, got %s", REPR(n));
	if ((rule & PATH_NOT_ROOT) && n->text[strspn(n->text, "/")] == '\0')
		return fail_at(c, n, "must not be \"/\"");
	if ((rule & PATH_EXISTS) && stat(n->text, &st) != 0)
		return fail_at(c, n, "%s: %s", REPR(n), strerror(errno));
	return store_string(c, n->text, dst);
}

#define ABS_PATH ((const void *)(uintptr_t)PATH_ABSOLUTE)
#define MOUNT_TARGET ((const void *)(uintptr_t)(PATH_ABSOLUTE | PATH_NOT_ROOT))
#define HOST_SOURCE ((const void *)(uintptr_t)(PATH_ABSOLUTE | PATH_EXISTS))
#define REL_NAME ((const void *)(uintptr_t)PATH_RELATIVE)

/* Rule for one element of a string array (the current path names it). */
typedef int (*strv_rule)(struct ctx *c, const struct node *el);

static int env_rule(struct ctx *c, const struct node *el)
{
	const char *eq = strchr(el->text, '=');

	if (!eq || eq == el->text)
		return fail_at(c, el, "must be \"KEY=VALUE\" with a non-empty KEY, got %s",
		               REPR(el));
	return 0;
}

static int set_strv(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	strv_rule rule = (strv_rule)f->arg;
	strv v;
	int rc;

	if (n->kind != NODE_ARRAY)
		return fail_type(c, n, "an array of strings");
	if (!(v = calloc(n->n + 1, sizeof(*v))))
		return fail_oom(c);
	strv_free(*(strv *)dst);
	*(strv *)dst = v; /* owned by the struct from here on, even on error */
	for (size_t i = 0; i < n->n; i++) {
		const struct node *el = n->items[i];
		size_t saved = path_push_index(c, i);

		if (el->kind != NODE_STRING)
			return fail_type(c, el, "a string");
		if (rule && (rc = rule(c, el)))
			return rc;
		if (!(v[i] = strdup(el->text)))
			return fail_oom(c);
		path_pop(c, saved);
	}
	return 0;
}

/* {"k": "v"} -> "k=v"; the org.dms. namespace is the executor's own. */
static int set_labels(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	strv v;

	(void)f;
	if (n->kind != NODE_OBJECT)
		return fail_type(c, n, "an object of strings");
	if (!(v = calloc(n->n + 1, sizeof(*v))))
		return fail_oom(c);
	strv_free(*(strv *)dst);
	*(strv *)dst = v;
	for (size_t i = 0; i < n->n; i++) {
		const struct node *key = n->keys[i], *val = n->items[i];
		size_t saved = path_push_key(c, key->text);

		if (!key->text[0] || strchr(key->text, '='))
			return fail_at(c, key, "label keys must be non-empty and without '='");
		if (strncmp(key->text, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0)
			return fail_at(c, key,
			               "the \"%s\" label prefix is reserved for the executor",
			               LABEL_PREFIX);
		if (val->kind != NODE_STRING)
			return fail_type(c, val, "a string");
		if (asprintf(&v[i], "%s=%s", key->text, val->text) < 0) {
			v[i] = NULL;
			return fail_oom(c);
		}
		path_pop(c, saved);
	}
	return 0;
}

/* A name (stored as "SIGTERM") or a number 1..64 (stored as its decimal
 * text) — the two forms Docker's StopSignal takes. */
static int set_signal(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	char buf[32];

	(void)f;
	if (n->kind == NODE_NUMBER && n->is_int) {
		snprintf(buf, sizeof(buf), "%" PRId64, n->integer);
		if (units_parse_signal(buf, buf))
			return store_string(c, buf, dst);
	} else if (n->kind == NODE_STRING) {
		if (units_parse_signal(n->text, buf))
			return store_string(c, buf, dst);
	} else if (n->kind != NODE_NUMBER) {
		return fail_type(c, n, "a signal name or number");
	}
	return fail_at(c, n, "must be a signal name like \"SIGTERM\" or a number 1..%d, got %s",
	               SIGNAL_MAX, REPR(n));
}

/* Seconds as a number, or a duration string ("10s", "1.5m", "250ms"). */
static int set_duration(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t ms;

	(void)f;
	if (n->kind == NODE_NUMBER) {
		if (!(n->number >= 0 && n->number <= DURATION_MAX_S))
			goto bad;
		ms = (int64_t)llround(n->number * 1000.0);
	} else if (n->kind == NODE_STRING) {
		ms = units_parse_duration_ms(n->text);
		if (ms < 0 || ms > (int64_t)(DURATION_MAX_S * 1000))
			goto bad;
	} else {
		return fail_type(c, n, "a duration (seconds, or a string like \"10s\")");
	}
	*(int64_t *)dst = ms;
	return 0;
bad:
	return fail_at(c, n,
	               "must be a duration from 0 to %.0f seconds (a number of seconds, or a "
	               "string like \"10s\"), got %s",
	               DURATION_MAX_S, REPR(n));
}

static int set_cores(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	(void)f;
	if (n->kind != NODE_NUMBER)
		return fail_type(c, n, "a number");
	if (!(n->number > 0 && n->number <= CPU_CORES_MAX))
		return fail_at(c, n, "must be a number > 0 and <= %.0f, got %s", CPU_CORES_MAX,
		               REPR(n));
	*(double *)dst = n->number;
	return 0;
}

/* Bytes as an integer, or a size string ("64MiB", "512k"). */
static int set_memory(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t bytes;

	(void)f;
	if (n->kind == NODE_NUMBER)
		bytes = n->is_int ? n->integer : -1;
	else if (n->kind == NODE_STRING)
		bytes = units_parse_size(n->text);
	else
		return fail_type(c, n, "a size (bytes, or a string like \"64MiB\")");
	if (bytes < MEMORY_MIN_BYTES)
		return fail_at(c, n,
		               "must be a size of at least %" PRId64 " bytes (6 MiB), as an "
		               "integer or a string like \"64MiB\", got %s",
		               MEMORY_MIN_BYTES, REPR(n));
	*(int64_t *)dst = bytes;
	return 0;
}

/* arg: the smallest value allowed (0 or 1). */
static int set_int_min(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t min = (int64_t)(intptr_t)f->arg;

	if (n->kind != NODE_NUMBER)
		return fail_type(c, n, "an integer");
	if (!n->is_int || n->integer < min)
		return fail_at(c, n, "must be an integer >= %" PRId64 ", got %s", min, REPR(n));
	*(int64_t *)dst = n->integer;
	return 0;
}

/* Known Linux capabilities (capability.h, up to 5.x/6.x): a misspelt name
 * is caught here with the field's path instead of by the engine at create. */
static const char *const capabilities[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
    NULL,
};

/* cap_add / cap_drop element: "ALL", or a capability with or without the
 * CAP_ prefix, any case; rewritten in place to "CAP_X" / "ALL" (the form
 * both engines report back in inspect). */
static int capability_rule(struct ctx *c, const struct node *el)
{
	const char *name = el->text;
	char upper[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)toupper((unsigned char)name[i]);
	upper[i] = '\0';
	if (name[i])
		goto bad;
	if (strcmp(upper, "ALL") == 0)
		return 0;
	name = strncmp(upper, "CAP_", 4) == 0 ? upper + 4 : upper;
	for (const char *const *k = capabilities; *k; k++)
		if (strcmp(*k, name) == 0)
			return 0;
bad:
	return fail_at(c, el,
	               "must be a capability name like \"NET_ADMIN\" or \"CAP_NET_ADMIN\", "
	               "or \"ALL\"; got %s",
	               REPR(el));
}

static int normalize_capabilities(struct ctx *c, strv v)
{
	for (size_t i = 0; v && v[i]; i++) {
		char *p = v[i], *norm = NULL;

		for (char *q = p; *q; q++)
			*q = (char)toupper((unsigned char)*q);
		if (strcmp(p, "ALL") == 0 || strncmp(p, "CAP_", 4) == 0)
			continue;
		if (asprintf(&norm, "CAP_%s", p) < 0)
			return fail_oom(c);
		free(p);
		v[i] = norm;
	}
	return 0;
}

static int set_capabilities(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc = set_strv(c, n, dst, f);

	return rc ? rc : normalize_capabilities(c, *(strv *)dst);
}

/* The CPUs this host has, for cpuset checks: the engines run here (the
 * executor talks to local sockets), so the host's count is theirs. */
static long host_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? n : 1;
}

/* "0-1,3": comma-separated CPU numbers and ranges, as cpuset.cpus takes. */
static int set_cpuset(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	long ncpu = host_cpu_count();
	const char *p;
	int rc;

	(void)f;
	if ((rc = string_of(c, n)))
		return rc;
	p = n->text;
	if (!*p)
		return fail_at(c, n, "must not be empty");
	for (;;) {
		char *end;
		long lo, hi;

		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		lo = hi = strtol(p, &end, 10);
		if (errno)
			goto bad;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtol(p, &end, 10);
			if (errno || hi < lo)
				goto bad;
			p = end;
		}
		if (hi >= ncpu)
			return fail_at(c, n,
			               "CPU %ld does not exist on this host (it has %ld CPUs, "
			               "0-%ld), got %s",
			               hi, ncpu, ncpu - 1, REPR(n));
		if (*p == '\0')
			break;
		if (*p++ != ',')
			goto bad;
	}
	return store_string(c, n->text, dst);
bad:
	return fail_at(c, n,
	               "must be a CPU list like \"0-1,3\" (numbers and ranges, "
	               "comma-separated), got %s",
	               REPR(n));
}

/* Arrays of objects (inputs, outputs, gpus, ports), each element walked
 * with its own table into an array of elem_size structs. */
struct object_list {
	const struct field *table;
	size_t elem_size;
	size_t count_offset; /* of the size_t count, from the same base */
	void (*init)(void *elem);                                      /* defaults; may be NULL */
	int (*check)(struct ctx *c, const struct node *n, void *elem); /* may be NULL */
};

static int set_object_list(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	const struct object_list *ol = f->arg;
	size_t *count = (size_t *)((char *)dst - f->offset + ol->count_offset);
	char *v;
	int rc;

	if (n->kind != NODE_ARRAY)
		return fail_type(c, n, "an array of objects");
	if (n->n == 0)
		return 0;
	if (!(v = calloc(n->n, ol->elem_size)))
		return fail_oom(c);
	*(void **)dst = v; /* the struct owns it, even on error */
	*count = n->n;
	for (size_t i = 0; i < n->n; i++) {
		size_t saved = path_push_index(c, i);
		void *elem = v + i * ol->elem_size;

		if (ol->init)
			ol->init(elem);
		if ((rc = walk_object(c, n->items[i], ol->table, elem)))
			return rc;
		if (ol->check && (rc = ol->check(c, n->items[i], elem)))
			return rc;
		path_pop(c, saved);
	}
	return 0;
}

static const char *const gpu_vendors[] = {"nvidia", "amd", "intel", NULL};

static int set_gpu_vendor(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = pick_choice(c, n, f->arg, &i)))
		return rc;
	*(enum gpu_vendor *)dst = (enum gpu_vendor)i;
	return 0;
}

/* A GPU index: the decimal number the vendor's tools show (nvidia-smi,
 * rocm-smi), or for nvidia a UUID ("GPU-..."), which Docker accepts too. */
static int gpu_id_rule(struct ctx *c, const struct node *el)
{
	const char *s = el->text;

	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 4)
		return 0;
	if (strncmp(s, "GPU-", 4) == 0 && strlen(s) < 64 &&
	    strspn(s + 4, "0123456789abcdefABCDEF-") == strlen(s + 4) && s[4])
		return 0;
	return fail_at(c, el,
	               "must be a GPU index like \"0\" (or an NVIDIA UUID \"GPU-...\"), "
	               "got %s",
	               REPR(el));
}

static int check_gpu(struct ctx *c, const struct node *n, void *elem)
{
	struct gpu_spec *g = elem;
	size_t saved;

	if (g->ids && g->count) {
		saved = path_push_key(c, "count");
		return fail_at(c, n, "give either ids or count, not both");
	}
	if (g->ids && !g->ids[0]) {
		saved = path_push_key(c, "ids");
		return fail_at(c, n, "must not be empty (leave it out for all GPUs)");
	}
	if (g->vendor != GPU_NVIDIA) {
		if (g->count) {
			saved = path_push_key(c, "count");
			return fail_at(c, n, "is only supported for nvidia; give ids for %s",
			               gpu_vendors[g->vendor]);
		}
		for (size_t i = 0; g->ids && g->ids[i]; i++) {
			if (strncmp(g->ids[i], "GPU-", 4) == 0) {
				saved = path_push_key(c, "ids");
				path_push_index(c, i);
				return fail_at(c, n,
				               "UUIDs are only supported for nvidia, got \"%s\"",
				               g->ids[i]);
			}
		}
	}
	(void)saved;
	return 0;
}

static void port_init(void *elem)
{
	((struct port_spec *)elem)->container_port = 0;
}

/* host_ip: an IPv4 or IPv6 address (no brackets). */
static int set_ip(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int rc;

	(void)f;
	if ((rc = string_of(c, n)))
		return rc;
	if (inet_pton(AF_INET, n->text, buf) != 1 && inet_pton(AF_INET6, n->text, buf) != 1)
		return fail_at(c, n, "must be an IPv4 or IPv6 address, got %s", REPR(n));
	return store_string(c, n->text, dst);
}

/* arg: the smallest port allowed (0 for host_port: ephemeral). */
static int set_port(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t min = (int64_t)(intptr_t)f->arg;

	if (n->kind != NODE_NUMBER)
		return fail_type(c, n, "an integer");
	if (!n->is_int || n->integer < min || n->integer > 65535)
		return fail_at(c, n, "must be a port number %" PRId64 "..65535, got %s", min,
		               REPR(n));
	*(int64_t *)dst = n->integer;
	return 0;
}

static int check_port(struct ctx *c, const struct node *n, void *elem)
{
	struct port_spec *p = elem;

	(void)n;
	if (!p->protocol && !(p->protocol = strdup("tcp")))
		return fail_oom(c);
	return 0;
}

/* --- the key tables --------------------------------------------------- */

#define R(field) offsetof(struct exec_request, field)
#define M(field) offsetof(struct mount_spec, field)

static const char *const engine_types[] = {"docker", "podman", NULL};
static const char *const network_modes[] = {"none", "bridge", "host", "isolated", "default", NULL};
static const char *const protocols[] = {"tcp", "udp", "sctp", NULL};
static const char *const pull_policies[] = {"if-not-present", "always", "never", NULL};
static const char *const mount_types[] = {"bind", NULL};
static const char *const log_formats[] = {"framed", "plain", NULL};

#define P(field) offsetof(struct port_spec, field)
#define G(field) offsetof(struct gpu_spec, field)

static const struct field port_fields[] = {
    {"host_ip", set_ip, P(host_ip), false, NULL},
    {"host_port", set_port, P(host_port), false, (const void *)(intptr_t)0},
    {"container_port", set_port, P(container_port), true, (const void *)(intptr_t)1},
    {"protocol", set_choice, P(protocol), false, protocols},
    {NULL, NULL, 0, false, NULL},
};

static const struct object_list ports_list = {port_fields, sizeof(struct port_spec), R(n_ports),
                                              port_init, check_port};

static const struct field gpu_fields[] = {
    {"vendor", set_gpu_vendor, G(vendor), true, gpu_vendors},
    {"ids", set_strv, G(ids), false, (const void *)gpu_id_rule},
    {"count", set_int_min, G(count), false, (const void *)(intptr_t)1},
    {NULL, NULL, 0, false, NULL},
};

static const struct object_list gpus_list = {gpu_fields, sizeof(struct gpu_spec), R(n_gpus), NULL,
                                             check_gpu};

static const struct field params_fields[] = {
    {"image", set_nonempty_string, R(image), true, NULL},
    {"entrypoint", set_strv, R(entrypoint), false, NULL},
    {"cmd", set_strv, R(cmd), false, NULL},
    {"environment", set_strv, R(environment), false, (const void *)env_rule},
    {"working_directory", set_path, R(working_directory), false, ABS_PATH},
    {"user", set_nonempty_string, R(user), false, NULL},
    {"labels", set_labels, R(labels), false, NULL},
    {"network_mode", set_network_mode, R(network_mode), false, network_modes},
    {"stop_signal", set_signal, R(stop_signal), false, NULL},
    {"stop_timeout", set_duration, R(stop_timeout_ms), false, NULL},
    {"pull_policy", set_choice, R(pull_policy), false, pull_policies},
    {"tty", set_bool, R(tty), false, NULL},
    {"read_only_rootfs", set_bool, R(read_only_rootfs), false, NULL},
    {"cap_add", set_capabilities, R(cap_add), false, (const void *)capability_rule},
    {"cap_drop", set_capabilities, R(cap_drop), false, (const void *)capability_rule},
    {"no_new_privileges", set_bool, R(no_new_privileges), false, NULL},
    {"ports", set_object_list, R(ports), false, &ports_list},
    {NULL, NULL, 0, false, NULL},
};

static const struct field engine_spec_fields[] = {
    {"type", set_choice, R(engine_type), true, engine_types},
    {"params", set_object, 0, true, params_fields},
    {NULL, NULL, 0, false, NULL},
};

static const struct field cpu_fields[] = {
    {"cores", set_cores, R(cpu_cores), false, NULL},
    {"cpuset", set_cpuset, R(cpuset_cpus), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static const struct field memory_fields[] = {
    {"size", set_memory, R(memory_bytes), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static const struct field pids_fields[] = {
    {"limit", set_int_min, R(pids_limit), false, (const void *)(intptr_t)1},
    {NULL, NULL, 0, false, NULL},
};

static const struct field resources_fields[] = {
    {"cpu", set_object, 0, false, cpu_fields},
    {"memory", set_object, 0, false, memory_fields},
    {"pids", set_object, 0, false, pids_fields},
    {"gpus", set_object_list, R(gpus), false, &gpus_list},
    {NULL, NULL, 0, false, NULL},
};

static const struct field input_fields[] = {
    {"type", set_choice, M(type), false, mount_types},
    {"source", set_path, M(source), true, HOST_SOURCE},
    {"target", set_path, M(target), true, MOUNT_TARGET},
    {"read_only", set_bool, M(read_only), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

/* An output is a writable bind mount of results_dir/source (created
 * before the container) at target: what the job writes there is on the
 * host when it ends, with no copy step. */
static const struct field output_fields[] = {
    {"source", set_path, M(source), true, REL_NAME},
    {"target", set_path, M(target), true, MOUNT_TARGET},
    {NULL, NULL, 0, false, NULL},
};

static void input_init(void *elem)
{
	((struct mount_spec *)elem)->read_only = true;
}

static int check_mount(struct ctx *c, const struct node *n, void *elem)
{
	struct mount_spec *m = elem;

	(void)n;
	if (!m->type && !(m->type = strdup("bind")))
		return fail_oom(c);
	return 0;
}

static const struct object_list inputs_list = {input_fields, sizeof(struct mount_spec), R(n_inputs),
                                               input_init, check_mount};
static const struct object_list outputs_list = {output_fields, sizeof(struct mount_spec),
                                                R(n_outputs), NULL, check_mount};

/* request_fields[REQUEST_FIELD_EXECUTION_ID] is execution_id. */
#define REQUEST_FIELD_EXECUTION_ID 1
static const struct field request_fields[] = {
    {"job_id", set_id, R(job_id), true, NULL},
    {"execution_id", set_id, R(execution_id), true, NULL},
    {"engine_spec", set_object, 0, true, engine_spec_fields},
    {"resources", set_object, 0, false, resources_fields},
    {"inputs", set_object_list, R(inputs), false, &inputs_list},
    {"outputs", set_object_list, R(outputs), false, &outputs_list},
    {"results_dir", set_path, R(results_dir), false, ABS_PATH},
    {"timeout", set_duration, R(timeout_ms), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static int set_log_format(struct ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = pick_choice(c, n, f->arg, &i)))
		return rc;
	*(enum log_format *)dst = i == 0 ? LOG_FORMAT_FRAMED : LOG_FORMAT_PLAIN;
	return 0;
}

#define L(field) offsetof(struct log_request, field)

static const struct field log_request_fields[] = {
    {"execution_id", set_id, L(execution_id), true, NULL},
    {"tail", set_bool, L(tail), false, NULL},
    {"follow", set_bool, L(follow), false, NULL},
    {"lines", set_int_min, L(lines), false, (const void *)(intptr_t)0},
    {"format", set_log_format, L(format), false, log_formats},
    {NULL, NULL, 0, false, NULL},
};

/* --- checks across fields --------------------------------------------- */

static size_t target_len(const char *t)
{
	size_t len = strlen(t);

	while (len > 1 && t[len - 1] == '/')
		len--;
	return len;
}

static int check_mount_targets(struct ctx *c, const struct exec_request *r)
{
	size_t total = r->n_inputs + r->n_outputs;

	for (size_t i = 0; i < total; i++) {
		bool out_i = i >= r->n_inputs;
		const struct mount_spec *a = out_i ? &r->outputs[i - r->n_inputs] : &r->inputs[i];

		for (size_t j = 0; j < i; j++) {
			bool out_j = j >= r->n_inputs;
			const struct mount_spec *b =
			    out_j ? &r->outputs[j - r->n_inputs] : &r->inputs[j];
			size_t la = target_len(a->target);

			if (la != target_len(b->target) || memcmp(a->target, b->target, la) != 0)
				continue;
			path_push_key(c, out_i ? "outputs" : "inputs");
			path_push_index(c, out_i ? i - r->n_inputs : i);
			path_push_key(c, "target");
			return fail_at(c, NULL, "\"%s\" is already the target of %s[%zu]",
			               a->target, out_j ? "outputs" : "inputs",
			               out_j ? j - r->n_inputs : j);
		}
	}
	return 0;
}

/* Ports publish through a network namespace of the container's own: none
 * has no interface to publish on and host needs no publishing (Docker
 * ignores the bindings silently, which is what a user would not expect). */
static int check_ports(struct ctx *c, const struct exec_request *r)
{
	if (!r->n_ports)
		return 0;
	if (r->network_mode &&
	    (strcmp(r->network_mode, "none") == 0 || strcmp(r->network_mode, "host") == 0)) {
		path_push_key(c, "engine_spec");
		path_push_key(c, "params");
		path_push_key(c, "ports");
		return fail_at(c, NULL, "cannot publish ports with network_mode \"%s\"",
		               r->network_mode);
	}
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct port_spec *a = &r->ports[i];

		for (size_t j = 0; j < i; j++) {
			const struct port_spec *b = &r->ports[j];
			bool same_ip =
			    (!a->host_ip && !b->host_ip) ||
			    (a->host_ip && b->host_ip && strcmp(a->host_ip, b->host_ip) == 0);

			if (!a->host_port || a->host_port != b->host_port || !same_ip ||
			    strcmp(a->protocol, b->protocol) != 0)
				continue;
			path_push_key(c, "engine_spec");
			path_push_key(c, "params");
			path_push_key(c, "ports");
			path_push_index(c, i);
			path_push_key(c, "host_port");
			return fail_at(c, NULL, "%" PRId64 "/%s is already published by ports[%zu]",
			               a->host_port, a->protocol, j);
		}
	}
	return 0;
}

static int check_request(struct ctx *c, struct exec_request *r)
{
	int rc;

	if (r->n_outputs && !r->results_dir) {
		path_push_key(c, "results_dir");
		return fail_at(c, NULL, "required when outputs are given");
	}
	if ((rc = check_mount_targets(c, r)))
		return rc;
	if ((rc = check_ports(c, r)))
		return rc;
	if (!r->pull_policy && !(r->pull_policy = strdup("if-not-present")))
		return fail_oom(c);
	return 0;
}

/* --- public ----------------------------------------------------------- */

static void request_freep(struct exec_request **r)
{
	request_free(*r);
}

static void log_request_freep(struct log_request **r)
{
	log_request_free(*r);
}

int request_parse(const char *text, size_t len, struct exec_request **out, dms_error **err)
{
	return request_parse_ex(text, len, 0, out, err);
}

int request_parse_ex(const char *text, size_t len, unsigned flags, struct exec_request **out,
                     dms_error **err)
{
	struct ctx c = {.err = err, .what = "request"};
	cleanup(node_freep) struct node *root = NULL;
	cleanup(request_freep) struct exec_request *r = NULL;
	int rc;

	if ((rc = decode(&c, text, len, &root)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return fail_oom(&c);
	r->stop_timeout_ms = -1;
	r->no_new_privileges = true;
	if (flags & REQUEST_EXECUTION_ID_OPTIONAL)
		c.supplied = &request_fields[REQUEST_FIELD_EXECUTION_ID];
	if ((rc = walk_object(&c, root, request_fields, r)))
		return rc;
	if ((rc = check_request(&c, r)))
		return rc;
	*out = r;
	r = NULL;
	return 0;
}

static void mounts_free(struct mount_spec *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].type);
		free(m[i].source);
		free(m[i].target);
	}
	free(m);
}

void request_free(struct exec_request *r)
{
	if (!r)
		return;
	free(r->job_id);
	free(r->execution_id);
	free(r->engine_type);
	free(r->image);
	strv_free(r->entrypoint);
	strv_free(r->cmd);
	strv_free(r->environment);
	free(r->working_directory);
	free(r->user);
	strv_free(r->labels);
	free(r->network_mode);
	free(r->stop_signal);
	free(r->pull_policy);
	mounts_free(r->inputs, r->n_inputs);
	mounts_free(r->outputs, r->n_outputs);
	free(r->results_dir);
	strv_free(r->cap_add);
	strv_free(r->cap_drop);
	free(r->cpuset_cpus);
	for (size_t i = 0; r->gpus && i < r->n_gpus; i++)
		strv_free(r->gpus[i].ids);
	free(r->gpus);
	for (size_t i = 0; r->ports && i < r->n_ports; i++) {
		free(r->ports[i].host_ip);
		free(r->ports[i].protocol);
	}
	free(r->ports);
	free(r);
}

int log_request_parse(const char *text, size_t len, struct log_request **out, dms_error **err)
{
	struct ctx c = {.err = err, .what = "log request"};
	cleanup(node_freep) struct node *root = NULL;
	cleanup(log_request_freep) struct log_request *r = NULL;
	int rc;

	if ((rc = decode(&c, text, len, &root)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return fail_oom(&c);
	r->lines = -1;
	r->format = LOG_FORMAT_FRAMED;
	if ((rc = walk_object(&c, root, log_request_fields, r)))
		return rc;
	*out = r;
	r = NULL;
	return 0;
}

void log_request_free(struct log_request *r)
{
	if (!r)
		return;
	free(r->execution_id);
	free(r);
}

/* max 0 (or above 128) means 128. "." and ".." are refused although their
 * characters are allowed: ids name directories under the state dir. */
bool request_valid_id(const char *s, size_t max)
{
	size_t len;

	if (!s)
		return false;
	if (max == 0 || max > ID_MAX_LEN)
		max = ID_MAX_LEN;
	len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-");
	if (len == 0 || s[len] != '\0' || len > max)
		return false;
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}
