/* Unit tests for sc_writer, a worker's decisions: retry with backoff and
 * jitter, the breaker, isolating refused records, dead-letter and sync.
 * The sink's answers are scripted by the test; the random source is a
 * fixed value, so the jitter's extremes are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "sc_writer.h"

#define MS CMN_NS_PER_MS
#define RETRY_LIMIT 3
#define BASE_MS 100
#define MAX_MS 300
#define THRESHOLD 5
#define BREAKER_MS 2000

static uint64_t s_fixed(void *arg)
{
    return *(uint64_t *)arg;
}

static sc_writer_t *s_new(uint64_t *random)
{
    sc_writer_config_t config = {
        .retry_limit = RETRY_LIMIT,
        .retry_base_ns = BASE_MS * MS,
        .retry_max_ns = MAX_MS * MS,
        .breaker_threshold = THRESHOLD,
        .breaker_timeout_ns = BREAKER_MS * MS,
        .random = s_fixed,
        .random_arg = random,
    };
    return sc_writer_new(&config, 0);
}

static sc_writer_action_t s_next(sc_writer_t *writer, int64_t now)
{
    sc_writer_action_t action;
    sc_writer_next(writer, now, &action);
    return action;
}

static void test_idle_pings_once_per_interval(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_writer_t *writer = s_new(&random);
    /* First contact at once, so /ready knows early. */
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_PING);
    sc_writer_pinged(writer, 0);
    sc_writer_action_t action = s_next(writer, 1 * MS);
    assert_int_equal(action.step, SC_WRITER_IDLE);
    assert_int_equal(action.until_ns, SC_WRITER_PING_INTERVAL_MS * MS);
    assert_int_equal(s_next(writer, SC_WRITER_PING_INTERVAL_MS * MS).step,
                     SC_WRITER_PING);
    sc_writer_destroy(&writer);
    assert_null(writer);
}

static void test_chunk_written_whole(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_writer_t *writer = s_new(&random);
    sc_writer_begin(writer, 500);
    sc_writer_action_t action = s_next(writer, 0);
    assert_int_equal(action.step, SC_WRITER_WRITE);
    assert_int_equal(action.index, 0);
    assert_int_equal(action.count, 500);
    sc_sink_counts_t counts = {.written = 498, .duplicates = 2};
    assert_int_equal(sc_writer_wrote(writer, SC_SINK_OK, &counts, 0),
                     SC_WRITER_STORED);
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_DONE);
    sc_writer_counts_t done = sc_writer_finish(writer);
    assert_int_equal(done.written, 498);
    assert_int_equal(done.duplicates, 2);
    assert_int_equal(done.dead_lettered, 0);
    sc_writer_destroy(&writer);
}

static void test_transient_backs_off_doubling_then_breaker(void **state)
{
    (void)state;
    /* The largest draw: the full delay (uniform over [delay/2, delay]). */
    uint64_t random = UINT64_MAX;
    sc_writer_t *writer = s_new(&random);
    sc_writer_begin(writer, 10);
    int64_t now = 0;
    int64_t expected_ms[] = {BASE_MS, 2 * BASE_MS};
    for (int attempt = 0; attempt < 2; attempt++) {
        assert_int_equal(s_next(writer, now).step, SC_WRITER_WRITE);
        assert_int_equal(sc_writer_wrote(writer, SC_SINK_TRANSIENT, NULL, now),
                         SC_WRITER_RETRY);
        assert_int_equal(sc_writer_attempt(writer), attempt + 1);
        sc_writer_action_t action = s_next(writer, now);
        assert_int_equal(action.step, SC_WRITER_WAIT);
        /* UINT64_MAX % (half + 1) is not always half: the delay lies in
         * the upper half of the doubled backoff. */
        int64_t delay = action.until_ns - now;
        assert_true(delay >= expected_ms[attempt] * MS / 2);
        assert_true(delay <= expected_ms[attempt] * MS);
        assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_CLOSED);
        now = action.until_ns;
    }
    /* The third failure uses up the quick retries: the breaker opens and
     * the chunk waits for its half-open trial. */
    assert_int_equal(s_next(writer, now).step, SC_WRITER_WRITE);
    sc_writer_wrote(writer, SC_SINK_TRANSIENT, NULL, now);
    assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_OPEN);
    sc_writer_action_t action = s_next(writer, now);
    assert_int_equal(action.step, SC_WRITER_WAIT);
    assert_int_equal(action.until_ns, now + BREAKER_MS * MS);
    now = action.until_ns;
    assert_int_equal(s_next(writer, now).step, SC_WRITER_WRITE);
    assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_HALF_OPEN);
    /* The trial fails: open again for a whole timeout; never given up. */
    sc_writer_wrote(writer, SC_SINK_TRANSIENT, NULL, now);
    action = s_next(writer, now);
    assert_int_equal(action.step, SC_WRITER_WAIT);
    assert_int_equal(action.until_ns, now + BREAKER_MS * MS);
    now = action.until_ns;
    assert_int_equal(s_next(writer, now).step, SC_WRITER_WRITE);
    sc_sink_counts_t counts = {.written = 10};
    sc_writer_wrote(writer, SC_SINK_OK, &counts, now);
    assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_CLOSED);
    assert_int_equal(s_next(writer, now).step, SC_WRITER_DONE);
    assert_int_equal(sc_writer_finish(writer).written, 10);
    sc_writer_destroy(&writer);
}

