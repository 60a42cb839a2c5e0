/* log_request.c — decodes the log stream request (request.h, docs/schema.md
 * "Log stream request"): the same document tree, walker and setters as the
 * execution request, with a key table of its own. */
#include <stdint.h>
#include <stdlib.h>

#include "cleanup.h"
#include "doc.h"
#include "fields.h"
#include "request.h"

static const char *const log_formats[] = {"framed", "plain", NULL};

static int set_log_format(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = field_pick_choice(c, n, f->arg, &i)))
		return rc;
	*(enum log_format *)dst = i == 0 ? LOG_FORMAT_FRAMED : LOG_FORMAT_PLAIN;
	return 0;
}

#define L(field) offsetof(struct log_request, field)

static const struct field log_request_fields[] = {
    {"execution_id", field_id, L(execution_id), true, NULL},
    {"tail", field_bool, L(tail), false, NULL},
    {"follow", field_bool, L(follow), false, NULL},
    {"lines", field_int_min, L(lines), false, (const void *)(intptr_t)0},
    {"format", set_log_format, L(format), false, log_formats},
    {"timestamps", field_bool, L(timestamps), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static void log_request_freep(struct log_request **r)
{
	log_request_free(*r);
}

int log_request_parse(const char *text, size_t len, struct log_request **out, dms_error **err)
{
	struct doc_ctx c = {
	    .err = err, .category = DMS_ERR_INVALID_ARGUMENT, .what = "log request"};
	_cleanup_node_ struct node *root = NULL;
	_cleanup_(log_request_freep) struct log_request *r = NULL;
	int rc;

	if ((rc = doc_parse(&c, text, len, 0, &root)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return doc_fail_oom(&c);
	r->lines = -1;
	r->format = LOG_FORMAT_FRAMED;
	if ((rc = field_walk(&c, root, log_request_fields, r)))
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
