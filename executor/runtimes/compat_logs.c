/* compat_logs.c — GET /containers/{id}/logs: the plain read, the
 * stamped-frame parser the flavors' follows are built on, and the frame
 * writer they pass records on with.
 *
 * Exists because neither engine's follow stream is a whole log
 * (docs/engine-api.md, "Engine behaviours the runtimes design around"):
 * docker.c and podman.c complete or emulate it with timestamped reads, and
 * the pieces they share are here.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compat_internal.h"

/* ---- stamped frames, for the follows of docker.c and podman.c ------------ */

void compat_stamped_reset(struct compat_stamped *p)
{
	*p = (struct compat_stamped){.min_stream = p->min_stream};
}

int compat_stamped_parse(struct compat_stamped *p, const char *data, size_t len,
                         void (*record)(void *ud, int stream, const char *stamp, size_t len),
                         int (*payload)(void *ud, int stream, const char *data, size_t n), void *ud)
{
	while (len > 0) {
		if (p->left == 0) { /* a frame header */
			size_t take = sizeof(p->hdr) - p->hdr_len;

			take = take < len ? take : len;
			memcpy(p->hdr + p->hdr_len, data, take);
			p->hdr_len += take;
			data += take;
			len -= take;
			if (p->hdr_len < sizeof(p->hdr))
				break;
			p->hdr_len = 0;
			if (p->hdr[0] < p->min_stream || p->hdr[0] > 2 || p->hdr[1] || p->hdr[2] ||
			    p->hdr[3])
				return -1;
			p->stream = p->hdr[0];
			p->left = (uint32_t)p->hdr[4] << 24 | (uint32_t)p->hdr[5] << 16 |
			          (uint32_t)p->hdr[6] << 8 | p->hdr[7];
			p->in_stamp = p->left > 0;
			p->stamp_len = 0;
			continue;
		}
		size_t avail = len < p->left ? len : p->left;

		if (p->in_stamp) { /* the stamp, up to its space */
			const char *sp = memchr(data, ' ', avail);
			size_t take = sp ? (size_t)(sp - data) + 1 : avail;
			size_t keep = sp ? take - 1 : take;

			for (size_t i = 0; i < keep && p->stamp_len + i < sizeof(p->stamp) - 1; i++)
				p->stamp[p->stamp_len + i] = data[i];
			p->stamp_len += keep;
			data += take;
			len -= take;
			p->left -= (uint32_t)take;
			if (sp || p->left == 0) {
				p->in_stamp = false;
				p->stamp[p->stamp_len < sizeof(p->stamp) ? p->stamp_len
				                                         : sizeof(p->stamp) - 1] =
				    '\0';
				record(ud, p->stream, p->stamp, p->stamp_len);
			}
			continue;
		}
		if (payload(ud, p->stream, data, avail) != 0)
			return 1;
		data += avail;
		len -= avail;
		p->left -= (uint32_t)avail;
	}
	return 0;
}

int compat_stamped_feed(struct compat_stamped *p, bool tty, bool *broken, const char *data,
                        size_t len,
                        void (*record)(void *ud, int stream, const char *stamp, size_t len),
                        int (*payload)(void *ud, int stream, const char *data, size_t n), void *ud)
{
	int rc;

	if (tty)
		return payload(ud, 0, data, len);
	rc = compat_stamped_parse(p, data, len, record, payload, ud);
	if (rc < 0)
		return *broken = true, 1; /* not a frame: stop this read */
	return rc;
}

int compat_logs_not_frames(const char *id, dms_error **err)
{
	return err_engine(err, DMS_ERR_CONTAINER, "container logs", id, NULL,
	                  "container logs %s: the engine's answer is not log frames", id);
}

int compat_log_frame(runtime_log_fn fn, void *ud, bool tty, int stream, const char *data, size_t n)
{
	if (!tty) {
		char hdr[8] = {(char)stream,   0,      0, 0, (char)(n >> 24), (char)(n >> 16),
		               (char)(n >> 8), (char)n};

		if (fn(ud, hdr, sizeof(hdr)) != 0)
			return 1;
	}
	return fn(ud, data, n) != 0;
}

