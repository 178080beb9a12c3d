/* Unit tests for the dead-letter file: lines are NDJSON records with a
 * reason, readable back with proto_text, appended across writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sc_dlq.h"
#include "proto_text.h"

#define LINE_BYTES 4096

static void make_quote(proto_record_t *record, int64_t ts_ns)
{
    memset(record, 0, sizeof *record);
    record->kind = PROTO_RECORD_QUOTE;
    strcpy(record->provider, "synthetic");
    strcpy(record->symbol, "MSFT");
    record->ts_ns = ts_ns;
    record->u.quote.bid = 100.25;
    record->u.quote.bid_size = 3;
    record->u.quote.ask = 100.5;
    record->u.quote.ask_size = 4;
}

static void test_lines_read_back(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dlq_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    sc_dlq_t *first = sc_dlq_new(path);
    sc_dlq_t *second = sc_dlq_new(path);
    proto_record_t record;
    make_quote(&record, 1);
    assert_int_equal(sc_dlq_append(first, &record, "CHECK constraint"), 0);
    make_quote(&record, 2);
    assert_int_equal(sc_dlq_append(second, &record, "say \"why\"\n"), 0);
    make_quote(&record, 3);
    assert_int_equal(sc_dlq_append(first, &record, NULL), 0);
    assert_int_equal(sc_dlq_sync(first), 0);
    assert_int_equal(sc_dlq_sync(second), 0);
    assert_int_equal(sc_dlq_count(first), 2);
    assert_string_equal(sc_dlq_path(first), path);
    sc_dlq_destroy(&first);
    sc_dlq_destroy(&second);
    assert_null(first);

    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char line[LINE_BYTES];
    int64_t expected = 1;
    while (fgets(line, sizeof line, file)) {
        proto_record_t back;
        proto_error_t error;
        assert_non_null(strstr(line, "\"reason\""));
        assert_int_equal(proto_text_parse_json(line, &back, &error), 0);
        assert_int_equal(back.kind, PROTO_RECORD_QUOTE);
        assert_int_equal(back.ts_ns, expected);
        assert_string_equal(back.symbol, "MSFT");
        assert_true(back.u.quote.ask == 100.5);
        expected++;
    }
    assert_int_equal(expected, 4);
    fclose(file);
    unlink(path);
}

static void test_unwritable_path_fails_cleanly(void **state)
{
    (void)state;
    sc_dlq_t *dlq = sc_dlq_new("/nonexistent-dir/dead-letter.ndjson");
    proto_record_t record;
    make_quote(&record, 1);
    assert_int_equal(sc_dlq_append(dlq, &record, "x"), -1);
    assert_int_equal(sc_dlq_sync(dlq), 0);
    assert_int_equal(sc_dlq_count(dlq), 0);
    sc_dlq_destroy(&dlq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_read_back),
        cmocka_unit_test(test_unwritable_path_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
