/* Unit tests of the feedback codec: round trips, the golden example of
 * feedback.md, missing and ill-typed keys, versions, topics. */
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <mdbp/feedback.h>
#include "test_builder.h"

static mdbp_feedback_t s_event(mdbp_feedback_type_t type, bool optionals)
{
    mdbp_feedback_t event;
    memset(&event, 0, sizeof event);
    event.type = type;
    strcpy(event.coordinator_id, "coord-1");
    event.epoch = 0x5eed5eed5eed5eedULL;
    event.seq = 42;
    event.ts_ns = 1700000000123456789LL;
    event.level = MDBP_LEVEL_SOFT;
    event.prev_level = MDBP_LEVEL_OK;
    event.queue_size = 6500;
    event.capacity = 10000;
    event.low_wm = 5000;
    event.high_wm = 8000;
    event.utilization = 0.65;
    event.scale_hint = 0.5;
    event.ttl_ms = 3000;
    if (optionals) {
        event.has_reason = true;
        strcpy(event.reason, "queue above low watermark");
        event.has_drain_rate = true;
        event.drain_rate = 12500.25;
    }
    return event;
}

static void s_assert_equal(const mdbp_feedback_t *a, const mdbp_feedback_t *b)
{
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->coordinator_id, b->coordinator_id);
    assert_true(a->epoch == b->epoch);
    assert_true(a->seq == b->seq);
    assert_true(a->ts_ns == b->ts_ns);
    assert_int_equal(a->level, b->level);
    assert_int_equal(a->prev_level, b->prev_level);
    assert_true(a->queue_size == b->queue_size);
    assert_true(a->capacity == b->capacity);
    assert_true(a->low_wm == b->low_wm);
    assert_true(a->high_wm == b->high_wm);
    assert_true(a->utilization == b->utilization);
    assert_true(a->scale_hint == b->scale_hint);
    assert_int_equal(a->ttl_ms, b->ttl_ms);
    assert_int_equal(a->has_reason, b->has_reason);
    if (a->has_reason)
        assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->has_drain_rate, b->has_drain_rate);
    if (a->has_drain_rate)
        assert_true(a->drain_rate == b->drain_rate);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (int type = MDBP_FEEDBACK_TRANSITION; type <= MDBP_FEEDBACK_SNAPSHOT;
         type++) {
        for (int optionals = 0; optionals <= 1; optionals++) {
            mdbp_feedback_t sent =
                s_event((mdbp_feedback_type_t)type, optionals);
            mdbp_buffer_t buffer;
            mdbp_buffer_init(&buffer);
            assert_int_equal(mdbp_feedback_encode(&sent, &buffer), 0);
            mdbp_feedback_t received;
            mdbp_error_t error = {{0}};
            int rc = mdbp_feedback_decode(buffer.data, buffer.size, &received,
                                           &error);
            if (rc != 0)
                fail_msg("decode: %s", error.text);
            s_assert_equal(&sent, &received);
            mdbp_buffer_release(&buffer);
        }
    }
}

static void test_round_trip_extremes(void **state)
{
    (void)state;
    mdbp_feedback_t sent = s_event(MDBP_FEEDBACK_HEARTBEAT, false);
    sent.epoch = UINT64_MAX;
    sent.seq = 0;
    sent.ts_ns = INT64_MIN;
    sent.level = MDBP_LEVEL_HARD;
    sent.prev_level = MDBP_LEVEL_HARD;
    sent.queue_size = UINT64_MAX;
    sent.utilization = 1.0;
    sent.scale_hint = 0.0;
    sent.ttl_ms = UINT32_MAX;
    memset(sent.coordinator_id, 'c', MDBP_ID_MAX);
    sent.coordinator_id[MDBP_ID_MAX] = '\0';
    sent.has_reason = true;
    memset(sent.reason, 'r', MDBP_REASON_MAX);
    sent.reason[MDBP_REASON_MAX] = '\0';
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    assert_int_equal(mdbp_feedback_encode(&sent, &buffer), 0);
    mdbp_feedback_t received;
    mdbp_error_t error;
    assert_int_equal(
        mdbp_feedback_decode(buffer.data, buffer.size, &received, &error), 0);
    s_assert_equal(&sent, &received);
    mdbp_buffer_release(&buffer);
}

