/* Unit tests for sc_announcer: what the publisher sends and when. The
 * random source is a fixed value, so the jitter's extremes are exact; the
 * core's snapshots are made up by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "sc_announcer.h"

#define MS CMN_NS_PER_MS
#define HEARTBEAT_MS 1000
#define SPREAD_MS (HEARTBEAT_MS * SC_ANNOUNCER_JITTER_PERCENT / 100)

/* Capacity 100: L = 50, H = 80, so a hint step of 0.05 is 1.5 records. */
static const sc_watermark_config_t s_watermark = {
    .capacity = 100, .low = 50, .high = 80, .dead_band = 10, .dwell_ns = 0};

static uint64_t s_fixed(void *arg)
{
    return *(uint64_t *)arg;
}

static sc_announcer_t *s_new(uint64_t *random)
{
    sc_announcer_config_t config = {
        .heartbeat_ns = HEARTBEAT_MS * MS,
        .random = s_fixed,
        .random_arg = random,
    };
    return sc_announcer_new(&config, 0);
}

/* The core's snapshot at queue `depth` (scale_hint from the depth alone),
 * optionally a level change. */
static sc_snapshot_t s_snapshot(uint64_t depth, mdbp_level_t level,
                                mdbp_level_t previous, bool changed)
{
    double hint = sc_watermark_scale_hint(&s_watermark, depth);
    sc_snapshot_t snapshot = {.level = level,
                              .previous = previous,
                              .changed = changed,
                              .depth = depth,
                              .scale_hint = hint,
                              .pressure = 1.0 - hint,
                              .sink_state = MDBP_SINK_STATE_UP};
    if (changed)
        snprintf(snapshot.reason, sizeof snapshot.reason, "%s",
                 "depth queue above low watermark");
    return snapshot;
}

/* Runs the announcer from `from` to `to` (ms, inclusive) with the core at
 * queue `depth` the way the shell does (at each deadline); returns how many
 * messages of `type` it sent and the time of the first one in `*first_ms`. */
static int s_run(sc_announcer_t *announcer, int64_t from, int64_t to,
                 uint64_t depth, mdbp_feedback_type_t type, int64_t *first_ms)
{
    sc_snapshot_t snapshot =
        s_snapshot(depth, MDBP_LEVEL_OK, MDBP_LEVEL_OK, false);
    sc_announcement_t out;
    assert_false(sc_announcer_state(announcer, &snapshot, from * MS, &out));
    int sent = 0;
    for (int64_t ms = from; ms <= to; ms++) {
        if (sc_announcer_deadline(announcer) > ms * MS)
            continue;
        while (sc_announcer_due(announcer, ms * MS, &out))
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
                           MDBP_FEEDBACK_HEARTBEAT, &first),
                     0);
    assert_int_equal(s_run(announcer, HEARTBEAT_MS - SPREAD_MS,
                           HEARTBEAT_MS - SPREAD_MS, 0,
                           MDBP_FEEDBACK_HEARTBEAT, &first),
                     1);
    assert_int_equal(first, HEARTBEAT_MS - SPREAD_MS);
    sc_announcer_destroy(&announcer);
    assert_null(announcer);

    /* The longest draw: interval + 10 %; then every 1100 ms. */
    random = 2 * SPREAD_MS * MS;
    announcer = s_new(&random);
    assert_int_equal(s_run(announcer, 0, HEARTBEAT_MS + SPREAD_MS - 1, 0,
                           MDBP_FEEDBACK_HEARTBEAT, NULL),
                     0);
    assert_int_equal(s_run(announcer, HEARTBEAT_MS + SPREAD_MS,
                           3 * (HEARTBEAT_MS + SPREAD_MS), 0,
                           MDBP_FEEDBACK_HEARTBEAT, &first),
                     3);
    assert_int_equal(first, HEARTBEAT_MS + SPREAD_MS);
    sc_announcer_destroy(&announcer);
}

