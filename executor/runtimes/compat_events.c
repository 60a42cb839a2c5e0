/* compat_events.c — GET /events: the container events the executor acts
 * on, read from the engine's JSON-lines stream and named through the
 * flavor's table.
 *
 * Exists because the event stream is how exits are learned on both engines
 * and must never end for a bad line: a line that is not JSON, too long or
 * about something else is skipped (docs/engine-api.md, "The event
 * stream"). The parser is also the fuzz harness's entry (compat_fuzz.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_fuzz.h"
#include "compat_internal.h"

struct event_stream {
	struct compat_lines lines;
	const struct compat_flavor *flavor;
	const char *label_key; /* a key-only label matched here, or NULL */
	runtime_ready_fn ready;
	runtime_event_fn fn;
	void *ud;
	bool ready_called;
	bool ended_by_fn;
};

static enum runtime_event_kind event_kind(const struct compat_flavor *f, const char *action)
{
	for (const struct compat_event_name *n = f->events; n && n->action; n++)
		if (strcmp(action, n->action) == 0)
			return n->kind;
	return RT_EV_OTHER;
}

/* A die event's exit code, from the first attribute the flavor names that
 * holds a number; -1 if none does. */
static int event_exit_code(const struct compat_flavor *f, yajl_val ev)
{
	for (const char *const *a = f->exit_code_attributes; a && *a; a++) {
		const char *code = compat_jstr(ev, JPATH("Actor", "Attributes", *a));
		char *end;
		long c;

		if (!code)
			continue;
		c = strtol(code, &end, 10);
		if (end != code && *end == '\0')
			return (int)c;
	}
	return -1;
}

static int event_line(void *ud, char *line, size_t len)
{
	struct event_stream *es = ud;
	_cleanup_yajl_tree_ yajl_val ev = compat_parse_json(line);
	const char *type, *action, *id;
	struct runtime_event e = {.exit_code = -1};
	long long t;

	(void)len;
	if (!ev)
		return 0; /* not JSON: skip the line, keep the stream */
	type = compat_jstr(ev, JPATH("Type"));
	if (type && strcmp(type, "container") != 0)
		return 0;
	if (es->label_key &&
	    !yajl_tree_get(ev, JPATH("Actor", "Attributes", es->label_key), yajl_t_any))
		return 0; /* the engine did not filter on the key: we do */
	if (!(action = compat_jstr(ev, JPATH("Action"))))
		action = compat_jstr(ev, JPATH("status"));
	if (!(id = compat_jstr(ev, JPATH("Actor", "ID"))))
		id = compat_jstr(ev, JPATH("id"));
	if (!action || !id)
		return 0;
	e.kind = event_kind(es->flavor, action);
	e.container_id = id;
	e.execution_id = compat_jstr(ev, JPATH("Actor", "Attributes", "org.dms.execution"));
	if (e.kind == RT_EV_DIE)
		e.exit_code = event_exit_code(es->flavor, ev);
	if (compat_jint(ev, JPATH("timeNano"), &t))
		e.time_ns = t;
	else if (compat_jint(ev, JPATH("time"), &t) && t >= 0 && t <= INT64_MAX / 1000000000LL)
		e.time_ns = t * 1000000000LL; /* seconds; out of range: unknown (0) */
	if (es->fn(es->ud, &e) != 0) {
		es->ended_by_fn = true;
		return 1;
	}
	return 0;
}

static int event_data(void *ud, const char *data, size_t len)
{
	struct event_stream *es = ud;

	return compat_lines_feed(&es->lines, data, len);
}

static void event_headers(void *ud, long status)
{
	struct event_stream *es = ud;

	if (status == 200 && !es->ready_called) {
		es->ready_called = true;
		if (es->ready)
			es->ready(es->ud);
	}
}

int compat_events(struct runtime *rt, dms_context *ctx, const char *label, int64_t since_ns,
                  runtime_ready_fn ready, runtime_event_fn fn, void *ud, dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *filters = NULL, *path = NULL;
	struct event_stream es = {.ready = ready, .fn = fn, .ud = ud};
	const char *url = http_client_url(rt->http), *op = "events";
	char since[48] = "";
	struct http_request req;
	int rc;

	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "events: no event handler given");
	if ((rc = compat_flavor_of(rt, ctx, op, url, &es.flavor, err)) != 0)
		return rc;
	if (label && !*label)
		label = NULL;
	if (label && !strchr(label, '=') && es.flavor->events_key_only_label_here) {
		es.label_key = label;
		label = NULL;
	}
	/* "<seconds>.<nanoseconds>": both engines read it (checked on dockerd
	 * 20.10 and Podman 4.3). */
	if (since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         since_ns / 1000000000, since_ns % 1000000000);
	if (!(filters = compat_filters_query("container", label)) ||
	    !(path = compat_pathf("/events?filters=%s%s", filters, since)))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	req.timeout_ms = -1;
	req.on_data = event_data;
	req.on_headers = event_headers;
	req.user_data = &es;
	compat_lines_init(&es.lines, event_line, &es);
	rc = compat_call(rt, ctx, &req, &resp, op, url, err);
	compat_lines_free(&es.lines); /* a partial last line of a dropped stream is no event */
	if (rc != 0 || es.ended_by_fn)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_ENGINE, op, url, err);
	if ((rc = ctx_status(ctx)) != 0)
		return err_set(err, rc, "events from %s: %s", url,
		               rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
	return err_engine(err, DMS_ERR_RUNTIME_UNAVAILABLE, op, url, NULL,
	                  "the event stream from %s ended", url);
}

/* ---- for the fuzz harness (compat_fuzz.h): the parser minus the HTTP ----- */

int compat_fuzz_events(const struct compat_flavor *flavor, const char *label_key,
                       const char *const *chunks, const size_t *lens, size_t n_chunks,
                       runtime_event_fn fn, void *ud)
{
	struct event_stream es = {.flavor = flavor, .label_key = label_key, .fn = fn, .ud = ud};
	int rc = 0;

	compat_lines_init(&es.lines, event_line, &es);
	for (size_t i = 0; rc == 0 && i < n_chunks; i++)
		rc = compat_lines_feed(&es.lines, chunks[i], lens[i]);
	if (rc == 0)
		rc = compat_lines_finish(&es.lines);
	compat_lines_free(&es.lines);
	return rc;
}
