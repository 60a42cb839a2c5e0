/* test_pull_progress.c — unit tests of the pull stream bookkeeping
 * (executor/pull_progress.c) against a recorded Docker pull stream, the
 * rate limit of the reports, and the registry credential header
 * (executor/registry_auth.c) and image references (executor/image_ref.c)
 * that go with a pull. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "error.h"
#include "image_ref.h"
#include "pull_progress.h"
#include "registry_auth.h"
#include "test_assert.h"

/* `docker pull` of a two-layer image through /images/create, as dockerd
 * 20.10 streams it (JSON messages, one per line; progress strings cut). */
static const char *const recorded[] = {
    "{\"status\":\"Pulling from library/python\",\"id\":\"3.12-alpine\"}",
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Waiting\",\"progressDetail\":{},\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":32768,\"total\":3623807},"
    "\"progress\":\"[>   ]  32.77kB/3.624MB\",\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1048576,\"total\":3623807},"
    "\"progress\":\"[==>  ]  1.049MB/3.624MB\",\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":4096,\"total\":460000},"
    "\"progress\":\"[>   ]  4.096kB/460kB\",\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":65536,\"total\":3623807},"
    "\"progress\":\"[>   ]  65.54kB/3.624MB\",\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":200000,\"total\":460000},"
    "\"progress\":\"[=====>  ]  200kB/460kB\",\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"c6a83fedfae6\"}",
    "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":460000,\"total\":460000},"
    "\"progress\":\"[======>]  460kB/460kB\",\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"1a4f7a3c0a8e\"}",
    "{\"status\":\"Digest: "
    "sha256:4b2f1e4bd4d7a0d3e8c8cb6d7c8b0e6e2b09f7d2c8d5d2a8c3b3d2e1f0a9b8c7\"}",
    "{\"status\":\"Status: Downloaded newer image for python:3.12-alpine\"}",
};

/* What the totals and the status are after each message above. */
static const struct {
	uint64_t current, total;
	const char *status;
} expected[] = {
    {0, 0, "Pulling from library/python"},
    {0, 0, "c6a83fedfae6: Pulling fs layer"},
    {0, 0, "1a4f7a3c0a8e: Pulling fs layer"},
    {0, 0, "1a4f7a3c0a8e: Waiting"},
    {32768, 3623807, "c6a83fedfae6: Downloading"},
    {1048576, 3623807, "c6a83fedfae6: Downloading"},
    {1048576 + 4096, 3623807 + 460000, "1a4f7a3c0a8e: Downloading"},
    {3623807 + 4096, 3623807 + 460000, "c6a83fedfae6: Verifying Checksum"},
    {3623807 + 4096, 3623807 + 460000, "c6a83fedfae6: Download complete"},
    /* extraction progress is not more download */
    {3623807 + 4096, 3623807 + 460000, "c6a83fedfae6: Extracting"},
    {3623807 + 200000, 3623807 + 460000, "1a4f7a3c0a8e: Downloading"},
    {3623807 + 200000, 3623807 + 460000, "c6a83fedfae6: Pull complete"},
    {3623807 + 460000, 3623807 + 460000, "1a4f7a3c0a8e: Download complete"},
    {3623807 + 460000, 3623807 + 460000, "1a4f7a3c0a8e: Extracting"},
    {3623807 + 460000, 3623807 + 460000, "1a4f7a3c0a8e: Pull complete"},
    {3623807 + 460000, 3623807 + 460000,
     "Digest: sha256:4b2f1e4bd4d7a0d3e8c8cb6d7c8b0e6e2b09f7d2c8d5d2a8c3b3d2e1f0a9b8c7"},
    {3623807 + 460000, 3623807 + 460000, "Status: Downloaded newer image for python:3.12-alpine"},
};

