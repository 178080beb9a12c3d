/* Unit tests of the ingest codec: batches of every record kind, acks and
 * nacks, record validation, missing and ill-typed keys, limits. */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <mdbp/ingest.h>
#include "test_builder.h"

static mdbp_record_t s_trade(int64_t ts_ns)
{
    mdbp_record_t record = {.kind = MDBP_RECORD_TRADE, .ts_ns = ts_ns};
    strcpy(record.provider, "ibkr");
    strcpy(record.symbol, "AAPL");
    record.u.trade.price = 189.5;
    record.u.trade.size = 100;
    return record;
}

static mdbp_record_t s_quote(int64_t ts_ns)
{
    mdbp_record_t record = {.kind = MDBP_RECORD_QUOTE, .ts_ns = ts_ns};
    strcpy(record.provider, "polygon");
    strcpy(record.symbol, "MSFT");
    record.u.quote.bid = 370.25;
    record.u.quote.bid_size = 300;
    record.u.quote.ask = 370.3;
    record.u.quote.ask_size = 0;
    return record;
}

static mdbp_record_t s_bar(int64_t ts_ns)
{
    mdbp_record_t record = {.kind = MDBP_RECORD_BAR, .ts_ns = ts_ns};
    strcpy(record.provider, "synthetic");
    strcpy(record.symbol, "ES=F");
    record.u.bar.open = 4500.25;
    record.u.bar.high = 4510;
    record.u.bar.low = 4490.5;
    record.u.bar.close = 4505.75;
    record.u.bar.volume = 12345.5;
    return record;
}

static void s_assert_record_equal(const mdbp_record_t *a,
                                  const mdbp_record_t *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->provider, b->provider);
    assert_string_equal(a->symbol, b->symbol);
    assert_true(a->ts_ns == b->ts_ns);
    assert_memory_equal(&a->u, &b->u, sizeof a->u);
}

static void test_batch_round_trip(void **state)
{
    (void)state;
    enum { COUNT = 300 };
    mdbp_record_t *sent = calloc(COUNT, sizeof *sent);
    mdbp_record_t *received = calloc(COUNT, sizeof *received);
    assert_non_null(sent);
    assert_non_null(received);
    for (int index = 0; index < COUNT; index++) {
        int64_t ts_ns = 1700000000000000000LL + index;
        sent[index] = index % 3 == 0   ? s_trade(ts_ns)
                      : index % 3 == 1 ? s_quote(ts_ns)
                                       : s_bar(ts_ns);
    }
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_batch_encode("producer-7", 99, sent, COUNT, &buffer),
                     0);
    mdbp_batch_t batch;
    mdbp_error_t error = {{0}};
    int rc = mdbp_batch_decode(buffer.data, buffer.size, &batch, received,
                                COUNT, &error);
    if (rc != 0)
        fail_msg("decode: %s", error.text);
    assert_string_equal(batch.producer_id, "producer-7");
    assert_true(batch.batch_seq == 99);
    assert_int_equal(batch.count, COUNT);
    for (int index = 0; index < COUNT; index++)
        s_assert_record_equal(&sent[index], &received[index]);
    /* A reader with too little room says so. */
    assert_int_equal(mdbp_batch_decode(buffer.data, buffer.size, &batch,
                                        received, COUNT - 1, &error),
                     -1);
    assert_string_equal(error.text, "key 'records': 300 records, more than "
                                    "the 299 this reader holds");
    mdbp_buffer_release(&buffer);
    free(sent);
    free(received);
}

static void test_batch_limits(void **state)
{
    (void)state;
    size_t count = MDBP_BATCH_RECORDS_MAX + 1;
    mdbp_record_t *records = calloc(count, sizeof *records);
    assert_non_null(records);
    for (size_t index = 0; index < count; index++)
        records[index] = s_trade(1 + (int64_t)index);
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_batch_encode("p", 1, records, count, &buffer), -1);
    assert_int_equal(mdbp_batch_encode("p", 1, records, 0, &buffer), -1);
    assert_int_equal(mdbp_batch_encode("", 1, records, 1, &buffer), -1);
    assert_int_equal(buffer.size, 0);
    /* The largest batch goes through and fits the message limit. */
    assert_int_equal(mdbp_batch_encode("p", 1, records, count - 1, &buffer),
                     0);
    assert_true(buffer.size < MDBP_MESSAGE_BYTES_MAX);
    mdbp_batch_t batch;
    mdbp_error_t error;
    assert_int_equal(mdbp_batch_decode(buffer.data, buffer.size, &batch,
                                        records, count, &error),
                     0);
    assert_int_equal(batch.count, count - 1);
    mdbp_buffer_release(&buffer);

    /* A batch claiming more records than the limit, refused from the
     * header (the bytes for them are there). */
    mdbp_buffer_init(&buffer);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, mdbp_buffer_packer_write);
    msgpack_pack_map(&packer, 5);
    msgpack_pack_str_with_body(&packer, "v", 1);
    msgpack_pack_uint8(&packer, 1);
    msgpack_pack_str_with_body(&packer, "type", 4);
    msgpack_pack_str_with_body(&packer, "batch", 5);
    msgpack_pack_str_with_body(&packer, "producer_id", 11);
    msgpack_pack_str_with_body(&packer, "p", 1);
    msgpack_pack_str_with_body(&packer, "batch_seq", 9);
    msgpack_pack_uint8(&packer, 3);
    msgpack_pack_str_with_body(&packer, "records", 7);
    msgpack_pack_array(&packer, count);
    for (size_t index = 0; index < count; index++)
        msgpack_pack_nil(&packer);
    assert_int_equal(mdbp_batch_decode(buffer.data, buffer.size, &batch,
                                        records, count, &error),
                     -1);
    assert_string_equal(error.text,
                        "key 'records': 10001 records, more than 10000");
    assert_true(batch.batch_seq == 3);
    mdbp_buffer_release(&buffer);
    free(records);
}

