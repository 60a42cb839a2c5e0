/* exec_request.c — decodes the exec request (request.h, docs/schema.md
 * "Exec request"): the command an exec runs inside a running execution,
 * through the same document tree, walker and setters as the execution
 * request, with a key table of its own. */
#include <stdint.h>
#include <stdlib.h>

#include "cleanup.h"
#include "doc.h"
#include "fields.h"
#include "request.h"

/* cmd: an array of strings with at least one (the program). */
static int set_cmd(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc;

	if ((rc = field_strv(c, n, dst, f)))
		return rc;
	if (strv_len(*(strv *)dst) == 0)
		return doc_fail_at(c, n, "must name the program to run, got an empty array");
	return 0;
}

#define X(field) offsetof(struct exec_command, field)

static const struct field exec_command_fields[] = {
    {"cmd", set_cmd, X(cmd), true, NULL},
    {"env", field_strv, X(env), false, (const void *)request_env_rule},
    {"user", field_string, X(user), false, NULL},
    {"working_dir", field_path, X(working_dir), false,
     FIELD_PATH_RULE(PATH_ABSOLUTE | PATH_NO_DOTDOT)},
    {"tty", field_bool, X(tty), false, NULL},
    {"stdin", field_bool, X(stdin_), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static void exec_command_freep(struct exec_command **c)
{
	exec_command_free(*c);
}

int exec_command_parse(const char *text, size_t len, struct exec_command **out, dms_error **err)
{
	struct doc_ctx c = {
	    .err = err, .category = DMS_ERR_INVALID_ARGUMENT, .what = "exec request"};
	_cleanup_node_ struct node *root = NULL;
	_cleanup_(exec_command_freep) struct exec_command *r = NULL;
	int rc;

	if ((rc = doc_parse(&c, text, len, 0, &root)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return doc_fail_oom(&c);
	if ((rc = field_walk(&c, root, exec_command_fields, r)))
		return rc;
	*out = r;
	r = NULL;
	return 0;
}

void exec_command_free(struct exec_command *c)
{
	if (!c)
		return;
	strv_free(c->cmd);
	strv_free(c->env);
	free(c->user);
	free(c->working_dir);
	free(c);
}
