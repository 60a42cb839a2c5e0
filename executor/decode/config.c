/* config.c — the executor config: YAML text -> struct exec_config
 * (config.h, docs/config.md).
 *
 * Exists so that the one piece of text a person writes for an executor is
 * checked strictly and explained precisely: keys are looked up in a table
 * with offsetof setters (the netplan way), an unknown key or a bad value is
 * a DMS_ERR_CONFIG error that names the key and its line:column, and a
 * mistyped key never silently falls back to a default.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config.h"
#include "error.h"
#include "image_ref.h"
#include "registry_auth.h"
#include "runtime_names.h"
#include "units.h"

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

/* ---- YAML handles ----------------------------------------------------- */

/* Parser and document together, released by one cleanup helper so that
 * every early return below frees them. */
struct yaml_handles {
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok;
	bool doc_ok;
};

static void yaml_handles_cleanup(struct yaml_handles *h)
{
	if (h->doc_ok)
		yaml_document_delete(&h->doc);
	if (h->parser_ok)
		yaml_parser_delete(&h->parser);
	h->doc_ok = h->parser_ok = false;
}

#define cleanup_yaml __attribute__((cleanup(yaml_handles_cleanup)))

/* ---- the key table ---------------------------------------------------- */

struct key_def;
typedef int (*key_setter)(struct exec_config *c, const struct key_def *k, const char *value,
                          const yaml_node_t *node, dms_error **err);

/* set == NULL: the value is a collection, not a scalar; the one such key,
 * `registries`, is parsed by set_registries(). */
struct key_def {
	const char *name;
	key_setter set;
	size_t offset;
};

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->offset))
#define LINE(node) ((node)->start_mark.line + 1)
#define COLUMN(node) ((node)->start_mark.column + 1)

static int bad_value(const struct key_def *k, const yaml_node_t *node, const char *value,
                     const char *expected, dms_error **err)
{
	return err_set(err, DMS_ERR_CONFIG, "%s: %s, got \"%s\" at line %zu column %zu", k->name,
	               expected, value, LINE(node), COLUMN(node));
}

static int replace_string(char **field, const char *value, dms_error **err)
{
	char *copy = strdup(value);

	if (!copy)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

static int set_string(struct exec_config *c, const struct key_def *k, const char *value,
                      const yaml_node_t *node, dms_error **err)
{
	if (!*value)
		return bad_value(k, node, value, "must not be empty", err);
	return replace_string(FIELD(c, k, char *), value, err);
}

static int set_runtime(struct exec_config *c, const struct key_def *k, const char *value,
                       const yaml_node_t *node, dms_error **err)
{
	char why[64];

	if (runtime_name_valid(value))
		return replace_string(FIELD(c, k, char *), value, err);
	snprintf(why, sizeof(why), "must be one of %s", runtime_names_list());
	return bad_value(k, node, value, why, err);
}

static int set_bool(struct exec_config *c, const struct key_def *k, const char *value,
                    const yaml_node_t *node, dms_error **err)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
		*FIELD(c, k, bool) = value[0] == 't';
		return 0;
	}
	return bad_value(k, node, value, "must be true or false", err);
}

static int set_abs_path(struct exec_config *c, const struct key_def *k, const char *value,
                        const yaml_node_t *node, dms_error **err)
{
	if (value[0] != '/')
		return bad_value(k, node, value, "must be an absolute path", err);
	return replace_string(FIELD(c, k, char *), value, err);
}

static int set_duration(struct exec_config *c, const struct key_def *k, const char *value,
                        const yaml_node_t *node, dms_error **err)
{
	int64_t ms = units_parse_duration_ms(value);

	if (ms < 0)
		return bad_value(k, node, value,
		                 "must be a duration such as \"10s\", \"250ms\", \"1.5m\" or \"1h\"",
		                 err);
	*FIELD(c, k, int64_t) = ms;
	return 0;
}

static int set_size(struct exec_config *c, const struct key_def *k, const char *value,
                    const yaml_node_t *node, dms_error **err)
{
	int64_t n = units_parse_size(value);

	if (n < 0)
		return bad_value(k, node, value,
		                 "must be a size such as \"1MiB\", \"64MB\", \"512k\" or a byte count",
		                 err);
	*FIELD(c, k, size_t) = (size_t)n;
	return 0;
}

/* Accepts what units_parse_signal does; stores its canonical form. */
static int set_signal(struct exec_config *c, const struct key_def *k, const char *value,
                      const yaml_node_t *node, dms_error **err)
{
	char canon[32];

	if (!units_parse_signal(value, canon))
		return bad_value(k, node, value,
		                 "must be a signal name such as SIGTERM or a number 1..64", err);
	return replace_string(FIELD(c, k, char *), canon, err);
}

/* ---- registries ------------------------------------------------------- */

