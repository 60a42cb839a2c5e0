/* error.h — the one error convention of the plugin (docs/errors.md).
 *
 * Functions return int: 0 on success, else a dms_status category. On failure
 * they fill `dms_error **err` (when non-NULL) with a new error object. The
 * helpers below create, annotate and wrap errors so that a failure path is
 * one line:
 *
 *     return err_set(err, DMS_ERR_IMAGE, "image %s not found", name);
 *
 * and a caller adds what it was doing without losing the category:
 *
 *     if ((rc = start_container(...)) != 0)
 *             return err_wrap(err, rc, "starting %s", exec_id);
 */
#ifndef DMS_ERROR_H
#define DMS_ERROR_H

#include <dms/executor.h>

#define DMS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Creates *err (if err != NULL; replacing nothing: *err must be NULL) and
 * returns `category`. */
int err_set(dms_error **err, dms_status category, const char *fmt, ...) DMS_PRINTF(3, 4);

/* Like err_set, also recording the engine operation, resource id and the
 * engine's own error text (each may be NULL). */
int err_engine(dms_error **err, dms_status category, const char *operation, const char *resource,
               const char *engine_text, const char *fmt, ...) DMS_PRINTF(6, 7);

/* Prefixes the message of *err with "<formatted>: " and returns rc. If *err
 * is NULL (the callee had no error object) creates one with category rc. */
int err_wrap(dms_error **err, int rc, const char *fmt, ...) DMS_PRINTF(3, 4);

/* Sets a context field if it is not set yet. */
void err_set_context(dms_error *e, const char *operation, const char *resource,
                     const char *engine_text);

dms_error *err_dup(const dms_error *e);
void err_free(dms_error *e);

/* "<message> (operation: x, resource: y, engine: z)"; caller frees. */
char *err_describe(const dms_error *e);

#endif
