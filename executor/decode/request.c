/* request.c — decodes the DMS execution request (request.h,
 * docs/schema.md).
 *
 * Every request reaches the executor as untrusted text (over the plugin ABI
 * or D-Bus); this file is the one place that turns it into a struct whose
 * every field has been checked, so nothing downstream validates again. The
 * text becomes a document tree (doc.h: JSON or YAML, same limits, same
 * messages); the request's key tables below are walked by the shared
 * walker and setters (fields.h), with the request's own setters for what
 * only a request has (labels, capabilities, cpusets, GPUs, ports), and the
 * checks across fields come last. */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "cleanup.h"
#include "doc.h"
#include "error.h"
#include "fields.h"
#include "labels.h"
#include "request.h"
#include "runtime_names.h"

#define ID_MAX_LEN 128
#define MEMORY_MIN_BYTES INT64_C(6291456) /* Docker refuses less than 6 MiB */
#define CPU_CORES_MAX 1e6

#define ABS_PATH FIELD_PATH_RULE(PATH_ABSOLUTE | PATH_NO_DOTDOT)
#define MOUNT_TARGET FIELD_PATH_RULE(PATH_ABSOLUTE | PATH_NOT_ROOT | PATH_NO_DOTDOT)
#define HOST_SOURCE FIELD_PATH_RULE(PATH_ABSOLUTE | PATH_EXISTS | PATH_NO_DOTDOT)
#define REL_NAME FIELD_PATH_RULE(PATH_RELATIVE | PATH_NO_DOTDOT)

/* --- the request's own setters --------------------------------------- */

/* "default" is the engine's choice: NULL in the struct. */
static int set_network_mode(struct doc_ctx *c, const struct node *n, void *dst,
                            const struct field *f)
{
	int i, rc;

	if ((rc = field_pick_choice(c, n, f->arg, &i)))
		return rc;
	if (strcmp(n->text, "default") == 0) {
		free(*(char **)dst);
		*(char **)dst = NULL;
		return 0;
	}
	return field_store_string(c, n->text, dst);
}

typedef int (*strv_rule)(struct doc_ctx *c, const struct node *el);

static int env_rule(struct doc_ctx *c, const struct node *el)
{
	const char *eq = strchr(el->text, '=');

	if (!eq || eq == el->text)
		return doc_fail_at(c, el, "must be \"KEY=VALUE\" with a non-empty KEY, got %s",
		                   NODE_REPR(el));
	return 0;
}

/* A Swarm placement constraint: "<attribute> == <value>" or "!=", the
 * attribute one the scheduler knows (node.id, node.hostname, node.role,
 * node.platform.os, node.platform.arch, node.labels.<k>, engine.labels.<k>). */
static int constraint_rule(struct doc_ctx *c, const struct node *el)
{
	static const char *const attrs[] = {"node.id",          "node.hostname",      "node.role",
	                                    "node.platform.os", "node.platform.arch", NULL};
	static const char *const prefixes[] = {"node.labels.", "engine.labels.", NULL};
	const char *s = el->text, *op = strstr(s, "=="), *ne = strstr(s, "!=");
	size_t klen;
	bool known = false;

	if (!op || (ne && ne < op))
		op = ne;
	if (!op)
		return doc_fail_at(c, el, "must be \"<attribute>==<value>\" or \"!=\", got %s",
		                   NODE_REPR(el));
	while (*s == ' ')
		s++;
	klen = (size_t)(op - s);
	while (klen > 0 && s[klen - 1] == ' ')
		klen--;
	const char *v = op + 2;
	while (*v == ' ')
		v++;
	if (!*v)
		return doc_fail_at(c, el, "has no value after \"%.2s\", got %s", op, NODE_REPR(el));
	for (size_t i = 0; attrs[i] && !known; i++)
		known = strlen(attrs[i]) == klen && strncmp(s, attrs[i], klen) == 0;
	for (size_t i = 0; prefixes[i] && !known; i++)
		known = klen > strlen(prefixes[i]) && strncmp(s, prefixes[i], strlen(prefixes[i])) == 0;
	if (!known)
		return doc_fail_at(c, el,
		                   "attribute must be node.id, node.hostname, node.role, "
		                   "node.platform.os, node.platform.arch, node.labels.<key> or "
		                   "engine.labels.<key>, got %s",
		                   NODE_REPR(el));
	return 0;
}

