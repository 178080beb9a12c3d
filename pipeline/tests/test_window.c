/* Unit tests of pl_window, the send window: examples of each rule, driven
 * with a virtual time (plain numbers) and no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "pl_window.h"

#define MS CMN_NS_PER_MS
#define T0 (1000 * MS) /* any start time */

static pl_window_config_t s_config(void)
{
    return (pl_window_config_t){.slots = 2,
                                .batch_records = 10,
                                .batch_ns = 20 * MS,
                                .ack_timeout_ns = 100 * MS,
                                .retry_ns = 5 * MS,
                                .nack_retry_ns = 50 * MS};
}

/* A window with one coordinator (id 0), connected at T0. */
static pl_window_t *s_window(const pl_window_config_t *config)
{
    pl_window_t *window = pl_window_new(config);
    assert_non_null(window);
    assert_int_equal(pl_window_coordinator_add(window), 0);
    pl_window_connected(window, 0, T0);
    return window;
}

/* The next action at `now`; fails when there is none. */
static pl_window_action_t s_next(pl_window_t *window, int64_t now)
{
    pl_window_action_t action;
    assert_true(pl_window_next(window, now, false, &action));
    return action;
}

static void s_nothing(pl_window_t *window, int64_t now)
{
    pl_window_action_t action;
    assert_false(pl_window_next(window, now, false, &action));
}

/* The next action is a SEND; it leaves at `now`. */
static pl_window_action_t s_send_next(pl_window_t *window, int64_t now)
{
    pl_window_action_t send = s_next(window, now);
    assert_int_equal(send.kind, PL_WINDOW_SEND);
    pl_window_sent(window, &send, true, now);
    return send;
}

/* Fills `records`, seals and sends one batch at `now`; returns its slot. */
static pl_window_action_t s_send_batch(pl_window_t *window, size_t records,
                                       int64_t now)
{
    pl_window_fill(window, records, now);
    pl_window_action_t seal = s_next(window, now + 20 * MS);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    pl_window_action_t send = s_next(window, now + 20 * MS);
    assert_int_equal(send.kind, PL_WINDOW_SEND);
    assert_int_equal(send.slot, seal.slot);
    pl_window_sent(window, &send, true, now + 20 * MS);
    return send;
}

static void test_a_full_batch_closes_at_once(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    assert_int_equal(pl_window_room(window), 10);
    pl_window_fill(window, 10, T0);
    assert_int_equal(pl_window_room(window), 0);
    assert_int_equal(pl_window_deadline(window, T0), T0);
    pl_window_action_t seal = s_next(window, T0);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    assert_int_equal(seal.batch_seq, 1);
    assert_int_equal(seal.records, 10);
    assert_int_equal(pl_window_room(window), 10);
    pl_window_action_t send = s_next(window, T0);
    assert_int_equal(send.kind, PL_WINDOW_SEND);
    assert_int_equal(send.cause, PL_WINDOW_CAUSE_NONE);
    pl_window_sent(window, &send, true, T0);
    s_nothing(window, T0);
    assert_int_equal(pl_window_unacked_records(window), 10);
    assert_int_equal(pl_window_counters(window)->records_sent, 10);
    pl_window_destroy(&window);
    assert_null(window);
}

static void test_a_partial_batch_closes_after_batch_ns(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_fill(window, 3, T0);
    pl_window_fill(window, 2, T0 + 5 * MS); /* the age counts from the first */
    assert_int_equal(pl_window_deadline(window, T0), T0 + 20 * MS);
    s_nothing(window, T0 + 19 * MS);
    pl_window_action_t seal = s_next(window, T0 + 20 * MS);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    assert_int_equal(seal.records, 5);
    pl_window_destroy(&window);
}

static void test_the_window_bounds_batches_in_flight(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    s_send_batch(window, 10, T0);
    s_send_batch(window, 10, T0);
    /* Both slots used: the third batch fills, then waits for a slot. */
    pl_window_fill(window, 10, T0 + 30 * MS);
    assert_int_equal(pl_window_room(window), 0);
    s_nothing(window, T0 + 30 * MS);
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_ack(window, 1, T0 + 40 * MS, &outcome),
                     PL_WINDOW_ACKED);
    assert_int_equal(outcome.records, 10);
    assert_int_equal(outcome.latency_ns, 20 * MS);
    pl_window_action_t seal = s_next(window, T0 + 40 * MS);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    assert_int_equal(seal.batch_seq, 3);
    assert_int_equal(seal.slot, outcome.slot);
    pl_window_destroy(&window);
}

