/* strv.h — NULL-terminated string vectors; NULL means "not given". */
#ifndef DMS_STRV_H
#define DMS_STRV_H

#include <stdbool.h>
#include <stddef.h>

typedef char **strv;
void strv_free(strv v); /* NULL-safe */
size_t strv_len(const strv v);
/* NULL stays NULL ("not given"); also NULL when out of memory. */
strv strv_dup(const strv v);
/* Appends s (taking it; freed on failure) to a vector of *n elements;
 * false when out of memory or s is NULL. */
bool strv_push(strv *v, size_t *n, char *s);

#endif