/* {"k": "v"} -> "k=v"; the org.dms. namespace is the executor's own. */
static int set_labels(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	strv v;

	(void)f;
	if (n->kind != NODE_OBJECT)
		return doc_fail_type(c, n, "an object of strings");
	if (!(v = calloc(n->n + 1, sizeof(*v))))
		return doc_fail_oom(c);
	strv_free(*(strv *)dst);
	*(strv *)dst = v;
	for (size_t i = 0; i < n->n; i++) {
		const struct node *key = n->keys[i], *val = n->items[i];
		size_t saved = doc_path_push_key(c, key->text);

		if (!key->text[0] || strchr(key->text, '='))
			return doc_fail_at(c, key, "label keys must be non-empty and without '='");
		if (strncmp(key->text, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0)
			return doc_fail_at(c, key,
			                   "the \"%s\" label prefix is reserved for the executor",
			                   LABEL_PREFIX);
		if (val->kind != NODE_STRING)
			return doc_fail_type(c, val, "a string");
		if (asprintf(&v[i], "%s=%s", key->text, val->text) < 0) {
			v[i] = NULL;
			return doc_fail_oom(c);
		}
		doc_path_pop(c, saved);
	}
	return 0;
}

static int set_cores(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	(void)f;
	if (n->kind != NODE_NUMBER)
		return doc_fail_type(c, n, "a number");
	if (!(n->number > 0 && n->number <= CPU_CORES_MAX))
		return doc_fail_at(c, n, "must be a number > 0 and <= %.0f, got %s", CPU_CORES_MAX,
		                   NODE_REPR(n));
	*(double *)dst = n->number;
	return 0;
}

/* Bytes as an integer, or a size string ("64MiB", "512k"). */
static int set_memory(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	(void)f;
	return field_size_of(c, n, MEMORY_MIN_BYTES, (int64_t *)dst);
}

/* Known Linux capabilities (capability.h, up to 5.x/6.x): a misspelt name
 * is caught here with the field's path instead of by the engine at create. */
static const char *const capabilities[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
    NULL,
};

/* cap_add / cap_drop element: "ALL", or a capability with or without the
 * CAP_ prefix, any case; rewritten in place to "CAP_X" / "ALL" (the form
 * both engines report back in inspect). */
static int capability_rule(struct doc_ctx *c, const struct node *el)
{
	const char *name = el->text;
	char upper[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)toupper((unsigned char)name[i]);
	upper[i] = '\0';
	if (name[i])
		goto bad;
	if (strcmp(upper, "ALL") == 0)
		return 0;
	name = strncmp(upper, "CAP_", 4) == 0 ? upper + 4 : upper;
	for (const char *const *k = capabilities; *k; k++)
		if (strcmp(*k, name) == 0)
			return 0;
bad:
	return doc_fail_at(c, el,
	                   "must be a capability name like \"NET_ADMIN\" or \"CAP_NET_ADMIN\", "
	                   "or \"ALL\"; got %s",
	                   NODE_REPR(el));
}

static int normalize_capabilities(struct doc_ctx *c, strv v)
{
	for (size_t i = 0; v && v[i]; i++) {
		char *p = v[i], *norm = NULL;

		for (char *q = p; *q; q++)
			*q = (char)toupper((unsigned char)*q);
		if (strcmp(p, "ALL") == 0 || strncmp(p, "CAP_", 4) == 0)
			continue;
		if (asprintf(&norm, "CAP_%s", p) < 0)
			return doc_fail_oom(c);
		free(p);
		v[i] = norm;
	}
	return 0;
}

static int set_capabilities(struct doc_ctx *c, const struct node *n, void *dst,
                            const struct field *f)
{
	int rc = field_strv(c, n, dst, f);

	return rc ? rc : normalize_capabilities(c, *(strv *)dst);
}

/* The CPUs this host has, for cpuset checks: the engines run here (the
 * executor talks to local sockets), so the host's count is theirs. */
static long host_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? n : 1;
}

