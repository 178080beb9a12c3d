/* mdbp_feedback: encoder and strict decoder of the feedback event
 * (feedback.md). */
#include <mdbp/feedback.h>

#include <assert.h>
#include <math.h>
#include <string.h>

#include "mdbp_packer.h"
#include "mdbp_reader.h"

static const char *const s_type_names[] = {"transition", "heartbeat",
                                           "snapshot"};
static const char *const s_level_names[] = {"ok", "soft", "hard"};
/* Indexed by mdbp_sink_state_t - 1 (NONE has no name). */
static const char *const s_sink_names[] = {"up", "degraded", "down"};

#define S_TYPE_COUNT (sizeof s_type_names / sizeof s_type_names[0])
#define S_LEVEL_COUNT (sizeof s_level_names / sizeof s_level_names[0])
#define S_SINK_COUNT (sizeof s_sink_names / sizeof s_sink_names[0])
_Static_assert(S_SINK_COUNT == MDBP_SINK_STATE_DOWN, "a name per state");

/* Keys of the map, in the order the encoder writes them. */
enum {
    KEY_V,
    KEY_TYPE,
    KEY_COORDINATOR_ID,
    KEY_EPOCH,
    KEY_SEQ,
    KEY_TS_NS,
    KEY_LEVEL,
    KEY_PREV_LEVEL,
    KEY_QUEUE_SIZE,
    KEY_CAPACITY,
    KEY_LOW_WM,
    KEY_HIGH_WM,
    KEY_UTILIZATION,
    KEY_SCALE_HINT,
    KEY_TTL_MS,
    KEY_REQUIRED_COUNT, /* the keys above are required */
    KEY_REASON = KEY_REQUIRED_COUNT,
    KEY_DRAIN_RATE,
    KEY_OLDEST_AGE_MS, /* v1.1 */
    KEY_COMMIT_LATENCY_MS,
    KEY_SINK_STATE,
    KEY_PRESSURE,
    KEY_CREDIT_INITIAL,
    KEY_GOING_AWAY,
    KEY_SCALE_HINT_CRITICAL,
    KEY_SCALE_HINT_BULK,
    KEY_CREDIT_INITIAL_CRITICAL,
    KEY_COUNT
};

static const char *const s_key_names[KEY_COUNT] = {"v",
                                                   "type",
                                                   "coordinator_id",
                                                   "epoch",
                                                   "seq",
                                                   "ts_ns",
                                                   "level",
                                                   "prev_level",
                                                   "queue_size",
                                                   "capacity",
                                                   "low_wm",
                                                   "high_wm",
                                                   "utilization",
                                                   "scale_hint",
                                                   "ttl_ms",
                                                   "reason",
                                                   "drain_rate",
                                                   "oldest_age_ms",
                                                   "commit_latency_ms",
                                                   "sink_state",
                                                   "pressure",
                                                   "credit_initial",
                                                   "going_away",
                                                   "scale_hint_critical",
                                                   "scale_hint_bulk",
                                                   "credit_initial_critical"};

const char *mdbp_feedback_type_name(mdbp_feedback_type_t type)
{
    assert(type >= MDBP_FEEDBACK_TRANSITION &&
           type <= MDBP_FEEDBACK_SNAPSHOT);
    return s_type_names[type];
}

const char *mdbp_sink_state_name(mdbp_sink_state_t state)
{
    assert(state >= MDBP_SINK_STATE_UP && state <= MDBP_SINK_STATE_DOWN);
    return s_sink_names[state - 1];
}

/* A coordinator id is 1..MDBP_ID_MAX bytes without '/' (the topic's
 * terminator) and without control characters. */
static bool s_id_valid(const char *id)
{
    size_t length = strnlen(id, MDBP_ID_MAX + 1);
    if (length == 0 || length > MDBP_ID_MAX)
        return false;
    for (size_t index = 0; index < length; index++) {
        unsigned char byte = (unsigned char)id[index];
        if (byte == '/' || byte < 0x20 || byte == 0x7f)
            return false;
    }
    return true;
}

