/* Unit tests for cmn_clock: the system clock moves, a virtual one only when
 * advanced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmn_clock.h"

#define MONO_START_NS INT64_C(5000)
#define WALL_START_NS INT64_C(1795000000000000000) /* in 2026 */

static void test_virtual_moves_only_when_advanced(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(MONO_START_NS, WALL_START_NS);
    assert_non_null(clock);
    assert_true(cmn_clock_is_virtual(clock));
    assert_int_equal(cmn_clock_mono_ns(clock), MONO_START_NS);
    assert_int_equal(cmn_clock_wall_ns(clock), WALL_START_NS);
    assert_int_equal(cmn_clock_mono_ns(clock), MONO_START_NS);

    cmn_clock_advance(clock, 3 * CMN_NS_PER_SEC);
    assert_int_equal(cmn_clock_mono_ns(clock),
                     MONO_START_NS + 3 * CMN_NS_PER_SEC);
    assert_int_equal(cmn_clock_wall_ns(clock),
                     WALL_START_NS + 3 * CMN_NS_PER_SEC);
    cmn_clock_advance(clock, 0);
    assert_int_equal(cmn_clock_mono_ns(clock),
                     MONO_START_NS + 3 * CMN_NS_PER_SEC);

    cmn_clock_destroy(&clock);
    assert_null(clock);
    cmn_clock_destroy(&clock); /* tolerates NULL */
}

static void test_system_clock_reads_the_os(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_system();
    assert_non_null(clock);
    assert_false(cmn_clock_is_virtual(clock));
    int64_t first = cmn_clock_mono_ns(clock);
    /* Poll (bounded) until the monotonic clock visibly moves. */
    int64_t later = first;
    for (int attempt = 0; attempt < 100000000 && later == first; attempt++)
        later = cmn_clock_mono_ns(clock);
    assert_true(later > first);
    assert_true(cmn_clock_now_mono_ns() >= later);
    /* Wall clock is after 2020-01-01 (1577836800 s). */
    assert_true(cmn_clock_wall_ns(clock) >
                INT64_C(1577836800) * CMN_NS_PER_SEC);
    cmn_clock_destroy(&clock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virtual_moves_only_when_advanced),
        cmocka_unit_test(test_system_clock_reads_the_os),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
