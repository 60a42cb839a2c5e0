/* timecmd.c — dms-bench-timecmd: times a command-line tool per invocation
 * (dmsctl run, docker run --rm, podman run --rm) with the same fork/exec/wait
 * for each, so the CLI columns of the benchmark are measured alike. Runs the
 * command once as a warm-up, then N times; its stdout goes to /dev/null, its
 * stderr passes through. Prints {"samples_ms":[...]}; exits 1 on the first
 * failing run.
 *
 *   dms-bench-timecmd N -- COMMAND [ARGS...] */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

static int run_once(char **argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		bench_log("%s: %s", argv[0], strerror(r));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status)) {
		bench_log("%s killed by signal %d", argv[0], WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		bench_log("%s failed (exit status %d)", argv[0], WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bench_set_progname("dms-bench-timecmd");
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: dms-bench-timecmd N -- COMMAND [ARGS...]\n");
		return 2;
	}
	long n = bench_arg_long("N", argv[1], 1, 100000);
	double *v = bench_xmalloc((size_t)n * sizeof(double));

	for (long i = -1; i < n; i++) { /* i == -1: warm-up */
		bench_turn_begin();
		double t0 = bench_now_ms();
		if (run_once(argv + 3) < 0)
			return 1;
		bench_turn_end();
		if (i >= 0)
			v[i] = bench_now_ms() - t0;
	}
	printf("{");
	bench_print_samples(stdout, "samples_ms", v, (size_t)n);
	printf("}\n");
	free(v);
	return 0;
}
