/* test_error.c — unit tests of the error convention (executor/error.c):
 * categories are returned with or without an error object, wrapping keeps
 * the category and prefixes the message, context fields are set once, and
 * dup/describe/free behave as docs/errors.md says. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "test_assert.h"

TestSuite(error);

Test(error, set_returns_category_without_object)
{
	int rc = err_set(NULL, DMS_ERR_IMAGE, "image %s not found", "x");

	cr_assert_eq(rc, DMS_ERR_IMAGE, "rc = %d", rc);
}

Test(error, set_fills_message_and_size)
{
	dms_error *e = NULL;
	int rc = err_set(&e, DMS_ERR_NOT_FOUND, "execution %s not found", "e1");

	cr_assert_eq(rc, DMS_ERR_NOT_FOUND, "rc = %d", rc);
	cr_assert_not_null(e, "e = %p", (void *)(e));
	cr_assert_eq(e->struct_size, sizeof(dms_error), "struct_size = %u", e->struct_size);
	cr_assert_eq(e->category, DMS_ERR_NOT_FOUND, "category = %d", e->category);
	cr_assert_str_eq(e->message, "execution e1 not found", "message = %s", e->message);
	cr_assert_null(e->operation, "operation = %s", e->operation);
	cr_assert_null(e->resource, "resource = %s", e->resource);
	cr_assert_null(e->engine_text, "engine_text = %s", e->engine_text);
	err_free(e);
}

Test(error, engine_records_context)
{
	dms_error *e = NULL;
	int rc = err_engine(&e, DMS_ERR_CONTAINER, "container create", "dms-a-b",
	                    "Conflict. The container name is in use", "name %s taken", "dms-a-b");

	cr_assert_eq(rc, DMS_ERR_CONTAINER, "rc = %d", rc);
	cr_assert_str_eq(e->message, "name dms-a-b taken", "message = %s", e->message);
	cr_assert_str_eq(e->operation, "container create", "operation = %s", e->operation);
	cr_assert_str_eq(e->resource, "dms-a-b", "resource = %s", e->resource);
	cr_assert_str_eq(e->engine_text, "Conflict. The container name is in use",
	                 "engine_text = %s", e->engine_text);
	err_free(e);
}

Test(error, engine_null_context_fields)
{
	dms_error *e = NULL;

	err_engine(&e, DMS_ERR_NETWORK, NULL, "net1", NULL, "no network");
	cr_assert_null(e->operation, "operation = %s", e->operation);
	cr_assert_str_eq(e->resource, "net1", "resource = %s", e->resource);
	cr_assert_null(e->engine_text, "engine_text = %s", e->engine_text);
	err_free(e);
}

Test(error, engine_without_object)
{
	int rc = err_engine(NULL, DMS_ERR_VOLUME, "volume create", "v", "boom", "failed");

	cr_assert_eq(rc, DMS_ERR_VOLUME, "rc = %d", rc);
}

Test(error, wrap_prefixes_and_keeps_category)
{
	dms_error *e = NULL;
	int rc = err_set(&e, DMS_ERR_IMAGE, "image busybox not found");

	rc = err_wrap(&e, rc, "starting %s", "e1");
	cr_assert_eq(rc, DMS_ERR_IMAGE, "rc = %d", rc);
	cr_assert_eq(e->category, DMS_ERR_IMAGE, "category = %d", e->category);
	cr_assert_str_eq(e->message, "starting e1: image busybox not found", "message = %s",
	                 e->message);
	rc = err_wrap(&e, rc, "run");
	cr_assert_str_eq(e->message, "run: starting e1: image busybox not found", "message = %s",
	                 e->message);
	err_free(e);
}

Test(error, wrap_creates_when_callee_had_none)
{
	dms_error *e = NULL;
	int rc = err_wrap(&e, DMS_ERR_TIMEOUT, "waiting for %s", "e2");

	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "rc = %d", rc);
	cr_assert_not_null(e, "e = %p", (void *)(e));
	cr_assert_eq(e->category, DMS_ERR_TIMEOUT, "category = %d", e->category);
	cr_assert_str_eq(e->message, "waiting for e2", "message = %s", e->message);
	err_free(e);
}

Test(error, wrap_without_object)
{
	assert_cmp(err_wrap(NULL, DMS_ERR_CANCELLED, "x"), ==, DMS_ERR_CANCELLED);
}

Test(error, wrap_keeps_context)
{
	dms_error *e = NULL;

	err_engine(&e, DMS_ERR_RUNTIME_UNAVAILABLE, "ping", NULL, "connection refused", "down");
	err_wrap(&e, DMS_ERR_RUNTIME_UNAVAILABLE, "is_installed");
	cr_assert_str_eq(e->operation, "ping", "operation = %s", e->operation);
	cr_assert_str_eq(e->engine_text, "connection refused", "engine_text = %s", e->engine_text);
	err_free(e);
}

Test(error, set_context_sets_only_unset_fields)
{
	dms_error *e = NULL;

	err_engine(&e, DMS_ERR_CONTAINER, "container start", NULL, NULL, "failed");
	err_set_context(e, "other op", "abc123", "engine says no");
	cr_assert_str_eq(e->operation, "container start", "operation = %s", e->operation);
	cr_assert_str_eq(e->resource, "abc123", "resource = %s", e->resource);
	cr_assert_str_eq(e->engine_text, "engine says no", "engine_text = %s", e->engine_text);
	err_set_context(NULL, "x", "y", "z"); /* harmless */
	err_free(e);
}

