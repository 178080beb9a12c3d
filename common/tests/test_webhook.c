/* Unit tests for cmn_webhook against a real HTTP receiver on 127.0.0.1 (a
 * cmn_http server whose handler can be held on a gate the test locks). */
#include <czmq.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmn_http.h"
#include "cmn_log.h"
#include "cmn_webhook.h"

#define DEADLINE_MS 15000 /* a broken actor fails the test, never hangs */
#define POLL_STEP_MS 5
#define MAX_EVENTS 64
#define EVENT_BYTES 64
#define RECEIVER_THREADS 8 /* hung attempts each hold one */
#define PREFIX "test_webhook"

/* ---- the receiver ------------------------------------------------------ */

typedef struct {
    cmn_metrics_t *metrics; /* the receiver's own (cmn_http needs one) */
    cmn_http_t *http;
    pthread_mutex_t gate; /* held by the test to hang the receiver */
    pthread_mutex_t lock; /* guards bodies */
    char bodies[MAX_EVENTS * 4][EVENT_BYTES];
    size_t body_count;
    atomic_int entered; /* requests that reached the handler */
    atomic_int status;  /* what the receiver answers */
} receiver_t;

static void s_hook(const cmn_http_request_t *request,
                   cmn_http_response_t *response, void *arg)
{
    receiver_t *receiver = arg;
    atomic_fetch_add(&receiver->entered, 1);
    pthread_mutex_lock(&receiver->gate);
    pthread_mutex_unlock(&receiver->gate);
    int status = atomic_load(&receiver->status);
    pthread_mutex_lock(&receiver->lock);
    if (receiver->body_count < MAX_EVENTS * 4)
        snprintf(receiver->bodies[receiver->body_count++], EVENT_BYTES, "%s",
                 request->body ? request->body : "");
    pthread_mutex_unlock(&receiver->lock);
    cmn_http_respond(response, status, "text/plain", "ok\n", 3);
}

static void s_receiver_init(receiver_t *receiver)
{
    memset(receiver, 0, sizeof *receiver);
    pthread_mutex_init(&receiver->gate, NULL);
    pthread_mutex_init(&receiver->lock, NULL);
    atomic_init(&receiver->entered, 0);
    atomic_init(&receiver->status, 200);
    receiver->metrics = cmn_metrics_new();
}

static void s_receiver_start(receiver_t *receiver, int port)
{
    cmn_http_config_t config = {
        .bind_address = "127.0.0.1",
        .port = port,
        .threads = RECEIVER_THREADS,
        .max_request_bytes = CMN_HTTP_MAX_REQUEST_BYTES_DEFAULT,
        .request_timeout_ms = CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT,
    };
    receiver->http = cmn_http_new(&config, receiver->metrics);
    assert_non_null(receiver->http);
    cmn_http_route(receiver->http, "POST", "/hook", false, s_hook, receiver);
    assert_int_equal(cmn_http_start(receiver->http), 0);
}

static void s_receiver_fini(receiver_t *receiver)
{
    cmn_http_destroy(&receiver->http);
    cmn_metrics_destroy(&receiver->metrics);
    pthread_mutex_destroy(&receiver->gate);
    pthread_mutex_destroy(&receiver->lock);
}

static size_t s_received(receiver_t *receiver)
{
    pthread_mutex_lock(&receiver->lock);
    size_t count = receiver->body_count;
    pthread_mutex_unlock(&receiver->lock);
    return count;
}

/* A port nobody listens on: bound but not listening, so connecting is
 * refused until the test closes it and starts the receiver there. */
static int s_reserve_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    return fd;
}

/* ---- helpers ------------------------------------------------------------ */

static double s_value(cmn_metrics_t *metrics, const char *suffix)
{
    char name[128];
    snprintf(name, sizeof name, "%s_%s", PREFIX, suffix);
    cmn_metric_t *family = strcmp(suffix, "queue_depth") == 0
                               ? cmn_metrics_gauge(metrics, name, "x", NULL)
                               : cmn_metrics_counter(metrics, name, "x", NULL);
    return cmn_series_value(cmn_metric_series(family, NULL));
}