static void test_encode_rejects_bad_fields(void **state)
{
    (void)state;
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    mdbp_feedback_t event = s_event(MDBP_FEEDBACK_TRANSITION, false);
    event.utilization = 1.5;
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), -1);
    event = s_event(MDBP_FEEDBACK_TRANSITION, false);
    event.scale_hint = -0.1;
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), -1);
    event = s_event(MDBP_FEEDBACK_TRANSITION, false);
    strcpy(event.coordinator_id, "a/b");
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), -1);
    event = s_event(MDBP_FEEDBACK_TRANSITION, false);
    event.coordinator_id[0] = '\0';
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), -1);
    event = s_event(MDBP_FEEDBACK_TRANSITION, true);
    event.drain_rate = -1.0;
    assert_int_equal(mdbp_feedback_encode(&event, &buffer), -1);
    assert_int_equal(buffer.size, 0);
    mdbp_buffer_release(&buffer);
}

/* Every key of a feedback message with a valid value. */
static const entry_t s_entries[] = {
    {.key = "v", .kind = ENTRY_UINT, .u = 1},
    {.key = "type", .kind = ENTRY_STR, .s = "heartbeat"},
    {.key = "coordinator_id", .kind = ENTRY_STR, .s = "coord-1"},
    {.key = "epoch", .kind = ENTRY_UINT, .u = 77},
    {.key = "seq", .kind = ENTRY_UINT, .u = 5},
    {.key = "ts_ns", .kind = ENTRY_INT, .i = 1700000000000000000LL},
    {.key = "level", .kind = ENTRY_STR, .s = "hard"},
    {.key = "prev_level", .kind = ENTRY_STR, .s = "soft"},
    {.key = "queue_size", .kind = ENTRY_UINT, .u = 9000},
    {.key = "capacity", .kind = ENTRY_UINT, .u = 10000},
    {.key = "low_wm", .kind = ENTRY_UINT, .u = 5000},
    {.key = "high_wm", .kind = ENTRY_UINT, .u = 8000},
    {.key = "utilization", .kind = ENTRY_DOUBLE, .d = 0.9},
    {.key = "scale_hint", .kind = ENTRY_DOUBLE, .d = 0.0},
    {.key = "ttl_ms", .kind = ENTRY_UINT, .u = 3000},
    {.key = "reason", .kind = ENTRY_STR, .s = "above high watermark"},
    {.key = "drain_rate", .kind = ENTRY_DOUBLE, .d = 100.0},
};
#define S_ENTRY_COUNT (sizeof s_entries / sizeof s_entries[0])
#define S_REQUIRED_COUNT 15

static int s_decode_built(const entry_t *entries, size_t count,
                          const char *skip, const char *wrong,
                          mdbp_feedback_t *event, mdbp_error_t *error)
{
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, entries, count, skip, wrong);
    int rc = mdbp_feedback_decode(buffer.data, buffer.size, event, error);
    mdbp_buffer_release(&buffer);
    return rc;
}

static void test_decode_built_message(void **state)
{
    (void)state;
    mdbp_feedback_t event;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_built(s_entries, S_ENTRY_COUNT, NULL, NULL, &event, &error),
        0);
    assert_int_equal(event.type, MDBP_FEEDBACK_HEARTBEAT);
    assert_int_equal(event.level, MDBP_LEVEL_HARD);
    assert_int_equal(event.prev_level, MDBP_LEVEL_SOFT);
    assert_true(event.queue_size == 9000);
    assert_true(event.has_reason);
    assert_string_equal(event.reason, "above high watermark");
    assert_true(event.has_drain_rate && event.drain_rate == 100.0);
}

