/* Unit tests for the watermark level machine: exact level sequences with and
 * without hysteresis, the dwell driven by a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "sc_watermark.h"

#define CAPACITY 100
#define LOW 50
#define HIGH 80
#define DEAD_BAND 10
#define DWELL_MS 250
#define SEQUENCE_MAX 64

/* Levels seen while feeding sizes, one entry per change. */
typedef struct {
    mdbp_level_t levels[SEQUENCE_MAX];
    uint64_t sizes[SEQUENCE_MAX];
    size_t count;
} sequence_t;

static void feed(sc_watermark_t *watermark, cmn_clock_t *clock, uint64_t size,
                 sequence_t *seen)
{
    mdbp_level_t previous;
    if (sc_watermark_update(watermark, size, cmn_clock_mono_ns(clock),
                            &previous)) {
        assert_true(seen->count < SEQUENCE_MAX);
        seen->levels[seen->count] = sc_watermark_level(watermark);
        seen->sizes[seen->count] = size;
        seen->count++;
    }
}

/* Fills 0 -> 100 then drains 100 -> 0, one record at a time, advancing the
 * clock by `step_ms` per change. */
static void fill_and_drain(sc_watermark_t *watermark, cmn_clock_t *clock,
                           int64_t step_ms, sequence_t *seen)
{
    for (uint64_t size = 0; size <= CAPACITY; size++) {
        feed(watermark, clock, size, seen);
        cmn_clock_advance(clock, step_ms * CMN_NS_PER_MS);
    }
    for (uint64_t size = CAPACITY + 1; size-- > 0;) {
        feed(watermark, clock, size, seen);
        cmn_clock_advance(clock, step_ms * CMN_NS_PER_MS);
    }
}

static sc_watermark_config_t config_of(uint64_t dead_band, int64_t dwell_ms)
{
    return (sc_watermark_config_t){
        .capacity = CAPACITY,
        .low = LOW,
        .high = HIGH,
        .dead_band = dead_band,
        .dwell_ns = dwell_ms * CMN_NS_PER_MS,
    };
}

static void test_seed_mode_sequence(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_watermark_config_t config = config_of(0, 0);
    sc_watermark_t *watermark = sc_watermark_new(&config, 0);
    sequence_t seen = {0};
    fill_and_drain(watermark, clock, 0, &seen);

    /* The seed: SOFT above L, HARD at H, back to SOFT below H, OK at L. */
    assert_int_equal(seen.count, 4);
    assert_int_equal(seen.levels[0], MDBP_LEVEL_SOFT);
    assert_int_equal(seen.sizes[0], 51);
    assert_int_equal(seen.levels[1], MDBP_LEVEL_HARD);
    assert_int_equal(seen.sizes[1], 80);
    assert_int_equal(seen.levels[2], MDBP_LEVEL_SOFT);
    assert_int_equal(seen.sizes[2], 79);
    assert_int_equal(seen.levels[3], MDBP_LEVEL_OK);
    assert_int_equal(seen.sizes[3], 50);
    sc_watermark_destroy(&watermark);
    assert_null(watermark);
    cmn_clock_destroy(&clock);
}

static void test_seed_mode_flaps_at_the_threshold(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_watermark_config_t config = config_of(0, 0);
    sc_watermark_t *watermark = sc_watermark_new(&config, 0);
    sequence_t seen = {0};
    const uint64_t sizes[] = {79, 80, 79, 80, 79};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        feed(watermark, clock, sizes[i], &seen);
    /* OK->SOFT at 79, then HARD, SOFT, HARD, SOFT. */
    assert_int_equal(seen.count, 5);
    assert_int_equal(seen.levels[4], MDBP_LEVEL_SOFT);
    sc_watermark_destroy(&watermark);
    cmn_clock_destroy(&clock);
}

static void test_hysteresis_sequence(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_watermark_config_t config = config_of(DEAD_BAND, DWELL_MS);
    sc_watermark_t *watermark = sc_watermark_new(&config, 0);
    sequence_t seen = {0};
    /* Slow enough (10 ms per record) that the dwell never holds back. */
    fill_and_drain(watermark, clock, 10, &seen);

    assert_int_equal(seen.count, 4);
    assert_int_equal(seen.levels[0], MDBP_LEVEL_SOFT);
    assert_int_equal(seen.sizes[0], 51);
    assert_int_equal(seen.levels[1], MDBP_LEVEL_HARD);
    assert_int_equal(seen.sizes[1], 80);
    assert_int_equal(seen.levels[2], MDBP_LEVEL_SOFT);
    assert_int_equal(seen.sizes[2], HIGH - DEAD_BAND - 1); /* < H - D */
    assert_int_equal(seen.levels[3], MDBP_LEVEL_OK);
    assert_int_equal(seen.sizes[3], LOW - DEAD_BAND); /* <= L - D */
    sc_watermark_destroy(&watermark);
    cmn_clock_destroy(&clock);
}