/* The header keys of a batch whose records are packed by `records_raw`. */
static int s_decode_batch(const char *skip, const char *wrong,
                          const void *records_raw, size_t records_size,
                          mdbp_batch_t *batch, mdbp_error_t *error)
{
    entry_t entries[] = {
        {.key = "v", .kind = ENTRY_UINT, .u = 1},
        {.key = "type", .kind = ENTRY_STR, .s = "batch"},
        {.key = "producer_id", .kind = ENTRY_STR, .s = "prod-1"},
        {.key = "batch_seq", .kind = ENTRY_UINT, .u = 12},
        {.key = "records",
         .kind = ENTRY_RAW,
         .raw = records_raw,
         .raw_size = records_size},
        /* Unknown keys, before and after records: ignored. */
        {.key = "compression", .kind = ENTRY_STR, .s = "none"},
        {.key = "sent_ns", .kind = ENTRY_DOUBLE, .d = 1.5},
    };
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, sizeof entries / sizeof entries[0], skip,
                     wrong);
    mdbp_record_t records[4];
    int rc =
        mdbp_batch_decode(buffer.data, buffer.size, batch, records, 4, error);
    mdbp_buffer_release(&buffer);
    return rc;
}

/* One packed trade record ["trade","ibkr","AAPL",5,10.5,2]. */
static const uint8_t s_one_trade[] = {
    0x91, 0x96, 0xa5, 't',  'r', 'a', 'd', 'e', 0xa4, 'i',
    'b',  'k',  'r',  0xa4, 'A', 'A', 'P', 'L', 0x05, 0xcb,
    0x40, 0x25, 0,    0,    0,   0,   0,   0,   0x02};

static void test_batch_header_errors(void **state)
{
    (void)state;
    mdbp_batch_t batch;
    mdbp_error_t error;
    assert_int_equal(s_decode_batch(NULL, NULL, s_one_trade, sizeof s_one_trade,
                                    &batch, &error),
                     0);
    assert_int_equal(batch.count, 1);
    const char *keys[] = {"v", "type", "producer_id", "batch_seq", "records"};
    for (size_t index = 0; index < 5; index++) {
        assert_int_equal(s_decode_batch(keys[index], NULL, s_one_trade,
                                        sizeof s_one_trade, &batch, &error),
                         -1);
        char expected[64];
        snprintf(expected, sizeof expected, "missing key '%s'", keys[index]);
        assert_string_equal(error.text, expected);
        assert_int_equal(s_decode_batch(NULL, keys[index], s_one_trade,
                                        sizeof s_one_trade, &batch, &error),
                         -1);
        snprintf(expected, sizeof expected, "key '%s': expected ", keys[index]);
        if (strncmp(error.text, expected, strlen(expected)) != 0)
            fail_msg("key %s: error '%s'", keys[index], error.text);
    }
    static const uint8_t empty[] = {0x90};
    assert_int_equal(
        s_decode_batch(NULL, NULL, empty, sizeof empty, &batch, &error), -1);
    assert_string_equal(error.text, "key 'records': empty");
}

/* Decodes a batch holding one record packed from `entries` (an array). */
static int s_decode_record(const entry_t *elements, size_t count,
                           mdbp_batch_t *batch, mdbp_error_t *error)
{
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    msgpack_packer packer;
    msgpack_packer_init(&packer, &buffer, mdbp_buffer_packer_write);
    msgpack_pack_array(&packer, 2);
    /* A valid record 0, then the one under test as record 1. */
    mdbp_buffer_append(&buffer, (const char *)s_one_trade + 1,
                       sizeof s_one_trade - 1);
    msgpack_pack_array(&packer, count);
    for (size_t index = 0; index < count; index++)
        builder_pack_value(&packer, &elements[index]);
    int rc = s_decode_batch(NULL, NULL, buffer.data, buffer.size, batch, error);
    mdbp_buffer_release(&buffer);
    return rc;
}

#define S_STR(text)                                                            \
    {                                                                          \
        .kind = ENTRY_STR, .s = (text)                                         \
    }
#define S_INT(value)                                                           \
    {                                                                          \
        .kind = ENTRY_INT, .i = (value)                                        \
    }
#define S_DOUBLE(value)                                                        \
    {                                                                          \
        .kind = ENTRY_DOUBLE, .d = (value)                                     \
    }
#define S_NIL                                                                  \
    {                                                                          \
        .kind = ENTRY_NIL                                                      \
    }