/* Polls until the metric reaches at least `target`; fails at the deadline. */
static void s_wait_metric(cmn_metrics_t *metrics, const char *suffix,
                          double target)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_value(metrics, suffix) < target) {
        if (zclock_mono() > deadline)
            fail_msg("%s stayed at %g, wanted %g", suffix,
                     s_value(metrics, suffix), target);
        zclock_sleep(POLL_STEP_MS);
    }
}

static void s_wait_int(atomic_int *value, int target)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (atomic_load(value) < target) {
        if (zclock_mono() > deadline)
            fail_msg("counter stayed at %d, wanted %d", atomic_load(value),
                     target);
        zclock_sleep(POLL_STEP_MS);
    }
}

static void s_wait_received(receiver_t *receiver, size_t target)
{
    int64_t deadline = zclock_mono() + DEADLINE_MS;
    while (s_received(receiver) < target) {
        if (zclock_mono() > deadline)
            fail_msg("receiver has %zu bodies, wanted %zu",
                     s_received(receiver), target);
        zclock_sleep(POLL_STEP_MS);
    }
}

static void s_event(char *out, int seq)
{
    snprintf(out, EVENT_BYTES, "{\"seq\":%d}", seq);
}

static cmn_webhook_config_t s_config(cmn_metrics_t *metrics, cmn_clock_t *clock,
                                     int port)
{
    static char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/hook", port);
    return (cmn_webhook_config_t){
        .endpoint = endpoint,
        .timeout_ms = 5000,
        .max_retries = 3,
        .backoff_ms = 10,
        .queue_capacity = CMN_WEBHOOK_QUEUE_CAPACITY_DEFAULT,
        .clock = clock,
        .metrics = metrics,
        .metric_prefix = PREFIX,
        .jitter_seed = 42,
    };
}

/* The distinct bodies in arrival order (a timed-out attempt may arrive
 * twice: at least once delivery). Returns how many. */
static size_t s_distinct(receiver_t *receiver, char out[][EVENT_BYTES])
{
    size_t count = 0;
    pthread_mutex_lock(&receiver->lock);
    for (size_t index = 0; index < receiver->body_count; index++) {
        bool seen = false;
        for (size_t other = 0; other < count; other++)
            seen = seen || strcmp(out[other], receiver->bodies[index]) == 0;
        if (!seen)
            snprintf(out[count++], EVENT_BYTES, "%s", receiver->bodies[index]);
    }
    pthread_mutex_unlock(&receiver->lock);
    return count;
}

/* ---- tests -------------------------------------------------------------- */

static void test_url_parse(void **state)
{
    (void)state;
    cmn_webhook_url_t url;
    const char *reason = NULL;
    assert_int_equal(cmn_webhook_url_parse(
                         "http://dash.local:8080/feedback?x=1", &url, &reason),
                     0);
    assert_string_equal(url.host, "dash.local");
    assert_int_equal(url.port, 8080);
    assert_string_equal(url.path, "/feedback?x=1");
    assert_int_equal(cmn_webhook_url_parse("http://10.0.0.1", &url, &reason),
                     0);
    assert_int_equal(url.port, 80);
    assert_string_equal(url.path, "/");
    assert_int_equal(
        cmn_webhook_url_parse("https://dash/feedback", &url, &reason), -1);
    assert_non_null(strstr(reason, "https"));
    const char *bad[] = {"",
                         "ftp://x/",
                         "http://",
                         "http://:80/",
                         "http://user@host/",
                         "http://[::1]:80/",
                         "http://host:0/",
                         "http://host:65536/",
                         "http://host:8o/",
                         "http://ho st/",
                         "dash:80"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        reason = NULL;
        assert_int_equal(cmn_webhook_url_parse(bad[index], &url, &reason), -1);
        assert_non_null(reason);
    }
}

