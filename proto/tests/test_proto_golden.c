/* Golden tests: the example messages printed in feedback.md and ingest.md
 * decode to the documented values, and encoding those values gives exactly
 * the printed bytes. The documents are read at run time (their paths are the
 * test's arguments), and the bytes are also kept here, so a change on either
 * side fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <string.h>

#include <mdbp/feedback.h>
#include <mdbp/ingest.h>

#define DOC_BYTES_MAX (256 * 1024)
#define HEX_BYTES_MAX 4096

static const char *s_feedback_md;
static const char *s_ingest_md;

/* The feedback example of feedback.md, section 8. */
static const char s_feedback_hex[] =
    "de 00 11 a1 76 01 a4 74 79 70 65 aa 74 72 61 6e\n"
    "73 69 74 69 6f 6e ae 63 6f 6f 72 64 69 6e 61 74\n"
    "6f 72 5f 69 64 a7 63 6f 6f 72 64 2d 31 a5 65 70\n"
    "6f 63 68 cf ab 54 a9 8c eb 1f 0a d2 a3 73 65 71\n"
    "2a a5 74 73 5f 6e 73 cf 17 97 9c fe 3d 85 cd 15\n"
    "a5 6c 65 76 65 6c a4 73 6f 66 74 aa 70 72 65 76\n"
    "5f 6c 65 76 65 6c a2 6f 6b aa 71 75 65 75 65 5f\n"
    "73 69 7a 65 cd 19 64 a8 63 61 70 61 63 69 74 79\n"
    "cd 27 10 a6 6c 6f 77 5f 77 6d cd 13 88 a7 68 69\n"
    "67 68 5f 77 6d cd 1f 40 ab 75 74 69 6c 69 7a 61\n"
    "74 69 6f 6e cb 3f e4 cc cc cc cc cc cd aa 73 63\n"
    "61 6c 65 5f 68 69 6e 74 cb 3f e0 00 00 00 00 00\n"
    "00 a6 74 74 6c 5f 6d 73 cd 0b b8 a6 72 65 61 73\n"
    "6f 6e b9 71 75 65 75 65 20 61 62 6f 76 65 20 6c\n"
    "6f 77 20 77 61 74 65 72 6d 61 72 6b aa 64 72 61\n"
    "69 6e 5f 72 61 74 65 cb 40 c8 6a 40 00 00 00 00\n";

/* The examples of ingest.md, section 6. */
static const char s_batch_hex[] =
    "85 a1 76 01 a4 74 79 70 65 a5 62 61 74 63 68 ab\n"
    "70 72 6f 64 75 63 65 72 5f 69 64 ab 66 65 65 64\n"
    "2d 69 62 6b 72 2d 31 a9 62 61 74 63 68 5f 73 65\n"
    "71 07 a7 72 65 63 6f 72 64 73 93 96 a5 74 72 61\n"
    "64 65 a4 69 62 6b 72 a4 41 41 50 4c cf 17 97 9c\n"
    "fe 36 2a 00 00 cb 40 67 b0 00 00 00 00 00 cb 40\n"
    "59 00 00 00 00 00 00 98 a5 71 75 6f 74 65 a4 69\n"
    "62 6b 72 a4 41 41 50 4c cf 17 97 9c fe 36 2a 00\n"
    "01 cb 40 67 af ae 14 7a e1 48 cb 40 72 c0 00 00\n"
    "00 00 00 cb 40 67 b0 51 eb 85 1e b8 cb 40 69 00\n"
    "00 00 00 00 00 99 a3 62 61 72 a4 69 62 6b 72 a4\n"
    "41 41 50 4c cf 17 97 9c f0 3d e2 a8 00 cb 40 67\n"
    "a0 00 00 00 00 00 cb 40 67 c8 00 00 00 00 00 cb\n"
    "40 67 98 00 00 00 00 00 cb 40 67 b0 00 00 00 00\n"
    "00 cb 40 fe 84 80 00 00 00 00\n";
