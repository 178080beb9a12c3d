/* mdbp_ingest: encoder and strict decoder of the data channel's batch,
 * ack and nack (ingest.md).
 *
 * The batch path is the hot one (a million records a second and more): the
 * encoder packs straight onto the buffer and the decoder walks the bytes in
 * place into the caller's record array, with no allocation. */
#include <mdbp/ingest.h>

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mdbp_packer.h"
#include "mdbp_reader.h"

static const char *const s_kind_names[] = {"trade", "quote", "bar"};
static const char *const s_reason_names[] = {"full", "malformed", "draining"};
static const char *const s_reply_names[] = {"ack", "nack"};
static const char *const s_batch_names[] = {"batch"};
static const char *const s_priority_names[] = {"normal", "critical", "bulk"};

#define S_REASON_COUNT (sizeof s_reason_names / sizeof s_reason_names[0])
#define S_REPLY_COUNT (sizeof s_reply_names / sizeof s_reply_names[0])
#define S_BATCH_COUNT (sizeof s_batch_names / sizeof s_batch_names[0])
_Static_assert(S_REASON_COUNT == MDBP_NACK_REASON_COUNT,
               "a name for each nack reason");
_Static_assert(sizeof s_priority_names / sizeof s_priority_names[0] ==
                   MDBP_PRIORITY_COUNT,
               "a name for each priority class");

/* Elements of a record array, kind included, and its number fields (the
 * four leading elements are kind, provider, symbol, ts_ns). */
#define S_RECORD_HEAD 4
static const uint32_t s_record_elements[MDBP_RECORD_KIND_COUNT] = {6, 8, 9};
#define S_FIELDS_MAX 5
static const char *const s_field_names[MDBP_RECORD_KIND_COUNT][S_FIELDS_MAX] =
    {
        {"price", "size"},
        {"bid", "bid_size", "ask", "ask_size"},
        {"open", "high", "low", "close", "volume"},
};

const char *mdbp_nack_reason_name(mdbp_nack_reason_t reason)
{
    assert(reason >= MDBP_NACK_FULL && reason <= MDBP_NACK_DRAINING);
    return s_reason_names[reason];
}

const char *mdbp_priority_name(mdbp_priority_t priority)
{
    assert(priority >= MDBP_PRIORITY_NORMAL && priority <= MDBP_PRIORITY_BULK);
    return s_priority_names[priority];
}

int mdbp_priority_parse(const char *text, size_t length,
                        mdbp_priority_t *priority)
{
    for (int index = 0; index < MDBP_PRIORITY_COUNT; index++)
        if (strlen(s_priority_names[index]) == length &&
            memcmp(s_priority_names[index], text, length) == 0) {
            *priority = (mdbp_priority_t)index;
            return 0;
        }
    return -1;
}

/* Copies a record's number fields into `values` (price / bid / open
 * first, in wire order). */
static void s_fields_get(const mdbp_record_t *record, double *values)
{
    switch (record->kind) {
    case MDBP_RECORD_TRADE:
        values[0] = record->u.trade.price;
        values[1] = record->u.trade.size;
        break;
    case MDBP_RECORD_QUOTE:
        values[0] = record->u.quote.bid;
        values[1] = record->u.quote.bid_size;
        values[2] = record->u.quote.ask;
        values[3] = record->u.quote.ask_size;
        break;
    default:
        values[0] = record->u.bar.open;
        values[1] = record->u.bar.high;
        values[2] = record->u.bar.low;
        values[3] = record->u.bar.close;
        values[4] = record->u.bar.volume;
        break;
    }
}

/* The reverse of s_fields_get. */
static void s_fields_set(mdbp_record_t *record, const double *values)
{
    switch (record->kind) {
    case MDBP_RECORD_TRADE:
        record->u.trade.price = values[0];
        record->u.trade.size = values[1];
        break;
    case MDBP_RECORD_QUOTE:
        record->u.quote.bid = values[0];
        record->u.quote.bid_size = values[1];
        record->u.quote.ask = values[2];
        record->u.quote.ask_size = values[3];
        break;
    default:
        record->u.bar.open = values[0];
        record->u.bar.high = values[1];
        record->u.bar.low = values[2];
        record->u.bar.close = values[3];
        record->u.bar.volume = values[4];
        break;
    }
}

