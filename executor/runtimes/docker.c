/* docker.c — the runtime table (runtime.h) for the Docker Engine: where
 * dockerd listens and what is Docker's own about its API.
 *
 * Exists as a thin table over the compat layer (compat.h), which speaks the
 * Engine API for both engines: this file holds Docker's socket discovery and
 * Docker's flavor (its event names, the compat /info fingerprint, and the
 * completion of its follow log stream). The flavor is also what the compat
 * layer uses for any engine that does not say it is Podman. GPU requests
 * are the compat layer's too (compat_create.c, compat_gpu.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "clock.h"

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"

/* The config's host, then $DOCKER_HOST, then the system socket. */
char *docker_endpoint(const char *host)
{
	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = DOCKER_DEFAULT_HOST;
	return strdup(host);
}

static int docker_open(const char *host, struct runtime **out, dms_error **err)
{
	return compat_open_owned(docker_endpoint(host), &compat_docker_flavor, out, err);
}

/* ---- follow: complete what dockerd's follow stream drops -----------------
 *
 * dockerd's follow=1 stream can end without the log's last record (a final
 * partial line, in 7 of 10 runs of a 50 MB job: docs/engine-api.md, "Engine
 * behaviours the runtimes design around"), while a read after the exit has
 * it. A follow
 * read is the whole log to the executor (runtime.h), so it is completed
 * here, from the engine, transferring only the missing tail:
 *
 * - the follow asks for timestamps=1 and remembers, per stream, the stamp
 *   of the last record passed on and how many bytes of that stamp went out
 *   (a line longer than 16 KiB is several records with one stamp);
 * - when it ends and the container has stopped, the last K records are read
 *   (tail=K: dockerd seeks from the end of the file; a since= read scans the
 *   whole file, ≈ 4 s for 200 MB here) and, per stream, what is stamped
 *   before the last stamp seen and the bytes of that stamp already sent are
 *   skipped. dockerd stamps a stream's records in the order it writes them,
 *   so a stream's stamps never go back and what was sent is a prefix of it.
 * - The tail is checked in a first pass before anything goes out: it must
 *   hold the whole log, or begin with a record already sent (stamped before
 *   its stream's last) and, for every stream whose last stamp it holds, a
 *   record stamped earlier too (else its group might be cut). Otherwise K
 *   grows and the read is repeated; at worst it becomes the whole log.
 *
 * A follow that ends while the container still runs is resumed from the
 * start, skipping the bytes already sent per stream. A tty log has no frames
 * to carry stamps: it is completed by a whole read that skips what was
 * sent. A stamp that does not parse does the same. */

#define DOCKER_TAIL_FIRST 256
#define DOCKER_TAIL_GROWTH 16
#define DOCKER_REFOLLOW_MAX 3

enum dfollow_mode {
	DF_PREFIX, /* a read from the log's start: send what lies beyond sent[] */
	DF_CHECK,  /* a tail read, first pass: does it cover what is missing? */
	DF_TAIL,   /* the same tail again: send what it has beyond the stamps */
};

struct dfollow {
	runtime_log_fn fn;
	runtime_stamp_fn stamp; /* the caller's, NULL: none */
	void *ud;
	bool tty;
	bool stopped;   /* fn asked to stop */
	bool broken;    /* the body stopped being frames */
	bool bad_stamp; /* a record whose stamp did not parse */
	enum dfollow_mode mode;
	/* what went out, per stream */
	uint64_t sent[3];
	bool seen[3];       /* a record of the stream went out */
	int64_t last_ns[3]; /* the stamp of the last one */
	uint64_t group[3];  /* bytes sent stamped last_ns */
	/* this read */
	uint64_t pos[3];   /* DF_PREFIX: bytes of the stream read so far */
	int64_t rec_ns;    /* the current record's stamp */
	bool rec_skip;     /* DF_TAIL: drop the current record */
	uint64_t gskip[3]; /* DF_TAIL: group bytes still to drop */
	bool snap_seen[3]; /* DF_CHECK/DF_TAIL: seen/last_ns as the tail began */
	int64_t snap_ns[3];
	size_t n_rec; /* DF_CHECK */
	int first_stream;
	int64_t first_ns;
	bool before[3], at_last[3];
	struct compat_stamped parser;
	/* the date part of the last stamp parsed, to parse only the fraction */
	char day[20];
	int64_t day_ns;
};

/* Docker's RFC 3339 stamp with nanoseconds ("...T19:11:02.12345Z", trailing
 * zeros trimmed); 0 when it does not parse. */
