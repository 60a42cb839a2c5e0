/* podman.c — the runtime table (runtime.h) for Podman: where its API
 * service listens and what differs from Docker behind the same API.
 *
 * Exists as a thin table over the compat layer (compat.h): Podman serves the
 * Docker-compatible API, and that is what the executor uses for nearly
 * everything, GPU requests included (as CDI names: compat_create.c). This file
 * holds Podman's socket discovery and Podman's flavor (compat.h): its event
 * names, the label filter its /events ignores, its log reads (its follow
 * stream loses records; errors arrive inside a 200 body), and the two places
 * where the libpod API gives the correct answer — the fingerprint (Podman's
 * own version, rootless, cgroup version from /libpod/info) and image import
 * (the compat import ignores the tag). Each choice, and how it was checked
 * against Podman 4.3, is in docs/engine-api.md ("Podman").
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"

#define PODMAN_ROOTFUL_HOST "unix:///run/podman/podman.sock"
#define PODMAN_ROOTLESS_SOCKET "podman/podman.sock" /* under $XDG_RUNTIME_DIR */

/* The config's host, then $CONTAINER_HOST, then the rootless service's
 * socket under $XDG_RUNTIME_DIR when it exists, then the system socket. The
 * rootless one is looked for, not assumed: root sessions have an
 * XDG_RUNTIME_DIR too, while their service listens on /run/podman. */
char *podman_endpoint(const char *host)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *url = NULL;

	if (!host || !*host)
		host = getenv("CONTAINER_HOST");
	if (host && *host)
		return strdup(host);
	if (xdg && *xdg == '/') {
		if (asprintf(&url, "%s/%s", xdg, PODMAN_ROOTLESS_SOCKET) < 0)
			return NULL;
		if (access(url, F_OK) == 0) {
			char *unix_url = NULL;

			if (asprintf(&unix_url, "unix://%s", url) < 0)
				unix_url = NULL;
			free(url);
			return unix_url;
		}
		free(url);
	}
	return strdup(PODMAN_ROOTFUL_HOST);
}

static int podman_open(const char *host, struct runtime **out, dms_error **err)
{
	return compat_open_owned(podman_endpoint(host), &compat_podman_flavor, out, err);
}

/* The fingerprint from /libpod/info alone, Podman's own account of itself:
 * its version (not the compat API's 1.41), host.security.rootless and
 * host.cgroupVersion ("v1"/"v2"). One request where the compat way takes
 * two (/version and /info), each of which execs conmon and runc inside the
 * service: 3–4 s apiece on this loaded machine, against IsInstalled's 5 s. */
static int podman_fill_info(struct runtime *rt, dms_context *ctx, struct runtime_info *info,
                            dms_error **err)
{
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *path = NULL;
	const char *url = compat_url(rt), *s;
	int rc;

	if ((rc = compat_libpod_path(rt, ctx, "/info", "info", url, &path, err)) != 0)
		return rc;
	if ((rc = compat_get_json(rt, ctx, path, COMPAT_ENGINE, "info", url, &root, err)) != 0)
		return rc;
	if (!yajl_tree_get(root, COMPAT_JPATH("host"), yajl_t_object))
		return compat_bad_json(COMPAT_ENGINE, "info", url, err);
	info->rootless =
	    yajl_tree_get(root, COMPAT_JPATH("host", "security", "rootless"), yajl_t_true) != NULL;
	/* "v1" | "v2" */
	s = compat_jstr(root, COMPAT_JPATH("host", "cgroupVersion"));
	info->cgroup_version = s && s[0] == 'v' ? atoi(s + 1) : 0;
	free(info->version);
	free(info->os);
	s = compat_jstr(root, COMPAT_JPATH("version", "Version"));
	info->version = s ? strdup(s) : NULL;
	s = compat_jstr(root, COMPAT_JPATH("host", "os"));
	info->os = s ? strdup(s) : NULL;
	return 0;
}

/* POST /libpod/images/import?reference=: the compat import
 * (/images/create?fromSrc=-) ignores `tag` and stores every import as
 * docker.io/<repo>:latest, which would also move that tag. The reference is
 * qualified the way Docker reads it, so the image is stored under the name a
 * Docker user means and short names find it through the compat API. */
