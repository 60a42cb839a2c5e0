/* test_state.c — per-execution state files: round trip, replacement,
 * removal, restrictive modes, and unreadable files discarded. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "test_assert.h"

static char dir[] = "/tmp/dms-state-unit-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0, "system(cmd) = %lld", (long long)(system(cmd)));
	strcpy(dir, "/tmp/dms-state-unit-XXXXXX");
}

TestSuite(state, .init = setup, .fini = teardown);

struct seen {
	int n;
	char exec[8][32];
	char result[8][128];
	int state[8];
};

static void collect(void *ud, const struct state_record *r)
{
	struct seen *s = ud;
	snprintf(s->exec[s->n], sizeof(s->exec[0]), "%s", r->execution_id);
	snprintf(s->result[s->n], sizeof(s->result[0]), "%s",
	         r->result_json ? r->result_json : "-");
	s->state[s->n++] = r->state;
}

Test(state, round_trip_replace_remove)
{
	struct state_record r = {.execution_id = "e1",
	                         .job_id = "j",
	                         .container_name = "dms-x-e1-0",
	                         .container_id = "abc",
	                         .state = DMS_STATE_RUNNING};
	assert_cmp(state_save(dir, &r), ==, 0);
	r.state = DMS_STATE_EXITED;
	r.result_json = "{\"exit_code\":3,\"stdout\":\"a\\\"b\\n\"}";
	cr_assert_eq(state_save(dir, &r), 0, "replace");
	char path[128];
	snprintf(path, sizeof(path), "%s/dms-x-e1-0.json", dir);
	struct stat st;
	assert_cmp(stat(path, &st), ==, 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	struct seen s = {0};
	state_load(dir, collect, &s);
	cr_assert_eq(s.n, 1, "s.n = %lld", (long long)(s.n));
	cr_assert_str_eq(s.exec[0], "e1", "s.exec[0] = \"%s\"", s.exec[0]);
	cr_assert_eq(s.state[0], DMS_STATE_EXITED, "s.state[0] = %lld", (long long)(s.state[0]));
	cr_assert_str_eq(s.result[0], r.result_json, "result not byte-exact: %s", s.result[0]);
	state_remove(dir, "dms-x-e1-0");
	state_remove(dir, "dms-x-e1-0"); /* twice is fine */
	memset(&s, 0, sizeof(s));
	state_load(dir, collect, &s);
	cr_assert_eq(s.n, 0, "s.n = %lld", (long long)(s.n));
}

Test(state, unreadable_records_are_discarded)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/dms-broken.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"execution_id\": 7", f);
	fclose(f);
	struct seen s = {0};
	state_load(dir, collect, &s);
	cr_assert_eq(s.n, 0, "s.n = %lld", (long long)(s.n));
	cr_assert_neq(access(path, F_OK), 0, "broken record kept");
}
