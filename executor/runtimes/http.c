/* http.c — the plugin's one HTTP client (http.h), on libcurl.
 *
 * Exists so that every engine conversation goes through one place that gets
 * the hard parts right once: unix sockets and TCP, connection reuse, bounded
 * response buffers, request bodies streamed from an fd, and transfers that
 * can be abandoned from another thread through a dms_context.
 *
 * Connection model. Each transfer runs on a (curl easy, curl multi) pair and
 * is driven by our own loop, which polls the socket in short slices and looks
 * at the context between them: cancellation is seen within HTTP_SLICE_MS
 * even while the engine is silent (an idle /events stream), which curl's
 * once-a-second progress callback alone would not give. Short requests use
 * one of HTTP_POOL_SIZE pooled pairs; the multi handle owns the connection
 * cache, so the next request on that pair reuses the kept-alive connection.
 * Streaming requests (on_data set or timeout_ms == -1: events, logs, pulls,
 * imports) get a pair of their own with no total timeout, so they never
 * hold a pooled connection hostage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup.h"
#include "context.h"
#include "error.h"
#include "http.h"

#define HTTP_POOL_SIZE 8
#define HTTP_DEFAULT_TIMEOUT_MS 60000L
#define HTTP_CONNECT_TIMEOUT_MS 10000L
/* How long one poll may sleep before the context is looked at again. */
#define HTTP_SLICE_MS 50
/* Without a context there is nothing to look at between polls. */
#define HTTP_IDLE_SLICE_MS 1000
/* Longest captured header value (versions, server strings). */
#define HTTP_MAX_HEADER_VALUE 256

#ifndef DMS_VERSION
#define DMS_VERSION "0"
#endif

/* One transfer engine: the easy handle and the multi handle that drives it
 * and keeps its connections alive between requests. */
struct http_handle {
	CURL *easy;
	CURLM *multi;
	bool busy;
};

struct http_client {
	char *url;         /* as given, for messages */
	char *socket_path; /* unix sockets: the path; else NULL */
	char *base;        /* "http://localhost" or "http(s)://host:port" */
	char *tls_ca, *tls_cert, *tls_key; /* http_client_set_tls; NULL: none */
	pthread_mutex_t mu;
	char api_version[32]; /* "" until set */
	struct http_handle pool[HTTP_POOL_SIZE];
};

/* The state of one transfer, shared by the curl callbacks. */
struct http_xfer {
	const struct http_request *req;
	struct http_response *resp;
	dms_context *ctx;
	bool headers_done;
	bool overflow; /* the buffered body hit HTTP_MAX_BODY */
	bool stopped;  /* on_data asked to stop */
	int read_errno;
	int ctx_rc;
};

static void slist_freep(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}
#define _cleanup_slist_ _cleanup_(slist_freep)

