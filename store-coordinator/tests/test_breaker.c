/* Unit tests for the circuit breaker, driven by a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sc_breaker.h"
#include "cmn_clock.h"

#define THRESHOLD 3
#define OPEN_MS 500

static void test_opens_after_threshold_and_recovers(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_breaker_t *breaker = sc_breaker_new(THRESHOLD, OPEN_MS * CMN_NS_PER_MS);
    for (int i = 0; i < THRESHOLD - 1; i++) {
        sc_breaker_failure(breaker, cmn_clock_mono_ns(clock));
        assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_CLOSED);
    }
    sc_breaker_failure(breaker, cmn_clock_mono_ns(clock));
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_OPEN);
    assert_false(sc_breaker_allow(breaker, cmn_clock_mono_ns(clock)));
    assert_int_equal(sc_breaker_wait_ns(breaker, cmn_clock_mono_ns(clock)),
                     OPEN_MS * CMN_NS_PER_MS);

    cmn_clock_advance(clock, (OPEN_MS - 1) * CMN_NS_PER_MS);
    assert_false(sc_breaker_allow(breaker, cmn_clock_mono_ns(clock)));
    cmn_clock_advance(clock, 1 * CMN_NS_PER_MS);
    assert_true(sc_breaker_allow(breaker, cmn_clock_mono_ns(clock)));
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_HALF_OPEN);

    /* The trial fails: open again for a whole period. */
    sc_breaker_failure(breaker, cmn_clock_mono_ns(clock));
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_OPEN);
    cmn_clock_advance(clock, OPEN_MS * CMN_NS_PER_MS);
    assert_true(sc_breaker_allow(breaker, cmn_clock_mono_ns(clock)));

    /* The trial succeeds: closed, the count starts again. */
    sc_breaker_success(breaker);
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_CLOSED);
    sc_breaker_failure(breaker, cmn_clock_mono_ns(clock));
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_CLOSED);
    assert_string_equal(sc_breaker_state_name(SC_BREAKER_HALF_OPEN),
                        "half_open");
    sc_breaker_destroy(&breaker);
    assert_null(breaker);
    cmn_clock_destroy(&clock);
}

static void test_success_resets_the_count(void **state)
{
    (void)state;
    sc_breaker_t *breaker = sc_breaker_new(THRESHOLD, OPEN_MS * CMN_NS_PER_MS);
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < THRESHOLD - 1; i++)
            sc_breaker_failure(breaker, 0);
        sc_breaker_success(breaker);
    }
    assert_int_equal(sc_breaker_state(breaker), SC_BREAKER_CLOSED);
    assert_true(sc_breaker_allow(breaker, 0));
    sc_breaker_destroy(&breaker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_threshold_and_recovers),
        cmocka_unit_test(test_success_resets_the_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
