/* itest.c — see itest.h. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "test_assert.h"

void itest_plugin_load(struct itest_plugin *p)
{
	p->dl = dlopen(DMS_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
	cr_assert(p->dl, "dlopen %s: %s", DMS_PLUGIN_PATH, dlerror());
	dms_executor_plugin_entry_fn entry =
	    (dms_executor_plugin_entry_fn)dlsym(p->dl, DMS_EXECUTOR_ENTRY_SYMBOL);
	cr_assert(entry, "dlsym %s: %s", DMS_EXECUTOR_ENTRY_SYMBOL, dlerror());
	p->desc = entry(DMS_EXECUTOR_ABI_MAJOR);
	cr_assert(p->desc, "the plugin refused ABI major %u", DMS_EXECUTOR_ABI_MAJOR);
	cr_assert_eq(p->desc->abi_major, DMS_EXECUTOR_ABI_MAJOR, "p->desc->abi_major = %lld",
	             (long long)(p->desc->abi_major));
	p->ops = p->desc->ops;
}

void itest_plugin_unload(struct itest_plugin *p)
{
	if (p->dl)
		dlclose(p->dl);
	p->dl = NULL;
}

const char *itest_engine(void)
{
	const char *e = getenv("DMS_ENGINE");
	return e && *e ? e : "docker";
}

bool itest_swarm(void)
{
	return strcmp(itest_engine(), "swarm") == 0;
}

const char *itest_engine_host(void)
{
	bool podman = strcmp(itest_engine(), "podman") == 0;
	const char *h = getenv(itest_swarm() ? "DMS_SWARM_HOST"
	                       : podman      ? "DMS_PODMAN_HOST"
	                                     : "DMS_DOCKER_HOST");
	if (h && *h)
		return h;
	if (itest_swarm())
		return "unix:///tmp/dms-run/swarm/n0/docker.sock";
	return podman ? "unix:///tmp/dms-run/podman.sock" : "unix:///tmp/dms-run/docker.sock";
}

const char *itest_image(void)
{
	const char *i = getenv("DMS_TEST_IMAGE");
	return i && *i ? i : "dms-test/busybox:latest";
}

char *itest_unique_id(const char *prefix)
{
	static int counter;
	char *id = NULL;
	assert_cmp(asprintf(&id, "%s-%d-%d-%ld", prefix, (int)getpid(),
	                    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
	                    (long)(time(NULL) % 100000)),
	           >, 0);
	return id;
}

char *itest_config(const char *extra)
{
	char *cfg = NULL;
	const char *state = getenv("DMS_STATE_DIR");
	cr_assert(asprintf(&cfg, "runtime: %s\nhost: %s\nstate_dir: %s\nstop_timeout: 2s\n%s",
	                   itest_engine(), itest_engine_host(),
	                   state && *state ? state : "/tmp/dms-itest-state",
	                   extra ? extra : "") > 0);
	return cfg;
}

/* JSON-escapes s into a malloc'd string (quotes included). */
static char *json_quote(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 6 + 3), *o = out;
	*o++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += sprintf(o, "\\u%04x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

char *itest_request(const char *execution_id, const char *script, const char *extra_params,
                    const char *extra_top)
{
	char *q = json_quote(script), *req = NULL;
	cr_assert(asprintf(&req,
	                   "{\"job_id\":\"job-%s\",\"execution_id\":\"%s\","
	                   "\"engine_spec\":{\"type\":\"docker\",\"params\":{\"image\":\"%s\","
	                   "\"entrypoint\":[\"/bin/sh\",\"-c\"],\"cmd\":[%s]%s%s}}%s%s}",
	                   execution_id, execution_id, itest_image(), q, extra_params ? "," : "",
	                   extra_params ? extra_params : "", extra_top ? "," : "",
	                   extra_top ? extra_top : "") > 0);
	free(q);
	return req;
}

yajl_val itest_json(const char *text)
{
	char errbuf[256];
	cr_assert(text, "no JSON text");
	yajl_val v = yajl_tree_parse(text, errbuf, sizeof(errbuf));
	cr_assert(v && YAJL_IS_OBJECT(v), "not a JSON object (%s): %s", errbuf, text);
	return v;
}

static yajl_val member(yajl_val root, const char *key)
{
	const char *path[] = {key, NULL};
	return yajl_tree_get(root, path, yajl_t_any);
}

long long itest_int(yajl_val root, const char *key)
{
	yajl_val v = member(root, key);
	cr_assert(v && YAJL_IS_INTEGER(v), "result member %s is not an integer", key);
	return YAJL_GET_INTEGER(v);
}

bool itest_bool(yajl_val root, const char *key)
{
	yajl_val v = member(root, key);
	cr_assert(v && (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)), "result member %s is not a bool",
	          key);
	return YAJL_IS_TRUE(v);
}

const char *itest_str(yajl_val root, const char *key)
{
	yajl_val v = member(root, key);
	cr_assert(v, "result has no member %s", key);
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

int64_t itest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long itest_read_all(int fd, char **out, int64_t deadline_ms)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int64_t end = itest_now_ms() + deadline_ms;
	for (;;) {
		int64_t left = end - itest_now_ms();
		if (left <= 0) {
			free(buf);
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (len + 65536 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n == 0)
			break;
		if (n < 0)
			continue;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return (long)len;
}

void itest_unframe(const char *data, long len, char **out, char **err)
{
	size_t olen = 0, elen = 0;
	*out = calloc(1, (size_t)len + 1);
	*err = calloc(1, (size_t)len + 1);
	for (long i = 0; i + 8 <= len;) {
		const unsigned char *h = (const unsigned char *)data + i;
		uint32_t n =
		    (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
		cr_assert(i + 8 + n <= len, "truncated frame at %ld", i);
		cr_assert(h[0] == 1 || h[0] == 2, "bad stream id %u at %ld", h[0], i);
		memcpy(h[0] == 1 ? *out + olen : *err + elen, data + i + 8, n);
		*(h[0] == 1 ? &olen : &elen) += n;
		i += 8 + n;
	}
}

char *itest_slurp(const char *dir, const char *name)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	cr_assert(f, "%s missing", path);
	char *buf = calloc(1, 4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

void itest_start_ok(const struct itest_plugin *p, dms_executor *ex, const char *exec_id,
                    const char *script, const char *extra_params, const char *extra_top)
{
	char *req = itest_request(exec_id, script, extra_params, extra_top);
	dms_error *err = NULL;
	int rc = p->ops->start(ex, NULL, req, &err);

	cr_assert_eq(rc, 0, "start %s: %d %s", exec_id, rc, err ? err->message : "");
	free(req);
}

char *itest_wait_ok(const struct itest_plugin *p, dms_executor *ex, const char *exec_id)
{
	char *res = NULL;
	dms_error *err = NULL;
	int rc = p->ops->wait(ex, NULL, exec_id, &res, &err);

	cr_assert_eq(rc, 0, "wait %s: %d %s", exec_id, rc, err ? err->message : "");
	return res;
}