static void test_record_errors(void **state)
{
    (void)state;
    struct {
        entry_t elements[10];
        size_t count;
        const char *text;
    } cases[] = {
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(5), S_DOUBLE(1.0),
          S_INT(1)},
         6,
         NULL},
        {{S_STR("bar"), S_STR("p"), S_STR("s"), S_INT(5), S_INT(1), S_INT(2),
          S_INT(1), S_INT(2), S_INT(0)},
         9,
         NULL},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(5),
          S_DOUBLE(1.0)},
         5,
         "record 1: a trade has 6 elements, got 5"},
        {{S_STR("tick"), S_STR("ibkr")},
         2,
         "record 1: field 'kind': expected trade|quote|bar"},
        {{S_INT(1)},
         1,
         "record 1: field 'kind': expected trade|quote|bar, got integer"},
        {{S_STR("trade"), S_STR(""), S_STR("AAPL"), S_INT(5), S_DOUBLE(1.0),
          S_INT(1)},
         6,
         "record 1: field 'provider': empty"},
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("012345678901234567890123456789"
                "012"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol': longer than 32 bytes"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("A\tB"), S_INT(5), S_DOUBLE(1.0),
          S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+0085 (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xc2\x85"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+009F (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xc2\x9f"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+2028 (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xe2\x80\xa8"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+2029 (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xe2\x80\xa9"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+202E (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xe2\x80\xae"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+2066 (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xe2\x81\xa6"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        /* U+200F (issue 12) */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A"
                "\xe2\x80\x8f"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' contains a control character"},
        {{S_STR("trade"), S_STR("p\xe2\x80\xaeq"), S_STR("AAPL"), S_INT(5),
          S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'provider' contains a control character"},
        /* Neighbours that are fine: U+00A0, U+2027, U+202F, U+206A. */
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("\xc2\xa0\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xaa"), S_INT(5),
          S_DOUBLE(1.0), S_INT(1)},
         6,
         NULL},
        {{S_STR("trade"), S_STR("ibkr"),
          S_STR("A\xff"
                "B"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' is not valid UTF-8"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("\xc3\xa9\xed\xa0\x80"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'symbol' is not valid UTF-8"},
        {{S_STR("trade"), S_STR("b\xc3\xb6rse"),
          S_STR("\xe2\x82\xac"
                "1"),
          S_INT(5), S_DOUBLE(1.0), S_INT(1)},
         6,
         NULL},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_DOUBLE(5),
          S_DOUBLE(1.0), S_INT(1)},
         6,
         "record 1: field 'ts_ns': expected an integer, got float"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(0), S_DOUBLE(1.0),
          S_INT(1)},
         6,
         "record 1: field 'ts_ns' must be > 0"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(5), S_STR("1"),
          S_INT(1)},
         6,
         "record 1: field 'price': expected a number, got str"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(5), S_DOUBLE(0.0),
          S_INT(1)},
         6,
         "record 1: field 'price' must be > 0"},
        {{S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"), S_INT(5), S_DOUBLE(1.0),
          S_INT(-1)},
         6,
         "record 1: field 'size' must be >= 0"},
        {{S_STR("quote"), S_STR("p"), S_STR("s"), S_INT(5), S_INT(1), S_INT(1),
          S_DOUBLE(NAN), S_INT(1)},
         8,
         "record 1: field 'ask' must be finite"},
        {{S_STR("quote"), S_STR("p"), S_STR("s"), S_INT(5), S_INT(1), S_INT(1),
          S_INT(1), S_NIL},
         8,
         "record 1: field 'ask_size': expected a number, got nil"},
        {{S_STR("bar"), S_STR("p"), S_STR("s"), S_INT(5), S_INT(1), S_INT(1),
          S_INT(2), S_INT(1), S_INT(0)},
         9,
         "record 1: field 'high' must be >= 'low'"},
        {{S_STR("bar"), S_STR("p"), S_STR("s"), S_INT(5), S_INT(1), S_INT(2),
          S_INT(1), S_INT(1), S_DOUBLE(INFINITY)},
         9,
         "record 1: field 'volume' must be finite"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        mdbp_batch_t batch;
        mdbp_error_t error = {{0}};
        int rc = s_decode_record(cases[index].elements, cases[index].count,
                                 &batch, &error);
        if (!cases[index].text) {
            if (rc != 0)
                fail_msg("case %zu: %s", index, error.text);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_string_equal(error.text, cases[index].text);
        /* The header was read: a nack can echo the batch. */
        assert_true(batch.batch_seq == 12);
        assert_string_equal(batch.producer_id, "prod-1");
    }
    /* A record that is not an array. */
    static const uint8_t not_array[] = {0x92, 0xc0};
    mdbp_batch_t batch;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_batch(NULL, NULL, not_array, sizeof not_array, &batch, &error),
        -1);
    /* (0x92 claims two records and only one byte follows: truncated.) */
    static const uint8_t nil_record[] = {0x91, 0xc0};
    assert_int_equal(s_decode_batch(NULL, NULL, nil_record, sizeof nil_record,
                                    &batch, &error),
                     -1);
    assert_string_equal(error.text, "record 0: expected an array, got nil");
}

static void test_record_validate(void **state)
{
    (void)state;
    mdbp_error_t error;
    mdbp_record_t record = s_bar(1);
    assert_int_equal(mdbp_record_validate(&record, &error), 0);
    record.u.bar.low = -1;
    assert_int_equal(mdbp_record_validate(&record, &error), -1);
    assert_string_equal(error.text, "field 'low' must be > 0");
    record = s_quote(1);
    record.provider[0] = '\0';
    assert_int_equal(mdbp_record_validate(&record, &error), -1);
    assert_string_equal(error.text, "field 'provider' is empty");
    record = s_trade(-5);
    assert_int_equal(mdbp_record_validate(&record, &error), -1);
    assert_string_equal(error.text, "field 'ts_ns' must be > 0");
    /* NULL error is allowed. */
    assert_int_equal(mdbp_record_validate(&record, NULL), -1);
}

static void test_reply_round_trip(void **state)
{
    (void)state;
    mdbp_reply_t replies[4] = {
        {.type = MDBP_REPLY_ACK,
         .batch_seq = UINT64_MAX,
         .written = 9990,
         .duplicates = 7,
         .dead_lettered = 3},
        {.type = MDBP_REPLY_NACK,
         .batch_seq = 5,
         .reason = MDBP_NACK_FULL,
         .retry_after_ms = 250,
         .detail = "queue full (10000 records)"},
        {.type = MDBP_REPLY_NACK,
         .batch_seq = 0,
         .reason = MDBP_NACK_MALFORMED,
         .retry_after_ms = 0,
         .detail = "record 3: field 'price' must be > 0"},
        {.type = MDBP_REPLY_NACK,
         .batch_seq = 6,
         .reason = MDBP_NACK_DRAINING,
         .retry_after_ms = UINT32_MAX,
         .detail = ""},
    };
    for (size_t index = 0; index < 4; index++) {
        mdbp_buffer_t buffer;
        mdbp_buffer_init(&buffer);
        assert_int_equal(mdbp_reply_encode(&replies[index], &buffer), 0);
        mdbp_reply_t received;
        mdbp_error_t error = {{0}};
        int rc =
            mdbp_reply_decode(buffer.data, buffer.size, &received, &error);
        if (rc != 0)
            fail_msg("reply %zu: %s", index, error.text);
        assert_int_equal(received.type, replies[index].type);
        assert_true(received.batch_seq == replies[index].batch_seq);
        assert_int_equal(received.written, replies[index].written);
        assert_int_equal(received.duplicates, replies[index].duplicates);
        assert_int_equal(received.dead_lettered, replies[index].dead_lettered);
        assert_int_equal(received.reason, replies[index].reason);
        assert_int_equal(received.retry_after_ms,
                         replies[index].retry_after_ms);
        assert_string_equal(received.detail, replies[index].detail);
        mdbp_buffer_release(&buffer);
    }
    assert_string_equal(mdbp_nack_reason_name(MDBP_NACK_DRAINING),
                        "draining");
}

static const entry_t s_ack[] = {
    {.key = "v", .kind = ENTRY_UINT, .u = 1},
    {.key = "type", .kind = ENTRY_STR, .s = "ack"},
    {.key = "batch_seq", .kind = ENTRY_UINT, .u = 4},
    {.key = "written", .kind = ENTRY_UINT, .u = 10},
    {.key = "duplicates", .kind = ENTRY_UINT, .u = 0},
    {.key = "dead_lettered", .kind = ENTRY_UINT, .u = 0},
};
static const entry_t s_nack[] = {
    {.key = "v", .kind = ENTRY_UINT, .u = 1},
    {.key = "type", .kind = ENTRY_STR, .s = "nack"},
    {.key = "batch_seq", .kind = ENTRY_UINT, .u = 4},
    {.key = "reason", .kind = ENTRY_STR, .s = "full"},
    {.key = "retry_after_ms", .kind = ENTRY_UINT, .u = 100},
    {.key = "detail", .kind = ENTRY_STR, .s = "queue full"},
};

static void s_reply_key_errors(const entry_t *entries, size_t count,
                               size_t required)
{
    for (size_t index = 0; index < count; index++) {
        mdbp_buffer_t buffer;
        mdbp_reply_t reply;
        mdbp_error_t error = {{0}};
        char expected[64];
        if (index < required) {
            mdbp_buffer_init(&buffer);
            builder_pack_map(&buffer, entries, count, entries[index].key, NULL);
            assert_int_equal(
                mdbp_reply_decode(buffer.data, buffer.size, &reply, &error),
                -1);
            snprintf(expected, sizeof expected, "missing key '%s'",
                     entries[index].key);
            assert_string_equal(error.text, expected);
            mdbp_buffer_release(&buffer);
        }
        mdbp_buffer_init(&buffer);
        builder_pack_map(&buffer, entries, count, NULL, entries[index].key);
        assert_int_equal(
            mdbp_reply_decode(buffer.data, buffer.size, &reply, &error), -1);
        snprintf(expected, sizeof expected, "key '%s': expected ",
                 entries[index].key);
        if (strncmp(error.text, expected, strlen(expected)) != 0)
            fail_msg("key %s: error '%s'", entries[index].key, error.text);
        mdbp_buffer_release(&buffer);
    }
}

static void test_reply_key_errors(void **state)
{
    (void)state;
    s_reply_key_errors(s_ack, 6, 6);
    s_reply_key_errors(s_nack, 6, 5);
    /* detail is optional, unknown keys are ignored, v=2 is refused. */
    entry_t entries[7];
    memcpy(entries, s_nack, sizeof s_nack);
    entries[5] = (entry_t){.key = "hint", .kind = ENTRY_DOUBLE, .d = 1};
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, 6, NULL, NULL);
    mdbp_reply_t reply;
    mdbp_error_t error;
    assert_int_equal(
        mdbp_reply_decode(buffer.data, buffer.size, &reply, &error), 0);
    assert_string_equal(reply.detail, "");
    assert_int_equal(reply.reason, MDBP_NACK_FULL);
    mdbp_buffer_release(&buffer);
    memcpy(entries, s_ack, sizeof s_ack);
    entries[0].u = 2;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, 6, NULL, NULL);
    assert_int_equal(
        mdbp_reply_decode(buffer.data, buffer.size, &reply, &error), -1);
    assert_string_equal(
        error.text, "key 'v': unsupported version 2 (this decoder reads 1)");
    mdbp_buffer_release(&buffer);
    /* A batch is not a reply. */
    memcpy(entries, s_ack, sizeof s_ack);
    entries[1].s = "batch";
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, 6, NULL, NULL);
    assert_int_equal(
        mdbp_reply_decode(buffer.data, buffer.size, &reply, &error), -1);
    assert_string_equal(error.text, "key 'type': expected one of ack|nack");
    mdbp_buffer_release(&buffer);
}