static const char s_ack_hex[] =
    "86 a1 76 01 a4 74 79 70 65 a3 61 63 6b a9 62 61\n"
    "74 63 68 5f 73 65 71 07 a7 77 72 69 74 74 65 6e\n"
    "03 aa 64 75 70 6c 69 63 61 74 65 73 00 ad 64 65\n"
    "61 64 5f 6c 65 74 74 65 72 65 64 00\n";
static const char s_nack_hex[] =
    "86 a1 76 01 a4 74 79 70 65 a4 6e 61 63 6b a9 62\n"
    "61 74 63 68 5f 73 65 71 08 a6 72 65 61 73 6f 6e\n"
    "a4 66 75 6c 6c ae 72 65 74 72 79 5f 61 66 74 65\n"
    "72 5f 6d 73 cc c8 a6 64 65 74 61 69 6c aa 71 75\n"
    "65 75 65 20 66 75 6c 6c\n";

/* The v1.1 examples (ingest.md section 6, feedback.md 8.1 and 8.2). */
static const char s_ack_v11_hex[] =
    "88 a1 76 01 a4 74 79 70 65 a3 61 63 6b a9 62 61\n"
    "74 63 68 5f 73 65 71 07 a7 77 72 69 74 74 65 6e\n"
    "03 aa 64 75 70 6c 69 63 61 74 65 73 00 ad 64 65\n"
    "61 64 5f 6c 65 74 74 65 72 65 64 00 a7 73 65 73\n"
    "73 69 6f 6e cf 00 00 00 02 4c b0 16 ea a6 63 72\n"
    "65 64 69 74 cd 05 dc\n";
static const char s_nack_v11_hex[] =
    "8b a1 76 01 a4 74 79 70 65 a4 6e 61 63 6b a9 62\n"
    "61 74 63 68 5f 73 65 71 09 a6 72 65 61 73 6f 6e\n"
    "a9 6d 61 6c 66 6f 72 6d 65 64 ae 72 65 74 72 79\n"
    "5f 61 66 74 65 72 5f 6d 73 00 a6 64 65 74 61 69\n"
    "6c d9 23 72 65 63 6f 72 64 20 32 3a 20 66 69 65\n"
    "6c 64 20 27 70 72 69 63 65 27 20 6d 75 73 74 20\n"
    "62 65 20 3e 20 30 a7 73 65 73 73 69 6f 6e cf 00\n"
    "00 00 02 4c b0 16 ea a6 63 72 65 64 69 74 cd 05\n"
    "dc a4 63 6f 64 65 aa 62 61 64 5f 72 65 63 6f 72\n"
    "64 ac 72 65 63 6f 72 64 5f 69 6e 64 65 78 02 a5\n"
    "66 69 65 6c 64 a5 70 72 69 63 65\n";
static const char s_feedback_v11_hex[] =
    "de 00 17 a1 76 01 a4 74 79 70 65 aa 74 72 61 6e\n"
    "73 69 74 69 6f 6e ae 63 6f 6f 72 64 69 6e 61 74\n"
    "6f 72 5f 69 64 a7 63 6f 6f 72 64 2d 31 a5 65 70\n"
    "6f 63 68 cf ab 54 a9 8c eb 1f 0a d2 a3 73 65 71\n"
    "2b a5 74 73 5f 6e 73 cf 17 97 9c fe 43 7b ae 15\n"
    "a5 6c 65 76 65 6c a4 68 61 72 64 aa 70 72 65 76\n"
    "5f 6c 65 76 65 6c a4 73 6f 66 74 aa 71 75 65 75\n"
    "65 5f 73 69 7a 65 cd 19 64 a8 63 61 70 61 63 69\n"
    "74 79 cd 27 10 a6 6c 6f 77 5f 77 6d cd 13 88 a7\n"
    "68 69 67 68 5f 77 6d cd 1f 40 ab 75 74 69 6c 69\n"
    "7a 61 74 69 6f 6e cb 3f e4 cc cc cc cc cc cd aa\n"
    "73 63 61 6c 65 5f 68 69 6e 74 cb 00 00 00 00 00\n"
    "00 00 00 a6 74 74 6c 5f 6d 73 cd 0b b8 a6 72 65\n"
    "61 73 6f 6e a9 73 69 6e 6b 5f 64 6f 77 6e aa 64\n"
    "72 61 69 6e 5f 72 61 74 65 cb 00 00 00 00 00 00\n"
    "00 00 ad 6f 6c 64 65 73 74 5f 61 67 65 5f 6d 73\n"
    "cd 08 66 b1 63 6f 6d 6d 69 74 5f 6c 61 74 65 6e\n"
    "63 79 5f 6d 73 cb 40 29 00 00 00 00 00 00 aa 73\n"
    "69 6e 6b 5f 73 74 61 74 65 a4 64 6f 77 6e a8 70\n"
    "72 65 73 73 75 72 65 cb 3f f0 00 00 00 00 00 00\n"
    "ae 63 72 65 64 69 74 5f 69 6e 69 74 69 61 6c cd\n"
    "01 f4 aa 67 6f 69 6e 67 5f 61 77 61 79 c2\n";
