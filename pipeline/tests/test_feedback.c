/* Unit tests of pl_feedback: the subscriber's state machine, driven with
 * decoded events and encoded messages on a virtual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pl_feedback.h"

#define MS (CMN_NS_PER_MS)
#define SEC (CMN_NS_PER_SEC)
#define TTL_MS 1000

typedef struct {
    cmn_clock_t *clock;
    pl_feedback_t *feedback;
    pl_policy_t *policy;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->clock = cmn_clock_new_virtual(SEC, INT64_C(1700000000) * SEC);
    pl_feedback_config_t config = {.stale_level = MDBP_LEVEL_SOFT,
                                   .forget_ns = 60 * SEC};
    f->feedback = pl_feedback_new(f->clock, &config);
    pl_policy_config_t policy = {.enabled = true,
                                 .kind = PL_POLICY_STEP,
                                 .scale_ok = 1.0,
                                 .scale_soft = 0.5,
                                 .scale_hard = 0.0};
    f->policy = pl_policy_new(&policy);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    pl_feedback_destroy(&f->feedback);
    assert_null(f->feedback);
    pl_policy_destroy(&f->policy);
    cmn_clock_destroy(&f->clock);
    free(f);
    return 0;
}

static mdbp_feedback_t s_event(const char *id, uint64_t epoch, uint64_t seq,
                                mdbp_level_t level)
{
    mdbp_feedback_t event;
    memset(&event, 0, sizeof event);
    event.type = MDBP_FEEDBACK_HEARTBEAT;
    snprintf(event.coordinator_id, sizeof event.coordinator_id, "%s", id);
    event.epoch = epoch;
    event.seq = seq;
    event.ts_ns = INT64_C(1700000000) * SEC;
    event.level = level;
    event.prev_level = level;
    event.capacity = 1000;
    event.queue_size = level == MDBP_LEVEL_OK ? 10 : 900;
    event.low_wm = 500;
    event.high_wm = 800;
    event.utilization = (double)event.queue_size / (double)event.capacity;
    event.scale_hint = level == MDBP_LEVEL_OK ? 1.0 : 0.2;
    event.ttl_ms = TTL_MS;
    return event;
}

static pl_feedback_result_t s_apply(fixture_t *f, const char *id,
                                    uint64_t epoch, uint64_t seq,
                                    mdbp_level_t level)
{
    mdbp_feedback_t event = s_event(id, epoch, seq, level);
    return pl_feedback_handle_event(f->feedback, &event);
}

static pl_feedback_summary_t s_summary(fixture_t *f)
{
    pl_feedback_summary_t summary;
    pl_feedback_tick(f->feedback);
    pl_feedback_summarize(f->feedback, f->policy, &summary);
    return summary;
}

static void test_in_order_events_apply(void **state)
{
    fixture_t *f = *state;
    pl_feedback_summary_t summary = s_summary(f);
    assert_int_equal(summary.known, 0);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
    assert_true(summary.scale == 1.0);

    assert_int_equal(s_apply(f, "c1", 7, 1, MDBP_LEVEL_OK),
                     PL_FEEDBACK_APPLIED);
    assert_int_equal(s_apply(f, "c1", 7, 2, MDBP_LEVEL_SOFT),
                     PL_FEEDBACK_APPLIED);
    summary = s_summary(f);
    assert_int_equal(summary.known, 1);
    assert_int_equal(summary.level, MDBP_LEVEL_SOFT);
    assert_true(summary.scale == 0.5);
    const pl_coordinator_view_t *view = pl_feedback_find(f->feedback, "c1");
    assert_non_null(view);
    assert_int_equal(view->queue_size, 900);
    assert_int_equal(view->seq, 2);
    const pl_feedback_counters_t *counters = pl_feedback_counters(f->feedback);
    assert_int_equal(counters->applied, 2);
    assert_int_equal(counters->by_level[MDBP_LEVEL_OK], 1);
    assert_int_equal(counters->by_level[MDBP_LEVEL_SOFT], 1);
    assert_int_equal(counters->gaps, 0);
}

static void test_seq_gap_is_counted(void **state)
{
    fixture_t *f = *state;
    s_apply(f, "c1", 7, 1, MDBP_LEVEL_OK);
    s_apply(f, "c1", 7, 2, MDBP_LEVEL_OK);
    /* 3 and 4 were lost: one gap of two messages; the newest state wins. */
    assert_int_equal(s_apply(f, "c1", 7, 5, MDBP_LEVEL_HARD),
                     PL_FEEDBACK_APPLIED);
    const pl_feedback_counters_t *counters = pl_feedback_counters(f->feedback);
    assert_int_equal(counters->gaps, 1);
    assert_int_equal(counters->missed, 2);
    assert_int_equal(pl_feedback_find(f->feedback, "c1")->gaps, 1);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_HARD);
    /* An old or repeated message is ignored, not a gap. */
    assert_int_equal(s_apply(f, "c1", 7, 4, MDBP_LEVEL_OK), PL_FEEDBACK_OLD);
    assert_int_equal(s_apply(f, "c1", 7, 5, MDBP_LEVEL_OK), PL_FEEDBACK_OLD);
    assert_int_equal(counters->old, 2);
    assert_int_equal(counters->gaps, 1);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_HARD);
    /* A snapshot re-synchronises without a gap. */
    mdbp_feedback_t snapshot = s_event("c1", 7, 9, MDBP_LEVEL_OK);
    snapshot.type = MDBP_FEEDBACK_SNAPSHOT;
    assert_int_equal(pl_feedback_handle_event(f->feedback, &snapshot),
                     PL_FEEDBACK_APPLIED);
    assert_int_equal(counters->gaps, 1);
    assert_int_equal(counters->by_type[MDBP_FEEDBACK_SNAPSHOT], 1);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_OK);
}