static void test_backoff_doubles_with_jitter(void **state)
{
    (void)state;
    /* unit_random 0 gives half the nominal wait, near 1 the full wait. */
    assert_int_equal(cmn_webhook_backoff_ns(500, 30000, 1, 0.0),
                     250 * CMN_NS_PER_MS);
    assert_int_equal(cmn_webhook_backoff_ns(500, 30000, 2, 0.0),
                     500 * CMN_NS_PER_MS);
    assert_int_equal(cmn_webhook_backoff_ns(500, 30000, 3, 0.0),
                     1000 * CMN_NS_PER_MS);
    assert_true(cmn_webhook_backoff_ns(500, 30000, 1, 0.999) >
                495 * CMN_NS_PER_MS);
    assert_true(cmn_webhook_backoff_ns(500, 30000, 1, 0.999) <
                500 * CMN_NS_PER_MS);
    /* The doubling stops at the cap. */
    assert_int_equal(cmn_webhook_backoff_ns(500, 30000, 40, 0.0),
                     30000 / 2 * CMN_NS_PER_MS);
    assert_int_equal(cmn_webhook_backoff_ns(0, 30000, 5, 0.5), 0);
    assert_int_equal(cmn_webhook_backoff_ns(100, 250, 9, 0.0),
                     125 * CMN_NS_PER_MS);
}

/* Receiver down, then hung, then up: posts never block, attempts are
 * retried, and every event arrives, in order. */
static void test_down_slow_up(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_clock_t *clock = cmn_clock_new_system();
    receiver_t receiver;
    s_receiver_init(&receiver);
    int port = 0;
    int reserved = s_reserve_port(&port);
    cmn_webhook_config_t config = s_config(metrics, clock, port);
    config.timeout_ms = 300; /* the hung phase times out and retries */
    config.max_retries = 1000;
    cmn_webhook_t *webhook = cmn_webhook_new(&config);
    assert_non_null(webhook);
    char event[EVENT_BYTES];
    int seq = 0;

    /* Down: connection refused, retried. */
    for (; seq < 3; seq++) {
        s_event(event, seq);
        assert_int_equal(cmn_webhook_post(webhook, event), 0);
    }
    s_wait_metric(metrics, "retried_total", 2);
    assert_int_equal(s_value(metrics, "sent_total"), 0);

    /* Slow: the receiver accepts but hangs on the gate the test holds. */
    pthread_mutex_lock(&receiver.gate);
    close(reserved);
    s_receiver_start(&receiver, port);
    s_wait_int(&receiver.entered, 1);
    double retried = s_value(metrics, "retried_total");
    /* These calls return while the receiver is blocked: the test still
     * holds the gate until every post has returned. */
    for (; seq < 20; seq++) {
        s_event(event, seq);
        assert_int_equal(cmn_webhook_post(webhook, event), 0);
    }
    /* The hung attempt times out and is retried. */
    s_wait_metric(metrics, "retried_total", retried + 1);
    assert_int_equal(s_received(&receiver), 0);
    pthread_mutex_unlock(&receiver.gate);

    /* Up: everything arrives, in order. */
    s_wait_metric(metrics, "sent_total", 20);
    char distinct[MAX_EVENTS * 4][EVENT_BYTES];
    size_t count = s_distinct(&receiver, distinct);
    assert_int_equal(count, 20);
    for (int index = 0; index < 20; index++) {
        s_event(event, index);
        assert_string_equal(distinct[index], event);
    }
    assert_int_equal(s_value(metrics, "failed_total"), 0);
    assert_int_equal(s_value(metrics, "dropped_total"), 0);
    assert_int_equal(s_value(metrics, "queue_depth"), 0);

    cmn_webhook_destroy(&webhook);
    assert_null(webhook);
    s_receiver_fini(&receiver);
    cmn_clock_destroy(&clock);
    cmn_metrics_destroy(&metrics);
}

