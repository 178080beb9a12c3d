/* Unit tests for sc_intake, the core's decisions: admit, nack with a retry
 * hint, dispatch (full, timeout, eager), acks on commit, level, drain.
 * Time is a plain number: nothing here reads a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "sc_intake.h"

#define CAPACITY 100
#define WORKERS 2
#define BATCH 10
#define TIMEOUT_MS 250
#define DRAIN_MS 1000
#define BREAKER_MS 2000
#define MS CMN_NS_PER_MS

static proto_record_t s_records[CAPACITY];

/* The acks the callback saw, by batch_seq. */
typedef struct {
    size_t count;
    uint64_t seq[CAPACITY];
    size_t written[CAPACITY];
    size_t dead_lettered[CAPACITY];
} s_acks_t;

static void s_on_done(const sc_batch_result_t *result, void *arg)
{
    s_acks_t *acks = arg;
    acks->seq[acks->count] = result->batch_seq;
    acks->written[acks->count] = result->written;
    acks->dead_lettered[acks->count] = result->dead_lettered;
    acks->count++;
}

static sc_intake_config_t s_config(bool eager)
{
    return (sc_intake_config_t){
        .capacity = CAPACITY,
        .watermark = {.capacity = CAPACITY,
                      .low = 50,
                      .high = 80,
                      .dead_band = 10,
                      .dwell_ns = 250 * MS},
        .workers = WORKERS,
        .batch_size = BATCH,
        .batch_timeout_ns = TIMEOUT_MS * MS,
        .batch_eager = eager,
        .drain_timeout_ns = DRAIN_MS * MS,
        .breaker_timeout_ms = BREAKER_MS,
    };
}

static sc_intake_verdict_t s_admit(sc_intake_t *intake, size_t count,
                                   uint64_t seq, int64_t now,
                                   sc_intake_admission_t *out)
{
    sc_intake_admit(intake, s_records, count, NULL, seq, now, out);
    return out->verdict;
}

