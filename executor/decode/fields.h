/* fields.h — key tables and the one set of field setters (the netplan
 * way: each key names a setter and the offsetof of its field) that the
 * request, the log request and the executor config are read through, so
 * that a size, a duration, a signal or a path means the same and is
 * refused with the same words wherever a person writes it.
 *
 *     static const struct field table[] = {
 *         {"stop_timeout", field_duration, offsetof(struct x, stop_ms), false, NULL},
 *         {NULL, NULL, 0, false, NULL},
 *     };
 *     rc = field_walk(&ctx, root, table, x);
 */
#ifndef DMS_FIELDS_H
#define DMS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "doc.h"

struct field;
/* dst is base + field->offset, base the struct the key table describes. */
typedef int (*field_setter)(struct doc_ctx *c, const struct node *n, void *dst,
                            const struct field *f);

struct field {
	const char *key;
	field_setter set;
	size_t offset;
	bool required;
	const void *arg; /* setter-specific: a sub-table, a choice list, a rule */
};

/* The one walk every object goes through: unknown keys are refused (with
 * a "did you mean" for near misses), null values count as absent, required
 * keys must be there (but c->supplied). Tables stay under 64 entries. */
int field_walk(struct doc_ctx *c, const struct node *n, const struct field *table, void *base);

/* Helpers for setters of one struct's own. */
int field_want_string(struct doc_ctx *c, const struct node *n);
int field_store_string(struct doc_ctx *c, const char *s, void *dst);
/* Index of n's value in the NULL-terminated choices, or an error listing them. */
int field_pick_choice(struct doc_ctx *c, const struct node *n, const char *const *choices,
                      int *index);
/* Bytes as an integer, or a size string (units_parse_size), >= min. */
int field_size_of(struct doc_ctx *c, const struct node *n, int64_t min, int64_t *bytes);

/* The setters. Each names what it stores and what its arg is. */
int field_object(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* char *: an id of request_valid_id's rule (1..128 characters). */
int field_id(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* char *: a non-empty string without control characters. */
int field_string(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* char *: any non-empty scalar as written ("1234" stays text), never
 * echoed in a message: for credentials. */
int field_secret(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* char *: one of arg (const char *const[], NULL-terminated). */
int field_choice(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* bool. */
int field_bool(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* int64_t: an integer >= arg ((intptr_t) 0 or 1). */
int field_int_min(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* int64_t milliseconds: seconds as a number, or a duration string
 * (units_parse_duration_ms), up to FIELD_DURATION_MAX_S. */
#define FIELD_DURATION_MAX_S 1e9
int field_duration(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* size_t bytes: field_size_of with min 0. */
int field_size(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* char *: a signal of units_parse_signal's rule, a name or a number, stored
 * in its canonical form ("SIGTERM", "9"). */
int field_signal(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);

/* char *: a path; arg is a set of these rules. */
enum field_path_rule {
	PATH_ABSOLUTE = 1,  /* starts with '/' */
	PATH_RELATIVE = 2,  /* does not */
	PATH_EXISTS = 4,    /* exists on this host */
	PATH_NOT_ROOT = 8,  /* is not "/" itself: nothing mounts over / */
	PATH_NO_DOTDOT = 16 /* no ".." component */
};
#define FIELD_PATH_RULE(bits) ((const void *)(uintptr_t)(bits))
int field_path(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);

/* strv: an array of strings; arg, if not NULL, a field_strv_rule checked on
 * each element (the current path names it). */
typedef int (*field_strv_rule)(struct doc_ctx *c, const struct node *el);
int field_strv(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);
/* The rule of an environment element: "KEY=VALUE" with a non-empty KEY
 * (request.c; the request's environment and the exec request's env). */
int request_env_rule(struct doc_ctx *c, const struct node *el);

/* An array of objects, each element walked with its own table into an
 * array of elem_size structs; arg is a struct field_list. */
struct field_list {
	const struct field *table;
	size_t elem_size;
	size_t count_offset;      /* of the size_t count, from the same base */
	void (*init)(void *elem); /* defaults; may be NULL */
	int (*check)(struct doc_ctx *c, const struct node *n, void *elem); /* may be NULL */
};
int field_object_list(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f);

#endif
