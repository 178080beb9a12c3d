/* Unit tests of the spool (pl_spool) and of conflation (pl_conflate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmn_clock.h"
#include "pl_conflate.h"
#include "pl_spool.h"

#define SEC (CMN_NS_PER_SEC)
#define MS (CMN_NS_PER_MS)
#define T0_NS (INT64_C(1700000000) * SEC)
#define PATH_BYTES 512

typedef struct {
    char directory[PATH_BYTES];
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof *fixture);
    snprintf(fixture->directory, sizeof fixture->directory,
             "/tmp/pl-spool-test-XXXXXX");
    if (!mkdtemp(fixture->directory))
        return -1;
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = *state;
    DIR *dir = opendir(fixture->directory);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        char path[PATH_BYTES * 2];
        snprintf(path, sizeof path, "%s/%s", fixture->directory,
                 entry->d_name);
        if (entry->d_name[0] != '.')
            unlink(path);
    }
    if (dir)
        closedir(dir);
    rmdir(fixture->directory);
    free(fixture);
    return 0;
}

/* Trade number `index`: every one the same size on disk (19-digit ts). */
static mdbp_record_t s_trade(int index)
{
    mdbp_record_t record = {.kind = MDBP_RECORD_TRADE,
                            .ts_ns = T0_NS + index};
    snprintf(record.provider, sizeof record.provider, "live");
    snprintf(record.symbol, sizeof record.symbol, "S%04d", index % 10000);
    record.u.trade.price = 100.5;
    record.u.trade.size = 10;
    return record;
}

static pl_spool_config_t s_config(fixture_t *fixture, uint64_t max_bytes)
{
    return (pl_spool_config_t){.directory = fixture->directory,
                               .max_bytes = max_bytes,
                               .segment_bytes = PL_SPOOL_SEGMENT_BYTES_DEFAULT,
                               .full = PL_SPOOL_FULL_DROP_OLDEST,
                               .fsync = PL_SPOOL_FSYNC_NEVER};
}

/* Bytes one s_trade takes in the spool (header included). */
static uint64_t s_record_bytes(void)
{
    fixture_t scratch;
    snprintf(scratch.directory, sizeof scratch.directory,
             "/tmp/pl-spool-size-XXXXXX");
    assert_non_null(mkdtemp(scratch.directory));
    pl_spool_config_t config = s_config(&scratch, 1 << 20);
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    mdbp_record_t record = s_trade(1);
    assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    uint64_t bytes = pl_spool_bytes(spool);
    pl_spool_take(spool, &record, 1, T0_NS);
    pl_spool_release(spool, pl_spool_drained_segments(spool));
    pl_spool_close(&spool);
    rmdir(scratch.directory);
    return bytes;
}

static size_t s_segment_files(const char *directory)
{
    size_t count = 0;
    DIR *dir = opendir(directory);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        count += strncmp(entry->d_name, PL_SPOOL_SEGMENT_PREFIX,
                         strlen(PL_SPOOL_SEGMENT_PREFIX)) == 0;
    if (dir)
        closedir(dir);
    return count;
}