/* True for the fields that are sizes or volume (>= 0); the others are
 * prices (> 0). */
static bool s_field_is_size(mdbp_record_kind_t kind, size_t index)
{
    switch (kind) {
    case MDBP_RECORD_TRADE:
        return index == 1;
    case MDBP_RECORD_QUOTE:
        return index == 1 || index == 3;
    default:
        return index == 4;
    }
}

/* Length of the well-formed UTF-8 sequence starting with a byte >= 0x80 at
 * `bytes` (2..4), or 0 when it is not one: overlong forms, surrogates and
 * code points above U+10FFFF are refused (RFC 3629). Stops at a NUL. */
static size_t s_utf8_sequence(const unsigned char *bytes)
{
    unsigned char lead = bytes[0];
    size_t length;
    unsigned char low = 0x80, high = 0xBF; /* range of the second byte */
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else
        return 0;
    if (bytes[1] < low || bytes[1] > high)
        return 0;
    for (size_t index = 2; index < length; index++)
        if (bytes[index] < 0x80 || bytes[index] > 0xBF)
            return 0;
    return length;
}

/* Checks a provider or symbol: 1..max bytes of UTF-8 (both databases must
 * accept it alike: PostgreSQL refuses invalid UTF-8), no control
 * characters. */
static int s_name_check(const char *name, size_t max, const char *what,
                        mdbp_error_t *error)
{
    size_t length = strnlen(name, max + 1);
    if (length == 0)
        return mdbp_error_set(error, "field '%s' is empty", what);
    if (length > max)
        return mdbp_error_set(error, "field '%s' is longer than %zu bytes",
                               what, max);
    for (size_t index = 0; index < length; index++) {
        unsigned char byte = (unsigned char)name[index];
        if (byte < 0x20 || byte == 0x7f)
            return mdbp_error_set(
                error, "field '%s' contains a control character", what);
        if (byte >= 0x80) {
            size_t sequence =
                s_utf8_sequence((const unsigned char *)name + index);
            if (sequence == 0 || index + sequence > length)
                return mdbp_error_set(error, "field '%s' is not valid UTF-8",
                                       what);
            if (mdbp_code_point_is_control(mdbp_utf8_decode(
                    (const unsigned char *)name + index, sequence)))
                return mdbp_error_set(
                    error, "field '%s' contains a control character", what);
            index += sequence - 1;
        }
    }
    return 0;
}

/* mdbp_record_validate; `field` is set to the name of the field at fault
 * (a literal) on failure. */
static int s_record_check(const mdbp_record_t *record, mdbp_error_t *error,
                          const char **field)
{
    *field = "kind";
    if (record->kind < MDBP_RECORD_TRADE || record->kind > MDBP_RECORD_BAR)
        return mdbp_error_set(error, "field 'kind' is not trade|quote|bar");
    *field = "provider";
    if (s_name_check(record->provider, MDBP_NAME_MAX, "provider", error))
        return -1;
    *field = "symbol";
    if (s_name_check(record->symbol, MDBP_SYMBOL_MAX, "symbol", error))
        return -1;
    *field = "ts_ns";
    if (record->ts_ns <= 0)
        return mdbp_error_set(error, "field 'ts_ns' must be > 0");
    double values[S_FIELDS_MAX];
    s_fields_get(record, values);
    size_t fields = s_record_elements[record->kind] - S_RECORD_HEAD;
    for (size_t index = 0; index < fields; index++) {
        double value = values[index];
        const char *name = s_field_names[record->kind][index];
        *field = name;
        if (!isfinite(value))
            return mdbp_error_set(error, "field '%s' must be finite", name);
        if (s_field_is_size(record->kind, index) ? value < 0.0 : value <= 0.0)
            return mdbp_error_set(
                error, "field '%s' must be %s", name,
                s_field_is_size(record->kind, index) ? ">= 0" : "> 0");
    }
    *field = "high";
    if (record->kind == MDBP_RECORD_BAR &&
        record->u.bar.high < record->u.bar.low)
        return mdbp_error_set(error, "field 'high' must be >= 'low'");
    *field = NULL;
    return 0;
}

int mdbp_record_validate(const mdbp_record_t *record, mdbp_error_t *error)
{
    const char *field;
    mdbp_error_reset(error);
    if (s_record_check(record, error, &field) != 0)
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_RECORD, field);
    return 0;
}