int mdbp_feedback_topic(const char *coordinator_id, char *out, size_t capacity)
{
    if (!s_id_valid(coordinator_id))
        return -1;
    size_t prefix = strlen(MDBP_FEEDBACK_TOPIC_PREFIX);
    size_t length = prefix + strlen(coordinator_id) + 1;
    if (length + 1 > capacity)
        return -1;
    memcpy(out, MDBP_FEEDBACK_TOPIC_PREFIX, prefix);
    memcpy(out + prefix, coordinator_id, length - prefix - 1);
    out[length - 1] = '/';
    out[length] = '\0';
    return (int)length;
}

static bool s_fraction_valid(double value)
{
    return isfinite(value) && value >= 0.0 && value <= 1.0;
}

static int s_pack_key(msgpack_packer *packer, int key)
{
    return msgpack_pack_str_with_body(packer, s_key_names[key],
                                      strlen(s_key_names[key]));
}

static int s_pack_text(msgpack_packer *packer, const char *text)
{
    return msgpack_pack_str_with_body(packer, text, strlen(text));
}

int mdbp_feedback_encode(const mdbp_feedback_t *event, mdbp_buffer_t *out)
{
    if (event->type < MDBP_FEEDBACK_TRANSITION ||
        event->type > MDBP_FEEDBACK_SNAPSHOT ||
        event->level < MDBP_LEVEL_OK || event->level > MDBP_LEVEL_HARD ||
        event->prev_level < MDBP_LEVEL_OK ||
        event->prev_level > MDBP_LEVEL_HARD ||
        !s_id_valid(event->coordinator_id) ||
        !s_fraction_valid(event->utilization) ||
        !s_fraction_valid(event->scale_hint) ||
        (event->has_reason &&
         strnlen(event->reason, MDBP_REASON_MAX + 1) > MDBP_REASON_MAX) ||
        (event->has_drain_rate &&
         !(isfinite(event->drain_rate) && event->drain_rate >= 0.0)) ||
        (event->has_commit_latency_ms && !(isfinite(event->commit_latency_ms) &&
                                           event->commit_latency_ms >= 0.0)) ||
        event->sink_state < MDBP_SINK_STATE_NONE ||
        event->sink_state > MDBP_SINK_STATE_DOWN ||
        (event->has_pressure && !s_fraction_valid(event->pressure)) ||
        (event->has_scale_hint_critical &&
         !s_fraction_valid(event->scale_hint_critical)) ||
        (event->has_scale_hint_bulk &&
         !s_fraction_valid(event->scale_hint_bulk)))
        return -1;

    size_t start = out->size;
    msgpack_packer packer;
    msgpack_packer_init(&packer, out, mdbp_buffer_packer_write);
    size_t entries =
        KEY_REQUIRED_COUNT + (event->has_reason ? 1 : 0) +
        (event->has_drain_rate ? 1 : 0) + (event->has_oldest_age_ms ? 1 : 0) +
        (event->has_commit_latency_ms ? 1 : 0) +
        (event->sink_state != MDBP_SINK_STATE_NONE ? 1 : 0) +
        (event->has_pressure ? 1 : 0) + (event->has_credit_initial ? 1 : 0) +
        (event->has_going_away ? 1 : 0) +
        (event->has_scale_hint_critical ? 1 : 0) +
        (event->has_scale_hint_bulk ? 1 : 0) +
        (event->has_credit_initial_critical ? 1 : 0);
    int failed = msgpack_pack_map(&packer, entries);
    failed |= s_pack_key(&packer, KEY_V);
    failed |= msgpack_pack_uint64(&packer, MDBP_PROTOCOL_VERSION);
    failed |= s_pack_key(&packer, KEY_TYPE);
    failed |= s_pack_text(&packer, s_type_names[event->type]);
    failed |= s_pack_key(&packer, KEY_COORDINATOR_ID);
    failed |= s_pack_text(&packer, event->coordinator_id);
    failed |= s_pack_key(&packer, KEY_EPOCH);
    failed |= msgpack_pack_uint64(&packer, event->epoch);
    failed |= s_pack_key(&packer, KEY_SEQ);
    failed |= msgpack_pack_uint64(&packer, event->seq);
    failed |= s_pack_key(&packer, KEY_TS_NS);
    failed |= msgpack_pack_int64(&packer, event->ts_ns);
    failed |= s_pack_key(&packer, KEY_LEVEL);
    failed |= s_pack_text(&packer, s_level_names[event->level]);
    failed |= s_pack_key(&packer, KEY_PREV_LEVEL);
    failed |= s_pack_text(&packer, s_level_names[event->prev_level]);
    failed |= s_pack_key(&packer, KEY_QUEUE_SIZE);
    failed |= msgpack_pack_uint64(&packer, event->queue_size);
    failed |= s_pack_key(&packer, KEY_CAPACITY);
    failed |= msgpack_pack_uint64(&packer, event->capacity);
    failed |= s_pack_key(&packer, KEY_LOW_WM);
    failed |= msgpack_pack_uint64(&packer, event->low_wm);
    failed |= s_pack_key(&packer, KEY_HIGH_WM);
    failed |= msgpack_pack_uint64(&packer, event->high_wm);
    failed |= s_pack_key(&packer, KEY_UTILIZATION);
    failed |= msgpack_pack_double(&packer, event->utilization);
    failed |= s_pack_key(&packer, KEY_SCALE_HINT);
    failed |= msgpack_pack_double(&packer, event->scale_hint);
    failed |= s_pack_key(&packer, KEY_TTL_MS);
    failed |= msgpack_pack_uint32(&packer, event->ttl_ms);
    if (event->has_reason) {
        failed |= s_pack_key(&packer, KEY_REASON);
        failed |= s_pack_text(&packer, event->reason);
    }
    if (event->has_drain_rate) {
        failed |= s_pack_key(&packer, KEY_DRAIN_RATE);
        failed |= msgpack_pack_double(&packer, event->drain_rate);
    }
    if (event->has_oldest_age_ms) {
        failed |= s_pack_key(&packer, KEY_OLDEST_AGE_MS);
        failed |= msgpack_pack_uint32(&packer, event->oldest_age_ms);
    }
    if (event->has_commit_latency_ms) {
        failed |= s_pack_key(&packer, KEY_COMMIT_LATENCY_MS);
        failed |= msgpack_pack_double(&packer, event->commit_latency_ms);
    }
    if (event->sink_state != MDBP_SINK_STATE_NONE) {
        failed |= s_pack_key(&packer, KEY_SINK_STATE);
        failed |=
            s_pack_text(&packer, mdbp_sink_state_name(event->sink_state));
    }
    if (event->has_pressure) {
        failed |= s_pack_key(&packer, KEY_PRESSURE);
        failed |= msgpack_pack_double(&packer, event->pressure);
    }
    if (event->has_credit_initial) {
        failed |= s_pack_key(&packer, KEY_CREDIT_INITIAL);
        failed |= msgpack_pack_uint32(&packer, event->credit_initial);
    }
    if (event->has_going_away) {
        failed |= s_pack_key(&packer, KEY_GOING_AWAY);
        failed |= event->going_away ? msgpack_pack_true(&packer)
                                    : msgpack_pack_false(&packer);
    }
    if (event->has_scale_hint_critical) {
        failed |= s_pack_key(&packer, KEY_SCALE_HINT_CRITICAL);
        failed |= msgpack_pack_double(&packer, event->scale_hint_critical);
    }
    if (event->has_scale_hint_bulk) {
        failed |= s_pack_key(&packer, KEY_SCALE_HINT_BULK);
        failed |= msgpack_pack_double(&packer, event->scale_hint_bulk);
    }
    if (event->has_credit_initial_critical) {
        failed |= s_pack_key(&packer, KEY_CREDIT_INITIAL_CRITICAL);
        failed |= msgpack_pack_uint32(&packer, event->credit_initial_critical);
    }
    return mdbp_buffer_packer_finish(out, start, failed);
}

