/* image_ref.h — image references as Docker reads them
 * (github.com/distribution/reference): validation with a reason, and the
 * registry host a reference lives on.
 *
 * Why here: an import tags an image with a reference a caller typed, and
 * registry credentials must go only to the registry the image comes from;
 * both need the same reading of "localhost:5000/a/b:1" as Docker's. */
#ifndef DMS_IMAGE_REF_H
#define DMS_IMAGE_REF_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when ref is a valid reference (with allow_digest, "@sha256:<64 hex>"
 * may follow); else -1 and why (static text) says what is wrong. */
int image_ref_check(const char *ref, bool allow_digest, const char **why);

/* The registry host[:port] of ref: its first component when that looks
 * like a host ('.' or ':' in it, "localhost", or upper case), else
 * "docker.io". Caller frees; NULL on OOM. */
char *image_ref_registry(const char *ref);

/* Normalises a registry name from a config or an auth file
 * ("https://index.docker.io/v1/", "registry-1.docker.io", "http://h:5000/")
 * to the host[:port] image_ref_registry gives. Caller frees. */
char *image_ref_normalize_registry(const char *server);

#endif