static void test_each_required_key_missing(void **state)
{
    (void)state;
    for (size_t index = 0; index < S_REQUIRED_COUNT; index++) {
        mdbp_feedback_t event;
        mdbp_error_t error = {{0}};
        assert_int_equal(s_decode_built(s_entries, S_ENTRY_COUNT,
                                        s_entries[index].key, NULL, &event,
                                        &error),
                         -1);
        char expected[64];
        snprintf(expected, sizeof expected, "missing key '%s'",
                 s_entries[index].key);
        assert_string_equal(error.text, expected);
    }
}

static void test_optional_keys_missing(void **state)
{
    (void)state;
    mdbp_feedback_t event;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_built(s_entries, S_REQUIRED_COUNT, NULL, NULL, &event, &error),
        0);
    assert_false(event.has_reason);
    assert_false(event.has_drain_rate);
}

static void test_each_key_wrong_type(void **state)
{
    (void)state;
    for (size_t index = 0; index < S_ENTRY_COUNT; index++) {
        mdbp_feedback_t event;
        mdbp_error_t error = {{0}};
        assert_int_equal(s_decode_built(s_entries, S_ENTRY_COUNT, NULL,
                                        s_entries[index].key, &event, &error),
                         -1);
        char expected[64];
        snprintf(expected, sizeof expected, "key '%s': expected ",
                 s_entries[index].key);
        if (strncmp(error.text, expected, strlen(expected)) != 0)
            fail_msg("key %s: error '%s'", s_entries[index].key, error.text);
    }
}

/* Replaces the value of `key` in a copy of the entries. */
static int s_decode_with(const char *key, entry_t value,
                         mdbp_feedback_t *event, mdbp_error_t *error)
{
    entry_t entries[S_ENTRY_COUNT];
    memcpy(entries, s_entries, sizeof entries);
    for (size_t index = 0; index < S_ENTRY_COUNT; index++) {
        if (strcmp(entries[index].key, key) == 0) {
            value.key = entries[index].key;
            entries[index] = value;
        }
    }
    return s_decode_built(entries, S_ENTRY_COUNT, NULL, NULL, event, error);
}

