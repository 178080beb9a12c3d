/* Unit tests for cmn_curve: key files, and real CURVE sockets on 127.0.0.1
 * (PUB/SUB and ROUTER/DEALER) with an allowed client, a client with an
 * unknown key and a plaintext client. */
#include <czmq.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_curve.h"
#include "cmn_log.h"

#define DEADLINE_MS 15000 /* a broken handshake fails the test, never hangs */
#define POLL_STEP_MS 10
#define PATH_BYTES 512
#define PREFIX "test"

typedef struct {
    char dir[PATH_BYTES];     /* temporary directory */
    char clients[PATH_BYTES]; /* the allow-list */
    char server[PATH_BYTES];  /* server key pair (public path) */
    char allowed[PATH_BYTES]; /* client key pair, listed */
    char unknown[PATH_BYTES]; /* client key pair, not listed */
} keys_t;

static void s_path(char *out, const char *dir, const char *name)
{
    int length = snprintf(out, PATH_BYTES, "%.256s/%.64s", dir, name);
    assert_true(length > 0 && length < PATH_BYTES);
}

static void s_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buffer[4096];
    size_t count;
    while ((count = fread(buffer, 1, sizeof buffer, in)) > 0)
        assert_int_equal(fwrite(buffer, 1, count, out), count);
    fclose(in);
    fclose(out);
}

static int s_setup(void **state)
{
    keys_t *keys = calloc(1, sizeof *keys);
    snprintf(keys->dir, PATH_BYTES, "/tmp/test_curve_XXXXXX");
    assert_non_null(mkdtemp(keys->dir));
    s_path(keys->clients, keys->dir, "clients");
    assert_int_equal(mkdir(keys->clients, 0700), 0);
    s_path(keys->server, keys->dir, "server");
    s_path(keys->allowed, keys->dir, "allowed");
    s_path(keys->unknown, keys->dir, "unknown");
    assert_int_equal(cmn_curve_keygen(keys->server, "server"), 0);
    assert_int_equal(cmn_curve_keygen(keys->allowed, "allowed"), 0);
    assert_int_equal(cmn_curve_keygen(keys->unknown, "unknown"), 0);
    /* Only the public certificate goes into the allow-list. */
    char listed[PATH_BYTES];
    s_path(listed, keys->clients, "allowed");
    s_copy_file(keys->allowed, listed);
    *state = keys;
    return 0;
}

