/* test_sink_sqlite: the SQLite sink against a real database file in a temp
 * dir: rows land, redelivery is ignored, a rejected record fails the whole
 * batch, a lock held by another connection is TRANSIENT until released, and
 * bad paths are errors, not crashes. Row counts are read back through a
 * separate sqlite3 connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_sink_contract.h"

#include <math.h>
#include <sqlite3.h>

#include "sc_sink.h"

typedef struct {
    char dir[256];  /* the test's temp dir */
    char path[320]; /* database file inside it */
    char uri[336];  /* "sqlite:" + path */
    sc_sink_t *sink;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    assert_int_equal(test_make_temp_dir(fixture->dir, sizeof(fixture->dir)), 0);
    snprintf(fixture->path, sizeof(fixture->path), "%s/market.db",
             fixture->dir);
    snprintf(fixture->uri, sizeof(fixture->uri), "sqlite:%s", fixture->path);
    char error[256];
    assert_int_equal(sc_sink_check_uri(fixture->uri, error, sizeof(error)), 0);
    fixture->sink = sc_sink_new(fixture->uri);
    assert_non_null(fixture->sink);
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = *state;
    sc_sink_destroy(&fixture->sink);
    test_remove_tree(fixture->dir);
    free(fixture);
    return 0;
}

/* Rows in `table`, read through a connection of our own. */
static long s_count_rows(const fixture_t *fixture, const char *table)
{
    sqlite3 *db = NULL;
    assert_int_equal(
        sqlite3_open_v2(fixture->path, &db, SQLITE_OPEN_READONLY, NULL),
        SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long rows = (long)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
}

/* s_count_rows as the contract's counter. */
static long long s_counter(void *fixture, const char *table)
{
    return s_count_rows(fixture, table);
}

static long s_total_rows(const fixture_t *fixture)
{
    return (long)test_total_rows(s_counter, (void *)fixture);
}

static void test_batches_of_each_kind_land_once(void **state)
{
    fixture_t *fixture = *state;
    assert_string_equal(sc_sink_kind(fixture->sink), "sqlite");
    test_sink_lands_once(fixture->sink, s_counter, fixture);
}

static void test_values_round_trip(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[3] = {
        test_trade("RT", TEST_TS_BASE_NS, 101.25, 7),
        test_quote("RT", TEST_TS_BASE_NS, 99.5, 100.5),
        test_bar("RT", TEST_TS_BASE_NS + 1, 90, 110),
    };
    records[2].u.bar.close = 105;
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 3, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 3);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fixture->path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT t.provider, t.ts_ns, t.price, t.size, q.ask,"
                           " b.close, b.low, t.ingested_at FROM trades t, "
                           "quotes q, bars b WHERE t.symbol = 'RT' AND "
                           "q.symbol = 'RT' AND b.symbol = 'RT'",
                           -1, &stmt, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0),
                        TEST_PROVIDER);
    assert_true(sqlite3_column_int64(stmt, 1) == TEST_TS_BASE_NS);
    assert_true(sqlite3_column_double(stmt, 2) == 101.25);
    assert_true(sqlite3_column_double(stmt, 3) == 7);
    assert_true(sqlite3_column_double(stmt, 4) == 100.5);
    assert_true(sqlite3_column_double(stmt, 5) == 105);
    assert_true(sqlite3_column_double(stmt, 6) == 90);
    assert_true(sqlite3_column_int64(stmt, 7) > TEST_TS_BASE_NS);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* Writes a batch of fresh records with record `bad_index` replaced by `bad`;
 * expects PERMANENT and that nothing of the batch was stored. */
static void s_expect_rejected(fixture_t *fixture, mdbp_record_t bad,
                              int64_t ts_base_ns)
{
    enum { BATCH = 50, BAD_INDEX = 37 };
    mdbp_record_t records[BATCH];
    test_fill_mixed(records, BATCH, "REJ", ts_base_ns);
    records[BAD_INDEX] = bad;
    long before = s_total_rows(fixture);
    sc_sink_counts_t counts = {1, 1};
    assert_int_equal(sc_sink_write(fixture->sink, records, BATCH, &counts),
                     SC_SINK_PERMANENT);
    assert_int_equal(counts.written, 0);
    assert_int_equal(counts.duplicates, 0);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "record 37"));
    assert_null(strchr(sc_sink_error(fixture->sink), '"'));
    assert_int_equal(s_total_rows(fixture), before);
}

