/* Unit tests for cmn_http: a real server on 127.0.0.1 (port 0) and real
 * requests written to a TCP socket, including malformed ones. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_http.h"
#include "cmn_log.h"

#define RESPONSE_BYTES 65536
#define SOCKET_TIMEOUT_SEC                                                     \
    10 /* a broken server fails the test, never hangs                          \
        */
#define MAX_BODY_BYTES 1024
#define ADMIN_TOKEN "s3cret-token"

typedef struct {
    cmn_metrics_t *metrics;
    cmn_http_t *open;    /* no admin token */
    cmn_http_t *guarded; /* with ADMIN_TOKEN */
} fixture_t;

static void s_echo(const cmn_http_request_t *request,
                   cmn_http_response_t *response, void *arg)
{
    (void)arg;
    cmn_json_t *json = cmn_json_new();
    cmn_json_object_begin(json, NULL);
    cmn_json_string(json, "method", request->method);
    cmn_json_string(json, "path", request->path);
    cmn_json_string(json, "query", request->query);
    cmn_json_string(json, "body", request->body);
    cmn_json_uint(json, "length", request->body_length);
    cmn_json_object_end(json);
    cmn_http_respond_json(response, 200, json);
    cmn_json_destroy(&json);
}

static void s_admin(const cmn_http_request_t *request,
                    cmn_http_response_t *response, void *arg)
{
    (void)request;
    (void)arg;
    cmn_http_respond(response, 200, "text/plain", "drained\n", 8);
}

static void s_silent(const cmn_http_request_t *request,
                     cmn_http_response_t *response, void *arg)
{
    (void)request;
    (void)response;
    (void)arg;
}

static cmn_http_t *s_server(cmn_metrics_t *metrics, const char *token)
{
    cmn_http_config_t config = {
        .bind_address = "127.0.0.1",
        .port = 0,
        .threads = 2,
        .max_request_bytes = MAX_BODY_BYTES,
        .request_timeout_ms = CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT,
        .admin_token = token,
    };
    cmn_http_t *http = cmn_http_new(&config, metrics);
    assert_non_null(http);
    cmn_http_route(http, "POST", "/echo", false, s_echo, NULL);
    cmn_http_route(http, "GET", "/echo", false, s_echo, NULL);
    cmn_http_route(http, "POST", "/admin/drain", true, s_admin, NULL);
    cmn_http_route(http, "GET", "/silent", false, s_silent, NULL);
    assert_int_equal(cmn_http_start(http), 0);
    assert_true(cmn_http_port(http) > 0);
    return http;
}

static int s_setup(void **state)
{
    cmn_log_setup("test-http", CMN_LOG_ERROR, CMN_LOG_TEXT);
    fixture_t *fixture = calloc(1, sizeof *fixture);
    fixture->metrics = cmn_metrics_new();
    cmn_metric_t *requests = cmn_metrics_counter(
        fixture->metrics, "test_requests_total", "Requests.", "path");
    cmn_series_add(cmn_metric_series(requests, "/a\"b", NULL), 7);
    fixture->open = s_server(fixture->metrics, NULL);
    fixture->guarded = s_server(fixture->metrics, ADMIN_TOKEN);
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = *state;
    cmn_http_destroy(&fixture->open);
    cmn_http_destroy(&fixture->guarded);
    assert_null(fixture->open);
    cmn_metrics_destroy(&fixture->metrics);
    free(fixture);
    return 0;
}

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {.tv_sec = SOCKET_TIMEOUT_SEC};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof address),
                     0);
    return fd;
}

/* Sends `request` raw and reads until the server closes; returns the
 * status code (0 if there was no parsable status line). */
