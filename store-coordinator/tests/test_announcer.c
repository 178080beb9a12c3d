/* Unit tests for sc_announcer: what the publisher sends and when. The
 * random source is a fixed value, so the jitter's extremes are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "sc_announcer.h"

#define MS CMN_NS_PER_MS
#define HEARTBEAT_MS 1000
#define SPREAD_MS (HEARTBEAT_MS * SC_ANNOUNCER_JITTER_PERCENT / 100)

/* Low 0 at capacity 100: L = 50, H = 80, so a hint step of 0.05 is 1.5
 * records. */
static const sc_watermark_config_t s_watermark = {
    .capacity = 100, .low = 50, .high = 80, .dead_band = 10, .dwell_ns = 0};

static uint64_t s_fixed(void *arg)
{
    return *(uint64_t *)arg;
}

static sc_announcer_t *s_new(uint64_t *random)
{
    sc_announcer_config_t config = {
        .watermark = s_watermark,
        .heartbeat_ns = HEARTBEAT_MS * MS,
        .random = s_fixed,
        .random_arg = random,
    };
    return sc_announcer_new(&config, 0);
}

/* Runs the announcer from `from` to `to` (ms, inclusive) at queue `depth`
 * the way the shell does (at each deadline); returns how many messages of
 * `type` it sent and the time of the first one in `*first_ms`. */
static int s_run(sc_announcer_t *announcer, int64_t from, int64_t to,
                 uint64_t depth, proto_feedback_type_t type, int64_t *first_ms)
{
    int sent = 0;
    for (int64_t ms = from; ms <= to; ms++) {
        if (sc_announcer_deadline(announcer) > ms * MS)
            continue;
        sc_announcement_t out;
        while (sc_announcer_due(announcer, depth, ms * MS, &out))
            if (out.type == type && sent++ == 0 && first_ms)
                *first_ms = ms;
    }
    return sent;
}

static void test_heartbeat_every_interval_within_jitter(void **state)
{
    (void)state;
    /* The shortest draw: interval - 10 %. */
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    int64_t first = -1;
    assert_int_equal(s_run(announcer, 0, HEARTBEAT_MS - SPREAD_MS - 1, 0,
                           PROTO_FEEDBACK_HEARTBEAT, &first),
                     0);
    assert_int_equal(s_run(announcer, HEARTBEAT_MS - SPREAD_MS,
                           HEARTBEAT_MS - SPREAD_MS, 0,
                           PROTO_FEEDBACK_HEARTBEAT, &first),
                     1);
    assert_int_equal(first, HEARTBEAT_MS - SPREAD_MS);
    sc_announcer_destroy(&announcer);
    assert_null(announcer);

    /* The longest draw: interval + 10 %; then every 1100 ms. */
    random = 2 * SPREAD_MS * MS;
    announcer = s_new(&random);
    assert_int_equal(s_run(announcer, 0, HEARTBEAT_MS + SPREAD_MS - 1, 0,
                           PROTO_FEEDBACK_HEARTBEAT, NULL),
                     0);
    assert_int_equal(s_run(announcer, HEARTBEAT_MS + SPREAD_MS,
                           3 * (HEARTBEAT_MS + SPREAD_MS), 0,
                           PROTO_FEEDBACK_HEARTBEAT, &first),
                     3);
    assert_int_equal(first, HEARTBEAT_MS + SPREAD_MS);
    sc_announcer_destroy(&announcer);
}

static void test_transition_at_once_with_reason(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    sc_announcement_t out;
    assert_true(sc_announcer_transition(announcer, PROTO_LEVEL_SOFT,
                                        PROTO_LEVEL_OK, 65, 5 * MS, &out));
    assert_int_equal(out.type, PROTO_FEEDBACK_TRANSITION);
    assert_int_equal(out.level, PROTO_LEVEL_SOFT);
    assert_int_equal(out.previous, PROTO_LEVEL_OK);
    assert_int_equal(out.depth, 65);
    assert_true(out.scale_hint > 0.499 && out.scale_hint < 0.501);
    assert_string_equal(out.reason, "queue above low watermark");
    /* The next heartbeat carries the level and the reason too. */
    int64_t first = -1;
    assert_int_equal(
        s_run(announcer, 6, HEARTBEAT_MS, 65, PROTO_FEEDBACK_HEARTBEAT, &first),
        1);
    sc_announcer_destroy(&announcer);
}

