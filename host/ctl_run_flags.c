/* ctl_run_flags.c — `dmsctl run`'s flags, as docker run takes them
 * (ctl_run.h). One table, `flags`, says for each flag its short letter,
 * whether it takes a value, the request field it fills and the function
 * that checks and stores the value; the docker run flags the executor
 * cannot honour are in the same table without a function, with the
 * reason they are refused. The parser, the help and docs/cli.md all follow
 * the table.
 *
 * The syntax is docker's (pflag's): --flag=value and --flag value, -f value
 * and -fvalue, short booleans grouped (-td), --bool=true|false, repeated
 * flags accumulate, flags end at the first argument that is not one (the
 * image) or at "--". A flag the table does not know is refused as docker
 * refuses it ("unknown flag"); nothing is ignored. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl_cmd.h"
#include "ctl_run.h"
#include "jsonw.h"
#include "units.h"
#include "util.h"

struct run_flag;
/* Checks and stores value (a boolean flag's is "true" or "false"): 0, 1
 * for --help, or -1 after saying what is wrong. */
typedef int (*flag_set_fn)(struct run_opts *o, const struct run_flag *f, const char *value);

struct run_flag {
	const char *name;  /* the long name, without "--" */
	char letter;       /* the short name; 0: none */
	const char *arg;   /* the value's name in the help; NULL: a boolean */
	flag_set_fn set;   /* NULL: refused */
	size_t off;        /* set_bool's and set_string's member of struct run_opts */
	const char *field; /* the request field (a refused flag: why it is refused) */
	const char *help;
};

/* ----------------------------------------------------------- messages */

#define RUN_FAIL(...) (fprintf(stderr, "dmsctl run: " __VA_ARGS__), fputc('\n', stderr), -1)

static int bad_value(const struct run_flag *f, const char *value, const char *want)
{
	return RUN_FAIL("--%s: %s, got \"%s\"", f->name, want, value);
}

static int push(strv *v, size_t *n, char *s)
{
	if (!strv_push(v, n, s))
		return RUN_FAIL("out of memory");
	return 0;
}

/* ----------------------------------------------- plain values and lists */

#define OPT(field) offsetof(struct run_opts, field)

static int set_bool(struct run_opts *o, const struct run_flag *f, const char *value)
{
	*(bool *)((char *)o + f->off) = strcmp(value, "true") == 0;
	return 0;
}

static int set_string(struct run_opts *o, const struct run_flag *f, const char *value)
{
	if (!*value && f->off != OPT(entrypoint))
		return bad_value(f, value, "must not be empty");
	*(const char **)((char *)o + f->off) = value;
	return 0;
}

/* -e K=V, or -e K: K's value in dmsctl's environment, like docker (a K
 * that is not set there is left out). */
static int add_env(struct run_opts *o, const char *kv, const char *what)
{
	if (!*kv || *kv == '=')
		return RUN_FAIL("%s: wants K=V with a non-empty K, got \"%s\"", what, kv);
	if (strchr(kv, '='))
		return push(&o->env, &o->n_env, host_strdup(kv));
	const char *v = getenv(kv);
	return v ? push(&o->env, &o->n_env, host_asprintf("%s=%s", kv, v)) : 0;
}

static int set_env(struct run_opts *o, const struct run_flag *f, const char *value)
{
	(void)f;
	return add_env(o, value, "--env");
}

/* -l K=V or -l K (an empty value). The same key again replaces it. */
static int add_label(struct run_opts *o, const char *kv, const char *what)
{
	size_t klen = strcspn(kv, "=");

	if (klen == 0)
		return RUN_FAIL("%s: wants K=V with a non-empty K, got \"%s\"", what, kv);
	for (size_t i = 0; i < o->n_labels; i++)
		if (strncmp(o->labels[i], kv, klen) == 0 &&
		    (o->labels[i][klen] == '=' || !o->labels[i][klen])) {
			free(o->labels[i]);
			o->labels[i] = host_strdup(kv);
			return 0;
		}
	return push(&o->labels, &o->n_labels, host_strdup(kv));
}

static int set_label(struct run_opts *o, const struct run_flag *f, const char *value)
{
	(void)f;
	return add_label(o, value, "--label");
}

/* --env-file, --label-file: one K=V (or K) a line; blank lines and lines
 * starting with # are skipped, as docker does. */
static int set_file(struct run_opts *o, const struct run_flag *f, const char *value)
{
	_cleanup_free_ char *text = host_read_file(value, MAX_REQUEST_BYTES, NULL);
	_cleanup_free_ char *what = NULL;
	bool env = strcmp(f->name, "env-file") == 0;
	int line = 0;

	if (!text)
		return RUN_FAIL("--%s: %s: %s", f->name, value, strerror(errno));
	if (!ctl_utf8_ok(value, text))
		return -1;
	for (char *p = text, *nl; p && *p; p = nl) {
		line++;
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		p += strspn(p, " \t");
		size_t n = strlen(p);
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			p[--n] = '\0';
		if (!*p || *p == '#')
			continue;
		free(what);
		what = host_asprintf("--%s %s line %d", f->name, value, line);
		if ((env ? add_env(o, p, what) : add_label(o, p, what)) != 0)
			return -1;
	}
	return 0;
}