Test(pull_progress, recorded_docker_stream)
{
	struct pull_progress p;

	cr_assert_eq(sizeof(recorded) / sizeof(recorded[0]), sizeof(expected) / sizeof(expected[0]),
	             "sizeof(recorded) / sizeof(recorded[0]) = %lld, sizeof(expected) / "
	             "sizeof(expected[0]) = %lld",
	             (long long)(sizeof(recorded) / sizeof(recorded[0])),
	             (long long)(sizeof(expected) / sizeof(expected[0])));
	pull_progress_init(&p);
	for (size_t i = 0; i < sizeof(recorded) / sizeof(recorded[0]); i++) {
		uint64_t cur, tot;
		assert_cmp(pull_progress_feed_json(&p, recorded[i]), ==, 0);
		pull_progress_totals(&p, &cur, &tot);
		cr_assert_eq(cur, expected[i].current, "after message %zu: current %llu, want %llu",
		             i, (unsigned long long)cur, (unsigned long long)expected[i].current);
		cr_assert_eq(tot, expected[i].total, "after message %zu: total %llu, want %llu", i,
		             (unsigned long long)tot, (unsigned long long)expected[i].total);
		cr_assert_str_eq(p.status, expected[i].status, "after message %zu: status \"%s\"",
		                 i, p.status);
	}
	cr_assert_eq(p.n_layers, 2, "layers: %zu", p.n_layers);
	pull_progress_free(&p);
}

/* Layers that exist locally count as done with no bytes; garbage lines and
 * lines without a status change nothing. */
Test(pull_progress, already_exists_and_noise)
{
	struct pull_progress p;
	uint64_t cur, tot;

	pull_progress_init(&p);
	assert_cmp(pull_progress_feed_json(&p, "{\"status\":\"Already exists\",\"id\":\"aaa\"}"),
	           ==, 0);
	assert_cmp(pull_progress_feed_json(&p, "not json"), ==, 0);
	assert_cmp(pull_progress_feed_json(&p, "{\"progressDetail\":{}}"), ==, 0);
	assert_cmp(pull_progress_feed_json(
	               &p, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":999,"
	                   "\"total\":10},\"id\":\"bbb\"}"),
	           ==, 0);
	pull_progress_totals(&p, &cur, &tot);
	cr_assert_eq(cur, 10, "a layer's current is capped by its total: %llu",
	             (unsigned long long)cur);
	cr_assert_eq(tot, 10, "total %llu", (unsigned long long)tot);
	cr_assert_eq(p.n_layers, 2, "layers: %zu", p.n_layers);
	cr_assert_str_eq(p.status, "bbb: Downloading", "p.status = \"%s\"", p.status);
	pull_progress_free(&p);
}

/* At most one report per 250 ms: the recorded stream replayed at 1 message
 * per 10 ms over 2 s gives 8 reports, not 200. */
Test(pull_progress, rate_limit)
{
	int64_t last = 0;
	int reports = 0;

	for (int64_t t = 1000; t < 1000 + 2000 * 1000000ll; t += 10 * 1000000ll)
		reports += pull_progress_due(&last, t);
	cr_assert_eq(reports, 8, "reports: %d", reports);
	last = 0;
	cr_assert(pull_progress_due(&last, 5), "the first report is due at once");
	cr_assert_not(pull_progress_due(&last, 5 + PULL_PROGRESS_INTERVAL_NS - 1));
	cr_assert(pull_progress_due(&last, 5 + PULL_PROGRESS_INTERVAL_NS));
}

/* ---- image references ---------------------------------------------------- */

struct ref_case {
	char ref[80];
	bool digest_ok;
	bool valid;
	char registry[32];
};