static int podman_image_import(struct runtime *rt, dms_context *ctx, int fd, const char *ref,
                               dms_error **err)
{
	_cleanup_response_ struct http_response resp = http_response_new();
	_cleanup_yajl_tree_ yajl_val root = NULL;
	_cleanup_free_ char *full = NULL, *eref = NULL, *query = NULL, *path = NULL;
	const char *op = "image import";
	struct http_request req = {.method = "POST", .body_fd = fd};
	int rc;

	if (!(full = compat_qualify_image_ref(ref)) || !(eref = http_urlencode(full)) ||
	    asprintf(&query, "/images/import?reference=%s", eref) < 0) {
		query = NULL;
		return compat_oom(err);
	}
	if ((rc = compat_libpod_path(rt, ctx, query, op, ref, &path, err)) != 0)
		return rc;
	req.path = path;
	req.content_type = "application/x-tar";
	req.timeout_ms = -1; /* bounded by ctx: an import takes what it takes */
	if ((rc = compat_call(rt, ctx, &req, &resp, op, ref, err)) != 0)
		return rc;
	if (resp.status != 200)
		return compat_http_failure(&resp, COMPAT_IMAGE, op, ref, err);
	root = compat_parse_json(resp.body.data);
	if (!compat_jstr(root, COMPAT_JPATH("Id")))
		return compat_bad_json(COMPAT_IMAGE, op, ref, err);
	return 0;
}

/* ---- errors inside a 200 log body ------------------------------------------
 *
 * Podman sends the 200 status and headers of /logs before it reads the log;
 * a failure after that (the container removed meanwhile) is written into
 * the body as its JSON error object, {"cause":..,"message":..,"response":N},
 * right after the log bytes. Every Podman log read therefore passes through
 * a holdback of the last PODMAN_HOLDBACK bytes: when the body ends with such
 * an object it is cut off and the read fails with the engine's message,
 * instead of the object reaching the job's output. */

#define PODMAN_HOLDBACK 4096

struct holdback {
	runtime_log_fn fn;
	void *ud;
	bool stopped;
	size_t len;
	char buf[PODMAN_HOLDBACK];
};

static int holdback_data(void *ud, const char *data, size_t len)
{
	struct holdback *h = ud;
	size_t excess, from_buf, from_data;

	if (h->len + len <= sizeof(h->buf)) {
		memcpy(h->buf + h->len, data, len);
		h->len += len;
		return 0;
	}
	excess = h->len + len - sizeof(h->buf);
	from_buf = excess < h->len ? excess : h->len;
	if (from_buf && h->fn(h->ud, h->buf, from_buf) != 0)
		return h->stopped = true, 1;
	memmove(h->buf, h->buf + from_buf, h->len - from_buf);
	h->len -= from_buf;
	from_data = excess - from_buf;
	if (from_data && h->fn(h->ud, data, from_data) != 0)
		return h->stopped = true, 1;
	memcpy(h->buf + h->len, data + from_data, len - from_data);
	h->len += len - from_data;
	return 0;
}

/* Passes on what is held, less a trailing Podman error object, which
 * becomes the read's error. */
static int holdback_finish(struct holdback *h, const char *id, dms_error **err)
{
	static const char mark[] = "{\"cause\":";
	_cleanup_yajl_tree_ yajl_val obj = NULL;
	const char *msg = NULL;
	size_t at = h->len;
	char *tail;

	for (size_t i = h->len; i-- > 0;)
		if (h->len - i >= sizeof(mark) - 1 &&
		    memcmp(h->buf + i, mark, sizeof(mark) - 1) == 0) {
			at = i;
			break;
		}
	if (at < h->len && (tail = strndup(h->buf + at, h->len - at))) {
		obj = compat_parse_json(tail);
		free(tail);
		msg = compat_jstr(obj, COMPAT_JPATH("message"));
		if (!msg || !yajl_tree_get(obj, COMPAT_JPATH("response"), yajl_t_number))
			at = h->len, msg = NULL;
	}
	if (at > 0 && !h->stopped && h->fn(h->ud, h->buf, at) != 0)
		h->stopped = true;
	h->len = 0;
	if (!msg || h->stopped)
		return 0;
	return err_engine(
	    err, strstr(msg, "no such container") ? DMS_ERR_NOT_FOUND : DMS_ERR_CONTAINER,
	    "container logs", id, msg, "container logs %s: %s (in the log stream)", id, msg);
}