/* --cap-add, --cap-drop: the executor checks the names (a bad one is
 * reported with its index in the request). */
static int set_cap(struct run_opts *o, const struct run_flag *f, const char *value)
{
	if (!*value)
		return bad_value(f, value, "wants a capability name like NET_ADMIN");
	if (strcmp(f->name, "cap-add") == 0)
		return push(&o->cap_add, &o->n_cap_add, host_strdup(value));
	return push(&o->cap_drop, &o->n_cap_drop, host_strdup(value));
}

static int set_cpus(struct run_opts *o, const struct run_flag *f, const char *value)
{
	char *end;

	o->cpus = strtod(value, &end);
	if (end == value || *end || !isfinite(o->cpus) || o->cpus <= 0)
		return bad_value(f, value, "wants a number > 0");
	return 0;
}

static int set_memory(struct run_opts *o, const struct run_flag *f, const char *value)
{
	/* The request's and the config's reading of a size (docs/config.md,
	 * "Units"): 64m is 64 MiB, 64MB 64e6. */
	o->memory = units_parse_size(value);
	if (o->memory <= 0)
		return bad_value(f, value, "wants a size like 64m");
	return 0;
}

static int set_pids(struct run_opts *o, const struct run_flag *f, const char *value)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(value, &end, 10);
	if (end == value || *end || errno || n < -1)
		return bad_value(f, value, "wants a number of processes (-1 or 0: unlimited)");
	o->pids_limit = n > 0 ? n : 0; /* docker: 0 and -1 are unlimited */
	return 0;
}

/* A duration: docker's whole seconds, or the units parser's 1m30s. */
static int set_duration(struct run_opts *o, const struct run_flag *f, const char *value)
{
	int64_t ms = units_parse_duration_ms(value);

	if (ms < 0)
		return bad_value(f, value, "wants seconds or a duration like 10s or 1m30s");
	if (strcmp(f->name, "timeout") == 0)
		o->timeout_ms = ms;
	else
		o->stop_timeout_ms = ms;
	return 0;
}

static int set_signal(struct run_opts *o, const struct run_flag *f, const char *value)
{
	if (!units_parse_signal(value, o->stop_signal))
		return bad_value(f, value, "wants a signal name like SIGTERM or a number 1..64");
	return 0;
}

static int set_network(struct run_opts *o, const struct run_flag *f, const char *value)
{
	static const char *const modes[] = {"none", "bridge", "host", "isolated", "default"};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(value, modes[i]) == 0) {
			o->network = modes[i];
			return 0;
		}
	if (strncmp(value, "container:", 10) == 0)
		return RUN_FAIL("--%s: \"%s\": a job cannot join another container's network "
		                "namespace",
		                f->name, value);
	return RUN_FAIL("--%s: \"%s\": must be none, bridge, host, isolated (a network of the "
	                "job's own) or default; a job cannot join a named network",
	                f->name, value);
}

static int set_pull(struct run_opts *o, const struct run_flag *f, const char *value)
{
	if (strcmp(value, "always") == 0 || strcmp(value, "never") == 0)
		o->pull = strcmp(value, "always") == 0 ? "always" : "never";
	else if (strcmp(value, "missing") == 0 || strcmp(value, "if-not-present") == 0)
		o->pull = "if-not-present";
	else
		return bad_value(f, value, "must be always, missing or never");
	return 0;
}

/* A path as docker's CLI takes it: absolute, or relative to the current
 * directory ("./data", "."). Owned. */
