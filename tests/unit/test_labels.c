/* test_labels.c — unit tests of the container name scheme
 * (executor/labels.c): readable prefix plus a hash suffix, sanitising, no
 * collisions between ids that sanitise or join alike, and the length cap. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "test_assert.h"

TestSuite(labels);

static bool engine_safe(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
		            *s))
			return false;
	return true;
}

/* Inline arrays: Criterion passes parameters through shared memory. */
struct name_case {
	char executor[32], execution[32];
	char want[64];        /* exact name, or "": only the prefix is checked */
	char want_prefix[64]; /* the sanitised part before the hash */
};

ParameterizedTestParameters(labels, names)
{
	static struct name_case cases[] = {
	    {"ex1", "e1", "", "dms-ex1-e1-"},
	    {"node-7", "job_1.run-2", "", "dms-node-7-job_1.run-2-"},
	    {"ex1", "a/b", "", "dms-ex1-a_b-"},
	    {"ex1", "a:b", "", "dms-ex1-a_b-"},
	    {"ex 1", "e1", "", "dms-ex_1-e1-"},
	    {"ex1", "é", "", "dms-ex1-__-"},
	    {"", "", "", "dms---"},
	};
	return cr_make_param_array(struct name_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *c, labels, names)
{
	char *n = labels_container_name(c->executor, c->execution);

	cr_assert_not_null(n, "n = %p", (void *)(n));
	if (c->want[0]) {
		cr_assert_str_eq(n, c->want, "name = %s, want %s", n, c->want);
	} else {
		size_t plen = strlen(c->want_prefix);

		cr_assert_eq(strncmp(n, c->want_prefix, plen), 0, "name = %s, want prefix %s", n,
		             c->want_prefix);
		cr_assert_eq(strlen(n), plen + 8, "name = %s: expected 8 hex digits after %s", n,
		             c->want_prefix);
		for (size_t i = plen; n[i]; i++)
			cr_assert(strchr("0123456789abcdef", n[i]), "name = %s: non-hex suffix", n);
	}
	cr_assert(engine_safe(n), "name %s is not engine-safe", n);
	free(n);
}

Test(labels, deterministic)
{
	char *a = labels_container_name("ex", "a/b");
	char *b = labels_container_name("ex", "a/b");

	cr_assert_str_eq(a, b, "%s != %s", a, b);
	free(a);
	free(b);
}

Test(labels, no_collision_after_sanitising)
{
	const char *ids[] = {"a/b", "a_b", "a:b", "a b", "a\\b"};
	char *names[5];

	for (int i = 0; i < 5; i++)
		names[i] = labels_container_name("ex", ids[i]);
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			cr_assert_str_neq(names[i], names[j], "\"%s\" and \"%s\" both map to %s",
			                  ids[i], ids[j], names[i]);
	for (int i = 0; i < 5; i++)
		free(names[i]);
}

Test(labels, executor_and_execution_ids_are_distinguished_in_hash)
{
	/* Both sanitise to "dms-a_-b_" but come from different raw ids. */
	char *x = labels_container_name("a/", "b:");
	char *y = labels_container_name("a:", "b/");

	cr_assert_str_neq(x, y, "distinct ids collided: %s", x);
	free(x);
	free(y);
}

Test(labels, length_capped_at_128)
{
	char longid[201];
	char *n, *m;

	memset(longid, 'x', 200);
	longid[200] = '\0';
	n = labels_container_name("ex", longid);
	cr_assert_eq(strlen(n), 128, "len = %zu (%s)", strlen(n), n);
	cr_assert(engine_safe(n), "name %s is not engine-safe", n);
	cr_assert_eq(strncmp(n, "dms-ex-xxx", 10), 0, "name = %s", n);

	/* Same prefix, different tail: the hash keeps them apart. */
	longid[199] = 'y';
	m = labels_container_name("ex", longid);
	cr_assert_eq(strlen(m), 128, "len = %zu", strlen(m));
	cr_assert_str_neq(n, m, "long ids differing at the end collided: %s", n);
	free(n);
	free(m);
}

Test(labels, ids_joined_alike_do_not_collide)
{
	/* Ids may contain '-': "a-b"+"c" and "a"+"b-c" join to the same text. */
	char *x = labels_container_name("a-b", "c");
	char *y = labels_container_name("a", "b-c");

	cr_assert_str_neq(x, y, "distinct id pairs collided: %s", x);
	free(x);
	free(y);
}

Test(labels, cut_at_128_keeps_the_hash)
{
	char id[129];
	char *n;

	/* "dms-ex-" (7) + 112 = 119 readable chars, then "-" + 8 hex = 128. */
	memset(id, 'z', 112);
	id[112] = '\0';
	n = labels_container_name("ex", id);
	cr_assert_eq(strlen(n), 128, "len = %zu", strlen(n));
	cr_assert_eq(n[119], '-', "no hash separator in %s", n);
	free(n);

	memset(id, 'z', 128);
	id[128] = '\0';
	n = labels_container_name("ex", id);
	cr_assert_eq(strlen(n), 128, "long name not capped: %zu", strlen(n));
	cr_assert_eq(n[119], '-', "no hash separator in %s", n);
	free(n);
}

Test(labels, sanitised_long_name_is_capped)
{
	char id[201];
	char *n;

	memset(id, '/', 200);
	id[200] = '\0';
	n = labels_container_name("ex", id);
	cr_assert_eq(strlen(n), 128, "len = %zu", strlen(n));
	cr_assert(engine_safe(n), "name %s is not engine-safe", n);
	free(n);
}

Test(labels, label_names)
{
	cr_assert_str_eq(LABEL_EXECUTOR, "org.dms.executor", "LABEL_EXECUTOR = \"%s\"",
	                 LABEL_EXECUTOR);
	cr_assert_str_eq(LABEL_JOB, "org.dms.job", "LABEL_JOB = \"%s\"", LABEL_JOB);
	cr_assert_str_eq(LABEL_EXECUTION, "org.dms.execution", "LABEL_EXECUTION = \"%s\"",
	                 LABEL_EXECUTION);
	assert_cmp(strncmp(LABEL_EXECUTOR, LABEL_PREFIX, strlen(LABEL_PREFIX)), ==, 0);
}