/* One log read as opts say, through the holdback. */
static int podman_read(struct runtime *rt, dms_context *ctx, const char *id,
                       const struct log_options *opts, bool timestamps, runtime_log_fn fn, void *ud,
                       bool *stopped, dms_error **err)
{
	struct holdback *h = malloc(sizeof(*h));
	int rc;

	if (!h)
		return compat_oom(err);
	h->fn = fn;
	h->ud = ud;
	h->stopped = false;
	h->len = 0;
	rc = compat_logs_read(rt, ctx, id, opts, timestamps, holdback_data, h, err);
	/* What was held is passed on even when the read broke off. */
	if (!h->stopped) {
		int done = holdback_finish(h, id, rc == 0 ? err : NULL);

		rc = rc == 0 ? done : rc;
	}
	if (stopped)
		*stopped = h->stopped;
	free(h);
	return rc;
}

/* ---- follow: Podman's own stream loses records --------------------------
 *
 * Podman 4.3's follow=1 log stream (compat and libpod alike) drops records
 * in the middle of a busy log, not only at its end: of a 10 MB job it
 * delivered 1.3–5.2 MB with hundreds of gaps, of a 50 MB job 38–46 MB,
 * while a non-follow read of the same log was complete every time
 * (docs/engine-api.md, "Podman" and "Engine behaviours the runtimes design
 * around"). The
 * executor relies on a follow stream being an exact prefix of the log (it
 * completes the tail from its spool), so on Podman following is done with
 * non-follow reads until the container has stopped.
 *
 * A read covers the log from `base` (a `since`, which Podman applies to the
 * nanosecond) and delivers only bytes beyond those already delivered, per
 * stream. To keep each read short, base moves forward to whole seconds that
 * have settled: every record stamped before (start of a read - SETTLE) was
 * in the file when that read began, so the read saw it. So was every record
 * stamped before the newest second the read saw: conmon alone writes the
 * file and stamps each record as it writes it, so a record stamped earlier
 * lies before it in the file. Base moves to the second before that one (a
 * second's margin for a line whose parts conmon wrote in two seconds), so
 * a read covers about the last two seconds of output instead of the last
 * SETTLE seconds: for a 200 MB job, 10 s of output re-read on every poll
 * was most of the follow's cost. (Reading the window with tail=K instead of
 * since=, which makes Podman scan the whole file, was tried: it repeated and
 * lost lines of a 20 MB job here, cause not found; not used.)
 * timestamps=1 says each record's second (Podman prints
 * seconds only), which is how the bytes before the new base are known. A
 * tty log has no frames to carry stamps: it is re-read whole each time. */

#define PODMAN_FOLLOW_POLL_MIN_MS 50
#define PODMAN_FOLLOW_POLL_MAX_MS 500
#define PODMAN_FOLLOW_SETTLE_NS (10 * 1000000000LL)
#define NS_PER_S 1000000000LL

struct stamp_bytes {
	int64_t sec;
	uint64_t bytes[3];
};

struct follow {
	runtime_log_fn fn;
	runtime_stamp_fn stamp; /* the caller's, NULL: none */
	void *ud;
	bool tty;
	bool stopped; /* fn asked to stop */
	bool broken;  /* the body stopped being frames */
	bool fresh;   /* the last read delivered something */
	/* across reads */
	int64_t base_ns;  /* since=; 0: the whole log */
	uint64_t sent[3]; /* bytes delivered of the records from base on */
	/* this read */
	uint64_t seen[3];
	struct stamp_bytes *hist; /* bytes per stamp second, in log order */
	size_t n_hist, cap_hist;
	bool unstamped; /* a record without a usable stamp: base stays put */
	struct compat_stamped parser;
	int64_t sec;    /* the current record's stamp, whole seconds */
	int64_t rec_ns; /* the same in ns, 0: unusable */
};

