/* results_dir.c — see results_dir.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* The part of dir below root, as written or as root resolves; NULL when
 * dir is not below it (the policy refused such a request already). */
static const char *below_root(const char *dir, const char *root, char *real)
{
	const char *roots[2] = {root, realpath(root, real) ? real : NULL};

	for (size_t i = 0; i < 2; i++) {
		size_t n = roots[i] ? strlen(roots[i]) : 0;

		while (n > 0 && roots[i][n - 1] == '/')
			n--;
		if (roots[i] && strncmp(dir, roots[i], n) == 0 && dir[n] == '/')
			return dir + n;
	}
	return NULL;
}

/* Opens (and with create, makes) each component of rel below the
 * directory fd `at`, never through a symbolic link: a link planted below
 * results_root (by another job writing there, or a local user) cannot
 * send the executor's writes elsewhere. Takes `at` (closed); returns the
 * new directory fd, or -category with *err set. */
static int walk_nofollow(int at, const char *rel, bool create, const char *field, const char *path,
                         dms_error **err)
{
	char *copy = strdup(rel), *save = NULL;

	if (!copy) {
		close(at);
		return -err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0)
			continue;
		if (create && mkdirat(at, comp, 0750) != 0 && errno != EEXIST) {
			int e = errno;
			close(at);
			free(copy);
			return -err_set(err, DMS_ERR_VOLUME, "%s: cannot create %s: %s", field,
			                path, strerror(e));
		}
		int fd = openat(at, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			struct stat st;
			bool link =
			    fstatat(at, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
			int rc =
			    link ? err_set(err, DMS_ERR_PERMISSION_DENIED,
			                   "%s: \"%s\": \"%s\" is a symbolic link; links below "
			                   "policy.results_root are never followed",
			                   field, path, comp)
			         : err_set(err, DMS_ERR_VOLUME, "%s: cannot open %s: %s", field,
			                   path, e == ENOTDIR ? "not a directory" : strerror(e));
			close(at);
			free(copy);
			return -rc;
		}
		close(at);
		at = fd;
	}
	free(copy);
	return at;
}

/* results_dir as a directory fd, walked from root without links. */
static int open_results_dir(const char *root, const char *dir, bool create, dms_error **err)
{
	char real[PATH_MAX];
	const char *rel = below_root(dir, root, real);
	int rc;

	if (!rel)
		return -err_set(err, DMS_ERR_PERMISSION_DENIED,
		                "results_dir: \"%s\" is not under policy.results_root (\"%s\")",
		                dir, root);
	/* The root is the operator's: made if missing, links allowed. */
	if (create && (rc = make_dir(root, err, "policy.results_root")) != 0)
		return -rc;
	int at = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (at < 0)
		return -err_set(err, DMS_ERR_VOLUME, "policy.results_root: cannot open %s: %s",
		                root, strerror(errno));
	return walk_nofollow(at, rel, create, "results_dir", dir, err);
}

int results_dir_prepare(const char *root, const struct exec_request *req, dms_error **err)
{
	if (!req->results_dir)
		return 0;
	int dfd = open_results_dir(root, req->results_dir, true, err);
	if (dfd < 0)
		return -dfd;
	for (size_t i = 0; i < req->n_outputs; i++) {
		int again = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
		if (again < 0) {
			close(dfd);
			return err_set(err, DMS_ERR_RESOURCE, "results_dir: %s", strerror(errno));
		}
		char field[48];
		snprintf(field, sizeof(field), "outputs[%zu].source", i);
		int ofd = walk_nofollow(again, req->outputs[i].source, true, field,
		                        req->outputs[i].source, err);
		if (ofd < 0) {
			close(dfd);
			return -ofd;
		}
		close(ofd);
	}
	close(dfd);
	return 0;
}

static int open_in(int dfd, const char *dir, const char *name, dms_error **err)
{
	/* Always a file of our own, created now with our mode: whatever had
	 * the name is unlinked, never opened — a file left with a loose mode
	 * would keep it, and an output mounted on results_dir lets the job
	 * plant a FIFO (open blocks for ever), a device node or a symlink. */
	int fd = -1;
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		err_set(err, DMS_ERR_VOLUME, "results_dir: cannot write %s/%s: %s", dir, name,
		        strerror(errno));
	return fd;
}

int results_files_open(struct results_files *rf, const char *root, const char *dir, uint64_t limit,
                       dms_error **err)
{
	memset(rf, 0, sizeof(*rf));
	rf->fd[0] = rf->fd[1] = rf->fd[2] = -1;
	rf->limit = limit;
	rf->dir = dir;
	if ((rf->fd[0] = open_results_dir(root, dir, false, err)) < 0) {
		int rc = -rf->fd[0];
		rf->fd[0] = -1;
		return rc;
	}
	if ((rf->fd[1] = open_in(rf->fd[0], dir, "stdout", err)) < 0 ||
	    (rf->fd[2] = open_in(rf->fd[0], dir, "stderr", err)) < 0) {
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
	for (int i = 0; i <= 2; i++) {
		if (rf->fd[i] >= 0)
			close(rf->fd[i]);
		rf->fd[i] = -1;
	}
}

int results_write_exit_code(struct results_files *rf, int exit_code, dms_error **err)
{
	if (rf->fd[0] < 0)
		return err_set(err, DMS_ERR_VOLUME, "results_dir: not open");
	const char *dir = rf->dir;
	int fd = open_in(rf->fd[0], dir, "exitCode", err);
	if (fd < 0)
		return DMS_ERR_VOLUME;
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d\n", exit_code);
	int rc = write(fd, buf, (size_t)n) == n ? 0 : DMS_ERR_VOLUME;
	close(fd);
	return rc ? err_set(err, rc, "results_dir: cannot write exitCode in %s", dir) : 0;
}
