/* Unit tests for sc_intake, the core's decisions: admit, nack with a retry
 * hint, dispatch (full, timeout, eager), acks on commit, level, drain.
 * Time is a plain number: nothing here reads a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
#define RECOVERY_MS 1000
#define MS CMN_NS_PER_MS

static mdbp_record_t s_records[CAPACITY];

/* The acks the callback saw, by batch_seq. */
typedef struct {
    size_t count;
    uint64_t seq[CAPACITY];
    size_t written[CAPACITY];
    size_t dead_lettered[CAPACITY];
    void *tag[CAPACITY];
    uint64_t session[CAPACITY];
    uint32_t credit[CAPACITY];
} s_acks_t;

static void s_on_done(const sc_intake_ack_t *ack, void *arg)
{
    s_acks_t *acks = arg;
    acks->seq[acks->count] = ack->batch_seq;
    acks->written[acks->count] = ack->written;
    acks->dead_lettered[acks->count] = ack->dead_lettered;
    acks->tag[acks->count] = ack->tag;
    acks->session[acks->count] = ack->session;
    acks->credit[acks->count] = ack->credit;
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
        .sojourn_target_ns = 0, /* off unless a test sets it */
        .sojourn_interval_ns = 0,
        .stall_ns = 0,
        .recovery_ns = RECOVERY_MS * MS,
    };
}

static sc_intake_verdict_t s_admit(sc_intake_t *intake, size_t count,
                                   uint64_t seq, int64_t now,
                                   sc_intake_admission_t *out)
{
    sc_intake_batch_t batch = {.producer_id = "p1",
                               .session = 0,
                               .batch_seq = seq,
                               .records = s_records,
                               .count = count,
                               .tag = NULL};
    sc_intake_admit(intake, &batch, now, out);
    return out->verdict;
}

/* What sc_intake_update says now. */
static sc_snapshot_t s_update(sc_intake_t *intake, int64_t now)
{
    sc_intake_update_t update;
    sc_intake_update(intake, now, &update);
    return update.snapshot;
}

