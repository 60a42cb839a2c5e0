/* config.c — the executor config: YAML text -> struct exec_config
 * (config.h, docs/config.md).
 *
 * Exists so that the one piece of text a person writes for an executor is
 * checked strictly and explained precisely. It is read like the request:
 * the same YAML front end and document tree (doc.h), the same key-table
 * walker and setters (fields.h), so a size, a duration or a signal is
 * read by the same rule, and every error names the key and its position in
 * the same form ("stop_timeout: must be a duration ... (line 3:15)"), as
 * DMS_ERR_CONFIG. A mistyped key never silently falls back to a default.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "config.h"
#include "doc.h"
#include "error.h"
#include "fields.h"
#include "image_ref.h"
#include "registry_auth.h"
#include "runtime_names.h"

#define DEFAULT_RUNTIME RUNTIME_DEFAULT
#define DEFAULT_STATE_DIR "/var/lib/dms-executor"
#define DEFAULT_STOP_TIMEOUT_MS (10LL * 1000)
#define DEFAULT_OUTPUT_LIMIT ((size_t)1 << 20)
#define DEFAULT_RETENTION_MS (3600LL * 1000)
#define DEFAULT_LOG_SPOOL_LIMIT ((size_t)64 << 20)
#define DEFAULT_RESULTS_FILE_LIMIT ((size_t)64 << 20)
#define DEFAULT_PULL_TIMEOUT_MS (30LL * 60 * 1000)
#define DEFAULT_PULL_PROGRESS_TIMEOUT_MS (2LL * 60 * 1000)
#define DEFAULT_STOP_SIGNAL "SIGTERM"
#define DEFAULT_SWEEP_GRACE_MS (5LL * 60 * 1000)
#define DEFAULT_EXIT_WATCH_MS (5LL * 1000)
#define DEFAULT_SWARM_PENDING_TIMEOUT_MS (5LL * 60 * 1000)

/* Paths of the config are taken as written (".." included): they are the
 * operator's, not a job's. */
#define ABS_PATH FIELD_PATH_RULE(PATH_ABSOLUTE)

/* ---- the config's own setters ------------------------------------------ */

static int set_runtime(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int rc;

	(void)f;
	if ((rc = field_want_string(c, n)))
		return rc;
	if (!runtime_name_valid(n->text))
		return doc_fail_at(c, n, "must be one of %s; got %s", runtime_names_list(),
		                   NODE_REPR(n));
	return field_store_string(c, n->text, dst);
}

/* host[:port] as images name it: "https://index.docker.io/v1/" is
 * "docker.io". */
static int set_registry_server(struct doc_ctx *c, const struct node *n, void *dst,
                               const struct field *f)
{
	char *server;

	(void)f;
	if (n->kind != NODE_STRING || !n->text[0])
		return doc_fail_at(c, n, "must be a non-empty string");
	if (!(server = image_ref_normalize_registry(n->text)))
		return doc_fail_oom(c);
	free(*(char **)dst);
	*(char **)dst = server;
	return 0;
}

/* ---- the key tables ---------------------------------------------------- */

#define RC(field) offsetof(struct registry_cred, field)
#define C(field) offsetof(struct exec_config, field)

/* Credentials are never echoed back (field_secret): an error names the
 * member and the place, not the value. */