/* Credentials are never echoed back: an error names the member and the
 * place, not the value. */
static int set_registries(struct exec_config *c, yaml_document_t *doc, yaml_node_t *seq,
                          dms_error **err)
{
	static const char *const members[] = { "server", "username", "password",
		                               "identity_token", NULL };
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return err_set(err, DMS_ERR_CONFIG,
		               "registries: must be a list of {server, username, password} or "
		               "{server, identity_token}, at line %zu column %zu",
		               LINE(seq), COLUMN(seq));
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0)
		return 0;
	c->registries = calloc(n, sizeof(*c->registries));
	if (!c->registries)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
		struct registry_cred *r = &c->registries[i];
		char **fields[] = { &r->server, &r->username, &r->password, &r->identity_token };

		c->n_registries = i + 1;
		if (!item || item->type != YAML_MAPPING_NODE)
			return err_set(err, DMS_ERR_CONFIG,
			               "registries[%zu]: must be a mapping at line %zu column %zu", i,
			               item ? LINE(item) : LINE(seq), item ? COLUMN(item) : COLUMN(seq));
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		     p < item->data.mapping.pairs.top; p++) {
			yaml_node_t *key = yaml_document_get_node(doc, p->key);
			yaml_node_t *val = yaml_document_get_node(doc, p->value);
			const char *name = key && key->type == YAML_SCALAR_NODE
			                       ? (const char *)key->data.scalar.value
			                       : "";
			size_t m;

			if (!key || !val)
				return err_set(err, DMS_ERR_INTERNAL, "malformed YAML document");
			for (m = 0; members[m] && strcmp(members[m], name) != 0; m++)
				;
			if (!members[m])
				return err_set(err, DMS_ERR_CONFIG,
				               "registries[%zu]: unknown key '%s' at line %zu column %zu "
				               "(want server, username, password, identity_token)",
				               i, name, LINE(key), COLUMN(key));
			if (*fields[m])
				return err_set(err, DMS_ERR_CONFIG,
				               "registries[%zu]: duplicate key '%s' at line %zu column %zu",
				               i, name, LINE(key), COLUMN(key));
			if (val->type != YAML_SCALAR_NODE || !*val->data.scalar.value)
				return err_set(err, DMS_ERR_CONFIG,
				               "registries[%zu].%s: must be a non-empty string at line "
				               "%zu column %zu",
				               i, name, LINE(val), COLUMN(val));
			*fields[m] = m == 0 ? image_ref_normalize_registry(
			                          (const char *)val->data.scalar.value)
			                    : strdup((const char *)val->data.scalar.value);
			if (!*fields[m])
				return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		}
		if (!r->server || !*r->server)
			return err_set(err, DMS_ERR_CONFIG,
			               "registries[%zu].server: missing, at line %zu column %zu", i,
			               LINE(item), COLUMN(item));
		if (r->identity_token ? (r->username || r->password)
		                      : (!r->username || !r->password))
			return err_set(err, DMS_ERR_CONFIG,
			               "registries[%zu]: give username and password, or "
			               "identity_token alone, at line %zu column %zu",
			               i, LINE(item), COLUMN(item));
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(c->registries[j].server, r->server) == 0)
				return err_set(err, DMS_ERR_CONFIG,
				               "registries[%zu].server: %s is already listed, at line "
				               "%zu column %zu",
				               i, r->server, LINE(item), COLUMN(item));
	}
	return 0;
}

static const struct key_def config_keys[] = {
	{ "runtime", set_runtime, offsetof(struct exec_config, runtime) },
	{ "host", set_string, offsetof(struct exec_config, host) },
	{ "state_dir", set_abs_path, offsetof(struct exec_config, state_dir) },
	{ "stop_timeout", set_duration, offsetof(struct exec_config, stop_timeout_ms) },
	{ "output_limit", set_size, offsetof(struct exec_config, output_limit) },
	{ "retention", set_duration, offsetof(struct exec_config, retention_ms) },
	{ "log_spool_limit", set_size, offsetof(struct exec_config, log_spool_limit) },
	{ "results_file_limit", set_size, offsetof(struct exec_config, results_file_limit) },
	{ "pull_timeout", set_duration, offsetof(struct exec_config, pull_timeout_ms) },
	{ "pull_progress_timeout", set_duration,
	  offsetof(struct exec_config, pull_progress_timeout_ms) },
	{ "stop_signal", set_signal, offsetof(struct exec_config, stop_signal) },
	{ "registries", NULL, 0 },
	{ "auth_file", set_abs_path, offsetof(struct exec_config, auth_file) },
	{ "sweep_interval", set_duration, offsetof(struct exec_config, sweep_interval_ms) },
	{ "sweep_grace", set_duration, offsetof(struct exec_config, sweep_grace_ms) },
	{ "sweep_dry_run", set_bool, offsetof(struct exec_config, sweep_dry_run) },
	{ "exit_watch", set_duration, offsetof(struct exec_config, exit_watch_ms) },
	{ NULL, NULL, 0 },
};