static void test_hysteresis_absorbs_flapping(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_watermark_config_t config = config_of(DEAD_BAND, DWELL_MS);
    sc_watermark_t *watermark = sc_watermark_new(&config, 0);
    sequence_t seen = {0};
    const uint64_t sizes[] = {79, 80, 79, 80, 75, 70, 79, 80, 71};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        feed(watermark, clock, sizes[i], &seen);
        cmn_clock_advance(clock, DWELL_MS * CMN_NS_PER_MS);
    }
    /* SOFT at 79, HARD at 80, then never below H - D = 70: stays HARD. */
    assert_int_equal(seen.count, 2);
    assert_int_equal(seen.levels[1], MDBP_LEVEL_HARD);
    feed(watermark, clock, 69, &seen);
    assert_int_equal(seen.count, 3);
    assert_int_equal(seen.levels[2], MDBP_LEVEL_SOFT);
    sc_watermark_destroy(&watermark);
    cmn_clock_destroy(&clock);
}

static void test_dwell_holds_step_down_until_it_ends(void **state)
{
    (void)state;
    cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
    sc_watermark_config_t config = config_of(DEAD_BAND, DWELL_MS);
    sc_watermark_t *watermark =
        sc_watermark_new(&config, cmn_clock_mono_ns(clock));
    sequence_t seen = {0};

    feed(watermark, clock, 90, &seen); /* straight to HARD */
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.levels[0], MDBP_LEVEL_HARD);

    /* Drained at once, but the dwell holds the level... */
    cmn_clock_advance(clock, (DWELL_MS - 1) * CMN_NS_PER_MS);
    feed(watermark, clock, 5, &seen);
    assert_int_equal(seen.count, 1);
    assert_int_equal(sc_watermark_level(watermark), MDBP_LEVEL_HARD);

    /* ...until the timer re-evaluates when it ends: straight to OK. */
    cmn_clock_advance(clock, 1 * CMN_NS_PER_MS);
    feed(watermark, clock, 5, &seen);
    assert_int_equal(seen.count, 2);
    assert_int_equal(seen.levels[1], MDBP_LEVEL_OK);

    /* Up is immediate, whatever the dwell. */
    feed(watermark, clock, 60, &seen);
    assert_int_equal(seen.count, 3);
    assert_int_equal(seen.levels[2], MDBP_LEVEL_SOFT);
    feed(watermark, clock, 85, &seen);
    assert_int_equal(seen.count, 4);
    assert_int_equal(seen.levels[3], MDBP_LEVEL_HARD);

    /* HARD -> SOFT when the size calls for SOFT (between L - D and H - D). */
    cmn_clock_advance(clock, DWELL_MS * CMN_NS_PER_MS);
    feed(watermark, clock, 45, &seen);
    assert_int_equal(seen.count, 5);
    assert_int_equal(seen.levels[4], MDBP_LEVEL_SOFT);
    assert_int_equal(sc_watermark_changed_ns(watermark),
                     cmn_clock_mono_ns(clock));
    sc_watermark_destroy(&watermark);
    cmn_clock_destroy(&clock);
}