static void s_malformed(sc_intake_t *intake, const char *text, int64_t now,
                        sc_intake_admission_t *out)
{
    mdbp_error_t error = {{0}};
    error.code = MDBP_NACK_CODE_NOT_A_MAP;
    snprintf(error.text, sizeof error.text, "%s", text);
    sc_intake_malformed(intake, NULL, &error, now, out);
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
    assert_int_equal(out.reason, MDBP_NACK_MALFORMED);
    assert_int_equal(out.code, MDBP_NACK_CODE_OVER_CAPACITY);
    assert_string_equal(out.field, "records");
    assert_int_equal(out.retry_after_ms, 0);
    assert_non_null(strstr(out.detail, "exceeds the queue capacity 100"));
    /* 30 + 71 > 100: full. Nothing drains yet: the idle hint. */
    assert_int_equal(s_admit(intake, 71, 4, 0, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, MDBP_NACK_FULL);
    assert_int_equal(out.code, MDBP_NACK_CODE_QUEUE_FULL);
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

/* Issue 15: the rates /status explains the level with, over the drain
 * rate's windows and smoothing: admitted (incoming), offered (refused
 * included), written and duplicates; and the time of the last change. */
static void test_rates_incoming_offered_written_duplicates(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    s_acks_t acks = {0};
    /* First second: 90 records admitted (level HARD at 80), 40 refused
     * (full); one chunk of 10 committed as 6 written + 4 duplicates. */
    for (uint64_t seq = 1; seq <= 9; seq++)
        assert_int_equal(s_admit(intake, 10, seq, 0, &out), SC_INTAKE_QUEUED);
    assert_int_equal(s_admit(intake, 20, 10, 0, &out), SC_INTAKE_NACK);
    assert_int_equal(s_admit(intake, 20, 11, 0, &out), SC_INTAKE_NACK);
    sc_snapshot_t snapshot = s_update(intake, 10 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_int_equal(snapshot.changed_ns, 10 * MS);
    assert_true(snapshot.rates.incoming == 0.0); /* no window closed yet */
    sc_intake_dispatch_t dispatch[WORKERS];
    size_t given = sc_intake_dispatch(intake, 20 * MS, true, dispatch);
    assert_true(given >= 1);
    sc_intake_done(intake, dispatch[0].worker, dispatch[0].chunk.id, 6, 4, 0,
                   30 * MS, s_on_done, &acks);
    sc_intake_update_t update;
    sc_intake_update(intake, 1000 * MS, &update);
    assert_true(update.drain_rate_changed);
    /* Smoothed: half of the first window's rate. */
    const sc_snapshot_rates_t *rates = &update.snapshot.rates;
    assert_true(rates->incoming > 44.99 && rates->incoming < 45.01);
    assert_true(rates->offered > 64.99 && rates->offered < 65.01);
    assert_true(rates->written > 2.99 && rates->written < 3.01);
    assert_true(rates->duplicates > 1.99 && rates->duplicates < 2.01);
    assert_true(rates->incoming > rates->written); /* overloaded */
    /* A quiet second halves them again; the level has not changed. */
    sc_intake_update(intake, 2000 * MS, &update);
    assert_true(update.snapshot.rates.incoming > 22.49 &&
                update.snapshot.rates.incoming < 22.51);
    assert_int_equal(update.snapshot.changed_ns, 10 * MS);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
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
    assert_true(update.snapshot.drain_rate > 9.99 &&
                update.snapshot.drain_rate < 10.01);
    /* Fill to 95: a batch of 10 misses 5 slots, 5 / 10 per s = 500 ms. */
    for (uint64_t seq = 2; seq <= 20 && sc_intake_depth(intake) < 95; seq++)
        s_admit(intake, 5, seq, 1000 * MS, &out);
    assert_int_equal(sc_intake_depth(intake), 95);
    assert_int_equal(s_admit(intake, 10, 30, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, 500);
    /* A hint is clamped to 5000 ms. */
    assert_int_equal(s_admit(intake, 100, 31, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.reason, MDBP_NACK_FULL);
    assert_int_equal(out.retry_after_ms, SC_INTAKE_RETRY_AFTER_MAX_MS);
    /* A worker's breaker open: nothing drains before its timeout. */
    sc_intake_worker_t open = {.breaker = SC_BREAKER_OPEN};
    sc_intake_worker(intake, 1, &open);
    assert_int_equal(s_admit(intake, 10, 32, 1000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, BREAKER_MS);
    sc_intake_worker_t closed = {.breaker = SC_BREAKER_CLOSED};
    sc_intake_worker(intake, 1, &closed);
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
    assert_true(sc_intake_deadline(intake) <= TIMEOUT_MS * MS);
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
    s_admit(intake, 80, 1, 0, &out);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_true(snapshot.changed);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_int_equal(snapshot.previous, MDBP_LEVEL_OK);
    assert_int_equal(snapshot.depth, 80);
    assert_string_equal(snapshot.reason,
                        "depth queue at or above high watermark");
    assert_true(snapshot.scale_hint == 0.0 && snapshot.pressure == 1.0);
    /* Drained to 0 at 100 ms: the dwell holds HARD until 250 ms, and the
     * engine asks to be called then. */
    s_acks_t acks = {0};
    for (int round = 0; round < 8; round++)
        s_drain_at(intake, 100 * MS, &acks);
    assert_int_equal(acks.count, 1);
    snapshot = s_update(intake, 100 * MS);
    assert_false(snapshot.changed);
    assert_int_equal(sc_intake_deadline(intake), 250 * MS);
    snapshot = s_update(intake, 250 * MS);
    assert_true(snapshot.changed);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    assert_string_equal(
        snapshot.reason,
        "depth queue at or below low watermark minus dead-band");
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
    s_malformed(intake, "not a map", 1, &out);
    assert_int_equal(out.verdict, SC_INTAKE_NACK);
    assert_int_equal(out.reason, MDBP_NACK_MALFORMED);
    assert_int_equal(out.code, MDBP_NACK_CODE_NOT_A_MAP);
    assert_string_equal(out.detail, "not a map");
    assert_true(out.log);
    s_malformed(intake, "not a map", 2, &out);
    s_malformed(intake, "not a map", 3, &out);
    assert_false(out.log);
    int64_t later = 1 + SC_INTAKE_MALFORMED_LOG_INTERVAL_MS * MS;
    s_malformed(intake, "not a map", later, &out);
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
    assert_int_equal(out.reason, MDBP_NACK_DRAINING);
    assert_int_equal(out.code, MDBP_NACK_CODE_DRAINING);
    /* Nothing new while draining (its 4 in flight are answered). */
    assert_int_equal(out.credit, 0);
    assert_int_equal(out.retry_after_ms, SC_INTAKE_RETRY_AFTER_DRAINING_MS);
    /* Draining: a partial chunk goes at once, even without eager. */
    assert_int_equal(sc_intake_dispatch(intake, 0, false, dispatch), 1);
    sc_intake_update(intake, 0, &update);
    assert_int_equal(update.drain, SC_INTAKE_DRAIN_NONE);
    assert_true(sc_intake_deadline(intake) <= DRAIN_MS * MS);
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

static void s_breakers(sc_intake_t *intake, sc_breaker_state_t state)
{
    sc_intake_worker_t health = {.breaker = state};
    for (size_t i = 0; i < WORKERS; i++)
        sc_intake_worker(intake, i, &health);
}

static void
test_sink_down_when_every_breaker_opens_then_recovery_ramps(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    s_admit(intake, 20, 1, 0, &out); /* a short queue: depth says OK */
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 2);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_UP);
    /* One breaker open: degraded, the level unmoved. */
    sc_intake_worker_t open = {.breaker = SC_BREAKER_OPEN};
    sc_intake_worker(intake, 0, &open);
    snapshot = s_update(intake, 10 * MS);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_DEGRADED);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    /* Both open: down, HARD at once whatever the depth, hint 0. */
    s_breakers(intake, SC_BREAKER_OPEN);
    snapshot = s_update(intake, 20 * MS);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_DOWN);
    assert_true(snapshot.changed);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_true(snapshot.pressure == 1.0 && snapshot.scale_hint == 0.0);
    assert_string_equal(snapshot.reason,
                        "sink_down every writer's breaker is open");
    /* A half-open trial alone is not recovery: still down. */
    s_breakers(intake, SC_BREAKER_HALF_OPEN);
    assert_int_equal(s_update(intake, 2000 * MS).sink_state,
                     MDBP_SINK_STATE_DOWN);
    /* The trial commits: up again; the pressure ramps from 1 to 0 over
     * RECOVERY_MS (half way: hint 0.5, SOFT), then OK. */
    s_breakers(intake, SC_BREAKER_CLOSED);
    s_acks_t acks = {0};
    sc_intake_done(intake, 0, dispatch[0].chunk.id, 10, 0, 0, 2100 * MS,
                   s_on_done, &acks);
    snapshot = s_update(intake, 2100 * MS);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_UP);
    assert_true(snapshot.scale_hint == 0.0);
    snapshot = s_update(intake, (2100 + RECOVERY_MS / 2) * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_SOFT);
    assert_true(snapshot.scale_hint > 0.49 && snapshot.scale_hint < 0.51);
    assert_string_equal(snapshot.reason, "recovered the sink is writing again");
    snapshot = s_update(intake, (2100 + RECOVERY_MS) * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    assert_true(snapshot.scale_hint == 1.0);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void
test_sink_down_when_every_writer_holding_records_is_open(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    /* One chunk, held by worker 0; worker 1 idle with a closed breaker. */
    s_admit(intake, 5, 1, 0, &out);
    assert_int_equal(sc_intake_dispatch(intake, 0, true, dispatch), 1);
    assert_int_equal(dispatch[0].worker, 0);
    sc_intake_worker_t open = {.breaker = SC_BREAKER_OPEN};
    sc_intake_worker(intake, 0, &open);
    sc_snapshot_t snapshot = s_update(intake, 10 * MS);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_DOWN);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_no_commit_within_the_stall_timeout_is_sink_down(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    config.stall_ns = 2000 * MS;
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    /* A hung database: breakers closed, a worker holding its chunk. */
    s_admit(intake, 5, 1, 0, &out);
    sc_intake_dispatch(intake, 0, true, dispatch);
    assert_int_equal(s_update(intake, 1999 * MS).level, MDBP_LEVEL_OK);
    /* The engine wakes itself to notice: no input arrives. */
    assert_true(sc_intake_deadline(intake) <= 2000 * MS);
    sc_snapshot_t snapshot = s_update(intake, 2000 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_int_equal(snapshot.sink_state, MDBP_SINK_STATE_DOWN);
    assert_string_equal(snapshot.reason,
                        "sink_down no commit within the stall timeout");
    /* A full queue meanwhile: retry after the breaker timeout, not after
     * what the (stale) drain rate would promise. */
    s_admit(intake, CAPACITY - 5, 2, 2000 * MS, &out);
    assert_int_equal(s_admit(intake, 10, 3, 2000 * MS, &out), SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, BREAKER_MS);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_dead_letter_failure_is_sink_down(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_worker_t failing = {.dlq_failing = true};
    sc_intake_worker(intake, 1, &failing);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_string_equal(snapshot.reason,
                        "sink_down the dead-letter file cannot be written");
    sc_intake_destroy(&intake);
}

static void test_oldest_age_over_the_target_raises_the_level(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    config.sojourn_target_ns = 100 * MS;
    config.sojourn_interval_ns = 50 * MS;
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    /* 5 records held by a slow worker: a short queue, an old record. */
    s_admit(intake, 5, 1, 0, &out);
    sc_intake_dispatch(intake, 0, true, dispatch);
    sc_snapshot_t snapshot = s_update(intake, 100 * MS);
    assert_int_equal(snapshot.oldest_age_ms, 100);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    /* Above the target since 101 ms, for the 50 ms interval: SOFT. */
    assert_int_equal(s_update(intake, 101 * MS).level, MDBP_LEVEL_OK);
    assert_int_equal(s_update(intake, 150 * MS).level, MDBP_LEVEL_OK);
    snapshot = s_update(intake, 151 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_SOFT);
    assert_string_equal(snapshot.reason,
                        "sojourn oldest record 151 ms old, target 100 ms");
    assert_true(snapshot.scale_hint < 1.0);
    /* At 4x the target: HARD. */
    snapshot = s_update(intake, 400 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD);
    assert_true(snapshot.scale_hint == 0.0);
    /* Committed: nothing waits, age 0; down after the dwell. */
    s_acks_t acks = {0};
    sc_intake_done(intake, 0, dispatch[0].chunk.id, 5, 0, 0, 410 * MS,
                   s_on_done, &acks);
    snapshot = s_update(intake, 410 * MS);
    assert_int_equal(snapshot.oldest_age_ms, 0);
    assert_true(snapshot.commit_latency_ms > 409.9 &&
                snapshot.commit_latency_ms < 410.1);
    snapshot = s_update(intake, 660 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_OK);
    sc_intake_destroy(&intake);
}

static sc_intake_verdict_t s_send(sc_intake_t *intake, const char *producer,
                                  uint64_t session, uint64_t seq, size_t count,
                                  void *tag, int64_t now,
                                  sc_intake_admission_t *out)
{
    sc_intake_batch_t batch = {.producer_id = producer,
                               .session = session,
                               .batch_seq = seq,
                               .records = s_records,
                               .count = count,
                               .tag = tag};
    sc_intake_admit(intake, &batch, now, out);
    return out->verdict;
}

static void test_resend_of_a_held_batch_is_kept_once(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    sc_intake_dispatch_t dispatch[WORKERS];
    int first = 1, second = 2, other_run = 3;
    assert_int_equal(s_send(intake, "p", 77, 5, 8, &first, 0, &out),
                     SC_INTAKE_QUEUED);
    assert_int_equal(out.session, 77);
    sc_intake_dispatch(intake, 0, true, dispatch); /* being written */
    /* The same batch again (a timeout, a reconnect): not queued again;
     * the engine keeps the newest envelope and hands the older back. */
    assert_int_equal(s_send(intake, "p", 77, 5, 8, &second, 1, &out),
                     SC_INTAKE_RESENT);
    assert_ptr_equal(out.replaced, &first);
    assert_int_equal(sc_intake_depth(intake), 8);
    /* Another run of the same producer id is another producer. */
    assert_int_equal(s_send(intake, "p", 78, 5, 8, &other_run, 2, &out),
                     SC_INTAKE_QUEUED);
    assert_int_equal(sc_intake_depth(intake), 16);
    s_acks_t acks = {0};
    sc_intake_done(intake, 0, dispatch[0].chunk.id, 8, 0, 0, 3, s_on_done,
                   &acks);
    assert_int_equal(acks.count, 1);
    assert_ptr_equal(acks.tag[0], &second);
    assert_int_equal(acks.session[0], 77);
    /* Acked: a later resend of batch 5 is a new batch (v1 behaviour). */
    assert_int_equal(s_send(intake, "p", 77, 5, 8, &first, 4, &out),
                     SC_INTAKE_QUEUED);
    /* Without a session nothing tells runs apart: queued again. */
    assert_int_equal(s_send(intake, "v1", 0, 9, 4, &first, 5, &out),
                     SC_INTAKE_QUEUED);
    assert_int_equal(s_send(intake, "v1", 0, 9, 4, &second, 6, &out),
                     SC_INTAKE_QUEUED);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_credits_share_the_target_below_the_low_watermark(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    /* The target is where the level is OK again: L - D = 50 - 10 = 40.
     * Alone with an empty queue, a new producer may send all of it. */
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.credit_initial, 40);
    assert_int_equal(s_send(intake, "a", 1, 1, 10, NULL, 0, &out),
                     SC_INTAKE_QUEUED);
    s_update(intake, 0);
    /* a: 20 in flight; its share (40 / 1 producer) fits the room. */
    assert_int_equal(s_send(intake, "a", 1, 2, 10, NULL, 0, &out),
                     SC_INTAKE_QUEUED);
    assert_int_equal(out.credit, 40);
    snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.producers, 1);
    /* A newcomer: half the target, within the 20 records of room. */
    assert_int_equal(snapshot.credit_initial, 20);
    /* b joins: the target is split between two. */
    s_send(intake, "b", 2, 1, 10, NULL, 0, &out);
    snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.producers, 2);
    /* depth 30: b's share 20 = its 10 in flight + 10 of room. */
    s_send(intake, "b", 2, 2, 0, NULL, 0, &out);
    assert_int_equal(out.verdict, SC_INTAKE_ACK);
    assert_int_equal(out.credit, 20);
    /* a ignores its credit: depth 65 (SOFT), pressure 0.5, no room left:
     * b keeps only what it has in flight, within 40 x 0.5 / 2 = 10. */
    s_send(intake, "a", 1, 3, 35, NULL, 0, &out);
    s_update(intake, 0);
    s_send(intake, "b", 2, 3, 0, NULL, 0, &out);
    assert_int_equal(out.credit, 10);
    /* At the high watermark (pressure 1): nothing new for anyone. */
    s_send(intake, "a", 1, 4, 15, NULL, 0, &out);
    s_update(intake, 0);
    s_send(intake, "a", 1, 5, 0, NULL, 0, &out);
    assert_int_equal(out.credit, 0);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_a_crowd_larger_than_the_target_gets_one_record_each(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    /* 50 producers share a target of 40 records: 0.8 each would round to
     * nothing, and nobody would ever send; each may have one. */
    char name[16];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "p%d", i);
        s_send(intake, name, (uint64_t)i + 1, 1, 0, NULL, 0, &out);
    }
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.producers, 50);
    assert_int_equal(snapshot.credit_initial, 1);
    s_send(intake, "p0", 1, 2, 0, NULL, 0, &out);
    assert_int_equal(out.credit, 1);
    sc_intake_destroy(&intake);
}

static sc_intake_verdict_t s_send_class(sc_intake_t *intake,
                                        const char *producer,
                                        mdbp_priority_t priority,
                                        uint32_t weight, uint64_t seq,
                                        size_t count, int64_t now,
                                        sc_intake_admission_t *out)
{
    sc_intake_batch_t batch = {.producer_id = producer,
                               .session = 1,
                               .batch_seq = seq,
                               .priority = priority,
                               .weight = weight,
                               .records = s_records,
                               .count = count};
    sc_intake_admit(intake, &batch, now, out);
    return out->verdict;
}

static void test_weights_split_the_target(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    /* Two normal producers, weights 1 and 3, share the target of 40 as
     * 10 and 30: a greedy one gets no more than its weight's share. */
    s_send_class(intake, "light", MDBP_PRIORITY_NORMAL, 1, 1, 0, 0, &out);
    s_send_class(intake, "heavy", MDBP_PRIORITY_NORMAL, 3, 1, 0, 0, &out);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.class_producers[MDBP_PRIORITY_NORMAL], 2);
    s_send_class(intake, "light", MDBP_PRIORITY_NORMAL, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 10);
    s_send_class(intake, "heavy", MDBP_PRIORITY_NORMAL, 3, 2, 0, 0, &out);
    assert_int_equal(out.credit, 30);
    /* Without class keys (weight 0 = absent) a producer weighs 1. */
    s_send_class(intake, "v1", MDBP_PRIORITY_NORMAL, 0, 1, 0, 0, &out);
    s_update(intake, 0);
    s_send_class(intake, "v1", MDBP_PRIORITY_NORMAL, 0, 2, 0, 0, &out);
    assert_int_equal(out.credit, 8); /* 40 x 1 / 5 */
    sc_intake_destroy(&intake);
}

static void test_critical_first_then_normal_and_bulk_two_one(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    /* No pressure (credits keep the level OK under plain overload). The
     * critical feed may take 0.95 of the target of 40 while others are
     * active; normal and bulk split what it leaves 2 : 1. */
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 1, 0, 0, &out);
    s_send_class(intake, "feed", MDBP_PRIORITY_NORMAL, 1, 1, 0, 0, &out);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 1, 0, 0, &out);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_true(snapshot.pressure == 0.0);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 13); /* nothing critical in flight: 40/3 */
    s_send_class(intake, "feed", MDBP_PRIORITY_NORMAL, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 26); /* 40 x 2/3 */
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 38); /* 40 x 0.95 */
    /* The critical feed uses 30: the others share the 10 it leaves. */
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 3, 30, 0, &out);
    s_update(intake, 0);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 3, 0, 0, &out);
    assert_int_equal(out.credit, 3); /* 10 x 1/3 */
    s_send_class(intake, "feed", MDBP_PRIORITY_NORMAL, 1, 3, 0, 0, &out);
    assert_int_equal(out.credit, 6); /* 10 x 2/3 */
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 4, 0, 0, &out);
    assert_int_equal(out.credit, 38); /* its 30 in flight and 8 more */
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    /* Alone, bulk has the whole target. */
    sc_intake_destroy(&intake);
    intake = sc_intake_new(&config, 0);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 1, 0, 0, &out);
    s_update(intake, 0);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 40);
    sc_intake_destroy(&intake);
}