static void test_rejected_record_fails_the_whole_batch(void **state)
{
    fixture_t *fixture = *state;
    /* A first good batch so the rejected ones run on an open connection. */
    mdbp_record_t good[10];
    test_fill_mixed(good, 10, "GOOD", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, good, 10, &counts),
                     SC_SINK_OK);

    int64_t base = TEST_TS_BASE_NS + INT64_C(1000000000);
    s_expect_rejected(fixture, test_trade("BAD", base, -1, 1), base);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "CHECK"));
    s_expect_rejected(fixture, test_trade("BAD", base, 0, 1), base);
    s_expect_rejected(fixture, test_trade("BAD", base, 10, -5), base);
    s_expect_rejected(fixture, test_quote("BAD", base, 10, -1), base);
    s_expect_rejected(fixture, test_bar("BAD", base, 20, 10), base); /* h<l */
    s_expect_rejected(fixture, test_trade("BAD", base, NAN, 1), base);
    s_expect_rejected(fixture, test_trade("BAD", base, INFINITY, 1), base);
    s_expect_rejected(fixture, test_trade("", base, 10, 1), base);
    mdbp_record_t unknown = test_trade("BAD", base, 10, 1);
    unknown.kind = (mdbp_record_kind_t)7;
    s_expect_rejected(fixture, unknown, base);

    /* The connection goes on working after a rejected batch. */
    mdbp_record_t next[10];
    test_fill_mixed(next, 10, "NEXT", base);
    assert_int_equal(sc_sink_write(fixture->sink, next, 10, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 10);
    assert_int_equal(s_total_rows(fixture), 20);
}

static void test_lock_held_elsewhere_is_transient(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[30];
    test_fill_mixed(records, 30, "LOCK", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    /* Connect and create the schema first. */
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);

    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(fixture->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(other,
                                  "INSERT INTO trades VALUES ('other', 'LOCK',"
                                  " 1, 1.0, 1.0, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "locked"));
    /* Still locked: still transient, still nothing written. */
    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_TRANSIENT);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);

    assert_int_equal(sc_sink_write(fixture->sink, records, 30, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 30);
    assert_int_equal(s_total_rows(fixture), 31);
}

static void test_dropped_table_recovers_on_next_write(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[9];
    test_fill_mixed(records, 9, "DROP", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 9, &counts),
                     SC_SINK_OK);

    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(fixture->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "DROP TABLE quotes", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);

    /* The prepared INSERT fails; the sink reports TRANSIENT, reconnects on
     * the next write and recreates the schema. Trades and bars of the first
     * attempt must not be stored. */
    int64_t base = TEST_TS_BASE_NS + 1000000;
    test_fill_mixed(records, 9, "DROP", base);
    sc_sink_status_t status = sc_sink_write(fixture->sink, records, 9, &counts);
    assert_int_equal(status, SC_SINK_TRANSIENT);
    assert_int_equal(s_count_rows(fixture, "trades"), 3);
    assert_int_equal(sc_sink_write(fixture->sink, records, 9, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 9);
    assert_int_equal(s_count_rows(fixture, "quotes"), 3);
    assert_int_equal(s_total_rows(fixture), 15);
}

/* The database file removed while the sink has it open: SQLite would go on
 * "committing" into the deleted inode. The sink notices, reports TRANSIENT,
 * and the retry writes into a new file (orphaned -wal/-shm removed). */
static void test_removed_file_is_noticed_and_recreated(void **state)
{
    fixture_t *fixture = *state;
    mdbp_record_t records[6];
    test_fill_mixed(records, 6, "GONE", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(fixture->sink, records, 6, &counts),
                     SC_SINK_OK);
    assert_int_equal(unlink(fixture->path), 0);
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "removed"));

    test_fill_mixed(records, 6, "GONE", TEST_TS_BASE_NS + 1000);
    sc_sink_status_t status = SC_SINK_TRANSIENT;
    for (int attempt = 0; attempt < 3 && status != SC_SINK_OK; attempt++)
        status = sc_sink_write(fixture->sink, records, 6, &counts);
    assert_int_equal(status, SC_SINK_OK);
    assert_int_equal(counts.written, 6);
    /* Only the rows written after the removal, in the new file. */
    assert_int_equal(s_total_rows(fixture), 6);

    /* Replaced by another file between two writes: the same. */
    char moved[400];
    snprintf(moved, sizeof(moved), "%s.old", fixture->path);
    assert_int_equal(rename(fixture->path, moved), 0);
    test_fill_mixed(records, 6, "GONE", TEST_TS_BASE_NS + 2000);
    assert_int_equal(sc_sink_write(fixture->sink, records, 6, &counts),
                     SC_SINK_TRANSIENT);
    assert_int_equal(sc_sink_write(fixture->sink, records, 6, &counts),
                     SC_SINK_OK);
    assert_int_equal(s_total_rows(fixture), 6);
}

/* A full disk, made portable: an auto-extension caps every new connection
 * of this process at a few pages (PRAGMA max_page_count), so SQLite answers
 * SQLITE_FULL as it does when the disk is full. */
static int s_page_limit; /* 0: no cap */

