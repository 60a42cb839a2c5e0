/* bench.c — the shared pieces of the benchmark programs (see bench.h). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

/* --- clocks and messages ------------------------------------------------ */

static const char *progname = "bench";

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int64_t bench_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_set_progname(const char *name)
{
	progname = name;
}

static void vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void vlog(const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s: %s\n", progname, line);
}

void bench_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(1);
}

void *bench_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		bench_die("out of memory");
	return p;
}

char *bench_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		bench_die("out of memory");
	return p;
}

char *bench_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		bench_die("out of memory");
	return s;
}

const char *bench_token(void)
{
	static char tok[64];

	if (!tok[0])
		snprintf(tok, sizeof(tok), "b%ld-%" PRId64, (long)getpid(),
		         bench_real_ns() / 1000000);
	return tok;
}

/* --- bounded buffer ------------------------------------------------------ */

void bbuf_init(struct bbuf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

bool bbuf_add(struct bbuf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			bench_die("out of memory");
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool bbuf_puts(struct bbuf *b, const char *s)
{
	return bbuf_add(b, s, strlen(s));
}

void bbuf_reset(struct bbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void bbuf_free(struct bbuf *b)
{
	free(b->data);
	bbuf_init(b, b->max);
}

/* --- Engine API client ---------------------------------------------------- */

#define ENG_RESPONSE_MAX (4u << 20)

void eng_init(struct eng *e, const char *host_url)
{
	const char *path = host_url;

	if (strncmp(path, "unix://", 7) == 0)
		path += 7;
	if (path[0] != '/')
		bench_die("engine host %s: only unix sockets are supported", host_url);
	memset(e, 0, sizeof(*e));
	e->sock = bench_xstrdup(path);
	e->h = curl_easy_init();
	if (!e->h)
		bench_die("curl_easy_init failed");
	e->json_hdr = curl_slist_append(NULL, "Content-Type: application/json");
	e->json_hdr = curl_slist_append(e->json_hdr, "Expect:");
}

void eng_fini(struct eng *e)
{
	if (e->h)
		curl_easy_cleanup(e->h);
	curl_slist_free_all(e->json_hdr);
	free(e->sock);
	memset(e, 0, sizeof(*e));
}

static size_t to_bbuf(char *p, size_t size, size_t nmemb, void *user)
{
	struct bbuf *b = user;
	size_t n = size * nmemb;

	if (b && !bbuf_add(b, p, n))
		return 0; /* over the limit: abort the transfer */
	return n;
}

/* curl_easy_reset keeps the connection cache, so the connection survives. */
static void eng_setup(struct eng *e, const char *method, const char *path)
{
	char url[4096];

	curl_easy_reset(e->h);
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	curl_easy_setopt(e->h, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, e->errbuf);
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, e->json_hdr);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e->h, CURLOPT_CUSTOMREQUEST, method);
	e->errbuf[0] = '\0';
}

long eng_call(struct eng *e, const char *method, const char *path, const char *body,
              struct bbuf *out)
{
	long status = -1;

	eng_setup(e, method, path);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(e->h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, to_bbuf);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, out);
	if (out)
		bbuf_reset(out);
	CURLcode rc = curl_easy_perform(e->h);
	if (rc != CURLE_OK) {
		bench_log("%s %s: %s", method, path,
		          e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

struct stream_ctx {
	eng_sink_fn fn;
	void *user;
	volatile bool *stop;
};

static size_t to_sink(char *p, size_t size, size_t nmemb, void *user)
{
	struct stream_ctx *c = user;

	c->fn(c->user, p, size * nmemb);
	return size * nmemb;
}

static int stream_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream_ctx *s = user;

	(void)a, (void)b, (void)c, (void)d;
	return s->stop && *s->stop; /* non-zero aborts the transfer */
}

long eng_stream(struct eng *e, const char *path, eng_sink_fn fn, void *user, volatile bool *stop)
{
	struct stream_ctx c = {fn, user, stop};
	long status = -1;

	eng_setup(e, "GET", path);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, to_sink);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, stream_progress);
	curl_easy_setopt(e->h, CURLOPT_XFERINFODATA, &c);
	CURLcode rc = curl_easy_perform(e->h);
	if (rc == CURLE_ABORTED_BY_CALLBACK && stop && *stop)
		rc = CURLE_OK;
	if (rc != CURLE_OK) {
		bench_log("GET %s: %s", path, e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

char *eng_escape(struct eng *e, const char *s)
{
	char *t = curl_easy_escape(e->h, s, 0);
	char *r = bench_xstrdup(t ? t : "");

	curl_free(t);
	return r;
}

static int expect_status(const char *what, long got, long want1, long want2, const struct bbuf *b)
{
	if (got == want1 || got == want2)
		return 0;
	if (got >= 0)
		bench_log("%s: HTTP %ld: %.300s", what, got, b && b->data ? b->data : "");
	return -1;
}

int eng_create(struct eng *e, const char *create_json, char **id_out)
{
	struct bbuf b;
	static const char *const id_path[] = {"Id", NULL};

	bbuf_init(&b, ENG_RESPONSE_MAX);
	long st = eng_call(e, "POST", "/containers/create", create_json, &b);
	int r = expect_status("container create", st, 201, 200, &b);
	if (r == 0) {
		*id_out = json_get_string(b.data, id_path);
		if (!*id_out) {
			bench_log("container create: no Id in %.300s", b.data);
			r = -1;
		}
	}
	bbuf_free(&b);
	return r;
}

int eng_start(struct eng *e, const char *id)
{
	struct bbuf b;
	char path[256];

	bbuf_init(&b, ENG_RESPONSE_MAX);
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	int r = expect_status("container start", eng_call(e, "POST", path, NULL, &b), 204, 304, &b);
	bbuf_free(&b);
	return r;
}

int eng_wait(struct eng *e, const char *id, long *exit_code)
{
	struct bbuf b;
	char path[256];
	static const char *const code_path[] = {"StatusCode", NULL};

	bbuf_init(&b, ENG_RESPONSE_MAX);
	snprintf(path, sizeof(path), "/containers/%s/wait", id);
	int r = expect_status("container wait", eng_call(e, "POST", path, NULL, &b), 200, 200, &b);
	long long code = -1;
	if (r == 0 && !json_get_int(b.data, code_path, &code)) {
		bench_log("container wait: no StatusCode in %.300s", b.data);
		r = -1;
	}
	if (exit_code)
		*exit_code = (long)code;
	bbuf_free(&b);
	return r;
}

int eng_delete(struct eng *e, const char *id)
{
	struct bbuf b;
	char path[256];

	bbuf_init(&b, ENG_RESPONSE_MAX);
	snprintf(path, sizeof(path), "/containers/%s", id);
	int r =
	    expect_status("container delete", eng_call(e, "DELETE", path, NULL, &b), 204, 200, &b);
	bbuf_free(&b);
	return r;
}

static void add_str_array(struct bbuf *b, const char *const *v)
{
	bbuf_puts(b, "[");
	for (size_t i = 0; v[i]; i++) {
		if (i)
			bbuf_puts(b, ",");
		json_add_string(b, v[i]);
	}
	bbuf_puts(b, "]");
}

char *eng_create_body(const char *image, const char *const *cmd, const char *label_key,
                      const char *label_value)
{
	struct bbuf b;

	bbuf_init(&b, SIZE_MAX);
	bbuf_puts(&b, "{\"Image\":");
	json_add_string(&b, image);
	bbuf_puts(&b, ",\"Cmd\":");
	add_str_array(&b, cmd);
	bbuf_puts(&b, ",\"Labels\":{");
	json_add_string(&b, label_key);
	bbuf_puts(&b, ":");
	json_add_string(&b, label_value);
	bbuf_puts(&b, "}}");
	return b.data;
}

/* --- JSON ------------------------------------------------------------- */

char *json_get_string(const char *doc, const char *const *path)
{
	char err[128];
	yajl_val v = doc ? yajl_tree_parse(doc, err, sizeof(err)) : NULL;
	char *r = NULL;

	if (v) {
		yajl_val s = yajl_tree_get(v, (const char **)path, yajl_t_string);
		const char *str = s ? YAJL_GET_STRING(s) : NULL;
		if (str)
			r = bench_xstrdup(str);
		yajl_tree_free(v);
	}
	return r;
}

bool json_get_int(const char *doc, const char *const *path, long long *out)
{
	char err[128];
	yajl_val v = doc ? yajl_tree_parse(doc, err, sizeof(err)) : NULL;
	bool ok = false;

	if (v) {
		yajl_val n = yajl_tree_get(v, (const char **)path, yajl_t_number);
		if (n && YAJL_IS_INTEGER(n)) {
			*out = YAJL_GET_INTEGER(n);
			ok = true;
		}
		yajl_tree_free(v);
	}
	return ok;
}

void json_add_string(struct bbuf *b, const char *s)
{
	bbuf_puts(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			bbuf_add(b, esc, 2);
		} else if (c < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			bbuf_add(b, esc, 6);
		} else {
			bbuf_add(b, s, 1);
		}
	}
	bbuf_puts(b, "\"");
}

/* --- die events --------------------------------------------------------- */

struct die_rec {
	char *key;
	int64_t ns;
};

struct evwatch {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char *host_url;
	char *label;
	char *key_attr;
	volatile bool stop;
	struct bbuf line;
	struct die_rec *recs;
	size_t n_recs, cap_recs;
};

static void evwatch_line(struct evwatch *w, const char *line)
{
	char err[128];
	yajl_val v = yajl_tree_parse(line, err, sizeof(err));
	static const char *const action_path[] = {"Action", NULL};
	static const char *const status_path[] = {"status", NULL};
	static const char *const id_path[] = {"id", NULL};
	static const char *const ns_path[] = {"timeNano", NULL};

	if (!v)
		return;
	yajl_val a = yajl_tree_get(v, (const char **)action_path, yajl_t_string);
	if (!a)
		a = yajl_tree_get(v, (const char **)status_path, yajl_t_string);
	yajl_val ns = yajl_tree_get(v, (const char **)ns_path, yajl_t_number);
	yajl_val key;
	if (w->key_attr) {
		const char *kp[] = {"Actor", "Attributes", w->key_attr, NULL};
		key = yajl_tree_get(v, kp, yajl_t_string);
	} else {
		key = yajl_tree_get(v, (const char **)id_path, yajl_t_string);
	}
	const char *action = a ? YAJL_GET_STRING(a) : NULL;
	const char *keystr = key ? YAJL_GET_STRING(key) : NULL;
	if (action && strcmp(action, "die") == 0 && ns && YAJL_IS_INTEGER(ns) && keystr) {
		pthread_mutex_lock(&w->lock);
		if (w->n_recs == w->cap_recs) {
			w->cap_recs = w->cap_recs ? 2 * w->cap_recs : 64;
			w->recs = realloc(w->recs, w->cap_recs * sizeof(*w->recs));
			if (!w->recs)
				bench_die("out of memory");
		}
		w->recs[w->n_recs].key = bench_xstrdup(keystr);
		w->recs[w->n_recs].ns = YAJL_GET_INTEGER(ns);
		w->n_recs++;
		pthread_cond_broadcast(&w->changed);
		pthread_mutex_unlock(&w->lock);
	}
	yajl_tree_free(v);
}

static void evwatch_sink(void *user, const char *data, size_t n)
{
	struct evwatch *w = user;

	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			if (w->line.len)
				evwatch_line(w, w->line.data);
			bbuf_reset(&w->line);
		} else if (!bbuf_add(&w->line, data + i, 1)) {
			bbuf_reset(&w->line); /* an absurd line: drop it */
		}
	}
}

