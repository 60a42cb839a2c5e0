/* image_ref.c — Docker's image reference grammar (see image_ref.h):
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] component ( "/" component )*   (<= 255 chars)
 *   domain    := host [ ":" port ]      host: [A-Za-z0-9-] labels joined by "."
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image_ref.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of the first component of a name, and whether it is a domain. */
static bool first_is_domain(const char *name, size_t len)
{
	const char *slash = memchr(name, '/', len);
	size_t n = slash ? (size_t)(slash - name) : 0;

	if (!slash)
		return false;
	if (memchr(name, '.', n) || memchr(name, ':', n) ||
	    (n == 9 && !strncmp(name, "localhost", 9)))
		return true;
	for (size_t i = 0; i < n; i++)
		if (isupper((unsigned char)name[i]))
			return true;
	return false;
}

static bool valid_domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t host = colon ? (size_t)(colon - s) : n;
	size_t label = 0;

	if (host == 0)
		return false;
	for (size_t i = 0; i < host; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	if (label == 0 || s[host - 1] == '-')
		return false;
	if (colon) {
		if (colon + 1 == s + n)
			return false;
		for (const char *p = colon + 1; p < s + n; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	return true;
}

static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* a separator: ".", "_", "__" or a run of "-" */
		size_t j = i;
		if (s[i] == '.')
			j++;
		else if (s[i] == '_')
			j += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (j < n && s[j] == '-')
				j++;
		else
			return false;
		if (j >= n || !lower_alnum(s[j]))
			return false;
		i = j;
	}
	return true;
}

int image_ref_check(const char *ref, bool allow_digest, const char **why)
{
	const char *at, *name_end, *colon, *slash;
	size_t name_len;

	if (!ref || !*ref) {
		*why = "must not be empty";
		return -1;
	}
	at = strchr(ref, '@');
	if (at) {
		const char *d = at + 1;
		if (!allow_digest) {
			*why = "must be repo[:tag], not a digest";
			return -1;
		}
		if (strncmp(d, "sha256:", 7) != 0 || strlen(d + 7) != 64 ||
		    strspn(d + 7, "0123456789abcdef") != 64) {
			*why = "has a malformed digest (want @sha256:<64 hex digits>)";
			return -1;
		}
	}
	name_end = at ? at : ref + strlen(ref);
	slash = NULL;
	for (const char *p = ref; p < name_end; p++)
		if (*p == '/')
			slash = p;
	colon = NULL;
	for (const char *p = slash ? slash : ref; p < name_end; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		size_t tag_len = (size_t)(name_end - colon - 1);
		const char *t = colon + 1;
		if (tag_len == 0 || tag_len > TAG_MAX_LEN ||
		    !(isalnum((unsigned char)t[0]) || t[0] == '_')) {
			*why = "has an invalid tag (1-128 of [A-Za-z0-9_.-], not starting with . "
			       "or -)";
			return -1;
		}
		for (size_t i = 0; i < tag_len; i++)
			if (!(isalnum((unsigned char)t[i]) || strchr("_.-", t[i]))) {
				*why = "has an invalid tag (1-128 of [A-Za-z0-9_.-], not starting "
				       "with . or -)";
				return -1;
			}
		name_end = colon;
	}
	name_len = (size_t)(name_end - ref);
	if (name_len > NAME_MAX_LEN) {
		*why = "has a name longer than 255 characters";
		return -1;
	}
	const char *p = ref;
	if (first_is_domain(ref, name_len)) {
		const char *s = memchr(ref, '/', name_len);
		if (!valid_domain(ref, (size_t)(s - ref))) {
			*why = "has an invalid registry host";
			return -1;
		}
		p = s + 1;
	}
	for (;;) {
		const char *s = memchr(p, '/', (size_t)(name_end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(name_end - p);
		if (!valid_component(p, n)) {
			*why = "has an invalid name: components are lower-case letters and digits, "
			       "separated by '.', '_', '__' or '-'";
			return -1;
		}
		if (!s)
			break;
		p = s + 1;
	}
	return 0;
}

char *image_ref_registry(const char *ref)
{
	const char *slash = strchr(ref, '/');

	if (slash && first_is_domain(ref, strlen(ref)))
		return strndup(ref, (size_t)(slash - ref));
	return strdup("docker.io");
}

char *image_ref_normalize_registry(const char *server)
{
	const char *s = server;
	size_t n;
	char *out;

	if (strncasecmp(s, "https://", 8) == 0)
		s += 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	n = strcspn(s, "/");
	/* Docker Hub has several names; images say docker.io. */
	if ((n == 20 && !strncasecmp(s, "registry-1.docker.io", n)) ||
	    (n == 15 && !strncasecmp(s, "index.docker.io", n)) ||
	    (n == 9 && !strncasecmp(s, "docker.io", n)))
		return strdup("docker.io");
	if (!(out = strndup(s, n)))
		return NULL;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return out;
}