/* A fraction key: a number within 0..1. */
static int s_fraction(const mdbp_reader_t *reader, const mdbp_key_t *key,
                      double *value, mdbp_error_t *error)
{
    if (mdbp_key_number(reader, key, value, error) != 0)
        return -1;
    if (!s_fraction_valid(*value)) {
        mdbp_error_set(error, "key '%s': expected a number in 0..1",
                        key->name);
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE, key->name);
    }
    return 0;
}

/* A finite number >= 0. */
static int s_non_negative(const mdbp_reader_t *reader, const mdbp_key_t *key,
                          double *value, mdbp_error_t *error)
{
    if (mdbp_key_number(reader, key, value, error) != 0)
        return -1;
    if (!(isfinite(*value) && *value >= 0.0)) {
        mdbp_error_set(error, "key '%s': expected a finite number >= 0",
                        key->name);
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE, key->name);
    }
    return 0;
}

/* The optional keys added in v1.1. */
static int s_decode_v11(const mdbp_reader_t *reader, const mdbp_key_t *keys,
                        mdbp_feedback_t *event, mdbp_error_t *error)
{
    uint64_t value;
    if (keys[KEY_OLDEST_AGE_MS].seen) {
        if (mdbp_key_uint(reader, &keys[KEY_OLDEST_AGE_MS], UINT32_MAX, &value,
                           error) != 0)
            return -1;
        event->has_oldest_age_ms = true;
        event->oldest_age_ms = (uint32_t)value;
    }
    if (keys[KEY_COMMIT_LATENCY_MS].seen) {
        if (s_non_negative(reader, &keys[KEY_COMMIT_LATENCY_MS],
                           &event->commit_latency_ms, error) != 0)
            return -1;
        event->has_commit_latency_ms = true;
    }
    if (keys[KEY_SINK_STATE].seen) {
        int state;
        if (mdbp_key_enum(reader, &keys[KEY_SINK_STATE], s_sink_names,
                           S_SINK_COUNT, &state, error) != 0)
            return -1;
        event->sink_state = (mdbp_sink_state_t)(state + 1);
    }
    if (keys[KEY_PRESSURE].seen) {
        if (s_fraction(reader, &keys[KEY_PRESSURE], &event->pressure, error) !=
            0)
            return -1;
        event->has_pressure = true;
    }
    if (keys[KEY_SCALE_HINT_CRITICAL].seen) {
        if (s_fraction(reader, &keys[KEY_SCALE_HINT_CRITICAL],
                       &event->scale_hint_critical, error) != 0)
            return -1;
        event->has_scale_hint_critical = true;
    }
    if (keys[KEY_SCALE_HINT_BULK].seen) {
        if (s_fraction(reader, &keys[KEY_SCALE_HINT_BULK],
                       &event->scale_hint_bulk, error) != 0)
            return -1;
        event->has_scale_hint_bulk = true;
    }
    if (keys[KEY_CREDIT_INITIAL_CRITICAL].seen) {
        if (mdbp_key_uint(reader, &keys[KEY_CREDIT_INITIAL_CRITICAL],
                          UINT32_MAX, &value, error) != 0)
            return -1;
        event->has_credit_initial_critical = true;
        event->credit_initial_critical = (uint32_t)value;
    }
    if (keys[KEY_CREDIT_INITIAL].seen) {
        if (mdbp_key_uint(reader, &keys[KEY_CREDIT_INITIAL], UINT32_MAX,
                           &value, error) != 0)
            return -1;
        event->has_credit_initial = true;
        event->credit_initial = (uint32_t)value;
    }
    if (keys[KEY_GOING_AWAY].seen) {
        if (mdbp_key_bool(reader, &keys[KEY_GOING_AWAY], &event->going_away,
                           error) != 0)
            return -1;
        event->has_going_away = true;
    }
    return 0;
}