static void test_batch_version_rejected(void **state)
{
    (void)state;
    entry_t entries[] = {
        {.key = "v", .kind = ENTRY_UINT, .u = 2},
        {.key = "type", .kind = ENTRY_STR, .s = "batch"},
        {.key = "producer_id", .kind = ENTRY_STR, .s = "p"},
        {.key = "batch_seq", .kind = ENTRY_UINT, .u = 1},
        {.key = "records",
         .kind = ENTRY_RAW,
         .raw = s_one_trade,
         .raw_size = sizeof s_one_trade},
    };
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, 5, NULL, NULL);
    mdbp_record_t records[1];
    mdbp_batch_t batch;
    mdbp_error_t error;
    assert_int_equal(mdbp_batch_decode(buffer.data, buffer.size, &batch,
                                        records, 1, &error),
                     -1);
    assert_string_equal(
        error.text, "key 'v': unsupported version 2 (this decoder reads 1)");
    mdbp_buffer_release(&buffer);
}

/* Decodes `entries` as a reply; returns decode's result. */
static int s_reply_built(const entry_t *entries, size_t count,
                         mdbp_reply_t *reply, mdbp_error_t *error)
{
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, count, NULL, NULL);
    int rc = mdbp_reply_decode(buffer.data, buffer.size, reply, error);
    mdbp_buffer_release(&buffer);
    return rc;
}