static int s_pack_text(msgpack_packer *packer, const char *text)
{
    return msgpack_pack_str_with_body(packer, text, strlen(text));
}

/* Writes a short key (a literal). */
#define S_PACK_KEY(packer, literal)                                            \
    msgpack_pack_str_with_body((packer), (literal), sizeof(literal) - 1)

int mdbp_batch_encode(const char *producer_id, uint64_t batch_seq,
                      const mdbp_record_t *records, size_t count,
                      mdbp_buffer_t *out)
{
    return mdbp_batch_encode_session(producer_id, 0, batch_seq, records, count,
                                      out);
}

int mdbp_batch_encode_session(const char *producer_id, uint64_t session,
                              uint64_t batch_seq, const mdbp_record_t *records,
                              size_t count, mdbp_buffer_t *out)
{
    mdbp_batch_t header = {.batch_seq = batch_seq, .session = session};
    size_t id_length = strnlen(producer_id, MDBP_ID_MAX + 1);
    if (id_length > MDBP_ID_MAX)
        return -1;
    memcpy(header.producer_id, producer_id, id_length);
    return mdbp_batch_encode_header(&header, records, count, out);
}

int mdbp_batch_encode_header(const mdbp_batch_t *header,
                             const mdbp_record_t *records, size_t count,
                             mdbp_buffer_t *out)
{
    const char *producer_id = header->producer_id;
    uint64_t session = header->session;
    bool has_priority = header->priority != MDBP_PRIORITY_NORMAL;
    bool has_weight = header->weight > 1;
    if (header->priority > MDBP_PRIORITY_BULK ||
        header->weight > MDBP_WEIGHT_MAX)
        return -1;
    size_t id_length = strnlen(producer_id, MDBP_ID_MAX + 1);
    if (count == 0 || count > MDBP_BATCH_RECORDS_MAX || id_length == 0 ||
        id_length > MDBP_ID_MAX)
        return -1;
    for (size_t index = 0; index < count; index++)
        if (mdbp_record_validate(&records[index], NULL) != 0)
            return -1;

    size_t start = out->size;
    msgpack_packer packer;
    msgpack_packer_init(&packer, out, mdbp_buffer_packer_write);
    int failed = msgpack_pack_map(&packer, 5 + (session ? 1 : 0) +
                                               (has_priority ? 1 : 0) +
                                               (has_weight ? 1 : 0));
    failed |= S_PACK_KEY(&packer, "v");
    failed |= msgpack_pack_uint64(&packer, MDBP_PROTOCOL_VERSION);
    failed |= S_PACK_KEY(&packer, "type");
    failed |= S_PACK_KEY(&packer, "batch");
    failed |= S_PACK_KEY(&packer, "producer_id");
    failed |= msgpack_pack_str_with_body(&packer, producer_id, id_length);
    if (session) {
        failed |= S_PACK_KEY(&packer, "session");
        failed |= msgpack_pack_uint64(&packer, session);
    }
    if (has_priority) {
        failed |= S_PACK_KEY(&packer, "priority");
        failed |= s_pack_text(&packer, s_priority_names[header->priority]);
    }
    if (has_weight) {
        failed |= S_PACK_KEY(&packer, "weight");
        failed |= msgpack_pack_uint32(&packer, header->weight);
    }
    failed |= S_PACK_KEY(&packer, "batch_seq");
    failed |= msgpack_pack_uint64(&packer, header->batch_seq);
    failed |= S_PACK_KEY(&packer, "records");
    failed |= msgpack_pack_array(&packer, count);
    for (size_t index = 0; index < count && !failed; index++) {
        const mdbp_record_t *record = &records[index];
        failed |= msgpack_pack_array(&packer, s_record_elements[record->kind]);
        failed |= s_pack_text(&packer, s_kind_names[record->kind]);
        failed |= s_pack_text(&packer, record->provider);
        failed |= s_pack_text(&packer, record->symbol);
        failed |= msgpack_pack_int64(&packer, record->ts_ns);
        switch (record->kind) {
        case MDBP_RECORD_TRADE:
            failed |= msgpack_pack_double(&packer, record->u.trade.price);
            failed |= msgpack_pack_double(&packer, record->u.trade.size);
            break;
        case MDBP_RECORD_QUOTE:
            failed |= msgpack_pack_double(&packer, record->u.quote.bid);
            failed |= msgpack_pack_double(&packer, record->u.quote.bid_size);
            failed |= msgpack_pack_double(&packer, record->u.quote.ask);
            failed |= msgpack_pack_double(&packer, record->u.quote.ask_size);
            break;
        default:
            failed |= msgpack_pack_double(&packer, record->u.bar.open);
            failed |= msgpack_pack_double(&packer, record->u.bar.high);
            failed |= msgpack_pack_double(&packer, record->u.bar.low);
            failed |= msgpack_pack_double(&packer, record->u.bar.close);
            failed |= msgpack_pack_double(&packer, record->u.bar.volume);
            break;
        }
    }
    return mdbp_buffer_packer_finish(out, start, failed);
}