static void
test_an_unacked_batch_is_resent_after_its_timeout_doubling(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    int64_t sent = T0 + 20 * MS;
    pl_window_action_t first = s_send_batch(window, 10, T0);
    assert_int_equal(pl_window_deadline(window, sent), sent + 100 * MS);
    s_nothing(window, sent + 99 * MS);
    /* 100 ms, then 200, 400, 800 and 800 again (at most 8x). */
    int64_t waits[] = {100, 200, 400, 800, 800};
    for (size_t k = 0; k < sizeof waits / sizeof waits[0]; k++) {
        int64_t due = sent + waits[k] * MS;
        s_nothing(window, due - 1);
        pl_window_action_t timeout = s_next(window, due);
        assert_int_equal(timeout.kind, PL_WINDOW_TIMED_OUT);
        assert_int_equal(timeout.batch_seq, first.batch_seq);
        pl_window_action_t resend = s_next(window, due);
        assert_int_equal(resend.kind, PL_WINDOW_SEND);
        assert_int_equal(resend.cause, PL_WINDOW_CAUSE_TIMEOUT);
        assert_int_equal(resend.attempts, k + 1);
        pl_window_sent(window, &resend, true, due);
        sent = due;
    }
    assert_int_equal(pl_window_counters(window)->records_resent, 50);
    assert_int_equal(pl_window_counters(window)->timeouts, 5);
    pl_window_destroy(&window);
}

static void test_a_failed_send_is_tried_again_after_retry_ns(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_fill(window, 10, T0);
    s_next(window, T0); /* seal */
    pl_window_action_t send = s_next(window, T0);
    pl_window_sent(window, &send, false, T0); /* no connection */
    s_nothing(window, T0 + 4 * MS);
    send = s_next(window, T0 + 5 * MS);
    assert_int_equal(send.kind, PL_WINDOW_SEND);
    assert_int_equal(send.attempts, 0); /* still its first send */
    pl_window_destroy(&window);
}

/* nack full: that coordinator backs off for retry_after_ms; with no other
 * coordinator nothing seals or goes meanwhile; then the refused batch goes
 * again (and the new one after it). */
static void test_nack_full_backs_off_that_coordinator(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    int64_t now = T0 + 30 * MS;
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_nack(window, first.batch_seq, MDBP_NACK_FULL,
                                    250, now, &outcome),
                     PL_WINDOW_BACKOFF);
    assert_int_equal(pl_window_backoff_until(window), now + 250 * MS);
    pl_window_fill(window, 10, now);
    s_nothing(window, now + 249 * MS);
    assert_int_equal(pl_window_deadline(window, now), now + 250 * MS);
    assert_int_equal(s_next(window, now + 250 * MS).kind, PL_WINDOW_SEAL);
    pl_window_action_t resend = s_next(window, now + 250 * MS);
    assert_int_equal(resend.kind, PL_WINDOW_SEND);
    assert_int_equal(resend.batch_seq, first.batch_seq);
    assert_int_equal(resend.cause, PL_WINDOW_CAUSE_FULL);
    pl_window_destroy(&window);
}

/* nack draining: the coordinator is going away; it gets nothing new until
 * it reconnects (a restarted one) or PL_WINDOW_GOING_AWAY_NS pass. */
static void
test_nack_draining_stops_sending_there_until_it_reconnects(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    pl_window_outcome_t outcome;
    pl_window_nack(window, first.batch_seq, MDBP_NACK_DRAINING, 1000, T0,
                   &outcome);
    pl_window_coordinator_view_t view;
    pl_window_coordinator(window, 0, T0, &view);
    assert_true(view.going_away);
    assert_false(view.eligible);
    s_nothing(window, T0 + 5000 * MS); /* not after its retry hint */
    pl_window_disconnected(window, 0, T0 + 5000 * MS);
    pl_window_connected(window, 0, T0 + 6000 * MS); /* restarted */
    pl_window_action_t resend = s_next(window, T0 + 6000 * MS);
    assert_int_equal(resend.kind, PL_WINDOW_SEND);
    assert_int_equal(resend.cause, PL_WINDOW_CAUSE_DRAINING);
    assert_string_equal(pl_window_cause_name(resend.cause), "draining");
    /* Without a reconnect it is tried again after the going-away time. */
    pl_window_sent(window, &resend, true, T0 + 6000 * MS);
    pl_window_nack(window, first.batch_seq, MDBP_NACK_DRAINING, 1000,
                   T0 + 6000 * MS, &outcome);
    int64_t back = T0 + 6000 * MS + PL_WINDOW_GOING_AWAY_NS;
    assert_int_equal(pl_window_deadline(window, T0 + 6000 * MS), back);
    s_nothing(window, back - 1);
    assert_int_equal(s_next(window, back).kind, PL_WINDOW_SEND);
    pl_window_destroy(&window);
}

static void test_nack_malformed_drops_the_batch(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 7, T0);
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_nack(window, first.batch_seq,
                                    MDBP_NACK_MALFORMED, 0, T0, &outcome),
                     PL_WINDOW_REJECTED);
    assert_int_equal(pl_window_used(window), 0);
    assert_int_equal(pl_window_unacked_records(window), 0);
    assert_int_equal(pl_window_counters(window)->records_rejected, 7);
    s_nothing(window, T0 + 10000 * MS); /* never sent again */
    pl_window_destroy(&window);
}