static const char s_going_away_hex[] =
    "de 00 11 a1 76 01 a4 74 79 70 65 a9 68 65 61 72\n"
    "74 62 65 61 74 ae 63 6f 6f 72 64 69 6e 61 74 6f\n"
    "72 5f 69 64 a7 63 6f 6f 72 64 2d 31 a5 65 70 6f\n"
    "63 68 cf ab 54 a9 8c eb 1f 0a d2 a3 73 65 71 2c\n"
    "a5 74 73 5f 6e 73 cf 17 97 9c fe 71 c4 ca 00 a5\n"
    "6c 65 76 65 6c a2 6f 6b aa 70 72 65 76 5f 6c 65\n"
    "76 65 6c a2 6f 6b aa 71 75 65 75 65 5f 73 69 7a\n"
    "65 00 a8 63 61 70 61 63 69 74 79 cd 27 10 a6 6c\n"
    "6f 77 5f 77 6d cd 13 88 a7 68 69 67 68 5f 77 6d\n"
    "cd 1f 40 ab 75 74 69 6c 69 7a 61 74 69 6f 6e cb\n"
    "00 00 00 00 00 00 00 00 aa 73 63 61 6c 65 5f 68\n"
    "69 6e 74 cb 3f f0 00 00 00 00 00 00 a6 74 74 6c\n"
    "5f 6d 73 00 a6 72 65 61 73 6f 6e a8 73 68 75 74\n"
    "64 6f 77 6e aa 67 6f 69 6e 67 5f 61 77 61 79 c3\n";

/* Parses hex pairs separated by white space. Returns the byte count. */
static size_t s_hex_parse(const char *text, size_t text_length, uint8_t *out,
                          size_t capacity)
{
    size_t count = 0;
    size_t at = 0;
    while (at < text_length) {
        if (text[at] == ' ' || text[at] == '\n') {
            at++;
            continue;
        }
        assert_true(at + 1 < text_length);
        char pair[3] = {text[at], text[at + 1], '\0'};
        char *end;
        unsigned long value = strtoul(pair, &end, 16);
        assert_true(*end == '\0');
        assert_true(count < capacity);
        out[count++] = (uint8_t)value;
        at += 2;
    }
    return count;
}

/* Reads the code block after "<!-- golden: NAME -->" in the document at
 * `path` and returns its bytes. */
static size_t s_doc_hex(const char *path, const char *name, uint8_t *out,
                        size_t capacity)
{
    FILE *file = fopen(path, "r");
    if (!file)
        fail_msg("cannot open %s", path);
    char *document = malloc(DOC_BYTES_MAX + 1);
    assert_non_null(document);
    size_t length = fread(document, 1, DOC_BYTES_MAX, file);
    fclose(file);
    document[length] = '\0';
    char marker[64];
    snprintf(marker, sizeof marker, "<!-- golden: %s -->", name);
    char *at = strstr(document, marker);
    if (!at)
        fail_msg("%s: no marker %s", path, marker);
    char *start = strstr(at, "```\n");
    assert_non_null(start);
    start += 4;
    char *end = strstr(start, "```");
    assert_non_null(end);
    size_t count = s_hex_parse(start, (size_t)(end - start), out, capacity);
    free(document);
    return count;
}

