/* Robustness of the decoders: 10,000 random buffers, 10,000 truncations of
 * valid messages and 10,000 byte-mutated messages per decoder must each end
 * in 0 or a clean -1 with an error text; never a crash or a read past the
 * end (run under valgrind and ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <string.h>

#include <mdbp/feedback.h>
#include <mdbp/ingest.h>
#include <mdbp/text.h>

#define FUZZ_ROUNDS 10000
#define FUZZ_RANDOM_BYTES_MAX 96
#define FUZZ_RECORDS 8

/* xorshift64*: a fixed seed makes every run the same. */
static uint64_t s_state = 0x9e3779b97f4a7c15ULL;
static uint64_t s_random(void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545f4914f6cdd1dULL;
}

/* The three decoders behind one signature. Each decode copies the input
 * into an exactly sized heap block, so valgrind and ASan see any read past
 * the end. */
typedef int (*decoder_t)(const void *data, size_t size, mdbp_error_t *error);

static int s_decode_feedback(const void *data, size_t size,
                             mdbp_error_t *error)
{
    mdbp_feedback_t event;
    return mdbp_feedback_decode(data, size, &event, error);
}

static int s_decode_batch(const void *data, size_t size, mdbp_error_t *error)
{
    mdbp_batch_t batch;
    mdbp_record_t records[FUZZ_RECORDS];
    return mdbp_batch_decode(data, size, &batch, records, FUZZ_RECORDS, error);
}

static int s_decode_reply(const void *data, size_t size, mdbp_error_t *error)
{
    mdbp_reply_t reply;
    return mdbp_reply_decode(data, size, &reply, error);
}

static const decoder_t s_decoders[] = {s_decode_feedback, s_decode_batch,
                                       s_decode_reply};
#define DECODER_COUNT (sizeof s_decoders / sizeof s_decoders[0])

/* Runs every decoder on a heap copy of `data`; returns how many failed. */
static int s_run(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    if (size)
        memcpy(copy, data, size);
    int failures = 0;
    for (size_t index = 0; index < DECODER_COUNT; index++) {
        mdbp_error_t error;
        error.text[0] = '\0';
        int rc = s_decoders[index](copy, size, &error);
        assert_true(rc == 0 || rc == -1);
        if (rc == -1) {
            assert_true(strlen(error.text) > 0);
            failures++;
        }
    }
    free(copy);
    return failures;
}

/* Valid messages of every kind, for truncation and mutation. */
typedef struct {
    mdbp_buffer_t buffers[8];
    size_t count;
} corpus_t;