static void test_a_reply_for_no_slot_is_late(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_ack(window, first.batch_seq, T0, &outcome),
                     PL_WINDOW_ACKED);
    assert_int_equal(pl_window_ack(window, first.batch_seq, T0, &outcome),
                     PL_WINDOW_LATE);
    assert_int_equal(
        pl_window_nack(window, 99, MDBP_NACK_FULL, 0, T0, &outcome),
        PL_WINDOW_LATE);
    pl_window_destroy(&window);
}

static void test_a_new_connection_resends_what_was_in_flight(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_connected(window, 0, T0);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    /* The coordinator restarted: the batch went into a queue now gone. */
    pl_window_disconnected(window, 0, T0 + 30 * MS);
    s_nothing(window, T0 + 30 * MS); /* no connection: nothing to resend */
    pl_window_connected(window, 0, T0 + 40 * MS);
    pl_window_action_t resend = s_next(window, T0 + 40 * MS);
    assert_int_equal(resend.kind, PL_WINDOW_SEND);
    assert_int_equal(resend.batch_seq, first.batch_seq);
    assert_int_equal(resend.cause, PL_WINDOW_CAUSE_RECONNECT);
    assert_int_equal(pl_window_connections(window), 1);
    pl_window_destroy(&window);
}

static void test_flush_seals_at_once_and_ends_when_all_is_acked(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_fill(window, 3, T0);
    pl_window_flush(window, T0 + 1000 * MS);
    assert_true(pl_window_flushing(window));
    pl_window_action_t seal = s_next(window, T0); /* not after 20 ms */
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    pl_window_action_t send = s_next(window, T0);
    pl_window_sent(window, &send, true, T0);
    pl_window_action_t action;
    /* Records still pending in the shell keep the flush going. */
    assert_false(pl_window_next(window, T0, true, &action));
    pl_window_outcome_t outcome;
    pl_window_ack(window, send.batch_seq, T0 + 5 * MS, &outcome);
    assert_false(pl_window_next(window, T0 + 5 * MS, true, &action));
    assert_true(pl_window_next(window, T0 + 5 * MS, false, &action));
    assert_int_equal(action.kind, PL_WINDOW_FLUSHED);
    assert_int_equal(action.records, 0);
    assert_false(pl_window_flushing(window));
    pl_window_destroy(&window);
}

static void test_flush_deadline_and_hurry_report_the_unacked(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    s_send_batch(window, 10, T0);
    pl_window_fill(window, 4, T0 + 30 * MS);
    pl_window_flush(window, T0 + 500 * MS);
    s_next(window, T0 + 30 * MS); /* seal */
    pl_window_action_t send = s_next(window, T0 + 30 * MS);
    pl_window_sent(window, &send, true, T0 + 30 * MS);
    s_nothing(window, T0 + 40 * MS);
    /* A second signal: stop waiting now. */
    pl_window_hurry(window, T0 + 40 * MS);
    pl_window_action_t flushed = s_next(window, T0 + 40 * MS);
    assert_int_equal(flushed.kind, PL_WINDOW_FLUSHED);
    assert_int_equal(flushed.records, 14);
    pl_window_destroy(&window);
}

static void test_deadline_is_never_when_idle(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    assert_true(pl_window_deadline(window, T0) == PL_WINDOW_NEVER);
    pl_window_drop(window, s_send_batch(window, 2, T0).slot);
    assert_true(pl_window_deadline(window, T0) == PL_WINDOW_NEVER);
    assert_int_equal(pl_window_counters(window)->records_rejected, 2);
    pl_window_destroy(&window);
}

/* ---- v1.1: sessions, credits, capacity, alive ---- */

#define SESSION UINT64_C(0x5e55104)

static pl_window_config_t s_config_v11(void)
{
    pl_window_config_t config = s_config();
    config.session = SESSION;
    config.batch_records = 500;
    config.slots = 4;
    return config;
}

static mdbp_reply_t s_ack(uint64_t batch_seq, uint64_t session, bool credit,
                          uint32_t value)
{
    mdbp_reply_t reply;
    memset(&reply, 0, sizeof reply);
    reply.type = MDBP_REPLY_ACK;
    reply.batch_seq = batch_seq;
    reply.session = session;
    reply.has_credit = credit;
    reply.credit = value;
    return reply;
}

/* A restarted producer with a fixed routing id receives its previous run's
 * ack for batch 1: ignored, batch 1 of this run stays unacked. */
