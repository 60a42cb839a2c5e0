/* registry_auth.c — registry credentials for image pulls (registry_auth.h,
 * docs/config.md "Registry credentials"): the X-Registry-Auth header value
 * the engines take, and the credentials of a Docker config.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "error.h"
#include "image_ref.h"
#include "jsonw.h"
#include "registry_auth.h"

#define AUTH_FILE_MAX_BYTES (1 << 20)

char *registry_auth_base64url(const unsigned char *data, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		*o++ = alphabet[(v >> 18) & 63];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Standard base64 (what config.json's "auth" holds); NULL when malformed. */
static unsigned char *base64_decode(const char *s, size_t *len_out)
{
	size_t n = strlen(s), o = 0;
	unsigned char *out = malloc(n / 4 * 3 + 4);
	unsigned v = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d;
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '+' || c == '-')
			d = 62;
		else if (c == '/' || c == '_')
			d = 63;
		else if (c == '=')
			break;
		else {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	out[o] = '\0';
	*len_out = o;
	return out;
}

/* The X-Registry-Auth JSON, base64url-encoded. */
static char *encode(const struct registry_cred *c)
{
	_cleanup_jw_ struct jw w = {0};
	const char *json;
	size_t len;
	char *out;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	if (c->identity_token) {
		jw_key_str(&w, "identitytoken", c->identity_token);
	} else {
		jw_key_str(&w, "username", c->username ? c->username : "");
		jw_key_str(&w, "password", c->password ? c->password : "");
	}
	jw_key_str(&w, "serveraddress", c->server);
	jw_map_close(&w);
	if (jw_get(&w, &json, &len) != 0)
		return NULL;
	out = registry_auth_base64url((const unsigned char *)json, len);
	/* The JSON held the password in clear. */
	explicit_bzero((void *)json, len);
	return out;
}

int registry_auth_for(const struct exec_config *cfg, const char *image, char **out, dms_error **err)
{
	char *host;

	*out = NULL;
	if (!cfg->n_registries)
		return 0;
	if (!(host = image_ref_registry(image)))
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	for (size_t i = 0; i < cfg->n_registries; i++) {
		if (strcasecmp(cfg->registries[i].server, host) != 0)
			continue;
		*out = encode(&cfg->registries[i]);
		free(host);
		return *out ? 0 : err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	free(host);
	return 0;
}

static int add_cred(struct exec_config *cfg, const char *server, char *user, char *password,
                    const char *token)
{
	struct registry_cred *v =
	    realloc(cfg->registries, (cfg->n_registries + 1) * sizeof(*cfg->registries));
	if (!v)
		return -1;
	cfg->registries = v;
	struct registry_cred *c = &v[cfg->n_registries];
	memset(c, 0, sizeof(*c));
	c->server = image_ref_normalize_registry(server);
	c->username = user ? strdup(user) : NULL;
	c->password = password ? strdup(password) : NULL;
	c->identity_token = token ? strdup(token) : NULL;
	cfg->n_registries++;
	if (!c->server || (user && !c->username) || (password && !c->password) ||
	    (token && !c->identity_token))
		return -1;
	return 0;
}

/* The file's text, at most AUTH_FILE_MAX_BYTES, NUL-terminated. */
static int read_auth_file(const char *path, char **out, size_t *len, dms_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *text = NULL;

	if (!f)
		return err_set(err, DMS_ERR_CONFIG, "auth_file: cannot open %s: %s", path,
		               strerror(errno));
	if (!(text = malloc(AUTH_FILE_MAX_BYTES + 1)))
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	*len = fread(text, 1, AUTH_FILE_MAX_BYTES + 1, f);
	if (*len > AUTH_FILE_MAX_BYTES) {
		explicit_bzero(text, *len);
		return err_set(err, DMS_ERR_CONFIG, "auth_file: %s is larger than 1 MiB", path);
	}
	text[*len] = '\0';
	*out = text;
	text = NULL;
	return 0;
}

int registry_auth_load_file(struct exec_config *cfg, dms_error **err)
{
	static const char *auths_path[] = {"auths", NULL};
	static const char *auth_path[] = {"auth", NULL};
	static const char *token_path[] = {"identitytoken", NULL};
	const char *path = cfg->auth_file;
	char parse_err[256] = "";
	_cleanup_yajl_tree_ yajl_val root = NULL;
	yajl_val auths;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return 0;
	if ((rc = read_auth_file(path, &text, &len, err)))
		return rc;
	root = yajl_tree_parse(text, parse_err, sizeof(parse_err));
	explicit_bzero(text, len);
	free(text);
	if (!root) {
		/* yajl's message quotes the text around the error: it may be a
		 * secret, so only its first line (the reason) is kept. */
		parse_err[strcspn(parse_err, "\n")] = '\0';
		return err_set(err, DMS_ERR_CONFIG, "auth_file: %s is not JSON: %s", path,
		               parse_err);
	}
	auths = yajl_tree_get(root, auths_path, yajl_t_any);
	if (auths && !YAJL_IS_OBJECT(auths))
		return err_set(err, DMS_ERR_CONFIG, "auth_file: %s: \"auths\" must be an object",
		               path);
	for (size_t i = 0; auths && i < auths->u.object.len; i++) {
		const char *server = auths->u.object.keys[i];
		yajl_val entry = auths->u.object.values[i];
		yajl_val auth = yajl_tree_get(entry, auth_path, yajl_t_string);
		yajl_val token = yajl_tree_get(entry, token_path, yajl_t_string);
		_cleanup_free_ char *host = image_ref_normalize_registry(server);
		bool known = false;

		if (!host)
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		for (size_t j = 0; j < cfg->n_registries; j++)
			known = known || strcasecmp(cfg->registries[j].server, host) == 0;
		if (known) /* the config's own entry wins */
			continue;
		if (!YAJL_IS_OBJECT(entry))
			return err_set(err, DMS_ERR_CONFIG,
			               "auth_file: %s: auths.\"%s\" must be an object", path,
			               server);
		if (token && *YAJL_GET_STRING(token)) {
			if (add_cred(cfg, server, NULL, NULL, YAJL_GET_STRING(token)) != 0)
				rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		} else if (auth && *YAJL_GET_STRING(auth)) {
			size_t n = 0;
			unsigned char *plain = base64_decode(YAJL_GET_STRING(auth), &n);
			char *colon = plain ? memchr(plain, ':', n) : NULL;
			if (!colon) {
				if (plain)
					explicit_bzero(plain, n);
				free(plain);
				return err_set(err, DMS_ERR_CONFIG,
				               "auth_file: %s: auths.\"%s\".auth must be base64 of "
				               "user:password",
				               path, server);
			}
			*colon = '\0';
			if (add_cred(cfg, server, (char *)plain, colon + 1, NULL) != 0)
				rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
			explicit_bzero(plain, n);
			free(plain);
		}
		/* An entry with neither (a credential helper's placeholder) gives
		 * nothing to send: credential helpers are not run. */
		if (rc)
			return rc;
	}
	return 0;
}