static void follow_count(struct follow *f, int64_t sec, int stream, size_t n)
{
	struct stamp_bytes *h;

	if (f->n_hist == 0 || f->hist[f->n_hist - 1].sec != sec) {
		if (f->n_hist == f->cap_hist) {
			size_t cap = f->cap_hist ? 2 * f->cap_hist : 16;
			struct stamp_bytes *v = realloc(f->hist, cap * sizeof(*v));

			if (!v) {
				f->unstamped = true; /* cannot account: do not move base */
				return;
			}
			f->hist = v;
			f->cap_hist = cap;
		}
		f->hist[f->n_hist++] = (struct stamp_bytes){.sec = sec};
	}
	h = &f->hist[f->n_hist - 1];
	h->bytes[stream] += n;
}

/* Passes on the part of n bytes of `stream` not delivered before, as a
 * frame of its own (raw for a tty). */
static int follow_emit(struct follow *f, int stream, const char *data, size_t n)
{
	uint64_t start = f->seen[stream], end = start + n;
	size_t off;

	f->seen[stream] = end;
	if (end <= f->sent[stream])
		return 0;
	off = f->sent[stream] > start ? (size_t)(f->sent[stream] - start) : 0;
	f->sent[stream] = end;
	f->fresh = true;
	if (f->stamp && !f->tty)
		f->stamp(f->ud, stream, f->rec_ns);
	if (compat_log_frame(f->fn, f->ud, f->tty, stream, data + off, n - off) != 0)
		return f->stopped = true, 1;
	return 0;
}

static void follow_record(void *ud, int stream, const char *stamp, size_t len)
{
	struct follow *f = ud;
	int64_t ns = len < COMPAT_STAMP_MAX ? parse_rfc3339(stamp) : 0;

	(void)stream;
	f->rec_ns = ns > 0 ? ns : 0;
	if (ns <= 0) {
		f->unstamped = true;
		f->sec = INT64_MAX;
	} else {
		f->sec = ns / NS_PER_S;
	}
}

static int follow_payload(void *ud, int stream, const char *data, size_t n)
{
	struct follow *f = ud;

	if (!f->tty) /* a tty log has no stamps to count by */
		follow_count(f, f->sec, stream, n);
	return follow_emit(f, stream, data, n);
}

static int follow_data(void *ud, const char *data, size_t len)
{
	struct follow *f = ud;

	return compat_stamped_feed(&f->parser, f->tty, &f->broken, data, len, follow_record,
	                           follow_payload, f);
}

/* Moves base to the newest whole second that had settled when the read
 * began, or to the second before the newest one the read saw if later
 * (above), forgetting what was delivered before it. */
static void follow_advance(struct follow *f, int64_t read_began_ns)
{
	int64_t k = (read_began_ns - PODMAN_FOLLOW_SETTLE_NS) / NS_PER_S;

	if (f->n_hist > 0 && f->hist[f->n_hist - 1].sec != INT64_MAX &&
	    f->hist[f->n_hist - 1].sec - 1 > k)
		k = f->hist[f->n_hist - 1].sec - 1;

	if (f->tty || f->unstamped || k * NS_PER_S <= f->base_ns)
		return;
	for (size_t i = 0; i < f->n_hist; i++)
		for (int s = 0; s < 3 && f->hist[i].sec < k; s++)
			f->sent[s] -=
			    f->hist[i].bytes[s] < f->sent[s] ? f->hist[i].bytes[s] : f->sent[s];
	f->base_ns = k * NS_PER_S;
}

/* Sleeps ms, or less when ctx ends. */
static int follow_pause(dms_context *ctx, long ms)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	int64_t until = mono_now_ns() + ms * 1000000LL;
	int rc = 0;

	ctx_cond_init(&cond);
	pthread_mutex_lock(&mu);
	while (rc == 0 && mono_now_ns() < until)
		rc = ctx_cond_wait(ctx, &cond, &mu, until);
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cond);
	return rc == DMS_ERR_TIMEOUT && ctx_status(ctx) == 0 ? 0 : ctx_status(ctx);
}