static void test_backoff_jitter_extremes_and_cap(void **state)
{
    (void)state;
    /* The smallest draw: half the delay; the cap holds from the third. */
    uint64_t random = 0;
    sc_writer_config_t config = {
        .retry_limit = 100,
        .retry_base_ns = BASE_MS * MS,
        .retry_max_ns = MAX_MS * MS,
        .breaker_threshold = 100,
        .breaker_timeout_ns = BREAKER_MS * MS,
        .random = s_fixed,
        .random_arg = &random,
    };
    sc_writer_t *writer = sc_writer_new(&config, 0);
    sc_writer_begin(writer, 1);
    int64_t expected_ms[] = {BASE_MS / 2, BASE_MS, MAX_MS / 2, MAX_MS / 2};
    int64_t now = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        assert_int_equal(s_next(writer, now).step, SC_WRITER_WRITE);
        sc_writer_wrote(writer, SC_SINK_TRANSIENT, NULL, now);
        sc_writer_action_t action = s_next(writer, now);
        assert_int_equal(action.until_ns - now, expected_ms[attempt] * MS);
        now = action.until_ns;
    }
    sc_writer_destroy(&writer);
}

static void test_permanent_isolates_and_dead_letters_one(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_writer_t *writer = s_new(&random);
    sc_writer_begin(writer, 3);
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_WRITE);
    assert_int_equal(sc_writer_wrote(writer, SC_SINK_PERMANENT, NULL, 0),
                     SC_WRITER_ISOLATE);
    /* Record by record: 0 stored, 1 refused (dead-lettered), 2 stored. */
    sc_sink_counts_t one = {.written = 1};
    sc_writer_action_t action = s_next(writer, 0);
    assert_int_equal(action.step, SC_WRITER_WRITE);
    assert_int_equal(action.index, 0);
    assert_int_equal(action.count, 1);
    sc_writer_wrote(writer, SC_SINK_OK, &one, 0);
    action = s_next(writer, 0);
    assert_int_equal(action.index, 1);
    assert_int_equal(sc_writer_wrote(writer, SC_SINK_PERMANENT, NULL, 0),
                     SC_WRITER_REFUSED);
    action = s_next(writer, 0);
    assert_int_equal(action.step, SC_WRITER_DEAD_LETTER);
    assert_int_equal(action.index, 1);
    assert_int_equal(sc_writer_dead_lettered(writer, 0, 0), SC_WRITER_SETTLED);
    action = s_next(writer, 0);
    assert_int_equal(action.step, SC_WRITER_WRITE);
    assert_int_equal(action.index, 2);
    sc_writer_wrote(writer, SC_SINK_OK, &one, 0);
    /* A dead letter must be on disk before the ack. */
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_SYNC);
    assert_int_equal(sc_writer_synced(writer, 0, 0), SC_WRITER_SETTLED);
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_DONE);
    sc_writer_counts_t done = sc_writer_finish(writer);
    assert_int_equal(done.written, 2);
    assert_int_equal(done.dead_lettered, 1);
    /* The database answered each time: the breaker never moved. */
    assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_CLOSED);
    sc_writer_destroy(&writer);
}

static void test_dead_letter_failure_keeps_the_record(void **state)
{
    (void)state;
    uint64_t random = 0;
    sc_writer_t *writer = s_new(&random);
    sc_writer_begin(writer, 1);
    s_next(writer, 0);
    /* A single record refused: dead-lettered directly, no isolation. */
    assert_int_equal(sc_writer_wrote(writer, SC_SINK_PERMANENT, NULL, 0),
                     SC_WRITER_REFUSED);
    assert_int_equal(s_next(writer, 0).step, SC_WRITER_DEAD_LETTER);
    /* The file cannot be written: back off, then try the record again;
     * it is never counted as dead-lettered. */
    assert_int_equal(sc_writer_dead_lettered(writer, -1, 0), SC_WRITER_RETRY);
    sc_writer_action_t action = s_next(writer, 0);
    assert_int_equal(action.step, SC_WRITER_WAIT);
    action = s_next(writer, action.until_ns);
    assert_int_equal(action.step, SC_WRITER_WRITE);
    assert_int_equal(action.index, 0);
    sc_writer_wrote(writer, SC_SINK_PERMANENT, NULL, 0);
    s_next(writer, 0);
    sc_writer_dead_lettered(writer, 0, 0);
    /* The sync fails again and again (a full disk): retried before DONE,
     * and the database's breaker never moves (nothing is wrong with it;
     * an open breaker with no write to close it would keep the sink down
     * after the disk is fixed). */
    int64_t now = 0;
    for (int failure = 0; failure < 2 * RETRY_LIMIT; failure++) {
        assert_int_equal(s_next(writer, now).step, SC_WRITER_SYNC);
        assert_int_equal(sc_writer_synced(writer, -1, now), SC_WRITER_RETRY);
        action = s_next(writer, now);
        assert_int_equal(action.step, SC_WRITER_WAIT);
        assert_true(action.until_ns - now <= MAX_MS * MS);
        now = action.until_ns;
    }
    assert_int_equal(sc_writer_breaker(writer), SC_BREAKER_CLOSED);
    assert_int_equal(s_next(writer, now).step, SC_WRITER_SYNC);
    sc_writer_synced(writer, 0, now);
    assert_int_equal(s_next(writer, now).step, SC_WRITER_DONE);
    assert_int_equal(sc_writer_finish(writer).dead_lettered, 1);
    sc_writer_destroy(&writer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_pings_once_per_interval),
        cmocka_unit_test(test_chunk_written_whole),
        cmocka_unit_test(test_transient_backs_off_doubling_then_breaker),
        cmocka_unit_test(test_backoff_jitter_extremes_and_cap),
        cmocka_unit_test(test_permanent_isolates_and_dead_letters_one),
        cmocka_unit_test(test_dead_letter_failure_keeps_the_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
