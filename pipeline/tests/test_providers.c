/* Unit tests of the synthetic and replay providers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "cmn_log.h"
#include "pl_provider_replay.h"
#include "pl_provider_synthetic.h"
#include <mdbp/ingest.h>

#define SEC (CMN_NS_PER_SEC)
#define T0_WALL_NS (INT64_C(1700000000) * SEC + 123456789)
#define RECORDS 20000

static void test_synthetic_records_are_valid_and_increasing(void **state)
{
    (void)state;
    pl_synthetic_config_t config = {
        .provider = "sim", .symbols = "AAPL, MSFT,GOOG", .seed = 7};
    pl_synthetic_t *market = pl_synthetic_new(&config);
    assert_non_null(market);
    assert_int_equal(pl_synthetic_symbol_count(market), 3);
    mdbp_record_t *records = calloc(RECORDS, sizeof *records);
    /* 20000 records over 10 s of wall clock, 100 at a time, the clock
     * sometimes standing still. */
    int64_t wall = T0_WALL_NS;
    for (size_t made = 0; made < RECORDS; made += 100) {
        pl_synthetic_generate(market, wall, records + made, 100);
        wall += (made / 100) % 3 == 0 ? 0 : 75 * CMN_NS_PER_MS;
    }
    int64_t last[3][MDBP_RECORD_KIND_COUNT] = {{0}};
    size_t kinds[MDBP_RECORD_KIND_COUNT] = {0};
    for (size_t k = 0; k < RECORDS; k++) {
        mdbp_error_t error;
        if (mdbp_record_validate(&records[k], &error) != 0)
            fail_msg("record %zu: %s", k, error.text);
        assert_string_equal(records[k].provider, "sim");
        int symbol = strcmp(records[k].symbol, "AAPL") == 0   ? 0
                     : strcmp(records[k].symbol, "MSFT") == 0 ? 1
                                                              : 2;
        assert_string_equal(records[k].symbol, symbol == 0   ? "AAPL"
                                               : symbol == 1 ? "MSFT"
                                                             : "GOOG");
        /* Strictly increasing per (kind, symbol), never before start for
         * trades and quotes. */
        assert_true(records[k].ts_ns > last[symbol][records[k].kind]);
        last[symbol][records[k].kind] = records[k].ts_ns;
        kinds[records[k].kind]++;
        if (records[k].kind == MDBP_RECORD_BAR) {
            /* Whole seconds, never the partial first one. */
            assert_true(records[k].ts_ns % SEC == 0);
            assert_true(records[k].ts_ns >=
                        T0_WALL_NS - T0_WALL_NS % SEC + SEC);
            assert_true(records[k].u.bar.low <= records[k].u.bar.high);
            assert_true(records[k].u.bar.volume > 0);
        } else {
            assert_true(records[k].ts_ns >= T0_WALL_NS);
        }
    }
    assert_true(kinds[MDBP_RECORD_TRADE] > RECORDS / 5);
    assert_true(kinds[MDBP_RECORD_QUOTE] > RECORDS / 3);
    /* About 9 bars per symbol over 10 s. */
    assert_in_range(kinds[MDBP_RECORD_BAR], 3 * 8, 3 * 10);

    /* The same seed gives the same prices. */
    pl_synthetic_t *again = pl_synthetic_new(&config);
    mdbp_record_t first[50], second[50];
    pl_synthetic_generate(market, wall, first, 50);
    pl_synthetic_destroy(&market);
    assert_null(market);
    market = pl_synthetic_new(&config);
    pl_synthetic_generate(market, wall, first, 50);
    pl_synthetic_generate(again, wall, second, 50);
    assert_memory_equal(first, second, sizeof first);
    pl_synthetic_destroy(&again);
    pl_synthetic_destroy(&market);
    free(records);
}

/* symbol:S cooldowns: no record of a paused symbol until its time; the
 * others take its turns; with every symbol paused, nothing. */
static void test_synthetic_pauses_a_symbol(void **state)
{
    (void)state;
    pl_synthetic_config_t config = {
        .provider = "sim", .symbols = "AAPL,MSFT", .seed = 7};
    pl_synthetic_t *market = pl_synthetic_new(&config);
    mdbp_record_t records[50];
    assert_int_equal(pl_synthetic_pause(market, "NOPE", T0_WALL_NS), -1);
    assert_int_equal(pl_synthetic_pause(market, "AAPL", T0_WALL_NS + SEC), 0);
    assert_int_equal(pl_synthetic_active(market, T0_WALL_NS), 1);
    assert_int_equal(pl_synthetic_generate(market, T0_WALL_NS, records, 50),
                     50);
    for (size_t k = 0; k < 50; k++)
        assert_string_equal(records[k].symbol, "MSFT");
    pl_synthetic_pause(market, "MSFT", T0_WALL_NS + SEC);
    assert_int_equal(pl_synthetic_generate(market, T0_WALL_NS, records, 50), 0);
    /* Its time over: both again. */
    size_t aapl = 0;
    assert_int_equal(
        pl_synthetic_generate(market, T0_WALL_NS + SEC, records, 50), 50);
    for (size_t k = 0; k < 50; k++)
        aapl += strcmp(records[k].symbol, "AAPL") == 0;
    assert_true(aapl > 0 && aapl < 50);
    pl_synthetic_destroy(&market);
}