static void test_reply_v11_round_trip(void **state)
{
    (void)state;
    mdbp_reply_t sent = {.type = MDBP_REPLY_NACK,
                          .batch_seq = 3,
                          .reason = MDBP_NACK_MALFORMED,
                          .detail = "x",
                          .session = UINT64_MAX,
                          .has_credit = true,
                          .credit = UINT32_MAX,
                          .code = MDBP_NACK_CODE_IN_FLIGHT,
                          .has_record_index = true,
                          .record_index = MDBP_BATCH_RECORDS_MAX - 1,
                          .field = "0123456789012345678901234567890X"};
    for (int code = MDBP_NACK_CODE_QUEUE_FULL; code < MDBP_NACK_CODE_UNKNOWN;
         code++) {
        sent.code = (mdbp_nack_code_t)code;
        mdbp_buffer_t buffer;
        mdbp_buffer_init(&buffer);
        assert_int_equal(mdbp_reply_encode(&sent, &buffer), 0);
        mdbp_reply_t received;
        mdbp_error_t error = {{0}};
        if (mdbp_reply_decode(buffer.data, buffer.size, &received, &error))
            fail_msg("code %d: %s", code, error.text);
        assert_true(received.session == UINT64_MAX);
        assert_true(received.has_credit && received.credit == UINT32_MAX);
        assert_int_equal(received.code, code);
        assert_true(received.has_record_index);
        assert_int_equal(received.record_index, MDBP_BATCH_RECORDS_MAX - 1);
        assert_string_equal(received.field, sent.field);
        mdbp_buffer_release(&buffer);
    }
    /* An ack carries session and credit, never the nack keys; credit 0 is
     * a value, not absence. */
    mdbp_reply_t ack = {.type = MDBP_REPLY_ACK,
                         .batch_seq = 1,
                         .written = 1,
                         .session = 5,
                         .has_credit = true,
                         .credit = 0,
                         .code = MDBP_NACK_CODE_BAD_RECORD,
                         .field = "price"};
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_reply_encode(&ack, &buffer), 0);
    mdbp_reply_t received;
    mdbp_error_t error = {{0}};
    assert_int_equal(
        mdbp_reply_decode(buffer.data, buffer.size, &received, &error), 0);
    assert_true(received.session == 5 && received.has_credit);
    assert_int_equal(received.credit, 0);
    assert_int_equal(received.code, MDBP_NACK_CODE_NONE);
    assert_string_equal(received.field, "");
    mdbp_buffer_release(&buffer);
    /* What cannot be encoded. */
    mdbp_buffer_init(&buffer);
    mdbp_reply_t bad = sent;
    bad.code = MDBP_NACK_CODE_UNKNOWN;
    assert_int_equal(mdbp_reply_encode(&bad, &buffer), -1);
    bad = sent;
    bad.record_index = MDBP_BATCH_RECORDS_MAX;
    assert_int_equal(mdbp_reply_encode(&bad, &buffer), -1);
    bad = sent;
    memset(bad.field, 'f', sizeof bad.field);
    assert_int_equal(mdbp_reply_encode(&bad, &buffer), -1);
    assert_int_equal(buffer.size, 0);
    mdbp_buffer_release(&buffer);
    assert_string_equal(mdbp_nack_code_name(MDBP_NACK_CODE_OVER_CAPACITY),
                        "over_capacity");
    assert_null(mdbp_nack_code_name(MDBP_NACK_CODE_NONE));
    assert_int_equal(mdbp_nack_code_parse("bad_key", 7),
                     MDBP_NACK_CODE_BAD_KEY);
    assert_int_equal(mdbp_nack_code_parse("bad_keys", 8),
                     MDBP_NACK_CODE_UNKNOWN);
}