/* The path of the newest segment file. */
static void s_last_segment(const char *directory, char *path)
{
    char best[PATH_BYTES] = "";
    DIR *dir = opendir(directory);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (strncmp(entry->d_name, PL_SPOOL_SEGMENT_PREFIX,
                    strlen(PL_SPOOL_SEGMENT_PREFIX)) == 0 &&
            strcmp(entry->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", entry->d_name);
    if (dir)
        closedir(dir);
    snprintf(path, PATH_BYTES * 2, "%s/%s", directory, best);
}

static void test_crc32_is_zlibs(void **state)
{
    (void)state;
    /* The CRC-32 check value (IEEE 802.3, zlib.crc32). */
    assert_int_equal(pl_spool_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(pl_spool_crc32(pl_spool_crc32(0, "1234", 4), "56789", 5),
                     0xCBF43926u);
}

static void test_appends_read_back_in_order_across_segments(void **state)
{
    fixture_t *fixture = *state;
    uint64_t size = s_record_bytes();
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    /* Four records a segment: 1000 records make 250 segments. */
    config.segment_bytes = PL_SPOOL_HEADER_BYTES + 4 * size;
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    assert_non_null(spool);
    for (int k = 0; k < 1000; k++) {
        mdbp_record_t record = s_trade(k);
        assert_int_equal(pl_spool_append(spool, &record, T0_NS + k), 0);
    }
    assert_int_equal(pl_spool_records(spool), 1000);
    assert_int_equal(pl_spool_bytes(spool), 1000 * size);
    assert_int_equal(pl_spool_oldest_ns(spool), T0_NS);
    assert_true(s_segment_files(fixture->directory) >= 250);
    mdbp_record_t out[64];
    int next = 0;
    while (pl_spool_records(spool) > 0) {
        int got = pl_spool_take(spool, out, 64, T0_NS + 2000);
        assert_true(got > 0);
        for (int k = 0; k < got; k++, next++) {
            mdbp_record_t expected = s_trade(next);
            assert_int_equal(out[k].ts_ns, expected.ts_ns);
            assert_string_equal(out[k].symbol, expected.symbol);
            assert_string_equal(out[k].provider, "live");
            assert_true(out[k].u.trade.price == 100.5);
        }
        if (next == 500)
            assert_int_equal(pl_spool_oldest_ns(spool), T0_NS + 500);
    }
    assert_int_equal(next, 1000);
    assert_int_equal(pl_spool_bytes(spool), 0);
    assert_int_equal(pl_spool_oldest_ns(spool), 0);
    /* Every segment was read to its end (the tail sealed): released, the
     * directory holds none. */
    assert_true(pl_spool_drained_segments(spool) >= 250);
    pl_spool_release(spool, pl_spool_drained_segments(spool));
    assert_int_equal(s_segment_files(fixture->directory), 0);
    for (uint64_t k = 0; k < PL_SPOOL_DROP_COUNT; k++)
        assert_int_equal(pl_spool_dropped(spool, (pl_spool_drop_t)k), 0);
    /* Appending again after a full drain starts a new segment. */
    mdbp_record_t record = s_trade(7);
    assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    assert_int_equal(pl_spool_take(spool, out, 64, T0_NS), 1);
    assert_int_equal(out[0].ts_ns, T0_NS + 7);
    pl_spool_close(&spool);
    assert_null(spool);
}

static void test_reopen_reads_back_unreleased_segments(void **state)
{
    fixture_t *fixture = *state;
    uint64_t size = s_record_bytes();
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    config.segment_bytes = PL_SPOOL_HEADER_BYTES + 10 * size;
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 35; k++) {
        mdbp_record_t record = s_trade(k);
        assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    }
    /* Read 12 (one whole segment and two of the next), release the whole
     * one: a restart reads the rest back from the second segment's start
     * (records read but not released may come again: the store's keys make
     * that harmless). */
    mdbp_record_t out[64];
    assert_int_equal(pl_spool_take(spool, out, 12, T0_NS), 12);
    assert_int_equal(pl_spool_drained_segments(spool), 1);
    pl_spool_release(spool, 1);
    pl_spool_close(&spool);
    pl_spool_recovery_t recovery;
    spool = pl_spool_open(&config, &recovery);
    assert_non_null(spool);
    assert_int_equal(recovery.segments, 3);
    assert_int_equal(recovery.records, 25);
    assert_int_equal(recovery.torn, 0);
    assert_int_equal(pl_spool_records(spool), 25);
    assert_int_equal(pl_spool_take(spool, out, 64, T0_NS), 25);
    for (int k = 0; k < 25; k++)
        assert_int_equal(out[k].ts_ns, T0_NS + 10 + k);
    pl_spool_close(&spool);
}

static void test_torn_tail_is_truncated_and_counted(void **state)
{
    fixture_t *fixture = *state;
    uint64_t size = s_record_bytes();
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 10; k++) {
        mdbp_record_t record = s_trade(k);
        assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    }
    pl_spool_close(&spool);
    /* A kill -9 in the middle of the last write: half a record. */
    char path[PATH_BYTES * 2];
    s_last_segment(fixture->directory, path);
    assert_int_equal(truncate(path, (off_t)(PL_SPOOL_HEADER_BYTES +
                                            9 * size + size / 2)),
                     0);
    pl_spool_recovery_t recovery;
    spool = pl_spool_open(&config, &recovery);
    assert_non_null(spool);
    assert_int_equal(recovery.records, 9);
    assert_int_equal(recovery.torn, 1);
    assert_int_equal(recovery.truncated_bytes, size / 2);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_size, PL_SPOOL_HEADER_BYTES + 9 * size);
    /* New records follow the nine good ones. */
    mdbp_record_t record = s_trade(100);
    assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    mdbp_record_t out[16];
    assert_int_equal(pl_spool_take(spool, out, 16, T0_NS), 10);
    assert_int_equal(out[8].ts_ns, T0_NS + 8);
    assert_int_equal(out[9].ts_ns, T0_NS + 100);
    pl_spool_close(&spool);
}