static void test_admit_queue_or_refuse(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;

    assert_int_equal(s_admit(intake, 30, 1, 0, &out), SC_INTAKE_QUEUED);
    assert_int_equal(sc_intake_depth(intake), 30);
    /* An empty batch: nothing to store, acked at once. */
    assert_int_equal(s_admit(intake, 0, 2, 0, &out), SC_INTAKE_ACK);
    /* Larger than the whole queue: can never fit, malformed. */
    assert_int_equal(s_admit(intake, CAPACITY + 1, 3, 0, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, PROTO_NACK_MALFORMED);
    assert_int_equal(out.retry_after_ms, 0);
    assert_non_null(strstr(out.detail, "exceeds the queue capacity 100"));
    /* 30 + 71 > 100: full. Nothing drains yet: the idle hint. */
    assert_int_equal(s_admit(intake, 71, 4, 0, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, PROTO_NACK_FULL);
    assert_int_equal(out.retry_after_ms, SC_INTAKE_RETRY_AFTER_IDLE_MS);
    assert_string_equal(out.detail, "queue full");
    assert_int_equal(sc_intake_depth(intake), 30);
    sc_intake_destroy(&intake);
    assert_null(intake);
}

/* Commits `records` records in one window of 1 s so the drain rate is
 * `records`/s (after one window with smoothing 0.5: half of it). */
static int64_t s_drain_at(sc_intake_t *intake, int64_t now, s_acks_t *acks)
{
    sc_intake_dispatch_t dispatch[WORKERS];
    size_t given = sc_intake_dispatch(intake, now, true, dispatch);
    for (size_t i = 0; i < given; i++)
        sc_intake_done(intake, dispatch[i].worker, dispatch[i].chunk.id,
                       dispatch[i].chunk.count, 0, 0, now, s_on_done, acks);
    return now;
}

static void test_retry_hint_follows_drain_rate_and_breaker(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_update_t update;
    s_acks_t acks = {0};
    /* 20 records committed in the first second: rate 0.5 * 20 = 10/s. */
    s_admit(intake, 20, 1, 0, &out);
    s_drain_at(intake, 0, &acks);
    sc_intake_update(intake, 1000 * MS, &update);
    assert_true(update.drain_rate_changed);
    assert_true(update.drain_rate > 9.99 && update.drain_rate < 10.01);
    /* Fill to 95: a batch of 10 misses 5 slots, 5 / 10 per s = 500 ms. */
    for (uint64_t seq = 2; seq <= 20 && sc_intake_depth(intake) < 95; seq++)
        s_admit(intake, 5, seq, 1000 * MS, &out);
    assert_int_equal(sc_intake_depth(intake), 95);
    assert_int_equal(s_admit(intake, 10, 30, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, 500);
    /* A hint is clamped to 5000 ms. */
    assert_int_equal(s_admit(intake, 100, 31, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, PROTO_NACK_FULL);
    assert_int_equal(out.retry_after_ms, SC_INTAKE_RETRY_AFTER_MAX_MS);
    /* A worker's breaker open: nothing drains before its timeout. */
    sc_intake_breaker(intake, 1, SC_BREAKER_OPEN);
    assert_int_equal(s_admit(intake, 10, 32, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, BREAKER_MS);
    sc_intake_breaker(intake, 1, SC_BREAKER_CLOSED);
    assert_int_equal(s_admit(intake, 10, 33, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, 500);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_dispatch_full_chunk_at_once_partial_after_timeout(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(false);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    /* 25 records: two full chunks go at once, one to each worker. */
    s_admit(intake, 25, 1, 0, &out);
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 2);
    assert_int_equal(dispatch[0].worker, 0);
    assert_int_equal(dispatch[0].chunk.count, BATCH);
    assert_int_equal(dispatch[1].worker, 1);
    /* Both busy: nothing more, and no batch-timeout deadline. */
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 0);
    s_acks_t acks = {0};
    sc_intake_done(intake, 0, dispatch[0].chunk.id, BATCH, 0, 0, 0, s_on_done,
                   &acks);
    assert_int_equal(acks.count, 0); /* the batch has 15 records left */
    /* Worker 0 idle, 5 waiting: a partial chunk waits for the timeout. */
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 0);
    assert_int_equal(sc_intake_deadline(intake), TIMEOUT_MS * MS);
    assert_int_equal(
        sc_intake_dispatch(intake, TIMEOUT_MS * MS - 1, false, dispatch), 0);
    assert_int_equal(
        sc_intake_dispatch(intake, TIMEOUT_MS * MS, false, dispatch), 1);
    assert_int_equal(dispatch[0].chunk.count, 5);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_eager_dispatch_only_when_input_is_idle(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    s_admit(intake, 3, 1, 0, &out);
    /* More input waiting on the socket: keep filling the chunk. */
    assert_int_equal(sc_intake_dispatch(intake, 0, false, dispatch), 0);
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 1);
    assert_int_equal(dispatch[0].chunk.count, 3);
    s_acks_t acks = {0};
    sc_intake_done(intake, 0, dispatch[0].chunk.id, 2, 1, 0, 0, s_on_done,
                   &acks);
    assert_int_equal(acks.count, 1);
    assert_int_equal(acks.seq[0], 1);
    assert_int_equal(acks.written[0], 2);
    /* A second DONE for the same chunk changes nothing. */
    assert_int_equal(sc_intake_done(intake, 0, dispatch[0].chunk.id, 2, 1, 0, 0,
                                    s_on_done, &acks),
                     -1);
    assert_int_equal(sc_intake_depth(intake), 0);
    sc_intake_destroy(&intake);
}

static void test_level_follows_depth_with_dwell_deadline(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_update_t update;
    s_admit(intake, 80, 1, 0, &out);
    sc_intake_update(intake, 0, &update);
    assert_true(update.level_changed);
    assert_int_equal(update.level, PROTO_LEVEL_HARD);
    assert_int_equal(update.previous, PROTO_LEVEL_OK);
    assert_int_equal(update.depth, 80);
    /* Drained to 0 at 100 ms: the dwell holds HARD until 250 ms, and the
     * engine asks to be called then. */
    s_acks_t acks = {0};
    for (int round = 0; round < 8; round++)
        s_drain_at(intake, 100 * MS, &acks);
    assert_int_equal(acks.count, 1);
    sc_intake_update(intake, 100 * MS, &update);
    assert_false(update.level_changed);
    assert_int_equal(sc_intake_deadline(intake), 250 * MS);
    sc_intake_update(intake, 250 * MS, &update);
    assert_true(update.level_changed);
    assert_int_equal(update.level, PROTO_LEVEL_OK);
    /* At OK with nothing queued only the drain-rate window is due. */
    assert_int_equal(sc_intake_deadline(intake), 1000 * MS);
    sc_intake_destroy(&intake);
}

static void test_malformed_logged_once_per_interval(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_malformed(intake, "not a map", 1, &out);
    assert_int_equal(out.verdict, SC_INTAKE_NACK);
    assert_int_equal(out.reason, PROTO_NACK_MALFORMED);
    assert_string_equal(out.detail, "not a map");
    assert_true(out.log);
    sc_intake_malformed(intake, "not a map", 2, &out);
    sc_intake_malformed(intake, "not a map", 3, &out);
    assert_false(out.log);
    int64_t later = 1 + SC_INTAKE_MALFORMED_LOG_INTERVAL_MS * MS;
    sc_intake_malformed(intake, "not a map", later, &out);
    assert_true(out.log);
    assert_int_equal(out.suppressed, 2);
    sc_intake_destroy(&intake);
}

static void test_drain_flushes_then_reports_once(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(false);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_update_t update;
    sc_intake_dispatch_t dispatch[WORKERS];
    s_admit(intake, 4, 1, 0, &out);
    sc_intake_drain(intake, 0);
    assert_true(sc_intake_draining(intake));
    assert_int_equal(s_admit(intake, 1, 2, 0, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, PROTO_NACK_DRAINING);
    assert_int_equal(out.retry_after_ms, SC_INTAKE_RETRY_AFTER_DRAINING_MS);
    /* Draining: a partial chunk goes at once, even without eager. */
    assert_int_equal(sc_intake_dispatch(intake, 0, false, dispatch), 1);
    sc_intake_update(intake, 0, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_NONE);
    assert_int_equal(sc_intake_deadline(intake), DRAIN_MS * MS);
    s_acks_t acks = {0};
    sc_intake_done(intake, dispatch[0].worker, dispatch[0].chunk.id, 4, 0, 0,
                   10 * MS, s_on_done, &acks);
    sc_intake_update(intake, 10 * MS, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_FLUSHED);
    sc_intake_update(intake, 20 * MS, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_NONE);
    sc_intake_destroy(&intake);
}

static void test_drain_deadline_abandons_waiting_and_held_chunks(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(false);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_update_t update;
    sc_intake_dispatch_t dispatch[WORKERS];
    s_admit(intake, 30, 1, 0, &out); /* 2 chunks held, 10 waiting */
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 2);
    sc_intake_drain(intake, 0);
    sc_intake_update(intake, 10 * MS, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_NONE);
    /* The second signal: the deadline is now. */
    sc_intake_hurry(intake, 20 * MS);
    sc_intake_update(intake, 20 * MS, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_EXPIRED);
    s_acks_t acks = {0};
    size_t abandoned = 0;
    sc_chunk_t chunk;
    while (sc_intake_abandon(intake, &chunk) > 0) {
        abandoned += chunk.count;
        sc_intake_dead_lettered(intake, &chunk, s_on_done, &acks);
    }
    assert_int_equal(abandoned, 30);
    assert_int_equal(acks.count, 1);
    assert_int_equal(acks.dead_lettered[0], 30);
    assert_int_equal(sc_intake_depth(intake), 0);
    /* A worker finishing its abandoned chunk later acks nothing twice. */
    assert_int_equal(sc_intake_done(intake, 0, dispatch[0].chunk.id, 10, 0, 0,
                                    30 * MS, s_on_done, &acks),
                     -1);
    assert_int_equal(acks.count, 1);
    sc_intake_destroy(&intake);
}

static void test_discard_returns_every_tag(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(false);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_admit(intake, 7, seq, 0, &out);
    sc_intake_dispatch(intake, 0, true, dispatch);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    assert_int_equal(acks.count, 5);
    assert_int_equal(sc_intake_depth(intake), 0);
    sc_intake_destroy(&intake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_queue_or_refuse),
        cmocka_unit_test(test_retry_hint_follows_drain_rate_and_breaker),
        cmocka_unit_test(
            test_dispatch_full_chunk_at_once_partial_after_timeout),
        cmocka_unit_test(test_eager_dispatch_only_when_input_is_idle),
        cmocka_unit_test(test_level_follows_depth_with_dwell_deadline),
        cmocka_unit_test(test_malformed_logged_once_per_interval),
        cmocka_unit_test(test_drain_flushes_then_reports_once),
        cmocka_unit_test(test_drain_deadline_abandons_waiting_and_held_chunks),
        cmocka_unit_test(test_discard_returns_every_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
