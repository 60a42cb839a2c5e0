/* error.c — the error objects of error.h (docs/errors.md).
 *
 * Exists so that every failure path in the plugin is one line that both
 * records a category and a message naming what went wrong, and so that
 * callers can add what they were doing (err_wrap) without losing the
 * category or the engine context. Allocation failures degrade to returning
 * the category without an object: an error path must never crash.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static dms_error *error_new(dms_status category, char *message)
{
	dms_error *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->struct_size = sizeof(*e);
	e->category = category;
	e->message = message;
	return e;
}

/* Stores a new error built from an already formatted message (taken). */
static void error_store(dms_error **err, dms_status category, char *message)
{
	dms_error *e;

	if (!message)
		message = strdup(dms_status_name(category));
	if (!message)
		return;
	e = error_new(category, message);
	if (!e) {
		free(message);
		return;
	}
	if (*err) /* contract violation: never leak the older one */
		err_free(*err);
	*err = e;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int err_set(dms_error **err, dms_status category, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return category;
	va_start(ap, fmt);
	error_store(err, category, vformat(fmt, ap));
	va_end(ap);
	return category;
}

int err_engine(dms_error **err, dms_status category, const char *operation, const char *resource,
               const char *engine_text, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return category;
	va_start(ap, fmt);
	error_store(err, category, vformat(fmt, ap));
	va_end(ap);
	if (*err)
		err_set_context(*err, operation, resource, engine_text);
	return category;
}

int err_wrap(dms_error **err, int rc, const char *fmt, ...)
{
	va_list ap;
	char *prefix, *joined = NULL;

	if (!err)
		return rc;
	va_start(ap, fmt);
	prefix = vformat(fmt, ap);
	va_end(ap);

	if (!*err) {
		error_store(err, (dms_status)rc, prefix);
		return rc;
	}
	if (!prefix)
		return rc;
	if (asprintf(&joined, "%s: %s", prefix, (*err)->message ? (*err)->message : "") >= 0) {
		free((*err)->message);
		(*err)->message = joined;
	}
	free(prefix);
	return rc;
}

void err_set_context(dms_error *e, const char *operation, const char *resource,
                     const char *engine_text)
{
	if (!e)
		return;
	if (!e->operation)
		e->operation = dup_or_null(operation);
	if (!e->resource)
		e->resource = dup_or_null(resource);
	if (!e->engine_text)
		e->engine_text = dup_or_null(engine_text);
}

dms_error *err_dup(const dms_error *e)
{
	dms_error *d;
	char *message;

	if (!e)
		return NULL;
	message = strdup(e->message ? e->message : dms_status_name(e->category));
	if (!message)
		return NULL;
	d = error_new(e->category, message);
	if (!d) {
		free(message);
		return NULL;
	}
	err_set_context(d, e->operation, e->resource, e->engine_text);
	return d;
}

void err_free(dms_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->operation);
	free(e->resource);
	free(e->engine_text);
	free(e);
}

char *err_describe(const dms_error *e)
{
	static const char *const names[] = {"operation", "resource", "engine"};
	const char *fields[3];
	char *out = NULL;
	size_t len = 0;
	bool any = false;
	FILE *f;

	if (!e)
		return strdup("no error");
	fields[0] = e->operation;
	fields[1] = e->resource;
	fields[2] = e->engine_text;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fputs(e->message ? e->message : dms_status_name(e->category), f);
	for (int i = 0; i < 3; i++) {
		if (!fields[i] || !*fields[i])
			continue;
		fprintf(f, "%s%s: %s", any ? ", " : " (", names[i], fields[i]);
		any = true;
	}
	if (any)
		fputc(')', f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