static void test_synthetic_bad_config(void **state)
{
    (void)state;
    pl_synthetic_config_t config = {.provider = "sim", .symbols = " , "};
    assert_null(pl_synthetic_new(&config));
    config.symbols = "THIS_SYMBOL_NAME_IS_MUCH_TOO_LONG_FOR_THE_PROTOCOL";
    assert_null(pl_synthetic_new(&config));
    config.symbols = "AAPL";
    config.provider = "";
    assert_null(pl_synthetic_new(&config));
}

/* Writes `text` to a new temporary file; returns its path (static). */
static const char *s_write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/pl_replay_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t length = strlen(text);
    assert_int_equal(write(fd, text, length), (ssize_t)length);
    close(fd);
    return path;
}

/* Writes `length` bytes (NULs allowed) to a new temporary file. */
static const char *s_write_bytes(const char *bytes, size_t length)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/pl_replay_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, length), (ssize_t)length);
    close(fd);
    return path;
}

/* Issue 12 item 4: the second pass of ts 1 and 4e18 ends at 8e18; the
 * third would pass INT64_MAX, so the replay ends instead of wrapping to
 * negative times. */
static void test_replay_loop_stops_before_overflow(void **state)
{
    (void)state;
    const char *path = s_write_file("trade,x,AAPL,1,1,1\n"
                                    "trade,x,AAPL,4000000000000000000,1,1\n");
    pl_replay_config_t config = {.provider = "rp", .path = path, .loop = true};
    pl_replay_t *replay = pl_replay_new(&config);
    assert_non_null(replay);
    int64_t expected[] = {1, 4000000000000000000, 4000000000000000001,
                          8000000000000000000};
    mdbp_record_t record;
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        assert_int_equal(pl_replay_next(replay, &record), 1);
        assert_true(record.ts_ns == expected[k]);
    }
    for (int k = 0; k < 3; k++) /* ended for good, never a wrapped time */
        assert_int_equal(pl_replay_next(replay, &record), 0);
    assert_int_equal(pl_replay_bad_lines(replay), 0);
    pl_replay_destroy(&replay);
    unlink(path);
}

/* Issue 12 item 6: a line holding a NUL is one bad line, whole: neither
 * its head (a record followed by junk) nor its tail past the buffer (a
 * smuggled record behind a comment) is read. The long-line limit is exact:
 * 4096 bytes before "\r\n" are fine, 4097 are not. */
static void test_replay_nul_and_exact_long_lines(void **state)
{
    (void)state;
    size_t capacity = 4 * PL_REPLAY_LINE_MAX;
    char *bytes = calloc(1, capacity);
    size_t length = 0;
#define ADD(text, count)                                                       \
    (memcpy(bytes + length, text, count), length += (count))
    ADD("trade,x,AAPL,1000,1,1\n", 22);
    /* 2: "#", NUL, padding to the old fgets buffer, then a record. */
    ADD("#\0", 2);
    memset(bytes + length, 'p', PL_REPLAY_LINE_MAX + 1 - 2);
    length += PL_REPLAY_LINE_MAX + 1 - 2;
    ADD("trade,x,SMUGGLED,2000,1,1\n", 26);
    /* 3: a good record with a NUL and junk after it. */
    ADD("trade,x,AAPL,2500,1,1\0junk\n", 27);
    /* 4: a comment of exactly the limit, CRLF. 5: one byte more. */
    bytes[length] = '#';
    memset(bytes + length + 1, 'c', PL_REPLAY_LINE_MAX - 1);
    length += PL_REPLAY_LINE_MAX;
    ADD("\r\n", 2);
    bytes[length] = '#';
    memset(bytes + length + 1, 'c', PL_REPLAY_LINE_MAX);
    length += PL_REPLAY_LINE_MAX + 1;
    ADD("\n", 1);
    ADD("trade,x,AAPL,3000,1,1\n", 22);
#undef ADD
    const char *path = s_write_bytes(bytes, length);
    free(bytes);
    pl_replay_config_t config = {.provider = "rp", .path = path};
    pl_replay_t *replay = pl_replay_new(&config);
    assert_non_null(replay);
    mdbp_record_t record;
    assert_int_equal(pl_replay_next(replay, &record), 1);
    assert_true(record.ts_ns == 1000);
    assert_int_equal(pl_replay_next(replay, &record), 1);
    assert_string_equal(record.symbol, "AAPL");
    assert_true(record.ts_ns == 3000);
    assert_int_equal(pl_replay_line(replay), 6);
    assert_int_equal(pl_replay_bad_lines(replay), 3); /* lines 2, 3, 5 */
    assert_int_equal(pl_replay_next(replay, &record), 0);
    pl_replay_destroy(&replay);
    unlink(path);
}