static void test_crc_mismatch_cuts_the_segment_there(void **state)
{
    fixture_t *fixture = *state;
    uint64_t size = s_record_bytes();
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 10; k++) {
        mdbp_record_t record = s_trade(k);
        assert_int_equal(pl_spool_append(spool, &record, T0_NS), 0);
    }
    pl_spool_close(&spool);
    /* One flipped byte in record 6's payload: its CRC fails, records 6..9
     * are cut (a record after a bad one could not be trusted to start
     * where the bad one's length says). */
    char path[PATH_BYTES * 2];
    s_last_segment(fixture->directory, path);
    int fd = open(path, O_RDWR);
    off_t at = (off_t)(PL_SPOOL_HEADER_BYTES + 6 * size +
                       PL_SPOOL_RECORD_HEADER_BYTES + 3);
    char byte;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x20;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    pl_spool_recovery_t recovery;
    spool = pl_spool_open(&config, &recovery);
    assert_int_equal(recovery.records, 6);
    assert_int_equal(recovery.torn, 1);
    assert_int_equal(recovery.truncated_bytes, 4 * size);
    pl_spool_close(&spool);
}

/* Appends records 0..14 to a spool bounded at ten; returns it. */
static pl_spool_t *s_overfill(fixture_t *fixture, pl_spool_full_t policy,
                              int *results)
{
    uint64_t size = s_record_bytes();
    pl_spool_config_t config = s_config(fixture, 10 * size);
    config.full = policy;
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    assert_non_null(spool);
    for (int k = 0; k < 15; k++) {
        mdbp_record_t record = s_trade(k);
        results[k] = pl_spool_append(spool, &record, T0_NS + k);
    }
    assert_int_equal(pl_spool_max_bytes(spool), 10 * size);
    assert_true(pl_spool_bytes(spool) <= 10 * size);
    return spool;
}

static void s_expect_range(pl_spool_t *spool, int first, int count)
{
    mdbp_record_t out[32];
    assert_int_equal(pl_spool_take(spool, out, 32, T0_NS + 100), count);
    for (int k = 0; k < count; k++)
        assert_int_equal(out[k].ts_ns, T0_NS + first + k);
}

static void test_full_drop_oldest_drops_exactly_the_oldest(void **state)
{
    int results[15];
    pl_spool_t *spool = s_overfill(*state, PL_SPOOL_FULL_DROP_OLDEST, results);
    for (int k = 0; k < 15; k++)
        assert_int_equal(results[k], 0);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_OLDEST), 5);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_NEWEST), 0);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_AGE), 0);
    assert_int_equal(pl_spool_records(spool), 10);
    s_expect_range(spool, 5, 10);
    pl_spool_close(&spool);
}

