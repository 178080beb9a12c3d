/* Unit tests of cmn_ratelimit: one line per interval, the rest counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmn_ratelimit.h"

#define SECOND_NS 1000000000LL

static void test_one_line_per_interval(void **state)
{
    (void)state;
    cmn_ratelimit_t limit = cmn_ratelimit_make(10 * SECOND_NS);
    uint64_t suppressed = 99;
    assert_true(cmn_ratelimit_allow(&limit, 5 * SECOND_NS, &suppressed));
    assert_int_equal(suppressed, 0);
    /* 2,000 refusals in 3 s (issue 12): none of them logged... */
    for (int index = 0; index < 2000; index++)
        assert_false(cmn_ratelimit_allow(&limit, 5 * SECOND_NS + index, NULL));
    assert_false(cmn_ratelimit_allow(&limit, 15 * SECOND_NS - 1, NULL));
    /* ... until the interval is over: one line says how many were not. */
    assert_true(cmn_ratelimit_allow(&limit, 15 * SECOND_NS, &suppressed));
    assert_int_equal(suppressed, 2001);
    assert_true(cmn_ratelimit_allow(&limit, 40 * SECOND_NS, &suppressed));
    assert_int_equal(suppressed, 0);
}

static void test_zero_interval_allows_all(void **state)
{
    (void)state;
    cmn_ratelimit_t limit = cmn_ratelimit_make(0);
    for (int index = 0; index < 10; index++)
        assert_true(cmn_ratelimit_allow(&limit, 0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_per_interval),
        cmocka_unit_test(test_zero_interval_allows_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
