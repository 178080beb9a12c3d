/* cmn_http: routes, limits and admin auth on top of civetweb.
 *
 * One civetweb handler catches every path and dispatches on an exact
 * (method, path) table that is fixed before start, so worker threads only
 * read it. Checks run in this order, each answering before the body is read:
 * a declared body over the limit (413), unknown path (404; admin routes
 * also 404 while no token is configured), wrong method (405), missing or
 * wrong bearer token (401, compared in constant time). Then the body is read
 * (bounded; chunked bodies too) and the route handler fills a response that
 * is sent with Content-Length so keep-alive works. */
#include "cmn_http.h"
#include "cmn_log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <civetweb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CMN_HTTP_OPTION_BYTES 64 /* "255.255.255.255:65535", numbers */
#define CMN_HTTP_LENGTH_BYTES 24 /* a Content-Length value */
#define CMN_HTTP_ALLOW_BYTES 128 /* the Allow header of a 405 */
#define CMN_HTTP_MAX_LISTENERS 4 /* ports asked of mg_get_server_ports */
#define CMN_HTTP_STATUS_OK 200
#define CMN_HTTP_STATUS_BAD_REQUEST 400
#define CMN_HTTP_STATUS_UNAUTHORIZED 401
#define CMN_HTTP_STATUS_NOT_FOUND 404
#define CMN_HTTP_STATUS_METHOD_NOT_ALLOWED 405
#define CMN_HTTP_STATUS_TOO_LARGE 413
#define CMN_HTTP_STATUS_INTERNAL_ERROR 500
#define CMN_HTTP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define CMN_HTTP_TEXT_CONTENT_TYPE "text/plain; charset=utf-8"
#define CMN_HTTP_BEARER_PREFIX "Bearer "

typedef struct {
    char *method;
    char *path;
    bool admin; /* needs the bearer token */
    cmn_http_handler_fn *handler;
    void *arg;
} s_route_t;

struct _cmn_http_t {
    cmn_http_config_t config; /* copy; strings below are owned */
    char *bind_address;
    char *admin_token;      /* NULL when admin routes are disabled */
    cmn_metrics_t *metrics; /* borrowed */
    s_route_t *routes;      /* fixed once started */
    size_t route_count;
    struct mg_context *context; /* NULL until started */
    int port;                   /* bound port once started */
};

struct _cmn_http_response_t {
    int status;
    char *content_type;
    char *body;
    size_t length;
    bool responded; /* a respond function was called */
    bool failed;    /* out of memory copying the answer */

    /* One extra header (string constants; NULL when none), from
     * cmn_http_respond_header(). */
    const char *header_name;
    const char *header_value;
};

static pthread_once_t s_library_once = PTHREAD_ONCE_INIT;

static void s_library_init(void)
{
    mg_init_library(0);
}

static void s_metrics_handler(const cmn_http_request_t *request,
                              cmn_http_response_t *response, void *arg)
{
    (void)request;
    size_t length = 0;
    char *text = cmn_metrics_render(arg, &length);
    if (!text) {
        cmn_http_respond(response, CMN_HTTP_STATUS_INTERNAL_ERROR,
                         CMN_HTTP_TEXT_CONTENT_TYPE, "out of memory\n",
                         strlen("out of memory\n"));
        return;
    }
    cmn_http_respond(response, CMN_HTTP_STATUS_OK,
                     CMN_HTTP_METRICS_CONTENT_TYPE, text, length);
    free(text);
}

int cmn_http_check_bind_address(const char *address, const char **reason)
{
    assert(reason);
    struct in_addr parsed;
    /* inet_pton is strict: four decimal parts 0..255, nothing else. */
    if (!address || inet_pton(AF_INET, address, &parsed) != 1) {
        *reason = "expected one IPv4 address such as 0.0.0.0 or 127.0.0.1";
        return -1;
    }
    *reason = NULL;
    return 0;
}

cmn_http_t *cmn_http_new(const cmn_http_config_t *config,
                         cmn_metrics_t *metrics)
{
    assert(config && config->bind_address && metrics);
    assert(config->port >= 0 && config->threads > 0 &&
           config->threads <= CMN_HTTP_THREADS_MAX);
    pthread_once(&s_library_once, s_library_init);
    cmn_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->bind_address = strdup(config->bind_address);
    self->admin_token = config->admin_token && *config->admin_token
                            ? strdup(config->admin_token)
                            : NULL;
    self->metrics = metrics;
    if (!self->bind_address ||
        (config->admin_token && *config->admin_token && !self->admin_token)) {
        cmn_http_destroy(&self);
        return NULL;
    }
    cmn_http_route(self, "GET", "/metrics", false, s_metrics_handler, metrics);
    return self;
}