static void test_full_drop_newest_drops_exactly_the_newest(void **state)
{
    int results[15];
    pl_spool_t *spool = s_overfill(*state, PL_SPOOL_FULL_DROP_NEWEST, results);
    for (int k = 0; k < 15; k++)
        assert_int_equal(results[k], k < 10 ? 0 : PL_SPOOL_DROPPED);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_NEWEST), 5);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_OLDEST), 0);
    s_expect_range(spool, 0, 10);
    pl_spool_close(&spool);
}

static void test_full_block_refuses_without_dropping(void **state)
{
    int results[15];
    pl_spool_t *spool = s_overfill(*state, PL_SPOOL_FULL_BLOCK, results);
    for (int k = 0; k < 15; k++)
        assert_int_equal(results[k], k < 10 ? 0 : PL_SPOOL_FULL);
    for (uint64_t k = 0; k < PL_SPOOL_DROP_COUNT; k++)
        assert_int_equal(pl_spool_dropped(spool, (pl_spool_drop_t)k), 0);
    /* Room again once records leave: the caller's held record goes in. */
    mdbp_record_t out[3];
    assert_int_equal(pl_spool_take(spool, out, 3, T0_NS), 3);
    mdbp_record_t held = s_trade(10);
    assert_int_equal(pl_spool_append(spool, &held, T0_NS + 20), 0);
    assert_int_equal(pl_spool_records(spool), 8);
    pl_spool_close(&spool);
}

static void test_age_bound_drops_old_records_counted(void **state)
{
    fixture_t *fixture = *state;
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    config.max_age_ns = 10 * SEC;
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 5; k++) {
        mdbp_record_t record = s_trade(k);
        assert_int_equal(
            pl_spool_append(spool, &record, T0_NS + (k < 3 ? 0 : 5 * SEC)), 0);
    }
    /* At 12 s the first three are 12 s old: dropped as they reach the
     * head; the two 7 s old ones come out. */
    assert_int_equal(pl_spool_expire(spool, T0_NS + 9 * SEC), 0);
    mdbp_record_t out[8];
    assert_int_equal(pl_spool_take(spool, out, 8, T0_NS + 12 * SEC), 2);
    assert_int_equal(out[0].ts_ns, T0_NS + 3);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_AGE), 3);
    /* pl_spool_expire drops without reading out. */
    mdbp_record_t record = s_trade(9);
    pl_spool_append(spool, &record, T0_NS + 20 * SEC);
    assert_int_equal(pl_spool_expire(spool, T0_NS + 31 * SEC), 1);
    assert_int_equal(pl_spool_dropped(spool, PL_SPOOL_DROP_AGE), 4);
    assert_int_equal(pl_spool_records(spool), 0);
    pl_spool_close(&spool);
}

static void test_fsync_policies(void **state)
{
    fixture_t *fixture = *state;
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    mdbp_record_t record = s_trade(1);
    /* every record: one fdatasync per append */
    config.fsync = PL_SPOOL_FSYNC_RECORD;
    pl_spool_t *spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 5; k++)
        pl_spool_append(spool, &record, T0_NS + k);
    assert_int_equal(pl_spool_syncs(spool), 5);
    assert_int_equal(pl_spool_sync_due_ns(spool), INT64_MAX);
    pl_spool_close(&spool);
    /* interval: at most 100 ms after the first unsynced append */
    config.fsync = PL_SPOOL_FSYNC_INTERVAL;
    config.fsync_interval_ns = 100 * MS;
    spool = pl_spool_open(&config, NULL);
    pl_spool_append(spool, &record, T0_NS);
    pl_spool_append(spool, &record, T0_NS + 50 * MS);
    assert_int_equal(pl_spool_syncs(spool), 0);
    assert_int_equal(pl_spool_sync_due_ns(spool), T0_NS + 100 * MS);
    assert_int_equal(pl_spool_sync(spool, T0_NS + 99 * MS), 0);
    assert_int_equal(pl_spool_syncs(spool), 0);
    pl_spool_append(spool, &record, T0_NS + 100 * MS); /* due: syncs */
    assert_int_equal(pl_spool_syncs(spool), 1);
    assert_int_equal(pl_spool_sync_due_ns(spool), INT64_MAX);
    pl_spool_close(&spool);
    /* never */
    config.fsync = PL_SPOOL_FSYNC_NEVER;
    spool = pl_spool_open(&config, NULL);
    for (int k = 0; k < 5; k++)
        pl_spool_append(spool, &record, T0_NS + k * SEC);
    assert_int_equal(pl_spool_sync(spool, T0_NS + 60 * SEC), 0);
    assert_int_equal(pl_spool_syncs(spool), 0);
    assert_int_equal(pl_spool_sync_due_ns(spool), INT64_MAX);
    pl_spool_close(&spool);
}