static void test_a_reply_of_another_session_is_ignored(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    pl_window_outcome_t outcome;
    mdbp_reply_t old = s_ack(first.batch_seq, SESSION + 1, true, 1000);
    assert_int_equal(pl_window_reply(window, 0, &old, T0, &outcome),
                     PL_WINDOW_FOREIGN);
    assert_int_equal(pl_window_used(window), 1);
    assert_int_equal(pl_window_counters(window)->foreign, 1);
    mdbp_reply_t ours = s_ack(first.batch_seq, SESSION, true, 1000);
    assert_int_equal(pl_window_reply(window, 0, &ours, T0, &outcome),
                     PL_WINDOW_ACKED);
    /* A v1 reply (no session) is taken. */
    first = s_send_batch(window, 10, T0);
    mdbp_reply_t v1 = s_ack(first.batch_seq, 0, false, 0);
    assert_int_equal(pl_window_reply(window, 0, &v1, T0, &outcome),
                     PL_WINDOW_ACKED);
    pl_window_destroy(&window);
}

/* Before a first reply from a coordinator that grants credits: one batch
 * of at most min(credit_initial, capacity); then never more unacked than
 * the last credit, the batch cut to fit. */
static void test_batches_are_cut_to_the_credit(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_limits_t limits = {
        .capacity = 10000, .has_credit_initial = true, .credit_initial = 300};
    pl_window_set_limits(window, &limits, T0);
    pl_window_fill(window, 500, T0);
    pl_window_action_t seal = s_next(window, T0);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    assert_int_equal(seal.records, 300); /* credit_initial */
    pl_window_action_t send = s_next(window, T0);
    pl_window_sent(window, &send, true, T0);
    assert_int_equal(pl_window_open_records(window), 200);
    s_nothing(window, T0 + 100 * MS - 1); /* one batch until a reply */
    pl_window_outcome_t outcome;
    mdbp_reply_t ack = s_ack(seal.batch_seq, SESSION, true, 150);
    assert_int_equal(pl_window_reply(window, 0, &ack, T0 + 20 * MS, &outcome),
                     PL_WINDOW_ACKED);
    assert_int_equal(pl_window_credit(window), 150);
    seal = s_next(window, T0 + 20 * MS);
    assert_int_equal(seal.records, 150); /* cut to the credit */
    s_send_next(window, T0 + 20 * MS);
    s_nothing(window, T0 + 21 * MS); /* 150 unacked = the credit */
    assert_int_equal(pl_window_unacked_records(window), 150);
    pl_window_destroy(&window);
}

/* Credit 0: nothing new; with nothing in flight a nonzero credit_initial
 * reopens one batch. */
static void test_credit_zero_stops_new_batches(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_limits_t limits = {
        .capacity = 10000, .has_credit_initial = true, .credit_initial = 0};
    pl_window_set_limits(window, &limits, T0);
    pl_window_fill(window, 100, T0);
    s_nothing(window, T0 + 30 * MS); /* credit_initial 0: not even one */
    limits.credit_initial = 400;
    pl_window_set_limits(window, &limits, T0 + 30 * MS);
    pl_window_action_t seal = s_next(window, T0 + 30 * MS);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    s_send_next(window, T0 + 30 * MS);
    pl_window_outcome_t outcome;
    mdbp_reply_t ack = s_ack(seal.batch_seq, SESSION, true, 0);
    pl_window_reply(window, 0, &ack, T0 + 40 * MS, &outcome);
    pl_window_fill(window, 100, T0 + 40 * MS);
    limits.credit_initial = 0;
    pl_window_set_limits(window, &limits, T0 + 40 * MS);
    s_nothing(window, T0 + 100 * MS);
    assert_int_equal(pl_window_credit(window), 0);
    pl_window_destroy(&window);
}

/* The capacity from feedback cuts batches: 500 records in batches of 300
 * when the queue holds 300. */
static void test_batches_are_cut_to_the_capacity(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_limits_t limits = {.capacity = 300};
    pl_window_set_limits(window, &limits, T0);
    assert_int_equal(pl_window_batch_limit(window), 300);
    assert_int_equal(pl_window_room(window), 300);
    pl_window_fill(window, 300, T0);
    assert_int_equal(s_next(window, T0).records, 300);
    pl_window_destroy(&window);
}

/* A batch larger than the capacity (sealed before feedback told it) is
 * split, never dropped: its records come back and go again in parts. */
