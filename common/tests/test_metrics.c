/* Unit tests for cmn_metrics: series values, exact rendering, escaping and
 * exact totals under concurrent updates. promtool is run on a rendering by
 * test_metrics_promtool.py. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmn_metrics.h"

#define THREAD_COUNT 4
#define UPDATES_PER_THREAD 100000

static void test_counter_and_gauge(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_metric_t *records = cmn_metrics_counter(
        metrics, "mds_records_total", "Records stored.", "sink,outcome");
    cmn_series_t *ok = cmn_metric_series(records, "sqlite", "ok", NULL);
    cmn_series_t *failed = cmn_metric_series(records, "sqlite", "failed", NULL);
    assert_ptr_equal(cmn_metric_series(records, "sqlite", "ok", NULL), ok);
    assert_ptr_not_equal(ok, failed);
    cmn_series_inc(ok);
    cmn_series_add(ok, 41);
    assert_true(cmn_series_value(ok) == 42);
    assert_true(cmn_series_value(failed) == 0);
    /* Registering again returns the same family. */
    assert_ptr_equal(cmn_metrics_counter(metrics, "mds_records_total",
                                         "Records stored.", "sink,outcome"),
                     records);

    cmn_metric_t *depth =
        cmn_metrics_gauge(metrics, "mds_queue_depth", "Queued records.", "");
    cmn_series_t *depth_series = cmn_metric_series(depth, NULL);
    cmn_series_set(depth_series, 10);
    cmn_series_gauge_add(depth_series, -2.5);
    assert_true(cmn_series_value(depth_series) == 7.5);
    assert_true(cmn_series_sum(depth_series) == 0);
    cmn_metrics_destroy(&metrics);
    assert_null(metrics);
    cmn_metrics_destroy(&metrics);
}

static void test_histogram(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    const double bounds[] = {0.1, 1, 10};
    cmn_metric_t *latency = cmn_metrics_histogram(
        metrics, "mds_commit_seconds", "Commit latency.", "sink", bounds, 3);
    cmn_series_t *series = cmn_metric_series(latency, "pg", NULL);
    cmn_series_observe(series, 0.05);
    cmn_series_observe(series, 0.1); /* on the bound: le is inclusive */
    cmn_series_observe(series, 5);
    cmn_series_observe(series, 50);
    assert_true(cmn_series_value(series) == 4);
    assert_true(cmn_series_sum(series) == 55.15);
    char *text = cmn_metrics_render(metrics, NULL);
    assert_string_equal(text,
                        "# HELP mds_commit_seconds Commit latency.\n"
                        "# TYPE mds_commit_seconds histogram\n"
                        "mds_commit_seconds_bucket{sink=\"pg\",le=\"0.1\"} 2\n"
                        "mds_commit_seconds_bucket{sink=\"pg\",le=\"1\"} 2\n"
                        "mds_commit_seconds_bucket{sink=\"pg\",le=\"10\"} 3\n"
                        "mds_commit_seconds_bucket{sink=\"pg\",le=\"+Inf\"} 4\n"
                        "mds_commit_seconds_sum{sink=\"pg\"} 55.15\n"
                        "mds_commit_seconds_count{sink=\"pg\"} 4\n");
    free(text);
    cmn_metrics_destroy(&metrics);
}

static void test_render_exact(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_metric_t *requests = cmn_metrics_counter(
        metrics, "http_requests_total", "Requests\\served\nby path.", "path");
    cmn_series_add(cmn_metric_series(requests, "a\"b\\c\nd", NULL), 3);
    cmn_series_inc(cmn_metric_series(requests, "caf\xc3\xa9\xff", NULL));
    cmn_metrics_gauge(metrics, "pl_scale", "Rate multiplier.", "provider");
    cmn_metric_t *values =
        cmn_metrics_gauge(metrics, "test_values", "Special values.", "kind");
    cmn_series_set(cmn_metric_series(values, "nan", NULL), NAN);
    cmn_series_set(cmn_metric_series(values, "inf", NULL), INFINITY);
    cmn_series_set(cmn_metric_series(values, "minus_inf", NULL), -INFINITY);
    cmn_series_set(cmn_metric_series(values, "big", NULL), 1e300);
    cmn_series_set(cmn_metric_series(values, "int", NULL), 9007199254740991.0);
    cmn_series_set(cmn_metric_series(values, "third", NULL), 1.0 / 3.0);
    cmn_series_set(cmn_metric_series(values, "tenth", NULL), 0.1);
    cmn_metric_t *up = cmn_metrics_gauge(metrics, "up_ish", "No labels.", NULL);
    (void)up;

    size_t length = 0;
    char *text = cmn_metrics_render(metrics, &length);
    const char *expected =
        "# HELP http_requests_total Requests\\\\served\\nby path.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"
        "http_requests_total{path=\"caf\xc3\xa9\xef\xbf\xbd\"} 1\n"
        "# HELP pl_scale Rate multiplier.\n"
        "# TYPE pl_scale gauge\n"
        "# HELP test_values Special values.\n"
        "# TYPE test_values gauge\n"
        "test_values{kind=\"nan\"} NaN\n"
        "test_values{kind=\"inf\"} +Inf\n"
        "test_values{kind=\"minus_inf\"} -Inf\n"
        "test_values{kind=\"big\"} 1e+300\n"
        "test_values{kind=\"int\"} 9007199254740991\n"
        "test_values{kind=\"third\"} 0.33333333333333331\n"
        "test_values{kind=\"tenth\"} 0.1\n"
        "# HELP up_ish No labels.\n"
        "# TYPE up_ish gauge\n"
        "up_ish 0\n";
    assert_string_equal(text, expected);
    assert_int_equal(length, strlen(expected));
    free(text);
    cmn_metrics_destroy(&metrics);
}

