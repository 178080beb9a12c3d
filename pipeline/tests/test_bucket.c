/* Unit tests of pl_bucket on a virtual clock. */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pl_bucket.h"

#define T0_MONO_NS INT64_C(1000000000)
#define T0_WALL_NS INT64_C(1700000000000000000)
#define MS (CMN_NS_PER_MS)
#define SEC (CMN_NS_PER_SEC)

static cmn_clock_t *s_clock(void)
{
    return cmn_clock_new_virtual(T0_MONO_NS, T0_WALL_NS);
}

static void test_burst_is_the_capacity(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    pl_bucket_t *bucket = pl_bucket_new(clock, 10, 1, 0);
    assert_non_null(bucket);
    assert_int_equal(pl_bucket_take(bucket, 100), 10);
    assert_false(pl_bucket_try(bucket, 1));
    /* A long idle time banks no more than the capacity. */
    cmn_clock_advance(clock, 1000 * SEC);
    assert_int_equal(pl_bucket_take(bucket, 100), 10);
    pl_bucket_destroy(&bucket);
    assert_null(bucket);
    cmn_clock_destroy(&clock);
}

/* Takes whatever is available every `step_ns` for `duration_ns`. */
static uint64_t s_drain(cmn_clock_t *clock, pl_bucket_t *bucket,
                        int64_t step_ns, int64_t duration_ns)
{
    uint64_t total = 0;
    for (int64_t elapsed = 0; elapsed < duration_ns; elapsed += step_ns) {
        cmn_clock_advance(clock, step_ns);
        total += pl_bucket_take(bucket, UINT64_MAX);
    }
    return total;
}