static int64_t dfollow_stamp_ns(struct dfollow *f, const char *s, size_t n)
{
	int64_t frac = 0, scale = 100000000LL;
	size_t i = 19;

	if (n >= COMPAT_STAMP_MAX)
		return 0;
	if (n < 20 || s[n - 1] != 'Z' || (s[19] != '.' && s[19] != 'Z'))
		return parse_rfc3339(s);
	if (memcmp(s, f->day, 19) != 0 || !f->day_ns) {
		memcpy(f->day, s, 19);
		f->day[19] = 'Z';
		char day[21];
		memcpy(day, f->day, 20);
		day[20] = '\0';
		f->day_ns = parse_rfc3339(day);
		if (!f->day_ns) {
			memset(f->day, 0, sizeof(f->day));
			return 0;
		}
	}
	if (s[19] == '.')
		for (i = 20; i < n - 1; i++) {
			if (s[i] < '0' || s[i] > '9')
				return 0;
			frac += (s[i] - '0') * scale;
			scale /= 10;
		}
	return f->day_ns + frac;
}

/* Sends n bytes of `stream` as a frame of their own (raw for a tty). */
static int dfollow_send(struct dfollow *f, int stream, const char *data, size_t n)
{
	if (n == 0)
		return 0;
	if (f->stamp && !f->tty)
		f->stamp(f->ud, stream, f->rec_ns);
	if (compat_log_frame(f->fn, f->ud, f->tty, stream, data, n) != 0)
		return f->stopped = true, 1;
	f->sent[stream] += n;
	if (!f->seen[stream] || f->last_ns[stream] != f->rec_ns) {
		f->seen[stream] = true;
		f->last_ns[stream] = f->rec_ns;
		f->group[stream] = 0;
	}
	f->group[stream] += n;
	return 0;
}

/* A record's stamp is known: what the mode makes of the record. */
static void dfollow_record(void *ud, int s, const char *stamp, size_t len)
{
	struct dfollow *f = ud;

	f->rec_ns = dfollow_stamp_ns(f, stamp, len);
	if (f->rec_ns <= 0)
		f->bad_stamp = true;
	if (f->mode == DF_CHECK) {
		if (f->n_rec++ == 0) {
			f->first_stream = s;
			f->first_ns = f->rec_ns;
		}
		if (f->snap_seen[s] && f->rec_ns < f->snap_ns[s])
			f->before[s] = true;
		else if (f->snap_seen[s] && f->rec_ns == f->snap_ns[s])
			f->at_last[s] = true;
	} else if (f->mode == DF_TAIL) {
		f->rec_skip = f->snap_seen[s] && f->rec_ns < f->snap_ns[s];
	}
}

/* n payload bytes of the current record (of stream s). */
static int dfollow_payload(void *ud, int s, const char *data, size_t n)
{
	struct dfollow *f = ud;
	uint64_t cut = 0;

	switch (f->mode) {
	case DF_CHECK:
		return 0;
	case DF_PREFIX: {
		uint64_t start = f->pos[s];

		f->pos[s] += n;
		if (f->pos[s] <= f->sent[s])
			return 0;
		cut = f->sent[s] > start ? f->sent[s] - start : 0;
		break;
	}
	case DF_TAIL:
		if (f->rec_skip)
			return 0;
		if (f->snap_seen[s] && f->rec_ns == f->snap_ns[s]) {
			cut = f->gskip[s] < n ? f->gskip[s] : n;
			f->gskip[s] -= cut;
		}
		break;
	}
	return dfollow_send(f, s, data + cut, n - (size_t)cut);
}

static int dfollow_data(void *ud, const char *data, size_t len)
{
	struct dfollow *f = ud;

	return compat_stamped_feed(&f->parser, f->tty, &f->broken, data, len, dfollow_record,
	                           dfollow_payload, f);
}

/* One read in `mode`; 0, or an error category. */
static int dfollow_read(struct runtime *rt, dms_context *ctx, const char *id, struct dfollow *f,
                        enum dfollow_mode mode, bool follow, int64_t tail, dms_error **err)
{
	struct log_options lo = {.follow = follow, .stdout_ = true, .stderr_ = true, .tail = tail};
	int rc;

	f->mode = mode;
	memset(f->pos, 0, sizeof(f->pos));
	compat_stamped_reset(&f->parser);
	f->n_rec = 0;
	memset(f->before, 0, sizeof(f->before));
	memset(f->at_last, 0, sizeof(f->at_last));
	memcpy(f->snap_seen, f->seen, sizeof(f->seen));
	memcpy(f->snap_ns, f->last_ns, sizeof(f->last_ns));
	memcpy(f->gskip, f->group, sizeof(f->group));
	rc = compat_logs_read(rt, ctx, id, &lo, !f->tty, dfollow_data, f, err);
	if (f->stopped)
		return 0;
	if (rc == 0 && f->broken)
		rc = compat_logs_not_frames(id, err);
	return rc;
}

