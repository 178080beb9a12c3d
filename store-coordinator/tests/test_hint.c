/* Unit tests for sc_hint: the reason word of a level change, and the one
 * line /status shows, for every level x reason, with the sink now and the
 * depth against the watermarks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sc_hint.h"

#define LOW 50
#define HIGH 80
#define DEPTH_LOW 10
#define DEPTH_MIDDLE 60
#define DEPTH_HIGH 90
#define DWELL_LEFT_MS 120
#define DEAD_BAND 10

static sc_hint_input_t s_input(mdbp_level_t level, sc_hint_reason_t reason,
                               uint64_t depth)
{
    return (sc_hint_input_t){
        .level = level,
        .reason = reason,
        .sink_state = MDBP_SINK_STATE_UP,
        .depth = depth,
        .low = LOW,
        .high = HIGH,
    };
}

/* The hint for `input`, which must contain every one of `parts`. */
static void s_expect(const sc_hint_input_t *input, const char *const *parts)
{
    char text[SC_HINT_MAX];
    sc_hint_text(input, text, sizeof text);
    for (; *parts; parts++)
        if (!strstr(text, *parts))
            fail_msg("hint \"%s\" lacks \"%s\"", text, *parts);
}

static void test_reason_words(void **state)
{
    (void)state;
    assert_int_equal(sc_hint_reason_of(""), SC_HINT_REASON_NONE);
    assert_int_equal(sc_hint_reason_of(NULL), SC_HINT_REASON_NONE);
    assert_int_equal(sc_hint_reason_of("sink_down every writer's breaker "
                                       "is open"),
                     SC_HINT_REASON_SINK_DOWN);
    assert_int_equal(sc_hint_reason_of("depth queue above low watermark"),
                     SC_HINT_REASON_DEPTH);
    assert_int_equal(sc_hint_reason_of("sojourn oldest record 900 ms old"),
                     SC_HINT_REASON_SOJOURN);
    assert_int_equal(sc_hint_reason_of("recovered the sink is writing"),
                     SC_HINT_REASON_RECOVERED);
    /* A prefix of a word is not the word. */
    assert_int_equal(sc_hint_reason_of("sink"), SC_HINT_REASON_NONE);
    assert_int_equal(sc_hint_reason_of("depths"), SC_HINT_REASON_NONE);
    for (int reason = 0; reason < SC_HINT_REASON_COUNT; reason++)
        assert_int_equal(
            sc_hint_reason_of(sc_hint_reason_name((sc_hint_reason_t)reason)),
            reason);
}

/* OK: producers at full rate, whatever the last change was. */
static void test_ok_every_reason(void **state)
{
    (void)state;
    sc_hint_input_t input =
        s_input(MDBP_LEVEL_OK, SC_HINT_REASON_NONE, DEPTH_LOW);
    s_expect(&input, (const char *const[]){"queue below low watermark",
                                           ": producers at full rate", NULL});
    input.reason = SC_HINT_REASON_DEPTH;
    s_expect(&input, (const char *const[]){"queue below low watermark",
                                           ": producers at full rate", NULL});
    input.reason = SC_HINT_REASON_SOJOURN;
    s_expect(&input, (const char *const[]){"no longer wait",
                                           ": producers at full rate", NULL});
    input.reason = SC_HINT_REASON_RECOVERED;
    s_expect(&input, (const char *const[]){"the sink recovered",
                                           ": producers at full rate", NULL});
    input.reason = SC_HINT_REASON_SINK_DOWN;
    s_expect(&input, (const char *const[]){"the sink recovered",
                                           ": producers at full rate", NULL});
}

/* SOFT: producers slowed; the cause follows the reason. */
static void test_soft_every_reason(void **state)
{
    (void)state;
    sc_hint_input_t input =
        s_input(MDBP_LEVEL_SOFT, SC_HINT_REASON_DEPTH, DEPTH_MIDDLE);
    s_expect(&input, (const char *const[]){"queue above low watermark",
                                           ": producers slowed", NULL});
    input.reason = SC_HINT_REASON_NONE;
    s_expect(&input, (const char *const[]){"queue above low watermark",
                                           ": producers slowed", NULL});
    input.reason = SC_HINT_REASON_SOJOURN;
    input.depth = DEPTH_LOW;
    s_expect(&input, (const char *const[]){"records wait longer than the "
                                           "target",
                                           "queue below low watermark",
                                           ": producers slowed", NULL});
    input.reason = SC_HINT_REASON_RECOVERED;
    s_expect(&input, (const char *const[]){"writing again after an outage",
                                           ": producers slowed", NULL});
    input.reason = SC_HINT_REASON_SINK_DOWN;
    s_expect(&input, (const char *const[]){"writing again after an outage",
                                           ": producers slowed", NULL});
}