/* The worked example of proto/feedback.md section 6.2, both modes. */
static void test_feedback_md_worked_example(void **state)
{
    (void)state;
    typedef struct {
        int64_t at_ms;
        uint64_t size;
        mdbp_level_t hysteresis; /* D = 1000, T = 250 ms */
        mdbp_level_t seed;       /* D = 0, T = 0 */
    } step_t;
    const step_t steps[] = {
        {0, 0, MDBP_LEVEL_OK, MDBP_LEVEL_OK},
        {100, 5000, MDBP_LEVEL_OK, MDBP_LEVEL_OK},
        {110, 5001, MDBP_LEVEL_SOFT, MDBP_LEVEL_SOFT},
        {200, 8000, MDBP_LEVEL_HARD, MDBP_LEVEL_HARD},
        {300, 6500, MDBP_LEVEL_HARD, MDBP_LEVEL_SOFT},
        {450, 6500, MDBP_LEVEL_SOFT, MDBP_LEVEL_SOFT},
        {500, 7500, MDBP_LEVEL_SOFT, MDBP_LEVEL_SOFT},
        {600, 4500, MDBP_LEVEL_SOFT, MDBP_LEVEL_OK},
        {650, 4000, MDBP_LEVEL_SOFT, MDBP_LEVEL_OK},
        {700, 4000, MDBP_LEVEL_OK, MDBP_LEVEL_OK},
        {800, 9000, MDBP_LEVEL_HARD, MDBP_LEVEL_HARD},
        {1000, 7500, MDBP_LEVEL_HARD, MDBP_LEVEL_SOFT},
        {1100, 3000, MDBP_LEVEL_OK, MDBP_LEVEL_OK},
    };
    sc_watermark_config_t modes[2] = {
        {.capacity = 10000,
         .low = 5000,
         .high = 8000,
         .dead_band = 1000,
         .dwell_ns = 250 * CMN_NS_PER_MS},
        {.capacity = 10000, .low = 5000, .high = 8000},
    };
    for (int mode = 0; mode < 2; mode++) {
        cmn_clock_t *clock = cmn_clock_new_virtual(0, 0);
        sc_watermark_t *watermark = sc_watermark_new(&modes[mode], 0);
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            cmn_clock_advance(clock, steps[i].at_ms * CMN_NS_PER_MS -
                                         cmn_clock_mono_ns(clock));
            sc_watermark_update(watermark, steps[i].size,
                                cmn_clock_mono_ns(clock), NULL);
            assert_int_equal(sc_watermark_level(watermark),
                             mode == 0 ? steps[i].hysteresis : steps[i].seed);
        }
        sc_watermark_destroy(&watermark);
        cmn_clock_destroy(&clock);
    }
}

static void test_scale_hint(void **state)
{
    (void)state;
    sc_watermark_config_t config = config_of(DEAD_BAND, DWELL_MS);
    assert_true(sc_watermark_scale_hint(&config, 0) == 1.0);
    assert_true(sc_watermark_scale_hint(&config, LOW) == 1.0);
    assert_true(sc_watermark_scale_hint(&config, 65) == 0.5);
    assert_true(sc_watermark_scale_hint(&config, HIGH) == 0.0);
    assert_true(sc_watermark_scale_hint(&config, CAPACITY) == 0.0);
}

static void test_config_check(void **state)
{
    (void)state;
    const char *reason = NULL;
    sc_watermark_config_t config = config_of(0, 0);
    assert_int_equal(sc_watermark_config_check(&config, &reason), 0);
    config.low = HIGH;
    assert_int_equal(sc_watermark_config_check(&config, &reason), -1);
    assert_non_null(reason);
    config = config_of(0, 0);
    config.high = CAPACITY + 1;
    assert_int_equal(sc_watermark_config_check(&config, &reason), -1);
    config = config_of(0, -1);
    assert_int_equal(sc_watermark_config_check(&config, &reason), -1);
    config = config_of(LOW + 1, 0); /* D <= L */
    assert_int_equal(sc_watermark_config_check(&config, &reason), -1);
}

static void test_hint_moved(void **state)
{
    (void)state;
    /* A step of 0.05 or more is worth an early message, less is not. */
    assert_false(sc_watermark_hint_moved(0.5, 0.5));
    assert_false(sc_watermark_hint_moved(0.5, 0.46));
    assert_true(sc_watermark_hint_moved(0.5, 0.45));
    assert_true(sc_watermark_hint_moved(0.5, 0.56));
    /* Reaching a pause or full rate always is. */
    assert_true(sc_watermark_hint_moved(0.02, 0.0));
    assert_true(sc_watermark_hint_moved(0.99, 1.0));
    assert_false(sc_watermark_hint_moved(0.0, 0.0));
    assert_false(sc_watermark_hint_moved(1.0, 1.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hint_moved),
        cmocka_unit_test(test_seed_mode_sequence),
        cmocka_unit_test(test_seed_mode_flaps_at_the_threshold),
        cmocka_unit_test(test_hysteresis_sequence),
        cmocka_unit_test(test_hysteresis_absorbs_flapping),
        cmocka_unit_test(test_dwell_holds_step_down_until_it_ends),
        cmocka_unit_test(test_feedback_md_worked_example),
        cmocka_unit_test(test_scale_hint),
        cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
