/* test_sink_null: the URI checks shared by every sink, and the null sink
 * (counts everything as written, stores nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_sink_util.h"

#include "sc_sink.h"

static void test_check_uri_accepts_each_scheme(void **state)
{
    (void)state;
    char error[256];
    assert_int_equal(sc_sink_check_uri("null:", error, sizeof(error)), 0);
    assert_int_equal(
        sc_sink_check_uri("sqlite:./data/market.db", error, sizeof(error)), 0);
    assert_int_equal(sc_sink_check_uri("sqlite::memory:", error, sizeof(error)),
                     0);
}

static void test_check_uri_rejects_with_a_message(void **state)
{
    (void)state;
    const char *bad[] = {
        "",           "mysql://localhost/db", "sqlite:",
        "null:extra", "SQLITE:x.db",          "sqlite:/", /* a directory */
    };
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        char error[256] = "";
        assert_int_equal(sc_sink_check_uri(bad[index], error, sizeof(error)),
                         -1);
        assert_true(strlen(error) > 0);
    }
    char error[256] = "";
    assert_int_equal(sc_sink_check_uri(NULL, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "empty"));
    assert_int_equal(sc_sink_check_uri("mysql://h/db", error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "mysql://h/db"));
}

static void test_null_counts_everything_as_written(void **state)
{
    (void)state;
    sc_sink_t *sink = sc_sink_new("null:");
    assert_non_null(sink);
    assert_string_equal(sc_sink_kind(sink), "null");
    assert_int_equal(sc_sink_ping(sink), SC_SINK_OK);

    enum { BATCH = 500 };
    static mdbp_record_t records[BATCH];
    test_fill_mixed(records, BATCH, "NULL", TEST_TS_BASE_NS);
    sc_sink_counts_t counts = {99, 99};
    assert_int_equal(sc_sink_write(sink, records, BATCH, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, BATCH);
    assert_int_equal(counts.duplicates, 0);
    /* It keeps no keys: the same batch again is "written" again. */
    assert_int_equal(sc_sink_write(sink, records, BATCH, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, BATCH);
    assert_int_equal(sc_sink_write(sink, NULL, 0, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, 0);
    assert_string_equal(sc_sink_error(sink), "");

    sc_sink_destroy(&sink);
    assert_null(sink);
    sc_sink_destroy(&sink); /* tolerates NULL */
}

/* Issue 15: the refusals no retry fixes, named from the error text. */
static void test_problem_of_a_refused_login_or_missing_database(void **state)
{
    (void)state;
    assert_int_equal(sc_sink_problem_of(""), SC_SINK_PROBLEM_NONE);
    assert_int_equal(sc_sink_problem_of(NULL), SC_SINK_PROBLEM_NONE);
    assert_int_equal(
        sc_sink_problem_of("postgres: connect: connection to server at "
                           "'127.0.0.1', port 5432 failed: FATAL: password "
                           "authentication failed for user 'postgres'"),
        SC_SINK_PROBLEM_AUTHENTICATION);
    assert_int_equal(sc_sink_problem_of("postgres: connect: fe_sendauth: no "
                                        "password supplied"),
                     SC_SINK_PROBLEM_AUTHENTICATION);
    assert_int_equal(sc_sink_problem_of("postgres: connect: FATAL: role "
                                        "'nobody' does not exist"),
                     SC_SINK_PROBLEM_AUTHENTICATION);
    assert_int_equal(sc_sink_problem_of("postgres: connect: FATAL: database "
                                        "'nodb' does not exist"),
                     SC_SINK_PROBLEM_NO_DATABASE);
    assert_int_equal(sc_sink_problem_of("postgres: connect: connection "
                                        "refused"),
                     SC_SINK_PROBLEM_NONE);
    assert_int_equal(sc_sink_problem_of("sqlite: begin transaction: database "
                                        "is locked (code 5)"),
                     SC_SINK_PROBLEM_NONE);
    assert_string_equal(sc_sink_problem_name(SC_SINK_PROBLEM_NO_DATABASE),
                        "database_missing");
    assert_non_null(strstr(sc_sink_problem_text(SC_SINK_PROBLEM_AUTHENTICATION),
                           "MDS_SINK"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_uri_accepts_each_scheme),
        cmocka_unit_test(test_check_uri_rejects_with_a_message),
        cmocka_unit_test(test_null_counts_everything_as_written),
        cmocka_unit_test(test_problem_of_a_refused_login_or_missing_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
