/* exec.c — Exec, ExecResize and ExecWait (ABI 1.2): a command run inside
 * a running execution, its stdin and output carried over a socket pair
 * whose other end the caller holds (docs/architecture.md, "Exec").
 *
 * Two threads per executor, made at its first exec, however many execs
 * run: the relay, one poll loop that copies bytes between every exec's
 * client socket and its hijacked engine connection (the engine already
 * frames the output as the log stream is framed, raw with a tty, so bytes
 * pass as they are), and the resolver, which makes the engine calls an
 * ended exec needs (its exit code; the kill of an exec whose client left)
 * so that no engine call ever holds up the relay.
 *
 * A session's fds and buffers belong to the relay thread while it is
 * EXEC_LIVE; only the relay moves it to EXEC_ENDING, only the resolver to
 * EXEC_DONE, and only a DONE session is ever freed (the oldest beyond
 * EXEC_KEEP_ENDED, or at destroy), so neither thread needs a reference
 * while it works on one without the lock. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "context.h"
#include "error.h"
#include "executor_internal.h"

/* Bytes in flight per direction per exec. */
#define EXEC_BUF_SIZE (64u << 10)
/* Ended execs kept for exec_wait; the oldest beyond go. */
#define EXEC_KEEP_ENDED 256
/* How often the relay looks at the jobs of its execs. */
#define EXEC_TICK_MS 250
/* Engine calls of the start and the resolver. */
#define EXEC_CALL_TIMEOUT_MS 30000
/* How long an ended stream's process may still be reported running. */
#define EXEC_EXIT_TIMEOUT_NS (10 * NS_PER_S)

enum exec_phase {
	EXEC_LIVE,   /* the relay copies its bytes */
	EXEC_ENDING, /* its stream is over: the resolver learns its exit code */
	EXEC_DONE,   /* exit code (or error) known, waiters answered */
};

struct exec_waiter {
	dms_exec_wait_fn fn;
	void *ud;
	struct exec_waiter *next;
};

struct exec_pipe {
	char *data; /* EXEC_BUF_SIZE */
	size_t off, len;
};

struct exec_session {
	struct exec_session *next;
	char *id; /* the engine's exec id */
	char *container_id;
	struct handler *h; /* ref'd */
	bool tty, has_stdin;
	/* the relay thread's while LIVE */
	int client, engine;
	struct exec_pipe to_client, to_engine;
	bool client_eof, engine_shut, engine_eof;
	/* under relay->mu */
	enum exec_phase phase;
	bool abandoned;         /* the client closed its end first: kill */
	const char *end_reason; /* why the relay ended it, for messages */
	int exit_code;
	dms_error *error; /* DONE without an exit code */
	struct exec_waiter *waiters;
	uint64_t done_seq; /* DONE: its rank in the order of ending, from 1 */
	int blocked;       /* exec_wait callers on it: not pruned meanwhile */
};

struct exec_relay {
	struct dms_executor *ex;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* a session changed phase; stopping */
	int wake[2];         /* to the relay thread: a new session, or stop */
	bool stopping;
	struct exec_session *sessions; /* newest first */
	uint64_t n_done;               /* sessions that reached DONE, ever */
	dms_context *life;             /* cancelled at shutdown: ends the resolver's calls */
	pthread_t relay_thread, resolver_thread;
};

/* ---- sessions --------------------------------------------------------- */

static void session_free(struct exec_session *s)
{
	if (!s)
		return;
	if (s->client >= 0)
		close(s->client);
	if (s->engine >= 0)
		close(s->engine);
	while (s->waiters) {
		struct exec_waiter *w = s->waiters;
		s->waiters = w->next;
		free(w);
	}
	handler_unref(s->h);
	err_free(s->error);
	free(s->to_client.data);
	free(s->to_engine.data);
	free(s->container_id);
	free(s->id);
	free(s);
}

