/* policy.h — the operator's job policy (the config's `policy:` block,
 * docs/security.md) applied to a decoded request, before any engine call.
 *
 * A refusal is DMS_ERR_PERMISSION_DENIED with a message that names the
 * request field, the value and the policy key:
 *
 *     inputs[0].source: "/" is not under policy.bind_roots (none allowed)
 *
 * The request is untrusted (another machine sent it); the config is the
 * operator's. Every runtime's Start goes through these two calls from
 * start.c, so no engine table can skip them. */
#ifndef DMS_POLICY_H
#define DMS_POLICY_H

#include <dms/executor.h>

#include "config.h"
#include "request.h"

/* Everything that needs no engine: images, user (when the request names
 * one), environment and label sizes, network, capabilities,
 * no_new_privileges, ports, ceilings, GPUs, inputs (resolved: symlinks and
 * "..", the engine's sockets refused whatever the roots) and results_dir.
 * May change req: an input's source becomes its resolved path (what the
 * engine binds is what was checked), a missing limit becomes the ceiling
 * (policy.max, unless require_limits). engine_host is the engine URL the
 * executor talks to (its socket is refused as an input); may be NULL. */
int policy_check_request(const struct exec_config *cfg, const char *engine_host,
                         struct exec_request *req, dms_error **err);

/* policy.run_as_non_root when the request names no user: image_user is
 * the image's configured user (Config.User, "" for root). 0 when the
 * policy does not ask, or the user is a numeric uid other than 0. */
int policy_check_image_user(const struct exec_policy *p, const struct exec_request *req,
                            const char *image_user, dms_error **err);

/* Whether policy.run_as_non_root needs the image's user for req (the
 * request names no user of its own). */
bool policy_needs_image_user(const struct exec_policy *p, const struct exec_request *req);

#endif
