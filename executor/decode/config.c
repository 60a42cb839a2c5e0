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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config.h"
#include "error.h"
#include "image_ref.h"
#include "registry_auth.h"

#define DEFAULT_RUNTIME "docker"
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

/* ---- numbers with units --------------------------------------------- */

struct unit {
	const char *name;
	double factor;
};

/* Parses "<decimal>" at *p (digits with an optional fraction; no sign, no
 * exponent, no hex), advancing *p. */
static bool parse_decimal(const char **p, double *out)
{
	const char *s = *p;
	double v = 0, scale = 1;
	bool digits = false;

	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			scale /= 10;
			v += (*s++ - '0') * scale;
			digits = true;
		}
	}
	if (!digits)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* Rounds without libm; callers checked 0 <= v < INT64_MAX / 2. */
static int64_t round_nonneg(double v)
{
	return (int64_t)(v + 0.5);
}

/* Matches the longest unit name (case-insensitively) at *p. */
static const struct unit *match_unit(const char **p, const struct unit *units)
{
	const struct unit *best = NULL;
	size_t best_len = 0;

	for (const struct unit *u = units; u->name; u++) {
		size_t n = strlen(u->name);

		if (n > best_len && strncasecmp(*p, u->name, n) == 0 &&
		    !isalpha((unsigned char)(*p)[n])) {
			best = u;
			best_len = n;
		}
	}
	if (best)
		*p += best_len;
	return best;
}

static const struct unit duration_units[] = {
	{ "ns", 1e-6 }, { "us", 1e-3 }, { "ms", 1 }, { "s", 1000 },
	{ "m", 60e3 },  { "h", 3600e3 }, { "d", 86400e3 }, { NULL, 0 },
};

int64_t config_parse_duration_ms(const char *s)
{
	double total = 0, v;
	bool any = false;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	/* A bare number is seconds. */
	{
		const char *p = s;

		if (parse_decimal(&p, &v)) {
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '\0')
				return v * 1000 > (double)INT64_MAX / 2 ? -1 : round_nonneg(v * 1000);
		}
	}
	/* Otherwise one or more <number><unit> terms, as Go's "1m30s". */
	while (*s) {
		const struct unit *u;

		if (!parse_decimal(&s, &v))
			return -1;
		while (*s == ' ')
			s++;
		u = match_unit(&s, duration_units);
		if (!u)
			return -1;
		total += v * u->factor;
		any = true;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (!any || total > (double)INT64_MAX / 2)
		return -1;
	return round_nonneg(total);
}

/* Single letters and IEC suffixes are powers of 1024 (as Docker reads
 * "512k" or "64m"); SI suffixes with a B are powers of 1000. */
static const struct unit size_units[] = {
	{ "b", 1 },
	{ "k", 1024.0 }, { "kib", 1024.0 }, { "kb", 1e3 },
	{ "m", 1048576.0 }, { "mib", 1048576.0 }, { "mb", 1e6 },
	{ "g", 1073741824.0 }, { "gib", 1073741824.0 }, { "gb", 1e9 },
	{ "t", 1099511627776.0 }, { "tib", 1099511627776.0 }, { "tb", 1e12 },
	{ NULL, 0 },
};

int64_t config_parse_size(const char *s)
{
	const struct unit *u = NULL;
	double v;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!parse_decimal(&s, &v))
		return -1;
	while (*s == ' ')
		s++;
	if (*s) {
		u = match_unit(&s, size_units);
		if (!u)
			return -1;
		v *= u->factor;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || v > (double)INT64_MAX / 2)
		return -1;
	/* Bytes are whole: "1.5" without a unit is not a byte count. */
	if (!u && v != (double)(int64_t)v)
		return -1;
	return round_nonneg(v);
}

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
	static const char *const runtimes[] = { "docker", "podman", "swarm", "auto" };

	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strcmp(value, runtimes[i]) == 0)
			return replace_string(FIELD(c, k, char *), value, err);
	return bad_value(k, node, value, "must be one of docker, podman, swarm, auto", err);
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
	int64_t ms = config_parse_duration_ms(value);

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
	int64_t n = config_parse_size(value);

	if (n < 0)
		return bad_value(k, node, value,
		                 "must be a size such as \"1MiB\", \"64MB\", \"512k\" or a byte count",
		                 err);
	*FIELD(c, k, size_t) = (size_t)n;
	return 0;
}

bool config_parse_signal(const char *s, char canon[32])
{
	static const char *const names[] = {
		"HUP",  "INT",  "QUIT", "ILL",  "TRAP",   "ABRT", "IOT",  "BUS",  "FPE",
		"KILL", "USR1", "SEGV", "USR2", "PIPE",   "ALRM", "TERM", "STKFLT", "CHLD",
		"CONT", "STOP", "TSTP", "TTIN", "TTOU",   "URG",  "XCPU", "XFSZ", "VTALRM",
		"PROF", "WINCH", "IO",  "POLL", "PWR",    "SYS",  "RTMIN", "RTMAX", NULL,
	};
	char up[24], *end;
	size_t i;

	if (s[0] >= '1' && s[0] <= '9') {
		long n = strtol(s, &end, 10);
		if (*end || n < 1 || n > 64)
			return false;
		snprintf(canon, 32, "%ld", n);
		return true;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	if (s[i] || i == 0)
		return false;
	up[i] = '\0';
	for (i = 0; names[i]; i++)
		if (strcmp(up, names[i]) == 0)
			goto ok;
	/* Within the 30 real-time signals, as Docker writes them. */
	if ((strncmp(up, "RTMIN+", 6) == 0 || strncmp(up, "RTMAX-", 6) == 0) && up[6] >= '1' &&
	    up[6] <= '9') {
		long off = strtol(up + 6, &end, 10);
		if (*end == '\0' && off >= 1 && off <= 30)
			goto ok;
	}
	return false;
ok:
	snprintf(canon, 32, "SIG%s", up);
	return true;
}

/* Accepts what config_parse_signal does; stores its canonical form. */
static int set_signal(struct exec_config *c, const struct key_def *k, const char *value,
                      const yaml_node_t *node, dms_error **err)
{
	char canon[32];

	if (!config_parse_signal(value, canon))
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