/* The error of a failed read of record `index`'s `field` (NULL for the
 * record itself). The prefix is only formatted on failure: this is the
 * per-record hot path. */
static int s_record_fail(const mdbp_reader_t *reader, mdbp_read_t result,
                         size_t index, const char *field, const char *what,
                         mdbp_error_t *error)
{
    char prefix[64];
    if (field)
        snprintf(prefix, sizeof prefix, "record %zu: field '%s'", index, field);
    else
        snprintf(prefix, sizeof prefix, "record %zu", index);
    return mdbp_reader_fail(reader, result, prefix, what, error);
}

/* Reads provider or symbol (`field`) of record `index` into `out`. */
static int s_record_name(mdbp_reader_t *reader, size_t index,
                         const char *field, size_t max, char *out,
                         mdbp_error_t *error)
{
    const char *text;
    uint32_t length;
    mdbp_read_t result = mdbp_reader_str(reader, &text, &length);
    if (result != MDBP_READ_OK)
        return s_record_fail(reader, result, index, field, "a str", error);
    if (length >= 1 && length <= max && !memchr(text, '\0', length)) {
        memcpy(out, text, length);
        out[length] = '\0';
        return 0;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "record %zu: field '%s'", index, field);
    return mdbp_copy_str(text, length, 1, max, out, prefix, error);
}

/* Decodes the record at the reader into `record`; `index` is its position
 * in the batch, for the error. */
static int s_record_decode(mdbp_reader_t *reader, size_t index,
                           mdbp_record_t *record, mdbp_error_t *error,
                           const char **field_at_fault)
{
    *field_at_fault = NULL;
    uint32_t elements;
    mdbp_read_t result = mdbp_reader_array(reader, &elements);
    if (result != MDBP_READ_OK)
        return s_record_fail(reader, result, index, NULL, "an array", error);
    if (elements < 1)
        return mdbp_error_set(error, "record %zu: empty array", index);

    const char *text;
    uint32_t length;
    result = mdbp_reader_str(reader, &text, &length);
    if (result != MDBP_READ_OK)
        return s_record_fail(reader, result, index, "kind", "trade|quote|bar",
                             error);
    int kind = -1;
    for (int candidate = 0; candidate < MDBP_RECORD_KIND_COUNT; candidate++) {
        if (strlen(s_kind_names[candidate]) == length &&
            memcmp(s_kind_names[candidate], text, length) == 0) {
            kind = candidate;
            break;
        }
    }
    *field_at_fault = "kind";
    if (kind < 0)
        return mdbp_error_set(error,
                               "record %zu: field 'kind': expected "
                               "trade|quote|bar",
                               index);
    record->kind = (mdbp_record_kind_t)kind;
    *field_at_fault = NULL; /* the array's length, not a field */
    if (elements != s_record_elements[kind])
        return mdbp_error_set(
            error, "record %zu: a %s has %u elements, got %u", index,
            s_kind_names[kind], (unsigned)s_record_elements[kind],
            (unsigned)elements);
    *field_at_fault = "provider";
    if (s_record_name(reader, index, "provider", MDBP_NAME_MAX,
                      record->provider, error) != 0)
        return -1;
    *field_at_fault = "symbol";
    if (s_record_name(reader, index, "symbol", MDBP_SYMBOL_MAX, record->symbol,
                      error) != 0)
        return -1;
    *field_at_fault = "ts_ns";
    result = mdbp_reader_int(reader, &record->ts_ns);
    if (result != MDBP_READ_OK)
        return s_record_fail(reader, result, index, "ts_ns", "an integer",
                             error);
    double values[S_FIELDS_MAX];
    size_t fields = s_record_elements[kind] - S_RECORD_HEAD;
    for (size_t field = 0; field < fields; field++) {
        *field_at_fault = s_field_names[kind][field];
        result = mdbp_reader_number(reader, &values[field]);
        if (result != MDBP_READ_OK)
            return s_record_fail(reader, result, index,
                                 s_field_names[kind][field], "a number", error);
    }
    s_fields_set(record, values);
    mdbp_error_t invalid;
    if (s_record_check(record, &invalid, field_at_fault) != 0)
        return mdbp_error_set(error, "record %zu: %s", index, invalid.text);
    *field_at_fault = NULL;
    return 0;
}