static void
test_transition_at_once_then_heartbeats_carry_the_snapshot(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    sc_announcement_t out;
    sc_snapshot_t snapshot =
        s_snapshot(65, MDBP_LEVEL_SOFT, MDBP_LEVEL_OK, true);
    assert_true(sc_announcer_state(announcer, &snapshot, 5 * MS, &out));
    assert_int_equal(out.type, MDBP_FEEDBACK_TRANSITION);
    assert_int_equal(out.state.level, MDBP_LEVEL_SOFT);
    assert_int_equal(out.state.previous, MDBP_LEVEL_OK);
    assert_int_equal(out.state.depth, 65);
    assert_true(out.state.scale_hint > 0.499 && out.state.scale_hint < 0.501);
    assert_string_equal(out.state.reason, "depth queue above low watermark");
    assert_false(out.going_away);
    /* A snapshot without a change is no message by itself. */
    snapshot.changed = false;
    snapshot.depth = 66;
    assert_false(sc_announcer_state(announcer, &snapshot, 6 * MS, &out));
    /* The next heartbeat carries the latest snapshot whole: level and
     * depth (and the reason of the change) read together. */
    int sent = 0;
    for (int64_t ms = 6; ms <= HEARTBEAT_MS; ms++)
        while (sc_announcer_due(announcer, ms * MS, &out)) {
            assert_int_equal(out.type, MDBP_FEEDBACK_HEARTBEAT);
            assert_int_equal(out.state.level, MDBP_LEVEL_SOFT);
            assert_int_equal(out.state.depth, 66);
            assert_false(out.state.changed);
            assert_string_equal(out.state.reason,
                                "depth queue above low watermark");
            sent++;
        }
    assert_int_equal(sent, 1);
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
        s_run(announcer, 0, 200, 51, MDBP_FEEDBACK_HEARTBEAT, &first), 0);
    /* Depth 53: hint 0.9, moved by 0.1: sent at the next check (50 ms
     * period), long before the regular heartbeat at 900 ms. */
    assert_int_equal(
        s_run(announcer, 201, 260, 53, MDBP_FEEDBACK_HEARTBEAT, &first), 1);
    assert_int_equal(first, 250);
    /* The published hint is now 0.9: the same depth sends nothing more. */
    assert_int_equal(
        s_run(announcer, 261, 600, 53, MDBP_FEEDBACK_HEARTBEAT, NULL), 0);
    /* Onto 0 (HARD's pause) from elsewhere is always worth a message. */
    assert_int_equal(
        s_run(announcer, 601, 660, 80, MDBP_FEEDBACK_HEARTBEAT, &first), 1);
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
    sc_snapshot_t snapshot =
        s_snapshot(7, MDBP_LEVEL_OK, MDBP_LEVEL_OK, false);
    sc_announcer_state(announcer, &snapshot, 99 * MS, &out);
    assert_true(sc_announcer_subscribed(announcer, 100 * MS, &out));
    assert_int_equal(out.type, MDBP_FEEDBACK_SNAPSHOT);
    assert_int_equal(out.state.depth, 7);
    /* A flood within the interval: one deferred snapshot for them all. */
    assert_false(sc_announcer_subscribed(announcer, 103 * MS, &out));
    assert_false(sc_announcer_subscribed(announcer, 104 * MS, &out));
    assert_true(sc_announcer_deadline(announcer) <=
                (100 + SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS) * MS);
    int64_t first = -1;
    assert_int_equal(
        s_run(announcer, 105, 200, 7, MDBP_FEEDBACK_SNAPSHOT, &first), 1);
    assert_int_equal(first, 100 + SC_ANNOUNCER_SNAPSHOT_INTERVAL_MS);
    /* After the interval, a subscription is answered at once again. */
    assert_true(sc_announcer_subscribed(announcer, 300 * MS, &out));
    sc_announcer_destroy(&announcer);
}

static void test_final_message_goes_away_and_is_the_last(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_announcer_t *announcer = s_new(&random);
    sc_announcement_t out;
    assert_true(sc_announcer_final(announcer, 10 * MS, &out));
    assert_true(out.going_away);
    assert_int_equal(out.type, MDBP_FEEDBACK_HEARTBEAT);
    assert_string_equal(out.state.reason, "shutdown");
    assert_false(sc_announcer_final(announcer, 11 * MS, &out));
    sc_snapshot_t snapshot =
        s_snapshot(90, MDBP_LEVEL_HARD, MDBP_LEVEL_OK, true);
    assert_false(sc_announcer_state(announcer, &snapshot, 12 * MS, &out));
    assert_false(sc_announcer_subscribed(announcer, 13 * MS, &out));
    assert_int_equal(sc_announcer_deadline(announcer), SC_ENGINE_NEVER);
    assert_false(sc_announcer_due(announcer, 5000 * MS, &out));
    sc_announcer_destroy(&announcer);
}

static void test_message_carries_the_snapshot_and_the_identity(void **state)
{
    (void)state;
    sc_announcer_identity_t identity = {.coordinator_id = "c1",
                                        .epoch = 7,
                                        .capacity = 100,
                                        .low_wm = 50,
                                        .high_wm = 80,
                                        .heartbeat_ms = 1000};
    sc_announcement_t announcement = {
        .type = MDBP_FEEDBACK_HEARTBEAT,
        .state = {.level = MDBP_LEVEL_HARD,
                  .previous = MDBP_LEVEL_OK,
                  .depth = 120, /* past the capacity while a chunk lands */
                  .scale_hint = 0.0,
                  .pressure = 1.0,
                  .sink_state = MDBP_SINK_STATE_DOWN,
                  .reason = "sink_down"},
    };
    mdbp_feedback_t event;
    sc_announcement_message(&announcement, &identity, 42, 1000, &event);
    assert_string_equal(event.coordinator_id, "c1");
    assert_int_equal(event.seq, 42);
    assert_int_equal(event.epoch, 7);
    assert_int_equal(event.level, MDBP_LEVEL_HARD);
    assert_true(event.utilization == 1.0); /* clamped to 0..1 */
    assert_int_equal(event.ttl_ms, 3000);  /* 3 heartbeats */
    assert_true(event.has_reason);
    assert_string_equal(event.reason, "sink_down");
    assert_int_equal(event.sink_state, MDBP_SINK_STATE_DOWN);
    /* The last message: trusted for no time at all. */
    announcement.going_away = true;
    sc_announcement_message(&announcement, &identity, 43, 2000, &event);
    assert_int_equal(event.ttl_ms, 0);
    assert_true(event.has_going_away && event.going_away);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_every_interval_within_jitter),
        cmocka_unit_test(
            test_transition_at_once_then_heartbeats_carry_the_snapshot),
        cmocka_unit_test(test_early_heartbeat_when_the_hint_moved),
        cmocka_unit_test(
            test_snapshot_per_subscription_at_most_one_per_interval),
        cmocka_unit_test(test_final_message_goes_away_and_is_the_last),
        cmocka_unit_test(test_message_carries_the_snapshot_and_the_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