static void test_feedback_golden(void **state)
{
    (void)state;
    uint8_t documented[HEX_BYTES_MAX], kept[HEX_BYTES_MAX];
    size_t documented_size =
        s_doc_hex(s_feedback_md, "feedback", documented, sizeof documented);
    size_t kept_size =
        s_hex_parse(s_feedback_hex, strlen(s_feedback_hex), kept, sizeof kept);
    assert_int_equal(documented_size, 256);
    assert_int_equal(documented_size, kept_size);
    assert_memory_equal(documented, kept, kept_size);

    mdbp_feedback_t event;
    mdbp_error_t error = {{0}};
    if (mdbp_feedback_decode(documented, documented_size, &event, &error))
        fail_msg("decode: %s", error.text);
    assert_int_equal(event.type, MDBP_FEEDBACK_TRANSITION);
    assert_string_equal(event.coordinator_id, "coord-1");
    assert_true(event.epoch == 12345678901234567890ULL);
    assert_true(event.seq == 42);
    assert_true(event.ts_ns == 1700000000123456789LL);
    assert_int_equal(event.level, MDBP_LEVEL_SOFT);
    assert_int_equal(event.prev_level, MDBP_LEVEL_OK);
    assert_true(event.queue_size == 6500);
    assert_true(event.capacity == 10000);
    assert_true(event.low_wm == 5000);
    assert_true(event.high_wm == 8000);
    assert_true(event.utilization == 0.65);
    assert_true(event.scale_hint == 0.5);
    assert_int_equal(event.ttl_ms, 3000);
    assert_true(event.has_reason);
    assert_string_equal(event.reason, "queue above low watermark");
    assert_true(event.has_drain_rate);
    assert_true(event.drain_rate == 12500.5);

    /* Our encoder writes exactly the documented bytes. */
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), 0);
    assert_int_equal(buffer.size, documented_size);
    assert_memory_equal(buffer.data, documented, documented_size);
    mdbp_buffer_release(&buffer);

    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    assert_int_equal(mdbp_feedback_topic("coord-1", topic, sizeof topic), 15);
    assert_string_equal(topic, "mds.fb/coord-1/");
}

/* The bytes under `name` in `path`, checked against the copy kept here. */
static size_t s_golden(const char *path, const char *name, const char *kept_hex,
                       uint8_t *out, size_t capacity)
{
    size_t size = s_doc_hex(path, name, out, capacity);
    uint8_t kept[HEX_BYTES_MAX];
    size_t kept_size =
        s_hex_parse(kept_hex, strlen(kept_hex), kept, sizeof kept);
    assert_int_equal(size, kept_size);
    assert_memory_equal(out, kept, kept_size);
    return size;
}

static void test_batch_golden(void **state)
{
    (void)state;
    uint8_t bytes[HEX_BYTES_MAX];
    size_t size =
        s_golden(s_ingest_md, "batch", s_batch_hex, bytes, sizeof bytes);
    assert_int_equal(size, 234);
    mdbp_batch_t batch;
    mdbp_record_t records[3];
    mdbp_error_t error = {{0}};
    if (mdbp_batch_decode(bytes, size, &batch, records, 3, &error))
        fail_msg("decode: %s", error.text);
    assert_string_equal(batch.producer_id, "feed-ibkr-1");
    assert_true(batch.batch_seq == 7);
    assert_int_equal(batch.count, 3);
    for (int index = 0; index < 3; index++) {
        assert_string_equal(records[index].provider, "ibkr");
        assert_string_equal(records[index].symbol, "AAPL");
    }
    assert_int_equal(records[0].kind, MDBP_RECORD_TRADE);
    assert_true(records[0].ts_ns == 1700000000000000000LL);
    assert_true(records[0].u.trade.price == 189.5);
    assert_true(records[0].u.trade.size == 100.0);
    assert_int_equal(records[1].kind, MDBP_RECORD_QUOTE);
    assert_true(records[1].ts_ns == 1700000000000000001LL);
    assert_true(records[1].u.quote.bid == 189.49);
    assert_true(records[1].u.quote.bid_size == 300.0);
    assert_true(records[1].u.quote.ask == 189.51);
    assert_true(records[1].u.quote.ask_size == 200.0);
    assert_int_equal(records[2].kind, MDBP_RECORD_BAR);
    assert_true(records[2].ts_ns == 1699999940000000000LL);
    assert_true(records[2].u.bar.open == 189.0);
    assert_true(records[2].u.bar.high == 190.25);
    assert_true(records[2].u.bar.low == 188.75);
    assert_true(records[2].u.bar.close == 189.5);
    assert_true(records[2].u.bar.volume == 125000.0);

    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_batch_encode(batch.producer_id, batch.batch_seq,
                                        records, batch.count, &buffer),
                     0);
    assert_int_equal(buffer.size, size);
    assert_memory_equal(buffer.data, bytes, size);
    mdbp_buffer_release(&buffer);
}