/* "0-1,3": comma-separated CPU numbers and ranges, as cpuset.cpus takes. */
static int set_cpuset(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	long ncpu = host_cpu_count();
	const char *p;
	int rc;

	(void)f;
	if ((rc = field_want_string(c, n)))
		return rc;
	p = n->text;
	if (!*p)
		return doc_fail_at(c, n, "must not be empty");
	for (;;) {
		char *end;
		long lo, hi;

		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		lo = hi = strtol(p, &end, 10);
		if (errno)
			goto bad;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			hi = strtol(p, &end, 10);
			if (errno || hi < lo)
				goto bad;
			p = end;
		}
		if (hi >= ncpu)
			return doc_fail_at(c, n,
			                   "CPU %ld does not exist on this host (it has %ld CPUs, "
			                   "0-%ld), got %s",
			                   hi, ncpu, ncpu - 1, NODE_REPR(n));
		if (*p == '\0')
			break;
		if (*p++ != ',')
			goto bad;
	}
	return field_store_string(c, n->text, dst);
bad:
	return doc_fail_at(c, n,
	                   "must be a CPU list like \"0-1,3\" (numbers and ranges, "
	                   "comma-separated), got %s",
	                   NODE_REPR(n));
}

static const char *const gpu_vendors[] = {"nvidia", "amd", "intel", NULL};

static int set_gpu_vendor(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int i, rc;

	if ((rc = field_pick_choice(c, n, f->arg, &i)))
		return rc;
	*(enum gpu_vendor *)dst = (enum gpu_vendor)i;
	return 0;
}

/* A GPU index: the decimal number the vendor's tools show (nvidia-smi,
 * rocm-smi), or for nvidia a UUID ("GPU-..."), which Docker accepts too. */
static int gpu_id_rule(struct doc_ctx *c, const struct node *el)
{
	const char *s = el->text;

	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 4)
		return 0;
	if (strncmp(s, "GPU-", 4) == 0 && strlen(s) < 64 &&
	    strspn(s + 4, "0123456789abcdefABCDEF-") == strlen(s + 4) && s[4])
		return 0;
	return doc_fail_at(c, el,
	                   "must be a GPU index like \"0\" (or an NVIDIA UUID \"GPU-...\"), "
	                   "got %s",
	                   NODE_REPR(el));
}

static int check_gpu(struct doc_ctx *c, const struct node *n, void *elem)
{
	struct gpu_spec *g = elem;
	size_t saved;

	if (g->ids && g->count) {
		saved = doc_path_push_key(c, "count");
		return doc_fail_at(c, n, "give either ids or count, not both");
	}
	if (g->ids && !g->ids[0]) {
		saved = doc_path_push_key(c, "ids");
		return doc_fail_at(c, n, "must not be empty (leave it out for all GPUs)");
	}
	if (g->vendor != GPU_NVIDIA) {
		if (g->count) {
			saved = doc_path_push_key(c, "count");
			return doc_fail_at(c, n, "is only supported for nvidia; give ids for %s",
			                   gpu_vendors[g->vendor]);
		}
		for (size_t i = 0; g->ids && g->ids[i]; i++) {
			if (strncmp(g->ids[i], "GPU-", 4) == 0) {
				saved = doc_path_push_key(c, "ids");
				doc_path_push_index(c, i);
				return doc_fail_at(
				    c, n, "UUIDs are only supported for nvidia, got \"%s\"",
				    g->ids[i]);
			}
		}
	}
	(void)saved;
	return 0;
}

static void port_init(void *elem)
{
	((struct port_spec *)elem)->container_port = 0;
}