static void test_replay_skips_a_malformed_line(void **state)
{
    (void)state;
    const char *path = s_write_file(
        "kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5\n"
        "trade,x,AAPL,1700000000000000000,189.5,100\n"
        "# a comment, then a blank line\n"
        "\n"
        "trade,x,AAPL,not-a-time,189.5,100\n"
        "{\"kind\":\"quote\",\"provider\":\"x\",\"symbol\":\"MSFT\","
        "\"ts_ns\":1700000000000000001,\"bid\":1,\"bid_size\":2,"
        "\"ask\":3,\"ask_size\":4}\n"
        "{\"kind\":\"quote\",\"symbol\":\n"
        "bar,x,GOOG,1700000000000000000,1,2,0.5,1.5,1000\r\n"
        "trade,x,AAPL,1700000000000000002,190,-5");
    pl_replay_config_t config = {.provider = "rp", .path = path};
    pl_replay_t *replay = pl_replay_new(&config);
    assert_non_null(replay);
    mdbp_record_t record;
    assert_int_equal(pl_replay_next(replay, &record), 1);
    assert_int_equal(record.kind, MDBP_RECORD_TRADE);
    assert_string_equal(record.provider, "rp");
    assert_true(record.u.trade.price == 189.5);
    assert_int_equal(pl_replay_next(replay, &record), 1);
    assert_int_equal(record.kind, MDBP_RECORD_QUOTE);
    assert_string_equal(record.symbol, "MSFT");
    assert_int_equal(pl_replay_bad_lines(replay), 1); /* line 5 */
    assert_int_equal(pl_replay_next(replay, &record), 1);
    assert_int_equal(record.kind, MDBP_RECORD_BAR);
    assert_int_equal(pl_replay_line(replay), 8);
    assert_int_equal(pl_replay_bad_lines(replay), 2); /* line 7 */
    /* The last line has a negative size: bad too; then the end. */
    assert_int_equal(pl_replay_next(replay, &record), 0);
    assert_int_equal(pl_replay_bad_lines(replay), 3);
    assert_int_equal(pl_replay_next(replay, &record), 0);
    pl_replay_destroy(&replay);
    assert_null(replay);
    unlink(path);
}

static void test_replay_loops_with_new_times(void **state)
{
    (void)state;
    char *text = calloc(1, 3 * PL_REPLAY_LINE_MAX);
    /* A line longer than the limit between two good ones. */
    strcat(text, "trade,x,AAPL,1000,1,1\n");
    strcat(text, "trade,x,AAPL,");
    memset(text + strlen(text), '9', PL_REPLAY_LINE_MAX + 10);
    strcat(text, ",1,1\n");
    strcat(text, "trade,x,AAPL,1500,1,1\n");
    const char *path = s_write_file(text);
    free(text);
    pl_replay_config_t config = {.provider = "rp", .path = path, .loop = true};
    pl_replay_t *replay = pl_replay_new(&config);
    int64_t expected[] = {1000, 1500, 1501, 2001, 2002, 2502};
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        mdbp_record_t record;
        assert_int_equal(pl_replay_next(replay, &record), 1);
        assert_true(record.ts_ns == expected[k]);
    }
    assert_int_equal(pl_replay_passes(replay), 2);
    assert_int_equal(pl_replay_bad_lines(replay), 3); /* once per pass */
    pl_replay_destroy(&replay);
    unlink(path);

    /* A file with no good line ends even when looping. */
    path = s_write_file("garbage\n");
    replay = pl_replay_new(&config);
    mdbp_record_t record;
    assert_int_equal(pl_replay_next(replay, &record), 0);
    pl_replay_destroy(&replay);
    unlink(path);

    /* A missing file: NULL, never a crash. */
    config.path = "/nonexistent/replay.csv";
    assert_null(pl_replay_new(&config));
}

int main(void)
{
    cmn_log_setup("test", CMN_LOG_ERROR, CMN_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_records_are_valid_and_increasing),
        cmocka_unit_test(test_synthetic_bad_config),
        cmocka_unit_test(test_synthetic_pauses_a_symbol),
        cmocka_unit_test(test_replay_skips_a_malformed_line),
        cmocka_unit_test(test_replay_loops_with_new_times),
        cmocka_unit_test(test_replay_loop_stops_before_overflow),
        cmocka_unit_test(test_replay_nul_and_exact_long_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
