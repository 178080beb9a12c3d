/* pl_feedback_json: a POST /feedback body as a feedback event.
 *
 * A small reader of one flat JSON object (strings, numbers, true, false,
 * null): the bodies are a few hundred bytes from a known writer, so a
 * general parser would buy nothing but surface. */
#include "pl_feedback_json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longer keys are unknown ones (the known keys are shorter). */
#define S_KEY_MAX 32
/* Longest string value kept (the reason is the longest known one). */
#define S_STRING_MAX (MDBP_REASON_MAX + 1)
/* Longest number text (digits, sign, dot, exponent). */
#define S_NUMBER_MAX 40
/* Integers above 2^53 lose precision in JSON writers: accept what a
 * uint64 holds, parsed as an integer, not a double. */
#define S_DECIMAL_BASE 10

typedef enum { S_STRING, S_NUMBER, S_TRUE, S_FALSE, S_NULL } s_kind_t;

typedef struct {
    const char *at, *end;
    char *reason;
} s_reader_t;

typedef struct {
    s_kind_t kind;
    char text[S_STRING_MAX + 1]; /* string value or number text */
    size_t length;               /* full decoded length */
} s_value_t;

static int s_fail(s_reader_t *reader, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int s_fail(s_reader_t *reader, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(reader->reason, PL_FEEDBACK_JSON_REASON_MAX, format, args);
    va_end(args);
    return -1;
}

static void s_space(s_reader_t *reader)
{
    while (reader->at < reader->end &&
           (*reader->at == ' ' || *reader->at == '\t' || *reader->at == '\r' ||
            *reader->at == '\n'))
        reader->at++;
}

static bool s_next_is(s_reader_t *reader, char c)
{
    return reader->at < reader->end && *reader->at == c;
}

/* A string at reader->at ('"'): escapes decoded, \u beyond ASCII kept as
 * '?' (no known key needs more); too long only grows `length`. */
static int s_string(s_reader_t *reader, char *out, size_t capacity,
                    size_t *length)
{
    reader->at++;
    *length = 0;
    while (reader->at < reader->end && *reader->at != '"') {
        unsigned char byte = (unsigned char)*reader->at++;
        if (byte < 0x20)
            return s_fail(reader, "a control character in a string");
        if (byte == '\\') {
            if (reader->at >= reader->end)
                break;
            char escape = *reader->at++;
            const char *simple = strchr("\"\\/bfnrt", escape);
            if (escape && simple)
                byte = (unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            else if (escape == 'u' && reader->end - reader->at >= 4 &&
                     isxdigit((unsigned char)reader->at[0]) &&
                     isxdigit((unsigned char)reader->at[1]) &&
                     isxdigit((unsigned char)reader->at[2]) &&
                     isxdigit((unsigned char)reader->at[3])) {
                char hex[5] = {reader->at[0], reader->at[1], reader->at[2],
                               reader->at[3], '\0'};
                unsigned long code = strtoul(hex, NULL, 16);
                reader->at += 4;
                if (code == 0)
                    return s_fail(reader, "a NUL character in a string");
                byte = code < 0x80 ? (unsigned char)code : '?';
            } else
                return s_fail(reader, "a bad escape in a string");
        }
        if (*length < capacity)
            out[*length] = (char)byte;
        (*length)++;
    }
    if (reader->at >= reader->end)
        return s_fail(reader, "an unterminated string");
    reader->at++;
    return 0;
}

static int s_value(s_reader_t *reader, s_value_t *value)
{
    memset(value, 0, sizeof *value);
    if (s_next_is(reader, '"')) {
        value->kind = S_STRING;
        if (s_string(reader, value->text, S_STRING_MAX, &value->length) != 0)
            return -1;
        value->text[value->length < S_STRING_MAX ? value->length
                                                 : S_STRING_MAX] = '\0';
        return 0;
    }
    static const struct {
        const char *word;
        s_kind_t kind;
    } literals[] = {{"true", S_TRUE}, {"false", S_FALSE}, {"null", S_NULL}};
    for (size_t k = 0; k < sizeof literals / sizeof literals[0]; k++) {
        size_t size = strlen(literals[k].word);
        if ((size_t)(reader->end - reader->at) >= size &&
            memcmp(reader->at, literals[k].word, size) == 0) {
            reader->at += size;
            value->kind = literals[k].kind;
            return 0;
        }
    }
    const char *start = reader->at;
    while (reader->at < reader->end && strchr("+-0123456789.eE", *reader->at))
        reader->at++;
    value->length = (size_t)(reader->at - start);
    if (value->length == 0) {
        if (s_next_is(reader, '{') || s_next_is(reader, '['))
            return s_fail(reader, "nested objects and arrays are not "
                                  "accepted");
        return s_fail(reader, "expected a value");
    }
    if (value->length > S_NUMBER_MAX)
        return s_fail(reader, "a number too long");
    value->kind = S_NUMBER;
    memcpy(value->text, start, value->length);
    value->text[value->length] = '\0';
    return 0;
}

/* The fields read so far. */
typedef struct {
    bool has_id, has_level, has_queue, has_capacity, has_epoch, has_seq;
    bool has_prev, has_utilization, has_scale_hint;
} s_seen_t;

static int s_number(s_reader_t *reader, const char *key,
                    const s_value_t *value, double min, double max,
                    double *out)
{
    char *end = NULL;
    errno = 0;
    double number =
        value->kind == S_NUMBER ? strtod(value->text, &end) : NAN;
    if (value->kind != S_NUMBER || errno || *end || !(number >= min) ||
        !(number <= max))
        return s_fail(reader, "'%s' must be a number in [%g, %g]", key, min,
                      max);
    *out = number;
    return 0;
}

static int s_unsigned(s_reader_t *reader, const char *key,
                      const s_value_t *value, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    bool digits = value->kind == S_NUMBER &&
                  strspn(value->text, "0123456789") == value->length;
    unsigned long long number =
        digits ? strtoull(value->text, &end, S_DECIMAL_BASE) : 0;
    if (!digits || errno || number > max)
        return s_fail(reader, "'%s' must be an integer in [0, %llu]", key,
                      (unsigned long long)max);
    *out = number;
    return 0;
}

static int s_level(s_reader_t *reader, const char *key,
                   const s_value_t *value, mdbp_level_t *out)
{
    static const char *const names[] = {"ok", "soft", "hard"};
    if (value->kind == S_NUMBER && value->length == 1 && value->text[0] >= '0' &&
        value->text[0] <= '2') {
        *out = (mdbp_level_t)(value->text[0] - '0');
        return 0;
    }
    for (int level = MDBP_LEVEL_OK; level <= MDBP_LEVEL_HARD; level++)
        if (value->kind == S_STRING && strcasecmp(value->text, names[level]) == 0) {
            *out = (mdbp_level_t)level;
            return 0;
        }
    return s_fail(reader, "'%s' must be \"ok\", \"soft\" or \"hard\"", key);
}

/* Applies one member. Unknown keys are ignored. */
static int s_member(s_reader_t *reader, const char *key,
                    const s_value_t *value, pl_posted_feedback_t *out,
                    s_seen_t *seen)
{
    mdbp_feedback_t *event = &out->event;
    double number = 0;
    uint64_t integer = 0;
    if (strcmp(key, "coordinator_id") == 0) {
        if (value->kind != S_STRING || value->length == 0 ||
            value->length > MDBP_ID_MAX || strchr(value->text, '/'))
            return s_fail(reader, "'coordinator_id' must be a string of 1 "
                                  "to 64 bytes without '/'");
        memcpy(event->coordinator_id, value->text, value->length + 1);
        seen->has_id = true;
        return 0;
    }
    if (strcmp(key, "level") == 0) {
        seen->has_level = true;
        return s_level(reader, key, value, &event->level);
    }
    if (strcmp(key, "prev_level") == 0) {
        seen->has_prev = true;
        return s_level(reader, key, value, &event->prev_level);
    }
    if (strcmp(key, "v") == 0) {
        if (s_unsigned(reader, key, value, UINT32_MAX, &integer) != 0)
            return -1;
        if (integer != MDBP_PROTOCOL_VERSION)
            return s_fail(reader, "'v' is %llu; this pipeline speaks %d",
                          (unsigned long long)integer, MDBP_PROTOCOL_VERSION);
        return 0;
    }
    if (strcmp(key, "type") == 0) {
        for (int type = MDBP_FEEDBACK_TRANSITION; type <= MDBP_FEEDBACK_SNAPSHOT;
             type++)
            if (value->kind == S_STRING &&
                strcmp(value->text, mdbp_feedback_type_name(type)) == 0) {
                event->type = (mdbp_feedback_type_t)type;
                return 0;
            }
        return s_fail(reader, "'type' must be \"transition\", \"heartbeat\" "
                              "or \"snapshot\"");
    }
    if (strcmp(key, "reason") == 0) {
        if (value->kind == S_NULL)
            return 0;
        if (value->kind != S_STRING || value->length > MDBP_REASON_MAX)
            return s_fail(reader, "'reason' must be a string of at most %d "
                                  "bytes",
                          MDBP_REASON_MAX);
        memcpy(event->reason, value->text, value->length + 1);
        event->has_reason = true;
        return 0;
    }
    if (strcmp(key, "going_away") == 0) {
        if (value->kind != S_TRUE && value->kind != S_FALSE)
            return s_fail(reader, "'going_away' must be true or false");
        event->has_going_away = true;
        event->going_away = value->kind == S_TRUE;
        return 0;
    }
    struct {
        const char *key;
        uint64_t *slot;
        uint64_t max;
        bool *seen;
    } integers[] = {
        {"queue_size", &event->queue_size, UINT64_MAX, &seen->has_queue},
        {"capacity", &event->capacity, UINT64_MAX, &seen->has_capacity},
        {"epoch", &event->epoch, UINT64_MAX, &seen->has_epoch},
        {"seq", &event->seq, UINT64_MAX, &seen->has_seq},
        {"low_wm", &event->low_wm, UINT64_MAX, NULL},
        {"high_wm", &event->high_wm, UINT64_MAX, NULL},
    };
    for (size_t k = 0; k < sizeof integers / sizeof integers[0]; k++)
        if (strcmp(key, integers[k].key) == 0) {
            if (s_unsigned(reader, key, value, integers[k].max,
                           integers[k].slot) != 0)
                return -1;
            if (integers[k].seen)
                *integers[k].seen = true;
            return 0;
        }
    if (strcmp(key, "ts_ns") == 0) {
        if (s_unsigned(reader, key, value, INT64_MAX, &integer) != 0)
            return -1;
        event->ts_ns = (int64_t)integer;
        return 0;
    }
    if (strcmp(key, "credit_initial") == 0) {
        if (s_unsigned(reader, key, value, UINT32_MAX, &integer) != 0)
            return -1;
        event->has_credit_initial = true;
        event->credit_initial = (uint32_t)integer;
        return 0;
    }
    if (strcmp(key, "utilization") == 0 || strcmp(key, "scale_hint") == 0) {
        bool utilization = key[0] == 'u';
        if (s_number(reader, key, value, 0, 1, &number) != 0)
            return -1;
        if (utilization) {
            event->utilization = number;
            seen->has_utilization = true;
        } else {
            event->scale_hint = number;
            seen->has_scale_hint = true;
        }
        return 0;
    }
    return 0;
}

/* Fills what the seed's shape leaves out. */
static int s_complete(s_reader_t *reader, pl_posted_feedback_t *out,
                      const s_seen_t *seen)
{
    mdbp_feedback_t *event = &out->event;
    if (!seen->has_id)
        return s_fail(reader, "'coordinator_id' is required");
    if (!seen->has_level)
        return s_fail(reader, "'level' is required");
    if (seen->has_epoch != seen->has_seq)
        return s_fail(reader, "'epoch' and 'seq' come together or not at all");
    out->sequenced = seen->has_epoch;
    if (!seen->has_prev)
        event->prev_level = event->level;
    if (!seen->has_utilization)
        event->utilization =
            event->capacity == 0
                ? 0
                : fmin(1.0, (double)event->queue_size / (double)event->capacity);
    if (!seen->has_scale_hint)
        event->scale_hint = 1.0 - event->utilization;
    return 0;
}

int pl_feedback_json_parse(const char *body, size_t length,
                           pl_posted_feedback_t *out, char *reason)
{
    memset(out, 0, sizeof *out);
    reason[0] = '\0';
    s_reader_t reader = {.at = body, .end = body + length, .reason = reason};
    s_seen_t seen = {0};
    if (!body || memchr(body, '\0', length))
        return s_fail(&reader, "the body is empty or holds a NUL byte");
    s_space(&reader);
    if (!s_next_is(&reader, '{'))
        return s_fail(&reader, "expected a JSON object");
    reader.at++;
    s_space(&reader);
    bool first = true;
    while (!s_next_is(&reader, '}')) {
        if (!first) {
            if (!s_next_is(&reader, ','))
                return s_fail(&reader, "expected ',' or '}'");
            reader.at++;
            s_space(&reader);
        }
        first = false;
        if (!s_next_is(&reader, '"'))
            return s_fail(&reader, "expected a key");
        char key[S_KEY_MAX + 1];
        size_t key_length = 0;
        if (s_string(&reader, key, S_KEY_MAX, &key_length) != 0)
            return -1;
        key[key_length <= S_KEY_MAX ? key_length : 0] = '\0'; /* long: "" */
        s_space(&reader);
        if (!s_next_is(&reader, ':'))
            return s_fail(&reader, "expected ':'");
        reader.at++;
        s_space(&reader);
        s_value_t value;
        if (s_value(&reader, &value) != 0 ||
            s_member(&reader, key, &value, out, &seen) != 0)
            return -1;
        s_space(&reader);
    }
    reader.at++;
    s_space(&reader);
    if (reader.at != reader.end)
        return s_fail(&reader, "text after the object");
    return s_complete(&reader, out, &seen);
}