static void test_not_a_spool_is_refused(void **state)
{
    fixture_t *fixture = *state;
    char path[PATH_BYTES * 2];
    snprintf(path, sizeof path, "%s/%s%016x%s", fixture->directory,
             PL_SPOOL_SEGMENT_PREFIX, 1, PL_SPOOL_SEGMENT_SUFFIX);
    FILE *file = fopen(path, "w");
    fputs("this is not a spool segment\n", file);
    fclose(file);
    pl_spool_config_t config = s_config(fixture, 1 << 20);
    assert_null(pl_spool_open(&config, NULL));
}

static mdbp_record_t s_quote(const char *symbol, int64_t ts, double bid)
{
    mdbp_record_t record = {.kind = MDBP_RECORD_QUOTE, .ts_ns = ts};
    snprintf(record.provider, sizeof record.provider, "live");
    snprintf(record.symbol, sizeof record.symbol, "%s", symbol);
    record.u.quote.bid = bid;
    return record;
}

static void test_conflation_keeps_the_latest_quote_per_symbol(void **state)
{
    (void)state;
    assert_true(pl_conflate_applies(MDBP_RECORD_QUOTE));
    assert_false(pl_conflate_applies(MDBP_RECORD_TRADE));
    assert_false(pl_conflate_applies(MDBP_RECORD_BAR));
    pl_conflate_t *table = pl_conflate_new(2);
    mdbp_record_t q;
    q = s_quote("AAPL", 1, 10);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_HELD);
    q = s_quote("MSFT", 2, 20);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_HELD);
    q = s_quote("AAPL", 3, 11);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_REPLACED);
    q = s_quote("AAPL", 4, 12);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_REPLACED);
    /* A third symbol does not fit: the caller spools it. */
    q = s_quote("GOOG", 5, 30);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_NO_ROOM);
    assert_int_equal(pl_conflate_count(table), 2);
    assert_int_equal(pl_conflate_replaced(table), 2);
    mdbp_record_t out[4];
    assert_int_equal(pl_conflate_take(table, out, 1), 1);
    /* First come first out, with the latest values. */
    assert_string_equal(out[0].symbol, "AAPL");
    assert_int_equal(out[0].ts_ns, 4);
    assert_true(out[0].u.quote.bid == 12);
    /* A slot freed at the front takes a new symbol. */
    q = s_quote("GOOG", 6, 31);
    assert_int_equal(pl_conflate_offer(table, &q), PL_CONFLATE_HELD);
    assert_int_equal(pl_conflate_take(table, out, 4), 2);
    assert_string_equal(out[0].symbol, "MSFT");
    assert_string_equal(out[1].symbol, "GOOG");
    assert_int_equal(pl_conflate_count(table), 0);
    assert_int_equal(pl_conflate_replaced(table), 2);
    pl_conflate_destroy(&table);
    assert_null(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_is_zlibs),
        cmocka_unit_test_setup_teardown(
            test_appends_read_back_in_order_across_segments, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_reopen_reads_back_unreleased_segments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_truncated_and_counted,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_crc_mismatch_cuts_the_segment_there, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_full_drop_oldest_drops_exactly_the_oldest, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_full_drop_newest_drops_exactly_the_newest, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_full_block_refuses_without_dropping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_age_bound_drops_old_records_counted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fsync_policies, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_spool_is_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_conflation_keeps_the_latest_quote_per_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