/* ---- global init -------------------------------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static int http_init_once(dms_error **err)
{
	pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK)
		return err_set(err, DMS_ERR_INTERNAL, "libcurl initialisation failed: %s",
		               curl_easy_strerror(http_global_rc));
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static char *strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

int http_client_new(const char *url, struct http_client **out, dms_error **err)
{
	struct http_client *c;
	bool is_unix;
	int rc;

	if ((rc = http_init_once(err)) != 0)
		return rc;
	if (!url || !*url)
		return err_set(err, DMS_ERR_CONFIG, "engine URL is empty");

	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	c->url = strdup(url);

	is_unix = strncmp(url, "unix://", 7) == 0 || url[0] == '/';
	if (is_unix) {
		const char *path = url[0] == '/' ? url : url + 7;

		if (path[0] != '/') {
			http_client_free(c);
			return err_set(err, DMS_ERR_CONFIG,
			               "engine URL %s: a unix socket path must be absolute", url);
		}
		c->socket_path = strdup(path);
		c->base = strdup("http://localhost");
	} else if (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "http://", 7) == 0) {
		const char *hostport = url + (url[0] == 't' ? 6 : 7);

		if (!*hostport || *hostport == '/') {
			http_client_free(c);
			return err_set(err, DMS_ERR_CONFIG, "engine URL %s has no host", url);
		}
		if (asprintf(&c->base, "http://%s", hostport) < 0)
			c->base = NULL;
		else
			strip_trailing_slashes(c->base);
	} else {
		http_client_free(c);
		return err_set(
		    err, DMS_ERR_CONFIG,
		    "engine URL %s: unsupported scheme (want unix://, tcp:// or http://)", url);
	}
	if (!c->url || !c->base || (is_unix && !c->socket_path)) {
		http_client_free(c);
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	}
	*out = c;
	return 0;
}

static void http_handle_destroy(struct http_handle *h)
{
	if (h->multi && h->easy)
		curl_multi_remove_handle(h->multi, h->easy);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	h->easy = NULL;
	h->multi = NULL;
	h->busy = false;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < HTTP_POOL_SIZE; i++)
		http_handle_destroy(&c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->url);
	free(c->socket_path);
	free(c->base);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c);
}

int http_client_set_tls(struct http_client *c, const char *ca, const char *cert, const char *key,
                        dms_error **err)
{
	char *base;

	if (c->socket_path)
		return err_set(err, DMS_ERR_CONFIG,
		               "tls_ca: TLS needs a tcp:// host; %s is a unix socket", c->url);
	if (!cert != !key)
		return err_set(err, DMS_ERR_CONFIG, "%s: needs %s too", cert ? "tls_cert" : "tls_key",
		               cert ? "tls_key" : "tls_cert");
	if (strncmp(c->base, "http://", 7) != 0)
		return 0; /* https already */
	if (asprintf(&base, "https://%s", c->base + 7) < 0)
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	free(c->base);
	c->base = base;
	if ((ca && !(c->tls_ca = strdup(ca))) || (cert && !(c->tls_cert = strdup(cert))) ||
	    (key && !(c->tls_key = strdup(key))))
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	return 0;
}

void http_client_set_api_version(struct http_client *c, const char *version)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->api_version, sizeof(c->api_version), "%s", version ? version : "");
	pthread_mutex_unlock(&c->mu);
}

const char *http_client_api_version(const struct http_client *c)
{
	return c->api_version[0] ? c->api_version : NULL;
}

const char *http_client_url(const struct http_client *c)
{
	return c->url;
}

/* ---- handles ------------------------------------------------------------ */

static int http_handle_open(struct http_handle *h)
{
	h->easy = curl_easy_init();
	h->multi = curl_multi_init();
	if (!h->easy || !h->multi) {
		http_handle_destroy(h);
		return -1;
	}
	return 0;
}

/* A pooled pair when one is idle, else NULL (the caller then uses a
 * private pair: a full pool degrades to one connection per request rather
 * than making callers queue behind slow requests). */
static struct http_handle *http_pool_acquire(struct http_client *c)
{
	struct http_handle *h = NULL;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < HTTP_POOL_SIZE && !h; i++) {
		struct http_handle *p = &c->pool[i];

		if (p->busy)
			continue;
		if (!p->easy && http_handle_open(p) != 0)
			continue;
		p->busy = true;
		h = p;
	}
	pthread_mutex_unlock(&c->mu);
	return h;
}

static void http_pool_release(struct http_client *c, struct http_handle *h)
{
	pthread_mutex_lock(&c->mu);
	h->busy = false;
	pthread_mutex_unlock(&c->mu);
}

/* ---- response ----------------------------------------------------------- */

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	r->body = (struct buf)BUF_INIT(HTTP_MAX_BODY);
}

static void http_response_clear_headers(struct http_response *r)
{
	free(r->api_version);
	free(r->libpod_api_version);
	free(r->server);
	r->api_version = NULL;
	r->libpod_api_version = NULL;
	r->server = NULL;
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	http_response_clear_headers(r);
	buf_free(&r->body);
	r->status = 0;
}

/* ---- curl callbacks ----------------------------------------------------- */