/* host_ip: an IPv4 or IPv6 address (no brackets). */
static int set_ip(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int rc;

	(void)f;
	if ((rc = field_want_string(c, n)))
		return rc;
	if (inet_pton(AF_INET, n->text, buf) != 1 && inet_pton(AF_INET6, n->text, buf) != 1)
		return doc_fail_at(c, n, "must be an IPv4 or IPv6 address, got %s", NODE_REPR(n));
	return field_store_string(c, n->text, dst);
}

/* arg: the smallest port allowed (0 for host_port: ephemeral). */
static int set_port(struct doc_ctx *c, const struct node *n, void *dst, const struct field *f)
{
	int64_t min = (int64_t)(intptr_t)f->arg;

	if (n->kind != NODE_NUMBER)
		return doc_fail_type(c, n, "an integer");
	if (!n->is_int || n->integer < min || n->integer > 65535)
		return doc_fail_at(c, n, "must be a port number %" PRId64 "..65535, got %s", min,
		                   NODE_REPR(n));
	*(int64_t *)dst = n->integer;
	return 0;
}

static int check_port(struct doc_ctx *c, const struct node *n, void *elem)
{
	struct port_spec *p = elem;

	(void)n;
	if (!p->protocol && !(p->protocol = strdup("tcp")))
		return doc_fail_oom(c);
	return 0;
}

/* --- the key tables --------------------------------------------------- */

#define R(field) offsetof(struct exec_request, field)
#define M(field) offsetof(struct mount_spec, field)

static const char *const engine_types[] = {"docker", "podman", NULL};
static const char *const network_modes[] = {"none", "bridge", "host", "isolated", "default", NULL};
static const char *const protocols[] = {"tcp", "udp", "sctp", NULL};
static const char *const pull_policies[] = {"if-not-present", "always", "never", NULL};
static const char *const mount_types[] = {"bind", NULL};

#define P(field) offsetof(struct port_spec, field)
#define G(field) offsetof(struct gpu_spec, field)

static const struct field port_fields[] = {
    {"host_ip", set_ip, P(host_ip), false, NULL},
    {"host_port", set_port, P(host_port), false, (const void *)(intptr_t)0},
    {"container_port", set_port, P(container_port), true, (const void *)(intptr_t)1},
    {"protocol", field_choice, P(protocol), false, protocols},
    {NULL, NULL, 0, false, NULL},
};

static const struct field_list ports_list = {port_fields, sizeof(struct port_spec), R(n_ports),
                                             port_init, check_port};

static const struct field gpu_fields[] = {
    {"vendor", set_gpu_vendor, G(vendor), true, gpu_vendors},
    {"ids", field_strv, G(ids), false, (const void *)gpu_id_rule},
    {"count", field_int_min, G(count), false, (const void *)(intptr_t)1},
    {NULL, NULL, 0, false, NULL},
};

static const struct field_list gpus_list = {gpu_fields, sizeof(struct gpu_spec), R(n_gpus), NULL,
                                            check_gpu};

static const struct field placement_fields[] = {
    {"constraints", field_strv, R(placement_constraints), false, (const void *)constraint_rule},
    {NULL, NULL, 0, false, NULL},
};

static const struct field params_fields[] = {
    {"image", field_string, R(image), true, NULL},
    {"entrypoint", field_strv, R(entrypoint), false, NULL},
    {"cmd", field_strv, R(cmd), false, NULL},
    {"environment", field_strv, R(environment), false, (const void *)env_rule},
    {"working_directory", field_path, R(working_directory), false, ABS_PATH},
    {"user", field_string, R(user), false, NULL},
    {"labels", set_labels, R(labels), false, NULL},
    {"network_mode", set_network_mode, R(network_mode), false, network_modes},
    {"stop_signal", field_signal, R(stop_signal), false, NULL},
    {"stop_timeout", field_duration, R(stop_timeout_ms), false, NULL},
    {"pull_policy", field_choice, R(pull_policy), false, pull_policies},
    {"tty", field_bool, R(tty), false, NULL},
    {"read_only_rootfs", field_bool, R(read_only_rootfs), false, NULL},
    {"cap_add", set_capabilities, R(cap_add), false, (const void *)capability_rule},
    {"cap_drop", set_capabilities, R(cap_drop), false, (const void *)capability_rule},
    {"no_new_privileges", field_bool, R(no_new_privileges), false, NULL},
    {"ports", field_object_list, R(ports), false, &ports_list},
    {"placement", field_object, 0, false, placement_fields},
    {NULL, NULL, 0, false, NULL},
};