/* Whether the tail just checked holds every record not sent yet, and lets
 * the records already sent be told apart (above). */
static bool dfollow_tail_covers(const struct dfollow *f, int64_t k)
{
	bool whole = (int64_t)f->n_rec < k;

	if (f->bad_stamp)
		return false;
	if (!whole && (f->n_rec == 0 || !f->snap_seen[f->first_stream] ||
	               f->first_ns >= f->snap_ns[f->first_stream]))
		return false;
	for (int s = 1; s <= 2; s++)
		if (!whole && f->at_last[s] && !f->before[s])
			return false;
	return true;
}

/* Sends what the follow did not, once the container has stopped. */
static int dfollow_complete(struct runtime *rt, dms_context *ctx, const char *id, struct dfollow *f,
                            dms_error **err)
{
	int rc;

	if (!f->seen[1] && !f->seen[2] && !f->seen[0])
		return dfollow_read(rt, ctx, id, f, DF_PREFIX, false, -1, err); /* nothing sent */
	if (!f->tty && !f->bad_stamp)
		for (int64_t k = DOCKER_TAIL_FIRST; k < INT64_MAX / DOCKER_TAIL_GROWTH;
		     k *= DOCKER_TAIL_GROWTH) {
			if ((rc = dfollow_read(rt, ctx, id, f, DF_CHECK, false, k, err)) != 0)
				return rc;
			if (f->bad_stamp)
				break;
			if (dfollow_tail_covers(f, k))
				return dfollow_read(rt, ctx, id, f, DF_TAIL, false, k, err);
			if ((int64_t)f->n_rec < k)
				break; /* the whole log and still no answer: read it all */
		}
	return dfollow_read(rt, ctx, id, f, DF_PREFIX, false, -1, err);
}

static int docker_follow(struct runtime *rt, dms_context *ctx, const char *id, runtime_log_fn fn,
                         runtime_stamp_fn stamp, void *ud, dms_error **err)
{
	struct dfollow f = {.fn = fn, .stamp = stamp, .ud = ud, .parser.min_stream = 1};
	int rc = 0;

	for (int attempt = 0;; attempt++) {
		struct container_state st = {0};
		bool running;

		if ((rc = compat_container_inspect(rt, ctx, id, &st, err)) != 0)
			return rc;
		f.tty = st.tty;
		running =
		    st.status == CS_RUNNING || st.status == CS_RESTARTING || st.status == CS_PAUSED;
		container_state_free(&st);
		if (!running)
			break; /* stopped: everything is in the log */
		if (attempt == DOCKER_REFOLLOW_MAX)
			return err_engine(err, DMS_ERR_CONTAINER, "container logs", id, NULL,
			                  "container logs %s: the follow stream keeps ending while "
			                  "the container runs",
			                  id);
		if ((rc = dfollow_read(rt, ctx, id, &f, DF_PREFIX, true, -1, err)) != 0 ||
		    f.stopped)
			return f.stopped ? 0 : rc;
	}
	rc = dfollow_complete(rt, ctx, id, &f, err);
	return f.stopped ? 0 : rc;
}

/* Following is completed as above; everything else is the plain read. */
static int docker_logs(struct runtime *rt, dms_context *ctx, const char *id,
                       const struct log_options *opts, runtime_log_fn fn, void *ud, dms_error **err)
{
	if (opts->follow && opts->tail < 0 && opts->since_ns <= 0 && opts->stdout_ && opts->stderr_)
		return docker_follow(rt, ctx, id, fn, opts->stamp, ud, err);
	return compat_logs_read_stamped(rt, ctx, id, opts, fn, ud, err);
}

static const struct compat_event_name docker_events[] = {
    {"start", RT_EV_START},     {"die", RT_EV_DIE},  {"oom", RT_EV_OOM},
    {"destroy", RT_EV_DESTROY}, {NULL, RT_EV_OTHER},
};

static const char *const docker_exit_code_attributes[] = {"exitCode", NULL};

const struct compat_flavor compat_docker_flavor = {
    .kind = "docker",
    .events = docker_events,
    .exit_code_attributes = docker_exit_code_attributes,
    .events_key_only_label_here = false, /* dockerd filters on a bare key */
    .fill_info = NULL,                   /* /info: SecurityOptions, CgroupVersion */
    .image_import = NULL,                /* fromSrc honours repo and tag */
    .logs = docker_logs,                 /* completes what a follow drops */
};

/* Docker's exit is its die event: no container_watch (runtime.h). */
const struct runtime_ops docker_runtime_ops = {
    COMPAT_RUNTIME_OPS,
    .kind = "docker",
    .open = docker_open,
};