static void test_rate_accuracy(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    /* 10/s read every 7 ms for 100 s: 1000 tokens. */
    pl_bucket_t *bucket = pl_bucket_new(clock, 5, 10, 0);
    pl_bucket_take(bucket, UINT64_MAX);
    uint64_t total = s_drain(clock, bucket, 7 * MS, 100 * SEC);
    assert_in_range(total, 999, 1001);
    pl_bucket_destroy(&bucket);

    /* 1,000,000/s read every microsecond for one second. */
    bucket = pl_bucket_new(clock, 100, 1000000, 0);
    pl_bucket_take(bucket, UINT64_MAX);
    total = s_drain(clock, bucket, 1000, SEC);
    assert_in_range(total, 999999, 1000001);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_scale_applies_to_rate(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    pl_bucket_t *bucket = pl_bucket_new(clock, 10, 100, 0);
    pl_bucket_take(bucket, UINT64_MAX);
    pl_bucket_set_scale(bucket, 0.5);
    assert_true(pl_bucket_effective_rate(bucket) == 50.0);
    uint64_t total = s_drain(clock, bucket, 10 * MS, 10 * SEC);
    assert_in_range(total, 499, 501);
    /* Out-of-range scales are clamped. */
    pl_bucket_set_scale(bucket, 7.0);
    assert_true(pl_bucket_scale(bucket) == 1.0);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_rate_change_keeps_accounting(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    pl_bucket_t *bucket = pl_bucket_new(clock, 1000, 100, 0);
    pl_bucket_take(bucket, UINT64_MAX);
    /* Half a second at 100/s (not read in between), then half at 200/s. */
    cmn_clock_advance(clock, 500 * MS);
    pl_bucket_set_rate(bucket, 200);
    cmn_clock_advance(clock, 500 * MS);
    assert_float_equal(pl_bucket_tokens(bucket), 150.0, 1e-6);
    /* Same through the scale. */
    pl_bucket_take(bucket, UINT64_MAX);
    cmn_clock_advance(clock, 1 * SEC);
    pl_bucket_set_scale(bucket, 0.25);
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_tokens(bucket), 250.0, 1e-6);
    /* A capacity change drops what is above it and keeps the rest. */
    pl_bucket_set_capacity(bucket, 100);
    assert_float_equal(pl_bucket_tokens(bucket), 100.0, 1e-6);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_scale_zero_grants_nothing_even_full(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    pl_bucket_t *bucket = pl_bucket_new(clock, 10, 100, 0);
    assert_float_equal(pl_bucket_tokens(bucket), 10.0, 1e-9);
    pl_bucket_set_scale(bucket, 0.0);
    assert_true(pl_bucket_paused(bucket));
    assert_false(pl_bucket_try(bucket, 1));
    assert_int_equal(pl_bucket_take(bucket, 100), 0);
    cmn_clock_advance(clock, 60 * SEC);
    assert_int_equal(pl_bucket_take(bucket, 100), 0);
    assert_true(pl_bucket_wait_ns(bucket, 1) == PL_BUCKET_WAIT_FOREVER);
    assert_true(pl_bucket_effective_rate(bucket) == 0.0);
    int64_t before = cmn_clock_mono_ns(clock);
    assert_int_equal(pl_bucket_acquire(bucket, 1, before + 3600 * SEC),
                     PL_BUCKET_TIMEOUT);
    assert_true(cmn_clock_mono_ns(clock) == before);
    /* NaN is a pause too, never a crash. */
    pl_bucket_set_scale(bucket, 1.0);
    pl_bucket_set_scale(bucket, NAN);
    assert_true(pl_bucket_paused(bucket));
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_ramp_after_pause(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    /* 1000/s, ramp 2 s, a capacity that never caps. */
    pl_bucket_t *bucket = pl_bucket_new(clock, 1e9, 1000, 2 * SEC);
    pl_bucket_set_scale(bucket, 0.0);
    cmn_clock_advance(clock, 5 * SEC);
    pl_bucket_set_scale(bucket, 1.0);
    assert_false(pl_bucket_paused(bucket));
    assert_true(pl_bucket_ramping(bucket));
    /* The banked burst was forfeited: nothing right after the pause. */
    assert_int_equal(pl_bucket_take(bucket, 100), 0);
    /* After 1 s of a linear ramp to 1000/s: 1000 * 1^2 / (2 * 2) = 250. */
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_effective_rate(bucket), 500.0, 1e-6);
    assert_float_equal(pl_bucket_tokens(bucket), 250.0, 1e-6);
    /* At 2 s the ramp is over: 1000 in all; then full speed. */
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_tokens(bucket), 1000.0, 1e-6);
    cmn_clock_advance(clock, 1 * SEC);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_tokens(bucket), 2000.0, 1e-6);
    assert_float_equal(pl_bucket_effective_rate(bucket), 1000.0, 1e-9);

    /* The wait for tokens during a ramp solves the quadratic. */
    pl_bucket_set_scale(bucket, 0.0);
    pl_bucket_set_scale(bucket, 1.0);
    int64_t wait = pl_bucket_wait_ns(bucket, 250);
    assert_in_range(wait, SEC - MS, SEC + MS);
    /* ... and beyond the ramp it adds the linear part: 1000 + 500 tokens. */
    wait = pl_bucket_wait_ns(bucket, 1500);
    assert_in_range(wait, 2500 * MS - MS, 2500 * MS + MS);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_ramp_on_every_rise(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    /* 1000/s, ramp 2 s, a capacity that never caps. */
    pl_bucket_t *bucket = pl_bucket_new(clock, 1e9, 1000, 2 * SEC);
    pl_bucket_take(bucket, UINT64_MAX);
    /* A fall is immediate: 0.5 at once, no ramp. */
    pl_bucket_set_scale(bucket, 0.5);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_effective_rate(bucket), 500.0, 1e-9);
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_tokens(bucket), 500.0, 1e-6);
    /* A rise 0.5 -> 1.0 ramps from 500/s to 1000/s over 2 s: after 1 s the
     * rate is 750/s and 625 tokens came (the mean of 500 and 750). */
    pl_bucket_take(bucket, UINT64_MAX);
    pl_bucket_set_scale(bucket, 1.0);
    assert_true(pl_bucket_ramping(bucket));
    assert_true(pl_bucket_scale(bucket) == 1.0);
    assert_float_equal(pl_bucket_effective_rate(bucket), 500.0, 1e-9);
    /* The wait solves the quadratic from a non-zero start: 625 in 1 s. */
    int64_t wait = pl_bucket_wait_ns(bucket, 625);
    assert_in_range(wait, SEC - MS, SEC + MS);
    /* Setting the same target again does not restart the ramp. */
    cmn_clock_advance(clock, 500 * MS);
    pl_bucket_set_scale(bucket, 1.0);
    cmn_clock_advance(clock, 500 * MS);
    assert_float_equal(pl_bucket_effective_rate(bucket), 750.0, 1e-6);
    assert_float_equal(pl_bucket_tokens(bucket), 625.0, 1e-6);
    /* A fall during the ramp ends it at once, below where it was. */
    pl_bucket_set_scale(bucket, 0.25);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_effective_rate(bucket), 250.0, 1e-9);
    /* A new rise during a ramp starts from the point reached: 0.25 -> 0.75
     * is at 0.5 after 1 s; then a rise to 1.0 ramps 0.5 -> 1.0. */
    pl_bucket_set_scale(bucket, 0.75);
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_effective_rate(bucket), 500.0, 1e-6);
    pl_bucket_set_scale(bucket, 1.0);
    cmn_clock_advance(clock, 1 * SEC);
    assert_float_equal(pl_bucket_effective_rate(bucket), 750.0, 1e-6);
    cmn_clock_advance(clock, 1 * SEC);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_effective_rate(bucket), 1000.0, 1e-9);
    /* A rise to less than the point reached is a fall: at once. */
    pl_bucket_set_scale(bucket, 0.5);
    pl_bucket_set_scale(bucket, 0.9);
    cmn_clock_advance(clock, 200 * MS);
    pl_bucket_set_scale(bucket, 0.52);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_effective_rate(bucket), 520.0, 1e-9);
    pl_bucket_destroy(&bucket);

    /* Without a ramp, a rise is immediate too. */
    bucket = pl_bucket_new(clock, 1e9, 1000, 0);
    pl_bucket_set_scale(bucket, 0.5);
    pl_bucket_set_scale(bucket, 1.0);
    assert_false(pl_bucket_ramping(bucket));
    assert_float_equal(pl_bucket_effective_rate(bucket), 1000.0, 1e-9);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_blocking_acquire_with_deadline(void **state)
{
    (void)state;
    cmn_clock_t *clock = s_clock();
    pl_bucket_t *bucket = pl_bucket_new(clock, 5, 10, 0);
    pl_bucket_take(bucket, UINT64_MAX);
    int64_t wait = pl_bucket_wait_ns(bucket, 1);
    assert_in_range(wait, 100 * MS, 100 * MS + 10);
    /* The virtual clock moves by the wait. */
    int64_t before = cmn_clock_mono_ns(clock);
    assert_int_equal(pl_bucket_acquire(bucket, 1, before + SEC), 0);
    int64_t waited = cmn_clock_mono_ns(clock) - before;
    assert_in_range(waited, 100 * MS, 100 * MS + 10);
    /* Two tokens need 200 ms: a 150 ms deadline fails at once. */
    before = cmn_clock_mono_ns(clock);
    assert_int_equal(pl_bucket_acquire(bucket, 2, before + 150 * MS),
                     PL_BUCKET_TIMEOUT);
    assert_true(cmn_clock_mono_ns(clock) == before);
    /* More than the capacity can never be had. */
    assert_true(pl_bucket_wait_ns(bucket, 6) == PL_BUCKET_WAIT_FOREVER);
    assert_int_equal(pl_bucket_acquire(bucket, 6, before + 3600 * SEC),
                     PL_BUCKET_TIMEOUT);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

static void test_blocking_acquire_on_system_clock(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_system();
    pl_bucket_t *bucket = pl_bucket_new(clock, 1, 1000, 0);
    assert_true(pl_bucket_try(bucket, 1));
    /* A real wait of about a millisecond, far within the deadline. */
    int64_t deadline = cmn_clock_mono_ns(clock) + 10 * SEC;
    for (int round = 0; round < 5; round++)
        assert_int_equal(pl_bucket_acquire(bucket, 1, deadline), 0);
    pl_bucket_destroy(&bucket);
    cmn_clock_destroy(&clock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_is_the_capacity),
        cmocka_unit_test(test_rate_accuracy),
        cmocka_unit_test(test_scale_applies_to_rate),
        cmocka_unit_test(test_rate_change_keeps_accounting),
        cmocka_unit_test(test_scale_zero_grants_nothing_even_full),
        cmocka_unit_test(test_ramp_after_pause),
        cmocka_unit_test(test_ramp_on_every_rise),
        cmocka_unit_test(test_blocking_acquire_with_deadline),
        cmocka_unit_test(test_blocking_acquire_on_system_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