static void test_reply_v11_decode_rules(void **state)
{
    (void)state;
    mdbp_reply_t reply;
    mdbp_error_t error;
    entry_t entries[9];
    memcpy(entries, s_nack, sizeof s_nack);
    /* An unknown reason is `full`, an unknown code UNKNOWN: not malformed. */
    entries[3].s = "throttled";
    entries[6] = (entry_t){.key = "code", .kind = ENTRY_STR, .s = "slow_down"};
    assert_int_equal(s_reply_built(entries, 7, &reply, &error), 0);
    assert_int_equal(reply.reason, MDBP_NACK_FULL);
    assert_int_equal(reply.code, MDBP_NACK_CODE_UNKNOWN);
    assert_int_equal(reply.retry_after_ms, 100);
    /* A v1 nack: every v1.1 key absent. */
    memcpy(entries, s_nack, sizeof s_nack);
    assert_int_equal(s_reply_built(entries, 6, &reply, &error), 0);
    assert_true(reply.session == 0 && !reply.has_credit &&
                reply.code == MDBP_NACK_CODE_NONE && !reply.has_record_index &&
                reply.field[0] == '\0');
    struct {
        entry_t value;
        const char *text;
    } cases[] = {
        {{.key = "session", .kind = ENTRY_UINT, .u = 0},
         "key 'session': must not be 0"},
        {{.key = "session", .kind = ENTRY_INT, .i = -1},
         "key 'session': expected an unsigned integer, out of range"},
        {{.key = "credit", .kind = ENTRY_UINT, .u = 4294967296ULL},
         "key 'credit': 4294967296 is more than 4294967295"},
        {{.key = "credit", .kind = ENTRY_DOUBLE, .d = 5},
         "key 'credit': expected an unsigned integer, got float"},
        {{.key = "code", .kind = ENTRY_UINT, .u = 3},
         "key 'code': expected a str, got integer"},
        {{.key = "record_index", .kind = ENTRY_UINT, .u = 10000},
         "key 'record_index': 10000 is more than 9999"},
        {{.key = "field",
          .kind = ENTRY_STR,
          .s = "012345678901234567890123456789012"},
         "key 'field': longer than 32 bytes"},
        {{.key = "field", .kind = ENTRY_NIL},
         "key 'field': expected a str, got nil"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        memcpy(entries, s_nack, sizeof s_nack);
        entries[6] = cases[index].value;
        memset(&error, 0, sizeof error);
        assert_int_equal(s_reply_built(entries, 7, &reply, &error), -1);
        assert_string_equal(error.text, cases[index].text);
        assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
        assert_string_equal(error.field, cases[index].value.key);
        /* The same key on an ack: session and credit are checked there too,
         * the nack keys are ignored (unknown to an ack). */
        memcpy(entries, s_ack, sizeof s_ack);
        entries[6] = cases[index].value;
        bool ack_key = strcmp(cases[index].value.key, "session") == 0 ||
                       strcmp(cases[index].value.key, "credit") == 0;
        assert_int_equal(s_reply_built(entries, 7, &reply, &error),
                         ack_key ? -1 : 0);
    }
}

/* Decodes a batch holding s_one_trade with `extra` added. */
static int s_batch_with(entry_t extra, mdbp_batch_t *batch,
                        mdbp_error_t *error)
{
    entry_t entries[] = {
        {.key = "v", .kind = ENTRY_UINT, .u = 1},
        {.key = "type", .kind = ENTRY_STR, .s = "batch"},
        {.key = "producer_id", .kind = ENTRY_STR, .s = "prod-1"},
        {.key = "batch_seq", .kind = ENTRY_UINT, .u = 12},
        {.key = "records",
         .kind = ENTRY_RAW,
         .raw = s_one_trade,
         .raw_size = sizeof s_one_trade},
        extra,
    };
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, 6, NULL, NULL);
    mdbp_record_t records[1];
    int rc =
        mdbp_batch_decode(buffer.data, buffer.size, batch, records, 1, error);
    mdbp_buffer_release(&buffer);
    return rc;
}

