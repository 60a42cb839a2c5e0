/* results_dir.c — see results_dir.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "results_dir.h"

static int make_dir(const char *path, dms_error **err, const char *field)
{
	char *p = strdup(path);
	if (!p)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0750) != 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			return err_set(err, DMS_ERR_VOLUME, "%s: cannot create %s: %s", field, path,
			               strerror(e));
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(err, DMS_ERR_VOLUME, "%s: %s is not a directory", field, path);
	return 0;
}

int results_dir_prepare(const struct exec_request *req, dms_error **err)
{
	if (!req->results_dir)
		return 0;
	int rc = make_dir(req->results_dir, err, "results_dir");
	for (size_t i = 0; rc == 0 && i < req->n_outputs; i++) {
		char *path = NULL;
		if (asprintf(&path, "%s/%s", req->results_dir, req->outputs[i].source) < 0)
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		rc = make_dir(path, err, "outputs");
		free(path);
	}
	return rc;
}

static int open_in(const char *dir, const char *name, dms_error **err)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -err_set(err, DMS_ERR_RESOURCE, "out of memory");
	/* Always a file of our own, created now with our mode: whatever had
	 * the name is unlinked, never opened — a file left with a loose mode
	 * would keep it, and an output mounted on results_dir lets the job
	 * plant a FIFO (open blocks for ever), a device node or a symlink. */
	int fd = -1;
	if (unlink(path) == 0 || errno == ENOENT)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		err_set(err, DMS_ERR_VOLUME, "results_dir: cannot write %s: %s", path,
		        strerror(errno));
	free(path);
	return fd;
}

int results_files_open(struct results_files *rf, const char *dir, uint64_t limit, dms_error **err)
{
	memset(rf, 0, sizeof(*rf));
	rf->fd[0] = rf->fd[1] = rf->fd[2] = -1;
	rf->limit = limit;
	if ((rf->fd[1] = open_in(dir, "stdout", err)) < 0 ||
	    (rf->fd[2] = open_in(dir, "stderr", err)) < 0) {
		results_files_close(rf);
		return err && *err ? (int)(*err)->category : DMS_ERR_VOLUME;
	}
	return 0;
}

void results_files_write(struct results_files *rf, int stream, const char *data, size_t len)
{
	if ((stream != 1 && stream != 2) || rf->fd[stream] < 0)
		return;
	uint64_t room = rf->limit - rf->written[stream];
	if (len > room) {
		rf->truncated[stream] = true;
		len = (size_t)room;
	}
	while (len > 0) {
		ssize_t n = write(rf->fd[stream], data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* disk full or gone: stop writing this file */
			close(rf->fd[stream]);
			rf->fd[stream] = -1;
			return;
		}
		data += n;
		len -= (size_t)n;
		rf->written[stream] += (uint64_t)n;
	}
}

void results_files_close(struct results_files *rf)
{
	for (int i = 1; i <= 2; i++) {
		if (rf->fd[i] >= 0)
			close(rf->fd[i]);
		rf->fd[i] = -1;
	}
}

int results_write_exit_code(const char *dir, int exit_code, dms_error **err)
{
	int fd = open_in(dir, "exitCode", err);
	if (fd < 0)
		return DMS_ERR_VOLUME;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d\n", exit_code);
	int rc = write(fd, buf, (size_t)n) == n ? 0 : DMS_ERR_VOLUME;
	close(fd);
	return rc ? err_set(err, rc, "results_dir: cannot write exitCode in %s", dir) : 0;
}
