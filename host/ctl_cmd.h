/* ctl_cmd.h — what dmsctl's commands share: the global options, the
 * Ctrl-C flags, output of streams, progress and results, and the small
 * argument checks every command makes. dmsctl.c parses the global options
 * and dispatches; each command lives in its own file (ctl_run.c,
 * ctl_jobs.c, ctl_executor.c, ctl_images.c) over the backend of ctl.h. */
#ifndef DMS_HOST_CTL_CMD_H
#define DMS_HOST_CTL_CMD_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"
#include "json.h"

#define EXIT_EXECUTOR_FAILED 125 /* like docker run: the job never ran */
#define MAX_REQUEST_BYTES (16 * 1024 * 1024)

struct globals {
	struct ctl_options opts;
	bool json;
	char *config_owned;
};

/* `run` catches the first Ctrl-C (to cancel the job and still report its
 * end); everywhere else, and on a second Ctrl-C, dmsctl just exits. */
extern volatile sig_atomic_t ctl_catch_interrupt;
extern volatile sig_atomic_t ctl_interrupted;
void ctl_on_interrupt(int sig);

/* The commands: argv[0] is the command's name. Each returns the exit
 * status. */
int ctl_cmd_run(struct globals *g, int argc, char **argv);
int ctl_cmd_start(struct globals *g, int argc, char **argv);
int ctl_cmd_wait(struct globals *g, int argc, char **argv);
int ctl_cmd_logs(struct globals *g, int argc, char **argv);
int ctl_cmd_cancel(struct globals *g, int argc, char **argv);
int ctl_cmd_cleanup(struct globals *g, int argc, char **argv);
int ctl_cmd_ls(struct globals *g, int argc, char **argv);
int ctl_cmd_info(struct globals *g, int argc, char **argv);
int ctl_cmd_image(struct globals *g, int argc, char **argv);
int ctl_cmd_metrics(struct globals *g, int argc, char **argv);
/* ctl_live.c */
int ctl_cmd_kill(struct globals *g, int argc, char **argv);
int ctl_cmd_pause(struct globals *g, int argc, char **argv);
int ctl_cmd_resume(struct globals *g, int argc, char **argv);
int ctl_cmd_stats(struct globals *g, int argc, char **argv);
int ctl_cmd_inspect(struct globals *g, int argc, char **argv);
/* ctl_exec.c */
int ctl_cmd_exec(struct globals *g, int argc, char **argv);

/* dmsctl.c: prints the command's usage and help to f; returns status. */
int ctl_command_help(const char *name, FILE *f, int status);

#define SUBCMD_HELP_OPT                                                                            \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* --- ctl_common.c ---------------------------------------------------- */

void ctl_print_error(const char *what, const struct ctl_error *e);
/* false (and says so) when s is not valid UTF-8. */
bool ctl_utf8_ok(const char *what, const char *s);
/* Opens the backend, saying which with -v. -1 when it cannot (said). */
int ctl_open_backend(struct globals *g, struct ctl_backend **b);
/* The one execution id of a command that takes exactly that; NULL with
 * *status set (help printed or a usage error). */
const char *ctl_one_id(const char *cmd, int argc, char **argv, int *status);
/* For the commands that take no arguments: 0, or -1 with *status set. */
int ctl_no_args(const char *cmd, int argc, char **argv, int *status);

/* Writes a stream's bytes to stdout (stream 1) or stderr (2). */
int ctl_sink_std(void *ud, int stream, const char *data, size_t len);
/* Copies a framed log fd to stdout/stderr until EOF (0), -1 on a read
 * error. On the first Ctrl-C calls on_int(ud) once, or returns 130 when
 * on_int is NULL. */
int ctl_pump_logs(int fd, void (*on_int)(void *), void *ud);

/* What the PullProgress reports of one execution look like on stderr: a
 * bar redrawn in place on a terminal, one plain line per report else.
 * execution_id NULL: every report (the id is learnt only when Start
 * returns). */
struct ctl_progress_view {
	const char *execution_id;
	bool tty;
	bool drawn; /* a bar is on the current line */
};
void ctl_show_progress(void *ud, const char *execution_id, const char *image,
                       uint64_t current_bytes, uint64_t total_bytes, const char *status);
/* Ends the bar's line, if one is drawn. */
void ctl_progress_done(struct ctl_progress_view *v);
/* ctl_start with the progress view shown while it runs; *execution_id as
 * ctl_start's. -1 when it failed (said). */
int ctl_start_showing_progress(struct ctl_backend *b, const char *request, const char *known_id,
                               char **execution_id);

/* Prints id, or with --json {key: id} (and key2: value2 when value2 is
 * not NULL). */
void ctl_print_id(const struct globals *g, const char *key, const char *id, const char *key2,
                  const char *value2);

/* The exit status of a result, like docker: exit_code, 125 when none. */
int ctl_result_exit_code(const struct host_json *res);
void ctl_print_result_summary(const char *id, const struct host_json *res);

#endif