static void test_epoch_change_is_a_restart(void **state)
{
    fixture_t *f = *state;
    for (uint64_t seq = 1; seq <= 50; seq++)
        s_apply(f, "c1", 7, seq, MDBP_LEVEL_SOFT);
    /* Restarted: a new epoch whose seq starts again at 1. */
    assert_int_equal(s_apply(f, "c1", 8, 1, MDBP_LEVEL_OK),
                     PL_FEEDBACK_APPLIED);
    assert_int_equal(s_apply(f, "c1", 8, 2, MDBP_LEVEL_OK),
                     PL_FEEDBACK_APPLIED);
    const pl_feedback_counters_t *counters = pl_feedback_counters(f->feedback);
    assert_int_equal(counters->restarts, 1);
    assert_int_equal(counters->gaps, 0);
    assert_int_equal(counters->old, 0);
    const pl_coordinator_view_t *view = pl_feedback_find(f->feedback, "c1");
    assert_int_equal(view->epoch, 8);
    assert_int_equal(view->seq, 2);
    assert_int_equal(view->restarts, 1);
    assert_int_equal(pl_feedback_count(f->feedback), 1);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_OK);
}

static void test_stale_after_ttl_is_fail_safe(void **state)
{
    fixture_t *f = *state;
    s_apply(f, "c1", 7, 1, MDBP_LEVEL_OK);
    cmn_clock_advance(f->clock, TTL_MS * MS);
    pl_feedback_summary_t summary = s_summary(f);
    assert_int_equal(summary.stale, 0);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
    /* One nanosecond past the ttl: stale, the fail-safe level applies. */
    cmn_clock_advance(f->clock, 1);
    assert_int_equal(pl_feedback_tick(f->feedback), 1);
    summary = s_summary(f);
    assert_int_equal(summary.stale, 1);
    assert_int_equal(summary.level, MDBP_LEVEL_SOFT);
    assert_true(summary.scale == 0.5);
    assert_true(pl_feedback_find(f->feedback, "c1")->stale);
    /* Heard again: fresh. */
    s_apply(f, "c1", 7, 2, MDBP_LEVEL_OK);
    summary = s_summary(f);
    assert_int_equal(summary.stale, 0);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
    /* A coordinator silent at HARD counts as exactly the fail-safe level
     * (SOFT): a dead coordinator must not pause the producer until it is
     * forgotten. */
    s_apply(f, "c1", 7, 3, MDBP_LEVEL_HARD);
    summary = s_summary(f);
    assert_int_equal(summary.level, MDBP_LEVEL_HARD);
    assert_true(summary.scale == 0.0);
    cmn_clock_advance(f->clock, 2 * TTL_MS * MS);
    summary = s_summary(f);
    assert_int_equal(summary.stale, 1);
    assert_int_equal(summary.level, MDBP_LEVEL_SOFT);
    assert_true(summary.scale == 0.5);
    assert_int_equal(pl_feedback_find(f->feedback, "c1")->level,
                     MDBP_LEVEL_HARD);
    assert_int_equal(pl_feedback_find(f->feedback, "c1")->effective,
                     MDBP_LEVEL_SOFT);
    /* Gone for longer than forget_ns: forgotten, nothing known. */
    cmn_clock_advance(f->clock, 60 * SEC);
    summary = s_summary(f);
    assert_int_equal(summary.known, 0);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
    assert_int_equal(pl_feedback_counters(f->feedback)->forgotten, 1);
}

