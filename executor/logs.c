/* logs.c — GetLogStream: a socket the caller reads a job's output from.
 *
 * While the job runs, output comes from the engine's log endpoint (follow
 * or not); after it ended, from the job's spool, which the harvester filled
 * from a non-follow read. A follow read of the engine is the whole log
 * (runtime.h: the runtimes complete what engines' follow streams drop;
 * docs/architecture.md, "Logs"), so a follower whose engine read ended cleanly is done at
 * once — it never waits for the harvest, and the harvest does not remove
 * the container while a stream reads it (executor_engine_reader_done).
 * A harvest that spooled the whole log ends the engine reads of the job's
 * followers, which send the rest from the spool (logs_harvested): an
 * engine's follow ends later than that (Podman's by up to 250 ms).
 * So does a read that failed (the container was removed anyway, by Cleanup
 * or from outside: 404), after waiting for the harvest; both skip what was
 * already sent, counted per stream. `tail` and `lines` are the same mechanism: a number
 * of bytes per stream to skip, counted when the call is made. One
 * short-lived thread per open stream, none per job. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "context.h"
#include "demux.h"
#include "error.h"
#include "executor_internal.h"
#include "spool.h"

#define MAX_LINES 1000000

struct pump {
	struct dms_executor *ex;
	struct handler *h;
	dms_context *ctx; /* the executor's life, and the reader still there */
	int fd;
	enum log_format format;
	bool follow;
	bool timestamps;       /* each line with its record's stamp */
	int64_t stamp[3];      /* the stamp of each stream's current record */
	bool mid_line[3];      /* the last byte sent of the stream was no '\n' */
	uint64_t skip[3];      /* bytes of each stream the reader does not want */
	uint64_t seen[3];      /* bytes of each stream passed through the sink */
	dms_context *read_ctx; /* the engine read in progress; under ex->mu */
	bool to_spool;         /* the harvest ended it: the spool has the rest */
	pthread_t thread;
	struct pump *next; /* ex->pumps, then ex->pumps_ended; under ex->mu */
};

/* Removes p from the live list (ex->mu held): shutdown no longer sees its
 * fd. */
static void pump_unlink(struct pump *p)
{
	for (struct pump **pp = &p->ex->pumps; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
}

/* The thread's last step: p waits on ex->pumps_ended to be joined. A
 * detached thread once ended after this point unsupervised: destroy could
 * return — and the host dlclose() the plugin, or exit and run OpenSSL's
 * atexit cleanup (LeakSanitizer: the thread's error state leaked) — while
 * it still ran. */
static void pump_ended(struct pump *p)
{
	struct dms_executor *ex = p->ex;
	pthread_mutex_lock(&ex->mu);
	p->next = ex->pumps_ended;
	ex->pumps_ended = p;
	ex->log_threads--;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

void logs_reap(struct dms_executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	struct pump *p = ex->pumps_ended;
	ex->pumps_ended = NULL;
	pthread_mutex_unlock(&ex->mu);
	while (p) {
		struct pump *next = p->next;
		pthread_join(p->thread, NULL);
		free(p);
		p = next;
	}
}

void logs_shutdown_all(struct dms_executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	for (struct pump *p = ex->pumps; p; p = p->next)
		shutdown(p->fd, SHUT_RDWR);
	pthread_mutex_unlock(&ex->mu);
}

/* h's harvest filled its spool completely: the follows still reading the
 * engine end there and send the rest from the spool. An engine's follow
 * stream ends some time after the exit (Podman notices it by polling, up to
 * 250 ms later, then drains its log file); the spool is there now. */
void logs_harvested(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&ex->mu);
	for (struct pump *p = ex->pumps; p; p = p->next)
		if (p->h == h && p->read_ctx && p->follow) {
			p->to_spool = true;
			ctx_cancel(p->read_ctx);
		}
	pthread_mutex_unlock(&ex->mu);
}

/* ------------------------------------------------------------- sending */

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* EPIPE: the reader went away */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One piece of a stream's output: a frame (framed), or the bytes (plain),
 * with `pre` (a stamp) before them. */
static int pump_send(struct pump *p, int stream, const char *pre, size_t pre_len, const char *data,
                     size_t len)
{
	if (p->format == LOG_FORMAT_FRAMED) {
		uint8_t hdr[8];
		demux_frame_header(hdr, stream, (uint32_t)(pre_len + len));
		if (send_all(p->fd, hdr, sizeof(hdr)) != 0)
			return -1;
	}
	if (pre_len && send_all(p->fd, pre, pre_len) != 0)
		return -1;
	return send_all(p->fd, data, len);
}

/* With timestamps: each line that starts here gets its record's stamp, as
 * `docker logs -t` prints it (RFC 3339, UTC, nine digits, a space). */
static int pump_send_stamped(struct pump *p, int stream, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) + 1 : len;
		char pre[48];
		size_t pre_len = 0;

		if (!p->mid_line[stream] && p->stamp[stream] > 0) {
			format_rfc3339(p->stamp[stream], pre, sizeof(pre) - 1);
			pre_len = strlen(pre);
			pre[pre_len++] = ' ';
		}
		if (pump_send(p, stream, pre, pre_len, data, seg) != 0)
			return -1;
		p->mid_line[stream] = nl == NULL;
		data += seg;
		len -= seg;
	}
	return 0;
}