void cmn_http_destroy(cmn_http_t **self_p)
{
    assert(self_p);
    cmn_http_t *self = *self_p;
    if (!self)
        return;
    if (self->context)
        mg_stop(self->context);
    for (size_t index = 0; index < self->route_count; index++) {
        free(self->routes[index].method);
        free(self->routes[index].path);
    }
    free(self->routes);
    free(self->bind_address);
    free(self->admin_token);
    free(self);
    *self_p = NULL;
}

void cmn_http_route(cmn_http_t *self, const char *method, const char *path,
                    bool admin, cmn_http_handler_fn *handler, void *arg)
{
    assert(self && method && path && path[0] == '/' && handler);
    assert(!self->context); /* the table is read without locks once started */
    s_route_t *routes =
        realloc(self->routes, (self->route_count + 1) * sizeof *routes);
    assert(routes); /* start-up only: out of memory here is fatal */
    self->routes = routes;
    s_route_t *route = &routes[self->route_count++];
    route->method = strdup(method);
    route->path = strdup(path);
    assert(route->method && route->path);
    route->admin = admin;
    route->handler = handler;
    route->arg = arg;
}

void cmn_http_respond(cmn_http_response_t *response, int status,
                      const char *content_type, const char *body, size_t length)
{
    assert(response && content_type && (body || length == 0));
    assert(!response->responded); /* exactly once per request */
    response->responded = true;
    response->status = status;
    response->content_type = strdup(content_type);
    response->body = malloc(length + 1);
    if (!response->content_type || !response->body) {
        response->failed = true;
        return;
    }
    if (length)
        memcpy(response->body, body, length);
    response->body[length] = '\0';
    response->length = length;
}

void cmn_http_respond_header(cmn_http_response_t *response, const char *name,
                             const char *value)
{
    assert(response && name && value);
    response->header_name = name;
    response->header_value = value;
}

void cmn_http_respond_json(cmn_http_response_t *response, int status,
                           cmn_json_t *json)
{
    assert(json);
    cmn_http_respond(response, status, "application/json", cmn_json_text(json),
                     cmn_json_length(json));
}

/* Sends a complete answer with Content-Length; no body for HEAD. */
static void s_send(struct mg_connection *connection, bool head, int status,
                   const char *content_type, const char *body, size_t length,
                   const char *extra_name, const char *extra_value)
{
    char length_text[CMN_HTTP_LENGTH_BYTES];
    snprintf(length_text, sizeof length_text, "%zu", length);
    mg_response_header_start(connection, status);
    mg_response_header_add(connection, "Content-Type", content_type, -1);
    mg_response_header_add(connection, "Content-Length", length_text, -1);
    mg_response_header_add(connection, "Cache-Control", "no-store", -1);
    if (extra_name)
        mg_response_header_add(connection, extra_name, extra_value, -1);
    mg_response_header_send(connection);
    if (!head && length)
        mg_write(connection, body, length);
}

static void s_send_text(struct mg_connection *connection, bool head, int status,
                        const char *text, const char *extra_name,
                        const char *extra_value)
{
    s_send(connection, head, status, CMN_HTTP_TEXT_CONTENT_TYPE, text,
           strlen(text), extra_name, extra_value);
}

/* Answers an error and closes the connection afterwards, so civetweb does
 * not wait to read (and discard) a body we refused. mg_send_http_error
 * marks the connection to be closed; a Connection header alone does not. */
static void s_send_error_and_close(struct mg_connection *connection, int status,
                                   const char *text)
{
    mg_send_http_error(connection, status, "%s\n", text);
}

/* True when the request carries `Authorization: Bearer <token>`. Compares
 * in time that depends only on the configured token's length. */
static bool s_authorized(const cmn_http_t *self,
                         struct mg_connection *connection)
{
    const char *header = mg_get_header(connection, "Authorization");
    size_t prefix_length = strlen(CMN_HTTP_BEARER_PREFIX);
    if (!header || strncasecmp(header, CMN_HTTP_BEARER_PREFIX, prefix_length))
        return false;
    const char *given = header + prefix_length;
    const char *expected = self->admin_token;
    size_t given_length = strlen(given);
    size_t expected_length = strlen(expected);
    unsigned char difference = given_length != expected_length;
    for (size_t index = 0; index < expected_length; index++) {
        unsigned char other =
            index < given_length ? (unsigned char)given[index] : 0;
        difference |= (unsigned char)expected[index] ^ other;
    }
    return difference == 0;
}

