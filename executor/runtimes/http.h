/* http.h — the one HTTP client of the plugin: libcurl to an engine over a
 * unix socket (unix:///path) or TCP (tcp://host:port, http://host:port).
 *
 * Short requests reuse a small pool of curl easy handles (each keeps its
 * connection alive), so no connection is opened per request. Streaming
 * requests (events, log follow, pulls) use a dedicated handle with no
 * timeout and are cancelled through their dms_context. Every response body
 * is bounded. */
#ifndef DMS_HTTP_H
#define DMS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <dms/executor.h>
#include "buf.h"
#include "cleanup.h"

struct http_client;

struct http_response {
	long status;              /* HTTP status; 0 if no response */
	struct buf body;          /* bounded: HTTP_MAX_BODY unless streamed */
	char *api_version;        /* "Api-Version" header if present */
	char *libpod_api_version; /* "Libpod-Api-Version" header if present */
	char *server;             /* "Server" header if present */
};

#define HTTP_MAX_BODY (32u << 20)

/* Receives streamed body bytes; return 0 to continue, non-zero to stop the
 * transfer (the request then returns 0 if the status was already OK). */
typedef int (*http_stream_fn)(void *user_data, const char *data, size_t len);
/* Called once when response headers are complete (status known). */
typedef void (*http_headers_fn)(void *user_data, long status);

struct http_request {
	const char *method; /* "GET", "POST", "DELETE" */
	const char *path;   /* "/containers/json?all=1", without version prefix */
	bool versioned;     /* prefix path with "/v<api_version>" */
	const char *body;   /* may be NULL */
	size_t body_len;
	int body_fd;              /* >= 0: stream the body from this fd instead */
	const char *content_type; /* default application/json when body given */
	const char *extra_header; /* one raw "Name: value" header, or NULL */
	long timeout_ms;          /* total; 0: the client default (60 s); -1: none */
	http_stream_fn on_data;   /* non-NULL: stream body here instead of buffering */
	http_headers_fn on_headers;
	void *user_data;
};

/* url: "unix:///run/docker.sock", "tcp://127.0.0.1:2375", "http://..." */
int http_client_new(const char *url, struct http_client **out, dms_error **err);
void http_client_free(struct http_client *c);
/* Sets the API version used for versioned paths ("1.41"). */
void http_client_set_api_version(struct http_client *c, const char *version);
/* TLS to a tcp:// engine (docs/swarm.md, "TLS"): the base URL becomes
 * https; ca (NULL: the system's bundle) verifies the engine, cert and key
 * (both or neither) are the client's. DMS_ERR_CONFIG for a unix socket. */
int http_client_set_tls(struct http_client *c, const char *ca, const char *cert, const char *key,
                        dms_error **err);
const char *http_client_api_version(const struct http_client *c);
const char *http_client_url(const struct http_client *c);

/* Performs the request. Returns 0 when an HTTP response arrived (any
 * status: check resp->status), DMS_ERR_RUNTIME_UNAVAILABLE when the engine
 * could not be reached (message names the URL and curl's error), or the
 * context's status when it ended. resp must be http_response_init()ed. */
int http_do(struct http_client *c, dms_context *ctx, const struct http_request *req,
            struct http_response *resp, dms_error **err);

void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);

/* A response local that frees itself: an early return cannot leak it.
 *     _cleanup_response_ struct http_response resp = http_response_new(); */
static inline void http_response_freep(struct http_response *r)
{
	http_response_free(r);
}
#define _cleanup_response_ _cleanup_(http_response_freep)

static inline struct http_response http_response_new(void)
{
	struct http_response r;

	http_response_init(&r);
	return r;
}

/* Percent-encodes s for a query string; caller frees. */
char *http_urlencode(const char *s);

#endif