static void test_an_over_capacity_batch_is_split(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_action_t first = s_send_batch(window, 500, T0);
    mdbp_reply_t nack;
    memset(&nack, 0, sizeof nack);
    nack.type = MDBP_REPLY_NACK;
    nack.batch_seq = first.batch_seq;
    nack.reason = MDBP_NACK_MALFORMED;
    nack.code = MDBP_NACK_CODE_OVER_CAPACITY;
    nack.session = SESSION;
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_reply(window, 0, &nack, T0 + 30 * MS, &outcome),
                     PL_WINDOW_SPLIT);
    assert_int_equal(outcome.records, 500);
    assert_int_equal(pl_window_used(window), 0);
    assert_int_equal(pl_window_counters(window)->records_rejected, 0);
    /* Without the capacity known: half the size until feedback says. */
    assert_int_equal(pl_window_batch_limit(window), 250);
    pl_window_limits_t limits = {.capacity = 300};
    pl_window_set_limits(window, &limits, T0 + 30 * MS);
    assert_int_equal(pl_window_batch_limit(window), 300);
    /* The shell fills the returned records again. */
    pl_window_return(window, 500);
    pl_window_fill(window, 300, T0 + 30 * MS);
    pl_window_return(window, 200);
    assert_int_equal(s_next(window, T0 + 30 * MS).records, 300);
    pl_window_fill(window, 200, T0 + 30 * MS);
    pl_window_return(window, 0);
    pl_window_flush(window, T0 + 1000 * MS);
    pl_window_action_t action = s_next(window, T0 + 30 * MS);
    while (action.kind != PL_WINDOW_SEAL)
        action = s_next(window, T0 + 30 * MS);
    assert_int_equal(action.records, 200);
    /* A v1 coordinator's nack says it in its detail only. */
    pl_window_destroy(&window);
    window = s_window(&config);
    first = s_send_batch(window, 500, T0);
    memset(&nack, 0, sizeof nack);
    nack.type = MDBP_REPLY_NACK;
    nack.batch_seq = first.batch_seq;
    nack.reason = MDBP_NACK_MALFORMED;
    snprintf(nack.detail, sizeof nack.detail,
             "batch of 500 records exceeds the queue capacity 300");
    assert_int_equal(pl_window_reply(window, 0, &nack, T0, &outcome),
                     PL_WINDOW_SPLIT);
    pl_window_destroy(&window);
}

/* Two over-capacity batches nacked one after the other are both split
 * (the second is not retried as it is: it could never fit). */
static void test_two_over_capacity_batches_are_both_split(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window(&config);
    pl_window_outcome_t outcome;
    /* A first reply grants room for two batches in flight. */
    pl_window_action_t opening = s_send_batch(window, 10, T0);
    mdbp_reply_t granted = s_ack(opening.batch_seq, SESSION, true, 1000);
    pl_window_reply(window, 0, &granted, T0, &outcome);
    pl_window_action_t first = s_send_batch(window, 500, T0);
    pl_window_action_t second = s_send_batch(window, 500, T0);
    mdbp_reply_t nack;
    memset(&nack, 0, sizeof nack);
    nack.type = MDBP_REPLY_NACK;
    nack.reason = MDBP_NACK_MALFORMED;
    nack.code = MDBP_NACK_CODE_OVER_CAPACITY;
    nack.has_credit = true; /* nothing admitted: no credit for more */
    nack.batch_seq = second.batch_seq;
    assert_int_equal(pl_window_reply(window, 0, &nack, T0 + 30 * MS, &outcome),
                     PL_WINDOW_SPLIT);
    nack.batch_seq = first.batch_seq;
    assert_int_equal(pl_window_reply(window, 0, &nack, T0 + 31 * MS, &outcome),
                     PL_WINDOW_SPLIT);
    assert_int_equal(pl_window_used(window), 0);
    assert_int_equal(pl_window_counters(window)->splits, 2);
    /* Credit 0, nothing in flight, no feedback: one batch after the hint. */
    pl_window_return(window, 1000);
    pl_window_fill(window, 250, T0 + 31 * MS);
    pl_window_return(window, 750);
    s_nothing(window, T0 + 31 * MS);
    pl_window_action_t seal = s_next(window, T0 + 131 * MS);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    assert_int_equal(seal.records, 250);
    pl_window_destroy(&window);
}

/* Alive but slow is not lost: while the coordinators' heartbeats arrive a
 * batch is not timed out; once they stop, it is. */
static void test_no_timeout_while_the_coordinator_is_heard(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window(&config);
    pl_window_limits_t limits = {.alive = true};
    pl_window_set_limits(window, &limits, T0);
    s_send_batch(window, 10, T0);
    int64_t sent = T0 + 20 * MS;
    for (int k = 1; k <= 10; k++)
        s_nothing(window, sent + k * 100 * MS); /* a second: no resend */
    assert_int_equal(pl_window_counters(window)->timeouts, 0);
    assert_true(pl_window_counters(window)->deferred > 0);
    limits.alive = false;
    pl_window_set_limits(window, &limits, sent + 1000 * MS);
    int64_t due = pl_window_deadline(window, sent + 1000 * MS);
    assert_int_equal(s_next(window, due).kind, PL_WINDOW_TIMED_OUT);
    pl_window_destroy(&window);
}

/* ---- several coordinators ---- */

/* Two coordinators, both connected at T0 (ids 0 and 1). */
static pl_window_t *s_window_two(const pl_window_config_t *config)
{
    pl_window_t *window = s_window(config);
    assert_int_equal(pl_window_coordinator_add(window), 1);
    pl_window_connected(window, 1, T0);
    return window;
}

