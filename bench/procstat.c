/* procstat.c — reads a process's threads, fds, RSS, CPU time and engine
 * connections (see procstat.h). */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static long count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* VmRSS, and its anonymous and file-backed parts (the latter: pages of
 * shared libraries, resident or not as the page cache has them). */
static int read_rss_kb(pid_t pid, long *rss, long *anon, long *file)
{
	char path[64], line[256];

	*rss = *anon = *file = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", rss) != 1 &&
		    sscanf(line, "RssAnon: %ld kB", anon) != 1)
			sscanf(line, "RssFile: %ld kB", file);
	fclose(f);
	return *rss < 0 ? -1 : 0;
}

static double read_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name (which may contain spaces). */
	char *p = strrchr(buf, ')');
	unsigned long utime = 0, stime = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
	                 &stime) != 2)
		return -1;
	return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The unix sockets of the machine: inode, peer inode, bound to the engine. */
struct usock {
	uint32_t ino, peer;
	int is_engine;
};

/* Whether a bound name is path; some binders (Go) count the final NUL. */
static int name_is(const char *name, size_t len, const char *path, size_t plen)
{
	if (len == plen + 1 && name[plen] == '\0')
		len = plen;
	return len == plen && memcmp(name, path, plen) == 0;
}

static int dump_unix_sockets(const char *engine_sock, struct usock **out, size_t *n_out)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req = {
	    .nlh = {.nlmsg_len = sizeof(req),
	            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
	            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
	    .r = {.sdiag_family = AF_UNIX,
	          .udiag_states = (uint32_t)-1,
	          .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER},
	};
	struct usock *v = NULL;
	size_t n = 0, cap = 0;
	int r = -1;
	size_t elen = strlen(engine_sock);

	if (fd < 0 || send(fd, &req, sizeof(req), 0) < 0) {
		bench_log("sock_diag: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		static char buf[1 << 16] __attribute__((aligned(8)));
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			bench_log("sock_diag recv: %s", strerror(errno));
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				r = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				bench_log("sock_diag: error reply");
				goto out;
			}
			struct unix_diag_msg *m = NLMSG_DATA(h);
			struct usock s = {.ino = m->udiag_ino};
			long alen = (long)h->nlmsg_len - (long)NLMSG_LENGTH(sizeof(*m));
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen);
			     a = RTA_NEXT(a, alen)) {
				if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= 4)
					memcpy(&s.peer, RTA_DATA(a), 4);
				else if (a->rta_type == UNIX_DIAG_NAME)
					s.is_engine =
					    name_is(RTA_DATA(a), RTA_PAYLOAD(a), engine_sock, elen);
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					bench_die("out of memory");
			}
			v[n++] = s;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		*out = v;
		*n_out = n;
	} else {
		free(v);
	}
	return r;
}

static const struct usock *find_sock(const struct usock *v, size_t n, uint32_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ino == ino)
			return &v[i];
	return NULL;
}

static long count_engine_conns(pid_t pid, const char *engine_sock)
{
	struct usock *v = NULL;
	size_t n = 0;
	char dir[64];
	long conns = 0;

	if (dump_unix_sockets(engine_sock, &v, &n) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	DIR *d = opendir(dir);
	if (!d) {
		free(v);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char link[512], target[128];
		unsigned long ino;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		ssize_t k = readlink(link, target, sizeof(target) - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		const struct usock *s = find_sock(v, n, (uint32_t)ino);
		const struct usock *peer = s && s->peer ? find_sock(v, n, s->peer) : NULL;
		if (peer && peer->is_engine)
			conns++;
	}
	closedir(d);
	free(v);
	return conns;
}

int proc_sample(pid_t pid, const char *engine_sock, struct proc_sample *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	out->threads = count_dir(path);
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	out->fds = count_dir(path);
	read_rss_kb(pid, &out->rss_kb, &out->rss_anon_kb, &out->rss_file_kb);
	out->cpu_ms = read_cpu_ms(pid);
	out->engine_conns = count_engine_conns(pid, engine_sock);
	if (out->threads < 0 || out->fds < 0 || out->rss_kb < 0 || out->engine_conns < 0) {
		bench_log("cannot read process %ld", (long)pid);
		return -1;
	}
	return 0;
}

void proc_sample_print(FILE *f, const struct proc_sample *s)
{
	fprintf(f,
	        "{\"threads\":%ld,\"fds\":%ld,\"engine_conns\":%ld,\"rss_kb\":%ld,"
	        "\"rss_anon_kb\":%ld,\"rss_file_kb\":%ld,\"cpu_ms\":%.0f}",
	        s->threads, s->fds, s->engine_conns, s->rss_kb, s->rss_anon_kb, s->rss_file_kb,
	        s->cpu_ms);
}