static int s_cap_pages(sqlite3 *db, const char **error, const void *api)
{
    (void)error;
    (void)api;
    if (s_page_limit > 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%d", s_page_limit);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    return SQLITE_OK;
}

static void test_disk_full_is_transient_and_recovers(void **state)
{
    fixture_t *fixture = *state;
    s_page_limit = 16;
    assert_int_equal(sqlite3_auto_extension((void (*)(void))s_cap_pages),
                     SQLITE_OK);
    enum { BATCH = 200, ATTEMPTS = 100 };
    mdbp_record_t records[BATCH];
    sc_sink_counts_t counts;
    sc_sink_status_t status = SC_SINK_OK;
    int batches = 0;
    while (status == SC_SINK_OK && batches < ATTEMPTS) {
        test_fill_mixed(records, BATCH, "FULL",
                        TEST_TS_BASE_NS + (int64_t)batches * BATCH);
        status = sc_sink_write(fixture->sink, records, BATCH, &counts);
        batches += status == SC_SINK_OK;
    }
    /* Retrying may succeed once space is freed: never PERMANENT (which
     * would dead-letter good data), never a crash; nothing half-stored. */
    assert_int_equal(status, SC_SINK_TRANSIENT);
    assert_non_null(strstr(sc_sink_error(fixture->sink), "full"));
    s_page_limit = 0;
    long stored = s_total_rows(fixture);
    assert_int_equal(stored, (long)batches * BATCH);

    /* Space again (the cap lifted): the same batch goes through. */
    assert_int_equal(sc_sink_write(fixture->sink, records, BATCH, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, BATCH);
    assert_int_equal(s_total_rows(fixture), stored + BATCH);
    sqlite3_cancel_auto_extension((void (*)(void))s_cap_pages);
}

static void test_missing_directories_are_created(void **state)
{
    fixture_t *fixture = *state;
    char uri[512];
    snprintf(uri, sizeof(uri), "sqlite:%s/new/deeper/market.db", fixture->dir);
    sc_sink_t *sink = sc_sink_new(uri);
    assert_non_null(sink);
    mdbp_record_t records[3];
    test_fill_mixed(records, 3, "DIR", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(sink, records, 3, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, 3);
    sc_sink_destroy(&sink);
}

static void test_impossible_path_is_an_error_not_a_crash(void **state)
{
    fixture_t *fixture = *state;
    /* A regular file where a directory should be: mkdir fails even as
     * root (which ignores permission bits). */
    char file[400];
    snprintf(file, sizeof(file), "%s/plain-file", fixture->dir);
    FILE *handle = fopen(file, "w");
    assert_non_null(handle);
    fclose(handle);

    char uri[512];
    snprintf(uri, sizeof(uri), "sqlite:%s/sub/market.db", file);
    char error[256];
    assert_int_equal(sc_sink_check_uri(uri, error, sizeof(error)), 0);
    sc_sink_t *sink = sc_sink_new(uri);
    assert_non_null(sink);
    mdbp_record_t records[3];
    test_fill_mixed(records, 3, "BADPATH", TEST_TS_BASE_NS);
    sc_sink_counts_t counts;
    for (int attempt = 0; attempt < 2; attempt++) {
        assert_int_equal(sc_sink_write(sink, records, 3, &counts),
                         SC_SINK_TRANSIENT);
        assert_non_null(strstr(sc_sink_error(sink), "plain-file"));
        assert_int_equal(sc_sink_ping(sink), SC_SINK_TRANSIENT);
    }
    sc_sink_destroy(&sink);

    /* The file itself is not a database. */
    snprintf(uri, sizeof(uri), "sqlite:%s", file);
    handle = fopen(file, "w");
    assert_non_null(handle);
    fputs("this is not a database, just text long enough to have a header "
          "that SQLite will refuse to read as one of its own files.\n",
          handle);
    fclose(handle);
    sink = sc_sink_new(uri);
    assert_non_null(sink);
    assert_int_equal(sc_sink_write(sink, records, 3, &counts),
                     SC_SINK_TRANSIENT);
    assert_true(strlen(sc_sink_error(sink)) > 0);
    sc_sink_destroy(&sink);
}

static void test_empty_batch_and_ping(void **state)
{
    fixture_t *fixture = *state;
    sc_sink_counts_t counts = {5, 5};
    assert_int_equal(sc_sink_write(fixture->sink, NULL, 0, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, 0);
    assert_int_equal(counts.duplicates, 0);
    assert_int_equal(sc_sink_ping(fixture->sink), SC_SINK_OK);
    /* The schema exists after the first connection. */
    assert_int_equal(s_total_rows(fixture), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batches_of_each_kind_land_once,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_values_round_trip, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_rejected_record_fails_the_whole_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lock_held_elsewhere_is_transient,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_dropped_table_recovers_on_next_write, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_removed_file_is_noticed_and_recreated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_disk_full_is_transient_and_recovers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_directories_are_created,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_impossible_path_is_an_error_not_a_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_empty_batch_and_ping, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
