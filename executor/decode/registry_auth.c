/* registry_auth.c — see registry_auth.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "error.h"
#include "image_ref.h"
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

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

static char *encode(const struct registry_cred *c)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	char *out = NULL;

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	if (c->identity_token) {
		gen_kv(g, "identitytoken", c->identity_token);
	} else {
		gen_kv(g, "username", c->username ? c->username : "");
		gen_kv(g, "password", c->password ? c->password : "");
	}
	gen_kv(g, "serveraddress", c->server);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		out = registry_auth_base64url(buf, len);
	/* The JSON held the password in clear. */
	explicit_bzero((void *)buf, len);
	yajl_gen_free(g);
	return out;
}

int registry_auth_for(const struct exec_config *cfg, const char *image, char **out,
                      dms_error **err)
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

int registry_auth_load_file(struct exec_config *cfg, dms_error **err)
{
	static const char *auths_path[] = { "auths", NULL };
	static const char *auth_path[] = { "auth", NULL };
	static const char *token_path[] = { "identitytoken", NULL };
	const char *path = cfg->auth_file;
	char parse_err[256] = "";
	yajl_val root, auths;
	char *text;
	size_t len = 0;
	int rc = 0;
	FILE *f;

	if (!path)
		return 0;
	if (!(f = fopen(path, "re")))
		return err_set(err, DMS_ERR_CONFIG, "auth_file: cannot open %s: %s", path,
		               strerror(errno));
	text = malloc(AUTH_FILE_MAX_BYTES + 1);
	if (text)
		len = fread(text, 1, AUTH_FILE_MAX_BYTES + 1, f);
	fclose(f);
	if (!text)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	if (len > AUTH_FILE_MAX_BYTES) {
		free(text);
		return err_set(err, DMS_ERR_CONFIG, "auth_file: %s is larger than 1 MiB", path);
	}
	text[len] = '\0';
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
	if (auths && !YAJL_IS_OBJECT(auths)) {
		rc = err_set(err, DMS_ERR_CONFIG, "auth_file: %s: \"auths\" must be an object", path);
		goto out;
	}
	for (size_t i = 0; auths && i < auths->u.object.len; i++) {
		const char *server = auths->u.object.keys[i];
		yajl_val entry = auths->u.object.values[i];
		yajl_val auth = yajl_tree_get(entry, auth_path, yajl_t_string);
		yajl_val token = yajl_tree_get(entry, token_path, yajl_t_string);
		char *host = image_ref_normalize_registry(server);
		bool known = false;

		if (!host) {
			rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
			goto out;
		}
		for (size_t j = 0; j < cfg->n_registries; j++)
			known = known || strcasecmp(cfg->registries[j].server, host) == 0;
		free(host);
		if (known) /* the config's own entry wins */
			continue;
		if (!YAJL_IS_OBJECT(entry)) {
			rc = err_set(err, DMS_ERR_CONFIG,
			             "auth_file: %s: auths.\"%s\" must be an object", path, server);
			goto out;
		}
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
				rc = err_set(err, DMS_ERR_CONFIG,
				             "auth_file: %s: auths.\"%s\".auth must be base64 of "
				             "user:password",
				             path, server);
				goto out;
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
			goto out;
	}
out:
	yajl_tree_free(root);
	return rc;
}
