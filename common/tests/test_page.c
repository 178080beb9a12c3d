/* Unit tests for cmn_page (issue 15): the embedded files are whole and
 * served at their paths with the page's Content-Security-Policy, every
 * path the HTML refers to is served, and nothing points elsewhere. Real
 * HTTP on 127.0.0.1 (a port chosen by the kernel). */
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

#include "cmn_log.h"
#include "cmn_page.h"
#include "cmn_page_assets.h"

#define RESPONSE_BYTES (256 * 1024)
#define SOCKET_TIMEOUT_SEC 10

static cmn_http_t *s_server(cmn_metrics_t *metrics)
{
    cmn_http_config_t config = {
        .bind_address = "127.0.0.1",
        .port = 0,
        .threads = 2,
        .max_request_bytes = CMN_HTTP_MAX_REQUEST_BYTES_DEFAULT,
        .request_timeout_ms = CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT,
        .admin_token = NULL,
    };
    cmn_http_t *http = cmn_http_new(&config, metrics);
    assert_non_null(http);
    cmn_page_routes(http);
    assert_int_equal(cmn_http_start(http), 0);
    return http;
}

/* GETs (or HEADs) `path`; returns the status and fills `response`. */
static int s_fetch(int port, const char *method, const char *path,
                   char *response, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval timeout = {.tv_sec = SOCKET_TIMEOUT_SEC};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof address),
                     0);
    char request[512];
    int length = snprintf(request, sizeof request,
                          "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "\r\n",
                          method, path);
    assert_int_equal(send(fd, request, (size_t)length, MSG_NOSIGNAL), length);
    size_t got = 0;
    ssize_t count;
    while (got + 1 < size &&
           (count = recv(fd, response + got, size - 1 - got, 0)) > 0)
        got += (size_t)count;
    response[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(response, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static const cmn_page_asset_t *s_asset(const char *path)
{
    for (size_t index = 0; index < cmn_page_asset_count; index++)
        if (strcmp(cmn_page_assets[index].path, path) == 0)
            return &cmn_page_assets[index];
    return NULL;
}

static void test_assets_table(void **state)
{
    (void)state;
    assert_true(cmn_page_asset_count >= 3);
    assert_string_equal(cmn_page_assets[0].path, "/");
    assert_non_null(strstr(cmn_page_assets[0].content_type, "text/html"));
    for (size_t index = 0; index < cmn_page_asset_count; index++) {
        const cmn_page_asset_t *asset = &cmn_page_assets[index];
        assert_true(asset->length > 0);
        assert_int_equal(asset->bytes[asset->length], '\0');
        assert_int_equal(strlen((const char *)asset->bytes), asset->length);
        for (size_t other = 0; other < index; other++)
            assert_string_not_equal(cmn_page_assets[other].path, asset->path);
    }
    /* Every local path the HTML loads is served; nothing is loaded from
     * another origin. */
    const char *html = (const char *)cmn_page_assets[0].bytes;
    for (const char *cursor = html; (cursor = strstr(cursor, "src=\""));
         cursor++) {
        char path[128];
        assert_int_equal(sscanf(cursor, "src=\"%127[^\"]\"", path), 1);
        assert_non_null(s_asset(path));
    }
    const char *sheet = strstr(html, "rel=\"stylesheet\" href=\"");
    assert_non_null(sheet);
    char path[128];
    assert_int_equal(
        sscanf(sheet, "rel=\"stylesheet\" href=\"%127[^\"]\"", path), 1);
    assert_non_null(s_asset(path));
    for (size_t index = 0; index < cmn_page_asset_count; index++) {
        const char *text = (const char *)cmn_page_assets[index].bytes;
        assert_null(strstr(text, "https://"));
        assert_null(strstr(text, "<style"));
        assert_null(strstr(text, ".innerHTML"));
    }
}

static void test_served_with_csp(void **state)
{
    (void)state;
    cmn_log_setup("test-page", CMN_LOG_ERROR, CMN_LOG_TEXT);
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_http_t *http = s_server(metrics);
    int port = cmn_http_port(http);
    char *response = malloc(RESPONSE_BYTES);
    assert_non_null(response);
    for (size_t index = 0; index < cmn_page_asset_count; index++) {
        const cmn_page_asset_t *asset = &cmn_page_assets[index];
        assert_int_equal(
            s_fetch(port, "GET", asset->path, response, RESPONSE_BYTES), 200);
        char header[512];
        snprintf(header, sizeof header, "Content-Type: %s\r\n",
                 asset->content_type);
        assert_non_null(strstr(response, header));
        assert_non_null(
            strstr(response, "Content-Security-Policy: " CMN_PAGE_CSP "\r\n"));
        assert_non_null(strstr(response, "Cache-Control: no-store\r\n"));
        const char *body = strstr(response, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        assert_int_equal(strlen(body), asset->length);
        assert_memory_equal(body, asset->bytes, asset->length);
        /* HEAD: the same headers, no body. */
        assert_int_equal(
            s_fetch(port, "HEAD", asset->path, response, RESPONSE_BYTES), 200);
        assert_string_equal(strstr(response, "\r\n\r\n"), "\r\n\r\n");
    }
    assert_int_equal(
        s_fetch(port, "GET", "/status.html", response, RESPONSE_BYTES), 404);
    assert_int_equal(s_fetch(port, "POST", "/", response, RESPONSE_BYTES), 405);
    /* Other answers carry no CSP of the page. */
    assert_int_equal(s_fetch(port, "GET", "/metrics", response, RESPONSE_BYTES),
                     200);
    assert_null(strstr(response, "Content-Security-Policy"));
    free(response);
    cmn_http_destroy(&http);
    cmn_metrics_destroy(&metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets_table),
        cmocka_unit_test(test_served_with_csp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