/* ---- stamps for the caller ------------------------------------------------ */

static void unstamp_record(void *ud, int stream, const char *stamp, size_t len)
{
	struct compat_unstamp *u = ud;

	u->stamp(u->ud, stream, len < COMPAT_STAMP_MAX ? parse_rfc3339(stamp) : 0);
}

static int unstamp_payload(void *ud, int stream, const char *data, size_t n)
{
	struct compat_unstamp *u = ud;

	return compat_log_frame(u->fn, u->ud, false, stream, data, n);
}

void compat_unstamp_init(struct compat_unstamp *u, const struct log_options *opts,
                         runtime_log_fn fn, void *ud)
{
	*u = (struct compat_unstamp){.fn = fn, .stamp = opts->stamp, .ud = ud};
}

int compat_unstamp_data(void *ud, const char *data, size_t len)
{
	struct compat_unstamp *u = ud;

	return compat_stamped_feed(&u->parser, false, &u->broken, data, len, unstamp_record,
	                           unstamp_payload, u);
}

/* ---- reading -------------------------------------------------------------- */

int compat_logs_read(struct runtime *rt, dms_context *ctx, const char *id,
                     const struct log_options *opts, bool timestamps, runtime_log_fn fn, void *ud,
                     dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_free_ char *esc = NULL, *path = NULL;
	const char *op = "container logs";
	char tail[32] = "all", since[48] = "";
	struct http_request req;
	int rc;

	if (opts->tail >= 0)
		snprintf(tail, sizeof(tail), "%" PRId64, opts->tail);
	if (opts->since_ns > 0)
		snprintf(since, sizeof(since), "&since=%" PRId64 ".%09" PRId64,
		         opts->since_ns / 1000000000, opts->since_ns % 1000000000);
	if (!(esc = compat_path_escape(id)) ||
	    !(path =
	          compat_pathf("/containers/%s/logs?stdout=%d&stderr=%d&follow=%d&tail=%s%s%s", esc,
	                       opts->stdout_ ? 1 : 0, opts->stderr_ ? 1 : 0, opts->follow ? 1 : 0,
	                       tail, since, timestamps ? "&timestamps=1" : "")))
		return compat_oom(err);
	req = COMPAT_REQ("GET", path);
	req.timeout_ms = -1;
	/* Raw bytes, framed unless tty: the executor demultiplexes. */
	req.on_data = fn;
	req.user_data = ud;
	if ((rc = compat_call(rt, ctx, &req, &resp, op, id, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_CONTAINER, op, id, err);
	return 0;
}

int compat_logs_read_stamped(struct runtime *rt, dms_context *ctx, const char *id,
                             const struct log_options *opts, runtime_log_fn fn, void *ud,
                             dms_error **err)
{
	struct compat_unstamp u;
	int rc;

	if (!opts->stamp)
		return compat_logs_read(rt, ctx, id, opts, false, fn, ud, err);
	compat_unstamp_init(&u, opts, fn, ud);
	rc = compat_logs_read(rt, ctx, id, opts, true, compat_unstamp_data, &u, err);
	if (rc == 0 && u.broken)
		rc = compat_logs_not_frames(id, err);
	return rc;
}

int compat_container_logs(struct runtime *rt, dms_context *ctx, const char *id,
                          const struct log_options *opts, runtime_log_fn fn, void *ud,
                          dms_error **err)
{
	const char *op = "container logs";
	const struct compat_flavor *flavor;
	int rc;

	if (!id || !*id || !opts || !fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "%s: needs a container and a sink",
		               op);
	if ((rc = compat_flavor_of(rt, ctx, op, id, &flavor, err)) != 0)
		return rc;
	if (flavor->logs)
		return flavor->logs(rt, ctx, id, opts, fn, ud, err);
	return compat_logs_read_stamped(rt, ctx, id, opts, fn, ud, err);
}