/* A full queue drops the oldest waiting event; the one being delivered is
 * finished. */
static void test_full_queue_drops_oldest(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_clock_t *clock = cmn_clock_new_system();
    receiver_t receiver;
    s_receiver_init(&receiver);
    s_receiver_start(&receiver, 0);
    cmn_webhook_config_t config =
        s_config(metrics, clock, cmn_http_port(receiver.http));
    config.queue_capacity = 3;
    config.timeout_ms = 60000; /* no retry while the receiver is held */
    cmn_webhook_t *webhook = cmn_webhook_new(&config);
    assert_non_null(webhook);
    char event[EVENT_BYTES];

    pthread_mutex_lock(&receiver.gate);
    s_event(event, 0);
    assert_int_equal(cmn_webhook_post(webhook, event), 0);
    s_wait_int(&receiver.entered, 1); /* event 0 is being delivered */
    for (int seq = 1; seq <= 8; seq++) {
        s_event(event, seq);
        assert_int_equal(cmn_webhook_post(webhook, event), 0);
    }
    s_wait_metric(metrics, "dropped_total", 5); /* 1..5 */
    pthread_mutex_unlock(&receiver.gate);

    s_wait_metric(metrics, "sent_total", 4);
    const int expected[] = {0, 6, 7, 8};
    assert_int_equal(s_received(&receiver), 4);
    for (size_t index = 0; index < 4; index++) {
        s_event(event, expected[index]);
        assert_string_equal(receiver.bodies[index], event);
    }
    assert_int_equal(s_value(metrics, "dropped_total"), 5);
    assert_int_equal(s_value(metrics, "retried_total"), 0);

    cmn_webhook_destroy(&webhook);
    s_receiver_fini(&receiver);
    cmn_clock_destroy(&clock);
    cmn_metrics_destroy(&metrics);
}

/* With a virtual clock, retries wait for the clock; after max_retries the
 * event is given up; a 4xx is not retried; too large a body is refused. */
static void test_retries_follow_the_clock(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_clock_t *clock = cmn_clock_new_virtual(CMN_NS_PER_SEC, 0);
    receiver_t receiver;
    s_receiver_init(&receiver);
    s_receiver_start(&receiver, 0);
    atomic_store(&receiver.status, 503);
    cmn_webhook_config_t config =
        s_config(metrics, clock, cmn_http_port(receiver.http));
    config.max_retries = 2;
    config.backoff_ms = 1000;
    cmn_webhook_t *webhook = cmn_webhook_new(&config);
    assert_non_null(webhook);
    char event[EVENT_BYTES];

    s_event(event, 0);
    assert_int_equal(cmn_webhook_post(webhook, event), 0);
    s_wait_metric(metrics, "retried_total", 1);
    assert_int_equal(s_received(&receiver), 1);
    /* The first retry waits at most backoff_ms of virtual time. */
    cmn_clock_advance(clock, 1000 * CMN_NS_PER_MS);
    s_wait_metric(metrics, "retried_total", 2);
    assert_int_equal(s_received(&receiver), 2);
    cmn_clock_advance(clock, 2000 * CMN_NS_PER_MS);
    s_wait_metric(metrics, "failed_total", 1);
    assert_int_equal(s_received(&receiver), 3);
    assert_int_equal(s_value(metrics, "retried_total"), 2);

    /* 4xx: given up at once. */
    atomic_store(&receiver.status, 400);
    s_event(event, 1);
    assert_int_equal(cmn_webhook_post(webhook, event), 0);
    s_wait_metric(metrics, "failed_total", 2);
    assert_int_equal(s_value(metrics, "retried_total"), 2);

    /* Back to healthy. */
    atomic_store(&receiver.status, 204);
    s_event(event, 2);
    assert_int_equal(cmn_webhook_post(webhook, event), 0);
    s_wait_metric(metrics, "sent_total", 1);
    s_wait_received(&receiver, 5);
    assert_string_equal(receiver.bodies[4], event);

    /* Too large: refused and counted, the actor untouched. */
    char *huge = malloc(CMN_WEBHOOK_MAX_BODY_BYTES + 2);
    memset(huge, 'x', CMN_WEBHOOK_MAX_BODY_BYTES + 1);
    huge[CMN_WEBHOOK_MAX_BODY_BYTES + 1] = '\0';
    assert_int_equal(cmn_webhook_post(webhook, huge), -1);
    free(huge);
    assert_int_equal(s_value(metrics, "dropped_total"), 1);

    cmn_webhook_destroy(&webhook);
    s_receiver_fini(&receiver);
    cmn_clock_destroy(&clock);
    cmn_metrics_destroy(&metrics);
}