static char *absolute(const char *path)
{
	char cwd[4096];

	if (path[0] == '/')
		return host_strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (strcmp(path, ".") == 0)
		return host_strdup(cwd);
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	return host_asprintf("%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
}

static int set_results_dir(struct run_opts *o, const struct run_flag *f, const char *value)
{
	if (!*value)
		return bad_value(f, value, "wants a directory");
	free(o->results_dir);
	if (!(o->results_dir = absolute(value)))
		return RUN_FAIL("--%s: %s: %s", f->name, value, strerror(errno));
	return 0;
}

/* ---------------------------------------------------------- mounts */

static int add_mount(struct run_opts *o, const char *flag, const char *src, const char *dst,
                     bool ro)
{
	if (src[0] != '/' && src[0] != '.')
		return RUN_FAIL("%s: \"%s\" is a named volume; named volumes need job groups, "
		                "which the executor does not have yet: bind a host path "
		                "(/abs/path or ./path)",
		                flag, src);
	if (!*dst)
		return RUN_FAIL("%s: the container path is empty", flag);
	struct run_mount *m = host_realloc(o->mounts, (o->n_mounts + 1) * sizeof(*m));
	o->mounts = m;
	m += o->n_mounts;
	if (!(m->source = absolute(src)))
		return RUN_FAIL("%s: %s: %s", flag, src, strerror(errno));
	m->target = host_strdup(dst);
	m->read_only = ro;
	o->n_mounts++;
	return 0;
}

/* -v SRC:DST[:OPTS], docker's (Linux) syntax; binds are read-write unless
 * :ro, like docker's. */
static int set_volume(struct run_opts *o, const struct run_flag *f, const char *value)
{
	_cleanup_free_ char *copy = host_strdup(value);
	char *dst = strchr(copy, ':');
	bool ro = false;

	if (!dst)
		return RUN_FAIL("--%s: \"%s\": an anonymous volume; only host binds "
		                "SRC:DST[:ro] are supported (named and anonymous volumes need job "
		                "groups)",
		                f->name, value);
	*dst++ = '\0';
	char *opts = strchr(dst, ':');
	if (opts) {
		char *save = NULL;
		*opts++ = '\0';
		for (char *opt = strtok_r(opts, ",", &save); opt;
		     opt = strtok_r(NULL, ",", &save)) {
			if (strcmp(opt, "ro") == 0 || strcmp(opt, "readonly") == 0)
				ro = true;
			else if (strcmp(opt, "rw") == 0)
				ro = false;
			else
				return RUN_FAIL(
				    "--%s: \"%s\": option \"%s\" is not supported (only ro "
				    "and rw)",
				    f->name, value, opt);
		}
	}
	if (!*copy)
		return bad_value(f, value, "wants SRC:DST[:ro]");
	return add_mount(o, "--volume", copy, dst, ro);
}

static bool bool_word(const char *v, bool *out)
{
	if (!*v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return *out = true, true;
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return *out = false, true;
	return false;
}

/* --mount type=bind,source=SRC,target=DST[,readonly]: docker's long form
 * of a bind. */
static int set_mount(struct run_opts *o, const struct run_flag *f, const char *value)
{
	_cleanup_free_ char *copy = host_strdup(value);
	const char *type = "volume", *src = NULL, *dst = NULL;
	bool ro = false;
	char *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (strcmp(kv, "type") == 0)
			type = v;
		else if (strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0)
			src = v;
		else if (strcmp(kv, "target") == 0 || strcmp(kv, "destination") == 0 ||
		         strcmp(kv, "dst") == 0)
			dst = v;
		else if ((strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0) &&
		         bool_word(v, &ro))
			;
		else
			return RUN_FAIL("--%s: \"%s\": \"%s\" is not supported (type=bind, source, "
			                "target, readonly)",
			                f->name, value, kv);
	}
	if (strcmp(type, "bind") != 0)
		return RUN_FAIL("--%s: \"%s\": type=%s is not supported: only type=bind (%s)",
		                f->name, value, type,
		                strcmp(type, "volume") == 0 ? "volumes need job groups"
		                                            : "host binds are the only mounts");
	if (!src || !dst)
		return bad_value(f, value, "wants type=bind,source=SRC,target=DST");
	return add_mount(o, "--mount", src, dst, ro);
}

/* ---------------------------------------------------------- ports */

static bool port_number(const char *s, size_t n, bool zero_ok, long *out)
{
	char buf[8];
	char *end;

	if (n == 0 && zero_ok)
		return *out = 0, true;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtol(buf, &end, 10);
	return *end == '\0' && buf[0] != '-' && buf[0] != '+' && *out >= (zero_ok ? 0 : 1) &&
	       *out <= 65535;
}

/* -p [IP:][HOST:]CONTAINER[/PROTO]; IPv6 addresses in brackets. */
static int set_publish(struct run_opts *o, const struct run_flag *f, const char *value)
{
	static const char *const protos[] = {"tcp", "udp", "sctp"};
	const char *want = "wants [IP:][HOST:]CONTAINER[/tcp|udp|sctp] with ports 1..65535";
	struct run_port p = {.protocol = "tcp"};
	_cleanup_free_ char *ip = NULL;
	const char *s = value, *slash = strrchr(value, '/');
	size_t len = slash ? (size_t)(slash - value) : strlen(value);

	if (slash) {
		p.protocol = NULL;
		for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strcmp(slash + 1, protos[i]) == 0)
				p.protocol = protos[i];
		if (!p.protocol)
			return bad_value(f, value, want);
	}
	if (memchr(s, '-', len))
		return RUN_FAIL("--%s: \"%s\": port ranges are not supported: one -p per port",
		                f->name, value);
	if (*s == '[') { /* [v6]:HOST:CONTAINER */
		const char *close = memchr(s, ']', len);
		if (!close || close[1] != ':')
			return bad_value(f, value, want);
		ip = host_strndup(s + 1, (size_t)(close - s - 1));
		len -= (size_t)(close + 2 - s);
		s = close + 2;
	}
	const char *last = s + len;
	const char *c2 = NULL, *c1 = NULL; /* the last and the one before */
	for (const char *q = s; q < last; q++)
		if (*q == ':')
			c1 = c2, c2 = q;
	if (ip && !c2)
		return bad_value(f, value, want);
	if (!ip && c1) {
		ip = host_strndup(s, (size_t)(c1 - s));
		s = c1 + 1;
	}
	const char *cport = c2 ? c2 + 1 : s;
	if (!port_number(cport, (size_t)(last - cport), false, &p.container_port) ||
	    (c2 && !port_number(s, (size_t)(c2 - s), true, &p.host_port)))
		return bad_value(f, value, want);
	if (ip && *ip) {
		unsigned char addr[16];
		if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
			return RUN_FAIL("--%s: \"%s\": \"%s\" is not an IP address", f->name, value,
			                ip);
		p.host_ip = ip;
		ip = NULL;
	}
	struct run_port *v = host_realloc(o->ports, (o->n_ports + 1) * sizeof(*v));
	o->ports = v;
	v[o->n_ports++] = p;
	return 0;
}