/* Reads the body into a new NUL-terminated buffer. Returns 0, or the status
 * to answer with (413 over the limit, 400 when the client stops short). */
static int s_read_body(const cmn_http_t *self, struct mg_connection *connection,
                       long long declared, char **body, size_t *length)
{
    size_t limit = self->config.max_request_bytes;
    const char *encoding = mg_get_header(connection, "Transfer-Encoding");
    bool chunked = encoding && strcasecmp(encoding, "chunked") == 0;
    *body = NULL;
    *length = 0;
    if (declared <= 0 && !chunked)
        return 0; /* no body */
    /* A chunked body has no declared size: read at most one byte more than
     * the limit to detect an oversized one. */
    size_t wanted = chunked ? limit + 1 : (size_t)declared;
    char *buffer = malloc(wanted + 1);
    if (!buffer)
        return CMN_HTTP_STATUS_INTERNAL_ERROR;
    size_t got = 0;
    while (got < wanted) {
        int count = mg_read(connection, buffer + got, wanted - got);
        if (count <= 0)
            break;
        got += (size_t)count;
    }
    if (got > limit) {
        free(buffer);
        return CMN_HTTP_STATUS_TOO_LARGE;
    }
    if (!chunked && got < wanted) {
        free(buffer);
        return CMN_HTTP_STATUS_BAD_REQUEST;
    }
    buffer[got] = '\0';
    *body = buffer;
    *length = got;
    return 0;
}

static int s_dispatch(struct mg_connection *connection, void *arg)
{
    cmn_http_t *self = arg;
    const struct mg_request_info *info = mg_get_request_info(connection);
    const char *method = info->request_method;
    const char *path = info->local_uri ? info->local_uri : "";
    bool head = strcmp(method, "HEAD") == 0;

    if (info->content_length > 0 && (unsigned long long)info->content_length >
                                        self->config.max_request_bytes) {
        s_send_error_and_close(connection, CMN_HTTP_STATUS_TOO_LARGE,
                               "request body too large");
        return CMN_HTTP_STATUS_TOO_LARGE;
    }
    const s_route_t *route = NULL;
    bool path_known = false;
    char allow[CMN_HTTP_ALLOW_BYTES] = "";
    for (size_t index = 0; index < self->route_count; index++) {
        const s_route_t *candidate = &self->routes[index];
        if (strcmp(candidate->path, path) != 0 ||
            (candidate->admin && !self->admin_token))
            continue;
        path_known = true;
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "",
                 candidate->method);
        if (strcmp(candidate->method, method) == 0 ||
            (head && strcmp(candidate->method, "GET") == 0 && !route))
            route = candidate;
    }
    if (!path_known) {
        s_send_text(connection, head, CMN_HTTP_STATUS_NOT_FOUND, "not found\n",
                    NULL, NULL);
        return CMN_HTTP_STATUS_NOT_FOUND;
    }
    if (!route) {
        s_send_text(connection, head, CMN_HTTP_STATUS_METHOD_NOT_ALLOWED,
                    "method not allowed\n", "Allow", allow);
        return CMN_HTTP_STATUS_METHOD_NOT_ALLOWED;
    }
    if (route->admin && !s_authorized(self, connection)) {
        s_send_text(connection, head, CMN_HTTP_STATUS_UNAUTHORIZED,
                    "unauthorized\n", "WWW-Authenticate", "Bearer");
        return CMN_HTTP_STATUS_UNAUTHORIZED;
    }
    char *body = NULL;
    size_t body_length = 0;
    int status = s_read_body(self, connection, info->content_length, &body,
                             &body_length);
    if (status != 0) {
        s_send_error_and_close(connection, status,
                               status == CMN_HTTP_STATUS_TOO_LARGE
                                   ? "request body too large"
                                   : "bad request body");
        return status;
    }
    cmn_http_request_t request = {
        .method = method,
        .path = path,
        .query = info->query_string,
        .body = body,
        .body_length = body_length,
    };
    cmn_http_response_t response = {0};
    route->handler(&request, &response, route->arg);
    if (!response.responded || response.failed) {
        cmn_log_error(
            "http", "handler_failed", "method=%s path=%s %s", method, path,
            response.failed ? "reason=out_of_memory" : "reason=no_response");
        s_send_text(connection, head, CMN_HTTP_STATUS_INTERNAL_ERROR,
                    "internal error\n", NULL, NULL);
        status = CMN_HTTP_STATUS_INTERNAL_ERROR;
    } else {
        s_send(connection, head, response.status, response.content_type,
               response.body, response.length, response.header_name,
               response.header_value);
        status = response.status;
    }
    free(response.content_type);
    free(response.body);
    free(body);
    return status;
}