int mdbp_feedback_decode(const void *data, size_t size,
                          mdbp_feedback_t *event, mdbp_error_t *error)
{
    mdbp_key_t keys[KEY_COUNT];
    for (int key = 0; key < KEY_COUNT; key++)
        keys[key].name = s_key_names[key];
    memset(event, 0, sizeof *event);
    mdbp_error_reset(error);

    mdbp_reader_t reader;
    if (mdbp_reader_scan_message(&reader, data, size, keys, KEY_COUNT,
                                  error) != 0)
        return -1;

    int type, level, prev_level;
    uint64_t ttl_ms;
    if (mdbp_key_version(&reader, &keys[KEY_V], error) != 0 ||
        mdbp_key_enum(&reader, &keys[KEY_TYPE], s_type_names, S_TYPE_COUNT,
                       &type, error) != 0 ||
        mdbp_key_str(&reader, &keys[KEY_COORDINATOR_ID], 1, MDBP_ID_MAX,
                      event->coordinator_id, error) != 0)
        return -1;
    if (!s_id_valid(event->coordinator_id)) {
        mdbp_error_set(error, "key 'coordinator_id': must not contain '/' "
                               "or control characters");
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE,
                                "coordinator_id");
    }
    if (mdbp_key_uint(&reader, &keys[KEY_EPOCH], UINT64_MAX, &event->epoch,
                       error) != 0 ||
        mdbp_key_uint(&reader, &keys[KEY_SEQ], UINT64_MAX, &event->seq,
                       error) != 0 ||
        mdbp_key_int(&reader, &keys[KEY_TS_NS], &event->ts_ns, error) != 0 ||
        mdbp_key_enum(&reader, &keys[KEY_LEVEL], s_level_names, S_LEVEL_COUNT,
                       &level, error) != 0 ||
        mdbp_key_enum(&reader, &keys[KEY_PREV_LEVEL], s_level_names,
                       S_LEVEL_COUNT, &prev_level, error) != 0 ||
        mdbp_key_uint(&reader, &keys[KEY_QUEUE_SIZE], UINT64_MAX,
                       &event->queue_size, error) != 0 ||
        mdbp_key_uint(&reader, &keys[KEY_CAPACITY], UINT64_MAX,
                       &event->capacity, error) != 0 ||
        mdbp_key_uint(&reader, &keys[KEY_LOW_WM], UINT64_MAX, &event->low_wm,
                       error) != 0 ||
        mdbp_key_uint(&reader, &keys[KEY_HIGH_WM], UINT64_MAX, &event->high_wm,
                       error) != 0 ||
        s_fraction(&reader, &keys[KEY_UTILIZATION], &event->utilization,
                   error) != 0 ||
        s_fraction(&reader, &keys[KEY_SCALE_HINT], &event->scale_hint, error) !=
            0 ||
        mdbp_key_uint(&reader, &keys[KEY_TTL_MS], UINT32_MAX, &ttl_ms,
                       error) != 0)
        return -1;
    event->type = (mdbp_feedback_type_t)type;
    event->level = (mdbp_level_t)level;
    event->prev_level = (mdbp_level_t)prev_level;
    event->ttl_ms = (uint32_t)ttl_ms;

    if (keys[KEY_REASON].seen) {
        if (mdbp_key_str(&reader, &keys[KEY_REASON], 0, MDBP_REASON_MAX,
                          event->reason, error) != 0)
            return -1;
        event->has_reason = true;
    }
    if (keys[KEY_DRAIN_RATE].seen) {
        if (s_non_negative(&reader, &keys[KEY_DRAIN_RATE], &event->drain_rate,
                           error) != 0)
            return -1;
        event->has_drain_rate = true;
    }
    return s_decode_v11(&reader, keys, event, error);
}