/* ---------------------------------------------------------- GPUs */

/* --gpus all | N | device=0,1 | count=N | driver=nvidia|amd|intel, as
 * docker's CSV (--gpus '"device=0,1",driver=nvidia'): after device= the
 * values without "=" are more ids. */
static int set_gpus(struct run_opts *o, const struct run_flag *f, const char *value)
{
	static const char *const vendors[] = {"nvidia", "amd", "intel"};
	const char *want =
	    "wants all, a count, device=ID[,ID...], count=N or driver=nvidia|amd|intel";
	_cleanup_free_ char *copy = host_strdup(value);
	bool in_devices = false;
	char *save = NULL;

	if (o->gpus)
		return RUN_FAIL("--%s: given twice (one --gpus takes every device: "
		                "device=0,1)",
		                f->name);
	o->gpus = true;
	o->gpu_vendor = "nvidia";
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(tok);
		if (*tok == '"') /* CSV quoting */
			tok++, n--;
		if (n && tok[n - 1] == '"')
			tok[--n] = '\0';
		char *end;
		long count;
		if (in_devices && *tok && !strchr(tok, '=')) {
			goto device_id;
		} else if (strcmp(tok, "all") == 0 || strcmp(tok, "count=all") == 0) {
			o->gpu_count = 0;
		} else if (strncmp(tok, "count=", 6) == 0 || (*tok >= '0' && *tok <= '9')) {
			const char *num = tok[0] == 'c' ? tok + 6 : tok;
			count = strtol(num, &end, 10);
			if (end == num || *end || count < 1 || count > 1024)
				return bad_value(f, value, want);
			o->gpu_count = count;
		} else if (strncmp(tok, "device=", 7) == 0) {
			in_devices = true;
			tok += 7;
			goto device_id;
		} else if (strncmp(tok, "driver=", 7) == 0) {
			o->gpu_vendor = NULL;
			for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
				if (strcmp(tok + 7, vendors[i]) == 0)
					o->gpu_vendor = vendors[i];
			if (!o->gpu_vendor)
				return bad_value(f, value, want);
		} else if (strncmp(tok, "capabilities=", 13) == 0) {
			if (strcmp(tok + 13, "gpu") != 0)
				return RUN_FAIL("--%s: \"%s\": only capabilities=gpu is supported",
				                f->name, value);
		} else {
			return bad_value(f, value, want);
		}
		continue;
	device_id:
		if (!*tok)
			return bad_value(f, value, want);
		if (push(&o->gpu_ids, &o->n_gpu_ids, host_strdup(tok)) != 0)
			return -1;
	}
	if (o->n_gpu_ids && o->gpu_count)
		return RUN_FAIL("--%s: \"%s\": a count and devices together", f->name, value);
	return 0;
}

static int set_help(struct run_opts *o, const struct run_flag *f, const char *value)
{
	(void)o, (void)f, (void)value;
	return 1;
}

/* ---------------------------------------------------------- the table */

#define REFUSED(n, l, why)                                                                         \
	{                                                                                          \
		n, l, NULL, NULL, 0, why, NULL                                                     \
	}

