/* fields.c — the key-table walker and the field setters (fields.h) shared
 * by the request, the log request and the config. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fields.h"
#include "request.h"
#include "strv.h"
#include "units.h"

#define ID_MAX_LEN 128

/* --- the walker --------------------------------------------------------- */

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

static int fail_unknown_key(struct doc_ctx *c, const struct node *key, const struct field *table)
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
		return doc_fail_at(c, key, "unknown key (did you mean \"%s\"?)", best);
	return doc_fail_at(c, key, "unknown key");
}

int field_walk(struct doc_ctx *c, const struct node *n, const struct field *table, void *base)
{
	uint64_t seen = 0;
	int rc;

	if (n->kind != NODE_OBJECT)
		return doc_fail_type(c, n, "an object");
	for (size_t i = 0; i < n->n; i++) {
		const struct node *key = n->keys[i], *val = n->items[i];
		const struct field *f;
		size_t saved = doc_path_push_key(c, key->text);

		for (f = table; f->key && strcmp(f->key, key->text) != 0; f++)
			;
		if (!f->key)
			return fail_unknown_key(c, key, table);
		if (val->kind != NODE_NULL) {
			seen |= UINT64_C(1) << (f - table);
			if ((rc = f->set(c, val, (char *)base + f->offset, f)))
				return rc;
		}
		doc_path_pop(c, saved);
	}
	for (const struct field *f = table; f->key; f++) {
		if (f->required && f != c->supplied && !(seen & (UINT64_C(1) << (f - table)))) {
			doc_path_push_key(c, f->key);
			return doc_fail_at(c, n, "required");
		}
	}
	return 0;
}

int field_object(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	return field_walk(c, n, f->arg, dst);
}

/* --- strings ------------------------------------------------------------ */

int field_want_string(struct doc_ctx *c, const struct node *n)
{
	return n->kind == NODE_STRING ? 0 : doc_fail_type(c, n, "a string");
}

int field_store_string(struct doc_ctx *c, const char *s, void *dst)
{
	char *copy = strdup(s);

	if (!copy)
		return doc_fail_oom(c);
	free(*(char **)dst);
	*(char **)dst = copy;
	return 0;
}

int field_id(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc;

	(void)f;
	if ((rc = field_want_string(c, n)))
		return rc;
	if (!request_valid_id(n->text, ID_MAX_LEN))
		return doc_fail_at(c, n, "must be 1..%d characters of [A-Za-z0-9_.:-], got %s",
		                   ID_MAX_LEN, NODE_REPR(n));
	return field_store_string(c, n->text, dst);
}

int field_string(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc;

	(void)f;
	if ((rc = field_want_string(c, n)))
		return rc;
	if (!n->text[0])
		return doc_fail_at(c, n, "must not be empty");
	for (const char *p = n->text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return doc_fail_at(c, n, "must not contain control characters, got %s",
			                   NODE_REPR(n));
	return field_store_string(c, n->text, dst);
}

int field_secret(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	const char *text = n->text;

	(void)f;
	if (n->kind == NODE_BOOL && !text)
		text = n->boolean ? "true" : "false";
	if (n->kind == NODE_ARRAY || n->kind == NODE_OBJECT || !text || !text[0])
		return doc_fail_at(c, n, "must be a non-empty string");
	return field_store_string(c, text, dst);
}

int field_pick_choice(struct doc_ctx *c, const struct node *n, const char *const *choices,
                      int *index)
{
	char list[256] = "";
	size_t o = 0;
	int rc;

	if ((rc = field_want_string(c, n)))
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
	return doc_fail_at(c, n, "must be one of %s; got %s", list, NODE_REPR(n));
}

int field_choice(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = field_pick_choice(c, n, f->arg, &i)))
		return rc;
	return field_store_string(c, n->text, dst);
}

/* --- scalars ------------------------------------------------------------ */

int field_bool(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	(void)f;
	if (n->kind != NODE_BOOL)
		return doc_fail_at(c, n, "must be a boolean, got %s: write true or false",
		                   node_kind_name(n->kind));
	*(bool *)dst = n->boolean;
	return 0;
}

int field_int_min(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t min = (int64_t)(intptr_t)f->arg;

	if (n->kind != NODE_NUMBER)
		return doc_fail_type(c, n, "an integer");
	if (!n->is_int || n->integer < min)
		return doc_fail_at(c, n, "must be an integer >= %" PRId64 ", got %s", min,
		                   NODE_REPR(n));
	*(int64_t *)dst = n->integer;
	return 0;
}

/* Deadlines become monotonic nanoseconds downstream: keep ms * 1e6 far
 * from INT64_MAX. 1e9 s is about 31 years. */
int field_duration(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t ms;

	(void)f;
	if (n->kind == NODE_NUMBER) {
		if (!(n->number >= 0 && n->number <= FIELD_DURATION_MAX_S))
			goto bad;
		ms = (int64_t)llround(n->number * 1000.0);
	} else if (n->kind == NODE_STRING) {
		ms = units_parse_duration_ms(n->text);
		if (ms < 0 || ms > (int64_t)(FIELD_DURATION_MAX_S * 1000))
			goto bad;
	} else {
		return doc_fail_type(c, n, "a duration (seconds, or a string like \"10s\")");
	}
	*(int64_t *)dst = ms;
	return 0;
bad:
	return doc_fail_at(c, n,
	                   "must be a duration from 0 to %.0f seconds (a number of seconds, or a "
	                   "string like \"10s\"), got %s",
	                   FIELD_DURATION_MAX_S, NODE_REPR(n));
}