static void test_batch_session(void **state)
{
    (void)state;
    mdbp_record_t sent[2] = {s_trade(1), s_bar(2)}, received[2];
    mdbp_buffer_t with, without;
    mdbp_buffer_init(&with);
    mdbp_buffer_init(&without);
    assert_int_equal(
        mdbp_batch_encode_session("p", 0xfeedULL, 4, sent, 2, &with), 0);
    assert_int_equal(mdbp_batch_encode("p", 4, sent, 2, &without), 0);
    mdbp_batch_t batch;
    mdbp_error_t error = {{0}};
    assert_int_equal(
        mdbp_batch_decode(with.data, with.size, &batch, received, 2, &error),
        0);
    assert_true(batch.session == 0xfeedULL && batch.batch_seq == 4);
    assert_int_equal(mdbp_batch_decode(without.data, without.size, &batch,
                                        received, 2, &error),
                     0);
    assert_true(batch.session == 0);
    /* Session 0 writes the v1 bytes. */
    mdbp_buffer_reset(&with);
    assert_int_equal(mdbp_batch_encode_session("p", 0, 4, sent, 2, &with), 0);
    assert_int_equal(with.size, without.size);
    assert_memory_equal(with.data, without.data, with.size);
    mdbp_buffer_release(&with);
    mdbp_buffer_release(&without);

    assert_int_equal(
        s_batch_with((entry_t){.key = "session", .kind = ENTRY_UINT, .u = 0},
                     &batch, &error),
        -1);
    assert_string_equal(error.text, "key 'session': must not be 0");
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
    assert_string_equal(error.field, "session");
    assert_true(batch.batch_seq == 12);
    assert_int_equal(
        s_batch_with((entry_t){.key = "session", .kind = ENTRY_STR, .s = "1"},
                     &batch, &error),
        -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
    /* A bad record after a good session: the nack can echo both. */
    assert_int_equal(
        s_batch_with((entry_t){.key = "session", .kind = ENTRY_UINT, .u = 77},
                     &batch, &error),
        0);
    assert_true(batch.session == 77);
}

/* The v1.1 class keys: round trip, absent = normal weight 1 (the v1
 * bytes), and strict values. */
static void test_batch_priority(void **state)
{
    (void)state;
    mdbp_record_t sent[1] = {s_trade(1)}, received[1];
    mdbp_batch_t header = {.producer_id = "p",
                           .batch_seq = 9,
                           .session = 3,
                           .priority = MDBP_PRIORITY_BULK,
                           .weight = 4};
    mdbp_buffer_t with, without;
    mdbp_buffer_init(&with);
    mdbp_buffer_init(&without);
    assert_int_equal(mdbp_batch_encode_header(&header, sent, 1, &with), 0);
    mdbp_batch_t batch;
    mdbp_error_t error = {{0}};
    assert_int_equal(
        mdbp_batch_decode(with.data, with.size, &batch, received, 1, &error),
        0);
    assert_int_equal(batch.priority, MDBP_PRIORITY_BULK);
    assert_int_equal(batch.weight, 4);
    assert_true(batch.session == 3 && batch.batch_seq == 9);
    /* Normal with weight 1 writes no class keys. */
    header.priority = MDBP_PRIORITY_NORMAL;
    header.weight = 1;
    mdbp_buffer_reset(&with);
    assert_int_equal(mdbp_batch_encode_header(&header, sent, 1, &with), 0);
    assert_int_equal(mdbp_batch_encode_session("p", 3, 9, sent, 1, &without),
                     0);
    assert_int_equal(with.size, without.size);
    assert_memory_equal(with.data, without.data, with.size);
    header.weight = MDBP_WEIGHT_MAX + 1;
    assert_int_equal(mdbp_batch_encode_header(&header, sent, 1, &with), -1);
    mdbp_buffer_release(&with);
    mdbp_buffer_release(&without);

    assert_int_equal(
        s_batch_with(
            (entry_t){.key = "priority", .kind = ENTRY_STR, .s = "critical"},
            &batch, &error),
        0);
    assert_int_equal(batch.priority, MDBP_PRIORITY_CRITICAL);
    assert_int_equal(batch.weight, 0);
    assert_int_equal(
        s_batch_with(
            (entry_t){.key = "priority", .kind = ENTRY_STR, .s = "urgent"},
            &batch, &error),
        -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
    assert_string_equal(error.field, "priority");
    assert_true(batch.batch_seq == 12);
    assert_int_equal(
        s_batch_with((entry_t){.key = "weight", .kind = ENTRY_UINT, .u = 0},
                     &batch, &error),
        -1);
    assert_string_equal(error.field, "weight");
    assert_int_equal(
        s_batch_with((entry_t){.key = "weight",
                               .kind = ENTRY_UINT,
                               .u = MDBP_WEIGHT_MAX + 1},
                     &batch, &error),
        -1);
    assert_string_equal(error.field, "weight");

    mdbp_priority_t priority;
    assert_int_equal(mdbp_priority_parse("bulk", 4, &priority), 0);
    assert_int_equal(priority, MDBP_PRIORITY_BULK);
    assert_int_equal(mdbp_priority_parse("bul", 3, &priority), -1);
    assert_string_equal(mdbp_priority_name(MDBP_PRIORITY_CRITICAL),
                        "critical");
}

/* Every decode error of a batch carries its code, field and record index. */
static void test_batch_error_codes(void **state)
{
    (void)state;
    mdbp_batch_t batch;
    mdbp_error_t error;
    const char *keys[] = {"v", "type", "producer_id", "batch_seq", "records"};
    for (size_t index = 0; index < 5; index++) {
        assert_int_equal(s_decode_batch(keys[index], NULL, s_one_trade,
                                        sizeof s_one_trade, &batch, &error),
                         -1);
        assert_int_equal(error.code, MDBP_NACK_CODE_MISSING_KEY);
        assert_string_equal(error.field, keys[index]);
        assert_false(error.has_record_index);
        assert_int_equal(s_decode_batch(NULL, keys[index], s_one_trade,
                                        sizeof s_one_trade, &batch, &error),
                         -1);
        assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
        assert_string_equal(error.field, keys[index]);
    }
    /* A bad record: its index and field. */
    entry_t bad_price[] = {S_STR("trade"), S_STR("ibkr"),  S_STR("AAPL"),
                           S_INT(5),       S_DOUBLE(-1.0), S_INT(1)};
    assert_int_equal(s_decode_record(bad_price, 6, &batch, &error), -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_RECORD);
    assert_true(error.has_record_index);
    assert_int_equal(error.record_index, 1);
    assert_string_equal(error.field, "price");
    entry_t bad_symbol[] = {S_STR("quote"), S_STR("p"), S_INT(3)};
    assert_int_equal(s_decode_record(bad_symbol, 3, &batch, &error), -1);
    assert_string_equal(error.field, "");
    entry_t bad_kind[] = {S_STR("tick"), S_STR("p")};
    assert_int_equal(s_decode_record(bad_kind, 2, &batch, &error), -1);
    assert_string_equal(error.field, "kind");
    entry_t bad_ts[] = {S_STR("trade"), S_STR("ibkr"), S_STR("AAPL"),
                        S_INT(0),       S_DOUBLE(1.0), S_INT(1)};
    assert_int_equal(s_decode_record(bad_ts, 6, &batch, &error), -1);
    assert_string_equal(error.field, "ts_ns");
    assert_int_equal(error.record_index, 1);
    /* Structure: not a map, trailing bytes, a duplicate key, a version. */
    static const uint8_t not_map[] = {0x93, 0x01, 0x02, 0x03};
    mdbp_record_t records[1];
    assert_int_equal(
        mdbp_batch_decode(not_map, sizeof not_map, &batch, records, 1, &error),
        -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_NOT_A_MAP);
    static const uint8_t duplicate[] = {0x82, 0xa1, 'v', 0x01, 0xa1, 'v', 0x01};
    assert_int_equal(mdbp_batch_decode(duplicate, sizeof duplicate, &batch,
                                        records, 1, &error),
                     -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_KEY);
    assert_string_equal(error.field, "v");
    static const uint8_t int_key[] = {0x81, 0x01, 0x01};
    assert_int_equal(
        mdbp_batch_decode(int_key, sizeof int_key, &batch, records, 1, &error),
        -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_KEY);
    static const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(
        mdbp_batch_decode(v2, sizeof v2, &batch, records, 1, &error), -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_VERSION);
    assert_string_equal(error.field, "v");
    assert_int_equal(mdbp_batch_decode(v2, MDBP_MESSAGE_BYTES_MAX + 1, &batch,
                                        records, 1, &error),
                     -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_TOO_LARGE);
    /* A successful decode resets a previous error's code. */
    assert_int_equal(s_decode_batch(NULL, NULL, s_one_trade, sizeof s_one_trade,
                                    &batch, &error),
                     0);
    assert_int_equal(error.code, MDBP_NACK_CODE_NONE);
    assert_false(error.has_record_index);
    /* mdbp_record_validate names the field too. */
    mdbp_record_t record = s_quote(1);
    record.u.quote.ask = NAN;
    assert_int_equal(mdbp_record_validate(&record, &error), -1);
    assert_int_equal(error.code, MDBP_NACK_CODE_BAD_RECORD);
    assert_string_equal(error.field, "ask");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_batch_header_errors),
        cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_record_validate),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_reply_key_errors),
        cmocka_unit_test(test_batch_version_rejected),
        cmocka_unit_test(test_reply_v11_round_trip),
        cmocka_unit_test(test_reply_v11_decode_rules),
        cmocka_unit_test(test_batch_session),
        cmocka_unit_test(test_batch_priority),
        cmocka_unit_test(test_batch_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