/* civetweb's own messages (bad requests, bind failures) go to our log. */
static int s_log_message(const struct mg_connection *connection,
                         const char *message)
{
    (void)connection;
    cmn_log_warning("http", "civetweb", "message=\"%s\"", message);
    return 1; /* handled: civetweb prints nothing itself */
}

int cmn_http_start(cmn_http_t *self)
{
    assert(self && !self->context);
    char listening[CMN_HTTP_OPTION_BYTES];
    char threads[CMN_HTTP_OPTION_BYTES];
    char timeout[CMN_HTTP_OPTION_BYTES];
    char keep_alive[CMN_HTTP_OPTION_BYTES];
    char address[INET_ADDRSTRLEN];
    struct in_addr parsed;
    /* The address in canonical form is exactly what civetweb binds (and
     * what the log says); anything else would bind something else. */
    if (inet_pton(AF_INET, self->bind_address, &parsed) != 1 ||
        !inet_ntop(AF_INET, &parsed, address, sizeof address)) {
        cmn_log_error("http", "start_failed", "bind_address=\"%s\" %s",
                      self->bind_address, "reason=not_an_ipv4_address");
        return -1;
    }
    snprintf(listening, sizeof listening, "%s:%d", address, self->config.port);
    snprintf(threads, sizeof threads, "%d", self->config.threads);
    snprintf(timeout, sizeof timeout, "%d", self->config.request_timeout_ms);
    snprintf(keep_alive, sizeof keep_alive, "%d",
             CMN_HTTP_KEEP_ALIVE_TIMEOUT_MS);
    /* No document_root: nothing is ever served from disk. */
    /* Name, value pairs. */
    // clang-format off
    const char *options[] = {
        "listening_ports", listening,
        "num_threads", threads,
        "request_timeout_ms", timeout,
        "keep_alive_timeout_ms", keep_alive,
        "tcp_nodelay", "1",
        "enable_keep_alive", "yes",
        "enable_directory_listing", "no",
        NULL,
    };
    // clang-format on
    struct mg_callbacks callbacks = {.log_message = s_log_message};
    self->context = mg_start(&callbacks, self, options);
    if (!self->context) {
        cmn_log_error("http", "start_failed", "listen=%s", listening);
        return -1;
    }
    mg_set_request_handler(self->context, "/", s_dispatch, self);
    struct mg_server_port ports[CMN_HTTP_MAX_LISTENERS];
    int count =
        mg_get_server_ports(self->context, CMN_HTTP_MAX_LISTENERS, ports);
    self->port = count > 0 ? ports[0].port : self->config.port;
    cmn_log_info("http", "listening",
                 "address=%s port=%d threads=%d request_timeout_ms=%d", address,
                 self->port, self->config.threads,
                 self->config.request_timeout_ms);
    return 0;
}

int cmn_http_port(cmn_http_t *self)
{
    assert(self);
    return self->port;
}

/* ---- query strings ---------------------------------------------------- */

static int s_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int cmn_http_query_value(const char *query, const char *key, char *out,
                         size_t capacity)
{
    assert(key && out && capacity > 0);
    size_t key_length = strlen(key);
    const char *cursor = query;
    while (cursor && *cursor) {
        if (strncmp(cursor, key, key_length) == 0 &&
            cursor[key_length] == '=') {
            const char *value = cursor + key_length + 1;
            size_t length = strcspn(value, "&"), used = 0;
            for (size_t k = 0; k < length; k++) {
                char c = value[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int high = k + 2 < length ? s_hex_digit(value[k + 1]) : -1;
                    int low = high >= 0 ? s_hex_digit(value[k + 2]) : -1;
                    if (low < 0)
                        return -1;
                    c = (char)(high * 16 + low);
                    k += 2;
                }
                if (used + 1 >= capacity || c == '\0')
                    return -1;
                out[used++] = c;
            }
            out[used] = '\0';
            return used > 0 ? 1 : 0;
        }
        cursor = strchr(cursor, '&');
        if (cursor)
            cursor++;
    }
    return 0;
}