enum {
    BATCH_V,
    BATCH_TYPE,
    BATCH_PRODUCER_ID,
    BATCH_SEQ,
    BATCH_RECORDS,
    BATCH_SESSION,
    BATCH_PRIORITY,
    BATCH_WEIGHT,
    BATCH_KEY_COUNT
};

/* The v1.1 class keys: `priority` one of the names, `weight` 1..max. */
static int s_batch_priority(const mdbp_reader_t *reader, mdbp_key_t *keys,
                            mdbp_batch_t *batch, mdbp_error_t *error)
{
    if (keys[BATCH_PRIORITY].seen) {
        int priority;
        if (mdbp_key_enum(reader, &keys[BATCH_PRIORITY], s_priority_names,
                          MDBP_PRIORITY_COUNT, &priority, error) != 0)
            return -1;
        batch->priority = (mdbp_priority_t)priority;
    }
    if (keys[BATCH_WEIGHT].seen) {
        uint64_t weight;
        if (mdbp_key_uint(reader, &keys[BATCH_WEIGHT], MDBP_WEIGHT_MAX,
                          &weight, error) != 0)
            return -1;
        if (weight == 0) {
            mdbp_error_set(error, "key 'weight': must not be 0");
            return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE, "weight");
        }
        batch->weight = (uint32_t)weight;
    }
    return 0;
}

int mdbp_batch_decode(const void *data, size_t size, mdbp_batch_t *batch,
                       mdbp_record_t *records, size_t records_capacity,
                       mdbp_error_t *error)
{
    mdbp_key_t keys[BATCH_KEY_COUNT] = {
        {.name = "v"},         {.name = "type"},    {.name = "producer_id"},
        {.name = "batch_seq"}, {.name = "records"}, {.name = "session"},
        {.name = "priority"},  {.name = "weight"}};
    memset(batch, 0, sizeof *batch);
    mdbp_error_reset(error);

    if (size > MDBP_MESSAGE_BYTES_MAX) {
        mdbp_error_set(error, "message: %zu bytes, more than %d", size,
                        MDBP_MESSAGE_BYTES_MAX);
        return mdbp_error_code(error, MDBP_NACK_CODE_TOO_LARGE, NULL);
    }
    mdbp_reader_t reader;
    if (mdbp_reader_scan_message(&reader, data, size, keys, BATCH_KEY_COUNT,
                                  error) != 0)
        return -1;
    int type;
    /* batch_seq first: a nack can echo it even when the rest is bad. */
    if (mdbp_key_version(&reader, &keys[BATCH_V], error) != 0 ||
        mdbp_key_enum(&reader, &keys[BATCH_TYPE], s_batch_names, S_BATCH_COUNT,
                       &type, error) != 0 ||
        mdbp_key_uint(&reader, &keys[BATCH_SEQ], UINT64_MAX, &batch->batch_seq,
                       error) != 0)
        return -1;
    /* session next (v1.1): a nack echoes it too. */
    if (keys[BATCH_SESSION].seen) {
        if (mdbp_key_uint(&reader, &keys[BATCH_SESSION], UINT64_MAX,
                           &batch->session, error) != 0)
            return -1;
        if (batch->session == 0) {
            mdbp_error_set(error, "key 'session': must not be 0");
            return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE,
                                    "session");
        }
    }
    if (mdbp_key_str(&reader, &keys[BATCH_PRODUCER_ID], 1, MDBP_ID_MAX,
                      batch->producer_id, error) != 0 ||
        s_batch_priority(&reader, keys, batch, error) != 0)
        return -1;
    if (!keys[BATCH_RECORDS].seen) {
        mdbp_error_set(error, "missing key 'records'");
        return mdbp_error_code(error, MDBP_NACK_CODE_MISSING_KEY, "records");
    }

    mdbp_reader_t at_records = reader;
    at_records.pos = keys[BATCH_RECORDS].offset;
    uint32_t count;
    mdbp_read_t result = mdbp_reader_array(&at_records, &count);
    if (result != MDBP_READ_OK) {
        mdbp_reader_fail(&at_records, result, "key 'records'", "an array",
                          error);
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE, "records");
    }
    if (count == 0) {
        mdbp_error_set(error, "key 'records': empty");
        return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE, "records");
    }
    if (count > MDBP_BATCH_RECORDS_MAX) {
        mdbp_error_set(error, "key 'records': %u records, more than %d",
                        (unsigned)count, MDBP_BATCH_RECORDS_MAX);
        return mdbp_error_code(error, MDBP_NACK_CODE_TOO_MANY_RECORDS,
                                "records");
    }
    if (count > records_capacity) {
        mdbp_error_set(error,
                        "key 'records': %u records, more than the "
                        "%zu this reader holds",
                        (unsigned)count, records_capacity);
        return mdbp_error_code(error, MDBP_NACK_CODE_TOO_MANY_RECORDS,
                                "records");
    }
    for (uint32_t index = 0; index < count; index++) {
        const char *field;
        if (s_record_decode(&at_records, index, &records[index], error,
                            &field) != 0) {
            mdbp_error_code(error, MDBP_NACK_CODE_BAD_RECORD, field);
            if (error) {
                error->has_record_index = true;
                error->record_index = index;
            }
            return -1;
        }
    }
    batch->count = count;
    return 0;
}