int field_size_of(struct doc_ctx *c, const struct node *n, int64_t min, int64_t *bytes)
{
	int64_t v;

	if (n->kind == NODE_NUMBER)
		v = n->is_int ? n->integer : -1;
	else if (n->kind == NODE_STRING)
		v = units_parse_size(n->text);
	else
		return doc_fail_type(c, n, "a size (bytes, or a string like \"64MiB\")");
	if (v >= min && v >= 0) {
		*bytes = v;
		return 0;
	}
	if (min <= 0)
		return doc_fail_at(c, n,
		                   "must be a size, as a byte count or a string like \"64MiB\" or "
		                   "\"512k\", got %s",
		                   NODE_REPR(n));
	return doc_fail_at(c, n,
	                   "must be a size of at least %" PRId64 " bytes (%" PRId64 " MiB), as an "
	                   "integer or a string like \"64MiB\", got %s",
	                   min, min >> 20, NODE_REPR(n));
}

int field_size(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t bytes = 0;
	int rc;

	(void)f;
	if ((rc = field_size_of(c, n, 0, &bytes)))
		return rc;
	*(size_t *)dst = (size_t)bytes;
	return 0;
}

/* A name (stored as "SIGTERM") or a number 1..64 (stored as its decimal
 * text): the two forms Docker's StopSignal takes. */
int field_signal(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	char buf[32];

	(void)f;
	if (n->kind == NODE_NUMBER && n->is_int) {
		snprintf(buf, sizeof(buf), "%" PRId64, n->integer);
		if (units_parse_signal(buf, buf))
			return field_store_string(c, buf, dst);
	} else if (n->kind == NODE_STRING) {
		if (units_parse_signal(n->text, buf))
			return field_store_string(c, buf, dst);
	} else if (n->kind != NODE_NUMBER) {
		return doc_fail_type(c, n, "a signal name or number");
	}
	return doc_fail_at(c, n, "must be a signal name like \"SIGTERM\" or a number 1..%d, got %s",
	                   SIGNAL_MAX, NODE_REPR(n));
}

/* --- paths and arrays --------------------------------------------------- */

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

int field_path(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	unsigned rule = (unsigned)(uintptr_t)f->arg;
	struct stat st;
	int rc;

	if ((rc = field_want_string(c, n)))
		return rc;
	if (!n->text[0])
		return doc_fail_at(c, n, "must not be empty");
	if ((rule & PATH_ABSOLUTE) && n->text[0] != '/')
		return doc_fail_at(c, n, "must be an absolute path, got %s", NODE_REPR(n));
	if ((rule & PATH_RELATIVE) && n->text[0] == '/')
		return doc_fail_at(c, n, "must be a relative name, got %s", NODE_REPR(n));
	if ((rule & PATH_NO_DOTDOT) && has_dotdot(n->text))
		return doc_fail_at(c, n, "must not contain \"..\" components, got %s",
		                   NODE_REPR(n));
	if ((rule & PATH_NOT_ROOT) && n->text[strspn(n->text, "/")] == '\0')
		return doc_fail_at(c, n, "must not be \"/\"");
	if ((rule & PATH_EXISTS) && stat(n->text, &st) != 0)
		return doc_fail_at(c, n, "%s: %s", NODE_REPR(n), strerror(errno));
	return field_store_string(c, n->text, dst);
}

int field_strv(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	field_strv_rule rule = (field_strv_rule)f->arg;
	strv v;
	int rc;

	if (n->kind != NODE_ARRAY)
		return doc_fail_type(c, n, "an array of strings");
	if (!(v = calloc(n->n + 1, sizeof(*v))))
		return doc_fail_oom(c);
	strv_free(*(strv *)dst);
	*(strv *)dst = v; /* owned by the struct from here on, even on error */
	for (size_t i = 0; i < n->n; i++) {
		const struct node *el = n->items[i];
		size_t saved = doc_path_push_index(c, i);

		if (el->kind != NODE_STRING)
			return doc_fail_type(c, el, "a string");
		if (rule && (rc = rule(c, el)))
			return rc;
		if (!(v[i] = strdup(el->text)))
			return doc_fail_oom(c);
		doc_path_pop(c, saved);
	}
	return 0;
}

int field_object_list(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	const struct field_list *ol = f->arg;
	size_t *count = (size_t *)((char *)dst - f->offset + ol->count_offset);
	char *v;
	int rc;

	if (n->kind != NODE_ARRAY)
		return doc_fail_type(c, n, "an array of objects");
	if (n->n == 0)
		return 0;
	if (!(v = calloc(n->n, ol->elem_size)))
		return doc_fail_oom(c);
	*(void **)dst = v; /* the struct owns it, even on error */
	*count = n->n;
	for (size_t i = 0; i < n->n; i++) {
		size_t saved = doc_path_push_index(c, i);
		void *elem = v + i * ol->elem_size;

		if (ol->init)
			ol->init(elem);
		if ((rc = field_walk(c, n->items[i], ol->table, elem)))
			return rc;
		if (ol->check && (rc = ol->check(c, n->items[i], elem)))
			return rc;
		doc_path_pop(c, saved);
	}
	return 0;
}