/* Seals and sends what is open at `now`; returns the SEND. */
static pl_window_action_t s_seal_send(pl_window_t *window, int64_t now)
{
    pl_window_action_t seal = s_next(window, now);
    assert_int_equal(seal.kind, PL_WINDOW_SEAL);
    return s_send_next(window, now);
}

/* A hung coordinator (its heartbeats stop: the shell sees a disconnect)
 * keeps the batch it had until the ack timeout (it may still commit it
 * when it resumes); new batches go to the other at once; at the timeout
 * the batch goes to the other too, counted as moved (a possible copy). */
static void
test_a_hung_coordinator_keeps_its_batch_until_the_ack_timeout(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    config.slots = 4;
    pl_window_t *window = s_window_two(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    int hung = first.coordinator;
    int other = 1 - hung;
    int64_t sent = T0 + 20 * MS;
    pl_window_disconnected(window, hung, sent + 10 * MS);
    s_nothing(window, sent + 10 * MS); /* not resent at once */
    pl_window_fill(window, 10, sent + 10 * MS);
    pl_window_action_t next = s_seal_send(window, sent + 10 * MS);
    assert_int_equal(next.coordinator, other);
    pl_window_coordinator_view_t view;
    pl_window_coordinator(window, hung, sent + 10 * MS, &view);
    assert_false(view.eligible);
    assert_int_equal(view.unacked_records, 10);
    s_nothing(window, sent + 100 * MS - 1);
    assert_int_equal(s_next(window, sent + 100 * MS).kind, PL_WINDOW_TIMED_OUT);
    pl_window_action_t resend = s_next(window, sent + 100 * MS);
    assert_int_equal(resend.kind, PL_WINDOW_SEND);
    assert_int_equal(resend.batch_seq, first.batch_seq);
    assert_int_equal(resend.coordinator, other);
    pl_window_sent(window, &resend, true, sent + 100 * MS);
    assert_int_equal(pl_window_counters(window)->records_moved, 10);
    pl_window_destroy(&window);
}

/* Batches parked at a hung (disconnected) coordinator until their ack
 * timeout do not take the window from the other: it keeps all its slots
 * (memory stays bounded: PL_WINDOW_PARKED_FACTOR times the window). */
static void test_parked_batches_do_not_take_the_window(void **state)
{
    (void)state;
    pl_window_config_t config = s_config(); /* 2 slots */
    pl_window_t *window = s_window_two(&config);
    assert_int_equal(pl_window_slot_count(window), 2 * PL_WINDOW_PARKED_FACTOR);
    pl_window_action_t a = s_send_batch(window, 10, T0);
    pl_window_action_t b = s_send_batch(window, 10, T0);
    assert_int_not_equal(a.coordinator, b.coordinator);
    pl_window_disconnected(window, b.coordinator, T0 + 30 * MS);
    /* Two slots for the one still answering. */
    pl_window_fill(window, 10, T0 + 30 * MS);
    assert_int_equal(s_seal_send(window, T0 + 50 * MS).coordinator,
                     a.coordinator);
    pl_window_fill(window, 10, T0 + 50 * MS);
    s_nothing(window, T0 + 70 * MS); /* its window is full now */
    assert_int_equal(pl_window_used(window), 3);
    pl_window_destroy(&window);
}

/* A coordinator whose reconnect is refused (its process died) cannot
 * answer what it had: elsewhere at once, cause disconnect. */
static void
test_an_unreachable_coordinators_batches_go_elsewhere_at_once(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window_two(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    pl_window_disconnected(window, first.coordinator, T0 + 30 * MS);
    pl_window_unreachable(window, first.coordinator, T0 + 31 * MS);
    pl_window_action_t resend = s_next(window, T0 + 31 * MS);
    assert_int_equal(resend.kind, PL_WINDOW_SEND);
    assert_int_equal(resend.batch_seq, first.batch_seq);
    assert_int_equal(resend.cause, PL_WINDOW_CAUSE_DISCONNECT);
    assert_int_equal(resend.coordinator, 1 - first.coordinator);
    pl_window_destroy(&window);
}

/* Batches go where the credit is: a coordinator at HARD (credit 0) gets
 * nothing new while the other has credit; batches are cut to the larger
 * room. */
static void test_batches_go_where_the_credit_is(void **state)
{
    (void)state;
    pl_window_config_t config = s_config_v11();
    pl_window_t *window = s_window_two(&config);
    pl_window_action_t a = s_send_batch(window, 10, T0);
    pl_window_action_t b = s_send_batch(window, 10, T0);
    assert_int_not_equal(a.coordinator, b.coordinator); /* in turn */
    pl_window_outcome_t outcome;
    mdbp_reply_t hard = s_ack(a.batch_seq, SESSION, true, 0);
    mdbp_reply_t free_one = s_ack(b.batch_seq, SESSION, true, 120);
    assert_int_equal(
        pl_window_reply(window, a.coordinator, &hard, T0 + 30 * MS, &outcome),
        PL_WINDOW_ACKED);
    assert_int_equal(pl_window_reply(window, b.coordinator, &free_one,
                                     T0 + 30 * MS, &outcome),
                     PL_WINDOW_ACKED);
    assert_int_equal(pl_window_credit(window), 120);
    /* Its feedback says credit_initial 0 too (HARD). */
    pl_window_limits_t limits = {.has_credit_initial = true,
                                 .credit_initial = 0};
    pl_window_set_limits(window, &limits, T0 + 30 * MS);
    pl_window_fill(window, 200, T0 + 30 * MS);
    pl_window_action_t seal = s_next(window, T0 + 50 * MS);
    assert_int_equal(seal.records, 120); /* the free one's room */
    pl_window_action_t send = s_send_next(window, T0 + 50 * MS);
    assert_int_equal(send.coordinator, b.coordinator);
    /* Both full now: the rest waits (the producer blocks), nothing goes
     * to the HARD one. */
    s_nothing(window, T0 + 149 * MS); /* until the ack timeout */
    pl_window_coordinator_view_t view;
    pl_window_coordinator(window, a.coordinator, T0 + 149 * MS, &view);
    assert_int_equal(view.credit, 0);
    assert_int_equal(view.unacked_records, 0);
    pl_window_destroy(&window);
}

/* A v1 pair (no credits): batches alternate, the fewest unacked first. */
static void test_without_credits_batches_are_shared(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    config.slots = 4;
    pl_window_t *window = s_window_two(&config);
    int at[4];
    for (int k = 0; k < 4; k++)
        at[k] = s_send_batch(window, 10, T0).coordinator;
    assert_int_not_equal(at[0], at[1]);
    assert_int_not_equal(at[2], at[3]);
    pl_window_coordinator_view_t view;
    pl_window_coordinator(window, 0, T0, &view);
    assert_int_equal(view.unacked_batches, 2);
    pl_window_destroy(&window);
}

/* Before a coordinator's first reply, without credit_initial from its
 * feedback: a conservative initial credit, PL_WINDOW_FIRST_RECORDS unacked
 * there (a coordinator that never answers holds no more). */
static void
test_a_silent_coordinator_holds_at_most_the_initial_credit(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    config.slots = 8;
    config.batch_records = 200;
    pl_window_t *window = s_window(&config);
    s_send_batch(window, 200, T0);
    s_send_batch(window, 200, T0);
    pl_window_fill(window, 200, T0 + 30 * MS);
    pl_window_action_t seal = s_next(window, T0 + 30 * MS);
    assert_int_equal(seal.records, PL_WINDOW_FIRST_RECORDS - 400);
    s_send_next(window, T0 + 30 * MS);
    s_nothing(window, T0 + 40 * MS);
    assert_int_equal(pl_window_unacked_records(window),
                     PL_WINDOW_FIRST_RECORDS);
    pl_window_destroy(&window);
}

/* With no coordinator connected nothing is sealed or sent: records wait
 * in the open batch, and a new coordinator gets them. */
static void test_no_coordinator_no_send_then_a_new_one_gets_it(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = pl_window_new(&config);
    pl_window_fill(window, 10, T0);
    s_nothing(window, T0 + 100 * MS);
    assert_int_equal(pl_window_connections(window), 0);
    int id = pl_window_coordinator_add(window);
    s_nothing(window, T0 + 100 * MS); /* added, not connected yet */
    pl_window_connected(window, id, T0 + 110 * MS);
    pl_window_action_t send = s_seal_send(window, T0 + 110 * MS);
    assert_int_equal(send.coordinator, id);
    pl_window_destroy(&window);
}

/* A coordinator removed (gone from DNS): its batches go to the others at
 * once and its id is free again. */
static void test_a_removed_coordinators_batches_go_elsewhere(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    pl_window_t *window = s_window_two(&config);
    pl_window_action_t first = s_send_batch(window, 10, T0);
    pl_window_coordinator_remove(window, first.coordinator, T0 + 30 * MS);
    pl_window_action_t resend = s_next(window, T0 + 30 * MS);
    assert_int_equal(resend.cause, PL_WINDOW_CAUSE_DISCONNECT);
    assert_int_equal(resend.coordinator, 1 - first.coordinator);
    pl_window_sent(window, &resend, true, T0 + 30 * MS);
    assert_int_equal(pl_window_counters(window)->records_moved, 0);
    assert_int_equal(pl_window_coordinator_add(window), first.coordinator);
    pl_window_destroy(&window);
}

/* Issue 15: the shutdown report's view of the window. Every held record
 * is in one place: never sent (open, sealed unsent), refused (the last
 * answer a nack full/draining), maybe stored (sent, no answer); a refusal
 * that dropped records is counted by its code. */
static void test_loss_says_where_each_record_is(void **state)
{
    (void)state;
    pl_window_config_t config = s_config();
    config.slots = 4;
    pl_window_t *window = s_window(&config);
    pl_window_action_t rejected = s_send_batch(window, 10, T0);
    pl_window_action_t refused = s_send_batch(window, 10, T0);
    pl_window_action_t unanswered = s_send_batch(window, 10, T0);
    mdbp_reply_t nack;
    memset(&nack, 0, sizeof nack);
    nack.type = MDBP_REPLY_NACK;
    nack.batch_seq = rejected.batch_seq;
    nack.reason = MDBP_NACK_MALFORMED;
    nack.code = MDBP_NACK_CODE_BAD_RECORD;
    pl_window_outcome_t outcome;
    assert_int_equal(pl_window_reply(window, 0, &nack, T0 + 30 * MS, &outcome),
                     PL_WINDOW_REJECTED);
    nack.batch_seq = refused.batch_seq;
    nack.reason = MDBP_NACK_FULL;
    nack.code = MDBP_NACK_CODE_QUEUE_FULL;
    nack.retry_after_ms = 1000;
    assert_int_equal(pl_window_reply(window, 0, &nack, T0 + 30 * MS, &outcome),
                     PL_WINDOW_BACKOFF);
    /* Filled during the backoff (the only coordinator's: nothing is
     * sealed for it), never sent. */
    pl_window_fill(window, 10, T0 + 30 * MS);
    pl_window_action_t action;
    while (pl_window_next(window, T0 + 60 * MS, false, &action))
        assert_int_not_equal(action.kind, PL_WINDOW_SEND);
    /* And what more the open batch takes (its limit is the largest room
     * a coordinator has). */
    size_t extra = pl_window_room(window) < 3 ? pl_window_room(window) : 3;
    pl_window_fill(window, extra, T0 + 60 * MS);
    pl_window_loss_t loss;
    pl_window_loss(window, &loss);
    assert_int_equal(loss.never_sent, 10 + extra);
    assert_int_equal(loss.refused_full, 10);
    assert_int_equal(loss.refused_draining, 0);
    assert_int_equal(loss.maybe_stored, 10);
    (void)unanswered;
    const pl_window_counters_t *counters = pl_window_counters(window);
    assert_int_equal(counters->records_rejected, 10);
    assert_int_equal(counters->rejected_by_code[MDBP_NACK_CODE_BAD_RECORD],
                     10);
    pl_window_destroy(&window);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_says_where_each_record_is),
        cmocka_unit_test(test_a_full_batch_closes_at_once),
        cmocka_unit_test(test_a_partial_batch_closes_after_batch_ns),
        cmocka_unit_test(test_the_window_bounds_batches_in_flight),
        cmocka_unit_test(
            test_an_unacked_batch_is_resent_after_its_timeout_doubling),
        cmocka_unit_test(test_a_failed_send_is_tried_again_after_retry_ns),
        cmocka_unit_test(test_nack_full_backs_off_that_coordinator),
        cmocka_unit_test(
            test_nack_draining_stops_sending_there_until_it_reconnects),
        cmocka_unit_test(test_nack_malformed_drops_the_batch),
        cmocka_unit_test(test_a_reply_for_no_slot_is_late),
        cmocka_unit_test(test_a_new_connection_resends_what_was_in_flight),
        cmocka_unit_test(
            test_a_hung_coordinator_keeps_its_batch_until_the_ack_timeout),
        cmocka_unit_test(test_parked_batches_do_not_take_the_window),
        cmocka_unit_test(
            test_an_unreachable_coordinators_batches_go_elsewhere_at_once),
        cmocka_unit_test(test_batches_go_where_the_credit_is),
        cmocka_unit_test(test_without_credits_batches_are_shared),
        cmocka_unit_test(
            test_a_silent_coordinator_holds_at_most_the_initial_credit),
        cmocka_unit_test(test_no_coordinator_no_send_then_a_new_one_gets_it),
        cmocka_unit_test(test_a_removed_coordinators_batches_go_elsewhere),
        cmocka_unit_test(test_flush_seals_at_once_and_ends_when_all_is_acked),
        cmocka_unit_test(test_flush_deadline_and_hurry_report_the_unacked),
        cmocka_unit_test(test_deadline_is_never_when_idle),
        cmocka_unit_test(test_a_reply_of_another_session_is_ignored),
        cmocka_unit_test(test_batches_are_cut_to_the_credit),
        cmocka_unit_test(test_credit_zero_stops_new_batches),
        cmocka_unit_test(test_batches_are_cut_to_the_capacity),
        cmocka_unit_test(test_an_over_capacity_batch_is_split),
        cmocka_unit_test(test_two_over_capacity_batches_are_both_split),
        cmocka_unit_test(test_no_timeout_while_the_coordinator_is_heard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