static const struct run_flag flags[] = {
    /* docker run's flags the executor honours */
    {"volume", 'v', "SRC:DST[:ro]", set_volume, 0, "inputs[]",
     "bind a host path (absolute or ./relative); read-write unless :ro"},
    {"mount", 0, "type=bind,src=S,dst=D[,ro]", set_mount, 0, "inputs[]",
     "the same, docker's long form (type=bind only)"},
    {"publish", 'p', "[IP:][HOST:]PORT[/PROTO]", set_publish, 0, "engine_spec.params.ports[]",
     "publish a port; no HOST or HOST 0: one the engine picks"},
    {"network", 0, "MODE", set_network, 0, "engine_spec.params.network_mode",
     "none, bridge, host, isolated (a network of the job's own) or default"},
    {"net", 0, "MODE", set_network, 0, "engine_spec.params.network_mode", "--network's old name"},
    {"user", 'u', "USER[:GROUP]", set_string, OPT(user), "engine_spec.params.user",
     "name or uid, with an optional group or gid"},
    {"entrypoint", 0, "CMD", set_string, OPT(entrypoint), "engine_spec.params.entrypoint",
     "replace the image's entrypoint (one word, like docker; \"\" clears it)"},
    {"env", 'e', "K=V", set_env, 0, "engine_spec.params.environment[]",
     "environment variable; a bare K takes K's value from here"},
    {"env-file", 0, "FILE", set_file, 0, "engine_spec.params.environment[]",
     "environment variables, one K=V a line (# comments)"},
    {"workdir", 'w', "DIR", set_string, OPT(workdir), "engine_spec.params.working_directory",
     "working directory in the container"},
    {"label", 'l', "K=V", set_label, 0, "engine_spec.params.labels",
     "container label (not org.dms.*)"},
    {"label-file", 0, "FILE", set_file, 0, "engine_spec.params.labels",
     "container labels, one K=V a line"},
    {"read-only", 0, NULL, set_bool, OPT(read_only), "engine_spec.params.read_only_rootfs",
     "read-only root filesystem"},
    {"cap-add", 0, "CAP", set_cap, 0, "engine_spec.params.cap_add[]",
     "add a capability (NET_ADMIN, CAP_NET_ADMIN, ALL)"},
    {"cap-drop", 0, "CAP", set_cap, 0, "engine_spec.params.cap_drop[]",
     "drop a capability (ALL: every one)"},
    {"stop-signal", 0, "SIGNAL", set_signal, 0, "engine_spec.params.stop_signal",
     "the signal Ctrl-C, dmsctl cancel and --timeout send first"},
    {"stop-timeout", 0, "SECONDS", set_duration, 0, "engine_spec.params.stop_timeout",
     "grace period before SIGKILL (also a duration: 1m30s)"},
    {"pull", 0, "POLICY", set_pull, 0, "engine_spec.params.pull_policy",
     "always, missing (default) or never"},
    {"tty", 't', NULL, set_bool, OPT(tty), "engine_spec.params.tty",
     "a TTY: output is one stream (stdout)"},
    {"cpus", 0, "N", set_cpus, 0, "resources.cpu.cores", "CPU cores (fractions allowed)"},
    {"cpuset-cpus", 0, "LIST", set_string, OPT(cpuset), "resources.cpu.cpuset",
     "the CPUs the job may use (0-1,3)"},
    {"memory", 'm', "SIZE", set_memory, 0, "resources.memory.size",
     "memory limit: bytes, k, m, g (binary, as docker), KiB.., kB.. (decimal)"},
    {"pids-limit", 0, "N", set_pids, 0, "resources.pids.limit",
     "at most N processes (-1, 0: unlimited)"},
    {"gpus", 0, "GPUS", set_gpus, 0, "resources.gpus[0]",
     "all, N, device=0,1, count=N, driver=nvidia|amd|intel (default nvidia)"},
    {"name", 0, "ID", set_string, OPT(name), "execution_id",
     "execution id (default: the executor's run-<time>-<random>)"},
    {"detach", 'd', NULL, set_bool, OPT(detach), "(dmsctl)",
     "start the job, print its execution id and exit"},
    {"quiet", 'q', NULL, set_bool, OPT(quiet), "(dmsctl)", "no pull progress"},
    {"rm", 0, NULL, set_bool, OPT(rm), "(dmsctl)",
     "accepted: containers belong to the executor, which removes them"},
    {"help", 0, NULL, set_help, 0, "(dmsctl)", "this help"},
    /* the executor's own */
    {"timeout", 0, "DURATION", set_duration, 0, "timeout",
     "cancel the job when it runs longer (10s, 1h)"},
    {"results-dir", 0, "DIR", set_results_dir, 0, "results_dir",
     "write stdout, stderr and exitCode files there"},
    /* docker run's flags the executor cannot honour: refused by name */
    REFUSED("add-host", 0, "the job's /etc/hosts is the engine's"),
    REFUSED("annotation", 0, "no OCI annotations in the request"),
    REFUSED("attach", 'a', "stdout and stderr are always both attached"),
    REFUSED("blkio-weight", 0, "no block I/O limits in the request"),
    REFUSED("blkio-weight-device", 0, "no block I/O limits in the request"),
    REFUSED("cgroup-parent", 0, "the engine places the job's cgroup"),
    REFUSED("cgroupns", 0, "the engine's cgroup namespace mode is used"),
    REFUSED("cidfile", 0, "the execution id names the container"),
    REFUSED("cpu-count", 0, "Windows only; use --cpus"),
    REFUSED("cpu-percent", 0, "Windows only; use --cpus"),
    REFUSED("cpu-period", 0, "use --cpus (a CFS quota over 100 ms)"),
    REFUSED("cpu-quota", 0, "use --cpus (a CFS quota over 100 ms)"),
    REFUSED("cpu-rt-period", 0, "no real-time scheduling for jobs"),
    REFUSED("cpu-rt-runtime", 0, "no real-time scheduling for jobs"),
    REFUSED("cpu-shares", 'c', "no relative CPU weights; use --cpus"),
    REFUSED("cpuset-mems", 0, "no NUMA placement in the request"),
    REFUSED("detach-keys", 0, "jobs have no stdin to detach from"),
    REFUSED("device", 0, "no device nodes but GPUs (--gpus)"),
    REFUSED("device-cgroup-rule", 0, "no device nodes but GPUs (--gpus)"),
    REFUSED("device-read-bps", 0, "no block I/O limits in the request"),
    REFUSED("device-read-iops", 0, "no block I/O limits in the request"),
    REFUSED("device-write-bps", 0, "no block I/O limits in the request"),
    REFUSED("device-write-iops", 0, "no block I/O limits in the request"),
    REFUSED("disable-content-trust", 0, "the executor pulls as the engine does"),
    REFUSED("dns", 0, "the job's DNS is the engine's"),
    REFUSED("dns-option", 0, "the job's DNS is the engine's"),
    REFUSED("dns-search", 0, "the job's DNS is the engine's"),
    REFUSED("domainname", 0, "the engine names the container's host"),
    REFUSED("expose", 0, "use -p to publish a port"),
    REFUSED("group-add", 0, "no supplementary groups; use -u USER:GROUP"),
    REFUSED("health-cmd", 0, "jobs have no health checks"),
    REFUSED("health-interval", 0, "jobs have no health checks"),
    REFUSED("health-retries", 0, "jobs have no health checks"),
    REFUSED("health-start-interval", 0, "jobs have no health checks"),
    REFUSED("health-start-period", 0, "jobs have no health checks"),
    REFUSED("health-timeout", 0, "jobs have no health checks"),
    REFUSED("hostname", 'h', "the engine names the host (-h is not help)"),
    REFUSED("init", 0, "no init process is injected"),
    REFUSED("interactive", 'i', "jobs have no stdin: dmsctl run cannot feed one"),
    REFUSED("io-maxbandwidth", 0, "Windows only"),
    REFUSED("io-maxiops", 0, "Windows only"),
    REFUSED("ip", 0, "the engine assigns addresses"),
    REFUSED("ip6", 0, "the engine assigns addresses"),
    REFUSED("ipc", 0, "a job's IPC namespace is its own"),
    REFUSED("isolation", 0, "Windows only"),
    REFUSED("kernel-memory", 0, "deprecated by docker; use --memory"),
    REFUSED("link", 0, "a job cannot join other containers"),
    REFUSED("link-local-ip", 0, "the engine assigns addresses"),
    REFUSED("log-driver", 0, "the executor captures the output itself"),
    REFUSED("log-opt", 0, "the executor captures the output itself"),
    REFUSED("mac-address", 0, "the engine assigns addresses"),
    REFUSED("memory-reservation", 0, "only a hard limit: --memory"),
    REFUSED("memory-swap", 0, "a job gets no swap beyond --memory"),
    REFUSED("memory-swappiness", 0, "a job gets no swap beyond --memory"),
    REFUSED("network-alias", 0, "a job cannot join a named network"),
    REFUSED("net-alias", 0, "a job cannot join a named network"),
    REFUSED("no-healthcheck", 0, "jobs have no health checks"),
    REFUSED("oom-kill-disable", 0, "a job over --memory is killed (oom_killed)"),
    REFUSED("oom-score-adj", 0, "no OOM score in the request"),
    REFUSED("pid", 0, "a job's PID namespace is its own"),
    REFUSED("platform", 0, "images run on the engine's platform"),
    REFUSED("privileged", 0, "no privileged containers; use --cap-add"),
    REFUSED("publish-all", 'P', "publish each port with -p"),
    REFUSED("restart", 0, "the executor owns the job's life: it runs once"),
    REFUSED("runtime", 0, "the engine's default OCI runtime is used"),
    REFUSED("security-opt", 0, "no-new-privileges is set; no other options"),
    REFUSED("shm-size", 0, "no /dev/shm size in the request"),
    REFUSED("sig-proxy", 0, "Ctrl-C cancels the job (stop signal, SIGKILL)"),
    REFUSED("storage-opt", 0, "no storage options in the request"),
    REFUSED("sysctl", 0, "no sysctls in the request"),
    REFUSED("tmpfs", 0, "host binds are the only mounts"),
    REFUSED("ulimit", 0, "no ulimits in the request; use --pids-limit"),
    REFUSED("userns", 0, "the engine's user namespace mode is used"),
    REFUSED("uts", 0, "a job's UTS namespace is its own"),
    REFUSED("volume-driver", 0, "host binds are the only mounts"),
    REFUSED("volumes-from", 0, "a job cannot share other containers' mounts"),
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static const struct run_flag *flag_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static const struct run_flag *flag_by_letter(char c)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (flags[i].letter == c)
			return &flags[i];
	return NULL;
}