static void test_replies_golden(void **state)
{
    (void)state;
    uint8_t bytes[HEX_BYTES_MAX];
    mdbp_reply_t reply;
    mdbp_error_t error = {{0}};
    mdbp_buffer_t buffer;

    size_t size = s_golden(s_ingest_md, "ack", s_ack_hex, bytes, sizeof bytes);
    assert_int_equal(size, 60);
    if (mdbp_reply_decode(bytes, size, &reply, &error))
        fail_msg("ack: %s", error.text);
    assert_int_equal(reply.type, MDBP_REPLY_ACK);
    assert_true(reply.batch_seq == 7);
    assert_int_equal(reply.written, 3);
    assert_int_equal(reply.duplicates, 0);
    assert_int_equal(reply.dead_lettered, 0);
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_reply_encode(&reply, &buffer), 0);
    assert_int_equal(buffer.size, size);
    assert_memory_equal(buffer.data, bytes, size);
    mdbp_buffer_release(&buffer);

    size = s_golden(s_ingest_md, "nack", s_nack_hex, bytes, sizeof bytes);
    assert_int_equal(size, 72);
    if (mdbp_reply_decode(bytes, size, &reply, &error))
        fail_msg("nack: %s", error.text);
    assert_int_equal(reply.type, MDBP_REPLY_NACK);
    assert_true(reply.batch_seq == 8);
    assert_int_equal(reply.reason, MDBP_NACK_FULL);
    assert_int_equal(reply.retry_after_ms, 200);
    assert_string_equal(reply.detail, "queue full");
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_reply_encode(&reply, &buffer), 0);
    assert_int_equal(buffer.size, size);
    assert_memory_equal(buffer.data, bytes, size);
    mdbp_buffer_release(&buffer);
}

/* Encodes `reply` and checks the bytes are `bytes`. */
static void s_reply_encodes_to(const mdbp_reply_t *reply, const uint8_t *bytes,
                               size_t size)
{
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_reply_encode(reply, &buffer), 0);
    assert_int_equal(buffer.size, size);
    assert_memory_equal(buffer.data, bytes, size);
    mdbp_buffer_release(&buffer);
}

static void test_replies_v11_golden(void **state)
{
    (void)state;
    uint8_t bytes[HEX_BYTES_MAX];
    mdbp_reply_t reply;
    mdbp_error_t error = {{0}};

    size_t size =
        s_golden(s_ingest_md, "ack-v1.1", s_ack_v11_hex, bytes, sizeof bytes);
    assert_int_equal(size, 87);
    if (mdbp_reply_decode(bytes, size, &reply, &error))
        fail_msg("ack: %s", error.text);
    assert_int_equal(reply.type, MDBP_REPLY_ACK);
    assert_true(reply.batch_seq == 7);
    assert_int_equal(reply.written, 3);
    assert_true(reply.session == 9876543210ULL);
    assert_true(reply.has_credit);
    assert_int_equal(reply.credit, 1500);
    assert_int_equal(reply.code, MDBP_NACK_CODE_NONE);
    s_reply_encodes_to(&reply, bytes, size);

    size =
        s_golden(s_ingest_md, "nack-v1.1", s_nack_v11_hex, bytes, sizeof bytes);
    assert_int_equal(size, 171);
    if (mdbp_reply_decode(bytes, size, &reply, &error))
        fail_msg("nack: %s", error.text);
    assert_int_equal(reply.type, MDBP_REPLY_NACK);
    assert_true(reply.batch_seq == 9);
    assert_int_equal(reply.reason, MDBP_NACK_MALFORMED);
    assert_int_equal(reply.retry_after_ms, 0);
    assert_string_equal(reply.detail, "record 2: field 'price' must be > 0");
    assert_true(reply.session == 9876543210ULL);
    assert_true(reply.has_credit);
    assert_int_equal(reply.credit, 1500);
    assert_int_equal(reply.code, MDBP_NACK_CODE_BAD_RECORD);
    assert_true(reply.has_record_index);
    assert_int_equal(reply.record_index, 2);
    assert_string_equal(reply.field, "price");
    s_reply_encodes_to(&reply, bytes, size);
}