/* MDP_FB_STALE_LEVEL is the level of a stale coordinator whatever it said
 * last: hard makes a silent OK coordinator pause us, ok ignores silence. */
static void test_stale_level_is_configurable(void **state)
{
    fixture_t *f = *state;
    static const mdbp_level_t levels[] = {MDBP_LEVEL_OK, MDBP_LEVEL_HARD};
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        pl_feedback_config_t config = {.stale_level = levels[k],
                                       .forget_ns = 60 * SEC};
        pl_feedback_t *feedback = pl_feedback_new(f->clock, &config);
        mdbp_feedback_t event = s_event("c1", 7, 1, MDBP_LEVEL_SOFT);
        assert_int_equal(pl_feedback_handle_event(feedback, &event),
                         PL_FEEDBACK_APPLIED);
        cmn_clock_advance(f->clock, 2 * TTL_MS * MS);
        pl_feedback_tick(feedback);
        pl_feedback_summary_t summary;
        pl_feedback_summarize(feedback, f->policy, &summary);
        assert_int_equal(summary.stale, 1);
        assert_int_equal(summary.level, levels[k]);
        assert_true(summary.scale ==
                    pl_policy_step_scale(f->policy, levels[k]));
        pl_feedback_destroy(&feedback);
    }
}

/* Several coordinators: the pipeline sends where the credit is, so a
 * provider slows down only as far as the freest coordinator says, and
 * pauses only when all are HARD (issue 11). */
static void test_two_coordinators_the_freest_wins(void **state)
{
    fixture_t *f = *state;
    s_apply(f, "c1", 1, 1, MDBP_LEVEL_OK);
    s_apply(f, "c2", 1, 1, MDBP_LEVEL_SOFT);
    pl_feedback_summary_t summary = s_summary(f);
    assert_int_equal(summary.known, 2);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
    assert_true(summary.scale == 1.0);
    s_apply(f, "c1", 1, 2, MDBP_LEVEL_HARD);
    summary = s_summary(f);
    assert_int_equal(summary.level, MDBP_LEVEL_SOFT);
    assert_true(summary.scale == 0.5);
    s_apply(f, "c2", 1, 2, MDBP_LEVEL_HARD);
    summary = s_summary(f);
    assert_int_equal(summary.level, MDBP_LEVEL_HARD); /* all full */
    assert_true(summary.scale == 0.0);
    s_apply(f, "c1", 1, 3, MDBP_LEVEL_SOFT);
    s_apply(f, "c2", 1, 3, MDBP_LEVEL_SOFT);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_SOFT);
    /* The order of the views is the order first heard. */
    assert_string_equal(pl_feedback_coordinator(f->feedback, 0)->id, "c1");
    assert_string_equal(pl_feedback_coordinator(f->feedback, 1)->id, "c2");

    /* Proportional: the largest hint wins (both soft: 0.2). */
    pl_policy_config_t config = {.enabled = true,
                                 .kind = PL_POLICY_PROPORTIONAL,
                                 .scale_ok = 1.0,
                                 .scale_soft = 0.5,
                                 .scale_hard = 0.0};
    pl_policy_t *proportional = pl_policy_new(&config);
    pl_feedback_summary_t proportional_summary;
    pl_feedback_summarize(f->feedback, proportional, &proportional_summary);
    assert_true(proportional_summary.scale == 0.2);
    pl_policy_destroy(&proportional);
}

