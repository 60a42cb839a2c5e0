/* cleanup.h — the one spelling of scope-bound cleanup for the whole tree
 * (docs/errors.md, "Ownership"): a local declared with one of these is
 * released when it goes out of scope, so an early return cannot leak it;
 * ownership leaves the scope by stealing the pointer (`*out = p; p = NULL;`).
 *
 *     _cleanup_free_ char *path = NULL;
 *     _cleanup_yajl_tree_ yajl_val doc = yajl_tree_parse(...);
 */
#ifndef DMS_CLEANUP_H
#define DMS_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define _cleanup_(fn) __attribute__((cleanup(fn)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(const int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void yajl_tree_freep(yajl_val *v)
{
	if (*v)
		yajl_tree_free(*v);
}
#define _cleanup_yajl_tree_ _cleanup_(yajl_tree_freep)

static inline void yajl_gen_freep(yajl_gen *g)
{
	if (*g)
		yajl_gen_free(*g);
}
#define _cleanup_yajl_gen_ _cleanup_(yajl_gen_freep)

#endif