/* Decodes `bytes` as feedback, checks it encodes back to the same bytes. */
static mdbp_feedback_t s_feedback_round(const uint8_t *bytes, size_t size)
{
    mdbp_feedback_t event;
    mdbp_error_t error = {{0}};
    if (mdbp_feedback_decode(bytes, size, &event, &error))
        fail_msg("decode: %s", error.text);
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), 0);
    assert_int_equal(buffer.size, size);
    assert_memory_equal(buffer.data, bytes, size);
    mdbp_buffer_release(&buffer);
    return event;
}

static void test_feedback_v11_golden(void **state)
{
    (void)state;
    uint8_t bytes[HEX_BYTES_MAX];
    size_t size = s_golden(s_feedback_md, "feedback-v1.1", s_feedback_v11_hex,
                           bytes, sizeof bytes);
    assert_int_equal(size, 350);
    mdbp_feedback_t event = s_feedback_round(bytes, size);
    assert_int_equal(event.type, MDBP_FEEDBACK_TRANSITION);
    assert_true(event.seq == 43);
    assert_true(event.ts_ns == 1700000000223456789LL);
    assert_int_equal(event.level, MDBP_LEVEL_HARD);
    assert_int_equal(event.prev_level, MDBP_LEVEL_SOFT);
    assert_true(event.queue_size == 6500);
    assert_true(event.scale_hint == 0.0);
    assert_string_equal(event.reason, "sink_down");
    assert_true(event.has_drain_rate && event.drain_rate == 0.0);
    assert_true(event.has_oldest_age_ms);
    assert_int_equal(event.oldest_age_ms, 2150);
    assert_true(event.has_commit_latency_ms);
    assert_true(event.commit_latency_ms == 12.5);
    assert_int_equal(event.sink_state, MDBP_SINK_STATE_DOWN);
    assert_true(event.has_pressure && event.pressure == 1.0);
    assert_true(event.has_credit_initial);
    assert_int_equal(event.credit_initial, 500);
    assert_true(event.has_going_away);
    assert_false(event.going_away);

    size = s_golden(s_feedback_md, "going-away", s_going_away_hex, bytes,
                    sizeof bytes);
    assert_int_equal(size, 224);
    event = s_feedback_round(bytes, size);
    assert_int_equal(event.type, MDBP_FEEDBACK_HEARTBEAT);
    assert_true(event.seq == 44);
    assert_int_equal(event.level, MDBP_LEVEL_OK);
    assert_true(event.queue_size == 0);
    assert_int_equal(event.ttl_ms, 0);
    assert_string_equal(event.reason, "shutdown");
    assert_true(event.has_going_away && event.going_away);
    assert_false(event.has_pressure);
    assert_int_equal(event.sink_state, MDBP_SINK_STATE_NONE);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s feedback.md ingest.md\n", argv[0]);
        return 2;
    }
    s_feedback_md = argv[1];
    s_ingest_md = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_golden),
        cmocka_unit_test(test_batch_golden),
        cmocka_unit_test(test_replies_golden),
        cmocka_unit_test(test_replies_v11_golden),
        cmocka_unit_test(test_feedback_v11_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