/* "-v, --volume SRC:DST[:ro]" */
static void flag_head(char *buf, size_t n, const struct run_flag *r, bool with_arg)
{
	snprintf(buf, n, "%c%c%s--%s%s%s", r->letter ? '-' : ' ', r->letter ? r->letter : ' ',
	         r->letter ? ", " : "  ", r->name, with_arg && r->arg ? " " : "",
	         with_arg && r->arg ? r->arg : "");
}

void run_flags_help(FILE *f)
{
	char head[96];

	fprintf(f, "\nFlags (-> the request field each fills):\n");
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct run_flag *r = &flags[i];
		if (!r->set)
			continue;
		flag_head(head, sizeof(head), r, true);
		if (r->field[0] == '(')
			fprintf(f, "  %s\n", head);
		else
			fprintf(f, "  %-34s -> %s\n", head, r->field);
		fprintf(f, "        %s\n", r->help);
	}
	fprintf(f, "\ndocker run's flags that the executor cannot honour, refused by name:\n");
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct run_flag *r = &flags[i];
		if (r->set)
			continue;
		flag_head(head, sizeof(head), r, false);
		fprintf(f, "  %-29s %s\n", head, r->field);
	}
}

/* ---------------------------------------------------------- parsing */

static int apply(struct run_opts *o, const struct run_flag *f, const char *value)
{
	int rc;

	if (!f->set)
		return RUN_FAIL("--%s is not supported: %s", f->name, f->field);
	if (!f->arg) {
		bool b = true;
		if (value && !bool_word(value, &b))
			return bad_value(f, value, "is a boolean: true or false");
		value = b ? "true" : "false";
	}
	rc = f->set(o, f, value);
	return rc;
}

