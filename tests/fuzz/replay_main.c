/* replay_main.c — a main() for the fuzz harnesses without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named on the command line (or
 * found in a directory named there). Built by tests/fuzz/CMakeLists.txt in
 * the ordinary (gcc, ASan) test build, so the committed seed corpus and
 * every saved crash reproducer (tests/fuzz/crashes/<harness>/) run as a
 * ctest regression test: a reproducer fails the test until its bug is
 * fixed. A missing directory counts as empty. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	for (size_t n; buf && (n = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += n;
		if (len == cap) {
			uint8_t *g = realloc(buf, cap *= 2);
			if (!g) {
				free(buf);
				buf = NULL;
			}
			buf = g;
		}
	}
	fclose(f);
	if (!buf)
		return -1;
	/* An exact-size copy, as libFuzzer passes it: over-reads are caught. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int files = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0)
			continue; /* no such directory: nothing to replay */
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		char **names = NULL;
		size_t n = 0;
		for (struct dirent *e; d && (e = readdir(d));) {
			if (e->d_name[0] == '.')
				continue;
			char **g = realloc(names, (n + 1) * sizeof(*names));
			if (!g)
				break;
			names = g;
			if (asprintf(&names[n], "%s/%s", argv[i], e->d_name) < 0)
				break;
			n++;
		}
		if (d)
			closedir(d);
		qsort(names, n, sizeof(*names), cmp);
		for (size_t k = 0; k < n; k++) {
			if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
				failed += run_file(names[k]) != 0;
				files++;
			}
			free(names[k]);
		}
		free(names);
	}
	printf("replay: %d inputs, %d unreadable\n", files, failed);
	return failed ? 1 : 0;
}