static void capture_header(char **slot, const char *value, size_t len)
{
	if (len > HTTP_MAX_HEADER_VALUE)
		len = HTTP_MAX_HEADER_VALUE;
	free(*slot);
	*slot = strndup(value, len);
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	size_t len = size * nmemb, name_len, vlen;
	const char *colon, *value;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line: an interim 1xx answer is followed by the real
		 * one, whose headers replace anything captured so far. */
		const char *sp = memchr(data, ' ', len);

		x->resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->headers_done = false;
		http_response_clear_headers(x->resp);
		return len;
	}
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		if (x->resp->status >= 200 && !x->headers_done) {
			x->headers_done = true;
			if (x->req->on_headers)
				x->req->on_headers(x->req->user_data, x->resp->status);
		}
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return len;
	name_len = (size_t)(colon - data);
	value = colon + 1;
	vlen = len - name_len - 1;
	while (vlen > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		vlen--;
	}
	while (vlen > 0 &&
	       (value[vlen - 1] == '\r' || value[vlen - 1] == '\n' || value[vlen - 1] == ' '))
		vlen--;
	if (name_len == 11 && strncasecmp(data, "Api-Version", 11) == 0)
		capture_header(&x->resp->api_version, value, vlen);
	else if (name_len == 18 && strncasecmp(data, "Libpod-Api-Version", 18) == 0)
		capture_header(&x->resp->libpod_api_version, value, vlen);
	else if (name_len == 6 && strncasecmp(data, "Server", 6) == 0)
		capture_header(&x->resp->server, value, vlen);
	return len;
}

/* Successful bodies go to on_data when streaming; error bodies are always
 * buffered (bounded) so the caller can report the engine's message. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	size_t len = size * nmemb;
	long st = x->resp->status;

	if (x->req->on_data && st >= 200 && st < 300) {
		if (x->req->on_data(x->req->user_data, data, len) != 0) {
			x->stopped = true;
			return len == 0 ? 1 : 0; /* anything but len aborts */
		}
		return len;
	}
	if (buf_append(&x->resp->body, data, len) != 0) {
		x->overflow = true;
		return len == 0 ? 1 : 0;
	}
	return len;
}

/* Reads the request body from req->body_fd. Waits in slices so that a
 * silent pipe cannot pin the transfer past the context's end. */
static size_t read_cb(char *buffer, size_t size, size_t nitems, void *ud)
{
	struct http_xfer *x = ud;
	struct pollfd pfd = {.fd = x->req->body_fd, .events = POLLIN};

	for (;;) {
		ssize_t n;
		int pr;

		if ((x->ctx_rc = ctx_status(x->ctx)) != 0)
			return CURL_READFUNC_ABORT;
		pr = poll(&pfd, 1, HTTP_SLICE_MS);
		if (pr < 0 && errno != EINTR) {
			x->read_errno = errno;
			return CURL_READFUNC_ABORT;
		}
		if (pr <= 0)
			continue;
		n = read(x->req->body_fd, buffer, size * nitems);
		if (n >= 0)
			return (size_t)n;
		if (errno != EINTR && errno != EAGAIN) {
			x->read_errno = errno;
			return CURL_READFUNC_ABORT;
		}
	}
}

static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct http_xfer *x = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	x->ctx_rc = ctx_status(x->ctx);
	return x->ctx_rc != 0;
}

/* ---- request ------------------------------------------------------------ */

/* The total time curl may take: the request's own limit, shortened to the
 * context's deadline. 0 means none (curl's convention). */
static long effective_timeout_ms(const struct http_request *req, const dms_context *ctx)
{
	int64_t t = req->timeout_ms == 0 ? HTTP_DEFAULT_TIMEOUT_MS : req->timeout_ms;
	int64_t deadline = ctx_deadline_ns(ctx);

	/* Unbounded requests (streams, pulls) end only through their context,
	 * which the transfer loop polls: its deadline may move while they run. */
	if (t < 0)
		return 0;
	if (deadline != INT64_MAX) {
		int64_t left = (deadline - mono_now_ns()) / 1000000 + 1;

		if (left < 1)
			left = 1;
		if (left < t)
			t = left;
	}
	return t > 0x7fffffffL ? 0x7fffffffL : (long)t;
}