Test(error, dup_is_deep)
{
	dms_error *e = NULL, *d;

	err_engine(&e, DMS_ERR_IMAGE, "image pull", "img", "denied", "pull failed");
	d = err_dup(e);
	cr_assert_not_null(d, "d = %p", (void *)(d));
	cr_assert_neq(d->message, e->message, "message shared");
	cr_assert_neq(d->operation, e->operation, "operation shared");
	err_free(e);
	cr_assert_eq(d->struct_size, sizeof(dms_error), "struct_size = %u", d->struct_size);
	cr_assert_eq(d->category, DMS_ERR_IMAGE, "category = %d", d->category);
	cr_assert_str_eq(d->message, "pull failed", "message = %s", d->message);
	cr_assert_str_eq(d->operation, "image pull", "operation = %s", d->operation);
	cr_assert_str_eq(d->resource, "img", "resource = %s", d->resource);
	cr_assert_str_eq(d->engine_text, "denied", "engine_text = %s", d->engine_text);
	err_free(d);
	cr_assert_null(err_dup(NULL), "err_dup(NULL) = %p", (void *)(err_dup(NULL)));
}

Test(error, free_accepts_null)
{
	err_free(NULL);
}

/* Criterion hands parameters to the test process through shared memory:
 * strings are inline arrays ("" standing for NULL), never pointers. */
struct describe_case {
	char op[32], res[32], engine[32];
	char want[96];
};

static const char *nz(const char *s)
{
	return s[0] ? s : NULL;
}

ParameterizedTestParameters(error, describe)
{
	static struct describe_case cases[] = {
	    {"", "", "", "boom"},
	    {"container create", "", "", "boom (operation: container create)"},
	    {"", "c1", "", "boom (resource: c1)"},
	    {"", "", "No such image", "boom (engine: No such image)"},
	    {"image pull", "busybox", "denied",
	     "boom (operation: image pull, resource: busybox, engine: denied)"},
	};
	return cr_make_param_array(struct describe_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct describe_case *c, error, describe)
{
	dms_error *e = NULL;
	char *s;

	err_engine(&e, DMS_ERR_INTERNAL, nz(c->op), nz(c->res), nz(c->engine), "boom");
	s = err_describe(e);
	cr_assert_str_eq(s, c->want, "describe = \"%s\", want \"%s\"", s, c->want);
	free(s);
	err_free(e);
}

Test(error, describe_skips_empty_context)
{
	dms_error *e = NULL;
	char *s;

	err_engine(&e, DMS_ERR_INTERNAL, "", "", "", "boom");
	s = err_describe(e);
	cr_assert_str_eq(s, "boom", "describe = \"%s\"", s);
	free(s);
	err_free(e);
}

Test(error, describe_null)
{
	char *s = err_describe(NULL);

	cr_assert_not_null(s, "s = %p", (void *)(s));
	free(s);
}

Test(error, long_message_is_kept_whole)
{
	dms_error *e = NULL;
	char big[10000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_engine(&e, DMS_ERR_CONTAINER, "op", "r", big, "%s", big);
	cr_assert_eq(strlen(e->message), sizeof(big) - 1, "len = %zu", strlen(e->message));
	char *s = err_describe(e);
	cr_assert_gt(strlen(s), 2 * (sizeof(big) - 1), "describe truncated: %zu", strlen(s));
	free(s);
	err_free(e);
}