enum {
    REPLY_V,
    REPLY_TYPE,
    REPLY_BATCH_SEQ,
    REPLY_WRITTEN,
    REPLY_DUPLICATES,
    REPLY_DEAD_LETTERED,
    REPLY_REASON,
    REPLY_RETRY_AFTER_MS,
    REPLY_DETAIL,
    REPLY_SESSION,
    REPLY_CREDIT,
    REPLY_CODE,
    REPLY_RECORD_INDEX,
    REPLY_FIELD,
    REPLY_KEY_COUNT
};

/* True when the v1.1 nack keys of `reply` can be encoded. */
static bool s_nack_keys_valid(const mdbp_reply_t *reply)
{
    return reply->code >= MDBP_NACK_CODE_NONE &&
           reply->code < MDBP_NACK_CODE_UNKNOWN &&
           (!reply->has_record_index ||
            reply->record_index < MDBP_BATCH_RECORDS_MAX) &&
           strnlen(reply->field, MDBP_FIELD_MAX + 1) <= MDBP_FIELD_MAX;
}

/* Writes the v1.1 keys that are set, in the order session, credit, code,
 * record_index, field (the nack keys only when `nack`). */
static int s_pack_v11_keys(msgpack_packer *packer, const mdbp_reply_t *reply,
                           bool nack)
{
    int failed = 0;
    if (reply->session) {
        failed |= S_PACK_KEY(packer, "session");
        failed |= msgpack_pack_uint64(packer, reply->session);
    }
    if (reply->has_credit) {
        failed |= S_PACK_KEY(packer, "credit");
        failed |= msgpack_pack_uint32(packer, reply->credit);
    }
    if (!nack)
        return failed;
    if (reply->code != MDBP_NACK_CODE_NONE) {
        failed |= S_PACK_KEY(packer, "code");
        failed |= s_pack_text(packer, mdbp_nack_code_name(reply->code));
    }
    if (reply->has_record_index) {
        failed |= S_PACK_KEY(packer, "record_index");
        failed |= msgpack_pack_uint32(packer, reply->record_index);
    }
    if (reply->field[0]) {
        failed |= S_PACK_KEY(packer, "field");
        failed |= s_pack_text(packer, reply->field);
    }
    return failed;
}

/* How many v1.1 keys s_pack_v11_keys writes. */
static size_t s_v11_key_count(const mdbp_reply_t *reply, bool nack)
{
    size_t count = (reply->session ? 1 : 0) + (reply->has_credit ? 1 : 0);
    if (nack)
        count += (reply->code != MDBP_NACK_CODE_NONE ? 1 : 0) +
                 (reply->has_record_index ? 1 : 0) + (reply->field[0] ? 1 : 0);
    return count;
}