static void pump_stamp(void *ud, int stream, int64_t wall_ns)
{
	struct pump *p = ud;
	if (stream == DEMUX_STDOUT || stream == DEMUX_STDERR)
		p->stamp[stream] = wall_ns;
}

static int pump_sink(void *ud, int stream, const char *data, size_t len)
{
	struct pump *p = ud;
	int s;
	int64_t ns;

	if (stream == DEMUX_STAMP && spool_stamp_decode(data, len, &s, &ns))
		pump_stamp(p, s, ns);
	if (stream != DEMUX_STDOUT && stream != DEMUX_STDERR)
		return 0;
	uint64_t start = p->seen[stream];
	p->seen[stream] += len;
	if (p->seen[stream] <= p->skip[stream])
		return 0;
	size_t off = p->skip[stream] > start ? (size_t)(p->skip[stream] - start) : 0;
	data += off;
	len -= off;
	if (p->timestamps)
		return pump_send_stamped(p, stream, data, len) != 0 ? 1 : 0;
	return pump_send(p, stream, NULL, 0, data, len) != 0 ? 1 : 0;
}

/* ------------------------------------------------- reading engine logs */

struct engine_feed {
	struct demux d;
	demux_sink_fn sink;
	void (*stamp)(void *ud, int stream, int64_t wall_ns); /* NULL: no stamps */
	void *ud;
	int stopped; /* the sink's non-zero return */
};

static void engine_feed_stamp(void *ud, int stream, int64_t wall_ns)
{
	struct engine_feed *f = ud;
	f->stamp(f->ud, stream, wall_ns);
}

static int engine_feed_fn(void *ud, const char *data, size_t len)
{
	struct engine_feed *f = ud;
	int rc = demux_feed(&f->d, data, len, f->sink, f->ud);
	if (rc > 0)
		f->stopped = rc;
	return rc != 0;
}

/* What read_engine returns when the sink stopped the stream (the reader
 * left): not a category, which are all positive — DMS_ERR_NOT_FOUND is 1,
 * and a follow of a container harvested meanwhile ends with it. */
#define READER_LEFT (-1)

/* Reads the container's log (following or not) through sink, each
 * record's stamp to stamp first (NULL: none). Returns 0 when the stream
 * ended, READER_LEFT, or an error category. */
static int read_engine(struct dms_executor *ex, dms_context *ctx, const char *cid, bool tty,
                       bool follow, demux_sink_fn sink,
                       void (*stamp)(void *ud, int stream, int64_t wall_ns), void *ud)
{
	struct engine_feed f = {.sink = sink, .stamp = tty ? NULL : stamp, .ud = ud};
	demux_init(&f.d, tty);
	struct log_options lo = {.follow = follow,
	                         .stdout_ = true,
	                         .stderr_ = true,
	                         .tail = -1,
	                         .stamp = f.stamp ? engine_feed_stamp : NULL};
	int rc = ex->rt_ops->container_logs(ex->rt, ctx, cid, &lo, engine_feed_fn, &f, NULL);
	return f.stopped ? READER_LEFT : rc;
}

/* Where h's output can be read right now. */
struct source {
	char *container_id; /* non-NULL: the container still has it */
	char *spool_path;   /* non-NULL: harvested */
	bool tty;
	dms_exec_state state;
};

