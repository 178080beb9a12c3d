/* cmn_metrics when memory runs out: every allocation the registry makes is
 * made to fail in turn (the test links with -Wl,--wrap for them, so only
 * libcommon's calls are affected), and each registration, series lookup and
 * render must then return NULL or work, never crash (issue 12: a failed
 * label array was dereferenced while the half-built series was freed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmn_metrics.h"

/* Allocations left before the one that fails; negative: none fails. */
static long s_allocations_left = -1;
static bool s_failed; /* an allocation was refused in this round */

static bool s_refuse(void)
{
    if (s_allocations_left < 0)
        return false;
    if (s_allocations_left-- == 0) {
        s_failed = true;
        return true;
    }
    return false;
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t length);

void *__wrap_malloc(size_t size)
{
    return s_refuse() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    return s_refuse() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *pointer, size_t size)
{
    return s_refuse() ? NULL : __real_realloc(pointer, size);
}

char *__wrap_strdup(const char *text)
{
    return s_refuse() ? NULL : __real_strdup(text);
}

char *__wrap_strndup(const char *text, size_t length)
{
    return s_refuse() ? NULL : __real_strndup(text, length);
}

/* Registers, looks up and renders with the n-th allocation refused.
 * Returns true when no allocation was refused (n is past the last). */
static bool s_round(long n)
{
    s_allocations_left = -1;
    cmn_metrics_t *metrics = cmn_metrics_new();
    assert_non_null(metrics);
    s_failed = false;
    s_allocations_left = n;
    cmn_metric_t *plain =
        cmn_metrics_counter(metrics, "plain_total", "A counter.", NULL);
    cmn_metric_t *labelled = cmn_metrics_counter(
        metrics, "labelled_total", "With \"labels\".", "peer,reason");
    static const double bounds[] = {0.1, 1.0};
    cmn_metric_t *histogram = cmn_metrics_histogram(
        metrics, "latency_seconds", "A histogram.", "peer", bounds, 2);
    if (labelled) {
        cmn_series_t *series =
            cmn_metric_series(labelled, "p\n1", "full", NULL);
        if (series)
            cmn_series_inc(series);
        series = cmn_metric_series(labelled, "p2", "draining", NULL);
        if (series)
            cmn_series_add(series, 2);
    }
    if (histogram) {
        cmn_series_t *series = cmn_metric_series(histogram, "p1", NULL);
        if (series)
            cmn_series_observe(series, 0.5);
    }
    if (plain) {
        cmn_series_t *series = cmn_metric_series(plain, NULL);
        if (series)
            cmn_series_inc(series);
    }
    size_t length = 0;
    char *text = cmn_metrics_render(metrics, &length);
    s_allocations_left = -1;
    if (text) {
        assert_int_equal(strlen(text), length);
        free(text);
    }
    bool complete = !s_failed;
    if (complete)
        assert_true(plain && labelled && histogram && text);
    cmn_metrics_destroy(&metrics);
    return complete;
}

static void test_every_allocation_may_fail(void **state)
{
    (void)state;
    /* Bounded: the registry above makes a few dozen allocations. */
    long n = 0;
    while (!s_round(n)) {
        n++;
        assert_true(n < 10000);
    }
    assert_true(n > 10); /* the failures were really injected */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_may_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