int mdbp_reply_encode(const mdbp_reply_t *reply, mdbp_buffer_t *out)
{
    size_t start = out->size;
    msgpack_packer packer;
    msgpack_packer_init(&packer, out, mdbp_buffer_packer_write);
    int failed;
    if (reply->type == MDBP_REPLY_ACK) {
        failed = msgpack_pack_map(&packer, 6 + s_v11_key_count(reply, false));
        failed |= S_PACK_KEY(&packer, "v");
        failed |= msgpack_pack_uint64(&packer, MDBP_PROTOCOL_VERSION);
        failed |= S_PACK_KEY(&packer, "type");
        failed |= S_PACK_KEY(&packer, "ack");
        failed |= S_PACK_KEY(&packer, "batch_seq");
        failed |= msgpack_pack_uint64(&packer, reply->batch_seq);
        failed |= S_PACK_KEY(&packer, "written");
        failed |= msgpack_pack_uint32(&packer, reply->written);
        failed |= S_PACK_KEY(&packer, "duplicates");
        failed |= msgpack_pack_uint32(&packer, reply->duplicates);
        failed |= S_PACK_KEY(&packer, "dead_lettered");
        failed |= msgpack_pack_uint32(&packer, reply->dead_lettered);
        failed |= s_pack_v11_keys(&packer, reply, false);
        return mdbp_buffer_packer_finish(out, start, failed);
    }
    if (reply->type != MDBP_REPLY_NACK || reply->reason < MDBP_NACK_FULL ||
        reply->reason > MDBP_NACK_DRAINING ||
        strnlen(reply->detail, MDBP_REASON_MAX + 1) > MDBP_REASON_MAX ||
        !s_nack_keys_valid(reply))
        return -1;
    failed = msgpack_pack_map(&packer, 6 + s_v11_key_count(reply, true));
    failed |= S_PACK_KEY(&packer, "v");
    failed |= msgpack_pack_uint64(&packer, MDBP_PROTOCOL_VERSION);
    failed |= S_PACK_KEY(&packer, "type");
    failed |= S_PACK_KEY(&packer, "nack");
    failed |= S_PACK_KEY(&packer, "batch_seq");
    failed |= msgpack_pack_uint64(&packer, reply->batch_seq);
    failed |= S_PACK_KEY(&packer, "reason");
    failed |= s_pack_text(&packer, s_reason_names[reply->reason]);
    failed |= S_PACK_KEY(&packer, "retry_after_ms");
    failed |= msgpack_pack_uint32(&packer, reply->retry_after_ms);
    failed |= S_PACK_KEY(&packer, "detail");
    failed |= s_pack_text(&packer, reply->detail);
    failed |= s_pack_v11_keys(&packer, reply, true);
    return mdbp_buffer_packer_finish(out, start, failed);
}

/* The v1.1 keys both reply types may carry. */
static int s_reply_session_credit(const mdbp_reader_t *reader,
                                  mdbp_key_t *keys, mdbp_reply_t *reply,
                                  mdbp_error_t *error)
{
    uint64_t value;
    if (keys[REPLY_SESSION].seen) {
        if (mdbp_key_uint(reader, &keys[REPLY_SESSION], UINT64_MAX,
                           &reply->session, error) != 0)
            return -1;
        if (reply->session == 0) {
            mdbp_error_set(error, "key 'session': must not be 0");
            return mdbp_error_code(error, MDBP_NACK_CODE_BAD_VALUE,
                                    "session");
        }
    }
    if (keys[REPLY_CREDIT].seen) {
        if (mdbp_key_uint(reader, &keys[REPLY_CREDIT], UINT32_MAX, &value,
                           error) != 0)
            return -1;
        reply->has_credit = true;
        reply->credit = (uint32_t)value;
    }
    return 0;
}

/* The v1.1 keys of a nack. An unknown code is not an error: a later v1.x
 * may add codes, and `reason` still says what to do. */