static int build_url(struct http_client *c, const struct http_request *req, char **out,
                     dms_error **err)
{
	char version[sizeof(c->api_version)];

	if (!req->method || !req->path || req->path[0] != '/')
		return err_set(err, DMS_ERR_INTERNAL,
		               "HTTP request needs a method and a path starting with '/'");
	pthread_mutex_lock(&c->mu);
	memcpy(version, c->api_version, sizeof(version));
	pthread_mutex_unlock(&c->mu);
	if (req->versioned && !version[0])
		return err_set(err, DMS_ERR_INTERNAL,
		               "%s %s: versioned request before the API version was negotiated",
		               req->method, req->path);
	if (asprintf(out, "%s%s%s%s", c->base, req->versioned ? "/v" : "",
	             req->versioned ? version : "", req->path) < 0) {
		*out = NULL;
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static struct curl_slist *build_headers(const struct http_request *req)
{
	struct curl_slist *l = NULL, *n;
	char ct[160];
	bool has_body = req->body || req->body_fd >= 0;

	/* Engines answer at once; never stall a second on "100 Continue". */
	if (!(n = curl_slist_append(l, "Expect:")))
		goto fail;
	l = n;
	if (has_body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		         req->content_type ? req->content_type : "application/json");
		if (!(n = curl_slist_append(l, ct)))
			goto fail;
		l = n;
	}
	if (req->body_fd >= 0) {
		if (!(n = curl_slist_append(l, "Transfer-Encoding: chunked")))
			goto fail;
		l = n;
	}
	if (req->extra_header) {
		if (!(n = curl_slist_append(l, req->extra_header)))
			goto fail;
		l = n;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

static void setup_handle(struct http_client *c, CURL *e, const struct http_request *req,
                         struct http_xfer *x, const char *url, struct curl_slist *headers,
                         char *errbuf, long timeout_ms, bool streaming)
{
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (c->socket_path)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (c->tls_ca)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca);
	if (c->tls_cert) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->tls_cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->tls_key);
	}
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never route engine traffic via $http_proxy */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "dms-executor/" DMS_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (streaming && !c->socket_path)
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);

	if (req->body_fd >= 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
	} else if (req->body) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
	} else if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
}

/* Drives one transfer to its end, looking at the context between short
 * polls. Returns curl's result for the transfer. */
