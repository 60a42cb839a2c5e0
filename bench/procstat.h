/* procstat.h — what the scale benchmark reads about a running dms-host from
 * /proc and the kernel: threads, open fds, RSS, CPU time, and how many unix
 * socket connections it holds to the engine's socket (peers found with
 * NETLINK_SOCK_DIAG, since /proc/net/unix does not show them). */
#ifndef DMS_BENCH_PROCSTAT_H
#define DMS_BENCH_PROCSTAT_H

#include <stdio.h>
#include <sys/types.h>

struct proc_sample {
	long threads;      /* entries of /proc/PID/task */
	long fds;          /* entries of /proc/PID/fd */
	long engine_conns; /* its sockets whose peer is bound to the engine socket */
	long rss_kb;       /* VmRSS */
	long rss_anon_kb;  /* RssAnon: the process's own memory */
	long rss_file_kb;  /* RssFile: mapped files (libraries) resident */
	double cpu_ms;     /* utime + stime */
};

/* Returns 0, or -1 (logged) when the process or the kernel could not be read. */
int proc_sample(pid_t pid, const char *engine_sock, struct proc_sample *out);
/* Prints {"threads":..,"fds":..,"engine_conns":..,"rss_kb":..,"rss_anon_kb":..,
 * "rss_file_kb":..,"cpu_ms":..}. */
void proc_sample_print(FILE *f, const struct proc_sample *s);

#endif