static int s_reply_nack_keys(const mdbp_reader_t *reader, mdbp_key_t *keys,
                             mdbp_reply_t *reply, mdbp_error_t *error)
{
    if (keys[REPLY_CODE].seen) {
        const char *text;
        uint32_t length;
        if (mdbp_key_raw_str(reader, &keys[REPLY_CODE], &text, &length,
                              error) != 0)
            return -1;
        reply->code = mdbp_nack_code_parse(text, length);
    }
    if (keys[REPLY_RECORD_INDEX].seen) {
        uint64_t value;
        if (mdbp_key_uint(reader, &keys[REPLY_RECORD_INDEX],
                           MDBP_BATCH_RECORDS_MAX - 1, &value, error) != 0)
            return -1;
        reply->has_record_index = true;
        reply->record_index = (uint32_t)value;
    }
    if (keys[REPLY_FIELD].seen &&
        mdbp_key_str(reader, &keys[REPLY_FIELD], 0, MDBP_FIELD_MAX,
                      reply->field, error) != 0)
        return -1;
    return 0;
}

int mdbp_reply_decode(const void *data, size_t size, mdbp_reply_t *reply,
                       mdbp_error_t *error)
{
    mdbp_key_t keys[REPLY_KEY_COUNT] = {{.name = "v"},
                                         {.name = "type"},
                                         {.name = "batch_seq"},
                                         {.name = "written"},
                                         {.name = "duplicates"},
                                         {.name = "dead_lettered"},
                                         {.name = "reason"},
                                         {.name = "retry_after_ms"},
                                         {.name = "detail"},
                                         {.name = "session"},
                                         {.name = "credit"},
                                         {.name = "code"},
                                         {.name = "record_index"},
                                         {.name = "field"}};
    memset(reply, 0, sizeof *reply);
    mdbp_error_reset(error);

    mdbp_reader_t reader;
    if (mdbp_reader_scan_message(&reader, data, size, keys, REPLY_KEY_COUNT,
                                  error) != 0)
        return -1;
    int type;
    if (mdbp_key_version(&reader, &keys[REPLY_V], error) != 0 ||
        mdbp_key_enum(&reader, &keys[REPLY_TYPE], s_reply_names, S_REPLY_COUNT,
                       &type, error) != 0 ||
        mdbp_key_uint(&reader, &keys[REPLY_BATCH_SEQ], UINT64_MAX,
                       &reply->batch_seq, error) != 0 ||
        s_reply_session_credit(&reader, keys, reply, error) != 0)
        return -1;
    reply->type = (mdbp_reply_type_t)type;
    uint64_t value;
    if (reply->type == MDBP_REPLY_ACK) {
        if (mdbp_key_uint(&reader, &keys[REPLY_WRITTEN], UINT32_MAX, &value,
                           error) != 0)
            return -1;
        reply->written = (uint32_t)value;
        if (mdbp_key_uint(&reader, &keys[REPLY_DUPLICATES], UINT32_MAX, &value,
                           error) != 0)
            return -1;
        reply->duplicates = (uint32_t)value;
        if (mdbp_key_uint(&reader, &keys[REPLY_DEAD_LETTERED], UINT32_MAX,
                           &value, error) != 0)
            return -1;
        reply->dead_lettered = (uint32_t)value;
        return 0;
    }
    /* A reason this version does not know is handled like `full`
     * (ingest.md 4.3): nothing was stored, resend after retry_after_ms. */
    const char *reason_text;
    uint32_t reason_length;
    if (mdbp_key_raw_str(&reader, &keys[REPLY_REASON], &reason_text,
                          &reason_length, error) != 0 ||
        mdbp_key_uint(&reader, &keys[REPLY_RETRY_AFTER_MS], UINT32_MAX, &value,
                       error) != 0)
        return -1;
    reply->reason = MDBP_NACK_FULL;
    for (size_t reason = 0; reason < S_REASON_COUNT; reason++)
        if (strlen(s_reason_names[reason]) == reason_length &&
            memcmp(s_reason_names[reason], reason_text, reason_length) == 0)
            reply->reason = (mdbp_nack_reason_t)reason;
    reply->retry_after_ms = (uint32_t)value;
    /* detail is optional on the wire (always written by our encoder). */
    if (keys[REPLY_DETAIL].seen &&
        mdbp_key_str(&reader, &keys[REPLY_DETAIL], 0, MDBP_REASON_MAX,
                      reply->detail, error) != 0)
        return -1;
    return s_reply_nack_keys(&reader, keys, reply, error);
}