static void s_corpus_build(corpus_t *corpus)
{
    memset(corpus, 0, sizeof *corpus);
    mdbp_feedback_t event = {.type = MDBP_FEEDBACK_TRANSITION,
                              .coordinator_id = "coord-1",
                              .epoch = 123456789,
                              .seq = 1000,
                              .ts_ns = 1700000000000000000LL,
                              .level = MDBP_LEVEL_HARD,
                              .prev_level = MDBP_LEVEL_SOFT,
                              .queue_size = 8100,
                              .capacity = 10000,
                              .low_wm = 5000,
                              .high_wm = 8000,
                              .utilization = 0.81,
                              .scale_hint = 0.0,
                              .ttl_ms = 3000,
                              .has_reason = true,
                              .reason = "up",
                              .has_drain_rate = true,
                              .drain_rate = 5.5};
    mdbp_record_t records[FUZZ_RECORDS];
    for (int index = 0; index < FUZZ_RECORDS; index++) {
        mdbp_record_t *record = &records[index];
        memset(record, 0, sizeof *record);
        record->kind = (mdbp_record_kind_t)(index % MDBP_RECORD_KIND_COUNT);
        strcpy(record->provider, "ibkr");
        strcpy(record->symbol, "AAPL");
        record->ts_ns = 1 + index;
        record->u.bar.open = 1;
        record->u.bar.high = 2;
        record->u.bar.low = 1;
        record->u.bar.close = 2;
        record->u.bar.volume = 3;
    }
    mdbp_reply_t ack = {.type = MDBP_REPLY_ACK, .batch_seq = 7, .written = 8};
    mdbp_reply_t nack = {.type = MDBP_REPLY_NACK,
                          .batch_seq = 7,
                          .reason = MDBP_NACK_FULL,
                          .retry_after_ms = 100,
                          .detail = "full"};
    for (size_t index = 0; index < 8; index++)
        mdbp_buffer_init(&corpus->buffers[index]);
    assert_int_equal(mdbp_feedback_encode(&event, &corpus->buffers[0]), 0);
    event.has_reason = event.has_drain_rate = false;
    assert_int_equal(mdbp_feedback_encode(&event, &corpus->buffers[1]), 0);
    assert_int_equal(mdbp_batch_encode("producer", 9, records, FUZZ_RECORDS,
                                        &corpus->buffers[2]),
                     0);
    assert_int_equal(mdbp_reply_encode(&ack, &corpus->buffers[3]), 0);
    assert_int_equal(mdbp_reply_encode(&nack, &corpus->buffers[4]), 0);
    /* v1.1 keys: every feedback key, a session batch, a coded nack. */
    event.has_oldest_age_ms = event.has_commit_latency_ms = true;
    event.oldest_age_ms = 2150;
    event.commit_latency_ms = 12.5;
    event.sink_state = MDBP_SINK_STATE_DOWN;
    event.has_pressure = event.has_credit_initial = true;
    event.pressure = 1.0;
    event.credit_initial = 500;
    event.has_going_away = event.going_away = true;
    assert_int_equal(mdbp_feedback_encode(&event, &corpus->buffers[5]), 0);
    assert_int_equal(mdbp_batch_encode_session("producer", 77, 9, records,
                                                FUZZ_RECORDS,
                                                &corpus->buffers[6]),
                     0);
    nack.session = 77;
    nack.has_credit = true;
    nack.credit = 1500;
    nack.code = MDBP_NACK_CODE_BAD_RECORD;
    nack.has_record_index = true;
    nack.record_index = 3;
    snprintf(nack.field, sizeof nack.field, "price");
    assert_int_equal(mdbp_reply_encode(&nack, &corpus->buffers[7]), 0);
    corpus->count = 8;
    /* Each decodes with exactly one decoder. */
    for (size_t index = 0; index < corpus->count; index++)
        assert_int_equal(s_run((const uint8_t *)corpus->buffers[index].data,
                               corpus->buffers[index].size),
                         (int)DECODER_COUNT - 1);
}

static void s_corpus_destroy(corpus_t *corpus)
{
    for (size_t index = 0; index < corpus->count; index++)
        mdbp_buffer_release(&corpus->buffers[index]);
}

static void test_random_buffers(void **state)
{
    (void)state;
    uint8_t data[FUZZ_RANDOM_BYTES_MAX];
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t size = s_random() % (FUZZ_RANDOM_BYTES_MAX + 1);
        for (size_t index = 0; index < size; index++)
            data[index] = (uint8_t)s_random();
        /* Half the time start like a map, to get past the first check. */
        if (size > 0 && round % 2 == 0)
            data[0] = (uint8_t)(0x80 | (data[0] & 0x0f));
        s_run(data, size);
    }
}

static void test_truncations(void **state)
{
    (void)state;
    corpus_t corpus;
    s_corpus_build(&corpus);
    int rounds = 0;
    while (rounds < FUZZ_ROUNDS) {
        for (size_t message = 0; message < corpus.count; message++) {
            const mdbp_buffer_t *buffer = &corpus.buffers[message];
            /* Every strict prefix, from a random start so all lengths are
             * covered across the corpus. */
            size_t size = s_random() % buffer->size;
            assert_int_equal(s_run((const uint8_t *)buffer->data, size),
                             (int)DECODER_COUNT);
            rounds++;
        }
    }
    /* And every prefix of each message once. */
    for (size_t message = 0; message < corpus.count; message++) {
        const mdbp_buffer_t *buffer = &corpus.buffers[message];
        for (size_t size = 0; size < buffer->size; size++)
            assert_int_equal(s_run((const uint8_t *)buffer->data, size),
                             (int)DECODER_COUNT);
    }
    s_corpus_destroy(&corpus);
}