/* ---- parsing ---------------------------------------------------------- */

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
	if (!c->runtime || !c->state_dir || !c->stop_signal) {
		config_free(c);
		return NULL;
	}
	return c;
}

static bool is_null_scalar(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

static const struct key_def *find_key(const char *name)
{
	for (const struct key_def *k = config_keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static int apply_mapping(struct exec_config *c, yaml_document_t *doc, yaml_node_t *map,
                         dms_error **err)
{
	bool seen[sizeof(config_keys) / sizeof(config_keys[0])] = { false };

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(doc, p->key);
		yaml_node_t *val = yaml_document_get_node(doc, p->value);
		const struct key_def *k;
		const char *name;
		int rc;

		if (!key || !val)
			return err_set(err, DMS_ERR_INTERNAL, "malformed YAML document");
		if (key->type != YAML_SCALAR_NODE)
			return err_set(err, DMS_ERR_CONFIG,
			               "keys must be plain strings at line %zu column %zu", LINE(key),
			               COLUMN(key));
		name = (const char *)key->data.scalar.value;
		k = find_key(name);
		if (!k)
			return err_set(err, DMS_ERR_CONFIG, "unknown key '%s' at line %zu column %zu",
			               name, LINE(key), COLUMN(key));
		if (seen[k - config_keys])
			return err_set(err, DMS_ERR_CONFIG, "duplicate key '%s' at line %zu column %zu",
			               name, LINE(key), COLUMN(key));
		seen[k - config_keys] = true;
		if (!k->set && !is_null_scalar(val)) {
			if ((rc = set_registries(c, doc, val, err)) != 0)
				return rc;
			continue;
		}
		if (val->type != YAML_SCALAR_NODE)
			return err_set(err, DMS_ERR_CONFIG,
			               "%s: must be a scalar, got a %s at line %zu column %zu", name,
			               val->type == YAML_MAPPING_NODE ? "mapping" : "sequence",
			               LINE(val), COLUMN(val));
		if (is_null_scalar(val) || !k->set)
			continue; /* "key:" or "key: ~" keeps the default */
		rc = k->set(c, k, (const char *)val->data.scalar.value, val, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int parse_document(struct exec_config *c, const char *text, dms_error **err)
{
	cleanup_yaml struct yaml_handles h = { .parser_ok = false, .doc_ok = false };
	yaml_node_t *root;
	int rc;

	if (!yaml_parser_initialize(&h.parser))
		return err_set(err, DMS_ERR_RESOURCE, "cannot initialise the YAML parser");
	h.parser_ok = true;
	yaml_parser_set_input_string(&h.parser, (const unsigned char *)text, strlen(text));

	if (!yaml_parser_load(&h.parser, &h.doc))
		return err_set(err, DMS_ERR_CONFIG, "YAML syntax error: %s at line %zu column %zu",
		               h.parser.problem ? h.parser.problem : "unknown problem",
		               h.parser.problem_mark.line + 1, h.parser.problem_mark.column + 1);
	h.doc_ok = true;

	root = yaml_document_get_root_node(&h.doc);
	if (!root || is_null_scalar(root))
		return 0; /* comments only, or an explicit null: all defaults */
	if (root->type != YAML_MAPPING_NODE)
		return err_set(err, DMS_ERR_CONFIG,
		               "the config must be a mapping of keys, at line %zu column %zu",
		               LINE(root), COLUMN(root));
	rc = apply_mapping(c, &h.doc, root, err);
	if (rc != 0)
		return rc;

	/* A second document would be silently ignored: refuse it. */
	yaml_document_delete(&h.doc);
	h.doc_ok = false;
	if (!yaml_parser_load(&h.parser, &h.doc))
		return err_set(err, DMS_ERR_CONFIG, "YAML syntax error: %s at line %zu column %zu",
		               h.parser.problem ? h.parser.problem : "unknown problem",
		               h.parser.problem_mark.line + 1, h.parser.problem_mark.column + 1);
	h.doc_ok = true;
	root = yaml_document_get_root_node(&h.doc);
	if (root)
		return err_set(err, DMS_ERR_CONFIG,
		               "only one YAML document is allowed, another starts at line %zu column %zu",
		               LINE(root), COLUMN(root));
	return 0;
}

int config_parse(const char *text, struct exec_config **out, dms_error **err)
{
	struct exec_config *c = config_defaults();
	int rc;

	if (!c)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	if (text && *text) {
		rc = parse_document(c, text, err);
		if (rc == 0)
			rc = registry_auth_load_file(c, err);
		if (rc != 0) {
			config_free(c);
			return rc;
		}
	}
	*out = c;
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
	free(c);
}