static void test_soft_cuts_bulk_first_critical_never(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    config.sojourn_target_ns = 100 * MS;
    config.sojourn_interval_ns = 0;
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 1, 0, 0, &out);
    s_send_class(intake, "feed", MDBP_PRIORITY_NORMAL, 1, 1, 10, 0, &out);
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 1, 0, 0, &out);
    /* The 10 records wait 250 ms against a 100 ms target: the store is
     * slow (pressure 0.5, SOFT) while the queue is nearly empty. */
    sc_snapshot_t snapshot = s_update(intake, 250 * MS);
    assert_int_equal(snapshot.level, MDBP_LEVEL_SOFT);
    assert_true(snapshot.pressure == 0.5);
    assert_true(snapshot.class_factor[MDBP_PRIORITY_CRITICAL] == 1.0);
    assert_true(snapshot.class_factor[MDBP_PRIORITY_NORMAL] == 0.5);
    assert_true(snapshot.class_factor[MDBP_PRIORITY_BULK] == 0.0);
    /* Nothing critical in flight: normal and bulk share the target 2 : 1.
     * bulk: cut to nothing; normal: 40 x 0.5 x 2/3; critical: uncut,
     * 40 x 0.95. */
    s_send_class(intake, "backfill", MDBP_PRIORITY_BULK, 1, 2, 0, 250 * MS,
                 &out);
    assert_int_equal(out.credit, 0);
    s_send_class(intake, "feed", MDBP_PRIORITY_NORMAL, 1, 2, 0, 250 * MS,
                 &out);
    assert_int_equal(out.credit, 13);
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 2, 0, 250 * MS,
                 &out);
    assert_int_equal(out.credit, 38);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_hard_pauses_all_but_critical_which_has_the_reserve(
    void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    /* Without a critical producer there is no reserve: a producer that
     * ignores credits may fill the queue to H and past it. */
    assert_int_equal(s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1,
                                  1, 85, 0, &out),
                     SC_INTAKE_QUEUED);
    s_acks_t acks = {0};
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);

    intake = sc_intake_new(&config, 0);
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 1, 0, 0, &out);
    s_update(intake, 0);
    /* A critical producer is active: the greedy one stops at H. */
    assert_int_equal(s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1,
                                  1, 70, 0, &out),
                     SC_INTAKE_QUEUED);
    assert_int_equal(s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1,
                                  2, 15, 0, &out),
                     SC_INTAKE_NACK);
    assert_int_equal(out.reason, MDBP_NACK_FULL);
    assert_int_equal(out.code, MDBP_NACK_CODE_QUEUE_FULL);
    assert_int_equal(s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1,
                                  3, 10, 0, &out),
                     SC_INTAKE_QUEUED);
    sc_snapshot_t snapshot = s_update(intake, 0);
    assert_int_equal(snapshot.level, MDBP_LEVEL_HARD); /* depth 80 = H */
    /* A new producer may start only if it is critical (the review: a
     * restarted critical feed waited for the level to drop). */
    assert_int_equal(snapshot.credit_initial, 0);
    /* 40 x 0.95 x 1 / (1 + its own 1), within the 20 of room. */
    assert_int_equal(snapshot.credit_initial_critical, 19);
    /* HARD: normal and bulk get nothing new; critical still gets its
     * share (40 x 0.95), bounded by the room the reserve leaves (20). */
    s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1, 4, 0, 0, &out);
    assert_int_equal(out.credit, 0);
    s_send_class(intake, "late", MDBP_PRIORITY_BULK, 1, 1, 0, 0, &out);
    assert_int_equal(out.credit, 0);
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 2, 0, 0, &out);
    assert_int_equal(out.credit, 20);
    assert_int_equal(s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1,
                                  3, 20, 0, &out),
                     SC_INTAKE_QUEUED);
    /* Until the queue is really full. */
    assert_int_equal(s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1,
                                  4, 1, 0, &out),
                     SC_INTAKE_NACK);
    assert_int_equal(out.reason, MDBP_NACK_FULL);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_reserve_refusal_hint_counts_the_room_below_h(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    sc_intake_admission_t out;
    s_acks_t acks = {0};
    /* 10 records/s drained, as in the retry-hint test above. */
    s_admit(intake, 20, 1, 0, &out);
    s_drain_at(intake, 0, &acks);
    s_send_class(intake, "live", MDBP_PRIORITY_CRITICAL, 1, 1, 0, 0, &out);
    sc_intake_update_t update;
    sc_intake_update(intake, 1000 * MS, &update);
    s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1, 1, 75, 1000 * MS,
                 &out);
    /* depth 75, H 80: a normal batch of 10 misses 5 records of room below
     * H (not 0 below the capacity): 5 / 10 per s = 500 ms. */
    assert_int_equal(s_send_class(intake, "greedy", MDBP_PRIORITY_NORMAL, 1,
                                  2, 10, 1000 * MS, &out),
                     SC_INTAKE_NACK);
    assert_int_equal(out.retry_after_ms, 500);
    sc_intake_discard(intake, s_on_done, &acks);
    sc_intake_destroy(&intake);
}