static int s_exchange(int port, const char *request, size_t request_length,
                      char *response, size_t size)
{
    int fd = s_connect(port);
    size_t sent = 0;
    while (sent < request_length) {
        ssize_t count =
            send(fd, request + sent, request_length - sent, MSG_NOSIGNAL);
        if (count <= 0)
            break; /* the server may answer early and close */
        sent += (size_t)count;
    }
    size_t length = 0;
    ssize_t count;
    while (length + 1 < size &&
           (count = recv(fd, response + length, size - 1 - length, 0)) > 0)
        length += (size_t)count;
    response[length] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(response, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static int s_request(int port, const char *request, char *response, size_t size)
{
    return s_exchange(port, request, strlen(request), response, size);
}

static const char *s_body(const char *response)
{
    const char *body = strstr(response, "\r\n\r\n");
    assert_non_null(body);
    return body + 4;
}

static void test_metrics_endpoint(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int port = cmn_http_port(fixture->open);
    assert_int_equal(s_request(port,
                               "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     200);
    assert_non_null(strstr(response, "Content-Type: text/plain; "
                                     "version=0.0.4; charset=utf-8\r\n"));
    assert_string_equal(s_body(response),
                        "# HELP test_requests_total Requests.\n"
                        "# TYPE test_requests_total counter\n"
                        "test_requests_total{path=\"/a\\\"b\"} 7\n");
    /* HEAD: same headers, no body. */
    assert_int_equal(s_request(port,
                               "HEAD /metrics HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     200);
    assert_string_equal(s_body(response), "");
}

static void test_keep_alive_serves_two_requests(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int fd = s_connect(cmn_http_port(fixture->open));
    const char *first = "GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *second =
        "GET /echo?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(send(fd, first, strlen(first), MSG_NOSIGNAL),
                     (ssize_t)strlen(first));
    /* Read the first answer fully (headers then Content-Length bytes). */
    size_t length = 0;
    const char *body = NULL;
    long content_length = -1;
    while (!body ||
           (size_t)(response + length - body) < (size_t)content_length) {
        ssize_t count =
            recv(fd, response + length, sizeof response - 1 - length, 0);
        assert_true(count > 0);
        length += (size_t)count;
        response[length] = '\0';
        const char *end = strstr(response, "\r\n\r\n");
        const char *header = strstr(response, "Content-Length: ");
        if (end && header) {
            body = end + 4;
            content_length = strtol(header + 16, NULL, 10);
        }
    }
    assert_non_null(strstr(body, "\"query\":\"n=1\""));
    assert_int_equal(send(fd, second, strlen(second), MSG_NOSIGNAL),
                     (ssize_t)strlen(second));
    length = 0;
    ssize_t count;
    while ((count = recv(fd, response + length, sizeof response - 1 - length,
                         0)) > 0)
        length += (size_t)count;
    response[length] = '\0';
    close(fd);
    assert_non_null(strstr(response, "HTTP/1.1 200"));
    assert_non_null(strstr(response, "\"query\":\"n=2\""));
}

static void test_custom_route_with_body(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int port = cmn_http_port(fixture->open);
    assert_int_equal(s_request(port,
                               "POST /echo?x=1 HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 11\r\n"
                               "Connection: close\r\n\r\nhello \"you\"",
                               response, sizeof response),
                     200);
    assert_non_null(strstr(response, "Content-Type: application/json\r\n"));
    assert_string_equal(s_body(response),
                        "{\"method\":\"POST\",\"path\":\"/echo\","
                        "\"query\":\"x=1\",\"body\":\"hello \\\"you\\\"\","
                        "\"length\":11}");
    /* A chunked body within the limit. */
    assert_int_equal(s_request(port,
                               "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\n"
                               "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                               response, sizeof response),
                     200);
    assert_non_null(strstr(s_body(response), "\"body\":\"abcde\""));
}

static void test_not_found_and_method_not_allowed(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int port = cmn_http_port(fixture->open);
    assert_int_equal(s_request(port,
                               "GET /nope HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     404);
    assert_string_equal(s_body(response), "not found\n");
    assert_int_equal(s_request(port,
                               "GET /metrics/x HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     404);
    assert_int_equal(s_request(port,
                               "GET / HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     404);
    assert_int_equal(s_request(port,
                               "DELETE /metrics HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     405);
    assert_non_null(strstr(response, "Allow: GET\r\n"));
    assert_int_equal(s_request(port,
                               "PUT /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     405);
    assert_non_null(strstr(response, "Allow: POST, GET\r\n"));
}

static void test_oversized_body_is_refused(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int port = cmn_http_port(fixture->open);
    /* Declared too large: answered from the headers, body never sent. */
    assert_int_equal(s_request(port,
                               "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 100000000\r\n\r\nabc",
                               response, sizeof response),
                     413);
    /* Chunked and too large: refused while reading. */
    static char chunked[4 * MAX_BODY_BYTES];
    int length = snprintf(chunked, sizeof chunked,
                          "POST /echo HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
                          2 * MAX_BODY_BYTES);
    memset(chunked + length, 'z', 2 * MAX_BODY_BYTES);
    length += 2 * MAX_BODY_BYTES;
    length += snprintf(chunked + length, sizeof chunked - (size_t)length,
                       "\r\n0\r\n\r\n");
    assert_int_equal(
        s_exchange(port, chunked, (size_t)length, response, sizeof response),
        413);
    /* Exactly the limit is fine. */
    static char exact[4 * MAX_BODY_BYTES];
    length = snprintf(exact, sizeof exact,
                      "POST /echo HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n",
                      MAX_BODY_BYTES);
    memset(exact + length, 'y', MAX_BODY_BYTES);
    length += MAX_BODY_BYTES;
    assert_int_equal(
        s_exchange(port, exact, (size_t)length, response, sizeof response),
        200);
    assert_non_null(strstr(response, "\"length\":1024}"));
}

static void test_garbage_then_still_serving(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    int port = cmn_http_port(fixture->open);
    int status =
        s_request(port, "\x01\x02 garbage\r\n\r\n", response, sizeof response);
    assert_true(status == 0 || status >= 400);
    status = s_request(port, "GET\r\n\r\n", response, sizeof response);
    assert_true(status == 0 || status >= 400);
    status = s_request(port, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
                       response, sizeof response);
    assert_true(status == 0 || status >= 400);
    assert_int_equal(s_request(port,
                               "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     200);
}

static void test_handler_without_response_is_500(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    assert_int_equal(s_request(cmn_http_port(fixture->open),
                               "GET /silent HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     500);
}

static void test_admin_routes(void **state)
{
    fixture_t *fixture = *state;
    char response[RESPONSE_BYTES];
    /* No token configured: the route does not exist. */
    assert_int_equal(s_request(cmn_http_port(fixture->open),
                               "POST /admin/drain HTTP/1.1\r\nHost: x\r\n"
                               "Authorization: Bearer " ADMIN_TOKEN "\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     404);
    int port = cmn_http_port(fixture->guarded);
    assert_int_equal(s_request(port,
                               "POST /admin/drain HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     401);
    assert_non_null(strstr(response, "WWW-Authenticate: Bearer\r\n"));
    const char *wrong[] = {"Bearer wrong", "Bearer " ADMIN_TOKEN "x",
                           "Bearer s3cret-toke", "Basic " ADMIN_TOKEN,
                           "Bearer "};
    for (size_t index = 0; index < sizeof wrong / sizeof *wrong; index++) {
        char request[512];
        snprintf(request, sizeof request,
                 "POST /admin/drain HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: %s\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 wrong[index]);
        assert_int_equal(s_request(port, request, response, sizeof response),
                         401);
    }
    assert_int_equal(s_request(port,
                               "POST /admin/drain HTTP/1.1\r\nHost: x\r\n"
                               "Authorization: Bearer " ADMIN_TOKEN "\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n\r\n",
                               response, sizeof response),
                     200);
    assert_string_equal(s_body(response), "drained\n");
}

static void test_port_in_use_fails_to_start(void **state)
{
    fixture_t *fixture = *state;
    cmn_http_config_t config = {
        .bind_address = "127.0.0.1",
        .port = cmn_http_port(fixture->open),
        .threads = 1,
        .max_request_bytes = MAX_BODY_BYTES,
        .request_timeout_ms = CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT,
    };
    cmn_http_t *http = cmn_http_new(&config, fixture->metrics);
    assert_non_null(http);
    assert_int_equal(cmn_http_start(http), -1);
    cmn_http_destroy(&http);
}

/* Issue 12: civetweb read 256.0.0.0 as 0.0.0.0 and a list as two
 * listeners; only one dotted-quad IPv4 address is accepted. */
static void test_bind_address_check(void **state)
{
    (void)state;
    const char *reason = NULL;
    assert_int_equal(cmn_http_check_bind_address("0.0.0.0", &reason), 0);
    assert_int_equal(cmn_http_check_bind_address("127.0.0.1", &reason), 0);
    assert_int_equal(cmn_http_check_bind_address("255.255.255.255", &reason),
                     0);
    const char *bad[] = {"256.0.0.0", "127.0.0.1:8080,127.0.0.1",
                         "a:80,b",    "127.0.0.1,127.0.0.2",
                         "localhost", " 127.0.0.1",
                         "1.2.3",     "127.0.0.01",
                         "::1",       "",
                         NULL};
    for (size_t index = 0; bad[index]; index++) {
        reason = NULL;
        assert_int_equal(cmn_http_check_bind_address(bad[index], &reason), -1);
        assert_non_null(reason);
    }
    assert_int_equal(cmn_http_check_bind_address(NULL, &reason), -1);
}

static void test_query_value(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(
        cmn_http_query_value("a=1&scale=0.5", "scale", out, sizeof out), 1);
    assert_string_equal(out, "0.5");
    assert_int_equal(cmn_http_query_value("x=%41+b%2c", "x", out, sizeof out),
                     1);
    assert_string_equal(out, "A b,");
    assert_int_equal(cmn_http_query_value("xx=1", "x", out, sizeof out), 0);
    assert_int_equal(cmn_http_query_value("x=", "x", out, sizeof out), 0);
    assert_int_equal(cmn_http_query_value(NULL, "x", out, sizeof out), 0);
    assert_int_equal(cmn_http_query_value("x=%4", "x", out, sizeof out), -1);
    assert_int_equal(cmn_http_query_value("x=%zz", "x", out, sizeof out), -1);
    assert_int_equal(cmn_http_query_value("x=%00", "x", out, sizeof out), -1);
    assert_int_equal(cmn_http_query_value("x=1234567", "x", out, sizeof out),
                     1);
    assert_int_equal(cmn_http_query_value("x=12345678", "x", out, sizeof out),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_address_check),
        cmocka_unit_test(test_query_value),
        cmocka_unit_test(test_metrics_endpoint),
        cmocka_unit_test(test_keep_alive_serves_two_requests),
        cmocka_unit_test(test_custom_route_with_body),
        cmocka_unit_test(test_not_found_and_method_not_allowed),
        cmocka_unit_test(test_oversized_body_is_refused),
        cmocka_unit_test(test_garbage_then_still_serving),
        cmocka_unit_test(test_handler_without_response_is_500),
        cmocka_unit_test(test_admin_routes),
        cmocka_unit_test(test_port_in_use_fails_to_start),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
