/* Unit tests of pl_rate_coordinator on a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pl_rate_coordinator.h"

#define MS (CMN_NS_PER_MS)
#define SEC (CMN_NS_PER_SEC)

static const pl_rate_config_t s_config = {
    .capacity = 10,
    .refill_rate = 100,
    .cooldown_sec = 30,
    .breaker_threshold = 3,
    .breaker_timeout_sec = 10,
};

typedef struct {
    cmn_clock_t *clock;
    pl_rate_coordinator_t *rate;
    size_t ibkr;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof *fixture);
    fixture->clock = cmn_clock_new_virtual(SEC, SEC);
    fixture->rate = pl_rate_coordinator_new(fixture->clock, 2 * SEC);
    int idx = pl_rate_coordinator_add(fixture->rate, "ibkr", &s_config);
    assert_int_equal(idx, 0);
    fixture->ibkr = (size_t)idx;
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = *state;
    pl_rate_coordinator_destroy(&fixture->rate);
    assert_null(fixture->rate);
    cmn_clock_destroy(&fixture->clock);
    free(fixture);
    return 0;
}

static void test_register_and_find(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(pl_rate_coordinator_add(f->rate, "ibkr", &s_config), -1);
    assert_int_equal(pl_rate_coordinator_add(f->rate, "", &s_config), -1);
    assert_int_equal(pl_rate_coordinator_add(f->rate, "polygon", &s_config), 1);
    assert_int_equal(pl_rate_coordinator_find(f->rate, "polygon"), 1);
    assert_int_equal(pl_rate_coordinator_find(f->rate, "nope"), -1);
    assert_int_equal(pl_rate_coordinator_count(f->rate), 2);
    assert_string_equal(pl_rate_coordinator_name(f->rate, 1), "polygon");
    /* Providers are independent. */
    assert_int_equal(pl_rate_coordinator_take(f->rate, 0, 100), 10);
    assert_int_equal(pl_rate_coordinator_take(f->rate, 1, 100), 10);
}

static void test_scale_and_pressure(void **state)
{
    fixture_t *f = *state;
    pl_rate_coordinator_set_pressure(f->rate, f->ibkr, MDBP_LEVEL_SOFT);
    pl_rate_coordinator_set_scale(f->rate, f->ibkr, 0.5);
    assert_int_equal(pl_rate_coordinator_pressure(f->rate, f->ibkr),
                     MDBP_LEVEL_SOFT);
    assert_true(pl_rate_coordinator_scale(f->rate, f->ibkr) == 0.5);
    pl_rate_coordinator_take(f->rate, f->ibkr, 100);
    cmn_clock_advance(f->clock, 100 * MS);
    /* 100/s at half scale for 100 ms. */
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 100), 5);
    pl_rate_coordinator_set_scale(f->rate, f->ibkr, 0.0);
    cmn_clock_advance(f->clock, 10 * SEC);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 100), 0);
    assert_true(pl_rate_coordinator_wait_ns(f->rate, f->ibkr, 1) ==
                PL_BUCKET_WAIT_FOREVER);
    assert_true(pl_bucket_paused(pl_rate_coordinator_bucket(f->rate, 0)));
    /* A base rate change keeps the accounting. */
    pl_rate_coordinator_set_scale(f->rate, f->ibkr, 1.0);
    cmn_clock_advance(f->clock, 5 * SEC); /* past the ramp */
    pl_rate_coordinator_take(f->rate, f->ibkr, 100);
    cmn_clock_advance(f->clock, 20 * MS);
    pl_rate_coordinator_set_rate(f->rate, f->ibkr, 300);
    cmn_clock_advance(f->clock, 20 * MS);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 100), 8);
}

static void test_cooldown_scopes(void **state)
{
    fixture_t *f = *state;
    /* A symbol-scoped cooldown does not stop the provider... */
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, "symbol:AAPL", 5);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 3);
    int64_t left =
        pl_rate_coordinator_cooldown_ns(f->rate, f->ibkr, "symbol:AAPL");
    assert_true(left == 5 * SEC);
    assert_true(
        pl_rate_coordinator_cooldown_ns(f->rate, f->ibkr, "symbol:MSFT") == 0);
    /* ... a global one does, until it ends. */
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, PL_RATE_SCOPE_GLOBAL,
                                         2);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 0);
    assert_false(pl_rate_coordinator_try(f->rate, f->ibkr, 1));
    int64_t wait = pl_rate_coordinator_wait_ns(f->rate, f->ibkr, 1);
    assert_true(wait == 2 * SEC);
    assert_int_equal(pl_rate_coordinator_cooldown_count(f->rate, f->ibkr), 2);
    cmn_clock_advance(f->clock, 2 * SEC);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 3);
    assert_int_equal(pl_rate_coordinator_cooldown_count(f->rate, f->ibkr), 1);
    assert_string_equal(pl_rate_coordinator_cooldown_scope(f->rate, f->ibkr, 0),
                        "symbol:AAPL");
    assert_true(pl_rate_coordinator_cooldown_left_ns(f->rate, f->ibkr, 0) ==
                3 * SEC);
    /* Re-triggering extends, never shortens. */
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, "symbol:AAPL", 1);
    assert_true(pl_rate_coordinator_cooldown_ns(f->rate, f->ibkr,
                                                "symbol:AAPL") == 3 * SEC);
    /* No duration: the provider's cooldown_sec (30 s). */
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, "quotes", 0);
    assert_true(pl_rate_coordinator_cooldown_ns(f->rate, f->ibkr, "quotes") ==
                30 * SEC);
    cmn_clock_advance(f->clock, 30 * SEC);
    assert_int_equal(pl_rate_coordinator_cooldown_count(f->rate, f->ibkr), 0);
    /* A full table replaces the cooldown ending soonest. */
    char scope[PL_RATE_SCOPE_MAX + 1];
    for (int k = 0; k <= PL_RATE_COOLDOWNS_MAX; k++) {
        snprintf(scope, sizeof scope, "scope-%d", k);
        pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, scope, 10 + k);
    }
    assert_int_equal(pl_rate_coordinator_cooldown_count(f->rate, f->ibkr),
                     PL_RATE_COOLDOWNS_MAX);
    assert_true(pl_rate_coordinator_cooldown_ns(f->rate, f->ibkr, "scope-0") ==
                0);
}