static int podman_follow(struct runtime *rt, dms_context *ctx, const char *id,
                         const struct log_options *opts, runtime_log_fn fn, void *ud,
                         dms_error **err)
{
	struct follow f = {.fn = fn,
	                   .stamp = opts->stamp,
	                   .ud = ud,
	                   .base_ns = opts->since_ns > 0 ? opts->since_ns : 0};
	long pause = PODMAN_FOLLOW_POLL_MIN_MS;
	int rc;

	for (;;) {
		struct log_options read = *opts;
		struct container_state st = {0};
		bool last;
		int64_t began;

		/* Stopped before the read began: the read has everything. */
		if ((rc = compat_container_inspect(rt, ctx, id, &st, err)) != 0)
			break;
		f.tty = st.tty;
		last = st.status == CS_EXITED || st.status == CS_DEAD;
		container_state_free(&st);

		read.follow = false;
		read.since_ns = f.tty ? read.since_ns : f.base_ns;
		memset(f.seen, 0, sizeof(f.seen));
		f.n_hist = 0;
		compat_stamped_reset(&f.parser);
		f.fresh = false;
		f.unstamped = false;
		began = wall_now_ns();
		rc = podman_read(rt, ctx, id, &read, !f.tty, follow_data, &f, NULL, err);
		if (rc == 0 && f.broken)
			rc = compat_logs_not_frames(id, err);
		if (f.stopped || rc != 0 || last)
			break;
		follow_advance(&f, began);
		pause = f.fresh
		            ? PODMAN_FOLLOW_POLL_MIN_MS
		            : (pause * 2 < PODMAN_FOLLOW_POLL_MAX_MS ? pause * 2
		                                                     : PODMAN_FOLLOW_POLL_MAX_MS);
		if ((rc = follow_pause(ctx, pause)) != 0) {
			rc = err_set(err, rc, "container logs %s: %s", id,
			             rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded");
			break;
		}
	}
	free(f.hist);
	return f.stopped ? 0 : rc;
}

/* Every Podman log read: through the holdback, and following by reading
 * again (above) — except the last N lines followed on, which is no position
 * a since= can resume from: that one case takes Podman's own stream, as
 * it comes. */
static int podman_logs(struct runtime *rt, dms_context *ctx, const char *id,
                       const struct log_options *opts, runtime_log_fn fn, void *ud, dms_error **err)
{
	struct compat_unstamp u;
	int rc;

	if (opts->follow && opts->tail >= 0)
		return compat_logs_read_stamped(rt, ctx, id, opts, fn, ud, err);
	if (opts->follow)
		return podman_follow(rt, ctx, id, opts, fn, ud, err);
	if (!opts->stamp)
		return podman_read(rt, ctx, id, opts, false, fn, ud, NULL, err);
	compat_unstamp_init(&u, opts, fn, ud);
	rc = podman_read(rt, ctx, id, opts, true, compat_unstamp_data, &u, NULL, err);
	if (rc == 0 && u.broken)
		rc = compat_logs_not_frames(id, err);
	return rc;
}

/* Podman's compat /events renames libpod's "died" to "die" (with exitCode);
 * a container's removal stays "remove" (Docker: "destroy"). Podman 4.3 emits
 * no "oom" event: an OOM kill is known only from State.OOMKilled. "died"
 * and "containerExitCode" are libpod's names, kept should the compat
 * renaming ever be skipped. */
static const struct compat_event_name podman_events[] = {
    {"start", RT_EV_START},    {"die", RT_EV_DIE},         {"died", RT_EV_DIE}, {"oom", RT_EV_OOM},
    {"remove", RT_EV_DESTROY}, {"destroy", RT_EV_DESTROY}, {NULL, RT_EV_OTHER},
};

static const char *const podman_exit_code_attributes[] = {"exitCode", "containerExitCode", NULL};

const struct compat_flavor compat_podman_flavor = {
    .kind = "podman",
    .events = podman_events,
    .exit_code_attributes = podman_exit_code_attributes,
    /* {"label":["k"]} on /events (compat and libpod) delivers no event at
     * all on Podman 4.3, while lists and prunes honour it. */
    .events_key_only_label_here = true,
    .fill_info = podman_fill_info,
    .image_import = podman_image_import,
    .logs = podman_logs,
};

/* Podman's events report an exit late: container_watch holds an attach
 * that ends with the process (runtime.h). */
const struct runtime_ops podman_runtime_ops = {
    COMPAT_RUNTIME_OPS,
    .kind = "podman",
    .open = podman_open,
    .container_watch = compat_container_watch,
};