static void test_malformed_copies_code_field_and_index(void **state)
{
    (void)state;
    sc_intake_config_t config = s_config(true);
    sc_intake_t *intake = sc_intake_new(&config, 0);
    mdbp_error_t error = {{0}};
    error.code = MDBP_NACK_CODE_BAD_RECORD;
    snprintf(error.text, sizeof error.text, "%s",
             "record 2: field 'price' must be > 0");
    snprintf(error.field, sizeof error.field, "%s", "price");
    error.has_record_index = true;
    error.record_index = 2;
    sc_intake_batch_t header = {
        .producer_id = "p", .session = 42, .batch_seq = 9};
    sc_intake_admission_t out;
    sc_intake_malformed(intake, &header, &error, 0, &out);
    assert_int_equal(out.reason, MDBP_NACK_MALFORMED);
    assert_int_equal(out.code, MDBP_NACK_CODE_BAD_RECORD);
    assert_string_equal(out.field, "price");
    assert_true(out.has_record_index);
    assert_int_equal(out.record_index, 2);
    assert_int_equal(out.session, 42);
    assert_int_equal(out.credit, 40); /* the whole target, L - D */
    sc_intake_destroy(&intake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_queue_or_refuse),
        cmocka_unit_test(test_retry_hint_follows_drain_rate_and_breaker),
        cmocka_unit_test(test_rates_incoming_offered_written_duplicates),
        cmocka_unit_test(
            test_dispatch_full_chunk_at_once_partial_after_timeout),
        cmocka_unit_test(test_eager_dispatch_only_when_input_is_idle),
        cmocka_unit_test(test_level_follows_depth_with_dwell_deadline),
        cmocka_unit_test(test_malformed_logged_once_per_interval),
        cmocka_unit_test(test_drain_flushes_then_reports_once),
        cmocka_unit_test(test_drain_deadline_abandons_waiting_and_held_chunks),
        cmocka_unit_test(test_discard_returns_every_tag),
        cmocka_unit_test(
            test_sink_down_when_every_breaker_opens_then_recovery_ramps),
        cmocka_unit_test(
            test_sink_down_when_every_writer_holding_records_is_open),
        cmocka_unit_test(test_no_commit_within_the_stall_timeout_is_sink_down),
        cmocka_unit_test(test_dead_letter_failure_is_sink_down),
        cmocka_unit_test(test_oldest_age_over_the_target_raises_the_level),
        cmocka_unit_test(test_resend_of_a_held_batch_is_kept_once),
        cmocka_unit_test(test_credits_share_the_target_below_the_low_watermark),
        cmocka_unit_test(
            test_a_crowd_larger_than_the_target_gets_one_record_each),
        cmocka_unit_test(test_malformed_copies_code_field_and_index),
        cmocka_unit_test(test_reserve_refusal_hint_counts_the_room_below_h),
        cmocka_unit_test(test_weights_split_the_target),
        cmocka_unit_test(test_critical_first_then_normal_and_bulk_two_one),
        cmocka_unit_test(test_soft_cuts_bulk_first_critical_never),
        cmocka_unit_test(
            test_hard_pauses_all_but_critical_which_has_the_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
