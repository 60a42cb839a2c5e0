/* ctl_backend_internal.h — the operation table behind ctl.h's calls, with
 * its two implementations: ctl_bus.c (a dms-host's org.dms.Executor1
 * object) and ctl_embedded.c (the plugin in-process). ctl_backend.c picks
 * one when the backend is opened; every call after that goes through the
 * table, so no operation asks again which mode it is in. */
#ifndef DMS_HOST_CTL_BACKEND_INTERNAL_H
#define DMS_HOST_CTL_BACKEND_INTERNAL_H

#include "ctl.h"

struct ctl_backend_ops {
	bool embedded;
	void (*close)(struct ctl_backend *b);
	int (*is_installed)(struct ctl_backend *b, bool *installed, char **info_json,
	                    struct ctl_error *err);
	int (*start)(struct ctl_backend *b, const char *request, char **execution_id,
	             struct ctl_error *err);
	int (*wait)(struct ctl_backend *b, const char *execution_id, char **result_json,
	            struct ctl_error *err);
	int (*cancel)(struct ctl_backend *b, const char *execution_id, struct ctl_error *err);
	int (*log_stream)(struct ctl_backend *b, const char *request, int *fd,
	                  struct ctl_error *err);
	int (*cleanup)(struct ctl_backend *b, struct ctl_error *err);
	int (*list)(struct ctl_backend *b, char **list_json, struct ctl_error *err);
	int (*image_import)(struct ctl_backend *b, int fd, const char *reference, char **image_id,
	                    struct ctl_error *err);
	int (*live)(struct ctl_backend *b, enum ctl_live_op op, const char *execution_id,
	            const char *arg, char **out_json, struct ctl_error *err);
	int (*stats_stream)(struct ctl_backend *b, const char *execution_id, int *fd,
	                    struct ctl_error *err);
	int (*exec)(struct ctl_backend *b, const char *execution_id, const char *request, int *fd,
	            char **exec_id, struct ctl_error *err);
	int (*exec_resize)(struct ctl_backend *b, const char *exec_id, uint32_t rows, uint32_t cols,
	                   struct ctl_error *err);
	int (*exec_wait)(struct ctl_backend *b, const char *exec_id, int *exit_code,
	                 struct ctl_error *err);
	/* Starts (or stops) delivering pull progress to b->progress_fn. */
	void (*watch_progress)(struct ctl_backend *b, bool on);
};

/* The first member of each implementation's own struct. */
struct ctl_backend {
	const struct ctl_backend_ops *ops;
	ctl_progress_fn progress_fn;
	void *progress_ud;
};

/* Bus mode. *no_host is set when nobody owns the bus name (or there is no
 * bus): then the caller may go embedded; otherwise err says what failed. */
int ctl_bus_open(const struct ctl_options *o, struct ctl_backend **out, bool *no_host,
                 struct ctl_error *err);
int ctl_embedded_open(const struct ctl_options *o, struct ctl_backend **out, struct ctl_error *err);

/* Sets e to (name, message) and returns -1. */
int ctl_set_error(struct ctl_error *e, const char *name, const char *message);

#endif