static int usage_error(void)
{
	fprintf(stderr, "See 'dmsctl run --help'.\n");
	return 2;
}

int run_opts_parse(struct run_opts *o, int argc, char **argv)
{
	int i = 1, rc = 0;

	o->stop_timeout_ms = -1;
	o->timeout_ms = -1;
	while (i < argc && rc == 0) {
		const char *a = argv[i++];
		const struct run_flag *f;

		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-' || a[1] == '\0') { /* the image */
			i--;
			break;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			if (!(f = flag_by_name(name, len))) {
				fprintf(stderr, "dmsctl run: unknown flag: --%.*s\n", (int)len,
				        name);
				return usage_error();
			}
			const char *value = eq ? eq + 1 : NULL;
			if (f->set && f->arg && !value) {
				if (i >= argc) {
					fprintf(stderr,
					        "dmsctl run: flag needs an argument: --%s\n",
					        f->name);
					return usage_error();
				}
				value = argv[i++];
			}
			rc = apply(o, f, value);
			continue;
		}
		/* -abc: booleans, until one that takes a value (the rest, or the
		 * next argument). */
		for (const char *c = a + 1; *c && rc == 0; c++) {
			if (!(f = flag_by_letter(*c))) {
				fprintf(stderr, "dmsctl run: unknown shorthand flag: '%c' in %s\n",
				        *c, a);
				return usage_error();
			}
			if (!f->set || !f->arg) {
				rc = apply(o, f, NULL);
				continue;
			}
			const char *value = c[1] == '=' ? c + 2 : c[1] ? c + 1 : NULL;
			if (!value) {
				if (i >= argc) {
					fprintf(stderr,
					        "dmsctl run: flag needs an argument: '%c' in -%c\n",
					        *c, *c);
					return usage_error();
				}
				value = argv[i++];
			}
			rc = apply(o, f, value);
			break;
		}
	}
	if (rc == 1) {
		ctl_command_help("run", stdout, 0);
		return 0;
	}
	if (rc != 0)
		return usage_error();
	if (i >= argc) {
		fprintf(stderr, "dmsctl run: IMAGE is required\n");
		return usage_error();
	}
	o->image = argv[i++];
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	o->cmd = argv + i;
	return -1;
}

void run_opts_free(struct run_opts *o)
{
	strv_free(o->env);
	strv_free(o->labels);
	strv_free(o->cap_add);
	strv_free(o->cap_drop);
	strv_free(o->gpu_ids);
	for (size_t i = 0; i < o->n_mounts; i++) {
		free(o->mounts[i].source);
		free(o->mounts[i].target);
	}
	free(o->mounts);
	for (size_t i = 0; i < o->n_ports; i++)
		free(o->ports[i].host_ip);
	free(o->ports);
	free(o->results_dir);
}

