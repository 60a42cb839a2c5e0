/* registry_auth.h — registry credentials from the executor config, sent
 * with a pull as Docker's X-Registry-Auth header (docs/config.md,
 * "Registry credentials").
 *
 * Why its own file: credentials must go to the image's own registry and
 * nowhere else, and must never reach a log or an error message; keeping
 * the matching, the encoding and Docker's config.json reader together
 * makes that one place to check. */
#ifndef DMS_REGISTRY_AUTH_H
#define DMS_REGISTRY_AUTH_H

#include <stddef.h>
#include <dms/executor.h>

#include "config.h"

/* The X-Registry-Auth value for pulling `image`: base64url (with padding,
 * as Docker's client sends it) of the JSON AuthConfig
 * {"username","password","serveraddress"} or {"identitytoken",
 * "serveraddress"} of the config entry for the image's registry host.
 * *out is NULL when no entry matches (the pull goes without the header).
 * Caller frees (after explicit_bzero). */
int registry_auth_for(const struct exec_config *cfg, const char *image, char **out,
                      dms_error **err);

/* Reads Docker's config.json at cfg->auth_file ("auths": {server:
 * {"auth": base64(user:password)} or {"identitytoken"}} ) and adds an
 * entry for every server the config's own `registries` do not name.
 * DMS_ERR_CONFIG naming the file and the member when it is unreadable or
 * malformed; the error never contains a credential. */
int registry_auth_load_file(struct exec_config *cfg, dms_error **err);

/* base64 with the URL alphabet and '=' padding. Caller frees. */
char *registry_auth_base64url(const unsigned char *data, size_t len);

#endif
