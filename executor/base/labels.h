/* labels.h — the label scheme: every engine object the executor creates
 * carries these, and every sweep filters on LABEL_EXECUTOR. */
#ifndef DMS_LABELS_H
#define DMS_LABELS_H

#define LABEL_EXECUTOR "org.dms.executor"
#define LABEL_JOB "org.dms.job"
#define LABEL_EXECUTION "org.dms.execution"
#define LABEL_PREFIX "org.dms."

#include <stddef.h>

/* Deterministic, engine-safe container name for (executor, execution):
 * "dms-<executor>-<execution>-<8 hex of a hash of the raw id pair>", every
 * char outside [A-Za-z0-9_.-] replaced by '_' and the readable part cut so
 * the whole stays within 128 chars. The hash is always there because ids may
 * contain '-' ("a-b"+"c" vs "a"+"b-c"). Caller frees. */
char *labels_container_name(const char *executor_id, const char *execution_id);

#endif
