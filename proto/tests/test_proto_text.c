/* Unit tests of mdbp_text: NDJSON and CSV records, read strictly with exact
 * error texts, and the NDJSON writer of the dead-letter file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <mdbp/text.h>

#define LINE_BYTES 1024

static void test_json_valid(void **state)
{
    (void)state;
    mdbp_record_t record;
    mdbp_error_t error = {{0}};
    const char *trade = "{\"kind\":\"trade\",\"provider\":\"ibkr\",\"symbol\":"
                        "\"AAPL\",\"ts_ns\":1700000000000000000,\"price\":"
                        "189.5,\"size\":100}";
    if (mdbp_text_parse_json(trade, &record, &error))
        fail_msg("%s", error.text);
    assert_int_equal(record.kind, MDBP_RECORD_TRADE);
    assert_string_equal(record.provider, "ibkr");
    assert_string_equal(record.symbol, "AAPL");
    assert_true(record.ts_ns == 1700000000000000000LL);
    assert_true(record.u.trade.price == 189.5);
    assert_true(record.u.trade.size == 100);

    /* Any key order, white space, unknown keys of every scalar type,
     * escapes, a trailing newline. */
    const char *quote =
        "  { \"ts_ns\" : 9223372036854775807 , \"ask_size\":0, \"bid\":1e-3,"
        "\"reason\":\"refused: \\\"x\\\" \\u00e9\\ud83d\\ude00\",\"extra\":"
        "null,\"flag\":true,\"other\":false,\"n\":-1.5E+2,\"kind\":\"quote\","
        "\"provider\":\"p\\/q\\\\r\",\"symbol\":\"\\u0041B\","
        "\"bid_size\":2,\"ask\":0.002} \n";
    if (mdbp_text_parse_json(quote, &record, &error))
        fail_msg("%s", error.text);
    assert_int_equal(record.kind, MDBP_RECORD_QUOTE);
    assert_string_equal(record.provider, "p/q\\r");
    assert_string_equal(record.symbol, "AB");
    assert_true(record.ts_ns == INT64_MAX);
    assert_true(record.u.quote.bid == 0.001);
    assert_true(record.u.quote.bid_size == 2);
    assert_true(record.u.quote.ask == 0.002);
    assert_true(record.u.quote.ask_size == 0);

    const char *bar = "{\"kind\":\"bar\",\"provider\":\"synthetic\",\"symbol\":"
                      "\"ES=F\",\"ts_ns\":1,\"open\":2,\"high\":3,\"low\":1,"
                      "\"close\":2.5,\"volume\":0}";
    if (mdbp_text_parse_json(bar, &record, &error))
        fail_msg("%s", error.text);
    assert_int_equal(record.kind, MDBP_RECORD_BAR);
    assert_true(record.u.bar.high == 3 && record.u.bar.close == 2.5);
}

