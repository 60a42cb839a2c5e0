/* ctl_exec.c — `dmsctl exec [-i] [-t] [-e K=V]... [-u USER] [-w DIR] ID
 * [--] CMD...`, shaped like `docker exec`: runs CMD inside a running
 * execution over the backend's Exec (an fd carrying stdin one way and the
 * output the other), prints its output (stdout to stdout, stderr to
 * stderr; one raw stream with -t) and exits with its exit code (125 when
 * the exec could not be started, like docker). -i copies dmsctl's stdin
 * and ends it with a half-close at EOF; -t puts a local terminal in raw
 * mode and forwards its size (at the start and on SIGWINCH). Ctrl-C
 * without -t closes the stream, which ends the exec (docs/dbus.md). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "fdio.h"
#include "jsonw.h"
#include "strv.h"
#include "util.h"

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

struct exec_opts {
	bool interactive, tty;
	strv env;
	size_t n_env;
	const char *user, *workdir;
};

static char *exec_request(const struct exec_opts *o, char **cmd, int n_cmd)
{
	struct jw w;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key(&w, "cmd");
	jw_array_open(&w);
	for (int i = 0; i < n_cmd; i++)
		jw_str(&w, cmd[i]);
	jw_array_close(&w);
	jw_key_strv(&w, "env", o->env);
	jw_key_str(&w, "user", o->user);
	jw_key_str(&w, "working_dir", o->workdir);
	jw_key_bool(&w, "tty", o->tty);
	jw_key_bool(&w, "stdin", o->interactive);
	jw_map_close(&w);
	return jw_steal(&w);
}

/* Sends the local terminal's size, when there is one. */
static void send_size(struct ctl_backend *b, const char *exec_id)
{
	struct winsize ws;
	struct ctl_error err = {0};

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
		return;
	if (ctl_exec_resize(b, exec_id, ws.ws_row, ws.ws_col, &err) < 0) {
		ctl_print_error("exec resize", &err);
		ctl_error_clear(&err);
	}
}

/* Copies stdin to fd (with -i) and fd to stdout/stderr until the exec's
 * stream ends. 0, 130 on Ctrl-C (the stream is closed: the exec ends), -1
 * on a read error. */
static int relay(struct ctl_backend *b, const char *exec_id, int fd, const struct exec_opts *o)
{
	struct ctl_demux d;
	char buf[65536];
	bool stdin_open = o->interactive;

	ctl_demux_init(&d);
	d.raw = o->tty; /* a tty's output is one raw stream */
	for (;;) {
		if (ctl_interrupted)
			return 130;
		if (winch) {
			winch = 0;
			send_size(b, exec_id);
		}
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0 || write_all(fd, buf, (size_t)n) != 0) {
				/* End of stdin: the command reads EOF. */
				stdin_open = false;
				shutdown(fd, SHUT_WR);
			}
		}
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return n == 0 ? 0 : -1;
			ctl_demux_feed(&d, buf, (size_t)n, ctl_sink_std, NULL);
		}
	}
}

static int parse(int argc, char **argv, struct exec_opts *o, int *status)
{
	static const struct option longopts[] = {
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"env", required_argument, NULL, 'e'},
	    {"user", required_argument, NULL, 'u'},
	    {"workdir", required_argument, NULL, 'w'},
	    SUBCMD_HELP_OPT,
	    {NULL, 0, NULL, 0},
	};
	int opt;

	/* '+': options end at the execution id, so CMD's own flags are its. */
	while ((opt = getopt_long(argc, argv, "+ite:u:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			o->interactive = true;
			break;
		case 't':
			o->tty = true;
			break;
		case 'e':
			if (!strv_push(&o->env, &o->n_env, host_strdup(optarg))) {
				*status = 1;
				return -1;
			}
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'h':
			*status = ctl_command_help("exec", stdout, 0);
			return -1;
		default:
			*status = ctl_command_help("exec", stderr, 2);
			return -1;
		}
	}
	/* ID, then CMD (after an optional "--"). */
	if (optind < argc && optind + 1 < argc && strcmp(argv[optind + 1], "--") == 0) {
		argv[optind + 1] = argv[optind];
		optind++;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "dmsctl exec: %s\n",
		        optind < argc ? "no command to run after the execution id"
		                      : "needs an execution id and a command");
		*status = ctl_command_help("exec", stderr, 2);
		return -1;
	}
	return 0;
}

int ctl_cmd_exec(struct globals *g, int argc, char **argv)
{
	struct exec_opts o = {0};
	struct ctl_backend *b = NULL;
	struct ctl_error err = {0};
	struct termios saved;
	bool raw = false;
	int status = 0, fd = -1;

	if (parse(argc, argv, &o, &status) < 0) {
		strv_free(o.env);
		return status;
	}
	const char *id = argv[optind];
	_cleanup_free_ char *req = exec_request(&o, argv + optind + 1, argc - optind - 1);
	strv_free(o.env);
	if (!req) {
		fprintf(stderr, "dmsctl exec: the command or an option is not valid UTF-8\n");
		return 2;
	}
	if (!ctl_utf8_ok("the execution id", id) || ctl_open_backend(g, &b) < 0)
		return EXIT_EXECUTOR_FAILED;

	_cleanup_free_ char *exec_id = NULL;
	if (ctl_exec(b, id, req, &fd, &exec_id, &err) < 0) {
		ctl_print_error("exec", &err);
		ctl_error_clear(&err);
		ctl_backend_close(b);
		return EXIT_EXECUTOR_FAILED;
	}
	if (o.tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		struct sigaction sa = {.sa_handler = on_winch};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
		send_size(b, exec_id);
	}
	/* Ctrl-C (no raw tty) ends the relay; closing the fd ends the exec. */
	ctl_catch_interrupt = 1;
	int r = relay(b, exec_id, fd, &o);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(fd);
	if (r == 130) {
		status = 130;
	} else {
		int code = -1;
		if (ctl_exec_wait(b, exec_id, &code, &err) < 0) {
			ctl_print_error("exec wait", &err);
			ctl_error_clear(&err);
			status = EXIT_EXECUTOR_FAILED;
		} else {
			status = code < 0 || code > 255 ? EXIT_EXECUTOR_FAILED : code;
		}
		if (r < 0 && status == 0)
			status = 1;
	}
	ctl_backend_close(b);
	return status;
}