static void test_mutations(void **state)
{
    (void)state;
    corpus_t corpus;
    s_corpus_build(&corpus);
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        const mdbp_buffer_t *buffer =
            &corpus.buffers[(size_t)round % corpus.count];
        uint8_t *data = malloc(buffer->size);
        assert_non_null(data);
        memcpy(data, buffer->data, buffer->size);
        int flips = 1 + (int)(s_random() % 4);
        for (int flip = 0; flip < flips; flip++) {
            size_t at = s_random() % buffer->size;
            /* Format bytes that change a length are the interesting ones. */
            static const uint8_t formats[] = {0xc1, 0xdc, 0xdd, 0xde, 0xdf,
                                              0xd9, 0xda, 0xdb, 0xcf, 0xd3,
                                              0xca, 0xcb, 0xc7, 0xd8, 0xff};
            data[at] = s_random() % 2 ? (uint8_t)s_random()
                                      : formats[s_random() % sizeof formats];
        }
        s_run(data, buffer->size);
        free(data);
    }
    s_corpus_destroy(&corpus);
}

/* Headers that claim huge counts in a few bytes are refused without
 * allocating. */
static void test_huge_counts(void **state)
{
    (void)state;
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v'};
    static const uint8_t array32_value[] = {0x81, 0xa7, 'r',  'e',  'c',
                                            'o',  'r',  'd',  's',  0xdd,
                                            0xff, 0xff, 0xff, 0xff, 0xc0};
    static const uint8_t str32_key[] = {0x81, 0xdb, 0xff, 0xff,
                                        0xff, 0xff, 'a'};
    static const uint8_t nested_unknown[] = {0x81, 0xa1, 'x',  0x91, 0x91,
                                             0x91, 0x91, 0x91, 0x91, 0x91,
                                             0xdd, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(s_run(map32, sizeof map32), (int)DECODER_COUNT);
    assert_int_equal(s_run(array32_value, sizeof array32_value),
                     (int)DECODER_COUNT);
    assert_int_equal(s_run(str32_key, sizeof str32_key), (int)DECODER_COUNT);
    assert_int_equal(s_run(nested_unknown, sizeof nested_unknown),
                     (int)DECODER_COUNT);
}

/* The text readers on random lines, truncations and mutations of valid
 * lines (each an exactly sized heap string). */
static void s_text_run(const char *line, size_t length)
{
    char *copy = malloc(length + 1);
    assert_non_null(copy);
    memcpy(copy, line, length);
    copy[length] = '\0';
    mdbp_record_t record;
    mdbp_error_t error;
    error.text[0] = '\0';
    int rc = mdbp_text_parse_json(copy, &record, &error);
    assert_true(rc == 0 || (rc == -1 && strlen(error.text) > 0));
    error.text[0] = '\0';
    rc = mdbp_text_parse_csv(copy, &record, &error);
    assert_true(rc == 0 || rc == 1 || (rc == -1 && strlen(error.text) > 0));
    free(copy);
}

static void test_text_lines(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "{\"kind\":\"quote\",\"provider\":\"p\\u00e9\",\"symbol\":\"s\","
        "\"ts_ns\":5,\"bid\":1.5e3,\"bid_size\":2,\"ask\":3,\"ask_size\":4,"
        "\"reason\":\"x\\ud83d\\ude00\\n\",\"z\":null}",
        "bar,ibkr,AAPL,1699999940000000000,189,190.25,188.75,189.5,125000",
    };
    static const char alphabet[] = "{}[]\":,\\u0123456789abcdefkindtr.-+eE "
                                   "\t\x01\xc3\xa9";
    char line[FUZZ_RANDOM_BYTES_MAX];
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        const char *source = valid[round % 2];
        size_t length = strlen(source);
        switch (round % 3) {
        case 0: /* a truncation */
            s_text_run(source, s_random() % length);
            break;
        case 1: { /* a mutation */
            char *copy = strdup(source);
            assert_non_null(copy);
            for (int flip = 0; flip < 3; flip++)
                copy[s_random() % length] =
                    alphabet[s_random() % (sizeof alphabet - 1)];
            s_text_run(copy, length);
            free(copy);
            break;
        }
        default: { /* random characters of the grammar */
            size_t size = s_random() % sizeof line;
            for (size_t index = 0; index < size; index++)
                line[index] = alphabet[s_random() % (sizeof alphabet - 1)];
            s_text_run(line, size);
        }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_buffers),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