static void test_value_errors(void **state)
{
    (void)state;
    mdbp_feedback_t event;
    mdbp_error_t error;
    struct {
        const char *key;
        entry_t value;
        const char *text;
    } cases[] = {
        {"v",
         {.kind = ENTRY_UINT, .u = 2},
         "key 'v': unsupported version 2 (this decoder reads 1)"},
        {"v",
         {.kind = ENTRY_UINT, .u = 0},
         "key 'v': unsupported version 0 (this decoder reads 1)"},
        {"type",
         {.kind = ENTRY_STR, .s = "status"},
         "key 'type': expected one of transition|heartbeat|snapshot"},
        {"level",
         {.kind = ENTRY_STR, .s = "HARD"},
         "key 'level': expected one of ok|soft|hard"},
        {"prev_level",
         {.kind = ENTRY_STR, .s = ""},
         "key 'prev_level': expected one of ok|soft|hard"},
        {"coordinator_id",
         {.kind = ENTRY_STR, .s = ""},
         "key 'coordinator_id': empty"},
        {"coordinator_id",
         {.kind = ENTRY_STR, .s = "a/b"},
         "key 'coordinator_id': must not contain '/' or control characters"},
        {"coordinator_id",
         {.kind = ENTRY_STR,
          .s = "0123456789012345678901234567890123456789012345678901234567890"
               "12345"},
         "key 'coordinator_id': longer than 64 bytes"},
        {"seq",
         {.kind = ENTRY_INT, .i = -1},
         "key 'seq': expected an unsigned integer, out of range"},
        {"ttl_ms",
         {.kind = ENTRY_UINT, .u = 4294967296ULL},
         "key 'ttl_ms': 4294967296 is more than 4294967295"},
        {"utilization",
         {.kind = ENTRY_DOUBLE, .d = 1.01},
         "key 'utilization': expected a number in 0..1"},
        {"scale_hint",
         {.kind = ENTRY_INT, .i = -1},
         "key 'scale_hint': expected a number in 0..1"},
        {"utilization",
         {.kind = ENTRY_NIL},
         "key 'utilization': expected a number, got nil"},
        {"drain_rate",
         {.kind = ENTRY_DOUBLE, .d = -5},
         "key 'drain_rate': expected a finite number >= 0"},
        {"ts_ns",
         {.kind = ENTRY_UINT, .u = UINT64_MAX},
         "key 'ts_ns': expected an integer, out of range"},
        {"ts_ns",
         {.kind = ENTRY_DOUBLE, .d = 1.0},
         "key 'ts_ns': expected an integer, got float"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        memset(&error, 0, sizeof error);
        assert_int_equal(
            s_decode_with(cases[index].key, cases[index].value, &event, &error),
            -1);
        assert_string_equal(error.text, cases[index].text);
    }
}

static void test_accepted_encodings(void **state)
{
    (void)state;
    mdbp_feedback_t event;
    mdbp_error_t error;
    /* An integer or a float32 where a float is expected. */
    assert_int_equal(s_decode_with("utilization",
                                   (entry_t){.kind = ENTRY_UINT, .u = 1},
                                   &event, &error),
                     0);
    assert_true(event.utilization == 1.0);
    assert_int_equal(s_decode_with("scale_hint",
                                   (entry_t){.kind = ENTRY_FLOAT32, .d = 0.25},
                                   &event, &error),
                     0);
    assert_true(event.scale_hint == 0.25);
    /* A signed encoding of a non-negative value where a uint is expected
     * (some encoders write int64 for every integer). */
    static const uint8_t int64_seq[] = {0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    assert_int_equal(s_decode_with("seq",
                                   (entry_t){.kind = ENTRY_RAW,
                                             .raw = int64_seq,
                                             .raw_size = sizeof int64_seq},
                                   &event, &error),
                     0);
    assert_true(event.seq == 256);
    /* uint64 encoding of a small value. */
    static const uint8_t uint64_v[] = {0xcf, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(s_decode_with("v",
                                   (entry_t){.kind = ENTRY_RAW,
                                             .raw = uint64_v,
                                             .raw_size = sizeof uint64_v},
                                   &event, &error),
                     0);
    /* str8 encoding of a short string. */
    static const uint8_t str8_level[] = {0xd9, 2, 'o', 'k'};
    assert_int_equal(s_decode_with("level",
                                   (entry_t){.kind = ENTRY_RAW,
                                             .raw = str8_level,
                                             .raw_size = sizeof str8_level},
                                   &event, &error),
                     0);
    assert_int_equal(event.level, MDBP_LEVEL_OK);
    /* bin is not str. */
    static const uint8_t bin_level[] = {0xc4, 2, 'o', 'k'};
    assert_int_equal(s_decode_with("level",
                                   (entry_t){.kind = ENTRY_RAW,
                                             .raw = bin_level,
                                             .raw_size = sizeof bin_level},
                                   &event, &error),
                     -1);
    assert_string_equal(error.text,
                        "key 'level': expected one of ok|soft|hard, got bin");
}

static void test_unknown_keys_ignored(void **state)
{
    (void)state;
    static const uint8_t nested[] = {0x82, 0xa1, 'a',  0x93, 1,
                                     2,    3,    0xa1, 'b',  0xc0};
    entry_t entries[S_ENTRY_COUNT + 3];
    entries[0] = (entry_t){.key = "future", .kind = ENTRY_STR, .s = "x"};
    memcpy(entries + 1, s_entries, sizeof s_entries);
    entries[S_ENTRY_COUNT + 1] = (entry_t){.key = "nested",
                                           .kind = ENTRY_RAW,
                                           .raw = nested,
                                           .raw_size = sizeof nested};
    entries[S_ENTRY_COUNT + 2] =
        (entry_t){.key = "x_float", .kind = ENTRY_DOUBLE, .d = 1.5};
    mdbp_feedback_t event;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_built(entries, S_ENTRY_COUNT + 3, NULL, NULL, &event, &error),
        0);
    assert_string_equal(event.coordinator_id, "coord-1");
}

static void test_structure_errors(void **state)
{
    (void)state;
    mdbp_feedback_t event;
    mdbp_error_t error;
    /* Duplicate key. */
    entry_t entries[S_ENTRY_COUNT + 1];
    memcpy(entries, s_entries, sizeof s_entries);
    entries[S_ENTRY_COUNT] =
        (entry_t){.key = "seq", .kind = ENTRY_UINT, .u = 6};
    assert_int_equal(
        s_decode_built(entries, S_ENTRY_COUNT + 1, NULL, NULL, &event, &error),
        -1);
    assert_string_equal(error.text, "duplicate key 'seq'");
    /* Not a map. */
    static const uint8_t array[] = {0x91, 0x01};
    assert_int_equal(mdbp_feedback_decode(array, sizeof array, &event, &error),
                     -1);
    assert_string_equal(error.text, "message: expected a map, got array");
    /* Empty input. */
    assert_int_equal(mdbp_feedback_decode(array, 0, &event, &error), -1);
    assert_string_equal(error.text, "message: message truncated");
    /* Trailing bytes. */
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    builder_pack_map(&buffer, s_entries, S_ENTRY_COUNT, NULL, NULL);
    mdbp_buffer_append(&buffer, "\xc0", 1);
    assert_int_equal(
        mdbp_feedback_decode(buffer.data, buffer.size, &event, &error), -1);
    assert_string_equal(error.text, "message: 1 bytes after the map");
    mdbp_buffer_release(&buffer);
    /* A non-str key. */
    static const uint8_t int_key[] = {0x81, 0x01, 0x01};
    assert_int_equal(
        mdbp_feedback_decode(int_key, sizeof int_key, &event, &error), -1);
    assert_string_equal(error.text,
                        "message: map key 0: expected a str, got integer");
}

static void test_topic(void **state)
{
    (void)state;
    char topic[MDBP_FEEDBACK_TOPIC_MAX];
    assert_int_equal(mdbp_feedback_topic("coord-1", topic, sizeof topic), 15);
    assert_string_equal(topic, "mds.fb/coord-1/");
    /* The trailing slash: coord-1's topic is not a prefix of coord-10's. */
    char other[MDBP_FEEDBACK_TOPIC_MAX];
    assert_int_equal(mdbp_feedback_topic("coord-10", other, sizeof other), 16);
    assert_true(strncmp(other, topic, strlen(topic)) != 0);
    char longest[MDBP_ID_MAX + 2];
    memset(longest, 'i', MDBP_ID_MAX);
    longest[MDBP_ID_MAX] = '\0';
    assert_int_equal(
        mdbp_feedback_topic(longest, topic, sizeof topic),
        (int)(strlen(MDBP_FEEDBACK_TOPIC_PREFIX) + MDBP_ID_MAX + 1));
    longest[MDBP_ID_MAX] = 'i';
    longest[MDBP_ID_MAX + 1] = '\0';
    assert_int_equal(mdbp_feedback_topic(longest, topic, sizeof topic), -1);
    assert_int_equal(mdbp_feedback_topic("", topic, sizeof topic), -1);
    assert_int_equal(mdbp_feedback_topic("a/b", topic, sizeof topic), -1);
    assert_int_equal(mdbp_feedback_topic("coord-1", topic, 15), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mdbp_feedback_type_name(MDBP_FEEDBACK_SNAPSHOT),
                        "snapshot");
    assert_string_equal(mdbp_level_name(MDBP_LEVEL_SOFT), "soft");
    mdbp_level_t level;
    assert_int_equal(mdbp_level_parse("HARD", &level), 0);
    assert_int_equal(level, MDBP_LEVEL_HARD);
    assert_int_equal(mdbp_level_parse("Ok", &level), 0);
    assert_int_equal(level, MDBP_LEVEL_OK);
    assert_int_equal(mdbp_level_parse("medium", &level), -1);
    assert_string_equal(mdbp_record_kind_name(MDBP_RECORD_BAR), "bar");
}

/* An event with every v1.1 key set. */
static mdbp_feedback_t s_event_v11(void)
{
    mdbp_feedback_t event = s_event(MDBP_FEEDBACK_HEARTBEAT, true);
    event.has_oldest_age_ms = true;
    event.oldest_age_ms = UINT32_MAX;
    event.has_commit_latency_ms = true;
    event.commit_latency_ms = 0.25;
    event.sink_state = MDBP_SINK_STATE_DEGRADED;
    event.has_pressure = true;
    event.pressure = 0.75;
    event.has_credit_initial = true;
    event.credit_initial = 0;
    event.has_going_away = true;
    event.going_away = true;
    event.has_scale_hint_critical = true;
    event.scale_hint_critical = 1.0;
    event.has_scale_hint_bulk = true;
    event.scale_hint_bulk = 0.5;
    return event;
}

static void test_v11_round_trip(void **state)
{
    (void)state;
    for (int sink = MDBP_SINK_STATE_NONE; sink <= MDBP_SINK_STATE_DOWN;
         sink++) {
        mdbp_feedback_t sent = s_event_v11();
        sent.sink_state = (mdbp_sink_state_t)sink;
        sent.going_away = sink % 2 == 0;
        mdbp_buffer_t buffer;
        mdbp_buffer_init(&buffer);
        assert_int_equal(mdbp_feedback_encode(&sent, &buffer), 0);
        mdbp_feedback_t received;
        mdbp_error_t error = {{0}};
        if (mdbp_feedback_decode(buffer.data, buffer.size, &received, &error))
            fail_msg("decode: %s", error.text);
        s_assert_equal(&sent, &received);
        assert_true(received.has_oldest_age_ms &&
                    received.oldest_age_ms == UINT32_MAX);
        assert_true(received.has_commit_latency_ms &&
                    received.commit_latency_ms == 0.25);
        assert_int_equal(received.sink_state, sink);
        assert_true(received.has_pressure && received.pressure == 0.75);
        assert_true(received.has_credit_initial &&
                    received.credit_initial == 0);
        assert_true(received.has_going_away);
        assert_int_equal(received.going_away, sent.going_away);
        assert_true(received.has_scale_hint_critical &&
                    received.scale_hint_critical == 1.0);
        assert_true(received.has_scale_hint_bulk &&
                    received.scale_hint_bulk == 0.5);
        mdbp_buffer_release(&buffer);
    }
    /* A v1 message decodes with every v1.1 key absent. */
    mdbp_feedback_t event;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_built(s_entries, S_ENTRY_COUNT, NULL, NULL, &event, &error),
        0);
    assert_false(event.has_oldest_age_ms || event.has_commit_latency_ms ||
                 event.has_pressure || event.has_credit_initial ||
                 event.has_going_away);
    assert_int_equal(event.sink_state, MDBP_SINK_STATE_NONE);
    assert_string_equal(mdbp_sink_state_name(MDBP_SINK_STATE_DOWN), "down");

    /* The encoder refuses what the decoder would. */
    mdbp_buffer_t buffer;
    mdbp_buffer_init(&buffer);
    mdbp_feedback_t bad = s_event_v11();
    bad.pressure = 1.5;
    assert_int_equal(mdbp_feedback_encode(&bad, &buffer), -1);
    bad = s_event_v11();
    bad.commit_latency_ms = -1;
    assert_int_equal(mdbp_feedback_encode(&bad, &buffer), -1);
    bad = s_event_v11();
    bad.scale_hint_bulk = -0.1;
    assert_int_equal(mdbp_feedback_encode(&bad, &buffer), -1);
    bad = s_event_v11();
    bad.sink_state = (mdbp_sink_state_t)4;
    assert_int_equal(mdbp_feedback_encode(&bad, &buffer), -1);
    assert_int_equal(buffer.size, 0);
    mdbp_buffer_release(&buffer);
}

static void test_v11_value_errors(void **state)
{
    (void)state;
    struct {
        entry_t value;
        const char *text;
    } cases[] = {
        {{.key = "oldest_age_ms", .kind = ENTRY_UINT, .u = 4294967296ULL},
         "key 'oldest_age_ms': 4294967296 is more than 4294967295"},
        {{.key = "oldest_age_ms", .kind = ENTRY_DOUBLE, .d = 1},
         "key 'oldest_age_ms': expected an unsigned integer, got float"},
        {{.key = "commit_latency_ms", .kind = ENTRY_DOUBLE, .d = -0.5},
         "key 'commit_latency_ms': expected a finite number >= 0"},
        {{.key = "commit_latency_ms", .kind = ENTRY_DOUBLE, .d = INFINITY},
         "key 'commit_latency_ms': expected a finite number >= 0"},
        {{.key = "sink_state", .kind = ENTRY_STR, .s = "UP"},
         "key 'sink_state': expected one of up|degraded|down"},
        {{.key = "pressure", .kind = ENTRY_DOUBLE, .d = 1.0001},
         "key 'pressure': expected a number in 0..1"},
        {{.key = "pressure", .kind = ENTRY_DOUBLE, .d = NAN},
         "key 'pressure': expected a number in 0..1"},
        {{.key = "credit_initial", .kind = ENTRY_INT, .i = -1},
         "key 'credit_initial': expected an unsigned integer, out of range"},
        {{.key = "going_away", .kind = ENTRY_UINT, .u = 1},
         "key 'going_away': expected a bool, got integer"},
        {{.key = "going_away", .kind = ENTRY_NIL},
         "key 'going_away': expected a bool, got nil"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        entry_t entries[S_ENTRY_COUNT + 1];
        memcpy(entries, s_entries, sizeof s_entries);
        entries[S_ENTRY_COUNT] = cases[index].value;
        mdbp_feedback_t event;
        mdbp_error_t error = {{0}};
        assert_int_equal(s_decode_built(entries, S_ENTRY_COUNT + 1, NULL, NULL,
                                        &event, &error),
                         -1);
        assert_string_equal(error.text, cases[index].text);
        assert_int_equal(error.code, MDBP_NACK_CODE_BAD_VALUE);
        assert_string_equal(error.field, cases[index].value.key);
    }
    /* Accepted encodings: integers for the floats, float32. */
    entry_t entries[S_ENTRY_COUNT + 2];
    memcpy(entries, s_entries, sizeof s_entries);
    entries[S_ENTRY_COUNT] =
        (entry_t){.key = "pressure", .kind = ENTRY_UINT, .u = 1};
    entries[S_ENTRY_COUNT + 1] =
        (entry_t){.key = "commit_latency_ms", .kind = ENTRY_FLOAT32, .d = 2.5};
    mdbp_feedback_t event;
    mdbp_error_t error;
    assert_int_equal(
        s_decode_built(entries, S_ENTRY_COUNT + 2, NULL, NULL, &event, &error),
        0);
    assert_true(event.pressure == 1.0 && event.commit_latency_ms == 2.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_round_trip_extremes),
        cmocka_unit_test(test_encode_rejects_bad_fields),
        cmocka_unit_test(test_decode_built_message),
        cmocka_unit_test(test_each_required_key_missing),
        cmocka_unit_test(test_optional_keys_missing),
        cmocka_unit_test(test_each_key_wrong_type),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_accepted_encodings),
        cmocka_unit_test(test_unknown_keys_ignored),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_v11_round_trip),
        cmocka_unit_test(test_v11_value_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