/* provider:<its name> pauses the provider as global does; provider:other
 * names another and pauses nothing here. */
static void test_provider_scope_pauses_the_provider(void **state)
{
    fixture_t *f = *state;
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, "provider:other", 5);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 3);
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, "provider:ibkr", 2);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 0);
    assert_true(pl_rate_coordinator_wait_ns(f->rate, f->ibkr, 1) == 2 * SEC);
    cmn_clock_advance(f->clock, 2 * SEC);
    assert_int_equal(pl_rate_coordinator_take(f->rate, f->ibkr, 3), 3);
}

static void test_acquire_waits_out_a_cooldown(void **state)
{
    fixture_t *f = *state;
    pl_rate_coordinator_take(f->rate, f->ibkr, 100);
    pl_rate_coordinator_trigger_cooldown(f->rate, f->ibkr, PL_RATE_SCOPE_GLOBAL,
                                         5);
    int64_t before = cmn_clock_mono_ns(f->clock);
    assert_int_equal(
        pl_rate_coordinator_acquire(f->rate, f->ibkr, 1, before + SEC),
        PL_BUCKET_TIMEOUT);
    assert_int_equal(
        pl_rate_coordinator_acquire(f->rate, f->ibkr, 1, before + 10 * SEC), 0);
    assert_true(cmn_clock_mono_ns(f->clock) - before >= 5 * SEC);
}

static void test_breaker_open_half_open_closed(void **state)
{
    fixture_t *f = *state;
    size_t p = f->ibkr;
    /* Failures below the threshold, then a success: still closed. */
    pl_rate_coordinator_record_failure(f->rate, p);
    pl_rate_coordinator_record_failure(f->rate, p);
    pl_rate_coordinator_record_success(f->rate, p);
    pl_rate_coordinator_record_failure(f->rate, p);
    pl_rate_coordinator_record_failure(f->rate, p);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p),
                     PL_BREAKER_CLOSED);
    /* The third consecutive failure opens it: nothing is granted. */
    pl_rate_coordinator_record_failure(f->rate, p);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p), PL_BREAKER_OPEN);
    assert_string_equal(pl_breaker_state_name(PL_BREAKER_OPEN), "open");
    assert_int_equal(pl_rate_coordinator_take(f->rate, p, 5), 0);
    assert_true(pl_rate_coordinator_wait_ns(f->rate, p, 1) == 10 * SEC);
    cmn_clock_advance(f->clock, 9 * SEC);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p), PL_BREAKER_OPEN);
    /* After the timeout: half-open, one probe token only. */
    cmn_clock_advance(f->clock, 1 * SEC);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p),
                     PL_BREAKER_HALF_OPEN);
    assert_int_equal(pl_rate_coordinator_take(f->rate, p, 5), 1);
    assert_int_equal(pl_rate_coordinator_take(f->rate, p, 5), 0);
    /* The probe failed: open again for a full timeout. */
    pl_rate_coordinator_record_failure(f->rate, p);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p), PL_BREAKER_OPEN);
    cmn_clock_advance(f->clock, 10 * SEC);
    assert_int_equal(pl_rate_coordinator_take(f->rate, p, 5), 1);
    /* The probe succeeded: closed, full grants again. */
    pl_rate_coordinator_record_success(f->rate, p);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p),
                     PL_BREAKER_CLOSED);
    assert_int_equal(pl_rate_coordinator_take(f->rate, p, 5), 5);
    /* One failure after closing does not reopen it (the count restarted). */
    pl_rate_coordinator_record_failure(f->rate, p);
    assert_int_equal(pl_rate_coordinator_breaker(f->rate, p),
                     PL_BREAKER_CLOSED);
}

static void test_half_open_probe_without_outcome_is_retried(void **state)
{
    fixture_t *f = *state;
    for (int k = 0; k < 3; k++)
        pl_rate_coordinator_record_failure(f->rate, f->ibkr);
    cmn_clock_advance(f->clock, 10 * SEC);
    assert_true(pl_rate_coordinator_try(f->rate, f->ibkr, 1));
    assert_false(pl_rate_coordinator_try(f->rate, f->ibkr, 1));
    /* Nobody reported the probe's outcome: another probe after the timeout. */
    cmn_clock_advance(f->clock, 10 * SEC);
    assert_true(pl_rate_coordinator_try(f->rate, f->ibkr, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_and_find, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_scale_and_pressure, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_cooldown_scopes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_provider_scope_pauses_the_provider,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_acquire_waits_out_a_cooldown,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_breaker_open_half_open_closed,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_half_open_probe_without_outcome_is_retried, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