static void *evwatch_main(void *arg)
{
	struct evwatch *w = arg;
	struct eng e;
	int64_t since = bench_real_ns() / 1000000000 - 2;

	eng_init(&e, w->host_url);
	while (!w->stop) {
		char *filters =
		    bench_asprintf("{\"type\":[\"container\"],\"label\":[\"%s\"]}", w->label);
		char *esc = eng_escape(&e, filters);
		char *path = bench_asprintf("/events?since=%" PRId64 "&filters=%s", since, esc);
		double t0 = bench_now_ms();
		long st = eng_stream(&e, path, evwatch_sink, w, &w->stop);
		if (st != 200 && !w->stop)
			bench_log("events stream: HTTP %ld", st);
		free(filters);
		free(esc);
		free(path);
		/* A stream that ended by itself is reopened (since= replays); one
		 * that fails at once is retried no faster than 5 times a second. */
		while (!w->stop && bench_now_ms() - t0 < 200) {
			struct timespec ts = {0, 20 * 1000000};
			nanosleep(&ts, NULL);
		}
	}
	eng_fini(&e);
	return NULL;
}

struct evwatch *evwatch_start(const char *host_url, const char *label, const char *key_attr)
{
	struct evwatch *w = calloc(1, sizeof(*w));

	if (!w)
		bench_die("out of memory");
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->changed, &ca);
	pthread_condattr_destroy(&ca);
	w->host_url = bench_xstrdup(host_url);
	w->label = bench_xstrdup(label);
	w->key_attr = key_attr ? bench_xstrdup(key_attr) : NULL;
	bbuf_init(&w->line, 1u << 20);
	if (pthread_create(&w->thread, NULL, evwatch_main, w) != 0)
		bench_die("pthread_create failed");
	return w;
}