static int s_teardown(void **state)
{
    keys_t *keys = *state;
    char command[PATH_BYTES + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", keys->dir);
    assert_int_equal(system(command), 0);
    free(keys);
    return 0;
}

static double s_denied(cmn_metrics_t *metrics, const char *socket,
                       const char *reason)
{
    cmn_metric_t *family = cmn_metrics_counter(
        metrics, PREFIX "_curve_denied_total", "x", "socket,reason");
    return cmn_series_value(cmn_metric_series(family, socket, reason, NULL));
}

static double s_accepted(cmn_metrics_t *metrics, const char *socket)
{
    cmn_metric_t *family = cmn_metrics_counter(
        metrics, PREFIX "_curve_handshakes_total", "x", "socket");
    return cmn_series_value(cmn_metric_series(family, socket, NULL));
}

static char *s_secret_path(const char *public_path)
{
    static char path[PATH_BYTES + 8];
    snprintf(path, sizeof path, "%s_secret", public_path);
    return path;
}

/* Receives without waiting; NULL when nothing is there. */
static char *s_try_recv(zsock_t *socket)
{
    zpoller_t *poller = zpoller_new(socket, NULL);
    void *which = zpoller_wait(poller, 0);
    zpoller_destroy(&poller);
    return which ? zstr_recv(socket) : NULL;
}

static void test_keygen_files(void **state)
{
    keys_t *keys = *state;
    struct stat info;
    assert_int_equal(stat(s_secret_path(keys->server), &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);
    assert_int_equal(stat(keys->server, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0644);
    /* Never overwrites. */
    assert_int_equal(cmn_curve_keygen(keys->server, "again"), -1);

    const char *reason = NULL;
    assert_int_equal(
        cmn_curve_check_secret(s_secret_path(keys->server), &reason), 0);
    assert_int_equal(cmn_curve_check_public(keys->server, &reason), 0);
    /* A public certificate alone holds no secret key. */
    char lonely[PATH_BYTES];
    s_path(lonely, keys->clients, "allowed");
    assert_int_equal(cmn_curve_check_secret(lonely, &reason), -1);
    assert_non_null(reason);
    assert_int_equal(cmn_curve_check_public("/nonexistent/key", &reason), -1);
    assert_int_equal(cmn_curve_check_directory(keys->clients, &reason), 0);
    assert_int_equal(cmn_curve_check_directory(keys->server, &reason), -1);
    assert_int_equal(cmn_curve_check_directory("/nonexistent", &reason), -1);

    cmn_metrics_t *metrics = cmn_metrics_new();
    assert_null(cmn_curve_server_new(lonely, keys->clients, metrics, PREFIX));
    assert_null(cmn_curve_server_new(s_secret_path(keys->server),
                                     "/nonexistent", metrics, PREFIX));
    cmn_metrics_destroy(&metrics);
}

static void test_pub_sub(void **state)
{
    keys_t *keys = *state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_curve_t *curve = cmn_curve_server_new(s_secret_path(keys->server),
                                              keys->clients, metrics, PREFIX);
    assert_non_null(curve);

    zsock_t *publisher = zsock_new(ZMQ_PUB);
    assert_int_equal(cmn_curve_server_apply(curve, publisher, "feedback"), 0);
    int port = zsock_bind(publisher, "tcp://127.0.0.1:*");
    assert_true(port > 0);

    zsock_t *allowed = zsock_new(ZMQ_SUB);
    zsock_t *unknown = zsock_new(ZMQ_SUB);
    zsock_t *plain = zsock_new(ZMQ_SUB);
    assert_int_equal(cmn_curve_client_apply(
                         allowed, s_secret_path(keys->allowed), keys->server),
                     0);
    assert_int_equal(cmn_curve_client_apply(
                         unknown, s_secret_path(keys->unknown), keys->server),
                     0);
    zsock_t *subscribers[] = {allowed, unknown, plain};
    for (size_t index = 0; index < 3; index++) {
        zsock_set_subscribe(subscribers[index], "");
        assert_int_equal(
            zsock_connect(subscribers[index], "tcp://127.0.0.1:%d", port), 0);
    }

    /* Publish until the allowed subscriber has several events (slow
     * joiner: the first ones may be lost) and both denials are counted. */
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    int received = 0;
    while (received < 3 || s_denied(metrics, "feedback", "unknown_key") < 1 ||
           s_denied(metrics, "feedback", "handshake") < 1) {
        assert_true(zclock_mono() < deadline);
        zstr_send(publisher, "event");
        zclock_sleep(POLL_STEP_MS);
        char *text;
        while ((text = s_try_recv(allowed))) {
            assert_string_equal(text, "event");
            zstr_free(&text);
            received++;
        }
    }
    assert_true(s_accepted(metrics, "feedback") >= 1);
    /* The denied subscribers got nothing, while events kept flowing. */
    for (int count = 0; count < 5; count++)
        zstr_send(publisher, "event");
    char *text = zstr_recv(allowed);
    assert_non_null(text);
    zstr_free(&text);
    assert_null(s_try_recv(unknown));
    assert_null(s_try_recv(plain));

    zsock_destroy(&allowed);
    zsock_destroy(&unknown);
    zsock_destroy(&plain);
    zsock_destroy(&publisher);
    cmn_curve_destroy(&curve);
    assert_null(curve);
    cmn_metrics_destroy(&metrics);
}

static void test_router_dealer(void **state)
{
    keys_t *keys = *state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_curve_t *curve = cmn_curve_server_new(s_secret_path(keys->server),
                                              keys->clients, metrics, PREFIX);
    assert_non_null(curve);
    assert_int_equal(strlen(cmn_curve_server_public_txt(curve)), 40);

    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert_int_equal(cmn_curve_server_apply(curve, router, "ingest"), 0);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert_true(port > 0);

    zsock_t *allowed = zsock_new(ZMQ_DEALER);
    zsock_t *unknown = zsock_new(ZMQ_DEALER);
    zsock_t *plain = zsock_new(ZMQ_DEALER);
    assert_int_equal(cmn_curve_client_apply(
                         allowed, s_secret_path(keys->allowed), keys->server),
                     0);
    assert_int_equal(cmn_curve_client_apply(
                         unknown, s_secret_path(keys->unknown), keys->server),
                     0);
    zsock_t *dealers[] = {allowed, unknown, plain};
    const char *names[] = {"allowed", "unknown", "plain"};
    for (size_t index = 0; index < 3; index++) {
        zsock_set_sndtimeo(dealers[index], 0); /* never block the test */
        assert_int_equal(
            zsock_connect(dealers[index], "tcp://127.0.0.1:%d", port), 0);
        zstr_send(dealers[index], names[index]);
    }

    /* The allowed dealer's message arrives and is answered. */
    zsock_set_rcvtimeo(router, DEADLINE_MS);
    zmsg_t *message = zmsg_recv(router);
    assert_non_null(message);
    zframe_t *identity = zmsg_pop(message);
    char *text = zmsg_popstr(message);
    assert_string_equal(text, "allowed");
    zstr_free(&text);
    zmsg_destroy(&message);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &identity);
    zmsg_addstr(reply, "ack");
    zmsg_send(&reply, router);
    zsock_set_rcvtimeo(allowed, DEADLINE_MS);
    text = zstr_recv(allowed);
    assert_non_null(text);
    assert_string_equal(text, "ack");
    zstr_free(&text);

    /* Both intruders are refused and counted, and nothing of theirs
     * reaches the router. */
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_denied(metrics, "ingest", "unknown_key") < 1 ||
           s_denied(metrics, "ingest", "handshake") < 1) {
        assert_true(zclock_mono() < deadline);
        zclock_sleep(POLL_STEP_MS);
    }
    zstr_send(allowed, "allowed-again");
    zsock_set_rcvtimeo(router, DEADLINE_MS);
    message = zmsg_recv(router);
    assert_non_null(message);
    zframe_t *frame = zmsg_pop(message);
    zframe_destroy(&frame);
    text = zmsg_popstr(message);
    assert_string_equal(text, "allowed-again");
    zstr_free(&text);
    zmsg_destroy(&message);
    assert_null(s_try_recv(router));
    assert_null(s_try_recv(unknown));
    assert_null(s_try_recv(plain));

    for (size_t index = 0; index < 3; index++)
        zsock_destroy(&dealers[index]);
    zsock_destroy(&router);
    cmn_curve_destroy(&curve);
    cmn_metrics_destroy(&metrics);
}

int main(void)
{
    cmn_log_setup("test-curve", CMN_LOG_ERROR, CMN_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_files),
        cmocka_unit_test(test_pub_sub),
        cmocka_unit_test(test_router_dealer),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