static const struct field registry_fields[] = {
    {"server", set_registry_server, RC(server), true, NULL},
    {"username", field_secret, RC(username), false, NULL},
    {"password", field_secret, RC(password), false, NULL},
    {"identity_token", field_secret, RC(identity_token), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static int check_registry(struct doc_ctx *c, const struct node *n, void *elem)
{
	const struct registry_cred *r = elem;

	if (r->identity_token ? (r->username || r->password) : (!r->username || !r->password))
		return doc_fail_at(c, n, "give username and password, or identity_token alone");
	return 0;
}

static const struct field_list registries_list = {
    registry_fields, sizeof(struct registry_cred), C(n_registries), NULL, check_registry,
};

static const struct field config_fields[] = {
    {"runtime", set_runtime, C(runtime), false, NULL},
    {"host", field_string, C(host), false, NULL},
    {"state_dir", field_path, C(state_dir), false, ABS_PATH},
    {"stop_timeout", field_duration, C(stop_timeout_ms), false, NULL},
    {"output_limit", field_size, C(output_limit), false, NULL},
    {"retention", field_duration, C(retention_ms), false, NULL},
    {"log_spool_limit", field_size, C(log_spool_limit), false, NULL},
    {"results_file_limit", field_size, C(results_file_limit), false, NULL},
    {"pull_timeout", field_duration, C(pull_timeout_ms), false, NULL},
    {"pull_progress_timeout", field_duration, C(pull_progress_timeout_ms), false, NULL},
    {"stop_signal", field_signal, C(stop_signal), false, NULL},
    {"registries", field_object_list, C(registries), false, &registries_list},
    {"auth_file", field_path, C(auth_file), false, ABS_PATH},
    {"sweep_interval", field_duration, C(sweep_interval_ms), false, NULL},
    {"sweep_grace", field_duration, C(sweep_grace_ms), false, NULL},
    {"sweep_dry_run", field_bool, C(sweep_dry_run), false, NULL},
    {"exit_watch", field_duration, C(exit_watch_ms), false, NULL},
    {"tls_ca", field_path, C(tls_ca), false, ABS_PATH},
    {"tls_cert", field_path, C(tls_cert), false, ABS_PATH},
    {"tls_key", field_path, C(tls_key), false, ABS_PATH},
    {"swarm_pending_timeout", field_duration, C(swarm_pending_timeout_ms), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

/* ---- checks across fields ---------------------------------------------- */

/* One entry per registry; the tree gives the place of the second. */
static int check_registries(struct doc_ctx *c, const struct node *root,
                            const struct exec_config *cfg)
{
	const struct node *list = NULL;

	for (size_t i = 0; i < root->n && !list; i++)
		if (strcmp(root->keys[i]->text, "registries") == 0)
			list = root->items[i];
	for (size_t i = 1; i < cfg->n_registries; i++) {
		const struct registry_cred *r = &cfg->registries[i];

		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(cfg->registries[j].server, r->server) != 0)
				continue;
			doc_path_push_key(c, "registries");
			doc_path_push_index(c, i);
			doc_path_push_key(c, "server");
			return doc_fail_at(c, list ? list->items[i] : NULL, "%s is already listed",
			                   r->server);
		}
	}
	return 0;
}

/* A client certificate goes with its key; either alone is a mistake. */
static int check_tls(struct doc_ctx *c, const struct node *root, const struct exec_config *cfg)
{
	const char *given = cfg->tls_cert ? "tls_cert" : "tls_key";
	const char *missing = cfg->tls_cert ? "tls_key" : "tls_cert";

	if (!cfg->tls_cert == !cfg->tls_key)
		return 0;
	for (size_t i = 0; i < root->n; i++)
		if (strcmp(root->keys[i]->text, given) == 0) {
			doc_path_push_key(c, given);
			return doc_fail_at(c, root->items[i], "needs %s too (a client certificate and its key)",
			                   missing);
		}
	return 0;
}

/* ---- parsing ----------------------------------------------------------- */

static struct exec_config *config_defaults(void)
{
	struct exec_config *c = calloc(1, sizeof(*c));
	const char *state_dir = getenv("DMS_STATE_DIR");

	if (!c)
		return NULL;
	if (!state_dir || !*state_dir)
		state_dir = DEFAULT_STATE_DIR;
	c->runtime = strdup(DEFAULT_RUNTIME);
	c->state_dir = strdup(state_dir);
	c->stop_signal = strdup(DEFAULT_STOP_SIGNAL);
	c->stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
	c->output_limit = DEFAULT_OUTPUT_LIMIT;
	c->retention_ms = DEFAULT_RETENTION_MS;
	c->log_spool_limit = DEFAULT_LOG_SPOOL_LIMIT;
	c->results_file_limit = DEFAULT_RESULTS_FILE_LIMIT;
	c->pull_timeout_ms = DEFAULT_PULL_TIMEOUT_MS;
	c->pull_progress_timeout_ms = DEFAULT_PULL_PROGRESS_TIMEOUT_MS;
	c->sweep_grace_ms = DEFAULT_SWEEP_GRACE_MS;
	c->exit_watch_ms = DEFAULT_EXIT_WATCH_MS;
	c->swarm_pending_timeout_ms = DEFAULT_SWARM_PENDING_TIMEOUT_MS;
	if (!c->runtime || !c->state_dir || !c->stop_signal) {
		config_free(c);
		return NULL;
	}
	return c;
}

static void config_freep(struct exec_config **c)
{
	config_free(*c);
}

int config_parse(const char *text, struct exec_config **out, dms_error **err)
{
	/* Scalar aliases ("host: *h") are as old as the config; requests
	 * refuse them. */
	const unsigned flags = DOC_YAML_ONLY | DOC_EMPTY_OK | DOC_YAML_ALIASES;
	struct doc_ctx ctx = {.err = err, .category = DMS_ERR_CONFIG, .what = "config"};
	_cleanup_(config_freep) struct exec_config *c = config_defaults();
	_cleanup_node_ struct node *root = NULL;
	int rc;

	if (!c)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	if (text && *text) {
		if ((rc = doc_parse(&ctx, text, strlen(text), flags, &root)))
			return rc;
		/* No document, or an explicit null: all defaults. */
		if (root && root->kind != NODE_NULL) {
			if ((rc = field_walk(&ctx, root, config_fields, c)))
				return rc;
			if ((rc = check_registries(&ctx, root, c)))
				return rc;
			if ((rc = check_tls(&ctx, root, c)))
				return rc;
		}
		if ((rc = registry_auth_load_file(c, err)))
			return rc;
	}
	*out = c;
	c = NULL;
	return 0;
}

void config_free(struct exec_config *c)
{
	if (!c)
		return;
	free(c->runtime);
	free(c->host);
	free(c->state_dir);
	free(c->stop_signal);
	for (size_t i = 0; i < c->n_registries; i++) {
		struct registry_cred *r = &c->registries[i];
		/* Secrets do not outlive the config in freed memory. */
		if (r->password)
			explicit_bzero(r->password, strlen(r->password));
		if (r->identity_token)
			explicit_bzero(r->identity_token, strlen(r->identity_token));
		free(r->server);
		free(r->username);
		free(r->password);
		free(r->identity_token);
	}
	free(c->registries);
	free(c->auth_file);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c);
}
