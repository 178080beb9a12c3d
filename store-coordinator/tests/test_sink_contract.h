/* test_sink_contract: what every sink must do, checked the same way for
 * each backend (include after <cmocka.h>; header-only).
 *
 * Each backend's test supplies a row counter that reads its database
 * through a connection of its own, so the check sees what was committed. */
#ifndef TEST_SINK_CONTRACT_H
#define TEST_SINK_CONTRACT_H

#include "sc_sink.h"
#include "test_sink_util.h"

/* Rows in `table` ("trades", "quotes", "bars") of the sink's database. */
typedef long long(test_count_rows_fn)(void *arg, const char *table);

static inline long long test_total_rows(test_count_rows_fn *count_rows,
                                        void *arg)
{
    return count_rows(arg, "trades") + count_rows(arg, "quotes") +
           count_rows(arg, "bars");
}

/* Into an empty database: a batch of every kind lands once; the same batch
 * again is all duplicates; a batch half old, half new, with one key twice
 * inside it, stores only the new half. */
static inline void
test_sink_lands_once(sc_sink_t *sink, test_count_rows_fn *count_rows, void *arg)
{
    enum { BATCH = 600 };
    static mdbp_record_t records[BATCH];
    test_fill_mixed(records, BATCH, "ACME", TEST_TS_BASE_NS);

    sc_sink_counts_t counts;
    assert_int_equal(sc_sink_write(sink, records, BATCH, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, BATCH);
    assert_int_equal(counts.duplicates, 0);
    assert_int_equal(count_rows(arg, "trades"),
                     test_mixed_kind_count(BATCH, MDBP_RECORD_TRADE));
    assert_int_equal(count_rows(arg, "quotes"),
                     test_mixed_kind_count(BATCH, MDBP_RECORD_QUOTE));
    assert_int_equal(count_rows(arg, "bars"),
                     test_mixed_kind_count(BATCH, MDBP_RECORD_BAR));

    /* Redelivery: every record a duplicate, nothing changes. */
    assert_int_equal(sc_sink_write(sink, records, BATCH, &counts), SC_SINK_OK);
    assert_int_equal(counts.written, 0);
    assert_int_equal(counts.duplicates, BATCH);
    assert_int_equal(test_total_rows(count_rows, arg), BATCH);

    static mdbp_record_t mixed[BATCH + 1];
    test_fill_mixed(mixed, BATCH, "ACME", TEST_TS_BASE_NS + BATCH / 2 * 1000);
    mixed[BATCH] = mixed[BATCH - 1];
    assert_int_equal(sc_sink_write(sink, mixed, BATCH + 1, &counts),
                     SC_SINK_OK);
    assert_int_equal(counts.written, BATCH / 2);
    assert_int_equal(counts.duplicates, BATCH / 2 + 1);
    assert_int_equal(test_total_rows(count_rows, arg), BATCH + BATCH / 2);
    assert_string_equal(sc_sink_error(sink), "");
}

#endif