/* Encodes an event as the two frames of a message. */
typedef struct {
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    mdbp_buffer_t body;
    const void *frames[2];
    size_t sizes[2];
} message_t;

static void s_message(message_t *message, const mdbp_feedback_t *event)
{
    int length = mdbp_feedback_topic(event->coordinator_id, message->topic,
                                      sizeof message->topic);
    assert_true(length > 0);
    mdbp_buffer_init(&message->body);
    assert_int_equal(mdbp_feedback_encode(event, &message->body), 0);
    message->frames[0] = message->topic;
    message->sizes[0] = (size_t)length;
    message->frames[1] = message->body.data;
    message->sizes[1] = message->body.size;
}

static void test_messages_decode_and_bad_ones_are_counted(void **state)
{
    fixture_t *f = *state;
    const pl_feedback_counters_t *counters = pl_feedback_counters(f->feedback);
    message_t message;
    mdbp_feedback_t event = s_event("coord-a", 3, 1, MDBP_LEVEL_SOFT);
    s_message(&message, &event);
    mdbp_feedback_t decoded;
    assert_int_equal(pl_feedback_handle_message(f->feedback, message.frames,
                                                message.sizes, 2, &decoded),
                     PL_FEEDBACK_APPLIED);
    assert_string_equal(decoded.coordinator_id, "coord-a");
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_SOFT);

    /* One frame, three frames. */
    assert_int_equal(pl_feedback_handle_message(f->feedback, message.frames,
                                                message.sizes, 1, NULL),
                     PL_FEEDBACK_MALFORMED);
    const void *three[3] = {message.topic, message.body.data, "x"};
    size_t three_sizes[3] = {message.sizes[0], message.sizes[1], 1};
    assert_int_equal(
        pl_feedback_handle_message(f->feedback, three, three_sizes, 3, NULL),
        PL_FEEDBACK_MALFORMED);
    /* A topic that is not the id's. */
    const void *wrong[2] = {"mds.fb/other/", message.body.data};
    size_t wrong_sizes[2] = {strlen("mds.fb/other/"), message.sizes[1]};
    assert_int_equal(
        pl_feedback_handle_message(f->feedback, wrong, wrong_sizes, 2, NULL),
        PL_FEEDBACK_MALFORMED);
    /* Every truncation of the body. */
    for (size_t size = 0; size < message.sizes[1]; size++) {
        size_t sizes[2] = {message.sizes[0], size};
        assert_int_equal(pl_feedback_handle_message(f->feedback, message.frames,
                                                    sizes, 2, NULL),
                         PL_FEEDBACK_MALFORMED);
    }
    assert_int_equal(counters->malformed, 3 + message.sizes[1]);
    /* Random bytes never crash and are never applied. */
    srand(42);
    uint8_t noise[256];
    for (int round = 0; round < 2000; round++) {
        size_t size = (size_t)rand() % sizeof noise;
        for (size_t k = 0; k < size; k++)
            noise[k] = (uint8_t)rand();
        if (size > 0 && round % 2 == 0)
            noise[0] = 0x8f; /* a map header, to get further in */
        const void *frames[2] = {message.topic, noise};
        size_t sizes[2] = {message.sizes[0], size};
        pl_feedback_result_t result =
            pl_feedback_handle_message(f->feedback, frames, sizes, 2, NULL);
        assert_true(result == PL_FEEDBACK_MALFORMED ||
                    result == PL_FEEDBACK_VERSION);
    }
    assert_int_equal(counters->applied, 1);

    /* Another protocol version: counted apart. The encoder writes v as a
     * positive fixint right after the fixstr "v". */
    uint8_t *body = (uint8_t *)message.body.data;
    const uint8_t pattern[3] = {0xa1, 'v', 0x01};
    uint8_t *found = NULL;
    for (size_t k = 0; k + 3 <= message.body.size && !found; k++)
        if (memcmp(body + k, pattern, 3) == 0)
            found = body + k;
    assert_non_null(found);
    found[2] = 0x02;
    uint64_t version_before = counters->version;
    assert_int_equal(pl_feedback_handle_message(f->feedback, message.frames,
                                                message.sizes, 2, NULL),
                     PL_FEEDBACK_VERSION);
    assert_int_equal(counters->version, version_before + 1);
    assert_int_equal(counters->applied, 1);
    mdbp_buffer_release(&message.body);
}

