/* compat_fuzz.h — for tests/fuzz only: the parsers of compat_*.c that read
 * what the engine sends, without the HTTP around them, so that a harness
 * can feed them hostile bytes. Nothing in the product includes this. */
#ifndef DMS_RUNTIMES_COMPAT_FUZZ_H
#define DMS_RUNTIMES_COMPAT_FUZZ_H

#include "compat.h"

/* The /events stream, in chunks as they arrive: fn gets every event the
 * executor would act on; non-zero from fn ends it (returned). */
int compat_fuzz_events(const struct compat_flavor *flavor, const char *label_key,
                       const char *const *chunks, const size_t *lens, size_t n_chunks,
                       runtime_event_fn fn, void *ud);
/* GET /containers/{id}/json and /containers/json bodies (NUL-terminated). */
int compat_fuzz_inspect(const char *json, struct container_state *out, dms_error **err);
int compat_fuzz_list(const char *json, struct container_summary **out, size_t *n, dms_error **err);
/* GET /containers/{id}/stats (NUL-terminated). */
int compat_fuzz_stats(const char *json, struct container_stats *out, dms_error **err);
/* The JSON-lines stream of a pull: 1 and *error (caller frees) when an
 * error line ended it, else 0 and *error NULL. */
int compat_fuzz_pull_stream(const char *const *chunks, const size_t *lens, size_t n_chunks,
                            runtime_progress_fn fn, void *ud, char **error);

#endif