typedef struct {
    cmn_metric_t *counter; /* family: each thread looks its series up */
    cmn_series_t *gauge;
    cmn_series_t *histogram;
} s_shared_t;

static void *s_hammer(void *arg)
{
    s_shared_t *shared = arg;
    cmn_series_t *series = cmn_metric_series(shared->counter, "x", NULL);
    for (int update = 0; update < UPDATES_PER_THREAD; update++) {
        cmn_series_inc(series);
        cmn_series_gauge_add(shared->gauge, 1.0);
        cmn_series_observe(shared->histogram, (update % 3) * 0.5);
    }
    return NULL;
}

static void test_concurrent_updates_sum_exactly(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    const double bounds[] = {0.25, 0.75};
    s_shared_t shared = {
        .counter = cmn_metrics_counter(metrics, "hits_total", "Hits.", "k"),
        .gauge = cmn_metric_series(
            cmn_metrics_gauge(metrics, "level", "Level.", NULL), NULL),
        .histogram =
            cmn_metric_series(cmn_metrics_histogram(metrics, "spread",
                                                    "Spread.", NULL, bounds, 2),
                              NULL),
    };
    pthread_t threads[THREAD_COUNT];
    for (int index = 0; index < THREAD_COUNT; index++)
        assert_int_equal(
            pthread_create(&threads[index], NULL, s_hammer, &shared), 0);
    /* Render while they write: must not crash or block them. */
    for (int scrape = 0; scrape < 20; scrape++)
        free(cmn_metrics_render(metrics, NULL));
    for (int index = 0; index < THREAD_COUNT; index++)
        pthread_join(threads[index], NULL);

    const double total = (double)THREAD_COUNT * UPDATES_PER_THREAD;
    cmn_series_t *series = cmn_metric_series(shared.counter, "x", NULL);
    assert_true(cmn_series_value(series) == total);
    assert_true(cmn_series_value(shared.gauge) == total);
    assert_true(cmn_series_value(shared.histogram) == total);
    /* update % 3 cycles 0, 0.5, 1.0: the sum of each thread is exact. */
    double per_thread = 0;
    for (int update = 0; update < UPDATES_PER_THREAD; update++)
        per_thread += (update % 3) * 0.5;
    assert_true(cmn_series_sum(shared.histogram) == per_thread * THREAD_COUNT);
    char *text = cmn_metrics_render(metrics, NULL);
    assert_non_null(strstr(text, "hits_total{k=\"x\"} 400000\n"));
    assert_non_null(strstr(text, "spread_bucket{le=\"0.25\"} 133336\n"));
    assert_non_null(strstr(text, "spread_bucket{le=\"0.75\"} 266668\n"));
    assert_non_null(strstr(text, "spread_bucket{le=\"+Inf\"} 400000\n"));
    assert_non_null(strstr(text, "spread_count 400000\n"));
    free(text);
    cmn_metrics_destroy(&metrics);
}

static void test_latency_bounds(void **state)
{
    (void)state;
    assert_true(CMN_METRICS_LATENCY_BOUND_COUNT > 2);
    assert_true(CMN_METRICS_LATENCY_BOUNDS[0] == 0.0001);
    assert_true(
        CMN_METRICS_LATENCY_BOUNDS[CMN_METRICS_LATENCY_BOUND_COUNT - 1] == 10);
    for (size_t index = 1; index < CMN_METRICS_LATENCY_BOUND_COUNT; index++)
        assert_true(CMN_METRICS_LATENCY_BOUNDS[index] >
                    CMN_METRICS_LATENCY_BOUNDS[index - 1]);
}

/* A removed series leaves the rendering; the others stay in order, and a
 * new series after it is appended as usual. */
static void test_remove_a_series(void **state)
{
    (void)state;
    cmn_metrics_t *metrics = cmn_metrics_new();
    cmn_metric_t *stale =
        cmn_metrics_gauge(metrics, "x_stale", "Stale.", "source");
    cmn_series_t *a = cmn_metric_series(stale, "a", NULL);
    cmn_series_t *b = cmn_metric_series(stale, "b", NULL);
    cmn_series_t *c = cmn_metric_series(stale, "c", NULL);
    cmn_series_set(a, 1);
    cmn_series_set(b, 2);
    cmn_series_set(c, 3);
    cmn_series_remove(&c); /* the last */
    assert_null(c);
    cmn_series_remove(&a); /* the first */
    cmn_series_t *d = cmn_metric_series(stale, "d", NULL);
    cmn_series_set(d, 4);
    cmn_series_remove(&a); /* NULL: nothing */
    char *text = cmn_metrics_render(metrics, NULL);
    assert_null(strstr(text, "source=\"a\""));
    assert_null(strstr(text, "source=\"c\""));
    char *at_b = strstr(text, "x_stale{source=\"b\"} 2");
    char *at_d = strstr(text, "x_stale{source=\"d\"} 4");
    assert_non_null(at_b);
    assert_non_null(at_d);
    assert_true(at_b < at_d);
    free(text);
    /* Looked up again, a removed one starts afresh. */
    a = cmn_metric_series(stale, "a", NULL);
    assert_true(cmn_series_value(a) == 0);
    cmn_metrics_destroy(&metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_concurrent_updates_sum_exactly),
        cmocka_unit_test(test_latency_bounds),
        cmocka_unit_test(test_remove_a_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