/* HARD: producers paused; the issue's own example among them. */
static void test_hard_every_reason(void **state)
{
    (void)state;
    sc_hint_input_t input =
        s_input(MDBP_LEVEL_HARD, SC_HINT_REASON_SINK_DOWN, DEPTH_HIGH);
    input.sink_state = MDBP_SINK_STATE_DOWN;
    char text[SC_HINT_MAX];
    assert_string_equal(sc_hint_text(&input, text, sizeof text),
                        "queue above high watermark because the sink is "
                        "down: producers paused");
    input.depth = 0; /* down before anything waited */
    s_expect(&input, (const char *const[]){"the sink is down",
                                           ": producers paused", NULL});
    input.sink_state = MDBP_SINK_STATE_UP;
    input.depth = DEPTH_HIGH;
    input.reason = SC_HINT_REASON_DEPTH;
    assert_string_equal(sc_hint_text(&input, text, sizeof text),
                        "queue above high watermark: producers paused");
    input.reason = SC_HINT_REASON_NONE;
    s_expect(&input, (const char *const[]){"queue above high watermark",
                                           ": producers paused", NULL});
    input.reason = SC_HINT_REASON_SOJOURN;
    s_expect(&input, (const char *const[]){"the sink is slow",
                                           ": producers paused", NULL});
    input.reason = SC_HINT_REASON_RECOVERED;
    s_expect(&input, (const char *const[]){"writing again after an outage",
                                           "queue above high watermark",
                                           ": producers paused", NULL});
}

/* The sink now overrides an older reason: the queue filled (depth), then
 * the database went down without a level change. */
static void test_sink_down_now_overrides_reason(void **state)
{
    (void)state;
    sc_hint_input_t input =
        s_input(MDBP_LEVEL_HARD, SC_HINT_REASON_DEPTH, DEPTH_HIGH);
    input.sink_state = MDBP_SINK_STATE_DOWN;
    s_expect(&input, (const char *const[]){"because the sink is down",
                                           ": producers paused", NULL});
    input.sink_state = MDBP_SINK_STATE_DEGRADED;
    input.level = MDBP_LEVEL_SOFT;
    input.depth = DEPTH_MIDDLE;
    s_expect(&input, (const char *const[]){"while the sink is degraded",
                                           ": producers slowed", NULL});
}

static void test_dwell_and_draining(void **state)
{
    (void)state;
    sc_hint_input_t input =
        s_input(MDBP_LEVEL_SOFT, SC_HINT_REASON_DEPTH, DEPTH_LOW);
    input.dwell_remaining_ms = DWELL_LEFT_MS;
    s_expect(&input, (const char *const[]){"held at least 120 ms more", NULL});
    input.level = MDBP_LEVEL_OK; /* OK is never held */
    char text[SC_HINT_MAX];
    assert_null(strstr(sc_hint_text(&input, text, sizeof text), "held"));
    input.draining = true;
    s_expect(&input, (const char *const[]){"shutting down", NULL});
    input.draining = false;
    input.dwell_remaining_ms = 0;
    /* Inside the dead-band: below the watermark, the level not left yet. */
    input.dead_band = DEAD_BAND;
    input.level = MDBP_LEVEL_SOFT;
    input.depth = LOW - DEAD_BAND / 2;
    s_expect(&input, (const char *const[]){"not yet below it minus the "
                                           "dead-band",
                                           NULL});
    input.level = MDBP_LEVEL_HARD;
    input.depth = HIGH - DEAD_BAND / 2;
    s_expect(&input, (const char *const[]){"below high watermark but not yet",
                                           ": producers paused", NULL});
    input.depth = HIGH - 2 * DEAD_BAND; /* left the band: SOFT soon */
    s_expect(&input, (const char *const[]){"queue above low watermark", NULL});
    input.draining = true;
    /* A short buffer is cut, never overrun. */
    char small[8];
    sc_hint_text(&input, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_words),
        cmocka_unit_test(test_ok_every_reason),
        cmocka_unit_test(test_soft_every_reason),
        cmocka_unit_test(test_hard_every_reason),
        cmocka_unit_test(test_sink_down_now_overrides_reason),
        cmocka_unit_test(test_dwell_and_draining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
