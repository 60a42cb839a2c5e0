/* json.c — recursive-descent JSON reader (see json.h). Strict RFC 8259
 * syntax; \u escapes are decoded to UTF-8, surrogate pairs included. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 64

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	int depth;
};

static struct host_json *parse_value(struct parser *p);

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static bool match(struct parser *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int hex4(struct parser *p, unsigned *out)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct host_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	host_buf_append(b, u, n);
}

/* On success the string (without quotes) is in *out, length in *n. */
static int parse_string(struct parser *p, char **out, size_t *n)
{
	struct host_buf b;

	if (p->pos >= p->len || p->s[p->pos] != '"')
		return -1;
	p->pos++;
	host_buf_init(&b, 0);
	host_buf_append(&b, "", 0);
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos++];
		if (c == '"') {
			*n = b.len;
			*out = host_buf_steal(&b);
			return 0;
		}
		if (c < 0x20)
			break;
		if (c != '\\') {
			host_buf_append(&b, (const char *)&c, 1);
			continue;
		}
		if (p->pos >= p->len)
			break;
		char e = p->s[p->pos++];
		const char *simple = NULL;
		switch (e) {
		case '"':
			simple = "\"";
			break;
		case '\\':
			simple = "\\";
			break;
		case '/':
			simple = "/";
			break;
		case 'b':
			simple = "\b";
			break;
		case 'f':
			simple = "\f";
			break;
		case 'n':
			simple = "\n";
			break;
		case 'r':
			simple = "\r";
			break;
		case 't':
			simple = "\t";
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(p, &cp) < 0)
				goto fail;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (!match(p, "\\u") || hex4(p, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					goto fail;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto fail;
			}
			put_utf8(&b, cp);
			continue;
		}
		default:
			goto fail;
		}
		host_buf_puts(&b, simple);
	}
fail:
	host_buf_free(&b);
	return -1;
}

static struct host_json *new_node(enum host_json_type t)
{
	struct host_json *j = host_calloc(1, sizeof(*j));

	j->type = t;
	return j;
}

static void add_item(struct host_json *j, char *key, struct host_json *item)
{
	j->items = host_realloc(j->items, (j->n_items + 1) * sizeof(*j->items));
	if (j->type == HOST_JSON_OBJECT)
		j->keys = host_realloc(j->keys, (j->n_items + 1) * sizeof(*j->keys));
	if (key)
		j->keys[j->n_items] = key;
	j->items[j->n_items++] = item;
}

static struct host_json *parse_container(struct parser *p, bool object)
{
	struct host_json *j = new_node(object ? HOST_JSON_OBJECT : HOST_JSON_ARRAY);
	char close = object ? '}' : ']';

	if (++p->depth > MAX_DEPTH)
		goto fail;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return j;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;

		skip_ws(p);
		if (object) {
			if (parse_string(p, &key, &klen) < 0)
				goto fail;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				goto fail;
			}
			p->pos++;
		}
		struct host_json *v = parse_value(p);
		if (!v) {
			free(key);
			goto fail;
		}
		add_item(j, key, v);
		skip_ws(p);
		if (p->pos >= p->len)
			goto fail;
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			p->depth--;
			return j;
		}
		goto fail;
	}
fail:
	host_json_free(j);
	return NULL;
}

static struct host_json *parse_number(struct parser *p)
{
	size_t start = p->pos;
	char tmp[64];
	char *end;

	while (p->pos < p->len && strchr("+-0123456789.eE", p->s[p->pos]))
		p->pos++;
	if (p->pos == start || p->pos - start >= sizeof(tmp))
		return NULL;
	memcpy(tmp, p->s + start, p->pos - start);
	tmp[p->pos - start] = '\0';
	double v = strtod(tmp, &end);
	if (*end != '\0' || !isfinite(v))
		return NULL;
	struct host_json *j = new_node(HOST_JSON_NUMBER);
	j->number = v;
	return j;
}

static struct host_json *parse_value(struct parser *p)
{
	struct host_json *j;

	skip_ws(p);
	if (p->pos >= p->len)
		return NULL;
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, true);
	case '[':
		return parse_container(p, false);
	case '"':
		j = new_node(HOST_JSON_STRING);
		if (parse_string(p, &j->string, &j->string_len) < 0) {
			free(j);
			return NULL;
		}
		return j;
	case 't':
	case 'f':
		if (match(p, "true")) {
			j = new_node(HOST_JSON_BOOL);
			j->boolean = true;
			return j;
		}
		return match(p, "false") ? new_node(HOST_JSON_BOOL) : NULL;
	case 'n':
		return match(p, "null") ? new_node(HOST_JSON_NULL) : NULL;
	default:
		return parse_number(p);
	}
}

struct host_json *host_json_parse(const char *text, size_t len, size_t *err_offset)
{
	struct parser p = {.s = text, .len = len};
	struct host_json *j = parse_value(&p);

	if (j) {
		skip_ws(&p);
		if (p.pos != p.len) {
			host_json_free(j);
			j = NULL;
		}
	}
	if (!j && err_offset)
		*err_offset = p.pos;
	return j;
}

void host_json_free(struct host_json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_items; i++) {
		if (j->keys)
			free(j->keys[i]);
		host_json_free(j->items[i]);
	}
	free(j->keys);
	free(j->items);
	free(j->string);
	free(j);
}

const struct host_json *host_json_get(const struct host_json *j, const char *key)
{
	if (!j || j->type != HOST_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->n_items; i++)
		if (strcmp(j->keys[i], key) == 0)
			return j->items[i];
	return NULL;
}

const char *host_json_get_string(const struct host_json *j, const char *key)
{
	const struct host_json *v = host_json_get(j, key);

	return v && v->type == HOST_JSON_STRING ? v->string : NULL;
}

double host_json_get_number(const struct host_json *j, const char *key, double def)
{
	const struct host_json *v = host_json_get(j, key);

	return v && v->type == HOST_JSON_NUMBER ? v->number : def;
}

bool host_json_get_bool(const struct host_json *j, const char *key, bool def)
{
	const struct host_json *v = host_json_get(j, key);

	return v && v->type == HOST_JSON_BOOL ? v->boolean : def;
}