int64_t evwatch_die_ns(struct evwatch *w, const char *key, int timeout_ms)
{
	struct timespec until;
	int64_t ns = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	for (;;) {
		for (size_t i = 0; i < w->n_recs; i++)
			if (strcmp(w->recs[i].key, key) == 0)
				ns = w->recs[i].ns; /* the last die wins (there is one) */
		if (ns || pthread_cond_timedwait(&w->changed, &w->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return ns;
}

void evwatch_stop(struct evwatch *w)
{
	if (!w)
		return;
	w->stop = true;
	pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->n_recs; i++)
		free(w->recs[i].key);
	free(w->recs);
	bbuf_free(&w->line);
	free(w->host_url);
	free(w->label);
	free(w->key_attr);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->changed);
	free(w);
}

/* --- Docker log frames ------------------------------------------------ */

void frame_counter_feed(struct frame_counter *c, const char *p, size_t n)
{
	c->raw += n;
	if (n > 0)
		c->last_ms = bench_now_ms();
	while (n > 0) {
		if (c->left > 0) {
			size_t k = n < c->left ? n : (size_t)c->left;
			c->left -= k;
			c->payload += k;
			p += k;
			n -= k;
			continue;
		}
		c->hdr[c->hdr_len++] = (unsigned char)*p++;
		n--;
		if (c->hdr_len == 8) {
			c->left = (uint64_t)c->hdr[4] << 24 | (uint64_t)c->hdr[5] << 16 |
			          (uint64_t)c->hdr[6] << 8 | c->hdr[7];
			c->hdr_len = 0;
		}
	}
}

/* --- the jobs -------------------------------------------------------- */

char *bench_log_cmd(unsigned long long bytes)
{
	return bench_asprintf("yes $(printf %%4000s | tr ' ' x) | head -c %llu", bytes);
}

char *bench_exec_request(const char *execution_id, const char *type, const char *image,
                         const char *const *cmd, const char *extra)
{
	struct bbuf b;

	bbuf_init(&b, SIZE_MAX);
	bbuf_puts(&b, "{\"job_id\":\"bench\",\"execution_id\":");
	json_add_string(&b, execution_id);
	bbuf_puts(&b, ",\"engine_spec\":{\"type\":");
	json_add_string(&b, type);
	bbuf_puts(&b, ",\"params\":{\"image\":");
	json_add_string(&b, image);
	bbuf_puts(&b, ",\"cmd\":");
	add_str_array(&b, cmd);
	bbuf_puts(&b, "}}");
	bbuf_puts(&b, extra);
	bbuf_puts(&b, "}");
	return b.data;
}

/* --- output ---------------------------------------------------------- */

void bench_print_samples(FILE *f, const char *name, const double *v, size_t n)
{
	fprintf(f, "\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%.3f", i ? "," : "", v[i]);
	fprintf(f, "]");
}

char *bench_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	struct bbuf b;
	char chunk[4096];
	size_t n;

	if (!f)
		bench_die("%s: %s", path, strerror(errno));
	bbuf_init(&b, 1u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (!bbuf_add(&b, chunk, n))
			bench_die("%s: larger than 1 MiB", path);
	fclose(f);
	if (!b.data)
		bbuf_puts(&b, "");
	return b.data;
}

long bench_arg_long(const char *what, const char *s, long min, long max)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		bench_die("%s: expected an integer in [%ld, %ld], got \"%s\"", what, min, max, s);
	return v;
}

/* --- interleaving ------------------------------------------------------ */

/* Opened O_RDWR: a FIFO opened so never blocks in open() and never reads EOF
 * while run.sh is between turns. */
static int turn_fd(const char *env, int *fd)
{
	if (*fd == -2) {
		const char *path = getenv(env);
		*fd = -1;
		if (path && *path && (*fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
			bench_die("%s=%s: %s", env, path, strerror(errno));
	}
	return *fd;
}

static int turn_go = -2, turn_done = -2;

void bench_turn_begin(void)
{
	char c;
	int fd = turn_fd("BENCH_TURN_GO", &turn_go);
	if (fd < 0)
		return;
	while (read(fd, &c, 1) != 1)
		if (errno != EINTR)
			bench_die("BENCH_TURN_GO: %s", strerror(errno));
}

void bench_turn_end(void)
{
	int fd = turn_fd("BENCH_TURN_DONE", &turn_done);
	if (fd < 0)
		return;
	while (write(fd, "x", 1) != 1)
		if (errno != EINTR)
			bench_die("BENCH_TURN_DONE: %s", strerror(errno));
}