static void test_early_heartbeat_when_the_hint_moved(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    int64_t first = -1;
    /* Depth 51: hint 0.967, moved by 0.033 from 1.0: not worth a message. */
    assert_int_equal(
        s_run(announcer, 0, 200, 51, PROTO_FEEDBACK_HEARTBEAT, &first), 0);
    /* Depth 53: hint 0.9, moved by 0.1: sent at the next check (50 ms
     * period), long before the regular heartbeat at 900 ms. */
    assert_int_equal(
        s_run(announcer, 201, 260, 53, PROTO_FEEDBACK_HEARTBEAT, &first), 1);
    assert_int_equal(first, 250);
    /* The published hint is now 0.9: the same depth sends nothing more. */
    assert_int_equal(
        s_run(announcer, 261, 600, 53, PROTO_FEEDBACK_HEARTBEAT, NULL), 0);
    /* Onto 0 (HARD's pause) from elsewhere is always worth a message. */
    assert_int_equal(
        s_run(announcer, 601, 660, 80, PROTO_FEEDBACK_HEARTBEAT, &first), 1);
    assert_int_equal(first, 650);
    sc_announcer_destroy(&announcer);
}

static void
test_snapshot_per_subscription_at_most_one_per_interval(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    sc_announcement_t out;
    assert_true(sc_announcer_subscribed(announcer, 7, 100 * MS, &out));
    assert_int_equal(out.type, PROTO_FEEDBACK_SNAPSHOT);
    assert_int_equal(out.depth, 7);
    /* A flood within the interval: one deferred snapshot for them all. */
    assert_false(sc_announcer_subscribed(announcer, 7, 103 * MS, &out));
    assert_false(sc_announcer_subscribed(announcer, 7, 104 * MS, &out));
    assert_true(sc_announcer_deadline(announcer) <=
                (100 + SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS) * MS);
    int64_t first = -1;
    assert_int_equal(
        s_run(announcer, 105, 200, 7, PROTO_FEEDBACK_SNAPSHOT, &first), 1);
    assert_int_equal(first, 100 + SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS);
    /* After the interval, a subscription is answered at once again. */
    assert_true(sc_announcer_subscribed(announcer, 7, 300 * MS, &out));
    sc_announcer_destroy(&announcer);
}

static void test_final_message_is_the_last(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    sc_announcement_t out;
    assert_true(sc_announcer_final(announcer, 0, "shutdown", 10 * MS, &out));
    assert_true(out.final);
    assert_int_equal(out.type, PROTO_FEEDBACK_HEARTBEAT);
    assert_string_equal(out.reason, "shutdown");
    assert_false(sc_announcer_final(announcer, 0, "shutdown", 11 * MS, &out));
    assert_false(sc_announcer_transition(announcer, PROTO_LEVEL_HARD,
                                         PROTO_LEVEL_OK, 90, 12 * MS, &out));
    assert_false(sc_announcer_subscribed(announcer, 0, 13 * MS, &out));
    assert_int_equal(sc_announcer_deadline(announcer), SC_ENGINE_NEVER);
    assert_false(sc_announcer_due(announcer, 90, 5000 * MS, &out));
    sc_announcer_destroy(&announcer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_every_interval_within_jitter),
        cmocka_unit_test(test_transition_at_once_with_reason),
        cmocka_unit_test(test_early_heartbeat_when_the_hint_moved),
        cmocka_unit_test(
            test_snapshot_per_subscription_at_most_one_per_interval),
        cmocka_unit_test(test_final_message_is_the_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