static void test_refuses_https(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_clock_t *clock = cmn_clock_new_system();
    cmn_webhook_config_t config = s_config(metrics, clock, 80);
    config.endpoint = "https://127.0.0.1/hook";
    assert_null(cmn_webhook_new(&config));
    cmn_clock_destroy(&clock);
    cmn_metrics_destroy(&metrics);
}

/* Issue 15: the bearer token opens a receiver's admin route (a
 * pipeline's POST /feedback); without it the 401 is final (a 4xx is not
 * retried). */
static void test_bearer_token(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_clock_t *clock = cmn_clock_new_system();
    receiver_t receiver;
    s_receiver_init(&receiver);
    int port = 0;
    close(s_reserve_port(&port));
    cmn_http_config_t http = {
        .bind_address = "127.0.0.1",
        .port = port,
        .threads = RECEIVER_THREADS,
        .max_request_bytes = CMN_HTTP_MAX_REQUEST_BYTES_DEFAULT,
        .request_timeout_ms = CMN_HTTP_REQUEST_TIMEOUT_MS_DEFAULT,
        .admin_token = "s3cret",
    };
    receiver.http = cmn_http_new(&http, receiver.metrics);
    assert_non_null(receiver.http);
    cmn_http_route(receiver.http, "POST", "/hook", true, s_hook, &receiver);
    assert_int_equal(cmn_http_start(receiver.http), 0);

    cmn_webhook_config_t config = s_config(metrics, clock, port);
    cmn_webhook_t *anonymous = cmn_webhook_new(&config);
    assert_non_null(anonymous);
    assert_int_equal(cmn_webhook_post(anonymous, "{\"seq\":1}"), 0);
    s_wait_metric(metrics, "failed_total", 1);
    assert_int_equal(s_received(&receiver), 0);
    cmn_webhook_destroy(&anonymous);

    cmn_metrics_t *signed_metrics = cmn_metrics_new();
    config = s_config(signed_metrics, clock, port);
    config.bearer_token = "s3cret";
    cmn_webhook_t *signed_webhook = cmn_webhook_new(&config);
    assert_non_null(signed_webhook);
    assert_int_equal(cmn_webhook_post(signed_webhook, "{\"seq\":2}"), 0);
    s_wait_received(&receiver, 1);
    s_wait_metric(signed_metrics, "sent_total", 1);
    cmn_webhook_destroy(&signed_webhook);
    cmn_metrics_destroy(&signed_metrics);
    s_receiver_fini(&receiver);
    cmn_clock_destroy(&clock);
    cmn_metrics_destroy(&metrics);
}

int main(void)
{
    cmn_log_setup("test-webhook", CMN_LOG_ERROR, CMN_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_backoff_doubles_with_jitter),
        cmocka_unit_test(test_down_slow_up),
        cmocka_unit_test(test_full_queue_drops_oldest),
        cmocka_unit_test(test_retries_follow_the_clock),
        cmocka_unit_test(test_refuses_https),
        cmocka_unit_test(test_bearer_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
