/* state.h — one small file per execution in <state_dir>/<executor>/jobs/,
 * so a new executor with a dead one's id knows what it was running even if
 * the engine lost the container (reported lost), and keeps results of jobs
 * harvested before the crash (Wait still answers). Written atomically
 * (temp file + rename), mode 0600. */
#ifndef DMS_STATE_H
#define DMS_STATE_H

#include <dms/executor.h>

struct state_record {
	const char *execution_id;
	const char *job_id;
	const char *container_name;
	const char *container_id; /* may be NULL */
	dms_exec_state state;
	const char *result_json;   /* final states; may be NULL */
	const char *cancel_reason; /* set once Cancel or the deadline asked; may be NULL */
};

/* Writes (replaces) the record of r->container_name. 0 or -1 (errno). */
int state_save(const char *dir, const struct state_record *r);
/* Removes it; a missing file is fine. */
void state_remove(const char *dir, const char *container_name);
/* Calls fn for every readable record; unreadable files are skipped (and
 * removed: they are ours and useless). */
void state_load(const char *dir, void (*fn)(void *ud, const struct state_record *r), void *ud);

#endif
