/* doc.h — the document tree every decoded text becomes (the request, the
 * log request and the executor config), and the decoding context that
 * carries the dotted path of the value being looked at and builds the
 * error messages.
 *
 * A front end (doc_json.c, doc_yaml.c) turns text into a tree of struct
 * node while it enforces the size, nesting, element-count and duplicate-key
 * limits; the key-table walker (fields.h) then reads the tree into a
 * struct. Every message has one form: "<path>: <message>", plus
 * " (line L:C)" when the value came from YAML. */
#ifndef DMS_DOC_H
#define DMS_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dms/executor.h>

#include "cleanup.h"
#include "error.h"

#define DOC_MAX_BYTES (1024 * 1024)
#define DOC_MAX_DEPTH 32
#define DOC_MAX_ELEMENTS 4096

enum node_kind { NODE_NULL, NODE_BOOL, NODE_NUMBER, NODE_STRING, NODE_ARRAY, NODE_OBJECT };

struct node {
	enum node_kind kind;
	int line, col; /* YAML: 1-based position; JSON: 0 (unknown) */
	char *text;    /* STRING: the value; NUMBER (and YAML scalars): as written */
	bool boolean;
	double number;
	bool is_int; /* NUMBER: integral and representable as int64 */
	int64_t integer;
	struct node **keys;  /* OBJECT: STRING key nodes, parallel to items */
	struct node **items; /* ARRAY: elements; OBJECT: values */
	size_t n, cap;
};

struct node *node_new(enum node_kind kind, int line, int col);
void node_free(struct node *n); /* NULL-safe */
static inline void node_freep(struct node **n)
{
	node_free(*n);
}
#define _cleanup_node_ _cleanup_(node_freep)

/* Sets a NUMBER node from what a parser found. Whole doubles within 2^53
 * count as integers: some producers write 67108864 as 6.7108864e7. */
void node_set_number(struct node *n, bool int_valid, int64_t i, double d);
/* Appends (key, val) to an OBJECT (key != NULL) or val to an ARRAY. The
 * caller has checked the limits; only allocation can fail. */
int node_append(struct node *parent, struct node *key, struct node *val);
const char *node_kind_name(enum node_kind k);
/* A short, printable rendering of a scalar for "got ..." in messages. */
const char *node_repr(const struct node *n, char *buf, size_t size);
#define NODE_REPR(n) node_repr((n), (char[80]){0}, 80)

struct field;

/* Where the decoder is (the dotted path of the value being looked at) and
 * where its error goes. */
struct doc_ctx {
	dms_error **err;
	dms_status category; /* of every refusal: INVALID_ARGUMENT, or CONFIG */
	const char *what;    /* "request", "log request", "config": the root's name */
	char path[1024];
	size_t path_len;
	const struct field *supplied; /* a required field the caller fills in when absent */
};

/* Appends ".key" (or "key" at the root) / "[i]"; each returns the length
 * doc_path_pop goes back to. Keys are user text: control characters become
 * '?' and long ones are cut, so a message can always be printed. */
size_t doc_path_push_key(struct doc_ctx *c, const char *key);
size_t doc_path_push_index(struct doc_ctx *c, size_t index);
void doc_path_pop(struct doc_ctx *c, size_t saved);

/* "<path>: <message>[ (line L:C)]" with the context's category. */
int doc_fail_at(struct doc_ctx *c, const struct node *at, const char *fmt, ...) DMS_PRINTF(3, 4);
int doc_fail_type(struct doc_ctx *c, const struct node *n, const char *want);
int doc_fail_oom(struct doc_ctx *c);

/* Limits the front ends share. */
int doc_check_room(struct doc_ctx *c, const struct node *parent, const struct node *at);
int doc_check_duplicate(struct doc_ctx *c, const struct node *obj, const char *key,
                        const struct node *at);
int doc_fail_depth(struct doc_ctx *c, const struct node *at);

/* doc_parse flags. */
#define DOC_YAML_ONLY 1u    /* never JSON, even when the text starts with '{' */
#define DOC_EMPTY_OK 2u     /* no document at all: *out = NULL, not an error */
#define DOC_YAML_ALIASES 4u /* YAML aliases of scalars are resolved, not refused */

/* Text -> tree: JSON when the first non-blank byte is '{', YAML otherwise. */
int doc_parse(struct doc_ctx *c, const char *text, size_t len, unsigned flags, struct node **out);
/* The front ends (len bytes, no NUL among them, at most DOC_MAX_BYTES). */
int doc_parse_json(struct doc_ctx *c, const char *text, size_t len, struct node **out);
int doc_parse_yaml(struct doc_ctx *c, const char *text, size_t len, unsigned flags,
                   struct node **out);

#endif
