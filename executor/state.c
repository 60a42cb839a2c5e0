/* state.c — per-execution state files (see state.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "fdio.h"
#include "jsonw.h"
#include "state.h"

#define STATE_MAX_BYTES (4u << 20) /* a result is capped; this is generous */

int state_save(const char *dir, const struct state_record *r)
{
	struct jw w;
	if (jw_init(&w) != 0)
		return -1;
	jw_map_open(&w);
	jw_key_str_or_null(&w, "execution_id", r->execution_id);
	jw_key_str_or_null(&w, "job_id", r->job_id);
	jw_key_str_or_null(&w, "container_id", r->container_id);
	jw_key_str_or_null(&w, "state", dms_state_name(r->state));
	jw_key_str_or_null(&w, "cancel_reason", r->cancel_reason);
	/* Stored as a string: the result is opaque here and stays byte-exact. */
	jw_key_str_or_null(&w, "result", r->result_json);
	jw_map_close(&w);
	const char *buf;
	size_t len;
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	int rc = -1, fd;
	if (jw_get(&w, &buf, &len) != 0 ||
	    asprintf(&path, "%s/%s.json", dir, r->container_name) < 0)
		path = NULL;
	else if (asprintf(&tmp, "%s/.%s.tmp", dir, r->container_name) < 0)
		tmp = NULL;
	if (path && tmp &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0) {
		/* No fsync: rename is atomic against a process crash, the failure
		 * this guards against; a machine crash loses the engine's
		 * containers too. */
		int wrc = write_all(fd, buf, len);
		if (close(fd) == 0 && wrc == 0)
			rc = rename(tmp, path);
		if (rc != 0)
			unlink(tmp);
	}
	jw_free(&w);
	return rc;
}

void state_remove(const char *dir, const char *container_name)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s.json", dir, container_name) >= 0)
		unlink(path);
	free(path);
}

static char *read_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			char *nb = cap < STATE_MAX_BYTES ? realloc(buf, cap *= 2) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else if (n == 0) {
			buf[len] = '\0';
			break;
		} else {
			len += (size_t)n;
		}
	}
	close(fd);
	return buf;
}

static const char *get_str(yajl_val root, const char *key)
{
	const char *path[] = {key, NULL};
	yajl_val v = yajl_tree_get(root, path, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

static int parse_state(const char *s)
{
	for (int i = DMS_STATE_PENDING; s && i <= DMS_STATE_PAUSED; i++)
		if (strcmp(s, dms_state_name((dms_exec_state)i)) == 0)
			return i;
	return -1;
}

void state_load(const char *dir, void (*fn)(void *ud, const struct state_record *r), void *ud)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		char *text = read_file(dirfd(d), de->d_name);
		yajl_val root = text ? yajl_tree_parse(text, NULL, 0) : NULL;
		char *name = strndup(de->d_name, n - 5);
		struct state_record r = {
		    .execution_id = get_str(root, "execution_id"),
		    .job_id = get_str(root, "job_id"),
		    .container_name = name,
		    .container_id = get_str(root, "container_id"),
		    .result_json = get_str(root, "result"),
		    .cancel_reason = get_str(root, "cancel_reason"),
		};
		int st = parse_state(get_str(root, "state"));
		if (root && name && r.execution_id && st >= 0) {
			r.state = (dms_exec_state)st;
			fn(ud, &r);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
		free(name);
		yajl_tree_free(root);
		free(text);
	}
	closedir(d);
}