/* ---------------------------------------------------------- the request */

static void write_params(struct jw *w, const struct run_opts *o)
{
	jw_key_str(w, "image", o->image);
	if (o->entrypoint) {
		jw_key(w, "entrypoint");
		jw_array_open(w);
		if (*o->entrypoint)
			jw_str(w, o->entrypoint);
		jw_array_close(w);
	}
	if (o->cmd[0])
		jw_key_strv(w, "cmd", o->cmd);
	jw_key_strv(w, "environment", o->env);
	jw_key_str(w, "working_directory", o->workdir);
	jw_key_str(w, "user", o->user);
	if (o->labels)
		jw_key_labels(w, "labels", o->labels);
	jw_key_str(w, "network_mode", o->network);
	if (o->n_ports) {
		jw_key(w, "ports");
		jw_array_open(w);
		for (size_t i = 0; i < o->n_ports; i++) {
			jw_map_open(w);
			jw_key_int(w, "container_port", o->ports[i].container_port);
			jw_key_int(w, "host_port", o->ports[i].host_port);
			jw_key_str(w, "protocol", o->ports[i].protocol);
			jw_key_str(w, "host_ip", o->ports[i].host_ip);
			jw_map_close(w);
		}
		jw_array_close(w);
	}
	if (o->read_only)
		jw_key_bool(w, "read_only_rootfs", true);
	jw_key_strv(w, "cap_add", o->cap_add);
	jw_key_strv(w, "cap_drop", o->cap_drop);
	if (o->stop_signal[0])
		jw_key_str(w, "stop_signal", o->stop_signal);
	if (o->stop_timeout_ms >= 0) {
		jw_key(w, "stop_timeout");
		jw_double(w, (double)o->stop_timeout_ms / 1000.0);
	}
	jw_key_str(w, "pull_policy", o->pull);
	if (o->tty)
		jw_key_bool(w, "tty", true);
}

static void write_resources(struct jw *w, const struct run_opts *o)
{
	if (!(o->cpus > 0 || o->cpuset || o->memory > 0 || o->pids_limit > 0 || o->gpus))
		return;
	jw_key(w, "resources");
	jw_map_open(w);
	if (o->cpus > 0 || o->cpuset) {
		jw_key(w, "cpu");
		jw_map_open(w);
		if (o->cpus > 0) {
			jw_key(w, "cores");
			jw_double(w, o->cpus);
		}
		jw_key_str(w, "cpuset", o->cpuset);
		jw_map_close(w);
	}
	if (o->memory > 0) {
		jw_key(w, "memory");
		jw_map_open(w);
		jw_key_int(w, "size", o->memory);
		jw_map_close(w);
	}
	if (o->pids_limit > 0) {
		jw_key(w, "pids");
		jw_map_open(w);
		jw_key_int(w, "limit", o->pids_limit);
		jw_map_close(w);
	}
	if (o->gpus) {
		jw_key(w, "gpus");
		jw_array_open(w);
		jw_map_open(w);
		jw_key_str(w, "vendor", o->gpu_vendor);
		jw_key_strv(w, "ids", o->gpu_ids);
		if (o->gpu_count > 0)
			jw_key_int(w, "count", o->gpu_count);
		jw_map_close(w);
		jw_array_close(w);
	}
	jw_map_close(w);
}

char *run_request_build(const struct run_opts *o)
{
	struct jw w;

	if (jw_init(&w) != 0)
		return NULL;
	jw_map_open(&w);
	jw_key_str(&w, "job_id", o->name ? o->name : "dmsctl-run");
	jw_key_str(&w, "execution_id", o->name);
	jw_key(&w, "engine_spec");
	jw_map_open(&w);
	jw_key_str(&w, "type", "docker");
	jw_key(&w, "params");
	jw_map_open(&w);
	write_params(&w, o);
	jw_map_close(&w);
	jw_map_close(&w);
	write_resources(&w, o);
	if (o->n_mounts) {
		jw_key(&w, "inputs");
		jw_array_open(&w);
		for (size_t i = 0; i < o->n_mounts; i++) {
			jw_map_open(&w);
			jw_key_str(&w, "type", "bind");
			jw_key_str(&w, "source", o->mounts[i].source);
			jw_key_str(&w, "target", o->mounts[i].target);
			jw_key_bool(&w, "read_only", o->mounts[i].read_only);
			jw_map_close(&w);
		}
		jw_array_close(&w);
	}
	jw_key_str(&w, "results_dir", o->results_dir);
	if (o->timeout_ms >= 0) {
		jw_key(&w, "timeout");
		jw_double(&w, (double)o->timeout_ms / 1000.0);
	}
	jw_map_close(&w);
	return jw_steal(&w);
}