static void test_table_full_is_counted(void **state)
{
    fixture_t *f = *state;
    char id[MDBP_ID_MAX + 1];
    for (int k = 0; k < PL_FEEDBACK_COORDINATORS_MAX; k++) {
        snprintf(id, sizeof id, "c%d", k);
        assert_int_equal(s_apply(f, id, 1, 1, MDBP_LEVEL_OK),
                         PL_FEEDBACK_APPLIED);
    }
    assert_int_equal(s_apply(f, "one-too-many", 1, 1, MDBP_LEVEL_HARD),
                     PL_FEEDBACK_TABLE_FULL);
    assert_int_equal(pl_feedback_counters(f->feedback)->table_full, 1);
    assert_int_equal(s_summary(f).level, MDBP_LEVEL_OK);
}

/* The producer hears only changes: a repeated level is no new decision. */
static void test_decide_reports_changes_only(void **state)
{
    fixture_t *f = *state;
    pl_feedback_decision_t decision;
    assert_false(pl_feedback_decide(f->feedback, f->policy, 5, &decision));
    assert_int_equal(decision.level, MDBP_LEVEL_OK);
    s_apply(f, "c1", 7, 1, MDBP_LEVEL_SOFT);
    assert_true(pl_feedback_decide(f->feedback, f->policy, 42, &decision));
    assert_int_equal(decision.level, MDBP_LEVEL_SOFT);
    assert_true(decision.scale == 0.5);
    assert_int_equal(decision.event_ts_ns, 42);
    s_apply(f, "c1", 7, 2, MDBP_LEVEL_SOFT);
    assert_false(pl_feedback_decide(f->feedback, f->policy, 43, &decision));
    s_apply(f, "c1", 7, 3, MDBP_LEVEL_OK);
    assert_true(pl_feedback_decide(f->feedback, f->policy, 44, &decision));
    assert_true(decision.scale == 1.0);
}

/* The subscriber's timer is armed from the engine: the next staleness,
 * then the next forgetting. */
static void test_deadline_is_the_next_stale_then_forget(void **state)
{
    fixture_t *f = *state;
    assert_true(pl_feedback_deadline(f->feedback) == INT64_MAX);
    int64_t heard = cmn_clock_mono_ns(f->clock);
    s_apply(f, "c1", 7, 1, MDBP_LEVEL_OK);
    assert_true(pl_feedback_deadline(f->feedback) == heard + TTL_MS * MS + 1);
    cmn_clock_advance(f->clock, TTL_MS * MS + 1);
    assert_int_equal(pl_feedback_tick(f->feedback), 1); /* stale now */
    assert_true(pl_feedback_deadline(f->feedback) == heard + 60 * SEC + 1);
    cmn_clock_advance(f->clock,
                      heard + 60 * SEC + 1 - cmn_clock_mono_ns(f->clock));
    assert_int_equal(pl_feedback_tick(f->feedback), 1); /* forgotten */
    assert_true(pl_feedback_deadline(f->feedback) == INT64_MAX);
}