static void source_get(struct handler *h, struct source *s)
{
	pthread_mutex_lock(&h->mu);
	bool harvested = h->exit == HANDLER_EXIT_HARVESTED;
	s->spool_path = harvested && h->spool_path ? strdup(h->spool_path) : NULL;
	s->container_id = !harvested && h->container_id ? strdup(h->container_id) : NULL;
	s->tty = h->tty;
	s->state = h->state;
	pthread_mutex_unlock(&h->mu);
}

static void source_free(struct source *s)
{
	free(s->container_id);
	free(s->spool_path);
}

/* ----------------------------------------------- tail and lines: skips */

struct counter {
	uint64_t total[3];
	uint64_t (*ring)[2]; /* the last `cap` line starts, as (stdout, stderr) offsets */
	size_t cap, n, head;
	bool at_line_start;
};

static int counter_sink(void *ud, int stream, const char *data, size_t len)
{
	struct counter *c = ud;
	if (stream != DEMUX_STDOUT && stream != DEMUX_STDERR)
		return 0;
	const char *p = data, *end = data + len;
	while (p < end) {
		if (c->at_line_start && c->cap) {
			c->ring[c->head][0] = c->total[1];
			c->ring[c->head][1] = c->total[2];
			c->head = (c->head + 1) % c->cap;
			c->n++;
			c->at_line_start = false;
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *seg_end = nl ? nl + 1 : end;
		c->total[stream] += (uint64_t)(seg_end - p);
		c->at_line_start = nl != NULL;
		p = seg_end;
	}
	return 0;
}

/* Fills p->skip: everything so far (tail), or all but the last `lines`. */
static int compute_skip(struct pump *p, const struct log_request *lr, dms_error **err)
{
	if (!lr->tail && lr->lines < 0)
		return 0;
	struct counter c = {.at_line_start = true};
	if (!lr->tail) {
		if (lr->lines > MAX_LINES)
			return err_set(err, DMS_ERR_INVALID_ARGUMENT, "lines: at most %d, got %lld",
			               MAX_LINES, (long long)lr->lines);
		c.cap = (size_t)lr->lines;
		if (c.cap && !(c.ring = calloc(c.cap, sizeof(*c.ring))))
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	struct source s;
	source_get(p->h, &s);
	int rc = 0;
	if (s.spool_path)
		rc = spool_replay(s.spool_path, NULL, counter_sink, &c) < 0 ? DMS_ERR_INTERNAL : 0;
	else if (s.container_id && s.state >= DMS_STATE_RUNNING)
		rc = read_engine(p->ex, p->ctx, s.container_id, s.tty, false, counter_sink, NULL,
		                 &c);
	source_free(&s);
	if (rc != 0) {
		free(c.ring);
		return err_set(err, rc < 0 ? DMS_ERR_INTERNAL : rc, "reading the log of %s",
		               p->h->execution_id);
	}
	if (lr->tail || (c.cap == 0 && c.n <= c.cap)) {
		p->skip[1] = c.total[1];
		p->skip[2] = c.total[2];
	} else if (c.n > c.cap) {
		/* The oldest kept start is where the last `cap` lines begin. */
		p->skip[1] = c.ring[c.head][0];
		p->skip[2] = c.ring[c.head][1];
	}
	free(c.ring);
	return 0;
}

/* ---------------------------------------------------------- the thread */

/* Waits (h->mu held) until pred holds, the executor shuts down or the
 * reader leaves: a follower of an idle job ends when its reader does. */
#define WAIT_FOR(p, pred)                                                                          \
	do {                                                                                       \
		while (!(pred) &&                                                                  \
		       ctx_cond_wait((p)->ctx, &(p)->h->cond, &(p)->h->mu, INT64_MAX) == 0) {      \
		}                                                                                  \
	} while (0)

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	struct handler *h = p->h;
	struct source s;
	int rc = 0;

	if (p->follow) { /* nothing to read before the container runs */
		pthread_mutex_lock(&h->mu);
		WAIT_FOR(p, h->state >= DMS_STATE_RUNNING);
		pthread_mutex_unlock(&h->mu);
	}
	source_get(h, &s);
	bool from_engine = s.container_id && handler_state_live(s.state) && handler_reader_enter(h);
	bool switched = false;
	if (from_engine) {
		dms_context *rctx = ctx_new_child(p->ctx, -1);
		pthread_mutex_lock(&p->ex->mu);
		p->read_ctx = rctx;
		pthread_mutex_unlock(&p->ex->mu);
		rc = read_engine(p->ex, rctx ? rctx : p->ctx, s.container_id, s.tty, p->follow,
		                 pump_sink, p->timestamps ? pump_stamp : NULL, p);
		pthread_mutex_lock(&p->ex->mu);
		p->read_ctx = NULL;
		switched = p->to_spool;
		pthread_mutex_unlock(&p->ex->mu);
		ctx_free(rctx);
		executor_engine_reader_done(p->ex, h);
	}
	/* A clean engine read is complete, following or not. READER_LEFT or a
	 * done context: the reader left (or the executor is going). A failed
	 * engine read (the container was removed: 404), a follow that found
	 * the job no longer running, a job already harvested, or a read the
	 * harvest ended (logs_harvested): the spool. */
	bool from_spool = ctx_status(p->ctx) == 0 && rc != READER_LEFT &&
	                  (switched || (!(from_engine && rc == 0) &&
	                                (s.spool_path != NULL || p->follow || rc != 0)));
	source_free(&s);

	if (from_spool) {
		/* Complete from the spool: wait for the harvest, then send what
		 * the engine stream did not. */
		pthread_mutex_lock(&h->mu);
		/* The harvest completes before the final transition, so a final
		 * handler that is not harvested never will be. */
		WAIT_FOR(p, h->exit == HANDLER_EXIT_HARVESTED || handler_state_final(h->state));
		pthread_mutex_unlock(&h->mu);
		source_get(h, &s);
		if (s.spool_path) {
			for (int i = 1; i <= 2; i++) {
				if (p->seen[i] > p->skip[i])
					p->skip[i] = p->seen[i];
				p->seen[i] = 0;
			}
			spool_replay(s.spool_path, NULL, pump_sink, p);
		}
		source_free(&s);
	}
	pthread_mutex_lock(&p->ex->mu);
	pump_unlink(p);
	pthread_mutex_unlock(&p->ex->mu);
	close(p->fd);
	ctx_free(p->ctx);
	handler_unref(h);
	pump_ended(p);
	return NULL;
}

int logs_open_stream(struct dms_executor *ex, struct handler *h, const struct log_request *lr,
                     int *fd_out, dms_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return err_set(err, DMS_ERR_RESOURCE, "log stream socket: %s", strerror(errno));
	shutdown(sv[0], SHUT_WR); /* the reader only reads */
	struct pump *p = calloc(1, sizeof(*p));
	int rc = 0;
	if (!p) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	p->ex = ex;
	p->h = handler_ref(h);
	p->fd = sv[1];
	if (!(p->ctx = ctx_new_child(ex->life, sv[1]))) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	p->format = lr->format;
	p->follow = lr->follow;
	p->timestamps = lr->timestamps;
	if (p->timestamps) {
		pthread_mutex_lock(&h->mu);
		bool tty = h->tty;
		pthread_mutex_unlock(&h->mu);
		if (tty) {
			rc = err_set(err, DMS_ERR_INVALID_ARGUMENT,
			             "log request: timestamps: %s has a TTY: its output is one raw "
			             "stream, without records to stamp",
			             h->execution_id);
			goto fail;
		}
	}
	if ((rc = compute_skip(p, lr, err)) != 0)
		goto fail;

	logs_reap(ex); /* the streams that ended since the last one opened */
	/* Linked and started under ex->mu: p->thread is set before the thread
	 * can end and be joined (pump_ended takes ex->mu). */
	pthread_mutex_lock(&ex->mu);
	p->next = ex->pumps;
	ex->pumps = p;
	ex->log_threads++;
	bool started = pthread_create(&p->thread, NULL, pump_main, p) == 0;
	if (!started) {
		pump_unlink(p);
		ex->log_threads--;
	}
	pthread_mutex_unlock(&ex->mu);
	if (!started) {
		rc = err_set(err, DMS_ERR_RESOURCE, "cannot start a log stream thread");
		goto fail;
	}
	*fd_out = sv[0];
	return 0;
fail:
	if (p) {
		handler_unref(p->h);
		ctx_free(p->ctx);
	}
	free(p);
	close(sv[0]);
	close(sv[1]);
	return rc;
}
