/* compat_internal.h — what the compat_*.c files share and nothing else
 * sees: the runtime's own struct, the request helpers and the readers of
 * the engine's JSON. The interface of the compat layer is compat.h; this
 * header only lets its concerns live in files of their own
 * (docs/engine-api.md, "Where the code is").
 */
#ifndef DMS_RUNTIMES_COMPAT_INTERNAL_H
#define DMS_RUNTIMES_COMPAT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "cleanup.h"
#include "compat.h"
#include "jsonw.h"
#include "strv.h"

/* Longest JSON line of a progress or event stream; longer ones are skipped. */
#define COMPAT_LINE_MAX (64u << 10)
/* Longest Libpod-Api-Version kept ("4.3.1"). */
#define COMPAT_LIBPOD_VERSION_MAX 32

#define JPATH COMPAT_JPATH

struct runtime {
	struct http_client *http;
	pthread_mutex_t mu;
	bool negotiated;                                /* under mu */
	const struct compat_flavor *flavor;             /* under mu: the engine's once negotiated */
	char libpod_version[COMPAT_LIBPOD_VERSION_MAX]; /* under mu; "" none */
	char *info_identity;      /* under mu: the ping headers `info` is from */
	struct runtime_info info; /* under mu: the last fingerprint */
	struct swarm *swarm;      /* swarm.c's own state; NULL on docker and podman */
};

/* ---- requests (compat_call.c) --------------------------------------------- */

/* A request on the negotiated API version, no body. */
#define COMPAT_REQ(m, p)                                                                           \
	((struct http_request){.method = (m), .path = (p), .versioned = true, .body_fd = -1})

char *compat_pathf(const char *fmt, ...) DMS_PRINTF(1, 2);
/* Percent-encodes a path segment. '/' and ':' stay literal: image
 * references ("dms-test/busybox:latest") are routed as they are. */
char *compat_path_escape(const char *s);
/* GET path on the negotiated API version, expect 200 and a JSON document. */
int compat_get_api_json(struct runtime *rt, dms_context *ctx, const char *path,
                        enum compat_object o, const char *op, const char *resource, yajl_val *out,
                        dms_error **err);
/* DELETE path: gone (204, 200, or 404: already gone) is 0. NULL path: out
 * of memory. */
int compat_delete(struct runtime *rt, dms_context *ctx, const char *path, enum compat_object o,
                  const char *op, const char *id, dms_error **err);
/* The engine's own words: {"message": ...} or the raw body, bounded. */
char *compat_engine_text(const struct http_response *r);
/* Adds what was being done to an error from below (transport, context). */
int compat_annotate(dms_error **err, int rc, const char *op, const char *resource);

/* ---- API version and engine (compat_version.c) ---------------------------- */

/* Negotiates unless already done; errors carry the caller's op/resource. */
int compat_negotiate(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     dms_error **err);
/* The flavor of the engine, negotiating first so that it is the engine's
 * and not only the table's guess. */
int compat_flavor_of(struct runtime *rt, dms_context *ctx, const char *op, const char *resource,
                     const struct compat_flavor **out, dms_error **err);

/* ---- JSON in and out (compat_json.c) -------------------------------------- */

static inline char *compat_strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

bool compat_jint(yajl_val v, const char **path, long long *out);
bool compat_jtrue(yajl_val v, const char **path);

/* A string vector built with one check at the end: an allocation failure
 * is sticky and makes compat_strv_finish() return NULL. */
struct compat_strv {
	strv v;
	size_t n;
	bool failed;
};
/* Takes ownership of s (NULL records an allocation failure). */
void compat_strv_add(struct compat_strv *b, char *s);
/* The finished vector (never NULL on success: empty means none), or NULL
 * when an allocation failed. */
strv compat_strv_finish(struct compat_strv *b);

/* Labels object {"k":"v"} -> "k=v" vector (NULL: out of memory). */
strv compat_labels_from_json(yajl_val obj);
/* {"type":[type],"label":[label]} url-encoded for a filters= parameter. */
char *compat_filters_query(const char *type, const char *label);
/* The request body w holds, borrowed from w, or an INVALID_ARGUMENT error
 * naming `what` when a string could not be encoded. */
int compat_jw_body(struct jw *w, const char *what, const char **body, size_t *len, dms_error **err);

/* Splits a byte stream into lines, each bounded by COMPAT_LINE_MAX: a
 * longer line is skipped, not fatal (one huge event must not end the
 * executor's only event stream). */
struct compat_lines {
	struct buf line;
	bool skipping;
	int (*on_line)(void *ud, char *line, size_t len);
	void *ud;
};
void compat_lines_init(struct compat_lines *ls, int (*on_line)(void *, char *, size_t), void *ud);
/* Non-zero when on_line returned non-zero (returned). */
int compat_lines_feed(struct compat_lines *ls, const char *data, size_t len);
/* Emits a final line that had no newline. */
int compat_lines_finish(struct compat_lines *ls);
void compat_lines_free(struct compat_lines *ls);

/* ---- GPUs (compat_gpu.c) -------------------------------------------------- */

/* A GPU the engine cannot provide fails before the create, with
 * DMS_ERR_RESOURCE naming it. */
int compat_gpus_available(struct runtime *rt, dms_context *ctx, const struct exec_request *r,
                          bool podman, dms_error **err);

#endif
