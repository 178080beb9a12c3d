/* cmn_http: the embedded HTTP server (civetweb) both services use.
 *
 * Serves `/metrics` from a registry and whatever routes the service adds
 * (`/health`, `/ready`, `/status`, admin endpoints). No file serving, no
 * directory listing, no TLS (civetweb's TLS crashes with Debian 12's OpenSSL
 * 3). Requests are limited in size and time; `tcp_nodelay` is on. Handlers
 * run on civetweb's worker threads: they may only read atomics (metrics,
 * published snapshots) or talk to actors through their own sockets. A route
 * marked admin answers 404 while no admin token is configured, and 401
 * without `Authorization: Bearer <token>` (compared in constant time).
 * Unknown paths answer 404, a known path with another method 405 (with
 * Allow); HEAD is served by a GET route without the body. A body larger than
 * max_request_bytes answers 413 (from Content-Length, before reading) and
 * closes the connection. Keep-alive is on. */
#ifndef CMN_HTTP_H
#define CMN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "cmn_json.h"
#include "cmn_metrics.h"

typedef struct _cmn_http_t cmn_http_t;

typedef struct {
    const char *bind_address; /* e.g. "0.0.0.0" or "127.0.0.1" */
    int port;                 /* 0 picks a free port: see cmn_http_port() */
    int threads;              /* worker threads (civetweb num_threads) */
    size_t max_request_bytes; /* larger bodies answer 413 */
    int request_timeout_ms;   /* civetweb request_timeout_ms */
    const char *admin_token;  /* NULL or "" disables admin routes */
} cmn_http_config_t;

/* Slow clients (issue 12): civetweb gives each connection a worker thread
 * until its request is in, so the worker count is how many slow clients
 * can be open while /health still gets a thread at once, and the request
 * timeout (headers and body together) how long each can hold one; an idle
 * keep-alive connection holds one for CMN_HTTP_KEEP_ALIVE_TIMEOUT_MS. */
#define CMN_HTTP_THREADS_DEFAULT 128
#define CMN_HTTP_THREADS_MAX 1024
#define CMN_HTTP_MAX_REQUEST_BYTES_DEFAULT 16384
#define CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT 2000
#define CMN_HTTP_KEEP_ALIVE_TIMEOUT_MS 500

typedef struct {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *query;  /* NULL when absent */
    const char *body;   /* NUL-terminated; NULL when empty */
    size_t body_length;
} cmn_http_request_t;

typedef struct _cmn_http_response_t cmn_http_response_t;

/* A route handler. It must call one of the cmn_http_respond* functions once;
 * if it does not, the client gets 500. */
typedef void(cmn_http_handler_fn)(const cmn_http_request_t *request,
                                  cmn_http_response_t *response, void *arg);

/* Checks that `address` is one IPv4 address in dotted-quad form (what the
 * server binds: civetweb would read "256.0.0.0" as 0.0.0.0 and "a:1,b" as
 * two listeners). Returns 0, or -1 with a static reason. For start-up
 * validation of *_HTTP_BIND / MDP_METRICS_BIND. */
int cmn_http_check_bind_address(const char *address, const char **reason);

/* A server for `config` (copied) exposing `metrics` on GET /metrics (the
 * registry is borrowed and must outlive the server). Not started yet. Caller
 * owns the result. */
cmn_http_t *cmn_http_new(const cmn_http_config_t *config,
                         cmn_metrics_t *metrics);

/* Stops the server if running and frees it; tolerates NULL and sets *self_p
 * to NULL. Takes about 2 s once a request has been served (civetweb). */
void cmn_http_destroy(cmn_http_t **self_p);

/* Adds a route for an exact method and path; `admin` routes need the bearer
 * token. Call before cmn_http_start(). */
void cmn_http_route(cmn_http_t *self, const char *method, const char *path,
                    bool admin, cmn_http_handler_fn *handler, void *arg);

/* Starts listening. Returns 0, or -1 (logged) when the port cannot be bound. */
int cmn_http_start(cmn_http_t *self);

/* The port actually bound (useful when the configured port was 0). */
int cmn_http_port(cmn_http_t *self);

/* Answers with a status, a content type and a body (copied). */
void cmn_http_respond(cmn_http_response_t *response, int status,
                      const char *content_type, const char *body,
                      size_t length);

/* Adds one extra header to the answer (e.g. Content-Security-Policy);
 * `name` and `value` are borrowed until the answer is sent: pass string
 * constants. A second call replaces the first. */
void cmn_http_respond_header(cmn_http_response_t *response, const char *name,
                             const char *value);

/* Answers with a JSON body from a writer (copied). */
void cmn_http_respond_json(cmn_http_response_t *response, int status,
                           cmn_json_t *json);

/* Finds `key` in a query string (`a=1&b=x%20y`; NULL reads as empty) and
 * URL-decodes its value ('+' is a space, %XX one byte) into `out`. Returns
 * 1 when found, 0 when absent or empty, -1 when badly encoded, holding a
 * NUL byte or not fitting in `capacity` with its NUL. Pure: any thread. */
int cmn_http_query_value(const char *query, const char *key, char *out,
                         size_t capacity);

#endif
