/* config.h — the executor config (YAML, docs/config.md). Every key is
 * optional; unknown keys and bad values are DMS_ERR_CONFIG errors naming
 * the key and its place, "stop_timeout: ... (line 3:15)", as a request's. */
#ifndef DMS_CONFIG_H
#define DMS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <dms/executor.h>

/* One registry's credentials (docs/config.md, "Registry credentials"). */
struct registry_cred {
	char *server; /* host[:port] as images name it ("docker.io" for the Hub) */
	char *username;
	char *password;
	char *identity_token; /* OAuth refresh token instead of username/password */
};

struct exec_config {
	char *runtime;                    /* runtime_names.h, or auto (default docker) */
	char *host;                       /* engine URL; NULL: discover (runtime's default) */
	char *state_dir;                  /* default /var/lib/dms-executor */
	int64_t stop_timeout_ms;          /* default 10 s */
	size_t output_limit;              /* per stream in returned results; default 1 MiB */
	int64_t retention_ms;             /* finished handlers kept this long; default 1 h */
	size_t log_spool_limit;           /* per job, on disk; default 64 MiB */
	size_t results_file_limit;        /* per file in results_dir; default 64 MiB */
	char *stop_signal;                /* default SIGTERM */
	int64_t pull_timeout_ms;          /* a whole image pull; default 30 min */
	int64_t pull_progress_timeout_ms; /* a pull with no progress; default 2 min */
	struct registry_cred *registries; /* `registries`, then `auth_file`'s others */
	size_t n_registries;
	char *auth_file;           /* Docker config.json with "auths"; NULL: none */
	int64_t sweep_interval_ms; /* orphan sweep period (sweep.c); 0, the default: off */
	int64_t sweep_grace_ms;    /* untracked this long before removal; default 5 min */
	bool sweep_dry_run;        /* only report what the sweep would remove */
	int64_t exit_watch_ms;     /* watch a job's exit this long after its start; 0: off */
	/* TLS to the engine (tcp:// hosts; docs/swarm.md "TLS"); NULL: plain */
	char *tls_ca;                    /* CA bundle that signed the engine's certificate */
	char *tls_cert, *tls_key;        /* the client's certificate and key (both or none) */
	int64_t swarm_pending_timeout_ms; /* a swarm job no node takes fails after; default 5 min */
};

/* text may be NULL or empty: all defaults. */
int config_parse(const char *text, struct exec_config **out, dms_error **err);
void config_free(struct exec_config *c);

#endif
