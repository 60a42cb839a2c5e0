/* strv.c — NULL-terminated string vectors (strv.h), the one copy every
 * layer uses for argv-like request fields and engine answers. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void strv_free(strv v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_len(const strv v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* NULL stays NULL ("not given"); also NULL when out of memory. */
strv strv_dup(const strv v)
{
	size_t n = strv_len(v);
	strv copy;

	if (!v || !(copy = calloc(n + 1, sizeof(*copy))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!(copy[i] = strdup(v[i]))) {
			strv_free(copy);
			return NULL;
		}
	}
	return copy;
}

bool strv_push(strv *v, size_t *n, char *s)
{
	strv grown;

	if (!s || !(grown = realloc(*v, (*n + 2) * sizeof(*grown)))) {
		free(s);
		return false;
	}
	grown[(*n)++] = s;
	grown[*n] = NULL;
	*v = grown;
	return true;
}