static const struct field engine_spec_fields[] = {
    {"type", field_choice, R(engine_type), true, engine_types},
    {"params", field_object, 0, true, params_fields},
    {NULL, NULL, 0, false, NULL},
};

static const struct field cpu_fields[] = {
    {"cores", set_cores, R(cpu_cores), false, NULL},
    {"cpuset", set_cpuset, R(cpuset_cpus), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static const struct field memory_fields[] = {
    {"size", set_memory, R(memory_bytes), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

static const struct field pids_fields[] = {
    {"limit", field_int_min, R(pids_limit), false, (const void *)(intptr_t)1},
    {NULL, NULL, 0, false, NULL},
};

static const struct field resources_fields[] = {
    {"cpu", field_object, 0, false, cpu_fields},
    {"memory", field_object, 0, false, memory_fields},
    {"pids", field_object, 0, false, pids_fields},
    {"gpus", field_object_list, R(gpus), false, &gpus_list},
    {NULL, NULL, 0, false, NULL},
};

static const struct field input_fields[] = {
    {"type", field_choice, M(type), false, mount_types},
    {"source", field_path, M(source), true, HOST_SOURCE},
    {"target", field_path, M(target), true, MOUNT_TARGET},
    {"read_only", field_bool, M(read_only), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

/* An output is a writable bind mount of results_dir/source (created
 * before the container) at target: what the job writes there is on the
 * host when it ends, with no copy step. */
static const struct field output_fields[] = {
    {"source", field_path, M(source), true, REL_NAME},
    {"target", field_path, M(target), true, MOUNT_TARGET},
    {NULL, NULL, 0, false, NULL},
};

static void input_init(void *elem)
{
	((struct mount_spec *)elem)->read_only = true;
}

static int check_mount(struct doc_ctx *c, const struct node *n, void *elem)
{
	struct mount_spec *m = elem;

	(void)n;
	if (!m->type && !(m->type = strdup("bind")))
		return doc_fail_oom(c);
	return 0;
}

static const struct field_list inputs_list = {input_fields, sizeof(struct mount_spec), R(n_inputs),
                                              input_init, check_mount};
static const struct field_list outputs_list = {output_fields, sizeof(struct mount_spec),
                                               R(n_outputs), NULL, check_mount};

/* request_fields[REQUEST_FIELD_EXECUTION_ID] is execution_id. */
#define REQUEST_FIELD_EXECUTION_ID 1
static const struct field request_fields[] = {
    {"job_id", field_id, R(job_id), true, NULL},
    {"execution_id", field_id, R(execution_id), true, NULL},
    {"engine_spec", field_object, 0, true, engine_spec_fields},
    {"resources", field_object, 0, false, resources_fields},
    {"inputs", field_object_list, R(inputs), false, &inputs_list},
    {"outputs", field_object_list, R(outputs), false, &outputs_list},
    {"results_dir", field_path, R(results_dir), false, ABS_PATH},
    {"timeout", field_duration, R(timeout_ms), false, NULL},
    {NULL, NULL, 0, false, NULL},
};

/* --- checks across fields --------------------------------------------- */

static size_t target_len(const char *t)
{
	size_t len = strlen(t);

	while (len > 1 && t[len - 1] == '/')
		len--;
	return len;
}

static int check_mount_targets(struct doc_ctx *c, const struct exec_request *r)
{
	size_t total = r->n_inputs + r->n_outputs;

	for (size_t i = 0; i < total; i++) {
		bool out_i = i >= r->n_inputs;
		const struct mount_spec *a = out_i ? &r->outputs[i - r->n_inputs] : &r->inputs[i];

		for (size_t j = 0; j < i; j++) {
			bool out_j = j >= r->n_inputs;
			const struct mount_spec *b =
			    out_j ? &r->outputs[j - r->n_inputs] : &r->inputs[j];
			size_t la = target_len(a->target);

			if (la != target_len(b->target) || memcmp(a->target, b->target, la) != 0)
				continue;
			doc_path_push_key(c, out_i ? "outputs" : "inputs");
			doc_path_push_index(c, out_i ? i - r->n_inputs : i);
			doc_path_push_key(c, "target");
			return doc_fail_at(c, NULL, "\"%s\" is already the target of %s[%zu]",
			                   a->target, out_j ? "outputs" : "inputs",
			                   out_j ? j - r->n_inputs : j);
		}
	}
	return 0;
}

/* Ports publish through a network namespace of the container's own: none
 * has no interface to publish on and host needs no publishing (Docker
 * ignores the bindings silently, which is what a user would not expect). */
static int check_ports(struct doc_ctx *c, const struct exec_request *r)
{
	if (!r->n_ports)
		return 0;
	if (r->network_mode &&
	    (strcmp(r->network_mode, "none") == 0 || strcmp(r->network_mode, "host") == 0)) {
		doc_path_push_key(c, "engine_spec");
		doc_path_push_key(c, "params");
		doc_path_push_key(c, "ports");
		return doc_fail_at(c, NULL, "cannot publish ports with network_mode \"%s\"",
		                   r->network_mode);
	}
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct port_spec *a = &r->ports[i];

		for (size_t j = 0; j < i; j++) {
			const struct port_spec *b = &r->ports[j];
			bool same_ip =
			    (!a->host_ip && !b->host_ip) ||
			    (a->host_ip && b->host_ip && strcmp(a->host_ip, b->host_ip) == 0);

			if (!a->host_port || a->host_port != b->host_port || !same_ip ||
			    strcmp(a->protocol, b->protocol) != 0)
				continue;
			doc_path_push_key(c, "engine_spec");
			doc_path_push_key(c, "params");
			doc_path_push_key(c, "ports");
			doc_path_push_index(c, i);
			doc_path_push_key(c, "host_port");
			return doc_fail_at(c, NULL,
			                   "%" PRId64 "/%s is already published by ports[%zu]",
			                   a->host_port, a->protocol, j);
		}
	}
	return 0;
}

static int check_request(struct doc_ctx *c, struct exec_request *r)
{
	int rc;

	if (r->n_outputs && !r->results_dir) {
		doc_path_push_key(c, "results_dir");
		return doc_fail_at(c, NULL, "required when outputs are given");
	}
	if ((rc = check_mount_targets(c, r)))
		return rc;
	if ((rc = check_ports(c, r)))
		return rc;
	if (!r->pull_policy && !(r->pull_policy = strdup("if-not-present")))
		return doc_fail_oom(c);
	return 0;
}

/* --- what each runtime can do ------------------------------------------ */

/* One refusal: the field (as the request spells it) and why the runtime
 * cannot do it. */
static int refuse(dms_error **err, const char *field, const char *runtime, const char *why)
{
	return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: not supported on %s: %s", field, runtime,
	               why);
}

int request_check_runtime(const struct exec_request *r, const char *runtime, dms_error **err)
{
	bool swarm = runtime && strcmp(runtime, RUNTIME_SWARM) == 0;

	if (!r || !runtime)
		return 0;
	if (!swarm) {
		if (r->placement_constraints)
			return refuse(err, "engine_spec.params.placement", runtime,
			              "placement constraints choose a node of a swarm; this executor's "
			              "jobs run on the one engine it is connected to (use runtime: swarm)");
		return 0;
	}
	if (r->cpuset_cpus)
		return refuse(err, "resources.cpu.cpuset", runtime,
		              "a swarm service has no cpuset (the scheduler picks the node, and CPU "
		              "numbers are each node's own); use resources.cpu.cores");
	if (r->n_gpus)
		return refuse(err, "resources.gpus", runtime,
		              "a swarm service has no device requests; place the job on a GPU node "
		              "with engine_spec.params.placement.constraints instead");
	if (r->network_mode && strcmp(r->network_mode, "host") == 0)
		return refuse(err, "engine_spec.params.network_mode", runtime,
		              "\"host\" would be the network of whichever node runs the job");
	if (r->network_mode && strcmp(r->network_mode, "isolated") == 0)
		return refuse(err, "engine_spec.params.network_mode", runtime,
		              "\"isolated\" makes a bridge network on this machine, not on the node "
		              "that runs the job");
	if (r->n_outputs)
		return refuse(err, "outputs", runtime,
		              "an output is written on the node that runs the job, which is not "
		              "this machine's results_dir (no shared storage)");
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i].host_ip) {
			char field[64];

			snprintf(field, sizeof(field), "engine_spec.params.ports[%zu].host_ip", i);
			return refuse(err, field, runtime,
			              "a swarm publishes a port on every node (ingress), not on one "
			              "address");
		}
	return 0;
}

/* --- public ----------------------------------------------------------- */

static void request_freep(struct exec_request **r)
{
	request_free(*r);
}

int request_parse(const char *text, size_t len, struct exec_request **out, dms_error **err)
{
	return request_parse_ex(text, len, 0, out, err);
}

int request_parse_ex(const char *text, size_t len, unsigned flags, struct exec_request **out,
                     dms_error **err)
{
	struct doc_ctx c = {.err = err, .category = DMS_ERR_INVALID_ARGUMENT, .what = "request"};
	_cleanup_node_ struct node *root = NULL;
	_cleanup_(request_freep) struct exec_request *r = NULL;
	int rc;

	if ((rc = doc_parse(&c, text, len, 0, &root)))
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return doc_fail_oom(&c);
	r->stop_timeout_ms = -1;
	r->no_new_privileges = true;
	if (flags & REQUEST_EXECUTION_ID_OPTIONAL)
		c.supplied = &request_fields[REQUEST_FIELD_EXECUTION_ID];
	if ((rc = field_walk(&c, root, request_fields, r)))
		return rc;
	if ((rc = check_request(&c, r)))
		return rc;
	*out = r;
	r = NULL;
	return 0;
}

static void mounts_free(struct mount_spec *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].type);
		free(m[i].source);
		free(m[i].target);
	}
	free(m);
}