/* Under relay->mu. */
static struct exec_session *find_locked(struct exec_relay *r, const char *id)
{
	for (struct exec_session *s = r->sessions; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Frees the DONE sessions that ended before the last EXEC_KEEP_ENDED.
 * Under relay->mu. */
static void prune_locked(struct exec_relay *r)
{
	struct exec_session **pp = &r->sessions;

	if (r->n_done <= EXEC_KEEP_ENDED)
		return;
	while (*pp) {
		struct exec_session *s = *pp;
		if (s->phase == EXEC_DONE && s->blocked == 0 &&
		    s->done_seq <= r->n_done - EXEC_KEEP_ENDED) {
			*pp = s->next;
			session_free(s);
			continue;
		}
		pp = &s->next;
	}
}

static void wake_relay(struct exec_relay *r)
{
	char b = 1;
	ssize_t n = write(r->wake[1], &b, 1); /* full pipe: already awake */
	(void)n;
}

/* LIVE -> ENDING (the relay thread): its fds are closed, the client sees
 * EOF, the resolver takes it from here. */
static void session_end(struct exec_relay *r, struct exec_session *s, bool abandoned,
                        const char *reason)
{
	if (s->client >= 0)
		close(s->client);
	if (s->engine >= 0)
		close(s->engine);
	s->client = s->engine = -1;
	pthread_mutex_lock(&r->mu);
	s->phase = EXEC_ENDING;
	s->abandoned = abandoned;
	s->end_reason = reason;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

/* ---- the relay -------------------------------------------------------- */

static bool pipe_has_room(const struct exec_pipe *p)
{
	return p->off + p->len < EXEC_BUF_SIZE;
}

/* Reads what fd has into p. >0 bytes, 0 EOF, -1 nothing now, -2 error. */
static ssize_t pipe_fill(struct exec_pipe *p, int fd)
{
	ssize_t n;

	if (p->len == 0)
		p->off = 0;
	n = read(fd, p->data + p->off + p->len, EXEC_BUF_SIZE - p->off - p->len);
	if (n > 0)
		p->len += (size_t)n;
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

/* Writes what p holds to fd. 0, or -1 when fd is gone. */
static int pipe_drain(struct exec_pipe *p, int fd)
{
	ssize_t n = send(fd, p->data + p->off, p->len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	p->off += (size_t)n;
	p->len -= (size_t)n;
	return 0;
}

static short client_events(const struct exec_session *s)
{
	short ev = 0;

	if (s->has_stdin && !s->client_eof && pipe_has_room(&s->to_engine))
		ev |= POLLIN;
	if (s->to_client.len)
		ev |= POLLOUT;
	return ev;
}

static short engine_events(const struct exec_session *s)
{
	short ev = 0;

	if (!s->engine_eof && pipe_has_room(&s->to_client))
		ev |= POLLIN;
	if (s->to_engine.len)
		ev |= POLLOUT;
	return ev;
}

/* One round of I/O on s after poll; false when it ended. */
static bool session_service(struct exec_relay *r, struct exec_session *s, short crev, short erev)
{
	/* The client closed its end (not only its writing half): the exec's
	 * output has nowhere to go. */
	if (crev & (POLLHUP | POLLERR)) {
		session_end(r, s, true, "its client closed the stream");
		return false;
	}
	if (crev & POLLIN) {
		ssize_t n = pipe_fill(&s->to_engine, s->client);
		if (n == 0 || n == -2)
			s->client_eof = true;
	}
	if ((erev & POLLOUT) && s->to_engine.len && pipe_drain(&s->to_engine, s->engine) != 0) {
		s->to_engine.len = 0;
		s->client_eof = true;
	}
	if (s->client_eof && s->to_engine.len == 0 && !s->engine_shut) {
		shutdown(s->engine, SHUT_WR); /* the end of stdin, as docker exec -i sends it */
		s->engine_shut = true;
	}
	if (erev & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = pipe_fill(&s->to_client, s->engine);
		if (n == 0 || n == -2)
			s->engine_eof = true;
	}
	if ((crev & POLLOUT) && s->to_client.len && pipe_drain(&s->to_client, s->client) != 0) {
		session_end(r, s, true, "its client closed the stream");
		return false;
	}
	if (s->engine_eof && s->to_client.len == 0) {
		session_end(r, s, false, NULL);
		return false;
	}
	return true;
}

/* Final, or its exit seen (the harvest is then under way). */
static bool job_over(struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	bool over = handler_state_final(h->state) || h->exit != HANDLER_EXIT_UNSEEN;
	pthread_mutex_unlock(&h->mu);
	return over;
}

static void *relay_main(void *arg)
{
	struct exec_relay *r = arg;
	struct exec_session **live = NULL;
	struct pollfd *pfd = NULL;
	size_t cap = 0;
	int64_t next_tick = mono_now_ns() + EXEC_TICK_MS * NS_PER_MS;

	for (;;) {
		size_t n = 0;

		pthread_mutex_lock(&r->mu);
		if (r->stopping) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		for (struct exec_session *s = r->sessions; s; s = s->next) {
			if (s->phase != EXEC_LIVE)
				continue;
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				struct exec_session **nl = realloc(live, nc * sizeof(*nl));
				struct pollfd *np =
				    nl ? realloc(pfd, (2 * nc + 1) * sizeof(*np)) : NULL;
				if (nl)
					live = nl;
				if (np)
					pfd = np;
				if (!nl || !np)
					break; /* serve those that fit; the rest next round */
				cap = nc;
			}
			live[n++] = s;
		}
		pthread_mutex_unlock(&r->mu);
		if (!pfd && !(pfd = calloc(1, sizeof(*pfd)))) {
			pthread_mutex_lock(&r->mu);
			ctx_cond_wait(NULL, &r->cond, &r->mu,
			              mono_now_ns() + EXEC_TICK_MS * NS_PER_MS);
			pthread_mutex_unlock(&r->mu);
			continue;
		}

		pfd[0] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
		for (size_t i = 0; i < n; i++) {
			pfd[1 + 2 * i] = (struct pollfd){.fd = live[i]->client,
			                                 .events = client_events(live[i])};
			pfd[2 + 2 * i] = (struct pollfd){.fd = live[i]->engine,
			                                 .events = engine_events(live[i])};
		}
		int64_t left = (next_tick - mono_now_ns()) / NS_PER_MS;
		int pr = poll(pfd, 1 + 2 * n, left < 0 ? 0 : (int)left + 1);
		if (pr < 0 && errno != EINTR)
			continue;
		if (pr > 0 && (pfd[0].revents & POLLIN)) {
			char drain[64];
			while (read(r->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		bool tick = mono_now_ns() >= next_tick;
		if (tick)
			next_tick = mono_now_ns() + EXEC_TICK_MS * NS_PER_MS;
		for (size_t i = 0; i < n; i++) {
			struct exec_session *s = live[i];
			short crev = pr > 0 ? pfd[1 + 2 * i].revents : 0;
			short erev = pr > 0 ? pfd[2 + 2 * i].revents : 0;

			if ((crev || erev) && !session_service(r, s, crev, erev))
				continue;
			/* An exec outliving its job ends with it (the engine
			 * normally ends the stream first: the process dies with
			 * the container). */
			if (tick && job_over(s->h))
				session_end(r, s, false, "its execution ended");
		}
	}
	free(live);
	free(pfd);
	return NULL;
}

/* ---- the resolver ----------------------------------------------------- */

/* The cgroup of the process names the container: the pid the engine
 * reported is the exec's, on this host, and not a stranger's (an engine on
 * another host, or in another pid namespace, reports pids that mean
 * nothing here). */
static bool pid_in_container(int64_t pid, const char *container_id)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/cgroup", (long long)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, container_id) != NULL;
	fclose(f);
	return found;
}

/* The client left: kill the exec's process (Docker and Podman have no
 * exec kill). The pidfd pins the process, so the checks made after it was
 * opened are about the one signalled. Best effort: when the pid is not
 * ours to see or signal, the exec has lost its stdin and its output, and
 * ends when its process does (docs/architecture.md, "Exec"). */
static void kill_exec_process(struct exec_relay *r, struct exec_session *s, dms_context *ctx)
{
	struct exec_status st = {0};
	int pidfd;

	if (r->ex->rt_ops->exec_inspect(r->ex->rt, ctx, s->id, &st, NULL) != 0 || !st.running ||
	    st.pid <= 0)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)st.pid, 0);
	if (pidfd < 0) {
		/* No pidfd (a kernel before 5.3, or valgrind): the pid itself,
		 * checked just before; a reuse in between is the risk left. */
		if (errno == ENOSYS && pid_in_container(st.pid, s->container_id))
			kill((pid_t)st.pid, SIGKILL);
		return;
	}
	if (pid_in_container(st.pid, s->container_id))
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	close(pidfd);
}

/* The exit code of an ended exec: its stream may end a moment before the
 * engine has reaped it (dockerd), so it is asked again, briefly. */
static void resolve(struct exec_relay *r, struct exec_session *s)
{
	dms_context *ctx = ctx_new_child(r->life, -1);
	struct exec_status st = {0};
	dms_error *e = NULL;
	int64_t until = mono_now_ns() + EXEC_EXIT_TIMEOUT_NS, pause_ns = 5 * NS_PER_MS;
	int rc;

	if (!ctx) {
		err_set(&e, DMS_ERR_RESOURCE, "exec %s: out of memory", s->id);
		goto done;
	}
	ctx_set_deadline_ns(ctx, mono_now_ns() + EXEC_CALL_TIMEOUT_MS * NS_PER_MS);
	if (s->abandoned)
		kill_exec_process(r, s, ctx);
	for (;;) {
		rc = r->ex->rt_ops->exec_inspect(r->ex->rt, ctx, s->id, &st, &e);
		if (rc != 0 || !st.running || mono_now_ns() >= until)
			break;
		pthread_mutex_lock(&r->mu);
		if (!r->stopping) /* a pause: its end is no error */
			ctx_cond_wait(ctx, &r->cond, &r->mu, mono_now_ns() + pause_ns);
		rc = r->stopping ? DMS_ERR_CANCELLED : ctx_status(ctx);
		pthread_mutex_unlock(&r->mu);
		if (rc != 0) {
			err_set(&e, rc, "exec %s: its exit code was not known when %s", s->id,
			        rc == DMS_ERR_CANCELLED ? "the executor was destroyed"
			                                : "the engine call timed out");
			break;
		}
		if (pause_ns < 200 * NS_PER_MS)
			pause_ns *= 2;
	}
	if (!e && st.running)
		err_set(&e, DMS_ERR_CONTAINER,
		        "exec %s: its stream ended but its process still runs after %lld s", s->id,
		        (long long)(EXEC_EXIT_TIMEOUT_NS / NS_PER_S));
	bool job_over = false;
	if (e) {
		pthread_mutex_lock(&s->h->mu);
		job_over = handler_state_final(s->h->state) || s->h->exit != HANDLER_EXIT_UNSEEN;
		pthread_mutex_unlock(&s->h->mu);
	}
	/* Podman answers a gone container's exec with a 500, not a 404. */
	if (e && (e->category == DMS_ERR_NOT_FOUND || job_over)) {
		/* The container went with its job, and the exec with it. */
		err_free(e);
		e = NULL;
		err_engine(&e, DMS_ERR_ALREADY_FINISHED, "exec inspect", s->id, NULL,
		           "exec %s: execution %s ended while it ran (%s); its exit code went with "
		           "the container",
		           s->id, s->h->execution_id, s->end_reason ? s->end_reason : "it ended");
	}
done:
	ctx_free(ctx);
	pthread_mutex_lock(&r->mu);
	s->exit_code = e ? -1 : st.exit_code;
	s->error = e;
	s->phase = EXEC_DONE;
	s->done_seq = ++r->n_done;
	struct exec_waiter *w = s->waiters;
	s->waiters = NULL;
	pthread_cond_broadcast(&r->cond);
	/* The waiters are called before the session can be pruned: only this
	 * thread prunes, and it is the newest DONE one. */
	pthread_mutex_unlock(&r->mu);
	while (w) {
		struct exec_waiter *next = w->next;
		w->fn(w->ud, s->id, s->exit_code, s->error);
		free(w);
		w = next;
	}
	pthread_mutex_lock(&r->mu);
	prune_locked(r);
	pthread_mutex_unlock(&r->mu);
}

static void *resolver_main(void *arg)
{
	struct exec_relay *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct exec_session *s = NULL;

		for (struct exec_session *it = r->sessions; it && !s; it = it->next)
			if (it->phase == EXEC_ENDING)
				s = it;
		if (!s) {
			if (r->stopping)
				break;
			pthread_cond_wait(&r->cond, &r->mu);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		resolve(r, s);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- the relay object ------------------------------------------------- */

static void relay_free(struct exec_relay *r)
{
	while (r->sessions) {
		struct exec_session *s = r->sessions;
		r->sessions = s->next;
		session_free(s);
	}
	if (r->wake[0] >= 0)
		close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
	ctx_free(r->life);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ex->execs, made with its threads at the first exec. */
static int relay_get(struct dms_executor *ex, struct exec_relay **out, dms_error **err)
{
	struct exec_relay *r;

	pthread_mutex_lock(&ex->mu);
	if ((r = ex->execs) != NULL || ex->stopping) {
		pthread_mutex_unlock(&ex->mu);
		*out = r;
		return r ? 0 : err_set(err, DMS_ERR_CANCELLED, "the executor is being destroyed");
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		pthread_mutex_unlock(&ex->mu);
		return err_set(err, DMS_ERR_RESOURCE, "exec: out of memory");
	}
	r->ex = ex;
	r->wake[0] = r->wake[1] = -1;
	pthread_mutex_init(&r->mu, NULL);
	ctx_cond_init(&r->cond);
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    !(r->life = ctx_new_child(ex->life, -1))) {
		int e = errno;
		pthread_mutex_unlock(&ex->mu);
		relay_free(r);
		return err_set(err, DMS_ERR_RESOURCE, "exec: cannot make the relay: %s",
		               strerror(e));
	}
	if (pthread_create(&r->relay_thread, NULL, relay_main, r) != 0) {
		pthread_mutex_unlock(&ex->mu);
		relay_free(r);
		return err_set(err, DMS_ERR_RESOURCE, "exec: cannot start the relay thread");
	}
	if (pthread_create(&r->resolver_thread, NULL, resolver_main, r) != 0) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_mutex_unlock(&r->mu);
		wake_relay(r);
		pthread_join(r->relay_thread, NULL);
		pthread_mutex_unlock(&ex->mu);
		relay_free(r);
		return err_set(err, DMS_ERR_RESOURCE, "exec: cannot start the resolver thread");
	}
	ex->execs = r;
	pthread_mutex_unlock(&ex->mu);
	*out = r;
	return 0;
}

void exec_shutdown_all(struct dms_executor *ex)
{
	struct exec_relay *r;
	dms_error e = {.struct_size = sizeof(e),
	               .category = DMS_ERR_CANCELLED,
	               .message = (char *)"the executor was destroyed before the exec ended"};

	pthread_mutex_lock(&ex->mu);
	r = ex->execs;
	ex->execs = NULL;
	pthread_mutex_unlock(&ex->mu);
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	ctx_cancel(r->life);
	wake_relay(r);
	pthread_join(r->relay_thread, NULL);
	pthread_join(r->resolver_thread, NULL);
	/* No thread runs any more: answer whoever still waits. */
	for (struct exec_session *s = r->sessions; s; s = s->next) {
		while (s->waiters) {
			struct exec_waiter *w = s->waiters;
			s->waiters = w->next;
			w->fn(w->ud, s->id, -1, &e);
			free(w);
		}
	}
	relay_free(r);
}

/* ---- the operations --------------------------------------------------- */

static int check_runnable(struct handler *h, char **container_id, dms_error **err)
{
	pthread_mutex_lock(&h->mu);
	dms_exec_state state = h->state;
	bool exited = h->exit != HANDLER_EXIT_UNSEEN;
	*container_id = h->container_id ? strdup(h->container_id) : NULL;
	pthread_mutex_unlock(&h->mu);
	if (handler_state_final(state) || exited)
		return err_engine(err, DMS_ERR_ALREADY_FINISHED, NULL, h->execution_id, NULL,
		                  "exec: execution %s has already finished (%s)", h->execution_id,
		                  exited && !handler_state_final(state) ? "its process exited"
		                                                        : dms_state_name(state));
	if (state < DMS_STATE_RUNNING || !*container_id)
		return err_engine(err, DMS_ERR_CONTAINER, NULL, h->execution_id, NULL,
		                  "exec: execution %s is not running yet (%s)", h->execution_id,
		                  dms_state_name(state));
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int executor_exec(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  const char *exec_request, int *fd_out, char **exec_id, dms_error **err)
{
	struct exec_command *cmd = NULL;
	struct exec_session *s = NULL;
	struct exec_relay *r;
	struct handler *h = NULL;
	char *container_id = NULL, *id = NULL;
	int sv[2] = {-1, -1}, engine = -1, rc;

	if (!fd_out || !exec_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "exec: fd_out and exec_id required");
	if (!RT_HAS(ex->rt_ops, exec_create) || !RT_HAS(ex->rt_ops, exec_start) ||
	    !RT_HAS(ex->rt_ops, exec_inspect))
		return err_set(err, DMS_ERR_NOT_SUPPORTED,
		               "exec: the %s runtime has no exec (its table lacks exec_create, "
		               "exec_start or exec_inspect)",
		               ex->rt_ops->kind);
	if (!exec_request)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "exec request: required");
	if ((rc = exec_command_parse(exec_request, strlen(exec_request), &cmd, err)) != 0)
		return rc;
	if ((rc = executor_lookup(ex, execution_id, &h, err)) != 0 ||
	    (rc = check_runnable(h, &container_id, err)) != 0)
		goto out;
	if ((rc = relay_get(ex, &r, err)) != 0)
		goto out;
	if ((rc = ex->rt_ops->exec_create(ex->rt, ctx, container_id, cmd, &id, err)) != 0) {
		/* The container stopped between the look and the create. */
		if (rc == DMS_ERR_CONTAINER && job_over(h))
			rc = err_wrap(err, DMS_ERR_ALREADY_FINISHED, "exec: execution %s ended",
			              execution_id);
		goto out;
	}
	if ((rc = ex->rt_ops->exec_start(ex->rt, ctx, id, cmd->tty, &engine, err)) != 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || set_nonblock(sv[0]) ||
	    set_nonblock(engine)) {
		rc = err_set(err, DMS_ERR_RESOURCE, "exec %s: cannot make its socket: %s", id,
		             strerror(errno));
		goto out;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->to_client.data = malloc(EXEC_BUF_SIZE)) ||
	    !(s->to_engine.data = malloc(EXEC_BUF_SIZE)) || !(*exec_id = strdup(id))) {
		rc = err_set(err, DMS_ERR_RESOURCE, "exec %s: out of memory", id);
		goto out;
	}
	s->id = id;
	s->container_id = container_id;
	s->h = handler_ref(h);
	s->tty = cmd->tty;
	s->has_stdin = cmd->stdin_;
	s->client = sv[0];
	s->engine = engine;
	s->phase = EXEC_LIVE;
	id = container_id = NULL;
	engine = sv[0] = -1;
	*fd_out = sv[1];
	sv[1] = -1;
	pthread_mutex_lock(&r->mu);
	s->next = r->sessions;
	r->sessions = s;
	s = NULL;
	pthread_mutex_unlock(&r->mu);
	wake_relay(r);
out:
	if (s) {
		s->client = s->engine = -1;
		session_free(s);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (engine >= 0)
		close(engine);
	free(id);
	free(container_id);
	handler_unref(h);
	exec_command_free(cmd);
	return rc;
}

/* The relay, and the session of exec_id in it, under r->mu (held on
 * success only). */
static int lock_session(struct dms_executor *ex, const char *exec_id, struct exec_relay **rp,
                        struct exec_session **sp, dms_error **err)
{
	struct exec_relay *r;

	if (!exec_id || !*exec_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "exec_id: required");
	pthread_mutex_lock(&ex->mu);
	r = ex->execs;
	pthread_mutex_unlock(&ex->mu);
	if (r) {
		pthread_mutex_lock(&r->mu);
		if ((*sp = find_locked(r, exec_id)) != NULL) {
			*rp = r;
			return 0;
		}
		pthread_mutex_unlock(&r->mu);
	}
	return err_engine(err, DMS_ERR_NOT_FOUND, NULL, exec_id, NULL, "exec %s not found",
	                  exec_id);
}

int executor_exec_resize(struct dms_executor *ex, dms_context *ctx, const char *exec_id,
                         uint32_t rows, uint32_t cols, dms_error **err)
{
	struct exec_relay *r;
	struct exec_session *s;
	int rc;

	if (rows == 0 || cols == 0 || rows > 0xffff || cols > 0xffff)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "exec resize: rows and cols must be 1..65535, got %u x %u", rows,
		               cols);
	if (!RT_HAS(ex->rt_ops, exec_resize))
		return err_set(err, DMS_ERR_NOT_SUPPORTED, "exec resize: the %s runtime cannot",
		               ex->rt_ops->kind);
	if ((rc = lock_session(ex, exec_id, &r, &s, err)) != 0)
		return rc;
	bool tty = s->tty, live = s->phase == EXEC_LIVE;
	pthread_mutex_unlock(&r->mu);
	if (!tty)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT,
		               "exec resize: exec %s has no tty (its request had tty: false)",
		               exec_id);
	if (!live)
		return err_engine(err, DMS_ERR_ALREADY_FINISHED, NULL, exec_id, NULL,
		                  "exec resize: exec %s has ended", exec_id);
	return ex->rt_ops->exec_resize(ex->rt, ctx, exec_id, rows, cols, err);
}

/* The outcome of a DONE session. Under r->mu. */
static int done_result(const struct exec_session *s, int *exit_code, dms_error **err)
{
	if (s->error) {
		if (err)
			*err = err_dup(s->error);
		return (int)s->error->category;
	}
	*exit_code = s->exit_code;
	return 0;
}

int executor_exec_wait(struct dms_executor *ex, dms_context *ctx, const char *exec_id,
                       int *exit_code, dms_error **err)
{
	struct exec_relay *r;
	struct exec_session *s;
	int rc;

	if (!exit_code)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "exec wait: exit_code required");
	if ((rc = lock_session(ex, exec_id, &r, &s, err)) != 0)
		return rc;
	s->blocked++;
	while (s->phase != EXEC_DONE && rc == 0)
		rc = r->stopping ? DMS_ERR_CANCELLED
		                 : ctx_cond_wait(ctx, &r->cond, &r->mu, INT64_MAX);
	s->blocked--;
	if (rc == 0)
		rc = done_result(s, exit_code, err);
	else
		err_set(err, rc, "exec wait %s: %s", exec_id,
		        rc == DMS_ERR_TIMEOUT ? "deadline exceeded" : "cancelled");
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int executor_exec_wait_async(struct dms_executor *ex, const char *exec_id, dms_exec_wait_fn fn,
                             void *ud, dms_error **err)
{
	struct exec_relay *r;
	struct exec_session *s;
	struct exec_waiter *w;
	int rc;

	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "exec wait: callback required");
	if (!(w = calloc(1, sizeof(*w))))
		return err_set(err, DMS_ERR_RESOURCE, "exec wait: out of memory");
	w->fn = fn;
	w->ud = ud;
	if ((rc = lock_session(ex, exec_id, &r, &s, err)) != 0) {
		free(w);
		return rc;
	}
	if (s->phase != EXEC_DONE) {
		w->next = s->waiters;
		s->waiters = w;
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	/* Already ended: answered now, from copies (the lock is released for
	 * the call, and the session may then be pruned). */
	int code = s->exit_code;
	dms_error *e = err_dup(s->error);
	char *id = strdup(s->id);
	pthread_mutex_unlock(&r->mu);
	free(w);
	if (!id || (s->error && !e)) {
		free(id);
		err_free(e);
		return err_set(err, DMS_ERR_RESOURCE, "exec wait: out of memory");
	}
	fn(ud, id, code, e);
	free(id);
	err_free(e);
	return 0;
}