ParameterizedTestParameters(image_ref, check)
{
	static struct ref_case cases[] = {
	    {"busybox", false, true, "docker.io"},
	    {"busybox:1.36", false, true, "docker.io"},
	    {"dms-test/busybox:latest", false, true, "docker.io"},
	    {"localhost:5000/dms/busybox:v1", false, true, "localhost:5000"},
	    {"localhost/x", false, true, "localhost"},
	    {"Registry.Example.com/a/b__c.d-e:Tag_1.0-x", false, true, "Registry.Example.com"},
	    {"127.0.0.1:5000/x", false, true, "127.0.0.1:5000"},
	    {"a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true,
	     true, "docker.io"},
	    {"a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false,
	     false, ""},
	    {"a@sha256:0123", true, false, ""},
	    {"", false, false, ""},
	    {"Busybox", false, false, ""},
	    {"a:b:c", false, false, ""},
	    {"a/", false, false, ""},
	    {"/a", false, false, ""},
	    {"a//b", false, false, ""},
	    {"a:", false, false, ""},
	    {"a:.x", false, false, ""},
	    {"a:t@g", false, false, ""},
	    {"a..b", false, false, ""},
	    {"a-", false, false, ""},
	    {"host:port/x", false, false, ""},
	    {"-host.io/x", false, false, ""},
	    {"a b", false, false, ""},
	};
	return cr_make_param_array(struct ref_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ref_case *rc, image_ref, check)
{
	const char *why = NULL;
	int r = image_ref_check(rc->ref, rc->digest_ok, &why);

	cr_assert_eq(r == 0, rc->valid, "\"%s\": %s (%s)", rc->ref, r == 0 ? "valid" : "invalid",
	             why ? why : "-");
	if (r != 0)
		cr_assert_not_null(why, "\"%s\": no reason", rc->ref);
	if (rc->valid) {
		char *reg = image_ref_registry(rc->ref);
		cr_assert_str_eq(reg, rc->registry, "registry of \"%s\": %s", rc->ref, reg);
		free(reg);
	}
}

Test(image_ref, normalize_registry)
{
	static const char *const cases[][2] = {
	    {"https://index.docker.io/v1/", "docker.io"},
	    {"registry-1.docker.io", "docker.io"},
	    {"docker.io", "docker.io"},
	    {"http://LocalHost:5000/", "localhost:5000"},
	    {"ghcr.io", "ghcr.io"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *n = image_ref_normalize_registry(cases[i][0]);
		cr_assert_str_eq(n, cases[i][1], "%s -> %s", cases[i][0], n);
		free(n);
	}
}

/* ---- X-Registry-Auth ----------------------------------------------------- */

static char *b64url_decode(const char *s)
{
	/* Test-side decoder (URL alphabet, padded), independent of the code. */
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), o = 0;
	char *out = calloc(n, 1);
	unsigned v = 0;
	int bits = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *p = strchr(a, s[i]);
		cr_assert_not_null(p, "'%c' is not base64url in %s", s[i], s);
		v = v << 6 | (unsigned)(p - a);
		if ((bits += 6) >= 8)
			out[o++] = (char)(v >> (bits -= 8));
	}
	cr_assert_eq(n % 4, 0, "unpadded: %s", s);
	return out;
}

static struct exec_config *cfg(const char *text)
{
	struct exec_config *c = NULL;
	dms_error *e = NULL;
	cr_assert_eq(config_parse(text, &c, &e), 0, "%s", e ? e->message : "");
	return c;
}

Test(registry_auth, header_for_the_image_registry_only)
{
	struct exec_config *c = cfg("registries:\n"
	                            "  - {server: 'localhost:5000', username: alice, password: "
	                            "'p\"w/+?'}\n"
	                            "  - {server: ghcr.io, identity_token: tok}\n");
	char *h = NULL;

	assert_cmp(registry_auth_for(c, "localhost:5000/dms/busybox:v1", &h, NULL), ==, 0);
	cr_assert_not_null(h, "h = %p", (void *)(h));
	char *json = b64url_decode(h);
	yajl_val root = yajl_tree_parse(json, NULL, 0);
	cr_assert_not_null(root, "not JSON: %s", json);
	const char *u[] = {"username", NULL}, *p[] = {"password", NULL},
	           *s[] = {"serveraddress", NULL};
	cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(root, u, yajl_t_string)), "alice", "%s",
	                 json);
	cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(root, p, yajl_t_string)), "p\"w/+?", "%s",
	                 json);
	cr_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(root, s, yajl_t_string)), "localhost:5000",
	                 "%s", json);
	yajl_tree_free(root);
	free(json);
	free(h);

	assert_cmp(registry_auth_for(c, "ghcr.io/org/app:1", &h, NULL), ==, 0);
	json = b64url_decode(h);
	cr_assert(strstr(json, "\"identitytoken\":\"tok\""), "%s", json);
	cr_assert_null(strstr(json, "password"), "%s", json);
	free(json);
	free(h);

	/* Other registries, Docker Hub included, get no header at all. */
	static const char *const others[] = {"busybox", "dms-test/busybox:latest",
	                                     "localhost:5001/x", "evil.io/localhost:5000/x"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		h = (char *)1;
		assert_cmp(registry_auth_for(c, others[i], &h, NULL), ==, 0);
		cr_assert_null(h, "credentials sent for %s", others[i]);
	}
	config_free(c);
}

Test(registry_auth, base64url)
{
	static const char *const cases[][2] = {
	    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"\xfb\xff", "-_8="},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = registry_auth_base64url((const unsigned char *)cases[i][0],
		                                  strlen(cases[i][0]));
		cr_assert_str_eq(e, cases[i][1], "base64url(%zu) = %s", i, e);
		free(e);
	}
}