/* going_away (v1.1): the coordinator's last message forgets it at once:
 * no stale fail-safe for a coordinator that said it is leaving. */
static void test_going_away_forgets_at_once(void **state)
{
    fixture_t *f = *state;
    s_apply(f, "c1", 7, 1, MDBP_LEVEL_HARD);
    s_apply(f, "c2", 3, 1, MDBP_LEVEL_OK);
    mdbp_feedback_t last = s_event("c1", 7, 2, MDBP_LEVEL_OK);
    last.has_going_away = true;
    last.going_away = true;
    last.ttl_ms = 0;
    assert_int_equal(pl_feedback_handle_event(f->feedback, &last),
                     PL_FEEDBACK_APPLIED);
    assert_null(pl_feedback_find(f->feedback, "c1"));
    assert_non_null(pl_feedback_find(f->feedback, "c2"));
    assert_int_equal(pl_feedback_counters(f->feedback)->going_away, 1);
    pl_feedback_summary_t summary = s_summary(f);
    assert_int_equal(summary.known, 1);
    assert_int_equal(summary.level, MDBP_LEVEL_OK);
}

/* The sender's limits: the smallest capacity and credit_initial of the
 * fresh coordinators, alive while every known one is fresh. */
static void test_limits_for_the_sender(void **state)
{
    fixture_t *f = *state;
    pl_feedback_limits_t limits;
    assert_false(pl_feedback_limits(f->feedback, &limits));
    assert_false(limits.alive);
    mdbp_feedback_t a = s_event("c1", 7, 1, MDBP_LEVEL_OK);
    a.capacity = 5000;
    a.has_credit_initial = true;
    a.credit_initial = 400;
    a.has_credit_initial_critical = true;
    a.credit_initial_critical = 900;
    pl_feedback_handle_event(f->feedback, &a);
    mdbp_feedback_t b = s_event("c2", 3, 1, MDBP_LEVEL_OK);
    b.capacity = 300;
    b.has_credit_initial = true; /* no critical credit: its own for both */
    b.credit_initial = 700;
    pl_feedback_handle_event(f->feedback, &b);
    assert_true(pl_feedback_limits(f->feedback, &limits));
    assert_int_equal(limits.capacity, 300);
    assert_true(limits.has_credit_initial);
    assert_int_equal(limits.credit_initial, 400);
    assert_true(limits.has_credit_initial_critical);
    assert_int_equal(limits.credit_initial_critical, 700);
    assert_true(limits.alive);
    assert_false(pl_feedback_limits(f->feedback, &limits)); /* unchanged */
    /* One goes silent: not alive any more (its batches may be lost). */
    cmn_clock_advance(f->clock, TTL_MS * MS + 1);
    s_apply(f, "c1", 7, 2, MDBP_LEVEL_OK);
    pl_feedback_tick(f->feedback);
    assert_true(pl_feedback_limits(f->feedback, &limits));
    assert_false(limits.alive);
    assert_int_equal(limits.capacity, 1000); /* s_event's, c1 only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order_events_apply, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_gap_is_counted, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_epoch_change_is_a_restart, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_after_ttl_is_fail_safe,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_stale_level_is_configurable,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_coordinators_the_freest_wins,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_messages_decode_and_bad_ones_are_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_table_full_is_counted, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_decide_reports_changes_only,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_deadline_is_the_next_stale_then_forget, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_going_away_forgets_at_once,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_limits_for_the_sender, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