static void test_json_errors(void **state)
{
    (void)state;
    struct {
        const char *line;
        const char *text;
    } cases[] = {
        {"", "json: expected '{' at column 1"},
        {"[1]", "json: expected '{' at column 1"},
        {"{\"kind\" \"trade\"}", "json: expected ':' at column 9"},
        {"{kind:1}", "json: expected a key at column 2"},
        {"{\"kind\":\"trade\" \"x\":1}",
         "json: expected ',' or '}' at column 17"},
        {"{\"kind\":\"trade\",}", "json: expected a key at column 17"},
        {"{\"kind\":\"tra", "json: unterminated string at column 9"},
        {"{\"kind\":\"a\\qb\"}", "json: invalid escape at column 11"},
        {"{\"kind\":\"\\u12\"}", "json: invalid escape at column 10"},
        {"{\"kind\":\"\\ud800x\"}", "json: invalid escape at column 10"},
        {"{\"kind\":\"\\u0000\"}",
         "json: NUL character in string at column 10"},
        {"{\"kind\":\"a\tb\"}",
         "json: control character in string at column 11"},
        {"{\"price\":01}", "json: invalid number at column 10"},
        {"{\"price\":1.}", "json: invalid number at column 10"},
        {"{\"price\":+1}", "json: expected a string or a number at column 10"},
        {"{\"price\":NaN}", "json: expected a string or a number at column 10"},
        {"{\"x\":{\"a\":1}}",
         "json: expected a string or a number at column 6"},
        {"{\"x\":[1]}", "json: expected a string or a number at column 6"},
        {"{} x", "json: unexpected text after the object at column 4"},
        {"{}", "json: missing key 'kind'"},
        {"{\"kind\":\"tick\"}",
         "json: key 'kind': expected \"trade\", \"quote\" or \"bar\""},
        {"{\"kind\":\"trade\",\"kind\":\"bar\"}", "json: duplicate key 'kind'"},
        {"{\"kind\":\"trade\"}", "json: missing key 'provider'"},
        {"{\"kind\":\"trade\",\"provider\":1}",
         "json: key 'provider': expected a string"},
        {"{\"kind\":\"trade\",\"provider\":\"\"}",
         "json: field 'provider': empty"},
        /* Unicode controls, raw or escaped (issue 12). */
        {"{\"kind\":\"trade\",\"provider\":\"p\\u202e\",\"symbol\":\"s\","
         "\"ts_ns\":1,\"price\":1,\"size\":1}",
         "json: field 'provider' contains a control character"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\xc2\x85\","
         "\"ts_ns\":1,\"price\":1,\"size\":1}",
         "json: field 'symbol' contains a control character"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\\u2029\","
         "\"ts_ns\":1,\"price\":1,\"size\":1}",
         "json: field 'symbol' contains a control character"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":"
         "\"012345678901234567890123456789012\"}",
         "json: field 'symbol': longer than 32 bytes"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\"}",
         "json: missing key 'ts_ns'"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1."
         "5}",
         "json: key 'ts_ns': expected an integer"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":"
         "\"1\"}",
         "json: key 'ts_ns': expected an integer"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":"
         "9223372036854775808}",
         "json: key 'ts_ns': out of range"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"price\":1}",
         "json: missing key 'size'"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"price\":\"1\",\"size\":1}",
         "json: key 'price': expected a number"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"price\":1e999,\"size\":1}",
         "json: key 'price': out of range"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"price\":0,\"size\":1}",
         "json: field 'price' must be > 0"},
        {"{\"kind\":\"trade\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":-1,"
         "\"price\":1,\"size\":1}",
         "json: field 'ts_ns' must be > 0"},
        {"{\"kind\":\"bar\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"open\":1,\"high\":1,\"low\":2,\"close\":1,\"volume\":1}",
         "json: field 'high' must be >= 'low'"},
        {"{\"kind\":\"quote\",\"provider\":\"p\",\"symbol\":\"s\",\"ts_ns\":1,"
         "\"bid\":1,\"bid_size\":-1,\"ask\":1,\"ask_size\":1}",
         "json: field 'bid_size' must be >= 0"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        mdbp_record_t record;
        mdbp_error_t error = {{0}};
        if (mdbp_text_parse_json(cases[index].line, &record, &error) != -1)
            fail_msg("case %zu accepted: %s", index, cases[index].line);
        if (strcmp(error.text, cases[index].text) != 0)
            fail_msg("case %zu: got '%s', expected '%s'", index, error.text,
                     cases[index].text);
    }
}

static void test_csv_valid(void **state)
{
    (void)state;
    mdbp_record_t record;
    mdbp_error_t error = {{0}};
    assert_int_equal(
        mdbp_text_parse_csv("kind,provider,symbol,ts_ns,f1,f2,f3,f4,f5\n",
                             &record, &error),
        1);
    assert_int_equal(
        mdbp_text_parse_csv("trade,ibkr,AAPL,1700000000000000000,189.5,100\n",
                             &record, &error),
        0);
    assert_int_equal(record.kind, MDBP_RECORD_TRADE);
    assert_string_equal(record.provider, "ibkr");
    assert_string_equal(record.symbol, "AAPL");
    assert_true(record.ts_ns == 1700000000000000000LL);
    assert_true(record.u.trade.price == 189.5);
    assert_true(record.u.trade.size == 100);
    assert_int_equal(
        mdbp_text_parse_csv("quote,ibkr,AAPL,2,189.49,300,189.51,2e2\r\n",
                             &record, &error),
        0);
    assert_int_equal(record.kind, MDBP_RECORD_QUOTE);
    assert_true(record.u.quote.ask_size == 200);
    assert_int_equal(
        mdbp_text_parse_csv("bar,ibkr,AAPL,3,189,190.25,188.75,189.5,125000",
                             &record, &error),
        0);
    assert_int_equal(record.kind, MDBP_RECORD_BAR);
    assert_true(record.u.bar.low == 188.75);
    assert_true(record.u.bar.volume == 125000);
}

static void test_csv_errors(void **state)
{
    (void)state;
    struct {
        const char *line;
        const char *text;
    } cases[] = {
        {"", "csv: field 1 (kind): expected trade|quote|bar"},
        {"tick,p,s,1,1,1", "csv: field 1 (kind): expected trade|quote|bar"},
        {"trade,p,s,1,1", "csv: a trade has 6 fields, got 5"},
        {"trade,p,s,1,1,1,1", "csv: a trade has 6 fields, got 7"},
        {"quote,p,s,1,1,1,1", "csv: a quote has 8 fields, got 7"},
        {"bar,p,s,1,1,1,1,1,1,1,1,1,1", "csv: a bar has 9 fields, got 13"},
        {"trade,,s,1,1,1", "csv: field 'provider': empty"},
        {"trade,p,012345678901234567890123456789012,1,1,1",
         "csv: field 'symbol': longer than 32 bytes"},
        {"trade,p,s,1.0,1,1", "csv: field 4 (ts_ns): expected an integer"},
        {"trade,p,s,,1,1", "csv: field 4 (ts_ns): expected an integer"},
        {"trade,p,s,99999999999999999999,1,1",
         "csv: field 4 (ts_ns): expected an integer"},
        {"trade,p,s,1,abc,1", "csv: field 5 (price): expected a number"},
        {"trade,p,s,1, 1,1", "csv: field 5 (price): expected a number"},
        {"trade,p,s,1,1,", "csv: field 6 (size): expected a number"},
        {"trade,p,s,1,1,inf", "csv: field 6 (size): expected a number"},
        {"trade,p,s,1,1,1e999", "csv: field 6 (size): expected a number"},
        {"trade,p,s,1,0,1", "csv: field 'price' must be > 0"},
        {"trade,p,s,0,1,1", "csv: field 'ts_ns' must be > 0"},
        {"trade,p,s\t,1,1,1",
         "csv: field 'symbol' contains a control character"},
        /* Unicode controls (issue 12): U+0085, U+2028, U+202E, U+2069. */
        {"trade,p,A\xc2\x85,1,1,1",
         "csv: field 'symbol' contains a control character"},
        {"trade,p,A\xe2\x80\xa8,1,1,1",
         "csv: field 'symbol' contains a control character"},
        {"trade,\xe2\x80\xaep,s,1,1,1",
         "csv: field 'provider' contains a control character"},
        {"trade,p,\xe2\x81\xa9s,1,1,1",
         "csv: field 'symbol' contains a control character"},
        {"bar,p,s,1,1,1,2,1,1", "csv: field 'high' must be >= 'low'"},
        {"quote,p,s,1,1,1,1,-0.5", "csv: field 'ask_size' must be >= 0"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        mdbp_record_t record;
        mdbp_error_t error = {{0}};
        if (mdbp_text_parse_csv(cases[index].line, &record, &error) != -1)
            fail_msg("case %zu accepted: %s", index, cases[index].line);
        if (strcmp(error.text, cases[index].text) != 0)
            fail_msg("case %zu: got '%s', expected '%s'", index, error.text,
                     cases[index].text);
    }
}

static void test_format_round_trip(void **state)
{
    (void)state;
    mdbp_record_t records[3];
    memset(records, 0, sizeof records);
    records[0].kind = MDBP_RECORD_TRADE;
    strcpy(records[0].provider, "ib\"kr\\");
    strcpy(records[0].symbol, "A\nB\x01");
    records[0].ts_ns = 1700000000000000000LL;
    records[0].u.trade.price = 0.1;
    records[0].u.trade.size = 1e300;
    records[1].kind = MDBP_RECORD_QUOTE;
    strcpy(records[1].provider, "p");
    strcpy(records[1].symbol, "\xc3\xa9t\xc3\xa9");
    records[1].ts_ns = INT64_MAX;
    records[1].u.quote.bid = 189.49;
    records[1].u.quote.bid_size = 300;
    records[1].u.quote.ask = 1.0 / 3.0;
    records[1].u.quote.ask_size = 0;
    records[2].kind = MDBP_RECORD_BAR;
    strcpy(records[2].provider, "synthetic");
    strcpy(records[2].symbol, "ES=F");
    records[2].ts_ns = 1;
    records[2].u.bar.open = 4500.25;
    records[2].u.bar.high = 4510;
    records[2].u.bar.low = 4490.5;
    records[2].u.bar.close = 4.9e-324;
    records[2].u.bar.volume = 12345.5;
    for (int index = 0; index < 3; index++) {
        char line[LINE_BYTES];
        int length = mdbp_text_format_json(
            &records[index], index == 1 ? "db: \"refused\"\n" : NULL, line,
            sizeof line);
        assert_true(length > 0);
        assert_int_equal((size_t)length, strlen(line));
        mdbp_record_t back;
        mdbp_error_t error = {{0}};
        /* records[0] has a control character: not valid, but it still
         * reads back up to validation. */
        int rc = mdbp_text_parse_json(line, &back, &error);
        if (index == 0) {
            assert_int_equal(rc, -1);
            assert_string_equal(
                error.text,
                "json: field 'symbol' contains a control character");
            assert_string_equal(back.symbol, records[0].symbol);
            assert_string_equal(back.provider, records[0].provider);
            assert_true(back.u.trade.price == 0.1);
            assert_true(back.u.trade.size == 1e300);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", line, error.text);
        assert_int_equal(back.kind, records[index].kind);
        assert_string_equal(back.provider, records[index].provider);
        assert_string_equal(back.symbol, records[index].symbol);
        assert_true(back.ts_ns == records[index].ts_ns);
        assert_memory_equal(&back.u, &records[index].u, sizeof back.u);
    }
}

static void test_format_exact(void **state)
{
    (void)state;
    mdbp_record_t record;
    memset(&record, 0, sizeof record);
    record.kind = MDBP_RECORD_TRADE;
    strcpy(record.provider, "ibkr");
    strcpy(record.symbol, "AAPL");
    record.ts_ns = 1700000000000000000LL;
    record.u.trade.price = 189.5;
    record.u.trade.size = 100;
    char line[LINE_BYTES];
    const char *expected =
        "{\"kind\":\"trade\",\"provider\":\"ibkr\",\"symbol\":\"AAPL\","
        "\"ts_ns\":1700000000000000000,\"price\":189.5,\"size\":100}";
    assert_int_equal(mdbp_text_format_json(&record, NULL, line, sizeof line),
                     (int)strlen(expected));
    assert_string_equal(line, expected);
    /* Exactly enough room (the NUL included), then one byte less. */
    assert_int_equal(
        mdbp_text_format_json(&record, NULL, line, strlen(expected) + 1),
        (int)strlen(expected));
    assert_int_equal(
        mdbp_text_format_json(&record, NULL, line, strlen(expected)), -1);
    /* A dead letter with a value JSON cannot hold. */
    record.u.trade.price = NAN;
    record.u.trade.size = -INFINITY;
    assert_true(
        mdbp_text_format_json(&record, "not finite", line, sizeof line) > 0);
    assert_string_equal(
        line, "{\"kind\":\"trade\",\"provider\":\"ibkr\",\"symbol\":\"AAPL\","
              "\"ts_ns\":1700000000000000000,\"price\":null,\"size\":null,"
              "\"reason\":\"not finite\"}");
    mdbp_record_t back;
    mdbp_error_t error;
    assert_int_equal(mdbp_text_parse_json(line, &back, &error), -1);
    assert_string_equal(error.text, "json: key 'price': expected a number");
}

/* The examples printed in ingest.md section 7 read as documented. */
/* The JSON form of a feedback event (tail output, webhook body): exact text,
 * optional keys only when present, escapes, and a buffer too small. */
static void test_format_feedback(void **state)
{
    (void)state;
    mdbp_feedback_t event = {
        .type = MDBP_FEEDBACK_TRANSITION,
        .coordinator_id = "coord-1",
        .epoch = 18446744073709551615u,
        .seq = 7,
        .ts_ns = 1700000000123456789,
        .level = MDBP_LEVEL_SOFT,
        .prev_level = MDBP_LEVEL_OK,
        .queue_size = 6000,
        .capacity = 10000,
        .low_wm = 5000,
        .high_wm = 8000,
        .utilization = 0.6,
        .scale_hint = 2.0 / 3.0,
        .ttl_ms = 3000,
    };
    char out[MDBP_TEXT_FEEDBACK_JSON_MAX];
    const char *plain =
        "{\"v\":1,\"type\":\"transition\",\"coordinator_id\":\"coord-1\","
        "\"epoch\":18446744073709551615,\"seq\":7,"
        "\"ts_ns\":1700000000123456789,\"level\":\"soft\","
        "\"prev_level\":\"ok\",\"queue_size\":6000,\"capacity\":10000,"
        "\"low_wm\":5000,\"high_wm\":8000,\"utilization\":0.6,"
        "\"scale_hint\":0.66666666666666663,\"ttl_ms\":3000}";
    assert_int_equal(mdbp_text_format_feedback_json(&event, out, sizeof out),
                     (int)strlen(plain));
    assert_string_equal(out, plain);

    event.has_reason = true;
    strcpy(event.reason, "queue \"rising\"\n");
    event.has_drain_rate = true;
    event.drain_rate = 1500.5;
    assert_true(mdbp_text_format_feedback_json(&event, out, sizeof out) > 0);
    assert_non_null(strstr(out, ",\"ttl_ms\":3000,\"reason\":"
                                "\"queue \\\"rising\\\"\\n\","
                                "\"drain_rate\":1500.5}"));
    assert_int_equal(mdbp_text_format_feedback_json(&event, out, 40), -1);

    /* v1.1 keys, after the v1 ones, only when present. */
    event.has_oldest_age_ms = true;
    event.oldest_age_ms = 2150;
    event.has_commit_latency_ms = true;
    event.commit_latency_ms = 12.5;
    event.sink_state = MDBP_SINK_STATE_DOWN;
    event.has_pressure = true;
    event.pressure = 1.0;
    event.has_credit_initial = true;
    event.credit_initial = 500;
    event.has_going_away = true;
    event.going_away = true;
    assert_true(mdbp_text_format_feedback_json(&event, out, sizeof out) > 0);
    assert_non_null(strstr(out, "\"drain_rate\":1500.5,\"oldest_age_ms\":2150,"
                                "\"commit_latency_ms\":12.5,"
                                "\"sink_state\":\"down\",\"pressure\":1,"
                                "\"credit_initial\":500,\"going_away\":true}"));
    /* The longest event still fits the documented bound. */
    memset(event.coordinator_id, 0x01, MDBP_ID_MAX);
    event.coordinator_id[MDBP_ID_MAX] = '\0';
    memset(event.reason, 0x01, MDBP_REASON_MAX);
    event.reason[MDBP_REASON_MAX] = '\0';
    event.commit_latency_ms = -1.2345678901234567e-300;
    assert_true(mdbp_text_format_feedback_json(&event, out, sizeof out) > 0);
}

static void test_spec_examples(void **state)
{
    (void)state;
    const char *json[] = {
        "{\"kind\":\"trade\",\"provider\":\"ibkr\",\"symbol\":\"AAPL\","
        "\"ts_ns\":1700000000000000000,\"price\":189.5,\"size\":100}",
        "{\"kind\":\"quote\",\"provider\":\"ibkr\",\"symbol\":\"AAPL\","
        "\"ts_ns\":1700000000000000001,\"bid\":189.49,\"bid_size\":300,"
        "\"ask\":189.51,\"ask_size\":200}",
        "{\"kind\":\"bar\",\"provider\":\"ibkr\",\"symbol\":\"AAPL\","
        "\"ts_ns\":1699999940000000000,\"open\":189,\"high\":190.25,"
        "\"low\":188.75,\"close\":189.5,\"volume\":125000}",
    };
    const char *csv[] = {
        "trade,ibkr,AAPL,1700000000000000000,189.5,100",
        "quote,ibkr,AAPL,1700000000000000001,189.49,300,189.51,200",
        "bar,ibkr,AAPL,1699999940000000000,189,190.25,188.75,189.5,125000",
    };
    for (int index = 0; index < 3; index++) {
        mdbp_record_t from_json, from_csv;
        mdbp_error_t error;
        assert_int_equal(mdbp_text_parse_json(json[index], &from_json, &error),
                         0);
        assert_int_equal(mdbp_text_parse_csv(csv[index], &from_csv, &error),
                         0);
        assert_memory_equal(&from_json, &from_csv, sizeof from_json);
        char line[LINE_BYTES];
        assert_true(
            mdbp_text_format_json(&from_json, NULL, line, sizeof line) > 0);
        assert_string_equal(line, json[index]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_csv_valid),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_feedback),
        cmocka_unit_test(test_spec_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
