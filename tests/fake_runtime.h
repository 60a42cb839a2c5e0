/* fake_runtime.h — an in-memory runtime implementing struct runtime_ops for
 * unit tests (never the proof that a feature works: integration tests run
 * against real engines). Placeholder; being written. */
#ifndef DMS_FAKE_RUNTIME_H
#define DMS_FAKE_RUNTIME_H
#include "runtime.h"
extern const struct runtime_ops fake_runtime_ops;
#endif