static CURLcode run_transfer(struct http_handle *h, struct http_xfer *x, const char **multi_err)
{
	CURLcode res = CURLE_OK;
	CURLMcode mc;
	int running = 1, slice = x->ctx ? HTTP_SLICE_MS : HTTP_IDLE_SLICE_MS;
	bool done = false;

	if ((mc = curl_multi_add_handle(h->multi, h->easy)) != CURLM_OK) {
		*multi_err = curl_multi_strerror(mc);
		return CURLE_FAILED_INIT;
	}
	for (;;) {
		mc = curl_multi_perform(h->multi, &running);
		if (mc != CURLM_OK) {
			*multi_err = curl_multi_strerror(mc);
			res = CURLE_FAILED_INIT;
			break;
		}
		if (!running) {
			done = true;
			break;
		}
		if ((x->ctx_rc = ctx_status(x->ctx)) != 0) {
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		mc = curl_multi_poll(h->multi, NULL, 0, slice, NULL);
		if (mc != CURLM_OK) {
			*multi_err = curl_multi_strerror(mc);
			res = CURLE_FAILED_INIT;
			break;
		}
	}
	if (done) {
		CURLMsg *m;
		int queued;

		while ((m = curl_multi_info_read(h->multi, &queued)) != NULL)
			if (m->msg == CURLMSG_DONE && m->easy_handle == h->easy)
				res = m->data.result;
	}
	/* An unfinished transfer's connection is closed here, never reused. */
	curl_multi_remove_handle(h->multi, h->easy);
	return res;
}

static const char *ctx_word(int rc)
{
	return rc == DMS_ERR_CANCELLED ? "cancelled" : "deadline exceeded";
}

int http_do(struct http_client *c, dms_context *ctx, const struct http_request *req,
            struct http_response *resp, dms_error **err)
{
	_cleanup_free_ char *url = NULL;
	_cleanup_slist_ struct curl_slist *headers = NULL;
	struct http_xfer x = {.req = req, .resp = resp, .ctx = ctx};
	struct http_handle own = {0}, *h;
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *multi_err = NULL;
	bool streaming = req->on_data != NULL || req->timeout_ms < 0;
	long timeout_ms;
	CURLcode res;
	int rc;

	if ((rc = ctx_status(ctx)) != 0)
		return err_set(err, rc, "%s %s: %s", req->method, req->path, ctx_word(rc));
	if ((rc = build_url(c, req, &url, err)) != 0)
		return rc;
	if (!(headers = build_headers(req)))
		return err_set(err, DMS_ERR_INTERNAL, "out of memory");

	h = streaming ? NULL : http_pool_acquire(c);
	if (!h) {
		if (http_handle_open(&own) != 0)
			return err_set(err, DMS_ERR_INTERNAL, "cannot create a curl handle");
		h = &own;
	}
	timeout_ms = effective_timeout_ms(req, ctx);
	setup_handle(c, h->easy, req, &x, url, headers, errbuf, timeout_ms, streaming);
	res = run_transfer(h, &x, &multi_err);

	if (res == CURLE_OK) {
		long code = 0;

		if (curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code)
			resp->status = code;
	}
	/* The handle keeps an error buffer pointer; detach it before it dies. */
	curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, NULL);
	if (h == &own)
		http_handle_destroy(&own);
	else
		http_pool_release(c, h);

	if (res == CURLE_OK)
		return 0;
	if (x.stopped)
		return 0;
	if (x.overflow)
		return err_set(
		    err, DMS_ERR_RESOURCE,
		    "%s %s: the engine's response exceeds the %u MiB limit (HTTP_MAX_BODY)",
		    req->method, req->path, HTTP_MAX_BODY >> 20);
	if (x.ctx_rc != 0)
		return err_set(err, x.ctx_rc, "%s %s: %s", req->method, req->path,
		               ctx_word(x.ctx_rc));
	if (x.read_errno != 0)
		return err_set(err, DMS_ERR_INTERNAL, "%s %s: reading the request body: %s",
		               req->method, req->path, strerror(x.read_errno));
	if (res == CURLE_OPERATION_TIMEDOUT) {
		rc = ctx_status(ctx) ? ctx_status(ctx) : DMS_ERR_TIMEOUT;
		return err_set(err, rc, "%s %s: no complete answer from %s within %ld ms",
		               req->method, req->path, c->url, timeout_ms);
	}
	if (multi_err)
		return err_set(err, DMS_ERR_INTERNAL, "%s %s: curl: %s", req->method, req->path,
		               multi_err);
	if (resp->status == 0)
		return err_set(err, DMS_ERR_RUNTIME_UNAVAILABLE,
		               "cannot reach the engine at %s: %s", c->url,
		               errbuf[0] ? errbuf : curl_easy_strerror(res));
	return err_set(err, DMS_ERR_RUNTIME_UNAVAILABLE,
	               "connection to the engine at %s dropped during %s %s: %s", c->url,
	               req->method, req->path, errbuf[0] ? errbuf : curl_easy_strerror(res));
}

char *http_urlencode(const char *s)
{
	char *enc, *out;

	if (!s || http_init_once(NULL) != 0)
		return NULL;
#if LIBCURL_VERSION_NUM >= 0x075200
	enc = curl_easy_escape(NULL, s, 0); /* the handle is ignored since 7.82 */
#else
	{
		CURL *e = curl_easy_init();

		enc = e ? curl_easy_escape(e, s, 0) : NULL;
		curl_easy_cleanup(e);
	}
#endif
	if (!enc)
		return NULL;
	out = strdup(enc);
	curl_free(enc);
	return out;
}
