/* Unit tests of pl_policy (the seed's FeedbackHandler mapping). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pl_policy.h"

static pl_policy_config_t s_defaults(void)
{
    return (pl_policy_config_t){
        .enabled = true,
        .kind = PL_POLICY_STEP,
        .scale_ok = PL_POLICY_SCALE_OK_DEFAULT,
        .scale_soft = PL_POLICY_SCALE_SOFT_DEFAULT,
        .scale_hard = PL_POLICY_SCALE_HARD_DEFAULT,
        .providers = NULL,
    };
}

static void test_step_maps_levels(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    pl_policy_t *policy = pl_policy_new(&config);
    assert_non_null(policy);
    /* The hint is ignored by `step`. */
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_OK, 0.2, false) == 1.0);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, 0.2, false) == 0.5);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_HARD, 0.9, false) == 0.0);
    assert_string_equal(pl_policy_kind_name(pl_policy_kind(policy)), "step");
    pl_policy_destroy(&policy);
    assert_null(policy);

    config.scale_soft = 0.7;
    config.scale_hard = 0.1;
    policy = pl_policy_new(&config);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, 0, false) == 0.7);
    assert_true(pl_policy_step_scale(policy, MDBP_LEVEL_HARD) == 0.1);
    pl_policy_destroy(&policy);
}

static void test_proportional_uses_the_hint(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    config.kind = PL_POLICY_PROPORTIONAL;
    pl_policy_t *policy = pl_policy_new(&config);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, 0.35, false) == 0.35);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_OK, 1.5, false) == 1.0);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_HARD, -1, false) == 0.0);
    /* No trustworthy hint: the step scale of the level. */
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, 0.9, true) == 0.5);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, NAN, false) == 0.5);
    pl_policy_destroy(&policy);
}

static void test_disabled_never_scales(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    config.enabled = false;
    pl_policy_t *policy = pl_policy_new(&config);
    assert_false(pl_policy_enabled(policy));
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_HARD, 0, false) == 1.0);
    assert_false(pl_policy_applies(policy, "ibkr"));
    pl_policy_destroy(&policy);
}

static void test_critical_is_paced_by_credits_alone(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    config.credits_only = true;
    pl_policy_t *policy = pl_policy_new(&config);
    assert_true(pl_policy_enabled(policy));
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_HARD, 0, false) == 1.0);
    assert_true(pl_policy_scale(policy, MDBP_LEVEL_SOFT, 0.2, true) == 1.0);
    assert_true(pl_policy_applies(policy, "ibkr"));
    pl_policy_destroy(&policy);
}

static void test_provider_list(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    pl_policy_t *policy = pl_policy_new(&config);
    assert_true(pl_policy_applies(policy, "anything"));
    pl_policy_destroy(&policy);

    config.providers = "ibkr, polygon";
    policy = pl_policy_new(&config);
    assert_true(pl_policy_applies(policy, "ibkr"));
    assert_true(pl_policy_applies(policy, "polygon"));
    assert_false(pl_policy_applies(policy, "ib"));
    assert_false(pl_policy_applies(policy, "polygons"));
    assert_false(pl_policy_applies(policy, "synthetic"));
    pl_policy_destroy(&policy);
}

static void test_invalid_scales_are_refused(void **state)
{
    (void)state;
    pl_policy_config_t config = s_defaults();
    config.scale_soft = 1.5;
    assert_null(pl_policy_new(&config));
    config.scale_soft = NAN;
    assert_null(pl_policy_new(&config));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_maps_levels),
        cmocka_unit_test(test_proportional_uses_the_hint),
        cmocka_unit_test(test_disabled_never_scales),
        cmocka_unit_test(test_critical_is_paced_by_credits_alone),
        cmocka_unit_test(test_provider_list),
        cmocka_unit_test(test_invalid_scales_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