void request_free(struct exec_request *r)
{
	if (!r)
		return;
	free(r->job_id);
	free(r->execution_id);
	free(r->engine_type);
	free(r->image);
	strv_free(r->entrypoint);
	strv_free(r->cmd);
	strv_free(r->environment);
	free(r->working_directory);
	free(r->user);
	strv_free(r->labels);
	free(r->network_mode);
	free(r->stop_signal);
	free(r->pull_policy);
	mounts_free(r->inputs, r->n_inputs);
	mounts_free(r->outputs, r->n_outputs);
	free(r->results_dir);
	strv_free(r->cap_add);
	strv_free(r->cap_drop);
	free(r->cpuset_cpus);
	for (size_t i = 0; r->gpus && i < r->n_gpus; i++)
		strv_free(r->gpus[i].ids);
	free(r->gpus);
	for (size_t i = 0; r->ports && i < r->n_ports; i++) {
		free(r->ports[i].host_ip);
		free(r->ports[i].protocol);
	}
	free(r->ports);
	strv_free(r->placement_constraints);
	free(r);
}

/* max 0 (or above 128) means 128. "." and ".." are refused although their
 * characters are allowed: ids name directories under the state dir. */
bool request_valid_id(const char *s, size_t max)
{
	size_t len;

	if (!s)
		return false;
	if (max == 0 || max > ID_MAX_LEN)
		max = ID_MAX_LEN;
	len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-");
	if (len == 0 || s[len] != '\0' || len > max)
		return false;
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}
