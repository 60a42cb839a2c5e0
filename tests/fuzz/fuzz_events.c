/* fuzz_events.c — libFuzzer harness for the engine event stream parser
 * (compat_json.c, compat_events.c: the line splitter and event_line behind
 * GET /events), a differential test: the stream cut at random split
 * points must give exactly the events it gives in one piece, and every
 * event the executor is handed is well formed. A sink that stops after k
 * events must see no event after it said stop.
 *
 * Input: byte 0 = flags (bit 0: Podman's flavor, bit 1: match a key-only
 * label here, bits 2-7: stop after that many events, 0 never), then the
 * split header of split.h, then the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_fuzz.h"
#include "split.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_events: contract broken: %s: ", #cond);              \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct seen {
	char *log; /* one line per event */
	size_t len, events, stop_after;
	bool stopped;
};

static int sink(void *ud, const struct runtime_event *ev)
{
	struct seen *s = ud;
	char line[512];

	CHECK(!s->stopped, "an event after the sink said stop");
	CHECK(ev->container_id, "an event without a container id");
	CHECK(ev->kind >= RT_EV_START && ev->kind <= RT_EV_OTHER, "kind %d", (int)ev->kind);
	CHECK(ev->kind == RT_EV_DIE || ev->exit_code == -1, "exit code %d on kind %d",
	      ev->exit_code, (int)ev->kind);
	int n = snprintf(line, sizeof(line), "%d|%.200s|%.200s|%d|%lld\n", (int)ev->kind,
	                 ev->container_id, ev->execution_id ? ev->execution_id : "(null)",
	                 ev->exit_code, (long long)ev->time_ns);
	char *g = realloc(s->log, s->len + (size_t)n + 1);
	if (!g)
		abort();
	memcpy(g + s->len, line, (size_t)n + 1);
	s->log = g;
	s->len += (size_t)n;
	if (++s->events == s->stop_after) {
		s->stopped = true;
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct compat_flavor *f = data[0] & 1 ? &compat_podman_flavor : &compat_docker_flavor;
	const char *key = data[0] & 2 ? "org.dms.executor" : NULL;
	size_t stop_after = data[0] >> 2;
	struct pieces ps;
	const uint8_t *body;
	size_t body_len;

	split_input(data + 1, size - 1, &ps, &body, &body_len);

	/* Whole: one exact-size piece. */
	char *whole = malloc(body_len ? body_len : 1);
	if (!whole)
		abort();
	memcpy(whole, body, body_len);
	const char *one[] = {whole};
	size_t one_len[] = {body_len};
	struct seen a = {.stop_after = stop_after}, b = {.stop_after = stop_after};
	int rc_a = compat_fuzz_events(f, key, one, one_len, 1, sink, &a);
	int rc_b = compat_fuzz_events(f, key, (const char *const *)ps.p, ps.len, ps.n, sink, &b);

	CHECK(rc_a == rc_b, "whole %d, in %zu pieces %d", rc_a, ps.n, rc_b);
	CHECK(rc_a == (a.stopped ? 1 : 0), "rc %d, stopped %d", rc_a, a.stopped);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.log, b.log, a.len) == 0),
	      "%zu events whole, %zu in %zu pieces", a.events, b.events, ps.n);
	free(a.log);
	free(b.log);
	free(whole);
	pieces_free(&ps);
	return 0;
}
